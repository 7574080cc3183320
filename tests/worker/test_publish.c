/* The publishing path: a message reaches subscribers only after it is in the event log; seq
 * grows by one per message and continues after a restart; a restarted worker rebuilds the whole
 * history from the log (a late dashboard still sees the full curve), also after a torn tail;
 * snapshots fit the protocol's bounds however long the run was. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "publish.h"

static char dir[256];
static char path[300];

typedef struct Sent {
    const char *path;
    long long sent;
    long long logged_at_send;   /* records in the log when the last message was sent */
    int64_t last_seq_bytes_ok;
} Sent;

static int capture(void *ctx, const char *topic, const void *body, size_t len)
{
    Sent *s = ctx;
    EventLogScan sc;
    MosErr e;
    (void)topic, (void)body, (void)len;
    assert_int_equal(eventlog_scan(s->path, NULL, NULL, &sc, &e), 0);
    s->logged_at_send = sc.records;
    s->sent++;
    return 0;
}

static int setup(void **st)
{
    (void)st;
    snprintf(dir, sizeof dir, "/tmp/mos-test-publish-XXXXXX");
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

static void publish_train(Publisher *p, Msg *m, long step)
{
    memset(m, 0, sizeof *m);
    m->type = MSG_TRAIN;
    m->u.train.step = step;
    m->u.train.loss = 10.0 - 1e-3 * (double)step;
    m->u.train.lr = 1e-3;
    m->u.train.grad_norm = 1.0;
    m->u.train.tok_per_s = 1000;
    snprintf(m->u.train.arch, sizeof m->u.train.arch, "enc512");
    MosErr e;
    assert_int_equal(publisher_publish(p, m, &e), 0);
}

static void publish_log(Publisher *p, Msg *m, int i)
{
    memset(m, 0, sizeof *m);
    m->type = MSG_LOG;
    snprintf(m->u.log.level, sizeof m->u.log.level, "info");
    snprintf(m->u.log.text, sizeof m->u.log.text, "line %d", i);
    MosErr e;
    assert_int_equal(publisher_publish(p, m, &e), 0);
}

static void test_log_before_send(void **st)
{
    (void)st;
    unlink(path);
    Publisher p;
    MosErr e;
    Msg *m = malloc(sizeof *m);
    assert_int_equal(publisher_open(&p, dir, "host:1", NULL, &e), 0);
    Sent s = {path, 0, 0, 0};
    p.send = capture;
    p.send_ctx = &s;
    for (long i = 1; i <= 50; i++) {
        publish_train(&p, m, i);
        assert_int_equal(m->seq, i);
        assert_int_equal(s.logged_at_send, i);   /* in the log before it was sent */
    }
    assert_int_equal(s.sent, 50);
    publisher_close(&p);
    free(m);
}

typedef struct Order {
    int64_t seq[64];
    int n;
} Order;

static int capture_order(void *ctx, const char *topic, const void *body, size_t len)
{
    Order *o = ctx;
    static Msg m;
    ProtoErr e;
    assert_int_equal(msg_decode(body, len, &m, &e), 0);
    assert_string_equal(topic, msg_type_name(m.type));
    if (o->n < 64)
        o->seq[o->n++] = m.seq;
    return 0;
}

/* The worker's coalescing: the first message goes out at once, the ones right after it are held
 * back until publisher_flush, which sends them in order; after a quiet spell, at once again. */
static void test_coalesce(void **st)
{
    (void)st;
    unlink(path);
    Publisher p;
    MosErr e;
    Msg *m = malloc(sizeof *m);
    assert_int_equal(publisher_open(&p, dir, "host:1", NULL, &e), 0);
    Order o = { .n = 0 };
    p.send = capture_order;
    p.send_ctx = &o;
    p.coalesce_ms = 60000;   /* the window cannot pass during the test */
    assert_int_equal(publisher_flush_due_ms(&p), -1);
    for (long i = 1; i <= 10; i++)
        publish_train(&p, m, i);
    assert_int_equal(o.n, 1);
    assert_int_equal(o.seq[0], 1);
    assert_true(publisher_flush_due_ms(&p) > 0);
    publisher_flush(&p);
    assert_int_equal(o.n, 10);
    for (int i = 0; i < 10; i++)
        assert_int_equal(o.seq[i], i + 1);
    assert_int_equal(publisher_flush_due_ms(&p), -1);
    publish_train(&p, m, 11);   /* still inside the window: held */
    assert_int_equal(o.n, 10);
    p.last_send -= 120;         /* the window has passed: due now */
    assert_int_equal(publisher_flush_due_ms(&p), 0);
    publisher_flush(&p);
    p.last_send -= 120;         /* a quiet spell: the next one goes out at once */
    publish_train(&p, m, 12);
    assert_int_equal(o.n, 12);
    assert_int_equal(o.seq[11], 12);
    assert_int_equal(p.send_drops, 0);
    publisher_close(&p);
    free(m);
}

static void test_restart_rebuilds(void **st)
{
    (void)st;
    unlink(path);
    Publisher p;
    MosErr e;
    Msg *m = malloc(sizeof *m);
    assert_int_equal(publisher_open(&p, dir, "host:1", NULL, &e), 0);
    const long steps = 10000;
    for (long i = 1; i <= steps; i++)
        publish_train(&p, m, i);
    for (int i = 0; i < 100; i++)
        publish_log(&p, m, i);
    memset(m, 0, sizeof *m);
    m->type = MSG_FRONT;
    m->u.front.points_n = 2;
    snprintf(m->u.front.points[0].arch, sizeof m->u.front.points[0].arch, "small");
    m->u.front.points[0].latency_pred_ms = 12.5;
    snprintf(m->u.front.points[1].arch, sizeof m->u.front.points[1].arch, "big");
    m->u.front.points[1].latency_pred_ms = 40;
    assert_int_equal(publisher_publish(&p, m, &e), 0);
    int64_t last = p.seq;
    publisher_close(&p);

    /* A torn record after the last one (kill -9 during a write) is dropped on restart. */
    FILE *f = fopen(path, "ab");
    fwrite("\xa5train\x85\xa1v", 1, 9, f);
    fclose(f);
    EventLogScan sc;
    assert_int_equal(publisher_open(&p, dir, "host:2", &sc, &e), 0);
    assert_int_equal(sc.torn_bytes, 9);
    assert_int_equal(p.seq, last);
    assert_int_equal(p.bad_log_records, 0);
    const Series *s = history_find(&p.hist, "train.loss");
    assert_non_null(s);
    assert_int_equal(s->total, steps);

    MsgSnapshot *snap = calloc(1, sizeof *snap);
    publisher_snapshot(&p, NULL, snap);
    assert_int_equal(snap->seq, last);
    assert_string_equal(snap->worker, "host:2");   /* clients compare it with the header */
    int found = 0;
    for (uint32_t i = 0; i < snap->series_n; i++) {
        const MsgSeries *ms = &snap->series[i];
        assert_true(ms->step_n <= PROTO_POINTS_MAX && ms->step_n == ms->value_n);
        if (strcmp(ms->name, "train.loss") != 0)
            continue;
        found = 1;
        assert_true(ms->step_n > PROTO_POINTS_MAX / 4);
        assert_true(ms->step[0] < 20 && ms->step[ms->step_n - 1] > steps - 20);
        for (uint32_t k = 0; k < ms->step_n; k++)   /* still the same line */
            assert_true(fabs(ms->value[k] - (10.0 - 1e-3 * (double)ms->step[k])) < 0.01);
    }
    assert_true(found);
    assert_true(snap->has_front);
    assert_int_equal(snap->front.points_n, 2);
    assert_string_equal(snap->front.points[1].arch, "big");
    assert_int_equal(snap->logs_n, PROTO_SNAP_LOGS);
    assert_string_equal(snap->logs[PROTO_SNAP_LOGS - 1].text, "line 99");
    /* each line keeps the time it was published (the dashboard shows it) */
    assert_true(snap->logs[0].has_ts && snap->logs[0].ts > 1.6e9);

    /* Seq continues across the restart. */
    publish_train(&p, m, steps + 1);
    assert_int_equal(m->seq, last + 1);
    assert_string_equal(m->worker, "host:2");
    publisher_close(&p);
    free(snap);
    free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_log_before_send),
        cmocka_unit_test(test_coalesce),
        cmocka_unit_test(test_restart_rebuilds),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
