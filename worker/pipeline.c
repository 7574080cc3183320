/* The pipeline as one table of stages, in order (see pipeline.h). A stage appears in the table
 * once its code is part of the build; `--stage all` runs every stage in the table, skipping the
 * ones whose output is already complete (prepare when data/manifest.json exists). Between stages
 * the job polls, so a stop asked during a stage that cannot be interrupted takes effect as soon
 * as that stage returns. */
#include "pipeline.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "jobs.h"

typedef struct Stage {
    const char *name;
    int (*run)(const JobEnv *env, MosErr *err);
    int (*done)(const JobEnv *env);   /* 1: output complete, skipped by "all"; NULL: never */
} Stage;

static const Stage stages[] = {
    JOB_STAGES
    { NULL, NULL, NULL },
};
#define N_STAGES (int)(sizeof stages / sizeof stages[0] - 1)

static void stage_list(char *buf, size_t n)
{
    size_t len = 0;
    buf[0] = '\0';
    for (int i = 0; i < N_STAGES && len < n; i++)
        len += (size_t)snprintf(buf + len, n - len, "%s, ", stages[i].name);
    snprintf(buf + len, n > len ? n - len : 0, "all");
}

int pipeline_check_stage(const char *name, MosErr *err)
{
    if (strcmp(name, "all") == 0)
        return 1;
    for (int i = 0; i < N_STAGES; i++)
        if (strcmp(stages[i].name, name) == 0)
            return 1;
    char list[256];
    stage_list(list, sizeof list);
    err_set(err, "--stage %s: not a stage of this build (available: %s)", name, list);
    return 0;
}

int pipeline_run(const JobEnv *env, MosErr *err)
{
    int all = strcmp(env->stage, "all") == 0;
    for (int i = 0; i < N_STAGES; i++) {
        const Stage *s = &stages[i];
        if (!all && strcmp(s->name, env->stage) != 0)
            continue;
        if (jobctl_poll(env->ctl) == TRAIN_STOP) {
            jobctl_log(env->ctl, "info", "stopped before the %s stage", s->name);
            return 0;
        }
        if (all && s->done && s->done(env)) {
            jobctl_log(env->ctl, "info", "%s: output already complete, skipped", s->name);
            continue;
        }
        jobctl_set_progress(env->ctl, s->name, 0, 0, 0);
        jobctl_log(env->ctl, "info", "%s: started", s->name);
        if (s->run(env, err) < 0) {
            err_prefix(err, "%s", s->name);
            return -1;
        }
        if (jobctl_state(env->ctl) == WSTATE_STOPPING) {
            jobctl_log(env->ctl, "info", "%s: stopped on request", s->name);
            break;
        }
        jobctl_log(env->ctl, "info", "%s: finished", s->name);
    }
    jobctl_set_progress(env->ctl, "done", 0, 0, 0);
    jobctl_set_rates(env->ctl, -1, -1, -1);   /* a finished job has no rate or ETA */
    return 0;
}
