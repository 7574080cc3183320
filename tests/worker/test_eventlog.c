/* The event log: records written are scanned back byte for byte and in order; a log cut at any
 * byte of its last record (kill -9 mid-write) scans as the records before it plus a torn tail,
 * and reopening drops the tail and appends after the last whole record; a corrupt log is refused
 * with its byte offset instead of being overwritten; the msgpack walker never reads past the
 * buffer on random bytes. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "eventlog.h"
#include "rng.h"

static char dir[256];
static char path[300];

static int setup(void **st)
{
    (void)st;
    snprintf(dir, sizeof dir, "/tmp/mos-test-eventlog-XXXXXX");
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/%s", dir, EVENTLOG_FILE);
    return 0;
}

static int teardown(void **st)
{
    (void)st;
    unlink(path);
    rmdir(dir);
    return 0;
}

/* Body i: {"seq": i, "pad": bin(i % 300 bytes)} — a map with a variable-size bin. */
static size_t make_body(unsigned char *b, int i)
{
    size_t n = 0;
    int pad = i % 300;
    b[n++] = 0x82;
    b[n++] = 0xa3, memcpy(b + n, "seq", 3), n += 3;
    b[n++] = 0xce, b[n++] = (unsigned char)(i >> 24), b[n++] = (unsigned char)(i >> 16);
    b[n++] = (unsigned char)(i >> 8), b[n++] = (unsigned char)i;
    b[n++] = 0xa3, memcpy(b + n, "pad", 3), n += 3;
    b[n++] = 0xc5, b[n++] = (unsigned char)(pad >> 8), b[n++] = (unsigned char)pad;
    memset(b + n, 'x', (size_t)pad), n += (size_t)pad;
    return n;
}

typedef struct Seen { int count; int bad; } Seen;

static int visit(void *ctx, const char *topic, size_t tlen, const unsigned char *body, size_t blen)
{
    Seen *s = ctx;
    unsigned char want[400];
    size_t n = make_body(want, s->count);
    const char *t = s->count % 2 ? "train" : "a-topic-name-longer-than-31-bytes-x";
    if (tlen != strlen(t) || memcmp(topic, t, tlen) || blen != n || memcmp(body, want, n))
        s->bad++;
    s->count++;
    return 0;
}

static void write_log(int count)
{
    EventLog log;
    MosErr e;
    unsigned char b[400];
    assert_int_equal(eventlog_open(&log, dir, NULL, &e), 0);
    for (int i = (int)log.records; i < count; i++) {
        size_t n = make_body(b, i);
        const char *t = i % 2 ? "train" : "a-topic-name-longer-than-31-bytes-x";
        assert_int_equal(eventlog_append(&log, t, b, n, &e), 0);
    }
    eventlog_close(&log);
}

static void test_roundtrip(void **st)
{
    (void)st;
    unlink(path);
    EventLogScan sc;
    MosErr e;
    assert_int_equal(eventlog_scan(path, NULL, NULL, &sc, &e), 0);   /* missing = empty */
    assert_int_equal(sc.records, 0);
    write_log(50);
    write_log(80);   /* reopen appends after the existing records */
    Seen s = {0, 0};
    assert_int_equal(eventlog_scan(path, visit, &s, &sc, &e), 0);
    assert_int_equal(s.count, 80);
    assert_int_equal(s.bad, 0);
    assert_int_equal(sc.torn_bytes, 0);
}

static void test_torn_every_byte(void **st)
{
    (void)st;
    unlink(path);
    write_log(10);
    EventLogScan full, sc;
    MosErr e;
    assert_int_equal(eventlog_scan(path, NULL, NULL, &full, &e), 0);
    write_log(11);
    EventLogScan eleven;
    assert_int_equal(eventlog_scan(path, NULL, NULL, &eleven, &e), 0);
    for (long long cut = full.valid_bytes + 1; cut < eleven.valid_bytes; cut++) {
        write_log(11);
        assert_int_equal(truncate(path, cut), 0);
        Seen s = {0, 0};
        assert_int_equal(eventlog_scan(path, visit, &s, &sc, &e), 0);
        assert_int_equal(s.count, 10);
        assert_int_equal(s.bad, 0);
        assert_int_equal(sc.valid_bytes, full.valid_bytes);
        assert_int_equal(sc.torn_bytes, cut - full.valid_bytes);
        /* resume: the torn record is dropped and the next one appended after record 10 */
        EventLog log;
        EventLogScan r;
        assert_int_equal(eventlog_open(&log, dir, &r, &e), 0);
        assert_int_equal(r.torn_bytes, cut - full.valid_bytes);
        eventlog_close(&log);
    }
    write_log(12);
    Seen s = {0, 0};
    assert_int_equal(eventlog_scan(path, visit, &s, &sc, &e), 0);
    assert_int_equal(s.count, 12);
    assert_int_equal(s.bad, 0);
}

static void test_corrupt_refused(void **st)
{
    (void)st;
    unlink(path);
    write_log(5);
    EventLogScan sc;
    MosErr e = {{0}};
    assert_int_equal(eventlog_scan(path, NULL, NULL, &sc, &e), 0);
    long long size = sc.valid_bytes;
    FILE *f = fopen(path, "r+b");
    fseek(f, 0, SEEK_END);
    fputc(0xc1, f);   /* never-used msgpack byte where a topic should start */
    fputs("more", f);
    fclose(f);
    assert_int_equal(eventlog_scan(path, NULL, NULL, &sc, &e), -1);
    char want[64];
    snprintf(want, sizeof want, "byte %lld", size);
    assert_non_null(strstr(e.msg, want));
    EventLog log;
    assert_int_equal(eventlog_open(&log, dir, NULL, &e), -1);
    f = fopen(path, "rb");
    fseek(f, 0, SEEK_END);
    assert_int_equal(ftell(f), size + 5);   /* nothing was cut */
    fclose(f);
}

static void test_walker_random(void **st)
{
    (void)st;
    Rng r;
    rng_seed(&r, 42);
    unsigned char buf[64];
    for (int it = 0; it < 200000; it++) {
        size_t len = 1 + rng_next(&r) % sizeof buf;
        for (size_t i = 0; i < len; i++)
            buf[i] = (unsigned char)rng_next(&r);
        unsigned char *heap = malloc(len);   /* exact size: ASan catches any overread */
        memcpy(heap, buf, len);
        size_t used = 0;
        int rc = eventlog_skip_value(heap, len, &used);
        assert_true(rc >= -1 && rc <= 1);
        if (rc == 0)
            assert_true(used >= 1 && used <= len);
        free(heap);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip),
        cmocka_unit_test(test_torn_every_byte),
        cmocka_unit_test(test_corrupt_refused),
        cmocka_unit_test(test_walker_random),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
