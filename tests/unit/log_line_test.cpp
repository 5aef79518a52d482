// The logger's line: one JSON object, keys in order, any bytes escaped. Pure (formatLogLine).
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "common/log/log.h"

using namespace ambient;

TEST_CASE("a log line is one JSON object whatever the message holds", "[log]") {
  std::string line = formatLogLine(LogLevel::kWarn, "a \"quoted\"\nline",
                                   {{"peer", "bad \xff\xfe bytes"}, {"path", "C:\\x"}},
                                   "2026-12-06T16:00:00.000Z");
  REQUIRE(line.back() == '\n');
  CHECK(line.find('\n') == line.size() - 1);  // one line
  CHECK(line.rfind(R"({"ts":"2026-12-06T16:00:00.000Z","level":"warn","msg":)", 0) == 0);
  auto j = nlohmann::ordered_json::parse(line);  // throws when not JSON
  CHECK(j["msg"] == "a \"quoted\"\nline");
  CHECK(j["peer"] == "bad \xEF\xBF\xBD\xEF\xBF\xBD bytes");  // each bad byte is U+FFFD
  CHECK(j["path"] == "C:\\x");
  std::vector<std::string> keys;
  for (const auto& [k, v] : j.items()) keys.push_back(k);
  CHECK(keys == std::vector<std::string>{"ts", "level", "msg", "peer", "path"});
}
