/* Pre-tokenized vocabulary (see dict.h). Parsing follows fairseq's Dictionary.add_from_file:
 * the count is the last space-separated field, the token everything before it. */
#include "dict.h"
#include "text.h"

#include <stdlib.h>
#include <string.h>

static const char *const dict_reserved[DICT_FIRST_ID] = { "<pad>", "<unk>", "<s>", "</s>" };

static size_t dict_slot(const Dict *d, const char *tok, size_t len)
{
    size_t mask = d->nslots - 1;
    size_t i = (size_t)text_hash(tok, len) & mask;
    while (d->slots[i] != 0) {
        const char *t = d->tok[d->slots[i] - 1];
        if (strlen(t) == len && memcmp(t, tok, len) == 0)
            return i;
        i = (i + 1) & mask;
    }
    return i;
}

uint32_t dict_id(const Dict *d, const char *tok, size_t len)
{
    if (d->nslots == 0)
        return DICT_UNK_ID;
    uint32_t v = d->slots[dict_slot(d, tok, len)];
    return v ? DICT_FIRST_ID + v - 1 : DICT_UNK_ID;
}

/* Splits "TOKEN COUNT [#fairseq:overwrite]" in place; returns the token or NULL. */
static char *dict_parse_line(char *line, int *overwrite)
{
    char *sp = strrchr(line, ' ');
    *overwrite = 0;
    if (sp && strcmp(sp + 1, "#fairseq:overwrite") == 0) {
        *overwrite = 1;
        *sp = '\0';
        sp = strrchr(line, ' ');
    }
    if (!sp || sp == line || sp[1] == '\0')
        return NULL;
    char *end;
    strtoll(sp + 1, &end, 10);
    if (*end != '\0')
        return NULL;
    *sp = '\0';
    return line;
}

static int dict_add(Dict *d, char *tok, int overwrite, const char *path, size_t lineno,
                    MosErr *e)
{
    for (int r = 0; r < DICT_FIRST_ID; r++)
        if (strcmp(tok, dict_reserved[r]) == 0)
            return err_set(e, "%s:%zu: '%s' is reserved (ids 0-3 are <pad> <unk> <s> </s>)",
                           path, lineno, tok);
    size_t len = strlen(tok);
    size_t slot = dict_slot(d, tok, len);
    if (d->slots[slot] != 0) {
        if (overwrite)
            return 0;
        return err_set(e, "%s:%zu: duplicate token '%s'", path, lineno, tok);
    }
    d->tok[d->n++] = tok;
    d->slots[slot] = (uint32_t)d->n;
    if (len >= 2 && strcmp(tok + len - 2, "@@") == 0)
        d->bpe_marker = 1;
    return 0;
}

static int dict_fill(Dict *d, const char *path, char *buf, size_t len, MosErr *e)
{
    char *p = buf, *end = buf + len;
    for (size_t lineno = 1; p < end; lineno++) {
        char *nl = memchr(p, '\n', (size_t)(end - p));
        char *stop = nl ? nl : end;
        *stop = '\0';
        if (stop > p && stop[-1] == '\r')
            stop[-1] = '\0';
        if (text_utf8_invalid_at(p, strlen(p)) >= 0)
            return err_set(e, "%s:%zu: invalid UTF-8", path, lineno);
        int overwrite;
        char *tok = dict_parse_line(p, &overwrite);
        if (!tok)
            return err_set(e, "%s:%zu: expected 'TOKEN COUNT'", path, lineno);
        if (dict_add(d, tok, overwrite, path, lineno, e) < 0)
            return -1;
        p = stop + 1;
    }
    if (d->n == 0)
        return err_set(e, "%s: empty vocabulary", path);
    return 0;
}

int dict_load(Dict *d, const char *path, MosErr *e)
{
    memset(d, 0, sizeof *d);
    size_t len;
    if (text_read_file(path, &d->buf, &len, e) < 0)
        return -1;
    size_t lines = 1;
    for (size_t i = 0; i < len; i++)
        lines += d->buf[i] == '\n';
    d->nslots = 16;
    while (d->nslots < lines * 2)
        d->nslots *= 2;
    d->tok = malloc(lines * sizeof *d->tok);
    d->slots = calloc(d->nslots, sizeof *d->slots);
    if (!d->tok || !d->slots) {
        dict_done(d);
        return err_set(e, "%s: out of memory", path);
    }
    int rc = memchr(d->buf, '\0', len) ? err_set(e, "%s: contains a NUL byte", path)
                                          : dict_fill(d, path, d->buf, len, e);
    if (rc < 0) {
        dict_done(d);
        return -1;
    }
    return 0;
}

void dict_done(Dict *d)
{
    free(d->buf);
    free(d->tok);
    free(d->slots);
    memset(d, 0, sizeof *d);
}

void dict_encode_line(const Dict *d, const char *line, FILE *out, size_t *ntok, size_t *nunk)
{
    const char *p = line;
    int first = 1;
    while (*p) {
        while (*p == ' ')
            p++;
        if (!*p)
            break;
        const char *q = p;
        while (*q && *q != ' ')
            q++;
        uint32_t id = dict_id(d, p, (size_t)(q - p));
        fprintf(out, first ? "%u" : " %u", (unsigned)id);
        first = 0;
        (*ntok)++;
        *nunk += id == DICT_UNK_ID;
        p = q;
    }
    fputc('\n', out);
}
