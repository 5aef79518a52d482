// The node's IPv6 checks. Can this kernel redirect IPv6 as the engine does it (ip -6 policy
// rules, a local route in a table of ours, an ip6 nft table with TPROXY and socket matches)?
// Probed once at start in a throwaway namespace; the node is not touched. And does a host
// firewall's strict IPv6 reverse-path filter stop redirected IPv6? Touches the kernel.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "common/core/error.h"

namespace ambient {

// nullopt: it can. Otherwise why not, in words for /readyz and the log (the IPv6 TCP of
// enrolled pods is then dropped: PlanInput::ipv6Unavailable).
std::optional<std::string> probeIpv6Redirect();

// The chains of the namespace at `netnsPath` (ip6 and inet tables, ours left out) holding a
// strict IPv6 reverse-path filter (rpfilter_check.h), as "table inet firewalld chain X".
Result<std::vector<std::string>> findStrictIpv6ReversePathFilters(const std::string& netnsPath);

}  // namespace ambient
