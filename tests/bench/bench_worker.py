#!/usr/bin/python3
"""Worker benchmark (not part of the test command; run tests/bench/bench_worker.sh):
1. kill -9 / --resume cycles (default 20): after each kill the event log must still read (a torn
   tail is allowed and dropped), seq must continue, and training must continue from the last
   checkpoint; reports the restart time (start command to first new update) per cycle.
2. Slowdown with a stalled dashboard: the same tiny training (N updates) with no subscriber and
   with two stalled ones (a SUB socket that never reads, and a SIGSTOPped `mos watch`; with the
   default N their queues overflow the high-water mark, so the PUB socket drops for them),
   alternated A B A B ...; reports seconds per update from the event log's timestamps, median
   of each, and the relative slowdown (target: <= 1 %)."""
import argparse
import json
import os
import random
import re
import signal
import statistics
import subprocess
import sys
import time

import zmq

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "e2e"))
from wkharness import check, log, log_tail, read_events, run_main  # noqa: E402


def kill_cycles(h, cycles):
    run, cfg = h.tiny_run("kill", max_update=1000000, valid_every=40, save_every=20)
    pid = h.start_worker(run, cfg)
    h.wait_step(run, 20)
    restart = []
    for i in range(cycles):
        time.sleep(random.uniform(0.05, 3.0))
        h.kill9(pid)
        records, torn = read_events(run)
        seqs = [b["seq"] for _, b in records]
        check(seqs == list(range(1, len(seqs) + 1)), f"cycle {i + 1}: log readable, seq 1..n")
        n_train = sum(1 for t, _ in records if t == "train")
        t0 = time.time()
        pid = h.start_worker(run, cfg, resume=True)
        while True:   # first new update after the restart
            recs, _ = read_events(run)
            if sum(1 for t, _ in recs if t == "train") > n_train:
                break
            check(time.time() - t0 < 120 and h.alive(pid),
                  f"cycle {i + 1}: training continues after the restart:\n{log_tail(run)}")
            time.sleep(0.02)
        restart.append(time.time() - t0)
        log(f"cycle {i + 1:2d}: {len(records)} records, torn tail {torn:4d} bytes, "
            f"restart to first update {restart[-1]:.2f} s")
    h.mos("ctl", "--run-dir", run, "stop", check_rc=0)
    h.wait_dead(pid, 60)
    log(f"kill -9/resume: {cycles} cycles ok; restart median {statistics.median(restart):.2f} s,"
        f" max {max(restart):.2f} s")


def timed_training(h, name, updates, stalled):
    run, cfg = h.tiny_run(name, max_update=updates, valid_every=updates, save_every=updates)
    pid = h.start_worker(run, cfg)
    ctx = sub = w = None
    if stalled:
        ep = json.load(open(os.path.join(run, "endpoints.json")))
        ctx = zmq.Context()
        sub = ctx.socket(zmq.SUB)
        sub.setsockopt(zmq.RCVHWM, 1)
        sub.setsockopt(zmq.SUBSCRIBE, b"")
        sub.connect(ep["pub"])
        w = h.popen("watch", "--run-dir", run, "--jsonl", stdout=subprocess.PIPE)
        time.sleep(0.5)
        w.send_signal(signal.SIGSTOP)
    check(h.wait_dead(pid, 3600), f"{name}: training ends")
    if stalled:
        w.send_signal(signal.SIGCONT)
        w.kill()
        w.wait()
        sub.close(0)
        ctx.term()
    ts = [b["ts"] for t, b in read_events(run)[0] if t == "train"]
    check(len(ts) == updates, f"{name}: {updates} updates logged ({len(ts)})")
    cpu = [l for l in open(os.path.join(run, "worker.log")) if " cpu: job thread " in l]
    check(cpu, f"{name}: worker.log reports the CPU split")
    m = re.search(r"job thread ([0-9.]+) s, everything else ([0-9.]+) s", cpu[-1])
    job_s, other_s = float(m.group(1)), float(m.group(2))
    # skip the first 10 updates (warm-up of caches and allocator)
    return (ts[-1] - ts[10]) / (len(ts) - 11), other_s / job_s


def slowdown(h, updates, pairs):
    free, stalled, free_cpu, stalled_cpu = [], [], [], []
    for i in range(pairs):
        t, c = timed_training(h, f"free{i}", updates, False)
        free.append(t), free_cpu.append(c)
        t, c = timed_training(h, f"stalled{i}", updates, True)
        stalled.append(t), stalled_cpu.append(c)
        log(f"pair {i + 1}: {1e3 * free[-1]:.3f} ms/update free, {1e3 * stalled[-1]:.3f} "
            f"ms/update with stalled subscribers; CPU besides the job {100 * free_cpu[-1]:.2f} % "
            f"vs {100 * stalled_cpu[-1]:.2f} %")
    a, b = statistics.median(free), statistics.median(stalled)
    log(f"stalled dashboard: median {1e3 * a:.3f} -> {1e3 * b:.3f} ms/update, "
        f"wall-clock slowdown {100 * (b / a - 1):+.2f} % ({pairs} pairs of {updates} updates)")
    ca, cb = statistics.median(free_cpu), statistics.median(stalled_cpu)
    log(f"CPU besides the job thread (publishing, log, commands, ZeroMQ threads), in % of the "
        f"job's CPU: {100 * ca:.2f} % free, {100 * cb:.2f} % stalled: the stalled dashboard "
        f"adds {100 * (cb - ca):+.2f} points")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cycles", type=int, default=20)
    # > 10,000 messages per run, so that a stalled subscriber overflows the PUB socket's
    # high-water mark (10,000 messages) and the worker runs in the dropping regime
    ap.add_argument("--updates", type=int, default=12000)
    ap.add_argument("--pairs", type=int, default=3)
    args = ap.parse_args()
    random.seed(1)

    def body(h):
        if args.cycles > 0:
            kill_cycles(h, args.cycles)
        if args.pairs > 0:
            slowdown(h, args.updates, args.pairs)
    return run_main("bench", body)


if __name__ == "__main__":
    sys.exit(main())
