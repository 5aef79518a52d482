// The pipeline over the seam: observe -> diff -> apply, and verify (observe + diff).
// Pure logic; all effects go through KernelPort.
#pragma once

#include "common/core/kernel_port.h"

namespace ambient {

// Observes the namespace as the plan's objects and the ledger's sysctls need.
Result<ObservedState> observeFor(KernelPort& kernel, const NetnsTarget& target,
                                 const NetnsPlan& desired, const SysctlLedger& ledger);

// Brings the namespace to `desired`; returns the changes applied (empty: nothing to do).
// With dryRun, computes them without applying.
Result<ChangeSet> reconcile(KernelPort& kernel, const NetnsTarget& target, const NetnsPlan& desired,
                            SysctlLedger& ledger, bool dryRun = false);

// The changes still needed; empty when the kernel matches the plan.
Result<ChangeSet> verify(KernelPort& kernel, const NetnsTarget& target, const NetnsPlan& desired,
                         const SysctlLedger& ledger);

}  // namespace ambient
