// Flag parsing for the ztunnel binary ("--name value" or "--name=value"). Pure.
#include "ztunnel/core/options.h"

#include <charconv>
#include <functional>
#include <map>

namespace zt {
namespace {

template <class T>
Status parseNumber(const std::string& flag, const std::string& v, T* out, T min, T max) {
  bool hex = v.rfind("0x", 0) == 0;
  std::string digits = hex ? v.substr(2) : v;
  T value{};
  auto [p, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), value, hex ? 16 : 10);
  if (digits.empty() || ec != std::errc() || p != digits.data() + digits.size() || value < min ||
      value > max)
    return fail(ErrorCode::kInvalidInput, "flag " + flag + ": '" + v + "' is not a number in [" +
                                              std::to_string(min) + ", " + std::to_string(max) + "]");
  *out = value;
  return {};
}

Status parseBool(const std::string& flag, const std::string& v, bool* out) {
  if (v == "on" || v == "true" || v == "1") *out = true;
  else if (v == "off" || v == "false" || v == "0") *out = false;
  else return fail(ErrorCode::kInvalidInput, "flag " + flag + ": expected on|off, got '" + v + "'");
  return {};
}

}  // namespace

Result<Options> parseOptions(const std::vector<std::string>& args) {
  Options o;
  using Setter = std::function<Status(const std::string&, const std::string&)>;
  auto str = [](std::string* f) -> Setter {
    return [f](const std::string&, const std::string& v) -> Status { *f = v; return {}; };
  };
  auto port = [](uint16_t* f) -> Setter {
    return [f](const std::string& n, const std::string& v) {
      return parseNumber<uint16_t>(n, v, f, 1, 65535);
    };
  };
  auto integer = [](int* f, int min, int max) -> Setter {
    return [=](const std::string& n, const std::string& v) { return parseNumber<int>(n, v, f, min, max); };
  };
  auto u32 = [](uint32_t* f, uint32_t min, uint32_t max) -> Setter {
    return [=](const std::string& n, const std::string& v) {
      return parseNumber<uint32_t>(n, v, f, min, max);
    };
  };
  auto boolean = [](bool* f) -> Setter {
    return [f](const std::string& n, const std::string& v) { return parseBool(n, v, f); };
  };
  std::map<std::string, Setter> flags = {
      {"--config", str(&o.configPath)},
      {"--bind", str(&o.bindAddress)},
      {"--status-bind", str(&o.statusBindAddress)},
      {"--admin-bind", str(&o.adminBindAddress)},
      {"--outbound-port", port(&o.outboundPort)},
      {"--inbound-plaintext-port", port(&o.inboundPlainPort)},
      {"--inbound-port", port(&o.inboundPort)},
      {"--stats-port", port(&o.statsPort)},
      {"--readiness-port", port(&o.readinessPort)},
      {"--admin-port", port(&o.adminPort)},
      {"--peer-hbone-port", port(&o.peerHbonePort)},
      {"--transparent", boolean(&o.transparent)},
      {"--original-source", boolean(&o.originalSource)},
      {"--mark", u32(&o.mark, 0, 0xffffffffu)},
      {"--node", str(&o.node)},
      {"--trust-domain", str(&o.trustDomain)},
      {"--cert-dir", str(&o.certDir)},
      {"--dev-ca", str(&o.devCaDir)},
      {"--default-identity", str(&o.defaultIdentity)},
      {"--workers", integer(&o.workers, 1, 64)},
      {"--max-connections",
       [&o](const std::string& n, const std::string& v) {
         return parseNumber<int64_t>(n, v, &o.maxConnections, 1, 10000000);
       }},
      {"--handshake-timeout-ms", integer(&o.handshakeTimeoutMs, 100, 600000)},
      {"--connect-timeout-ms", integer(&o.connectTimeoutMs, 100, 600000)},
      {"--drain-timeout-ms", integer(&o.drainTimeoutMs, 0, 600000)},
      {"--config-poll-ms", integer(&o.configPollMs, 50, 600000)},
      {"--stream-window", u32(&o.streamWindow, 65535, 0x7fffffff)},
      {"--connection-window", u32(&o.connectionWindow, 65535, 0x7fffffff)},
      {"--frame-size", u32(&o.frameSize, 16384, 16777215)},
      {"--max-streams-per-connection", u32(&o.maxStreamsPerConnection, 1, 10000)},
      {"--pool-idle-ms", integer(&o.poolIdleMs, 100, 3600000)},
      {"--stall-timeout-ms", integer(&o.stallTimeoutMs, 100, 3600000)},
      {"--max-connection-buffer", u32(&o.maxConnectionBuffer, 65535, 0x7fffffff)},
      {"--log-level", str(&o.logLevel)},
  };
  for (size_t i = 0; i < args.size(); ++i) {
    std::string a = args[i];
    if (a == "--help" || a == "-h") { o.help = true; continue; }
    if (a == "--version") { o.version = true; continue; }
    std::string value;
    size_t eq = a.find('=');
    bool inlineValue = eq != std::string::npos;
    if (inlineValue) {
      value = a.substr(eq + 1);
      a = a.substr(0, eq);
    }
    auto it = flags.find(a);
    if (it == flags.end())
      return fail(ErrorCode::kInvalidInput, "unknown flag '" + a + "' (see --help)");
    if (!inlineValue) {
      if (i + 1 >= args.size()) return fail(ErrorCode::kInvalidInput, "flag " + a + " needs a value");
      value = args[++i];
    }
    if (auto st = it->second(a, value); !st) return fail(st.error());
  }
  if (o.logLevel != "debug" && o.logLevel != "info" && o.logLevel != "warn" && o.logLevel != "error")
    return fail(ErrorCode::kInvalidInput, "--log-level must be debug|info|warn|error");
  o.bindAddresses.clear();
  for (size_t start = 0; start <= o.bindAddress.size();) {
    size_t comma = o.bindAddress.find(',', start);
    if (comma == std::string::npos) comma = o.bindAddress.size();
    auto ip = IpAddr::parse(o.bindAddress.substr(start, comma - start));
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

std::optional<IpAddr> originalSourceFor(const Options& opts, const IpAddr& client, const IpAddr& dst) {
  if (!opts.originalSource || client.v6 != dst.v6) return std::nullopt;
  if (client.isLoopback() && !dst.isLoopback()) return std::nullopt;
  return client;
}

std::string renderHelp() {
  return R"(ztunnel - minimal transparent L4 proxy speaking HBONE (HTTP/2 CONNECT over mTLS)

Usage: ztunnel [flags]            (flags take "--name value" or "--name=value")

Listeners (transparently redirected with TPROXY; original destination = local address):
  --bind ADDR[,ADDR]            addresses of 15001/15006/15008, e.g. 127.0.0.1,::1
                                (default 127.0.0.1)
  --outbound-port N             outbound capture (default 15001)
  --inbound-plaintext-port N    inbound plaintext capture (default 15006)
  --inbound-port N              inbound HBONE (default 15008)
  --peer-hbone-port N           HBONE port dialled on destinations (default 15008)
  --status-bind ADDR            address of 15020/15021 (default 0.0.0.0)
  --stats-port N                Prometheus metrics, GET /metrics (default 15020)
  --readiness-port N            GET /healthz/ready (default 15021)
  --admin-bind ADDR             address of the admin port (default 127.0.0.1)
  --admin-port N                GET /config_dump (default 15000)
  --transparent on|off          IP_TRANSPARENT on listeners (default on)
  --original-source on|off      dial upstream from the client's IP (default on)
  --mark N                      SO_MARK on upstream sockets, 0 = none (default 0)

Configuration:
  --config PATH                 workload/service view, JSON in upstream ztunnel's local-config
                                schema; re-read when it changes (default /var/run/ztunnel/config.json)
  --config-poll-ms N            change check interval (default 1000)
  --node NAME                   this node; inbound HBONE serves only workloads with this node
  --trust-domain TD             SPIFFE trust domain (default cluster.local)
  --cert-dir DIR                DIR/root-cert.pem (trust bundle) and
                                DIR/<ns>/<sa>/cert-chain.pem + key.pem per service account
  --dev-ca DIR                  development mode: mint certificates from DIR/ca-cert.pem and
                                DIR/ca-key.pem (see scripts/make-test-ca.sh)
  --default-identity URI        server identity when a destination is unknown
                                (default spiffe://<td>/ns/istio-system/sa/ztunnel)

Limits and tuning:
  --workers N                   event-loop threads (default 2)
  --max-connections N           proxied connections at once, more are refused (default 100000)
  --handshake-timeout-ms N      TLS + HTTP/2 CONNECT deadline (default 10000)
  --connect-timeout-ms N        upstream TCP connect deadline (default 10000)
  --drain-timeout-ms N          SIGTERM: wait this long for connections (default 5000)
  --stream-window N             HTTP/2 stream window (default 4 MiB, as upstream ztunnel)
  --connection-window N         HTTP/2 connection window (default 16 MiB)
  --frame-size N                HTTP/2 max frame size (default 1 MiB)
  --max-streams-per-connection N  HBONE streams per pooled connection (default 100)
  --pool-idle-ms N              close a pooled HBONE connection idle this long (default 30000)
  --stall-timeout-ms N          close an HBONE connection whose peer takes none of our pending
                                output for this long: it does not read (default 60000)
  --max-connection-buffer N     bytes of received HTTP/2 DATA one HBONE connection may hold
                                for slow readers; clamps both windows above (default 16 MiB).
                                Worst case per connection: N + ~1 MiB (see README "Memory")
  --log-level L                 debug|info|warn|error, JSON lines on stderr (default info)
  --help, --version

Exit codes: 0 ok (also after SIGTERM drain), 1 runtime failure, 2 bad command line,
            3 config or certificates unusable at startup, 4 a listener could not be bound.
)";
}

}  // namespace zt
