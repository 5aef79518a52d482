// nftables rule evaluation over our expression data. Pure.
#include "common/core/nft_eval.h"

#include <arpa/inet.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>

#include <algorithm>
#include <cstring>
#include <map>

namespace ambient {
namespace {

uint32_t u32(const NftExpr& e, const char* key, uint32_t dflt = 0) {
  for (const auto& a : e.attrs) {
    if (a.key == key) {
      if (auto* v = std::get_if<uint32_t>(&a.value)) return *v;
    }
  }
  return dflt;
}

const Bytes* bytes(const NftExpr& e, const char* key) {
  for (const auto& a : e.attrs) {
    if (a.key == key) return std::get_if<Bytes>(&a.value);
  }
  return nullptr;
}

std::string str(const NftExpr& e, const char* key) {
  for (const auto& a : e.attrs) {
    if (a.key == key) {
      if (auto* v = std::get_if<std::string>(&a.value)) return *v;
    }
  }
  return {};
}

bool has(const NftExpr& e, const char* key) {
  return std::any_of(e.attrs.begin(), e.attrs.end(), [&](auto& a) { return a.key == key; });
}

uint32_t toU32(const Bytes& b) {
  uint32_t v = 0;
  std::memcpy(&v, b.data(), std::min<size_t>(4, b.size()));
  return v;
}

// The packet's network header as far as our rules read it: the addresses at RFC 791's offsets
// 12 and 16 (IPv4) or RFC 8200's 8 and 24 (IPv6); every other byte zero.
Bytes networkHeader(const TracePacket& p) {
  const bool v6 = p.saddr.isV6();
  const size_t len = v6 ? 16 : 4;
  Bytes h(v6 ? 40 : 20, 0);
  std::copy_n(p.saddr.bytes().begin(), len, h.begin() + (v6 ? 8 : 12));
  std::copy_n(p.daddr.bytes().begin(), len, h.begin() + (v6 ? 24 : 16));
  return h;
}

// `len` bytes of `b` from `offset`; empty (matching nothing) past its end.
Bytes slice(const Bytes& b, uint32_t offset, uint32_t len) {
  if (size_t{offset} + len > b.size()) return {};
  return Bytes(b.begin() + offset, b.begin() + offset + len);
}

}  // namespace

ChainVerdict evaluateChain(const NftTableSpec& table, const NftChainSpec& chain, TracePacket& p) {
  ChainVerdict out;
  int index = 0;
  for (const auto& rule : chain.rules) {
    ++index;
    std::map<uint32_t, Bytes> reg;
    TracePacket trial = p;
    std::optional<std::pair<IpAddress, uint16_t>> tproxy;
    std::string verdict = "continue";
    bool matched = true;
    for (const auto& e : rule.exprs) {
      if (e.kind == "meta") {
        uint32_t key = u32(e, "key");
        if (has(e, "dreg")) {
          Bytes v;
          if (key == NFT_META_IIFNAME) {
            v.assign(16, 0);
            std::memcpy(v.data(), trial.iif.data(), std::min<size_t>(15, trial.iif.size()));
          } else if (key == NFT_META_L4PROTO) {
            v = {trial.l4proto};
          } else if (key == NFT_META_MARK) {
            v = hostU32Bytes(trial.mark);
          }
          reg[u32(e, "dreg")] = v;
        } else if (key == NFT_META_MARK) {
          trial.mark = toU32(reg[u32(e, "sreg")]);
        } else if (key == NFT_META_PKTTYPE) {
          const Bytes& v = reg[u32(e, "sreg")];
          trial.toHost = !v.empty() && v[0] == 0;  // PACKET_HOST
        }
      } else if (e.kind == "ct") {
        if (has(e, "dreg"))
          reg[u32(e, "dreg")] = hostU32Bytes(trial.ctmark);
        else
          trial.ctmark = toU32(reg[u32(e, "sreg")]);
      } else if (e.kind == "payload") {
        // A write (ether daddr set): the destination MAC matters only with the packet type
        // (recorded there), so it is not modelled.
        if (has(e, "sreg")) continue;
        uint32_t base = u32(e, "base"), off = u32(e, "offset");
        Bytes v;
        if (base == NFT_PAYLOAD_LL_HEADER && off == 12) {
          v = be16Bytes(trial.saddr.isV6() ? 0x86dd : 0x0800);  // ETH_P_IPV6, ETH_P_IP
        }
        if (base == NFT_PAYLOAD_NETWORK_HEADER) v = slice(networkHeader(trial), off, u32(e, "len"));
        if (base == NFT_PAYLOAD_TRANSPORT_HEADER && off == 2) v = be16Bytes(trial.dport);
        reg[u32(e, "dreg")] = v;
      } else if (e.kind == "cmp") {
        const Bytes* data = bytes(e, "data");
        Bytes r = reg[u32(e, "sreg")];
        r.resize(data ? data->size() : 0);
        bool eq = data && r == *data;
        if ((u32(e, "op") == NFT_CMP_EQ) != eq) {
          matched = false;
          break;
        }
      } else if (e.kind == "bitwise") {
        Bytes& r = reg[u32(e, "sreg")];
        const Bytes* mask = bytes(e, "mask");
        const Bytes* x = bytes(e, "xor");
        Bytes v(u32(e, "len"), 0);
        for (size_t i = 0; i < v.size(); ++i) {
          uint8_t in = i < r.size() ? r[i] : 0;
          v[i] = uint8_t((in & (mask && i < mask->size() ? (*mask)[i] : 0)) ^
                         (x && i < x->size() ? (*x)[i] : 0));
        }
        reg[u32(e, "dreg")] = v;
      } else if (e.kind == "lookup") {
        std::string set = str(e, "set");
        Bytes key = reg[u32(e, "sreg")];
        bool found = false;
        for (const auto& s : table.sets) {
          if (s.name != set) continue;
          for (const auto& ip : s.elements) {
            const size_t len = ip.isV4() ? 4 : 16;
            found |= Bytes(ip.bytes().begin(), ip.bytes().begin() + len) == key;
          }
        }
        if (!found) {
          matched = false;
          break;
        }
      } else if (e.kind == "immediate") {
        if (has(e, "verdict")) {
          int32_t v = static_cast<int32_t>(u32(e, "verdict"));
          verdict = v == NF_ACCEPT    ? "accept"
                    : v == NF_DROP    ? "drop"
                    : v == NFT_RETURN ? "return"
                                      : "continue";
        } else if (const Bytes* d = bytes(e, "data")) {
          reg[u32(e, "dreg")] = *d;
        }
      } else if (e.kind == "tproxy") {
        // The statement's family says how long the address is (`tproxy ip to` in an inet
        // table; an ip6 table's tproxy is NFPROTO_IPV6).
        const bool v6 = u32(e, "family") == NFPROTO_IPV6;
        Bytes a = reg[u32(e, "reg_addr")], port = reg[u32(e, "reg_port")];
        a.resize(v6 ? 16 : 4);
        uint16_t pn = 0;
        std::memcpy(&pn, port.data(), std::min<size_t>(2, port.size()));
        tproxy = std::make_pair(
            IpAddress::fromBytes(v6 ? IpAddress::Family::kV6 : IpAddress::Family::kV4, a.data()),
            ntohs(pn));
      }
    }
    if (!matched) continue;
    p = trial;
    out.matched.push_back(index);
    out.ruleIndex = index;
    out.ruleText = rule.text;
    out.counter = rule.counter;
    if (tproxy) out.tproxy = tproxy;
    if (verdict != "continue") {
      out.verdict = verdict;
      return out;
    }
  }
  return out;
}

}  // namespace ambient
