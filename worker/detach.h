/* Starting a worker in the background: double fork (the worker is re-parented to init and has no
 * controlling terminal), stdin from /dev/null, stdout and stderr to <run dir>/worker.log, and a
 * pipe on which the worker reports "ok" once its endpoints.json is written (or the error that
 * stopped it). Called before any ZeroMQ context exists in the calling process. */
#ifndef MOS_DETACH_H
#define MOS_DETACH_H

#include "worker.h"

/* Starts o's worker detached and waits until it is ready. Returns 0 and its pid, or -1 with err
 * (the worker's own error when it failed to start). */
int detach_worker(const WorkerOpts *o, long *pid, MosErr *err);

/* 1 when a worker process holds the run directory's lock (a worker is running there). */
int detach_worker_running(const char *run_dir, long *pid);

#endif
