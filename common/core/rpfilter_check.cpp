// Strict IPv6 reverse-path filters in other tables. Pure.
#include "common/core/rpfilter_check.h"

#include <algorithm>

#include "common/core/constants.h"

namespace ambient {
namespace {

// Kernel values (linux/netfilter/nf_tables.h): facts of the fib expression and NF_DROP.
constexpr uint32_t kFibFlagSaddr = 1U << 0;
constexpr uint32_t kFibFlagIif = 1U << 3;
constexpr uint32_t kFibResultOif = 1;
constexpr uint32_t kVerdictDrop = 0;

const uint32_t* u32Attr(const NftExpr& e, const std::string& key) {
  for (const auto& a : e.attrs) {
    if (a.key == key) return std::get_if<uint32_t>(&a.value);
  }
  return nullptr;
}

}  // namespace

bool isStrictReversePathRule(const NftRule& rule) {
  bool strictFib = false;
  bool drops = false;
  for (const auto& e : rule.exprs) {
    if (e.kind == "fib") {
      const uint32_t* flags = u32Attr(e, "flags");
      const uint32_t* result = u32Attr(e, "result");
      if (flags && result && (*flags & kFibFlagSaddr) && (*flags & kFibFlagIif) &&
          *result == kFibResultOif) {
        strictFib = true;
      }
    }
    if (e.kind == "immediate") {
      const uint32_t* verdict = u32Attr(e, "verdict");
      if (verdict && *verdict == kVerdictDrop) drops = true;
    }
  }
  return strictFib && drops;
}

std::vector<std::string> strictIpv6ReversePathFilters(const std::vector<ForeignRule>& rules) {
  std::vector<std::string> found;
  for (const auto& r : rules) {
    if (r.family != "ip6" && r.family != "inet") continue;
    if (r.table == kNftTable) continue;  // ours never holds one
    if (!isStrictReversePathRule(r.rule)) continue;
    std::string where = "table " + r.family + " " + r.table + " chain " + r.chain;
    if (std::find(found.begin(), found.end(), where) == found.end()) found.push_back(where);
  }
  return found;
}

}  // namespace ambient
