/* Forward pass of a subnet over one batch: embeddings, encoder layers, decoder layers (self,
 * encoder-decoder over the last 1-3 encoder outputs, FFN) and the loss head (output projection
 * tied to the embedding, label-smoothed cross-entropy in chunks of XENT_CHUNK rows; with
 * train = 1 the head also produces the gradient of the final hidden states). Saves in
 * s->acts what the backward needs; allocates nothing. */
#include <math.h>

#include "ops.h"
#include "ops_blas.h"
#include "supernet_impl.h"

static void ffn_forward(float *out, float *f, const float *h, const FfnView *v, int N, int d,
                        int F)
{
    if (N > 1)
        linear_relu_forward(f, h, v->w1, v->ldw1, v->b1, N, d, F);
    else {
        linear_forward(f, h, v->w1, v->ldw1, v->b1, N, d, F);
        relu_forward(f, (long)N * F);
    }
    linear_forward(out, f, v->w2, v->ldw2, v->b2, N, F, d);
}


/* Self-attention sublayer (encoder or decoder, as ad says) on input x (N, d): saves the
 * projections in qkv (N, 3Q), the attention output in att (N, Q) and the dropout state in
 * *rng_att for the backward; returns the sublayer output sa->out (N, d). */
static const float *self_sub_forward(Supernet *s, const LinView *in, const LinView *out,
                                     const LnView *ln, SubAct *sa, float *qkv, float *att,
                                     Rng *rng_att, const float *x, int N, int d,
                                     const AttnDims *ad, float p, Rng *rng)
{
    Acts *A = &s->acts;
    int Q = s->Q, pre = s->cfg.pre_ln;
    const float *h = sub_begin(sa, ln, x, N, d, pre);
    linear_forward(qkv, h, in->w, in->ldw, in->b, N, d, 3 * Q);
    if (rng)
        *rng_att = *rng;
    attention_forward(att, qkv, qkv + Q, qkv + 2 * Q, ad, s->cfg.attn_dropout, rng, A->scratch);
    linear_forward(A->tmp, att, out->w, out->ldw, out->b, N, Q, d);
    sub_end(sa, ln, x, A->tmp, N, d, pre, p, rng);
    return sa->out;
}

static void enc_layer_forward(Supernet *s, const EncView *v, EncAct *e, const float *x,
                              const int *src, float p, Rng *rng)
{
    Acts *A = &s->acts;
    int N = A->Ns, d = v->d, pre = s->cfg.pre_ln;
    AttnDims ad = supernet_self_dims(A, A->Ts, v->NH, s->Q, 0, src, s->cfg.pad_id);
    x = self_sub_forward(s, &v->qkv, &v->out, &v->ln1, &e->sa, e->qkv, e->att, &e->rng_att, x,
                         N, d, &ad, p, rng);
    const float *h = sub_begin(&e->ff, &v->ln2, x, N, d, pre);
    ffn_forward(A->tmp, e->f, h, &v->ffn, N, d, v->F);
    sub_end(&e->ff, &v->ln2, x, A->tmp, N, d, pre, p, rng);
}

void supernet_encoder_forward(Supernet *s, const Arch *a, const int *src, Rng *rng, int train)
{
    (void)train;
    Acts *x = &s->acts;
    int de = a->enc_embed, Ns = x->Ns;
    float p = s->cfg.dropout * (float)de / (float)s->De;
    embedding_forward(x->emb_e, src, s->params + s->embed, s->Dm, s->pos_e, s->De, x->B, x->Ts,
                      de, sqrtf((float)de), s->cfg.pad_id);
    if (rng)
        dropout_forward(x->emb_e, x->mask_e, (long)Ns * de, p, rng);
    const float *in = x->emb_e;
    for (int l = 0; l < a->enc_layers; l++) {
        enc_layer_forward(s, &x->ev[l], &x->enc[l], in, src, p, rng);
        in = x->enc[l].ff.out;
    }
    if (!s->cfg.pre_ln)
        return;
    /* pre-LN: the final encoder LayerNorm applies to every output a decoder layer attends to */
    const float *first = x->encout + (size_t)(a->enc_layers - x->nf) * Ns * de;
    layernorm_forward(x->encf, x->encf_mean, x->encf_rstd, first, s->params + s->enc_ln.g,
                      s->params + s->enc_ln.b, x->nf * Ns, de);
}

/* Keys/values input of a decoder layer attending to nblk encoder layers: the last nblk encoder
 * outputs (final-LN'ed in pre-LN), contiguous in block order (layer L - nblk first). */
float *supernet_cross_input(Supernet *s, float *encout, float *encf, int nblk)
{
    Acts *x = &s->acts;
    size_t blk = (size_t)x->Ns * x->de;
    if (s->cfg.pre_ln)
        return encf + (size_t)(x->nf - nblk) * blk;
    return encout + (size_t)(x->Le - nblk) * blk;
}

static void dec_layer_forward(Supernet *s, const DecView *v, DecAct *e, const float *x,
                              const int *src, float p, Rng *rng)
{
    Acts *A = &s->acts;
    int N = A->Nt, d = v->d, Q = s->Q, pre = s->cfg.pre_ln;
    AttnDims ad = supernet_self_dims(A, A->Tt, v->NH, Q, 1, NULL, s->cfg.pad_id);
    x = self_sub_forward(s, &v->qkv, &v->out, &v->ln1, &e->sa, e->qkv, e->att, &e->rng_att, x,
                         N, d, &ad, p, rng);
    const float *h = sub_begin(&e->ca, &v->ln2, x, N, d, pre);
    linear_forward(e->cq, h, v->eq.w, v->eq.ldw, v->eq.b, N, d, Q);
    const float *kv = supernet_cross_input(s, A->encout, A->encf, v->nblk);
    linear_forward(e->ckv, kv, v->ekv.w, v->ekv.ldw, v->ekv.b, v->nblk * A->Ns, v->de, 2 * Q);
    AttnDims cd = supernet_cross_dims(A->B, A->Tt, A->Ts, v, Q, src, s->cfg.pad_id, A->Ts, A->Ns);
    cd.nscratch = ATTN_SCRATCH_BLOCKS;
    if (rng)
        e->rng_catt = *rng;
    attention_forward(e->catt, e->cq, e->ckv, e->ckv + Q, &cd, s->cfg.attn_dropout, rng,
                      A->scratch);
    linear_forward(A->tmp, e->catt, v->eout.w, v->eout.ldw, v->eout.b, N, Q, d);
    sub_end(&e->ca, &v->ln2, x, A->tmp, N, d, pre, p, rng);
    x = e->ca.out;
    h = sub_begin(&e->ff, &v->ln3, x, N, d, pre);
    ffn_forward(A->tmp, e->f, h, &v->ffn, N, d, v->F);
    sub_end(&e->ff, &v->ln3, x, A->tmp, N, d, pre, p, rng);
}

AttnDims supernet_cross_dims(int B, int Tq, int Ts, const DecView *v, int Q, const int *src,
                             int pad, int kbs, int enc_rows)
{
    return (AttnDims){.B = B, .Tq = Tq, .Tk = Ts, .nblk = v->nblk, .NH = v->NHe, .QD = Q,
                      .ldq = Q, .ldkv = 2 * Q, .kbs = kbs, .blk = (long)enc_rows * 2 * Q,
                      .causal = 0, .pad = pad, .key_tok = src};
}

void supernet_decoder_forward(Supernet *s, const Arch *a, const int *src, const int *tgt,
                              Rng *rng, int train)
{
    (void)train;
    Acts *x = &s->acts;
    int dd = a->dec_embed, Nt = x->Nt;
    float p = s->cfg.dropout * (float)dd / (float)s->Dd;
    embedding_forward(x->emb_d, tgt, s->params + s->embed, s->Dm, s->pos_d, s->Dd, x->B, x->Tt,
                      dd, sqrtf((float)dd), s->cfg.pad_id);
    if (rng)
        dropout_forward(x->emb_d, x->mask_d, (long)Nt * dd, p, rng);
    const float *in = x->emb_d;
    for (int l = 0; l < a->dec_layers; l++) {
        dec_layer_forward(s, &x->dv[l], &x->dec[l], in, src, p, rng);
        in = x->dec[l].ff.out;
    }
    if (s->cfg.pre_ln)
        layernorm_forward(x->decf, x->decf_mean, x->decf_rstd, in, s->params + s->dec_ln.g,
                          s->params + s->dec_ln.b, Nt, dd);
}

/* Output projection tied to the embedding (logits = h E[:, 0:d]^T, no bias) and the loss, in
 * row chunks so that the logits never exceed XENT_CHUNK x V floats. With train the chunk's
 * dlogits go straight back: dh += dlogits E, dE += dlogits^T h. */
double supernet_head(Supernet *s, const Arch *a, const int *target, int train, double *nll)
{
    Acts *x = &s->acts;
    int dd = a->dec_embed, V = s->V;
    const float *h = s->cfg.pre_ln ? x->decf : x->dec[a->dec_layers - 1].ff.out;
    const float *E = s->params + s->embed;
    double loss = 0.0;
    if (train)
        ops_zero(x->dh, (long)x->Nt * dd);
    for (int r0 = 0; r0 < x->Nt; r0 += XENT_CHUNK) {
        int n = x->Nt - r0 < XENT_CHUNK ? x->Nt - r0 : XENT_CHUNK;
        const float *hr = h + (size_t)r0 * dd;
        linear_forward(x->logits, hr, E, s->Dm, NULL, n, dd, V);
        loss += xent_forward(x->logits, target + r0, n, V, s->cfg.label_smoothing,
                             s->cfg.pad_id, nll);
        if (!train)
            continue;
        xent_backward(x->logits, target + r0, n, V, s->cfg.label_smoothing, s->cfg.pad_id,
                      1.0f);
        linear_backward(x->dh + (size_t)r0 * dd, s->grads + s->embed, NULL, x->logits, hr, E,
                        s->Dm, n, dd, V);
    }
    return loss;
}
