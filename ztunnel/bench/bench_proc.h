// Processes and /proc for the benchmark: spawn, capture, CPU time and RSS. Touches the kernel.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

namespace ztbench {

std::string self();                           // path of this program
std::string capture(const std::string& cmd);  // stdout of a shell command
pid_t spawn(const std::vector<std::string>& argv, const std::string& log);  // -1 on failure
long rssKb(pid_t pid);                // VmRSS, -1 when unknown
double cpuSeconds(pid_t pid);         // user + system CPU so far
double childrenCpuSeconds();          // of waited-for children (the clients)
std::vector<pid_t> softirqThreads();  // the kernel's ksoftirqd/N

}  // namespace ztbench
