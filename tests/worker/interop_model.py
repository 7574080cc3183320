#!/usr/bin/python3
"""Interop test: an extracted model is usable from Python with json, struct and numpy alone.

Trains tiny supernets (plain, MoS layer-wise post-LN, MoS neuron-wise pre-LN) on generated data
with the real `mos train`, extracts a mixed architecture with `mos extract`, reads
model.safetensors + config.json here, runs the encoder-decoder forward pass exactly as
core/supernet_fwd.c does (docs/extract.md, "Loading from Python") and compares the
log-probabilities of two sentence pairs (one padded) with mos's own (tests/worker/model_logits.c).

usage: interop_model.py MOS TINY_RUN MODEL_LOGITS SOURCE_ROOT
"""
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile

import numpy as np

TOL = 1e-4


# ---- reading the files -------------------------------------------------------------------------

def load_safetensors(path):
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    base = 8 + n
    tensors = {}
    for name, e in header.items():
        if name == "__metadata__":
            continue
        assert e["dtype"] == "F32", (name, e["dtype"])
        b, en = e["data_offsets"]
        a = np.frombuffer(data[base + b:base + en], dtype="<f4").reshape(e["shape"])
        tensors[name] = a.astype(np.float64)
    return tensors


# ---- the forward pass --------------------------------------------------------------------------

def layer_norm(x, g, b):
    m = x.mean(-1, keepdims=True)
    v = ((x - m) ** 2).mean(-1, keepdims=True)
    return (x - m) / np.sqrt(v + 1e-5) * g + b


def linear(x, W, b=None):
    y = x @ W.T
    return y if b is None else y + b


def attention(q, k, v, heads, key_ok):
    """q (Tq, Q), k/v (Tk, Q), key_ok (Tq, Tk) bool; heads split Q into equal slices."""
    Tq, Q = q.shape
    hs = Q // heads
    out = np.zeros((Tq, Q))
    for h in range(heads):
        sl = slice(h * hs, (h + 1) * hs)
        s = q[:, sl] @ k[:, sl].T / np.sqrt(hs)
        s = np.where(key_ok, s, -np.inf)
        mx = s.max(-1, keepdims=True)
        p = np.where(key_ok, np.exp(s - np.where(np.isfinite(mx), mx, 0)), 0.0)
        tot = p.sum(-1, keepdims=True)
        p = np.where(tot > 0, p / np.where(tot > 0, tot, 1), 0.0)
        out[:, sl] = p @ v[:, sl]
    return out


def embed(tok, E, P, d, pad):
    """sqrt(d) * E[tok, :d] + positions (pad tokens use the pad row; others pad + 1 + t)."""
    pos, out = pad, np.zeros((len(tok), d))
    for t, i in enumerate(tok):
        if i != pad:
            pos += 1
        out[t] = np.sqrt(d) * E[i, :d] + P[pad if i == pad else pos, :d]
    return out


def sublayer(x, f, ln, pre):
    """Post-LN: LN(x + f(x)); pre-LN: x + f(LN(x))."""
    return x + f(layer_norm(x, *ln)) if pre else layer_norm(x + f(x), *ln)


class Model:
    def __init__(self, directory):
        with open(os.path.join(directory, "config.json")) as f:
            self.cfg = json.load(f)
        self.w = load_safetensors(os.path.join(directory, "model.safetensors"))
        self.dims = self.cfg["dims"]
        self.pre = self.cfg["model"]["pre_ln"]
        self.pad = self.cfg["pad_id"]

    def p(self, name):
        return self.w[name]

    def lin(self, prefix):
        return self.p(prefix + ".weight"), self.p(prefix + ".bias")

    def ln(self, prefix):
        return self.p(prefix + ".weight"), self.p(prefix + ".bias")

    def ffn(self, pre):
        W1, b1 = self.lin(pre + ".fc1")
        W2, b2 = self.lin(pre + ".fc2")
        return lambda h: linear(np.maximum(linear(h, W1, b1), 0.0), W2, b2)

    def encoder(self, src):
        d, pad = self.dims["encoder_embed_dim"], self.pad
        x = embed(src, self.p("embed_tokens.weight"), self.p("encoder.embed_positions.weight"),
                  d, pad)
        T = len(src)
        key_ok = np.tile(np.array(src) != pad, (T, 1))
        outs = []
        for l in range(self.dims["encoder_layers"]):
            pre = "encoder.layers.%d" % l
            heads = self.dims["encoder_heads"][l]
            Win, bin_ = self.lin(pre + ".self_attn.in_proj")
            Wo, bo = self.lin(pre + ".self_attn.out_proj")
            Q = Win.shape[0] // 3

            def attn(h):
                qkv = linear(h, Win, bin_)
                return linear(attention(qkv[:, :Q], qkv[:, Q:2 * Q], qkv[:, 2 * Q:], heads,
                                        key_ok), Wo, bo)
            x = sublayer(x, attn, self.ln(pre + ".self_attn_layer_norm"), self.pre)
            x = sublayer(x, self.ffn(pre), self.ln(pre + ".final_layer_norm"), self.pre)
            outs.append(x)
        if self.pre:
            outs = [layer_norm(o, *self.ln("encoder.layer_norm")) for o in outs]
        return outs

    def decoder(self, src, enc_outs, tgt_in):
        d, pad = self.dims["decoder_embed_dim"], self.pad
        E = self.p("embed_tokens.weight")
        x = embed(tgt_in, E, self.p("decoder.embed_positions.weight"), d, pad)
        T = len(tgt_in)
        causal = np.tril(np.ones((T, T), dtype=bool))
        for l in range(self.dims["decoder_layers"]):
            pre = "decoder.layers.%d" % l
            sh, eh = self.dims["decoder_self_heads"][l], self.dims["decoder_ende_heads"][l]
            nblk = self.dims["decoder_ende_layers"][l]
            Win, bin_ = self.lin(pre + ".self_attn.in_proj")
            Wo, bo = self.lin(pre + ".self_attn.out_proj")
            Wq, bq = self.lin(pre + ".encoder_attn.q_proj")
            Wkv, bkv = self.lin(pre + ".encoder_attn.kv_proj")
            Weo, beo = self.lin(pre + ".encoder_attn.out_proj")
            Q = Wq.shape[0]
            mem = np.concatenate(enc_outs[len(enc_outs) - nblk:], axis=0)
            mem_ok = np.tile(np.tile(np.array(src) != pad, nblk), (T, 1))

            def self_attn(h):
                qkv = linear(h, Win, bin_)
                return linear(attention(qkv[:, :Q], qkv[:, Q:2 * Q], qkv[:, 2 * Q:], sh,
                                        causal), Wo, bo)

            def cross_attn(h):
                kv = linear(mem, Wkv, bkv)
                return linear(attention(linear(h, Wq, bq), kv[:, :Q], kv[:, Q:], eh, mem_ok),
                              Weo, beo)
            x = sublayer(x, self_attn, self.ln(pre + ".self_attn_layer_norm"), self.pre)
            x = sublayer(x, cross_attn, self.ln(pre + ".encoder_attn_layer_norm"), self.pre)
            x = sublayer(x, self.ffn(pre), self.ln(pre + ".final_layer_norm"), self.pre)
        if self.pre:
            x = layer_norm(x, *self.ln("decoder.layer_norm"))
        logits = x @ E[:, :d].T          # output projection tied to the embedding, no bias
        z = logits - logits.max(-1, keepdims=True)
        return z - np.log(np.exp(z).sum(-1, keepdims=True))

    def logprobs(self, src_ids, tgt_ids, Ts, Tt):
        c = self.cfg
        src = src_ids + [c["eos_id"]] + [self.pad] * (Ts - len(src_ids) - 1)
        tgt_in = [c["bos_id"]] + tgt_ids + [self.pad] * (Tt - len(tgt_ids) - 1)
        return self.decoder(src, self.encoder(src), tgt_in)


# ---- the test ----------------------------------------------------------------------------------

PAIRS = [([5, 9, 12, 7, 20, 4], [11, 6, 22, 13, 8]), ([14, 8, 6], [9, 17])]
ARCH = "enc=32x2:ffn=64,32:h=4,2/dec=16x2:ffn=32,64:sh=2,4:eh=4,2:arb=1,-1"


def run(cmd, **kw):
    r = subprocess.run(cmd, capture_output=True, text=True, **kw)
    if r.returncode != 0:
        sys.exit("FAIL: %s: exit %d\n%s%s" % (" ".join(cmd), r.returncode, r.stdout, r.stderr))
    return r.stdout


def check(mos, tiny_run, driver, root, tmp, name, extra):
    run_dir = os.path.join(tmp, name)
    run([tiny_run, run_dir, "200", "20", "20", "3"])
    with open(os.path.join(root, "tests/data/tiny.yml")) as f:
        cfg = f.read()
    config = os.path.join(tmp, name + ".yml")
    with open(config, "w") as f:
        f.write(cfg + extra)
    run([mos, "train", "--run-dir", run_dir, "--config", config, "--max-update", "15", "--quiet"])
    run([mos, "extract", "--run-dir", run_dir, "--arch", ARCH, "--name", "m"])
    model_dir = os.path.join(run_dir, "subnets", "m")
    model = Model(model_dir)
    assert model.cfg["arch"] == ARCH, model.cfg["arch"]
    assert model.p("encoder.layers.1.fc1.weight").shape == (32, 32)
    assert model.p("decoder.layers.0.fc2.weight").shape == (16, 32)
    text = "".join("%s\t%s\n" % (" ".join(map(str, s)), " ".join(map(str, t)))
                   for s, t in PAIRS)
    out = run([driver, model_dir], input=text).split("\n")
    B, Tt, V = map(int, out[0].split())
    got = np.array([[float(v) for v in line.split()] for line in out[1:1 + B * Tt]])
    got = got.reshape(B, Tt, V)
    Ts = max(len(s) for s, _ in PAIRS) + 1
    worst = 0.0
    for b, (s, t) in enumerate(PAIRS):
        want = model.logprobs(s, t, Ts, Tt)
        worst = max(worst, float(np.abs(want - got[b]).max()))
    print("%s: max |log p (numpy) - log p (mos)| = %.2e over %d x %d x %d" % (name, worst, B, Tt,
                                                                              V))
    if not worst <= TOL:
        sys.exit("FAIL: %s differs by %g (> %g)" % (name, worst, TOL))


def main():
    if len(sys.argv) != 5:
        sys.exit(__doc__)
    mos, tiny_run, driver, root = sys.argv[1:]
    tmp = tempfile.mkdtemp(prefix="mos-interop-")
    try:
        check(mos, tiny_run, driver, root, tmp, "plain", "")
        check(mos, tiny_run, driver, root, tmp, "mos-layer", "mos: layer\nmos-experts: 2\n"
              "router-hidden: 8\n")
        check(mos, tiny_run, driver, root, tmp, "mos-neuron-preln", "mos: neuron\n"
              "mos-experts: 3\nrouter-hidden: 8\npre-ln: true\n")
    finally:
        shutil.rmtree(tmp)
    print("ok")


if __name__ == "__main__":
    main()
