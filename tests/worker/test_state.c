/* The worker state machine: every command outside the table's allowed set is refused with a
 * message naming the command and the state, and never changes the state; the legal paths a user
 * takes (pause, resume, stop) lead where the dashboard expects. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "state.h"

/* The allowed set written out independently of state.c's table, by rule. */
static int expect_allowed(WorkerState s, WorkerCmd c)
{
    if (c == WCMD_SNAPSHOT || c == WCMD_STATUS)
        return 1;
    switch (s) {
    case WSTATE_STARTING: return c == WCMD_STOP || c == WCMD_TARGET;
    case WSTATE_RUNNING:
    case WSTATE_PAUSED:   return 1;
    case WSTATE_STOPPING: return c == WCMD_STOP;
    default:              return 0;
    }
}

static void test_every_pair(void **st)
{
    (void)st;
    int refused = 0;
    for (int s = 0; s < WSTATE_COUNT; s++) {
        for (int c = 0; c < WCMD_COUNT; c++) {
            WorkerState next = (WorkerState)99;
            MosErr e = {{0}};
            int rc = state_apply((WorkerState)s, (WorkerCmd)c, &next, &e);
            assert_int_equal(state_allowed((WorkerState)s, (WorkerCmd)c), rc == 0);
            assert_int_equal(rc == 0, expect_allowed((WorkerState)s, (WorkerCmd)c));
            if (rc < 0) {
                refused++;
                assert_int_equal(next, 99);
                assert_non_null(strstr(e.msg, state_cmd_name((WorkerCmd)c)));
                assert_non_null(strstr(e.msg, state_name((WorkerState)s)));
            } else {
                assert_true((unsigned)next < WSTATE_COUNT);
            }
        }
    }
    assert_true(refused >= 20);
}

static WorkerState apply_ok(WorkerState s, WorkerCmd c)
{
    WorkerState next;
    MosErr e;
    assert_int_equal(state_apply(s, c, &next, &e), 0);
    return next;
}

static void test_paths(void **st)
{
    (void)st;
    WorkerState s = WSTATE_RUNNING;
    s = apply_ok(s, WCMD_PAUSE);
    assert_int_equal(s, WSTATE_PAUSED);
    assert_int_equal(apply_ok(s, WCMD_PAUSE), WSTATE_PAUSED);   /* idempotent */
    s = apply_ok(s, WCMD_CHECKPOINT);
    assert_int_equal(s, WSTATE_PAUSED);
    s = apply_ok(s, WCMD_RESUME);
    assert_int_equal(s, WSTATE_RUNNING);
    assert_int_equal(apply_ok(s, WCMD_TARGET), WSTATE_RUNNING);
    assert_int_equal(apply_ok(s, WCMD_RESUME), WSTATE_RUNNING);
    s = apply_ok(s, WCMD_STOP);
    assert_int_equal(s, WSTATE_STOPPING);
    assert_int_equal(apply_ok(s, WCMD_STOP), WSTATE_STOPPING);
    assert_int_equal(apply_ok(WSTATE_PAUSED, WCMD_STOP), WSTATE_STOPPING);
    assert_int_equal(apply_ok(WSTATE_DONE, WCMD_SNAPSHOT), WSTATE_DONE);
    assert_true(state_is_final(WSTATE_DONE) && state_is_final(WSTATE_FAILED));
    assert_false(state_is_final(WSTATE_PAUSED));
}

static void test_names(void **st)
{
    (void)st;
    for (int c = 0; c < WCMD_COUNT; c++) {
        const char *n = state_cmd_name((WorkerCmd)c);
        assert_int_equal(state_cmd_parse(n, strlen(n)), c);
    }
    assert_int_equal(state_cmd_parse("paus", 4), -1);
    assert_int_equal(state_cmd_parse("pausex", 6), -1);
    assert_int_equal(state_cmd_parse("", 0), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_pair),
        cmocka_unit_test(test_paths),
        cmocka_unit_test(test_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
