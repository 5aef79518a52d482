// A model of the kernel for pure tests: what apply() leaves behind, including the kernel's own
// removal of addresses and routes whose device was deleted. Pure.
#pragma once

#include <algorithm>
#include <catch2/catch.hpp>

#include "common/core/diff.h"

namespace ambient::testing {

template <class T>
inline void eraseByValue(std::vector<T>& v, const T& x) {
  v.erase(std::remove(v.begin(), v.end(), x), v.end());
}

inline ObservedState model(ObservedState s, const ChangeSet& cs) {
  for (const auto& c : cs.changes) {
    bool del = c.kind == ChangeKind::kDelete;
    std::visit(
        [&](const auto& o) {
          using T = std::decay_t<decltype(o)>;
          if constexpr (std::is_same_v<T, TunnelSpec>) {
            auto& v = s.owned.tunnels;
            v.erase(std::remove_if(v.begin(), v.end(), [&](auto& t) { return t.name == o.name; }),
                    v.end());
            if (del) {
              std::erase_if(s.owned.addresses, [&](auto& a) { return a.dev == o.name; });
              std::erase_if(s.owned.routes, [&](auto& r) { return r.dev == o.name; });
            } else {
              v.push_back(o);
            }
          } else if constexpr (std::is_same_v<T, SysctlSpec>) {
            std::erase_if(s.owned.sysctls, [&](auto& x) { return x.key == o.key; });
            if (del) {
              s.sysctlOriginals.erase(o.key);
            } else {
              s.sysctlOriginals.emplace(o.key, "1");
              s.owned.sysctls.push_back(o);
            }
          } else if constexpr (std::is_same_v<T, NftTableSpec>) {
            auto& table = s.owned.nftOf(o.family);
            if (del)
              table.reset();
            else
              table = o;
          } else if constexpr (std::is_same_v<T, NftElements>) {
            auto& table = s.owned.nftOf(o.family);
            REQUIRE(table);
            auto set = std::find_if(table->sets.begin(), table->sets.end(),
                                    [&](const NftSetSpec& x) { return x.name == o.set; });
            REQUIRE(set != table->sets.end());
            auto& elems = set->elements;
            for (auto ip : o.elements) {
              if (del)
                eraseByValue(elems, ip);
              else
                elems.push_back(ip);
            }
            std::sort(elems.begin(), elems.end());
          } else {
            auto& v = [&]() -> auto& {
              if constexpr (std::is_same_v<T, AddressSpec>)
                return s.owned.addresses;
              else if constexpr (std::is_same_v<T, RouteSpec>)
                return s.owned.routes;
              else
                return s.owned.rules;
            }
            ();
            if (del)
              eraseByValue(v, o);
            else
              v.push_back(o);
          }
        },
        c.object);
  }
  return s;
}

}  // namespace ambient::testing
