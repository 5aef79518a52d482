// Process wiring: start workers and control ports, poll config, drain on SIGTERM.
// Touches the kernel (signalfd, rlimits).
#include "ztunnel/proxy/proxy_app.h"

#include <malloc.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <vector>

#include "common/log/log.h"
#include "ztunnel/proxy/worker.h"
#include "ztunnel/sys/cert_store.h"
#include "ztunnel/sys/config_watcher.h"
#include "ztunnel/sys/control_http.h"
#include "ztunnel/sys/socket_ops.h"
#include "ztunnel/sys/tls_context.h"

namespace zt {
namespace {

class SignalWatch : public EventHandler {
 public:
  explicit SignalWatch(std::function<void()> onTerm) : onTerm_(std::move(onTerm)) {}
  Watch watch{this, 0};
  UniqueFd fd;
  void onEvents(int, uint32_t) override {
    signalfd_siginfo info;
    while (::read(fd.get(), &info, sizeof(info)) == sizeof(info)) onTerm_();
  }

 private:
  std::function<void()> onTerm_;
};

void raiseFdLimit() {
  rlimit rl{};
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
}

// Whether [::1] can be bound (IPv6 loopback exists): the "auto" bind leaves it out otherwise.
bool ipv6LoopbackWorks() {
  ambient::UniqueFd fd(::socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd.valid()) return false;
  sockaddr_in6 addr{};
  addr.sin6_family = AF_INET6;
  addr.sin6_addr = in6addr_loopback;
  return ::bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
}

std::string bindText(const std::vector<IpAddr>& addresses) {
  std::string out;
  for (const auto& ip : addresses) out += (out.empty() ? "" : ",") + ip.toString();
  return out;
}

}  // namespace

int runProxy(const Options& opts) {
  raiseFdLimit();
  signal(SIGPIPE, SIG_IGN);
  // Block SIGTERM/SIGINT before any thread starts so that only the signalfd sees them.
  sigset_t mask;
  sigemptyset(&mask);
  sigaddset(&mask, SIGTERM);
  sigaddset(&mask, SIGINT);
  pthread_sigmask(SIG_BLOCK, &mask, nullptr);
  ProxyState state;
  state.opts = opts;
  if (opts.bindIpv6IfAvailable && !ipv6LoopbackWorks()) {
    std::erase_if(state.opts.bindAddresses, [](const IpAddr& ip) { return ip.v6; });
    ambient::logLine(ambient::LogLevel::kInfo,
                     "this kernel has no IPv6 loopback: listening on 127.0.0.1 only");
  }
  state.view.store(std::make_shared<const WorkloadView>());

  ConfigWatcher config(state);
  if (auto st = config.poll(); !st) {
    ambient::logLine(ambient::LogLevel::kError, "config unusable",
                     {{"error", st.error().message()}});
    return kExitConfig;
  }
  if (!config.loaded())
    ambient::logLine(ambient::LogLevel::kWarn, "config file absent, waiting for it (not ready)",
                     {{"path", opts.configPath}});

  auto certs = CertStore::create(opts);
  if (!certs) {
    ambient::logLine(ambient::LogLevel::kError, "certificates unusable",
                     {{"error", certs.error().message()}});
    return kExitConfig;
  }
  state.certs = certs->get();
  std::unique_ptr<TlsContexts> tls;
  if ((*certs)->hasIdentities()) {
    auto t = TlsContexts::create(**certs);
    if (!t) {
      ambient::logLine(ambient::LogLevel::kError, "TLS setup failed",
                       {{"error", t.error().message()}});
      return kExitConfig;
    }
    tls = std::move(*t);
    state.tls = tls.get();
  } else {
    ambient::logLine(ambient::LogLevel::kWarn,
                     "no --cert-dir or --dev-ca: HBONE disabled, plaintext only");
  }

  auto loopOr = EventLoop::create();
  if (!loopOr) return kExitFailure;
  EventLoop& loop = **loopOr;

  auto ready = [&] {
    return state.listenersUp.load() && config.loaded() && !state.draining.load();
  };
  std::vector<std::unique_ptr<ControlHttpListener>> control;
  auto addControl = [&](const std::string& ip, uint16_t port, HttpRoute route) {
    auto l = ControlHttpListener::open(loop, ip == "auto" ? "::" : ip, port, route);
    if (!l && ip == "auto") {
      ambient::logLine(ambient::LogLevel::kInfo, "no IPv6 here: status port on IPv4 only",
                       {{"port", std::to_string(port)}, {"error", l.error().message()}});
      l = ControlHttpListener::open(loop, "0.0.0.0", port, std::move(route));
    }
    if (!l) {
      ambient::logLine(ambient::LogLevel::kError, "control listener failed",
                       {{"error", l.error().message()}});
      return false;
    }
    control.push_back(std::move(*l));
    return true;
  };
  bool ok = addControl(opts.statusBindAddress, opts.readinessPort,
                       [&](const std::string&, const std::string& path) {
                         if (path != "/healthz/ready")
                           return HttpReply{404, "text/plain", "not found\n"};
                         return ready() ? HttpReply{200, "text/plain", "ready\n"}
                                        : HttpReply{503, "text/plain", "not ready\n"};
                       });
  ok =
      ok &&
      addControl(
          opts.statusBindAddress, opts.statsPort, [&](const std::string&, const std::string& path) {
            if (path != "/metrics" && path != "/stats/prometheus")
              return HttpReply{404, "text/plain", "not found\n"};
            return HttpReply{200, "text/plain; version=0.0.4", state.metrics.renderPrometheus()};
          });
  ok = ok &&
       addControl(
           opts.adminBindAddress, opts.adminPort, [&](const std::string&, const std::string& path) {
             if (path == "/config_dump")
               return HttpReply{200, "application/json", renderWorkloadView(*state.snapshot())};
             if (path == "/certs")
               return HttpReply{200, "application/json", state.certs->describe()};
             if (path == "/denials")
               return HttpReply{200, "application/json", renderDenialsJson(state.denials)};
             return HttpReply{404, "text/plain", "endpoints: /config_dump /certs /denials\n"};
           });
  if (!ok)
    return kExitListen;  // control ports first: a second instance fails before taking traffic
  std::vector<std::unique_ptr<Worker>> workers;
  for (int i = 0; i < opts.workers; ++i) {
    auto w = Worker::create(state);
    if (!w) {
      ambient::logLine(ambient::LogLevel::kError, "listener failed",
                       {{"error", w.error().message()}});
      return kExitListen;
    }
    workers.push_back(std::move(*w));
  }
  for (auto& w : workers) w->start();
  state.listenersUp = true;

  EventLoop::Clock::time_point drainDeadline{};
  uint64_t ticks = 0;
  std::function<void()> tick = [&] {
    if (state.draining.load()) {
      if (state.metrics.activeConnections.load() <= 0 || EventLoop::Clock::now() >= drainDeadline) {
        ambient::logLine(ambient::LogLevel::kInfo, "drained, exiting",
                         {{"left", std::to_string(state.metrics.activeConnections.load())}});
        loop.stop();
        return;
      }
      loop.addTimer(std::chrono::milliseconds(50), tick);
      return;
    }
    if (++ticks % 16 == 0) malloc_trim(0);  // hand bursts' freed heap back to the kernel
    uint64_t published = config.published();
    if (auto st = config.poll(); !st)
      ambient::logLine(ambient::LogLevel::kWarn, "config reload failed, keeping the previous view",
                       {{"error", st.error().message()}});
    // A new view with policies: open inbound connections are re-checked by their workers, as
    // upstream's PolicyWatcher does (new connections see the new view at once).
    if (config.published() != published && !state.snapshot()->policies.empty())
      for (auto& w : workers) w->recheckPolicies();
    loop.addTimer(std::chrono::milliseconds(state.draining ? 50 : opts.configPollMs), tick);
  };
  SignalWatch signals([&] {
    if (state.draining.exchange(true)) return;
    ambient::logLine(ambient::LogLevel::kInfo, "SIGTERM: draining",
                     {{"active", std::to_string(state.metrics.activeConnections.load())}});
    drainDeadline = EventLoop::Clock::now() + std::chrono::milliseconds(opts.drainTimeoutMs);
    for (auto& w : workers) w->stopListening();
    loop.addTimer(std::chrono::milliseconds(50), tick);
  });
  signals.fd.reset(signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC));
  if (!signals.fd.valid() || !loop.add(signals.fd.get(), EPOLLIN, &signals.watch))
    return kExitFailure;

  loop.addTimer(std::chrono::milliseconds(opts.configPollMs), tick);
  ambient::logLine(ambient::LogLevel::kInfo, "ztunnel started",
                   {{"bind", bindText(state.opts.bindAddresses)},
                    {"outbound", std::to_string(opts.outboundPort)},
                    {"inbound_plaintext", std::to_string(opts.inboundPlainPort)},
                    {"inbound_hbone", std::to_string(opts.inboundPort)},
                    {"workers", std::to_string(opts.workers)}});
  loop.run();
  for (auto& w : workers) w->stop();
  workers.clear();
  return kExitOk;
}

}  // namespace zt
