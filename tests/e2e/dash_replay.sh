#!/usr/bin/env bash
# End to end, no worker needed: mos-dash under tmux replays an event log written with protocol's
# encoder. Checks the loss value from the log is on screen, help, log-y, zoom, theme switch,
# focus and cursor, resizing (80x24, 200x60, too small) without artifacts, that p/t/x explain
# that a replay cannot be controlled, that q quits, and that NO_COLOR yields no colour codes.
set -euo pipefail
tmp=$(mktemp -d)
. "$(dirname "$0")/dash_lib.sh"

loss=$("$B/tests/tui/gen_events" "$tmp/events.msgpack" 600 2)
start_dash 100 30 LANG=C.UTF-8 TERM=tmux-256color -- --replay "$tmp/events.msgpack"
wait_for "loss $loss"
wait_for "Pareto front"
wait_for "enc0 +█+ 0\.30 0\.70"                 # layer-wise gates: a bar per expert
wait_for "extract +done 100% /tmp/gen-run"

keys '?'; wait_for "Keys \(any key closes\)"
wait_for "quit the dashboard \(workers keep running\)"
keys q; wait_gone "Keys \(any key closes\)"      # q closes the help, it does not quit
grep -q DASH-EXITED <<< "$(screen)" && fail "q in the help quit the dashboard"

keys l; wait_for "Loss \[log\]"
keys z; wait_for "Loss \[log\] \[zoom\]"
keys l z z z; wait_for "┌ Loss ─"
keys T; wait_for "theme: light"
keys Tab Tab; keys Down; wait_for "\[2/6\] predicted"   # focus the front, move the cursor
keys b; wait_for "Pareto front \(latency ms vs BLEU\)"; wait_for "│  25\.4 "; keys b; wait_for "│  5\.12 "
keys p; wait_for "no worker to send 'pause' to"
keys x; wait_for "Extract front point 2/6"; keys y
wait_for "no worker to send 'extract' to"
keys t; wait_for "New latency target \(ms\): 100\.00_"
keys BSpace BSpace BSpace BSpace BSpace BSpace 9 0 Enter
wait_for "Set the latency target to 90\.00 ms\? \[y/N\]"; keys n; wait_for "cancelled"

resize 80 24; check_clean 80 24
resize 200 60; check_clean 200 60
resize 50 12; wait_for "terminal too small \(50x12, need 60x16\)"
resize 100 30; wait_for "Pareto front"

keys q; wait_for "DASH-EXITED-0"
stop_tmux

# NO_COLOR: attributes only, no colour escape codes (SGR 30-38, 40-48, 90-107; 39/49 are the
# terminal defaults, which tmux emits as resets).
start_dash 100 30 LANG=C.UTF-8 TERM=tmux-256color NO_COLOR=1 -- --replay "$tmp/events.msgpack"
wait_for "loss $loss"
codes=$(tmux -S "$SOCK" capture-pane -p -e -t dash | grep -oE $'\e\\[[0-9;]*m' | sort -u)
if printf '%s\n' "$codes" | grep -qE $'\\[([0-9;]*;)?(3[0-8]|4[0-8]|9[0-7]|10[0-7])(;[0-9;]*)?m'; then
    fail "colour codes with NO_COLOR: $(printf '%s' "$codes" | tr '\n' ' ' | cat -v)"
fi
start_colour=$(printf '%s\n' "$codes" | wc -l)
[ "$start_colour" -ge 1 ] || fail "no attributes at all with NO_COLOR (expected bold/dim/reverse)"
keys q; wait_for "DASH-EXITED-0"
stop_tmux

# With colours, the same screen does use colour codes (so the check above can fail).
start_dash 100 30 LANG=C.UTF-8 TERM=tmux-256color -- --replay "$tmp/events.msgpack"
wait_for "loss $loss"
tmux -S "$SOCK" capture-pane -p -e -t dash | grep -qE $'\e\\[[0-9;]*38;5;[0-9]+' \
    || fail "expected 256-colour codes without NO_COLOR"

# ASCII fallback: a non-UTF-8 locale gets ASCII boxes and charts.
stop_tmux
start_dash 100 30 LANG=C LC_ALL=C TERM=tmux-256color -- --replay "$tmp/events.msgpack"
wait_for "loss $loss"
wait_for "^\+ Loss -"
grep -q "⣿" <<< "$(screen)" && fail "braille in a non-UTF-8 locale"

# Unknown TERM falls back with a warning instead of failing.
stop_tmux
start_dash 100 30 LANG=C.UTF-8 TERM=xterm-nosuchterm -- --replay "$tmp/events.msgpack"
wait_for "loss $loss"
wait_for "unknown terminal type 'xterm-nosuchterm', using 'xterm-256color'"
keys q; wait_for "DASH-EXITED-0"
grep -q "warning: unknown terminal type" "$tmp/dash.err" || fail "no warning on stderr after exit"
stop_tmux

# Neuron-wise MoS: a share bar per layer plus the router-output histogram; no MoS: a note.
"$B/tests/tui/gen_events" "$tmp/neuron.msgpack" 100 3 neuron > /dev/null
start_dash 200 50 LANG=C.UTF-8 TERM=tmux-256color -- --replay "$tmp/neuron.msgpack"
wait_for "neuron-wise, 3 experts"
wait_for "enc0 +█+ 0\.30 0\.35 0\.35 [▁▂▃▄▅▆▇█]{10}"
stop_tmux
"$B/tests/tui/gen_events" "$tmp/nomos.msgpack" 100 1 > /dev/null
start_dash 200 50 LANG=C.UTF-8 TERM=tmux-256color -- --replay "$tmp/nomos.msgpack"
wait_for "this supernet has no MoS \(1 expert\)"
stop_tmux

# The terminal is restored on signals and crashes: after SIGTERM (exit 0) and after SIGSEGV
# (dies of it, 139) the pane is out of the alternate screen with the cursor visible.
for sig in TERM SEGV; do
    start_dash 100 30 LANG=C.UTF-8 TERM=tmux-256color -- --replay "$tmp/events.msgpack"
    wait_for "loss $loss"
    shell=$(tmux -S "$SOCK" display -p -t dash '#{pane_pid}')
    dash=$(ps -o pid= --ppid "$shell" | tr -d ' ')
    [ "$(tmux -S "$SOCK" display -p -t dash '#{alternate_on}')" = 1 ] || fail "not fullscreen"
    kill -s "$sig" "$dash"
    if [ "$sig" = TERM ]; then wait_for "DASH-EXITED-0"; else wait_for "DASH-EXITED-139"; fi
    [ "$(tmux -S "$SOCK" display -p -t dash '#{alternate_on}')" = 0 ] \
        || fail "terminal left in the alternate screen after SIG$sig"
    [ "$(tmux -S "$SOCK" display -p -t dash '#{cursor_flag}')" = 1 ] \
        || fail "cursor left hidden after SIG$sig"
    stop_tmux
done
echo "dash_replay: ok"
