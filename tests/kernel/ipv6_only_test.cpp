// Issue 20: an IPv6-only node, as the ptp plugin leaves it with an IPv6-only IPAM range: every
// host veth holds the gateway fd00:10:244:1::1/128 and a /128 route to its pod, each pod a /128
// and a default route via the gateway. No namespace has an IPv4 address outside the tunnels'
// /30s, so the tunnels ride on IPv6 (remote ztunnel's and the gateway's IPv6 addresses). A
// transparent listener in the ztunnel namespace stands where ztunnel listens. Touches the
// kernel.
#include "agent_harness.h"
#include "common/core/render.h"
#include "common/sys/sysctl_ledger_store.h"
#include "node_topology.h"

using namespace ambient;
using namespace ambient::testing;

namespace {

const std::string kNettool = AMBIENT_NETTOOL;
constexpr const char* kGateway6 = "fd00:10:244:1::1";
constexpr const char* kZtunnel6 = "fd00:10:244:1::3";

struct Ipv6OnlyWorld {
  // `program`: apply the plan of `in` here (else the agent under test does).
  explicit Ipv6OnlyWorld(bool program = true) {
    must(node.exec("sysctl -qw net.ipv6.conf.all.forwarding=1"));
    for (auto [veth, pod, ip6] :
         {std::tuple{"vethzt", &zt, kZtunnel6}, std::tuple{"vethapp", &app, "fd00:10:244:1::a"},
          std::tuple{"vethother", &other, "fd00:10:244:1::b"}}) {
      addPod(veth, *pod, ip6);
    }
    must(node.ip("link add uplink type veth peer name eth0 netns " + remote.name()));
    must(node.ip("-6 addr add fd00:172:30::1/64 dev uplink nodad"));
    must(node.ip("link set uplink up"));
    must(remote.ip("-6 addr add fd00:172:30::2/64 dev eth0 nodad"));
    must(remote.ip("link set eth0 up"));
    must(remote.ip("-6 route add fd00:10:244::/48 via fd00:172:30::1"));
    in.tunnelKind = kernelTunnelKind();
    in.ztunnel.hostVeth = "vethzt";
    in.ztunnel.nodeAddr = IpAddress(kGateway6);
    in.ztunnel.podIp6 = IpAddress(kZtunnel6);
    in.pods = {EnrolledPod{std::nullopt, "vethapp", IpAddress("fd00:10:244:1::a")}};
    if (program) apply();
    waitForDad();
  }
  // The kernel's own link-local addresses still run duplicate address detection; until they
  // are done the first neighbour exchange can be lost (at most about 2 s).
  void waitForDad() const {
    for (const TestNetns* ns : {&node, &zt, &app, &other, &remote}) {
      for (int i = 0; i < 50 && !must(ns->ip("-6 -o addr show tentative")).empty(); ++i) {
        usleep(100 * 1000);
      }
    }
  }
  void addPod(const std::string& hostVeth, TestNetns& pod, const std::string& ip6) {
    must(node.ip("link add " + hostVeth + " type veth peer name eth0 netns " + pod.name()));
    must(node.ip("-6 addr add " + std::string(kGateway6) + "/128 dev " + hostVeth + " nodad"));
    must(node.ip("link set " + hostVeth + " up"));
    must(node.ip("-6 route add " + ip6 + "/128 dev " + hostVeth));
    must(pod.ip("-6 addr add " + ip6 + "/128 dev eth0 nodad"));
    must(pod.ip("link set eth0 up"));
    must(pod.ip("-6 route add " + std::string(kGateway6) + "/128 dev eth0"));
    must(pod.ip("-6 route add default via " + std::string(kGateway6) + " dev eth0"));
  }
  void apply() {
    auto nodePlan = computeNodePlan(in);
    auto ztPlan = computeZtunnelPlan(in);
    INFO((nodePlan ? "" : nodePlan.error().message()));
    REQUIRE(nodePlan);
    REQUIRE(ztPlan);
    auto a = reconcile(kernel, {node.path(), NetnsRole::kNode}, *nodePlan, ledger.store);
    INFO((a ? "" : a.error().message()));
    REQUIRE(a);
    auto b = reconcile(kernel, {zt.path(), NetnsRole::kZtunnel}, *ztPlan, ledger.store);
    INFO((b ? "" : b.error().message()));
    REQUIRE(b);
  }
  std::string connect(const TestNetns& from, const std::string& target) {
    auto r = sh(from.exec(kNettool + " connect " + target + " --timeout-ms 2000"));
    return r.rc == 0 ? r.out : "";
  }

  TestNetns node{"node"}, zt{"zt"}, app{"app"}, other{"other"}, remote{"remote"};
  LinuxKernel kernel;
  TempLedger ledger;
  PlanInput in;
};

}  // namespace

TEST_CASE("on an IPv6-only node ambient pod traffic reaches ztunnel's listeners over IPv6 tunnels",
          "[kernel][packet][ipv6]") {
  Ipv6OnlyWorld w;
  // The tunnels' underlay is IPv6 on both sides.
  const std::string kind(tunnelKindName(w.in.tunnelKind));
  CHECK(must(w.node.ip("-d link show istioin")).find(kind + " id 1000 remote " + kZtunnel6) !=
        std::string::npos);
  CHECK(must(w.zt.ip("-d link show pistioout")).find(kind + " id 1001 remote " + kGateway6) !=
        std::string::npos);
  CHECK(sh(w.node.exec("nft list table ip ambient_redirect")).rc != 0);
  Background ztunnel(w.zt.exec(kNettool + " serve --tproxy --addr ::1 --port 15001 --port 15006 "
                                          "--port 15008"));
  Background remoteServer(w.remote.exec(kNettool + " serve --addr :: --port 8080"));
  Background otherServer(w.other.exec(kNettool + " serve --addr :: --port 80"));
  REQUIRE(ztunnel.waitFor("listening"));
  REQUIRE(remoteServer.waitFor("listening"));
  REQUIRE(otherServer.waitFor("listening"));

  SECTION("outbound: ambient pod -> remote lands on 15001 with the original destination") {
    CHECK_THAT(w.connect(w.app, "[fd00:172:30::2]:8080"),
               Catch::StartsWith("15001 [fd00:172:30::2]:8080 [fd00:10:244:1::a]:"));
    CHECK(remoteServer.log().find("fd00:10:244:1::a") == std::string::npos);
  }
  SECTION("inbound: remote -> ambient pod lands on 15006, port 15008 on 15008, source kept") {
    CHECK_THAT(w.connect(w.remote, "[fd00:10:244:1::a]:80"),
               Catch::StartsWith("15006 [fd00:10:244:1::a]:80 [fd00:172:30::2]:"));
    CHECK_THAT(w.connect(w.remote, "[fd00:10:244:1::a]:15008"),
               Catch::StartsWith("15008 [fd00:10:244:1::a]:15008 [fd00:172:30::2]:"));
  }
  SECTION("a pod of the same node -> ambient pod lands on 15006") {
    CHECK_THAT(w.connect(w.other, "[fd00:10:244:1::a]:80"),
               Catch::StartsWith("15006 [fd00:10:244:1::a]:80 [fd00:10:244:1::b]:"));
  }
  SECTION("non-enrolled pods and UDP are untouched") {
    CHECK_THAT(w.connect(w.other, "[fd00:172:30::2]:8080"),
               Catch::StartsWith("8080 [fd00:172:30::2]:8080 [fd00:10:244:1::b]:"));
    CHECK_THAT(w.connect(w.remote, "[fd00:10:244:1::b]:80"),
               Catch::StartsWith("80 [fd00:10:244:1::b]:80 [fd00:172:30::2]:"));
    Background udp(w.remote.exec(kNettool + " udp-serve --port 9999 --timeout-ms 3000"));
    REQUIRE(udp.waitFor("listening"));
    must(w.app.exec(kNettool + " udp-send [fd00:172:30::2]:9999"));
    CHECK(udp.waitFor("udp from [fd00:10:244:1::a]:"));
  }
}

TEST_CASE("on an IPv6-only node traffic stops while nothing listens in ztunnel's namespace",
          "[kernel][packet][ipv6]") {
  Ipv6OnlyWorld w;
  Background remoteServer(w.remote.exec(kNettool + " serve --addr :: --port 8080"));
  REQUIRE(remoteServer.waitFor("listening"));
  CHECK(w.connect(w.app, "[fd00:172:30::2]:8080").empty());
  CHECK(remoteServer.log().find("fd00:10:244:1::a") == std::string::npos);
  CHECK(w.connect(w.remote, "[fd00:10:244:1::a]:80").empty());
}

// The agent on the same node: ztunnel's ADD with its IPv6 address alone makes the real
// inspector read the IPv6 gateway from the pod's routes, and the node is programmed over IPv6
// tunnels; an IPv6-only pod is enrolled, an IPv4 one refused, and `ambientctl verify` is clean.
TEST_CASE("the agent programs an IPv6-only node from ztunnel's ADD and enrolls IPv6 pods",
          "[kernel][agent][ipv6]") {
  Ipv6OnlyWorld w(false);
  AgentHarness h(w.node);
  h.httpHost = "";  // the default: kubelet probes the node's IPv6 address
  h.start();
  auto z = h.send(ztunnelAdd(w.zt.path(), kZtunnel6));
  REQUIRE(z);
  INFO(z->message);
  REQUIRE(z->verdict == PodVerdict::kNotAmbient);
  auto add = h.send(podAdd("foo", "app", w.app.path(), "fd00:10:244:1::a"));
  REQUIRE(add);
  INFO(add->message);
  REQUIRE(add->verdict == PodVerdict::kEnrolled);
  auto four = podAdd("foo", "other", w.other.path(), "10.244.1.11");
  four.ips.push_back(*IpAddress::parse("fd00:10:244:1::b"));
  auto refused = h.send(four);
  REQUIRE(refused);
  CHECK(refused->verdict == PodVerdict::kError);
  CHECK(refused->message.find("ztunnel pod has none") != std::string::npos);
  // What the agent programmed is the plan of the world's input (gateway read from the kernel).
  auto ledger = SysctlLedgerStore::load(h.stateDir() + "/sysctl-ledger.json");
  REQUIRE(ledger);
  auto node = verify(w.kernel, {w.node.path(), NetnsRole::kNode}, *computeNodePlan(w.in), *ledger);
  auto zt =
      verify(w.kernel, {w.zt.path(), NetnsRole::kZtunnel}, *computeZtunnelPlan(w.in), *ledger);
  REQUIRE(node);
  REQUIRE(zt);
  INFO(renderChangeSet(*node) << renderChangeSet(*zt));
  CHECK(node->empty());
  CHECK(zt->empty());
  auto ctl =
      sh(w.node.exec(std::string(AMBIENT_AMBIENTCTL) + " --state-dir " + h.stateDir() + " verify"));
  INFO(ctl.out);
  CHECK(ctl.rc == 0);
  auto ready = h.http("/readyz");
  INFO(ready);
  CHECK(ready.rfind("ready", 0) == 0);
  // The same at the node's IPv6 address, where kubelet probes a hostNetwork pod.
  auto ready6 = sh(w.node.exec("curl -s -w ' %{http_code}' http://[fd00:172:30::1]:" +
                               std::to_string(h.httpPort()) + "/readyz"));
  INFO(ready6.out);
  CHECK(ready6.out.rfind("ready", 0) == 0);
  CHECK(ready.find("fail closed") == std::string::npos);
  Background ztunnel(w.zt.exec(kNettool + " serve --tproxy --addr ::1 --port 15001"));
  REQUIRE(ztunnel.waitFor("listening"));
  // The tunnels the agent made have link-local addresses in duplicate address detection for
  // about a second; the kernel sends no neighbour solicitation from a tentative link-local
  // address, so IPv6 over a tunnel waits for it (docs/DESIGN.md, "IPv6").
  w.waitForDad();
  CHECK_THAT(w.connect(w.app, "[fd00:172:30::2]:8080"),
             Catch::StartsWith("15001 [fd00:172:30::2]:8080 [fd00:10:244:1::a]:"));
  // `ambientctl trace` of that SYN: the tunnel hop names ztunnel's IPv6 address as remote.
  auto trace = sh(w.node.exec(std::string(AMBIENT_AMBIENTCTL) + " --state-dir " + h.stateDir() +
                              " trace foo/app [fd00:172:30::2]:8080"));
  INFO(trace.out);
  CHECK(trace.rc == 0);
  const std::string kind(tunnelKindName(w.in.tunnelKind));
  CHECK(trace.out.find("istioout: " + kind + " VNI 1001 to [fd00:10:244:1::3]:6081 -> pistioout") !=
        std::string::npos);
  CHECK(trace.out.find("ztunnel accepts on [::1]:15001 with original destination "
                       "[fd00:172:30::2]:8080 and source fd00:10:244:1::a") != std::string::npos);
}

// Issue 20: ztunnel's pod comes back with its IPv6 address alone while a dual-stack pod is
// enrolled: the pod's IPv4 cannot be redirected any more, so its TCP is dropped (fail closed),
// `/readyz` and the metric say so, and its IPv6 stays redirected over the IPv6 tunnels.
TEST_CASE("the agent fails a pod's IPv4 closed when ztunnel comes back IPv6-only",
          "[kernel][agent][ipv6]") {
  Ipv6OnlyWorld w(false);
  // The node dual-stack at first, as the ptp plugin with two ranges leaves it: ztunnel and app
  // have an IPv4 /32 as well, the gateway 10.244.1.1 on their host veths.
  for (auto [veth, pod, ip] :
       {std::tuple{"vethzt", &w.zt, "10.244.1.3"}, std::tuple{"vethapp", &w.app, "10.244.1.10"}}) {
    must(w.node.ip("addr add 10.244.1.1/32 dev " + std::string(veth)));
    must(w.node.ip("route add " + std::string(ip) + "/32 dev " + veth + " scope link"));
    must(pod->ip("addr add " + std::string(ip) + "/32 dev eth0"));
    must(pod->ip("route add 10.244.1.1/32 dev eth0 scope link"));
    must(pod->ip("route add default via 10.244.1.1 dev eth0"));
  }
  must(w.node.exec("sysctl -qw net.ipv4.ip_forward=1"));
  AgentHarness h(w.node);
  h.start();
  PodRequest z = ztunnelAdd(w.zt.path(), "10.244.1.3");
  z.ips.push_back(*IpAddress::parse(kZtunnel6));
  REQUIRE(h.send(z)->verdict == PodVerdict::kNotAmbient);
  PodRequest add = podAdd("foo", "app", w.app.path(), "10.244.1.10");
  add.ips.push_back(*IpAddress::parse("fd00:10:244:1::a"));
  auto a = h.send(add);
  REQUIRE(a);
  INFO(a->message);
  REQUIRE(a->verdict == PodVerdict::kEnrolled);
  CHECK(h.http("/readyz").find("fail closed") == std::string::npos);
  CHECK(h.http("/metrics").find("ambient_ipv4_fail_closed 0") != std::string::npos);

  // ztunnel's new sandbox has IPv6 alone (the cluster left dual-stack, or its IPv4 pool ran
  // out): the kubelet's ADD for it carries one address.
  must(w.zt.ip("route del default via 10.244.1.1"));
  must(w.zt.ip("addr del 10.244.1.3/32 dev eth0"));
  PodRequest again = ztunnelAdd(w.zt.path(), kZtunnel6);
  again.containerId = "c-ztunnel-1-again";
  auto z6 = h.send(again);
  REQUIRE(z6);
  INFO(z6->message);
  REQUIRE(z6->verdict == PodVerdict::kNotAmbient);
  auto table = must(w.node.exec("nft list table ip ambient_redirect"));
  INFO(table);
  CHECK(table.find("ip saddr @enrolled_pods counter packets 0 bytes 0 drop") != std::string::npos);
  CHECK(table.find("ip daddr @enrolled_pods counter packets 0 bytes 0 drop") != std::string::npos);
  CHECK(table.find("10.244.1.10") != std::string::npos);
  CHECK(must(w.node.ip("rule show")).find("proto 112") == std::string::npos);
  auto ready = h.http("/readyz");
  INFO(ready);
  CHECK(ready.find("IPv4 fail closed") != std::string::npos);
  CHECK(ready.find("the ztunnel pod has no IPv4 address") != std::string::npos);
  CHECK(h.http("/metrics").find("ambient_ipv4_fail_closed 1") != std::string::npos);
  CHECK(h.log().find("IPV4 FAIL CLOSED") != std::string::npos);
  // The pod's IPv4 TCP goes nowhere; its IPv6 is redirected over the tunnels, now on IPv6.
  Background ztunnel(w.zt.exec(kNettool + " serve --tproxy --addr ::1 --port 15001"));
  REQUIRE(ztunnel.waitFor("listening"));
  Background plain4(w.node.exec(kNettool + " serve --addr 10.244.1.1 --port 8081"));
  REQUIRE(plain4.waitFor("listening"));
  CHECK(w.connect(w.app, "10.244.1.1:8081").empty());
  w.waitForDad();
  CHECK_THAT(w.connect(w.app, "[fd00:172:30::2]:8080"),
             Catch::StartsWith("15001 [fd00:172:30::2]:8080 [fd00:10:244:1::a]:"));
  CHECK(must(w.node.ip("-d link show istioout")).find("remote " + std::string(kZtunnel6)) !=
        std::string::npos);
  auto ctl =
      sh(w.node.exec(std::string(AMBIENT_AMBIENTCTL) + " --state-dir " + h.stateDir() + " verify"));
  INFO(ctl.out);
  CHECK(ctl.rc == 0);
}
