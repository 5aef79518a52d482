#!/usr/bin/env bash
# End-to-end, misbehaving HTTP/2 peers against ztunnel B's 15008 (issue 18 "Bad input"): DATA
# beyond the stream window and beyond the connection window, WINDOW_UPDATE floods and invalid
# increments, streams opened and never sent on, a peer that never reads. Each is closed with the
# HTTP/2 error code RFC 9113 names, counted once, bounded in memory (VmHWM growth) and time, and
# a normal client keeps working. Small windows (64 KiB stream, ~98 KiB connection) keep it fast.
source "$(dirname "$0")/netns_topology.sh"
REPO=${ZT_REPO:-$(cd "$ZT_SCRIPTS/../.." && pwd)}
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
     "services": {}}
  ],
  "policies": [],
  "services": []
}
JSON
build_topology
start_servers
bg srv1 bulk1 "$PY" "$ZT_SCRIPTS/tcp_tool.py" bulkserve 9000
# Port 9999 of srv1 drops SYNs: a CONNECT there stays in its upstream connect (no credit back).
inns srv1 nft -f - <<'NFT'
table ip blackhole {
  chain in {
    type filter hook input priority 0; policy accept;
    tcp dport 9999 drop
  }
}
NFT
start_ztunnel zta node-a "$WORK/config.json" --dev-ca "$CA"
start_ztunnel ztb node-b "$WORK/config.json" --dev-ca "$CA" --stream-window 65535 \
  --connection-window 100000 --connect-timeout-ms 30000 --stall-timeout-ms 1500
wait_port srv1 127.0.0.1 8080
wait_port srv1 127.0.0.1 9000
ROOT=$CA/root-cert.pem
kib() { awk -v k="$2:" '$1 == k {print $2}' "/proc/$1/status"; }
rejected() {
  inns ztb curl -sf http://127.0.0.1:15020/metrics |
    awk -v k="ztunnel_connections_rejected_total{listener=\"inbound_hbone\",reason=\"$1\"}" 'index($0, k) == 1 {s += $NF} END {print s + 0}'
}
total() {
  inns ztb curl -sf http://127.0.0.1:15020/metrics |
    awk 'index($0, "ztunnel_connections_rejected_total{") == 1 {s += $NF} END {print s + 0}'
}
abuse() { inns zta env NO_READ_SECONDS="${NO_READ_SECONDS:-3}" "$PY" "$ZT_SCRIPTS/h2_abuse.py" 10.77.2.2 15008 "$CA/default/client" "$ROOT" "$@"; }
others_fine() {
  local out
  out=$(inns cli "$PY" "$ZT_SCRIPTS/tcp_tool.py" probe 10.77.2.2 8080 200000) || fail "$1: a normal client broke: $out"
}
# expect CASE AUTHORITY N WANT-FRAME REASON MAX-GROWTH-KIB
expect() {
  local case=$1 auth=$2 n=$3 want=$4 reason=$5 maxkib=$6 out r0 t0 r1 t1 rss hwm
  r0=$(rejected "$reason"); t0=$(total)
  rss=$(kib "$ZT_PID_ztb" VmRSS); echo 5 >"/proc/$ZT_PID_ztb/clear_refs"
  out=$(abuse "$case" "$auth" "$n") || fail "$case: peer failed: $out"
  hwm=$(kib "$ZT_PID_ztb" VmHWM)
  echo "$out" | grep -q "$want" || fail "$case: expected $want, saw $out"
  sleep 0.3
  r1=$(rejected "$reason"); t1=$(total)
  [ $((r1 - r0)) -eq 1 ] && [ $((t1 - t0)) -eq 1 ] ||
    fail "$case: $reason went $r0 -> $r1, all reasons $t0 -> $t1 (want +1 and +1)"
  [ $((hwm - rss)) -le "$maxkib" ] || fail "$case: ztunnel B grew by $((hwm - rss)) KiB (> $maxkib)"
  others_fine "$case"
  pass "$case: $want, $reason +1 (only), peak RSS +$((hwm - rss)) KiB, other clients fine"
}

expect beyond-stream 10.77.2.2:9999 $((65535 + 16384)) "RST_STREAM 1 FLOW_CONTROL_ERROR" h2_stream_flow_control_error 2048
expect beyond-conn 10.77.2.2:9999 60000 "GOAWAY FLOW_CONTROL_ERROR" h2_flow_control_error 2048
expect wu-flood - 100000 "PING_ACK.*GOAWAY FLOW_CONTROL_ERROR" h2_flow_control_error 2048
expect wu-zero - 0 "GOAWAY PROTOCOL_ERROR" h2_protocol_error 2048
# 1000 streams is our SETTINGS_MAX_CONCURRENT_STREAMS: the 1001st is a connection error once the
# peer has acknowledged the setting (RFC 9113 5.1.2).
expect idle-streams 10.77.2.2:9999 1001 "GOAWAY PROTOCOL_ERROR" h2_protocol_error 8192
# A peer that never reads (all its windows wide open): B stops pulling DATA once 512 KiB of TLS
# wait for the socket, the upstream backs up instead of B's memory, and after --stall-timeout-ms
# (1.5 s here, 60 s by default) without any byte taken B drops the connection, counted once.
NO_READ_SECONDS=4 expect no-read 10.77.2.2:9000 50000000 "closed by server" peer_not_reading 2048
echo "PASS bad_input_netns_test"
