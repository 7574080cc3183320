/* The event-log stream format (run_dir/events.msgpack): records back to back, each the topic as a
 * msgpack str followed by the body map exactly as published. Reading splits records without
 * decoding bodies (msg_decode does that); writing encodes one message as a record. No file
 * I/O beyond the FILE* given. Invariant: msg_stream_next never reads past buf + len. */
#ifndef MOS_PROTOCOL_STREAM_H
#define MOS_PROTOCOL_STREAM_H

#include <stddef.h>
#include <stdio.h>

#include "msg.h"

typedef struct MsgRecord {
    const char *topic;              /* not NUL-terminated */
    size_t topic_len;
    const unsigned char *body;      /* the body map's bytes, for msg_decode */
    size_t body_len;
} MsgRecord;

/* Reads the record at buf + *off. Returns 1 with rec set and *off advanced past it; 0 at the
 * end of buf or when the rest is an incomplete (torn) record; -1 (e set, naming the offset)
 * when the bytes are not a record (not msgpack, or the topic is not a string). rec points into
 * buf. */
int msg_stream_next(const void *buf, size_t len, size_t *off, MsgRecord *rec, ProtoErr *e);

/* Writes m as one record to f, encoding through scratch (reused, no allocation once grown).
 * 0, or -1 with e set (encode or write error). */
int msg_stream_write(FILE *f, const Msg *m, MsgBuf *scratch, ProtoErr *e);

#endif
