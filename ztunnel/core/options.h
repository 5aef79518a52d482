// Command-line options of the ztunnel binary (CLI11): defaults, parsing, --help text. Pure.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/core/constants.h"
#include "ztunnel/core/error.h"
#include "ztunnel/core/ip_addr.h"

namespace zt {

// Documented process exit codes.
inline constexpr int kExitOk = 0;       // normal exit, also after a SIGTERM drain
inline constexpr int kExitFailure = 1;  // unexpected runtime failure
inline constexpr int kExitUsage = 2;    // bad command line
inline constexpr int kExitConfig = 3;   // config or certificates unusable at startup
inline constexpr int kExitListen = 4;   // a listener could not be bound

// ztunnel's own capture ports (--outbound-port, --inbound-plaintext-port, --inbound-port): a
// connection or CONNECT to one of them would loop back into ztunnel.
struct ListenerPorts {
  uint16_t outbound = ambient::kPortOutbound;
  uint16_t inboundPlain = ambient::kPortInboundPlain;
  uint16_t inbound = ambient::kPortHbone;
  bool contains(uint16_t port) const {
    return port == outbound || port == inboundPlain || port == inbound;
  }
};

struct Options {
  std::string configPath = "/var/run/ztunnel/config.json";
  // 15001/15006/15008: a comma-separated list, or "auto": 127.0.0.1, and ::1 where the kernel
  // has IPv6 loopback (checked when the listeners open; dual-stack nodes need both).
  std::string bindAddress = "auto";
  std::vector<IpAddr> bindAddresses;  // parsed from bindAddress ("auto": 127.0.0.1 and ::1)
  bool bindIpv6IfAvailable = false;   // "auto": ::1 is left out where IPv6 is off
  // 15020/15021; "auto": [::] for both families, or 0.0.0.0 where the kernel has no IPv6
  // (kubelet probes the pod's address, IPv6 on an IPv6-only cluster).
  std::string statusBindAddress = "auto";
  std::string adminBindAddress = "127.0.0.1";  // 15000
  uint16_t outboundPort = ambient::kPortOutbound;
  uint16_t inboundPlainPort = ambient::kPortInboundPlain;
  uint16_t inboundPort = ambient::kPortHbone;
  uint16_t statsPort = 15020;
  uint16_t readinessPort = 15021;
  uint16_t adminPort = 15000;
  uint16_t peerHbonePort = ambient::kPortHbone;  // port dialled on destination ztunnels
  ListenerPorts listeners() const { return {outboundPort, inboundPlainPort, inboundPort}; }
  bool transparent = true;     // IP_TRANSPARENT listeners (TPROXY)
  bool originalSource = true;  // dial upstream with the client's IP as source
  uint32_t mark = 0;           // SO_MARK on upstream sockets (0: none)
  std::string node;            // this node's name; inbound serves only its workloads
  std::string trustDomain = "cluster.local";
  std::string certDir;          // <dir>/root-cert.pem, <dir>/<ns>/<sa>/{cert-chain,key}.pem
  std::string devCaDir;         // <dir>/ca-cert.pem + ca-key.pem: mint certificates
  std::string defaultIdentity;  // server identity when the destination is not in the view
  int workers = 2;
  int64_t maxConnections = 100000;
  int handshakeTimeoutMs = 10000;
  int connectTimeoutMs = 10000;
  int drainTimeoutMs = 5000;
  int configPollMs = 1000;
  uint32_t streamWindow = 4 * 1024 * 1024;       // HTTP/2 stream window (upstream ztunnel)
  uint32_t connectionWindow = 16 * 1024 * 1024;  // HTTP/2 connection window (upstream ztunnel)
  uint32_t frameSize = 1024 * 1024;              // HTTP/2 max frame size (upstream ztunnel)
  uint32_t maxStreamsPerConnection = 100;        // pooled HBONE connection streams
  int poolIdleMs = 30000;                        // idle pooled HBONE connections close
  int stallTimeoutMs = 60000;  // an HBONE peer whose socket takes no byte of our output this long
  // Received HTTP/2 DATA one HBONE connection may hold for slow plain sockets: the windows we
  // advertise are clamped to it, and credit is returned only for bytes a socket took.
  uint32_t maxConnectionBuffer = 16 * 1024 * 1024;
  std::string logLevel = "info";
  bool help = false;
  bool version = false;
};

// "--name value" or "--name=value"; errors name the flag, even next to --help.
Result<Options> parseOptions(const std::vector<std::string>& args);

// The receive windows actually advertised (clamped to --max-connection-buffer).
inline uint32_t effectiveStreamWindow(const Options& o) {
  return o.streamWindow < o.maxConnectionBuffer ? o.streamWindow : o.maxConnectionBuffer;
}
inline uint32_t effectiveConnectionWindow(const Options& o) {
  return o.connectionWindow < o.maxConnectionBuffer ? o.connectionWindow : o.maxConnectionBuffer;
}

// True when `dst` is one of our own capture listeners (a redirect loop).
bool isOwnListener(const Options& opts, const SocketAddr& dst);

// The source to dial upstream with: the client's IP when original source is on, unless that
// cannot work (a loopback client towards a non-loopback destination, or another family).
std::optional<IpAddr> originalSourceFor(const Options& opts, const IpAddr& client,
                                        const IpAddr& dst);
std::string renderHelp();

}  // namespace zt
