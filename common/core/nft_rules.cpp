// The nftables tables we own, as data. Pure.
#include "common/core/nft_rules.h"

#include <algorithm>
#include <iterator>

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

NftTableSpec nodeNftTable(const ZtunnelEndpoint& z, const IpAddress& ztunnelIp, uint16_t tunnelPort,
                          std::vector<IpAddress> enrolledPods) {
  const auto family = ztunnelIp.family();
  std::sort(enrolledPods.begin(), enrolledPods.end());
  enrolledPods.erase(std::unique(enrolledPods.begin(), enrolledPods.end()), enrolledPods.end());

  // First match wins; "return" ends our processing (docs/DESIGN.md section 3, steps 1-8).
  std::vector<NftRule> mark = {
      B().iifname(kInboundTunnel).setMark(kMarkSkip, kMarkSkip).counter().ret(),
      B().iifname(kOutboundTunnel).setMark(kMarkSkip, kMarkSkip).counter().ret(),
      // Decapsulated packets inherit the outer packet's mark: leave the outer one unmarked.
      B().dport(P::kUdp, tunnelPort).counter().ret(),
      B().ctMarkHas(kMarkConnSkip).setMark(kMarkSkip, kMarkSkip).counter().ret(),
  };
  if (!z.bridge) {
    // Steps 4-6 key on the ztunnel veth, where ztunnel's packets enter the IP layer.
    mark.push_back(B().iifname(z.hostVeth.view(), true)
                       .ctMarkHas(kMarkProxySpoof)
                       .setMark(kMarkProxyReturn, kMarkProxyReturn)
                       .counter()
                       .ret());
    mark.push_back(B().iifname(z.hostVeth.view())
                       .saddr(ztunnelIp, true)
                       .setMark(kMarkProxySpoof, kMarkProxySpoof)
                       .counter()
                       .ret());
    mark.push_back(
        B().iifname(z.hostVeth.view()).setMark(kMarkConnSkip, kMarkConnSkip).counter().ret());
  } else {
    // On a bridge the IP layer sees the bridge, never ztunnel's port: the bridge table marked
    // ztunnel's frames (0x210 spoofed, 0x220 its own), and steps 4-6 read those marks.
    mark.push_back(B().markHas(kMarkSkip, true)
                       .ctMarkHas(kMarkProxySpoof)
                       .setMark(kMarkProxyReturn, kMarkProxyReturn)
                       .counter()
                       .ret());
    mark.push_back(B().markHas(kMarkProxySpoof).counter().ret());
    mark.push_back(B().markHas(kMarkConnSkip).counter().ret());
  }
  mark.push_back(B().l4proto(P::kUdp).setMark(kMarkConnSkip, kMarkConnSkip).counter().ret());
  mark.push_back(B().l4proto(P::kTcp)
                     .saddrInSet(kNftPodSet, family)
                     .setMark(kMarkOutbound, kMarkOutbound)
                     .counter()
                     .ret());

  NftTableSpec t;
  t.family = family == IpAddress::Family::kV6 ? NftFamily::kIp6 : NftFamily::kIp;
  t.name = std::string(kNftTable);
  t.sets = {NftSetSpec{std::string(kNftPodSet), std::move(enrolledPods), family}};
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
       {B().markHas(kMarkOutbound).counter().dnatToDaddr(family).done()}},
      {"nat_postrouting",
       "nat",
       "postrouting",
       kNftPrioSrcNatEarly,
       {B().markHas(kMarkOutbound).counter().snatToSaddr(family).done()}},
  };
  return t;
}

NftTableSpec nodeFailClosedTable(IpAddress::Family family, std::vector<IpAddress> enrolledPods) {
  std::sort(enrolledPods.begin(), enrolledPods.end());
  enrolledPods.erase(std::unique(enrolledPods.begin(), enrolledPods.end()), enrolledPods.end());
  NftTableSpec t;
  t.family = family == IpAddress::Family::kV6 ? NftFamily::kIp6 : NftFamily::kIp;
  t.name = std::string(kNftTable);
  t.sets = {NftSetSpec{std::string(kNftPodSet), std::move(enrolledPods), family}};
  t.chains = {{"prerouting",
               "filter",
               "prerouting",
               kNftPrioMangle,
               {B().l4proto(P::kTcp).saddrInSet(kNftPodSet, family).counter().drop(),
                B().l4proto(P::kTcp).daddrInSet(kNftPodSet, family).counter().drop()}}};
  return t;
}

namespace {

// The bridge table's rules for one family, keyed on the frame's ether type: mark ztunnel's
// frames, and hand up the TCP of ztunnel, of enrolled pods and to enrolled pods (the set
// `podSet` of that family) from a pod of the bridge's network `subnet`.
std::vector<NftRule> bridgeSteps(const ZtunnelEndpoint& z, const BridgeAttachment& bridge,
                                 const IpAddress& ztunnelIp, const IpPrefix& subnet,
                                 std::string_view podSet) {
  const auto family = ztunnelIp.family();
  const auto port = z.hostVeth.view();
  // `iifname "<ztunnel's port>"` first when `fromZtunnel`, then the ether type.
  auto frames = [&](bool fromZtunnel) {
    B b;
    if (fromZtunnel) b.iifname(port);
    if (family == IpAddress::Family::kV6) {
      b.etherTypeIp6();
    } else {
      b.etherTypeIp();
    }
    return b;
  };
  // No verdict on the marking rules: a frame from ztunnel goes on to the hand-up rule.
  return {
      frames(true)
          .saddr(ztunnelIp, true)
          .setMark(kMarkProxySpoof, kMarkProxySpoof)
          .counter()
          .done(),
      frames(true).saddr(ztunnelIp).setMark(kMarkConnSkip, kMarkConnSkip).counter().done(),
      // TCP from ztunnel, from an enrolled pod, and from a pod of this bridge to an enrolled
      // pod goes up to the IP layer, where the marks, policy routes and conntrack of a routed
      // pod apply. The last rule also carries the replies to ztunnel's spoofed connections
      // (without it a SYN-ACK to ztunnel is bridged straight to the pod). The bridge's subnet
      // keeps it from rewriting frames of other bridges, whose destination MAC is already
      // their own bridge's.
      frames(true).l4proto(P::kTcp).handUp(bridge.mac).counter().accept(),
      frames(false)
          .l4proto(P::kTcp)
          .saddrInSet(podSet, family)
          .handUp(bridge.mac)
          .counter()
          .accept(),
      frames(false)
          .l4proto(P::kTcp)
          .saddrIn(subnet)
          .daddrInSet(podSet, family)
          .handUp(bridge.mac)
          .counter()
          .accept(),
  };
}

}  // namespace

NftTableSpec nodeBridgeTable(const ZtunnelEndpoint& z, const BridgeAttachment& bridge,
                             std::vector<IpAddress> enrolledPods,
                             std::vector<IpAddress> enrolledPods6, bool redirect6) {
  std::sort(enrolledPods.begin(), enrolledPods.end());
  enrolledPods.erase(std::unique(enrolledPods.begin(), enrolledPods.end()), enrolledPods.end());
  std::sort(enrolledPods6.begin(), enrolledPods6.end());
  enrolledPods6.erase(std::unique(enrolledPods6.begin(), enrolledPods6.end()), enrolledPods6.end());
  redirect6 = redirect6 && z.podIp6 && bridge.subnet6;
  const auto v6 = IpAddress::Family::kV6;
  std::vector<NftRule> rules;
  if (bridge.ztunnelMac) {
    // First, before any rule accepts: the bridge learns a frame's source address after this
    // chain, and a frame of another port carrying ztunnel's MAC would move ztunnel's entry to
    // that port (every pod's redirected traffic with it).
    rules.push_back(
        B().iifname(z.hostVeth.view(), true).etherSaddr(*bridge.ztunnelMac).counter().drop());
  }
  if (!redirect6 && !enrolledPods6.empty()) {
    // IPv6 fails closed on this bridge.
    rules.push_back(
        B().etherTypeIp6().l4proto(P::kTcp).saddrInSet(kNftPodSet6, v6).counter().drop());
    rules.push_back(
        B().etherTypeIp6().l4proto(P::kTcp).daddrInSet(kNftPodSet6, v6).counter().drop());
  }
  auto add = [&](std::vector<NftRule> more) {
    rules.insert(rules.end(), std::make_move_iterator(more.begin()),
                 std::make_move_iterator(more.end()));
  };
  add(bridgeSteps(z, bridge, IpAddress::fromV4(*z.podIp), IpPrefix::fromV4(bridge.subnet),
                  kNftPodSet));
  if (redirect6) add(bridgeSteps(z, bridge, *z.podIp6, *bridge.subnet6, kNftPodSet6));
  NftTableSpec t;
  t.family = NftFamily::kBridge;
  t.name = std::string(kNftBridgeTable);
  t.sets = {NftSetSpec{std::string(kNftPodSet), std::move(enrolledPods)}};
  if (redirect6 || !enrolledPods6.empty()) {
    t.sets.push_back(NftSetSpec{std::string(kNftPodSet6), std::move(enrolledPods6), v6});
  }
  t.chains = {{"prerouting", "filter", "prerouting", kNftPrioBridgeFirst, std::move(rules)}};
  return t;
}

NftTableSpec ztunnelNftTable(const ZtunnelEndpoint& z, const IpAddress& ztunnelIp) {
  const bool v6 = ztunnelIp.isV6();
  const IpAddress local = *IpAddress::parse(v6 ? kTproxyIp6 : kTproxyIp);
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
          .daddr(ztunnelIp, true)
          .setMark(kMarkPodReturn, kMarkPodMask)
          .counter()
          .done(),
  };
  NftTableSpec t;
  t.family = v6 ? NftFamily::kIp6 : NftFamily::kIp;
  t.name = std::string(kNftTable);
  t.chains = {{"prerouting", "filter", "prerouting", kNftPrioMangle, std::move(rules)}};
  return t;
}

}  // namespace ambient
