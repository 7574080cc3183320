/* Ids to text (see detok.h). Pure string work over a vocabulary loaded once. */
#include "detok.h"

#include "dict.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void detok_add(Detok *d, const char *s, size_t len, int *cap)
{
    if (d->n == *cap) {
        *cap = *cap ? 2 * *cap : 1024;
        d->piece = realloc(d->piece, sizeof(char *) * (size_t)*cap);
        ASSERT(d->piece);
    }
    char *p = malloc(len + 1);
    ASSERT(p);
    memcpy(p, s, len);
    p[len] = '\0';
    d->piece[d->n++] = p;
}

/* SentencePiece: one "piece<TAB>score" line per id. */
static int load_spm_vocab(Detok *d, const char *path, MosErr *err)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return err_set(err, "%s: %s", path, strerror(errno));
    char *line = NULL;
    size_t cap = 0;
    int pcap = 0;
    while (getline(&line, &cap, f) > 0)
        detok_add(d, line, strcspn(line, "\t\n"), &pcap);
    free(line);
    fclose(f);
    return 0;
}

/* Pre-tokenized: the four specials, then dict.txt's tokens (fairseq's id order). */
static int load_dict(Detok *d, const char *path, MosErr *err)
{
    Dict dict;
    if (dict_load(&dict, path, err) < 0)
        return -1;
    static const char *const specials[DICT_FIRST_ID] = {"<pad>", "<unk>", "<s>", "</s>"};
    int pcap = 0;
    for (int i = 0; i < DICT_FIRST_ID; i++)
        detok_add(d, specials[i], strlen(specials[i]), &pcap);
    for (size_t i = 0; i < dict.n; i++)
        detok_add(d, dict.tok[i], strlen(dict.tok[i]), &pcap);
    dict_done(&dict);
    return 0;
}

int detok_load(Detok *d, const char *data_dir, const Manifest *m, MosErr *err)
{
    memset(d, 0, sizeof *d);
    d->spm = strcmp(m->tokenizer, "spm") == 0;
    d->pad_id = m->pad_id;
    d->bos_id = m->bos_id;
    d->eos_id = m->eos_id;
    d->unk_id = m->unk_id;
    if (!d->spm && m->bpe_marker[0])
        snprintf(d->marker, sizeof d->marker, "%s ", m->bpe_marker);
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", data_dir, d->spm ? "spm.vocab" : "dict.txt");
    if ((d->spm ? load_spm_vocab(d, path, err) : load_dict(d, path, err)) < 0) {
        detok_done(d);
        return -1;
    }
    if (d->n != m->vocab_size) {
        int n = d->n;
        detok_done(d);
        return err_set(err, "%s: %d entries, but manifest.json says vocab_size %d", path, n,
                       m->vocab_size);
    }
    return 0;
}

void detok_done(Detok *d)
{
    for (int i = 0; i < d->n; i++)
        free(d->piece[i]);
    free(d->piece);
    memset(d, 0, sizeof *d);
}

/* Appends the text of one SentencePiece piece: ▁ -> space, <0xNN> -> the byte. */
static size_t spm_piece(const char *p, char *w)
{
    unsigned v;
    char tail;
    if (strlen(p) == 6 && sscanf(p, "<0x%2X%c", &v, &tail) == 2 && tail == '>') {
        *w = (char)v;
        return 1;
    }
    size_t n = 0;
    while (*p) {
        if ((unsigned char)p[0] == 0xe2 && (unsigned char)p[1] == 0x96 &&
            (unsigned char)p[2] == 0x81) {
            w[n++] = ' ';
            p += 3;
        } else {
            w[n++] = *p++;
        }
    }
    return n;
}

static void remove_marker(char *s, const char *marker)
{
    size_t ml = strlen(marker);
    if (!ml)
        return;
    size_t n = strlen(s);
    s[n] = ' ';            /* fairseq: (s + ' ').replace(marker, '').rstrip() */
    s[n + 1] = '\0';
    char *w = s;
    for (char *r = s; *r;) {
        if (strncmp(r, marker, ml) == 0)
            r += ml;
        else
            *w++ = *r++;
    }
    while (w > s && w[-1] == ' ')
        w--;
    *w = '\0';
}

char *detok_decode(const Detok *d, const int *ids, int n)
{
    size_t cap = 8;
    for (int i = 0; i < n; i++)
        cap += (ids[i] >= 0 && ids[i] < d->n ? strlen(d->piece[ids[i]]) : 0) + 8;
    char *out = malloc(cap), *w = out;
    ASSERT(out);
    for (int i = 0; i < n && ids[i] != d->eos_id; i++) {
        int id = ids[i];
        if (id == d->pad_id || id == d->bos_id || id < 0 || id >= d->n)
            continue;
        if (d->spm) {
            if (id == d->unk_id)
                w += strlen(strcpy(w, " \xe2\x81\x87 "));
            else
                w += spm_piece(d->piece[id], w);
        } else {
            if (w != out)
                *w++ = ' ';
            w += strlen(strcpy(w, d->piece[id]));
        }
    }
    *w = '\0';
    if (d->spm && out[0] == ' ')
        memmove(out, out + 1, strlen(out));
    else if (!d->spm)
        remove_marker(out, d->marker);
    return out;
}
