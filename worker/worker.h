/* The background worker (`mos worker`): runs one job (a pipeline stage or all of them) in a job
 * thread while the main thread owns the sockets: it answers commands within 100 ms whatever the
 * job does, heartbeats every second, and publishes the job's events after logging them.
 * It never writes to stdout; diagnostics go to <run dir>/worker.log. */
#ifndef MOS_WORKER_H
#define MOS_WORKER_H

#include "err.h"

typedef struct WorkerOpts {
    const char *run_dir;
    const char *stage;       /* prepare, train, latency, search, all */
    const char *config;      /* YAML config file; NULL: run_dir/config.yml or defaults */
    const char *bind;        /* endpoint base (tcp://HOST[:PORT] or ipc://DIR); NULL: default */
    const char *curve_dir;   /* CURVE keys + allow-list directory; NULL: no CURVE */
    int resume;
    int ready_fd;            /* >= 0: write "ok\n" or "error: ...\n" here once bound, then close */
} WorkerOpts;

/* Runs the worker until its job ends (or it is stopped or signalled: SIGINT/SIGTERM stop the job
 * with a checkpoint). Returns 0 when the job finished or was stopped cleanly, -1 with err when
 * the worker could not start or the job failed. */
int worker_main(const WorkerOpts *o, MosErr *err);

#endif
