/* Additional training of one fixed architecture: an extracted standalone model (core/modelfile.h)
 * trained further on a run's data (`mos finetune`), or re-initialised and trained from scratch
 * (HAT's retraining of a searched subnet). The same pieces as the supernet loop (core/train.c):
 * the run's batcher, label-smoothed loss, Adam and HAT's LR schedule over the finetuning steps;
 * reports through TrainHooks, never prints. Does not write files (modelfile_update does). */
#ifndef MOS_FINETUNE_H
#define MOS_FINETUNE_H

#include "arch.h"
#include "config.h"
#include "err.h"
#include "supernet.h"
#include "train.h"

typedef struct FinetuneOpts {
    TrainConfig train;      /* the run's options; lr, warmup and max_update are taken from here */
    int steps;              /* updates to run */
    int from_scratch;       /* 1: HAT init (seed) before training */
} FinetuneOpts;

typedef struct FinetuneResult {
    long steps;             /* updates done (fewer when hooks->poll asked to stop) */
    double valid_before;    /* NLL per target token on the valid split, before and after */
    double valid_after;
    double last_loss;       /* label-smoothed train loss of the last update */
} FinetuneResult;

/* Trains model (arch a; adam moments reset) on DATA_DIR's train split with LR schedule
 * optim_lr over o->steps updates (warmup min(train.warmup_updates, steps / 10)); validates on
 * the valid split before and after. model's max_tokens must cover train.max_tokens. Returns 0,
 * or -1 with a one-line error (data, a non-finite loss: the parameters are then unusable). */
int finetune_run(Supernet *model, const Arch *a, const char *data_dir, const FinetuneOpts *o,
                 const TrainHooks *hooks, FinetuneResult *res, MosErr *err);

#endif
