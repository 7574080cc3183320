#!/usr/bin/env bash
# The run command (README): installs what is missing, builds, and runs the default job in
# runs/default (or the run directory given with --run-dir). Extra arguments go to `mos run`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/build.sh build
exec build/worker/mos run "$@"
