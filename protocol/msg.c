/* msgpack encode/decode of every record in schema.h, driven by descriptor tables generated
 * from the schema (no per-message code). Input is first checked by a structural scan (lengths
 * within the buffer, bounded nesting and container sizes) so msgpack-c never sees a bomb.
 * Does no I/O and keeps no state. Invariant: on return nothing points into the input. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <msgpack.h>

#include "msg.h"
#include "msg_internal.h"

/* ---- descriptor tables ------------------------------------------------------------------- */

#define CNT_I64(T, name)  -1
#define CNT_F64(T, name)  -1
#define CNT_BOOL(T, name) -1
#define CNT_STR(T, name)  -1
#define CNT_REC(T, name)  -1
#define CNT_F32S(T, name) (long)offsetof(T, name##_n)
#define CNT_I64S(T, name) (long)offsetof(T, name##_n)
#define CNT_RECS(T, name) (long)offsetof(T, name##_n)
#define HASOFF_REQ(T, name) -1
#define HASOFF_OPT(T, name) (long)offsetof(T, has_##name)
#define SUB_I64(sub)  NULL
#define SUB_F64(sub)  NULL
#define SUB_BOOL(sub) NULL
#define SUB_STR(sub)  NULL
#define SUB_F32S(sub) NULL
#define SUB_I64S(sub) NULL
#define SUB_REC(sub)  &msg_desc_##sub
#define SUB_RECS(sub) &msg_desc_##sub

#define FIELD_DESC(T, name, kind, sub, max, pres, doc) \
    { #name, FK_##kind, offsetof(T, name), CNT_##kind(T, name), HASOFF_##pres(T, name), \
      (uint32_t)(max), SUB_##kind(sub), doc },
#define REC_FIELDS(lower, Camel, doc) \
    static const FieldDesc fields_##lower[] = { PROTO_FIELDS_##lower(FIELD_DESC, Msg##Camel) };
PROTO_RECORDS(REC_FIELDS)
#define REC_DESC(lower, Camel, doc) \
    const RecDesc msg_desc_##Camel = { #lower, sizeof(Msg##Camel), fields_##lower, \
        (int)(sizeof fields_##lower / sizeof fields_##lower[0]), doc };
PROTO_RECORDS(REC_DESC)
#define REC_PTR(lower, Camel, doc) &msg_desc_##Camel,
const RecDesc *const msg_records[] = { PROTO_RECORDS(REC_PTR) };
const int msg_record_count = (int)(sizeof msg_records / sizeof msg_records[0]);

/* ---- names -------------------------------------------------------------------------------- */

#define NAME_STR3(UPPER, lower, x) #lower,
static const char *const type_names[MSG_TYPE_COUNT] = { PROTO_MESSAGES(NAME_STR3) };
static const char *const cmd_names[CMD_KIND_COUNT] = { PROTO_COMMANDS(NAME_STR3) };
static const char *const code_names[PROTO_CODE_COUNT] = { "ok", PROTO_ERRORS(NAME_STR3) };
#define TYPE_REC(UPPER, lower, Camel) &msg_desc_##Camel,
static const RecDesc *const type_recs[MSG_TYPE_COUNT] = { PROTO_MESSAGES(TYPE_REC) };

const char *msg_type_name(MsgType t) { return (unsigned)t < MSG_TYPE_COUNT ? type_names[t] : "?"; }
const char *msg_cmd_name(CmdKind k) { return (unsigned)k < CMD_KIND_COUNT ? cmd_names[k] : "?"; }
const char *msg_code_name(ProtoCode c)
{
    return (unsigned)c < PROTO_CODE_COUNT ? code_names[c] : "?";
}
const RecDesc *msg_type_rec(MsgType t)
{
    return (unsigned)t < MSG_TYPE_COUNT ? type_recs[t] : NULL;
}

static int name_find(const char *const *names, int count, const char *s, size_t n)
{
    for (int i = 0; i < count; i++)
        if (strlen(names[i]) == n && memcmp(names[i], s, n) == 0)
            return i;
    return -1;
}

int msg_type_parse(const char *s, size_t n, MsgType *out)
{
    int i = name_find(type_names, MSG_TYPE_COUNT, s, n);
    if (i >= 0)
        *out = (MsgType)i;
    return i >= 0 ? 0 : -1;
}

int msg_cmd_parse(const char *s, size_t n, CmdKind *out)
{
    int i = name_find(cmd_names, CMD_KIND_COUNT, s, n);
    if (i >= 0)
        *out = (CmdKind)i;
    return i >= 0 ? 0 : -1;
}

int msg_code_parse(const char *s, size_t n, ProtoCode *out)
{
    int i = name_find(code_names, PROTO_CODE_COUNT, s, n);
    if (i >= 0)
        *out = (ProtoCode)i;
    return i >= 0 ? 0 : -1;
}

/* ---- errors and paths --------------------------------------------------------------------- */

int proto_err(ProtoErr *e, const char *fmt, ...)
{
    if (e) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(e->msg, sizeof e->msg, fmt, ap);
        va_end(ap);
    }
    return -1;
}

size_t path_push(Path *p, const char *fmt, ...)
{
    size_t old = p->len;
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(p->s + p->len, sizeof p->s - p->len, fmt, ap);
    va_end(ap);
    if (k > 0)
        p->len += (size_t)k < sizeof p->s - p->len ? (size_t)k : sizeof p->s - p->len - 1;
    return old;
}

void path_pop(Path *p, size_t old)
{
    p->len = old;
    p->s[old] = '\0';
}

static void path_init(Path *p, const char *root)
{
    p->len = 0;
    p->s[0] = '\0';
    path_push(p, "%s", root);
}

/* ---- UTF-8 -------------------------------------------------------------------------------- */

/* Length of the longest prefix of s that is strict UTF-8 (no overlongs, no surrogates,
 * <= U+10FFFF), as Python's decoder demands. */
static size_t utf8_prefix(const unsigned char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        unsigned c = s[i];
        size_t k;
        uint32_t cp, min;
        if (c < 0x80) { i++; continue; }
        else if ((c & 0xe0) == 0xc0) { k = 1; cp = c & 0x1f; min = 0x80; }
        else if ((c & 0xf0) == 0xe0) { k = 2; cp = c & 0x0f; min = 0x800; }
        else if ((c & 0xf8) == 0xf0) { k = 3; cp = c & 0x07; min = 0x10000; }
        else return i;
        if (n - i <= k)
            return i;
        for (size_t j = 1; j <= k; j++) {
            if ((s[i + j] & 0xc0) != 0x80)
                return i;
            cp = (cp << 6) | (s[i + j] & 0x3f);
        }
        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return i;
        i += k + 1;
    }
    return n;
}

bool utf8_valid(const unsigned char *s, size_t n) { return utf8_prefix(s, n) == n; }

void msg_utf8_trim(char *s)
{
    s[utf8_prefix((const unsigned char *)s, strlen(s))] = '\0';
}

/* ---- the output buffer -------------------------------------------------------------------- */

void msg_buf_init(MsgBuf *b) { memset(b, 0, sizeof *b); }

void msg_buf_done(MsgBuf *b)
{
    free(b->data);
    memset(b, 0, sizeof *b);
}

static int buf_write(void *data, const char *p, size_t n)
{
    Enc *enc = data;
    MsgBuf *b = enc->buf;
    if (enc->failed)
        return -1;
    if (b->len + n > PROTO_MSG_MAX) {
        enc->failed = 1;
        return -1;
    }
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->len + n)
            cap *= 2;
        char *d = realloc(b->data, cap);
        if (!d) {
            enc->failed = 1;
            return -1;
        }
        b->data = d;
        b->cap = cap;
    }
    memcpy(b->data + b->len, p, n);
    b->len += n;
    return 0;
}

void enc_begin(Enc *enc, MsgBuf *b)
{
    enc->buf = b;
    enc->failed = 0;
    b->len = 0;
    msgpack_packer_init(&enc->pk, enc, buf_write);
}

int enc_end(Enc *enc, ProtoErr *e)
{
    if (enc->failed)
        return proto_err(e, "encode: out of memory or message over %u bytes", PROTO_MSG_MAX);
    return 0;
}

void enc_key(Enc *enc, const char *key)
{
    msgpack_pack_str_with_body(&enc->pk, key, strlen(key));
}

/* ---- encoding ----------------------------------------------------------------------------- */

static int enc_rec_fields(Enc *enc, const RecDesc *d, const void *rec, Path *p, ProtoErr *e);

static int enc_str(Enc *enc, const FieldDesc *f, const char *s, Path *p, ProtoErr *e)
{
    size_t n = strnlen(s, (size_t)f->max + 1);
    if (n > f->max)
        return proto_err(e, "%s: string not terminated within %u bytes", p->s, f->max);
    if (!utf8_valid((const unsigned char *)s, n))
        return proto_err(e, "%s: string is not valid UTF-8", p->s);
    msgpack_pack_str_with_body(&enc->pk, s, n);
    return 0;
}

static void enc_f32s(Enc *enc, const float *v, uint32_t n)
{
    unsigned char chunk[1024];
    msgpack_pack_bin(&enc->pk, (size_t)n * 4);
    for (uint32_t i = 0; i < n; i += 256) {
        uint32_t k = n - i < 256 ? n - i : 256;
        for (uint32_t j = 0; j < k; j++) {
            uint32_t u;
            memcpy(&u, &v[i + j], 4);
            for (int b = 0; b < 4; b++)
                chunk[4 * j + (uint32_t)b] = (unsigned char)(u >> (8 * b));
        }
        msgpack_pack_bin_body(&enc->pk, chunk, (size_t)k * 4);
    }
}

static int enc_recs(Enc *enc, const FieldDesc *f, const char *at, uint32_t n, Path *p,
                    ProtoErr *e)
{
    msgpack_pack_array(&enc->pk, n);
    for (uint32_t i = 0; i < n; i++) {
        size_t old = path_push(p, "[%u]", i);
        const void *sub = at + (size_t)i * f->sub->size;
        msgpack_pack_map(&enc->pk, (size_t)msg_rec_count_present(f->sub, sub));
        if (enc_rec_fields(enc, f->sub, sub, p, e) < 0)
            return -1;
        path_pop(p, old);
    }
    return 0;
}

static int enc_field(Enc *enc, const FieldDesc *f, const void *rec, Path *p, ProtoErr *e)
{
    const char *at = (const char *)rec + f->off;
    uint32_t n = f->count_off >= 0 ? field_count(f, rec) : 0;
    if (f->count_off >= 0 && n > f->max)
        return proto_err(e, "%s: %u elements > %u", p->s, n, f->max);
    switch (f->kind) {
    case FK_I64:  msgpack_pack_int64(&enc->pk, *(const int64_t *)at); return 0;
    case FK_F64:  msgpack_pack_double(&enc->pk, *(const double *)at); return 0;
    case FK_BOOL:
        if (*(const bool *)at)
            msgpack_pack_true(&enc->pk);
        else
            msgpack_pack_false(&enc->pk);
        return 0;
    case FK_STR:  return enc_str(enc, f, at, p, e);
    case FK_F32S: enc_f32s(enc, (const float *)at, n); return 0;
    case FK_I64S:
        msgpack_pack_array(&enc->pk, n);
        for (uint32_t i = 0; i < n; i++)
            msgpack_pack_int64(&enc->pk, ((const int64_t *)at)[i]);
        return 0;
    case FK_REC:
        msgpack_pack_map(&enc->pk, (size_t)msg_rec_count_present(f->sub, at));
        return enc_rec_fields(enc, f->sub, at, p, e);
    case FK_RECS: return enc_recs(enc, f, at, n, p, e);
    default:      return proto_err(e, "%s: bad field kind", p->s);
    }
}

int msg_rec_count_present(const RecDesc *d, const void *rec)
{
    int n = 0;
    for (int i = 0; i < d->nfields; i++)
        n += field_present(&d->fields[i], rec);
    return n;
}

/* Packs the present fields of rec as key/value pairs (the caller packed the map header). */
static int enc_rec_fields(Enc *enc, const RecDesc *d, const void *rec, Path *p, ProtoErr *e)
{
    for (int i = 0; i < d->nfields; i++) {
        const FieldDesc *f = &d->fields[i];
        if (!field_present(f, rec))
            continue;
        size_t old = path_push(p, ".%s", f->name);
        enc_key(enc, f->name);
        if (enc_field(enc, f, rec, p, e) < 0)
            return -1;
        path_pop(p, old);
    }
    return 0;
}

int msg_rec_encode(const RecDesc *d, const void *rec, MsgBuf *b, ProtoErr *e)
{
    Enc enc;
    Path p;
    path_init(&p, d->name);
    enc_begin(&enc, b);
    msgpack_pack_map(&enc.pk, (size_t)msg_rec_count_present(d, rec));
    if (enc_rec_fields(&enc, d, rec, &p, e) < 0)
        return -1;
    return enc_end(&enc, e);
}

int msg_encode(const Msg *m, MsgBuf *b, ProtoErr *e)
{
    if ((unsigned)m->type >= MSG_TYPE_COUNT)
        return proto_err(e, "encode: bad message type %d", (int)m->type);
    MsgHeader h = { .v = PROTO_VERSION, .seq = m->seq, .ts = m->ts };
    snprintf(h.type, sizeof h.type, "%s", type_names[m->type]);
    memcpy(h.worker, m->worker, sizeof h.worker);
    Enc enc;
    Path p;
    path_init(&p, type_names[m->type]);
    enc_begin(&enc, b);
    msgpack_pack_map(&enc.pk, (size_t)msg_rec_count_present(&msg_desc_Header, &h) + 1);
    if (enc_rec_fields(&enc, &msg_desc_Header, &h, &p, e) < 0)
        return -1;
    const RecDesc *d = type_recs[m->type];
    enc_key(&enc, "body");
    msgpack_pack_map(&enc.pk, (size_t)msg_rec_count_present(d, &m->u));
    if (enc_rec_fields(&enc, d, &m->u, &p, e) < 0)
        return -1;
    return enc_end(&enc, e);
}

int msg_cmd_encode(const Cmd *c, MsgBuf *b, ProtoErr *e)
{
    if ((unsigned)c->kind >= CMD_KIND_COUNT)
        return proto_err(e, "encode: bad command kind %d", (int)c->kind);
    Enc enc;
    Path p;
    path_init(&p, "cmd");
    enc_begin(&enc, b);
    msgpack_pack_map(&enc.pk, (size_t)msg_rec_count_present(&msg_desc_Cmd, &c->args) + 2);
    enc_key(&enc, "v");
    msgpack_pack_int64(&enc.pk, PROTO_VERSION);
    enc_key(&enc, "cmd");
    msgpack_pack_str_with_body(&enc.pk, cmd_names[c->kind], strlen(cmd_names[c->kind]));
    if (enc_rec_fields(&enc, &msg_desc_Cmd, &c->args, &p, e) < 0)
        return -1;
    return enc_end(&enc, e);
}

int msg_reply_encode(const MsgReply *r, MsgBuf *b, ProtoErr *e)
{
    Enc enc;
    Path p;
    path_init(&p, "reply");
    enc_begin(&enc, b);
    msgpack_pack_map(&enc.pk, (size_t)msg_rec_count_present(&msg_desc_Reply, r) + 1);
    enc_key(&enc, "v");
    msgpack_pack_int64(&enc.pk, PROTO_VERSION);
    if (enc_rec_fields(&enc, &msg_desc_Reply, r, &p, e) < 0)
        return -1;
    return enc_end(&enc, e);
}

void msg_reply_error(MsgReply *r, int64_t id, ProtoCode code, const char *fmt, ...)
{
    r->id = id;
    r->ok = false;
    r->has_error = true;
    r->has_status = false;
    r->has_snapshot = false;
    snprintf(r->error.code, sizeof r->error.code, "%s", msg_code_name(code));
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->error.msg, sizeof r->error.msg, fmt, ap);
    va_end(ap);
    msg_utf8_trim(r->error.msg);         /* truncation may have cut a character */
}
