/* Reader for GNU gettext .mo catalogs (binary message catalogs), both byte orders.
 * Yields (msgid, msgstr) pairs with the msgctxt prefix removed and plural forms reduced to the
 * singular msgid and the first msgstr; skips the header entry and untranslated entries. It does
 * not convert charsets: a catalog whose header names a charset other than UTF-8 is rejected.
 * Every offset and length is checked against the buffer, so a corrupt file is an error, never a
 * read out of bounds. */
#ifndef MOS_MO_H
#define MOS_MO_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

/* Called once per translated entry, in catalog order. src/tgt point into the catalog buffer
 * (not NUL-terminated at *_len in general) and are valid only during the call. Returning
 * non-zero stops reading; mo_read_* then return that value. */
typedef int (*MoVisit)(void *ctx, const char *src, size_t src_len, const char *tgt,
                       size_t tgt_len);

typedef struct MoStats {
    size_t entries;     /* entries in the catalog's table, header included */
    size_t yielded;     /* pairs passed to the visitor */
    size_t skipped;     /* header, empty msgid or empty msgstr */
} MoStats;

/* Reads a catalog held in memory. Returns 0, the visitor's non-zero value, or -1 with a
 * one-line error in e (without a file name; mo_read_file adds it). stats may be NULL. */
int mo_read_buf(const uint8_t *buf, size_t len, MoVisit visit, void *ctx, MoStats *stats,
                MosErr *e);

/* Reads the catalog at path; errors are prefixed with the path ("x.mo: truncated header"). */
int mo_read_file(const char *path, MoVisit visit, void *ctx, MoStats *stats, MosErr *e);

#endif
