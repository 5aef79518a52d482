// The pod registry's JSON form. Pure.
#include "node-agent/core/pod_registry.h"

#include <nlohmann/json.hpp>

#include "common/core/compute_plan.h"

namespace ambient {
namespace {

using nlohmann::json;
constexpr int kRegistryVersion = 1;

json podJson(const PodRecord& p) {
  json ips = json::array();
  for (const auto& ip : p.ips) ips.push_back(ip.str());
  return {{"uid", p.uid},
          {"namespace", p.podNamespace},
          {"name", p.name},
          {"containerId", p.containerId},
          {"netns", p.netns},
          {"ifname", p.ifname.str()},
          {"ips", ips},
          {"hostVeth", p.hostVeth.str()},
          {"enrolled", p.enrolled}};
}

json ztunnelJson(const ZtunnelRecord& z) {
  json out = {{"uid", z.uid},
              {"netns", z.netns},
              {"ip", z.ip.str()},
              {"hostVeth", z.hostVeth.str()},
              {"nodeAddr", z.nodeAddr.str()},
              {"podIfname", z.podIfname.str()},
              {"lowerMtu", z.lowerMtu}};
  if (z.ip6) out["ip6"] = z.ip6->str();  // absent on IPv4-only nodes (and in older files)
  return out;
}

// The typed fields, decoded once here; a bad value throws naming the field (the caller turns
// it into the loader's refusal).
template <class T>
T orThrow(Result<T> r) {
  if (!r) throw std::invalid_argument(r.error().message());
  return std::move(*r);
}

IpAddress ipField(const json& j, const char* key, const std::string& record) {
  return orThrow(IpAddress::parse(j.at(key).get<std::string>(), record + " " + key));
}

IfName ifField(const json& j, const char* key, const std::string& record, bool optional) {
  auto text = j.at(key).get<std::string>();
  return orThrow(optional ? IfName::parseOptional(text, record + " " + key)
                          : IfName::parse(text, record + " " + key));
}

}  // namespace

Status validatePodRecord(const PodRecord& rec) {
  if (rec.uid.empty()) return fail(ErrorCode::kInvalidInput, "a pod without uid");
  if (rec.enrolled) {
    // The agent enrolls only pods with an address and a known host veth; anything else is
    // damage (no checksum guards the file) that would stop every later plan of the node.
    const std::string pod = "enrolled pod " + rec.podNamespace + "/" + rec.name;
    if (rec.hostVeth.empty()) return fail(ErrorCode::kInvalidInput, pod + " has no host veth");
    if (auto a = podAddresses(rec.ips); !a) return fail(a.error().wrap(pod));
  }
  return {};
}

Status validateZtunnelRecord(const ZtunnelRecord& rec) {
  // Every plan of the node starts from this record: refused here, with the file's name, rather
  // than met later as a node that never becomes ready.
  // ip is IPv4, or on an IPv6-only node IPv6 and then ip6 as well; nodeAddr (the tunnels'
  // remote in the pod) is of ip's family: the tunnels ride between the two.
  if (rec.ip.family() != rec.nodeAddr.family()) {
    return fail(ErrorCode::kInvalidInput, "ztunnel record: ip " + rec.ip.str() + " and nodeAddr " +
                                              rec.nodeAddr.str() + " are of different families");
  }
  if (rec.ip.isV6() && rec.ip6 != rec.ip) {
    return fail(ErrorCode::kInvalidInput, "ztunnel record: ip " + rec.ip.str() +
                                              " is IPv6 and ip6 " +
                                              (rec.ip6 ? rec.ip6->str() : "is missing") +
                                              ": an IPv6-only ztunnel has ip6 equal to ip");
  }
  if (rec.hostVeth.empty()) return fail(ErrorCode::kInvalidInput, "ztunnel record has no hostVeth");
  if (rec.nodeAddr.isV6()) {
    // A link-local gateway cannot be a tunnel's remote.
    if (auto s = checkRedirectableIp6(rec.nodeAddr, "ztunnel record nodeAddr (its IPv6 gateway)");
        !s) {
      return s;
    }
  }
  if (rec.ip6) return checkRedirectableIp6(*rec.ip6, "ztunnel record ip6");
  return {};
}

Result<PodAddresses> podAddresses(const std::vector<IpAddress>& ips) {
  PodAddresses out;
  for (const auto& ip : ips) {
    if (ip.isV4()) {
      if (!out.v4) out.v4 = *ip.v4();
      continue;
    }
    if (out.v6) {
      return fail(ErrorCode::kInvalidInput, "has two IPv6 addresses (" + out.v6->str() + ", " +
                                                ip.str() +
                                                "): one address per family can be redirected");
    }
    if (auto s = checkRedirectableIp6(ip, "IPv6 address"); !s) return fail(s.error());
    out.v6 = ip;
  }
  if (!out.v4 && !out.v6) return fail(ErrorCode::kInvalidInput, "has no IP address");
  return out;
}

namespace {

PodRecord podFromJson(const json& p) {
  const std::string record =
      "pod record " + p.at("namespace").get<std::string>() + "/" + p.at("name").get<std::string>();
  std::vector<IpAddress> ips;
  for (const auto& text : p.at("ips").get<std::vector<std::string>>()) {
    ips.push_back(orThrow(IpAddress::parse(text, record + " ips")));
  }
  PodRecord rec{p.at("uid").get<std::string>(),
                p.at("namespace").get<std::string>(),
                p.at("name").get<std::string>(),
                p.at("containerId").get<std::string>(),
                p.at("netns").get<std::string>(),
                ifField(p, "ifname", record, false),
                std::move(ips),
                ifField(p, "hostVeth", record, true),
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
  const std::string record = "ztunnel record";
  ZtunnelRecord rec{z.at("uid").get<std::string>(),   z.at("netns").get<std::string>(),
                    ipField(z, "ip", record),         ifField(z, "hostVeth", record, false),
                    ipField(z, "nodeAddr", record),   ifField(z, "podIfname", record, false),
                    u32(z.at("lowerMtu"), "lowerMtu")};
  if (auto it = z.find("ip6"); it != z.end()) rec.ip6 = ipField(z, "ip6", record);
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
