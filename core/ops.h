/* Kernel pairs for the Transformer, llm.c style: each forward is followed by its backward, the
 * backward accumulates (+=) into its input gradients (zeroing is the caller's explicit call).
 * Activations are tight row-major (N, C) arrays (N = B·T rows); weights may be strided views.
 * Linear layers live in ops_blas.h. These kernels allocate nothing and never print. */
#ifndef MOS_OPS_H
#define MOS_OPS_H

#include <stdint.h>

#include "rng.h"

#define LN_EPS 1e-5f

/* Sinusoidal position table as fairseq: row p (0 <= p < rows) holds position p; the first half
 * of the C columns are sin(p · f_i), the second half cos(p · f_i), f_i = 10000^(-i/(C/2-1));
 * row pad is zero. table is (rows, C). Subnets read its first d columns. */
void positions_init(float *table, int rows, int C, int pad);

/* out (B·T, C) = scale · E[tok, 0:C] + P[pos, 0:C], pos = pad + (number of non-pad tokens in
 * tok[b, 0..t]) as fairseq's make_positions (pad tokens take row pad, which is zero).
 * tok (B, T); E is (V, ldE); P is (rows, ldP) with rows > pad + T. */
void embedding_forward(float *out, const int *tok, const float *E, int ldE, const float *P,
                       int ldP, int B, int T, int C, float scale, int pad);
/* dE[tok, 0:C] += scale · dout for every non-pad token (the pad row gets nothing, as PyTorch's
 * padding_idx). dout (B·T, C). */
void embedding_backward(float *dE, int ldE, const float *dout, const int *tok, int N, int C,
                        float scale, int pad);

/* out (N, C) = (inp - mean) · rstd · g + b per row; saves mean (N), rstd (N). */
void layernorm_forward(float *out, float *mean, float *rstd, const float *inp, const float *g,
                       const float *b, int N, int C);
/* dinp (N, C) += ..., dg (C) += ..., db (C) += ... given dout (N, C) and the saved stats. */
void layernorm_backward(float *dinp, float *dg, float *db, const float *dout, const float *inp,
                        const float *g, const float *mean, const float *rstd, int N, int C);

/* x (N) = 0 (split over the threads: a memset of a large buffer is otherwise a serial gap). */
void ops_zero(float *x, long N);

/* x (N) = max(x, 0) in place. Backward: dx (N) *= (out > 0), in place (out is the forward's
 * output). */
void relu_forward(float *x, long N);
void relu_backward_inplace(float *dx, const float *out, long N);

/* Inverted dropout in place: x (N) *= keep / (1 - p'), keep ~ Bernoulli(1 - p') saved in mask
 * (N). The flags come from one rng_next of rng (the call's key) through a counter-based
 * generator: entry i's 16-bit draw is a function of (key, i) only (so p' is p rounded to a
 * multiple of 2^-16, and a split over threads draws exactly what one thread would).
 * p == 0: nothing (mask untouched, rng not advanced). Backward: dx *= the same factor. Attention
 * dropout draws the same way. */
void dropout_forward(float *x, uint8_t *mask, long N, float p, Rng *rng);
void dropout_backward(float *dx, const uint8_t *mask, long N, float p);

/* out (N) = a + b. Backward: da += dout, db += dout (either may be NULL). */
void residual_forward(float *out, const float *a, const float *b, long N);
void residual_backward(float *da, float *db, const float *dout, long N);

/* Multi-head attention core (the projections are linears around it).
 * Keys: nblk blocks of Tk keys per batch row (HAT's arbitrary encoder-decoder attention
 * concatenates the last nblk encoder layers along time; self-attention uses nblk = 1).
 * Query row (b, i) is q + (b·Tq + i)·ldq, columns h·HS .. (h+1)·HS for head h (HS = QD / NH).
 * Key row (b, j, t) is k + j·blk + (b·kbs + t)·ldkv; value row likewise from v.
 * out row (b, i) is out + (b·Tq + i)·QD.
 * Masks: key t is excluded when key_tok[b·kbs + t] == pad (key_tok may be NULL), and when causal
 * and t > i + (Tk - Tq) (query i sits at absolute position Tk - Tq + i).
 * Scores are scaled by HS^-1/2; attention dropout p (rng NULL: none) takes one rng_next as its
 * key and numbers the entries in (b, h, i, key) order (see dropout_forward). Probabilities are
 * not saved: the backward recomputes them and replays the dropout from a copy of the rng state
 * taken before the forward (rng_saved). scratch holds max(1, nscratch) blocks of
 * 3 · Tq · nblk·Tk floats; batch rows are split over at most nscratch threads (one block each). */
typedef struct AttnDims {
    int B, Tq, Tk, nblk, NH, QD;   /* QD: qkv dim (all heads) */
    int ldq, ldkv, kbs;            /* leading dims (floats) and key rows between batch rows */
    long blk;                      /* floats between key blocks */
    int causal, pad;
    const int *key_tok;
    int nscratch;                  /* scratch blocks (0 or 1: one thread) */
} AttnDims;

/* Scratch blocks the supernet's training record provides (its attention uses up to this many
 * threads). */
#define ATTN_SCRATCH_BLOCKS 4

void attention_forward(float *out, const float *q, const float *k, const float *v,
                       const AttnDims *d, float p, Rng *rng, float *scratch);
/* dq, dk, dv (laid out as q, k, v) += gradients given dout (laid out as out). */
void attention_backward(float *dq, float *dk, float *dv, const float *dout, const float *q,
                        const float *k, const float *v, const AttnDims *d, float p,
                        const Rng *rng_saved, float *scratch);

/* exp(x) for x <= 0 (x < -87 is treated as -87), written so that loops over it vectorize:
 * Cody-Waite reduction x = n·ln2 + r, |r| <= ln2/2, degree-7 polynomial for e^r, 2^n from the
 * exponent bits. Relative error below 3e-7 (tests/core/test_ops.c). */
float ops_exp(float x);

/* log sum_c exp(z[c]) over one row of V values (vectorized, via ops_exp). */
float ops_logsumexp(const float *z, int V);

/* Label-smoothed cross-entropy as fairseq (HAT era): per row with target y != pad,
 * loss = (1 - eps) · (-log p_y) + (eps / V) · sum_v (-log p_v).
 * Forward: logits (N, V) are replaced by probabilities; returns the summed loss over non-pad
 * rows, *nll (if not NULL) += summed -log p_y. Backward: probs are replaced in place by
 * dlogits = dloss · (p - (1 - eps)·onehot(y) - eps / V), zero rows for pad targets. */
double xent_forward(float *logits, const int *target, int N, int V, float eps, int pad,
                    double *nll);
void xent_backward(float *probs, const int *target, int N, int V, float eps, int pad,
                   float dloss);

#endif
