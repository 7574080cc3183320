/* Backward pass of a subnet over the batch last run forward with train = 1: from the gradient
 * of the final hidden states (left by the loss head) down to the embeddings. Parameter
 * gradients accumulate into s->grads (FFN ones through the FfnView, then ffn_weights_backward);
 * activation gradients use the scratch buffers of s->acts, zeroed here before each use. */
#include <math.h>

#include "ops.h"
#include "ops_blas.h"
#include "supernet_impl.h"

static void zero(float *p, size_t n) { ops_zero(p, (long)n); }

/* Residual end of a sublayer. Post-LN: dr = LN'(dout), dx += dr, ds = drop'(dr).
 * Pre-LN: dx += dout, ds = drop'(dout). ds (N, d) is overwritten. */
static void sub_end_backward(float *ds, float *dx, const float *dout, const SubAct *sa,
                             const LnView *ln, int N, int d, int pre, float p)
{
    long n = (long)N * d;
    zero(ds, (size_t)n);
    if (pre) {
        residual_backward(dx, ds, dout, n);
    } else {
        layernorm_backward(ds, ln->dg, ln->db, dout, sa->x2, ln->g, sa->mean, sa->rstd, N, d);
        residual_backward(dx, NULL, ds, n);
    }
    if (sa->mask)
        dropout_backward(ds, sa->mask, n, p);
}

/* Where the sublayer body accumulates the gradient of its input: dx itself (post-LN) or a
 * zeroed buffer that sub_begin_backward then sends through the pre-LayerNorm. */
static float *sub_begin_target(float *dx, float *dpre, int N, int d, int pre)
{
    if (!pre)
        return dx;
    zero(dpre, (size_t)N * d);
    return dpre;
}

static void sub_begin_backward(float *dx, const float *dpre, const SubAct *sa, const LnView *ln,
                               const float *x, int N, int d, int pre)
{
    if (pre)
        layernorm_backward(dx, ln->dg, ln->db, dpre, x, ln->g, sa->mean, sa->rstd, N, d);
}

/* FFN sublayer with input x (N, d) and output gradient dout; dx += input gradient. */
static void ffn_sub_backward(Supernet *s, const FfnView *v, const LnView *ln, const SubAct *ff,
                             const float *f, const float *x, const float *dout, float *dx, int N,
                             int d, int F, float p)
{
    Acts *A = &s->acts;
    int pre = s->cfg.pre_ln;
    sub_end_backward(A->dtmp, dx, dout, ff, ln, N, d, pre, p);
    const float *h = pre ? ff->x2 : x;
    float *dh = sub_begin_target(dx, A->dpre, N, d, pre);
    if (N > 1) {   /* df = (dtmp · w2) ∘ (f > 0) in one pass */
        linear_backward_relu(A->df, v->dw2, v->db2, A->dtmp, f, v->w2, v->ldw2, N, F, d);
    } else {
        zero(A->df, (size_t)N * F);
        linear_backward(A->df, v->dw2, v->db2, A->dtmp, f, v->w2, v->ldw2, N, F, d);
        relu_backward_inplace(A->df, f, (long)N * F);
    }
    linear_backward(dh, v->dw1, v->db1, A->df, h, v->w1, v->ldw1, N, d, F);
    sub_begin_backward(dx, A->dpre, ff, ln, x, N, d, pre);
}

/* Self-attention sublayer with input x and output gradient dout; dx += input gradient. */
static void self_sub_backward(Supernet *s, const LinView *in, const LinView *out,
                              const LnView *ln, const SubAct *sa, const float *qkv,
                              const float *att, const Rng *rng, const float *x,
                              const float *dout, float *dx, int N, int d, const AttnDims *ad,
                              float p)
{
    Acts *A = &s->acts;
    int pre = s->cfg.pre_ln, Q = s->Q;
    float pa = s->cfg.attn_dropout;
    sub_end_backward(A->dtmp, dx, dout, sa, ln, N, d, pre, p);
    zero(A->datt, (size_t)N * Q);
    linear_backward(A->datt, out->dw, out->db, A->dtmp, att, out->w, out->ldw, N, Q, d);
    zero(A->dqkv, (size_t)N * 3 * Q);
    attention_backward(A->dqkv, A->dqkv + Q, A->dqkv + 2 * Q, A->datt, qkv, qkv + Q,
                       qkv + 2 * Q, ad, pa, pa > 0.0f ? rng : NULL, A->scratch);
    const float *h = pre ? sa->x2 : x;
    float *dh = sub_begin_target(dx, A->dpre, N, d, pre);
    linear_backward(dh, in->dw, in->db, A->dqkv, h, in->w, in->ldw, N, d, 3 * Q);
    sub_begin_backward(dx, A->dpre, sa, ln, x, N, d, pre);
}


/* Encoder-decoder attention sublayer of decoder layer e; its key/value input gradient goes to
 * the attended encoder outputs (dencout, or dencf under pre-LN). */
static void cross_sub_backward(Supernet *s, const DecView *v, const DecAct *e, const int *src,
                               const float *x, const float *dout, float *dx, float p)
{
    Acts *A = &s->acts;
    int pre = s->cfg.pre_ln, Q = s->Q, N = A->Nt, d = v->d;
    float pa = s->cfg.attn_dropout;
    sub_end_backward(A->dtmp, dx, dout, &e->ca, &v->ln2, N, d, pre, p);
    zero(A->datt, (size_t)N * Q);
    linear_backward(A->datt, v->eout.dw, v->eout.db, A->dtmp, e->catt, v->eout.w, v->eout.ldw,
                    N, Q, d);
    AttnDims cd = supernet_cross_dims(A->B, A->Tt, A->Ts, v, Q, src, s->cfg.pad_id, A->Ts,
                                      A->Ns);
    cd.nscratch = ATTN_SCRATCH_BLOCKS;
    zero(A->dcq, (size_t)N * Q);
    zero(A->dckv, (size_t)v->nblk * A->Ns * 2 * Q);
    attention_backward(A->dcq, A->dckv, A->dckv + Q, A->datt, e->cq, e->ckv, e->ckv + Q, &cd,
                       pa, pa > 0.0f ? &e->rng_catt : NULL, A->scratch);
    float *dkvin = supernet_cross_input(s, A->dencout, A->dencf, v->nblk);
    const float *kvin = supernet_cross_input(s, A->encout, A->encf, v->nblk);
    linear_backward(dkvin, v->ekv.dw, v->ekv.db, A->dckv, kvin, v->ekv.w, v->ekv.ldw,
                    v->nblk * A->Ns, v->de, 2 * Q);
    const float *h = pre ? e->ca.x2 : x;
    float *dh = sub_begin_target(dx, A->dpre, N, d, pre);
    linear_backward(dh, v->eq.dw, v->eq.db, A->dcq, h, v->eq.w, v->eq.ldw, N, d, Q);
    sub_begin_backward(dx, A->dpre, &e->ca, &v->ln2, x, N, d, pre);
}

static void dec_layer_backward(Supernet *s, const DecView *v, const DecAct *e, const int *src,
                               const float *x, const float *dy, float *dx, float p)
{
    Acts *A = &s->acts;
    int N = A->Nt, d = v->d;
    zero(A->dmid, (size_t)N * d);
    ffn_sub_backward(s, &v->ffn, &v->ln3, &e->ff, e->f, e->ca.out, dy, A->dmid, N, d, v->F, p);
    zero(A->dmid2, (size_t)N * d);
    cross_sub_backward(s, v, e, src, e->sa.out, A->dmid, A->dmid2, p);
    AttnDims ad = supernet_self_dims(A, A->Tt, v->NH, s->Q, 1, NULL, s->cfg.pad_id);
    self_sub_backward(s, &v->qkv, &v->out, &v->ln1, &e->sa, e->qkv, e->att, &e->rng_att, x,
                      A->dmid2, dx, N, d, &ad, p);
}

static void enc_layer_backward(Supernet *s, const EncView *v, const EncAct *e, const int *src,
                               const float *x, const float *dy, float *dx, float p)
{
    Acts *A = &s->acts;
    int N = A->Ns, d = v->d;
    zero(A->dmid, (size_t)N * d);
    ffn_sub_backward(s, &v->ffn, &v->ln2, &e->ff, e->f, e->sa.out, dy, A->dmid, N, d, v->F, p);
    AttnDims ad = supernet_self_dims(A, A->Ts, v->NH, s->Q, 0, src, s->cfg.pad_id);
    self_sub_backward(s, &v->qkv, &v->out, &v->ln1, &e->sa, e->qkv, e->att, &e->rng_att, x,
                      A->dmid, dx, N, d, &ad, p);
}

void supernet_decoder_backward(Supernet *s, const Arch *a, const int *src, const int *tgt)
{
    Acts *A = &s->acts;
    int dd = a->dec_embed, Nt = A->Nt, L = a->dec_layers;
    float p = s->cfg.dropout * (float)dd / (float)s->Dd;
    zero(A->dencout, (size_t)a->enc_layers * A->Ns * a->enc_embed);
    if (s->cfg.pre_ln)
        zero(A->dencf, (size_t)A->nf * A->Ns * a->enc_embed);
    const float *dy = A->dh;
    if (s->cfg.pre_ln) {
        zero(A->dx0, (size_t)Nt * dd);
        layernorm_backward(A->dx0, s->grads + s->dec_ln.g, s->grads + s->dec_ln.b, A->dh,
                           A->dec[L - 1].ff.out, s->params + s->dec_ln.g, A->decf_mean,
                           A->decf_rstd, Nt, dd);
        dy = A->dx0;
    }
    for (int l = L - 1; l >= 0; l--) {
        float *dx = dy == A->dx0 ? A->dx1 : A->dx0;
        zero(dx, (size_t)Nt * dd);
        const float *x = l ? A->dec[l - 1].ff.out : A->emb_d;
        dec_layer_backward(s, &A->dv[l], &A->dec[l], src, x, dy, dx, p);
        ffn_weights_backward(&s->ffn, s->Le + l, s->params, s->grads, a, dd, a->dec_ffn[l],
                             &A->dv[l].ffn);
        dy = dx;
    }
    float *demb = (float *)dy;
    if (A->mask_d)
        dropout_backward(demb, A->mask_d, (long)Nt * dd, p);
    embedding_backward(s->grads + s->embed, s->Dm, demb, tgt, Nt, dd, sqrtf((float)dd),
                       s->cfg.pad_id);
}

void supernet_encoder_backward(Supernet *s, const Arch *a, const int *src)
{
    Acts *A = &s->acts;
    int de = a->enc_embed, Ns = A->Ns, L = a->enc_layers;
    size_t blk = (size_t)Ns * de;
    float p = s->cfg.dropout * (float)de / (float)s->De;
    if (s->cfg.pre_ln) {
        size_t first = (size_t)(L - A->nf) * blk;
        layernorm_backward(A->dencout + first, s->grads + s->enc_ln.g, s->grads + s->enc_ln.b,
                           A->dencf, A->encout + first, s->params + s->enc_ln.g, A->encf_mean,
                           A->encf_rstd, A->nf * Ns, de);
    }
    zero(A->demb, blk);
    for (int l = L - 1; l >= 0; l--) {
        const float *x = l ? A->encout + (l - 1) * blk : A->emb_e;
        float *dx = l ? A->dencout + (l - 1) * blk : A->demb;
        enc_layer_backward(s, &A->ev[l], &A->enc[l], src, x, A->dencout + l * blk, dx, p);
        ffn_weights_backward(&s->ffn, l, s->params, s->grads, a, de, a->enc_ffn[l],
                             &A->ev[l].ffn);
    }
    if (A->mask_e)
        dropout_backward(A->demb, A->mask_e, (long)Ns * de, p);
    embedding_backward(s->grads + s->embed, s->Dm, A->demb, src, Ns, de, sqrtf((float)de),
                       s->cfg.pad_id);
}
