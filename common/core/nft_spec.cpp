// nftables objects as plain data. Pure.
#include "common/core/nft_spec.h"

#include <algorithm>
#include <cstdio>

namespace ambient {

std::string NftExpr::str() const {
  std::string out = "[" + kind;
  for (const auto& a : attrs) {
    out += " " + a.key + "=";
    if (auto* n = std::get_if<uint32_t>(&a.value)) {
      out += std::to_string(*n);
    } else if (auto* s = std::get_if<std::string>(&a.value)) {
      out += *s;
    } else {
      out += "0x";
      char buf[3];
      for (uint8_t b : std::get<Bytes>(a.value)) {
        std::snprintf(buf, sizeof buf, "%02x", b);
        out += buf;
      }
    }
  }
  return out + "]";
}

std::string_view nftFamilyName(NftFamily family) {
  switch (family) {
    case NftFamily::kBridge:
      return "bridge";
    case NftFamily::kIp6:
      return "ip6";
    case NftFamily::kIp:
      break;
  }
  return "ip";
}

bool NftTableSpec::sameStructure(const NftTableSpec& o) const {
  // The kernel lists chains and sets in creation order; compare them by name.
  if (family != o.family || name != o.name || chains.size() != o.chains.size() ||
      sets.size() != o.sets.size()) {
    return false;
  }
  for (const auto& c : chains) {
    auto it = std::find_if(o.chains.begin(), o.chains.end(),
                           [&](const NftChainSpec& x) { return x.name == c.name; });
    if (it == o.chains.end() || !(*it == c)) return false;
  }
  for (const auto& s : sets) {
    auto it = std::find_if(o.sets.begin(), o.sets.end(),
                           [&](const NftSetSpec& x) { return x.name == s.name; });
    if (it == o.sets.end() || it->family != s.family) return false;
  }
  return true;
}

}  // namespace ambient
