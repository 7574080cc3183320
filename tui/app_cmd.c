/* mos-dash commands: pause/resume, the latency target (typed, nudged, confirmed) and
 * extraction of the selected front point, sent to the selected worker through its source; the
 * replies land in the log and the key bar. It never waits for a reply. Invariant: a target or
 * an extraction is sent only after the user answered y. */
#include <curses.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app_internal.h"

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

void app_on_reply(void *ctx, int conn, const MsgReply *r)
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

void app_act_pause(App *a)
{
    const StoreWorker *w = view_worker(a->store, &a->view);
    int paused = w && w->has_status && w->status.paused;
    Cmd cmd = { .kind = paused ? CMD_RESUME : CMD_PAUSE };
    send_command(a, a->view.worker, &cmd, paused ? "resume" : "pause");
}

void app_act_nudge(App *a, double factor)
{
    double t = current_target(view_worker(a->store, &a->view));
    if (!isfinite(t)) {
        app_flash(a, "no latency target known yet: press t to type one");
        return;
    }
    propose_target(a, t * factor);
}

void app_act_target(App *a)
{
    double t = current_target(view_worker(a->store, &a->view));
    if (isfinite(t))
        snprintf(a->input, sizeof a->input, "%.2f", t);
    else
        a->input[0] = '\0';
    a->mode = MODE_TARGET_INPUT;
    a->dirty = 1;
}

void app_act_extract(App *a)
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

void app_key_target_input(App *a, int ch)
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

void app_key_confirm(App *a, int ch)
{
    a->mode = MODE_NORMAL;
    if (ch == 'y' || ch == 'Y')
        send_command(a, a->confirm_conn, &a->confirm_cmd, msg_cmd_name(a->confirm_cmd.kind));
    else
        app_flash(a, "cancelled");
}
