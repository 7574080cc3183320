/* Series history with pairwise downsampling and retained raw messages (see history.h). */
#include "history.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"

void history_init(History *h)
{
    memset(h, 0, sizeof *h);
}

static void raw_free(RawMsg *m)
{
    free(m->body);
    memset(m, 0, sizeof *m);
}

void history_done(History *h)
{
    for (int i = 0; i < h->nseries; i++) {
        free(h->series[i].x);
        free(h->series[i].y);
    }
    for (int i = 0; i < h->nlatest; i++)
        raw_free(&h->latest[i]);
    for (int i = 0; i < HISTORY_LOG_LINES; i++)
        raw_free(&h->log[i]);
    memset(h, 0, sizeof *h);
}

const Series *history_find(const History *h, const char *name)
{
    for (int i = 0; i < h->nseries; i++)
        if (strcmp(h->series[i].name, name) == 0)
            return &h->series[i];
    return NULL;
}

static Series *series_get(History *h, const char *name)
{
    Series *s = (Series *)history_find(h, name);
    if (s)
        return s;
    if (h->nseries == HISTORY_MAX_SERIES)
        return NULL;
    s = &h->series[h->nseries];
    memset(s, 0, sizeof *s);
    s->x = malloc(HISTORY_MAX_POINTS * sizeof *s->x);
    s->y = malloc(HISTORY_MAX_POINTS * sizeof *s->y);
    if (!s->x || !s->y) {
        free(s->x);
        free(s->y);
        return NULL;
    }
    snprintf(s->name, sizeof s->name, "%s", name);
    s->bucket = 1;
    h->nseries++;
    return s;
}

/* Halves a full series: point i becomes the mean of points 2i and 2i+1. */
static void series_merge(Series *s)
{
    ASSERT(s->n % 2 == 0);
    for (int i = 0; i < s->n / 2; i++) {
        s->x[i] = 0.5 * (s->x[2 * i] + s->x[2 * i + 1]);
        s->y[i] = 0.5f * (s->y[2 * i] + s->y[2 * i + 1]);
    }
    s->n /= 2;
    s->bucket *= 2;
}

int history_push(History *h, const char *name, double x, double y)
{
    Series *s = series_get(h, name);
    if (!s) {
        h->dropped++;
        return -1;
    }
    s->total++;
    s->open_x += x;
    s->open_y += y;
    if (++s->open_n < s->bucket)
        return 0;
    s->x[s->n] = s->open_x / (double)s->open_n;
    s->y[s->n] = (float)(s->open_y / (double)s->open_n);
    s->n++;
    s->open_n = 0;
    s->open_x = s->open_y = 0.0;
    if (s->n == HISTORY_MAX_POINTS)   /* merge as soon as full: every point spans `bucket` */
        series_merge(s);
    return 0;
}

int history_points(const Series *s, double *x, float *y)
{
    memcpy(x, s->x, (size_t)s->n * sizeof *x);
    memcpy(y, s->y, (size_t)s->n * sizeof *y);
    int n = s->n;
    if (s->open_n > 0) {
        x[n] = s->open_x / (double)s->open_n;
        y[n] = (float)(s->open_y / (double)s->open_n);
        n++;
    }
    return n;
}

static int raw_set(RawMsg *m, const void *body, size_t len)
{
    if (len > m->cap) {
        unsigned char *p = realloc(m->body, len);
        if (!p)
            return -1;
        m->body = p;
        m->cap = len;
    }
    memcpy(m->body, body, len);
    m->len = len;
    return 0;
}

int history_set_latest(History *h, const char *key, const void *body, size_t len)
{
    RawMsg *m = NULL;
    for (int i = 0; i < h->nlatest && !m; i++)
        if (strcmp(h->latest[i].topic, key) == 0)
            m = &h->latest[i];
    if (!m && h->nlatest < HISTORY_MAX_LATEST) {
        m = &h->latest[h->nlatest++];
        snprintf(m->topic, sizeof m->topic, "%s", key);
    }
    if (!m || raw_set(m, body, len) < 0) {
        h->dropped++;
        return -1;
    }
    return 0;
}

int history_add_log(History *h, const void *body, size_t len)
{
    int slot = (h->log_head + h->log_count) % HISTORY_LOG_LINES;
    if (h->log_count == HISTORY_LOG_LINES)
        h->log_head = (h->log_head + 1) % HISTORY_LOG_LINES;
    else
        h->log_count++;
    snprintf(h->log[slot].topic, sizeof h->log[slot].topic, "log");
    if (raw_set(&h->log[slot], body, len) < 0) {
        h->log[slot].len = 0;
        h->dropped++;
        return -1;
    }
    return 0;
}

const RawMsg *history_log_at(const History *h, int i)
{
    ASSERT(i >= 0 && i < h->log_count);
    return &h->log[(h->log_head + i) % HISTORY_LOG_LINES];
}
