/* `mos ctl`: one command to a worker and its reply. Prints "ok" (or the status / a snapshot
 * summary), or the worker's error on stderr with exit 1; exit 1 with a clear message when no
 * worker answers within --timeout. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attach.h"
#include "client.h"
#include "commands.h"
#include "strbuf.h"
#include "watchfmt.h"

static const OptSpec ctl_opts[] = {
    ATTACH_OPTS,
    { "front", OPT_INT, NULL, "K", "extract: the K-th point of the current front (0 = fastest)" },
    { "json", OPT_FLAG, NULL, NULL, "print the reply as JSON" },
    { 0 },
};

/* Fills cmd from the positional arguments; returns 0 or -1 with err. */
static int build_cmd(const Args *a, Cmd *cmd, MosErr *err)
{
    memset(cmd, 0, sizeof *cmd);
    if (a->npos < 1)
        return err_set(err, "mos ctl: which command? (pause, resume, stop, checkpoint, target MS, "
                       "extract ARCH|--front K, status, snapshot)");
    const char *name = a->pos[0];
    if (msg_cmd_parse(name, strlen(name), &cmd->kind) < 0)
        return err_set(err, "mos ctl: unknown command '%s' (pause, resume, stop, checkpoint, "
                       "target, extract, status, snapshot)", name);
    int want = cmd->kind == CMD_TARGET || (cmd->kind == CMD_EXTRACT && !args_given(a, "front"));
    if (a->npos != 1 + want)
        return err_set(err, "mos ctl %s: %s", name,
                       want ? "needs one argument" : "takes no argument");
    if (cmd->kind == CMD_TARGET) {
        char *end;
        errno = 0;
        double ms = strtod(a->pos[1], &end);
        if (*end || errno || !isfinite(ms) || ms <= 0)
            return err_set(err, "mos ctl target: '%s' is not a latency in ms (> 0)", a->pos[1]);
        cmd->args.target_ms = ms;
        cmd->args.has_target_ms = true;
    } else if (cmd->kind == CMD_EXTRACT && want) {
        if (strlen(a->pos[1]) > PROTO_ARCH_MAX)
            return err_set(err, "mos ctl extract: architecture text longer than %d bytes",
                           PROTO_ARCH_MAX);
        STR_SET(cmd->args.arch, a->pos[1]);
        cmd->args.has_arch = true;
    } else if (cmd->kind == CMD_EXTRACT) {
        cmd->args.index = args_int(a, "front");
        cmd->args.has_index = true;
        if (cmd->args.index < 0)
            return err_set(err, "mos ctl extract: --front must be >= 0");
    }
    return 0;
}

static void print_reply(const MsgReply *r, int json)
{
    char line[2048];
    if (json) {
        char *j = msg_reply_json(r);
        if (j)
            printf("%s\n", j);
        free(j);
        return;
    }
    if (r->has_status) {
        watchfmt_status(&r->status, line, sizeof line);
        printf("%s\n", line);
    } else if (r->has_snapshot) {
        const MsgSnapshot *s = &r->snapshot;
        printf("snapshot of worker %s at seq %lld\n", s->worker, (long long)s->seq);
        if (s->has_status) {
            watchfmt_status(&s->status, line, sizeof line);
            printf("%s\n", line);
        }
        for (uint32_t i = 0; i < s->series_n; i++)
            printf("series %s: %u points\n", s->series[i].name, s->series[i].step_n);
        printf("front: %u points, logs: %u lines\n", s->has_front ? s->front.points_n : 0,
               s->logs_n);
    } else {
        printf("ok\n");
    }
}

static int run_ctl(const Args *a)
{
    MosErr err = {{0}};
    Cmd cmd;
    Target t;
    if (build_cmd(a, &cmd, &err) < 0) {
        fprintf(stderr, "%s\n", err.msg);
        return 2;
    }
    int found = attach_resolve(a, &t, &err);
    if (found != 0) {
        if (found > 0)
            fprintf(stderr, "mos ctl: no worker is running in %s (start one with `mos run` or "
                    "`mos worker --detach`)\n", t.run_dir);
        else
            fprintf(stderr, "mos ctl: %s\n", err.msg);
        return 1;
    }
    MsgReply *reply = malloc(sizeof *reply);
    void *ctx = zmq_ctx_new();
    ProtoErr pe;
    int rc = reply && ctx ? client_call(ctx, &t.ep, t.curve_on ? &t.curve : NULL, &cmd, reply,
                                        (int)(args_float(a, "timeout") * 1000), &pe) : -1;
    if (rc < 0) {
        fprintf(stderr, "mos ctl: %s\n", reply && ctx ? pe.msg : "out of memory");
    } else if (!reply->ok) {
        fprintf(stderr, "mos ctl %s: %s: %s\n", a->pos[0], reply->error.code, reply->error.msg);
        rc = -1;
    } else {
        print_reply(reply, args_flag(a, "json"));
    }
    if (ctx)
        zmq_ctx_term(ctx);
    free(reply);
    return rc < 0 ? 1 : 0;
}

const Command cmd_ctl = {
    .name = "ctl",
    .args = "COMMAND [ARG]",
    .summary = "send a command to a worker: pause, resume, stop, checkpoint, target MS, extract, "
               "status, snapshot",
    .details = "Finds the worker through DIR/endpoints.json (or --connect) and prints its reply.\n"
               "Exit status: 0 ok, 1 refused by the worker or no worker answered, 2 usage.",
    .opts = ctl_opts,
    .run = run_ctl,
};
