/* Every kernel pair of core/ops.h and core/ops_blas.h against central finite differences of a
 * random projection L = sum_i w_i out_i (accumulated in double), at several shapes: strided
 * (sliced) linear weights, layernorm, embedding with positions, relu, dropout, residual,
 * attention (self, causal, key padding, cross-attention over 1-3 concatenated blocks, attention
 * dropout replay, one-row queries) and label-smoothed cross-entropy. Also checks that the
 * backward passes accumulate rather than overwrite. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "ops.h"
#include "ops_blas.h"

/* A kernel under test: fwd computes outputs from the current inputs and returns
 * L = sum w·out; bwd adds dL/dinput into the grads (same layout as the inputs). */
typedef struct Case {
    float *in[4];
    float *grad[4];
    long n[4];
    int nin;
    double (*fwd)(struct Case *c);
    void (*bwd)(struct Case *c);
    void *ctx;
} Case;

static Rng rng_fill;

static float *rnd(long n, float scale)
{
    float *p = malloc((size_t)(n > 0 ? n : 1) * sizeof *p);
    for (long i = 0; i < n; i++)
        p[i] = scale * (2.0f * rng_float(&rng_fill) - 1.0f);
    return p;
}

static double dotw(const float *out, const float *w, long n)
{
    double s = 0.0;
    for (long i = 0; i < n; i++)
        s += (double)out[i] * w[i];
    return s;
}

/* Checks every input entry (or a stride of them for large inputs). Entries where eps and eps/2
 * disagree (a kink was crossed) are skipped; at least 80% must be checked. */
static void check_case(Case *c, float eps, double atol, double rtol)
{
    for (int k = 0; k < c->nin; k++)
        memset(c->grad[k], 0, (size_t)c->n[k] * sizeof(float));
    c->fwd(c);
    c->bwd(c);
    long total = 0, checked = 0;
    for (int k = 0; k < c->nin; k++) {
        long step = c->n[k] > 400 ? c->n[k] / 400 : 1;
        for (long i = 0; i < c->n[k]; i += step) {
            total++;
            float keep = c->in[k][i];
            double fd[2];
            for (int h = 0; h < 2; h++) {
                float e = h ? eps / 2 : eps;
                c->in[k][i] = keep + e;
                double lp = c->fwd(c);
                c->in[k][i] = keep - e;
                double lm = c->fwd(c);
                fd[h] = (lp - lm) / (2.0 * e);
            }
            c->in[k][i] = keep;
            if (fabs(fd[0] - fd[1]) > atol + rtol * fabs(fd[1]))
                continue;
            checked++;
            double an = c->grad[k][i];
            if (fabs(an - fd[1]) > atol + rtol * fabs(fd[1]))
                fail_msg("input %d entry %ld: analytic %.7g numeric %.7g", k, i, an, fd[1]);
        }
    }
    assert_true(checked * 5 >= total * 4);
}

/* ---- linear ------------------------------------------------------------------------------ */

typedef struct LinCtx { int N, C, OC, ldw; float *out, *w; } LinCtx;

static double lin_fwd(Case *c)
{
    LinCtx *x = c->ctx;
    linear_forward(x->out, c->in[0], c->in[1], x->ldw, c->in[2], x->N, x->C, x->OC);
    return dotw(x->out, x->w, (long)x->N * x->OC);
}

static void lin_bwd(Case *c)
{
    LinCtx *x = c->ctx;
    linear_backward(c->grad[0], c->grad[1], c->grad[2], x->w, c->in[0], c->in[1], x->ldw, x->N,
                    x->C, x->OC);
}

static void free_case(Case *c)
{
    for (int k = 0; k < c->nin; k++) {
        free(c->in[k]);
        free(c->grad[k]);
    }
}

static void add_input(Case *c, long n, float scale)
{
    c->in[c->nin] = rnd(n, scale);
    c->grad[c->nin] = calloc((size_t)(n > 0 ? n : 1), sizeof(float));
    c->n[c->nin++] = n;
}

static void linear_pair(void **state)
{
    (void)state;
    const int shapes[][4] = {{1, 5, 3, 7}, {4, 6, 5, 6}, {7, 3, 9, 8}, {2, 8, 1, 10}};
    for (int s = 0; s < 4; s++) {
        LinCtx x = {shapes[s][0], shapes[s][1], shapes[s][2], shapes[s][3], NULL, NULL};
        int OCmax = x.OC + 2;
        x.out = malloc((size_t)x.N * x.OC * sizeof(float));
        x.w = rnd((long)x.N * x.OC, 1.0f);
        Case c = {.fwd = lin_fwd, .bwd = lin_bwd, .ctx = &x};
        add_input(&c, (long)x.N * x.C, 1.0f);
        add_input(&c, (long)OCmax * x.ldw, 0.5f);
        add_input(&c, OCmax, 0.5f);
        check_case(&c, 1e-2f, 1e-3, 1e-3);
        /* outside the slice: no gradient */
        for (int o = 0; o < OCmax; o++)
            for (int i = 0; i < x.ldw; i++)
                if (o >= x.OC || i >= x.C)
                    assert_true(c.grad[1][o * x.ldw + i] == 0.0f);
        /* backward accumulates */
        float g0 = c.grad[1][0];
        lin_bwd(&c);
        assert_float_equal(c.grad[1][0], 2.0f * g0, 1e-5);
        free_case(&c);
        free(x.out);
        free(x.w);
    }
}

/* The FFN's fused pairs equal their compositions bit for bit (linear + relu forward; zeroed
 * input gradient + linear_backward + relu mask), for sliced weights, at a small size and at
 * one large enough to be split, with 1 and 2 threads. */
static void fused_ffn_pairs(void **state)
{
    (void)state;
    const int shapes[][4] = {{3, 5, 7, 6}, {300, 40, 96, 48}};   /* N, C, OC, ldw */
    for (int s = 0; s < 2; s++) {
        int N = shapes[s][0], C = shapes[s][1], OC = shapes[s][2], ldw = shapes[s][3];
        float *inp = rnd((long)N * C, 1.0f), *w = rnd((long)(OC + 1) * ldw, 0.5f);
        float *b = rnd(OC, 0.5f), *dout = rnd((long)N * OC, 1.0f);
        for (long i = 0; i < (long)N * C; i += 3)
            inp[i] = 0.0f;   /* as after a relu: zeros (and negatives) get no gradient */
        size_t no = (size_t)N * OC * sizeof(float), ni = (size_t)N * C * sizeof(float);
        size_t nw = (size_t)(OC + 1) * ldw * sizeof(float);
        float *o1 = malloc(no), *o2 = malloc(no), *d1 = calloc(1, ni), *d2 = malloc(ni);
        float *dw1 = calloc(1, nw), *dw2 = calloc(1, nw);
        float *db1 = calloc(OC, sizeof(float)), *db2 = calloc(OC, sizeof(float));
        for (int t = 1; t <= 2; t++) {
            blas_set_threads(t);
            linear_forward(o1, inp, w, ldw, b, N, C, OC);
            relu_forward(o1, (long)N * OC);
            linear_relu_forward(o2, inp, w, ldw, b, N, C, OC);
            assert_memory_equal(o1, o2, no);
            memset(d1, 0, ni);
            linear_backward(d1, dw1, db1, dout, inp, w, ldw, N, C, OC);
            relu_backward_inplace(d1, inp, (long)N * C);
            for (long i = 0; i < (long)N * C; i++)
                d2[i] = 99.0f;   /* overwritten, not accumulated */
            linear_backward_relu(d2, dw2, db2, dout, inp, w, ldw, N, C, OC);
            assert_memory_equal(d1, d2, ni);
            assert_memory_equal(dw1, dw2, nw);
            assert_memory_equal(db1, db2, (size_t)OC * sizeof(float));
        }
        blas_set_threads(1);
        float *bufs[] = {inp, w, b, dout, o1, o2, d1, d2, dw1, dw2, db1, db2};
        for (int i = 0; i < 12; i++)
            free(bufs[i]);
    }
}

/* ---- layernorm --------------------------------------------------------------------------- */

typedef struct LnCtx { int N, C; float *out, *mean, *rstd, *w; } LnCtx;

static double ln_fwd(Case *c)
{
    LnCtx *x = c->ctx;
    layernorm_forward(x->out, x->mean, x->rstd, c->in[0], c->in[1], c->in[2], x->N, x->C);
    return dotw(x->out, x->w, (long)x->N * x->C);
}

static void ln_bwd(Case *c)
{
    LnCtx *x = c->ctx;
    layernorm_backward(c->grad[0], c->grad[1], c->grad[2], x->w, c->in[0], c->in[1], x->mean,
                       x->rstd, x->N, x->C);
}

static void layernorm_pair(void **state)
{
    (void)state;
    const int shapes[][2] = {{1, 4}, {3, 8}, {5, 17}};
    for (int s = 0; s < 3; s++) {
        LnCtx x = {shapes[s][0], shapes[s][1], NULL, NULL, NULL, NULL};
        x.out = malloc((size_t)x.N * x.C * sizeof(float));
        x.mean = malloc((size_t)x.N * sizeof(float));
        x.rstd = malloc((size_t)x.N * sizeof(float));
        x.w = rnd((long)x.N * x.C, 1.0f);
        Case c = {.fwd = ln_fwd, .bwd = ln_bwd, .ctx = &x};
        add_input(&c, (long)x.N * x.C, 2.0f);
        add_input(&c, x.C, 1.0f);
        add_input(&c, x.C, 1.0f);
        check_case(&c, 1e-2f, 2e-3, 2e-3);
        free_case(&c);
        free(x.out);
        free(x.mean);
        free(x.rstd);
        free(x.w);
    }
}

/* ---- embedding --------------------------------------------------------------------------- */

typedef struct EmbCtx { int B, T, C, ldE, pad; float scale; const int *tok; float *P, *out, *w; }
    EmbCtx;

static double emb_fwd(Case *c)
{
    EmbCtx *x = c->ctx;
    embedding_forward(x->out, x->tok, c->in[0], x->ldE, x->P, x->ldE, x->B, x->T, x->C, x->scale,
                      x->pad);
    return dotw(x->out, x->w, (long)x->B * x->T * x->C);
}

static void emb_bwd(Case *c)
{
    EmbCtx *x = c->ctx;
    embedding_backward(c->grad[0], x->ldE, x->w, x->tok, x->B * x->T, x->C, x->scale, x->pad);
}

static void embedding_pair(void **state)
{
    (void)state;
    static const int tok[8] = {4, 5, 4, 1, 6, 7, 1, 1};   /* pad = 1, two rows of 4 */
    EmbCtx x = {2, 4, 5, 8, 1, sqrtf(5.0f), tok, NULL, NULL, NULL};
    x.P = malloc(16 * 8 * sizeof(float));
    positions_init(x.P, 16, 8, x.pad);
    for (int c = 0; c < 8; c++)
        assert_true(x.P[1 * 8 + c] == 0.0f);   /* the pad row */
    assert_float_equal(x.P[2 * 8 + 0], sinf(2.0f), 1e-6);
    assert_float_equal(x.P[2 * 8 + 4], cosf(2.0f), 1e-6);
    x.out = malloc(8 * 5 * sizeof(float));
    x.w = rnd(40, 1.0f);
    for (int n = 0; n < 8; n++)   /* pad positions read E[pad] but, as PyTorch, train nothing */
        if (tok[n] == x.pad)
            memset(x.w + n * 5, 0, 5 * sizeof(float));
    Case c = {.fwd = emb_fwd, .bwd = emb_bwd, .ctx = &x};
    add_input(&c, 8 * 8, 1.0f);
    check_case(&c, 1e-2f, 1e-3, 1e-3);
    free(x.w);
    x.w = rnd(40, 1.0f);
    emb_bwd(&c);
    for (int i = 0; i < 8; i++)
        assert_true(c.grad[0][1 * 8 + i] == 0.0f);   /* pad row untouched */
    /* positions follow fairseq: row 1 of batch 0 (token 5) is position pad + 2 = 3 */
    emb_fwd(&c);
    assert_float_equal(x.out[1 * 5 + 0], x.scale * c.in[0][5 * 8] + x.P[3 * 8], 1e-5);
    free_case(&c);
    free(x.P);
    free(x.out);
    free(x.w);
}

/* ---- relu, dropout, residual ------------------------------------------------------------- */

typedef struct ElCtx { long N; float p; float *out, *w, *tmp; uint8_t *mask; } ElCtx;

static double relu_fwd(Case *c)
{
    ElCtx *x = c->ctx;
    memcpy(x->out, c->in[0], (size_t)x->N * sizeof(float));
    relu_forward(x->out, x->N);
    return dotw(x->out, x->w, x->N);
}

static void relu_bwd(Case *c)
{
    ElCtx *x = c->ctx;
    memcpy(x->tmp, x->w, (size_t)x->N * sizeof(float));
    relu_backward_inplace(x->tmp, x->out, x->N);
    for (long i = 0; i < x->N; i++)
        c->grad[0][i] += x->tmp[i];
}

static double drop_fwd(Case *c)
{
    ElCtx *x = c->ctx;
    Rng r;
    rng_seed(&r, 3);
    memcpy(x->out, c->in[0], (size_t)x->N * sizeof(float));
    dropout_forward(x->out, x->mask, x->N, x->p, &r);
    return dotw(x->out, x->w, x->N);
}

static void drop_bwd(Case *c)
{
    ElCtx *x = c->ctx;
    memcpy(x->tmp, x->w, (size_t)x->N * sizeof(float));
    dropout_backward(x->tmp, x->mask, x->N, x->p);
    for (long i = 0; i < x->N; i++)
        c->grad[0][i] += x->tmp[i];
}

static double res_fwd(Case *c)
{
    ElCtx *x = c->ctx;
    residual_forward(x->out, c->in[0], c->in[1], x->N);
    return dotw(x->out, x->w, x->N);
}

static void res_bwd(Case *c)
{
    ElCtx *x = c->ctx;
    residual_backward(c->grad[0], c->grad[1], x->w, x->N);
}

static void elementwise_pairs(void **state)
{
    (void)state;
    const long sizes[] = {1, 7, 300};
    for (int s = 0; s < 3; s++) {
        ElCtx x = {sizes[s], 0.3f, NULL, NULL, NULL, NULL};
        x.out = malloc((size_t)x.N * sizeof(float));
        x.tmp = malloc((size_t)x.N * sizeof(float));
        x.mask = malloc((size_t)x.N);
        x.w = rnd(x.N, 1.0f);
        double (*fwd[3])(Case *) = {relu_fwd, drop_fwd, res_fwd};
        void (*bwd[3])(Case *) = {relu_bwd, drop_bwd, res_bwd};
        for (int k = 0; k < 3; k++) {
            Case c = {.fwd = fwd[k], .bwd = bwd[k], .ctx = &x};
            add_input(&c, x.N, 1.0f);
            if (k == 2)
                add_input(&c, x.N, 1.0f);
            check_case(&c, 1e-3f, 1e-3, 1e-3);
            free_case(&c);
        }
        free(x.out);
        free(x.tmp);
        free(x.mask);
        free(x.w);
    }
    /* dropout keeps about 1 - p of the entries and scales them by 1 / (1 - p) */
    long n = 20000, kept = 0;
    float *v = malloc((size_t)n * sizeof *v);
    uint8_t *m = malloc((size_t)n);
    for (long i = 0; i < n; i++)
        v[i] = 1.0f;
    Rng r;
    rng_seed(&r, 11);
    dropout_forward(v, m, n, 0.25f, &r);
    for (long i = 0; i < n; i++) {
        kept += m[i];
        assert_float_equal(v[i], m[i] ? 1.0f / 0.75f : 0.0f, 1e-5);
    }
    assert_in_range(kept, 14700, 15300);
    free(v);
    free(m);
}

/* ---- attention --------------------------------------------------------------------------- */

typedef struct AttCtx { AttnDims d; float p; Rng saved; float *out, *w, *scratch; } AttCtx;

static double att_fwd(Case *c)
{
    AttCtx *x = c->ctx;
    Rng r;
    rng_seed(&r, 21);
    x->saved = r;
    attention_forward(x->out, c->in[0], c->in[1], c->in[2], &x->d, x->p, x->p > 0 ? &r : NULL,
                      x->scratch);
    return dotw(x->out, x->w, (long)x->d.B * x->d.Tq * x->d.QD);
}

static void att_bwd(Case *c)
{
    AttCtx *x = c->ctx;
    attention_backward(c->grad[0], c->grad[1], c->grad[2], x->w, c->in[0], c->in[1], c->in[2],
                       &x->d, x->p, x->p > 0 ? &x->saved : NULL, x->scratch);
}

static void attention_case(AttnDims d, float p)
{
    static const int toks[] = {5, 6, 7, 0, 0, 0, 0, 0, 5, 6, 7, 8, 9, 4, 0, 0, 8, 9, 0, 0};
    d.key_tok = d.key_tok ? toks : NULL;
    d.pad = 0;
    AttCtx x = {.d = d, .p = p};
    long nq = (long)d.B * d.Tq, nk = (d.nblk - 1) * d.blk + (long)d.B * d.kbs * d.ldkv;
    x.out = malloc((size_t)nq * d.QD * sizeof(float));
    x.w = rnd(nq * d.QD, 1.0f);
    x.scratch = malloc((size_t)3 * d.Tq * d.nblk * d.Tk * sizeof(float));
    Case c = {.fwd = att_fwd, .bwd = att_bwd, .ctx = &x};
    add_input(&c, nq * d.ldq, 1.0f);
    add_input(&c, nk, 1.0f);
    add_input(&c, nk, 1.0f);
    check_case(&c, 1e-2f, 1e-3, 2e-3);
    /* a padded key gets no gradient; a query sees no future key */
    if (d.key_tok)
        for (int h = 0; h < d.QD; h++)
            assert_true(c.grad[1][(0 * d.kbs + 3) * d.ldkv + h] == 0.0f);
    float g0 = c.grad[0][0];
    att_bwd(&c);
    assert_float_equal(c.grad[0][0], 2.0f * g0, 1e-5);
    free_case(&c);
    free(x.out);
    free(x.w);
    free(x.scratch);
}

static void attention_self(void **state)
{
    (void)state;
    attention_case((AttnDims){.B = 2, .Tq = 4, .Tk = 4, .nblk = 1, .NH = 2, .QD = 4, .ldq = 5,
                              .ldkv = 6, .kbs = 4, .key_tok = (const int *)1}, 0.0f);
    attention_case((AttnDims){.B = 2, .Tq = 5, .Tk = 5, .nblk = 1, .NH = 3, .QD = 6, .ldq = 6,
                              .ldkv = 6, .kbs = 5, .causal = 1}, 0.0f);
    attention_case((AttnDims){.B = 1, .Tq = 3, .Tk = 3, .nblk = 1, .NH = 1, .QD = 2, .ldq = 2,
                              .ldkv = 2, .kbs = 3, .causal = 1}, 0.0f);
}

static void attention_cross_blocks(void **state)
{
    (void)state;
    for (int nblk = 1; nblk <= 3; nblk++)
        attention_case((AttnDims){.B = 2, .Tq = 3, .Tk = 4, .nblk = nblk, .NH = 2, .QD = 6,
                                  .ldq = 6, .ldkv = 7, .kbs = 4, .blk = 2 * 4 * 7 + 3,
                                  .key_tok = (const int *)1}, 0.0f);
}

static void attention_dropout_replay(void **state)
{
    (void)state;
    attention_case((AttnDims){.B = 2, .Tq = 3, .Tk = 4, .nblk = 2, .NH = 2, .QD = 4, .ldq = 4,
                              .ldkv = 5, .kbs = 4, .blk = 2 * 4 * 5, .key_tok = (const int *)1},
                   0.3f);
    attention_case((AttnDims){.B = 3, .Tq = 6, .Tk = 5, .nblk = 2, .NH = 4, .QD = 8, .ldq = 8,
                              .ldkv = 16, .kbs = 5, .blk = 15 * 16, .key_tok = (const int *)1},
                   0.1f);
    attention_case((AttnDims){.B = 3, .Tq = 6, .Tk = 6, .nblk = 1, .NH = 4, .QD = 8, .ldq = 24,
                              .ldkv = 24, .kbs = 6, .causal = 1}, 0.1f);
    attention_case((AttnDims){.B = 2, .Tq = 4, .Tk = 4, .nblk = 1, .NH = 2, .QD = 4, .ldq = 4,
                              .ldkv = 4, .kbs = 4, .causal = 1}, 0.2f);
}

/* One query row over a cache of 5 of 8 slots, as incremental decoding uses it. */
static void attention_one_row(void **state)
{
    (void)state;
    attention_case((AttnDims){.B = 2, .Tq = 1, .Tk = 5, .nblk = 1, .NH = 2, .QD = 4, .ldq = 4,
                              .ldkv = 8, .kbs = 8, .causal = 1}, 0.0f);
}

/* With equal keys, attention averages the values of the allowed keys only. */
static void attention_masks_average(void **state)
{
    (void)state;
    static const int tok[4] = {5, 6, 0, 0};
    float q[2] = {0.3f, -0.2f}, k[8] = {0}, v[8] = {1, 2, 3, 4, 100, 200, 300, 400};
    float out[2], scratch[12];
    AttnDims d = {.B = 1, .Tq = 1, .Tk = 4, .nblk = 1, .NH = 1, .QD = 2, .ldq = 2, .ldkv = 2,
                  .kbs = 4, .key_tok = tok, .pad = 0};
    attention_forward(out, q, k, v, &d, 0.0f, NULL, scratch);
    assert_float_equal(out[0], 2.0f, 1e-5);
    assert_float_equal(out[1], 3.0f, 1e-5);
    d.key_tok = NULL;
    d.causal = 1;
    d.Tk = 2;   /* query at position 1 sees keys 0 and 1 */
    attention_forward(out, q, k, v, &d, 0.0f, NULL, scratch);
    assert_float_equal(out[0], 2.0f, 1e-5);
}

/* ---- label-smoothed cross-entropy -------------------------------------------------------- */

typedef struct XentCtx { int N, V, pad; float eps; const int *tgt; float *buf; } XentCtx;

static double xent_fwd(Case *c)
{
    XentCtx *x = c->ctx;
    memcpy(x->buf, c->in[0], (size_t)x->N * x->V * sizeof(float));
    return xent_forward(x->buf, x->tgt, x->N, x->V, x->eps, x->pad, NULL);
}

static void xent_bwd(Case *c)
{
    XentCtx *x = c->ctx;
    xent_backward(x->buf, x->tgt, x->N, x->V, x->eps, x->pad, 1.0f);
    for (long i = 0; i < (long)x->N * x->V; i++)
        c->grad[0][i] += x->buf[i];
}

static void xent_pair(void **state)
{
    (void)state;
    static const int tgt[5] = {2, 0, 4, 1, 3};
    const float eps[3] = {0.0f, 0.1f, 0.3f};
    for (int e = 0; e < 3; e++) {
        XentCtx x = {5, 6, 0, eps[e], tgt, NULL};
        x.buf = malloc(30 * sizeof(float));
        Case c = {.fwd = xent_fwd, .bwd = xent_bwd, .ctx = &x};
        add_input(&c, 30, 3.0f);
        check_case(&c, 1e-2f, 1e-3, 1e-3);
        for (int v = 0; v < 6; v++)
            assert_true(c.grad[0][1 * 6 + v] == 0.0f);   /* pad target row */
        /* hand value: row 0, loss = (1-eps) nll + eps/V sum(-log p) */
        float z[6];
        memcpy(z, c.in[0], sizeof z);
        double mx = z[0], s = 0.0, zs = 0.0;
        for (int v = 1; v < 6; v++)
            mx = z[v] > mx ? z[v] : mx;
        for (int v = 0; v < 6; v++) {
            s += exp(z[v] - mx);
            zs += z[v];
        }
        double lse = mx + log(s);
        double want = (1 - eps[e]) * (lse - z[2]) + eps[e] / 6 * (6 * lse - zs);
        double nll = 0.0;
        memcpy(x.buf, c.in[0], 6 * sizeof(float));
        assert_float_equal(xent_forward(x.buf, tgt, 1, 6, eps[e], 0, &nll), want, 1e-5);
        assert_float_equal(nll, lse - z[2], 1e-5);
        free_case(&c);
        free(x.buf);
    }
}

static void exp_accuracy(void **state)
{
    (void)state;
    double worst = 0.0;
    for (int i = 0; i <= 2000000; i++) {
        float x = -87.0f * (float)i / 2000000.0f;
        double want = exp((double)x), got = ops_exp(x);
        double rel = fabs(got - want) / want;
        worst = rel > worst ? rel : worst;
    }
    print_message("ops_exp: worst relative error %.3g on [-87, 0]\n", worst);
    assert_true(worst < 3e-7);
    assert_true(ops_exp(0.0f) == 1.0f);
    float z[37];
    double sum = 0.0;
    for (int i = 0; i < 37; i++) {
        z[i] = 0.37f * (float)(i % 11) - 2.0f + 0.01f * (float)i;
        sum += exp((double)z[i]);
    }
    assert_float_equal(ops_logsumexp(z, 37), log(sum), 1e-5);
    assert_true(ops_exp(-1000.0f) > 0.0f && ops_exp(-1000.0f) < 1e-37f);
}

int main(void)
{
    rng_seed(&rng_fill, 1234);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(linear_pair),
        cmocka_unit_test(fused_ffn_pairs),
        cmocka_unit_test(layernorm_pair),
        cmocka_unit_test(embedding_pair),
        cmocka_unit_test(elementwise_pairs),
        cmocka_unit_test(attention_self),
        cmocka_unit_test(attention_cross_blocks),
        cmocka_unit_test(attention_dropout_replay),
        cmocka_unit_test(attention_one_row),
        cmocka_unit_test(attention_masks_average),
        cmocka_unit_test(xent_pair),
        cmocka_unit_test(exp_accuracy),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
