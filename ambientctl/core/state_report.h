// How ambientctl shows state: verify's list of differences, dump's aligned tables and JSON.
// Pure.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "common/core/diff.h"
#include "common/core/plan.h"

namespace ambient {

// One line per difference: "missing route 10.0.0.5/32 table 100", "extra rule pref 101",
// "different tunnel istioin", "changed sysctl net.ipv4.conf.all.rp_filter (original 1)".
std::vector<std::string> describeDifferences(const ChangeSet& changes);

// Aligned tables of what we own in one namespace (tunnels, addresses, routes, rules, nft
// chains with rule counters, set members, sysctls).
// Gives each observed nft rule the nft text of the desired rule with the same expressions.
void labelRules(NetnsPlan& observed, const NetnsPlan& desired);

// Rules are named by the nft text of the matching rule in `desired` when there is one, else
// shown as their raw expressions.
std::string renderDumpTables(const NetnsPlan& observed, const std::string& path,
                             const NetnsPlan* desired);
nlohmann::json dumpJson(const NetnsPlan& observed, const std::string& path,
                        const NetnsPlan* desired);

}  // namespace ambient
