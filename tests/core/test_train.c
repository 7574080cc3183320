/* The training loop on a tiny supernet and generated corpus: the loss falls, the same seed gives
 * bit-identical losses, a run stopped mid-update and resumed continues exactly as an
 * uninterrupted run (sandwich rule, two micro-batches per update), existing checkpoints are
 * never overwritten by a fresh start, and a corrupt last checkpoint falls back to prev. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "tiny_data.h"
#include "train.h"

#define MAX_STEPS 400

typedef struct Rec {
    double loss[MAX_STEPS + 1];
    double valid[MAX_STEPS + 1][ARCH_GROUP_COUNT];
    double bleu[MAX_STEPS + 1][ARCH_GROUP_COUNT];
    long last_step;
    int nsteps, nckpt, nlog;
    long polls, stop_at_poll;   /* poll number that answers TRAIN_STOP (0: never) */
    long polls_at_step[MAX_STEPS + 1];
    char log[8][512];
} Rec;

static void on_event(void *ctx, const TrainEvent *ev)
{
    Rec *r = ctx;
    if (ev->kind == TRAIN_EV_STEP) {
        assert_true(ev->step >= 1 && ev->step <= MAX_STEPS);
        r->loss[ev->step] = ev->loss;
        r->last_step = ev->step;
        r->polls_at_step[ev->step] = r->polls;
        r->nsteps++;
        assert_true(ev->lr > 0 && ev->grad_norm > 0 && ev->tok_per_s > 0);
    } else if (ev->kind == TRAIN_EV_VALID) {
        r->valid[ev->step][ev->group] = ev->loss;
        r->bleu[ev->step][ev->group] = ev->bleu;
    } else if (ev->kind == TRAIN_EV_CHECKPOINT) {
        r->nckpt++;
    } else if (ev->kind == TRAIN_EV_LOG && r->nlog < 8) {
        snprintf(r->log[r->nlog++], sizeof r->log[0], "%s", ev->text);
    }
}

static TrainAction on_poll(void *ctx)
{
    Rec *r = ctx;
    r->polls++;
    return r->stop_at_poll && r->polls == r->stop_at_poll ? TRAIN_STOP : TRAIN_CONTINUE;
}

static void tiny_config(RunConfig *c)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/tests/data/tiny.yml", getenv("MOS_SOURCE_ROOT"));
    MosErr err = {{0}};
    config_defaults(c);
    assert_int_equal(config_load(path, c, NULL, &err), 0);
}

static char *new_run(char *buf, int n)
{
    assert_non_null(tiny_tmpdir(buf, n));
    assert_int_equal(tiny_data_write(buf, 600, 60, 20, 11), 0);
    return buf;
}

static int run(const RunConfig *c, const char *dir, int resume, Rec *r, MosErr *err)
{
    TrainHooks h = {.ctx = r, .event = on_event, .poll = on_poll};
    return train_run(c, dir, resume, &h, err);
}

static void loss_falls(void **state)
{
    (void)state;
    char dir[512];
    new_run(dir, sizeof dir);
    RunConfig c;
    tiny_config(&c);
    c.train.max_update = 240;
    c.train.valid_every = 40;
    Rec *r = calloc(1, sizeof *r);
    MosErr err = {{0}};
    assert_int_equal(run(&c, dir, 0, r, &err), 0);
    assert_int_equal(r->nsteps, 240);
    double first = r->valid[40][GROUP_LARGEST], last = r->valid[240][GROUP_LARGEST];
    assert_true(first > 2.8);           /* about ln 20: guessing among 20 words */
    assert_true(last < first - 0.5);
    assert_true(r->valid[240][GROUP_SMALLEST] < r->valid[40][GROUP_SMALLEST] - 0.3);
    /* validation BLEU (greedy, first valid-bleu sentences) is reported and improves */
    assert_true(r->bleu[40][GROUP_LARGEST] >= 0.0);
    assert_true(r->bleu[240][GROUP_LARGEST] > r->bleu[40][GROUP_LARGEST]);
    free(r);
    tiny_rmdir(dir);
}

/* The default config (issue 3's space at full size) learns too: a short run on the tiny corpus. */
static void default_config_loss_falls(void **state)
{
    (void)state;
    char dir[512];
    new_run(dir, sizeof dir);
    RunConfig c;
    config_defaults(&c);
    c.train.max_update = 30;
    c.train.warmup_updates = 8;
    c.train.valid_every = 15;
    c.train.save_every = 1000;
    c.train.max_tokens = 256;
    c.train.valid_bleu = 0;
    c.train.threads = 1;
    Rec *r = calloc(1, sizeof *r);
    MosErr err = {{0}};
    assert_int_equal(run(&c, dir, 0, r, &err), 0);
    double first = (r->loss[1] + r->loss[2] + r->loss[3]) / 3;
    double last = (r->loss[28] + r->loss[29] + r->loss[30]) / 3;
    assert_true(last < first - 0.3);
    assert_true(r->valid[30][GROUP_LARGEST] < r->valid[15][GROUP_LARGEST]);
    free(r);
    tiny_rmdir(dir);
}

static void same_seed_same_losses(void **state)
{
    (void)state;
    RunConfig c;
    tiny_config(&c);
    c.train.max_update = 30;
    Rec *a = calloc(1, sizeof *a), *b = calloc(1, sizeof *b);
    char d1[512], d2[512];
    MosErr err = {{0}};
    assert_int_equal(run(&c, new_run(d1, sizeof d1), 0, a, &err), 0);
    assert_int_equal(run(&c, new_run(d2, sizeof d2), 0, b, &err), 0);
    assert_memory_equal(a->loss, b->loss, sizeof a->loss);
    assert_memory_equal(a->valid, b->valid, sizeof a->valid);
    c.train.seed = 4;
    tiny_rmdir(d2);
    memset(b, 0, sizeof *b);
    assert_int_equal(run(&c, new_run(d2, sizeof d2), 0, b, &err), 0);
    assert_true(memcmp(a->loss, b->loss, sizeof a->loss) != 0);
    free(a);
    free(b);
    tiny_rmdir(d1);
    tiny_rmdir(d2);
}

static void flip_last_byte(const char *path)
{
    FILE *f = fopen(path, "r+b");
    assert_non_null(f);
    fseek(f, -1, SEEK_END);
    int c = fgetc(f);
    fseek(f, -1, SEEK_END);
    fputc(c ^ 1, f);
    fclose(f);
}

static void resume_continues_exactly(void **state)
{
    (void)state;
    RunConfig c;
    tiny_config(&c);
    c.train.max_update = 40;
    c.train.sample = SAMPLE_SANDWICH;
    c.train.update_freq = 2;
    c.train.valid_every = 10;
    c.train.save_every = 10;
    Rec *a = calloc(1, sizeof *a), *b = calloc(1, sizeof *b), *r = calloc(1, sizeof *r);
    char d1[512], d2[512];
    MosErr err = {{0}};
    assert_int_equal(run(&c, new_run(d1, sizeof d1), 0, a, &err), 0);
    assert_int_equal(a->nsteps, 40);
    /* stop at the third of update 23's six micro-batch polls (3 subnets x 2 batches) */
    b->stop_at_poll = a->polls_at_step[22] + 3;
    assert_int_equal(run(&c, new_run(d2, sizeof d2), 0, b, &err), 0);
    assert_int_equal(b->last_step, 22);
    assert_memory_equal(b->loss, a->loss, sizeof(double) * 23);
    /* a fresh start must not overwrite the checkpoints */
    assert_int_equal(run(&c, d2, 0, r, &err), -1);
    assert_non_null(strstr(err.msg, "already holds checkpoints"));
    memset(r, 0, sizeof *r);
    assert_int_equal(run(&c, d2, 1, r, &err), 0);
    assert_int_equal(r->nsteps, 18);
    assert_memory_equal(r->loss + 23, a->loss + 23, sizeof(double) * 18);
    assert_memory_equal(r->valid[30], a->valid[30], sizeof a->valid[30]);
    assert_memory_equal(r->valid[40], a->valid[40], sizeof a->valid[40]);
    /* a corrupt last checkpoint (step 40) is refused; prev (step 30) resumes exactly */
    char path[700];
    snprintf(path, sizeof path, "%s/checkpoints/last.safetensors", d2);
    flip_last_byte(path);
    memset(r, 0, sizeof *r);
    assert_int_equal(run(&c, d2, 1, r, &err), 0);
    assert_non_null(strstr(r->log[0], "checksum mismatch"));
    assert_non_null(strstr(r->log[0], "resuming from prev (step 30)"));
    assert_int_equal(r->nsteps, 10);
    assert_memory_equal(r->loss + 31, a->loss + 31, sizeof(double) * 10);
    free(a);
    free(b);
    free(r);
    tiny_rmdir(d1);
    tiny_rmdir(d2);
}

static void bad_run_directories_fail_cleanly(void **state)
{
    (void)state;
    RunConfig c;
    tiny_config(&c);
    Rec *r = calloc(1, sizeof *r);
    MosErr err = {{0}};
    assert_int_equal(run(&c, "/nonexistent/run", 0, r, &err), -1);
    assert_non_null(strstr(err.msg, "manifest.json"));
    char dir[512];
    new_run(dir, sizeof dir);
    c.model.vocab = 99;
    assert_int_equal(run(&c, dir, 0, r, &err), -1);
    assert_string_equal(err.msg, "vocab-size: 99 in the config, but the data has 24");
    free(r);
    tiny_rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(loss_falls),
        cmocka_unit_test(default_config_loss_falls),
        cmocka_unit_test(same_seed_same_losses),
        cmocka_unit_test(resume_continues_exactly),
        cmocka_unit_test(bad_run_directories_fail_cleanly),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
