/* `mos train`, `mos eval` and `mos config` as a user runs them on a tiny generated run
 * directory: progress and checkpoints printed, the config kept in the run directory, a second
 * fresh start refused, --resume continuing, eval printing loss and BLEU, bad input rejected
 * with a one-line message and a usage exit code. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "tiny_data.h"

static char dir[512];

/* Runs `mos ARGS` with stdout+stderr captured into out; returns the exit code. */
static int mos(char *out, size_t n, const char *fmt, ...)
{
    char args[2048], cmd[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(args, sizeof args, fmt, ap);
    va_end(ap);
    snprintf(cmd, sizeof cmd, "%s/worker/mos %s 2>&1", getenv("MOS_BUILD_ROOT"), args);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    size_t len = fread(out, 1, n - 1, p);
    out[len] = '\0';
    int st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static int setup(void **state)
{
    (void)state;
    if (!tiny_tmpdir(dir, sizeof dir) || tiny_data_write(dir, 400, 30, 30, 3) < 0)
        return -1;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    tiny_rmdir(dir);
    return 0;
}

static void train_then_resume(void **state)
{
    (void)state;
    static char out[1 << 16];
    const char *src = getenv("MOS_SOURCE_ROOT");
    assert_int_equal(mos(out, sizeof out, "train --run-dir %s --config %s/tests/data/tiny.yml "
                                          "--max-update 20 --log-every 5", dir, src), 0);
    assert_non_null(strstr(out, "step     20/20  loss"));
    assert_non_null(strstr(out, "valid     20  largest   nll"));
    assert_non_null(strstr(out, "  bleu "));
    assert_non_null(strstr(out, "checkpoint 20"));
    char path[700];
    snprintf(path, sizeof path, "%s/config.yml", dir);
    assert_int_equal(access(path, F_OK), 0);
    /* a fresh start over existing checkpoints is refused */
    assert_int_equal(mos(out, sizeof out, "train --run-dir %s --max-update 20", dir), 1);
    assert_non_null(strstr(out, "already holds checkpoints: pass --resume"));
    /* the run directory's config is used from now on */
    assert_int_equal(mos(out, sizeof out, "train --run-dir %s --resume --max-update 30 --quiet",
                         dir), 0);
    assert_non_null(strstr(out, "resumed from step 20"));
    assert_non_null(strstr(out, "checkpoint 30"));
    assert_null(strstr(out, "  loss "));
    /* a different config for the same run directory is refused */
    snprintf(path, sizeof path, "%s/other.yml", dir);
    FILE *f = fopen(path, "w");
    fputs("encoder-embed-dim: 64\nencoder-embed-choice: [64]\n", f);
    fclose(f);
    assert_int_equal(mos(out, sizeof out, "train --run-dir %s --config %s --resume", dir, path),
                     1);
    assert_non_null(strstr(out, "config.yml exists and differs from"));
    assert_int_equal(mos(out, sizeof out, "config --run-dir %s", dir), 0);
    assert_non_null(strstr(out, "encoder-embed-dim: 32\n"));
}

static void eval_prints_loss_and_bleu(void **state)
{
    (void)state;
    static char out[1 << 16];
    assert_int_equal(mos(out, sizeof out, "eval --run-dir %s --arch smallest --split test "
                                          "--beam 2 --max-sentences 12", dir), 0);
    assert_non_null(strstr(out, "arch: enc=16x2:ffn=32,32:h=2,2/dec=16x1"));
    assert_non_null(strstr(out, "(update 30,"));
    assert_non_null(strstr(out, "test: 12 pairs"));
    assert_non_null(strstr(out, "loss "));
    assert_non_null(strstr(out, "BLEU = "));
    assert_non_null(strstr(out, "12 sentences"));
    assert_int_equal(mos(out, sizeof out,
                         "eval --run-dir %s --arch 'enc=32x2:ffn=64,64:h=4,4/dec=32x1:ffn=64:"
                         "sh=4:eh=4:arb=-1' --no-bleu", dir), 0);
    assert_non_null(strstr(out, "valid: 30 pairs"));
    assert_null(strstr(out, "BLEU"));
    assert_int_equal(mos(out, sizeof out, "eval --run-dir %s --arch 'enc=32x2:ffn=64,64:h=4,4/"
                                          "dec=32x1:ffn=128:sh=4:eh=4:arb=-1'", dir), 2);
    assert_non_null(strstr(out, "not in this run's search space"));
    char path[700];
    snprintf(path, sizeof path, "%s/arch.json", dir);
    FILE *f = fopen(path, "w");
    fputs("{\"encoder\": {\"encoder_embed_dim\": 16, \"encoder_layer_num\": 2, "
          "\"encoder_ffn_embed_dim\": [64, 32], \"encoder_self_attention_heads\": [2, 4]}, "
          "\"decoder\": {\"decoder_embed_dim\": 32, \"decoder_layer_num\": 1, "
          "\"decoder_ffn_embed_dim\": [32], \"decoder_self_attention_heads\": [2], "
          "\"decoder_ende_attention_heads\": [4], \"decoder_arbitrary_ende_attn\": [1]}}\n", f);
    fclose(f);
    assert_int_equal(mos(out, sizeof out, "eval --run-dir %s --arch @%s --no-bleu", dir, path),
                     0);
    assert_non_null(strstr(out, "arch: enc=16x2:ffn=64,32:h=2,4/dec=32x1:ffn=32:sh=2:eh=4:arb=1"));
    assert_int_equal(mos(out, sizeof out, "eval --run-dir %s --arch nonsense", dir), 2);
    assert_non_null(strstr(out, "mos eval: "));
    assert_int_equal(mos(out, sizeof out, "eval --run-dir %s --split dev", dir), 2);
    assert_int_equal(mos(out, sizeof out, "eval --run-dir %s/nowhere", dir), 1);
    assert_non_null(strstr(out, "manifest.json"));
}

static void bleu_scores_files(void **state)
{
    (void)state;
    static char out[4096];
    char ref[700], hyp[700];
    snprintf(ref, sizeof ref, "%s/ref.txt", dir);
    snprintf(hyp, sizeof hyp, "%s/hyp.txt", dir);
    FILE *f = fopen(ref, "w");
    fputs("The cat sat on the mat.\nHello, world!\n", f);
    fclose(f);
    f = fopen(hyp, "w");
    fputs("The cat sat on a mat.\nHello world!\n", f);
    fclose(f);
    /* 1-grams 9/10, 2-grams 5/8, 3-grams 2/6, 4-grams 1/4; BP exp(1 - 11/10) */
    assert_int_equal(mos(out, sizeof out, "bleu %s %s", ref, hyp), 0);
    assert_string_equal(out, "BLEU = 42.10 90.0/62.5/33.3/25.0 (BP = 0.905 ratio = 0.909 "
                             "hyp_len = 10 ref_len = 11)\n");
    assert_int_equal(mos(out, sizeof out, "bleu %s %s", ref, ref), 0);
    assert_non_null(strstr(out, "BLEU = 100.00 "));
    f = fopen(hyp, "w");
    fputs("one line\n", f);
    fclose(f);
    assert_int_equal(mos(out, sizeof out, "bleu %s %s", ref, hyp), 1);
    assert_non_null(strstr(out, "line counts differ"));
    assert_int_equal(mos(out, sizeof out, "bleu"), 2);
}

/* Ctrl-C during training writes a checkpoint of the last finished update and says how to go
 * on; --resume then continues from it. */
static void interrupt_writes_a_checkpoint(void **state)
{
    (void)state;
    char run[600], cfg[1024], exe[1024];
    snprintf(run, sizeof run, "%s/int", dir);
    assert_int_equal(tiny_data_write(run, 400, 30, 30, 5), 0);
    snprintf(cfg, sizeof cfg, "%s/tests/data/tiny.yml", getenv("MOS_SOURCE_ROOT"));
    snprintf(exe, sizeof exe, "%s/worker/mos", getenv("MOS_BUILD_ROOT"));
    int fd[2];
    assert_int_equal(pipe(fd), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        dup2(fd[1], 1);
        close(fd[0]);
        execl(exe, "mos", "train", "--run-dir", run, "--config", cfg, "--max-update", "1000000",
              "--log-every", "1", (char *)NULL);
        _exit(127);
    }
    close(fd[1]);
    FILE *out = fdopen(fd[0], "r");
    char line[1024], all[8192] = "";
    int sent = 0;
    while (fgets(line, sizeof line, out)) {
        if (!sent && strncmp(line, "step ", 5) == 0) {
            kill(pid, SIGINT);
            sent = 1;
        }
        if (strlen(all) + strlen(line) < sizeof all)
            strcat(all, line);
    }
    fclose(out);
    int st;
    waitpid(pid, &st, 0);
    assert_true(sent);
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    assert_non_null(strstr(all, "interrupted: checkpoint written; continue with mos train"));
    char path[700];
    snprintf(path, sizeof path, "%s/checkpoints/last.json", run);
    assert_int_equal(access(path, F_OK), 0);
    FILE *f = fopen(path, "r");
    char json[4096] = "";
    size_t n = fread(json, 1, sizeof json - 1, f);
    json[n] = '\0';
    fclose(f);
    char *p = strstr(json, "\"step\": ");
    assert_non_null(p);
    long step = atol(p + 8);
    assert_true(step >= 1);
    static char res[1 << 16];
    assert_int_equal(mos(res, sizeof res, "train --run-dir %s --resume --max-update %ld --quiet",
                         run, step + 12), 0);
    char want[64];
    snprintf(want, sizeof want, "resumed from step %ld", step);
    assert_non_null(strstr(res, want));
    snprintf(want, sizeof want, "checkpoint %ld", step + 12);
    assert_non_null(strstr(res, want));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(train_then_resume),
        cmocka_unit_test(eval_prints_loss_and_bleu),
        cmocka_unit_test(bleu_scores_files),
        cmocka_unit_test(interrupt_writes_a_checkpoint),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
