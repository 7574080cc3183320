/* `mos worker`: runs a job in the background as a published worker (see worker.h and
 * docs/worker.md). In the foreground it prints nothing on stdout (errors on stderr); with
 * --detach it starts the worker in the background, prints its pid once it is ready and returns. */
#include <stdio.h>

#include "commands.h"
#include "detach.h"
#include "worker.h"

static const OptSpec worker_opts[] = {
    { "run-dir", OPT_STR, "runs/default", "DIR", "run directory (created if missing)" },
    { "stage", OPT_STR, "all", "STAGE", "prepare, train, latency, search or all" },
    { "config", OPT_STR, NULL, "FILE", "run config (YAML); default: DIR/config.yml or built-in" },
    { "resume", OPT_FLAG, NULL, NULL, "continue from the last checkpoint" },
    { "bind", OPT_STR, NULL, "ENDPOINT", "tcp://HOST[:PORT] or ipc://DIR (default: private ipc)" },
    { "curve", OPT_STR, NULL, "DIR", "CURVE: DIR/server.key (made if missing), DIR/authorized_keys" },
    { "detach", OPT_FLAG, NULL, NULL, "run in the background; print the pid once ready" },
    { 0 },
};

static void worker_opts_from(const Args *a, WorkerOpts *o)
{
    *o = (WorkerOpts){
        .run_dir = args_str(a, "run-dir"), .stage = args_str(a, "stage"),
        .config = args_str(a, "config"), .bind = args_str(a, "bind"),
        .curve_dir = args_str(a, "curve"), .resume = args_flag(a, "resume"), .ready_fd = -1,
    };
}

static int run_worker(const Args *a)
{
    WorkerOpts o;
    MosErr err = {{0}};
    worker_opts_from(a, &o);
    if (args_flag(a, "detach")) {
        long pid;
        if (detach_worker(&o, &pid, &err) < 0) {
            fprintf(stderr, "mos worker: %s\n", err.msg);
            return 1;
        }
        printf("%ld\n", pid);
        return 0;
    }
    if (worker_main(&o, &err) < 0) {
        fprintf(stderr, "mos worker: %s\n", err.msg);
        return 1;
    }
    return 0;
}

const Command cmd_worker = {
    .name = "worker",
    .summary = "run a job (a stage or the whole pipeline) as a background worker",
    .details = "The worker publishes events (ZeroMQ PUB) and takes commands (ROUTER); its\n"
               "endpoints are in DIR/endpoints.json, its log in DIR/worker.log, every event in\n"
               "DIR/events.msgpack. Steer it with `mos ctl`, watch it with `mos watch` or\n"
               "`mos dash`. SIGINT/SIGTERM stop the job with a checkpoint (exit 0).",
    .opts = worker_opts,
    .run = run_worker,
};
