// JSON-lines logger (nlohmann/json renders the line). Touches stderr only.
#include "common/log/log.h"

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <mutex>
#include <nlohmann/json.hpp>

namespace ambient {
namespace {

std::atomic<int> gLevel{static_cast<int>(LogLevel::kInfo)};
std::mutex gWriteMu;

std::string timestamp() {
  auto now = std::chrono::system_clock::now();
  std::time_t secs = std::chrono::system_clock::to_time_t(now);
  auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char ts[96];
  std::snprintf(ts, sizeof(ts), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(ms));
  return ts;
}

template <class Fields>
std::string formatLine(LogLevel level, std::string_view msg, const Fields& fields,
                       std::string_view ts) {
  nlohmann::ordered_json j;
  j["ts"] = ts;
  j["level"] = logLevelName(level);
  j["msg"] = msg;
  for (const auto& [k, v] : fields) j[std::string(k)] = v;
  // Bytes that are not UTF-8 (from a peer or a file) become U+FFFD: every line stays JSON.
  return j.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace) + "\n";
}

template <class Fields>
void writeLine(LogLevel level, std::string_view msg, const Fields& fields) {
  std::string line = formatLine(level, msg, fields, timestamp());
  // One write(2) per line; the lock keeps lines whole when several threads log at once.
  std::lock_guard lock(gWriteMu);
  ssize_t ignored = ::write(STDERR_FILENO, line.data(), line.size());
  (void)ignored;
}

}  // namespace

void setLogLevel(LogLevel level) {
  gLevel = static_cast<int>(level);
}

void setLogLevel(std::string_view name) {
  if (auto level = parseLogLevel(name)) setLogLevel(*level);
}

std::string formatLogLine(LogLevel level, std::string_view msg, const LogFieldList& fields,
                          std::string_view ts) {
  return formatLine(level, msg, fields, ts);
}

bool logEnabled(LogLevel level) {
  return static_cast<int>(level) >= gLevel.load();
}

void logLine(LogLevel level, std::string_view msg, std::initializer_list<LogField> fields) {
  if (logEnabled(level)) writeLine(level, msg, fields);
}

void logLine(LogLevel level, std::string_view msg, const LogFieldList& fields) {
  if (logEnabled(level)) writeLine(level, msg, fields);
}

}  // namespace ambient
