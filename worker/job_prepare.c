/* The prepare stage as a worker job: `mos prepare` with its default options (from its own
 * options table, so the defaults cannot drift), run in the job thread. prepare_run cannot be
 * paused or interrupted; the worker reports it as one non-pausable phase and honours a stop as
 * soon as it returns. Its progress lines go to worker.log (the worker's stdout). */
#include <stdio.h>
#include <unistd.h>

#include "commands.h"
#include "jobs.h"
#include "prepare.h"

int job_prepare_done(const JobEnv *env)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/data/manifest.json", env->run_dir);
    return access(path, R_OK) == 0;
}

static void job_prepare_note(void *ctx, const char *line)
{
    jobctl_log((JobCtl *)ctx, "info", "prepare: %s", line);
}

int job_prepare_run(const JobEnv *env, MosErr *err)
{
    char *argv[] = { "--run-dir", (char *)env->run_dir };
    Args a;
    if (cli_parse(&cmd_prepare, 2, argv, &a, err) != 0)
        return -1;
    PrepareOpts o;
    prepare_opts_from_args(&a, &o);
    o.run_dir = env->run_dir;
    o.note = job_prepare_note;
    o.note_ctx = env->ctl;
    jobctl_set_progress(env->ctl, "prepare", 0, 0, 0);
    return prepare_run(&o, err);
}
