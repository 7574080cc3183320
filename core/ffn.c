/* FFN weight acquisition (see ffn.h). m = 1: views into the params and grads blocks, no copies;
 * the MoS expert mixing and routers plug into exactly these functions. */
#include "ffn.h"

#include <stdio.h>
#include <string.h>

void ffn_init(Ffn *f, const ModelConfig *cfg)
{
    memset(f, 0, sizeof *f);
    f->cfg = cfg;
}

int ffn_layout(Ffn *f, int slot, ParamLayout *lay, const char *prefix, int D, int F,
               MosErr *err)
{
    if (slot < 0 || slot >= 2 * ARCH_MAX_LAYERS)
        return err_set(err, "ffn: layer slot %d out of range", slot);
    FfnSlot *s = &f->slot[slot];
    char name[128];
    s->D = D;
    s->F = F;
    snprintf(name, sizeof name, "%s.fc1.weight", prefix);
    s->fc1_w = layout_add(lay, INIT_XAVIER, name, 2, F, D);
    snprintf(name, sizeof name, "%s.fc1.bias", prefix);
    s->fc1_b = layout_add(lay, INIT_ZERO, name, 1, F, 0);
    snprintf(name, sizeof name, "%s.fc2.weight", prefix);
    s->fc2_w = layout_add(lay, INIT_XAVIER, name, 2, D, F);
    snprintf(name, sizeof name, "%s.fc2.bias", prefix);
    s->fc2_b = layout_add(lay, INIT_ZERO, name, 1, D, 0);
    if (slot >= f->nslots)
        f->nslots = slot + 1;
    return lay->failed ? err_set(err, "ffn: out of memory") : 0;
}

void ffn_done(Ffn *f)
{
    (void)f;
}

void ffn_weights_forward(Ffn *f, int slot, const float *params, float *grads, const Arch *a,
                         int d, int F, FfnView *v)
{
    (void)a;
    (void)d;
    (void)F;
    const FfnSlot *s = &f->slot[slot];
    v->w1 = params + s->fc1_w;
    v->b1 = params + s->fc1_b;
    v->w2 = params + s->fc2_w;
    v->b2 = params + s->fc2_b;
    v->ldw1 = s->D;
    v->ldw2 = s->F;
    v->dw1 = grads ? grads + s->fc1_w : NULL;
    v->db1 = grads ? grads + s->fc1_b : NULL;
    v->dw2 = grads ? grads + s->fc2_w : NULL;
    v->db2 = grads ? grads + s->fc2_b : NULL;
}

void ffn_weights_backward(Ffn *f, int slot, const float *params, float *grads, const Arch *a,
                          int d, int F, const FfnView *v)
{
    (void)f;
    (void)slot;
    (void)params;
    (void)grads;
    (void)a;
    (void)d;
    (void)F;
    (void)v;
}
