// The real agent enrolls pods it never saw through CNI: pods running before it started, in a
// namespace labelled ambient afterwards, found by scanning the node's network namespaces; their
// TCP then reaches the ztunnel namespace's 15001 with the original destination. A pod whose
// namespace cannot be found is named by /readyz, ambientctl verify and the metrics. Touches the
// kernel.
#include <thread>

#include "agent_harness.h"
#include "node-agent/sys/proc_netns_scanner.h"

using namespace ambient;
using namespace ambient::testing;

namespace {

const std::string kNettool = AMBIENT_NETTOOL;

// The metadata file as the API would show these pods: running on this node with their IPs.
std::string metadata(bool ambient) {
  std::string label = ambient ? R"("istio.io/dataplane-mode": "ambient")" : "";
  return R"({"namespaces": {"early": {"labels": {)" + label + R"(}}},
    "pods": {)" +
         std::string(kZtunnelPodMetadata) + R"(,
             "early/app": {"uid": "uid-early-app", "podIPs": ["10.244.1.20"]},
             "early/ghost": {"uid": "uid-early-ghost", "podIPs": ["10.244.1.29"]},
             "early/hostnet": {"uid": "uid-hostnet", "podIPs": ["172.30.0.1"], "hostNetwork": true}}})";
}

bool waitUntil(const std::function<bool()>& done, int ms) {
  for (int waited = 0; waited < ms; waited += 100) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return done();
}

}  // namespace

TEST_CASE("a pod running before the agent is enrolled when its namespace becomes ambient",
          "[kernel][discovery]") {
  NodeTopology t;
  TestNetns app("early-app");
  t.addPod(app, "vethearly", "10.244.1.20");  // running before any agent: no CNI ADD reaches it
  TestNetns remote("remote");
  t.addRemote(remote);
  AgentHarness h(t.node);
  h.writeMetadata(metadata(false));
  h.start();
  auto z = h.registerZtunnel(t);
  REQUIRE(z);
  REQUIRE(z->verdict == PodVerdict::kNotAmbient);
  auto set = [&] { return must(t.node.exec("nft list set ip ambient_redirect enrolled_pods")); };
  CHECK(set().find("10.244.1.20") == std::string::npos);

  h.writeMetadata(metadata(true));  // kubectl label namespace early istio.io/dataplane-mode=ambient
  REQUIRE(waitUntil([&] { return set().find("10.244.1.20") != std::string::npos; }, 15000));
  INFO(h.log());
  CHECK(h.log().find("discovered in") != std::string::npos);

  // The pod whose namespace does not exist is named everywhere, and nothing half-enrolled.
  REQUIRE(
      waitUntil([&] { return h.http("/readyz").find("early/ghost") != std::string::npos; }, 10000));
  std::string readyz = h.http("/readyz");
  CHECK(readyz.find("ambient pod not enrolled: early/ghost: namespace not found") !=
        std::string::npos);
  CHECK(readyz.find("200") != std::string::npos);
  CHECK(set().find("10.244.1.29") == std::string::npos);
  CHECK(h.http("/metrics").find("ambient_pods_not_enrolled 1") != std::string::npos);
  CHECK(h.log().find("hostnet") == std::string::npos);  // hostNetwork pods are not looked for
  auto verify = sh(t.node.exec(kAmbientctl + " --state-dir " + h.stateDir() + " verify"));
  INFO(verify.out);
  CHECK(verify.rc == 1);
  CHECK(verify.out.find("ambient pod not enrolled: namespace not found (early/ghost)") !=
        std::string::npos);
  CHECK(verify.out.find("early/app") == std::string::npos);  // enrolled, nothing to say

  // Its outbound TCP now reaches ztunnel's 15001 with the original destination.
  Background zt(t.zt.exec(kNettool + " serve --tproxy --addr 127.0.0.1 --port 15001"));
  Background server(remote.exec(kNettool + " serve --port 8080"));
  REQUIRE(zt.waitFor("listening"));
  REQUIRE(server.waitFor("listening"));
  auto got = sh(app.exec(kNettool + " connect 172.30.0.2:8080 --timeout-ms 2000"));
  INFO(got.out);
  CHECK(got.out.rfind("15001 172.30.0.2:8080 10.244.1.20:", 0) == 0);
  CHECK(server.log().find("10.244.1.20") == std::string::npos);

  // A restarted agent adopts the discovered pod as it adopts any other.
  REQUIRE(h.terminate() == 0);
  h.start();
  auto after = sh(t.node.exec(kAmbientctl + " --state-dir " + h.stateDir() + " verify"));
  CHECK(after.out.find("node namespace:") == std::string::npos);
  CHECK(set().find("10.244.1.20") != std::string::npos);
}

TEST_CASE("the namespace scan reads each namespace once and skips what it cannot read",
          "[kernel][discovery]") {
  TestNetns a("scan-a");
  must(a.ip("link add dummy0 type veth peer name dummy1"));
  must(a.ip("addr add 10.251.0.7/32 dev dummy0"));
  must(a.ip("link set dummy0 up"));
  std::string dir = "/tmp/" + uniqueName("scan");
  must("mkdir -p " + dir + "/netns " + dir + "/proc/100/ns " + dir + "/proc/101/ns " + dir +
       "/proc/102/ns " + dir + "/proc/self");
  // The same namespace twice (a runtime's pin and a process), a process that exited during the
  // scan (a dangling link), and an entry that is not a namespace at all.
  must("ln -s " + a.path() + " " + dir + "/netns/pod-a");
  must("ln -s " + a.path() + " " + dir + "/proc/100/ns/net");
  must("ln -s " + dir + "/gone " + dir + "/proc/101/ns/net");
  must("touch " + dir + "/proc/102/ns/net");
  ProcNetnsScanner scanner("/proc/self/ns/net", {dir + "/netns"}, dir + "/proc");
  auto scan = scanner.scan();
  sh("rm -rf " + dir);
  REQUIRE(scan);
  CHECK(scan->namespaces == 1);
  CHECK(scan->unreadable == 1);  // the regular file; the vanished process is not a problem
  CHECK(scan->firstProblem.find("not a network namespace") != std::string::npos);
  REQUIRE(scan->interfaces.size() == 1);
  CHECK(scan->interfaces[0].netns == dir + "/netns/pod-a");  // the runtime's pin comes first
  CHECK(scan->interfaces[0].ifname.str() == "dummy0");
  CHECK(scan->interfaces[0].ips == std::vector<IpAddress>{"10.251.0.7"});
}

TEST_CASE("a discovered pod on a bridge is named by readyz and verify, never enrolled",
          "[kernel][discovery][link-shape]") {
  NodeTopology t;
  TestNetns bridged("early-bridged");
  t.addBridgedPod(bridged, "cni0", "vethbr", "10.244.1.30");
  AgentHarness h(t.node);
  h.writeMetadata(R"({"namespaces": {"early": {"labels": {"istio.io/dataplane-mode": "ambient"}}},
    "pods": {)" + std::string(kZtunnelPodMetadata) +
                  R"(, "early/web": {"uid": "uid-early-web", "podIPs": ["10.244.1.30"]}}})");
  h.start();
  REQUIRE(h.registerZtunnel(t));
  // The pass at start, before ztunnel registered, already named early/web ("waits for a ztunnel
  // pod"): wait for the pass after the registration, which gives the bridge as the reason.
  REQUIRE(waitUntil(
      [&] { return h.http("/readyz").find("early/web: its node-side veth") != std::string::npos; },
      15000));
  std::string readyz = h.http("/readyz");
  INFO(readyz);
  CHECK(readyz.find("ambient pod not enrolled: early/web: its node-side veth vethbr is a port of "
                    "bridge cni0") != std::string::npos);
  CHECK(must(t.node.exec("nft list set ip ambient_redirect enrolled_pods")).find("10.244.1.30") ==
        std::string::npos);
  auto verify = sh(t.node.exec(kAmbientctl + " --state-dir " + h.stateDir() + " verify"));
  INFO(verify.out);
  CHECK(verify.rc == 1);
  CHECK(verify.out.find("ambient pod not enrolled: its node-side veth vethbr is a port of bridge "
                        "cni0") != std::string::npos);
  CHECK(verify.out.find("(not enrolled) (early/web)") != std::string::npos);
}
