#!/usr/bin/env bash
# The probe ports of ambient-agent (15031: /healthz, /readyz, /metrics) and ztunnel (15020
# metrics, 15021 readiness) with their defaults (`--http-addr :15031`, `--status-bind auto`), on
# the kernel this runs on:
#  - with IPv6: one [::] socket each, IPV6_V6ONLY off, answering at 127.0.0.1 and at [::1];
#  - without IPv6 (booted with ipv6.disable=1, where socket(AF_INET6) fails with EAFNOSUPPORT:
#    scripts/test.sh runs this test once more in the geneve VM booted that way): 0.0.0.0, each
#    binary says so in its log, and both still answer at 127.0.0.1, which kubelet probes there.
# In a fresh network namespace; the agent with a metadata file and no ztunnel (it serves, not
# ready), ztunnel with an empty view and no certificates (plaintext only).
#
# Usage: probe_ports_test.sh AGENT_BIN ZTUNNEL_BIN
# Exit: 0 pass, 1 fail, 77 not root (skipped).
set -uo pipefail
[[ $(id -u) == 0 ]] || { echo "probe_ports_test: needs root (network namespaces); skipped" >&2; exit 77; }
agent=${1:?usage: probe_ports_test.sh AGENT_BIN ZTUNNEL_BIN}
ztunnel=${2:?usage: probe_ports_test.sh AGENT_BIN ZTUNNEL_BIN}
ns="pp$$"
work=$(mktemp -d)
pids=()
failures=0
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
  wait 2>/dev/null
  ip netns del "$ns" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
check() {  # check DESCRIPTION COMMAND...
  if "${@:2}"; then echo "PASS $1"; else echo "FAIL $1"; failures=$((failures + 1)); fi
}
inns() { ip netns exec "$ns" "$@"; }
# The HTTP status code at URL ("000": no answer).
code() { inns curl -s -o /dev/null -m 2 -w '%{http_code}' "$1"; }
waitlog() {  # waitlog FILE TEXT: up to 20 s
  for _ in $(seq 1 200); do grep -q "$2" "$1" && return 0; sleep 0.1; done
  return 1
}

if python3 -c 'import socket; socket.socket(socket.AF_INET6)' 2>/dev/null; then ipv6=1; else ipv6=0; fi
echo "kernel $(uname -r): IPv6 $([[ $ipv6 == 1 ]] && echo present || echo absent)"
ip netns add "$ns" || exit 1
inns ip link set lo up || exit 1

echo '{"namespaces": {}, "pods": {}}' >"$work/meta.json"
inns "$agent" run --socket "$work/agent.sock" --state-dir "$work/state" \
  --metadata-file "$work/meta.json" --reconcile-interval 60 >"$work/agent.log" 2>&1 &
pids+=($!)
echo '{"workloads": [], "services": []}' >"$work/view.json"
inns "$ztunnel" --config "$work/view.json" --node node-a >"$work/ztunnel.log" 2>&1 &
pids+=($!)
check "ambient-agent serves" waitlog "$work/agent.log" '"serving"'
check "ztunnel's readiness answers 200 at 127.0.0.1:15021" \
  bash -c "for _ in \$(seq 1 200); do [ \"\$(ip netns exec $ns curl -s -o /dev/null -m 2 -w '%{http_code}' http://127.0.0.1:15021/healthz/ready)\" = 200 ] && exit 0; sleep 0.1; done; exit 1"
check "ambient-agent's /healthz answers 200 at 127.0.0.1:15031" \
  test "$(code http://127.0.0.1:15031/healthz)" = 200
check "ztunnel's metrics answer 200 at 127.0.0.1:15020" \
  test "$(code http://127.0.0.1:15020/metrics)" = 200
if [[ $ipv6 == 1 ]]; then
  check "ambient-agent listens on [::]:15031 for both families" \
    bash -c "ip netns exec $ns ss -Htln '( sport = :15031 )' | grep -q '\\*:15031'"
  check "ambient-agent's /healthz answers 200 at [::1]:15031" \
    test "$(code 'http://[::1]:15031/healthz')" = 200
  check "ztunnel's readiness answers 200 at [::1]:15021" \
    test "$(code 'http://[::1]:15021/healthz/ready')" = 200
  check "neither logs a fallback to IPv4" \
    bash -c "! grep -q 'no IPv6 here' '$work/agent.log' '$work/ztunnel.log'"
else
  check "ambient-agent listens on 0.0.0.0:15031" \
    bash -c "ip netns exec $ns ss -Htln '( sport = :15031 )' | grep -q '0.0.0.0:15031'"
  check "ambient-agent logs its IPv4-only probe port" \
    grep -q "no IPv6 here: /healthz, /readyz and /metrics listen on IPv4 only" "$work/agent.log"
  check "ztunnel logs its IPv4-only status ports" \
    grep -q "no IPv6 here: status port on IPv4 only" "$work/ztunnel.log"
  check "ztunnel listens on 0.0.0.0:15021" \
    bash -c "ip netns exec $ns ss -Htln '( sport = :15021 )' | grep -q '0.0.0.0:15021'"
fi
if [[ $failures -gt 0 ]]; then
  echo "--- agent log"; tail -20 "$work/agent.log"
  echo "--- ztunnel log"; tail -20 "$work/ztunnel.log"
  echo "probe_ports_test: $failures checks failed"
  exit 1
fi
echo "probe_ports_test: all checks passed"
