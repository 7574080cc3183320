/* Evaluation of any subnet with the supernet's inherited weights: loss over a split and corpus
 * BLEU (decode, detokenize, sacreBLEU's default scoring). Opening a run for evaluation reads
 * the manifest and the checkpoint's weights (not the Adam state). Never prints; hypotheses go
 * to an optional callback. */
#ifndef MOS_EVAL_H
#define MOS_EVAL_H

#include "bleu.h"
#include "checkpoint.h"
#include "config.h"
#include "data.h"
#include "detok.h"
#include "supernet.h"

typedef struct EvalRun {
    RunConfig cfg;              /* with the data's vocab and ids */
    Manifest man;
    Supernet *net;
    CkptMeta meta;              /* of the loaded checkpoint */
    char data_dir[4096];
} EvalRun;

/* Loads RUN_DIR/data/manifest.json and RUN_DIR/checkpoints/NAME ("last" or "prev") into a new
 * supernet of cfg. 0 or -1 with a one-line error (no checkpoint, mismatched config, ...). */
int  eval_open(EvalRun *r, const RunConfig *cfg, const char *run_dir, const char *ckpt_name,
               MosErr *err);
void eval_close(EvalRun *r);

typedef struct EvalLoss {
    double nll;                 /* NLL per target token (natural log) */
    double loss;                /* label-smoothed loss per target token */
    long ntokens;
    int pairs;
} EvalLoss;

/* Loss of arch a over every batch of b (in length order; no dropout). */
void eval_loss(Supernet *s, const Arch *a, Batcher *b, EvalLoss *out);

/* Reference texts for BLEU, one per pair of d: the raw target lines (SPLIT.de) for
 * SentencePiece data, the detokenized reference ids for pre-tokenized data. Returns a malloc'ed
 * array of d->n malloc'ed strings (eval_free_refs), or NULL with an error. */
char **eval_load_refs(const char *data_dir, const char *split, const DataSplit *d,
                      const Detok *dt, MosErr *err);
void eval_free_refs(char **refs, int n);

typedef void (*EvalHypFn)(void *ctx, int pair, const char *hyp);

/* Translates the first max_sentences pairs of d (0: all) with arch a and scores them against
 * refs. on_hyp (may be NULL) receives each detokenized hypothesis in order. */
BleuScore eval_bleu(Supernet *s, const Arch *a, const DataSplit *d, const Detok *dt,
                    char *const *refs, const DecodeOpts *o, int max_sentences, EvalHypFn on_hyp,
                    void *ctx);

#endif
