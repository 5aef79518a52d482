// ambientctl's renderings: dump tables golden-tested against a known plan, verify's wording of
// each kind of difference. Pure.
#include "ambientctl/core/state_report.h"

#include <catch2/catch.hpp>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "golden.h"
#include "kernel_model.h"
#include "plan_fixtures.h"

using namespace ambient;

TEST_CASE("dump tables of a known plan match the golden text", "[report][golden]") {
  auto plan = *computeNodePlan(testing::nodeWithPods(3));
  auto observed = plan;
  for (auto& c : observed.nft->chains) {
    for (auto& r : c.rules) r.counter = NftCounter{7, 420};
  }
  std::string text =
      renderDumpTables(observed, "/var/run/netns/node", &plan) +
      renderDumpTables(*computeZtunnelPlan(testing::nodeWithPods(3)), "/var/run/netns/zt", nullptr);
  testing::checkGolden("dump_tables.txt", text);
  auto j = dumpJson(observed, "/var/run/netns/node", &plan);
  CHECK(j["nft"]["sets"]["enrolled_pods"].size() == 3);
  CHECK(j["nft"]["chains"][0]["rules"][0]["packets"] == 7);
}

TEST_CASE("verify words each kind of difference", "[report]") {
  auto in = testing::nodeWithPods(2);
  auto plan = *computeNodePlan(in);
  ObservedState have;
  have.owned = plan;
  for (const auto& s : plan.sysctls) have.sysctlOriginals[s.key] = "1";
  have.owned.routes.erase(have.owned.routes.begin());
  have.owned.rules.push_back(RuleSpec{.priority = 104, .table = 100});
  have.owned.tunnels[0].remote = IpAddress("10.9.9.9");
  have.owned.sysctls[0].value = "1";
  have.sysctlOriginals["net/ipv4/conf/gone/rp_filter"] = "2";
  auto lines = describeDifferences(diff(plan, have));
  auto has = [&](const std::string& s) {
    return std::any_of(lines.begin(), lines.end(), [&](auto& l) { return l == s; });
  };
  INFO(Catch::Detail::stringify(lines));
  CHECK(has("missing route 10.244.1.10/32 table 100"));
  CHECK(has("extra rule pref 104"));
  CHECK(has("different tunnel istioin"));
  CHECK(has("different sysctl net.ipv4.conf.all.rp_filter (want 0)"));
  CHECK(has("changed sysctl net.ipv4.conf.gone.rp_filter (original 2 not restored)"));
}
