/* One extraction into RUN_DIR/subnets/NAME as `mos extract` does it, callable by any job (the
 * worker's `extract` command takes an arch or a front index, exactly as --arch / --front):
 * choose the arch, load the supernet checkpoint, collapse and cut it, write a temporary directory
 * and rename it into place (never over an existing one unless force). Never prints. */
#ifndef MOS_EXTRACT_RUN_H
#define MOS_EXTRACT_RUN_H

#include <stddef.h>
#include <stdio.h>

#include "arch.h"
#include "config.h"
#include "err.h"

typedef struct ExtractRequest {
    const char *run_dir;
    const char *config;       /* NULL: RUN_DIR/config.yml when present, else defaults */
    const char *checkpoint;   /* "last" or "prev" */
    const char *arch;         /* text form, "largest" or "smallest"; or NULL ... */
    int front;                /* ... then the front index when >= 0 ... */
    double latency_ms;        /* ... else the lowest-loss front point under this budget */
    const char *name;         /* NULL: arch-<hash> or lat-<X>ms */
    int force;                /* replace an existing RUN_DIR/subnets/NAME */
    FILE *warn_to;            /* config warnings (NULL: dropped) */
} ExtractRequest;

typedef struct ExtractResult {
    Arch arch;
    char arch_text[512];
    char why[160];            /* how the arch was chosen */
    char path[4300];          /* RUN_DIR/subnets/NAME */
    char checkpoint[4200];    /* the source checkpoint file */
    long step;                /* its training step */
    MosKind mos;              /* the supernet's MoS kind (collapsed) */
    size_t params;            /* parameters written */
    double pred_ms, valid_loss;   /* of the front point; NaN with an explicit arch */
    int has_spm_model;        /* 0: the run's data has no spm.model (translate --ids only) */
} ExtractResult;

/* 0, or -1 with a one-line error (bad arch or name, no front, no checkpoint, existing NAME). */
int extract_run(const ExtractRequest *req, ExtractResult *res, MosErr *err);

#endif
