/* The keymap table and its lookups (see keymap.h). Keys follow htop/btop habits: q quits,
 * ?/F1 help, Tab moves focus, arrows move the cursor; `l` is log-y as the issue asks, so vim's
 * `l` (right) is not bound — h/j/k are, and the arrow keys cover right. */
#include "keymap.h"

#include <curses.h>
#include <stdio.h>

const KeyBinding keymap[] = {
    { 'q', ACT_QUIT, "q", "Quit", "quit the dashboard (workers keep running)" },
    { '?', ACT_HELP, "?", "Help", "show or hide this help" },
    { KEY_F(1), ACT_HELP, "F1", NULL, "show or hide this help" },
    { 'p', ACT_PAUSE, "p", "Pause", "pause or resume the selected worker (asks it; shows the reply)" },
    { 't', ACT_TARGET, "t", "Target", "type a new latency target in ms, applied after confirmation" },
    { '+', ACT_NUDGE_UP, "+", NULL, "propose the latency target +5 % (then confirm)" },
    { '-', ACT_NUDGE_DOWN, "-", NULL, "propose the latency target -5 % (then confirm)" },
    { 'x', ACT_EXTRACT, "x", "Extract", "extract the selected front point as a subnet (confirm)" },
    { '\t', ACT_FOCUS_NEXT, "Tab", "Focus", "focus the next panel" },
    { KEY_BTAB, ACT_FOCUS_PREV, "S-Tab", NULL, "focus the previous panel" },
    { KEY_LEFT, ACT_LEFT, "Left", NULL, "previous front point / scroll" },
    { 'h', ACT_LEFT, "h", NULL, "previous front point / scroll" },
    { KEY_RIGHT, ACT_RIGHT, "Right", NULL, "next front point / scroll" },
    { KEY_UP, ACT_UP, "Up", NULL, "previous worker, log line, gate layer or front point" },
    { 'k', ACT_UP, "k", NULL, "previous worker, log line, gate layer or front point" },
    { KEY_DOWN, ACT_DOWN, "Down", NULL, "next worker, log line, gate layer or front point" },
    { 'j', ACT_DOWN, "j", NULL, "next worker, log line, gate layer or front point" },
    { 'l', ACT_LOGY, "l", "Log-y", "toggle a logarithmic loss axis" },
    { 'b', ACT_FRONT_Y, "b", NULL, "Pareto front y axis: validation loss or BLEU" },
    { 'z', ACT_ZOOM, "z", "Zoom", "zoom the loss chart: whole run, last 10000, 1000, 100 steps" },
    { 'T', ACT_THEME, "T", "Theme", "next theme (dark, light, high-contrast, mono)" },
    { 'g', ACT_GLYPHS, "g", NULL, "chart glyphs: braille, block, ASCII" },
    { 'v', ACT_PRESET, "v", "View", "layout: all panels, training view, search view" },
    { 'w', ACT_WORKER, "w", NULL, "select the next worker" },
    { 12, ACT_REDRAW, "Ctrl-L", NULL, "redraw the whole screen" },
};
const int keymap_count = (int)(sizeof keymap / sizeof keymap[0]);

Action keymap_action(int key)
{
    for (int i = 0; i < keymap_count; i++)
        if (keymap[i].key == key)
            return keymap[i].action;
    return ACT_NONE;
}

void keymap_print_markdown(void)
{
    printf("| key | action |\n|---|---|\n");
    for (int i = 0; i < keymap_count; i++)
        printf("| `%s` | %s |\n", keymap[i].name, keymap[i].help);
}
