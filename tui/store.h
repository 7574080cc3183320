/* The dashboard's model: everything the panels draw, built only from decoded protocol messages
 * (live, snapshot or replayed). No curses, no sockets, no allocation after store_new: history is
 * kept in fixed decimating series, the log in a ring. Invariant: per connection, a message is
 * applied at most once (seq <= the last applied seq is dropped) and a hole in the sequence
 * raises need_snapshot so the app can recover the history. */
#ifndef TUI_STORE_H
#define TUI_STORE_H

#include <stdint.h>

#include "msg.h"

#define STORE_WORKERS_MAX 8
#define STORE_SERIES_MAX 12
#define STORE_SERIES_CAP 2048        /* points kept per series before halving the resolution */
#define STORE_POINTS_MAX 512         /* evaluated subnets remembered for the Pareto scatter */
#define STORE_LAT_ROWS 256           /* measured latency rows remembered */
#define STORE_LOG_LINES 256
#define STORE_LOG_TEXT 240
#define STORE_STALE_S 3.0            /* heartbeat older than this: the worker is shown stale */
#define STORE_EMA_BETA 0.95

/* A history series at bounded memory: all points until full, then every other point is dropped
 * and only every stride-th new point is kept; the newest point is always available as tail. */
typedef struct StoreSeries {
    char name[PROTO_NAME_MAX + 1];
    int64_t step[STORE_SERIES_CAP];
    float value[STORE_SERIES_CAP];
    int n;
    int stride, pending;
    int has_tail;
    int64_t tail_step;
    float tail_value;
} StoreSeries;

/* An evaluated subnet seen on some front; on_front says whether it is on the latest one. */
typedef struct StorePoint {
    uint64_t arch_hash;
    double latency_pred_ms, latency_ms, loss, bleu;
    int has_latency_ms, has_bleu, on_front;
} StorePoint;

typedef struct StoreLatRow {
    double enc_ms, dec_ms;
} StoreLatRow;

typedef enum StoreSync {
    STORE_SYNC_NONE,       /* nothing heard yet */
    STORE_SYNC_LIVE,       /* live messages, no snapshot yet */
    STORE_SYNC_OK,         /* snapshot applied, sequence continuous */
} StoreSync;

typedef struct StoreWorker {
    int used;
    char endpoint[128];                  /* where the app connected, or the replayed file */
    int replay;                          /* a replayed log: heartbeat ages do not apply */
    char id[PROTO_NAME_MAX + 1];         /* header.worker of the last message */
    double last_rx;                      /* app clock (s) of the last message from it */
    StoreSync sync;
    int64_t last_seq, snap_seq;
    int need_snapshot;
    uint64_t applied, dropped_dup, gaps;
    int has_status, has_gates, has_front, has_search, has_latency, has_extract, has_train;
    int64_t kind_seq[MSG_TYPE_COUNT];    /* seq of the latest applied message of each type */
    MsgStatus status;
    MsgTrain train;                      /* last training update */
    MsgGates gates;
    MsgFront front;
    MsgSearch search;
    MsgLatency latency;                  /* rows: the latest message's only */
    MsgExtract extract;
    StoreSeries series[STORE_SERIES_MAX];
    int nseries;
    double ema, ema_bias;                /* EMA of the train loss and beta^t for debiasing */
    StorePoint points[STORE_POINTS_MAX];
    int npoints;
    StoreLatRow lat_rows[STORE_LAT_ROWS];
    int nlat_rows, lat_rows_next;
} StoreWorker;

typedef struct StoreLog {
    double ts;
    int worker;                          /* -1: the dashboard itself */
    int64_t seq;                         /* of the log message; 0 from a snapshot or local */
    char level[8];
    char text[STORE_LOG_TEXT];
} StoreLog;

typedef struct Store {
    StoreWorker w[STORE_WORKERS_MAX];
    int nworkers;
    StoreLog log[STORE_LOG_LINES];
    int log_n, log_next;
    uint64_t version;                    /* +1 on every change: the app redraws when it moved */
    StoreSeries scratch;                 /* merge space for snapshots */
    StoreLog log_scratch[STORE_LOG_LINES];
    double tmp_x[STORE_SERIES_CAP + 1], tmp_y[STORE_SERIES_CAP + 1];
} Store;

/* Heap-allocated (a store is a few MB); NULL when out of memory. store_destroy nulls *s. */
Store *store_new(void);
void store_destroy(Store **s);

/* Registers connection conn (0..STORE_WORKERS_MAX-1) with a label; returns conn or -1. */
int store_add_worker(Store *s, const char *endpoint);

/* Applies one decoded topic message from connection conn at app time now (seconds). Returns 1
 * when applied, 0 when dropped as a duplicate (seq <= last applied). */
int store_apply(Store *s, int conn, const Msg *m, double now);

/* Merges a snapshot: series become the snapshot's points plus any live points newer than them,
 * latest-value records are taken unless a newer live one is already there, logs are the
 * snapshot's followed by live lines after it. Clears need_snapshot. */
void store_apply_snapshot(Store *s, int conn, const MsgSnapshot *snap, double now);

/* Adds a line of the dashboard's own to the log (replies, warnings). level: info/warn/error. */
void store_log(Store *s, const char *level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Heartbeat age in seconds (a large number before the first message), and staleness. */
double store_age(const StoreWorker *w, double now);
int store_stale(const StoreWorker *w, double now);

/* Series by name ("train.loss", "train.loss.ema", "valid.loss.largest", ...), or NULL. */
const StoreSeries *store_series(const StoreWorker *w, const char *name);

/* Copies the series' points with step >= from_step (plus the tail) into x/y as doubles, at most
 * max points (the newest kept); returns the count. */
int store_series_points(const StoreSeries *sr, int64_t from_step, double *x, double *y, int max);

/* The i-th newest log line (0 = newest), or NULL. */
const StoreLog *store_log_line(const Store *s, int i);

uint64_t store_hash(const char *text);

#endif
