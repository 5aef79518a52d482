// Watch stream decoding. Pure.
#include "common/k8s/watch_event.h"

namespace ambient::k8s {

using nlohmann::json;

std::string_view watchEventTypeName(WatchEventType type) {
  switch (type) {
    case WatchEventType::kAdded:
      return "ADDED";
    case WatchEventType::kModified:
      return "MODIFIED";
    case WatchEventType::kDeleted:
      return "DELETED";
    case WatchEventType::kBookmark:
      return "BOOKMARK";
    case WatchEventType::kError:
      return "ERROR";
  }
  return "?";
}

std::string describeHttpFailure(int httpStatus, const ApiStatus& status) {
  std::string text = "HTTP " + std::to_string(httpStatus);
  if (!status.reason.empty()) text += " " + status.reason;
  if (!status.message.empty() && status.message != status.reason) text += ": " + status.message;
  if (httpStatus == 401) text += " (check the bearer token)";
  if (httpStatus == 403) text += " (check the service account's RBAC)";
  return text;
}

std::optional<ApiStatus> parseApiStatus(const json& body) {
  if (!body.is_object()) return std::nullopt;
  auto kind = body.find("kind");
  if (kind == body.end() || !kind->is_string() || kind->get<std::string>() != "Status") {
    return std::nullopt;
  }
  ApiStatus status;
  if (auto it = body.find("code"); it != body.end() && it->is_number_integer()) {
    status.code = it->get<int>();
  }
  if (auto it = body.find("reason"); it != body.end() && it->is_string()) {
    status.reason = it->get<std::string>();
  }
  if (auto it = body.find("message"); it != body.end() && it->is_string()) {
    status.message = it->get<std::string>();
  }
  return status;
}

Result<WatchEvent> parseWatchEvent(std::string_view line) {
  json doc = json::parse(line, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded() || !doc.is_object()) {
    return fail(ErrorCode::kProtocol,
                "watch event is not a JSON object: '" + std::string(line.substr(0, 120)) + "'");
  }
  auto type = doc.find("type");
  auto object = doc.find("object");
  if (type == doc.end() || !type->is_string()) {
    return fail(ErrorCode::kProtocol, "watch event has no string 'type'");
  }
  if (object == doc.end() || !object->is_object()) {
    return fail(ErrorCode::kProtocol,
                "watch event " + type->get<std::string>() + " has no 'object'");
  }
  static const std::pair<std::string_view, WatchEventType> kTypes[] = {
      {"ADDED", WatchEventType::kAdded},     {"MODIFIED", WatchEventType::kModified},
      {"DELETED", WatchEventType::kDeleted}, {"BOOKMARK", WatchEventType::kBookmark},
      {"ERROR", WatchEventType::kError},
  };
  WatchEvent event;
  const std::string& name = type->get_ref<const std::string&>();
  bool known = false;
  for (const auto& [text, value] : kTypes) {
    if (name == text) {
      event.type = value;
      known = true;
    }
  }
  if (!known) return fail(ErrorCode::kProtocol, "unknown watch event type '" + name + "'");
  event.object = std::move(*object);
  if (auto meta = event.object.find("metadata"); meta != event.object.end() && meta->is_object()) {
    if (auto rv = meta->find("resourceVersion"); rv != meta->end() && rv->is_string()) {
      event.resourceVersion = rv->get<std::string>();
    }
  }
  return event;
}

Result<std::vector<std::string>> LineSplitter::feed(std::string_view data) {
  std::vector<std::string> lines;
  size_t start = 0;
  while (start < data.size()) {
    size_t nl = data.find('\n', start);
    if (nl == std::string_view::npos) {
      buffer_.append(data.substr(start));
      break;
    }
    buffer_.append(data.substr(start, nl - start));
    if (!buffer_.empty() && buffer_.back() == '\r') buffer_.pop_back();
    if (!buffer_.empty()) lines.push_back(std::move(buffer_));
    buffer_.clear();
    start = nl + 1;
  }
  if (buffer_.size() > maxLineBytes_) {
    buffer_.clear();
    return fail(ErrorCode::kProtocol,
                "watch line longer than " + std::to_string(maxLineBytes_) + " bytes");
  }
  return lines;
}

}  // namespace ambient::k8s
