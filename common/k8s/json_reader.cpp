// Defensive typed reads from API JSON. Pure.
#include "common/k8s/json_reader.h"

namespace ambient::k8s {
namespace {

using nlohmann::json;

const char* typeName(json::value_t type) {
  switch (type) {
    case json::value_t::object:
      return "object";
    case json::value_t::array:
      return "array";
    case json::value_t::string:
      return "string";
    case json::value_t::boolean:
      return "boolean";
    case json::value_t::number_integer:
    case json::value_t::number_unsigned:
      return "integer";
    case json::value_t::number_float:
      return "number";
    case json::value_t::null:
      return "null";
    default:
      return "other";
  }
}

bool hasType(const json& value, json::value_t type) {
  if (type == json::value_t::number_integer) return value.is_number_integer();
  return value.type() == type;
}

std::string join(const std::string& path, const char* key) {
  return path.empty() ? std::string(key) : path + "." + key;
}

}  // namespace

void JsonReader::fail(const std::string& path, const std::string& what) {
  if (error_.empty()) error_ = path + ": " + what;
}

const json* JsonReader::child(const json& object, const char* key, json::value_t type,
                              const std::string& path) {
  if (!object.is_object()) return nullptr;
  auto it = object.find(key);
  if (it == object.end() || it->is_null()) return nullptr;
  if (!hasType(*it, type)) {
    fail(join(path, key),
         std::string("expected ") + typeName(type) + ", got " + typeName(it->type()));
    return nullptr;
  }
  return &*it;
}

std::string JsonReader::string(const json& object, const char* key, const std::string& path) {
  const json* value = child(object, key, json::value_t::string, path);
  return value ? value->get<std::string>() : std::string();
}

bool JsonReader::boolean(const json& object, const char* key, const std::string& path,
                         bool fallback) {
  const json* value = child(object, key, json::value_t::boolean, path);
  return value ? value->get<bool>() : fallback;
}

std::optional<long long> JsonReader::integer(const json& object, const char* key,
                                             const std::string& path, long long min,
                                             long long max) {
  const json* value = child(object, key, json::value_t::number_integer, path);
  if (!value) return std::nullopt;
  if (value->is_number_unsigned() &&
      value->get<unsigned long long>() > static_cast<unsigned long long>(max)) {
    fail(join(path, key), "value " + std::to_string(value->get<unsigned long long>()) +
                              " out of range [" + std::to_string(min) + ", " + std::to_string(max) +
                              "]");
    return std::nullopt;
  }
  long long n = value->get<long long>();
  if (n < min || n > max) {
    fail(join(path, key), "value " + std::to_string(n) + " out of range [" + std::to_string(min) +
                              ", " + std::to_string(max) + "]");
    return std::nullopt;
  }
  return n;
}

Labels JsonReader::stringMap(const json& object, const char* key, const std::string& path) {
  Labels out;
  const json* map = child(object, key, json::value_t::object, path);
  if (!map) return out;
  for (const auto& [k, v] : map->items()) {
    if (!v.is_string()) {
      fail(join(path, key) + "." + k, std::string("expected string, got ") + typeName(v.type()));
      continue;
    }
    out.emplace(k, v.get<std::string>());
  }
  return out;
}

std::vector<std::string> JsonReader::stringList(const json& object, const char* key,
                                                const std::string& path) {
  std::vector<std::string> out;
  const json* list = child(object, key, json::value_t::array, path);
  if (!list) return out;
  for (size_t i = 0; i < list->size(); ++i) {
    const json& v = (*list)[i];
    if (!v.is_string()) {
      fail(join(path, key) + "[" + std::to_string(i) + "]",
           std::string("expected string, got ") + typeName(v.type()));
      continue;
    }
    out.push_back(v.get<std::string>());
  }
  return out;
}

std::string describeObject(const json& object, std::string_view kind) {
  std::string name = "<no name>";
  std::string ns;
  if (object.is_object()) {
    auto meta = object.find("metadata");
    if (meta != object.end() && meta->is_object()) {
      auto n = meta->find("name");
      if (n != meta->end() && n->is_string()) name = n->get<std::string>();
      auto s = meta->find("namespace");
      if (s != meta->end() && s->is_string()) ns = s->get<std::string>();
    }
  }
  return std::string(kind) + " " + (ns.empty() ? name : ns + "/" + name);
}

}  // namespace ambient::k8s
