/* Panels: each draws one part of the store into a rectangle (one tui/panel_<name>.c each).
 * Panels read the store and the view state only; they never touch sockets or change the store.
 * Invariant: a panel draws inside its rectangle and nowhere else, at any size the layout gives. */
#ifndef TUI_PANEL_H
#define TUI_PANEL_H

#include "chart.h"
#include "layout.h"
#include "store.h"

/* What the user chose to look at; owned by the app, read by panels. */
typedef struct View {
    int worker;            /* selected connection */
    PanelId focus;
    int logy;              /* loss chart on a log axis */
    int front_bleu;        /* Pareto front y = BLEU instead of validation loss */
    int64_t zoom_steps;    /* 0: whole run; else the last N steps */
    int front_cursor;      /* index into the selected worker's latest front */
    int log_scroll;        /* lines scrolled back from the newest */
    int gate_layer;        /* first layer shown in the gates panel (scrolling) */
    ChartGlyphs glyphs;
    double now;            /* app clock (s) for heartbeat ages */
    ChartCanvas *canvas;   /* shared scratch canvas */
    double *xs, *ys;       /* shared scratch arrays of STORE_SERIES_CAP + 1 */
} View;

typedef void (*PanelDraw)(Rect r, const Store *s, const View *v);

void panel_loss_draw(Rect r, const Store *s, const View *v);
void panel_gates_draw(Rect r, const Store *s, const View *v);
void panel_front_draw(Rect r, const Store *s, const View *v);
void panel_status_draw(Rect r, const Store *s, const View *v);
void panel_latency_draw(Rect r, const Store *s, const View *v);
void panel_log_draw(Rect r, const Store *s, const View *v);

/* The index of the front point drawn at screen cell (y, x) or next to it (2 columns, 1 row),
 * for a front panel drawn in r; -1 when there is none. Uses v->canvas as scratch. */
int panel_front_pick(Rect r, const Store *s, const View *v, int y, int x);

/* ---- widgets shared by the panels (tui/widget.c) ------------------------------------------ */

/* Draws the border and title of r (focused: highlighted); returns the inner rectangle. */
Rect widget_box(Rect r, const char *title, int focused);

/* Prints at (y, x) at most maxw columns with a colour role; returns columns written. */
int widget_text(int y, int x, int maxw, int role, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

/* A centred dim line saying what the panel waits for (e.g. "no search yet"). */
void widget_waiting(Rect inner, const char *text);

/* Copies a rasterized canvas to the screen at (y, x). */
void widget_canvas(const ChartCanvas *c, int y, int x);

/* Y-axis labels for ax in the left `width` columns of rows [y, y+h) (top, middle, bottom). */
void widget_y_labels(const ChartAxis *ax, int y, int x, int h, int width);

/* A horizontal bar of `frac` (0..1) of width columns, with fractional blocks when UTF-8. */
void widget_bar(int y, int x, int width, double frac, int role);

/* The selected worker, or NULL when there is none. */
const StoreWorker *view_worker(const Store *s, const View *v);

#endif
