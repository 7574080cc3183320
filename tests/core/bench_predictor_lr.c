/* Benchmark (not a test): how fast HAT's latency predictor converges at a given learning rate, on
 * a synthetic latency table shaped like this model's costs (per-layer matmul work, a beam-scaled
 * decoder, the output projection) with 1 % noise. Usage: bench_predictor_lr LR STEPS. Prints the
 * MAPD per split and the fit time. Run with OPENBLAS_NUM_THREADS=1. */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "latency.h"
#include "predictor.h"

static double synthetic_ms(const Arch *a)
{
    double enc = 0, dec = 0;
    for (int l = 0; l < a->enc_layers; l++)
        enc += 30 * (4.0 * a->enc_embed * 256 + 2.0 * a->enc_embed * a->enc_ffn[l]) * 1e-8 + 0.05;
    for (int l = 0; l < a->dec_layers; l++) {
        int arb = a->dec_arbitrary[l] == -1 ? 1 : a->dec_arbitrary[l] + 1;
        dec += 30 * (5 * (4.0 * a->dec_embed * 256 + 2.0 * a->dec_embed * a->dec_ffn[l]) * 1e-8 +
                     0.02 * arb + 0.3);
    }
    return enc + dec + 30 * 5 * a->dec_embed * 8000 * 1e-8 * 2;
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: bench_predictor_lr LR STEPS\n");
        return 2;
    }
    float lr = strtof(argv[1], NULL);
    int steps = atoi(argv[2]), n = 2000;
    SearchSpace s, w;
    arch_space_default(&s);
    latency_space_wider(&s, &w);
    float *x = malloc((size_t)n * ARCH_FEATURES * sizeof *x), *y = malloc((size_t)n * sizeof *y);
    Rng r;
    rng_seed(&r, 5);
    for (int i = 0; i < n; i++) {
        Arch a;
        arch_sample(&w, &r, &a);
        arch_features_raw(&a, x + (size_t)i * ARCH_FEATURES);
        y[i] = (float)(synthetic_ms(&a) * (1 + 0.01 * rng_normal(&r)));
    }
    float norm[ARCH_FEATURES];
    arch_feature_norms(&s, norm);
    Predictor p;
    predictor_init(&p, 400, 3, norm, 1);
    PredictorTrainConfig c = { .lr = lr, .batch = 128, .steps = steps, .seed = 1 };
    PredictorReport rep;
    MosErr err;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    if (predictor_train(&p, x, y, n, &c, &rep, &err)) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    printf("lr %g steps %d: MAPD train %.2f %% valid %.2f %% test %.2f %% (valid RMSE %.3f ms), "
           "%.1f s\n", (double)lr, steps, rep.train.mapd_pct, rep.valid.mapd_pct,
           rep.test.mapd_pct, rep.valid.rmse_ms,
           (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec));
    predictor_done(&p);
    free(x);
    free(y);
    return 0;
}
