// The hops of a TCP SYN through the node and the ztunnel pod, from observed state. Pure.
#include "ambientctl/core/syn_trace.h"

#include <algorithm>
#include <cstdio>
#include <optional>

#include "common/core/constants.h"
#include "common/core/hex.h"
#include "common/core/nft_eval.h"
#include "common/core/render.h"

namespace ambient {
namespace {

class Tracer {
 public:
  Tracer(const TraceState& s, const RouteLookup& lookup) : s_(s), lookup_(lookup) {}

  void hop(const std::string& text) {
    hops_.push_back("(" + std::to_string(hops_.size() + 1) + ") " + text);
  }

  // Our prerouting chain of one namespace; returns the packet's mark after it.
  ChainVerdict prerouting(const NetnsPlan& ns, TracePacket& p, const std::string& where) {
    ChainVerdict v;
    if (!ns.nft) {
      hop(where + ": no nft table of ours (not programmed)");
      return v;
    }
    for (const auto& c : ns.nft->chains) {
      if (c.name != "prerouting") continue;
      v = evaluateChain(*ns.nft, c, p);
      if (v.ruleIndex < 0) {
        hop(where + " nft prerouting: no rule matches; mark stays " + hexString(p.mark));
      } else {
        std::string counter =
            v.counter ? " [counter " + std::to_string(v.counter->packets) + " packets]" : "";
        hop(where + " nft prerouting rule #" + std::to_string(v.ruleIndex) + ": " + v.ruleText +
            counter + " -> mark " + hexString(p.mark));
      }
    }
    return v;
  }

  // Bridge mode: a frame that entered on a port of ztunnel's bridge (`p.iif`) meets the node's
  // bridge table first. On a hand-up it goes on with the bridge as input interface; returns
  // false when it is bridged to its destination past the IP layer (the trace ends there).
  bool bridgeHop(TracePacket& p) {
    if (!s_.bridge || !s_.node.bridgeNft) return true;
    const BridgeAttachment& b = *s_.bridge;
    const std::string where = "node bridge " + b.bridge.str() + " nft prerouting";
    ChainVerdict v;
    for (const auto& c : s_.node.bridgeNft->chains) {
      if (c.name == "prerouting") v = evaluateChain(*s_.node.bridgeNft, c, p);
    }
    const uint32_t mask = ~uint32_t{0} << (32 - b.subnet.len);
    if (p.toHost) {
      std::string counter =
          v.counter ? " [counter " + std::to_string(v.counter->packets) + " packets]" : "";
      hop(where + " rule #" + std::to_string(v.ruleIndex) + ": " + v.ruleText + counter +
          " -> handed up to the IP layer on " + b.bridge.str() + ", mark " + hexString(p.mark));
    } else if ((p.daddr.value & mask) == (b.subnet.addr.value & mask)) {
      hop(where + ": no rule hands it up; bridged to " + p.daddr.str() + " on " + b.bridge.str() +
          ": not redirected");
      return false;
    } else {
      hop(where + ": no rule hands it up; addressed to the gateway, it enters the IP layer on " +
          b.bridge.str());
    }
    p.iif = b.bridge.str();
    return true;
  }

  // The first of our IPv4 ip rules that matches, as the kernel walks them (lower priority
  // first).
  std::string ruleFor(const NetnsPlan& ns, const std::string& iif, uint32_t mark) {
    auto rules = ns.rules;
    std::sort(rules.begin(), rules.end(), [](auto& a, auto& b) { return a.priority < b.priority; });
    for (const auto& r : rules) {
      if (r.family != IpAddress::Family::kV4) continue;
      if (!r.iif.empty() && r.iif != (iif.empty() ? "lo" : iif)) continue;
      if (r.fwmask && (mark & r.fwmask) != r.fwmark) continue;
      return "ip rule " + renderRule(r);
    }
    return "ip rule 32766 lookup main";
  }

  // The kernel's route for the packet, as one hop. A failed lookup is a hop too (the kernel's
  // answer, e.g. "No route to host"): the packet goes no further, so the trace ends there
  // (nullopt), and the hops before it are still shown. `note` is added to a failed hop.
  std::optional<RouteAnswer> route(NetnsRole role, const NetnsPlan& ns, const TracePacket& p,
                                   const std::string& where, const std::string& note = "") {
    auto a = lookup_(role, p.daddr, p.saddr, p.iif, p.mark);
    std::string rule = where + " routing: " + ruleFor(ns, p.iif, p.mark) + " -> ";
    if (!a) {
      hop(rule + "no route, the packet stops here: " + a.error().message() + note);
      return std::nullopt;
    }
    std::string via = a->via ? " via " + a->via->str() : "";
    std::string table = a->table ? " table " + std::to_string(a->table) : "";
    hop(rule + (a->local ? "local delivery" : p.daddr.str() + via + " dev " + a->dev) + table);
    return *a;
  }

  const TunnelSpec* tunnel(const std::string& dev) const {
    for (const auto& t : s_.node.tunnels) {
      if (t.name == dev) return &t;
    }
    return nullptr;
  }

  const PodRecord* podByIp(Ipv4 ip) const {
    for (const auto& [uid, p] : s_.registry.pods) {
      for (const auto& a : p.ips) {
        if (a.v4() == ip) return &p;
      }
    }
    return nullptr;
  }

  Result<std::vector<std::string>> run(Ipv4 src, Ipv4 dst, uint16_t port) {
    TracePacket p{"", src, dst, 6, port, 0, 0};
    const PodRecord* from = podByIp(src);
    if (from) {
      p.iif = from->hostVeth.str();
      hop(from->podNamespace + "/" + from->name + " (" + src.str() + ") sends a TCP SYN to " +
          dst.str() + ":" + std::to_string(port) + "; it enters the node on " + p.iif +
          (from->enrolled ? " (enrolled)" : " (not enrolled)"));
      // A pod on ztunnel's bridge: the node routes its IP via the bridge, not its veth.
      if (s_.bridge) {
        auto back = lookup_(NetnsRole::kNode, src, Ipv4{0}, "", 0);
        if (back && back->dev == s_.bridge->bridge.str() && !bridgeHop(p)) return hops_;
      }
    } else {
      auto back = lookup_(NetnsRole::kNode, src, Ipv4{0}, "", 0);
      if (!back) {
        hop(src.str() +
            " is outside this node and the node has no route back to it, so the "
            "interface its SYN arrives on is unknown: " +
            back.error().message());
        return hops_;
      }
      p.iif = back->dev;
      hop(src.str() + " is outside this node; its SYN to " + dst.str() + ":" +
          std::to_string(port) + " arrives on " + p.iif + " (the node's route back to it)");
    }
    prerouting(s_.node, p, "node");
    auto r = route(NetnsRole::kNode, s_.node, p, "node");
    if (!r) return hops_;
    const TunnelSpec* t = tunnel(r->dev);
    if (!t) {
      hop("leaves the node via " + r->dev + ": not redirected");
      return hops_;
    }
    std::string peer = "p" + t->name;
    hop(t->name + ": " + std::string(tunnelKindName(t->kind)) + " VNI " + std::to_string(t->vni) +
        " to " + t->remote.str() + ":" + std::to_string(t->port) + " -> " + peer +
        " in the ztunnel pod");
    TracePacket z{peer, src, dst, 6, port, 0, 0};  // marks do not cross the encapsulation
    auto v = prerouting(s_.ztunnel, z, "ztunnel");
    if (!v.tproxy) {
      hop("ztunnel: no TPROXY rule took the SYN" +
          std::string(v.verdict == "drop" ? ": dropped" : ""));
      return hops_;
    }
    auto local = route(NetnsRole::kZtunnel, s_.ztunnel, z, "ztunnel");
    if (!local) return hops_;
    uint16_t listener = v.tproxy->second;
    hop("ztunnel accepts on " + v.tproxy->first.str() + ":" + std::to_string(listener) +
        " with original destination " + dst.str() + ":" + std::to_string(port) + " and source " +
        src.str());
    // ztunnel's onward (15001) or delivering (15006/15008) connection, from the original source.
    // This is a new packet, from ztunnel's veth with a source that is not ztunnel's IP: the node
    // marks it 0x210 (docs/DESIGN.md section 3, step 5), unlike the client's SYN above.
    const auto& z0 = s_.registry.ztunnel;
    if (!z0) return hops_;
    TracePacket onward{z0->hostVeth.str(), src, dst, 6, port, 0, 0};
    hop("ztunnel connects from " + src.str() + " (original source) to " + dst.str() + ":" +
        std::to_string(port) + "; it enters the node on " + z0->hostVeth.str());
    if (!bridgeHop(onward)) return hops_;
    prerouting(s_.node, onward, "node");
    // ztunnel balances a Service itself: it connects to the endpoint it picks, not to the VIP,
    // and a node may have no route for a VIP at all (kube-proxy's DNAT stands in for one).
    auto out = route(NetnsRole::kNode, s_.node, onward, "node",
                     " (if " + dst.str() +
                         " is a Service VIP, ztunnel connects to the endpoint it picks instead, "
                         "which this trace does not know)");
    if (!out) return hops_;
    const PodRecord* to = podByIp(dst);
    hop("leaves via " + out->dev +
        (to ? " to " + to->podNamespace + "/" + to->name : std::string(" off the node")));
    return hops_;
  }

 private:
  const TraceState& s_;
  const RouteLookup& lookup_;
  std::vector<std::string> hops_;
};

}  // namespace

Result<std::vector<std::string>> traceSyn(const TraceState& state, Ipv4 src, Ipv4 dst,
                                          uint16_t port, const RouteLookup& lookup) {
  return Tracer(state, lookup).run(src, dst, port);
}

}  // namespace ambient
