/* Architecture search under a latency target: HAT's constrained evolutionary search and
 * multi-objective NSGA-II over (predicted latency, fitness). Fitness (lower is better; the
 * inherited validation loss in the real job) and predicted latency come from callbacks, so the
 * search knows nothing of models. Every evaluated subnet is kept in an archive with a hash cache
 * (no arch is evaluated twice); the whole state is saved per generation and resumes exactly. */
#ifndef MOS_SEARCH_H
#define MOS_SEARCH_H

#include <stdint.h>

#include "arch.h"
#include "err.h"
#include "rng.h"

typedef enum SearchAlgo { SEARCH_EVO, SEARCH_NSGA2, SEARCH_ALGO_COUNT } SearchAlgo;

/* Fitness of an architecture, lower is better; NaN or inf makes the search step fail. */
typedef double (*SearchFitnessFn)(void *ctx, const Arch *a);
/* Predicted latency in ms (the latency predictor in the real job). */
typedef double (*SearchLatencyFn)(void *ctx, const Arch *a);

typedef struct SearchConfig {
    SearchAlgo algo;
    int population;       /* HAT 125 (evo: parents + mutations + crossovers) */
    int parents;          /* HAT 25 (evo only) */
    int mutations;        /* HAT 50; NSGA-II: the share of offspring made by mutation */
    int crossovers;       /* HAT 50; NSGA-II: the share made by crossover */
    int iterations;       /* HAT 30: generations after the initial population */
    float mutate_prob;    /* HAT 0.3 per gene */
    double target_ms;     /* latency limit on predicted latency; <= 0: none */
    uint64_t seed;
    int max_draws;        /* draws allowed per admitted candidate before giving up (1000) */
} SearchConfig;

/* HAT's settings: evo, 125/25/50/50, 30 iterations, p = 0.3, no target, seed 1. */
void search_config_default(SearchConfig *c);

/* 0 when c is consistent (evo: population == parents + mutations + crossovers, positive sizes,
 * p in [0, 1]); else -1 with the reason. search_init checks the same. */
int search_config_check(const SearchConfig *c, MosErr *err);

/* One evaluated subnet. */
typedef struct SearchRecord {
    Arch arch;
    uint64_t hash;
    double pred_ms;       /* predicted latency */
    double measured_ms;   /* NaN unless measured */
    double valid_loss;    /* the fitness */
    double bleu;          /* NaN unless computed */
    int generation;       /* when it was first evaluated */
    double target_ms;     /* the latency target at that time (<= 0: none) */
} SearchRecord;

/* A latency target change, kept in the archive's files. */
typedef struct SearchTargetChange {
    int generation;       /* generations completed when it changed */
    double old_ms, new_ms;
    int removed;          /* population members over the new target, replaced */
} SearchTargetChange;

/* A population member: its own genes (inactive ones included, as HAT carries them) and the
 * archive entry holding its scores. */
typedef struct SearchMember {
    Arch arch;
    int idx;
} SearchMember;

typedef struct Search {
    SearchConfig cfg;
    SearchSpace space;
    SearchFitnessFn fitness;
    void *fitness_ctx;
    SearchLatencyFn latency;
    void *latency_ctx;
    Rng rng;
    int generation;       /* -1 before the initial population; then generations completed */
    double target_ms;
    SearchMember *pop;    /* npop members (evo may hold duplicates, as HAT's does) */
    int npop, pop_cap;
    SearchRecord *archive;
    int narchive, archive_cap;
    int *table;           /* open-addressing hash table of archive indices (-1 empty) */
    int table_cap;
    SearchTargetChange *changes;
    int nchanges, changes_cap;
    int evaluations;      /* fitness calls made by this process (cache misses) */
    /* scratch for one generation, sized for 2 x population (no allocation per step) */
    SearchMember *next;
    int *rank, *order, *dom_count, *front_buf;
    double *crowd;
    unsigned char *dominates;
} Search;

/* Sets up an empty search. -1 when the configuration is inconsistent (evo: population !=
 * parents + mutations + crossovers, non-positive sizes, p outside [0, 1]). */
int  search_init(Search *s, const SearchSpace *space, const SearchConfig *cfg,
                 SearchFitnessFn fitness, void *fitness_ctx, SearchLatencyFn latency,
                 void *latency_ctx, MosErr *err);
void search_done(Search *s);

/* Runs one generation (the first call builds and scores the initial population). Returns 1 when
 * all iterations are done, 0 when more remain, -1 on error (no candidate under the target found,
 * a non-finite fitness); the state is unchanged by a failed step except for archive additions. */
int search_step(Search *s, MosErr *err);
int search_finished(const Search *s);

/* What a caller learns after each generation (the worker publishes it as search/front). */
typedef struct SearchEvent {
    int generation;       /* generations completed (0: the initial population) */
    int iterations;       /* configured total */
    int evaluated;        /* archive size */
    int new_evaluations;  /* fitness calls in this generation */
    int best;             /* archive index of the best member under the target, or -1 */
    int nfront;
    const int *front;     /* archive indices of the current front, by latency */
    double target_ms;
} SearchEvent;

/* Called after each generation; may call search_set_target. Nonzero stops the run (the state,
 * saved right after the call, resumes later). */
typedef int (*SearchEventFn)(void *ctx, Search *s, const SearchEvent *e);

/* Runs generations until the configured iterations are done, calling fn after each and saving
 * to dir (NULL: no files) after each. Returns 0 when finished, 1 when fn asked to stop, -1. */
int search_run(Search *s, const char *dir, SearchEventFn fn, void *ctx, MosErr *err);

/* Changes the latency target between generations: population members over it are replaced by
 * fresh random candidates under it, and the change is recorded. */
int search_set_target(Search *s, double target_ms, MosErr *err);

/* Archive index of the best population member (lowest fitness under the current target; -1 if
 * none), and the Pareto front over (predicted latency, fitness) of the population members under
 * the target, sorted by latency: writes up to max archive indices, returns the front's size. */
int search_best(const Search *s);
int search_front(const Search *s, int *idx, int max);

/* Appends a record to the archive and its cache (hash computed here); returns its index. The
 * search adds records itself; this is for restoring a saved archive. */
int search_archive_add(Search *s, const SearchRecord *r);

/* Records a measured latency or BLEU for an archive entry. */
void search_set_measured(Search *s, int idx, double measured_ms);
void search_set_bleu(Search *s, int idx, double bleu);

/* Files in dir (created if missing): state.json (everything needed to resume), archive.csv,
 * archive.json, front.json. Each is written to a temporary file and renamed. */
int search_save(const Search *s, const char *dir, MosErr *err);
/* Restores a saved state into a search set up by search_init with the same space and config;
 * a different algorithm, sizes, seed or space is refused with the reason. */
int search_load(Search *s, const char *dir, MosErr *err);

/* Writers used by search_save, exposed for the worker and tests. */
int search_write_csv(const Search *s, const char *path, MosErr *err);

#endif
