// ztunnel's /denials JSON to typed values. Pure.
#include "ambientctl/core/denial_list.h"

#include <nlohmann/json.hpp>

namespace ambient {
namespace {

using json = nlohmann::json;

Result<std::string> text(const json& o, const char* key, const std::string& where) {
  auto it = o.find(key);
  if (it == o.end()) return std::string();
  if (!it->is_string())
    return fail(ErrorCode::kInvalidInput, where + "." + key + " is not a string");
  return it->get<std::string>();
}

}  // namespace

std::string Denial::destinationAddress() const {
  if (!destination.empty() && destination.front() == '[') {
    auto close = destination.find(']');
    return close == std::string::npos ? destination : destination.substr(1, close - 1);
  }
  return destination.substr(0, destination.rfind(':'));
}

Result<DenialList> decodeDenials(std::string_view body) {
  json doc = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (!doc.is_object())
    return fail(ErrorCode::kInvalidInput, "ztunnel's /denials is not a JSON object");
  DenialList out;
  if (auto total = doc.find("total"); total != doc.end()) {
    if (!total->is_number_unsigned())
      return fail(ErrorCode::kInvalidInput, "/denials total is not a count");
    out.total = total->get<uint64_t>();
  }
  auto list = doc.find("denials");
  if (list == doc.end() || !list->is_array())
    return fail(ErrorCode::kInvalidInput, "/denials has no denials list");
  for (size_t i = 0; i < list->size(); ++i) {
    const json& e = (*list)[i];
    std::string where = "denials[" + std::to_string(i) + "]";
    if (!e.is_object()) return fail(ErrorCode::kInvalidInput, where + " is not an object");
    Denial d;
    for (auto [key, field] :
         {std::pair{"time", &d.time}, std::pair{"listener", &d.listener},
          std::pair{"source", &d.source}, std::pair{"sourcePrincipal", &d.sourcePrincipal},
          std::pair{"destination", &d.destination}, std::pair{"reason", &d.reason},
          std::pair{"policy", &d.policy}, std::pair{"trigger", &d.trigger}}) {
      auto value = text(e, key, where);
      if (!value) return fail(value.error());
      *field = std::move(*value);
    }
    if (d.destination.empty()) return fail(ErrorCode::kInvalidInput, where + " has no destination");
    out.denials.push_back(std::move(d));
  }
  return out;
}

}  // namespace ambient
