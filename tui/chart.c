/* Rasterizer for the dashboard's charts: maps data to a dot grid (Bresenham lines), then dots
 * to glyphs. It does not draw axes labels or borders (panels do). Invariant: every write is
 * bounds-checked against the canvas size, so bad data cannot corrupt memory. */
#include "chart.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

void chart_begin(ChartCanvas *c, int w, int h, ChartGlyphs glyphs)
{
    c->w = w < 0 ? 0 : w > CHART_MAX_W ? CHART_MAX_W : w;
    c->h = h < 0 ? 0 : h > CHART_MAX_H ? CHART_MAX_H : h;
    c->glyphs = glyphs;
    for (int r = 0; r < c->h; r++) {
        memset(c->dots[r], 0, (size_t)c->w);
        memset(c->mark[r], 0, (size_t)c->w);
    }
}

int chart_dots_x(const ChartCanvas *c)
{
    return c->glyphs == CHART_BRAILLE ? 2 : 1;
}

int chart_dots_y(const ChartCanvas *c)
{
    return c->glyphs == CHART_BRAILLE ? 4 : c->glyphs == CHART_BLOCK ? 2 : 1;
}

/* Y in the plotted space (log10 when logy); NAN when not plottable. */
static double y_plot(const ChartAxis *ax, double y)
{
    if (!isfinite(y))
        return NAN;
    if (ax->logy)
        return y > 0 ? log10(y) : NAN;
    return y;
}

/* Continuous dot coordinates of a data point; returns 0 when not plottable. */
static int to_dots(const ChartCanvas *c, const ChartAxis *ax, double x, double y, double *px,
                   double *py)
{
    double ylo = y_plot(ax, ax->ymin), yhi = y_plot(ax, ax->ymax), yp = y_plot(ax, y);
    if (!isfinite(x) || !isfinite(yp) || !isfinite(ylo) || !isfinite(yhi))
        return 0;
    double xs = ax->xmax - ax->xmin, ys = yhi - ylo;
    int W = c->w * chart_dots_x(c), H = c->h * chart_dots_y(c);
    *px = xs > 0 ? (x - ax->xmin) / xs * (W - 1) : (W - 1) / 2.0;
    *py = ys > 0 ? (H - 1) - (yp - ylo) / ys * (H - 1) : (H - 1) / 2.0;
    return 1;
}

static void set_dot(ChartCanvas *c, int dx, int dy, int role, char ascii)
{
    int sx = chart_dots_x(c), sy = chart_dots_y(c);
    if (dx < 0 || dy < 0 || dx >= c->w * sx || dy >= c->h * sy)
        return;
    int col = dx / sx, row = dy / sy, bx = dx % sx, by = dy % sy;
    uint8_t bit;
    if (c->glyphs == CHART_BRAILLE) {
        static const uint8_t braille[4][2] = { { 0x01, 0x08 }, { 0x02, 0x10 }, { 0x04, 0x20 },
                                               { 0x40, 0x80 } };
        bit = braille[by][bx];
    } else {
        bit = (uint8_t)(1u << by);
    }
    c->dots[row][col] |= bit;
    c->role[row][col] = (uint8_t)role;
    c->ascii[row][col] = ascii;
}

static void line_dots(ChartCanvas *c, int x0, int y0, int x1, int y1, int role, char ascii)
{
    int dx = x1 > x0 ? x1 - x0 : x0 - x1, sx = x0 < x1 ? 1 : -1;
    int dy = y1 > y0 ? y0 - y1 : y1 - y0, sy = y0 < y1 ? 1 : -1;
    int e = dx + dy;
    for (int guard = 0; guard < 4 * (CHART_MAX_W + CHART_MAX_H) * 4; guard++) {
        set_dot(c, x0, y0, role, ascii);
        if (x0 == x1 && y0 == y1)
            break;
        int e2 = 2 * e;
        if (e2 >= dy) { e += dy; x0 += sx; }
        if (e2 <= dx) { e += dx; y0 += sy; }
    }
}

/* Clamps a dot coordinate into a range slightly beyond the canvas so that long segments stay
 * cheap to draw and still leave at the right edge. */
static int clamp_dot(double v, int max)
{
    if (v < -1)
        return -1;
    if (v > max)
        return max;
    return (int)lround(v);
}

void chart_line(ChartCanvas *c, const ChartAxis *ax, const double *x, const double *y, int n,
                int role, char ascii)
{
    int W = c->w * chart_dots_x(c), H = c->h * chart_dots_y(c);
    int have_prev = 0, px0 = 0, py0 = 0;
    for (int i = 0; i < n; i++) {
        double fx, fy;
        if (!to_dots(c, ax, x[i], y[i], &fx, &fy)) {
            have_prev = 0;
            continue;
        }
        int px = clamp_dot(fx, W), py = clamp_dot(fy, H);
        if (have_prev)
            line_dots(c, px0, py0, px, py, role, ascii);
        else
            set_dot(c, px, py, role, ascii);
        px0 = px;
        py0 = py;
        have_prev = 1;
    }
}

int chart_col(const ChartCanvas *c, const ChartAxis *ax, double x)
{
    double fx, fy;
    if (!to_dots(c, ax, x, ax->ymax, &fx, &fy) || fx < -0.5 || fx > c->w * chart_dots_x(c) - 0.5)
        return -1;
    return (int)lround(fx) / chart_dots_x(c);
}

int chart_row(const ChartCanvas *c, const ChartAxis *ax, double y)
{
    double fx, fy;
    if (!to_dots(c, ax, ax->xmin, y, &fx, &fy) || fy < -0.5 || fy > c->h * chart_dots_y(c) - 0.5)
        return -1;
    return (int)lround(fy) / chart_dots_y(c);
}

static void put_mark(ChartCanvas *c, int row, int col, ChartMark mark, int role)
{
    if (row < 0 || col < 0 || row >= c->h || col >= c->w)
        return;
    /* Points beat lines, the front beats dominated points, the cursor beats everything. */
    if (c->mark[row][col] != CHART_MARK_NONE && c->mark[row][col] < CHART_MARK_VLINE
        && (mark >= CHART_MARK_VLINE || mark < c->mark[row][col]))
        return;
    c->mark[row][col] = (uint8_t)mark;
    c->mark_role[row][col] = (uint8_t)role;
}

int chart_point(ChartCanvas *c, const ChartAxis *ax, double x, double y, ChartMark mark,
                int role)
{
    int col = chart_col(c, ax, x), row = chart_row(c, ax, y);
    if (row < 0 || col < 0)
        return 0;
    put_mark(c, row, col, mark, role);
    return 1;
}

void chart_vline(ChartCanvas *c, const ChartAxis *ax, double x, int role)
{
    int col = chart_col(c, ax, x);
    for (int row = 0; col >= 0 && row < c->h; row++)
        put_mark(c, row, col, CHART_MARK_VLINE, role);
}

void chart_hline(ChartCanvas *c, const ChartAxis *ax, double y, int role)
{
    int row = chart_row(c, ax, y);
    for (int col = 0; row >= 0 && col < c->w; col++)
        put_mark(c, row, col, CHART_MARK_HLINE, role);
}

static void utf8_encode(unsigned cp, char out[8])
{
    if (cp < 0x80) {
        out[0] = (char)cp;
        out[1] = '\0';
    } else if (cp < 0x800) {
        out[0] = (char)(0xc0 | cp >> 6);
        out[1] = (char)(0x80 | (cp & 0x3f));
        out[2] = '\0';
    } else {
        out[0] = (char)(0xe0 | cp >> 12);
        out[1] = (char)(0x80 | (cp >> 6 & 0x3f));
        out[2] = (char)(0x80 | (cp & 0x3f));
        out[3] = '\0';
    }
}

static unsigned mark_glyph(const ChartCanvas *c, int mark)
{
    static const unsigned uni[CHART_MARK_COUNT] = { 0, 0x2022, 0x25c6, 0x25c9, 0x2502, 0x2500 };
    static const char asc[CHART_MARK_COUNT] = { 0, '.', '#', '@', '|', '-' };
    return c->glyphs == CHART_ASCII ? (unsigned char)asc[mark] : uni[mark];
}

unsigned chart_cell_cp(const ChartCanvas *c, int row, int col, int *role)
{
    if (row < 0 || col < 0 || row >= c->h || col >= c->w)
        return 0;
    if (c->mark[row][col] != CHART_MARK_NONE) {
        *role = c->mark_role[row][col];
        return mark_glyph(c, c->mark[row][col]);
    }
    uint8_t d = c->dots[row][col];
    if (!d)
        return 0;
    *role = c->role[row][col];
    if (c->glyphs == CHART_BRAILLE)
        return 0x2800u + d;
    if (c->glyphs == CHART_BLOCK)
        return d == 1 ? 0x2580u : d == 2 ? 0x2584u : 0x2588u;
    return (unsigned char)c->ascii[row][col];
}

int chart_cell(const ChartCanvas *c, int row, int col, char out[8], int *role)
{
    unsigned cp = chart_cell_cp(c, row, col, role);
    out[0] = '\0';
    if (cp)
        utf8_encode(cp, out);
    return cp != 0;
}

int chart_fit(ChartAxis *ax, const double *x, const double *y, int n, int first)
{
    int used = 0;
    double xlo = INFINITY, xhi = -INFINITY, ylo = INFINITY, yhi = -INFINITY;
    for (int i = 0; i < n; i++) {
        if (!isfinite(x[i]) || !isfinite(y[i]) || (ax->logy && y[i] <= 0))
            continue;
        used++;
        xlo = fmin(xlo, x[i]);
        xhi = fmax(xhi, x[i]);
        ylo = fmin(ylo, y[i]);
        yhi = fmax(yhi, y[i]);
    }
    if (!used)
        return 0;
    if (!first) {
        xlo = fmin(xlo, ax->xmin);
        xhi = fmax(xhi, ax->xmax);
        ylo = fmin(ylo, ax->ymin);
        yhi = fmax(yhi, ax->ymax);
    }
    ax->xmin = xlo;
    ax->xmax = xhi;
    ax->ymin = ylo;
    ax->ymax = yhi;
    return used;
}

void chart_format(double v, char *out, int len)
{
    double a = fabs(v);
    if (!isfinite(v))
        snprintf(out, (size_t)len, "-");
    else if (a >= 1e5)
        snprintf(out, (size_t)len, "%.3g", v);
    else if (a >= 1e3)
        snprintf(out, (size_t)len, "%.1fk", v / 1e3);
    else if (a >= 10 || a == 0)
        snprintf(out, (size_t)len, "%.4g", v);
    else if (a >= 1e-3)
        snprintf(out, (size_t)len, "%.3g", v);
    else
        snprintf(out, (size_t)len, "%.1e", v);
}
