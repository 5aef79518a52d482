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

// The IPv4 tests' models of a kernel answer IPv4 only: asked about IPv6, they cannot.
template <std::invocable<NetnsRole, Ipv4, Ipv4, const std::string&, uint32_t> F>
RouteLookup ipv4Lookup(F f) {
  return [f = std::move(f)](NetnsRole role, const IpAddress& dst, const IpAddress& src,
                            const std::string& iif, uint32_t mark) -> Result<RouteAnswer> {
    if (!dst.isV4()) {
      return fail(ErrorCode::kInvalidInput, "an IPv4-only route lookup for " + dst.str());
    }
    return f(role, *dst.v4(), src.v4().value_or(Ipv4{}), iif, mark);
  };
}

// traceSyn of an IPv4 SYN through one of those models.
template <class F>
Result<std::vector<std::string>> trace4(const TraceState& state, Ipv4 src, Ipv4 dst, uint16_t port,
                                        F kernel) {
  return traceSyn(state, IpAddress::fromV4(src), IpAddress::fromV4(dst), port,
                  ipv4Lookup(std::move(kernel)));
}

PlanInput nodeA() {
  PlanInput in;
  in.tunnelKind = TunnelKind::kGeneve;
  in.tunnelPort = 6081;
  in.ztunnel =
      ZtunnelEndpoint{ip("10.244.1.2"), kZtunnelVeth, IpAddress("10.244.1.1"), "eth0", 1500};
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
    return RouteAnswer{"istioout", IpAddress("192.168.127.2"), 101, false};
  }
  if (dst == ip("10.244.1.3")) return RouteAnswer{kSleepVeth, std::nullopt, 254, false};
  if (dst == ip("10.244.1.2")) return RouteAnswer{kZtunnelVeth, std::nullopt, 254, false};
  if ((dst.value & 0xffffff00u) == (ip("10.244.2.0").value)) {
    return RouteAnswer{"eth0", IpAddress("172.30.0.2"), 254, false};
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
  auto hops = trace4(stateOf(nodeA()), ip("10.244.1.3"), ip("10.96.0.80"), 8000, nodeAKernel);
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
  auto none = [](NetnsRole, Ipv4 dst, Ipv4, const std::string&, uint32_t) {
    return Result<RouteAnswer>(fail(kernelError(ENETUNREACH, "route get " + dst.str())));
  };
  auto fromPod = trace4(stateOf(nodeA()), ip("10.244.1.3"), ip("10.96.0.80"), 8000, none);
  REQUIRE(fromPod.has_value());
  REQUIRE(fromPod->size() == 3);
  CHECK((*fromPod)[1].find("-> mark 0x100") != std::string::npos);
  CHECK((*fromPod)[2].find(
            "(3) node routing: ip rule pref 101 fwmark 0x100/0x100 lookup 101 "
            "proto 112 -> no route, the packet stops here: route get 10.96.0.80: Network is "
            "unreachable") == 0);

  auto fromOutside = trace4(stateOf(nodeA()), ip("172.30.0.9"), ip("10.244.1.3"), 80, none);
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
  auto hops = trace4(bridgedNodeA(), ip("10.244.1.3"), ip("10.96.0.80"), 8000, bridgedNodeAKernel);
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
  auto hops = trace4(s, ip("10.244.1.7"), ip("10.244.1.8"), 80, bridgedNodeAKernel);
  REQUIRE(hops.has_value());
  REQUIRE(hops->size() == 2);
  CHECK((*hops)[1] ==
        "(2) node bridge cni0 nft prerouting: no rule hands it up; bridged to 10.244.1.8 on cni0: "
        "not redirected");
}

namespace {

// Issue 20: node-a dual-stack, as tests/unit/golden/dual_stack.txt plans it: ztunnel
// fd00:10:244:1::2, foo/sleep fd00:10:244:1::3 (enrolled), bar/web fd00:10:244:1::7 (not
// ambient), a remote host fd00:172:30::2 reached on eth0.
constexpr IpAddress kZtunnel6 = "fd00:10:244:1::2";
constexpr IpAddress kSleep6 = "fd00:10:244:1::3";
constexpr IpAddress kWeb6 = "fd00:10:244:1::7";
constexpr IpAddress kRemote6 = "fd00:172:30::2";
constexpr const char* kWebVeth = "veth3f2a9c07";

TraceState dualStackNodeA() {
  PlanInput in = nodeA();
  in.ztunnel.podIp6 = kZtunnel6;
  in.pods[0].ip6 = kSleep6;
  TraceState s = stateOf(in);
  s.registry.ztunnel->ip6 = kZtunnel6;
  s.registry.pods["uid-foo-sleep"].ips.push_back(kSleep6);
  s.registry.pods["uid-bar-web"] =
      PodRecord{"uid-bar-web",         "bar",    "web", "c2", "/run/netns/web", "eth0",
                {"10.244.1.7", kWeb6}, kWebVeth, false};
  return s;
}

// What dual-stack node-a's kernel answers for IPv6 (`ip -6` rules 99-103 and tables 100-102 of
// the golden plan; main routes the pods' /128s and the uplink's /64).
Result<RouteAnswer> nodeAKernel6(NetnsRole role, const IpAddress& dst, const IpAddress& src,
                                 const std::string& iif, uint32_t mark) {
  CHECK(dst.isV6());
  CHECK(src.isV6());
  if (role == NetnsRole::kZtunnel) {
    if ((mark & 0xfff) == 0x400) return RouteAnswer{"lo", std::nullopt, 100, true};
    return fail(kernelError(EHOSTUNREACH, "route get " + dst.str() + " in the ztunnel pod"));
  }
  if ((mark & 0x200) == 0 && !iif.empty()) {
    if ((mark & 0x100) == 0x100) {
      return RouteAnswer{"istioout", IpAddress("fd00:127::2"), 101, false};
    }
    if (dst == kSleep6) return RouteAnswer{"istioin", IpAddress("fd00:126::2"), 100, false};
  }
  if (dst == kSleep6) return RouteAnswer{kSleepVeth, std::nullopt, 254, false};
  if (dst == kWeb6) return RouteAnswer{kWebVeth, std::nullopt, 254, false};
  if (dst == kZtunnel6) return RouteAnswer{kZtunnelVeth, std::nullopt, 254, false};
  if (dst.str().starts_with("fd00:172:30:")) {
    return RouteAnswer{"eth0", std::nullopt, 254, false};
  }
  return fail(kernelError(EHOSTUNREACH, "route get " + dst.str()));
}

std::string joined(const std::vector<std::string>& hops) {
  std::string all;
  for (const auto& h : hops) all += h + "\n";
  return all;
}

}  // namespace

TEST_CASE("trace IPv6 outbound: the ip6 table, ip -6 rule 101, istioout to [::1]:15001",
          "[syn-trace][ipv6]") {
  auto hops = traceSyn(dualStackNodeA(), kSleep6, kRemote6, 8080, nodeAKernel6);
  REQUIRE(hops.has_value());
  INFO(joined(*hops));
  // NOLINTBEGIN(bugprone-suspicious-missing-comma): hop lines split for width
  const std::vector<std::string> want = {
      "(1) foo/sleep (fd00:10:244:1::3) sends a TCP SYN to [fd00:172:30::2]:8080; it enters the "
      "node on veth3f2a9c01 (enrolled)",
      "(2) node nft ip6 ambient_redirect prerouting rule #9: meta l4proto tcp ip6 saddr "
      "@enrolled_pods meta mark set meta mark & 0xfffffeff | 0x100 counter return -> mark 0x100",
      "(3) node routing: ip -6 rule pref 101 fwmark 0x100/0x100 lookup 101 proto 112 -> "
      "fd00:172:30::2 via fd00:127::2 dev istioout table 101",
      "(4) istioout: geneve VNI 1001 to 10.244.1.2:6081 -> pistioout in the ztunnel pod",
      "(5) ztunnel nft ip6 ambient_redirect prerouting rule #3: iifname \"pistioout\" meta "
      "l4proto tcp tproxy to [::1]:15001 meta mark set meta mark & 0xfffff000 | 0x400 counter "
      "accept -> mark 0x400",
      "(6) ztunnel routing: ip -6 rule pref 20000 fwmark 0x400/0xfff lookup 100 proto 112 -> "
      "local delivery table 100",
      "(7) ztunnel accepts on [::1]:15001 with original destination [fd00:172:30::2]:8080 and "
      "source fd00:10:244:1::3",
      "(8) ztunnel connects from fd00:10:244:1::3 (original source) to [fd00:172:30::2]:8080; "
      "it enters the node on veth3f2a9c0e",
      "(9) node nft ip6 ambient_redirect prerouting rule #6: iifname \"veth3f2a9c0e\" ip6 saddr "
      "!= fd00:10:244:1::2 meta mark set meta mark & 0xfffffdef | 0x210 counter return -> mark "
      "0x210",
      "(10) node routing: ip -6 rule pref 100 fwmark 0x200/0x200 goto 32766 proto 112 -> "
      "fd00:172:30::2 dev eth0 table 254",
      "(11) leaves via eth0 off the node"};
  // NOLINTEND(bugprone-suspicious-missing-comma)
  CHECK(*hops == want);
}

TEST_CASE("trace IPv6 inbound: ip -6 rule 103, istioin to [::1]:15006, and 15008 for HBONE",
          "[syn-trace][ipv6]") {
  auto hops = traceSyn(dualStackNodeA(), kRemote6, kSleep6, 80, nodeAKernel6);
  REQUIRE(hops.has_value());
  INFO(joined(*hops));
  const auto& h = *hops;
  REQUIRE(h.size() == 11);
  CHECK(h[0] ==
        "(1) fd00:172:30::2 is outside this node; its SYN to [fd00:10:244:1::3]:80 arrives on "
        "eth0 (the node's route back to it)");
  CHECK(h[1] == "(2) node nft ip6 ambient_redirect prerouting: no rule matches; mark stays 0x0");
  CHECK(h[2] ==
        "(3) node routing: ip -6 rule pref 103 lookup 100 proto 112 -> fd00:10:244:1::3 via "
        "fd00:126::2 dev istioin table 100");
  CHECK(h[3] == "(4) istioin: geneve VNI 1000 to 10.244.1.2:6081 -> pistioin in the ztunnel pod");
  CHECK(
      h[4].starts_with("(5) ztunnel nft ip6 ambient_redirect prerouting rule #2: iifname "
                       "\"pistioin\" meta l4proto tcp tproxy to [::1]:15006"));
  CHECK(h[6] ==
        "(7) ztunnel accepts on [::1]:15006 with original destination [fd00:10:244:1::3]:80 and "
        "source fd00:172:30::2");
  CHECK(h[8].find("-> mark 0x210") != std::string::npos);
  CHECK(h[10] == "(11) leaves via veth3f2a9c01 to foo/sleep");

  auto hbone = traceSyn(dualStackNodeA(), kRemote6, kSleep6, 15008, nodeAKernel6);
  REQUIRE(hbone.has_value());
  INFO(joined(*hbone));
  REQUIRE(hbone->size() == 11);
  CHECK(
      (*hbone)[4].starts_with("(5) ztunnel nft ip6 ambient_redirect prerouting rule #1: "
                              "iifname \"pistioin\" tcp dport 15008 tproxy to [::1]:15008"));
  CHECK(
      (*hbone)[6].starts_with("(7) ztunnel accepts on [::1]:15008 with original destination "
                              "[fd00:10:244:1::3]:15008"));
}

TEST_CASE("trace IPv6 from a pod that is not enrolled: no ip6 rule marks it, it leaves by main",
          "[syn-trace][ipv6]") {
  auto hops = traceSyn(dualStackNodeA(), kWeb6, kRemote6, 443, nodeAKernel6);
  REQUIRE(hops.has_value());
  // NOLINTBEGIN(bugprone-suspicious-missing-comma): hop lines split for width
  const std::vector<std::string> want = {
      "(1) bar/web (fd00:10:244:1::7) sends a TCP SYN to [fd00:172:30::2]:443; it enters the "
      "node on veth3f2a9c07 (not enrolled)",
      "(2) node nft ip6 ambient_redirect prerouting: no rule matches; mark stays 0x0",
      "(3) node routing: ip -6 rule pref 103 lookup 100 proto 112 -> fd00:172:30::2 dev eth0 "
      "table 254",
      "(4) leaves the node via eth0: not redirected"};
  // NOLINTEND(bugprone-suspicious-missing-comma)
  CHECK(*hops == want);

  // A node without the ip6 table (not dual-stack): the trace says so instead of guessing.
  TraceState v4only = dualStackNodeA();
  v4only.node.nft6.reset();
  auto bare = traceSyn(v4only, kSleep6, kRemote6, 443, nodeAKernel6);
  REQUIRE(bare.has_value());
  REQUIRE(bare->size() >= 2);
  CHECK((*bare)[1] == "(2) node: no ip6 nft table of ours (not programmed)");
}

TEST_CASE("trace refuses a source and a destination of different families", "[syn-trace][ipv6]") {
  bool asked = false;
  RouteLookup lookup = [&](NetnsRole, const IpAddress&, const IpAddress&, const std::string&,
                           uint32_t) -> Result<RouteAnswer> {
    asked = true;
    return fail(ErrorCode::kNotFound, "not asked");
  };
  auto mixed = traceSyn(dualStackNodeA(), IpAddress("10.244.1.3"), kRemote6, 80, lookup);
  REQUIRE_FALSE(mixed.has_value());
  CHECK(mixed.error().code == ErrorCode::kInvalidInput);
  CHECK(mixed.error().message().find("different address families") != std::string::npos);
  CHECK_FALSE(asked);
}

TEST_CASE("trace IPv6 on a node that fails closed for IPv6: the ip6 table's drop ends the trace",
          "[syn-trace][ipv6]") {
  PlanInput in = nodeA();
  in.ztunnel.podIp6 = kZtunnel6;
  in.pods[0].ip6 = kSleep6;
  in.ipv6Unavailable = "the kernel has no IPv6 TPROXY";
  TraceState s = dualStackNodeA();
  s.node = *computeNodePlan(in);
  s.ztunnel = *computeZtunnelPlan(in);
  REQUIRE(s.node.nft6);
  auto out = traceSyn(s, kSleep6, kRemote6, 8080, nodeAKernel6);
  REQUIRE(out.has_value());
  INFO(joined(*out));
  REQUIRE(out->size() == 3);
  CHECK((*out)[1] ==
        "(2) node nft ip6 ambient_redirect prerouting rule #1: meta l4proto tcp ip6 saddr "
        "@enrolled_pods counter drop -> mark 0x0");
  CHECK((*out)[2] ==
        "(3) node: dropped here, the connection times out: the node fails closed for IPv6 (it "
        "cannot redirect this family now; the agent's /readyz says why)");
  auto in6 = traceSyn(s, kRemote6, kSleep6, 80, nodeAKernel6);
  REQUIRE(in6.has_value());
  INFO(joined(*in6));
  REQUIRE(in6->size() == 3);
  CHECK(
      (*in6)[1].starts_with("(2) node nft ip6 ambient_redirect prerouting rule #2: meta l4proto "
                            "tcp ip6 daddr @enrolled_pods counter drop"));
  // The same pod's IPv4 is redirected as before.
  auto v4 = trace4(s, ip("10.244.1.3"), ip("10.96.0.80"), 8000, nodeAKernel);
  REQUIRE(v4.has_value());
  CHECK(joined(*v4).find("(7) ztunnel accepts on 127.0.0.1:15001") != std::string::npos);
}

namespace {

// Dual-stack node-a on bridge cni0 with an IPv6 network (fd00:10:244:1::/64): both families
// are handed up on the bridge. The node reaches its pods' IPv6 via cni0.
TraceState bridgedDualStackNodeA(bool bridgeHasIpv6) {
  TraceState s = dualStackNodeA();
  PlanInput in = nodeA();
  in.ztunnel.podIp6 = kZtunnel6;
  in.pods[0].ip6 = kSleep6;
  in.ztunnel.bridge =
      BridgeAttachment{"cni0", *MacAddr::parse("02:42:0a:f4:01:01"),
                       *Ipv4Prefix::parse("10.244.1.0/24"), *MacAddr::parse("0a:58:0a:f4:01:03")};
  if (bridgeHasIpv6) in.ztunnel.bridge->subnet6 = *IpPrefix::parse("fd00:10:244:1::/64");
  s.node = *computeNodePlan(in);
  s.ztunnel = *computeZtunnelPlan(in);
  s.bridge = in.ztunnel.bridge;
  return s;
}

Result<RouteAnswer> bridgedNodeAKernel6(NetnsRole role, const IpAddress& dst, const IpAddress& src,
                                        const std::string& iif, uint32_t mark) {
  if (role == NetnsRole::kNode && dst.str().starts_with("fd00:10:244:1:") &&
      ((mark & 0x100) == 0 || (mark & 0x200) != 0)) {
    auto a = nodeAKernel6(role, dst, src, iif, mark);
    if (a && a->table == 254) a->dev = "cni0";
    return a;
  }
  return nodeAKernel6(role, dst, src, iif, mark);
}

}  // namespace

TEST_CASE("trace IPv6 in bridge mode: the bridge hands the SYN up by its ip6 rules",
          "[syn-trace][bridge][ipv6]") {
  auto hops = traceSyn(bridgedDualStackNodeA(true), kSleep6, kRemote6, 8080, bridgedNodeAKernel6);
  REQUIRE(hops.has_value());
  INFO(joined(*hops));
  const auto& h = *hops;
  REQUIRE(h.size() >= 11);
  CHECK(h[1] ==
        "(2) node bridge cni0 nft prerouting rule #10: ether type ip6 meta l4proto tcp ip6 saddr "
        "@enrolled_pods6 ether daddr set 02:42:0a:f4:01:01 meta pkttype set host counter accept "
        "-> handed up to the IP layer on cni0, mark 0x0");
  CHECK(h[2].starts_with("(3) node nft ip6 ambient_redirect prerouting rule #9:"));
  CHECK(h[3].find("dev istioout table 101") != std::string::npos);
  // ztunnel's onward connection: marked 0x210 by the bridge's ip6 rule, then let through.
  int onward = hopWith(h, "ztunnel connects from fd00:10:244:1::3");
  REQUIRE(onward > 0);
  CHECK(h[onward + 1].find("node bridge cni0 nft prerouting rule #9: iifname \"" +
                           std::string(kZtunnelVeth) + "\" ether type ip6 meta l4proto tcp") !=
        std::string::npos);
  CHECK(h[onward + 1].find("mark 0x210 (after rule #7: iifname \"" + std::string(kZtunnelVeth) +
                           "\" ether type ip6 ip6 saddr != fd00:10:244:1::2 meta mark set meta "
                           "mark & 0xfffffdef | 0x210 counter)") != std::string::npos);
  CHECK(h[onward + 2].find("node nft ip6 ambient_redirect prerouting rule #6: meta mark & 0x210 "
                           "== 0x210") != std::string::npos);
}

TEST_CASE("trace IPv6 in bridge mode without a bridge IPv6 network: dropped on the bridge",
          "[syn-trace][bridge][ipv6]") {
  auto hops = traceSyn(bridgedDualStackNodeA(false), kSleep6, kWeb6, 80, bridgedNodeAKernel6);
  REQUIRE(hops.has_value());
  INFO(joined(*hops));
  REQUIRE(hops->size() == 2);
  CHECK((*hops)[1] ==
        "(2) node bridge cni0 nft prerouting rule #2: ether type ip6 meta l4proto tcp ip6 saddr "
        "@enrolled_pods6 counter drop -> dropped on the bridge, the connection times out: the "
        "node fails closed for IPv6 (it cannot redirect this family now; the agent's /readyz "
        "says why)");
}
