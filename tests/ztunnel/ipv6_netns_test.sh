#!/usr/bin/env bash
# End-to-end, IPv6 and dual stack: client -> ztunnel A (15001 on [::1] and 127.0.0.1, TPROXY)
# == HBONE/mTLS over IPv6 ==> ztunnel B ([::1]:15008) -> server, with the client's IPv6 source
# kept on both legs; a dual-stack service balanced within the family the client dialled; the
# inbound plaintext path (15006) over IPv6; RFC 3986 [v6]:port authorities from python3-h2.
#
#   cli 10.77.1.2 fd77:1::2 --- zta --- ztb --- srv1 10.77.2.2 fd77:2::2 (HBONE, dual stack)
#                                           \--- srv2 fd77:3::2 (TCP, IPv6 only)
source "$(dirname "$0")/netns_topology.sh"
REPO=${ZT_REPO:-$(cd "$ZT_SCRIPTS/../.." && pwd)}
CA=$WORK/ca
bash "$REPO/scripts/make-test-ca.sh" "$CA" --identity default/client >/dev/null

# srv1 lists its IPv6 address first: an IPv4 VIP must still reach it at its IPv4 address.
cat >"$WORK/config.json" <<'JSON'
{"workloads": [
  {"uid": "client", "name": "client", "namespace": "default", "serviceAccount": "client",
   "node": "node-a", "workloadIps": ["10.77.1.2", "fd77:1::2"], "protocol": "HBONE", "services": {}},
  {"uid": "srv1", "name": "srv1", "namespace": "default", "serviceAccount": "srv", "node": "node-b",
   "workloadIps": ["fd77:2::2", "10.77.2.2"], "protocol": "HBONE",
   "services": {"default/echo": {"80": 8080}}},
  {"uid": "srv2", "name": "srv2", "namespace": "default", "node": "node-b",
   "workloadIps": ["fd77:3::2"], "protocol": "TCP", "services": {"default/echo6": {"80": 8080}}},
  {"uid": "old4", "name": "old4", "namespace": "default", "node": "node-b",
   "workloadIps": ["10.77.2.9"], "protocol": "HBONE", "services": {"default/only4": {"80": 8080}}}],
 "services": [
  {"name": "echo", "namespace": "default", "hostname": "echo", "vips": ["/10.96.7.10", "/fd77:96::10"],
   "ports": {"80": 8080}},
  {"name": "echo6", "namespace": "default", "hostname": "echo6", "vips": ["/fd77:96::20"],
   "ports": {"80": 8080}},
  {"name": "only4", "namespace": "default", "hostname": "only4", "vips": ["/10.96.7.11", "/fd77:96::11"],
   "ports": {"80": 8080}}]}
JSON

link6() {  # link6 NS1 IF1 ADDR1 NS2 IF2 ADDR2 [V4ADDR1 V4ADDR2]
  ip link add "$P-tmp1" type veth peer name "$P-tmp2"
  ip link set "$P-tmp1" netns "$P-$1" name "$2"
  ip link set "$P-tmp2" netns "$P-$4" name "$5"
  inns "$1" ip addr add "$3" dev "$2" nodad
  inns "$4" ip addr add "$6" dev "$5" nodad
  if [ $# -ge 8 ]; then inns "$1" ip addr add "$7" dev "$2"; inns "$4" ip addr add "$8" dev "$5"; fi
  inns "$1" ip link set "$2" up
  inns "$4" ip link set "$5" up
}
for ns in cli zta ztb srv1 srv2; do
  ip netns add "$P-$ns"
  inns "$ns" ip link set lo up
  inns "$ns" sysctl -qw net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0
done
link6 cli eth0 fd77:1::2/64 zta vcli fd77:1::1/64 10.77.1.2/24 10.77.1.1/24
link6 zta vb fd77:9::1/64 ztb va fd77:9::2/64 10.77.9.1/24 10.77.9.2/24
link6 ztb vs1 fd77:2::1/64 srv1 eth0 fd77:2::2/64 10.77.2.1/24 10.77.2.2/24
link6 ztb vs2 fd77:3::1/64 srv2 eth0 fd77:3::2/64
inns cli ip route add default via 10.77.1.1
inns cli ip -6 route add default via fd77:1::1
inns srv1 ip route add default via 10.77.2.1
inns srv1 ip -6 route add default via fd77:2::1
inns srv2 ip -6 route add default via fd77:3::1
inns zta ip route add default via 10.77.9.2
inns zta ip -6 route add default via fd77:9::2
inns ztb ip route add 10.77.1.0/24 via 10.77.9.1
inns ztb ip -6 route add fd77:1::/64 via fd77:9::1
for ns in zta ztb; do
  inns "$ns" sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1
  for fam in -4 -6; do
    inns "$ns" ip "$fam" rule add fwmark 0x400/0xfff lookup 100 priority 20000
    inns "$ns" ip "$fam" rule add fwmark 0x4d3/0xfff lookup 100 priority 20003
  done
  inns "$ns" ip route add local 0.0.0.0/0 dev lo table 100
  inns "$ns" ip -6 route add local ::/0 dev lo table 100
done
# Node A: all client TCP to 15001 (per family); replies to spoofed legs come home.
inns zta nft -f - <<NFT
table ip ztest {
  chain pre {
    type filter hook prerouting priority mangle; policy accept;
    iifname "vcli" meta l4proto tcp tproxy ip to 127.0.0.1:15001 meta mark set 0x400 accept
    iifname "vcli" meta l4proto tcp drop
    iifname "vb" meta l4proto tcp ip daddr != 10.77.9.1 meta mark set 0x4d3 accept
  }
}
table ip6 ztest6 {
  chain pre {
    type filter hook prerouting priority mangle; policy accept;
    iifname "vcli" meta l4proto tcp tproxy ip6 to [::1]:15001 meta mark set 0x400 accept
    iifname "vcli" meta l4proto tcp drop
    iifname "vb" meta l4proto tcp ip6 daddr != fd77:9::1 meta mark set 0x4d3 accept
  }
}
NFT
# Node B: HBONE to 15008, other TCP to 15006; server replies to spoofed legs come home.
inns ztb nft -f - <<NFT
table ip ztest {
  chain pre {
    type filter hook prerouting priority mangle; policy accept;
    iifname "va" tcp dport 15008 tproxy ip to 127.0.0.1:15008 meta mark set 0x400 accept
    iifname "va" meta l4proto tcp tproxy ip to 127.0.0.1:15006 meta mark set 0x400 accept
    iifname "va" meta l4proto tcp drop
    iifname "vs1" meta l4proto tcp ip daddr != 10.77.2.1 meta mark set 0x4d3 accept
  }
}
table ip6 ztest6 {
  chain pre {
    type filter hook prerouting priority mangle; policy accept;
    iifname "va" tcp dport 15008 tproxy ip6 to [::1]:15008 meta mark set 0x400 accept
    iifname "va" meta l4proto tcp tproxy ip6 to [::1]:15006 meta mark set 0x400 accept
    iifname "va" meta l4proto tcp drop
    iifname { "vs1", "vs2" } meta l4proto tcp ip6 daddr != { fd77:2::1, fd77:3::1 } meta mark set 0x4d3 accept
  }
}
NFT

start_servers
# A with the default bind ("auto": 127.0.0.1 and ::1), B with the explicit list.
start_ztunnel zta node-a "$WORK/config.json" --dev-ca "$CA"
start_ztunnel ztb node-b "$WORK/config.json" --dev-ca "$CA" --bind 127.0.0.1,::1
wait_port srv1 127.0.0.1 8080
wait_port srv2 127.0.0.1 8080
for l in '\[::1\]:15001' '127.0.0.1:15001'; do
  inns zta ss -Htln | grep -q "$l" || fail "ztunnel A: no $l listener"
done
for l in '\[::1\]:15008' '\[::1\]:15006'; do
  inns ztb ss -Htln | grep -q "$l" || fail "ztunnel B: no $l listener"
done

field() { "$PY" -c "import json,sys; print(json.load(sys.stdin).get('$1'))"; }
rejected() {  # rejected NS LISTENER REASON
  inns "$1" curl -sf http://127.0.0.1:15020/metrics |
    awk -v k="ztunnel_connections_rejected_total{listener=\"$2\",reason=\"$3\"}" 'index($0, k) == 1 {s += $NF} END {print s + 0}'
}
probe() {  # probe HOST PORT BYTES WANT_SERVER WANT_PEER
  local out
  out=$(inns cli "$PY" "$ZT_SCRIPTS/tcp_tool.py" probe "$1" "$2" "$3") || fail "probe $1 $2: $out"
  [ "$(echo "$out" | field server) $(echo "$out" | field peer)" = "$4 $5" ] ||
    fail "probe $1 $2: server/peer $(echo "$out" | field server) $(echo "$out" | field peer), want $4 $5"
}

# 1. HBONE over IPv6, both ways through our code: the IPv6 VIP and srv1's IPv6 address directly.
for i in $(seq 1 8); do probe fd77:96::10 80 1000 srv1 fd77:1::2; done
probe fd77:2::2 8080 2000000 srv1 fd77:1::2
inns zta ss -Htn6 state established '( dport = :15008 )' | grep -q '\[fd77:1::2\]:[0-9]* *\[fd77:2::2\]:15008' ||
  fail "no IPv6 HBONE connection [fd77:1::2] -> [fd77:2::2]:15008 on node A: $(inns zta ss -Htn state established)"
a=$(metric zta istio_tcp_connections_opened_total 'reporter="source",source_workload="client".*connection_security_policy="mutual_tls"')
b=$(metric ztb istio_tcp_connections_opened_total 'reporter="destination",source_workload="client",source_workload_namespace="default",source_principal="spiffe://cluster.local/ns/default/sa/client".*mutual_tls')
[ "$a" -ge 9 ] && [ "$b" -ge 9 ] || fail "IPv6 HBONE not counted as mutual_tls: A=$a B=$b"
pass "HBONE over IPv6: [fd77:1::2] -> [fd77:2::2]:15008 (mTLS, A=$a B=$b), srv1 saw the client's fd77:1::2; 2 MB intact"

# 2. The dual-stack service within the client's family: its IPv4 VIP reaches srv1's IPv4
# address (the leg keeps 10.77.1.2 only within one family; srv1 lists IPv6 first).
for i in $(seq 1 4); do probe 10.96.7.10 80 1000 srv1 10.77.1.2; done
inns zta ss -Htn4 state established '( dport = :15008 )' | grep -q '10.77.1.2:[0-9]* *10.77.2.2:15008' ||
  fail "no IPv4 HBONE connection 10.77.1.2 -> 10.77.2.2:15008 on node A"
before=$(rejected zta outbound no_route)
inns cli "$PY" "$ZT_SCRIPTS/tcp_tool.py" probe fd77:96::11 80 10 >"$WORK/only4.json" &&
  fail "IPv6 VIP of a service with IPv4 endpoints only was served: $(cat "$WORK/only4.json")"
[ "$(rejected zta outbound no_route)" -gt "$before" ] || fail "IPv6 VIP without IPv6 endpoint not counted as no_route"
pass "dual-stack VIP: IPv4 VIP -> srv1's 10.77.2.2 seeing 10.77.1.2; IPv6 VIP with only IPv4 endpoints refused (no_route)"

# 3. Plaintext over IPv6: A's 15001 -> B's [::1]:15006 -> srv2, original source kept.
probe fd77:96::20 80 100000 srv2 fd77:1::2
probe fd77:3::2 8080 1000 srv2 fd77:1::2
plain=$(metric ztb istio_tcp_connections_opened_total 'reporter="destination",source_workload="client".*destination_workload="srv2"')
[ "$plain" -ge 2 ] || fail "inbound plaintext over IPv6 not counted ($plain)"
pass "plaintext over IPv6: VIP and workload through B's [::1]:15006, srv2 saw fd77:1::2"

# 4. python3-h2 as HBONE client over IPv6: authorities as RFC 3986 writes them.
hb() { inns zta "$PY" "$ZT_SCRIPTS/hbone_peer.py" client fd77:2::2 15008 "$1" "$CA/default/client" "$CA/root-cert.pem" "${@:2}"; }
out=$(hb "[fd77:2::2]:8080" CONNECT spiffe://cluster.local/ns/default/sa/srv 3000) || fail "h2 client over IPv6: $out"
[ "$(echo "$out" | field greeting)" = "srv1 fd77:9::1" ] || fail "h2 client greeting: $out"
for bad in "fd77:2::2:8080" "[10.77.2.2]:8080" "[fd77:2::2%eth0]:8080" "[fd77:2::2]"; do
  got=$(hb "$bad" | field status) || true
  [ "$got" = "400" ] || fail "CONNECT $bad: status $got, want 400"
done
[ "$(rejected ztb inbound_hbone connect_status_400)" -ge 4 ] || fail "malformed authorities not counted"
pass "python3-h2 over IPv6: CONNECT [fd77:2::2]:8080 -> 200 (sa/srv); unbracketed, bracketed IPv4, zone, no port -> 400"
# 5. The default bind where the namespace's IPv6 is off: ztunnel leaves ::1 out and says so.
# (With IPv6 off by sysctl a transparent socket could still bind ::1; where the kernel has no
# IPv6 at all, ipv6.disable=1, it could not, and an explicit ::1 would stop ztunnel. That kernel
# cannot be had in a namespace: this step checks the decision, on the sysctl.)
inns srv1 sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.lo.disable_ipv6=1
start_ztunnel srv1 node-c "$WORK/config.json" --dev-ca "$CA"
listeners=$(inns srv1 ss -Htln '( sport = :15001 )')
echo "$listeners" | grep -q '127.0.0.1:15001' || fail "default bind without IPv6: no 127.0.0.1:15001"
echo "$listeners" | grep -q '\[::1\]:15001' && fail "default bind without IPv6: [::1]:15001 bound: $listeners"
grep -q "no IPv6 loopback: listening on 127.0.0.1 only" "$WORK/ztunnel-srv1.log" ||
  fail "default bind without IPv6: not logged"
pass "default bind: ::1 where IPv6 is on (node A above), 127.0.0.1 alone and logged where it is off"
# 6. The status ports by default ("auto"): one [::] socket for both families, so kubelet's probe
# reaches 15021 at an IPv6 pod address as well as at an IPv4 one; where the namespace's IPv6 is
# off by sysctl the same socket still answers IPv4.
status_code() { inns "$1" curl -s -o /dev/null -w '%{http_code}' "http://$2:15021/healthz/ready" || true; }
# (ss writes a [::] socket that also takes IPv4 as *:15021.)
inns zta ss -Htln '( sport = :15021 )' | grep -q '\*:15021' || fail "status: no dual-stack *:15021 listener"
for host in 127.0.0.1 '[::1]' '[fd77:1::1]'; do
  [ "$(status_code zta "$host")" = 200 ] || fail "status: readiness at $host:15021 answered $(status_code zta "$host")"
done
for _ in $(seq 1 100); do [ "$(status_code srv1 127.0.0.1)" = 200 ] && break; sleep 0.05; done
[ "$(status_code srv1 127.0.0.1)" = 200 ] ||
  fail "status without IPv6: 127.0.0.1:15021 answered $(status_code srv1 127.0.0.1)"
pass "status ports: [::]:15021 answers 127.0.0.1, [::1] and the pod's IPv6 address; IPv4 still where IPv6 is off"
echo "PASS ipv6_netns_test"
