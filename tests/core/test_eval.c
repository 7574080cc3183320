/* Evaluation with inherited weights on a tiny trained supernet: eval_loss over the valid split
 * equals the loss the training loop reported for the same subnet, BLEU of the learned word
 * mapping is high for the largest subnet (greedy and beam) and every hypothesis is reported,
 * and a run without checkpoints or with a changed model config is refused. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "eval.h"
#include "tiny_data.h"
#include "train.h"

static char dir[512];
static double valid_largest;

static void on_event(void *ctx, const TrainEvent *ev)
{
    (void)ctx;
    if (ev->kind == TRAIN_EV_VALID && ev->group == GROUP_LARGEST)
        valid_largest = ev->loss;
}

static void tiny_config(RunConfig *c)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/tests/data/tiny.yml", getenv("MOS_SOURCE_ROOT"));
    config_defaults(c);
    assert_int_equal(config_load(path, c, NULL, NULL), 0);
}

static int setup(void **state)
{
    (void)state;
    if (!tiny_tmpdir(dir, sizeof dir) || tiny_data_write(dir, 3000, 80, 60, 21) < 0)
        return -1;
    RunConfig c;
    tiny_config(&c);
    c.train.max_update = 700;
    c.train.valid_every = 700;
    c.train.save_every = 700;
    TrainHooks h = {.event = on_event};
    MosErr err = {{0}};
    return train_run(&c, dir, 0, &h, &err);
}

static int teardown(void **state)
{
    (void)state;
    tiny_rmdir(dir);
    return 0;
}

static void loss_matches_training_validation(void **state)
{
    (void)state;
    RunConfig c;
    tiny_config(&c);
    EvalRun r;
    MosErr err = {{0}};
    assert_int_equal(eval_open(&r, &c, dir, "last", &err), 0);
    assert_int_equal(r.meta.step, 700);
    DataSplit d;
    Batcher b;
    assert_int_equal(data_split_load(r.data_dir, "valid", &r.man, c.model.max_positions, 0, &d,
                                     &err), 0);
    assert_int_equal(batcher_init(&b, &d, c.train.max_tokens, &r.man, 0, 0, &err), 0);
    Arch a;
    arch_largest(&c.model.space, &a);
    EvalLoss l;
    eval_loss(r.net, &a, &b, &l);
    assert_int_equal(l.pairs, 80);
    assert_true(l.nll == valid_largest);
    assert_true(l.loss > l.nll);            /* label smoothing adds to the NLL */
    assert_true(l.nll < 1.0);
    batcher_done(&b);
    data_split_free(&d);
    eval_close(&r);
}

static int nhyp;

static void count_hyp(void *ctx, int pair, const char *hyp)
{
    (void)ctx;
    assert_int_equal(pair, nhyp);
    assert_non_null(strstr(hyp, "w"));
    nhyp++;
}

static void bleu_of_learned_mapping_is_high(void **state)
{
    (void)state;
    RunConfig c;
    tiny_config(&c);
    EvalRun r;
    MosErr err = {{0}};
    assert_int_equal(eval_open(&r, &c, dir, "last", &err), 0);
    DataSplit d;
    Detok dt;
    assert_int_equal(detok_load(&dt, r.data_dir, &r.man, &err), 0);
    assert_int_equal(data_split_load(r.data_dir, "test", &r.man, 1 << 20, 0, &d, &err), 0);
    char **refs = eval_load_refs(r.data_dir, "test", &d, &dt, &err);
    assert_non_null(refs);
    Arch a;
    arch_largest(&c.model.space, &a);
    DecodeOpts greedy = {.beam = 1, .lenpen = 1.0f, .max_len_a = 1, .max_len_b = 10};
    DecodeOpts beam = {.beam = 4, .lenpen = 0.6f, .max_len_a = 1, .max_len_b = 10};
    nhyp = 0;
    BleuScore g = eval_bleu(r.net, &a, &d, &dt, refs, &greedy, 0, count_hyp, NULL);
    assert_int_equal(nhyp, 60);
    BleuScore bm = eval_bleu(r.net, &a, &d, &dt, refs, &beam, 25, NULL, NULL);
    assert_true(g.bleu > 60.0);
    assert_true(bm.bleu > 60.0);
    assert_true(bm.ref_len < g.ref_len);     /* 25 of 60 sentences */
    eval_free_refs(refs, d.n);
    data_split_free(&d);
    detok_done(&dt);
    eval_close(&r);
}

static void missing_or_mismatched_checkpoints_are_refused(void **state)
{
    (void)state;
    RunConfig c;
    tiny_config(&c);
    EvalRun r;
    MosErr err = {{0}};
    assert_int_equal(eval_open(&r, &c, dir, "prev", &err), -1);
    assert_non_null(strstr(err.msg, "prev.safetensors: no checkpoint"));
    c.model.space.dec_ffn_max = 128;
    c.model.space.dec_ffn.v[0] = 128;
    assert_int_equal(eval_open(&r, &c, dir, "last", &err), -1);
    assert_non_null(strstr(err.msg, "written for a different model"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(loss_matches_training_validation),
        cmocka_unit_test(bleu_of_learned_mapping_is_high),
        cmocka_unit_test(missing_or_mismatched_checkpoints_are_refused),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
