// The agent's registry of pods on this node, as data, with its JSON form. Persisted by the
// agent after every change so a restart adopts everything. Pure.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/core/error.h"
#include "common/core/if_name.h"
#include "common/core/ip_address.h"

namespace ambient {

struct PodRecord {
  std::string uid;
  std::string podNamespace;
  std::string name;
  std::string containerId;
  std::string netns;  // network namespace path given by the runtime
  IfName ifname;      // CNI_IFNAME
  std::vector<IpAddress> ips;
  IfName hostVeth;  // node end of the pod's veth, discovered from the kernel (empty: not known)
  bool enrolled = false;
  bool operator==(const PodRecord&) const = default;
};

// The ztunnel pod of this node, as the node sees it. `ip` is its IPv4 address, or on an
// IPv6-only node its IPv6 address (then equal to ip6); nodeAddr is of ip's family.
struct ZtunnelRecord {
  std::string uid;
  std::string netns;
  IpAddress ip;
  IfName hostVeth;
  IpAddress nodeAddr;  // the ztunnel pod's gateway: the node's address on that link
  IfName podIfname = "eth0";
  uint32_t lowerMtu = 1500;
  std::optional<IpAddress> ip6;  // its IPv6 address (dual-stack and IPv6-only nodes)
  bool operator==(const ZtunnelRecord&) const = default;
};

// The addresses a pod is redirected with: its first IPv4 address and its IPv6 address (one at
// most, redirectable); at least one of the two. The error says what is wrong with the list
// (kInvalidInput), without naming the pod.
struct PodAddresses {
  std::optional<Ipv4> v4;
  std::optional<IpAddress> v6;
};
Result<PodAddresses> podAddresses(const std::vector<IpAddress>& ips);

struct PodRegistry {
  std::map<std::string, PodRecord> pods;  // by uid
  std::optional<ZtunnelRecord> ztunnel;
  bool operator==(const PodRegistry&) const = default;

  // The record with this container ID, or nullptr.
  const PodRecord* byContainer(const std::string& containerId) const;
  std::vector<const PodRecord*> enrolled() const;
};

// What the loader accepts of one record beyond its typed fields: a uid; when enrolled, the
// addresses podAddresses accepts and a host veth. The enroller checks it before writing, so no
// record the loader would refuse is stored.
Status validatePodRecord(const PodRecord& rec);
Status validateZtunnelRecord(const ZtunnelRecord& rec);

std::string encodeRegistry(const PodRegistry& r);
Result<PodRegistry> decodeRegistry(std::string_view text);

// One change of the registry as a journal line: {"put": pod}, {"del": uid} or {"ztunnel": z}.
std::string encodePut(const PodRecord& p);
std::string encodeDelete(const std::string& uid);
std::string encodeZtunnel(const ZtunnelRecord& z);
// Applies one journal line; a damaged line is an error.
Status applyChange(PodRegistry& r, std::string_view line);

}  // namespace ambient
