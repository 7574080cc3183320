/* `mos latency` end to end on a tiny supernet: it measures with the real model into latency.csv,
 * fits and verifies the predictor, a second run resumes without re-measuring, and a run with
 * another protocol in the same directory is refused with exit code 1 and the data kept; --arch
 * times one given arch (of the wider space) without touching any file. Both `mos latency` and
 * the worker's latency stage take their sizes from the run config's latency-* keys, and the
 * command's options override them. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "commands.h"
#include "latency.h"
#include "predictor.h"
#include "tiny_data.h"

static const char tiny_config[] =
    "encoder-embed-dim: 32\ndecoder-embed-dim: 32\n"
    "encoder-ffn-embed-dim: 64\ndecoder-ffn-embed-dim: 64\n"
    "encoder-layers: 2\ndecoder-layers: 2\n"
    "encoder-attention-heads: 4\ndecoder-attention-heads: 4\nqkv-dim: 32\n"
    "encoder-embed-choice: [32, 16]\ndecoder-embed-choice: [32, 16]\n"
    "encoder-ffn-embed-dim-choice: [64, 32]\ndecoder-ffn-embed-dim-choice: [64, 32]\n"
    "encoder-layer-num-choice: [2]\ndecoder-layer-num-choice: [1, 2]\n"
    "encoder-self-attention-heads-choice: [4, 2]\n"
    "decoder-self-attention-heads-choice: [4, 2]\n"
    "decoder-ende-attention-heads-choice: [4, 2]\n"
    "decoder-arbitrary-ende-attn-choice: [-1, 1]\n";

static int run_cmd(const char *dir, const char *extra)
{
    char line[1024];
    snprintf(line, sizeof line, "--run-dir %s --vocab 64 --archs 12 --verify 3 --runs 3 "
             "--warmup 1 --fit-steps 50 --hidden 16 --quiet %s", dir, extra);
    char *argv[64];
    int argc = 0;
    for (char *t = strtok(line, " "); t && argc < 63; t = strtok(NULL, " "))
        argv[argc++] = t;
    Args args;
    MosErr err = {{0}};
    if (cli_parse(&cmd_latency, argc, argv, &args, &err) != 0)
        fail_msg("%s", err.msg);
    return cmd_latency.run(&args);
}

static long file_size(const char *dir, const char *name)
{
    char path[600];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    struct stat st;
    return stat(path, &st) == 0 ? (long)st.st_size : -1;
}

static void measures_fits_resumes_refuses(void **state)
{
    (void)state;
    char dir[] = "/tmp/mos-cmd-latency-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[600];
    snprintf(path, sizeof path, "%s/config.yml", dir);
    FILE *f = fopen(path, "w");
    fputs(tiny_config, f);
    fclose(f);
    assert_int_equal(run_cmd(dir, ""), 0);

    snprintf(path, sizeof path, "%s/latency.csv", dir);
    float *x, *enc, *dec;
    Arch *archs;
    int n;
    MosErr err = {{0}};
    assert_int_equal(latency_csv_read(path, &x, &enc, &dec, &archs, &n, &err), 0);
    assert_int_equal(n, 12);
    for (int i = 0; i < n; i++) {
        assert_true(enc[i] > 0 && dec[i] > 0);
        assert_true(archs[i].enc_embed == 32 || archs[i].enc_embed == 16);
    }
    free(x), free(enc), free(dec), free(archs);
    snprintf(path, sizeof path, "%s/latency-predictor.json", dir);
    Predictor p;
    assert_int_equal(predictor_load(&p, path, &err), 0);
    assert_int_equal(p.hidden, 16);
    predictor_done(&p);
    /* the verify archs, measured twice: the same 3 architectures in both files */
    Arch *v1, *v2;
    int n1, n2;
    snprintf(path, sizeof path, "%s/latency-verify.csv", dir);
    assert_int_equal(latency_csv_read(path, &x, &enc, &dec, &v1, &n1, &err), 0);
    free(x), free(enc), free(dec);
    snprintf(path, sizeof path, "%s/latency-verify-repeat.csv", dir);
    assert_int_equal(latency_csv_read(path, &x, &enc, &dec, &v2, &n2, &err), 0);
    free(x), free(enc), free(dec);
    assert_int_equal(n1, 3);
    assert_int_equal(n2, 3);
    for (int i = 0; i < 3; i++)
        assert_true(arch_equal(&v1[i], &v2[i]));
    free(v1), free(v2);

    /* again: nothing to measure, the same rows */
    long before = file_size(dir, "latency.csv");
    assert_int_equal(run_cmd(dir, ""), 0);
    assert_int_equal(file_size(dir, "latency.csv"), before);

    /* another beam in the same directory: refused, data kept */
    assert_int_equal(run_cmd(dir, "--beam 3"), 1);
    assert_int_equal(file_size(dir, "latency.csv"), before);

    /* the drift reference (default on) and its anchor are in latency.json; continuing the
     * directory without one is refused, data kept */
    LatencyOpts o;
    latency_opts_default(&o);
    assert_int_equal(latency_opts_load(dir, &o, &err), 1);
    assert_true(o.ref.on);
    assert_true(o.ref.enc_ms > 0 && o.ref.dec_ms > 0);
    assert_int_equal(o.ref.arch.enc_embed, 16);   /* arch_middle: the lower of {32, 16} */
    assert_int_equal(run_cmd(dir, "--no-reference"), 1);
    assert_int_equal(file_size(dir, "latency.csv"), before);

    /* --arch: one arch timed and printed, no file touched; bad or foreign archs exit 2 */
    long verify_before = file_size(dir, "latency-verify.csv");
    assert_int_equal(run_cmd(dir, "--arch largest"), 0);
    assert_int_equal(run_cmd(dir, "--arch smallest"), 0);
    assert_int_equal(run_cmd(dir, "--arch enc=16x2:ffn=32,16:h=2,1/"
                                  "dec=16x1:ffn=16:sh=1:eh=2:arb=1"), 0);
    assert_int_equal(run_cmd(dir, "--arch enc=48x2:ffn=32,32:h=2,2/"
                                  "dec=16x1:ffn=32:sh=2:eh=2:arb=1"), 2);
    assert_int_equal(run_cmd(dir, "--arch nonsense"), 2);
    assert_int_equal(file_size(dir, "latency.csv"), before);
    /* a latency.json edited by hand: a reference outside the space or not text is an error,
     * not a crash */
    snprintf(path, sizeof path, "%s/latency.json", dir);
    char saved[700];
    snprintf(saved, sizeof saved, "%s/latency.json.saved", dir);
    assert_int_equal(rename(path, saved), 0);
    static const char *const bad[] = {
        "{\"format\": \"mos-latency\", \"reference\": \"enc=3x1:ffn=1:h=3/dec=5x1:ffn=1:"
        "sh=7:eh=7:arb=1\", \"reference_enc_ms\": 1, \"reference_dec_ms\": 1}\n",
        "{\"format\": \"mos-latency\", \"reference\": 5}\n",
    };
    for (int i = 0; i < 2; i++) {
        f = fopen(path, "w");
        fputs(bad[i], f);
        fclose(f);
        assert_int_equal(run_cmd(dir, "--arch largest"), 1);
    }
    assert_int_equal(rename(saved, path), 0);
    assert_int_equal(file_size(dir, "latency-verify.csv"), verify_before);

    char cmd[700];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
}

static int csv_rows(const char *dir, const char *name)
{
    char path[600];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    MosErr err = {{0}};
    return latency_csv_rows(path, &err);
}

static void write_config(const char *dir, const char *extra)
{
    char path[600];
    snprintf(path, sizeof path, "%s/config.yml", dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(tiny_config, f);
    fputs(extra, f);
    fclose(f);
}

static int run_args(const char *line_in)
{
    char line[1024];
    snprintf(line, sizeof line, "%s", line_in);
    char *argv[64];
    int argc = 0;
    for (char *t = strtok(line, " "); t && argc < 63; t = strtok(NULL, " "))
        argv[argc++] = t;
    Args args;
    MosErr err = {{0}};
    if (cli_parse(&cmd_latency, argc, argv, &args, &err) != 0)
        fail_msg("%s", err.msg);
    return cmd_latency.run(&args);
}

static const char stage_keys[] =
    "latency-archs: 11\nlatency-verify: 2\nlatency-runs: 2\nlatency-warmup: 0\n"
    "latency-beam: 2\nlatency-fit-steps: 30\n";

/* `mos latency` without size options measures what the run config says; --archs overrides. */
static void command_reads_run_config(void **state)
{
    (void)state;
    char dir[] = "/tmp/mos-cmd-latency-XXXXXX";
    assert_non_null(mkdtemp(dir));
    write_config(dir, stage_keys);
    char line[800];
    snprintf(line, sizeof line, "--run-dir %s --vocab 64 --fit-steps 20 --hidden 8 --quiet", dir);
    assert_int_equal(run_args(line), 0);
    assert_int_equal(csv_rows(dir, "latency.csv"), 11);
    assert_int_equal(csv_rows(dir, "latency-verify.csv"), 2);
    assert_int_equal(csv_rows(dir, "latency-verify-repeat.csv"), 2);
    /* the same protocol (runs, warmup, beam from the config) resumes; --archs 13 adds 2 rows */
    snprintf(line, sizeof line, "--run-dir %s --vocab 64 --fit-steps 20 --hidden 8 --quiet "
             "--archs 13", dir);
    assert_int_equal(run_args(line), 0);
    assert_int_equal(csv_rows(dir, "latency.csv"), 13);
    /* --beam overrides latency-beam: another protocol, refused */
    snprintf(line, sizeof line, "--run-dir %s --vocab 64 --quiet --beam 3", dir);
    assert_int_equal(run_args(line), 1);
    tiny_rmdir(dir);
}

/* The worker's latency stage on a prepared tiny run sized by the run config. */
static void worker_stage_reads_run_config(void **state)
{
    (void)state;
    char dir[512];
    assert_non_null(tiny_tmpdir(dir, sizeof dir));
    assert_int_equal(tiny_data_write(dir, 40, 10, 10, 5), 0);
    write_config(dir, stage_keys);
    char cmd[1600];
    snprintf(cmd, sizeof cmd, "%s/worker/mos worker --run-dir %s --stage latency > %s/w.out 2>&1",
             getenv("MOS_BUILD_ROOT"), dir, dir);
    if (system(cmd) != 0) {
        snprintf(cmd, sizeof cmd, "cat %s/w.out %s/worker.log", dir, dir);
        assert_int_equal(system(cmd), 0);
        fail_msg("the worker's latency stage failed");
    }
    assert_int_equal(csv_rows(dir, "latency.csv"), 11);
    assert_int_equal(csv_rows(dir, "latency-verify-repeat.csv"), 2);
    tiny_rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(measures_fits_resumes_refuses),
        cmocka_unit_test(command_reads_run_config),
        cmocka_unit_test(worker_stage_reads_run_config),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
