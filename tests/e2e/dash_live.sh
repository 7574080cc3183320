#!/usr/bin/env bash
# End to end against a live worker over the real protocol: mos-dash under tmux, --run-dir
# discovery through endpoints.json, the loss value the worker published on screen, p pauses and
# resumes (checked with `mos ctl status`), t sets the latency target after confirmation (the
# worker's next status says so), x extracts the selected front point (the subnet directory is
# written and its path shown), and q leaves the worker running.
# The worker is the real `mos worker` once its training stage is in the build, else the
# protocol-level stand-in tests/tui/fake_worker (same sockets, messages and commands).
set -euo pipefail
tmp=$(mktemp -d)
. "$(dirname "$0")/dash_lib.sh"
run=$tmp/run

"$B/tests/tui/fake_worker" "$run" 20 300 > "$tmp/fw.out" 2> "$tmp/fw.err" &
PIDS+=($!)
for ((i = 0; i < 50; i++)); do [ -s "$tmp/fw.out" ] && break; sleep 0.1; done
pub=$(cut -d' ' -f1 "$tmp/fw.out")
[ -n "$pub" ] || fail "the worker did not start: $(cat "$tmp/fw.err")"
ctl() { "$MOS" ctl --connect "$pub" "$@"; }

start_dash 100 30 LANG=C.UTF-8 TERM=tmux-256color -- --run-dir "$run"
wait_for "loss [0-9]+\.[0-9]{4}"
wait_for "vm|:[0-9]+ +running +hb [0-9]s"

keys p
wait_for "pause: ok"
grep -q "paused" <<< "$(ctl status)" || fail "worker not paused after p: $(ctl status)"
wait_for "PAUSED"
# Paused: the last loss the worker published is fixed; the screen shows it.
last=$(ctl snapshot --json | python3 -c '
import json, sys
s = json.load(sys.stdin)["snapshot"]
v = [x for x in s["series"] if x["name"] == "train.loss"][0]["value"][-1]
print("%.4f" % v)')
wait_for "loss $last"

keys p
wait_for "resume: ok"
grep -q "running" <<< "$(ctl status)" || fail "worker not running after the second p"

keys t; wait_for "New latency target \(ms\): 100\.00_"
keys BSpace BSpace BSpace BSpace BSpace BSpace 8 2 . 5 Enter
wait_for "Set the latency target to 82\.50 ms\? \[y/N\]"
grep -q "target 100.0 ms" <<< "$(ctl status)" || fail "target changed before the confirmation"
keys y
wait_for "target: ok"
grep -q "target 82.5 ms" <<< "$(ctl status)" || fail "worker target not 82.5: $(ctl status)"
wait_for "target +82\.50 ms"                    # the worker's next status message says so

keys Tab Tab Right                              # focus the Pareto front, second point
wait_for "\[2/4\] predicted 75\.00 ms"
keys x; wait_for "Extract front point 2/4 \(75\.00 ms, loss 4\.5000\)"
keys y
wait_for "extract: ok"
[ -f "$run/subnets/fake1/config.json" ] || fail "no subnet written"
grep -q "fake-front-1" "$run/subnets/fake1/config.json" || fail "wrong point extracted"
wait_for "extract +done 100%"

keys q; wait_for "DASH-EXITED-0"
kill -0 "${PIDS[0]}" 2>/dev/null || fail "the worker died when the dashboard quit"
grep -q "running" <<< "$(ctl status)" || fail "worker not answering after the dashboard quit"
stop_tmux

# Several workers: one line each in the status panel; w selects the one the panels show.
"$B/tests/tui/fake_worker" "$tmp/run2" 20 300 > "$tmp/fw2.out" 2> "$tmp/fw2.err" &
PIDS+=($!)
for ((i = 0; i < 50; i++)); do [ -s "$tmp/fw2.out" ] && break; sleep 0.1; done
start_dash 120 40 LANG=C.UTF-8 TERM=tmux-256color -- --connect "$run" --connect "$tmp/run2"
wait_for "│> [^ ]+:${PIDS[0]} +running"
wait_for "│  [^ ]+:${PIDS[1]} +running"
wait_for "run +$run "
keys w
wait_for "│> [^ ]+:${PIDS[1]} +running"
wait_for "run +$tmp/run2 "
keys q; wait_for "DASH-EXITED-0"
echo "dash_live: ok"
