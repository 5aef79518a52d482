// NftExpr <-> libnftnl expressions. Links libnftnl; no system calls.
#include "common/sys/nft_codec.h"

#include <cstring>
#include <map>

#include "common/sys/c_ptr.h"

namespace ambient {
namespace {

enum class AttrType { kU32, kStr, kData, kVerdict };
struct AttrInfo {
  std::string key;
  uint16_t id;
  AttrType type;
};

// The attributes we write and compare, per expression kind, in the order the builder emits them.
const std::map<std::string, std::vector<AttrInfo>>& attrTable() {
  static const std::map<std::string, std::vector<AttrInfo>> table = {
      {"meta",
       {{"key", NFTNL_EXPR_META_KEY, AttrType::kU32},
        {"dreg", NFTNL_EXPR_META_DREG, AttrType::kU32},
        {"sreg", NFTNL_EXPR_META_SREG, AttrType::kU32}}},
      {"cmp",
       {{"sreg", NFTNL_EXPR_CMP_SREG, AttrType::kU32},
        {"op", NFTNL_EXPR_CMP_OP, AttrType::kU32},
        {"data", NFTNL_EXPR_CMP_DATA, AttrType::kData}}},
      {"payload",
       {{"dreg", NFTNL_EXPR_PAYLOAD_DREG, AttrType::kU32},
        {"sreg", NFTNL_EXPR_PAYLOAD_SREG, AttrType::kU32},
        {"base", NFTNL_EXPR_PAYLOAD_BASE, AttrType::kU32},
        {"offset", NFTNL_EXPR_PAYLOAD_OFFSET, AttrType::kU32},
        {"len", NFTNL_EXPR_PAYLOAD_LEN, AttrType::kU32},
        {"csum_type", NFTNL_EXPR_PAYLOAD_CSUM_TYPE, AttrType::kU32},
        {"csum_offset", NFTNL_EXPR_PAYLOAD_CSUM_OFFSET, AttrType::kU32},
        {"csum_flags", NFTNL_EXPR_PAYLOAD_FLAGS, AttrType::kU32}}},
      {"bitwise",
       {{"sreg", NFTNL_EXPR_BITWISE_SREG, AttrType::kU32},
        {"dreg", NFTNL_EXPR_BITWISE_DREG, AttrType::kU32},
        {"len", NFTNL_EXPR_BITWISE_LEN, AttrType::kU32},
        {"mask", NFTNL_EXPR_BITWISE_MASK, AttrType::kData},
        {"xor", NFTNL_EXPR_BITWISE_XOR, AttrType::kData}}},
      {"ct",
       {{"key", NFTNL_EXPR_CT_KEY, AttrType::kU32},
        {"dreg", NFTNL_EXPR_CT_DREG, AttrType::kU32},
        {"sreg", NFTNL_EXPR_CT_SREG, AttrType::kU32}}},
      {"immediate",
       {{"dreg", NFTNL_EXPR_IMM_DREG, AttrType::kU32},
        {"data", NFTNL_EXPR_IMM_DATA, AttrType::kData},
        {"verdict", NFTNL_EXPR_IMM_VERDICT, AttrType::kVerdict}}},
      {"lookup",
       {{"sreg", NFTNL_EXPR_LOOKUP_SREG, AttrType::kU32},
        {"set", NFTNL_EXPR_LOOKUP_SET, AttrType::kStr}}},
      {"tproxy",
       {{"family", NFTNL_EXPR_TPROXY_FAMILY, AttrType::kU32},
        {"reg_addr", NFTNL_EXPR_TPROXY_REG_ADDR, AttrType::kU32},
        {"reg_port", NFTNL_EXPR_TPROXY_REG_PORT, AttrType::kU32}}},
      {"nat",
       {{"type", NFTNL_EXPR_NAT_TYPE, AttrType::kU32},
        {"family", NFTNL_EXPR_NAT_FAMILY, AttrType::kU32},
        {"reg_addr_min", NFTNL_EXPR_NAT_REG_ADDR_MIN, AttrType::kU32}}},
      {"counter", {}},
      // Read only: other tables' reverse-path filters (rpfilter_check.h).
      {"fib",
       {{"dreg", NFTNL_EXPR_FIB_DREG, AttrType::kU32},
        {"result", NFTNL_EXPR_FIB_RESULT, AttrType::kU32},
        {"flags", NFTNL_EXPR_FIB_FLAGS, AttrType::kU32}}},
  };
  return table;
}

const AttrInfo* findAttr(const std::string& kind, const std::string& key) {
  auto it = attrTable().find(kind);
  if (it == attrTable().end()) return nullptr;
  for (const auto& a : it->second) {
    if (a.key == key) return &a;
  }
  return nullptr;
}

}  // namespace

Status lowerRule(const NftRule& in, nftnl_rule* rule) {
  for (const auto& e : in.exprs) {
    nftnl_expr* x = nftnl_expr_alloc(e.kind.c_str());
    if (!x) return fail(ErrorCode::kUnsupported, "libnftnl has no expression " + e.kind);
    for (const auto& a : e.attrs) {
      const AttrInfo* info = findAttr(e.kind, a.key);
      if (!info) {
        nftnl_expr_free(x);
        return fail(ErrorCode::kInternal,
                    "no attribute " + a.key + " for nft expression " + e.kind);
      }
      if (info->type == AttrType::kU32 || info->type == AttrType::kVerdict) {
        nftnl_expr_set_u32(x, info->id, std::get<uint32_t>(a.value));
      } else if (info->type == AttrType::kStr) {
        nftnl_expr_set_str(x, info->id, std::get<std::string>(a.value).c_str());
      } else {
        const auto& b = std::get<Bytes>(a.value);
        nftnl_expr_set(x, info->id, b.data(), b.size());
      }
    }
    nftnl_rule_add_expr(rule, x);  // the rule owns it now
  }
  return {};
}

NftRule liftRule(nftnl_rule* rule) {
  NftRule out;
  CPtr<nftnl_expr_iter, nftnl_expr_iter_destroy> it(nftnl_expr_iter_create(rule));
  for (nftnl_expr* x = nftnl_expr_iter_next(it.get()); x; x = nftnl_expr_iter_next(it.get())) {
    NftExpr e;
    e.kind = nftnl_expr_get_str(x, NFTNL_EXPR_NAME);
    auto known = attrTable().find(e.kind);
    if (e.kind == "counter") {
      out.counter = NftCounter{nftnl_expr_get_u64(x, NFTNL_EXPR_CTR_PACKETS),
                               nftnl_expr_get_u64(x, NFTNL_EXPR_CTR_BYTES)};
    }
    if (known != attrTable().end()) {
      for (const auto& info : known->second) {
        if (!nftnl_expr_is_set(x, info.id)) continue;
        if (info.type == AttrType::kU32 || info.type == AttrType::kVerdict) {
          e.attrs.push_back({info.key, nftnl_expr_get_u32(x, info.id)});
        } else if (info.type == AttrType::kStr) {
          e.attrs.push_back({info.key, std::string(nftnl_expr_get_str(x, info.id))});
        } else {
          uint32_t len = 0;
          auto* p = static_cast<const uint8_t*>(nftnl_expr_get(x, info.id, &len));
          e.attrs.push_back({info.key, Bytes(p, p + len)});
        }
      }
    } else {
      e.kind = "unknown:" + e.kind;
    }
    out.exprs.push_back(std::move(e));
  }
  return out;
}

}  // namespace ambient
