/* The worker state machine as one table (see state.h). A row per state, a column per command;
 * an entry is the next state, WSTATE_STAY for "allowed, no change", or -1 for "refused".
 * The table is the only place that decides legality; worker.c never special-cases a command. */
#include "state.h"

#include <string.h>

static const char *const state_names[WSTATE_COUNT] = {
    [WSTATE_STARTING] = "starting",         [WSTATE_RUNNING] = "running", [WSTATE_PAUSED] = "paused",
    [WSTATE_STOPPING] = "stopping", [WSTATE_DONE] = "done",       [WSTATE_FAILED] = "failed",
};

static const char *const cmd_names[WCMD_COUNT] = {
    [WCMD_PAUSE] = "pause",   [WCMD_RESUME] = "resume",   [WCMD_STOP] = "stop",
    [WCMD_CHECKPOINT] = "checkpoint", [WCMD_TARGET] = "target", [WCMD_EXTRACT] = "extract",
    [WCMD_SNAPSHOT] = "snapshot", [WCMD_STATUS] = "status",
};

#define NO (-1)
#define ST WSTATE_STAY

/* Rows: state; columns: pause resume stop checkpoint target extract snapshot status.
 * Reading aids: snapshot and status are always allowed (a finished run still answers them);
 * pause, resume and stop are idempotent (pausing a paused job is accepted and changes nothing),
 * so a client that retries after a lost reply gets the same answer; nothing but snapshot and
 * status is accepted once the job is stopping or over. */
static const int transitions[WSTATE_COUNT][WCMD_COUNT] = {
    /*                  pause          resume          stop             ckpt target extr snap stat */
    [WSTATE_STARTING] = {NO,            NO,             WSTATE_STOPPING, NO, ST,    NO,  ST, ST},
    [WSTATE_RUNNING]  = {WSTATE_PAUSED, ST,             WSTATE_STOPPING, ST, ST,    ST,  ST, ST},
    [WSTATE_PAUSED]   = {ST,            WSTATE_RUNNING, WSTATE_STOPPING, ST, ST,    ST,  ST, ST},
    [WSTATE_STOPPING] = {NO,            NO,             ST,              NO, NO,    NO,  ST, ST},
    [WSTATE_DONE]     = {NO,            NO,             NO,              NO, NO,    NO,  ST, ST},
    [WSTATE_FAILED]   = {NO,            NO,             NO,              NO, NO,    NO,  ST, ST},
};

const char *state_name(WorkerState s)
{
    return (unsigned)s < WSTATE_COUNT ? state_names[s] : "?";
}

const char *state_cmd_name(WorkerCmd c)
{
    return (unsigned)c < WCMD_COUNT ? cmd_names[c] : "?";
}

int state_cmd_parse(const char *name, size_t len)
{
    for (int c = 0; c < WCMD_COUNT; c++)
        if (strlen(cmd_names[c]) == len && memcmp(cmd_names[c], name, len) == 0)
            return c;
    return -1;
}

int state_allowed(WorkerState s, WorkerCmd c)
{
    ASSERT((unsigned)s < WSTATE_COUNT && (unsigned)c < WCMD_COUNT);
    return transitions[s][c] != NO;
}

int state_apply(WorkerState s, WorkerCmd c, WorkerState *next, MosErr *err)
{
    if (!state_allowed(s, c))
        return err_set(err, "%s: not allowed while %s", cmd_names[c], state_names[s]);
    int t = transitions[s][c];
    *next = t == ST ? s : (WorkerState)t;
    return 0;
}

int state_is_final(WorkerState s)
{
    return s == WSTATE_DONE || s == WSTATE_FAILED;
}
