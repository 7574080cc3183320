/* The training loop (core/train.c) with MoS: both variants learn on the tiny corpus with the
 * sandwich rule; a MoS run stopped mid-update and resumed from its checkpoint continues exactly
 * as an uninterrupted one (experts and routers are saved and loaded, and the cached mixed
 * weights follow the loaded parameters). */
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "config.h"
#include "mos.h"
#include "tiny_data.h"
#include "train.h"

#define MAX_STEPS 300

typedef struct Rec {
    double loss[MAX_STEPS + 1];
    double valid[MAX_STEPS + 1][ARCH_GROUP_COUNT];
    long last_step, polls, stop_at_poll;
    long polls_at_step[MAX_STEPS + 1];
    int nsteps;
    int ngates_events, gates_groups[ARCH_GROUP_COUNT];
    long valid_events;
} Rec;

/* A gate summary must be a distribution per layer: layer-wise the m-vector sums to 1;
 * neuron-wise each expert's mean share is in [0, 1], the shares sum to 1 and each expert's
 * histogram counts every row once. */
static void check_gates(const TrainEvent *ev)
{
    assert_non_null(ev->gates);
    assert_int_equal(ev->ngates, ev->arch.enc_layers + ev->arch.dec_layers);
    for (int l = 0; l < ev->ngates; l++) {
        const MosGates *g = &ev->gates[l];
        assert_int_equal(g->m, 2);
        const MosGateSummary *sums[2] = {&g->fc1, &g->fc2};
        for (int k = 0; k < 2; k++) {
            const MosGateSummary *s = sums[k];
            double total = 0;
            for (int i = 0; i < g->m; i++) {
                assert_true(s->mean[i] >= 0.0f && s->mean[i] <= 1.0f);
                total += s->mean[i];
                int rows = 0;
                for (int b = 0; b < MOS_GATE_BINS; b++)
                    rows += s->hist[i][b];
                assert_int_equal(rows, s->rows);
            }
            assert_true(fabs(total - 1.0) < 1e-4);
            if (g->kind == MOS_LAYER)
                assert_int_equal(s->rows, 1);
            else
                assert_true(s->rows > 1);
        }
    }
}

static void on_event(void *ctx, const TrainEvent *ev)
{
    Rec *r = ctx;
    if (ev->kind == TRAIN_EV_STEP) {
        assert_true(ev->step >= 1 && ev->step <= MAX_STEPS);
        r->loss[ev->step] = ev->loss;
        r->last_step = ev->step;
        r->polls_at_step[ev->step] = r->polls;
        r->nsteps++;
    } else if (ev->kind == TRAIN_EV_VALID) {
        r->valid[ev->step][ev->group] = ev->loss;
        r->valid_events++;
    } else if (ev->kind == TRAIN_EV_GATES) {
        /* one per validated group, right after its valid event */
        assert_int_equal(r->valid_events, r->ngates_events + 1);
        assert_true(ev->group >= 0 && ev->group < ARCH_GROUP_COUNT);
        check_gates(ev);
        r->gates_groups[ev->group]++;
        r->ngates_events++;
    }
}

static TrainAction on_poll(void *ctx)
{
    Rec *r = ctx;
    r->polls++;
    return r->stop_at_poll && r->polls == r->stop_at_poll ? TRAIN_STOP : TRAIN_CONTINUE;
}

static void mos_tiny_config(RunConfig *c, MosKind kind)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/tests/data/tiny.yml", getenv("MOS_SOURCE_ROOT"));
    MosErr err = {{0}};
    config_defaults(c);
    assert_int_equal(config_load(path, c, NULL, &err), 0);
    c->model.mos = kind;
    c->model.mos_experts = 2;
    c->model.router_hidden = 16;
    c->train.sample = SAMPLE_SANDWICH;
    c->train.valid_bleu = 0;
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

static void loss_falls(MosKind kind)
{
    char dir[512];
    new_run(dir, sizeof dir);
    RunConfig c;
    mos_tiny_config(&c, kind);
    c.train.max_update = 150;
    c.train.valid_every = 30;
    Rec *r = calloc(1, sizeof *r);
    MosErr err = {{0}};
    if (run(&c, dir, 0, r, &err) != 0)
        fail_msg("train: %s", err.msg);
    assert_int_equal(r->nsteps, 150);
    for (int g = 0; g < ARCH_GROUP_COUNT; g++)
        assert_true(r->valid[150][g] < r->valid[30][g] - 0.3);
    free(r);
    tiny_rmdir(dir);
}

static void layer_wise_learns(void **state) { (void)state; loss_falls(MOS_LAYER); }
static void neuron_wise_learns(void **state) { (void)state; loss_falls(MOS_NEURON); }

static void resume_continues_exactly(void **state)
{
    (void)state;
    RunConfig c;
    mos_tiny_config(&c, MOS_NEURON);
    c.train.max_update = 30;
    c.train.update_freq = 2;
    c.train.valid_every = 10;
    c.train.save_every = 10;
    Rec *a = calloc(1, sizeof *a), *b = calloc(1, sizeof *b), *r = calloc(1, sizeof *r);
    char d1[512], d2[512];
    MosErr err = {{0}};
    assert_int_equal(run(&c, new_run(d1, sizeof d1), 0, a, &err), 0);
    /* stop in the middle of update 17 (3 subnets x 2 micro-batches) */
    b->stop_at_poll = a->polls_at_step[16] + 4;
    assert_int_equal(run(&c, new_run(d2, sizeof d2), 0, b, &err), 0);
    assert_int_equal(b->last_step, 16);
    assert_memory_equal(b->loss, a->loss, sizeof(double) * 17);
    assert_int_equal(run(&c, d2, 1, r, &err), 0);
    assert_int_equal(r->nsteps, 14);
    assert_memory_equal(r->loss + 17, a->loss + 17, sizeof(double) * 14);
    assert_memory_equal(r->valid[30], a->valid[30], sizeof a->valid[30]);
    free(a);
    free(b);
    free(r);
    tiny_rmdir(d1);
    tiny_rmdir(d2);
}

/* Two validations publish gates for each of the three groups (MoS), none without MoS. */
static void gates_per_validation(MosKind kind, int expect)
{
    char dir[512];
    new_run(dir, sizeof dir);
    RunConfig c;
    mos_tiny_config(&c, kind);
    c.train.max_update = 8;
    c.train.valid_every = 4;
    Rec *r = calloc(1, sizeof *r);
    MosErr err = {{0}};
    if (run(&c, dir, 0, r, &err) != 0)
        fail_msg("train: %s", err.msg);
    assert_int_equal(r->valid_events, 2 * ARCH_GROUP_COUNT);
    assert_int_equal(r->ngates_events, expect ? 2 * ARCH_GROUP_COUNT : 0);
    for (int g = 0; g < ARCH_GROUP_COUNT; g++)
        assert_int_equal(r->gates_groups[g], expect ? 2 : 0);
    free(r);
    tiny_rmdir(dir);
}

static void gates_layer_wise(void **state) { (void)state; gates_per_validation(MOS_LAYER, 1); }
static void gates_neuron_wise(void **state) { (void)state; gates_per_validation(MOS_NEURON, 1); }
static void gates_none(void **state) { (void)state; gates_per_validation(MOS_NONE, 0); }

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(layer_wise_learns),
        cmocka_unit_test(neuron_wise_learns),
        cmocka_unit_test(resume_continues_exactly),
        cmocka_unit_test(gates_layer_wise),
        cmocka_unit_test(gates_neuron_wise),
        cmocka_unit_test(gates_none),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
