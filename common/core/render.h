// Renders plans and change sets as the `ip`, `sysctl` and `nft` commands they stand for: one
// text for logs, `ambientctl plan`, --dry-run and golden tests. Pure.
#pragma once

#include <string>

#include "common/core/diff.h"
#include "common/core/plan.h"

namespace ambient {

std::string renderTunnel(const TunnelSpec& t);      // ip link add ... ; ip link set ...
std::string renderAddress(const AddressSpec& a);    // ip addr add 192.168.126.1/30 dev istioin
std::string renderRoute(const RouteSpec& r);        // 10.0.0.5/32 via ... dev ... table 100
std::string renderRule(const RuleSpec& r);          // pref 101 fwmark 0x100/0x100 lookup 101
std::string renderSysctl(const SysctlSpec& s);      // net.ipv4.conf.all.rp_filter=0
std::string renderNftTable(const NftTableSpec& t);  // an `nft -f` script that creates it

// The whole plan as a shell script: ip/sysctl commands and one `nft -f` block.
std::string renderPlan(const NetnsPlan& plan);
// The change set as the commands apply() runs, in order; nft changes as `nft -f` blocks.
std::string renderChangeSet(const ChangeSet& changes);

}  // namespace ambient
