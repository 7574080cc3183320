/* A tiny generated run directory for tests: data/ as DATA_CONTRACT.md describes it (manifest,
 * spm.vocab with one piece per id, ids and raw text for train/valid/test) holding a learnable
 * task: the target is the source with every word mapped through a fixed permutation. */
#ifndef MOS_TINY_DATA_H
#define MOS_TINY_DATA_H

#include <stdint.h>

#define TINY_VOCAB 24

/* Creates RUN_DIR/data/ with the given pair counts; returns 0 or -1. */
int tiny_data_write(const char *run_dir, int n_train, int n_valid, int n_test, uint64_t seed);

/* mkdtemp under $TMPDIR (or /tmp) into buf; returns buf or NULL. */
char *tiny_tmpdir(char *buf, int n);

/* rm -r of a directory made by tiny_tmpdir. */
void tiny_rmdir(const char *dir);

#endif
