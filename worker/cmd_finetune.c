/* `mos finetune --model DIR`: additional training of an extracted model on its run's data
 * (core/finetune.h), or HAT's retraining from scratch (--from-scratch); the result replaces the
 * model's weights (previous pair kept as model.prev.safetensors / config.prev.json). Ctrl-C stops
 * after the current update and still writes what was trained. */
#include <cblas.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "commands.h"
#include "finetune.h"
#include "modelfile.h"
#include "runconf.h"

static const OptSpec finetune_opts[] = {
    { "model", OPT_STR, NULL, "DIR", "extracted model (RUN_DIR/subnets/NAME); required" },
    { "run-dir", OPT_STR, NULL, "DIR", "run whose data/ trains it (default: DIR/../..)" },
    { "config", OPT_STR, NULL, "FILE", "run config (default: RUN_DIR/config.yml when present)" },
    { "steps", OPT_INT, "200", "N", "updates" },
    { "from-scratch", OPT_FLAG, NULL, NULL, "re-initialise first (HAT's retraining)" },
    { "lr", OPT_FLOAT, NULL, "LR",
      "peak learning rate (default: the run's max-lr, a tenth of it without --from-scratch)" },
    { "seed", OPT_INT, NULL, "N", "batch order, dropout and init seed (default: the run's)" },
    { "threads", OPT_INT, NULL, "N", "OpenBLAS threads (default: the config's threads)" },
    { "log-every", OPT_INT, "0", "N", "print every N updates (0: about every 2 s)" },
    { "quiet", OPT_FLAG, NULL, NULL, "no per-update lines" },
    { 0 },
};

static volatile sig_atomic_t stop_asked;

static void on_sigint(int sig)
{
    (void)sig;
    stop_asked = 1;
}

typedef struct Progress {
    long log_every;
    int quiet;
    double last_s;
} Progress;

static double mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void on_event(void *ctx, const TrainEvent *ev)
{
    Progress *p = ctx;
    if (ev->kind != TRAIN_EV_STEP || p->quiet)
        return;
    double now = mono_s();
    int due = p->log_every > 0 ? ev->step % p->log_every == 0 : now - p->last_s >= 2.0;
    if (!due && ev->step != ev->total_steps)
        return;
    p->last_s = now;
    printf("step %6ld/%ld  loss %.4f  lr %.3g  |g| %.3g  %.0f tok/s\n", ev->step,
           ev->total_steps, ev->loss, ev->lr, ev->grad_norm, ev->tok_per_s);
    fflush(stdout);
}

static TrainAction on_poll(void *ctx)
{
    (void)ctx;
    return stop_asked ? TRAIN_STOP : TRAIN_CONTINUE;
}

static int finetune(const Args *a, const RunConfig *c, const char *run_dir, MosErr *err)
{
    const char *dir = args_str(a, "model");
    ModelInfo info;
    Supernet *m = modelfile_load(dir, c->train.max_tokens, &info, err);
    if (!m)
        return -1;
    int scratch = args_flag(a, "from-scratch");
    FinetuneOpts o = {.train = c->train, .steps = (int)args_int(a, "steps"),
                      .from_scratch = scratch};
    o.train.lr = args_given(a, "lr") ? (float)args_float(a, "lr")
                                     : (scratch ? c->train.lr : 0.1f * c->train.lr);
    if (o.train.min_lr >= o.train.lr)
        o.train.min_lr = 0.01f * o.train.lr;
    if (args_given(a, "seed"))
        o.train.seed = (unsigned long long)args_int(a, "seed");
    char data_dir[4300];
    snprintf(data_dir, sizeof data_dir, "%s/data", run_dir);
    Progress p = {.log_every = args_int(a, "log-every"), .quiet = args_flag(a, "quiet"),
                  .last_s = mono_s()};
    TrainHooks hooks = {.ctx = &p, .event = on_event, .poll = on_poll};
    FinetuneResult r;
    signal(SIGINT, on_sigint);
    int rc = finetune_run(m, &info.arch, data_dir, &o, &hooks, &r, err);
    signal(SIGINT, SIG_DFL);
    if (rc == 0 && r.steps > 0)
        rc = modelfile_update(dir, m, &info, (int)r.steps, scratch, err);
    if (rc == 0) {
        printf("%s %ld updates (lr %.3g): valid nll %.4f -> %.4f\n",
               scratch ? "trained from scratch" : "finetuned", r.steps, (double)o.train.lr,
               r.valid_before, r.valid_after);
        if (r.steps > 0)
            printf("wrote %s/model.safetensors (previous kept as model.prev.safetensors)\n",
                   dir);
    }
    supernet_destroy(&m);
    return rc;
}

static int run_finetune(const Args *a)
{
    if (!args_str(a, "model")) {
        fprintf(stderr, "mos finetune: --model DIR is required\n");
        return 2;
    }
    if (args_int(a, "steps") < 1 || (args_given(a, "lr") && !(args_float(a, "lr") > 0))) {
        fprintf(stderr, "mos finetune: --steps must be >= 1 and --lr > 0\n");
        return 2;
    }
    char run_dir[2048];
    if (args_given(a, "run-dir"))
        snprintf(run_dir, sizeof run_dir, "%s", args_str(a, "run-dir"));
    else
        snprintf(run_dir, sizeof run_dir, "%s/../..", args_str(a, "model"));
    MosErr err = {{0}};
    RunConfig c;
    if (runconf_load(run_dir, args_str(a, "config"), &c, stderr, &err) < 0) {
        fprintf(stderr, "mos finetune: %s\n", err.msg);
        return 1;
    }
    openblas_set_num_threads(args_given(a, "threads") ? (int)args_int(a, "threads")
                                                      : c.train.threads);
    if (finetune(a, &c, run_dir, &err) < 0) {
        fprintf(stderr, "mos finetune: %s\n", err.msg);
        return 1;
    }
    return 0;
}

const Command cmd_finetune = {
    .name = "finetune",
    .summary = "train an extracted model further (or from scratch) on its run's data",
    .details = "The model directory's weights are replaced at the end (temp file + rename); the\n"
               "previous ones stay as model.prev.safetensors and config.prev.json.",
    .opts = finetune_opts,
    .run = run_finetune,
};
