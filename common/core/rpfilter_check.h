// Another table's strict IPv6 reverse-path filter: the `fib saddr . iif oif missing drop` rule
// a host firewall writes (firewalld's IPv6_rpfilter=strict). Its lookup runs as from `lo`, so
// our rule 99 sends it to the main table whatever the mark, and it drops every IPv6 packet
// ztunnel sends into its veth with a source routed elsewhere: redirected IPv6 stops (docs/
// DESIGN.md, "IPv6 (issue 20): the packet proof"). The loose form (no iif) is harmless. Pure.
#pragma once

#include <string>
#include <vector>

#include "common/core/nft_spec.h"

namespace ambient {

// A rule of some nft table, as the node's ruleset dump gives it.
struct ForeignRule {
  std::string family;  // "ip6" or "inet": the families whose hooks IPv6 packets traverse
  std::string table;
  std::string chain;
  NftRule rule;
};

// fib with flags saddr and iif, result oif, in a rule whose verdict is drop.
bool isStrictReversePathRule(const NftRule& rule);

// "table inet firewalld chain filter_PREROUTING" for each such rule outside our own tables.
std::vector<std::string> strictIpv6ReversePathFilters(const std::vector<ForeignRule>& rules);

}  // namespace ambient
