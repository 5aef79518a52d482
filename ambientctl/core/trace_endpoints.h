// `ambientctl trace`'s two operands, parsed once into typed values: a source and a
// destination address of one family and the destination port. Pure.
#pragma once

#include <cstdint>
#include <string_view>

#include "common/core/ip_address.h"
#include "node-agent/core/pod_registry.h"

namespace ambient {

struct TraceEndpoints {
  IpAddress src;
  IpAddress dst;
  uint16_t port = 80;
};

// SOURCE is an address (IPv4, IPv6, or IPv6 in brackets) or a pod's namespace/name in
// `registry`; DESTINATION the same with an optional :PORT (80 when not given; an IPv6 address
// with a port is written [ADDR]:PORT, a bare IPv6 address has none). A pod name stands for the
// pod's address of the family the other operand's address has, IPv4 when both are names.
// Errors (kInvalidInput, kNotFound for a pod not in the registry) say which operand is wrong:
// a malformed address or port, a pod without an address of that family, or an IPv4 and an
// IPv6 address together.
Result<TraceEndpoints> parseTraceEndpoints(std::string_view source, std::string_view destination,
                                           const PodRegistry& registry);

}  // namespace ambient
