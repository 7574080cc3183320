/* Decoding: a structural scan of the raw bytes (every length inside the buffer, nesting and
 * container sizes bounded, exactly one object), then msgpack-c, then a descriptor-driven walk
 * that checks kinds and bounds and copies into the caller's struct. Unknown keys are skipped.
 * Invariant: any input gives 0 or -1 with a message; nothing is read past buf + n. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "msg_internal.h"

/* ---- structural scan ---------------------------------------------------------------------- */

static uint64_t be_read(const unsigned char *p, int k)
{
    uint64_t v = 0;
    for (int i = 0; i < k; i++)
        v = (v << 8) | p[i];
    return v;
}

/* Reads one object header at p[0..left): sets *hdr (header bytes, possibly > left when the
 * header is cut), *body (payload bytes for str/bin/ext and fixed scalars) and *items (elements
 * a container holds). -1 if malformed. */
static int scan_header(const unsigned char *p, size_t left, size_t *hdr, uint64_t *body,
                       uint64_t *items)
{
    unsigned c = p[0];
    *hdr = 1, *body = 0, *items = 0;
    if (c <= 0x7f || c >= 0xe0 || c == 0xc0 || c == 0xc2 || c == 0xc3)
        return 0;
    if (c >= 0x80 && c <= 0x8f) { *items = 2u * (c & 0x0f); return 0; }
    if (c >= 0x90 && c <= 0x9f) { *items = c & 0x0f; return 0; }
    if (c >= 0xa0 && c <= 0xbf) { *body = c & 0x1f; return 0; }
    static const signed char lenbytes[32] = {
        /* c4 bin8..c6 */ 1, 2, 4, /* c7 ext8..c9 */ 1, 2, 4, /* ca f32, cb f64 */ -4, -8,
        /* cc..cf uint */ -1, -2, -4, -8, /* d0..d3 int */ -1, -2, -4, -8,
        /* d4..d8 fixext */ -2, -3, -5, -9, -17, /* d9..db str */ 1, 2, 4,
        /* dc, dd array */ 2, 4, /* de, df map */ 2, 4 };
    if (c < 0xc4)
        return -1;                                   /* 0xc1: never used */
    int k = lenbytes[c - 0xc4];
    if (k < 0) { *body = (uint64_t)-k; return 0; }
    *hdr = 1 + (size_t)k;
    if (left < *hdr)
        return 0;                                    /* the caller sees hdr > left */
    uint64_t len = be_read(p + 1, k);
    if (c >= 0xc7 && c <= 0xc9)
        *body = len + 1;                             /* ext: type byte + data */
    else if (c >= 0xdc && c <= 0xdd)
        *items = len;
    else if (c >= 0xde)
        *items = 2 * len;
    else
        *body = len;
    return 0;
}

int msg_scan_prefix(const void *buf, size_t n, size_t *used, ProtoErr *e)
{
    const unsigned char *p = buf;
    uint64_t left[SCAN_MAX_DEPTH + 1];
    int depth = 0;
    size_t pos = 0;
    left[0] = 1;
    for (;;) {
        while (depth >= 0 && left[depth] == 0)
            depth--;
        if (depth < 0)
            break;
        left[depth]--;
        if (pos >= n)
            return proto_err(e, "truncated message at byte %zu", pos), 0;
        size_t hdr;
        uint64_t body, items;
        if (scan_header(p + pos, n - pos, &hdr, &body, &items) < 0)
            return proto_err(e, "malformed msgpack at byte %zu", pos);
        if (hdr > n - pos)
            return proto_err(e, "truncated message at byte %zu", pos), 0;
        pos += hdr;
        if (body > n - pos)
            return proto_err(e, "length %llu past the end at byte %zu",
                             (unsigned long long)body, pos), 0;
        pos += (size_t)body;
        if (items == 0)
            continue;
        if (items > 2ull * SCAN_MAX_ITEMS)
            return proto_err(e, "container of %llu items at byte %zu is over the limit",
                             (unsigned long long)items, pos);
        if (items > n - pos)
            return proto_err(e, "container of %llu items at byte %zu exceeds the message",
                             (unsigned long long)items, pos), 0;
        if (depth + 1 > SCAN_MAX_DEPTH)
            return proto_err(e, "nesting deeper than %d at byte %zu", SCAN_MAX_DEPTH, pos);
        left[++depth] = items;
    }
    *used = pos;
    return 1;
}

int msg_scan(const void *buf, size_t n, ProtoErr *e)
{
    size_t used = 0;
    if (n > PROTO_MSG_MAX)
        return proto_err(e, "message of %zu bytes > %u", n, PROTO_MSG_MAX);
    if (msg_scan_prefix(buf, n, &used, e) != 1)
        return -1;
    if (used != n)
        return proto_err(e, "%zu trailing bytes after the message", n - used);
    return 0;
}

/* ---- object access ------------------------------------------------------------------------ */

static const msgpack_object *map_get(const msgpack_object *map, const char *key)
{
    size_t n = strlen(key);
    for (uint32_t i = 0; i < map->via.map.size; i++) {
        const msgpack_object *k = &map->via.map.ptr[i].key;
        if (k->type == MSGPACK_OBJECT_STR && k->via.str.size == n &&
            memcmp(k->via.str.ptr, key, n) == 0)
            return &map->via.map.ptr[i].val;
    }
    return NULL;
}

static int get_i64(const msgpack_object *o, int64_t *out, Path *p, ProtoErr *e)
{
    if (o->type == MSGPACK_OBJECT_POSITIVE_INTEGER) {
        if (o->via.u64 > (uint64_t)INT64_MAX)
            return proto_err(e, "%s: integer out of range", p->s);
        *out = (int64_t)o->via.u64;
        return 0;
    }
    if (o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER) {
        *out = o->via.i64;
        return 0;
    }
    return proto_err(e, "%s: expected an integer", p->s);
}

static int get_f64(const msgpack_object *o, double *out, Path *p, ProtoErr *e)
{
    if (o->type == MSGPACK_OBJECT_FLOAT32 || o->type == MSGPACK_OBJECT_FLOAT64) {
        *out = o->via.f64;
        return 0;
    }
    if (o->type == MSGPACK_OBJECT_POSITIVE_INTEGER) {
        *out = (double)o->via.u64;
        return 0;
    }
    if (o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER) {
        *out = (double)o->via.i64;
        return 0;
    }
    return proto_err(e, "%s: expected a number", p->s);
}

static int get_str(const msgpack_object *o, char *out, uint32_t max, Path *p, ProtoErr *e)
{
    if (o->type != MSGPACK_OBJECT_STR)
        return proto_err(e, "%s: expected a string", p->s);
    uint32_t n = o->via.str.size;
    if (n > max)
        return proto_err(e, "%s: string of %u bytes > %u", p->s, n, max);
    if (memchr(o->via.str.ptr, '\0', n))
        return proto_err(e, "%s: string contains a NUL byte", p->s);
    if (!utf8_valid((const unsigned char *)o->via.str.ptr, n))
        return proto_err(e, "%s: string is not valid UTF-8", p->s);
    memcpy(out, o->via.str.ptr, n);
    out[n] = '\0';
    return 0;
}

static int get_f32s(const msgpack_object *o, float *out, uint32_t *count, uint32_t max,
                    Path *p, ProtoErr *e)
{
    if (o->type != MSGPACK_OBJECT_BIN)
        return proto_err(e, "%s: expected bin (little-endian f32)", p->s);
    uint32_t n = o->via.bin.size;
    if (n % 4 != 0)
        return proto_err(e, "%s: bin of %u bytes is not a whole number of f32", p->s, n);
    if (n / 4 > max)
        return proto_err(e, "%s: %u floats > %u", p->s, n / 4, max);
    const unsigned char *b = (const unsigned char *)o->via.bin.ptr;
    for (uint32_t i = 0; i < n / 4; i++) {
        uint32_t u = (uint32_t)b[4 * i] | (uint32_t)b[4 * i + 1] << 8 |
                     (uint32_t)b[4 * i + 2] << 16 | (uint32_t)b[4 * i + 3] << 24;
        memcpy(&out[i], &u, 4);
    }
    *count = n / 4;
    return 0;
}

/* ---- records ------------------------------------------------------------------------------ */

static int dec_rec(const msgpack_object *o, const RecDesc *d, void *rec, Path *p, ProtoErr *e);

static int dec_array(const msgpack_object *o, const FieldDesc *f, char *at, uint32_t *count,
                     Path *p, ProtoErr *e)
{
    if (o->type != MSGPACK_OBJECT_ARRAY)
        return proto_err(e, "%s: expected an array", p->s);
    uint32_t n = o->via.array.size;
    if (n > f->max)
        return proto_err(e, "%s: %u elements > %u", p->s, n, f->max);
    for (uint32_t i = 0; i < n; i++) {
        size_t old = path_push(p, "[%u]", i);
        int rc = f->kind == FK_I64S
            ? get_i64(&o->via.array.ptr[i], (int64_t *)at + i, p, e)
            : dec_rec(&o->via.array.ptr[i], f->sub, at + (size_t)i * f->sub->size, p, e);
        if (rc < 0)
            return -1;
        path_pop(p, old);
    }
    *count = n;
    return 0;
}

static int dec_field(const msgpack_object *o, const FieldDesc *f, void *rec, Path *p,
                     ProtoErr *e)
{
    char *at = (char *)rec + f->off;
    uint32_t *count = f->count_off >= 0 ? (uint32_t *)((char *)rec + f->count_off) : NULL;
    switch (f->kind) {
    case FK_I64: return get_i64(o, (int64_t *)at, p, e);
    case FK_F64: return get_f64(o, (double *)at, p, e);
    case FK_BOOL:
        if (o->type != MSGPACK_OBJECT_BOOLEAN)
            return proto_err(e, "%s: expected true or false", p->s);
        *(bool *)at = o->via.boolean;
        return 0;
    case FK_STR:  return get_str(o, at, f->max, p, e);
    case FK_F32S: return get_f32s(o, (float *)at, count, f->max, p, e);
    case FK_I64S:
    case FK_RECS: return dec_array(o, f, at, count, p, e);
    case FK_REC:  return dec_rec(o, f->sub, at, p, e);
    default:      return proto_err(e, "%s: bad field kind", p->s);
    }
}

static int field_find(const RecDesc *d, const char *s, uint32_t n)
{
    for (int i = 0; i < d->nfields; i++)
        if (strlen(d->fields[i].name) == n && memcmp(d->fields[i].name, s, n) == 0)
            return i;
    return -1;
}

/* Decodes map o into rec (zeroed first). nil counts as absent. Keys must be strings. */
static int dec_rec(const msgpack_object *o, const RecDesc *d, void *rec, Path *p, ProtoErr *e)
{
    bool seen[64] = { false };
    if (o->type != MSGPACK_OBJECT_MAP)
        return proto_err(e, "%s: expected a map", p->s);
    memset(rec, 0, d->size);
    for (uint32_t i = 0; i < o->via.map.size; i++) {
        const msgpack_object_kv *kv = &o->via.map.ptr[i];
        if (kv->key.type != MSGPACK_OBJECT_STR)
            return proto_err(e, "%s: map key is not a string", p->s);
        int fi = field_find(d, kv->key.via.str.ptr, kv->key.via.str.size);
        if (fi < 0 || kv->val.type == MSGPACK_OBJECT_NIL)
            continue;
        const FieldDesc *f = &d->fields[fi];
        size_t old = path_push(p, ".%s", f->name);
        if (seen[fi])
            return proto_err(e, "%s: duplicate key", p->s);
        if (dec_field(&kv->val, f, rec, p, e) < 0)
            return -1;
        seen[fi] = true;
        if (f->has_off >= 0)
            *(bool *)((char *)rec + f->has_off) = true;
        path_pop(p, old);
    }
    for (int i = 0; i < d->nfields; i++)
        if (!seen[i] && d->fields[i].has_off < 0)
            return proto_err(e, "%s: missing required key '%s'", p->s, d->fields[i].name);
    return 0;
}

/* ---- entry points ------------------------------------------------------------------------- */

/* Scans and unpacks buf into u (the caller destroys u); checks the top level is a map. */
static int unpack_map(const void *buf, size_t n, msgpack_unpacked *u, const char *what,
                      ProtoErr *e)
{
    if (msg_scan(buf, n, e) < 0) {
        char tmp[PROTO_ERR_LEN];
        snprintf(tmp, sizeof tmp, "%s", e ? e->msg : "");
        return proto_err(e, "%s: %s", what, tmp);
    }
    size_t off = 0;
    if (msgpack_unpack_next(u, buf, n, &off) != MSGPACK_UNPACK_SUCCESS)
        return proto_err(e, "%s: msgpack-c could not unpack the message", what);
    if (u->data.type != MSGPACK_OBJECT_MAP)
        return proto_err(e, "%s: expected a map at the top level", what);
    return 0;
}

/* 0 when `v` is a version this code reads; -1 when missing or not an integer; -2 when it is
 * a version this code does not know. */
static int check_version(const msgpack_object *map, const char *what, ProtoErr *e)
{
    const msgpack_object *v = map_get(map, "v");
    if (!v)
        return proto_err(e, "%s: missing required key 'v'", what);
    Path p = { .len = 0 };
    path_push(&p, "%s.v", what);
    int64_t ver = 0;
    if (get_i64(v, &ver, &p, e) < 0)
        return -1;
    if (ver > PROTO_VERSION)
        return proto_err(e, "%s: protocol version %lld is newer than this mos (%d): upgrade",
                         what, (long long)ver, PROTO_VERSION), -2;
    if (ver < 1)
        return proto_err(e, "%s: bad protocol version %lld", what, (long long)ver), -2;
    return 0;
}

int msg_rec_decode(const RecDesc *d, const void *buf, size_t n, void *rec, ProtoErr *e)
{
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    Path p = { .len = 0 };
    path_push(&p, "%s", d->name);
    int rc = unpack_map(buf, n, &u, d->name, e);
    if (rc == 0)
        rc = dec_rec(&u.data, d, rec, &p, e);
    msgpack_unpacked_destroy(&u);
    return rc;
}

static int dec_body(const msgpack_object *top, Msg *m, Path *p, ProtoErr *e)
{
    MsgHeader h;
    if (dec_rec(top, &msg_desc_Header, &h, p, e) < 0)
        return -1;
    if (msg_type_parse(h.type, strlen(h.type), &m->type) < 0)
        return proto_err(e, "message: unknown type '%s'", h.type);
    m->seq = h.seq;
    m->ts = h.ts;
    memcpy(m->worker, h.worker, sizeof m->worker);
    const msgpack_object *body = map_get(top, "body");
    path_pop(p, 0);
    path_push(p, "%s", h.type);
    if (!body)
        return proto_err(e, "%s: missing required key 'body'", p->s);
    return dec_rec(body, msg_type_rec(m->type), &m->u, p, e);
}

int msg_decode(const void *buf, size_t n, Msg *m, ProtoErr *e)
{
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    Path p = { .len = 0 };
    path_push(&p, "message");
    int rc = unpack_map(buf, n, &u, "message", e);
    if (rc == 0)
        rc = check_version(&u.data, "message", e);
    if (rc == 0)
        rc = dec_body(&u.data, m, &p, e);
    msgpack_unpacked_destroy(&u);
    return rc;
}

/* Per-command argument rules. */
static ProtoCode cmd_check_args(const Cmd *c, ProtoErr *e)
{
    const MsgCmd *a = &c->args;
    if (c->kind == CMD_TARGET) {
        if (!a->has_target_ms)
            return proto_err(e, "target: missing target_ms"), PROTO_E_BAD_ARG;
        if (!isfinite(a->target_ms) || a->target_ms <= 0)
            return proto_err(e, "target: target_ms must be a positive number"), PROTO_E_BAD_ARG;
    }
    if (c->kind == CMD_EXTRACT) {
        if (a->has_arch == a->has_index)
            return proto_err(e, "extract: give exactly one of arch, index"), PROTO_E_BAD_ARG;
        if (a->has_index && a->index < 0)
            return proto_err(e, "extract: index must be >= 0"), PROTO_E_BAD_ARG;
        if (a->has_arch && a->arch[0] == '\0')
            return proto_err(e, "extract: arch is empty"), PROTO_E_BAD_ARG;
    }
    return PROTO_OK;
}

static ProtoCode cmd_decode_map(const msgpack_object *top, Cmd *c, ProtoErr *e)
{
    const msgpack_object *id = map_get(top, "id");
    Path p = { .len = 0 };
    path_push(&p, "cmd.id");
    int64_t idv = -1;
    if (id && get_i64(id, &idv, &p, NULL) == 0)
        c->args.id = idv;                      /* known early so that errors can echo it */
    int vrc = check_version(top, "cmd", e);
    if (vrc < 0)
        return vrc == -2 ? PROTO_E_VERSION : PROTO_E_BAD_REQUEST;
    const msgpack_object *name = map_get(top, "cmd");
    if (!name)
        return proto_err(e, "cmd: missing required key 'cmd'"), PROTO_E_BAD_REQUEST;
    if (name->type != MSGPACK_OBJECT_STR)
        return proto_err(e, "cmd.cmd: expected a string"), PROTO_E_BAD_REQUEST;
    if (msg_cmd_parse(name->via.str.ptr, name->via.str.size, &c->kind) < 0)
        return proto_err(e, "cmd: unknown command '%.*s'",
                         (int)(name->via.str.size > 64 ? 64 : name->via.str.size),
                         name->via.str.ptr), PROTO_E_UNKNOWN_CMD;
    path_pop(&p, 0);
    path_push(&p, "%s", msg_cmd_name(c->kind));
    if (dec_rec(top, &msg_desc_Cmd, &c->args, &p, e) < 0) {
        c->args.id = id && get_i64(id, &idv, &p, NULL) == 0 ? idv : -1;
        return PROTO_E_BAD_REQUEST;
    }
    return cmd_check_args(c, e);
}

ProtoCode msg_cmd_decode(const void *buf, size_t n, Cmd *c, ProtoErr *e)
{
    memset(c, 0, sizeof *c);
    c->args.id = -1;
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    ProtoCode rc = PROTO_E_BAD_REQUEST;
    if (unpack_map(buf, n, &u, "cmd", e) == 0)
        rc = cmd_decode_map(&u.data, c, e);
    msgpack_unpacked_destroy(&u);
    return rc;
}

int msg_reply_decode(const void *buf, size_t n, MsgReply *r, ProtoErr *e)
{
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    Path p = { .len = 0 };
    path_push(&p, "reply");
    int rc = unpack_map(buf, n, &u, "reply", e);
    if (rc == 0)
        rc = check_version(&u.data, "reply", e);
    if (rc == 0)
        rc = dec_rec(&u.data, &msg_desc_Reply, r, &p, e);
    msgpack_unpacked_destroy(&u);
    return rc;
}
