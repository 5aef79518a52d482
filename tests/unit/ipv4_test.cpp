// Address parsing and interface-name validation. Pure.
#include "common/core/ipv4.h"

#include <catch2/catch.hpp>

using namespace ambient;

TEST_CASE("IPv4 addresses and prefixes parse and print back", "[ipv4]") {
  REQUIRE(Ipv4::parse("10.1.2.3")->str() == "10.1.2.3");
  REQUIRE(Ipv4Prefix::parse("192.168.126.1/30")->str() == "192.168.126.1/30");
  REQUIRE(Ipv4Prefix::parse("10.0.0.1")->len == 32);
  REQUIRE(Ipv4Prefix::parse("0.0.0.0/0")->len == 0);
}

TEST_CASE("bad addresses are rejected with the text named", "[ipv4]") {
  for (const char* bad : {"", "10.1.2", "10.1.2.300", "abc", "10.1.2.3 "}) {
    auto r = Ipv4::parse(bad);
    REQUIRE_FALSE(r);
    CHECK(r.error().code == ErrorCode::kInvalidInput);
    CHECK(r.error().context.find(std::string("\"") + bad + "\"") != std::string::npos);
  }
  for (const char* bad : {"10.0.0.0/33", "10.0.0.0/", "10.0.0.0/x", "10.0.0.0/-1"}) {
    REQUIRE_FALSE(Ipv4Prefix::parse(bad));
  }
}

TEST_CASE("IPv6 input says it is not supported yet", "[ipv4]") {
  auto r = Ipv4::parse("fd00::5");
  REQUIRE_FALSE(r);
  CHECK(r.error().context.find("IPv6") != std::string::npos);
}
