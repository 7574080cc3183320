/* The chart rasterizer without curses: dot placement in braille/block/ASCII, glyph encoding,
 * log-y, skipped bad values, marks and their priority, and no writes outside the canvas. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "chart.h"

static ChartCanvas canvas;

static void test_braille_diagonal(void **state)
{
    (void)state;
    chart_begin(&canvas, 4, 2, CHART_BRAILLE);
    ChartAxis ax = { 0, 1, 0, 1, 0 };
    double x[] = { 0, 1 }, y[] = { 0, 1 };
    chart_line(&canvas, &ax, x, y, 2, 7, '*');
    char g[8];
    int role = -1;
    /* (0,0) is the bottom-left dot of the bottom-left cell: braille dot 7 = bit 0x40. */
    assert_int_equal(chart_cell(&canvas, 1, 0, g, &role), 1);
    assert_int_equal(role, 7);
    assert_true(canvas.dots[1][0] & 0x40);
    assert_true(canvas.dots[0][3] & 0x08);          /* (1,1): top-right dot of the top-right cell */
    assert_int_equal(canvas.dots[0][0], 0);         /* nothing above the diagonal */
    assert_int_equal(chart_cell(&canvas, 0, 0, g, &role), 0);
    /* U+2800 + bits, three bytes of UTF-8 */
    chart_cell(&canvas, 1, 0, g, &role);
    assert_int_equal((unsigned char)g[0], 0xe2);
    assert_int_equal(strlen(g), 3);
    unsigned cp = ((unsigned)(g[0] & 0x0f) << 12) | ((unsigned)(g[1] & 0x3f) << 6)
                  | (unsigned)(g[2] & 0x3f);
    assert_int_equal(cp, 0x2800u + canvas.dots[1][0]);
}

static void test_horizontal_line_every_column(void **state)
{
    (void)state;
    const ChartGlyphs modes[] = { CHART_BRAILLE, CHART_BLOCK, CHART_ASCII };
    for (int m = 0; m < 3; m++) {
        chart_begin(&canvas, 30, 5, modes[m]);
        ChartAxis ax = { 0, 10, 0, 2, 0 };
        double x[] = { 0, 10 }, y[] = { 1, 1 };
        chart_line(&canvas, &ax, x, y, 2, 1, 'o');
        int filled_rows = 0;
        for (int r = 0; r < 5; r++) {
            int cnt = 0;
            char g[8];
            int role;
            for (int col = 0; col < 30; col++)
                cnt += chart_cell(&canvas, r, col, g, &role);
            if (cnt) {
                assert_int_equal(cnt, 30);
                filled_rows++;
            }
        }
        assert_int_equal(filled_rows, 1);
    }
    char g[8];
    int role;
    chart_cell(&canvas, 2, 3, g, &role);
    assert_string_equal(g, "o");                    /* ASCII mode uses the series glyph */
}

static void test_block_halves(void **state)
{
    (void)state;
    chart_begin(&canvas, 1, 1, CHART_BLOCK);
    ChartAxis ax = { 0, 1, 0, 1, 0 };
    assert_int_equal(chart_dots_y(&canvas), 2);
    double x[] = { 0.5 }, top[] = { 1 }, bottom[] = { 0 };
    char g[8];
    int role;
    chart_line(&canvas, &ax, x, top, 1, 1, '*');
    chart_cell(&canvas, 0, 0, g, &role);
    assert_string_equal(g, "\xe2\x96\x80");         /* upper half block */
    chart_line(&canvas, &ax, x, bottom, 1, 1, '*');
    chart_cell(&canvas, 0, 0, g, &role);
    assert_string_equal(g, "\xe2\x96\x88");         /* full block */
}

static void test_log_y_and_bad_values(void **state)
{
    (void)state;
    chart_begin(&canvas, 10, 10, CHART_ASCII);
    ChartAxis ax = { 0, 3, 0, 0, 1 };
    double x[] = { 0, 1, 2, 3 }, y[] = { 1, 10, 100, 1000 };
    chart_fit(&ax, x, y, 4, 1);
    assert_true(ax.ymin == 1 && ax.ymax == 1000);
    /* On a log axis 10 and 100 are evenly spaced: rows 6 and 3 of 0..9 (9 * 2/3, 9 * 1/3). */
    assert_int_equal(chart_row(&canvas, &ax, 10), 6);
    assert_int_equal(chart_row(&canvas, &ax, 100), 3);
    double yb[] = { NAN, -1, 0, INFINITY };
    chart_line(&canvas, &ax, x, yb, 4, 1, '*');
    for (int r = 0; r < 10; r++)
        for (int col = 0; col < 10; col++)
            assert_int_equal(canvas.dots[r][col], 0);
    /* Fitting on log ignores non-positive values. */
    double y2[] = { -5, 0, 2, 4 };
    ChartAxis ax2 = { 0, 0, 0, 0, 1 };
    chart_fit(&ax2, x, y2, 4, 1);
    assert_true(ax2.ymin == 2 && ax2.ymax == 4 && ax2.xmin == 2 && ax2.xmax == 3);
}

static void test_far_out_of_range_stays_inside(void **state)
{
    (void)state;
    chart_begin(&canvas, CHART_MAX_W + 50, CHART_MAX_H + 50, CHART_BRAILLE);
    assert_int_equal(canvas.w, CHART_MAX_W);
    assert_int_equal(canvas.h, CHART_MAX_H);
    chart_begin(&canvas, 8, 4, CHART_BRAILLE);
    canvas.dots[4][0] = 0;  /* the row after the canvas must stay empty */
    ChartAxis ax = { 0, 1, 0, 1, 0 };
    double x[] = { -1e12, 0.5, 1e12 }, y[] = { 1e12, 0.5, -1e12 };
    chart_line(&canvas, &ax, x, y, 3, 1, '*');
    assert_int_equal(canvas.dots[4][0], 0);
    for (int col = 8; col < 16; col++)
        assert_int_equal(canvas.dots[0][col], 0);
    int nonempty = 0;
    for (int r = 0; r < 4; r++)
        for (int col = 0; col < 8; col++)
            nonempty += canvas.dots[r][col] != 0;
    assert_true(nonempty >= 4);                     /* the clipped segments still cross */
    assert_int_equal(chart_point(&canvas, &ax, 2, 0.5, CHART_MARK_POINT, 1), 0);
}

static void test_marks_priority(void **state)
{
    (void)state;
    chart_begin(&canvas, 10, 5, CHART_ASCII);
    ChartAxis ax = { 0, 9, 0, 4, 0 };
    chart_vline(&canvas, &ax, 3, 2);
    assert_int_equal(chart_point(&canvas, &ax, 3, 2, CHART_MARK_POINT, 4), 1);
    assert_int_equal(chart_point(&canvas, &ax, 3, 2, CHART_MARK_FRONT, 5), 1);
    chart_vline(&canvas, &ax, 3, 2);               /* a line never hides a point */
    char g[8];
    int role;
    chart_cell(&canvas, 2, 3, g, &role);
    assert_string_equal(g, "#");
    assert_int_equal(role, 5);
    chart_point(&canvas, &ax, 3, 2, CHART_MARK_POINT, 4);  /* dominated never hides front */
    chart_cell(&canvas, 2, 3, g, &role);
    assert_string_equal(g, "#");
    chart_point(&canvas, &ax, 3, 2, CHART_MARK_CURSOR, 6);
    chart_cell(&canvas, 2, 3, g, &role);
    assert_string_equal(g, "@");
    chart_cell(&canvas, 0, 3, g, &role);
    assert_string_equal(g, "|");
    assert_int_equal(chart_cell(&canvas, 7, 3, g, &role), 0);
}

static void test_format(void **state)
{
    (void)state;
    char b[16];
    chart_format(3.4159, b, sizeof b);
    assert_string_equal(b, "3.42");
    chart_format(1234, b, sizeof b);
    assert_string_equal(b, "1.2k");
    chart_format(0.00004, b, sizeof b);
    assert_string_equal(b, "4.0e-05");
    chart_format(NAN, b, sizeof b);
    assert_string_equal(b, "-");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_braille_diagonal),
        cmocka_unit_test(test_horizontal_line_every_column),
        cmocka_unit_test(test_block_halves),
        cmocka_unit_test(test_log_y_and_bad_values),
        cmocka_unit_test(test_far_out_of_range_stays_inside),
        cmocka_unit_test(test_marks_priority),
        cmocka_unit_test(test_format),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
