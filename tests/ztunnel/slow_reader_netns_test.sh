#!/usr/bin/env bash
# End-to-end, memory under a slow reader (issue 18): a bulk transfer through two ztunnels to a
# reader limited to ZT_SLOW_RATE bytes/s, with each ztunnel's peak RSS (VmHWM, reset before each
# case) compared with the bound documented in ztunnel/README.md "Memory". Three cases: HBONE
# upload (receiving ztunnel = B), HBONE download (receiving ztunnel = A), plaintext upload.
source "$(dirname "$0")/netns_topology.sh"
REPO=${ZT_REPO:-$(cd "$ZT_SCRIPTS/../.." && pwd)}
BYTES=${ZT_SLOW_BYTES:-200000000}
RATE=${ZT_SLOW_RATE:-20000000}
MIB=$((1024 * 1024))
# README "Memory": one stream of one connection holds at most its stream window (4 MiB, 6 MiB
# while its ring grows) of received DATA plus the connection's TLS output (512 KiB + one frame, < 1 MiB);
# plaintext holds nothing in user space (splice pipes). Allowance for the allocator and OpenSSL: 3 MiB.
BOUND=$(( (6 + 1 + 3) * MIB ))
CA=$WORK/ca
bash "$REPO/scripts/make-test-ca.sh" "$CA" --identity default/client >/dev/null

cat >"$WORK/config.json" <<'JSON'
{
  "workloads": [
    {"uid": "c//v1/Pod/default/client", "name": "client", "namespace": "default",
     "serviceAccount": "client", "node": "node-a", "workloadIps": ["10.77.1.2"],
     "protocol": "HBONE", "services": {}},
    {"uid": "c//v1/Pod/default/srv1", "name": "srv1", "namespace": "default",
     "serviceAccount": "srv", "node": "node-b", "workloadIps": ["10.77.2.2"], "protocol": "HBONE",
     "services": {}},
    {"uid": "c//v1/Pod/default/srv2", "name": "srv2", "namespace": "default",
     "serviceAccount": "srv", "node": "node-b", "workloadIps": ["10.77.3.2"], "protocol": "TCP",
     "services": {}}
  ],
  "policies": [],
  "services": []
}
JSON

build_topology
bg srv1 bulk1 "$PY" "$ZT_SCRIPTS/tcp_tool.py" bulkserve 9000
bg srv2 bulk2 "$PY" "$ZT_SCRIPTS/tcp_tool.py" bulkserve 9000
start_ztunnel zta node-a "$WORK/config.json" --dev-ca "$CA"
start_ztunnel ztb node-b "$WORK/config.json" --dev-ca "$CA"
wait_port srv1 127.0.0.1 9000
wait_port srv2 127.0.0.1 9000

kib() { awk -v k="$2:" '$1 == k {print $2}' "/proc/$1/status"; }
field() { "$PY" -c "import json,sys; print(json.load(sys.stdin).get('$1'))"; }

# A small transfer first, so that TLS, pools and thread arenas exist before the baseline.
inns cli "$PY" "$ZT_SCRIPTS/tcp_tool.py" bulk 10.77.2.2 9000 up 1000000 1e9 >/dev/null || fail "warm-up"
inns cli "$PY" "$ZT_SCRIPTS/tcp_tool.py" bulk 10.77.3.2 9000 up 1000000 1e9 >/dev/null || fail "warm-up"

run_case() {  # run_case NAME IP DIRECTION
  local name=$1 ip=$2 dir=$3 out pa pb ra rb ga gb
  ra=$(kib "$ZT_PID_zta" VmRSS); rb=$(kib "$ZT_PID_ztb" VmRSS)
  echo 5 >"/proc/$ZT_PID_zta/clear_refs"; echo 5 >"/proc/$ZT_PID_ztb/clear_refs"
  out=$(inns cli "$PY" "$ZT_SCRIPTS/tcp_tool.py" bulk "$ip" 9000 "$dir" "$BYTES" "$RATE") ||
    fail "$name: transfer failed: $out"
  pa=$(kib "$ZT_PID_zta" VmHWM); pb=$(kib "$ZT_PID_ztb" VmHWM)
  ga=$(( (pa - ra) * 1024 )); gb=$(( (pb - rb) * 1024 ))
  echo "$name: $BYTES bytes in $(echo "$out" | field seconds) s; peak RSS A ${pa} KiB (+$((ga / 1024)) KiB)," \
       "B ${pb} KiB (+$((gb / 1024)) KiB); bound +$((BOUND / 1024)) KiB"
  [ "$ga" -le "$BOUND" ] || fail "$name: ztunnel A grew by $ga bytes (> $BOUND) for $BYTES bytes moved"
  [ "$gb" -le "$BOUND" ] || fail "$name: ztunnel B grew by $gb bytes (> $BOUND) for $BYTES bytes moved"
  pass "$name: both ztunnels' peak RSS within the documented bound"
}

run_case "HBONE upload to a slow reader (receiving ztunnel B)" 10.77.2.2 up
run_case "HBONE download by a slow reader (receiving ztunnel A)" 10.77.2.2 down
run_case "plaintext upload to a slow reader" 10.77.3.2 up
echo "PASS slow_reader_netns_test"
