#!/usr/bin/env bash
# Configures (once) and builds one build directory: scripts/build.sh DIR [meson options...].
# Warnings are errors. Prints only what goes wrong.
set -euo pipefail
cd "$(dirname "$0")/.."
dir=$1; shift
if [ ! -f "$dir/build.ninja" ]; then
    meson setup "$dir" -Dwerror=true "$@" > "$dir.setup.log" 2>&1 || {
        cat "$dir.setup.log" >&2; echo "build: meson setup $dir failed" >&2; exit 1; }
    rm -f "$dir.setup.log"
fi
ninja -C "$dir" > /dev/null || { ninja -C "$dir" >&2; exit 1; }
