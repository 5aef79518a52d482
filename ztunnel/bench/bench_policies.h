// `ztunnel_bench policies`: the authorization cost of one inbound connection with 0, 100 and
// 10,000 policies in the view, side by side. No root, no namespaces.
#pragma once

#include <string>
#include <vector>

namespace ztbench {

const char* policiesHelp();
int runPoliciesBenchmark(const std::vector<std::string>& args);

}  // namespace ztbench
