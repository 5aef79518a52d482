#!/usr/bin/env bash
# End-to-end, IPv6: a client -> ztunnel (15001 on [::1], TPROXY) -> server path over IPv6 only,
# with a service VIP, original client address at the server, and the IPv4 listener alongside.
set -euo pipefail
if [ "$(id -u)" -ne 0 ]; then echo "SKIP: needs root"; [ -n "${CI:-}" ] && exit 1; exit 77; fi
: "${ZTUNNEL_BIN:?set ZTUNNEL_BIN}"
ZT_SCRIPTS=${ZT_SCRIPTS:-$(cd "$(dirname "$0")" && pwd)}
PY=/usr/bin/python3
P="z6$$"
WORK=$(mktemp -d /tmp/zt-e2e6.XXXXXX)
PIDS=()
cleanup() {
  set +e
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null; done
  for ns in cli zt srv; do ip netns del "$P-$ns" 2>/dev/null; done
  rm -rf "$WORK"
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; tail -n 20 "$WORK"/*.log; exit 1; }
inns() { local ns=$1; shift; ip netns exec "$P-$ns" "$@"; }
for ns in cli zt srv; do ip netns add "$P-$ns"; inns $ns ip link set lo up; done
ip link add "$P-a" type veth peer name "$P-b"
ip link set "$P-a" netns "$P-cli" name eth0; ip link set "$P-b" netns "$P-zt" name vcli
ip link add "$P-a" type veth peer name "$P-b"
ip link set "$P-a" netns "$P-zt" name vsrv; ip link set "$P-b" netns "$P-srv" name eth0
inns cli ip addr add fd77:1::2/64 dev eth0 nodad; inns cli ip link set eth0 up
inns zt ip addr add fd77:1::1/64 dev vcli nodad; inns zt ip link set vcli up
inns zt ip addr add fd77:2::1/64 dev vsrv nodad; inns zt ip link set vsrv up
inns srv ip addr add fd77:2::2/64 dev eth0 nodad; inns srv ip link set eth0 up
inns cli ip -6 route add default via fd77:1::1
inns srv ip -6 route add default via fd77:2::1
inns zt sysctl -qw net.ipv6.conf.all.forwarding=1
inns zt ip -6 rule add fwmark 0x400/0xfff lookup 100 priority 20000
inns zt ip -6 rule add fwmark 0x4d3/0xfff lookup 100 priority 20003
inns zt ip -6 route add local ::/0 dev lo table 100
inns zt nft -f - <<NFT
table ip6 ztest {
  chain pre {
    type filter hook prerouting priority mangle; policy accept;
    iifname "vcli" meta l4proto tcp tproxy ip6 to [::1]:15001 meta mark set 0x400 accept
    iifname "vcli" meta l4proto tcp drop
    iifname "vsrv" meta l4proto tcp ip6 daddr != fd77:2::1 meta mark set 0x4d3 accept
  }
}
NFT
cat >"$WORK/config.json" <<'JSON'
{"workloads": [
  {"uid": "client", "name": "client", "namespace": "default", "workloadIps": ["fd77:1::2"], "services": {}},
  {"uid": "srv", "name": "srv", "namespace": "default", "workloadIps": ["fd77:2::2"],
   "services": {"default/echo6": {"80": 8080}}}],
 "services": [{"name": "echo6", "namespace": "default", "hostname": "echo6",
               "vips": ["/fd77:96::10"], "ports": {"80": 8080}}]}
JSON
# Started with `ip netns exec` itself, not the inns function: a backgrounded function runs in a
# subshell, and $! would name the subshell, leaving the server and ztunnel running at cleanup.
ip netns exec "$P-srv" "$PY" "$ZT_SCRIPTS/tcp_tool.py" serve 8080 srv >"$WORK/srv.log" 2>&1 & PIDS+=($!)
ip netns exec "$P-zt" "$ZTUNNEL_BIN" --config "$WORK/config.json" --bind 127.0.0.1,::1 >"$WORK/ztunnel.log" 2>&1 & PIDS+=($!)
for _ in $(seq 1 100); do inns zt curl -sf -o /dev/null http://127.0.0.1:15021/healthz/ready && break; sleep 0.05; done
inns zt ss -Htln | grep -q '\[::1\]:15001' || fail "no [::1]:15001 listener"
inns zt ss -Htln | grep -q '127.0.0.1:15001' || fail "no 127.0.0.1:15001 listener"
sleep 0.3
for target in fd77:96::10 fd77:2::2; do
  port=$([ "$target" = fd77:96::10 ] && echo 80 || echo 8080)
  out=$(inns cli "$PY" "$ZT_SCRIPTS/tcp_tool.py" probe "$target" "$port" 100000) || fail "probe $target: $out"
  echo "$out" | grep -q '"peer": "fd77:1::2"' || fail "server did not see the client's IPv6 address: $out"
done
count=$(inns zt curl -sf http://127.0.0.1:15020/metrics | awk '/^istio_tcp_connections_opened_total\{reporter="source",source_workload="client"/ {s+=$NF} END {print s+0}')
[ "$count" -ge 2 ] || fail "IPv6 connections not counted ($count)"
echo "ok: IPv6 VIP and workload through ztunnel on [::1]:15001, original source fd77:1::2 kept, counted"
echo "PASS ipv6_netns_test"
