#!/usr/bin/env bash
# A real container runtime drives our CNI plugin: pods created and removed through containerd's
# CRI (RunPodSandbox ... RemovePodSandbox, as kubelet does) or podman's CNI backend, with Debian's
# ptp + host-local as the primary network and ambient-cni put last by ambient-cni-install, an
# ambient-agent (metadata file, no API) programming an emulated node namespace. Touches the
# kernel (namespaces, nftables, mounts); root.
#
# Usage: runtime_pod_test.sh containerd|podman
# Environment: AGENT_BIN, CNI_BIN (ambient-cni), CNI_INSTALL_BIN, AMBIENTCTL_BIN, NETTOOL_BIN;
#   RUNTIME_TEST_FAULT=skip-install|no-agent breaks the set-up on purpose (the test must fail).
# Exit: 0 every check passed, 1 a check or the set-up failed (logs printed), 77 not root (1 when
# CI is set).
set -euo pipefail
RUNTIME=${1:?usage: runtime_pod_test.sh containerd|podman}
case $RUNTIME in containerd | podman) ;; *) echo "unknown runtime $RUNTIME"; exit 1 ;; esac

# Inside the geneve VM (scripts/vm, kernel command line vmrun=) a containerd pod costs about 40 s
# under the emulated CPU and nothing here depends on the tunnel kind: these tests run on the host
# (RUNTIME_TESTS_IN_VM=1 runs them there anyway).
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
RELAY=$(cd "$(dirname "$0")/../proofs" && pwd)/transparent_relay.py
for f in "$AGENT_BIN" "$CNI_BIN" "$CNI_INSTALL_BIN" "$AMBIENTCTL_BIN" "$NETTOOL_BIN" /usr/lib/cni/ptp \
  /usr/lib/cni/host-local "$(command -v "$RUNTIME" || echo "$RUNTIME")"; do
  [ -x "$f" ] || { echo "FAIL: $f is missing (build it; scripts/setup.sh installs the runtimes)"; exit 1; }
done

WORK=$(mktemp -d /tmp/rt-pod.XXXXXX)
RT_WORK=$WORK
# shellcheck source=tests/runtime/runtime_lib.sh
source "$(dirname "$0")/runtime_lib.sh"
NODE=rt$$-node
NODE_NS=/run/netns/$NODE
AGENT_PID=""
FAILED=0

cleanup() {
  local rc=$?
  set +e
  ((rc != 0)) && {
    for f in "$WORK"/*.log "$WORK"/*/*.log; do [ -f "$f" ] && { echo "--- $f"; tail -n 20 "$f"; }; done
  }
  [ -n "${SERVE_PID:-}" ] && kill "$SERVE_PID" 2>/dev/null
  [ -n "${RELAY_PID:-}" ] && kill "$RELAY_PID" 2>/dev/null
  rt_cleanup
  if [ -n "$AGENT_PID" ]; then
    kill -TERM "$AGENT_PID" 2>/dev/null
    for _ in $(seq 1 50); do kill -0 "$AGENT_PID" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$AGENT_PID" 2>/dev/null
  fi
  ip netns del "$NODE" 2>/dev/null
  if [ -n "${KEEP_WORK:-}" ]; then echo "work dir kept: $WORK"; else rm -rf "$WORK"; fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

fail() { echo "FAIL: $*"; exit 1; }
check() {  # check DESCRIPTION CMD...: CMD holds within 5 s (polled); records the result, goes on
  local i
  for ((i = 0; i < 50; i++)); do
    "${@:2}" >/dev/null 2>&1 && { echo "  ok    $1"; return 0; }
    sleep 0.1
  done
  echo "  FAIL  $1"
  FAILED=1
}
set_has() {  # set_has IP: the IP is in the node's enrolled_pods set
  ip netns exec "$NODE" nft list set ip ambient_redirect enrolled_pods 2>/dev/null | grep -qw "$1"
}
set_lacks() { ! set_has "$1"; }
verify_clean() { "$AMBIENTCTL_BIN" verify --state-dir "$WORK/state" >"$WORK/verify.out" 2>&1; }
ms() { date +%s%3N; }

# ---- the node, its primary network, the agent ----------------------------------------------
ip netns add "$NODE"
ip netns exec "$NODE" ip link set lo up
mkdir -p "$WORK/cni/bin" "$WORK/cni/net.d" "$WORK/state"
cp /usr/lib/cni/ptp /usr/lib/cni/host-local /usr/lib/cni/loopback "$WORK/cni/bin/"
cat >"$WORK/cni/net.d/10-pods.conflist" <<EOF
{"cniVersion": "1.0.0", "name": "pods", "plugins": [
  {"type": "ptp", "ipMasq": false, "ipam": {"type": "host-local", "subnet": "10.88.7.0/24",
   "dataDir": "$WORK/ipam", "routes": [{"dst": "0.0.0.0/0"}]}}]}
EOF
cat >"$WORK/meta.json" <<'EOF'
{"namespaces": {"foo": {"labels": {"istio.io/dataplane-mode": "ambient"}},
                "plain": {"labels": {}}, "istio-system": {"labels": {}}},
 "pods": {"istio-system/ztunnel-node": {"labels": {"app": "ztunnel"}, "serviceAccount": "ztunnel"},
          "foo/sleep": {"labels": {"app": "sleep"}, "serviceAccount": "sleep"},
          "plain/web": {"labels": {"app": "web"}, "serviceAccount": "web"}}}
EOF

start_agent() {
  "$AGENT_BIN" run --socket "$WORK/agent.sock" --state-dir "$WORK/state" --node-netns "$NODE_NS" \
    --metadata-file "$WORK/meta.json" --http-addr "127.0.0.1:$((30000 + $$ % 10000))" --reconcile-interval 5 \
    --tunnel-mode auto >"$WORK/agent.log" 2>&1 &
  AGENT_PID=$!
  local i
  for ((i = 0; i < 300; i++)); do
    grep -q '"serving"' "$WORK/agent.log" && return 0
    kill -0 "$AGENT_PID" 2>/dev/null || fail "the agent exited"
    sleep 0.1
  done
  fail "the agent did not start in 30 s"
}
[ "${RUNTIME_TEST_FAULT:-}" = no-agent ] && echo "FAULT: no agent" || start_agent

t0=$(ms)
if [ "$RUNTIME" = containerd ]; then
  ctd_start node "$NODE_NS" "$WORK/cni/bin" "$WORK/cni/net.d" || fail "containerd did not start"
  echo "containerd $(cri node version | jq -r .runtimeVersion) up, pause image imported: $(($(ms) - t0)) ms"
else
  podman_rt node "$NODE_NS" "$WORK/cni/bin" "$WORK/cni/net.d" || fail "podman set-up failed"
  echo "podman $(pm node version --format '{{.Client.Version}}') set up: $(($(ms) - t0)) ms"
fi

# ---- our plugin, put last by the installer (not by hand) -------------------------------------
if [ "${RUNTIME_TEST_FAULT:-}" = skip-install ]; then
  echo "FAULT: installer not run"
else
  "$CNI_INSTALL_BIN" --cni-conf-dir "$WORK/cni/net.d" --cni-bin-dir "$WORK/cni/bin" \
    --plugin-binary "$CNI_BIN" --agent-socket "$WORK/agent.sock" --log-file "$WORK/cni.log" \
    >"$WORK/install.log" 2>&1 || fail "ambient-cni-install failed: $(cat "$WORK/install.log")"
fi
check "installer: ambient-cni is the last plugin of 10-pods.conflist and its binary is in the bin dir" \
  bash -c "[ \"\$(jq -r '.plugins[-1].type' '$WORK/cni/net.d/10-pods.conflist')\" = ambient-cni ] &&
           [ -x '$WORK/cni/bin/ambient-cni' ]"

# ---- pods through the runtime ----------------------------------------------------------------
# run_pod NS NAME [LABEL...]: the pod created through the runtime; POD_IP, POD_NETNS, POD_ID set.
# containerd's RunPodSandbox is retried for POD_RETRY_SECONDS (default 20), as kubelet retries.
run_pod() {
  local ns=$1 name=$2; shift 2
  local t=$(ms) out args=()
  if [ "$RUNTIME" = containerd ]; then
    for l in "$@"; do args+=(--label "$l"); done
    cri_run_pod node "${POD_RETRY_SECONDS:-20}" "$ns" "$name" --uid "uid-$ns-$name" "${args[@]}" ||
      { echo "  RunPodSandbox $ns/$name kept failing: $CRI_ERR"; return 1; }
    POD_ID=$(jq -r .id <<<"$CRI_OUT")
    POD_IP=$(jq -r .ip <<<"$CRI_OUT")
    POD_NETNS=$(jq -r .netns <<<"$CRI_OUT")
  else
    for l in "$@"; do args+=(--label "$l"); done
    CNI_ARGS="K8S_POD_NAMESPACE=$ns;K8S_POD_UID=uid-$ns-$name" \
      pm_run node "$name" pods "${args[@]}" >"$WORK/podman-run.out" 2>&1 ||
      { echo "  podman run $ns/$name failed: $(tail -n 3 "$WORK/podman-run.out")"; return 1; }
    POD_ID=$name
    out=$(pm node inspect "$name" --format \
      '{{.NetworkSettings.SandboxKey}} {{(index .NetworkSettings.Networks "pods").IPAddress}}')
    POD_NETNS=${out% *}
    POD_IP=${out#* }
  fi
  echo "  pod $ns/$name: $POD_IP, netns $POD_NETNS ($(($(ms) - t)) ms)"
  [ -n "$POD_IP" ] && [ "$POD_IP" != null ]
}
remove_pod() {  # remove_pod ID
  local t=$(ms)
  if [ "$RUNTIME" = containerd ]; then
    cri_remove_pod node "$1" || return 1
  else
    pm node rm -f -t 2 "$1" >/dev/null || return 1
  fi
  echo "  pod $1 removed ($(($(ms) - t)) ms)"
}

echo "ztunnel pod (istio-system, app=ztunnel, service account ztunnel):"
run_pod istio-system ztunnel-node app=ztunnel || fail "the ztunnel pod did not start"
ZT_NETNS=$POD_NETNS ZT_ID=$POD_ID
check "the agent registered ztunnel: its pod holds the tunnel end pistioout" \
  nsenter --net="$ZT_NETNS" ip link show pistioout

echo "ambient pod foo/sleep:"
if run_pod foo sleep app=sleep; then
  SLEEP_IP=$POD_IP SLEEP_ID=$POD_ID
  check "foo/sleep ($SLEEP_IP) is in ip ambient_redirect enrolled_pods" set_has "$SLEEP_IP"
  check "the plugin logged the runtime's ADD for foo/sleep as enrolled" \
    grep -q '"command":"ADD".*"pod":"foo/sleep".*"verdict":"enrolled"' "$WORK/cni.log"
else
  FAILED=1 SLEEP_ID=""
fi
check "ambientctl verify is clean after the ADDs" verify_clean

echo "non-ambient pod plain/web:"
if run_pod plain web app=web; then
  WEB_IP=$POD_IP WEB_ID=$POD_ID
  check "plain/web ($WEB_IP) is not in enrolled_pods" set_lacks "$WEB_IP"
else
  FAILED=1 WEB_ID=""
fi

echo "foo/sleep stopped and removed:"
if [ -n "$SLEEP_ID" ]; then
  remove_pod "$SLEEP_ID" || fail "removing foo/sleep failed"
  check "foo/sleep's IP $SLEEP_IP left enrolled_pods" set_lacks "$SLEEP_IP"
  check "the plugin logged the runtime's DEL for foo/sleep" \
    grep -q '"command":"DEL".*"pod":"foo/sleep"' "$WORK/cni.log"
fi
check "ambientctl verify is clean after the DEL" verify_clean
[ -n "${WEB_ID:-}" ] && { remove_pod "$WEB_ID" || fail "removing plain/web failed"; }

# ---- a bridge-based primary (flannel, k3s): bridge mode ---------------------------------------
# The node's primary becomes Debian's bridge + host-local (pods are ports of cni0), the installer
# puts ambient-cni last again. First an ambient pod while ztunnel is still on the old network:
# refused with CNI code 7 naming cni0 (the runtime does not start it un-redirected). Then the
# ztunnel pod is recreated, on the bridge: the agent runs in bridge mode, an ambient pod on cni0 is
# enrolled and its same-bridge TCP reaches ztunnel's port (a transparent relay stands there,
# tests/proofs/transparent_relay.py) with its own source kept. The runtime may still run the old
# config for a moment: a pod that landed on the ptp subnet is removed and tried again.
echo "bridge primary (cni0):"
cp /usr/lib/cni/bridge "$WORK/cni/bin/"
cat >"$WORK/cni/net.d/10-pods.conflist.tmp" <<EOF
{"cniVersion": "1.0.0", "name": "pods", "plugins": [
  {"type": "bridge", "bridge": "cni0", "isGateway": true, "ipMasq": false,
   "ipam": {"type": "host-local", "subnet": "10.88.8.0/24", "dataDir": "$WORK/ipam-bridge",
            "routes": [{"dst": "0.0.0.0/0"}]}}]}
EOF
mv "$WORK/cni/net.d/10-pods.conflist.tmp" "$WORK/cni/net.d/10-pods.conflist"
"$CNI_INSTALL_BIN" --cni-conf-dir "$WORK/cni/net.d" --cni-bin-dir "$WORK/cni/bin" \
  --plugin-binary "$CNI_BIN" --agent-socket "$WORK/agent.sock" --log-file "$WORK/cni.log" \
  >>"$WORK/install.log" 2>&1 || fail "ambient-cni-install on the bridge config failed"
# run_bridged NS NAME LABEL: run_pod until the pod lands on the bridge's subnet; 1 when refused
# (the runtime's error in $WORK/bridged.out).
run_bridged() {
  local _
  for _ in 1 2 3 4 5 6 7 8 9 10; do
    POD_RETRY_SECONDS=1 run_pod "$@" >"$WORK/bridged.out" 2>&1 || return 1
    cat "$WORK/bridged.out"
    case $POD_IP in
      10.88.7.*) remove_pod "$POD_ID" >/dev/null || fail "removing $1/$2 failed"; sleep 1 ;;
      *) return 0 ;;
    esac
  done
  fail "$1/$2 kept landing on the old network"
}
bridge_set_has() { ip netns exec "$NODE" nft list set bridge ambient_bridge enrolled_pods 2>/dev/null | grep -qw "$1"; }

refused=""
if run_bridged foo early app=early; then
  remove_pod "$POD_ID" >/dev/null
else
  refused=$(tr '\n' ' ' <"$WORK/bridged.out")
  [ "$RUNTIME" = podman ] && refused+=$(tr '\n' ' ' <"$WORK/podman-run.out")
fi
echo "  foo/early (ztunnel not on the bridge): ${refused:-started}"
check "an ambient pod on cni0 is refused while ztunnel is on no bridge, naming cni0" \
  grep -q "is a port of bridge cni0, but ztunnel's veth is on no bridge" <<<"$refused"
check "the plugin logged CNI code 7 for foo/early" \
  grep -q '"pod":"foo/early".*"cniCode":7' "$WORK/cni.log"

echo "  the ztunnel pod recreated on the bridge:"
remove_pod "$ZT_ID" || fail "removing the ztunnel pod failed"
run_bridged istio-system ztunnel-node app=ztunnel || fail "the ztunnel pod did not start on cni0"
ZT_NETNS=$POD_NETNS ZT_ID=$POD_ID
check "the agent runs in bridge mode: table bridge ambient_bridge in the node" \
  ip netns exec "$NODE" nft list table bridge ambient_bridge
check "the agent logged bridge mode for cni0" grep -q 'bridge mode.*cni0' "$WORK/agent.log"

if run_bridged foo bridged app=bridged; then
  BR_IP=$POD_IP BR_NETNS=$POD_NETNS BR_ID=$POD_ID
  check "foo/bridged ($BR_IP) is enrolled: in both tables' enrolled_pods" \
    bash -c "$(declare -f set_has bridge_set_has); NODE=$NODE; set_has $BR_IP && bridge_set_has $BR_IP"
  check "ambientctl verify is clean in bridge mode" verify_clean
else
  echo "  RunPodSandbox foo/bridged failed: $(cat "$WORK/bridged.out")"
  FAILED=1 BR_ID=""
fi
if run_bridged plain bweb app=bweb; then
  WEB_IP=$POD_IP WEB_NETNS=$POD_NETNS WEB_ID=$POD_ID
  check "plain/bweb ($WEB_IP) starts on the bridge, not enrolled" set_lacks "$WEB_IP"
else
  FAILED=1 WEB_ID=""
fi
if [ -n "$BR_ID" ] && [ -n "$WEB_ID" ]; then
  nsenter --net="$WEB_NETNS" "$NETTOOL_BIN" serve --port 8080 >"$WORK/bweb-serve.log" 2>&1 &
  SERVE_PID=$!
  nsenter --net="$ZT_NETNS" python3 "$RELAY" 15001 15006 15008 >"$WORK/relay.log" 2>&1 &
  RELAY_PID=$!
  for _ in $(seq 50); do grep -q listening "$WORK/relay.log" && grep -q listening "$WORK/bweb-serve.log" && break; sleep 0.1; done
  got=$(nsenter --net="$BR_NETNS" "$NETTOOL_BIN" connect "$WEB_IP:8080" --timeout-ms 2000 2>&1 | head -1) || true
  echo "  foo/bridged -> plain/bweb:8080 on the same bridge: $got"
  check "same-bridge TCP of the ambient pod reaches ztunnel's 15001, the destination sees $BR_IP" \
    grep -q "^zt:15001 $WEB_IP:8080 8080 $WEB_IP:8080 $BR_IP:" <<<"$got"
  kill "$SERVE_PID" "$RELAY_PID" 2>/dev/null
  wait "$SERVE_PID" "$RELAY_PID" 2>/dev/null || true
  SERVE_PID="" RELAY_PID=""
  remove_pod "$BR_ID" || fail "removing foo/bridged failed"
  check "foo/bridged's IP left both sets" \
    bash -c "$(declare -f set_has bridge_set_has); NODE=$NODE; ! set_has $BR_IP && ! bridge_set_has $BR_IP"
  remove_pod "$WEB_ID" || fail "removing plain/bweb failed"
fi

if ((FAILED)); then
  echo "verify output:"; cat "$WORK/verify.out" 2>/dev/null
  fail "$RUNTIME: some checks failed"
fi
echo "PASS: $RUNTIME drove ADD and DEL of ambient-cni ($(($(ms) - t0)) ms from the runtime's start)"
