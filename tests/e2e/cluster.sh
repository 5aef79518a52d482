# shellcheck shell=bash disable=SC2034
# Sourced by the end-to-end tests (and scripts/demo.sh): an emulated four-node cluster on one
# machine. Network namespaces stand for nodes and pods, the test Kubernetes API server for the
# control plane, one nft DNAT table per node for kube-proxy; everything else is real: one
# containerd per node creating the pods through its CRI (tests/runtime/runtime_lib.sh), Debian's
# ptp (or bridge: E2E_PRIMARY) + host-local CNI plugins with ambient-cni put last by ambient-cni-install, one
# ambient-agent and one ztunnel per node. Needs root. Removes every namespace and stops every
# process it started (by PID) on exit.
#
#   fabric netns: bridge br0
#     |-- node-a eth0 172.30.0.1/24, pods 10.244.1.0/24
#     |-- node-b eth0 172.30.0.2/24, pods 10.244.2.0/24
#     |-- node-c eth0 172.30.0.3/24, pods 10.244.3.0/24
#     `-- node-d eth0 172.30.0.4/24, pods 10.244.4.0/24
#   each node routes the other nodes' pod CIDRs via their eth0 address.
#
# Environment: AGENT_BIN, CNI_BIN (ambient-cni), CNI_INSTALL_BIN (ambient-cni-install; default:
# next to CNI_BIN), ZTUNNEL_BIN, REPO (source root). E2E_RUNTIME: "containerd" (pods through each node's
# containerd CRI; the default) or "chain" (each CNI plugin run in turn with prevResult chained by
# jq, as before; the default inside the geneve VM, where a containerd pod costs about 40 s under
# the emulated CPU). E2E_PRIMARY: the nodes' primary CNI, "ptp" (routed, each pod a /32 on its
# own veth: Calico, kindnet; the default) or "bridge" (each node's pods are ports of a bridge cni0
# holding 10.244.N.1/24: flannel, k3s, kubenet; the agent runs in bridge mode). E2E_FAMILY:
# "ipv4" (the default) or "dual": every node also gets fd00:172:30::N on the fabric and routes
# the others' fd00:10:244:N::/64, host-local gives each pod an IPv4 and an IPv6 address (two
# ranges), the API pods list both in status.podIPs, Services are RequireDualStack with an IPv6
# ClusterIP fd00:10:96::X next to 10.96.0.X and an EndpointSlice per family, kube-proxy gets an
# ip6 table, and ztunnel is started with --bind 127.0.0.1,::1 (E2E_ZTUNNEL_BIND overrides it:
# the negative control binds 127.0.0.1 only). "ipv6": single-stack IPv6 pods (issue 20): as
# "dual" on the nodes (they keep their IPv4 fabric address, see tests/e2e/README.md), but
# host-local gives each pod, ztunnel's included, one IPv6 address alone, the API pods list only
# it, Services are SingleStack IPv6 with one IPv6 EndpointSlice, and kube-proxy has only its ip6
# table; the agent then runs the tunnels over IPv6. "dual" runs on either primary: on "bridge"
# the bridge plugin's host-local has the same two ranges and, being the gateway (isGateway),
# gives cni0 fd00:10:244:N::1/64 next to 10.244.N.1/24 at the node's first ADD (ztunnel's pod),
# before ambient-cni's ADD, so the agent reads the bridge's IPv6 /64 and redirects IPv6 there;
# br_netfilter's call-ip6tables follows call-iptables (off on node-a and node-b, on on node-c and
# node-d). "ipv6" is ptp only: bridge mode needs ztunnel's IPv4 (docs/DESIGN.md).
set -euo pipefail

if [ "$(id -u)" -ne 0 ]; then
  echo "SKIP: the end-to-end tests need root (network namespaces, nftables)"
  [ -n "${CI:-}" ] && { echo "FAIL: CI is set, so a skip is a failure"; exit 1; }
  exit 77
fi
: "${AGENT_BIN:?set AGENT_BIN to the ambient-agent binary}"
: "${CNI_BIN:?set CNI_BIN to the ambient-cni binary}"
: "${ZTUNNEL_BIN:?set ZTUNNEL_BIN to the ztunnel binary}"
: "${REPO:?set REPO to the source tree}"
if [ -z "${E2E_RUNTIME:-}" ]; then
  E2E_RUNTIME=containerd
  grep -q 'vmrun=' /proc/cmdline 2>/dev/null && E2E_RUNTIME=chain  # the geneve VM (scripts/vm)
fi
E2E_PRIMARY=${E2E_PRIMARY:-ptp}
case $E2E_PRIMARY in
  ptp | bridge) ;;
  *) echo "FAIL: E2E_PRIMARY must be ptp or bridge, not $E2E_PRIMARY"; exit 1 ;;
esac
E2E_FAMILY=${E2E_FAMILY:-ipv4}
# DUAL: the IPv6 half runs (pods have IPv6); V6ONLY: pods have no IPv4 (E2E_FAMILY=ipv6).
case $E2E_FAMILY in
  ipv4) DUAL="" V6ONLY="" ;;
  dual) DUAL=1 V6ONLY="" ;;
  ipv6) DUAL=1 V6ONLY=1 ;;
  *) echo "FAIL: E2E_FAMILY must be ipv4, dual or ipv6, not $E2E_FAMILY"; exit 1 ;;
esac
if [ -n "$V6ONLY" ] && [ "$E2E_PRIMARY" = bridge ]; then
  echo "FAIL: E2E_FAMILY=ipv6 needs E2E_PRIMARY=ptp: bridge mode needs ztunnel's IPv4 (the agent refuses a bridge without it); E2E_FAMILY=dual runs on a bridge"
  exit 1
fi
case $E2E_RUNTIME in
  containerd) CNI_INSTALL_BIN=${CNI_INSTALL_BIN:-$(dirname "$CNI_BIN")/ambient-cni-install} ;;
  chain) ;;
  *) echo "FAIL: E2E_RUNTIME must be containerd or chain, not $E2E_RUNTIME"; exit 1 ;;
esac
for f in "$AGENT_BIN" "$CNI_BIN" "$ZTUNNEL_BIN" "/usr/lib/cni/$E2E_PRIMARY" /usr/lib/cni/host-local \
  ${CNI_INSTALL_BIN:-}; do
  [ -x "$f" ] || { echo "FAIL: $f is missing or not executable"; exit 1; }
done

PY=/usr/bin/python3  # Debian's python3 (sees python3-h2)
P="e2e$$"            # namespace prefix, unique per run
WORK=$(mktemp -d /tmp/e2e.XXXXXX)
PIDS=()
NETNS=()
NODES=()
declare -A POD_IP POD_IP6 POD_NETNS NODE_OF AGENT_PID ZTUNNEL_PID RPF_BEFORE POD_SANDBOX
PORT_BASE=$((20000 + ($$ % 2000) * 4))  # agents' health ports on the host loopback
RT_WORK=$WORK
RT_FAST_CLEANUP=1  # on exit, containerd's pods are killed, not removed one CRI call at a time
# shellcheck source=tests/runtime/runtime_lib.sh
source "$REPO/tests/runtime/runtime_lib.sh"

cleanup() {
  local rc=$?
  set +e
  declare -F on_exit >/dev/null && on_exit "$rc"
  rt_cleanup
  for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null; done
  for pid in "${PIDS[@]}"; do
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
    kill -KILL "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
  done
  local i
  for ((i = ${#NETNS[@]} - 1; i >= 0; i--)); do ip netns del "${NETNS[$i]}" 2>/dev/null; done
  if [ -n "${KEEP_WORK:-}" ]; then echo "work dir kept: $WORK"; else rm -rf "$WORK"; fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

fail() {
  echo "FAIL: $*"
  for f in "$WORK"/*.log "$WORK"/*/*.log; do
    [ -f "$f" ] && { echo "--- $f"; tail -n 15 "$f"; }
  done
  exit 1
}
log() { echo "[$(date +%T)] $*"; }
inns() { local ns=$1; shift; ip netns exec "$P-$ns" "$@"; }
newns() { ip netns add "$P-$1"; NETNS+=("$P-$1"); inns "$1" ip link set lo up; }
# bg NS LOGNAME CMD...: a background process in namespace NS ("-" = the host); PID in LAST_PID.
bg() {
  local ns=$1 name=$2; shift 2
  if [ "$ns" = "-" ]; then "$@" >"$WORK/$name.log" 2>&1 &
  else ip netns exec "$P-$ns" "$@" >"$WORK/$name.log" 2>&1 &
  fi
  LAST_PID=$!
  PIDS+=("$LAST_PID")
}
# poll TIMEOUT_S CMD...: runs CMD every 0.1 s until it succeeds; fails after TIMEOUT_S.
poll() {
  local limit=$(($1 * 10)); shift
  for ((i = 0; i < limit; i++)); do "$@" >/dev/null 2>&1 && return 0; sleep 0.1; done
  return 1
}

# ---- control plane --------------------------------------------------------------------------
start_api() {
  bg - apiserver "$PY" "$REPO/tests/k8s/apiserver/apiserver.py" --port 0 \
    --port-file "$WORK/api.port" --parent-pid $$
  poll 30 test -s "$WORK/api.port" || fail "test API server did not start"
  API="http://127.0.0.1:$(cat "$WORK/api.port")"
  cat >"$WORK/kubeconfig" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: e2e
  cluster:
    server: $API
users:
- name: agent
  user:
    token: e2e-token
contexts:
- name: e2e
  context:
    cluster: e2e
    user: agent
current-context: e2e
EOF
}
api_apply() {  # api_apply RESOURCE OBJECT-JSON
  curl -sf -X POST -H 'Content-Type: application/json' \
    --data "{\"resource\":\"$1\",\"object\":$2}" "$API/_test/apply" >/dev/null ||
    fail "API apply of $1 failed: $2"
}
api_namespace() {  # api_namespace NAME LABELS-JSON
  api_apply namespaces "{\"metadata\":{\"name\":\"$1\",\"labels\":$2}}"
}
# api_pod NS NAME NODE LABELS ANNOTATIONS SA [IP [IP6]]: Pending without IP, Running with it
# (status.podIPs lists the IPv6 address after the IPv4 one, as the kubelet does; an IPv6-only pod,
# IP empty, has its IPv6 address as podIP and alone in podIPs).
api_pod() {
  local status='{"phase":"Pending"}' first=${7:-${8:-}}
  local ips="{\"ip\":\"$first\"}"
  [ -n "${7:-}" ] && [ -n "${8:-}" ] && ips="$ips,{\"ip\":\"$8\"}"
  [ -n "$first" ] && status="{\"phase\":\"Running\",\"podIP\":\"$first\",\"podIPs\":[$ips]}"
  api_apply pods "{\"metadata\":{\"name\":\"$2\",\"namespace\":\"$1\",\"uid\":\"uid-$1-$2\",
    \"labels\":$4,\"annotations\":$5},\"spec\":{\"nodeName\":\"$3\",\"serviceAccountName\":\"$6\"},
    \"status\":$status}"
}
# vip6 VIP: the IPv6 ClusterIP the dual-stack cluster gives the Service of IPv4 VIP 10.96.0.X.
vip6() { echo "fd00:10:96::${1##*.}"; }
# pod_addr NS/NAME: the pod's address the node tunnels to (ztunnel): IPv4, IPv6 on an IPv6-only pod.
pod_addr() { if [ -n "$V6ONLY" ]; then echo "${POD_IP6[$1]}"; else echo "${POD_IP[$1]}"; fi; }
# api_service NS NAME VIP PORT TARGET-PORT POD...: a Service and its EndpointSlice. Dual-stack
# (E2E_FAMILY=dual): the Service is RequireDualStack with ClusterIPs VIP and $(vip6 VIP), and a
# second EndpointSlice of addressType IPv6 lists the pods' IPv6 addresses, as Kubernetes'
# EndpointSlice controller writes one slice per family. IPv6-only (E2E_FAMILY=ipv6): SingleStack
# IPv6, ClusterIP $(vip6 VIP) alone, the IPv6 EndpointSlice alone, kube-proxy's ip6 DNAT alone.
api_service() {
  local ns=$1 name=$2 vip=$3 port=$4 target=$5; shift 5
  local ips="\"$vip\"" families='"IPv4"' policy=SingleStack cip=$vip
  [ -n "$DUAL" ] && ips="$ips,\"$(vip6 "$vip")\"" families='"IPv4","IPv6"' policy=RequireDualStack
  [ -n "$V6ONLY" ] && cip=$(vip6 "$vip") ips="\"$(vip6 "$vip")\"" families='"IPv6"' policy=SingleStack
  api_apply services "{\"metadata\":{\"name\":\"$name\",\"namespace\":\"$ns\"},
    \"spec\":{\"clusterIP\":\"$cip\",\"clusterIPs\":[$ips],
    \"ipFamilies\":[$families],\"ipFamilyPolicy\":\"$policy\",
    \"ports\":[{\"name\":\"http\",\"port\":$port,\"targetPort\":$target,\"protocol\":\"TCP\"}]}}"
  local eps="" pod node
  if [ -z "$V6ONLY" ]; then  # the IPv4 slice and kube-proxy's IPv4 DNAT (none on IPv6-only)
    for pod in "$@"; do
      eps="$eps${eps:+,}{\"addresses\":[\"${POD_IP[$ns/$pod]}\"],\"conditions\":{\"ready\":true},
        \"nodeName\":\"${NODE_OF[$ns/$pod]}\",
        \"targetRef\":{\"kind\":\"Pod\",\"namespace\":\"$ns\",\"name\":\"$pod\"}}"
    done
    api_apply endpointslices "{\"metadata\":{\"name\":\"$name-e2e\",\"namespace\":\"$ns\",
      \"labels\":{\"kubernetes.io/service-name\":\"$name\"}},\"addressType\":\"IPv4\",
      \"ports\":[{\"name\":\"http\",\"port\":$target,\"protocol\":\"TCP\"}],\"endpoints\":[$eps]}"
    # kube-proxy's part on every node: DNAT of the VIP to the (first) endpoint. The agent's null
    # DNAT (priority -110) runs first for enrolled pods, so ztunnel still sees the VIP.
    for node in "${NODES[@]}"; do
      inns "$node" nft add rule ip e2e_kube_proxy prerouting ip daddr "$vip" tcp dport "$port" \
        counter dnat to "${POD_IP[$ns/$1]}:$target"
    done
  fi
  [ -n "$DUAL" ] || return 0
  eps=""
  for pod in "$@"; do
    eps="$eps${eps:+,}{\"addresses\":[\"${POD_IP6[$ns/$pod]}\"],\"conditions\":{\"ready\":true},
      \"nodeName\":\"${NODE_OF[$ns/$pod]}\",
      \"targetRef\":{\"kind\":\"Pod\",\"namespace\":\"$ns\",\"name\":\"$pod\"}}"
  done
  api_apply endpointslices "{\"metadata\":{\"name\":\"$name-e2e6\",\"namespace\":\"$ns\",
    \"labels\":{\"kubernetes.io/service-name\":\"$name\"}},\"addressType\":\"IPv6\",
    \"ports\":[{\"name\":\"http\",\"port\":$target,\"protocol\":\"TCP\"}],\"endpoints\":[$eps]}"
  for node in "${NODES[@]}"; do
    inns "$node" nft add rule ip6 e2e_kube_proxy prerouting ip6 daddr "$(vip6 "$vip")" \
      tcp dport "$port" counter dnat to "[${POD_IP6[$ns/$1]}]:$target"
  done
}

# ---- nodes ----------------------------------------------------------------------------------
# add_node NAME INDEX: node namespace on the fabric bridge, 172.30.0.INDEX, pods 10.244.INDEX.0/24.
add_node() {
  local node=$1 n=$2
  [ -e "/var/run/netns/$P-fabric" ] || {
    newns fabric
    inns fabric ip link add br0 type bridge
    inns fabric ip link set br0 up
  }
  newns "$node"
  ip link add "$P-u$n" type veth peer name "$P-f$n"
  ip link set "$P-u$n" netns "$P-$node" name eth0
  ip link set "$P-f$n" netns "$P-fabric" name "port$n"
  inns fabric ip link set "port$n" master br0 up
  inns "$node" ip addr add "172.30.0.$n/24" dev eth0
  inns "$node" ip link set eth0 up
  inns "$node" sysctl -qw net.ipv4.ip_forward=1
  if [ -n "$DUAL" ]; then
    # Dual-stack: a router (forwarding, so no router solicitations) with a static fabric address
    # (nodad: usable at once). The fabric bridge's own namespace stays IPv4 only (it only bridges).
    inns fabric sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
    inns "$node" sysctl -qw net.ipv6.conf.all.disable_ipv6=0 net.ipv6.conf.default.disable_ipv6=0
    inns "$node" sysctl -qw net.ipv6.conf.all.forwarding=1 net.ipv6.conf.default.forwarding=1 \
      net.ipv6.conf.default.accept_ra=0 net.ipv6.conf.default.router_solicitations=0
    inns "$node" ip -6 addr add "fd00:172:30::$n/64" dev eth0 nodad
    inns "$node" nft -f - <<'NFT'
table ip6 e2e_kube_proxy {
  chain prerouting { type nat hook prerouting priority dstnat; policy accept; }
}
NFT
  else
    # IPv4 only (as the agent): no IPv6 neighbour/MLD chatter on the tunnels, so their packet
    # counters count only the redirected traffic.
    inns "$node" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
  fi
  if [ "$E2E_PRIMARY" = bridge ]; then
    # br_netfilter off on node-a and node-b, on on node-c and node-d: scenarios 1 and 2 cross a
    # and b, the waypoint path c and d, so both states are on the seed's paths (dual-stack: the
    # same for call-ip6tables, which the IPv6 paths cross).
    modprobe br_netfilter 2>/dev/null || true  # a module in the geneve VM's kernel
    local brnf=1
    case $node in node-a | node-b) brnf=0 ;; esac
    inns "$node" sysctl -qw "net.bridge.bridge-nf-call-iptables=$brnf"
    [ -z "$DUAL" ] || inns "$node" sysctl -qw "net.bridge.bridge-nf-call-ip6tables=$brnf"
  fi
  # kube-proxy's IPv4 table (none on an IPv6-only cluster: no IPv4 Service or endpoint).
  [ -n "$V6ONLY" ] || inns "$node" nft -f - <<'NFT'
table ip e2e_kube_proxy {
  chain prerouting { type nat hook prerouting priority dstnat; policy accept; }
}
NFT
  NODES+=("$node")
  RPF_BEFORE[$node]=$(inns "$node" sysctl -n net.ipv4.conf.all.rp_filter)
  mkdir -p "$WORK/$node/ipam"
  local ipam="\"ipam\": {\"type\": \"host-local\", \"subnet\": \"10.244.$n.0/24\",
   \"dataDir\": \"$WORK/$node/ipam\", \"routes\": [{\"dst\": \"0.0.0.0/0\"}]}" primary
  # Dual-stack: two ranges, one address of each family per pod (as kindnet, Calico or flannel give;
  # on the bridge, whose gateway the plugin is, cni0 also gets each range's gateway address).
  [ -n "$DUAL" ] && ipam="\"ipam\": {\"type\": \"host-local\",
   \"ranges\": [[{\"subnet\": \"10.244.$n.0/24\"}], [{\"subnet\": \"fd00:10:244:$n::/64\"}]],
   \"dataDir\": \"$WORK/$node/ipam\", \"routes\": [{\"dst\": \"0.0.0.0/0\"}, {\"dst\": \"::/0\"}]}"
  # IPv6-only: one IPv6 range, so every pod, ztunnel's included, has one IPv6 address alone.
  [ -n "$V6ONLY" ] && ipam="\"ipam\": {\"type\": \"host-local\",
   \"ranges\": [[{\"subnet\": \"fd00:10:244:$n::/64\"}]],
   \"dataDir\": \"$WORK/$node/ipam\", \"routes\": [{\"dst\": \"::/0\"}]}"
  if [ "$E2E_PRIMARY" = bridge ]; then
    primary="{\"type\": \"bridge\", \"bridge\": \"cni0\", \"isGateway\": true, \"ipMasq\": false, $ipam}"
  else
    primary="{\"type\": \"ptp\", \"ipMasq\": false, $ipam}"
  fi
  if [ "$E2E_RUNTIME" = containerd ]; then
    # The node's own CNI dirs, as /etc/cni/net.d and /opt/cni/bin, with the primary network
    # only; ambient-cni-install adds our plugin once the agent runs (install_cni).
    mkdir -p "$WORK/$node/net.d" "$WORK/$node/cni-bin"
    ln -s "/usr/lib/cni/$E2E_PRIMARY" /usr/lib/cni/host-local /usr/lib/cni/loopback "$WORK/$node/cni-bin/"
    echo "{\"cniVersion\": \"1.0.0\", \"name\": \"k8s-pod-network\", \"plugins\": [$primary]}" \
      >"$WORK/$node/net.d/10-k8s-pod-network.conflist"
    ctd_launch "$node" "/var/run/netns/$P-$node" "$WORK/$node/cni-bin" "$WORK/$node/net.d" ||
      fail "containerd of $node did not start"
    return 0
  fi
  cat >"$WORK/$node/conflist.json" <<EOF
{"cniVersion": "1.0.0", "name": "k8s-pod-network", "plugins": [
  $primary,
  {"type": "ambient-cni", "agentSocket": "$WORK/$node/agent.sock", "agentTimeoutMs": 10000,
   "logFile": "$WORK/$node/cni.log"}]}
EOF
}
# install_cni NODE: waits for the node's containerd, then ambient-cni-install puts our plugin last
# in its conflist (as the DaemonSet's installer does next to the agent).
install_cni() {
  local node=$1
  [ "$E2E_RUNTIME" = containerd ] || return 0
  ctd_wait "$node" || fail "containerd of $node did not become ready"
  "$CNI_INSTALL_BIN" --cni-conf-dir "$WORK/$node/net.d" --cni-bin-dir "$WORK/$node/cni-bin" \
    --plugin-binary "$CNI_BIN" --agent-socket "$WORK/$node/agent.sock" \
    --log-file "$WORK/$node/cni.log" >"$WORK/$node/install.log" 2>&1 ||
    fail "ambient-cni-install on $node failed: $(cat "$WORK/$node/install.log")"
  [ "$(jq -r '.plugins[-1].type' "$WORK/$node/net.d/10-k8s-pod-network.conflist")" = ambient-cni ] ||
    fail "ambient-cni is not the last plugin of $node's conflist after the installer"
}
# route_nodes N...: every node routes every other node's pod CIDR via that node's IP.
route_nodes() {
  local a b
  for a in "$@"; do for b in "$@"; do
    [ "$a" = "$b" ] && continue
    [ -n "$V6ONLY" ] || inns "node-$(idx_name "$a")" ip route add "10.244.$b.0/24" via "172.30.0.$b"
    [ -z "$DUAL" ] || inns "node-$(idx_name "$a")" ip -6 route add "fd00:10:244:$b::/64" via "fd00:172:30::$b"
  done; done
}
idx_name() { case $1 in 1) echo a ;; 2) echo b ;; 3) echo c ;; *) echo d ;; esac; }

start_agent() {  # start_agent NODE INDEX [LOG-NAME]: AGENT_PID[NODE] is its PID
  local node=$1 n=$2 name=${3:-agent}
  bg - "$node/$name" "$AGENT_BIN" run --socket "$WORK/$node/agent.sock" \
    --state-dir "$WORK/$node/state" --kubeconfig "$WORK/kubeconfig" --node-name "$node" \
    --node-netns "/var/run/netns/$P-$node" --http-addr "127.0.0.1:$((PORT_BASE + n))" \
    --reconcile-interval 5
  AGENT_PID[$node]=$LAST_PID
  poll 30 grep -q '"serving"' "$WORK/$node/$name.log" || fail "agent of $node did not start"
}

# ---- pods through the CNI chain -------------------------------------------------------------
# cni_plugin NODE CMD CONTAINER NETNS ARGS PLUGIN-INDEX PREV-FILE: one plugin as a runtime runs it.
cni_plugin() {
  local node=$1 cmd=$2 cid=$3 netns=$4 args=$5 i=$6 prev=$7 bin
  local conf="$WORK/$node/conflist.json"
  local type
  type=$(jq -r ".plugins[$i].type" "$conf")
  bin=/usr/lib/cni/$type
  [ "$type" = "ambient-cni" ] && bin=$CNI_BIN
  if [ -s "$prev" ]; then
    jq -c --slurpfile p "$prev" \
      '. as $l | $l.plugins['"$i"'] + {cniVersion: $l.cniVersion, name: $l.name, prevResult: $p[0]}' \
      "$conf" >"$WORK/$node/stdin.json"
  else
    jq -c '. as $l | $l.plugins['"$i"'] + {cniVersion: $l.cniVersion, name: $l.name}' \
      "$conf" >"$WORK/$node/stdin.json"
  fi
  inns "$node" env CNI_COMMAND="$cmd" CNI_CONTAINERID="$cid" CNI_NETNS="$netns" CNI_IFNAME=eth0 \
    CNI_PATH="$(dirname "$CNI_BIN"):/usr/lib/cni" CNI_ARGS="$args" "$bin" <"$WORK/$node/stdin.json"
}

# add_pod NODE NS NAME LABELS ANNOTATIONS SA: the pod object (Pending), its sandbox, then the
# pod object Running with its IP. With containerd: RunPodSandbox on the node's CRI (metadata
# name, namespace, uid; labels and annotations), retried while it fails as kubelet retries (the
# runtime has run DEL after the failed ADD), and the sandbox's network namespace bound to the
# name $P-NS-NAME so that processes can run "in the pod". With the chain: its namespace, the CNI
# chain ADD (the primary, then ambient-cni) retried as a runtime retries (DEL, then ADD again) while the
# agent answers "try again later".
add_pod() {
  local node=$1 ns=$2 name=$3 labels=$4 annotations=$5 sa=$6
  local pns="$ns-$name" cid="ctr-$ns-$name" out="$WORK/$node/result-$ns-$name.json"
  local args="IgnoreUnknown=1;K8S_POD_NAMESPACE=$ns;K8S_POD_NAME=$name;K8S_POD_UID=uid-$ns-$name"
  api_pod "$ns" "$name" "$node" "$labels" "$annotations" "$sa"
  if [ "$E2E_RUNTIME" = containerd ]; then
    add_pod_cri "$@"
    return
  fi
  newns "$pns"
  local attempt ok=""
  for attempt in $(seq 1 60); do
    : >"$out.primary"
    if cni_plugin "$node" ADD "$cid" "/var/run/netns/$P-$pns" "$args" 0 /dev/null >"$out.primary" &&
       cni_plugin "$node" ADD "$cid" "/var/run/netns/$P-$pns" "$args" 1 "$out.primary" >"$out"; then
      ok=1
      break
    fi
    echo "ADD $ns/$name attempt $attempt: $(cat "$out" 2>/dev/null)" >>"$WORK/$node/runtime.log"
    cni_plugin "$node" DEL "$cid" "/var/run/netns/$P-$pns" "$args" 1 /dev/null >/dev/null || true
    cni_plugin "$node" DEL "$cid" "/var/run/netns/$P-$pns" "$args" 0 /dev/null >/dev/null || true
    sleep 0.5
  done
  [ -n "$ok" ] || fail "CNI ADD of $ns/$name on $node kept failing: $(cat "$out")"
  local ip ip6
  ip=$(jq -r '[.ips[].address | select(contains(":") | not)][0] // empty' "$out" | cut -d/ -f1)
  ip6=$(jq -r '[.ips[].address | select(contains(":"))][0] // empty' "$out" | cut -d/ -f1)
  [ -z "$DUAL" ] || [ -n "$ip6" ] || fail "CNI ADD of $ns/$name gave no IPv6 address: $(cat "$out")"
  [ -z "$V6ONLY" ] || [ -z "$ip" ] || fail "CNI ADD of $ns/$name gave an IPv4 address on an IPv6-only cluster: $(cat "$out")"
  POD_IP[$ns/$name]=$ip
  POD_IP6[$ns/$name]=$ip6
  POD_NETNS[$ns/$name]=$pns
  NODE_OF[$ns/$name]=$node
  api_pod "$ns" "$name" "$node" "$labels" "$annotations" "$sa" "$ip" "$ip6"
  log "pod $ns/$name on $node: $ip${ip:+${ip6:+ }}$ip6 (netns $P-$pns)"
}

add_pod_cri() {
  local node=$1 ns=$2 name=$3 labels=$4 annotations=$5 sa=$6 pns="$2-$3" kv meta=()
  while IFS= read -r kv; do meta+=(--label "$kv"); done < <(jq -r 'to_entries[] | "\(.key)=\(.value)"' <<<"$labels")
  while IFS= read -r kv; do meta+=(--annotation "$kv"); done < <(jq -r 'to_entries[] | "\(.key)=\(.value)"' <<<"$annotations")
  cri_run_pod "$node" 60 "$ns" "$name" --uid "uid-$ns-$name" "${meta[@]}" ||
    fail "RunPodSandbox of $ns/$name on $node kept failing for 60 s: $CRI_ERR"
  local ip netns ip6
  ip=$(jq -r '[.ip, .additionalIps[]?] | map(select(contains(":") | not))[0] // empty' <<<"$CRI_OUT")
  ip6=$(jq -r '[.ip, .additionalIps[]?] | map(select(contains(":")))[0] // empty' <<<"$CRI_OUT")
  [ -z "$DUAL" ] || [ -n "$ip6" ] || fail "PodSandboxStatus of $ns/$name gave no IPv6 address: $CRI_OUT"
  [ -z "$V6ONLY" ] || [ -z "$ip" ] || fail "PodSandboxStatus of $ns/$name gave an IPv4 address on an IPv6-only cluster: $CRI_OUT"
  netns=$(jq -r .netns <<<"$CRI_OUT")
  POD_SANDBOX[$ns/$name]=$(jq -r .id <<<"$CRI_OUT")
  [ -n "$ip$ip6" ] && [ -e "$netns" ] || fail "PodSandboxStatus of $ns/$name gave no IP or netns: $CRI_OUT"
  # The sandbox's netns under a name (ip netns del unmounts it at removal or exit).
  touch "/var/run/netns/$P-$pns"
  NETNS+=("$P-$pns")
  mount --bind "$netns" "/var/run/netns/$P-$pns" || fail "cannot bind $netns to $P-$pns"
  POD_IP[$ns/$name]=$ip
  POD_IP6[$ns/$name]=$ip6
  POD_NETNS[$ns/$name]=$pns
  NODE_OF[$ns/$name]=$node
  api_pod "$ns" "$name" "$node" "$labels" "$annotations" "$sa" "$ip" "$ip6"
  log "pod $ns/$name on $node: $ip${ip:+${ip6:+ }}$ip6 (containerd sandbox ${POD_SANDBOX[$ns/$name]:0:12}, netns $P-$pns)"
}

# start_ztunnel NODE: the ztunnel pod's process, fed by the agent's view file.
start_ztunnel() {  # start_ztunnel NODE [LOG-NAME]: ZTUNNEL_PID[NODE] is its PID
  local node=$1 name=${2:-ztunnel}
  bg "istio-system-ztunnel-$node" "$node/$name" "$ZTUNNEL_BIN" \
    --config "$WORK/$node/state/ztunnel-config.json" --node "$node" --dev-ca "$WORK/ca" \
    --config-poll-ms 200 --workers 1 ${DUAL:+--bind "${E2E_ZTUNNEL_BIND:-127.0.0.1,::1}"}
  local pid=$LAST_PID i
  ZTUNNEL_PID[$node]=$pid
  for ((i = 0; i < 300; i++)); do
    kill -0 "$pid" 2>/dev/null || fail "ztunnel on $node exited (log $WORK/$node/$name.log)"
    inns "istio-system-ztunnel-$node" curl -sf -o /dev/null http://127.0.0.1:15021/healthz/ready &&
      return 0
    sleep 0.1
  done
  fail "ztunnel on $node did not become ready in 30 s"
}

# The clusters of the seed article: nodes a to d, namespaces foo (ambient; scenario 2 relabels
# it for sidecar injection), bar (sidecar injection), bar-1 and bar-2 (ambient), a ztunnel pod
# per node registered through the CNI chain, the agents and ztunnels running. The certificates
# of the proxies that are not ztunnel (sidecars, the waypoint) come from the same test CA.
build_cluster() {
  "$REPO/scripts/make-test-ca.sh" "$WORK/ca" --identity foo/sleep --identity bar/sleep \
    --identity bar-2/waypoint >"$WORK/ca.log" 2>&1 ||
    fail "make-test-ca.sh failed: $(cat "$WORK/ca.log")"
  start_api
  api_namespace istio-system '{}'
  api_namespace foo '{"istio.io/dataplane-mode":"ambient"}'
  api_namespace bar '{"istio-injection":"enabled"}'
  api_namespace bar-1 '{"istio.io/dataplane-mode":"ambient"}'
  api_namespace bar-2 '{"istio.io/dataplane-mode":"ambient"}'
  local node n
  for n in 1 2 3 4; do add_node "node-$(idx_name $n)" "$n"; done
  route_nodes 1 2 3 4
  for n in 1 2 3 4; do start_agent "node-$(idx_name $n)" "$n"; done
  for node in "${NODES[@]}"; do install_cni "$node"; done
  for node in "${NODES[@]}"; do
    add_pod "$node" istio-system "ztunnel-$node" '{"app":"ztunnel"}' '{}' ztunnel
    start_ztunnel "$node"
  done
}

# remove_pod NS/NAME: StopPodSandbox + RemovePodSandbox (containerd runs the chain's DEL), or the
# CNI chain DEL (ambient-cni first, as a runtime runs it in reverse); then the pod object deleted
# from the API.
remove_pod() {
  local pod=$1 ns=${1%/*} name=${1#*/}
  local node=${NODE_OF[$pod]} pns=${POD_NETNS[$pod]} cid="ctr-$ns-$name"
  local args="IgnoreUnknown=1;K8S_POD_NAMESPACE=$ns;K8S_POD_NAME=$name;K8S_POD_UID=uid-$ns-$name"
  if [ "$E2E_RUNTIME" = containerd ]; then
    cri_remove_pod "$node" "${POD_SANDBOX[$pod]}" ||
      fail "StopPodSandbox/RemovePodSandbox of $pod failed"
    unset "POD_SANDBOX[$pod]"
  else
    cni_plugin "$node" DEL "$cid" "/var/run/netns/$P-$pns" "$args" 1 /dev/null >/dev/null ||
      fail "CNI DEL (ambient-cni) of $pod failed"
    cni_plugin "$node" DEL "$cid" "/var/run/netns/$P-$pns" "$args" 0 /dev/null >/dev/null ||
      fail "CNI DEL (primary) of $pod failed"
  fi
  curl -sf -X POST -H 'Content-Type: application/json' \
    --data "{\"resource\":\"pods\",\"namespace\":\"$ns\",\"name\":\"$name\"}" \
    "$API/_test/delete" >/dev/null || fail "API delete of $pod failed"
  ip netns del "$P-$pns"
  unset "POD_IP[$pod]" "POD_IP6[$pod]" "POD_NETNS[$pod]" "NODE_OF[$pod]"
  log "pod $pod removed from $node"
}

# ---- evidence -------------------------------------------------------------------------------
# Each reader prints a count, or the word "unread" when it cannot read (with "e2e: reading
# failed: ..." on stderr). `grew`, `same` and `delta` (scenarios_test.sh) treat "unread" as a
# failed step, never as a value: two failed readings used to be -1 == -1, a pass.
unread() {  # unread WHAT: the failed reading's message on stderr, "unread" on stdout
  echo "e2e: reading failed: $*" >&2
  echo unread
}
# nft_counter NETNS CHAIN PATTERN: packets of the first rule of table ip ambient_redirect (or
# TABLE=...; FAM=ip6 for the IPv6 table) whose text contains PATTERN.
nft_counter() {
  local out n fam=${FAM:-ip}
  out=$(inns "$1" nft list chain "$fam" "${TABLE:-ambient_redirect}" "$2" 2>&1) ||
    { unread "nft list chain $fam ${TABLE:-ambient_redirect} $2 in $1: $(head -n1 <<<"$out")"; return 0; }
  n=$(grep -F -- "$3" <<<"$out" | head -n1 | sed -n 's/.*counter packets \([0-9]*\).*/\1/p') || true
  [ -n "$n" ] || { unread "no rule with a counter containing '$3' in chain $fam ${TABLE:-ambient_redirect} $2 of $1"; return 0; }
  echo "$n"
}
# chain_counters NETNS: the packets of each rule of our prerouting chain, in the kernel's order
# (rule #N of `ambientctl trace` is the Nth), space-separated; a rule without counter reads 0.
# FAM=ip6: the ip6 table's chain; FAM=bridge TABLE=ambient_bridge: the bridge table's.
chain_counters() {
  local out n fam=${FAM:-ip} t=${TABLE:-ambient_redirect}
  out=$(inns "$1" nft -j list chain "$fam" "$t" prerouting 2>&1) ||
    { unread "nft list chain $fam $t prerouting in $1: $(head -n1 <<<"$out")"; return 0; }
  n=$(jq -r '[.nftables[] | select(.rule) | ([.rule.expr[] | select(.counter) | .counter.packets][0] // 0)]
             | map(tostring) | join(" ")' <<<"$out" 2>/dev/null) || true
  [ -n "$n" ] || { unread "no rules in $fam $t prerouting of $1"; return 0; }
  echo "$n"
}
# node_counters NODE: "IP | BRIDGE": chain_counters of the node (FAM=ip6: its ip6 chain) and, in
# bridge mode (E2E_PRIMARY=bridge), of its `bridge ambient_bridge` prerouting chain, the one the
# trace's "node bridge cni0 nft prerouting rule #N" hops name (family bridge: both IP families);
# BRIDGE is empty on ptp nodes, which have no bridge table.
node_counters() {
  local br=""
  [ "$E2E_PRIMARY" != bridge ] || br=$(FAM=bridge TABLE=ambient_bridge chain_counters "$1")
  echo "$(chain_counters "$1") | $br"
}
link_stat() {  # link_stat NETNS DEV rx|tx -> packets
  local out n
  out=$(inns "$1" ip -s -j link show "$2" 2>&1) ||
    { unread "ip -s link show $2 in $1: $(head -n1 <<<"$out")"; return 0; }
  n=$(jq -r ".[0].stats64.$3.packets // empty" <<<"$out" 2>/dev/null) || true
  [ -n "$n" ] || { unread "no $3 packet count for $2 in $1"; return 0; }
  echo "$n"
}
metric() {  # metric NODE NAME FILTER-REGEX -> sum of the matching series of that node's ztunnel
  local body
  body=$(inns "istio-system-ztunnel-$1" curl -sSf "http://127.0.0.1:15020/metrics" 2>&1) ||
    { unread "ztunnel metrics of $1 (127.0.0.1:15020): $(tail -n1 <<<"$body")"; return 0; }
  { grep "^$2{" <<<"$body" || true; } | { grep -E "$3" || true; } | awk '{s+=$NF} END {print s+0}'
}
