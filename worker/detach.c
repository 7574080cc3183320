/* Background start of a worker (see detach.h). */
#include "detach.h"
#include "proc.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* In the grandchild: detach stdio and run the worker; never returns. */
static _Noreturn void run_child(WorkerOpts o, int ready_fd)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/worker.log", o.run_dir);
    int in = open("/dev/null", O_RDONLY);
    int log = open(path, O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (in >= 0)
        dup2(in, 0);
    if (log >= 0) {
        dup2(log, 1);
        dup2(log, 2);
    }
    if (in > 2)
        close(in);
    if (log > 2)
        close(log);
    o.ready_fd = ready_fd;
    MosErr err = {{0}};
    int rc = worker_main(&o, &err);
    if (rc < 0)
        fprintf(stderr, "mos worker: %s\n", err.msg);
    _exit(rc < 0 ? 1 : 0);
}

int detach_worker(const WorkerOpts *o, long *pid, MosErr *err)
{
    if (fs_mkdir_p(o->run_dir, err) < 0) {   /* runs/ may not exist yet */
        err_prefix(err, "cannot create the run directory");
        return -1;
    }
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) < 0)
        return err_set(err, "pipe: %s", strerror(errno));
    fflush(NULL);
    pid_t child = fork();
    if (child < 0) {
        close(fds[0]), close(fds[1]);
        return err_set(err, "fork: %s", strerror(errno));
    }
    if (child == 0) {
        close(fds[0]);
        setsid();
        pid_t g = fork();
        if (g != 0)
            _exit(g < 0 ? 1 : 0);
        run_child(*o, fds[1]);
    }
    close(fds[1]);
    int status;
    waitpid(child, &status, 0);
    char line[MOS_ERR_LEN + 32];
    size_t n = 0;
    ssize_t k;
    while (n < sizeof line - 1 && (k = read(fds[0], line + n, sizeof line - 1 - n)) > 0)
        n += (size_t)k;
    close(fds[0]);
    line[n] = '\0';
    line[strcspn(line, "\n")] = '\0';
    if (strncmp(line, "ok", 2) != 0)
        return err_set(err, "%s", n ? (strncmp(line, "error: ", 7) == 0 ? line + 7 : line)
                                    : "the worker exited before it was ready (see worker.log)");
    *pid = 0;
    detach_worker_running(o->run_dir, pid);
    return 0;
}

int detach_worker_running(const char *run_dir, long *pid)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/worker.lock", run_dir);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    /* F_GETLK only tests: it never takes the lock, so it cannot race a starting worker. */
    struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
    int running = fcntl(fd, F_GETLK, &fl) == 0 && fl.l_type != F_UNLCK;
    if (running && pid)
        *pid = (long)fl.l_pid;
    close(fd);
    return running;
}
