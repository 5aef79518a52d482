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
