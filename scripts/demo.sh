#!/usr/bin/env bash
# The local demo: installs the packages, builds into build/, brings up the emulated four-node
# cluster of tests/e2e/cluster.sh (real ambient-cni after ptp + host-local, one ambient-agent
# and one ztunnel per node, the test Kubernetes API server) and walks the seed article's traffic
# paths: each numbered step with its evidence, `ambientctl trace` of each path, `ambientctl
# verify` of every node, a label flip and agent/ztunnel restarts during traffic, the uninstall,
# and a summary table. Everything it created is removed at the end.
# Usage: scripts/demo.sh [--keep | --vm]
#   --keep  leave the cluster up until Enter, with commands to explore it
#   --vm    run it in the Debian-kernel VM (scripts/vm), where the tunnels are real geneve;
#           the flip and restart sections are left out there (tunnel-independent, slow under
#           the VM's emulated CPU)
# Needs root. Exit codes: 0 every step passed, 1 a step or the set-up failed, 2 usage/not root,
# 124/125 (--vm) the VM timed out or could not boot.
set -euo pipefail
cd "$(dirname "$0")/.."
usage() { sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'; exit 2; }
vm=0
case "${1:-}" in
  "") ;;
  --keep) export E2E_HOLD=1 ;;
  --vm) vm=1 ;;
  -h | --help) usage ;;
  *) echo "demo: unknown argument '$1'" >&2; usage ;;
esac
[ $# -le 1 ] || usage
if [ "$(id -u)" -ne 0 ]; then
  echo "demo: needs root (network namespaces, nftables); run it with sudo" >&2
  exit 2
fi
echo "demo: installing packages (if missing) and building"
scripts/setup.sh --no-build
cmake -S . -B build >/dev/null
cmake --build build -j"$(nproc)" --target ambient-agent ambientctl ambient-cni \
  ambient-cni-api-lookup ztunnel
export AGENT_BIN=$PWD/build/node-agent/ambient-agent AMBIENTCTL_BIN=$PWD/build/ambientctl/ambientctl
export CNI_BIN=$PWD/build/cni-plugin/ambient-cni ZTUNNEL_BIN=$PWD/build/ztunnel/ztunnel REPO=$PWD
if [ "$vm" = 1 ]; then
  echo "demo: booting the geneve VM (emulated CPU: the run takes a few minutes)"
  export AMBIENT_EXPECT_TUNNEL=geneve E2E_SECTIONS=uninstall
  AMBIENT_VM_ENV="AGENT_BIN AMBIENTCTL_BIN CNI_BIN ZTUNNEL_BIN REPO AMBIENT_EXPECT_TUNNEL E2E_SECTIONS" \
    exec scripts/vm/run-in-vm.sh --timeout 1200 -- bash tests/e2e/scenarios_test.sh
fi
exec bash tests/e2e/scenarios_test.sh
