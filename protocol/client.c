/* Clone-pattern client (see client.h): SUB first, snapshot over DEALER, then in-order updates.
 * While no snapshot is applied the SUB socket is not read, so updates queue in it (up to the
 * HWM) and the ones at or below the snapshot seq are dropped when reading resumes.
 * Does no drawing and keeps no history: the caller's store does. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "client.h"
#include "msg_internal.h"

#define CLIENT_SUB_STREAK 64

struct Client {
    void *sub, *dealer;
    Msg *msg;                 /* last delivered update (heap: ~80 KB) */
    MsgReply *reply;          /* last delivered reply (heap: ~1 MB) */
    MsgBuf buf;
    int64_t next_id;
    int64_t snap_id;          /* pending snapshot request; -1 none (synced), -2 retry due */
    double snap_sent_ms;
    bool synced;
    int64_t last_seq;
    char worker[PROTO_NAME_MAX + 1];
    double last_rx_ms;
    int sub_streak;           /* updates received since the DEALER was last looked at */
    ClientStats stats;
};

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

int64_t client_command(Client *c, Cmd *cmd, ProtoErr *e)
{
    cmd->args.id = c->next_id++;
    if (msg_cmd_encode(cmd, &c->buf, e) < 0)
        return -1;
    int rc = wire_send_body(c->dealer, c->buf.data, c->buf.len);
    if (rc != 0)
        return proto_err(e, "cannot send %s: %s", msg_cmd_name(cmd->kind),
                         rc > 0 ? "command queue full" : zmq_strerror(zmq_errno()));
    return cmd->args.id;
}

int client_resync(Client *c, ProtoErr *e)
{
    Cmd cmd = { .kind = CMD_SNAPSHOT };
    c->synced = false;
    int64_t id = client_command(c, &cmd, e);
    c->snap_id = id < 0 ? -2 : id;
    c->snap_sent_ms = now_ms();
    return id < 0 ? -1 : 0;
}

int client_new(void *ctx, const WireEndpoints *ep, const WireCurve *curve, Client **out,
               ProtoErr *e)
{
    Client *c = calloc(1, sizeof *c);
    *out = NULL;
    if (!c || !(c->msg = malloc(sizeof *c->msg)) || !(c->reply = malloc(sizeof *c->reply))) {
        client_destroy(&c);
        return proto_err(e, "out of memory");
    }
    msg_buf_init(&c->buf);
    c->next_id = 1;
    c->snap_id = -1;
    c->last_rx_ms = now_ms();
    c->sub = wire_connect(ctx, ZMQ_SUB, ep->pub, curve, e);       /* subscribe first */
    if (c->sub)
        c->dealer = wire_connect(ctx, ZMQ_DEALER, ep->ctl, curve, e);
    /* the DEALER queues the request until the connection is up */
    if (!c->dealer || client_resync(c, e) < 0) {
        client_destroy(&c);
        return -1;
    }
    *out = c;
    return 0;
}

void client_destroy(Client **c)
{
    if (!*c)
        return;
    wire_close(&(*c)->sub);
    wire_close(&(*c)->dealer);
    msg_buf_done(&(*c)->buf);
    free((*c)->msg);
    free((*c)->reply);
    free(*c);
    *c = NULL;
}

/* A reply frame: the snapshot we wait for, a reply to a command, or noise. */
static ClientEv on_reply(Client *c, const void *data, size_t n, ProtoErr *e)
{
    if (msg_reply_decode(data, n, c->reply, e) < 0) {
        c->stats.bad++;
        return CLIENT_EV_NONE;
    }
    c->last_rx_ms = now_ms();
    if (c->reply->id != c->snap_id || c->snap_id < 0)
        return CLIENT_EV_REPLY;
    c->snap_id = -1;
    if (!c->reply->ok || !c->reply->has_snapshot) {
        c->snap_id = -2;              /* refused: asked again after the retry delay */
        return CLIENT_EV_REPLY;
    }
    c->synced = true;
    c->last_seq = c->reply->snapshot.seq;
    memcpy(c->worker, c->reply->snapshot.worker, sizeof c->worker);
    c->stats.snapshots++;
    return CLIENT_EV_SNAPSHOT;
}

/* An update from SUB: deliver if it is the next one; drop old ones; resync on a gap. */
static ClientEv on_update(Client *c, WireFrames *f, ProtoErr *e)
{
    if (f->n != 2 || msg_decode(wire_frame_data(f, 1), wire_frame_size(f, 1), c->msg, e) < 0 ||
        wire_frame_size(f, 0) != strlen(msg_type_name(c->msg->type)) ||
        memcmp(wire_frame_data(f, 0), msg_type_name(c->msg->type), wire_frame_size(f, 0)) != 0) {
        c->stats.bad++;
        return CLIENT_EV_NONE;
    }
    c->last_rx_ms = now_ms();
    if (strcmp(c->msg->worker, c->worker) != 0 || c->msg->seq > c->last_seq + 1) {
        if (strcmp(c->msg->worker, c->worker) == 0)
            c->stats.gaps++;
        client_resync(c, e);          /* a send failure is retried by the timer */
        return CLIENT_EV_NONE;
    }
    if (c->msg->seq <= c->last_seq) {
        c->stats.stale_dropped++;
        return CLIENT_EV_NONE;
    }
    c->last_seq = c->msg->seq;
    c->stats.msgs++;
    return CLIENT_EV_MSG;
}

/* Time to ask for a snapshot again: none applied, the last request is older than
 * CLIENT_SNAPSHOT_RETRY_MS, and the worker shows life (a reply since, or SUB has data).
 * While the worker is away nothing is re-sent: the one queued request reaches it when it
 * comes back, instead of a burst of them. */
static bool snapshot_overdue(Client *c)
{
    if (c->synced || now_ms() - c->snap_sent_ms <= CLIENT_SNAPSHOT_RETRY_MS)
        return false;
    if (c->snap_id == -2 || c->last_rx_ms > c->snap_sent_ms)
        return true;
    zmq_pollitem_t item = { .socket = c->sub, .events = ZMQ_POLLIN };
    return zmq_poll(&item, 1, 0) > 0;
}

/* A reply on the DEALER, if one is queued: 1 handled (ev may be NONE), 0 none, -1 error. */
static int step_dealer(Client *c, ClientEv *ev, ProtoErr *e)
{
    WireFrames f;
    int rc = wire_recv(c->dealer, &f, 0, e);
    if (rc == -2) {
        c->stats.bad++;
        return 1;
    }
    if (rc > 0) {
        *ev = f.n == 1 ? on_reply(c, wire_frame_data(&f, 0), wire_frame_size(&f, 0), e)
                       : CLIENT_EV_NONE;
        if (f.n != 1)
            c->stats.bad++;
        wire_frames_close(&f);
    }
    return rc;
}

/* An update on the SUB socket, the same way. */
static int step_sub(Client *c, ClientEv *ev, ProtoErr *e)
{
    WireFrames f;
    int rc = wire_recv(c->sub, &f, 0, e);
    if (rc == -2) {
        c->stats.bad++;
        return 1;
    }
    if (rc > 0) {
        *ev = on_update(c, &f, e);
        wire_frames_close(&f);
    }
    return rc;
}

/* Handles whatever is readable right now; NONE when nothing for the caller. Replies come
 * first, but while updates stream in the DEALER is looked at only every CLIENT_SUB_STREAK
 * updates and when SUB runs dry: a receive on an empty socket costs a system call, which per
 * update would be most of a busy client's work. */
static int client_step(Client *c, ClientEv *ev, ProtoErr *e)
{
    *ev = CLIENT_EV_NONE;
    int rc, sub_dry = 0;
    if (c->synced && c->sub_streak > 0 && c->sub_streak < CLIENT_SUB_STREAK) {
        rc = step_sub(c, ev, e);
        if (rc != 0) {
            c->sub_streak++;
            return rc;
        }
        sub_dry = 1;
    }
    c->sub_streak = 0;
    rc = step_dealer(c, ev, e);
    if (rc != 0 || !c->synced || sub_dry)
        return rc;
    rc = step_sub(c, ev, e);
    c->sub_streak = rc > 0;
    return rc;
}

int client_poll(Client *c, int timeout_ms, ClientEv *ev, ProtoErr *e)
{
    double deadline = now_ms() + (timeout_ms > 0 ? timeout_ms : 0);
    for (;;) {
        if (snapshot_overdue(c))
            client_resync(c, e);          /* lost or refused snapshot: ask again */
        int rc;
        do {
            rc = client_step(c, ev, e);
            if (rc < 0)
                return -1;
            if (*ev != CLIENT_EV_NONE)
                return 0;
        } while (rc > 0);
        double left = deadline - now_ms();
        if (left <= 0)
            return 0;
        zmq_pollitem_t items[2];
        int n = client_pollitems(c, items, 2);
        int wait = left < 100 ? (int)left + 1 : 100;     /* wake for the snapshot timer */
        if (zmq_poll(items, n, wait) < 0 && zmq_errno() != EINTR)
            return proto_err(e, "poll: %s", zmq_strerror(zmq_errno()));
    }
}

int client_pollitems(Client *c, zmq_pollitem_t *items, int max)
{
    int n = 0;
    if (n < max)
        items[n++] = (zmq_pollitem_t){ .socket = c->dealer, .events = ZMQ_POLLIN };
    if (n < max && c->synced)
        items[n++] = (zmq_pollitem_t){ .socket = c->sub, .events = ZMQ_POLLIN };
    return n;
}

const Msg *client_msg(const Client *c) { return c->msg; }
const MsgReply *client_reply(const Client *c) { return c->reply; }
bool client_synced(const Client *c) { return c->synced; }
bool client_stale(const Client *c) { return now_ms() - c->last_rx_ms > CLIENT_STALE_MS; }
int64_t client_last_seq(const Client *c) { return c->last_seq; }
ClientStats client_stats(const Client *c) { return c->stats; }

int client_call(void *ctx, const WireEndpoints *ep, const WireCurve *curve, Cmd *cmd,
                MsgReply *reply, int timeout_ms, ProtoErr *e)
{
    MsgBuf b;
    WireFrames f;
    msg_buf_init(&b);
    void *s = wire_connect(ctx, ZMQ_DEALER, ep->ctl, curve, e);
    int rc = s ? msg_cmd_encode(cmd, &b, e) : -1;
    if (rc == 0 && wire_send_body(s, b.data, b.len) != 0)
        rc = proto_err(e, "cannot send %s to %s", msg_cmd_name(cmd->kind), ep->ctl);
    double deadline = now_ms() + timeout_ms;
    while (rc == 0) {
        double left = deadline - now_ms();
        int got = left > 0 ? wire_recv(s, &f, (int)left + 1, e) : 0;
        if (got <= 0) {
            rc = got < 0 ? -1 : proto_err(e, "no reply from %s within %d ms (is the worker "
                                          "running?)", ep->ctl, timeout_ms);
            break;
        }
        bool mine = f.n == 1 &&
            msg_reply_decode(wire_frame_data(&f, 0), wire_frame_size(&f, 0), reply, e) == 0 &&
            reply->id == cmd->args.id;
        wire_frames_close(&f);
        if (mine)
            break;
    }
    wire_close(&s);
    msg_buf_done(&b);
    return rc;
}
