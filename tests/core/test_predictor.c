/* The latency predictor: its gradient matches finite differences, it fits a known synthetic
 * latency function to a few percent on held-out rows, training is deterministic for a seed, and
 * save/load reproduces every prediction exactly. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <unistd.h>
#include <cmocka.h>

#include "predictor.h"

static void norms(float n[ARCH_FEATURES])
{
    SearchSpace s;
    arch_space_default(&s);
    arch_feature_norms(&s, n);
}

/* n rows of sampled archs with latency = 6 dec_layers + 0.01 mean enc FFN + 4 dec_embed/256
 * + 2 ms, times (1 + 0.5 % noise). */
static void synthetic(int n, float *x, float *y, uint64_t seed)
{
    SearchSpace s;
    arch_space_default(&s);
    Rng r;
    rng_seed(&r, seed);
    for (int i = 0; i < n; i++) {
        Arch a;
        arch_sample(&s, &r, &a);
        float *f = x + (size_t)i * ARCH_FEATURES;
        arch_features_raw(&a, f);
        y[i] = (6.0f * f[5] + 0.01f * f[2] + 4.0f * f[4] / 256.0f + 2.0f) *
               (1.0f + 0.005f * rng_normal(&r));
    }
}

static void gradient_matches_finite_differences(void **state)
{
    (void)state;
    float nrm[ARCH_FEATURES];
    norms(nrm);
    Predictor p;
    predictor_init(&p, 12, 2, nrm, 11);
    p.lat_norm_ms = 20.0f;
    enum { B = 7 };
    float x[B * ARCH_FEATURES], y[B];
    synthetic(B, x, y, 5);
    float *g = malloc(p.nparams * sizeof *g), *scratch = malloc(p.nparams * sizeof *g);
    predictor_loss_grad(&p, x, y, B, g);
    double worst = 0;
    int checked = 0;
    for (size_t i = 0; i < p.nparams; i += 3) {
        float keep = p.params[i];
        const float eps = 1e-3f;
        p.params[i] = keep + eps;
        double lp = predictor_loss_grad(&p, x, y, B, scratch);
        p.params[i] = keep - eps;
        double lm = predictor_loss_grad(&p, x, y, B, scratch);
        p.params[i] = keep;
        double fd = (lp - lm) / (2.0 * eps);
        double diff = fabs(fd - g[i]) / (fabs(fd) + fabs(g[i]) + 1e-4);
        worst = diff > worst ? diff : worst;
        checked++;
    }
    assert_true(checked > 50);
    if (worst > 2e-2)
        fail_msg("worst relative gradient error %g", worst);
    free(g);
    free(scratch);
    predictor_done(&p);
}

static void fits_synthetic_latency(void **state)
{
    (void)state;
    enum { N = 1000 };
    float *x = malloc(N * ARCH_FEATURES * sizeof *x), *y = malloc(N * sizeof *y);
    synthetic(N, x, y, 6);
    float nrm[ARCH_FEATURES];
    norms(nrm);
    Predictor p;
    predictor_init(&p, 64, 3, nrm, 1);
    PredictorTrainConfig cfg = { .lr = 1e-3f, .batch = 128, .steps = 1500, .seed = 1 };
    PredictorReport rep;
    MosErr err = {{0}};
    assert_int_equal(predictor_train(&p, x, y, N, &cfg, &rep, &err), 0);
    assert_int_equal(rep.train.n, 800);
    assert_int_equal(rep.valid.n, 100);
    assert_int_equal(rep.test.n, 100);
    if (rep.test.mapd_pct > 3.0 || rep.valid.mapd_pct > 3.0)
        fail_msg("MAPD valid %.2f %% test %.2f %%", rep.valid.mapd_pct, rep.test.mapd_pct);
    /* fresh archs never seen */
    float fx[200 * ARCH_FEATURES], fy[200];
    synthetic(200, fx, fy, 99);
    PredictorSplitMetrics fresh = predictor_evaluate(&p, fx, fy, 200);
    assert_true(fresh.mapd_pct < 3.0);

    /* the same seed trains the same weights */
    Predictor q;
    predictor_init(&q, 64, 3, nrm, 1);
    PredictorReport rep2;
    assert_int_equal(predictor_train(&q, x, y, N, &cfg, &rep2, &err), 0);
    assert_memory_equal(p.params, q.params, p.nparams * sizeof(float));
    predictor_done(&q);

    /* save / load: every prediction equal */
    char path[] = "/tmp/mos-predictor-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    assert_int_equal(predictor_save(&p, &rep, path, &err), 0);
    Predictor l;
    assert_int_equal(predictor_load(&l, path, &err), 0);
    for (int i = 0; i < 200; i++)
        assert_true(predictor_predict_raw(&p, fx + i * ARCH_FEATURES) ==
                    predictor_predict_raw(&l, fx + i * ARCH_FEATURES));
    predictor_done(&l);
    unlink(path);
    predictor_done(&p);
    free(x);
    free(y);
}

static void select_best_never_worse_on_valid(void **state)
{
    (void)state;
    enum { N = 300 };
    float x[N * ARCH_FEATURES], y[N];
    synthetic(N, x, y, 8);
    for (int i = 0; i < N; i += 3)
        y[i] *= 1.5f;   /* a noisy table a large MLP overfits */
    float nrm[ARCH_FEATURES];
    norms(nrm);
    Predictor last, best;
    PredictorTrainConfig cfg = { .lr = 1e-3f, .batch = 64, .steps = 700, .seed = 2 };
    PredictorReport rl, rb;
    MosErr err = {{0}};
    predictor_init(&last, 64, 2, nrm, 2);
    assert_int_equal(predictor_train(&last, x, y, N, &cfg, &rl, &err), 0);
    assert_int_equal(rl.best_step, 700);
    cfg.select_best = 1;
    predictor_init(&best, 64, 2, nrm, 2);
    assert_int_equal(predictor_train(&best, x, y, N, &cfg, &rb, &err), 0);
    /* the same trajectory; the kept weights are the best of its checkpoints, the last included */
    assert_true(rb.best_step % 100 == 0);
    assert_true(rb.valid.mapd_pct <= rl.valid.mapd_pct);
    if (rb.best_step == 700)
        assert_memory_equal(best.params, last.params, best.nparams * sizeof(float));
    predictor_done(&last);
    predictor_done(&best);
}

static void refuses_bad_input(void **state)
{
    (void)state;
    float nrm[ARCH_FEATURES];
    norms(nrm);
    Predictor p;
    predictor_init(&p, 8, 1, nrm, 1);
    float x[20 * ARCH_FEATURES], y[20];
    synthetic(20, x, y, 3);
    PredictorTrainConfig cfg = { .lr = 1e-3f, .batch = 8, .steps = 2, .seed = 1 };
    MosErr err = {{0}};
    assert_int_equal(predictor_train(&p, x, y, 5, &cfg, NULL, &err), -1);
    assert_non_null(strstr(err.msg, "at least 10"));
    y[7] = NAN;
    assert_int_equal(predictor_train(&p, x, y, 20, &cfg, NULL, &err), -1);
    assert_non_null(strstr(err.msg, "row 7"));
    predictor_done(&p);

    char path[] = "/tmp/mos-predictor-XXXXXX";
    int fd = mkstemp(path);
    assert_true(write(fd, "{\"format\": \"other\"}", 19) == 19);
    close(fd);
    assert_int_equal(predictor_load(&p, path, &err), -1);
    assert_non_null(strstr(err.msg, "not a latency predictor"));
    fd = open(path, O_WRONLY | O_TRUNC);
    assert_true(write(fd, "{\"format\": ", 11) == 11);
    close(fd);
    assert_int_equal(predictor_load(&p, path, &err), -1);
    assert_non_null(strstr(err.msg, path));
    unlink(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(gradient_matches_finite_differences),
        cmocka_unit_test(fits_synthetic_latency),
        cmocka_unit_test(select_best_never_worse_on_valid),
        cmocka_unit_test(refuses_bad_input),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
