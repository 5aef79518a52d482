// Builds one nftables rule as both its nft text and the netlink expressions the kernel stores
// (the same lowering `nft --debug=netlink` shows). Pure.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/core/mac_addr.h"
#include "common/core/nft_spec.h"

namespace ambient {

class NftRuleBuilder {
 public:
  enum class Proto : uint8_t { kTcp = 6, kUdp = 17 };

  // iifname "x" | iifname != "x" (family bridge: the bridge port a frame came in on)
  NftRuleBuilder& iifname(std::string_view name, bool negate = false);
  // meta l4proto tcp
  NftRuleBuilder& l4proto(Proto proto);
  // tcp dport 15008 (includes the l4proto check)
  NftRuleBuilder& dport(Proto proto, uint16_t port);
  // ip saddr 10.0.0.1 | ip saddr != 10.0.0.1
  NftRuleBuilder& saddr(Ipv4 addr, bool negate = false);
  // ip daddr 10.0.0.1 | ip daddr != 10.0.0.1
  NftRuleBuilder& daddr(Ipv4 addr, bool negate = false);
  // Either family: ip6 saddr fd00::1 | ip6 saddr != fd00::1 (family ip6), or as above.
  NftRuleBuilder& saddr(const IpAddress& addr, bool negate = false);
  NftRuleBuilder& daddr(const IpAddress& addr, bool negate = false);
  // ip saddr 10.0.0.0/24 | ip6 saddr fd00:10:244:1::/64 (len 1 to the family's width minus
  // one; the whole address is saddr()), lowered as nft lowers it
  NftRuleBuilder& saddrIn(const IpPrefix& prefix);
  // ip saddr @set | ip6 saddr @set
  NftRuleBuilder& saddrInSet(std::string_view set,
                             IpAddress::Family family = IpAddress::Family::kV4);
  // ip daddr @set | ip6 daddr @set
  NftRuleBuilder& daddrInSet(std::string_view set,
                             IpAddress::Family family = IpAddress::Family::kV4);
  // ether type ip (family bridge: the frame carries IPv4)
  NftRuleBuilder& etherTypeIp();
  // ether type ip6 (family bridge: the frame carries IPv6)
  NftRuleBuilder& etherTypeIp6();
  // ether saddr <mac> (family bridge)
  NftRuleBuilder& etherSaddr(const MacAddr& mac);
  // meta mark & bits == bits | meta mark & bits != bits
  NftRuleBuilder& markHas(uint32_t bits, bool negate = false);
  // ct mark & bits == bits | ct mark & bits != bits
  NftRuleBuilder& ctMarkHas(uint32_t bits, bool negate = false);
  // meta mark set meta mark & ~mask | value
  NftRuleBuilder& setMark(uint32_t value, uint32_t mask);
  // ct mark set ct mark & ~bits | bits
  NftRuleBuilder& setCtMarkBits(uint32_t bits);
  // ether daddr set <mac> meta pkttype set host (family bridge): the bridge hands the frame up
  // to the IP layer instead of forwarding it, as if it were addressed to the bridge itself.
  NftRuleBuilder& handUp(const MacAddr& bridgeMac);
  // tproxy to 127.0.0.1:port | tproxy to [::1]:port (family ip6)
  NftRuleBuilder& tproxy(const IpAddress& addr, uint16_t port);
  // dnat to ip daddr | dnat to ip6 daddr (a null binding)
  NftRuleBuilder& dnatToDaddr(IpAddress::Family family = IpAddress::Family::kV4);
  // snat to ip saddr | snat to ip6 saddr (a null binding)
  NftRuleBuilder& snatToSaddr(IpAddress::Family family = IpAddress::Family::kV4);
  NftRuleBuilder& counter();

  NftRule accept() { return verdict("accept", kAccept); }
  NftRule drop() { return verdict("drop", kDrop); }
  NftRule ret() { return verdict("return", kReturn); }
  // A rule without a verdict (falls through).
  NftRule done();

 private:
  static constexpr int32_t kAccept = 1;   // NF_ACCEPT
  static constexpr int32_t kDrop = 0;     // NF_DROP
  static constexpr int32_t kReturn = -5;  // NFT_RETURN
  NftRule verdict(std::string_view word, int32_t code);
  void word(std::string_view w);
  void payloadLoad(uint32_t base, uint32_t offset, uint32_t len);
  // Loads the source or destination address of `family`'s network header.
  void addressLoad(IpAddress::Family family, bool source);
  void cmp(uint32_t op, Bytes data);
  void bitwise(uint32_t mask, uint32_t xorValue);
  void bitwise(Bytes mask, Bytes xorValue);

  NftRule rule_;
};

}  // namespace ambient
