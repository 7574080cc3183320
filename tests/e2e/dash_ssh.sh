#!/usr/bin/env bash
# The dashboard over SSH, for real: a private sshd on 127.0.0.1 (its own config, port, host and
# user keys in a temporary folder) and a worker bound to loopback TCP. Both ways users monitor
# remotely: (1) `ssh -t host mos-dash --run-dir D` inside tmux, (2) a local mos-dash through an
# `ssh -L` tunnel to the worker's loopback endpoints. Each shows live data and pauses the worker.
# Skipped (77) without sshd/ssh, or when /run/sshd (sshd's privilege separation directory)
# cannot be created.
set -euo pipefail
tmp=$(mktemp -d)
. "$(dirname "$0")/dash_lib.sh"

SSHD=/usr/sbin/sshd
if [ ! -x "$SSHD" ] || ! command -v ssh >/dev/null || ! command -v ssh-keygen >/dev/null; then
    echo "SKIP: no sshd/ssh"; exit 77
fi
if [ ! -d /run/sshd ] && ! mkdir -p /run/sshd 2>/dev/null; then
    echo "SKIP: /run/sshd missing and cannot be created"; exit 77
fi
free_port() {
    /usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
free_pair() {   # a port P with P+1 free too (the worker's commands are on P+1)
    local p
    for _ in 1 2 3 4 5 6 7 8 9 10; do
        p=$(free_port)
        if /usr/bin/python3 -c 'import socket, sys
s = socket.socket(); s.bind(("127.0.0.1", int(sys.argv[1]) + 1))' "$p" 2>/dev/null; then
            echo "$p"; return 0
        fi
    done
    return 1
}

ssh-keygen -q -t ed25519 -N '' -f "$tmp/host_key"
ssh-keygen -q -t ed25519 -N '' -f "$tmp/id"
cp "$tmp/id.pub" "$tmp/authorized_keys"
sport=$(free_port)
cat > "$tmp/sshd_config" <<CONF
Port $sport
ListenAddress 127.0.0.1
HostKey $tmp/host_key
AuthorizedKeysFile $tmp/authorized_keys
PidFile $tmp/sshd.pid
StrictModes no
UsePAM no
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
AllowTcpForwarding yes
CONF
"$SSHD" -D -f "$tmp/sshd_config" -E "$tmp/sshd.log" &
PIDS+=($!)
SSH=(ssh -p "$sport" -i "$tmp/id" -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null
     -o BatchMode=yes -o LogLevel=ERROR)
for ((i = 0; i < 50; i++)); do "${SSH[@]}" 127.0.0.1 true 2>/dev/null && break; sleep 0.1; done
"${SSH[@]}" 127.0.0.1 true || fail "private sshd does not accept the test key: $(cat "$tmp/sshd.log")"

wport=$(free_pair) || fail "no free port pair"
run=$tmp/run
"$B/tests/tui/fake_worker" "$run" 20 300 "tcp://127.0.0.1:$wport" > "$tmp/fw.out" 2>&1 &
PIDS+=($!)
for ((i = 0; i < 50; i++)); do [ -s "$tmp/fw.out" ] && break; sleep 0.1; done
ctl() { "$MOS" ctl --connect "tcp://127.0.0.1:$wport" "$@"; }
ctl status > /dev/null || fail "worker not answering on tcp://127.0.0.1:$wport"

# (1) the dashboard runs on the "remote" side, in the SSH session's terminal
tmux -S "$SOCK" -f /dev/null new-session -d -s dash -x 100 -y 30 \
    "TERM=tmux-256color ${SSH[*]} -t 127.0.0.1 env LANG=C.UTF-8 $DASH --run-dir $run; echo DASH-EXITED-\$?; sleep 600"
wait_for "loss [0-9]+\.[0-9]{4}" 15
wait_for "hb [0-9]s"
keys p; wait_for "pause: ok"
grep -q paused <<< "$(ctl status)" || fail "ssh -t: worker not paused"
keys p; wait_for "resume: ok"
keys q; wait_for "DASH-EXITED-0"
stop_tmux

# (2) a local dashboard through an ssh -L tunnel to the worker's loopback endpoints
lport=$(free_pair) || fail "no free local port pair"
"${SSH[@]}" -N -L "$lport:127.0.0.1:$wport" -L "$((lport + 1)):127.0.0.1:$((wport + 1))" \
    127.0.0.1 &
PIDS+=($!)
for ((i = 0; i < 50; i++)); do
    "$MOS" ctl --connect "tcp://127.0.0.1:$lport" --timeout 1 status > /dev/null 2>&1 && break
    sleep 0.2
done
start_dash 100 30 LANG=C.UTF-8 TERM=tmux-256color -- --connect "tcp://127.0.0.1:$lport"
wait_for "loss [0-9]+\.[0-9]{4}" 15
keys p; wait_for "pause: ok"
grep -q paused <<< "$(ctl status)" || fail "ssh -L: worker not paused"
keys p; wait_for "resume: ok"
keys q; wait_for "DASH-EXITED-0"
echo "dash_ssh: ok"
