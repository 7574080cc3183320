#!/usr/bin/env bash
# End to end: the mouse, against a live worker (tests/tui/fake_worker) under tmux. The dashboard
# asks the terminal for mouse reports (tmux's pane flags say so); a click on a Pareto front
# point focuses the front panel and selects that point (the details line follows at once, not
# at the next input); a click on another panel moves the focus there (the arrow keys then no
# longer move the front cursor); the wheel moves the cursor of the focused panel. Done for both
# report formats ncurses asks for: X10 (TERM=tmux-256color) and SGR (TERM=xterm-256color).
# With --no-mouse no reporting is asked for and a click sequence changes nothing.
set -euo pipefail
tmp=$(mktemp -d)
. "$(dirname "$0")/dash_lib.sh"

"$B/tests/tui/fake_worker" "$tmp/run" 20 300 > "$tmp/fw.out" 2> "$tmp/fw.err" &
PIDS+=($!)
for ((i = 0; i < 50; i++)); do [ -s "$tmp/fw.out" ] && break; sleep 0.1; done
[ -s "$tmp/fw.out" ] || fail "the worker did not start: $(cat "$tmp/fw.err")"

flags() { tmux -S "$SOCK" display -p -t dash "#{$1}"; }

# mouse BUTTON ROW COL [release]: a mouse report for the 0-based screen cell, in the format the
# dashboard asked the terminal for (SGR when it enabled mode 1006, else X10), as a terminal
# would send it. Buttons: 0 left, 64 wheel up, 65 wheel down.
mouse() {
    local b=$1 row=$2 col=$3 rel=${4:-}
    if [ "$(flags mouse_sgr_flag)" = 1 ]; then
        keys -l $'\e'"[<$b;$((col + 1));$((row + 1))${rel:+m}${rel:-M}"
    else
        [ -n "$rel" ] && b=3   # X10: a release is button 3
        keys -l "$(printf '\e[M%b%b%b' "\\x$(printf %x $((32 + b)))" \
            "\\x$(printf %x $((33 + col)))" "\\x$(printf %x $((33 + row)))")"
    fi
}
click() { mouse 0 "$1" "$2"; mouse 0 "$1" "$2" release; }

# Screen positions of the front's points (◆, the selected one ◉), left to right: "row col" lines.
front_points() {
    screen | /usr/bin/python3 -c '
import sys
rows = sys.stdin.read().split("\n")
pts = sorted((c, r) for r, line in enumerate(rows) for c, ch in enumerate(line) if ch in "◆◉")
for c, r in pts:
    print(r, c)'
}
# Row and column of a panel title's box corner.
panel_at() {
    screen | /usr/bin/python3 -c '
import sys
for r, line in enumerate(sys.stdin.read().split("\n")):
    c = line.find("┌ " + sys.argv[1])
    if c >= 0:
        print(r, c)
        break' "$1"
}

for term in tmux-256color xterm-256color; do
    start_dash 100 30 LANG=C.UTF-8 TERM=$term -- --run-dir "$tmp/run"
    wait_for "\[1/4\] predicted 50\.00 ms"
    wait_for "◆"
    [ "$(flags mouse_any_flag)" = 1 ] || fail "$term: the dashboard did not ask for mouse reports"
    mapfile -t pts < <(front_points)
    [ "${#pts[@]}" -eq 4 ] || fail "$term: expected 4 front points on screen, saw ${#pts[@]}"

    # A press on the rightmost point (125 ms): focus and selection, drawn at once (before the
    # release or any other input arrives).
    mouse 0 ${pts[3]}
    wait_for "\[4/4\] predicted 125\.00 ms" 3
    mouse 0 ${pts[3]} release
    mouse 0 ${pts[1]}
    wait_for "\[2/4\] predicted 75\.00 ms" 3
    mouse 0 ${pts[1]} release
    keys Left                                   # the front has the focus
    wait_for "\[1/4\] predicted 50\.00 ms" 3

    # A click inside the loss panel takes the focus away from the front.
    read -r lr lc < <(panel_at "Loss")
    click $((lr + 3)) $((lc + 20))
    sleep 0.3
    keys Right
    sleep 0.5
    grep -q "\[1/4\] predicted 50\.00 ms" <<< "$(screen)" || fail "$term: Right moved the front cursor after a click on the loss panel"

    # A click on an empty spot of the front panel focuses it without selecting; the wheel moves.
    read -r fr fc < <(panel_at "Pareto front")
    click $((fr + 1)) $((fc + 2))
    sleep 0.3
    grep -q "\[1/4\] predicted 50\.00 ms" <<< "$(screen)" || fail "$term: a click off the points changed the selection"
    mouse 65 $((fr + 2)) $((fc + 20))
    wait_for "\[2/4\] predicted 75\.00 ms" 3
    mouse 64 $((fr + 2)) $((fc + 20))
    wait_for "\[1/4\] predicted 50\.00 ms" 3

    keys q; wait_for "DASH-EXITED-0"
    stop_tmux
done

# --no-mouse: no reports asked for (terminal selection keeps working); a click sequence typed
# into the terminal anyway selects nothing and moves no focus.
start_dash 100 30 LANG=C.UTF-8 TERM=xterm-256color -- --no-mouse --run-dir "$tmp/run"
wait_for "\[1/4\] predicted 50\.00 ms"
wait_for "◆"
[ "$(flags mouse_any_flag)$(flags mouse_sgr_flag)$(flags mouse_standard_flag)" = 000 ] \
    || fail "--no-mouse: the dashboard still asked for mouse reports"
mapfile -t pts < <(front_points)
read -r r c <<< "${pts[3]}"
keys -l $'\e'"[<0;$((c + 1));$((r + 1))M" $'\e'"[<0;$((c + 1));$((r + 1))m"
sleep 0.5
keys Right                                      # focus is still on the loss panel
sleep 0.5
grep -q "\[1/4\] predicted 50\.00 ms" <<< "$(screen)" || fail "--no-mouse: a click changed the selection"
keys q; wait_for "DASH-EXITED-0"
echo "dash_mouse: ok"
