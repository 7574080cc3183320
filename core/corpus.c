/* Parallel corpus cleaning, dedupe, split and writing (see corpus.h). Dedupe uses an
 * open-addressing hash set of pair indices keyed by the source text; the split sorts indices by
 * (hash, text), so equal inputs always give equal files. */
#include "corpus.h"
#include "text.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *const corpus_split_name[CORPUS_SPLIT_COUNT] = {
    [CORPUS_TRAIN] = "train", [CORPUS_VALID] = "valid", [CORPUS_TEST] = "test",
};

void corpus_init(Corpus *c, int max_words)
{
    memset(c, 0, sizeof *c);
    c->max_words = max_words;
}

void corpus_done(Corpus *c)
{
    for (size_t i = 0; i < c->n; i++) {
        free(c->src[i]);
        free(c->tgt[i]);
    }
    free(c->src);
    free(c->tgt);
    free(c->slots);
    memset(c, 0, sizeof *c);
}

/* Finds the slot holding source s, or the empty slot where it would go. */
static size_t corpus_slot(const Corpus *c, const char *s, size_t len)
{
    size_t mask = c->nslots - 1;
    size_t i = (size_t)text_hash(s, len) & mask;
    while (c->slots[i] != 0) {
        const char *t = c->src[c->slots[i] - 1];
        if (strlen(t) == len && memcmp(t, s, len) == 0)
            return i;
        i = (i + 1) & mask;
    }
    return i;
}

static int corpus_rehash(Corpus *c, MosErr *e)
{
    size_t nslots = c->nslots ? c->nslots * 2 : 1024;
    uint32_t *old = c->slots;
    size_t old_n = c->nslots;
    c->slots = calloc(nslots, sizeof *c->slots);
    if (!c->slots) {
        c->slots = old;
        return err_set(e, "out of memory");
    }
    c->nslots = nslots;
    for (size_t i = 0; i < old_n; i++)
        if (old[i]) {
            const char *s = c->src[old[i] - 1];
            c->slots[corpus_slot(c, s, strlen(s))] = old[i];
        }
    free(old);
    return 0;
}

static int corpus_grow(Corpus *c, MosErr *e)
{
    if (c->n < c->cap)
        return 0;
    if (c->n >= UINT32_MAX - 1)
        return err_set(e, "corpus too large (%zu pairs)", c->n);
    size_t cap = c->cap ? c->cap * 2 : 1024;
    char **s = realloc(c->src, cap * sizeof *s);
    if (s)
        c->src = s;
    char **t = s ? realloc(c->tgt, cap * sizeof *t) : NULL;
    if (!t)
        return err_set(e, "out of memory");
    c->tgt = t;
    c->cap = cap;
    return 0;
}

/* A NUL-terminated, collapsed copy of s[0..len), or NULL when out of memory. */
static char *corpus_copy(const char *s, size_t len, size_t *out_len)
{
    char *d = malloc(len + 1);
    if (!d)
        return NULL;
    memcpy(d, s, len);
    *out_len = text_collapse(d, len);
    return d;
}

static int corpus_check_utf8(const char *s, size_t len, const char *side, MosErr *e)
{
    long bad = text_utf8_invalid_at(s, len);
    if (bad >= 0)
        return err_set(e, "invalid UTF-8 in the %s at byte %ld", side, bad + 1);
    if (memchr(s, '\0', len))
        return err_set(e, "NUL byte in the %s", side);
    return 0;
}

/* Appends an already collapsed pair (takes ownership) and records it in the source set. */
static int corpus_append(Corpus *c, char *s, size_t slen, char *t, MosErr *e)
{
    if (corpus_grow(c, e) < 0 || ((c->n + 1) * 2 > c->nslots && corpus_rehash(c, e) < 0)) {
        free(s);
        free(t);
        return -1;
    }
    size_t slot = corpus_slot(c, s, slen);
    if (c->slots[slot] == 0)
        c->slots[slot] = (uint32_t)(c->n + 1);
    c->src[c->n] = s;
    c->tgt[c->n] = t;
    c->n++;
    return 1;
}

static int corpus_drop(Corpus *c, CorpusDrop why, char *s, char *t)
{
    c->dropped[why]++;
    free(s);
    free(t);
    return 0;
}

/* Checks a raw pair (valid UTF-8, no NUL) and returns collapsed copies in *s, *t (the caller
 * owns them); -1 with e set on bad input or out of memory, nothing allocated then. */
static int corpus_copy_pair(const char *src, size_t src_len, const char *tgt, size_t tgt_len,
                            char **s, size_t *slen, char **t, size_t *tlen, MosErr *e)
{
    if (corpus_check_utf8(src, src_len, "source", e) < 0 ||
        corpus_check_utf8(tgt, tgt_len, "target", e) < 0)
        return -1;
    *s = corpus_copy(src, src_len, slen);
    *t = *s ? corpus_copy(tgt, tgt_len, tlen) : NULL;
    if (!*t) {
        free(*s);
        return err_set(e, "out of memory");
    }
    return 0;
}

int corpus_add_clean(Corpus *c, const char *src, size_t src_len, const char *tgt,
                     size_t tgt_len, MosErr *e)
{
    char *s, *t;
    size_t slen, tlen;
    if (corpus_copy_pair(src, src_len, tgt, tgt_len, &s, &slen, &t, &tlen, e) < 0)
        return -1;
    if (slen == 0 || tlen == 0)
        return corpus_drop(c, CORPUS_DROP_EMPTY, s, t);
    if (slen == tlen && memcmp(s, t, slen) == 0)
        return corpus_drop(c, CORPUS_DROP_IDENTICAL, s, t);
    if (text_words(s, slen) > (size_t)c->max_words || text_words(t, tlen) > (size_t)c->max_words)
        return corpus_drop(c, CORPUS_DROP_LONG, s, t);
    if (c->nslots && c->slots[corpus_slot(c, s, slen)] != 0)
        return corpus_drop(c, CORPUS_DROP_DUPLICATE, s, t);
    return corpus_append(c, s, slen, t, e);
}

int corpus_add_keep(Corpus *c, const char *src, size_t src_len, const char *tgt,
                    size_t tgt_len, MosErr *e)
{
    char *s, *t;
    size_t slen, tlen;
    if (corpus_copy_pair(src, src_len, tgt, tgt_len, &s, &slen, &t, &tlen, e) < 0)
        return -1;
    if (slen == 0 || tlen == 0) {
        free(s);
        free(t);
        return err_set(e, "empty %s line", slen == 0 ? "source" : "target");
    }
    return corpus_append(c, s, slen, t, e);
}

void corpus_split_sizes(size_t n, size_t want_test, size_t want_valid, size_t *n_test,
                        size_t *n_valid)
{
    size_t cap = n / 10;
    *n_test = want_test < cap ? want_test : cap;
    *n_valid = want_valid < cap ? want_valid : cap;
}

typedef struct SplitKey {
    uint64_t hash;
    const char *src;
    size_t index;
} SplitKey;

static int split_key_cmp(const void *a, const void *b)
{
    const SplitKey *x = a, *y = b;
    if (x->hash != y->hash)
        return x->hash < y->hash ? -1 : 1;
    int c = strcmp(x->src, y->src);
    if (c != 0)
        return c;
    return x->index < y->index ? -1 : x->index > y->index;
}

int corpus_split(const Corpus *c, size_t n_test, size_t n_valid, uint8_t *which, MosErr *e)
{
    ASSERT(n_test + n_valid <= c->n);
    SplitKey *keys = malloc((c->n ? c->n : 1) * sizeof *keys);
    if (!keys)
        return err_set(e, "out of memory");
    for (size_t i = 0; i < c->n; i++)
        keys[i] = (SplitKey){ text_hash(c->src[i], strlen(c->src[i])), c->src[i], i };
    qsort(keys, c->n, sizeof *keys, split_key_cmp);
    for (size_t r = 0; r < c->n; r++)
        which[keys[r].index] = r < n_test ? CORPUS_TEST
                             : r < n_test + n_valid ? CORPUS_VALID : CORPUS_TRAIN;
    free(keys);
    return 0;
}

static FILE *corpus_open_out(const char *path, MosErr *e)
{
    FILE *f = fopen(path, "w");
    if (!f)
        err_set(e, "%s: cannot create: %s", path, strerror(errno));
    return f;
}

static int corpus_close_out(FILE *f, const char *path, int ok, MosErr *e)
{
    int bad = ferror(f);
    if (fclose(f) != 0 || bad) {
        if (ok)
            err_set(e, "%s: write error: %s", path, strerror(errno));
        return -1;
    }
    return ok ? 0 : -1;
}

int corpus_write(const Corpus *c, const uint8_t *which, int split, const char *src_path,
                 const char *tgt_path, CorpusCounts *counts, MosErr *e)
{
    CorpusCounts k = { 0 };
    FILE *fs = corpus_open_out(src_path, e);
    if (!fs)
        return -1;
    FILE *ft = corpus_open_out(tgt_path, e);
    if (!ft) {
        fclose(fs);
        return -1;
    }
    for (size_t i = 0; i < c->n; i++) {
        if (which && which[i] != split)
            continue;
        fprintf(fs, "%s\n", c->src[i]);
        fprintf(ft, "%s\n", c->tgt[i]);
        k.pairs++;
        k.words_src += text_words(c->src[i], strlen(c->src[i]));
        k.words_tgt += text_words(c->tgt[i], strlen(c->tgt[i]));
    }
    int ok = corpus_close_out(fs, src_path, 1, e) == 0;
    ok = corpus_close_out(ft, tgt_path, ok, e) == 0;
    if (counts)
        *counts = k;
    return ok ? 0 : -1;
}

int lines_read(const char *path, Lines *out, MosErr *e)
{
    memset(out, 0, sizeof *out);
    size_t len;
    if (text_read_file(path, &out->buf, &len, e) < 0)
        return -1;
    size_t cap = 0;
    char *p = out->buf, *end = out->buf + len;
    while (p < end) {
        char *nl = memchr(p, '\n', (size_t)(end - p));
        char *stop = nl ? nl : end;
        size_t n = (size_t)(stop - p);
        if (n > 0 && p[n - 1] == '\r')
            n--;
        long bad = text_utf8_invalid_at(p, n);
        if (bad >= 0 || memchr(p, '\0', n)) {
            err_set(e, "%s:%zu: %s", path, out->n + 1,
                    bad >= 0 ? "invalid UTF-8" : "contains a NUL byte");
            lines_done(out);
            return -1;
        }
        if (out->n == cap) {
            cap = cap ? cap * 2 : 1024;
            char **nl2 = realloc(out->line, cap * sizeof *nl2);
            if (!nl2) {
                lines_done(out);
                return err_set(e, "%s: out of memory", path);
            }
            out->line = nl2;
        }
        p[n] = '\0';
        out->line[out->n++] = p;
        p = stop + 1;
    }
    return 0;
}

void lines_done(Lines *l)
{
    free(l->buf);
    free(l->line);
    memset(l, 0, sizeof *l);
}

int ids_count_file(const char *path, long unk_id, IdCounts *c, MosErr *e)
{
    Lines l;
    memset(c, 0, sizeof *c);
    c->max_id = -1;
    if (lines_read(path, &l, e) < 0)
        return -1;
    for (size_t i = 0; i < l.n; i++) {
        const char *p = l.line[i];
        while (*p) {
            if (*p == ' ') {
                p++;
                continue;
            }
            char *end;
            errno = 0;
            long id = strtol(p, &end, 10);
            if (end == p || (*end != ' ' && *end != '\0') || id < 0 || errno) {
                err_set(e, "%s:%zu: expected a token id, got '%.*s'", path, i + 1,
                        (int)strcspn(p, " "), p);
                lines_done(&l);
                return -1;
            }
            c->tokens++;
            c->unk += id == unk_id;
            if (id > c->max_id)
                c->max_id = id;
            p = end;
        }
    }
    c->lines = l.n;
    lines_done(&l);
    return 0;
}
