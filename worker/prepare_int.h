/* State shared by the parts of `mos prepare`: prepare.c (orchestration, split, text files),
 * prepare_src.c (where pairs come from) and prepare_out.c (tokenization, manifest). Private to
 * those three files. Invariant: every path under tmp is absolute. */
#ifndef MOS_PREPARE_INT_H
#define MOS_PREPARE_INT_H

#include <jansson.h>
#include <limits.h>
#include <stdint.h>

#include "corpus.h"
#include "prepare.h"
#include "sha256.h"

#define PREP_FORMAT 1       /* bump when the files or their cleaning change meaning */

typedef struct Prep {
    const PrepareOpts *o;
    char data[PATH_MAX];            /* RUN/data, the final place */
    char tmp[PATH_MAX];             /* absolute RUN/.data.new, built here */
    Sha256 fp;                      /* input fingerprint being accumulated */
    char fingerprint[65];
    const char *corpus_kind;        /* "debian-catalogs", "mo-dir", "user" */
    Corpus main;                    /* pairs the split is carved from */
    Corpus given[CORPUS_SPLIT_COUNT];   /* valid/test from the user's own files */
    int from_file[CORPUS_SPLIT_COUNT];
    uint8_t *which;                 /* main.n split labels */
    json_t *sources;                /* array, one object per package / catalog / file pair */
    json_t *splits;                 /* object: split -> counts */
    json_t *versions;               /* object: package -> candidate version (debian only) */
    char *pkg_buf;                  /* package names (debian only), split in place */
    char **pkgs;
    int npkgs;
    int vocab_size;
    int bpe_marker;
    int lock_fd;                    /* RUN/.prepare.lock, held until prep_done; -1 before */
} Prep;

/* Prints "mos prepare: <line>" to stdout (flushed) and passes the line to o->note if set. */
void prep_say(const Prep *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* "TMP/name" into buf (PATH_MAX). */
const char *prep_path(const Prep *p, char *buf, const char *name);

/* Adds "key=value\n" to the input fingerprint. */
void prep_fp_add(Prep *p, const char *key, const char *value);

/* prepare_src.c: fingerprint the inputs (before anything is built), then load the pairs. */
int prep_src_fingerprint(Prep *p, MosErr *e);
int prep_src_load(Prep *p, MosErr *e);

/* prepare_out.c */
int prep_tokenize(Prep *p, MosErr *e);
int prep_manifest_write(Prep *p, MosErr *e);
/* 1 when DATA/manifest.json carries this fingerprint and every hashed file is unchanged. */
int prep_up_to_date(const Prep *p);

#endif
