/* The supernet's memory: parameter layout and HAT init, the view builders (the slicing rule of
 * supernet.h), the activation carving and supernet_step. Forward, backward and decoding live in
 * supernet_fwd.c, supernet_bwd.c and supernet_decode.c. Invariant: after supernet_new nothing
 * here allocates except the decoding workspace on its first use. */
#include "supernet_impl.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ops.h"

/* ---- parameter layout -------------------------------------------------------------------- */

size_t layout_add(ParamLayout *l, InitKind init, const char *name, int ndim, int d0, int d1)
{
    if (l->failed)
        return 0;
    if (l->n == l->cap) {
        int cap = l->cap ? 2 * l->cap : 64;
        NamedTensor *t = realloc(l->t, (size_t)cap * sizeof *t);
        if (t)
            l->t = t;
        InitKind *k = realloc(l->init, (size_t)cap * sizeof *k);
        if (k)
            l->init = k;
        if (!t || !k) {
            l->failed = 1;
            return 0;
        }
        l->cap = cap;
    }
    char *copy = strdup(name);
    if (!copy) {
        l->failed = 1;
        return 0;
    }
    size_t off = (l->total + 15) & ~(size_t)15;
    size_t n = (size_t)d0 * (ndim == 2 ? (size_t)d1 : 1);
    l->t[l->n] = (NamedTensor){.name = copy, .offset = off, .ndim = ndim,
                               .shape = {d0, ndim == 2 ? d1 : 0, 0, 0}};
    l->init[l->n] = init;
    l->n++;
    l->total = off + n;
    return off;
}

static LinP lin_add(ParamLayout *l, const char *prefix, const char *what, int out, int in)
{
    char name[160];
    LinP p = {.out = out, .in = in};
    snprintf(name, sizeof name, "%s.%s.weight", prefix, what);
    p.w = layout_add(l, INIT_XAVIER, name, 2, out, in);
    snprintf(name, sizeof name, "%s.%s.bias", prefix, what);
    p.b = layout_add(l, INIT_ZERO, name, 1, out, 0);
    return p;
}

static LnP ln_add(ParamLayout *l, const char *prefix, const char *what, int d)
{
    char name[160];
    LnP p;
    snprintf(name, sizeof name, "%s.%s.weight", prefix, what);
    p.g = layout_add(l, INIT_ONE, name, 1, d, 0);
    snprintf(name, sizeof name, "%s.%s.bias", prefix, what);
    p.b = layout_add(l, INIT_ZERO, name, 1, d, 0);
    return p;
}

/* Tensor names follow fairseq/HAT; the encoder-decoder attention's q and kv projections are
 * separate tensors because their inputs (decoder and encoder) have different widths. */
static int layout_build(Supernet *s, MosErr *err)
{
    ParamLayout *l = &s->lay;
    char pre[64];
    s->embed = layout_add(l, INIT_EMBED, "embed_tokens.weight", 2, s->V, s->Dm);
    for (int i = 0; i < s->Le; i++) {
        EncLayerP *e = &s->enc[i];
        snprintf(pre, sizeof pre, "encoder.layers.%d", i);
        e->qkv = lin_add(l, pre, "self_attn.in_proj", 3 * s->Q, s->De);
        e->out = lin_add(l, pre, "self_attn.out_proj", s->De, s->Q);
        e->ln1 = ln_add(l, pre, "self_attn_layer_norm", s->De);
        if (ffn_layout(&s->ffn, i, l, pre, s->De, s->Fe, err) < 0)
            return -1;
        e->ln2 = ln_add(l, pre, "final_layer_norm", s->De);
    }
    if (s->cfg.pre_ln)
        s->enc_ln = ln_add(l, "encoder", "layer_norm", s->De);
    for (int i = 0; i < s->Ld; i++) {
        DecLayerP *d = &s->dec[i];
        snprintf(pre, sizeof pre, "decoder.layers.%d", i);
        d->qkv = lin_add(l, pre, "self_attn.in_proj", 3 * s->Q, s->Dd);
        d->out = lin_add(l, pre, "self_attn.out_proj", s->Dd, s->Q);
        d->ln1 = ln_add(l, pre, "self_attn_layer_norm", s->Dd);
        d->eq = lin_add(l, pre, "encoder_attn.q_proj", s->Q, s->Dd);
        d->ekv = lin_add(l, pre, "encoder_attn.kv_proj", 2 * s->Q, s->De);
        d->eout = lin_add(l, pre, "encoder_attn.out_proj", s->Dd, s->Q);
        d->ln2 = ln_add(l, pre, "encoder_attn_layer_norm", s->Dd);
        if (ffn_layout(&s->ffn, s->Le + i, l, pre, s->Dd, s->Fd, err) < 0)
            return -1;
        d->ln3 = ln_add(l, pre, "final_layer_norm", s->Dd);
    }
    if (s->cfg.pre_ln)
        s->dec_ln = ln_add(l, "decoder", "layer_norm", s->Dd);
    return l->failed ? err_set(err, "supernet: out of memory for the parameter layout") : 0;
}

static void init_params(Supernet *s, uint64_t seed)
{
    Rng r;
    rng_seed(&r, seed);
    for (int i = 0; i < s->lay.n; i++) {
        const NamedTensor *t = &s->lay.t[i];
        float *p = s->params + t->offset;
        size_t rows = (size_t)t->shape[0], cols = t->ndim == 2 ? (size_t)t->shape[1] : 1;
        size_t n = rows * cols;
        double bound;
        switch (s->lay.init[i]) {
        case INIT_ZERO: memset(p, 0, n * sizeof *p); break;
        case INIT_ONE: for (size_t k = 0; k < n; k++) p[k] = 1.0f; break;
        case INIT_XAVIER:
            bound = sqrt(6.0 / (double)(rows + cols));
            for (size_t k = 0; k < n; k++) p[k] = (float)((2.0 * rng_float(&r) - 1.0) * bound);
            break;
        case INIT_UNIFORM_FANIN:
            bound = 1.0 / sqrt((double)cols);
            for (size_t k = 0; k < n; k++) p[k] = (float)((2.0 * rng_float(&r) - 1.0) * bound);
            break;
        case INIT_EMBED:
            for (size_t k = 0; k < n; k++) p[k] = rng_normal(&r) / sqrtf((float)cols);
            if (s->cfg.pad_id >= 0 && (size_t)s->cfg.pad_id < rows)
                memset(p + (size_t)s->cfg.pad_id * cols, 0, cols * sizeof *p);
            break;
        case INIT_KIND_COUNT: ASSERT(0);
        }
    }
}

/* ---- creation ---------------------------------------------------------------------------- */

static int check_config(const ModelConfig *c, int max_tokens, MosErr *err)
{
    const SearchSpace *sp = &c->space;
    if (c->vocab < 4)
        return err_set(err, "model: vocab = %d is too small", c->vocab);
    if (c->pad_id < 0 || c->pad_id >= c->vocab || c->eos_id < 0 || c->eos_id >= c->vocab ||
        c->bos_id < 0 || c->bos_id >= c->vocab)
        return err_set(err, "model: pad/bos/eos ids must lie in [0, vocab = %d)", c->vocab);
    if (sp->enc_embed_max <= 0 || sp->dec_embed_max <= 0 || sp->enc_ffn_max <= 0 ||
        sp->dec_ffn_max <= 0 || sp->qkv_dim <= 0)
        return err_set(err, "model: embed, ffn and qkv dims must be positive");
    if (sp->enc_layers_max < 1 || sp->enc_layers_max > ARCH_MAX_LAYERS ||
        sp->dec_layers_max < 1 || sp->dec_layers_max > ARCH_MAX_LAYERS)
        return err_set(err, "model: encoder-layers and decoder-layers must be in 1..%d",
                       ARCH_MAX_LAYERS);
    if (c->max_positions < 2)
        return err_set(err, "model: max_positions = %d is too small", c->max_positions);
    if (max_tokens < 1)
        return err_set(err, "model: max_tokens = %d must be positive", max_tokens);
    if (!(c->dropout >= 0.0f && c->dropout < 1.0f) ||
        !(c->attn_dropout >= 0.0f && c->attn_dropout < 1.0f))
        return err_set(err, "model: dropout and attention dropout must be in [0, 1)");
    if (!(c->label_smoothing >= 0.0f && c->label_smoothing < 1.0f))
        return err_set(err, "model: label-smoothing must be in [0, 1)");
    return 0;
}

static void set_maxima(Supernet *s, const ModelConfig *cfg, int max_tokens)
{
    const SearchSpace *sp = &cfg->space;
    s->cfg = *cfg;
    s->max_tokens = max_tokens;
    s->tmax = cfg->max_positions < max_tokens ? cfg->max_positions : max_tokens;
    s->De = sp->enc_embed_max;
    s->Dd = sp->dec_embed_max;
    s->Dm = s->De > s->Dd ? s->De : s->Dd;
    s->Fe = sp->enc_ffn_max;
    s->Fd = sp->dec_ffn_max;
    s->Q = sp->qkv_dim;
    s->V = cfg->vocab;
    s->Le = sp->enc_layers_max;
    s->Ld = sp->dec_layers_max;
    s->pos_rows = cfg->pad_id + 2 + cfg->max_positions;
}

/* The largest activation record: every dim at its maximum, 3 attended encoder layers. */
static void worst_arch(const Supernet *s, Arch *a)
{
    memset(a, 0, sizeof *a);
    a->enc_embed = s->De;
    a->dec_embed = s->Dd;
    a->enc_layers = s->Le;
    a->dec_layers = s->Ld;
    for (int i = 0; i < ARCH_MAX_LAYERS; i++) {
        a->enc_ffn[i] = s->Fe;
        a->dec_ffn[i] = s->Fd;
        a->enc_heads[i] = a->dec_self_heads[i] = a->dec_ende_heads[i] = 1;
        a->dec_arbitrary[i] = 2;
    }
}

static int alloc_blocks(Supernet *s, MosErr *err)
{
    size_t n = s->lay.total;
    s->params = calloc(n, sizeof(float));
    s->grads = calloc(n, sizeof(float));
    s->adam_m = calloc(n, sizeof(float));
    s->adam_v = calloc(n, sizeof(float));
    s->pos_e = malloc((size_t)s->pos_rows * s->De * sizeof(float));
    s->pos_d = malloc((size_t)s->pos_rows * s->Dd * sizeof(float));
    Arch w;
    worst_arch(s, &w);
    s->act_floats = supernet_carve(s, &s->acts, NULL, NULL, &s->mask_bytes, 1, s->max_tokens,
                                   s->max_tokens, &w, 1);
    s->act = malloc(s->act_floats * sizeof(float));
    s->mask = malloc(s->mask_bytes ? s->mask_bytes : 1);
    if (!s->params || !s->grads || !s->adam_m || !s->adam_v || !s->pos_e || !s->pos_d ||
        !s->act || !s->mask)
        return err_set(err, "supernet: out of memory (%zu parameters, %zu activation floats)",
                       n, s->act_floats);
    positions_init(s->pos_e, s->pos_rows, s->De, s->cfg.pad_id);
    positions_init(s->pos_d, s->pos_rows, s->Dd, s->cfg.pad_id);
    return 0;
}

Supernet *supernet_new(const ModelConfig *cfg, int max_tokens, uint64_t seed, MosErr *err)
{
    if (check_config(cfg, max_tokens, err) < 0)
        return NULL;
    Supernet *s = calloc(1, sizeof *s);
    if (!s) {
        err_set(err, "supernet: out of memory");
        return NULL;
    }
    set_maxima(s, cfg, max_tokens);
    ffn_init(&s->ffn, &s->cfg);
    if (layout_build(s, err) < 0 || alloc_blocks(s, err) < 0) {
        supernet_destroy(&s);
        return NULL;
    }
    init_params(s, seed);
    ffn_init_params(&s->ffn, s->params, seed);
    return s;
}

void supernet_destroy(Supernet **sp)
{
    Supernet *s = *sp;
    if (!s)
        return;
    ffn_done(&s->ffn);
    for (int i = 0; i < s->lay.n; i++)
        free((char *)s->lay.t[i].name);
    free(s->lay.t);
    free(s->lay.init);
    free(s->params);
    free(s->grads);
    free(s->adam_m);
    free(s->adam_v);
    free(s->pos_e);
    free(s->pos_d);
    free(s->act);
    free(s->mask);
    free(s->dws.block);
    free(s->dws.iblock);
    free(s);
    *sp = NULL;
}

const ModelConfig *supernet_config(const Supernet *s) { return &s->cfg; }
int supernet_max_tokens(const Supernet *s) { return s->max_tokens; }
size_t supernet_nparams(const Supernet *s) { return s->lay.total; }
float *supernet_params(Supernet *s)
{
    supernet_params_changed(s);
    return s->params;
}

float *supernet_grads(Supernet *s)
{
    supernet_flush_grads(s);
    return s->grads;
}
float *supernet_adam_m(Supernet *s) { return s->adam_m; }
float *supernet_adam_v(Supernet *s) { return s->adam_v; }
int supernet_ntensors(const Supernet *s) { return s->lay.n; }

const NamedTensor *supernet_tensor(const Supernet *s, int i)
{
    ASSERT(i >= 0 && i < s->lay.n);
    return &s->lay.t[i];
}

int supernet_find_tensor(const Supernet *s, const char *name)
{
    for (int i = 0; i < s->lay.n; i++)
        if (strcmp(s->lay.t[i].name, name) == 0)
            return i;
    return -1;
}

float *supernet_positions(Supernet *s, int decoder, int *rows, int *cols)
{
    *rows = s->pos_rows;
    *cols = decoder ? s->Dd : s->De;
    return decoder ? s->pos_d : s->pos_e;
}

void supernet_zero_grads(Supernet *s)
{
    ffn_zero_grads(&s->ffn);
    ops_zero(s->grads, (long)s->lay.total);
}

/* ---- views: the slicing rule ------------------------------------------------------------- */

static LinView lin_view(const Supernet *s, LinP p, float *g)
{
    return (LinView){.w = s->params + p.w, .b = s->params + p.b, .ldw = p.in,
                     .dw = g ? g + p.w : NULL, .db = g ? g + p.b : NULL};
}

static LnView ln_view(const Supernet *s, LnP p, float *g)
{
    return (LnView){.g = s->params + p.g, .b = s->params + p.b,
                    .dg = g ? g + p.g : NULL, .db = g ? g + p.b : NULL};
}

int supernet_ende_blocks(const Arch *a, int l)
{
    int code = a->dec_arbitrary[l];
    int n = code == 1 ? 2 : code == 2 ? 3 : 1;
    return n < a->enc_layers ? n : a->enc_layers;
}

void supernet_enc_view(Supernet *s, const Arch *a, int l, int want_grads, EncView *v)
{
    const EncLayerP *p = &s->enc[l];
    float *g = want_grads ? s->grads : NULL;
    v->d = a->enc_embed;
    v->F = a->enc_ffn[l];
    v->NH = a->enc_heads[l];
    v->qkv = lin_view(s, p->qkv, g);
    v->out = lin_view(s, p->out, g);
    v->ln1 = ln_view(s, p->ln1, g);
    v->ln2 = ln_view(s, p->ln2, g);
    ffn_weights_forward(&s->ffn, l, s->params, g, a, v->d, v->F, &v->ffn);
}

void supernet_dec_view(Supernet *s, const Arch *a, int l, int want_grads, DecView *v)
{
    const DecLayerP *p = &s->dec[l];
    float *g = want_grads ? s->grads : NULL;
    v->d = a->dec_embed;
    v->de = a->enc_embed;
    v->F = a->dec_ffn[l];
    v->NH = a->dec_self_heads[l];
    v->NHe = a->dec_ende_heads[l];
    v->nblk = supernet_ende_blocks(a, l);
    v->qkv = lin_view(s, p->qkv, g);
    v->out = lin_view(s, p->out, g);
    v->eq = lin_view(s, p->eq, g);
    v->ekv = lin_view(s, p->ekv, g);
    v->eout = lin_view(s, p->eout, g);
    v->ln1 = ln_view(s, p->ln1, g);
    v->ln2 = ln_view(s, p->ln2, g);
    v->ln3 = ln_view(s, p->ln3, g);
    ffn_weights_forward(&s->ffn, s->Le + l, s->params, g, a, v->d, v->F, &v->ffn);
}

/* ---- activation carving ------------------------------------------------------------------ */

typedef struct Carve { float *base; uint8_t *mbase; size_t n, nm; } Carve;

static float *take(Carve *c, size_t n)
{
    float *p = c->base ? c->base + c->n : NULL;
    c->n += (n + 15) & ~(size_t)15;
    return p;
}

static uint8_t *take_mask(Carve *c, size_t n, int train)
{
    if (!train)
        return NULL;
    uint8_t *p = c->mbase ? c->mbase + c->nm : NULL;
    c->nm += (n + 63) & ~(size_t)63;
    return p;
}

static void carve_sub(Carve *c, SubAct *sa, size_t N, int d, int train, int with_out)
{
    sa->x2 = take(c, N * d);
    sa->out = with_out ? take(c, N * d) : NULL;
    sa->mean = take(c, N);
    sa->rstd = take(c, N);
    sa->mask = take_mask(c, N * d, train);
}

static size_t imax(size_t a, size_t b) { return a > b ? a : b; }

static void carve_backward(Supernet *s, Acts *x, Carve *c, const Arch *a, int F)
{
    size_t Ns = x->Ns, Nt = x->Nt, de = a->enc_embed, dd = a->dec_embed, N = imax(Ns, Nt);
    size_t D = imax(Ns * de, Nt * dd);
    x->dh = take(c, Nt * dd);
    x->dx0 = take(c, Nt * dd);
    x->dx1 = take(c, Nt * dd);
    x->dmid = take(c, D);
    x->dmid2 = take(c, D);
    x->dtmp = take(c, D);
    x->dpre = take(c, D);
    x->dqkv = take(c, N * 3 * s->Q);
    x->datt = take(c, N * s->Q);
    x->df = take(c, N * F);
    x->dcq = take(c, Nt * s->Q);
    x->dckv = take(c, 3 * Ns * 2 * s->Q);
    x->dencout = take(c, a->enc_layers * Ns * de);
    x->dencf = take(c, x->nf * Ns * de);
    x->demb = take(c, Ns * de);
}

/* Encoder part of the record; returns the largest FFN dim used. */
static int carve_encoder(Supernet *s, Acts *x, Carve *c, const Arch *a, int train)
{
    size_t Ns = (size_t)x->Ns, de = (size_t)a->enc_embed;
    int Fmax = 0, Q = s->Q;
    x->emb_e = take(c, Ns * de);
    x->mask_e = take_mask(c, Ns * de, train);
    x->encout = take(c, a->enc_layers * Ns * de);
    for (int l = 0; l < a->enc_layers; l++) {
        EncAct *e = &x->enc[l];
        carve_sub(c, &e->sa, Ns, (int)de, train, 1);
        carve_sub(c, &e->ff, Ns, (int)de, train, 0);
        e->ff.out = c->base ? x->encout + l * Ns * de : NULL;
        e->qkv = take(c, Ns * 3 * Q);
        e->att = take(c, Ns * Q);
        e->f = take(c, Ns * a->enc_ffn[l]);
        Fmax = a->enc_ffn[l] > Fmax ? a->enc_ffn[l] : Fmax;
    }
    int pre = s->cfg.pre_ln;
    x->encf = pre ? take(c, x->nf * Ns * de) : NULL;
    x->encf_mean = pre ? take(c, x->nf * Ns) : NULL;
    x->encf_rstd = pre ? take(c, x->nf * Ns) : NULL;
    return Fmax;
}

/* Decoder part of the record; returns the largest FFN dim used. */
static int carve_decoder(Supernet *s, Acts *x, Carve *c, const Arch *a, int train)
{
    size_t Ns = (size_t)x->Ns, Nt = (size_t)x->Nt, dd = (size_t)a->dec_embed;
    int Fmax = 0, Q = s->Q;
    x->emb_d = take(c, Nt * dd);
    x->mask_d = take_mask(c, Nt * dd, train);
    for (int l = 0; l < a->dec_layers; l++) {
        DecAct *d = &x->dec[l];
        carve_sub(c, &d->sa, Nt, (int)dd, train, 1);
        carve_sub(c, &d->ca, Nt, (int)dd, train, 1);
        carve_sub(c, &d->ff, Nt, (int)dd, train, 1);
        d->qkv = take(c, Nt * 3 * Q);
        d->att = take(c, Nt * Q);
        d->cq = take(c, Nt * Q);
        d->ckv = take(c, supernet_ende_blocks(a, l) * Ns * 2 * Q);
        d->catt = take(c, Nt * Q);
        d->f = take(c, Nt * a->dec_ffn[l]);
        Fmax = a->dec_ffn[l] > Fmax ? a->dec_ffn[l] : Fmax;
    }
    int pre = s->cfg.pre_ln;
    x->decf = pre ? take(c, Nt * dd) : NULL;
    x->decf_mean = pre ? take(c, Nt) : NULL;
    x->decf_rstd = pre ? take(c, Nt) : NULL;
    return Fmax;
}

size_t supernet_carve(Supernet *s, Acts *x, float *base, uint8_t *mbase, size_t *mask_bytes,
                      int B, int Ts, int Tt, const Arch *a, int train)
{
    Carve c = {.base = base, .mbase = mbase};
    size_t Ns = (size_t)B * Ts, Nt = (size_t)B * Tt;
    x->B = B;
    x->Ts = Ts;
    x->Tt = Tt;
    x->Ns = (int)Ns;
    x->Nt = (int)Nt;
    x->nf = a->enc_layers < 3 ? a->enc_layers : 3;
    x->Le = a->enc_layers;
    x->de = a->enc_embed;
    int fe = carve_encoder(s, x, &c, a, train), fd = carve_decoder(s, x, &c, a, train);
    x->tmp = take(&c, imax(Ns * a->enc_embed, Nt * a->dec_embed));
    x->logits = take(&c, imax(1, Nt < XENT_CHUNK ? Nt : XENT_CHUNK) * s->V);
    size_t ts = Ts < s->tmax ? (size_t)Ts : (size_t)s->tmax;
    size_t tt = Tt < s->tmax ? (size_t)Tt : (size_t)s->tmax;
    /* attention: one block of 3 score matrices per thread */
    x->scratch = take(&c, ATTN_SCRATCH_BLOCKS * 3 * imax(ts * ts, tt * imax(tt, 3 * ts)));
    if (train)
        carve_backward(s, x, &c, a, fe > fd ? fe : fd);
    if (mask_bytes)
        *mask_bytes = c.nm;
    return c.n;
}

/* ---- residual sublayers ------------------------------------------------------------------ */

const float *sub_begin(const SubAct *sa, const LnView *ln, const float *x, int N, int d,
                       int pre)
{
    if (!pre)
        return x;
    layernorm_forward(sa->x2, sa->mean, sa->rstd, x, ln->g, ln->b, N, d);
    return sa->x2;
}

void sub_end(const SubAct *sa, const LnView *ln, const float *x, float *s, int N, int d, int pre,
             float p, Rng *rng)
{
    long n = (long)N * d;
    if (rng)
        dropout_forward(s, sa->mask, n, p, rng);
    if (pre) {
        residual_forward(sa->out, x, s, n);
    } else {
        residual_forward(sa->x2, x, s, n);
        layernorm_forward(sa->out, sa->mean, sa->rstd, sa->x2, ln->g, ln->b, N, d);
    }
}

AttnDims supernet_self_dims(const Acts *x, int T, int NH, int Q, int causal, const int *key_tok,
                            int pad)
{
    return (AttnDims){.B = x->B, .Tq = T, .Tk = T, .nblk = 1, .NH = NH, .QD = Q, .ldq = 3 * Q,
                      .ldkv = 3 * Q, .kbs = T, .blk = 0, .causal = causal, .pad = pad,
                      .key_tok = key_tok, .nscratch = ATTN_SCRATCH_BLOCKS};
}

/* ---- one step ---------------------------------------------------------------------------- */

double supernet_step(Supernet *s, const Arch *a, const Batch *b, int train, Rng *rng,
                     double *nll_sum)
{
    ASSERT(b->B > 0 && b->Ts > 0 && b->Tt > 0);
    ASSERT((long)b->B * b->Ts <= s->max_tokens && (long)b->B * b->Tt <= s->max_tokens);
    ASSERT(b->Ts <= s->tmax && b->Tt <= s->tmax);
    ASSERT(a->enc_layers >= 1 && a->enc_layers <= s->Le && a->dec_layers >= 1 &&
           a->dec_layers <= s->Ld && a->enc_embed <= s->De && a->dec_embed <= s->Dd);
    ASSERT(!train || rng || (s->cfg.dropout == 0.0f && s->cfg.attn_dropout == 0.0f));
    size_t mb = 0;
    size_t n = supernet_carve(s, &s->acts, s->act, s->mask, &mb, b->B, b->Ts, b->Tt, a, train);
    ASSERT(n <= s->act_floats && mb <= s->mask_bytes);
    Rng *r = train ? rng : NULL;
    for (int l = 0; l < a->enc_layers; l++)
        supernet_enc_view(s, a, l, train, &s->acts.ev[l]);
    for (int l = 0; l < a->dec_layers; l++)
        supernet_dec_view(s, a, l, train, &s->acts.dv[l]);
    supernet_encoder_forward(s, a, b->src, r, train);
    supernet_decoder_forward(s, a, b->src, b->tgt_in, r, train);
    double nll = 0.0;
    double loss = supernet_head(s, a, b->tgt_out, train, &nll);
    if (train) {
        supernet_decoder_backward(s, a, b->src, b->tgt_in);
        supernet_encoder_backward(s, a, b->src);
    }
    if (nll_sum)
        *nll_sum = nll;
    return loss;
}
