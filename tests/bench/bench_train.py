#!/usr/bin/python3
"""mos against PyTorch on this machine, in one run: training throughput and batch-1 decoding.

Usage: tests/bench/bench_train.py [--mos build/worker/mos] [--pairs 3] [--steps 5]
                                  [--decode-steps 10] [--threads 2] [--decode-threads 1,2]

The model is issue 3's benchmark model (enc-dec d=256, FFN 1024, 4 heads, qkv 256, 3+3 layers,
vocab 8000, dropout 0.1, attention dropout 0.1, label smoothing 0.1, 64x24 random tokens a side,
Adam). The PyTorch side is tests/core/torch_ref.py's model (the cross-check) in float32 with
torch.optim.Adam, run with torch.set_num_threads(1) and OpenBLAS at --threads threads (this
machine's fastest PyTorch setting); mos runs `mos bench train --json` at --threads and
`mos bench decode --json` at each of --decode-threads, keeping the fastest (one-row products
are memory-bound; whether a second thread helps depends on how busy the machine is).
The two alternate A B A B (--pairs pairs) and the median of the per-pair ratios is quoted,
because timings drift 10-20 % over minutes here. Decoding: greedy, batch 1, 30 tokens from a
30-token source, PyTorch with an incremental key/value cache.
"""
import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
THREADS = "2"
for i, a in enumerate(sys.argv):   # OpenBLAS reads its thread count when torch loads it
    if a == "--threads" and i + 1 < len(sys.argv):
        THREADS = sys.argv[i + 1]
os.environ["OPENBLAS_NUM_THREADS"] = THREADS
sys.path.insert(0, os.path.join(ROOT, "tests", "core"))
import torch  # noqa: E402
import torch_ref  # noqa: E402

CFG = dict(De=256, Dd=256, Fe=1024, Fd=1024, Le=3, Ld=3, qkv=256, vocab=8000, pre_ln=0, pad=0,
           eps=0.1)
ARCH = dict(enc_embed=256, dec_embed=256, enc_layers=3, dec_layers=3, enc_ffn=[1024] * 8,
            enc_heads=[4] * 8, dec_ffn=[1024] * 8, dec_self_heads=[4] * 8,
            dec_ende_heads=[4] * 8, dec_arbitrary=[-1] * 8)
B, T = 64, 24
torch_ref.DT = torch.float32


def random_batch(gen):
    src = torch.randint(4, CFG["vocab"], (B, T), generator=gen)
    tout = torch.randint(4, CFG["vocab"], (B, T), generator=gen)
    src[:, -1] = 3
    tout[:, -1] = 3
    tin = torch.cat([torch.full((B, 1), 2), tout[:, :-1]], dim=1)
    return src, tin, tout


def torch_train(steps, warmup):
    torch_ref.DROPOUT[:] = [0.1, 0.1]
    gen = torch.Generator().manual_seed(1)
    P = {k: v.requires_grad_(True) for k, v in torch_ref.make_params(CFG).items()}
    opt = torch.optim.Adam(P.values(), lr=1e-4, betas=(0.9, 0.98), eps=1e-8)
    src, tin, tout = random_batch(gen)
    times = []
    for i in range(warmup + steps):
        t0 = time.perf_counter()
        opt.zero_grad()
        loss = torch_ref.loss_of(P, CFG, ARCH, src, tin, tout) / (B * T)
        loss.backward()
        opt.step()
        if i >= warmup:
            times.append(time.perf_counter() - t0)
    return statistics.median(times)


def attend_cached(x, P, p, kc, vc, heads, q_name, d):
    Q = CFG["qkv"]
    q = x @ P[p + q_name + ".weight"][:Q, :d].T + P[p + q_name + ".bias"][:Q]
    return torch_ref.attend(q, kc, vc, heads)


@torch.no_grad()
def torch_greedy(P, src, n):
    """Incremental greedy decoding with a key/value cache; n tokens, eos never chosen."""
    torch_ref.DROPOUT[:] = [0.0, 0.0]
    Q, d, pad = CFG["qkv"], ARCH["dec_embed"], CFG["pad"]
    enc = torch_ref.encoder(P, CFG, ARCH, src)
    mem = enc[-1]
    pos = torch_ref.sinusoid(pad + 2 + n, CFG["Dd"], pad)
    cross, cache = [], []
    for l in range(ARCH["dec_layers"]):
        kv = torch_ref.linear(mem, P, "decoder.layers.%d.encoder_attn.kv_proj" % l, 2 * Q, d)
        cross.append((kv[..., :Q], kv[..., Q:]))
        cache.append([None, None])
    E = P["embed_tokens.weight"]
    tok, out = 2, []
    for t in range(n):
        x = (math.sqrt(d) * E[tok, :d] + pos[pad + 1 + t, :d]).reshape(1, 1, d)
        for l in range(ARCH["dec_layers"]):
            p = "decoder.layers.%d" % l
            qkv = x @ P[p + ".self_attn.in_proj.weight"].T + P[p + ".self_attn.in_proj.bias"]
            k, v = qkv[..., Q:2 * Q], qkv[..., 2 * Q:]
            c = cache[l]
            c[0] = k if c[0] is None else torch.cat([c[0], k], dim=1)
            c[1] = v if c[1] is None else torch.cat([c[1], v], dim=1)
            a = torch_ref.attend(qkv[..., :Q], c[0], c[1], 4)
            x = torch_ref.layer_norm(x + torch_ref.linear(a, P, p + ".self_attn.out_proj", d, Q),
                                     P, p + ".self_attn_layer_norm", d)
            a = attend_cached(x, P, p, cross[l][0], cross[l][1], 4, ".encoder_attn.q_proj", d)
            x = torch_ref.layer_norm(
                x + torch_ref.linear(a, P, p + ".encoder_attn.out_proj", d, Q), P,
                p + ".encoder_attn_layer_norm", d)
            x = torch_ref.layer_norm(x + torch_ref.ffn(x, P, p, d, 1024), P,
                                     p + ".final_layer_norm", d)
        lp = x[0, 0] @ E[:, :d].T
        lp[[0, 2, 3]] = -float("inf")
        tok = int(lp.argmax())
        out.append(tok)
    return out


def torch_decode(steps, warmup):
    P = torch_ref.make_params(CFG)
    src = torch.randint(4, CFG["vocab"], (1, 31), generator=torch.Generator().manual_seed(2))
    src[0, -1] = 3
    times = []
    for i in range(warmup + steps):
        t0 = time.perf_counter()
        torch_greedy(P, src, 30)
        if i >= warmup:
            times.append(time.perf_counter() - t0)
    return statistics.median(times)


def run_mos(mos, name, steps, threads):
    r = subprocess.run([mos, "bench", name, "--json", "--steps", str(steps), "--threads",
                        str(threads)], check=True, capture_output=True, text=True)
    return json.loads(r.stdout)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mos", default=os.path.join(ROOT, "build", "worker", "mos"))
    ap.add_argument("--pairs", type=int, default=3)
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--decode-steps", type=int, default=10)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--decode-threads", default="1,2")
    args = ap.parse_args()
    torch.set_num_threads(1)
    print("load average at the start: %.2f %.2f %.2f" % os.getloadavg(), flush=True)
    train, dec = [], []
    for i in range(args.pairs):
        m = run_mos(args.mos, "train", args.steps, args.threads)
        t = torch_train(args.steps, 1)
        train.append((m, t))
        print("pair %d train: mos %.3f s/step (%.0f tok/s, %.1f GFLOP/s = %.0f%% of sgemm's "
              "%.1f; sgemm split %.3f s, OpenBLAS-threaded %.3f s), torch %.3f s/step "
              "(%.1f GFLOP/s): mos %.2fx" %
              (i + 1, m["step_s"], m["tok_per_s"], m["eff_gflops"], 100 * m["eff_vs_sgemm"],
               m["sgemm_gflops"], m.get("sgemm_split_s", float("nan")),
               m.get("sgemm_openblas_s", float("nan")), t, m["matmul_gflop"] / t,
               t / m["step_s"]), flush=True)
    for i in range(args.pairs):
        m = min((run_mos(args.mos, "decode", args.decode_steps, int(th))
                 for th in args.decode_threads.split(",")), key=lambda r: r["decode_s"])
        t = torch_decode(args.decode_steps, 1)
        dec.append((m, t))
        print("pair %d decode: mos %.2f ms (%d threads), torch %.2f ms: mos %.1fx" %
              (i + 1, 1e3 * m["decode_s"], m["threads"], 1e3 * t, t / m["decode_s"]),
              flush=True)
    tr = statistics.median(t / m["step_s"] for m, t in train)
    eff = statistics.median(m["eff_vs_sgemm"] for m, _ in train)
    dr = statistics.median(t / m["decode_s"] for m, t in dec)
    print("median over %d pairs: train mos/torch tokens/s %.2fx (floor 1.5x), step at %.0f%% of "
          "sgemm (floor 65%%); decode %.1fx faster (floor 3x)" % (args.pairs, tr, 100 * eff, dr))
    print("load average at the end: %.2f %.2f %.2f" % os.getloadavg())


if __name__ == "__main__":
    main()
