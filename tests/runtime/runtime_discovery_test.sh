#!/usr/bin/env bash
# Pods the agent never saw through CNI, created through containerd's CRI, are enrolled when their
# namespace is labelled ambient afterwards, without a restart: one running before any agent ran,
# one created while the conflist lacked our entry, one started through the plugin's agent-down
# fallback. The agent reads the test Kubernetes API server (this node's pods through the
# spec.nodeName watch); its discovery pass finds each pod's network namespace. Then a pod's
# outbound TCP reaches the ztunnel namespace's 15001 with the original destination. Touches the
# kernel (namespaces, nftables, mounts); root.
#
# Environment: AGENT_BIN, CNI_BIN, CNI_INSTALL_BIN, AMBIENTCTL_BIN, NETTOOL_BIN.
# Exit: 0 every check passed, 1 a check or the set-up failed (logs printed), 77 not root (1 when
# CI is set) or inside the geneve VM.
set -euo pipefail
if grep -q 'vmrun=' /proc/cmdline 2>/dev/null && [ -z "${RUNTIME_TESTS_IN_VM:-}" ]; then
  echo "SKIP: not run in the geneve VM (see tests/runtime/README.md); it runs on the host"
  exit 77
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "SKIP: needs root (network namespaces, nftables, a container runtime)"
  [ -n "${CI:-}" ] && { echo "FAIL: CI is set, so a skip is a failure"; exit 1; }
  exit 77
fi
: "${AGENT_BIN:?}" "${CNI_BIN:?}" "${CNI_INSTALL_BIN:?}" "${AMBIENTCTL_BIN:?}" "${NETTOOL_BIN:?}"
REPO=$(cd "$(dirname "$0")/../.." && pwd)
PY=/usr/bin/python3

WORK=$(mktemp -d /tmp/rt-disc.XXXXXX)
RT_WORK=$WORK
# shellcheck source=tests/runtime/runtime_lib.sh
source "$(dirname "$0")/runtime_lib.sh"
NODE=rd$$-node
NODE_NS=/run/netns/$NODE
REMOTE=rd$$-remote
AGENT_PID="" API_PID="" ZT_PID="" SRV_PID=""
FAILED=0
HTTP_PORT=$((30000 + $$ % 10000))

stop_pid() {  # stop_pid PID: SIGTERM, then SIGKILL after 5 s
  [ -n "$1" ] || return 0
  kill -TERM "$1" 2>/dev/null || return 0
  for _ in $(seq 1 50); do kill -0 "$1" 2>/dev/null || return 0; sleep 0.1; done
  kill -KILL "$1" 2>/dev/null || true
}
cleanup() {
  local rc=$?
  set +e
  ((rc != 0)) && {
    for f in "$WORK"/*.log "$WORK"/*/*.log; do [ -f "$f" ] && { echo "--- $f"; tail -n 25 "$f"; }; done
  }
  stop_pid "$ZT_PID"
  stop_pid "$SRV_PID"
  rt_cleanup
  stop_pid "$AGENT_PID"
  stop_pid "$API_PID"
  ip netns del "$NODE" 2>/dev/null
  ip netns del "$REMOTE" 2>/dev/null
  if [ -n "${KEEP_WORK:-}" ]; then echo "work dir kept: $WORK"; else rm -rf "$WORK"; fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

fail() { echo "FAIL: $*"; exit 1; }
check() {  # check DESCRIPTION TIMEOUT_S CMD...: CMD holds within TIMEOUT_S (polled)
  local i limit=$(($2 * 10))
  for ((i = 0; i < limit; i++)); do
    "${@:3}" >/dev/null 2>&1 && { echo "  ok    $1"; return 0; }
    sleep 0.1
  done
  echo "  FAIL  $1"
  FAILED=1
}
set_has() { ip netns exec "$NODE" nft list set ip ambient_redirect enrolled_pods 2>/dev/null | grep -qw "$1"; }
set_lacks() { ! set_has "$1"; }

# ---- the node's namespace, the API server, this node's objects ------------------------------
# The API server, the agent and containerd (so the plugin and its API fallback) all run in the
# node's namespace: 127.0.0.1 there is one loopback for all of them. nsenter, not `ip netns
# exec`: the latter makes a mount namespace of its own, where containerd's netns mounts under its
# state directory are not visible.
ip netns add "$NODE"
ip netns exec "$NODE" ip link set lo up
nsenter --net="$NODE_NS" "$PY" "$REPO/tests/k8s/apiserver/apiserver.py" --port 0 --port-file "$WORK/api.port" \
  --parent-pid $$ >"$WORK/apiserver.log" 2>&1 &
API_PID=$!
for _ in $(seq 1 300); do [ -s "$WORK/api.port" ] && break; sleep 0.1; done
[ -s "$WORK/api.port" ] || fail "the test API server did not start"
API="http://127.0.0.1:$(cat "$WORK/api.port")"
cat >"$WORK/kubeconfig" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: rt
  cluster:
    server: $API
users:
- name: agent
  user:
    token: rt-token
contexts:
- name: rt
  context:
    cluster: rt
    user: agent
current-context: rt
EOF
api_apply() {  # api_apply RESOURCE OBJECT-JSON
  nsenter --net="$NODE_NS" curl -sf -X POST -H 'Content-Type: application/json' \
    --data "{\"resource\":\"$1\",\"object\":$2}" "$API/_test/apply" >/dev/null ||
    fail "API apply of $1 failed: $2"
}
api_namespace() { api_apply namespaces "{\"metadata\":{\"name\":\"$1\",\"labels\":$2}}"; }
api_pod() {  # api_pod NS NAME LABELS SA [IP]: Pending without IP, Running with it
  local status='{"phase":"Pending"}'
  [ -n "${5:-}" ] && status="{\"phase\":\"Running\",\"podIP\":\"$5\",\"podIPs\":[{\"ip\":\"$5\"}]}"
  api_apply pods "{\"metadata\":{\"name\":\"$2\",\"namespace\":\"$1\",\"uid\":\"uid-$1-$2\",
    \"labels\":$3},\"spec\":{\"nodeName\":\"$NODE\",\"serviceAccountName\":\"$4\"},\"status\":$status}"
}
api_namespace istio-system '{}'
api_namespace early '{}'

# ---- containerd with the node's primary network only (no mesh yet) --------------------------
ip netns exec "$NODE" sysctl -qw net.ipv4.ip_forward=1
mkdir -p "$WORK/cni/bin" "$WORK/cni/net.d" "$WORK/state"
cp /usr/lib/cni/ptp /usr/lib/cni/host-local /usr/lib/cni/loopback "$WORK/cni/bin/"
cat >"$WORK/cni/net.d/10-pods.conflist" <<EOF
{"cniVersion": "1.0.0", "name": "pods", "plugins": [
  {"type": "ptp", "ipMasq": false, "ipam": {"type": "host-local", "subnet": "10.88.9.0/24",
   "dataDir": "$WORK/ipam", "routes": [{"dst": "0.0.0.0/0"}]}}]}
EOF
# A host outside the pod network, for the outbound connection.
ip netns add "$REMOTE"
ip -n "$NODE" link add uplink type veth peer name eth0 netns "$REMOTE"
ip -n "$NODE" addr add 172.31.9.1/24 dev uplink && ip -n "$NODE" link set uplink up
ip -n "$REMOTE" addr add 172.31.9.2/24 dev eth0 && ip -n "$REMOTE" link set eth0 up
ip -n "$REMOTE" route add 10.88.9.0/24 via 172.31.9.1
ctd_start node "$NODE_NS" "$WORK/cni/bin" "$WORK/cni/net.d" || fail "containerd did not start"

# run_pod NS NAME LABEL SA: the pod through the CRI and into the API; POD_IP, POD_NETNS set.
run_pod() {
  api_pod "$1" "$2" "{\"app\":\"$3\"}" "$4"
  cri_run_pod node 30 "$1" "$2" --uid "uid-$1-$2" --label "app=$3" ||
    fail "RunPodSandbox $1/$2 kept failing: $CRI_ERR"
  POD_IP=$(jq -r .ip <<<"$CRI_OUT")
  POD_NETNS=$(jq -r .netns <<<"$CRI_OUT")
  [ -n "$POD_IP" ] && [ "$POD_IP" != null ] || fail "$1/$2 has no IP: $CRI_OUT"
  api_pod "$1" "$2" "{\"app\":\"$3\"}" "$4" "$POD_IP"
  echo "  pod $1/$2: $POD_IP, netns $POD_NETNS"
}

start_agent() {
  nsenter --net="$NODE_NS" "$AGENT_BIN" run --socket "$WORK/agent.sock" --state-dir "$WORK/state" \
    --kubeconfig "$WORK/kubeconfig" --node-name "$NODE" --http-addr "127.0.0.1:$HTTP_PORT" \
    --reconcile-interval 5 --tunnel-mode auto >>"$WORK/agent.log" 2>&1 &
  AGENT_PID=$!
  for _ in $(seq 1 300); do
    grep -q '"serving"' "$WORK/agent.log" && return 0
    kill -0 "$AGENT_PID" 2>/dev/null || fail "the agent exited"
    sleep 0.1
  done
  fail "the agent did not start in 30 s"
}

echo "a pod running before any agent (primary network only):"
run_pod early before before default
BEFORE_IP=$POD_IP BEFORE_NETNS=$POD_NETNS

echo "the agent starts; a pod created while the conflist still lacks our entry:"
start_agent
run_pod early noentry noentry default
NOENTRY_IP=$POD_IP

echo "our plugin put last by the installer, with the API fallback's kubeconfig; ztunnel:"
"$CNI_INSTALL_BIN" --cni-conf-dir "$WORK/cni/net.d" --cni-bin-dir "$WORK/cni/bin" \
  --plugin-binary "$CNI_BIN" --agent-socket "$WORK/agent.sock" --log-file "$WORK/cni.log" \
  --kubeconfig "$WORK/kubeconfig" >"$WORK/install.log" 2>&1 ||
  fail "ambient-cni-install failed: $(cat "$WORK/install.log")"
api_pod istio-system ztunnel-node '{"app":"ztunnel"}' ztunnel
run_pod istio-system ztunnel-node ztunnel ztunnel
ZT_NETNS=$POD_NETNS
check "the agent registered ztunnel (its pod holds pistioout)" 30 nsenter --net="$ZT_NETNS" ip link show pistioout

echo "the agent down: a pod of a namespace that is certainly not ambient starts through the fallback:"
stop_pid "$AGENT_PID"
AGENT_PID=""
run_pod early fallback fallback default
FALLBACK_IP=$POD_IP
check "the plugin let early/fallback start through the API fallback" 5 \
  grep -q '"pod":"early/fallback".*"verdict":"agent-down-not-ambient"' "$WORK/cni.log"
start_agent
for ip in "$BEFORE_IP" "$NOENTRY_IP" "$FALLBACK_IP"; do
  check "$ip is not enrolled while early is not ambient" 1 set_lacks "$ip"
done

echo "kubectl label namespace early istio.io/dataplane-mode=ambient (no pod restarted):"
api_namespace early '{"istio.io/dataplane-mode":"ambient"}'
check "early/before ($BEFORE_IP), running before any agent, is enrolled" 20 set_has "$BEFORE_IP"
check "early/noentry ($NOENTRY_IP), created before our entry, is enrolled" 20 set_has "$NOENTRY_IP"
check "early/fallback ($FALLBACK_IP), started through the fallback, is enrolled" 20 set_has "$FALLBACK_IP"
check "the agent logged the discovery" 5 grep -q 'discovered in' "$WORK/agent.log"
check "ambientctl verify is clean" 10 nsenter --net="$NODE_NS" "$AMBIENTCTL_BIN" verify --state-dir "$WORK/state"
check "the agent marked early/before ambient.istio.io/redirection=enabled in the API" 10 bash -c \
  "nsenter --net=$NODE_NS curl -sf '$API/api/v1/namespaces/early/pods/before' | jq -e '.metadata.annotations[\"ambient.istio.io/redirection\"] == \"enabled\"'"

echo "early/before's outbound TCP reaches ztunnel's 15001 with the original destination:"
ip netns exec "$REMOTE" "$NETTOOL_BIN" serve --port 8080 >"$WORK/server.log" 2>&1 &
SRV_PID=$!
nsenter --net="$ZT_NETNS" "$NETTOOL_BIN" serve --tproxy --addr 127.0.0.1 --port 15001 >"$WORK/zt.log" 2>&1 &
ZT_PID=$!
check "listeners up" 10 bash -c "grep -q listening '$WORK/server.log' && grep -q listening '$WORK/zt.log'"
got=$(nsenter --net="$BEFORE_NETNS" "$NETTOOL_BIN" connect 172.31.9.2:8080 --timeout-ms 3000 || true)
echo "  answer: $got"
if [[ "$got" == "15001 172.31.9.2:8080 $BEFORE_IP:"* ]]; then
  echo "  ok    15001 saw the original destination 172.31.9.2:8080 from $BEFORE_IP"
else
  echo "  FAIL  the connection did not land on 15001 with its original destination"
  FAILED=1
fi
if grep -q "$BEFORE_IP" "$WORK/server.log"; then
  echo "  FAIL  the server saw $BEFORE_IP directly: the pod bypassed ztunnel"
  FAILED=1
fi

((FAILED == 0)) || fail "some checks failed"
echo "PASS: pods never seen through CNI were enrolled by discovery"
