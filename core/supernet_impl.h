/* Private to supernet*.c: the parameter offsets, per-layer views of a subnet and the activation
 * record of one step. Views are built once per layer per step by supernet_*_view (supernet.c),
 * the one place the slicing rule of supernet.h is implemented. Activations are carved from one
 * block sized for the worst case at supernet_new; nothing here allocates during a step. */
#ifndef MOS_SUPERNET_IMPL_H
#define MOS_SUPERNET_IMPL_H

#include "ffn.h"
#include "ops.h"
#include "supernet.h"

#define XENT_CHUNK 512   /* rows of logits computed at once by the loss head */

typedef struct LinP { size_t w, b; int out, in; } LinP;   /* (out_max, in_max) + bias */
typedef struct LnP { size_t g, b; } LnP;

typedef struct EncLayerP { LinP qkv, out; LnP ln1, ln2; } EncLayerP;
typedef struct DecLayerP { LinP qkv, out, eq, ekv, eout; LnP ln1, ln2, ln3; } DecLayerP;

/* A sliced linear: w (out, ldw) first `in` columns; dw/db NULL without backward. */
typedef struct LinView { const float *w, *b; float *dw, *db; int ldw; } LinView;
typedef struct LnView { const float *g, *b; float *dg, *db; } LnView;

typedef struct EncView {
    LinView qkv, out;
    LnView ln1, ln2;
    FfnView ffn;
    int d, F, NH;
} EncView;

typedef struct DecView {
    LinView qkv, out, eq, ekv, eout;
    LnView ln1, ln2, ln3;
    FfnView ffn;
    int d, de, F, NH, NHe, nblk;   /* nblk: encoder layers attended (1..3) */
} DecView;

/* A residual sublayer's saved tensors. Post-LN: x2 = x + drop(F(x)), out = LN(x2).
 * Pre-LN: x2 = LN(x), out = x + drop(F(x2)). mask: dropout keep flags (NULL: no dropout). */
typedef struct SubAct { float *x2, *out, *mean, *rstd; uint8_t *mask; } SubAct;

typedef struct EncAct {
    SubAct sa, ff;
    float *qkv, *att, *f;        /* (N, 3Q), (N, Q), (N, F) relu output */
    Rng rng_att;                 /* state before attention dropout (replayed by backward) */
} EncAct;

typedef struct DecAct {
    SubAct sa, ca, ff;
    float *qkv, *att, *cq, *ckv, *catt, *f;
    Rng rng_att, rng_catt;
} DecAct;

typedef struct Acts {
    int B, Ts, Tt, Ns, Nt, nf;   /* nf: encoder outputs kept for cross-attention (<= 3) */
    int Le, de;                  /* active encoder layers and width */
    float *emb_e, *emb_d;        /* embeddings after dropout (Ns, de), (Nt, dd) */
    uint8_t *mask_e, *mask_d;
    float *encout;               /* (Le, Ns, de): layer l's output at l·Ns·de */
    float *encf, *encf_mean, *encf_rstd;   /* pre-LN: final LN of the last nf outputs */
    EncAct enc[ARCH_MAX_LAYERS];
    DecAct dec[ARCH_MAX_LAYERS];
    EncView ev[ARCH_MAX_LAYERS];           /* views built once per step (MoS mixes once) */
    DecView dv[ARCH_MAX_LAYERS];
    float *decf, *decf_mean, *decf_rstd;   /* pre-LN: final decoder LN (Nt, dd) */
    float *tmp, *logits, *scratch;
    /* backward */
    float *dh, *dx0, *dx1, *dmid, *dmid2, *dtmp, *dpre, *dqkv, *datt, *df, *dcq, *dckv;
    float *dencout, *dencf, *demb;
} Acts;

/* Decoding workspace for `beam` hypotheses and `cap` positions (grown on demand, one block). */
typedef struct DecodeWs {
    int beam, cap, src_cap;
    float *block;
    int *iblock;
    float *kv[ARCH_MAX_LAYERS];  /* self-attention cache (beam, cap, 2Q) */
    float *kvspare;              /* reorder target, swapped with kv[l] */
    float *ckv[ARCH_MAX_LAYERS]; /* cross-attention keys/values (nblk, Ts, 2Q) */
    float *x, *ya, *yb, *x2a, *x2b, *x2c, *mean, *rstd, *qkv, *att, *cq, *catt, *f, *tmp;
    float *logits, *scratch;
    int *src, *tok, *tokspare, *cand_k, *cand_v, *best;
    float *score, *cand_s;
} DecodeWs;

struct Supernet {
    ModelConfig cfg;
    int max_tokens, tmax;        /* tokens a side; longest sentence */
    int De, Dd, Dm, Fe, Fd, Q, V, Le, Ld;   /* maxima */
    ParamLayout lay;
    float *params, *grads, *adam_m, *adam_v;
    size_t embed;                /* (V, Dm) */
    EncLayerP enc[ARCH_MAX_LAYERS];
    DecLayerP dec[ARCH_MAX_LAYERS];
    LnP enc_ln, dec_ln;          /* pre-LN only */
    Ffn ffn;
    float *pos_e, *pos_d;        /* (pos_rows, De), (pos_rows, Dd) */
    int pos_rows;
    float *act;
    size_t act_floats;
    uint8_t *mask;
    size_t mask_bytes;
    Acts acts;
    DecodeWs dws;
};

/* Views of encoder / decoder layer l for arch a; grads NULL: no backward. */
void supernet_enc_view(Supernet *s, const Arch *a, int l, int want_grads, EncView *v);
void supernet_dec_view(Supernet *s, const Arch *a, int l, int want_grads, DecView *v);
int supernet_ende_blocks(const Arch *a, int l);

/* Carves the activation record for a batch (base NULL: only counts). Returns floats used;
 * *mask_bytes gets the dropout-mask bytes. */
size_t supernet_carve(Supernet *s, Acts *x, float *base, uint8_t *mbase, size_t *mask_bytes,
                      int B, int Ts, int Tt, const Arch *a, int train);

/* Residual sublayer helpers shared by the forward, backward and decoder. */
const float *sub_begin(const SubAct *sa, const LnView *ln, const float *x, int N, int d,
                       int pre);
void sub_end(const SubAct *sa, const LnView *ln, const float *x, float *s, int N, int d, int pre,
             float p, Rng *rng);

/* Forward passes (supernet_fwd.c) and backward passes (supernet_bwd.c). */
void supernet_encoder_forward(Supernet *s, const Arch *a, const int *src, Rng *rng, int train);
void supernet_decoder_forward(Supernet *s, const Arch *a, const int *src, const int *tgt,
                              Rng *rng, int train);
/* Self-attention dims over the fused (N, 3Q) q|k|v buffer of a batch of x->B rows of T, using
 * the ATTN_SCRATCH_BLOCKS scratch blocks of the activation record. */
AttnDims supernet_self_dims(const Acts *x, int T, int NH, int Q, int causal, const int *key_tok,
                            int pad);
float *supernet_cross_input(Supernet *s, float *encout, float *encf, int nblk);
/* Cross-attention dims: B rows of Tq queries over nblk blocks of Ts keys (kbs key rows between
 * batch rows; 0 lets every row share one source, as beams do); enc_rows: rows per block. One
 * scratch block (nscratch 0): the training passes set nscratch for their record. */
AttnDims supernet_cross_dims(int B, int Tq, int Ts, const DecView *v, int Q, const int *src,
                             int pad, int kbs, int enc_rows);
double supernet_head(Supernet *s, const Arch *a, const int *target, int train, double *nll);
void supernet_decoder_backward(Supernet *s, const Arch *a, const int *src, const int *tgt);
void supernet_encoder_backward(Supernet *s, const Arch *a, const int *src);

#endif
