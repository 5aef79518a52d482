// Renders plans and change sets as ip/sysctl/nft text. Pure.
#include "common/core/render.h"

#include <cstdio>

#include "common/core/constants.h"
#include "common/core/hex.h"

namespace ambient {
namespace {

std::string dstText(const IpPrefix& p) {
  return p.len == 0 ? "default" : p.str();
}

// "ip route", "ip -6 rule": the ip(8) object of a family.
std::string ipObject(IpAddress::Family family, std::string_view object) {
  return std::string(family == IpAddress::Family::kV6 ? "ip -6 " : "ip ") + std::string(object);
}

// "ip ambient_redirect", "bridge ambient_bridge": how nft(8) names a table.
std::string tableRef(NftFamily family, const std::string& table) {
  return std::string(nftFamilyName(family)) + " " + table;
}

std::string nftChainLine(const NftTableSpec& t, const NftChainSpec& c) {
  return "add chain " + tableRef(t.family, t.name) + " " + c.name + " { type " + c.type + " hook " +
         c.hook + " priority " + std::to_string(c.priority) + "; policy accept; }\n";
}

std::string elementList(const std::vector<IpAddress>& elems) {
  std::string out;
  for (size_t i = 0; i < elems.size(); ++i) out += (i ? ", " : "") + elems[i].str();
  return out;
}

std::string nftBlock(const std::string& body) {
  return "nft -f - <<'NFT'\n" + body + "NFT\n";
}

// The nft script line(s) of one nft change.
std::string nftChangeBody(const Change& c) {
  if (auto* t = std::get_if<NftTableSpec>(&c.object)) {
    if (c.kind == ChangeKind::kDelete) return "delete table " + tableRef(t->family, t->name) + "\n";
    std::string out;
    if (c.kind == ChangeKind::kUpdate) out += "delete table " + tableRef(t->family, t->name) + "\n";
    return out + renderNftTable(*t);
  }
  const auto& e = std::get<NftElements>(c.object);
  return std::string(c.kind == ChangeKind::kDelete ? "delete" : "add") + " element " +
         tableRef(e.family, e.table) + " " + e.set + " { " + elementList(e.elements) + " }\n";
}

bool isNft(const Change& c) {
  return std::holds_alternative<NftTableSpec>(c.object) ||
         std::holds_alternative<NftElements>(c.object);
}

std::string sysctlKeyText(const std::string& key) {
  // sysctl(8) reads dots as separators unless the key uses slashes; keep slashes only when a
  // component (a device name) has a dot of its own.
  if (key.find('.') != std::string::npos) return key;
  std::string dotted = key;
  for (auto& ch : dotted) {
    if (ch == '/') ch = '.';
  }
  return dotted;
}

}  // namespace

std::string renderTunnel(const TunnelSpec& t) {
  return "ip link add " + t.name + " type " + std::string(tunnelKindName(t.kind)) + " id " +
         std::to_string(t.vni) + " remote " + t.remote.str() + " dstport " +
         std::to_string(t.port) + "\nip link set " + t.name + " mtu " + std::to_string(t.mtu) +
         (t.up ? " up" : " down");
}

std::string renderAddress(const AddressSpec& a) {
  return "ip addr add " + a.prefix.str() + " dev " + a.dev +
         (a.prefix.family() == IpAddress::Family::kV6 ? " nodad" : "");
}

std::string renderRoute(const RouteSpec& r) {
  std::string out = r.type == RouteType::kLocal ? "local " : "";
  out += dstText(r.dst);
  if (r.via) out += " via " + r.via->str();
  out += " dev " + r.dev;
  if (r.onlink) out += " onlink";
  if (r.scope == RouteScope::kLink) out += " scope link";
  if (r.scope == RouteScope::kHost) out += " scope host";
  return out + " table " + std::to_string(r.table) + " proto " + std::to_string(kRouteProtocol);
}

std::string renderRule(const RuleSpec& r) {
  std::string out = "pref " + std::to_string(r.priority);
  if (!r.iif.empty()) out += " iif " + r.iif;
  if (r.fwmask) out += " fwmark " + hexString(r.fwmark) + "/" + hexString(r.fwmask);
  if (r.action == RuleAction::kGoto) {
    out += " goto " + std::to_string(r.gotoTarget);
  } else {
    out += " lookup " + std::to_string(r.table);
  }
  return out + " proto " + std::to_string(kRouteProtocol);
}

std::string renderSysctl(const SysctlSpec& s) {
  return sysctlKeyText(s.key) + "=" + s.value;
}

std::string renderNftTable(const NftTableSpec& t) {
  const std::string ref = tableRef(t.family, t.name);
  std::string out = "add table " + ref + "\n";
  for (const auto& s : t.sets) {
    out += "add set " + ref + " " + s.name + " { type " +
           (s.family == IpAddress::Family::kV6 ? "ipv6_addr" : "ipv4_addr") + "; }\n";
    if (!s.elements.empty()) {
      out += "add element " + ref + " " + s.name + " { " + elementList(s.elements) + " }\n";
    }
  }
  for (const auto& c : t.chains) {
    out += nftChainLine(t, c);
    for (const auto& r : c.rules) out += "add rule " + ref + " " + c.name + " " + r.text + "\n";
  }
  return out;
}

std::string renderPlan(const NetnsPlan& p) {
  std::string out = "# " + std::string(netnsRoleName(p.role)) + " network namespace\n";
  for (const auto& t : p.tunnels) out += renderTunnel(t) + "\n";
  for (const auto& a : p.addresses) out += renderAddress(a) + "\n";
  for (const auto& r : p.routes)
    out += ipObject(r.dst.family(), "route add ") + renderRoute(r) + "\n";
  for (const auto& r : p.rules) out += ipObject(r.family, "rule add ") + renderRule(r) + "\n";
  for (const auto& s : p.sysctls) out += "sysctl -w " + renderSysctl(s) + "\n";
  if (p.bridgeNft) out += nftBlock(renderNftTable(*p.bridgeNft));
  if (p.nft) out += nftBlock(renderNftTable(*p.nft));
  if (p.nft6) out += nftBlock(renderNftTable(*p.nft6));
  return out;
}

std::string renderChangeSet(const ChangeSet& cs) {
  std::string out = "# " + std::string(netnsRoleName(cs.role)) +
                    " network namespace: " + std::to_string(cs.changes.size()) + " change(s)\n";
  std::string nftPending;
  auto flushNft = [&] {
    if (!nftPending.empty()) out += nftBlock(nftPending);
    nftPending.clear();
  };
  for (const auto& c : cs.changes) {
    if (isNft(c)) {
      nftPending += nftChangeBody(c);
      continue;
    }
    flushNft();
    bool del = c.kind == ChangeKind::kDelete;
    std::visit(
        [&](const auto& o) {
          using T = std::decay_t<decltype(o)>;
          if constexpr (std::is_same_v<T, TunnelSpec>) {
            if (del) {
              out += "ip link del " + o.name + "\n";
            } else if (c.kind == ChangeKind::kUpdate) {
              out += "ip link set " + o.name + " mtu " + std::to_string(o.mtu) +
                     (o.up ? " up" : " down") + "\n";
            } else {
              out += renderTunnel(o) + "\n";
            }
          } else if constexpr (std::is_same_v<T, AddressSpec>) {
            out += del ? "ip addr del " + o.prefix.str() + " dev " + o.dev + "\n"
                       : renderAddress(o) + "\n";
          } else if constexpr (std::is_same_v<T, RouteSpec>) {
            out +=
                ipObject(o.dst.family(), del ? "route del " : "route add ") + renderRoute(o) + "\n";
          } else if constexpr (std::is_same_v<T, RuleSpec>) {
            out += ipObject(o.family, del ? "rule del " : "rule add ") + renderRule(o) + "\n";
          } else if constexpr (std::is_same_v<T, SysctlSpec>) {
            out += "sysctl -w " + renderSysctl(o) + (del ? "  # restore original\n" : "\n");
          }
        },
        c.object);
  }
  flushNft();
  return out;
}

std::string describe(const ChangeObject& object) {
  return std::visit(
      [](const auto& o) -> std::string {
        using T = std::decay_t<decltype(o)>;
        if constexpr (std::is_same_v<T, TunnelSpec>) {
          return "tunnel " + o.name;
        } else if constexpr (std::is_same_v<T, AddressSpec>) {
          return "address " + o.prefix.str() + " on " + o.dev;
        } else if constexpr (std::is_same_v<T, RouteSpec>) {
          return std::string(o.dst.family() == IpAddress::Family::kV6 ? "ipv6 " : "") + "route " +
                 dstText(o.dst) + " table " + std::to_string(o.table);
        } else if constexpr (std::is_same_v<T, RuleSpec>) {
          return std::string(o.family == IpAddress::Family::kV6 ? "ipv6 " : "") + "rule pref " +
                 std::to_string(o.priority);
        } else if constexpr (std::is_same_v<T, SysctlSpec>) {
          return "sysctl " + sysctlKeyText(o.key);
        } else if constexpr (std::is_same_v<T, NftTableSpec>) {
          return "nft table " + tableRef(o.family, o.name);
        } else {
          return "nft set " + tableRef(o.family, o.table) + "/" + o.set + " elements " +
                 elementList(o.elements);
        }
      },
      object);
}

std::string_view tunnelKindName(TunnelKind kind) {
  return kind == TunnelKind::kGeneve ? "geneve" : "vxlan";
}

std::string_view netnsRoleName(NetnsRole role) {
  return role == NetnsRole::kNode ? "node" : "ztunnel";
}

}  // namespace ambient
