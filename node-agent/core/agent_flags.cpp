// ambient-agent's command line. Pure.
#include "node-agent/core/agent_flags.h"

#include <charconv>

namespace ambient {
namespace {

Result<long> number(const std::string& flag, const std::string& v, long lo, long hi) {
  long n = 0;
  auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
  if (ec != std::errc() || p != v.data() + v.size() || n < lo || n > hi) {
    return fail(ErrorCode::kInvalidInput, flag + " wants a number from " + std::to_string(lo) +
                                              " to " + std::to_string(hi) + ", not \"" + v + "\"");
  }
  return n;
}

std::set<std::string> splitList(const std::string& v) {
  std::set<std::string> out;
  size_t pos = 0;
  while (pos <= v.size()) {
    auto comma = v.find(',', pos);
    auto item = v.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos);
    if (!item.empty()) out.insert(item);
    if (comma == std::string::npos) break;
    pos = comma + 1;
  }
  return out;
}

}  // namespace

std::string agentUsage() {
  return R"(ambient-agent: programs this node's ambient traffic redirection.

Usage:
  ambient-agent [run] [flags]     serve the CNI plugin and keep the node programmed
  ambient-agent uninstall [flags] remove every object the agent owns, restore sysctls, delete
                                  ztunnel's view file and, with the API, this node's pod marks
  ambient-agent --help

Flags (defaults in brackets):
  --socket PATH               plugin socket [/var/run/ambient/agent.sock]
  --state-dir DIR             registry and sysctl ledger [/var/run/ambient]
  --node-netns PATH           the node's network namespace [/proc/self/ns/net]
  --tunnel-mode MODE          geneve, vxlan or auto (vxlan when the kernel lacks geneve) [auto]
  --tunnel-port N             UDP port of the tunnels [)" +
         std::to_string(kDefaultTunnelPort) + R"(]
  --tunnel-mtu N              tunnel MTU; 0 = the ztunnel link's MTU minus 50 [0]
  --ztunnel-namespace NS      namespace of the ztunnel DaemonSet [istio-system]
  --ztunnel-label KEY=VALUE   label of ztunnel pods [app=ztunnel]
  --ztunnel-service-account SA  service account of ztunnel pods [ztunnel]
  --exclude-namespaces A,B    namespaces never enrolled [kube-system]
  --kubeconfig PATH|in-cluster  Kubernetes API access; "" disables the API [in-cluster when
                              KUBERNETES_SERVICE_HOST is set, else ""]
  --node-name NAME            this node in the API [$NODE_NAME]; required with the API
  --ztunnel-view-file PATH    ztunnel's config, written from the API [<state-dir>/ztunnel-config.json]
  --trust-domain TD           SPIFFE trust domain of workloads in the view [cluster.local]
  --cluster-domain D          services are <name>.<ns>.svc.D [cluster.local]
  --metadata-file PATH        pod/namespace metadata as JSON, when there is no API []
  --http-addr HOST:PORT       /healthz, /readyz, /metrics [0.0.0.0:15031]
  --reconcile-interval SECS   full level-triggered pass period [60]
  --log-level LEVEL           debug, info, warn or error [info]

A normal exit (SIGTERM, SIGINT) leaves the kernel state in place; only `uninstall` removes it.
SIGHUP runs a full reconcile pass at once.
Exit codes: 0 success, 1 runtime failure (the message says what and where), 2 usage error.
)";
}

Result<AgentFlags> parseAgentFlags(const std::vector<std::string>& args,
                                   const std::map<std::string, std::string>& env) {
  AgentFlags f;
  auto fromEnv = [&](const char* name) {
    auto it = env.find(name);
    return it == env.end() ? std::string() : it->second;
  };
  f.nodeName = fromEnv("NODE_NAME");
  if (!fromEnv("KUBERNETES_SERVICE_HOST").empty()) f.kubeconfig = "in-cluster";
  size_t i = 0;
  if (i < args.size() && !args[i].empty() && args[i][0] != '-') {
    f.command = args[i++];
    if (f.command != "run" && f.command != "uninstall" && f.command != "help") {
      return fail(ErrorCode::kInvalidInput,
                  "unknown command \"" + f.command + "\" (run, uninstall or --help)");
    }
  }
  for (; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--help" || a == "-h") {
      f.command = "help";
      continue;
    }
    static const std::set<std::string> kKnown = {"--socket",
                                                 "--state-dir",
                                                 "--node-netns",
                                                 "--tunnel-mode",
                                                 "--tunnel-port",
                                                 "--tunnel-mtu",
                                                 "--ztunnel-namespace",
                                                 "--ztunnel-label",
                                                 "--ztunnel-service-account",
                                                 "--exclude-namespaces",
                                                 "--metadata-file",
                                                 "--kubeconfig",
                                                 "--node-name",
                                                 "--ztunnel-view-file",
                                                 "--trust-domain",
                                                 "--cluster-domain",
                                                 "--http-addr",
                                                 "--reconcile-interval",
                                                 "--log-level"};
    std::string flag = a.substr(0, a.find('=')), value;
    if (!kKnown.count(flag)) {
      return fail(ErrorCode::kInvalidInput, "unknown flag " + flag + " (see --help)");
    }
    if (auto eq = a.find('='); eq != std::string::npos) {
      value = a.substr(eq + 1);
    } else if (i + 1 < args.size()) {
      value = args[++i];
    } else {
      return fail(ErrorCode::kInvalidInput, "flag " + a + " needs a value (see --help)");
    }
    if (flag == "--socket")
      f.socketPath = value;
    else if (flag == "--state-dir")
      f.stateDir = value;
    else if (flag == "--node-netns")
      f.nodeNetns = value;
    else if (flag == "--tunnel-mode") {
      auto m = parseTunnelMode(value);
      if (!m) return fail(m.error());
      f.tunnelMode = *m;
    } else if (flag == "--tunnel-port") {
      auto n = number(flag, value, 1, 65535);
      if (!n) return fail(n.error());
      f.tunnelPort = static_cast<uint16_t>(*n);
    } else if (flag == "--tunnel-mtu") {
      auto n = number(flag, value, 0, 65535);
      if (!n) return fail(n.error());
      f.tunnelMtu = static_cast<uint32_t>(*n);
    } else if (flag == "--ztunnel-namespace")
      f.policy.ztunnelNamespace = value;
    else if (flag == "--ztunnel-label") {
      auto eq = value.find('=');
      if (eq == std::string::npos || eq == 0) {
        return fail(ErrorCode::kInvalidInput,
                    "--ztunnel-label wants KEY=VALUE, not \"" + value + "\"");
      }
      f.policy.ztunnelLabelKey = value.substr(0, eq);
      f.policy.ztunnelLabelValue = value.substr(eq + 1);
    } else if (flag == "--ztunnel-service-account")
      f.policy.ztunnelServiceAccount = value;
    else if (flag == "--exclude-namespaces")
      f.policy.excludedNamespaces = splitList(value);
    else if (flag == "--kubeconfig")
      f.kubeconfig = value;
    else if (flag == "--node-name")
      f.nodeName = value;
    else if (flag == "--ztunnel-view-file")
      f.ztunnelViewFile = value;
    else if (flag == "--trust-domain")
      f.trustDomain = value;
    else if (flag == "--cluster-domain")
      f.clusterDomain = value;
    else if (flag == "--metadata-file")
      f.metadataFile = value;
    else if (flag == "--http-addr")
      f.httpAddr = value;
    else if (flag == "--reconcile-interval") {
      auto n = number(flag, value, 1, 86400);
      if (!n) return fail(n.error());
      f.reconcileIntervalSeconds = static_cast<int>(*n);
    } else if (flag == "--log-level") {
      if (value != "debug" && value != "info" && value != "warn" && value != "error") {
        return fail(ErrorCode::kInvalidInput, "--log-level wants debug, info, warn or error");
      }
      f.logLevel = value;
    }
  }
  if (f.command == "run" && !f.kubeconfig.empty() && f.nodeName.empty()) {
    return fail(ErrorCode::kInvalidInput,
                "--node-name (or NODE_NAME) is required with the Kubernetes API (--kubeconfig " +
                    f.kubeconfig + ")");
  }
  return f;
}

}  // namespace ambient
