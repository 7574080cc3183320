/* `mos search`: HAT's constrained evolutionary search or NSGA-II (core/search.c) with the
 * trained supernet's inherited validation loss on a fixed validation subset as fitness and the
 * latency predictor of `mos latency` as latency. State is saved to DIR/search/ after every
 * generation; --resume continues exactly; Ctrl-C stops after the current generation. */
#include <cblas.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "commands.h"
#include "runconf.h"
#include "search_fitness.h"

static const OptSpec search_opts[] = {
    { "run-dir", OPT_STR, "runs/default", "DIR", "run directory (checkpoint, predictor; search/)" },
    { "config", OPT_STR, NULL, "FILE", "run config (default: DIR/config.yml when present)" },
    { "algo", OPT_STR, NULL, "evo|nsga2", "HAT's constrained evolution or NSGA-II (the front); "
      "default: the run config's search-algo" },
    { "target-ms", OPT_FLOAT, NULL, "MS", "latency limit on predicted latency, 0: none "
      "(default: search-target-ms)" },
    { "population", OPT_INT, NULL, "N", "population (evo: parents + mutations + crossovers; "
      "default: search-population)" },
    { "parents", OPT_INT, NULL, "N", "parents kept per generation (evo; default: search-parents)" },
    { "mutations", OPT_INT, NULL, "N", "mutants per generation (NSGA-II: their share; default: "
      "search-mutations)" },
    { "crossovers", OPT_INT, NULL, "N", "crossovers per generation (NSGA-II: their share; "
      "default: search-crossovers)" },
    { "iterations", OPT_INT, NULL, "N", "generations after the initial population (default: "
      "search-iterations)" },
    { "mutate-prob", OPT_FLOAT, "0.3", "P", "probability of redrawing each gene (HAT 0.3)" },
    { "seed", OPT_INT, "1", "N", "search seed" },
    { "valid-sentences", OPT_INT, NULL, "N", "fixed validation subset for the fitness, 0: all "
      "(default: search-valid-sentences)" },
    { "checkpoint", OPT_STR, "last", "NAME", "supernet checkpoint in DIR/checkpoints" },
    { "threads", OPT_INT, "2", "N", "OpenBLAS threads" },
    { "measure", OPT_INT, NULL, "N", "front points whose latency is measured when the search is "
      "done, spread over the front (default: search-measure; 0: none)" },
    { "resume", OPT_FLAG, NULL, NULL, "continue the search saved in DIR/search" },
    { "quiet", OPT_FLAG, NULL, NULL, "no per-generation lines on stderr" },
    { 0 },
};

static volatile sig_atomic_t stop_asked;

static void on_sigint(int sig)
{
    (void)sig;
    stop_asked = 1;
}

typedef struct Report {
    int quiet;
    struct timespec t0;
} Report;

static int on_generation(void *ctx, Search *s, const SearchEvent *e)
{
    Report *r = ctx;
    if (!r->quiet) {
        struct timespec t;
        clock_gettime(CLOCK_MONOTONIC, &t);
        double el = (double)(t.tv_sec - r->t0.tv_sec) + 1e-9 * (double)(t.tv_nsec - r->t0.tv_nsec);
        fprintf(stderr, "search gen %2d/%d  ", e->generation, e->iterations);
        if (e->best >= 0)
            fprintf(stderr, "best loss %.4f at %.2f ms  ", s->archive[e->best].valid_loss,
                    s->archive[e->best].pred_ms);
        fprintf(stderr, "front %d  scored %d new (%d in all)  %.0f s\n", e->nfront,
                e->new_evaluations, e->evaluated, el);
    }
    return stop_asked;
}

static void print_result(const Search *s, const char *dir)
{
    int front[512];
    int n = search_front(s, front, 512);
    int best = search_best(s);
    char text[512];
    if (best >= 0) {
        arch_format(&s->archive[best].arch, text, sizeof text);
        printf("best: loss %.4f, predicted %.2f ms%s\n  %s\n", s->archive[best].valid_loss,
               s->archive[best].pred_ms, s->target_ms > 0 ? "" : " (no latency target)", text);
    }
    printf("front (%d points, by predicted latency):\n", n);
    for (int i = 0; i < n && i < 512; i++) {
        const SearchRecord *r = &s->archive[front[i]];
        arch_format(&r->arch, text, sizeof text);
        char meas[48] = "";
        if (isfinite(r->measured_ms))
            snprintf(meas, sizeof meas, "  measured %8.2f ms", r->measured_ms);
        else
            snprintf(meas, sizeof meas, "  %20s", "");
        printf("  %3d  %8.2f ms%s  loss %.4f  %s\n", i, r->pred_ms, meas, r->valid_loss, text);
    }
    printf("scored %d architectures; files in %s/ (archive.csv, archive.json, front.json, "
           "state.json)\n", s->narchive, dir);
}

/* The option when given, else the run config's value. */
static int opt_or(const Args *a, const char *name, int config_value)
{
    return args_given(a, name) ? (int)args_int(a, name) : config_value;
}

/* The run config's search-* keys, overridden by the options given. */
static int search_config_from(const Args *a, const RunConfig *rc, SearchConfig *c, MosErr *err)
{
    search_fitness_config(rc, c);
    const char *algo = args_str(a, "algo");
    if (algo && strcmp(algo, "evo") == 0)
        c->algo = SEARCH_EVO;
    else if (algo && strcmp(algo, "nsga2") == 0)
        c->algo = SEARCH_NSGA2;
    else if (algo)
        return err_set(err, "--algo %s: expected evo or nsga2", algo);
    c->population = opt_or(a, "population", c->population);
    c->parents = opt_or(a, "parents", c->parents);
    c->mutations = opt_or(a, "mutations", c->mutations);
    c->crossovers = opt_or(a, "crossovers", c->crossovers);
    c->iterations = opt_or(a, "iterations", c->iterations);
    c->mutate_prob = (float)args_float(a, "mutate-prob");
    if (args_given(a, "target-ms"))
        c->target_ms = args_float(a, "target-ms");
    c->seed = (uint64_t)args_int(a, "seed");
    return 0;
}

/* Sets up s (fresh, or restored with --resume) in dir; refuses to overwrite a saved search. */
static int search_open(Search *s, const Args *a, const SearchConfig *cfg,
                       const SearchSpace *space, SearchFitness *f, const char *dir, MosErr *err)
{
    SearchConfig c = *cfg;
    memset(s, 0, sizeof *s);
    if (search_init(s, space, &c, search_fitness_loss, f, search_fitness_latency, f, err))
        return -1;
    char state[4200];
    snprintf(state, sizeof state, "%s/state.json", dir);
    int exists = access(state, F_OK) == 0;
    if (!args_flag(a, "resume")) {
        if (exists)
            return err_set(err, "%s exists: pass --resume to continue that search, or move %s "
                           "away to start a new one", state, dir);
        return 0;
    }
    if (!exists)
        return err_set(err, "--resume: no saved search (%s is missing)", state);
    if (search_load(s, dir, err))
        return -1;
    if (args_given(a, "target-ms") && c.target_ms != s->target_ms)
        return search_set_target(s, c.target_ms, err);
    return 0;
}

/* --measure front points timed once the search is done (their measured latency goes into the
 * archive); a stop asked meanwhile is honoured before timing. */
static int measure_front(const Args *a, const RunConfig *rc, SearchFitness *f, Search *s,
                         const char *run_dir, MosErr *err)
{
    int k = opt_or(a, "measure", rc->stages.search_measure), n = 0;
    if (k <= 0 || stop_asked)
        return 0;
    if (!args_flag(a, "quiet"))
        fprintf(stderr, "search: measuring the latency of up to %d front points (nothing else "
                        "should run meanwhile)\n", k);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    if (search_fitness_measure_front(f, s, run_dir, k, (int)args_int(a, "threads"), &n, err))
        return -1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    if (!args_flag(a, "quiet"))
        fprintf(stderr, "search: measured %d front points in %.0f s\n", n,
                (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec));
    return 0;
}

static int search_main(const Args *a, const RunConfig *cfg, const SearchConfig *c, MosErr *err)
{
    const char *run_dir = args_str(a, "run-dir");
    RunConfig rc = *cfg;
    openblas_set_num_threads((int)args_int(a, "threads"));
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/search", run_dir);
    SearchFitness f;
    if (search_fitness_open(&f, &rc, run_dir, args_str(a, "checkpoint"),
                            opt_or(a, "valid-sentences", rc.stages.search_valid_sentences),
                            err) < 0)
        return -1;
    Search s;
    int r = search_open(&s, a, c, &f.run.cfg.model.space, &f, dir, err);
    Report rep = { args_flag(a, "quiet"), { 0, 0 } };
    clock_gettime(CLOCK_MONOTONIC, &rep.t0);
    if (r == 0) {
        signal(SIGINT, on_sigint);
        r = search_run(&s, dir, on_generation, &rep, err);
        signal(SIGINT, SIG_DFL);
        if (r == 0)
            r = measure_front(a, &rc, &f, &s, run_dir, err);
        if (r == 0 && search_save(&s, dir, err))   /* also when --resume had nothing left */
            r = -1;
    }
    if (r == 0)
        print_result(&s, dir);
    else if (r == 1)
        fprintf(stderr, "mos search: stopped after generation %d; saved in %s, continue with "
                        "--resume\n", s.generation, dir);
    search_done(&s);
    search_fitness_close(&f);
    return r;
}

static int run_search(const Args *a)
{
    MosErr err = {{0}};
    RunConfig rc;
    if (runconf_load(args_str(a, "run-dir"), args_str(a, "config"), &rc, stderr, &err) < 0) {
        fprintf(stderr, "mos search: %s\n", err.msg);
        return 1;
    }
    SearchConfig c;
    if (args_given(a, "measure") && args_int(a, "measure") < 0) {
        fprintf(stderr, "mos search: --measure %lld: expected a count >= 0\n",
                (long long)args_int(a, "measure"));
        return 2;
    }
    if (search_config_from(a, &rc, &c, &err) < 0 || search_config_check(&c, &err) < 0) {
        fprintf(stderr, "mos search: %s\n", err.msg);   /* checked before the checkpoint loads */
        return 2;
    }
    int r = search_main(a, &rc, &c, &err);
    if (r < 0) {
        fprintf(stderr, "mos search: %s\n", err.msg);
        return 1;
    }
    return r;
}

const Command cmd_search = {
    .name = "search",
    .summary = "search subnets under a latency target (HAT evolution) or for the Pareto front",
    .details = "Settings come from the run config's search-* keys (mos config --keys); the "
               "options override them. Fitness is the validation loss of each subnet with the "
               "supernet's inherited weights on a fixed validation subset; latency is predicted by "
               "DIR/latency-predictor.json (mos latency). Every scored subnet is kept in "
               "DIR/search/archive.csv; the state is saved each generation and --resume "
               "continues exactly. When the search is done, --measure front points are timed "
               "with the protocol of DIR/latency.json and their measured latency is stored in "
               "the archive next to the predicted one.",
    .opts = search_opts,
    .run = run_search,
};
