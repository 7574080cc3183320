/* FFN weight acquisition (see ffn.h), one path with a switch: mos none gives views into the
 * params and grads blocks (no copies); MoS mixes the layer's experts into W(a) once per arch key
 * (core/mos.c) and hands out the mixed weights and their dW accumulators as the same FfnView.
 * Invariant: a MoS layer's state points into the blocks last passed in, and pending dW(a) is
 * pushed before the key or the parameters change. */
#include "ffn.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void ffn_init(Ffn *f, const ModelConfig *cfg)
{
    memset(f, 0, sizeof *f);
    f->cfg = cfg;
}

static int ffn_layout_plain(FfnSlot *s, ParamLayout *lay, const char *prefix)
{
    char name[128];
    snprintf(name, sizeof name, "%s.fc1.weight", prefix);
    s->fc1_w = layout_add(lay, INIT_XAVIER, name, 2, s->F, s->D);
    snprintf(name, sizeof name, "%s.fc1.bias", prefix);
    s->fc1_b = layout_add(lay, INIT_ZERO, name, 1, s->F, 0);
    snprintf(name, sizeof name, "%s.fc2.weight", prefix);
    s->fc2_w = layout_add(lay, INIT_XAVIER, name, 2, s->D, s->F);
    snprintf(name, sizeof name, "%s.fc2.bias", prefix);
    s->fc2_b = layout_add(lay, INIT_ZERO, name, 1, s->D, 0);
    return 0;
}

/* A zero-initialised ModelConfig (tests, benchmarks) leaves the router scales 0: the reference's
 * 1. Negative values stay and are refused. */
static float ffn_unset_is_one(float v)
{
    return v == 0.0f ? 1.0f : v;
}

static int ffn_layout_mos(FfnSlot *s, const ModelConfig *c, ParamLayout *lay,
                          const char *prefix, MosErr *err)
{
    if (c->mos_experts < 1 || c->mos_experts > MOS_MAX_EXPERTS)
        return err_set(err, "model: mos-experts = %d must be in 1..%d", c->mos_experts,
                       MOS_MAX_EXPERTS);
    if (c->router_hidden < 1 || c->router_hidden > 4096)
        return err_set(err, "model: router-hidden = %d must be in 1..4096", c->router_hidden);
    float lr_scale = ffn_unset_is_one(c->router_lr_scale);
    float init_scale = ffn_unset_is_one(c->router_init_scale);
    if (!(lr_scale > 0.0f && lr_scale <= 1000.0f))
        return err_set(err, "model: router-lr-scale = %g must be in (0, 1000]",
                       (double)lr_scale);
    if (!(init_scale > 0.0f && init_scale <= 1000.0f))
        return err_set(err, "model: router-init-scale = %g must be in (0, 1000]",
                       (double)init_scale);
    if (c->router_input < ROUTER_INPUT_RAW || c->router_input >= ROUTER_INPUT_COUNT)
        return err_set(err, "model: router-input = %d is not raw or centred",
                       (int)c->router_input);
    MosTensorSpec spec[MOS_MAX_TENSORS];
    int n = mos_ffn_tensors(c->mos, c->mos_experts, c->router_hidden, s->D, s->F, spec);
    char name[160];
    for (int k = 0; k < n; k++) {
        if (snprintf(name, sizeof name, "%s.%s", prefix, spec[k].name) >= (int)sizeof name)
            return err_set(err, "ffn: tensor name too long under %s", prefix);
        s->mos_off[k] = layout_add(lay, INIT_ZERO, name, spec[k].ndim, spec[k].d0, spec[k].d1);
    }
    size_t ns = mos_ffn_scratch_floats(c->mos, c->mos_experts, c->router_hidden, s->D, s->F);
    s->scratch = malloc(ns * sizeof(float));
    if (!s->scratch)
        return err_set(err, "ffn: out of memory for the MoS scratch (%zu floats)", ns);
    mos_ffn_setup(&s->mos, c->mos, c->mos_experts, c->router_hidden, s->D, s->F, s->scratch);
    mos_ffn_router_options(&s->mos, lr_scale, init_scale);
    return 0;
}

int ffn_layout(Ffn *f, int slot, ParamLayout *lay, const char *prefix, int D, int F,
               MosErr *err)
{
    if (slot < 0 || slot >= 2 * ARCH_MAX_LAYERS)
        return err_set(err, "ffn: layer slot %d out of range", slot);
    if (f->cfg->mos < MOS_NONE || f->cfg->mos >= MOS_KIND_COUNT)
        return err_set(err, "model: mos = %d is not none, layer or neuron", (int)f->cfg->mos);
    FfnSlot *s = &f->slot[slot];
    s->D = D;
    s->F = F;
    if (slot >= f->nslots)
        f->nslots = slot + 1;
    int rc = f->cfg->mos == MOS_NONE ? ffn_layout_plain(s, lay, prefix)
                                     : ffn_layout_mos(s, f->cfg, lay, prefix, err);
    if (rc < 0)
        return -1;
    return lay->failed ? err_set(err, "ffn: out of memory") : 0;
}

void ffn_done(Ffn *f)
{
    for (int i = 0; i < 2 * ARCH_MAX_LAYERS; i++) {
        free(f->slot[i].scratch);
        f->slot[i].scratch = NULL;
    }
}

/* Points slot's MoS state at the blocks (re-pointed only when they changed). grads NULL keeps
 * the last gradient block: a pending dW(a) still has to go there. */
static MosFfn *ffn_mos(Ffn *f, int slot, const float *params, float *grads)
{
    if (grads && grads != f->grads) {
        ffn_flush_grads(f);
        f->grads = grads;
        f->params = NULL;
    }
    if (params != f->params) {
        ffn_params_changed(f);
        f->params = (float *)params;
        for (int i = 0; i < f->nslots; i++)
            if (f->slot[i].scratch)
                mos_ffn_point(&f->slot[i].mos, f->slot[i].mos_off, f->params, f->grads);
    }
    return &f->slot[slot].mos;
}

void ffn_init_params(Ffn *f, float *params, uint64_t seed)
{
    if (f->cfg->mos == MOS_NONE)
        return;
    Rng r;
    rng_seed(&r, seed ^ 0x4d6f53ULL);   /* its own stream, independent of the supernet's */
    for (int i = 0; i < f->nslots; i++) {
        MosFfn *l = ffn_mos(f, i, params, NULL);
        mos_ffn_init(l, &r);
    }
    ffn_params_changed(f);
}

static void ffn_mix(Ffn *f, int slot, const float *params, float *grads, const Arch *a, int d,
                    int F)
{
    float x[ARCH_FEATURES];
    mos_router_input(&f->cfg->space, a, f->cfg->router_const_input, f->cfg->router_input, x);
    mos_ffn_mix(ffn_mos(f, slot, params, grads), x, d, F);
}

void ffn_weights_forward(Ffn *f, int slot, const float *params, float *grads, const Arch *a,
                         int d, int F, FfnView *v)
{
    const FfnSlot *s = &f->slot[slot];
    if (f->cfg->mos == MOS_NONE) {
        *v = (FfnView){.w1 = params + s->fc1_w, .b1 = params + s->fc1_b,
                       .w2 = params + s->fc2_w, .b2 = params + s->fc2_b,
                       .ldw1 = s->D, .ldw2 = s->F,
                       .dw1 = grads ? grads + s->fc1_w : NULL,
                       .db1 = grads ? grads + s->fc1_b : NULL,
                       .dw2 = grads ? grads + s->fc2_w : NULL,
                       .db2 = grads ? grads + s->fc2_b : NULL};
        return;
    }
    ffn_mix(f, slot, params, grads, a, d, F);
    MosFfn *l = &f->slot[slot].mos;
    *v = (FfnView){.w1 = l->w1, .b1 = l->b1, .w2 = l->w2, .b2 = l->b2, .ldw1 = d, .ldw2 = F};
    if (grads)
        mos_ffn_grad_slots(l, &v->dw1, &v->db1, &v->dw2, &v->db2);
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

void ffn_flush_grads(Ffn *f)
{
    for (int i = 0; i < f->nslots; i++)
        if (f->slot[i].scratch)
            mos_ffn_flush(&f->slot[i].mos);
}

void ffn_params_changed(Ffn *f)
{
    for (int i = 0; i < f->nslots; i++) {
        if (!f->slot[i].scratch)
            continue;
        mos_ffn_flush(&f->slot[i].mos);
        mos_ffn_invalidate(&f->slot[i].mos);
    }
}

void ffn_zero_grads(Ffn *f)
{
    for (int i = 0; i < f->nslots; i++)
        if (f->slot[i].scratch)
            mos_ffn_discard(&f->slot[i].mos);
}

int ffn_gates(Ffn *f, int slot, const float *params, const Arch *a, int d, int F,
              MosGates *out)
{
    if (f->cfg->mos == MOS_NONE)
        return -1;
    ffn_mix(f, slot, params, NULL, a, d, F);
    mos_ffn_gates(&f->slot[slot].mos, out);
    return 0;
}

static void ffn_copy_rows(float *dst, int ldd, const float *src, int lds, int rows, int cols)
{
    for (int r = 0; r < rows; r++)
        memcpy(dst + (size_t)r * ldd, src + (size_t)r * lds, (size_t)cols * sizeof(float));
}

void ffn_collapse(Ffn *f, int slot, const float *params, const Arch *a, int d, int F,
                  float *w1, int ldw1, float *b1, float *w2, int ldw2, float *b2)
{
    FfnView v;
    ffn_weights_forward(f, slot, params, NULL, a, d, F, &v);
    ffn_copy_rows(w1, ldw1, v.w1, v.ldw1, F, d);
    memcpy(b1, v.b1, (size_t)F * sizeof(float));
    ffn_copy_rows(w2, ldw2, v.w2, v.ldw2, d, F);
    memcpy(b2, v.b2, (size_t)d * sizeof(float));
}
