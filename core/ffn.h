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
#include "mos.h"
#include "supernet.h"

/* One layer's FFN parameters (offsets into the params block) at max dims D (embed), F (ffn).
 * mos none: fc1_w .. fc2_b. MoS: the experts and routers of mos_ffn_tensors at mos_off[], the
 * layer's mixing state in mos (its mixed weights and dW accumulators in scratch, malloc'ed). */
typedef struct FfnSlot {
    size_t fc1_w, fc1_b, fc2_w, fc2_b;
    int D, F;
    size_t mos_off[MOS_MAX_TENSORS];
    MosFfn mos;
    float *scratch;
} FfnSlot;

/* Slots 0 .. enc_layers_max-1 are encoder layers, then decoder layers. params / grads: the
 * blocks the MoS state currently points into (grads kept from the last call that had them). */
typedef struct Ffn {
    FfnSlot slot[2 * ARCH_MAX_LAYERS];
    int nslots;
    const ModelConfig *cfg;
    float *params, *grads;
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
/* Registers slot's tensors under prefix (e.g. "encoder.layers.0"); -1 with err on failure
 * (bad MoS options, out of memory). mos none: "<prefix>.fc1.weight" (F, D), ".fc1.bias",
 * ".fc2.weight" (D, F), ".fc2.bias". MoS: "<prefix>.fc1.experts.<i>.weight" etc. and the
 * router tensors (mos.h mos_ffn_tensors), registered with INIT_ZERO: ffn_init_params sets them. */
int ffn_layout(Ffn *f, int slot, ParamLayout *lay, const char *prefix, int D, int F,
               MosErr *err);
void ffn_done(Ffn *f);

/* MoS: the reference init of every layer's experts and routers (mos_ffn_init) from seed, after
 * the supernet's own init. mos none: nothing. */
void ffn_init_params(Ffn *f, float *params, uint64_t seed);

/* Builds the view of slot for arch a, embed dim d and ffn dim F (grads may be NULL when no
 * backward follows). */
void ffn_weights_forward(Ffn *f, int slot, const float *params, float *grads, const Arch *a,
                         int d, int F, FfnView *v);
/* Routes the view's accumulated dW1/db1/dW2/db2 into the parameter gradients (m = 1: they were
 * accumulated in place, nothing to do). MoS: nothing either — dW(a) stays in the layer's
 * accumulator across micro-batches of the same arch and is pushed to the experts and routers
 * once, by ffn_flush_grads or when the layer's arch key changes. */
void ffn_weights_backward(Ffn *f, int slot, const float *params, float *grads, const Arch *a,
                          int d, int F, const FfnView *v);

/* MoS: pushes every layer's pending dW(a) into the expert and router gradients. Call before
 * reading the gradient block (norm, clipping, optimizer); supernet_grads does. */
void ffn_flush_grads(Ffn *f);
/* MoS: the parameters changed (optimizer step, load): flushes, then forgets every W(a). */
void ffn_params_changed(Ffn *f);
/* MoS: drops pending dW(a) (the gradient block was zeroed). */
void ffn_zero_grads(Ffn *f);

/* MoS: gate summary of slot for arch a (mixes W(a) if needed). -1 when mos is none. */
int ffn_gates(Ffn *f, int slot, const float *params, const Arch *a, int d, int F,
              MosGates *out);

/* Writes slot's FFN weights for arch a as plain tensors: W1(a) (F, d) into w1 with leading dim
 * ldw1, b1(a) (F), W2(a) (d, F) into w2 (ld ldw2), b2(a) (d); nothing else is touched. mos none:
 * copies of the plain slices. */
void ffn_collapse(Ffn *f, int slot, const float *params, const Arch *a, int d, int F,
                  float *w1, int ldw1, float *b1, float *w2, int ldw2, float *b2);

#endif
