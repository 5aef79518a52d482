// Watch stream decoding: newline-delimited {"type":...,"object":...} events, the API's Status
// object (errors, 410 Expired), and a splitter that turns received chunks into lines. Pure.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/core/error.h"

namespace ambient::k8s {

enum class WatchEventType { kAdded, kModified, kDeleted, kBookmark, kError };

std::string_view watchEventTypeName(WatchEventType type);

struct WatchEvent {
  WatchEventType type = WatchEventType::kError;
  nlohmann::json object;        // the object (a Status for kError)
  std::string resourceVersion;  // object.metadata.resourceVersion, empty if absent
};

// The API's Status object ("kind":"Status"), returned on errors and in ERROR watch events.
struct ApiStatus {
  int code = 0;        // HTTP code: 404 NotFound, 409 Conflict, 410 Expired/Gone, ...
  std::string reason;  // NotFound, Expired, Gone, Unauthorized, ...
  std::string message;

  bool isExpired() const { return code == 410 || reason == "Expired" || reason == "Gone"; }
};

// "HTTP 401 Unauthorized: <message> (check the bearer token)": a failed request for operators.
std::string describeHttpFailure(int httpStatus, const ApiStatus& status);

// Reads a Status object; nullopt when `body` is not one.
std::optional<ApiStatus> parseApiStatus(const nlohmann::json& body);

// Parses one watch line; kProtocol error for bad JSON, an unknown type or a missing object.
Result<WatchEvent> parseWatchEvent(std::string_view line);

// Splits a byte stream into lines ('\n', an optional '\r' stripped; empty lines skipped).
class LineSplitter {
 public:
  explicit LineSplitter(size_t maxLineBytes = 64u << 20) : maxLineBytes_(maxLineBytes) {}
  // Appends data and returns the complete lines; an error when a line exceeds the limit.
  Result<std::vector<std::string>> feed(std::string_view data);
  // Bytes of an unfinished line.
  size_t pending() const { return buffer_.size(); }

 private:
  size_t maxLineBytes_;
  std::string buffer_;
};

}  // namespace ambient::k8s
