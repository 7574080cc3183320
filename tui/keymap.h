/* The one keymap table (key, action, help): it drives key dispatch in app.c, the key bar, the
 * help overlay and `mos-dash --keys` (the key list in docs/dashboard.md). No drawing, no state.
 * Invariant: a key appears at most once in the table (tested). */
#ifndef TUI_KEYMAP_H
#define TUI_KEYMAP_H

typedef enum Action {
    ACT_NONE,
    ACT_QUIT,
    ACT_HELP,
    ACT_PAUSE,
    ACT_TARGET,
    ACT_NUDGE_UP,
    ACT_NUDGE_DOWN,
    ACT_EXTRACT,
    ACT_FOCUS_NEXT,
    ACT_FOCUS_PREV,
    ACT_LEFT,
    ACT_RIGHT,
    ACT_UP,
    ACT_DOWN,
    ACT_LOGY,
    ACT_FRONT_Y,
    ACT_ZOOM,
    ACT_THEME,
    ACT_GLYPHS,
    ACT_PRESET,
    ACT_WORKER,
    ACT_REDRAW,
    ACT_COUNT
} Action;

typedef struct KeyBinding {
    int key;               /* a character or a curses KEY_* code */
    Action action;
    const char *name;      /* how the key is written: "q", "F1", "Tab", "Ctrl-L" */
    const char *bar;       /* short label in the key bar, or NULL when not shown there */
    const char *help;      /* one line for the help overlay and the docs */
} KeyBinding;

extern const KeyBinding keymap[];
extern const int keymap_count;

/* The action bound to key, or ACT_NONE. */
Action keymap_action(int key);

/* Prints the key list as a Markdown table (for docs/dashboard.md) to stdout. */
void keymap_print_markdown(void);

#endif
