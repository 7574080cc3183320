/* MoS inside the whole supernet (core/ffn.c, core/supernet_mos.c): finite-difference gradients
 * of the loss w.r.t. experts, routers and the rest, both variants, smallest / largest / mixed
 * archs and a sandwich-like update of two archs; layer-wise m = 1 equals mos none bit for bit
 * (loss and every gradient); collapse into a plain supernet gives the same log-probs; gate
 * summaries; the W(a) cache follows parameter changes. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "model_fixture.h"
#include "extract.h"
#include "mos.h"
#include "optim.h"
#include "supernet.h"

static Supernet *make(const ModelConfig *c, uint64_t seed)
{
    MosErr err = {{0}};
    Supernet *s = supernet_new(c, 64, seed, &err);
    if (!s)
        fail_msg("supernet_new: %s", err.msg);
    return s;
}

static void mos_config(ModelConfig *c, MosKind kind, int m, int dropout)
{
    fixture_config(c, 0);
    c->mos = kind;
    c->mos_experts = m;
    c->router_hidden = 8;
    if (!dropout)
        c->dropout = c->attn_dropout = 0.0f;
}

/* The non-reference router options: centred input, router-lr-scale 4, router-init-scale 3. */
static void router_opts(ModelConfig *c)
{
    c->router_input = ROUTER_INPUT_CENTRED;
    c->router_lr_scale = 4.0f;
    c->router_init_scale = 3.0f;
}

/* Summed loss of one update over the archs in a[0..na) (dropout replayed from seed 99). */
static double update_loss(Supernet *s, const Arch *a, int na, const Batch *b)
{
    Rng r;
    rng_seed(&r, 99);
    double loss = 0.0;
    for (int i = 0; i < na; i++)
        loss += supernet_step(s, &a[i], b, 1, &r, NULL);
    return loss;
}

static const NamedTensor *tensor_at(const Supernet *s, size_t i)
{
    const NamedTensor *t = supernet_tensor(s, 0);
    for (int k = 0; k < supernet_ntensors(s); k++)
        if (supernet_tensor(s, k)->offset <= i)
            t = supernet_tensor(s, k);
    return t;
}

/* Parameter indices of tensors whose name contains `part` (NULL: all) with a nonzero analytic
 * gradient; returns their number. */
static size_t nonzero_in(const Supernet *s, const float *an, const char *part, size_t *out)
{
    size_t n = 0;
    for (int k = 0; k < supernet_ntensors(s); k++) {
        const NamedTensor *t = supernet_tensor(s, k);
        if (part && !strstr(t->name, part))
            continue;
        size_t sz = (size_t)t->shape[0] * (t->ndim == 2 ? (size_t)t->shape[1] : 1);
        for (size_t i = 0; i < sz; i++)
            if (an[t->offset + i] != 0.0f)
                out[n++] = t->offset + i;
    }
    return n;
}

/* Central differences at eps = 1e-3 (ReLU kinks skipped as in test_supernet.c) on parameters
 * with a nonzero gradient drawn in turn from the routers, the experts and the whole model. */
static void gradcheck(MosKind kind, const int *which, int na, int dropout, int opts)
{
    ModelConfig c;
    mos_config(&c, kind, 2, dropout);
    if (opts)
        router_opts(&c);
    Supernet *s = make(&c, 21 + which[0]);
    Batch b = fixture_batch();
    Arch a[3];
    for (int i = 0; i < na; i++)
        fixture_arch(&a[i], which[i]);
    size_t np = supernet_nparams(s);
    supernet_zero_grads(s);
    double l0 = update_loss(s, a, na, &b);
    float *an = malloc(np * sizeof *an);
    memcpy(an, supernet_grads(s), np * sizeof *an);
    size_t *pool[3], npool[3];
    const char *part[3] = {"router", "experts", NULL};
    for (int k = 0; k < 3; k++) {
        pool[k] = malloc(np * sizeof(size_t));
        npool[k] = nonzero_in(s, an, part[k], pool[k]);
        assert_true(npool[k] > 0);
    }
    float *p = supernet_params(s);
    Rng pick;
    rng_seed(&pick, 17);
    int checked = 0, bad = 0, tries = 0;
    while (checked < 150 && tries < 1000) {
        int k = tries++ % 3;
        size_t i = pool[k][rng_next(&pick) % npool[k]];
        float keep = p[i], eps = 1e-3f;
        p[i] = keep + eps;
        supernet_params_changed(s);
        double lp = update_loss(s, a, na, &b);
        p[i] = keep - eps;
        supernet_params_changed(s);
        double lm = update_loss(s, a, na, &b);
        p[i] = keep;
        supernet_params_changed(s);
        double fd = (lp - lm) / (2.0 * eps);
        if (fabs((lp - l0) - (l0 - lm)) / eps > 4e-3 + 4e-2 * fabs(fd))
            continue;
        checked++;
        if (fabs(fd - an[i]) > 3e-3 + 3e-2 * fabs(an[i])) {
            bad++;
            print_message("param %zu (%s): analytic %.6g numeric %.6g\n", i,
                          tensor_at(s, i)->name, an[i], fd);
        }
    }
    assert_true(checked >= 100);
    assert_int_equal(bad, 0);
    for (int k = 0; k < 3; k++)
        free(pool[k]);
    free(an);
    supernet_destroy(&s);
}

static void grad_layer_largest(void **st) { (void)st; gradcheck(MOS_LAYER, (int[]){0}, 1, 0, 0); }
static void grad_layer_smallest(void **st) { (void)st; gradcheck(MOS_LAYER, (int[]){1}, 1, 1, 0); }
static void grad_neuron_largest(void **st) { (void)st; gradcheck(MOS_NEURON, (int[]){0}, 1, 1, 0); }
static void grad_neuron_smallest(void **st)
{
    (void)st;
    gradcheck(MOS_NEURON, (int[]){1}, 1, 0, 0);
}
/* Sandwich-like update: three archs accumulate into one gradient (flush on each key change). */
static void grad_layer_sandwich(void **st)
{
    (void)st;
    gradcheck(MOS_LAYER, (int[]){0, 1, 2}, 3, 1, 0);
}
static void grad_neuron_sandwich(void **st)
{
    (void)st;
    gradcheck(MOS_NEURON, (int[]){2, 0, 1}, 3, 0, 0);
}

/* Centred input, router-lr-scale and a wider router init: the gradients of the stored
 * parameters still match finite differences (sandwich-like updates). */
static void grad_layer_router_opts(void **st)
{
    (void)st;
    gradcheck(MOS_LAYER, (int[]){1, 2, 0}, 3, 0, 1);
}
static void grad_neuron_router_opts(void **st)
{
    (void)st;
    gradcheck(MOS_NEURON, (int[]){0, 2, 1}, 3, 1, 1);
}

/* ---- m = 1 is the plain supernet ---------------------------------------------------------- */

/* Name of the MoS tensor holding plain tensor `name` (fc1/fc2 -> expert 0), in buf. */
static const char *mos_name(const char *name, char *buf, size_t n)
{
    const char *fc = strstr(name, ".fc1.") ? strstr(name, ".fc1.") : strstr(name, ".fc2.");
    if (!fc)
        return name;
    snprintf(buf, n, "%.*s.experts.0.%s", (int)(fc - name + 4), name, fc + 5);
    return buf;
}

static void one_expert_equals_plain(int opts)
{
    ModelConfig cp, cm;
    mos_config(&cp, MOS_NONE, 1, 1);
    mos_config(&cm, MOS_LAYER, 1, 1);
    if (opts)
        router_opts(&cm);
    Supernet *sp = make(&cp, 3), *sm = make(&cm, 3);
    float *pp = supernet_params(sp), *pm = supernet_params(sm);
    char buf[160];
    for (int k = 0; k < supernet_ntensors(sp); k++) {
        const NamedTensor *t = supernet_tensor(sp, k);
        int j = supernet_find_tensor(sm, mos_name(t->name, buf, sizeof buf));
        assert_true(j >= 0);
        size_t n = (size_t)t->shape[0] * (t->ndim == 2 ? (size_t)t->shape[1] : 1);
        memcpy(pm + supernet_tensor(sm, j)->offset, pp + t->offset, n * sizeof(float));
    }
    supernet_params_changed(sm);
    Batch b = fixture_batch();
    for (int w = 0; w < 3; w++) {
        Arch a[2];              /* one arch, two micro-batches */
        fixture_arch(&a[0], w);
        fixture_arch(&a[1], w);
        supernet_zero_grads(sp);
        supernet_zero_grads(sm);
        double lp = update_loss(sp, a, 2, &b), lm = update_loss(sm, a, 2, &b);
        assert_true(lp == lm);
        const float *gp = supernet_grads(sp), *gm = supernet_grads(sm);
        for (int k = 0; k < supernet_ntensors(sp); k++) {
            const NamedTensor *t = supernet_tensor(sp, k);
            const NamedTensor *u = supernet_tensor(sm, supernet_find_tensor(sm,
                                                   mos_name(t->name, buf, sizeof buf)));
            size_t n = (size_t)t->shape[0] * (t->ndim == 2 ? (size_t)t->shape[1] : 1);
            if (memcmp(gp + t->offset, gm + u->offset, n * sizeof(float)) != 0)
                fail_msg("arch %d: gradient of %s differs", w, t->name);
        }
        for (int k = 0; k < supernet_ntensors(sm); k++) {
            const NamedTensor *u = supernet_tensor(sm, k);
            if (!strstr(u->name, "router"))
                continue;
            size_t n = (size_t)u->shape[0] * (u->ndim == 2 ? (size_t)u->shape[1] : 1);
            for (size_t i = 0; i < n; i++)
                assert_true(gm[u->offset + i] == 0.0f);   /* softmax over one expert */
        }
    }
    supernet_destroy(&sp);
    supernet_destroy(&sm);
}

static void one_expert_equals_plain_bit_for_bit(void **state)
{
    (void)state;
    one_expert_equals_plain(0);
    one_expert_equals_plain(1);     /* the router options cannot matter with one expert */
}

/* ---- collapse ----------------------------------------------------------------------------- */

static void collapse_matches(MosKind kind, int opts)
{
    ModelConfig cm, cp;
    mos_config(&cm, kind, 2, 1);
    if (opts)
        router_opts(&cm);
    cp = cm;
    cp.mos = MOS_NONE;
    cp.mos_experts = 1;
    Supernet *sm = make(&cm, 5), *sp = make(&cp, 6);
    /* Train-like perturbation so the experts differ from their init and the router matters. */
    float *p = supernet_params(sm);
    Rng r;
    rng_seed(&r, 8);
    for (size_t i = 0; i < supernet_nparams(sm); i++)
        p[i] += 0.05f * rng_normal(&r);
    Batch b = fixture_batch();
    int V = cm.vocab;
    size_t nb = (size_t)b.B * V * sizeof(float);
    float *lm = malloc(nb), *lp = malloc(nb);
    for (int w = 0; w < 3; w++) {
        Arch a;
        fixture_arch(&a, w);
        MosErr err = {{0}};
        assert_int_equal(supernet_collapse(sm, &a, sp, &err), 0);
        double worst = 0.0;
        for (int t = 0; t < b.Tt; t++) {
            supernet_logprobs(sm, &a, &b, t, lm);
            supernet_logprobs(sp, &a, &b, t, lp);
            for (int i = 0; i < b.B * V; i++)
                worst = fmax(worst, fabs((double)lm[i] - lp[i]));
        }
        assert_true(worst <= 1e-5);
        double nm = 0, np = 0;
        supernet_step(sm, &a, &b, 0, NULL, &nm);
        supernet_step(sp, &a, &b, 0, NULL, &np);
        assert_true(fabs(nm - np) <= 1e-4 * fabs(nm));
    }
    /* A plain target for a different space is refused with a reason. */
    ModelConfig bad = cp;
    bad.space.enc_ffn_max = 20;
    bad.space.enc_ffn.v[0] = 20;
    Supernet *sb = make(&bad, 6);
    Arch a;
    fixture_arch(&a, 1);
    MosErr err = {{0}};
    assert_int_equal(supernet_collapse(sm, &a, sb, &err), -1);
    assert_non_null(strstr(err.msg, "collapse"));
    assert_int_equal(supernet_collapse(sm, &a, sm, &err), -1);
    free(lm);
    free(lp);
    supernet_destroy(&sb);
    supernet_destroy(&sm);
    supernet_destroy(&sp);
}

/* Extraction of a MoS supernet: the standalone model of arch a (its own dims) gives the MoS
 * supernet's log-probs for a. */
static void extract_collapses(MosKind kind)
{
    ModelConfig cm;
    mos_config(&cm, kind, 2, 1);
    Supernet *sm = make(&cm, 15);
    float *p = supernet_params(sm);
    Rng r;
    rng_seed(&r, 16);
    for (size_t i = 0; i < supernet_nparams(sm); i++)
        p[i] += 0.05f * rng_normal(&r);
    Batch b = fixture_batch();
    int V = cm.vocab;
    size_t nb = (size_t)b.B * V * sizeof(float);
    float *lm = malloc(nb), *lx = malloc(nb);
    for (int w = 0; w < 3; w++) {
        Arch a;
        fixture_arch(&a, w);
        MosErr err = {{0}};
        Supernet *x = extract_model(sm, &a, 64, &err);
        if (!x)
            fail_msg("extract_model: %s", err.msg);
        double worst = 0.0;
        for (int t = 0; t < b.Tt; t++) {
            supernet_logprobs(sm, &a, &b, t, lm);
            supernet_logprobs(x, &a, &b, t, lx);
            for (int i = 0; i < b.B * V; i++)
                worst = fmax(worst, fabs((double)lm[i] - lx[i]));
        }
        assert_true(worst <= 1e-5);
        supernet_destroy(&x);
    }
    free(lm);
    free(lx);
    supernet_destroy(&sm);
}

static void extract_layer(void **state) { (void)state; extract_collapses(MOS_LAYER); }
static void extract_neuron(void **state) { (void)state; extract_collapses(MOS_NEURON); }

static void collapse_layer(void **state)
{
    (void)state;
    collapse_matches(MOS_LAYER, 0);
    collapse_matches(MOS_LAYER, 1);
}
static void collapse_neuron(void **state)
{
    (void)state;
    collapse_matches(MOS_NEURON, 0);
    collapse_matches(MOS_NEURON, 1);
}

/* ---- gates and cache ---------------------------------------------------------------------- */

static void gates_per_layer(void **state)
{
    (void)state;
    for (int kind = MOS_LAYER; kind <= MOS_NEURON; kind++) {
        ModelConfig c;
        mos_config(&c, (MosKind)kind, 3, 0);
        Supernet *s = make(&c, 9);
        MosGates g[2 * ARCH_MAX_LAYERS], h[2 * ARCH_MAX_LAYERS];
        Arch big, small;
        fixture_arch(&big, 0);
        fixture_arch(&small, 1);
        int n = mos_gates(s, &big, g);
        assert_int_equal(n, big.enc_layers + big.dec_layers);
        assert_int_equal(mos_gates(s, &small, h), small.enc_layers + small.dec_layers);
        for (int l = 0; l < n; l++) {
            float sum = 0;
            for (int i = 0; i < 3; i++)
                sum += g[l].fc1.mean[i];
            assert_true(fabsf(sum - 1.0f) < 1e-5f);
        }
        assert_int_equal(g[0].fc1.rows, kind == MOS_LAYER ? 1 : big.enc_ffn[0]);
        assert_int_equal(g[0].fc2.rows, kind == MOS_LAYER ? 1 : big.enc_embed);
        /* The router sees the architecture: the two archs' gates differ. */
        assert_true(memcmp(g[0].fc1.mean, h[0].fc1.mean, 3 * sizeof(float)) != 0);
        supernet_destroy(&s);
    }
    ModelConfig c;
    mos_config(&c, MOS_NONE, 1, 0);
    Supernet *s = make(&c, 9);
    MosGates g[2 * ARCH_MAX_LAYERS];
    Arch a;
    fixture_arch(&a, 0);
    assert_int_equal(mos_gates(s, &a, g), -1);
    supernet_destroy(&s);
}

/* Constant router input: every arch gets the same gates (the ablation control). */
static void const_input_ignores_arch(void **state)
{
    (void)state;
    ModelConfig c;
    mos_config(&c, MOS_LAYER, 2, 0);
    c.router_const_input = 1;
    Supernet *s = make(&c, 10);
    MosGates g[2 * ARCH_MAX_LAYERS], h[2 * ARCH_MAX_LAYERS];
    Arch big, small;
    fixture_arch(&big, 0);
    fixture_arch(&small, 1);
    mos_gates(s, &big, g);
    mos_gates(s, &small, h);
    assert_memory_equal(g[0].fc1.mean, h[0].fc1.mean, 2 * sizeof(float));
    supernet_destroy(&s);
}

/* After an optimizer-like change through supernet_params the next step sees new weights, and
 * a forward-only step between micro-batches does not lose pending gradient. */
static void cache_follows_parameter_changes(void **state)
{
    (void)state;
    ModelConfig c;
    mos_config(&c, MOS_NEURON, 2, 0);
    Supernet *s = make(&c, 11);
    Batch b = fixture_batch();
    Arch a, o;
    fixture_arch(&a, 0);
    fixture_arch(&o, 1);
    double l0 = supernet_step(s, &a, &b, 0, NULL, NULL);
    int k = supernet_find_tensor(s, "encoder.layers.0.fc1.experts.1.weight");
    assert_true(k >= 0);
    float *p = supernet_params(s);
    for (int i = 0; i < 24 * 16; i++)
        p[supernet_tensor(s, k)->offset + i] *= 1.5f;
    double l1 = supernet_step(s, &a, &b, 0, NULL, NULL);
    assert_true(l1 != l0);

    supernet_zero_grads(s);
    supernet_step(s, &a, &b, 1, NULL, NULL);
    supernet_step(s, &o, &b, 0, NULL, NULL);        /* another arch, forward only */
    supernet_step(s, &a, &b, 1, NULL, NULL);
    float *g = supernet_grads(s);
    size_t np = supernet_nparams(s);
    float *twice = malloc(np * sizeof *twice);
    memcpy(twice, g, np * sizeof *twice);
    supernet_zero_grads(s);
    supernet_step(s, &a, &b, 1, NULL, NULL);
    g = supernet_grads(s);
    for (size_t i = 0; i < np; i++)
        assert_true(fabsf(twice[i] - 2.0f * g[i]) <= 1e-5f + 1e-4f * fabsf(twice[i]));
    free(twice);
    supernet_destroy(&s);
}

/* ---- router options ------------------------------------------------------------------------ */

/* router-input centred: each feature is -1 at the space's smallest choice, +1 at its largest,
 * linear between, and 0 for a feature with one value (encoder depth; the fixture's arbitrary
 * code 1 attends 2 of 1..3 layers). raw is HAT's feature / max. */
static void router_input_centred(void **state)
{
    (void)state;
    ModelConfig c;
    mos_config(&c, MOS_LAYER, 2, 0);
    Arch big, small, mid;
    fixture_arch(&big, 0);
    fixture_arch(&small, 1);
    fixture_arch(&mid, 2);
    float x[ARCH_FEATURES], raw[ARCH_FEATURES];
    mos_router_input(&c.space, &small, 0, ROUTER_INPUT_CENTRED, x);
    const float want_small[ARCH_FEATURES] = {-1, 0, -1, -1, -1, -1, -1, -1, -1, 0};
    assert_memory_equal(x, want_small, sizeof x);
    mos_router_input(&c.space, &big, 0, ROUTER_INPUT_CENTRED, x);
    const float want_big[ARCH_FEATURES] = {1, 0, 1, 1, 1, 1, 1, 1, 1, 0};
    assert_memory_equal(x, want_big, sizeof x);
    /* mid: encoder FFN 12, 24, 12 (mean 16 of 12..24), arbitrary codes 2, -1 (3 and 1 layers) */
    mos_router_input(&c.space, &mid, 0, ROUTER_INPUT_CENTRED, x);
    assert_true(fabsf(x[2] - (-1.0f / 3.0f)) < 1e-6f);
    assert_true(fabsf(x[9]) < 1e-6f);
    for (int k = 0; k < ARCH_FEATURES; k++)
        assert_true(x[k] >= -1.0f && x[k] <= 1.0f);
    mos_router_input(&c.space, &mid, 0, ROUTER_INPUT_RAW, raw);
    arch_features(&c.space, &mid, x);
    assert_memory_equal(raw, x, sizeof x);
    mos_router_input(&c.space, &mid, 1, ROUTER_INPUT_CENTRED, x);
    for (int k = 0; k < ARCH_FEATURES; k++)
        assert_true(x[k] == 0.5f);
}

/* Copies the router parameters of s, multiplied by the router's scale k (what it computes with). */
static void effective_router(Supernet *s, float k, float *out, size_t *n)
{
    const float *p = supernet_params(s);
    *n = 0;
    for (int t = 0; t < supernet_ntensors(s); t++) {
        const NamedTensor *u = supernet_tensor(s, t);
        if (!strstr(u->name, "router"))
            continue;
        size_t sz = (size_t)u->shape[0] * (u->ndim == 2 ? (size_t)u->shape[1] : 1);
        for (size_t i = 0; i < sz; i++)
            out[(*n)++] = k * p[u->offset + i];
    }
}

/* router-lr-scale k: the same router at init whatever k, and one Adam step moves the router's
 * effective parameters k times as far (the experts alike in both). */
static void router_lr_scale_speeds_the_router(void **state)
{
    (void)state;
    for (int kind = MOS_LAYER; kind <= MOS_NEURON; kind++) {
        ModelConfig c1, c8;
        mos_config(&c1, (MosKind)kind, 2, 0);
        c8 = c1;
        c8.router_lr_scale = 8.0f;
        Supernet *s[2] = {make(&c1, 31), make(&c8, 31)};
        const float k[2] = {1.0f, 8.0f};
        size_t np = supernet_nparams(s[0]), nr = 0;
        float *before[2], *after[2];
        Batch b = fixture_batch();
        Arch a[3];
        for (int i = 0; i < 3; i++)
            fixture_arch(&a[i], i);
        for (int v = 0; v < 2; v++) {
            before[v] = malloc(np * sizeof(float));
            after[v] = malloc(np * sizeof(float));
            effective_router(s[v], k[v], before[v], &nr);
            supernet_zero_grads(s[v]);
            update_loss(s[v], a, 3, &b);
            optim_adam(supernet_params(s[v]), supernet_grads(s[v]), supernet_adam_m(s[v]),
                       supernet_adam_v(s[v]), np, 1e-3, 0.9f, 0.98f, 1e-8f, 1);
            effective_router(s[v], k[v], after[v], &nr);
        }
        int moved = 0;
        for (size_t i = 0; i < nr; i++) {
            assert_true(fabsf(before[0][i] - before[1][i]) <= 1e-6f * (1 + fabsf(before[0][i])));
            double d1 = (double)after[0][i] - before[0][i];
            double d8 = (double)after[1][i] - before[1][i];
            if (fabs(d1) < 5e-4)    /* Adam's first step is lr * g / (|g| + eps): ~lr or 0 */
                continue;
            moved++;
            assert_true(fabs(d8 - 8.0 * d1) <= 2e-2 * fabs(8.0 * d1));
        }
        assert_true(moved > (int)nr / 2);
        supernet_destroy(&s[0]);
        supernet_destroy(&s[1]);
        for (int v = 0; v < 2; v++) {
            free(before[v]);
            free(after[v]);
        }
    }
}

/* The router keys in a YAML config: read, refused out of range, and part of the checkpoint hash
 * only where they change what MoS weights mean (router-input, router-lr-scale; not with mos
 * none; not at the values that compute what their absence did). */
static uint64_t hash_of(const char *yaml)
{
    RunConfig c;
    config_defaults(&c);
    MosErr err = {{0}};
    if (config_parse(yaml, strlen(yaml), "t.yml", &c, NULL, &err) < 0)
        fail_msg("%s: %s", yaml, err.msg);
    return config_hash(&c);
}

static void router_keys_in_config(void **state)
{
    (void)state;
    RunConfig c;
    config_defaults(&c);
    const char *y = "mos: neuron\nrouter-input: centred\nrouter-lr-scale: 10\n"
                    "router-init-scale: 4\n";
    MosErr err = {{0}};
    assert_int_equal(config_parse(y, strlen(y), "t.yml", &c, NULL, &err), 0);
    assert_int_equal(c.model.router_input, ROUTER_INPUT_CENTRED);
    assert_true(c.model.router_lr_scale == 10.0f && c.model.router_init_scale == 4.0f);
    const char *bad[] = {"router-lr-scale: 0\n", "router-lr-scale: 2000\n",
                         "router-init-scale: -1\n", "router-input: scaled\n"};
    for (int i = 0; i < 4; i++) {
        config_defaults(&c);
        assert_int_equal(config_parse(bad[i], strlen(bad[i]), "t.yml", &c, NULL, &err), -1);
        assert_non_null(strstr(err.msg, "router-"));
    }
    /* The reference setting (raw, 1) hashes as before the keys existed: no router key in it. */
    const char *ref = "mos: layer\nrouter-input: raw\nrouter-lr-scale: 1\n";
    uint64_t h_ref = hash_of(ref);
    assert_true(hash_of("mos: layer\nrouter-input: raw\nrouter-lr-scale: 1\n"
                        "router-init-scale: 5\n") == h_ref);
    assert_true(hash_of("mos: layer\n") != h_ref);     /* the defaults: centred, 3 */
    assert_true(hash_of("mos: layer\nrouter-input: raw\nrouter-lr-scale: 10\n") != h_ref);
    assert_true(hash_of("mos: layer\nrouter-input: centred\nrouter-lr-scale: 1\n") != h_ref);
    assert_true(hash_of("mos: layer\nrouter-input: centred\nrouter-lr-scale: 3\n") ==
                hash_of("mos: layer\n"));
    assert_true(hash_of("mos: none\nrouter-lr-scale: 1\nrouter-input: raw\n") ==
                hash_of("mos: none\n"));
    /* Through the API: out of range refused with the key's name. */
    ModelConfig m;
    mos_config(&m, MOS_LAYER, 2, 0);
    m.router_lr_scale = -1.0f;
    assert_null(supernet_new(&m, 64, 1, &err));
    assert_non_null(strstr(err.msg, "router-lr-scale"));
    mos_config(&m, MOS_NEURON, 2, 0);
    m.router_input = ROUTER_INPUT_COUNT;
    assert_null(supernet_new(&m, 64, 1, &err));
    assert_non_null(strstr(err.msg, "router-input"));
}

static void bad_options_are_refused(void **state)
{
    (void)state;
    ModelConfig c;
    mos_config(&c, MOS_LAYER, 0, 0);
    MosErr err = {{0}};
    assert_null(supernet_new(&c, 64, 1, &err));
    assert_non_null(strstr(err.msg, "mos-experts"));
    mos_config(&c, MOS_NEURON, 2, 0);
    c.router_hidden = 0;
    assert_null(supernet_new(&c, 64, 1, &err));
    assert_non_null(strstr(err.msg, "router-hidden"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(grad_layer_largest),
        cmocka_unit_test(grad_layer_smallest),
        cmocka_unit_test(grad_neuron_largest),
        cmocka_unit_test(grad_neuron_smallest),
        cmocka_unit_test(grad_layer_sandwich),
        cmocka_unit_test(grad_neuron_sandwich),
        cmocka_unit_test(grad_layer_router_opts),
        cmocka_unit_test(grad_neuron_router_opts),
        cmocka_unit_test(one_expert_equals_plain_bit_for_bit),
        cmocka_unit_test(collapse_layer),
        cmocka_unit_test(collapse_neuron),
        cmocka_unit_test(extract_layer),
        cmocka_unit_test(extract_neuron),
        cmocka_unit_test(gates_per_layer),
        cmocka_unit_test(const_input_ignores_arch),
        cmocka_unit_test(cache_follows_parameter_changes),
        cmocka_unit_test(bad_options_are_refused),
        cmocka_unit_test(router_input_centred),
        cmocka_unit_test(router_lr_scale_speeds_the_router),
        cmocka_unit_test(router_keys_in_config),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
