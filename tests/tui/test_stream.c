/* protocol/stream.c (event-log records) as the dashboard's replay uses it: write messages with
 * msg_stream_write, split them back with msg_stream_next and decode; a torn tail ends the
 * stream cleanly; garbage is an error naming the offset. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "stream.h"

static Msg m, back;

static void fill_train(int64_t seq)
{
    memset(&m, 0, sizeof m);
    m.type = MSG_TRAIN;
    m.seq = seq;
    m.ts = 1700000000.5;
    snprintf(m.worker, sizeof m.worker, "h:1");
    m.u.train.step = seq * 10;
    m.u.train.loss = 9.0 / (double)seq;
    snprintf(m.u.train.arch, sizeof m.u.train.arch, "arch-%lld", (long long)seq);
}

static void test_round_trip_and_torn_tail(void **state)
{
    (void)state;
    char *data = NULL;
    size_t size = 0;
    FILE *f = open_memstream(&data, &size);
    MsgBuf scratch;
    msg_buf_init(&scratch);
    ProtoErr e;
    for (int i = 1; i <= 3; i++) {
        fill_train(i);
        assert_int_equal(msg_stream_write(f, &m, &scratch, &e), 0);
    }
    fclose(f);
    size_t off = 0;
    MsgRecord rec;
    for (int i = 1; i <= 3; i++) {
        assert_int_equal(msg_stream_next(data, size, &off, &rec, &e), 1);
        assert_int_equal(rec.topic_len, 5);
        assert_memory_equal(rec.topic, "train", 5);
        assert_int_equal(msg_decode(rec.body, rec.body_len, &back, &e), 0);
        assert_int_equal(back.seq, i);
        assert_true(back.u.train.loss == 9.0 / i);
    }
    assert_int_equal(off, size);
    assert_int_equal(msg_stream_next(data, size, &off, &rec, &e), 0);
    /* A torn last record: the stream ends after record 2 without an error. */
    off = 0;
    size_t torn = size - 7;
    int n = 0;
    while (msg_stream_next(data, torn, &off, &rec, &e) == 1)
        n++;
    assert_int_equal(n, 2);
    /* Garbage: 0xc1 is never valid msgpack; a number is not a topic. */
    const char bad[] = { (char)0xc1, 0x00 };
    off = 0;
    assert_int_equal(msg_stream_next(bad, sizeof bad, &off, &rec, &e), -1);
    assert_non_null(strstr(e.msg, "offset 0"));
    const char num[] = { 0x05, (char)0x80 };
    off = 0;
    assert_int_equal(msg_stream_next(num, sizeof num, &off, &rec, &e), -1);
    assert_non_null(strstr(e.msg, "topic"));
    msg_buf_done(&scratch);
    free(data);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip_and_torn_tail),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
