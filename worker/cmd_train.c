/* `mos train`: supernet training in the foreground from a run directory, with readable progress
 * lines on stdout (errors and warnings on stderr). Ctrl-C writes a checkpoint and exits; --resume
 * continues it. The run's effective config is kept as RUN_DIR/config.yml so that resume and
 * eval read the same one. The background worker runs the same core/train.c through TrainHooks. */
#include <cblas.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "commands.h"
#include "runconf.h"
#include "train.h"

typedef struct Progress {
    long log_every;
    double last_print;
    int quiet;
} Progress;

static volatile sig_atomic_t interrupted;

static void on_sigint(int sig)
{
    (void)sig;
    interrupted = 1;
}

static double mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void fmt_duration(double s, char *buf, size_t n)
{
    long t = (long)(s + 0.5);
    if (t >= 3600)
        snprintf(buf, n, "%ldh%02ldm", t / 3600, t / 60 % 60);
    else
        snprintf(buf, n, "%ldm%02lds", t / 60, t % 60);
}

static const char *const group_names[ARCH_GROUP_COUNT] = {
    [GROUP_LARGEST] = "largest", [GROUP_SMALLEST] = "smallest", [GROUP_RANDOM] = "random",
};

static void print_step(Progress *p, const TrainEvent *ev)
{
    double now = mono_s();
    int due = p->log_every > 0 ? ev->step % p->log_every == 0 : now - p->last_print >= 2.0;
    if (p->quiet || !(due || ev->step == 1 || ev->step == ev->total_steps))
        return;
    p->last_print = now;
    char eta[32];
    fmt_duration(ev->eta_s, eta, sizeof eta);
    printf("step %6ld/%ld  loss %7.4f  lr %.3e  gnorm %7.3f  %6.0f tok/s  eta %s\n", ev->step,
           ev->total_steps, ev->loss, ev->lr, ev->grad_norm, ev->tok_per_s, eta);
    fflush(stdout);
}

static void on_event(void *ctx, const TrainEvent *ev)
{
    Progress *p = ctx;
    switch (ev->kind) {
    case TRAIN_EV_STEP:
        print_step(p, ev);
        break;
    case TRAIN_EV_VALID: {
        char arch[512], bleu[32] = "";
        arch_format(&ev->arch, arch, sizeof arch);
        if (ev->bleu >= 0)
            snprintf(bleu, sizeof bleu, "  bleu %5.2f", ev->bleu);
        printf("valid %6ld  %-8s  nll %.4f  ppl %8.2f%s  %s\n", ev->step, group_names[ev->group],
               ev->loss, exp(ev->loss), bleu, arch);
        break;
    }
    case TRAIN_EV_CHECKPOINT:
        printf("checkpoint %ld  %s\n", ev->step, ev->path);
        break;
    case TRAIN_EV_LOG:
        printf("%s\n", ev->text);
        break;
    case TRAIN_EV_GATES:        /* the dashboard's; the console shows losses only */
    case TRAIN_EV_KIND_COUNT:
        break;
    }
    fflush(stdout);
}

static TrainAction on_poll(void *ctx)
{
    (void)ctx;
    return interrupted ? TRAIN_STOP : TRAIN_CONTINUE;
}

/* RUN_DIR/config.yml is the run's config: written (effective, with comments) when absent; a
 * --config FILE whose effective config differs from an existing one is refused, so a run
 * directory never mixes two configs. */
static int keep_run_config(const char *run_dir, const char *config, const RunConfig *c,
                           MosErr *err)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/config.yml", run_dir);
    char *want = config_dump_yaml(c, 0);
    int rc = 0;
    if (access(path, F_OK) == 0) {
        RunConfig existing;
        if (config && runconf_load(NULL, path, &existing, NULL, err) == 0) {
            char *have = config_dump_yaml(&existing, 0);
            if (strcmp(have, want) != 0)
                rc = err_set(err, "%s exists and differs from %s (use a new run directory, or "
                                  "edit %s)", path, config, path);
            free(have);
        } else if (config) {
            rc = -1;
        }
        free(want);
        return rc;
    }
    free(want);
    char *text = config_dump_yaml(c, 1);
    FILE *f = fopen(path, "w");
    if (!f || fputs(text, f) == EOF || fclose(f) != 0)
        rc = err_set(err, "%s: cannot write", path);
    free(text);
    return rc;
}

static int run_train(const Args *a)
{
    const char *run_dir = args_str(a, "run-dir");
    const char *config = args_str(a, "config");
    RunConfig c;
    MosErr err = {{0}};
    if (access(run_dir, F_OK) != 0) {
        fprintf(stderr, "mos train: %s: no such run directory (run `mos prepare --run-dir %s` "
                        "first)\n", run_dir, run_dir);
        return 1;
    }
    if (runconf_load(run_dir, config, &c, stderr, &err) < 0 ||
        keep_run_config(run_dir, config, &c, &err) < 0) {
        fprintf(stderr, "mos train: %s\n", err.msg);
        return 1;
    }
    if (args_given(a, "max-update")) {
        c.train.max_update = (int)args_int(a, "max-update");
        if (c.train.max_update <= c.train.warmup_updates) {
            fprintf(stderr, "mos train: --max-update %d must exceed warmup-updates (%d)\n",
                    c.train.max_update, c.train.warmup_updates);
            return 2;
        }
    }
    if (args_given(a, "threads"))
        c.train.threads = (int)args_int(a, "threads");
    if (c.train.threads < 1) {
        fprintf(stderr, "mos train: --threads must be at least 1\n");
        return 2;
    }
    openblas_set_num_threads(c.train.threads);
    Progress p = {.log_every = args_int(a, "log-every"), .quiet = args_flag(a, "quiet")};
    TrainHooks hooks = {.ctx = &p, .event = on_event, .poll = on_poll};
    struct sigaction sa = {.sa_handler = on_sigint};
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    int rc = train_run(&c, run_dir, args_flag(a, "resume"), &hooks, &err);
    if (rc < 0) {
        fprintf(stderr, "mos train: %s\n", err.msg);
        return 1;
    }
    if (interrupted)
        printf("interrupted: checkpoint written; continue with mos train --run-dir %s --resume\n",
               run_dir);
    return 0;
}

static const char train_details[] =
    "Trains the supernet on RUN_DIR/data (from `mos prepare`), writing RUN_DIR/checkpoints\n"
    "(last.* and prev.*). The config is RUN_DIR/config.yml, or --config FILE (then copied to\n"
    "RUN_DIR/config.yml); `mos config --keys` lists every key. Ctrl-C writes a checkpoint and\n"
    "exits; --resume continues exactly where it stopped.";

const Command cmd_train = {
    .name = "train",
    .summary = "train the supernet in the foreground (progress on stdout)",
    .details = train_details,
    .opts = (const OptSpec[]){
        {"run-dir", OPT_STR, "runs/default", "DIR", "run directory"},
        {"config", OPT_STR, NULL, "FILE", "run config (YAML, HAT keys)"},
        {"resume", OPT_FLAG, NULL, NULL, "continue from RUN_DIR/checkpoints"},
        {"max-update", OPT_INT, NULL, "N", "override the config's max-update"},
        {"threads", OPT_INT, NULL, "N", "OpenBLAS threads (default: the config's threads)"},
        {"log-every", OPT_INT, "0", "N", "print every N updates (0: about every 2 s)"},
        {"quiet", OPT_FLAG, NULL, NULL, "print validation and checkpoints only"},
        {0},
    },
    .run = run_train,
};
