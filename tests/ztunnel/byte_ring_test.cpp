// Unit tests: ByteRing keeps no consumed bytes and its storage follows the bytes held. Pure.
#include "ztunnel/core/byte_ring.h"

#include <catch2/catch.hpp>
#include <string>
#include <vector>

using namespace zt;

namespace {
std::string drain(ByteRing& r, size_t n) {
  std::string out;
  while (n && !r.empty()) {
    auto f = r.front();
    size_t take = std::min(n, f.size());
    out.append(reinterpret_cast<const char*>(f.data()), take);
    r.consume(take);
    n -= take;
  }
  return out;
}
}  // namespace

TEST_CASE("ByteRing: FIFO order across the wrap") {
  ByteRing r;
  std::string all, got;
  for (int i = 0; i < 2000; ++i) {
    std::string chunk(static_cast<size_t>(100 + i % 977), static_cast<char>('a' + i % 26));
    all += chunk;
    r.append(reinterpret_cast<const uint8_t*>(chunk.data()), chunk.size());
    got += drain(r, 90 + static_cast<size_t>(i % 1013));
  }
  got += drain(r, r.size());
  CHECK(got == all);
  CHECK(r.empty());
}

TEST_CASE("ByteRing: storage bounded by the bytes held, not the bytes moved") {
  // A steady stream that never fully drains (the slow-reader pattern of issue 18): 64 MiB pass
  // through while at most 256 KiB are held at once.
  ByteRing r;
  std::vector<uint8_t> chunk(64 * 1024, 7);
  r.append(chunk.data(), chunk.size());
  r.append(chunk.data(), chunk.size());
  for (int i = 0; i < 1024; ++i) {
    r.append(chunk.data(), chunk.size());
    drain(r, chunk.size());
    REQUIRE(r.size() <= 3 * chunk.size());
  }
  CHECK(r.capacity() <= 4 * chunk.size());
  drain(r, r.size());
  r.shrinkIfEmpty();
  CHECK(r.capacity() == 0);
}

TEST_CASE("ByteRing: growth limit caps doubling at the window") {
  ByteRing r;
  r.setGrowthLimit(100000);
  std::vector<uint8_t> chunk(30000, 1);
  for (int i = 0; i < 3; ++i) r.append(chunk.data(), chunk.size());
  CHECK(r.size() == 90000);
  CHECK(r.capacity() <= 100000);
  r.append(chunk.data(), chunk.size());  // beyond the limit still fits (never drops bytes)
  CHECK(r.size() == 120000);
  CHECK(r.capacity() == 120000);
}
