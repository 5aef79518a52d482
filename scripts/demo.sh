#!/usr/bin/env bash
# The local demo: installs the packages, builds into build/, brings up the emulated two-node
# cluster of tests/e2e/cluster.sh (real ambient-cni after ptp + host-local, one ambient-agent
# and one ztunnel per node, the test Kubernetes API server) and walks the seed article's traffic
# paths, printing each numbered step with its evidence and a summary table.
# Usage: scripts/demo.sh [--keep]   (--keep: leave the cluster up until Enter, to explore it)
# Needs root. Exit codes: 0 every step passed, 1 a step or the set-up failed, 2 usage/not root.
set -euo pipefail
cd "$(dirname "$0")/.."
case "${1:-}" in
  "") ;;
  --keep) export E2E_HOLD=1 ;;
  *) sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
esac
if [ "$(id -u)" -ne 0 ]; then
  echo "demo: needs root (network namespaces, nftables); run it with sudo" >&2
  exit 2
fi
scripts/setup.sh --no-build
cmake -S . -B build -DAMBIENT_WITH_ZTUNNEL=ON >/dev/null
cmake --build build -j"$(nproc)" --target ambient-agent ambientctl ambient-cni \
  ambient-cni-api-lookup ztunnel
export AGENT_BIN=$PWD/build/node-agent/ambient-agent AMBIENTCTL_BIN=$PWD/build/node-agent/ambientctl
export CNI_BIN=$PWD/build/cni-plugin/ambient-cni ZTUNNEL_BIN=$PWD/build/ztunnel/ztunnel REPO=$PWD
exec bash tests/e2e/scenarios_test.sh
