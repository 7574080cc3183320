/* The stages a worker can run, each a function in worker/job_<name>.c over JobEnv. JOB_STAGES
 * lists them in pipeline order for pipeline.c's table; a stage is listed once its code is in the
 * build. */
#ifndef MOS_JOBS_H
#define MOS_JOBS_H

#include "pipeline.h"

#define JOB_STAGES

#endif
