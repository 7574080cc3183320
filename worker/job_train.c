/* The train stage as a worker job: core/train.c through TrainHooks. Events become protocol
 * messages queued on JobCtl (the main thread logs and publishes them); poll is jobctl_poll, so
 * a pause holds the loop before its next update and stop/checkpoint reach it at the next poll.
 * The job never touches sockets and never prints to stdout. */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "jobs.h"
#include "mos.h"
#include "runconf.h"
#include "strbuf.h"
#include "train.h"

static const char *const group_names[ARCH_GROUP_COUNT] = {
    [GROUP_LARGEST] = "largest", [GROUP_SMALLEST] = "smallest", [GROUP_RANDOM] = "random",
};

static void emit_step(JobCtl *c, const TrainEvent *ev)
{
    jobctl_set_progress(c, "train", ev->step, ev->total_steps, 1);
    jobctl_set_rates(c, ev->lr, ev->tok_per_s, ev->eta_s);
    Msg *m = jobctl_msg_begin(c, MSG_TRAIN);
    MsgTrain *t = &m->u.train;
    t->step = ev->step;
    t->total = ev->total_steps;
    t->has_total = ev->total_steps > 0;
    t->loss = ev->loss;
    arch_format(&ev->arch, t->arch, sizeof t->arch);
    t->grad_norm = ev->grad_norm;
    t->lr = ev->lr;
    t->tok_per_s = ev->tok_per_s;
    jobctl_msg_end(c);
}

static void emit_valid(JobCtl *c, const TrainEvent *ev)
{
    Msg *m = jobctl_msg_begin(c, MSG_VALID);
    MsgValid *v = &m->u.valid;
    v->step = ev->step;
    STR_SET(v->group, (unsigned)ev->group < ARCH_GROUP_COUNT ? group_names[ev->group] : "random");
    v->loss = ev->loss;
    v->has_bleu = ev->bleu >= 0;
    v->bleu = v->has_bleu ? ev->bleu : 0;
    arch_format(&ev->arch, v->arch, sizeof v->arch);
    jobctl_msg_end(c);
}

/* One gate_layer record from a layer's summary: layer-wise `m` = the mixture vector;
 * neuron-wise `share` = fc1's mean share per expert and `hist` = the counts of fc1's router
 * outputs alpha_ji (all rows, all experts) in MOS_GATE_BINS bins over [0, 1]. */
static void gate_layer(MsgGateLayer *l, const MosGates *g, const char *stack, int layer)
{
    STR_SET(l->stack, stack);
    l->layer = layer;
    int m = g->m < PROTO_EXPERTS_MAX ? g->m : PROTO_EXPERTS_MAX;
    if (g->kind == MOS_LAYER) {
        memcpy(l->m, g->fc1.mean, sizeof(float) * (size_t)m);
        l->m_n = (uint32_t)m;
        l->has_m = true;
        return;
    }
    memcpy(l->share, g->fc1.mean, sizeof(float) * (size_t)m);
    l->share_n = (uint32_t)m;
    l->has_share = true;
    for (int k = 0; k < MOS_GATE_BINS; k++) {
        int count = 0;
        for (int i = 0; i < g->m; i++)
            count += g->fc1.hist[i][k];
        l->hist[k] = (float)count;
    }
    l->hist_n = MOS_GATE_BINS;
    l->has_hist = l->has_hist_lo = l->has_hist_hi = true;
    l->hist_lo = 0.0;
    l->hist_hi = 1.0;
}

static void emit_gates(JobCtl *c, const TrainEvent *ev)
{
    if (ev->ngates <= 0 || !ev->gates)
        return;
    Msg *msg = jobctl_msg_begin(c, MSG_GATES);
    MsgGates *g = &msg->u.gates;
    g->step = ev->step;
    arch_format(&ev->arch, g->arch, sizeof g->arch);
    STR_SET(g->kind, config_mos_name(ev->gates[0].kind));
    g->experts = ev->gates[0].m;
    int n = ev->ngates < PROTO_LAYERS_MAX ? ev->ngates : PROTO_LAYERS_MAX;
    for (int i = 0; i < n; i++) {
        int enc = i < ev->arch.enc_layers;
        gate_layer(&g->layers[i], &ev->gates[i], enc ? "enc" : "dec",
                   enc ? i : i - ev->arch.enc_layers);
    }
    g->layers_n = (uint32_t)n;
    jobctl_msg_end(c);
}

static void on_event(void *ctx, const TrainEvent *ev)
{
    JobCtl *c = ctx;
    switch (ev->kind) {
    case TRAIN_EV_STEP: emit_step(c, ev); break;
    case TRAIN_EV_VALID: emit_valid(c, ev); break;
    case TRAIN_EV_CHECKPOINT:
        jobctl_log(c, "info", "checkpoint at step %ld: %s", ev->step, ev->path ? ev->path : "");
        break;
    case TRAIN_EV_LOG: jobctl_log(c, "info", "%s", ev->text ? ev->text : ""); break;
    case TRAIN_EV_GATES: emit_gates(c, ev); break;
    case TRAIN_EV_KIND_COUNT: break;
    }
}

static TrainAction on_poll(void *ctx)
{
    return jobctl_poll(ctx);
}

/* Keeps the effective config as RUN_DIR/config.yml when the run has none yet, so that resume,
 * eval and later stages read the same config; like `mos train`, a --config whose effective
 * config differs from an existing RUN_DIR/config.yml is refused (one config per run). */
static int keep_config(const JobEnv *env, const RunConfig *c, MosErr *err)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/config.yml", env->run_dir);
    if (access(path, F_OK) == 0) {
        RunConfig have;
        if (!env->config || runconf_load(NULL, path, &have, NULL, err) < 0)
            return env->config ? -1 : 0;
        char *a = config_dump_yaml(&have, 0), *b = config_dump_yaml(c, 0);
        int same = a && b && strcmp(a, b) == 0;
        free(a);
        free(b);
        return same ? 0 : err_set(err, "%s exists and differs from %s (use a new run directory, "
                                  "or edit %s)", path, env->config, path);
    }
    char *text = config_dump_yaml(c, 1);
    FILE *f = text ? fopen(path, "w") : NULL;
    int rc = 0;
    if (!f || fputs(text, f) == EOF)
        rc = err_set(err, "%s: cannot write the run config", path);
    if (f && fclose(f) != 0)
        rc = err_set(err, "%s: cannot write the run config", path);
    free(text);
    return rc;
}

/* A supernet without MoS has no routers: one gates message with a single expert and no layers
 * tells clients so (the dashboard's gates panel says "no MoS" instead of waiting forever). */
static void announce_no_mos(JobCtl *c, const RunConfig *cfg)
{
    if (cfg->model.mos != MOS_NONE)
        return;
    Arch largest;
    arch_largest(&cfg->model.space, &largest);
    Msg *msg = jobctl_msg_begin(c, MSG_GATES);
    MsgGates *g = &msg->u.gates;
    g->step = 0;
    arch_format(&largest, g->arch, sizeof g->arch);
    STR_SET(g->kind, config_mos_name(MOS_NONE));
    g->experts = 1;
    g->layers_n = 0;
    jobctl_msg_end(c);
}

int job_train_run(const JobEnv *env, MosErr *err)
{
    RunConfig c;
    if (runconf_load(env->run_dir, env->config, &c, stdout, err) < 0 ||
        keep_config(env, &c, err) < 0)
        return -1;
    openblas_set_num_threads(c.train.threads > 0 ? c.train.threads : 1);
    jobctl_set_progress(env->ctl, "train", 0, c.train.max_update, 1);
    TrainHooks hooks = { .ctx = env->ctl, .event = on_event, .poll = on_poll };
    announce_no_mos(env->ctl, &c);
    return train_run(&c, env->run_dir, env->resume, &hooks, err);
}
