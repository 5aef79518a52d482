// Unit tests: the ring of recent denials behind `GET /denials` (bound, order, JSON shape). Pure.
#include "ztunnel/core/denial_ring.h"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

using namespace zt;

namespace {

DenialRecord record(int i) {
  DenialRecord r;
  r.unixMillis = 1796682600123 + i;  // 2026-12-07T22:30:00.123Z + i ms
  r.listener = "inbound_hbone";
  r.source = "10.0.1.2:4000" + std::to_string(i);
  r.sourcePrincipal = "cluster.local/ns/default/sa/sleep";
  r.destination = "10.0.2.2:80";
  r.reason = "deny_policy";
  r.policy = "default/deny-sleep";
  r.trigger = i % 2 ? "policy_update" : "connect";
  return r;
}

}  // namespace

TEST_CASE("denial ring keeps the last records, oldest first") {
  DenialRing ring(3);
  for (int i = 0; i < 5; ++i) ring.push(record(i));
  auto got = ring.snapshot();
  REQUIRE(got.size() == 3);
  CHECK(got.front().source == "10.0.1.2:40002");
  CHECK(got.back().source == "10.0.1.2:40004");
  CHECK(ring.total() == 5);
}

TEST_CASE("denial ring default capacity is 100") {
  DenialRing ring;
  for (int i = 0; i < 250; ++i) ring.push(record(i));
  CHECK(ring.snapshot().size() == 100);
  CHECK(ring.snapshot().front().unixMillis == record(150).unixMillis);
  CHECK(ring.total() == 250);
}

TEST_CASE("denial ring JSON shape") {
  DenialRing ring(2);
  CHECK(nlohmann::json::parse(renderDenialsJson(ring)) ==
        nlohmann::json::parse(R"({"capacity":2,"total":0,"denials":[]})"));
  ring.push(record(1));
  auto j = nlohmann::json::parse(renderDenialsJson(ring));
  CHECK(j == nlohmann::json::parse(R"({"capacity":2,"total":1,"denials":[{
    "time":"2026-12-07T22:30:00.124Z","unixMillis":1796682600124,"listener":"inbound_hbone",
    "source":"10.0.1.2:40001","sourcePrincipal":"cluster.local/ns/default/sa/sleep",
    "destination":"10.0.2.2:80","reason":"deny_policy","policy":"default/deny-sleep",
    "trigger":"policy_update"}]})"));
}
