/* `mos bench mos`: the cost of MoS against the plain supernet on the benchmark model (bench.h),
 * same arch (the largest) and the same 64x24-token batch: median time of a full training step
 * (zero grads, forward, backward, Adam) and of forward+backward alone, for mos none, layer and
 * neuron (m = 2, router hidden 128), timed in interleaved rounds so machine load hits all three
 * alike; plus parameters and memory (params, grads, Adam m and v, MoS scratch).
 * With one micro-batch per update every step re-mixes W(a) and flushes: the worst case. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench.h"
#include "mos.h"
#include "ops_blas.h"
#include "optim.h"
#include "supernet.h"

#define KINDS 3

typedef struct Run {
    Supernet *s;
    double *step, *fb, *cpu;   /* per timed step: wall step, forward+backward, CPU step */
    size_t scratch_floats;
} Run;

/* CPU seconds of this process (all threads): less disturbed by other processes than wall
 * time on a shared machine. */
static double cpu_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void random_batch(int *src, int *tin, int *tout, int V, Rng *r)
{
    for (int i = 0; i < BENCH_B * BENCH_T; i++) {
        int t = i % BENCH_T;
        src[i] = t == BENCH_T - 1 ? 3 : 4 + (int)rng_below(r, (uint32_t)V - 4);
        tout[i] = t == BENCH_T - 1 ? 3 : 4 + (int)rng_below(r, (uint32_t)V - 4);
        tin[i] = t == 0 ? 2 : tout[i - 1];
    }
}

/* One training step; returns its wall time, the forward+backward part in *fb and the CPU
 * time of the whole step in *cpu. */
static double one_step(Supernet *s, const Arch *a, const Batch *b, Rng *r, long t, double *fb,
                       double *cpu)
{
    size_t n = supernet_nparams(s);
    double c0 = cpu_now(), t0 = bench_now();
    supernet_zero_grads(s);
    supernet_step(s, a, b, 1, r, NULL);
    float *g = supernet_grads(s);   /* MoS: pushes dW(a) to experts and routers */
    *fb = bench_now() - t0;
    optim_scale(g, n, 1.0f / (float)b->ntokens);
    optim_adam(supernet_params(s), g, supernet_adam_m(s), supernet_adam_v(s), n, 1e-4, 0.9f,
               0.98f, 1e-8f, t);
    *cpu = cpu_now() - c0;
    return bench_now() - t0;
}

static int make_runs(Run *run, const BenchOpts *o)
{
    const MosKind kinds[KINDS] = {MOS_NONE, MOS_LAYER, MOS_NEURON};
    for (int k = 0; k < KINDS; k++) {
        ModelConfig c;
        Arch a;
        bench_model(&c, &a);
        c.mos = kinds[k];
        c.mos_experts = kinds[k] == MOS_NONE ? 1 : 2;
        MosErr err = {{0}};
        run[k].s = supernet_new(&c, BENCH_B * BENCH_T, o->seed, &err);
        if (!run[k].s) {
            fprintf(stderr, "mos bench mos: %s\n", err.msg);
            return -1;
        }
        int layers = c.space.enc_layers_max + c.space.dec_layers_max;
        run[k].scratch_floats = kinds[k] == MOS_NONE ? 0 : (size_t)layers *
            mos_ffn_scratch_floats(kinds[k], 2, 128, c.space.enc_embed_max, c.space.enc_ffn_max);
        run[k].step = malloc((size_t)o->steps * sizeof(double));
        run[k].fb = malloc((size_t)o->steps * sizeof(double));
        run[k].cpu = malloc((size_t)o->steps * sizeof(double));
        if (!run[k].step || !run[k].fb || !run[k].cpu)
            return -1;
    }
    return 0;
}

/* Median seconds of mixing W(a) and of flushing dW(a) for one layer of the benchmark model at
 * full width (a standalone MosFfn with the same dims). */
static int mix_flush_cost(MosKind kind, int reps, double *mix_s, double *flush_s)
{
    const int m = 2, H = 128, D = 256, F = 1024;
    MosTensorSpec spec[MOS_MAX_TENSORS];
    size_t off[MOS_MAX_TENSORS], np = 0;
    int nt = mos_ffn_tensors(kind, m, H, D, F, spec);
    for (int k = 0; k < nt; k++) {
        off[k] = np;
        np += (size_t)spec[k].d0 * (spec[k].ndim == 2 ? (size_t)spec[k].d1 : 1);
    }
    float *p = calloc(np, 4), *g = calloc(np, 4);
    float *sc = calloc(mos_ffn_scratch_floats(kind, m, H, D, F), 4);
    double *tm = malloc((size_t)reps * sizeof *tm), *tf = malloc((size_t)reps * sizeof *tf);
    if (!p || !g || !sc || !tm || !tf)
        return -1;
    MosFfn l;
    mos_ffn_setup(&l, kind, m, H, D, F, sc);
    mos_ffn_point(&l, off, p, g);
    Rng r;
    rng_seed(&r, 1);
    mos_ffn_init(&l, &r);
    float x[ARCH_FEATURES] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1};
    for (int i = 0; i < reps; i++) {
        float *dw1, *db1, *dw2, *db2;
        mos_ffn_invalidate(&l);
        double t0 = bench_now();
        mos_ffn_mix(&l, x, D, F);
        tm[i] = bench_now() - t0;
        mos_ffn_grad_slots(&l, &dw1, &db1, &dw2, &db2);
        for (size_t k = 0; k < (size_t)D * F; k++)
            dw1[k] = dw2[k] = 1e-3f;
        t0 = bench_now();
        mos_ffn_flush(&l);
        tf[i] = bench_now() - t0;
    }
    *mix_s = bench_median(tm, reps);
    *flush_s = bench_median(tf, reps);
    free(p);
    free(g);
    free(sc);
    free(tm);
    free(tf);
    return 0;
}

static void report(const Run *run, const BenchOpts *o, const double *step, const double *fb,
                   const double *cpu, FILE *out)
{
    static const char *names[KINDS] = {"none", "layer", "neuron"};
    double mb[KINDS];
    size_t np[KINDS];
    for (int k = 0; k < KINDS; k++) {
        np[k] = supernet_nparams(run[k].s);
        mb[k] = (16.0 * (double)np[k] + 4.0 * (double)run[k].scratch_floats) / 1048576.0;
    }
    if (o->json) {
        fprintf(out, "{\"bench\":\"mos\",\"threads\":%d,\"steps\":%d", o->threads, o->steps);
        for (int k = 0; k < KINDS; k++)
            fprintf(out, ",\"%s\":{\"step_s\":%.6f,\"fwd_bwd_s\":%.6f,\"cpu_s\":%.6f,"
                    "\"params\":%zu,\"memory_mib\":%.2f,\"step_ratio\":%.4f,"
                    "\"cpu_ratio\":%.4f}", names[k], step[k], fb[k], cpu[k], np[k], mb[k],
                    step[k] / step[0], cpu[k] / cpu[0]);
        fprintf(out, "}\n");
        return;
    }
    fprintf(out, "MoS vs plain, benchmark model, largest arch, 64x24 tokens, %d threads, median "
            "of %d interleaved steps\n", o->threads, o->steps);
    fprintf(out, "%-7s %9s %6s %11s %6s %8s %6s %10s %10s\n", "mos", "step ms", "ratio",
            "fwd+bwd ms", "ratio", "CPU ms", "ratio", "params", "MiB");
    for (int k = 0; k < KINDS; k++)
        fprintf(out, "%-7s %9.1f %6.3f %11.1f %6.3f %8.1f %6.3f %10zu %10.1f\n", names[k],
                step[k] * 1e3, step[k] / step[0], fb[k] * 1e3, fb[k] / fb[0], cpu[k] * 1e3,
                cpu[k] / cpu[0], np[k], mb[k]);
    fprintf(out, "memory = params + grads + Adam m + v (16 B/param) + MoS scratch (mixed W(a), "
            "dW(a), router state)\n");
    for (int k = 1; k < KINDS; k++) {
        double mix = 0, flush = 0;
        if (mix_flush_cost(k == 1 ? MOS_LAYER : MOS_NEURON, 9, &mix, &flush) == 0)
            fprintf(out, "%s: per layer at full width, mixing W(a) %.2f ms, flushing dW(a) to "
                    "experts and router %.2f ms (x6 layers, once per update and arch)\n",
                    names[k], mix * 1e3, flush * 1e3);
    }
}

static int run_mos(const BenchOpts *o, FILE *out)
{
    blas_set_threads(o->threads);
    Run run[KINDS] = {{0}};
    ModelConfig c;
    Arch a;
    bench_model(&c, &a);
    static int src[BENCH_B * BENCH_T], tin[BENCH_B * BENCH_T], tout[BENCH_B * BENCH_T];
    Rng r;
    rng_seed(&r, o->seed);
    random_batch(src, tin, tout, c.vocab, &r);
    Batch b = {.B = BENCH_B, .Ts = BENCH_T, .Tt = BENCH_T, .src = src, .tgt_in = tin,
               .tgt_out = tout, .ntokens = BENCH_B * BENCH_T};
    int rc = make_runs(run, o);
    double step[KINDS] = {0}, fb[KINDS] = {0}, cpu[KINDS] = {0};
    for (int i = 0; rc == 0 && i < o->warmup + o->steps; i++) {
        for (int k = 0; k < KINDS; k++) {
            Rng d;
            rng_seed(&d, o->seed + (unsigned long long)i);
            double f, u, t = one_step(run[k].s, &a, &b, &d, i + 1, &f, &u);
            if (i >= o->warmup) {
                run[k].step[i - o->warmup] = t;
                run[k].fb[i - o->warmup] = f;
                run[k].cpu[i - o->warmup] = u;
            }
        }
    }
    if (rc == 0) {
        for (int k = 0; k < KINDS; k++) {
            step[k] = bench_median(run[k].step, o->steps);
            fb[k] = bench_median(run[k].fb, o->steps);
            cpu[k] = bench_median(run[k].cpu, o->steps);
        }
        report(run, o, step, fb, cpu, out);
    }
    for (int k = 0; k < KINDS; k++) {
        supernet_destroy(&run[k].s);
        free(run[k].step);
        free(run[k].fb);
        free(run[k].cpu);
    }
    return rc == 0 ? 0 : 1;
}

const Bench bench_mos = {
    .name = "mos",
    .summary = "MoS (layer, neuron; m = 2) vs plain: step time and memory, same arch and batch",
    .run = run_mos,
};
