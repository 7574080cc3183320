/* mos-dash application loop (see app.h): store -> panels -> screen, keys -> actions. Setup is
 * in app_setup.c, commands and prompts in app_cmd.c. It holds no run state of its own beyond
 * what the user is looking at (View); quitting loses nothing. Signal handlers only set flags
 * (crt.c); the loop polls the sockets and stdin together. */
#include <curses.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "app_internal.h"

double app_clock(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

void app_flash(App *a, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(a->flash, sizeof a->flash, fmt, ap);
    va_end(ap);
    a->flash_until = app_clock() + 6;
    a->dirty = 1;
}

/* ---- navigation -------------------------------------------------------------------------- */

static void move_focus(App *a, int dir)
{
    Layout l;
    layout_compute(LINES, COLS, a->preset, &l);
    for (int i = 1; i <= PANEL_KEYBAR; i++) {
        int p = ((int)a->view.focus + dir * i + 2 * PANEL_KEYBAR) % PANEL_KEYBAR;
        if (l.too_small || layout_visible(&l, p)) {
            a->view.focus = p;
            return;
        }
    }
}

static int front_count(const App *a)
{
    const StoreWorker *w = view_worker(a->store, &a->view);
    if (!w || !w->has_front)
        return 0;
    return (int)(w->front.points_n < PROTO_FRONT_MAX ? w->front.points_n : PROTO_FRONT_MAX);
}

static void select_worker(App *a, int dir)
{
    int n = a->store->nworkers;
    if (n > 0)
        a->view.worker = (a->view.worker + dir + n) % n;
}

/* Up/down/left/right mean different things in each panel; dir is -1 or +1. */
static void move_cursor(App *a, int dir)
{
    View *v = &a->view;
    switch (v->focus) {
    case PANEL_FRONT: {
        int n = front_count(a);
        v->front_cursor += dir;   /* down/right: the next point, towards higher latency */
        v->front_cursor = v->front_cursor < 0 ? 0 : n > 0 && v->front_cursor >= n ? n - 1
                                                                                  : v->front_cursor;
        break;
    }
    case PANEL_LOG:
        v->log_scroll -= dir;
        v->log_scroll = v->log_scroll < 0 ? 0 : v->log_scroll >= a->store->log_n
                                                    ? (a->store->log_n > 0 ? a->store->log_n - 1 : 0)
                                                    : v->log_scroll;
        break;
    case PANEL_GATES:
        v->gate_layer += dir;
        v->gate_layer = v->gate_layer < 0 ? 0 : v->gate_layer >= PROTO_LAYERS_MAX
                                                    ? PROTO_LAYERS_MAX - 1 : v->gate_layer;
        break;
    case PANEL_STATUS: select_worker(a, dir); break;
    default: break;
    }
}

static void cycle_zoom(View *v)
{
    static const int64_t zooms[] = { 0, 10000, 1000, 100 };
    int i = 0;
    while (i < 4 && zooms[i] != v->zoom_steps)
        i++;
    v->zoom_steps = zooms[(i + 1) % 4];
}

static void act(App *a, Action action)
{
    switch (action) {
    case ACT_QUIT: a->quit = 1; break;
    case ACT_HELP: a->mode = MODE_HELP; break;
    case ACT_PAUSE: app_act_pause(a); break;
    case ACT_TARGET: app_act_target(a); break;
    case ACT_NUDGE_UP: app_act_nudge(a, 1.05); break;
    case ACT_NUDGE_DOWN: app_act_nudge(a, 0.95); break;
    case ACT_EXTRACT: app_act_extract(a); break;
    case ACT_FOCUS_NEXT: move_focus(a, 1); break;
    case ACT_FOCUS_PREV: move_focus(a, -1); break;
    case ACT_LEFT: move_cursor(a, -1); break;
    case ACT_RIGHT: move_cursor(a, 1); break;
    case ACT_UP: move_cursor(a, -1); break;
    case ACT_DOWN: move_cursor(a, 1); break;
    case ACT_LOGY: a->view.logy = !a->view.logy; break;
    case ACT_FRONT_Y: a->view.front_bleu = !a->view.front_bleu; break;
    case ACT_ZOOM: cycle_zoom(&a->view); break;
    case ACT_THEME: app_next_theme(a); break;
    case ACT_GLYPHS: a->view.glyphs = (a->view.glyphs + 1) % 3; break;
    case ACT_PRESET: a->preset = (a->preset + 1) % LAYOUT_COUNT; move_focus(a, 0); break;
    case ACT_WORKER: select_worker(a, 1); break;
    case ACT_REDRAW: clearok(curscr, TRUE); break;
    case ACT_NONE:
    case ACT_COUNT: break;
    }
    a->dirty = 1;
}

/* ---- keys -------------------------------------------------------------------------------- */

static void key_mouse(App *a)
{
    MEVENT ev;
    if (getmouse(&ev) != OK)
        return;
    if (ev.bstate & BUTTON4_PRESSED) {
        act(a, ACT_UP);
        return;
    }
    if (ev.bstate & BUTTON5_PRESSED) {
        act(a, ACT_DOWN);
        return;
    }
    Layout l;
    layout_compute(LINES, COLS, a->preset, &l);
    for (int p = 0; p < PANEL_KEYBAR && !l.too_small; p++) {
        Rect r = l.r[p];
        if (!layout_visible(&l, p) || ev.y < r.y || ev.y >= r.y + r.h || ev.x < r.x
            || ev.x >= r.x + r.w)
            continue;
        a->view.focus = p;   /* a click focuses the panel under it ... */
        int pick = p == PANEL_FRONT ? panel_front_pick(r, a->store, &a->view, ev.y, ev.x) : -1;
        if (pick >= 0)
            a->view.front_cursor = pick;   /* ... and on a front point, selects that point */
    }
}

static void app_key(App *a, int ch)
{
    a->dirty = 1;
    if (ch == KEY_RESIZE)
        return;
    switch (a->mode) {
    case MODE_HELP:
        a->mode = MODE_NORMAL;   /* any key closes the help (q too: it never quits here) */
        return;
    case MODE_TARGET_INPUT: app_key_target_input(a, ch); return;
    case MODE_CONFIRM: app_key_confirm(a, ch); return;
    case MODE_NORMAL: break;
    }
    if (ch == KEY_MOUSE)
        key_mouse(a);
    else
        act(a, keymap_action(ch));
}

/* ---- drawing ----------------------------------------------------------------------------- */

static const PanelDraw panel_draw[PANEL_KEYBAR] = {
    [PANEL_LOSS] = panel_loss_draw,
    [PANEL_GATES] = panel_gates_draw,
    [PANEL_FRONT] = panel_front_draw,
    [PANEL_STATUS] = panel_status_draw,
    [PANEL_LATENCY] = panel_latency_draw,
    [PANEL_LOG] = panel_log_draw,
};

static void draw_keybar(App *a, Rect r, double now)
{
    if (a->mode == MODE_TARGET_INPUT) {
        widget_text(r.y, r.x, r.w, ROLE_WARN, "New latency target (ms): %s_   Enter: next   "
                    "+/-: nudge 5 %%   Esc: cancel", a->input);
        return;
    }
    if (a->mode == MODE_CONFIRM) {
        widget_text(r.y, r.x, r.w, ROLE_WARN, "%s", a->confirm_text);
        return;
    }
    if (now < a->flash_until) {   /* a reply or a notice: the whole bar, for a few seconds */
        widget_text(r.y, r.x, r.w, ROLE_WARN, "%s", a->flash);
        return;
    }
    int x = r.x;
    for (int i = 0; i < keymap_count && x < r.x + r.w; i++) {
        if (!keymap[i].bar)
            continue;
        x += widget_text(r.y, x, r.x + r.w - x, ROLE_KEY, "%s", keymap[i].name);
        x += widget_text(r.y, x, r.x + r.w - x, ROLE_KEY_TEXT, " %s ", keymap[i].bar);
    }
}

static void draw_help(void)
{
    int lines = 0;   /* bindings with the same help share a line */
    for (int i = 0; i < keymap_count; i++)
        lines += i == 0 || strcmp(keymap[i - 1].help, keymap[i].help) != 0;
    int h = LINES - 2 < lines + 2 ? LINES - 2 : lines + 2;
    int w = COLS - 4 < 78 ? COLS - 4 : 78;
    if (h < 5 || w < 30)
        return;
    Rect r = { (LINES - h) / 2, (COLS - w) / 2, h, w };
    for (int y = r.y; y < r.y + r.h; y++)
        mvhline(y, r.x, ' ', r.w);
    Rect in = widget_box(r, "Keys (any key closes)", 1);
    int y = in.y;
    for (int i = 0; i < keymap_count && y < in.y + in.h; i++) {
        /* Bindings with the same help share a line: "Left, h". */
        if (i > 0 && strcmp(keymap[i - 1].help, keymap[i].help) == 0)
            continue;
        char names[48] = "";
        for (int j = i; j < keymap_count && strcmp(keymap[j].help, keymap[i].help) == 0; j++)
            snprintf(names + strlen(names), sizeof names - strlen(names), "%s%s",
                     j > i ? ", " : "", keymap[j].name);
        widget_text(y, in.x + 1, 14, ROLE_KEY_TEXT, "%s", names);
        widget_text(y++, in.x + 16, in.w - 17, ROLE_MAIN_FG, "%s", keymap[i].help);
    }
}

static void app_draw(App *a, double now)
{
    Layout l;
    erase();
    if (layout_compute(LINES, COLS, a->preset, &l)) {
        char msg[96];
        snprintf(msg, sizeof msg, "terminal too small (%dx%d, need %dx%d)", COLS, LINES,
                 LAYOUT_MIN_COLS, LAYOUT_MIN_ROWS);
        int len = (int)strlen(msg);
        widget_text(LINES / 2, COLS > len ? (COLS - len) / 2 : 0, COLS, ROLE_WARN, "%s", msg);
    } else {
        a->view.now = now;
        for (int p = 0; p < PANEL_KEYBAR; p++)
            if (layout_visible(&l, p)) {
                TUI_ASSERT(panel_draw[p] != NULL);
                TUI_ASSERT(l.r[p].y + l.r[p].h <= LINES && l.r[p].x + l.r[p].w <= COLS);
                panel_draw[p](l.r[p], a->store, &a->view);
            }
        draw_keybar(a, l.r[PANEL_KEYBAR], now);
        if (a->mode == MODE_HELP)
            draw_help();
    }
    wnoutrefresh(stdscr);
    doupdate();
    a->drawn_version = a->store->version;
    a->dirty = 0;
    a->last_draw = now;
}

/* ---- loop -------------------------------------------------------------------------------- */

/* Drains every source (bounded); returns 1 when some source has more right away. */
static int app_drain(App *a, double now)
{
    int more = 0;
    char err[512];
    TUI_ASSERT(a->nsrc <= a->store->nworkers);
    for (int i = 0; i < a->nsrc; i++) {
        int n = source_drain(a->src[i], a->store, i, now, APP_DRAIN_MAX, app_on_reply, a, err,
                             sizeof err);
        if (n < 0)
            store_log(a->store, "error", "%s", err);
        if (n == APP_DRAIN_MAX || source_pending(a->src[i]))
            more = 1;
    }
    return more;
}

/* Waits for input. While a change waits for its frame, only the keyboard is watched: messages
 * queue in ZeroMQ and are drained in one go at the frame, so a busy worker costs a few wake-ups
 * per frame, not one per message. */
static void app_poll(App *a, int timeout_ms, int sockets)
{
    zmq_pollitem_t items[APP_MAX_CONNECT * 2 + 1];
    int n = 0;
    for (int i = 0; sockets && i < a->nsrc; i++)
        n += source_pollitems(a->src[i], items + n, APP_MAX_CONNECT * 2 - n);
    items[n++] = (zmq_pollitem_t){ .socket = NULL, .fd = STDIN_FILENO, .events = ZMQ_POLLIN };
    zmq_poll(items, n, timeout_ms);   /* EINTR (SIGWINCH, quit signals) just ends the wait */
}

/* When the next frame is due: soon after a key (1/APP_FPS), at the refresh period after new
 * data, else after a second (heartbeat ages, the key bar's notices); < 0 when nothing waits. */
static double app_next_frame(const App *a)
{
    if (a->dirty)
        return a->last_draw + 1.0 / APP_FPS;
    if (a->store->version != a->drawn_version)
        return a->last_draw + a->opt.refresh_ms * 1e-3;
    return a->last_draw + 1.0;
}

static int app_timeout(const App *a, double now)
{
    double wait = app_next_frame(a) - now;
    return wait <= 0 ? 0 : (int)(wait * 1000) + 1;
}

int app_run(App *a)
{
    char err[512] = "", warn[512] = "";
    if (crt_init(&a->opt.crt, err, sizeof err, warn, sizeof warn) != 0) {
        fprintf(stderr, "mos-dash: %s\n", err);
        return 1;
    }
    crt_apply_theme(&a->theme);
    a->view.glyphs = crt_glyphs() == CRT_GLYPHS_BLOCK ? CHART_BLOCK
                     : crt_glyphs() == CRT_GLYPHS_ASCII ? CHART_ASCII : CHART_BRAILLE;
    if (warn[0]) {
        store_log(a->store, "warn", "%s", warn);
        app_flash(a, "%s", warn);
    }
    if (a->warn[0])
        store_log(a->store, "warn", "%s", a->warn);
    a->dirty = 1;
    while (!a->quit && !crt_quit_signal) {
        double now = app_clock();
        int more = app_drain(a, now);
        for (int ch; (ch = getch()) != ERR;)
            app_key(a, ch);
        if (now >= app_next_frame(a))
            app_draw(a, now);
        int waiting = a->dirty || a->store->version != a->drawn_version;
        app_poll(a, more ? 0 : app_timeout(a, app_clock()), !waiting);
    }
    crt_done();
    if (warn[0])
        fprintf(stderr, "mos-dash: warning: %s\n", warn);
    return 0;
}
