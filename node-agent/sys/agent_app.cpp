// ambient-agent run / uninstall. Touches the kernel, files and sockets.
#include "node-agent/sys/agent_app.h"

#include <httplib.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <mutex>
#include <thread>

#include "common/core/reconcile.h"
#include "common/log/log.h"
#include "common/sys/ipv6_probe.h"
#include "common/sys/linux_kernel.h"
#include "common/sys/sysctl_ledger_store.h"
#include "node-agent/core/agent_metrics.h"
#include "node-agent/core/agent_runtime_config.h"
#include "node-agent/core/enroller.h"
#include "node-agent/core/not_enrolled_file.h"
#include "node-agent/store/registry_file.h"
#include "node-agent/sys/agent_socket_server.h"
#include "node-agent/sys/api_access.h"
#include "node-agent/sys/api_pod_annotator.h"
#include "node-agent/sys/cluster_sync.h"
#include "node-agent/sys/netlink_pod_inspector.h"
#include "node-agent/sys/proc_netns_scanner.h"

namespace ambient {
namespace {

std::atomic<bool> gStop{false};
std::atomic<bool> gReconcileNow{false};

void onSignal(int) {
  gStop = true;
}
void onHangup(int) {
  gReconcileNow = true;
}

int fatal(const std::string& what, const Error& e) {
  logLine(LogLevel::kError, what,
          {{"error", e.message()}, {"kind", std::string(errorCodeName(e.code))}});
  return 1;
}

// Binds `http` to `addr`; an empty host binds [::] for both families (IPV6_V6ONLY off), or
// 0.0.0.0 where the kernel has no IPv6 (logged). False with errno set when nothing was bound.
bool bindHttp(httplib::Server& http, const HttpListenAddr& addr) {
  http.set_socket_options([](socket_t sock) {
    int on = 1;
    int off = 0;
    setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
    setsockopt(sock, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof(off));  // fails on IPv4: harmless
  });
  if (!addr.host.empty()) return http.bind_to_port(addr.host, addr.port);
  if (http.bind_to_port("::", addr.port)) return true;
  logLine(LogLevel::kInfo, "no IPv6 here: /healthz, /readyz and /metrics listen on IPv4 only",
          {{"addr", "0.0.0.0:" + std::to_string(addr.port)}});
  return http.bind_to_port("0.0.0.0", addr.port);
}

// Uninstall: removes the ambient.istio.io/redirection mark from every pod this node enrolled
// (a user's "disabled" is never touched), waiting up to `timeout` for the API server.
Status unmarkEnrolledPods(const AgentFlags& flags, const PodRegistry& registry,
                          std::chrono::seconds timeout) {
  if (flags.kubeconfig.empty()) return {};
  auto config = loadAgentApiConfig(flags.kubeconfig);
  if (!config) return fail(config.error());
  auto annotator = ApiPodAnnotator::create(*config, agentLogSink());
  if (!annotator) return fail(annotator.error().wrap("Kubernetes API client"));
  size_t marked = 0;
  for (const auto& [uid, pod] : registry.pods) {
    if (!pod.enrolled) continue;
    (*annotator)->markEnrolled(pod.podNamespace, pod.name, false);
    ++marked;
  }
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while ((*annotator)->pending() > 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  if (size_t left = (*annotator)->pending(); left > 0) {
    return fail(ErrorCode::kUnavailable, std::to_string(left) + " of " + std::to_string(marked) +
                                             " pod marks could not be removed in " +
                                             std::to_string(timeout.count()) + " s");
  }
  logLine(LogLevel::kInfo, "pod marks removed", {{"pods", std::to_string(marked)}});
  return {};
}

}  // namespace

int runAgent(const AgentFlags& flags) {
  setLogLevel(flags.logLevel);
  if (::mkdir(flags.stateDir.c_str(), 0700) != 0 && errno != EEXIST) {
    return fatal("cannot create state directory " + flags.stateDir,
                 Error{ErrorCode::kIo, errno, flags.stateDir});
  }
  // The registry names every pod of the node: root only, also when the directory was made by
  // someone else (an older agent, a hostPath created by the kubelet with 0755).
  struct stat st {};
  if (::stat(flags.stateDir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    return fatal("state directory " + flags.stateDir + " is not a directory",
                 Error{ErrorCode::kInvalidInput, errno, flags.stateDir});
  }
  if ((st.st_mode & 07777) != 0700) {
    if (::chmod(flags.stateDir.c_str(), 0700) != 0) {
      return fatal("cannot restrict state directory " + flags.stateDir + " to mode 0700",
                   Error{ErrorCode::kIo, errno, flags.stateDir});
    }
    char was[8];
    std::snprintf(was, sizeof was, "%04o", st.st_mode & 07777);
    logLine(LogLevel::kInfo, "state directory mode tightened to 0700",
            {{"dir", flags.stateDir}, {"was", was}});
  }
  auto tunnel = chooseTunnelKind(flags.tunnelMode);
  if (!tunnel) return fatal("no usable tunnel", tunnel.error());
  if (tunnel->fellBack) {
    logLine(LogLevel::kWarn, "TUNNEL FALLBACK: " + tunnel->reason,
            {{"tunnelMode", std::string(tunnelModeName(flags.tunnelMode))}});
  }
  RegistryFile registryFile(flags.registryPath());
  auto registry = registryFile.load();
  if (!registry) return fatal("cannot load the pod registry", registry.error());
  auto ledger = SysctlLedgerStore::load(flags.ledgerPath());
  if (!ledger) return fatal("cannot load the sysctl ledger", ledger.error());
  // IPv6 is redirected only where every object of it can be made; elsewhere enrolled pods'
  // IPv6 TCP is dropped (fail closed).
  std::optional<std::string> ipv6Unavailable =
      flags.ipv6Redirect ? probeIpv6Redirect()
                         : std::optional<std::string>("IPv6 redirection is off (--ipv6=off)");
  if (ipv6Unavailable) {
    logLine(LogLevel::kInfo, "IPv6 is not redirected on this node",
            {{"reason", *ipv6Unavailable},
             {"effect", "an enrolled pod's IPv6 TCP is dropped (fail closed)"}});
  }
  // What ambientctl needs to compute the same plan.
  const AgentRuntimeConfig runtime{
      flags.nodeNetns, tunnel->kind,    flags.tunnelPort,
      flags.tunnelMtu, ipv6Unavailable, flags.kubeconfig.empty() ? "" : flags.viewPath()};
  if (auto s = writeFileAtomic(flags.stateDir + "/agent-config.json", encodeRuntimeConfig(runtime));
      !s) {
    return fatal("cannot write the agent's settings", s.error());
  }

  AgentMetrics metrics;
  LinuxKernel kernel;
  NetlinkPodInspector inspector(flags.nodeNetns);
  ProcNetnsScanner scanner(flags.nodeNetns);
  auto cluster = ClusterSync::create(flags);
  if (!cluster) return fatal("cannot set up the cluster metadata source", cluster.error());
  EnrollerEvents events;
  events.handled = [&](PodCommand c, double s) {
    if (c == PodCommand::kAdd) metrics.enroll.observe(s);
    if (c == PodCommand::kDel) metrics.release.observe(s);
  };
  events.error = [&](const std::string& kind) { metrics.countError(kind); };
  events.reconciled = [&] { ++metrics.reconcilePasses; };
  events.resynced = [&](const PodRecord& pod, bool enrolled, const std::string& why) {
    logLine(LogLevel::kInfo,
            std::string(enrolled ? "enrolled " : "released ") + pod.podNamespace + "/" + pod.name,
            {{"reason", why}, {"by", "resync"}});
  };
  events.notEnrolled = [&](const std::string& pod, const std::string& why) {
    logLine(LogLevel::kWarn, "ambient pod not enrolled: " + pod, {{"reason", why}});
  };
  events.scanProblem = [&](size_t unreadable, const std::string& first) {
    logLine(LogLevel::kDebug, "discovery scan skipped unreadable entries",
            {{"count", std::to_string(unreadable)}, {"first", first}});
  };
  events.bridgeChanged = [&](const std::optional<BridgeAttachment>& before,
                             const std::optional<BridgeAttachment>& after) {
    auto text = [](const std::optional<BridgeAttachment>& b) {
      return b ? b->bridge.str() + " " + b->mac.str() + " " + b->subnet.str() +
                     (b->subnet6 ? " " + b->subnet6->str() : std::string(" (no IPv6)"))
               : std::string("none (routed)");
    };
    logLine(LogLevel::kInfo,
            after ? "ztunnel's veth is a bridge port: bridge mode, the node plan follows the bridge"
                  : "ztunnel's veth is on no bridge: routed mode",
            {{"before", text(before)}, {"after", text(after)}});
  };
  events.failClosed = [&](IpAddress::Family family, const std::optional<std::string>& why) {
    const bool v4 = family == IpAddress::Family::kV4;
    (v4 ? metrics.ipv4FailClosed : metrics.ipv6FailClosed) = why.has_value();
    const std::string name = v4 ? "IPv4" : "IPv6";
    if (why) {
      logLine(LogLevel::kWarn,
              std::string(v4 ? "IPV4" : "IPV6") + " FAIL CLOSED: enrolled pods' " + name +
                  " TCP is dropped, not redirected",
              {{"reason", *why}});
    } else {
      logLine(LogLevel::kInfo, "enrolled pods' " + name + " is redirected to ztunnel again");
    }
  };
  EnrollerConfig config{runtime, flags.policy};
  Enroller enroller(config, kernel, *ledger, registryFile, inspector, (*cluster)->metadata(),
                    events, (*cluster)->annotator(), &scanner);
  // After each resync: the pods left outside the mesh, for /readyz, metrics and verify.
  const std::string notEnrolledPath = flags.stateDir + "/" + kNotEnrolledFile;
  std::string lastNotEnrolled;
  auto publishNotEnrolled = [&] {
    auto pods = enroller.notEnrolled();
    metrics.podsNotEnrolled = pods.size();
    metrics.podsEnrolled = enroller.enrolledCount();
    std::string text = encodeNotEnrolled(pods);
    if (text == lastNotEnrolled) return;
    if (auto s = writeFileAtomic(notEnrolledPath, text); !s) {
      logLine(LogLevel::kWarn, "cannot write the not-enrolled list",
              {{"error", s.error().message()}});
      return;
    }
    lastNotEnrolled = std::move(text);
  };

  logLine(LogLevel::kInfo, "adopting registry",
          {{"pods", std::to_string(registry->pods.size())},
           {"ztunnel", registry->ztunnel ? registry->ztunnel->ip.str() : "none"},
           {"tunnel", std::string(tunnelKindName(tunnel->kind))}});
  if (auto s = enroller.start(std::move(*registry)); !s) {
    // Not fatal: enrolled pods keep whatever redirection the kernel has; retried each pass.
    logLine(LogLevel::kError, "initial reconcile failed", {{"error", s.error().message()}});
  }
  metrics.podsEnrolled = enroller.enrolledCount();

  // A host firewall's strict IPv6 reverse-path filter stops redirected IPv6 (docs/DESIGN.md,
  // "IPv6 (issue 20): the packet proof"); we cannot undo another table's drop, so we name it.
  std::mutex rpfilterMu;
  std::string rpfilterFinding;
  auto checkRpfilter = [&] {
    auto mode = enroller.nodeMode();
    std::string finding;
    if (mode && mode->ipv6Redirected) {
      auto found = findStrictIpv6ReversePathFilters(flags.nodeNetns);
      if (!found) {
        logLine(LogLevel::kWarn, "cannot read the node's nft rules for IPv6 reverse-path filters",
                {{"error", found.error().message()}});
        return;
      }
      for (const auto& where : *found) finding += (finding.empty() ? "" : ", ") + where;
    }
    std::lock_guard lock(rpfilterMu);
    if (finding == rpfilterFinding) return;
    if (!finding.empty()) {
      logLine(LogLevel::kWarn,
              "IPV6 REVERSE-PATH FILTER: a strict IPv6 reverse-path filter (fib saddr . iif oif "
              "missing drop) drops ztunnel's IPv6 packets that carry pods' addresses; enrolled "
              "pods' IPv6 stops (make it loose, e.g. firewalld IPv6_rpfilter=loose)",
              {{"where", finding}});
    }
    rpfilterFinding = finding;
  };
  checkRpfilter();

  auto server = AgentSocketServer::listen(
      flags.socketPath,
      [&](const PodRequest& r) {
        PodReply reply = enroller.handle(r);
        metrics.podsEnrolled = enroller.enrolledCount();
        if (reply.verdict == PodVerdict::kEnrolled || reply.verdict == PodVerdict::kReleased) {
          (*cluster)->poke();  // ztunnel's view follows the registry
        }
        logLine(reply.verdict == PodVerdict::kError ? LogLevel::kWarn : LogLevel::kInfo,
                std::string(podCommandName(r.command)) + " " + r.podNamespace + "/" + r.podName,
                {{"verdict", std::string(podVerdictName(reply.verdict))},
                 {"reason", reply.message},
                 {"containerId", r.containerId}});
        return reply;
      },
      [](const std::string& complaint) { logLine(LogLevel::kWarn, complaint); });
  if (!server) return fatal("cannot serve the plugin socket", server.error());

  httplib::Server http;
  http.Get("/healthz", [](const httplib::Request&, httplib::Response& res) {
    res.set_content("ok\n", "text/plain");
  });
  http.Get("/readyz", [&](const httplib::Request&, httplib::Response& res) {
    std::string reason;
    bool ok = enroller.ready(&reason) && (*cluster)->ready(&reason);
    res.status = ok ? 200 : 503;
    std::string body = ok ? "ready\n" : "not ready: " + reason + "\n";
    if (std::string note = (*cluster)->policyNote(); !note.empty()) body += note + "\n";
    {
      std::lock_guard lock(rpfilterMu);
      if (!rpfilterFinding.empty()) {
        body +=
            "IPv6 stopped by a strict reverse-path filter (fib saddr . iif oif missing drop) "
            "in " +
            rpfilterFinding + ": make it loose\n";
      }
    }
    for (auto [family, name] :
         {std::pair{IpAddress::Family::kV4, "IPv4"}, std::pair{IpAddress::Family::kV6, "IPv6"}}) {
      if (auto why = enroller.failClosed(family)) {
        body += std::string(name) + " fail closed: enrolled pods' " + name +
                " TCP is dropped, not redirected: " + *why + "\n";
      }
    }
    // Pods outside the mesh do not make the agent unready (the others are served), but are
    // named here.
    for (const auto& [pod, why] : enroller.notEnrolled()) {
      body += "ambient pod not enrolled: " + pod + ": " + why + "\n";
    }
    res.set_content(body, "text/plain");
  });
  http.Get("/metrics", [&](const httplib::Request&, httplib::Response& res) {
    res.set_content(metrics.render(), "text/plain; version=0.0.4");
  });
  if (!bindHttp(http, flags.httpAddr)) {
    return fatal("cannot listen for HTTP", Error{ErrorCode::kIo, errno, flags.httpAddr.str()});
  }
  std::thread httpThread([&] { http.listen_after_bind(); });

  signal(SIGTERM, onSignal);
  signal(SIGINT, onSignal);
  signal(SIGPIPE, SIG_IGN);
  signal(SIGHUP, onHangup);
  std::thread reconciler([&] {
    auto next =
        std::chrono::steady_clock::now() + std::chrono::seconds(flags.reconcileIntervalSeconds);
    while (!gStop.load()) {
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
      if (std::chrono::steady_clock::now() < next && !gReconcileNow.exchange(false)) continue;
      next =
          std::chrono::steady_clock::now() + std::chrono::seconds(flags.reconcileIntervalSeconds);
      if (auto s = enroller.reconcileAll(); !s) {
        metrics.countError("reconcile");
        logLine(LogLevel::kError, "reconcile pass failed", {{"error", s.error().message()}});
      }
      checkRpfilter();
      (*cluster)->poke();  // and a resync with its discovery pass
    }
  });
  std::mutex resyncErrorMu;
  std::string lastResyncError;
  auto resyncError = [&](const std::string& error) {
    metrics.countError("resync");
    std::lock_guard lock(resyncErrorMu);
    if (error == lastResyncError) return;  // once per distinct error, not per pass
    lastResyncError = error;
    logLine(LogLevel::kWarn, "resync left pods undecided", {{"error", error}});
  };
  if (auto s = (*cluster)->start(enroller, resyncError, publishNotEnrolled); !s) {
    return fatal("cannot start the Kubernetes API watch", s.error());
  }
  logLine(LogLevel::kInfo, "serving",
          {{"socket", flags.socketPath},
           {"http", flags.httpAddr.str()},
           {"metadata", (*cluster)->usesApi() ? "kubernetes api (" + flags.kubeconfig + ")"
                                              : "file " + flags.metadataFile}});
  (*server)->serve(gStop);
  reconciler.join();
  (*cluster)->stop();
  http.stop();
  httpThread.join();
  logLine(LogLevel::kInfo, "stopped; kernel state left in place (use `ambient-agent uninstall`)");
  return 0;
}

int runUninstall(const AgentFlags& flags) {
  setLogLevel(flags.logLevel);
  RegistryFile registryFile(flags.registryPath());
  auto registry = registryFile.load();
  if (!registry) return fatal("cannot load the pod registry", registry.error());
  auto ledger = SysctlLedgerStore::load(flags.ledgerPath());
  if (!ledger) return fatal("cannot load the sysctl ledger", ledger.error());
  LinuxKernel kernel;
  int rc = 0;
  auto node =
      reconcile(kernel, {flags.nodeNetns, NetnsRole::kNode}, emptyPlan(NetnsRole::kNode), *ledger);
  if (!node)
    rc = fatal("uninstall from the node namespace failed", node.error());
  else
    logLine(LogLevel::kInfo, "node namespace cleaned",
            {{"changes", std::to_string(node->changes.size())}});
  if (registry->ztunnel) {
    auto zt = reconcile(kernel, {registry->ztunnel->netns, NetnsRole::kZtunnel},
                        emptyPlan(NetnsRole::kZtunnel), *ledger);
    if (!zt && !zt.error().isNotFound())
      rc = fatal("uninstall from the ztunnel namespace failed", zt.error());
    else if (zt)
      logLine(LogLevel::kInfo, "ztunnel namespace cleaned",
              {{"changes", std::to_string(zt->changes.size())}});
    else
      logLine(LogLevel::kInfo, "ztunnel namespace is gone; nothing to clean there");
  }
  // Before the registry goes: it names the pods whose marks are ours.
  if (auto s = unmarkEnrolledPods(flags, *registry, std::chrono::seconds(30)); !s) {
    rc = fatal("uninstall could not remove the pod marks; run it again", s.error());
  }
  if (rc == 0) {
    for (const auto& f : {flags.registryPath(), flags.ledgerPath()}) {
      ::unlink(f.c_str());
      ::unlink((f + ".journal").c_str());
    }
    ::unlink((flags.stateDir + "/agent-config.json").c_str());
    ::unlink((flags.stateDir + "/" + kNotEnrolledFile).c_str());
    ::unlink(flags.viewPath().c_str());
  }
  return rc;
}

}  // namespace ambient
