/* The event log `events.msgpack`: a plain msgpack stream of records, each record the topic as a
 * msgpack str followed by the body map exactly as published, so the file is exactly the
 * messages that were published, in order. This module frames and scans records; it never
 * decodes bodies (protocol/ does). A record is written with one write() before it is published;
 * a crash can only leave a torn last record, which scanning detects and resuming truncates.
 * Durability: fdatasync at most once per second (eventlog_tick) and on close, so a power loss
 * costs at most about a second of events; a killed process loses nothing already written. */
#ifndef MOS_EVENTLOG_H
#define MOS_EVENTLOG_H

#include <stddef.h>

#include "err.h"

#define EVENTLOG_FILE "events.msgpack"
#define EVENTLOG_TOPIC_MAX 64

typedef struct EventLog {
    int fd;                 /* -1 when closed */
    long long records;      /* records in the file (scanned + appended) */
    long long bytes;        /* file length */
    int dirty;              /* written since the last fdatasync */
    double last_sync_s;     /* monotonic time of the last fdatasync */
    char path[4096];
} EventLog;

/* Called once per complete record, in file order; topic and body point into a read-only mapping
 * valid only during the call. Returning non-zero stops the scan early (not an error). */
typedef int (*EventLogVisit)(void *ctx, const char *topic, size_t topic_len,
                             const unsigned char *body, size_t body_len);

typedef struct EventLogScan {
    long long records;      /* complete records visited */
    long long valid_bytes;  /* length of the prefix made of complete records */
    long long torn_bytes;   /* bytes after it that form an incomplete (torn) last record */
} EventLogScan;

/* Skips one msgpack value of buf[0..len). Returns 0 and sets *used, 1 when buf ends inside the
 * value (incomplete), -1 when the bytes are not msgpack (the never-used byte 0xc1). */
int eventlog_skip_value(const unsigned char *buf, size_t len, size_t *used);

/* Scans the log at path. A missing file is an empty log. A torn tail (the file ends inside a
 * record) is reported in scan->torn_bytes, not an error. Returns 0, or -1 with err naming the
 * file and byte offset when a record is corrupt (not a str topic followed by a map body) or the
 * file cannot be read. visit may be NULL. */
int eventlog_scan(const char *path, EventLogVisit visit, void *ctx, EventLogScan *scan,
                  MosErr *err);

/* Opens run_dir/events.msgpack for appending, creating it if needed. An existing log is scanned
 * first: its torn tail, if any, is truncated (reported in *scan when scan is not NULL) and new
 * records go after the last complete one. A corrupt log is refused (nothing is overwritten). */
int eventlog_open(EventLog *log, const char *run_dir, EventLogScan *scan, MosErr *err);

/* Appends one record: topic (1..EVENTLOG_TOPIC_MAX bytes) and an encoded msgpack map body.
 * Returns 0 or -1 with err (disk full, closed log). */
int eventlog_append(EventLog *log, const char *topic, const void *body, size_t body_len,
                    MosErr *err);

/* fdatasyncs when something was written and at least a second passed since the last sync. */
void eventlog_tick(EventLog *log);

/* fdatasyncs and closes; safe on a closed log. */
void eventlog_close(EventLog *log);

#endif
