/* `mos bench NAME`: one table of sub-benchmarks (cmd_bench.c), each in its own file
 * (bench_train.c, bench_decode.c, ...). A benchmark prints a short readable report, or one
 * JSON object with --json (tests/bench/bench_*.py read that to alternate with PyTorch). Benchmarks set
 * the OpenBLAS thread count they are asked for; nothing here is a timed test. */
#ifndef MOS_BENCH_H
#define MOS_BENCH_H

#include <stdio.h>

typedef struct BenchOpts {
    int steps;      /* timed repetitions */
    int warmup;     /* untimed repetitions first */
    int threads;    /* OpenBLAS threads */
    int json;       /* 1: one JSON object on out */
    unsigned long long seed;
} BenchOpts;

typedef struct Bench {
    const char *name;
    const char *summary;
    int (*run)(const BenchOpts *o, FILE *out);   /* exit code: 0 ok, 1 failure */
} Bench;

extern const Bench bench_train;
extern const Bench bench_decode;
extern const Bench bench_drift;
extern const Bench bench_mos;

/* The benchmark model of issue 3 (and tests/bench/bench_train.py): enc-dec d=256, FFN 1024,
 * 4 heads, qkv 256, 3+3 layers, vocab 8000, dropout 0.1, attention dropout 0.1, label smoothing
 * 0.1, post-LN; its only arch is the largest (decoder layers attend to the last encoder layer). */
#include "arch.h"
#include "config.h"

#define BENCH_B 64
#define BENCH_T 24
void bench_model(ModelConfig *c, Arch *a);

/* Seconds on the monotonic clock. */
double bench_now(void);
/* Median of n values (sorts v in place). */
double bench_median(double *v, int n);

#endif
