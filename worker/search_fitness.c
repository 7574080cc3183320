/* The search's fitness and latency callbacks over a trained run (see search_fitness.h). */
#include "search_fitness.h"

#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "latency.h"
#include "latency_model.h"

int search_fitness_open(SearchFitness *f, const RunConfig *rc, const char *run_dir,
                        const char *ckpt, int valid_sentences, MosErr *err)
{
    memset(f, 0, sizeof *f);
    char path[4200];
    snprintf(path, sizeof path, "%s/latency-predictor.json", run_dir);
    if (predictor_load(&f->pred, path, err) < 0) {
        err_prefix(err, "run `mos latency` first");
        return -1;
    }
    if (eval_open(&f->run, rc, run_dir, ckpt, err) < 0) {
        predictor_done(&f->pred);
        return -1;
    }
    const RunConfig *c = &f->run.cfg;
    if (data_split_load(f->run.data_dir, "valid", &f->run.man, c->model.max_positions,
                        valid_sentences, &f->valid, err) < 0) {
        eval_close(&f->run);
        predictor_done(&f->pred);
        return -1;
    }
    if (batcher_init(&f->vb, &f->valid, c->train.max_tokens, &f->run.man, 1, 0, err) < 0) {
        data_split_free(&f->valid);
        eval_close(&f->run);
        predictor_done(&f->pred);
        return -1;
    }
    return 0;
}

void search_fitness_close(SearchFitness *f)
{
    batcher_done(&f->vb);
    data_split_free(&f->valid);
    eval_close(&f->run);
    predictor_done(&f->pred);
}

double search_fitness_loss(void *ctx, const Arch *a)
{
    SearchFitness *f = ctx;
    EvalLoss out;
    eval_loss(f->run.net, a, &f->vb, &out);
    return out.loss;
}

double search_fitness_latency(void *ctx, const Arch *a)
{
    SearchFitness *f = ctx;
    return predictor_predict(&f->pred, a);
}

void search_fitness_config(const RunConfig *rc, SearchConfig *c)
{
    const StageConfig *g = &rc->stages;
    search_config_default(c);
    c->algo = g->search_algo == STAGE_SEARCH_EVO ? SEARCH_EVO : SEARCH_NSGA2;
    c->population = g->search_population;
    c->parents = g->search_parents;
    c->mutations = g->search_mutations;
    c->crossovers = g->search_crossovers;
    c->iterations = g->search_iterations;
    c->target_ms = g->search_target_ms;
}

/* Archive indices of up to k front points spread evenly by latency, not yet measured. */
static int pick_points(const Search *s, int k, int *out)
{
    int front[1024];
    int n = search_front(s, front, 1024);
    n = n < 1024 ? n : 1024;
    int m = 0;
    for (int i = 0; i < k && i < n; i++) {
        int at = k >= n ? i : (k == 1 ? 0 : (int)lround((double)i * (n - 1) / (k - 1)));
        int idx = front[at];
        int dup = 0;
        for (int j = 0; j < m; j++)
            dup |= out[j] == idx;
        if (!dup && !isfinite(s->archive[idx].measured_ms))
            out[m++] = idx;
    }
    return m;
}

int search_fitness_measure_front(SearchFitness *f, Search *s, const char *run_dir, int k,
                                 int threads, int *measured, MosErr *err)
{
    if (measured)
        *measured = 0;
    if (k <= 0)
        return 0;
    const StageConfig *g = &f->run.cfg.stages;
    LatencyOpts o;
    latency_opts_from_stages(g, &o);   /* latency.json's protocol, below, when it has one */
    if (latency_opts_load(run_dir, &o, err) < 0 ||
        latency_ref_check(&o.ref, &f->run.cfg.model.space, err) < 0)
        return -1;
    if (!(isfinite(o.ref.enc_ms) && isfinite(o.ref.dec_ms)))
        o.ref.on = 0;   /* shifted to latency.json's drift reference only when it has an anchor */
    int *idx = malloc((size_t)k * sizeof *idx);
    Arch *archs = malloc((size_t)k * sizeof *archs);
    LatencyResult *res = malloc((size_t)k * sizeof *res);
    ASSERT(idx && archs && res);
    int n = pick_points(s, k, idx), rc = 0;
    if (n > 0) {
        for (int i = 0; i < n; i++)
            archs[i] = s->archive[idx[i]].arch;
        LatencyModel lm;
        openblas_set_num_threads(o.threads);
        rc = latency_model_open(&lm, &f->run.cfg.model, &o, err);
        if (rc == 0) {
            LatencyBackend b = latency_model_backend(&lm);
            rc = latency_measure_block(&b, archs, n, &o, res, err);
            latency_model_close(&lm);
        }
        openblas_set_num_threads(threads);
        for (int i = 0; i < n && rc == 0; i++)
            search_set_measured(s, idx[i], res[i].enc_ms + res[i].dec_ms);
    }
    if (rc == 0 && measured)
        *measured = n;
    free(idx), free(archs), free(res);
    return rc < 0 ? -1 : 0;
}
