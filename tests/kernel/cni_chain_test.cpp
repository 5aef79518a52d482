// ambient-cni chained after Debian's real ptp + host-local plugins, driven as a runtime drives
// a conflist, against a running ambient-agent, with the kernel state asserted after each step.
// Touches the kernel.
#include "agent_harness.h"
#include "cni_runtime.h"
#include "tests/support/temp_dir.h"

using namespace ambient;
using namespace ambient::testing;
using nlohmann::json;

namespace {

json conflist(const std::string& dir, const std::string& socket) {
  return json{{"cniVersion", "1.0.0"},
              {"name", "k8s-pod-network"},
              {"plugins",
               {{{"type", "ptp"},
                 {"ipMasq", false},
                 {"ipam",
                  {{"type", "host-local"},
                   {"subnet", "10.244.9.0/24"},
                   {"dataDir", dir + "/ipam"},
                   {"routes", {{{"dst", "0.0.0.0/0"}}}}}}},
                {{"type", "ambient-cni"}, {"agentSocket", socket}, {"agentTimeoutMs", 60000}}}}};
}

std::string firstIp(const json& result) {
  std::string a = result["ips"][0]["address"];
  return a.substr(0, a.find('/'));
}

std::string podSet(const TestNetns& node) {
  return sh(node.exec("nft list set ip ambient_redirect enrolled_pods")).out;
}

}  // namespace

TEST_CASE("ambient-cni chained after ptp enrolls ambient pods through the agent", "[kernel][cni]") {
  TestNetns node("cninode"), zt("cnizt"), app("cniapp"), web("cniweb");
  must(node.exec("sysctl -qw net.ipv4.ip_forward=1"));
  AgentHarness h(node);
  const TempDir ipamDir("ambient-cni-chain");
  CniRuntime rt(node, conflist(ipamDir.path().string(), h.socket()));
  h.start();

  SECTION("an ambient pod before ztunnel fails closed; the runtime's DEL then cleans up") {
    auto r = rt.add("c-early", app.path(), k8sArgs("foo", "early"));
    CHECK(r.rc != 0);
    auto err = json::parse(r.out, nullptr, false);
    INFO(r.out);
    REQUIRE(err.is_object());
    CHECK(err["code"] == 11);
    CHECK(rt.del("c-early", app.path(), k8sArgs("foo", "early"), false).rc == 0);
    CHECK(sh(app.ip("addr show eth0")).rc != 0);  // ptp removed its veth
  }

  SECTION("ztunnel, then ambient and plain pods, CHECK, DEL") {
    auto z = rt.add("c-zt", zt.path(), k8sArgs("istio-system", "ztunnel-1"));
    INFO(z.out);
    REQUIRE(z.rc == 0);
    std::string ztIp = firstIp(json::parse(z.out));
    CHECK(must(node.ip("-d link show istioin")).find("remote " + ztIp) != std::string::npos);
    CHECK(must(zt.ip("link show pistioout")).find("pistioout") != std::string::npos);

    auto a = rt.add("c-app", app.path(), k8sArgs("foo", "app"));
    INFO(a.out);
    REQUIRE(a.rc == 0);
    json result = json::parse(a.out);
    CHECK(result["cniVersion"] == "1.0.0");
    CHECK(result["interfaces"].size() >= 2);  // ptp's result comes through, macs included
    std::string appIp = firstIp(result);
    CHECK(podSet(node).find(appIp) != std::string::npos);
    CHECK(must(node.ip("route show table 100")).find(appIp + " via 192.168.126.2 dev istioin") !=
          std::string::npos);
    CHECK(rt.check("c-app", app.path(), k8sArgs("foo", "app")).rc == 0);

    auto w = rt.add("c-web", web.path(), k8sArgs("plain", "web"));
    REQUIRE(w.rc == 0);
    CHECK(podSet(node).find(firstIp(json::parse(w.out))) == std::string::npos);

    CHECK(rt.del("c-app", app.path(), k8sArgs("foo", "app")).rc == 0);
    CHECK(podSet(node).find(appIp) == std::string::npos);
    CHECK(must(node.ip("route show table 100")).find(appIp) == std::string::npos);
    // DEL again, and DEL with no prevResult and no namespace, as runtimes do.
    CHECK(rt.del("c-app", app.path(), k8sArgs("foo", "app")).rc == 0);
    CHECK(rt.del("c-app", "", k8sArgs("foo", "app"), false).rc == 0);
    CHECK(rt.del("c-web", web.path(), k8sArgs("plain", "web")).rc == 0);
  }

  SECTION("with the agent down, DEL still succeeds and non-Kubernetes containers pass") {
    h.stop();
    auto r = rt.add("c-down", app.path(), k8sArgs("foo", "down"));
    CHECK(r.rc != 0);
    CHECK(json::parse(r.out, nullptr, false).value("code", 0) == 11);
    CHECK(rt.del("c-down", app.path(), k8sArgs("foo", "down"), false).rc == 0);
    auto plain = rt.add("c-nok8s", web.path(), "");
    INFO(plain.out);
    CHECK(plain.rc == 0);
    CHECK(rt.del("c-nok8s", web.path(), "").rc == 0);
  }

  SECTION("VERSION lists every supported version") {
    auto v = rt.version(json{{"type", "ambient-cni"}});
    REQUIRE(v.rc == 0);
    auto versions = json::parse(v.out)["supportedVersions"];
    for (const char* want : {"0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"}) {
      CHECK(std::find(versions.begin(), versions.end(), want) != versions.end());
    }
  }
}
