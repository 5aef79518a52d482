#!/usr/bin/env bash
# The style gate of scripts/test.sh (and so of CI): clang-format over every C and C++ file in git,
# then clang-tidy with the checks of .clang-tidy over every translation unit of the build
# (build/compile_commands.json). See --help.
set -uo pipefail
cd "$(dirname "$0")/.."

usage() {
  cat <<EOF
Usage: scripts/check-style.sh [--format-only | --tidy-only] [--fix] [--jobs J] [--build DIR]

Checks, in this order:
  format  clang-format (.clang-format) over every *.c, *.cpp and *.h file git knows;
          a file whose formatting differs is a finding.
  tidy    clang-tidy (.clang-tidy: the checks and why each was chosen) over every translation
          unit of DIR/compile_commands.json (default DIR: build, made by scripts/setup.sh), with
          J files at a time (default: the number of CPUs); any diagnostic is a finding.
--fix rewrites the files instead: clang-format -i, then clang-tidy's fixes where it has one
(review the diff; a check without a fix still reports).

Prints each finding, then one line per check:
  STYLE check=<format|tidy> files=<n> findings=<n> seconds=<n> result=<ok|FAIL>
Exit codes: 0 no finding, 1 at least one finding, 2 usage, a missing tool or no
compile_commands.json (run scripts/setup.sh first).
EOF
}

do_format=1
do_tidy=1
fix=0
jobs=$(nproc)
build=build
while (($#)); do
  case "$1" in
    --format-only) do_tidy=0; shift ;;
    --tidy-only) do_format=0; shift ;;
    --fix) fix=1; shift ;;
    --jobs) jobs=${2:-}; shift 2 || { usage >&2; exit 2; } ;;
    --build) build=${2:-}; shift 2 || { usage >&2; exit 2; } ;;
    -h | --help) usage; exit 0 ;;
    *) echo "check-style.sh: unknown argument $1" >&2; usage >&2; exit 2 ;;
  esac
done
[[ "$jobs" =~ ^[1-9][0-9]*$ ]] || { echo "check-style.sh: --jobs needs a positive integer" >&2; exit 2; }

need() {
  command -v "$1" >/dev/null || {
    echo "check-style.sh: $1 is missing (scripts/packages/build.txt; scripts/setup.sh installs it)" >&2
    exit 2
  }
}

rc=0
report() {  # CHECK FILES FINDINGS START
  local result=ok
  (($3 == 0)) || { result=FAIL; rc=1; }
  echo "STYLE check=$1 files=$2 findings=$3 seconds=$(($(date +%s) - $4)) result=$result"
}

if ((do_format)); then
  need clang-format
  start=$(date +%s)
  mapfile -t files < <(git ls-files '*.c' '*.cpp' '*.h')
  if ((fix)); then
    clang-format -i "${files[@]}"
  fi
  # One clang-format for all files; each difference is a "file:line:col: error:" line.
  mapfile -t differ < <(clang-format --dry-run --Werror "${files[@]}" 2>&1 |
    grep -oE '^[^ :]+:[0-9]+:[0-9]+: (warning|error):' | cut -d: -f1 | sort -u)
  for f in "${differ[@]}"; do
    echo "format: $f differs from .clang-format (fix: clang-format -i $f)"
  done
  report format "${#files[@]}" "${#differ[@]}" "$start"
fi

if ((do_tidy)); then
  need clang-tidy
  db="$build/compile_commands.json"
  [ -f "$db" ] || { echo "check-style.sh: no $db (run scripts/setup.sh first)" >&2; exit 2; }
  start=$(date +%s)
  # The translation units of our own folders (the build has no others; this keeps it so).
  mapfile -t units < <(python3 -c '
import json, os, sys
root = os.getcwd() + "/"
for e in json.load(open(sys.argv[1])):
    f = os.path.normpath(os.path.join(e["directory"], e["file"]))
    if f.startswith(root):
        print(f[len(root):])' "$db" | sort -u)
  out=$(mktemp -d)
  fixarg=
  ((fix)) && fixarg=--fix
  # The compile commands are gcc's; clang-tidy ignores the warning options it does not know.
  # Each unit leaves its output in <unit>.log and clang-tidy's exit code in <unit>.rc.
  printf '%s\n' "${units[@]}" |
    xargs -P "$jobs" -I{} sh -c 'log="$4/$(echo "$3" | tr / _)"
      clang-tidy -p "$1" --quiet $2 --extra-arg=-Wno-unknown-warning-option "$3" >"$log.log" 2>&1
      echo $? >"$log.rc"' _ "$build" "$fixarg" {} "$out"
  # clang-tidy prints a header's diagnostic once per unit that includes it: each
  # file:line:column: message [check] counts once.
  cat "$out"/*.log | grep -E '^[^ ]+:[0-9]+:[0-9]+: (warning|error):' | sort -u >"$out/findings"
  # A unit that failed without a diagnostic (a crash, a compile command it cannot run) is a
  # finding too, with its output.
  for r in "$out"/*.rc; do
    if [ "$(cat "$r")" != 0 ] && ! grep -qE ':[0-9]+:[0-9]+: (warning|error):' "${r%.rc}.log"; then
      echo "tidy: clang-tidy failed on $(basename "${r%.rc}") without a diagnostic:" >>"$out/findings"
      tail -5 "${r%.rc}.log" | sed 's/^/  /' >>"$out/findings"
    fi
  done
  sed "s|^$(pwd)/||" "$out/findings"
  report tidy "${#units[@]}" "$(grep -c -v '^  ' "$out/findings")" "$start"
  rm -rf "$out"
fi
exit "$rc"
