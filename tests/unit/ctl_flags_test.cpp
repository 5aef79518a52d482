// ambientctl's command line: commands, trace operands, flags on either side, mistakes, --help.
// Pure.
#include "ambientctl/core/ctl_flags.h"

#include <catch2/catch.hpp>

#include "tests/support/refusals.h"

using namespace ambient;
using ambient::testing::refusalOf;
using Catch::Matchers::Contains;

TEST_CASE("ctl flags: commands and flags before or after them", "[flags][ctl]") {
  auto plan = parseCtlFlags({"plan"});
  REQUIRE(plan);
  CHECK(plan->command == "plan");
  CHECK(plan->stateDir == "/var/run/ambient");
  CHECK_FALSE(plan->json);
  auto v = parseCtlFlags({"--state-dir", "/s", "verify", "-o", "json", "--quiet"});
  REQUIRE(v);
  CHECK(v->command == "verify");
  CHECK(v->stateDir == "/s");
  CHECK(v->json);
  CHECK(v->quiet);
  auto t = parseCtlFlags({"-o", "text", "trace", "default/sleep", "10.96.0.80:8000", "-q"});
  REQUIRE(t);
  CHECK(t->command == "trace");
  CHECK(t->source == "default/sleep");
  CHECK(t->destination == "10.96.0.80:8000");
  CHECK_FALSE(t->json);
  CHECK(t->quiet);
  CHECK(parseCtlFlags({"dump", "--state-dir=/x"})->stateDir == "/x");
  CHECK(parseCtlFlags({"--help"})->command == "help");
  CHECK(parseCtlFlags({"help"})->command == "help");
  CHECK(parseCtlFlags({"trace", "--help"})->command == "help");
  auto p = parseCtlFlags({"policies", "default/bar-1", "--ztunnel-view", "/v.json",
                          "--ztunnel-admin-port=15999", "-o", "json"});
  REQUIRE(p);
  CHECK(p->command == "policies");
  CHECK(p->podNamespace == "default");
  CHECK(p->podName == "bar-1");
  CHECK(p->ztunnelView == "/v.json");
  CHECK(p->ztunnelAdminPort == 15999);
  CHECK(p->json);
}

TEST_CASE("ctl flags: each refusal says what is wrong", "[flags][ctl]") {
  CHECK_THAT(refusalOf(parseCtlFlags({})), Contains("no command given"));
  CHECK_THAT(refusalOf(parseCtlFlags({"launch"})), Contains("launch"));
  CHECK_THAT(refusalOf(parseCtlFlags({"plan", "verify"})), Contains("verify"));
  CHECK_THAT(refusalOf(parseCtlFlags({"plan", "-o", "yaml"})), Contains("-o"));
  CHECK_THAT(refusalOf(parseCtlFlags({"plan", "-o"})), Contains("-o"));
  CHECK_THAT(refusalOf(parseCtlFlags({"plan", "--state-dir"})), Contains("--state-dir"));
  CHECK_THAT(refusalOf(parseCtlFlags({"plan", "--nope"})), Contains("--nope"));
  CHECK_THAT(refusalOf(parseCtlFlags({"plan", "--quiet=yes"})), Contains("quiet"));
  CHECK_THAT(refusalOf(parseCtlFlags({"trace", "a/b"})), Contains("DESTINATION"));
  CHECK_THAT(refusalOf(parseCtlFlags({"trace", "a/b", "c/d", "e/f"})), Contains("e/f"));
  CHECK_THAT(refusalOf(parseCtlFlags({"policies"})), Contains("NAMESPACE/NAME"));
  for (const char* pod : {"bar-1", "/bar-1", "default/", "a/b/c"}) {
    INFO(pod);
    CHECK_THAT(refusalOf(parseCtlFlags({"policies", pod})), Contains("NAMESPACE/NAME"));
  }
  CHECK_THAT(refusalOf(parseCtlFlags({"policies", "a/b", "--ztunnel-admin-port", "70000"})),
             Contains("--ztunnel-admin-port"));
  CHECK_THAT(refusalOf(parseCtlFlags({"verify", "--bogus", "--help"})),
             Contains("--bogus"));  // help does not hide a mistake
}

TEST_CASE("ctl --help lists every command, flag, default and exit code", "[flags][ctl]") {
  std::string help = ctlUsage();
  for (const char* shown :
       {"plan", "verify", "dump", "trace", "SOURCE DESTINATION[:PORT]", "policies",
        "NAMESPACE/NAME", "--ztunnel-view FILE", "--ztunnel-admin-port PORT", "(default 15000)",
        "--state-dir DIR", "(default /var/run/ambient)", "-o text|json", "(default text)",
        "--quiet", "Exit codes: 0"}) {
    INFO(shown);
    CHECK(help.find(shown) != std::string::npos);
  }
}
