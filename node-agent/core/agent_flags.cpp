// ambient-agent's command line: each flag named once, with its help and its check. Pure.
#include "node-agent/core/agent_flags.h"

#include "common/cli/command_line.h"

namespace ambient {
namespace {

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

std::string joinList(const std::set<std::string>& items) {
  std::string out;
  for (const auto& i : items) out += (out.empty() ? "" : ",") + i;
  return out;
}

Result<std::pair<std::string, std::string>> parseLabel(const std::string& v) {
  auto eq = v.find('=');
  if (eq == std::string::npos || eq == 0)
    return fail(ErrorCode::kInvalidInput, "wants KEY=VALUE, not \"" + v + "\"");
  return std::pair{v.substr(0, eq), v.substr(eq + 1)};
}

// The agent's subcommands and flags, bound to `f` (whose values are the shown defaults).
void defineFlags(CLI::App& app, AgentFlags& f, bool* help) {
  cli::setUp(app, "ambient-agent",
             "ambient-agent: programs this node's ambient traffic redirection.", help);
  app.footer(
      R"(Without a subcommand the agent runs. A normal exit (SIGTERM, SIGINT) leaves the kernel
state in place; only `uninstall` removes it. SIGHUP runs a full reconcile pass at once.
Exit codes: 0 success, 1 runtime failure (the message says what and where), 2 usage error.)");
  app.add_subcommand("run", "serve the CNI plugin and keep the node programmed (the default)");
  app.add_subcommand("uninstall",
                     "remove every object the agent owns, restore sysctls, delete\n"
                     "ztunnel's view file and, with the API, this node's pod marks");
  app.add_subcommand("help")->group("");  // `ambient-agent help`, as --help
  app.require_subcommand(0, 1);

  app.add_option("--socket", f.socketPath, "plugin socket")->option_text("PATH");
  app.add_option("--state-dir", f.stateDir, "registry and sysctl ledger")->option_text("DIR");
  app.add_option("--node-netns", f.nodeNetns, "the node's network namespace")->option_text("PATH");
  cli::addParsed(app, "--tunnel-mode", f.tunnelMode, parseTunnelMode,
                 "geneve, vxlan or auto (vxlan when the kernel lacks geneve)")
      ->option_text("MODE")
      ->default_str(std::string(tunnelModeName(f.tunnelMode)));
  app.add_option_function<std::string>(
         "--ipv6",
         [&f](const std::string& v) {
           if (v != "auto" && v != "off") {
             throw CLI::ValidationError("--ipv6", "\"" + v + "\" is not one of auto, off");
           }
           f.ipv6Redirect = v == "auto";
         },
         "auto: redirect IPv6 when this kernel can (probed at start); off: never.\n"
         "An enrolled pod's IPv6 TCP that is not redirected is dropped (fail\n"
         "closed), and /readyz says why")
      ->option_text("auto|off")
      ->default_str("auto");
  app.add_option("--tunnel-port", f.tunnelPort, "UDP port of the tunnels")
      ->option_text("N")
      ->check(CLI::Range(1, 65535));
  app.add_option("--tunnel-mtu", f.tunnelMtu, "tunnel MTU; 0 = the ztunnel link's MTU minus 50")
      ->option_text("N")
      ->check(CLI::Range(0, 65535));
  app.add_option("--ztunnel-namespace", f.policy.ztunnelNamespace,
                 "namespace of the ztunnel DaemonSet")
      ->option_text("NS");
  app.add_option_function<std::string>(
         "--ztunnel-label",
         [&f](const std::string& v) {
           auto label = parseLabel(v);
           if (!label) throw CLI::ValidationError("--ztunnel-label", label.error().message());
           std::tie(f.policy.ztunnelLabelKey, f.policy.ztunnelLabelValue) = *label;
         },
         "label of ztunnel pods")
      ->option_text("KEY=VALUE")
      ->default_str(f.policy.ztunnelLabelKey + "=" + f.policy.ztunnelLabelValue);
  app.add_option("--ztunnel-service-account", f.policy.ztunnelServiceAccount,
                 "service account of ztunnel pods")
      ->option_text("SA");
  app.add_option_function<std::string>(
         "--exclude-namespaces",
         [&f](const std::string& v) { f.policy.excludedNamespaces = splitList(v); },
         "namespaces never enrolled")
      ->option_text("A,B")
      ->default_str(joinList(f.policy.excludedNamespaces));
  app.add_option("--kubeconfig", f.kubeconfig,
                 "Kubernetes API access: a path or in-cluster; \"\" disables the API")
      ->option_text("PATH|in-cluster")
      ->default_str("in-cluster when KUBERNETES_SERVICE_HOST is set, else \"\"");
  app.add_option("--node-name", f.nodeName, "this node in the API; required with the API")
      ->option_text("NAME")
      ->default_str("$NODE_NAME");
  app.add_option("--ztunnel-view-file", f.ztunnelViewFile, "ztunnel's config, written from the API")
      ->option_text("PATH")
      ->default_str("<state-dir>/ztunnel-config.json");
  app.add_option("--trust-domain", f.trustDomain, "SPIFFE trust domain of workloads in the view")
      ->option_text("TD");
  app.add_option("--cluster-domain", f.clusterDomain, "services are <name>.<ns>.svc.D")
      ->option_text("D");
  app.add_option("--root-namespace", f.rootNamespace,
                 "Istio's root namespace: its policies apply mesh-wide")
      ->option_text("NS")
      ->check(CLI::Validator(
          [](const std::string& v) {
            return v.empty() ? std::string("must not be empty") : std::string();
          },
          "", "non-empty"));
  app.add_option("--policy-discovery-interval", f.policyDiscoveryIntervalSeconds,
                 "look again for the security.istio.io policy CRDs\n"
                 "this often while they are missing or forbidden")
      ->option_text("SECS")
      ->check(CLI::Range(1, 86400));
  app.add_option("--metadata-file", f.metadataFile,
                 "pod/namespace metadata as JSON, when there is no API (default none)")
      ->option_text("PATH");
  app.add_option_function<std::string>(
         "--http-addr",
         [&f](const std::string& v) {
           auto addr = parseHttpListenAddr(v);
           if (!addr) throw CLI::ValidationError("--http-addr", addr.error().message());
           f.httpAddr = *addr;
         },
         "/healthz, /readyz, /metrics; no HOST: every address of both\n"
         "families ([::], or 0.0.0.0 where the kernel has no IPv6)")
      ->option_text("[HOST]:PORT")
      ->default_str(f.httpAddr.str());
  app.add_option("--reconcile-interval", f.reconcileIntervalSeconds,
                 "full level-triggered pass period")
      ->option_text("SECS")
      ->check(CLI::Range(1, 86400));
  app.add_option("--log-level", f.logLevel, "debug, info, warn or error")
      ->option_text("LEVEL")
      ->check(CLI::IsMember({"debug", "info", "warn", "error"}));
}

}  // namespace

std::string agentUsage() {
  CLI::App app;
  AgentFlags f;
  bool help = false;
  defineFlags(app, f, &help);
  return app.help();
}

std::string HttpListenAddr::str() const {
  const std::string p = ":" + std::to_string(port);
  if (host.find(':') != std::string::npos) return "[" + host + "]" + p;
  return host + p;
}

Result<HttpListenAddr> parseHttpListenAddr(std::string_view text) {
  auto bad = [&](const std::string& why) {
    return fail(ErrorCode::kInvalidInput, "\"" + std::string(text) + "\" " + why +
                                              " (want [HOST]:PORT: 127.0.0.1:15031, "
                                              "[::1]:15031 or :15031)");
  };
  const auto colon = text.rfind(':');
  if (colon == std::string_view::npos) return bad("has no :PORT");
  std::string_view host = text.substr(0, colon);
  const std::string_view portText = text.substr(colon + 1);
  uint32_t port = 0;
  if (portText.empty() || portText.size() > 5) return bad("has no port 1-65535");
  for (char c : portText) {
    if (c < '0' || c > '9') return bad("has no port 1-65535");
    port = port * 10 + uint32_t(c - '0');
  }
  if (port == 0 || port > 65535) return bad("has no port 1-65535");
  HttpListenAddr out;
  out.port = static_cast<uint16_t>(port);
  const bool bracketed = host.size() >= 2 && host.front() == '[' && host.back() == ']';
  if (bracketed) host = host.substr(1, host.size() - 2);
  if (host.empty()) {
    if (bracketed) return bad("has an empty [HOST]");
    return out;
  }
  auto ip = IpAddress::parse(host);
  if (!ip) return bad("has no IP address as HOST");
  if (ip->isV6() != bracketed) {
    return bad(ip->isV6() ? "needs brackets around its IPv6 HOST" : "brackets an IPv4 HOST");
  }
  out.host = ip->str();
  return out;
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
  CLI::App app;
  bool help = false;
  defineFlags(app, f, &help);
  if (auto parsed = cli::parse(app, args); !parsed) return fail(parsed.error());
  if (help || app.got_subcommand("help"))
    f.command = "help";
  else if (app.got_subcommand("uninstall"))
    f.command = "uninstall";
  if (f.command == "run" && !f.kubeconfig.empty() && f.nodeName.empty()) {
    return fail(ErrorCode::kInvalidInput,
                "--node-name (or NODE_NAME) is required with the Kubernetes API (--kubeconfig " +
                    f.kubeconfig + ")");
  }
  return f;
}

}  // namespace ambient
