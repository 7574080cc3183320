/* `mos bench drift`: how this machine's latency drifts, as raw data. The latency job's protocol
 * (blocks of 20 archs of the default space's wider version, 5 interleaved rounds of 2 timed runs
 * per part, CPU clock, 1 thread, beam 5, 30-token source, 30 steps) over 2 blocks, measured twice
 * (two passes, as `mos latency --verify` does), with three candidate drift references (the
 * training space's smallest, middle and largest arch) timed before every round and after the
 * last. Every timed run is printed as a CSV row; tests/bench/latency_drift.py turns them into the
 * measurement noise each correction would give (none, per-round scaling, block shift by each
 * reference). --seed draws the architectures; about 3 minutes on this machine. */
#include <stdlib.h>
#include <time.h>

#include "bench.h"
#include "latency.h"
#include "latency_model.h"
#include "ops_blas.h"

#define DRIFT_ARCHS 40
#define DRIFT_BLOCK 20
#define DRIFT_PER 2
#define DRIFT_ROUNDS 5

typedef struct Drift {
    LatencyBackend b;
    LatencyOpts o;
    FILE *out;
    int pass, block, round;
} Drift;

static double thread_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return 1e3 * (double)t.tv_sec + 1e-6 * (double)t.tv_nsec;
}

/* warm + DRIFT_PER runs of each part of a; the timed ones printed with who (arch index, or -1,
 * -2, -3 for the smallest, middle and largest reference). */
static int time_arch(Drift *d, const Arch *a, int who, int warm)
{
    MosErr err = {{0}};
    for (int part = 0; part < 2; part++)
        for (int i = 0; i < warm + DRIFT_PER; i++) {
            if (part && d->b.encode(d->b.ctx, a, d->o.src_len, &err))
                return -1;
            double t0 = thread_ms();
            int rc = part ? d->b.decode(d->b.ctx, a, d->o.src_len, d->o.steps, d->o.beam, &err)
                          : d->b.encode(d->b.ctx, a, d->o.src_len, &err);
            double t = thread_ms() - t0;
            if (rc)
                return -1;
            if (i >= warm)
                fprintf(d->out, "%d,%d,%d,%d,%s,%d,%.4f\n", d->pass, d->block, d->round, who,
                        part ? "dec" : "enc", i - warm, t);
        }
    return 0;
}

/* One block: rounds of (the three references, then the block's archs rotated by the round),
 * and the references once more after the last round. */
static int time_block(Drift *d, const Arch *refs, const Arch *a, int first, int rounds)
{
    for (d->round = 0; d->round <= rounds; d->round++) {
        int warm = d->round == 0 ? d->o.warmup : 1;
        for (int r = 0; r < 3; r++)
            if (time_arch(d, &refs[r], -1 - r, warm))
                return -1;
        if (d->round == rounds)
            break;
        for (int k = 0; k < DRIFT_BLOCK; k++) {
            int i = first + (k + d->round) % DRIFT_BLOCK;
            if (time_arch(d, &a[i], i, warm))
                return -1;
        }
        fflush(d->out);
    }
    return 0;
}

static int run_drift(const BenchOpts *bo, FILE *out)
{
    RunConfig rc;
    config_defaults(&rc);
    if (rc.model.vocab <= 0)
        rc.model.vocab = 8000;   /* the prepared corpus's default vocabulary */
    Drift d = { .out = out };
    latency_opts_default(&d.o);
    d.o.warmup = 2;
    blas_set_threads(1);
    MosErr err = {{0}};
    LatencyModel lm;
    if (latency_model_open(&lm, &rc.model, &d.o, &err) < 0) {
        fprintf(stderr, "mos bench drift: %s\n", err.msg);
        return 1;
    }
    d.b = latency_model_backend(&lm);
    Arch refs[3], a[DRIFT_ARCHS];
    arch_smallest(&rc.model.space, &refs[0]);
    arch_middle(&rc.model.space, &refs[1]);
    arch_largest(&rc.model.space, &refs[2]);
    Rng g;
    rng_seed(&g, bo->seed);
    for (int i = 0; i < DRIFT_ARCHS; i++)
        arch_sample(&rc.model.space, &g, &a[i]);
    fprintf(out, "pass,block,round,who,part,run,ms\n");
    int rc1 = 0;
    for (d.pass = 0; d.pass < 2 && !rc1; d.pass++)
        for (d.block = 0; d.block < DRIFT_ARCHS / DRIFT_BLOCK && !rc1; d.block++)
            rc1 = time_block(&d, refs, a, d.block * DRIFT_BLOCK, DRIFT_ROUNDS);
    latency_model_close(&lm);
    if (rc1)
        fprintf(stderr, "mos bench drift: a timed run failed\n");
    return rc1 ? 1 : 0;
}

const Bench bench_drift = {
    .name = "drift",
    .summary = "raw latency runs of 40 archs twice with 3 drift references (CSV)",
    .run = run_drift,
};
