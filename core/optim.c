/* Adam, the LR schedule and gradient norms (see optim.h). Element loops are plain so the
 * compiler vectorises them; results depend only on the inputs (no threads), so training is
 * bit-reproducible. */
#include "optim.h"

#include <math.h>

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

void optim_scale(float *g, size_t n, float s)
{
    for (size_t i = 0; i < n; i++)
        g[i] *= s;
}

void optim_adam(float *p, const float *g, float *m, float *v, size_t n, double lr, float b1,
                float b2, float eps, long t)
{
    double bc1 = 1.0 - pow(b1, (double)t), bc2 = 1.0 - pow(b2, (double)t);
    float step = (float)(lr * sqrt(bc2) / bc1);
    float c1 = 1.0f - b1, c2 = 1.0f - b2;
    for (size_t i = 0; i < n; i++) {
        float gi = g[i];
        float mi = b1 * m[i] + c1 * gi;
        float vi = b2 * v[i] + c2 * gi * gi;
        m[i] = mi;
        v[i] = vi;
        p[i] -= step * mi / (sqrtf(vi) + eps);
    }
}
