/* Status / workers panel: a line per connected worker (selectable; stale after 3 s without a
 * message) and the selected worker's phase, progress, lr, throughput, ETA, pause state, target,
 * search and extraction. Values come from the latest status/train/search/extract messages.
 * Invariant: every line is clipped to the panel. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "panel.h"
#include "theme.h"

static void format_eta(double s, char *out, size_t len)
{
    if (!isfinite(s) || s < 0)
        snprintf(out, len, "-");
    else if (s >= 3600)
        snprintf(out, len, "%dh%02dm", (int)(s / 3600), (int)fmod(s / 60, 60));
    else
        snprintf(out, len, "%dm%02ds", (int)(s / 60), (int)fmod(s, 60));
}

static int status_workers(Rect in, const Store *s, const View *v)
{
    int y = in.y;
    for (int i = 0; i < s->nworkers && y < in.y + in.h; i++, y++) {
        const StoreWorker *w = &s->w[i];
        int stale = !w->replay && store_stale(w, v->now);
        const char *state = w->has_status ? w->status.state : "waiting";
        int role = i == v->worker ? ROLE_SELECTED_FG : stale ? ROLE_WARN : ROLE_MAIN_FG;
        char age[32];
        if (w->replay)
            snprintf(age, sizeof age, "replay");
        else if (w->last_rx < 0)
            snprintf(age, sizeof age, "never heard");
        else
            snprintf(age, sizeof age, "%s %.0fs", stale ? "STALE" : "hb", store_age(w, v->now));
        widget_text(y, in.x, in.w, role, "%c %-18s %-8s %s", i == v->worker ? '>' : ' ',
                    w->id[0] ? w->id : w->endpoint, state, age);
    }
    return y - in.y;
}

static int line(int y, Rect in, int role, const char *label, const char *value)
{
    if (y >= in.y + in.h)
        return y;
    widget_text(y, in.x, 12, ROLE_INACTIVE, "%s", label);
    widget_text(y, in.x + 12, in.w - 12, role, "%s", value);
    return y + 1;
}

static int status_progress(int y, Rect in, const StoreWorker *w)
{
    const MsgStatus *st = &w->status;
    char b[256];
    if (st->total > 0)
        snprintf(b, sizeof b, "%lld / %lld (%.1f%%)", (long long)st->step, (long long)st->total,
                 100.0 * (double)st->step / (double)st->total);
    else
        snprintf(b, sizeof b, "%lld", (long long)st->step);
    y = line(y, in, ROLE_MAIN_FG, "step", b);
    if (st->total > 0 && y < in.y + in.h && in.w > 14) {
        widget_bar(y, in.x + 12, in.w - 12, (double)st->step / (double)st->total, ROLE_OK);
        y++;
    }
    if (st->has_lr || st->has_tok_per_s) {
        char lr[32] = "-", tok[48] = "";
        if (st->has_lr)
            snprintf(lr, sizeof lr, "%.3g", st->lr);
        if (st->has_tok_per_s)
            snprintf(tok, sizeof tok, "    tok/s %.0f", st->tok_per_s);
        snprintf(b, sizeof b, "%s%s", lr, tok);
        y = line(y, in, ROLE_MAIN_FG, "lr", b);
    }
    if (st->has_eta_s) {
        format_eta(st->eta_s, b, sizeof b);
        y = line(y, in, ROLE_MAIN_FG, "ETA", b);
    }
    return y;
}

static int status_extra(int y, Rect in, const StoreWorker *w)
{
    char b[256];
    if (w->has_status && w->status.has_target_ms) {
        snprintf(b, sizeof b, "%.2f ms", w->status.target_ms);
        y = line(y, in, ROLE_CONSTRAINT_LINE, "target", b);
    }
    if (w->has_search) {
        snprintf(b, sizeof b, "gen %lld%s%lld, best loss %.4f, %lld evaluated",
                 (long long)w->search.generation, w->search.has_generations ? "/" : "",
                 w->search.has_generations ? (long long)w->search.generations : 0LL,
                 w->search.best_loss, (long long)w->search.evaluated);
        y = line(y, in, ROLE_MAIN_FG, "search", b);
    }
    if (w->has_extract) {
        const MsgExtract *e = &w->extract;
        int failed = strcmp(e->status, "failed") == 0;
        snprintf(b, sizeof b, "%s %.0f%% %.180s", e->status, e->progress * 100,
                 failed && e->has_error ? e->error : e->has_path ? e->path : "");
        y = line(y, in, failed ? ROLE_ERROR : ROLE_OK, "extract", b);
    }
    if (w->has_status) {
        snprintf(b, sizeof b, "%s (pid %lld)", w->status.host, (long long)w->status.pid);
        y = line(y, in, ROLE_MAIN_FG, "host", b);
        y = line(y, in, ROLE_INACTIVE, "run", w->status.run_dir);
    }
    return y;
}

void panel_status_draw(Rect r, const Store *s, const View *v)
{
    Rect in = widget_box(r, "Status / workers", v->focus == PANEL_STATUS);
    int used = status_workers(in, s, v);
    const StoreWorker *w = view_worker(s, v);
    Rect rest = { in.y + used, in.x, in.h - used, in.w };
    if (!w || rest.h <= 0)
        return;
    if (!w->has_status) {
        widget_waiting(rest, "waiting for the worker's first status message");
        return;
    }
    const MsgStatus *st = &w->status;
    char b[256];
    int stale = !w->replay && store_stale(w, v->now);
    snprintf(b, sizeof b, "%s (%s)%s%s", st->phase, st->state, st->paused ? "  PAUSED" : "",
             stale ? "  STALE" : "");
    int y = line(rest.y, rest, st->paused || stale ? ROLE_WARN
                               : strcmp(st->state, "failed") == 0 ? ROLE_ERROR : ROLE_OK,
                 "phase", b);
    y = status_progress(y, rest, w);
    status_extra(y, rest, w);
}
