/* Translation with a subnet: the encoder runs once (batch of one), then the decoder runs one
 * position at a time for `beam` hypotheses with a key/value cache per layer (self-attention keys
 * and values of past positions; cross-attention keys and values computed once). Beam search as
 * fairseq: 2·beam candidates per step, an eos candidate finishes a hypothesis only when it ranks
 * within the first beam, scores normalised by len^lenpen; beam 1 is greedy. Also the scoring
 * helper supernet_logprobs (full forward, used by tests and evaluation). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ops.h"
#include "ops_blas.h"
#include "supernet_impl.h"

typedef struct Cut { float *base; size_t n; } Cut;

static float *cut(Cut *c, size_t n)
{
    float *r = c->base ? c->base + c->n : NULL;
    c->n += (n + 15) & ~(size_t)15;
    return r;
}

/* Lays the workspace out (base NULL: only counts floats). */
static size_t dws_layout(Supernet *s, DecodeWs *w, float *base, int beam, int cap, int src_cap)
{
    Cut c = {.base = base}, *p = &c;
    size_t K = (size_t)beam, Q = (size_t)s->Q, D = (size_t)s->Dd;
    for (int l = 0; l < s->Ld; l++)
        w->kv[l] = cut(p, K * cap * 2 * Q);
    w->kvspare = cut(p, K * cap * 2 * Q);
    for (int l = 0; l < s->Ld; l++)
        w->ckv[l] = cut(p, 3 * (size_t)src_cap * 2 * Q);
    float **rows[] = {&w->x, &w->ya, &w->yb, &w->x2a, &w->x2b, &w->x2c, &w->tmp};
    for (int i = 0; i < 7; i++)
        *rows[i] = cut(p, K * D);
    w->mean = cut(p, K);
    w->rstd = cut(p, K);
    w->qkv = cut(p, K * 3 * Q);
    w->att = cut(p, K * Q);
    w->cq = cut(p, K * Q);
    w->catt = cut(p, K * Q);
    w->f = cut(p, K * (size_t)s->Fd);
    w->logits = cut(p, K * s->V);
    w->scratch = cut(p, (size_t)(cap > 3 * src_cap ? cap : 3 * src_cap));
    w->score = cut(p, K);
    w->cand_s = cut(p, 2 * K);
    return c.n;
}

static int dws_reserve(Supernet *s, int beam, int cap, int src_cap)
{
    DecodeWs *w = &s->dws;
    if (w->block && beam <= w->beam && cap <= w->cap && src_cap <= w->src_cap)
        return 0;
    beam = beam > w->beam ? beam : w->beam;
    cap = cap > w->cap ? cap : w->cap;
    src_cap = src_cap > w->src_cap ? src_cap : w->src_cap;
    DecodeWs probe = {0};
    size_t n = dws_layout(s, &probe, NULL, beam, cap, src_cap);
    float *block = malloc(n * sizeof(float));
    int *iblock = malloc(((size_t)src_cap + 2 * (size_t)beam * cap + 4 * (size_t)beam + cap) *
                         sizeof(int));
    if (!block || !iblock) {
        free(block);
        free(iblock);
        return -1;
    }
    free(w->block);
    free(w->iblock);
    dws_layout(s, w, block, beam, cap, src_cap);
    w->block = block;
    w->iblock = iblock;
    w->src = iblock;
    w->tok = w->src + src_cap;
    w->tokspare = w->tok + (size_t)beam * cap;
    w->cand_k = w->tokspare + (size_t)beam * cap;
    w->cand_v = w->cand_k + 2 * (size_t)beam;
    w->best = w->cand_v + 2 * (size_t)beam;
    w->beam = beam;
    w->cap = cap;
    w->src_cap = src_cap;
    return 0;
}

/* ---- one decoder position for K hypotheses ----------------------------------------------- */

/* x (K, d) = sqrt(d) E[tok] + positions row pad + 1 + t (fairseq's position of step t). */
static void embed_step(Supernet *s, float *x, const int *tok, int K, int t, int d)
{
    const float *E = s->params + s->embed;
    const float *P = s->pos_d + (size_t)(s->cfg.pad_id + 1 + t) * s->Dd;
    float scale = sqrtf((float)d);
    for (int k = 0; k < K; k++) {
        const float *e = E + (size_t)tok[k] * s->Dm;
        for (int c = 0; c < d; c++)
            x[(size_t)k * d + c] = scale * e[c] + P[c];
    }
}

static void self_step(Supernet *s, const DecView *v, const SubAct *sa, int l, int K, int t)
{
    DecodeWs *w = &s->dws;
    int d = v->d, Q = s->Q, pre = s->cfg.pre_ln;
    const float *h = sub_begin(sa, &v->ln1, w->x, K, d, pre);
    linear_forward(w->qkv, h, v->qkv.w, v->qkv.ldw, v->qkv.b, K, d, 3 * Q);
    float *cache = w->kv[l];
    for (int k = 0; k < K; k++)
        memcpy(cache + ((size_t)k * w->cap + t) * 2 * Q, w->qkv + (size_t)k * 3 * Q + Q,
               2 * (size_t)Q * sizeof(float));
    AttnDims ad = {.B = K, .Tq = 1, .Tk = t + 1, .nblk = 1, .NH = v->NH, .QD = Q,
                   .ldq = 3 * Q, .ldkv = 2 * Q, .kbs = w->cap, .pad = s->cfg.pad_id};
    attention_forward(w->att, w->qkv, cache, cache + Q, &ad, 0.0f, NULL, w->scratch);
    linear_forward(w->tmp, w->att, v->out.w, v->out.ldw, v->out.b, K, Q, d);
    sub_end(sa, &v->ln1, w->x, w->tmp, K, d, pre, 0.0f, NULL);
}

static void cross_step(Supernet *s, const DecView *v, const SubAct *ca, int l, int K, int Ts)
{
    DecodeWs *w = &s->dws;
    int d = v->d, Q = s->Q, pre = s->cfg.pre_ln;
    const float *h = sub_begin(ca, &v->ln2, w->ya, K, d, pre);
    linear_forward(w->cq, h, v->eq.w, v->eq.ldw, v->eq.b, K, d, Q);
    AttnDims cd = supernet_cross_dims(K, 1, Ts, v, Q, NULL, s->cfg.pad_id, 0, Ts);
    attention_forward(w->catt, w->cq, w->ckv[l], w->ckv[l] + Q, &cd, 0.0f, NULL, w->scratch);
    linear_forward(w->tmp, w->catt, v->eout.w, v->eout.ldw, v->eout.b, K, Q, d);
    sub_end(ca, &v->ln2, w->ya, w->tmp, K, d, pre, 0.0f, NULL);
}

/* Decoder layer l at position t: w->x in, w->x out (through ya, yb). */
static void layer_step(Supernet *s, const DecView *v, int l, int K, int t, int Ts)
{
    DecodeWs *w = &s->dws;
    int d = v->d, pre = s->cfg.pre_ln;
    SubAct sa = {.x2 = w->x2a, .out = w->ya, .mean = w->mean, .rstd = w->rstd};
    SubAct ca = {.x2 = w->x2b, .out = w->yb, .mean = w->mean, .rstd = w->rstd};
    SubAct ff = {.x2 = w->x2c, .out = w->x, .mean = w->mean, .rstd = w->rstd};
    self_step(s, v, &sa, l, K, t);
    cross_step(s, v, &ca, l, K, Ts);
    const float *h = sub_begin(&ff, &v->ln3, w->yb, K, d, pre);
    linear_forward(w->f, h, v->ffn.w1, v->ffn.ldw1, v->ffn.b1, K, d, v->F);
    relu_forward(w->f, (long)K * v->F);
    linear_forward(w->tmp, w->f, v->ffn.w2, v->ffn.ldw2, v->ffn.b2, K, v->F, d);
    sub_end(&ff, &v->ln3, w->yb, w->tmp, K, d, pre, 0.0f, NULL);
}

static void log_softmax_rows(float *z, int N, int V)
{
    for (int n = 0; n < N; n++) {
        float *r = z + (size_t)n * V, lse = ops_logsumexp(r, V);
        for (int c = 0; c < V; c++)
            r[c] -= lse;
    }
}

/* Log-probabilities (K, V) of the next token for the K hypotheses whose last tokens are tok. */
static void decoder_step(Supernet *s, const Arch *a, const int *tok, int K, int t, int Ts)
{
    DecodeWs *w = &s->dws;
    int d = a->dec_embed;
    embed_step(s, w->x, tok, K, t, d);
    for (int l = 0; l < a->dec_layers; l++)
        layer_step(s, &s->acts.dv[l], l, K, t, Ts);
    const float *h = w->x;
    if (s->cfg.pre_ln) {
        layernorm_forward(w->tmp, w->mean, w->rstd, w->x, s->params + s->dec_ln.g,
                          s->params + s->dec_ln.b, K, d);
        h = w->tmp;
    }
    linear_forward(w->logits, h, s->params + s->embed, s->Dm, NULL, K, d, s->V);
    log_softmax_rows(w->logits, K, s->V);
}

/* ---- beam search ------------------------------------------------------------------------- */

/* The 2K best (hypothesis, token) continuations by cumulative score, best first, among the
 * Kact live hypotheses; pad and bos are never proposed; only_eos forces the end, no_eos forbids
 * it (min_len). Returns how many were found. */
static int top_candidates(DecodeWs *w, int Kact, int K2, int V, int pad, int bos, int eos,
                          int only_eos, int no_eos)
{
    int n = 0;
    for (int k = 0; k < Kact; k++) {
        const float *lp = w->logits + (size_t)k * V;
        for (int v = only_eos ? eos : 0; v < (only_eos ? eos + 1 : V); v++) {
            if (v == pad || v == bos || (no_eos && v == eos))
                continue;
            float sc = w->score[k] + lp[v];
            if (n == K2 && sc <= w->cand_s[n - 1])
                continue;
            int i = n < K2 ? n++ : n - 1;
            while (i > 0 && w->cand_s[i - 1] < sc) {
                w->cand_s[i] = w->cand_s[i - 1];
                w->cand_k[i] = w->cand_k[i - 1];
                w->cand_v[i] = w->cand_v[i - 1];
                i--;
            }
            w->cand_s[i] = sc;
            w->cand_k[i] = k;
            w->cand_v[i] = v;
        }
    }
    return n;
}

/* Moves hypothesis rows to their new order: caches and token histories (positions 0..t). */
static void reorder(Supernet *s, const int *from, int K, int t, int layers)
{
    DecodeWs *w = &s->dws;
    size_t row = 2 * (size_t)s->Q;
    for (int l = 0; l < layers; l++) {
        for (int k = 0; k < K; k++)
            memcpy(w->kvspare + (size_t)k * w->cap * row, w->kv[l] + (size_t)from[k] * w->cap * row,
                   (size_t)(t + 1) * row * sizeof(float));
        float *old = w->kv[l];
        w->kv[l] = w->kvspare;
        w->kvspare = old;
    }
    for (int k = 0; k < K; k++)
        memcpy(w->tokspare + (size_t)k * w->cap, w->tok + (size_t)from[k] * w->cap,
               (size_t)t * sizeof(int));
    int *old = w->tok;
    w->tok = w->tokspare;
    w->tokspare = old;
}

/* Runs the search over an encoded source of Ts positions; returns the best hypothesis' length
 * (tokens in w->best, eos excluded). */
static int beam_search(Supernet *s, const Arch *a, int K, float lenpen, int maxlen, int minlen,
                       int Ts)
{
    DecodeWs *w = &s->dws;
    const ModelConfig *c = &s->cfg;
    int Kact = 1, nfinal = 0, best_len = 0, from[DECODE_MAX_BEAM], last[DECODE_MAX_BEAM];
    float best = -INFINITY;
    ASSERT(K >= 1 && K <= DECODE_MAX_BEAM);
    w->score[0] = 0.0f;
    last[0] = c->bos_id;
    for (int t = 0; t <= maxlen && Kact > 0 && nfinal < K; t++) {
        decoder_step(s, a, last, Kact, t, Ts);
        int n = top_candidates(w, Kact, 2 * K, s->V, c->pad_id, c->bos_id, c->eos_id,
                               t == maxlen, t < minlen && t < maxlen);
        int next = 0;
        for (int i = 0; i < n && next < K; i++) {
            int k = w->cand_k[i], v = w->cand_v[i];
            if (v == c->eos_id) {
                if (i >= K)
                    continue;
                float norm = w->cand_s[i] / powf((float)(t + 1), lenpen);
                if (norm > best) {
                    best = norm;
                    best_len = t;
                    memcpy(w->best, w->tok + (size_t)k * w->cap, (size_t)t * sizeof(int));
                }
                if (++nfinal >= K)
                    break;
                continue;
            }
            from[next] = k;
            last[next] = v;
            w->score[next] = w->cand_s[i];
            next++;
        }
        if (nfinal >= K || next == 0)
            break;
        reorder(s, from, next, t, a->dec_layers);
        for (int k = 0; k < next; k++)
            w->tok[(size_t)k * w->cap + t] = last[k];
        Kact = next;
    }
    return best_len;
}

static void build_views(Supernet *s, const Arch *a)
{
    for (int l = 0; l < a->enc_layers; l++)
        supernet_enc_view(s, a, l, 0, &s->acts.ev[l]);
    for (int l = 0; l < a->dec_layers; l++)
        supernet_dec_view(s, a, l, 0, &s->acts.dv[l]);
}

static int clamp_beam(int beam)
{
    return beam < 1 ? 1 : beam > DECODE_MAX_BEAM ? DECODE_MAX_BEAM : beam;
}

static int clamp_src(const Supernet *s, int src_len)
{
    src_len = src_len < s->tmax - 1 ? src_len : s->tmax - 1;
    return src_len > 0 ? src_len : 0;
}

/* Reserves the decoding workspace for K hypotheses and cap positions, stores the (clamped)
 * source plus eos and runs the encoder on it; returns the source length Ts, -1 out of memory. */
static int encode_source(Supernet *s, const Arch *a, const int *src, int src_len, int K, int cap)
{
    int Ts = src_len + 1;
    if (dws_reserve(s, K, cap, Ts) < 0)
        return -1;
    DecodeWs *w = &s->dws;
    memcpy(w->src, src, (size_t)src_len * sizeof(int));
    w->src[src_len] = s->cfg.eos_id;
    supernet_carve(s, &s->acts, s->act, s->mask, NULL, 1, Ts, 1, a, 0);
    build_views(s, a);
    supernet_encoder_forward(s, a, w->src, NULL, 0);
    return Ts;
}

/* Every decoder layer's cross-attention keys and values of the encoded source, computed once
 * per sentence (w->ckv[l]: (nblk·Ts, 2Q)). */
static void cross_keys_values(Supernet *s, const Arch *a, int Ts)
{
    DecodeWs *w = &s->dws;
    for (int l = 0; l < a->dec_layers; l++) {
        const DecView *v = &s->acts.dv[l];
        const float *kv = supernet_cross_input(s, s->acts.encout, s->acts.encf, v->nblk);
        linear_forward(w->ckv[l], kv, v->ekv.w, v->ekv.ldw, v->ekv.b, v->nblk * Ts, v->de,
                       2 * s->Q);
    }
}

int supernet_decode(Supernet *s, const Arch *a, const int *src, int src_len,
                    const DecodeOpts *o, int *out, int max_out)
{
    int K = clamp_beam(o->beam);
    src_len = clamp_src(s, src_len);
    long maxlen = (long)o->max_len_a * src_len + o->max_len_b;
    maxlen = maxlen < s->cfg.max_positions - 1 ? maxlen : s->cfg.max_positions - 1;
    maxlen = maxlen > 0 ? maxlen : 0;
    int Ts = encode_source(s, a, src, src_len, K, (int)maxlen + 1);
    if (Ts < 0)
        return -1;
    cross_keys_values(s, a, Ts);
    DecodeWs *w = &s->dws;
    int n = beam_search(s, a, K, o->lenpen, (int)maxlen, o->min_len, Ts);
    n = n < max_out ? n : max_out;
    memcpy(out, w->best, (size_t)(n > 0 ? n : 0) * sizeof(int));
    return n;
}

void supernet_logprobs(Supernet *s, const Arch *a, const Batch *b, int t, float *out)
{
    ASSERT(t >= 0 && t < b->Tt);
    ASSERT((long)b->B * b->Ts <= s->max_tokens && (long)b->B * b->Tt <= s->max_tokens);
    ASSERT(b->Ts <= s->tmax && b->Tt <= s->tmax);
    supernet_carve(s, &s->acts, s->act, s->mask, NULL, b->B, b->Ts, b->Tt, a, 0);
    build_views(s, a);
    supernet_encoder_forward(s, a, b->src, NULL, 0);
    supernet_decoder_forward(s, a, b->src, b->tgt_in, NULL, 0);
    Acts *x = &s->acts;
    int dd = a->dec_embed;
    const float *h = s->cfg.pre_ln ? x->decf : x->dec[a->dec_layers - 1].ff.out;
    for (int r = 0; r < b->B; r++)
        linear_forward(out + (size_t)r * s->V, h + ((size_t)r * b->Tt + t) * dd,
                       s->params + s->embed, s->Dm, NULL, 1, dd, s->V);
    log_softmax_rows(out, b->B, s->V);
}

/* ---- latency measurement (HAT's protocol, core/latency.c) ---------------------------------- */

int supernet_latency_encode(Supernet *s, const Arch *a, const int *src, int src_len, int beam,
                            int steps)
{
    steps = steps < s->cfg.max_positions - 1 ? steps : s->cfg.max_positions - 1;
    return encode_source(s, a, src, clamp_src(s, src_len), clamp_beam(beam), steps + 1);
}

/* Beam search's work without its end: every step keeps the K best non-eos continuations, so
 * exactly `steps` steps run whatever the weights predict. */
void supernet_latency_decode(Supernet *s, const Arch *a, int Ts, int beam, int steps)
{
    DecodeWs *w = &s->dws;
    const ModelConfig *c = &s->cfg;
    int K = clamp_beam(beam);
    int from[DECODE_MAX_BEAM], last[DECODE_MAX_BEAM];
    steps = steps < w->cap ? steps : w->cap - 1;
    ASSERT(K <= w->beam && Ts <= w->src_cap);
    cross_keys_values(s, a, Ts);
    for (int k = 0; k < K; k++) {
        w->score[k] = 0.0f;
        last[k] = c->bos_id;
    }
    for (int t = 0; t < steps; t++) {
        decoder_step(s, a, last, K, t, Ts);
        int n = top_candidates(w, K, 2 * K, s->V, c->pad_id, c->bos_id, c->eos_id, 0, 0);
        int next = 0;
        for (int i = 0; i < n && next < K; i++) {
            if (w->cand_v[i] == c->eos_id)
                continue;
            from[next] = w->cand_k[i];
            last[next] = w->cand_v[i];
            w->score[next] = w->cand_s[i];
            next++;
        }
        ASSERT(next == K);   /* 2K candidates hold at most K eos (one per hypothesis) */
        reorder(s, from, K, t, a->dec_layers);
        for (int k = 0; k < K; k++)
            w->tok[(size_t)k * w->cap + t] = last[k];
    }
}
