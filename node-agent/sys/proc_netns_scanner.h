// The node's network namespaces found in the runtimes' netns directories and /proc/*/ns/net,
// with the addresses of their interfaces (rtnetlink). Touches the kernel and /proc.
#pragma once

#include <string>
#include <vector>

#include "node-agent/core/agent_ports.h"

namespace ambient {

// Where runtimes bind-mount pod namespaces: containerd, CRI-O and podman's CNI backend use
// /var/run/netns (often the same directory as /run/netns); read before /proc so that a found
// pod is recorded under the path that outlives its processes.
inline const std::vector<std::string> kRuntimeNetnsDirs = {"/var/run/netns", "/run/netns"};

class ProcNetnsScanner : public NetnsScanner {
 public:
  // `nodeNetns` is left out of the scan; `procDir` is "/proc" on a node (the agent needs
  // hostPID to see the pods' processes there).
  explicit ProcNetnsScanner(std::string nodeNetns,
                            std::vector<std::string> netnsDirs = kRuntimeNetnsDirs,
                            std::string procDir = "/proc")
      : nodeNetns_(std::move(nodeNetns)),
        netnsDirs_(std::move(netnsDirs)),
        procDir_(std::move(procDir)) {}
  Result<NetnsScan> scan() override;

 private:
  std::string nodeNetns_;
  std::vector<std::string> netnsDirs_;
  std::string procDir_;
};

}  // namespace ambient
