#!/usr/bin/python3
"""Independent PyTorch implementation of the HAT supernet used as a cross-check for mos.

Usage: torch_ref.py TORCH_DUMP_EXE   (meson passes the test driver built from torch_dump.c)

The driver writes safetensors files with the supernet's weights (max dims), a batch, mos's
summed losses and gradients for several architectures. This script reads them with its own
safetensors reader, builds the same model with torch ops in float64 (first-k slicing as
HAT's LinearSuper/EmbeddingSuper, fixed qkv dim, arbitrary encoder-decoder attention by
concatenating encoder layer outputs along time, label-smoothed cross-entropy as HAT-era
fairseq), and requires loss within 1e-4 relative and every gradient entry (full tensors, so
zeros outside the slice too) within 1e-5 + 1e-4 * max|grad| of that tensor.
"""
import json
import math
import os
import struct
import subprocess
import sys
import tempfile

try:
    import torch
except ImportError:
    sys.exit("torch_ref: python3-torch is missing (scripts/setup.sh --test installs it)")

DT = torch.float64
# Dropout (p, attention p) for benchmarks; the cross-check runs without dropout.
DROPOUT = [0.0, 0.0]


def drop(x, attention=False):
    p = DROPOUT[1] if attention else DROPOUT[0]
    return torch.nn.functional.dropout(x, p) if p > 0 else x


def read_safetensors(path):
    with open(path, "rb") as f:
        raw = f.read()
    (hl,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + hl])
    meta = header.pop("__metadata__", {})
    data = raw[8 + hl:]
    out = {}
    for name, t in header.items():
        a, b = t["data_offsets"]
        dtype = {"F32": torch.float32, "I32": torch.int32}[t["dtype"]]
        buf = bytearray(data[a:b])
        out[name] = torch.frombuffer(buf, dtype=dtype).reshape(t["shape"]).clone()
    return out, meta


def sinusoid(rows, dim, pad):
    half = dim // 2
    step = math.log(10000.0) / (half - 1)
    freq = torch.exp(torch.arange(half, dtype=torch.float64) * -step)
    ang = torch.arange(rows, dtype=torch.float64)[:, None] * freq[None, :]
    table = torch.cat([torch.sin(ang), torch.cos(ang)], dim=1).to(DT)
    if dim % 2:
        table = torch.cat([table, torch.zeros(rows, 1, dtype=DT)], dim=1)
    table[pad] = 0
    return table


def positions(tok, pad):
    mask = (tok != pad).long()
    return torch.cumsum(mask, dim=1) * mask + pad


def layer_norm(x, P, name, d):
    return torch.nn.functional.layer_norm(x, (d,), P[name + ".weight"][:d], P[name + ".bias"][:d],
                                          eps=1e-5)


def linear(x, P, name, out_dim, in_dim):
    return x @ P[name + ".weight"][:out_dim, :in_dim].T + P[name + ".bias"][:out_dim]


def attend(q, k, v, heads, key_pad=None, causal=False):
    """q (B, Tq, Q), k/v (B, Tk, Q); key_pad (B, Tk) True where padded."""
    B, Tq, Q = q.shape
    Tk = k.shape[1]
    hs = Q // heads
    q = q.reshape(B, Tq, heads, hs).transpose(1, 2) * hs ** -0.5
    k = k.reshape(B, Tk, heads, hs).transpose(1, 2)
    v = v.reshape(B, Tk, heads, hs).transpose(1, 2)
    s = q @ k.transpose(-1, -2)
    if key_pad is not None:
        s = s.masked_fill(key_pad[:, None, None, :], float("-inf"))
    if causal:
        s = s.masked_fill(torch.ones(Tq, Tk, dtype=torch.bool).triu(1), float("-inf"))
    p = drop(torch.softmax(s, dim=-1), attention=True)
    return (p @ v).transpose(1, 2).reshape(B, Tq, Q)


def self_attention(x, P, pre, d, Q, heads, key_pad, causal):
    qkv = x @ P[pre + ".in_proj.weight"][:, :d].T + P[pre + ".in_proj.bias"]
    q, k, v = qkv[..., :Q], qkv[..., Q:2 * Q], qkv[..., 2 * Q:]
    return linear(attend(q, k, v, heads, key_pad, causal), P, pre + ".out_proj", d, Q)


def sublayer(x, body, P, ln, d, pre_ln):
    if pre_ln:
        return x + drop(body(layer_norm(x, P, ln, d)))
    return layer_norm(x + drop(body(x)), P, ln, d)


def ffn(x, P, pre, d, f):
    return linear(torch.relu(linear(x, P, pre + ".fc1", f, d)), P, pre + ".fc2", d, f)


def encoder(P, cfg, a, src):
    d, Q, pad = a["enc_embed"], cfg["qkv"], cfg["pad"]
    pos = sinusoid(pad + 2 + src.shape[1], cfg["De"], pad)
    x = drop(math.sqrt(d) * P["embed_tokens.weight"][src][..., :d]
             + pos[positions(src, pad)][..., :d])
    key_pad = src == pad
    outs = []
    for l in range(a["enc_layers"]):
        p = "encoder.layers.%d" % l
        x = sublayer(x, lambda h: self_attention(h, P, p + ".self_attn", d, Q,
                                                 a["enc_heads"][l], key_pad, False),
                     P, p + ".self_attn_layer_norm", d, cfg["pre_ln"])
        x = sublayer(x, lambda h: ffn(h, P, p, d, a["enc_ffn"][l]), P,
                     p + ".final_layer_norm", d, cfg["pre_ln"])
        outs.append(x)
    if cfg["pre_ln"]:
        outs = [layer_norm(o, P, "encoder.layer_norm", d) for o in outs]
    return outs


def cross_attention(x, enc_outs, P, pre, a, l, cfg, key_pad):
    d, de, Q = a["dec_embed"], a["enc_embed"], cfg["qkv"]
    n = {-1: 1, 1: 2, 2: 3}[a["dec_arbitrary"][l]]
    n = min(n, len(enc_outs))
    mem = torch.cat(enc_outs[-n:], dim=1)
    q = linear(x, P, pre + ".q_proj", Q, d)
    kv = linear(mem, P, pre + ".kv_proj", 2 * Q, de)
    o = attend(q, kv[..., :Q], kv[..., Q:], a["dec_ende_heads"][l], key_pad.repeat(1, n))
    return linear(o, P, pre + ".out_proj", d, Q)


def loss_of(P, cfg, a, src, tgt_in, tgt_out):
    enc = encoder(P, cfg, a, src)
    d, Q, pad = a["dec_embed"], cfg["qkv"], cfg["pad"]
    pos = sinusoid(pad + 2 + tgt_in.shape[1], cfg["Dd"], pad)
    x = drop(math.sqrt(d) * P["embed_tokens.weight"][tgt_in][..., :d]
             + pos[positions(tgt_in, pad)][..., :d])
    src_pad = src == pad
    for l in range(a["dec_layers"]):
        p = "decoder.layers.%d" % l
        x = sublayer(x, lambda h: self_attention(h, P, p + ".self_attn", d, Q,
                                                 a["dec_self_heads"][l], None, True),
                     P, p + ".self_attn_layer_norm", d, cfg["pre_ln"])
        x = sublayer(x, lambda h: cross_attention(h, enc, P, p + ".encoder_attn", a, l, cfg,
                                                  src_pad),
                     P, p + ".encoder_attn_layer_norm", d, cfg["pre_ln"])
        x = sublayer(x, lambda h: ffn(h, P, p, d, a["dec_ffn"][l]), P,
                     p + ".final_layer_norm", d, cfg["pre_ln"])
    if cfg["pre_ln"]:
        x = layer_norm(x, P, "decoder.layer_norm", d)
    lp = torch.log_softmax(x @ P["embed_tokens.weight"][:, :d].T, dim=-1)
    keep = tgt_out != pad
    nll = -lp.gather(-1, tgt_out.long()[..., None])[..., 0]
    smooth = -lp.sum(-1)
    eps, V = cfg["eps"], lp.shape[-1]
    return (((1 - eps) * nll + eps / V * smooth) * keep).sum()


def check_file(path):
    T, meta = read_safetensors(path)
    info = json.loads(meta["mos"])
    names = [n for n in T if not n.startswith("grad.") and not n.startswith("batch.")]
    src, tin, tout = (T["batch." + k].long() for k in ("src", "tgt_in", "tgt_out"))
    bad = 0
    for k, a in enumerate(info["archs"]):
        P = {n: T[n].to(DT).requires_grad_(True) for n in names}
        loss = loss_of(P, info, a, src, tin, tout)
        loss.backward()
        want, got = loss.item(), info["losses"][k]
        rel = abs(got - want) / abs(want)
        print("%s arch %d: loss torch %.8f mos %.8f (rel %.1e)" % (path, k, want, got, rel))
        if rel > 1e-4:
            bad += 1
        worst = 0.0
        for n in names:
            g_t = P[n].grad if P[n].grad is not None else torch.zeros_like(P[n])
            g_m = T["grad.%d.%s" % (k, n)].to(DT)
            tol = 1e-5 + 1e-4 * g_t.abs().max().item()
            err = (g_t - g_m).abs().max().item()
            worst = max(worst, err / tol)
            if err > tol:
                bad += 1
                print("  %s: max |grad diff| %.3g > %.3g" % (n, err, tol))
        print("  gradients: worst diff / tolerance %.3f over %d tensors" % (worst, len(names)))
    return bad


def make_params(cfg, dtype=torch.float32):
    """Random parameters with mos's names and max-dim shapes (cfg: De, Dd, Fe, Fd, Le, Ld,
    qkv, vocab, pre_ln) for benchmarks."""
    Q, P = cfg["qkv"], {}

    def lin(name, out_dim, in_dim):
        P[name + ".weight"] = torch.randn(out_dim, in_dim, dtype=dtype) * in_dim ** -0.5
        P[name + ".bias"] = torch.zeros(out_dim, dtype=dtype)

    def ln(name, d):
        P[name + ".weight"] = torch.ones(d, dtype=dtype)
        P[name + ".bias"] = torch.zeros(d, dtype=dtype)

    Dm = max(cfg["De"], cfg["Dd"])
    P["embed_tokens.weight"] = torch.randn(cfg["vocab"], Dm, dtype=dtype) * Dm ** -0.5
    for stack, D, F, L in (("encoder", cfg["De"], cfg["Fe"], cfg["Le"]),
                           ("decoder", cfg["Dd"], cfg["Fd"], cfg["Ld"])):
        for i in range(L):
            p = "%s.layers.%d" % (stack, i)
            lin(p + ".self_attn.in_proj", 3 * Q, D)
            lin(p + ".self_attn.out_proj", D, Q)
            ln(p + ".self_attn_layer_norm", D)
            if stack == "decoder":
                lin(p + ".encoder_attn.q_proj", Q, D)
                lin(p + ".encoder_attn.kv_proj", 2 * Q, cfg["De"])
                lin(p + ".encoder_attn.out_proj", D, Q)
                ln(p + ".encoder_attn_layer_norm", D)
            lin(p + ".fc1", F, D)
            lin(p + ".fc2", D, F)
            ln(p + ".final_layer_norm", D)
        if cfg["pre_ln"]:
            ln(stack + ".layer_norm", D)
    return P


def main():
    torch.set_num_threads(1)
    if len(sys.argv) != 2:
        sys.exit("usage: torch_ref.py TORCH_DUMP_EXE")
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([sys.argv[1], tmp], check=True)
        bad = sum(check_file(os.path.join(tmp, f)) for f in ("post.safetensors",
                                                             "pre.safetensors"))
    print("torch_ref: %s" % ("OK" if bad == 0 else "%d mismatches" % bad))
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
