/* The RNG behind sampling, init and search: determinism for a seed (resume and reproducible
 * searches rely on it) and unbiased ranges. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "rng.h"

static void same_seed_same_stream(void **state)
{
    (void)state;
    Rng a, b;
    rng_seed(&a, 42);
    rng_seed(&b, 42);
    for (int i = 0; i < 1000; i++)
        assert_int_equal(rng_next(&a), rng_next(&b));
    rng_seed(&b, 43);
    assert_int_not_equal(rng_next(&a), rng_next(&b));
}

static void below_is_in_range_and_covers_it(void **state)
{
    (void)state;
    Rng r;
    rng_seed(&r, 7);
    int hits[6] = {0};
    for (int i = 0; i < 60000; i++) {
        uint32_t x = rng_below(&r, 6);
        assert_true(x < 6);
        hits[x]++;
    }
    for (int k = 0; k < 6; k++)
        assert_in_range(hits[k], 9500, 10500);
}

static void float_and_normal_moments(void **state)
{
    (void)state;
    Rng r;
    rng_seed(&r, 1);
    double s = 0, s2 = 0, u = 0;
    const int n = 200000;
    for (int i = 0; i < n; i++) {
        float f = rng_float(&r);
        assert_true(f >= 0.0f && f < 1.0f);
        u += f;
        float z = rng_normal(&r);
        s += z;
        s2 += (double)z * z;
    }
    assert_true(u / n > 0.49 && u / n < 0.51);
    assert_true(s / n > -0.02 && s / n < 0.02);
    assert_true(s2 / n > 0.97 && s2 / n < 1.03);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(same_seed_same_stream),
        cmocka_unit_test(below_is_in_range_and_covers_it),
        cmocka_unit_test(float_and_normal_moments),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
