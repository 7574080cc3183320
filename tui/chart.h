/* Chart rasterizer: line charts and scatter plots into a cell canvas, with braille (2x4 dots per
 * cell), block (1x2) or ASCII (1x1) resolution. No curses: panels copy the canvas to the screen
 * and tests read it directly. Invariant: nothing is drawn outside the canvas, whatever the data
 * (NaN, infinities, empty ranges, non-positive values on a log axis are skipped). */
#ifndef TUI_CHART_H
#define TUI_CHART_H

#include <stdint.h>

#define CHART_MAX_W 320
#define CHART_MAX_H 100

typedef enum ChartGlyphs {
    CHART_BRAILLE,
    CHART_BLOCK,
    CHART_ASCII,
} ChartGlyphs;

/* Cell marks drawn over the dots (scatter points, reference lines). */
typedef enum ChartMark {
    CHART_MARK_NONE,
    CHART_MARK_POINT,     /* a dominated / ordinary point */
    CHART_MARK_FRONT,     /* a point on the Pareto front */
    CHART_MARK_CURSOR,    /* the selected point */
    CHART_MARK_VLINE,     /* part of a vertical reference line */
    CHART_MARK_HLINE,     /* part of a horizontal reference line */
    CHART_MARK_COUNT
} ChartMark;

typedef struct ChartAxis {
    double xmin, xmax, ymin, ymax;   /* ymin/ymax in data units, also with logy */
    int logy;
} ChartAxis;

typedef struct ChartCanvas {
    int w, h;                 /* cells */
    ChartGlyphs glyphs;
    uint8_t dots[CHART_MAX_H][CHART_MAX_W];     /* braille bits / block halves / ascii on */
    uint8_t role[CHART_MAX_H][CHART_MAX_W];     /* colour role of the last series drawn */
    char ascii[CHART_MAX_H][CHART_MAX_W];       /* ASCII glyph of that series */
    uint8_t mark[CHART_MAX_H][CHART_MAX_W];     /* ChartMark */
    uint8_t mark_role[CHART_MAX_H][CHART_MAX_W];
} ChartCanvas;

/* Clears the canvas for a w x h cell area (clamped to the maximum). */
void chart_begin(ChartCanvas *c, int w, int h, ChartGlyphs glyphs);

/* Dots per cell horizontally and vertically for the canvas's glyph set. */
int chart_dots_x(const ChartCanvas *c);
int chart_dots_y(const ChartCanvas *c);

/* Draws a polyline through (x[i], y[i]), i < n, in the axis range; segments touching a skipped
 * point are not drawn. role is stored per cell, ascii is the glyph in ASCII mode. */
void chart_line(ChartCanvas *c, const ChartAxis *ax, const double *x, const double *y, int n,
                int role, char ascii);

/* Marks the cell containing (x, y); returns 1 when it was inside the canvas. */
int chart_point(ChartCanvas *c, const ChartAxis *ax, double x, double y, ChartMark mark,
                int role);

/* A vertical line at x / a horizontal line at y across the canvas (under points). */
void chart_vline(ChartCanvas *c, const ChartAxis *ax, double x, int role);
void chart_hline(ChartCanvas *c, const ChartAxis *ax, double y, int role);

/* The glyph of one cell as a UTF-8 (or ASCII) string in out[8]; returns 0 for an empty cell.
 * *role gets the colour role to draw it with. */
int chart_cell(const ChartCanvas *c, int row, int col, char out[8], int *role);

/* The same glyph as a Unicode code point (ASCII in ASCII mode), 0 for an empty cell: what the
 * screen copy uses, with no UTF-8 round trip per cell. */
unsigned chart_cell_cp(const ChartCanvas *c, int row, int col, int *role);

/* Fits the axis to the data: y range over finite (positive when logy) values, no margin;
 * x range over the points; first=0 widens the current range instead of replacing it. Leaves
 * the axis unchanged when there is no usable point. Returns the number of usable points. */
int chart_fit(ChartAxis *ax, const double *x, const double *y, int n, int first);

/* Column / row of a data coordinate on the canvas, or -1 when outside. */
int chart_col(const ChartCanvas *c, const ChartAxis *ax, double x);
int chart_row(const ChartCanvas *c, const ChartAxis *ax, double y);

/* Formats a tick value compactly ("0.012", "3.41", "1.2k", "4e-05") into out. */
void chart_format(double v, char *out, int len);

#endif
