/* The drift reference (LatencyRef): on a virtual machine whose slowdown adds the same
 * milliseconds to every run, shifting a block's runs by the reference's drift from its anchor
 * gives back the timings at the anchor's speed exactly, where the unshifted protocol is off by
 * the slowdown; the shift never takes a run below half its timing; a latency job times the
 * anchor once, keeps it in latency.json for resumes and later runs, and refuses a directory
 * measured without a reference or with the earlier per-round scaling. */
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

/* A run's time is base * (1 + rate * prepares) + the extra ms of its part: `rate` makes the
 * machine drift arch by arch, the extras are a slowdown common to every arch. */
typedef struct Drift {
    double clock;
    double rate;
    double enc_extra, dec_extra;
    int prepares;
} Drift;

static double base_enc_ms(const Arch *a)
{
    return 0.002 * a->enc_embed * a->enc_layers + 0.001 * a->enc_ffn[0];
}

static double base_dec_ms(const Arch *a, int steps, int beam)
{
    return steps * (0.04 * a->dec_layers + 0.00002 * a->dec_ffn[0] * beam + 0.001 * a->dec_embed);
}

static int drift_prepare(void *ctx, const Arch *a, MosErr *err)
{
    (void)a, (void)err;
    ((Drift *)ctx)->prepares++;
    return 0;
}

static double slowdown(const Drift *d)
{
    return 1.0 + d->rate * d->prepares;
}

static int drift_encode(void *ctx, const Arch *a, int src_len, MosErr *err)
{
    (void)src_len, (void)err;
    Drift *d = ctx;
    d->clock += base_enc_ms(a) * slowdown(d) + d->enc_extra;
    return 0;
}

static int drift_decode(void *ctx, const Arch *a, int src_len, int steps, int beam, MosErr *err)
{
    (void)src_len, (void)err;
    Drift *d = ctx;
    d->clock += base_dec_ms(a, steps, beam) * slowdown(d) + d->dec_extra;
    return 0;
}

static double drift_now(void *ctx)
{
    return ((Drift *)ctx)->clock;
}

static LatencyBackend drift_backend(Drift *d, double rate)
{
    memset(d, 0, sizeof *d);
    d->rate = rate;
    return (LatencyBackend){ .ctx = d, .prepare = drift_prepare, .encode = drift_encode,
                            .decode = drift_decode, .now_ms = drift_now, .cpu_ms = drift_now };
}

static void block_opts(LatencyOpts *o, const SearchSpace *s)
{
    latency_opts_default(o);
    o->warmup = 1;
    o->runs = 6;
    o->rounds = 3;
    o->block = 4;
    o->ref.on = 1;
    arch_middle(s, &o->ref.arch);
}

static void sample_archs(const SearchSpace *s, Arch *a, int n)
{
    Rng r;
    rng_seed(&r, 11);
    for (int i = 0; i < n; i++)
        arch_sample(s, &r, &a[i]);
}

static void reference_shifts_out_a_common_slowdown(void **state)
{
    (void)state;
    SearchSpace s;
    arch_space_default(&s);
    Arch a[4];
    sample_archs(&s, a, 4);
    LatencyOpts o;
    block_opts(&o, &s);
    o.ref.enc_ms = base_enc_ms(&o.ref.arch);   /* anchored at the machine's unslowed speed */
    o.ref.dec_ms = base_dec_ms(&o.ref.arch, 30, 5);
    Drift d;
    LatencyBackend b = drift_backend(&d, 0.0);
    d.enc_extra = 0.5, d.dec_extra = 4;
    LatencyResult res[4];
    MosErr err = {{0}};
    if (latency_measure_block(&b, a, 4, &o, res, &err))
        fail_msg("%s", err.msg);
    /* the reference before every round and once after the last: 3 x (4 + 1) + 1 prepares */
    assert_int_equal(d.prepares, 16);
    for (int i = 0; i < 4; i++) {
        assert_float_equal(res[i].enc_ms, base_enc_ms(&a[i]), 1e-9);
        assert_float_equal(res[i].dec_ms, base_dec_ms(&a[i], 30, 5), 1e-9);
        assert_true(res[i].speed < 1.0 && res[i].speed > 0.3);   /* slower than the anchor */
    }
    /* without the reference the same block is off by the slowdown */
    o.ref.on = 0;
    b = drift_backend(&d, 0.0);
    d.enc_extra = 0.5, d.dec_extra = 4;
    assert_int_equal(latency_measure_block(&b, a, 4, &o, res, &err), 0);
    for (int i = 0; i < 4; i++) {
        assert_float_equal(res[i].dec_ms, base_dec_ms(&a[i], 30, 5) + 4, 1e-9);
        assert_true(isnan(res[i].speed));
    }
    /* no anchor yet: the block anchors to its own first reference timing, so it keeps the
     * slowdown it began with */
    o.ref.on = 1;
    o.ref.enc_ms = o.ref.dec_ms = NAN;
    b = drift_backend(&d, 0.0);
    d.dec_extra = 4;
    assert_int_equal(latency_measure_block(&b, a, 4, &o, res, &err), 0);
    for (int i = 0; i < 4; i++) {
        assert_float_equal(res[i].dec_ms, base_dec_ms(&a[i], 30, 5) + 4, 1e-9);
        assert_float_equal(res[i].speed, 1.0, 1e-12);
    }
    /* latency_ref_anchor times the reference alone, as the protocol times any arch */
    b = drift_backend(&d, 0.0);
    assert_int_equal(latency_ref_anchor(&b, &o, &err), 0);
    assert_float_equal(o.ref.enc_ms, base_enc_ms(&o.ref.arch), 1e-9);
    assert_float_equal(o.ref.dec_ms, base_dec_ms(&o.ref.arch, 30, 5), 1e-9);
}

static void shift_keeps_half_of_every_run(void **state)
{
    (void)state;
    SearchSpace s;
    arch_space_default(&s);
    Arch a[2];
    sample_archs(&s, a, 2);
    LatencyOpts o;
    block_opts(&o, &s);
    /* an anchor far below what the reference takes now: the drift estimate exceeds the small
     * archs' own timings, and a run is never shifted below half of it */
    o.ref.enc_ms = 1e-6;
    o.ref.dec_ms = 1e-6;
    Drift d;
    LatencyBackend b = drift_backend(&d, 0.0);
    d.dec_extra = 100;
    LatencyResult res[2];
    MosErr err = {{0}};
    assert_int_equal(latency_measure_block(&b, a, 2, &o, res, &err), 0);
    for (int i = 0; i < 2; i++) {
        assert_float_equal(res[i].dec_ms, 0.5 * (base_dec_ms(&a[i], 30, 5) + 100), 1e-9);
        assert_float_equal(res[i].enc_ms, 0.5 * base_enc_ms(&a[i]), 1e-9);
    }
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    static char buf[8192];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    return strdup(buf);
}

static void job_keeps_its_anchor_in_latency_json(void **state)
{
    (void)state;
    char dir[] = "/tmp/mos-latency-ref-XXXXXX";
    assert_non_null(mkdtemp(dir));
    LatencyJob job = { .run_dir = dir, .archs = 12, .verify = 0, .seed = 3, .hidden = 8,
                       .hidden_layers = 1,
                       .fit = { .lr = 1e-3f, .batch = 8, .steps = 20, .seed = 1 } };
    arch_space_default(&job.space);
    block_opts(&job.opts, &job.space);
    Drift d;
    LatencyBackend b = drift_backend(&d, 0.01);
    LatencyJobReport rep;
    MosErr err = {{0}};
    if (latency_job_run(&b, &job, NULL, NULL, &rep, &err))
        fail_msg("%s", err.msg);
    /* the anchor is the reference timed alone before any row: prepares 1-3 (3 rounds) */
    Arch mid;
    arch_middle(&job.space, &mid);
    assert_float_equal(rep.ref_dec_ms, 1.02 * base_dec_ms(&mid, 30, 5), 1e-9);
    assert_true(rep.speed_min < rep.speed_max && rep.speed_max < 1.0);
    char ref_text[512];
    arch_format(&mid, ref_text, sizeof ref_text);
    assert_string_equal(rep.ref_arch, ref_text);
    LatencyOpts back;
    latency_opts_default(&back);
    assert_int_equal(latency_opts_load(dir, &back, &err), 1);
    assert_true(back.ref.on && arch_equal(&back.ref.arch, &mid));
    assert_float_equal(back.ref.dec_ms, rep.ref_dec_ms, 1e-9);
    /* a later run (more rows) keeps the recorded anchor rather than timing a new one */
    char path[600];
    snprintf(path, sizeof path, "%s/latency.json", dir);
    char *before = slurp(path);
    job.archs = 16;
    b = drift_backend(&d, 0.3);
    if (latency_job_run(&b, &job, NULL, NULL, &rep, &err))
        fail_msg("%s", err.msg);
    assert_float_equal(rep.ref_dec_ms, back.ref.dec_ms, 1e-9);
    char *after = slurp(path);
    assert_string_equal(before, after);
    free(before);
    free(after);
    /* measured with a reference, continued without one: refused, nothing changed */
    job.opts.ref.on = 0;
    job.archs = 20;
    assert_int_equal(latency_job_run(&b, &job, NULL, NULL, &rep, &err), -1);
    assert_non_null(strstr(err.msg, "reference"));
    assert_int_equal(latency_csv_rows(strcat(strcpy(path, dir), "/latency.csv"), &err), 16);
    /* a directory from an earlier mos (reference, but no reference_correction: its rows were
     * scaled round by round) is refused rather than continued with shifted rows */
    job.opts.ref.on = 1;
    snprintf(path, sizeof path, "%s/latency.json", dir);
    char *json = slurp(path), *line = strstr(json, "\"reference_correction\"");
    assert_non_null(line);
    char *eol = strchr(line, '\n');
    memmove(line, eol + 1, strlen(eol + 1) + 1);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(json, f);
    fclose(f);
    free(json);
    assert_int_equal(latency_job_run(&b, &job, NULL, NULL, &rep, &err), -1);
    assert_non_null(strstr(err.msg, "reference_correction \"round-scale\""));
    assert_int_equal(latency_csv_rows(strcat(strcpy(path, dir), "/latency.csv"), &err), 16);
    char cmd[700];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
}

static void middle_arch_is_mid_size(void **state)
{
    (void)state;
    SearchSpace s;
    arch_space_default(&s);   /* embed {256, 192}, FFN {1024, 768, 512}, dec layers 1-4 */
    Arch m;
    arch_middle(&s, &m);
    assert_int_equal(m.enc_embed, 192);
    assert_int_equal(m.enc_ffn[0], 768);
    assert_int_equal(m.dec_layers, 2);
    MosErr err = {{0}};
    assert_int_equal(arch_validate(&s, &m, &err), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(reference_shifts_out_a_common_slowdown),
        cmocka_unit_test(shift_keeps_half_of_every_run),
        cmocka_unit_test(job_keeps_its_anchor_in_latency_json),
        cmocka_unit_test(middle_arch_is_mid_size),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
