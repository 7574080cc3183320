/* sacreBLEU's default corpus BLEU (see bleu.h). The 13a regexes are two-character patterns
 * applied left to right without overlap, which a byte scan reproduces exactly for UTF-8 text
 * (only ASCII bytes are ever split off). Whitespace is Python's str.split() set. */
#include "bleu.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"

/* ---- text helpers --------------------------------------------------------------------------- */

/* Length of the Unicode whitespace sequence (Python str.isspace) starting at p, or 0. */
static int space_len(const unsigned char *p)
{
    if (*p == ' ' || (*p >= 0x09 && *p <= 0x0d) || (*p >= 0x1c && *p <= 0x1f))
        return 1;
    if (p[0] == 0xc2 && (p[1] == 0x85 || p[1] == 0xa0))
        return 2;
    if (p[0] == 0xe1 && p[1] == 0x9a && p[2] == 0x80)
        return 3;
    if (p[0] == 0xe2 && p[1] == 0x80 &&
        ((p[2] >= 0x80 && p[2] <= 0x8a) || p[2] == 0xa8 || p[2] == 0xa9 || p[2] == 0xaf))
        return 3;
    if (p[0] == 0xe2 && p[1] == 0x81 && p[2] == 0x9f)
        return 3;
    if (p[0] == 0xe3 && p[1] == 0x80 && p[2] == 0x80)
        return 3;
    return 0;
}

/* Replaces every occurrence of `from` by `to` (not longer) in place. */
static void replace_all(char *s, const char *from, const char *to)
{
    size_t fl = strlen(from), tl = strlen(to);
    char *w = s;
    for (const char *r = s; *r;) {
        if (strncmp(r, from, fl) == 0) {
            memcpy(w, to, tl);
            w += tl;
            r += fl;
        } else {
            *w++ = *r++;
        }
    }
    *w = '\0';
}

static int is_digit(int c)
{
    return c >= '0' && c <= '9';
}

/* The first 13a regex's class: ASCII punctuation and symbols except ' , - . */
static int is_split_symbol(int c)
{
    return (c >= '{' && c <= '~') || (c >= '[' && c <= '`') || (c >= ' ' && c <= '&') ||
           (c >= '(' && c <= '+') || (c >= ':' && c <= '@') || c == '/';
}

/* One two-character regex pass: where a[i] matches first and a[i+1] second, emit
 * pre a[i] mid a[i+1] post and skip both; like re.sub, matches never overlap. */
static char *pass2(const char *a, int (*first)(int), int (*second)(int), const char *pre,
                   const char *mid, const char *post)
{
    size_t n = strlen(a);
    char *out = malloc(3 * n + 1), *w = out;
    ASSERT(out);
    for (size_t i = 0; i < n;) {
        if (i + 1 < n && first((unsigned char)a[i]) && second((unsigned char)a[i + 1])) {
            w += strlen(strcpy(w, pre));
            *w++ = a[i];
            w += strlen(strcpy(w, mid));
            *w++ = a[i + 1];
            w += strlen(strcpy(w, post));
            i += 2;
        } else {
            *w++ = a[i++];
        }
    }
    *w = '\0';
    return out;
}

static int not_digit(int c)
{
    return !is_digit(c);
}

static int is_period_comma(int c)
{
    return c == '.' || c == ',';
}

static int is_dash(int c)
{
    return c == '-';
}

/* Joins the whitespace-separated words of s with single spaces, in place. */
static void squeeze(char *s)
{
    char *w = s;
    const unsigned char *r = (const unsigned char *)s;
    int need_space = 0;
    while (*r) {
        int k = space_len(r);
        if (k) {
            r += k;
            need_space = w != s;
            continue;
        }
        if (need_space)
            *w++ = ' ';
        need_space = 0;
        *w++ = (char)*r++;
    }
    *w = '\0';
}

/* ---- 13a ------------------------------------------------------------------------------------ */

static void rstrip(char *s)
{
    char *end = s;
    for (const unsigned char *p = (const unsigned char *)s; *p;) {
        int k = space_len(p);
        p += k ? k : 1;
        if (!k)
            end = (char *)p;
    }
    *end = '\0';
}

char *bleu_tokenize_13a(const char *line)
{
    size_t n = strlen(line);
    char *s = malloc(n + 3);
    ASSERT(s);
    s[0] = ' ';
    memcpy(s + 1, line, n + 1);
    rstrip(s + 1);
    replace_all(s + 1, "<skipped>", "");
    replace_all(s + 1, "-\n", "");
    replace_all(s + 1, "\n", " ");
    replace_all(s + 1, "&quot;", "\"");
    replace_all(s + 1, "&amp;", "&");
    replace_all(s + 1, "&lt;", "<");
    replace_all(s + 1, "&gt;", ">");
    strcat(s, " ");
    /* ([{-~[-` -&(-+:-@/]) -> " \1 " */
    size_t m = strlen(s);
    char *a = malloc(3 * m + 1), *w = a;
    ASSERT(a);
    for (size_t i = 0; i < m; i++) {
        if (is_split_symbol((unsigned char)s[i])) {
            *w++ = ' ';
            *w++ = s[i];
            *w++ = ' ';
        } else {
            *w++ = s[i];
        }
    }
    *w = '\0';
    free(s);
    char *b = pass2(a, not_digit, is_period_comma, "", " ", " ");    /* ([^0-9])([\.,]) */
    free(a);
    char *c = pass2(b, is_period_comma, not_digit, " ", " ", "");    /* ([\.,])([^0-9]) */
    free(b);
    char *d = pass2(c, is_digit, is_dash, "", " ", " ");             /* ([0-9])(-) */
    free(c);
    squeeze(d);
    return d;
}

/* ---- n-gram statistics ---------------------------------------------------------------------- */

typedef struct Words {
    int n;
    uint64_t *h;    /* per-token hash */
} Words;

static Words words_of(const char *tok)
{
    Words w = {0, NULL};
    size_t len = strlen(tok);
    w.h = malloc(sizeof(uint64_t) * (len / 2 + 2));
    ASSERT(w.h);
    for (const char *p = tok; *p;) {
        uint64_t h = 0xcbf29ce484222325ULL;
        while (*p && *p != ' ') {
            h ^= (unsigned char)*p++;
            h *= 0x100000001b3ULL;
        }
        w.h[w.n++] = h;
        while (*p == ' ')
            p++;
    }
    return w;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

/* Sorted hashes of the n-grams of w (count = w.n - n + 1, or 0). */
static int ngrams(const Words *w, int n, uint64_t *out)
{
    int k = w->n - n + 1;
    for (int i = 0; i < k; i++) {
        uint64_t h = (uint64_t)n * 0x9e3779b97f4a7c15ULL;
        for (int j = 0; j < n; j++)
            h = (h ^ w->h[i + j]) * 0xff51afd7ed558ccdULL + (uint64_t)j;
        out[i] = h;
    }
    if (k < 0)
        k = 0;
    qsort(out, (size_t)k, sizeof *out, cmp_u64);
    return k;
}

/* Sum over distinct n-grams of min(count in hyp, count in ref). */
static long clipped_matches(const uint64_t *h, int nh, const uint64_t *r, int nr)
{
    long m = 0;
    int i = 0, j = 0;
    while (i < nh && j < nr) {
        if (h[i] < r[j]) {
            i++;
        } else if (h[i] > r[j]) {
            j++;
        } else {
            uint64_t v = h[i];
            int ch = 0, cr = 0;
            while (i < nh && h[i] == v)
                i++, ch++;
            while (j < nr && r[j] == v)
                j++, cr++;
            m += ch < cr ? ch : cr;
        }
    }
    return m;
}

void bleu_add(BleuStats *s, const char *hyp, const char *ref)
{
    char *th = bleu_tokenize_13a(hyp), *tr = bleu_tokenize_13a(ref);
    Words wh = words_of(th), wr = words_of(tr);
    uint64_t *gh = malloc(sizeof(uint64_t) * (size_t)(wh.n + 1));
    uint64_t *gr = malloc(sizeof(uint64_t) * (size_t)(wr.n + 1));
    ASSERT(gh && gr);
    for (int n = 1; n <= BLEU_ORDER; n++) {
        int nh = ngrams(&wh, n, gh), nr = ngrams(&wr, n, gr);
        s->total[n - 1] += nh;
        s->correct[n - 1] += clipped_matches(gh, nh, gr, nr);
    }
    s->sys_len += wh.n;
    s->ref_len += wr.n;
    free(gh);
    free(gr);
    free(wh.h);
    free(wr.h);
    free(th);
    free(tr);
}

static double my_log(double x)
{
    return x == 0.0 ? -9999999999.0 : log(x);
}

BleuScore bleu_score(const BleuStats *s)
{
    BleuScore r = {0};
    r.sys_len = s->sys_len;
    r.ref_len = s->ref_len;
    r.bp = 1.0;
    if (s->sys_len < s->ref_len)
        r.bp = s->sys_len > 0 ? exp(1.0 - (double)s->ref_len / (double)s->sys_len) : 0.0;
    int any = 0;
    for (int n = 0; n < BLEU_ORDER; n++)
        any |= s->correct[n] != 0;
    if (!any)
        return r;
    double smooth = 1.0, sum = 0.0;
    for (int n = 0; n < BLEU_ORDER; n++) {
        if (s->total[n] == 0)
            break;
        if (s->correct[n] == 0) {
            smooth *= 2.0;
            r.precisions[n] = 100.0 / (smooth * (double)s->total[n]);
        } else {
            r.precisions[n] = 100.0 * (double)s->correct[n] / (double)s->total[n];
        }
    }
    for (int n = 0; n < BLEU_ORDER; n++)
        sum += my_log(r.precisions[n]);
    r.bleu = r.bp * exp(sum / BLEU_ORDER);
    return r;
}
