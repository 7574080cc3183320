/* Test fixture: a stand-in worker speaking the real protocol through protocol/ (wire + msg), for
 * the dashboard's live e2e tests and its CPU benchmark while the real training stages are not in
 * the build. It publishes train messages at a fixed rate (sent in 10 ms groups, as the worker
 * does), status heartbeats every second, and
 * answers pause/resume/target/extract/snapshot/status like a worker would (extract writes
 * RUN/subnets/<name>/config.json). It trains nothing.
 * usage: fake_worker RUN_DIR [MSGS_PER_S] [SECONDS] [tcp://127.0.0.1:PORT]
 * (FAKE_WORKER_COALESCE_MS=0 in the environment: each message is sent alone, as soon as due)
 * (runs until SIGTERM/SIGINT or SECONDS; with a tcp endpoint, commands are on PORT+1) */
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "wire.h"

#define HIST 2048
/* Like the worker (worker/publish.h PUBLISH_COALESCE_MS): messages made within 10 ms of the last
 * send go out together at the end of the window, so a subscriber wakes once per window. */
#define COALESCE_MS 10

static volatile sig_atomic_t stop;
static void on_signal(int sig) { (void)sig; stop = 1; }

typedef struct Fake {
    void *pub, *router;
    WireEndpoints ep;
    char run_dir[512];
    int64_t seq, step;
    int paused;
    double target_ms;
    int64_t hist_step[HIST];
    float hist_loss[HIST];
    int nhist;
    Msg msg;
    MsgBuf buf;
    MsgReply *reply;
    int extracts;
} Fake;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static Msg *begin(Fake *f, MsgType t)
{
    memset(&f->msg, 0, sizeof f->msg);
    f->msg.type = t;
    f->msg.seq = ++f->seq;
    f->msg.ts = now_s();
    snprintf(f->msg.worker, sizeof f->msg.worker, "%.40s:%ld", f->ep.host, f->ep.pid);
    return &f->msg;
}

static void publish(Fake *f)
{
    ProtoErr e;
    if (msg_encode(&f->msg, &f->buf, &e) != 0) {
        fprintf(stderr, "fake_worker: %s\n", e.msg);
        exit(1);
    }
    wire_publish(f->pub, msg_type_name(f->msg.type), f->buf.data, f->buf.len);
}

static void fill_status(const Fake *f, MsgStatus *s)
{
    memset(s, 0, sizeof *s);
    snprintf(s->phase, sizeof s->phase, "train");
    snprintf(s->state, sizeof s->state, "%s", f->paused ? "paused" : "running");
    snprintf(s->stage, sizeof s->stage, "train");
    snprintf(s->host, sizeof s->host, "%s", f->ep.host);
    snprintf(s->run_dir, sizeof s->run_dir, "%s", f->run_dir);
    s->step = f->step, s->total = 1000000000, s->paused = f->paused, s->pid = f->ep.pid;
    s->has_target_ms = true, s->target_ms = f->target_ms;
    s->has_lr = true, s->lr = 5e-4;
}

static void publish_status(Fake *f)
{
    fill_status(f, &begin(f, MSG_STATUS)->u.status);
    publish(f);
}

static void publish_log(Fake *f, const char *level, const char *text)
{
    MsgLog *l = &begin(f, MSG_LOG)->u.log;
    snprintf(l->level, sizeof l->level, "%s", level);
    snprintf(l->text, sizeof l->text, "%s", text);
    publish(f);
}

static void publish_train(Fake *f)
{
    f->step++;
    MsgTrain *t = &begin(f, MSG_TRAIN)->u.train;
    t->step = f->step;
    t->loss = 2.0 + 6.0 * exp(-(double)f->step / 500.0);
    t->grad_norm = 1, t->lr = 5e-4, t->tok_per_s = 1000;
    snprintf(t->arch, sizeof t->arch, "fake-arch");
    if (f->nhist == HIST) {   /* keep every other point, like the worker's history */
        for (int i = 0; i < HIST / 2; i++) {
            f->hist_step[i] = f->hist_step[2 * i];
            f->hist_loss[i] = f->hist_loss[2 * i];
        }
        f->nhist = HIST / 2;
    }
    f->hist_step[f->nhist] = f->step;
    f->hist_loss[f->nhist++] = (float)t->loss;
    publish(f);
}

static void fill_front(const Fake *f, MsgFront *fr)
{
    memset(fr, 0, sizeof *fr);
    fr->has_target_ms = true, fr->target_ms = f->target_ms;
    fr->points_n = 4;
    for (int i = 0; i < 4; i++) {
        MsgFrontPoint *p = &fr->points[i];
        snprintf(p->arch, sizeof p->arch, "fake-front-%d", i);
        p->latency_pred_ms = 50 + 25 * i, p->loss = 5 - 0.5 * i, p->params = 10000000 * (i + 1);
    }
}

static void publish_front(Fake *f)
{
    fill_front(f, &begin(f, MSG_FRONT)->u.front);
    publish(f);
}

static void fill_snapshot(Fake *f, MsgSnapshot *s)
{
    memset(s, 0, sizeof *s);
    s->seq = f->seq;
    snprintf(s->worker, sizeof s->worker, "%.40s:%ld", f->ep.host, f->ep.pid);
    s->has_status = true;
    fill_status(f, &s->status);
    s->series_n = 1;
    snprintf(s->series[0].name, sizeof s->series[0].name, "train.loss");
    for (int i = 0; i < f->nhist && i < PROTO_POINTS_MAX; i++) {
        s->series[0].step[i] = f->hist_step[i];
        s->series[0].value[i] = f->hist_loss[i];
    }
    s->series[0].step_n = s->series[0].value_n = (uint32_t)f->nhist;
    s->has_front = true;
    fill_front(f, &s->front);
}

static void do_extract(Fake *f, const Cmd *c, MsgReply *r)
{
    char dir[1024], path[1100];
    snprintf(dir, sizeof dir, "%s/subnets", f->run_dir);
    mkdir(dir, 0755);
    snprintf(dir, sizeof dir, "%s/subnets/fake%d", f->run_dir, ++f->extracts);
    mkdir(dir, 0755);
    snprintf(path, sizeof path, "%s/config.json", dir);
    FILE *out = fopen(path, "w");
    if (out) {
        fprintf(out, "{\"arch\": \"%s\"}\n", c->args.has_arch ? c->args.arch : "index");
        fclose(out);
    }
    MsgExtract *x = &begin(f, MSG_EXTRACT)->u.extract;
    snprintf(x->arch, sizeof x->arch, "%s", c->args.has_arch ? c->args.arch : "index");
    snprintf(x->status, sizeof x->status, "done");
    x->progress = 1, x->has_path = true;
    snprintf(x->path, sizeof x->path, "%s", dir);
    publish(f);
    r->ok = true;
}

static void handle(Fake *f, const Cmd *c, MsgReply *r)
{
    char text[128];
    memset(r, 0, sizeof *r);
    r->id = c->args.id;
    r->ok = true;
    switch (c->kind) {
    case CMD_PAUSE: f->paused = 1; publish_status(f); publish_log(f, "info", "paused"); break;
    case CMD_RESUME: f->paused = 0; publish_status(f); publish_log(f, "info", "resumed"); break;
    case CMD_TARGET:
        f->target_ms = c->args.target_ms;
        snprintf(text, sizeof text, "latency target set to %.2f ms", f->target_ms);
        publish_status(f);
        publish_log(f, "info", text);
        break;
    case CMD_EXTRACT: do_extract(f, c, r); break;
    case CMD_SNAPSHOT: r->has_snapshot = true; fill_snapshot(f, &r->snapshot); break;
    case CMD_STATUS: r->has_status = true; fill_status(f, &r->status); break;
    default: msg_reply_error(r, c->args.id, PROTO_E_ILLEGAL_STATE, "not in the fake worker");
    }
}

static void serve_commands(Fake *f, int timeout_ms)
{
    WireFrames fr;
    ProtoErr e;
    while (wire_recv(f->router, &fr, timeout_ms, &e) == 1) {
        timeout_ms = 0;
        if (fr.n == 2) {
            Cmd c;
            ProtoCode code = msg_cmd_decode(wire_frame_data(&fr, 1), wire_frame_size(&fr, 1),
                                            &c, &e);
            if (code == PROTO_OK)
                handle(f, &c, f->reply);
            else
                msg_reply_error(f->reply, c.args.id, code, "%s", e.msg);
            if (msg_reply_encode(f->reply, &f->buf, &e) == 0)
                wire_send_routed(f->router, wire_frame_data(&fr, 0), wire_frame_size(&fr, 0),
                                 f->buf.data, f->buf.len);
        }
        wire_frames_close(&fr);
    }
}

static int fake_open(Fake *f, void *ctx, const char *run_dir, const char *tcp)
{
    ProtoErr e;
    snprintf(f->run_dir, sizeof f->run_dir, "%s", run_dir);
    mkdir(run_dir, 0755);
    f->target_ms = 100;
    msg_buf_init(&f->buf);
    f->reply = calloc(1, sizeof *f->reply);
    if (!f->reply || wire_default_endpoints(&f->ep, &e) != 0) {
        fprintf(stderr, "fake_worker: %s\n", f->reply ? e.msg : "out of memory");
        return -1;
    }
    if (tcp) {
        const char *colon = strrchr(tcp, ':');
        snprintf(f->ep.pub, sizeof f->ep.pub, "%s", tcp);
        snprintf(f->ep.ctl, sizeof f->ep.ctl, "%.*s:%ld", (int)(colon - tcp), tcp,
                 atol(colon + 1) + 1);
    }
    if (!(f->pub = wire_bind(ctx, ZMQ_PUB, f->ep.pub, NULL, &e))
        || !(f->router = wire_bind(ctx, ZMQ_ROUTER, f->ep.ctl, NULL, &e))
        || wire_endpoints_write(run_dir, &f->ep, &e) != 0) {
        fprintf(stderr, "fake_worker: %s\n", e.msg);
        return -1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    int bad_tcp = argc > 4 && (strncmp(argv[4], "tcp://", 6) != 0 || !strrchr(argv[4] + 6, ':'));
    if (argc < 2 || bad_tcp) {
        fprintf(stderr, "usage: fake_worker RUN_DIR [MSGS_PER_S] [SECONDS] [tcp://H:PORT]\n");
        return 2;
    }
    double rate = argc > 2 ? atof(argv[2]) : 20, seconds = argc > 3 ? atof(argv[3]) : 3600;
    signal(SIGTERM, on_signal);
    signal(SIGINT, on_signal);
    void *ctx = zmq_ctx_new();
    static Fake f;
    if (fake_open(&f, ctx, argv[1], argc > 4 ? argv[4] : NULL) != 0)
        return 1;
    printf("%s %s\n", f.ep.pub, f.ep.ctl);
    fflush(stdout);
    const char *co = getenv("FAKE_WORKER_COALESCE_MS");   /* 0: each message sent alone */
    double coalesce_s = (co ? atof(co) : COALESCE_MS) * 1e-3;
    double start = now_s(), next_status = start, next_train = start;
    while (!stop && now_s() - start < seconds) {
        double t = now_s();
        if (t >= next_status) {
            if ((int64_t)(t - start) % 5 == 0)
                publish_front(&f);
            publish_status(&f);
            next_status += 1.0;
        }
        for (int burst = 0; !f.paused && t >= next_train && burst < 1000; burst++) {
            publish_train(&f);
            next_train += 1.0 / rate;
        }
        if (f.paused)
            next_train = t;
        double wait = fmin(next_status, f.paused ? next_status : next_train) - now_s();
        if (wait < coalesce_s)   /* send the messages made meanwhile together */
            wait = coalesce_s;
        serve_commands(&f, wait > 0 ? (int)ceil(wait * 1000) : 0);   /* no busy wait */
    }
    char path[600];
    snprintf(path, sizeof path, "%s/endpoints.json", f.run_dir);
    unlink(path);
    wire_close(&f.pub);
    wire_close(&f.router);
    zmq_ctx_term(ctx);
    msg_buf_done(&f.buf);
    free(f.reply);
    return 0;
}
