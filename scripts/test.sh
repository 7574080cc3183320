#!/usr/bin/env bash
# The test command (README): installs what is missing, builds with warnings as errors, runs every
# suite (core, protocol, worker, tui, e2e), then builds again with AddressSanitizer and
# UndefinedBehaviorSanitizer and runs the unit suites there. Ends with "N passed, M failed".
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --test || exit 1
export OPENBLAS_NUM_THREADS=1

bash scripts/build.sh build || exit 1
bash scripts/build.sh build-asan -Dbuildtype=debugoptimized \
    -Db_sanitize=address,undefined -Db_lundef=false || exit 1

meson test -C build --print-errorlogs --no-suite bench
meson test -C build-asan --print-errorlogs --no-suite bench --no-suite e2e

python3 - build/meson-logs/testlog.json build-asan/meson-logs/testlog.json <<'PY'
import json, sys
passed = failed = skipped = 0
for path in sys.argv[1:]:
    try:
        lines = open(path).read().splitlines()
    except OSError:
        failed += 1
        print(f"no test log at {path}")
        continue
    for line in lines:
        r = json.loads(line)["result"]
        if r in ("OK", "EXPECTEDFAIL"):
            passed += 1
        elif r == "SKIP":
            skipped += 1
        else:
            failed += 1
print(f"{passed} passed, {failed} failed" + (f", {skipped} skipped" if skipped else ""))
sys.exit(1 if failed or passed == 0 else 0)
PY
