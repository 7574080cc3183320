/* Messages of the mos protocol as C structs, generated from schema.h, and their msgpack
 * encode/decode and JSON dump. Decoding validates everything (keys, kinds, bounds, UTF-8) and
 * copies into the caller's struct, so nothing points into the input after it returns.
 * This file does no I/O (sockets: wire.h). Invariant: decode(encode(x)) == x for every record. */
#ifndef MOS_PROTOCOL_MSG_H
#define MOS_PROTOCOL_MSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "schema.h"

#define PROTO_ERR_LEN 256

/* One line naming what is wrong and where, e.g. "train.arch: string of 900 bytes > 511". */
typedef struct ProtoErr {
    char msg[PROTO_ERR_LEN];
} ProtoErr;

/* ---- generated structs ------------------------------------------------------------------- */

#define PROTO_DECL_I64(name, sub, max)  int64_t name;
#define PROTO_DECL_F64(name, sub, max)  double name;
#define PROTO_DECL_BOOL(name, sub, max) bool name;
#define PROTO_DECL_STR(name, sub, max)  char name[(max) + 1];
#define PROTO_DECL_F32S(name, sub, max) float name[max]; uint32_t name##_n;
#define PROTO_DECL_I64S(name, sub, max) int64_t name[max]; uint32_t name##_n;
#define PROTO_DECL_REC(name, sub, max)  Msg##sub name;
#define PROTO_DECL_RECS(name, sub, max) Msg##sub name[max]; uint32_t name##_n;
#define PROTO_HAS_REQ(name)
#define PROTO_HAS_OPT(name) bool has_##name;
#define PROTO_DECL(T, name, kind, sub, max, pres, doc) \
    PROTO_DECL_##kind(name, sub, max) PROTO_HAS_##pres(name)
#define PROTO_STRUCT(lower, Camel, doc) \
    typedef struct Msg##Camel { PROTO_FIELDS_##lower(PROTO_DECL, Msg##Camel) } Msg##Camel;
PROTO_RECORDS(PROTO_STRUCT)
#undef PROTO_STRUCT

/* Strings are NUL-terminated copies (decode rejects embedded NULs); arrays carry <name>_n;
 * optional fields carry has_<name>, which the encoder honours and the decoder sets. */

typedef enum MsgType {
#define PROTO_ENUM(UPPER, lower, Camel) MSG_##UPPER,
    PROTO_MESSAGES(PROTO_ENUM)
#undef PROTO_ENUM
    MSG_TYPE_COUNT
} MsgType;

typedef enum CmdKind {
#define PROTO_ENUM(UPPER, lower, doc) CMD_##UPPER,
    PROTO_COMMANDS(PROTO_ENUM)
#undef PROTO_ENUM
    CMD_KIND_COUNT
} CmdKind;

/* 0 is success; the rest are the error table's codes (sent by name). */
typedef enum ProtoCode {
    PROTO_OK = 0,
#define PROTO_ENUM(UPPER, lower, doc) PROTO_E_##UPPER,
    PROTO_ERRORS(PROTO_ENUM)
#undef PROTO_ENUM
    PROTO_CODE_COUNT
} ProtoCode;

/* A topic message: header + body. Note the size (~80 KB): keep one per loop, not per call. */
typedef struct Msg {
    MsgType type;
    int64_t seq;                        /* per worker, +1 per published message, from 1 */
    double ts;                          /* unix time in seconds */
    char worker[PROTO_NAME_MAX + 1];    /* worker id, e.g. host:pid */
    union {
#define PROTO_MEMBER(UPPER, lower, Camel) Msg##Camel lower;
        PROTO_MESSAGES(PROTO_MEMBER)
#undef PROTO_MEMBER
    } u;
} Msg;

/* A command: {v, cmd, id, args...}. */
typedef struct Cmd {
    CmdKind kind;
    MsgCmd args;        /* args.id is the request id */
} Cmd;

/* A reply is MsgReply: {v, id, ok, error?, status?, snapshot?}. With a snapshot it is ~1 MB:
 * allocate it on the heap. */

/* ---- descriptors (used by msg.c, the tests and tools) -------------------------------------- */

typedef enum FieldKind { FK_I64, FK_F64, FK_BOOL, FK_STR, FK_F32S, FK_I64S, FK_REC, FK_RECS,
                         FIELD_KIND_COUNT } FieldKind;

typedef struct RecDesc RecDesc;

typedef struct FieldDesc {
    const char *name;
    FieldKind kind;
    size_t off;             /* of the value (array: of element 0) */
    long count_off;         /* of <name>_n for arrays, else -1 */
    long has_off;           /* of has_<name> for OPT fields, else -1 */
    uint32_t max;           /* STR: bytes; arrays: elements; else 0 */
    const RecDesc *sub;     /* REC/RECS */
    const char *doc;
} FieldDesc;

struct RecDesc {
    const char *name;       /* schema name (lower) */
    size_t size;            /* sizeof the struct */
    const FieldDesc *fields;
    int nfields;
    const char *doc;
};

#define PROTO_RECDECL(lower, Camel, doc) extern const RecDesc msg_desc_##Camel;
PROTO_RECORDS(PROTO_RECDECL)
#undef PROTO_RECDECL

/* Every record (msg_desc_Status, ...), in schema order, and its count. */
extern const RecDesc *const msg_records[];
extern const int msg_record_count;

/* ---- names --------------------------------------------------------------------------------- */

const char *msg_type_name(MsgType t);           /* "train" */
const char *msg_cmd_name(CmdKind k);            /* "pause" */
const char *msg_code_name(ProtoCode c);         /* "bad_arg"; "ok" for PROTO_OK */
const RecDesc *msg_type_rec(MsgType t);         /* the body record of a message type */
/* Name lookups on (ptr, len): 0 and *out set, or -1 when unknown. */
int msg_type_parse(const char *s, size_t n, MsgType *out);
int msg_cmd_parse(const char *s, size_t n, CmdKind *out);
int msg_code_parse(const char *s, size_t n, ProtoCode *out);

/* ---- encode / decode ----------------------------------------------------------------------- */

/* A growable output buffer reused across encodes (no allocation once it has grown). */
typedef struct MsgBuf {
    char *data;
    size_t len, cap;
} MsgBuf;

void msg_buf_init(MsgBuf *b);
void msg_buf_done(MsgBuf *b);

/* Encodes m's body map {v, type, seq, ts, worker, body:{...}} into b (replacing its content).
 * The topic frame is msg_type_name(m->type). Fails (-1, e set) on a string that is not valid
 * UTF-8, longer than its bound or containing NUL, an array count over its bound, or a bad type. */
int msg_encode(const Msg *m, MsgBuf *b, ProtoErr *e);

/* Decodes one message body (buf, n) into m. Unknown keys are ignored; a missing required key,
 * a wrong kind, an over-long string/array, bad UTF-8, trailing bytes, nesting deeper than 16 or
 * v > PROTO_VERSION are errors (-1, e names the key path). Never reads past buf + n. */
int msg_decode(const void *buf, size_t n, Msg *m, ProtoErr *e);

/* Commands. msg_cmd_decode returns PROTO_OK or the error code to reply with; on error
 * c->args.id holds the request id if it could be read, else -1. Checks per-command arguments
 * (target: target_ms > 0 and finite; extract: exactly one of arch, index >= 0). */
int msg_cmd_encode(const Cmd *c, MsgBuf *b, ProtoErr *e);
ProtoCode msg_cmd_decode(const void *buf, size_t n, Cmd *c, ProtoErr *e);

/* Replies {v, id, ok, error?, status?, snapshot?}. */
int msg_reply_encode(const MsgReply *r, MsgBuf *b, ProtoErr *e);
int msg_reply_decode(const void *buf, size_t n, MsgReply *r, ProtoErr *e);

/* Fills r as an error reply to request id (message formatted like printf). */
void msg_reply_error(MsgReply *r, int64_t id, ProtoCode code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Cuts s (NUL-terminated) at its first byte that is not part of valid UTF-8, so that it can be
 * encoded: use it on text from files or after a truncating snprintf. */
void msg_utf8_trim(char *s);

/* Generic record codec, for tools and tests: encodes/decodes one record map. */
int msg_rec_encode(const RecDesc *d, const void *rec, MsgBuf *b, ProtoErr *e);
int msg_rec_decode(const RecDesc *d, const void *buf, size_t n, void *rec, ProtoErr *e);

/* ---- JSON ---------------------------------------------------------------------------------- */

/* One line of JSON (no newline) for `mos watch --jsonl`: the same map as on the wire with
 * "topic" added; f32 arrays as number arrays; non-finite numbers as null. malloc'ed; NULL on
 * allocation failure. */
char *msg_json(const Msg *m);
char *msg_reply_json(const MsgReply *r);
char *msg_rec_json(const RecDesc *d, const void *rec);   /* one record, as its map */

#endif
