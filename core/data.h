/* The prepared corpus as training and evaluation read it (DATA_CONTRACT.md): manifest.json,
 * {split}.ids.{en,de} (source en, target de), and batches by max tokens with length bucketing.
 * Batch order is reshuffled every epoch from (seed, epoch) alone, so the loader's whole state is
 * (epoch, position) and a resumed run sees exactly the batches an uninterrupted one would. */
#ifndef MOS_DATA_H
#define MOS_DATA_H

#include <stdint.h>

#include "batch.h"
#include "err.h"

typedef struct Manifest {
    int vocab_size;
    int pad_id, unk_id, bos_id, eos_id;
    char tokenizer[32];      /* "spm" or "pretokenized" */
    char bpe_marker[16];     /* pretokenized only; "" when none */
} Manifest;

/* Reads DATA_DIR/manifest.json. 0 or -1 with "data/manifest.json: vocab_size: missing". */
int data_manifest_load(const char *data_dir, Manifest *m, MosErr *err);

/* One split's pairs: token ids without <bos>/<eos>, concatenated. */
typedef struct DataSplit {
    int n;                 /* pairs kept */
    int skipped;           /* pairs dropped as longer than max_positions */
    int *src_len, *tgt_len;
    int *line;             /* 0-based line of each kept pair in the split's files */
    long *src_off, *tgt_off;
    int *tokens;
    long ntokens_alloc;
} DataSplit;

/* Loads DATA_DIR/SPLIT.ids.en (source) and .ids.de (target). Pairs whose source or target with
 * its <eos>/<bos> exceeds max_positions are skipped and counted; at most max_pairs pairs are
 * read (0: all). Ids outside [0, vocab) and unequal line counts are errors naming file:line. */
int data_split_load(const char *data_dir, const char *split, const Manifest *m, int max_positions,
                    int max_pairs, DataSplit *d, MosErr *err);
void data_split_free(DataSplit *d);

typedef struct BatcherState {
    long epoch;            /* completed passes over the batches */
    int pos;               /* next batch within the epoch */
} BatcherState;

/* Batches of one split: pairs sorted by length, cut into batches whose padded size
 * B * max(Ts, Tt) stays <= max_tokens. With shuffle, the batch order of every epoch is a
 * permutation drawn from (seed, epoch); without, batches come in length order (evaluation). */
typedef struct Batcher {
    const DataSplit *d;
    int max_tokens, pad_id, bos_id, eos_id, shuffle;
    uint64_t seed;
    int nbatches;
    int *order;            /* pair indices in length order */
    int *start, *count;    /* batch b covers order[start[b] .. start[b] + count[b]) */
    int *perm;             /* this epoch's batch order */
    long perm_epoch;       /* epoch perm was drawn for */
    BatcherState st;
    int *src, *tgt_in, *tgt_out;   /* the current batch, max_tokens ints each */
    int skipped;           /* pairs longer than max_tokens alone (never batched) */
} Batcher;

int  batcher_init(Batcher *b, const DataSplit *d, int max_tokens, const Manifest *m,
                  uint64_t seed, int shuffle, MosErr *err);
void batcher_done(Batcher *b);
/* Fills out with the next batch (pointers into b, valid until the next call) and advances;
 * wraps to a new epoch after the last batch. */
void batcher_next(Batcher *b, Batch *out);
/* Fills out with batch i in length order (0 <= i < nbatches); does not move the state. */
void batcher_get(Batcher *b, int i, Batch *out);
/* Pairs covered by batch i in length order (for mapping decoded outputs back to lines). */
const int *batcher_pairs(const Batcher *b, int i, int *n);
void batcher_seek(Batcher *b, BatcherState st);

#endif
