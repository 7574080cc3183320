/* Text utilities (see text.h). UTF-8 validation follows RFC 3629 (Table 3-7 of the Unicode
 * standard): each lead byte admits a fixed range for its first continuation byte. */
#include "text.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int text_is_space(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

/* Length of the valid sequence starting at p (at most n bytes available), 0 if invalid. */
static size_t text_utf8_seq(const unsigned char *p, size_t n)
{
    unsigned char c = p[0];
    if (c < 0x80)
        return 1;
    size_t need;
    unsigned char lo = 0x80, hi = 0xbf;
    if (c >= 0xc2 && c <= 0xdf) {
        need = 2;
    } else if (c >= 0xe0 && c <= 0xef) {
        need = 3;
        if (c == 0xe0)
            lo = 0xa0;
        else if (c == 0xed)
            hi = 0x9f;
    } else if (c >= 0xf0 && c <= 0xf4) {
        need = 4;
        if (c == 0xf0)
            lo = 0x90;
        else if (c == 0xf4)
            hi = 0x8f;
    } else {
        return 0;
    }
    if (n < need || p[1] < lo || p[1] > hi)
        return 0;
    for (size_t i = 2; i < need; i++)
        if (p[i] < 0x80 || p[i] > 0xbf)
            return 0;
    return need;
}

long text_utf8_invalid_at(const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;
    while (i < len) {
        size_t k = text_utf8_seq(p + i, len - i);
        if (k == 0)
            return (long)i;
        i += k;
    }
    return -1;
}

size_t text_collapse(char *s, size_t len)
{
    size_t out = 0;
    int pending = 0;
    for (size_t i = 0; i < len; i++) {
        if (text_is_space((unsigned char)s[i])) {
            pending = out > 0;
            continue;
        }
        if (pending)
            s[out++] = ' ';
        pending = 0;
        s[out++] = s[i];
    }
    s[out] = '\0';
    return out;
}

size_t text_words(const char *s, size_t len)
{
    size_t words = 0;
    int in_word = 0;
    for (size_t i = 0; i < len; i++) {
        int space = s[i] == ' ';
        if (!space && !in_word)
            words++;
        in_word = !space;
    }
    return words;
}

uint64_t text_hash(const char *s, size_t len)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char)s[i];
        h *= 0x100000001b3ull;
    }
    /* splitmix64 finaliser: spreads FNV's weak high bits so sorting by hash mixes well. */
    h ^= h >> 30;
    h *= 0xbf58476d1ce4e5b9ull;
    h ^= h >> 27;
    h *= 0x94d049bb133111ebull;
    h ^= h >> 31;
    return h;
}

int text_read_file(const char *path, char **buf, size_t *len, MosErr *e)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return err_set(e, "%s: cannot open: %s", path, strerror(errno));
    char *b = NULL;
    size_t n = 0, cap = 0;
    for (;;) {
        if (cap - n < 2) {
            cap = cap ? cap * 2 : 65536;
            char *nb = realloc(b, cap);
            if (!nb) {
                free(b);
                fclose(f);
                return err_set(e, "%s: out of memory", path);
            }
            b = nb;
        }
        size_t got = fread(b + n, 1, cap - n - 1, f);
        n += got;
        if (got == 0)
            break;
    }
    int bad = ferror(f);
    fclose(f);
    if (bad) {
        free(b);
        return err_set(e, "%s: read error", path);
    }
    b[n] = '\0';
    *buf = b;
    *len = n;
    return 0;
}
