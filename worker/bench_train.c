/* `mos bench train`: the median time of one training step (zero grads, forward, backward, Adam)
 * of the benchmark model on a 64x24-token batch, target tokens/s, and the matmul work of the
 * step: its linear-layer GEMM FLOPs (forward + both backward products), the effective GFLOP/s
 * and the time OpenBLAS sgemm alone needs for exactly those GEMM shapes at the same thread
 * count, through the same linear_forward/linear_backward calls the step makes: once split over
 * mos's threads as in the step, once with OpenBLAS's own threading; the faster is the reference.
 * Attention's per-head products are small and not counted. */
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "ops_blas.h"
#include "optim.h"
#include "supernet.h"

typedef struct Lin { int N, C, OC; } Lin;

/* The step's linear layers as (rows, in, out); the loss head runs in chunks of XENT_CHUNK (512)
 * rows. */
static int step_linears(const ModelConfig *c, Lin *l)
{
    int n = 0, N = BENCH_B * BENCH_T, d = c->space.enc_embed_max, Q = c->space.qkv_dim;
    int F = c->space.enc_ffn_max;
    for (int i = 0; i < c->space.enc_layers_max; i++) {
        l[n++] = (Lin){N, d, 3 * Q};
        l[n++] = (Lin){N, Q, d};
        l[n++] = (Lin){N, d, F};
        l[n++] = (Lin){N, F, d};
    }
    for (int i = 0; i < c->space.dec_layers_max; i++) {
        l[n++] = (Lin){N, d, 3 * Q};
        l[n++] = (Lin){N, Q, d};
        l[n++] = (Lin){N, d, Q};
        l[n++] = (Lin){N, d, 2 * Q};
        l[n++] = (Lin){N, Q, d};
        l[n++] = (Lin){N, d, F};
        l[n++] = (Lin){N, F, d};
    }
    for (int r = 0; r < N; r += 512)
        l[n++] = (Lin){N - r < 512 ? N - r : 512, d, c->vocab};
    return n;
}

static double step_flops(const Lin *l, int n)
{
    double f = 0.0;
    for (int i = 0; i < n; i++)
        f += 3.0 * 2.0 * l[i].N * l[i].C * l[i].OC;
    return f;
}

typedef struct GemmRun { const Lin *l; int n, reps; double s; } GemmRun;

/* Seconds for the forward and backward GEMMs of every linear, median of reps. */
static void sgemm_time(void *arg)
{
    GemmRun *g = arg;
    const Lin *l = g->l;
    size_t big = (size_t)BENCH_B * BENCH_T * 8192;
    float *x = calloc(big, 4), *y = calloc(big, 4), *dx = calloc(big, 4), *dy = calloc(big, 4);
    float *w = calloc(8192 * 1024, 4), *dw = calloc(8192 * 1024, 4), *b = calloc(8192, 4);
    double *t = malloc((size_t)g->reps * sizeof *t);
    for (size_t i = 0; i < big; i++)
        x[i] = dy[i] = (float)(i % 7) * 0.01f;
    for (int r = 0; r < g->reps; r++) {
        double t0 = bench_now();
        for (int i = 0; i < g->n; i++) {
            linear_forward(y, x, w, l[i].C, b, l[i].N, l[i].C, l[i].OC);
            linear_backward(dx, dw, b, dy, x, w, l[i].C, l[i].N, l[i].C, l[i].OC);
        }
        t[r] = bench_now() - t0;
    }
    g->s = bench_median(t, g->reps);
    float *bufs[] = {x, y, dx, dy, w, dw, b};
    for (int i = 0; i < 7; i++)
        free(bufs[i]);
    free(t);
}

static void random_batch(int *src, int *tin, int *tout, int V, Rng *r)
{
    for (int b = 0; b < BENCH_B; b++) {
        for (int t = 0; t < BENCH_T; t++) {
            src[b * BENCH_T + t] = t == BENCH_T - 1 ? 3 : 4 + (int)rng_below(r, (uint32_t)V - 4);
            tout[b * BENCH_T + t] = t == BENCH_T - 1 ? 3 : 4 + (int)rng_below(r, (uint32_t)V - 4);
            tin[b * BENCH_T + t] = t == 0 ? 2 : tout[b * BENCH_T + t - 1];
        }
    }
}

/* Times warmup + steps training steps; returns the median step time and the last loss. */
static double time_steps(Supernet *s, const Arch *a, const Batch *b, const BenchOpts *o,
                         double *loss)
{
    size_t n = supernet_nparams(s);
    double *t = malloc((size_t)o->steps * sizeof *t);
    Rng r;
    rng_seed(&r, o->seed + 1);
    for (int i = 0; i < o->warmup + o->steps; i++) {
        double t0 = bench_now();
        supernet_zero_grads(s);
        *loss = supernet_step(s, a, b, 1, &r, NULL) / b->ntokens;
        optim_scale(supernet_grads(s), n, 1.0f / (float)b->ntokens);
        optim_adam(supernet_params(s), supernet_grads(s), supernet_adam_m(s),
                   supernet_adam_v(s), n, 1e-4, 0.9f, 0.98f, 1e-8f, i + 1);
        if (i >= o->warmup)
            t[i - o->warmup] = bench_now() - t0;
    }
    double m = bench_median(t, o->steps);
    free(t);
    return m;
}

static int run_train(const BenchOpts *o, FILE *out)
{
    ModelConfig c;
    Arch a;
    bench_model(&c, &a);
    blas_set_threads(o->threads);
    MosErr err = {{0}};
    Supernet *s = supernet_new(&c, BENCH_B * BENCH_T, o->seed, &err);
    if (!s) {
        fprintf(stderr, "mos bench train: %s\n", err.msg);
        return 1;
    }
    static int src[BENCH_B * BENCH_T], tin[BENCH_B * BENCH_T], tout[BENCH_B * BENCH_T];
    Rng r;
    rng_seed(&r, o->seed);
    random_batch(src, tin, tout, c.vocab, &r);
    Batch b = {.B = BENCH_B, .Ts = BENCH_T, .Tt = BENCH_T, .src = src, .tgt_in = tin,
               .tgt_out = tout, .ntokens = BENCH_B * BENCH_T};
    double loss = 0.0, step = time_steps(s, &a, &b, o, &loss);
    Lin l[64];
    int nl = step_linears(&c, l);
    GemmRun split = {.l = l, .n = nl, .reps = o->steps > 3 ? o->steps : 3}, own = split;
    sgemm_time(&split);
    blas_with_openblas_threads(o->threads, sgemm_time, &own);
    double flops = step_flops(l, nl), gemm = split.s < own.s ? split.s : own.s;
    double tok = b.ntokens / step, eff = flops / step / 1e9, peak = flops / gemm / 1e9;
    if (o->json)
        fprintf(out, "{\"bench\":\"train\",\"threads\":%d,\"steps\":%d,\"step_s\":%.6f,"
                "\"tok_per_s\":%.1f,\"matmul_gflop\":%.3f,\"eff_gflops\":%.2f,"
                "\"sgemm_s\":%.6f,\"sgemm_gflops\":%.2f,\"eff_vs_sgemm\":%.3f,"
                "\"sgemm_split_s\":%.6f,\"sgemm_openblas_s\":%.6f,\"loss\":%.4f}\n",
                o->threads, o->steps, step, tok, flops / 1e9, eff, gemm, peak, eff / peak,
                split.s, own.s, loss);
    else
        fprintf(out, "train step (64x24 tokens, %d threads): %.1f ms median of %d, %.0f target "
                "tok/s\nmatmul %.2f GFLOP/step: %.1f GFLOP/s effective; sgemm alone on the same "
                "shapes %.1f ms = %.1f GFLOP/s (step reaches %.0f%%)\nsgemm split over mos's "
                "threads %.1f ms, with OpenBLAS's own threading %.1f ms\n", o->threads,
                step * 1e3, o->steps, tok, flops / 1e9, eff, gemm * 1e3, peak,
                100.0 * eff / peak, split.s * 1e3, own.s * 1e3);
    supernet_destroy(&s);
    return 0;
}

const Bench bench_train = {
    .name = "train",
    .summary = "training step time, tokens/s and GFLOP/s vs sgemm on the same shapes",
    .run = run_train,
};
