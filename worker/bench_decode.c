/* `mos bench decode`: batch-1 greedy decoding of exactly 30 tokens (29 + the forced eos, i.e.
 * 30 decoder steps) from a 30-token source with the benchmark model's random weights, through
 * supernet_decode (key/value cache, sgemv for the one-row products). Median of --steps runs. */
#include <stdlib.h>

#include "bench.h"
#include "ops_blas.h"
#include "supernet.h"

#define DECODE_SRC 30
#define DECODE_OUT 30

static int run_decode(const BenchOpts *o, FILE *out)
{
    ModelConfig c;
    Arch a;
    bench_model(&c, &a);
    blas_set_threads(o->threads);
    MosErr err = {{0}};
    Supernet *s = supernet_new(&c, 64, o->seed, &err);
    if (!s) {
        fprintf(stderr, "mos bench decode: %s\n", err.msg);
        return 1;
    }
    int src[DECODE_SRC], got[DECODE_OUT + 1], n = 0;
    Rng r;
    rng_seed(&r, o->seed);
    for (int i = 0; i < DECODE_SRC; i++)
        src[i] = 4 + (int)rng_below(&r, (uint32_t)c.vocab - 4);
    DecodeOpts d = {.beam = 1, .lenpen = 1.0f, .max_len_a = 0, .max_len_b = DECODE_OUT - 1,
                    .min_len = DECODE_OUT - 1};
    double *t = malloc((size_t)o->steps * sizeof *t);
    for (int i = 0; i < o->warmup + o->steps; i++) {
        double t0 = bench_now();
        n = supernet_decode(s, &a, src, DECODE_SRC, &d, got, DECODE_OUT + 1);
        if (i >= o->warmup)
            t[i - o->warmup] = bench_now() - t0;
    }
    double m = bench_median(t, o->steps);
    free(t);
    supernet_destroy(&s);
    if (n != DECODE_OUT - 1) {
        fprintf(stderr, "mos bench decode: decoded %d tokens, expected %d\n", n, DECODE_OUT - 1);
        return 1;
    }
    if (o->json)
        fprintf(out, "{\"bench\":\"decode\",\"threads\":%d,\"steps\":%d,\"decode_s\":%.6f,"
                "\"tokens\":%d}\n", o->threads, o->steps, m, DECODE_OUT);
    else
        fprintf(out, "greedy decode, batch 1, %d-token source, %d tokens (%d threads): %.2f ms "
                "median of %d (%.2f ms/token)\n", DECODE_SRC, DECODE_OUT, o->threads, m * 1e3,
                o->steps, m * 1e3 / DECODE_OUT);
    return 0;
}

const Bench bench_decode = {
    .name = "decode",
    .summary = "batch-1 greedy decoding of 30 tokens from a 30-token source",
    .run = run_decode,
};
