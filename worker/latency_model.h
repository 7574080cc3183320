/* The model `mos latency` and the worker's latency stage time: the plain (HAT) supernet of the
 * run's dims over the wider measurement space, without MoS or dropout (a MoS subnet runs as its
 * collapsed plain model), with fresh weights (timing does not depend on their values), fed a
 * dummy source of one ordinary token id. */
#ifndef MOS_LATENCY_MODEL_H
#define MOS_LATENCY_MODEL_H

#include "config.h"
#include "latency.h"
#include "supernet.h"

typedef struct LatencyModel {
    Supernet *net;
    int src[512];
    int src_tokens;     /* source ids without the eos the model appends */
    int beam, steps;
    int Ts;             /* encoded length of the last encode */
} LatencyModel;

/* Builds the timed supernet for cfg (its vocabulary resolved) and o (source length, steps,
 * beam). 0 or -1 with a one-line error. */
int  latency_model_open(LatencyModel *m, const ModelConfig *cfg, const LatencyOpts *o,
                        MosErr *err);
void latency_model_close(LatencyModel *m);

/* The backend for core/latency.c over m. */
LatencyBackend latency_model_backend(LatencyModel *m);

#endif
