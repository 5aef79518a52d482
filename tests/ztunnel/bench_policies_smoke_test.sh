#!/usr/bin/env bash
# `ztunnel_bench policies` runs and prints every row, and the namespace/key index holds: with
# 10,000 policies in other namespaces (or bound to other workloads) a connection examines the
# same five policies as with none, and costs at most 10x (timing noise on a busy machine; a
# scan of the 10,000 costs ~1000x);
# 10,000 selector policies in the destination's namespace are all examined (the contrast row).
set -u
out=$(timeout 100 "$ZTUNNEL_BENCH" policies --iterations 20000 2>&1)
rc=$?
echo "$out"
[[ $rc -eq 0 ]] || { echo "FAIL: ztunnel_bench policies exited $rc"; exit 1; }
row() {  # row LABEL: "build_ms ns examined"
  grep -F "$1" <<<"$out" | awk '{print $(NF-5), $(NF-3), $(NF-1)}'
}
for label in "0 + 5 selecting" "100 elsewhere + 5" "10,000 elsewhere + 5" \
  "10,000 same namespace, selectors + 5" "10,000 same namespace, bound by key + 5"; do
  [[ -n "$(row "$label")" ]] || { echo "FAIL: no row '$label'"; exit 1; }
done
read -r _ ns0 ex0 <<<"$(row "0 + 5 selecting")"
read -r _ ns10k ex10k <<<"$(row "10,000 elsewhere + 5")"
read -r _ _ exsel <<<"$(row "10,000 same namespace, selectors + 5")"
read -r _ _ exkey <<<"$(row "10,000 same namespace, bound by key + 5")"
[[ $ex0 -eq 5 && $ex10k -eq 5 && $exkey -eq 5 ]] ||
  { echo "FAIL: examined $ex0 / $ex10k / $exkey policies, want 5 each (the index)"; exit 1; }
[[ $exsel -eq 10005 ]] || { echo "FAIL: contrast row examined $exsel, want 10005"; exit 1; }
awk -v a="$ns0" -v b="$ns10k" 'BEGIN { exit !(b <= 10 * a) }' ||
  { echo "FAIL: 10,000 unrelated policies cost ${ns10k} ns vs ${ns0} ns per connection"; exit 1; }
grep -qF "10,000 unrelated vs 0 policies:" <<<"$out" || { echo "FAIL: no ratio line"; exit 1; }
echo "PASS: ztunnel_bench policies"
