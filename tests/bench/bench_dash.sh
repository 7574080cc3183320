#!/usr/bin/env bash
# Dashboard benchmark: (1) CPU of mos-dash, all its threads, while a worker publishes 1,000
# messages/s (the protocol-level stand-in tests/tui/fake_worker, real sockets and messages),
# drawn in a 160x48 tmux pane at the default refresh: sent in 10 ms groups like the worker does,
# and again with every message sent alone; (2) peak memory after replaying 10^5 and 10^6 events
# (flat memory means the two peaks match). usage: tests/bench/bench_dash.sh [BUILD_DIR] [SECONDS]
# Kills everything it starts, also on failure. Prints one line per number.
set -euo pipefail
cd "$(dirname "$0")/../.."
B=$(cd "${1:-build}" && pwd)
secs=${2:-20}
tmp=$(mktemp -d)
SOCK=$tmp/tmux.sock
PIDS=()
cleanup() {
    tmux -S "$SOCK" kill-server 2>/dev/null || true
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
    rm -rf "$tmp"
}
trap cleanup EXIT

ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
hz=$(getconf CLK_TCK)

dash_in_tmux() {   # dash_in_tmux ARGS...: starts mos-dash in tmux, prints its pid
    tmux -S "$SOCK" -f /dev/null new-session -d -s b -x 160 -y 48 \
        "exec env LANG=C.UTF-8 TERM=tmux-256color $B/tui/mos-dash $*"
    tmux -S "$SOCK" display -p -t b '#{pane_pid}'
}

# (1) CPU at 1,000 msg/s. cpu_at LABEL COALESCE_MS: the stand-in sends what it made in each
# COALESCE_MS window together, as the worker's publisher does (10 ms, worker/publish.h); with 0
# every message goes out alone (one wake-up of the dashboard's ZeroMQ I/O thread per message).
cpu_at() {
    rm -f "$tmp/fw.out"
    FAKE_WORKER_COALESCE_MS=$2 "$B/tests/tui/fake_worker" "$tmp/run" 1000 $((secs + 20)) \
        > "$tmp/fw.out" &
    local fw=$!
    PIDS+=("$fw")
    local i
    for ((i = 0; i < 50; i++)); do [ -s "$tmp/fw.out" ] && break; sleep 0.1; done
    local dash d0 w0 t0 d1 w1 t1 step rss
    dash=$(dash_in_tmux --run-dir "$tmp/run")
    sleep 3   # attach, snapshot, first frames
    d0=$(ticks "$dash"); w0=$(ticks "$fw"); t0=$(date +%s.%N)
    sleep "$secs"
    d1=$(ticks "$dash"); w1=$(ticks "$fw"); t1=$(date +%s.%N)
    step=$(tmux -S "$SOCK" capture-pane -p -t b | grep -oE 'step [0-9]+' | head -1)
    rss=$(awk '/VmRSS/ { print $2 }' "/proc/$dash/status")
    awk -v d=$((d1 - d0)) -v w=$((w1 - w0)) -v hz="$hz" -v t0="$t0" -v t1="$t1" -v rss="$rss" \
        -v step="$step" -v label="$1" 'BEGIN {
        s = t1 - t0
        printf "dash_cpu_percent_at_1000_msg_s%s %.2f  (over %.1f s; worker stand-in %.1f %%)\n",
               label, 100 * d / hz / s, s, 100 * w / hz / s
        printf "dash_rss_kb_live%s %d  (%s on screen)\n", label, rss, step }'
    tmux -S "$SOCK" kill-server
    kill "$fw"; wait "$fw" 2>/dev/null || true
    sleep 0.5
    rm -rf "$tmp/run"
}
cpu_at "" 10
cpu_at "_each_sent_alone" 0

# (2) memory flat over 10^6 events (replay: as fast as the dashboard can apply them)
peak_after() {   # peak_after STEPS: peak RSS (kB) of mos-dash after replaying that many steps
    "$B/tests/tui/gen_events" "$tmp/ev.msgpack" "$1" 2 > /dev/null
    local n
    n=$(/usr/bin/python3 -c 'import sys, msgpack
print(sum(1 for _ in msgpack.Unpacker(open(sys.argv[1], "rb"), raw=False)) // 2)' \
        "$tmp/ev.msgpack")
    local pid
    pid=$(dash_in_tmux --replay "$tmp/ev.msgpack")
    local i
    for ((i = 0; i < 600; i++)); do
        tmux -S "$SOCK" capture-pane -p -t b | grep -q "done (done)" && break
        sleep 0.5
    done
    sleep 1
    echo "$n $(awk '/VmHWM/ { print $2 }' "/proc/$pid/status")"
    tmux -S "$SOCK" kill-server
    sleep 0.5
    rm -f "$tmp/ev.msgpack"
}
peak_after 90000 > "$tmp/p1"
peak_after 900000 > "$tmp/p2"
read -r n1 p1 < "$tmp/p1"
read -r n2 p2 < "$tmp/p2"
echo "dash_peak_rss_kb $p1 after $n1 events; $p2 after $n2 events"
