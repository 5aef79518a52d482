// `ambientctl trace`'s operands: addresses of either family, [IPv6]:PORT, pod names resolved
// in the other operand's family, and the errors for what cannot be traced. Pure.
#include "ambientctl/core/trace_endpoints.h"

#include <catch2/catch.hpp>

using namespace ambient;

namespace {

PodRegistry registry() {
  PodRegistry r;
  r.pods["uid-app"] = PodRecord{
      "uid-app", "foo", "app", "c1", "/run/netns/app", "eth0", {"10.244.1.10", "fd00:10:244:1::a"},
      "vethapp", true};
  r.pods["uid-old"] = PodRecord{"uid-old", "foo",           "old",     "c2", "/run/netns/old",
                                "eth0",    {"10.244.1.11"}, "vethold", true};
  return r;
}

std::string errorOf(std::string_view src, std::string_view dst) {
  auto e = parseTraceEndpoints(src, dst, registry());
  return e ? "" : e.error().message();
}

}  // namespace

TEST_CASE("trace operands: IPv4 as before, IPv6 bare or in brackets", "[trace-endpoints]") {
  auto v4 = parseTraceEndpoints("10.244.1.10", "172.30.0.2:8080", registry());
  REQUIRE(v4);
  CHECK(v4->src == IpAddress("10.244.1.10"));
  CHECK(v4->dst == IpAddress("172.30.0.2"));
  CHECK(v4->port == 8080);
  CHECK(parseTraceEndpoints("10.244.1.10", "172.30.0.2", registry())->port == 80);

  auto v6 = parseTraceEndpoints("fd00:10:244:1::a", "[fd00:172:30::2]:8080", registry());
  REQUIRE(v6);
  CHECK(v6->src == IpAddress("fd00:10:244:1::a"));
  CHECK(v6->dst == IpAddress("fd00:172:30::2"));
  CHECK(v6->port == 8080);
  auto bare = parseTraceEndpoints("[fd00:172:30::2]", "fd00:10:244:1::a", registry());
  REQUIRE(bare);
  CHECK(bare->src == IpAddress("fd00:172:30::2"));
  CHECK(bare->port == 80);
}

TEST_CASE("trace operands: a pod name takes the other operand's family", "[trace-endpoints]") {
  auto out = parseTraceEndpoints("foo/app", "[fd00:172:30::2]:443", registry());
  REQUIRE(out);
  CHECK(out->src == IpAddress("fd00:10:244:1::a"));
  auto in = parseTraceEndpoints("fd00:172:30::2", "foo/app:15008", registry());
  REQUIRE(in);
  CHECK(in->dst == IpAddress("fd00:10:244:1::a"));
  CHECK(in->port == 15008);
  auto v4 = parseTraceEndpoints("172.30.0.2", "foo/app", registry());
  REQUIRE(v4);
  CHECK(v4->dst == IpAddress("10.244.1.10"));
  // Two names: IPv4, as before IPv6.
  auto names = parseTraceEndpoints("foo/old", "foo/app:80", registry());
  REQUIRE(names);
  CHECK(names->dst == IpAddress("10.244.1.10"));
}

TEST_CASE("trace operands: mixed families and malformed input are refused", "[trace-endpoints]") {
  auto mixed = parseTraceEndpoints("10.244.1.10", "[fd00:172:30::2]:80", registry());
  REQUIRE_FALSE(mixed);
  CHECK(mixed.error().code == ErrorCode::kInvalidInput);
  CHECK(mixed.error().message() ==
        "trace SOURCE 10.244.1.10 is IPv4 and DESTINATION [fd00:172:30::2]:80 is IPv6: a SYN "
        "has one address family, give two addresses of the same one");
  CHECK(errorOf("fd00:172:30::2", "172.30.0.2").find("is IPv6 and DESTINATION") !=
        std::string::npos);
  CHECK(errorOf("foo/old", "[fd00:172:30::2]:80") ==
        "trace SOURCE: pod foo/old has no IPv6 address to trace");
  CHECK(errorOf("foo/nope", "10.0.0.1") == "trace SOURCE: no pod foo/nope in the agent's registry");
  CHECK(parseTraceEndpoints("foo/nope", "10.0.0.1", registry()).error().isNotFound());
  CHECK(errorOf("10.244.1.10", "172.30.0.2:http").find("is not 1-65535") != std::string::npos);
  CHECK(errorOf("10.244.1.10", "172.30.0.2:0").find("is not 1-65535") != std::string::npos);
  CHECK(errorOf("10.244.1.10", "172.30.0.2:65536").find("is not 1-65535") != std::string::npos);
  CHECK(errorOf("fd00::1", "[fd00::2]:99999").find("is not 1-65535") != std::string::npos);
  CHECK(errorOf("fd00::1", "[fd00::2").find("no closing ']'") != std::string::npos);
  CHECK(errorOf("fd00::1", "[fd00::2]80").find("only :PORT may follow") != std::string::npos);
  CHECK(errorOf("10.0.0.1", "[10.0.0.2]:80").find("brackets hold an IPv6 address") !=
        std::string::npos);
  CHECK(errorOf("fd00::1", "fd00::zz").find("[ADDRESS]:PORT") != std::string::npos);
  CHECK(errorOf("10.244.1.10:80", "172.30.0.2").find("only the destination takes one") !=
        std::string::npos);
  CHECK(errorOf("10.244.1", "172.30.0.2").find("is not an IPv4 or IPv6 address") !=
        std::string::npos);
}
