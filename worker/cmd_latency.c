/* `mos latency`: HAT's latency protocol on this machine (core/latency.c) with the plain supernet
 * as the timed model, then the predictor fit and its verification on fresh architectures. The
 * timed model is the HAT supernet of the run's dims without MoS (a MoS subnet runs as its
 * collapsed plain model) and with freshly initialised weights: timing does not depend on their
 * values, so this stage needs no trained checkpoint. Ctrl-C stops after the current row. */
#include <cblas.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "commands.h"
#include "data.h"
#include "latency.h"
#include "latency_model.h"
#include "runconf.h"

static const OptSpec latency_opts[] = {
    { "run-dir", OPT_STR, "runs/default", "DIR", "run directory (config.yml, data/; output here)" },
    { "config", OPT_STR, NULL, "FILE", "run config (default: DIR/config.yml when present)" },
    { "archs", OPT_INT, NULL, "N", "architectures measured into latency.csv (default: the run "
      "config's latency-archs; HAT 2000)" },
    { "verify", OPT_INT, NULL, "N", "fresh architectures measured twice to check the fit "
      "(default: latency-verify)" },
    { "beam", OPT_INT, NULL, "B", "beam hypotheses expanded into the batch (default: "
      "latency-beam; HAT 5)" },
    { "src-len", OPT_INT, "30", "N", "dummy source length with its eos (HAT 30)" },
    { "steps", OPT_INT, "30", "N", "decoder steps timed per run (HAT 30)" },
    { "warmup", OPT_INT, NULL, "N", "untimed runs per part (default: latency-warmup; HAT 5)" },
    { "runs", OPT_INT, NULL, "N", "timed runs per part; 10 % dropped at each end (default: "
      "latency-runs; HAT 20)" },
    { "rounds", OPT_INT, NULL, "N", "rounds the timed runs are split over (their runs pooled, "
      "10 % dropped at each end; default: latency-rounds; HAT 1)" },
    { "block", OPT_INT, NULL, "N", "architectures measured together, interleaved round by round "
      "(default: latency-block; HAT 1)" },
    { "clock", OPT_STR, NULL, "wall|cpu", "time runs by the wall clock (HAT) or by the measuring "
      "thread's CPU time (default: latency-clock)" },
    { "no-reference", OPT_FLAG, NULL, NULL, "no drift reference (HAT): rows are not shifted by a "
      "fixed arch timed in every round (default: latency-reference)" },
    { "max-load", OPT_FLOAT, "0", "L", "refuse to start when the 1-minute load average is above "
      "L (0: no check; a warning is printed either way when the machine is busy)" },
    { "threads", OPT_INT, "1", "N", "OpenBLAS threads for the timed model" },
    { "vocab", OPT_INT, "8000", "N", "output vocabulary when data/manifest.json is absent" },
    { "seed", OPT_INT, "1", "N", "architecture draws (verify uses seed + 1)" },
    { "fit-steps", OPT_INT, NULL, "N", "predictor Adam steps (default: latency-fit-steps; "
      "HAT 5000)" },
    { "fit-lr", OPT_FLOAT, "1e-3", "LR", "predictor learning rate (HAT 1e-5; see docs/search.md)" },
    { "fit-batch", OPT_INT, "128", "N", "predictor batch (HAT 128)" },
    { "fit-last", OPT_FLAG, NULL, NULL, "keep the last predictor weights (HAT) instead of the "
      "ones with the lowest validation MAPD" },
    { "hidden", OPT_INT, "400", "N", "predictor hidden width (HAT 400)" },
    { "hidden-layers", OPT_INT, "3", "N", "predictor hidden 400x400 layers (HAT 3)" },
    { "quiet", OPT_FLAG, NULL, NULL, "no per-row progress on stderr" },
    { "arch", OPT_STR, NULL, "ARCH",
      "time only this arch (text form, largest, smallest); print, write nothing" },
    { 0 },
};

static volatile sig_atomic_t stop_asked;

static void on_sigint(int sig)
{
    (void)sig;
    stop_asked = 1;
}

typedef struct Progress {
    int quiet;
    int warned;
} Progress;

/* Busy: the timed runs got less than 90 % of a core (other processes held it), or the load
 * average says more runnable processes than cores. */
static int machine_busy(const LatencyResult *r)
{
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    return (isfinite(r->cpu_share) && r->cpu_share < 0.9) ||
           (isfinite(r->load1) && cores > 0 && r->load1 > (double)cores + 0.5);
}

static int on_row(void *ctx, int done, int total, const Arch *a, const LatencyResult *r)
{
    Progress *p = ctx;
    if (!p->quiet) {
        char text[512];
        arch_format(a, text, sizeof text);
        char speed[32] = "";
        if (isfinite(r->speed))
            snprintf(speed, sizeof speed, "  speed %.2f", r->speed);
        fprintf(stderr, "latency %5d/%d  enc %7.2f ms  dec %8.2f ms  load %.2f  cpu %3.0f %%%s  "
                "%s\n", done, total, r->enc_ms, r->dec_ms, r->load1, 100 * r->cpu_share, speed,
                text);
    }
    if (machine_busy(r) && !p->warned) {
        fprintf(stderr, "mos latency: warning: the machine is busy (load average %.2f, the timed "
                "runs got %.0f %% of a core): these timings are noisy; measure on a quiet "
                "machine\n", r->load1, 100 * r->cpu_share);
        p->warned = 1;
    }
    return stop_asked;
}

/* The run's config with the vocabulary of the prepared data (or --vocab); latency_model.c
 * derives the timed model from it. */
static int run_config(const Args *a, RunConfig *rc, MosErr *err)
{
    if (runconf_load(args_str(a, "run-dir"), args_str(a, "config"), rc, stderr, err) < 0)
        return -1;
    ModelConfig *m = &rc->model;
    char data_dir[4096];
    snprintf(data_dir, sizeof data_dir, "%s/data", args_str(a, "run-dir"));
    Manifest man;
    MosErr ignore;
    if (data_manifest_load(data_dir, &man, &ignore) == 0) {
        m->vocab = man.vocab_size;
        m->pad_id = man.pad_id, m->unk_id = man.unk_id;
        m->bos_id = man.bos_id, m->eos_id = man.eos_id;
    } else if (m->vocab <= 0) {
        m->vocab = (int)args_int(a, "vocab");
    }
    return 0;
}

/* The option when given, else the run config's value. */
static int opt_or(const Args *a, const char *name, int config_value)
{
    return args_given(a, name) ? (int)args_int(a, name) : config_value;
}

static void print_report(const LatencyJob *job, const LatencyJobReport *r, int vocab)
{
    const LatencyOpts *o = &job->opts;
    printf("latency: %d architectures (beam %d, %d-token source, %d steps, %d + %d runs in %d "
           "rounds, blocks of %d, %s clock, %d thread%s, vocab %d)\n", r->rows, o->beam,
           o->src_len, o->steps, o->warmup, o->runs, o->rounds, o->block,
           o->clock == LATENCY_CLOCK_CPU ? "cpu" : "wall", o->threads, o->threads == 1 ? "" : "s",
           vocab);
    if (r->measured > 0)
        printf("machine: load average %.2f-%.2f while measuring %d rows; the timed runs got "
               "%.0f %% of a core on average (lowest %.0f %%)\n", r->load_min, r->load_max,
               r->measured, 100 * r->cpu_share_mean, 100 * r->cpu_share_min);
    if (isfinite(r->ref_enc_ms))
        printf("drift reference: %s timed in every round, anchor %.2f + %.2f ms%s\n",
               r->ref_arch, r->ref_enc_ms, r->ref_dec_ms, isfinite(r->speed_min) ? "" : " (no "
               "rows measured by this run)");
    if (isfinite(r->ref_enc_ms) && isfinite(r->speed_min))
        printf("drift: the machine ran at %.2f-%.2f x the anchor's speed; rows shifted back to "
               "it\n", r->speed_min, r->speed_max);
    printf("predictor: RMSE %.3f ms, MAPD %.2f %% on the %d held-out test rows (valid %.2f %%, "
           "train %.2f %%; weights of step %d)\n", r->fit.test.rmse_ms, r->fit.test.mapd_pct,
           r->fit.test.n, r->fit.valid.mapd_pct, r->fit.train.mapd_pct, r->fit.best_step);
    if (r->verify_n > 0)
        printf("verify: %d fresh architectures (mean %.2f ms): predictor MAPD %.2f %%, RMSE "
               "%.3f ms; measurement noise (same archs timed twice) %.2f %%; predictor vs the "
               "mean of both timings: MAPD %.2f %%\n", r->verify_n, r->mean_ms,
               r->verify.mapd_pct, r->verify.rmse_ms, r->noise_mapd_pct, r->verify_mean.mapd_pct);
    printf("files: %s/latency.csv, latency-predictor.json, latency.json%s\n", job->run_dir,
           r->verify_n ? ", latency-verify.csv, latency-verify-repeat.csv" : "");
}

/* The drift reference --arch shifts to: latency.json's, when the run has one with an anchor and
 * this measurement uses the protocol it was timed with (else off, *why says why). -1 (printed)
 * when latency.json is unreadable or its reference is not an arch of the run's space. */
static int reference_for_one(const Args *a, const RunConfig *rc, const LatencyOpts *o,
                             LatencyRef *ref, const char **why)
{
    MosErr err = {{0}};
    LatencyOpts file = *o;
    int have = latency_opts_load(args_str(a, "run-dir"), &file, &err);
    if (have < 0 || latency_ref_check(&file.ref, &rc->model.space, &err) < 0) {
        fprintf(stderr, "mos latency: %s\n", err.msg);
        return -1;
    }
    ref->on = 0;
    if (have == 0 || !file.ref.on || !isfinite(file.ref.enc_ms))
        *why = have == 0 ? "no latency.json in the run directory" : NULL;
    else if (!o->ref.on)
        *why = "--no-reference";
    else if (file.src_len != o->src_len || file.steps != o->steps || file.beam != o->beam ||
             file.threads != o->threads || file.clock != o->clock || file.vocab != o->vocab)
        *why = "source, steps, beam, threads, clock or vocab differ from latency.json's";
    else
        *ref = file.ref;
    return 0;
}

/* --arch: one architecture (e.g. an extracted model's, from its config.json) timed with the same
 * protocol, next to the predictor's estimate when the run has one. Writes no file. */
static int measure_one(const Args *a, const RunConfig *rc, const LatencyBackend *b,
                       const LatencyOpts *o)
{
    MosErr err = {{0}};
    const char *text = args_str(a, "arch");
    SearchSpace wide;
    latency_space_wider(&rc->model.space, &wide);
    Arch arch;
    if (strcmp(text, "largest") == 0)
        arch_largest(&rc->model.space, &arch);
    else if (strcmp(text, "smallest") == 0)
        arch_smallest(&rc->model.space, &arch);
    else if (arch_parse(text, &arch, &err) < 0 || arch_validate(&wide, &arch, &err) < 0) {
        fprintf(stderr, "mos latency: --arch: %s\n", err.msg);
        return 2;
    }
    LatencyOpts mine = *o;
    const char *why = NULL;
    if (reference_for_one(a, rc, o, &mine.ref, &why) < 0)
        return 1;
    LatencyResult r;
    if (latency_measure(b, &arch, &mine, &r, &err) < 0) {
        fprintf(stderr, "mos latency: %s\n", err.msg);
        return 1;
    }
    char buf[512];
    arch_format(&arch, buf, sizeof buf);
    printf("arch: %s\n", buf);
    printf("measured: encoder %.2f ms (std %.2f), decoder %.2f ms (std %.2f), total %.2f ms "
           "(beam %d, %d-token source, %d steps, %d + %d runs in %d rounds, %s clock, %d "
           "thread%s; the runs got %.0f %% of a core)\n", r.enc_ms, r.enc_std_ms, r.dec_ms,
           r.dec_std_ms, r.enc_ms + r.dec_ms, o->beam, o->src_len, o->steps, o->warmup, o->runs,
           o->rounds, o->clock == LATENCY_CLOCK_CPU ? "cpu" : "wall", o->threads,
           o->threads == 1 ? "" : "s", 100 * r.cpu_share);
    if (mine.ref.on)
        printf("drift reference: shifted to latency.json's anchor (the machine ran at %.2f x its "
               "speed)\n", r.speed);
    else if (why)
        printf("drift reference: not shifted (%s)\n", why);
    char path[4200];
    snprintf(path, sizeof path, "%s/latency-predictor.json", args_str(a, "run-dir"));
    Predictor pred;
    if (predictor_load(&pred, path, &err) == 0) {
        double ms = predictor_predict(&pred, &arch);
        printf("predicted: %.2f ms (%+.1f %% of measured)\n", ms,
               100.0 * (ms - (r.enc_ms + r.dec_ms)) / (r.enc_ms + r.dec_ms));
        predictor_done(&pred);
    } else {
        printf("predicted: - (%s)\n", err.msg);
    }
    return 0;
}

static int run_latency(const Args *a)
{
    MosErr err = {{0}};
    RunConfig rc;
    if (run_config(a, &rc, &err) < 0) {
        fprintf(stderr, "mos latency: %s\n", err.msg);
        return 1;
    }
    LatencyJob job = {
        .run_dir = args_str(a, "run-dir"), .archs = opt_or(a, "archs", rc.stages.latency_archs),
        .verify = opt_or(a, "verify", rc.stages.latency_verify),
        .seed = (uint64_t)args_int(a, "seed"),
        .hidden = (int)args_int(a, "hidden"), .hidden_layers = (int)args_int(a, "hidden-layers"),
        .fit = { .lr = (float)args_float(a, "fit-lr"), .batch = (int)args_int(a, "fit-batch"),
                 .steps = opt_or(a, "fit-steps", rc.stages.latency_fit_steps),
                 .seed = (uint64_t)args_int(a, "seed"),
                 .select_best = !args_flag(a, "fit-last") },
    };
    job.space = rc.model.space;
    latency_opts_default(&job.opts);
    job.opts.src_len = (int)args_int(a, "src-len");
    job.opts.steps = (int)args_int(a, "steps");
    job.opts.beam = opt_or(a, "beam", rc.stages.latency_beam);
    job.opts.warmup = opt_or(a, "warmup", rc.stages.latency_warmup);
    job.opts.runs = opt_or(a, "runs", rc.stages.latency_runs);
    job.opts.threads = (int)args_int(a, "threads");
    job.opts.vocab = rc.model.vocab;
    job.opts.rounds = opt_or(a, "rounds", rc.stages.latency_rounds);
    job.opts.block = opt_or(a, "block", rc.stages.latency_block);
    job.opts.clock = rc.stages.latency_clock == STAGE_CLOCK_CPU ? LATENCY_CLOCK_CPU
                                                                : LATENCY_CLOCK_WALL;
    job.opts.ref.on = rc.stages.latency_reference && !args_flag(a, "no-reference");
    const char *clock = args_str(a, "clock");
    if (clock && strcmp(clock, "wall") != 0 && strcmp(clock, "cpu") != 0) {
        fprintf(stderr, "mos latency: --clock %s: expected wall or cpu\n", clock);
        return 2;
    }
    if (clock)
        job.opts.clock = strcmp(clock, "cpu") == 0 ? LATENCY_CLOCK_CPU : LATENCY_CLOCK_WALL;
    if (!args_given(a, "rounds") && job.opts.rounds > job.opts.runs)
        job.opts.rounds = job.opts.runs;   /* the config's rounds, for fewer runs: one each */
    if (job.opts.rounds < 1 || job.opts.rounds > job.opts.runs || job.opts.block < 1 ||
        (job.opts.clock == LATENCY_CLOCK_CPU && job.opts.threads != 1)) {
        fprintf(stderr, "mos latency: need 1 <= --rounds <= --runs (%d), --block >= 1, and "
                        "--threads 1 with --clock cpu\n", job.opts.runs);
        return 2;
    }
    double load[1], max_load = args_float(a, "max-load");
    if (max_load > 0 && getloadavg(load, 1) == 1 && load[0] > max_load) {
        fprintf(stderr, "mos latency: the 1-minute load average is %.2f, above --max-load %.2f: "
                        "the machine is busy, timings would be noisy; nothing measured\n",
                load[0], max_load);
        return 1;
    }
    if (job.archs < 10 || job.verify < 0 || job.opts.threads < 1 || job.hidden < 1 ||
        job.hidden > 2048 || job.hidden_layers < 0 || job.hidden_layers > 6) {
        fprintf(stderr, "mos latency: need --archs >= 10, --verify >= 0, --threads >= 1, "
                        "--hidden 1..2048, --hidden-layers 0..6\n");
        return 2;
    }
    openblas_set_num_threads(job.opts.threads);
    LatencyModel lm;
    if (latency_model_open(&lm, &rc.model, &job.opts, &err) < 0) {
        fprintf(stderr, "mos latency: %s\n", err.msg);
        return 1;
    }
    LatencyBackend b = latency_model_backend(&lm);
    if (args_given(a, "arch")) {
        int rc1 = measure_one(a, &rc, &b, &job.opts);
        latency_model_close(&lm);
        return rc1;
    }
    Progress p = { args_flag(a, "quiet"), 0 };
    signal(SIGINT, on_sigint);
    LatencyJobReport rep;
    int r = latency_job_run(&b, &job, on_row, &p, &rep, &err);
    signal(SIGINT, SIG_DFL);
    latency_model_close(&lm);
    if (r < 0) {
        fprintf(stderr, "mos latency: %s\n", err.msg);
        return 1;
    }
    if (r == 1) {
        fprintf(stderr, "mos latency: stopped; every row measured so far is kept, run the same "
                        "command again to continue\n");
        return 1;
    }
    print_report(&job, &rep, rc.model.vocab);
    return 0;
}

const Command cmd_latency = {
    .name = "latency",
    .summary = "measure subnet latency on this machine (HAT's protocol) and fit the predictor",
    .details = "Sized by the run config's latency-* keys (mos config --keys); the options "
               "override them. Measures --archs random architectures of the wider space into "
               "DIR/latency.csv (resumable: run again after a stop), fits HAT's latency predictor "
               "(DIR/latency-predictor.json) and checks it on --verify fresh architectures, "
               "each measured twice to show the measurement's own noise. Nothing else should "
               "run on the machine while it measures.",
    .opts = latency_opts,
    .run = run_latency,
};
