#!/usr/bin/env bash
# Runs the reliability suite of issue 9 (faults, load, security, and the libFuzzer targets
# through scripts/fuzz.sh) and prints ONE table:
#   test | trials | passed | figure
# Short settings by default (CI: fuzz 15 s a target); --long for the recorded run
# (docs/RELIABILITY.md; fuzz 300 s a target). --no-fuzz leaves the fuzz rows out.
# Usage: scripts/reliability.sh [--long] [--no-fuzz] [--only NAME-SUBSTRING] [--list]
# Env: AMBIENT_BUILD_DIR (default build), AMBIENT_SEED (repeat a run's random choices).
# Exit codes: 0 every row passed, 1 a row failed, 2 usage or missing binaries. Needs root.
set -uo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
build=${AMBIENT_BUILD_DIR:-build}
case "$build" in /*) ;; *) build="$root/$build" ;; esac

long=0
fuzz=1
only=""
list=0
while [ $# -gt 0 ]; do
  case "$1" in
    --long) long=1 ;;
    --no-fuzz) fuzz=0 ;;
    --only) only=${2:-}; shift ;;
    --list) list=1 ;;
    -h|--help) sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "reliability.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done
if [ "$(id -u)" -ne 0 ] && [ "$list" = 0 ]; then
  echo "reliability.sh: needs root (network namespaces, mounts, nftables)" >&2
  exit 2
fi

rel="$build/tests/reliability/reliability_tests"
kern="$build/tests/kernel/kernel_tests"
unit="$build/tests/unit/unit_tests"
zt="$build/ztunnel/ztunnel"
if [ "$list" = 0 ]; then
  for b in "$rel" "$kern" "$unit" "$zt"; do
    if [ ! -x "$b" ]; then
      echo "reliability.sh: $b missing; building" >&2
      cmake --build "$build" -j"$(nproc)" --target reliability_tests kernel_tests unit_tests ztunnel \
        >/dev/null || { echo "reliability.sh: build failed in $build" >&2; exit 2; }
      break
    fi
  done
fi

# Settings: short (CI) and long.
if [ "$long" = 1 ]; then
  T_KILL=10 T_STATE=100 T_DISK=60 T_NETNS=100 T_ZTKILL=10 T_WATCH=10 T_FILES=200
  S_CNI=180 S_ZT=60 CONNS=10000 S_FUZZ=300 STALLED=10000
else
  T_KILL=1 T_STATE=12 T_DISK=30 T_NETNS=20 T_ZTKILL=2 T_WATCH=2 T_FILES=20
  S_CNI=20 S_ZT=10 CONNS=10000 S_FUZZ=15 STALLED=2000
fi

work=$(mktemp -d /tmp/reliability.XXXXXX)
trap 'rm -rf "$work"' EXIT
table="$work/table"
: >"$table"
export AMBIENT_RELIABILITY_REPORT="$work/rows"
seed=${AMBIENT_SEED:-$RANDOM$RANDOM}
export AMBIENT_SEED=$seed
failed_rows=0

# add_row NAME TRIALS PASSED FIGURE RC: a row fails when RC != 0 or PASSED != TRIALS.
add_row() {
  local status=ok
  if [ "$5" != 0 ] || [ "$2" != "$3" ]; then status=FAIL; failed_rows=$((failed_rows + 1)); fi
  printf '%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" "$status" >>"$table"
}
want() { [ "$list" = 1 ] && { echo "$1"; return 1; }; [ -z "$only" ] || [[ "$1" == *"$only"* ]]; }
log_of() { echo "$work/$(echo "$1" | tr -c 'a-zA-Z0-9' '_').log"; }

# Catch2 (2.13) cases are always run one name per call, with --warn NoTests (a name that
# matches nothing exits 2 instead of 0), and each row checks Catch2's own count of the cases it
# ran, from its closing summary: "All tests passed (A assertions in C test cases)" or
# "test cases: C | ..." / "assertions: A | ..."; "No tests ran" and a missing summary are 0.
catch_count() {  # LOG cases|assertions
  local n
  if [ "$2" = cases ]; then
    n=$(sed -nE 's/^All tests passed \([0-9]+ assertions? in ([0-9]+) test cases?\)$/\1/p
      s/^test cases: +([0-9]+)( |$).*/\1/p' "$1" | tail -1)
  else
    n=$(sed -nE 's/^All tests passed \(([0-9]+) assertions? in [0-9]+ test cases?\)$/\1/p
      s/^assertions: +([0-9]+)( |$).*/\1/p' "$1" | tail -1)
  fi
  echo "${n:-0}"
}

# run_case LOG BINARY CASE [ENV...]: runs the one Catch2 case CASE on its own, appending its
# output to LOG. Sets case_rc (the binary's exit code), case_ran and case_asserts (Catch2's
# counts). Returns 0 only when the binary exited 0 and Catch2 ran exactly 1 case.
run_case() {
  local log=$1 bin=$2 case=$3; shift 3
  local part="$log.part"
  env "$@" "$bin" --warn NoTests "$case" >"$part" 2>&1
  case_rc=$?
  case_ran=$(catch_count "$part" cases)
  case_asserts=$(catch_count "$part" assertions)
  cat "$part" >>"$log"
  rm -f "$part"
  if [ "$case_ran" != 1 ]; then
    echo "reliability.sh: '$case' ($(basename "$bin")): Catch2 ran $case_ran cases, expected 1" \
      "(exit $case_rc; a renamed or misspelt case?)" | tee -a "$log" >&2
    return 1
  fi
  [ "$case_rc" = 0 ]
}

# A reliability_tests case that writes its own row; a failure without a row still gets one, and
# a run in which Catch2 did not run exactly that one case fails its row.
catch_row() {  # NAME TRIALS-ENV CASE [ENV...]
  local name=$1 trials=$2 case=$3; shift 3
  want "$name" || return 0
  local log; log=$(log_of "$name")
  : >"$AMBIENT_RELIABILITY_REPORT"
  : >"$log"
  echo "== $name" >&2
  run_case "$log" "$rel" "$case" AMBIENT_TRIALS="$trials" "$@"
  local rc=$case_rc prefix=""
  if [ "$case_ran" != 1 ]; then
    [ "$rc" = 0 ] && rc=3
    prefix="Catch2 ran $case_ran cases, expected 1; "
  fi
  if [ -s "$AMBIENT_RELIABILITY_REPORT" ]; then
    while IFS=$'\t' read -r _ t p f; do add_row "$name" "$t" "$p" "$prefix$f" "$rc"; done <"$AMBIENT_RELIABILITY_REPORT"
  else
    add_row "$name" "$trials" 0 "$prefix""exit $rc before reporting: $(grep -m1 -E 'FAILED|REQUIRE|error|No test cases matched' "$log" | cut -c1-80)" "$rc"
  fi
  [ "$rc" = 0 ] || { echo "--- $name failed (exit $rc); log tail:" >&2; tail -n 30 "$log" >&2; }
}

# An existing test driven N times (existing coverage reused, not duplicated); a run passes when
# it exits 0 and Catch2 ran exactly the one case.
repeat_row() {  # NAME N FIGURE-SUFFIX BINARY CASE
  local name=$1 n=$2 suffix=$3 bin=$4 case=$5
  want "$name" || return 0
  local log; log=$(log_of "$name")
  echo "== $name ($n runs)" >&2
  local ok=0 kills=0 i rc=0 ran=0
  for i in $(seq 1 "$n"); do
    : >"$log.$i"
    if run_case "$log.$i" "$bin" "$case"; then
      ok=$((ok + 1))
    else
      rc=1; echo "--- $name run $i failed; log tail:" >&2; tail -n 30 "$log.$i" >&2
    fi
    ran=$((ran + case_ran))
    k=$(grep -oE 'agent SIGKILLed [0-9]+ times' "$log.$i" | grep -oE '[0-9]+' | head -1)
    kills=$((kills + ${k:-0}))
  done
  local fig=${suffix//KILLS/$kills}
  [ "$ran" = "$n" ] || fig="Catch2 ran $ran cases in $n runs, expected $n; $fig"
  add_row "$name" "$n" "$ok" "$fig" "$rc"
}

start=$(date +%s)

# --- faults
repeat_row "agent SIGKILL during enrollment storm" "$T_KILL" \
  "KILLS kills survived, 200 pods per run (100 dual-stack) each enrolled exactly once, diff empty" \
  "$kern" "SIGKILL at random points while 200 pods enroll: each enrolled exactly once"
# Dual-stack (issue 20): in the next two rows every even pod has an IPv6 address, ztunnel too
# (corruption: 12 of 24 pods; disk full: 15 of 30 short, 30 of 60 long). Their figures come from
# the tests and say how many, and whether a start or restart left a pod in one family only.
catch_row "state file truncated/corrupted" "$T_STATE" \
  "registry truncated or corrupted at random: a clear refusal or a clean start"
catch_row "disk full while persisting" "$T_DISK" \
  "disk full while persisting: ADD fails closed and nothing unpersisted is in the kernel"
catch_row "pod netns deleted before DEL" "$T_NETNS" \
  "pod network namespace deleted before DEL: DEL succeeds and releases the pod"
catch_row "ztunnel SIGKILL during traffic" "$T_ZTKILL" \
  "ztunnel SIGKILL during traffic: no connection bypasses it and traffic resumes after"
repeat_row "CNI config rewritten by primary CNI" "$T_WATCH" \
  "installer --watch re-inserted ambient-cni after every rewrite" \
  "$kern" "ambient-cni-install --watch re-inserts after the primary CNI rewrites its config"
if want "netlink errors injected (engine seam)"; then
  # Three cases, each run on its own: the row expects 3 cases run and 3 passed.
  echo "== netlink errors injected" >&2
  log=$(log_of netlink)
  : >"$log"
  rc=0 ok=0 cases=0 asserts=0
  for bc in "$unit|a kernel error fails the ADD and the next pass converges" \
            "$unit|a registry that cannot be saved changes neither memory nor kernel" \
            "$kern|a failing nft batch changes nothing"; do
    if run_case "$log" "${bc%%|*}" "${bc#*|}"; then ok=$((ok + 1)); else rc=1; fi
    cases=$((cases + case_ran))
    asserts=$((asserts + case_asserts))
  done
  fig="$cases cases (unit seam + real nft batch), $asserts assertions: ADD fails, next pass converges"
  [ "$cases" = 3 ] || fig="Catch2 ran $cases cases, expected 3; $fig"
  add_row "netlink errors injected (engine seam)" 3 "$ok" "$fig" "$rc"
  [ "$rc" = 0 ] || { echo "--- netlink errors injected failed; log tail:" >&2; tail -n 30 "$log" >&2; }
fi

# --- load
catch_row "64 concurrent CNI ADD/DEL streams" 1 \
  "64 concurrent CNI ADD/DEL streams: no errors and no descriptor or memory growth" \
  AMBIENT_SECONDS="$S_CNI"
if want "ztunnel connections and churn"; then
  echo "== ztunnel connections and churn" >&2
  : >"$AMBIENT_RELIABILITY_REPORT"
  log=$(log_of ztload)
  ZTUNNEL_BIN="$zt" AMBIENT_CONNS=$CONNS AMBIENT_SECONDS=$S_ZT \
    bash tests/reliability/ztunnel_load.sh >"$log" 2>&1
  rc=$?
  if [ -s "$AMBIENT_RELIABILITY_REPORT" ]; then
    while IFS=$'\t' read -r n t p f; do add_row "$n" "$t" "$p" "$f" "$rc"; done <"$AMBIENT_RELIABILITY_REPORT"
  else
    add_row "ztunnel connections and churn" 1 0 "exit $rc: $(tail -1 "$log" | cut -c1-80)" "$rc"
  fi
  [ "$rc" = 0 ] || tail -n 30 "$log" >&2
fi

# ztunnel memory under slow and stalled readers (issue 18): both run in short and long mode.
if want "ztunnel slow reader"; then
  echo "== ztunnel slow reader (tests/ztunnel/slow_reader_netns_test.sh)" >&2
  log=$(log_of slowreader)
  ZTUNNEL_BIN="$zt" ZT_SCRIPTS="$root/tests/ztunnel" ZT_REPO="$root" \
    bash tests/ztunnel/slow_reader_netns_test.sh >"$log" 2>&1
  rc=$?
  fig=$(grep -E '^(HBONE|plaintext).*peak RSS' "$log" |
    sed -E 's/^(HBONE upload|HBONE download|plaintext upload).*peak RSS A [0-9]+ KiB \((\+[0-9]+) KiB\), B [0-9]+ KiB \((\+[0-9]+) KiB\).*bound (\+[0-9]+) KiB/\1: A \2, B \3 KiB/' |
    paste -sd';' -)
  add_row "ztunnel slow reader" 3 "$(grep -c '^ok: ' "$log")" \
    "200 MB to a 20 MB/s reader, peak RSS growth: ${fig:-none}; bound +10240 KiB" "$rc"
  [ "$rc" = 0 ] || tail -n 30 "$log" >&2
fi
if want "streams, each with a stalled reader"; then
  echo "== ztunnel $STALLED streams, each with a stalled reader" >&2
  : >"$AMBIENT_RELIABILITY_REPORT"
  log=$(log_of stalled)
  ZTUNNEL_BIN="$zt" AMBIENT_STREAMS=$STALLED bash tests/reliability/ztunnel_stalled_test.sh >"$log" 2>&1
  rc=$?
  if [ -s "$AMBIENT_RELIABILITY_REPORT" ]; then
    while IFS=$'\t' read -r n t p f; do add_row "$n" "$t" "$p" "$f" "$rc"; done <"$AMBIENT_RELIABILITY_REPORT"
  else
    add_row "$STALLED streams, each with a stalled reader" 1 0 "exit $rc: $(tail -1 "$log" | cut -c1-80)" "$rc"
  fi
  [ "$rc" = 0 ] || tail -n 30 "$log" >&2
fi

# --- security
catch_row "agent socket refuses non-root" 2 "the agent socket refuses non-root peers"
if want "ztunnel refuses non-mTLS and foreign identities"; then
  echo "== ztunnel mTLS negatives (tests/ztunnel/hbone_netns_test.sh)" >&2
  log=$(log_of hbone)
  ZTUNNEL_BIN="$zt" ZT_SCRIPTS="$root/tests/ztunnel" ZT_REPO="$root" \
    bash tests/ztunnel/hbone_netns_test.sh >"$log" 2>&1
  rc=$?
  refused=$(grep -c -E '^ok: (mTLS refused|waypoint presenting|CONNECT refusals)' "$log")
  add_row "ztunnel refuses non-mTLS and foreign identities" 3 "$refused" \
    "$(grep -m1 '^ok: mTLS refused' "$log" | sed 's/^ok: //' | cut -c1-110)" "$rc"
fi
catch_row "nothing listens beyond README ports" 1 "nothing listens beyond the README's ports table"
catch_row "state files atomic and mode-restricted" "$T_FILES" \
  "agent state files are written atomically and mode-restricted with no temp files left"
catch_row "a pod cannot opt another pod out" 1 "one pod's CNI requests cannot release or opt out another pod"

# --- fuzzing: one row a libFuzzer target (ASan + UBSan + LSan), from scripts/fuzz.sh's lines
# (fuzz.sh builds the targets from the project's own libraries, -DAMBIENT_FUZZ=ON, in build-fuzz/).
# A row passes only when fuzz.sh says result=ok, there was no finding and the target executed at
# least the floor (min_execs, checked here too); every target fuzz.sh knows must have a line.
if [ "$fuzz" = 1 ] && want "fuzz"; then
  echo "== fuzz targets, $S_FUZZ s each (scripts/fuzz.sh)" >&2
  log=$(log_of fuzz)
  scripts/fuzz.sh --seconds "$S_FUZZ" --jobs "$(nproc)" >"$log" 2>&1
  rc=$?
  rows=0
  seen=" "
  while read -r line; do
    declare -A f=()
    for kv in ${line#FUZZ }; do f[${kv%%=*}]=${kv#*=}; done
    execs=${f[execs]:-0} floor=${f[min_execs]:-}
    fig="${execs} execs in ${f[seconds]:-?} s, ${f[findings]:-?} findings"
    ok=1
    [ "${f[result]:-}" = ok ] && [ "${f[findings]:-}" = 0 ] || ok=0
    if ! [[ "$execs" =~ ^[0-9]+$ && "$floor" =~ ^[0-9]+$ ]] || [ "$execs" -lt "$floor" ]; then
      ok=0
      fig="$fig; below the floor of ${floor:-?} executions"
    fi
    add_row "fuzz ${f[target]:-?}" 1 "$ok" "$fig" "$([ "$ok" = 1 ] && echo 0 || echo 1)"
    rows=$((rows + 1))
    seen="$seen${f[target]:-?} "
    unset f
  done < <(grep '^FUZZ ' "$log")
  for t in $(scripts/fuzz.sh --help | sed -n 's/^Targets (default: all): //p'); do
    [[ "$seen" == *" $t "* ]] || [ "$rows" = 0 ] ||
      add_row "fuzz $t" 1 0 "no FUZZ line from scripts/fuzz.sh (exit $rc)" 1
  done
  if [ "$rows" = 0 ]; then
    add_row "fuzz targets" 1 0 "scripts/fuzz.sh exit $rc before any target ran: $(tail -n1 "$log" | cut -c1-80)" 1
  fi
  [ "$rc" = 0 ] || { echo "--- fuzz.sh exit $rc; log tail:" >&2; tail -n 30 "$log" >&2; }
fi

[ "$list" = 1 ] && exit 0
elapsed=$(( $(date +%s) - start ))
{
  printf '| test | trials | passed | figure |\n|---|---|---|---|\n'
  while IFS=$'\t' read -r n t p f s; do
    [ "$s" = ok ] || n="**FAIL** $n"
    printf '| %s | %s | %s | %s |\n' "$n" "$t" "$p" "$f"
  done <"$table"
} | tee "$work/out"
rows=$(wc -l <"$table")
echo "reliability: $((rows - failed_rows)) rows passed, $failed_rows failed, ${elapsed} s," \
  "$([ $long = 1 ] && echo long || echo short) settings, seed $seed, $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
[ -n "${AMBIENT_RELIABILITY_TABLE:-}" ] && cp "$table" "$AMBIENT_RELIABILITY_TABLE"
[ "$failed_rows" -eq 0 ]
