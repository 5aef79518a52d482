// Golden text of plans: node with 0, 1 and 3 enrolled pods, the ztunnel namespace, and both
// namespaces of a dual-stack node (routed and on a bridge), of one whose IPv6 is fail closed and
// of an IPv6-only one.
// Set AMBIENT_UPDATE_GOLDEN=1 to rewrite the files after an intended change. Pure.
#include <catch2/catch.hpp>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "common/core/render.h"
#include "golden.h"
#include "plan_fixtures.h"

using namespace ambient;
using ambient::testing::checkGolden;

namespace {}  // namespace

TEST_CASE("node plan golden text", "[render][golden]") {
  for (int pods : {0, 1, 3}) {
    auto plan = computeNodePlan(testing::nodeWithPods(pods));
    REQUIRE(plan);
    checkGolden("node_" + std::to_string(pods) + "_pods.txt", renderPlan(*plan));
  }
}

TEST_CASE("ztunnel namespace plan golden text", "[render][golden]") {
  auto plan = computeZtunnelPlan(testing::nodeWithPods(3));
  REQUIRE(plan);
  checkGolden("ztunnel.txt", renderPlan(*plan));
}

// Issue 20: a dual-stack node, every object in both families (the IPv6 ones after the IPv4).
TEST_CASE("dual-stack plan golden text", "[render][golden]") {
  auto in = testing::dualStack(testing::nodeWithPods(2));
  auto node = computeNodePlan(in);
  auto zt = computeZtunnelPlan(in);
  REQUIRE(node);
  REQUIRE(zt);
  checkGolden("dual_stack.txt", renderPlan(*node) + renderPlan(*zt));
}

// Issue 20: the same node where this kernel cannot redirect IPv6: the pods' IPv6 TCP is dropped.
TEST_CASE("fail-closed IPv6 plan golden text", "[render][golden]") {
  auto in = testing::dualStack(testing::nodeWithPods(2));
  in.ipv6Unavailable = "this kernel cannot redirect IPv6";
  auto node = computeNodePlan(in);
  auto zt = computeZtunnelPlan(in);
  REQUIRE(node);
  REQUIRE(zt);
  checkGolden("ipv6_fail_closed.txt", renderPlan(*node) + renderPlan(*zt));
}

// Issue 20: an IPv6-only node: the tunnels ride on IPv6 (remote ztunnel's and the node's IPv6
// addresses, MTU 1500 - 70), no IPv4 redirection object, the IPv6 ones as on a dual-stack node.
TEST_CASE("IPv6-only plan golden text", "[render][golden]") {
  auto in = testing::ipv6Only(testing::nodeWithPods(2));
  auto node = computeNodePlan(in);
  auto zt = computeZtunnelPlan(in);
  INFO((node ? "" : node.error().message()));
  REQUIRE(node);
  REQUIRE(zt);
  checkGolden("ipv6_only.txt", renderPlan(*node) + renderPlan(*zt));
}

// Issue 20: a dual-stack node on bridge cni0 with an IPv6 network: the bridge table hands both
// families up, the ip6 table reads the bridge's marks, ztunnel's IPv6 is reached on cni0.
TEST_CASE("dual-stack bridge plan golden text", "[render][golden]") {
  auto in = testing::onDualStackBridge(testing::nodeWithPods(2));
  auto node = computeNodePlan(in);
  auto zt = computeZtunnelPlan(in);
  REQUIRE(node);
  REQUIRE(zt);
  checkGolden("bridge_dual_stack.txt", renderPlan(*node) + renderPlan(*zt));
}

TEST_CASE("vxlan fallback renders vxlan links", "[render]") {
  auto in = testing::nodeWithPods(0);
  in.tunnelKind = TunnelKind::kVxlan;
  in.tunnelPort = 7081;
  auto plan = computeNodePlan(in);
  REQUIRE(plan);
  CHECK(renderPlan(*plan).find(
            "ip link add istioin type vxlan id 1000 remote 10.244.1.3 dstport 7081") !=
        std::string::npos);
}

TEST_CASE("a change set renders deletes and creates as commands", "[render]") {
  auto plan = computeNodePlan(testing::nodeWithPods(1));
  REQUIRE(plan);
  ObservedState empty;
  auto text = renderChangeSet(diff(*plan, empty));
  CHECK(
      text.find("ip route add 10.244.1.10/32 via 192.168.126.2 dev istioin table 100 proto 112") !=
      std::string::npos);
  CHECK(text.find("nft -f - <<'NFT'\nadd table ip ambient_redirect\n") != std::string::npos);
}
