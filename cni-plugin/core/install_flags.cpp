// Command line and usage text of ambient-cni-install (CLI11). Pure.
#include "cni-plugin/core/install_flags.h"

#include "common/cli/command_line.h"

namespace ambient::cni {
namespace {

// Every flag of the installer, once, bound to `o` (whose values are the shown defaults).
void defineFlags(CLI::App& app, InstallOptions& o) {
  cli::setUp(
      app, "ambient-cni-install",
      R"(Puts ambient-cni last in the node's primary CNI config (the first *.conflist or *.conf in
lexical order that is a valid CNI config; invalid files are skipped with a warning). A single
X.conf is wrapped into X.conflist and X.conf removed. Running it again changes nothing.)",
      &o.help);
  app.footer(
      R"(--exclude-namespaces, --ztunnel-namespace, --ztunnel-label and --ztunnel-service-account
take the agent's settings, so that the plugin decides as the agent does while the agent is
down; each is left out of the entry when not given (the plugin's defaults equal the agent's).

What install did is recorded in DIR/.ambient-cni-install.state (runtimes ignore that name).

Exit codes:
  0  done (or, with --watch, stopped by SIGTERM/SIGINT)
  2  usage error
  3  no valid primary CNI config in the directory (with --watch: wait for one instead)
  4  I/O error (the message names the file)
  5  the primary config cannot take ambient-cni (unsupported cniVersion, or X.conflist exists
     next to the X.conf to wrap); with --watch: wait for it to change instead)");
  app.add_option("--cni-conf-dir", o.confDir, "CNI config directory")
      ->option_text("DIR")
      ->check(cli::kNonEmpty);
  app.add_option("--cni-bin-dir", o.binDir, "CNI plugin directory")
      ->option_text("DIR")
      ->check(cli::kNonEmpty);
  app.add_option("--plugin-binary", o.pluginBinary,
                 "copy this ambient-cni binary to DIR/ambient-cni (mode 0755), and\n"
                 "ambient-cni-api-lookup from the same folder beside it")
      ->option_text("PATH");
  app.add_option("--agent-socket", o.agentSocket, "agentSocket of the plugin entry")
      ->option_text("PATH")
      ->check(cli::kNonEmpty);
  app.add_option("--log-file", o.logFile, "logFile of the plugin entry (left out when not given)")
      ->option_text("PATH");
  app.add_option("--kubeconfig", o.kubeconfig,
                 "kubeconfig of the plugin entry (left out when not given); lets the\n"
                 "plugin start non-ambient pods while the agent is down")
      ->option_text("PATH");
  app.add_option("--exclude-namespaces", o.excludeNamespaces,
                 "excludeNamespaces of the plugin entry (see below)")
      ->option_text("A,B");
  app.add_option("--ztunnel-namespace", o.ztunnelNamespace,
                 "ztunnelNamespace of the plugin entry (see below)")
      ->option_text("NS");
  app.add_option("--ztunnel-label", o.ztunnelLabel, "ztunnelLabel of the plugin entry (see below)")
      ->option_text("KEY=VALUE")
      ->check(CLI::Validator(
          [](std::string& v) {
            return v.find('=') == std::string::npos ? "must be KEY=VALUE, not \"" + v + "\""
                                                    : std::string();
          },
          ""));
  app.add_option("--ztunnel-service-account", o.ztunnelServiceAccount,
                 "ztunnelServiceAccount of the plugin entry (see below)")
      ->option_text("SA");
  auto* watch = app.add_flag("--watch", o.watch,
                             "keep running; put the entry back whenever the primary CNI rewrites\n"
                             "its config; exit 0 on SIGTERM/SIGINT, leaving the entry in place")
                    ->disable_flag_override();
  app.add_flag("--uninstall", o.uninstall,
               "remove what install added: the entry, the .conf wrapping (original\n"
               "bytes restored), the copied binaries, the state file")
      ->disable_flag_override()
      ->excludes(watch);
}

}  // namespace

Result<InstallOptions> parseInstallFlags(const std::vector<std::string>& args) {
  InstallOptions o;
  CLI::App app;
  defineFlags(app, o);
  if (auto parsed = cli::parse(app, args); !parsed) return fail(parsed.error());
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
  CLI::App app;
  InstallOptions o;
  defineFlags(app, o);
  return app.help();
}

}  // namespace ambient::cni
