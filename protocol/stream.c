/* Event-log records: split with msgpack-c's unpacker (one value at a time), write with its
 * packer. Bodies are not decoded here. See stream.h. */
#include "stream.h"

#include <msgpack.h>
#include <string.h>

#include "msg_internal.h"

/* Length of the msgpack value at buf[0..len): 1 and *used set, 0 when incomplete, -1 when not
 * msgpack. The unpacked object is returned in u (caller owns it). */
static int value_len(const char *buf, size_t len, msgpack_unpacked *u, size_t *used)
{
    size_t off = 0;
    /* msg_scan_prefix first: msgpack-c would allocate a corrupt huge container up front. */
    int scanned = msg_scan_prefix(buf, len, &off, NULL);
    if (scanned <= 0)
        return scanned;
    len = off;
    off = 0;
    msgpack_unpack_return r = msgpack_unpack_next(u, buf, len, &off);
    if (r == MSGPACK_UNPACK_SUCCESS) {
        *used = off;
        return 1;
    }
    if (r == MSGPACK_UNPACK_CONTINUE)
        return 0;
    return -1;
}

int msg_stream_next(const void *buf, size_t len, size_t *off, MsgRecord *rec, ProtoErr *e)
{
    if (*off >= len)
        return 0;
    const char *p = (const char *)buf + *off;
    size_t left = len - *off, tused = 0, bused = 0;
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    int rc = value_len(p, left, &u, &tused);
    if (rc == 1 && u.data.type != MSGPACK_OBJECT_STR)
        rc = -2;
    if (rc == 1) {
        rec->topic = u.data.via.str.ptr;
        rec->topic_len = u.data.via.str.size;
        rc = value_len(p + tused, left - tused, &u, &bused);
        if (rc == 1 && u.data.type != MSGPACK_OBJECT_MAP)
            rc = -3;
    }
    msgpack_unpacked_destroy(&u);
    if (rc < 0) {
        proto_err(e, "event log offset %zu: %s", *off,
                  rc == -2 ? "record topic is not a string"
                  : rc == -3 ? "record body is not a map" : "not msgpack");
        return -1;
    }
    if (rc == 0)
        return 0;
    /* The topic pointer must point into buf, not into the zone: msgpack-c's str objects do
     * (zero-copy), but recompute it from the header length to be independent of that. */
    rec->topic = p + tused - rec->topic_len;
    rec->body = (const unsigned char *)p + tused;
    rec->body_len = bused;
    *off += tused + bused;
    return 1;
}

static int stream_write_cb(void *data, const char *buf, size_t len)
{
    return fwrite(buf, 1, len, (FILE *)data) == len ? 0 : -1;
}

int msg_stream_write(FILE *f, const Msg *m, MsgBuf *scratch, ProtoErr *e)
{
    if (msg_encode(m, scratch, e) != 0)
        return -1;
    msgpack_packer pk;
    msgpack_packer_init(&pk, f, stream_write_cb);
    const char *topic = msg_type_name(m->type);
    size_t tl = strlen(topic);
    if (msgpack_pack_str(&pk, tl) != 0 || msgpack_pack_str_body(&pk, topic, tl) != 0
        || fwrite(scratch->data, 1, scratch->len, f) != scratch->len)
        return proto_err(e, "event log: write failed");
    return 0;
}
