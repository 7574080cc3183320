/* Message sources for the dashboard (see source.h): the live client from protocol/client.h and
 * an event-log reader built on protocol/stream.h. Decoding is protocol's; this file only moves
 * decoded messages into the store. The replay reads the file through one fixed buffer (grown
 * only for a record larger than it), so memory stays flat however long the log is. */
#include "source.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "stream.h"

#define REPLAY_BUF (1u << 20)

struct Source {
    int live;
    Client *client;
    /* replay */
    int fd;
    char path[1024];
    unsigned char *buf;
    size_t cap, len, off;           /* bytes [off, len) of buf are unread */
    int eof;
    long long records, bad;
    Msg *msg;                       /* decode space (~80 KB) */
};

int source_open_live(Source **out, void *zctx, const WireEndpoints *ep, char *err, size_t len)
{
    Source *s = calloc(1, sizeof *s);
    if (!s) {
        snprintf(err, len, "out of memory");
        return -1;
    }
    ProtoErr e;
    s->live = 1;
    s->fd = -1;
    if (client_new(zctx, ep, NULL, &s->client, &e) != 0) {
        snprintf(err, len, "%s", e.msg);
        free(s);
        return -1;
    }
    *out = s;
    return 0;
}

int source_open_replay(Source **out, const char *path, char *err, size_t len)
{
    Source *s = calloc(1, sizeof *s);
    unsigned char *buf = malloc(REPLAY_BUF);
    Msg *msg = malloc(sizeof *msg);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (!s || !buf || !msg || fd < 0) {
        snprintf(err, len, "%s: cannot open the event log: %s", path,
                 fd < 0 ? strerror(errno) : "out of memory");
        if (fd >= 0)
            close(fd);
        free(s), free(buf), free(msg);
        return -1;
    }
    s->fd = fd;
    s->buf = buf;
    s->cap = REPLAY_BUF;
    s->msg = msg;
    snprintf(s->path, sizeof s->path, "%s", path);
    *out = s;
    return 0;
}

void source_destroy(Source **sp)
{
    Source *s = sp ? *sp : NULL;
    if (!s)
        return;
    client_destroy(&s->client);
    if (s->fd >= 0)
        close(s->fd);
    free(s->buf);
    free(s->msg);
    free(s);
    *sp = NULL;
}

int source_is_live(const Source *s)
{
    return s->live;
}

int source_pollitems(Source *s, zmq_pollitem_t *items, int max)
{
    return s->live ? client_pollitems(s->client, items, max) : 0;
}

static int live_drain(Source *s, Store *st, int conn, double now, int max, SourceReply on_reply,
                      void *ctx, char *err, size_t len)
{
    int n = 0;
    for (; n < max; n++) {
        ClientEv ev;
        ProtoErr e;
        if (client_poll(s->client, 0, &ev, &e) != 0) {
            snprintf(err, len, "%s", e.msg);
            return -1;
        }
        if (ev == CLIENT_EV_NONE)
            break;
        if (ev == CLIENT_EV_MSG)
            store_apply(st, conn, client_msg(s->client), now);
        else if (ev == CLIENT_EV_SNAPSHOT && client_reply(s->client)->has_snapshot)
            store_apply_snapshot(st, conn, &client_reply(s->client)->snapshot, now);
        else if (ev == CLIENT_EV_REPLY && on_reply)
            on_reply(ctx, conn, client_reply(s->client));
    }
    return n;
}

/* Moves unread bytes to the front and reads more; 0 when nothing new was read. */
static int replay_fill(Source *s)
{
    if (s->off > 0) {
        memmove(s->buf, s->buf + s->off, s->len - s->off);
        s->len -= s->off;
        s->off = 0;
    }
    if (s->len == s->cap) {   /* one record larger than the buffer: grow (rare, bounded) */
        if (s->cap >= PROTO_MSG_MAX * 2u)
            return -1;
        unsigned char *nb = realloc(s->buf, s->cap * 2);
        if (!nb)
            return -1;
        s->buf = nb;
        s->cap *= 2;
    }
    ssize_t r = read(s->fd, s->buf + s->len, s->cap - s->len);
    if (r <= 0) {
        s->eof = 1;
        return 0;
    }
    s->eof = 0;
    s->len += (size_t)r;
    return 1;
}

static int replay_drain(Source *s, Store *st, int conn, double now, int max, char *err,
                        size_t len)
{
    int n = 0;
    while (n < max) {
        MsgRecord rec;
        ProtoErr e;
        int rc = msg_stream_next(s->buf, s->len, &s->off, &rec, &e);
        if (rc < 0) {
            snprintf(err, len, "%s: %s (replay stopped)", s->path, e.msg);
            s->off = s->len;
            s->eof = 1;
            lseek(s->fd, 0, SEEK_END);
            return -1;
        }
        if (rc == 0) {
            if (replay_fill(s) <= 0)
                break;
            continue;
        }
        s->records++;
        if (msg_decode(rec.body, rec.body_len, s->msg, &e) != 0) {
            s->bad++;   /* e.g. written by a newer version: skipped, counted */
            continue;
        }
        store_apply(st, conn, s->msg, now);
        n++;
    }
    return n;
}

int source_drain(Source *s, Store *st, int conn, double now, int max, SourceReply on_reply,
                 void *ctx, char *err, size_t len)
{
    if (s->live)
        return live_drain(s, st, conn, now, max, on_reply, ctx, err, len);
    return replay_drain(s, st, conn, now, max, err, len);
}

int source_pending(const Source *s)
{
    return !s->live && !s->eof;
}

int64_t source_command(Source *s, Cmd *cmd, char *err, size_t len)
{
    if (!s->live) {
        snprintf(err, len, "replay: no worker to send '%s' to",
                 msg_cmd_name(cmd->kind));
        return -1;
    }
    ProtoErr e;
    int64_t id = client_command(s->client, cmd, &e);
    if (id < 0)
        snprintf(err, len, "%s", e.msg);
    return id;
}

int source_wait_alive(Source *s, int timeout_ms)
{
    if (!s->live)
        return 0;
    /* Readable sockets mean a worker published or replied; nothing is consumed here. */
    zmq_pollitem_t items[4];
    int n = client_pollitems(s->client, items, 4);
    return zmq_poll(items, n, timeout_ms) > 0;
}
