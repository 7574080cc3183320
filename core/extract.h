/* Choosing and materialising the subnet `mos extract` writes: a point of the search's Pareto
 * front (RUN_DIR/search/front.json, written by core/search_io.c) by index or by latency budget,
 * and the standalone model of an arch of a loaded supernet (MoS experts collapsed first). Does not
 * load checkpoints or pick directories (worker/cmd_extract.c does). */
#ifndef MOS_EXTRACT_H
#define MOS_EXTRACT_H

#include "arch.h"
#include "err.h"
#include "modelfile.h"
#include "supernet.h"

/* One point of front.json. */
typedef struct FrontPoint {
    Arch arch;
    int index;            /* archive index */
    double pred_ms;       /* predicted latency */
    double valid_loss;
} FrontPoint;

/* Reads SEARCH_DIR/front.json (points in latency order) into a malloc'ed array; *n gets the
 * count. Returns NULL with a one-line error (missing file, no points, a bad entry). */
FrontPoint *extract_front_load(const char *search_dir, int *n, MosErr *err);

/* The k-th front point (0 = lowest predicted latency, as the protocol's extract index). */
int extract_pick_front(const char *search_dir, int k, FrontPoint *out, MosErr *err);

/* The front point with the lowest validation loss among those whose predicted latency is at most
 * max_ms (ties: the faster). -1 with the fastest point's latency named when none qualifies. */
int extract_pick_latency(const char *search_dir, double max_ms, FrontPoint *out, MosErr *err);

/* The standalone model of arch a of supernet s (any mos kind: MoS layers are collapsed into
 * plain weights W(a) = sum_i alpha_i(a) E_i first), activations sized for max_tokens. */
Supernet *extract_model(Supernet *s, const Arch *a, int max_tokens, MosErr *err);

#endif
