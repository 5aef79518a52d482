// Which pod interfaces the node can redirect: a veth with a plain node end, or a port of
// ztunnel's own bridge (bridge mode). Pure.
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

const std::optional<IfName> kRouted;  // ztunnel's veth on no bridge

TEST_CASE("a veth with a plain node end can be captured", "[link-shape]") {
  CHECK(checkCapturable(veth(), ifOf("eth0"), kRouted));
  CHECK(checkCapturable(veth(), ifOf("eth0"), ifOf("cni0")));
}

TEST_CASE("a pod veth on ztunnel's bridge can be captured (bridge mode)", "[link-shape][bridge]") {
  CHECK(checkCapturable(veth(LinkMaster{ifOf("cni0"), "bridge"}), ifOf("eth0"), ifOf("cni0")));
}

TEST_CASE("a pod veth on a bridge ztunnel is not on is refused naming both", "[link-shape]") {
  auto refused = checkCapturable(veth(LinkMaster{ifOf("cni0"), "bridge"}), ifOf("eth0"), kRouted);
  REQUIRE_FALSE(refused);
  CHECK(refused.error().code == ErrorCode::kInvalidInput);
  CHECK_THAT(refused.error().message(), Contains("veth1a2b is a port of bridge cni0"));
  CHECK_THAT(refused.error().message(), Contains("ztunnel's veth is on no bridge"));
  CHECK_THAT(refused.error().message(), Contains("not enrolled"));
  CHECK_THAT(refusalOf(checkCapturable(veth(LinkMaster{ifOf("br1"), "bridge"}), ifOf("eth0"),
                                       ifOf("cni0"))),
             Contains("port of bridge br1, but ztunnel's veth is a port of bridge cni0"));
}

TEST_CASE("ztunnel itself may sit on any bridge, not in Open vSwitch", "[link-shape][bridge]") {
  CHECK(checkZtunnelLink(veth(LinkMaster{ifOf("cbr0"), "bridge"}), ifOf("eth0")));
  CHECK(checkZtunnelLink(veth(), ifOf("eth0")));
  CHECK_THAT(refusalOf(checkZtunnelLink(veth(LinkMaster{ifOf("ovs-system"), "openvswitch"}),
                                        ifOf("eth0"))),
             Contains("port of openvswitch device ovs-system"));
}

TEST_CASE("a pod veth in Open vSwitch or under another master is refused", "[link-shape]") {
  CHECK_THAT(refusalOf(checkCapturable(veth(LinkMaster{ifOf("ovs-system"), "openvswitch"}),
                                       ifOf("eth0"), kRouted)),
             Contains("port of openvswitch device ovs-system"));
  CHECK_THAT(
      refusalOf(checkCapturable(veth(LinkMaster{ifOf("vrf-blue"), ""}), ifOf("eth0"), kRouted)),
      Contains("port of device vrf-blue"));
}

TEST_CASE("a macvlan or ipvlan pod interface is refused naming its kind", "[link-shape]") {
  for (const char* kind : {"macvlan", "ipvlan"}) {
    PodLink link;
    link.kind = kind;
    CHECK_THAT(refusalOf(checkCapturable(link, ifOf("net0"), kRouted)),
               Contains(std::string("interface net0 is a ") + kind + " device, not a veth"));
  }
  PodLink unknown;
  unknown.kind = "";
  CHECK_THAT(refusalOf(checkCapturable(unknown, ifOf("eth0"), kRouted)),
             Contains("a device of unknown kind"));
}

TEST_CASE("on ztunnel's bridge a pod with ztunnel's or the bridge's MAC is refused",
          "[link-shape][bridge][bad-input]") {
  const BridgeAttachment cni0{ifOf("cni0"), *MacAddr::parse("02:42:0a:f4:01:01"),
                              *Ipv4Prefix::parse("10.244.1.0/24"),
                              *MacAddr::parse("0a:58:0a:f4:01:03")};
  PodLink pod = veth(LinkMaster{ifOf("cni0"), "bridge"});
  pod.mac = *MacAddr::parse("0a:58:0a:f4:01:07");
  CHECK(checkMacOnBridge(pod, cni0));
  CHECK(checkMacOnBridge(pod, std::nullopt));

  pod.mac = cni0.ztunnelMac;
  CHECK_THAT(refusalOf(checkMacOnBridge(pod, cni0)),
             Contains("its MAC address 0a:58:0a:f4:01:03 is also ztunnel's on bridge cni0"));
  pod.mac = cni0.mac;
  CHECK_THAT(refusalOf(checkMacOnBridge(pod, cni0)),
             Contains("its MAC address 02:42:0a:f4:01:01 is the bridge's own on bridge cni0"));

  // Elsewhere (routed, another bridge) the same MAC cannot collide on ztunnel's bridge.
  PodLink routed = veth();
  routed.mac = cni0.ztunnelMac;
  CHECK(checkMacOnBridge(routed, cni0));
  PodLink unknown = veth(LinkMaster{ifOf("cni0"), "bridge"});
  CHECK(checkMacOnBridge(unknown, cni0));
}
