#!/usr/bin/env bash
# Worker benchmark: >= 20 kill -9/--resume cycles and the slowdown a stalled dashboard causes
# (see bench_worker.py). Builds first; extra arguments go to bench_worker.py
# (--cycles N --updates N --pairs N). Run it on a quiet machine for the slowdown number.
set -euo pipefail
cd "$(dirname "$0")/../.."
bash scripts/build.sh build
export OPENBLAS_NUM_THREADS=1 MOS_BUILD_ROOT="$PWD/build"
exec /usr/bin/python3 tests/bench/bench_worker.py "$@"
