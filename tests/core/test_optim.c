/* Adam against hand-computed steps (fairseq's bias correction), HAT's schedule against its
 * formula at the points a user would check, and the gradient norm. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <math.h>
#include <cmocka.h>

#include "optim.h"

static void adam_matches_hand_computation(void **state)
{
    (void)state;
    float p[2] = {1.0f, -2.0f}, g[2] = {0.5f, -4.0f}, m[2] = {0}, v[2] = {0};
    /* step 1: m = 0.1 g, v = 0.02 g^2; step size lr * sqrt(0.02) / 0.1; m/sqrt(v) = sign(g) *
     * 0.1/sqrt(0.02) so p moves by lr * sign(g) (up to eps) */
    optim_adam(p, g, m, v, 2, 0.01, 0.9f, 0.98f, 1e-8f, 1);
    assert_float_equal(m[0], 0.05f, 1e-7);
    assert_float_equal(v[1], 0.02f * 16.0f, 1e-6);
    assert_float_equal(p[0], 1.0f - 0.01f, 1e-6);
    assert_float_equal(p[1], -2.0f + 0.01f, 1e-6);
    /* step 2 with a different gradient, against the formula in double */
    double m0 = 0.05, v0 = 0.02 * 0.25, gg = -1.0;
    double m1 = 0.9 * m0 + 0.1 * gg, v1 = 0.98 * v0 + 0.02 * gg * gg;
    double step = 0.01 * sqrt(1 - 0.98 * 0.98) / (1 - 0.9 * 0.9);
    double want = (1.0 - 0.01) - step * m1 / (sqrt(v1) + 1e-8);
    g[0] = -1.0f;
    g[1] = 0.0f;
    optim_adam(p, g, m, v, 2, 0.01, 0.9f, 0.98f, 1e-8f, 2);
    assert_float_equal(p[0], (float)want, 1e-6);
    assert_float_equal(m[0], (float)m1, 1e-7);
}

static void schedule_is_warmup_then_one_cosine(void **state)
{
    (void)state;
    TrainConfig t = {.warmup_updates = 100, .max_update = 1100, .lr = 1e-3f,
                     .warmup_init_lr = 1e-7f, .min_lr = 1e-7f};
    assert_float_equal(optim_lr(&t, 0), 1e-7, 1e-12);
    assert_float_equal(optim_lr(&t, 50), 1e-7 + 50 * (1e-3 - 1e-7) / 100, 1e-9);
    assert_float_equal(optim_lr(&t, 100), 1e-3, 1e-9);
    assert_float_equal(optim_lr(&t, 600), (1e-3 + 1e-7) / 2, 1e-9);
    assert_float_equal(optim_lr(&t, 350), 1e-7 + 0.5 * (1e-3 - 1e-7) * (1 + cos(M_PI / 4)),
                       1e-9);
    assert_float_equal(optim_lr(&t, 1100), 1e-7, 1e-12);
    assert_float_equal(optim_lr(&t, 5000), 1e-7, 1e-12);
    for (long s = 101; s <= 1100; s++)
        assert_true(optim_lr(&t, s) <= optim_lr(&t, s - 1));
}

static void grad_norm_and_scale(void **state)
{
    (void)state;
    float g[3] = {3.0f, 0.0f, -4.0f};
    assert_float_equal(optim_grad_norm(g, 3), 5.0, 1e-12);
    optim_scale(g, 3, 0.5f);
    assert_float_equal(optim_grad_norm(g, 3), 2.5, 1e-12);
    assert_float_equal(optim_grad_norm(g, 0), 0.0, 0.0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(adam_matches_hand_computation),
        cmocka_unit_test(schedule_is_warmup_then_one_cosine),
        cmocka_unit_test(grad_norm_and_scale),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
