// The one seam between logic and the kernel: observe and apply one network namespace.
// The real implementation lives in common/sys (netlink, nftables, /proc/sys); tests and fault
// injection substitute their own. Pure (an interface).
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/core/diff.h"
#include "common/core/error.h"
#include "common/core/plan.h"

namespace ambient {

// A network namespace given by path ("/proc/self/ns/net", "/var/run/netns/x", "/proc/42/ns/net").
struct NetnsTarget {
  std::string path;
  NetnsRole role = NetnsRole::kNode;
};

// Original values of the sysctls we changed, per key; persisted by its owner so that a restart
// can still restore them (see SysctlLedgerStore).
class SysctlLedger {
 public:
  virtual ~SysctlLedger() = default;
  virtual std::map<std::string, std::string> entries(NetnsRole role) const = 0;
  virtual std::optional<std::string> original(NetnsRole role, const std::string& key) const = 0;
  // Record before the first write; must be durable when it returns.
  virtual Status record(NetnsRole role, const std::string& key, const std::string& original) = 0;
  virtual Status forget(NetnsRole role, const std::string& key) = 0;
};

class KernelPort {
 public:
  virtual ~KernelPort() = default;
  // Reads the objects we own in the namespace, plus the current values of `sysctlKeys`
  // (keys whose device does not exist are left out).
  virtual Result<NetnsPlan> observe(const NetnsTarget& target,
                                    const std::vector<std::string>& sysctlKeys) = 0;
  // Applies the changes in order; nftables changes that follow each other go in one batch.
  // Stops at the first error (the next reconcile pass converges).
  virtual Status apply(const NetnsTarget& target, const ChangeSet& changes,
                       SysctlLedger& ledger) = 0;
};

}  // namespace ambient
