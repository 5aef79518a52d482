#!/usr/bin/env bash
# Sets everything up and runs every test: the style gate (clang-format, clang-tidy), unit, kernel
# (host kernel, vxlan fallback), ztunnel and
# end-to-end suites on the host, then the kernel suite again inside a Debian kernel under qemu
# with real geneve (docs/DESIGN.md section 7). Prints one closing line
# "N passed, N failed, N skipped"
# (skipped: CTest's "***Skipped" (exit 77) and disabled tests, which CTest itself counts as passed).
# Usage: scripts/test.sh [--no-vm]
# Env: CI (any value) makes every skipped test a failure of the run.
# Exit codes: 0 nothing failed (and, under CI, nothing skipped), 1 a test or row failed or, under
# CI, a test was skipped, 2 set-up failed.
set -uo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

vm=1
[ "${1:-}" = "--no-vm" ] && vm=0

scripts/setup.sh || { echo "setup failed"; exit 2; }

passed=0
failed=0
skipped=0
# Adds the counts from a ctest log. CTest's summary "NN% tests passed, F tests failed out of T"
# counts a skipped test (SKIP_RETURN_CODE, printed "***Skipped") as passed and leaves disabled
# ones out of T; both are listed under "The following tests did not run:" as "N - name (Skipped)"
# or "(Disabled)". A missing executable ("***Not Run") is already among the F failed.
did_not_run() {  # LOG Skipped|Disabled: entries of the last "did not run" list (VM logs: \r\n)
  tr -d '\r' <"$1" | awk -v why="($2)" '
    /^The following tests did not run:$/ { n = 0; inlist = 1; next }
    inlist && /^[[:space:]]+[0-9]+ - / { if ($NF == why) n++; next }
    inlist { inlist = 0 }
    END { print n + 0 }'
}
count() {
  local line total bad skip dis
  line=$(grep -E 'tests passed, [0-9]+ tests? failed out of [0-9]+' "$1" | tail -1)
  if [ -z "$line" ]; then
    echo "test.sh: no CTest summary in the log: counted as one failure"
    failed=$((failed + 1))
    return
  fi
  bad=$(sed -E 's/.* ([0-9]+) tests? failed out of ([0-9]+).*/\1/' <<<"$line")
  total=$(sed -E 's/.* failed out of ([0-9]+).*/\1/' <<<"$line")
  skip=$(did_not_run "$1" Skipped)
  dis=$(did_not_run "$1" Disabled)
  passed=$((passed + total - bad - skip))
  failed=$((failed + bad))
  skipped=$((skipped + skip + dis))
}

# Style (issue 19): clang-format and clang-tidy (.clang-tidy) over the tree; counts as one row.
echo "== host: style (scripts/check-style.sh)"
if scripts/check-style.sh; then
  passed=$((passed + 1))
else
  failed=$((failed + 1))
fi

log=$(mktemp)
echo "== host: all suites (kernel: $(uname -r))"
(cd build && ctest --output-on-failure --timeout 900) 2>&1 | tee "$log"
count "$log"

# Reliability (issue 9): faults, load, security and the fuzz targets (15 s each), one table;
# each row counts once here.
echo "== host: reliability table (scripts/reliability.sh)"
rel_rows=$(mktemp)
AMBIENT_RELIABILITY_TABLE="$rel_rows" scripts/reliability.sh
if [ -s "$rel_rows" ]; then
  passed=$((passed + $(awk -F'\t' '$5 == "ok"' "$rel_rows" | wc -l)))
  failed=$((failed + $(awk -F'\t' '$5 != "ok"' "$rel_rows" | wc -l)))
else
  failed=$((failed + 1))
fi
rm -f "$rel_rows"

if [ "$vm" = 1 ]; then
  # The `api` label (agent against the test API server) does not depend on the tunnel kind and
  # runs on the host only (see tests/kernel/CMakeLists.txt); so do the e2e flip and restart
  # sections (tests/e2e/README.md), and the `runtime` label (containerd, podman: a pod costs
  # about 40 s under the VM's emulated CPU; tests/runtime/README.md), and the `proof` label (hand-
  # written rules over vxlan: nothing of geneve to show there). The e2e label runs the
  # scenarios three times there: IPv4 on ptp (e2e_scenarios) and on bridge (e2e_scenarios_bridge),
  # each with E2E_SECTIONS=uninstall, and dual-stack (e2e_scenarios_dual), trimmed by
  # E2E_DUAL_SECTIONS to scenario 1's IPv6 steps and verify (no-ipv4: the IPv4 runs cover that
  # half; no-scenario2; no uninstall): 205 s there, the whole dual run 505 s.
  echo "== VM: kernel and e2e suites on a Debian kernel with geneve"
  AMBIENT_VM_ENV="AMBIENT_EXPECT_TUNNEL E2E_SECTIONS E2E_DUAL_SECTIONS" AMBIENT_EXPECT_TUNNEL=geneve \
    E2E_SECTIONS=uninstall E2E_DUAL_SECTIONS="no-ipv4 no-scenario2" \
    scripts/vm/run-in-vm.sh --timeout 1800 -- \
    ctest --test-dir "$root/build" -L "^(kernel|e2e)$" -LE "^(runtime|proof)$" --output-on-failure --timeout 600 2>&1 | tee "$log"
  count "$log"
  # The probe ports on a kernel without IPv6 (socket(AF_INET6) fails): the agent's and ztunnel's
  # default listeners fall back to 0.0.0.0 and say so (tests/kernel/probe_ports_test.sh).
  echo "== VM: probe ports on the same kernel booted with ipv6.disable=1"
  AMBIENT_VM_APPEND="ipv6.disable=1" scripts/vm/run-in-vm.sh --timeout 300 -- \
    ctest --test-dir "$root/build" -R "^probe_ports$" --output-on-failure --timeout 120 2>&1 | tee "$log"
  count "$log"
fi
rm -f "$log"

echo "$passed passed, $failed failed, $skipped skipped"
if [ -n "${CI:-}" ] && [ "$skipped" -gt 0 ]; then
  echo "test.sh: CI is set and $skipped tests were skipped: a skip fails the run under CI"
  exit 1
fi
[ "$failed" -eq 0 ]
