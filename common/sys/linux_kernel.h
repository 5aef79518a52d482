// The real KernelPort: rtnetlink (libnl), nftables (libnftnl/libmnl) and /proc/sys, always
// inside the namespace given by path. Also the tunnel-kind probe. Touches the kernel.
#pragma once

#include "common/core/compute_plan.h"
#include "common/core/kernel_port.h"

namespace ambient {

class LinuxKernel : public KernelPort {
 public:
  Result<NetnsPlan> observe(const NetnsTarget& target,
                            const std::vector<std::string>& sysctlKeys) override;
  Status apply(const NetnsTarget& target, const ChangeSet& changes,
               SysctlLedger& ledger) override;
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
