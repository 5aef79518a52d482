// Strict IPv6 reverse-path filters in other tables (issue 20). Pure.
#include "common/core/rpfilter_check.h"

#include <catch2/catch.hpp>

using namespace ambient;

namespace {

// The expressions nft writes for `fib saddr . <extra> oif missing <verdict>`.
NftRule fibRule(uint32_t flags, uint32_t verdict) {
  NftRule r;
  r.exprs = {NftExpr{"fib", {{"dreg", 1U}, {"result", 1U}, {"flags", flags}}},
             NftExpr{"cmp", {{"sreg", 1U}, {"op", 0U}, {"data", Bytes{0, 0, 0, 0}}}},
             NftExpr{"immediate", {{"dreg", 0U}, {"verdict", verdict}}}};
  return r;
}

constexpr uint32_t kSaddr = 1, kMark = 4, kIif = 8;
constexpr uint32_t kDrop = 0, kAccept = 1;

}  // namespace

TEST_CASE("a strict IPv6 reverse-path filter is found, a loose one is not", "[rpfilter][ipv6]") {
  CHECK(isStrictReversePathRule(fibRule(kSaddr | kMark | kIif, kDrop)));  // firewalld strict
  CHECK(isStrictReversePathRule(fibRule(kSaddr | kIif, kDrop)));
  CHECK_FALSE(isStrictReversePathRule(fibRule(kSaddr | kMark, kDrop)));  // loose: no iif
  CHECK_FALSE(isStrictReversePathRule(fibRule(kSaddr | kMark | kIif, kAccept)));
  auto daddr = fibRule(2 | kIif, kDrop);  // fib daddr . iif: not a reverse-path check
  CHECK_FALSE(isStrictReversePathRule(daddr));
  auto type = fibRule(kSaddr | kIif, kDrop);  // fib ... type: another result
  type.exprs[0].attrs[1].value = 3U;
  CHECK_FALSE(isStrictReversePathRule(type));
  CHECK_FALSE(isStrictReversePathRule(NftRule{}));

  const auto strict = fibRule(kSaddr | kMark | kIif, kDrop);
  std::vector<ForeignRule> rules = {
      {"inet", "firewalld", "filter_PREROUTING", strict},
      {"inet", "firewalld", "filter_PREROUTING", strict},  // named once
      {"ip6", "host", "pre", fibRule(kSaddr | kMark, kDrop)},
      {"ip", "v4only", "pre", strict},  // IPv4 packets only
      {"ip6", "ambient_redirect", "prerouting", strict},
      {"ip6", "raw6", "pre", strict},
  };
  CHECK(strictIpv6ReversePathFilters(rules) ==
        std::vector<std::string>{"table inet firewalld chain filter_PREROUTING",
                                 "table ip6 raw6 chain pre"});
}
