/* Store: applies protocol messages to per-connection state (see store.h). It does not decode
 * bytes, talk to sockets or draw; the app feeds it. Invariant: no allocation after store_new,
 * and every array index is bounded by its capacity, whatever the messages say. */
#include "store.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Truncating string copy (snprintf would warn about the intended truncation). */
static void copy_str(char *dst, size_t size, const char *src)
{
    size_t n = strnlen(src, size - 1);
    memcpy(dst, src, n);
    dst[n] = '\0';
}

Store *store_new(void)
{
    Store *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    for (int i = 0; i < STORE_WORKERS_MAX; i++)
        s->w[i].ema_bias = 1.0;
    return s;
}

void store_destroy(Store **s)
{
    if (!s)
        return;
    free(*s);
    *s = NULL;
}

int store_add_worker(Store *s, const char *endpoint)
{
    if (s->nworkers >= STORE_WORKERS_MAX)
        return -1;
    StoreWorker *w = &s->w[s->nworkers];
    w->used = 1;
    w->last_rx = -1;
    copy_str(w->endpoint, sizeof w->endpoint, endpoint ? endpoint : "");
    s->version++;
    return s->nworkers++;
}

uint64_t store_hash(const char *text)
{
    uint64_t h = 1469598103934665603ull;   /* FNV-1a */
    for (const unsigned char *p = (const unsigned char *)text; *p; p++)
        h = (h ^ *p) * 1099511628211ull;
    return h;
}

/* ---- series ------------------------------------------------------------------------------ */

static void series_reset(StoreSeries *sr)
{
    sr->n = 0;
    sr->stride = 1;
    sr->pending = 0;
    sr->has_tail = 0;
}

static StoreSeries *series_get(StoreWorker *w, const char *name)
{
    for (int i = 0; i < w->nseries; i++)
        if (strcmp(w->series[i].name, name) == 0)
            return &w->series[i];
    if (w->nseries >= STORE_SERIES_MAX)
        return NULL;
    StoreSeries *sr = &w->series[w->nseries++];
    copy_str(sr->name, sizeof sr->name, name);
    series_reset(sr);
    return sr;
}

const StoreSeries *store_series(const StoreWorker *w, const char *name)
{
    for (int i = 0; i < w->nseries; i++)
        if (strcmp(w->series[i].name, name) == 0)
            return &w->series[i];
    return NULL;
}

/* Keeps every other point: half the resolution, the same time span. */
static void series_compact(StoreSeries *sr)
{
    int k = 0;
    for (int i = 0; i < sr->n; i += 2, k++) {
        sr->step[k] = sr->step[i];
        sr->value[k] = sr->value[i];
    }
    sr->n = k;
    sr->stride *= 2;
}

static void series_push(StoreSeries *sr, int64_t step, double value)
{
    if (!sr || (sr->has_tail && step <= sr->tail_step))
        return;   /* steps only increase; older or repeated points are already represented */
    sr->has_tail = 1;
    sr->tail_step = step;
    sr->tail_value = (float)value;
    if (++sr->pending < sr->stride)
        return;
    sr->pending = 0;
    if (sr->n == STORE_SERIES_CAP)
        series_compact(sr);
    sr->step[sr->n] = step;
    sr->value[sr->n] = (float)value;
    sr->n++;
}

int store_series_points(const StoreSeries *sr, int64_t from_step, double *x, double *y, int max)
{
    if (!sr || max <= 0)
        return 0;
    int tail = sr->has_tail && (sr->n == 0 || sr->tail_step > sr->step[sr->n - 1])
               && sr->tail_step >= from_step;
    int first = 0;
    while (first < sr->n && sr->step[first] < from_step)
        first++;
    int count = sr->n - first + tail;
    if (count > max)
        first += count - max;   /* keep the newest */
    int k = 0;
    for (int i = first; i < sr->n; i++, k++) {
        x[k] = (double)sr->step[i];
        y[k] = sr->value[i];
    }
    if (tail) {
        x[k] = (double)sr->tail_step;
        y[k++] = sr->tail_value;
    }
    return k;
}

/* ---- log --------------------------------------------------------------------------------- */

static void log_add(Store *s, int worker, int64_t seq, double ts, const char *level,
                    const char *text)
{
    StoreLog *l = &s->log[s->log_next];
    l->ts = ts;
    l->worker = worker;
    l->seq = seq;
    copy_str(l->level, sizeof l->level, level);
    copy_str(l->text, sizeof l->text, text);
    s->log_next = (s->log_next + 1) % STORE_LOG_LINES;
    if (s->log_n < STORE_LOG_LINES)
        s->log_n++;
    s->version++;
}

void store_log(Store *s, const char *level, const char *fmt, ...)
{
    char text[STORE_LOG_TEXT];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    log_add(s, -1, 0, (double)time(NULL), level, text);
}

const StoreLog *store_log_line(const Store *s, int i)
{
    if (i < 0 || i >= s->log_n)
        return NULL;
    return &s->log[(s->log_next - 1 - i + 2 * STORE_LOG_LINES) % STORE_LOG_LINES];
}

double store_age(const StoreWorker *w, double now)
{
    return w->last_rx < 0 ? 1e9 : now - w->last_rx;
}

int store_stale(const StoreWorker *w, double now)
{
    return store_age(w, now) > STORE_STALE_S;
}

/* ---- applying messages ------------------------------------------------------------------- */

static void ema_push(StoreWorker *w, int64_t step, double loss)
{
    if (!isfinite(loss))
        return;
    w->ema = STORE_EMA_BETA * w->ema + (1 - STORE_EMA_BETA) * loss;
    w->ema_bias *= STORE_EMA_BETA;
    /* Debiased (Adam-style): early values are not pulled towards the zero start. */
    series_push(series_get(w, "train.loss.ema"), step, w->ema / (1 - w->ema_bias));
}

/* Rebuilds the EMA series from the raw train loss (after a snapshot merge). */
static void ema_rebuild(Store *s, StoreWorker *w)
{
    StoreSeries *raw = series_get(w, "train.loss"), *ema = series_get(w, "train.loss.ema");
    if (!raw || !ema)
        return;
    series_reset(ema);
    w->ema = 0;
    w->ema_bias = 1;
    int n = store_series_points(raw, INT64_MIN, s->tmp_x, s->tmp_y, STORE_SERIES_CAP + 1);
    for (int i = 0; i < n; i++)
        ema_push(w, (int64_t)s->tmp_x[i], s->tmp_y[i]);
}

static StorePoint *point_slot(StoreWorker *w, uint64_t hash)
{
    for (int i = 0; i < w->npoints; i++)
        if (w->points[i].arch_hash == hash)
            return &w->points[i];
    if (w->npoints < STORE_POINTS_MAX)
        return &w->points[w->npoints++];
    for (int i = 0; i < w->npoints; i++)   /* full: forget a point that is off the front */
        if (!w->points[i].on_front)
            return &w->points[i];
    return NULL;
}

static void front_apply(StoreWorker *w, const MsgFront *f)
{
    w->front = *f;
    w->has_front = 1;
    for (int i = 0; i < w->npoints; i++)
        w->points[i].on_front = 0;
    for (uint32_t i = 0; i < f->points_n && i < PROTO_FRONT_MAX; i++) {
        const MsgFrontPoint *fp = &f->points[i];
        uint64_t h = store_hash(fp->arch);
        StorePoint *p = point_slot(w, h);
        if (!p)
            break;
        *p = (StorePoint){ .arch_hash = h, .latency_pred_ms = fp->latency_pred_ms,
                           .latency_ms = fp->latency_ms, .has_latency_ms = fp->has_latency_ms,
                           .loss = fp->loss, .bleu = fp->bleu, .has_bleu = fp->has_bleu,
                           .on_front = 1 };
    }
}

static void latency_apply(StoreWorker *w, const MsgLatency *l)
{
    w->latency = *l;
    w->has_latency = 1;
    for (uint32_t i = 0; i < l->rows_n && i < PROTO_LAT_ROWS_MAX; i++) {
        w->lat_rows[w->lat_rows_next] = (StoreLatRow){ l->rows[i].enc_ms, l->rows[i].dec_ms };
        w->lat_rows_next = (w->lat_rows_next + 1) % STORE_LAT_ROWS;
        if (w->nlat_rows < STORE_LAT_ROWS)
            w->nlat_rows++;
    }
}

static void status_apply(Store *s, StoreWorker *w, const MsgStatus *st)
{
    if (w->has_status && st->has_run_id && w->status.has_run_id
        && strcmp(st->run_id, w->status.run_id) != 0) {
        /* A new run on the same endpoint: its history replaces the old one. */
        for (int i = 0; i < w->nseries; i++)
            series_reset(&w->series[i]);
        w->npoints = w->nlat_rows = w->lat_rows_next = 0;
        w->has_gates = w->has_front = w->has_search = w->has_latency = w->has_extract = 0;
        w->has_train = 0;
        w->ema = 0;
        w->ema_bias = 1;
        w->need_snapshot = 1;
        log_add(s, (int)(w - s->w), 0, (double)time(NULL), "info", "new run: history reset");
    }
    w->status = *st;
    w->has_status = 1;
}

static void body_apply(Store *s, StoreWorker *w, const Msg *m)
{
    char name[PROTO_NAME_MAX + 16];
    switch (m->type) {
    case MSG_STATUS: status_apply(s, w, &m->u.status); break;
    case MSG_TRAIN:
        w->train = m->u.train;
        w->has_train = 1;
        series_push(series_get(w, "train.loss"), m->u.train.step, m->u.train.loss);
        ema_push(w, m->u.train.step, m->u.train.loss);
        break;
    case MSG_VALID:
        snprintf(name, sizeof name, "valid.loss.%s", m->u.valid.group);
        series_push(series_get(w, name), m->u.valid.step, m->u.valid.loss);
        break;
    case MSG_GATES: w->gates = m->u.gates; w->has_gates = 1; break;
    case MSG_LATENCY: latency_apply(w, &m->u.latency); break;
    case MSG_SEARCH:
        w->search = m->u.search;
        w->has_search = 1;
        series_push(series_get(w, "search.best_loss"), m->u.search.generation,
                    m->u.search.best_loss);
        break;
    case MSG_FRONT: front_apply(w, &m->u.front); break;
    case MSG_EXTRACT: w->extract = m->u.extract; w->has_extract = 1; break;
    case MSG_LOG:
        log_add(s, (int)(w - s->w), m->seq, m->ts, m->u.log.level, m->u.log.text);
        break;
    case MSG_TYPE_COUNT: break;
    }
}

/* Sequence bookkeeping; returns 0 when the message must be dropped. */
static int seq_accept(Store *s, StoreWorker *w, const Msg *m)
{
    if (w->id[0] && strcmp(w->id, m->worker) != 0) {
        /* Another process on this endpoint (a restart or resume): new sequence, same data. */
        log_add(s, (int)(w - s->w), 0, m->ts, "info", "worker changed: resyncing");
        w->sync = STORE_SYNC_NONE;
    }
    copy_str(w->id, sizeof w->id, m->worker);
    if (w->sync != STORE_SYNC_NONE && m->seq <= w->last_seq) {
        w->dropped_dup++;
        return 0;
    }
    if (w->sync == STORE_SYNC_NONE) {
        w->sync = STORE_SYNC_LIVE;
        w->need_snapshot = 1;
    } else if (w->sync == STORE_SYNC_OK && m->seq > w->last_seq + 1) {
        w->gaps++;
        w->need_snapshot = 1;
    }
    w->last_seq = m->seq;
    return 1;
}

int store_apply(Store *s, int conn, const Msg *m, double now)
{
    if (conn < 0 || conn >= s->nworkers || (unsigned)m->type >= MSG_TYPE_COUNT)
        return 0;
    StoreWorker *w = &s->w[conn];
    w->last_rx = now;
    if (!seq_accept(s, w, m))
        return 0;
    w->kind_seq[m->type] = m->seq;
    body_apply(s, w, m);
    w->applied++;
    s->version++;
    return 1;
}

/* ---- snapshots --------------------------------------------------------------------------- */

/* Series := the snapshot's points, then the live points newer than the snapshot's last step. */
static void series_merge(Store *s, StoreWorker *w, const MsgSeries *ss)
{
    StoreSeries *sr = series_get(w, ss->name);
    if (!sr)
        return;
    uint32_t n = ss->step_n < ss->value_n ? ss->step_n : ss->value_n;
    int64_t snap_last = n ? ss->step[n - 1] : INT64_MIN;
    double *x = s->tmp_x, *y = s->tmp_y;
    int live = store_series_points(sr, snap_last + (n ? 1 : 0), x, y, STORE_SERIES_CAP + 1);
    StoreSeries *tmp = &s->scratch;
    series_reset(tmp);
    for (uint32_t i = 0; i < n && i < PROTO_POINTS_MAX; i++)
        series_push(tmp, ss->step[i], ss->value[i]);
    for (int i = 0; i < live; i++)
        series_push(tmp, (int64_t)x[i], y[i]);
    copy_str(tmp->name, sizeof tmp->name, sr->name);
    *sr = *tmp;
}

/* Logs := the other sources' lines, then the snapshot's lines, then this worker's live lines
 * newer than the snapshot (older ones are in the snapshot already). */
static void logs_merge_snapshot(Store *s, int conn, const MsgSnapshot *snap)
{
    int n = s->log_n;
    for (int i = 0; i < n; i++)
        s->log_scratch[i] = *store_log_line(s, n - 1 - i);   /* oldest first */
    s->log_n = s->log_next = 0;
    for (int i = 0; i < n; i++) {
        const StoreLog *l = &s->log_scratch[i];
        if (l->worker != conn)
            log_add(s, l->worker, l->seq, l->ts, l->level, l->text);
    }
    for (uint32_t i = 0; i < snap->logs_n && i < PROTO_SNAP_LOGS; i++)
        log_add(s, conn, 0, snap->logs[i].has_ts ? snap->logs[i].ts : 0, snap->logs[i].level,
                snap->logs[i].text);
    for (int i = 0; i < n; i++) {
        const StoreLog *l = &s->log_scratch[i];
        if (l->worker == conn && l->seq > snap->seq)
            log_add(s, l->worker, l->seq, l->ts, l->level, l->text);
    }
}

/* Takes a snapshot record unless a live message of that type newer than the snapshot is held. */
static int snap_newer(const StoreWorker *w, MsgType t, int64_t snap_seq)
{
    return w->kind_seq[t] <= snap_seq;
}

void store_apply_snapshot(Store *s, int conn, const MsgSnapshot *snap, double now)
{
    if (conn < 0 || conn >= s->nworkers)
        return;
    StoreWorker *w = &s->w[conn];
    w->last_rx = now;
    if (snap->worker[0] && strcmp(snap->worker, w->id) != 0) {
        /* Another process's stream (a restart or resume): its seq starts afresh. */
        w->sync = STORE_SYNC_NONE;
        copy_str(w->id, sizeof w->id, snap->worker);
    }
    for (uint32_t i = 0; i < snap->series_n && i < PROTO_SERIES_MAX; i++)
        series_merge(s, w, &snap->series[i]);
    ema_rebuild(s, w);
    if (snap->has_status && snap_newer(w, MSG_STATUS, snap->seq)) {
        w->status = snap->status;
        w->has_status = 1;
    }
    if (snap->has_gates && snap_newer(w, MSG_GATES, snap->seq)) {
        w->gates = snap->gates;
        w->has_gates = 1;
    }
    if (snap->has_front && snap_newer(w, MSG_FRONT, snap->seq))
        front_apply(w, &snap->front);
    if (snap->has_latency && snap_newer(w, MSG_LATENCY, snap->seq)) {
        w->latency = snap->latency;
        w->has_latency = 1;
    }
    if (snap->has_search && snap_newer(w, MSG_SEARCH, snap->seq)) {
        w->search = snap->search;
        w->has_search = 1;
    }
    if (snap->has_extract && snap_newer(w, MSG_EXTRACT, snap->seq)) {
        w->extract = snap->extract;
        w->has_extract = 1;
    }
    logs_merge_snapshot(s, conn, snap);
    w->snap_seq = snap->seq;
    if (snap->seq > w->last_seq || w->sync == STORE_SYNC_NONE)
        w->last_seq = snap->seq;
    w->sync = STORE_SYNC_OK;
    w->need_snapshot = 0;
    s->version++;
}
