// ambient-agent's command line (CLI11): subcommand and flags, with defaults and --help text. Pure.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "common/core/compute_plan.h"
#include "common/core/constants.h"
#include "common/mesh/membership.h"

namespace ambient {

// Where /healthz, /readyz and /metrics listen. An empty host is every address of both families
// ([::] with IPV6_V6ONLY off, or 0.0.0.0 where the kernel has no IPv6): kubelet probes a
// hostNetwork pod at the node's address, which is IPv6 on an IPv6-only node.
struct HttpListenAddr {
  std::string host;  // an IP literal without brackets, or "" for every address
  uint16_t port = 15031;
  std::string str() const;  // ":15031", "127.0.0.1:15031", "[::1]:15031"
  bool operator==(const HttpListenAddr&) const = default;
};
// "[HOST]:PORT" with HOST an IPv4 literal, a bracketed IPv6 literal or empty.
Result<HttpListenAddr> parseHttpListenAddr(std::string_view text);

struct AgentFlags {
  std::string command = "run";  // run | uninstall | help
  std::string socketPath = "/var/run/ambient/agent.sock";
  std::string stateDir = "/var/run/ambient";
  std::string nodeNetns = "/proc/self/ns/net";
  TunnelMode tunnelMode = TunnelMode::kAuto;
  uint16_t tunnelPort = kDefaultTunnelPort;
  uint32_t tunnelMtu = 0;
  // auto: redirect IPv6 when the start-up probe finds this kernel able to; off: never. Where
  // IPv6 is not redirected, enrolled pods' IPv6 TCP is dropped (fail closed).
  bool ipv6Redirect = true;
  MembershipPolicy policy;
  std::string metadataFile;
  // Kubernetes API: "in-cluster" (service account; the default when KUBERNETES_SERVICE_HOST is
  // set), a kubeconfig path, or "" for none (metadata file only).
  std::string kubeconfig;
  std::string nodeName;         // this node's name in the API (NODE_NAME by default)
  std::string ztunnelViewFile;  // "" = <state-dir>/ztunnel-config.json
  std::string trustDomain = "cluster.local";
  std::string clusterDomain = "cluster.local";
  // Istio's root namespace: its AuthorizationPolicies and PeerAuthentications apply mesh-wide.
  std::string rootNamespace = "istio-system";
  // How often to look for the security.istio.io CRDs again while they are absent or forbidden.
  int policyDiscoveryIntervalSeconds = 60;
  HttpListenAddr httpAddr;
  int reconcileIntervalSeconds = 60;
  std::string logLevel = "info";

  std::string registryPath() const { return stateDir + "/registry.json"; }
  std::string ledgerPath() const { return stateDir + "/sysctl-ledger.json"; }
  std::string viewPath() const {
    return ztunnelViewFile.empty() ? stateDir + "/ztunnel-config.json" : ztunnelViewFile;
  }
};

// The --help text, defaults read from AgentFlags{}.
std::string agentUsage();
// Parses argv (without argv[0]); "--flag value" and "--flag=value". Errors name the flag and
// say what is expected. Bad arguments are refused even next to --help. `env` supplies
// defaults: NODE_NAME for --node-name, KUBERNETES_SERVICE_HOST for --kubeconfig in-cluster.
Result<AgentFlags> parseAgentFlags(const std::vector<std::string>& args,
                                   const std::map<std::string, std::string>& env = {});

}  // namespace ambient
