#!/usr/bin/python3
"""PyTorch cross-check of both MoS variants (layer-wise and neuron-wise) in mos.

Usage: torch_ref_mos.py TORCH_DUMP_MOS_EXE   (meson passes the driver built from torch_dump_mos.c)

The driver writes the weights of a MoS supernet (experts, routers and the rest), a batch, mos's
summed losses and gradients for three architectures. This script builds every active layer's
FFN weights independently from the method's formulas (mos-hat-method.md 1.1, 1.2): router input
= HAT's 10 features of the arch divided by the space maxima (or centred to [-1, 1] over the
space's choices: router-input centred); router Linear -> ReLU -> Linear, computing with k times
the stored parameters (router-lr-scale k; a second pair of dumps uses centred input and k = 3);
layer-wise one softmax over m shared by fc1 and fc2; neuron-wise the first m*n_out router rows
viewed as (n_out, m) with a softmax per row; W(a) = sum_i alpha_i E_i[0:out, 0:in], biases alike.
The rest of the model is the engine's torch_ref.py (imported), fed those mixed weights. Autograd
in float64 gives the reference gradients of experts and routers; tolerances as torch_ref.py
(loss 1e-4 relative, every gradient entry 1e-5 + 1e-4 * max|grad| of its tensor).
"""
import json
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torch_ref  # noqa: E402  (the engine's plain-supernet reference)
import torch  # noqa: E402

DT = torch_ref.DT


ARB = {-1: 1, 1: 2, 2: 3}


def features(a, info):
    """HAT's 10 features: embed dims, layer counts, means over active layers, arbitrary count;
    raw: divided by the space maxima; centred: mapped from [min, max] of the feature over the
    space's choices to [-1, 1] (0 for a feature with a single value)."""
    el, dl = a["enc_layers"], a["dec_layers"]

    def mean(v, n):
        return sum(v[:n]) / n

    arb = [ARB[c] for c in a["dec_arbitrary"][:dl]]
    raw = [a["enc_embed"], el, mean(a["enc_ffn"], el), mean(a["enc_heads"], el),
           a["dec_embed"], dl, mean(a["dec_ffn"], dl), mean(a["dec_self_heads"], dl),
           mean(a["dec_ende_heads"], dl), sum(arb) / dl]
    if info.get("router_input", "raw") == "raw":
        return torch.tensor([r / n for r, n in zip(raw, info["norms"])], dtype=DT)
    c = info["choices"]
    lists = [c["enc_embed"], c["enc_layers"], c["enc_ffn"], c["enc_heads"], c["dec_embed"],
             c["dec_layers"], c["dec_ffn"], c["dec_self_heads"], c["dec_ende_heads"],
             [ARB[v] for v in c["dec_arbitrary"]]]
    return torch.tensor([0.0 if max(v) == min(v) else 2 * (r - min(v)) / (max(v) - min(v)) - 1
                         for r, v in zip(raw, lists)], dtype=DT)


def router(P, name, x, rows, k):
    """The router computes with k times its stored parameters (router-lr-scale)."""
    h = torch.relu(k * (P[name + ".0.weight"] @ x + P[name + ".0.bias"]))
    return k * (P[name + ".2.weight"][:rows] @ h + P[name + ".2.bias"][:rows])


def mix(P, pre, fc, alpha, out, inp, m):
    """alpha (m,) or (out, m) -> W (out, inp), b (out)."""
    W = 0
    b = 0
    for i in range(m):
        E = P["%s.%s.experts.%d.weight" % (pre, fc, i)][:out, :inp]
        e = P["%s.%s.experts.%d.bias" % (pre, fc, i)][:out]
        ai = alpha[i] if alpha.dim() == 1 else alpha[:, i]
        W = W + (ai * E if alpha.dim() == 1 else ai[:, None] * E)
        b = b + ai * e
    return W, b


def mixed_params(P, info, a):
    """P plus plain '<layer>.fc1.weight' etc. holding each active layer's W(a), b(a)."""
    Q = dict(P)
    x = features(a, info)
    m, k = info["m"], info.get("router_lr_scale", 1.0)
    layers = [("encoder.layers.%d" % l, a["enc_embed"], a["enc_ffn"][l])
              for l in range(a["enc_layers"])]
    layers += [("decoder.layers.%d" % l, a["dec_embed"], a["dec_ffn"][l])
               for l in range(a["dec_layers"])]
    for pre, d, f in layers:
        if info["mos"] == "layer":
            a1 = a2 = torch.softmax(router(P, pre + ".router", x, m, k), dim=0)
        else:
            a1 = torch.softmax(router(P, pre + ".fc1_router", x, m * f, k).view(f, m), dim=-1)
            a2 = torch.softmax(router(P, pre + ".fc2_router", x, m * d, k).view(d, m), dim=-1)
        Q[pre + ".fc1.weight"], Q[pre + ".fc1.bias"] = mix(P, pre, "fc1", a1, f, d, m)
        Q[pre + ".fc2.weight"], Q[pre + ".fc2.bias"] = mix(P, pre, "fc2", a2, d, f, m)
    return Q


def check_file(path):
    T, meta = torch_ref.read_safetensors(path)
    info = json.loads(meta["mos"])
    names = [n for n in T if not n.startswith("grad.") and not n.startswith("batch.")]
    src, tin, tout = (T["batch." + k].long() for k in ("src", "tgt_in", "tgt_out"))
    bad = 0
    for k, a in enumerate(info["archs"]):
        P = {n: T[n].to(DT).requires_grad_(True) for n in names}
        loss = torch_ref.loss_of(mixed_params(P, info, a), info, a, src, tin, tout)
        loss.backward()
        want, got = loss.item(), info["losses"][k]
        rel = abs(got - want) / abs(want)
        print("%s (%s, m=%d, router input %s, lr scale %g) arch %d: loss torch %.8f mos %.8f "
              "(rel %.1e)" % (os.path.basename(path), info["mos"], info["m"],
                              info.get("router_input", "raw"), info.get("router_lr_scale", 1.0),
                              k, want, got, rel))
        if rel > 1e-4:
            bad += 1
        worst, nrouter = 0.0, 0
        for n in names:
            g_t = P[n].grad if P[n].grad is not None else torch.zeros_like(P[n])
            g_m = T["grad.%d.%s" % (k, n)].to(DT)
            tol = 1e-5 + 1e-4 * g_t.abs().max().item()
            err = (g_t - g_m).abs().max().item()
            worst = max(worst, err / tol)
            nrouter += "router" in n and g_t.abs().max().item() > 0
            if err > tol:
                bad += 1
                print("  %s: max |grad diff| %.3g > %.3g" % (n, err, tol))
        if nrouter == 0:
            bad += 1
            print("  no router received a gradient: the check would be vacuous")
        print("  gradients: worst diff / tolerance %.3f over %d tensors (%d router tensors "
              "with gradient)" % (worst, len(names), nrouter))
    return bad


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: torch_ref_mos.py TORCH_DUMP_MOS_EXE")
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([sys.argv[1], tmp], check=True)
        bad = sum(check_file(os.path.join(tmp, f))
                  for f in ("layer.safetensors", "neuron.safetensors", "layer_opts.safetensors",
                            "neuron_opts.safetensors"))
    print("torch_ref_mos: %s" % ("OK" if bad == 0 else "%d mismatches" % bad))
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
