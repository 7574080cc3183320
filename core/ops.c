/* Kernel pairs for the Transformer (see ops.h): embedding, layernorm, relu, dropout, residual,
 * attention, label-smoothed cross-entropy. Plain C loops except attention, which calls
 * ops_blas for its per-head products. Large kernels are split over mos's threads
 * (blas_parallel) so that every output element is computed as in the serial loop: results do not
 * depend on the thread count. No allocation; backward passes accumulate. */
#include "ops.h"

#include <math.h>
#include <string.h>

#include "err.h"
#include "ops_blas.h"

/* ---- positions and embedding ------------------------------------------------------------- */

void positions_init(float *table, int rows, int C, int pad)
{
    int half = C / 2;
    double step = half > 1 ? log(10000.0) / (half - 1) : 0.0;
    for (int p = 0; p < rows; p++) {
        float *row = table + (size_t)p * C;
        memset(row, 0, (size_t)C * sizeof *row);
        if (p == pad)
            continue;
        for (int i = 0; i < half; i++) {
            double a = p * exp(-step * i);
            row[i] = (float)sin(a);
            row[half + i] = (float)cos(a);
        }
    }
}

typedef struct EmbJob {
    float *out, *dE;
    const int *tok;
    const float *E, *P, *dout;
    int ldE, ldP, B, T, C, pad;
    float scale;
} EmbJob;

/* Part p: batch rows of its range (positions count non-pad tokens along a row). */
static void embedding_forward_part(void *arg, int p, int np)
{
    const EmbJob *j = arg;
    const int *tok = j->tok;
    const float *E = j->E, *P = j->P;
    int T = j->T, C = j->C, pad = j->pad;
    float scale = j->scale;
    for (long b = blas_part_lo(j->B, p, np); b < blas_part_lo(j->B, p + 1, np); b++) {
        int pos = pad;
        for (int t = 0; t < T; t++) {
            int id = tok[b * T + t];
            float *o = j->out + ((size_t)b * T + t) * C;
            const float *e = E + (size_t)id * j->ldE;
            const float *pr = P + (size_t)(id == pad ? pad : ++pos) * j->ldP;
            for (int c = 0; c < C; c++)
                o[c] = scale * e[c] + pr[c];
        }
    }
}

void embedding_forward(float *out, const int *tok, const float *E, int ldE, const float *P,
                       int ldP, int B, int T, int C, float scale, int pad)
{
    EmbJob j = {.out = out, .tok = tok, .E = E, .P = P, .ldE = ldE, .ldP = ldP, .B = B, .T = T,
                .C = C, .pad = pad, .scale = scale};
    blas_parallel(embedding_forward_part, &j, (long)B * T * C);
}

/* Part p: its columns of every token's row (tokens repeat, so rows cannot be split). */
static void embedding_backward_part(void *arg, int p, int np)
{
    const EmbJob *j = arg;
    const int *tok = j->tok;
    int c0 = (int)blas_part_lo(j->C, p, np), c1 = (int)blas_part_lo(j->C, p + 1, np);
    int N = j->B, C = j->C, pad = j->pad;
    float scale = j->scale;
    for (int n = 0; n < N; n++) {
        if (tok[n] == pad)
            continue;
        float *de = j->dE + (size_t)tok[n] * j->ldE;
        const float *d = j->dout + (size_t)n * C;
        for (int c = c0; c < c1; c++)
            de[c] += scale * d[c];
    }
}

void embedding_backward(float *dE, int ldE, const float *dout, const int *tok, int N, int C,
                        float scale, int pad)
{
    EmbJob j = {.dE = dE, .dout = dout, .tok = tok, .ldE = ldE, .B = N, .C = C, .pad = pad,
                .scale = scale};
    blas_parallel(embedding_backward_part, &j, (long)N * C);
}

/* ---- layernorm --------------------------------------------------------------------------- */

typedef struct LnJob {
    float *out, *mean, *rstd, *dinp, *dg, *db;
    const float *inp, *g, *b, *dout;
    const float *cmean, *crstd;
    int N, C;
} LnJob;

static void layernorm_forward_part(void *arg, int p, int np)
{
    const LnJob *j = arg;
    int C = j->C;
    const float *inp = j->inp, *g = j->g, *b = j->b;
    float *out = j->out, *mean = j->mean, *rstd = j->rstd;
    for (long n = blas_part_lo(j->N, p, np); n < blas_part_lo(j->N, p + 1, np); n++) {
        const float *x = inp + (size_t)n * C;
        float *y = out + (size_t)n * C;
        double s = 0.0;
        for (int c = 0; c < C; c++)
            s += x[c];
        float m = (float)(s / C);
        double v = 0.0;
        for (int c = 0; c < C; c++)
            v += (double)(x[c] - m) * (x[c] - m);
        float r = 1.0f / sqrtf((float)(v / C) + LN_EPS);
        for (int c = 0; c < C; c++)
            y[c] = (x[c] - m) * r * g[c] + b[c];
        mean[n] = m;
        rstd[n] = r;
    }
}

void layernorm_forward(float *out, float *mean, float *rstd, const float *inp, const float *g,
                       const float *b, int N, int C)
{
    LnJob j = {.out = out, .mean = mean, .rstd = rstd, .inp = inp, .g = g, .b = b, .N = N,
               .C = C};
    blas_parallel(layernorm_forward_part, &j, (long)N * C);
}

/* With xh = (x - mean) · rstd and y = g · xh + b, let dxh = g · dy. Then
 * dx = rstd · (dxh - mean_c(dxh) - xh · mean_c(dxh · xh)), dg += dy · xh, db += dy. */
/* Part p: dx for its rows, then dg and db for its columns over all rows (so every sum runs in
 * row order whatever the split). */
static void layernorm_backward_part(void *arg, int p, int np)
{
    const LnJob *j = arg;
    int C = j->C, N = j->N;
    const float *g = j->g, *inp = j->inp, *dout = j->dout, *mean = j->cmean, *rstd = j->crstd;
    float *dinp = j->dinp, *dg = j->dg, *db = j->db;
    for (long n = blas_part_lo(N, p, np); n < blas_part_lo(N, p + 1, np); n++) {
        const float *x = inp + (size_t)n * C, *dy = dout + (size_t)n * C;
        float *dx = dinp + (size_t)n * C;
        float m = mean[n], r = rstd[n];
        double s1 = 0.0, s2 = 0.0;
        for (int c = 0; c < C; c++) {
            float xh = (x[c] - m) * r, dxh = g[c] * dy[c];
            s1 += dxh;
            s2 += dxh * xh;
        }
        float m1 = (float)(s1 / C), m2 = (float)(s2 / C);
        for (int c = 0; c < C; c++) {
            float xh = (x[c] - m) * r;
            dx[c] += r * (g[c] * dy[c] - m1 - xh * m2);
        }
    }
    int c0 = (int)blas_part_lo(C, p, np), c1 = (int)blas_part_lo(C, p + 1, np);
    for (int n = 0; n < N; n++) {
        const float *x = inp + (size_t)n * C, *dy = dout + (size_t)n * C;
        float m = mean[n], r = rstd[n];
        for (int c = c0; c < c1; c++) {
            dg[c] += dy[c] * ((x[c] - m) * r);
            db[c] += dy[c];
        }
    }
}

void layernorm_backward(float *dinp, float *dg, float *db, const float *dout, const float *inp,
                        const float *g, const float *mean, const float *rstd, int N, int C)
{
    LnJob j = {.dinp = dinp, .dg = dg, .db = db, .dout = dout, .inp = inp, .g = g,
               .cmean = mean, .crstd = rstd, .N = N, .C = C};
    blas_parallel(layernorm_backward_part, &j, 2L * N * C);
}

/* ---- relu, dropout, residual ------------------------------------------------------------- */

/* One split elementwise op over [0, n): out, a, b, mask as each op needs. */
typedef enum ElOp { EL_ZERO, EL_RELU, EL_RELU_BWD, EL_DROP, EL_DROP_BWD, EL_ADD, EL_ACC } ElOp;

/* Keep flags from a counter-based generator: group g = i / 4 of entries takes one splitmix64
 * output of (key, g), entry i its 16 bits at (i % 4) · 16; an entry is kept when those bits are at
 * least cut = round(p · 65536), so the keep probability is 1 - cut / 65536 and the scale its
 * inverse. Any entry's flag is a function of (key, i) alone, so a split needs no shared state. */
typedef struct Drops { uint64_t key; uint32_t cut; float inv; } Drops;

static Drops drops_init(uint64_t key, float p)
{
    uint32_t cut = (uint32_t)(p * 65536.0f + 0.5f);
    return (Drops){.key = key, .cut = cut, .inv = 65536.0f / (float)(65536u - cut)};
}

static inline uint64_t drops_bits(uint64_t key, uint64_t g)
{
    uint64_t z = key + (g + 1) * 0x9e3779b97f4a7c15ULL;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static inline float drops_one(float x, uint64_t bits, uint32_t cut, float inv, uint8_t *m)
{
    int keep = (uint32_t)(bits & 0xffff) >= cut;
    if (m)
        *m = (uint8_t)keep;
    return keep ? x * inv : 0.0f;
}

/* x[t] for t in [0, n) is entry i0 + t: kept ones are scaled by inv, dropped ones zeroed; mask
 * (may be NULL) gets the flags. Whole groups of 4 go through a loop the compiler vectorizes. */
static inline void drops_apply(const Drops *d, long i0, float *x, uint8_t *mask, long n)
{
    uint64_t key = d->key;
    uint32_t cut = d->cut;
    float inv = d->inv;
    long t = 0;
    for (; t < n && ((i0 + t) & 3); t++) {
        long i = i0 + t;
        uint64_t bits = drops_bits(key, (uint64_t)i >> 2) >> (16 * (i & 3));
        x[t] = drops_one(x[t], bits, cut, inv, mask ? mask + t : NULL);
    }
    long ng = (n - t) / 4;
    uint64_t g0 = (uint64_t)(i0 + t) >> 2;
    float *xg = x + t;
    uint8_t *mg = mask ? mask + t : NULL;
    for (long q = 0; q < ng; q++) {
        uint64_t bits = drops_bits(key, g0 + (uint64_t)q);
        for (int k = 0; k < 4; k++)
            xg[4 * q + k] = drops_one(xg[4 * q + k], bits >> (16 * k), cut, inv,
                                      mg ? mg + 4 * q + k : NULL);
    }
    for (t += 4 * ng; t < n; t++) {
        long i = i0 + t;
        uint64_t bits = drops_bits(key, (uint64_t)i >> 2) >> (16 * (i & 3));
        x[t] = drops_one(x[t], bits, cut, inv, mask ? mask + t : NULL);
    }
}

typedef struct ElJob {
    ElOp op;
    float *x;
    const float *a, *b;
    uint8_t *mask;
    long n;
    Drops drops;
} ElJob;

/* Every field is read into a local first: with -fno-strict-aliasing a store through x could
 * otherwise change the job as far as the compiler knows, and the loops would not vectorize. */
static void el_part(void *arg, int p, int np)
{
    const ElJob *j = arg;
    long i0 = blas_part_lo(j->n, p, np), i1 = blas_part_lo(j->n, p + 1, np);
    float *x = j->x, inv = j->drops.inv;
    const float *a = j->a, *b = j->b;
    const uint8_t *mask = j->mask;
    switch (j->op) {
    case EL_ZERO:
        memset(x + i0, 0, (size_t)(i1 - i0) * sizeof *x);
        break;
    case EL_RELU:
        for (long i = i0; i < i1; i++)
            x[i] = x[i] > 0.0f ? x[i] : 0.0f;
        break;
    case EL_RELU_BWD:
        for (long i = i0; i < i1; i++)
            x[i] = a[i] > 0.0f ? x[i] : 0.0f;
        break;
    case EL_DROP: {
        Drops d = j->drops;
        drops_apply(&d, i0, x + i0, j->mask + i0, i1 - i0);
        break;
    }
    case EL_DROP_BWD:
        for (long i = i0; i < i1; i++)
            x[i] = mask[i] ? x[i] * inv : 0.0f;
        break;
    case EL_ADD:
        for (long i = i0; i < i1; i++)
            x[i] = a[i] + b[i];
        break;
    case EL_ACC:
        for (long i = i0; i < i1; i++)
            x[i] += a[i];
        break;
    }
}

static void el_run(ElJob j)
{
    blas_parallel(el_part, &j, j.n);
}

void ops_zero(float *x, long N)
{
    el_run((ElJob){.op = EL_ZERO, .x = x, .n = N});
}

void relu_forward(float *x, long N)
{
    el_run((ElJob){.op = EL_RELU, .x = x, .n = N});
}

void relu_backward_inplace(float *dx, const float *out, long N)
{
    el_run((ElJob){.op = EL_RELU_BWD, .x = dx, .a = out, .n = N});
}

void dropout_forward(float *x, uint8_t *mask, long N, float p, Rng *rng)
{
    if (p <= 0.0f)
        return;
    el_run((ElJob){.op = EL_DROP, .x = x, .mask = mask, .n = N,
                   .drops = drops_init(rng_next(rng), p)});
}

void dropout_backward(float *dx, const uint8_t *mask, long N, float p)
{
    if (p <= 0.0f)
        return;
    el_run((ElJob){.op = EL_DROP_BWD, .x = dx, .mask = (uint8_t *)mask, .n = N,
                   .drops = drops_init(0, p)});
}

void residual_forward(float *out, const float *a, const float *b, long N)
{
    el_run((ElJob){.op = EL_ADD, .x = out, .a = a, .b = b, .n = N});
}

void residual_backward(float *da, float *db, const float *dout, long N)
{
    if (da)
        el_run((ElJob){.op = EL_ACC, .x = da, .a = dout, .n = N});
    if (db)
        el_run((ElJob){.op = EL_ACC, .x = db, .a = dout, .n = N});
}

/* ---- attention --------------------------------------------------------------------------- */

/* Scores S (Tq, nK) = scale · Q_bh K_bh^T for every key block, masked, then a row softmax.
 * Excluded keys get probability 0; a row with no allowed key is all zeros. */
static void attn_probs(float *S, const float *q, const float *k, const AttnDims *d, int b, int h)
{
    int HS = d->QD / d->NH, nK = d->nblk * d->Tk;
    float scale = 1.0f / sqrtf((float)HS);
    const float *qb = q + (size_t)b * d->Tq * d->ldq + h * HS;
    for (int j = 0; j < d->nblk; j++) {
        const float *kb = k + j * d->blk + (size_t)b * d->kbs * d->ldkv + h * HS;
        blas_gemm(0, 1, d->Tq, d->Tk, HS, scale, qb, d->ldq, kb, d->ldkv, 0.0f, S + j * d->Tk,
                  nK);
    }
    const int *kt = d->key_tok ? d->key_tok + (size_t)b * d->kbs : NULL;
    for (int i = 0; i < d->Tq; i++) {
        float *s = S + (size_t)i * nK;
        int last = d->causal ? i + d->Tk - d->Tq : d->Tk - 1;
        float mx = -INFINITY;
        for (int c = 0; c < nK; c++) {
            int t = c % d->Tk;
            if (t > last || (kt && kt[t] == d->pad))
                s[c] = -INFINITY;
            else if (s[c] > mx)
                mx = s[c];
        }
        if (mx == -INFINITY) {
            memset(s, 0, (size_t)nK * sizeof *s);
            continue;
        }
        double sum = 0.0;
        for (int c = 0; c < nK; c++) {
            s[c] = s[c] == -INFINITY ? 0.0f : expf(s[c] - mx);
            sum += s[c];
        }
        float inv = (float)(1.0 / sum);
        for (int c = 0; c < nK; c++)
            s[c] *= inv;
    }
}

/* Attention dropout on P (Tq · nK) of (b, h) in place: entries are numbered in (b, h, i, key)
 * order over the whole call, so every block's draws are its own whatever the split. */
static void attn_dropout(float *P, const AttnDims *d, int b, int h, const Drops *dr)
{
    long n = (long)d->Tq * d->nblk * d->Tk;
    drops_apply(dr, ((long)b * d->NH + h) * n, P, NULL, n);
}

typedef struct AttnJob {
    const AttnDims *d;
    float *out, *dq, *dk, *dv, *scratch;
    const float *q, *k, *v, *dout;
    float p;
    int drop;
    Drops drops;
} AttnJob;

/* The batch rows of part p and its scratch block: parts beyond the scratch blocks get none. */
static float *attn_rows(const AttnDims *d, float *scratch, int p, int np, int *b0, int *b1)
{
    int ns = d->nscratch > 1 ? d->nscratch : 1;
    if (np > ns)
        np = ns;
    *b0 = p < np ? (int)blas_part_lo(d->B, p, np) : 0;
    *b1 = p < np ? (int)blas_part_lo(d->B, p + 1, np) : 0;
    return scratch + (size_t)(p < np ? p : 0) * 3 * d->Tq * d->nblk * d->Tk;
}

static void attention_forward_part(void *arg, int p, int np)
{
    const AttnJob *j = arg;
    const AttnDims *d = j->d;
    int HS = d->QD / d->NH, nK = d->nblk * d->Tk, b0, b1;
    float *S = attn_rows(d, j->scratch, p, np, &b0, &b1);
    for (int b = b0; b < b1; b++) {
        for (int h = 0; h < d->NH; h++) {
            attn_probs(S, j->q, j->k, d, b, h);
            if (j->drop)
                attn_dropout(S, d, b, h, &j->drops);
            float *ob = j->out + (size_t)b * d->Tq * d->QD + h * HS;
            for (int jb = 0; jb < d->nblk; jb++) {
                const float *vb = j->v + jb * d->blk + (size_t)b * d->kbs * d->ldkv + h * HS;
                blas_gemm(0, 0, d->Tq, HS, d->Tk, 1.0f, S + jb * d->Tk, nK, vb, d->ldkv,
                          jb ? 1.0f : 0.0f, ob, d->QD);
            }
        }
    }
}

void attention_forward(float *out, const float *q, const float *k, const float *v,
                       const AttnDims *d, float p, Rng *rng, float *scratch)
{
    ASSERT(d->QD % d->NH == 0);
    int drop = rng && p > 0.0f;
    AttnJob j = {.d = d, .out = out, .q = q, .k = k, .v = v, .scratch = scratch, .p = p,
                 .drop = drop, .drops = drops_init(drop ? rng_next(rng) : 0, p)};
    long work = d->nscratch > 1 ? (long)d->B * d->NH * d->Tq * d->nblk * d->Tk * 8 : 0;
    blas_parallel(attention_forward_part, &j, work);
}

/* Per (b, h), with P the probabilities, Pd = dropout(P) and O = Pd V:
 *   dV += Pd^T dO;  dPd = dO V^T;  dP = dPd masked like Pd;
 *   dS = P ∘ (dP - rowsum(dP ∘ P))   (softmax backward; excluded keys have P = 0);
 *   dQ += scale · dS K;  dK += scale · dS^T Q.
 * Pd's zero entries mark dropped keys (a kept entry with P = 0 contributes nothing to dS).
 * Batch rows are disjoint between parts, and so are their rows of dq, dk, dv. */
static void attention_backward_part(void *arg, int p_, int np)
{
    const AttnJob *j = arg;
    const AttnDims *d = j->d;
    int HS = d->QD / d->NH, nK = d->nblk * d->Tk, b0, b1;
    float *P = attn_rows(d, j->scratch, p_, np, &b0, &b1);
    long n = (long)d->Tq * nK;
    float *Pd = P + n, *dP = P + 2 * n;
    float scale = 1.0f / sqrtf((float)HS), inv = j->drop ? j->drops.inv : 1.0f;
    for (int b = b0; b < b1; b++) {
        for (int h = 0; h < d->NH; h++) {
            attn_probs(P, j->q, j->k, d, b, h);
            if (j->drop) {
                memcpy(Pd, P, (size_t)n * sizeof *P);
                attn_dropout(Pd, d, b, h, &j->drops);
            }
            const float *pd = j->drop ? Pd : P;
            const float *dob = j->dout + (size_t)b * d->Tq * d->QD + h * HS;
            const float *qb = j->q + (size_t)b * d->Tq * d->ldq + h * HS;
            float *dqb = j->dq + (size_t)b * d->Tq * d->ldq + h * HS;
            for (int jb = 0; jb < d->nblk; jb++) {
                size_t off = jb * d->blk + (size_t)b * d->kbs * d->ldkv + h * HS;
                blas_gemm(1, 0, d->Tk, HS, d->Tq, 1.0f, pd + jb * d->Tk, nK, dob, d->QD, 1.0f,
                          j->dv + off, d->ldkv);
                blas_gemm(0, 1, d->Tq, d->Tk, HS, 1.0f, dob, d->QD, j->v + off, d->ldkv, 0.0f,
                          dP + jb * d->Tk, nK);
            }
            for (int i = 0; i < d->Tq; i++) {
                float *dpr = dP + (size_t)i * nK;
                const float *pr = P + (size_t)i * nK, *pdr = pd + (size_t)i * nK;
                double dot = 0.0;
                for (int c = 0; c < nK; c++) {
                    if (j->drop)
                        dpr[c] = pdr[c] != 0.0f ? dpr[c] * inv : 0.0f;
                    dot += (double)dpr[c] * pr[c];
                }
                for (int c = 0; c < nK; c++)
                    dpr[c] = pr[c] * (dpr[c] - (float)dot);
            }
            for (int jb = 0; jb < d->nblk; jb++) {
                size_t off = jb * d->blk + (size_t)b * d->kbs * d->ldkv + h * HS;
                blas_gemm(0, 0, d->Tq, HS, d->Tk, scale, dP + jb * d->Tk, nK, j->k + off,
                          d->ldkv, 1.0f, dqb, d->ldq);
                blas_gemm(1, 0, d->Tk, HS, d->Tq, scale, dP + jb * d->Tk, nK, qb, d->ldq, 1.0f,
                          j->dk + off, d->ldkv);
            }
        }
    }
}

void attention_backward(float *dq, float *dk, float *dv, const float *dout, const float *q,
                        const float *k, const float *v, const AttnDims *d, float p,
                        const Rng *rng_saved, float *scratch)
{
    int drop = rng_saved && p > 0.0f;
    Rng rng = drop ? *rng_saved : (Rng){{0}};
    AttnJob j = {.d = d, .dq = dq, .dk = dk, .dv = dv, .dout = dout, .q = q, .k = k, .v = v,
                 .scratch = scratch, .p = p, .drop = drop,
                 .drops = drops_init(drop ? rng_next(&rng) : 0, p)};
    /* kbs = 0 (rows sharing keys) would have parts adding into the same dk, dv rows */
    long work = (long)d->B * d->NH * d->Tq * d->nblk * d->Tk * 16;
    if (d->nscratch <= 1 || d->kbs == 0)
        work = 0;
    blas_parallel(attention_backward_part, &j, work);
}

/* ---- exp and label-smoothed cross-entropy ------------------------------------------------ */

static inline float exp_neg(float x)
{
    x = x < -87.0f ? -87.0f : x;
    /* round to nearest by the 1.5·2^23 trick (floorf would stop the loops vectorizing) */
    float n = (x * 1.44269504088896341f + 12582912.0f) - 12582912.0f;
    float r = (x - n * 0.693145751953125f) - n * 1.42860682030941723212e-6f;
    float p = 1.0f / 5040.0f;
    p = p * r + 1.0f / 720.0f;
    p = p * r + 1.0f / 120.0f;
    p = p * r + 1.0f / 24.0f;
    p = p * r + 1.0f / 6.0f;
    p = p * r + 0.5f;
    p = p * r + 1.0f;
    p = p * r + 1.0f;
    int32_t bits = ((int32_t)n + 127) << 23;
    float scale;
    memcpy(&scale, &bits, sizeof scale);
    return p * scale;
}

float ops_exp(float x)
{
    return exp_neg(x);
}

#define LANES 16

/* Row max and sum in LANES independent partial results so that the loops vectorize. */
static float row_max(const float *z, int V)
{
    float m[LANES];
    for (int l = 0; l < LANES; l++)
        m[l] = z[0];
    int c = 0;
    for (; c + LANES <= V; c += LANES)
        for (int l = 0; l < LANES; l++)
            m[l] = z[c + l] > m[l] ? z[c + l] : m[l];
    for (; c < V; c++)
        m[0] = z[c] > m[0] ? z[c] : m[0];
    float mx = m[0];
    for (int l = 1; l < LANES; l++)
        mx = m[l] > mx ? m[l] : mx;
    return mx;
}

static double row_sum(const float *z, int V)
{
    float a[LANES] = {0};
    int c = 0;
    for (; c + LANES <= V; c += LANES)
        for (int l = 0; l < LANES; l++)
            a[l] += z[c + l];
    double s = 0.0;
    for (; c < V; c++)
        s += z[c];
    for (int l = 0; l < LANES; l++)
        s += a[l];
    return s;
}

float ops_logsumexp(const float *z, int V)
{
    float mx = row_max(z, V), a[LANES] = {0};
    int c = 0;
    for (; c + LANES <= V; c += LANES)
        for (int l = 0; l < LANES; l++)
            a[l] += exp_neg(z[c + l] - mx);
    double s = 0.0;
    for (; c < V; c++)
        s += exp_neg(z[c] - mx);
    for (int l = 0; l < LANES; l++)
        s += a[l];
    return mx + (float)log(s);
}

/* Rows of one split of the loss: per-row loss and -log p_y, summed in row order afterwards. */
#define XENT_ROWS 512

typedef struct XentJob {
    float *z;
    const int *target;
    int rows, V, pad;
    float eps, dloss;
    double *loss, *nll;   /* (rows) */
} XentJob;

static void xent_forward_row(float *z, int y, int V, float eps, int pad, double *loss,
                             double *nll)
{
    float mx = row_max(z, V);
    float zy = z[y];
    double zsum = row_sum(z, V);
    for (int c = 0; c < V; c++)
        z[c] = exp_neg(z[c] - mx);
    double sum = row_sum(z, V);
    double lse = mx + log(sum);
    *loss = *nll = 0.0;
    if (y != pad) {
        double nl = lse - zy;
        *loss = (1.0 - eps) * nl + (eps / V) * (V * lse - zsum);
        *nll = nl;
    }
    float inv = (float)(1.0 / sum);
    for (int c = 0; c < V; c++)
        z[c] *= inv;
}

static void xent_forward_part(void *arg, int p, int np)
{
    const XentJob *j = arg;
    float *z = j->z, eps = j->eps;
    const int *target = j->target;
    int V = j->V, pad = j->pad;
    double *loss = j->loss, *nll = j->nll;
    for (long r = blas_part_lo(j->rows, p, np); r < blas_part_lo(j->rows, p + 1, np); r++)
        xent_forward_row(z + (size_t)r * V, target[r], V, eps, pad, &loss[r], &nll[r]);
}

double xent_forward(float *logits, const int *target, int N, int V, float eps, int pad,
                    double *nll)
{
    double loss = 0.0, rl[XENT_ROWS], rn[XENT_ROWS];
    for (int r0 = 0; r0 < N; r0 += XENT_ROWS) {
        int n = N - r0 < XENT_ROWS ? N - r0 : XENT_ROWS;
        XentJob j = {.z = logits + (size_t)r0 * V, .target = target + r0, .rows = n, .V = V,
                     .pad = pad, .eps = eps, .loss = rl, .nll = rn};
        blas_parallel(xent_forward_part, &j, (long)n * V * 4);
        for (int r = 0; r < n; r++) {
            loss += rl[r];
            if (nll)
                *nll += rn[r];
        }
    }
    return loss;
}

static void xent_backward_part(void *arg, int p, int np)
{
    const XentJob *j = arg;
    int V = j->V, pad = j->pad;
    float smooth = j->eps / V, dloss = j->dloss, hit = dloss * (1.0f - j->eps), *z = j->z;
    const int *target = j->target;
    for (long n = blas_part_lo(j->rows, p, np); n < blas_part_lo(j->rows, p + 1, np); n++) {
        float *pr = z + (size_t)n * V;
        int y = target[n];
        if (y == pad) {
            memset(pr, 0, (size_t)V * sizeof *pr);
            continue;
        }
        for (int c = 0; c < V; c++)
            pr[c] = dloss * (pr[c] - smooth);
        pr[y] -= hit;
    }
}

void xent_backward(float *probs, const int *target, int N, int V, float eps, int pad,
                   float dloss)
{
    XentJob j = {.z = probs, .target = target, .rows = N, .V = V, .pad = pad, .eps = eps,
                 .dloss = dloss};
    blas_parallel(xent_backward_part, &j, (long)N * V);
}
