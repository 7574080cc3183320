/* Extraction on request while a job runs (`mos ctl extract ARCH|--front K`, the dashboard's
 * extract key): the worker's main thread starts `mos extract` as a child process on the run's
 * last checkpoint, so the job goes on undisturbed, and reports it as extract messages (running,
 * then done with the model's path or failed). One extraction at a time. The child's output goes
 * to worker.log; each extraction gets its own subnets/<name>, so nothing is overwritten. */
#ifndef MOS_EXTRACTOR_H
#define MOS_EXTRACTOR_H

#include <sys/types.h>

#include "err.h"
#include "msg.h"

typedef struct Extractor {
    pid_t pid;                          /* 0: none running */
    char what[PROTO_ARCH_MAX + 1];      /* the arch text, or "front point K" */
    char name[64];                      /* subnets/<name> */
    char run_dir[PROTO_PATH_MAX + 1];
    long long started, succeeded, failed;
} Extractor;

void extractor_init(Extractor *x, const char *run_dir);

/* Starts `mos extract` for args (arch or index, as msg_cmd_decode checked them). Returns 0 and
 * fills m (type MSG_EXTRACT, status running), or -1 with err when one is already running or the
 * process cannot start. */
int extractor_start(Extractor *x, const MsgCmd *args, Msg *m, MosErr *err);

/* Returns 1 and fills m (status done or failed) when the running extraction has ended, else 0.
 * block = 1 waits for it (the worker's exit). */
int extractor_poll(Extractor *x, Msg *m, int block);

#endif
