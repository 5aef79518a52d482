// CPU bound of a single stream: strict and best-placement maximum throughput. Pure.
#include "cpu_bound.h"

#include <algorithm>
#include <limits>

namespace ztbench {

CpuBound computeCpuBound(const std::vector<Stage>& stages, double extraNsPerByte, int cpus) {
  CpuBound out;
  if (stages.empty() || cpus < 1) return out;
  double total = extraNsPerByte, busiest = 0;
  std::vector<double> pinned(static_cast<size_t>(cpus), 0.0);
  for (const Stage& s : stages) {
    if (s.nsPerByte <= 0) return out;  // not measured
    total += s.nsPerByte;
    busiest = std::max(busiest, s.nsPerByte);
    if (s.cpu >= 0 && s.cpu < cpus) pinned[static_cast<size_t>(s.cpu)] += s.nsPerByte;
  }
  double heaviestCpu = std::max(busiest, *std::max_element(pinned.begin(), pinned.end()));
  // Bytes per ns: the whole machine, one CPU per process, one CPU for what is pinned to it.
  double most = std::min(cpus / total, 1.0 / heaviestCpu);
  out.maxGbps = most * 8;

  // Best placement: every assignment of the floating processes to CPUs. CPUs beyond the number
  // of processes are interchangeable, so only as many as there are processes (after the
  // pinned ones) are tried: at most 6^4 assignments for our four-process paths.
  std::vector<size_t> floating;
  int used = 0;
  for (size_t i = 0; i < stages.size(); ++i) {
    if (stages[i].cpu >= 0 && stages[i].cpu < cpus)
      used = std::max(used, stages[i].cpu + 1);
    else
      floating.push_back(i);
  }
  int choices = std::min(cpus, used + static_cast<int>(floating.size()));
  std::vector<int> at(floating.size(), 0);
  double bestLoad = std::numeric_limits<double>::infinity();
  std::vector<int> bestAt;
  for (;;) {
    std::vector<double> load = pinned;
    for (size_t k = 0; k < floating.size(); ++k)
      load[static_cast<size_t>(at[k])] += stages[floating[k]].nsPerByte;
    double worst = *std::max_element(load.begin(), load.end());
    if (worst < bestLoad) bestLoad = worst, bestAt = at;
    size_t k = 0;
    while (k < at.size() && ++at[k] == choices) at[k++] = 0;
    if (k == at.size()) break;
  }
  out.placedGbps = std::min(most, 1.0 / bestLoad) * 8;
  std::vector<std::string> perCpu(static_cast<size_t>(cpus));
  auto put = [&](int cpu, const std::string& name) {
    std::string& s = perCpu[static_cast<size_t>(cpu)];
    s += (s.empty() ? "" : "+") + name;
  };
  for (const Stage& s : stages)
    if (s.cpu >= 0 && s.cpu < cpus) put(s.cpu, s.name);
  for (size_t k = 0; k < floating.size(); ++k) put(bestAt[k], stages[floating[k]].name);
  for (const std::string& s : perCpu)
    if (!s.empty()) out.placement += (out.placement.empty() ? "" : " | ") + s;
  return out;
}

}  // namespace ztbench
