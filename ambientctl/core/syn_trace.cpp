// The hops of a TCP SYN through the node and the ztunnel pod, from observed state, in the SYN's
// address family. Pure.
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

// "10.0.0.1:80", "[fd00::1]:80".
std::string endpoint(const IpAddress& a, uint16_t port) {
  return (a.isV6() ? "[" + a.str() + "]" : a.str()) + ":" + std::to_string(port);
}

// The unspecified address of `a`'s family (a route lookup without a source).
IpAddress unspecified(const IpAddress& a) {
  return IpPrefix::any(a.family()).addr;
}

class Tracer {
 public:
  Tracer(const TraceState& s, const RouteLookup& lookup) : s_(s), lookup_(lookup) {}

  void hop(const std::string& text) {
    hops_.push_back("(" + std::to_string(hops_.size() + 1) + ") " + text);
  }

  // Our prerouting chain of one namespace, in the table of the packet's family (`ip`, or
  // `ip6`, which the hops name); returns the packet's mark after it.
  ChainVerdict prerouting(const NetnsPlan& ns, TracePacket& p, const std::string& where) {
    ChainVerdict v;
    const bool v6 = p.daddr.isV6();
    const auto& table = ns.nftOf(v6 ? NftFamily::kIp6 : NftFamily::kIp);
    if (!table) {
      hop(where + (v6 ? ": no ip6 nft table of ours (not programmed)"
                      : ": no nft table of ours (not programmed)"));
      return v;
    }
    const std::string chain =
        where + " nft " + (v6 ? "ip6 " + table->name + " " : "") + "prerouting";
    for (const auto& c : table->chains) {
      if (c.name != "prerouting") continue;
      v = evaluateChain(*table, c, p);
      if (v.ruleIndex < 0) {
        hop(chain + ": no rule matches; mark stays " + hexString(p.mark));
      } else {
        std::string counter =
            v.counter ? " [counter " + std::to_string(v.counter->packets) + " packets]" : "";
        hop(chain + " rule #" + std::to_string(v.ruleIndex) + ": " + v.ruleText + counter +
            " -> mark " + hexString(p.mark));
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
    const NftChainSpec* chain = nullptr;
    for (const auto& c : s_.node.bridgeNft->chains) {
      if (c.name != "prerouting") continue;
      v = evaluateChain(*s_.node.bridgeNft, c, p);
      chain = &c;
    }
    std::string counter =
        v.counter ? " [counter " + std::to_string(v.counter->packets) + " packets]" : "";
    const bool onBridge = p.daddr.isV6() ? b.subnet6 && b.subnet6->contains(p.daddr)
                                         : IpPrefix::fromV4(b.subnet).contains(p.daddr);
    if (v.verdict == "drop") {
      hop(where + " rule #" + std::to_string(v.ruleIndex) + ": " + v.ruleText + counter +
          " -> dropped on the bridge, the connection times out: the node fails closed for " +
          (p.daddr.isV6() ? "IPv6" : "IPv4") +
          " (it cannot redirect this family now; the agent's /readyz says why)");
      return false;
    }
    if (p.toHost) {
      // The rules that matched before the hand-up set the mark (ztunnel's frames): name them.
      std::string marked;
      for (int i : v.matched) {
        if (!chain || i == v.ruleIndex || i < 1 || i > static_cast<int>(chain->rules.size())) {
          continue;
        }
        marked += (marked.empty() ? " (after rule #" : "; rule #") + std::to_string(i) + ": " +
                  chain->rules[i - 1].text;
      }
      if (!marked.empty()) marked += ")";
      hop(where + " rule #" + std::to_string(v.ruleIndex) + ": " + v.ruleText + counter +
          " -> handed up to the IP layer on " + b.bridge.str() + ", mark " + hexString(p.mark) +
          marked);
    } else if (onBridge) {
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

  // The first of our ip rules of `family` that matches, as the kernel walks them (lower
  // priority first).
  std::string ruleFor(const NetnsPlan& ns, IpAddress::Family family, const std::string& iif,
                      uint32_t mark) {
    const std::string ip = family == IpAddress::Family::kV6 ? "ip -6 rule " : "ip rule ";
    auto rules = ns.rules;
    std::sort(rules.begin(), rules.end(), [](auto& a, auto& b) { return a.priority < b.priority; });
    for (const auto& r : rules) {
      if (r.family != family) continue;
      if (!r.iif.empty() && r.iif != (iif.empty() ? "lo" : iif)) continue;
      if (r.fwmask && (mark & r.fwmask) != r.fwmark) continue;
      return ip + renderRule(r);
    }
    return ip + "32766 lookup main";
  }

  // The kernel's route for the packet, as one hop. A failed lookup is a hop too (the kernel's
  // answer, e.g. "No route to host"): the packet goes no further, so the trace ends there
  // (nullopt), and the hops before it are still shown. `note` is added to a failed hop.
  std::optional<RouteAnswer> route(NetnsRole role, const NetnsPlan& ns, const TracePacket& p,
                                   const std::string& where, const std::string& note = "") {
    auto a = lookup_(role, p.daddr, p.saddr, p.iif, p.mark);
    std::string rule = where + " routing: " + ruleFor(ns, p.daddr.family(), p.iif, p.mark) + " -> ";
    if (!a) {
      hop(rule + "no route, the packet stops here: " + a.error().message() + note);
      return std::nullopt;
    }
    std::string via = a->via ? " via " + a->via->str() : "";
    std::string table = a->table ? " table " + std::to_string(a->table) : "";
    hop(rule + (a->local ? "local delivery" : p.daddr.str() + via + " dev " + a->dev) + table);
    return *a;
  }

  // Whether the node's prerouting dropped the packet: with a family that fails closed the
  // node's table of that family only drops enrolled pods' TCP (nodeFailClosedTable); the hop
  // says so and the trace ends.
  bool droppedAtNode(const ChainVerdict& v, const TracePacket& p) {
    if (v.verdict != "drop") return false;
    hop(std::string("node: dropped here, the connection times out: the node fails closed for ") +
        (p.daddr.isV6() ? "IPv6" : "IPv4") +
        " (it cannot redirect this family now; the agent's /readyz says why)");
    return true;
  }

  const TunnelSpec* tunnel(const std::string& dev) const {
    for (const auto& t : s_.node.tunnels) {
      if (t.name == dev) return &t;
    }
    return nullptr;
  }

  const PodRecord* podByIp(const IpAddress& ip) const {
    for (const auto& [uid, p] : s_.registry.pods) {
      for (const auto& a : p.ips) {
        if (a == ip) return &p;
      }
    }
    return nullptr;
  }

  Result<std::vector<std::string>> run(const IpAddress& src, const IpAddress& dst, uint16_t port) {
    if (src.family() != dst.family()) {
      return fail(ErrorCode::kInvalidInput, "source " + src.str() + " and destination " +
                                                dst.str() +
                                                " are of different address families: a SYN "
                                                "has one, trace IPv4 or IPv6 addresses");
    }
    TracePacket p{"", src, dst, 6, port, 0, 0};
    const PodRecord* from = podByIp(src);
    if (from) {
      p.iif = from->hostVeth.str();
      hop(from->podNamespace + "/" + from->name + " (" + src.str() + ") sends a TCP SYN to " +
          endpoint(dst, port) + "; it enters the node on " + p.iif +
          (from->enrolled ? " (enrolled)" : " (not enrolled)"));
      // A pod on ztunnel's bridge: the node routes its IP via the bridge, not its veth.
      if (s_.bridge) {
        auto back = lookup_(NetnsRole::kNode, src, unspecified(src), "", 0);
        if (back && back->dev == s_.bridge->bridge.str() && !bridgeHop(p)) return hops_;
      }
    } else {
      auto back = lookup_(NetnsRole::kNode, src, unspecified(src), "", 0);
      if (!back) {
        hop(src.str() +
            " is outside this node and the node has no route back to it, so the "
            "interface its SYN arrives on is unknown: " +
            back.error().message());
        return hops_;
      }
      p.iif = back->dev;
      hop(src.str() + " is outside this node; its SYN to " + endpoint(dst, port) + " arrives on " +
          p.iif + " (the node's route back to it)");
    }
    if (droppedAtNode(prerouting(s_.node, p, "node"), p)) return hops_;
    auto r = route(NetnsRole::kNode, s_.node, p, "node");
    if (!r) return hops_;
    const TunnelSpec* t = tunnel(r->dev);
    if (!t) {
      hop("leaves the node via " + r->dev + ": not redirected");
      return hops_;
    }
    std::string peer = "p" + t->name;
    hop(t->name + ": " + std::string(tunnelKindName(t->kind)) + " VNI " + std::to_string(t->vni) +
        " to " + endpoint(t->remote, t->port) + " -> " + peer + " in the ztunnel pod");
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
    hop("ztunnel accepts on " + endpoint(v.tproxy->first, listener) +
        " with original destination " + endpoint(dst, port) + " and source " + src.str());
    // ztunnel's onward (15001) or delivering (15006/15008) connection, from the original source.
    // This is a new packet, from ztunnel's veth with a source that is not ztunnel's IP: the node
    // marks it 0x210 (docs/DESIGN.md section 3, step 5), unlike the client's SYN above.
    const auto& z0 = s_.registry.ztunnel;
    if (!z0) return hops_;
    TracePacket onward{z0->hostVeth.str(), src, dst, 6, port, 0, 0};
    hop("ztunnel connects from " + src.str() + " (original source) to " + endpoint(dst, port) +
        "; it enters the node on " + z0->hostVeth.str());
    if (!bridgeHop(onward)) return hops_;
    if (droppedAtNode(prerouting(s_.node, onward, "node"), onward)) return hops_;
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

Result<std::vector<std::string>> traceSyn(const TraceState& state, const IpAddress& src,
                                          const IpAddress& dst, uint16_t port,
                                          const RouteLookup& lookup) {
  return Tracer(state, lookup).run(src, dst, port);
}

}  // namespace ambient
