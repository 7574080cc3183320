"""Shared helpers for the worker's end-to-end test and benchmark: a tiny run directory, the mos
command, worker start/kill/wait, status polling, and the event log reader. Every process started
through a Harness is killed (SIGKILL) when the harness closes, also on failure or SIGTERM."""
import json
import os
import signal
import subprocess
import sys
import tempfile
import time

import msgpack

BUILD = os.environ.get("MOS_BUILD_ROOT", os.path.join(os.path.dirname(__file__), "../../build"))
MOS = os.path.join(BUILD, "worker", "mos")
TINY = os.path.join(BUILD, "tests", "e2e", "tiny_run")

TINY_CONFIG = """\
encoder-embed-dim: 32
decoder-embed-dim: 32
encoder-ffn-embed-dim: 64
decoder-ffn-embed-dim: 64
encoder-layers: 2
decoder-layers: 2
encoder-attention-heads: 4
decoder-attention-heads: 4
qkv-dim: 32
encoder-embed-choice: [32, 16]
decoder-embed-choice: [32, 16]
encoder-ffn-embed-dim-choice: [64, 32]
decoder-ffn-embed-dim-choice: [64, 32]
encoder-layer-num-choice: [2]
decoder-layer-num-choice: [2, 1]
encoder-self-attention-heads-choice: [4, 2]
decoder-self-attention-heads-choice: [4, 2]
decoder-ende-attention-heads-choice: [4, 2]
decoder-arbitrary-ende-attn-choice: [-1, 1]
max-positions: 32
max-tokens: 256
update-freq: 1
max-update: {max_update}
warmup-updates: 10
max-lr: 0.005
valid-every: {valid_every}
save-every: {save_every}
valid-sentences: 0
seed: 3
threads: 1
"""


class Failure(Exception):
    pass


def check(cond, what):
    if not cond:
        raise Failure(what)


def log(*a):
    print(*a, flush=True)


def _on_term(sig, frame):
    raise SystemExit(f"terminated by signal {sig}")


class Harness:
    def __init__(self, name):
        signal.signal(signal.SIGTERM, _on_term)
        self.tmp = tempfile.mkdtemp(prefix=f"mos-{name}-")
        self.pids = set()
        self.procs = []

    # ---- setup ----
    def tiny_run(self, name, max_update, valid_every=50, save_every=50, pairs=400):
        run = os.path.join(self.tmp, name)
        subprocess.run([TINY, run, str(pairs), "40", "40", "7"], check=True)
        cfg = os.path.join(self.tmp, name + ".yml")
        with open(cfg, "w") as f:
            f.write(TINY_CONFIG.format(max_update=max_update, valid_every=valid_every,
                                       save_every=save_every))
        return run, cfg

    # ---- processes ----
    def mos(self, *args, timeout=30, check_rc=None):
        r = subprocess.run([MOS, *args], capture_output=True, text=True, timeout=timeout)
        if check_rc is not None and r.returncode != check_rc:
            raise Failure(f"mos {' '.join(args)}: exit {r.returncode}, expected {check_rc}:"
                          f"\n{r.stdout}{r.stderr}")
        return r

    def popen(self, *args, **kw):
        p = subprocess.Popen([MOS, *args], **kw)
        self.procs.append(p)
        return p

    def start_worker(self, run, cfg=None, resume=False, stage="train", extra=()):
        args = ["worker", "--detach", "--run-dir", run, "--stage", stage]
        if cfg:
            args += ["--config", cfg]
        if resume:
            args.append("--resume")
        r = self.mos(*args, *extra, check_rc=0)
        pid = int(r.stdout.strip())
        self.pids.add(pid)
        check(os.path.exists(os.path.join(run, "endpoints.json")) or not self.alive(pid),
              "endpoints.json written while the worker runs")
        return pid

    def alive(self, pid):
        """False once every thread of pid has exited (its files and locks are released then);
        a zombie whose other threads are gone counts as dead (init may reap it late)."""
        try:
            tasks = os.listdir(f"/proc/{pid}/task")
        except OSError:
            return False
        for t in tasks:
            try:
                with open(f"/proc/{pid}/task/{t}/stat") as f:
                    if f.read().split(")")[-1].split()[0] not in ("Z", "X"):
                        return True
            except OSError:
                pass
        return False

    def wait_dead(self, pid, timeout=20):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if not self.alive(pid):
                self.pids.discard(pid)
                return True
            time.sleep(0.05)
        return False

    def kill9(self, pid):
        os.kill(pid, signal.SIGKILL)
        check(self.wait_dead(pid, 10), f"worker {pid} died after kill -9")

    # ---- queries ----
    def status(self, run, timeout=5):
        r = self.mos("ctl", "--run-dir", run, "--timeout", str(timeout), "--json", "status",
                     timeout=timeout + 10)
        if r.returncode != 0:
            raise Failure(f"mos ctl status: exit {r.returncode}: {r.stderr}{log_tail(run)}")
        return json.loads(r.stdout)["status"]

    def wait_step(self, run, step, timeout=120):
        deadline = time.time() + timeout
        st = None
        while time.time() < deadline:
            st = self.status(run)
            if st["step"] >= step and st["phase"] == "train":
                return st
            time.sleep(0.2)
        raise Failure(f"training did not reach step {step} within {timeout} s (last: {st})\n"
                      f"{log_tail(run)}")

    def close(self, keep=False):
        for p in self.procs:
            if p.poll() is None:
                p.kill()
                p.wait()
        for pid in list(self.pids):
            try:
                os.kill(pid, signal.SIGCONT)
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        if keep:
            log(f"kept {self.tmp} for inspection")
        else:
            subprocess.run(["rm", "-rf", self.tmp])


def log_tail(run, n=4):
    """The last lines of run/worker.log, for failure messages."""
    try:
        return "".join(open(os.path.join(run, "worker.log")).readlines()[-n:])
    except OSError:
        return "(no worker.log)"


def read_events(run):
    """Every complete record of run/events.msgpack as (topic, body) pairs; a torn tail is
    ignored, as the worker does. Returns (records, torn_bytes)."""
    data = open(os.path.join(run, "events.msgpack"), "rb").read()
    u = msgpack.Unpacker(raw=False, strict_map_key=True)
    u.feed(data)
    out, consumed = [], 0
    while True:
        try:
            topic = u.unpack()
            body = u.unpack()
        except msgpack.OutOfData:
            break
        out.append((topic, body))
        consumed = u.tell()
    return out, len(data) - consumed


def run_main(name, body):
    h = Harness(name)
    failed = True
    try:
        body(h)
        failed = False
    except Failure as e:
        log(f"FAIL: {e}")
        return 1
    finally:
        h.close(keep=failed and os.environ.get("MOS_KEEP_TMP") == "1")
    log("PASS")
    return 0
