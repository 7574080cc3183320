/* Shared by the core model tests: a tiny search space (different encoder and decoder widths so
 * that cross-attention slicing is exercised), three architectures and a padded batch.
 * Header-only so each test executable stays self-contained. */
#ifndef MOS_TEST_MODEL_FIXTURE_H
#define MOS_TEST_MODEL_FIXTURE_H

#include <string.h>

#include "arch.h"
#include "batch.h"
#include "config.h"

static inline void fixture_choices(Choices *c, int n, int a, int b, int d)
{
    c->n = n;
    c->v[0] = a;
    c->v[1] = b;
    c->v[2] = d;
}

/* The model keys besides the space that every model test shares: special ids 0-3, dropout and
 * label smoothing 0.1, no MoS (router hidden 8 when a test turns it on). */
static inline void fixture_model_rest(ModelConfig *c, int vocab, int max_positions, int pre_ln)
{
    c->vocab = vocab;
    c->pad_id = 0;
    c->unk_id = 1;
    c->bos_id = 2;
    c->eos_id = 3;
    c->max_positions = max_positions;
    c->pre_ln = pre_ln;
    c->dropout = 0.1f;
    c->attn_dropout = 0.1f;
    c->label_smoothing = 0.1f;
    c->mos = MOS_NONE;
    c->mos_experts = 1;
    c->router_hidden = 8;
}

static inline void fixture_config(ModelConfig *c, int pre_ln)
{
    memset(c, 0, sizeof *c);
    SearchSpace *s = &c->space;
    s->enc_embed_max = 16;
    s->dec_embed_max = 12;
    s->enc_ffn_max = 24;
    s->dec_ffn_max = 20;
    s->enc_layers_max = 3;
    s->dec_layers_max = 3;
    s->enc_heads_max = 4;
    s->dec_heads_max = 4;
    s->qkv_dim = 8;
    fixture_choices(&s->enc_embed, 2, 16, 8, 0);
    fixture_choices(&s->dec_embed, 2, 12, 8, 0);
    fixture_choices(&s->enc_ffn, 2, 24, 12, 0);
    fixture_choices(&s->dec_ffn, 2, 20, 10, 0);
    fixture_choices(&s->enc_layers, 1, 3, 0, 0);
    fixture_choices(&s->dec_layers, 3, 1, 2, 3);
    fixture_choices(&s->enc_heads, 2, 4, 2, 0);
    fixture_choices(&s->dec_self_heads, 2, 4, 2, 0);
    fixture_choices(&s->dec_ende_heads, 2, 4, 2, 0);
    fixture_choices(&s->dec_arbitrary, 3, -1, 1, 2);
    fixture_model_rest(c, 23, 16, pre_ln);
}

/* which: 0 largest, 1 smallest, 2 mixed (per-layer dims differ, arbitrary attention 3 layers). */
static inline void fixture_arch(Arch *a, int which)
{
    memset(a, 0, sizeof *a);
    int big = which == 0;
    a->enc_embed = big ? 16 : 8;
    a->dec_embed = big ? 12 : 8;
    a->enc_layers = 3;
    a->dec_layers = which == 0 ? 3 : which == 1 ? 1 : 2;
    for (int i = 0; i < ARCH_MAX_LAYERS; i++) {
        a->enc_ffn[i] = big || (which == 2 && i == 1) ? 24 : 12;
        a->enc_heads[i] = big || (which == 2 && i == 0) ? 4 : 2;
        a->dec_ffn[i] = big || (which == 2 && i == 0) ? 20 : 10;
        a->dec_self_heads[i] = big ? 4 : 2;
        a->dec_ende_heads[i] = big || (which == 2 && i == 1) ? 4 : 2;
        a->dec_arbitrary[i] = which == 2 ? (i == 0 ? 2 : -1) : 1;
    }
}

/* Three sentence pairs, right-padded with 0: src (3, 5), tgt_in / tgt_out (3, 6). */
static const int fixture_src[15] = {5, 6, 7, 8, 3, 9, 10, 3, 0, 0, 11, 12, 13, 3, 0};
static const int fixture_tgt_in[18] = {2, 14, 15, 16, 17, 18, 2, 19, 20, 0, 0, 0,
                                       2, 21, 22, 5, 0, 0};
static const int fixture_tgt_out[18] = {14, 15, 16, 17, 18, 3, 19, 20, 3, 0, 0, 0,
                                        21, 22, 5, 3, 0, 0};

static inline Batch fixture_batch(void)
{
    return (Batch){.B = 3, .Ts = 5, .Tt = 6, .src = fixture_src, .tgt_in = fixture_tgt_in,
                   .tgt_out = fixture_tgt_out, .ntokens = 13};
}

#endif
