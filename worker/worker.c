/* The worker's main thread (see worker.h): sets up the run directory, the publisher (event log +
 * history), the sockets and the job thread, then loops: commands (replied at once), queued job
 * events (logged, then published), a heartbeat every second, the event log's fsync, signals.
 * It never blocks on a client. The job thread only talks to JobCtl. */
#include "worker.h"
#include "proc.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "control.h"
#include "pipeline.h"
#include "worker_io.h"

#define POLL_MS 100          /* commands are answered at least this often */
#define HEARTBEAT_S 1.0

static volatile sig_atomic_t got_signal;

static void on_signal(int sig)
{
    got_signal = sig;
}

typedef struct Worker {
    const WorkerOpts *opts;
    JobCtl job;
    JobEnv env;
    Publisher pub;
    Control ctl;
    Extractor ex;
    WorkerIO *io;
    pthread_t thread;
    int thread_started;
    atomic_int job_ended;
    double job_cpu_s;        /* CPU time of the job thread, taken when it ends */
    int job_rc;
    MosErr job_err;
    Msg *status;             /* heap: a Msg is ~80 KB */
    FILE *logf;
    int lock_fd;
} Worker;

static double mono_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static double cpu_s(clockid_t clock)
{
    struct timespec ts;
    clock_gettime(clock, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* worker.log: one timestamped line per event worth keeping (the worker has no stdout). */
__attribute__((format(printf, 3, 4))) static void wlog(Worker *w, const char *level,
                                                       const char *fmt, ...)
{
    if (!w->logf)
        return;
    char when[32];
    time_t t = time(NULL);
    struct tm tm;
    strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&t, &tm));
    fprintf(w->logf, "%s %s ", when, level);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(w->logf, fmt, ap);
    va_end(ap);
    fputc('\n', w->logf);
    fflush(w->logf);
}

static void *job_thread(void *arg)
{
    Worker *w = arg;
    /* No signal mask here: stages fork tools (apt-get, spm_train) that inherit it. Whichever
     * thread takes SIGINT/SIGTERM only sets a flag, which the main loop sees within POLL_MS. */
    jobctl_started(&w->job);
    w->job_rc = pipeline_run(&w->env, &w->job_err);
    if (w->job_rc < 0)
        jobctl_log(&w->job, "error", "%s", w->job_err.msg);
    jobctl_finished(&w->job, w->job_rc == 0);
    w->job_cpu_s = cpu_s(CLOCK_THREAD_CPUTIME_ID);
    atomic_store(&w->job_ended, 1);
    uint64_t one = 1;
    ssize_t n = write(w->job.notify_fd, &one, sizeof one);
    (void)n;
    return NULL;
}

static void publish_status(Worker *w)
{
    memset(w->status, 0, offsetof(Msg, u) + sizeof(MsgStatus));
    w->status->type = MSG_STATUS;
    control_status(&w->ctl, &w->status->u.status);
    MosErr e;
    if (publisher_publish(&w->pub, w->status, &e) < 0)
        wlog(w, "error", "%s", e.msg);
}

/* Publishes every queued job message; log lines also go to worker.log. */
static void drain_events(Worker *w)
{
    Msg *m;
    MosErr e;
    jobctl_clear_notify(&w->job);
    while ((m = jobctl_peek(&w->job)) != NULL) {
        if (m->type == MSG_LOG)
            wlog(w, m->u.log.level, "%s", m->u.log.text);
        if (publisher_publish(&w->pub, m, &e) < 0)
            wlog(w, "error", "%s", e.msg);
        jobctl_pop(&w->job);
    }
}

static void handle_commands(Worker *w)
{
    const void *body;
    size_t len;
    int rc;
    while ((rc = worker_io_recv_cmd(w->io, &body, &len)) != 0) {
        if (rc < 0) {
            control_drop(&w->ctl);
            continue;
        }
        control_handle(&w->ctl, body, len);
        worker_io_reply(w->io, w->ctl.out.data, w->ctl.out.len);
        if (w->ctl.state_changed) {
            w->ctl.state_changed = 0;
            publish_status(w);   /* every client sees the effect, not just the sender */
        }
    }
}

static void on_signal_received(Worker *w)
{
    int sig = got_signal;
    got_signal = 0;
    MosErr e;
    wlog(w, "info", "signal %d: stopping the job with a checkpoint", sig);
    if (jobctl_command(&w->job, WCMD_STOP, 0, &e) == 0)
        publish_status(w);
}

/* Publishes the result of a finished extraction (block: wait for a running one). */
static void extraction_check(Worker *w, int block)
{
    MosErr e;
    if (extractor_poll(&w->ex, w->status, block) && publisher_publish(&w->pub, w->status, &e) < 0)
        wlog(w, "error", "%s", e.msg);
}

/* The main loop: returns when the job thread has ended and its last events are published. */
static void main_loop(Worker *w)
{
    double next_beat = mono_now();
    for (;;) {
        double now = mono_now();
        if (now >= next_beat) {
            publish_status(w);
            eventlog_tick(&w->pub.log);
            next_beat = now + HEARTBEAT_S;
        }
        int wait_ms = (int)((next_beat - now) * 1000.0) + 1;
        if (wait_ms > POLL_MS)
            wait_ms = POLL_MS;
        int flush_ms = publisher_flush_due_ms(&w->pub);   /* held-back messages */
        if (flush_ms >= 0 && flush_ms < wait_ms)
            wait_ms = flush_ms;
        int cmd_ready = 0, fd_ready = 0;
        worker_io_poll(w->io, w->job.notify_fd, wait_ms, &cmd_ready, &fd_ready);
        if (got_signal)
            on_signal_received(w);
        drain_events(w);
        handle_commands(w);
        extraction_check(w, 0);
        if (publisher_flush_due_ms(&w->pub) == 0)
            publisher_flush(&w->pub);
        if (atomic_load(&w->job_ended)) {
            drain_events(w);
            publisher_flush(&w->pub);
            break;
        }
    }
}

static int open_run_dir(Worker *w, MosErr *err)
{
    const char *d = w->opts->run_dir;
    if (fs_mkdir_p(d, err) < 0) {   /* runs/ may not exist yet */
        err_prefix(err, "cannot create the run directory");
        return -1;
    }
    char path[4200];
    snprintf(path, sizeof path, "%s/worker.lock", d);
    w->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (w->lock_fd < 0)
        return err_set(err, "%s: %s", path, strerror(errno));
    /* A POSIX record lock: released by the kernel when the worker dies, even by kill -9, and
     * testable without taking it (detach_worker_running). */
    struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
    if (fcntl(w->lock_fd, F_SETLK, &fl) < 0) {
        struct flock who = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
        long pid = fcntl(w->lock_fd, F_GETLK, &who) == 0 ? (long)who.l_pid : -1;
        return err_set(err, "%s: another worker (pid %ld) is running in this run directory; "
                       "attach with `mos dash --run-dir %s` or stop it with `mos ctl --run-dir "
                       "%s stop`", d, pid, d, d);
    }
    char pid[32];
    int n = snprintf(pid, sizeof pid, "%ld\n", (long)getpid());
    if (ftruncate(w->lock_fd, 0) < 0 || pwrite(w->lock_fd, pid, (size_t)n, 0) != n)
        return err_set(err, "%s: cannot write: %s", path, strerror(errno));
    snprintf(path, sizeof path, "%s/worker.log", d);
    w->logf = fopen(path, "ae");   /* not inherited by extraction children */
    if (!w->logf)
        return err_set(err, "%s: %s", path, strerror(errno));
    /* Stages may print progress (mos prepare does): in a worker it belongs in the log. */
    fflush(stdout);
    dup2(fileno(w->logf), STDOUT_FILENO);
    return 0;
}

static int worker_setup(Worker *w, MosErr *err)
{
    const WorkerOpts *o = w->opts;
    if (!pipeline_check_stage(o->stage, err) || open_run_dir(w, err) < 0)
        return -1;
    if (jobctl_init(&w->job, err) < 0)
        return -1;
    char id[PROTO_NAME_MAX + 1], host[64] = "localhost";
    gethostname(host, sizeof host - 1);
    snprintf(id, sizeof id, "%.40s:%ld", host, (long)getpid());
    EventLogScan scan;
    if (publisher_open(&w->pub, o->run_dir, id, &scan, err) < 0)
        return -1;
    if (scan.torn_bytes > 0)
        wlog(w, "warn", "event log: dropped a torn last record (%lld bytes) after %lld records",
             scan.torn_bytes, scan.records);
    if (control_init(&w->ctl, &w->job, &w->pub, o->stage, o->run_dir, err) < 0)
        return -1;
    extractor_init(&w->ex, w->ctl.run_dir);
    w->ctl.ex = &w->ex;
    w->status = malloc(sizeof *w->status);
    if (!w->status)
        return err_set(err, "out of memory");
    w->io = worker_io_open(o->run_dir, o->bind, o->curve_dir, err);
    if (!w->io)
        return -1;
    w->pub.send = worker_io_publish;
    w->pub.send_ctx = w->io;
    w->pub.coalesce_ms = PUBLISH_COALESCE_MS;
    w->env = (JobEnv){ .ctl = &w->job, .run_dir = o->run_dir, .config = o->config,
                       .stage = o->stage, .resume = o->resume };
    wlog(w, "info", "worker pid %ld, stage %s%s, %s, event log at seq %lld", (long)getpid(),
         o->stage, o->resume ? " (resume)" : "", worker_io_describe(w->io),
         (long long)w->pub.seq);
    return 0;
}

static void worker_teardown(Worker *w)
{
    if (w->thread_started) {
        pthread_join(w->thread, NULL);
        /* What publishing, commands and ZeroMQ cost besides the job: on a machine without a
         * spare core this is the job's slowdown (tests/bench/bench_worker.py reads it). */
        double other = cpu_s(CLOCK_PROCESS_CPUTIME_ID) - w->job_cpu_s;
        wlog(w, "info", "cpu: job thread %.3f s, everything else %.3f s (%.2f %% of the job)",
             w->job_cpu_s, other, w->job_cpu_s > 0 ? 100.0 * other / w->job_cpu_s : 0.0);
    }
    if (w->io) {
        publisher_flush(&w->pub);   /* the last status and anything still held back */
        worker_io_close(&w->io, 1);
    }
    if (w->ctl.reply)
        wlog(w, "info", "worker exits: %lld commands (%lld refused, %lld malformed dropped), "
             "%lld events published (%lld send errors)", w->ctl.handled, w->ctl.refused,
             w->ctl.dropped, w->pub.published, w->pub.send_drops);
    control_done(&w->ctl);
    publisher_close(&w->pub);
    jobctl_done(&w->job);
    free(w->status);
    if (w->logf)
        fclose(w->logf);
    if (w->lock_fd > 0)
        close(w->lock_fd);
}

static void report_ready(const WorkerOpts *o, const char *msg)
{
    if (o->ready_fd < 0)
        return;
    char line[MOS_ERR_LEN + 16];
    int n = snprintf(line, sizeof line, "%s\n", msg);
    ssize_t k = write(o->ready_fd, line, (size_t)n);
    (void)k;
    close(o->ready_fd);
}

int worker_main(const WorkerOpts *o, MosErr *err)
{
    Worker w;
    memset(&w, 0, sizeof w);
    w.opts = o;
    w.lock_fd = -1;
    w.pub.log.fd = -1;   /* teardown after an early setup failure must not close fd 0 */
    if (worker_setup(&w, err) < 0) {
        char msg[MOS_ERR_LEN + 8];
        snprintf(msg, sizeof msg, "error: %s", err->msg);
        report_ready(o, msg);
        wlog(&w, "error", "%s", err->msg);
        worker_teardown(&w);
        return -1;
    }
    struct sigaction sa = { .sa_handler = on_signal, .sa_flags = SA_RESTART };
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    if (pthread_create(&w.thread, NULL, job_thread, &w) != 0) {
        report_ready(o, "error: cannot start the job thread");
        worker_teardown(&w);
        return err_set(err, "cannot start the job thread");
    }
    w.thread_started = 1;
    report_ready(o, "ok");
    main_loop(&w);
    extraction_check(&w, 1);   /* an extraction asked for just before the end still finishes */
    publish_status(&w);
    int rc = w.job_rc;
    if (rc < 0)
        *err = w.job_err;
    worker_teardown(&w);
    return rc;
}
