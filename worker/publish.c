/* Publisher: sequence, event log, history, snapshot (see publish.h). History keys: numeric
 * series are named "<topic>.<field>[.<group>]"; current-value topics keep their whole encoded
 * message as "latest" and are decoded again only when a snapshot is asked for. */
#include "publish.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double unix_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static double mono_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void send_one(Publisher *p, const char *topic, const void *body, size_t len)
{
    if (p->send(p->send_ctx, topic, body, len) < 0)
        p->send_drops++;
}

void publisher_flush(Publisher *p)
{
    if (p->pending_len == 0)
        return;
    size_t off = 0;
    while (off < p->pending_len) {
        char topic[256];
        size_t tl = p->pending[off++];
        memcpy(topic, p->pending + off, tl);
        topic[tl] = '\0';
        off += tl;
        uint32_t len;
        memcpy(&len, p->pending + off, sizeof len);
        off += sizeof len;
        send_one(p, topic, p->pending + off, len);
        off += len;
    }
    p->pending_len = 0;
    p->last_send = mono_now();
}

int publisher_flush_due_ms(const Publisher *p)
{
    if (p->pending_len == 0)
        return -1;
    double left = p->last_send + p->coalesce_ms * 1e-3 - mono_now();
    return left <= 0 ? 0 : (int)(left * 1000.0) + 1;
}

/* Holds a message back; 0, or -1 (out of memory: the caller sends it at once instead). */
static int hold(Publisher *p, const char *topic, const void *body, size_t len)
{
    size_t tl = strlen(topic), need = 1 + tl + sizeof(uint32_t) + len;
    if (p->pending_len > 0 && p->pending_len + need > PUBLISH_PENDING_MAX)
        publisher_flush(p);
    if (p->pending_len + need > p->pending_cap) {
        size_t cap = p->pending_cap ? p->pending_cap : 16384;
        while (cap < p->pending_len + need)
            cap *= 2;
        unsigned char *nb = realloc(p->pending, cap);
        if (!nb)
            return -1;
        p->pending = nb;
        p->pending_cap = cap;
    }
    unsigned char *at = p->pending + p->pending_len;
    uint32_t l32 = (uint32_t)len;
    *at++ = (unsigned char)tl;
    memcpy(at, topic, tl);
    memcpy(at + tl, &l32, sizeof l32);
    memcpy(at + tl + sizeof l32, body, len);
    p->pending_len += need;
    return 0;
}

/* Sends now, or holds back within the coalescing window (order is kept either way). */
static void publisher_send(Publisher *p, const char *topic, const void *body, size_t len)
{
    if (p->coalesce_ms > 0 && strlen(topic) < 256) {
        double now = mono_now();
        if (p->pending_len > 0 || now - p->last_send < p->coalesce_ms * 1e-3) {
            if (hold(p, topic, body, len) == 0)
                return;
            publisher_flush(p);
        }
        p->last_send = now;
    }
    send_one(p, topic, body, len);
}

void publisher_record(History *h, const Msg *m, const void *body, size_t len)
{
    char name[HISTORY_NAME_MAX];
    switch (m->type) {
    case MSG_TRAIN:
        history_push(h, "train.loss", (double)m->u.train.step, m->u.train.loss);
        history_push(h, "train.lr", (double)m->u.train.step, m->u.train.lr);
        history_push(h, "train.grad_norm", (double)m->u.train.step, m->u.train.grad_norm);
        history_push(h, "train.tok_per_s", (double)m->u.train.step, m->u.train.tok_per_s);
        break;
    case MSG_VALID:
        snprintf(name, sizeof name, "valid.loss.%.24s", m->u.valid.group);
        history_push(h, name, (double)m->u.valid.step, m->u.valid.loss);
        if (m->u.valid.has_bleu) {
            snprintf(name, sizeof name, "valid.bleu.%.24s", m->u.valid.group);
            history_push(h, name, (double)m->u.valid.step, m->u.valid.bleu);
        }
        break;
    case MSG_SEARCH:
        history_push(h, "search.best_loss", (double)m->u.search.generation,
                     m->u.search.best_loss);
        history_push(h, "search.mean_loss", (double)m->u.search.generation,
                     m->u.search.mean_loss);
        history_set_latest(h, "search", body, len);
        break;
    case MSG_LATENCY:
        if (m->u.latency.has_rmse_ms)
            history_push(h, "latency.rmse_ms", (double)m->u.latency.measured,
                         m->u.latency.rmse_ms);
        history_set_latest(h, "latency", body, len);
        break;
    case MSG_GATES: history_set_latest(h, "gates", body, len); break;
    case MSG_FRONT: history_set_latest(h, "front", body, len); break;
    case MSG_EXTRACT: history_set_latest(h, "extract", body, len); break;
    case MSG_LOG: history_add_log(h, body, len); break;
    case MSG_STATUS:
    case MSG_TYPE_COUNT: break;
    }
}

typedef struct Rebuild {
    Publisher *p;
} Rebuild;

static int rebuild_visit(void *ctx, const char *topic, size_t tlen, const unsigned char *body,
                         size_t blen)
{
    Publisher *p = ((Rebuild *)ctx)->p;
    ProtoErr e;
    (void)topic, (void)tlen;
    if (msg_decode(body, blen, p->scratch, &e) < 0) {
        p->bad_log_records++;   /* e.g. written by a newer version: skipped, not fatal */
        return 0;
    }
    if (p->scratch->seq > p->seq)
        p->seq = p->scratch->seq;
    publisher_record(&p->hist, p->scratch, body, blen);
    return 0;
}

int publisher_open(Publisher *p, const char *run_dir, const char *worker, EventLogScan *scan,
                   MosErr *err)
{
    memset(p, 0, sizeof *p);
    p->log.fd = -1;
    history_init(&p->hist);
    msg_buf_init(&p->buf);
    snprintf(p->worker, sizeof p->worker, "%s", worker);
    p->scratch = malloc(sizeof *p->scratch);
    if (!p->scratch)
        return err_set(err, "out of memory");
    EventLogScan local;
    if (!scan)
        scan = &local;
    if (eventlog_open(&p->log, run_dir, scan, err) < 0)
        return -1;
    Rebuild r = {p};
    EventLogScan again;
    if (eventlog_scan(p->log.path, rebuild_visit, &r, &again, err) < 0)
        return -1;
    return 0;
}

void publisher_close(Publisher *p)
{
    eventlog_close(&p->log);
    history_done(&p->hist);
    msg_buf_done(&p->buf);
    free(p->scratch);
    p->scratch = NULL;
    free(p->pending);
    p->pending = NULL;
    p->pending_len = p->pending_cap = 0;
}

int publisher_publish(Publisher *p, Msg *m, MosErr *err)
{
    ProtoErr pe;
    m->seq = p->seq + 1;
    m->ts = unix_now();
    snprintf(m->worker, sizeof m->worker, "%s", p->worker);
    if (msg_encode(m, &p->buf, &pe) < 0) {
        /* Jobs fill bounded fields; an unencodable message is a bug, but a text field with
         * bad UTF-8 from a user's file should not kill a run: drop it and say so. */
        p->log_failures++;
        return err_set(err, "cannot encode a %s message: %s", msg_type_name(m->type), pe.msg);
    }
    if (eventlog_append(&p->log, msg_type_name(m->type), p->buf.data, p->buf.len, err) < 0) {
        p->log_failures++;
        return -1;
    }
    p->seq = m->seq;
    publisher_record(&p->hist, m, p->buf.data, p->buf.len);
    if (p->send)
        publisher_send(p, msg_type_name(m->type), p->buf.data, p->buf.len);
    p->published++;
    return 0;
}

/* Copies a series into a snapshot record, averaging groups of k points when it is too long. */
static void snapshot_series(const Series *s, MsgSeries *out, double *x, float *y)
{
    int n = history_points(s, x, y);
    int k = (n + PROTO_POINTS_MAX - 1) / PROTO_POINTS_MAX;
    if (k < 1)
        k = 1;
    snprintf(out->name, sizeof out->name, "%s", s->name);
    uint32_t m = 0;
    for (int i = 0; i < n; i += k) {
        int g = n - i < k ? n - i : k;
        double sx = 0, sy = 0;
        for (int j = 0; j < g; j++)
            sx += x[i + j], sy += y[i + j];
        out->step[m] = (int64_t)llround(sx / g);
        out->value[m] = (float)(sy / g);
        m++;
    }
    out->step_n = out->value_n = m;
}

/* Decodes the latest message kept under key into *dst (size bytes) when it exists. */
static int snapshot_latest(Publisher *p, const char *key, MsgType t, void *dst, size_t size)
{
    for (int i = 0; i < p->hist.nlatest; i++) {
        const RawMsg *r = &p->hist.latest[i];
        if (strcmp(r->topic, key) != 0)
            continue;
        ProtoErr e;
        if (msg_decode(r->body, r->len, p->scratch, &e) < 0 || p->scratch->type != t)
            return 0;
        memcpy(dst, &p->scratch->u, size);
        return 1;
    }
    return 0;
}

void publisher_snapshot(Publisher *p, const MsgStatus *status, MsgSnapshot *snap)
{
    static double x[HISTORY_MAX_POINTS + 1];   /* main thread only */
    static float y[HISTORY_MAX_POINTS + 1];
    snap->seq = p->seq;
    snprintf(snap->worker, sizeof snap->worker, "%s", p->worker);
    if (status) {
        snap->status = *status;
        snap->has_status = true;
    }
    int ns = p->hist.nseries < PROTO_SERIES_MAX ? p->hist.nseries : PROTO_SERIES_MAX;
    for (int i = 0; i < ns; i++)
        snapshot_series(&p->hist.series[i], &snap->series[i], x, y);
    snap->series_n = (uint32_t)ns;
    snap->has_gates = snapshot_latest(p, "gates", MSG_GATES, &snap->gates, sizeof snap->gates);
    snap->has_latency = snapshot_latest(p, "latency", MSG_LATENCY, &snap->latency,
                                        sizeof snap->latency);
    snap->has_search = snapshot_latest(p, "search", MSG_SEARCH, &snap->search,
                                       sizeof snap->search);
    snap->has_front = snapshot_latest(p, "front", MSG_FRONT, &snap->front, sizeof snap->front);
    snap->has_extract = snapshot_latest(p, "extract", MSG_EXTRACT, &snap->extract,
                                        sizeof snap->extract);
    int nl = p->hist.log_count, first = nl > PROTO_SNAP_LOGS ? nl - PROTO_SNAP_LOGS : 0;
    uint32_t k = 0;
    ProtoErr e;
    for (int i = first; i < nl; i++) {
        const RawMsg *r = history_log_at(&p->hist, i);
        if (msg_decode(r->body, r->len, p->scratch, &e) == 0 && p->scratch->type == MSG_LOG) {
            snap->logs[k] = p->scratch->u.log;
            snap->logs[k].ts = p->scratch->ts;   /* the snapshot has no header per line */
            snap->logs[k++].has_ts = true;
        }
    }
    snap->logs_n = k;
}
