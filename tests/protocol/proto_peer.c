/* A stand-in worker for the protocol tests (not the real worker): binds PUB + ROUTER on the
 * default endpoints, writes endpoints.json, publishes every message type in turn with random
 * contents and answers every command (snapshot, status, the rest ok). Each decoded command is
 * echoed as a `log` message whose text is the command as JSON, so a client in another language
 * can check what C decoded. Like the worker, it appends every message to D/events.msgpack
 * before publishing it. Options inject faults for the client tests.
 *   proto_peer --schema                  print the schema as JSON and exit
 *   proto_peer --run-dir D [--period-ms P] [--seconds S] [--gap-at N] [--restart-at N]
 *              [--curve DIR]
 * --gap-at N skips seq N; --restart-at N restarts the stream (new worker id, seq from 1) at N;
 * --curve DIR binds loopback tcp as a CURVE server with DIR/server.key (made if missing) and
 * a ZAP allow-list DIR/allowed_keys. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "msg.h"
#include "proto_rand.h"
#include "stream.h"
#include "wire.h"

static const char *const kind_names[FIELD_KIND_COUNT] = {
    "I64", "F64", "BOOL", "STR", "F32S", "I64S", "REC", "RECS" };

static void print_schema(void)
{
    json_t *recs = json_object(), *msgs = json_array(), *cmds = json_array(),
           *errs = json_array();
    for (int i = 0; i < msg_record_count; i++) {
        const RecDesc *d = msg_records[i];
        json_t *fields = json_array();
        for (int j = 0; j < d->nfields; j++) {
            const FieldDesc *f = &d->fields[j];
            json_array_append_new(fields, json_pack("{s:s, s:s, s:i, s:b, s:s?, s:s}", "name",
                f->name, "kind", kind_names[f->kind], "max", (int)f->max, "required",
                f->has_off < 0, "sub", f->sub ? f->sub->name : NULL, "doc", f->doc));
        }
        json_object_set_new(recs, d->name, fields);
    }
    for (int t = 0; t < MSG_TYPE_COUNT; t++)
        json_array_append_new(msgs, json_string(msg_type_name((MsgType)t)));
    for (int k = 0; k < CMD_KIND_COUNT; k++)
        json_array_append_new(cmds, json_string(msg_cmd_name((CmdKind)k)));
    for (int c = 1; c < PROTO_CODE_COUNT; c++)
        json_array_append_new(errs, json_string(msg_code_name((ProtoCode)c)));
    json_t *o = json_pack("{s:i, s:o, s:o, s:o, s:o}", "version", PROTO_VERSION, "records",
                          recs, "messages", msgs, "commands", cmds, "errors", errs);
    char *s = json_dumps(o, JSON_COMPACT);
    puts(s);
    free(s);
    json_decref(o);
}

typedef struct Peer {
    void *pub, *router;
    Msg *msg;
    MsgReply *reply;
    MsgBuf buf, logbuf;
    FILE *log;                      /* run_dir/events.msgpack */
    TRng rng;
    int64_t seq;
    long gap_at, restart_at;
    char worker[PROTO_NAME_MAX + 1];
    bool stop;
} Peer;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Publishes m (type and body set) with the next seq. */
static void peer_publish(Peer *p, Msg *m)
{
    ProtoErr e;
    if (++p->seq == p->gap_at)
        p->seq++;
    if (p->seq == p->restart_at) {
        snprintf(p->worker, sizeof p->worker, "peer:%ld:restarted", (long)getpid());
        p->seq = 1;
        p->restart_at = -1;
    }
    m->seq = p->seq;
    m->ts = (double)time(NULL);
    memcpy(m->worker, p->worker, sizeof m->worker);
    if (msg_stream_write(p->log, m, &p->logbuf, &e) < 0 || fflush(p->log) != 0 ||
        msg_encode(m, &p->buf, &e) < 0) {
        fprintf(stderr, "proto_peer: %s\n", e.msg);
        exit(1);
    }
    wire_publish(p->pub, msg_type_name(m->type), p->buf.data, p->buf.len);
}

static void peer_publish_random(Peer *p)
{
    memset(p->msg, 0, sizeof *p->msg);
    p->msg->type = (MsgType)(p->seq % MSG_TYPE_COUNT);
    trng_fill(&p->rng, msg_type_rec(p->msg->type), &p->msg->u, 1);
    peer_publish(p, p->msg);
}

static void peer_echo(Peer *p, const Cmd *c)
{
    char *js = msg_rec_json(&msg_desc_Cmd, &c->args);
    memset(p->msg, 0, sizeof *p->msg);
    p->msg->type = MSG_LOG;
    snprintf(p->msg->u.log.level, sizeof p->msg->u.log.level, "cmd");
    snprintf(p->msg->u.log.text, sizeof p->msg->u.log.text, "{\"cmd\":\"%s\",\"args\":%s}",
             msg_cmd_name(c->kind), js ? js : "null");
    free(js);
    peer_publish(p, p->msg);
}

static void peer_answer(Peer *p, WireFrames *f)
{
    ProtoErr e = { "" };
    Cmd c;
    MsgReply *r = p->reply;
    memset(r, 0, sizeof *r);
    ProtoCode code = f->n == 2 ? msg_cmd_decode(wire_frame_data(f, 1), wire_frame_size(f, 1),
                                                &c, &e) : PROTO_E_BAD_REQUEST;
    if (code != PROTO_OK) {
        msg_reply_error(r, c.args.id, code, "%s", e.msg);
    } else {
        r->id = c.args.id;
        r->ok = true;
        if (c.kind == CMD_SNAPSHOT) {
            r->has_snapshot = true;
            trng_fill(&p->rng, &msg_desc_Snapshot, &r->snapshot, 1);
            r->snapshot.seq = p->seq;
            memcpy(r->snapshot.worker, p->worker, sizeof p->worker);
        } else if (c.kind == CMD_STATUS) {
            r->has_status = true;
            trng_fill(&p->rng, &msg_desc_Status, &r->status, 1);
        }
        p->stop = c.kind == CMD_STOP;
    }
    if (msg_reply_encode(r, &p->buf, &e) == 0)
        wire_send_routed(p->router, wire_frame_data(f, 0), wire_frame_size(f, 0), p->buf.data,
                         p->buf.len);
    if (code == PROTO_OK)
        peer_echo(p, &c);
}

/* Binds PUB and ROUTER: default ipc endpoints, or CURVE on loopback tcp with a ZAP handler. */
static int peer_bind(Peer *p, void *ctx, const char *curve_dir, WireEndpoints *ep,
                     WireZap **zap, ProtoErr *e)
{
    WireCurve curve;
    char sk[1024], pk[1024], allow[1024];
    if (!curve_dir) {
        return wire_default_endpoints(ep, e) < 0 ||
               !(p->pub = wire_bind(ctx, ZMQ_PUB, ep->pub, NULL, e)) ||
               !(p->router = wire_bind(ctx, ZMQ_ROUTER, ep->ctl, NULL, e)) ? -1 : 0;
    }
    snprintf(sk, sizeof sk, "%s/server.key", curve_dir);
    snprintf(pk, sizeof pk, "%s/server.pub", curve_dir);
    snprintf(allow, sizeof allow, "%s/allowed_keys", curve_dir);
    memset(&curve, 0, sizeof curve);
    memset(ep, 0, sizeof *ep);
    if ((access(sk, F_OK) != 0 && wire_curve_keygen(sk, pk, e) < 0) ||
        wire_curve_load(sk, &curve, e) < 0 || wire_zap_start(ctx, allow, zap, e) < 0 ||
        !(p->pub = wire_bind(ctx, ZMQ_PUB, "tcp://127.0.0.1:*", &curve, e)) ||
        !(p->router = wire_bind(ctx, ZMQ_ROUTER, "tcp://127.0.0.1:*", &curve, e)))
        return -1;
    wire_last_endpoint(p->pub, ep->pub, sizeof ep->pub);
    wire_last_endpoint(p->router, ep->ctl, sizeof ep->ctl);
    memcpy(ep->server_key, curve.public_key, sizeof ep->server_key);
    ep->pid = (long)getpid();
    return 0;
}

static int peer_run(Peer *p, const char *run_dir, const char *curve_dir, int period_ms,
                    double seconds)
{
    ProtoErr e;
    WireEndpoints ep;
    WireZap *zap = NULL;
    char log_path[4096];
    snprintf(log_path, sizeof log_path, "%s/events.msgpack", run_dir);
    if (!(p->log = fopen(log_path, "wb"))) {
        perror(log_path);
        return 1;
    }
    void *ctx = zmq_ctx_new();
    if (peer_bind(p, ctx, curve_dir, &ep, &zap, &e) < 0 ||
        wire_endpoints_write(run_dir, &ep, &e) < 0) {
        fprintf(stderr, "proto_peer: %s\n", e.msg);
        return 1;
    }
    double end = now_s() + seconds, next = now_s();
    while (!p->stop && now_s() < end) {
        WireFrames f;
        if (wire_recv(p->router, &f, period_ms > 1 ? period_ms / 2 : 1, &e) > 0) {
            peer_answer(p, &f);
            wire_frames_close(&f);
        }
        if (now_s() >= next) {
            peer_publish_random(p);
            next += period_ms / 1e3;
        }
    }
    if (zap)
        fprintf(stderr, "proto_peer: ZAP accepted %ld, denied %ld\n", wire_zap_accepted(zap),
                wire_zap_denied(zap));
    wire_close(&p->pub);
    wire_close(&p->router);
    wire_zap_stop(&zap);
    zmq_ctx_term(ctx);
    fclose(p->log);
    return p->stop ? 0 : 2;
}

int main(int argc, char **argv)
{
    const char *run_dir = NULL, *curve_dir = NULL;
    int period_ms = 20;
    double seconds = 30;
    Peer p = { .rng = { 0x5eed }, .gap_at = -1, .restart_at = -1 };
    for (int i = 1; i < argc; i++) {
        const char *v = i + 1 < argc ? argv[i + 1] : "";
        if (strcmp(argv[i], "--schema") == 0) {
            print_schema();
            return 0;
        }
        if (strcmp(argv[i], "--run-dir") == 0) run_dir = v, i++;
        else if (strcmp(argv[i], "--period-ms") == 0) period_ms = atoi(v), i++;
        else if (strcmp(argv[i], "--seconds") == 0) seconds = atof(v), i++;
        else if (strcmp(argv[i], "--gap-at") == 0) p.gap_at = atol(v), i++;
        else if (strcmp(argv[i], "--restart-at") == 0) p.restart_at = atol(v), i++;
        else if (strcmp(argv[i], "--curve") == 0) curve_dir = v, i++;
        else {
            fprintf(stderr, "proto_peer: unknown option %s\n", argv[i]);
            return 1;
        }
    }
    if (!run_dir || period_ms < 1) {
        fprintf(stderr, "usage: proto_peer --schema | --run-dir D [--period-ms P] ...\n");
        return 1;
    }
    snprintf(p.worker, sizeof p.worker, "peer:%ld", (long)getpid());
    p.msg = malloc(sizeof *p.msg);
    p.reply = malloc(sizeof *p.reply);
    msg_buf_init(&p.buf);
    msg_buf_init(&p.logbuf);
    int rc = p.msg && p.reply ? peer_run(&p, run_dir, curve_dir, period_ms, seconds) : 1;
    msg_buf_done(&p.buf);
    msg_buf_done(&p.logbuf);
    free(p.msg);
    free(p.reply);
    return rc;
}
