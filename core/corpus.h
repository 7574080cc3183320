/* A parallel corpus being prepared: aligned (source, target) pairs with cleaning, dedupe by
 * source, a deterministic train/valid/test split by a hash of the source, and writers for the
 * text and id files of DATA_CONTRACT.md. It does not tokenize (SentencePiece runs as a separate
 * tool) and does not read catalogs (mo.h) or spawn processes (the worker does).
 * Invariant: every stored string is valid UTF-8, whitespace-collapsed and NUL-terminated. */
#ifndef MOS_CORPUS_H
#define MOS_CORPUS_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

#define CORPUS_MAX_WORDS 40     /* pairs with more words on either side are dropped */

typedef enum CorpusDrop {
    CORPUS_DROP_EMPTY,          /* either side empty after collapsing whitespace */
    CORPUS_DROP_IDENTICAL,      /* target equals source (untranslated) */
    CORPUS_DROP_LONG,           /* more than max_words words on either side */
    CORPUS_DROP_DUPLICATE,      /* source already seen (the first pair wins) */
    CORPUS_DROP_COUNT
} CorpusDrop;

typedef enum CorpusSplit {
    CORPUS_TRAIN, CORPUS_VALID, CORPUS_TEST, CORPUS_SPLIT_COUNT
} CorpusSplit;

extern const char *const corpus_split_name[CORPUS_SPLIT_COUNT];   /* "train", "valid", "test" */

typedef struct Corpus {
    char **src, **tgt;          /* n strings each, owned */
    size_t n, cap;
    uint32_t *slots;            /* open-addressing set of source indices + 1 (0: empty) */
    size_t nslots;
    int max_words;
    size_t dropped[CORPUS_DROP_COUNT];
} Corpus;

void corpus_init(Corpus *c, int max_words);
void corpus_done(Corpus *c);

/* Copies, collapses and filters one pair (the default corpus's cleaning). Returns 1 if kept,
 * 0 if dropped (counted in c->dropped), -1 with e set on invalid UTF-8 or out of memory. */
int corpus_add_clean(Corpus *c, const char *src, size_t src_len, const char *tgt,
                     size_t tgt_len, MosErr *e);

/* Copies and collapses one pair without filtering or dedupe (the user's own lines are kept as
 * they are). Returns 1, or -1 with e set: "empty line" when either side is empty after
 * collapsing, "invalid UTF-8", out of memory. */
int corpus_add_keep(Corpus *c, const char *src, size_t src_len, const char *tgt,
                    size_t tgt_len, MosErr *e);

/* Split sizes for n pairs: min(want, n / 10) each for test and valid, so small corpora keep
 * 80% for training. */
void corpus_split_sizes(size_t n, size_t want_test, size_t want_valid, size_t *n_test,
                        size_t *n_valid);

/* Assigns a split to every pair: pairs ordered by (text_hash(source), source) give the first
 * n_test to test, the next n_valid to valid and the rest to train. The result depends only on
 * the set of sources, not on their order. which has c->n entries. Returns -1 on out of memory. */
int corpus_split(const Corpus *c, size_t n_test, size_t n_valid, uint8_t *which, MosErr *e);

typedef struct CorpusCounts {
    size_t pairs, words_src, words_tgt;
} CorpusCounts;

/* Writes the pairs whose which[] equals split (all pairs when which is NULL), in corpus order,
 * one per line, to src_path and tgt_path; fills counts (may be NULL). */
int corpus_write(const Corpus *c, const uint8_t *which, int split, const char *src_path,
                 const char *tgt_path, CorpusCounts *counts, MosErr *e);

/* Counts of a token-id file (space-separated decimal ids, one sentence per line). */
typedef struct IdCounts {
    size_t lines, tokens, unk;
    long max_id;                /* -1 when the file holds no ids */
} IdCounts;

/* Reads an id file written by spm_encode or dict_encode_line and counts lines, tokens and
 * tokens equal to unk_id. Errors: "PATH:LINE: expected a token id, got 'x'". */
int ids_count_file(const char *path, long unk_id, IdCounts *c, MosErr *e);

/* Lines of a text file, validated: NUL-free, UTF-8, a final newline optional; a trailing CR
 * (CRLF files) is removed. */
typedef struct Lines {
    char *buf;                  /* the file's bytes, lines NUL-terminated in place */
    char **line;
    size_t n;
} Lines;

/* Reads path into out. Errors name the file and line: "train.de:12: invalid UTF-8",
 * "train.de: cannot open: No such file or directory". */
int lines_read(const char *path, Lines *out, MosErr *e);
void lines_done(Lines *l);

#endif
