// computePlan: the reference values of docs/DESIGN.md sections 3-4, and bad input. Pure.
#include <catch2/catch.hpp>

#include "common/core/constants.h"
#include "common/core/nft_rules.h"
#include "common/core/render.h"
#include "plan_fixtures.h"
#include "plan_refusal.h"

using namespace ambient;

TEST_CASE("node plan carries the reference values", "[plan]") {
  auto plan = computeNodePlan(testing::nodeWithPods(2));
  REQUIRE(plan);
  REQUIRE(plan->tunnels.size() == 2);
  CHECK(plan->tunnels[0].name == "istioin");
  CHECK(plan->tunnels[0].vni == 1000);
  CHECK(plan->tunnels[1].name == "istioout");
  CHECK(plan->tunnels[1].vni == 1001);
  CHECK(plan->tunnels[0].remote.str() == "10.244.1.3");
  CHECK(plan->tunnels[0].mtu == 1450);
  CHECK(plan->rules.size() == 5);
  CHECK(plan->rules[0].priority == 99);
  CHECK(plan->rules[0].iif == "lo");
  CHECK(plan->rules[4].table == 100);
  // One inbound route per pod plus the ztunnel /32 in each of the three tables.
  CHECK(plan->routes.size() == 2 + 3 + 2);
  REQUIRE(plan->nft);
  REQUIRE(plan->nft->sets.size() == 1);
  CHECK(plan->nft->sets[0].elements.size() == 2);
}

TEST_CASE("an explicit MTU wins over the lower device's", "[plan]") {
  auto in = testing::nodeWithPods(0);
  in.tunnelMtu = 1400;
  CHECK(computeNodePlan(in)->tunnels[0].mtu == 1400);
  in.tunnelMtu = 0;
  in.ztunnel.lowerMtu = 9000;
  CHECK(computeZtunnelPlan(in)->tunnels[1].mtu == 8950);
}

TEST_CASE("ztunnel plan carries the reference values", "[plan]") {
  auto plan = computeZtunnelPlan(testing::nodeWithPods(0));
  REQUIRE(plan);
  CHECK(plan->tunnels[0].name == "pistioin");
  CHECK(plan->tunnels[0].remote.str() == "10.244.1.1");
  CHECK(plan->rules[0].priority == 20000);
  CHECK(plan->rules[0].fwmark == 0x400);
  CHECK(plan->rules[1].fwmark == 0x4d3);
  CHECK(plan->routes[0].type == RouteType::kLocal);
}

TEST_CASE("bad input names the object", "[plan]") {
  auto in = testing::nodeWithPods(1);
  // A name the kernel would refuse cannot reach the plan (IfName is refused where it is read:
  // ip_address_test.cpp); a name not known yet (empty) is refused naming the pod.
  SECTION("pod veth not known") {
    in.pods[0].hostVeth = IfName{};
    auto r = computeNodePlan(in);
    REQUIRE_FALSE(r);
    CHECK(r.error().code == ErrorCode::kInvalidInput);
    CHECK(r.error().context.find("host veth of pod 10.244.1.10 is unset") != std::string::npos);
  }
  SECTION("ztunnel veth missing") {
    in.ztunnel.hostVeth = IfName{};
    REQUIRE_FALSE(computeZtunnelPlan(in));
  }
  SECTION("duplicate pod IP") {
    in.pods.push_back(in.pods[0]);
    auto r = computeNodePlan(in);
    REQUIRE_FALSE(r);
    CHECK(r.error().context.find("enrolled twice") != std::string::npos);
  }
  SECTION("ztunnel enrolled as a pod") {
    in.pods[0].ip = in.ztunnel.podIp;
    REQUIRE_FALSE(computeNodePlan(in));
  }
  SECTION("MTU out of range") {
    in.ztunnel.lowerMtu = 100;
    REQUIRE_FALSE(computeNodePlan(in));
  }
  SECTION("port zero") {
    in.tunnelPort = 0;
    REQUIRE_FALSE(computeNodePlan(in));
  }
}

TEST_CASE("tunnel modes parse", "[plan]") {
  CHECK(*parseTunnelMode("auto") == TunnelMode::kAuto);
  CHECK(*parseTunnelMode("geneve") == TunnelMode::kGeneve);
  CHECK(*parseTunnelMode("vxlan") == TunnelMode::kVxlan);
  CHECK_FALSE(parseTunnelMode("gre"));
}

TEST_CASE("a dual-stack plan refuses IPv6 addresses it cannot redirect", "[compute][bad-input]") {
  auto check = [](const PlanInput& in, const std::string& words) {
    auto plan = computeNodePlan(in);
    INFO(words);
    REQUIRE_FALSE(plan);
    INFO(plan.error().message());
    CHECK(plan.error().message().find(words) != std::string::npos);
    CHECK_FALSE(computeZtunnelPlan(in));
  };
  auto base = testing::dualStack(testing::nodeWithPods(2));
  REQUIRE(computeNodePlan(base));
  auto in = base;
  in.pods[0].ip6 = IpAddress("fe80::1");
  check(in, "fe80::1 is link-local");
  in = base;
  in.pods[0].ip6 = IpAddress("::ffff:10.244.1.10");
  check(in, "::ffff:10.244.1.10 is IPv4-mapped");
  in = base;
  in.pods[1].ip6 = IpAddress("fd00:126::2");
  check(in, "fd00:126::2 is inside a tunnel network");
  in = base;
  in.pods[1].ip6 = IpAddress("fd00:127::3");
  check(in, "fd00:127::3 is inside a tunnel network");
  in = base;
  in.pods[1].ip6 = in.pods[0].ip6;
  check(in, "is enrolled twice");
  in = base;
  in.pods[1].ip6 = in.ztunnel.podIp6;
  check(in, "is the ztunnel pod's");
  in = base;
  in.pods[0].ip6 = IpAddress("10.244.1.99");
  check(in, "10.244.1.99 is not IPv6");
  in = base;
  in.ztunnel.podIp6 = IpAddress("ff02::1");
  check(in, "ztunnel pod IPv6 address ff02::1 is multicast");
  // Bad addresses are refused whether IPv6 is redirected or fail closed.
  in = base;
  in.ztunnel.podIp6.reset();
  in.pods[0].ip6 = IpAddress("fe80::1");
  check(in, "fe80::1 is link-local");
  // Just outside the tunnels' /126s is a pod address like any other.
  in = base;
  in.pods[1].ip6 = IpAddress("fd00:126::4");
  CHECK(computeNodePlan(in));
}

// Issue 20: where IPv6 cannot be redirected, enrolled pods' IPv6 TCP is dropped, both ways, and
// IPv4 is redirected as usual; nothing of IPv6 routing is planned.
TEST_CASE("IPv6 that cannot be redirected is fail closed, IPv4 redirected", "[compute]") {
  const auto base = testing::dualStack(testing::nodeWithPods(2));
  REQUIRE_FALSE(ipv6FailClosedReason(base));
  CHECK(nodeModeOf(base) == NodeMode{.bridge = false, .ipv6Redirected = true});
  auto noZtunnel6 = base;
  noZtunnel6.ztunnel.podIp6.reset();
  auto kernel = base;
  kernel.ipv6Unavailable = "this kernel cannot redirect IPv6 (test)";
  auto bridged = testing::onBridge(base);
  struct Case {
    PlanInput in;
    std::string why;
  };
  for (const auto& [in, why] : {Case{noZtunnel6, "the ztunnel pod has no IPv6 address"},
                                Case{kernel, "this kernel cannot redirect IPv6 (test)"},
                                Case{bridged,
                                     "ztunnel's veth is a port of bridge cni0, which has no "
                                     "IPv6 address: its pods have no IPv6 gateway in the node "
                                     "to hand their IPv6 up to"}}) {
    INFO(why);
    CHECK(ipv6FailClosedReason(in) == why);
    CHECK_FALSE(nodeModeOf(in).ipv6Redirected);
    auto node = computeNodePlan(in);
    REQUIRE(node);
    // IPv4 as on an IPv4-only node.
    auto v4only = in;
    for (auto& pod : v4only.pods) pod.ip6.reset();
    v4only.ztunnel.podIp6.reset();
    auto reference = computeNodePlan(v4only);
    REQUIRE(reference);
    CHECK(node->nft == reference->nft);
    if (in.ztunnel.bridge) {
      // The bridge table as well, plus the drop of the pods' IPv6 TCP at layer 2.
      REQUIRE(node->bridgeNft);
      CHECK(*node->bridgeNft == nodeBridgeTable(in.ztunnel, *in.ztunnel.bridge,
                                                reference->bridgeNft->sets[0].elements,
                                                {*in.pods[0].ip6, *in.pods[1].ip6}));
      CHECK(node->bridgeNft->sets.at(1).name == kNftPodSet6);
      CHECK(node->bridgeNft->sets.at(1).elements ==
            std::vector<IpAddress>{*in.pods[0].ip6, *in.pods[1].ip6});
    } else {
      CHECK(node->bridgeNft == reference->bridgeNft);
    }
    CHECK(node->rules == reference->rules);
    CHECK(node->routes == reference->routes);
    CHECK(node->addresses == reference->addresses);
    // The ip6 table drops TCP from and to the pods' IPv6 addresses.
    REQUIRE(node->nft6);
    CHECK(node->nft6->family == NftFamily::kIp6);
    CHECK(node->nft6->sets.at(0).elements ==
          std::vector<IpAddress>{*in.pods[0].ip6, *in.pods[1].ip6});
    CHECK(*node->nft6 ==
          nodeFailClosedTable(IpAddress::Family::kV6, {*in.pods[1].ip6, *in.pods[0].ip6}));
    // Nothing of IPv6 in ztunnel's namespace either.
    auto zt = computeZtunnelPlan(in);
    REQUIRE(zt);
    CHECK_FALSE(zt->nft6);
    CHECK(std::none_of(zt->rules.begin(), zt->rules.end(),
                       [](auto& r) { return r.family == IpAddress::Family::kV6; }));
  }
  // No enrolled pod with IPv6: nothing to fail closed, no ip6 table at all.
  auto none = kernel;
  for (auto& pod : none.pods) pod.ip6.reset();
  CHECK_FALSE(ipv6FailClosedReason(none));
  CHECK_FALSE(computeNodePlan(none)->nft6);
  CHECK_FALSE(computeZtunnelPlan(none)->nft6);
}

TEST_CASE("a pod without IPv6 on a dual-stack node has IPv4 objects only", "[compute]") {
  auto in = testing::dualStack(testing::nodeWithPods(2));
  in.pods[1].ip6.reset();
  auto plan = computeNodePlan(in);
  REQUIRE(plan);
  REQUIRE(plan->nft6);
  CHECK(plan->nft6->sets[0].elements == std::vector<IpAddress>{*in.pods[0].ip6});
  CHECK(plan->nft->sets[0].elements.size() == 2);
  size_t v6Routes = std::count_if(plan->routes.begin(), plan->routes.end(), [](auto& r) {
    return r.table == kTableInbound && r.dst.family() == IpAddress::Family::kV6;
  });
  CHECK(v6Routes == 2);  // pod 0 and ztunnel's own
}

// Issue 20, IPv6-only nodes.
TEST_CASE("an IPv6-only plan rides an IPv6 underlay and has no IPv4 redirection", "[compute]") {
  auto in = testing::ipv6Only(testing::nodeWithPods(2));
  auto node = computeNodePlan(in);
  auto zt = computeZtunnelPlan(in);
  INFO((node ? "" : node.error().message()));
  REQUIRE(node);
  REQUIRE(zt);
  for (const auto& t : node->tunnels) {
    CHECK(t.remote == IpAddress("fd00:10:244:1::3"));
    CHECK(t.mtu == 1500 - kTunnelOverhead6);
  }
  for (const auto& t : zt->tunnels) CHECK(t.remote == IpAddress("fd00:10:244:1::1"));
  CHECK_FALSE(node->nft);
  CHECK_FALSE(zt->nft);
  CHECK(node->sysctls.empty());
  CHECK(zt->sysctls.empty());
  auto v4 = [](const auto& xs) {
    return std::count_if(xs.begin(), xs.end(),
                         [](auto& x) { return x.family == IpAddress::Family::kV4; });
  };
  CHECK(v4(node->rules) == 0);
  CHECK(v4(zt->rules) == 0);
  for (const auto& r : node->routes) CHECK(r.dst.family() == IpAddress::Family::kV6);
  REQUIRE(node->nft6);
  CHECK(node->nft6->sets[0].elements == std::vector<IpAddress>{*in.pods[0].ip6, *in.pods[1].ip6});
  CHECK(zt->nft6);
  CHECK_FALSE(ipv4FailClosedReason(in));
  CHECK_FALSE(ipv6FailClosedReason(in));
  CHECK(nodeModeOf(in) ==
        NodeMode{.bridge = false, .ipv4Redirected = false, .ipv6Redirected = true});
}

TEST_CASE("pods with IPv4 on an IPv6-only ztunnel have their IPv4 TCP dropped", "[compute]") {
  auto in = testing::ipv6Only(testing::nodeWithPods(2));
  in.pods[0].ip = *Ipv4::parse("10.244.1.10");
  auto node = computeNodePlan(in);
  REQUIRE(node);
  CHECK(ipv4FailClosedReason(in) == "the ztunnel pod has no IPv4 address");
  REQUIRE(node->nft);
  CHECK(*node->nft == nodeFailClosedTable(IpAddress::Family::kV4, {IpAddress("10.244.1.10")}));
  CHECK(node->nft->family == NftFamily::kIp);
  // IPv6 redirected as before; no IPv4 route to a ztunnel that has no IPv4.
  CHECK(node->nft6->sets[0].elements.size() == 2);
  for (const auto& r : node->routes) CHECK(r.dst.family() == IpAddress::Family::kV6);
  CHECK(podChangeNeedsFullPass(in.pods[0], nodeModeOf(in)));
  CHECK_FALSE(podChangeNeedsFullPass(in.pods[1], nodeModeOf(in)));
}

TEST_CASE("IPv6-only bad input names what is wrong", "[compute][bad-input]") {
  auto in = testing::ipv6Only(testing::nodeWithPods(1));
  const auto refused = testing::checkNodePlanRefused;
  auto v4Gateway = in;
  v4Gateway.ztunnel.nodeAddr = IpAddress("10.244.1.1");
  refused(v4Gateway,
          "ztunnel's gateway 10.244.1.1 is IPv4 but the ztunnel pod has no address of "
          "that family");
  auto linkLocal = in;
  linkLocal.ztunnel.nodeAddr = IpAddress("fe80::1");
  refused(linkLocal, "fe80::1 is link-local");
  auto noAddress = in;
  noAddress.ztunnel.podIp6.reset();
  refused(noAddress, "ztunnel pod has no address");
  auto bridge = testing::onBridge(in);
  refused(bridge, "bridge mode needs IPv4 (IPv6-only nodes are supported on routed CNIs only)");
  auto bare = in;
  bare.pods[0].ip6.reset();
  refused(bare, "pod on host veth vethpod0 has no address to redirect");
  auto small = in;
  small.ztunnel.lowerMtu = 68 + kTunnelOverhead6 - 1;
  refused(small, "leaves no room for the tunnel overhead");
  auto v4 = testing::nodeWithPods(1);
  v4.ztunnel.nodeAddr = IpAddress("0.0.0.0");
  refused(v4, "ztunnel's gateway is unset (0.0.0.0)");
}
