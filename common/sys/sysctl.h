// Read and write /proc/sys values inside a network namespace (net.* sysctls are per
// namespace and resolved by the calling thread's namespace). Touches the kernel.
#pragma once

#include <string>

#include "common/core/error.h"
#include "common/sys/netns.h"

namespace ambient {

// `key` is the path below /proc/sys ("net/ipv4/conf/all/rp_filter"). kNotFound when the key
// (usually its device) does not exist.
Result<std::string> readSysctl(const Netns& ns, const std::string& key);
Status writeSysctl(const Netns& ns, const std::string& key, const std::string& value);

}  // namespace ambient
