#!/usr/bin/env bash
# Builds the libFuzzer targets of tests/fuzz (the project's libraries compiled by clang with
# ASan+UBSan under -DAMBIENT_FUZZ=ON, into ./build-fuzz) and runs each for a bounded time on a
# temporary copy of its seed corpus. See --help.
set -uo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

all_targets=(cni_invocation install_plan agent_protocol registry_file workload_view k8s_watch hbone_connect denials)

usage() {
  cat <<EOF
Usage: scripts/fuzz.sh [--seconds N] [--jobs J] [--min-execs E] [--runs R] [--timeout T] [target...]

Builds the libFuzzer targets (tests/fuzz: the top-level CMake project with -DAMBIENT_FUZZ=ON, so
each target links the project's own libraries, compiled by clang with AddressSanitizer,
UndefinedBehaviorSanitizer and LeakSanitizer) into build-fuzz/ and runs each target for N seconds
(default 30) on a copy of its seed corpus (tests/fuzz/corpus/<target>/; the committed corpus is
never changed), with -timeout=T (default 5 s per input) -rss_limit_mb=1024. J targets run at
the same time (default 1).
A target that executed fewer than E inputs fails even without a finding (it did not really
run: a binary that exits at once, a seed corpus it cannot read, a machine too loaded to test
anything). Default E: 100 per second of --seconds (1500 for CI's 15 s rows; the slowest target
does about 10 times that on the 2-core CI machine under load); 0 turns the floor off.
--runs R ends a target after R executions even before N seconds (libFuzzer's -runs): a long run
that only has to reach a count, e.g. --seconds 14400 --min-execs 10000000 --runs 10000000.
--timeout T: libFuzzer measures an input's time on the wall clock, so a fuzzer paused (SIGSTOP,
for a benchmark that needs the CPU) reports a false timeout; a long run on a shared machine can
raise T above the longest pause.

Targets (default: all): ${all_targets[*]}

Prints one line per target, then a table:
  FUZZ target=<name> seconds=<n> execs=<n> exec_per_s=<n> cov=<edges> ft=<features>
       corpus=<entries> findings=<n> min_execs=<n> result=<ok|FAIL>
(one line; cov, ft and corpus from libFuzzer's last status line).
A finding is a crash, sanitizer report, leak, timeout or out-of-memory; its reproducer is kept in
build-fuzz/findings/<target>/ (path printed). Reproduce with:
  build-fuzz/fuzz-<target> <reproducer>

Exit codes: 0 no findings and every target at or above the floor, 1 at least one finding or a
target below the floor, 2 usage, missing tools or build failure.
Long runs: scripts/fuzz.sh --seconds 3600 (new inputs found stay in the temporary copy).
Missing clang/libFuzzer packages are installed by scripts/setup.sh --no-build (as root).
EOF
}

seconds=30
jobs=1
min_execs=
runs=
timeout=5
targets=()
while (($#)); do
  case "$1" in
    --seconds) seconds=${2:-}; shift 2 || { usage >&2; exit 2; } ;;
    --jobs) jobs=${2:-}; shift 2 || { usage >&2; exit 2; } ;;
    --min-execs) min_execs=${2:-}; shift 2 || { usage >&2; exit 2; } ;;
    --runs) runs=${2:-}; shift 2 || { usage >&2; exit 2; } ;;
    --timeout) timeout=${2:-}; shift 2 || { usage >&2; exit 2; } ;;
    -h | --help) usage; exit 0 ;;
    -*) echo "fuzz.sh: unknown option $1" >&2; usage >&2; exit 2 ;;
    *) targets+=("$1"); shift ;;
  esac
done
[[ "$seconds" =~ ^[1-9][0-9]*$ ]] || { echo "fuzz.sh: --seconds needs a positive integer" >&2; exit 2; }
[[ "$jobs" =~ ^[1-9][0-9]*$ ]] || { echo "fuzz.sh: --jobs needs a positive integer" >&2; exit 2; }
[ -n "$min_execs" ] || min_execs=$((seconds * 100))
[[ "$min_execs" =~ ^[0-9]+$ ]] || { echo "fuzz.sh: --min-execs needs a non-negative integer" >&2; exit 2; }
[[ "$timeout" =~ ^[1-9][0-9]*$ ]] || { echo "fuzz.sh: --timeout needs a positive integer" >&2; exit 2; }
[ -z "$runs" ] || [[ "$runs" =~ ^[1-9][0-9]*$ ]] || { echo "fuzz.sh: --runs needs a positive integer" >&2; exit 2; }
((${#targets[@]})) || targets=("${all_targets[@]}")
for t in "${targets[@]}"; do
  [[ " ${all_targets[*]} " == *" $t "* ]] ||
    { echo "fuzz.sh: unknown target '$t' (known: ${all_targets[*]})" >&2; exit 2; }
done

# Toolchain: clang++ and libFuzzer's runtime (scripts/packages/fuzz.txt).
have_tools() {
  [ -x /usr/bin/clang++ ] && compgen -G "/usr/lib/llvm-*/lib/clang/*/lib/linux/libclang_rt.fuzzer-x86_64.a" >/dev/null
}
if ! have_tools; then
  echo "fuzz.sh: clang or libFuzzer missing; running scripts/setup.sh --no-build"
  scripts/setup.sh --no-build || exit 2
  have_tools || { echo "fuzz.sh: clang++/libclang-rt still missing (scripts/packages/fuzz.txt)" >&2; exit 2; }
fi

build=$root/build-fuzz
# A build-fuzz/ configured from tests/fuzz alone (before the AMBIENT_FUZZ option) cannot be
# reconfigured from the top: drop its cache, keep findings/.
if [ -f "$build/CMakeCache.txt" ] &&
  ! grep -qx "CMAKE_HOME_DIRECTORY:INTERNAL=$root" "$build/CMakeCache.txt"; then
  echo "fuzz.sh: build-fuzz/ was configured from another source tree; reconfiguring it"
  rm -rf "$build/CMakeCache.txt" "$build/CMakeFiles"
fi
cmake -S . -B "$build" -DAMBIENT_FUZZ=ON -DCMAKE_CXX_COMPILER=/usr/bin/clang++ \
  -DCMAKE_C_COMPILER=/usr/bin/clang >/dev/null ||
  { echo "fuzz.sh: cmake configure (-DAMBIENT_FUZZ=ON) failed" >&2; exit 2; }
build_start=$(date +%s)
cmake --build "$build" -j"$(nproc)" --target "${targets[@]/#/fuzz-}" >"$build/build.log" 2>&1 ||
  { tail -40 "$build/build.log" >&2; echo "fuzz.sh: build failed (log: $build/build.log)" >&2; exit 2; }
echo "fuzz.sh: build took $(($(date +%s) - build_start)) s (build-fuzz/, clang)"

work=$(mktemp -d -t ambient-fuzz.XXXXXX)
# Scratch files of the targets (registry_file writes two per input): tmpfs when there is one,
# about five times faster than ext4 here.
scratch=$work
[ -d /dev/shm ] && [ -w /dev/shm ] && scratch=$(mktemp -d -p /dev/shm ambient-fuzz.XXXXXX)
trap 'rm -rf "$work" "$scratch"' EXIT

dict_for() {
  case "$1" in
    hbone_connect) ;;
    cni_invocation) echo "$root/tests/fuzz/cni_invocation.dict" ;;
    *) echo "$root/tests/fuzz/json.dict" ;;
  esac
}

# Runs one target; writes its FUZZ line to $work/<target>.result.
run_one() {
  local t=$1 dir=$work/$1 findings_dir=$build/findings/$1
  mkdir -p "$dir/corpus" "$dir/artifacts" "$scratch/$t"
  cp -r "$root/tests/fuzz/corpus/$t/." "$dir/corpus/"
  local dict args=(-max_total_time="$seconds" -timeout="$timeout" -rss_limit_mb=1024 -print_final_stats=1
    -artifact_prefix="$dir/artifacts/")
  dict=$(dict_for "$t")
  [ -n "$dict" ] && args+=(-dict="$dict")
  [ -n "$runs" ] && args+=(-runs="$runs")
  local start end rc
  start=$(date +%s)
  (cd "$dir" && TMPDIR=$scratch/$t "$build/fuzz-$t" "${args[@]}" "$dir/corpus") >"$dir/log" 2>&1
  rc=$?
  end=$(date +%s)
  local execs per_s findings
  execs=$(sed -nE 's/^stat::number_of_executed_units: *([0-9]+).*/\1/p' "$dir/log" | tail -1)
  per_s=$(sed -nE 's/^stat::average_exec_per_sec: *([0-9]+).*/\1/p' "$dir/log" | tail -1)
  if [ -z "$execs" ]; then  # no final stats (killed by a signal): the last status line
    execs=$(grep -oE '^#[0-9]+' "$dir/log" | tail -1 | tr -d '#')
    per_s=$(grep -oE 'exec/s: [0-9]+' "$dir/log" | tail -1 | grep -oE '[0-9]+')
  fi
  # Coverage at the end: edges (cov), features (ft) and corpus entries (corp) of the last
  # status line libFuzzer printed.
  local last cov ft corp
  last=$(grep -E '^#[0-9]+.*cov: [0-9]+' "$dir/log" | tail -1)
  cov=$(sed -nE 's/.*cov: ([0-9]+).*/\1/p' <<<"$last")
  ft=$(sed -nE 's/.*ft: ([0-9]+).*/\1/p' <<<"$last")
  corp=$(sed -nE 's/.*corp: ([0-9]+).*/\1/p' <<<"$last")
  findings=$(find "$dir/artifacts" -type f | wc -l)
  ((rc != 0 && findings == 0)) && findings=1  # died without an artifact: the log is the finding
  local result=ok
  if ((findings == 0 && ${execs:-0} < min_execs)); then
    result=FAIL
    echo "fuzz.sh: $t: only ${execs:-0} executions, below the floor of $min_execs (--min-execs):" \
      "too few to count as a run (exit code $rc; log: $findings_dir/)"
    mkdir -p "$findings_dir"
    cp "$dir/log" "$findings_dir/run-$(date +%Y%m%d-%H%M%S).log"
    tail -5 "$dir/log" | sed "s/^/fuzz.sh: $t: /"
  fi
  if ((findings > 0)); then
    result=FAIL
    mkdir -p "$findings_dir"
    cp "$dir/artifacts/"* "$findings_dir/" 2>/dev/null
    cp "$dir/log" "$findings_dir/run-$(date +%Y%m%d-%H%M%S).log"
    for f in "$dir/artifacts/"*; do
      [ -e "$f" ] && echo "fuzz.sh: $t: reproducer $findings_dir/$(basename "$f")" \
        "(run: build-fuzz/fuzz-$t $findings_dir/$(basename "$f"))"
    done
    grep -E '^(==[0-9]+==ERROR|SUMMARY:|.*runtime error:)' "$dir/log" | head -3 | sed "s/^/fuzz.sh: $t: /"
    echo "fuzz.sh: $t: libFuzzer log: $findings_dir/ (exit code $rc)"
  fi
  echo "FUZZ target=$t seconds=$((end - start)) execs=${execs:-0} exec_per_s=${per_s:-0}" \
    "cov=${cov:-0} ft=${ft:-0} corpus=${corp:-0} findings=$findings min_execs=$min_execs" \
    "result=$result" >"$work/$t.result"
  cat "$work/$t.result"
}

running=0
for t in "${targets[@]}"; do
  run_one "$t" &
  running=$((running + 1))
  if ((running >= jobs)); then
    wait -n
    running=$((running - 1))
  fi
done
wait

echo
printf '%-16s %8s %12s %10s %6s %7s %7s %9s %7s\n' target seconds execs exec/s cov ft corpus \
  findings result
total=0
status=0
for t in "${targets[@]}"; do
  line=$(cat "$work/$t.result" 2>/dev/null) ||
    line="FUZZ target=$t seconds=0 execs=0 exec_per_s=0 findings=1 min_execs=$min_execs result=FAIL"
  declare -A f=()
  for kv in ${line#FUZZ }; do f[${kv%%=*}]=${kv#*=}; done
  printf '%-16s %8s %12s %10s %6s %7s %7s %9s %7s\n' "$t" "${f[seconds]}" "${f[execs]}" \
    "${f[exec_per_s]}" "${f[cov]:-0}" "${f[ft]:-0}" "${f[corpus]:-0}" "${f[findings]}" "${f[result]}"
  total=$((total + f[execs]))
  [ "${f[result]}" = ok ] || status=1
  unset f
done
printf '%-16s %8s %12s\n' total "" "$total"
exit $status
