// ambientctl: plan, verify, dump, trace, policies. Touches the kernel (reads only) and files (reads
// only).
#include "ambientctl/sys/ctl_app.h"

#include <cstdio>
#include <fstream>
#include <sstream>
#include <tuple>

#include "ambientctl/core/ctl_flags.h"
#include "ambientctl/core/denial_list.h"
#include "ambientctl/core/policy_report.h"
#include "ambientctl/core/state_report.h"
#include "ambientctl/core/trace_endpoints.h"
#include "ambientctl/sys/kernel_route_get.h"
#include "ambientctl/sys/ztunnel_admin.h"
#include "common/core/compute_plan.h"
#include "common/core/reconcile.h"
#include "common/core/render.h"
#include "common/sys/bridge_facts.h"
#include "common/sys/linux_kernel.h"
#include "common/sys/sysctl_ledger_store.h"
#include "node-agent/core/agent_runtime_config.h"
#include "node-agent/core/not_enrolled_file.h"
#include "node-agent/core/plan_input.h"
#include "node-agent/store/registry_file.h"

namespace ambient {
namespace {

struct Desired {
  AgentRuntimeConfig config;
  PodRegistry registry;
  std::optional<PlanInput> input;  // nullopt: no ztunnel registered, nothing to program
  NetnsPlan node = emptyPlan(NetnsRole::kNode);
  NetnsPlan ztunnel = emptyPlan(NetnsRole::kZtunnel);
};

int usage(const std::string& why) {
  std::fprintf(stderr, "ambientctl: %s (see --help)\n", why.c_str());
  return 2;
}

int cannot(const std::string& why) {
  std::fprintf(stderr, "ambientctl: cannot check: %s\n", why.c_str());
  return 2;
}

// ztunnel's view as the agent wrote it (the file ztunnel reads): --ztunnel-view, else the file
// the agent's settings name, else the agent's default in its state directory.
Result<zt::WorkloadView> loadView(const CtlFlags& f) {
  std::string path = f.ztunnelView;
  if (path.empty()) {
    std::ifstream settings(f.stateDir + "/agent-config.json");
    std::stringstream text;
    text << settings.rdbuf();
    if (auto config = decodeRuntimeConfig(text.str()); config && !config->ztunnelView.empty())
      path = config->ztunnelView;
  }
  if (path.empty()) path = f.stateDir + "/ztunnel-config.json";
  std::ifstream in(path);
  if (!in) {
    return fail(ErrorCode::kNotFound,
                "no ztunnel view at " + path +
                    " (the agent writes it when it reads the Kubernetes API; see --ztunnel-view)");
  }
  std::stringstream text;
  text << in.rdbuf();
  auto view = zt::parseWorkloadView(text.str(), "cluster.local");
  if (!view) return fail(view.error().wrap(path));
  return view;
}

Result<Desired> loadDesired(const std::string& stateDir) {
  Desired d;
  std::ifstream in(stateDir + "/agent-config.json");
  if (!in) {
    return fail(ErrorCode::kNotFound, stateDir +
                                          "/agent-config.json is missing: is the agent "
                                          "running with --state-dir " +
                                          stateDir + "?");
  }
  std::stringstream text;
  text << in.rdbuf();
  auto config = decodeRuntimeConfig(text.str());
  if (!config) return fail(config.error());
  d.config = *config;
  RegistryFile file(stateDir + "/registry.json");
  auto registry = file.load();
  if (!registry) return fail(registry.error());
  d.registry = *registry;
  if (!d.registry.ztunnel) return d;
  // The agent plans in bridge mode when ztunnel's veth is a bridge port; read it the same way.
  const ZtunnelRecord& z = *d.registry.ztunnel;
  auto bridge = readBridgeAttachment(d.config.nodeNetns, z.hostVeth, z.netns, z.podIfname);
  if (!bridge && bridge.error().isNotFound()) {
    return fail(ErrorCode::kNotFound,
                "the registered ztunnel pod is not running on this node (" +
                    bridge.error().message() +
                    "): the node's rules stay pointed at it and ambient traffic waits for it (fail "
                    "closed); check again once the ztunnel pod is back");
  }
  if (!bridge) return fail(bridge.error().wrap("ztunnel's veth in the node namespace"));
  auto input = planInputFrom(d.registry, d.config, *bridge);
  if (!input) return fail(input.error().wrap("the registry in " + stateDir));
  auto node = computeNodePlan(*input);
  if (!node) return fail(node.error());
  auto zt = computeZtunnelPlan(*input);
  if (!zt) return fail(zt.error());
  d.input = *input;
  d.node = *node;
  d.ztunnel = *zt;
  return d;
}

std::vector<std::pair<NetnsTarget, const NetnsPlan*>> targets(const Desired& d) {
  std::vector<std::pair<NetnsTarget, const NetnsPlan*>> out = {
      {{d.config.nodeNetns, NetnsRole::kNode}, &d.node}};
  if (d.registry.ztunnel)
    out.push_back({{d.registry.ztunnel->netns, NetnsRole::kZtunnel}, &d.ztunnel});
  return out;
}

int plan(const CtlFlags& f, const Desired& d) {
  if (f.json) {
    nlohmann::json j = {{"node", renderPlan(d.node)},
                        {"ztunnel", renderPlan(d.ztunnel)},
                        {"enrolledPods", d.input ? d.input->pods.size() : 0}};
    std::puts(j.dump(2).c_str());
    return 0;
  }
  if (!d.input) std::puts("# no ztunnel pod is registered: the agent programs nothing yet");
  if (d.input) {
    if (auto why = ipv4FailClosedReason(*d.input)) {
      std::printf("# IPv4 fails closed (enrolled pods' IPv4 TCP dropped): %s\n", why->c_str());
    }
    if (auto why = ipv6FailClosedReason(*d.input)) {
      std::printf("# IPv6 fails closed (enrolled pods' IPv6 TCP dropped): %s\n", why->c_str());
    }
  }
  std::fputs(renderPlan(d.node).c_str(), stdout);
  if (d.input) std::fputs(renderPlan(d.ztunnel).c_str(), stdout);
  return 0;
}

int verifyAll(const CtlFlags& f, const Desired& d) {
  auto ledger = SysctlLedgerStore::load(f.stateDir + "/sysctl-ledger.json");
  if (!ledger) return cannot(ledger.error().message());
  LinuxKernel kernel;
  size_t differences = 0;
  nlohmann::json report = nlohmann::json::object();
  for (const auto& [target, desired] : targets(d)) {
    auto changes = verify(kernel, target, *desired, *ledger);
    if (!changes) return cannot(changes.error().message());
    auto lines = describeDifferences(*changes);
    differences += lines.size();
    std::string role(netnsRoleName(target.role));
    report[role] = lines;
    if (f.quiet || f.json) continue;
    for (const auto& l : lines) std::printf("%s namespace: %s\n", role.c_str(), l.c_str());
  }
  // Ambient pods the agent could not enroll (never seen through CNI and not found, or refused):
  // their traffic is not redirected, which is a difference as much as a missing route.
  std::map<std::string, std::string> outside;
  if (std::ifstream in(f.stateDir + "/" + kNotEnrolledFile); in) {
    std::stringstream text;
    text << in.rdbuf();
    auto list = decodeNotEnrolled(text.str());
    if (!list) return cannot(list.error().wrap(f.stateDir + "/" + kNotEnrolledFile).message());
    outside = std::move(*list);
  }
  std::vector<std::string> podLines;
  for (const auto& [pod, why] : outside) {
    podLines.push_back("ambient pod not enrolled: " + why + " (" + pod + ")");
  }
  differences += podLines.size();
  report["pods"] = podLines;
  if (!f.quiet && !f.json) {
    for (const auto& l : podLines) std::printf("%s\n", l.c_str());
  }
  // Not a difference (the kernel holds the fail-closed plan) but what an operator must know.
  for (auto [reasonOf, name, key] : {std::tuple{&ipv4FailClosedReason, "IPv4", "ipv4FailClosed"},
                                     std::tuple{&ipv6FailClosedReason, "IPv6", "ipv6FailClosed"}}) {
    std::optional<std::string> failClosed;
    if (d.input) failClosed = reasonOf(*d.input);
    if (failClosed) report[key] = *failClosed;
    if (failClosed && !f.quiet && !f.json) {
      std::printf("note: %s fails closed, enrolled pods' %s TCP is dropped: %s\n", name, name,
                  failClosed->c_str());
    }
  }
  if (f.json && !f.quiet) {
    report["match"] = differences == 0;
    std::puts(report.dump(2).c_str());
  } else if (!f.quiet) {
    if (differences == 0)
      std::puts("ok: the kernel matches the agent's plan");
    else
      std::printf("%zu difference(s); the agent's next full pass repairs them\n", differences);
  }
  return differences == 0 ? 0 : 1;
}

int dump(const CtlFlags& f, const Desired& d) {
  auto ledger = SysctlLedgerStore::load(f.stateDir + "/sysctl-ledger.json");
  if (!ledger) return cannot(ledger.error().message());
  LinuxKernel kernel;
  nlohmann::json all = nlohmann::json::array();
  for (const auto& [target, desired] : targets(d)) {
    auto observed = observeFor(kernel, target, *desired, *ledger);
    if (!observed) return cannot(observed.error().message());
    if (f.json) {
      all.push_back(dumpJson(observed->owned, target.path, desired));
    } else {
      std::fputs(renderDumpTables(observed->owned, target.path, desired).c_str(), stdout);
      std::puts("");
    }
  }
  if (f.json) std::puts(all.dump(2).c_str());
  return 0;
}

int trace(const CtlFlags& f, const Desired& d) {
  auto endpoints = parseTraceEndpoints(f.source, f.destination, d.registry);
  if (!endpoints) return usage(endpoints.error().message());
  if (!d.registry.ztunnel) return cannot("no ztunnel pod is registered: nothing is redirected yet");
  auto ledger = SysctlLedgerStore::load(f.stateDir + "/sysctl-ledger.json");
  if (!ledger) return cannot(ledger.error().message());
  LinuxKernel kernel;
  TraceState state;
  state.registry = d.registry;
  state.bridge = d.input ? d.input->ztunnel.bridge : std::nullopt;
  for (const auto& [target, desired] : targets(d)) {
    auto observed = observeFor(kernel, target, *desired, *ledger);
    if (!observed) return cannot(observed.error().message());
    auto& slot = target.role == NetnsRole::kNode ? state.node : state.ztunnel;
    slot = observed->owned;
    labelRules(slot, *desired);
  }
  RouteLookup lookup = [&](NetnsRole role, const IpAddress& to, const IpAddress& from,
                           const std::string& iif, uint32_t mark) {
    return kernelRouteGet(role == NetnsRole::kNode ? d.config.nodeNetns : d.registry.ztunnel->netns,
                          to, from, iif, mark);
  };
  auto hops = traceSyn(state, endpoints->src, endpoints->dst, endpoints->port, lookup);
  if (!hops) return cannot(hops.error().message());
  // What the destination's ztunnel decides, from the view it reads.
  auto view = loadView(f);
  hops->push_back(
      "(" + std::to_string(hops->size() + 1) + ") " +
      (view ? describePolicyVerdict(*view, endpoints->src, endpoints->dst, endpoints->port)
            : "policy: not evaluated, " + view.error().message()));
  if (f.json) {
    std::puts(nlohmann::json(*hops).dump(2).c_str());
  } else {
    for (const auto& h : *hops) std::puts(h.c_str());
  }
  return 0;
}

int policies(const CtlFlags& f) {
  auto view = loadView(f);
  if (!view) return cannot(view.error().message());
  // The denials come from ztunnel itself; without them the report is still useful.
  std::vector<Denial> denials;
  std::string denialsUnavailable;
  RegistryFile file(f.stateDir + "/registry.json");
  auto registry = file.load();
  if (!registry || !registry->ztunnel) {
    denialsUnavailable = "no ztunnel pod is registered on this node";
  } else {
    auto body =
        ztunnelAdminGet({registry->ztunnel->netns, "127.0.0.1", f.ztunnelAdminPort}, "/denials");
    auto list = body ? decodeDenials(*body) : Result<DenialList>(fail(body.error()));
    if (list) {
      denials = std::move(list->denials);
    } else {
      denialsUnavailable = list.error().message();
    }
  }
  auto report = reportPolicies(*view, f.podNamespace, f.podName, denials);
  if (!report) return cannot(report.error().message());
  report->denialsUnavailable = denialsUnavailable;
  if (f.json) {
    std::puts(policyReportJson(*report).dump(2).c_str());
  } else {
    std::fputs(renderPolicyReport(*report).c_str(), stdout);
  }
  return 0;
}

}  // namespace

int runCtl(const std::vector<std::string>& args) {
  auto flags = parseCtlFlags(args);
  if (!flags) return usage(flags.error().message());
  const CtlFlags& f = *flags;
  if (f.command == "help") {
    std::fputs(ctlUsage().c_str(), stdout);
    return 0;
  }
  if (f.command == "policies") return policies(f);
  auto d = loadDesired(f.stateDir);
  if (!d) return cannot(d.error().message());
  if (f.command == "plan") return plan(f, *d);
  if (f.command == "verify") return verifyAll(f, *d);
  if (f.command == "trace") return trace(f, *d);
  return dump(f, *d);
}

}  // namespace ambient
