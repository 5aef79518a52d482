#!/usr/bin/env bash
# End-to-end, plaintext: client -> ztunnel A (15001, TPROXY) -> ztunnel B (15006, TPROXY) ->
# server, in private namespaces. Shows service VIP balancing over both endpoints, the original
# client IP at the server, bytes intact through splice, half-close, resets, metrics, reload.
source "$(dirname "$0")/netns_topology.sh"

cat >"$WORK/config.json" <<'JSON'
{
  "workloads": [
    {"uid": "c//v1/Pod/default/client", "name": "client", "namespace": "default",
     "serviceAccount": "client", "node": "node-a", "workloadIps": ["10.77.1.2"],
     "protocol": "TCP", "services": {}},
    {"uid": "c//v1/Pod/default/srv1", "name": "srv1", "namespace": "default",
     "serviceAccount": "srv", "node": "node-b", "workloadIps": ["10.77.2.2"], "protocol": "TCP",
     "services": {"default/echo.default.svc.cluster.local": {"80": 8080}}},
    {"uid": "c//v1/Pod/default/srv2", "name": "srv2", "namespace": "default",
     "serviceAccount": "srv", "node": "node-b", "workloadIps": ["10.77.3.2"], "protocol": "TCP",
     "services": {"default/echo.default.svc.cluster.local": {"80": 8080}}}
  ],
  "policies": [],
  "services": [
    {"name": "echo", "namespace": "default", "hostname": "echo.default.svc.cluster.local",
     "vips": ["/10.96.0.10"], "ports": {"80": 8080}}
  ]
}
JSON

build_topology
start_servers
start_ztunnel zta node-a "$WORK/config.json"
start_ztunnel ztb node-b "$WORK/config.json"
wait_port srv1 127.0.0.1 8080
wait_port srv2 127.0.0.1 8080

# 1. VIP balancing + original source through both ztunnels.
seen=""
for i in $(seq 1 16); do
  out=$(inns cli "$PY" "$ZT_SCRIPTS/tcp_tool.py" probe 10.96.0.10 80 1000) || fail "probe $i: $out"
  server=$(echo "$out" | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["server"])')
  peer=$(echo "$out" | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["peer"])')
  [ "$peer" = "10.77.1.2" ] || fail "server $server saw source $peer, want the client 10.77.1.2"
  seen="$seen $server"
done
echo "$seen" | grep -q srv1 || fail "VIP never chose srv1:$seen"
echo "$seen" | grep -q srv2 || fail "VIP never chose srv2:$seen"
pass "VIP 10.96.0.10:80 balanced over srv1 and srv2; servers saw the client IP 10.77.1.2"

# 2. Bulk bytes intact both ways (splice path) with half-close.
out=$(inns cli "$PY" "$ZT_SCRIPTS/tcp_tool.py" probe 10.77.2.2 8080 20000000) || fail "bulk: $out"
pass "20 MB echoed intact through both ztunnels, half-close delivered END"

# 3. Metrics counted on both sides with workload labels.
opened=$(metric zta istio_tcp_connections_opened_total 'reporter="source",source_workload="client".*destination_workload="srv[12]"')
[ "$opened" -ge 17 ] || fail "ztunnel A counted $opened outbound opens, want >= 17"
recv=$(metric zta istio_tcp_received_bytes_total 'source_workload="client"')
[ "$recv" -ge 20016000 ] || fail "ztunnel A counted $recv received bytes"
inb=$(metric ztb istio_tcp_connections_opened_total 'reporter="destination",source_workload="client"')
[ "$inb" -ge 17 ] || fail "ztunnel B counted $inb inbound opens"
pass "metrics: A opened=$opened received_bytes=$recv, B opened=$inb"

# 4. Upstream refusal becomes a reset for the client, counted, others unaffected.
inns cli "$PY" "$ZT_SCRIPTS/tcp_tool.py" probe 10.77.2.2 9 10 >"$WORK/refused.json" && fail "connect to closed port succeeded"
grep -q -E "ConnectionResetError|ConnectionRefusedError|BrokenPipe|greeting|Timeout" "$WORK/refused.json" || grep -q '"ok": false' "$WORK/refused.json" || fail "unexpected: $(cat "$WORK/refused.json")"
rejb=$(inns ztb curl -sf http://127.0.0.1:15020/metrics | grep 'reason="upstream_connect_failed"' | awk '{s+=$NF} END {print s+0}')
[ "$rejb" -ge 1 ] || fail "ztunnel B did not count the refused upstream connect"
pass "refused upstream -> client reset, counted (B upstream_connect_failed=$rejb)"

# 5. A client reset mid-connection does not disturb a held connection.
inns cli "$PY" "$ZT_SCRIPTS/tcp_tool.py" hold 10.96.0.10 80 5 1 >"$WORK/hold.json" &
holdpid=$!
sleep 0.3
for i in 1 2 3; do inns cli "$PY" "$ZT_SCRIPTS/tcp_tool.py" rst 10.96.0.10 80; done
wait $holdpid || fail "held connections broke after other clients reset: $(cat "$WORK/hold.json")"
pass "resets of other connections leave held connections working"

# 6. Config reload without dropping connections: remove srv2 from the service.
inns cli "$PY" "$ZT_SCRIPTS/tcp_tool.py" hold 10.96.0.10 80 4 2 >"$WORK/hold2.json" &
holdpid=$!
sleep 0.3
"$PY" - "$WORK/config.json" <<'PYEOF'
import json, sys, os
p = sys.argv[1]
c = json.load(open(p))
c["workloads"][2]["services"] = {}
json.dump(c, open(p + ".tmp", "w"))
os.rename(p + ".tmp", p)
PYEOF
sleep 0.5
for i in $(seq 1 8); do
  out=$(inns cli "$PY" "$ZT_SCRIPTS/tcp_tool.py" probe 10.96.0.10 80 10) || fail "probe after reload: $out"
  echo "$out" | grep -q '"server": "srv1"' || fail "after reload the VIP still chose: $out"
done
wait $holdpid || fail "held connections dropped by reload: $(cat "$WORK/hold2.json")"
inns zta curl -sf http://127.0.0.1:15000/config_dump | grep -q '"srv2"' || fail "config_dump lacks srv2 workload"
pass "reload: VIP now only srv1, held connections survived, /config_dump serves the view"
echo "PASS plaintext_netns_test"
