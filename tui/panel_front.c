/* Pareto front panel: every evaluated subnet the store remembers as a point (latency vs
 * validation loss), the latest front highlighted, dominated points dim, the latency target as
 * a vertical line, and a cursor over the front with the point's details below; a mouse click
 * picks the front point under it (panel_front_pick uses the drawing's own geometry). Latency is
 * the measured one when known, else the predicted one. Invariant: the cursor index is clamped. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "panel.h"
#include "theme.h"

static double point_latency(const StorePoint *p)
{
    return p->has_latency_ms ? p->latency_ms : p->latency_pred_ms;
}

static double front_latency(const MsgFrontPoint *p)
{
    return p->has_latency_ms ? p->latency_ms : p->latency_pred_ms;
}

/* The y value of a point: validation loss, or BLEU when the view asks for it (NAN: none). */
static double point_y(const StorePoint *p, const View *v)
{
    return v->front_bleu ? (p->has_bleu ? p->bleu : NAN) : p->loss;
}

static double front_y(const MsgFrontPoint *p, const View *v)
{
    return v->front_bleu ? (p->has_bleu ? p->bleu : NAN) : p->loss;
}

/* The latency target, or NAN when there is none (a multi-objective search sends 0). */
static double front_target(const StoreWorker *w)
{
    double t = NAN;
    if (w->front.has_target_ms)
        t = w->front.target_ms;
    else if (w->has_status && w->status.has_target_ms)
        t = w->status.target_ms;
    return t > 0 ? t : NAN;
}

static int front_axis(const StoreWorker *w, const View *v, ChartAxis *ax)
{
    int n = 0;
    for (int i = 0; i < w->npoints; i++) {
        double x = point_latency(&w->points[i]), y = point_y(&w->points[i], v);
        if (chart_fit(ax, &x, &y, 1, n == 0) > 0)
            n++;
    }
    double t = front_target(w);
    if (n && isfinite(t)) {
        ax->xmin = fmin(ax->xmin, t);
        ax->xmax = fmax(ax->xmax, t);
    }
    double px = (ax->xmax - ax->xmin) * 0.05 + 1e-6, py = (ax->ymax - ax->ymin) * 0.08 + 1e-6;
    ax->xmin = ax->xmin >= 0 && ax->xmin - px < 0 ? 0 : ax->xmin - px;   /* no negative ms */
    ax->xmax += px;
    ax->ymin -= py;
    ax->ymax += py;
    return n;
}

static void front_details(int y, Rect in, const MsgFrontPoint *p, int index, int count)
{
    char meas[32] = "", bleu[32] = "";
    if (p->has_latency_ms)
        snprintf(meas, sizeof meas, ", measured %.2f ms", p->latency_ms);
    if (p->has_bleu)
        snprintf(bleu, sizeof bleu, ", BLEU %.2f", p->bleu);
    widget_text(y, in.x, in.w, ROLE_SELECTED_FG, "[%d/%d] predicted %.2f ms%s, loss %.4f%s, "
                "%.2fM params", index + 1, count, p->latency_pred_ms, meas, p->loss, bleu,
                (double)p->params / 1e6);
    widget_text(y + 1, in.x, in.w, ROLE_INACTIVE, "%s", p->arch);
}

void panel_front_draw(Rect r, const Store *s, const View *v)
{
    Rect in = widget_box(r, v->front_bleu ? "Pareto front (latency ms vs BLEU)"
                                          : "Pareto front (latency ms vs loss)",
                         v->focus == PANEL_FRONT);
    const StoreWorker *w = view_worker(s, v);
    ChartAxis ax = { 0 };
    if (!w || !w->has_front) {
        widget_waiting(in, "no search yet - the front appears when the search runs");
        return;
    }
    if (!front_axis(w, v, &ax)) {
        widget_waiting(in, v->front_bleu ? "no BLEU on these points (b: back to loss)"
                                         : "no plottable points yet");
        return;
    }
    int label_w = 7, ch = in.h - 3, cw = in.w - label_w;
    if (ch < 1 || cw < 4)
        return;
    chart_begin(v->canvas, cw, ch, v->glyphs);
    double t = front_target(w);
    if (isfinite(t))
        chart_vline(v->canvas, &ax, t, ROLE_CONSTRAINT_LINE);
    for (int i = 0; i < w->npoints; i++) {
        const StorePoint *p = &w->points[i];
        chart_point(v->canvas, &ax, point_latency(p), point_y(p, v),
                    p->on_front ? CHART_MARK_FRONT : CHART_MARK_POINT,
                    p->on_front ? ROLE_PARETO_FRONT : ROLE_PARETO_DOMINATED);
    }
    int count = (int)(w->front.points_n < PROTO_FRONT_MAX ? w->front.points_n : PROTO_FRONT_MAX);
    int cur = v->front_cursor < 0 ? 0 : v->front_cursor >= count ? count - 1 : v->front_cursor;
    if (count > 0)
        chart_point(v->canvas, &ax, front_latency(&w->front.points[cur]),
                    front_y(&w->front.points[cur], v), CHART_MARK_CURSOR, ROLE_CURSOR);
    widget_y_labels(&ax, in.y, in.x, ch, label_w);
    widget_canvas(v->canvas, in.y, in.x + label_w);
    char lo[24], hi[40];
    chart_format(ax.xmin, lo, sizeof lo);
    snprintf(hi, sizeof hi, "%.4g ms", ax.xmax);
    widget_text(in.y + ch, in.x + label_w, cw, ROLE_INACTIVE, "%s", lo);
    if (isfinite(t))
        widget_text(in.y + ch, in.x + label_w + (int)strlen(lo) + 2, cw / 2, ROLE_CONSTRAINT_LINE,
                    "target %.4g ms", t);
    widget_text(in.y + ch, in.x + in.w - (int)strlen(hi), (int)strlen(hi), ROLE_INACTIVE, "%s",
                hi);
    if (count > 0)
        front_details(in.y + ch + 1, in, &w->front.points[cur], cur, count);
}

int panel_front_pick(Rect r, const Store *s, const View *v, int y, int x)
{
    const StoreWorker *w = view_worker(s, v);
    ChartAxis ax = { 0 };
    if (!w || !w->has_front || !front_axis(w, v, &ax))
        return -1;
    Rect in = { r.y + 1, r.x + 1, r.h - 2, r.w - 2 };   /* as widget_box */
    int label_w = 7, ch = in.h - 3, cw = in.w - label_w;
    if (ch < 1 || cw < 4)
        return -1;
    chart_begin(v->canvas, cw, ch, v->glyphs);           /* geometry only: scratch canvas */
    int count = (int)(w->front.points_n < PROTO_FRONT_MAX ? w->front.points_n : PROTO_FRONT_MAX);
    int best = -1, best_d = 0;
    for (int i = 0; i < count; i++) {
        const MsgFrontPoint *p = &w->front.points[i];
        int col = chart_col(v->canvas, &ax, front_latency(p));
        int row = chart_row(v->canvas, &ax, front_y(p, v));
        if (col < 0 || row < 0)
            continue;
        int dx = in.x + label_w + col - x, dy = in.y + row - y;
        int d = dx * dx + 4 * dy * dy;   /* cells are about twice as high as wide */
        if (abs(dx) <= 2 && abs(dy) <= 1 && (best < 0 || d < best_d))
            best = i, best_d = d;
    }
    return best;
}
