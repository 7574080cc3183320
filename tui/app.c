/* mos-dash application (see app.h): store -> panels -> screen, keys -> actions -> commands.
 * It holds no run state of its own beyond what the user is looking at (View); quitting loses
 * nothing. Signal handlers only set flags (crt.c); the loop polls sockets and stdin together. */
#include "app.h"

#include <curses.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "keymap.h"
#include "layout.h"
#include "panel.h"
#include "source.h"
#include "theme.h"

#define APP_DRAIN_MAX 4000      /* events per source per loop turn */
#define APP_PENDING 16

typedef enum Mode {
    MODE_NORMAL,
    MODE_HELP,
    MODE_TARGET_INPUT,
    MODE_CONFIRM,
} Mode;

typedef struct Pending {
    int64_t id;
    int conn;
    char what[48];
} Pending;

struct App {
    AppOptions opt;
    Store *store;
    Source *src[APP_MAX_CONNECT];
    int nsrc;
    void *zctx;
    View view;
    ChartCanvas *canvas;
    double *xs, *ys;
    LayoutPreset preset;
    Theme theme;
    int theme_index;
    Mode mode;
    char input[32];
    Cmd confirm_cmd;
    int confirm_conn;
    char confirm_text[256];
    Pending pending[APP_PENDING];
    char flash[256];
    double flash_until;
    uint64_t drawn_version;
    int dirty;
    double last_draw;
    int quit;
    char warn[1024];
};

static double app_clock(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void app_flash(App *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void app_flash(App *a, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(a->flash, sizeof a->flash, fmt, ap);
    va_end(ap);
    a->flash_until = app_clock() + 6;
    a->dirty = 1;
}

/* ---- endpoints and sources --------------------------------------------------------------- */

static void str_copy(char *dst, size_t size, const char *src, size_t len)
{
    len = len < size - 1 ? len : size - 1;
    memcpy(dst, src, len);
    dst[len] = '\0';
}

int app_parse_endpoint(const char *arg, char *pub, size_t pub_len, char *ctl, size_t ctl_len)
{
    const char *comma = strchr(arg, ',');
    if (comma) {
        str_copy(pub, pub_len, arg, (size_t)(comma - arg));
        str_copy(ctl, ctl_len, comma + 1, strlen(comma + 1));
        return pub[0] && ctl[0] ? 0 : -1;
    }
    size_t n = strlen(arg);
    str_copy(pub, pub_len, arg, n);
    if (strncmp(arg, "ipc://", 6) == 0 && n > 4 && strcmp(arg + n - 4, ".pub") == 0) {
        snprintf(ctl, ctl_len, "%.*s.ctl", (int)(n - 4), arg);
        return 0;
    }
    const char *colon = strrchr(arg, ':');
    if (strncmp(arg, "tcp://", 6) == 0 && colon && colon > arg + 6) {
        char *end;
        long port = strtol(colon + 1, &end, 10);
        if (*end || port <= 0 || port >= 65535)
            return -1;
        snprintf(ctl, ctl_len, "%.*s:%ld", (int)(colon - arg), arg, port + 1);
        return 0;
    }
    return -1;
}

static int add_source(App *a, Source *s, const char *label)
{
    int conn = store_add_worker(a->store, label);
    if (conn < 0) {
        source_destroy(&s);
        return -1;
    }
    a->src[a->nsrc++] = s;
    return conn;
}

static int open_connect(App *a, const char *arg, char *err, size_t len)
{
    WireEndpoints ep;
    memset(&ep, 0, sizeof ep);
    struct stat st;
    ProtoErr e;
    if (stat(arg, &st) == 0 && S_ISDIR(st.st_mode)) {
        if (wire_endpoints_read(arg, &ep, &e) != 0) {
            snprintf(err, len, "%s", e.msg);
            return -1;
        }
    } else if (app_parse_endpoint(arg, ep.pub, sizeof ep.pub, ep.ctl, sizeof ep.ctl) != 0) {
        snprintf(err, len, "--connect %s: expected PUB[,CTL] (ipc://... or tcp://host:port) "
                 "or a run directory", arg);
        return -1;
    }
    Source *s;
    if (source_open_live(&s, a->zctx, &ep, err, len) != 0)
        return -1;
    return add_source(a, s, ep.pub) < 0 ? -1 : 0;
}

static int open_replay(App *a, const char *path, char *err, size_t len)
{
    Source *s;
    if (source_open_replay(&s, path, err, len) != 0)
        return -1;
    char label[160];
    snprintf(label, sizeof label, "replay %.150s", path);
    int conn = add_source(a, s, label);
    if (conn < 0)
        return -1;
    a->store->w[conn].replay = 1;
    return 0;
}

/* --run-dir: the worker named in endpoints.json if it answers, else the event log. */
static int open_run_dir(App *a, const char *dir, char *err, size_t len)
{
    WireEndpoints ep;
    ProtoErr e;
    char log_path[PATH_MAX];
    snprintf(log_path, sizeof log_path, "%s/events.msgpack", dir);
    if (wire_endpoints_read(dir, &ep, &e) == 0) {
        Source *s;
        if (source_open_live(&s, a->zctx, &ep, err, len) == 0) {
            if (source_wait_alive(s, a->opt.wait_ms))
                return add_source(a, s, ep.pub) < 0 ? -1 : 0;
            source_destroy(&s);
        }
        store_log(a->store, "info", "no worker answered at %s: replaying %s", ep.pub, log_path);
    }
    if (access(log_path, R_OK) != 0) {
        snprintf(err, len, "%s: no running worker (endpoints.json) and no event log "
                 "(events.msgpack) to replay", dir);
        return -1;
    }
    return open_replay(a, log_path, err, len);
}

/* ---- themes ------------------------------------------------------------------------------ */

/* The themes directory next to an installed binary: <bin>/../share/mos/themes. */
static void theme_dir_hint(char *out, size_t len)
{
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    out[0] = '\0';
    if (n <= 0)
        return;
    self[n] = '\0';
    char *slash = strrchr(self, '/');
    if (slash)
        snprintf(out, len, "%.*s/../share/mos/themes", (int)(slash - self), self);
}

/* Loads a theme by name or path into *t; warnings go to warn. 0, or -1 with err. */
static int load_theme(const char *name, Theme *t, char *err, size_t len, char *warn,
                      size_t warn_len)
{
    char hint[PATH_MAX], path[PATH_MAX + 64];
    theme_dir_hint(hint, sizeof hint);
    if (theme_find(name, hint, path, sizeof path) != 0) {
        if (strcmp(name, "dark") == 0) {   /* compiled in: works without any theme file */
            theme_default(t);
            return 0;
        }
        snprintf(err, len, "theme '%s' not found (looked in $MOS_THEME_DIR, "
                 "~/.config/mos/themes, %s, " "the build's themes/)", name, hint);
        return -1;
    }
    return theme_load(path, t, err, len, warn, warn_len) < 0 ? -1 : 0;
}

static void next_theme(App *a)
{
    a->theme_index = (a->theme_index + 1) % theme_builtin_count;
    const char *name = theme_builtin_names[a->theme_index];
    char err[512] = "", warn[512] = "";
    Theme t;
    if (load_theme(name, &t, err, sizeof err, warn, sizeof warn) != 0) {
        store_log(a->store, "error", "%s", err);
        return;
    }
    a->theme = t;
    crt_apply_theme(&a->theme);
    if (warn[0])
        store_log(a->store, "warn", "%s", warn);
    app_flash(a, "theme: %s (%s)", name, crt_level_name(crt_color_level()));
    clearok(curscr, TRUE);
}

/* ---- setup ------------------------------------------------------------------------------- */

int app_new(App **out, const AppOptions *opt, char *err, size_t err_len)
{
    App *a = calloc(1, sizeof *a);
    if (!a || !(a->store = store_new()) || !(a->canvas = malloc(sizeof *a->canvas))
        || !(a->xs = malloc((STORE_SERIES_CAP + 1) * sizeof *a->xs))
        || !(a->ys = malloc((STORE_SERIES_CAP + 1) * sizeof *a->ys))
        || !(a->zctx = zmq_ctx_new())) {
        snprintf(err, err_len, "out of memory");
        app_destroy(&a);
        return -1;
    }
    a->opt = *opt;
    const char *theme = opt->theme ? opt->theme : "dark";
    for (int i = 0; i < theme_builtin_count; i++)
        if (strcmp(theme, theme_builtin_names[i]) == 0)
            a->theme_index = i;
    int rc = load_theme(theme, &a->theme, err, err_len, a->warn, sizeof a->warn);
    for (int i = 0; rc == 0 && i < opt->nconnect; i++)
        rc = open_connect(a, opt->connect[i], err, err_len);
    if (rc == 0 && opt->run_dir)
        rc = open_run_dir(a, opt->run_dir, err, err_len);
    if (rc == 0 && opt->replay)
        rc = open_replay(a, opt->replay, err, err_len);
    if (rc == 0 && a->nsrc == 0) {
        snprintf(err, err_len, "nothing to show: give --connect ENDPOINT, --run-dir DIR "
                 "or --replay FILE (see --help)");
        rc = -1;
    }
    if (rc != 0) {
        app_destroy(&a);
        return -1;
    }
    a->view = (View){ .worker = 0, .focus = PANEL_LOSS, .canvas = a->canvas, .xs = a->xs,
                      .ys = a->ys };
    *out = a;
    return 0;
}

void app_destroy(App **ap)
{
    App *a = ap ? *ap : NULL;
    if (!a)
        return;
    for (int i = 0; i < a->nsrc; i++)
        source_destroy(&a->src[i]);
    if (a->zctx)
        zmq_ctx_term(a->zctx);
    store_destroy(&a->store);
    free(a->canvas);
    free(a->xs);
    free(a->ys);
    free(a);
    *ap = NULL;
}

/* ---- commands ---------------------------------------------------------------------------- */

static void send_command(App *a, int conn, Cmd *cmd, const char *what)
{
    char err[256];
    if (conn < 0 || conn >= a->nsrc) {
        app_flash(a, "no worker selected");
        return;
    }
    int64_t id = source_command(a->src[conn], cmd, err, sizeof err);
    if (id < 0) {
        store_log(a->store, "warn", "%s: %s", what, err);
        app_flash(a, "%s: %s", what, err);
        return;
    }
    for (int i = 0; i < APP_PENDING; i++)
        if (a->pending[i].id <= 0) {
            a->pending[i] = (Pending){ .id = id, .conn = conn };
            snprintf(a->pending[i].what, sizeof a->pending[i].what, "%s", what);
            break;
        }
    app_flash(a, "%s: sent, waiting for the worker's reply", what);
}

static void on_reply(void *ctx, int conn, const MsgReply *r)
{
    App *a = ctx;
    const char *what = "command";
    for (int i = 0; i < APP_PENDING; i++)
        if (a->pending[i].id == r->id && a->pending[i].conn == conn) {
            what = a->pending[i].what;
            a->pending[i].id = 0;
            break;
        }
    if (r->ok) {
        store_log(a->store, "info", "%s: ok", what);
        app_flash(a, "%s: ok", what);
    } else {
        const char *code = r->has_error ? r->error.code : "error";
        const char *msg = r->has_error ? r->error.msg : "";
        store_log(a->store, "error", "%s: %s: %s", what, code, msg);
        app_flash(a, "%s failed: %s: %s", what, code, msg);
    }
}

static double current_target(const StoreWorker *w)
{
    if (w && w->has_status && w->status.has_target_ms)
        return w->status.target_ms;
    if (w && w->has_front && w->front.has_target_ms)
        return w->front.target_ms;
    if (w && w->has_search)
        return w->search.target_ms;
    return NAN;
}

static void ask_confirm(App *a, const Cmd *cmd, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void ask_confirm(App *a, const Cmd *cmd, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(a->confirm_text, sizeof a->confirm_text, fmt, ap);
    va_end(ap);
    a->confirm_cmd = *cmd;
    a->confirm_conn = a->view.worker;
    a->mode = MODE_CONFIRM;
    a->dirty = 1;
}

static void propose_target(App *a, double ms)
{
    if (!isfinite(ms) || ms <= 0) {
        app_flash(a, "latency target must be a positive number of ms");
        return;
    }
    Cmd cmd = { .kind = CMD_TARGET };
    cmd.args.has_target_ms = true;
    cmd.args.target_ms = ms;
    ask_confirm(a, &cmd, "Set the latency target to %.2f ms? [y/N]", ms);
}

static void act_pause(App *a)
{
    const StoreWorker *w = view_worker(a->store, &a->view);
    int paused = w && w->has_status && w->status.paused;
    Cmd cmd = { .kind = paused ? CMD_RESUME : CMD_PAUSE };
    send_command(a, a->view.worker, &cmd, paused ? "resume" : "pause");
}

static void act_nudge(App *a, double factor)
{
    double t = current_target(view_worker(a->store, &a->view));
    if (!isfinite(t)) {
        app_flash(a, "no latency target known yet: press t to type one");
        return;
    }
    propose_target(a, t * factor);
}

static void act_target(App *a)
{
    double t = current_target(view_worker(a->store, &a->view));
    if (isfinite(t))
        snprintf(a->input, sizeof a->input, "%.2f", t);
    else
        a->input[0] = '\0';
    a->mode = MODE_TARGET_INPUT;
    a->dirty = 1;
}

static void act_extract(App *a)
{
    const StoreWorker *w = view_worker(a->store, &a->view);
    if (!w || !w->has_front || w->front.points_n == 0) {
        app_flash(a, "no Pareto front yet: nothing to extract");
        return;
    }
    int count = (int)(w->front.points_n < PROTO_FRONT_MAX ? w->front.points_n : PROTO_FRONT_MAX);
    int cur = a->view.front_cursor < 0 ? 0 : a->view.front_cursor >= count ? count - 1
                                                                            : a->view.front_cursor;
    const MsgFrontPoint *p = &w->front.points[cur];
    Cmd cmd = { .kind = CMD_EXTRACT };
    cmd.args.has_arch = true;
    snprintf(cmd.args.arch, sizeof cmd.args.arch, "%s", p->arch);
    ask_confirm(a, &cmd, "Extract front point %d/%d (%.2f ms, loss %.4f) as a subnet? [y/N]",
                cur + 1, count, p->latency_pred_ms, p->loss);
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
    case ACT_PAUSE: act_pause(a); break;
    case ACT_TARGET: act_target(a); break;
    case ACT_NUDGE_UP: act_nudge(a, 1.05); break;
    case ACT_NUDGE_DOWN: act_nudge(a, 0.95); break;
    case ACT_EXTRACT: act_extract(a); break;
    case ACT_FOCUS_NEXT: move_focus(a, 1); break;
    case ACT_FOCUS_PREV: move_focus(a, -1); break;
    case ACT_LEFT: move_cursor(a, -1); break;
    case ACT_RIGHT: move_cursor(a, 1); break;
    case ACT_UP: move_cursor(a, -1); break;
    case ACT_DOWN: move_cursor(a, 1); break;
    case ACT_LOGY: a->view.logy = !a->view.logy; break;
    case ACT_ZOOM: cycle_zoom(&a->view); break;
    case ACT_THEME: next_theme(a); break;
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

static void key_target_input(App *a, int ch)
{
    size_t n = strlen(a->input);
    if (ch == 27) {
        a->mode = MODE_NORMAL;
    } else if (ch == '\n' || ch == '\r' || ch == KEY_ENTER) {
        char *end;
        double ms = strtod(a->input, &end);
        a->mode = MODE_NORMAL;
        if (end == a->input || *end)
            app_flash(a, "'%s' is not a number of ms", a->input);
        else
            propose_target(a, ms);
    } else if (ch == KEY_BACKSPACE || ch == 127 || ch == 8) {
        if (n)
            a->input[n - 1] = '\0';
    } else if (ch == '+' || ch == '-') {
        double ms = strtod(a->input, NULL);
        if (ms > 0)
            snprintf(a->input, sizeof a->input, "%.2f", ms * (ch == '+' ? 1.05 : 0.95));
    } else if (((ch >= '0' && ch <= '9') || ch == '.') && n + 1 < sizeof a->input) {
        a->input[n] = (char)ch;
        a->input[n + 1] = '\0';
    }
}

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
        if (ev.y >= r.y && ev.y < r.y + r.h && ev.x >= r.x && ev.x < r.x + r.w)
            a->view.focus = p;
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
    case MODE_TARGET_INPUT: key_target_input(a, ch); return;
    case MODE_CONFIRM:
        a->mode = MODE_NORMAL;
        if (ch == 'y' || ch == 'Y')
            send_command(a, a->confirm_conn, &a->confirm_cmd, msg_cmd_name(a->confirm_cmd.kind));
        else
            app_flash(a, "cancelled");
        return;
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
            if (layout_visible(&l, p))
                panel_draw[p](l.r[p], a->store, &a->view);
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
    for (int i = 0; i < a->nsrc; i++) {
        int n = source_drain(a->src[i], a->store, i, now, APP_DRAIN_MAX, on_reply, a, err,
                             sizeof err);
        if (n < 0)
            store_log(a->store, "error", "%s", err);
        if (n == APP_DRAIN_MAX || source_pending(a->src[i]))
            more = 1;
    }
    return more;
}

/* Waits for input. While a change waits for its frame (at most APP_FPS frames a second), only
 * the keyboard is watched: messages queue in ZeroMQ and are drained in one go at the frame,
 * so a busy worker costs a few wake-ups per frame, not one per message. */
static void app_poll(App *a, int timeout_ms, int sockets)
{
    zmq_pollitem_t items[APP_MAX_CONNECT * 2 + 1];
    int n = 0;
    for (int i = 0; sockets && i < a->nsrc; i++)
        n += source_pollitems(a->src[i], items + n, APP_MAX_CONNECT * 2 - n);
    items[n++] = (zmq_pollitem_t){ .socket = NULL, .fd = STDIN_FILENO, .events = ZMQ_POLLIN };
    zmq_poll(items, n, timeout_ms);   /* EINTR (SIGWINCH, quit signals) just ends the wait */
}

static int app_timeout(const App *a, double now)
{
    double frame = 1.0 / APP_FPS;
    int changed = a->dirty || a->store->version != a->drawn_version;
    double wait = changed ? a->last_draw + frame - now : a->last_draw + 1.0 - now;
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
        int changed = a->dirty || a->store->version != a->drawn_version;
        if ((changed && now - a->last_draw >= 1.0 / APP_FPS) || now - a->last_draw >= 1.0)
            app_draw(a, now);
        int waiting = a->dirty || a->store->version != a->drawn_version;
        app_poll(a, more ? 0 : app_timeout(a, app_clock()), !waiting);
    }
    crt_done();
    if (warn[0])
        fprintf(stderr, "mos-dash: warning: %s\n", warn);
    return 0;
}
