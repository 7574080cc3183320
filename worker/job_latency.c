/* The latency stage as a worker job: the `mos latency` job (core/latency.c) sized by the run
 * config's latency-* keys (archs, verify, runs, warmup, beam, rounds, block, clock, fit steps),
 * each measured row published as a latency message and the predictor's fit as a last one. Rows
 * come a block at a time (interleaved rounds); pause holds the job after a block's timing is
 * done (timings are never taken while paused), stop ends it after the current block; rows
 * already in latency.csv are kept, so the stage resumes where it stopped. */
#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "jobs.h"
#include "latency.h"
#include "runconf.h"
#include "latency_model.h"
#include "strbuf.h"

typedef struct LatJob {
    JobCtl *ctl;
    SearchSpace norm_space;   /* the features published are normalised by this space */
} LatJob;

static int on_row(void *ctx, int done, int total, const Arch *a, const LatencyResult *r)
{
    LatJob *j = ctx;
    jobctl_set_progress(j->ctl, "latency", done, total, 1);
    Msg *m = jobctl_msg_begin(j->ctl, MSG_LATENCY);
    MsgLatency *l = &m->u.latency;
    MsgLatencyRow *row = &l->rows[0];
    l->rows_n = 1;
    arch_format(a, row->arch, sizeof row->arch);
    float f[ARCH_FEATURES];
    arch_features(&j->norm_space, a, f);
    memcpy(row->features, f, sizeof f);
    row->features_n = ARCH_FEATURES;
    row->enc_ms = r->enc_ms;
    row->dec_ms = r->dec_ms;
    l->measured = done;
    l->total = total;
    jobctl_msg_end(j->ctl);
    return jobctl_poll(j->ctl) == TRAIN_STOP;
}

static void publish_fit(JobCtl *c, const LatencyJob *job, const LatencyJobReport *rep)
{
    Msg *m = jobctl_msg_begin(c, MSG_LATENCY);
    MsgLatency *l = &m->u.latency;
    l->rows_n = 0;
    l->measured = job->archs;
    l->total = job->archs;
    l->has_rmse_ms = l->has_mapd = 1;
    l->rmse_ms = rep->fit.test.rmse_ms;
    l->mapd = rep->fit.test.mapd_pct / 100.0;
    jobctl_msg_end(c);
    jobctl_log(c, "info", "latency predictor: test RMSE %.3f ms, MAPD %.2f %%; fresh archs MAPD "
               "%.2f %%, measurement noise %.2f %%", rep->fit.test.rmse_ms, rep->fit.test.mapd_pct,
               rep->verify.mapd_pct, rep->noise_mapd_pct);
    if (rep->measured > 0)
        jobctl_log(c, rep->cpu_share_mean < 0.9 ? "warn" : "info", "latency: load average "
                   "%.2f-%.2f while measuring; the timed runs got %.0f %% of a core", rep->load_min,
                   rep->load_max, 100 * rep->cpu_share_mean);
    if (isfinite(rep->ref_enc_ms) && isfinite(rep->speed_min))
        jobctl_log(c, "info", "latency: drift reference %s, anchor %.2f + %.2f ms; the machine "
                   "ran at %.2f-%.2f x its speed, rows shifted back to it", rep->ref_arch,
                   rep->ref_enc_ms, rep->ref_dec_ms, rep->speed_min, rep->speed_max);
}

int job_latency_run(const JobEnv *env, MosErr *err)
{
    RunConfig rc;
    if (runconf_load(env->run_dir, env->config, &rc, NULL, err) < 0)
        return -1;
    char data_dir[4200];
    snprintf(data_dir, sizeof data_dir, "%s/data", env->run_dir);
    Manifest man;
    if (data_manifest_load(data_dir, &man, err) < 0 || train_resolve_data(&rc, &man, err) < 0)
        return -1;
    const StageConfig *g = &rc.stages;
    LatencyJob job = { .run_dir = env->run_dir, .space = rc.model.space,
                       .archs = g->latency_archs, .verify = g->latency_verify, .seed = 1,
                       .hidden = 400, .hidden_layers = 3,
                       .fit = { .lr = 1e-3f, .batch = 128, .steps = g->latency_fit_steps,
                                .seed = 1, .select_best = 1 } };
    latency_opts_from_stages(g, &job.opts);
    job.opts.vocab = rc.model.vocab;
    openblas_set_num_threads(job.opts.threads);
    LatencyModel lm;
    if (latency_model_open(&lm, &rc.model, &job.opts, err) < 0)
        return -1;
    LatencyBackend b = latency_model_backend(&lm);
    LatJob lj = { env->ctl, rc.model.space };
    jobctl_set_progress(env->ctl, "latency", 0, job.archs + 2 * job.verify, 1);
    LatencyJobReport rep;
    int r = latency_job_run(&b, &job, on_row, &lj, &rep, err);
    latency_model_close(&lm);
    if (r == 1)
        jobctl_log(env->ctl, "info", "latency: stopped; the rows measured are kept");
    else if (r == 0)
        publish_fit(env->ctl, &job, &rep);
    return r < 0 ? -1 : 0;
}

/* Complete once the predictor is fitted and verified with the config's latency-verify archs
 * (a stopped verify resumes). */
int job_latency_done(const JobEnv *env)
{
    RunConfig rc;
    MosErr err;
    if (runconf_load(env->run_dir, env->config, &rc, NULL, &err) < 0)
        return 0;
    char a[4200], b[4200];
    snprintf(a, sizeof a, "%s/latency-predictor.json", env->run_dir);
    snprintf(b, sizeof b, "%s/latency-verify-repeat.csv", env->run_dir);
    return access(a, F_OK) == 0 &&
           (rc.stages.latency_verify == 0 ||
            latency_csv_rows(b, &err) >= rc.stages.latency_verify);
}
