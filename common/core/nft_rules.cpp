// The nftables tables we own, as data. Pure.
#include "common/core/nft_rules.h"

#include <algorithm>

#include "common/core/constants.h"
#include "common/core/nft_rule_builder.h"

namespace ambient {
namespace {

using B = NftRuleBuilder;
using P = NftRuleBuilder::Proto;

// Connection-mark bookkeeping shared by the forward and input hooks: remember "skip" and
// "spoofed by ztunnel" on the connection so later packets of either direction are classified.
std::vector<NftRule> saveConnMarks() {
  return {B().markHas(kMarkConnSkip).setCtMarkBits(kMarkConnSkip).done(),
          B().markHas(kMarkProxySpoof).setCtMarkBits(kMarkProxySpoof).done()};
}

}  // namespace

NftTableSpec nodeNftTable(const ZtunnelEndpoint& z, uint16_t tunnelPort,
                          std::vector<Ipv4> enrolledPods) {
  std::sort(enrolledPods.begin(), enrolledPods.end());
  enrolledPods.erase(std::unique(enrolledPods.begin(), enrolledPods.end()), enrolledPods.end());

  // First match wins; "return" ends our processing (docs/DESIGN.md section 3, steps 1-8).
  std::vector<NftRule> mark = {
      B().iifname(kInboundTunnel).setMark(kMarkSkip, kMarkSkip).counter().ret(),
      B().iifname(kOutboundTunnel).setMark(kMarkSkip, kMarkSkip).counter().ret(),
      // Decapsulated packets inherit the outer packet's mark: leave the outer one unmarked.
      B().dport(P::kUdp, tunnelPort).counter().ret(),
      B().ctMarkHas(kMarkConnSkip).setMark(kMarkSkip, kMarkSkip).counter().ret(),
      B().iifname(z.hostVeth.view(), true)
          .ctMarkHas(kMarkProxySpoof)
          .setMark(kMarkProxyReturn, kMarkProxyReturn)
          .counter()
          .ret(),
      B().iifname(z.hostVeth.view())
          .saddr(z.podIp, true)
          .setMark(kMarkProxySpoof, kMarkProxySpoof)
          .counter()
          .ret(),
      B().iifname(z.hostVeth.view()).setMark(kMarkConnSkip, kMarkConnSkip).counter().ret(),
      B().l4proto(P::kUdp).setMark(kMarkConnSkip, kMarkConnSkip).counter().ret(),
      B().l4proto(P::kTcp)
          .saddrInSet(kNftPodSet)
          .setMark(kMarkOutbound, kMarkOutbound)
          .counter()
          .ret(),
  };

  NftTableSpec t;
  t.name = std::string(kNftTable);
  t.sets = {NftSetSpec{std::string(kNftPodSet), std::move(enrolledPods)}};
  t.chains = {
      {"prerouting", "filter", "prerouting", kNftPrioMangle, std::move(mark)},
      {"forward", "filter", "forward", kNftPrioMangle, saveConnMarks()},
      {"input", "filter", "input", kNftPrioMangle, saveConnMarks()},
      // Null NAT bindings: once a connection has one, the kernel's NAT core runs no further
      // nat chains for it, so kube-proxy neither DNATs the service VIP nor masquerades.
      {"nat_prerouting",
       "nat",
       "prerouting",
       kNftPrioDstNatEarly,
       {B().markHas(kMarkOutbound).counter().dnatToDaddr().done()}},
      {"nat_postrouting",
       "nat",
       "postrouting",
       kNftPrioSrcNatEarly,
       {B().markHas(kMarkOutbound).counter().snatToSaddr().done()}},
  };
  return t;
}

NftTableSpec ztunnelNftTable(const ZtunnelEndpoint& z) {
  Ipv4 local = *Ipv4::parse(kTproxyIp);
  auto toProxy = [&](B b, uint16_t port) {
    return b.tproxy(local, port).setMark(kMarkTproxy, kMarkPodMask).counter().accept();
  };
  std::vector<NftRule> rules = {
      toProxy(B().iifname(kPodInboundTunnel).dport(P::kTcp, kPortHbone), kPortHbone),
      toProxy(B().iifname(kPodInboundTunnel).l4proto(P::kTcp), kPortInboundPlain),
      toProxy(B().iifname(kPodOutboundTunnel).l4proto(P::kTcp), kPortOutbound),
      // nft's tproxy falls through when nothing listens; with forwarding on in the pod the SYN
      // would leave un-proxied. Drop instead: traffic stops while ztunnel is away.
      B().iifname(kPodInboundTunnel).l4proto(P::kTcp).counter().drop(),
      B().iifname(kPodOutboundTunnel).l4proto(P::kTcp).counter().drop(),
      // Replies to ztunnel's connections that carry a client's source address.
      B().iifname(z.podIfname.view())
          .l4proto(P::kTcp)
          .daddr(z.podIp, true)
          .setMark(kMarkPodReturn, kMarkPodMask)
          .counter()
          .done(),
  };
  NftTableSpec t;
  t.name = std::string(kNftTable);
  t.chains = {{"prerouting", "filter", "prerouting", kNftPrioMangle, std::move(rules)}};
  return t;
}

}  // namespace ambient
