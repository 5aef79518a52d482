// nftables objects as plain data: a rule is the list of netlink expressions the kernel stores,
// so desired and observed rules compare exactly (docs/DESIGN.md section 4: compare as data, not
// text). Pure.
#pragma once

#include <arpa/inet.h>

#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "common/core/ip_address.h"

namespace ambient {

using Bytes = std::vector<uint8_t>;

// Register contents as nft stores them: host-endian u32 (marks), network-order addresses and
// ports.
inline Bytes hostU32Bytes(uint32_t v) {
  Bytes b(4);
  std::memcpy(b.data(), &v, 4);
  return b;
}
inline Bytes be32Bytes(uint32_t v) {
  uint32_t n = htonl(v);
  Bytes b(4);
  std::memcpy(b.data(), &n, 4);
  return b;
}
inline Bytes be16Bytes(uint16_t v) {
  uint16_t n = htons(v);
  Bytes b(2);
  std::memcpy(b.data(), &n, 2);
  return b;
}

// One attribute of an expression: keys are libnftnl's attribute names ("sreg", "data", ...).
struct NftAttr {
  std::string key;
  std::variant<uint32_t, std::string, Bytes> value;
  bool operator==(const NftAttr&) const = default;
};

// One expression ("meta", "cmp", "payload", ...) with its attributes in a fixed order.
struct NftExpr {
  std::string kind;
  std::vector<NftAttr> attrs;
  bool operator==(const NftExpr&) const = default;
  // "[cmp sreg=1 op=0 data=0x00000200]": the form shown for rules we cannot name.
  std::string str() const;
};

struct NftCounter {
  uint64_t packets = 0;
  uint64_t bytes = 0;
};

struct NftRule {
  std::string text;  // the nft statement this rule stands for
  std::vector<NftExpr> exprs;
  std::optional<NftCounter> counter;  // observed only
  // Rules are equal when the kernel would run the same expressions.
  bool operator==(const NftRule& o) const { return exprs == o.exprs; }
};

struct NftChainSpec {
  std::string name;
  std::string type;  // "filter" or "nat"
  std::string hook;  // "prerouting", "input", "forward", "postrouting"
  int priority = 0;
  std::vector<NftRule> rules;
  bool operator==(const NftChainSpec&) const = default;
};

// An ipv4_addr or ipv6_addr set and its members (sorted, unique, all of `family`).
struct NftSetSpec {
  std::string name;
  std::vector<IpAddress> elements;
  IpAddress::Family family = IpAddress::Family::kV4;  // the key type
  bool operator==(const NftSetSpec&) const = default;
};

// The address family a table belongs to: `ip` sees IPv4 at the IP layer, `ip6` IPv6, `bridge`
// frames a Linux bridge forwards (docs/DESIGN.md, "Pods on a Linux bridge").
enum class NftFamily : uint8_t { kIp, kBridge, kIp6 };
std::string_view nftFamilyName(NftFamily family);

struct NftTableSpec {
  NftFamily family = NftFamily::kIp;
  std::string name;
  std::vector<NftSetSpec> sets;
  std::vector<NftChainSpec> chains;
  bool operator==(const NftTableSpec&) const = default;
  // Same chains and set definitions; set members may differ.
  bool sameStructure(const NftTableSpec& o) const;
};

}  // namespace ambient
