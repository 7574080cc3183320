/* The supernet-level side of MoS: flushing the deferred expert/router gradient, dropping cached
 * mixed weights when the parameters change, gate summaries for the dashboard, and collapsing a
 * subnet into a plain (mos none) supernet. The mixing itself is core/mos.c behind core/ffn.c.
 * Invariant: nothing here changes src's parameters. */
#include <string.h>

#include "supernet_impl.h"

void supernet_flush_grads(Supernet *s)
{
    ffn_flush_grads(&s->ffn);
}

void supernet_params_changed(Supernet *s)
{
    ffn_params_changed(&s->ffn);
}

int mos_gates(Supernet *s, const Arch *a, MosGates *out)
{
    if (s->cfg.mos == MOS_NONE)
        return -1;
    int n = 0;
    for (int l = 0; l < a->enc_layers; l++)
        ffn_gates(&s->ffn, l, s->params, a, a->enc_embed, a->enc_ffn[l], &out[n++]);
    for (int l = 0; l < a->dec_layers; l++)
        ffn_gates(&s->ffn, s->Le + l, s->params, a, a->dec_embed, a->dec_ffn[l], &out[n++]);
    return n;
}

static int collapse_check(const Supernet *src, const Supernet *dst, MosErr *err)
{
    if (dst->cfg.mos != MOS_NONE)
        return err_set(err, "collapse: the target supernet must have mos: none");
    if (src->De != dst->De || src->Dd != dst->Dd || src->Fe != dst->Fe || src->Fd != dst->Fd ||
        src->Q != dst->Q || src->V != dst->V || src->Le != dst->Le || src->Ld != dst->Ld ||
        src->cfg.pre_ln != dst->cfg.pre_ln)
        return err_set(err, "collapse: the target's maxima, vocabulary or LN placement differ "
                            "from the source's");
    return 0;
}

/* Copies every tensor dst shares by name (and shape) with src; the others must be dst's FFN
 * tensors (4 per layer slot). */
static int collapse_shared(const Supernet *src, Supernet *dst, MosErr *err)
{
    int missing = 0;
    for (int i = 0; i < dst->lay.n; i++) {
        const NamedTensor *t = &dst->lay.t[i];
        int j = supernet_find_tensor(src, t->name);
        if (j < 0) {
            missing++;
            continue;
        }
        const NamedTensor *u = &src->lay.t[j];
        size_t n = (size_t)t->shape[0] * (t->ndim == 2 ? (size_t)t->shape[1] : 1);
        if (u->ndim != t->ndim || memcmp(u->shape, t->shape, sizeof t->shape) != 0)
            return err_set(err, "collapse: tensor %s has different shapes", t->name);
        memcpy(dst->params + t->offset, src->params + u->offset, n * sizeof(float));
    }
    if (src->cfg.mos != MOS_NONE && missing != 4 * dst->ffn.nslots)
        return err_set(err, "collapse: %d target tensors have no source (expected the %d FFN "
                            "tensors)", missing, 4 * dst->ffn.nslots);
    return 0;
}

static void collapse_ffn(Supernet *src, Supernet *dst, int slot, const Arch *a, int d, int F)
{
    const FfnSlot *t = &dst->ffn.slot[slot];
    ffn_collapse(&src->ffn, slot, src->params, a, d, F, dst->params + t->fc1_w, t->D,
                 dst->params + t->fc1_b, dst->params + t->fc2_w, t->F, dst->params + t->fc2_b);
}

int supernet_collapse(Supernet *src, const Arch *a, Supernet *dst, MosErr *err)
{
    if (collapse_check(src, dst, err) < 0)
        return -1;
    memset(dst->params, 0, dst->lay.total * sizeof(float));
    if (collapse_shared(src, dst, err) < 0)
        return -1;
    for (int l = 0; l < a->enc_layers; l++)
        collapse_ffn(src, dst, l, a, a->enc_embed, a->enc_ffn[l]);
    for (int l = 0; l < a->dec_layers; l++)
        collapse_ffn(src, dst, src->Le + l, a, a->dec_embed, a->dec_ffn[l]);
    supernet_params_changed(dst);
    return 0;
}

Supernet *supernet_collapse_new(Supernet *src, const Arch *a, MosErr *err)
{
    ModelConfig c = src->cfg;
    c.mos = MOS_NONE;
    c.mos_experts = 1;
    c.router_const_input = 0;
    Supernet *dst = supernet_new(&c, 1, 1, err);
    if (!dst)
        return NULL;
    if (supernet_collapse(src, a, dst, err) < 0)
        supernet_destroy(&dst);
    return dst;
}
