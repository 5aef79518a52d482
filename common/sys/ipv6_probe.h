// Can this kernel redirect IPv6 as the engine does it (ip -6 policy rules, a local route in a
// table of ours, an ip6 nft table with TPROXY and socket matches)? Probed once at start in a
// throwaway namespace; the node is not touched. Touches the kernel.
#pragma once

#include <optional>
#include <string>

namespace ambient {

// nullopt: it can. Otherwise why not, in words for /readyz and the log (the IPv6 TCP of
// enrolled pods is then dropped: PlanInput::ipv6Unavailable).
std::optional<std::string> probeIpv6Redirect();

}  // namespace ambient
