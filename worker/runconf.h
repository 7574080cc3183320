/* Finding and reading a run's config for the one-shot commands and the worker: defaults, then
 * --config FILE or RUN_DIR/config.yml when it exists. Warnings go to the FILE given (or are
 * dropped when it is NULL). */
#ifndef MOS_RUNCONF_H
#define MOS_RUNCONF_H

#include <stdio.h>

#include "config.h"

/* run_dir and config may be NULL. Returns 0 or -1 with a one-line error. */
int runconf_load(const char *run_dir, const char *config, RunConfig *c, FILE *warn_to,
                 MosErr *err);

#endif
