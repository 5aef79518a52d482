#!/usr/bin/env bash
# Installs, idempotently, every Debian package the build and the tests need (lists in
# scripts/packages/*.txt, one package a line), then configures and builds into ./build.
# Usage: scripts/setup.sh [--no-build]
set -euo pipefail
cd "$(dirname "$0")/.."

want=$(grep -hv '^\s*\(#\|$\)' scripts/packages/*.txt | sort -u)
missing=()
for p in $want; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
  if [ "$(id -u)" -ne 0 ]; then
    echo "setup: these packages are missing and installing them needs root: ${missing[*]}" >&2
    exit 2
  fi
  echo "setup: installing ${#missing[@]} packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

[ "${1:-}" = "--no-build" ] && exit 0

werror=OFF
[ -n "${CI:-}" ] && werror=ON
cmake -S . -B build -DAMBIENT_WERROR=$werror >/dev/null
cmake --build build -j"$(nproc)"
