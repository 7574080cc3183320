/* The stages a worker can run, each a function in worker/job_<name>.c over JobEnv. JOB_STAGES
 * lists them in pipeline order for pipeline.c's table; a stage is listed once its code is in the
 * build. */
#ifndef MOS_JOBS_H
#define MOS_JOBS_H

#include "pipeline.h"

int job_prepare_run(const JobEnv *env, MosErr *err);
int job_prepare_done(const JobEnv *env);
int job_latency_run(const JobEnv *env, MosErr *err);
int job_latency_done(const JobEnv *env);
int job_search_run(const JobEnv *env, MosErr *err);
int job_search_done(const JobEnv *env);

int job_train_run(const JobEnv *env, MosErr *err);

#define JOB_STAGES \
    { "prepare", job_prepare_run, job_prepare_done }, \
    { "train", job_train_run, NULL }, \
    { "latency", job_latency_run, job_latency_done }, \
    { "search", job_search_run, job_search_done },

#endif
