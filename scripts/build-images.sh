#!/bin/bash
# Builds the two container images (manifests/images/*.Containerfile) with buildah or podman,
# whichever is installed (both daemonless); with neither, prints the commands to run elsewhere.
#   scripts/build-images.sh [--tag TAG] [--prefix REPO] [--print]
# Defaults match manifests/values.yaml: localhost/ambient-redirect/{agent,ztunnel}:0.1.0.
# Exit codes: 0 built (or printed), 1 a build failed, 2 usage error.
set -euo pipefail
cd "$(dirname "$0")/.."

tag=0.1.0
prefix=localhost/ambient-redirect
print_only=false
while [ $# -gt 0 ]; do
  case $1 in
    --tag) tag=${2:?--tag needs a value}; shift 2 ;;
    --prefix) prefix=${2:?--prefix needs a value}; shift 2 ;;
    --print) print_only=true; shift ;;
    -h | --help) sed -n '2,6p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "build-images.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done

tool=
if ! $print_only; then
  if command -v buildah >/dev/null; then
    tool="buildah bud"
  elif command -v podman >/dev/null; then
    tool="podman build"
  fi
fi

commands=()
for image in agent ztunnel; do
  commands+=("${tool:-buildah bud} --layers -f manifests/images/$image.Containerfile -t $prefix/$image:$tag .")
done

if [ -z "$tool" ]; then
  echo "build-images.sh: neither buildah nor podman is installed here; run these from the" \
       "repository root on a machine that has one (docker build takes the same arguments):"
  printf '  %s\n' "${commands[@]}"
  echo "then push the images where your nodes pull from, and render the manifests with"
  echo "  manifests/render.py --set images.agent=$prefix/agent:$tag --set images.ztunnel=$prefix/ztunnel:$tag"
  exit 0
fi
for c in "${commands[@]}"; do
  echo "+ $c"
  $c || { echo "build-images.sh: failed: $c" >&2; exit 1; }
done
