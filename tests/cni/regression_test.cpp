// Findings of the fuzz targets replayed through runPlugin(): the committed reproducers under
// tests/fuzz/corpus/cni_invocation/regress-* must give a CNI error JSON or a result, never an
// exception. Pure (reads the corpus files).
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "cni-plugin/core/run_plugin.h"
#include "fake_agent.h"
#include "fake_metadata_lookup.h"
#include "fuzz_input.h"

using namespace ambient;
using namespace ambient::cni;
using json = nlohmann::ordered_json;

namespace {

CniOutcome replay(const std::string& name, FakeAgent& agent) {
  auto in = testing::readFuzzInput(std::string(AMBIENT_CNI_FUZZ_CORPUS) + "/" + name);
  REQUIRE(in);
  agent.up = in->reply.has_value();
  if (in->reply) agent.reply = *in->reply;
  FakeMetadataLookup lookup;
  lookup.apiUp = false;
  return runPlugin(CniInvocation{in->env, in->stdinText}, agent, lookup);
}

}  // namespace

TEST_CASE("finding be1d5945: an interface with \"sandbox\": 0 is code 6 naming the field",
          "[cni][regression]") {
  FakeAgent agent;
  CniOutcome o = replay("regress-sandbox-number", agent);
  INFO(o.stdoutText);
  CHECK(o.exitCode == 1);
  auto err = json::parse(o.stdoutText, nullptr, false);
  REQUIRE(err.is_object());
  CHECK(err["cniVersion"] == "0.4.0");
  CHECK(err["code"] == 6);
  CHECK(err["msg"] ==
        "invalid prevResult: prevResult interfaces[1].sandbox must be a string (a network "
        "namespace path), not 0");
  CHECK(agent.requests.empty());  // refused before asking anyone
  CHECK(o.pod.empty());
}

TEST_CASE("every regress-* input of the cni_invocation corpus gives one JSON object",
          "[cni][regression]") {
  for (const char* name :
       {"regress-sandbox-number", "regress-utf8-cni-args", "regress-utf8-cni-command"}) {
    FakeAgent agent;
    CniOutcome o = replay(name, agent);
    INFO(name << ": " << o.stdoutText);
    CHECK((o.exitCode == 0 || o.exitCode == 1));
    if (o.exitCode == 1) CHECK(json::parse(o.stdoutText, nullptr, false).is_object());
  }
}
