/* Worker command handling: the commands a user sends through `mos ctl` do what they say and are
 * refused with a named error when the state does not allow them; and no input whatever (random
 * bytes, truncated or bit-flipped commands, wrong types, deep nesting, huge lengths; >= 100,000
 * of them) crashes the handler or goes unanswered: each gets a reply that decodes, an error
 * reply unless it was a valid command. Runs under ASan/UBSan in the test command. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "control.h"
#include "eventlog.h"
#include "rng.h"

typedef struct Fixture {
    char dir[256];
    JobCtl job;
    Publisher pub;
    Control ctl;
    MsgReply *reply;
    MsgBuf buf;
} Fixture;

static int setup(void **st)
{
    Fixture *f = calloc(1, sizeof *f);
    MosErr e;
    snprintf(f->dir, sizeof f->dir, "/tmp/mos-test-control-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    assert_int_equal(jobctl_init(&f->job, &e), 0);
    assert_int_equal(publisher_open(&f->pub, f->dir, "test:1", NULL, &e), 0);
    assert_int_equal(control_init(&f->ctl, &f->job, &f->pub, "train", f->dir, &e), 0);
    f->reply = malloc(sizeof *f->reply);
    msg_buf_init(&f->buf);
    *st = f;
    return 0;
}

static int teardown(void **st)
{
    Fixture *f = *st;
    char path[300];
    control_done(&f->ctl);
    publisher_close(&f->pub);
    jobctl_done(&f->job);
    msg_buf_done(&f->buf);
    free(f->reply);
    snprintf(path, sizeof path, "%s/%s", f->dir, EVENTLOG_FILE);
    unlink(path);
    rmdir(f->dir);
    free(f);
    return 0;
}

/* Sends one command; returns the decoded reply. */
static MsgReply *call(Fixture *f, CmdKind k, int64_t id, double target)
{
    Cmd c;
    ProtoErr pe;
    memset(&c, 0, sizeof c);
    c.kind = k;
    c.args.id = id;
    if (target > 0) {
        c.args.target_ms = target;
        c.args.has_target_ms = true;
    }
    assert_int_equal(msg_cmd_encode(&c, &f->buf, &pe), 0);
    control_handle(&f->ctl, f->buf.data, f->buf.len);
    assert_int_equal(msg_reply_decode(f->ctl.out.data, f->ctl.out.len, f->reply, &pe), 0);
    assert_int_equal(f->reply->id, id);
    assert_true(f->reply->ok != f->reply->has_error);
    return f->reply;
}

static MsgReply *call_extract(Fixture *f, int64_t id, const char *arch)
{
    Cmd c;
    ProtoErr pe;
    memset(&c, 0, sizeof c);
    c.kind = CMD_EXTRACT;
    c.args.id = id;
    c.args.has_arch = true;
    snprintf(c.args.arch, sizeof c.args.arch, "%s", arch);
    assert_int_equal(msg_cmd_encode(&c, &f->buf, &pe), 0);
    control_handle(&f->ctl, f->buf.data, f->buf.len);
    assert_int_equal(msg_reply_decode(f->ctl.out.data, f->ctl.out.len, f->reply, &pe), 0);
    assert_int_equal(f->reply->id, id);
    return f->reply;
}

static void test_commands(void **st)
{
    Fixture *f = *st;
    MsgReply *r = call(f, CMD_PAUSE, 1, 0);          /* starting: nothing to pause */
    assert_false(r->ok);
    assert_string_equal(r->error.code, "illegal_state");
    assert_non_null(strstr(r->error.msg, "pause"));
    jobctl_started(&f->job);
    jobctl_set_progress(&f->job, "prepare", 0, 0, 0);
    r = call(f, CMD_PAUSE, 2, 0);                    /* prepare cannot pause */
    assert_false(r->ok);
    assert_non_null(strstr(r->error.msg, "prepare"));
    jobctl_set_progress(&f->job, "train", 10, 100, 1);
    assert_true(call(f, CMD_PAUSE, 3, 0)->ok);
    assert_int_equal(jobctl_state(&f->job), WSTATE_PAUSED);
    assert_true(call(f, CMD_PAUSE, 4, 0)->ok);       /* idempotent */
    r = call(f, CMD_STATUS, 5, 0);
    assert_true(r->ok && r->has_status);
    assert_string_equal(r->status.state, "paused");
    assert_true(r->status.paused);
    assert_int_equal(r->status.step, 10);
    jobctl_set_rates(&f->job, 1e-3, 4000.0, 60.0);    /* a phase's rates end with it */
    r = call(f, CMD_STATUS, 51, 0);
    assert_true(r->status.has_lr && r->status.has_tok_per_s && r->status.has_eta_s);
    jobctl_set_progress(&f->job, "train", 11, 100, 1);
    assert_true(call(f, CMD_STATUS, 52, 0)->status.has_tok_per_s);
    jobctl_set_progress(&f->job, "latency", 0, 420, 1);
    r = call(f, CMD_STATUS, 53, 0);
    assert_false(r->status.has_lr || r->status.has_tok_per_s || r->status.has_eta_s);
    jobctl_set_progress(&f->job, "train", 10, 100, 1);
    assert_true(call(f, CMD_TARGET, 6, 120.0)->ok);
    r = call(f, CMD_STATUS, 7, 0);
    assert_true(r->status.has_target_ms && r->status.target_ms == 120.0);
    assert_true(call(f, CMD_CHECKPOINT, 8, 0)->ok);
    r = call_extract(f, 80, "enc=1x1:nonsense");          /* checked before anything runs */
    assert_false(r->ok);
    assert_string_equal(r->error.code, "bad_arg");
    assert_true(call(f, CMD_RESUME, 9, 0)->ok);
    assert_int_equal(jobctl_poll(&f->job), TRAIN_CHECKPOINT);
    assert_int_equal(jobctl_poll(&f->job), TRAIN_CONTINUE);
    r = call(f, CMD_SNAPSHOT, 10, 0);
    assert_true(r->ok && r->has_snapshot && r->snapshot.has_status);
    assert_int_equal(r->snapshot.seq, f->pub.seq);
    assert_true(call(f, CMD_STOP, 11, 0)->ok);
    assert_int_equal(jobctl_poll(&f->job), TRAIN_STOP);
    r = call(f, CMD_RESUME, 12, 0);
    assert_false(r->ok);
    assert_non_null(strstr(r->error.msg, "stopping"));
    jobctl_finished(&f->job, 1);
    assert_false(call(f, CMD_CHECKPOINT, 13, 0)->ok);
    assert_true(call(f, CMD_STATUS, 14, 0)->ok);     /* a finished worker still answers */
}

/* Checks that the last reply decodes and is an error unless ok. A full decode clears a ~1 MB
 * reply struct, so every reply is checked to be one whole msgpack map (with ok false when the
 * input was not a valid command) and every 8th is decoded completely. */
static void check_reply(Fixture *f, int must_fail)
{
    static unsigned k;
    ProtoErr pe;
    size_t used = 0;
    assert_int_equal(eventlog_skip_value((const unsigned char *)f->ctl.out.data, f->ctl.out.len,
                                         &used), 0);
    assert_int_equal(used, f->ctl.out.len);
    if (must_fail)   /* the wire bytes of key "ok" with value false */
        assert_non_null(memmem(f->ctl.out.data, f->ctl.out.len, "\xa2ok\xc2", 4));
    if (k++ % 8 != 0)
        return;
    assert_int_equal(msg_reply_decode(f->ctl.out.data, f->ctl.out.len, f->reply, &pe), 0);
    assert_true(f->reply->ok != f->reply->has_error);
    if (must_fail)
        assert_false(f->reply->ok);
    if (!f->reply->ok)
        assert_true(f->reply->error.code[0] != '\0' && f->reply->error.msg[0] != '\0');
}

static size_t random_command(Fixture *f, Rng *r)
{
    Cmd c;
    ProtoErr pe;
    memset(&c, 0, sizeof c);
    c.kind = (CmdKind)rng_below(r, CMD_KIND_COUNT);
    c.args.id = (int64_t)rng_next(r) >> rng_below(r, 64);
    if (rng_below(r, 2)) {
        c.args.has_target_ms = true;
        c.args.target_ms = (rng_float(r) - 0.2) * 1000.0;
    }
    if (rng_below(r, 3) == 0) {
        c.args.has_index = true;
        c.args.index = (int64_t)rng_below(r, 10) - 2;
    }
    if (rng_below(r, 3) == 0) {
        c.args.has_arch = true;
        snprintf(c.args.arch, sizeof c.args.arch, "enc%u", rng_below(r, 1000));
    }
    if (msg_cmd_encode(&c, &f->buf, &pe) < 0)
        return 0;
    return f->buf.len;
}

static void fuzz_one(Fixture *f, Rng *r, unsigned char *in, size_t cap)
{
    size_t n = 0;
    int must_fail = 1;
    switch (rng_below(r, 5)) {
    case 0:   /* random bytes */
        n = rng_below(r, 96);
        for (size_t i = 0; i < n; i++)
            in[i] = (unsigned char)rng_next(r);
        break;
    case 1:   /* a valid command, truncated */
        n = random_command(f, r);
        if (n == 0)
            return;
        memcpy(in, f->buf.data, n);
        n = rng_below(r, (uint32_t)n);
        break;
    case 2:   /* a valid command with bytes flipped (wrong types, bad lengths) */
        n = random_command(f, r);
        memcpy(in, f->buf.data, n);
        for (uint32_t k = 1 + rng_below(r, 3); k > 0 && n > 0; k--)
            in[rng_below(r, (uint32_t)n)] = (unsigned char)rng_next(r);
        must_fail = 0;   /* a flip can land on a value and still be valid */
        break;
    case 3:   /* deep nesting: arrays/maps inside each other */
        n = 1 + rng_below(r, rng_below(r, 64) == 0 ? (uint32_t)cap - 1 : 512);
        for (size_t i = 0; i < n; i += 64) {
            uint64_t bits = rng_next(r);
            for (size_t j = i; j < n && j < i + 64; j++, bits >>= 1)
                in[j] = bits & 1 ? 0x91 : 0x81;
        }
        break;
    default: { /* huge declared lengths */
        static const unsigned char heads[] = {0xdb, 0xc6, 0xdd, 0xdf, 0xc9};
        in[0] = 0x83;
        in[1] = 0xa3, memcpy(in + 2, "cmd", 3);
        in[5] = heads[rng_below(r, sizeof heads)];
        memset(in + 6, 0xff, 4);
        n = 10 + rng_below(r, 16);
        for (size_t i = 10; i < n; i++)
            in[i] = (unsigned char)rng_next(r);
    }
    }
    unsigned char *exact = malloc(n ? n : 1);   /* exact size: ASan sees any overread */
    memcpy(exact, in, n);
    control_handle(&f->ctl, exact, n);
    free(exact);
    check_reply(f, must_fail);
}

static void test_fuzz(void **st)
{
    Fixture *f = *st;
    Rng r;
    rng_seed(&r, 20261122);
    static unsigned char in[1 << 16];
    const long N = 120000;
    jobctl_started(&f->job);
    jobctl_set_progress(&f->job, "train", 1, 10, 1);
    long long before = f->ctl.handled;
    for (long i = 0; i < N; i++) {
        fuzz_one(f, &r, in, sizeof in);
        if (jobctl_state(&f->job) != WSTATE_RUNNING) {   /* keep commands reachable */
            pthread_mutex_lock(&f->job.mu);
            f->job.state = rng_below(&r, 2) ? WSTATE_RUNNING : WSTATE_PAUSED;
            pthread_mutex_unlock(&f->job.mu);
        }
    }
    assert_true(f->ctl.handled - before >= N - N / 50);   /* a few truncations encode nothing */
    assert_true(f->ctl.refused > N / 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_commands, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fuzz, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
