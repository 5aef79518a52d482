// JSON-lines logger. Touches stderr only.
#include "common/log/log.h"

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <mutex>

namespace ambient {
namespace {

std::atomic<int> gLevel{static_cast<int>(LogLevel::kInfo)};
std::mutex gWriteMu;

// Length of the valid UTF-8 sequence at s[i], or 0 when it is not one.
size_t utf8Length(std::string_view s, size_t i) {
  auto b = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  auto cont = [&](size_t k) { return k < s.size() && (b(k) & 0xC0) == 0x80; };
  unsigned char c = b(i);
  if (c >= 0xC2 && c <= 0xDF) return cont(i + 1) ? 2 : 0;
  if (c >= 0xE0 && c <= 0xEF) {
    if (!cont(i + 1) || !cont(i + 2)) return 0;
    if (c == 0xE0 && b(i + 1) < 0xA0) return 0;   // overlong
    if (c == 0xED && b(i + 1) >= 0xA0) return 0;  // surrogate
    return 3;
  }
  if (c >= 0xF0 && c <= 0xF4) {
    if (!cont(i + 1) || !cont(i + 2) || !cont(i + 3)) return 0;
    if (c == 0xF0 && b(i + 1) < 0x90) return 0;   // overlong
    if (c == 0xF4 && b(i + 1) >= 0x90) return 0;  // above U+10FFFF
    return 4;
  }
  return 0;
}

// A JSON string: quotes, backslashes and control characters escaped; bytes that are not UTF-8
// become U+FFFD, so every line stays valid JSON whatever a peer or a file put in a message.
void appendEscaped(std::string& out, std::string_view s) {
  out += '"';
  for (size_t i = 0; i < s.size();) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c >= 0x80) {
      size_t n = utf8Length(s, i);
      if (n == 0) {
        out += "\xEF\xBF\xBD";
        ++i;
      } else {
        out.append(s.substr(i, n));
        i += n;
      }
      continue;
    }
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof(buf), "\\u%04x", c);
          out += buf;
        } else {
          out += static_cast<char>(c);
        }
    }
    ++i;
  }
  out += '"';
}

std::string lineHead(LogLevel level, std::string_view msg) {
  auto now = std::chrono::system_clock::now();
  std::time_t secs = std::chrono::system_clock::to_time_t(now);
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char ts[96];
  std::snprintf(ts, sizeof(ts), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(ms));
  std::string line = "{\"ts\":\"";
  line += ts;
  line += "\",\"level\":\"";
  line += logLevelName(level);
  line += "\",\"msg\":";
  appendEscaped(line, msg);
  return line;
}

template <class Fields>
void writeLine(LogLevel level, std::string_view msg, const Fields& fields) {
  std::string line = lineHead(level, msg);
  for (const auto& [k, v] : fields) {
    line += ',';
    appendEscaped(line, k);
    line += ':';
    appendEscaped(line, v);
  }
  line += "}\n";
  // One write(2) per line; the lock keeps lines whole when several threads log at once.
  std::lock_guard lock(gWriteMu);
  ssize_t ignored = ::write(STDERR_FILENO, line.data(), line.size());
  (void)ignored;
}

}  // namespace

void setLogLevel(LogLevel level) { gLevel = static_cast<int>(level); }

void setLogLevel(std::string_view name) {
  if (auto level = parseLogLevel(name)) setLogLevel(*level);
}

bool logEnabled(LogLevel level) { return static_cast<int>(level) >= gLevel.load(); }

void logLine(LogLevel level, std::string_view msg, std::initializer_list<LogField> fields) {
  if (logEnabled(level)) writeLine(level, msg, fields);
}

void logLine(LogLevel level, std::string_view msg, const LogFieldList& fields) {
  if (logEnabled(level)) writeLine(level, msg, fields);
}

}  // namespace ambient
