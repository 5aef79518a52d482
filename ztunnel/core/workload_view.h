// The workload/service view (upstream ztunnel's local config: workloads, services) as plain
// values with indexes by IP, VIP and uid. Pure.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "ztunnel/core/authz_policy.h"
#include "ztunnel/core/error.h"
#include "ztunnel/core/ip_addr.h"

namespace zt {

enum class TunnelProtocol { kTcp, kHbone };
enum class HealthStatus { kHealthy, kUnhealthy };

using PortMap = std::map<uint16_t, uint16_t>;  // service port -> target port (0: same port)

// Where a waypoint (or gateway) is: "network/IP" or a namespaced service hostname.
struct GatewayAddress {
  std::string network;
  std::optional<IpAddr> address;
  std::string hostnameNamespace;  // when the destination is a hostname
  std::string hostname;
  uint16_t hboneMtlsPort = 15008;
};

struct Workload {
  std::string uid;
  std::string name;
  std::string ns;
  std::string serviceAccount = "default";
  std::string trustDomain;
  std::string node;
  std::string network;
  std::vector<IpAddr> workloadIps;
  TunnelProtocol protocol = TunnelProtocol::kTcp;
  HealthStatus status = HealthStatus::kHealthy;
  std::optional<GatewayAddress> waypoint;
  std::map<std::string, PortMap> services;  // "namespace/hostname" -> ports
  authz::Labels labels;  // ours (upstream resolves selectors in istiod): for matchLabels
  std::vector<std::string> authorizationPolicies;  // upstream: bound policy keys "ns/name"

  std::string identity() const;  // spiffe://<td>/ns/<ns>/sa/<sa>
};

struct Endpoint {
  std::string workloadUid;
  PortMap port;
  HealthStatus status = HealthStatus::kHealthy;
};

struct Service {
  std::string name;
  std::string ns;
  std::string hostname;
  std::vector<std::pair<std::string, IpAddr>> vips;  // (network, address)
  PortMap ports;
  std::map<std::string, Endpoint> endpoints;  // by workload uid
  std::vector<std::string> subjectAltNames;
  std::optional<GatewayAddress> waypoint;
};

// The policies of a view: upstream's local `policies`, the Kubernetes-shaped
// `authorizationPolicies` and `peerAuthentications`, each decoded on its own (a bad one is kept
// as kInvalid and fails closed for its scope); `rejected` names elements that could not even be
// scoped (no name or namespace) and were dropped. The *Source lists keep each element's JSON as
// read, so that /config_dump renders the policies back under the same keys.
struct ViewPolicies {
  std::string rootNamespace = std::string(authz::kDefaultRootNamespace);
  authz::PolicySet authorization;
  authz::PeerAuthenticationSet peerAuthentication;
  std::vector<std::string> rejected;
  std::vector<std::string> localSource, authorizationSource, peerSource;

  bool empty() const {
    return localSource.empty() && authorizationSource.empty() && peerSource.empty();
  }
};

class WorkloadView {
 public:
  std::vector<Workload> workloads;
  std::vector<Service> services;
  std::string trustDomain = "cluster.local";
  ViewPolicies policies;

  // Builds the indexes and merges each workload's "services" into the services' endpoints.
  Status finalize();

  const Workload* findWorkloadByIp(const IpAddr& ip) const;
  const Workload* findWorkloadByUid(const std::string& uid) const;
  const Service* findServiceByVip(const IpAddr& ip) const;
  const Service* findServiceByHostname(const std::string& ns, const std::string& host) const;

 private:
  std::unordered_map<IpAddr, size_t, IpAddrHash> workloadByIp_;
  std::unordered_map<std::string, size_t> workloadByUid_;
  std::unordered_map<IpAddr, size_t, IpAddrHash> serviceByVip_;
  std::map<std::string, size_t> serviceByHost_;  // "ns/hostname"
};

// Parses the JSON form of upstream ztunnel's local config ({"workloads":[...],"services":[...],
// "policies":[...]}); see ztunnel/README.md for the schema. Errors name the offending field.
Result<WorkloadView> parseWorkloadView(std::string_view json, std::string_view defaultTrustDomain);

// Renders the view back in the same schema (used by /config_dump).
std::string renderWorkloadView(const WorkloadView& view);

}  // namespace zt
