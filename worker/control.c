/* Worker command handling (see control.h). The transition table in state.c decides legality;
 * this file maps protocol commands onto it and fills replies. */
#include "control.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "arch.h"
#include "strbuf.h"

int control_init(Control *c, JobCtl *job, Publisher *pub, const char *stage, const char *run_dir,
                 MosErr *err)
{
    memset(c, 0, sizeof *c);
    c->job = job;
    c->pub = pub;
    c->reply = malloc(sizeof *c->reply);
    c->msg = malloc(sizeof *c->msg);
    if (!c->reply || !c->msg)
        return err_set(err, "out of memory for replies");
    msg_buf_init(&c->out);
    snprintf(c->stage, sizeof c->stage, "%s", stage);
    char host[256] = "localhost";
    gethostname(host, sizeof host - 1);
    snprintf(c->host, sizeof c->host, "%s", host);
    char abs[PATH_MAX];
    STR_SET(c->run_dir, realpath(run_dir, abs) ? abs : run_dir);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    snprintf(c->run_id, sizeof c->run_id, "%lx-%lx", (long)ts.tv_sec, (long)getpid());
    return 0;
}

void control_done(Control *c)
{
    free(c->reply);
    free(c->msg);
    c->reply = NULL;
    c->msg = NULL;
    msg_buf_done(&c->out);
}

void control_status(Control *c, MsgStatus *st)
{
    JobProgress p;
    double target;
    WorkerState s = jobctl_state(c->job);
    jobctl_snapshot_progress(c->job, &p, &target);
    memset(st, 0, sizeof *st);
    snprintf(st->phase, sizeof st->phase, "%s", p.phase);
    snprintf(st->state, sizeof st->state, "%s", state_name(s));
    snprintf(st->stage, sizeof st->stage, "%s", c->stage);
    st->step = p.step;
    st->total = p.total;
    st->paused = s == WSTATE_PAUSED;
    if ((st->has_lr = p.lr >= 0))
        st->lr = p.lr;
    if ((st->has_tok_per_s = p.tok_per_s >= 0))
        st->tok_per_s = p.tok_per_s;
    if ((st->has_eta_s = p.eta_s >= 0))
        st->eta_s = p.eta_s;
    if ((st->has_target_ms = target > 0))
        st->target_ms = target;
    snprintf(st->host, sizeof st->host, "%s", c->host);
    st->pid = getpid();
    snprintf(st->run_dir, sizeof st->run_dir, "%s", c->run_dir);
    snprintf(st->run_id, sizeof st->run_id, "%s", c->run_id);
    st->has_run_id = true;
}

static void reply_ok(Control *c, int64_t id)
{
    memset(c->reply, 0, offsetof(MsgReply, status));
    c->reply->id = id;
    c->reply->ok = true;
    c->reply->has_error = c->reply->has_status = c->reply->has_snapshot = false;
}

/* Maps a protocol command onto the state table's command. */
static WorkerCmd worker_cmd(CmdKind k)
{
    const char *name = msg_cmd_name(k);
    int w = state_cmd_parse(name, strlen(name));
    ASSERT(w >= 0);
    return (WorkerCmd)w;
}

/* Extraction runs as a child process (extractor.h); its progress is published as extract
 * messages, the first one now. */
static void extract(Control *c, int64_t id)
{
    MosErr e;
    Arch a;
    const MsgCmd *args = &c->cmd.args;
    if (args->has_arch && strcmp(args->arch, "largest") != 0 &&
        strcmp(args->arch, "smallest") != 0 && arch_parse(args->arch, &a, &e) < 0) {
        msg_reply_error(c->reply, id, PROTO_E_BAD_ARG, "extract: %s", e.msg);
        c->refused++;
        return;
    }
    if (!c->ex) {
        msg_reply_error(c->reply, id, PROTO_E_ILLEGAL_STATE, "extract: not available here");
        c->refused++;
        return;
    }
    if (extractor_start(c->ex, args, c->msg, &e) < 0) {
        msg_reply_error(c->reply, id, c->ex->pid > 0 ? PROTO_E_BUSY : PROTO_E_INTERNAL, "%s",
                        e.msg);
        c->refused++;
        return;
    }
    publisher_publish(c->pub, c->msg, &e);   /* a failure is counted there; it still runs */
    reply_ok(c, id);
}

static void apply(Control *c)
{
    const Cmd *cmd = &c->cmd;
    int64_t id = cmd->args.id;
    MosErr e;
    WorkerCmd w = worker_cmd(cmd->kind);
    if (w == WCMD_EXTRACT && state_allowed(jobctl_state(c->job), w)) {
        extract(c, id);
        return;
    }
    WorkerState before = jobctl_state(c->job);
    if (jobctl_command(c->job, w, cmd->args.has_target_ms ? cmd->args.target_ms : 0, &e) < 0) {
        msg_reply_error(c->reply, id, PROTO_E_ILLEGAL_STATE, "%s", e.msg);
        c->refused++;
        return;
    }
    c->state_changed |= jobctl_state(c->job) != before || w == WCMD_TARGET;
    reply_ok(c, id);
    if (w == WCMD_STATUS) {
        control_status(c, &c->reply->status);
        c->reply->has_status = true;
    } else if (w == WCMD_SNAPSHOT) {
        memset(&c->reply->snapshot, 0, sizeof c->reply->snapshot);
        MsgStatus st;
        control_status(c, &st);
        publisher_snapshot(c->pub, &st, &c->reply->snapshot);
        c->reply->has_snapshot = true;
    }
}

void control_handle(Control *c, const void *req, size_t n)
{
    ProtoErr pe;
    c->handled++;
    ProtoCode code = msg_cmd_decode(req, n, &c->cmd, &pe);
    if (code != PROTO_OK) {
        msg_reply_error(c->reply, c->cmd.args.id, code, "%s", pe.msg);
        c->refused++;
    } else {
        apply(c);
    }
    if (msg_reply_encode(c->reply, &c->out, &pe) < 0) {
        msg_reply_error(c->reply, c->cmd.args.id, PROTO_E_INTERNAL, "cannot encode the reply: %s",
                        pe.msg);
        ASSERT(msg_reply_encode(c->reply, &c->out, &pe) == 0);
    }
}

void control_drop(Control *c)
{
    c->dropped++;
}
