/* A fixed vocabulary for pre-tokenized text (fairseq dict.txt: "TOKEN COUNT" per line, an
 * optional " #fairseq:overwrite" flag). Ids: 0 <pad>, 1 <unk>, 2 <s>, 3 </s>, then the dict's
 * tokens in file order from DICT_FIRST_ID. It maps space-separated tokens to ids; it does not
 * segment text (the user's BPE already did). Invariant: tokens are unique and non-empty. */
#ifndef MOS_DICT_H
#define MOS_DICT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "err.h"

#define DICT_PAD_ID 0
#define DICT_UNK_ID 1
#define DICT_BOS_ID 2
#define DICT_EOS_ID 3
#define DICT_FIRST_ID 4

typedef struct Dict {
    char *buf;              /* file bytes, tokens NUL-terminated in place */
    char **tok;             /* n tokens; tok[i] has id DICT_FIRST_ID + i */
    size_t n;
    uint32_t *slots;        /* open-addressing set of i + 1 (0: empty) */
    size_t nslots;
    int bpe_marker;         /* 1 when some token ends in "@@" (subword-nmt BPE) */
} Dict;

/* Loads a dict file. Errors name file and line: "dict.txt:7: expected 'TOKEN COUNT'",
 * "dict.txt:9: duplicate token 'the'", "dict.txt:1: '<unk>' is reserved". */
int dict_load(Dict *d, const char *path, MosErr *e);
void dict_done(Dict *d);

/* The id of a token (DICT_UNK_ID when absent). */
uint32_t dict_id(const Dict *d, const char *tok, size_t len);

/* Writes the ids of a space-separated line as decimal numbers separated by spaces and a
 * newline; adds the token and unknown counts to *ntok and *nunk. */
void dict_encode_line(const Dict *d, const char *line, FILE *out, size_t *ntok, size_t *nunk);

#endif
