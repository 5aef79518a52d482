// The pod registry's JSON form. Pure.
#include "node-agent/core/pod_registry.h"

#include <nlohmann/json.hpp>

#include "common/core/ipv4.h"

namespace ambient {
namespace {

using nlohmann::json;
constexpr int kRegistryVersion = 1;

json podJson(const PodRecord& p) {
  return {{"uid", p.uid},          {"namespace", p.podNamespace},
          {"name", p.name},        {"containerId", p.containerId},
          {"netns", p.netns},      {"ifname", p.ifname},
          {"ips", p.ips},          {"hostVeth", p.hostVeth},
          {"enrolled", p.enrolled}};
}

json ztunnelJson(const ZtunnelRecord& z) {
  return {{"uid", z.uid},           {"netns", z.netns},       {"ip", z.ip},
          {"hostVeth", z.hostVeth}, {"nodeAddr", z.nodeAddr}, {"podIfname", z.podIfname},
          {"lowerMtu", z.lowerMtu}};
}

}  // namespace

Status validatePodRecord(const PodRecord& rec) {
  if (rec.uid.empty()) return fail(ErrorCode::kInvalidInput, "a pod without uid");
  if (rec.enrolled) {
    // The agent enrolls only pods with IPv4 addresses and a valid host veth; anything else is
    // damage (no checksum guards the file) that would stop every later plan of the node.
    const std::string pod = "enrolled pod " + rec.podNamespace + "/" + rec.name;
    if (rec.ips.empty()) return fail(ErrorCode::kInvalidInput, pod + " has no IP");
    for (const auto& ip : rec.ips) {
      if (auto v = Ipv4::parse(ip); !v) return fail(v.error().wrap(pod));
    }
    if (auto s = validateIfName(rec.hostVeth, "host veth of " + pod); !s) return s;
  }
  return {};
}

Status validateZtunnelRecord(const ZtunnelRecord& rec) {
  // Every plan of the node starts from this record: a damaged address or name found here is
  // refused with the file's name, not met later as a node that never becomes ready.
  for (const auto* field : {&rec.ip, &rec.nodeAddr}) {
    if (auto v = Ipv4::parse(*field); !v) return fail(v.error().wrap("ztunnel record"));
  }
  if (auto s = validateIfName(rec.hostVeth, "ztunnel record host veth"); !s) return s;
  return validateIfName(rec.podIfname, "ztunnel record pod interface");
}

namespace {

PodRecord podFromJson(const json& p) {
  PodRecord rec{p.at("uid").get<std::string>(),
                p.at("namespace").get<std::string>(),
                p.at("name").get<std::string>(),
                p.at("containerId").get<std::string>(),
                p.at("netns").get<std::string>(),
                p.at("ifname").get<std::string>(),
                p.at("ips").get<std::vector<std::string>>(),
                p.at("hostVeth").get<std::string>(),
                p.at("enrolled").get<bool>()};
  if (auto v = validatePodRecord(rec); !v) throw std::invalid_argument(v.error().message());
  return rec;
}

// get<uint32_t>() of a float out of range is undefined behaviour, of -1 a wrap: check first.
uint32_t u32(const json& v, const char* name) {
  if (!v.is_number_unsigned() || v.get<uint64_t>() > UINT32_MAX)
    throw std::invalid_argument(std::string(name) + " must be an integer 0..4294967295");
  return static_cast<uint32_t>(v.get<uint64_t>());
}

ZtunnelRecord ztunnelFromJson(const json& z) {
  ZtunnelRecord rec{z.at("uid").get<std::string>(),      z.at("netns").get<std::string>(),
                    z.at("ip").get<std::string>(),       z.at("hostVeth").get<std::string>(),
                    z.at("nodeAddr").get<std::string>(), z.at("podIfname").get<std::string>(),
                    u32(z.at("lowerMtu"), "lowerMtu")};
  if (auto v = validateZtunnelRecord(rec); !v) throw std::invalid_argument(v.error().message());
  return rec;
}

}  // namespace

std::string encodePut(const PodRecord& p) {
  return json{{"put", podJson(p)}}.dump();
}
std::string encodeDelete(const std::string& uid) {
  return json{{"del", uid}}.dump();
}
std::string encodeZtunnel(const ZtunnelRecord& z) {
  return json{{"ztunnel", ztunnelJson(z)}}.dump();
}

Status applyChange(PodRegistry& r, std::string_view line) {
  auto j = json::parse(line, nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    return fail(ErrorCode::kProtocol, "registry journal line is not a JSON object");
  }
  try {
    if (j.contains("put")) {
      auto rec = podFromJson(j["put"]);
      r.pods[rec.uid] = std::move(rec);
    } else if (j.contains("del")) {
      r.pods.erase(j["del"].get<std::string>());
    } else if (j.contains("ztunnel")) {
      r.ztunnel = ztunnelFromJson(j["ztunnel"]);
    } else {
      return fail(ErrorCode::kProtocol, "registry journal line has no known change");
    }
  } catch (const std::exception& e) {
    return fail(ErrorCode::kProtocol,
                std::string("registry journal line is malformed: ") + e.what());
  }
  return {};
}

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
  if (r.ztunnel) j["ztunnel"] = ztunnelJson(*r.ztunnel);
  return j.dump(1) + "\n";
}

Result<PodRegistry> decodeRegistry(std::string_view text) {
  auto j = json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    return fail(ErrorCode::kProtocol, "registry is not a JSON object");
  }
  // Checked before reading: value("version", 0) throws on a non-number.
  auto version = j.find("version");
  if (version == j.end() || !version->is_number_integer() ||
      version->get<int64_t>() != kRegistryVersion) {
    return fail(ErrorCode::kProtocol,
                "registry version " +
                    (version == j.end() ? std::string("(none)") : version->dump()) + " is not " +
                    std::to_string(kRegistryVersion));
  }
  PodRegistry r;
  try {
    for (const auto& p : j.at("pods")) {
      auto rec = podFromJson(p);
      r.pods[rec.uid] = std::move(rec);
    }
    if (j.contains("ztunnel")) r.ztunnel = ztunnelFromJson(j["ztunnel"]);
  } catch (const std::exception& e) {
    return fail(ErrorCode::kProtocol, std::string("registry is malformed: ") + e.what());
  }
  return r;
}

}  // namespace ambient
