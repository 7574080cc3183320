/* Checkpoint files (see checkpoint.h): safetensors written and read by hand (8-byte LE header
 * length, JSON header padded with spaces to 8 bytes, tensors contiguous in header order), JSON
 * metadata through jansson. A 64-bit FNV-1a over the data's 32-bit words is stored in both
 * files: it detects corruption and ties the pair together. Assumes a little-endian host. */
#include "checkpoint.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define HASH_INIT 0xcbf29ce484222325ULL
#define MAX_HEADER (64u << 20)

static uint64_t hash_words(uint64_t h, const float *x, size_t n)
{
    const uint32_t *w = (const uint32_t *)(const void *)x;
    for (size_t i = 0; i < n; i++) {
        h ^= w[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}

static size_t tensor_size(const CkptTensor *t)
{
    size_t n = 1;
    for (int d = 0; d < t->ndim; d++)
        n *= (size_t)t->shape[d];
    return n;
}

/* Tensor k of the file order: params, then adam_m, then adam_v (when present). */
static const float *block_of(const CkptBlocks *b, int k, int *ti, const char **prefix)
{
    *ti = k % b->nt;
    int family = k / b->nt;
    *prefix = family == 0 ? "" : family == 1 ? "adam_m." : "adam_v.";
    const float *base = family == 0 ? b->params : family == 1 ? b->adam_m : b->adam_v;
    return base + b->t[*ti].offset;
}

static int n_families(const CkptBlocks *b)
{
    return b->adam_m && b->adam_v ? 3 : 1;
}

static void hex64(uint64_t v, char out[19])
{
    snprintf(out, 19, "%016" PRIx64, v);
}

/* ---- save ----------------------------------------------------------------------------------- */

static char *header_json(const CkptBlocks *b, const CkptMeta *m, uint64_t data_hash)
{
    json_t *root = json_object(), *meta = json_object();
    char buf[64];
    json_object_set_new(meta, "format", json_string("mos-checkpoint"));
    snprintf(buf, sizeof buf, "%ld", m->step);
    json_object_set_new(meta, "step", json_string(buf));
    hex64(m->config_hash, buf);
    json_object_set_new(meta, "config_hash", json_string(buf));
    hex64(data_hash, buf);
    json_object_set_new(meta, "data_hash", json_string(buf));
    json_object_set_new(root, "__metadata__", meta);
    size_t off = 0;
    for (int k = 0; k < b->nt * n_families(b); k++) {
        int ti;
        const char *prefix;
        block_of(b, k, &ti, &prefix);
        const CkptTensor *t = &b->t[ti];
        json_t *e = json_object(), *shape = json_array();
        for (int d = 0; d < t->ndim; d++)
            json_array_append_new(shape, json_integer(t->shape[d]));
        size_t bytes = 4 * tensor_size(t);
        json_object_set_new(e, "dtype", json_string("F32"));
        json_object_set_new(e, "shape", shape);
        json_object_set_new(e, "data_offsets",
                            json_pack("[I, I]", (json_int_t)off, (json_int_t)(off + bytes)));
        char name[256];
        snprintf(name, sizeof name, "%s%s", prefix, t->name);
        json_object_set_new(root, name, e);
        off += bytes;
    }
    char *s = json_dumps(root, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(root);
    return s;
}

static int write_synced(FILE *f, const char *path, MosErr *err)
{
    if (fflush(f) != 0 || fsync(fileno(f)) != 0) {
        err_set(err, "%s: %s", path, strerror(errno));
        fclose(f);
        return -1;
    }
    if (fclose(f) != 0)
        return err_set(err, "%s: %s", path, strerror(errno));
    return 0;
}

static int write_safetensors(const char *path, const CkptBlocks *b, const CkptMeta *m,
                             uint64_t data_hash, MosErr *err)
{
    char *hdr = header_json(b, m, data_hash);
    ASSERT(hdr);
    size_t hlen = strlen(hdr), padded = (hlen + 7) / 8 * 8;
    FILE *f = fopen(path, "wb");
    if (!f) {
        free(hdr);
        return err_set(err, "%s: %s", path, strerror(errno));
    }
    uint64_t le = padded;
    int ok = fwrite(&le, 8, 1, f) == 1 && fwrite(hdr, 1, hlen, f) == hlen;
    for (size_t i = hlen; ok && i < padded; i++)
        ok = fputc(' ', f) != EOF;
    free(hdr);
    for (int k = 0; ok && k < b->nt * n_families(b); k++) {
        int ti;
        const char *prefix;
        const float *x = block_of(b, k, &ti, &prefix);
        size_t n = tensor_size(&b->t[ti]);
        ok = fwrite(x, sizeof(float), n, f) == n;
    }
    if (!ok) {
        err_set(err, "%s: write failed: %s", path, strerror(errno));
        fclose(f);
        return -1;
    }
    return write_synced(f, path, err);
}

static int write_meta(const char *path, const CkptMeta *m, uint64_t data_hash, MosErr *err)
{
    char h[19], r[4][19], d[19];
    hex64(m->config_hash, h);
    hex64(data_hash, d);
    for (int i = 0; i < 4; i++)
        hex64(m->rng[i], r[i]);
    json_t *root = json_pack("{s:s, s:i, s:I, s:s, s:s, s:[s,s,s,s], s:{s:I, s:i}, s:I, s:f, "
                             "s:f, s:s}",
                             "format", "mos-checkpoint", "version", 1, "step", (json_int_t)m->step,
                             "config_hash", h, "data_hash", d, "rng", r[0], r[1], r[2], r[3],
                             "data", "epoch", (json_int_t)m->data_epoch, "pos", m->data_pos,
                             "tokens", (json_int_t)m->tokens, "elapsed_s", m->elapsed_s,
                             "valid_loss", m->valid_loss, "time", m->time);
    ASSERT(root);
    FILE *f = fopen(path, "w");
    if (!f) {
        json_decref(root);
        return err_set(err, "%s: %s", path, strerror(errno));
    }
    int rc = json_dumpf(root, f, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    json_decref(root);
    if (rc != 0 || fputc('\n', f) == EOF) {
        fclose(f);
        return err_set(err, "%s: write failed", path);
    }
    return write_synced(f, path, err);
}

static void sync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
}

int ckpt_save(const char *dir, const CkptBlocks *b, CkptMeta *m, MosErr *err)
{
    if (mkdir(dir, 0755) != 0 && errno != EEXIST)
        return err_set(err, "%s: %s", dir, strerror(errno));
    time_t now = time(NULL);
    strftime(m->time, sizeof m->time, "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
    uint64_t h = HASH_INIT;
    for (int k = 0; k < b->nt * n_families(b); k++) {
        int ti;
        const char *prefix;
        const float *x = block_of(b, k, &ti, &prefix);
        h = hash_words(h, x, tensor_size(&b->t[ti]));
    }
    char st_tmp[4096], js_tmp[4096], p[4][4096];
    snprintf(st_tmp, sizeof st_tmp, "%s/last.safetensors.tmp", dir);
    snprintf(js_tmp, sizeof js_tmp, "%s/last.json.tmp", dir);
    snprintf(p[0], sizeof p[0], "%s/last.safetensors", dir);
    snprintf(p[1], sizeof p[1], "%s/last.json", dir);
    snprintf(p[2], sizeof p[2], "%s/prev.safetensors", dir);
    snprintf(p[3], sizeof p[3], "%s/prev.json", dir);
    if (write_safetensors(st_tmp, b, m, h, err) < 0 || write_meta(js_tmp, m, h, err) < 0) {
        unlink(st_tmp);
        unlink(js_tmp);
        return -1;
    }
    /* last -> prev only when last is a complete pair (else keep the older prev) */
    if (access(p[0], F_OK) == 0 && access(p[1], F_OK) == 0) {
        if (rename(p[0], p[2]) != 0 || rename(p[1], p[3]) != 0)
            return err_set(err, "%s: cannot keep the previous checkpoint: %s", dir,
                           strerror(errno));
    }
    if (rename(st_tmp, p[0]) != 0 || rename(js_tmp, p[1]) != 0)
        return err_set(err, "%s: rename failed: %s", dir, strerror(errno));
    sync_dir(dir);
    return 0;
}

int ckpt_exists(const char *dir, const char *name)
{
    char p[4096];
    snprintf(p, sizeof p, "%s/%s.safetensors", dir, name);
    return access(p, F_OK) == 0;
}

/* ---- load ----------------------------------------------------------------------------------- */

static int parse_hex(json_t *v, uint64_t *out)
{
    const char *s = json_string_value(v);
    char *end;
    if (!s || !*s)
        return -1;
    errno = 0;
    *out = strtoull(s, &end, 16);
    return *end || errno ? -1 : 0;
}

static int read_meta(const char *path, CkptMeta *m, uint64_t *data_hash, MosErr *err)
{
    json_error_t je;
    json_t *root = json_load_file(path, 0, &je);
    if (!root)
        return err_set(err, "%s:%d: %s", path, je.line, je.text);
    json_t *rng = json_object_get(root, "rng"), *data = json_object_get(root, "data");
    memset(m, 0, sizeof *m);
    int bad = !json_is_integer(json_object_get(root, "step")) ||
              parse_hex(json_object_get(root, "config_hash"), &m->config_hash) < 0 ||
              parse_hex(json_object_get(root, "data_hash"), data_hash) < 0 ||
              json_array_size(rng) != 4 || !json_is_object(data);
    for (int i = 0; !bad && i < 4; i++)
        bad = parse_hex(json_array_get(rng, (size_t)i), &m->rng[i]) < 0;
    if (!bad) {
        m->step = (long)json_integer_value(json_object_get(root, "step"));
        m->data_epoch = (long)json_integer_value(json_object_get(data, "epoch"));
        m->data_pos = (int)json_integer_value(json_object_get(data, "pos"));
        m->tokens = (long)json_integer_value(json_object_get(root, "tokens"));
        m->elapsed_s = json_number_value(json_object_get(root, "elapsed_s"));
        m->valid_loss = json_number_value(json_object_get(root, "valid_loss"));
        const char *t = json_string_value(json_object_get(root, "time"));
        snprintf(m->time, sizeof m->time, "%s", t ? t : "");
    }
    json_decref(root);
    return bad ? err_set(err, "%s: missing or malformed fields (not a mos checkpoint?)", path)
               : 0;
}

typedef struct Entry {
    size_t begin, end;
    float *dest;          /* NULL: read for the checksum only */
} Entry;

static int cmp_entry(const void *a, const void *b)
{
    const Entry *x = a, *y = b;
    return (x->begin > y->begin) - (x->begin < y->begin);
}

/* Matches the header's tensors with the blocks' and fills e (sorted by offset). */
static int match_header(json_t *hdr, const CkptBlocks *b, Entry *e, int *ne, const char *path,
                        MosErr *err)
{
    int want = b->nt * 3, n = 0;
    const char *key;
    json_t *v;
    json_object_foreach(hdr, key, v) {
        if (strcmp(key, "__metadata__") == 0)
            continue;
        int k = -1;
        for (int i = 0; i < want && k < 0; i++) {
            const char *pre = i < b->nt ? "" : i < 2 * b->nt ? "adam_m." : "adam_v.";
            size_t pl = strlen(pre);
            if (strncmp(key, pre, pl) == 0 && strcmp(key + pl, b->t[i % b->nt].name) == 0)
                k = i;
        }
        if (k < 0 || n == want)
            return err_set(err, "%s: unexpected tensor '%s' (a different model?)", path, key);
        const CkptTensor *t = &b->t[k % b->nt];
        json_t *shape = json_object_get(v, "shape"), *offs = json_object_get(v, "data_offsets");
        const char *dtype = json_string_value(json_object_get(v, "dtype"));
        if (!dtype || strcmp(dtype, "F32") != 0)
            return err_set(err, "%s: %s: dtype %s, expected F32", path, key, dtype ? dtype : "?");
        int same = json_array_size(shape) == (size_t)t->ndim;
        for (int d = 0; same && d < t->ndim; d++)
            same = json_integer_value(json_array_get(shape, (size_t)d)) == t->shape[d];
        if (!same)
            return err_set(err, "%s: %s: shape differs from this run's model", path, key);
        json_int_t b0 = json_integer_value(json_array_get(offs, 0));
        json_int_t b1 = json_integer_value(json_array_get(offs, 1));
        if (json_array_size(offs) != 2 || b0 < 0 || b1 - b0 != (json_int_t)(4 * tensor_size(t)))
            return err_set(err, "%s: %s: bad data_offsets", path, key);
        float *base = k < b->nt ? b->params : k < 2 * b->nt ? b->adam_m : b->adam_v;
        e[n++] = (Entry){(size_t)b0, (size_t)b1, base ? base + t->offset : NULL};
    }
    int need = n_families(b) == 3 ? want : b->nt;
    if (n < need)
        return err_set(err, "%s: %d tensors, expected %d (a different model, or no Adam state)",
                       path, n, need);
    qsort(e, (size_t)n, sizeof *e, cmp_entry);
    for (int i = 0; i < n; i++)
        if (e[i].begin != (i ? e[i - 1].end : 0))
            return err_set(err, "%s: tensor data overlaps or has holes", path);
    *ne = n;
    return 0;
}

static int read_data(FILE *f, const Entry *e, int ne, uint64_t *hash, const char *path,
                     MosErr *err)
{
    enum { CHUNK = 1 << 18 };
    float *scratch = malloc(sizeof(float) * CHUNK);
    ASSERT(scratch);
    uint64_t h = HASH_INIT;
    for (int i = 0; i < ne; i++) {
        size_t n = (e[i].end - e[i].begin) / 4;
        for (size_t done = 0; done < n;) {
            size_t c = e[i].dest ? n : (n - done < CHUNK ? n - done : CHUNK);
            float *dst = e[i].dest ? e[i].dest : scratch;
            if (fread(dst, sizeof(float), c, f) != c) {
                free(scratch);
                return err_set(err, "%s: truncated", path);
            }
            h = hash_words(h, dst, c);
            done += c;
        }
    }
    free(scratch);
    *hash = h;
    return 0;
}

static int load_safetensors(const char *path, const CkptBlocks *b, const CkptMeta *m,
                            uint64_t want_hash, MosErr *err)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return err_set(err, "%s: %s", path, strerror(errno));
    struct stat sb;
    uint64_t hlen = 0;
    int rc = -1;
    char *hdr = NULL;
    json_t *root = NULL;
    Entry *e = malloc(sizeof(Entry) * (size_t)(3 * b->nt + 1));
    ASSERT(e);
    if (fstat(fileno(f), &sb) != 0 || fread(&hlen, 8, 1, f) != 1 || hlen > MAX_HEADER ||
        hlen + 8 > (uint64_t)sb.st_size) {
        err_set(err, "%s: not a safetensors file (bad header length)", path);
        goto done;
    }
    hdr = malloc(hlen + 1);
    ASSERT(hdr);
    json_error_t je;
    if (fread(hdr, 1, hlen, f) != hlen || !(hdr[hlen] = '\0', root = json_loads(hdr, 0, &je)) ||
        !json_is_object(root)) {
        err_set(err, "%s: corrupt header", path);
        goto done;
    }
    json_t *meta = json_object_get(root, "__metadata__");
    uint64_t hh = 0;
    const char *step = json_string_value(json_object_get(meta, "step"));
    if (parse_hex(json_object_get(meta, "data_hash"), &hh) < 0 || hh != want_hash || !step ||
        atol(step) != m->step) {
        err_set(err, "%s: does not belong to its .json (step or data hash differ)", path);
        goto done;
    }
    int ne = 0;
    uint64_t got = 0;
    if (match_header(root, b, e, &ne, path, err) < 0 || read_data(f, e, ne, &got, path, err) < 0)
        goto done;
    if (got != want_hash) {
        err_set(err, "%s: data checksum mismatch (corrupt file)", path);
        goto done;
    }
    rc = 0;
done:
    json_decref(root);
    free(hdr);
    free(e);
    fclose(f);
    return rc;
}

int ckpt_load(const char *dir, const char *name, const CkptBlocks *b, uint64_t expect_hash,
              CkptMeta *m, MosErr *err)
{
    char st[4096], js[4096];
    snprintf(st, sizeof st, "%s/%s.safetensors", dir, name);
    snprintf(js, sizeof js, "%s/%s.json", dir, name);
    uint64_t data_hash = 0;
    if (read_meta(js, m, &data_hash, err) < 0)
        return -1;
    if (m->config_hash != expect_hash)
        return err_set(err, "%s: written for a different model (config hash %016" PRIx64
                            ", this run's is %016" PRIx64 "): the model keys of config.yml "
                            "changed", js, m->config_hash, expect_hash);
    if (load_safetensors(st, b, m, data_hash, err) == 0)
        return 0;
    /* ckpt_save renames last.safetensors before last.json: a crash between the two leaves
     * this .json's tensors under the other name. The step and data hash in the tensor file's
     * header decide whether a file belongs to this .json, so trying the other is safe. */
    const char *other = strcmp(name, "last") == 0 ? "prev" : "last";
    char alt[4096];
    snprintf(alt, sizeof alt, "%s/%s.safetensors", dir, other);
    MosErr first = {{0}};
    if (err)
        first = *err;
    if (access(alt, F_OK) == 0 && load_safetensors(alt, b, m, data_hash, NULL) == 0)
        return 0;
    if (err)
        *err = first;
    return -1;
}
