// observe -> diff -> apply over the KernelPort seam. Pure logic.
#include "common/core/reconcile.h"

#include <set>

namespace ambient {

Result<ObservedState> observeFor(KernelPort& kernel, const NetnsTarget& target,
                                 const NetnsPlan& desired, const SysctlLedger& ledger) {
  auto originals = ledger.entries(target.role);
  std::set<std::string> keys;
  for (const auto& s : desired.sysctls) keys.insert(s.key);
  for (const auto& [k, v] : originals) keys.insert(k);
  auto owned = kernel.observe(target, std::vector<std::string>(keys.begin(), keys.end()));
  if (!owned) return fail(owned.error());
  return ObservedState{std::move(*owned), std::move(originals)};
}

Result<ChangeSet> reconcile(KernelPort& kernel, const NetnsTarget& target, const NetnsPlan& desired,
                            SysctlLedger& ledger, bool dryRun) {
  auto observed = observeFor(kernel, target, desired, ledger);
  if (!observed) return fail(observed.error());
  ChangeSet changes = diff(desired, *observed);
  if (dryRun || changes.empty()) return changes;
  if (auto s = kernel.apply(target, changes, ledger); !s) return fail(s.error());
  return changes;
}

Result<ChangeSet> verify(KernelPort& kernel, const NetnsTarget& target, const NetnsPlan& desired,
                         const SysctlLedger& ledger) {
  auto observed = observeFor(kernel, target, desired, ledger);
  if (!observed) return fail(observed.error());
  return diff(desired, *observed);
}

}  // namespace ambient
