/* mos-dash setup: opening sources (--connect endpoints or run directories, --run-dir with the
 * fall back to the event log, --replay) and loading themes by name. It draws nothing; errors
 * come back as one line for main() to print before the screen starts. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <curses.h>

#include "app_internal.h"

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

void app_next_theme(App *a)
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
    if (a->opt.refresh_ms <= 0)
        a->opt.refresh_ms = APP_REFRESH_MS;
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
