#!/usr/bin/env bash
# End-to-end, HBONE: client -> ztunnel A (15001) == HBONE/mTLS ==> ztunnel B (15008) -> server,
# in private namespaces with dev-mode certificates; a python3-h2 HBONE client and server
# (independent HTTP/2 implementation) on both sides of our code; waypoint path; mTLS refusals;
# bad input (garbage, HTTP/2 errors, forbidden targets, slow clients) refused and counted.
source "$(dirname "$0")/netns_topology.sh"
REPO=${ZT_REPO:-$(cd "$ZT_SCRIPTS/../.." && pwd)}
CA=$WORK/ca
bash "$REPO/scripts/make-test-ca.sh" "$CA" --identity default/client --identity default/waypoint \
  --identity default/impostor --expired default/old --uri-san https://example.com/client default/weird >/dev/null
bash "$REPO/scripts/make-test-ca.sh" "$WORK/otherca" --identity default/client >/dev/null
mkdir -p "$WORK/tdca"; cp "$CA/ca-cert.pem" "$CA/ca-key.pem" "$WORK/tdca/"  # same CA, other trust domain
bash "$REPO/scripts/make-test-ca.sh" "$WORK/tdca" --trust-domain other.domain --identity default/client >/dev/null

cat >"$WORK/config.json" <<'JSON'
{
  "workloads": [
    {"uid": "c//v1/Pod/default/client", "name": "client", "namespace": "default",
     "serviceAccount": "client", "node": "node-a", "workloadIps": ["10.77.1.2"],
     "protocol": "HBONE", "services": {}},
    {"uid": "c//v1/Pod/default/srv1", "name": "srv1", "namespace": "default",
     "serviceAccount": "srv", "node": "node-b", "workloadIps": ["10.77.2.2"], "protocol": "HBONE",
     "services": {"default/echo.default.svc.cluster.local": {"80": 8080}}},
    {"uid": "c//v1/Pod/default/srv2", "name": "srv2", "namespace": "default",
     "serviceAccount": "srv", "node": "node-b", "workloadIps": ["10.77.3.2"], "protocol": "HBONE",
     "services": {"default/echo.default.svc.cluster.local": {"80": 8080}}},
    {"uid": "c//v1/Pod/default/hello", "name": "hello", "namespace": "default",
     "serviceAccount": "hello", "node": "node-d", "workloadIps": ["10.77.5.5"], "protocol": "HBONE",
     "waypoint": {"destination": "/10.77.4.2", "hboneMtlsPort": 15008}, "services": {}},
    {"uid": "c//v1/Pod/default/evil", "name": "evil", "namespace": "default",
     "node": "node-d", "workloadIps": ["10.77.5.6"], "protocol": "HBONE",
     "waypoint": {"destination": "/10.77.4.2", "hboneMtlsPort": 15009}, "services": {}},
    {"uid": "c//v1/Pod/default/waypoint", "name": "waypoint", "namespace": "default",
     "serviceAccount": "waypoint", "node": "node-c", "workloadIps": ["10.77.4.2"],
     "protocol": "TCP", "services": {}}
  ],
  "policies": [],
  "services": [
    {"name": "echo", "namespace": "default", "hostname": "echo.default.svc.cluster.local",
     "vips": ["/10.96.0.10"], "ports": {"80": 8080}}
  ]
}
JSON

build_topology
start_servers
bg wp waypoint "$PY" "$ZT_SCRIPTS/hbone_peer.py" server 10.77.4.2 15008 "$CA/default/waypoint" "$CA/root-cert.pem"
bg wp impostor "$PY" "$ZT_SCRIPTS/hbone_peer.py" server 10.77.4.2 15009 "$CA/default/impostor" "$CA/root-cert.pem"
start_ztunnel zta node-a "$WORK/config.json" --dev-ca "$CA"
start_ztunnel ztb node-b "$WORK/config.json" --dev-ca "$CA" --handshake-timeout-ms 1500
wait_port srv1 127.0.0.1 8080
wait_port srv2 127.0.0.1 8080
wait_port wp 10.77.4.2 15008
wait_port wp 10.77.4.2 15009

field() { "$PY" -c "import json,sys; print(json.load(sys.stdin).get('$1'))"; }
rejected() {  # rejected NS LISTENER REASON
  inns "$1" curl -sf http://127.0.0.1:15020/metrics |
    awk -v k="ztunnel_connections_rejected_total{listener=\"$2\",reason=\"$3\"}" 'index($0, k) == 1 {s += $NF} END {print s + 0}'
}

# 1. VIP over HBONE: both endpoints, original client IP at the server, pooled connections.
seen=""
for i in $(seq 1 16); do
  out=$(inns cli "$PY" "$ZT_SCRIPTS/tcp_tool.py" probe 10.96.0.10 80 1000) || fail "probe $i: $out"
  [ "$(echo "$out" | field peer)" = "10.77.1.2" ] || fail "server saw $(echo "$out" | field peer), want 10.77.1.2"
  seen="$seen $(echo "$out" | field server)"
done
echo "$seen" | grep -q srv1 && echo "$seen" | grep -q srv2 || fail "VIP did not use both endpoints:$seen"
pass "HBONE: VIP balanced over srv1+srv2, servers saw the client IP 10.77.1.2"
out=$(inns cli "$PY" "$ZT_SCRIPTS/tcp_tool.py" probe 10.77.2.2 8080 20000000) || fail "bulk over HBONE: $out"
pass "HBONE: 20 MB echoed intact with half-close"
conns=$(inns zta ss -Htn state established '( dport = :15008 )' | wc -l)
[ "$conns" -ge 1 ] && [ "$conns" -le 4 ] || fail "expected pooled HBONE connections (1..4), found $conns"
pass "HBONE: 17 streams carried by $conns pooled mTLS connection(s)"

# Resets of some HBONE streams leave the other streams of the pooled connection alone.
inns cli "$PY" "$ZT_SCRIPTS/tcp_tool.py" hold 10.96.0.10 80 6 1 >"$WORK/hold.json" &
holdpid=$!
sleep 0.3
for i in 1 2 3 4; do inns cli "$PY" "$ZT_SCRIPTS/tcp_tool.py" rst 10.96.0.10 80; done
wait $holdpid || fail "held HBONE streams broke after other streams reset: $(cat "$WORK/hold.json")"
pass "HBONE: client resets on 4 streams; 6 held streams on the same pool kept working"

# 2. Metrics on both sides.
a=$(metric zta istio_tcp_connections_opened_total 'reporter="source",source_workload="client".*connection_security_policy="mutual_tls"')
b=$(metric ztb istio_tcp_connections_opened_total 'reporter="destination",source_workload="client",source_workload_namespace="default",source_principal="spiffe://cluster.local/ns/default/sa/client".*mutual_tls')
bytes=$(metric ztb istio_tcp_received_bytes_total 'source_principal="spiffe://cluster.local/ns/default/sa/client"')
[ "$a" -ge 27 ] && [ "$b" -ge 27 ] && [ "$bytes" -ge 20016000 ] || fail "metrics A=$a B=$b bytes=$bytes"
pass "metrics: A opened=$a, B opened=$b with the peer's SPIFFE principal, B received_bytes=$bytes"

# 3. Waypoint path: HBONE to the waypoint's 15008 (python3-h2 server), authority = original dst.
out=$(inns cli "$PY" "$ZT_SCRIPTS/tcp_tool.py" probe 10.77.5.5 7000 5000) || fail "waypoint probe: $out"
[ "$(echo "$out" | field server)" = "waypoint" ] || fail "not answered by the waypoint: $out"
[ "$(echo "$out" | field peer)" = "10.77.5.5:7000,spiffe://cluster.local/ns/default/sa/client" ] || fail "waypoint saw: $out"
pass "waypoint: python3-h2 server got CONNECT 10.77.5.5:7000 from spiffe://cluster.local/ns/default/sa/client"
before=$(rejected zta outbound peer_identity)
inns cli "$PY" "$ZT_SCRIPTS/tcp_tool.py" probe 10.77.5.6 7000 10 >"$WORK/evil.json" && fail "impostor waypoint accepted: $(cat "$WORK/evil.json")"
[ "$(rejected zta outbound peer_identity)" -gt "$before" ] || fail "wrong server identity not counted"
pass "waypoint presenting sa/impostor instead of sa/waypoint refused (client reset, counted)"

# 4. python3-h2 as HBONE client against ztunnel B's 15008 (from node A's namespace).
hb() { inns zta "$PY" "$ZT_SCRIPTS/hbone_peer.py" client 10.77.2.2 15008 "$@"; }
ROOT=$CA/root-cert.pem
out=$(hb 10.77.2.2:8080 "$CA/default/client" "$ROOT" CONNECT spiffe://cluster.local/ns/default/sa/srv 3000) || fail "h2 client: $out"
[ "$(echo "$out" | field greeting)" = "srv1 10.77.9.1" ] || fail "h2 client greeting: $out"
pass "python3-h2 client: 200, echo ok, ztunnel B presented sa/srv, server saw the HBONE peer IP"
expect_status() {  # expect_status WANT AUTHORITY [METHOD]
  local got
  got=$(hb "$2" "$CA/default/client" "$ROOT" "${3:-CONNECT}" | field status) || true
  [ "$got" = "$1" ] || fail "CONNECT $2 ${3:-}: status $got, want $1"
}
expect_status 401 10.77.99.99:80          # unknown target
expect_status 401 10.77.1.2:80            # a workload of another node
expect_status 401 10.77.2.2:15008         # proxy port (loop)
expect_status 400 not-an-address          # malformed authority
expect_status 405 10.77.2.2:8080 GET      # not CONNECT
expect_status 503 10.77.2.2:9             # upstream refuses
[ "$(rejected ztb inbound_hbone connect_status_401)" -ge 3 ] || fail "401s not counted"
[ "$(rejected ztb inbound_hbone upstream_connect_failed)" -ge 1 ] || fail "503 not counted"
pass "CONNECT refusals: 401 unknown/foreign/loop, 400 malformed, 405 GET, 503 upstream down; counted"

# 5. mTLS negative cases, each refused and counted.
hs0=$(rejected ztb inbound_hbone tls_handshake)
id0=$(rejected ztb inbound_hbone peer_identity)
for bad in "-" "$WORK/otherca/default/client" "$CA/default/old"; do
  out=$(hb 10.77.2.2:8080 "$bad" "$ROOT") && fail "accepted client cert $bad: $out"
  [ "$(echo "$out" | field status)" = "None" ] || fail "got an HTTP status with cert $bad: $out"
done
for bad in "$WORK/tdca/default/client" "$CA/default/weird"; do
  out=$(hb 10.77.2.2:8080 "$bad" "$ROOT") && fail "accepted client cert $bad: $out"
done
sleep 0.2
hs1=$(rejected ztb inbound_hbone tls_handshake)
id1=$(rejected ztb inbound_hbone peer_identity)
[ $((hs1 - hs0)) -ge 3 ] || fail "no-cert/wrong-CA/expired not counted as tls_handshake ($hs0 -> $hs1)"
[ $((id1 - id0)) -ge 2 ] || fail "wrong trust domain / non-SPIFFE SAN not counted as peer_identity ($id0 -> $id1)"
pass "mTLS refused: no client cert, wrong CA, expired (tls_handshake +$((hs1 - hs0))); other trust domain, non-SPIFFE SAN (peer_identity +$((id1 - id0)))"

# 6. Bad input: garbage instead of TLS, HTTP/2 errors, slow clients; others unaffected.
inns zta "$PY" "$ZT_SCRIPTS/hbone_peer.py" raw 10.77.2.2 15008 474554202f20485454502f312e310d0a0d0a >/dev/null || fail "garbage not closed"
inns zta "$PY" "$ZT_SCRIPTS/hbone_peer.py" raw 10.77.2.2 15008 tls-then-garbage "$ROOT" "$CA/default/client" >/dev/null || fail "bad preface not closed"
[ "$(rejected ztb inbound_hbone h2_protocol_error)" -ge 1 ] || fail "HTTP/2 preface error not counted"
inns zta bash -c 'exec 3<>/dev/tcp/10.77.2.2/15008; sleep 3' &
slow=$!
out=$(inns cli "$PY" "$ZT_SCRIPTS/tcp_tool.py" probe 10.96.0.10 80 1000) || fail "probe during slow client: $out"
wait $slow || true
[ "$(rejected ztb inbound_hbone handshake_timeout)" -ge 1 ] || fail "slow client not timed out"
pass "garbage and bad preface closed and counted; a silent client timed out while others flowed"
echo "PASS hbone_netns_test"
