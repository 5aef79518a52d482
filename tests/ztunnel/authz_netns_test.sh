#!/usr/bin/env bash
# End-to-end, authorization (issue 22): ztunnel B enforces the AuthorizationPolicies and
# PeerAuthentications of its view on inbound HBONE (15008: 401) and plaintext (15006: reset), in
# private namespaces. Checks what the application saw (SYN counters in the servers' namespaces,
# greetings, echoes), istio_tcp_connections_denied_total, the denial log lines, /config_dump, a
# policy change picked up at the next reload (open connections it denies closed) and /denials.
source "$(dirname "$0")/netns_topology.sh"
REPO=${ZT_REPO:-$(cd "$ZT_SCRIPTS/../.." && pwd)}
CA=$WORK/ca
bash "$REPO/scripts/make-test-ca.sh" "$CA" --identity default/client --identity default/impostor \
  --identity default/other >/dev/null
ROOT=$CA/root-cert.pem

write_config() {  # write_config FILE [upstream-deny]: the view, written atomically
  "$PY" - "$1" "${2:-}" <<'PYEOF'
import json, os, sys
path, variant = sys.argv[1], sys.argv[2]
def wl(name, ip, node, sa, labels=None, bound=None):
    w = {"uid": f"c//v1/Pod/default/{name}", "name": name, "namespace": "default",
         "serviceAccount": sa, "node": node, "workloadIps": [ip], "protocol": "HBONE", "services": {}}
    if labels: w["labels"] = labels
    if bound: w["authorizationPolicies"] = bound
    return w
def ap(name, spec):
    return {"apiVersion": "security.istio.io/v1", "kind": "AuthorizationPolicy",
            "metadata": {"name": name, "namespace": "default"}, "spec": spec}
principals = lambda *p: [{"from": [{"source": {"principals": list(p)}}]}]
view = {
  "workloads": [wl("client", "10.77.1.2", "node-a", "client"),
                wl("srv1", "10.77.2.2", "node-b", "srv", {"app": "srv1"},
                   ["default/deny-client"] if variant else None),
                wl("srv2", "10.77.3.2", "node-b", "srv", {"app": "srv2"})],
  "services": [],
  "policies": [],
  "authorizationPolicies": [
    ap("allow-client", {"selector": {"matchLabels": {"app": "srv1"}}, "action": "ALLOW",
                        "rules": principals("cluster.local/ns/default/sa/client",
                                            "cluster.local/ns/default/sa/impostor")}),
    ap("deny-impostor", {"selector": {"matchLabels": {"app": "srv1"}}, "action": "DENY",
                         "rules": principals("cluster.local/ns/default/sa/impostor")}),
    ap("get-only", {"selector": {"matchLabels": {"app": "none"}},
                    "rules": [{"to": [{"operation": {"methods": ["GET"]}}]}]})],
  "peerAuthentications": [
    {"apiVersion": "security.istio.io/v1", "kind": "PeerAuthentication",
     "metadata": {"name": "strict-srv2", "namespace": "default"},
     "spec": {"selector": {"matchLabels": {"app": "srv2"}}, "mtls": {"mode": "STRICT"},
              "portLevelMtls": {"8081": {"mode": "PERMISSIVE"}}}}]}
if variant:  # upstream's local-config shape, bound to srv1 by key; 8081 no longer PERMISSIVE
    del view["peerAuthentications"][0]["spec"]["portLevelMtls"]
    view["policies"] = [{"name": "deny-client", "namespace": "default", "scope": "WorkloadSelector",
        "action": "Deny", "rules": [[[{"principals": [{"Exact": "cluster.local/ns/default/sa/client"}]}]]]}]
json.dump(view, open(path + ".tmp", "w"))
os.rename(path + ".tmp", path)
PYEOF
}
write_config "$WORK/config.json"

build_topology
start_servers
bg srv2 srv2b "$PY" "$ZT_SCRIPTS/tcp_tool.py" serve 8081 srv2b
for ns in srv1 srv2; do  # SYNs that reach the application's namespace, per port
  inns "$ns" nft -f - <<'NFT'
table ip ztcount {
  counter syn8080 {}
  counter syn8081 {}
  chain in {
    type filter hook input priority 0; policy accept;
    tcp dport 8080 tcp flags & (syn | ack) == syn counter name "syn8080"
    tcp dport 8081 tcp flags & (syn | ack) == syn counter name "syn8081"
  }
}
NFT
done
start_ztunnel zta node-a "$WORK/config.json" --dev-ca "$CA"
start_ztunnel ztb node-b "$WORK/config.json" --dev-ca "$CA"
wait_port srv1 127.0.0.1 8080
wait_port srv2 127.0.0.1 8080
wait_port srv2 127.0.0.1 8081

field() { "$PY" -c "import json,sys; print(json.load(sys.stdin).get('$1'))"; }
syns() { inns "$1" nft list counter ip ztcount "syn$2" | awk '/packets/ {print $2}'; }
denied() {  # denied LISTENER REASON POLICY
  inns ztb curl -sf http://127.0.0.1:15020/metrics |
    awk -v k="istio_tcp_connections_denied_total{listener=\"$1\",reason=\"$2\",policy=\"$3\",policy_namespace=\"${4-default}\"}" \
      'index($0, k) == 1 {s += $NF} END {print s + 0}'
}
hb() {  # hb CERT AUTHORITY: python3-h2 HBONE client from node A's namespace to ztunnel B
  inns zta "$PY" "$ZT_SCRIPTS/hbone_peer.py" client "${2%:*}" 15008 "$2" "$CA/default/$1" "$ROOT" || true
}

# 1. HBONE through both ztunnels from sa/client: allowed by allow-client.
out=$(inns cli "$PY" "$ZT_SCRIPTS/tcp_tool.py" probe 10.77.2.2 8080 5000) || fail "allowed HBONE probe: $out"
[ "$(echo "$out" | field peer)" = "10.77.1.2" ] || fail "srv1 saw $(echo "$out" | field peer)"
out=$(hb client 10.77.2.2:8080)
[ "$(echo "$out" | field status)" = "200" ] && [ "$(echo "$out" | field echo_ok)" = "True" ] ||
  fail "python3-h2 client as sa/client: $out"
pass "HBONE from sa/client allowed (ztunnel A path and python3-h2 client): srv1 echoed"

# 2. HBONE from sa/impostor: DENY beats ALLOW; sa/other: no ALLOW matches. 401, no byte through.
s0=$(syns srv1 8080)
out=$(hb impostor 10.77.2.2:8080)
[ "$(echo "$out" | field status)" = "401" ] || fail "sa/impostor: $out, want 401"
[ "$(echo "$out" | field greeting)" = "None" ] || fail "sa/impostor got bytes from srv1: $out"
out=$(hb other 10.77.2.2:8080)
[ "$(echo "$out" | field status)" = "401" ] || fail "sa/other: $out, want 401"
[ "$(syns srv1 8080)" = "$s0" ] || fail "denied HBONE reached srv1 ($s0 -> $(syns srv1 8080) SYNs)"
[ "$(denied inbound_hbone deny_policy deny-impostor)" = 1 ] || fail "deny-impostor not counted once"
[ "$(denied inbound_hbone no_allow_match "" "")" = 1 ] || fail "no_allow_match not counted once"
grep -q '"msg":"connection denied by policy".*"source_principal":"cluster.local/ns/default/sa/impostor".*"destination":"10.77.2.2:8080".*"policy":"default/deny-impostor"' \
  "$WORK/ztunnel-ztb.log" || fail "no denial log line for sa/impostor"
pass "HBONE from sa/impostor (deny-impostor) and sa/other (no ALLOW match): 401, srv1 got no SYN; counted and logged"

# 3. Plaintext (15006): STRICT srv2:8080 reset; PERMISSIVE port srv2:8081 accepted; srv1's ALLOW
#    policy needs a principal, so plaintext to srv1 is reset too.
s80=$(syns srv2 8080); s81=$(syns srv2 8081)
out=$(inns zta "$PY" "$ZT_SCRIPTS/tcp_tool.py" probe 10.77.3.2 8080 100) && fail "plaintext to STRICT srv2 passed: $out"
[ "$(syns srv2 8080)" = "$s80" ] || fail "plaintext to STRICT srv2:8080 reached the server"
out=$(inns zta "$PY" "$ZT_SCRIPTS/tcp_tool.py" probe 10.77.3.2 8081 5000) || fail "plaintext to PERMISSIVE port: $out"
[ "$(echo "$out" | field server)" = "srv2b" ] && [ "$(echo "$out" | field peer)" = "10.77.9.1" ] ||
  fail "PERMISSIVE port answered by: $out"
[ "$(syns srv2 8081)" -gt "$s81" ] || fail "SYN counter on srv2:8081 did not move"
[ "$(denied inbound_plaintext mtls_strict strict-srv2)" = 1 ] || fail "STRICT reset not counted once"
out=$(inns zta "$PY" "$ZT_SCRIPTS/tcp_tool.py" probe 10.77.2.2 8080 100) && fail "plaintext to srv1 passed: $out"
[ "$(denied inbound_plaintext no_allow_match "" "")" = 1 ] || fail "plaintext no_allow_match not counted"
grep -q '"msg":"connection denied by policy".*"source_principal":"none".*"destination":"10.77.3.2:8080".*"policy":"default/strict-srv2"' \
  "$WORK/ztunnel-ztb.log" || fail "no denial log line for the STRICT reset"
out=$(hb client 10.77.3.2:8080)
[ "$(echo "$out" | field echo_ok)" = "True" ] || fail "HBONE to STRICT srv2 refused: $out"
pass "plaintext: STRICT srv2:8080 reset (server saw no SYN), PERMISSIVE srv2:8081 echoed, srv1 reset (ALLOW needs a principal); HBONE to srv2 fine"

# 4. Policies the engine cannot enforce as written are reported.
inns ztb curl -sf http://127.0.0.1:15000/config_dump >"$WORK/dump.json"
"$PY" - "$WORK/dump.json" <<'PYEOF' || fail "config_dump policyStatus: $(cat "$WORK/dump.json" | head -c 600)"
import json, sys
st = {p.get("name"): p for p in json.load(open(sys.argv[1]))["policyStatus"]}
assert st["get-only"]["status"] == "partial" and st["get-only"]["l7Fields"] == ["methods"], st
assert st["allow-client"]["status"] == "ok" and st["strict-srv2"]["mode"] == "STRICT", st
PYEOF
grep -q '"msg":"authorization policy not enforced as written".*"policy":"default/get-only".*"status":"partial"' \
  "$WORK/ztunnel-ztb.log" || fail "partial policy not logged"
pass "/config_dump lists each policy's status (get-only: partial, l7Fields [methods]) and the load logged it"

# 5. Policy change: upstream-shaped DENY bound to srv1 for sa/client, and srv2's STRICT
#    PeerAuthentication loses its PERMISSIVE port 8081. New connections see it after the reload;
#    open ones it now denies are closed, as upstream ztunnel's PolicyWatcher does: an HBONE stream
#    sa/client -> srv1 and a plaintext connection to srv2:8081. An HBONE stream sa/client -> srv2
#    stays open and keeps echoing.
watch() {  # watch NS NAME HOST PORT: a pinging connection in the background, output in NAME.json
  inns "$1" "$PY" "$ZT_SCRIPTS/tcp_tool.py" watch "$3" "$4" 4 >"$WORK/$2.json" 2>&1 &
}
rejected() {  # rejected LISTENER REASON
  inns ztb curl -sf http://127.0.0.1:15020/metrics |
    awk -v k="ztunnel_connections_rejected_total{listener=\"$1\",reason=\"$2\"}" 'index($0, k) == 1 {s += $NF} END {print s + 0}'
}
watch cli hbone1 10.77.2.2 8080; w1=$!
watch zta plain2 10.77.3.2 8081; w2=$!
watch cli hbone2 10.77.3.2 8080; w3=$!
for f in hbone1 plain2 hbone2; do
  for _ in $(seq 1 50); do grep -q connected "$WORK/$f.json" 2>/dev/null && break; sleep 0.05; done
  grep -q connected "$WORK/$f.json" || fail "watch $f did not connect: $(cat "$WORK/$f.json")"
done
write_config "$WORK/config.json" upstream-deny
for _ in $(seq 1 50); do
  [ "$(inns ztb curl -sf http://127.0.0.1:15020/metrics | awk '/^ztunnel_config_reloads_total/ {print $2}')" -gt 1 ] && break
  sleep 0.1
done
out=$(hb client 10.77.2.2:8080)
[ "$(echo "$out" | field status)" = "401" ] || fail "after reload sa/client: $out, want 401"
wait $w1 $w2 $w3
for f in hbone1 plain2 hbone2; do
  tail -n 1 "$WORK/$f.json" >"$WORK/$f.res"
  echo "  $f: $(cat "$WORK/$f.res")"
done
[ "$(field closed <"$WORK/hbone1.res")" = "True" ] || fail "open HBONE sa/client -> srv1 not closed"
[ "$(field closed <"$WORK/plain2.res")" = "True" ] || fail "open plaintext -> srv2:8081 not closed"
[ "$(field closed <"$WORK/hbone2.res")" = "False" ] || fail "unaffected HBONE sa/client -> srv2 closed"
[ "$(field pings <"$WORK/hbone2.res")" -ge 20 ] || fail "unaffected HBONE stopped echoing"
"$PY" -c "import json,sys; a=json.load(open(sys.argv[1])); assert a['after'] < 3.5, a" "$WORK/hbone1.res" ||
  fail "HBONE closed too late"
[ "$(rejected inbound_hbone policy_update)" = 1 ] || fail "HBONE policy_update close not counted once"
[ "$(rejected inbound_plaintext policy_update)" = 1 ] || fail "plaintext policy_update close not counted once"
[ "$(denied inbound_hbone deny_policy deny-client)" = 2 ] || fail "deny-client: want 2 (closed + refused)"
[ "$(denied inbound_plaintext mtls_strict strict-srv2)" = 2 ] || fail "strict-srv2: want 2 (reset + closed)"
grep -q '"msg":"connection closed because it.s no longer allowed after a policy update".*"source_principal":"cluster.local/ns/default/sa/client".*"destination":"10.77.2.2:8080".*"policy":"default/deny-client"' \
  "$WORK/ztunnel-ztb.log" || fail "no policy-update log line for the HBONE stream"
grep -q '"msg":"connection closed because it.s no longer allowed after a policy update".*"source_principal":"none".*"destination":"10.77.3.2:8081".*"policy":"default/strict-srv2"' \
  "$WORK/ztunnel-ztb.log" || fail "no policy-update log line for the plaintext connection"
pass "reload: deny-client (bound by key) refuses new sa/client CONNECTs (401) and closed the open HBONE stream; STRICT 8081 closed the open plaintext one; srv2's HBONE stream kept echoing"

# 6. GET /denials (admin port): the last denials, oldest first, with their trigger.
inns ztb curl -sf http://127.0.0.1:15000/denials >"$WORK/denials.json"
"$PY" - "$WORK/denials.json" <<'PYEOF' || fail "/denials: $(head -c 1500 "$WORK/denials.json")"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["capacity"] == 100 and d["total"] == len(d["denials"]) == 7, d
keys = {"time", "unixMillis", "listener", "source", "sourcePrincipal", "destination", "reason",
        "policy", "trigger"}
assert all(set(r) == keys for r in d["denials"]), d
first = d["denials"][0]
assert first["trigger"] == "connect" and first["policy"] == "default/deny-impostor", first
assert first["sourcePrincipal"] == "cluster.local/ns/default/sa/impostor", first
upd = [(r["listener"], r["destination"], r["policy"]) for r in d["denials"] if r["trigger"] == "policy_update"]
assert sorted(upd) == [("inbound_hbone", "10.77.2.2:8080", "default/deny-client"),
                       ("inbound_plaintext", "10.77.3.2:8081", "default/strict-srv2")], upd
assert d["denials"][-1]["trigger"] == "connect" and d["denials"][-1]["reason"] == "deny_policy", d
PYEOF
pass "/denials lists the 7 denials (5 refused at connect, 2 closed by the policy update), oldest first"
echo "PASS authz_netns_test"
