// ztunnel's command line (CLI11): each flag named once, with its help and its check. Pure.
#include "ztunnel/core/options.h"

#include "common/cli/command_line.h"

namespace zt {
namespace {

// Every flag of ztunnel, bound to `o` (whose values are the shown defaults).
void defineFlags(CLI::App& app, Options& o) {
  ambient::cli::setUp(
      app, "ztunnel",
      "ztunnel - minimal transparent L4 proxy speaking HBONE (HTTP/2 CONNECT over mTLS)\n"
      "Flags take \"--name value\" or \"--name=value\".",
      &o.help);
  app.footer(R"(Exit codes: 0 ok (also after SIGTERM drain), 1 runtime failure, 2 bad command line,
            3 config or certificates unusable at startup, 4 a listener could not be bound.)");
  app.add_flag("--version", o.version, "print the version and exit")->disable_flag_override();
  auto port = [&app](const std::string& name, uint16_t& out, const std::string& desc) {
    return app.add_option(name, out, desc)->option_text("N")->check(CLI::Range(1, 65535));
  };
  auto onOff = [&app](const std::string& name, bool& out, const std::string& desc) {
    return app.add_option(name, out, desc)->option_text("on|off")->default_str(out ? "on" : "off");
  };

  std::string group =
      "Listeners (transparently redirected with TPROXY; original destination = local address)";
  app.add_option("--bind", o.bindAddress,
                 "addresses of 15001/15006/15008, e.g. 127.0.0.1,::1; auto: 127.0.0.1\n"
                 "and ::1 unless this kernel has no IPv6 loopback")
      ->option_text("auto|ADDR[,ADDR]")
      ->default_str(o.bindAddress)
      ->group(group);
  port("--outbound-port", o.outboundPort, "outbound capture")->group(group);
  port("--inbound-plaintext-port", o.inboundPlainPort, "inbound plaintext capture")->group(group);
  port("--inbound-port", o.inboundPort, "inbound HBONE")->group(group);
  port("--peer-hbone-port", o.peerHbonePort, "HBONE port dialled on destinations")->group(group);
  app.add_option("--status-bind", o.statusBindAddress,
                 "address of 15020/15021; auto: [::] for both families,\n"
                 "or 0.0.0.0 where this kernel has no IPv6")
      ->option_text("auto|ADDR")
      ->default_str(o.statusBindAddress)
      ->group(group);
  port("--stats-port", o.statsPort, "Prometheus metrics, GET /metrics")->group(group);
  port("--readiness-port", o.readinessPort, "GET /healthz/ready")->group(group);
  app.add_option("--admin-bind", o.adminBindAddress, "address of the admin port")
      ->option_text("ADDR")
      ->group(group);
  port("--admin-port", o.adminPort, "GET /config_dump")->group(group);
  onOff("--transparent", o.transparent, "IP_TRANSPARENT on listeners")->group(group);
  onOff("--original-source", o.originalSource, "dial upstream from the client's IP")->group(group);
  app.add_option("--mark", o.mark, "SO_MARK on upstream sockets (decimal or 0x hex), 0 = none")
      ->option_text("N")
      ->group(group);

  group = "Configuration";
  app.add_option("--config", o.configPath,
                 "workload/service view, JSON in upstream ztunnel's local-config\n"
                 "schema; re-read when it changes")
      ->option_text("PATH")
      ->group(group);
  app.add_option("--config-poll-ms", o.configPollMs, "change check interval")
      ->option_text("N")
      ->check(CLI::Range(50, 600000))
      ->group(group);
  app.add_option("--node", o.node, "this node; inbound HBONE serves only workloads with this node")
      ->option_text("NAME")
      ->group(group);
  app.add_option("--trust-domain", o.trustDomain, "SPIFFE trust domain")
      ->option_text("TD")
      ->group(group);
  app.add_option("--cert-dir", o.certDir,
                 "DIR/root-cert.pem (trust bundle) and\n"
                 "DIR/<ns>/<sa>/cert-chain.pem + key.pem per service account")
      ->option_text("DIR")
      ->group(group);
  app.add_option("--dev-ca", o.devCaDir,
                 "development mode: mint certificates from DIR/ca-cert.pem and\n"
                 "DIR/ca-key.pem (see scripts/make-test-ca.sh)")
      ->option_text("DIR")
      ->group(group);
  app.add_option("--default-identity", o.defaultIdentity,
                 "server identity when a destination is unknown")
      ->option_text("URI")
      ->default_str("spiffe://<td>/ns/istio-system/sa/ztunnel")
      ->group(group);

  group = "Limits and tuning";
  auto number = [&app, &group](const std::string& name, auto& out, auto min, auto max,
                               const std::string& desc) {
    return app.add_option(name, out, desc)
        ->option_text("N")
        ->check(CLI::Range(min, max))
        ->group(group);
  };
  number("--workers", o.workers, 1, 64, "event-loop threads");
  number("--max-connections", o.maxConnections, int64_t{1}, int64_t{10000000},
         "proxied connections at once, more are refused");
  number("--handshake-timeout-ms", o.handshakeTimeoutMs, 100, 600000,
         "TLS + HTTP/2 CONNECT deadline");
  number("--connect-timeout-ms", o.connectTimeoutMs, 100, 600000, "upstream TCP connect deadline");
  number("--drain-timeout-ms", o.drainTimeoutMs, 0, 600000,
         "SIGTERM: wait this long for connections");
  number("--stream-window", o.streamWindow, 65535u, 0x7fffffffu, "HTTP/2 stream window")
      ->default_str("4 MiB, as upstream ztunnel");
  number("--connection-window", o.connectionWindow, 65535u, 0x7fffffffu, "HTTP/2 connection window")
      ->default_str("16 MiB");
  number("--frame-size", o.frameSize, 16384u, 16777215u, "HTTP/2 max frame size")
      ->default_str("1 MiB");
  number("--max-streams-per-connection", o.maxStreamsPerConnection, 1u, 10000u,
         "HBONE streams per pooled connection");
  number("--pool-idle-ms", o.poolIdleMs, 100, 3600000,
         "close a pooled HBONE connection idle this long");
  number("--stall-timeout-ms", o.stallTimeoutMs, 100, 3600000,
         "close an HBONE connection whose peer takes none of our pending\n"
         "output for this long: it does not read");
  number("--max-connection-buffer", o.maxConnectionBuffer, 65535u, 0x7fffffffu,
         "bytes of received HTTP/2 DATA one HBONE connection may hold\n"
         "for slow readers; clamps both windows above. Worst case per\n"
         "connection: N + ~1 MiB (see README \"Memory\")")
      ->default_str("16 MiB");
  app.add_option("--log-level", o.logLevel, "debug|info|warn|error, JSON lines on stderr")
      ->option_text("L")
      ->check(CLI::IsMember({"debug", "info", "warn", "error"}))
      ->group(group);
}

}  // namespace

Result<Options> parseOptions(const std::vector<std::string>& args) {
  Options o;
  CLI::App app;
  defineFlags(app, o);
  if (auto parsed = ambient::cli::parse(app, args); !parsed) return fail(parsed.error());
  o.bindAddresses.clear();
  o.bindIpv6IfAvailable = o.bindAddress == "auto";
  const std::string bind = o.bindIpv6IfAvailable ? "127.0.0.1,::1" : o.bindAddress;
  for (size_t start = 0; start <= bind.size();) {
    size_t comma = bind.find(',', start);
    if (comma == std::string::npos) comma = bind.size();
    auto ip = IpAddr::parse(bind.substr(start, comma - start));
    if (!ip) return fail(ip.error().wrap("--bind"));
    o.bindAddresses.push_back(*ip);
    start = comma + 1;
  }
  if (o.defaultIdentity.empty())
    o.defaultIdentity = "spiffe://" + o.trustDomain + "/ns/istio-system/sa/ztunnel";
  return o;
}

bool isOwnListener(const Options& opts, const SocketAddr& dst) {
  if (!opts.listeners().contains(dst.port)) return false;
  if (dst.ip.isLoopback()) return true;
  for (const IpAddr& ip : opts.bindAddresses)
    if (ip.isUnspecified() || ip == dst.ip) return true;
  return false;
}

std::optional<IpAddr> originalSourceFor(const Options& opts, const IpAddr& client,
                                        const IpAddr& dst) {
  if (!opts.originalSource || client.v6 != dst.v6) return std::nullopt;
  if (client.isLoopback() && !dst.isLoopback()) return std::nullopt;
  return client;
}

std::string renderHelp() {
  CLI::App app;
  Options o;
  defineFlags(app, o);
  return app.help();
}

}  // namespace zt
