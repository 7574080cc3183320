/* What the job thread and the main thread share: the job state (pause/stop/checkpoint requests,
 * latency target), live progress for heartbeats, and a bounded queue of messages the job hands
 * over for publishing. One mutex guards it all; condition variables wake a paused job and a job
 * waiting for queue space; an eventfd wakes the main thread's poll when a message is queued.
 * The main thread owns every socket and the event log; the job thread never touches them.
 * Invariant: slots [head, head+count) are committed messages owned by the consumer; the slot
 * after them may be reserved by the (single) producer; nothing else is touched concurrently. */
#ifndef MOS_JOBCTL_H
#define MOS_JOBCTL_H

#include <pthread.h>

#include "msg.h"
#include "state.h"
#include "train.h"

#define JOBCTL_QUEUE 32

typedef struct JobProgress {
    char phase[PROTO_NAME_MAX + 1];   /* prepare, train, latency, search, extract, done */
    long step, total;
    double lr, tok_per_s, eta_s;      /* < 0: unknown */
    int pausable;                     /* 1 while the phase honours pause (polls often) */
} JobProgress;

typedef struct JobCtl {
    pthread_mutex_t mu;
    pthread_cond_t changed;        /* state or requests changed */
    pthread_cond_t space;          /* a queue slot was freed */
    WorkerState state;
    int checkpoint_requests;       /* pending checkpoint commands */
    double target_ms;              /* current latency target (<= 0: none) */
    JobProgress progress;
    Msg *slots;                    /* JOBCTL_QUEUE messages, allocated once */
    int head, count;
    int notify_fd;                 /* eventfd: readable while messages are queued */
    long long queue_waits;         /* times the job waited for a free slot */
} JobCtl;

/* Allocates the queue and the eventfd; the state starts as WSTATE_STARTING. */
int jobctl_init(JobCtl *c, MosErr *err);
void jobctl_done(JobCtl *c);

/* ---- job thread ---- */

/* Reserves the next slot (waiting while the queue is full), clears it for a message of type t
 * and returns it; fill m->u.<type> and call jobctl_msg_end. Header fields (seq, ts, worker) are
 * filled by the publisher. */
Msg *jobctl_msg_begin(JobCtl *c, MsgType t);
void jobctl_msg_end(JobCtl *c);

/* Queues a log line (printf-style), level "info", "warn" or "error". */
void jobctl_log(JobCtl *c, const char *level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* TrainHooks.poll for any job: blocks while paused (so a pause takes effect before the next
 * update), returns TRAIN_STOP once stop was asked, TRAIN_CHECKPOINT for each checkpoint request,
 * else TRAIN_CONTINUE. */
TrainAction jobctl_poll(JobCtl *c);

/* Updates the live progress shown in heartbeats (phase NULL: unchanged). */
void jobctl_set_progress(JobCtl *c, const char *phase, long step, long total, int pausable);
void jobctl_set_rates(JobCtl *c, double lr, double tok_per_s, double eta_s);

/* ---- main thread ---- */

/* The oldest committed message, or NULL; jobctl_pop releases it after it was published. */
Msg *jobctl_peek(JobCtl *c);
void jobctl_pop(JobCtl *c);

/* Clears the eventfd (call when woken by it, before draining with peek/pop). */
void jobctl_clear_notify(JobCtl *c);

/* Applies a command to the state through the transition table (state.h) and wakes the job.
 * Pause is refused while the current phase cannot pause. Returns 0 or -1 with err. */
int jobctl_command(JobCtl *c, WorkerCmd cmd, double target_ms, MosErr *err);

/* Job lifecycle: started moves starting -> running (a stop asked meanwhile is kept);
 * finished sets done (ok) or failed. */
void jobctl_started(JobCtl *c);
void jobctl_finished(JobCtl *c, int ok);

/* Consistent copies for the heartbeat. */
WorkerState jobctl_state(JobCtl *c);
void jobctl_snapshot_progress(JobCtl *c, JobProgress *p, double *target_ms);

#endif
