/* Drawing helpers shared by the panels: boxes, clipped text, canvases, axis labels, bars.
 * They draw on stdscr with colour roles from crt.c and never read the store. Invariant: output
 * is clipped to the width given, so a panel cannot spill into its neighbour. */
#include "panel.h"

#include <curses.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <wchar.h>

#include "crt.h"

const StoreWorker *view_worker(const Store *s, const View *v)
{
    if (v->worker < 0 || v->worker >= s->nworkers)
        return NULL;
    return &s->w[v->worker];
}

/* One cell with the current attributes, through the wide-character API: no UTF-8 decoding per
 * cell (mvaddstr of a glyph goes through mbrtowc byte by byte). */
static void put_cp(int y, int x, unsigned cp)
{
    cchar_t cc;
    wchar_t s[2] = { (wchar_t)cp, L'\0' };
    setcchar(&cc, s, A_NORMAL, 0, NULL);
    mvadd_wch(y, x, &cc);
}

/* n copies of cp from (y, x) rightwards (horizontal) or downwards. */
static void put_run(int y, int x, unsigned cp, int n, int horizontal)
{
    cchar_t cc;
    wchar_t s[2] = { (wchar_t)cp, L'\0' };
    if (n <= 0)
        return;
    setcchar(&cc, s, A_NORMAL, 0, NULL);
    if (horizontal)
        mvhline_set(y, x, &cc, n);
    else
        mvvline_set(y, x, &cc, n);
}

/* Writes a UTF-8 string clipped to maxw display columns; returns columns used. */
static int put_clipped(int y, int x, int maxw, const char *text)
{
    if (maxw <= 0)
        return 0;
    wchar_t wbuf[512];
    mbstate_t st;
    memset(&st, 0, sizeof st);
    const char *src = text;
    size_t n = mbsrtowcs(wbuf, &src, sizeof wbuf / sizeof wbuf[0] - 1, &st);
    if (n == (size_t)-1) {   /* not valid in this locale: print bytes as ASCII */
        int k = 0;
        for (; text[k] && k < maxw; k++)
            mvaddch(y, x + k, (unsigned char)text[k] < 0x80 ? (chtype)text[k] : '?');
        return k;
    }
    wbuf[n] = 0;
    int cols = 0;
    size_t i = 0;
    for (; i < n; i++) {
        int cw = wcwidth(wbuf[i]);
        if (cw < 0)
            wbuf[i] = L'?', cw = 1;
        if (cols + cw > maxw)
            break;
        cols += cw;
    }
    mvaddnwstr(y, x, wbuf, (int)i);
    return cols;
}

int widget_text(int y, int x, int maxw, int role, const char *fmt, ...)
{
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    attrset(crt_attr(role));
    int n = put_clipped(y, x, maxw, buf);
    attrset(A_NORMAL);
    return n;
}

Rect widget_box(Rect r, const char *title, int focused)
{
    int role = focused ? ROLE_BOX_FOCUS : ROLE_BOX;
    attrset(crt_attr(role) | (focused ? A_BOLD : 0));
    /* Unicode box drawing on UTF-8 terminals (ACS breaks on PuTTY and some tmux setups),
     * plain ASCII otherwise. */
    int u = crt_utf8();
    put_run(r.y, r.x + 1, u ? 0x2500 : '-', r.w - 2, 1);
    put_run(r.y + r.h - 1, r.x + 1, u ? 0x2500 : '-', r.w - 2, 1);
    put_run(r.y + 1, r.x, u ? 0x2502 : '|', r.h - 2, 0);
    put_run(r.y + 1, r.x + r.w - 1, u ? 0x2502 : '|', r.h - 2, 0);
    put_cp(r.y, r.x, u ? 0x250c : '+');
    put_cp(r.y, r.x + r.w - 1, u ? 0x2510 : '+');
    put_cp(r.y + r.h - 1, r.x, u ? 0x2514 : '+');
    put_cp(r.y + r.h - 1, r.x + r.w - 1, u ? 0x2518 : '+');
    attrset(A_NORMAL);
    if (title && r.w > 6) {
        mvaddch(r.y, r.x + 1, ' ');
        int n = widget_text(r.y, r.x + 2, r.w - 5, focused ? ROLE_BOX_FOCUS : ROLE_TITLE, "%s",
                            title);
        mvaddch(r.y, r.x + 2 + n, ' ');
    }
    return (Rect){ .y = r.y + 1, .x = r.x + 1, .h = r.h - 2, .w = r.w - 2 };
}

void widget_waiting(Rect inner, const char *text)
{
    int len = (int)strlen(text);
    int x = inner.x + (inner.w > len ? (inner.w - len) / 2 : 0);
    widget_text(inner.y + (inner.h - 1) / 2, x, inner.w, ROLE_INACTIVE, "%s", text);
}

void widget_canvas(const ChartCanvas *c, int y, int x)
{
    int role, last = -1;
    for (int r = 0; r < c->h; r++)
        for (int col = 0; col < c->w; col++) {
            unsigned cp = chart_cell_cp(c, r, col, &role);
            if (!cp)
                continue;
            if (role != last)
                attrset(crt_attr(role));
            last = role;
            put_cp(y + r, x + col, cp);
        }
    attrset(A_NORMAL);
}

void widget_y_labels(const ChartAxis *ax, int y, int x, int h, int width)
{
    char b[32];
    chart_format(ax->ymax, b, sizeof b);
    widget_text(y, x, width, ROLE_INACTIVE, "%*s", width - 1, b);
    chart_format(ax->ymin, b, sizeof b);
    widget_text(y + h - 1, x, width, ROLE_INACTIVE, "%*s", width - 1, b);
    if (h >= 5) {
        double mid = ax->logy && ax->ymin > 0 ? sqrt(ax->ymin * ax->ymax)
                                              : (ax->ymin + ax->ymax) / 2;
        chart_format(mid, b, sizeof b);
        widget_text(y + (h - 1) / 2, x, width, ROLE_INACTIVE, "%*s", width - 1, b);
    }
}

void widget_bar(int y, int x, int width, double frac, int role)
{
    if (width <= 0)
        return;
    frac = frac < 0 ? 0 : frac > 1 ? 1 : frac;
    int eighths = (int)(frac * width * 8 + 0.5);
    attrset(crt_attr(role));
    static const unsigned part[8] = { 0, 0x258f, 0x258e, 0x258d, 0x258c, 0x258b, 0x258a, 0x2589 };
    int full = eighths / 8;
    put_run(y, x, crt_utf8() ? 0x2588 : '#', full, 1);
    if (full < width && eighths % 8 && crt_utf8())
        put_cp(y, x + full, part[eighths % 8]);
    attrset(A_NORMAL);
}
