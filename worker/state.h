/* The worker's job state machine: one table of which command is allowed in which state and what
 * state it leads to. Pure data and lookups: no threads, no sockets; worker.c applies the result.
 * Invariant: every (state, command) pair has an entry; a pair not allowed yields an error code and
 * a one-line message, and never changes the state. */
#ifndef MOS_STATE_H
#define MOS_STATE_H

#include "err.h"

typedef enum WorkerState {
    WSTATE_STARTING,   /* the job is being set up */
    WSTATE_RUNNING,
    WSTATE_PAUSED,
    WSTATE_STOPPING,   /* stop asked: the job writes a checkpoint and returns */
    WSTATE_DONE,       /* the job finished (or stopped) cleanly */
    WSTATE_FAILED,     /* the job returned an error */
    WSTATE_COUNT
} WorkerState;

typedef enum WorkerCmd {
    WCMD_PAUSE,
    WCMD_RESUME,
    WCMD_STOP,
    WCMD_CHECKPOINT,
    WCMD_TARGET,       /* set the latency target (ms) */
    WCMD_EXTRACT,      /* extract an arch (or the K-th arch of the current front) */
    WCMD_SNAPSHOT,
    WCMD_STATUS,
    WCMD_COUNT
} WorkerCmd;

/* What a legal command does to the state (STAY: unchanged). */
#define WSTATE_STAY WSTATE_COUNT

/* Error codes of refused commands (the `code` of an error reply). */
#define STATE_ERR_ILLEGAL "illegal_state"

const char *state_name(WorkerState s);          /* "running", ... */
const char *state_cmd_name(WorkerCmd c);        /* "pause", ... */

/* Looks a command up by its wire name; returns -1 when unknown. */
int state_cmd_parse(const char *name, size_t len);

/* Returns 1 when c is allowed in s. */
int state_allowed(WorkerState s, WorkerCmd c);

/* Applies c in state s. On success returns 0 and stores the next state in *next (s itself for
 * commands that do not change it). When c is not allowed in s, returns -1, leaves *next
 * untouched and fills err with e.g. "resume: not allowed while running". */
int state_apply(WorkerState s, WorkerCmd c, WorkerState *next, MosErr *err);

/* 1 for states in which no job runs any more (done, failed). */
int state_is_final(WorkerState s);

#endif
