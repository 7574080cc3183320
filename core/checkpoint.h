/* Training checkpoints: the named tensors of the parameter block and the Adam moments in one
 * safetensors file (F32, little-endian; moments as "adam_m.<name>", "adam_v.<name>"), and a
 * JSON file with the step, RNG and data-loader state and the config hash. A save writes both to
 * temporary files, fsyncs, moves the current pair to prev.* and renames the new pair to last.*,
 * so a crash at any point leaves a complete checkpoint. Loading refuses (with one line naming
 * the file and the reason) a truncated or corrupt file, a config-hash mismatch, or a tensor
 * whose name or shape differs; it never deletes anything. */
#ifndef MOS_CHECKPOINT_H
#define MOS_CHECKPOINT_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

typedef struct CkptTensor {
    const char *name;
    size_t offset;          /* floats into each block */
    int ndim;
    int shape[4];
} CkptTensor;

/* The blocks a checkpoint covers. adam_m/adam_v may be NULL: on save the moments are omitted;
 * on load they are not read (evaluation). */
typedef struct CkptBlocks {
    const CkptTensor *t;
    int nt;
    float *params, *adam_m, *adam_v;
    size_t nparams;
} CkptBlocks;

typedef struct CkptMeta {
    long step;                  /* updates done */
    uint64_t config_hash;       /* config_hash() of the run that wrote it */
    uint64_t rng[4];            /* training RNG (dropout) state */
    long data_epoch;            /* batcher state */
    int data_pos;
    long tokens;                /* target tokens trained on */
    double elapsed_s;           /* training time so far */
    double valid_loss;          /* last validation loss of the largest subnet (< 0: none) */
    char time[32];              /* UTC, ISO 8601, filled by ckpt_save */
} CkptMeta;

/* Writes DIR/last.{safetensors,json} (DIR is created), keeping the previous pair as prev.*.
 * Fills m->time. Returns 0 or -1; on failure the existing checkpoints are untouched. */
int ckpt_save(const char *dir, const CkptBlocks *b, CkptMeta *m, MosErr *err);

/* Loads DIR/NAME.{safetensors,json} (NAME "last" or "prev") into the blocks and m. Checks the
 * config hash against expect_hash, every tensor's name, dtype and shape, the data checksum and
 * the pair's consistency. On failure returns -1 with the reason; the blocks may then hold
 * partial data and must be reloaded or discarded. */
int ckpt_load(const char *dir, const char *name, const CkptBlocks *b, uint64_t expect_hash,
              CkptMeta *m, MosErr *err);

/* 1 when DIR/NAME.safetensors exists. */
int ckpt_exists(const char *dir, const char *name);

#endif
