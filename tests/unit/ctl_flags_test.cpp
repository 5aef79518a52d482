// ambientctl's command line: commands, trace operands, flags on either side, mistakes, --help.
// Pure.
#include "ambientctl/core/ctl_flags.h"

#include <catch2/catch.hpp>

using namespace ambient;

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
}

TEST_CASE("ctl flags: each refusal says what is wrong", "[flags][ctl]") {
  auto says = [](const std::vector<std::string>& args, const std::string& what) {
    auto f = parseCtlFlags(args);
    REQUIRE_FALSE(f);
    INFO(f.error().message());
    CHECK(f.error().message().find(what) != std::string::npos);
  };
  says({}, "no command given");
  says({"launch"}, "launch");
  says({"plan", "verify"}, "verify");
  says({"plan", "-o", "yaml"}, "-o");
  says({"plan", "-o"}, "-o");
  says({"plan", "--state-dir"}, "--state-dir");
  says({"plan", "--nope"}, "--nope");
  says({"plan", "--quiet=yes"}, "quiet");
  says({"trace", "a/b"}, "DESTINATION");
  says({"trace", "a/b", "c/d", "e/f"}, "e/f");
  says({"verify", "--bogus", "--help"}, "--bogus");  // help does not hide a mistake
}

TEST_CASE("ctl --help lists every command, flag, default and exit code", "[flags][ctl]") {
  std::string help = ctlUsage();
  for (const char* shown : {"plan", "verify", "dump", "trace", "SOURCE DESTINATION[:PORT]",
                            "--state-dir DIR", "(default /var/run/ambient)", "-o text|json",
                            "(default text)", "--quiet", "Exit codes: 0"}) {
    INFO(shown);
    CHECK(help.find(shown) != std::string::npos);
  }
}
