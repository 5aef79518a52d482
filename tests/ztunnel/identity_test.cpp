// Unit tests: SPIFFE identity parsing and the peer identity check. Pure.
#include <catch2/catch.hpp>

#include "ztunnel/core/spiffe_identity.h"

using namespace zt;

TEST_CASE("SPIFFE identities parse and render") {
  auto id = SpiffeIdentity::parse("spiffe://cluster.local/ns/default/sa/sleep");
  REQUIRE(id);
  CHECK(id->trustDomain == "cluster.local");
  CHECK(id->ns == "default");
  CHECK(id->serviceAccount == "sleep");
  CHECK(id->toUri() == "spiffe://cluster.local/ns/default/sa/sleep");
  CHECK_FALSE(SpiffeIdentity::parse("https://cluster.local/ns/a/sa/b"));
  CHECK_FALSE(SpiffeIdentity::parse("spiffe://cluster.local/ns//sa/b"));
  CHECK_FALSE(SpiffeIdentity::parse("spiffe://cluster.local/sa/b"));
  CHECK_FALSE(SpiffeIdentity::parse("spiffe://cluster.local/ns/a/sa/b/c"));
}

TEST_CASE("peer identity check") {
  const std::string sleep = "spiffe://cluster.local/ns/default/sa/sleep";
  CHECK(checkPeerIdentity({sleep}, "cluster.local", ""));
  CHECK(checkPeerIdentity({"https://example.com", sleep}, "cluster.local", sleep));
  CHECK_FALSE(checkPeerIdentity({}, "cluster.local", ""));
  CHECK_FALSE(checkPeerIdentity({"https://example.com"}, "cluster.local", ""));
  CHECK_FALSE(checkPeerIdentity({sleep}, "other.domain", ""));
  CHECK_FALSE(
      checkPeerIdentity({sleep}, "cluster.local", "spiffe://cluster.local/ns/default/sa/x"));
  CHECK_FALSE(checkPeerIdentity({sleep, "spiffe://cluster.local/ns/a/sa/b"}, "cluster.local", ""));
}
