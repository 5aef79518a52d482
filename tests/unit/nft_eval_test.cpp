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
