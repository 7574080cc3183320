/* Where the dashboard's messages come from: a live worker (protocol's Clone client: SUB +
 * DEALER, snapshot + seq) or the replay of a run's event log (read incrementally, so a growing
 * file is followed). Sources feed the store and carry commands; they do not draw.
 * Invariant: draining is bounded per call, so a flood of messages cannot starve the keyboard. */
#ifndef TUI_SOURCE_H
#define TUI_SOURCE_H

#include <stddef.h>

#include "client.h"
#include "store.h"

typedef struct Source Source;

/* Called for each command reply (live sources only). */
typedef void (*SourceReply)(void *ctx, int conn, const MsgReply *r);

/* Connects to a worker's endpoints. 0, or -1 with err. */
int source_open_live(Source **out, void *zctx, const WireEndpoints *ep, char *err, size_t len);

/* Opens an event log for replay. 0, or -1 with err (cannot open). */
int source_open_replay(Source **out, const char *path, char *err, size_t len);

void source_destroy(Source **s);

int source_is_live(const Source *s);

/* Sockets (live) to include in the app's zmq_poll; returns how many were written. */
int source_pollitems(Source *s, zmq_pollitem_t *items, int max);

/* Applies up to max pending messages/snapshots to the store as connection conn; replies go to
 * on_reply. Returns the number of events handled (0: nothing pending), -1 on a source error
 * (err set; the source stays usable when it can recover). */
int source_drain(Source *s, Store *st, int conn, double now, int max, SourceReply on_reply,
                 void *ctx, char *err, size_t len);

/* 1 when the replay has more bytes it has not applied yet (the app keeps draining). */
int source_pending(const Source *s);

/* Sends a command; returns its id, or -1 with err (e.g. a replay cannot be controlled). */
int64_t source_command(Source *s, Cmd *cmd, char *err, size_t len);

/* Waits up to timeout_ms until a live worker's sockets have something to read (a snapshot
 * reply or a published message; nothing is consumed); 1 when they do. */
int source_wait_alive(Source *s, int timeout_ms);

#endif
