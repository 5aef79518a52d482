#!/bin/bash
# Packet proof for issue 20: redirecting IPv6 as well as IPv4 on a dual-stack node with a routed
# (ptp-like) primary CNI, before the engine learns to do it.
#
# Builds, in throwaway namespaces, a node, a ztunnel pod (10.244.1.3, fd00:10:244:1::3), ambient
# pods A (.10, ::10) and C (.12, ::12), a plain pod B (.11, ::11), each on a veth with a /32 and
# a /128 route on the node side as the ptp plugin leaves them (gateway 10.244.1.1 and fe80::1 on
# every host veth), and a remote host (172.30.0.2, fd00:172:30::2) behind an uplink. vxlan
# stands in for geneve (same VNIs and port, IPv4 underlay); the tunnels carry IPv6 on fixed ULA
# /126s next to today's /30s. The node holds DESIGN.md section 3's `ip` table, routes and rules
# and their IPv6 counterparts in a second table, `ip6 ambient_redirect` (DESIGN.md section 4,
# "IPv6 (issue 20): the packet proof", says why not one `inet` table); the ztunnel pod holds
# section 4's rules for both families. tests/proofs/transparent_relay6.py listens where ztunnel
# does (127.0.0.1 and ::1, ports 15001/15006/15008) and dials onward from the client's address.
# kube-proxy is played by an `ip6` nft DNAT of a Service VIP, the ptp plugin's ipMasq by an
# `ip6` nft masquerade of pod traffic leaving the pod network.
#
# It prints one row per path ("match" when the client's answer is the one the row expects:
# captured at that ztunnel port with that original destination and source, or, for the control
# and the "stops" rows, the bypass and the silence) and fails (exit 1) unless every row matches.
#
# Usage: tests/proofs/ipv6_capture.sh [NETTOOL]   (NETTOOL is accepted and unused: it speaks
#        IPv4 only; the clients and servers here are python3 sockets)
# Environment: IPV6_PROOF_BREAK=rule101|tproxy6|nullnat6 leaves that IPv6 object out, to show
#        the proof failing (exit 1, naming the rows).
# Exit: 0 proven, 1 not proven, 2 setup error, 77 not root (skipped).
set -uo pipefail
[[ $(id -u) == 0 ]] || { echo "ipv6_capture: needs root (network namespaces); skipped" >&2; exit 77; }
relay="$(cd "$(dirname "$0")" && pwd)/transparent_relay6.py"
break_=${IPV6_PROOF_BREAK:-}
id="v6p$$"
pods=(zt a b c)
declare -A ip4=([zt]=10.244.1.3 [a]=10.244.1.10 [b]=10.244.1.11 [c]=10.244.1.12 [remote]=172.30.0.2)
declare -A ip6=([zt]=fd00:10:244:1::3 [a]=fd00:10:244:1::10 [b]=fd00:10:244:1::11
                [c]=fd00:10:244:1::12 [remote]=fd00:172:30::2)
# The proposed tunnel constants (DESIGN.md): inner ULA /126s, node end ::1, ztunnel end ::2.
in6_node=fd00:126::1 in6_zt=fd00:126::2 out6_node=fd00:127::1 out6_zt=fd00:127::2
node6_uplink=fd00:172:30::1
vip6=fd00:96::10
pids=()
failures=0
rows=()

in_ns() { local n=$1; shift; nsenter --net="/run/netns/$id-$n" "$@"; }
must() { "$@" || { echo "setup failed: $*" >&2; exit 2; }; }

teardown() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
  wait 2>/dev/null
  pids=()
  for n in node "${pods[@]}" remote; do ip netns del "$id-$n" 2>/dev/null; done
}
trap teardown EXIT

# Small socket tools (written before nettool spoke IPv6). Every wait is bounded.
#   serve PORT...            answers each connection with "<PORT> <local ip:port> <peer ip>"
#   connect HOST PORT        prints the first line received, "connect <reason>" or "no answer"
#   udp-serve PORT SECONDS   prints "udp from <ip>" for the first datagram, or "udp none"
#   udp-send SRC DST PORT    one datagram from SRC (transparent bind: SRC need not be local)
read -r -d '' tool <<'PY'
import select, socket, sys, threading
def ep(a):
    return ("[%s]:%d" if ":" in a[0] else "%s:%d") % (a[0], a[1])
def fam(h):
    return socket.AF_INET6 if ":" in h else socket.AF_INET
mode = sys.argv[1]
if mode == "serve":
    ls = []
    for port in sys.argv[2:]:
        for f, h in ((socket.AF_INET, "0.0.0.0"), (socket.AF_INET6, "::")):
            s = socket.socket(f, socket.SOCK_STREAM)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if f == socket.AF_INET6:
                s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            s.bind((h, int(port))); s.listen(64); ls.append(s)
    print("listening", flush=True)
    def answer(c):
        try:
            c.sendall(("%d %s %s\n" % (c.getsockname()[1], ep(c.getsockname()), c.getpeername()[0])).encode())
        except OSError:
            pass
        c.close()
    while True:
        for s in select.select(ls, [], [])[0]:
            c, _ = s.accept()
            threading.Thread(target=answer, args=(c,), daemon=True).start()
elif mode == "connect":
    h, p = sys.argv[2], int(sys.argv[3])
    s = socket.socket(fam(h), socket.SOCK_STREAM); s.settimeout(3)
    try:
        s.connect((h, p))
    except socket.timeout:
        print("connect timeout"); sys.exit(0)
    except OSError as e:
        print("connect " + (e.strerror or str(e))); sys.exit(0)
    try:
        data = s.recv(512).decode(errors="replace").strip()
        print(data if data else "no answer (closed)")
    except socket.timeout:
        print("no answer")
    except OSError as e:
        print("no answer " + (e.strerror or str(e)))
elif mode == "udp-serve":
    s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    s.bind(("::", int(sys.argv[2])))
    print("listening", flush=True)
    if select.select([s], [], [], float(sys.argv[3]))[0]:
        a = s.recvfrom(512)[1][0]
        print("udp from " + (a[7:] if a.startswith("::ffff:") else a), flush=True)
    else:
        print("udp none", flush=True)
elif mode == "udp-send":
    src, dst, p = sys.argv[2], sys.argv[3], int(sys.argv[4])
    s = socket.socket(fam(dst), socket.SOCK_DGRAM)
    if src != "-":
        if fam(dst) == socket.AF_INET6:
            s.setsockopt(socket.IPPROTO_IPV6, 75, 1)  # IPV6_TRANSPARENT
        else:
            s.setsockopt(socket.SOL_IP, 19, 1)    # IP_TRANSPARENT
        s.bind((src, 0))
    s.sendto(b"hello", (dst, p))
PY

# ---- topology ---------------------------------------------------------------------------------
topology() {
  for n in node "${pods[@]}" remote; do
    must ip netns add "$id-$n"
    # No duplicate address detection anywhere: the addresses below are fixed (nodad as well).
    must in_ns "$n" sysctl -qw net.ipv6.conf.default.accept_dad=0 net.ipv6.conf.all.accept_dad=0
    must in_ns "$n" ip link set lo up
  done
  must in_ns node sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1
  # Hosts usually filter IPv4 reverse paths; start from that so the rules have to turn it off.
  must in_ns node sysctl -qw net.ipv4.conf.all.rp_filter=1 net.ipv4.conf.default.rp_filter=1
  for p in "${pods[@]}"; do
    # The ptp plugin: the host end holds the gateway (10.244.1.1/32; fe80::1 for IPv6), a /32
    # and a /128 route to the pod; the pod holds a /32 and a /128 and routes everything via it.
    must in_ns node ip link add "veth$p" type veth peer name eth0 netns "$id-$p"
    must in_ns node ip addr add 10.244.1.1/32 dev "veth$p"
    must in_ns node ip -6 addr add fe80::1/64 dev "veth$p" nodad
    must in_ns node ip link set "veth$p" up
    must in_ns node ip route add "${ip4[$p]}/32" dev "veth$p" scope link
    must in_ns node ip -6 route add "${ip6[$p]}/128" dev "veth$p"
    must in_ns "$p" ip addr add "${ip4[$p]}/32" dev eth0
    must in_ns "$p" ip -6 addr add "${ip6[$p]}/128" dev eth0 nodad
    must in_ns "$p" ip link set eth0 up
    must in_ns "$p" ip route add 10.244.1.1/32 dev eth0 scope link
    must in_ns "$p" ip route add default via 10.244.1.1 dev eth0
    must in_ns "$p" ip -6 route add default via fe80::1 dev eth0
  done
  must in_ns node ip link add uplink type veth peer name eth0 netns "$id-remote"
  must in_ns node ip addr add 172.30.0.1/24 dev uplink
  must in_ns node ip -6 addr add "$node6_uplink/64" dev uplink nodad
  must in_ns node ip link set uplink up
  must in_ns remote ip addr add 172.30.0.2/24 dev eth0
  must in_ns remote ip -6 addr add "${ip6[remote]}/64" dev eth0 nodad
  must in_ns remote ip link set eth0 up
  must in_ns remote ip route add 10.244.0.0/16 via 172.30.0.1
  must in_ns remote ip -6 route add fd00:10:244::/48 via "$node6_uplink"
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
      # IPv4 only: IPv6 has neither key (DESIGN.md: nothing replaces them in the kernel).
      must in_ns "$side" sysctl -qw "net.ipv4.conf.$prefix$dev.rp_filter=0" "net.ipv4.conf.$prefix$dev.accept_local=1"
    done
  done
  ztunnel_pod_rules
}

# The ztunnel pod's rules, DESIGN.md section 4, and their IPv6 counterparts in an `ip6` table.
ztunnel_pod_rules() {
  # A pod namespace may forward (the worst case: rules 4-5's drops, not a sysctl, stop traffic).
  must in_ns zt sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1
  must in_ns zt sysctl -qw net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.eth0.rp_filter=0
  must in_ns zt ip route add local 0.0.0.0/0 dev lo scope host table 100
  must in_ns zt ip -6 route add local ::/0 dev lo table 100
  for fam in -4 -6; do
    must in_ns zt ip "$fam" rule add pref 20000 fwmark 0x400/0xfff lookup 100
    must in_ns zt ip "$fam" rule add pref 20003 fwmark 0x4d3/0xfff lookup 100
  done
  local tp6_15008="iifname \"pistioin\" tcp dport 15008 tproxy to [::1]:15008 meta mark set meta mark & 0xfffff000 | 0x400 accept"
  local tp6_15006="iifname \"pistioin\" meta l4proto tcp tproxy to [::1]:15006 meta mark set meta mark & 0xfffff000 | 0x400 accept"
  local tp6_15001="iifname \"pistioout\" meta l4proto tcp tproxy to [::1]:15001 meta mark set meta mark & 0xfffff000 | 0x400 accept"
  [[ $break_ == tproxy6 ]] && tp6_15001="# (IPV6_PROOF_BREAK=tproxy6: no IPv6 TPROXY to 15001)"
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
    $tp6_15008
    $tp6_15006
    $tp6_15001
    iifname "pistioin" meta l4proto tcp drop
    iifname "pistioout" meta l4proto tcp drop
    iifname "eth0" meta l4proto tcp ip6 daddr != ${ip6[zt]} meta mark set meta mark & 0xfffff000 | 0x4d3
  }
}
NFT
}

# ---- the node's redirection, both families ----------------------------------------------------
# The mark chain of DESIGN.md section 3 for family $1 (ip or ip6), saddr keyword $2, ztunnel's
# address $3, the enrolled pods $4: the same eight steps in both tables; only the address
# matches differ. The forward/input chains and the null NAT bindings follow.
node_table() {
  local family=$1 addr=$2 ztip=$3 elems=$4 settype=ipv4_addr
  [[ $family == ip6 ]] && settype=ipv6_addr
  local nullnat="
  chain nat_prerouting {
    type nat hook prerouting priority -110; policy accept;
    meta mark & 0x100 == 0x100 dnat to $addr daddr
  }
  chain nat_postrouting {
    type nat hook postrouting priority 90; policy accept;
    meta mark & 0x100 == 0x100 snat to $addr saddr
  }"
  [[ $family == ip6 && $break_ == nullnat6 ]] && nullnat="# (IPV6_PROOF_BREAK=nullnat6: no null NAT)"
  cat <<NFT
table $family ambient_redirect {
  set enrolled_pods { type $settype; elements = { $elems } }
  chain prerouting {
    type filter hook prerouting priority -150; policy accept;
    iifname { "istioin", "istioout" } meta mark set meta mark & 0xfffffdff | 0x200 return
    udp dport 6081 return
    ct mark & 0x220 == 0x220 meta mark set meta mark & 0xfffffdff | 0x200 return
    iifname != "vethzt" ct mark & 0x210 == 0x210 meta mark set meta mark & 0xffffffbf | 0x40 return
    iifname "vethzt" $addr saddr != $ztip meta mark set meta mark & 0xfffffdef | 0x210 return
    iifname "vethzt" meta mark set meta mark & 0xfffffddf | 0x220 return
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
  }$nullnat
}
NFT
}

node_rules() {
  # IPv4: DESIGN.md section 3 as it is today (the dual-stack row shows it still captures).
  must in_ns node ip route add 10.244.1.10/32 via 192.168.126.2 dev istioin table 100
  must in_ns node ip route add 10.244.1.12/32 via 192.168.126.2 dev istioin table 100
  must in_ns node ip route add default via 192.168.127.2 dev istioout table 101
  must in_ns node ip route add default via 10.244.1.3 dev vethzt onlink table 102
  # IPv6: the same routes with the /126 peers and /128s.
  must in_ns node ip -6 route add "${ip6[a]}/128" via "$in6_zt" dev istioin table 100
  must in_ns node ip -6 route add "${ip6[c]}/128" via "$in6_zt" dev istioin table 100
  must in_ns node ip -6 route add default via "$out6_zt" dev istioout table 101
  must in_ns node ip -6 route add default via "${ip6[zt]}" dev vethzt onlink table 102
  for t in 100 101 102; do
    must in_ns node ip route add 10.244.1.3/32 dev vethzt scope link table $t
    must in_ns node ip -6 route add "${ip6[zt]}/128" dev vethzt table $t
  done
  for fam in -4 -6; do
    must in_ns node ip "$fam" rule add pref 99 iif lo goto 32766
    must in_ns node ip "$fam" rule add pref 100 fwmark 0x200/0x200 goto 32766
    if [[ $fam == -6 && $break_ == rule101 ]]; then
      echo "(IPV6_PROOF_BREAK=rule101: no ip -6 rule 101)" >&2
    else
      must in_ns node ip "$fam" rule add pref 101 fwmark 0x100/0x100 lookup 101
    fi
    must in_ns node ip "$fam" rule add pref 102 fwmark 0x40/0x40 lookup 102
    must in_ns node ip "$fam" rule add pref 103 lookup 100
  done
  # IPv4 only, as today. IPv6 gets no sysctl: it has no rp_filter and no accept_local key.
  must in_ns node sysctl -qw net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.vethzt.rp_filter=0 \
    net.ipv4.conf.vethzt.accept_local=1 net.ipv4.conf.vetha.rp_filter=0 net.ipv4.conf.vethc.rp_filter=0
  local tables
  tables="$(node_table ip ip "${ip4[zt]}" "${ip4[a]}, ${ip4[c]}")
$(node_table ip6 ip6 "${ip6[zt]}" "${ip6[a]}, ${ip6[c]}")"
  must in_ns node nft -f - <<<"$tables"
}

# ---- processes --------------------------------------------------------------------------------
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
  for p in a b c; do start "$p" python3 -c "$tool" serve 8080 15008; done
  start remote python3 -c "$tool" serve 8080
  start zt python3 "$relay" 15001 15006 15008
  relayPid=${pids[-1]}
}

# ---- rows -------------------------------------------------------------------------------------
record() {  # record <label> <want> <got>: want is an exact line, or ~REGEX
  local label=$1 want=$2 got=$3 verdict=match
  if [[ $want == "~"* ]]; then [[ $got =~ ${want:1} ]] || verdict=no
  else [[ $got == "$want" ]] || verdict=no; fi
  rows+=("$(printf '%-5s %-48s %s' "$verdict" "$label" "$got")")
  if [[ $verdict != match ]]; then
    echo "NOT PROVEN: $label: expected '$want', got '$got'" >&2
    failures=$((failures + 1))
  fi
}

tcp() {  # tcp <label> <from> <host> <port> <want>
  local label=$1 from=$2 host=$3 port=$4 want=$5 got
  got=$(timeout 30 nsenter --net="/run/netns/$id-$from" python3 -c "$tool" connect "$host" "$port" 2>&1 | head -1)
  record "$label" "$want" "$got"
}

udp() {  # udp <label> <sender ns> <source or -> <receiver> <dst ip> <want>
  local label=$1 from=$2 src=$3 to=$4 dst=$5 want=$6 out got
  out=$(mktemp)
  # Under the geneve VM's emulated CPU a python start takes seconds: the receiver gets a long
  # window, and once the sender has returned (the datagram has been delivered or dropped by
  # then) it gets two more seconds before it is stopped and counted as having seen nothing.
  nsenter --net="/run/netns/$id-$to" python3 -c "$tool" udp-serve 5353 60 >"$out" 2>&1 &
  local p=$!
  for _ in $(seq 300); do grep -q listening "$out" && break; sleep 0.1; done
  in_ns "$from" python3 -c "$tool" udp-send "$src" "$dst" 5353 2>&1
  for _ in $(seq 20); do grep -q '^udp ' "$out" && break; sleep 0.1; done
  if ! grep -q '^udp ' "$out"; then
    kill "$p" 2>/dev/null
    echo "udp none" >>"$out"
  fi
  wait "$p" 2>/dev/null
  got=$(grep '^udp ' "$out" | head -1); rm -f "$out"
  record "$label" "$want" "$got"
}

# Expected lines. srv <dst ip> <port> <peer>: what a server at dst answers directly.
srv() { local h=$1; [[ $h == *:* ]] && h="[$h]"; echo "$2 $h:$2 $3"; }
# zt <port> <client> <dst ip> <dst port> <what the destination saw>
zt() { local h=$3; [[ $h == *:* ]] && h="[$h]"; echo "zt:$1 $2 $h:$4 $5"; }

stops="~^(connect timeout|no answer.*)$"

run() {
  topology
  servers
  # Negative control, before any node redirection: A's IPv6 reaches the remote directly, and no
  # ztunnel port sees it (so this proof can fail).
  tcp "control: no rules, A->remote v6 goes direct" a "${ip6[remote]}" 8080 \
    "$(srv "${ip6[remote]}" 8080 "${ip6[a]}")"
  node_rules
  local R=${ip6[remote]} A=${ip6[a]} B=${ip6[b]} C=${ip6[c]}
  tcp "outbound v6 A->remote at 15001" a "$R" 8080 "$(zt 15001 "$A" "$R" 8080 "$(srv "$R" 8080 "$A")")"
  tcp "inbound v6 remote->A at 15006" remote "$A" 8080 "$(zt 15006 "$R" "$A" 8080 "$(srv "$A" 8080 "$R")")"
  tcp "inbound v6 remote->A:15008 at 15008" remote "$A" 15008 "$(zt 15008 "$R" "$A" 15008 "$(srv "$A" 15008 "$R")")"
  tcp "same node v6 A->B (ambient->plain) at 15001" a "$B" 8080 "$(zt 15001 "$A" "$B" 8080 "$(srv "$B" 8080 "$A")")"
  tcp "same node v6 B->A (plain->ambient) at 15006" b "$A" 8080 "$(zt 15006 "$B" "$A" 8080 "$(srv "$A" 8080 "$B")")"
  tcp "same node v6 A->C (ambient->ambient) at 15001" a "$C" 8080 "$(zt 15001 "$A" "$C" 8080 "$(srv "$C" 8080 "$A")")"
  tcp "plain v6 B->remote untouched" b "$R" 8080 "$(srv "$R" 8080 "$B")"
  udp "UDP v6 A->B untouched" a - b "$B" "udp from $A"
  tcp "dual-stack: v4 A->remote at 15001" a 172.30.0.2 8080 \
    "$(zt 15001 10.244.1.10 172.30.0.2 8080 "$(srv 172.30.0.2 8080 10.244.1.10)")"
  tcp "dual-stack: v4 B->A at 15006" b 10.244.1.10 8080 \
    "$(zt 15006 10.244.1.11 10.244.1.10 8080 "$(srv 10.244.1.10 8080 10.244.1.11)")"

  # What replaces rp_filter and accept_local. IPv6 input has no reverse-path check and does not
  # refuse a local source address from another interface, so:
  #  - the spoofed source (ztunnel's onward connection with A's address, in on vethzt while A's
  #    route is via vetha) is accepted with no setting: every row above with "A" as the source
  #    the destination saw, with no net.ipv6 key touched;
  #  - a packet in on vethzt whose source is one of the node's own addresses (ztunnel speaking
  #    for a client that is the node, e.g. after a masquerade) reaches its destination with no
  #    setting. The IPv4 rows beside it show the same packet needs accept_local there.
  udp "local source v6 (node's addr) via vethzt, no sysctl" zt "$node6_uplink" b "$B" "udp from $node6_uplink"
  must in_ns node sysctl -qw net.ipv4.conf.vethzt.accept_local=0
  udp "contrast v4 local source, accept_local=0: dropped" zt 172.30.0.1 b 10.244.1.11 "udp none"
  must in_ns node sysctl -qw net.ipv4.conf.vethzt.accept_local=1
  udp "contrast v4 local source, accept_local=1: passes" zt 172.30.0.1 b 10.244.1.11 "udp from 172.30.0.1"
  #  - the only IPv6 reverse-path filter is a netfilter fib rule a host firewall may add (what
  #    firewalld writes for IPv6_rpfilter). Its lookup runs as from lo, so our rule 99 sends it
  #    to main whatever the mark. Strict (iif in the key) drops every packet ztunnel sends into
  #    vethzt with a source routed elsewhere: its answers to captured clients (source: the
  #    original destination), so the client's connect times out, and its onward packets
  #    (source: the client), shown alone with a datagram. Ambient IPv6 stops, it does not
  #    bypass. Loose (no iif) lets both through. We cannot undo another table's drop.
  must in_ns node nft -f - <<'NFT'
table inet host_rpfilter {
  chain prerouting {
    type filter hook prerouting priority filter + 10; policy accept;
    icmpv6 type { nd-router-advert, nd-neighbor-solicit } accept
    meta nfproto ipv6 fib saddr . mark . iif oif missing drop
  }
}
NFT
  tcp "host strict ip6 rpfilter: A->remote stops" a "$R" 8080 "connect timeout"
  tcp "host strict ip6 rpfilter: B->A stops" b "$A" 8080 "connect timeout"
  udp "host strict ip6 rpfilter: spoofed A source dropped" zt "$A" b "$B" "udp none"
  must in_ns node nft delete table inet host_rpfilter
  must in_ns node nft -f - <<'NFT'
table inet host_rpfilter {
  chain prerouting {
    type filter hook prerouting priority filter + 10; policy accept;
    icmpv6 type { nd-router-advert, nd-neighbor-solicit } accept
    meta nfproto ipv6 fib saddr . mark oif missing drop
  }
}
NFT
  tcp "host loose ip6 rpfilter: A->remote at 15001" a "$R" 8080 "$(zt 15001 "$A" "$R" 8080 "$(srv "$R" 8080 "$A")")"
  tcp "host loose ip6 rpfilter: B->A at 15006" b "$A" 8080 "$(zt 15006 "$B" "$A" 8080 "$(srv "$A" 8080 "$B")")"
  udp "host loose ip6 rpfilter: spoofed A source passes" zt "$A" b "$B" "udp from $A"
  must in_ns node nft delete table inet host_rpfilter

  # kube-proxy's DNAT of a Service VIP ([fd00:96::10]:80 -> the remote's 8080) and the ptp
  # plugin's ipMasq (pod traffic leaving the pod network is masqueraded). The null DNAT keeps
  # the VIP as A's original destination at 15001, the null SNAT keeps A's source on the way
  # into istioout; ztunnel's onward connection is DNAT'd (and masqueraded) like any other.
  must in_ns node nft -f - <<NFT
table ip6 kube_proxy_proof {
  chain services {
    type nat hook prerouting priority dstnat; policy accept;
    ip6 daddr $vip6 tcp dport 80 dnat to [${ip6[remote]}]:8080
  }
  chain masq {
    type nat hook postrouting priority srcnat; policy accept;
    ip6 saddr fd00:10:244::/48 ip6 daddr != fd00:10:244::/48 masquerade
  }
}
NFT
  tcp "v6 A->VIP at 15001, VIP and A's source intact" a "$vip6" 80 \
    "$(zt 15001 "$A" "$vip6" 80 "$(srv "$R" 8080 "$node6_uplink")")"
  tcp "v6 plain B->VIP reaches the backend (DNAT real)" b "$vip6" 80 "$(srv "$R" 8080 "$node6_uplink")"
  must in_ns node nft delete table ip6 kube_proxy_proof

  # Fail closed: with ztunnel's listeners gone, A's IPv6 TCP stops (no connection, no bypass).
  kill "$relayPid" 2>/dev/null; wait "$relayPid" 2>/dev/null
  tcp "ztunnel away: v6 A->remote stops" a "$R" 8080 "$stops"
  tcp "ztunnel away: v6 A->B stops" a "$B" 8080 "$stops"
  tcp "ztunnel away: v6 remote->A stops" remote "$A" 8080 "$stops"
}

run
printf '%-5s %-48s %s\n' match path "what the client printed"
printf '%s\n' "${rows[@]}"
if ((failures)); then
  echo "ipv6_capture: NOT PROVEN ($failures)"
  exit 1
fi
echo "ipv6_capture: proven (control bypassed; every IPv6 path captured at the right port with the original source and destination; dual-stack IPv4 still captured)"
