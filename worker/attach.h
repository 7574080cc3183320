/* Finding and following a worker from the command line (`mos ctl`, `mos watch`, `mos run`):
 * resolve endpoints from --connect or <run dir>/endpoints.json (a worker killed by -9 leaves the
 * file behind; the run directory's lock tells whether it is alive), optional CURVE client keys,
 * and the follow loop that prints events as readable lines or JSON lines. */
#ifndef MOS_ATTACH_H
#define MOS_ATTACH_H

#include "cli.h"
#include "wire.h"

typedef struct Target {
    WireEndpoints ep;
    WireCurve curve;
    int curve_on;
    const char *run_dir;     /* NULL with --connect */
} Target;

/* The options every client command shares (run-dir, connect, key, server-key, timeout). */
#define ATTACH_OPTS \
    { "run-dir", OPT_STR, "runs/default", "DIR", "the worker's run directory" }, \
    { "connect", OPT_STR, NULL, "ENDPOINT", "PUB endpoint (tcp://H:P: commands on P+1), or PUB,CTL" }, \
    { "key", OPT_STR, NULL, "FILE", "CURVE: this client's secret key file (from mos keygen)" }, \
    { "server-key", OPT_STR, NULL, "Z85", "CURVE: the worker's public key (default: endpoints.json)" }, \
    { "timeout", OPT_FLOAT, "5", "S", "seconds to wait for the worker" }

/* Resolves the target. Returns 0 when a worker should be there, 1 when the run directory has no
 * live worker (no endpoints.json, or its worker is gone), -1 with err on bad options/files. */
int attach_resolve(const Args *a, Target *t, MosErr *err);

typedef struct FollowOpts {
    int jsonl;               /* JSON lines instead of readable lines */
    int quiet_status;        /* readable mode: print status lines only when the state changes */
    double timeout_s;        /* give up when nothing is heard for this long at the start */
} FollowOpts;

/* Follows the worker until its job ends: prints the snapshot summary, then every update, and
 * returns 0 when the job finished (done), 1 when it failed or the worker went away, 2 on
 * interrupt (SIGINT), 3 when the worker was already gone (e.g. exiting) before it answered. */
int attach_follow(const Target *t, const FollowOpts *o, MosErr *err);

/* Prints every record of run_dir/events.msgpack (a finished run). Returns 0, or -1 with err. */
int attach_replay(const char *run_dir, int jsonl, MosErr *err);

#endif
