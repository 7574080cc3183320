/* The work split over mos's threads (ops_blas.h): every part of a split runs exactly once, nested
 * splits run serially, and a training step (forward, backward with dropout and padded batches,
 * Adam) gives bit-identical losses, gradients and weights with 1 and 2 threads and run to run,
 * at sizes above the split thresholds. Batch-1 decoding picks the same tokens at both counts. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "model_fixture.h"
#include "ops.h"
#include "ops_blas.h"
#include "optim.h"
#include "supernet.h"

/* ---- blas_parallel ----------------------------------------------------------------------- */

typedef struct Count { int hits[64]; int nparts; int inner_parts; } Count;

static void count_inner(void *ctx, int part, int nparts)
{
    Count *c = ctx;
    (void)part;
    c->inner_parts = nparts;
}

static void count_part(void *ctx, int part, int nparts)
{
    Count *c = ctx;
    c->hits[part]++;
    c->nparts = nparts;
    if (part == 0) {
        Count inner = {.nparts = 0};
        blas_parallel(count_inner, &inner, 1L << 30);   /* nested: runs on this thread alone */
        c->inner_parts = inner.inner_parts;
    }
}

static void parallel_runs_every_part_once(void **state)
{
    (void)state;
    for (int t = 1; t <= 3; t++) {
        blas_set_threads(t);
        assert_int_equal(blas_threads(), t);
        for (int rep = 0; rep < 200; rep++) {
            Count c = {.nparts = 0};
            blas_parallel(count_part, &c, 1L << 30);
            assert_int_equal(c.nparts, t);
            for (int p = 0; p < t; p++)
                assert_int_equal(c.hits[p], 1);
            assert_int_equal(c.inner_parts, 1);
        }
        Count small = {.nparts = 0};
        blas_parallel(count_part, &small, BLAS_PAR_MIN - 1);   /* below the threshold */
        assert_int_equal(small.nparts, 1);
    }
    blas_set_threads(1);
}

static void part_ranges_tile(void **state)
{
    (void)state;
    for (long n = 0; n < 50; n++)
        for (int np = 1; np <= 5; np++) {
            assert_int_equal(blas_part_lo(n, 0, np), 0);
            assert_int_equal(blas_part_lo(n, np, np), n);
            for (int p = 0; p < np; p++)
                assert_true(blas_part_lo(n, p, np) <= blas_part_lo(n, p + 1, np));
        }
}

/* ---- a training step at 1 and 2 threads --------------------------------------------------- */

enum { B = 16, T = 20 };

static void config(ModelConfig *c, int pre_ln)
{
    memset(c, 0, sizeof *c);
    SearchSpace *s = &c->space;
    s->enc_embed_max = s->dec_embed_max = 128;
    s->enc_ffn_max = s->dec_ffn_max = 256;
    s->enc_layers_max = 3;
    s->dec_layers_max = 2;
    s->enc_heads_max = s->dec_heads_max = 4;
    s->qkv_dim = 128;
    fixture_model_rest(c, 600, 32, pre_ln);
}

/* A subnet below the maxima (sliced views) attending to 2 encoder layers in decoder layer 0. */
static void arch(Arch *a)
{
    memset(a, 0, sizeof *a);
    a->enc_embed = 128;
    a->dec_embed = 96;
    a->enc_layers = 3;
    a->dec_layers = 2;
    for (int i = 0; i < ARCH_MAX_LAYERS; i++) {
        a->enc_ffn[i] = i == 1 ? 192 : 256;
        a->dec_ffn[i] = 256;
        a->enc_heads[i] = 4;
        a->dec_self_heads[i] = i ? 2 : 4;
        a->dec_ende_heads[i] = 4;
        a->dec_arbitrary[i] = i ? -1 : 1;
    }
}

/* Sentences of different lengths, right-padded with 0. */
static void batch(int *src, int *tin, int *tout)
{
    Rng r;
    rng_seed(&r, 7);
    for (int b = 0; b < B; b++) {
        int ls = T - b % 5, lt = T - (b * 3) % 7;
        for (int t = 0; t < T; t++) {
            src[b * T + t] = t < ls - 1 ? 4 + (int)rng_below(&r, 596) : t == ls - 1 ? 3 : 0;
            tout[b * T + t] = t < lt - 1 ? 4 + (int)rng_below(&r, 596) : t == lt - 1 ? 3 : 0;
            tin[b * T + t] = t == 0 ? 2 : t < lt ? tout[b * T + t - 1] : 0;
        }
    }
}

typedef struct Run { double loss[2]; float *params, *grads; size_t n; } Run;

/* Two Adam steps from seed 1; keeps the losses, the last gradient and the weights. */
static Run train(int threads, int pre_ln)
{
    blas_set_threads(threads);
    ModelConfig c;
    config(&c, pre_ln);
    Arch a;
    arch(&a);
    static int src[B * T], tin[B * T], tout[B * T];
    batch(src, tin, tout);
    Batch b = {.B = B, .Ts = T, .Tt = T, .src = src, .tgt_in = tin, .tgt_out = tout,
               .ntokens = B * T};
    MosErr err = {{0}};
    Supernet *s = supernet_new(&c, B * T, 1, &err);
    assert_non_null(s);
    Rng r;
    rng_seed(&r, 5);
    Run run = {.n = supernet_nparams(s)};
    for (int step = 0; step < 2; step++) {
        supernet_zero_grads(s);
        run.loss[step] = supernet_step(s, &a, &b, 1, &r, NULL);
        optim_scale(supernet_grads(s), run.n, 1.0f / (float)b.ntokens);
        optim_adam(supernet_params(s), supernet_grads(s), supernet_adam_m(s),
                   supernet_adam_v(s), run.n, 1e-3, 0.9f, 0.98f, 1e-8f, step + 1);
    }
    run.params = malloc(run.n * sizeof(float));
    run.grads = malloc(run.n * sizeof(float));
    memcpy(run.params, supernet_params(s), run.n * sizeof(float));
    memcpy(run.grads, supernet_grads(s), run.n * sizeof(float));
    supernet_destroy(&s);
    blas_set_threads(1);
    return run;
}

static void assert_same_run(const Run *x, const Run *y)
{
    assert_true(isfinite(x->loss[0]) && x->loss[1] < x->loss[0]);
    assert_true(x->loss[0] == y->loss[0] && x->loss[1] == y->loss[1]);
    assert_int_equal(x->n, y->n);
    assert_memory_equal(x->grads, y->grads, x->n * sizeof(float));
    assert_memory_equal(x->params, y->params, x->n * sizeof(float));
}

static void step_is_thread_count_independent(int pre_ln)
{
    Run one = train(1, pre_ln), two = train(2, pre_ln), again = train(2, pre_ln);
    assert_same_run(&one, &two);
    assert_same_run(&two, &again);
    Run *runs[] = {&one, &two, &again};
    for (int i = 0; i < 3; i++) {
        free(runs[i]->params);
        free(runs[i]->grads);
    }
}

static void step_post_ln(void **state) { (void)state; step_is_thread_count_independent(0); }
static void step_pre_ln(void **state) { (void)state; step_is_thread_count_independent(1); }

/* Batch-1 greedy decoding splits its one-row products by output columns at 2 threads. */
static void decoding_same_tokens(void **state)
{
    (void)state;
    ModelConfig c;
    config(&c, 0);
    c.vocab = 4000;   /* a head large enough to split */
    Arch a;
    arch(&a);
    MosErr err = {{0}};
    Supernet *s = supernet_new(&c, B * T, 3, &err);
    assert_non_null(s);
    const int src[6] = {17, 99, 402, 5, 3000, 77};
    DecodeOpts o = {.beam = 1, .lenpen = 1.0f, .max_len_a = 0, .max_len_b = 12, .min_len = 12};
    int got[2][16];
    for (int t = 1; t <= 2; t++) {
        blas_set_threads(t);
        assert_int_equal(supernet_decode(s, &a, src, 6, &o, got[t - 1], 16), 12);
    }
    assert_memory_equal(got[0], got[1], 12 * sizeof(int));
    blas_set_threads(1);
    supernet_destroy(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(parallel_runs_every_part_once),
        cmocka_unit_test(part_ranges_tile),
        cmocka_unit_test(step_post_ln),
        cmocka_unit_test(step_pre_ln),
        cmocka_unit_test(decoding_same_tokens),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
