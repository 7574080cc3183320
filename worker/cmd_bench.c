/* `mos bench NAME`: runs one sub-benchmark from the table below (train, decode, ...). Adding a
 * benchmark: write worker/bench_<name>.c defining a Bench, declare it in bench.h, list it here. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench.h"
#include "commands.h"

static const Bench *const benches[] = {
    &bench_train,
    &bench_decode,
    &bench_drift,
    &bench_mos,
};
#define N_BENCHES (int)(sizeof benches / sizeof benches[0])

double bench_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

double bench_median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

static const OptSpec bench_opts[] = {
    { "steps", OPT_INT, "10", "N", "timed repetitions (median reported)" },
    { "warmup", OPT_INT, "2", "N", "untimed repetitions first" },
    { "threads", OPT_INT, "2", "N", "OpenBLAS threads" },
    { "seed", OPT_INT, "1", "N", "random weights and data" },
    { "json", OPT_FLAG, NULL, NULL, "print one JSON object (for tests/bench/*.py)" },
    { 0 },
};

static void list(FILE *f)
{
    for (int i = 0; i < N_BENCHES; i++)
        fprintf(f, "  %-8s %s\n", benches[i]->name, benches[i]->summary);
}

static int run_bench(const Args *a)
{
    if (a->npos != 1) {
        fprintf(stderr, "mos bench: name one benchmark:\n");
        list(stderr);
        return 2;
    }
    BenchOpts o = {.steps = (int)args_int(a, "steps"), .warmup = (int)args_int(a, "warmup"),
                   .threads = (int)args_int(a, "threads"), .json = args_flag(a, "json"),
                   .seed = (unsigned long long)args_int(a, "seed")};
    if (o.steps < 1 || o.warmup < 0 || o.threads < 1) {
        fprintf(stderr, "mos bench: --steps and --threads must be >= 1, --warmup >= 0\n");
        return 2;
    }
    for (int i = 0; i < N_BENCHES; i++)
        if (strcmp(benches[i]->name, a->pos[0]) == 0)
            return benches[i]->run(&o, stdout);
    fprintf(stderr, "mos bench: unknown benchmark '%s'; one of:\n", a->pos[0]);
    list(stderr);
    return 2;
}

const Command cmd_bench = {
    .name = "bench",
    .args = "NAME",
    .summary = "benchmarks: train (step throughput vs sgemm), decode (batch-1 greedy), mos, drift",
    .details = "train: one training step (forward, backward, Adam) of the benchmark model\n"
               "(enc-dec d=256, FFN 1024, 4 heads, 3+3 layers, vocab 8000, 64x24 tokens a\n"
               "side), median step time, target tokens/s, effective matmul GFLOP/s and what\n"
               "OpenBLAS sgemm reaches on the same GEMM shapes. decode: greedy decoding of 30\n"
               "tokens from a 30-token source, batch 1. mos: MoS (layer, neuron) vs plain step\n"
               "time and memory on the same model, arch and batch (docs/mos.md). drift:\n"
               "every timed latency run of 40 archs measured twice with 3 candidate drift\n"
               "references, as CSV for tests/bench/latency_drift.py (docs/search.md).\n"
               "tests/bench/bench_train.py alternates\n"
               "these with PyTorch; see docs/performance.md.",
    .opts = bench_opts,
    .run = run_bench,
};
