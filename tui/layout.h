/* Screen layout: a pure function from terminal size and preset to one rectangle per panel.
 * No curses, no state: the app calls it on every resize and the tests call it over a grid of
 * sizes. Invariant: when .too_small is 0, every panel the preset shows has at least
 * LAYOUT_MIN_H rows and LAYOUT_MIN_W columns, lies inside the screen and overlaps no other. */
#ifndef TUI_LAYOUT_H
#define TUI_LAYOUT_H

#define LAYOUT_MIN_ROWS 16
#define LAYOUT_MIN_COLS 60
#define LAYOUT_MIN_H 4   /* a box: top border, two lines of content, bottom border */
#define LAYOUT_MIN_W 20

typedef struct Rect {
    int y, x, h, w;
} Rect;

typedef enum PanelId {
    PANEL_LOSS,
    PANEL_GATES,
    PANEL_FRONT,
    PANEL_STATUS,
    PANEL_LATENCY,
    PANEL_LOG,
    PANEL_KEYBAR,
    PANEL_COUNT
} PanelId;

/* Which panels are shown: all of them, or a training or a search view with bigger charts. */
typedef enum LayoutPreset {
    LAYOUT_ALL,
    LAYOUT_TRAIN,
    LAYOUT_SEARCH,
    LAYOUT_COUNT
} LayoutPreset;

typedef struct Layout {
    int too_small;          /* 1: draw only the "terminal too small" line */
    Rect r[PANEL_COUNT];    /* h == 0 or w == 0: the panel is hidden in this preset */
} Layout;

/* Fills *out for a rows x cols screen. Never divides by zero, accepts any size (also 0 or
 * negative, which are "too small"). Returns out->too_small. */
int layout_compute(int rows, int cols, LayoutPreset preset, Layout *out);

/* 1 when the panel has a non-empty rectangle in *l. */
int layout_visible(const Layout *l, PanelId p);

/* Name of a preset, for the key bar ("all", "train", "search"). */
const char *layout_preset_name(LayoutPreset preset);

/* 1 when the rectangles share at least one cell. */
int rect_overlap(Rect a, Rect b);

#endif
