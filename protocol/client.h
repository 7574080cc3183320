/* The Clone-pattern client shared by `mos watch`, `mos ctl` and the dashboard: SUB + DEALER to
 * one worker; subscribes first, asks for a snapshot, then delivers only updates with
 * seq > the snapshot's seq, in order; a gap, a new worker id or a lost snapshot reply triggers
 * a new snapshot. Does not interpret message contents and never blocks longer than asked.
 * Invariant: after a CLIENT_EV_SNAPSHOT, CLIENT_EV_MSGs come with seq = previous seq + 1. */
#ifndef MOS_PROTOCOL_CLIENT_H
#define MOS_PROTOCOL_CLIENT_H

#include "msg.h"
#include "wire.h"

#define CLIENT_SNAPSHOT_RETRY_MS 2000   /* re-ask when the snapshot reply takes longer */
#define CLIENT_STALE_MS          3000   /* no message for this long: the worker is stale */

typedef enum ClientEv {
    CLIENT_EV_NONE,        /* timeout */
    CLIENT_EV_SNAPSHOT,    /* client_reply() holds a snapshot reply: reset state from it */
    CLIENT_EV_MSG,         /* client_msg() holds the next update */
    CLIENT_EV_REPLY,       /* client_reply() holds the reply to a client_command() */
} ClientEv;

typedef struct ClientStats {
    long msgs;             /* updates delivered */
    long stale_dropped;    /* updates at or below the snapshot seq (expected after a snapshot) */
    long gaps;             /* seq gaps seen (each starts a new snapshot) */
    long bad;              /* undecodable frames dropped */
    long snapshots;        /* snapshots applied */
} ClientStats;

typedef struct Client Client;

/* Connects to ep (curve: NULL for plain) and queues the first snapshot request (delivered when
 * the connection is up). A request without a reply is repeated every
 * CLIENT_SNAPSHOT_RETRY_MS, but only while the worker shows signs of life. */
int  client_new(void *ctx, const WireEndpoints *ep, const WireCurve *curve, Client **out,
                ProtoErr *e);
void client_destroy(Client **c);

/* Waits up to timeout_ms for the next event (0: do not wait). -1 on a socket error. */
int client_poll(Client *c, int timeout_ms, ClientEv *ev, ProtoErr *e);

/* The sockets to include in a caller's own zmq_poll (e.g. with stdin); returns the count.
 * After one of them is readable, call client_poll(c, 0, ...) until it returns NONE. */
int client_pollitems(Client *c, zmq_pollitem_t *items, int max);

/* Valid after the event that announced them, until the next client_poll. */
const Msg      *client_msg(const Client *c);
const MsgReply *client_reply(const Client *c);

/* Sends a command (args.id is assigned and returned; < 0 with e set when it cannot be sent).
 * It is queued while the worker is unreachable. Its reply arrives as CLIENT_EV_REPLY with the
 * same id. */
int64_t client_command(Client *c, Cmd *cmd, ProtoErr *e);

/* Asks for a new snapshot now (e.g. on a user's request). */
int client_resync(Client *c, ProtoErr *e);

bool        client_synced(const Client *c);      /* a snapshot has been applied */
bool        client_stale(const Client *c);       /* nothing heard for CLIENT_STALE_MS */
int64_t     client_last_seq(const Client *c);
ClientStats client_stats(const Client *c);

/* One-shot request/reply over a fresh DEALER (for `mos ctl`): sends cmd, waits up to
 * timeout_ms for the reply with its id. 0 with *reply filled (which may be ok:false), -1 on
 * timeout or error (e says which). reply may be ~1 MB with a snapshot: heap-allocate it. */
int client_call(void *ctx, const WireEndpoints *ep, const WireCurve *curve, Cmd *cmd,
                MsgReply *reply, int timeout_ms, ProtoErr *e);

#endif
