// The API lookup helper's reply. Pure.
#include "cni-plugin/core/lookup_reply.h"

#include "common/k8s/objects.h"

namespace ambient::cni {

std::string renderLookupReply(const nlohmann::json& namespaceObject,
                              const nlohmann::json& podObject) {
  nlohmann::json j = {{"namespace", namespaceObject}, {"pod", podObject}};
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

std::string renderLookupError(const std::string& message) {
  return nlohmann::json{{"error", message}}.dump(-1, ' ', false,
                                                 nlohmann::json::error_handler_t::replace) +
         "\n";
}

Result<ApiObjects> parseLookupReply(std::string_view text) {
  auto j = nlohmann::json::parse(text, nullptr, false);
  if (!j.is_object())
    return fail(ErrorCode::kProtocol, std::string(kApiLookupBinary) + " replied no JSON object");
  if (auto e = j.find("error"); e != j.end())
    return fail(ErrorCode::kUnavailable, e->is_string() ? e->get<std::string>() : e->dump());
  auto ns = j.find("namespace");
  auto pod = j.find("pod");
  if (ns == j.end() || pod == j.end())
    return fail(ErrorCode::kProtocol,
                std::string(kApiLookupBinary) + " reply lacks \"namespace\" or \"pod\"");
  ApiObjects out;
  if (!ns->is_null()) {
    auto n = k8s::parseNamespace(*ns);
    if (!n) return fail(n.error());
    out.namespaces.push_back(std::move(*n));
  }
  if (!pod->is_null()) {
    auto p = k8s::parsePod(*pod);
    if (!p) return fail(p.error());
    out.pods.push_back(std::move(*p));
  }
  return out;
}

}  // namespace ambient::cni
