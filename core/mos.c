/* Mixture-of-Supernets experts and routers for one FFN layer (see mos.h): router MLP, softmax,
 * mixing W(a) = sum_i alpha_i E_i[0:out, 0:in] and the hand-written backward of all three.
 * Plain loops, no BLAS: the mixing is O(m*out*in) once per update and key, the router O(rows*H).
 * Invariant: a gradient accumulated for one key is pushed to the parameters before the key
 * changes. */
#include "mos.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "err.h"

/* ---- parameter table, sizes and binding ---------------------------------------------------- */

/* The one enumeration of a layer's tensors: spec (names, shapes) and, when l is not NULL, the
 * MosFfn fields they bind to. mos_ffn_tensors and mos_ffn_point both walk it. */
typedef struct MosWalk {
    MosTensorSpec *spec;
    float **p[MOS_MAX_TENSORS], **g[MOS_MAX_TENSORS];
    int n;
} MosWalk;

static void mos_walk_add(MosWalk *w, float **p, float **g, int ndim, int d0, int d1,
                         const char *fmt, const char *a, int i)
{
    ASSERT(w->n < MOS_MAX_TENSORS);
    MosTensorSpec *t = &w->spec[w->n];
    snprintf(t->name, sizeof t->name, fmt, a, i);
    t->ndim = ndim;
    t->d0 = d0;
    t->d1 = ndim == 2 ? d1 : 0;
    w->p[w->n] = p;
    w->g[w->n] = g;
    w->n++;
}

static void mos_walk_router(MosWalk *w, MosRouter *r, const char *name, int hidden, int rows)
{
    mos_walk_add(w, &r->w1, &r->dw1, 2, hidden, ARCH_FEATURES, "%s.0.weight", name, 0);
    mos_walk_add(w, &r->b1, &r->db1, 1, hidden, 0, "%s.0.bias", name, 0);
    mos_walk_add(w, &r->w2, &r->dw2, 2, rows, hidden, "%s.2.weight", name, 0);
    mos_walk_add(w, &r->b2, &r->db2, 1, rows, 0, "%s.2.bias", name, 0);
}

/* l's dims (kind, m, hidden, d_max, f_max) must be set. */
static void mos_walk(MosWalk *w, MosFfn *l)
{
    int m = l->m, D = l->d_max, F = l->f_max;
    w->n = 0;
    for (int i = 0; i < m; i++) {
        mos_walk_add(w, &l->fc1.w[i], &l->fc1.dw[i], 2, F, D, "%s.experts.%d.weight", "fc1", i);
        mos_walk_add(w, &l->fc1.b[i], &l->fc1.db[i], 1, F, 0, "%s.experts.%d.bias", "fc1", i);
        mos_walk_add(w, &l->fc2.w[i], &l->fc2.dw[i], 2, D, F, "%s.experts.%d.weight", "fc2", i);
        mos_walk_add(w, &l->fc2.b[i], &l->fc2.db[i], 1, D, 0, "%s.experts.%d.bias", "fc2", i);
    }
    if (l->kind == MOS_LAYER) {
        mos_walk_router(w, &l->g1.r, "router", l->hidden, m);
    } else {
        mos_walk_router(w, &l->g1.r, "fc1_router", l->hidden, m * F);
        mos_walk_router(w, &l->g2.r, "fc2_router", l->hidden, m * D);
    }
}

static void mos_ffn_dims(MosFfn *l, MosKind kind, int m, int hidden, int d_max, int f_max)
{
    ASSERT(kind == MOS_LAYER || kind == MOS_NEURON);
    ASSERT(m >= 1 && m <= MOS_MAX_EXPERTS && hidden >= 1 && d_max >= 1 && f_max >= 1);
    memset(l, 0, sizeof *l);
    l->kind = kind;
    l->m = m;
    l->hidden = hidden;
    l->d_max = d_max;
    l->f_max = f_max;
    l->fc1.out_max = l->fc2.in_max = f_max;
    l->fc1.in_max = l->fc2.out_max = d_max;
    MosRouter *r[2] = {&l->g1.r, &l->g2.r};
    for (int k = 0; k < 2; k++) {
        r[k]->in = ARCH_FEATURES;
        r[k]->hidden = hidden;
        r[k]->scale = 1.0f;
        r[k]->init_scale = 1.0f;
    }
    l->g1.r.out_max = kind == MOS_LAYER ? m : m * f_max;
    l->g2.r.out_max = kind == MOS_LAYER ? 0 : m * d_max;
}

int mos_ffn_tensors(MosKind kind, int m, int hidden, int d_max, int f_max,
                    MosTensorSpec out[MOS_MAX_TENSORS])
{
    MosFfn l;
    mos_ffn_dims(&l, kind, m, hidden, d_max, f_max);
    MosWalk w = {.spec = out};
    mos_walk(&w, &l);
    return w.n;
}

void mos_ffn_point(MosFfn *l, const size_t *offsets, float *params, float *grads)
{
    MosTensorSpec spec[MOS_MAX_TENSORS];
    MosWalk w = {.spec = spec};
    mos_walk(&w, l);
    for (int k = 0; k < w.n; k++) {
        *w.p[k] = params + offsets[k];
        *w.g[k] = grads ? grads + offsets[k] : NULL;
    }
}

/* Router state: h, dh (hidden each), alpha, s, dz (rows_max * m each). */
static size_t mos_gate_floats(int hidden, int rows_max, int m)
{
    return 2 * (size_t)hidden + 3 * (size_t)rows_max * m;
}

size_t mos_ffn_scratch_floats(MosKind kind, int m, int hidden, int d_max, int f_max)
{
    ASSERT(kind == MOS_LAYER || kind == MOS_NEURON);
    size_t mixed = 2 * (2 * (size_t)f_max * d_max + f_max + d_max);
    if (kind == MOS_LAYER)
        return mixed + mos_gate_floats(hidden, 1, m);
    return mixed + mos_gate_floats(hidden, f_max, m) + mos_gate_floats(hidden, d_max, m);
}

static float *mos_take(float **p, size_t n)
{
    float *t = *p;
    *p += n;
    return t;
}

static void mos_gate_carve(MosGate *gt, int rows_max, int m, float **sc)
{
    size_t hidden = (size_t)gt->r.hidden;
    gt->rows = 0;
    gt->h = mos_take(sc, hidden);
    gt->dh = mos_take(sc, hidden);
    gt->alpha = mos_take(sc, (size_t)rows_max * m);
    gt->s = mos_take(sc, (size_t)rows_max * m);
    gt->dz = mos_take(sc, (size_t)rows_max * m);
}

void mos_ffn_setup(MosFfn *l, MosKind kind, int m, int hidden, int d_max, int f_max,
                   float *scratch)
{
    mos_ffn_dims(l, kind, m, hidden, d_max, f_max);
    float *sc = scratch;
    if (kind == MOS_LAYER) {
        mos_gate_carve(&l->g1, 1, m, &sc);
    } else {
        mos_gate_carve(&l->g1, f_max, m, &sc);
        mos_gate_carve(&l->g2, d_max, m, &sc);
    }
    size_t fd = (size_t)f_max * d_max;
    l->w1 = mos_take(&sc, fd);
    l->b1 = mos_take(&sc, (size_t)f_max);
    l->w2 = mos_take(&sc, fd);
    l->b2 = mos_take(&sc, (size_t)d_max);
    l->dw1 = mos_take(&sc, fd);
    l->db1 = mos_take(&sc, (size_t)f_max);
    l->dw2 = mos_take(&sc, fd);
    l->db2 = mos_take(&sc, (size_t)d_max);
    ASSERT((size_t)(sc - scratch) == mos_ffn_scratch_floats(kind, m, hidden, d_max, f_max));
    memset(l->dw1, 0, (2 * fd + f_max + d_max) * sizeof(float));
}

/* ---- init ----------------------------------------------------------------------------------- */

static void mos_uniform(Rng *r, float *x, size_t n, float bound)
{
    for (size_t i = 0; i < n; i++)
        x[i] = (2.0f * rng_float(r) - 1.0f) * bound;
}

static void mos_linear_init(MosLinear *e, int m, Rng *r)
{
    size_t nw = (size_t)e->out_max * e->in_max;
    float bound = sqrtf(6.0f / (float)(e->out_max + e->in_max));
    for (int i = 0; i < m; i++) {
        mos_uniform(r, e->w[i], nw, bound);
        memset(e->b[i], 0, (size_t)e->out_max * sizeof(float));
    }
}

/* Stored values are the reference init / scale (the router uses scale * stored); the last
 * layer's range is widened by init_scale. With both 1 the values are the reference's exactly. */
static void mos_router_init(MosRouter *rt, int xavier_last, Rng *r)
{
    float b1 = 1.0f / sqrtf((float)rt->in) / rt->scale;
    mos_uniform(r, rt->w1, (size_t)rt->hidden * rt->in, b1);
    mos_uniform(r, rt->b1, (size_t)rt->hidden, b1);
    size_t n2 = (size_t)rt->out_max * rt->hidden;
    float wide = rt->init_scale / rt->scale;
    if (xavier_last) {
        mos_uniform(r, rt->w2, n2, sqrtf(6.0f / (float)(rt->out_max + rt->hidden)) * wide);
        memset(rt->b2, 0, (size_t)rt->out_max * sizeof(float));
    } else {
        float b2 = 1.0f / sqrtf((float)rt->hidden) * wide;
        mos_uniform(r, rt->w2, n2, b2);
        mos_uniform(r, rt->b2, (size_t)rt->out_max, b2);
    }
}

void mos_ffn_router_options(MosFfn *l, float lr_scale, float init_scale)
{
    ASSERT(lr_scale > 0.0f && init_scale > 0.0f);
    MosRouter *r[2] = {&l->g1.r, &l->g2.r};
    for (int k = 0; k < 2; k++) {
        r[k]->scale = lr_scale;
        r[k]->init_scale = init_scale;
    }
    l->mixed = 0;
}

void mos_ffn_init(MosFfn *l, Rng *r)
{
    mos_linear_init(&l->fc1, l->m, r);
    mos_linear_init(&l->fc2, l->m, r);
    mos_router_init(&l->g1.r, l->kind == MOS_NEURON, r);
    if (l->kind == MOS_NEURON)
        mos_router_init(&l->g2.r, 1, r);
    l->mixed = 0;
}

/* ---- router MLP ----------------------------------------------------------------------------- */

/* h (hidden), z (rows); w1 (hidden, in), w2 (out_max, hidden), first rows rows used; every
 * pre-activation is multiplied by k = r->scale (exact when k = 1). */
void mos_router_forward(float *h, float *z, const MosRouter *r, const float *x, int rows)
{
    ASSERT(rows >= 1 && rows <= r->out_max);
    float k_ = r->scale;
    for (int k = 0; k < r->hidden; k++) {
        const float *w = r->w1 + (size_t)k * r->in;
        float a = r->b1[k];
        for (int j = 0; j < r->in; j++)
            a += w[j] * x[j];
        a *= k_;
        h[k] = a > 0.0f ? a : 0.0f;
    }
    for (int o = 0; o < rows; o++) {
        const float *w = r->w2 + (size_t)o * r->hidden;
        float a = r->b2[o];
        for (int k = 0; k < r->hidden; k++)
            a += w[k] * h[k];
        z[o] = a * k_;
    }
}

/* With z = k (w2 h + b2) and h = ReLU(k (w1 x + b1)), w1 .. b2 the stored parameters:
 *   dw2[o,j] += k dz[o] h[j], db2[o] += k dz[o]          (rows o >= rows get nothing)
 *   dh[j] = k sum_o w2[o,j] dz[o];  dpre[j] = dh[j] if h[j] > 0 else 0
 *   dw1[j,i] += k dpre[j] x[i], db1[j] += k dpre[j]       (x is data: no gradient wanted)
 * (k = 1 multiplies by exactly 1: the reference's arithmetic.) */
void mos_router_backward(MosRouter *r, float *dh, const float *dz, const float *h,
                         const float *x, int rows)
{
    ASSERT(rows >= 1 && rows <= r->out_max);
    float k_ = r->scale;
    memset(dh, 0, (size_t)r->hidden * sizeof(float));
    for (int o = 0; o < rows; o++) {
        const float *w = r->w2 + (size_t)o * r->hidden;
        float *dw = r->dw2 + (size_t)o * r->hidden;
        float g = dz[o] * k_;
        for (int k = 0; k < r->hidden; k++) {
            dw[k] += g * h[k];
            dh[k] += g * w[k];
        }
        r->db2[o] += g;
    }
    for (int k = 0; k < r->hidden; k++) {
        if (h[k] <= 0.0f)
            continue;
        float *dw = r->dw1 + (size_t)k * r->in;
        float g = dh[k] * k_;
        for (int j = 0; j < r->in; j++)
            dw[j] += g * x[j];
        r->db1[k] += g;
    }
}

/* ---- softmax over experts ------------------------------------------------------------------- */

void mos_softmax_forward(float *alpha, const float *z, int rows, int m)
{
    for (int j = 0; j < rows; j++) {
        const float *zj = z + (size_t)j * m;
        float *aj = alpha + (size_t)j * m;
        float mx = zj[0], sum = 0.0f;
        for (int i = 1; i < m; i++)
            mx = zj[i] > mx ? zj[i] : mx;
        for (int i = 0; i < m; i++) {
            aj[i] = expf(zj[i] - mx);
            sum += aj[i];
        }
        for (int i = 0; i < m; i++)
            aj[i] /= sum;
    }
}

/* alpha = softmax(z) gives d alpha_i / d z_k = alpha_i (delta_ik - alpha_k), so with
 * s_i = dL/d alpha_i:
 *   dL/dz_k = sum_i s_i alpha_i (delta_ik - alpha_k) = alpha_k (s_k - <alpha, s>). */
void mos_softmax_backward(float *dz, const float *alpha, const float *s, int rows, int m)
{
    for (int j = 0; j < rows; j++) {
        const float *aj = alpha + (size_t)j * m, *sj = s + (size_t)j * m;
        float dot = 0.0f;
        for (int i = 0; i < m; i++)
            dot += aj[i] * sj[i];
        for (int i = 0; i < m; i++)
            dz[(size_t)j * m + i] = aj[i] * (sj[i] - dot);
    }
}

/* ---- mixing --------------------------------------------------------------------------------- */

/* w is (out, ldw), first in columns written; b (out); expert i row j at e->w[i] + j*in_max. */
void mos_mix_forward(float *w, float *b, int ldw, const MosLinear *e, const float *alpha,
                     int per_row, int m, int out, int in)
{
    ASSERT(out <= e->out_max && in <= e->in_max && in <= ldw);
    for (int j = 0; j < out; j++) {
        const float *aj = per_row ? alpha + (size_t)j * m : alpha;
        float *wj = w + (size_t)j * ldw;
        size_t row = (size_t)j * e->in_max;
        const float *e0 = e->w[0] + row;
        float bj = aj[0] * e->b[0][j];
        for (int c = 0; c < in; c++)
            wj[c] = aj[0] * e0[c];
        for (int i = 1; i < m; i++) {
            const float *ei = e->w[i] + row;
            float a = aj[i];
            for (int c = 0; c < in; c++)
                wj[c] += a * ei[c];
            bj += a * e->b[i][j];
        }
        b[j] = bj;
    }
}

/* de[0:n] += a * g[0:n] and returns <e[0:n], g[0:n]>, with 8 partial sums so that the
 * compiler vectorises the reduction (the order of a float sum is otherwise fixed). */
static float mos_axpy_dot(float *restrict de, const float *restrict e, const float *restrict g,
                          float a, int n)
{
    float acc[8] = {0};
    int c = 0;
    for (; c + 8 <= n; c += 8) {
        for (int k = 0; k < 8; k++) {
            de[c + k] += a * g[c + k];
            acc[k] += e[c + k] * g[c + k];
        }
    }
    float dot = 0.0f;
    for (; c < n; c++) {
        de[c] += a * g[c];
        dot += e[c] * g[c];
    }
    for (int k = 0; k < 8; k++)
        dot += acc[k];
    return dot;
}

/* W(a)[j,c] = sum_i alpha_ji E_i[j,c] and b(a)[j] = sum_i alpha_ji b_i[j] (alpha_ji = alpha_i for
 * layer-wise) are linear in the experts and in alpha, so with G = dL/dW(a), g = dL/db(a):
 *   dL/dE_i[j,c] = alpha_ji G[j,c]            (entries outside the slice: zero)
 *   dL/db_i[j]   = alpha_ji g[j]
 *   dL/dalpha_ji = <E_i[j,0:in], G[j,:]> + b_i[j] g[j]  =: s_ji
 * layer-wise alpha_i is shared by every row (and by fc1 and fc2), so its s_i is the sum of s_ji
 * over the rows of both linears: the caller passes the same s to both calls. */
void mos_mix_backward(MosLinear *e, float *s, const float *dw, const float *db, int ldw,
                      const float *alpha, int per_row, int m, int out, int in)
{
    ASSERT(out <= e->out_max && in <= e->in_max && in <= ldw);
    for (int j = 0; j < out; j++) {
        const float *aj = per_row ? alpha + (size_t)j * m : alpha;
        float *sj = per_row ? s + (size_t)j * m : s;
        const float *gj = dw + (size_t)j * ldw;
        size_t row = (size_t)j * e->in_max;
        for (int i = 0; i < m; i++) {
            float dot = mos_axpy_dot(e->dw[i] + row, e->w[i] + row, gj, aj[i], in);
            e->db[i][j] += aj[i] * db[j];
            sj[i] += dot + e->b[i][j] * db[j];
        }
    }
}

/* ---- per layer ------------------------------------------------------------------------------ */

static void mos_gate_forward(MosGate *gt, const float x[ARCH_FEATURES], int rows, int m)
{
    gt->rows = rows;
    memcpy(gt->x, x, sizeof gt->x);
    /* z goes through dz (free in the forward) before the softmax. */
    mos_router_forward(gt->h, gt->dz, &gt->r, x, rows * m);
    mos_softmax_forward(gt->alpha, gt->dz, rows, m);
}

static void mos_gate_backward(MosGate *gt, int m)
{
    mos_softmax_backward(gt->dz, gt->alpha, gt->s, gt->rows, m);
    mos_router_backward(&gt->r, gt->dh, gt->dz, gt->h, gt->x, gt->rows * m);
}

static int mos_choice_pick(const Choices *c, int largest)
{
    int v = c->v[0];
    for (int i = 1; i < c->n; i++)
        v = (largest ? c->v[i] > v : c->v[i] < v) ? c->v[i] : v;
    return v;
}

/* Each raw feature is a value or a mean over layers of one choice list (the arbitrary-attention
 * count grows with its code), so its extremes are at the smallest and largest choices. */
void mos_feature_range(const SearchSpace *s, float lo[ARCH_FEATURES], float hi[ARCH_FEATURES])
{
    Arch ext[2];
    arch_smallest(s, &ext[0]);
    arch_largest(s, &ext[1]);
    for (int e = 0; e < 2; e++)
        for (int i = 0; i < ARCH_MAX_LAYERS; i++)
            ext[e].dec_arbitrary[i] = mos_choice_pick(&s->dec_arbitrary, e);
    arch_features_raw(&ext[0], lo);
    arch_features_raw(&ext[1], hi);
}

void mos_router_input(const SearchSpace *s, const Arch *a, int const_input, RouterInput mode,
                      float x[ARCH_FEATURES])
{
    if (const_input) {
        for (int k = 0; k < ARCH_FEATURES; k++)
            x[k] = 0.5f;
        return;
    }
    if (mode == ROUTER_INPUT_RAW) {
        arch_features(s, a, x);
        return;
    }
    ASSERT(mode == ROUTER_INPUT_CENTRED);
    float lo[ARCH_FEATURES], hi[ARCH_FEATURES];
    mos_feature_range(s, lo, hi);
    arch_features_raw(a, x);
    for (int k = 0; k < ARCH_FEATURES; k++)
        x[k] = hi[k] > lo[k] ? 2.0f * (x[k] - lo[k]) / (hi[k] - lo[k]) - 1.0f : 0.0f;
}

void mos_ffn_mix(MosFfn *l, const float x[ARCH_FEATURES], int d, int f)
{
    ASSERT(d >= 1 && d <= l->d_max && f >= 1 && f <= l->f_max);
    if (l->mixed && l->d == d && l->f == f && memcmp(l->key, x, sizeof l->key) == 0)
        return;
    mos_ffn_flush(l);
    l->d = d;
    l->f = f;
    memcpy(l->key, x, sizeof l->key);
    int m = l->m;
    if (l->kind == MOS_LAYER) {
        mos_gate_forward(&l->g1, x, 1, m);
        mos_mix_forward(l->w1, l->b1, d, &l->fc1, l->g1.alpha, 0, m, f, d);
        mos_mix_forward(l->w2, l->b2, f, &l->fc2, l->g1.alpha, 0, m, d, f);
    } else {
        mos_gate_forward(&l->g1, x, f, m);
        mos_gate_forward(&l->g2, x, d, m);
        mos_mix_forward(l->w1, l->b1, d, &l->fc1, l->g1.alpha, 1, m, f, d);
        mos_mix_forward(l->w2, l->b2, f, &l->fc2, l->g2.alpha, 1, m, d, f);
    }
    l->mixed = 1;
}

void mos_ffn_grad_slots(MosFfn *l, float **dw1, float **db1, float **dw2, float **db2)
{
    ASSERT(l->mixed);
    l->pending = 1;
    *dw1 = l->dw1;
    *db1 = l->db1;
    *dw2 = l->dw2;
    *db2 = l->db2;
}

void mos_ffn_flush(MosFfn *l)
{
    if (!l->pending)
        return;
    ASSERT(l->mixed);
    int m = l->m, d = l->d, f = l->f, nr = l->kind == MOS_NEURON;
    MosGate *g2 = nr ? &l->g2 : &l->g1;
    memset(l->g1.s, 0, (size_t)l->g1.rows * m * sizeof(float));
    memset(g2->s, 0, (size_t)g2->rows * m * sizeof(float));
    mos_mix_backward(&l->fc1, l->g1.s, l->dw1, l->db1, d, l->g1.alpha, nr, m, f, d);
    mos_mix_backward(&l->fc2, g2->s, l->dw2, l->db2, f, g2->alpha, nr, m, d, f);
    mos_gate_backward(&l->g1, m);
    if (nr)
        mos_gate_backward(&l->g2, m);
    mos_ffn_discard(l);
}

void mos_ffn_discard(MosFfn *l)
{
    if (!l->pending)
        return;
    memset(l->dw1, 0, (size_t)l->f * l->d * sizeof(float));
    memset(l->db1, 0, (size_t)l->f * sizeof(float));
    memset(l->dw2, 0, (size_t)l->d * l->f * sizeof(float));
    memset(l->db2, 0, (size_t)l->d * sizeof(float));
    l->pending = 0;
}

void mos_ffn_invalidate(MosFfn *l)
{
    ASSERT(!l->pending);
    l->mixed = 0;
}

/* ---- gate summaries ------------------------------------------------------------------------- */

static void mos_gate_summary(const MosGate *gt, int m, MosGateSummary *out)
{
    memset(out, 0, sizeof *out);
    out->rows = gt->rows;
    for (int j = 0; j < gt->rows; j++) {
        for (int i = 0; i < m; i++) {
            float a = gt->alpha[(size_t)j * m + i];
            int k = (int)(a * MOS_GATE_BINS);
            k = k < 0 ? 0 : k >= MOS_GATE_BINS ? MOS_GATE_BINS - 1 : k;
            out->hist[i][k]++;
            out->mean[i] += a;
        }
    }
    for (int i = 0; i < m; i++)
        out->mean[i] /= (float)gt->rows;
}

void mos_ffn_gates(const MosFfn *l, MosGates *out)
{
    ASSERT(l->mixed);
    out->kind = l->kind;
    out->m = l->m;
    mos_gate_summary(&l->g1, l->m, &out->fc1);
    mos_gate_summary(l->kind == MOS_NEURON ? &l->g2 : &l->g1, l->m, &out->fc2);
}
