// `ambientctl trace` over the real rule set of a node like the demo's node-a (the seed's
// scenario 1: ambient foo/sleep -> the httpbin Service VIP), with the kernel's route answers
// played by a small model of that node's ip rules and tables. Pure.
#include "ambientctl/core/syn_trace.h"

#include <catch2/catch.hpp>
#include <cerrno>

#include "common/core/compute_plan.h"
#include "common/core/hex.h"

using namespace ambient;

namespace {

Ipv4 ip(const char* s) {
  return *Ipv4::parse(s);
}

// ptp names host veths "veth" + 8 random hex digits: these two differ in their last digit.
constexpr const char* kSleepVeth = "veth3f2a9c01";
constexpr const char* kZtunnelVeth = "veth3f2a9c0e";

PlanInput nodeA() {
  PlanInput in;
  in.tunnelKind = TunnelKind::kGeneve;
  in.tunnelPort = 6081;
  in.ztunnel = ZtunnelEndpoint{ip("10.244.1.2"), kZtunnelVeth, ip("10.244.1.1"), "eth0", 1500};
  in.pods = {EnrolledPod{ip("10.244.1.3"), kSleepVeth}};
  return in;
}

TraceState stateOf(const PlanInput& in) {
  TraceState s;
  s.node = *computeNodePlan(in);
  s.ztunnel = *computeZtunnelPlan(in);
  s.registry.ztunnel = ZtunnelRecord{"uid-ztunnel", "/run/netns/zt", "10.244.1.2", kZtunnelVeth,
                                     "10.244.1.1",  "eth0",          1500};
  s.registry.pods["uid-foo-sleep"] =
      PodRecord{"uid-foo-sleep", "foo",          "sleep",    "c1", "/run/netns/sleep",
                "eth0",          {"10.244.1.3"}, kSleepVeth, true};
  return s;
}

// What node-a's kernel answers (docs/DESIGN.md section 3's ip rules and tables; the main table
// routes this node's pods and the other nodes' pod CIDRs, and nothing else: no default route, no
// VIP).
Result<RouteAnswer> nodeAKernel(NetnsRole role, Ipv4 dst, Ipv4 src, const std::string& iif,
                                uint32_t mark) {
  if (role == NetnsRole::kZtunnel) {
    if ((mark & 0xfff) == 0x400) return RouteAnswer{"lo", std::nullopt, 100, true};
    return fail(kernelError(EHOSTUNREACH, "route get " + dst.str() + " in the ztunnel pod"));
  }
  if ((mark & 0x200) == 0 && (mark & 0x100) == 0x100) {
    return RouteAnswer{"istioout", ip("192.168.127.2"), 101, false};
  }
  if (dst == ip("10.244.1.3")) return RouteAnswer{kSleepVeth, std::nullopt, 254, false};
  if (dst == ip("10.244.1.2")) return RouteAnswer{kZtunnelVeth, std::nullopt, 254, false};
  if ((dst.value & 0xffffff00u) == (ip("10.244.2.0").value)) {
    return RouteAnswer{"eth0", ip("172.30.0.2"), 254, false};
  }
  return fail(kernelError(EHOSTUNREACH, "route get " + dst.str() + " from " + src.str() + " iif " +
                                            iif + " mark " + hexString(mark)));
}

// The index of the first hop that holds `text`, or -1.
int hopWith(const std::vector<std::string>& hops, const std::string& text) {
  for (size_t i = 0; i < hops.size(); ++i) {
    if (hops[i].find(text) != std::string::npos) return static_cast<int>(i);
  }
  return -1;
}

}  // namespace

TEST_CASE("trace of scenario 1: the client's SYN takes rule 0x100, table 101 and istioout",
          "[syn-trace]") {
  auto hops = traceSyn(stateOf(nodeA()), ip("10.244.1.3"), ip("10.96.0.80"), 8000, nodeAKernel);
  REQUIRE(hops.has_value());
  std::string all;
  for (const auto& h : *hops) all += h + "\n";
  INFO(all);
  REQUIRE(hops->size() >= 10);
  const auto& h = *hops;
  CHECK(h[0].find("(1) foo/sleep (10.244.1.3) sends a TCP SYN to 10.96.0.80:8000") == 0);
  CHECK(h[0].find(std::string("enters the node on ") + kSleepVeth + " (enrolled)") !=
        std::string::npos);
  CHECK(h[1].find("(2) node nft prerouting rule #9: meta l4proto tcp ip saddr @enrolled_pods") ==
        0);
  CHECK(h[1].find("-> mark 0x100") != std::string::npos);
  CHECK(h[2].find("(3) node routing: ip rule pref 101 fwmark 0x100/0x100 lookup 101 proto 112 "
                  "-> 10.96.0.80 via 192.168.127.2 dev istioout table 101") == 0);
  CHECK(h[3].find("(4) istioout: geneve VNI 1001 to 10.244.1.2:6081 -> pistioout") == 0);
  CHECK(h[4].find("(5) ztunnel nft prerouting rule #3") == 0);
  CHECK(h[4].find("tproxy to 127.0.0.1:15001") != std::string::npos);
  CHECK(h[5].find("local delivery") != std::string::npos);
  CHECK(h[6].find("(7) ztunnel accepts on 127.0.0.1:15001") == 0);

  // 0x210 belongs to ztunnel's own onward connection (client source, from ztunnel's veth), never
  // to the client's SYN.
  int onward = hopWith(h, "ztunnel connects from 10.244.1.3");
  REQUIRE(onward == 7);
  CHECK(h[7].find(std::string("enters the node on ") + kZtunnelVeth) != std::string::npos);
  CHECK(hopWith(h, "0x210") == 8);
  CHECK(h[8].find("(9) node nft prerouting rule #6: iifname \"" + std::string(kZtunnelVeth) +
                  "\" ip saddr != 10.244.1.2") == 0);
  // The node has no route for a VIP: a hop that says so, with the kernel's answer, ends the trace.
  REQUIRE(h.size() == 10);
  CHECK(h[9].find("(10) node routing: ip rule pref 100 fwmark 0x200/0x200 goto 32766 proto 112 "
                  "-> no route, the packet stops here: route get 10.96.0.80") == 0);
  CHECK(h[9].find("No route to host") != std::string::npos);
  CHECK(h[9].find("Service VIP") != std::string::npos);
}

TEST_CASE("trace: a failed route lookup is the last hop, not an error", "[syn-trace]") {
  RouteLookup none = [](NetnsRole, Ipv4 dst, Ipv4, const std::string&, uint32_t) {
    return Result<RouteAnswer>(fail(kernelError(ENETUNREACH, "route get " + dst.str())));
  };
  auto fromPod = traceSyn(stateOf(nodeA()), ip("10.244.1.3"), ip("10.96.0.80"), 8000, none);
  REQUIRE(fromPod.has_value());
  REQUIRE(fromPod->size() == 3);
  CHECK((*fromPod)[1].find("-> mark 0x100") != std::string::npos);
  CHECK((*fromPod)[2].find(
            "(3) node routing: ip rule pref 101 fwmark 0x100/0x100 lookup 101 "
            "proto 112 -> no route, the packet stops here: route get 10.96.0.80: Network is "
            "unreachable") == 0);

  auto fromOutside = traceSyn(stateOf(nodeA()), ip("172.30.0.9"), ip("10.244.1.3"), 80, none);
  REQUIRE(fromOutside.has_value());
  REQUIRE(fromOutside->size() == 1);
  CHECK((*fromOutside)[0].find("(1) 172.30.0.9 is outside this node and the node has no route "
                               "back to it") == 0);
}

namespace {

// node-a on a bridge primary (flannel-like): ztunnel .2 and sleep .3 are ports of cni0, whose
// subnet is 10.244.1.0/24; the node reaches its pods via cni0.
TraceState bridgedNodeA() {
  PlanInput in = nodeA();
  in.ztunnel.bridge =
      BridgeAttachment{"cni0", *MacAddr::parse("02:42:0a:f4:01:01"),
                       *Ipv4Prefix::parse("10.244.1.0/24"), *MacAddr::parse("0a:58:0a:f4:01:03")};
  TraceState s = stateOf(in);
  s.bridge = in.ztunnel.bridge;
  return s;
}

Result<RouteAnswer> bridgedNodeAKernel(NetnsRole role, Ipv4 dst, Ipv4 src, const std::string& iif,
                                       uint32_t mark) {
  if (role == NetnsRole::kNode && (dst.value & 0xffffff00u) == ip("10.244.1.0").value &&
      ((mark & 0x100) == 0 || (mark & 0x200) != 0)) {
    return RouteAnswer{"cni0", std::nullopt, 254, false};
  }
  return nodeAKernel(role, dst, src, iif, mark);
}

}  // namespace

TEST_CASE("trace in bridge mode: the bridge table's hop comes before the IP layer",
          "[syn-trace][bridge]") {
  auto hops =
      traceSyn(bridgedNodeA(), ip("10.244.1.3"), ip("10.96.0.80"), 8000, bridgedNodeAKernel);
  REQUIRE(hops.has_value());
  std::string all;
  for (const auto& h : *hops) all += h + "\n";
  INFO(all);
  const auto& h = *hops;
  REQUIRE(h.size() >= 11);
  CHECK(h[1].find("(2) node bridge cni0 nft prerouting rule #5: ether type ip meta l4proto tcp "
                  "ip saddr @enrolled_pods ether daddr set 02:42:0a:f4:01:01 meta pkttype set "
                  "host counter accept -> handed up to the IP layer on cni0, mark 0x0") == 0);
  CHECK(h[2].find("(3) node nft prerouting rule #9:") == 0);
  CHECK(h[3].find("dev istioout table 101") != std::string::npos);
  // ztunnel's onward connection: marked 0x210 on the bridge, handed up, then let through by the
  // ip chain's mark rule (not by an iifname rule, which cannot see a bridge port).
  int onward = hopWith(h, "ztunnel connects from 10.244.1.3");
  REQUIRE(onward > 0);
  CHECK(h[onward + 1].find("node bridge cni0 nft prerouting rule #4: iifname \"" +
                           std::string(kZtunnelVeth) + "\" ether type ip meta l4proto tcp") !=
        std::string::npos);
  CHECK(h[onward + 1].find("mark 0x210") != std::string::npos);
  CHECK(h[onward + 2].find("node nft prerouting rule #6: meta mark & 0x210 == 0x210") !=
        std::string::npos);
}

TEST_CASE("trace in bridge mode: plain pod to plain pod on the bridge is bridged, not redirected",
          "[syn-trace][bridge]") {
  TraceState s = bridgedNodeA();
  s.registry.pods["uid-bar-web"] =
      PodRecord{"uid-bar-web", "bar",          "web",          "c2", "/run/netns/web",
                "eth0",        {"10.244.1.7"}, "veth3f2a9c07", false};
  auto hops = traceSyn(s, ip("10.244.1.7"), ip("10.244.1.8"), 80, bridgedNodeAKernel);
  REQUIRE(hops.has_value());
  REQUIRE(hops->size() == 2);
  CHECK((*hops)[1] ==
        "(2) node bridge cni0 nft prerouting: no rule hands it up; bridged to 10.244.1.8 on cni0: "
        "not redirected");
}
