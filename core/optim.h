/* Adam as fairseq implements it (bias-corrected step size, eps added to sqrt(v)) over the
 * contiguous parameter, gradient and moment blocks, HAT's learning-rate schedule (linear warmup,
 * then one cosine period down to the floor) and the global gradient norm with optional clipping.
 * No state beyond the moment blocks and the update count the caller keeps. */
#ifndef MOS_OPTIM_H
#define MOS_OPTIM_H

#include <stddef.h>

#include "config.h"

/* Learning rate for update `step` (0-based): warmup_init_lr + step * (lr - warmup_init_lr) /
 * warmup_updates while step < warmup_updates, then min_lr + (lr - min_lr)/2 *
 * (1 + cos(pi * (step - warmup) / (max_update - warmup))). */
double optim_lr(const TrainConfig *t, long step);

/* L2 norm of g[0..n), accumulated in double. */
double optim_grad_norm(const float *g, size_t n);

/* g *= s. */
void optim_scale(float *g, size_t n, float s);

/* One Adam step on n parameters; t is the 1-based count of steps taken including this one.
 * m = b1 m + (1-b1) g; v = b2 v + (1-b2) g^2;
 * p -= lr * sqrt(1 - b2^t) / (1 - b1^t) * m / (sqrt(v) + eps). */
void optim_adam(float *p, const float *g, float *m, float *v, size_t n, double lr, float b1,
                float b2, float eps, long t);

#endif
