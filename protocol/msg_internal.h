/* Helpers shared by msg.c (encode), msg_decode.c and msg_json.c. Not part of the API: only
 * protocol/ sources include this. */
#ifndef MOS_PROTOCOL_MSG_INTERNAL_H
#define MOS_PROTOCOL_MSG_INTERNAL_H

#include <msgpack.h>

#include "msg.h"

#define SCAN_MAX_DEPTH 16          /* nesting of maps/arrays accepted by the decoder */
#define SCAN_MAX_ITEMS (1u << 16)  /* elements of one array / pairs of one map */

/* A key path for error messages, e.g. "front.points[3].arch". */
typedef struct Path {
    char s[192];
    size_t len;
} Path;

size_t path_push(Path *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void   path_pop(Path *p, size_t old);

typedef struct Enc {
    msgpack_packer pk;
    MsgBuf *buf;
    int failed;
} Enc;

int  proto_err(ProtoErr *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
bool utf8_valid(const unsigned char *s, size_t n);

void enc_begin(Enc *enc, MsgBuf *b);
int  enc_end(Enc *enc, ProtoErr *e);
void enc_key(Enc *enc, const char *key);

/* Structural check of exactly one msgpack object filling buf: every declared length inside
 * the buffer, nesting <= SCAN_MAX_DEPTH, containers <= SCAN_MAX_ITEMS. 0 or -1 (e set). */
int msg_scan(const void *buf, size_t n, ProtoErr *e);

/* The same for the first object of buf (e.g. a record in a stream): 1 with *used = its length;
 * 0 when buf ends before the object does (a torn tail, or a declared length past the end);
 * -1 when the bytes are malformed or over the limits. */
int msg_scan_prefix(const void *buf, size_t n, size_t *used, ProtoErr *e);

/* Fields of rec present on the wire (required ones plus optional ones with has_ set). */
int msg_rec_count_present(const RecDesc *d, const void *rec);

/* Field access on a record through its descriptor. */
static inline const bool *field_has(const FieldDesc *f, const void *rec)
{
    return f->has_off < 0 ? NULL : (const bool *)((const char *)rec + f->has_off);
}

static inline uint32_t field_count(const FieldDesc *f, const void *rec)
{
    return *(const uint32_t *)((const char *)rec + f->count_off);
}

static inline bool field_present(const FieldDesc *f, const void *rec)
{
    const bool *has = field_has(f, rec);
    return has == NULL || *has;
}

#endif
