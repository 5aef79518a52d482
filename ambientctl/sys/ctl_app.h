// ambientctl's commands: plan, verify, dump, over the agent's state directory and the live
// kernel. Touches the kernel (reads only) and files (reads only).
#pragma once

#include <string>
#include <vector>

namespace ambient {

// Exit codes: 0 success (verify: kernel matches), 1 verify found differences, 2 could not
// check or bad usage (the message says why).
int runCtl(const std::vector<std::string>& args);

}  // namespace ambient
