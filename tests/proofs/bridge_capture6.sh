#!/bin/bash
# Packet proof for issue 20 on a bridge: capturing ambient pods' IPv6 when their veths are ports
# of a Linux bridge (flannel, k3s: bridge mode, DESIGN.md "Pods on a Linux bridge"), before the
# engine learns to do it (today it drops enrolled pods' IPv6 there: fail closed).
#
# The IPv6 twin of tests/proofs/bridge_capture.sh, on a dual-stack node: a bridge cni0
# (10.244.1.1/24, fd00:10:244:1::1/64), a ztunnel pod (.3, ::3), ambient pods A (.10, ::10) and
# C (.12, ::12), plain pods B (.11, ::11) and D (.13, ::13), all on cni0, and a remote host
# (172.30.0.2, fd00:172:30::2) behind an uplink. vxlan stands in for geneve (same VNIs and port,
# IPv4 underlay); the tunnels carry IPv6 on the /126s of the routed IPv6 proof
# (tests/proofs/ipv6_capture.sh, DESIGN.md "IPv6 (issue 20): the packet proof"). The ztunnel pod
# holds section 4's rules for both families; tests/proofs/transparent_relay6.py listens where
# ztunnel does (127.0.0.1 and [::1]: 15001, 15006, 15008) and dials onward from the client's
# address. Clients and servers are the project's nettool.
#
# The node's rules are the IPv4 bridge-mode rules of bridge_capture.sh plus their IPv6 twins:
#  - the bridge table `bridge ambient_bridge` gains, next to its `ether type ip` rules, the same
#    rules for `ether type ip6`: a frame from ztunnel's port gets mark 0x210 when its `ip6
#    saddr` is not ztunnel's IPv6, else 0x220; TCP from ztunnel's port, TCP from an enrolled pod
#    (set `enrolled_pods6`, as the engine names it) and TCP from the bridge's IPv6 subnet to an
#    enrolled pod is handed up (`ether daddr set <bridge MAC> meta pkttype set host`), exactly
#    as for IPv4;
#  - `ip6 ambient_redirect` is the routed proof's table with rules 4-6 reading the bridge's
#    marks (bridge_capture.sh's change), `ip -6` rules 99-103 as routed mode, and routes naming
#    the bridge where routed mode names ztunnel's veth: `<ztunnel IPv6>/128 dev cni0` in tables
#    100-102 and `default via <ztunnel IPv6> dev cni0 onlink` in table 102;
#  - nothing replaces the IPv4 bridge's `rp_filter=0`/`accept_local=1`: IPv6 has neither check.
# What differs from IPv4, and why (each measured by a check below, with nft counters and the
# namespaces' /proc/net/snmp6; no tcpdump):
#  - nothing needed changing in the mechanism: the hand-up (`ether daddr set <bridge MAC> meta
#    pkttype set host`) works for `ether type ip6` frames as for `ether type ip`, in both
#    br_netfilter states, and so do the mark-keyed ip6 chain and the cni0 routes;
#  - neighbour discovery is ICMPv6 inside `ether type ip6` frames, where ARP had its own ether
#    type. The hand-up rules are TCP-only, so NS/NA (and UDP) stay bridged: the plain pair talks
#    and each pod's neighbour entry holds its peer's MAC. ztunnel's port mark rules do match
#    ztunnel's ND (its NS carry a link-local source, not ztunnel's IPv6: mark 0x210). Harmless: ND
#    is not handed up, a bridged frame's mark is scrubbed crossing into the peer's namespace, and
#    with br_netfilter on, conntrack leaves NS/NA untracked, so no connection keeps the mark
#    (counted in the ip6 forward hook: marked ND from ztunnel's MAC, all untracked);
#  - the node forwards ztunnel's onward and return packets in and out of cni0, so ip6_forward
#    sends an ICMPv6 redirect to the packet's source (IPv4 does the same here: the node's Icmp
#    OutRedirects moves too). The pods receive them (Icmp6InRedirects) and keep their on-link
#    route: a redirect is taken only from the current first-hop router for that destination,
#    and every peer on the bridge's /64 is on-link;
#  - br_netfilter (bridge-nf-call-ip6tables=1): the ip6 prerouting hook sees a bridged frame in
#    br_netfilter's pass with the bridge, not the port, as input interface (the port is only the
#    physdev), and a handed-up one in that pass only, not again when it reaches cni0's IP layer.
#    Counted for A's SYN to B: off, the bridged control SYN is not seen and the handed-up one once;
#    on, each once, both with iif cni0. The mark chain keys on marks and addresses, so both
#    states behave alike, as in IPv4 (and the input-interface keys of routed mode could not work
#    here in either state).
# Rules kept from the engine's bridge table (nodeBridgeTable) and not in the IPv4 proof: the
# ztunnel-MAC guard first, and the bridge's subnet on the "to an enrolled pod" rule.
#
# Per br_netfilter state (bridge-nf-call-iptables and -ip6tables both 0, then both 1) it builds
# the node once, runs the negative control (the bridge table without its `ether type ip6`
# hand-up rules: same-bridge IPv6 bypasses the relay, so this proof can fail), loads the full
# bridge table and checks every path. One PASS/FAIL line per check; exit 1 on any FAIL.
#
# Usage: tests/proofs/bridge_capture6.sh NETTOOL
# Exit: 0 proven, 1 not proven, 2 setup error, 77 not root (skipped).
set -uo pipefail
[[ $(id -u) == 0 ]] || { echo "bridge_capture6: needs root (network namespaces); skipped" >&2; exit 77; }
nettool=${1:?usage: bridge_capture6.sh NETTOOL}
relay="$(cd "$(dirname "$0")" && pwd)/transparent_relay6.py"
id="b6p$$"
pods=(zt a b c d)
declare -A ip4=([zt]=10.244.1.3 [a]=10.244.1.10 [b]=10.244.1.11 [c]=10.244.1.12 [d]=10.244.1.13
                [remote]=172.30.0.2)
declare -A ip6=([zt]=fd00:10:244:1::3 [a]=fd00:10:244:1::10 [b]=fd00:10:244:1::11
                [c]=fd00:10:244:1::12 [d]=fd00:10:244:1::13 [remote]=fd00:172:30::2)
subnet6=fd00:10:244:1::/64
in6_zt=fd00:126::2 out6_zt=fd00:127::2
pids=()
failures=0
checks=0

in_ns() { local n=$1; shift; nsenter --net="/run/netns/$id-$n" "$@"; }
must() { "$@" || { echo "setup failed: $*" >&2; exit 2; }; }

teardown() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
  wait 2>/dev/null
  pids=()
  for n in node "${pods[@]}" remote; do ip netns del "$id-$n" 2>/dev/null; done
}
trap teardown EXIT

# ---- topology ---------------------------------------------------------------------------------
topology() {
  local brnf=$1
  for n in node "${pods[@]}" remote; do
    must ip netns add "$id-$n"
    # No duplicate address detection: the addresses are fixed (and added nodad as well).
    must in_ns "$n" sysctl -qw net.ipv6.conf.default.accept_dad=0 net.ipv6.conf.all.accept_dad=0
    must in_ns "$n" ip link set lo up
  done
  must in_ns node sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1
  must in_ns node sysctl -qw net.ipv4.conf.all.rp_filter=1 net.ipv4.conf.default.rp_filter=1
  must in_ns node ip link add cni0 type bridge
  must in_ns node ip addr add 10.244.1.1/24 dev cni0
  must in_ns node ip -6 addr add fd00:10:244:1::1/64 dev cni0 nodad
  must in_ns node ip link set cni0 up
  must in_ns node sysctl -qw "net.bridge.bridge-nf-call-iptables=$brnf" \
    "net.bridge.bridge-nf-call-ip6tables=$brnf"
  for p in "${pods[@]}"; do
    must in_ns node ip link add "veth$p" type veth peer name eth0 netns "$id-$p"
    must in_ns node ip link set "veth$p" master cni0 up
    must in_ns "$p" ip addr add "${ip4[$p]}/24" dev eth0
    must in_ns "$p" ip -6 addr add "${ip6[$p]}/64" dev eth0 nodad
    must in_ns "$p" ip link set eth0 up
    must in_ns "$p" ip route add default via 10.244.1.1
    must in_ns "$p" ip -6 route add default via fd00:10:244:1::1 dev eth0
  done
  must in_ns node ip link add uplink type veth peer name eth0 netns "$id-remote"
  must in_ns node ip addr add 172.30.0.1/24 dev uplink
  must in_ns node ip -6 addr add fd00:172:30::1/64 dev uplink nodad
  must in_ns node ip link set uplink up
  must in_ns remote ip addr add 172.30.0.2/24 dev eth0
  must in_ns remote ip -6 addr add "${ip6[remote]}/64" dev eth0 nodad
  must in_ns remote ip link set eth0 up
  must in_ns remote ip route add 10.244.0.0/16 via 172.30.0.1
  must in_ns remote ip -6 route add fd00:10:244::/48 via fd00:172:30::1
  # Tunnels: vxlan for geneve, IPv4 underlay, both families inside.
  for side in node zt; do
    local remoteIp=10.244.1.3 prefix="" host=1
    [[ $side == zt ]] && remoteIp=10.244.1.1 prefix=p host=2
    must in_ns "$side" ip link add "${prefix}istioin" type vxlan id 1000 remote "$remoteIp" dstport 6081
    must in_ns "$side" ip link add "${prefix}istioout" type vxlan id 1001 remote "$remoteIp" dstport 6081
    must in_ns "$side" ip addr add "192.168.126.$host/30" dev "${prefix}istioin"
    must in_ns "$side" ip addr add "192.168.127.$host/30" dev "${prefix}istioout"
    must in_ns "$side" ip -6 addr add "fd00:126::$host/126" dev "${prefix}istioin" nodad
    must in_ns "$side" ip -6 addr add "fd00:127::$host/126" dev "${prefix}istioout" nodad
    for dev in istioin istioout; do
      must in_ns "$side" ip link set "$prefix$dev" mtu 1450 up
      must in_ns "$side" sysctl -qw "net.ipv4.conf.$prefix$dev.rp_filter=0" "net.ipv4.conf.$prefix$dev.accept_local=1"
    done
  done
  # The ztunnel pod: DESIGN.md section 4 in both families (the routed IPv6 proof's rules). It
  # forwards, the worst case for the "ztunnel away" rows (its drop rules stop the traffic).
  must in_ns zt sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1
  must in_ns zt sysctl -qw net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.eth0.rp_filter=0
  must in_ns zt ip route add local 0.0.0.0/0 dev lo scope host table 100
  must in_ns zt ip -6 route add local ::/0 dev lo table 100
  for fam in -4 -6; do
    must in_ns zt ip "$fam" rule add pref 20000 fwmark 0x400/0xfff lookup 100
    must in_ns zt ip "$fam" rule add pref 20003 fwmark 0x4d3/0xfff lookup 100
  done
  must in_ns zt nft -f - <<NFT
table ip ambient_redirect {
  chain prerouting {
    type filter hook prerouting priority -150; policy accept;
    iifname "pistioin" tcp dport 15008 tproxy to 127.0.0.1:15008 meta mark set meta mark & 0xfffff000 | 0x400 accept
    iifname "pistioin" meta l4proto tcp tproxy to 127.0.0.1:15006 meta mark set meta mark & 0xfffff000 | 0x400 accept
    iifname "pistioout" meta l4proto tcp tproxy to 127.0.0.1:15001 meta mark set meta mark & 0xfffff000 | 0x400 accept
    iifname "pistioin" meta l4proto tcp drop
    iifname "pistioout" meta l4proto tcp drop
    iifname "eth0" meta l4proto tcp ip daddr != ${ip4[zt]} meta mark set meta mark & 0xfffff000 | 0x4d3
  }
}
table ip6 ambient_redirect {
  chain prerouting {
    type filter hook prerouting priority -150; policy accept;
    iifname "pistioin" tcp dport 15008 tproxy to [::1]:15008 meta mark set meta mark & 0xfffff000 | 0x400 accept
    iifname "pistioin" meta l4proto tcp tproxy to [::1]:15006 meta mark set meta mark & 0xfffff000 | 0x400 accept
    iifname "pistioout" meta l4proto tcp tproxy to [::1]:15001 meta mark set meta mark & 0xfffff000 | 0x400 accept
    iifname "pistioin" meta l4proto tcp drop
    iifname "pistioout" meta l4proto tcp drop
    iifname "eth0" meta l4proto tcp ip6 daddr != ${ip6[zt]} meta mark set meta mark & 0xfffff000 | 0x4d3
  }
}
NFT
}

# ---- the node: routes, rules, the ip/ip6 tables ------------------------------------------------
node_routes() {
  must in_ns node ip route add 10.244.1.10/32 via 192.168.126.2 dev istioin table 100
  must in_ns node ip route add 10.244.1.12/32 via 192.168.126.2 dev istioin table 100
  must in_ns node ip route add default via 192.168.127.2 dev istioout table 101
  must in_ns node ip route add default via 10.244.1.3 dev cni0 onlink table 102
  must in_ns node ip -6 route add "${ip6[a]}/128" via "$in6_zt" dev istioin table 100
  must in_ns node ip -6 route add "${ip6[c]}/128" via "$in6_zt" dev istioin table 100
  must in_ns node ip -6 route add default via "$out6_zt" dev istioout table 101
  # The bridge where routed mode names ztunnel's veth.
  must in_ns node ip -6 route add default via "${ip6[zt]}" dev cni0 onlink table 102
  for t in 100 101 102; do
    must in_ns node ip route add 10.244.1.3/32 dev cni0 scope link table $t
    must in_ns node ip -6 route add "${ip6[zt]}/128" dev cni0 table $t
  done
  for fam in -4 -6; do
    must in_ns node ip "$fam" rule add pref 99 iif lo goto 32766
    must in_ns node ip "$fam" rule add pref 100 fwmark 0x200/0x200 goto 32766
    must in_ns node ip "$fam" rule add pref 101 fwmark 0x100/0x100 lookup 101
    must in_ns node ip "$fam" rule add pref 102 fwmark 0x40/0x40 lookup 102
    must in_ns node ip "$fam" rule add pref 103 lookup 100
  done
  # IPv4 only (bridge_capture.sh): IPv6 has no rp_filter and no accept_local.
  must in_ns node sysctl -qw net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.cni0.rp_filter=0 \
    net.ipv4.conf.cni0.accept_local=1
}

# The node's mark chain in bridge mode (bridge_capture.sh's rules_bridge) for family $1 with
# address keyword $2 and the enrolled pods $3; then the shared chains.
node_table() {
  local family=$1 addr=$2 elems=$3 settype=ipv4_addr
  [[ $family == ip6 ]] && settype=ipv6_addr
  cat <<NFT
table $family ambient_redirect {
  set enrolled_pods { type $settype; elements = { $elems } }
  chain prerouting {
    type filter hook prerouting priority -150; policy accept;
    iifname { "istioin", "istioout" } meta mark set meta mark & 0xfffffdff | 0x200 return
    udp dport 6081 return
    ct mark & 0x220 == 0x220 meta mark set meta mark & 0xfffffdff | 0x200 return
    meta mark & 0x200 != 0x200 ct mark & 0x210 == 0x210 meta mark set meta mark & 0xffffffbf | 0x40 return
    meta mark & 0x210 == 0x210 return
    meta mark & 0x220 == 0x220 return
    meta l4proto udp meta mark set meta mark & 0xfffffddf | 0x220 return
    meta l4proto tcp $addr saddr @enrolled_pods meta mark set meta mark & 0xfffffeff | 0x100 return
  }
  chain forward {
    type filter hook forward priority -150; policy accept;
    meta mark & 0x220 == 0x220 ct mark set ct mark & 0xfffffddf | 0x220
    meta mark & 0x210 == 0x210 ct mark set ct mark & 0xfffffdef | 0x210
  }
  chain input {
    type filter hook input priority -150; policy accept;
    meta mark & 0x220 == 0x220 ct mark set ct mark & 0xfffffddf | 0x220
    meta mark & 0x210 == 0x210 ct mark set ct mark & 0xfffffdef | 0x210
  }
  chain nat_prerouting {
    type nat hook prerouting priority -110; policy accept;
    meta mark & 0x100 == 0x100 dnat to $addr daddr
  }
  chain nat_postrouting {
    type nat hook postrouting priority 90; policy accept;
    meta mark & 0x100 == 0x100 snat to $addr saddr
  }
}
NFT
}

node_tables() {
  must in_ns node nft -f - <<<"$(node_table ip ip "${ip4[a]}, ${ip4[c]}")
$(node_table ip6 ip6 "${ip6[a]}, ${ip6[c]}")"
}

# The bridge table. `bridge_table with6` is the candidate (IPv4 rules and their ip6 twins);
# `bridge_table without6` leaves out the three ip6 hand-up rules (the negative control).
brmac=""
bridge_table() {
  local with6=$1 up="ether daddr set $brmac meta pkttype set host counter accept"
  local h6a="" h6b="" h6c=""
  if [[ $with6 == with6 ]]; then
    h6a="iifname \"vethzt\" ether type ip6 meta l4proto tcp $up"
    h6b="ether type ip6 meta l4proto tcp ip6 saddr @enrolled_pods6 $up"
    h6c="ether type ip6 meta l4proto tcp ip6 saddr $subnet6 ip6 daddr @enrolled_pods6 $up"
  fi
  in_ns node nft delete table bridge ambient_bridge 2>/dev/null
  must in_ns node nft -f - <<NFT
table bridge ambient_bridge {
  set enrolled_pods { type ipv4_addr; elements = { ${ip4[a]}, ${ip4[c]} } }
  set enrolled_pods6 { type ipv6_addr; elements = { ${ip6[a]}, ${ip6[c]} } }
  chain prerouting {
    type filter hook prerouting priority -300; policy accept;
    iifname != "vethzt" ether saddr $ztmac counter drop
    iifname "vethzt" ether type ip ip saddr != ${ip4[zt]} meta mark set meta mark & 0xfffffdef | 0x210
    iifname "vethzt" ether type ip ip saddr ${ip4[zt]} meta mark set meta mark & 0xfffffddf | 0x220
    iifname "vethzt" ether type ip6 ip6 saddr != ${ip6[zt]} meta mark set meta mark & 0xfffffdef | 0x210 counter
    iifname "vethzt" ether type ip6 ip6 saddr ${ip6[zt]} meta mark set meta mark & 0xfffffddf | 0x220 counter
    iifname "vethzt" ether type ip meta l4proto tcp $up
    ether type ip meta l4proto tcp ip saddr @enrolled_pods $up
    ether type ip meta l4proto tcp ip saddr 10.244.1.0/24 ip daddr @enrolled_pods $up
    $h6a
    $h6b
    $h6c
  }
}
NFT
}

# Counters only (no verdicts, no marks): how often the ip6 prerouting hook sees A's own SYNs to
# B (mark 0x210 unset: not ztunnel's copy), with which input interface, and whether ztunnel's
# marked neighbour discovery frames get a connection when br_netfilter forwards them.
observe() {
  must in_ns node nft -f - <<NFT
table ip6 proof_observe {
  chain prerouting {
    type filter hook prerouting priority -400; policy accept;
    iifname "cni0" ip6 saddr ${ip6[a]} ip6 daddr ${ip6[b]} tcp dport 8080 tcp flags & (syn | ack) == syn meta mark & 0x210 == 0 counter
    iifname != "cni0" ip6 saddr ${ip6[a]} ip6 daddr ${ip6[b]} tcp dport 8080 tcp flags & (syn | ack) == syn meta mark & 0x210 == 0 counter
  }
  chain forward {
    type filter hook forward priority 0; policy accept;
    ether saddr $ztmac icmpv6 type { nd-neighbor-solicit, nd-neighbor-advert } meta mark & 0x210 == 0x210 ct state untracked counter
    ether saddr $ztmac icmpv6 type { nd-neighbor-solicit, nd-neighbor-advert } meta mark & 0x210 == 0x210 ct state != untracked counter
  }
}
NFT
}
observed() {  # observed <regex>: packets of the first matching observe rule
  in_ns node nft list table ip6 proof_observe | grep -E -- "$1" | head -1 |
    sed -n 's/.*counter packets \([0-9]*\).*/\1/p'
}
seen() { echo "$(observed 'iifname "cni0"') $(observed 'iifname != "cni0"')"; }

# ---- processes --------------------------------------------------------------------------------
start() {  # start NS CMD...: run in the background until "listening"
  local n=$1 out
  shift
  out=$(mktemp)
  nsenter --net="/run/netns/$id-$n" "$@" >"$out" 2>&1 &
  pids+=($!)
  for _ in $(seq 50); do grep -q listening "$out" && { rm -f "$out"; return 0; }; sleep 0.1; done
  echo "setup failed: $n: $* did not start: $(cat "$out")" >&2
  exit 2
}

servers() {
  for p in a b c d; do
    start "$p" "$nettool" serve --port 8080 --port 15008
    start "$p" "$nettool" serve --addr :: --port 8080 --port 15008
  done
  start remote "$nettool" serve --port 8080
  start remote "$nettool" serve --addr :: --port 8080
  start zt "$nettool" serve --addr "${ip6[zt]}" --port 15020
  start zt python3 "$relay" 15001 15006 15008
  relayPid=${pids[-1]}
}

# ---- checks -----------------------------------------------------------------------------------
check() {  # check <label> <regex> <got>
  local label=$1 want=$2 got=$3
  checks=$((checks + 1))
  if [[ $got =~ $want ]]; then
    printf 'PASS brnf=%s %-50s %s\n' "$brnf" "$label" "$got"
  else
    printf 'FAIL brnf=%s %-50s got "%s", want /%s/\n' "$brnf" "$label" "$got" "$want"
    failures=$((failures + 1))
  fi
}

esc() { sed 's/[].[]/\\&/g' <<<"$1"; }
ep() { local h=$1; [[ $h == *:* ]] && h="[$h]"; echo "$h:$2"; }
# What a server at <dst> <port> answers a client <src> directly (nettool serve's line).
direct() { echo "^$(esc "$2 $(ep "$1" "$2") $(ep "$3" "")")[0-9]+$"; }
# What the client sees when captured at <zport>: the relay's line, then the destination's.
captured() {  # captured <zport> <src> <dst> <port>
  echo "^$(esc "zt:$1 $2 $(ep "$3" "$4") $4 $(ep "$3" "$4") $(ep "$2" "")")[0-9]+$"
}

tcp() {  # tcp <label> <from> <dst> <port> <regex> [timeout ms]
  local got
  got=$(timeout 20 nsenter --net="/run/netns/$id-$2" "$nettool" connect "$(ep "$3" "$4")" \
    --timeout-ms "${6:-3000}" 2>&1 | head -1)
  check "$1" "$5" "$got"
}

udp() {  # udp <label> <from> <to>: IPv6 datagram, the receiver must see the sender's address
  local out got
  out=$(mktemp)
  nsenter --net="/run/netns/$id-$3" "$nettool" udp-serve --port 5353 --timeout-ms 3000 >"$out" 2>&1 &
  local p=$!
  for _ in $(seq 30); do grep -q listening "$out" && break; sleep 0.1; done
  in_ns "$2" "$nettool" udp-send "$(ep "${ip6[$3]}" 5353)" >/dev/null 2>&1
  wait "$p" 2>/dev/null
  got=$(grep '^udp' "$out" | tail -1); rm -f "$out"
  check "$1" "^$(esc "udp from [${ip6[$2]}]:")[0-9]+$" "$got"
}

neigh() {  # neigh <ns> <peer>: the ns resolved the peer's IPv6 to the peer's MAC by ND
  local mac got
  mac=$(in_ns "$2" ip -o link show eth0 | sed -n 's/.*link\/ether \([0-9a-f:]*\).*/\1/p')
  got=$(in_ns "$1" ip -6 neigh show "${ip6[$2]}" dev eth0 | head -1)
  check "ND: $1 resolved $2's IPv6 to $2's MAC" "lladdr $mac (REACHABLE|STALE|DELAY|PROBE)" "$got"
}

counter() {  # counter <handle-less rule text regex>: packets of the first matching bridge rule
  in_ns node nft list table bridge ambient_bridge | grep -E "$1" | head -1 |
    sed -n 's/.*counter packets \([0-9]*\).*/\1/p'
}

run() {
  local A=${ip6[a]} B=${ip6[b]} C=${ip6[c]} D=${ip6[d]} R=${ip6[remote]} Z=${ip6[zt]}
  topology "$brnf"
  node_routes
  node_tables
  brmac=$(in_ns node ip -o link show cni0 | sed -n 's/.*link\/ether \([0-9a-f:]*\).*/\1/p')
  ztmac=$(in_ns zt ip -o link show eth0 | sed -n 's/.*link\/ether \([0-9a-f:]*\).*/\1/p')
  servers

  # Negative control: every rule in place except the bridge table's ip6 hand-up rules.
  bridge_table without6
  observe
  tcp "control: no ip6 hand-up, v6 a->b bypasses" a "$B" 8080 "$(direct "$B" 8080 "$A")"
  local seenControl
  seenControl=$(seen)
  tcp "control: no ip6 hand-up, v6 b->a bypasses" b "$A" 8080 "$(direct "$A" 8080 "$B")"

  bridge_table with6
  tcp "v6 a->b (ambient->plain) at 15001" a "$B" 8080 "$(captured 15001 "$A" "$B" 8080)"
  # Each of A's SYNs to B went through the ip6 prerouting hook once, always with cni0 as input
  # interface: br_netfilter off, the bridged control SYN not at all and the handed-up one on
  # the bridge; on, the bridged one in br_netfilter's pass (which gives the bridge, not the
  # port, as input interface) and the handed-up one in that pass only, not again on cni0.
  if [[ $brnf == 0 ]]; then
    check "ip6 prerouting: control SYN 0, captured SYN 1 (on cni0)" "^0 0 / 1 0$" "$seenControl / $(seen)"
  else
    check "ip6 prerouting: control SYN 1, captured SYN 1 (on cni0)" "^1 0 / 2 0$" "$seenControl / $(seen)"
  fi
  # The node forwarded ztunnel's packets in and out of cni0: it sent ICMPv6 redirects, A and B
  # received them, and A still reaches B on-link (a pod takes a redirect only from its current
  # first-hop router for that destination; B is on-link).
  check "node sent ICMPv6 redirects (in and out of cni0)" "^[1-9][0-9]*$" \
    "$(in_ns node awk '$1 == "Icmp6OutRedirects" {print $2}' /proc/net/snmp6)"
  check "a and b received redirects" "^[1-9][0-9]* [1-9][0-9]*$" \
    "$(in_ns a awk '$1 == "Icmp6InRedirects" {print $2}' /proc/net/snmp6) $(in_ns b awk '$1 == "Icmp6InRedirects" {print $2}' /proc/net/snmp6)"
  check "a's route to b unchanged: on-link, no cached redirect" "^$(esc "$B") from :: dev eth0 proto kernel src $(esc "$A") metric 256 pref medium$" \
    "$(in_ns a ip -6 route get "$B" | head -1)"
  tcp "v6 b->a (plain->ambient) at 15006" b "$A" 8080 "$(captured 15006 "$B" "$A" 8080)"
  tcp "v6 a->c (ambient->ambient) at 15001" a "$C" 8080 "$(captured 15001 "$A" "$C" 8080)"
  tcp "v6 a->remote (outbound) at 15001" a "$R" 8080 "$(captured 15001 "$A" "$R" 8080)"
  tcp "v6 remote->a (inbound) at 15006" remote "$A" 8080 "$(captured 15006 "$R" "$A" 8080)"
  tcp "v6 remote->a:15008 at 15008" remote "$A" 15008 "$(captured 15008 "$R" "$A" 15008)"
  tcp "v6 remote->ztunnel's own IPv6 answers" remote "$Z" 15020 "$(direct "$Z" 15020 "$R")"
  tcp "v6 b->remote (plain) untouched" b "$R" 8080 "$(direct "$R" 8080 "$B")"
  tcp "v6 remote->b (plain) untouched" remote "$B" 8080 "$(direct "$B" 8080 "$R")"
  tcp "v6 b->d (plain->plain) untouched" b "$D" 8080 "$(direct "$D" 8080 "$B")"
  tcp "v6 d->b (plain->plain) untouched" d "$B" 8080 "$(direct "$B" 8080 "$D")"
  neigh b d
  neigh d b
  neigh a b
  udp "v6 UDP a->b untouched" a b
  udp "v6 UDP b->a untouched" b a
  tcp "dual-stack: v4 a->b at 15001" a "${ip4[b]}" 8080 "$(captured 15001 "${ip4[a]}" "${ip4[b]}" 8080)"
  tcp "dual-stack: v4 b->a at 15006" b "${ip4[a]}" 8080 "$(captured 15006 "${ip4[b]}" "${ip4[a]}" 8080)"
  local n
  n=$(counter 'ip6 saddr @enrolled_pods6 ether daddr')
  check "counter: ip6 hand-up from enrolled pods moved" "^[1-9][0-9]*$" "$n"
  n=$(counter 'ip6 daddr @enrolled_pods6 ether daddr')
  check "counter: ip6 hand-up to enrolled pods moved" "^[1-9][0-9]*$" "$n"
  n=$(counter 'iifname "vethzt" ether type ip6 meta l4proto tcp')
  check "counter: ip6 hand-up from ztunnel's port moved" "^[1-9][0-9]*$" "$n"
  n=$(counter 'ether saddr .* drop')
  check "counter: ztunnel-MAC guard dropped nothing" "^0$" "$n"
  if [[ $brnf == 1 ]]; then
    # ztunnel's ND carries mark 0x210 (its link-local source is not ztunnel's IPv6) through the
    # ip6 forward hook and stays untracked: no connection keeps the mark.
    check "ztunnel's marked ND forwarded untracked" "^[1-9][0-9]* 0$" \
      "$(observed 'ct state untracked') $(observed 'ct state != untracked')"
  fi

  # Fail closed: ztunnel's listeners gone, an ambient pod's IPv6 TCP stops (no bypass).
  kill "$relayPid" 2>/dev/null; wait "$relayPid" 2>/dev/null
  local stops="^(connect .*|no answer.*)$"
  tcp "ztunnel away: v6 a->b stops" a "$B" 8080 "$stops" 1500
  tcp "ztunnel away: v6 a->remote stops" a "$R" 8080 "$stops" 1500
  tcp "ztunnel away: v6 remote->a stops" remote "$A" 8080 "$stops" 1500
  teardown
}

began=$SECONDS
modprobe br_netfilter 2>/dev/null
for brnf in 0 1; do
  run
done
if ((failures)); then
  echo "bridge_capture6: NOT PROVEN ($failures of $checks checks failed, $((SECONDS - began)) s)"
  exit 1
fi
echo "bridge_capture6: proven ($checks checks, both br_netfilter states, $((SECONDS - began)) s;" \
  "negative control: without the ip6 hand-up rules same-bridge IPv6 bypassed the relay)"
