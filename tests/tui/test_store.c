/* The store without curses: series and debiased EMA, decimation at bounded memory, sequence
 * logic (duplicates dropped, gaps and new workers ask for a snapshot), snapshot merging, stale
 * heartbeats, Pareto point history, run changes and the log ring. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "store.h"

static Msg msg;   /* ~80 KB: not on the stack */

static const Msg *mk(MsgType type, int64_t seq)
{
    memset(&msg, 0, sizeof msg);
    msg.type = type;
    msg.seq = seq;
    msg.ts = 1000 + (double)seq;
    snprintf(msg.worker, sizeof msg.worker, "host:1");
    return &msg;
}

static const Msg *train(int64_t seq, int64_t step, double loss)
{
    mk(MSG_TRAIN, seq);
    msg.u.train.step = step;
    msg.u.train.loss = loss;
    snprintf(msg.u.train.arch, sizeof msg.u.train.arch, "a");
    return &msg;
}

static const Msg *logmsg(int64_t seq, const char *text)
{
    mk(MSG_LOG, seq);
    snprintf(msg.u.log.level, sizeof msg.u.log.level, "info");
    snprintf(msg.u.log.text, sizeof msg.u.log.text, "%s", text);
    return &msg;
}

static Store *fresh(void)
{
    Store *s = store_new();
    assert_non_null(s);
    assert_int_equal(store_add_worker(s, "tcp://127.0.0.1:1"), 0);
    return s;
}

static void test_train_series_and_debiased_ema(void **state)
{
    (void)state;
    Store *s = fresh();
    assert_int_equal(store_apply(s, 0, train(1, 1, 8.0), 0), 1);
    const StoreSeries *ema = store_series(&s->w[0], "train.loss.ema");
    double x[8], y[8];
    assert_int_equal(store_series_points(ema, 0, x, y, 8), 1);
    assert_true(fabs(y[0] - 8.0) < 1e-5);   /* debiased: not 5 % of 8 */
    store_apply(s, 0, train(2, 2, 4.0), 0);
    assert_int_equal(store_series_points(ema, 0, x, y, 8), 2);
    /* (0.95*0.05*8 + 0.05*4) / (1 - 0.95^2) */
    double expect = (0.95 * 0.05 * 8 + 0.05 * 4) / (1 - 0.95 * 0.95);
    assert_true(fabs(y[1] - expect) < 1e-4);
    const StoreSeries *raw = store_series(&s->w[0], "train.loss");
    assert_int_equal(store_series_points(raw, 2, x, y, 8), 1);
    assert_true(x[0] == 2 && y[0] == 4.0);
    assert_true(s->w[0].has_train && s->w[0].train.loss == 4.0);
    store_destroy(&s);
    assert_null(s);
}

static void test_decimation_keeps_span_and_tail(void **state)
{
    (void)state;
    Store *s = fresh();
    for (int i = 1; i <= 100000; i++)
        store_apply(s, 0, train(i, i, 1.0 / i), 0);
    const StoreSeries *raw = store_series(&s->w[0], "train.loss");
    assert_true(raw->n <= STORE_SERIES_CAP && raw->n >= STORE_SERIES_CAP / 2);
    static double x[STORE_SERIES_CAP + 1], y[STORE_SERIES_CAP + 1];
    int n = store_series_points(raw, 0, x, y, STORE_SERIES_CAP + 1);
    assert_true(x[0] == 1);
    assert_true(x[n - 1] == 100000);             /* the newest point is always there */
    for (int i = 1; i < n; i++)
        assert_true(x[i] > x[i - 1]);
    /* Zoom: the last 1000 steps only. */
    n = store_series_points(raw, 99001, x, y, STORE_SERIES_CAP + 1);
    assert_true(n > 5 && x[0] >= 99001);
    /* A max smaller than the points keeps the newest. */
    assert_int_equal(store_series_points(raw, 0, x, y, 3), 3);
    assert_true(x[2] == 100000);
    store_destroy(&s);
}

static void test_seq_duplicates_and_gaps(void **state)
{
    (void)state;
    Store *s = fresh();
    StoreWorker *w = &s->w[0];
    assert_int_equal(w->sync, STORE_SYNC_NONE);
    store_apply(s, 0, train(10, 100, 3.0), 0);
    assert_int_equal(w->sync, STORE_SYNC_LIVE);
    assert_true(w->need_snapshot);               /* attached mid-run: ask for the history */
    MsgSnapshot *snap = calloc(1, sizeof *snap);
    snap->seq = 10;
    store_apply_snapshot(s, 0, snap, 0);
    assert_int_equal(w->sync, STORE_SYNC_OK);
    assert_false(w->need_snapshot);
    assert_int_equal(store_apply(s, 0, train(10, 100, 3.0), 0), 0);   /* duplicate */
    assert_int_equal(store_apply(s, 0, train(9, 90, 3.0), 0), 0);
    assert_int_equal(w->dropped_dup, 2);
    assert_int_equal(store_apply(s, 0, train(11, 110, 3.0), 0), 1);
    assert_false(w->need_snapshot);
    assert_int_equal(store_apply(s, 0, train(14, 140, 3.0), 0), 1);    /* 12, 13 lost */
    assert_true(w->need_snapshot);
    assert_int_equal(w->gaps, 1);
    free(snap);
    store_destroy(&s);
}

static void test_snapshot_merge(void **state)
{
    (void)state;
    Store *s = fresh();
    StoreWorker *w = &s->w[0];
    /* Live messages 5..7 arrive before the snapshot reply, which reflects up to seq 6. */
    store_apply(s, 0, train(5, 50, 2.5), 0);
    store_apply(s, 0, logmsg(6, "live six"), 0);
    store_apply(s, 0, train(7, 70, 2.0), 0);
    MsgSnapshot *snap = calloc(1, sizeof *snap);
    snap->seq = 6;
    snap->series_n = 2;
    snprintf(snap->series[0].name, sizeof snap->series[0].name, "train.loss");
    for (int i = 0; i < 6; i++) {
        snap->series[0].step[i] = i * 10;
        snap->series[0].value[i] = 5.0f - 0.5f * (float)i;
    }
    snap->series[0].step_n = snap->series[0].value_n = 6;   /* steps 0..50 */
    snprintf(snap->series[1].name, sizeof snap->series[1].name, "valid.loss.largest");
    snap->series[1].step[0] = 40;
    snap->series[1].value[0] = 3.25f;
    snap->series[1].step_n = snap->series[1].value_n = 1;
    snap->logs_n = 2;
    snprintf(snap->logs[0].text, sizeof snap->logs[0].text, "old one");
    snap->logs[0].ts = 1.7e9;
    snap->logs[0].has_ts = true;
    snprintf(snap->logs[1].text, sizeof snap->logs[1].text, "live six");
    snap->has_status = 1;
    snprintf(snap->status.phase, sizeof snap->status.phase, "train");
    store_apply_snapshot(s, 0, snap, 0);

    double x[16], y[16];
    int n = store_series_points(store_series(w, "train.loss"), 0, x, y, 16);
    assert_int_equal(n, 7);                       /* 0..50 from the snapshot, 70 live */
    assert_true(x[5] == 50 && y[5] == 2.5 && x[6] == 70 && y[6] == 2.0);
    n = store_series_points(store_series(w, "train.loss.ema"), 0, x, y, 16);
    assert_int_equal(n, 7);                       /* the EMA is rebuilt over the merge */
    assert_true(fabs(y[0] - 5.0) < 1e-5);
    n = store_series_points(store_series(w, "valid.loss.largest"), 0, x, y, 16);
    assert_true(n == 1 && y[0] == 3.25);
    assert_string_equal(w->status.phase, "train");
    /* Log: the snapshot's lines, no duplicate of the live line seq 6 (it is in the snapshot). */
    assert_int_equal(s->log_n, 2);
    assert_string_equal(store_log_line(s, 0)->text, "live six");
    assert_string_equal(store_log_line(s, 1)->text, "old one");
    assert_true(store_log_line(s, 1)->ts == 1.7e9);   /* shown as its time, not --:--:-- */
    assert_int_equal(w->last_seq, 7);
    assert_int_equal(store_apply(s, 0, train(8, 80, 1.5), 0), 1);
    assert_false(w->need_snapshot);
    free(snap);
    store_destroy(&s);
}

static void test_stale_heartbeat(void **state)
{
    (void)state;
    Store *s = fresh();
    StoreWorker *w = &s->w[0];
    assert_true(store_stale(w, 0));              /* never heard of */
    mk(MSG_STATUS, 1);
    snprintf(msg.u.status.phase, sizeof msg.u.status.phase, "train");
    store_apply(s, 0, &msg, 100.0);
    assert_false(store_stale(w, 102.9));
    assert_true(fabs(store_age(w, 102.5) - 2.5) < 1e-9);
    assert_true(store_stale(w, 103.1));
    store_apply(s, 0, train(2, 1, 1.0), 103.5);
    assert_false(store_stale(w, 104.0));
    store_destroy(&s);
}

static const Msg *front(int64_t seq, const char *const *archs, const double *lat, int n)
{
    mk(MSG_FRONT, seq);
    for (int i = 0; i < n; i++) {
        MsgFrontPoint *p = &msg.u.front.points[i];
        snprintf(p->arch, sizeof p->arch, "%s", archs[i]);
        p->latency_pred_ms = lat[i];
        p->loss = 10 - lat[i];
    }
    msg.u.front.points_n = (uint32_t)n;
    return &msg;
}

static void test_front_history_marks_dominated(void **state)
{
    (void)state;
    Store *s = fresh();
    StoreWorker *w = &s->w[0];
    store_apply(s, 0, front(1, (const char *[]){ "a", "b" }, (double[]){ 1, 2 }, 2), 0);
    assert_int_equal(w->npoints, 2);
    store_apply(s, 0, front(2, (const char *[]){ "b", "c" }, (double[]){ 2, 3 }, 2), 0);
    assert_int_equal(w->npoints, 3);
    int on = 0;
    for (int i = 0; i < w->npoints; i++) {
        on += w->points[i].on_front;
        if (w->points[i].arch_hash == store_hash("a"))
            assert_false(w->points[i].on_front);
    }
    assert_int_equal(on, 2);
    assert_int_equal(w->front.points_n, 2);
    store_destroy(&s);
}

static void test_new_run_and_new_worker(void **state)
{
    (void)state;
    Store *s = fresh();
    StoreWorker *w = &s->w[0];
    mk(MSG_STATUS, 1);
    msg.u.status.has_run_id = 1;
    snprintf(msg.u.status.run_id, sizeof msg.u.status.run_id, "r1");
    store_apply(s, 0, &msg, 0);
    store_apply(s, 0, train(2, 1, 4.0), 0);
    MsgSnapshot *snap = calloc(1, sizeof *snap);
    snap->seq = 2;
    store_apply_snapshot(s, 0, snap, 0);
    mk(MSG_STATUS, 3);
    msg.u.status.has_run_id = 1;
    snprintf(msg.u.status.run_id, sizeof msg.u.status.run_id, "r2");
    store_apply(s, 0, &msg, 0);
    assert_false(store_series(w, "train.loss")->has_tail);
    assert_int_equal(store_series(w, "train.loss")->n, 0);
    assert_false(w->has_train);
    assert_true(w->need_snapshot);
    /* A restarted worker (other pid) starts again at seq 1: accepted, resynced. */
    store_apply_snapshot(s, 0, snap, 0);
    train(1, 5, 3.0);
    snprintf(msg.worker, sizeof msg.worker, "host:2");
    assert_int_equal(store_apply(s, 0, &msg, 0), 1);
    assert_true(w->need_snapshot);
    assert_string_equal(w->id, "host:2");
    /* A snapshot from yet another process resets the sequence: seq 100 then 3 applies. */
    train(100, 50, 3.0);
    snprintf(msg.worker, sizeof msg.worker, "host:2");
    assert_int_equal(store_apply(s, 0, &msg, 0), 1);
    snap->seq = 2;
    snprintf(snap->worker, sizeof snap->worker, "host:3");
    store_apply_snapshot(s, 0, snap, 0);
    assert_int_equal(w->last_seq, 2);
    train(3, 60, 2.0);
    snprintf(msg.worker, sizeof msg.worker, "host:3");
    assert_int_equal(store_apply(s, 0, &msg, 0), 1);
    assert_false(w->need_snapshot);
    free(snap);
    store_destroy(&s);
}

static void test_log_ring_and_bounds(void **state)
{
    (void)state;
    Store *s = fresh();
    char text[32];
    for (int i = 1; i <= STORE_LOG_LINES + 10; i++) {
        snprintf(text, sizeof text, "line %d", i);
        store_apply(s, 0, logmsg(i, text), 0);
    }
    assert_int_equal(s->log_n, STORE_LOG_LINES);
    snprintf(text, sizeof text, "line %d", STORE_LOG_LINES + 10);
    assert_string_equal(store_log_line(s, 0)->text, text);
    assert_string_equal(store_log_line(s, STORE_LOG_LINES - 1)->text, "line 11");
    assert_null(store_log_line(s, STORE_LOG_LINES));
    store_log(s, "warn", "dashboard says %d", 42);
    assert_string_equal(store_log_line(s, 0)->text, "dashboard says 42");
    assert_int_equal(store_log_line(s, 0)->worker, -1);
    /* Unknown connections and types are ignored. */
    assert_int_equal(store_apply(s, 3, train(1000, 1, 1), 0), 0);
    mk(MSG_TYPE_COUNT, 1000);
    assert_int_equal(store_apply(s, 0, &msg, 0), 0);
    for (int i = 1; i < STORE_WORKERS_MAX; i++)
        assert_int_equal(store_add_worker(s, "x"), i);
    assert_int_equal(store_add_worker(s, "x"), -1);
    store_destroy(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_train_series_and_debiased_ema),
        cmocka_unit_test(test_decimation_keeps_span_and_tail),
        cmocka_unit_test(test_seq_duplicates_and_gaps),
        cmocka_unit_test(test_snapshot_merge),
        cmocka_unit_test(test_stale_heartbeat),
        cmocka_unit_test(test_front_history_marks_dominated),
        cmocka_unit_test(test_new_run_and_new_worker),
        cmocka_unit_test(test_log_ring_and_bounds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
