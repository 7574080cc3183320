/* Layout: splits the screen into bands and the bands into panels by fixed fractions, then
 * checks the result against the minimum panel size. It does not know what panels draw; the key
 * bar is always the last row. Invariant: see layout.h (inside, non-overlapping, min size). */
#include "layout.h"

#include <string.h>

static const char *const preset_names[LAYOUT_COUNT] = {
    [LAYOUT_ALL] = "all",
    [LAYOUT_TRAIN] = "train",
    [LAYOUT_SEARCH] = "search",
};

const char *layout_preset_name(LayoutPreset preset)
{
    return (unsigned)preset < LAYOUT_COUNT ? preset_names[preset] : "?";
}

/* Puts n panels side by side in band (y, h), widths by per-mille fractions; the last takes the
 * remainder so the band is covered exactly. */
static void split_row(Layout *l, int y, int h, int cols, const PanelId *ids, const int *permille,
                      int n)
{
    int x = 0;
    for (int i = 0; i < n; i++) {
        int w = (i == n - 1) ? cols - x : cols * permille[i] / 1000;
        l->r[ids[i]] = (Rect){ .y = y, .x = x, .h = h, .w = w };
        x += w;
    }
}

static void layout_all(Layout *l, int body, int cols)
{
    int h1 = body * 40 / 100, h2 = body * 32 / 100;
    int h3 = body - h1 - h2;
    if (cols >= 120) {
        split_row(l, 0, h1, cols, (PanelId[]){ PANEL_LOSS, PANEL_STATUS }, (int[]){ 620, 0 }, 2);
        split_row(l, h1, h2, cols, (PanelId[]){ PANEL_FRONT, PANEL_GATES, PANEL_LATENCY },
                  (int[]){ 450, 275, 0 }, 3);
        split_row(l, h1 + h2, h3, cols, (PanelId[]){ PANEL_LOG }, (int[]){ 0 }, 1);
    } else {
        split_row(l, 0, h1, cols, (PanelId[]){ PANEL_LOSS, PANEL_STATUS }, (int[]){ 600, 0 }, 2);
        split_row(l, h1, h2, cols, (PanelId[]){ PANEL_FRONT, PANEL_GATES }, (int[]){ 550, 0 }, 2);
        split_row(l, h1 + h2, h3, cols, (PanelId[]){ PANEL_LATENCY, PANEL_LOG },
                  (int[]){ 450, 0 }, 2);
    }
}

static void layout_two_bands(Layout *l, int body, int cols, PanelId big, PanelId low_left)
{
    int h1 = body * 58 / 100;
    split_row(l, 0, h1, cols, (PanelId[]){ big, PANEL_STATUS }, (int[]){ 680, 0 }, 2);
    split_row(l, h1, body - h1, cols, (PanelId[]){ low_left, PANEL_LOG }, (int[]){ 500, 0 }, 2);
}

static int layout_fits(const Layout *l)
{
    for (int p = 0; p < PANEL_KEYBAR; p++) {
        if (!layout_visible(l, p))
            continue;
        if (l->r[p].h < LAYOUT_MIN_H || l->r[p].w < LAYOUT_MIN_W)
            return 0;
    }
    return 1;
}

int layout_compute(int rows, int cols, LayoutPreset preset, Layout *out)
{
    memset(out, 0, sizeof *out);
    if (rows < LAYOUT_MIN_ROWS || cols < LAYOUT_MIN_COLS || (unsigned)preset >= LAYOUT_COUNT) {
        out->too_small = 1;
        return 1;
    }
    int body = rows - 1;
    if (preset == LAYOUT_ALL)
        layout_all(out, body, cols);
    else if (preset == LAYOUT_TRAIN)
        layout_two_bands(out, body, cols, PANEL_LOSS, PANEL_GATES);
    else
        layout_two_bands(out, body, cols, PANEL_FRONT, PANEL_LATENCY);
    out->r[PANEL_KEYBAR] = (Rect){ .y = rows - 1, .x = 0, .h = 1, .w = cols };
    if (!layout_fits(out)) {
        memset(out, 0, sizeof *out);
        out->too_small = 1;
    }
    return out->too_small;
}

int layout_visible(const Layout *l, PanelId p)
{
    return (unsigned)p < PANEL_COUNT && l->r[p].h > 0 && l->r[p].w > 0;
}

int rect_overlap(Rect a, Rect b)
{
    if (a.h <= 0 || a.w <= 0 || b.h <= 0 || b.w <= 0)
        return 0;
    return a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h;
}
