// Benchmark orchestration: namespaces, server, HAProxy, two ztunnels, measurements, report.
#pragma once

#include <string>
#include <vector>

namespace ztbench {

const char* benchHelp();
int runBenchmark(const std::vector<std::string>& args);

}  // namespace ztbench
