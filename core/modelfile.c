/* Extracted model files (see modelfile.h): the standalone config of an arch, building the
 * standalone Supernet from a plain supernet by first-k copies, and model.safetensors written and
 * read by hand (8-byte LE header length, JSON header padded with spaces to 8 bytes, F32 tensors
 * contiguous in header order). config.json lives in modelfile_json.c. Assumes a little-endian
 * host, as core/checkpoint.c does. */
#include "modelfile.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "modelfile_impl.h"

#define MAX_HEADER (16u << 20)

/* ---- the standalone config ----------------------------------------------------------------- */

/* c <- the distinct values of v[0..n) in first-use order; returns their maximum. */
static int distinct(Choices *c, const int *v, int n)
{
    int mx = v[0];
    c->n = 0;
    for (int i = 0; i < n; i++) {
        int seen = 0;
        for (int k = 0; k < c->n; k++)
            seen |= c->v[k] == v[i];
        if (!seen && c->n < ARCH_MAX_CHOICES)
            c->v[c->n++] = v[i];
        mx = v[i] > mx ? v[i] : mx;
    }
    return mx;
}

void modelfile_space(const Arch *a, int qkv_dim, SearchSpace *s)
{
    memset(s, 0, sizeof *s);
    int Le = a->enc_layers, Ld = a->dec_layers;
    s->qkv_dim = qkv_dim;
    s->enc_embed_max = distinct(&s->enc_embed, &a->enc_embed, 1);
    s->dec_embed_max = distinct(&s->dec_embed, &a->dec_embed, 1);
    s->enc_layers_max = distinct(&s->enc_layers, &a->enc_layers, 1);
    s->dec_layers_max = distinct(&s->dec_layers, &a->dec_layers, 1);
    s->enc_ffn_max = distinct(&s->enc_ffn, a->enc_ffn, Le);
    s->dec_ffn_max = distinct(&s->dec_ffn, a->dec_ffn, Ld);
    s->enc_heads_max = distinct(&s->enc_heads, a->enc_heads, Le);
    int hs = distinct(&s->dec_self_heads, a->dec_self_heads, Ld);
    int he = distinct(&s->dec_ende_heads, a->dec_ende_heads, Ld);
    s->dec_heads_max = hs > he ? hs : he;
    distinct(&s->dec_arbitrary, a->dec_arbitrary, Ld);
}

void modelfile_config(const ModelConfig *super, const Arch *a, ModelConfig *out)
{
    *out = *super;
    modelfile_space(a, super->space.qkv_dim, &out->space);
    out->mos = MOS_NONE;
    out->mos_experts = 1;
    out->router_const_input = 0;
    out->dropout = super->dropout * (float)a->dec_embed / (float)super->space.dec_embed_max;
}

/* ---- building from a plain supernet -------------------------------------------------------- */

/* The tensor's shape in the file (and the block of the standalone model that is used): its
 * shape at the standalone maxima, except a layer's FFN, cut to that layer's own dim. */
void modelfile_file_shape(const NamedTensor *t, const Arch *a, int *rows, int *cols)
{
    *rows = t->shape[0];
    *cols = t->ndim == 2 ? t->shape[1] : 1;
    char stack[8], rest[64];
    int l;
    if (sscanf(t->name, "%7[a-z].layers.%d.%63s", stack, &l, rest) != 3 || l < 0 ||
        l >= ARCH_MAX_LAYERS)
        return;
    int F = strcmp(stack, "encoder") == 0 ? a->enc_ffn[l] : a->dec_ffn[l];
    if (strcmp(rest, "fc1.weight") == 0 || strcmp(rest, "fc1.bias") == 0)
        *rows = F;
    else if (strcmp(rest, "fc2.weight") == 0)
        *cols = F;
}

/* dst (rows, ldd) <- src (rows, lds), first cols columns. */
static void copy_block(float *dst, int ldd, const float *src, int lds, int rows, int cols)
{
    for (int r = 0; r < rows; r++)
        memcpy(dst + (size_t)r * ldd, src + (size_t)r * lds, (size_t)cols * sizeof *dst);
}

static int build_tensors(Supernet *src, Supernet *m, const Arch *a, MosErr *err)
{
    const float *sp = supernet_params(src);
    float *mp = supernet_params(m);
    memset(mp, 0, supernet_nparams(m) * sizeof *mp);
    for (int i = 0; i < supernet_ntensors(m); i++) {
        const NamedTensor *t = supernet_tensor(m, i);
        int j = supernet_find_tensor(src, t->name);
        if (j < 0)
            return err_set(err, "extract: the supernet has no tensor %s", t->name);
        const NamedTensor *u = supernet_tensor(src, j);
        int rows, cols, ucols = u->ndim == 2 ? u->shape[1] : 1;
        modelfile_file_shape(t, a, &rows, &cols);
        if (u->ndim != t->ndim || rows > u->shape[0] || cols > ucols)
            return err_set(err, "extract: tensor %s of the supernet is smaller than the arch "
                                "needs", t->name);
        copy_block(mp + t->offset, t->ndim == 2 ? t->shape[1] : 1, sp + u->offset, ucols,
                   rows, cols);
    }
    for (int dec = 0; dec < 2; dec++) {
        int sr, sc, mr, mc;
        const float *ps = supernet_positions(src, dec, &sr, &sc);
        float *pm = supernet_positions(m, dec, &mr, &mc);
        ASSERT(sr == mr && mc <= sc);
        copy_block(pm, mc, ps, sc, mr, mc);
    }
    return 0;
}

Supernet *modelfile_build(Supernet *src, const Arch *a, int max_tokens, MosErr *err)
{
    const ModelConfig *sc = supernet_config(src);
    if (sc->mos != MOS_NONE) {
        err_set(err, "extract: the supernet has MoS experts; collapse them first");
        return NULL;
    }
    if (arch_validate(&sc->space, a, err) < 0) {
        err_prefix(err, "extract: arch not in the supernet's space");
        return NULL;
    }
    ModelConfig c;
    modelfile_config(sc, a, &c);
    Supernet *m = supernet_new(&c, max_tokens, 1, err);
    if (!m)
        return NULL;
    if (build_tensors(src, m, a, err) < 0)
        supernet_destroy(&m);
    return m;
}

/* ---- model.safetensors --------------------------------------------------------------------- */

/* The file's tensors in order: every parameter tensor, then the two position tables. */
static int file_ntensors(const Supernet *m)
{
    return supernet_ntensors(m) + 2;
}

typedef struct FileTensor {
    const char *name;
    float *base;        /* block start in the model */
    int ld, rows, cols, ndim;
} FileTensor;

static const char *const pos_names[2] = { "encoder.embed_positions.weight",
                                          "decoder.embed_positions.weight" };

static void file_tensor(Supernet *m, const Arch *a, int i, FileTensor *f)
{
    int n = supernet_ntensors(m);
    if (i >= n) {
        int rows, cols;
        float *base = supernet_positions(m, i - n, &rows, &cols);
        *f = (FileTensor){pos_names[i - n], base, cols, rows, cols, 2};
        return;
    }
    const NamedTensor *t = supernet_tensor(m, i);
    f->name = t->name;
    f->base = supernet_params(m) + t->offset;
    f->ld = t->ndim == 2 ? t->shape[1] : 1;
    f->ndim = t->ndim;
    modelfile_file_shape(t, a, &f->rows, &f->cols);
}

size_t modelfile_nparams(Supernet *m, const Arch *a)
{
    size_t n = 0;
    for (int i = 0; i < supernet_ntensors(m); i++) {
        int rows, cols;
        modelfile_file_shape(supernet_tensor(m, i), a, &rows, &cols);
        n += (size_t)rows * (size_t)cols;
    }
    return n;
}

static char *header_text(Supernet *m, const Arch *a, size_t *len)
{
    json_t *h = json_object();
    char text[512];
    arch_format(a, text, sizeof text);
    json_object_set_new(h, "__metadata__",
                        json_pack("{s:s, s:s}", "format", MODELFILE_FORMAT, "arch", text));
    size_t off = 0;
    for (int i = 0; i < file_ntensors(m); i++) {
        FileTensor f;
        file_tensor(m, a, i, &f);
        size_t bytes = (size_t)f.rows * (size_t)f.cols * sizeof(float);
        json_t *shape = f.ndim == 2 ? json_pack("[i, i]", f.rows, f.cols)
                                    : json_pack("[i]", f.rows);
        json_object_set_new(h, f.name, json_pack("{s:s, s:o, s:[I, I]}", "dtype", "F32",
                                                 "shape", shape, "data_offsets",
                                                 (json_int_t)off, (json_int_t)(off + bytes)));
        off += bytes;
    }
    char *s = json_dumps(h, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(h);
    ASSERT(s);
    size_t n = strlen(s), padded = (n + 7) & ~(size_t)7;
    char *out = malloc(padded + 1);
    ASSERT(out);
    memcpy(out, s, n);
    memset(out + n, ' ', padded - n);
    out[padded] = 0;
    free(s);
    *len = padded;
    return out;
}

int modelfile_write_weights(const char *path, Supernet *m, const Arch *a, MosErr *err)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return err_set(err, "%s: cannot write: %s", path, strerror(errno));
    size_t hlen;
    char *hdr = header_text(m, a, &hlen);
    uint64_t n = hlen;
    int bad = fwrite(&n, 8, 1, f) != 1 || fwrite(hdr, 1, hlen, f) != hlen;
    free(hdr);
    for (int i = 0; i < file_ntensors(m) && !bad; i++) {
        FileTensor t;
        file_tensor(m, a, i, &t);
        for (int r = 0; r < t.rows && !bad; r++)
            bad = fwrite(t.base + (size_t)r * t.ld, sizeof(float), (size_t)t.cols, f) !=
                  (size_t)t.cols;
    }
    bad |= fflush(f) != 0 || fsync(fileno(f)) != 0;
    bad |= fclose(f) != 0;
    if (bad) {
        unlink(path);
        return err_set(err, "%s: cannot write: %s", path, strerror(errno));
    }
    return 0;
}

/* Checks one header entry against the expected tensor; *begin gets its data offset. */
static int check_entry(json_t *e, const FileTensor *t, size_t data_len, size_t *begin,
                       const char *path, MosErr *err)
{
    json_t *shape = json_object_get(e, "shape"), *offs = json_object_get(e, "data_offsets");
    const char *dtype = json_string_value(json_object_get(e, "dtype"));
    if (!dtype || strcmp(dtype, "F32") != 0)
        return err_set(err, "%s: tensor %s: dtype %s, expected F32", path, t->name,
                       dtype ? dtype : "missing");
    int want[2] = { t->rows, t->cols };
    int ok = json_is_array(shape) && (int)json_array_size(shape) == t->ndim;
    for (int d = 0; ok && d < t->ndim; d++)
        ok = json_integer_value(json_array_get(shape, (size_t)d)) == want[d];
    if (!ok)
        return err_set(err, "%s: tensor %s has shape %s, the config needs (%d%s%.0d)", path,
                       t->name, shape ? "of another size" : "missing", t->rows,
                       t->ndim == 2 ? ", " : "", t->ndim == 2 ? t->cols : 0);
    json_t *b = json_array_get(offs, 0), *en = json_array_get(offs, 1);
    size_t bytes = (size_t)t->rows * (size_t)t->cols * sizeof(float);
    if (!json_is_integer(b) || !json_is_integer(en) || json_integer_value(b) < 0 ||
        (size_t)(json_integer_value(en) - json_integer_value(b)) != bytes ||
        (size_t)json_integer_value(en) > data_len)
        return err_set(err, "%s: tensor %s: data offsets outside the file (truncated?)", path,
                       t->name);
    *begin = (size_t)json_integer_value(b);
    return 0;
}

static json_t *read_header(FILE *f, long size, size_t *hlen, const char *path, MosErr *err)
{
    uint64_t n = 0;
    if (size < 8 || fread(&n, 8, 1, f) != 1 || n < 2 || n > MAX_HEADER || n > (uint64_t)size - 8)
        return err_set(err, "%s: not a safetensors file (bad header length)", path), NULL;
    char *buf = malloc(n + 1);
    ASSERT(buf);
    if (fread(buf, 1, n, f) != n) {
        free(buf);
        return err_set(err, "%s: truncated header", path), NULL;
    }
    buf[n] = 0;
    json_error_t je;
    json_t *h = json_loads(buf, 0, &je);
    free(buf);
    if (!json_is_object(h)) {
        json_decref(h);
        return err_set(err, "%s: header is not a JSON object (%s)", path, je.text), NULL;
    }
    *hlen = n;
    return h;
}

static int read_tensors(FILE *f, json_t *h, Supernet *m, const Arch *a, size_t data0,
                        size_t data_len, const char *path, MosErr *err)
{
    for (int i = 0; i < file_ntensors(m); i++) {
        FileTensor t;
        file_tensor(m, a, i, &t);
        json_t *e = json_object_get(h, t.name);
        size_t begin = 0;
        if (!e)
            return err_set(err, "%s: tensor %s is missing", path, t.name);
        if (check_entry(e, &t, data_len, &begin, path, err) < 0)
            return -1;
        if (fseek(f, (long)(data0 + begin), SEEK_SET) != 0)
            return err_set(err, "%s: cannot seek: %s", path, strerror(errno));
        for (int r = 0; r < t.rows; r++)
            if (fread(t.base + (size_t)r * t.ld, sizeof(float), (size_t)t.cols, f) !=
                (size_t)t.cols)
                return err_set(err, "%s: tensor %s: truncated data", path, t.name);
    }
    size_t extra = json_object_size(h) - (size_t)file_ntensors(m);
    if (json_object_get(h, "__metadata__"))
        extra--;
    if (extra)
        return err_set(err, "%s: %zu tensors the config does not describe", path, extra);
    return 0;
}

int modelfile_read_weights(const char *path, Supernet *m, const Arch *a, MosErr *err)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return err_set(err, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    long size = fstat(fileno(f), &st) == 0 ? (long)st.st_size : -1;
    size_t hlen = 0;
    json_t *h = read_header(f, size, &hlen, path, err);
    int rc = -1;
    if (h) {
        memset(supernet_params(m), 0, supernet_nparams(m) * sizeof(float));
        rc = read_tensors(f, h, m, a, 8 + hlen, (size_t)size - 8 - hlen, path, err);
    }
    json_decref(h);
    fclose(f);
    return rc;
}

Supernet *modelfile_load(const char *dir, int max_tokens, ModelInfo *info, MosErr *err)
{
    if (modelfile_read_info(dir, info, err) < 0)
        return NULL;
    Supernet *m = supernet_new(&info->cfg, max_tokens, 1, err);
    if (!m) {
        err_prefix(err, "%s/%s", dir, MODELFILE_CONFIG);
        return NULL;
    }
    char path[4200];
    snprintf(path, sizeof path, "%s/%s", dir, MODELFILE_WEIGHTS);
    if (modelfile_read_weights(path, m, &info->arch, err) < 0)
        supernet_destroy(&m);
    return m;
}
