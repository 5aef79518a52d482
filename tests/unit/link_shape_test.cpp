// Which pod interfaces the node can redirect: a veth with a plain node end only. Pure.
#include "node-agent/core/link_shape.h"

#include <catch2/catch.hpp>

#include "tests/support/refusals.h"
#include "tests/support/typed_values.h"

using namespace ambient;
using ambient::testing::ifOf;
using ambient::testing::refusalOf;
using Catch::Matchers::Contains;

namespace {

PodLink veth(std::optional<LinkMaster> master = std::nullopt) {
  PodLink link{ifOf("veth1a2b"), IpAddress("10.244.1.1"), 1500};
  link.hostMaster = std::move(master);
  return link;
}

}  // namespace

TEST_CASE("a veth with a plain node end can be captured", "[link-shape]") {
  CHECK(checkCapturable(veth(), ifOf("eth0")));
}

TEST_CASE("a pod veth on a bridge is refused naming the veth and the bridge", "[link-shape]") {
  auto refused = checkCapturable(veth(LinkMaster{ifOf("cni0"), "bridge"}), ifOf("eth0"));
  REQUIRE_FALSE(refused);
  CHECK(refused.error().code == ErrorCode::kInvalidInput);
  CHECK_THAT(refused.error().message(), Contains("veth1a2b is a port of bridge cni0"));
  CHECK_THAT(refused.error().message(), Contains("not enrolled"));
}

TEST_CASE("a pod veth in Open vSwitch or under another master is refused", "[link-shape]") {
  CHECK_THAT(
      refusalOf(checkCapturable(veth(LinkMaster{ifOf("ovs-system"), "openvswitch"}), ifOf("eth0"))),
      Contains("port of openvswitch device ovs-system"));
  CHECK_THAT(refusalOf(checkCapturable(veth(LinkMaster{ifOf("vrf-blue"), ""}), ifOf("eth0"))),
             Contains("port of device vrf-blue"));
}

TEST_CASE("a macvlan or ipvlan pod interface is refused naming its kind", "[link-shape]") {
  for (const char* kind : {"macvlan", "ipvlan"}) {
    PodLink link;
    link.kind = kind;
    CHECK_THAT(refusalOf(checkCapturable(link, ifOf("net0"))),
               Contains(std::string("interface net0 is a ") + kind + " device, not a veth"));
  }
  PodLink unknown;
  unknown.kind = "";
  CHECK_THAT(refusalOf(checkCapturable(unknown, ifOf("eth0"))),
             Contains("a device of unknown kind"));
}
