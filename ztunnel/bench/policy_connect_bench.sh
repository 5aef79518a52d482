#!/usr/bin/env bash
# Connection set-up through ztunnel with 0, 100 and 10,000 AuthorizationPolicies in the view,
# side by side (issue 22): real TCP between private namespaces (tests/ztunnel/netns_topology.sh),
# N sequential connections (connect, read the server's greeting, close) per row, over plaintext
# (node B's 15006) and HBONE (ztunnel A -> ztunnel B 15008, one pooled connection, a stream each).
# The policies are swapped by hot reload between rows; five select the destination (ALLOW by
# source CIDR, matched; DENY by another CIDR, not matched); the rest sit in 1,000 other
# namespaces, or (last row) all in the destination's namespace with other selectors.
# A program that prints figures (python3 clients: they cost more than ztunnel does), not a test.
# Needs root. Usage: ZTUNNEL_BIN=build/ztunnel/ztunnel policy_connect_bench.sh [N [ROUNDS]]
ZT_SCRIPTS=$(cd "$(dirname "$0")/../../tests/ztunnel" && pwd)
# shellcheck source=SCRIPTDIR/../../tests/ztunnel/netns_topology.sh
source "$ZT_SCRIPTS/netns_topology.sh"
N=${1:-1000}
ROUNDS=${2:-3}
CONFIG=$WORK/config.json

write_view() {  # write_view COUNT other|same
  "$PY" - "$CONFIG" "$1" "$2" <<'PYEOF'
import json, os, sys
path, n, where = sys.argv[1], int(sys.argv[2]), sys.argv[3]
def wl(name, ip, node, labels):
    return {"uid": f"c//v1/Pod/default/{name}", "name": name, "namespace": "default",
            "serviceAccount": name, "node": node, "workloadIps": [ip], "protocol": "HBONE",
            "services": {}, "labels": labels}
def ap(ns, name, app, action, cidr):
    return {"apiVersion": "security.istio.io/v1", "kind": "AuthorizationPolicy",
            "metadata": {"name": name, "namespace": ns},
            "spec": {"selector": {"matchLabels": {"app": app}}, "action": action,
                     "rules": [{"from": [{"source": {"ipBlocks": [cidr]}}]}]}}
aps = [ap("default", "deny-a", "srv1", "DENY", "192.0.2.0/24"),
       ap("default", "deny-b", "srv1", "DENY", "198.51.100.0/24"),
       ap("default", "allow-c", "srv1", "ALLOW", "203.0.113.0/24"),
       ap("default", "allow-d", "srv1", "ALLOW", "192.0.2.0/24"),
       ap("default", "allow-mesh", "srv1", "ALLOW", "10.77.0.0/16")]
for i in range(n):
    ns = "default" if where == "same" else f"ns{i % 1000}"
    aps.append(ap(ns, f"p{i}", f"app{i % 50}", "DENY" if i % 4 == 0 else "ALLOW", "10.77.0.0/16"))
view = {"workloads": [wl("client", "10.77.1.2", "node-a", {"app": "client"}),
                      wl("srv1", "10.77.2.2", "node-b", {"app": "srv1"})],
        "services": [], "authorizationPolicies": aps}
json.dump(view, open(path + ".tmp", "w"))
os.rename(path + ".tmp", path)
PYEOF
}
reloads() {
  inns ztb curl -sf http://127.0.0.1:15020/metrics | awk '/^ztunnel_config_reloads_total/ {print $2}'
}
CA=$WORK/ca
bash "$ZT_SCRIPTS/../../scripts/make-test-ca.sh" "$CA" >/dev/null
write_view 0 other
build_topology
bg srv1 srv1 "$PY" "$ZT_SCRIPTS/tcp_tool.py" serve 8080 srv1
start_ztunnel zta node-a "$CONFIG" --dev-ca "$CA"
start_ztunnel ztb node-b "$CONFIG" --dev-ca "$CA"
wait_port srv1 127.0.0.1 8080
us() { "$PY" -c "import json,sys; print(json.load(sys.stdin)['us_per_connection'])"; }
median() { printf "%s\n" "$@" | sort -g | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}'; }
ROWS=("0 other" "100 other" "10000 other" "10000 same")
declare -A PLAIN HBONE
for _ in $(seq 1 "$ROUNDS"); do  # rounds interleave the rows: load drifts hit all of them
  for row in "${ROWS[@]}"; do
    read -r count where <<<"$row"
    before=$(reloads)
    write_view "$count" "$where"
    for _ in $(seq 1 200); do [ "$(reloads)" -gt "$before" ] && break; sleep 0.05; done
    [ "$(reloads)" -gt "$before" ] || fail "ztunnel B did not reload the view with $count policies"
    PLAIN[$row]+=" $(inns zta "$PY" "$ZT_SCRIPTS/tcp_tool.py" connects 10.77.2.2 8080 "$N" | us)" ||
      fail "plaintext"
    HBONE[$row]+=" $(inns cli "$PY" "$ZT_SCRIPTS/tcp_tool.py" connects 10.77.2.2 8080 "$N" | us)" ||
      fail "HBONE"
  done
done
printf "connection set-up through ztunnel: median of %s rounds of %s sequential connections (python3\n" "$ROUNDS" "$N"
printf "client: connect, greeting, close), microseconds per connection\n"
printf "%-36s %18s %18s\n" "policies in the view" "plaintext (15006)" "HBONE (A -> B)"
for row in "${ROWS[@]}"; do
  read -r count where <<<"$row"
  label="$count + 5 ($([ "$where" = same ] && echo "destination's namespace" || echo elsewhere))"
  # shellcheck disable=SC2086
  printf "%-36s %15s us %15s us\n" "$label" "$(median ${PLAIN[$row]})" "$(median ${HBONE[$row]})"
done
opened=$(inns ztb curl -sf http://127.0.0.1:15020/metrics |
  awk '/^istio_tcp_connections_opened_total\{reporter="destination"/ {s += $NF} END {print s + 0}')
want=$((${#ROWS[@]} * ROUNDS * N * 2))
echo "ztunnel B proxied $opened inbound connections (want $want)"
[ "$opened" -ge "$want" ] || fail "connections bypassed ztunnel B"
denied=$(inns ztb curl -sf http://127.0.0.1:15020/metrics | grep -c '^istio_tcp_connections_denied_total' || true)
[ "$denied" = 0 ] || fail "some benchmark connections were denied"
