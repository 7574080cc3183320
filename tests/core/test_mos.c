/* MoS experts and routers (core/mos.c) on their own: finite-difference gradients of every
 * parameter (experts, biases, routers) through a small FFN, both variants, several slices incl.
 * the smallest and largest; m = 1 gives the plain slice exactly; softmax rows sum to 1;
 * neuron-wise rows use router outputs j*m..j*m+m-1; the W(a) cache and flush rules. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "mos.h"

#define DMAX 6
#define FMAX 10
#define HID 8
#define TOK 5

typedef struct Fixture {
    MosFfn l;
    float *params, *grads, *scratch;
    size_t np;
    float xin[ARCH_FEATURES];
    float tok[TOK * DMAX], c[TOK * DMAX];
} Fixture;

/* lr_scale, init_scale: the router options (mos_ffn_router_options), 1 for the reference. */
static void fixture_make_opts(Fixture *fx, MosKind kind, int m, uint64_t seed, float lr_scale,
                              float init_scale)
{
    /* Tensors packed back to back (the supernet aligns them; any offsets must work). */
    MosTensorSpec spec[MOS_MAX_TENSORS];
    size_t off[MOS_MAX_TENSORS];
    int nt = mos_ffn_tensors(kind, m, HID, DMAX, FMAX, spec);
    fx->np = 0;
    for (int k = 0; k < nt; k++) {
        off[k] = fx->np;
        fx->np += (size_t)spec[k].d0 * (spec[k].ndim == 2 ? spec[k].d1 : 1);
    }
    size_t ns = mos_ffn_scratch_floats(kind, m, HID, DMAX, FMAX);
    fx->params = calloc(fx->np, sizeof(float));
    fx->grads = calloc(fx->np, sizeof(float));
    fx->scratch = calloc(ns, sizeof(float));
    assert_non_null(fx->params);
    assert_non_null(fx->grads);
    assert_non_null(fx->scratch);
    mos_ffn_setup(&fx->l, kind, m, HID, DMAX, FMAX, fx->scratch);
    mos_ffn_point(&fx->l, off, fx->params, fx->grads);
    mos_ffn_router_options(&fx->l, lr_scale, init_scale);
    Rng r;
    rng_seed(&r, seed);
    mos_ffn_init(&fx->l, &r);
    /* Non-zero biases so that their gradient paths are exercised. */
    for (int i = 0; i < m; i++) {
        for (int j = 0; j < FMAX; j++)
            fx->l.fc1.b[i][j] = 0.3f * rng_normal(&r);
        for (int j = 0; j < DMAX; j++)
            fx->l.fc2.b[i][j] = 0.3f * rng_normal(&r);
    }
    for (int k = 0; k < ARCH_FEATURES; k++)
        fx->xin[k] = 0.3f + 1.2f * rng_float(&r);
    for (int i = 0; i < TOK * DMAX; i++) {
        fx->tok[i] = rng_normal(&r);
        fx->c[i] = rng_normal(&r);
    }
}

static void fixture_make(Fixture *fx, MosKind kind, int m, uint64_t seed)
{
    fixture_make_opts(fx, kind, m, seed, 1.0f, 1.0f);
}

static void fixture_free(Fixture *fx)
{
    free(fx->params);
    free(fx->grads);
    free(fx->scratch);
}

/* L = sum_t <c_t, y_t> + 1/2 |y_t|^2 with y = W2(a) ReLU(W1(a) x + b1(a)) + b2(a), over tokens
 * [t0, t1); when backward, adds dL/dW(a) into the layer's gradient slots. */
static double ffn_loss(Fixture *fx, int d, int f, int t0, int t1, int backward)
{
    MosFfn *l = &fx->l;
    mos_ffn_mix(l, fx->xin, d, f);
    float *dw1 = NULL, *db1 = NULL, *dw2 = NULL, *db2 = NULL;
    if (backward)
        mos_ffn_grad_slots(l, &dw1, &db1, &dw2, &db2);
    double loss = 0.0;
    for (int t = t0; t < t1; t++) {
        const float *x = fx->tok + t * DMAX, *c = fx->c + t * DMAX;
        double pre[FMAX], act[FMAX], dy[DMAX], dact[FMAX];
        for (int k = 0; k < f; k++) {
            pre[k] = l->b1[k];
            for (int j = 0; j < d; j++)
                pre[k] += (double)l->w1[k * d + j] * x[j];
            act[k] = pre[k] > 0 ? pre[k] : 0;
        }
        for (int o = 0; o < d; o++) {
            double y = l->b2[o];
            for (int k = 0; k < f; k++)
                y += (double)l->w2[o * f + k] * act[k];
            loss += c[o] * y + 0.5 * y * y;
            dy[o] = c[o] + y;
        }
        if (!backward)
            continue;
        for (int k = 0; k < f; k++)
            dact[k] = 0;
        for (int o = 0; o < d; o++) {
            for (int k = 0; k < f; k++) {
                dw2[o * f + k] += (float)(dy[o] * act[k]);
                dact[k] += l->w2[o * f + k] * dy[o];
            }
            db2[o] += (float)dy[o];
        }
        for (int k = 0; k < f; k++) {
            if (pre[k] <= 0)
                continue;
            for (int j = 0; j < d; j++)
                dw1[k * d + j] += (float)(dact[k] * x[j]);
            db1[k] += (float)dact[k];
        }
    }
    return loss;
}

/* Analytic gradients from two micro-batches, then every parameter against central differences
 * (router options lr_scale, init_scale). */
static void check_grads_opts(MosKind kind, int m, int d, int f, uint64_t seed, float lr_scale,
                             float init_scale)
{
    Fixture fx;
    fixture_make_opts(&fx, kind, m, seed, lr_scale, init_scale);
    memset(fx.grads, 0, fx.np * sizeof(float));
    ffn_loss(&fx, d, f, 0, 2, 1);
    ffn_loss(&fx, d, f, 2, TOK, 1);
    mos_ffn_flush(&fx.l);
    const float eps = 1e-3f;
    int checked = 0;
    for (size_t p = 0; p < fx.np; p++) {
        float keep = fx.params[p];
        fx.params[p] = keep + eps;
        mos_ffn_invalidate(&fx.l);
        double lp = ffn_loss(&fx, d, f, 0, TOK, 0);
        fx.params[p] = keep - eps;
        mos_ffn_invalidate(&fx.l);
        double lm = ffn_loss(&fx, d, f, 0, TOK, 0);
        fx.params[p] = keep;
        double fd = (lp - lm) / (2.0 * eps), an = fx.grads[p];
        double tol = 3e-3 + 2e-2 * fabs(fd);
        if (fabs(fd - an) > tol)
            fail_msg("kind %d m %d slice (%d,%d): param %zu analytic %.6f fd %.6f", kind, m,
                     d, f, p, an, fd);
        checked += an != 0.0;
    }
    mos_ffn_invalidate(&fx.l);
    assert_true(checked > 0);
    fixture_free(&fx);
}

static void check_grads(MosKind kind, int m, int d, int f, uint64_t seed)
{
    check_grads_opts(kind, m, d, f, seed, 1.0f, 1.0f);
}

static void grads_layer_wise(void **state)
{
    (void)state;
    check_grads(MOS_LAYER, 2, DMAX, FMAX, 1);   /* largest */
    check_grads(MOS_LAYER, 2, 1, 1, 2);         /* smallest */
    check_grads(MOS_LAYER, 3, 4, 7, 3);
    check_grads(MOS_LAYER, 2, 2, 3, 4);
}

static void grads_neuron_wise(void **state)
{
    (void)state;
    check_grads(MOS_NEURON, 2, DMAX, FMAX, 5);
    check_grads(MOS_NEURON, 2, 1, 1, 6);
    check_grads(MOS_NEURON, 3, 4, 7, 7);
    check_grads(MOS_NEURON, 2, 2, 3, 8);
}

/* router-lr-scale k (the router computes with k times its stored parameters) and a wider
 * last-layer init: the gradients w.r.t. the stored parameters still match finite differences. */
static void grads_scaled_router(void **state)
{
    (void)state;
    check_grads_opts(MOS_LAYER, 2, DMAX, FMAX, 11, 4.0f, 3.0f);
    check_grads_opts(MOS_LAYER, 3, 2, 3, 12, 0.5f, 1.0f);
    check_grads_opts(MOS_NEURON, 2, DMAX, FMAX, 13, 4.0f, 3.0f);
    check_grads_opts(MOS_NEURON, 2, 1, 1, 14, 8.0f, 2.0f);
}

/* The stored router values are the reference init / k (the first layer) and init_scale / k
 * times it (the last layer), so the router computes the same function at init for any k. */
static void router_options_scale_init(void **state)
{
    (void)state;
    for (int kind = MOS_LAYER; kind <= MOS_NEURON; kind++) {
        Fixture ref, sc;
        fixture_make(&ref, (MosKind)kind, 2, 21);
        fixture_make_opts(&sc, (MosKind)kind, 2, 21, 4.0f, 3.0f);
        const MosRouter *a = &ref.l.g1.r, *b = &sc.l.g1.r;
        for (int i = 0; i < a->hidden * a->in; i++)
            assert_true(fabsf(4.0f * b->w1[i] - a->w1[i]) <= 1e-6f * fabsf(a->w1[i]));
        for (int i = 0; i < a->out_max * a->hidden; i++)
            assert_true(fabsf(4.0f * b->w2[i] - 3.0f * a->w2[i]) <= 1e-6f * fabsf(a->w2[i]));
        /* Same effective first layer: the hidden activations agree. */
        mos_ffn_mix(&ref.l, ref.xin, DMAX, FMAX);
        mos_ffn_mix(&sc.l, ref.xin, DMAX, FMAX);
        for (int k = 0; k < HID; k++)
            assert_true(fabsf(ref.l.g1.h[k] - sc.l.g1.h[k]) <= 1e-5f);
        mos_ffn_invalidate(&ref.l);
        mos_ffn_invalidate(&sc.l);
        fixture_free(&ref);
        fixture_free(&sc);
    }
}

/* Outside the slice experts get exactly zero gradient; neuron-wise router rows >= m*n_out too. */
static void no_gradient_outside_slice(void **state)
{
    (void)state;
    const int m = 2, d = 4, f = 7;
    Fixture fx;
    fixture_make(&fx, MOS_NEURON, m, 9);
    memset(fx.grads, 0, fx.np * sizeof(float));
    ffn_loss(&fx, d, f, 0, TOK, 1);
    mos_ffn_flush(&fx.l);
    MosFfn *l = &fx.l;
    for (int i = 0; i < m; i++)
        for (int j = 0; j < FMAX; j++)
            for (int c = 0; c < DMAX; c++)
                if (j >= f || c >= d)
                    assert_true(l->fc1.dw[i][j * DMAX + c] == 0.0f);
    for (int o = m * f; o < m * FMAX; o++) {
        assert_true(l->g1.r.db2[o] == 0.0f);
        for (int k = 0; k < HID; k++)
            assert_true(l->g1.r.dw2[o * HID + k] == 0.0f);
    }
    for (int o = m * d; o < m * DMAX; o++)
        assert_true(l->g2.r.db2[o] == 0.0f);
    mos_ffn_invalidate(l);
    fixture_free(&fx);
}

/* m = 1: W(a) is the expert's top-left slice and bias exactly, with either router. */
static void one_expert_is_plain_slice(void **state)
{
    (void)state;
    for (int kind = MOS_LAYER; kind <= MOS_NEURON; kind++) {
        Fixture fx;
        fixture_make(&fx, (MosKind)kind, 1, 10 + kind);
        const int d = 3, f = 8;
        mos_ffn_mix(&fx.l, fx.xin, d, f);
        MosFfn *l = &fx.l;
        for (int j = 0; j < f; j++) {
            assert_memory_equal(l->w1 + j * d, l->fc1.w[0] + j * DMAX, d * sizeof(float));
            assert_true(l->b1[j] == l->fc1.b[0][j]);
        }
        for (int j = 0; j < d; j++) {
            assert_memory_equal(l->w2 + j * f, l->fc2.w[0] + j * FMAX, f * sizeof(float));
            assert_true(l->b2[j] == l->fc2.b[0][j]);
        }
        fixture_free(&fx);
    }
}

static void softmax_rows_sum_to_one(void **state)
{
    (void)state;
    Rng r;
    rng_seed(&r, 3);
    float z[7 * 4], a[7 * 4];
    for (int i = 0; i < 7 * 4; i++)
        z[i] = 30.0f * rng_normal(&r);
    z[0] = 1000.0f;    /* must not overflow */
    mos_softmax_forward(a, z, 7, 4);
    for (int j = 0; j < 7; j++) {
        double s = 0;
        for (int i = 0; i < 4; i++) {
            assert_true(a[j * 4 + i] >= 0.0f && a[j * 4 + i] <= 1.0f);
            s += a[j * 4 + i];
        }
        assert_true(fabs(s - 1.0) < 1e-6);
    }
}

/* With w2 = 0 the router logits are b2, so row j's gate is softmax(b2[j*m .. j*m+m-1]) for any
 * slice, and a narrow slice shares its rows with the wide one. */
static void neuron_rows_use_router_block_j(void **state)
{
    (void)state;
    const int m = 3;
    Fixture fx;
    fixture_make(&fx, MOS_NEURON, m, 12);
    MosRouter *r = &fx.l.g1.r;
    memset(r->w2, 0, (size_t)r->out_max * HID * sizeof(float));
    for (int o = 0; o < r->out_max; o++)
        r->b2[o] = 0.1f * (float)((o * 7) % 11) - 0.4f;
    for (int f = 2; f <= FMAX; f += 4) {
        mos_ffn_invalidate(&fx.l);
        mos_ffn_mix(&fx.l, fx.xin, DMAX, f);
        assert_int_equal(fx.l.g1.rows, f);
        for (int j = 0; j < f; j++) {
            float want[MOS_MAX_EXPERTS];
            mos_softmax_forward(want, r->b2 + j * m, 1, m);
            for (int i = 0; i < m; i++)
                assert_true(fabsf(fx.l.g1.alpha[j * m + i] - want[i]) < 1e-7f);
            float w = 0;
            for (int i = 0; i < m; i++)
                w += want[i] * fx.l.fc1.w[i][j * DMAX + 1];
            assert_true(fabsf(fx.l.w1[j * DMAX + 1] - w) < 1e-6f);
        }
    }
    MosGates g;
    mos_ffn_gates(&fx.l, &g);
    assert_int_equal(g.fc1.rows, FMAX);
    float sum = 0;
    int count = 0;
    for (int i = 0; i < m; i++) {
        sum += g.fc1.mean[i];
        for (int k = 0; k < MOS_GATE_BINS; k++)
            count += g.fc1.hist[i][k];
    }
    assert_true(fabsf(sum - 1.0f) < 1e-5f);
    assert_int_equal(count, m * g.fc1.rows);
    fixture_free(&fx);
}

/* The same key reuses W(a) (even if experts changed meanwhile: invalidation is the caller's
 * job after an optimizer step); a new key flushes the pending gradient of the old one first. */
static void cache_and_flush_rules(void **state)
{
    (void)state;
    Fixture fx;
    fixture_make(&fx, MOS_LAYER, 2, 13);
    MosFfn *l = &fx.l;
    mos_ffn_mix(l, fx.xin, 4, 5);
    float w0 = l->w1[0];
    l->fc1.w[0][0] += 1.0f;
    mos_ffn_mix(l, fx.xin, 4, 5);
    assert_true(l->w1[0] == w0);
    mos_ffn_invalidate(l);
    mos_ffn_mix(l, fx.xin, 4, 5);
    assert_true(l->w1[0] != w0);

    memset(fx.grads, 0, fx.np * sizeof(float));
    ffn_loss(&fx, 4, 5, 0, TOK, 1);
    assert_true(l->pending);
    mos_ffn_mix(l, fx.xin, 6, 5);          /* new key: old gradient pushed */
    assert_false(l->pending);
    float g = l->fc1.dw[0][0];
    assert_true(g != 0.0f);
    for (int i = 0; i < 4 * 5; i++)
        assert_true(l->dw1[i] == 0.0f);
    mos_ffn_flush(l);                      /* nothing pending: no change */
    assert_true(l->fc1.dw[0][0] == g);
    fixture_free(&fx);
}

static void layer_gates_are_alpha(void **state)
{
    (void)state;
    Fixture fx;
    fixture_make(&fx, MOS_LAYER, 3, 14);
    mos_ffn_mix(&fx.l, fx.xin, DMAX, FMAX);
    MosGates g;
    mos_ffn_gates(&fx.l, &g);
    assert_int_equal(g.m, 3);
    assert_int_equal(g.fc1.rows, 1);
    for (int i = 0; i < 3; i++) {
        assert_true(g.fc1.mean[i] == fx.l.g1.alpha[i]);
        assert_true(g.fc2.mean[i] == fx.l.g1.alpha[i]);
    }
    /* Different router inputs give different gates (the router sees the architecture). */
    float x2[ARCH_FEATURES];
    for (int k = 0; k < ARCH_FEATURES; k++)
        x2[k] = fx.xin[k] * 0.3f;
    mos_ffn_mix(&fx.l, x2, DMAX, FMAX);
    assert_true(fx.l.g1.alpha[0] != g.fc1.mean[0]);
    fixture_free(&fx);
}

/* The reference's parameter arithmetic (m = 2, H = 128, d 640, FFN 3072): layer-wise routers
 * 1,666 per layer, neuron-wise 960,512; experts 2 x (fc1 + fc2) with biases; unique names. */
static void tensor_table_matches_reference_sizes(void **state)
{
    (void)state;
    MosTensorSpec t[MOS_MAX_TENSORS];
    for (int kind = MOS_LAYER; kind <= MOS_NEURON; kind++) {
        int n = mos_ffn_tensors((MosKind)kind, 2, 128, 640, 3072, t);
        size_t experts = 0, routers = 0;
        for (int k = 0; k < n; k++) {
            size_t sz = (size_t)t[k].d0 * (t[k].ndim == 2 ? t[k].d1 : 1);
            if (strstr(t[k].name, "router"))
                routers += sz;
            else
                experts += sz;
            for (int q = 0; q < k; q++)
                assert_string_not_equal(t[k].name, t[q].name);
        }
        assert_int_equal(experts, 2 * (2 * 640 * 3072 + 640 + 3072));
        assert_int_equal(routers, kind == MOS_LAYER ? 1666 : 960512);
    }
    assert_string_equal(t[0].name, "fc1.experts.0.weight");
    assert_int_equal(t[0].d0, 3072);
    assert_int_equal(t[0].d1, 640);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(grads_layer_wise),
        cmocka_unit_test(grads_neuron_wise),
        cmocka_unit_test(grads_scaled_router),
        cmocka_unit_test(router_options_scale_init),
        cmocka_unit_test(no_gradient_outside_slice),
        cmocka_unit_test(one_expert_is_plain_slice),
        cmocka_unit_test(softmax_rows_sum_to_one),
        cmocka_unit_test(neuron_rows_use_router_block_j),
        cmocka_unit_test(cache_and_flush_rules),
        cmocka_unit_test(layer_gates_are_alpha),
        cmocka_unit_test(tensor_table_matches_reference_sizes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
