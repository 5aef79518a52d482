#!/usr/bin/env bash
# Reliability (issue 18): N HBONE streams through two ztunnels, each to a reader that never reads
# (AMBIENT_STREAMS, default 10000; scripts/reliability.sh runs 2000 in short mode). Every client
# writes AMBIENT_STALL_BYTES (256 KiB) at once; kernel buffers on the server side are shrunk to
# 4 KiB so the bytes back up into ztunnel B, and both ztunnels run --max-connection-buffer 1 MiB.
# Asserts every stream is still open after the hold, each ztunnel's peak RSS (VmHWM) within
#   HBONE connections at B x 1 MiB + streams x 4 KiB + 16 MiB
# (README "Memory"), a new client works during the stall (the pool skips connections whose
# send window stalled streams hold) and after the clients reset (credit comes back). Appends one row to
# AMBIENT_RELIABILITY_REPORT ("row<TAB>trials<TAB>passed<TAB>figure"). Needs root.
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/../ztunnel/netns_topology.sh"
set +e
STREAMS=${AMBIENT_STREAMS:-10000}
BYTES=${AMBIENT_STALL_BYTES:-262144}
HOLD=${AMBIENT_HOLD_SECONDS:-5}
LIMIT=1048576
REPORT=${AMBIENT_RELIABILITY_REPORT:-/dev/null}
REPO=$(cd "$HERE/../.." && pwd)
CA=$WORK/ca
bash "$REPO/scripts/make-test-ca.sh" "$CA" --identity default/client >/dev/null
cat >"$WORK/config.json" <<'JSON'
{"workloads": [
  {"uid": "c//v1/Pod/default/client", "name": "client", "namespace": "default",
   "serviceAccount": "client", "node": "node-a", "workloadIps": ["10.77.1.2"], "protocol": "HBONE",
   "services": {}},
  {"uid": "c//v1/Pod/default/srv1", "name": "srv1", "namespace": "default",
   "serviceAccount": "srv", "node": "node-b", "workloadIps": ["10.77.2.2"], "protocol": "HBONE",
   "services": {}}],
 "policies": [], "services": []}
JSON
build_topology
NOFILE="prlimit --nofile=65536:65536"
prlimit --nofile=65536:65536 true 2>/dev/null || NOFILE="prlimit --nofile=$(ulimit -Hn):$(ulimit -Hn)"
inns srv1 sysctl -qw net.ipv4.tcp_rmem="4096 4096 4096" net.core.somaxconn=4096
inns ztb sysctl -qw net.ipv4.tcp_wmem="4096 4096 4096" net.ipv4.ip_local_port_range="10000 65000"
bg srv1 stall $NOFILE "$PY" "$HERE/conn_load.py" stall 9100
bg srv1 echo "$PY" "$ZT_SCRIPTS/tcp_tool.py" serve 8080 srv1
for ns in zta ztb; do
  node=node-a; [ "$ns" = ztb ] && node=node-b
  bg "$ns" "ztunnel-$ns" $NOFILE "$ZTUNNEL_BIN" --config "$WORK/config.json" --node "$node" \
    --dev-ca "$CA" --max-connection-buffer "$LIMIT"
  eval "ZT_PID_$ns=${PIDS[-1]}"
  for _ in $(seq 1 100); do inns "$ns" curl -sf -o /dev/null http://127.0.0.1:15021/healthz/ready && break; sleep 0.05; done
done
wait_port srv1 127.0.0.1 9100
wait_port srv1 127.0.0.1 8080
kib() { awk -v k="$2:" '$1 == k {print $2}' "/proc/$1/status"; }
inns cli "$PY" "$ZT_SCRIPTS/tcp_tool.py" probe 10.77.2.2 8080 1000 >/dev/null || fail "warm-up probe"
ra=$(kib "$ZT_PID_zta" VmRSS); rb=$(kib "$ZT_PID_ztb" VmRSS)
echo 5 >"/proc/$ZT_PID_zta/clear_refs"; echo 5 >"/proc/$ZT_PID_ztb/clear_refs"
start=$(date +%s)
ip netns exec "$P-cli" $NOFILE "$PY" "$HERE/conn_load.py" push 10.77.2.2 9100 "$STREAMS" "$BYTES" "$HOLD" \
  >"$WORK/push.json" 2>&1 &
PUSH=$!
PIDS+=($PUSH)
est=0
for _ in $(seq 1 600); do  # bounded: 600 x 0.2 s
  grep -q '"phase"' "$WORK/push.json" && break
  kill -0 "$PUSH" 2>/dev/null || break
  sleep 0.2
done
sleep $((HOLD / 2))
est=$(inns ztb ss -Htn state established '( dport = :9100 )' | wc -l)
hconns=$(inns ztb ss -Htn state established '( sport = :15008 )' | wc -l)
during=0  # a new client while every stream is stalled (it must not queue behind them)
inns cli "$PY" "$ZT_SCRIPTS/tcp_tool.py" probe 10.77.2.2 8080 100000 >"$WORK/during.json" && during=1
wait "$PUSH"
pa=$(kib "$ZT_PID_zta" VmHWM); pb=$(kib "$ZT_PID_ztb" VmHWM)
secs=$(( $(date +%s) - start ))
res=$(tail -1 "$WORK/push.json")
field() { echo "$res" | "$PY" -c "import json,sys; print(json.load(sys.stdin).get('$1'))"; }
opened=$(field opened); atend=$(field open_at_end); unsent=$(field unsent)
bound=$(( hconns * LIMIT / 1024 + STREAMS * 4 + 16384 ))
# The aborted clients' streams are reset through both ztunnels; then a new client must work.
for _ in $(seq 1 100); do
  [ "$(inns ztb ss -Htn state established '( dport = :9100 )' | wc -l)" -eq 0 ] && break
  sleep 0.2
done
alive=0
probe=$(inns cli "$PY" "$ZT_SCRIPTS/tcp_tool.py" probe 10.77.2.2 8080 100000) && alive=1
[ "$alive" = 1 ] || echo "probe after: $probe; B still holds $(inns ztb ss -Htn state established "( dport = :9100 )" | wc -l); A holds $(inns zta ss -Htan "( sport = :9100 )" | wc -l): $(inns zta ss -Htan "( sport = :9100 )" | head -3)"
figure="$atend/$STREAMS streams open after ${HOLD} s (B held $est to the stalled readers over $hconns HBONE conns), new client during the stall $([ $during = 1 ] && echo ok || echo FAILED), $((unsent / 1048576)) MiB unsent at the clients; peak RSS A $((pa / 1024)) MiB (+$(( (pa - ra) / 1024 ))), B $((pb / 1024)) MiB (+$(( (pb - rb) / 1024 ))), bound +$((bound / 1024)) MiB; ${secs} s"
echo "$figure"
ok=1
[ "$opened" = "$STREAMS" ] && [ "$atend" = "$STREAMS" ] && [ "$est" -ge "$STREAMS" ] || { ok=0; echo "streams: $res, established at B: $est"; }
[ $((pa - ra)) -le "$bound" ] && [ $((pb - rb)) -le "$bound" ] || { ok=0; echo "memory beyond the bound"; }
[ "$alive" = 1 ] || { ok=0; echo "a normal client failed afterwards"; }
[ "$during" = 1 ] || { ok=0; echo "a normal client failed during the stall: $(cat "$WORK/during.json")"; }
kill -0 "$ZT_PID_zta" && kill -0 "$ZT_PID_ztb" || { ok=0; echo "a ztunnel died"; }
printf '%s\t%s\t%s\t%s\n' "$STREAMS streams, each with a stalled reader" 1 "$ok" "$figure" >>"$REPORT"
[ "$ok" = 1 ] && echo "PASS ztunnel_stalled_test" && exit 0
exit 1
