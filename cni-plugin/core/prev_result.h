// The fields of a chained call's prevResult that ambient-cni reads (interfaces[].name,
// interfaces[].sandbox, ips[].address, ips[].interface, ips[].version), each type-checked, and
// the pod IPs on CNI_IFNAME taken from them. Everything else is echoed unread. Pure.
#pragma once

#include <cstddef>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "common/core/error.h"
#include "common/core/ip_address.h"

namespace ambient::cni {

struct PrevInterface {
  std::string name;
  std::string sandbox;  // "" for a host-side interface
};

struct PrevIp {
  IpAddress address;                   // without its prefix ("10.1.0.5" of "10.1.0.5/24")
  std::optional<size_t> interfaceIdx;  // index into interfaces, when given
};

struct PrevResult {
  std::vector<PrevInterface> interfaces;
  std::vector<PrevIp> ips;
};

// Reads prevResult. The error (CNI code 6) names the field and what it should be, e.g.
// `prevResult interfaces[1].sandbox must be a string (a network namespace path), not 0`.
tl::expected<PrevResult, std::string> readPrevResult(const nlohmann::ordered_json& prev);

// The addresses (without prefix) of `ips` whose interface is named `ifname` and has a sandbox.
std::vector<IpAddress> podIps(const PrevResult& prev, const std::string& ifname);

}  // namespace ambient::cni
