/* Fuzzing the decoders (messages, commands, replies) with > 100,000 hostile inputs: random
 * bytes, truncations, bit flips, wrong-typed fields, deep nesting and huge declared lengths.
 * No input may crash or hang (the sanitizer build runs this too); every input that is not a
 * valid message must be an error, and a bit-flipped input that still decodes must re-encode to
 * the same record. Deterministic seeds, a few seconds in total. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <cmocka.h>

#include <msgpack.h>

#include "msg.h"
#include "proto_rand.h"
#include "stream.h"

#define ROUNDS 9000       /* per category and decoder kind below */

typedef enum Kind { K_MSG, K_CMD, K_REPLY, K_COUNT } Kind;

static Msg *g_msg;
static MsgReply *g_reply;
static long g_inputs;

/* 0 when the input decodes as kind k. */
static int decode(Kind k, const void *p, size_t n)
{
    ProtoErr e;
    Cmd c;
    g_inputs++;
    switch (k) {
    case K_MSG:   return msg_decode(p, n, g_msg, &e);
    case K_CMD:   return msg_cmd_decode(p, n, &c, &e) == PROTO_OK ? 0 : -1;
    default:      return msg_reply_decode(p, n, g_reply, &e);
    }
}

/* A valid, small random encoding of kind k in b. */
static void valid_input(TRng *r, Kind k, MsgBuf *b)
{
    ProtoErr e;
    if (k == K_MSG) {
        memset(g_msg, 0, sizeof *g_msg);
        g_msg->type = (MsgType)trng_below(r, MSG_TYPE_COUNT);
        g_msg->seq = (int64_t)trng_below(r, 1000000);
        trng_fill(r, msg_type_rec(g_msg->type), &g_msg->u, 1);
        assert_int_equal(msg_encode(g_msg, b, &e), 0);
    } else if (k == K_CMD) {
        Cmd c = { .kind = (CmdKind)trng_below(r, CMD_KIND_COUNT), .args = { .id = 3 } };
        c.args.has_target_ms = c.kind == CMD_TARGET;
        c.args.target_ms = 10 + trng_below(r, 500);
        c.args.has_index = c.kind == CMD_EXTRACT;
        assert_int_equal(msg_cmd_encode(&c, b, &e), 0);
    } else {
        trng_fill(r, &msg_desc_Reply, g_reply, 2);
        assert_int_equal(msg_reply_encode(g_reply, b, &e), 0);
    }
}

static void random_bytes(void **state)
{
    (void)state;
    TRng r = { 1 };
    unsigned char buf[128];
    for (int k = 0; k < K_COUNT; k++)
        for (int i = 0; i < ROUNDS; i++) {
            size_t n = trng_below(&r, sizeof buf);
            for (size_t j = 0; j < n; j++)
                buf[j] = (unsigned char)trng_next(&r);
            if (n && trng_below(&r, 2))
                buf[0] = (unsigned char)(0x80 | trng_below(&r, 16));   /* a fixmap */
            assert_int_not_equal(decode((Kind)k, buf, n), 0);
        }
}

static void truncations_and_bit_flips(void **state)
{
    (void)state;
    TRng r = { 2 };
    MsgBuf b, again;
    msg_buf_init(&b);
    msg_buf_init(&again);
    long flipped_ok = 0;
    for (int k = 0; k < K_COUNT; k++)
        for (int i = 0; i < ROUNDS; i++) {
            valid_input(&r, (Kind)k, &b);
            assert_int_equal(decode((Kind)k, b.data, b.len), 0);
            size_t cut = trng_below(&r, (uint32_t)b.len);
            assert_int_not_equal(decode((Kind)k, b.data, cut), 0);
            for (int f = 1 + (int)trng_below(&r, 3); f > 0; f--)
                b.data[trng_below(&r, (uint32_t)b.len)] ^= (char)(1u << trng_below(&r, 8));
            if (decode((Kind)k, b.data, b.len) == 0 && k == K_MSG) {
                ProtoErr e;
                flipped_ok++;     /* still valid: must be a fixed point of encode/decode */
                assert_int_equal(msg_encode(g_msg, &again, &e), 0);
                Msg *m2 = malloc(sizeof *m2);
                assert_int_equal(msg_decode(again.data, again.len, m2, &e), 0);
                char where[128] = "";
                if (!trec_equal(msg_type_rec(g_msg->type), &g_msg->u, &m2->u, where, sizeof where))
                    fail_msg("bit-flipped message does not re-encode the same: %s", where);
                free(m2);
            }
        }
    print_message("bit-flipped messages that stayed valid: %ld\n", flipped_ok);
    msg_buf_done(&b);
    msg_buf_done(&again);
}

/* A wrong-kind replacement for a value of field kind fk (never nil: nil means absent). */
static void pack_wrong(msgpack_packer *pk, FieldKind fk, TRng *r)
{
    int pick = (int)trng_below(r, 3);
    switch (fk) {
    case FK_I64:
        if (pick == 0) msgpack_pack_str_with_body(pk, "1", 1);
        else if (pick == 1) msgpack_pack_double(pk, 1.0);
        else msgpack_pack_uint64(pk, UINT64_MAX);               /* out of int64 range */
        break;
    case FK_F64:
        if (pick == 0) msgpack_pack_str_with_body(pk, "1.5", 3);
        else if (pick == 1) msgpack_pack_true(pk);
        else msgpack_pack_array(pk, 0);
        break;
    case FK_STR:
        if (pick == 0) msgpack_pack_int(pk, 7);
        else if (pick == 1) msgpack_pack_bin(pk, 1), msgpack_pack_bin_body(pk, "a", 1);
        else msgpack_pack_str_with_body(pk, "a\0b", 3);             /* embedded NUL */
        break;
    case FK_BOOL:
        if (pick == 0) msgpack_pack_int(pk, 1);
        else msgpack_pack_str_with_body(pk, "true", 4);
        break;
    case FK_F32S:
        if (pick == 0) msgpack_pack_array(pk, 1), msgpack_pack_float(pk, 1.0f);
        else msgpack_pack_bin(pk, 3), msgpack_pack_bin_body(pk, "abc", 3);   /* not *4 */
        break;
    case FK_I64S:
        if (pick == 0) msgpack_pack_bin(pk, 8), msgpack_pack_bin_body(pk, "abcdefgh", 8);
        else msgpack_pack_array(pk, 1), msgpack_pack_str_with_body(pk, "x", 1);
        break;
    case FK_REC:
        if (pick == 0) msgpack_pack_array(pk, 0);
        else msgpack_pack_int(pk, 3);
        break;
    default:   /* FK_RECS */
        if (pick == 0) msgpack_pack_map(pk, 0);
        else msgpack_pack_array(pk, 1), msgpack_pack_int(pk, 3);
        break;
    }
}

/* Re-packs obj (a map described by d, or a message envelope when d is NULL and body_d set),
 * replacing field victim's value with a wrong-kind one. */
static void repack_wrong(msgpack_packer *pk, const msgpack_object *map, const RecDesc *d,
                         int victim, TRng *r)
{
    msgpack_pack_map(pk, map->via.map.size);
    for (uint32_t i = 0; i < map->via.map.size; i++) {
        const msgpack_object_kv *kv = &map->via.map.ptr[i];
        msgpack_pack_object(pk, kv->key);
        const FieldDesc *f = &d->fields[victim];
        if (kv->key.via.str.size == strlen(f->name) &&
            memcmp(kv->key.via.str.ptr, f->name, strlen(f->name)) == 0)
            pack_wrong(pk, f->kind, r);
        else
            msgpack_pack_object(pk, kv->val);
    }
}

static void wrong_typed_fields(void **state)
{
    (void)state;
    TRng r = { 3 };
    MsgBuf b;
    msg_buf_init(&b);
    for (int i = 0; i < 2 * ROUNDS; i++) {
        Kind k = i % 2 ? K_REPLY : K_MSG;
        valid_input(&r, k, &b);
        msgpack_unpacked u;
        msgpack_unpacked_init(&u);
        size_t off = 0;
        assert_int_equal(msgpack_unpack_next(&u, b.data, b.len, &off), MSGPACK_UNPACK_SUCCESS);
        const RecDesc *d = k == K_MSG ? msg_type_rec(g_msg->type) : &msg_desc_Reply;
        /* victim: a field present in this input */
        const char *rec = k == K_MSG ? (const char *)&g_msg->u : (const char *)g_reply;
        int victim = (int)trng_below(&r, (uint32_t)d->nfields);
        while (d->fields[victim].has_off >= 0 && !*(const bool *)(rec + d->fields[victim].has_off))
            victim = (victim + 1) % d->nfields;         /* every record has a required field */
        msgpack_sbuffer sb;
        msgpack_packer pk;
        msgpack_sbuffer_init(&sb);
        msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
        if (k == K_MSG) {                               /* envelope: rewrite inside "body" */
            const msgpack_object *top = &u.data;
            msgpack_pack_map(&pk, top->via.map.size);
            for (uint32_t j = 0; j < top->via.map.size; j++) {
                msgpack_pack_object(&pk, top->via.map.ptr[j].key);
                if (top->via.map.ptr[j].key.via.str.size == 4 &&
                    memcmp(top->via.map.ptr[j].key.via.str.ptr, "body", 4) == 0)
                    repack_wrong(&pk, &top->via.map.ptr[j].val, d, victim, &r);
                else
                    msgpack_pack_object(&pk, top->via.map.ptr[j].val);
            }
        } else {
            repack_wrong(&pk, &u.data, d, victim, &r);
        }
        if (decode(k, sb.data, sb.size) == 0)
            fail_msg("wrong-typed %s.%s decoded", d->name, d->fields[victim].name);
        msgpack_sbuffer_destroy(&sb);
        msgpack_unpacked_destroy(&u);
    }
    msg_buf_done(&b);
}

static void deep_nesting_and_huge_lengths(void **state)
{
    (void)state;
    TRng r = { 4 };
    size_t cap = 8192;
    unsigned char *buf = malloc(cap + 64);
    for (int i = 0; i < ROUNDS; i++) {
        /* {"v":1,"cmd":"pause","id":1,"x":[[[[...]]]]} nested 17..8000 deep */
        size_t depth = 17 + trng_below(&r, 8000 - 17), n = 0;
        static const unsigned char head[] = { 0x84, 0xa1, 'v', 0x01, 0xa3, 'c', 'm', 'd',
            0xa5, 'p', 'a', 'u', 's', 'e', 0xa2, 'i', 'd', 0x01, 0xa1, 'x' };
        memcpy(buf, head, sizeof head);
        n = sizeof head;
        for (size_t j = 0; j < depth && n < cap; j++) {
            bool map = trng_below(&r, 2);
            buf[n++] = map ? 0x81 : 0x91;
            if (map)
                buf[n++] = 0xa1, buf[n++] = 'k';
        }
        buf[n++] = 0xc0;
        for (int k = 0; k < K_COUNT; k++)
            assert_int_not_equal(decode((Kind)k, buf, n), 0);
        /* a huge declared length (str32, bin32, ext32, array32, map32) at an object start */
        static const unsigned char big[] = { 0xdb, 0xc6, 0xc9, 0xdd, 0xdf };
        static const size_t headers[] = { 0, 1, 3, 4, 8, 14, 17, 18 };  /* object starts */
        size_t at = headers[trng_below(&r, sizeof headers / sizeof headers[0])];
        unsigned char save[5];
        memcpy(save, buf + at, 5);
        buf[at] = big[trng_below(&r, sizeof big)];
        uint32_t len = 0x01000000u + (uint32_t)trng_below(&r, 0xfeffffffu);
        for (int b = 0; b < 4; b++)
            buf[at + 1 + (size_t)b] = (unsigned char)(len >> (24 - 8 * b));
        for (int k = 0; k < K_COUNT; k++) {
            if (decode((Kind)k, buf, sizeof head + 1) == 0)
                fail_msg("huge length at %zu decoded as kind %d", at, k);
        }
        memcpy(buf + at, save, 5);
    }
    free(buf);
}

/* Event-log streams: valid records, then truncated, bit-flipped and huge-length corruptions;
 * the reader never runs past the buffer, and a huge declared length is a torn tail (0) or an
 * error, never an allocation. */
static void stream_records_survive_corruption(void **state)
{
    (void)state;
    TRng r = { 5 };
    char *mem = NULL;
    size_t size = 0;
    FILE *f = open_memstream(&mem, &size);
    MsgBuf b;
    msg_buf_init(&b);
    ProtoErr e;
    for (int i = 0; i < 40; i++) {
        memset(g_msg, 0, sizeof *g_msg);
        g_msg->type = (MsgType)(i % MSG_TYPE_COUNT);
        g_msg->seq = i + 1;
        trng_fill(&r, msg_type_rec(g_msg->type), &g_msg->u, 1);
        assert_int_equal(msg_stream_write(f, g_msg, &b, &e), 0);
    }
    fclose(f);
    unsigned char *copy = malloc(size + 8);
    for (int it = 0; it < ROUNDS / 4; it++) {
        memcpy(copy, mem, size);
        size_t n = it % 3 == 0 ? trng_below(&r, (uint32_t)size) : size;
        if (it % 3 == 1)
            copy[trng_below(&r, (uint32_t)size)] ^= (unsigned char)(1u << trng_below(&r, 8));
        if (it % 3 == 2) {                       /* a huge array32 where a record starts */
            size_t at = 0, off = 0;
            MsgRecord rec;
            for (int k = (int)trng_below(&r, 40); k > 0 && msg_stream_next(copy, n, &off, &rec,
                 &e) == 1; k--)
                at = off;
            if (at + 5 <= n) {
                copy[at] = 0xdd;
                memset(copy + at + 1, 0xff, 4);
            }
        }
        size_t off = 0, records = 0;
        MsgRecord rec;
        int rc;
        while ((rc = msg_stream_next(copy, n, &off, &rec, &e)) == 1) {
            assert_true(off <= n);
            assert_true(rec.body >= copy && rec.body + rec.body_len <= copy + n);
            msg_decode(rec.body, rec.body_len, g_msg, &e);    /* may fail; must not crash */
            records++;
            g_inputs++;
        }
        if (records > n / 2)             /* a flip can split a record; each is >= 2 bytes */
            fail_msg("it %d: %zu records from %zu bytes", it, records, n);
        if (it % 3 == 0)
            assert_true(rc == 0 || rc == -1);
    }
    free(copy);
    free(mem);
    msg_buf_done(&b);
}

static int setup(void **state)
{
    (void)state;
    g_msg = malloc(sizeof *g_msg);
    g_reply = malloc(sizeof *g_reply);
    alarm(120);                          /* a hang fails the test instead of blocking CI */
    return g_msg && g_reply ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    print_message("fuzz inputs decoded: %ld\n", g_inputs);
    free(g_msg);
    free(g_reply);
    return g_inputs >= 100000 ? 0 : -1;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(random_bytes),
        cmocka_unit_test(truncations_and_bit_flips),
        cmocka_unit_test(wrong_typed_fields),
        cmocka_unit_test(deep_nesting_and_huge_lengths),
        cmocka_unit_test(stream_records_survive_corruption),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
