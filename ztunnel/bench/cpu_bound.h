// The most a single stream can move on a given number of CPUs, from the CPU each process of its
// path spends per byte. Pure.
#pragma once

#include <string>
#include <vector>

namespace ztbench {

// One process of a path (client, proxy, server). A single stream runs on one thread of it, so
// it can use at most one CPU. `cpu` is the CPU it is pinned to, or -1 when it floats.
struct Stage {
  std::string name;
  double nsPerByte = 0;
  int cpu = -1;
};

struct CpuBound {
  // Strict upper bound: no scheduling moves more. min(CPUs / total, 1 / busiest process,
  // 1 / load pinned to any one CPU); `extraNsPerByte` (softirq threads) counts in the total.
  double maxGbps = 0;
  // Each process kept on one CPU for the whole run (what Linux does with cache-hot tasks): the
  // best such placement. Below maxGbps when processes cannot be split evenly over the CPUs,
  // e.g. three processes on two CPUs.
  double placedGbps = 0;
  std::string placement;  // "client+server | ztunnel-a": the processes of each CPU, best case
};

CpuBound computeCpuBound(const std::vector<Stage>& stages, double extraNsPerByte, int cpus);

}  // namespace ztbench
