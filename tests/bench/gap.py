#!/usr/bin/python3
"""Does MoS shrink the supernet-standalone gap? (issue 4; docs/results.md)

Usage: tests/bench/gap.py --data DIR [--quick] [--out DIR] [--mos PATH] [--seeds N] [--bleu N]
                          [--updates N] [--jobs N] [--router KEY=VALUE ...] [--methods LIST]

DIR is a prepared data/ folder (`mos prepare`). The script draws the architectures once with a
fixed seed, trains with the same updates and tokens per update: the plain supernet (HAT
sampling), the plain supernet with the sandwich rule, layer-wise MoS and neuron-wise MoS (both
with the sandwich rule, as the MoS paper), two controls (neuron-wise and layer-wise MoS whose
router sees a constant input), each with --seeds seeds; and every architecture standalone from
scratch. Then it evaluates each architecture's validation NLL per token with inherited weights
from every supernet and standalone (`mos eval --no-bleu`; optionally test BLEU on the first
--bleu pairs), and prints per method: mean gap (inherited - standalone NLL), MAE, Kendall tau,
win rates (paired per arch) against HAT and against the sandwich control, compute, and how much
the MoS routers' outputs vary across the architectures (read from the checkpoints).

Standalone training uses a space whose choice lists hold only that architecture's values (the
training loop has no fixed-arch mode), so the architectures use one FFN dim and one head count
per stack (all layers alike) and one arbitrary-attention code; they are spread over decoder
depths. Python is used here only to drive `mos` and do the statistics.

--router KEY=VALUE (repeatable) sets a router key (router-input, router-lr-scale,
router-init-scale, router-hidden, mos-experts) for the MoS runs (default: mos's defaults,
router-input centred and router-lr-scale 3; the MoS paper's reference setting is
--router router-input=raw --router router-lr-scale=1). The MoS run folders are named after these
keys, so runs with other router settings in the same --out folder are kept, and the plain,
sandwich and standalone runs (which do not depend on them) are reused.

--methods hat,sandwich,layer (a comma-separated subset of hat, sandwich, layer, neuron,
neuron-const, layer-const; default all) trains and reports only those supernets (standalone
runs always). Evaluations are kept in each run folder (gap-eval/), keyed by the checkpoint, the arch, the
split and the sentence counts, so a rerun over finished runs only reads them back.
"""
import argparse
import concurrent.futures
import hashlib
import itertools
import json
import math
import os
import random
import re
import struct
import subprocess
import sys
import threading
import time

SPACES = {
    # the suggested small space for the full experiment; the budgets are sized for
    # --jobs 2 on a 2-core machine: full ~70 min, quick ~8 min (docs/results.md)
    "full": dict(embed=[128, 96], ffn=[512, 384, 256], enc_layers=3, dec_layers=[1, 2, 3],
                 heads=[4, 2], qkv=128, max_tokens=1024, max_update=1000, warmup=100,
                 valid_sentences=500, narch=9),
    "quick": dict(embed=[64, 48], ffn=[256, 128], enc_layers=2, dec_layers=[1, 2],
                  heads=[4, 2], qkv=64, max_tokens=512, max_update=500, warmup=100,
                  valid_sentences=200, narch=8),
}
ROUTER_KEYS = ("router-input", "router-lr-scale", "router-init-scale", "router-hidden",
               "mos-experts")
# mos's defaults for MoS (core/config.c); written into every MoS config and folder name, so a
# folder always says which router settings trained it.
ROUTER_DEFAULTS = {"router-input": "centred", "router-lr-scale": "3"}
METHODS = [  # name, mos, sample, const-input
    ("hat", "none", "uniform", False),
    ("sandwich", "none", "sandwich", False),
    ("layer", "layer", "sandwich", False),
    ("neuron", "neuron", "sandwich", False),
    ("neuron-const", "neuron", "sandwich", True),
    ("layer-const", "layer", "sandwich", True),
]


def draw_archs(sp, n, seed):
    r = random.Random(seed)
    out = []
    for k in range(n):
        dl = sp["dec_layers"][k % len(sp["dec_layers"])]
        a = dict(ee=r.choice(sp["embed"]), de=r.choice(sp["embed"]), el=sp["enc_layers"], dl=dl,
                 ef=r.choice(sp["ffn"]), df=r.choice(sp["ffn"]), eh=r.choice(sp["heads"]),
                 dh=r.choice(sp["heads"]), ch=r.choice(sp["heads"]),
                 arb=r.choice([c for c in (-1, 1, 2) if c <= sp["enc_layers"] - 1]))
        out.append(a)
    return out


def arch_text(a):
    rep = lambda v, n: ",".join([str(v)] * n)
    return ("enc=%dx%d:ffn=%s:h=%s/dec=%dx%d:ffn=%s:sh=%s:eh=%s:arb=%s"
            % (a["ee"], a["el"], rep(a["ef"], a["el"]), rep(a["eh"], a["el"]), a["de"], a["dl"],
               rep(a["df"], a["dl"]), rep(a["dh"], a["dl"]), rep(a["ch"], a["dl"]),
               rep(a["arb"], a["dl"])))


def space_yaml(sp):
    h = max(sp["heads"])
    return {"encoder-embed-dim": max(sp["embed"]), "decoder-embed-dim": max(sp["embed"]),
            "encoder-ffn-embed-dim": max(sp["ffn"]), "decoder-ffn-embed-dim": max(sp["ffn"]),
            "encoder-layers": sp["enc_layers"], "decoder-layers": max(sp["dec_layers"]),
            "encoder-attention-heads": h, "decoder-attention-heads": h, "qkv-dim": sp["qkv"],
            "encoder-embed-choice": sp["embed"], "decoder-embed-choice": sp["embed"],
            "encoder-ffn-embed-dim-choice": sp["ffn"], "decoder-ffn-embed-dim-choice": sp["ffn"],
            "encoder-layer-num-choice": [sp["enc_layers"]],
            "decoder-layer-num-choice": sp["dec_layers"],
            "encoder-self-attention-heads-choice": sp["heads"],
            "decoder-self-attention-heads-choice": sp["heads"],
            "decoder-ende-attention-heads-choice": sp["heads"],
            "decoder-arbitrary-ende-attn-choice": [c for c in (-1, 1, 2)
                                                   if c <= sp["enc_layers"] - 1]}


def arch_space_yaml(sp, a):
    """A space holding only arch a (standalone training)."""
    return {"encoder-embed-dim": a["ee"], "decoder-embed-dim": a["de"],
            "encoder-ffn-embed-dim": a["ef"], "decoder-ffn-embed-dim": a["df"],
            "encoder-layers": a["el"], "decoder-layers": a["dl"],
            "encoder-attention-heads": max(a["eh"], 1), "decoder-attention-heads": max(a["dh"],
                                                                                        a["ch"]),
            "qkv-dim": sp["qkv"], "encoder-embed-choice": [a["ee"]],
            "decoder-embed-choice": [a["de"]], "encoder-ffn-embed-dim-choice": [a["ef"]],
            "decoder-ffn-embed-dim-choice": [a["df"]], "encoder-layer-num-choice": [a["el"]],
            "decoder-layer-num-choice": [a["dl"]],
            "encoder-self-attention-heads-choice": [a["eh"]],
            "decoder-self-attention-heads-choice": [a["dh"]],
            "decoder-ende-attention-heads-choice": [a["ch"]],
            "decoder-arbitrary-ende-attn-choice": [a["arb"]]}


def write_config(path, keys):
    with open(path, "w") as f:
        for k, v in keys.items():
            if isinstance(v, bool):
                v = "true" if v else "false"
            elif isinstance(v, list):
                v = "[" + ", ".join(str(x) for x in v) + "]"
            f.write("%s: %s\n" % (k, v))


def common_keys(sp, seed, threads):
    return {"max-tokens": sp["max_tokens"], "update-freq": 1, "max-update": sp["max_update"],
            "warmup-updates": sp["warmup"], "max-lr": 0.002, "max-positions": 64,
            "valid-every": sp["max_update"], "save-every": sp["max_update"],
            "valid-sentences": 100, "valid-bleu": 0, "seed": seed, "threads": threads,
            "pre-ln": True, "dropout": 0.0, "attention-dropout": 0.0}


def run_dir(out, name, data):
    d = os.path.join(out, name)
    os.makedirs(d, exist_ok=True)
    link = os.path.join(d, "data")
    if not os.path.exists(link):
        os.symlink(os.path.abspath(data), link)
    return d


def train(mos, d, cfg, log):
    done = os.path.join(d, "checkpoints", "last.json")
    if os.path.exists(done):   # resumable: a finished run is reused
        return json.load(open(done))
    t0 = time.time()
    with open(os.path.join(d, "train.log"), "w") as f:
        subprocess.run([mos, "train", "--run-dir", d, "--config", cfg, "--quiet"], check=True,
                       stdout=f, stderr=subprocess.STDOUT)
    info = json.load(open(done))
    log("  trained %s in %.0f s (%d updates, %s tokens)" % (d, time.time() - t0, info["step"],
                                                             info.get("tokens")))
    return info


def evaluate(mos, d, arch, sp, bleu):
    """Valid NLL (and test BLEU on the first `bleu` pairs) of arch in run d, read back from
    d/gap-eval/ when this checkpoint was already evaluated so."""
    ckpt = os.stat(os.path.join(d, "checkpoints", "last.safetensors"))
    key = "%d/%d/%s/%d/%d" % (ckpt.st_mtime_ns, ckpt.st_size, arch, sp["valid_sentences"], bleu)
    cache = os.path.join(d, "gap-eval", hashlib.sha1(key.encode()).hexdigest() + ".json")
    if os.path.exists(cache):
        got = json.load(open(cache))
        return got["nll"], got["bleu"]
    nll, b = run_eval(mos, d, arch, sp, bleu)
    os.makedirs(os.path.dirname(cache), exist_ok=True)
    tmp = "%s.%d.%d.tmp" % (cache, os.getpid(), threading.get_ident())   # two gap.py at once
    with open(tmp, "w") as f:
        json.dump({"key": key, "nll": nll, "bleu": b}, f)
    os.replace(tmp, cache)
    return nll, b


def run_eval(mos, d, arch, sp, bleu):
    args = [mos, "eval", "--run-dir", d, "--arch", arch, "--split", "valid",
            "--max-sentences", str(sp["valid_sentences"]), "--no-bleu", "--threads", "1"]
    out = subprocess.run(args, check=True, capture_output=True, text=True).stdout
    nll = float(re.search(r"nll ([0-9.]+)", out).group(1))
    b = None
    if bleu:
        out = subprocess.run([mos, "eval", "--run-dir", d, "--arch", arch, "--split", "test",
                              "--max-sentences", str(bleu), "--beam", "1", "--threads", "1"],
                             check=True, capture_output=True, text=True).stdout
        b = float(re.search(r"BLEU = ([0-9.]+)", out).group(1))
    return nll, b


def train_and_evaluate(o, jobs, texts, sp, log):
    """Trains every job, o.jobs at a time, and evaluates each as soon as its training is done
    (a supernet on every arch, a standalone run on its own), so no core idles while the last
    trainings run. Returns the training infos (job order), the evaluations (job, arch text)
    and their scores (same order)."""
    pool = concurrent.futures.ThreadPoolExecutor(max_workers=o.jobs)
    trains = [pool.submit(train, o.mos, j[1], j[2], log) for j in jobs]
    job_of = dict(zip(trains, jobs))
    pending = {}
    for fut in concurrent.futures.as_completed(trains):
        j = job_of[fut]
        fut.result()   # a failed training stops the experiment here
        for t in (texts if j[3] is not None else [texts[j[4]]]):
            pending[(j[0], t)] = pool.submit(evaluate, o.mos, j[1], t, sp, o.bleu)
    evals = [(j, t) for j in jobs if j[3] is not None for t in texts] + \
        [(j, texts[j[4]]) for j in jobs if j[3] is None]
    scores = [pending[(j[0], t)].result() for j, t in evals]
    pool.shutdown()
    return [f.result() for f in trains], evals, scores


def kendall(x, y):
    c = d = 0
    for i, j in itertools.combinations(range(len(x)), 2):
        s = (x[i] - x[j]) * (y[i] - y[j])
        c += s > 0
        d += s < 0
    return (c - d) / max(1, c + d)


def read_tensors(path):
    with open(path, "rb") as f:
        raw = f.read()
    (hl,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + hl])
    header.pop("__metadata__", None)
    out = {}
    for name, t in header.items():
        if "router" not in name or name.startswith("adam"):
            continue
        a, b = t["data_offsets"]
        vals = struct.unpack("<%df" % ((b - a) // 4), raw[8 + hl + a:8 + hl + b])
        shape = t["shape"]
        out[name] = [list(vals[r * shape[1]:(r + 1) * shape[1]]) for r in range(shape[0])] \
            if len(shape) == 2 else list(vals)
    return out


ARB_COUNT = {-1: 1, 1: 2, 2: 3}


def features(a, sp, mode="raw"):
    """The router input of arch a (core/mos.c mos_router_input): raw = feature / space max,
    centred = [-1, 1] over the space's choices (0 for a feature with one choice)."""
    arbs = [c for c in (-1, 1, 2) if c <= sp["enc_layers"] - 1]
    raw = [a["ee"], a["el"], a["ef"], a["eh"], a["de"], a["dl"], a["df"], a["dh"], a["ch"],
           ARB_COUNT[a["arb"]]]
    if mode == "raw":
        norms = [max(sp["embed"]), sp["enc_layers"], max(sp["ffn"]), max(sp["heads"]),
                 max(sp["embed"]), max(sp["dec_layers"]), max(sp["ffn"]), max(sp["heads"]),
                 max(sp["heads"]), max(arbs)]
        return [r / n for r, n in zip(raw, norms)]
    ch = [sp["embed"], [sp["enc_layers"]], sp["ffn"], sp["heads"], sp["embed"],
          sp["dec_layers"], sp["ffn"], sp["heads"], sp["heads"], [ARB_COUNT[c] for c in arbs]]
    return [0.0 if max(c) == min(c) else 2.0 * (r - min(c)) / (max(c) - min(c)) - 1.0
            for r, c in zip(raw, ch)]


def router_spread(ckpt, archs, sp, kind, m, rkeys, const):
    """Over layers (and rows): the std across archs of the router's first-expert share (mean),
    and the mean |share - 1/m| (how far the gates are from uniform). const: the router sees 0.5
    in every feature (router-const-input), so the spread is 0 by construction."""
    scale = float(rkeys.get("router-lr-scale", 1))   # the router computes with scale * stored
    mode = rkeys.get("router-input", "raw")
    T = {n: [[scale * v for v in r] if isinstance(r, list) else scale * r for r in t]
         for n, t in read_tensors(ckpt).items()}
    prefixes = sorted({re.match(r"(.*layers\.\d+)\.", n).group(1) for n in T})
    spreads, off = [], []
    for pre in prefixes:
        name = pre + (".router" if kind == "layer" else ".fc1_router")
        w1, b1, w2, b2 = (T[name + s] for s in (".0.weight", ".0.bias", ".2.weight", ".2.bias"))
        rows = m if kind == "layer" else m * min(sp["ffn"])
        shares = []
        for a in archs:
            x = [0.5] * 10 if const else features(a, sp, mode)
            h = [max(0.0, sum(w * v for w, v in zip(w1[k], x)) + b1[k]) for k in range(len(b1))]
            z = [sum(w * v for w, v in zip(w2[r], h)) + b2[r] for r in range(rows)]
            sh = []
            for j in range(0, rows, m):
                e = [math.exp(v - max(z[j:j + m])) for v in z[j:j + m]]
                sh.append(e[0] / sum(e))
            shares.append(sh)
        for j in range(len(shares[0])):
            col = [s[j] for s in shares]
            mu = sum(col) / len(col)
            spreads.append(math.sqrt(sum((c - mu) ** 2 for c in col) / len(col)))
            off.append(sum(abs(c - 1.0 / m) for c in col) / len(col))
    return sum(spreads) / len(spreads), sum(off) / len(off)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", required=True, help="a prepared data/ folder (mos prepare)")
    ap.add_argument("--quick", action="store_true", help="tiny space and budget (~10 min)")
    ap.add_argument("--out", default=None, help="work folder (default runs/gap[-quick])")
    ap.add_argument("--mos", default=os.path.join(os.environ.get("MOS_BUILD_ROOT", "build"),
                                                  "worker", "mos"))
    ap.add_argument("--seeds", type=int, default=None, help="seeds per supernet (default 2)")
    ap.add_argument("--bleu", type=int, default=0, help="test pairs for BLEU (0: NLL only)")
    ap.add_argument("--threads", type=int, default=1, help="compute threads per training run")
    ap.add_argument("--jobs", type=int, default=2,
                    help="training runs and evaluations at once (default 2: one per core)")
    ap.add_argument("--updates", type=int, default=None,
                    help="override max-update (warmup a quarter of it, at most 100)")
    ap.add_argument("--router", action="append", default=[], metavar="KEY=VALUE",
                    help="router key for the MoS runs (repeatable), e.g. router-lr-scale=10")
    ap.add_argument("--methods", default=",".join(m[0] for m in METHODS),
                    help="comma-separated supernets to train and report (default: all)")
    o = ap.parse_args()
    names = [m[0] for m in METHODS]
    o.methods = [m.strip() for m in o.methods.split(",") if m.strip()]
    for m in o.methods:
        if m not in names:
            ap.error("--methods: unknown method %r (expected some of %s)" % (m, ", ".join(names)))
    if not o.methods:
        ap.error("--methods: no method given (expected some of %s)" % ", ".join(names))
    o.methods = [m for m in METHODS if m[0] in o.methods]   # METHODS order
    rkeys = dict(ROUTER_DEFAULTS)
    for kv in o.router:
        key, eq, val = kv.partition("=")
        if not eq or key not in ROUTER_KEYS:
            ap.error("--router %s: expected KEY=VALUE with KEY one of %s"
                     % (kv, ", ".join(ROUTER_KEYS)))
        rkeys[key] = val
    suffix = "".join(".%s=%s" % (key, rkeys[key]) for key in sorted(rkeys))
    sp = dict(SPACES["quick" if o.quick else "full"])
    if o.updates:
        sp.update(max_update=o.updates, warmup=max(1, min(100, o.updates // 4)))
    seeds = o.seeds or 2
    out = o.out or ("runs/gap-quick" if o.quick else "runs/gap")
    os.makedirs(out, exist_ok=True)
    t_start = time.time()
    log = lambda s: print(s, flush=True)
    archs = draw_archs(sp, sp["narch"], 2024)
    texts = [arch_text(a) for a in archs]
    log("space: %s" % json.dumps({k: v for k, v in sp.items()}))
    log("router keys of the MoS runs: %s" % json.dumps(rkeys))
    for i, t in enumerate(texts):
        log("arch %d: %s" % (i, t))
    jobs = []   # (tag, run dir, config, method row or None for standalone, arch index)
    for name, mosk, sample, const in o.methods:
        for s in range(seeds):
            tag = "%s-s%d" % (name, s)
            folder = tag + (suffix if mosk != "none" else "")
            keys = dict(space_yaml(sp), **common_keys(sp, 1 + s, o.threads), mos=mosk,
                        sample=sample)
            if mosk != "none":
                keys.update({"mos-experts": 2, "router-hidden": 128,
                             "router-const-input": const})
                keys.update(rkeys)
            write_config(os.path.join(out, folder + ".yml"), keys)
            jobs.append((tag, run_dir(out, folder, o.data), os.path.join(out, folder + ".yml"),
                         (name, mosk, int(keys.get("mos-experts", 1)), const), None))
    for i, a in enumerate(archs):
        cfg = os.path.join(out, "alone-%d.yml" % i)
        write_config(cfg, dict(arch_space_yaml(sp, a), **common_keys(sp, 1, o.threads)))
        jobs.append(("alone-%d" % i, run_dir(out, "alone-%d" % i, o.data), cfg, None, i))
    infos, evals, scores = train_and_evaluate(o, jobs, texts, sp, log)
    log("training and evaluation done after %.1f min" % ((time.time() - t_start) / 60))
    res, compute, spread, alone = {}, {}, {}, []
    for j, info in zip(jobs, infos):
        compute[j[0]] = (info.get("tokens"), info.get("elapsed_s"))
        mine = [sc for e, sc in zip(evals, scores) if e[0] is j]
        if j[3] is None:
            alone.append(mine[0])
            continue
        res[j[0]] = mine
        name, mosk, m, const = j[3]
        if mosk != "none":
            spread[j[0]] = router_spread(os.path.join(j[1], "checkpoints", "last.safetensors"),
                                         archs, sp, mosk, m, rkeys, const)
            log("%s: router spread %.4f, mean |share - 1/m| %.4f" % ((j[0],) + spread[j[0]]))
        log("%s: valid NLL %s" % (j[0], " ".join("%.3f" % r[0] for r in mine)))
    log("standalone: valid NLL %s" % " ".join("%.3f" % r[0] for r in alone))
    report(res, alone, compute, spread, seeds, texts, o, time.time() - t_start)


def report(res, alone, compute, spread, seeds, texts, o, wall):
    an = [r[0] for r in alone]
    gaps = {}
    methods = o.methods   # METHODS rows chosen with --methods
    for name, *_ in methods:
        per_seed = [[res["%s-s%d" % (name, s)][i][0] - an[i] for i in range(len(an))]
                    for s in range(seeds)]
        gaps[name] = [sum(g[i] for g in per_seed) / seeds for i in range(len(an))]
        gaps[name + "/seeds"] = per_seed
    print("\n| method | mean NLL gap | per seed | MAE | Kendall tau | win vs hat | "
          "win vs sandwich | router spread | gates off uniform | tokens (per seed) |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for name, *_ in methods:
        g = gaps[name]
        inh = [an[i] + g[i] for i in range(len(an))]
        win = lambda ref: "-" if name == ref or ref not in gaps else "%d/%d" % (
            sum(abs(g[i]) < abs(gaps[ref][i]) for i in range(len(g))), len(g))
        sp = [spread.get("%s-s%d" % (name, s)) for s in range(seeds)]
        print("| %s | %.3f | %s | %.3f | %.2f | %s | %s | %s | %s | %s |"
              % (name, sum(g) / len(g), " / ".join("%.3f" % (sum(x) / len(x))
                                                   for x in gaps[name + "/seeds"]),
                 sum(abs(x) for x in g) / len(g), kendall(inh, an),
                 win("hat"), win("sandwich"),
                 "-" if sp[0] is None else " / ".join("%.4f" % x[0] for x in sp),
                 "-" if sp[0] is None else " / ".join("%.4f" % x[1] for x in sp),
                 compute["%s-s0" % name][0]))
    print("\n| arch | standalone NLL | " + " | ".join(n for n, *_ in methods) + " |")
    print("|---" * (len(methods) + 2) + "|")
    for i, t in enumerate(texts):
        print("| `%s` | %.3f | %s |" % (t, an[i], " | ".join("%+.3f" % gaps[n][i]
                                                            for n, *_ in methods)))
    if o.bleu:
        print("\ntest BLEU (first %d pairs, greedy): standalone %s" % (
            o.bleu, " ".join("%.2f" % r[1] for r in alone)))
        ab = [r[1] for r in alone]
        print("\n| method | mean BLEU gap (standalone - inherited) | per seed | MAE | "
              "Kendall tau | inherited BLEU per arch (seed 0) |")
        print("|---|---|---|---|---|---|")
        for name, *_ in methods:
            per = [[ab[i] - res["%s-s%d" % (name, s)][i][1] for i in range(len(ab))]
                   for s in range(seeds)]
            g = [sum(p[i] for p in per) / seeds for i in range(len(ab))]
            inh = [ab[i] - g[i] for i in range(len(ab))]
            print("| %s | %.2f | %s | %.2f | %.2f | %s |"
                  % (name, sum(g) / len(g), " / ".join("%.2f" % (sum(p) / len(p)) for p in per),
                     sum(abs(x) for x in g) / len(g), kendall(inh, ab),
                     " ".join("%.2f" % res["%s-s0" % name][i][1] for i in range(len(ab)))))
    print("\nwall time %.1f min" % (wall / 60))


if __name__ == "__main__":
    sys.exit(main())
