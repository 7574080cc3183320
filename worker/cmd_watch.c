/* `mos watch`: prints a worker's events as readable lines (or JSON lines) until its job ends;
 * on a run directory whose worker is gone, replays the event log instead. */
#include <stdio.h>

#include "attach.h"
#include "commands.h"

static const OptSpec watch_opts[] = {
    ATTACH_OPTS,
    { "jsonl", OPT_FLAG, NULL, NULL, "one JSON object per line (the first: the snapshot reply)" },
    { 0 },
};

static int run_watch(const Args *a)
{
    MosErr err = {{0}};
    Target t;
    int found = attach_resolve(a, &t, &err);
    if (found < 0) {
        fprintf(stderr, "mos watch: %s\n", err.msg);
        return 1;
    }
    FollowOpts o = { .jsonl = args_flag(a, "jsonl"), .timeout_s = args_float(a, "timeout") };
    int rc = found > 0 ? 3 : attach_follow(&t, &o, &err);
    if (rc == 3) {   /* no live worker (or it exited before answering): the log has it all */
        if (attach_replay(t.run_dir, o.jsonl, &err) < 0) {
            fprintf(stderr, "mos watch: %s\n", err.msg);
            return 1;
        }
        return 0;
    }
    if (rc == 1 && err.msg[0])
        fprintf(stderr, "mos watch: %s\n", err.msg);
    return rc == 2 ? 0 : rc;
}

const Command cmd_watch = {
    .name = "watch",
    .summary = "print a worker's events (readable or --jsonl); replay a finished run's log",
    .details = "Attaches late like the dashboard: prints a snapshot of the history so far, then\n"
               "every event. Readable mode prints status heartbeats only when the state or\n"
               "phase changes, or every 10 s. Exits when the job ends: 0 done, 1 failed.",
    .opts = watch_opts,
    .run = run_watch,
};
