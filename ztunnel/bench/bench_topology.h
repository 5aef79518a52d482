// The benchmark's namespaces as the shell text it runs (veth, routes, TPROXY rules, policy
// routing). Pure text; bench_run.cpp executes it.
#pragma once

namespace ztbench {

// $P is the namespace prefix. c = client 10.88.1.2, a = node A (HAProxy, ztunnel A),
// b = node B (ztunnel B, the TLS-terminating HAProxy), s = server 10.88.2.2 (plain workload)
// and 10.88.2.3 (HBONE workload). VIPs 10.96.0.0/16 from the client are TPROXY'd to ztunnel A's
// 15001; HBONE to 10.88.2.3:15008 is TPROXY'd to ztunnel B's 15008; packets of ztunnels' spoofed
// sockets come home via `socket transparent` so that every other path is plain forwarding.
inline constexpr const char* kTopologyScript = R"SH(
set -e
for ns in c a b s; do ip netns add $P-$ns; ip -n $P-$ns link set lo up; done
link() { ip link add $P-x1 type veth peer name $P-x2
  ip link set $P-x1 netns $P-$1 name $2; ip link set $P-x2 netns $P-$4 name $5
  ip -n $P-$1 addr add $3 dev $2; ip -n $P-$1 link set $2 up
  ip -n $P-$4 addr add $6 dev $5; ip -n $P-$4 link set $5 up; }
link c eth0 10.88.1.2/24 a vc 10.88.1.1/24
link a vb 10.88.9.1/24 b va 10.88.9.2/24
link b vs 10.88.2.1/24 s eth0 10.88.2.2/24
ip -n $P-s addr add 10.88.2.3/24 dev eth0
ip -n $P-c route add default via 10.88.1.1
ip -n $P-s route add default via 10.88.2.1
ip -n $P-a route add default via 10.88.9.2
ip -n $P-b route add 10.88.1.0/24 via 10.88.9.1
for ns in c a b s; do ip netns exec $P-$ns sysctl -qw net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0 net.ipv4.ip_local_port_range="10000 65000"; done
for ns in a b; do
  ip netns exec $P-$ns sysctl -qw net.ipv4.ip_forward=1
  ip -n $P-$ns rule add fwmark 0x400/0xfff lookup 100 priority 20000
  ip -n $P-$ns rule add fwmark 0x4d3/0xfff lookup 100 priority 20003
  ip -n $P-$ns route add local 0.0.0.0/0 dev lo table 100
done
ip netns exec $P-a nft -f - <<NFT
table ip zbench {
 chain pre {
  type filter hook prerouting priority mangle; policy accept;
  iifname "vc" ip daddr 10.96.0.0/16 meta l4proto tcp tproxy ip to 127.0.0.1:15001 meta mark set 0x400 accept
  iifname "vb" meta l4proto tcp socket transparent 1 meta mark set 0x4d3 accept
 }
}
NFT
ip netns exec $P-b nft -f - <<NFT
table ip zbench {
 chain pre {
  type filter hook prerouting priority mangle; policy accept;
  iifname "va" ip daddr 10.88.2.3 tcp dport 15008 tproxy ip to 127.0.0.1:15008 meta mark set 0x400 accept
  iifname "vs" meta l4proto tcp socket transparent 1 meta mark set 0x4d3 accept
 }
}
NFT
)SH";

inline constexpr const char* kConfigJson = R"({
  "workloads": [
    {"uid": "client", "name": "client", "namespace": "bench", "serviceAccount": "client",
     "node": "node-a", "workloadIps": ["10.88.1.2"], "protocol": "HBONE", "services": {}},
    {"uid": "plain-server", "name": "plain-server", "namespace": "bench", "serviceAccount": "server",
     "node": "node-b", "workloadIps": ["10.88.2.2"], "protocol": "TCP",
     "services": {"bench/plain.bench": {"5201": 5201}}},
    {"uid": "hbone-server", "name": "hbone-server", "namespace": "bench", "serviceAccount": "server",
     "node": "node-b", "workloadIps": ["10.88.2.3"], "protocol": "HBONE",
     "services": {"bench/hbone.bench": {"5201": 5201}}}
  ],
  "services": [
    {"name": "plain", "namespace": "bench", "hostname": "plain.bench", "vips": ["/10.96.0.1"], "ports": {"5201": 5201}},
    {"name": "hbone", "namespace": "bench", "hostname": "hbone.bench", "vips": ["/10.96.0.2"], "ports": {"5201": 5201}}
  ]
})";

inline constexpr const char* kHaproxyConfig = R"(global
  maxconn 9000
defaults
  mode tcp
  timeout connect 5s
  timeout client 1h
  timeout server 1h
listen bench
  bind 10.88.1.1:7000
  server s1 10.88.2.2:5201
listen bench-tls
  bind 10.88.1.1:7001
  server b1 10.88.9.2:7443 ssl verify none ssl-min-ver TLSv1.3
)";

// The server side of the HAProxy TLS tunnel (node B): terminates TLS 1.3 with the cipher
// ztunnel prefers, so the two encrypted paths do the same crypto per byte.
inline constexpr const char* kHaproxyTlsServerConfig = R"(global
  maxconn 9000
  ssl-default-bind-ciphersuites TLS_AES_128_GCM_SHA256
defaults
  mode tcp
  timeout connect 5s
  timeout client 1h
  timeout server 1h
listen bench-tls
  bind 10.88.9.2:7443 ssl crt @CERT@ ssl-min-ver TLSv1.3
  server s1 10.88.2.2:5201
)";

}  // namespace ztbench
