// Bridge mode (ztunnel's veth a port of a Linux bridge): the node plan the packet proof
// tests/proofs/bridge_capture.sh showed to capture every path, and its bad input. Pure.
#include <catch2/catch.hpp>

#include "common/core/constants.h"
#include "common/core/diff.h"
#include "common/core/render.h"
#include "kernel_model.h"
#include "plan_fixtures.h"
#include "plan_refusal.h"

using namespace ambient;

namespace {

std::vector<std::string> ruleTexts(const NftChainSpec& chain) {
  std::vector<std::string> out;
  for (const auto& r : chain.rules) out.push_back(r.text);
  return out;
}

const NftChainSpec& chainNamed(const NftTableSpec& t, const std::string& name) {
  for (const auto& c : t.chains)
    if (c.name == name) return c;
  FAIL("no chain " << name);
  return t.chains.front();
}

}  // namespace

TEST_CASE("bridge mode: a family-bridge table marks ztunnel's frames and hands TCP up",
          "[plan][bridge]") {
  auto plan = computeNodePlan(testing::onBridge(testing::nodeWithPods(2)));
  REQUIRE(plan);
  REQUIRE(plan->bridgeNft);
  const auto& t = *plan->bridgeNft;
  CHECK(t.family == NftFamily::kBridge);
  CHECK(t.name == "ambient_bridge");
  REQUIRE(t.sets.size() == 1);
  CHECK(t.sets[0].elements == std::vector<IpAddress>{"10.244.1.10", "10.244.1.11"});
  REQUIRE(t.chains.size() == 1);
  CHECK(t.chains[0].hook == "prerouting");
  CHECK(t.chains[0].priority == -300);
  const std::string up = "ether daddr set 02:42:0a:f4:01:01 meta pkttype set host counter accept";
  const std::string fromZtunnel = "iifname \"vethzt0\" ether type ip ";
  const std::string markSpoofed =
      "ip saddr != 10.244.1.3 meta mark set meta mark & 0xfffffdef | 0x210 counter";
  const std::string markOwn =
      "ip saddr 10.244.1.3 meta mark set meta mark & 0xfffffddf | 0x220 counter";
  CHECK(ruleTexts(t.chains[0]) ==
        std::vector<std::string>{
            "iifname != \"vethzt0\" ether saddr 0a:58:0a:f4:01:03 counter drop",
            fromZtunnel + markSpoofed,
            fromZtunnel + markOwn,
            fromZtunnel + "meta l4proto tcp " + up,
            "ether type ip meta l4proto tcp ip saddr @enrolled_pods " + up,
            "ether type ip meta l4proto tcp ip saddr 10.244.1.0/24 ip daddr @enrolled_pods " + up,
        });
  // ztunnel's MAC not known: no guard rule, the rest unchanged.
  PlanInput unknownMac = testing::onBridge(testing::nodeWithPods(2));
  unknownMac.ztunnel.bridge->ztunnelMac.reset();
  auto without = computeNodePlan(unknownMac);
  REQUIRE(without);
  CHECK(without->bridgeNft->chains[0].rules.size() == 5);
  CHECK(without->bridgeNft->chains[0].rules[0].text == fromZtunnel + markSpoofed);
}

TEST_CASE("bridge mode: the IP-layer chain reads the bridge's marks instead of the veth",
          "[plan][bridge]") {
  auto routed = computeNodePlan(testing::nodeWithPods(1));
  auto bridged = computeNodePlan(testing::onBridge(testing::nodeWithPods(1)));
  REQUIRE(routed);
  REQUIRE(bridged);
  CHECK_FALSE(routed->bridgeNft);
  auto r = ruleTexts(chainNamed(*routed->nft, "prerouting"));
  auto b = ruleTexts(chainNamed(*bridged->nft, "prerouting"));
  REQUIRE(r.size() == 9);
  REQUIRE(b.size() == 9);
  // Steps 1-3 and 7-8 are the same; 4-6 differ.
  for (int i : {0, 1, 2, 3, 7, 8}) CHECK(r[i] == b[i]);
  CHECK(b[4] ==
        "meta mark & 0x200 != 0x200 ct mark & 0x210 == 0x210 meta mark set meta mark & 0xffffffbf "
        "| 0x40 counter return");
  CHECK(b[5] == "meta mark & 0x210 == 0x210 counter return");
  CHECK(b[6] == "meta mark & 0x220 == 0x220 counter return");
  for (const auto& text : b) CHECK(text.find("vethzt0") == std::string::npos);
}

TEST_CASE("bridge mode: routes and rp_filter name the bridge, not ztunnel's port",
          "[plan][bridge]") {
  auto plan = computeNodePlan(testing::onBridge(testing::nodeWithPods(1)));
  REQUIRE(plan);
  int viaBridge = 0;
  for (const auto& r : plan->routes) {
    CHECK(r.dev != "vethzt0");
    if (r.dev == "cni0") ++viaBridge;
  }
  CHECK(viaBridge == 4);  // ztunnel's /32 in tables 100-102 and table 102's default
  auto has = [&](const std::string& key, const std::string& value) {
    return std::count(plan->sysctls.begin(), plan->sysctls.end(), SysctlSpec{key, value}) == 1;
  };
  CHECK(has("net/ipv4/conf/cni0/rp_filter", "0"));
  CHECK(has("net/ipv4/conf/cni0/accept_local", "1"));
  CHECK_FALSE(has("net/ipv4/conf/vethzt0/rp_filter", "0"));
  // The pod's own entry stays: one shape of pod change in both modes.
  CHECK(has("net/ipv4/conf/vethpod0/rp_filter", "0"));
  // The ztunnel pod's namespace does not change.
  CHECK(*computeZtunnelPlan(testing::onBridge(testing::nodeWithPods(1))) ==
        *computeZtunnelPlan(testing::nodeWithPods(1)));
}

TEST_CASE("bridge mode: rendered with its family, removed by uninstall", "[plan][bridge]") {
  auto plan = computeNodePlan(testing::onBridge(testing::nodeWithPods(1)));
  REQUIRE(plan);
  auto text = renderPlan(*plan);
  CHECK(text.find("add table bridge ambient_bridge\n") != std::string::npos);
  CHECK(text.find("add chain bridge ambient_bridge prerouting { type filter hook prerouting "
                  "priority -300; policy accept; }") != std::string::npos);
  CHECK(text.find("add table ip ambient_redirect\n") != std::string::npos);

  ObservedState state;
  state = testing::model(state, diff(*plan, state));
  REQUIRE(state.owned.bridgeNft);
  CHECK(diff(*plan, state).empty());
  auto undo = diff(emptyPlan(NetnsRole::kNode), state);
  std::vector<std::string> tables;
  for (const auto& c : undo.changes)
    if (auto* t = std::get_if<NftTableSpec>(&c.object)) tables.push_back(describe(*t));
  CHECK(tables == std::vector<std::string>{"nft table ip ambient_redirect",
                                           "nft table bridge ambient_bridge"});
  state = testing::model(state, undo);
  CHECK_FALSE(state.owned.bridgeNft);
  CHECK_FALSE(state.owned.nft);
}

TEST_CASE("bridge mode: moving ztunnel between a routed veth and a bridge converges",
          "[plan][bridge]") {
  auto routed = *computeNodePlan(testing::nodeWithPods(3));
  auto bridged = *computeNodePlan(testing::onBridge(testing::nodeWithPods(3)));
  ObservedState state;
  state = testing::model(state, diff(routed, state));
  auto toBridge = diff(bridged, state);
  state = testing::model(state, toBridge);
  CHECK(diff(bridged, state).empty());
  CHECK(state.owned.bridgeNft);
  state = testing::model(state, diff(routed, state));
  CHECK(diff(routed, state).empty());
  CHECK_FALSE(state.owned.bridgeNft);
  // The bridge's own sysctls went back to their originals.
  for (const auto& s : state.owned.sysctls) CHECK(s.key.find("/cni0/") == std::string::npos);
}

TEST_CASE("bridge mode: bad bridge facts are refused naming the bridge", "[plan][bridge]") {
  auto in = testing::onBridge(testing::nodeWithPods(1));
  SECTION("a subnet that is no pod network") {
    in.ztunnel.bridge->subnet = *Ipv4Prefix::parse("10.244.1.0/31");
    auto r = computeNodePlan(in);
    REQUIRE_FALSE(r);
    CHECK(r.error().code == ErrorCode::kInvalidInput);
    CHECK_THAT(r.error().context, Catch::Matchers::Contains("bridge cni0 subnet 10.244.1.0/31"));
  }
  SECTION("ztunnel outside its bridge's subnet") {
    in.ztunnel.bridge->subnet = *Ipv4Prefix::parse("10.244.2.0/24");
    auto r = computeNodePlan(in);
    REQUIRE_FALSE(r);
    CHECK_THAT(r.error().context,
               Catch::Matchers::Contains("ztunnel pod IP 10.244.1.3 is outside its bridge cni0"));
  }
  SECTION("no bridge name") {
    in.ztunnel.bridge->bridge = IfName{};
    REQUIRE_FALSE(computeNodePlan(in));
  }
}

// Issue 20: a bridge with an IPv6 network redirects IPv6 as it does IPv4, with the rules the
// packet proof tests/proofs/bridge_capture6.sh loaded by hand.
TEST_CASE("bridge mode with IPv6: the bridge hands IPv6 TCP up as it does IPv4",
          "[plan][bridge][ipv6]") {
  const auto in = testing::onDualStackBridge(testing::nodeWithPods(2));
  CHECK(nodeModeOf(in) == NodeMode{.bridge = true, .ipv6Redirected = true});
  CHECK_FALSE(ipv6FailClosedReason(in));
  auto plan = computeNodePlan(in);
  INFO((plan ? "" : plan.error().message()));
  REQUIRE(plan);
  REQUIRE(plan->bridgeNft);
  const auto& t = *plan->bridgeNft;
  REQUIRE(t.sets.size() == 2);
  CHECK(t.sets[1].name == kNftPodSet6);
  CHECK(t.sets[1].elements == std::vector<IpAddress>{"fd00:10:244:1::a", "fd00:10:244:1::b"});
  const std::string up = "ether daddr set 02:42:0a:f4:01:01 meta pkttype set host counter accept";
  const std::string fromZtunnel6 = "iifname \"vethzt0\" ether type ip6 ";
  auto rules = ruleTexts(t.chains.at(0));
  REQUIRE(rules.size() == 11);
  // The guard and the five IPv4 rules as on an IPv4 bridge, then their ip6 twins; no drop.
  auto v4 = computeNodePlan(testing::onBridge(testing::nodeWithPods(2)));
  CHECK(std::vector<std::string>(rules.begin(), rules.begin() + 6) ==
        ruleTexts(v4->bridgeNft->chains.at(0)));
  CHECK(std::vector<std::string>(rules.begin() + 6, rules.end()) ==
        std::vector<std::string>{
            fromZtunnel6 +
                "ip6 saddr != fd00:10:244:1::3 meta mark set meta mark & 0xfffffdef | 0x210 "
                "counter",
            fromZtunnel6 +
                "ip6 saddr fd00:10:244:1::3 meta mark set meta mark & 0xfffffddf | 0x220 counter",
            fromZtunnel6 + "meta l4proto tcp " + up,
            "ether type ip6 meta l4proto tcp ip6 saddr @enrolled_pods6 " + up,
            "ether type ip6 meta l4proto tcp ip6 saddr fd00:10:244:1::/64 ip6 daddr "
            "@enrolled_pods6 " +
                up,
        });
  // The ip6 table reads the bridge's marks, as the ip one does.
  REQUIRE(plan->nft6);
  auto r4 = ruleTexts(chainNamed(*plan->nft, "prerouting"));
  auto r6 = ruleTexts(chainNamed(*plan->nft6, "prerouting"));
  REQUIRE(r6.size() == r4.size());
  for (int i : {4, 5, 6}) CHECK(r6[i] == r4[i]);
  // Routes to ztunnel's IPv6 name the bridge; no IPv6 sysctl.
  int viaBridge6 = 0;
  for (const auto& r : plan->routes) {
    CHECK(r.dev != "vethzt0");
    if (r.dev == "cni0" && r.dst.family() == IpAddress::Family::kV6) ++viaBridge6;
  }
  CHECK(viaBridge6 == 4);  // ztunnel's /128 in tables 100-102 and table 102's default
  for (const auto& s : plan->sysctls) CHECK(s.key.find("ipv6") == std::string::npos);
  // ztunnel's namespace is a dual-stack routed node's.
  CHECK(*computeZtunnelPlan(in) ==
        *computeZtunnelPlan(testing::dualStack(testing::nodeWithPods(2))));
  // A pod's change adds its IPv6 to the bridge's set as well: no full pass.
  CHECK_FALSE(podChangeNeedsFullPass(in.pods[0], nodeModeOf(in)));
  ObservedState state = testing::model(ObservedState{}, diff(*plan, ObservedState{}));
  CHECK(diff(*plan, state).empty());
}

TEST_CASE("bridge mode with IPv6: bad IPv6 bridge facts are refused", "[plan][bridge][ipv6]") {
  auto in = testing::onDualStackBridge(testing::nodeWithPods(1));
  const auto refused = testing::checkNodePlanRefused;
  auto outside = in;
  outside.ztunnel.bridge->subnet6 = *IpPrefix::parse("fd00:10:244:2::/64");
  refused(outside,
          "ztunnel pod IPv6 address fd00:10:244:1::3 is outside its bridge cni0's IPv6 subnet "
          "fd00:10:244:2::/64");
  auto host = in;
  host.ztunnel.bridge->subnet6 = *IpPrefix::parse("fd00:10:244:1::3/128");
  refused(host, "bridge cni0 IPv6 subnet fd00:10:244:1::3/128 is no pod network");
  auto wrongFamily = in;
  wrongFamily.ztunnel.bridge->subnet6 = *IpPrefix::parse("10.244.1.0/24");
  refused(wrongFamily, "bridge cni0 IPv6 subnet 10.244.1.0/24 is no pod network");
  // A bridge with IPv6 but a ztunnel without it: IPv6 is not redirected, the pods' IPv6 fails
  // closed (dropped on the bridge).
  auto noZtunnel6 = in;
  noZtunnel6.ztunnel.podIp6.reset();
  auto plan = computeNodePlan(noZtunnel6);
  REQUIRE(plan);
  CHECK(ipv6FailClosedReason(noZtunnel6) == "the ztunnel pod has no IPv6 address");
  CHECK(plan->bridgeNft->chains.at(0).rules.at(1).text ==
        "ether type ip6 meta l4proto tcp ip6 saddr @enrolled_pods6 counter drop");
}
