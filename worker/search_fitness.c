/* The search's fitness and latency callbacks over a trained run (see search_fitness.h). */
#include "search_fitness.h"

#include <stdio.h>
#include <string.h>

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
