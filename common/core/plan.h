// Desired (and observed) kernel state of one network namespace as plain values. Pure.
// Each spec has an identity key (what diff matches on) and renders as the `ip`/`nft` text it
// stands for (render.h).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/core/ip_address.h"
#include "common/core/ipv4.h"
#include "common/core/nft_spec.h"

namespace ambient {

enum class TunnelKind { kGeneve, kVxlan };
std::string_view tunnelKindName(TunnelKind kind);

struct TunnelSpec {
  std::string name;
  TunnelKind kind = TunnelKind::kGeneve;
  uint32_t vni = 0;
  IpAddress remote;  // the other end: its family is the underlay's (IPv6 on IPv6-only nodes)
  uint16_t port = 0;
  uint32_t mtu = 0;
  bool up = true;
  bool operator==(const TunnelSpec&) const = default;
};

// An IPv6 address is added without duplicate address detection (nodad): the tunnel ends are
// fixed, and a tentative address would drop the first packets.
struct AddressSpec {
  std::string dev;
  IpPrefix prefix;
  bool operator==(const AddressSpec&) const = default;
};

enum class RouteType { kUnicast, kLocal };
enum class RouteScope { kUniverse, kLink, kHost };

struct RouteSpec {
  uint32_t table = 0;
  RouteType type = RouteType::kUnicast;
  IpPrefix dst;  // its family is the route's
  std::optional<IpAddress> via;
  std::string dev;
  bool onlink = false;
  RouteScope scope = RouteScope::kUniverse;
  bool operator==(const RouteSpec&) const = default;
};

enum class RuleAction { kLookup, kGoto };

struct RuleSpec {
  IpAddress::Family family = IpAddress::Family::kV4;  // `ip rule` or `ip -6 rule`
  uint32_t priority = 0;
  std::string iif;  // empty: any
  uint32_t fwmark = 0;
  uint32_t fwmask = 0;  // 0: no fwmark match
  RuleAction action = RuleAction::kLookup;
  uint32_t table = 0;       // kLookup
  uint32_t gotoTarget = 0;  // kGoto: priority of the target rule
  bool operator==(const RuleSpec&) const = default;
};

// A sysctl as its path below /proc/sys: "net/ipv4/conf/istioin/rp_filter" (slashes, so that
// device names with dots stay unambiguous).
struct SysctlSpec {
  std::string key;
  std::string value;
  bool operator==(const SysctlSpec&) const = default;
};

// Which namespace a plan is for; also names it in messages and the sysctl ledger.
enum class NetnsRole { kNode, kZtunnel };
std::string_view netnsRoleName(NetnsRole role);

struct NetnsPlan {
  NetnsRole role = NetnsRole::kNode;
  std::vector<TunnelSpec> tunnels;
  std::vector<AddressSpec> addresses;
  std::vector<RouteSpec> routes;
  std::vector<RuleSpec> rules;
  std::vector<SysctlSpec> sysctls;
  std::optional<NftTableSpec> nft;        // family ip, kNftTable
  std::optional<NftTableSpec> bridgeNft;  // family bridge, kNftBridgeTable (node, bridge mode)
  std::optional<NftTableSpec> nft6;       // family ip6, kNftTable (IPv6 pods)
  bool operator==(const NetnsPlan&) const = default;

  // The table slot of `family`.
  std::optional<NftTableSpec>& nftOf(NftFamily family) {
    return family == NftFamily::kBridge ? bridgeNft : family == NftFamily::kIp6 ? nft6 : nft;
  }
  const std::optional<NftTableSpec>& nftOf(NftFamily family) const {
    return const_cast<NetnsPlan*>(this)->nftOf(family);
  }
};

// What observe() read: only objects we own. Sysctl values are those of the keys asked for;
// `sysctlOriginals` is the ledger: the value each sysctl had before we first changed it.
struct ObservedState {
  NetnsPlan owned;
  std::map<std::string, std::string> sysctlOriginals;
};

}  // namespace ambient
