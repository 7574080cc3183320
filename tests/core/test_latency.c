/* The latency protocol on a virtual clock: warm-up runs are not timed, the lowest and highest
 * 10 % are dropped, encoder and decoder are timed apart; latency.csv is HAT's layout, a stopped
 * dataset job (even one stopped mid-row) resumes to the same file as an uninterrupted one, and a
 * file from another seed or with a foreign header is refused; blocks of archs are timed in
 * interleaved rounds, so a slow stretch falls on every arch of the block alike, and the CPU clock
 * leaves out time other processes held the core. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "latency.h"

typedef struct Fake {
    double clock;
    int enc_calls, dec_calls, prepared;
} Fake;

static double fake_enc_ms(const Arch *a)
{
    return 0.001 * a->enc_embed * a->enc_layers + 0.0005 * a->enc_ffn[0];
}

static double fake_dec_ms(const Arch *a, int steps, int beam)
{
    return steps * (0.05 * a->dec_layers + 0.00001 * a->dec_ffn[0] * beam);
}

static int fake_prepare(void *ctx, const Arch *a, MosErr *err)
{
    (void)a, (void)err;
    Fake *f = ctx;
    f->prepared++;
    f->enc_calls = f->dec_calls = 0;   /* outliers are placed per architecture */
    return 0;
}

/* Runs 0 and 1 after warm-up (calls 6, 7) are 10x slow outliers; call 8 is 10x fast. */
static double outlier(int call)
{
    return call == 6 || call == 7 ? 10.0 : call == 8 ? 0.1 : 1.0;
}

static int fake_encode(void *ctx, const Arch *a, int src_len, MosErr *err)
{
    (void)err;
    Fake *f = ctx;
    assert_int_equal(src_len, 30);
    f->enc_calls++;
    f->clock += fake_enc_ms(a) * (f->enc_calls <= 25 ? outlier(f->enc_calls) : 1.0);
    return 0;
}

static int fake_decode(void *ctx, const Arch *a, int src_len, int steps, int beam, MosErr *err)
{
    (void)err, (void)src_len;
    Fake *f = ctx;
    f->dec_calls++;
    f->clock += fake_dec_ms(a, steps, beam) * outlier(f->dec_calls);
    return 0;
}

static double fake_now(void *ctx)
{
    return ((Fake *)ctx)->clock;
}

/* Turns the XXXXXX template into a unique path that does not exist yet (the dataset file). */
static void fresh_path(char *tmpl)
{
    int fd = mkstemp(tmpl);
    assert_true(fd >= 0);
    close(fd);
    unlink(tmpl);
}

static LatencyBackend backend(Fake *f)
{
    memset(f, 0, sizeof *f);
    return (LatencyBackend){ .ctx = f, .prepare = fake_prepare, .encode = fake_encode,
                            .decode = fake_decode, .now_ms = fake_now };
}

static void trimmed_mean_drops_both_ends(void **state)
{
    (void)state;
    double v[10] = { 5, 1, 100, 2, 3, 4, 6, 7, 8, 9 };
    double sd;
    /* drops 1 and 100 */
    assert_float_equal(latency_trimmed_mean(v, 10, 0.1, &sd), 5.5, 1e-12);
    assert_float_equal(sd, sqrt(5.25), 1e-12);
    double w[3] = { 3, 1, 2 };
    assert_float_equal(latency_trimmed_mean(w, 3, 0.1, NULL), 2.0, 1e-12);   /* none dropped */
}

static void measure_follows_protocol(void **state)
{
    (void)state;
    SearchSpace s;
    arch_space_default(&s);
    Arch a;
    arch_largest(&s, &a);
    Fake f;
    LatencyBackend b = backend(&f);
    LatencyOpts o;
    latency_opts_default(&o);
    LatencyResult r;
    MosErr err = {{0}};
    assert_int_equal(latency_measure(&b, &a, &o, &r, &err), 0);
    assert_int_equal(f.prepared, 1);
    assert_int_equal(f.dec_calls, 25);        /* 5 warm-up + 20 timed */
    assert_int_equal(f.enc_calls, 50);        /* each decoder run re-encodes, untimed */
    /* two slow and one fast outlier among 20 runs: trimming 2 per end drops all three (and
     * one normal run), so the means are exact and the spread is zero */
    assert_float_equal(r.enc_ms, fake_enc_ms(&a), 1e-9);
    assert_float_equal(r.dec_ms, fake_dec_ms(&a, 30, 5), 1e-9);
    assert_float_equal(r.enc_std_ms, 0.0, 1e-9);
    o.runs = 0;
    assert_int_equal(latency_measure(&b, &a, &o, &r, &err), -1);
    assert_non_null(strstr(err.msg, "runs 0"));
}

static int stop_after(void *ctx, int done, int total, const Arch *a, const LatencyResult *r)
{
    (void)total, (void)a, (void)r;
    return done >= *(int *)ctx;
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    static char buf[1 << 16];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = '\0';
    fclose(f);
    return strdup(buf);
}

static void dataset_resumes_exactly(void **state)
{
    (void)state;
    SearchSpace train, wide;
    arch_space_default(&train);
    latency_space_wider(&train, &wide);
    assert_int_equal(wide.dec_ffn.n, 4);
    assert_int_equal(wide.dec_ffn.v[3], 256);
    assert_int_equal(wide.enc_heads.v[2], 1);
    LatencyOpts o;
    latency_opts_default(&o);
    o.warmup = 1;
    o.runs = 3;
    Fake f;
    LatencyBackend b = backend(&f);
    MosErr err = {{0}};
    char full[] = "/tmp/mos-latency-full-XXXXXX", part[] = "/tmp/mos-latency-part-XXXXXX";
    fresh_path(full);
    fresh_path(part);
    assert_int_equal(latency_dataset(&b, &wide, 9, 12, &o, full, NULL, NULL, &err), 12);

    /* stop after 5 rows, tear a sixth row half-written, resume */
    int stop = 5;
    b = backend(&f);
    assert_int_equal(latency_dataset(&b, &wide, 9, 12, &o, part, stop_after, &stop, &err), 5);
    FILE *t = fopen(part, "a");
    fputs("512,4,1024,", t);
    fclose(t);
    assert_int_equal(latency_csv_rows(part, &err), 5);
    b = backend(&f);
    assert_int_equal(latency_dataset(&b, &wide, 9, 12, &o, part, NULL, NULL, &err), 12);
    char *a = slurp(full), *c = slurp(part);
    assert_string_equal(a, c);
    assert_true(strncmp(a, "encoder_embed_dim,encoder_layer_num,", 36) == 0);
    free(a);
    free(c);

    /* the rows read back: features, latencies and archs */
    float *x, *enc, *dec;
    Arch *archs;
    int n;
    assert_int_equal(latency_csv_read(full, &x, &enc, &dec, &archs, &n, &err), 0);
    assert_int_equal(n, 12);
    MosErr verr;
    for (int i = 0; i < n; i++) {
        float raw[ARCH_FEATURES];
        arch_features_raw(&archs[i], raw);
        assert_memory_equal(raw, x + i * ARCH_FEATURES, sizeof raw);
        assert_float_equal(enc[i], fake_enc_ms(&archs[i]), 1e-5);
        assert_float_equal(dec[i], fake_dec_ms(&archs[i], 30, 5), 1e-5);
        assert_int_equal(arch_validate(&wide, &archs[i], &verr), 0);
    }
    free(x), free(enc), free(dec), free(archs);

    /* another seed continuing this file is refused */
    b = backend(&f);
    assert_int_equal(latency_dataset(&b, &wide, 10, 14, &o, full, NULL, NULL, &err), -1);
    assert_non_null(strstr(err.msg, "another seed or space"));
    /* a foreign file is refused and left alone */
    t = fopen(part, "w");
    fputs("a,b,c\n1,2,3\n", t);
    fclose(t);
    assert_int_equal(latency_csv_rows(part, &err), -1);
    assert_non_null(strstr(err.msg, ":1: not a latency.csv header"));
    c = slurp(part);
    assert_string_equal(c, "a,b,c\n1,2,3\n");
    free(c);
    unlink(full);
    unlink(part);
}

static int count_rows(void *ctx, int done, int total, const Arch *a, const LatencyResult *r)
{
    (void)a, (void)r;
    int *seen = ctx;
    assert_int_equal(done, seen[0] + 1);
    assert_int_equal(total, 80);
    seen[0] = done;
    return done == seen[1];   /* stop there */
}

static void job_measures_fits_and_verifies(void **state)
{
    (void)state;
    char dir[] = "/tmp/mos-latency-job-XXXXXX";
    assert_non_null(mkdtemp(dir));
    LatencyJob job = { .run_dir = dir, .archs = 60, .verify = 10, .seed = 3, .hidden = 32,
                       .hidden_layers = 2,
                       .fit = { .lr = 1e-3f, .batch = 16, .steps = 400, .seed = 1 } };
    arch_space_default(&job.space);
    latency_opts_default(&job.opts);
    job.opts.warmup = 0;
    job.opts.runs = 1;
    Fake f;
    LatencyBackend b = backend(&f);
    LatencyJobReport rep;
    MosErr err = {{0}};
    int seen[2] = { 0, 65 };   /* stop inside the verify stage, then resume */
    assert_int_equal(latency_job_run(&b, &job, count_rows, seen, &rep, &err), 1);
    assert_int_equal(seen[0], 65);
    seen[1] = -1;
    if (latency_job_run(&b, &job, count_rows, seen, &rep, &err))
        fail_msg("%s", err.msg);
    assert_int_equal(seen[0], 80);
    assert_int_equal(rep.rows, 60);
    assert_int_equal(rep.verify_n, 10);
    assert_float_equal(rep.noise_mapd_pct, 0.0, 1e-9);   /* the fake is exactly repeatable */
    assert_true(rep.verify.mapd_pct < 50.0);
    char path[512];
    snprintf(path, sizeof path, "%s/latency-predictor.json", dir);
    Predictor p;
    assert_int_equal(predictor_load(&p, path, &err), 0);
    predictor_done(&p);
    /* another protocol in the same directory is refused */
    job.opts.beam = 4;
    assert_int_equal(latency_job_run(&b, &job, NULL, NULL, &rep, &err), -1);
    assert_non_null(strstr(err.msg, "measured with beam 5, this run asks for 4"));
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
}

/* A backend whose work per run is fixed per arch; the wall clock runs `slow` times faster than
 * the CPU clock would (other processes holding the core) while `slow` is set, and the order of
 * prepares is recorded. */
typedef struct Timed {
    double wall, cpu;
    double slow;                 /* wall-time factor of the current prepare's runs */
    int prepares;
    int order[64];
    int slow_from, slow_to;      /* prepares [from, to) run slowed down by 3 */
    const Arch *base;            /* order[] records a - base */
    int dec_runs[8];
} Timed;

static int timed_prepare(void *ctx, const Arch *a, MosErr *err)
{
    (void)err;
    Timed *t = ctx;
    t->slow = t->prepares >= t->slow_from && t->prepares < t->slow_to ? 3.0 : 1.0;
    t->order[t->prepares++] = (int)(a - t->base);
    return 0;
}

static void timed_work(Timed *t, double ms)
{
    t->cpu += ms;
    t->wall += ms * t->slow;
}

static int timed_encode(void *ctx, const Arch *a, int src_len, MosErr *err)
{
    (void)src_len, (void)err;
    timed_work(ctx, fake_enc_ms(a));
    return 0;
}

static int timed_decode(void *ctx, const Arch *a, int src_len, int steps, int beam, MosErr *err)
{
    (void)src_len, (void)err;
    Timed *t = ctx;
    t->dec_runs[a - t->base]++;
    timed_work(t, fake_dec_ms(a, steps, beam));
    return 0;
}

static double timed_wall(void *ctx)
{
    return ((Timed *)ctx)->wall;
}

static double timed_cpu(void *ctx)
{
    return ((Timed *)ctx)->cpu;
}

static void three_archs(Arch a[3])
{
    SearchSpace s;
    arch_space_default(&s);
    Rng r;
    rng_seed(&r, 5);
    for (int i = 0; i < 3; i++)
        arch_sample(&s, &r, &a[i]);
}

static void block_interleaves_rounds_so_a_slow_stretch_falls_on_all(void **state)
{
    (void)state;
    Arch a[3];
    three_archs(a);
    Timed t = { .base = a, .slow_from = 3, .slow_to = 6 };   /* the whole of round 2 is slow */
    LatencyBackend b = { .ctx = &t, .prepare = timed_prepare, .encode = timed_encode,
                         .decode = timed_decode, .now_ms = timed_wall, .cpu_ms = timed_cpu };
    LatencyOpts o;
    latency_opts_default(&o);
    o.warmup = 2;
    o.runs = 6;
    o.rounds = 3;
    assert_int_equal(latency_runs_per_round(&o), 2);
    LatencyResult r[3];
    MosErr err = {{0}};
    assert_int_equal(latency_measure_block(&b, a, 3, &o, r, &err), 0);
    /* round by round, every arch, the order rotated by one each round */
    int want[9] = { 0, 1, 2, 1, 2, 0, 2, 0, 1 };
    assert_int_equal(t.prepares, 9);
    assert_memory_equal(t.order, want, sizeof want);
    /* decoder runs per arch: 2 warm-up + 2 timed, then 1 + 2 in each later round */
    for (int i = 0; i < 3; i++)
        assert_int_equal(t.dec_runs[i], 4 + 3 + 3);
    /* the trimmed mean of all 6 runs (none dropped at 10 %): 2 of them 3x slow, for every arch
     * alike, so the block's ranking holds; the wall clock is what was timed */
    for (int i = 0; i < 3; i++) {
        assert_float_equal(r[i].enc_ms, 10.0 / 6 * fake_enc_ms(&a[i]), 1e-9);
        assert_float_equal(r[i].dec_ms, 10.0 / 6 * fake_dec_ms(&a[i], 30, 5), 1e-9);
        assert_true(r[i].cpu_share < 1.0 && r[i].cpu_share > 1.0 / 3);
    }
    /* HAT's single pass over the same slow stretch is off by the slowdown */
    Timed t1 = { .base = a, .slow_from = 0, .slow_to = 1 };
    b.ctx = &t1;
    o.rounds = 1;
    assert_int_equal(latency_measure(&b, &a[0], &o, &r[0], &err), 0);
    assert_float_equal(r[0].dec_ms, 3 * fake_dec_ms(&a[0], 30, 5), 1e-9);
    /* the CPU clock leaves the time other processes held the core out */
    Timed t2 = { .base = a, .slow_from = 0, .slow_to = 1 };
    b.ctx = &t2;
    o.clock = LATENCY_CLOCK_CPU;
    assert_int_equal(latency_measure(&b, &a[0], &o, &r[0], &err), 0);
    assert_float_equal(r[0].dec_ms, fake_dec_ms(&a[0], 30, 5), 1e-9);
    assert_float_equal(r[0].cpu_share, 1.0 / 3, 1e-9);
    /* bad settings are refused with the reason */
    o.threads = 2;
    assert_int_equal(latency_measure(&b, &a[0], &o, &r[0], &err), -1);
    assert_non_null(strstr(err.msg, "cpu clock"));
    o.threads = 1;
    o.rounds = 7;
    assert_int_equal(latency_measure(&b, &a[0], &o, &r[0], &err), -1);
    assert_non_null(strstr(err.msg, "rounds 7"));
}

static void dataset_in_blocks_resumes_and_records_the_protocol(void **state)
{
    (void)state;
    SearchSpace wide;
    arch_space_default(&wide);
    LatencyOpts o;
    latency_opts_default(&o);
    o.warmup = 1;
    o.runs = 4;
    o.rounds = 2;
    o.block = 4;
    Fake f;
    LatencyBackend b = backend(&f);
    MosErr err = {{0}};
    char full[] = "/tmp/mos-latency-bfull-XXXXXX", part[] = "/tmp/mos-latency-bpart-XXXXXX";
    fresh_path(full);
    fresh_path(part);
    assert_int_equal(latency_dataset(&b, &wide, 4, 10, &o, full, NULL, NULL, &err), 10);
    /* a stop asked at row 5 takes effect after its block: rows 5-8 are kept, not lost */
    int stop = 5;
    b = backend(&f);
    assert_int_equal(latency_dataset(&b, &wide, 4, 10, &o, part, stop_after, &stop, &err), 8);
    assert_int_equal(latency_csv_rows(part, &err), 8);
    b = backend(&f);
    assert_int_equal(latency_dataset(&b, &wide, 4, 10, &o, part, NULL, NULL, &err), 10);
    char *x = slurp(full), *y = slurp(part);
    assert_string_equal(x, y);
    free(x);
    free(y);
    unlink(full);
    unlink(part);

    /* latency.json: the rounds, block and clock are recorded and read back; a file from before
     * they existed counts as HAT's 1, 1, wall */
    char dir[] = "/tmp/mos-latency-proto-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[600];
    snprintf(path, sizeof path, "%s/latency.json", dir);
    FILE *j = fopen(path, "w");
    fputs("{\"format\": \"mos-latency\", \"src_len\": 30, \"steps\": 30, \"beam\": 5, "
          "\"warmup\": 0, \"runs\": 1, \"trim\": 0.1, \"threads\": 1, \"vocab\": 0, "
          "\"seed\": \"3\"}\n", j);
    fclose(j);
    LatencyOpts back;
    latency_opts_default(&back);
    back.rounds = 9;
    assert_int_equal(latency_opts_load(dir, &back, &err), 1);
    assert_int_equal(back.rounds, 1);
    assert_int_equal(back.block, 1);
    assert_int_equal(back.clock, LATENCY_CLOCK_WALL);
    assert_int_equal(back.runs, 1);
    LatencyJob job = { .run_dir = dir, .archs = 12, .verify = 0, .seed = 3, .hidden = 8,
                       .hidden_layers = 1,
                       .fit = { .lr = 1e-3f, .batch = 8, .steps = 20, .seed = 1 } };
    arch_space_default(&job.space);
    latency_opts_default(&job.opts);
    job.opts.warmup = 0;
    job.opts.runs = 1;
    LatencyJobReport rep;
    job.opts.clock = LATENCY_CLOCK_CPU;   /* not what the old file measured */
    assert_int_equal(latency_job_run(&b, &job, NULL, NULL, &rep, &err), -1);
    assert_non_null(strstr(err.msg, "clock \"wall\", this run asks for \"cpu\""));
    job.opts.clock = LATENCY_CLOCK_WALL;  /* the same protocol continues the old directory */
    b = backend(&f);
    if (latency_job_run(&b, &job, NULL, NULL, &rep, &err))
        fail_msg("%s", err.msg);
    assert_int_equal(rep.rows, 12);
    assert_int_equal(rep.measured, 12);
    assert_true(isfinite(rep.load_max));  /* Linux reports a load average */
    assert_int_equal(latency_opts_load("/nonexistent-mos-dir", &back, &err), 0);
    char cmd[700];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(trimmed_mean_drops_both_ends),
        cmocka_unit_test(measure_follows_protocol),
        cmocka_unit_test(dataset_resumes_exactly),
        cmocka_unit_test(job_measures_fits_and_verifies),
        cmocka_unit_test(block_interleaves_rounds_so_a_slow_stretch_falls_on_all),
        cmocka_unit_test(dataset_in_blocks_resumes_and_records_the_protocol),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
