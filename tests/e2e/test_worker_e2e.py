#!/usr/bin/python3
"""End-to-end test of the background worker with real processes (suite e2e): a worker trains a
tiny supernet; a client attached late gets the whole loss history from snapshot + updates;
pause/resume/target/checkpoint/extract/stop through `mos ctl`; a stalled subscriber does not hold
the worker back; kill -9 at random moments followed by --resume keeps the event log readable and
the sequence continuous; SIGTERM checkpoints and exits; `mos watch` replays a finished run; and
`mos run` without a terminal prints progress lines until the job ends. Every process started is
killed at the end, also on failure."""
import json
import os
import random
import signal
import struct
import subprocess
import sys
import time

import zmq

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from wkharness import Failure, check, log, read_events, run_main  # noqa: E402


def train_steps(records):
    return [b["body"]["step"] for t, b in records if t == "train"]


def late_attach(h, run):
    """A watcher attached after N steps sees steps 1..N in the snapshot and N+1.. as updates."""
    w = h.popen("watch", "--run-dir", run, "--jsonl", stdout=subprocess.PIPE, text=True)
    first = json.loads(w.stdout.readline())
    snap = first["snapshot"]
    lines = []
    t_end = time.time() + 3
    while time.time() < t_end:
        lines.append(json.loads(w.stdout.readline()))
    w.send_signal(signal.SIGINT)
    w.wait(10)
    check(w.returncode == 0, f"mos watch exits 0 on Ctrl-C (got {w.returncode})")
    series = {s["name"]: s for s in snap["series"]}
    check("train.loss" in series, f"snapshot has train.loss (has {list(series)})")
    seen = list(series["train.loss"]["step"])
    check(seen == list(range(1, len(seen) + 1)), "snapshot history starts at step 1, no holes")
    seqs = [m["seq"] for m in lines]
    check(seqs and seqs[0] == snap["seq"] + 1, f"first update follows the snapshot seq "
          f"({seqs[:1]} vs {snap['seq']})")
    check(seqs == list(range(seqs[0], seqs[0] + len(seqs))), "updates have no seq gap")
    seen += [m["body"]["step"] for m in lines if m["topic"] == "train"]
    check(seen == list(range(1, len(seen) + 1)), "snapshot + updates = every step, in order")
    # the same values as in the event log (f32 in the snapshot, f64 in the log)
    logged = {b["body"]["step"]: b["body"]["loss"] for t, b in read_events(run)[0]
              if t == "train"}
    for s, v in zip(series["train.loss"]["step"], series["train.loss"]["value"]):
        check(abs(logged[s] - v) <= 1e-5 * max(1.0, abs(v)), f"snapshot loss at step {s}")
    log(f"late attach: snapshot {len(series['train.loss']['step'])} steps + "
        f"{len(lines)} updates, full history {len(seen)} steps")


def wait_extract(run, n, timeout=60):
    """The n-th finished extract message in the event log."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        ends = [b["body"] for t, b in read_events(run)[0]
                if t == "extract" and b["body"]["status"] != "running"]
        if len(ends) >= n:
            return ends[n - 1]
        time.sleep(0.2)
    raise Failure(f"extraction {n} did not finish within {timeout} s")


def extract(h, run):
    """Extraction while the job is paused: a child `mos extract` writes subnets/<name>; a front
    index without a search fails with a reason; the job is not disturbed."""
    h.mos("ctl", "--run-dir", run, "extract", "largest", check_rc=0)
    e = wait_extract(run, 1)
    check(e["status"] == "done" and e["arch"] == "largest", f"extract done: {e}")
    check(os.path.exists(os.path.join(e["path"], "model.safetensors")),
          f"the extracted model is at {e['path']}")
    h.mos("ctl", "--run-dir", run, "extract", "--front", "0", check_rc=0)
    e = wait_extract(run, 2)
    check(e["status"] == "failed" and "worker.log" in e["error"],
          f"extract of a front point without a search failed with a reason: {e}")
    r = h.mos("ctl", "--run-dir", run, "extract", "no-such-arch-text", check_rc=1)
    check("bad_arg" in r.stderr, f"a malformed arch is refused at once: {r.stderr}")


def controls(h, run):
    h.mos("ctl", "--run-dir", run, "pause", check_rc=0)
    st = h.status(run)
    check(st["state"] == "paused" and st["paused"], f"paused ({st['state']})")
    time.sleep(0.5)
    s0 = h.status(run)["step"]
    time.sleep(1.5)
    check(h.status(run)["step"] == s0, "no update while paused")
    h.mos("ctl", "--run-dir", run, "pause", check_rc=0)          # idempotent
    h.mos("ctl", "--run-dir", run, "target", "80", check_rc=0)
    check(h.status(run).get("target_ms") == 80.0, "target set to 80 ms")
    extract(h, run)
    r = h.mos("ctl", "--run-dir", run, "target", "-3", check_rc=2)
    h.mos("ctl", "--run-dir", run, "checkpoint", check_rc=0)
    h.mos("ctl", "--run-dir", run, "resume", check_rc=0)
    h.wait_step(run, s0 + 5, timeout=30)
    deadline = time.time() + 20
    while time.time() < deadline:
        logs = [b["body"]["text"] for t, b in read_events(run)[0] if t == "log"]
        if any(l.startswith(f"checkpoint at step {s0}") or
               l.startswith(f"checkpoint at step {s0 + 1}") for l in logs):
            break
        time.sleep(0.2)
    else:
        raise Failure("the checkpoint command wrote a checkpoint at the next update")
    log(f"controls: pause held step {s0}, target, extract (done, failed, refused), checkpoint, "
        "resume")


def stalled_subscriber(h, run):
    """A SUB socket that never reads and a SIGSTOPped watcher: the worker keeps training and
    answering commands."""
    ep = json.load(open(os.path.join(run, "endpoints.json")))
    ctx = zmq.Context()
    sub = ctx.socket(zmq.SUB)
    sub.setsockopt(zmq.RCVHWM, 1)
    sub.setsockopt(zmq.SUBSCRIBE, b"")
    sub.connect(ep["pub"])
    w = h.popen("watch", "--run-dir", run, "--jsonl", stdout=subprocess.PIPE)
    time.sleep(1)
    w.send_signal(signal.SIGSTOP)
    try:
        s0 = h.status(run)["step"]
        time.sleep(3)
        t0 = time.time()
        s1 = h.status(run)["step"]
        check(time.time() - t0 < 1.0, "status answered within 1 s")
        check(s1 > s0 + 5, f"training went on with stalled subscribers ({s0} -> {s1})")
    finally:
        w.send_signal(signal.SIGCONT)
        w.kill()
        w.wait()
        sub.close(0)
        ctx.term()
    log(f"stalled subscribers: steps {s0} -> {s1} in 3 s")


def kill_resume(h, run, cfg, pid, rounds):
    for i in range(rounds):
        time.sleep(random.uniform(0.1, 2.0))
        h.kill9(pid)
        records, torn = read_events(run)
        check(records, "event log readable after kill -9")
        last_seq = records[-1][1]["seq"]
        r = h.mos("watch", "--run-dir", run, check_rc=0)   # replay: no worker alive
        check(r.stdout.count("\n") == len(records), "replay prints every complete record")
        pid = h.start_worker(run, cfg, resume=True)
        st = h.wait_step(run, 1, timeout=60)
        records2, _ = read_events(run)
        seqs = [b["seq"] for _, b in records2]
        check(seqs == list(range(1, len(seqs) + 1)), "seq continuous across the restart")
        check(records2[len(records)][1]["seq"] == last_seq + 1, "new records follow the old")
        log(f"kill -9 #{i + 1}: {len(records)} records (torn tail {torn} bytes), resumed "
            f"at step {st['step']}")
    return pid


def sigterm_stop(h, run, cfg, pid):
    os.kill(pid, signal.SIGTERM)
    check(h.wait_dead(pid, 30), "SIGTERM ends the worker")
    records, torn = read_events(run)
    check(torn == 0, "clean exit leaves no torn record")
    last = [b["body"] for t, b in records if t == "status"][-1]
    check(last["state"] == "done", f"final status after SIGTERM is done ({last['state']})")
    logs = [b["body"]["text"] for t, b in records if t == "log"]
    check(any(l.startswith("checkpoint at step") for l in logs[-5:]), "SIGTERM checkpointed")
    check(not os.path.exists(os.path.join(run, "endpoints.json")), "endpoints.json removed")
    pid = h.start_worker(run, cfg, resume=True)
    h.wait_step(run, 1)
    h.mos("ctl", "--run-dir", run, "stop", check_rc=0)
    check(h.wait_dead(pid, 30), "stop ends the worker")
    r = h.mos("ctl", "--run-dir", run, "status", check_rc=1)
    check("no worker is running" in r.stderr, f"ctl without a worker says so: {r.stderr}")
    log("SIGTERM and stop: checkpoint, final status done, clean exit")


def mos_run_lines(h):
    """`mos run` on a tiny layer-wise MoS config: progress lines on stdout, and the event log
    holds a gates message per validated group whose per-layer m-vectors sum to 1."""
    run, cfg = h.tiny_run("short", max_update=40, valid_every=20, save_every=20)
    with open(cfg, "a") as f:
        f.write("mos: layer\nmos-experts: 3\nrouter-hidden: 8\n")
    # --stage train: the full pipeline's latency stage times latency-archs subnets (minutes)
    r = h.mos("run", "--run-dir", run, "--config", cfg, "--stage", "train", timeout=300)
    check(r.returncode == 0, f"mos run exits 0: {r.returncode}\n{r.stdout}\n{r.stderr}")
    out = r.stdout
    check("train   step 40/40" in out and "valid" in out,
          "progress lines name training and validation")
    check(out.rstrip().splitlines()[-1].startswith("status  done done"),
          "the last line is the final status: done")
    gates = [b["body"] for t, b in read_events(run)[0] if t == "gates"]
    check(len(gates) == 6, f"one gates message per group and validation (got {len(gates)})")
    for g in gates:
        check(g["kind"] == "layer" and g["experts"] == 3 and g["step"] in (20, 40),
              f"gates header: {g['kind']} {g['experts']} step {g['step']}")
        for layer in g["layers"]:
            m = struct.unpack("<3f", layer["m"])
            check(abs(sum(m) - 1) < 1e-4 and min(m) >= 0, f"m-vector is a distribution: {m}")
        stacks = [(x["stack"], x["layer"]) for x in g["layers"]]
        check(stacks[:2] == [("enc", 0), ("enc", 1)] and stacks[2:] in
              ([("dec", 0)], [("dec", 0), ("dec", 1)]),
              f"one record per active layer (2 encoder, 1-2 decoder): {stacks}")
    log(f"mos run without a terminal: {out.count(chr(10))} lines, exit 0; "
        f"{len(gates)} gates messages")


def security(h):
    """Non-loopback bind needs CURVE; with CURVE only allow-listed client keys get answers."""
    run, cfg = h.tiny_run("secure", max_update=100000)
    r = h.mos("worker", "--detach", "--run-dir", run, "--stage", "train", "--config", cfg,
              "--bind", "tcp://0.0.0.0", check_rc=1)
    check("CURVE" in r.stderr or "curve" in r.stderr, f"open bind refused: {r.stderr}")
    keys = os.path.join(h.tmp, "keys")
    os.makedirs(keys)
    for name in ("server", "alice", "mallory"):
        h.mos("keygen", os.path.join(keys, name), check_rc=0)
    with open(os.path.join(keys, "authorized_keys"), "w") as f:
        f.write(open(os.path.join(keys, "alice.pub")).read())
    pid = h.start_worker(run, cfg, extra=("--bind", "tcp://0.0.0.0", "--curve", keys))
    alice = ("--key", os.path.join(keys, "alice.key"))
    r = h.mos("ctl", "--run-dir", run, *alice, "status", check_rc=0)
    r = h.mos("ctl", "--run-dir", run, "--key", os.path.join(keys, "mallory.key"),
              "--timeout", "2", "status", check_rc=1)
    check("no reply" in r.stderr, f"a key not in authorized_keys gets no answer: {r.stderr}")
    r = h.mos("ctl", "--run-dir", run, "status", check_rc=1)
    check("--key" in r.stderr, f"a plain client is told the worker uses CURVE: {r.stderr}")
    h.mos("ctl", "--run-dir", run, *alice, "stop", check_rc=0)
    check(h.wait_dead(pid, 30), "stop over CURVE ends the worker")
    log("security: open bind refused without CURVE; allow-listed key answered, other refused")


def no_mos_gates(run):
    """A plain supernet (mos none) tells clients it has no routers: every gates message of the
    run says 1 expert, kind none, no layers (one per start of the train job)."""
    gates = [b["body"] for t, b in read_events(run)[0] if t == "gates"]
    check(len(gates) >= 1, "a plain supernet's run announces it has no MoS")
    for g in gates:
        check(g["experts"] == 1 and g["kind"] == "none" and g["layers"] == [],
              f"no-MoS gates message: {g['kind']} {g['experts']} {len(g['layers'])} layers")
    log(f"no-MoS gates: {len(gates)} message(s)")


def nested_run_dir(h):
    """`mos run` creates a run directory whose parents do not exist yet (runs/default in a
    fresh clone): the worker starts there and fails only on what is really missing (data)."""
    run = os.path.join(h.tmp, "runs", "nested", "default")
    r = h.mos("run", "--run-dir", run, "--stage", "train", timeout=60)
    check(os.path.isdir(run), f"the run directory was created: {r.stderr}")
    check("cannot create the run directory" not in r.stdout + r.stderr,
          f"no run-directory error: {r.stdout}{r.stderr}")
    wlog = open(os.path.join(run, "worker.log")).read()
    check(r.returncode == 1 and "data" in wlog,
          f"the train stage then fails on the missing data: {r.returncode} {wlog}")
    log("mos run in a nested new run directory: created, then the missing data is named")


def body(h):
    random.seed(int(os.environ.get("MOS_E2E_SEED", "1")))
    # save-every 100 (about 2 checkpoints a second): the kill -9 stress with a checkpoint every
    # few milliseconds is the benchmark's job (tests/bench/bench_worker.sh)
    run, cfg = h.tiny_run("run", max_update=100000, valid_every=40, save_every=100)
    pid = h.start_worker(run, cfg)
    h.wait_step(run, 30)
    late_attach(h, run)
    controls(h, run)
    stalled_subscriber(h, run)
    pid = kill_resume(h, run, cfg, pid, rounds=3)
    sigterm_stop(h, run, cfg, pid)
    no_mos_gates(run)
    nested_run_dir(h)
    security(h)
    mos_run_lines(h)


def train_stage_built():
    """The worker's train stage exists once core/train.c is in the build (a stage missing from
    the build is refused before anything is created)."""
    r = subprocess.run([os.path.join(os.environ.get("MOS_BUILD_ROOT", "build"), "worker", "mos"),
                        "worker", "--run-dir", "/nonexistent/mos-probe", "--stage", "train"],
                       capture_output=True, text=True, timeout=30)
    return "not a stage of this build" not in r.stderr


if __name__ == "__main__":
    if not train_stage_built():
        print("SKIP: this build has no train stage yet (core/train.c)")
        sys.exit(77)
    sys.exit(run_main("e2e", body))
