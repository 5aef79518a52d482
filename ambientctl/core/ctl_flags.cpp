// ambientctl's command line: each command and flag named once, with its help. Pure.
#include "ambientctl/core/ctl_flags.h"

#include "common/cli/command_line.h"

namespace ambient {
namespace {

void defineFlags(CLI::App& app, CtlFlags& f, bool* help) {
  cli::setUp(app, "ambientctl", "ambientctl: show and check this node's ambient redirection.",
             help);
  app.footer(R"(The desired state comes from the agent's registry and resolved settings in the state
directory; run on the node as root or inside the agent's container.
Exit codes: 0 ok (verify: the kernel matches), 1 verify found differences, 2 could not check
or bad usage (the message says why).)");
  app.add_subcommand("plan", "the desired state as the ip/sysctl/nft commands the agent applies");
  app.add_subcommand("verify", "compare the desired state with the kernel");
  app.add_subcommand("dump", "every object the agent owns, from the live kernel");
  auto* trace = app.add_subcommand(
      "trace",
      "SOURCE DESTINATION[:PORT]: the numbered hops a TCP SYN takes\n"
      "(pods by IPv4 or IPv6 address or namespace/name; an IPv6 address with a port as\n"
      "[ADDR]:PORT; a name stands for the pod's address of the other side's family; PORT 80\n"
      "when not given)");
  // Both required, checked after parsing so that `trace --help` is help.
  trace->add_option("SOURCE", f.source, "a pod's IP (IPv4 or IPv6) or namespace/name");
  trace->add_option("DESTINATION", f.destination,
                    "the same, with an optional :PORT ([ADDR]:PORT for IPv6)");
  auto* policies = app.add_subcommand(
      "policies",
      "NAMESPACE/NAME: the AuthorizationPolicies and PeerAuthentication ztunnel applies to a pod\n"
      "(from ztunnel's view) and the pod's recent denials (from ztunnel's admin port)");
  policies->add_option("POD", f.source, "the pod, as namespace/name");
  app.add_subcommand("help")->group("");  // `ambientctl help`, as --help
  app.require_subcommand(0, 1);

  app.add_option("--state-dir", f.stateDir, "the agent's state directory")->option_text("DIR");
  app.add_option_function<std::string>(
         "-o", [&f](const std::string& v) { f.json = v == "json"; }, "output format")
      ->option_text("text|json")
      ->check(CLI::IsMember({"text", "json"}))
      ->default_str("text");
  app.add_option("--ztunnel-view", f.ztunnelView,
                 "policies, trace: ztunnel's view file (default: the one the agent writes)")
      ->option_text("FILE");
  app.add_option("--ztunnel-admin-port", f.ztunnelAdminPort,
                 "policies: ztunnel's admin port, on 127.0.0.1 in its pod")
      ->option_text("PORT")
      ->default_str("15000");
  app.add_flag("-q,--quiet", f.quiet, "verify: print nothing, only the exit code")
      ->disable_flag_override();
}

}  // namespace

std::string ctlUsage() {
  CLI::App app;
  CtlFlags f;
  bool help = false;
  defineFlags(app, f, &help);
  return app.help();
}

Result<CtlFlags> parseCtlFlags(const std::vector<std::string>& args) {
  CLI::App app;
  CtlFlags f;
  bool help = false;
  defineFlags(app, f, &help);
  if (auto parsed = cli::parse(app, args); !parsed) return fail(parsed.error());
  auto chosen = app.get_subcommands();
  if (help || (!chosen.empty() && chosen[0]->get_name() == "help")) {
    f.command = "help";
    return f;
  }
  if (chosen.empty())
    return fail(ErrorCode::kInvalidInput,
                "no command given (plan, verify, dump, trace or policies)");
  f.command = chosen[0]->get_name();
  if (f.command == "trace" && f.destination.empty())
    return fail(ErrorCode::kInvalidInput, "trace wants SOURCE DESTINATION[:PORT]");
  if (f.command == "policies") {
    auto slash = f.source.find('/');
    if (slash == std::string::npos || slash == 0 || slash + 1 == f.source.size() ||
        f.source.find('/', slash + 1) != std::string::npos)
      return fail(ErrorCode::kInvalidInput,
                  "policies wants a pod as NAMESPACE/NAME, not '" + f.source + "'");
    f.podNamespace = f.source.substr(0, slash);
    f.podName = f.source.substr(slash + 1);
    f.source.clear();
  }
  return f;
}

}  // namespace ambient
