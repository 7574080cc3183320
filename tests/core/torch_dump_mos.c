/* Test driver for the MoS PyTorch cross-check (torch_ref_mos.py): the fixture supernet (dropout
 * off) with layer-wise and neuron-wise MoS, all parameters perturbed so that expert and router
 * biases are nonzero; for each variant OUT_DIR/{layer,neuron}.safetensors holds the parameters
 * (the supernet's names), the batch, every arch's gradients ("grad.K.<name>") and, in
 * __metadata__, the config, the archs, mos's summed losses and its router inputs. The same
 * layout as the engine's torch_dump.c (kept separate so the two drivers evolve independently).
 * {layer,neuron}_opts.safetensors: the same with router-input centred, router-lr-scale 3 and
 * router-init-scale 2. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model_fixture.h"
#include "mos.h"
#include "supernet.h"

typedef struct Entry { char name[160]; const void *data; int i32; int ndim; int shape[2]; } Entry;

static size_t entry_bytes(const Entry *e)
{
    return (size_t)e->shape[0] * (e->ndim == 2 ? (size_t)e->shape[1] : 1) * 4;
}

/* safetensors: 8-byte little-endian header length, JSON header, raw little-endian data. */
static int write_safetensors(const char *path, const Entry *e, int n, const char *meta)
{
    size_t cap = 4096 + (size_t)n * 256 + strlen(meta), len = 0, off = 0;
    char *h = malloc(cap);
    if (!h)
        return -1;
    len += (size_t)snprintf(h + len, cap - len, "{\"__metadata__\":{\"mos\":\"");
    for (const char *c = meta; *c; c++) {
        if (*c == '"')
            h[len++] = '\\';
        h[len++] = *c;
    }
    len += (size_t)snprintf(h + len, cap - len, "\"}");
    for (int i = 0; i < n; i++) {
        size_t nb = entry_bytes(&e[i]);
        len += (size_t)snprintf(h + len, cap - len, ",\"%s\":{\"dtype\":\"%s\",\"shape\":[%d",
                                e[i].name, e[i].i32 ? "I32" : "F32", e[i].shape[0]);
        if (e[i].ndim == 2)
            len += (size_t)snprintf(h + len, cap - len, ",%d", e[i].shape[1]);
        len += (size_t)snprintf(h + len, cap - len, "],\"data_offsets\":[%zu,%zu]}", off,
                                off + nb);
        off += nb;
    }
    len += (size_t)snprintf(h + len, cap - len, "}");
    FILE *f = fopen(path, "wb");
    if (!f) {
        free(h);
        return -1;
    }
    unsigned char le[8];
    for (int i = 0; i < 8; i++)
        le[i] = (unsigned char)((uint64_t)len >> (8 * i));
    fwrite(le, 1, 8, f);
    fwrite(h, 1, len, f);
    for (int i = 0; i < n; i++)   /* x86-64: host order is little-endian */
        fwrite(e[i].data, 1, entry_bytes(&e[i]), f);
    free(h);
    return fclose(f);
}

static int arch_json(char *buf, size_t n, const Arch *a)
{
    int len = snprintf(buf, n, "{\"enc_embed\":%d,\"dec_embed\":%d,\"enc_layers\":%d,"
                       "\"dec_layers\":%d", a->enc_embed, a->dec_embed, a->enc_layers,
                       a->dec_layers);
    const char *names[] = {"enc_ffn", "enc_heads", "dec_ffn", "dec_self_heads",
                           "dec_ende_heads", "dec_arbitrary"};
    const int *arrs[] = {a->enc_ffn, a->enc_heads, a->dec_ffn, a->dec_self_heads,
                         a->dec_ende_heads, a->dec_arbitrary};
    for (int k = 0; k < 6; k++) {
        len += snprintf(buf + len, n - (size_t)len, ",\"%s\":[", names[k]);
        for (int i = 0; i < ARCH_MAX_LAYERS; i++)
            len += snprintf(buf + len, n - (size_t)len, "%s%d", i ? "," : "", arrs[k][i]);
        len += snprintf(buf + len, n - (size_t)len, "]");
    }
    return len + snprintf(buf + len, n - (size_t)len, "}");
}

static int choices_json(char *buf, size_t n, const char *name, const Choices *c)
{
    int len = snprintf(buf, n, ",\"%s\":[", name);
    for (int i = 0; i < c->n; i++)
        len += snprintf(buf + len, n - (size_t)len, "%s%d", i ? "," : "", c->v[i]);
    return len + snprintf(buf + len, n - (size_t)len, "]");
}

/* The config part of the metadata: what torch_ref.py reads plus the MoS options, the space
 * maxima the raw router features are normalised by and the choice lists (centred features). */
static int info_head(char *buf, size_t n, const ModelConfig *c)
{
    const SearchSpace *s = &c->space;
    int arb = 1;
    for (int i = 0; i < s->dec_arbitrary.n; i++)
        arb = s->dec_arbitrary.v[i] > arb ? s->dec_arbitrary.v[i] : arb;
    int len = snprintf(buf, n,
                       "{\"vocab\":%d,\"pad\":%d,\"eps\":%g,\"pre_ln\":%d,\"qkv\":%d,"
                       "\"De\":%d,\"Dd\":%d,\"mos\":\"%s\",\"m\":%d,\"hidden\":%d,"
                       "\"router_input\":\"%s\",\"router_lr_scale\":%.9g,\"norms\":[%d,%d,%d,"
                       "%d,%d,%d,%d,%d,%d,%d],\"choices\":{\"enc_layers_max\":%d",
                       c->vocab, c->pad_id, (double)c->label_smoothing, c->pre_ln, s->qkv_dim,
                       s->enc_embed_max, s->dec_embed_max, c->mos == MOS_LAYER ? "layer" : "neuron",
                       c->mos_experts, c->router_hidden, config_router_input_name(c->router_input),
                       (double)(c->router_lr_scale > 0.0f ? c->router_lr_scale : 1.0f),
                       s->enc_embed_max, s->enc_layers_max, s->enc_ffn_max, s->enc_heads_max,
                       s->dec_embed_max, s->dec_layers_max, s->dec_ffn_max, s->dec_heads_max,
                       s->dec_heads_max, arb, s->enc_layers_max);
    const char *names[] = {"enc_embed", "enc_layers", "enc_ffn", "enc_heads", "dec_embed",
                           "dec_layers", "dec_ffn", "dec_self_heads", "dec_ende_heads",
                           "dec_arbitrary"};
    const Choices *ch[] = {&s->enc_embed, &s->enc_layers, &s->enc_ffn, &s->enc_heads,
                           &s->dec_embed, &s->dec_layers, &s->dec_ffn, &s->dec_self_heads,
                           &s->dec_ende_heads, &s->dec_arbitrary};
    for (int k = 0; k < 10; k++)
        len += choices_json(buf + len, n - (size_t)len, names[k], ch[k]);
    return len + snprintf(buf + len, n - (size_t)len, "},\"archs\":[");
}

/* opts: the non-reference router options (centred input, router-lr-scale 3, init scale 2). */
static Supernet *make_mos(MosKind kind, int m, int opts)
{
    ModelConfig c;
    fixture_config(&c, 0);
    c.dropout = c.attn_dropout = 0.0f;
    c.mos = kind;
    c.mos_experts = m;
    if (opts) {
        c.router_input = ROUTER_INPUT_CENTRED;
        c.router_lr_scale = 3.0f;
        c.router_init_scale = 2.0f;
    }
    MosErr err;
    Supernet *s = supernet_new(&c, 64, 42, &err);
    if (!s) {
        fprintf(stderr, "torch_dump_mos: %s\n", err.msg);
        return NULL;
    }
    float *p = supernet_params(s);
    Rng r;
    rng_seed(&r, 4);
    for (size_t i = 0; i < supernet_nparams(s); i++)
        p[i] += 0.05f * rng_normal(&r);
    return s;
}

static int dump(const char *path, MosKind kind, int m, int opts)
{
    Supernet *s = make_mos(kind, m, opts);
    if (!s)
        return 1;
    Batch b = fixture_batch();
    int nt = supernet_ntensors(s), n = 0, narch = 3;
    size_t np = supernet_nparams(s);
    Entry *e = calloc((size_t)(nt * (narch + 1) + 3), sizeof *e);
    float *grads = malloc((size_t)narch * np * sizeof(float));
    char info[16384];
    int len = info_head(info, sizeof info, supernet_config(s));
    double loss[3];
    for (int k = 0; k < narch; k++) {
        Arch a;
        fixture_arch(&a, k);
        supernet_zero_grads(s);
        loss[k] = supernet_step(s, &a, &b, 1, NULL, NULL);
        memcpy(grads + (size_t)k * np, supernet_grads(s), np * sizeof(float));
        len += k ? snprintf(info + len, sizeof info - (size_t)len, ",") : 0;
        len += arch_json(info + len, sizeof info - (size_t)len, &a);
    }
    len += snprintf(info + len, sizeof info - (size_t)len, "],\"losses\":[");
    for (int k = 0; k < narch; k++)
        len += snprintf(info + len, sizeof info - (size_t)len, "%s%.10g", k ? "," : "", loss[k]);
    snprintf(info + len, sizeof info - (size_t)len, "]}");
    for (int k = -1; k < narch; k++) {
        const float *base = k < 0 ? supernet_params(s) : grads + (size_t)k * np;
        for (int i = 0; i < nt; i++) {
            const NamedTensor *t = supernet_tensor(s, i);
            Entry *x = &e[n++];
            if (k < 0)
                snprintf(x->name, sizeof x->name, "%s", t->name);
            else
                snprintf(x->name, sizeof x->name, "grad.%d.%s", k, t->name);
            x->data = base + t->offset;
            x->ndim = t->ndim;
            x->shape[0] = t->shape[0];
            x->shape[1] = t->shape[1];
        }
    }
    e[n++] = (Entry){"batch.src", fixture_src, 1, 2, {3, 5}};
    e[n++] = (Entry){"batch.tgt_in", fixture_tgt_in, 1, 2, {3, 6}};
    e[n++] = (Entry){"batch.tgt_out", fixture_tgt_out, 1, 2, {3, 6}};
    int rc = write_safetensors(path, e, n, info);
    free(e);
    free(grads);
    supernet_destroy(&s);
    if (rc)
        fprintf(stderr, "torch_dump_mos: cannot write %s\n", path);
    return rc ? 1 : 0;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: torch_dump_mos OUT_DIR\n");
        return 2;
    }
    char path[4096];
    snprintf(path, sizeof path, "%s/layer.safetensors", argv[1]);
    if (dump(path, MOS_LAYER, 2, 0))
        return 1;
    snprintf(path, sizeof path, "%s/neuron.safetensors", argv[1]);
    if (dump(path, MOS_NEURON, 3, 0))
        return 1;
    snprintf(path, sizeof path, "%s/layer_opts.safetensors", argv[1]);
    if (dump(path, MOS_LAYER, 2, 1))
        return 1;
    snprintf(path, sizeof path, "%s/neuron_opts.safetensors", argv[1]);
    return dump(path, MOS_NEURON, 2, 1);
}
