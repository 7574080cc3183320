/* Readable message lines (see watchfmt.h). Each line starts with the topic so that grep works;
 * numbers use fixed, short formats; optional fields appear only when present. */
#include "watchfmt.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

typedef struct Line {
    char *buf;
    size_t n, len;
} Line;

__attribute__((format(printf, 2, 3))) static void put(Line *l, const char *fmt, ...)
{
    if (l->len >= l->n)
        return;
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(l->buf + l->len, l->n - l->len, fmt, ap);
    va_end(ap);
    if (k > 0)
        l->len = l->len + (size_t)k < l->n ? l->len + (size_t)k : l->n - 1;
}

static void put_duration(Line *l, double s)
{
    long t = (long)(s + 0.5);
    if (t >= 3600)
        put(l, "%ldh%02ldm", t / 3600, t / 60 % 60);
    else if (t >= 60)
        put(l, "%ldm%02lds", t / 60, t % 60);
    else
        put(l, "%lds", t);
}

static void fmt_status(Line *l, const MsgStatus *s)
{
    put(l, "status  %s %s", s->phase, s->state);
    if (s->total > 0)
        put(l, " step %lld/%lld", (long long)s->step, (long long)s->total);
    else if (s->step > 0)
        put(l, " step %lld", (long long)s->step);
    if (s->has_lr)
        put(l, " lr %.3g", s->lr);
    if (s->has_tok_per_s)
        put(l, " %.0f tok/s", s->tok_per_s);
    if (s->has_eta_s) {
        put(l, " eta ");
        put_duration(l, s->eta_s);
    }
    if (s->has_target_ms)
        put(l, " target %.1f ms", s->target_ms);
    put(l, " (%s pid %lld)", s->host, (long long)s->pid);
}

static void fmt_latency(Line *l, const MsgLatency *m)
{
    put(l, "latency %lld/%lld measured", (long long)m->measured, (long long)m->total);
    if (m->has_rmse_ms)
        put(l, " fit rmse %.2f ms", m->rmse_ms);
    if (m->has_mapd)
        put(l, " mapd %.1f%%", 100.0 * m->mapd);
}

static void fmt_search(Line *l, const MsgSearch *m)
{
    put(l, "search  %s gen %lld", m->algo, (long long)m->generation);
    if (m->has_generations)
        put(l, "/%lld", (long long)m->generations);
    put(l, " best %.4f mean %.4f target %.1f ms evaluated %lld", m->best_loss, m->mean_loss,
        m->target_ms, (long long)m->evaluated);
    if (m->has_best_latency_ms)
        put(l, " best latency %.1f ms", m->best_latency_ms);
}

static void fmt_front(Line *l, const MsgFront *m)
{
    put(l, "front   %u points", m->points_n);
    if (m->has_generation)
        put(l, " gen %lld", (long long)m->generation);
    for (uint32_t i = 0; i < m->points_n && i < 4; i++)
        put(l, "%s %.1f ms/%.3f", i ? "," : ":", m->points[i].latency_pred_ms,
            m->points[i].loss);
    if (m->points_n > 4)
        put(l, ", ...");
}

static void fmt_extract(Line *l, const MsgExtract *m)
{
    put(l, "extract %s %.0f%% %s", m->status, 100.0 * m->progress, m->arch);
    if (m->has_path)
        put(l, " -> %s", m->path);
    if (m->has_error)
        put(l, ": %s", m->error);
}

int watchfmt_msg(const Msg *m, char *buf, size_t n)
{
    Line l = {buf, n, 0};
    buf[0] = '\0';
    switch (m->type) {
    case MSG_STATUS: fmt_status(&l, &m->u.status); break;
    case MSG_TRAIN:
        put(&l, "train   step %lld", (long long)m->u.train.step);
        if (m->u.train.has_total)
            put(&l, "/%lld", (long long)m->u.train.total);
        put(&l, " loss %.4f lr %.3g gnorm %.3g %.0f tok/s", m->u.train.loss, m->u.train.lr,
            m->u.train.grad_norm, m->u.train.tok_per_s);
        break;
    case MSG_VALID:
        put(&l, "valid   step %lld %s loss %.4f", (long long)m->u.valid.step, m->u.valid.group,
            m->u.valid.loss);
        if (m->u.valid.has_bleu)
            put(&l, " bleu %.2f", m->u.valid.bleu);
        break;
    case MSG_GATES:
        put(&l, "gates   step %lld %s MoS, %lld experts, %u layers", (long long)m->u.gates.step,
            m->u.gates.kind, (long long)m->u.gates.experts, m->u.gates.layers_n);
        break;
    case MSG_LATENCY: fmt_latency(&l, &m->u.latency); break;
    case MSG_SEARCH: fmt_search(&l, &m->u.search); break;
    case MSG_FRONT: fmt_front(&l, &m->u.front); break;
    case MSG_EXTRACT: fmt_extract(&l, &m->u.extract); break;
    case MSG_LOG: put(&l, "log     %s: %s", m->u.log.level, m->u.log.text); break;
    case MSG_TYPE_COUNT: put(&l, "?"); break;
    }
    return (int)l.len;
}

int watchfmt_status(const MsgStatus *s, char *buf, size_t n)
{
    Line l = {buf, n, 0};
    buf[0] = '\0';
    fmt_status(&l, s);
    return (int)l.len;
}
