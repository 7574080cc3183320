/* The publishing path of the worker's main thread: number a message (seq), encode it, append it
 * to the event log, record it in the snapshot history, then hand it to the PUB socket through a
 * send callback that must never block. Also builds snapshot replies and rebuilds the history
 * from an existing event log (worker restart, --resume). Owns no socket itself, so it is tested
 * without ZeroMQ. Invariant: a message is published only after it is in the event log, and seq
 * increases by one per published message across restarts of the worker. */
#ifndef MOS_PUBLISH_H
#define MOS_PUBLISH_H

#include "eventlog.h"
#include "history.h"
#include "msg.h"

/* Sends one message without blocking; returns 0 when sent, -1 when dropped (slow subscribers
 * are left to re-snapshot). */
typedef int (*PublishSend)(void *ctx, const char *topic, const void *body, size_t len);

/* The worker's coalescing window: messages published within this long of the last send wait and
 * go out together, so a fast job (a tiny config publishes ~1,000 messages a second) costs each
 * subscriber one wake-up per window instead of one per message. A message after a quiet spell
 * is sent at once. */
#define PUBLISH_COALESCE_MS 10
#define PUBLISH_PENDING_MAX (256 * 1024)   /* bytes held back at most before a forced send */

typedef struct Publisher {
    EventLog log;
    History hist;
    int64_t seq;                         /* last seq published (or found in the log) */
    char worker[PROTO_NAME_MAX + 1];     /* header `worker`: host:pid */
    MsgBuf buf;
    Msg *scratch;                        /* decode space for rebuilding and snapshots */
    PublishSend send;
    void *send_ctx;
    int coalesce_ms;                     /* 0: send each message at once */
    unsigned char *pending;              /* held back: [u8 topic len][topic][u32 len][body]... */
    size_t pending_len, pending_cap;
    double last_send;                    /* monotonic seconds of the last send */
    long long published, send_drops, log_failures, bad_log_records;
} Publisher;

/* Opens run_dir's event log (dropping a torn tail, reported in *scan when not NULL), rebuilds the
 * history from it and continues its seq. Returns 0 or -1 with err (e.g. corrupt log). */
int publisher_open(Publisher *p, const char *run_dir, const char *worker, EventLogScan *scan,
                   MosErr *err);
void publisher_close(Publisher *p);

/* Fills m's header (seq, ts, worker), logs, records and sends it (with coalesce_ms > 0: at once
 * when nothing was sent within the window, else held back for publisher_flush). A message that cannot be
 * encoded is a programming error in the job (ASSERT). Returns 0, or -1 with err when the event
 * log cannot be written (the message is then not published either). */
int publisher_publish(Publisher *p, Msg *m, MosErr *err);

/* Sends every held-back message, oldest first (a no-op when none is held). */
void publisher_flush(Publisher *p);

/* Milliseconds until held-back messages are due (0: now; the caller then calls
 * publisher_flush), or -1 when none is held. */
int publisher_flush_due_ms(const Publisher *p);

/* Records a decoded message in the history (used by publish and by the rebuild). */
void publisher_record(History *h, const Msg *m, const void *body, size_t len);

/* Fills snap (caller-zeroed, ~1 MB: heap) with the current status, every series (downsampled to
 * PROTO_POINTS_MAX points), the latest gates/latency/search/front/extract and the last log lines,
 * and seq = the last published seq. */
void publisher_snapshot(Publisher *p, const MsgStatus *status, MsgSnapshot *snap);

#endif
