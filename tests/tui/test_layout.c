/* Layout over a grid of terminal sizes (20..300 columns x 10..100 rows) and every preset:
 * panels inside the screen, non-empty, no overlap, the screen covered exactly, and "too small"
 * exactly below the documented minimum. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "layout.h"

static void check_one(int rows, int cols, LayoutPreset preset)
{
    Layout l;
    int small = layout_compute(rows, cols, preset, &l);
    int expect_small = rows < LAYOUT_MIN_ROWS || cols < LAYOUT_MIN_COLS;
    if (small != expect_small)
        fail_msg("%dx%d preset %d: too_small=%d, expected %d", cols, rows, preset, small,
                 expect_small);
    if (small)
        return;
    long area = 0;
    int shown = 0;
    for (int p = 0; p < PANEL_COUNT; p++) {
        if (!layout_visible(&l, p))
            continue;
        Rect r = l.r[p];
        shown++;
        area += (long)r.h * r.w;
        if (r.y < 0 || r.x < 0 || r.y + r.h > rows || r.x + r.w > cols)
            fail_msg("%dx%d: panel %d outside the screen", cols, rows, p);
        if (p != PANEL_KEYBAR && (r.h < LAYOUT_MIN_H || r.w < LAYOUT_MIN_W))
            fail_msg("%dx%d: panel %d is %dx%d, below the minimum", cols, rows, p, r.w, r.h);
        for (int q = p + 1; q < PANEL_COUNT; q++)
            if (rect_overlap(r, l.r[q]))
                fail_msg("%dx%d preset %d: panels %d and %d overlap", cols, rows, preset, p, q);
    }
    assert_true(layout_visible(&l, PANEL_KEYBAR));
    assert_true(layout_visible(&l, PANEL_STATUS));
    assert_true(shown >= 5);
    if (area != (long)rows * cols)
        fail_msg("%dx%d preset %d: panels cover %ld of %d cells", cols, rows, preset, area,
                 rows * cols);
}

static void test_grid(void **state)
{
    (void)state;
    for (int preset = 0; preset < LAYOUT_COUNT; preset++)
        for (int rows = 10; rows <= 100; rows++)
            for (int cols = 20; cols <= 300; cols++)
                check_one(rows, cols, preset);
}

static void test_all_panels_in_default(void **state)
{
    (void)state;
    Layout l;
    assert_int_equal(layout_compute(24, 80, LAYOUT_ALL, &l), 0);
    for (int p = 0; p < PANEL_COUNT; p++)
        assert_true(layout_visible(&l, p));
    assert_int_equal(l.r[PANEL_KEYBAR].y, 23);
}

static void test_degenerate_sizes(void **state)
{
    (void)state;
    Layout l;
    assert_int_equal(layout_compute(0, 0, LAYOUT_ALL, &l), 1);
    assert_int_equal(layout_compute(-5, 200, LAYOUT_ALL, &l), 1);
    assert_int_equal(layout_compute(50, 200, LAYOUT_COUNT, &l), 1);
    assert_false(layout_visible(&l, PANEL_LOSS));
    assert_int_equal(layout_compute(LAYOUT_MIN_ROWS, LAYOUT_MIN_COLS, LAYOUT_ALL, &l), 0);
    assert_int_equal(layout_compute(LAYOUT_MIN_ROWS - 1, LAYOUT_MIN_COLS, LAYOUT_ALL, &l), 1);
    assert_int_equal(layout_compute(LAYOUT_MIN_ROWS, LAYOUT_MIN_COLS - 1, LAYOUT_ALL, &l), 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_grid),
        cmocka_unit_test(test_all_panels_in_default),
        cmocka_unit_test(test_degenerate_sizes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
