/* Snapshot history: a long series is kept within HISTORY_MAX_POINTS points whose means follow
 * the raw curve (a dashboard attached late sees the shape of the whole run), short series are
 * exact, and the retained log keeps the newest lines in order. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "history.h"

static double xs[HISTORY_MAX_POINTS + 1];
static float ys[HISTORY_MAX_POINTS + 1];

static void test_short_exact(void **st)
{
    (void)st;
    History h;
    history_init(&h);
    for (int i = 0; i < 100; i++)
        assert_int_equal(history_push(&h, "train/loss", i, 10.0 - 0.05 * i), 0);
    const Series *s = history_find(&h, "train/loss");
    assert_non_null(s);
    assert_int_equal(history_points(s, xs, ys), 100);
    for (int i = 0; i < 100; i++) {
        assert_true(xs[i] == (double)i);
        assert_true(ys[i] == (float)(10.0 - 0.05 * i));
    }
    assert_null(history_find(&h, "valid/loss"));
    history_done(&h);
}

static void test_long_downsampled(void **st)
{
    (void)st;
    History h;
    history_init(&h);
    const long N = 1000003;   /* not a multiple of any bucket: leaves an open bucket */
    for (long i = 0; i < N; i++)
        history_push(&h, "train/loss", (double)i, 2.0 * (double)i + 1.0);
    const Series *s = history_find(&h, "train/loss");
    int n = history_points(s, xs, ys);
    assert_true(n <= HISTORY_MAX_POINTS + 1);
    assert_true(n >= HISTORY_MAX_POINTS / 2);
    assert_int_equal(s->total, N);
    /* Each point is a mean of consecutive raw points of a line: still on the line, x increasing,
     * and together they span the whole run. */
    for (int i = 0; i < n; i++) {
        assert_true(fabs(ys[i] - (2.0 * xs[i] + 1.0)) <= 1e-6 * ys[i] + 1.0);
        if (i > 0)
            assert_true(xs[i] > xs[i - 1]);
    }
    assert_true(xs[0] < (double)s->bucket);
    assert_true(xs[n - 1] > (double)(N - s->bucket));
    /* the count of raw points covered adds up */
    long covered = (long)s->n * s->bucket + s->open_n;
    assert_int_equal(covered, N);
    history_done(&h);
}

static void test_series_limit(void **st)
{
    (void)st;
    History h;
    history_init(&h);
    char name[32];
    for (int i = 0; i < HISTORY_MAX_SERIES; i++) {
        snprintf(name, sizeof name, "s%d", i);
        assert_int_equal(history_push(&h, name, 0, i), 0);
    }
    assert_int_equal(history_push(&h, "one-too-many", 0, 0), -1);
    assert_int_equal(h.dropped, 1);
    assert_int_equal(history_push(&h, "s3", 1, 1), 0);   /* existing series still accept */
    history_done(&h);
}

static void test_log_ring_and_latest(void **st)
{
    (void)st;
    History h;
    history_init(&h);
    char line[32];
    for (int i = 0; i < HISTORY_LOG_LINES + 50; i++) {
        int n = snprintf(line, sizeof line, "line %d", i);
        history_add_log(&h, line, (size_t)n);
    }
    assert_int_equal(h.log_count, HISTORY_LOG_LINES);
    const RawMsg *m = history_log_at(&h, 0);
    assert_memory_equal(m->body, "line 50", 7);
    m = history_log_at(&h, HISTORY_LOG_LINES - 1);
    snprintf(line, sizeof line, "line %d", HISTORY_LOG_LINES + 49);
    assert_int_equal(m->len, strlen(line));
    assert_memory_equal(m->body, line, m->len);

    history_set_latest(&h, "front", "aaaa", 4);
    history_set_latest(&h, "front", "bb", 2);
    history_set_latest(&h, "gates/largest", "c", 1);
    assert_int_equal(h.nlatest, 2);
    assert_int_equal(h.latest[0].len, 2);
    assert_memory_equal(h.latest[0].body, "bb", 2);
    history_done(&h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_short_exact),
        cmocka_unit_test(test_long_downsampled),
        cmocka_unit_test(test_series_limit),
        cmocka_unit_test(test_log_ring_and_latest),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
