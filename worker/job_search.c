/* The search stage as a worker job, set by the run config's search-* keys (default NSGA-II over
 * (predicted latency, inherited validation loss), so the dashboard gets the whole front), with
 * the worker's latency target (the `target` command; search-target-ms until one is given) as a
 * limit that may change between generations. Each generation publishes a search and a front
 * message; the state in RUN_DIR/search resumes with the worker's resume flag. Pause holds the
 * job between generations; stop ends it after the current one (saved). */
#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "jobs.h"
#include "runconf.h"
#include "search_fitness.h"
#include "strbuf.h"

typedef struct SearchJobCtx {
    JobCtl *ctl;
    const SearchFitness *f;
} SearchJobCtx;

static void publish_search(JobCtl *c, const Search *s, const SearchEvent *e)
{
    Msg *m = jobctl_msg_begin(c, MSG_SEARCH);
    MsgSearch *q = &m->u.search;
    q->generation = e->generation;
    q->has_generations = 1;
    q->generations = e->iterations;
    STR_SET(q->algo, s->cfg.algo == SEARCH_NSGA2 ? "nsga2" : "evo");
    double sum = 0;
    for (int i = 0; i < s->npop; i++)
        sum += s->archive[s->pop[i].idx].valid_loss;
    q->mean_loss = s->npop ? sum / s->npop : NAN;
    q->best_loss = e->best >= 0 ? s->archive[e->best].valid_loss : NAN;
    q->target_ms = e->target_ms > 0 ? e->target_ms : 0;
    q->evaluated = e->evaluated;
    if (e->best >= 0) {
        q->has_best_arch = q->has_best_latency_ms = 1;
        arch_format(&s->archive[e->best].arch, q->best_arch, sizeof q->best_arch);
        q->best_latency_ms = s->archive[e->best].pred_ms;
    }
    jobctl_msg_end(c);
}

static void publish_front(JobCtl *c, const SearchFitness *f, const Search *s,
                          const SearchEvent *e)
{
    Msg *m = jobctl_msg_begin(c, MSG_FRONT);
    MsgFront *fr = &m->u.front;
    fr->has_generation = fr->has_target_ms = 1;
    fr->generation = e->generation;
    fr->target_ms = e->target_ms > 0 ? e->target_ms : 0;
    int n = e->nfront < PROTO_FRONT_MAX ? e->nfront : PROTO_FRONT_MAX;
    fr->points_n = (uint32_t)n;
    for (int i = 0; i < n; i++) {
        const SearchRecord *r = &s->archive[e->front[i]];
        MsgFrontPoint *p = &fr->points[i];
        arch_format(&r->arch, p->arch, sizeof p->arch);
        p->latency_pred_ms = r->pred_ms;
        p->has_latency_ms = isfinite(r->measured_ms);
        p->latency_ms = p->has_latency_ms ? r->measured_ms : 0;
        p->loss = r->valid_loss;
        p->has_bleu = isfinite(r->bleu);
        p->bleu = p->has_bleu ? r->bleu : 0;
        p->params = arch_params(&r->arch, f->run.cfg.model.vocab, s->space.qkv_dim);
        float feat[ARCH_FEATURES];
        arch_features(&s->space, &r->arch, feat);
        memcpy(p->features, feat, sizeof feat);
        p->features_n = ARCH_FEATURES;
        p->has_features = 1;
    }
    jobctl_msg_end(c);
}

/* After each generation: publish, then apply a target the worker was given meanwhile. */
static int on_generation(void *ctx, Search *s, const SearchEvent *e)
{
    SearchJobCtx *j = ctx;
    jobctl_set_progress(j->ctl, "search", e->generation, e->iterations, 1);
    publish_search(j->ctl, s, e);
    publish_front(j->ctl, j->f, s, e);
    int stop = jobctl_poll(j->ctl) == TRAIN_STOP;
    JobProgress p;
    double target;
    jobctl_snapshot_progress(j->ctl, &p, &target);
    if (target > 0 && target != s->target_ms) {
        MosErr err = {{0}};
        if (search_set_target(s, target, &err) < 0)
            jobctl_log(j->ctl, "warn", "latency target %.2f ms refused: %s", target, err.msg);
        else
            jobctl_log(j->ctl, "info", "latency target %.2f ms: population re-filtered", target);
    }
    return stop;
}

/* The finished search's front: up to k points timed (the job is not training meanwhile), saved
 * in the archive and published again with their measured latency. A stop asked first skips it. */
static int measure_front(JobCtl *c, SearchFitness *f, Search *s, const char *run_dir,
                         const char *dir, int k, int threads, MosErr *err)
{
    if (k <= 0 || jobctl_poll(c) == TRAIN_STOP)
        return 0;
    jobctl_log(c, "info", "search: measuring the latency of up to %d front points", k);
    int n = 0;
    if (search_fitness_measure_front(f, s, run_dir, k, threads, &n, err) < 0 ||
        search_save(s, dir, err) < 0)
        return -1;
    int front[PROTO_FRONT_MAX];
    SearchEvent e = { .generation = s->generation, .iterations = s->cfg.iterations,
                      .evaluated = s->narchive, .best = search_best(s), .front = front,
                      .target_ms = s->target_ms };
    e.nfront = search_front(s, front, PROTO_FRONT_MAX);
    if (e.nfront > PROTO_FRONT_MAX)
        e.nfront = PROTO_FRONT_MAX;
    publish_front(c, f, s, &e);
    jobctl_log(c, "info", "search: measured the latency of %d front points", n);
    return 0;
}

int job_search_run(const JobEnv *env, MosErr *err)
{
    RunConfig rc;
    if (runconf_load(env->run_dir, env->config, &rc, NULL, err) < 0)
        return -1;
    openblas_set_num_threads(rc.train.threads > 0 ? rc.train.threads : 1);
    SearchFitness f;
    SearchConfig c;
    search_fitness_config(&rc, &c);
    if (search_config_check(&c, err) < 0) {
        err_prefix(err, "run config search-*");
        return -1;
    }
    if (search_fitness_open(&f, &rc, env->run_dir, "last", rc.stages.search_valid_sentences,
                            err) < 0)
        return -1;
    JobProgress p;
    double target = 0;
    jobctl_snapshot_progress(env->ctl, &p, &target);
    if (target > 0)         /* the worker's target command wins over search-target-ms */
        c.target_ms = target;
    char dir[4200], state[4300];
    snprintf(dir, sizeof dir, "%s/search", env->run_dir);
    snprintf(state, sizeof state, "%s/state.json", dir);
    Search s;
    int r = search_init(&s, &f.run.cfg.model.space, &c, search_fitness_loss, &f,
                        search_fitness_latency, &f, err);
    if (r == 0 && access(state, F_OK) == 0) {
        if (!env->resume)
            r = err_set(err, "%s exists: resume the worker to continue that search, or move %s "
                        "away", state, dir);
        else
            r = search_load(&s, dir, err);
    }
    jobctl_set_progress(env->ctl, "search", s.generation < 0 ? 0 : s.generation, c.iterations,
                        1);
    SearchJobCtx ctx = { env->ctl, &f };
    if (r == 0)
        r = search_run(&s, dir, on_generation, &ctx, err);
    if (r == 0)
        r = measure_front(env->ctl, &f, &s, env->run_dir, dir, rc.stages.search_measure,
                          rc.train.threads > 0 ? rc.train.threads : 1, err);
    if (r == 1)
        jobctl_log(env->ctl, "info", "search: stopped after generation %d (saved)", s.generation);
    search_done(&s);
    search_fitness_close(&f);
    return r < 0 ? -1 : 0;
}

/* Complete once the saved search has run all its generations. */
int job_search_done(const JobEnv *env)
{
    char path[4300];
    snprintf(path, sizeof path, "%s/search/state.json", env->run_dir);
    json_t *st = json_load_file(path, 0, NULL);
    if (!st)
        return 0;
    RunConfig rc;
    MosErr err;
    int done = runconf_load(env->run_dir, env->config, &rc, NULL, &err) == 0 &&
               json_integer_value(json_object_get(st, "generation")) >= rc.stages.search_iterations;
    json_decref(st);
    return done;
}
