/* Where a layer's FFN weights come from: the hook MoS extends. For m = 1 (mos: none) the
 * weights of arch a are plain first-k slices of fc1 (F_max, D_max) and fc2 (D_max, F_max), and
 * the backward accumulates straight into their gradients. MoS (core/mos.c) replaces the slices
 * by mixtures of experts W(a) = sum_i alpha_i E_i built here, and routes dW back to the experts
 * and routers in ffn_weights_backward. The model only sees FfnView. */
#ifndef MOS_FFN_H
#define MOS_FFN_H

#include "arch.h"
#include "config.h"
#include "err.h"
#include "supernet.h"

/* One layer's FFN parameters (offsets into the params block) at max dims D (embed), F (ffn). */
typedef struct FfnSlot {
    size_t fc1_w, fc1_b, fc2_w, fc2_b;
    int D, F;
} FfnSlot;

/* Slots 0 .. enc_layers_max-1 are encoder layers, then decoder layers. */
typedef struct Ffn {
    FfnSlot slot[2 * ARCH_MAX_LAYERS];
    int nslots;
    const ModelConfig *cfg;
} Ffn;

/* The weights the model uses for one layer and arch: w1 (F, ldw1) first d columns, b1 (F);
 * w2 (d, ldw2) first F columns, b2 (d). dw1/db1/dw2/db2 (same layouts) receive the backward's
 * accumulation. */
typedef struct FfnView {
    const float *w1, *b1, *w2, *b2;
    int ldw1, ldw2;
    float *dw1, *db1, *dw2, *db2;
} FfnView;

void ffn_init(Ffn *f, const ModelConfig *cfg);
/* Registers slot's tensors under prefix (e.g. "encoder.layers.0"); -1 with err on failure. */
int ffn_layout(Ffn *f, int slot, ParamLayout *lay, const char *prefix, int D, int F,
               MosErr *err);
void ffn_done(Ffn *f);

/* Builds the view of slot for arch a, embed dim d and ffn dim F (grads may be NULL when no
 * backward follows). */
void ffn_weights_forward(Ffn *f, int slot, const float *params, float *grads, const Arch *a,
                         int d, int F, FfnView *v);
/* Routes the view's accumulated dW1/db1/dW2/db2 into the parameter gradients (m = 1: they were
 * accumulated in place, nothing to do). */
void ffn_weights_backward(Ffn *f, int slot, const float *params, float *grads, const Arch *a,
                          int d, int F, const FfnView *v);

#endif
