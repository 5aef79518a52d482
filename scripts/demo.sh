#!/usr/bin/env bash
# The local demo: sets everything up, builds, brings an emulated cluster up and walks the seed
# article's traffic paths. The emulated cluster is not built yet; until then this sets up,
# builds and says so.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
echo "demo: not built yet (the emulated cluster and its scenarios come with the end-to-end work);"
echo "demo: the engine and its tests are built: run scripts/test.sh to see them pass."
