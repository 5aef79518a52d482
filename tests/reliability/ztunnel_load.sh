#!/usr/bin/env bash
# Load through the bundled ztunnel in private namespaces: N concurrent connections held
# (AMBIENT_CONNS, default 10000) and connection churn for AMBIENT_SECONDS in two phases, with
# ztunnel's descriptors and resident memory compared between the quiet plateaus. Appends its
# rows to AMBIENT_RELIABILITY_REPORT ("row<TAB>trials<TAB>passed<TAB>figure"). Needs root.
#
#   cli 10.78.1.2 --- zt (ztunnel, TPROXY to 15001) --- srv 10.78.2.2:8080 (echo)
set -uo pipefail
if [ "$(id -u)" -ne 0 ]; then
  echo "SKIP: needs root"
  [ -n "${CI:-}" ] && exit 1
  exit 77
fi
: "${ZTUNNEL_BIN:?set ZTUNNEL_BIN to the ztunnel binary}"
HERE=$(cd "$(dirname "$0")" && pwd)
PY=/usr/bin/python3
CONNS=${AMBIENT_CONNS:-10000}
SECS=${AMBIENT_SECONDS:-10}
REPORT=${AMBIENT_RELIABILITY_REPORT:-/dev/null}
P="rl$$"
WORK=$(mktemp -d /tmp/rel-zt.XXXXXX)
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null; done
  for ns in cli zt srv; do ip netns del "$P-$ns" 2>/dev/null; done
  rm -rf "$WORK"
}
trap cleanup EXIT
inns() { local ns=$1; shift; ip netns exec "$P-$ns" "$@"; }
row() { printf '%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" | tee -a "$REPORT"; }
fds() { ls /proc/"$1"/fd | wc -l; }
rss() { awk '/^VmRSS:/ {print $2}' /proc/"$1"/status; }
field() { "$PY" -c 'import json,sys; print(json.loads(sys.stdin.read().strip().splitlines()[-1])[sys.argv[1]])' "$1"; }

for ns in cli zt srv; do
  ip netns add "$P-$ns"
  inns "$ns" ip link set lo up
done
ip link add "$P-a" type veth peer name "$P-b"
ip link set "$P-a" netns "$P-cli" name eth0
ip link set "$P-b" netns "$P-zt" name vcli
ip link add "$P-a" type veth peer name "$P-b"
ip link set "$P-a" netns "$P-srv" name eth0
ip link set "$P-b" netns "$P-zt" name vsrv
inns cli ip addr add 10.78.1.2/24 dev eth0 && inns cli ip link set eth0 up
inns srv ip addr add 10.78.2.2/24 dev eth0 && inns srv ip link set eth0 up
inns zt ip addr add 10.78.1.1/24 dev vcli && inns zt ip link set vcli up
inns zt ip addr add 10.78.2.1/24 dev vsrv && inns zt ip link set vsrv up
inns cli ip route add default via 10.78.1.1
inns srv ip route add default via 10.78.2.1
inns zt sysctl -qw net.ipv4.ip_forward=1 net.ipv4.conf.all.rp_filter=0
for ns in cli srv; do inns "$ns" sysctl -qw net.ipv4.ip_local_port_range="10000 65000"; done
inns zt sysctl -qw net.ipv4.ip_local_port_range="10000 65000" net.core.somaxconn=4096
# As the agent programs ztunnel's namespace: client TCP to TPROXY 15001, nothing else passes.
inns zt ip rule add fwmark 0x400/0xfff lookup 100 priority 20000
inns zt ip route add local 0.0.0.0/0 dev lo table 100
inns zt nft -f - <<NFT
table ip rel {
  chain pre {
    type filter hook prerouting priority mangle; policy accept;
    iifname "vcli" meta l4proto tcp tproxy ip to 127.0.0.1:15001 meta mark set 0x400 accept
    iifname "vcli" meta l4proto tcp drop
  }
}
NFT
cat >"$WORK/config.json" <<'JSON'
{"workloads": [{"uid": "c//v1/Pod/default/cli", "name": "cli", "namespace": "default",
  "serviceAccount": "cli", "node": "node-a", "workloadIps": ["10.78.1.2"], "protocol": "TCP",
  "services": {}}], "services": [], "policies": []}
JSON

# Every process here gets a descriptor limit fit for 10,000 connections (ztunnel: two sockets
# and up to two splice pipes per proxied one). Where the hard limit cannot be raised (a
# container without CAP_SYS_RESOURCE) the soft limit goes to the hard one and the connection
# count is capped to fit, and the row says so.
NOFILE="prlimit --nofile=65536:65536"
CAP=""
if ! prlimit --nofile=65536:65536 true 2>/dev/null; then
  hard=$(ulimit -Hn)
  NOFILE="prlimit --nofile=$hard:$hard"
  fit=$(( (hard - 256) / 6 ))
  if [ "$CONNS" -gt "$fit" ]; then
    CAP=" (capped from $CONNS: RLIMIT_NOFILE hard limit $hard cannot be raised here, ztunnel needs up to 6 fds per conn)"
    CONNS=$fit
  fi
fi
# Started with `ip netns exec` itself, not the inns function: `$!` of a backgrounded function is a
# subshell, and killing it would leave the process running.
ip netns exec "$P-srv" $NOFILE "$PY" "$HERE/conn_load.py" serve 8080 >"$WORK/srv.log" 2>&1 &
PIDS+=($!)
ip netns exec "$P-zt" $NOFILE "$ZTUNNEL_BIN" --config "$WORK/config.json" --node node-a \
  --original-source off >"$WORK/zt.log" 2>&1 &
ZT=$!
PIDS+=($ZT)
for _ in $(seq 1 200); do
  inns zt curl -sf -o /dev/null http://127.0.0.1:15021/healthz/ready && grep -q listening "$WORK/srv.log" && break
  sleep 0.05
done
inns zt curl -sf -o /dev/null http://127.0.0.1:15021/healthz/ready || { cat "$WORK/zt.log"; exit 1; }
ZTPID=$(pgrep -n -P "$ZT" 2>/dev/null || echo "$ZT")
[ -d "/proc/$ZTPID/fd" ] || ZTPID=$ZT
fail=0
fd0=$(fds "$ZTPID"); rss0=$(rss "$ZTPID")

# 1. N concurrent connections held through ztunnel.
ip netns exec "$P-cli" $NOFILE "$PY" "$HERE/conn_load.py" hold 10.78.2.2 8080 "$CONNS" 3 >"$WORK/hold.json" 2>&1 &
HOLD=$!
PIDS+=($HOLD)
peakfd=0; peakrss=0
while kill -0 "$HOLD" 2>/dev/null; do
  f=$(fds "$ZTPID"); r=$(rss "$ZTPID")
  [ "$f" -gt "$peakfd" ] && peakfd=$f
  [ "$r" -gt "$peakrss" ] && peakrss=$r
  sleep 0.2
done
wait "$HOLD"
held=$(field held <"$WORK/hold.json" 2>/dev/null || echo 0)
herr=$(field errors <"$WORK/hold.json" 2>/dev/null || echo "?")
active=$((peakfd - fd0))
ok=0
[ "$held" = "$CONNS" ] && [ "$herr" = 0 ] && [ "$active" -ge $((2 * CONNS)) ] && ok=1
[ $ok = 1 ] || { fail=1; echo "hold: $(cat "$WORK/hold.json")"; }
row "$CONNS concurrent conns via ztunnel" 1 $ok \
  "$held/$CONNS held and echoing$CAP, $herr errors, ztunnel peak fds $peakfd, RSS $((peakrss / 1024)) MB"

# 2. Churn in two phases; ztunnel's descriptors and memory at two quiet plateaus.
settle() {  # waits until ztunnel's descriptor count is back to its idle level (bounded)
  for _ in $(seq 1 100); do [ "$(fds "$ZTPID")" -le "$1" ] && return; sleep 0.1; done
}
half=$(( (SECS + 1) / 2 ))
inns cli $NOFILE "$PY" "$HERE/conn_load.py" churn 10.78.2.2 8080 "$half" 32 >"$WORK/churn1.json" 2>&1
settle "$fd0"; sleep 0.5
fd1=$(fds "$ZTPID"); rss1=$(rss "$ZTPID")
inns cli $NOFILE "$PY" "$HERE/conn_load.py" churn 10.78.2.2 8080 "$half" 32 >"$WORK/churn2.json" 2>&1
settle "$fd1"; sleep 0.5
fd2=$(fds "$ZTPID"); rss2=$(rss "$ZTPID")
c1=$(field conns <"$WORK/churn1.json" 2>/dev/null || echo 0)
c2=$(field conns <"$WORK/churn2.json" 2>/dev/null || echo 0)
e1=$(field errors <"$WORK/churn1.json" 2>/dev/null || echo 1)
e2=$(field errors <"$WORK/churn2.json" 2>/dev/null || echo 1)
grow=$(( rss1 / 10 > 2048 ? rss1 / 10 : 2048 ))
ok=0
[ "$e1" = 0 ] && [ "$e2" = 0 ] && [ "$c2" -gt 0 ] && [ "$fd2" -le "$fd1" ] && [ "$fd1" -le "$fd0" ] &&
  [ "$rss2" -le $((rss1 + grow)) ] && ok=1
[ $ok = 1 ] || { fail=1; cat "$WORK/churn1.json" "$WORK/churn2.json"; }
row "connection churn via ztunnel" 1 $ok \
  "$((c1 + c2)) short conns in 2x${half} s ($((e1 + e2)) errors), fds $fd0→$fd1→$fd2, RSS $((rss1 / 1024))→$((rss2 / 1024)) MB"
kill -0 "$ZT" 2>/dev/null || { echo "ztunnel died"; tail -5 "$WORK/zt.log"; fail=1; }
exit $fail
