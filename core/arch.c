/* Architectures: the default space, sampling, HAT's evolution operators, validation, the 10
 * features, equality/hash, and the text and JSON forms (docs/arch.md). Parsing checks syntax and
 * shape only; membership in a space is arch_validate's job. Invariant: every Arch this file
 * produces from a space (sample, mutate, crossover, largest, smallest) passes arch_validate, and
 * parsed archs fill inactive slots with the last active layer's values so they stay valid when a
 * mutation deepens them. */
#include "arch.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

/* ---- the default space ------------------------------------------------------------------ */

static void choices_set(Choices *c, int n, const int *v)
{
    ASSERT(n > 0 && n <= ARCH_MAX_CHOICES);
    c->n = n;
    memcpy(c->v, v, (size_t)n * sizeof *v);
}

void arch_space_default(SearchSpace *s)
{
    memset(s, 0, sizeof *s);
    s->enc_embed_max = s->dec_embed_max = 256;
    s->enc_ffn_max = s->dec_ffn_max = 1024;
    s->enc_layers_max = s->dec_layers_max = 4;
    s->enc_heads_max = s->dec_heads_max = 4;
    s->qkv_dim = 256;
    choices_set(&s->enc_embed, 2, (const int[]){256, 192});
    choices_set(&s->dec_embed, 2, (const int[]){256, 192});
    choices_set(&s->enc_ffn, 3, (const int[]){1024, 768, 512});
    choices_set(&s->dec_ffn, 3, (const int[]){1024, 768, 512});
    choices_set(&s->enc_layers, 1, (const int[]){4});
    choices_set(&s->dec_layers, 4, (const int[]){1, 2, 3, 4});
    choices_set(&s->enc_heads, 2, (const int[]){4, 2});
    choices_set(&s->dec_self_heads, 2, (const int[]){4, 2});
    choices_set(&s->dec_ende_heads, 2, (const int[]){4, 2});
    choices_set(&s->dec_arbitrary, 3, (const int[]){-1, 1, 2});
}

/* ---- helpers ------------------------------------------------------------------------------ */

static int choices_has(const Choices *c, int v)
{
    for (int i = 0; i < c->n; i++)
        if (c->v[i] == v)
            return 1;
    return 0;
}

static int choices_max(const Choices *c)
{
    ASSERT(c->n > 0);
    int m = c->v[0];
    for (int i = 1; i < c->n; i++)
        m = c->v[i] > m ? c->v[i] : m;
    return m;
}

static int choices_min(const Choices *c)
{
    ASSERT(c->n > 0);
    int m = c->v[0];
    for (int i = 1; i < c->n; i++)
        m = c->v[i] < m ? c->v[i] : m;
    return m;
}

/* The lower median of the list's values (whatever their order). */
static int choices_mid(const Choices *c)
{
    ASSERT(c->n > 0);
    for (int i = 0; i < c->n; i++) {
        int below = 0, same_before = 0;
        for (int j = 0; j < c->n; j++) {
            below += c->v[j] < c->v[i];
            same_before += j < i && c->v[j] == c->v[i];
        }
        if (below + same_before == (c->n - 1) / 2)
            return c->v[i];
    }
    return c->v[0];
}

static int choices_draw(const Choices *c, Rng *r)
{
    ASSERT(c->n > 0);
    return c->v[rng_below(r, (uint32_t)c->n)];
}

/* Number of encoder layers an arbitrary-attention code attends: -1 -> 1, 1 -> 2, 2 -> 3. */
static int arb_count(int code)
{
    return code == -1 ? 1 : code + 1;
}

/* Draws an arbitrary-attention code that attends at most enc_layers layers (HAT's codes always
 * fit its fixed 6-layer encoder; a shallower encoder rules some out). */
static int arb_draw(const SearchSpace *s, Rng *r, int enc_layers)
{
    int ok[ARCH_MAX_CHOICES], n = 0;
    for (int i = 0; i < s->dec_arbitrary.n; i++)
        if (arb_count(s->dec_arbitrary.v[i]) <= enc_layers)
            ok[n++] = s->dec_arbitrary.v[i];
    ASSERT(n > 0);
    return ok[rng_below(r, (uint32_t)n)];
}

static int arb_default(const SearchSpace *s)
{
    return choices_has(&s->dec_arbitrary, 1) ? 1 : choices_min(&s->dec_arbitrary);
}

/* ---- largest, smallest, sampling --------------------------------------------------------- */

static void arch_fill(const SearchSpace *s, Arch *a, int (*pick)(const Choices *))
{
    memset(a, 0, sizeof *a);
    a->enc_embed = pick(&s->enc_embed);
    a->dec_embed = pick(&s->dec_embed);
    a->enc_layers = pick(&s->enc_layers);
    a->dec_layers = pick(&s->dec_layers);
    for (int i = 0; i < ARCH_MAX_LAYERS; i++) {
        a->enc_ffn[i] = pick(&s->enc_ffn);
        a->enc_heads[i] = pick(&s->enc_heads);
        a->dec_ffn[i] = pick(&s->dec_ffn);
        a->dec_self_heads[i] = pick(&s->dec_self_heads);
        a->dec_ende_heads[i] = pick(&s->dec_ende_heads);
        a->dec_arbitrary[i] = arb_default(s);
    }
}

void arch_largest(const SearchSpace *s, Arch *a)
{
    arch_fill(s, a, choices_max);
}

void arch_smallest(const SearchSpace *s, Arch *a)
{
    arch_fill(s, a, choices_min);
}

void arch_middle(const SearchSpace *s, Arch *a)
{
    arch_fill(s, a, choices_mid);
}

void arch_sample(const SearchSpace *s, Rng *r, Arch *a)
{
    memset(a, 0, sizeof *a);
    a->enc_embed = choices_draw(&s->enc_embed, r);
    a->enc_layers = choices_draw(&s->enc_layers, r);
    for (int i = 0; i < ARCH_MAX_LAYERS; i++) {
        a->enc_ffn[i] = choices_draw(&s->enc_ffn, r);
        a->enc_heads[i] = choices_draw(&s->enc_heads, r);
    }
    a->dec_embed = choices_draw(&s->dec_embed, r);
    a->dec_layers = choices_draw(&s->dec_layers, r);
    for (int i = 0; i < ARCH_MAX_LAYERS; i++) {
        a->dec_ffn[i] = choices_draw(&s->dec_ffn, r);
        a->dec_self_heads[i] = choices_draw(&s->dec_self_heads, r);
        a->dec_ende_heads[i] = choices_draw(&s->dec_ende_heads, r);
        a->dec_arbitrary[i] = arb_draw(s, r, a->enc_layers);
    }
}

/* ---- validation --------------------------------------------------------------------------- */

static void choices_text(const Choices *c, char *buf, size_t n)
{
    size_t k = 0;
    buf[0] = '\0';
    for (int i = 0; i < c->n && k < n; i++) {
        int w = snprintf(buf + k, n - k, "%s%d", i ? ", " : "", c->v[i]);
        if (w < 0)
            break;
        k += (size_t)w;
    }
}

static int check_value(const Choices *c, int max, int v, const char *name, int idx, MosErr *err)
{
    char where[48];
    if (idx >= 0)
        snprintf(where, sizeof where, "%s[%d]", name, idx);
    else
        snprintf(where, sizeof where, "%s", name);
    if (!choices_has(c, v)) {
        char list[160];
        choices_text(c, list, sizeof list);
        return err_set(err, "%s = %d is not one of %s", where, v, list);
    }
    if (max > 0 && v > max)
        return err_set(err, "%s = %d exceeds the supernet's maximum %d", where, v, max);
    return 0;
}

static int check_heads(const SearchSpace *s, int h, const char *name, int idx, MosErr *err)
{
    if (h <= 0 || s->qkv_dim % h != 0)
        return err_set(err, "%s[%d] = %d heads do not divide qkv_dim %d", name, idx, h,
                       s->qkv_dim);
    return 0;
}

static int validate_encoder(const SearchSpace *s, const Arch *a, MosErr *err)
{
    if (check_value(&s->enc_embed, s->enc_embed_max, a->enc_embed, "enc_embed", -1, err) ||
        check_value(&s->enc_layers, s->enc_layers_max, a->enc_layers, "enc_layers", -1, err))
        return -1;
    if (a->enc_layers < 1 || a->enc_layers > ARCH_MAX_LAYERS)
        return err_set(err, "enc_layers = %d is outside 1..%d", a->enc_layers, ARCH_MAX_LAYERS);
    for (int i = 0; i < a->enc_layers; i++)
        if (check_value(&s->enc_ffn, s->enc_ffn_max, a->enc_ffn[i], "enc_ffn", i, err) ||
            check_value(&s->enc_heads, s->enc_heads_max, a->enc_heads[i], "enc_heads", i, err) ||
            check_heads(s, a->enc_heads[i], "enc_heads", i, err))
            return -1;
    return 0;
}

static int validate_decoder(const SearchSpace *s, const Arch *a, MosErr *err)
{
    if (check_value(&s->dec_embed, s->dec_embed_max, a->dec_embed, "dec_embed", -1, err) ||
        check_value(&s->dec_layers, s->dec_layers_max, a->dec_layers, "dec_layers", -1, err))
        return -1;
    if (a->dec_layers < 1 || a->dec_layers > ARCH_MAX_LAYERS)
        return err_set(err, "dec_layers = %d is outside 1..%d", a->dec_layers, ARCH_MAX_LAYERS);
    for (int i = 0; i < a->dec_layers; i++) {
        if (check_value(&s->dec_ffn, s->dec_ffn_max, a->dec_ffn[i], "dec_ffn", i, err) ||
            check_value(&s->dec_self_heads, s->dec_heads_max, a->dec_self_heads[i],
                        "dec_self_heads", i, err) ||
            check_heads(s, a->dec_self_heads[i], "dec_self_heads", i, err) ||
            check_value(&s->dec_ende_heads, s->dec_heads_max, a->dec_ende_heads[i],
                        "dec_ende_heads", i, err) ||
            check_heads(s, a->dec_ende_heads[i], "dec_ende_heads", i, err) ||
            check_value(&s->dec_arbitrary, 0, a->dec_arbitrary[i], "dec_arbitrary", i, err))
            return -1;
        if (arb_count(a->dec_arbitrary[i]) > a->enc_layers)
            return err_set(err, "dec_arbitrary[%d] = %d attends %d encoder layers but there are "
                           "only %d", i, a->dec_arbitrary[i], arb_count(a->dec_arbitrary[i]),
                           a->enc_layers);
    }
    return 0;
}

int arch_validate(const SearchSpace *s, const Arch *a, MosErr *err)
{
    if (validate_encoder(s, a, err) || validate_decoder(s, a, err))
        return -1;
    return 0;
}

/* ---- equality and hash --------------------------------------------------------------------- */

/* The active part as a flat gene list (HAT's order); returns its length. */
static int arch_active_genes(const Arch *a, int *g)
{
    int n = 0;
    int el = a->enc_layers < 0 ? 0 : a->enc_layers > ARCH_MAX_LAYERS ? ARCH_MAX_LAYERS
                                                                      : a->enc_layers;
    int dl = a->dec_layers < 0 ? 0 : a->dec_layers > ARCH_MAX_LAYERS ? ARCH_MAX_LAYERS
                                                                      : a->dec_layers;
    g[n++] = a->enc_embed;
    g[n++] = a->enc_layers;
    for (int i = 0; i < el; i++) {
        g[n++] = a->enc_ffn[i];
        g[n++] = a->enc_heads[i];
    }
    g[n++] = a->dec_embed;
    g[n++] = a->dec_layers;
    for (int i = 0; i < dl; i++) {
        g[n++] = a->dec_ffn[i];
        g[n++] = a->dec_self_heads[i];
        g[n++] = a->dec_ende_heads[i];
        g[n++] = a->dec_arbitrary[i];
    }
    return n;
}

#define ARCH_GENES_MAX (4 + 2 * ARCH_MAX_LAYERS + 4 * ARCH_MAX_LAYERS)

int arch_equal(const Arch *a, const Arch *b)
{
    int ga[ARCH_GENES_MAX], gb[ARCH_GENES_MAX];
    int na = arch_active_genes(a, ga), nb = arch_active_genes(b, gb);
    return na == nb && memcmp(ga, gb, (size_t)na * sizeof *ga) == 0;
}

uint64_t arch_hash(const Arch *a)
{
    int g[ARCH_GENES_MAX];
    int n = arch_active_genes(a, g);
    uint64_t h = 0xcbf29ce484222325ULL;   /* FNV-1a over the genes' 4 bytes each */
    for (int i = 0; i < n; i++) {
        uint32_t v = (uint32_t)g[i];
        for (int k = 0; k < 4; k++) {
            h ^= (v >> (8 * k)) & 0xffu;
            h *= 0x100000001b3ULL;
        }
    }
    return h;
}

/* ---- features ------------------------------------------------------------------------------ */

static float mean_of(const int *v, int n)
{
    double s = 0;
    for (int i = 0; i < n; i++)
        s += v[i];
    return n > 0 ? (float)(s / n) : 0.0f;
}

void arch_features_raw(const Arch *a, float out[ARCH_FEATURES])
{
    int arb[ARCH_MAX_LAYERS];
    int el = a->enc_layers, dl = a->dec_layers;
    ASSERT(el >= 0 && el <= ARCH_MAX_LAYERS && dl >= 0 && dl <= ARCH_MAX_LAYERS);
    for (int i = 0; i < dl; i++)
        arb[i] = arb_count(a->dec_arbitrary[i]);
    out[0] = (float)a->enc_embed;
    out[1] = (float)el;
    out[2] = mean_of(a->enc_ffn, el);
    out[3] = mean_of(a->enc_heads, el);
    out[4] = (float)a->dec_embed;
    out[5] = (float)dl;
    out[6] = mean_of(a->dec_ffn, dl);
    out[7] = mean_of(a->dec_self_heads, dl);
    out[8] = mean_of(a->dec_ende_heads, dl);
    out[9] = mean_of(arb, dl);
}

void arch_feature_norms(const SearchSpace *s, float out[ARCH_FEATURES])
{
    /* HAT divides the attended-layer count (1..3) by 2, the largest arbitrary code. */
    int arb_norm = choices_max(&s->dec_arbitrary);
    out[0] = (float)s->enc_embed_max;
    out[1] = (float)s->enc_layers_max;
    out[2] = (float)s->enc_ffn_max;
    out[3] = (float)s->enc_heads_max;
    out[4] = (float)s->dec_embed_max;
    out[5] = (float)s->dec_layers_max;
    out[6] = (float)s->dec_ffn_max;
    out[7] = (float)s->dec_heads_max;
    out[8] = (float)s->dec_heads_max;
    out[9] = (float)(arb_norm < 1 ? 1 : arb_norm);
}

void arch_features(const SearchSpace *s, const Arch *a, float out[ARCH_FEATURES])
{
    float norm[ARCH_FEATURES];
    arch_features_raw(a, out);
    arch_feature_norms(s, norm);
    for (int k = 0; k < ARCH_FEATURES; k++)
        out[k] /= norm[k];
}

long arch_params(const Arch *a, int vocab, int qkv_dim)
{
    long Q = qkv_dim, de = a->enc_embed, dd = a->dec_embed;
    long n = (long)vocab * (de > dd ? de : dd);
    for (int l = 0; l < a->enc_layers; l++) {
        long F = a->enc_ffn[l];
        n += 3 * Q * de + 3 * Q + de * Q + de;          /* self-attention */
        n += de * F + F + F * de + de;                  /* FFN */
        n += 2 * 2 * de;                                /* two LayerNorms */
    }
    for (int l = 0; l < a->dec_layers; l++) {
        long F = a->dec_ffn[l];
        n += 3 * Q * dd + 3 * Q + dd * Q + dd;          /* self-attention */
        n += Q * dd + Q + 2 * Q * de + 2 * Q + dd * Q + dd;   /* encoder-decoder attention */
        n += dd * F + F + F * dd + dd;                  /* FFN */
        n += 3 * 2 * dd;                                /* three LayerNorms */
    }
    return n;
}

/* ---- mutation and crossover ---------------------------------------------------------------- */

/* Makes a child valid after gene-wise operators: a gene that is not in its list (a parent from
 * outside the space, or an arbitrary code too deep for a shallower encoder) is redrawn. */
static void arch_repair(const SearchSpace *s, Rng *r, Arch *a)
{
    if (!choices_has(&s->enc_embed, a->enc_embed))
        a->enc_embed = choices_draw(&s->enc_embed, r);
    if (!choices_has(&s->dec_embed, a->dec_embed))
        a->dec_embed = choices_draw(&s->dec_embed, r);
    if (!choices_has(&s->enc_layers, a->enc_layers))
        a->enc_layers = choices_draw(&s->enc_layers, r);
    if (!choices_has(&s->dec_layers, a->dec_layers))
        a->dec_layers = choices_draw(&s->dec_layers, r);
    for (int i = 0; i < ARCH_MAX_LAYERS; i++) {
        if (!choices_has(&s->enc_ffn, a->enc_ffn[i]))
            a->enc_ffn[i] = choices_draw(&s->enc_ffn, r);
        if (!choices_has(&s->enc_heads, a->enc_heads[i]))
            a->enc_heads[i] = choices_draw(&s->enc_heads, r);
        if (!choices_has(&s->dec_ffn, a->dec_ffn[i]))
            a->dec_ffn[i] = choices_draw(&s->dec_ffn, r);
        if (!choices_has(&s->dec_self_heads, a->dec_self_heads[i]))
            a->dec_self_heads[i] = choices_draw(&s->dec_self_heads, r);
        if (!choices_has(&s->dec_ende_heads, a->dec_ende_heads[i]))
            a->dec_ende_heads[i] = choices_draw(&s->dec_ende_heads, r);
        if (!choices_has(&s->dec_arbitrary, a->dec_arbitrary[i]) ||
            arb_count(a->dec_arbitrary[i]) > a->enc_layers)
            a->dec_arbitrary[i] = arb_draw(s, r, a->enc_layers);
    }
}

static void gene_mutate(const Choices *c, Rng *r, float p, int *v)
{
    if (rng_float(r) < p)
        *v = choices_draw(c, r);
}

void arch_mutate(const SearchSpace *s, Rng *r, float p, const Arch *parent, Arch *child)
{
    Arch a = *parent;
    gene_mutate(&s->enc_embed, r, p, &a.enc_embed);
    gene_mutate(&s->enc_layers, r, p, &a.enc_layers);
    for (int i = 0; i < ARCH_MAX_LAYERS; i++)
        gene_mutate(&s->enc_ffn, r, p, &a.enc_ffn[i]);
    for (int i = 0; i < ARCH_MAX_LAYERS; i++)
        gene_mutate(&s->enc_heads, r, p, &a.enc_heads[i]);
    gene_mutate(&s->dec_embed, r, p, &a.dec_embed);
    gene_mutate(&s->dec_layers, r, p, &a.dec_layers);
    for (int i = 0; i < ARCH_MAX_LAYERS; i++)
        gene_mutate(&s->dec_ffn, r, p, &a.dec_ffn[i]);
    for (int i = 0; i < ARCH_MAX_LAYERS; i++)
        gene_mutate(&s->dec_self_heads, r, p, &a.dec_self_heads[i]);
    for (int i = 0; i < ARCH_MAX_LAYERS; i++)
        gene_mutate(&s->dec_ende_heads, r, p, &a.dec_ende_heads[i]);
    for (int i = 0; i < ARCH_MAX_LAYERS; i++)
        gene_mutate(&s->dec_arbitrary, r, p, &a.dec_arbitrary[i]);
    arch_repair(s, r, &a);
    *child = a;
}

static int gene_pick(Rng *r, int x, int y)
{
    return rng_float(r) < 0.5f ? x : y;
}

void arch_crossover(const SearchSpace *s, Rng *r, const Arch *p1, const Arch *p2, Arch *child)
{
    Arch a;
    memset(&a, 0, sizeof a);
    a.enc_embed = gene_pick(r, p1->enc_embed, p2->enc_embed);
    a.enc_layers = gene_pick(r, p1->enc_layers, p2->enc_layers);
    for (int i = 0; i < ARCH_MAX_LAYERS; i++)
        a.enc_ffn[i] = gene_pick(r, p1->enc_ffn[i], p2->enc_ffn[i]);
    for (int i = 0; i < ARCH_MAX_LAYERS; i++)
        a.enc_heads[i] = gene_pick(r, p1->enc_heads[i], p2->enc_heads[i]);
    a.dec_embed = gene_pick(r, p1->dec_embed, p2->dec_embed);
    a.dec_layers = gene_pick(r, p1->dec_layers, p2->dec_layers);
    for (int i = 0; i < ARCH_MAX_LAYERS; i++)
        a.dec_ffn[i] = gene_pick(r, p1->dec_ffn[i], p2->dec_ffn[i]);
    for (int i = 0; i < ARCH_MAX_LAYERS; i++)
        a.dec_self_heads[i] = gene_pick(r, p1->dec_self_heads[i], p2->dec_self_heads[i]);
    for (int i = 0; i < ARCH_MAX_LAYERS; i++)
        a.dec_ende_heads[i] = gene_pick(r, p1->dec_ende_heads[i], p2->dec_ende_heads[i]);
    for (int i = 0; i < ARCH_MAX_LAYERS; i++)
        a.dec_arbitrary[i] = gene_pick(r, p1->dec_arbitrary[i], p2->dec_arbitrary[i]);
    arch_repair(s, r, &a);
    *child = a;
}

/* ---- text form ----------------------------------------------------------------------------- */

typedef struct Out {
    char *buf;
    size_t n, len;
} Out;

static void out_printf(Out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void out_printf(Out *o, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    size_t room = o->len < o->n ? o->n - o->len : 0;
    int w = vsnprintf(room ? o->buf + o->len : NULL, room, fmt, ap);
    va_end(ap);
    if (w > 0)
        o->len += (size_t)w;
}

static void out_list(Out *o, const char *key, const int *v, int n)
{
    out_printf(o, ":%s=", key);
    for (int i = 0; i < n; i++)
        out_printf(o, "%s%d", i ? "," : "", v[i]);
}

int arch_format(const Arch *a, char *buf, size_t n)
{
    Out o = { buf, n, 0 };
    if (n > 0)
        buf[0] = '\0';
    out_printf(&o, "enc=%dx%d", a->enc_embed, a->enc_layers);
    out_list(&o, "ffn", a->enc_ffn, a->enc_layers);
    out_list(&o, "h", a->enc_heads, a->enc_layers);
    out_printf(&o, "/dec=%dx%d", a->dec_embed, a->dec_layers);
    out_list(&o, "ffn", a->dec_ffn, a->dec_layers);
    out_list(&o, "sh", a->dec_self_heads, a->dec_layers);
    out_list(&o, "eh", a->dec_ende_heads, a->dec_layers);
    out_list(&o, "arb", a->dec_arbitrary, a->dec_layers);
    if (n > 0 && o.len >= n)
        buf[n - 1] = '\0';
    return o.len > INT_MAX ? INT_MAX : (int)o.len;
}

/* Parses one decimal integer that fills [s, end) exactly. */
static int parse_int(const char *s, const char *end, int *v)
{
    if (s == end)
        return -1;
    char tmp[24];
    size_t len = (size_t)(end - s);
    if (len >= sizeof tmp)
        return -1;
    memcpy(tmp, s, len);
    tmp[len] = '\0';
    char *stop;
    errno = 0;
    long x = strtol(tmp, &stop, 10);
    if (*stop || errno || x < INT_MIN || x > INT_MAX || tmp[0] == ' ' || tmp[0] == '+')
        return -1;
    *v = (int)x;
    return 0;
}

/* Parses "v,v,...,v" in [s, end) into exactly want values. */
static int parse_list(const char *s, const char *end, int want, int *v, const char *what,
                      MosErr *err)
{
    int n = 0;
    const char *p = s;
    for (;;) {
        const char *c = memchr(p, ',', (size_t)(end - p));
        const char *stop = c ? c : end;
        if (n >= want)
            return err_set(err, "%s: more than the %d values its layer count gives", what, want);
        if (parse_int(p, stop, &v[n]))
            return err_set(err, "%s: '%.*s' is not an integer", what, (int)(stop - p), p);
        n++;
        if (!c)
            break;
        p = c + 1;
    }
    if (n != want)
        return err_set(err, "%s: %d values given, its layer count needs %d", what, n, want);
    return 0;
}

/* One stack's fields: "KEY=EMBEDxLAYERS:k=list:k=list...". */
typedef struct StackSpec {
    const char *name;          /* "enc" or "dec" */
    int nkeys;
    const char *keys[4];
    int *lists[4];
    int *embed, *layers;
} StackSpec;

static int parse_head(const char *s, const char *end, StackSpec *sp, MosErr *err)
{
    size_t nl = strlen(sp->name);
    if ((size_t)(end - s) <= nl || strncmp(s, sp->name, nl) != 0 || s[nl] != '=')
        return err_set(err, "expected '%s=EMBEDxLAYERS' at '%.*s'", sp->name, (int)(end - s), s);
    const char *v = s + nl + 1;
    const char *x = memchr(v, 'x', (size_t)(end - v));
    if (!x || parse_int(v, x, sp->embed) || parse_int(x + 1, end, sp->layers))
        return err_set(err, "%s: '%.*s' is not EMBEDxLAYERS (e.g. 256x4)", sp->name,
                       (int)(end - v), v);
    if (*sp->layers < 1 || *sp->layers > ARCH_MAX_LAYERS)
        return err_set(err, "%s: %d layers is outside 1..%d", sp->name, *sp->layers,
                       ARCH_MAX_LAYERS);
    return 0;
}

static int parse_stack(const char *s, const char *end, StackSpec *sp, MosErr *err)
{
    const char *colon = memchr(s, ':', (size_t)(end - s));
    const char *p = colon ? colon : end;
    if (parse_head(s, p, sp, err))
        return -1;
    int seen[4] = {0};
    while (p < end) {
        const char *f = p + 1;
        const char *next = memchr(f, ':', (size_t)(end - f));
        const char *fe = next ? next : end;
        const char *eq = memchr(f, '=', (size_t)(fe - f));
        int k = -1;
        for (int i = 0; eq && i < sp->nkeys; i++)
            if ((size_t)(eq - f) == strlen(sp->keys[i]) && !strncmp(f, sp->keys[i], eq - f))
                k = i;
        if (k < 0)
            return err_set(err, "%s: unknown field '%.*s' (expected one of ffn, %s)", sp->name,
                           (int)((eq ? eq : fe) - f), f, sp->nkeys == 2 ? "h" : "sh, eh, arb");
        if (seen[k]++)
            return err_set(err, "%s: field '%s' given twice", sp->name, sp->keys[k]);
        char what[16];
        snprintf(what, sizeof what, "%s %s", sp->name, sp->keys[k]);
        if (parse_list(eq + 1, fe, *sp->layers, sp->lists[k], what, err))
            return -1;
        p = fe;
    }
    for (int i = 0; i < sp->nkeys; i++)
        if (!seen[i])
            return err_set(err, "%s: missing field '%s'", sp->name, sp->keys[i]);
    return 0;
}

/* Inactive slots take the last active layer's values (see the file comment). */
static void fill_inactive(int *v, int active)
{
    for (int i = active; i < ARCH_MAX_LAYERS; i++)
        v[i] = v[active - 1];
}

static void arch_fill_inactive(Arch *a)
{
    fill_inactive(a->enc_ffn, a->enc_layers);
    fill_inactive(a->enc_heads, a->enc_layers);
    fill_inactive(a->dec_ffn, a->dec_layers);
    fill_inactive(a->dec_self_heads, a->dec_layers);
    fill_inactive(a->dec_ende_heads, a->dec_layers);
    fill_inactive(a->dec_arbitrary, a->dec_layers);
}

int arch_parse(const char *text, Arch *out, MosErr *err)
{
    Arch a;
    memset(&a, 0, sizeof a);
    while (*text == ' ' || *text == '\t' || *text == '\n')
        text++;
    const char *end = text + strlen(text);
    while (end > text && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\n'))
        end--;
    const char *slash = memchr(text, '/', (size_t)(end - text));
    StackSpec enc = { "enc", 2, { "ffn", "h" }, { a.enc_ffn, a.enc_heads },
                      &a.enc_embed, &a.enc_layers };
    StackSpec dec = { "dec", 4, { "ffn", "sh", "eh", "arb" },
                      { a.dec_ffn, a.dec_self_heads, a.dec_ende_heads, a.dec_arbitrary },
                      &a.dec_embed, &a.dec_layers };
    int rc;
    if (!slash)
        rc = err_set(err, "expected 'enc=...:.../dec=...:...' (one '/' between the stacks)");
    else if (memchr(slash + 1, '/', (size_t)(end - slash - 1)))
        rc = err_set(err, "more than one '/'");
    else
        rc = parse_stack(text, slash, &enc, err) || parse_stack(slash + 1, end, &dec, err) ? -1
                                                                                         : 0;
    if (rc) {
        err_prefix(err, "arch");
        return -1;
    }
    arch_fill_inactive(&a);
    *out = a;
    return 0;
}

/* ---- JSON form ----------------------------------------------------------------------------- */

static json_t *json_int_list(const int *v, int n)
{
    json_t *l = json_array();
    for (int i = 0; i < n; i++)
        json_array_append_new(l, json_integer(v[i]));
    return l;
}

char *arch_json_dump(const Arch *a)
{
    json_t *enc = json_object(), *dec = json_object(), *root = json_object();
    json_object_set_new(enc, "encoder_embed_dim", json_integer(a->enc_embed));
    json_object_set_new(enc, "encoder_layer_num", json_integer(a->enc_layers));
    json_object_set_new(enc, "encoder_ffn_embed_dim", json_int_list(a->enc_ffn, a->enc_layers));
    json_object_set_new(enc, "encoder_self_attention_heads",
                        json_int_list(a->enc_heads, a->enc_layers));
    json_object_set_new(dec, "decoder_embed_dim", json_integer(a->dec_embed));
    json_object_set_new(dec, "decoder_layer_num", json_integer(a->dec_layers));
    json_object_set_new(dec, "decoder_ffn_embed_dim", json_int_list(a->dec_ffn, a->dec_layers));
    json_object_set_new(dec, "decoder_self_attention_heads",
                        json_int_list(a->dec_self_heads, a->dec_layers));
    json_object_set_new(dec, "decoder_ende_attention_heads",
                        json_int_list(a->dec_ende_heads, a->dec_layers));
    json_object_set_new(dec, "decoder_arbitrary_ende_attn",
                        json_int_list(a->dec_arbitrary, a->dec_layers));
    json_object_set_new(root, "encoder", enc);
    json_object_set_new(root, "decoder", dec);
    char *s = json_dumps(root, JSON_PRESERVE_ORDER | JSON_COMPACT);
    json_decref(root);
    ASSERT(s);
    return s;
}

static int json_get_int(json_t *obj, const char *key, int *v, MosErr *err)
{
    json_t *x = json_object_get(obj, key);
    if (!x)
        return err_set(err, "missing '%s'", key);
    if (!json_is_integer(x) || json_integer_value(x) < INT_MIN ||
        json_integer_value(x) > INT_MAX)
        return err_set(err, "'%s' is not an integer", key);
    *v = (int)json_integer_value(x);
    return 0;
}

/* A per-layer list: at least `active` integers (HAT's configs carry every layer's value;
 * up to ARCH_MAX_LAYERS are kept, further entries ignored). */
static int json_get_list(json_t *obj, const char *key, int active, int *v, MosErr *err)
{
    json_t *x = json_object_get(obj, key);
    if (!x)
        return err_set(err, "missing '%s'", key);
    if (!json_is_array(x))
        return err_set(err, "'%s' is not a list", key);
    size_t n = json_array_size(x);
    if (n < (size_t)active)
        return err_set(err, "'%s' has %zu values, the layer count needs %d", key, n, active);
    for (size_t i = 0; i < n && i < ARCH_MAX_LAYERS; i++) {
        json_t *e = json_array_get(x, i);
        if (!json_is_integer(e) || json_integer_value(e) < INT_MIN ||
            json_integer_value(e) > INT_MAX)
            return err_set(err, "'%s'[%zu] is not an integer", key, i);
        v[i] = (int)json_integer_value(e);
    }
    for (size_t i = n; i < ARCH_MAX_LAYERS; i++)
        v[i] = v[active - 1];
    return 0;
}

static int json_layers(json_t *obj, const char *key, int *v, MosErr *err)
{
    if (json_get_int(obj, key, v, err))
        return -1;
    if (*v < 1 || *v > ARCH_MAX_LAYERS)
        return err_set(err, "'%s' = %d is outside 1..%d", key, *v, ARCH_MAX_LAYERS);
    return 0;
}

static int arch_json_fields(json_t *root, Arch *a, MosErr *err)
{
    json_t *enc = json_object_get(root, "encoder"), *dec = json_object_get(root, "decoder");
    if (!json_is_object(enc) || !json_is_object(dec))
        return err_set(err, "expected an object with 'encoder' and 'decoder' objects");
    if (json_get_int(enc, "encoder_embed_dim", &a->enc_embed, err) ||
        json_layers(enc, "encoder_layer_num", &a->enc_layers, err) ||
        json_get_list(enc, "encoder_ffn_embed_dim", a->enc_layers, a->enc_ffn, err) ||
        json_get_list(enc, "encoder_self_attention_heads", a->enc_layers, a->enc_heads, err) ||
        json_get_int(dec, "decoder_embed_dim", &a->dec_embed, err) ||
        json_layers(dec, "decoder_layer_num", &a->dec_layers, err) ||
        json_get_list(dec, "decoder_ffn_embed_dim", a->dec_layers, a->dec_ffn, err) ||
        json_get_list(dec, "decoder_self_attention_heads", a->dec_layers, a->dec_self_heads,
                      err) ||
        json_get_list(dec, "decoder_ende_attention_heads", a->dec_layers, a->dec_ende_heads,
                      err) ||
        json_get_list(dec, "decoder_arbitrary_ende_attn", a->dec_layers, a->dec_arbitrary, err))
        return -1;
    return 0;
}

int arch_json_load(const char *json, Arch *out, MosErr *err)
{
    json_error_t je;
    json_t *root = json_loads(json, 0, &je);
    if (!root)
        return err_set(err, "arch JSON: line %d: %s", je.line, je.text);
    Arch a;
    memset(&a, 0, sizeof a);
    int rc = arch_json_fields(root, &a, err);
    json_decref(root);
    if (rc) {
        err_prefix(err, "arch JSON");
        return -1;
    }
    /* Lists longer than the layer count already filled the inactive slots; shorter ones were
     * filled from the last active value. */
    *out = a;
    return 0;
}
