/* The job a worker runs: one stage or the whole pipeline (prepare -> train -> later stages), as
 * one table of stages. Runs in the worker's job thread and reports only through JobCtl. */
#ifndef MOS_PIPELINE_H
#define MOS_PIPELINE_H

#include "jobctl.h"

typedef struct JobEnv {
    JobCtl *ctl;
    const char *run_dir;
    const char *config;      /* NULL: run_dir/config.yml when present, else defaults */
    const char *stage;
    int resume;
} JobEnv;

/* Returns 1 when name is a stage this build can run (or "all"); fills err otherwise with the
 * list of available stages. */
int pipeline_check_stage(const char *name, MosErr *err);

/* Runs env->stage ("all": every available stage in order, skipping prepare when data/ exists).
 * A stop request ends it at the next poll or between stages. Returns 0, or -1 with err. */
int pipeline_run(const JobEnv *env, MosErr *err);

#endif
