// Unit tests of the invocation log line and its level filter. Pure.
#include "cni-plugin/core/invocation_log.h"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

using namespace ambient::cni;
using json = nlohmann::json;

namespace {
CniOutcome outcome(int exitCode, const std::string& level) {
  CniOutcome o;
  o.exitCode = exitCode;
  o.cniCode = exitCode ? 11 : 0;
  o.command = "ADD";
  o.containerId = "ctr1";
  o.pod = "foo/app";
  o.verdict = exitCode ? "error" : "enrolled";
  o.error = exitCode ? "agent down" : "";
  o.logFile = "/var/log/ambient-cni.log";
  o.logLevel = level;
  o.agentRequest = "{\"command\":\"ADD\"}";
  o.agentReply = "{\"verdict\":\"enrolled\"}";
  return o;
}
}  // namespace

TEST_CASE("invocation log line fields", "[cni][log]") {
  auto line = renderLogLine(outcome(0, ""), 1714564800123456, 842);
  REQUIRE(line);
  auto j = json::parse(*line);
  CHECK(j["time"] == "2024-05-01T12:00:00.123456Z");
  CHECK(j["command"] == "ADD");
  CHECK(j["containerId"] == "ctr1");
  CHECK(j["pod"] == "foo/app");
  CHECK(j["verdict"] == "enrolled");
  CHECK(j["durationUs"] == 842);
  CHECK(j["error"] == "");
  CHECK_FALSE(j.contains("agentRequest"));
  CHECK(line->find('\n') == std::string::npos);
  auto err = json::parse(*renderLogLine(outcome(1, "info"), 0, 1));
  CHECK(err["level"] == "error");
  CHECK(err["cniCode"] == 11);
  CHECK(err["error"] == "agent down");
  CHECK(err["time"] == "1970-01-01T00:00:00.000000Z");
}

TEST_CASE("invocation log levels", "[cni][log]") {
  CHECK(renderLogLine(outcome(0, "info"), 0, 0));
  CHECK(renderLogLine(outcome(0, "bogus"), 0, 0));
  CHECK_FALSE(renderLogLine(outcome(0, "error"), 0, 0));
  CHECK(renderLogLine(outcome(1, "error"), 0, 0));
  CHECK_FALSE(renderLogLine(outcome(1, "none"), 0, 0));
  auto dbg = json::parse(*renderLogLine(outcome(0, "debug"), 0, 0));
  CHECK(dbg["agentReply"] == "{\"verdict\":\"enrolled\"}");
  auto noFile = outcome(0, "debug");
  noFile.logFile.clear();
  CHECK_FALSE(renderLogLine(noFile, 0, 0));
}
