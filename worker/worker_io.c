/* The worker's sockets on protocol/wire.h (see worker_io.h). Endpoint choice: default ipc in the
 * private socket directory; --bind tcp://HOST[:PORT] (PUB on PORT, ROUTER on PORT+1; no port:
 * two free ports) or ipc://DIR. Non-loopback tcp is refused by wire_bind unless CURVE is on:
 * --curve DIR uses DIR/server.key (generated on first use, public half in DIR/server.pub) and
 * admits only the client keys listed in DIR/authorized_keys (ZAP handler). */
#include "worker_io.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "strbuf.h"
#include "wire.h"

struct WorkerIO {
    void *ctx, *pub, *router;
    WireEndpoints ep;
    WireCurve curve;
    int curve_on;
    WireZap *zap;
    WireFrames cur;            /* the last received command */
    int have_cur;
    char run_dir[4096];
    char desc[3 * WIRE_EP_MAX];
};

/* Endpoint pair from --bind. */
static int bind_endpoints(const char *bind, WireEndpoints *ep, ProtoErr *pe)
{
    if (!bind)
        return wire_default_endpoints(ep, pe);
    memset(ep, 0, sizeof *ep);
    ep->pid = (long)getpid();
    if (gethostname(ep->host, sizeof ep->host - 1) != 0)
        STR_SET(ep->host, "localhost");
    if (strncmp(bind, "ipc://", 6) == 0) {
        snprintf(ep->pub, sizeof ep->pub, "%.200s/%ld.pub", bind, ep->pid);
        snprintf(ep->ctl, sizeof ep->ctl, "%.200s/%ld.ctl", bind, ep->pid);
        return 0;
    }
    if (strncmp(bind, "tcp://", 6) != 0 || strlen(bind) > 200) {
        snprintf(pe->msg, sizeof pe->msg, "--bind %.200s: expected tcp://HOST[:PORT] or "
                 "ipc://DIR", bind);
        return -1;
    }
    const char *colon = strrchr(bind + 6, ':');
    if (colon && !strchr(colon, ']')) {
        char *end;
        long port = strtol(colon + 1, &end, 10);
        if (*end != '\0' || port <= 0 || port >= 65535) {
            snprintf(pe->msg, sizeof pe->msg, "--bind %.200s: bad port", bind);
            return -1;
        }
        int hl = (int)(colon - bind);
        snprintf(ep->pub, sizeof ep->pub, "%.*s:%ld", hl, bind, port);
        snprintf(ep->ctl, sizeof ep->ctl, "%.*s:%ld", hl, bind, port + 1);
    } else {
        snprintf(ep->pub, sizeof ep->pub, "%s:*", bind);
        snprintf(ep->ctl, sizeof ep->ctl, "%s:*", bind);
    }
    return 0;
}

static int curve_setup(WorkerIO *io, const char *dir, ProtoErr *pe)
{
    char secret[4200], public[4200], allow[4200];
    snprintf(secret, sizeof secret, "%s/server.key", dir);
    snprintf(public, sizeof public, "%s/server.pub", dir);
    snprintf(allow, sizeof allow, "%s/authorized_keys", dir);
    if (access(secret, F_OK) != 0 && wire_curve_keygen(secret, public, pe) < 0)
        return -1;
    if (wire_curve_load(secret, &io->curve, pe) < 0)
        return -1;
    if (access(allow, R_OK) != 0) {
        snprintf(pe->msg, sizeof pe->msg, "%.120s: missing: list the public keys of the clients "
                 "allowed to connect, one per line", allow);
        return -1;
    }
    if (wire_zap_start(io->ctx, allow, &io->zap, pe) < 0)
        return -1;
    io->curve_on = 1;
    STR_SET(io->ep.server_key, io->curve.public_key);
    return 0;
}

static int open_sockets(WorkerIO *io, const char *bind, const char *curve_dir, ProtoErr *pe)
{
    if (bind_endpoints(bind, &io->ep, pe) < 0)
        return -1;
    if (curve_dir && curve_setup(io, curve_dir, pe) < 0)
        return -1;
    const WireCurve *cv = io->curve_on ? &io->curve : NULL;
    io->pub = wire_bind(io->ctx, ZMQ_PUB, io->ep.pub, cv, pe);
    if (!io->pub)
        return -1;
    io->router = wire_bind(io->ctx, ZMQ_ROUTER, io->ep.ctl, cv, pe);
    if (!io->router)
        return -1;
    if (wire_last_endpoint(io->pub, io->ep.pub, sizeof io->ep.pub) < 0 ||
        wire_last_endpoint(io->router, io->ep.ctl, sizeof io->ep.ctl) < 0) {
        snprintf(pe->msg, sizeof pe->msg, "cannot read back the bound endpoints");
        return -1;
    }
    return wire_endpoints_write(io->run_dir, &io->ep, pe);
}

WorkerIO *worker_io_open(const char *run_dir, const char *bind, const char *curve_dir,
                         MosErr *err)
{
    WorkerIO *io = calloc(1, sizeof *io);
    ProtoErr pe = {{0}};
    if (!io) {
        err_set(err, "out of memory");
        return NULL;
    }
    STR_SET(io->run_dir, run_dir);
    io->ctx = zmq_ctx_new();
    if (!io->ctx || open_sockets(io, bind, curve_dir, &pe) < 0) {
        err_set(err, "%s", pe.msg[0] ? pe.msg : "cannot create a ZeroMQ context");
        worker_io_close(&io, 0);
        return NULL;
    }
    snprintf(io->desc, sizeof io->desc, "events on %s, commands on %s%s", io->ep.pub, io->ep.ctl,
             io->curve_on ? " (CURVE)" : "");
    return io;
}

void worker_io_close(WorkerIO **iop, int remove_endpoints)
{
    WorkerIO *io = *iop;
    if (!io)
        return;
    if (io->have_cur)
        wire_frames_close(&io->cur);
    if (remove_endpoints) {
        char path[4200];
        snprintf(path, sizeof path, "%s/endpoints.json", io->run_dir);
        unlink(path);
    }
    wire_close(&io->pub);
    wire_close(&io->router);
    if (io->zap)
        wire_zap_stop(&io->zap);
    if (io->ctx)
        zmq_ctx_term(io->ctx);
    for (int i = 0; i < 2 && strncmp(i ? io->ep.ctl : io->ep.pub, "ipc://", 6) == 0; i++)
        unlink((i ? io->ep.ctl : io->ep.pub) + 6);   /* the socket files */
    free(io);
    *iop = NULL;
}

int worker_io_poll(WorkerIO *io, int fd, int timeout_ms, int *cmd_ready, int *fd_ready)
{
    zmq_pollitem_t items[2] = {
        { .socket = io->router, .events = ZMQ_POLLIN },
        { .socket = NULL, .fd = fd, .events = ZMQ_POLLIN },
    };
    int rc = zmq_poll(items, 2, timeout_ms);
    *cmd_ready = rc > 0 && (items[0].revents & ZMQ_POLLIN);
    *fd_ready = rc > 0 && (items[1].revents & ZMQ_POLLIN);
    return rc < 0 ? -1 : 0;
}

int worker_io_recv_cmd(WorkerIO *io, const void **body, size_t *len)
{
    ProtoErr pe;
    if (io->have_cur) {
        wire_frames_close(&io->cur);
        io->have_cur = 0;
    }
    int rc = wire_recv(io->router, &io->cur, 0, &pe);
    if (rc == 0)
        return 0;
    if (rc < 0)
        return -1;
    io->have_cur = 1;
    /* [routing id][body], or [routing id][empty delimiter][body] from REQ-style clients */
    int n = io->cur.n;
    if (n == 3 && wire_frame_size(&io->cur, 1) != 0)
        return -1;
    if (n != 2 && n != 3)
        return -1;
    *body = wire_frame_data(&io->cur, n - 1);
    *len = wire_frame_size(&io->cur, n - 1);
    return 1;
}

int worker_io_reply(WorkerIO *io, const void *body, size_t len)
{
    if (!io->have_cur)
        return -1;
    if (io->cur.n == 3) {
        const void *parts[3] = { wire_frame_data(&io->cur, 0), "", body };
        size_t sizes[3] = { wire_frame_size(&io->cur, 0), 0, len };
        return wire_send(io->router, parts, sizes, 3) == 0 ? 0 : -1;
    }
    return wire_send_routed(io->router, wire_frame_data(&io->cur, 0),
                            wire_frame_size(&io->cur, 0), body, len) == 0 ? 0 : -1;
}

int worker_io_publish(void *io, const char *topic, const void *body, size_t len)
{
    return wire_publish(((WorkerIO *)io)->pub, topic, body, len) == 0 ? 0 : -1;
}

const char *worker_io_describe(const WorkerIO *io)
{
    return io->desc;
}
