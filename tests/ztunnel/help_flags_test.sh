#!/usr/bin/env bash
# Every program under ztunnel/ answers --help at once without doing any work (exit 0, no network
# namespace created, under 2 s) and refuses unknown or malformed arguments with exit 2 (issue 18).
set -uo pipefail
: "${ZTUNNEL_BIN:?}" "${ZTUNNEL_BENCH:?}"
fails=0
zbs() { ip netns list 2>/dev/null | grep -c '^zb[0-9]'; }  # ztunnel_bench's namespaces
ns_before=$(zbs)
check() {  # check WANT-RC CMD...
  local want=$1 rc start end; shift
  start=$(date +%s%N)
  timeout 10 "$@" >/dev/null 2>&1
  rc=$?
  end=$(date +%s%N)
  if [ "$rc" != "$want" ] || [ $(( (end - start) / 1000000 )) -gt 2000 ]; then
    echo "FAIL: $* -> exit $rc in $(( (end - start) / 1000000 )) ms, want $want"
    fails=$((fails + 1))
  else
    echo "ok: $* -> $rc"
  fi
}
check 0 "$ZTUNNEL_BIN" --help
check 0 "$ZTUNNEL_BIN" --config /nonexistent --help
check 2 "$ZTUNNEL_BIN" --bogus
check 2 "$ZTUNNEL_BIN" --max-connection-buffer 10
check 0 "$ZTUNNEL_BENCH" --help
check 0 "$ZTUNNEL_BENCH" run --seconds 1 --help
check 0 "$ZTUNNEL_BENCH" serve --help
check 0 "$ZTUNNEL_BENCH" client --help
check 0 "$ZTUNNEL_BENCH" policies --help
check 2 "$ZTUNNEL_BENCH" --bogus
check 2 "$ZTUNNEL_BENCH" run --seconds
check 2 "$ZTUNNEL_BENCH" run --runs many
check 2 "$ZTUNNEL_BENCH" serve notaport
check 2 "$ZTUNNEL_BENCH" client T 10.0.0.1 notaport 1
check 2 "$ZTUNNEL_BENCH" policies --iterations many
check 2 "$ZTUNNEL_BENCH" policies --bogus
[ "$(zbs)" -le "$ns_before" ] || { echo "FAIL: --help created namespaces"; fails=$((fails + 1)); }
[ "$fails" = 0 ] && echo "PASS help_flags_test" && exit 0
exit 1
