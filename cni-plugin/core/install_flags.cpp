// Command line and usage text of ambient-cni-install. Pure.
#include "cni-plugin/core/install_flags.h"

#include "common/core/agent_protocol.h"

namespace ambient::cni {

Result<InstallOptions> parseInstallFlags(const std::vector<std::string>& args) {
  InstallOptions o;
  o.agentSocket = kDefaultAgentSocket;
  struct ValueFlag {
    const char* name;
    std::string* out;
  };
  const ValueFlag valueFlags[] = {{"--cni-conf-dir", &o.confDir},
                                  {"--cni-bin-dir", &o.binDir},
                                  {"--plugin-binary", &o.pluginBinary},
                                  {"--agent-socket", &o.agentSocket},
                                  {"--log-file", &o.logFile},
                                  {"--kubeconfig", &o.kubeconfig},
                                  {"--exclude-namespaces", &o.excludeNamespaces},
                                  {"--ztunnel-namespace", &o.ztunnelNamespace},
                                  {"--ztunnel-label", &o.ztunnelLabel},
                                  {"--ztunnel-service-account", &o.ztunnelServiceAccount}};
  for (size_t i = 0; i < args.size(); ++i) {
    std::string arg = args[i], value;
    bool hasValue = false;
    if (auto eq = arg.find('='); arg.rfind("--", 0) == 0 && eq != std::string::npos) {
      value = arg.substr(eq + 1);
      arg.resize(eq);
      hasValue = true;
    }
    if (arg == "--watch" || arg == "--uninstall" || arg == "--help" || arg == "-h") {
      if (hasValue) return fail(ErrorCode::kInvalidInput, arg + " takes no value");
      (arg == "--watch" ? o.watch : arg == "--uninstall" ? o.uninstall : o.help) = true;
      continue;
    }
    const ValueFlag* flag = nullptr;
    for (const auto& f : valueFlags)
      if (arg == f.name) flag = &f;
    if (!flag) return fail(ErrorCode::kInvalidInput, "unknown argument " + args[i]);
    if (!hasValue) {
      if (i + 1 >= args.size()) return fail(ErrorCode::kInvalidInput, arg + " needs a value");
      value = args[++i];
    }
    *flag->out = value;
  }
  if (o.help) return o;
  if (o.watch && o.uninstall)
    return fail(ErrorCode::kInvalidInput, "--watch and --uninstall exclude each other");
  for (const auto& [name, value] : {std::pair{"--cni-conf-dir", o.confDir},
                                    {"--cni-bin-dir", o.binDir},
                                    {"--agent-socket", o.agentSocket}}) {
    if (value.empty()) return fail(ErrorCode::kInvalidInput, std::string(name) + " is empty");
  }
  if (!o.ztunnelLabel.empty() && o.ztunnelLabel.find('=') == std::string::npos)
    return fail(ErrorCode::kInvalidInput,
                "--ztunnel-label must be KEY=VALUE, not \"" + o.ztunnelLabel + "\"");
  return o;
}

AmbientEntry ambientEntryOf(const InstallOptions& o) {
  AmbientEntry e{o.agentSocket,      o.logFile,      o.kubeconfig,           {},
                 o.ztunnelNamespace, o.ztunnelLabel, o.ztunnelServiceAccount};
  size_t start = 0;
  while (start <= o.excludeNamespaces.size()) {
    size_t comma = o.excludeNamespaces.find(',', start);
    if (comma == std::string::npos) comma = o.excludeNamespaces.size();
    if (comma > start)
      e.excludeNamespaces.push_back(o.excludeNamespaces.substr(start, comma - start));
    start = comma + 1;
  }
  return e;
}

std::string installUsage() {
  return R"(Usage: ambient-cni-install [flags]

Puts ambient-cni last in the node's primary CNI config (the first *.conflist or *.conf in
lexical order that is a valid CNI config; invalid files are skipped with a warning). A single
X.conf is wrapped into X.conflist and X.conf removed. Running it again changes nothing.

  --cni-conf-dir DIR     CNI config directory (default /etc/cni/net.d)
  --cni-bin-dir DIR      CNI plugin directory (default /opt/cni/bin)
  --plugin-binary PATH   copy this ambient-cni binary to DIR/ambient-cni (mode 0755), and
                         ambient-cni-api-lookup from the same folder beside it
  --agent-socket PATH    agentSocket of the plugin entry (default /var/run/ambient/agent.sock)
  --log-file PATH        logFile of the plugin entry (left out when not given)
  --kubeconfig PATH      kubeconfig of the plugin entry (left out when not given); lets the
                         plugin start non-ambient pods while the agent is down
  --exclude-namespaces A,B       excludeNamespaces of the plugin entry; give the agent's
  --ztunnel-namespace NS         ztunnelNamespace, --ztunnel-label KEY=VALUE ztunnelLabel and
  --ztunnel-label KEY=VALUE      --ztunnel-service-account SA ztunnelServiceAccount: the
  --ztunnel-service-account SA   agent's settings, so that the plugin decides as the agent
                         does while the agent is down (each left out when not given: the
                         plugin's defaults equal the agent's)
  --watch                keep running; put the entry back whenever the primary CNI rewrites
                         its config; exit 0 on SIGTERM/SIGINT, leaving the entry in place
  --uninstall            remove what install added: the entry, the .conf wrapping (original
                         bytes restored), the copied binaries, the state file
  --help                 this text

What install did is recorded in DIR/.ambient-cni-install.state (runtimes ignore that name).

Exit codes:
  0  done (or, with --watch, stopped by SIGTERM/SIGINT)
  2  usage error
  3  no valid primary CNI config in the directory (with --watch: wait for one instead)
  4  I/O error (the message names the file)
  5  the primary config cannot take ambient-cni (unsupported cniVersion, or X.conflist exists
     next to the X.conf to wrap); with --watch: wait for it to change instead
)";
}

}  // namespace ambient::cni
