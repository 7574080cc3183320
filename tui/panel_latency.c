/* Latency panel: measurement progress, the predictor's fit (RMSE, MAPD) as the worker reports
 * it, and predicted vs measured latency for subnets measured on the device (front points with
 * both), as a scatter around the diagonal with the residuals summarised. It does not fit or
 * predict anything itself. Invariant: residual statistics use only points with both values. */
#include <math.h>
#include <stdio.h>

#include "panel.h"
#include "theme.h"

typedef struct Residuals {
    int n;
    double mean_abs, max_abs, mean_rel;
} Residuals;

static Residuals latency_residuals(const StoreWorker *w, ChartAxis *ax)
{
    Residuals r = { 0 };
    for (int i = 0; i < w->npoints; i++) {
        const StorePoint *p = &w->points[i];
        if (!p->has_latency_ms)
            continue;
        double d = p->latency_ms - p->latency_pred_ms;
        r.mean_abs += fabs(d);
        r.max_abs = fmax(r.max_abs, fabs(d));
        r.mean_rel += p->latency_ms > 0 ? fabs(d) / p->latency_ms : 0;
        double lo = fmin(p->latency_ms, p->latency_pred_ms), hi = fmax(p->latency_ms,
                                                                        p->latency_pred_ms);
        double xs[2] = { lo, hi }, ys[2] = { lo, hi };
        chart_fit(ax, xs, ys, 2, r.n == 0);
        r.n++;
    }
    if (r.n) {
        r.mean_abs /= r.n;
        r.mean_rel /= r.n;
    }
    return r;
}

static int latency_text(Rect in, const StoreWorker *w, const Residuals *res)
{
    int y = in.y;
    if (w->has_latency) {
        const MsgLatency *l = &w->latency;
        int x = in.x + widget_text(y, in.x, in.w, ROLE_MAIN_FG, "measured %lld/%lld ",
                                   (long long)l->measured, (long long)l->total);
        if (l->total > 0)
            widget_bar(y, x, in.x + in.w - x, (double)l->measured / (double)l->total, ROLE_OK);
        y++;
        if (l->has_rmse_ms || l->has_mapd)
            widget_text(y++, in.x, in.w, ROLE_MAIN_FG, "predictor RMSE %.3f ms, MAPD %.1f%%",
                        l->has_rmse_ms ? l->rmse_ms : NAN, l->has_mapd ? 100 * l->mapd : NAN);
    }
    if (w->nlat_rows > 0 && y < in.y + in.h) {
        double enc = 0, dec = 0;
        for (int i = 0; i < w->nlat_rows; i++)
            enc += w->lat_rows[i].enc_ms, dec += w->lat_rows[i].dec_ms;
        widget_text(y++, in.x, in.w, ROLE_LAT_MEASURED, "last %d rows: encoder %.3g ms, "
                    "decoder %.3g ms (mean)", w->nlat_rows, enc / w->nlat_rows,
                    dec / w->nlat_rows);
    }
    if (res->n && y < in.y + in.h)
        widget_text(y++, in.x, in.w, ROLE_LAT_MEASURED,
                    "%d measured subnets: |err| mean %.2f ms (%.1f%%), max %.2f ms", res->n,
                    res->mean_abs, 100 * res->mean_rel, res->max_abs);
    return y - in.y;
}

void panel_latency_draw(Rect r, const Store *s, const View *v)
{
    Rect in = widget_box(r, "Latency: predicted vs measured", v->focus == PANEL_LATENCY);
    const StoreWorker *w = view_worker(s, v);
    ChartAxis ax = { 0 };
    Residuals res = w ? latency_residuals(w, &ax) : (Residuals){ 0 };
    if (!w || (!w->has_latency && res.n == 0)) {
        widget_waiting(in, "no latency data yet - measured after training");
        return;
    }
    int used = latency_text(in, w, &res);
    int label_w = 7, ch = in.h - used - 1, cw = in.w - label_w;
    if (res.n == 0 || ch < 3 || cw < 8)
        return;
    double pad = (ax.xmax - ax.xmin) * 0.05 + 1e-3;
    ax.xmin -= pad, ax.xmax += pad, ax.ymin -= pad, ax.ymax += pad;
    chart_begin(v->canvas, cw, ch, v->glyphs);
    double diag[2] = { ax.xmin, ax.xmax };
    chart_line(v->canvas, &ax, diag, diag, 2, ROLE_LAT_PREDICTED, '.');
    for (int i = 0; i < w->npoints; i++)
        if (w->points[i].has_latency_ms)
            chart_point(v->canvas, &ax, w->points[i].latency_pred_ms, w->points[i].latency_ms,
                        CHART_MARK_FRONT, ROLE_LAT_MEASURED);
    widget_y_labels(&ax, in.y + used, in.x, ch, label_w);
    widget_canvas(v->canvas, in.y + used, in.x + label_w);
    widget_text(in.y + used + ch, in.x + label_w, cw, ROLE_INACTIVE,
                "x predicted, y measured (ms); the line is exact");
}
