// The pod registry's JSON form. Pure.
#include "node-agent/core/pod_registry.h"

#include <nlohmann/json.hpp>

namespace ambient {
namespace {

using nlohmann::json;
constexpr int kRegistryVersion = 1;

json podJson(const PodRecord& p) {
  return {{"uid", p.uid},       {"namespace", p.podNamespace}, {"name", p.name},
          {"containerId", p.containerId}, {"netns", p.netns}, {"ifname", p.ifname},
          {"ips", p.ips},       {"hostVeth", p.hostVeth},      {"enrolled", p.enrolled}};
}

}  // namespace

const PodRecord* PodRegistry::byContainer(const std::string& containerId) const {
  for (const auto& [uid, p] : pods) {
    if (p.containerId == containerId) return &p;
  }
  return nullptr;
}

std::vector<const PodRecord*> PodRegistry::enrolled() const {
  std::vector<const PodRecord*> out;
  for (const auto& [uid, p] : pods) {
    if (p.enrolled) out.push_back(&p);
  }
  return out;
}

std::string encodeRegistry(const PodRegistry& r) {
  json pods = json::array();
  for (const auto& [uid, p] : r.pods) pods.push_back(podJson(p));
  json j = {{"version", kRegistryVersion}, {"pods", pods}};
  if (r.ztunnel) {
    const auto& z = *r.ztunnel;
    j["ztunnel"] = {{"uid", z.uid},           {"netns", z.netns},       {"ip", z.ip},
                    {"hostVeth", z.hostVeth}, {"nodeAddr", z.nodeAddr}, {"podIfname", z.podIfname},
                    {"lowerMtu", z.lowerMtu}};
  }
  return j.dump(1) + "\n";
}

Result<PodRegistry> decodeRegistry(std::string_view text) {
  auto j = json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    return fail(ErrorCode::kProtocol, "registry is not a JSON object");
  }
  if (j.value("version", 0) != kRegistryVersion) {
    return fail(ErrorCode::kProtocol, "registry version " + j.value("version", json()).dump() +
                                          " is not " + std::to_string(kRegistryVersion));
  }
  PodRegistry r;
  try {
    for (const auto& p : j.at("pods")) {
      PodRecord rec{p.at("uid").get<std::string>(),
                    p.at("namespace").get<std::string>(),
                    p.at("name").get<std::string>(),
                    p.at("containerId").get<std::string>(),
                    p.at("netns").get<std::string>(),
                    p.at("ifname").get<std::string>(),
                    p.at("ips").get<std::vector<std::string>>(),
                    p.at("hostVeth").get<std::string>(),
                    p.at("enrolled").get<bool>()};
      if (rec.uid.empty()) return fail(ErrorCode::kProtocol, "registry has a pod without uid");
      r.pods[rec.uid] = std::move(rec);
    }
    if (j.contains("ztunnel")) {
      const auto& z = j["ztunnel"];
      r.ztunnel = ZtunnelRecord{z.at("uid").get<std::string>(),      z.at("netns").get<std::string>(),
                                z.at("ip").get<std::string>(),       z.at("hostVeth").get<std::string>(),
                                z.at("nodeAddr").get<std::string>(), z.at("podIfname").get<std::string>(),
                                z.at("lowerMtu").get<uint32_t>()};
    }
  } catch (const json::exception& e) {
    return fail(ErrorCode::kProtocol, std::string("registry is malformed: ") + e.what());
  }
  return r;
}

}  // namespace ambient
