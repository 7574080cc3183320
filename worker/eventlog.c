/* Event log framing, scanning and appending (see eventlog.h). msgpack values are skipped with a
 * byte-level walker (no msgpack headers here: only protocol/ decodes messages); the walker keeps
 * a count of values still to skip instead of recursing, so nesting depth cannot overflow. */
#include "eventlog.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

static uint64_t be_read(const unsigned char *p, int n)
{
    uint64_t v = 0;
    for (int i = 0; i < n; i++)
        v = v << 8 | p[i];
    return v;
}

/* Header of the value at p (avail bytes): sets *hdr (header bytes incl. length fields), *payload
 * (bytes after the header) and *children (nested values). 1: header incomplete, -1: invalid. */
static int value_header(const unsigned char *p, size_t avail, size_t *hdr, uint64_t *payload,
                        uint64_t *children)
{
    static const unsigned char fixed[32] = {
        /* c0..df: payload bytes of fixed-size types; 0xff marks the length-prefixed ones */
        0, 0xff, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 4, 8, 1, 2, 4, 8,
        1, 2, 4, 8, 2, 3, 5, 9, 17, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    };
    unsigned b = p[0];
    *hdr = 1, *payload = 0, *children = 0;
    if (b <= 0x7f || b >= 0xe0)
        return 0;
    if (b <= 0x8f) { *children = 2 * (uint64_t)(b & 0x0f); return 0; }
    if (b <= 0x9f) { *children = b & 0x0f; return 0; }
    if (b <= 0xbf) { *payload = b & 0x1f; return 0; }
    if (b == 0xc1)
        return -1;
    if (fixed[b - 0xc0] != 0xff) { *payload = fixed[b - 0xc0]; return 0; }
    static const struct { unsigned char code, len_bytes, ext, kind; } var[] = {
        {0xc4, 1, 0, 0}, {0xc5, 2, 0, 0}, {0xc6, 4, 0, 0},       /* bin */
        {0xc7, 1, 1, 0}, {0xc8, 2, 1, 0}, {0xc9, 4, 1, 0},       /* ext: + type byte */
        {0xd9, 1, 0, 0}, {0xda, 2, 0, 0}, {0xdb, 4, 0, 0},       /* str */
        {0xdc, 2, 0, 1}, {0xdd, 4, 0, 1}, {0xde, 2, 0, 2}, {0xdf, 4, 0, 2}, /* array, map */
    };
    for (size_t i = 0; i < sizeof var / sizeof var[0]; i++) {
        if (var[i].code != b)
            continue;
        if (avail < 1u + var[i].len_bytes)
            return 1;
        uint64_t n = be_read(p + 1, var[i].len_bytes);
        *hdr = 1u + var[i].len_bytes + var[i].ext;
        if (var[i].kind == 0)
            *payload = n;
        else
            *children = n * var[i].kind;
        return 0;
    }
    return -1;
}

int eventlog_skip_value(const unsigned char *buf, size_t len, size_t *used)
{
    size_t off = 0;
    uint64_t pending = 1;
    while (pending > 0) {
        if (off >= len)
            return 1;
        size_t hdr;
        uint64_t payload, children;
        int rc = value_header(buf + off, len - off, &hdr, &payload, &children);
        if (rc != 0)
            return rc;
        if (hdr > len - off || payload > len - off - hdr)
            return 1;
        off += hdr + (size_t)payload;
        pending = pending - 1 + children;
        if (pending > len - off)   /* every pending value needs at least one more byte */
            return 1;
    }
    *used = off;
    return 0;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* One record at buf: 0 and *used, 1 incomplete, -1 corrupt. */
static int record_parse(const unsigned char *buf, size_t len, size_t *topic_off,
                        size_t *topic_len, size_t *body_off, size_t *used)
{
    size_t n;
    int rc = eventlog_skip_value(buf, len, &n);
    if (rc != 0)
        return rc;
    unsigned b = buf[0];
    if (b >= 0xa0 && b <= 0xbf)
        *topic_off = 1;
    else if (b == 0xd9)
        *topic_off = 2;
    else
        return -1;
    *topic_len = n - *topic_off;
    if (*topic_len == 0 || *topic_len > EVENTLOG_TOPIC_MAX)
        return -1;
    size_t m;
    rc = eventlog_skip_value(buf + n, len - n, &m);
    if (rc != 0)
        return rc;
    b = buf[n];
    if (!((b >= 0x80 && b <= 0x8f) || b == 0xde || b == 0xdf))
        return -1;
    *body_off = n;
    *used = n + m;
    return 0;
}

static int scan_buffer(const char *path, const unsigned char *buf, size_t len,
                       EventLogVisit visit, void *ctx, EventLogScan *scan, MosErr *err)
{
    size_t off = 0;
    while (off < len) {
        size_t t_off, t_len, b_off, used;
        int rc = record_parse(buf + off, len - off, &t_off, &t_len, &b_off, &used);
        if (rc < 0)
            return err_set(err, "%s: corrupt record at byte %zu (record %lld)", path, off,
                           scan->records + 1);
        if (rc > 0) {
            scan->torn_bytes = (long long)(len - off);
            break;
        }
        scan->records++;
        scan->valid_bytes = (long long)(off + used);
        if (visit && visit(ctx, (const char *)buf + off + t_off, t_len, buf + off + b_off,
                           used - b_off))
            break;
        off += used;
    }
    return 0;
}

int eventlog_scan(const char *path, EventLogVisit visit, void *ctx, EventLogScan *scan,
                  MosErr *err)
{
    memset(scan, 0, sizeof *scan);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT ? 0 : err_set(err, "%s: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) < 0) {
        err_set(err, "%s: %s", path, strerror(errno));
        close(fd);
        return -1;
    }
    if (st.st_size == 0) {
        close(fd);
        return 0;
    }
    void *map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (map == MAP_FAILED)
        return err_set(err, "%s: cannot map: %s", path, strerror(errno));
    int rc = scan_buffer(path, map, (size_t)st.st_size, visit, ctx, scan, err);
    munmap(map, (size_t)st.st_size);
    return rc;
}

int eventlog_open(EventLog *log, const char *run_dir, EventLogScan *scan, MosErr *err)
{
    EventLogScan local;
    memset(log, 0, sizeof *log);
    log->fd = -1;
    if (snprintf(log->path, sizeof log->path, "%s/%s", run_dir, EVENTLOG_FILE) >=
        (int)sizeof log->path)
        return err_set(err, "%s: run directory path too long", run_dir);
    if (!scan)
        scan = &local;
    if (eventlog_scan(log->path, NULL, NULL, scan, err) < 0)
        return -1;
    int fd = open(log->path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0)
        return err_set(err, "%s: %s", log->path, strerror(errno));
    if (scan->torn_bytes > 0 && ftruncate(fd, (off_t)scan->valid_bytes) < 0) {
        err_set(err, "%s: cannot drop the torn last record: %s", log->path, strerror(errno));
        close(fd);
        return -1;
    }
    if (lseek(fd, (off_t)scan->valid_bytes, SEEK_SET) < 0) {
        err_set(err, "%s: %s", log->path, strerror(errno));
        close(fd);
        return -1;
    }
    log->fd = fd;
    log->records = scan->records;
    log->bytes = scan->valid_bytes;
    log->last_sync_s = now_s();
    return 0;
}

int eventlog_append(EventLog *log, const char *topic, const void *body, size_t body_len,
                    MosErr *err)
{
    size_t tlen = strlen(topic);
    ASSERT(tlen > 0 && tlen <= EVENTLOG_TOPIC_MAX);
    if (log->fd < 0)
        return err_set(err, "event log is closed");
    unsigned char hdr[2];
    size_t hlen = 1;
    if (tlen <= 31) {
        hdr[0] = (unsigned char)(0xa0 | tlen);
    } else {
        hdr[0] = 0xd9, hdr[1] = (unsigned char)tlen;
        hlen = 2;
    }
    struct iovec iov[3] = {
        {hdr, hlen}, {(void *)topic, tlen}, {(void *)body, body_len},
    };
    size_t total = hlen + tlen + body_len;
    ssize_t n = writev(log->fd, iov, 3);
    if (n != (ssize_t)total) {
        /* A short write leaves a torn record: cut it so the file stays a valid stream. */
        int e = n < 0 ? errno : ENOSPC;
        if (ftruncate(log->fd, (off_t)log->bytes) == 0)
            lseek(log->fd, (off_t)log->bytes, SEEK_SET);
        return err_set(err, "%s: cannot append an event: %s", log->path, strerror(e));
    }
    log->bytes += (long long)total;
    log->records++;
    log->dirty = 1;
    return 0;
}

void eventlog_tick(EventLog *log)
{
    if (log->fd < 0 || !log->dirty)
        return;
    double t = now_s();
    if (t - log->last_sync_s < 1.0)
        return;
    fdatasync(log->fd);
    log->dirty = 0;
    log->last_sync_s = t;
}

void eventlog_close(EventLog *log)
{
    if (log->fd < 0)
        return;
    if (log->dirty)
        fdatasync(log->fd);
    close(log->fd);
    log->fd = -1;
    log->dirty = 0;
}
