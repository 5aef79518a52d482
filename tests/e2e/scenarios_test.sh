#!/usr/bin/env bash
# End-to-end: the seed article's traffic paths on an emulated four-node cluster (cluster.sh),
# each numbered step asserted with evidence from the kernel, ztunnel and the pods:
#   scenario 1: ambient sleep (foo, node-a) -> sidecar httpbin (bar, node-b) through the
#               httpbin Service VIP; ztunnel on node-a balances, httpbin's sidecar captures.
#   flip:       foo's ambient label removed and restored while sleep sends traffic.
#   restart:    node-a's agent, then its ztunnel, SIGKILLed and restarted during traffic.
#   scenario 2: foo relabelled for sidecar injection and sleep redeployed with a sidecar (node-a):
#               -> ambient httpbin (bar-1, node-b): HBONE to httpbin:15008, captured on node-b
#               into ztunnel's 15008; -> ambient helloworld (bar-2, node-d) through its waypoint
#               (node-c): HBONE to the waypoint, which opens HBONE to helloworld:15008.
#   uninstall:  every agent stopped and `ambient-agent uninstall` run: nothing of ours is left.
#   ipv6:       (E2E_FAMILY=ipv6) each node's tunnels have ztunnel's IPv6 address as remote, no
#               ip table of ours; the API objects are single-stack IPv6.
# Prints `ambientctl trace` of each path, checked against the counters of the rules it names (a
# step "trace" per path), and a summary table (scenario, step, evidence, result);
# exits 1 if any step failed.
source "$(dirname "$0")/cluster.sh"
E2E=$(cd "$(dirname "$0")" && pwd)
ZT_TOOLS="$REPO/tests/ztunnel"

ROWS=()
FAILED=0
# E2E_SECTIONS: which of the sections beyond the two scenarios run (default all of them). The
# geneve VM runs "uninstall" only: flip and restart do not depend on the tunnel kind and take
# minutes under its emulated CPU.
E2E_SECTIONS=${E2E_SECTIONS-flip restart uninstall}
# Dual-stack (E2E_FAMILY=dual): E2E_DUAL_SECTIONS, when set, replaces E2E_SECTIONS (so the geneve
# VM can trim the dual run alone: CTest sets E2E_SECTIONS for it), and two more words trim it:
# no-ipv4 (only the IPv6 half of each step; the IPv4 half and the IPv4-only traces are left out,
# as the IPv4 runs cover them) and no-scenario2 (scenario 1 only).
if [ -n "$DUAL" ] && [ -n "${E2E_DUAL_SECTIONS+x}" ]; then E2E_SECTIONS=$E2E_DUAL_SECTIONS; fi
# IPv6-only (E2E_FAMILY=ipv6): the pods have no IPv4 address, so only the IPv6 half of each step
# runs (as no-ipv4), and the flip and restart sections (IPv4 connections) are left out.
if [ -n "$V6ONLY" ]; then
  E2E_SECTIONS=" $E2E_SECTIONS "
  E2E_SECTIONS=${E2E_SECTIONS// flip / }
  E2E_SECTIONS="${E2E_SECTIONS// restart / } no-ipv4"
fi
want() { [[ " $E2E_SECTIONS " == *" $1 "* ]]; }
v4() { [ -z "$DUAL" ] || ! want no-ipv4; }  # the IPv4 half of the steps runs
# step SCENARIO STEP EVIDENCE OK(0/1): a step whose evidence holds a failed reading ("reading
# failed", from `delta`) fails whatever OK says.
step() {
  local result=PASS
  [ "$4" -eq 0 ] || { result=FAIL; FAILED=1; }
  if [[ "$3" == *"reading failed"* ]]; then
    result=FAIL
    FAILED=1
    echo "  scenario $1 step $2: a reading it compares failed (\"e2e: reading failed\" above): step failed"
  fi
  ROWS+=("$1|$2|$3|$result")
  echo "  [$result] scenario $1 step $2: $3"
}
# expect SCENARIO STEP EVIDENCE TEST-ARGS...: a step that passes when `test TEST-ARGS` holds.
expect() {
  local s=$1 n=$2 e=$3; shift 3
  if test "$@"; then step "$s" "$n" "$e" 0; else step "$s" "$n" "$e" 1; fi
}
on_exit() {
  [ ${#ROWS[@]} -gt 0 ] || return 0
  print_table
}
# With E2E_HOLD (scripts/demo.sh --keep) and a terminal: the table so far, then the cluster stays
# up, before the uninstall, until Enter.
hold_for_exploring() {
  [ -n "${E2E_HOLD:-}" ] && [ -t 0 ] || return 0
  print_table
  echo
  echo "The cluster stays up until you press Enter; then the agents are uninstalled and"
  echo "everything is removed. Namespaces: ip netns list | grep $P"
  echo "  pods (namespace $P-<ns>-<name>): ${!POD_NETNS[*]}"
  echo "  ip netns exec $P-node-a nft list table ip ambient_redirect"
  echo "  $AMBIENTCTL_BIN dump --state-dir $WORK/node-b/state"
  echo "  ip netns exec $P-istio-system-ztunnel-node-d curl -s 127.0.0.1:15020/metrics"
  echo "  logs: $WORK/*.log (sidecars, waypoint, apps) and $WORK/node-*/ (agents, ztunnels, CNI)"
  read -r _ || true
}
print_table() {
  echo
  printf '%-8s | %-5s | %-92s | %s\n' scenario step evidence result
  printf '%.0s-' $(seq 1 120); echo
  local row s n e r
  for row in "${ROWS[@]}"; do
    IFS='|' read -r s n e r <<<"$row"
    printf '%-8s | %-5s | %-92s | %s\n' "$s" "$n" "$e" "$r"
  done
}
# trace_check SCENARIO NODE LABEL SOURCE DESTINATION NODE-COUNTERS ZTUNNEL-COUNTERS WANT...:
# prints `ambientctl trace` of one path, then one step "trace" that passes only when the trace
# exits 0, every nft rule it says the SYN hit ("(k) node|ztunnel nft prerouting rule #N: ...",
# and in bridge mode "(k) node bridge cni0 nft prerouting rule #N: ...") counted packets since
# NODE-/ZTUNNEL-COUNTERS (node_counters of the node, chain_counters of its ztunnel pod, read
# before the path's traffic), each tunnel it names ("(k) istioX: KIND VNI ...") is of that
# kind on the node, and each WANT (an extended regex) matches one of its hops: the route hops
# are those the steps' own `ip route get` found. (A hop "no rule matches" is not checked against
# counters: other traffic of the node keeps counting in the same seconds.)
trace_check() {
  local scen=$1 node=$2 label=$3 src=$4 dst=$5 before_node=$6 before_zt=$7; shift 7
  local out rc=0
  out=$("$AMBIENTCTL_BIN" trace --state-dir "$WORK/$node/state" "$src" "$dst" 2>&1) || rc=$?
  echo
  echo "== ambientctl trace on $node, $label: $src -> $dst"
  sed 's/^/   /' <<<"$out"
  local now_node now_zt where n b a dev kind real w hops
  local -a bad=() seen=()
  now_node=$(node_counters "$node")  # FAM=ip6 (an IPv6 path): the ip6 tables' counters
  now_zt=$(chain_counters "istio-system-ztunnel-$node")
  [ "$rc" -eq 0 ] || bad+=("ambientctl exit $rc")
  while read -r where n; do
    case $where in  # node_counters: "IP | BRIDGE"
      node) b=$(nth "${before_node%% | *}" "$n") a=$(nth "${now_node%% | *}" "$n") ;;
      bridge) b=$(nth "${before_node#* | }" "$n") a=$(nth "${now_node#* | }" "$n") ;;
      *) b=$(nth "$before_zt" "$n") a=$(nth "$now_zt" "$n") ;;
    esac
    seen+=("$where#$n $(delta "$b" "$a")")
    grew "$b" "$a" || bad+=("$where rule #$n did not count the SYN ($b -> $a)")
  done < <(sed -nE -e 's/^\([0-9]+\) node bridge [^ ]+ nft prerouting rule #([0-9]+): .*/bridge \1/p' \
    -e 's/^\(([0-9]+)\) (node|ztunnel) nft (ip6 ambient_redirect )?prerouting rule #([0-9]+): .*/\2 \4/p' <<<"$out")
  while read -r dev kind; do
    real=$(inns "$node" ip -d link show "$dev" 2>/dev/null | grep -oE 'geneve|vxlan' | head -n1) || true
    seen+=("$dev $kind")
    [ "$real" = "$kind" ] || bad+=("$dev is ${real:-missing} on the node, the trace says $kind")
  done < <(sed -nE 's/^\([0-9]+\) (istio[a-z]+): (geneve|vxlan) VNI .*/\1 \2/p' <<<"$out")
  for w in "$@"; do
    grep -qE -- "^\([0-9]+\) .*$w" <<<"$out" || bad+=("no hop matches '$w'")
  done
  hops=$(grep -cE '^\([0-9]+\) ' <<<"$out" || true)
  [ "$hops" -gt 0 ] || bad+=("no hops")
  local why=""
  [ ${#bad[@]} -eq 0 ] || why="; WRONG: $(IFS=';'; echo "${bad[*]}")"
  expect "$scen" trace "$node, $label: $hops hops; rules the trace names, counted: ${seen[*]:-none}$why" \
    "${#bad[@]}" -eq 0
}
rx() { sed 's/[][\.*^$+?(){}|]/\\&/g' <<<"$1"; }  # rx TEXT: TEXT as a literal extended regex
bracket() { case $1 in *:*) echo "[$1]" ;; *) echo "$1" ;; esac; }  # an IPv6 host as in HOST:PORT
nth() {  # nth "C1 C2 ..." N: the Nth count (1-based), or "unread"
  local -a c
  read -ra c <<<"$1"
  if is_count "${c[$(($2 - 1))]:-}"; then echo "${c[$(($2 - 1))]}"; else echo unread; fi
}
# Comparisons of two readings (cluster.sh's readers: a count or "unread"). A failed reading is
# never equal to, nor smaller than, anything: `grew` and `same` are false and `delta` says
# "reading failed", which fails the step it is shown in.
is_count() { [[ "$1" =~ ^[0-9]+$ ]]; }
grew() { is_count "$1" && is_count "$2" && [ "$2" -gt "$1" ]; }  # grew BEFORE AFTER
same() { is_count "$1" && is_count "$2" && [ "$2" -eq "$1" ]; }  # same BEFORE AFTER
delta() {  # delta BEFORE AFTER: "+N" (or "-N"), or "reading failed"
  if is_count "$1" && is_count "$2"; then printf '%+d' $(($2 - $1)); else printf 'reading failed'; fi
}
json_get() { jq -r "$2" <<<"$1" 2>/dev/null; }
host_veth() {  # host_veth NS/NAME: the node's end of the pod's eth0 (by the peer's ifindex)
  local peer
  peer=$(inns "${POD_NETNS[$1]}" ip -j link show eth0 | jq -r '.[0].link_index')
  inns "${NODE_OF[$1]}" ip -j link show | jq -r ".[] | select(.ifindex == $peer) | .ifname"
}
# pod_dev NS/NAME: the node device a pod's packets enter the IP layer on, and its routes name:
# its host veth under ptp, the bridge under a bridge primary (E2E_PRIMARY=bridge).
pod_dev() { if [ "$E2E_PRIMARY" = bridge ]; then echo cni0; else host_veth "$1"; fi; }
# The trace's hop for ztunnel's onward connection being marked 0x210 (spoofed source): the ip
# (ip6) chain's iifname rule, or in bridge mode the bridge table's hand-up rule for ztunnel's
# port, which names the rule that marked it before (the same table marks both families there).
if [ "$E2E_PRIMARY" = bridge ]; then
  ONWARD_0X210="node bridge cni0 nft prerouting rule #[0-9]+: iifname .* mark 0x210 \(after rule #[0-9]+: iifname .* saddr != .* 0x210 counter\)$"
  ONWARD6_0X210=$ONWARD_0X210
else
  ONWARD_0X210="node nft prerouting rule #[0-9]+: iifname .* -> mark 0x210$"
  ONWARD6_0X210="node nft ip6 ambient_redirect prerouting rule #[0-9]+: iifname .* -> mark 0x210$"
fi
enrolled() {  # enrolled NS/NAME: the pod's IP is in its node's enrolled_pods set (dual: and its IPv6 in the ip6 one)
  local set
  if [ -z "$V6ONLY" ]; then  # IPv6-only: the pod has no IPv4 address (the node no ip table)
    set=$(inns "${NODE_OF[$1]}" nft list set ip ambient_redirect enrolled_pods) &&
      grep -qw "${POD_IP[$1]}" <<<"$set" || return 1
  fi
  [ -n "$DUAL" ] || return 0
  set=$(inns "${NODE_OF[$1]}" nft list set ip6 ambient_redirect enrolled_pods) &&
    grep -qF "${POD_IP6[$1]}" <<<"$set"
}
# not_enrolled NS/NAME: in neither family's set (a missing ip6 table counts as "not in it").
not_enrolled() {
  [ -n "$V6ONLY" ] || ! inns "${NODE_OF[$1]}" nft list set ip ambient_redirect enrolled_pods | grep -qw "${POD_IP[$1]}" || return 1
  [ -n "$DUAL" ] || return 0
  ! { inns "${NODE_OF[$1]}" nft list set ip6 ambient_redirect enrolled_pods 2>/dev/null |
      grep -qF "${POD_IP6[$1]}"; }
}
# hostport IP PORT: ip:port, or [ip]:port for IPv6 (as mesh_proxy.py logs and routes them).
hostport() { if [[ "$1" == *:* ]]; then echo "[$1]:$2"; else echo "$1:$2"; fi; }
ztunnel_knows() {  # ztunnel_knows NODE NS/NAME PROTOCOL SERVICE-HOSTNAME
  local dump
  dump=$(inns "istio-system-ztunnel-$1" curl -sf http://127.0.0.1:15000/config_dump) || return 1
  jq -e --arg ip "$(pod_addr "$2")" --arg p "$3" --arg h "$4" \
    '([.workloads[] | select((.workloadIps | index($ip)) and .protocol == $p)] | length > 0)
     and ([.services[] | select(.hostname == $h)] | length > 0)' <<<"$dump" >/dev/null || return 1
  [ -n "$DUAL" ] || return 0
  # Dual-stack: the workload lists its IPv6 address too, and the Service its IPv6 VIP.
  jq -e --arg ip "${POD_IP6[$2]}" --arg h "$4" --arg v6 "${5:-}" \
    '([.workloads[] | select(.workloadIps | index($ip))] | length > 0)
     and ($v6 == "" or ([.services[] | select(.hostname == $h) | tostring | select(contains($v6))] | length > 0))' \
    <<<"$dump" >/dev/null
}

# sidecar_capture NS/NAME [ROUTES-JSON]: the sidecar of a pod (tests/e2e/mesh_proxy.py; ROUTES is
# its HBONE routing, as istiod's EDS would push it). Inbound, Istio TPROXY style: inbound TCP on eth0 (except the proxy's
# own ports) goes to the proxy's 15006 with mark 0x539; the proxy dials the app from the client's
# IP with SO_MARK 0x539, and the mark, kept on the connection, routes the app's replies back to
# the proxy through table 133 (local default).
sidecar_capture() {
  local pod=$1 pns=${POD_NETNS[$1]}
  # Outbound (Istio's REDIRECT mode): TCP the app sends goes to the sidecar's 15001; the
  # sidecar's own upstream sockets (marks 0x539 inbound, 0x53a outbound) pass.
  inns "$pns" nft -f - <<'NFT'
table ip e2e_sidecar {
  chain output_nat {
    type nat hook output priority -100; policy accept;
    meta mark { 0x539, 0x53a } return
    ip daddr 127.0.0.0/8 return
    meta l4proto tcp counter redirect to :15001
  }
  chain prerouting {
    type filter hook prerouting priority mangle; policy accept;
    iifname "eth0" meta l4proto tcp tcp dport != { 15006, 15008, 15020, 15021, 15090 } tproxy to 127.0.0.1:15006 meta mark set 0x539 counter accept
  }
  chain output {
    type route hook output priority mangle; policy accept;
    meta mark 0x539 ct mark set 0x539
    ct mark 0x539 meta mark set 0x539
  }
}
NFT
  inns "$pns" ip rule add fwmark 0x539 lookup 133 pref 32000
  inns "$pns" ip route add local default dev lo table 133
  if [ -n "$DUAL" ]; then  # the same capture for IPv6 (Istio's ip6tables twin)
    inns "$pns" nft -f - <<'NFT'
table ip6 e2e_sidecar {
  chain output_nat {
    type nat hook output priority -100; policy accept;
    meta mark { 0x539, 0x53a } return
    ip6 daddr ::1 return
    meta l4proto tcp counter redirect to :15001
  }
  chain prerouting {
    type filter hook prerouting priority mangle; policy accept;
    iifname "eth0" meta l4proto tcp tcp dport != { 15006, 15008, 15020, 15021, 15090 } tproxy ip6 to [::1]:15006 meta mark set 0x539 counter accept
  }
  chain output {
    type route hook output priority mangle; policy accept;
    meta mark 0x539 ct mark set 0x539
    ct mark 0x539 meta mark set 0x539
  }
}
NFT
    inns "$pns" ip -6 rule add fwmark 0x539 lookup 133 pref 32000
    inns "$pns" ip -6 route add local ::/0 dev lo table 133
  fi
  local id=${pod//\//-} routes=${2:-}
  echo "${routes:-"{}"}" >"$WORK/routes-$id.json"
  bg "$pns" "sidecar-$id" "$PY" "$E2E/mesh_proxy.py" sidecar-inbound 15006 0x539
  poll 20 grep -q listening "$WORK/sidecar-$id.log" || fail "sidecar inbound proxy of $pod did not start"
  bg "$pns" "sidecar-out-$id" "$PY" "$E2E/mesh_proxy.py" sidecar-outbound 15001 0x53a \
    "$WORK/routes-$id.json" "$WORK/ca/$pod" "$WORK/ca/root-cert.pem"
  poll 20 grep -q listening "$WORK/sidecar-out-$id.log" ||
    fail "sidecar outbound proxy of $pod did not start"
}
start_app() {  # start_app NS/NAME: the app, greeting "<name> <peer ip>" and echoing, on :80
  local pod=$1
  bg "${POD_NETNS[$pod]}" "app-${pod//\//-}" "$PY" "$ZT_TOOLS/tcp_tool.py" serve 80 "${pod#*/}"
  poll 20 inns "${POD_NETNS[$pod]}" bash -c 'exec 3<>/dev/tcp/127.0.0.1/80' ||
    fail "app $pod does not listen on 80"
}

START=$(date +%s)
log "building the cluster (prefix $P, work $WORK)"
build_cluster
log "cluster up: ztunnel IPs $(for n in "${NODES[@]}"; do printf "%s " "$(pod_addr "istio-system/ztunnel-$n")"; done)"

# ---- scenario 1: ambient sleep (foo, node-a) -> sidecar httpbin (bar, node-b) ---------------
SIDECAR_ANN='{"sidecar.istio.io/status":"{\"containers\":[\"istio-proxy\"]}"}'
add_pod node-a foo sleep '{"app":"sleep"}' '{}' sleep
add_pod node-b bar httpbin '{"app":"httpbin"}' "$SIDECAR_ANN" httpbin
enrolled foo/sleep || fail "foo/sleep was not enrolled on node-a"
not_enrolled bar/httpbin || fail "bar/httpbin (sidecar) was enrolled on node-b"
if [ "$E2E_PRIMARY" = bridge ]; then
  # Bridge mode: ztunnel's pod is a port of cni0 too, so the agent added the bridge table and
  # sleep's IP to its set (docs/DESIGN.md, "Pods on a Linux bridge").
  bridge_set=$(inns node-a nft list set bridge ambient_bridge enrolled_pods 2>&1 | tr -s ' \t\n' ' ')
  brnf_a=$(inns node-a sysctl -n net.bridge.bridge-nf-call-iptables 2>&1)
  brnf_c=$(inns node-c sysctl -n net.bridge.bridge-nf-call-iptables 2>&1)
  expect 1 bridge "node-a: table bridge ambient_bridge, enrolled_pods: ${bridge_set:0:120}; bridge-nf-call-iptables node-a $brnf_a, node-c $brnf_c" \
    "$(grep -qw "${POD_IP[foo/sleep]}" <<<"$bridge_set" && [ "$brnf_a" = 0 ] && [ "$brnf_c" = 1 ] &&
       echo 0 || echo 1)" -eq 0
  if [ -n "$DUAL" ]; then
    # Dual-stack bridge (issue 20): cni0 holds the pods' IPv6 gateway fd00:10:244:1::1/64 (the
    # bridge plugin's isGateway; no longer tentative), so the agent redirects IPv6 there: sleep's
    # IPv6 is in the bridge table's enrolled_pods6, and the ip6 hand-up rules are in place.
    bridge_set6=$(inns node-a nft list set bridge ambient_bridge enrolled_pods6 2>&1 | tr -s ' \t\n' ' ')
    cni0_6=$(inns node-a ip -6 -o addr show dev cni0 scope global 2>&1 | awk '{$1=$2=""; print}' | tr -s ' \n' ' ')
    hand6=$(inns node-a nft list chain bridge ambient_bridge prerouting 2>&1 | grep -cE 'ip6 .*meta pkttype set host' || true)
    brnf6_a=$(inns node-a sysctl -n net.bridge.bridge-nf-call-ip6tables 2>&1)
    brnf6_c=$(inns node-c sysctl -n net.bridge.bridge-nf-call-ip6tables 2>&1)
    expect 1/v6 bridge "node-a: cni0${cni0_6:- has no global IPv6 address}; enrolled_pods6: ${bridge_set6:0:100}; ip6 hand-up rules $hand6; call-ip6tables node-a $brnf6_a, node-c $brnf6_c" \
      "$(grep -qF "${POD_IP6[foo/sleep]}" <<<"$bridge_set6" &&
         [[ "$cni0_6" == *"inet6 fd00:10:244:1::1/64 "* ]] && [[ "$cni0_6" != *tentative* ]] &&
         [[ "$cni0_6" != *dadfailed* ]] && [ "$hand6" -ge 3 ] &&
         [ "$brnf6_a" = 0 ] && [ "$brnf6_c" = 1 ] && echo 0 || echo 1)" -eq 0
  fi
fi
# The runtime: both pods are containerd sandboxes (PodSandboxStatus READY with the pod's name,
# uid and IP), our plugin was put last in containerd's conflist by ambient-cni-install, and the
# plugin's log holds containerd's ADD for the pod under the sandbox id as CNI container id.
sandbox_ok() {  # sandbox_ok NS/NAME VERDICT
  local node=${NODE_OF[$1]} id=${POD_SANDBOX[$1]:-none} st
  st=$(cri "$node" status "$id") &&
    [ "$(jq -r '"\(.state) \(.metadata.namespace)/\(.metadata.name) \(.metadata.uid) \(.ip)"' <<<"$st")" = \
      "SANDBOX_READY $1 uid-${1%/*}-${1#*/} $(pod_addr "$1")" ] &&
    [ "$(jq -r '.plugins[-1].type' "$WORK/$node/net.d/10-k8s-pod-network.conflist")" = ambient-cni ] &&
    jq -e --arg id "$id" --arg pod "$1" --arg v "$2" \
      'select(.command == "ADD" and .containerId == $id and .pod == $pod and .verdict == $v)' \
      "$WORK/$node/cni.log" >/dev/null
}
if [ "$E2E_RUNTIME" = containerd ]; then
  expect 1 runtime "foo/sleep and bar/httpbin: containerd sandboxes ${POD_SANDBOX[foo/sleep]:0:12} and ${POD_SANDBOX[bar/httpbin]:0:12} READY, ADD logged (enrolled, not-ambient); ambient-cni last in containerd's conflists" \
    "$(sandbox_ok foo/sleep enrolled && sandbox_ok bar/httpbin not-ambient && echo 0 || echo 1)" -eq 0
fi
start_app bar/httpbin
sidecar_capture bar/httpbin
api_service bar httpbin 10.96.0.80 8000 80 httpbin
SLEEP=${POD_IP[foo/sleep]}
SLEEP_NS=${POD_NETNS[foo/sleep]}
HTTPBIN=${POD_IP[bar/httpbin]}
HB_NS=${POD_NETNS[bar/httpbin]}
SLEEP6=${POD_IP6[foo/sleep]:-}
HTTPBIN6=${POD_IP6[bar/httpbin]:-}
[ -n "$V6ONLY" ] || inns "$HB_NS" nft insert rule ip e2e_sidecar prerouting iifname eth0 ip saddr "$SLEEP" \
  ip daddr "$HTTPBIN" tcp dport 80 counter
[ -z "$DUAL" ] || inns "$HB_NS" nft insert rule ip6 e2e_sidecar prerouting iifname eth0 \
  ip6 saddr "$SLEEP6" ip6 daddr "$HTTPBIN6" tcp dport 80 counter
poll 30 ztunnel_knows node-a foo/sleep HBONE httpbin.bar.svc.cluster.local "$(vip6 10.96.0.80)" ||
  fail "ztunnel on node-a never learnt sleep (HBONE) and the httpbin.bar service"
poll 30 ztunnel_knows node-a bar/httpbin TCP httpbin.bar.svc.cluster.local ||
  fail "ztunnel on node-a never learnt bar/httpbin as a TCP (sidecar) workload"

ZTA=istio-system-ztunnel-node-a
SRC_RE="reporter=\"source\".*source_workload=\"sleep\".*destination_workload=\"httpbin\""
# Every rule of our prerouting chains (in bridge mode the node's bridge table's too), for the IPv4
# traces' checks (the IPv6 ones read the ip6 chains in scenario1 6).
if v4; then
  trA=$(node_counters node-a) trAz=$(chain_counters "$ZTA")
  trB=$(node_counters node-b) trBz=$(chain_counters istio-system-ztunnel-node-b)
fi

# scenario1 4|6: one connection of foo/sleep to the httpbin Service's VIP of that family and the
# steps 1-8 checked on it (scenario "1" in IPv4, "1/v6" in IPv6: the ip6 tables, `ip -6 route`,
# the IPv6 addresses in the sidecar's log and the app's greeting).
scenario1() {
  local S=1 fam=ip r="" vip=10.96.0.80 sleep=$SLEEP hb=$HTTPBIN zt_tp='tproxy to 127.0.0.1:15001'
  if [ "$1" = 6 ]; then
    S=1/v6 fam=ip6 r=-6 vip=$(vip6 10.96.0.80) sleep=$SLEEP6 hb=$HTTPBIN6 zt_tp='tproxy to [::1]:15001'
  fi
  mark0=$(FAM=$fam nft_counter node-a prerouting '@enrolled_pods')
  dnat0=$(FAM=$fam nft_counter node-a nat_prerouting 'dnat')
  out0=$(link_stat node-a istioout tx)
  pout0=$(link_stat "$ZTA" pistioout rx)
  tp0=$(FAM=$fam nft_counter "$ZTA" prerouting "$zt_tp")
  open0=$(metric node-a istio_tcp_connections_opened_total "$SRC_RE")
  arr0=$(FAM=$fam TABLE=e2e_sidecar nft_counter "$HB_NS" prerouting "$fam saddr $sleep")
  cap0=$(FAM=$fam TABLE=e2e_sidecar nft_counter "$HB_NS" prerouting 'tproxy')
  in0=$(link_stat node-b istioin tx)
  local tr6A="" tr6Az="" tr6B="" tr6Bz=""  # IPv6: the ip6 chains' counters, for the traces
  if [ "$1" = 6 ]; then
    tr6A=$(FAM=ip6 node_counters node-a) tr6Az=$(FAM=ip6 chain_counters "$ZTA")
    tr6B=$(FAM=ip6 node_counters node-b) tr6Bz=$(FAM=ip6 chain_counters istio-system-ztunnel-node-b)
  fi

  log "scenario $S: foo/sleep $sleep -> httpbin.bar $(hostport "$vip" 8000)"
  probe=$(inns "$SLEEP_NS" timeout 20 "$PY" "$ZT_TOOLS/tcp_tool.py" probe "$vip" 8000 1000 || true)
  echo "  sleep's client: $probe"

  mark1=$(FAM=$fam nft_counter node-a prerouting '@enrolled_pods')
  dnat1=$(FAM=$fam nft_counter node-a nat_prerouting 'dnat')
  out1=$(link_stat node-a istioout tx)
  pout1=$(link_stat "$ZTA" pistioout rx)
  tp1=$(FAM=$fam nft_counter "$ZTA" prerouting "$zt_tp")
  open1=$(metric node-a istio_tcp_connections_opened_total "$SRC_RE")
  arr1=$(FAM=$fam TABLE=e2e_sidecar nft_counter "$HB_NS" prerouting "$fam saddr $sleep")
  cap1=$(FAM=$fam TABLE=e2e_sidecar nft_counter "$HB_NS" prerouting 'tproxy')
  in1=$(link_stat node-b istioin tx)
  # shellcheck disable=SC2086 # $r: empty or -6
  route=$(inns node-a ip $r route get "$vip" from "$sleep" iif "$(pod_dev foo/sleep)" mark 0x100 2>&1 | head -n1 || true)
  # shellcheck disable=SC2086
  routeb=$(inns node-b ip $r route get "$hb" from "$sleep" iif eth0 2>&1 | head -n1 || true)
  sidecar_line=$(grep "^inbound " "$WORK/sidecar-bar-httpbin.log" | grep -F "inbound $(hostport "$sleep" '')" | tail -n1 || true)

  expect "$S" "1" "node-a: rule '$fam: tcp saddr @enrolled_pods -> mark 0x100' $(delta "$mark0" "$mark1") pkts" "$(grew "$mark0" "$mark1" && echo 0 || echo 1)" -eq 0
  expect "$S" "2" "node-a: VIP kept ($fam null dnat $(delta "$dnat0" "$dnat1")); route get: ${route//  / }" \
    "$(grew "$dnat0" "$dnat1" && grep -q 'dev istioout table 101' <<<"$route" && echo 0 || echo 1)" -eq 0
  # The tunnel kind the node really has; AMBIENT_EXPECT_TUNNEL (set for the geneve VM) demands one.
  kind=$(inns node-a ip -d link show istioout | grep -oE 'geneve|vxlan' | head -n1 || true)
  expect "$S" "3" "node-a: istioout tx $(delta "$out0" "$out1") pkts (${kind:-no tunnel} to ztunnel pod)" \
    "$(grew "$out0" "$out1" && [ -n "$kind" ] &&
       { [ -z "${AMBIENT_EXPECT_TUNNEL:-}" ] || [ "$kind" = "$AMBIENT_EXPECT_TUNNEL" ]; } && echo 0 || echo 1)" -eq 0
  expect "$S" "4" "ztunnel-a: pistioout rx $(delta "$pout0" "$pout1"); $fam TPROXY->${zt_tp##* } rule $(delta "$tp0" "$tp1")" \
    "$(grew "$pout0" "$pout1" && grew "$tp0" "$tp1" && echo 0 || echo 1)" -eq 0
  expect "$S" "5" "ztunnel-a 15020: opened_total{reporter=source,sleep->httpbin} $(delta "$open0" "$open1")" "$(grew "$open0" "$open1" && echo 0 || echo 1)" -eq 0
  expect "$S" "6" "httpbin eth0: from $sleep to $(hostport "$hb" 80) $(delta "$arr0" "$arr1") pkts" "$(grew "$arr0" "$arr1" && echo 0 || echo 1)" -eq 0
  expect "$S" "6" "node-b: not via its ztunnel: istioin tx $(delta "$in0" "$in1"); route get: ${routeb//  / }" \
    "$(same "$in0" "$in1" && ! grep -q istioin <<<"$routeb" && grep -q "dev $(pod_dev bar/httpbin)" <<<"$routeb" && echo 0 || echo 1)" -eq 0
  expect "$S" "7" "sidecar TPROXY->15006 $(delta "$cap0" "$cap1"); log: ${sidecar_line:-none}" \
    "$(grew "$cap0" "$cap1" && [[ "$sidecar_line" == *" -> $(hostport "$hb" 80) "* ]] && echo 0 || echo 1)" -eq 0
  expect "$S" "8" "app: $(json_get "$probe" '"server=\(.server) peer=\(.peer) echo_ok=\(.ok)"') (want peer $sleep)" \
    "$([ "$(json_get "$probe" .peer)" = "$sleep" ] && [ "$(json_get "$probe" .ok)" = true ] &&
       [ "$(json_get "$probe" .server)" = httpbin ] && echo 0 || echo 1)" -eq 0
  [ "$1" = 6 ] || return 0
  # The IPv6 connection as `ambientctl trace` follows it through the ip6 tables (the IPv4 traces
  # are below, after scenario1 4).
  local vhp
  vhp=$(hostport "$vip" 8000)
  FAM=ip6 trace_check "$S" node-a "steps 1-5 over IPv6 (ambient sleep -> httpbin's IPv6 VIP)" "$sleep" "$vhp" "$tr6A" "$tr6Az" \
    "sends a TCP SYN to $(rx "$vhp"); it enters the node on $(host_veth foo/sleep) \(enrolled\)$" \
    "node nft ip6 ambient_redirect prerouting rule #[0-9]+: .*ip6 saddr @enrolled_pods.* -> mark 0x100$" \
    "node routing: .* -> $(rx "$vip") via fd00:127::2 dev istioout table 101$" \
    "istioout: ${kind:-no tunnel} VNI [0-9]+ to $(rx "$(bracket "$(pod_addr istio-system/ztunnel-node-a)")"):[0-9]+ -> pistioout in the ztunnel pod$" \
    "ztunnel nft ip6 ambient_redirect prerouting rule #[0-9]+: .*tproxy to \[::1\]:15001" \
    "ztunnel routing: .* -> local delivery" \
    "ztunnel accepts on \[::1\]:15001 with original destination $(rx "$vhp") and source $(rx "$sleep")$" \
    "ztunnel connects from $(rx "$sleep") \(original source\) to $(rx "$vhp")" \
    "$ONWARD6_0X210" \
    "node routing: .* -> no route, the packet stops here: .*Service VIP"
  FAM=ip6 trace_check "$S" node-b "step 6 over IPv6 (arrival at the sidecar pod)" "$sleep" "$(hostport "$hb" 80)" "$tr6B" "$tr6Bz" \
    "$(rx "$sleep") is outside this node; its SYN to $(rx "$(hostport "$hb" 80)") arrives on eth0 " \
    "node nft ip6 ambient_redirect prerouting: no rule matches" \
    "leaves the node via $(pod_dev bar/httpbin): not redirected$"
}
if v4; then scenario1 4; fi

# The traces of this path against the counters of the rules the SYN really hit: the client's SYN
# (0x100, table 101, the tunnel, ztunnel's TPROXY to 15001) and ztunnel's onward connection
# (0x210), which for a VIP stops at the node's routing (ztunnel picks the endpoint itself).
if v4; then
  trace_check 1 node-a "steps 1-5 (ambient sleep -> httpbin VIP)" "$SLEEP" 10.96.0.80:8000 "$trA" "$trAz" \
    "sends a TCP SYN to 10\.96\.0\.80:8000; it enters the node on $(host_veth foo/sleep) \(enrolled\)$" \
    "node nft prerouting rule #[0-9]+: .*ip saddr @enrolled_pods.* -> mark 0x100$" \
    "node routing: .* -> 10\.96\.0\.80 via [0-9.]+ dev istioout table 101$" \
    "istioout: ${kind:-no tunnel} VNI [0-9]+ to ${POD_IP[istio-system/ztunnel-node-a]}:[0-9]+ -> pistioout in the ztunnel pod$" \
    "ztunnel nft prerouting rule #[0-9]+: .*tproxy to 127\.0\.0\.1:15001" \
    "ztunnel routing: .* -> local delivery" \
    "ztunnel accepts on 127\.0\.0\.1:15001 with original destination 10\.96\.0\.80:8000 and source $SLEEP$" \
    "ztunnel connects from $SLEEP \(original source\) to 10\.96\.0\.80:8000" \
    "$ONWARD_0X210" \
    "node routing: .* -> no route, the packet stops here: .*Service VIP"
  trace_check 1 node-b "step 6 (arrival at the sidecar pod)" "$SLEEP" "$HTTPBIN:80" "$trB" "$trBz" \
    "$SLEEP is outside this node; its SYN to $HTTPBIN:80 arrives on eth0 " \
    "node nft prerouting: no rule matches" \
    "leaves the node via $(pod_dev bar/httpbin): not redirected$"
fi
# The same steps over IPv6 (E2E_FAMILY=dual), after the IPv4 traces.
[ -z "$DUAL" ] || scenario1 6

# ---- flip: foo's ambient label removed and restored while sleep sends traffic -----------------
# Each connection goes either through ztunnel (enrolled) or straight to httpbin through the
# emulated kube-proxy (released); the pod is never restarted (no CNI call for it).
if want flip; then
  traffic_loop() {  # traffic_loop NETNS HOST PORT LOG STOP-FILE: one probe every 0.2 s until STOP-FILE
    while [ ! -e "$5" ]; do
      inns "$1" timeout 10 "$PY" "$ZT_TOOLS/tcp_tool.py" probe "$2" "$3" 100 >>"$4" 2>&1 || true
      sleep 0.2
    done
  }
  ok_probes() { grep -c '"ok": true' "$1" 2>/dev/null || true; }
  probes_at_least() { [ "$(ok_probes "$1")" -ge "$2" ]; }
  wait_probes() {  # wait_probes LOG N: until N more successful probes than now
    poll 30 probes_at_least "$1" $(($(ok_probes "$1") + $2))
  }
  annotation_of() {  # annotation_of NS/NAME: the pod's ambient.istio.io/redirection annotation
    curl -sf "$API/api/v1/namespaces/${1%/*}/pods/${1#*/}" |
      jq -r '.metadata.annotations["ambient.istio.io/redirection"] // "none"'
  }
  # The agent changes marks from a queue after the kernel (retrying a 409), so poll for them.
  annotated() { [ "$(annotation_of "$1")" = "$2" ]; }
  FLIP_LOG=$WORK/flip-traffic.log
  cni0=$(wc -l <"$WORK/node-a/cni.log")
  log "flip: foo/sleep probes httpbin.bar every 0.2 s while foo's label changes"
  traffic_loop "$SLEEP_NS" 10.96.0.80 8000 "$FLIP_LOG" "$WORK/flip.stop" &
  LOOP_PID=$!
  PIDS+=("$LOOP_PID")
  wait_probes "$FLIP_LOG" 3 || fail "no traffic from foo/sleep before the flip"
  api_namespace foo '{}'
  poll 30 bash -c "! ip netns exec $P-node-a nft list set ip ambient_redirect enrolled_pods | grep -qw $SLEEP"
  released=$?
  poll 30 annotated foo/sleep none || true  # judged below
  ann_off=$(annotation_of foo/sleep)
  m1=$(metric node-a istio_tcp_connections_opened_total "$SRC_RE")
  kp1=$(TABLE=e2e_kube_proxy nft_counter node-a prerouting 'ip daddr 10.96.0.80')
  wait_probes "$FLIP_LOG" 3
  m2=$(metric node-a istio_tcp_connections_opened_total "$SRC_RE")
  kp2=$(TABLE=e2e_kube_proxy nft_counter node-a prerouting 'ip daddr 10.96.0.80')
  expect flip "off" "label removed: released=$([ "$released" -eq 0 ] && echo yes || echo no), annotation '$ann_off'; ztunnel-a opened $(delta "$m1" "$m2"), kube-proxy DNAT $(delta "$kp1" "$kp2")" \
    "$([ "$released" -eq 0 ] && [ "$ann_off" = none ] && same "$m1" "$m2" && grew "$kp1" "$kp2" && echo 0 || echo 1)" -eq 0
  api_namespace foo '{"istio.io/dataplane-mode":"ambient"}'
  poll 30 enrolled foo/sleep
  reenrolled=$?
  poll 30 annotated foo/sleep enabled || true  # judged below
  ann_on=$(annotation_of foo/sleep)
  m3=$(metric node-a istio_tcp_connections_opened_total "$SRC_RE")
  wait_probes "$FLIP_LOG" 3
  m4=$(metric node-a istio_tcp_connections_opened_total "$SRC_RE")
  touch "$WORK/flip.stop"
  wait "$LOOP_PID" 2>/dev/null || true
  total=$(grep -c '"ok"' "$FLIP_LOG" || true)
  bad=$((total - $(ok_probes "$FLIP_LOG")))
  cni1=$(wc -l <"$WORK/node-a/cni.log")
  expect flip "on" "label restored: enrolled=$([ "$reenrolled" -eq 0 ] && echo yes || echo no), annotation '$ann_on'; ztunnel-a opened $(delta "$m3" "$m4")" \
    "$([ "$reenrolled" -eq 0 ] && [ "$ann_on" = enabled ] && grew "$m3" "$m4" && echo 0 || echo 1)" -eq 0
  # A connection open at the instant of a flip may break (its packets change path), as upstream's.
  expect flip "all" "$total connections, $bad failed (at most 1 per flip); CNI calls on node-a during the flips: $((cni1 - cni0))" \
    "$([ "$total" -gt 6 ] && [ "$bad" -le 2 ] && same "$cni0" "$cni1" && echo 0 || echo 1)" -eq 0
fi

# ---- restart: node-a's agent, then its ztunnel, killed and restarted during traffic ----------
# A non-ambient pod on node-a (bar/sleep, sidecar-injected namespace) holds connections that must
# survive both restarts; foo/sleep (ambient) holds connections through ztunnel-a that must
# survive the agent's restart.
if want restart; then
  add_pod node-a bar sleep '{"app":"sleep"}' "$SIDECAR_ANN" sleep
  hold() {  # hold POD HOST PORT N SECONDS OUT: idle connections in the background; PID in HOLD_PID
    inns "${POD_NETNS[$1]}" "$PY" "$ZT_TOOLS/tcp_tool.py" hold "$2" "$3" "$4" "$5" >"$6" 2>&1 &
    HOLD_PID=$!
    PIDS+=("$HOLD_PID")
  }
  established() {  # established POD PORT N: N connections to PORT established in the pod
    test "$(inns "${POD_NETNS[$1]}" ss -Htn state established "( dport = :$2 )" | wc -l)" -ge "$3"
  }
  # tcp_tool.py hold prints {"connected": N} once connected, then {"held": N, "ok": M}.
  held() { jq -r 'select(.held != null) | "\(.ok)/\(.held)"' "$1" 2>/dev/null || echo "none"; }
  held_all() { [ "$(jq -r 'select(.held != null) | .ok == .held and .held > 0' "$1" 2>/dev/null)" = true ]; }

  log "restart: SIGKILL of node-a's agent with connections open"
  hold foo/sleep 10.96.0.80 8000 3 6 "$WORK/hold-ambient.json"; HOLD_AMBIENT=$HOLD_PID
  hold bar/sleep "$HTTPBIN" 80 2 6 "$WORK/hold-plain.json"; HOLD_PLAIN=$HOLD_PID
  poll 20 established foo/sleep 8000 3 && poll 20 established bar/sleep 80 2 ||
    fail "the held connections did not open"
  kill -KILL "${AGENT_PID[node-a]}"
  wait "${AGENT_PID[node-a]}" 2>/dev/null || true
  m0=$(metric node-a istio_tcp_connections_opened_total "$SRC_RE")
  down=$(inns "$SLEEP_NS" timeout 10 "$PY" "$ZT_TOOLS/tcp_tool.py" probe 10.96.0.80 8000 100 || true)
  m1=$(metric node-a istio_tcp_connections_opened_total "$SRC_RE")
  expect restart "agent down" "new connection while the agent is away: ok=$(json_get "$down" .ok), through ztunnel-a ($(delta "$m0" "$m1"))" \
    "$([ "$(json_get "$down" .ok)" = true ] && grew "$m0" "$m1" && echo 0 || echo 1)" -eq 0
  start_agent node-a 1 agent-restarted
  poll 30 curl -sf "http://127.0.0.1:$((PORT_BASE + 1))/readyz" || fail "restarted agent of node-a never ready"
  wait "$HOLD_AMBIENT" "$HOLD_PLAIN" 2>/dev/null || true
  rc=0
  "$AMBIENTCTL_BIN" verify --quiet --state-dir "$WORK/node-a/state" || rc=$?
  expect restart "agent back" "held through the restart: ambient $(held "$WORK/hold-ambient.json"), non-ambient $(held "$WORK/hold-plain.json"); verify exit $rc" \
    "$(held_all "$WORK/hold-ambient.json" && held_all "$WORK/hold-plain.json" && [ "$rc" -eq 0 ] && echo 0 || echo 1)" -eq 0

  log "restart: SIGKILL of node-a's ztunnel"
  hold bar/sleep "$HTTPBIN" 80 2 5 "$WORK/hold-plain2.json"; HOLD_PLAIN=$HOLD_PID
  poll 20 established bar/sleep 80 2 || fail "the held connections did not open"
  kill -KILL "${ZTUNNEL_PID[node-a]}"
  wait "${ZTUNNEL_PID[node-a]}" 2>/dev/null || true
  arr0=$(TABLE=e2e_sidecar nft_counter "$HB_NS" prerouting "ip saddr $SLEEP")
  side0=$(grep -c "^inbound $SLEEP:" "$WORK/sidecar-bar-httpbin.log" || true)
  down=$(inns "$SLEEP_NS" timeout 3 "$PY" "$ZT_TOOLS/tcp_tool.py" probe 10.96.0.80 8000 100 || true)
  arr1=$(TABLE=e2e_sidecar nft_counter "$HB_NS" prerouting "ip saddr $SLEEP")
  side1=$(grep -c "^inbound $SLEEP:" "$WORK/sidecar-bar-httpbin.log" || true)
  expect restart "ztunnel down" "foo/sleep while ztunnel-a is away: ok=$(json_get "$down" .ok); packets from it at httpbin $(delta "$arr0" "$arr1"), sidecar accepts $(delta "$side0" "$side1")" \
    "$([ "$(json_get "$down" .ok)" != true ] && same "$arr0" "$arr1" && same "$side0" "$side1" && echo 0 || echo 1)" -eq 0
  start_ztunnel node-a ztunnel-restarted
  up=$(inns "$SLEEP_NS" timeout 20 "$PY" "$ZT_TOOLS/tcp_tool.py" probe 10.96.0.80 8000 100 || true)
  wait "$HOLD_PLAIN" 2>/dev/null || true
  expect restart "ztunnel back" "foo/sleep after the restart: ok=$(json_get "$up" .ok) peer $(json_get "$up" .peer); non-ambient held $(held "$WORK/hold-plain2.json")" \
    "$([ "$(json_get "$up" .ok)" = true ] && [ "$(json_get "$up" .peer)" = "$SLEEP" ] &&
       held_all "$WORK/hold-plain2.json" && echo 0 || echo 1)" -eq 0
fi

# ---- scenario 2: sidecar sleep (foo, node-a) -> ambient httpbin (bar-1, node-b) and -> ambient
# helloworld (bar-2, node-d) through its waypoint (node-c) --------------------------------------
if ! want no-scenario2; then
  log "scenario 2: foo relabelled for sidecar injection; sleep redeployed with a sidecar"
  api_namespace foo '{"istio-injection":"enabled"}'
  poll 30 not_enrolled foo/sleep || fail "foo/sleep was not released after foo lost its ambient label"
  remove_pod foo/sleep
  add_pod node-a foo sleep '{"app":"sleep"}' "$SIDECAR_ANN" sleep
  add_pod node-b bar-1 httpbin '{"app":"httpbin"}' '{}' httpbin
  add_pod node-c bar-2 waypoint '{"gateway.istio.io/managed":"istio.io-mesh-controller"}' \
    '{"ambient.istio.io/redirection":"disabled"}' waypoint
  add_pod node-d bar-2 helloworld '{"app":"helloworld","istio.io/use-waypoint":"waypoint"}' '{}' helloworld
  not_enrolled foo/sleep || fail "foo/sleep (sidecar) was enrolled on node-a"
  not_enrolled bar-2/waypoint || fail "the waypoint (opted out) was enrolled on node-c"
  enrolled bar-1/httpbin || fail "bar-1/httpbin was not enrolled on node-b"
  enrolled bar-2/helloworld || fail "bar-2/helloworld was not enrolled on node-d"
  start_app bar-1/httpbin
  start_app bar-2/helloworld
  api_service bar-1 httpbin 10.96.0.81 8000 80 httpbin
  api_service bar-2 helloworld 10.96.0.82 8000 80 helloworld
  api_service bar-2 waypoint 10.96.0.83 15008 15008 waypoint
  SLEEP2=${POD_IP[foo/sleep]}
  HTTPBIN2=${POD_IP[bar-1/httpbin]}
  HELLO=${POD_IP[bar-2/helloworld]}
  WAYPOINT=${POD_IP[bar-2/waypoint]}
  SLEEP2_6=${POD_IP6[foo/sleep]:-}
  HTTPBIN2_6=${POD_IP6[bar-1/httpbin]:-}
  HELLO6=${POD_IP6[bar-2/helloworld]:-}
  WAYPOINT6=${POD_IP6[bar-2/waypoint]:-}
  # Dual-stack: the same routes for the Services' IPv6 VIPs, to the pods' IPv6 addresses (an IPv6
  # address:port is [ip]:port, as in an HTTP authority).
  ROUTES6="" WP_ROUTES6=""
  if [ -n "$DUAL" ]; then
    ROUTES6=",
    \"[$(vip6 10.96.0.81)]:8000\": {\"hbone\": \"[$HTTPBIN2_6]:15008\", \"authority\": \"[$HTTPBIN2_6]:80\",
                         \"identity\": \"spiffe://cluster.local/ns/bar-1/sa/httpbin\"},
    \"[$(vip6 10.96.0.82)]:8000\": {\"hbone\": \"[$WAYPOINT6]:15008\", \"authority\": \"[$(vip6 10.96.0.82)]:8000\",
                         \"identity\": \"spiffe://cluster.local/ns/bar-2/sa/waypoint\"}"
    WP_ROUTES6=",
   \"[$(vip6 10.96.0.82)]:8000\": {\"hbone\": \"[$HELLO6]:15008\", \"authority\": \"[$HELLO6]:80\",
                       \"identity\": \"spiffe://cluster.local/ns/bar-2/sa/helloworld\"}"
  fi
  # IPv6-only: the IPv4 routes (empty addresses) are left out, the IPv6 ones kept.
  only_v6_routes() {
    if [ -n "$V6ONLY" ]; then jq 'with_entries(select(.key | startswith("[")))'; else cat; fi
  }
  # The sidecar's and the waypoint's routing, as istiod would push it: HBONE to the ambient pod,
  # or to the waypoint for a service that has one.
  sidecar_capture foo/sleep "$(only_v6_routes <<<"{
    \"10.96.0.81:8000\": {\"hbone\": \"$HTTPBIN2:15008\", \"authority\": \"$HTTPBIN2:80\",
                         \"identity\": \"spiffe://cluster.local/ns/bar-1/sa/httpbin\"},
    \"10.96.0.82:8000\": {\"hbone\": \"$WAYPOINT:15008\", \"authority\": \"10.96.0.82:8000\",
                         \"identity\": \"spiffe://cluster.local/ns/bar-2/sa/waypoint\"}$ROUTES6}")"
  only_v6_routes >"$WORK/routes-waypoint.json" <<EOF
  {"10.96.0.82:8000": {"hbone": "$HELLO:15008", "authority": "$HELLO:80",
                       "identity": "spiffe://cluster.local/ns/bar-2/sa/helloworld"}$WP_ROUTES6}
EOF
  bg "${POD_NETNS[bar-2/waypoint]}" waypoint "$PY" "$E2E/mesh_proxy.py" waypoint 15008 \
    "$WORK/ca/bar-2/waypoint" "$WORK/ca/root-cert.pem" "$WORK/routes-waypoint.json"
  poll 20 grep -q listening "$WORK/waypoint.log" || fail "the waypoint proxy did not start"
  poll 30 ztunnel_knows node-b bar-1/httpbin HBONE httpbin.bar-1.svc.cluster.local "$(vip6 10.96.0.81)" ||
    fail "ztunnel on node-b never learnt bar-1/httpbin as HBONE"
  poll 30 ztunnel_knows node-d bar-2/helloworld HBONE helloworld.bar-2.svc.cluster.local "$(vip6 10.96.0.82)" ||
    fail "ztunnel on node-d never learnt bar-2/helloworld as HBONE"
  SL_NS=${POD_NETNS[foo/sleep]}
  ZTB=istio-system-ztunnel-node-b
  ZTD=istio-system-ztunnel-node-d
  OUT_LOG=$WORK/sidecar-out-foo-sleep.log

  # Part 1: [sleep -> sidecar] -> ztunnel (node-b) -> httpbin; scenario2_httpbin 4|6 (scenario "2"
  # in IPv4, "2/v6" over the IPv6 VIP, the sidecar's HBONE to httpbin's IPv6 and the ip6 tables).
  DST_RE="reporter=\"destination\".*source_principal=\"spiffe://cluster.local/ns/foo/sa/sleep\".*destination_workload=\"httpbin\""
  if v4; then tr2B=$(node_counters node-b) tr2Bz=$(chain_counters "$ZTB"); fi
  scenario2_httpbin() {
    local S=2 fam=ip r="" vip=10.96.0.81 sleep=$SLEEP2 hb=$HTTPBIN2
    if [ "$1" = 6 ]; then S=2/v6 fam=ip6 r=-6 vip=$(vip6 10.96.0.81) sleep=$SLEEP2_6 hb=$HTTPBIN2_6; fi
    cap0=$(FAM=$fam TABLE=e2e_sidecar nft_counter "$SL_NS" output_nat 'redirect to :15001')
    mark0=$(FAM=$fam nft_counter node-a prerouting '@enrolled_pods')
    bin0=$(link_stat node-b istioin tx)
    pin0=$(link_stat "$ZTB" pistioin rx)
    tp0=$(FAM=$fam nft_counter "$ZTB" prerouting 'tcp dport 15008 tproxy')
    open0=$(metric node-b istio_tcp_connections_opened_total "$DST_RE")
    local tr6B="" tr6Bz=""
    [ "$1" = 4 ] || tr6B=$(FAM=ip6 node_counters node-b) tr6Bz=$(FAM=ip6 chain_counters "$ZTB")
    log "scenario $S part 1: foo/sleep $sleep -> httpbin.bar-1 $(hostport "$vip" 8000)"
    probe=$(inns "$SL_NS" timeout 20 "$PY" "$ZT_TOOLS/tcp_tool.py" probe "$vip" 8000 1000 || true)
    echo "  sleep's client: $probe"
    cap1=$(FAM=$fam TABLE=e2e_sidecar nft_counter "$SL_NS" output_nat 'redirect to :15001')
    mark1=$(FAM=$fam nft_counter node-a prerouting '@enrolled_pods')
    bin1=$(link_stat node-b istioin tx)
    pin1=$(link_stat "$ZTB" pistioin rx)
    tp1=$(FAM=$fam nft_counter "$ZTB" prerouting 'tcp dport 15008 tproxy')
    open1=$(metric node-b istio_tcp_connections_opened_total "$DST_RE")
    # shellcheck disable=SC2086 # $r: empty or -6
    route=$(inns node-b ip $r route get "$hb" from "$sleep" iif eth0 2>&1 | head -n1 || true)
    out_line=$(grep -F -- "-> $(hostport "$vip" 8000) " "$OUT_LOG" | tail -n1 || true)

    expect "$S" "1-4" "sleep $fam REDIRECT->15001 $(delta "$cap0" "$cap1"); sidecar: ${out_line#outbound }; node-a $fam 0x100 rule $(delta "$mark0" "$mark1")" \
      "$(grew "$cap0" "$cap1" && same "$mark0" "$mark1" &&
         [[ "$out_line" == *"hbone $(hostport "$hb" 15008) "*"identity spiffe://cluster.local/ns/bar-1/sa/httpbin status 200"* ]] &&
         echo 0 || echo 1)" -eq 0
    expect "$S" "5-6" "node-b: istioin tx $(delta "$bin0" "$bin1"); route get: ${route//  / }" \
      "$(grew "$bin0" "$bin1" && grep -q 'dev istioin table 100' <<<"$route" && echo 0 || echo 1)" -eq 0
    expect "$S" "7-8" "ztunnel-b: pistioin rx $(delta "$pin0" "$pin1"); $fam TPROXY dport 15008->15008 rule $(delta "$tp0" "$tp1")" \
      "$(grew "$pin0" "$pin1" && grew "$tp0" "$tp1" && echo 0 || echo 1)" -eq 0
    expect "$S" "9" "ztunnel-b opened{destination,foo/sleep->httpbin} $(delta "$open0" "$open1"); app: $(json_get "$probe" '"server=\(.server) peer=\(.peer) echo_ok=\(.ok)"')" \
      "$(grew "$open0" "$open1" && [ "$(json_get "$probe" .server)" = httpbin ] &&
         [ "$(json_get "$probe" .peer)" = "$sleep" ] && [ "$(json_get "$probe" .ok)" = true ] && echo 0 || echo 1)" -eq 0
    [ "$1" = 6 ] || return 0  # the IPv4 traces are below, after verify
    local dhp
    dhp=$(hostport "$hb" 15008)
    FAM=ip6 trace_check "$S" node-b "steps 5-9 over IPv6 (sidecar's HBONE to ambient httpbin)" "$sleep" "$dhp" "$tr6B" "$tr6Bz" \
      "$(rx "$sleep") is outside this node; its SYN to $(rx "$dhp") arrives on eth0 " \
      "node routing: .* -> $(rx "$hb") via fd00:126::2 dev istioin table 100$" \
      "istioin: ${kind:-no tunnel} VNI [0-9]+ to $(rx "$(bracket "$(pod_addr istio-system/ztunnel-node-b)")"):[0-9]+ -> pistioin in the ztunnel pod$" \
      "ztunnel nft ip6 ambient_redirect prerouting rule #[0-9]+: .*tcp dport 15008 tproxy to \[::1\]:15008" \
      "ztunnel accepts on \[::1\]:15008 with original destination $(rx "$dhp") " \
      "$ONWARD6_0X210" \
      "node routing: .* -> $(rx "$hb") dev $(pod_dev bar-1/httpbin) table 254$" \
      "leaves via $(pod_dev bar-1/httpbin) to bar-1/httpbin$"
  }
  if v4; then scenario2_httpbin 4; fi
  [ -z "$DUAL" ] || scenario2_httpbin 6

  # Part 2: [sleep -> sidecar] -> waypoint (node-c) -> ztunnel (node-d) -> helloworld;
  # scenario2_waypoint 4|6 (IPv6: the waypoint's HBONE leg, too, is IPv6).
  WP_RE="reporter=\"destination\".*source_principal=\"spiffe://cluster.local/ns/bar-2/sa/waypoint\".*destination_workload=\"helloworld\""
  if v4; then trD=$(node_counters node-d) trDz=$(chain_counters "$ZTD"); fi
  scenario2_waypoint() {
    local S=2 fam=ip vip=10.96.0.82 sleep=$SLEEP2 hello=$HELLO wp=$WAYPOINT
    if [ "$1" = 6 ]; then S=2/v6 fam=ip6 vip=$(vip6 10.96.0.82) sleep=$SLEEP2_6 hello=$HELLO6 wp=$WAYPOINT6; fi
    local vhp
    vhp=$(hostport "$vip" 8000)
    cin0=$(link_stat node-c istioin tx); cout0=$(link_stat node-c istioout tx)
    din0=$(link_stat node-d istioin tx)
    pin0=$(link_stat "$ZTD" pistioin rx)
    tp0=$(FAM=$fam nft_counter "$ZTD" prerouting 'tcp dport 15008 tproxy')
    open0=$(metric node-d istio_tcp_connections_opened_total "$WP_RE")
    local tr6D="" tr6Dz=""
    [ "$1" = 4 ] || tr6D=$(FAM=ip6 node_counters node-d) tr6Dz=$(FAM=ip6 chain_counters "$ZTD")
    log "scenario $S part 2: foo/sleep $sleep -> helloworld.bar-2 $vhp (waypoint $wp)"
    probe=$(inns "$SL_NS" timeout 20 "$PY" "$ZT_TOOLS/tcp_tool.py" probe "$vip" 8000 1000 || true)
    echo "  sleep's client: $probe"
    cin1=$(link_stat node-c istioin tx); cout1=$(link_stat node-c istioout tx)
    din1=$(link_stat node-d istioin tx)
    pin1=$(link_stat "$ZTD" pistioin rx)
    tp1=$(FAM=$fam nft_counter "$ZTD" prerouting 'tcp dport 15008 tproxy')
    open1=$(metric node-d istio_tcp_connections_opened_total "$WP_RE")
    out_line=$(grep -F -- "-> $vhp " "$OUT_LOG" | tail -n1 || true)
    wp_line=$(grep -F "waypoint spiffe://cluster.local/ns/foo/sa/sleep $vhp " "$WORK/waypoint.log" | tail -n1 || true)
    view_wp=$(inns "istio-system-ztunnel-node-d" curl -sf http://127.0.0.1:15000/config_dump |
      jq -r --arg ip "$hello" '.workloads[] | select(.workloadIps | index($ip)) | .waypoint.destination.hostname // "none"' 2>/dev/null || true)

    expect "$S" "w1" "sidecar: ${out_line#outbound }" \
      "$([[ "$out_line" == *"hbone $(hostport "$wp" 15008) authority $vhp identity spiffe://cluster.local/ns/bar-2/sa/waypoint status 200"* ]] &&
         echo 0 || echo 1)" -eq 0
    expect "$S" "w2" "node-c: waypoint not captured (istioin $(delta "$cin0" "$cin1"), istioout $(delta "$cout0" "$cout1")); ${wp_line:-no waypoint log line}" \
      "$(same "$cin0" "$cin1" && same "$cout0" "$cout1" &&
         [[ "$wp_line" == *"hbone $(hostport "$hello" 15008) authority $(hostport "$hello" 80) status 200"* ]] &&
         echo 0 || echo 1)" -eq 0
    expect "$S" "w3" "node-d: istioin tx $(delta "$din0" "$din1"); ztunnel-d pistioin rx $(delta "$pin0" "$pin1"), $fam TPROXY 15008 $(delta "$tp0" "$tp1"); view: waypoint $view_wp" \
      "$(grew "$din0" "$din1" && grew "$pin0" "$pin1" && grew "$tp0" "$tp1" &&
         [ "$view_wp" = waypoint.bar-2.svc.cluster.local ] && echo 0 || echo 1)" -eq 0
    expect "$S" "w4" "ztunnel-d opened{destination,waypoint->helloworld} $(delta "$open0" "$open1"); app: $(json_get "$probe" '"server=\(.server) peer=\(.peer) echo_ok=\(.ok)"') (want peer $wp)" \
      "$(grew "$open0" "$open1" && [ "$(json_get "$probe" .server)" = helloworld ] &&
         [ "$(json_get "$probe" .peer)" = "$wp" ] && [ "$(json_get "$probe" .ok)" = true ] && echo 0 || echo 1)" -eq 0
    [ "$1" = 6 ] || return 0
    local dhp
    dhp=$(hostport "$hello" 15008)
    FAM=ip6 trace_check "$S" node-d "waypoint path over IPv6 (waypoint's HBONE to helloworld)" "$wp" "$dhp" "$tr6D" "$tr6Dz" \
      "$(rx "$wp") is outside this node; its SYN to $(rx "$dhp") arrives on eth0 " \
      "node routing: .* -> $(rx "$hello") via fd00:126::2 dev istioin table 100$" \
      "istioin: ${kind:-no tunnel} VNI [0-9]+ to $(rx "$(bracket "$(pod_addr istio-system/ztunnel-node-d)")"):[0-9]+ -> pistioin in the ztunnel pod$" \
      "ztunnel nft ip6 ambient_redirect prerouting rule #[0-9]+: .*tcp dport 15008 tproxy to \[::1\]:15008" \
      "ztunnel accepts on \[::1\]:15008 with original destination $(rx "$dhp") " \
      "$ONWARD6_0X210" \
      "node routing: .* -> $(rx "$hello") dev $(pod_dev bar-2/helloworld) table 254$" \
      "leaves via $(pod_dev bar-2/helloworld) to bar-2/helloworld$"
  }
  if v4; then scenario2_waypoint 4; fi
  [ -z "$DUAL" ] || scenario2_waypoint 6

  # Part 3 (issue 22): an AuthorizationPolicy on bar-1's httpbin allowing only sleep's identity,
  # created in the API as a user would. A second ambient client (bar-2/client on node-c, whose
  # ztunnel speaks HBONE as spiffe://.../ns/bar-2/sa/client) is then refused by node-b's ztunnel,
  # and no byte of httpbin reaches it, while sleep (its sidecar's HBONE) still gets through; the
  # denial is counted, listed by `ambientctl policies`, and named by `ambientctl trace`.
  scenario2_policy() {
    local S=2 pol=httpbin-only-sleep client cprobe sprobe d0 d1 pol_out trace_out tr_line rc=0
    add_pod node-c bar-2 client '{"app":"client"}' '{}' client
    poll 30 enrolled bar-2/client || fail "bar-2/client was not enrolled on node-c"
    client=${POD_IP[bar-2/client]}
    api_apply authorizationpolicies "{\"apiVersion\":\"security.istio.io/v1\",
      \"kind\":\"AuthorizationPolicy\",\"metadata\":{\"name\":\"$pol\",\"namespace\":\"bar-1\"},
      \"spec\":{\"selector\":{\"matchLabels\":{\"app\":\"httpbin\"}},\"action\":\"ALLOW\",
        \"rules\":[{\"from\":[{\"source\":{\"principals\":[\"cluster.local/ns/foo/sa/sleep\"]}}]}]}}"
    policy_loaded() {  # node-b's ztunnel reads the policy; node-c's knows the client and httpbin as HBONE
      inns istio-system-ztunnel-node-b curl -sf http://127.0.0.1:15000/config_dump |
        jq -e --arg n "$pol" '[.policyStatus[]? | select(.name == $n and .status == "ok")] | length == 1' >/dev/null &&
        inns istio-system-ztunnel-node-c curl -sf http://127.0.0.1:15000/config_dump |
        jq -e --arg ip "$client" '[.workloads[] | select((.workloadIps | index($ip)) and .protocol == "HBONE")] | length == 1' >/dev/null &&
        ztunnel_knows node-c bar-1/httpbin HBONE httpbin.bar-1.svc.cluster.local
    }
    poll 30 policy_loaded || fail "the AuthorizationPolicy bar-1/$pol never reached node-b's ztunnel"
    log "scenario 2 part 3: bar-1/$pol allows only foo/sleep; bar-2/client $client -> httpbin.bar-1 10.96.0.81:8000"
    d0=$(metric node-b istio_tcp_connections_denied_total 'reason="no_allow_match"')
    cprobe=$(inns "${POD_NETNS[bar-2/client]}" timeout 20 "$PY" "$ZT_TOOLS/tcp_tool.py" probe 10.96.0.81 8000 1000 || true)
    echo "  client: $cprobe"
    sprobe=$(inns "$SL_NS" timeout 20 "$PY" "$ZT_TOOLS/tcp_tool.py" probe 10.96.0.81 8000 1000 || true)
    echo "  sleep: $sprobe"
    d1=$(metric node-b istio_tcp_connections_denied_total 'reason="no_allow_match"')
    expect "$S" "p1" "bar-2/client refused by ztunnel-b (denied{no_allow_match} $(delta "$d0" "$d1")); client's view: $(json_get "$cprobe" '"server=\(.server // "") bytes=\(.bytes // 0) ok=\(.ok)"')" \
      "$(grew "$d0" "$d1" && [ -z "$(json_get "$cprobe" '.server // empty')" ] &&
         [ "$(json_get "$cprobe" '.bytes // 0')" -le 0 ] && [ "$(json_get "$cprobe" .ok)" = false ] && echo 0 || echo 1)" -eq 0
    expect "$S" "p2" "foo/sleep still allowed: $(json_get "$sprobe" '"server=\(.server) peer=\(.peer) echo_ok=\(.ok)"')" \
      "$([ "$(json_get "$sprobe" .server)" = httpbin ] && [ "$(json_get "$sprobe" .ok)" = true ] && echo 0 || echo 1)" -eq 0
    pol_out=$("$AMBIENTCTL_BIN" policies --state-dir "$WORK/node-b/state" bar-1/httpbin 2>&1) || rc=$?
    echo "== ambientctl policies on node-b, bar-1/httpbin"
    sed 's/^/   /' <<<"$pol_out"
    expect "$S" "p3" "ambientctl policies bar-1/httpbin (exit $rc): $(grep -c "ALLOW bar-1/$pol" <<<"$pol_out") policy line, $(grep -cF "$client:" <<<"$pol_out") denial(s) from $client" \
      "$([ "$rc" -eq 0 ] && grep -q "ALLOW bar-1/$pol (WorkloadSelector" <<<"$pol_out" &&
         grep -qE "$(rx "$client"):[0-9]+ \(cluster\.local/ns/bar-2/sa/client\) -> $(rx "$HTTPBIN2"):80: no_allow_match" <<<"$pol_out" &&
         echo 0 || echo 1)" -eq 0
    rc=0
    trace_out=$("$AMBIENTCTL_BIN" trace --state-dir "$WORK/node-c/state" "$client" 10.96.0.81:8000 2>&1) || rc=$?
    echo "== ambientctl trace on node-c, bar-2/client -> 10.96.0.81:8000"
    sed 's/^/   /' <<<"$trace_out"
    tr_line=$(grep -E '^\([0-9]+\) policy, ' <<<"$trace_out" || true)
    expect "$S" "p4" "trace's policy hop (exit $rc): ${tr_line:-none}" \
      "$([ "$rc" -eq 0 ] && [[ "$tr_line" == *"HBONE from spiffe://cluster.local/ns/bar-2/sa/client, at the endpoints of service bar-1/httpbin: bar-1/httpbin: denied, ALLOW policies select the pod and none matches"* ]] &&
         echo 0 || echo 1)" -eq 0
  }
  if v4; then scenario2_policy; fi
fi

# ---- each node's kernel state is exactly the agent's plan; the paths as ambientctl traces them -
for node in "${NODES[@]}"; do
  rc=0
  v=$("$AMBIENTCTL_BIN" verify --state-dir "$WORK/$node/state" 2>&1) || rc=$?
  echo "  ambientctl verify ($node): $(tail -n1 <<<"$v")"
  expect all verify "$node: ambientctl verify exit $rc: $(tail -n1 <<<"$v" | cut -c1-60)" "$rc" -eq 0
done
# IPv6-only (E2E_FAMILY=ipv6): each node's tunnels ride on IPv6 to its ztunnel pod's IPv6
# address, the node has no `ip ambient_redirect` table (no IPv4 redirection object) but its ip6
# one, and ztunnel's pod has no IPv4 address; the API objects are single-stack IPv6.
if [ -n "$V6ONLY" ]; then
  for node in "${NODES[@]}"; do
    zt=istio-system/ztunnel-$node
    rin=$(inns "$node" ip -d link show istioin 2>&1 | grep -oE 'remote [0-9a-f:.]+' | head -n1 || true)
    rout=$(inns "$node" ip -d link show istioout 2>&1 | grep -oE 'remote [0-9a-f:.]+' | head -n1 || true)
    t4=absent t6=absent
    inns "$node" nft list table ip ambient_redirect >/dev/null 2>&1 && t4=present
    inns "$node" nft list table ip6 ambient_redirect >/dev/null 2>&1 && t6=present
    zt4=$(inns "${POD_NETNS[$zt]}" ip -4 -o addr show dev eth0 2>&1 | awk '{print $4}' | tr '\n' ' ' || true)
    expect ipv6 "$node" "istioin ${rin:-no remote}, istioout ${rout:-no remote} (ztunnel ${POD_IP6[$zt]}); table ip ambient_redirect $t4, ip6 $t6; ztunnel eth0 IPv4: ${zt4:-none}" \
      "$([ "$rin" = "remote ${POD_IP6[$zt]}" ] && [ "$rout" = "remote ${POD_IP6[$zt]}" ] &&
         [ "$t4" = absent ] && [ "$t6" = present ] && [ -z "$zt4" ] && echo 0 || echo 1)" -eq 0
  done
  api_pods=$(curl -sf "$API/api/v1/pods" | jq -r '[.items[] | select(.status.podIPs != null)] |
    "\(length) pods, \([.[] | select(all(.status.podIPs[]; .ip | contains(":")) and (.status.podIP | contains(":")))] | length) IPv6-only"')
  api_svcs=$(curl -sf "$API/api/v1/services" | jq -r '.items |
    "\(length) Services, \([.[] | select(.spec.ipFamilies == ["IPv6"] and .spec.ipFamilyPolicy == "SingleStack"
      and (.spec.clusterIP | contains(":")) and .spec.clusterIPs == [.spec.clusterIP])] | length) SingleStack IPv6"')
  api_eps=$(curl -sf "$API/apis/discovery.k8s.io/v1/endpointslices" | jq -r '.items |
    "\(length) EndpointSlices, \([.[] | select(.addressType == "IPv6")] | length) IPv6"')
  api_ok=0
  for c in "$api_pods" "$api_svcs" "$api_eps"; do  # "N things, M of them single-stack IPv6"
    read -r n _ m _ <<<"$c"
    if ! is_count "${n:-}" || [ "$n" -eq 0 ] || [ "$n" != "$m" ]; then api_ok=1; fi
  done
  expect ipv6 api "$api_pods; $api_svcs; $api_eps" "$api_ok" -eq 0
fi
if v4 && ! want no-scenario2; then
  trace_check 2 node-b "steps 5-9 (sidecar's HBONE to ambient httpbin)" "$SLEEP2" "$HTTPBIN2:15008" "$tr2B" "$tr2Bz" \
    "$SLEEP2 is outside this node; its SYN to $HTTPBIN2:15008 arrives on eth0 " \
    "node routing: .* -> $HTTPBIN2 via [0-9.]+ dev istioin table 100$" \
    "istioin: ${kind:-no tunnel} VNI [0-9]+ to ${POD_IP[istio-system/ztunnel-node-b]}:[0-9]+ -> pistioin in the ztunnel pod$" \
    "ztunnel nft prerouting rule #[0-9]+: .*tcp dport 15008 tproxy to 127\.0\.0\.1:15008" \
    "ztunnel accepts on 127\.0\.0\.1:15008 with original destination $HTTPBIN2:15008 " \
    "$ONWARD_0X210" \
    "node routing: .* -> $HTTPBIN2 dev $(pod_dev bar-1/httpbin) table 254$" \
    "leaves via $(pod_dev bar-1/httpbin) to bar-1/httpbin$" \
    "policy, HBONE from spiffe://cluster\.local/ns/foo/sa/sleep .*, at bar-1/httpbin: allowed by ALLOW bar-1/httpbin-only-sleep$"
  trace_check 2 node-d "waypoint path (waypoint's HBONE to helloworld)" "$WAYPOINT" "$HELLO:15008" "$trD" "$trDz" \
    "$WAYPOINT is outside this node; its SYN to $HELLO:15008 arrives on eth0 " \
    "node routing: .* -> $HELLO via [0-9.]+ dev istioin table 100$" \
    "istioin: ${kind:-no tunnel} VNI [0-9]+ to ${POD_IP[istio-system/ztunnel-node-d]}:[0-9]+ -> pistioin in the ztunnel pod$" \
    "ztunnel nft prerouting rule #[0-9]+: .*tcp dport 15008 tproxy to 127\.0\.0\.1:15008" \
    "ztunnel accepts on 127\.0\.0\.1:15008 with original destination $HELLO:15008 " \
    "$ONWARD_0X210" \
    "node routing: .* -> $HELLO dev $(pod_dev bar-2/helloworld) table 254$" \
    "leaves via $(pod_dev bar-2/helloworld) to bar-2/helloworld$"
fi

hold_for_exploring

# ---- uninstall: every agent stopped, `ambient-agent uninstall` run; nothing of ours is left ---
if want uninstall; then
  leftovers() {  # leftovers NETNS: our objects still in that namespace, one word each
    local ns=$1 out=""
    inns "$ns" nft list table ip ambient_redirect >/dev/null 2>&1 && out="$out nft"
    inns "$ns" nft list table bridge ambient_bridge >/dev/null 2>&1 && out="$out nft-bridge"
    for l in istioin istioout pistioin pistioout; do
      inns "$ns" ip link show "$l" >/dev/null 2>&1 && out="$out $l"
    done
    [ -n "$(inns "$ns" ip route show table all proto 112 2>/dev/null)" ] && out="$out routes"
    inns "$ns" ip rule show | grep -qE '^(99|100|101|102|103|20000|20003):' && out="$out rules"
    if [ -n "$DUAL" ]; then  # the IPv6 twins
      inns "$ns" nft list table ip6 ambient_redirect >/dev/null 2>&1 && out="$out nft6"
      [ -n "$(inns "$ns" ip -6 route show table all proto 112 2>/dev/null)" ] && out="$out routes6"
      inns "$ns" ip -6 rule show | grep -qE '^(99|100|101|102|103|20000|20003):' && out="$out rules6"
    fi
    echo "${out:-none}"
  }
  for node in "${NODES[@]}"; do
    kill -TERM "${AGENT_PID[$node]}"
    wait "${AGENT_PID[$node]}" 2>/dev/null || true
    rc=0
    "$AGENT_BIN" uninstall --state-dir "$WORK/$node/state" --node-netns "/var/run/netns/$P-$node" \
      --kubeconfig "$WORK/kubeconfig" --node-name "$node" >"$WORK/$node/uninstall.log" 2>&1 || rc=$?
    left_node=$(leftovers "$node")
    left_zt=$(leftovers "istio-system-ztunnel-$node")
    files=$(cd "$WORK/$node/state" && ls -A | tr '\n' ' ')
    rpf=$(inns "$node" sysctl -n net.ipv4.conf.all.rp_filter)
    expect uninstall "$node" "exit $rc; left on the node: $left_node, in the ztunnel pod: $left_zt; state files: ${files:-none}; all.rp_filter $rpf (was ${RPF_BEFORE[$node]})" \
      "$([ "$rc" -eq 0 ] && [ "$left_node" = none ] && [ "$left_zt" = none ] && [ -z "$files" ] &&
         [ "$rpf" = "${RPF_BEFORE[$node]}" ] && echo 0 || echo 1)" -eq 0
  done
  marked=$(curl -sf "$API/api/v1/pods" | jq -r '[.items[] | select(.metadata.annotations["ambient.istio.io/redirection"] == "enabled") | "\(.metadata.namespace)/\(.metadata.name)"] | join(" ")')
  expect uninstall "api" "pods still annotated ambient.istio.io/redirection=enabled: ${marked:-none}" "$([ -z "$marked" ] && echo 0 || echo 1)" -eq 0
fi

log "done in $(($(date +%s) - START)) s"
[ "$FAILED" -eq 0 ] || fail "some steps failed (table below)"
echo "PASS e2e scenarios"
