#!/usr/bin/python3
"""How should the latency job correct this machine's drift? (issue 5; docs/search.md)

Usage: tests/bench/latency_drift.py [--mos PATH] [--seed N] [--csv FILE] [--save FILE]

Runs `mos bench drift` (about 3 minutes; nothing else should run on the machine, unless the
loaded case is what you want to see), or reads its CSV with --csv, and prints the measurement
noise (mean |second - first| / first over the 40 architectures measured twice, encoder +
decoder) that each way of correcting the runs gives:

  none          trimmed mean of all runs of the arch (no reference)
  round-scale   every round's runs times anchor / the middle reference's timing interpolated to
                the arch's place in the round, median of the rounds (mos before bbe5639)
  shift-<ref>   every run minus (the reference's mean timing over the block - its anchor),
                trimmed mean of all runs (mos's drift reference is shift-middle)

The anchor of each reference is its first timing. Python only reads numbers here.
"""
import argparse
import collections
import os
import statistics
import subprocess
import sys

REFS = {-1: "smallest", -2: "middle", -3: "largest"}
BLOCK, ROUNDS, ARCHS = 20, 5, 40


def trimmed_mean(v, trim=0.1):
    v = sorted(v)
    k = int(trim * len(v))
    return statistics.fmean(v[k:len(v) - k])


def load(lines):
    runs = collections.defaultdict(list)
    for line in lines:
        if line.startswith("pass"):
            continue
        p, b, r, who, part, _, ms = line.strip().split(",")
        runs[(int(p), int(b), int(r), int(who), part)].append(float(ms))
    return runs


def value(runs, means, anchors, method, p, i, part):
    b, j = divmod(i, BLOCK)
    rounds = [runs[(p, b, r, i, part)] for r in range(ROUNDS)]
    if method == "none":
        return trimmed_mean([t for rr in rounds for t in rr])
    if method == "round-scale":
        vals = []
        for r, rr in enumerate(rounds):
            f = (((j - r) % BLOCK) + 1) / (BLOCK + 1)
            ref = (1 - f) * means[(p, b, r, -2, part)] + f * means[(p, b, r + 1, -2, part)]
            vals.append(trimmed_mean([t * anchors[(-2, part)] / ref for t in rr]))
        return statistics.median(vals)
    whos = [w for w, name in REFS.items() if method in ("shift-" + name, "shift-all3")]
    drift = statistics.fmean(
        statistics.fmean(means[(p, b, r, w, part)] for r in range(ROUNDS + 1)) - anchors[(w, part)]
        for w in whos)
    return trimmed_mean([max(t - drift, 0.5 * t) for rr in rounds for t in rr])


def report(runs):
    means = {k: statistics.fmean(v) for k, v in runs.items()}
    anchors = {(w, part): means[(0, 0, 0, w, part)] for w in REFS for part in ("enc", "dec")}
    methods = ["none", "round-scale"] + ["shift-" + n for n in REFS.values()] + ["shift-all3"]
    print("| correction | noise (same 40 archs twice) |")
    print("|---|---|")
    for m in methods:
        tot = [[value(runs, means, anchors, m, p, i, "enc") + value(runs, means, anchors, m, p, i, "dec")
                for i in range(ARCHS)] for p in (0, 1)]
        noise = statistics.fmean(abs(b - a) / a for a, b in zip(*tot)) * 100
        print("| %s | %.2f %% |" % (m, noise))
    print("\nreferences' decoder timing per round (ms): mean, std over all rounds of both passes")
    for w, name in REFS.items():
        v = [means[k] for k in means if k[3] == w and k[4] == "dec"]
        print("  %-8s %.1f  %.1f" % (name, statistics.fmean(v), statistics.pstdev(v)))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--mos", default=os.path.join(os.environ.get("MOS_BUILD_ROOT", "build"),
                                                  "worker", "mos"))
    ap.add_argument("--seed", type=int, default=2, help="architecture draws")
    ap.add_argument("--csv", help="read this `mos bench drift` output instead of running it")
    ap.add_argument("--save", help="also write the runs' CSV here")
    o = ap.parse_args()
    if o.csv:
        lines = open(o.csv).read().splitlines()
    else:
        out = subprocess.run([o.mos, "bench", "drift", "--seed", str(o.seed)], check=True,
                             capture_output=True, text=True).stdout
        lines = out.splitlines()
        if o.save:
            open(o.save, "w").write(out)
    try:
        report(load(lines))
    except KeyError as e:
        sys.exit("latency_drift.py: the runs are incomplete (missing %s)" % (e,))


if __name__ == "__main__":
    main()
