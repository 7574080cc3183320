/* Client side of the command line (see attach.h): endpoint resolution, following a live worker
 * through the protocol's Clone client, and replaying a finished run's event log. */
#include "attach.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "client.h"
#include "detach.h"
#include "eventlog.h"
#include "strbuf.h"
#include "watchfmt.h"

static volatile sig_atomic_t interrupted;

static void on_interrupt(int sig)
{
    (void)sig;
    interrupted = 1;
}

/* "--connect PUB,CTL" or "--connect PUB" with CTL derived (tcp port + 1, ipc .pub -> .ctl). */
static int parse_connect(const char *s, WireEndpoints *ep, MosErr *err)
{
    memset(ep, 0, sizeof *ep);
    const char *comma = strchr(s, ',');
    if (strlen(s) >= WIRE_EP_MAX)
        return err_set(err, "--connect: endpoint too long");
    if (comma) {
        snprintf(ep->pub, sizeof ep->pub, "%.*s", (int)(comma - s), s);
        STR_SET(ep->ctl, comma + 1);
        return 0;
    }
    STR_SET(ep->pub, s);
    size_t n = strlen(s);
    const char *colon = strrchr(s, ':');
    if (strncmp(s, "tcp://", 6) == 0 && colon && colon > s + 6) {
        char *end;
        long port = strtol(colon + 1, &end, 10);
        if (*end == '\0' && port > 0 && port < 65535) {
            snprintf(ep->ctl, sizeof ep->ctl, "%.*s:%ld", (int)(colon - s), s, port + 1);
            return 0;
        }
    } else if (strncmp(s, "ipc://", 6) == 0 && n > 4 && strcmp(s + n - 4, ".pub") == 0) {
        snprintf(ep->ctl, sizeof ep->ctl, "%.*s.ctl", (int)(n - 4), s);
        return 0;
    }
    return err_set(err, "--connect %s: expected tcp://HOST:PORT, ipc://PATH.pub or PUB,CTL", s);
}

static int resolve_curve(const Args *a, Target *t, MosErr *err)
{
    const char *key = args_str(a, "key"), *server = args_str(a, "server-key");
    ProtoErr pe;
    if (!key) {
        if (t->ep.server_key[0])
            return err_set(err, "the worker uses CURVE: give --key with this client's secret key "
                           "(its public key must be in the worker's authorized_keys)");
        return 0;
    }
    if (wire_curve_load(key, &t->curve, &pe) < 0)
        return err_set(err, "--key: %s", pe.msg);
    const char *sk = server ? server : t->ep.server_key;
    if (strlen(sk) != WIRE_KEY_LEN)
        return err_set(err, "--server-key: expected the worker's %d-character Z85 public key",
                       WIRE_KEY_LEN);
    STR_SET(t->curve.server_key, sk);
    t->curve_on = 1;
    return 0;
}

int attach_resolve(const Args *a, Target *t, MosErr *err)
{
    memset(t, 0, sizeof *t);
    const char *connect = args_str(a, "connect");
    if (connect) {
        if (parse_connect(connect, &t->ep, err) < 0)
            return -1;
        return resolve_curve(a, t, err) < 0 ? -1 : 0;
    }
    t->run_dir = args_str(a, "run-dir");
    char path[4200];
    snprintf(path, sizeof path, "%s/endpoints.json", t->run_dir);
    if (access(path, F_OK) != 0 || !detach_worker_running(t->run_dir, NULL))
        return 1;
    ProtoErr pe;
    if (wire_endpoints_read(t->run_dir, &t->ep, &pe) < 0)
        return err_set(err, "%s", pe.msg);
    return resolve_curve(a, t, err) < 0 ? -1 : 0;
}

static void print_line(const char *s)
{
    fputs(s, stdout);
    fputc('\n', stdout);
    fflush(stdout);
}

static void print_msg(const Msg *m, int jsonl)
{
    char line[2048];
    if (jsonl) {
        char *j = msg_json(m);
        if (j)
            print_line(j);
        free(j);
        return;
    }
    watchfmt_msg(m, line, sizeof line);
    print_line(line);
}

static void print_snapshot(const MsgReply *r, int jsonl)
{
    const MsgSnapshot *s = &r->snapshot;
    char line[2048];
    if (jsonl) {
        char *j = msg_reply_json(r);
        if (j)
            print_line(j);
        free(j);
        return;
    }
    snprintf(line, sizeof line, "attached to worker %s at seq %lld", s->worker,
             (long long)s->seq);
    print_line(line);
    if (s->has_status) {
        watchfmt_status(&s->status, line, sizeof line);
        print_line(line);
    }
    for (uint32_t i = 0; i < s->series_n; i++) {
        const MsgSeries *se = &s->series[i];
        if (se->step_n == 0)
            continue;
        snprintf(line, sizeof line, "history %s: %u points, steps %lld..%lld, last %.4g",
                 se->name, se->step_n, (long long)se->step[0],
                 (long long)se->step[se->step_n - 1], se->value[se->value_n - 1]);
        print_line(line);
    }
    for (uint32_t i = s->logs_n > 5 ? s->logs_n - 5 : 0; i < s->logs_n; i++) {
        snprintf(line, sizeof line, "log     %s: %s", s->logs[i].level, s->logs[i].text);
        print_line(line);
    }
}

static double mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* Follow state: the last status shown, to print readable status lines only on change. */
typedef struct Follow {
    const FollowOpts *o;
    char state[PROTO_NAME_MAX + 1], phase[PROTO_NAME_MAX + 1];
    double last_status_print;
} Follow;

/* Returns -1 while the job runs, else the exit code its final status implies. */
static int on_status(Follow *f, const MsgStatus *s, const Msg *m)
{
    int changed = strcmp(s->state, f->state) != 0 || strcmp(s->phase, f->phase) != 0;
    double now = mono_s();
    if (m && (f->o->jsonl || changed || now - f->last_status_print >= 10.0)) {
        print_msg(m, f->o->jsonl);
        f->last_status_print = now;
    }
    STR_SET(f->state, s->state);
    STR_SET(f->phase, s->phase);
    if (strcmp(s->state, "done") == 0)
        return 0;
    if (strcmp(s->state, "failed") == 0)
        return 1;
    return -1;
}

/* After the worker process is gone: the exit code its last known state implies (3: it was gone
 * before anything was heard from it). */
static int gone(const Follow *f, MosErr *err)
{
    if (!f->state[0])
        return 3;
    if (strcmp(f->state, "done") == 0)
        return 0;
    err_set(err, "the worker exited (last state: %s); see its worker.log", f->state);
    return 1;
}

static int follow_loop(Client *c, const Target *t, Follow *f, MosErr *err)
{
    double start = mono_s();
    ProtoErr pe;
    while (!interrupted) {
        ClientEv ev;
        if (client_poll(c, 250, &ev, &pe) < 0) {
            err_set(err, "%s", pe.msg);
            return 1;
        }
        int rc = -1;
        if (ev == CLIENT_EV_SNAPSHOT) {
            const MsgReply *r = client_reply(c);
            print_snapshot(r, f->o->jsonl);
            if (r->snapshot.has_status) {
                f->last_status_print = mono_s();
                rc = on_status(f, &r->snapshot.status, NULL);
            }
        } else if (ev == CLIENT_EV_MSG) {
            const Msg *m = client_msg(c);
            if (m->type == MSG_STATUS)
                rc = on_status(f, &m->u.status, m);
            else
                print_msg(m, f->o->jsonl);
        } else if (t->run_dir && (!client_synced(c) || client_stale(c)) &&
                   !detach_worker_running(t->run_dir, NULL)) {
            return gone(f, err);
        } else if (!client_synced(c) && mono_s() - start > f->o->timeout_s) {
            err_set(err, "no answer from the worker at %s within %.0f s (is it running?)",
                    t->ep.ctl, f->o->timeout_s);
            return 1;
        }
        if (rc >= 0)
            return rc;
    }
    return 2;
}

int attach_follow(const Target *t, const FollowOpts *o, MosErr *err)
{
    struct sigaction sa = { .sa_handler = on_interrupt };
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    void *ctx = zmq_ctx_new();
    Client *c = NULL;
    ProtoErr pe;
    if (!ctx)
        return err_set(err, "cannot create a ZeroMQ context");
    if (client_new(ctx, &t->ep, t->curve_on ? &t->curve : NULL, &c, &pe) < 0) {
        zmq_ctx_term(ctx);
        return err_set(err, "%s", pe.msg), 1;
    }
    Follow f = { .o = o };
    int rc = follow_loop(c, t, &f, err);
    client_destroy(&c);
    zmq_ctx_term(ctx);
    return rc;
}

typedef struct Replay {
    Msg *m;
    int jsonl;
    long bad;
} Replay;

static int replay_visit(void *ctx, const char *topic, size_t tlen, const unsigned char *body,
                        size_t blen)
{
    Replay *r = ctx;
    ProtoErr pe;
    (void)topic, (void)tlen;
    if (msg_decode(body, blen, r->m, &pe) < 0) {
        r->bad++;
        return 0;
    }
    print_msg(r->m, r->jsonl);
    return 0;
}

int attach_replay(const char *run_dir, int jsonl, MosErr *err)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/%s", run_dir, EVENTLOG_FILE);
    if (access(path, R_OK) != 0)
        return err_set(err, "%s: no worker is running there and it has no event log", run_dir);
    Replay r = { .m = malloc(sizeof(Msg)), .jsonl = jsonl };
    if (!r.m)
        return err_set(err, "out of memory");
    EventLogScan sc;
    int rc = eventlog_scan(path, replay_visit, &r, &sc, err);
    free(r.m);
    if (rc == 0 && (r.bad || sc.torn_bytes))
        fprintf(stderr, "mos: %s: %ld records did not decode, %lld-byte torn tail ignored\n",
                path, r.bad, sc.torn_bytes);
    return rc;
}
