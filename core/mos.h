/* Mixture-of-Supernets for one layer's FFN: m max-size experts per linear (fc1, fc2) mixed into
 * W(a) by a router MLP on the arch encoding; layer-wise one softmax per layer (shared by fc1 and
 * fc2), neuron-wise one per output row j (router rows j*m..j*m+m-1). Owns no memory and runs no
 * FFN. Invariant: the mixed W(a) is valid for its key (router input, d, f) until the parameters
 * change (mos_ffn_invalidate), and pending dW(a) is flushed before the key changes. */
#ifndef MOS_MOS_H
#define MOS_MOS_H

#include <stddef.h>

#include "arch.h"
#include "config.h"
#include "rng.h"

#define MOS_MAX_EXPERTS 16  /* = the config table's mos-experts range */
#define MOS_GATE_BINS   10

/* One FFN linear's experts: expert i's weight w[i] is (out_max, in_max) row-major
 * (ld = in_max), its bias b[i] (out_max). Gradients dw[i], db[i] alike. */
typedef struct MosLinear {
    int out_max, in_max;
    float *w[MOS_MAX_EXPERTS], *b[MOS_MAX_EXPERTS];
    float *dw[MOS_MAX_EXPERTS], *db[MOS_MAX_EXPERTS];
} MosLinear;

/* Router MLP: x (in) -> h = ReLU(k (w1 x + b1)) (hidden) -> z = k (w2[0:rows] h + b2[0:rows]).
 * w1 is (hidden, in), w2 is (out_max, hidden); out_max = m (layer-wise) or m*n_out_max.
 * k = scale (router-lr-scale, 1 by default) multiplies the stored parameters: Adam's step on a
 * stored parameter is about lr whatever its gradient's scale, so the effective parameter k*w moves
 * k times as fast (Adam's eps acts as eps/k). init_scale widens the last layer's init range. */
typedef struct MosRouter {
    int in, hidden, out_max;
    float scale, init_scale;
    float *w1, *b1, *w2, *b2;
    float *dw1, *db1, *dw2, *db2;
} MosRouter;

/* The mixing state of one router for the current key: router input x, hidden h, softmax alpha
 * (rows, m), the accumulated scores s (rows, m) and a scratch for dz/dh. */
typedef struct MosGate {
    MosRouter r;
    int rows;                   /* 1 (layer-wise) or n_out(a) (neuron-wise) */
    float x[ARCH_FEATURES];
    float *h, *alpha, *s, *dz, *dh;
} MosGate;

/* One layer's FFN under MoS. fc1 is (f_max, d_max), fc2 is (d_max, f_max). Layer-wise uses
 * g1 for both linears; neuron-wise g1 routes fc1 rows and g2 fc2 rows. The mixed weights are
 * compact: w1 is (f, d) with ld d, w2 is (d, f) with ld f. */
typedef struct MosFfn {
    MosKind kind;
    int m, hidden, d_max, f_max;
    MosLinear fc1, fc2;
    MosGate g1, g2;
    float *w1, *b1, *w2, *b2;       /* W(a), b(a) for the current key */
    float *dw1, *db1, *dw2, *db2;   /* dL/dW(a), accumulated over micro-batches */
    int d, f;                       /* current key: slice ... */
    float key[ARCH_FEATURES];       /* ... and router input */
    int mixed;                      /* w1.. hold W(key) for the current parameters */
    int pending;                    /* dw1.. hold gradient not yet pushed to experts/routers */
} MosFfn;

/* Gate summary of one linear for the dashboard: rows = 1 for layer-wise (mean is alpha itself);
 * neuron-wise mean[i] is expert i's mean share over the n_out(a) rows and hist[i][k] counts the
 * rows whose alpha_{j,i} falls in [k/BINS, (k+1)/BINS). */
typedef struct MosGateSummary {
    int rows;
    float mean[MOS_MAX_EXPERTS];
    int hist[MOS_MAX_EXPERTS][MOS_GATE_BINS];
} MosGateSummary;

typedef struct MosGates {
    MosKind kind;
    int m;
    MosGateSummary fc1, fc2;        /* layer-wise: identical */
} MosGates;

/* ---- parameter table, sizes and binding ---------------------------------------------------- */

#define MOS_MAX_TENSORS (4 * MOS_MAX_EXPERTS + 8)

/* One parameter tensor of a MoS layer: name relative to the layer (e.g. "fc1.experts.1.weight",
 * "router.0.weight", neuron-wise "fc2_router.2.bias"), ndim 1 (d0) or 2 (d0, d1) row-major. */
typedef struct MosTensorSpec {
    char name[40];
    int ndim, d0, d1;
} MosTensorSpec;

/* Fills out[] with the layer's tensors in binding order and returns their number: per expert
 * fc1 weight (f_max, d_max) and bias, fc2 weight (d_max, f_max) and bias; then the router(s)
 * (layer-wise "router", neuron-wise "fc1_router" and "fc2_router"), each ".0" (hidden, 10) +
 * bias and ".2" (rows, hidden) + bias as PyTorch's Sequential(Linear, ReLU, Linear) names them.
 * kind MOS_NONE is not handled here (the plain supernet owns its FFN weights). */
int mos_ffn_tensors(MosKind kind, int m, int hidden, int d_max, int f_max,
                    MosTensorSpec out[MOS_MAX_TENSORS]);

/* Floats of per-layer scratch (mixed weights, their gradients, router state). */
size_t mos_ffn_scratch_floats(MosKind kind, int m, int hidden, int d_max, int f_max);

/* Sets the dims and cuts scratch (mos_ffn_scratch_floats long) into the mixed weights, their
 * gradient accumulators (zeroed) and the router state; nothing is mixed or pending. */
void mos_ffn_setup(MosFfn *l, MosKind kind, int m, int hidden, int d_max, int f_max,
                   float *scratch);

/* Points the experts and routers at params + offsets[k] and grads + offsets[k] for the tensors
 * of mos_ffn_tensors in order (grads may be NULL: no backward). */
void mos_ffn_point(MosFfn *l, const size_t *offsets, float *params, float *grads);

/* Router options of every router of l (both 1 after mos_ffn_setup, which is the reference):
 * lr_scale k > 0 (MosRouter.scale: the router computes with k times its stored parameters, so
 * Adam moves it k times as fast) and init_scale > 0 (multiplies the last layer's init range).
 * Call before mos_ffn_init, and with the same lr_scale the parameters were trained with. */
void mos_ffn_router_options(MosFfn *l, float lr_scale, float init_scale);

/* Reference init: experts independent xavier-uniform (gain 1) over the full max shape, zero bias;
 * router first layer PyTorch nn.Linear default (kaiming-uniform a=sqrt(5): U(+-1/sqrt(in)),
 * bias alike); last layer PyTorch default (layer-wise) or xavier-uniform with zero bias over
 * (m*n_out_max, hidden) (neuron-wise), its range times init_scale. The router's stored values
 * are these divided by its scale, so the effective router at init does not depend on it. */
void mos_ffn_init(MosFfn *l, Rng *r);

/* ---- per update ----------------------------------------------------------------------------- */

/* Router input for arch a: 0.5 everywhere when const_input (the ablation in which the router
 * cannot see the architecture); else HAT's 10 features, with mode ROUTER_INPUT_RAW normalised
 * by the space's maxima (arch_features, HAT), with ROUTER_INPUT_CENTRED mapped linearly from
 * [lo, hi] to [-1, 1], where lo and hi are the feature's values at the space's smallest and
 * largest choices (0 for a feature with one value in the space). */
void mos_router_input(const SearchSpace *s, const Arch *a, int const_input, RouterInput mode,
                      float x[ARCH_FEATURES]);

/* The [lo, hi] of each raw feature (arch_features_raw) over the space's choices. */
void mos_feature_range(const SearchSpace *s, float lo[ARCH_FEATURES], float hi[ARCH_FEATURES]);

/* Makes l->w1, b1, w2, b2 hold W(a) for router input x and slice (d, f) (d <= d_max, f <= f_max).
 * Reuses them when the key is unchanged since the last call and the parameters have not changed;
 * otherwise flushes pending gradient first (it belongs to the old key), then runs the routers and
 * mixes (cost m*2*f*d). */
void mos_ffn_mix(MosFfn *l, const float x[ARCH_FEATURES], int d, int f);

/* The dL/dW(a), dL/db(a) accumulators of the current key (compact like w1..b2) for the FFN
 * backward to add into (+=); marks them pending. Requires a mixed key. */
void mos_ffn_grad_slots(MosFfn *l, float **dw1, float **db1, float **dw2, float **db2);

/* Pushes the accumulated dL/dW(a) (added through mos_ffn_grad_slots) into the experts'
 * and routers' gradients (+=), then zeroes it. No-op when nothing is pending. Call before the
 * optimizer reads the gradients. */
void mos_ffn_flush(MosFfn *l);

/* Drops the pending dL/dW(a) without pushing it (the caller zeroed the gradients). */
void mos_ffn_discard(MosFfn *l);

/* After the parameters changed (optimizer step, load): forget W(a). Pending gradient must have
 * been flushed (asserted). */
void mos_ffn_invalidate(MosFfn *l);

/* Gate summary of the current key (after mos_ffn_mix). */
void mos_ffn_gates(const MosFfn *l, MosGates *out);

/* ---- whole supernet (core/supernet_mos.c) ------------------------------------------------- */

typedef struct Supernet Supernet;

/* Gate summaries of arch a's active layers for the dashboard: out[0 .. enc_layers) are the
 * encoder layers, then the decoder layers; returns the number written, or -1 when the supernet
 * has mos none. out holds at least 2 * ARCH_MAX_LAYERS entries. */
int mos_gates(Supernet *s, const Arch *a, MosGates *out);

/* ---- kernels (exported for the tests) ------------------------------------------------------- */

/* h (hidden), z (rows) <- router(x); rows <= r->out_max. */
void mos_router_forward(float *h, float *z, const MosRouter *r, const float *x, int rows);
/* Router gradients += from dz (rows); h, x saved from the forward; dh (hidden) is scratch. */
void mos_router_backward(MosRouter *r, float *dh, const float *dz, const float *h,
                         const float *x, int rows);

/* alpha (rows, m) <- softmax over each row of z (rows, m). */
void mos_softmax_forward(float *alpha, const float *z, int rows, int m);
/* dz (rows, m) <- alpha * (s - <alpha, s>) per row (overwrites). */
void mos_softmax_backward(float *dz, const float *alpha, const float *s, int rows, int m);

/* w (out, ldw), b (out) <- sum_i alpha_i E_i[0:out, 0:in], sum_i alpha_i eb_i[0:out].
 * alpha is (1, m) when per_row is 0, else (out, m). e, eb as in MosLinear. */
void mos_mix_forward(float *w, float *b, int ldw, const MosLinear *e, const float *alpha,
                     int per_row, int m, int out, int in);
/* e->dw, e->db += alpha_i * dw, db on the slice; s (1 or out, m) += <E_i, dw> + <eb_i, db>
 * (per row when per_row). dw is (out, ldw), db (out). */
void mos_mix_backward(MosLinear *e, float *s, const float *dw, const float *db, int ldw,
                      const float *alpha, int per_row, int m, int out, int in);

#endif
