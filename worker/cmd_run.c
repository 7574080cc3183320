/* `mos run`: the whole available pipeline for a run directory, as a background worker, with the
 * dashboard attached when stdout is a terminal; otherwise (CI, pipes) readable progress lines
 * until the job ends. Quitting the dashboard (or Ctrl-C on the lines) leaves the worker running;
 * `mos dash --run-dir D` reattaches. A run directory whose worker is alive is just attached. */
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "attach.h"
#include "commands.h"
#include "detach.h"

static const OptSpec run_opts[] = {
    { "run-dir", OPT_STR, "runs/default", "DIR", "run directory (created if missing)" },
    { "config", OPT_STR, NULL, "FILE", "run config (YAML); default: DIR/config.yml or built-in" },
    { "stage", OPT_STR, "all", "STAGE", "run only this stage (prepare, train, ...)" },
    { "no-dash", OPT_FLAG, NULL, NULL, "print progress lines even on a terminal" },
    { "timeout", OPT_FLOAT, "10", "S", "seconds to wait for the worker to answer" },
    { 0 },
};

static int start_worker(const Args *a, const char *dir, long *pid)
{
    char ck[4200];
    struct stat st;
    snprintf(ck, sizeof ck, "%s/checkpoints", dir);
    WorkerOpts o = {
        .run_dir = dir, .stage = args_str(a, "stage"), .config = args_str(a, "config"),
        .resume = stat(ck, &st) == 0, .ready_fd = -1,
    };
    MosErr err = {{0}};
    if (detach_worker(&o, pid, &err) < 0) {
        fprintf(stderr, "mos run: %s\n", err.msg);
        return -1;
    }
    return 0;
}

static int follow(const char *dir, double timeout_s)
{
    char ep[4200];
    snprintf(ep, sizeof ep, "%s/endpoints.json", dir);
    Target t = { .run_dir = dir };
    ProtoErr pe;
    MosErr err = {{0}};
    if (wire_endpoints_read(dir, &t.ep, &pe) < 0) {
        fprintf(stderr, "mos run: %s\n", pe.msg);
        return 1;
    }
    FollowOpts o = { .jsonl = 0, .timeout_s = timeout_s };
    int rc = attach_follow(&t, &o, &err);
    if (rc == 3) {
        fprintf(stderr, "mos run: the worker exited before it answered; see %s/worker.log\n",
                dir);
        return 1;
    }
    if (rc == 1 && err.msg[0])
        fprintf(stderr, "mos run: %s\n", err.msg);
    if (rc == 2)
        fprintf(stderr, "mos run: detached; the worker keeps running (mos watch --run-dir %s)\n",
                dir);
    return rc == 2 ? 0 : rc;
}

static int run_run(const Args *a)
{
    const char *dir = args_str(a, "run-dir");
    long pid = 0;
    if (detach_worker_running(dir, &pid)) {
        fprintf(stderr, "mos run: a worker (pid %ld) is already running in %s: attaching\n", pid,
                dir);
    } else if (start_worker(a, dir, &pid) < 0) {
        return 1;
    }
    if (isatty(STDOUT_FILENO) && !args_flag(a, "no-dash")) {
        char *argv[] = { "mos-dash", "--run-dir", (char *)dir, NULL };
        dash_exec(argv);   /* returns only when mos-dash cannot run: follow with lines */
        fprintf(stderr, "mos run: showing progress lines instead of the dashboard\n");
    }
    printf("mos run: worker pid %ld in %s (events in %s/events.msgpack, log in %s/worker.log)\n",
           pid, dir, dir, dir);
    fflush(stdout);
    return follow(dir, args_float(a, "timeout"));
}

const Command cmd_run = {
    .name = "run",
    .summary = "run the whole pipeline in the background and open the dashboard",
    .details = "Starts `mos worker --detach --stage all` on DIR (with --resume when DIR has\n"
               "checkpoints) and runs `mos dash --run-dir DIR` when stdout is a terminal; else\n"
               "prints progress lines until the job ends (exit 0 done, 1 failed). Quitting the\n"
               "dashboard or Ctrl-C leaves the worker running.",
    .opts = run_opts,
    .run = run_run,
};
