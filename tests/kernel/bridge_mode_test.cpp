// Bridge mode through the engine: the node plan computed for a ztunnel whose veth is a port of a
// Linux bridge, applied to real namespaces (bridge + host-local shape: ztunnel, two ambient pods
// and a plain pod on cni0, a remote host), with real TCP through a transparent relay where
// ztunnel listens. Both br_netfilter states. The packet proof of the same design, with rules
// written by hand, is tests/proofs/bridge_capture.sh. Touches the kernel.
#include <chrono>
#include <cstdlib>
#include <thread>

#include "agent_harness.h"
#include "common/core/render.h"
#include "node_topology.h"

using namespace ambient;
using namespace ambient::testing;

namespace {

const std::string kNettool = AMBIENT_NETTOOL;
const std::string kRelay = AMBIENT_RELAY;
// Listens on 127.0.0.1 and [::1] (tests/proofs/transparent_relay6.py): one line per client,
// "zt:<port> <client ip> <original destination> <the destination's first line>".
const std::string kRelay6 = AMBIENT_RELAY6;
constexpr const char* kBridgeMac = "02:42:0a:f4:01:01";
constexpr const char* kZtunnelMac = "0a:58:0a:f4:01:03";  // ztunnel's eth0

// A pod namespace whose eth0 is a port of cni0 through `hostVeth`, as the bridge plugin with
// host-local leaves it: /24 on eth0, default via the bridge's address.
void bridgedPod(TestNetns& node, TestNetns& pod, const std::string& hostVeth,
                const std::string& ip) {
  must(node.ip("link add " + hostVeth + " type veth peer name eth0 netns " + pod.name()));
  must(node.ip("link set " + hostVeth + " master cni0 up"));
  must(pod.ip("addr add " + ip + "/24 dev eth0"));
  must(pod.ip("link set eth0 up"));
  must(pod.ip("route add default via 10.244.1.1"));
}

struct BridgeWorld {
  explicit BridgeWorld(bool brNetfilter) {
    must(node.exec("sysctl -qw net.ipv4.ip_forward=1"));
    must(node.exec("sysctl -qw net.ipv4.conf.all.rp_filter=1 net.ipv4.conf.default.rp_filter=1"));
    must(node.ip("link add cni0 type bridge"));
    must(node.ip("link set cni0 address " + std::string(kBridgeMac)));
    must(node.ip("addr add 10.244.1.1/24 dev cni0"));
    must(node.ip("link set cni0 up"));
    // br_netfilter is built in on the host kernel and a module in the geneve VM's Debian kernel.
    sh("modprobe br_netfilter");
    must(node.exec(std::string("sysctl -qw net.bridge.bridge-nf-call-iptables=") +
                   (brNetfilter ? "1" : "0")));
    bridgedPod(node, zt, "vethzt", "10.244.1.3");
    must(zt.ip("link set eth0 address " + std::string(kZtunnelMac)));
    bridgedPod(node, a, "vetha", "10.244.1.10");
    bridgedPod(node, b, "vethb", "10.244.1.11");
    bridgedPod(node, c, "vethc", "10.244.1.12");
    connectRemote(node, remote);

    in.tunnelKind = kernelTunnelKind();
    in.ztunnel = ZtunnelEndpoint{*Ipv4::parse("10.244.1.3"), "vethzt", IpAddress("10.244.1.1"),
                                 "eth0", 1500};
    in.pods = {EnrolledPod{*Ipv4::parse("10.244.1.10"), "vetha"},
               EnrolledPod{*Ipv4::parse("10.244.1.12"), "vethc"}};
  }

  void useBridgeMode() {
    in.ztunnel.bridge =
        BridgeAttachment{"cni0", *MacAddr::parse(kBridgeMac), *Ipv4Prefix::parse("10.244.1.0/24"),
                         *MacAddr::parse(kZtunnelMac)};
  }

  // Dual-stack, as the bridge plugin with two host-local ranges leaves it: cni0
  // fd00:10:244:1::1/64, ztunnel ::3, pods a ::a, b ::b, c ::c (the /64, default via the
  // bridge), the remote host fd00:172:30::2 behind the uplink; br_netfilter's call-ip6tables
  // as call-iptables. The addresses skip duplicate address detection (usable at once).
  void addIpv6(bool brNetfilter) {
    must(node.exec("sysctl -qw net.ipv6.conf.all.forwarding=1"));
    must(node.exec(std::string("sysctl -qw net.bridge.bridge-nf-call-ip6tables=") +
                   (brNetfilter ? "1" : "0")));
    must(node.ip("-6 addr add fd00:10:244:1::1/64 dev cni0 nodad"));
    for (auto [pod, ip6] : {std::pair{&zt, "fd00:10:244:1::3"}, std::pair{&a, "fd00:10:244:1::a"},
                            std::pair{&b, "fd00:10:244:1::b"}, std::pair{&c, "fd00:10:244:1::c"}}) {
      must(pod->ip("-6 addr add " + std::string(ip6) + "/64 dev eth0 nodad"));
      must(pod->ip("-6 route add default via fd00:10:244:1::1 dev eth0"));
    }
    must(node.ip("-6 addr add fd00:172:30::1/64 dev uplink nodad"));
    must(remote.ip("-6 addr add fd00:172:30::2/64 dev eth0 nodad"));
    must(remote.ip("-6 route add fd00:10:244::/48 via fd00:172:30::1"));
    in.ztunnel.podIp6 = IpAddress("fd00:10:244:1::3");
    in.pods[0].ip6 = IpAddress("fd00:10:244:1::a");
    in.pods[1].ip6 = IpAddress("fd00:10:244:1::c");
  }

  // Waits for the link-local addresses of the links just made (the tunnels' among them) to
  // leave duplicate address detection: until then the kernel sends no neighbour solicitation
  // from them, and a first SYN over a new tunnel waits for its retransmission.
  void waitIpv6Settled() {
    for (const TestNetns* ns : {&node, &zt, &a, &b, &c, &remote}) {
      for (int i = 0; i < 50 && !must(ns->ip("-6 -o addr show tentative")).empty(); ++i) {
        usleep(100 * 1000);
      }
    }
  }

  // nettool servers on [::]:8081 in the pods and the remote host.
  void startServers6() {
    for (TestNetns* p : {&a, &b, &c, &remote}) {
      servers.push_back(
          std::make_unique<Background>(p->exec(kNettool + " serve --addr :: --port 8081")));
      REQUIRE(servers.back()->waitFor("listening"));
    }
  }
  void startRelay6() {
    relay = std::make_unique<Background>(zt.exec(kRelay6 + " 15001 15006 15008"));
    REQUIRE(relay->waitFor("listening"));
  }

  void apply() {
    for (auto [target, plan] :
         {std::pair{NetnsTarget{node.path(), NetnsRole::kNode}, computeNodePlan(in)},
          std::pair{NetnsTarget{zt.path(), NetnsRole::kZtunnel}, computeZtunnelPlan(in)}}) {
      REQUIRE(plan);
      auto r = reconcile(kernel, target, *plan, ledger.store);
      INFO((r ? "" : r.error().message()));
      REQUIRE(r);
    }
  }

  void startServers() {
    for (TestNetns* p : {&a, &b, &c, &remote}) {
      servers.push_back(std::make_unique<Background>(p->exec(kNettool + " serve --port 8080")));
    }
    servers.push_back(
        std::make_unique<Background>(zt.exec(kNettool + " serve --addr 10.244.1.3 --port 15020")));
    for (auto& s : servers) REQUIRE(s->waitFor("listening"));
  }
  void startRelay() {
    relay = std::make_unique<Background>(zt.exec(kRelay + " 15001 15006 15008"));
    REQUIRE(relay->waitFor("listening"));
  }

  // The first line the client got ("" when it got no connection).
  std::string connect(const TestNetns& from, const std::string& target) {
    auto r = sh(from.exec(kNettool + " connect " + target + " --timeout-ms 1500"));
    return r.rc == 0 ? r.out.substr(0, r.out.find('\n')) : "";
  }

  TestNetns node{"node"}, zt{"zt"}, a{"a"}, b{"b"}, c{"c"}, remote{"remote"};
  LinuxKernel kernel;
  TempLedger ledger;
  PlanInput in;
  std::vector<std::unique_ptr<Background>> servers;
  std::unique_ptr<Background> relay;
};

bool startsWith(const std::string& s, const std::string& prefix) {
  return s.rfind(prefix, 0) == 0;
}

// What a client sees when its connection was captured at `port` and the destination `dst` saw
// the client's own address `src` (the relay dials onward from it).
std::string captured(int port, const std::string& dst, const std::string& src) {
  return "zt:" + std::to_string(port) + " " + dst + ":8080 8080 " + dst + ":8080 " + src + ":";
}

// What a client sees through the dual-stack relay when its IPv6 connection to [dst]:8081 was
// captured at `port` and the destination saw the client's own address `src`.
std::string captured6(int port, const std::string& dst, const std::string& src) {
  return "zt:" + std::to_string(port) + " " + src + " [" + dst + "]:8081 8081 [" + dst +
         "]:8081 [" + src + "]:";
}

// The same-bridge pairs and off-node inbound, each captured at the right port with the client's
// own address seen by the destination.
void checkSameBridgeCaptured(BridgeWorld& w) {
  CHECK_THAT(w.connect(w.a, "10.244.1.11:8080"),
             Catch::StartsWith(captured(15001, "10.244.1.11", "10.244.1.10")));
  CHECK_THAT(w.connect(w.b, "10.244.1.10:8080"),
             Catch::StartsWith(captured(15006, "10.244.1.10", "10.244.1.11")));
  CHECK_THAT(w.connect(w.a, "10.244.1.12:8080"),
             Catch::StartsWith(captured(15001, "10.244.1.12", "10.244.1.10")));
  CHECK_THAT(w.connect(w.remote, "10.244.1.10:8080"),
             Catch::StartsWith(captured(15006, "10.244.1.10", "172.30.0.2")));
}

}  // namespace

TEST_CASE("bridge mode: without the bridge table same-bridge traffic bypasses ztunnel",
          "[kernel][packet][bridge]") {
  // The negative control: the routed-mode plan on a bridge, as before bridge mode existed.
  BridgeWorld w(GENERATE(false, true));
  w.apply();
  w.startServers();
  w.startRelay();
  auto got = w.connect(w.a, "10.244.1.11:8080");
  INFO(got);
  CHECK(startsWith(got, "8080 10.244.1.11:8080 10.244.1.10:"));
  CHECK(w.relay->log().find("10.244.1.10") == std::string::npos);
}

TEST_CASE("bridge mode: every path of an ambient pod on a bridge is captured at the right port",
          "[kernel][packet][bridge]") {
  const bool brNetfilter = GENERATE(false, true);
  INFO("br_netfilter " << brNetfilter);
  BridgeWorld w(brNetfilter);
  w.useBridgeMode();
  w.apply();
  w.startServers();
  w.startRelay();

  checkSameBridgeCaptured(w);
  CHECK_THAT(w.connect(w.a, "172.30.0.2:8080"),
             Catch::StartsWith(captured(15001, "172.30.0.2", "10.244.1.10")));
  // ztunnel's own IP answers from off the node (a metrics scrape), and plain pods are untouched.
  CHECK_THAT(w.connect(w.remote, "10.244.1.3:15020"), Catch::StartsWith("15020 10.244.1.3:15020 "));
  CHECK_THAT(w.connect(w.b, "172.30.0.2:8080"),
             Catch::StartsWith("8080 172.30.0.2:8080 10.244.1.11:"));
  CHECK_THAT(w.connect(w.remote, "10.244.1.11:8080"),
             Catch::StartsWith("8080 10.244.1.11:8080 172.30.0.2:"));

  // kube-proxy's DNAT of a Service VIP, in iptables-legacy mode and in nftables mode: the ambient
  // pod's connection reaches 15001 with the VIP intact (ztunnel balances it itself).
  must(
      w.node.exec("iptables-legacy -t nat -A PREROUTING -d 10.96.0.10/32 -p tcp --dport 80 -j DNAT "
                  "--to-destination 172.30.0.2:8080"));
  CHECK_THAT(w.connect(w.a, "10.96.0.10:80"), Catch::StartsWith("zt:15001 10.96.0.10:80 "));
  must(w.node.exec("iptables-legacy -t nat -F PREROUTING"));
  must(w.node.exec(
      "nft 'add table ip kube_proxy; add chain ip kube_proxy prerouting { type nat hook "
      "prerouting priority dstnat; }; add rule ip kube_proxy prerouting ip daddr 10.96.0.10 tcp "
      "dport 80 dnat to 172.30.0.2:8080'"));
  CHECK_THAT(w.connect(w.a, "10.96.0.10:80"), Catch::StartsWith("zt:15001 10.96.0.10:80 "));
  // The DNAT is real: a plain pod reaches the backend through it.
  CHECK_THAT(w.connect(w.b, "10.96.0.10:80"), Catch::StartsWith("8080 172.30.0.2:8080 "));
  must(w.node.exec("nft delete table ip kube_proxy"));

  // UDP from an ambient pod is bridged as before.
  Background udp(w.b.exec(kNettool + " udp-serve --port 5353 --timeout-ms 3000"));
  REQUIRE(udp.waitFor("listening"));
  must(w.a.exec(kNettool + " udp-send 10.244.1.11:5353"));
  CHECK(udp.waitFor("udp from 10.244.1.10:"));

  // Fail closed: with ztunnel away an ambient pod's TCP stops.
  w.relay.reset();
  CHECK(w.connect(w.a, "10.244.1.11:8080").empty());
  CHECK(w.connect(w.a, "172.30.0.2:8080").empty());
}

// Issue 20: where bridge mode cannot redirect IPv6 (here: ztunnel's pod has no IPv6 address) an
// enrolled pod's IPv6 fails closed. Two pods of one bridge exchange IPv6 at layer 2 without the
// IP layer seeing it (br_netfilter's call-ip6tables off): the bridge table drops the enrolled
// pod's IPv6 TCP there, both ways, while its IPv4 is captured and a plain pod's IPv6 and the
// enrolled pod's IPv6 UDP pass.
TEST_CASE("bridge mode: an enrolled pod's IPv6 TCP is dropped on the bridge too",
          "[kernel][packet][bridge][ipv6]") {
  BridgeWorld w(GENERATE(false, true));
  must(w.node.exec("sysctl -qw net.bridge.bridge-nf-call-ip6tables=0"));
  must(w.node.ip("-6 addr add fd00:10:244:1::1/64 dev cni0 nodad"));
  for (auto [pod, ip6] : {std::pair{&w.a, "fd00:10:244:1::a"}, std::pair{&w.b, "fd00:10:244:1::b"},
                          std::pair{&w.c, "fd00:10:244:1::c"}}) {
    must(pod->ip("-6 addr add " + std::string(ip6) + "/64 dev eth0 nodad"));
  }
  w.useBridgeMode();
  w.in.pods[0].ip6 = IpAddress("fd00:10:244:1::a");
  w.apply();
  CHECK(ipv6FailClosedReason(w.in));
  for (const TestNetns* ns : {&w.node, &w.a, &w.b, &w.c}) {
    for (int i = 0; i < 50 && !must(ns->ip("-6 -o addr show tentative")).empty(); ++i) {
      usleep(100 * 1000);
    }
  }
  Background a6(w.a.exec(kNettool + " serve --addr :: --port 8081"));
  Background b6(w.b.exec(kNettool + " serve --addr :: --port 8081"));
  Background c6(w.c.exec(kNettool + " serve --addr :: --port 8081"));
  for (auto* s : {&a6, &b6, &c6}) REQUIRE(s->waitFor("listening"));
  w.startServers();
  w.startRelay();
  // The plain pods reach each other in IPv6: the bridge works for IPv6.
  CHECK_THAT(w.connect(w.b, "[fd00:10:244:1::c]:8081"),
             Catch::StartsWith("8081 [fd00:10:244:1::c]:8081 [fd00:10:244:1::b]:"));
  // The enrolled pod's IPv6 TCP goes nowhere, in or out.
  CHECK(w.connect(w.b, "[fd00:10:244:1::a]:8081").empty());
  CHECK(w.connect(w.a, "[fd00:10:244:1::b]:8081").empty());
  CHECK(a6.log().find("fd00:") == std::string::npos);
  CHECK(b6.log().find("fd00:10:244:1::a") == std::string::npos);
  auto table = must(w.node.exec("nft list table bridge ambient_bridge"));
  INFO(table);
  CHECK(table.find("ip6 saddr @enrolled_pods6 counter packets 0 bytes 0 drop") ==
        std::string::npos);
  CHECK(table.find("ip6 daddr @enrolled_pods6 counter packets 0 bytes 0 drop") ==
        std::string::npos);
  // Its IPv4 is captured as before, and its IPv6 UDP passes.
  CHECK_THAT(w.connect(w.b, "10.244.1.10:8080"),
             Catch::StartsWith(captured(15006, "10.244.1.10", "10.244.1.11")));
  Background udp(w.b.exec(kNettool + " udp-serve --port 5353 --timeout-ms 3000"));
  REQUIRE(udp.waitFor("listening"));
  must(w.a.exec(kNettool + " udp-send [fd00:10:244:1::b]:5353"));
  CHECK(udp.waitFor("udp from [fd00:10:244:1::a]:"));
}

// Issue 20: a dual-stack bridge (an IPv6 /64 on cni0, ztunnel and pods with IPv6) redirects IPv6
// as it does IPv4: the engine's plan, the rules tests/proofs/bridge_capture6.sh proved by hand.
TEST_CASE("bridge mode with IPv6: every IPv6 path of an ambient pod on a bridge is captured",
          "[kernel][packet][bridge][ipv6]") {
  const bool brNetfilter = GENERATE(false, true);
  INFO("br_netfilter " << brNetfilter);
  BridgeWorld w(brNetfilter);
  w.addIpv6(brNetfilter);
  w.useBridgeMode();
  w.in.ztunnel.bridge->subnet6 = *IpPrefix::parse("fd00:10:244:1::/64");
  REQUIRE_FALSE(ipv6FailClosedReason(w.in));
  w.apply();
  w.waitIpv6Settled();
  w.startServers();
  w.startServers6();
  w.startRelay6();

  const std::string a6 = "fd00:10:244:1::a", b6 = "fd00:10:244:1::b", c6 = "fd00:10:244:1::c";
  const std::string remote6 = "fd00:172:30::2";
  auto to = [](const std::string& ip6) { return "[" + ip6 + "]:8081"; };
  // Same bridge, both directions and between two ambient pods; off-node, both directions.
  CHECK_THAT(w.connect(w.a, to(b6)), Catch::StartsWith(captured6(15001, b6, a6)));
  CHECK_THAT(w.connect(w.b, to(a6)), Catch::StartsWith(captured6(15006, a6, b6)));
  CHECK_THAT(w.connect(w.a, to(c6)), Catch::StartsWith(captured6(15001, c6, a6)));
  CHECK_THAT(w.connect(w.remote, to(a6)), Catch::StartsWith(captured6(15006, a6, remote6)));
  CHECK_THAT(w.connect(w.a, to(remote6)), Catch::StartsWith(captured6(15001, remote6, a6)));
  // IPv4 alongside, through the same relay.
  CHECK_THAT(w.connect(w.a, "10.244.1.11:8080"),
             Catch::StartsWith("zt:15001 10.244.1.10 10.244.1.11:8080 8080 10.244.1.11:8080 "
                               "10.244.1.10:"));
  // A plain pod's IPv6 is untouched, on the bridge and off the node.
  CHECK_THAT(w.connect(w.b, to(remote6)),
             Catch::StartsWith("8081 " + to(remote6) + " [" + b6 + "]:"));
  CHECK_THAT(w.connect(w.remote, to(b6)),
             Catch::StartsWith("8081 " + to(b6) + " [" + remote6 + "]:"));
  // The ambient pod's IPv6 UDP is bridged as before.
  Background udp(w.b.exec(kNettool + " udp-serve --port 5353 --timeout-ms 3000"));
  REQUIRE(udp.waitFor("listening"));
  must(w.a.exec(kNettool + " udp-send [" + b6 + "]:5353"));
  CHECK(udp.waitFor("udp from [" + a6 + "]:"));
  // Fail closed: with ztunnel away the ambient pod's IPv6 TCP stops.
  w.relay.reset();
  CHECK(w.connect(w.a, to(b6)).empty());
  CHECK(w.connect(w.remote, to(a6)).empty());
}

namespace {

// Loads `table`'s rendered text with nft(8) into a scratch namespace and checks that the kernel
// holds, rule by rule, the expressions we build for it.
void checkNftBuildsOurs(LinuxKernel& kernel, const NftTableSpec& table) {
  TestNetns scratch("nft");
  std::string file = "/tmp/" + uniqueName("nft");
  FILE* f = std::fopen(file.c_str(), "w");
  std::fputs(renderNftTable(table).c_str(), f);
  std::fclose(f);
  must(scratch.exec("nft -f " + file));
  unlink(file.c_str());
  auto observed = kernel.observe({scratch.path(), NetnsRole::kNode}, {});
  REQUIRE(observed);
  REQUIRE(observed->bridgeNft);
  REQUIRE(observed->bridgeNft->chains.size() == 1);
  const auto& theirs = observed->bridgeNft->chains[0].rules;
  const auto& ours = table.chains.at(0).rules;
  REQUIRE(theirs.size() == ours.size());
  for (size_t i = 0; i < ours.size(); ++i) {
    std::string o, t;
    for (const auto& e : ours[i].exprs) o += e.str();
    for (const auto& e : theirs[i].exprs) t += e.str();
    INFO("rule " << i << ": " << ours[i].text);
    CHECK(t == o);
  }
}

}  // namespace

TEST_CASE("bridge mode: apply, observe and uninstall cover the bridge table", "[kernel][bridge]") {
  BridgeWorld w(false);
  w.useBridgeMode();
  w.apply();
  auto plan = computeNodePlan(w.in);
  REQUIRE(plan);
  auto again = verify(w.kernel, {w.node.path(), NetnsRole::kNode}, *plan, w.ledger.store);
  REQUIRE(again);
  INFO(renderChangeSet(*again));
  CHECK(again->empty());
  CHECK(must(w.node.exec("nft list table bridge ambient_bridge"))
            .find("ether daddr set 02:42:0a:f4:01:01 meta pkttype set host") != std::string::npos);
  CHECK(must(w.node.exec("sysctl -n net.ipv4.conf.cni0.rp_filter")) == "0\n");

  // What nft(8) builds from our rendered text is what we build: the same expressions, for the
  // IPv4 bridge table and for the dual-stack one (its ip6 rules, the /64 match among them).
  checkNftBuildsOurs(w.kernel, *plan->bridgeNft);
  PlanInput dual = w.in;
  dual.ztunnel.podIp6 = IpAddress("fd00:10:244:1::3");
  dual.ztunnel.bridge->subnet6 = *IpPrefix::parse("fd00:10:244:1::/64");
  dual.pods[0].ip6 = IpAddress("fd00:10:244:1::a");
  auto dualPlan = computeNodePlan(dual);
  REQUIRE(dualPlan);
  REQUIRE(dualPlan->bridgeNft->chains.at(0).rules.size() == 11);
  checkNftBuildsOurs(w.kernel, *dualPlan->bridgeNft);
  // A prefix that is no whole number of bytes takes nft's mask.
  dual.ztunnel.bridge->subnet6 = *IpPrefix::parse("fd00:10:244:1::/62");
  checkNftBuildsOurs(w.kernel, *computeNodePlan(dual)->bridgeNft);

  // Back to routed mode, then uninstall: nothing of ours is left, the bridge's sysctls restored.
  w.in.ztunnel.bridge.reset();
  w.apply();
  CHECK(sh(w.node.exec("nft list table bridge ambient_bridge")).rc != 0);
  CHECK(must(w.node.exec("sysctl -n net.ipv4.conf.cni0.rp_filter")) == "1\n");
  w.useBridgeMode();
  w.apply();
  REQUIRE(reconcile(w.kernel, {w.node.path(), NetnsRole::kNode}, emptyPlan(NetnsRole::kNode),
                    w.ledger.store));
  CHECK(sh(w.node.exec("nft list table bridge ambient_bridge")).rc != 0);
  CHECK(sh(w.node.exec("nft list table ip ambient_redirect")).rc != 0);
  CHECK(must(w.node.exec("sysctl -n net.ipv4.conf.cni0.rp_filter")) == "1\n");
}

namespace {

// Polls `cond` for up to 10 s (the agent's passes run every 2 s in these tests).
template <class F>
bool within10s(F cond) {
  for (int i = 0; i < 100; ++i) {
    if (cond()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return false;
}

}  // namespace

namespace {

// ztunnel's pod, then ambient pods a and c and plain pod b, through the agent's ADDs.
void addWorldPods(AgentHarness& agent, BridgeWorld& w) {
  REQUIRE(agent.send(ztunnelAdd(w.zt.path(), "10.244.1.3"))->verdict == PodVerdict::kNotAmbient);
  REQUIRE(agent.send(podAdd("foo", "a", w.a.path(), "10.244.1.10"))->verdict ==
          PodVerdict::kEnrolled);
  REQUIRE(agent.send(podAdd("foo", "c", w.c.path(), "10.244.1.12"))->verdict ==
          PodVerdict::kEnrolled);
  REQUIRE(agent.send(podAdd("plain", "b", w.b.path(), "10.244.1.11"))->verdict ==
          PodVerdict::kNotAmbient);
}

}  // namespace

TEST_CASE("bridge mode through the agent: enrolled at ADD, verify and trace, restart, new MAC",
          "[kernel][agent][bridge]") {
  BridgeWorld w(true);
  AgentHarness agent(w.node);
  agent.start();
  addWorldPods(agent, w);
  const std::string bridgeSet = "nft list set bridge ambient_bridge enrolled_pods";
  auto set = must(w.node.exec(bridgeSet));
  CHECK(set.find("10.244.1.10") != std::string::npos);
  CHECK(set.find("10.244.1.12") != std::string::npos);
  CHECK(set.find("10.244.1.11") == std::string::npos);
  CHECK(agent.log().find("bridge mode") != std::string::npos);

  const std::string ctl = kAmbientctl + " --state-dir " + agent.stateDir();
  auto verify = sh(w.node.exec(ctl + " verify"));
  INFO(verify.out);
  CHECK(verify.rc == 0);
  w.startServers();
  w.startRelay();
  CHECK_THAT(w.connect(w.a, "10.244.1.11:8080"),
             Catch::StartsWith(captured(15001, "10.244.1.11", "10.244.1.10")));
  CHECK_THAT(w.connect(w.b, "10.244.1.12:8080"),
             Catch::StartsWith(captured(15006, "10.244.1.12", "10.244.1.11")));
  auto trace = sh(w.node.exec(ctl + " trace 10.244.1.10 10.244.1.11:8080"));
  INFO(trace.out);
  CHECK(trace.rc == 0);
  CHECK(trace.out.find("node bridge cni0 nft prerouting rule #5") != std::string::npos);
  CHECK(trace.out.find("ztunnel accepts on 127.0.0.1:15001") != std::string::npos);

  // A restart adopts the state: verify stays clean, the pods stay captured.
  agent.kill();
  agent.start();
  auto again = sh(w.node.exec(ctl + " verify"));
  INFO(again.out);
  CHECK(again.rc == 0);
  CHECK_THAT(w.connect(w.a, "10.244.1.11:8080"),
             Catch::StartsWith(captured(15001, "10.244.1.11", "10.244.1.10")));

  // The bridge takes another MAC (recreated by the CNI, or set by hand): the next pass writes it
  // into the hand-up rules, and traffic is captured again.
  must(w.node.ip("link set cni0 address 02:42:0a:f4:01:02"));
  agent.reconcileNow();
  CHECK(within10s([&] {
    return sh(w.node.exec("nft list table bridge ambient_bridge")).out.find("02:42:0a:f4:01:02") !=
           std::string::npos;
  }));
  CHECK(sh(w.node.exec(ctl + " verify")).rc == 0);
  CHECK_THAT(w.connect(w.a, "10.244.1.11:8080"),
             Catch::StartsWith(captured(15001, "10.244.1.11", "10.244.1.10")));

  // The bridge renamed under the running agent (cni0 -> cbr0, as a CNI migration might): the
  // next pass moves ztunnel's routes and the bridge's sysctls to the new name; the pods stay
  // enrolled and captured.
  must(w.node.ip("link set cni0 down"));
  must(w.node.ip("link set cni0 name cbr0"));
  must(w.node.ip("link set cbr0 up"));
  agent.reconcileNow();
  CHECK(within10s([&] {
    return sh(w.node.ip("route show table 102")).out.find("dev cbr0") != std::string::npos;
  }));
  auto renamed = sh(w.node.exec(ctl + " verify"));
  INFO(renamed.out);
  CHECK(renamed.rc == 0);
  CHECK(must(w.node.exec("sysctl -n net.ipv4.conf.cbr0.rp_filter")) == "0\n");
  CHECK(agent.log().find("cbr0") != std::string::npos);
  CHECK_THAT(w.connect(w.a, "10.244.1.11:8080"),
             Catch::StartsWith(captured(15001, "10.244.1.11", "10.244.1.10")));

  // The bridge deleted under the running agent: ztunnel's veth is on no bridge any more, so the
  // next pass removes the bridge table and plans routed mode, with a log line; nothing fails.
  must(w.node.ip("link del cbr0"));
  agent.reconcileNow();
  CHECK(within10s([&] { return sh(w.node.exec("nft list table bridge ambient_bridge")).rc != 0; }));
  CHECK(within10s([&] { return agent.log().find("routed mode") != std::string::npos; }));
  auto routed = sh(w.node.exec(ctl + " verify"));
  INFO(routed.out);
  CHECK(routed.rc == 0);
}

// Issue 20: the agent on a dual-stack bridge enrolls a dual-stack pod at ADD in both families
// (it refused it while bridge mode redirected IPv4 only); verify is clean, both families are
// captured, and the trace names the bridge's ip6 hand-up rule.
TEST_CASE("bridge mode with IPv6 through the agent: a dual-stack pod enrolled at ADD",
          "[kernel][agent][bridge][ipv6]") {
  BridgeWorld w(true);
  w.addIpv6(true);
  // The bridge has no IPv6 address yet when ztunnel starts (the bridge plugin gives it one
  // with the first pod of that range): IPv6 pods are refused until a pass sees it.
  must(w.node.ip("-6 addr del fd00:10:244:1::1/64 dev cni0"));
  AgentHarness agent(w.node);
  agent.reconcileInterval = 60;  // passes only when asked
  agent.start();
  auto dual = [](PodRequest r, std::string_view ip6) {
    r.ips.push_back(ipOf(ip6));
    return r;
  };
  auto z = agent.send(dual(ztunnelAdd(w.zt.path(), "10.244.1.3"), "fd00:10:244:1::3"));
  REQUIRE(z);
  INFO(z->message);
  REQUIRE(z->verdict == PodVerdict::kNotAmbient);
  const PodRequest addA = dual(podAdd("foo", "a", w.a.path(), "10.244.1.10"), "fd00:10:244:1::a");
  auto early = agent.send(addA);
  REQUIRE(early);
  CHECK(early->cniCode == kCniErrInvalidConfig);
  CHECK_THAT(early->message, Catch::Contains("bridge cni0, which has no IPv6 address"));
  must(w.node.ip("-6 addr add fd00:10:244:1::1/64 dev cni0 nodad"));
  agent.reconcileNow();
  CHECK(within10s([&] {
    return sh(w.node.exec("nft list table bridge ambient_bridge")).out.find("ether type ip6") !=
           std::string::npos;
  }));
  CHECK(agent.log().find("fd00:10:244:1::/64") != std::string::npos);
  auto a = agent.send(addA);
  REQUIRE(a);
  INFO(a->message);
  REQUIRE(a->verdict == PodVerdict::kEnrolled);
  REQUIRE(agent.send(dual(podAdd("plain", "b", w.b.path(), "10.244.1.11"), "fd00:10:244:1::b"))
              ->verdict == PodVerdict::kNotAmbient);
  auto set6 = must(w.node.exec("nft list set bridge ambient_bridge enrolled_pods6"));
  CHECK(set6.find("fd00:10:244:1::a") != std::string::npos);
  CHECK(set6.find("fd00:10:244:1::b") == std::string::npos);

  const std::string ctl = kAmbientctl + " --state-dir " + agent.stateDir();
  auto verify = sh(w.node.exec(ctl + " verify"));
  INFO(verify.out);
  CHECK(verify.rc == 0);
  w.waitIpv6Settled();
  w.startServers();
  w.startServers6();
  w.startRelay6();
  CHECK_THAT(w.connect(w.a, "[fd00:10:244:1::b]:8081"),
             Catch::StartsWith(captured6(15001, "fd00:10:244:1::b", "fd00:10:244:1::a")));
  CHECK_THAT(w.connect(w.b, "[fd00:10:244:1::a]:8081"),
             Catch::StartsWith(captured6(15006, "fd00:10:244:1::a", "fd00:10:244:1::b")));
  CHECK_THAT(w.connect(w.a, "10.244.1.11:8080"),
             Catch::StartsWith("zt:15001 10.244.1.10 10.244.1.11:8080 8080 "));
  auto trace = sh(w.node.exec(ctl + " trace fd00:10:244:1::a [fd00:10:244:1::b]:8081"));
  INFO(trace.out);
  CHECK(trace.rc == 0);
  CHECK(trace.out.find("node bridge cni0 nft prerouting rule #10: ether type ip6") !=
        std::string::npos);
  CHECK(trace.out.find("ztunnel accepts on [::1]:15001") != std::string::npos);
  CHECK(agent.http("/readyz").find("fail closed") == std::string::npos);
}

TEST_CASE("bridge mode through the agent: ztunnel's MAC twin refused and a moved pod released",
          "[kernel][agent][bridge][bad-input]") {
  BridgeWorld w(false);
  must(w.node.ip("link add br1 type bridge"));
  must(w.node.ip("addr add 10.244.2.1/24 dev br1"));
  must(w.node.ip("link set br1 up"));
  AgentHarness agent(w.node);
  agent.reconcileInterval = 60;  // passes only when asked: the moves below are looked at first
  agent.start();
  addWorldPods(agent, w);
  // A pod whose MAC is ztunnel's is refused at ADD (code 7); the guard rule the agent planned
  // with ztunnel's MAC, read from ztunnel's namespace, keeps ztunnel's port.
  TestNetns twin("twin");
  bridgedPod(w.node, twin, "vethtwin", "10.244.1.20");
  must(twin.ip("link set eth0 address " + std::string(kZtunnelMac)));
  auto refused = agent.send(podAdd("foo", "twin", twin.path(), "10.244.1.20"));
  REQUIRE(refused);
  CHECK(refused->cniCode == kCniErrInvalidConfig);
  CHECK_THAT(refused->message, Catch::Contains("ambient pod foo/twin: its MAC address " +
                                               std::string(kZtunnelMac) + " is also ztunnel's"));
  CHECK(must(w.node.exec("nft list chain bridge ambient_bridge prerouting"))
            .find("iifname != \"vethzt\" ether saddr " + std::string(kZtunnelMac)) !=
        std::string::npos);
  w.startServers();
  w.startRelay();
  const std::string ctl = kAmbientctl + " --state-dir " + agent.stateDir();
  CHECK(sh(w.node.exec(ctl + " verify")).rc == 0);
  const std::string bridgeSet = "nft list set bridge ambient_bridge enrolled_pods";
  auto inSet = [&](const std::string& ip) {
    return must(w.node.exec(bridgeSet)).find(ip) != std::string::npos;
  };

  // a's veth moved to bridge br1 under the running agent: a is no longer capturable (traffic
  // on br1 is bridged there), so the next pass releases it with a log line and a verify
  // finding; c stays enrolled and captured.
  must(w.node.ip("link set vetha master br1"));
  agent.reconcileNow();
  CHECK(within10s([&] { return !inSet("10.244.1.10"); }));
  CHECK(inSet("10.244.1.12"));
  CHECK(within10s([&] { return agent.log().find("released foo/a") != std::string::npos; }));
  CHECK(agent.log().find("vetha is a port of bridge br1, but ztunnel's veth is a port of bridge "
                         "cni0") != std::string::npos);
  CHECK(within10s([&] {
    auto v = sh(w.node.exec(ctl + " verify"));
    return v.rc == 1 && v.out.find(
                            "ambient pod not enrolled: its node-side veth vetha is a port "
                            "of bridge br1") != std::string::npos;
  }));
  CHECK_THAT(w.connect(w.c, "10.244.1.11:8080"),
             Catch::StartsWith(captured(15001, "10.244.1.11", "10.244.1.12")));

  // Moved back onto cni0: the next pass enrolls it again and verify is clean.
  must(w.node.ip("link set vetha master cni0"));
  agent.reconcileNow();
  CHECK(within10s([&] { return inSet("10.244.1.10"); }));
  CHECK(within10s([&] { return sh(w.node.exec(ctl + " verify")).rc == 0; }));
  CHECK_THAT(w.connect(w.a, "10.244.1.11:8080"),
             Catch::StartsWith(captured(15001, "10.244.1.11", "10.244.1.10")));

  // ztunnel's pod gone (its veth deleted): verify cannot plan without ztunnel's facts and says
  // why, with exit code 2 ("could not check").
  must(w.node.ip("link del vethzt"));
  auto gone = sh(w.node.exec(ctl + " verify 2>&1"));
  CHECK(gone.rc == 2);
  CHECK_THAT(gone.out, Catch::Contains("the registered ztunnel pod is not running on this node"));
}

TEST_CASE("bridge mode with hairpin ports: captures unchanged, a plain pod reaches itself by VIP",
          "[kernel][bridge][bad-input]") {
  BridgeWorld w(true);
  w.useBridgeMode();
  w.apply();
  // A kube-proxy VIP whose backend is plain pod b: b's call to the VIP comes back to b,
  // masqueraded as kube-proxy does for a backend calling itself. With br_netfilter the DNAT is
  // done on the bridge path and the frame leaves by the port it came in on, which only a
  // hairpin port allows (flannel's and kubenet's default).
  must(w.node.exec(
      "nft 'add table ip kube_proxy; add chain ip kube_proxy prerouting { type nat hook "
      "prerouting priority dstnat; }; add rule ip kube_proxy prerouting ip daddr 10.96.0.20 tcp "
      "dport 80 dnat to 10.244.1.11:8080; add chain ip kube_proxy postrouting { type nat hook "
      "postrouting priority srcnat; }; add rule ip kube_proxy postrouting ip saddr 10.244.1.11 "
      "ip daddr 10.244.1.11 masquerade; add rule ip kube_proxy prerouting ip daddr 10.96.0.21 "
      "tcp dport 80 dnat to 10.244.1.10:8080; add rule ip kube_proxy postrouting ip saddr "
      "10.244.1.10 ip daddr 10.244.1.10 masquerade'"));
  w.startServers();
  w.startRelay();
  // Negative control: without hairpin b cannot reach itself through the VIP.
  CHECK(w.connect(w.b, "10.96.0.20:80").empty());

  for (const char* port : {"vethzt", "vetha", "vethb", "vethc"}) {
    must(w.node.exec(std::string("bridge link set dev ") + port + " hairpin on"));
  }
  CHECK_THAT(w.connect(w.b, "10.96.0.20:80"),
             Catch::StartsWith("8080 10.244.1.11:8080 10.244.1.1:"));
  // The captured paths are unchanged: hairpin only lets a frame leave by its own port, and
  // the frames we hand up never reach the bridge's forwarding.
  checkSameBridgeCaptured(w);
  // Ambient pod a calling itself through its VIP: captured at 15001 with the VIP intact like
  // any call; ztunnel's onward connection is DNATed back to a and masqueraded by kube-proxy's
  // rule (a would drop a packet from its own address).
  CHECK_THAT(w.connect(w.a, "10.96.0.21:80"),
             Catch::StartsWith("zt:15001 10.96.0.21:80 8080 10.244.1.10:8080 10.244.1.1:"));
}

TEST_CASE("bridge mode: a pod with ztunnel's MAC cannot draw ztunnel's traffic to its port",
          "[kernel][bridge][bad-input]") {
  BridgeWorld w(false);
  // An impostor on cni0 whose MAC is ztunnel's (a runtime that reuses MACs, a copied pod spec
  // with a fixed MAC): each frame it sends teaches the bridge that ztunnel's MAC is behind its
  // port, and the node's packets to ztunnel follow until ztunnel sends again.
  TestNetns twin("twin");
  bridgedPod(w.node, twin, "vethtwin", "10.244.1.20");
  must(twin.ip("link set eth0 address " + std::string(kZtunnelMac)));
  w.startServers();
  w.startRelay();
  // Frames from the impostor all along while `a` connects: UDP every 20 ms to an address whose
  // MAC nobody has, so the bridge floods them and nobody answers (an answer would make ztunnel
  // send and take its entry back).
  must(twin.ip("neigh replace 10.244.1.250 lladdr 02:00:00:00:00:fa dev eth0 nud permanent"));
  // ztunnel sends nothing unasked here (no IPv6 router solicitations or MLD reports), so that
  // the negative control does not depend on when one of those happens to retake the entry.
  must(w.zt.exec("sysctl -qw net.ipv6.conf.eth0.disable_ipv6=1"));
  auto twinKeepsSending = [&] {
    return std::make_unique<Background>(twin.exec("sh -c 'while :; do " + kNettool +
                                                  " udp-send 10.244.1.250:9; sleep 0.02; done'"));
  };

  // Negative control: the bridge-mode plan without the guard (ztunnel's MAC unknown). The
  // impostor's frames move ztunnel's forwarding entry to its port, where the node's packets to
  // ztunnel then go. (Whether a given connection then fails depends on when ztunnel next sends
  // a frame of its own and takes the entry back: on the host a's next connection fails, in the
  // geneve VM it once got through, so the entry itself is what this checks.)
  w.useBridgeMode();
  w.in.ztunnel.bridge->ztunnelMac.reset();
  w.apply();
  CHECK_THAT(w.connect(w.a, "10.244.1.11:8080"),
             Catch::StartsWith(captured(15001, "10.244.1.11", "10.244.1.10")));
  {
    auto noise = twinKeepsSending();
    CHECK(within10s([&] {
      return sh(w.node.exec("bridge fdb show br cni0"))
                 .out.find(std::string(kZtunnelMac) + " dev vethtwin") != std::string::npos;
    }));
  }

  // With the guard: the impostor's frames are dropped before the bridge learns from them, so
  // ztunnel keeps its traffic; the guard's counter shows them.
  w.useBridgeMode();
  w.apply();
  must(w.zt.exec(kNettool + " udp-send 10.244.1.1:9"));  // ztunnel's port learnt back
  {
    auto noise = twinKeepsSending();
    std::this_thread::sleep_for(std::chrono::milliseconds(500));  // as long as the wait above
    CHECK(sh(w.node.exec("bridge fdb show br cni0"))
              .out.find(std::string(kZtunnelMac) + " dev vethzt") != std::string::npos);
    CHECK_THAT(w.connect(w.a, "10.244.1.11:8080"),
               Catch::StartsWith(captured(15001, "10.244.1.11", "10.244.1.10")));
    CHECK_THAT(w.connect(w.b, "10.244.1.12:8080"),
               Catch::StartsWith(captured(15006, "10.244.1.12", "10.244.1.11")));
  }
  auto table = must(w.node.exec("nft list table bridge ambient_bridge"));
  INFO(table);
  CHECK(table.find("iifname != \"vethzt\" ether saddr 0a:58:0a:f4:01:03 counter packets 0") ==
        std::string::npos);
}
