// Builds one nftables rule as nft text plus the netlink expressions it lowers to. Pure.
#include "common/core/nft_rule_builder.h"

#include <arpa/inet.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>

#include <array>
#include <cstdio>
#include <cstring>

#include "common/core/hex.h"

namespace ambient {
namespace {

constexpr size_t kIfNameBytes = 16;  // IFNAMSIZ: meta iifname loads the whole buffer

NftExpr expr(std::string kind, std::vector<NftAttr> attrs) {
  return NftExpr{std::move(kind), std::move(attrs)};
}
std::string_view protoName(NftRuleBuilder::Proto p) {
  return p == NftRuleBuilder::Proto::kTcp ? "tcp" : "udp";
}

}  // namespace

void NftRuleBuilder::word(std::string_view w) {
  if (!rule_.text.empty()) rule_.text += ' ';
  rule_.text += w;
}

void NftRuleBuilder::payloadLoad(uint32_t base, uint32_t offset, uint32_t len) {
  rule_.exprs.push_back(
      expr("payload",
           {{"dreg", uint32_t{NFT_REG_1}}, {"base", base}, {"offset", offset}, {"len", len}}));
}

void NftRuleBuilder::cmp(uint32_t op, Bytes data) {
  rule_.exprs.push_back(
      expr("cmp", {{"sreg", uint32_t{NFT_REG_1}}, {"op", op}, {"data", std::move(data)}}));
}

void NftRuleBuilder::bitwise(uint32_t mask, uint32_t xorValue) {
  bitwise(hostU32Bytes(mask), hostU32Bytes(xorValue));
}

void NftRuleBuilder::bitwise(Bytes mask, Bytes xorValue) {
  auto len = static_cast<uint32_t>(mask.size());
  rule_.exprs.push_back(expr("bitwise", {{"sreg", uint32_t{NFT_REG_1}},
                                         {"dreg", uint32_t{NFT_REG_1}},
                                         {"len", len},
                                         {"mask", std::move(mask)},
                                         {"xor", std::move(xorValue)}}));
}

NftRuleBuilder& NftRuleBuilder::iifname(std::string_view name, bool negate) {
  word(std::string("iifname ") + (negate ? "!= " : "") + "\"" + std::string(name) + "\"");
  Bytes padded(kIfNameBytes, 0);
  std::memcpy(padded.data(), name.data(), std::min(name.size(), kIfNameBytes - 1));
  rule_.exprs.push_back(
      expr("meta", {{"key", uint32_t{NFT_META_IIFNAME}}, {"dreg", uint32_t{NFT_REG_1}}}));
  cmp(negate ? NFT_CMP_NEQ : NFT_CMP_EQ, std::move(padded));
  return *this;
}

NftRuleBuilder& NftRuleBuilder::l4proto(Proto proto) {
  word(std::string("meta l4proto ") + std::string(protoName(proto)));
  rule_.exprs.push_back(
      expr("meta", {{"key", uint32_t{NFT_META_L4PROTO}}, {"dreg", uint32_t{NFT_REG_1}}}));
  cmp(NFT_CMP_EQ, Bytes{static_cast<uint8_t>(proto)});
  return *this;
}

NftRuleBuilder& NftRuleBuilder::dport(Proto proto, uint16_t port) {
  word(std::string(protoName(proto)) + " dport " + std::to_string(port));
  rule_.exprs.push_back(
      expr("meta", {{"key", uint32_t{NFT_META_L4PROTO}}, {"dreg", uint32_t{NFT_REG_1}}}));
  cmp(NFT_CMP_EQ, Bytes{static_cast<uint8_t>(proto)});
  payloadLoad(NFT_PAYLOAD_TRANSPORT_HEADER, 2, 2);  // destination port, both protocols
  cmp(NFT_CMP_EQ, be16Bytes(port));
  return *this;
}

NftRuleBuilder& NftRuleBuilder::saddr(Ipv4 addr, bool negate) {
  word(std::string("ip saddr ") + (negate ? "!= " : "") + addr.str());
  payloadLoad(NFT_PAYLOAD_NETWORK_HEADER, 12, 4);
  cmp(negate ? NFT_CMP_NEQ : NFT_CMP_EQ, be32Bytes(addr.value));
  return *this;
}

NftRuleBuilder& NftRuleBuilder::daddr(Ipv4 addr, bool negate) {
  word(std::string("ip daddr ") + (negate ? "!= " : "") + addr.str());
  payloadLoad(NFT_PAYLOAD_NETWORK_HEADER, 16, 4);
  cmp(negate ? NFT_CMP_NEQ : NFT_CMP_EQ, be32Bytes(addr.value));
  return *this;
}

void NftRuleBuilder::addressLoad(IpAddress::Family family, bool source) {
  if (family == IpAddress::Family::kV6) {
    payloadLoad(NFT_PAYLOAD_NETWORK_HEADER, source ? 8 : 24, 16);  // RFC 8200 header
  } else {
    payloadLoad(NFT_PAYLOAD_NETWORK_HEADER, source ? 12 : 16, 4);  // RFC 791 header
  }
}

namespace {
std::string_view ipWord(IpAddress::Family family) {
  return family == IpAddress::Family::kV6 ? "ip6" : "ip";
}
Bytes addressBytes(const IpAddress& addr) {
  return Bytes(addr.bytes().begin(), addr.bytes().begin() + (addr.isV4() ? 4 : 16));
}
}  // namespace

NftRuleBuilder& NftRuleBuilder::saddr(const IpAddress& addr, bool negate) {
  word(std::string(ipWord(addr.family())) + " saddr " + (negate ? "!= " : "") + addr.str());
  addressLoad(addr.family(), true);
  cmp(negate ? NFT_CMP_NEQ : NFT_CMP_EQ, addressBytes(addr));
  return *this;
}

NftRuleBuilder& NftRuleBuilder::daddr(const IpAddress& addr, bool negate) {
  word(std::string(ipWord(addr.family())) + " daddr " + (negate ? "!= " : "") + addr.str());
  addressLoad(addr.family(), false);
  cmp(negate ? NFT_CMP_NEQ : NFT_CMP_EQ, addressBytes(addr));
  return *this;
}

NftRuleBuilder& NftRuleBuilder::saddrIn(const IpPrefix& prefix) {
  const IpPrefix net = prefix.network();
  word(std::string(ipWord(net.family())) + " saddr " + net.str());
  const bool v6 = net.addr.isV6();
  const uint32_t width = v6 ? 16 : 4;
  const uint32_t offset = v6 ? 8 : 12;  // RFC 8200 | RFC 791 source address
  Bytes network = addressBytes(net.addr);
  if (net.len % 8 == 0) {
    // Whole bytes: nft loads and compares only those, with no mask.
    network.resize(net.len / 8);
    payloadLoad(NFT_PAYLOAD_NETWORK_HEADER, offset, net.len / 8);
  } else {
    payloadLoad(NFT_PAYLOAD_NETWORK_HEADER, offset, width);
    std::array<uint8_t, 16> ones{};
    ones.fill(0xff);
    const IpPrefix mask{IpAddress::fromBytes(net.family(), ones.data()), net.len};
    bitwise(addressBytes(mask.network().addr), Bytes(width, 0));
  }
  cmp(NFT_CMP_EQ, std::move(network));
  return *this;
}

NftRuleBuilder& NftRuleBuilder::daddrInSet(std::string_view set, IpAddress::Family family) {
  word(std::string(ipWord(family)) + " daddr @" + std::string(set));
  addressLoad(family, false);
  rule_.exprs.push_back(expr("lookup", {{"sreg", uint32_t{NFT_REG_1}}, {"set", std::string(set)}}));
  return *this;
}

NftRuleBuilder& NftRuleBuilder::etherTypeIp() {
  word("ether type ip");
  payloadLoad(NFT_PAYLOAD_LL_HEADER, 12, 2);
  cmp(NFT_CMP_EQ, be16Bytes(0x0800));  // ETH_P_IP
  return *this;
}

NftRuleBuilder& NftRuleBuilder::etherTypeIp6() {
  word("ether type ip6");
  payloadLoad(NFT_PAYLOAD_LL_HEADER, 12, 2);
  cmp(NFT_CMP_EQ, be16Bytes(0x86dd));  // ETH_P_IPV6
  return *this;
}

NftRuleBuilder& NftRuleBuilder::etherSaddr(const MacAddr& mac) {
  word("ether saddr " + mac.str());
  payloadLoad(NFT_PAYLOAD_LL_HEADER, 6, 6);
  cmp(NFT_CMP_EQ, Bytes(mac.bytes.begin(), mac.bytes.end()));
  return *this;
}

NftRuleBuilder& NftRuleBuilder::saddrInSet(std::string_view set, IpAddress::Family family) {
  word(std::string(ipWord(family)) + " saddr @" + std::string(set));
  addressLoad(family, true);
  rule_.exprs.push_back(expr("lookup", {{"sreg", uint32_t{NFT_REG_1}}, {"set", std::string(set)}}));
  return *this;
}

NftRuleBuilder& NftRuleBuilder::markHas(uint32_t bits, bool negate) {
  word("meta mark & " + hexString(bits) + (negate ? " != " : " == ") + hexString(bits));
  rule_.exprs.push_back(
      expr("meta", {{"key", uint32_t{NFT_META_MARK}}, {"dreg", uint32_t{NFT_REG_1}}}));
  bitwise(bits, 0);
  cmp(negate ? NFT_CMP_NEQ : NFT_CMP_EQ, hostU32Bytes(bits));
  return *this;
}

NftRuleBuilder& NftRuleBuilder::ctMarkHas(uint32_t bits, bool negate) {
  word("ct mark & " + hexString(bits) + (negate ? " != " : " == ") + hexString(bits));
  rule_.exprs.push_back(
      expr("ct", {{"key", uint32_t{NFT_CT_MARK}}, {"dreg", uint32_t{NFT_REG_1}}}));
  bitwise(bits, 0);
  cmp(negate ? NFT_CMP_NEQ : NFT_CMP_EQ, hostU32Bytes(bits));
  return *this;
}

NftRuleBuilder& NftRuleBuilder::setMark(uint32_t value, uint32_t mask) {
  word("meta mark set meta mark & " + hexString(~mask) + " | " + hexString(value));
  rule_.exprs.push_back(
      expr("meta", {{"key", uint32_t{NFT_META_MARK}}, {"dreg", uint32_t{NFT_REG_1}}}));
  bitwise(~mask, value);
  rule_.exprs.push_back(
      expr("meta", {{"key", uint32_t{NFT_META_MARK}}, {"sreg", uint32_t{NFT_REG_1}}}));
  return *this;
}

NftRuleBuilder& NftRuleBuilder::setCtMarkBits(uint32_t bits) {
  word("ct mark set ct mark & " + hexString(~bits) + " | " + hexString(bits));
  rule_.exprs.push_back(
      expr("ct", {{"key", uint32_t{NFT_CT_MARK}}, {"dreg", uint32_t{NFT_REG_1}}}));
  bitwise(~bits, bits);
  rule_.exprs.push_back(
      expr("ct", {{"key", uint32_t{NFT_CT_MARK}}, {"sreg", uint32_t{NFT_REG_1}}}));
  return *this;
}

NftRuleBuilder& NftRuleBuilder::handUp(const MacAddr& bridgeMac) {
  word("ether daddr set " + bridgeMac.str() + " meta pkttype set host");
  rule_.exprs.push_back(
      expr("immediate", {{"dreg", uint32_t{NFT_REG_1}},
                         {"data", Bytes(bridgeMac.bytes.begin(), bridgeMac.bytes.end())}}));
  rule_.exprs.push_back(expr("payload", {{"sreg", uint32_t{NFT_REG_1}},
                                         {"base", uint32_t{NFT_PAYLOAD_LL_HEADER}},
                                         {"offset", uint32_t{0}},
                                         {"len", uint32_t{6}},
                                         {"csum_type", uint32_t{NFT_PAYLOAD_CSUM_NONE}},
                                         {"csum_offset", uint32_t{0}},
                                         {"csum_flags", uint32_t{0}}}));
  rule_.exprs.push_back(
      expr("immediate", {{"dreg", uint32_t{NFT_REG_1}}, {"data", Bytes{0}}}));  // PACKET_HOST
  rule_.exprs.push_back(
      expr("meta", {{"key", uint32_t{NFT_META_PKTTYPE}}, {"sreg", uint32_t{NFT_REG_1}}}));
  return *this;
}

NftRuleBuilder& NftRuleBuilder::tproxy(const IpAddress& addr, uint16_t port) {
  const bool v6 = addr.isV6();
  word("tproxy to " + (v6 ? "[" + addr.str() + "]" : addr.str()) + ":" + std::to_string(port));
  rule_.exprs.push_back(
      expr("immediate", {{"dreg", uint32_t{NFT_REG_1}}, {"data", addressBytes(addr)}}));
  rule_.exprs.push_back(
      expr("immediate", {{"dreg", uint32_t{NFT_REG_2}}, {"data", be16Bytes(port)}}));
  rule_.exprs.push_back(expr("tproxy", {{"family", uint32_t{v6 ? NFPROTO_IPV6 : NFPROTO_IPV4}},
                                        {"reg_addr", uint32_t{NFT_REG_1}},
                                        {"reg_port", uint32_t{NFT_REG_2}}}));
  return *this;
}

NftRuleBuilder& NftRuleBuilder::dnatToDaddr(IpAddress::Family family) {
  word("dnat to " + std::string(ipWord(family)) + " daddr");
  addressLoad(family, false);
  const bool v6 = family == IpAddress::Family::kV6;
  rule_.exprs.push_back(expr("nat", {{"type", uint32_t{NFT_NAT_DNAT}},
                                     {"family", uint32_t{v6 ? NFPROTO_IPV6 : NFPROTO_IPV4}},
                                     {"reg_addr_min", uint32_t{NFT_REG_1}}}));
  return *this;
}

NftRuleBuilder& NftRuleBuilder::snatToSaddr(IpAddress::Family family) {
  word("snat to " + std::string(ipWord(family)) + " saddr");
  addressLoad(family, true);
  const bool v6 = family == IpAddress::Family::kV6;
  rule_.exprs.push_back(expr("nat", {{"type", uint32_t{NFT_NAT_SNAT}},
                                     {"family", uint32_t{v6 ? NFPROTO_IPV6 : NFPROTO_IPV4}},
                                     {"reg_addr_min", uint32_t{NFT_REG_1}}}));
  return *this;
}

NftRuleBuilder& NftRuleBuilder::counter() {
  word("counter");
  rule_.exprs.push_back(expr("counter", {}));
  return *this;
}

NftRule NftRuleBuilder::verdict(std::string_view w, int32_t code) {
  word(w);
  rule_.exprs.push_back(expr("immediate", {{"dreg", uint32_t{NFT_REG_VERDICT}},
                                           {"verdict", static_cast<uint32_t>(code)}}));
  return done();
}

NftRule NftRuleBuilder::done() {
  NftRule out = std::move(rule_);
  rule_ = NftRule{};
  return out;
}

}  // namespace ambient
