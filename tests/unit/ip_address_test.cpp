// IpAddress (either family) and IfName: parsed once, refused with the field named, and the
// parser agrees with inet_pton(3). Pure.
#include "common/core/ip_address.h"

#include <arpa/inet.h>

#include <catch2/catch.hpp>
#include <random>

#include "common/core/if_name.h"
#include "common/core/mac_addr.h"

using namespace ambient;

TEST_CASE("IpAddress parses both families and prints inet_ntop's text", "[ip-address]") {
  auto v4 = IpAddress::parse("10.1.2.3");
  REQUIRE(v4);
  CHECK(v4->isV4());
  CHECK(v4->str() == "10.1.2.3");
  CHECK(v4->v4() == Ipv4{0x0a010203});
  CHECK(IpAddress::fromV4(Ipv4{0x0a010203}) == *v4);
  auto v6 = IpAddress::parse("FD00:0:0::0:5");
  REQUIRE(v6);
  CHECK(v6->isV6());
  CHECK(v6->str() == "fd00::5");
  CHECK_FALSE(v6->v4());
  CHECK(IpAddress::parse("::ffff:10.0.0.1")->str() == "::ffff:10.0.0.1");
  // Literals are checked when compiling; a bad one ("10.0.0.x") does not build.
  constexpr IpAddress literal = "10.244.1.3";
  CHECK(literal.str() == "10.244.1.3");
  CHECK(firstV4({"fd00::1", "10.0.0.7"}) == Ipv4{0x0a000007});
}

TEST_CASE("IpAddress refuses bad text naming the field", "[ip-address]") {
  for (const char* bad :
       {"", "10.1.2", "10.1.2.300", "010.1.2.3", "abc", "10.1.2.3 ", ":", ":::", "1::2::3",
        "1:2:3:4:5:6:7:8:9", "1:2:3:4:5:6:7::8", "12345::", "::1:", "fd00::10.0.0", "1.2.3.4::"}) {
    auto r = IpAddress::parse(bad, "prevResult ips[0]");
    REQUIRE_FALSE(r);
    CHECK(r.error().code == ErrorCode::kInvalidInput);
    CHECK(r.error().message().find(std::string("prevResult ips[0] \"") + bad + "\"") !=
          std::string::npos);
  }
}

TEST_CASE("IpAddress accepts exactly what inet_pton accepts", "[ip-address]") {
  // Random strings over the address alphabet, biased towards near-valid text.
  std::mt19937 rng(Catch::rngSeed());
  const std::string alphabet = "0123456789abcdefABCDEF:.:.:0";
  size_t agreed = 0, valid = 0;
  for (int n = 0; n < 200000; ++n) {
    std::string text;
    size_t len = 1 + rng() % 24;
    for (size_t i = 0; i < len; ++i) text += alphabet[rng() % alphabet.size()];
    unsigned char buf[16];
    bool libc =
        inet_pton(text.find(':') != std::string::npos ? AF_INET6 : AF_INET, text.c_str(), buf) == 1;
    auto ours = IpAddress::parse(text);
    INFO(text);
    REQUIRE(bool(ours) == libc);
    if (ours) {
      REQUIRE(std::equal(buf, buf + (ours->isV4() ? 4 : 16), ours->bytes().begin()));
      ++valid;
    }
    ++agreed;
  }
  CHECK(agreed == 200000);
  CHECK(valid > 100);  // the sample reached valid addresses, not only garbage
}

TEST_CASE("IfName follows the kernel's rules and names the field", "[if-name]") {
  CHECK(IfName::parse("istioin", "tunnel")->str() == "istioin");
  CHECK(IfName::parse("abcdefghijklmno", "veth"));  // 15 bytes
  auto tooLong = IfName::parse("abcdefghijklmnop", "host veth");
  REQUIRE_FALSE(tooLong);
  CHECK(tooLong.error().message().find("host veth \"abcdefghijklmnop\" is 16 bytes") !=
        std::string::npos);
  CHECK(tooLong.error().context.find("at most 15") != std::string::npos);
  for (const char* bad : {"", "a/b", "a b", "a:b", ".", ".."}) {
    CHECK_FALSE(IfName::parse(bad, "CNI_IFNAME"));
  }
  // Found by fuzz-cni_invocation: bytes that are not printable ASCII (here not UTF-8) were taken,
  // and the agent then could not decode the plugin's request.
  for (const char* bad : {"e\xfe\xff\x07th0", "eth\x7f", "\xc3\xa9th0"}) {
    CHECK_FALSE(IfName::parse(bad, "CNI_IFNAME"));
  }
  CHECK(IfName::parseOptional("", "host veth")->empty());
  CHECK_FALSE(IfName::parseOptional("a/b", "host veth"));
  constexpr IfName literal = "eth0";
  CHECK(literal.view() == "eth0");
  CHECK(IfName{} < literal);
}

TEST_CASE("MacAddr parses six hex pairs and prints lower case", "[mac-addr]") {
  auto mac = MacAddr::parse("02:42:AC:11:00:0f");
  REQUIRE(mac);
  CHECK(mac->str() == "02:42:ac:11:00:0f");
  CHECK(mac->bytes[5] == 0x0f);
  for (const char* bad : {"", "02:42:ac:11:00", "02:42:ac:11:00:0g", "02-42-ac-11-00-0f",
                          "02:42:ac:11:00:0f:", "2:42:ac:11:00:0ff"}) {
    auto r = MacAddr::parse(bad);
    REQUIRE_FALSE(r);
    CHECK(r.error().code == ErrorCode::kInvalidInput);
  }
}

TEST_CASE("IpPrefix parses both families and bounds the length by the family", "[ip-address]") {
  auto v6 = IpPrefix::parse("fd00:126::1/126");
  REQUIRE(v6);
  CHECK(v6->family() == IpAddress::Family::kV6);
  CHECK(v6->len == 126);
  CHECK(v6->str() == "fd00:126::1/126");
  CHECK(IpPrefix::parse("fd00::1")->len == 128);
  CHECK(IpPrefix::parse("10.0.0.1")->len == 32);
  CHECK(IpPrefix::parse("10.0.0.0/8")->str() == "10.0.0.0/8");
  CHECK(IpPrefix::any(IpAddress::Family::kV6).str() == "::/0");
  CHECK(IpPrefix::any(IpAddress::Family::kV4).str() == "0.0.0.0/0");
  CHECK(IpPrefix::host(IpAddress("fd00::2")).len == 128);
  CHECK(IpPrefix::fromV4(*Ipv4Prefix::parse("192.168.126.1/30")) ==
        *IpPrefix::parse("192.168.126.1/30"));
  // The same bits in two families are two prefixes.
  CHECK(IpPrefix::any(IpAddress::Family::kV4) != IpPrefix::any(IpAddress::Family::kV6));
  for (const char* bad : {"10.0.0.0/33", "fd00::/129", "fd00::/", "fd00::/-1", "fd00::/1x", "/64",
                          "fd00::1/64/64", "10.0.0.0/ 8"}) {
    auto r = IpPrefix::parse(bad, "tunnel address");
    INFO(bad);
    REQUIRE_FALSE(r);
    CHECK(r.error().code == ErrorCode::kInvalidInput);
    CHECK(r.error().message().find("tunnel address") != std::string::npos);
  }
}
