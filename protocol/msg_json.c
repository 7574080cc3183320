/* JSON dump of messages and replies (for `mos watch --jsonl` and tools), driven by the same
 * descriptors as the msgpack codec: the JSON object has the wire map's keys, plus "topic".
 * Does not parse JSON. Invariant: the output is one line of valid JSON (non-finite -> null). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "msg_internal.h"

static json_t *json_rec(const RecDesc *d, const void *rec);

static json_t *json_num(double x)
{
    return isfinite(x) ? json_real(x) : json_null();
}

static json_t *json_field(const FieldDesc *f, const void *rec)
{
    const char *at = (const char *)rec + f->off;
    uint32_t n = f->count_off >= 0 ? field_count(f, rec) : 0;
    if (n > f->max)
        n = f->max;
    json_t *arr;
    switch (f->kind) {
    case FK_I64:  return json_integer((json_int_t)*(const int64_t *)at);
    case FK_F64:  return json_num(*(const double *)at);
    case FK_BOOL: return json_boolean(*(const bool *)at);
    case FK_STR:  return json_stringn(at, strnlen(at, f->max));
    case FK_REC:  return json_rec(f->sub, at);
    default:      break;
    }
    arr = json_array();
    for (uint32_t i = 0; arr && i < n; i++) {
        json_t *x = f->kind == FK_F32S ? json_num(((const float *)at)[i])
                  : f->kind == FK_I64S ? json_integer((json_int_t)((const int64_t *)at)[i])
                  : json_rec(f->sub, at + (size_t)i * f->sub->size);
        json_array_append_new(arr, x);
    }
    return arr;
}

static json_t *json_rec(const RecDesc *d, const void *rec)
{
    json_t *o = json_object();
    for (int i = 0; o && i < d->nfields; i++) {
        const FieldDesc *f = &d->fields[i];
        if (field_present(f, rec))
            json_object_set_new(o, f->name, json_field(f, rec));
    }
    return o;
}

static char *json_take(json_t *o)
{
    char *s = o ? json_dumps(o, JSON_COMPACT | JSON_ENSURE_ASCII) : NULL;
    json_decref(o);
    return s;
}

char *msg_json(const Msg *m)
{
    if ((unsigned)m->type >= MSG_TYPE_COUNT)
        return NULL;
    json_t *o = json_object();
    if (!o)
        return NULL;
    json_object_set_new(o, "topic", json_string(msg_type_name(m->type)));
    json_object_set_new(o, "v", json_integer(PROTO_VERSION));
    json_object_set_new(o, "type", json_string(msg_type_name(m->type)));
    json_object_set_new(o, "seq", json_integer((json_int_t)m->seq));
    json_object_set_new(o, "ts", json_num(m->ts));
    json_object_set_new(o, "worker", json_stringn(m->worker, strnlen(m->worker, PROTO_NAME_MAX)));
    json_object_set_new(o, "body", json_rec(msg_type_rec(m->type), &m->u));
    return json_take(o);
}

char *msg_reply_json(const MsgReply *r)
{
    json_t *o = json_rec(&msg_desc_Reply, r);
    if (o)
        json_object_set_new(o, "v", json_integer(PROTO_VERSION));
    return json_take(o);
}

char *msg_rec_json(const RecDesc *d, const void *rec)
{
    return json_take(json_rec(d, rec));
}
