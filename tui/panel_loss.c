/* Loss panel: train loss (debiased EMA bold, raw faint behind) and validation loss per arch
 * group against the step, with log-y and zoom to the last N steps. It plots the store's series
 * only; smoothing is the store's. A worker without training history (a search-only job) gets its
 * best loss per generation instead. Invariant: the axis covers every point drawn. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "panel.h"
#include "theme.h"

typedef struct LossSeries {
    const char *name;
    const char *label;
    int role;
    char ascii;
} LossSeries;

/* Drawn in this order: the last one is on top. */
static const LossSeries loss_series[] = {
    { "train.loss", "raw", ROLE_LOSS_TRAIN_RAW, '.' },
    { "valid.loss.random", "random", ROLE_LOSS_VALID_RANDOM, 'x' },
    { "valid.loss.smallest", "smallest", ROLE_LOSS_VALID_SMALL, '+' },
    { "valid.loss.largest", "largest", ROLE_LOSS_VALID_LARGE, 'o' },
    { "train.loss.ema", "train", ROLE_LOSS_TRAIN, '*' },
};
#define LOSS_NSERIES (int)(sizeof loss_series / sizeof loss_series[0])

/* A worker that only searches (no training history): its best loss per generation. */
static const LossSeries search_series[] = {
    { "search.best_loss", "search best", ROLE_LOSS_TRAIN, '*' },
};

static int64_t loss_from_step(const StoreWorker *w, const View *v)
{
    const StoreSeries *raw = store_series(w, "train.loss");
    if (v->zoom_steps <= 0 || !raw || !raw->has_tail)
        return INT64_MIN;
    return raw->tail_step - v->zoom_steps;
}

/* Fits the axis over every series in the window; returns 0 when nothing is plottable. */
static int loss_axis(const StoreWorker *w, const View *v, const LossSeries *tab, int ntab,
                     int64_t from, ChartAxis *ax)
{
    int have = 0;
    ax->logy = v->logy;
    for (int i = 0; i < ntab; i++) {
        int n = store_series_points(store_series(w, tab[i].name), from, v->xs, v->ys,
                                    STORE_SERIES_CAP + 1);
        if (chart_fit(ax, v->xs, v->ys, n, !have) > 0)
            have = 1;
    }
    if (!have)
        return 0;
    if (ax->logy) {
        ax->ymin /= 1.05;
        ax->ymax *= 1.05;
    } else {
        double pad = (ax->ymax - ax->ymin) * 0.05 + 1e-9;
        ax->ymin -= pad;
        ax->ymax += pad;
    }
    return 1;
}

static void loss_legend(Rect in, const StoreWorker *w, const LossSeries *tab, int ntab)
{
    int x = in.x;
    const StoreSeries *raw = store_series(w, "train.loss");
    if (raw && raw->has_tail)
        x += widget_text(in.y, x, in.x + in.w - x, ROLE_MAIN_FG, "loss %.4f  ",
                         (double)raw->tail_value);
    for (int i = ntab - 1; i >= 0; i--) {
        const StoreSeries *sr = store_series(w, tab[i].name);
        if (!sr || !sr->has_tail || strcmp(tab[i].name, "train.loss") == 0)
            continue;
        x += widget_text(in.y, x, in.x + in.w - x, tab[i].role, "%s %.3f  ", tab[i].label,
                         (double)sr->tail_value);
    }
    if (w->has_train)
        widget_text(in.y, x, in.x + in.w - x, ROLE_INACTIVE, "step %lld",
                    (long long)w->train.step);
}

void panel_loss_draw(Rect r, const Store *s, const View *v)
{
    char title[64];
    snprintf(title, sizeof title, "Loss%s%s", v->logy ? " [log]" : "",
             v->zoom_steps > 0 ? " [zoom]" : "");
    Rect in = widget_box(r, title, v->focus == PANEL_LOSS);
    const StoreWorker *w = view_worker(s, v);
    ChartAxis ax = { 0 };
    int64_t from = w ? loss_from_step(w, v) : 0;
    const LossSeries *tab = loss_series;
    int ntab = LOSS_NSERIES;
    if (w && !loss_axis(w, v, tab, ntab, from, &ax)) {
        tab = search_series;   /* no training here: show the search's progress instead */
        ntab = 1;
        from = INT64_MIN;
    }
    if (!w || !loss_axis(w, v, tab, ntab, from, &ax)) {
        widget_waiting(in, "no training yet - waiting for train messages");
        return;
    }
    loss_legend(in, w, tab, ntab);
    int label_w = 7, ch = in.h - 2, cw = in.w - label_w;
    if (ch < 1 || cw < 4)
        return;
    chart_begin(v->canvas, cw, ch, v->glyphs);
    for (int i = 0; i < ntab; i++) {
        int n = store_series_points(store_series(w, tab[i].name), from, v->xs, v->ys,
                                    STORE_SERIES_CAP + 1);
        chart_line(v->canvas, &ax, v->xs, v->ys, n, tab[i].role, tab[i].ascii);
    }
    widget_y_labels(&ax, in.y + 1, in.x, ch, label_w);
    widget_canvas(v->canvas, in.y + 1, in.x + label_w);
    char lo[24], hi[24];
    snprintf(lo, sizeof lo, "%lld", (long long)ax.xmin);
    snprintf(hi, sizeof hi, "%s %lld", tab == search_series ? "generation" : "step",
             (long long)ax.xmax);
    widget_text(in.y + in.h - 1, in.x + label_w, cw, ROLE_INACTIVE, "%s", lo);
    int hx = in.x + in.w - (int)strlen(hi);
    if (hx > in.x + label_w + (int)strlen(lo) + 1)
        widget_text(in.y + in.h - 1, hx, (int)strlen(hi), ROLE_INACTIVE, "%s", hi);
}
