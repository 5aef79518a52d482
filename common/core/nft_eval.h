// Evaluates our nftables rules (as the expressions the kernel holds) against one packet, the
// way the kernel's nf_tables core would: registers, comparisons, set lookups, mark and
// connmark statements, tproxy, verdicts; in a bridge-family table the packet is an IPv4 frame
// (ether type ip) and a hand-up (destination MAC and packet type written) is recorded. Used by
// `ambientctl trace` to follow a packet through the live rules instead of guessing. Covers the
// expressions our rules use. Pure.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "common/core/nft_spec.h"

namespace ambient {

struct TracePacket {
  std::string iif;  // family bridge: the bridge port the frame came in on
  Ipv4 saddr, daddr;
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
  std::string verdict = "continue";  // continue | return | accept | drop
  std::optional<std::pair<Ipv4, uint16_t>> tproxy;
  std::vector<int> matched;  // every rule that matched, in order
};

// Runs one chain; `p` is updated by mark and connmark statements. `table` provides sets.
ChainVerdict evaluateChain(const NftTableSpec& table, const NftChainSpec& chain, TracePacket& p);

}  // namespace ambient
