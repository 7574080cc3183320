/* Kernel pairs for the Transformer (see ops.h): embedding, layernorm, relu, dropout, residual,
 * attention, label-smoothed cross-entropy. Plain C loops except attention, which calls
 * ops_blas for its per-head products. No allocation; backward passes accumulate. */
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

void embedding_forward(float *out, const int *tok, const float *E, int ldE, const float *P,
                       int ldP, int B, int T, int C, float scale, int pad)
{
    for (int b = 0; b < B; b++) {
        int pos = pad;
        for (int t = 0; t < T; t++) {
            int id = tok[b * T + t];
            float *o = out + ((size_t)b * T + t) * C;
            const float *e = E + (size_t)id * ldE;
            const float *p = P + (size_t)(id == pad ? pad : ++pos) * ldP;
            for (int c = 0; c < C; c++)
                o[c] = scale * e[c] + p[c];
        }
    }
}

void embedding_backward(float *dE, int ldE, const float *dout, const int *tok, int N, int C,
                        float scale, int pad)
{
    for (int n = 0; n < N; n++) {
        if (tok[n] == pad)
            continue;
        float *de = dE + (size_t)tok[n] * ldE;
        const float *d = dout + (size_t)n * C;
        for (int c = 0; c < C; c++)
            de[c] += scale * d[c];
    }
}

/* ---- layernorm --------------------------------------------------------------------------- */

void layernorm_forward(float *out, float *mean, float *rstd, const float *inp, const float *g,
                       const float *b, int N, int C)
{
    for (int n = 0; n < N; n++) {
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

/* With xh = (x - mean) · rstd and y = g · xh + b, let dxh = g · dy. Then
 * dx = rstd · (dxh - mean_c(dxh) - xh · mean_c(dxh · xh)), dg += dy · xh, db += dy. */
void layernorm_backward(float *dinp, float *dg, float *db, const float *dout, const float *inp,
                        const float *g, const float *mean, const float *rstd, int N, int C)
{
    for (int n = 0; n < N; n++) {
        const float *x = inp + (size_t)n * C, *dy = dout + (size_t)n * C;
        float *dx = dinp + (size_t)n * C;
        float m = mean[n], r = rstd[n];
        double s1 = 0.0, s2 = 0.0;
        for (int c = 0; c < C; c++) {
            float xh = (x[c] - m) * r, dxh = g[c] * dy[c];
            s1 += dxh;
            s2 += dxh * xh;
            dg[c] += dy[c] * xh;
            db[c] += dy[c];
        }
        float m1 = (float)(s1 / C), m2 = (float)(s2 / C);
        for (int c = 0; c < C; c++) {
            float xh = (x[c] - m) * r;
            dx[c] += r * (g[c] * dy[c] - m1 - xh * m2);
        }
    }
}

/* ---- relu, dropout, residual ------------------------------------------------------------- */

void relu_forward(float *x, long N)
{
    for (long i = 0; i < N; i++)
        x[i] = x[i] > 0.0f ? x[i] : 0.0f;
}

void relu_backward_inplace(float *dx, const float *out, long N)
{
    for (long i = 0; i < N; i++)
        dx[i] = out[i] > 0.0f ? dx[i] : 0.0f;
}

/* Keep flags from 16-bit uniforms, four per rng_next: an entry is kept when its draw is at least
 * round(p · 65536), so the keep probability is 1 - that / 65536 and the scale its inverse. */
typedef struct Drops { Rng *rng; uint64_t bits; int left; uint32_t cut; float inv; } Drops;

static Drops drops_init(Rng *rng, float p)
{
    uint32_t cut = (uint32_t)(p * 65536.0f + 0.5f);
    return (Drops){.rng = rng, .cut = cut, .inv = 65536.0f / (float)(65536u - cut)};
}

static inline int drops_keep(Drops *d)
{
    if (!d->left) {
        d->bits = rng_next(d->rng);
        d->left = 4;
    }
    uint32_t u = (uint32_t)(d->bits & 0xffff);
    d->bits >>= 16;
    d->left--;
    return u >= d->cut;
}

void dropout_forward(float *x, uint8_t *mask, long N, float p, Rng *rng)
{
    if (p <= 0.0f)
        return;
    Drops d = drops_init(rng, p);
    for (long i = 0; i < N; i++) {
        mask[i] = (uint8_t)drops_keep(&d);
        x[i] = mask[i] ? x[i] * d.inv : 0.0f;
    }
}

void dropout_backward(float *dx, const uint8_t *mask, long N, float p)
{
    if (p <= 0.0f)
        return;
    float inv = drops_init(NULL, p).inv;
    for (long i = 0; i < N; i++)
        dx[i] = mask[i] ? dx[i] * inv : 0.0f;
}

void residual_forward(float *out, const float *a, const float *b, long N)
{
    for (long i = 0; i < N; i++)
        out[i] = a[i] + b[i];
}

void residual_backward(float *da, float *db, const float *dout, long N)
{
    if (da)
        for (long i = 0; i < N; i++)
            da[i] += dout[i];
    if (db)
        for (long i = 0; i < N; i++)
            db[i] += dout[i];
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

/* Attention dropout on P (Tq · nK) in place, one draw per entry in index order. */
static void attn_dropout(float *P, long n, float p, Rng *rng)
{
    Drops d = drops_init(rng, p);
    for (long i = 0; i < n; i++)
        P[i] = drops_keep(&d) ? P[i] * d.inv : 0.0f;
}

void attention_forward(float *out, const float *q, const float *k, const float *v,
                       const AttnDims *d, float p, Rng *rng, float *scratch)
{
    ASSERT(d->QD % d->NH == 0);
    int HS = d->QD / d->NH, nK = d->nblk * d->Tk;
    for (int b = 0; b < d->B; b++) {
        for (int h = 0; h < d->NH; h++) {
            attn_probs(scratch, q, k, d, b, h);
            if (rng && p > 0.0f)
                attn_dropout(scratch, (long)d->Tq * nK, p, rng);
            float *ob = out + (size_t)b * d->Tq * d->QD + h * HS;
            for (int j = 0; j < d->nblk; j++) {
                const float *vb = v + j * d->blk + (size_t)b * d->kbs * d->ldkv + h * HS;
                blas_gemm(0, 0, d->Tq, HS, d->Tk, 1.0f, scratch + j * d->Tk, nK, vb, d->ldkv,
                          j ? 1.0f : 0.0f, ob, d->QD);
            }
        }
    }
}

/* Per (b, h), with P the probabilities, Pd = dropout(P) and O = Pd V:
 *   dV += Pd^T dO;  dPd = dO V^T;  dP = dPd masked like Pd;
 *   dS = P ∘ (dP - rowsum(dP ∘ P))   (softmax backward; excluded keys have P = 0);
 *   dQ += scale · dS K;  dK += scale · dS^T Q.
 * Pd's zero entries mark dropped keys (a kept entry with P = 0 contributes nothing to dS). */
void attention_backward(float *dq, float *dk, float *dv, const float *dout, const float *q,
                        const float *k, const float *v, const AttnDims *d, float p,
                        const Rng *rng_saved, float *scratch)
{
    int HS = d->QD / d->NH, nK = d->nblk * d->Tk;
    long n = (long)d->Tq * nK;
    float *P = scratch, *Pd = scratch + n, *dP = scratch + 2 * n;
    float scale = 1.0f / sqrtf((float)HS);
    int drop = rng_saved && p > 0.0f;
    Rng rng = drop ? *rng_saved : (Rng){{0}};
    for (int b = 0; b < d->B; b++) {
        for (int h = 0; h < d->NH; h++) {
            attn_probs(P, q, k, d, b, h);
            if (drop) {
                memcpy(Pd, P, (size_t)n * sizeof *P);
                attn_dropout(Pd, n, p, &rng);
            }
            const float *pd = drop ? Pd : P;
            const float *dob = dout + (size_t)b * d->Tq * d->QD + h * HS;
            const float *qb = q + (size_t)b * d->Tq * d->ldq + h * HS;
            float *dqb = dq + (size_t)b * d->Tq * d->ldq + h * HS;
            for (int j = 0; j < d->nblk; j++) {
                size_t off = j * d->blk + (size_t)b * d->kbs * d->ldkv + h * HS;
                blas_gemm(1, 0, d->Tk, HS, d->Tq, 1.0f, pd + j * d->Tk, nK, dob, d->QD, 1.0f,
                          dv + off, d->ldkv);
                blas_gemm(0, 1, d->Tq, d->Tk, HS, 1.0f, dob, d->QD, v + off, d->ldkv, 0.0f,
                          dP + j * d->Tk, nK);
            }
            float inv = drop ? drops_init(NULL, p).inv : 1.0f;
            for (int i = 0; i < d->Tq; i++) {
                float *dpr = dP + (size_t)i * nK;
                const float *pr = P + (size_t)i * nK, *pdr = pd + (size_t)i * nK;
                double dot = 0.0;
                for (int c = 0; c < nK; c++) {
                    if (drop)
                        dpr[c] = pdr[c] != 0.0f ? dpr[c] * inv : 0.0f;
                    dot += (double)dpr[c] * pr[c];
                }
                for (int c = 0; c < nK; c++)
                    dpr[c] = pr[c] * (dpr[c] - (float)dot);
            }
            for (int j = 0; j < d->nblk; j++) {
                size_t off = j * d->blk + (size_t)b * d->kbs * d->ldkv + h * HS;
                blas_gemm(0, 0, d->Tq, HS, d->Tk, scale, dP + j * d->Tk, nK, k + off, d->ldkv,
                          1.0f, dqb, d->ldq);
                blas_gemm(1, 0, d->Tk, HS, d->Tq, scale, dP + j * d->Tk, nK, qb, d->ldq, 1.0f,
                          dk + off, d->ldkv);
            }
        }
    }
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

double xent_forward(float *logits, const int *target, int N, int V, float eps, int pad,
                    double *nll)
{
    double loss = 0.0;
    for (int n = 0; n < N; n++) {
        float *z = logits + (size_t)n * V;
        float mx = row_max(z, V);
        int y = target[n];
        float zy = z[y];
        double zsum = row_sum(z, V);
        for (int c = 0; c < V; c++)
            z[c] = exp_neg(z[c] - mx);
        double sum = row_sum(z, V);
        double lse = mx + log(sum);
        if (y != pad) {
            double nl = lse - zy;
            loss += (1.0 - eps) * nl + (eps / V) * (V * lse - zsum);
            if (nll)
                *nll += nl;
        }
        float inv = (float)(1.0 / sum);
        for (int c = 0; c < V; c++)
            z[c] *= inv;
    }
    return loss;
}

void xent_backward(float *probs, const int *target, int N, int V, float eps, int pad,
                   float dloss)
{
    float smooth = eps / V;
    for (int n = 0; n < N; n++) {
        float *p = probs + (size_t)n * V;
        int y = target[n];
        if (y == pad) {
            memset(p, 0, (size_t)V * sizeof *p);
            continue;
        }
        for (int c = 0; c < V; c++)
            p[c] = dloss * (p[c] - smooth);
        p[y] -= dloss * (1.0f - eps);
    }
}
