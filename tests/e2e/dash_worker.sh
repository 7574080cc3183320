#!/usr/bin/env bash
# End to end against the real `mos worker` training a tiny generated run (tests/e2e/tiny_run and
# the tiny config of wkharness.py): the dashboard finds it through --run-dir, shows the loss
# the worker published (the last train record of events.msgpack while paused), p pauses and
# resumes (mos ctl status), t changes the target after confirmation (mos ctl status and the
# next status message), x explains there is no front during training, resizing to 80x24 and
# 200x60 renders without artifacts, and q leaves the worker running. Then, after a small latency
# table (mos latency), a search worker: the loss panel shows the search's best loss, and x on a
# front point (confirmed) makes the worker extract it: the subnet directory is written and the
# dashboard shows the path.
# Skipped (77) while the build has no train stage.
set -euo pipefail
tmp=$(mktemp -d)
. "$(dirname "$0")/dash_lib.sh"
PY=/usr/bin/python3
run=$tmp/run

probe=$("$MOS" worker --run-dir "$tmp/probe" --stage train --config /nonexistent 2>&1 || true)
if grep -q "not a stage of this build" <<< "$probe"; then
    echo "SKIP: this build has no train stage yet"; exit 77
fi
"$B/tests/e2e/tiny_run" "$run" 400 40 40 7
$PY -c 'import sys
sys.path.insert(0, sys.argv[1])
import wkharness
print(wkharness.TINY_CONFIG.format(max_update=100000, valid_every=40, save_every=100000))' \
    "$S/tests/e2e" > "$tmp/run.yml"
pid=$("$MOS" worker --detach --run-dir "$run" --stage train --config "$tmp/run.yml")
PIDS+=("$pid")
ctl() { "$MOS" ctl --run-dir "$run" "$@"; }
stop_worker() { ctl stop > /dev/null 2>&1 || true; }
trap 'stop_worker; cleanup' EXIT

start_dash 120 40 LANG=C.UTF-8 TERM=tmux-256color -- --run-dir "$run"
wait_for "loss [0-9]+\.[0-9]{4}" 30
wait_for "train \(running\)" 10
wait_for "this supernet has no MoS" 10   # the worker announces a plain supernet (gates panel)

keys p
wait_for "pause: ok" 10
grep -q paused <<< "$(ctl status)" || fail "worker not paused after p: $(ctl status)"
wait_for "PAUSED"
sleep 1
# The last loss the worker published (f64 in the log, shown from the store's f32): on screen.
last=$($PY -c 'import sys, msgpack, struct
recs = list(msgpack.Unpacker(open(sys.argv[1], "rb"), raw=False))
loss = [b["body"]["loss"] for t, b in zip(recs[0::2], recs[1::2]) if t == "train"][-1]
f32 = struct.unpack("f", struct.pack("f", loss))[0]
print("%.4f|%.4f" % (loss, f32))' "$run/events.msgpack")
wait_for "loss ($last)  "

resize 80 24; check_clean 80 24
resize 200 60; check_clean 200 60
resize 120 40

keys t; wait_for "New latency target \(ms\): "
keys BSpace BSpace BSpace BSpace BSpace BSpace BSpace 9 0 Enter
wait_for "Set the latency target to 90\.00 ms\? \[y/N\]"
keys y
wait_for "target: ok" 10
grep -q "target 90.0 ms" <<< "$(ctl status)" || fail "worker target not 90 ms: $(ctl status)"
wait_for "target +90\.00 ms" 10

keys x; wait_for "no Pareto front yet"

keys p
wait_for "resume: ok" 10
grep -q running <<< "$(ctl status)" || fail "worker not running after the second p"

keys q; wait_for "DASH-EXITED-0"
kill -0 "$pid" 2>/dev/null || fail "the worker died when the dashboard quit"
grep -q running <<< "$(ctl status)" || fail "worker not answering after the dashboard quit"
stop_tmux

# Search and extraction: stop the trainer (it checkpoints), measure a small latency table,
# start a search worker and extract the first front point from the dashboard.
ctl stop > /dev/null
for ((i = 0; i < 100; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
kill -0 "$pid" 2>/dev/null && fail "the trainer did not stop"
"$MOS" latency --run-dir "$run" --config "$tmp/run.yml" --archs 60 --verify 4 --runs 3 \
    --warmup 1 --fit-steps 300 --quiet > "$tmp/latency.out" 2>&1 \
    || fail "mos latency: $(tail -3 "$tmp/latency.out")"
pid=$("$MOS" worker --detach --run-dir "$run" --stage search --config "$tmp/run.yml")
PIDS+=("$pid")
start_dash 120 40 LANG=C.UTF-8 TERM=tmux-256color -- --run-dir "$run"
wait_for "\[1/[0-9]+\] predicted" 30   # the tiny search lasts seconds (and cannot pause)
keys x; wait_for "Extract front point 1/[0-9]+ "
keys y
wait_for "extract: ok" 10
wait_for "extract +done 100% /" 60
ls "$run"/subnets/*/model.safetensors > /dev/null 2>&1 || fail "no extracted model.safetensors"
keys q; wait_for "DASH-EXITED-0"
echo "dash_worker: ok"
