/* In-memory history of every series the worker has published, for snapshots (zguide Clone
 * pattern): numeric series (train loss, validation loss per group, search best, ...) kept at
 * most HISTORY_MAX_POINTS points each by pairwise merging, plus the latest raw message of
 * "current value" topics (front, gates, latency fit, ...) and the last HISTORY_LOG_LINES log
 * messages. Knows nothing of msgpack: bodies are opaque bytes. All storage is allocated when a
 * series or slot is first used; pushing a point never allocates.
 * Invariant: a series with bucket b stores points that each average b consecutive raw points
 * (the open, partial bucket is reported separately), so the shape of a long curve is kept. */
#ifndef MOS_HISTORY_H
#define MOS_HISTORY_H

#include <stddef.h>

#define HISTORY_MAX_POINTS 4096
#define HISTORY_MAX_SERIES 32   /* = PROTO_SERIES_MAX: every series fits a snapshot */
#define HISTORY_NAME_MAX   48
#define HISTORY_MAX_LATEST 32
#define HISTORY_LOG_LINES  200

typedef struct Series {
    char name[HISTORY_NAME_MAX];
    double *x;             /* HISTORY_MAX_POINTS each: step (or generation) */
    float *y;
    int n;                 /* closed points */
    long bucket;           /* raw points per closed point (a power of two) */
    long open_n;           /* raw points in the open bucket */
    double open_x, open_y; /* their sums */
    long long total;       /* raw points ever pushed */
} Series;

typedef struct RawMsg {
    char topic[HISTORY_NAME_MAX];
    unsigned char *body;
    size_t len, cap;
} RawMsg;

typedef struct History {
    Series series[HISTORY_MAX_SERIES];
    int nseries;
    RawMsg latest[HISTORY_MAX_LATEST];   /* one per key (topic, or topic + sub-key) */
    int nlatest;
    RawMsg log[HISTORY_LOG_LINES];       /* ring */
    int log_head, log_count;
    long long dropped;                   /* pushes refused because a table was full */
} History;

void history_init(History *h);
void history_done(History *h);

/* Appends the point (x, y) to the series called name, creating it on first use. Returns 0, or
 * -1 when HISTORY_MAX_SERIES series exist already (counted in h->dropped). */
int history_push(History *h, const char *name, double x, double y);

/* Finds a series by name; NULL when absent. */
const Series *history_find(const History *h, const char *name);

/* Copies the series' points into x[], y[] (capacity HISTORY_MAX_POINTS + 1): the closed points
 * followed by the open bucket's mean when it holds any. Returns the number of points. */
int history_points(const Series *s, double *x, float *y);

/* Keeps body as the latest message for key (e.g. "front" or "gates/largest"). Returns 0 or -1
 * when the table is full or memory runs out (counted in h->dropped). */
int history_set_latest(History *h, const char *key, const void *body, size_t len);

/* Keeps body as one of the last HISTORY_LOG_LINES log messages. */
int history_add_log(History *h, const void *body, size_t len);

/* The i-th retained log message, oldest first (0 <= i < log_count). */
const RawMsg *history_log_at(const History *h, int i);

#endif
