/* Job/main-thread handover (see jobctl.h): a ring of preallocated messages, state requests, and
 * a blocking poll for the job. No allocation after init; the job blocks only while paused or when
 * the main thread is JOBCTL_QUEUE messages behind (it drains within milliseconds). */
#include "jobctl.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

int jobctl_init(JobCtl *c, MosErr *err)
{
    memset(c, 0, sizeof *c);
    c->slots = calloc(JOBCTL_QUEUE, sizeof *c->slots);
    if (!c->slots)
        return err_set(err, "out of memory for the event queue");
    c->notify_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (c->notify_fd < 0) {
        free(c->slots);
        return err_set(err, "eventfd: %s", strerror(errno));
    }
    pthread_mutex_init(&c->mu, NULL);
    pthread_cond_init(&c->changed, NULL);
    pthread_cond_init(&c->space, NULL);
    c->state = WSTATE_STARTING;
    snprintf(c->progress.phase, sizeof c->progress.phase, "idle");
    c->progress.lr = c->progress.tok_per_s = c->progress.eta_s = -1.0;
    return 0;
}

void jobctl_done(JobCtl *c)
{
    if (!c->slots)
        return;
    pthread_cond_destroy(&c->space);
    pthread_cond_destroy(&c->changed);
    pthread_mutex_destroy(&c->mu);
    close(c->notify_fd);
    free(c->slots);
    memset(c, 0, sizeof *c);
}

Msg *jobctl_msg_begin(JobCtl *c, MsgType t)
{
    pthread_mutex_lock(&c->mu);
    if (c->count == JOBCTL_QUEUE)
        c->queue_waits++;
    while (c->count == JOBCTL_QUEUE)
        pthread_cond_wait(&c->space, &c->mu);
    Msg *m = &c->slots[(c->head + c->count) % JOBCTL_QUEUE];
    pthread_mutex_unlock(&c->mu);
    /* Clear the header and only the body in use: a whole Msg is ~80 KB. */
    memset(m, 0, offsetof(Msg, u));
    memset(&m->u, 0, msg_type_rec(t)->size);
    m->type = t;
    return m;
}

void jobctl_msg_end(JobCtl *c)
{
    pthread_mutex_lock(&c->mu);
    c->count++;
    pthread_mutex_unlock(&c->mu);
    uint64_t one = 1;
    ssize_t n = write(c->notify_fd, &one, sizeof one);
    (void)n;   /* EAGAIN only when the counter is saturated: the main thread is awake anyway */
}

void jobctl_log(JobCtl *c, const char *level, const char *fmt, ...)
{
    Msg *m = jobctl_msg_begin(c, MSG_LOG);
    snprintf(m->u.log.level, sizeof m->u.log.level, "%s", level);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(m->u.log.text, sizeof m->u.log.text, fmt, ap);
    va_end(ap);
    jobctl_msg_end(c);
}

TrainAction jobctl_poll(JobCtl *c)
{
    pthread_mutex_lock(&c->mu);
    while (c->state == WSTATE_PAUSED)
        pthread_cond_wait(&c->changed, &c->mu);
    TrainAction a = TRAIN_CONTINUE;
    if (c->state == WSTATE_STOPPING) {
        a = TRAIN_STOP;
    } else if (c->checkpoint_requests > 0) {
        c->checkpoint_requests = 0;   /* several requests before the next poll: one checkpoint */
        a = TRAIN_CHECKPOINT;
    }
    pthread_mutex_unlock(&c->mu);
    return a;
}

void jobctl_set_progress(JobCtl *c, const char *phase, long step, long total, int pausable)
{
    pthread_mutex_lock(&c->mu);
    if (phase && strcmp(phase, c->progress.phase) != 0) {
        /* A new phase: the previous one's lr, tok/s and ETA no longer describe the work. */
        snprintf(c->progress.phase, sizeof c->progress.phase, "%s", phase);
        c->progress.lr = c->progress.tok_per_s = c->progress.eta_s = -1.0;
    }
    c->progress.step = step;
    c->progress.total = total;
    c->progress.pausable = pausable;
    pthread_mutex_unlock(&c->mu);
}

void jobctl_set_rates(JobCtl *c, double lr, double tok_per_s, double eta_s)
{
    pthread_mutex_lock(&c->mu);
    c->progress.lr = lr;
    c->progress.tok_per_s = tok_per_s;
    c->progress.eta_s = eta_s;
    pthread_mutex_unlock(&c->mu);
}

Msg *jobctl_peek(JobCtl *c)
{
    pthread_mutex_lock(&c->mu);
    Msg *m = c->count > 0 ? &c->slots[c->head] : NULL;
    pthread_mutex_unlock(&c->mu);
    return m;
}

void jobctl_pop(JobCtl *c)
{
    pthread_mutex_lock(&c->mu);
    ASSERT(c->count > 0);
    c->head = (c->head + 1) % JOBCTL_QUEUE;
    c->count--;
    pthread_cond_signal(&c->space);
    pthread_mutex_unlock(&c->mu);
}

void jobctl_clear_notify(JobCtl *c)
{
    uint64_t v;
    ssize_t n = read(c->notify_fd, &v, sizeof v);
    (void)n;   /* EAGAIN: nothing was pending */
}

int jobctl_command(JobCtl *c, WorkerCmd cmd, double target_ms, MosErr *err)
{
    pthread_mutex_lock(&c->mu);
    WorkerState next;
    int rc = state_apply(c->state, cmd, &next, err);
    if (rc == 0 && cmd == WCMD_PAUSE && c->state == WSTATE_RUNNING && !c->progress.pausable)
        rc = err_set(err, "pause: the %s phase cannot pause (stop ends it at the next stage)",
                     c->progress.phase);
    if (rc == 0) {
        c->state = next;
        if (cmd == WCMD_CHECKPOINT)
            c->checkpoint_requests++;
        if (cmd == WCMD_TARGET)
            c->target_ms = target_ms;
        pthread_cond_broadcast(&c->changed);
    }
    pthread_mutex_unlock(&c->mu);
    return rc;
}

void jobctl_started(JobCtl *c)
{
    pthread_mutex_lock(&c->mu);
    if (c->state == WSTATE_STARTING)   /* a stop asked while starting stays a stop */
        c->state = WSTATE_RUNNING;
    pthread_cond_broadcast(&c->changed);
    pthread_mutex_unlock(&c->mu);
}

void jobctl_finished(JobCtl *c, int ok)
{
    pthread_mutex_lock(&c->mu);
    c->state = ok ? WSTATE_DONE : WSTATE_FAILED;
    pthread_cond_broadcast(&c->changed);
    pthread_mutex_unlock(&c->mu);
}

WorkerState jobctl_state(JobCtl *c)
{
    pthread_mutex_lock(&c->mu);
    WorkerState s = c->state;
    pthread_mutex_unlock(&c->mu);
    return s;
}

void jobctl_snapshot_progress(JobCtl *c, JobProgress *p, double *target_ms)
{
    pthread_mutex_lock(&c->mu);
    *p = c->progress;
    *target_ms = c->target_ms;
    pthread_mutex_unlock(&c->mu);
}
