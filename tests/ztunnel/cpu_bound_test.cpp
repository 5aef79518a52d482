// Unit tests: the benchmark's CPU bound of a single stream (ztunnel/bench/cpu_bound). Pure.
#include "ztunnel/bench/cpu_bound.h"

#include <catch2/catch.hpp>

using namespace ztbench;

TEST_CASE("CpuBound: two processes on two CPUs are capped by the busier one") {
  // 2 CPUs / 0.5 ns/B would be 32 Gbit/s, but the server alone needs 0.3 ns of its CPU per byte.
  auto b = computeCpuBound({{"client", 0.2}, {"server", 0.3}}, 0, 2);
  CHECK(b.maxGbps == Approx(8 / 0.3));
  CHECK(b.placedGbps == Approx(8 / 0.3));
  CHECK(b.placement == "server | client");
}

TEST_CASE("CpuBound: three processes on two CPUs, the best placement pairs two of them") {
  auto b = computeCpuBound({{"client", 0.27}, {"ztunnel-a", 0.40}, {"server", 0.33}}, 0, 2);
  CHECK(b.maxGbps == Approx(16.0));        // 2 CPUs / 1.0 ns/B
  CHECK(b.placedGbps == Approx(8 / 0.6));  // client+server on one CPU, ztunnel on the other
  CHECK(b.placement == "client+server | ztunnel-a");
  // Softirq threads count in the total.
  CHECK(
      computeCpuBound({{"client", 0.27}, {"ztunnel-a", 0.40}, {"server", 0.33}}, 0.6, 2).maxGbps ==
      Approx(10.0));
}

TEST_CASE("CpuBound: pinned processes keep their CPU") {
  // --cpus split: client on 0, server on 1, the proxy floats to the lighter side.
  auto split =
      computeCpuBound({{"client", 0.27, 0}, {"ztunnel-a", 0.40, -1}, {"server", 0.33, 1}}, 0, 2);
  CHECK(split.placedGbps == Approx(8 / 0.67));
  CHECK(split.placement == "client+ztunnel-a | server");
  // --cpus proxy-core: both ztunnels on CPU 1 cap HBONE at 1 / (their sum).
  auto core = computeCpuBound(
      {{"client", 0.3, 0}, {"ztunnel-a", 1.3, 1}, {"ztunnel-b", 1.2, 1}, {"server", 0.3, 0}}, 0, 2);
  CHECK(core.maxGbps == Approx(8 / 2.5));
  CHECK(core.placedGbps == Approx(8 / 2.5));
}

TEST_CASE("CpuBound: with a CPU per process the busiest process is the limit") {
  auto b = computeCpuBound({{"client", 0.27}, {"ztunnel-a", 0.40}, {"server", 0.33}}, 0, 64);
  CHECK(b.maxGbps == Approx(8 / 0.4));
  CHECK(b.placedGbps == Approx(8 / 0.4));
}

TEST_CASE("CpuBound: a process not measured gives no bound") {
  auto b = computeCpuBound({{"client", 0.27}, {"server", -1}}, 0, 2);
  CHECK(b.maxGbps == 0);
  CHECK(b.placedGbps == 0);
}
