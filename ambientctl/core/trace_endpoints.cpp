// `ambientctl trace`'s operands as typed values. Pure.
#include "ambientctl/core/trace_endpoints.h"

#include <algorithm>
#include <charconv>
#include <optional>
#include <string>
#include <tuple>

namespace ambient {
namespace {

// One operand as written: an address or a pod's namespace/name, and the port if one was given.
struct Operand {
  std::string text;  // as given, for errors
  std::optional<IpAddress> ip;
  std::string pod;  // namespace/name when `ip` is not set
  std::optional<uint16_t> port;
};

Result<uint16_t> parsePort(std::string_view text, std::string_view operand) {
  unsigned port = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), port);
  if (text.empty() || ec != std::errc() || ptr != text.data() + text.size() || port == 0 ||
      port > 65535) {
    return fail(ErrorCode::kInvalidInput, "the port of \"" + std::string(operand) + "\" (\"" +
                                              std::string(text) + "\") is not 1-65535");
  }
  return static_cast<uint16_t>(port);
}

// "10.0.0.1", "10.0.0.1:80", "fd00::1", "[fd00::1]", "[fd00::1]:80", "ns/pod", "ns/pod:80".
Result<Operand> parseOperand(std::string_view text, bool portAllowed) {
  Operand out{std::string(text), std::nullopt, {}, std::nullopt};
  std::string_view host = text;
  std::optional<std::string_view> portText;
  if (text.starts_with('[')) {
    auto close = text.find(']');
    if (close == std::string_view::npos) {
      return fail(ErrorCode::kInvalidInput, "\"" + out.text + "\" has no closing ']'");
    }
    host = text.substr(1, close - 1);
    std::string_view rest = text.substr(close + 1);
    if (!rest.empty()) {
      if (!rest.starts_with(':')) {
        return fail(ErrorCode::kInvalidInput,
                    "\"" + out.text + "\": after [ADDRESS] only :PORT may follow");
      }
      portText = rest.substr(1);
    }
    auto ip = IpAddress::parse(host, "address");
    if (!ip || !ip->isV6()) {
      return fail(ErrorCode::kInvalidInput,
                  "\"" + out.text + "\": brackets hold an IPv6 address, as in [fd00::1]:80");
    }
    out.ip = *ip;
  } else if (std::count(text.begin(), text.end(), ':') > 1) {
    // A bare IPv6 address: its last group cannot be told from a port.
    auto ip = IpAddress::parse(text, "address");
    if (!ip) {
      return fail(ErrorCode::kInvalidInput, ip.error().message() +
                                                " (an IPv6 address with a port is written "
                                                "[ADDRESS]:PORT)");
    }
    out.ip = *ip;
  } else {
    if (auto colon = text.rfind(':'); colon != std::string_view::npos) {
      host = text.substr(0, colon);
      portText = text.substr(colon + 1);
    }
    if (host.find('/') != std::string_view::npos) {
      out.pod = std::string(host);
    } else {
      auto ip = IpAddress::parse(host, "address");
      if (!ip) return fail(ip.error());
      out.ip = *ip;
    }
  }
  if (portText) {
    if (!portAllowed) {
      return fail(ErrorCode::kInvalidInput,
                  "the source \"" + out.text + "\" has a port: only the destination takes one");
    }
    auto port = parsePort(*portText, text);
    if (!port) return fail(port.error());
    out.port = *port;
  }
  return out;
}

std::string_view familyName(IpAddress::Family f) {
  return f == IpAddress::Family::kV6 ? "IPv6" : "IPv4";
}

// The pod's address of `family`.
Result<IpAddress> podAddress(const std::string& pod, IpAddress::Family family,
                             const PodRegistry& registry) {
  for (const auto& [uid, p] : registry.pods) {
    if (p.podNamespace + "/" + p.name != pod) continue;
    for (const auto& ip : p.ips) {
      if (ip.family() == family) return ip;
    }
    return fail(ErrorCode::kInvalidInput,
                "pod " + pod + " has no " + std::string(familyName(family)) + " address to trace");
  }
  return fail(ErrorCode::kNotFound, "no pod " + pod + " in the agent's registry");
}

}  // namespace

Result<TraceEndpoints> parseTraceEndpoints(std::string_view source, std::string_view destination,
                                           const PodRegistry& registry) {
  auto src = parseOperand(source, false);
  if (!src) return fail(src.error().wrap("trace SOURCE"));
  auto dst = parseOperand(destination, true);
  if (!dst) return fail(dst.error().wrap("trace DESTINATION"));
  if (src->ip && dst->ip && src->ip->family() != dst->ip->family()) {
    return fail(ErrorCode::kInvalidInput,
                "trace SOURCE " + src->text + " is " + std::string(familyName(src->ip->family())) +
                    " and DESTINATION " + dst->text + " is " +
                    std::string(familyName(dst->ip->family())) +
                    ": a SYN has one address family, give two addresses of the same one");
  }
  // The family an explicit address sets; IPv4 when both operands are pod names.
  IpAddress::Family family = src->ip   ? src->ip->family()
                             : dst->ip ? dst->ip->family()
                                       : IpAddress::Family::kV4;
  TraceEndpoints out;
  for (auto [operand, slot, what] :
       {std::tuple{&*src, &out.src, "SOURCE"}, std::tuple{&*dst, &out.dst, "DESTINATION"}}) {
    if (operand->ip) {
      *slot = *operand->ip;
      continue;
    }
    auto ip = podAddress(operand->pod, family, registry);
    if (!ip) return fail(ip.error().wrap(std::string("trace ") + what));
    *slot = *ip;
  }
  out.port = dst->port.value_or(80);
  return out;
}

}  // namespace ambient
