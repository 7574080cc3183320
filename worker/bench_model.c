/* The benchmark model shared by the mos benchmarks (see bench.h); tests/bench/bench_train.py
 * builds the same model in PyTorch. */
#include <string.h>

#include "bench.h"

static void one(Choices *c, int v)
{
    c->n = 1;
    c->v[0] = v;
}

void bench_model(ModelConfig *c, Arch *a)
{
    memset(c, 0, sizeof *c);
    SearchSpace *s = &c->space;
    s->enc_embed_max = s->dec_embed_max = 256;
    s->enc_ffn_max = s->dec_ffn_max = 1024;
    s->enc_layers_max = s->dec_layers_max = 3;
    s->enc_heads_max = s->dec_heads_max = 4;
    s->qkv_dim = 256;
    one(&s->enc_embed, 256);
    one(&s->dec_embed, 256);
    one(&s->enc_ffn, 1024);
    one(&s->dec_ffn, 1024);
    one(&s->enc_layers, 3);
    one(&s->dec_layers, 3);
    one(&s->enc_heads, 4);
    one(&s->dec_self_heads, 4);
    one(&s->dec_ende_heads, 4);
    one(&s->dec_arbitrary, -1);
    c->vocab = 8000;
    c->pad_id = 0;
    c->unk_id = 1;
    c->bos_id = 2;
    c->eos_id = 3;
    c->max_positions = 64;
    c->dropout = 0.1f;
    c->attn_dropout = 0.1f;
    c->label_smoothing = 0.1f;
    c->mos = MOS_NONE;
    c->mos_experts = 1;
    c->router_hidden = 128;
    memset(a, 0, sizeof *a);
    a->enc_embed = a->dec_embed = 256;
    a->enc_layers = a->dec_layers = 3;
    for (int i = 0; i < ARCH_MAX_LAYERS; i++) {
        a->enc_ffn[i] = a->dec_ffn[i] = 1024;
        a->enc_heads[i] = a->dec_self_heads[i] = a->dec_ende_heads[i] = 4;
        a->dec_arbitrary[i] = -1;
    }
}
