/* Adam, the LR schedule and gradient norms (see optim.h). Element loops are plain so the
 * compiler vectorises them; Adam and the scaling are split over mos's threads by element ranges,
 * so every result depends only on the inputs (not on the thread count) and training is
 * bit-reproducible. */
#include "optim.h"

#include <math.h>

#include "ops_blas.h"

double optim_lr(const TrainConfig *t, long step)
{
    if (step < t->warmup_updates)
        return t->warmup_init_lr +
               (double)step * ((double)t->lr - t->warmup_init_lr) / t->warmup_updates;
    double period = (double)(t->max_update - t->warmup_updates);
    double x = (double)(step - t->warmup_updates) / period;
    if (x > 1.0)
        x = 1.0;
    return t->min_lr + 0.5 * ((double)t->lr - t->min_lr) * (1.0 + cos(M_PI * x));
}

double optim_grad_norm(const float *g, size_t n)
{
    double s = 0.0;
    for (size_t i = 0; i < n; i++)
        s += (double)g[i] * g[i];
    return sqrt(s);
}

typedef struct OptJob {
    float *p, *m, *v, *g;
    size_t n;
    float s, step, b1, b2, c1, c2, eps;
} OptJob;

static void scale_part(void *arg, int p, int np)
{
    const OptJob *j = arg;
    float *g = j->g, s = j->s;   /* locals: the loop vectorizes (-fno-strict-aliasing) */
    long i1 = blas_part_lo((long)j->n, p + 1, np);
    for (long i = blas_part_lo((long)j->n, p, np); i < i1; i++)
        g[i] *= s;
}

void optim_scale(float *g, size_t n, float s)
{
    OptJob j = {.g = g, .n = n, .s = s};
    blas_parallel(scale_part, &j, (long)n);
}

static void adam_part(void *arg, int p_, int np)
{
    const OptJob *j = arg;
    float *p = j->p, *m = j->m, *v = j->v, step = j->step, eps = j->eps;
    const float *g = j->g;
    float b1 = j->b1, b2 = j->b2, c1 = j->c1, c2 = j->c2;
    long i1 = blas_part_lo((long)j->n, p_ + 1, np);
    for (long i = blas_part_lo((long)j->n, p_, np); i < i1; i++) {
        float gi = g[i];
        float mi = b1 * m[i] + c1 * gi;
        float vi = b2 * v[i] + c2 * gi * gi;
        m[i] = mi;
        v[i] = vi;
        p[i] -= step * mi / (sqrtf(vi) + eps);
    }
}

void optim_adam(float *p, const float *g, float *m, float *v, size_t n, double lr, float b1,
                float b2, float eps, long t)
{
    double bc1 = 1.0 - pow(b1, (double)t), bc2 = 1.0 - pow(b2, (double)t);
    OptJob j = {.p = p, .g = (float *)g, .m = m, .v = v, .n = n,
                .step = (float)(lr * sqrt(bc2) / bc1), .b1 = b1, .b2 = b2, .c1 = 1.0f - b1,
                .c2 = 1.0f - b2, .eps = eps};
    blas_parallel(adam_part, &j, (long)n);
}
