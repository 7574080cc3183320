/* What `mos search` and the worker's search stage share: the fitness (inherited validation loss
 * of a subnet on a fixed validation subset, from a trained checkpoint) and the latency predictor
 * of `mos latency`, as the callbacks core/search.c takes. */
#ifndef MOS_SEARCH_FITNESS_H
#define MOS_SEARCH_FITNESS_H

#include "eval.h"
#include "predictor.h"
#include "search.h"

typedef struct SearchFitness {
    EvalRun run;          /* config, manifest, supernet with the checkpoint's weights */
    DataSplit valid;      /* the first valid_sentences validation pairs */
    Batcher vb;           /* in length order, no shuffling */
    Predictor pred;
} SearchFitness;

/* Loads RUN_DIR/latency-predictor.json, the checkpoint `ckpt` ("last") and the validation
 * subset (0: all pairs). 0 or -1 with a one-line error (a missing predictor says to run
 * `mos latency` first). */
int  search_fitness_open(SearchFitness *f, const RunConfig *rc, const char *run_dir,
                         const char *ckpt, int valid_sentences, MosErr *err);
void search_fitness_close(SearchFitness *f);

/* The search settings of the run config (search-* keys: algorithm, sizes, iterations, latency
 * target) over HAT's defaults (search_config_default) for the rest. */
void search_fitness_config(const RunConfig *rc, SearchConfig *c);

/* The callbacks: label-smoothed validation loss per token; predicted latency in ms. ctx is the
 * SearchFitness. */
double search_fitness_loss(void *ctx, const Arch *a);
double search_fitness_latency(void *ctx, const Arch *a);

/* Times up to k points of the search's current front with the latency protocol of
 * RUN_DIR/latency.json (the one the predictor was fitted on; the run config's latency-* keys
 * when it is missing) on the plain timed model of latency_model.h, and records each total
 * (encoder + decoder ms) in the archive (search_set_measured). Points are spread evenly over
 * the front by latency (both ends included); points already measured are not timed again.
 * The points are measured as one block (interleaved rounds). OpenBLAS runs with the protocol's
 * thread count meanwhile and `threads` after. *measured gets the number timed (may be NULL).
 * 0 or -1 with a one-line error. */
int search_fitness_measure_front(SearchFitness *f, Search *s, const char *run_dir, int k,
                                 int threads, int *measured, MosErr *err);

#endif
