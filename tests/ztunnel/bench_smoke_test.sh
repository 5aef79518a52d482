#!/usr/bin/env bash
# The benchmark program still runs end to end: every path moves bytes, answers round trips and
# gets a row, the target and reference lines are printed, and idle connections are counted.
# Short settings: this checks the program, not the figures (those are for people, see
# ztunnel/README.md). Exit 77 (skipped) without root or haproxy, a failure under CI.
set -u
skip() {
  echo "SKIP: $*"
  [[ -n "${CI:-}" ]] && exit 1
  exit 77
}
[[ $EUID -eq 0 ]] || skip "needs root (namespaces)"
command -v haproxy >/dev/null || skip "needs haproxy"
out=$(timeout 170 "$ZTUNNEL_BENCH" --seconds 0.5 --runs 1 --iterations 200 --idle 200 2>&1)
rc=$?
echo "$out"
[[ $rc -eq 0 ]] || { echo "FAIL: ztunnel_bench exited $rc"; exit 1; }
for path in direct haproxy haproxy-tls ztunnel-plain ztunnel-hbone; do
  row=$(grep -E "^$path +[0-9]" <<<"$out") || { echo "FAIL: no row for $path"; exit 1; }
  read -r _ gbps _ p50 _ <<<"$row"
  awk -v g="$gbps" -v p="$p50" 'BEGIN { exit !(g > 0 && p > 0) }' ||
    { echo "FAIL: $path moved nothing or answered no round trip: $row"; exit 1; }
done
for line in "plaintext >= 0.85x direct" "HBONE >= 0.5x direct" "HBONE vs HAProxy TLS tunnel" \
  "plaintext >= 0.85x its CPU-bound max" "HBONE >= 0.85x its CPU-bound max" \
  "HBONE >= 1.3x HAProxy TLS tunnel" "direct, of its CPU-bound max"; do
  grep -qF "$line" <<<"$out" || { echo "FAIL: no line '$line'"; exit 1; }
done
# Each path's CPU per byte by process, and a bound and a fraction of it in every row.
for path in direct haproxy haproxy-tls ztunnel-plain ztunnel-hbone; do
  grep -qE "^  $path +client [0-9.]+ (.* )?server [0-9.]+, ksoftirqd [0-9.]+; best placement: " \
    <<<"$out" || { echo "FAIL: no CPU-by-process line for $path"; exit 1; }
  grep -qE "^$path +[0-9].* Gb/s +[0-9.]+x +[0-9.]+ Gb/s +[0-9.]+x$" <<<"$out" ||
    { echo "FAIL: no CPU-bound max / placed max with fractions for $path"; exit 1; }
done
grep -qE "idle plaintext: client held 200, ztunnel A proxied 200 " <<<"$out" ||
  { echo "FAIL: the plaintext idle connections were not all proxied"; exit 1; }
grep -qE "idle HBONE: client held 200, streams A 200 / B 200 " <<<"$out" ||
  { echo "FAIL: the HBONE idle streams were not all proxied"; exit 1; }
leftover=$(ip netns list | grep -c '^zb' || true)
[[ $leftover -eq 0 ]] || { echo "FAIL: $leftover benchmark namespaces left behind"; exit 1; }
echo "PASS: ztunnel_bench ran every path"
