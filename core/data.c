/* Corpus loading and batching (see data.h). Token files are parsed in one pass over the whole
 * file in memory; batches are built once per split (length order) and only their order is
 * shuffled. No allocation after batcher_init. */
#include "data.h"

#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rng.h"

/* ---- manifest ------------------------------------------------------------------------------- */

static int json_int_field(json_t *root, const char *key, int *out, const char *path, MosErr *err)
{
    json_t *v = json_object_get(root, key);
    if (!v)
        return err_set(err, "%s: %s: missing", path, key);
    if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > INT_MAX)
        return err_set(err, "%s: %s: expected a non-negative integer", path, key);
    *out = (int)json_integer_value(v);
    return 0;
}

int data_manifest_load(const char *data_dir, Manifest *m, MosErr *err)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/manifest.json", data_dir);
    memset(m, 0, sizeof *m);
    json_error_t je;
    json_t *root = json_load_file(path, 0, &je);
    if (!root)
        return err_set(err, "%s:%d: %s (run `mos prepare` first?)", path, je.line, je.text);
    int rc = -1;
    if (!json_is_object(root)) {
        err_set(err, "%s: expected a JSON object", path);
        goto done;
    }
    if (json_int_field(root, "vocab_size", &m->vocab_size, path, err) < 0 ||
        json_int_field(root, "pad_id", &m->pad_id, path, err) < 0 ||
        json_int_field(root, "unk_id", &m->unk_id, path, err) < 0 ||
        json_int_field(root, "bos_id", &m->bos_id, path, err) < 0 ||
        json_int_field(root, "eos_id", &m->eos_id, path, err) < 0)
        goto done;
    int ids[4] = {m->pad_id, m->unk_id, m->bos_id, m->eos_id};
    for (int i = 0; i < 4; i++)
        if (ids[i] >= m->vocab_size) {
            err_set(err, "%s: special id %d is outside the vocabulary (%d)", path, ids[i],
                    m->vocab_size);
            goto done;
        }
    const char *tok = json_string_value(json_object_get(root, "tokenizer"));
    if (!tok || (strcmp(tok, "spm") != 0 && strcmp(tok, "pretokenized") != 0)) {
        err_set(err, "%s: tokenizer: expected \"spm\" or \"pretokenized\"", path);
        goto done;
    }
    snprintf(m->tokenizer, sizeof m->tokenizer, "%s", tok);
    const char *marker = json_string_value(json_object_get(root, "bpe_marker"));
    snprintf(m->bpe_marker, sizeof m->bpe_marker, "%s", marker ? marker : "");
    rc = 0;
done:
    json_decref(root);
    return rc;
}

/* ---- ids files ------------------------------------------------------------------------------ */

typedef struct IdsFile {
    int nlines;
    int *len;
    long *off;
    int *tok;
} IdsFile;

static char *read_all(const char *path, size_t *n, MosErr *err)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return err_set(err, "%s: %s", path, strerror(errno)), NULL;
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)size + 1);
    ASSERT(buf);
    *n = fread(buf, 1, (size_t)size, f);
    buf[*n] = '\0';
    int bad = ferror(f) || (long)*n != size;
    fclose(f);
    if (bad) {
        free(buf);
        return err_set(err, "%s: read error", path), NULL;
    }
    return buf;
}

static void ids_free(IdsFile *f)
{
    free(f->len);
    free(f->off);
    free(f->tok);
    memset(f, 0, sizeof *f);
}

static int ids_read(const char *path, int vocab, int max_lines, IdsFile *f, MosErr *err)
{
    size_t n;
    char *buf = read_all(path, &n, err);
    if (!buf)
        return -1;
    long lines = 0;
    for (size_t i = 0; i < n; i++)
        lines += buf[i] == '\n';
    if (n > 0 && buf[n - 1] != '\n')
        lines++;
    if (max_lines > 0 && lines > max_lines)
        lines = max_lines;
    f->nlines = 0;
    f->len = malloc(sizeof(int) * (size_t)(lines + 1));
    f->off = malloc(sizeof(long) * (size_t)(lines + 1));
    f->tok = malloc(sizeof(int) * (n / 2 + 1));
    ASSERT(f->len && f->off && f->tok);
    long ntok = 0;
    const char *p = buf;
    while (f->nlines < lines) {
        f->off[f->nlines] = ntok;
        int len = 0;
        for (;;) {
            while (*p == ' ' || *p == '\t' || *p == '\r')
                p++;
            if (*p == '\n' || *p == '\0')
                break;
            char *end;
            errno = 0;
            long v = strtol(p, &end, 10);
            if (end == p || errno || v < 0 || v >= vocab) {
                int bad_len = (int)strcspn(p, " \t\r\n");
                err_set(err, "%s:%d: '%.*s' is not a token id in [0, %d)", path, f->nlines + 1,
                        bad_len > 20 ? 20 : bad_len, p, vocab);
                free(buf);
                ids_free(f);
                return -1;
            }
            f->tok[ntok++] = (int)v;
            len++;
            p = end;
        }
        f->len[f->nlines++] = len;
        if (*p == '\n')
            p++;
    }
    free(buf);
    return 0;
}


int data_split_load(const char *data_dir, const char *split, const Manifest *m, int max_positions,
                    int max_pairs, DataSplit *d, MosErr *err)
{
    memset(d, 0, sizeof *d);
    char ps[4096], pt[4096];
    snprintf(ps, sizeof ps, "%s/%s.ids.en", data_dir, split);
    snprintf(pt, sizeof pt, "%s/%s.ids.de", data_dir, split);
    IdsFile s = {0}, t = {0};
    if (ids_read(ps, m->vocab_size, max_pairs, &s, err) < 0)
        return -1;
    if (ids_read(pt, m->vocab_size, max_pairs, &t, err) < 0) {
        ids_free(&s);
        return -1;
    }
    if (s.nlines != t.nlines) {
        err_set(err, "%s has %d lines but %s has %d", ps, s.nlines, pt, t.nlines);
        ids_free(&s);
        ids_free(&t);
        return -1;
    }
    long total = s.nlines ? s.off[s.nlines - 1] + s.len[s.nlines - 1] : 0;
    total += t.nlines ? t.off[t.nlines - 1] + t.len[t.nlines - 1] : 0;
    d->src_len = malloc(sizeof(int) * (size_t)(s.nlines + 1));
    d->tgt_len = malloc(sizeof(int) * (size_t)(s.nlines + 1));
    d->line = malloc(sizeof(int) * (size_t)(s.nlines + 1));
    d->src_off = malloc(sizeof(long) * (size_t)(s.nlines + 1));
    d->tgt_off = malloc(sizeof(long) * (size_t)(s.nlines + 1));
    d->tokens = malloc(sizeof(int) * (size_t)(total + 1));
    ASSERT(d->src_len && d->tgt_len && d->line && d->src_off && d->tgt_off && d->tokens);
    long pos = 0;
    for (int i = 0; i < s.nlines; i++) {
        if (s.len[i] + 1 > max_positions || t.len[i] + 1 > max_positions) {
            d->skipped++;
            continue;
        }
        d->line[d->n] = i;
        d->src_len[d->n] = s.len[i];
        d->src_off[d->n] = pos;
        memcpy(d->tokens + pos, s.tok + s.off[i], sizeof(int) * (size_t)s.len[i]);
        pos += s.len[i];
        d->tgt_len[d->n] = t.len[i];
        d->tgt_off[d->n] = pos;
        memcpy(d->tokens + pos, t.tok + t.off[i], sizeof(int) * (size_t)t.len[i]);
        pos += t.len[i];
        d->n++;
    }
    d->ntokens_alloc = total + 1;
    ids_free(&s);
    ids_free(&t);
    return 0;
}

void data_split_free(DataSplit *d)
{
    free(d->src_len);
    free(d->tgt_len);
    free(d->line);
    free(d->src_off);
    free(d->tgt_off);
    free(d->tokens);
    memset(d, 0, sizeof *d);
}

/* ---- batching ------------------------------------------------------------------------------- */

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

/* Sorts pairs by (longer side, target length, index): neighbours pad little. */
static void sort_by_length(Batcher *b)
{
    const DataSplit *d = b->d;
    uint64_t *key = malloc(sizeof(uint64_t) * (size_t)(d->n + 1));
    ASSERT(key);
    for (int i = 0; i < d->n; i++) {
        uint64_t sl = (uint64_t)d->src_len[i] + 1, tl = (uint64_t)d->tgt_len[i] + 1;
        uint64_t mx = sl > tl ? sl : tl;
        key[i] = (mx << 48) | (tl << 32) | (uint64_t)i;
    }
    qsort(key, (size_t)d->n, sizeof *key, cmp_u64);
    for (int i = 0; i < d->n; i++)
        b->order[i] = (int)(key[i] & 0xffffffffu);
    free(key);
}

static void cut_batches(Batcher *b)
{
    const DataSplit *d = b->d;
    int cur = 0, cur_max = 0, kept = 0;
    b->nbatches = 0;
    for (int k = 0; k < d->n; k++) {
        int i = b->order[k];
        int len = (d->src_len[i] > d->tgt_len[i] ? d->src_len[i] : d->tgt_len[i]) + 1;
        if (len > b->max_tokens) {
            b->skipped++;
            continue;
        }
        int mx = len > cur_max ? len : cur_max;
        if (cur > 0 && (cur + 1) * mx > b->max_tokens) {
            b->count[b->nbatches++] = cur;
            cur = 0;
            mx = len;
        }
        if (cur == 0)
            b->start[b->nbatches] = kept;
        b->order[kept++] = i;
        cur++;
        cur_max = mx;
    }
    if (cur > 0)
        b->count[b->nbatches++] = cur;
}

int batcher_init(Batcher *b, const DataSplit *d, int max_tokens, const Manifest *m,
                 uint64_t seed, int shuffle, MosErr *err)
{
    memset(b, 0, sizeof *b);
    b->d = d;
    b->max_tokens = max_tokens;
    b->pad_id = m->pad_id;
    b->bos_id = m->bos_id;
    b->eos_id = m->eos_id;
    b->shuffle = shuffle;
    b->seed = seed;
    b->order = malloc(sizeof(int) * (size_t)(d->n + 1));
    b->start = malloc(sizeof(int) * (size_t)(d->n + 1));
    b->count = malloc(sizeof(int) * (size_t)(d->n + 1));
    b->perm = malloc(sizeof(int) * (size_t)(d->n + 1));
    b->src = malloc(sizeof(int) * (size_t)max_tokens);
    b->tgt_in = malloc(sizeof(int) * (size_t)max_tokens);
    b->tgt_out = malloc(sizeof(int) * (size_t)max_tokens);
    ASSERT(b->order && b->start && b->count && b->perm && b->src && b->tgt_in && b->tgt_out);
    sort_by_length(b);
    cut_batches(b);
    b->perm_epoch = -1;
    if (b->nbatches == 0) {
        batcher_done(b);
        return err_set(err, "no sentence pair fits in max-tokens %d (%d pairs)", max_tokens,
                       d->n);
    }
    return 0;
}

void batcher_done(Batcher *b)
{
    free(b->order);
    free(b->start);
    free(b->count);
    free(b->perm);
    free(b->src);
    free(b->tgt_in);
    free(b->tgt_out);
    memset(b, 0, sizeof *b);
}

/* The batch order of an epoch depends on (seed, epoch) only. */
static void draw_perm(Batcher *b, long epoch)
{
    for (int i = 0; i < b->nbatches; i++)
        b->perm[i] = i;
    if (b->shuffle) {
        Rng r;
        rng_seed(&r, b->seed ^ (0x9e3779b97f4a7c15ULL * (uint64_t)(epoch + 1)));
        for (int i = b->nbatches - 1; i > 0; i--) {
            int j = (int)rng_below(&r, (uint32_t)i + 1);
            int t = b->perm[i];
            b->perm[i] = b->perm[j];
            b->perm[j] = t;
        }
    }
    b->perm_epoch = epoch;
}

void batcher_get(Batcher *b, int bi, Batch *out)
{
    ASSERT(bi >= 0 && bi < b->nbatches);
    const DataSplit *d = b->d;
    const int *idx = b->order + b->start[bi];
    int B = b->count[bi], Ts = 0, Tt = 0, ntok = 0;
    for (int r = 0; r < B; r++) {
        if (d->src_len[idx[r]] + 1 > Ts)
            Ts = d->src_len[idx[r]] + 1;
        if (d->tgt_len[idx[r]] + 1 > Tt)
            Tt = d->tgt_len[idx[r]] + 1;
    }
    for (int r = 0; r < B; r++) {
        int i = idx[r], sl = d->src_len[i], tl = d->tgt_len[i];
        const int *s = d->tokens + d->src_off[i], *t = d->tokens + d->tgt_off[i];
        int *so = b->src + (size_t)r * Ts, *ti = b->tgt_in + (size_t)r * Tt;
        int *to = b->tgt_out + (size_t)r * Tt;
        for (int k = 0; k < Ts; k++)
            so[k] = k < sl ? s[k] : k == sl ? b->eos_id : b->pad_id;
        for (int k = 0; k < Tt; k++) {
            ti[k] = k == 0 ? b->bos_id : k <= tl ? t[k - 1] : b->pad_id;
            to[k] = k < tl ? t[k] : k == tl ? b->eos_id : b->pad_id;
        }
        ntok += tl + 1;
    }
    *out = (Batch){.B = B, .Ts = Ts, .Tt = Tt, .src = b->src, .tgt_in = b->tgt_in,
                   .tgt_out = b->tgt_out, .ntokens = ntok};
}

void batcher_next(Batcher *b, Batch *out)
{
    if (b->st.pos >= b->nbatches) {
        b->st.epoch++;
        b->st.pos = 0;
    }
    if (b->perm_epoch != b->st.epoch)
        draw_perm(b, b->st.epoch);
    batcher_get(b, b->perm[b->st.pos++], out);
}

const int *batcher_pairs(const Batcher *b, int i, int *n)
{
    ASSERT(i >= 0 && i < b->nbatches);
    *n = b->count[i];
    return b->order + b->start[i];
}

void batcher_seek(Batcher *b, BatcherState st)
{
    b->st = st;
}
