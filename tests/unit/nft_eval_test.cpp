// The rule evaluator that ambientctl trace uses, against the node's and ztunnel's rules: the
// first match of docs/DESIGN.md section 3's mark logic and section 4's TPROXY rules. Pure.
#include "common/core/nft_eval.h"

#include <catch2/catch.hpp>

#include "plan_fixtures.h"

using namespace ambient;

namespace {

ChainVerdict run(const NftTableSpec& t, TracePacket& p) {
  return evaluateChain(t, t.chains[0], p);
}
Ipv4 ip(const char* s) {
  return *Ipv4::parse(s);
}

}  // namespace

TEST_CASE("node mark logic: first match wins", "[nft-eval]") {
  auto plan = *computeNodePlan(testing::nodeWithPods(1));  // pod 10.244.1.10
  const auto& t = *plan.nft;
  TracePacket tcp{"vethpod0", ip("10.244.1.10"), ip("8.8.8.8"), 6, 80, 0, 0};
  auto v = run(t, tcp);
  CHECK(v.ruleIndex == 9);
  CHECK(tcp.mark == 0x100);
  TracePacket udp{"vethpod0", ip("10.244.1.10"), ip("8.8.8.8"), 17, 53, 0, 0};
  CHECK(run(t, udp).ruleIndex == 8);
  CHECK(udp.mark == 0x220);
  TracePacket other{"vethx", ip("10.244.1.99"), ip("8.8.8.8"), 6, 80, 0, 0};
  CHECK(run(t, other).ruleIndex == -1);
  CHECK(other.mark == 0);
  TracePacket spoofed{"vethzt0", ip("10.244.1.10"), ip("8.8.8.8"), 6, 80, 0, 0};
  CHECK(run(t, spoofed).ruleIndex == 6);
  CHECK(spoofed.mark == 0x210);
  TracePacket own{"vethzt0", ip("10.244.1.3"), ip("8.8.8.8"), 6, 80, 0, 0};
  CHECK(run(t, own).ruleIndex == 7);
  TracePacket reply{"vethpod0", ip("10.244.1.10"), ip("8.8.8.8"), 6, 80, 0, 0x210};
  CHECK(run(t, reply).ruleIndex == 5);
  CHECK(reply.mark == 0x40);
  TracePacket tunnel{"istioin", ip("1.1.1.1"), ip("10.244.1.10"), 6, 80, 0, 0};
  CHECK(run(t, tunnel).verdict == "return");
  CHECK(tunnel.mark == 0x200);
}

TEST_CASE("ztunnel TPROXY targets", "[nft-eval]") {
  auto plan = *computeZtunnelPlan(testing::nodeWithPods(0));
  const auto& t = *plan.nft;
  TracePacket hbone{"pistioin", ip("1.1.1.1"), ip("10.244.1.10"), 6, 15008, 0, 0};
  auto v = run(t, hbone);
  REQUIRE(v.tproxy);
  CHECK(v.tproxy->second == 15008);
  CHECK(hbone.mark == 0x400);
  TracePacket plain{"pistioin", ip("1.1.1.1"), ip("10.244.1.10"), 6, 80, 0, 0};
  CHECK(run(t, plain).tproxy->second == 15006);
  TracePacket out{"pistioout", ip("10.244.1.10"), ip("1.1.1.1"), 6, 443, 0, 0};
  CHECK(run(t, out).tproxy->second == 15001);
  TracePacket back{"eth0", ip("1.1.1.1"), ip("10.244.1.10"), 6, 443, 0, 0};
  CHECK(run(t, back).ruleIndex == 6);
  CHECK(back.mark == 0x4d3);
}

TEST_CASE("iifname matches the whole name: pod veths named like ztunnel's", "[nft-eval]") {
  for (std::string podVeth : {"vethzt00", "vethzt0x", "veth3f2a9c01"}) {
    auto in = testing::nodeWithPods(0);
    in.ztunnel.hostVeth = podVeth == "veth3f2a9c01" ? IfName("veth3f2a9c0e") : IfName("vethzt0");
    in.pods = {EnrolledPod{ip("10.244.1.10"), testing::ifOf(podVeth)}};
    auto plan = *computeNodePlan(in);
    INFO(podVeth << " beside ztunnel's " << in.ztunnel.hostVeth.str());
    TracePacket syn{podVeth, ip("10.244.1.10"), ip("10.96.0.80"), 6, 8000, 0, 0};
    CHECK(run(*plan.nft, syn).ruleIndex == 9);
    CHECK(syn.mark == 0x100);
    // ztunnel's own onward connection with the client's source, from its veth: 0x210.
    TracePacket onward{
        in.ztunnel.hostVeth.str(), ip("10.244.1.10"), ip("10.96.0.80"), 6, 8000, 0, 0};
    CHECK(run(*plan.nft, onward).ruleIndex == 6);
    CHECK(onward.mark == 0x210);
  }
}

// Issue 20: the ip6 tables of testing::dualStack() (tests/unit/golden/dual_stack.txt): the same
// evaluator reads RFC 8200's address offsets, ipv6_addr set members and a tproxy to [::1].
TEST_CASE("node ip6 mark logic: the same first matches as the ip table", "[nft-eval][ipv6]") {
  auto plan = *computeNodePlan(testing::dualStack(testing::nodeWithPods(1)));
  REQUIRE(plan.nft6);
  const auto& t = *plan.nft6;
  const IpAddress pod = "fd00:10:244:1::a", ztunnel = "fd00:10:244:1::3", far = "2001:db8::8";
  TracePacket tcp{"vethpod0", pod, far, 6, 80, 0, 0};
  auto v = run(t, tcp);
  CHECK(v.ruleIndex == 9);
  CHECK(v.ruleText.find("ip6 saddr @enrolled_pods") != std::string::npos);
  CHECK(tcp.mark == 0x100);
  TracePacket other{"vethx", IpAddress("fd00:10:244:1::63"), far, 6, 80, 0, 0};
  CHECK(run(t, other).ruleIndex == -1);
  CHECK(other.mark == 0);
  TracePacket spoofed{"vethzt0", pod, far, 6, 80, 0, 0};
  CHECK(run(t, spoofed).ruleIndex == 6);
  CHECK(spoofed.mark == 0x210);
  TracePacket own{"vethzt0", ztunnel, far, 6, 80, 0, 0};
  CHECK(run(t, own).ruleIndex == 7);
  CHECK(own.mark == 0x220);
  TracePacket udp{"vethpod0", pod, far, 17, 53, 0, 0};
  CHECK(run(t, udp).ruleIndex == 8);
}

TEST_CASE("ztunnel ip6 TPROXY targets are [::1]", "[nft-eval][ipv6]") {
  auto plan = *computeZtunnelPlan(testing::dualStack(testing::nodeWithPods(0)));
  REQUIRE(plan.nft6);
  const auto& t = *plan.nft6;
  const IpAddress pod = "fd00:10:244:1::a", far = "2001:db8::8";
  TracePacket hbone{"pistioin", far, pod, 6, 15008, 0, 0};
  auto v = run(t, hbone);
  REQUIRE(v.tproxy);
  CHECK(v.tproxy->first == IpAddress("::1"));
  CHECK(v.tproxy->second == 15008);
  CHECK(hbone.mark == 0x400);
  TracePacket plain{"pistioin", far, pod, 6, 80, 0, 0};
  REQUIRE(run(t, plain).tproxy);
  CHECK(run(t, plain).tproxy->second == 15006);
  TracePacket out{"pistioout", pod, far, 6, 443, 0, 0};
  auto o = run(t, out);
  REQUIRE(o.tproxy);
  CHECK(o.tproxy->first.str() == "::1");
  CHECK(o.tproxy->second == 15001);
  // ztunnel's own address is not marked; any other destination from eth0 is (0x4d3).
  TracePacket back{"eth0", far, pod, 6, 443, 0, 0};
  CHECK(run(t, back).ruleIndex == 6);
  CHECK(back.mark == 0x4d3);
  TracePacket toZtunnel{"eth0", far, IpAddress("fd00:10:244:1::3"), 6, 443, 0, 0};
  CHECK(run(t, toZtunnel).ruleIndex == -1);
  // The ip table's TPROXY stays IPv4.
  TracePacket out4{"pistioout", ip("10.244.1.10"), ip("1.1.1.1"), 6, 443, 0, 0};
  auto o4 = run(*plan.nft, out4);
  REQUIRE(o4.tproxy);
  CHECK(o4.tproxy->first == IpAddress("127.0.0.1"));
}
