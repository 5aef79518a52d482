// Defensive typed reads from API JSON: absent or null fields give defaults, a field of the wrong
// type records the first error with its path ("spec.ports[1].port: expected integer, got
// string"). Pure.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "common/k8s/objects.h"

namespace ambient::k8s {

class JsonReader {
 public:
  // The child `key` of `object` when present with `type` (object, array, string, boolean,
  // number_integer); nullptr when absent or null; records an error when of another type.
  const nlohmann::json* child(const nlohmann::json& object, const char* key,
                              nlohmann::json::value_t type, const std::string& path);
  std::string string(const nlohmann::json& object, const char* key, const std::string& path);
  bool boolean(const nlohmann::json& object, const char* key, const std::string& path,
               bool fallback);
  // Integer field in [min, max]; nullopt when absent.
  std::optional<long long> integer(const nlohmann::json& object, const char* key,
                                   const std::string& path, long long min, long long max);
  Labels stringMap(const nlohmann::json& object, const char* key, const std::string& path);
  std::vector<std::string> stringList(const nlohmann::json& object, const char* key,
                                      const std::string& path);

  void fail(const std::string& path, const std::string& what);
  bool failed() const { return !error_.empty(); }
  const std::string& error() const { return error_; }

 private:
  std::string error_;
};

// "Pod ns/name" (or "Pod <no name>") for error messages, from whatever the JSON holds.
std::string describeObject(const nlohmann::json& object, std::string_view kind);

}  // namespace ambient::k8s
