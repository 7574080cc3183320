/* Test driver for the PyTorch cross-check (torch_ref.py): builds the fixture supernet (dropout
 * off), runs 3 post-LN archs and 1 pre-LN arch over the fixture batch and writes, per config,
 * OUT_DIR/{post,pre}.safetensors holding the parameters (at max dims, the supernet's names), the
 * batch (I32), every arch's gradients ("grad.K.<name>") and, in __metadata__, the config, the
 * archs and mos's summed losses. A test-only safetensors writer: 8-byte little-endian header
 * length, JSON header, raw little-endian data. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model_fixture.h"
#include "supernet.h"

typedef struct Entry { char name[160]; const void *data; int i32; int ndim; int shape[2]; } Entry;

static size_t entry_bytes(const Entry *e)
{
    return (size_t)e->shape[0] * (e->ndim == 2 ? (size_t)e->shape[1] : 1) * 4;
}

static int write_safetensors(const char *path, const Entry *e, int n, const char *meta)
{
    size_t cap = 4096 + (size_t)n * 256 + strlen(meta), len = 0, off = 0;
    char *h = malloc(cap);
    len += (size_t)snprintf(h + len, cap - len, "{\"__metadata__\":%s", meta);
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
    uint64_t hl = len;
    unsigned char le[8];
    for (int i = 0; i < 8; i++)
        le[i] = (unsigned char)(hl >> (8 * i));
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

/* JSON string literal of s (quotes escaped) appended to out. */
static size_t json_quote(char *out, size_t n, const char *s)
{
    size_t len = 0;
    out[len++] = '"';
    for (; *s && len + 3 < n; s++) {
        if (*s == '"' || *s == '\\')
            out[len++] = '\\';
        out[len++] = *s;
    }
    out[len++] = '"';
    out[len] = 0;
    return len;
}

static int dump(const char *path, int pre_ln, const int *which, int narch)
{
    ModelConfig c;
    fixture_config(&c, pre_ln);
    c.dropout = c.attn_dropout = 0.0f;
    MosErr err;
    Supernet *s = supernet_new(&c, 64, 42, &err);
    if (!s) {
        fprintf(stderr, "torch_dump: %s\n", err.msg);
        return 1;
    }
    Batch b = fixture_batch();
    int nt = supernet_ntensors(s), n = 0;
    size_t np = supernet_nparams(s);
    Entry *e = calloc((size_t)(nt * (narch + 1) + 3), sizeof *e);
    float *grads = malloc((size_t)narch * np * sizeof(float));
    char info[16384], meta[20000];
    int len = snprintf(info, sizeof info,
                       "{\"vocab\":%d,\"pad\":%d,\"eps\":%g,\"pre_ln\":%d,\"qkv\":%d,"
                       "\"De\":%d,\"Dd\":%d,\"archs\":[", c.vocab, c.pad_id,
                       (double)c.label_smoothing, pre_ln, c.space.qkv_dim,
                       c.space.enc_embed_max, c.space.dec_embed_max);
    double loss[8];
    for (int k = 0; k < narch; k++) {
        Arch a;
        fixture_arch(&a, which[k]);
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
    size_t ml = (size_t)snprintf(meta, sizeof meta, "{\"mos\":");
    ml += json_quote(meta + ml, sizeof meta - ml - 2, info);
    snprintf(meta + ml, sizeof meta - ml, "}");
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
    int rc = write_safetensors(path, e, n, meta);
    free(e);
    free(grads);
    supernet_destroy(&s);
    if (rc)
        fprintf(stderr, "torch_dump: cannot write %s\n", path);
    return rc ? 1 : 0;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: torch_dump OUT_DIR\n");
        return 2;
    }
    char path[4096];
    const int post[3] = {0, 1, 2}, pre[1] = {2};
    snprintf(path, sizeof path, "%s/post.safetensors", argv[1]);
    if (dump(path, 0, post, 3))
        return 1;
    snprintf(path, sizeof path, "%s/pre.safetensors", argv[1]);
    return dump(path, 1, pre, 1);
}
