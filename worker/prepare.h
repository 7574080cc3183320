/* `mos prepare`: builds the run's data/ folder (DATA_CONTRACT.md) from the default Debian
 * catalog corpus, from catalogs in a folder, or from the user's parallel text, then tokenizes it
 * with SentencePiece (or maps pre-tokenized text through a fixed dict). Everything is written
 * into RUN/.data.new and moved into place only when complete, so a failed run never touches an
 * existing data/. Progress goes to stdout; the caller prints the error line. */
#ifndef MOS_PREPARE_H
#define MOS_PREPARE_H

#include "err.h"

typedef struct PrepPackage {
    const char *name;       /* Debian package (bookworm) */
    const char *what;       /* the catalogs it carries, for docs and --help */
} PrepPackage;

/* The default corpus: packages in this order (the first pair with a given source wins). */
extern const PrepPackage prepare_packages[];
extern const int prepare_npackages;

typedef struct PrepareOpts {
    const char *run_dir;
    int vocab;                  /* SentencePiece vocabulary (requested; soft limit) */
    int threads;                /* spm_train --num_threads */
    double char_coverage;       /* spm_train --character_coverage, (0, 1] */
    int valid_size, test_size;  /* pairs carved from the corpus (capped at 10% each) */
    int max_words;              /* cleaning: longer pairs are dropped */
    const char *packages;       /* comma-separated override of the default list, or NULL */
    const char *mo_dir;         /* catalogs from the *.mo files in this folder, or NULL */
    const char *src, *tgt;      /* the user's parallel text, or NULL */
    const char *valid_src, *valid_tgt, *test_src, *test_tgt;
    int clean;                  /* apply the default corpus's filters to user text */
    int pretokenized;           /* user text is already tokenized; ids from vocab_file */
    const char *vocab_file;     /* fairseq dict.txt */
    int force;                  /* rebuild even when data/ is up to date */
    /* Optional: each one-line stage message (without the "mos prepare: " prefix) is also
     * passed here, e.g. to the worker's log; called from the thread running prepare_run. */
    void (*note)(void *ctx, const char *line);
    void *note_ctx;
} PrepareOpts;

/* Runs the whole stage. Returns 0 (also when data/ was already up to date) or -1 with a
 * one-line error naming the file and line or the tool that failed. */
int prepare_run(const PrepareOpts *o, MosErr *e);

struct Args;
/* Fills *out from parsed `mos prepare` arguments (worker/cmd_prepare.c): the one mapping from
 * the command's options table to PrepareOpts, shared by the command and the worker's job. */
void prepare_opts_from_args(const struct Args *a, PrepareOpts *out);

#endif
