#!/usr/bin/env bash
# End-to-end: the seed article's traffic paths on an emulated two-node cluster (cluster.sh),
# each numbered step asserted with evidence from the kernel, ztunnel and the pods:
#   scenario 1: ambient sleep (foo, node-a) -> sidecar httpbin (bar, node-b) through the
#               httpbin Service VIP; ztunnel on node-a balances, httpbin's sidecar captures.
#   scenario 2: sidecar sleep (bar, node-a) -> ambient httpbin (foo, node-b): the sidecar's HBONE
#               to httpbin:15008 is captured on node-b into ztunnel's 15008.
# Prints a summary table (scenario, step, evidence, result); exits 1 if any step failed.
source "$(dirname "$0")/cluster.sh"
E2E=$(cd "$(dirname "$0")" && pwd)
ZT_TOOLS="$REPO/tests/ztunnel"

ROWS=()
FAILED=0
# step SCENARIO STEP EVIDENCE OK(0/1)
step() {
  local result=PASS
  [ "$4" -eq 0 ] || { result=FAIL; FAILED=1; }
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
  if [ -n "${E2E_HOLD:-}" ] && [ -t 0 ]; then
    echo
    echo "The cluster stays up until you press Enter (or Ctrl-C). Namespaces: ip netns list | grep $P"
    echo "  pods (namespace $P-<ns>-<name>): ${!POD_NETNS[*]}; work dir $WORK"
    echo "  ip netns exec $P-node-a nft list table ip ambient_redirect"
    echo "  ip netns exec $P-istio-system-ztunnel-node-a curl -s 127.0.0.1:15020/metrics"
    trap 'echo' INT  # Ctrl-C ends the wait, not the clean-up
    read -r _ || true
  fi
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
json_get() { jq -r "$2" <<<"$1" 2>/dev/null; }
host_veth() { jq -r '.interfaces[] | select(.sandbox == null) | .name' \
  "$WORK/${NODE_OF[$1]}/result-${1%/*}-${1#*/}.json" | head -n1; }
enrolled() { inns "${NODE_OF[$1]}" nft list set ip ambient_redirect enrolled_pods | grep -qw "${POD_IP[$1]}"; }
ztunnel_knows() {  # ztunnel_knows NODE NS/NAME PROTOCOL SERVICE-HOSTNAME
  local dump
  dump=$(inns "istio-system-ztunnel-$1" curl -sf http://127.0.0.1:15000/config_dump) || return 1
  jq -e --arg ip "${POD_IP[$2]}" --arg p "$3" --arg h "$4" \
    '([.workloads[] | select((.workloadIps | index($ip)) and .protocol == $p)] | length > 0)
     and ([.services[] | select(.hostname == $h)] | length > 0)' <<<"$dump" >/dev/null
}

# The sidecar of a pod, Istio TPROXY interception style: inbound TCP on eth0 (except the proxy's
# own ports) goes to the proxy's 15006 with mark 0x539; the proxy dials the app from the client's
# IP with SO_MARK 0x539, and the mark, kept on the connection, routes the app's replies back to
# the proxy through table 133 (local default).
sidecar_capture() {
  local pod=$1 pns=${POD_NETNS[$1]}
  inns "$pns" nft -f - <<'NFT'
table ip e2e_sidecar {
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
  bg "$pns" "sidecar-${pod//\//-}" "$PY" "$E2E/sidecar_proxy.py" inbound 15006 0x539
  poll 20 grep -q listening "$WORK/sidecar-${pod//\//-}.log" || fail "sidecar proxy of $pod did not start"
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
log "cluster up: ztunnel-node-a ${POD_IP[istio-system/ztunnel-node-a]}, ztunnel-node-b ${POD_IP[istio-system/ztunnel-node-b]}"

# ---- scenario 1: ambient sleep (foo, node-a) -> sidecar httpbin (bar, node-b) ---------------
SIDECAR_ANN='{"sidecar.istio.io/status":"{\"containers\":[\"istio-proxy\"]}"}'
add_pod node-a foo sleep '{"app":"sleep"}' '{}' sleep
add_pod node-b bar httpbin '{"app":"httpbin"}' "$SIDECAR_ANN" httpbin
enrolled foo/sleep || fail "foo/sleep was not enrolled on node-a"
! enrolled bar/httpbin || fail "bar/httpbin (sidecar) was enrolled on node-b"
start_app bar/httpbin
sidecar_capture bar/httpbin
api_service bar httpbin 10.96.0.80 8000 80 httpbin
SLEEP=${POD_IP[foo/sleep]}
HTTPBIN=${POD_IP[bar/httpbin]}
HB_NS=${POD_NETNS[bar/httpbin]}
inns "$HB_NS" nft insert rule ip e2e_sidecar prerouting iifname eth0 ip saddr "$SLEEP" \
  ip daddr "$HTTPBIN" tcp dport 80 counter
poll 30 ztunnel_knows node-a foo/sleep HBONE httpbin.bar.svc.cluster.local ||
  fail "ztunnel on node-a never learnt sleep (HBONE) and the httpbin.bar service"
poll 30 ztunnel_knows node-a bar/httpbin TCP httpbin.bar.svc.cluster.local ||
  fail "ztunnel on node-a never learnt bar/httpbin as a TCP (sidecar) workload"

ZTA=istio-system-ztunnel-node-a
SRC_RE="reporter=\"source\".*source_workload=\"sleep\".*destination_workload=\"httpbin\""
mark0=$(nft_counter node-a prerouting '@enrolled_pods')
dnat0=$(nft_counter node-a nat_prerouting 'dnat')
out0=$(link_stat node-a istioout tx)
pout0=$(link_stat "$ZTA" pistioout rx)
tp0=$(nft_counter "$ZTA" prerouting 'tproxy to 127.0.0.1:15001')
open0=$(metric node-a istio_tcp_connections_opened_total "$SRC_RE")
arr0=$(TABLE=e2e_sidecar nft_counter "$HB_NS" prerouting "ip saddr $SLEEP")
cap0=$(TABLE=e2e_sidecar nft_counter "$HB_NS" prerouting 'tproxy')
in0=$(link_stat node-b istioin tx)

log "scenario 1: foo/sleep $SLEEP -> httpbin.bar 10.96.0.80:8000"
probe=$(inns "${POD_NETNS[foo/sleep]}" timeout 20 "$PY" "$ZT_TOOLS/tcp_tool.py" probe 10.96.0.80 8000 1000 || true)
echo "  sleep's client: $probe"

mark1=$(nft_counter node-a prerouting '@enrolled_pods')
dnat1=$(nft_counter node-a nat_prerouting 'dnat')
out1=$(link_stat node-a istioout tx)
pout1=$(link_stat "$ZTA" pistioout rx)
tp1=$(nft_counter "$ZTA" prerouting 'tproxy to 127.0.0.1:15001')
open1=$(metric node-a istio_tcp_connections_opened_total "$SRC_RE")
arr1=$(TABLE=e2e_sidecar nft_counter "$HB_NS" prerouting "ip saddr $SLEEP")
cap1=$(TABLE=e2e_sidecar nft_counter "$HB_NS" prerouting 'tproxy')
in1=$(link_stat node-b istioin tx)
route=$(inns node-a ip route get 10.96.0.80 from "$SLEEP" iif "$(host_veth foo/sleep)" mark 0x100 2>&1 | head -n1)
routeb=$(inns node-b ip route get "$HTTPBIN" from "$SLEEP" iif eth0 2>&1 | head -n1)
sidecar_line=$(grep "^inbound $SLEEP:" "$WORK/sidecar-bar-httpbin.log" | tail -n1 || true)

expect 1 "1" "node-a: rule 'tcp saddr @enrolled_pods -> mark 0x100' +$((mark1 - mark0)) pkts" "$mark1" -gt "$mark0"
expect 1 "2" "node-a: VIP kept (null dnat +$((dnat1 - dnat0))); route get: ${route//  / }" \
  "$([ "$dnat1" -gt "$dnat0" ] && grep -q 'dev istioout table 101' <<<"$route" && echo 0 || echo 1)" -eq 0
# The tunnel kind the node really has; AMBIENT_EXPECT_TUNNEL (set for the geneve VM) demands one.
kind=$(inns node-a ip -d link show istioout | grep -oE 'geneve|vxlan' | head -n1)
expect 1 "3" "node-a: istioout tx +$((out1 - out0)) pkts (${kind:-no tunnel} to ztunnel pod)" \
  "$([ "$out1" -gt "$out0" ] && [ -n "$kind" ] &&
     { [ -z "${AMBIENT_EXPECT_TUNNEL:-}" ] || [ "$kind" = "$AMBIENT_EXPECT_TUNNEL" ]; } && echo 0 || echo 1)" -eq 0
expect 1 "4" "ztunnel-a: pistioout rx +$((pout1 - pout0)); TPROXY->15001 rule +$((tp1 - tp0))" \
  "$([ "$pout1" -gt "$pout0" ] && [ "$tp1" -gt "$tp0" ] && echo 0 || echo 1)" -eq 0
expect 1 "5" "ztunnel-a 15020: opened_total{reporter=source,sleep->httpbin} +$((open1 - open0))" "$open1" -gt "$open0"
expect 1 "6" "httpbin eth0: from $SLEEP to $HTTPBIN:80 +$((arr1 - arr0)) pkts" "$arr1" -gt "$arr0"
expect 1 "6" "node-b: not via its ztunnel: istioin tx +$((in1 - in0)); route get: ${routeb//  / }" \
  "$([ "$in1" -eq "$in0" ] && ! grep -q istioin <<<"$routeb" && grep -q "dev veth" <<<"$routeb" && echo 0 || echo 1)" -eq 0
expect 1 "7" "sidecar TPROXY->15006 +$((cap1 - cap0)); log: ${sidecar_line:-none}" \
  "$([ "$cap1" -gt "$cap0" ] && grep -q " -> $HTTPBIN:80 " <<<"$sidecar_line" && echo 0 || echo 1)" -eq 0
expect 1 "8" "app: $(json_get "$probe" '"server=\(.server) peer=\(.peer) echo_ok=\(.ok)"') (want peer $SLEEP)" \
  "$([ "$(json_get "$probe" .peer)" = "$SLEEP" ] && [ "$(json_get "$probe" .ok)" = true ] &&
     [ "$(json_get "$probe" .server)" = httpbin ] && echo 0 || echo 1)" -eq 0

# ---- scenario 2: sidecar sleep (bar, node-a) -> ambient httpbin (foo, node-b) ---------------
add_pod node-a bar sleep '{"app":"sleep"}' "$SIDECAR_ANN" sleep
add_pod node-b foo httpbin '{"app":"httpbin"}' '{}' httpbin
! enrolled bar/sleep || fail "bar/sleep (sidecar) was enrolled on node-a"
enrolled foo/httpbin || fail "foo/httpbin was not enrolled on node-b"
start_app foo/httpbin
api_service foo httpbin 10.96.0.81 8000 80 httpbin
SLEEP2=${POD_IP[bar/sleep]}
HTTPBIN2=${POD_IP[foo/httpbin]}
poll 30 ztunnel_knows node-b foo/httpbin HBONE httpbin.foo.svc.cluster.local ||
  fail "ztunnel on node-b never learnt foo/httpbin as HBONE"

ZTB=istio-system-ztunnel-node-b
DST_RE="reporter=\"destination\".*source_principal=\"spiffe://cluster.local/ns/bar/sa/sleep\".*destination_workload=\"httpbin\""
mark0=$(nft_counter node-a prerouting '@enrolled_pods')
bin0=$(link_stat node-b istioin tx)
pin0=$(link_stat "$ZTB" pistioin rx)
tp0=$(nft_counter "$ZTB" prerouting 'tcp dport 15008 tproxy')
open0=$(metric node-b istio_tcp_connections_opened_total "$DST_RE")

log "scenario 2: bar/sleep $SLEEP2 -> HBONE $HTTPBIN2:15008 (CONNECT $HTTPBIN2:80)"
hb=$(inns "${POD_NETNS[bar/sleep]}" timeout 20 "$PY" "$ZT_TOOLS/hbone_peer.py" client "$HTTPBIN2" 15008 \
  "$HTTPBIN2:80" "$WORK/ca/bar/sleep" "$WORK/ca/root-cert.pem" CONNECT \
  spiffe://cluster.local/ns/foo/sa/httpbin 1000 || true)
echo "  sleep's sidecar (HBONE client): $hb"

mark1=$(nft_counter node-a prerouting '@enrolled_pods')
bin1=$(link_stat node-b istioin tx)
pin1=$(link_stat "$ZTB" pistioin rx)
tp1=$(nft_counter "$ZTB" prerouting 'tcp dport 15008 tproxy')
open1=$(metric node-b istio_tcp_connections_opened_total "$DST_RE")
route=$(inns node-b ip route get "$HTTPBIN2" from "$SLEEP2" iif eth0 2>&1 | head -n1)

expect 2 "1-4" "sidecar HBONE: status $(json_get "$hb" .status), server id $(json_get "$hb" .server_identity); node-a 0x100 rule +$((mark1 - mark0))" \
  "$([ "$(json_get "$hb" .status)" = 200 ] && [ "$mark1" -eq "$mark0" ] &&
     [ "$(json_get "$hb" .server_identity)" = spiffe://cluster.local/ns/foo/sa/httpbin ] && echo 0 || echo 1)" -eq 0
expect 2 "5-6" "node-b: istioin tx +$((bin1 - bin0)); route get: ${route//  / }" \
  "$([ "$bin1" -gt "$bin0" ] && grep -q 'dev istioin table 100' <<<"$route" && echo 0 || echo 1)" -eq 0
expect 2 "7-8" "ztunnel-b: pistioin rx +$((pin1 - pin0)); TPROXY dport 15008->15008 rule +$((tp1 - tp0))" \
  "$([ "$pin1" -gt "$pin0" ] && [ "$tp1" -gt "$tp0" ] && echo 0 || echo 1)" -eq 0
expect 2 "9" "ztunnel-b opened{destination,bar/sleep->httpbin} +$((open1 - open0)); app: $(json_get "$hb" .greeting) echo_ok=$(json_get "$hb" .echo_ok)" \
  "$([ "$open1" -gt "$open0" ] && [ "$(json_get "$hb" .greeting)" = "httpbin $SLEEP2" ] &&
     [ "$(json_get "$hb" .echo_ok)" = true ] && echo 0 || echo 1)" -eq 0

# ---- afterwards: each node's kernel state is exactly the agent's plan ------------------------
if [ -n "${AMBIENTCTL_BIN:-}" ]; then
  for node in node-a node-b; do
    rc=0
    v=$("$AMBIENTCTL_BIN" verify --state-dir "$WORK/$node/state" 2>&1) || rc=$?
    expect all verify "$node: ambientctl verify exit $rc: $(tail -n1 <<<"$v" | cut -c1-60)" "$rc" -eq 0
  done
fi

log "done in $(($(date +%s) - START)) s"
[ "$FAILED" -eq 0 ] || fail "some steps failed (table below)"
echo "PASS e2e scenarios"
