/* The keymap table: no key bound twice, every action reachable, the keys the issue names bound
 * to the right actions, and every entry documented (help text for the overlay and the docs). */
#include <curses.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "keymap.h"

static void test_no_duplicates_all_reachable(void **state)
{
    (void)state;
    int reachable[ACT_COUNT] = { 0 };
    for (int i = 0; i < keymap_count; i++) {
        for (int j = i + 1; j < keymap_count; j++)
            if (keymap[i].key == keymap[j].key)
                fail_msg("key %s bound twice", keymap[i].name);
        assert_true(keymap[i].action > ACT_NONE && keymap[i].action < ACT_COUNT);
        assert_true(keymap[i].help && strlen(keymap[i].help) > 8);
        assert_true(keymap[i].name && keymap[i].name[0]);
        reachable[keymap[i].action] = 1;
    }
    for (int a = ACT_NONE + 1; a < ACT_COUNT; a++)
        if (!reachable[a])
            fail_msg("action %d has no key", a);
}

static void test_expected_bindings(void **state)
{
    (void)state;
    assert_int_equal(keymap_action('q'), ACT_QUIT);
    assert_int_equal(keymap_action('?'), ACT_HELP);
    assert_int_equal(keymap_action(KEY_F(1)), ACT_HELP);
    assert_int_equal(keymap_action('p'), ACT_PAUSE);
    assert_int_equal(keymap_action('t'), ACT_TARGET);
    assert_int_equal(keymap_action('+'), ACT_NUDGE_UP);
    assert_int_equal(keymap_action('-'), ACT_NUDGE_DOWN);
    assert_int_equal(keymap_action('x'), ACT_EXTRACT);
    assert_int_equal(keymap_action('\t'), ACT_FOCUS_NEXT);
    assert_int_equal(keymap_action('l'), ACT_LOGY);
    assert_int_equal(keymap_action('T'), ACT_THEME);
    assert_int_equal(keymap_action(12), ACT_REDRAW);
    assert_int_equal(keymap_action('j'), ACT_DOWN);
    assert_int_equal(keymap_action('k'), ACT_UP);
    assert_int_equal(keymap_action('h'), ACT_LEFT);
    assert_int_equal(keymap_action('Q'), ACT_NONE);
    /* Nothing destructive on keys tmux/screen or k9s users fear (Ctrl-D, Ctrl-K, Ctrl-A). */
    assert_int_equal(keymap_action(4), ACT_NONE);
    assert_int_equal(keymap_action(11), ACT_NONE);
    assert_int_equal(keymap_action(1), ACT_NONE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_no_duplicates_all_reachable),
        cmocka_unit_test(test_expected_bindings),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
