// The real KernelPort: rtnetlink (libnl), nftables (libnftnl/libmnl) and /proc/sys, always
// inside the namespace given by path. Also the tunnel-kind probe. Touches the kernel.
#pragma once

#include <map>
#include <memory>
#include <mutex>

#include "common/core/compute_plan.h"
#include "common/core/kernel_port.h"

namespace ambient {

class LinuxKernel : public KernelPort {
 public:
  LinuxKernel();
  ~LinuxKernel() override;
  Result<NetnsPlan> observe(const NetnsTarget& target,
                            const std::vector<std::string>& sysctlKeys) override;
  Status apply(const NetnsTarget& target, const ChangeSet& changes, SysctlLedger& ledger) override;

  // Open namespace + netlink sockets per path, reused while the path names the same
  // namespace (checked by inode on every call), so a one-pod change costs no socket setup.
  struct Connection;

 private:
  Result<Connection*> connect(const std::string& path);
  std::mutex mu_;
  std::map<std::string, std::unique_ptr<Connection>> connections_;
};

struct TunnelChoice {
  TunnelKind kind = TunnelKind::kGeneve;
  bool fellBack = false;  // auto mode chose vxlan because the kernel has no geneve
  std::string reason;     // why, for the one loud warning the caller logs
};

// Resolves the tunnel mode. For auto, creates a geneve (then a vxlan) link in a throwaway
// namespace of a short-lived thread; the node is not touched. Fails when neither works.
Result<TunnelChoice> chooseTunnelKind(TunnelMode mode);

}  // namespace ambient
