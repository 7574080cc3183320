/* Child-process extraction (see extractor.h). The child is started with fork + exec of this
 * same executable; between the two only async-signal-safe calls are made (the worker is
 * multi-threaded). */
#include "extractor.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "strbuf.h"

void extractor_init(Extractor *x, const char *run_dir)
{
    memset(x, 0, sizeof *x);
    STR_SET(x->run_dir, run_dir);
}

static void fill(const Extractor *x, Msg *m, const char *status, double progress)
{
    memset(m, 0, offsetof(Msg, u) + sizeof(MsgExtract));
    m->type = MSG_EXTRACT;
    MsgExtract *e = &m->u.extract;
    STR_SET(e->arch, x->what);
    STR_SET(e->status, status);
    e->progress = progress;
}

int extractor_start(Extractor *x, const MsgCmd *args, Msg *m, MosErr *err)
{
    if (x->pid > 0)
        return err_set(err, "extract: %s is still being extracted", x->what);
    char self[PATH_MAX], log[PROTO_PATH_MAX + 32], index[32];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0)
        return err_set(err, "extract: cannot find the mos executable: %s", strerror(errno));
    self[n] = '\0';
    time_t t = time(NULL);
    struct tm tm;
    strftime(x->name, sizeof x->name, "extract-%Y%m%d-%H%M%S", gmtime_r(&t, &tm));
    snprintf(x->name + strlen(x->name), sizeof x->name - strlen(x->name), "-%lld", x->started);
    snprintf(log, sizeof log, "%s/worker.log", x->run_dir);
    snprintf(index, sizeof index, "%lld", (long long)args->index);
    if (args->has_arch)
        STR_SET(x->what, args->arch);
    else
        snprintf(x->what, sizeof x->what, "front point %lld", (long long)args->index);
    char *argv[] = { "mos", "extract", "--run-dir", x->run_dir, "--name", x->name,
                     args->has_arch ? "--arch" : "--front",
                     args->has_arch ? (char *)args->arch : index, NULL };
    pid_t pid = fork();
    if (pid < 0)
        return err_set(err, "extract: fork: %s", strerror(errno));
    if (pid == 0) {
        int in = open("/dev/null", O_RDONLY), out = open(log, O_WRONLY | O_APPEND | O_CREAT, 0644);
        if (in >= 0)
            dup2(in, 0);
        if (out >= 0)
            dup2(out, 1), dup2(out, 2);
        execv(self, argv);
        _exit(127);
    }
    x->pid = pid;
    x->started++;
    fill(x, m, "running", 0.0);
    return 0;
}

int extractor_poll(Extractor *x, Msg *m, int block)
{
    int status;
    if (x->pid <= 0 || waitpid(x->pid, &status, block ? 0 : WNOHANG) != x->pid)
        return 0;
    x->pid = 0;
    int ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
    fill(x, m, ok ? "done" : "failed", ok ? 1.0 : 0.0);
    MsgExtract *e = &m->u.extract;
    if (ok) {
        snprintf(e->path, sizeof e->path, "%.900s/subnets/%s", x->run_dir, x->name);
        e->has_path = true;
        x->succeeded++;
    } else {
        snprintf(e->error, sizeof e->error, "mos extract %s (see worker.log)",
                 WIFEXITED(status) ? "failed" : "was killed");
        e->has_error = true;
        x->failed++;
    }
    return 1;
}
