#!/bin/bash
# Packet proof for issue 17: capturing ambient pods whose veth is a port of a Linux bridge (the
# primary CNI shape of flannel, k3s, kubenet), before the agent learns to do it.
#
# Builds, in throwaway namespaces, a node with a bridge cni0 (10.244.1.1/24), a ztunnel pod
# (10.244.1.3), ambient pods A (.10) and C (.12), a plain pod B (.11) on the same bridge, and a
# remote host (172.30.0.2) behind an uplink. vxlan stands in for geneve (same VNIs and port).
# kube-proxy is played by a DNAT of a Service VIP, in iptables-legacy and in nftables mode.
# The ztunnel pod holds DESIGN.md section 4's rules; tests/proofs/transparent_relay.py listens
# where ztunnel does and dials onward from the client's IP, as ztunnel does.
#
# Each run sets the node up twice, once with today's node rules (DESIGN.md section 3: keyed on
# the ztunnel veth, which is a bridge port here) and once with the candidate bridge-mode rules
# (below), for br_netfilter off and on, and sends real TCP and UDP along each path. It prints one
# table row per path ("match" when the client's answer is the one the row expects: captured at
# that ztunnel port, or, for the control and the "stops" rows, the bypass and the silence), and
# fails (exit 1) unless:
#   - today's rules let A reach B on the bridge with ztunnel seeing nothing (the negative control:
#     this proof can fail), and
#   - the bridge-mode rules capture every path at the right port with the original source seen by
#     the destination, leave UDP alone, and stop traffic while ztunnel is away.
#
# Usage: tests/proofs/bridge_capture.sh NETTOOL
# Exit: 0 proven, 1 not proven, 2 setup error, 77 not root (skipped).
set -uo pipefail
[[ $(id -u) == 0 ]] || { echo "bridge_capture: needs root (network namespaces); skipped" >&2; exit 77; }
nettool=${1:?usage: bridge_capture.sh NETTOOL}
relay="$(cd "$(dirname "$0")" && pwd)/transparent_relay.py"
id="bp$$"
pods=(zt a b c)
declare -A ipOf=([zt]=10.244.1.3 [a]=10.244.1.10 [b]=10.244.1.11 [c]=10.244.1.12)
pids=()
failures=0

in_ns() { local n=$1; shift; nsenter --net="/run/netns/$id-$n" "$@"; }
must() { "$@" || { echo "setup failed: $*" >&2; exit 2; }; }

teardown() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
  wait 2>/dev/null
  pids=()
  for n in node "${pods[@]}" remote; do ip netns del "$id-$n" 2>/dev/null; done
}
trap teardown EXIT

# The node, its bridge, the pods on it and the remote host, as bridge + host-local leave them.
topology() {
  local brnf=$1
  for n in node "${pods[@]}" remote; do must ip netns add "$id-$n"; must in_ns "$n" ip link set lo up; done
  must in_ns node sysctl -qw net.ipv4.ip_forward=1
  # Hosts usually filter reverse paths; start from that so the rules have to turn it off.
  must in_ns node sysctl -qw net.ipv4.conf.all.rp_filter=1 net.ipv4.conf.default.rp_filter=1
  must in_ns node ip link add cni0 type bridge
  must in_ns node ip addr add 10.244.1.1/24 dev cni0
  must in_ns node ip link set cni0 up
  must in_ns node sysctl -qw "net.bridge.bridge-nf-call-iptables=$brnf"
  for p in "${pods[@]}"; do
    must in_ns node ip link add "veth$p" type veth peer name eth0 netns "$id-$p"
    must in_ns node ip link set "veth$p" master cni0 up
    must in_ns "$p" ip addr add "${ipOf[$p]}/24" dev eth0
    must in_ns "$p" ip link set eth0 up
    must in_ns "$p" ip route add default via 10.244.1.1
  done
  must in_ns node ip link add uplink type veth peer name eth0 netns "$id-remote"
  must in_ns node ip addr add 172.30.0.1/24 dev uplink
  must in_ns node ip link set uplink up
  must in_ns remote ip addr add 172.30.0.2/24 dev eth0
  must in_ns remote ip link set eth0 up
  must in_ns remote ip route add 10.244.0.0/16 via 172.30.0.1
  # Tunnels (vxlan for geneve) and the ztunnel pod's own rules, as DESIGN.md section 4 has them.
  for side in node zt; do
    local remoteIp=10.244.1.3 prefix=""
    [[ $side == zt ]] && remoteIp=10.244.1.1 prefix=p
    must in_ns "$side" ip link add "${prefix}istioin" type vxlan id 1000 remote "$remoteIp" dstport 6081
    must in_ns "$side" ip link add "${prefix}istioout" type vxlan id 1001 remote "$remoteIp" dstport 6081
    local host=1; [[ $side == zt ]] && host=2
    must in_ns "$side" ip addr add "192.168.126.$host/30" dev "${prefix}istioin"
    must in_ns "$side" ip addr add "192.168.127.$host/30" dev "${prefix}istioout"
    for dev in istioin istioout; do
      must in_ns "$side" ip link set "$prefix$dev" mtu 1450 up
      must in_ns "$side" sysctl -qw "net.ipv4.conf.$prefix$dev.rp_filter=0" "net.ipv4.conf.$prefix$dev.accept_local=1"
    done
  done
  must in_ns zt sysctl -qw net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.eth0.rp_filter=0
  must in_ns zt ip route add local default dev lo scope host table 100
  must in_ns zt ip rule add pref 20000 fwmark 0x400/0xfff lookup 100
  must in_ns zt ip rule add pref 20003 fwmark 0x4d3/0xfff lookup 100
  must in_ns zt nft -f - <<'NFT'
table ip ambient_redirect {
  chain prerouting {
    type filter hook prerouting priority -150; policy accept;
    iifname "pistioin" tcp dport 15008 tproxy to 127.0.0.1:15008 meta mark set meta mark & 0xfffff000 | 0x400 accept
    iifname "pistioin" meta l4proto tcp tproxy to 127.0.0.1:15006 meta mark set meta mark & 0xfffff000 | 0x400 accept
    iifname "pistioout" meta l4proto tcp tproxy to 127.0.0.1:15001 meta mark set meta mark & 0xfffff000 | 0x400 accept
    iifname "pistioin" meta l4proto tcp drop
    iifname "pistioout" meta l4proto tcp drop
    iifname "eth0" meta l4proto tcp ip daddr != 10.244.1.3 meta mark set meta mark & 0xfffff000 | 0x4d3
  }
}
NFT
}

# The node's routes and rules. `ztdev` is the device the node reaches ztunnel's IP on: today the
# ztunnel veth, in bridge mode the bridge (a port never appears at the IP layer).
node_routes() {
  local ztdev=$1
  must in_ns node ip route add 10.244.1.10/32 via 192.168.126.2 dev istioin table 100
  must in_ns node ip route add 10.244.1.12/32 via 192.168.126.2 dev istioin table 100
  must in_ns node ip route add default via 192.168.127.2 dev istioout table 101
  must in_ns node ip route add default via 10.244.1.3 dev "$ztdev" onlink table 102
  for t in 100 101 102; do must in_ns node ip route add 10.244.1.3/32 dev "$ztdev" scope link table $t; done
  must in_ns node ip rule add pref 99 iif lo goto 32766
  must in_ns node ip rule add pref 100 fwmark 0x200/0x200 goto 32766
  must in_ns node ip rule add pref 101 fwmark 0x100/0x100 lookup 101
  must in_ns node ip rule add pref 102 fwmark 0x40/0x40 lookup 102
  must in_ns node ip rule add pref 103 lookup 100
  must in_ns node sysctl -qw net.ipv4.conf.all.rp_filter=0
}

# The node's mark chain (DESIGN.md section 3) as both rule sets start it (steps 1-3) and end it
# (steps 7-8); steps 4-6, which name ztunnel's traffic, are what differ.
mark_head() {
  cat <<'NFT'
  set enrolled_pods { type ipv4_addr; elements = { 10.244.1.10, 10.244.1.12 } }
  chain prerouting {
    type filter hook prerouting priority -150; policy accept;
    iifname { "istioin", "istioout" } meta mark set meta mark & 0xfffffdff | 0x200 return
    udp dport 6081 return
    ct mark & 0x220 == 0x220 meta mark set meta mark & 0xfffffdff | 0x200 return
NFT
}
mark_tail() {
  cat <<'NFT'
    meta l4proto udp meta mark set meta mark & 0xfffffddf | 0x220 return
    meta l4proto tcp ip saddr @enrolled_pods meta mark set meta mark & 0xfffffeff | 0x100 return
  }
NFT
}

# The nft chains both rule sets share: connection-mark saving and the null NAT bindings.
shared_chains() {
  cat <<'NFT'
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
    meta mark & 0x100 == 0x100 dnat to ip daddr
  }
  chain nat_postrouting {
    type nat hook postrouting priority 90; policy accept;
    meta mark & 0x100 == 0x100 snat to ip saddr
  }
NFT
}

# Today's rules, DESIGN.md section 3, with the ztunnel veth vethzt.
rules_today() {
  node_routes vethzt
  must in_ns node sysctl -qw net.ipv4.conf.vethzt.rp_filter=0 net.ipv4.conf.vethzt.accept_local=1 \
    net.ipv4.conf.vetha.rp_filter=0 net.ipv4.conf.vethc.rp_filter=0
  must in_ns node nft -f - <<NFT
table ip ambient_redirect {
$(mark_head)
    iifname != "vethzt" ct mark & 0x210 == 0x210 meta mark set meta mark & 0xffffffbf | 0x40 return
    iifname "vethzt" ip saddr != 10.244.1.3 meta mark set meta mark & 0xfffffdef | 0x210 return
    iifname "vethzt" meta mark set meta mark & 0xfffffddf | 0x220 return
$(mark_tail)
$(shared_chains)
}
NFT
}

# The candidate: the IP-family rules cannot see a bridge port, so a bridge-family chain, which
# can, does the port-keyed part before the IP layer runs:
#  - a frame from ztunnel's port gets the mark the ztunnel-veth rules give today (0x210 when its
#    source is not ztunnel's IP, else 0x220), which the IP-family chain then keeps;
#  - TCP from or to an enrolled pod, and all TCP from ztunnel, is handed up to the IP layer
#    (destination MAC set to the bridge's, packet type host: nft(8)'s "route instead of bridge")
#    so that marks, policy routes and conntrack see it, as they see a routed pod's traffic.
# Everything else (UDP, ARP, plain pod to plain pod) is bridged as before.
rules_bridge() {
  node_routes cni0
  must in_ns node sysctl -qw net.ipv4.conf.cni0.rp_filter=0 net.ipv4.conf.cni0.accept_local=1
  local brmac
  # (/sys/class/net is the caller's namespace's view; ip reads the node's.)
  brmac=$(in_ns node ip -o link show cni0 | sed -n 's/.*link\/ether \([0-9a-f:]*\).*/\1/p')
  must in_ns node nft -f - <<NFT
table bridge ambient_bridge {
  set enrolled_pods { type ipv4_addr; elements = { 10.244.1.10, 10.244.1.12 } }
  chain prerouting {
    type filter hook prerouting priority -300; policy accept;
    iifname "vethzt" ether type ip ip saddr != 10.244.1.3 meta mark set meta mark & 0xfffffdef | 0x210
    iifname "vethzt" ether type ip ip saddr 10.244.1.3 meta mark set meta mark & 0xfffffddf | 0x220
    iifname "vethzt" ether type ip meta l4proto tcp ether daddr set $brmac meta pkttype set host counter accept
    ether type ip meta l4proto tcp ip saddr @enrolled_pods ether daddr set $brmac meta pkttype set host counter accept
    ether type ip meta l4proto tcp ip daddr @enrolled_pods ether daddr set $brmac meta pkttype set host counter accept
  }
}
table ip ambient_redirect {
$(mark_head)
    meta mark & 0x200 != 0x200 ct mark & 0x210 == 0x210 meta mark set meta mark & 0xffffffbf | 0x40 return
    meta mark & 0x210 == 0x210 return
    meta mark & 0x220 == 0x220 return
$(mark_tail)
$(shared_chains)
}
NFT
}

kube_proxy() {  # kube_proxy <iptables-legacy|nftables> <add|del>: a Service VIP's DNAT
  local mode=$1 op=$2
  if [[ $mode == iptables-legacy ]]; then
    local flag=-A; [[ $op == del ]] && flag=-D
    must in_ns node iptables-legacy -t nat "$flag" PREROUTING -d 10.96.0.10/32 -p tcp --dport 80 \
      -j DNAT --to-destination 172.30.0.2:8080
  elif [[ $op == add ]]; then
    must in_ns node nft -f - <<'NFT'
table ip kube_proxy_proof {
  chain services { type nat hook prerouting priority dstnat; policy accept;
    ip daddr 10.96.0.10 tcp dport 80 dnat to 172.30.0.2:8080
  }
}
NFT
  else
    must in_ns node nft delete table ip kube_proxy_proof
  fi
}

start() {  # start NS CMD...: run in the background until "listening"
  local n=$1 out
  shift
  out=$(mktemp)
  # nsenter itself, not a subshell around in_ns, so that $! is the server's PID.
  nsenter --net="/run/netns/$id-$n" "$@" >"$out" 2>&1 &
  pids+=($!)
  for _ in $(seq 50); do grep -q listening "$out" && { rm -f "$out"; return 0; }; sleep 0.1; done
  echo "setup failed: $n: $* did not start: $(cat "$out")" >&2
  exit 2
}

servers() {
  for p in a b c; do start "$p" "$nettool" serve --port 8080; done
  start remote "$nettool" serve --port 8080
  start zt "$nettool" serve --addr 10.244.1.3 --port 15020
  start zt python3 "$relay" 15001 15006 15008
  relayPid=${pids[-1]}
}

# One path: "<client> <target> <what the client must print, a regex>".
declare -a rows=()
path() {  # path <label> <from> <target> <regex>: 0 when the client's answer matches
  local label=$1 from=$2 target=$3 want=$4 got
  got=$(in_ns "$from" "$nettool" connect "$target" --timeout-ms 1500 2>&1 | head -1)
  local verdict=match
  [[ $got =~ $want ]] || verdict=no
  rows+=("$(printf '%-7s %-4s %-5s %-41s %s' "$rules" "$brnf" "$verdict" "$label" "$got")")
  [[ $verdict == match ]]
}

udp_path() {  # A to B over UDP reaches B directly and nothing is proxied
  local got
  nsenter --net="/run/netns/$id-b" "$nettool" udp-serve --port 5353 --timeout-ms 2000 >/tmp/$id.udp 2>&1 &
  local p=$!
  sleep 0.3
  in_ns a "$nettool" udp-send 10.244.1.11:5353 >/dev/null 2>&1
  wait $p
  got=$(cat /tmp/$id.udp | tail -1); rm -f /tmp/$id.udp
  local verdict=match
  [[ $got =~ "udp from 10.244.1.10" ]] || verdict=no
  rows+=("$(printf '%-7s %-4s %-5s %-41s %s' "$rules" "$brnf" "$verdict" "UDP ambient->plain untouched" "$got")")
  [[ $verdict == match ]]
}

expect() {  # expect <true|false> <description> <command...>: counts a failure otherwise
  local want=$1 what=$2
  shift 2
  if "$@"; then result=true; else result=false; fi
  if [[ $result != "$want" ]]; then
    echo "NOT PROVEN: $what (rules=$rules br_netfilter=$brnf)" >&2
    failures=$((failures + 1))
  fi
}

same_node() { local a=$1 b=$2 port=$3; echo "^zt:$port ${ipOf[$b]}:8080 8080 ${ipOf[$b]}:8080 ${ipOf[$a]}:"; }

run_paths() {
  # Captured paths: the client sees ztunnel's port and the destination saw the client's IP.
  local -a results=()
  path "ambient->plain, same bridge" a 10.244.1.11:8080 "$(same_node a b 15001)"; results+=($?)
  path "plain->ambient, same bridge" b 10.244.1.10:8080 "$(same_node b a 15006)"; results+=($?)
  path "ambient->ambient, same bridge" a 10.244.1.12:8080 "$(same_node a c 15001)"; results+=($?)
  path "remote->ambient (inbound)" remote 10.244.1.10:8080 "^zt:15006 10.244.1.10:8080 8080 10.244.1.10:8080 172.30.0.2:"; results+=($?)
  path "ambient->remote (outbound)" a 172.30.0.2:8080 "^zt:15001 172.30.0.2:8080 8080 172.30.0.2:8080 10.244.1.10:"; results+=($?)
  path "remote->ztunnel's own IP" remote 10.244.1.3:15020 "^15020 10.244.1.3:15020 172.30.0.2:"; results+=($?)
  path "plain->remote untouched" b 172.30.0.2:8080 "^8080 172.30.0.2:8080 10.244.1.11:"; results+=($?)
  udp_path; results+=($?)
  # kube-proxy's DNAT of a Service VIP (10.96.0.10:80 -> the remote's 8080), in iptables-legacy
  # mode and in nftables mode: an ambient pod's connection reaches 15001 with the VIP intact
  # (the null DNAT runs first), ztunnel's onward connection is DNAT'd and keeps the pod's IP,
  # and a plain pod reaches the backend through the DNAT.
  local mode
  for mode in iptables-legacy nftables; do
    kube_proxy "$mode" add
    path "ambient->VIP, kube-proxy $mode" a 10.96.0.10:80 "^zt:15001 10.96.0.10:80 8080 172.30.0.2:8080 10.244.1.10:"; results+=($?)
    path "plain->VIP, kube-proxy $mode" b 10.96.0.10:80 "^8080 172.30.0.2:8080 10.244.1.11:"; results+=($?)
    kube_proxy "$mode" del
  done
  if [[ $rules == today ]]; then
    # The negative control: on the bridge, A reaches B and ztunnel sees nothing.
    expect true "today's rules let an ambient pod reach a same-bridge pod un-captured" \
      path "control: ambient->plain bypasses" a 10.244.1.11:8080 "^8080 10.244.1.11:8080 10.244.1.10:"
    return
  fi
  local i
  for i in "${!results[@]}"; do
    [[ ${results[$i]} == 0 ]] && continue
    echo "NOT PROVEN: row $((i + 1)) of this run: $(cut -c 20-60 <<<"${rows[-${#results[@]}+$i]}") (rules=$rules br_netfilter=$brnf)" >&2
    failures=$((failures + 1))
  done
  # Fail closed: with ztunnel away, an ambient pod's TCP stops (it neither reaches B nor leaks).
  kill "$relayPid" 2>/dev/null; wait "$relayPid" 2>/dev/null
  local silence="^(connect .*|no answer from .*)$"
  expect true "with ztunnel away, A's TCP to B stops" \
    path "ztunnel away: ambient->plain stops" a 10.244.1.11:8080 "$silence"
  expect true "with ztunnel away, A's TCP to the remote stops" \
    path "ztunnel away: ambient->remote stops" a 172.30.0.2:8080 "$silence"
}

for brnf in 0 1; do
  modprobe br_netfilter 2>/dev/null
  for rules in today bridge; do
    topology "$brnf"
    "rules_$rules"
    servers
    run_paths
    teardown
  done
done

printf '%-7s %-4s %-5s %-41s %s\n' rules brnf path description "what the client printed"
printf '%s\n' "${rows[@]}"
if ((failures)); then
  echo "bridge_capture: NOT PROVEN ($failures)"
  exit 1
fi
echo "bridge_capture: proven (negative control bypassed; bridge-mode rules captured every path, both br_netfilter states)"
