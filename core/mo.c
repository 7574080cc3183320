/* .mo catalog reader (see mo.h). Layout: magic, revision, N, offset of the original-string
 * table O, offset of the translation table T; each table holds N (length, offset) pairs of
 * 32-bit words in the file's byte order. Invariant: no byte is read before its range has been
 * checked against the buffer length with 64-bit arithmetic. */
#include "mo.h"
#include "text.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MO_MAGIC 0x950412deu
#define MO_HEADER_BYTES 20u
#define MO_CTXT_SEP '\x04'

typedef struct MoFile {
    const uint8_t *buf;
    size_t len;
    int swap;           /* 1: big-endian file (bytes reversed relative to the magic we read) */
    uint32_t n, orig, trans;
} MoFile;

static uint32_t mo_word(const MoFile *m, size_t off)
{
    const uint8_t *p = m->buf + off;
    if (m->swap)
        return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
    return (uint32_t)p[3] << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[1] << 8 | p[0];
}

static int mo_header(MoFile *m, MosErr *e)
{
    if (m->len < MO_HEADER_BYTES)
        return err_set(e, "truncated header (%zu bytes, need %u)", m->len, MO_HEADER_BYTES);
    m->swap = 0;
    if (mo_word(m, 0) != MO_MAGIC) {
        m->swap = 1;
        if (mo_word(m, 0) != MO_MAGIC)
            return err_set(e, "not a .mo catalog (bad magic number)");
    }
    uint32_t rev = mo_word(m, 4);
    if (rev >> 16 > 1)
        return err_set(e, "unsupported .mo revision %u.%u", rev >> 16, rev & 0xffffu);
    m->n = mo_word(m, 8);
    m->orig = mo_word(m, 12);
    m->trans = mo_word(m, 16);
    uint64_t table = (uint64_t)m->n * 8u;
    if ((uint64_t)m->orig + table > m->len || (uint64_t)m->trans + table > m->len)
        return err_set(e, "string tables (%u entries) extend past the end of the file", m->n);
    return 0;
}

/* String i of the table at tab: checked against the buffer; the stored length excludes the
 * terminating NUL, which must be present. */
static int mo_string(const MoFile *m, uint32_t tab, uint32_t i, const char **s, size_t *len,
                     MosErr *e)
{
    uint32_t l = mo_word(m, (size_t)tab + (size_t)i * 8u);
    uint32_t off = mo_word(m, (size_t)tab + (size_t)i * 8u + 4u);
    if ((uint64_t)off + l + 1u > m->len)
        return err_set(e, "entry %u: string at offset %u (length %u) extends past the end of "
                       "the file", i, off, l);
    if (m->buf[off + l] != '\0')
        return err_set(e, "entry %u: string at offset %u is not NUL-terminated", i, off);
    *s = (const char *)m->buf + off;
    *len = l;
    return 0;
}

/* Rejects a header that declares a charset other than UTF-8 (or its ASCII subset). */
static int mo_check_charset(const char *hdr, size_t len, MosErr *e)
{
    const char *key = "charset=";
    size_t klen = strlen(key);
    for (size_t i = 0; i + klen <= len; i++) {
        if (strncasecmp(hdr + i, key, klen) != 0)
            continue;
        const char *v = hdr + i + klen;
        size_t vlen = 0;
        while (i + klen + vlen < len && v[vlen] != '\n' && v[vlen] != ' ' && v[vlen] != ';')
            vlen++;
        if ((vlen == 5 && strncasecmp(v, "UTF-8", 5) == 0) ||
            (vlen == 5 && strncasecmp(v, "ASCII", 5) == 0) ||
            (vlen == 8 && strncasecmp(v, "US-ASCII", 8) == 0) ||
            (vlen == 7 && strncasecmp(v, "CHARSET", 7) == 0))
            return 0;
        return err_set(e, "catalog charset is %.*s, not UTF-8 (convert it with msgconv)",
                       (int)vlen, v);
    }
    return 0;
}

/* Strips "context\x04" from a msgid; the context never contains the separator. */
static void mo_strip_context(const char **s, size_t *len)
{
    const char *sep = memchr(*s, MO_CTXT_SEP, *len);
    if (sep) {
        *len -= (size_t)(sep + 1 - *s);
        *s = sep + 1;
    }
}

int mo_read_buf(const uint8_t *buf, size_t len, MoVisit visit, void *ctx, MoStats *stats,
                MosErr *e)
{
    MoFile m = { .buf = buf, .len = len };
    MoStats st = { 0 };
    if (mo_header(&m, e) < 0)
        return -1;
    st.entries = m.n;
    for (uint32_t i = 0; i < m.n; i++) {
        const char *src = NULL, *tgt = NULL;
        size_t slen = 0, tlen = 0;
        if (mo_string(&m, m.orig, i, &src, &slen, e) < 0 ||
            mo_string(&m, m.trans, i, &tgt, &tlen, e) < 0)
            return -1;
        /* Plural entries hold "singular\0plural"; translations "form0\0form1...". */
        slen = strnlen(src, slen);
        tlen = strnlen(tgt, tlen);
        if (slen == 0 && mo_check_charset(tgt, tlen, e) < 0)
            return -1;
        mo_strip_context(&src, &slen);
        if (slen == 0 || tlen == 0) {
            st.skipped++;
            continue;
        }
        if (text_utf8_invalid_at(src, slen) >= 0 || text_utf8_invalid_at(tgt, tlen) >= 0)
            return err_set(e, "entry %u: invalid UTF-8 in %s", i,
                           text_utf8_invalid_at(src, slen) >= 0 ? "msgid" : "msgstr");
        st.yielded++;
        int rc = visit(ctx, src, slen, tgt, tlen);
        if (rc != 0) {
            if (stats)
                *stats = st;
            return rc;
        }
    }
    if (stats)
        *stats = st;
    return 0;
}

int mo_read_file(const char *path, MoVisit visit, void *ctx, MoStats *stats, MosErr *e)
{
    char *buf;
    size_t len;
    if (text_read_file(path, &buf, &len, e) < 0)
        return -1;
    int rc = mo_read_buf((const uint8_t *)buf, len, visit, ctx, stats, e);
    if (rc == -1)
        err_prefix(e, "%s", path);
    free(buf);
    return rc;
}
