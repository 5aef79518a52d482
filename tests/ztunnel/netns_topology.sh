# Sourced by the ztunnel end-to-end tests: builds a private topology of network namespaces and
# runs two ztunnels (node A in front of the client, node B in front of the servers) with TPROXY
# rules as the node agent would program them. Everything is removed on exit. Needs root.
#
#   cli 10.77.1.2 --- zta (ztunnel A) --- ztb (ztunnel B) --- srv1 10.77.2.2
#                    10.77.1.1  10.77.9.1  10.77.9.2  10.77.2.1/10.77.3.1 --- srv2 10.77.3.2
#                                          10.77.9.2 --- wp 10.77.4.2 (waypoint) via ztb 10.77.4.1
set -euo pipefail

if [ "$(id -u)" -ne 0 ]; then
  echo "SKIP: needs root for network namespaces"
  [ -n "${CI:-}" ] && exit 1
  exit 77
fi
: "${ZTUNNEL_BIN:?set ZTUNNEL_BIN to the ztunnel binary}"
ZT_SCRIPTS=${ZT_SCRIPTS:-$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)}
PY=/usr/bin/python3
P="zt$$"            # namespace prefix, unique per run
WORK=$(mktemp -d /tmp/zt-e2e.XXXXXX)
PIDS=()

cleanup() {
  set +e
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null; done
  for ns in cli zta ztb srv1 srv2 wp; do ip netns del "$P-$ns" 2>/dev/null; done
  if [ -n "${KEEP_WORK:-}" ]; then echo "work dir kept: $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT

fail() { echo "FAIL: $*"; for f in "$WORK"/*.log; do echo "--- $f"; tail -n 20 "$f"; done; exit 1; }
pass() { echo "ok: $*"; }
inns() { local ns=$1; shift; ip netns exec "$P-$ns" "$@"; }
bg() { local ns=$1 log=$2; shift 2; ip netns exec "$P-$ns" "$@" >"$WORK/$log.log" 2>&1 & PIDS+=($!); }

link() {  # link NS1 IF1 ADDR1 NS2 IF2 ADDR2
  ip link add "$P-tmp1" type veth peer name "$P-tmp2"
  ip link set "$P-tmp1" netns "$P-$1" name "$2"
  ip link set "$P-tmp2" netns "$P-$4" name "$5"
  inns "$1" ip addr add "$3" dev "$2"; inns "$1" ip link set "$2" up
  inns "$4" ip addr add "$6" dev "$5"; inns "$4" ip link set "$5" up
}

build_topology() {
  for ns in cli zta ztb srv1 srv2 wp; do
    ip netns add "$P-$ns"
    inns "$ns" ip link set lo up
    inns "$ns" sysctl -qw net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0
  done
  link cli eth0 10.77.1.2/24 zta vcli 10.77.1.1/24
  link zta vb 10.77.9.1/24 ztb va 10.77.9.2/24
  link ztb vs1 10.77.2.1/24 srv1 eth0 10.77.2.2/24
  link ztb vs2 10.77.3.1/24 srv2 eth0 10.77.3.2/24
  link ztb vwp 10.77.4.1/24 wp eth0 10.77.4.2/24
  inns cli ip route add default via 10.77.1.1
  inns srv1 ip route add default via 10.77.2.1
  inns srv2 ip route add default via 10.77.3.1
  inns wp ip route add default via 10.77.4.1
  inns zta ip route add default via 10.77.9.2
  inns ztb ip route add 10.77.1.0/24 via 10.77.9.1
  for ns in zta ztb; do
    inns "$ns" sysctl -qw net.ipv4.ip_forward=1
    inns "$ns" ip rule add fwmark 0x400/0xfff lookup 100 priority 20000
    inns "$ns" ip rule add fwmark 0x4d3/0xfff lookup 100 priority 20003
    inns "$ns" ip route add local 0.0.0.0/0 dev lo table 100
  done
  # Node A: everything the client sends goes to 15001; replies to spoofed legs come home.
  inns zta nft -f - <<NFT
table ip ztest {
  chain pre {
    type filter hook prerouting priority mangle; policy accept;
    iifname "vcli" meta l4proto tcp tproxy ip to 127.0.0.1:15001 meta mark set 0x400 accept
    iifname "vcli" meta l4proto tcp drop  # nft tproxy falls through when nothing listens
    iifname "vb" meta l4proto tcp ip daddr != 10.77.9.1 meta mark set 0x4d3 accept
  }
}
NFT
  # Node B: HBONE to 15008, other TCP to 15006 (the waypoint subnet is routed, not captured);
  # server replies to spoofed legs come home.
  inns ztb nft -f - <<NFT
table ip ztest {
  chain pre {
    type filter hook prerouting priority mangle; policy accept;
    ip daddr 10.77.4.0/24 accept
    iifname "va" tcp dport 15008 tproxy ip to 127.0.0.1:15008 meta mark set 0x400 accept
    iifname "va" meta l4proto tcp tproxy ip to 127.0.0.1:15006 meta mark set 0x400 accept
    iifname "va" meta l4proto tcp drop
    iifname { "vs1", "vs2" } meta l4proto tcp ip daddr != { 10.77.2.1, 10.77.3.1 } meta mark set 0x4d3 accept
  }
}
NFT
}

start_servers() {
  bg srv1 srv1 "$PY" "$ZT_SCRIPTS/tcp_tool.py" serve 8080 srv1
  bg srv2 srv2 "$PY" "$ZT_SCRIPTS/tcp_tool.py" serve 8080 srv2
}

# start_ztunnel NS NODE CONFIG [extra flags]; ZT_PID_<ns> holds its PID
start_ztunnel() {
  local ns=$1 node=$2 config=$3; shift 3
  bg "$ns" "ztunnel-$ns" "$ZTUNNEL_BIN" --config "$config" --node "$node" --config-poll-ms 100 "$@"
  eval "ZT_PID_$ns=${PIDS[-1]}"
  [ -n "${NO_WAIT_READY:-}" ] && return 0
  for _ in $(seq 1 100); do
    inns "$ns" curl -sf -o /dev/null "http://127.0.0.1:15021/healthz/ready" && return 0
    sleep 0.05
  done
  fail "ztunnel in $ns did not become ready"
}

wait_port() {  # wait_port NS IP PORT
  for _ in $(seq 1 100); do
    inns "$1" bash -c "exec 3<>/dev/tcp/$2/$3" 2>/dev/null && return 0
    sleep 0.05
  done
  fail "nothing listens on $2:$3 in $1"
}

metric() {  # metric NS NAME FILTER-REGEX -> sum of matching series
  inns "$1" curl -sf "http://127.0.0.1:15020/metrics" | { grep "^$2{" || true; } | { grep -E "$3" || true; } |
    awk '{s+=$NF} END {print s+0}'
}
