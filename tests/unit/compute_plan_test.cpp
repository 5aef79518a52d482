// computePlan: the reference values of docs/DESIGN.md sections 3-4, and bad input. Pure.
#include <catch2/catch.hpp>

#include "common/core/constants.h"
#include "common/core/render.h"
#include "plan_fixtures.h"

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
  in.ztunnel.podIp6.reset();
  check(in, "cannot be redirected: ztunnel has no IPv6");
  in = base;
  in.ztunnel.podIp6 = IpAddress("ff02::1");
  check(in, "ztunnel pod IPv6 address ff02::1 is multicast");
  auto bridged = testing::onBridge(base);
  auto plan = computeNodePlan(bridged);
  REQUIRE_FALSE(plan);
  CHECK(plan.error().code == ErrorCode::kUnsupported);
  CHECK(plan.error().message().find("IPv6 is redirected on routed nodes only") !=
        std::string::npos);
  // Just outside the tunnels' /126s is a pod address like any other.
  in = base;
  in.pods[1].ip6 = IpAddress("fd00:126::4");
  CHECK(computeNodePlan(in));
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
