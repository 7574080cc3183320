# Shared helpers for the dashboard's end-to-end tests (sourced, not run): a private tmux server
# per test, waiting for text on the screen, and cleanup of everything started, even on failure.
# Callers set: tmp (a fresh temporary directory). Uses MOS_BUILD_ROOT / MOS_SOURCE_ROOT.

B=${MOS_BUILD_ROOT:?run through meson test}
S=${MOS_SOURCE_ROOT:?run through meson test}
DASH=$B/tui/mos-dash
MOS=$B/worker/mos
SOCK=$tmp/tmux.sock
export LSAN_OPTIONS=suppressions=$S/tests/e2e/lsan.supp   # for sanitizer builds
PIDS=()

cleanup() {
    tmux -S "$SOCK" kill-server 2>/dev/null || true
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
    # detached workers are not our children: wait until they are gone (a worker stopped by
    # SIGTERM still writes its checkpoint and log), then remove what they wrote
    for p in "${PIDS[@]}"; do
        for ((i = 0; i < 100; i++)); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$p" 2>/dev/null || true
    done
    rm -rf "$tmp" 2>/dev/null || { sleep 0.5; rm -rf "$tmp"; }
}
trap cleanup EXIT

fail() {
    echo "FAIL: $*" >&2
    [ -s "$tmp/dash.err" ] && { echo "---- mos-dash stderr ----" >&2; head -40 "$tmp/dash.err" >&2; }
    echo "---- screen ----" >&2
    tmux -S "$SOCK" capture-pane -p -t dash >&2 2>/dev/null || true
    exit 1
}

# start_dash COLS ROWS ENV... -- ARGS...: runs mos-dash in a new tmux session "dash".
start_dash() {
    local cols=$1 rows=$2; shift 2
    local envs=()
    while [ "$1" != "--" ]; do envs+=("$1"); shift; done
    shift
    tmux -S "$SOCK" -f /dev/null new-session -d -s dash -x "$cols" -y "$rows" \
        "env LSAN_OPTIONS=$LSAN_OPTIONS ${envs[*]} $DASH $* 2>$tmp/dash.err; echo DASH-EXITED-\$?; sleep 600"
    tmux -S "$SOCK" set-option -g window-size manual >/dev/null
}

# stop_tmux: ends the tmux server (and mos-dash in it) and waits until it is gone.
stop_tmux() {
    tmux -S "$SOCK" kill-server 2>/dev/null || true
    local i
    for ((i = 0; i < 50; i++)); do
        tmux -S "$SOCK" has-session 2>/dev/null || break
        sleep 0.1
    done
    rm -f "$SOCK"
}

screen() { tmux -S "$SOCK" capture-pane -p -t dash; }

# wait_for REGEX [SECONDS]: until the screen matches (grep -E).
wait_for() {
    local re=$1 t=${2:-10} i
    for ((i = 0; i < t * 10; i++)); do
        grep -qE -- "$re" <<< "$(screen)" && return 0   # no pipe: grep -q would SIGPIPE it
        sleep 0.1
    done
    fail "screen never showed /$re/ within ${t}s"
}

wait_gone() {
    local re=$1 t=${2:-10} i
    for ((i = 0; i < t * 10; i++)); do
        grep -qE -- "$re" <<< "$(screen)" || return 0
        sleep 0.1
    done
    fail "screen still shows /$re/ after ${t}s"
}

keys() { tmux -S "$SOCK" send-keys -t dash "$@"; }

resize() { tmux -S "$SOCK" resize-window -t dash -x "$1" -y "$2"; }

# Screen text without what changes by itself while nothing happens (heartbeat ages).
steady() { screen | sed -E 's/hb [0-9]+s/hb Ns/g'; }

# check_clean COLS ROWS: the screen is exactly the size, every panel title is there, and a
# forced full redraw (Ctrl-L) leaves it unchanged, i.e. the incremental update left no artifacts.
# With a live worker new data can land between the two captures, so a few attempts are allowed;
# an artifact would survive all of them.
check_clean() {
    local cols=$1 rows=$2 before after attempt
    wait_for "Latency" 5
    for attempt in 1 2 3 4 5; do
        sleep 0.3
        before=$(steady)
        [ "$(printf '%s\n' "$before" | wc -l)" -eq "$rows" ] || fail "screen is not $rows rows"
        for title in "Loss" "Status / workers" "Pareto front" "Router gates" "Latency" "Log"; do
            grep -qF "$title" <<< "$before" || fail "no '$title' panel at ${cols}x$rows"
        done
        keys C-l
        sleep 0.3
        after=$(steady)
        [ "$before" = "$after" ] && return 0
    done
    diff <(echo "$before") <(echo "$after") >&2
    fail "redraw differs at ${cols}x$rows (artifacts)"
}
