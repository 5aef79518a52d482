#!/usr/bin/env bash
# End-to-end, counters that mean what they say (issue 18): an idle-pool close between our two
# ztunnels and clients' normal closes (TCP through both ztunnels, python3-h2 directly to 15008)
# leave every ztunnel_connections_rejected_total series unchanged on both ztunnels; each real
# refusal then raises exactly one series by exactly one, and TLS refusals reach the peer as an
# alert. A client offering no ALPN is served (as upstream ztunnel does).
source "$(dirname "$0")/netns_topology.sh"
REPO=${ZT_REPO:-$(cd "$ZT_SCRIPTS/../.." && pwd)}
CA=$WORK/ca
bash "$REPO/scripts/make-test-ca.sh" "$CA" --identity default/client --uri-san https://example.com/client default/weird >/dev/null
mkdir -p "$WORK/tdca"; cp "$CA/ca-cert.pem" "$CA/ca-key.pem" "$WORK/tdca/"
bash "$REPO/scripts/make-test-ca.sh" "$WORK/tdca" --trust-domain other.domain --identity default/client >/dev/null

cat >"$WORK/config.json" <<'JSON'
{
  "workloads": [
    {"uid": "c//v1/Pod/default/client", "name": "client", "namespace": "default",
     "serviceAccount": "client", "node": "node-a", "workloadIps": ["10.77.1.2"],
     "protocol": "HBONE", "services": {}},
    {"uid": "c//v1/Pod/default/srv1", "name": "srv1", "namespace": "default",
     "serviceAccount": "srv", "node": "node-b", "workloadIps": ["10.77.2.2"], "protocol": "HBONE",
     "services": {}}
  ],
  "policies": [],
  "services": []
}
JSON

build_topology
start_servers
start_ztunnel zta node-a "$WORK/config.json" --dev-ca "$CA" --pool-idle-ms 500
start_ztunnel ztb node-b "$WORK/config.json" --dev-ca "$CA" --pool-idle-ms 500
wait_port srv1 127.0.0.1 8080
field() { "$PY" -c "import json,sys; print(json.load(sys.stdin).get('$1'))"; }
snapshot() {  # every rejected_total series of both ztunnels, "ns series value" per line
  for ns in zta ztb; do
    inns "$ns" curl -sf http://127.0.0.1:15020/metrics | { grep '^ztunnel_connections_rejected_total{' || true; } | sed "s/^/$ns /"
  done | sort
}
# diff_one WANT-SERIES: exactly that one series rose, by exactly one, nothing else changed.
diff_one() {
  local want=$1 got
  got=$("$PY" - "$WORK/before" "$WORK/after" <<'PY'
import sys
def load(p):
    d = {}
    for line in open(p):
        ns, series, value = line.split()
        d[ns + " " + series] = float(value)
    return d
a, b = load(sys.argv[1]), load(sys.argv[2])
print(";".join(f"{k}+{b.get(k, 0) - a.get(k, 0):g}" for k in sorted(set(a) | set(b)) if b.get(k, 0) != a.get(k, 0)))
PY
)
  [ "$got" = "$want+1" ] || fail "expected exactly '$want' +1, counters changed: '${got:-nothing}'"
}
hb() { inns zta "$PY" "$ZT_SCRIPTS/hbone_peer.py" client 10.77.2.2 15008 "$@"; }
ROOT=$CA/root-cert.pem

# 1. Normal traffic, then the pool goes idle and closes: no rejection anywhere.
snapshot >"$WORK/before"
for i in 1 2 3; do
  out=$(inns cli "$PY" "$ZT_SCRIPTS/tcp_tool.py" probe 10.77.2.2 8080 100000) || fail "probe $i: $out"
done
out=$(hb 10.77.2.2:8080 "$CA/default/client" "$ROOT") || fail "python3-h2 client: $out"
out=$(HBONE_ALPN=none hb 10.77.2.2:8080 "$CA/default/client" "$ROOT") || fail "client without ALPN refused: $out"
[ "$(echo "$out" | field echo_ok)" = "True" ] || fail "no-ALPN client: $out"
pass "a client offering no ALPN is served HTTP/2 (as upstream ztunnel: rustls + hyper)"
for _ in $(seq 1 40); do
  [ "$(inns zta ss -Htn state established '( dport = :15008 )' | wc -l)" -eq 0 ] && break
  sleep 0.1
done
[ "$(inns zta ss -Htn state established '( dport = :15008 )' | wc -l)" -eq 0 ] || fail "pool did not close when idle"
sleep 0.3
snapshot >"$WORK/after"
cmp -s "$WORK/before" "$WORK/after" || fail "normal closes counted as rejections: $(diff "$WORK/before" "$WORK/after" | tr '\n' ' ')"
pass "3 TCP clients + 2 python3-h2 clients closed normally, idle pool closed: rejected_total unchanged on both"

# 2. Real refusals: each raises exactly one series by one.
snapshot >"$WORK/before"
inns cli "$PY" "$ZT_SCRIPTS/tcp_tool.py" probe 10.77.2.2 15008 10 >/dev/null && fail "loop target accepted"
sleep 0.7  # the pool's idle close must not add anything either
snapshot >"$WORK/after"
# A CONNECT refused by B (401) is one refusal at B and one at A (the client is reset), one each.
got=$(diff <(cut -d' ' -f1-2 "$WORK/before") <(cut -d' ' -f1-2 "$WORK/after") || true)
"$PY" - "$WORK/before" "$WORK/after" <<'PY' || fail "401 through both ztunnels: counters $(diff "$WORK/before" "$WORK/after" | tr '\n' ' ')"
import sys
def load(p):
    return {l.rsplit(" ", 1)[0]: float(l.rsplit(" ", 1)[1]) for l in open(p)}
a, b = load(sys.argv[1]), load(sys.argv[2])
d = {k: b.get(k, 0) - a.get(k, 0) for k in set(a) | set(b) if b.get(k, 0) != a.get(k, 0)}
want = {'zta ztunnel_connections_rejected_total{listener="outbound",reason="hbone_status_401"}': 1,
        'ztb ztunnel_connections_rejected_total{listener="inbound_hbone",reason="connect_status_401"}': 1}
sys.exit(0 if d == want else 1)
PY
pass "CONNECT refused 401: hbone_status_401 +1 at A, connect_status_401 +1 at B, nothing else"

snapshot >"$WORK/before"
out=$(hb 10.77.2.2:8080 "$WORK/tdca/default/client" "$ROOT") && fail "other trust domain accepted: $out"
echo "$out" | grep -qi "alert bad certificate" || fail "other trust domain: no bad_certificate alert: $out"
sleep 0.2; snapshot >"$WORK/after"
diff_one 'ztb ztunnel_connections_rejected_total{listener="inbound_hbone",reason="peer_identity"}'
pass "client of another trust domain: bad_certificate alert, peer_identity +1 only"

snapshot >"$WORK/before"
out=$(hb 10.77.2.2:8080 "$CA/default/weird" "$ROOT") && fail "non-SPIFFE SAN accepted: $out"
echo "$out" | grep -qi "alert bad certificate" || fail "non-SPIFFE SAN: no alert: $out"
sleep 0.2; snapshot >"$WORK/after"
diff_one 'ztb ztunnel_connections_rejected_total{listener="inbound_hbone",reason="peer_identity"}'
pass "client with a non-SPIFFE SAN: bad_certificate alert, peer_identity +1 only"

snapshot >"$WORK/before"
out=$(HBONE_ALPN=http/1.1 hb 10.77.2.2:8080 "$CA/default/client" "$ROOT") && fail "ALPN http/1.1 accepted: $out"
echo "$out" | grep -qi "no application protocol" || fail "ALPN http/1.1: no no_application_protocol alert: $out"
sleep 0.2; snapshot >"$WORK/after"
diff_one 'ztb ztunnel_connections_rejected_total{listener="inbound_hbone",reason="alpn_mismatch"}'
pass "client offering only http/1.1: no_application_protocol alert, alpn_mismatch +1 only"

snapshot >"$WORK/before"
out=$(hb 10.77.99.9:80 "$CA/default/client" "$ROOT") || true
[ "$(echo "$out" | field status)" = "401" ] || fail "unknown target: $out"
sleep 0.2; snapshot >"$WORK/after"
diff_one 'ztb ztunnel_connections_rejected_total{listener="inbound_hbone",reason="connect_status_401"}'
pass "python3-h2 CONNECT to an unknown target: 401, connect_status_401 +1 only (its close is not counted)"
echo "PASS clean_close_netns_test"
