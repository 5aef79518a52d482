// Plugin requests as ambient-cni sends them to the agent, for tests: pod `ns/name` has container
// ID "c-<name>", pod UID "uid-<name>", interface eth0 and one address. Pure.
#pragma once

#include <string>
#include <string_view>

#include "common/core/agent_protocol.h"
#include "tests/support/typed_values.h"

namespace ambient::testing {

// `command` for pod `ns/name` in network namespace `netns` with address `ip`.
inline PodRequest podRequest(PodCommand command, const std::string& ns, const std::string& name,
                             const std::string& netns, std::string_view ip) {
  PodRequest r;
  r.command = command;
  r.containerId = "c-" + name;
  r.netns = netns;
  r.ifname = "eth0";
  r.podNamespace = ns;
  r.podName = name;
  r.podUid = "uid-" + name;
  r.ips = {ipOf(ip)};
  return r;
}

// The ADD for pod `ns/name`.
inline PodRequest podAdd(const std::string& ns, const std::string& name, const std::string& netns,
                         std::string_view ip) {
  return podRequest(PodCommand::kAdd, ns, name, netns, ip);
}

// The DEL of the attachment `add` made: the same IDs, namespace, interface and address.
inline PodRequest delOf(PodRequest add) {
  add.command = PodCommand::kDel;
  return add;
}

}  // namespace ambient::testing
