// Evaluates our nftables rules (as the expressions the kernel holds) against one packet, the
// way the kernel's nf_tables core would: registers, comparisons, set lookups, mark and
// connmark statements, tproxy, verdicts. The packet is IPv4 or IPv6 (its addresses' family):
// payload loads read the RFC 791 or RFC 8200 header, so one evaluator runs the `ip` and the
// `ip6` table. In a bridge-family table the packet is a frame of that family (ether type ip or
// ip6) and a hand-up (destination MAC and packet type written) is recorded. Used by
// `ambientctl trace` to follow a packet through the live rules instead of guessing. Covers the
// expressions our rules use. Pure.
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common/core/nft_spec.h"

namespace ambient {

struct TracePacket {
  TracePacket() = default;
  // saddr and daddr of one family.
  TracePacket(std::string iif, IpAddress saddr, IpAddress daddr, uint8_t l4proto, uint16_t dport,
              uint32_t mark, uint32_t ctmark)
      : iif(std::move(iif)),
        saddr(saddr),
        daddr(daddr),
        l4proto(l4proto),
        dport(dport),
        mark(mark),
        ctmark(ctmark) {}
  TracePacket(std::string iif, Ipv4 saddr, Ipv4 daddr, uint8_t l4proto, uint16_t dport,
              uint32_t mark, uint32_t ctmark)
      : TracePacket(std::move(iif), IpAddress::fromV4(saddr), IpAddress::fromV4(daddr), l4proto,
                    dport, mark, ctmark) {}

  std::string iif;  // family bridge: the bridge port the frame came in on
  IpAddress saddr, daddr;
  uint8_t l4proto = 6;
  uint16_t dport = 0;
  uint32_t mark = 0;
  uint32_t ctmark = 0;
  bool toHost = false;  // family bridge: `meta pkttype set host` ran (handed up to the IP layer)
};

struct ChainVerdict {
  int ruleIndex = -1;  // 1-based index of the last rule that matched (-1: none)
  std::string ruleText;
  std::optional<NftCounter> counter;
  std::string verdict = "continue";                      // continue | return | accept | drop
  std::optional<std::pair<IpAddress, uint16_t>> tproxy;  // of the tproxy statement's family
  std::vector<int> matched;                              // every rule that matched, in order
};

// Runs one chain; `p` is updated by mark and connmark statements. `table` provides sets.
ChainVerdict evaluateChain(const NftTableSpec& table, const NftChainSpec& chain, TracePacket& p);

}  // namespace ambient
