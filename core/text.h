/* Small text utilities for corpus preparation: UTF-8 validation, whitespace collapsing, word
 * counting, a stable 64-bit string hash, and reading a whole file. All but text_read_file are
 * pure functions on byte ranges with no locale and no allocation. "Whitespace" means ASCII
 * space, tab, newline, carriage return, vertical tab and form feed; other Unicode spaces are
 * ordinary characters. */
#ifndef MOS_TEXT_H
#define MOS_TEXT_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

/* Returns the byte offset of the first invalid UTF-8 sequence in s[0..len) (overlong forms,
 * surrogates, code points above U+10FFFF and truncated sequences are invalid), or -1 when all
 * of it is valid. */
long text_utf8_invalid_at(const char *s, size_t len);

/* Collapses runs of whitespace to one space and trims both ends, in place; writes a NUL at the
 * new end (s must have room for len + 1 bytes) and returns the new length. */
size_t text_collapse(char *s, size_t len);

/* Number of space-separated words in a collapsed string. */
size_t text_words(const char *s, size_t len);

/* FNV-1a 64-bit hash followed by a final avalanche mix; stable across runs and machines. */
uint64_t text_hash(const char *s, size_t len);

/* Reads the whole file at path into a malloc'd buffer (*buf, caller frees) with one extra NUL
 * byte after *len bytes. Errors: "PATH: cannot open: REASON", "PATH: read error". */
int text_read_file(const char *path, char **buf, size_t *len, MosErr *e);

#endif
