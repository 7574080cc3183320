/* Router gates panel: for the latest gates message, one line per layer. Layer-wise MoS: a
 * stacked bar of the mixture weights, one colour per expert; neuron-wise: the mean share per
 * expert as the bar plus a histogram of router outputs. It does not compute anything the worker
 * did not send. Invariant: layer and expert indices are bounded by the protocol's maxima. */
#include <stdio.h>
#include <string.h>

#include "crt.h"
#include "panel.h"
#include "theme.h"

static int gate_role(int expert)
{
    return ROLE_GATE_0 + expert % THEME_GATE_ROLES;
}

/* One stacked bar: expert e takes frac[e] of width columns (cumulative rounding). */
static void gates_stacked(int y, int x, int width, const float *frac, int n)
{
    double total = 0, acc = 0;
    for (int e = 0; e < n; e++)
        total += frac[e] > 0 ? frac[e] : 0;
    if (total <= 0)
        return;
    int col = 0;
    for (int e = 0; e < n; e++) {
        acc += (frac[e] > 0 ? frac[e] : 0) / total;
        int end = (int)(acc * width + 0.5);
        char ascii[2] = { (char)('0' + e % 10), 0 };   /* mono terminals: the digit */
        for (; col < end && col < width; col++)
            widget_text(y, x + col, 1, gate_role(e), "%s",
                        crt_utf8() && crt_color_level() != CRT_COLOR_MONO ? "\u2588" : ascii);
    }
}

static void gates_hist(int y, int x, int width, const MsgGateLayer *l)
{
    static const char *const levels[8] = { "\u2581", "\u2582", "\u2583", "\u2584", "\u2585",
                                            "\u2586", "\u2587", "\u2588" };
    static const char ascii[] = " .:-=+*#";
    float max = 0;
    int n = (int)(l->hist_n < PROTO_BINS_MAX ? l->hist_n : PROTO_BINS_MAX);
    for (int i = 0; i < n; i++)
        max = l->hist[i] > max ? l->hist[i] : max;
    for (int i = 0; i < n && i < width; i++) {
        int k = max > 0 ? (int)(l->hist[i] / max * 7 + 0.5) : 0;
        k = k < 0 ? 0 : k > 7 ? 7 : k;
        if (crt_utf8())
            widget_text(y, x + i, 1, ROLE_INACTIVE, "%s", levels[k]);
        else
            widget_text(y, x + i, 1, ROLE_INACTIVE, "%c", ascii[k]);
    }
}

static void gates_layer(int y, Rect in, const MsgGates *g, const MsgGateLayer *l)
{
    int experts = (int)(g->experts < PROTO_EXPERTS_MAX ? g->experts : PROTO_EXPERTS_MAX);
    const float *frac = l->m_n ? l->m : l->share;
    int n = (int)(l->m_n ? l->m_n : l->share_n);
    n = n < experts ? n : experts;
    int x = in.x;
    x += widget_text(y, x, in.w, ROLE_MAIN_FG, "%s%-2lld ", l->stack, (long long)l->layer);
    int hist_w = l->hist_n > 0 ? (int)(l->hist_n < PROTO_BINS_MAX ? l->hist_n : PROTO_BINS_MAX) + 1
                               : 0;
    int nums_w = 5 * n, room = in.x + in.w - x;
    if (room - nums_w - hist_w < 8)     /* narrow: drop the numbers first, then the histogram */
        nums_w = 0;
    if (room - hist_w < 8)
        hist_w = 0;
    int bar_w = room - nums_w - hist_w;
    gates_stacked(y, x, bar_w, frac, n);
    x += bar_w;
    for (int e = 0; nums_w && e < n; e++)
        x += widget_text(y, x, 5, gate_role(e), " %.2f", (double)frac[e]);
    if (hist_w)
        gates_hist(y, x + 1, hist_w - 1, l);
}

static void gates_header(Rect in, const MsgGates *g)
{
    int x = in.x;
    x += widget_text(in.y, x, in.w, ROLE_MAIN_FG, "%s-wise, %lld experts, step %lld  ",
                     g->kind, (long long)g->experts, (long long)g->step);
    for (int e = 0; e < (int)g->experts && e < THEME_GATE_ROLES; e++)
        x += widget_text(in.y, x, in.x + in.w - x, gate_role(e), "E%d ", e);
    widget_text(in.y + 1, in.x, in.w, ROLE_INACTIVE, "%s", g->arch);
}

void panel_gates_draw(Rect r, const Store *s, const View *v)
{
    Rect in = widget_box(r, "Router gates", v->focus == PANEL_GATES);
    const StoreWorker *w = view_worker(s, v);
    if (!w || !w->has_gates) {
        widget_waiting(in, "no router data yet - gates come with training");
        return;
    }
    const MsgGates *g = &w->gates;
    if (g->experts <= 1 || g->layers_n == 0) {
        widget_waiting(in, "this supernet has no MoS (1 expert)");
        return;
    }
    gates_header(in, g);
    int rows = in.h - 2;
    int nl = (int)(g->layers_n < PROTO_LAYERS_MAX ? g->layers_n : PROTO_LAYERS_MAX);
    int first = v->gate_layer < nl ? v->gate_layer : 0;
    if (first > nl - rows)
        first = nl - rows > 0 ? nl - rows : 0;
    for (int i = 0; i < rows && first + i < nl; i++)
        gates_layer(in.y + 2 + i, in, g, &g->layers[first + i]);
}
