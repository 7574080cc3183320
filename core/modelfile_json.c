/* config.json of an extracted model (format "mos-model", documented in docs/extract.md): the
 * architecture in text and HAT JSON form, the dims a loader needs, vocabulary and special ids,
 * tokenizer files, model options, the source checkpoint and the finetuning record; plus
 * modelfile_write (the whole directory's files) and modelfile_update (finetuned weights, previous
 * pair kept). Does not create or replace the directory itself. */
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "modelfile_impl.h"

#define MODELFILE_VERSION 1

/* ---- writing ------------------------------------------------------------------------------- */

static json_t *int_list(const int *v, int n)
{
    json_t *a = json_array();
    for (int i = 0; i < n; i++)
        json_array_append_new(a, json_integer(v[i]));
    return a;
}

static json_t *dims_json(Supernet *m, const Arch *a)
{
    const ModelConfig *c = supernet_config(m);
    int blocks[ARCH_MAX_LAYERS], rows, cols;
    for (int l = 0; l < a->dec_layers; l++) {
        int code = a->dec_arbitrary[l], n = code == 1 ? 2 : code == 2 ? 3 : 1;
        blocks[l] = n < a->enc_layers ? n : a->enc_layers;
    }
    supernet_positions(m, 0, &rows, &cols);
    json_t *d = json_object();
    json_object_set_new(d, "encoder_embed_dim", json_integer(a->enc_embed));
    json_object_set_new(d, "decoder_embed_dim", json_integer(a->dec_embed));
    json_object_set_new(d, "embed_tokens_dim",
                        json_integer(a->enc_embed > a->dec_embed ? a->enc_embed : a->dec_embed));
    json_object_set_new(d, "encoder_layers", json_integer(a->enc_layers));
    json_object_set_new(d, "decoder_layers", json_integer(a->dec_layers));
    json_object_set_new(d, "qkv_dim", json_integer(c->space.qkv_dim));
    json_object_set_new(d, "encoder_ffn_dims", int_list(a->enc_ffn, a->enc_layers));
    json_object_set_new(d, "encoder_heads", int_list(a->enc_heads, a->enc_layers));
    json_object_set_new(d, "decoder_ffn_dims", int_list(a->dec_ffn, a->dec_layers));
    json_object_set_new(d, "decoder_self_heads", int_list(a->dec_self_heads, a->dec_layers));
    json_object_set_new(d, "decoder_ende_heads", int_list(a->dec_ende_heads, a->dec_layers));
    json_object_set_new(d, "decoder_ende_layers", int_list(blocks, a->dec_layers));
    json_object_set_new(d, "max_positions", json_integer(c->max_positions));
    json_object_set_new(d, "position_rows", json_integer(rows));
    return d;
}

/* A float option as the decimal the user wrote (0.1, not 0.10000000149011612). */
static double dec6(float x)
{
    char buf[32];
    snprintf(buf, sizeof buf, "%.6g", (double)x);
    return strtod(buf, NULL);
}

static json_t *options_json(const ModelConfig *c)
{
    return json_pack("{s:b, s:f, s:f, s:f, s:s, s:b, s:s}", "pre_ln", c->pre_ln, "dropout",
                     dec6(c->dropout), "attention_dropout", dec6(c->attn_dropout),
                     "label_smoothing", dec6(c->label_smoothing), "embed_scale", "sqrt(d)",
                     "tied_output_projection", 1, "positions",
                     "sinusoidal, stored as *.embed_positions.weight");
}

static json_t *supernet_json(const ModelConfig *c)
{
    const SearchSpace *s = &c->space;
    return json_pack("{s:i, s:i, s:i, s:i, s:i, s:i, s:i, s:s, s:i, s:i, s:b, s:f, s:f, s:b}",
                     "encoder_embed_dim", s->enc_embed_max, "decoder_embed_dim",
                     s->dec_embed_max, "encoder_ffn_embed_dim", s->enc_ffn_max,
                     "decoder_ffn_embed_dim", s->dec_ffn_max, "encoder_layers",
                     s->enc_layers_max, "decoder_layers", s->dec_layers_max, "qkv_dim",
                     s->qkv_dim, "mos", config_mos_name(c->mos), "mos_experts", c->mos_experts,
                     "router_hidden", c->router_hidden, "router_const_input",
                     c->router_const_input, "dropout", dec6(c->dropout), "attention_dropout",
                     dec6(c->attn_dropout), "pre_ln", c->pre_ln);
}

static json_t *source_json(const ModelSource *src)
{
    char hash[24];
    snprintf(hash, sizeof hash, "%016" PRIx64, src->config_hash);
    return json_pack("{s:s, s:I, s:s, s:s, s:o}", "checkpoint",
                     src->checkpoint ? src->checkpoint : "", "step", (json_int_t)src->step,
                     "sha256", src->sha256, "config_hash", hash, "supernet",
                     supernet_json(src->super));
}

static int copy_file(const char *from, const char *to, MosErr *err)
{
    FILE *in = fopen(from, "rb");
    if (!in)
        return err_set(err, "%s: cannot open: %s", from, strerror(errno));
    FILE *out = fopen(to, "wb");
    if (!out) {
        fclose(in);
        return err_set(err, "%s: cannot write: %s", to, strerror(errno));
    }
    char buf[65536];
    size_t n;
    int bad = 0;
    while (!bad && (n = fread(buf, 1, sizeof buf, in)) > 0)
        bad = fwrite(buf, 1, n, out) != n;
    bad |= ferror(in);
    fclose(in);
    bad |= fflush(out) != 0 || fsync(fileno(out)) != 0;
    bad |= fclose(out) != 0;
    return bad ? err_set(err, "%s: cannot copy to %s", from, to) : 0;
}

/* SentencePiece data: spm.vocab (detokenizing) and spm.model (encoding raw text; absent in
 * generated test data, then recorded as null). Pre-tokenized data: dict.txt. */
static int copy_tokenizer(const char *dir, const ModelSource *src, MosErr *err)
{
    const char *spm[] = { "spm.vocab", "spm.model", NULL }, *dict[] = { "dict.txt", NULL };
    int is_spm = strcmp(src->man->tokenizer, "spm") == 0;
    const char **names = is_spm ? spm : dict;
    for (int i = 0; names[i]; i++) {
        char from[4200], to[4200];
        snprintf(from, sizeof from, "%s/%s", src->data_dir, names[i]);
        snprintf(to, sizeof to, "%s/%s", dir, names[i]);
        if (is_spm && i == 1 && access(from, F_OK) != 0)
            continue;
        if (copy_file(from, to, err) < 0)
            return -1;
    }
    return 0;
}

/* "spm.model" when the data has one, "dict.txt" for pre-tokenized data, else null. */
static json_t *tokenizer_file_json(const ModelSource *src)
{
    if (strcmp(src->man->tokenizer, "spm") != 0)
        return json_string("dict.txt");
    char path[4200];
    snprintf(path, sizeof path, "%s/spm.model", src->data_dir);
    return access(path, F_OK) == 0 ? json_string("spm.model") : json_null();
}

static json_t *config_json(Supernet *m, const Arch *a, const ModelSource *src)
{
    const ModelConfig *c = supernet_config(m);
    const Manifest *man = src->man;
    int spm = strcmp(man->tokenizer, "spm") == 0;
    char text[512], *hat = arch_json_dump(a);
    arch_format(a, text, sizeof text);
    json_t *cfg = json_loads(hat, 0, NULL);
    free(hat);
    ASSERT(cfg);
    json_t *o = json_pack("{s:s, s:i, s:s, s:o, s:o, s:i, s:i, s:i, s:i, s:i, s:s, s:o, s:s}",
                          "format", MODELFILE_FORMAT, "version", MODELFILE_VERSION, "arch", text,
                          "config", cfg, "dims", dims_json(m, a), "vocab_size", c->vocab,
                          "pad_id", c->pad_id, "unk_id", c->unk_id, "bos_id", c->bos_id,
                          "eos_id", c->eos_id, "tokenizer", man->tokenizer, "tokenizer_file",
                          tokenizer_file_json(src), "vocab_file",
                          spm ? "spm.vocab" : "dict.txt");
    json_object_set_new(o, "bpe_marker", man->bpe_marker[0] ? json_string(man->bpe_marker)
                                                            : json_null());
    json_object_set_new(o, "model", options_json(c));
    json_object_set_new(o, "source", source_json(src));
    json_object_set_new(o, "finetune", json_pack("{s:i, s:b}", "steps", 0, "from_scratch", 0));
    return o;
}

static int dump_json(json_t *o, const char *path, MosErr *err)
{
    int rc = json_dump_file(o, path, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    json_decref(o);
    return rc == 0 ? 0 : err_set(err, "%s: cannot write", path);
}

int modelfile_write(const char *dir, Supernet *model, const Arch *a, const ModelSource *src,
                    MosErr *err)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/%s", dir, MODELFILE_WEIGHTS);
    if (modelfile_write_weights(path, model, a, err) < 0)
        return -1;
    snprintf(path, sizeof path, "%s/%s", dir, MODELFILE_CONFIG);
    if (dump_json(config_json(model, a, src), path, err) < 0)
        return -1;
    return copy_tokenizer(dir, src, err);
}

/* ---- reading ------------------------------------------------------------------------------- */

static int get_int(json_t *o, const char *key, int lo, int *out, const char *path, MosErr *err)
{
    json_t *v = json_object_get(o, key);
    if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > (1 << 30))
        return err_set(err, "%s: %s: missing or not an integer >= %d", path, key, lo);
    *out = (int)json_integer_value(v);
    return 0;
}

static int get_num(json_t *o, const char *key, float *out, const char *path, MosErr *err)
{
    json_t *v = json_object_get(o, key);
    if (!json_is_number(v))
        return err_set(err, "%s: model.%s: missing or not a number", path, key);
    *out = (float)json_number_value(v);
    return 0;
}

static int read_arch(json_t *o, Arch *a, const char *path, MosErr *err)
{
    const char *text = json_string_value(json_object_get(o, "arch"));
    if (!text)
        return err_set(err, "%s: arch: missing", path);
    if (arch_parse(text, a, err) < 0) {
        err_prefix(err, "%s: arch", path);
        return -1;
    }
    json_t *hat = json_object_get(o, "config");
    char *s = hat ? json_dumps(hat, JSON_COMPACT) : NULL;
    Arch b;
    int ok = s && arch_json_load(s, &b, NULL) == 0 && arch_equal(a, &b);
    free(s);
    return ok ? 0 : err_set(err, "%s: config: missing or not the arch '%s'", path, text);
}

static int check_heads(const ModelConfig *c, const Arch *a, const char *path, MosErr *err)
{
    for (int l = 0; l < a->enc_layers + a->dec_layers; l++) {
        int d = l - a->enc_layers;
        int h[3] = { d < 0 ? a->enc_heads[l] : a->dec_self_heads[d],
                     d < 0 ? 1 : a->dec_ende_heads[d], 1 };
        for (int k = 0; k < 3; k++)
            if (h[k] < 1 || c->space.qkv_dim % h[k] != 0)
                return err_set(err, "%s: %d heads do not divide qkv_dim %d", path, h[k],
                               c->space.qkv_dim);
    }
    if (arch_validate(&c->space, a, err) < 0) {
        err_prefix(err, "%s", path);
        return -1;
    }
    return 0;
}

static int read_tokenizer(json_t *o, ModelInfo *info, const char *path, MosErr *err)
{
    const char *tok = json_string_value(json_object_get(o, "tokenizer"));
    const char *file = json_string_value(json_object_get(o, "tokenizer_file"));
    if (!tok || (strcmp(tok, "spm") != 0 && strcmp(tok, "pretokenized") != 0))
        return err_set(err, "%s: tokenizer: expected \"spm\" or \"pretokenized\"", path);
    json_t *fj = json_object_get(o, "tokenizer_file");
    if (!json_is_null(fj) && (!file || strchr(file, '/') ||
                              strlen(file) >= sizeof info->tokenizer_file))
        return err_set(err, "%s: tokenizer_file: not null or a plain file name", path);
    snprintf(info->man.tokenizer, sizeof info->man.tokenizer, "%s", tok);
    snprintf(info->tokenizer_file, sizeof info->tokenizer_file, "%s", file ? file : "");
    const char *marker = json_string_value(json_object_get(o, "bpe_marker"));
    snprintf(info->man.bpe_marker, sizeof info->man.bpe_marker, "%s", marker ? marker : "");
    return 0;
}

static int read_config(json_t *o, ModelInfo *info, const char *path, MosErr *err)
{
    ModelConfig *c = &info->cfg;
    json_t *dims = json_object_get(o, "dims"), *model = json_object_get(o, "model");
    if (read_arch(o, &info->arch, path, err) < 0)
        return -1;
    if (!json_is_object(dims) || !json_is_object(model))
        return err_set(err, "%s: dims and model: missing", path);
    int qkv = 0;
    if (get_int(dims, "qkv_dim", 1, &qkv, path, err) ||
        get_int(dims, "max_positions", 2, &c->max_positions, path, err) ||
        get_int(o, "vocab_size", 4, &c->vocab, path, err) ||
        get_int(o, "pad_id", 0, &c->pad_id, path, err) ||
        get_int(o, "unk_id", 0, &c->unk_id, path, err) ||
        get_int(o, "bos_id", 0, &c->bos_id, path, err) ||
        get_int(o, "eos_id", 0, &c->eos_id, path, err) ||
        get_num(model, "dropout", &c->dropout, path, err) ||
        get_num(model, "attention_dropout", &c->attn_dropout, path, err) ||
        get_num(model, "label_smoothing", &c->label_smoothing, path, err))
        return -1;
    modelfile_space(&info->arch, qkv, &c->space);
    c->pre_ln = json_is_true(json_object_get(model, "pre_ln"));
    c->mos = MOS_NONE;
    c->mos_experts = 1;
    c->router_hidden = 1;
    info->man = (Manifest){.vocab_size = c->vocab, .pad_id = c->pad_id, .unk_id = c->unk_id,
                           .bos_id = c->bos_id, .eos_id = c->eos_id};
    return check_heads(c, &info->arch, path, err);
}

static json_t *load_json(const char *dir, const char *name, char *path, size_t n, MosErr *err)
{
    snprintf(path, n, "%s/%s", dir, name);
    json_error_t je;
    json_t *o = json_load_file(path, 0, &je);
    if (!o) {
        if (access(path, F_OK) != 0)
            err_set(err, "%s: missing (not a model directory made by mos extract?)", path);
        else
            err_set(err, "%s:%d: %s", path, je.line, je.text);
        return NULL;
    }
    const char *fmt = json_string_value(json_object_get(o, "format"));
    json_t *ver = json_object_get(o, "version");
    if (!fmt || strcmp(fmt, MODELFILE_FORMAT) != 0 ||
        json_integer_value(ver) != MODELFILE_VERSION) {
        json_decref(o);
        err_set(err, "%s: not a %s version %d file", path, MODELFILE_FORMAT, MODELFILE_VERSION);
        return NULL;
    }
    return o;
}

int modelfile_read_info(const char *dir, ModelInfo *info, MosErr *err)
{
    char path[4200];
    memset(info, 0, sizeof *info);
    json_t *o = load_json(dir, MODELFILE_CONFIG, path, sizeof path, err);
    if (!o)
        return -1;
    int rc = read_config(o, info, path, err);
    if (rc == 0)
        rc = read_tokenizer(o, info, path, err);
    json_t *src = json_object_get(o, "source"), *ft = json_object_get(o, "finetune");
    info->source_step = (long)json_integer_value(json_object_get(src, "step"));
    const char *sha = json_string_value(json_object_get(src, "sha256"));
    snprintf(info->source_sha256, sizeof info->source_sha256, "%s", sha ? sha : "");
    info->finetune_steps = (int)json_integer_value(json_object_get(ft, "steps"));
    json_decref(o);
    return rc;
}

/* ---- finetuned weights --------------------------------------------------------------------- */

/* path <- tmp, keeping the current file as prev (a hard link, so path never goes missing). */
static int replace_keep(const char *path, const char *tmp, const char *prev, MosErr *err)
{
    if (unlink(prev) != 0 && errno != ENOENT)
        return err_set(err, "%s: cannot remove: %s", prev, strerror(errno));
    if (link(path, prev) != 0 && errno != ENOENT)
        return err_set(err, "%s: cannot keep as %s: %s", path, prev, strerror(errno));
    if (rename(tmp, path) != 0)
        return err_set(err, "%s: cannot rename to %s: %s", tmp, path, strerror(errno));
    return 0;
}

int modelfile_update(const char *dir, Supernet *model, const ModelInfo *info, int steps,
                     int from_scratch, MosErr *err)
{
    char path[4200], tmp[4300], prev[4300], cpath[4200], ctmp[4300], cprev[4300];
    json_t *o = load_json(dir, MODELFILE_CONFIG, cpath, sizeof cpath, err);
    if (!o)
        return -1;
    int total = from_scratch ? steps : info->finetune_steps + steps;
    json_object_set_new(o, "finetune", json_pack("{s:i, s:b}", "steps", total, "from_scratch",
                                                 from_scratch));
    snprintf(path, sizeof path, "%s/%s", dir, MODELFILE_WEIGHTS);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    snprintf(prev, sizeof prev, "%s/model.prev.safetensors", dir);
    snprintf(ctmp, sizeof ctmp, "%s.tmp", cpath);
    snprintf(cprev, sizeof cprev, "%s/config.prev.json", dir);
    if (modelfile_write_weights(tmp, model, &info->arch, err) < 0) {
        json_decref(o);
        return -1;
    }
    if (dump_json(o, ctmp, err) < 0) {
        unlink(tmp);
        return -1;
    }
    if (replace_keep(path, tmp, prev, err) < 0)
        return -1;
    return replace_keep(cpath, ctmp, cprev, err);
}
