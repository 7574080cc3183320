/* The message codec: every record of the schema survives encode -> decode with random values
 * (and the JSON dump is valid JSON); decoding rejects what the protocol says it rejects
 * (missing keys, wrong kinds, over-long strings, bad UTF-8, newer versions) and ignores
 * unknown keys; commands check their arguments and report the request id. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <cmocka.h>

#include <jansson.h>
#include <msgpack.h>

#include "msg.h"
#include "proto_rand.h"

static void assert_same(const RecDesc *d, const void *a, const void *b)
{
    char where[128] = "";
    if (!trec_equal(d, a, b, where, sizeof where))
        fail_msg("round trip changed %s", where);
}

static void every_message_round_trips(void **state)
{
    (void)state;
    TRng r = { 0x9e3779b97f4a7c15ull };
    Msg *in = malloc(sizeof *in), *out = malloc(sizeof *out);
    MsgBuf b;
    msg_buf_init(&b);
    ProtoErr e = { "" };
    for (int t = 0; t < MSG_TYPE_COUNT; t++) {
        for (int it = 0; it < 60; it++) {
            memset(in, 0, sizeof *in);
            in->type = (MsgType)t;
            in->seq = (int64_t)(trng_next(&r) >> 1);
            in->ts = trng_double(&r);
            trng_utf8(&r, in->worker, PROTO_NAME_MAX);
            trng_fill(&r, msg_type_rec(in->type), &in->u, 0);
            if (msg_encode(in, &b, &e) != 0)
                fail_msg("encode %s: %s", msg_type_name(in->type), e.msg);
            memset(out, 0xa5, sizeof *out);
            if (msg_decode(b.data, b.len, out, &e) != 0)
                fail_msg("decode %s: %s", msg_type_name(in->type), e.msg);
            assert_int_equal(out->type, in->type);
            assert_int_equal(out->seq, in->seq);
            assert_memory_equal(&out->ts, &in->ts, sizeof in->ts);
            assert_string_equal(out->worker, in->worker);
            assert_same(msg_type_rec(in->type), &in->u, &out->u);
            char *js = msg_json(out);
            assert_non_null(js);
            json_error_t je;
            json_t *j = json_loads(js, 0, &je);
            if (!j)
                fail_msg("msg_json %s is not JSON: %s", msg_type_name(in->type), je.text);
            assert_string_equal(json_string_value(json_object_get(j, "type")),
                                msg_type_name(in->type));
            json_decref(j);
            free(js);
        }
    }
    msg_buf_done(&b);
    free(in);
    free(out);
}

static void every_record_round_trips(void **state)
{
    (void)state;
    TRng r = { 12345 };
    MsgBuf b;
    msg_buf_init(&b);
    ProtoErr e = { "" };
    for (int i = 0; i < msg_record_count; i++) {
        const RecDesc *d = msg_records[i];
        assert_true(d->nfields >= 1 && d->nfields <= 64);     /* the decoder's seen-set */
        void *in = malloc(d->size), *out = malloc(d->size);
        for (int it = 0; it < 10; it++) {
            trng_fill(&r, d, in, 0);
            if (msg_rec_encode(d, in, &b, &e) != 0)
                fail_msg("encode %s: %s", d->name, e.msg);
            if (msg_rec_decode(d, b.data, b.len, out, &e) != 0)
                fail_msg("decode %s: %s", d->name, e.msg);
            assert_same(d, in, out);
        }
        free(in);
        free(out);
    }
    msg_buf_done(&b);
}

static void commands_round_trip_and_check_args(void **state)
{
    (void)state;
    MsgBuf b;
    msg_buf_init(&b);
    ProtoErr e = { "" };
    for (int k = 0; k < CMD_KIND_COUNT; k++) {
        Cmd c = { .kind = (CmdKind)k, .args = { .id = 1000 + k } }, out;
        if (k == CMD_TARGET)
            c.args.has_target_ms = true, c.args.target_ms = 150.5;
        if (k == CMD_EXTRACT)
            c.args.has_index = true, c.args.index = 2;
        assert_int_equal(msg_cmd_encode(&c, &b, &e), 0);
        if (msg_cmd_decode(b.data, b.len, &out, &e) != PROTO_OK)
            fail_msg("decode %s: %s", msg_cmd_name(c.kind), e.msg);
        assert_int_equal(out.kind, c.kind);
        assert_same(&msg_desc_Cmd, &c.args, &out.args);
    }
    /* a target without target_ms, an extract with both arch and index: bad_arg, id echoed */
    Cmd bad = { .kind = CMD_TARGET, .args = { .id = 77 } }, out;
    assert_int_equal(msg_cmd_encode(&bad, &b, &e), 0);
    assert_int_equal(msg_cmd_decode(b.data, b.len, &out, &e), PROTO_E_BAD_ARG);
    assert_int_equal(out.args.id, 77);
    assert_non_null(strstr(e.msg, "target_ms"));
    bad = (Cmd){ .kind = CMD_EXTRACT, .args = { .id = 78, .has_index = true, .has_arch = true,
                                                .arch = "x" } };
    assert_int_equal(msg_cmd_encode(&bad, &b, &e), 0);
    assert_int_equal(msg_cmd_decode(b.data, b.len, &out, &e), PROTO_E_BAD_ARG);
    assert_int_equal(out.args.id, 78);
    msg_buf_done(&b);
}

/* Packs a map from a tiny spec: pairs of (key, kind, value) built by hand. */
typedef struct Raw { msgpack_sbuffer sb; msgpack_packer pk; } Raw;

static void raw_begin(Raw *w, size_t pairs)
{
    msgpack_sbuffer_init(&w->sb);
    msgpack_packer_init(&w->pk, &w->sb, msgpack_sbuffer_write);
    msgpack_pack_map(&w->pk, pairs);
}

static void raw_str(Raw *w, const char *s) { msgpack_pack_str_with_body(&w->pk, s, strlen(s)); }

static void raw_cmd_header(Raw *w, int v, const char *cmd)
{
    raw_str(w, "v");
    msgpack_pack_int(&w->pk, v);
    raw_str(w, "cmd");
    raw_str(w, cmd);
}

static ProtoCode raw_cmd_decode(Raw *w, Cmd *c, ProtoErr *e)
{
    ProtoCode rc = msg_cmd_decode(w->sb.data, w->sb.size, c, e);
    msgpack_sbuffer_destroy(&w->sb);
    return rc;
}

static void decode_errors_name_the_problem(void **state)
{
    (void)state;
    Raw w;
    Cmd c;
    ProtoErr e = { "" };
    raw_begin(&w, 3);                              /* unknown keys are ignored */
    raw_cmd_header(&w, 1, "pause");
    raw_str(&w, "id");
    msgpack_pack_int(&w.pk, 5);
    assert_int_equal(raw_cmd_decode(&w, &c, &e), PROTO_OK);
    raw_begin(&w, 4);
    raw_cmd_header(&w, 1, "pause");
    raw_str(&w, "future_key");
    msgpack_pack_array(&w.pk, 0);
    raw_str(&w, "id");
    msgpack_pack_int(&w.pk, 6);
    assert_int_equal(raw_cmd_decode(&w, &c, &e), PROTO_OK);
    assert_int_equal(c.args.id, 6);
    raw_begin(&w, 2);                              /* missing id */
    raw_cmd_header(&w, 1, "pause");
    assert_int_equal(raw_cmd_decode(&w, &c, &e), PROTO_E_BAD_REQUEST);
    assert_non_null(strstr(e.msg, "missing required key 'id'"));
    assert_int_equal(c.args.id, -1);
    raw_begin(&w, 4);                              /* wrong kind */
    raw_cmd_header(&w, 1, "target");
    raw_str(&w, "id");
    msgpack_pack_int(&w.pk, 9);
    raw_str(&w, "target_ms");
    raw_str(&w, "fast");
    assert_int_equal(raw_cmd_decode(&w, &c, &e), PROTO_E_BAD_REQUEST);
    assert_non_null(strstr(e.msg, "target.target_ms: expected a number"));
    assert_int_equal(c.args.id, 9);
    raw_begin(&w, 3);                              /* newer version */
    raw_cmd_header(&w, 2, "pause");
    raw_str(&w, "id");
    msgpack_pack_int(&w.pk, 10);
    assert_int_equal(raw_cmd_decode(&w, &c, &e), PROTO_E_VERSION);
    assert_non_null(strstr(e.msg, "newer"));
    assert_int_equal(c.args.id, 10);
    raw_begin(&w, 3);                              /* unknown command */
    raw_cmd_header(&w, 1, "explode");
    raw_str(&w, "id");
    msgpack_pack_int(&w.pk, 11);
    assert_int_equal(raw_cmd_decode(&w, &c, &e), PROTO_E_UNKNOWN_CMD);
    assert_non_null(strstr(e.msg, "explode"));
    raw_begin(&w, 4);                              /* over-long and non-UTF-8 strings */
    raw_cmd_header(&w, 1, "extract");
    raw_str(&w, "id");
    msgpack_pack_int(&w.pk, 12);
    raw_str(&w, "arch");
    char big[PROTO_ARCH_MAX + 2];
    memset(big, 'a', sizeof big);
    msgpack_pack_str_with_body(&w.pk, big, sizeof big);
    assert_int_equal(raw_cmd_decode(&w, &c, &e), PROTO_E_BAD_REQUEST);
    assert_non_null(strstr(e.msg, "extract.arch: string of 513 bytes > 511"));
    raw_begin(&w, 4);
    raw_cmd_header(&w, 1, "extract");
    raw_str(&w, "id");
    msgpack_pack_int(&w.pk, 13);
    raw_str(&w, "arch");
    msgpack_pack_str_with_body(&w.pk, "a\xc0\xafz", 4);
    assert_int_equal(raw_cmd_decode(&w, &c, &e), PROTO_E_BAD_REQUEST);
    assert_non_null(strstr(e.msg, "UTF-8"));
}

static void message_errors(void **state)
{
    (void)state;
    Msg *m = calloc(1, sizeof *m);
    MsgBuf b;
    msg_buf_init(&b);
    ProtoErr e = { "" };
    m->type = MSG_TRAIN;
    m->seq = 3;
    snprintf(m->u.train.arch, sizeof m->u.train.arch, "too-long-\xff");
    assert_int_equal(msg_encode(m, &b, &e), -1);   /* the encoder refuses bad UTF-8 too */
    assert_non_null(strstr(e.msg, "train.arch"));
    snprintf(m->u.train.arch, sizeof m->u.train.arch, "arch");
    m->u.front.points_n = PROTO_FRONT_MAX + 1;
    m->type = MSG_FRONT;
    assert_int_equal(msg_encode(m, &b, &e), -1);
    assert_non_null(strstr(e.msg, "front.points"));
    /* a body without a required key */
    Raw w;
    raw_begin(&w, 6);
    raw_str(&w, "v"); msgpack_pack_int(&w.pk, 1);
    raw_str(&w, "type"); raw_str(&w, "log");
    raw_str(&w, "seq"); msgpack_pack_int(&w.pk, 1);
    raw_str(&w, "ts"); msgpack_pack_double(&w.pk, 1.5);
    raw_str(&w, "worker"); raw_str(&w, "w");
    raw_str(&w, "body"); msgpack_pack_map(&w.pk, 1); raw_str(&w, "level"); raw_str(&w, "info");
    assert_int_equal(msg_decode(w.sb.data, w.sb.size, m, &e), -1);
    assert_string_equal(e.msg, "log: missing required key 'text'");
    msgpack_sbuffer_destroy(&w.sb);
    msg_buf_done(&b);
    free(m);
}

/* Every field present and at its bound (strings of 4-byte characters filling their limit). */
static void fill_max(const RecDesc *d, void *rec)
{
    for (int i = 0; i < d->nfields; i++) {
        const FieldDesc *f = &d->fields[i];
        char *at = (char *)rec + f->off;
        if (f->has_off >= 0)
            *(bool *)((char *)rec + f->has_off) = true;
        if (f->count_off >= 0)
            *(uint32_t *)((char *)rec + f->count_off) = f->max;
        switch (f->kind) {
        case FK_I64:  *(int64_t *)at = INT64_MIN; break;
        case FK_F64:  *(double *)at = -1.0 / 3.0; break;
        case FK_STR:
            for (uint32_t k = 0; k + 4 <= f->max; k += 4)
                memcpy(at + k, "\xf0\x9f\x98\x80", 4);
            memset(at + f->max / 4 * 4, 'x', f->max % 4);
            at[f->max] = '\0';
            break;
        case FK_I64S:
            for (uint32_t k = 0; k < f->max; k++)
                ((int64_t *)at)[k] = INT64_MAX - k;
            break;
        case FK_REC:  fill_max(f->sub, at); break;
        case FK_RECS:
            for (uint32_t k = 0; k < f->max; k++)
                fill_max(f->sub, at + (size_t)k * f->sub->size);
            break;
        default: break;
        }
    }
}

/* The largest possible reply (a snapshot with everything at its bound) still fits in one
 * message, so a worker can always answer; it round-trips. */
static void largest_records_fit_in_a_message(void **state)
{
    (void)state;
    MsgBuf b;
    msg_buf_init(&b);
    ProtoErr e = { "" };
    for (int i = 0; i < msg_record_count; i++) {
        const RecDesc *d = msg_records[i];
        void *in = calloc(1, d->size), *out = calloc(1, d->size);
        fill_max(d, in);
        if (msg_rec_encode(d, in, &b, &e) != 0)
            fail_msg("largest %s does not encode: %s", d->name, e.msg);
        if (msg_rec_decode(d, b.data, b.len, out, &e) != 0)
            fail_msg("largest %s does not decode: %s", d->name, e.msg);
        assert_same(d, in, out);
        if (d == &msg_desc_Reply)
            print_message("largest reply: %zu bytes (limit %u)\n", b.len, PROTO_MSG_MAX);
        free(in);
        free(out);
    }
    msg_buf_done(&b);
}

/* Error replies built from arbitrary text always encode: truncation never cuts a character. */
static void error_reply_text_stays_encodable(void **state)
{
    (void)state;
    MsgReply *r = calloc(1, sizeof *r), *back = calloc(1, sizeof *back);
    char long_text[3000] = "";
    for (int i = 0; i < 900; i++)
        strcat(long_text, "\xe2\x86\x92");                 /* 3-byte arrows, 2700 bytes */
    MsgBuf b;
    msg_buf_init(&b);
    ProtoErr e = { "" };
    msg_reply_error(r, 12, PROTO_E_NOT_FOUND, "front index 9: %s", long_text);
    assert_int_equal(msg_reply_encode(r, &b, &e), 0);
    assert_int_equal(msg_reply_decode(b.data, b.len, back, &e), 0);
    assert_false(back->ok);
    assert_int_equal(back->id, 12);
    assert_string_equal(back->error.code, "not_found");
    assert_true(strlen(back->error.msg) <= PROTO_TEXT_MAX && strlen(back->error.msg) > 1000);
    char bad[] = "ok\xc3";
    msg_utf8_trim(bad);
    assert_string_equal(bad, "ok");
    char *js = msg_reply_json(back);
    assert_non_null(strstr(js, "\"code\":\"not_found\""));
    free(js);
    msg_buf_done(&b);
    free(r);
    free(back);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_message_round_trips),
        cmocka_unit_test(every_record_round_trips),
        cmocka_unit_test(commands_round_trip_and_check_args),
        cmocka_unit_test(decode_errors_name_the_problem),
        cmocka_unit_test(message_errors),
        cmocka_unit_test(error_reply_text_stays_encodable),
        cmocka_unit_test(largest_records_fit_in_a_message),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
