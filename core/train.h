/* Supernet training loop and its contract with whoever runs it (the worker, or the one-shot
 * `mos train`). The loop reports through TrainHooks and never touches sockets or stdout.
 * hooks->poll is called between micro-batches (so at least once per update): it may block
 * (e.g. while the user has paused), and returns what the loop should do next. */
#ifndef MOS_TRAIN_H
#define MOS_TRAIN_H

#include "arch.h"
#include "config.h"

typedef enum TrainEventKind {
    TRAIN_EV_STEP,        /* one update done: step, loss, lr, grad_norm, tok_per_s, arch */
    TRAIN_EV_VALID,       /* validation of one arch group: group, arch, loss (and bleu >= 0) */
    TRAIN_EV_CHECKPOINT,  /* a checkpoint was written: step, path */
    TRAIN_EV_LOG,         /* a human-readable line: text */
    TRAIN_EV_KIND_COUNT
} TrainEventKind;

typedef enum ArchGroup { GROUP_LARGEST, GROUP_SMALLEST, GROUP_RANDOM, ARCH_GROUP_COUNT } ArchGroup;

typedef struct TrainEvent {
    TrainEventKind kind;
    long step, total_steps;
    double loss;          /* train: label-smoothed loss per target token; valid: NLL per token */
    double bleu;          /* valid only; < 0 when not computed */
    double lr, grad_norm, tok_per_s, eta_s;
    ArchGroup group;      /* valid only */
    Arch arch;            /* the sampled (step) or validated (valid) arch */
    const char *path;     /* checkpoint only */
    const char *text;     /* log only */
} TrainEvent;

typedef enum TrainAction {
    TRAIN_CONTINUE,
    TRAIN_CHECKPOINT,     /* write a checkpoint now, then continue */
    TRAIN_STOP,           /* write a checkpoint, then return 0 */
} TrainAction;

typedef struct TrainHooks {
    void *ctx;
    void (*event)(void *ctx, const TrainEvent *ev);
    TrainAction (*poll)(void *ctx);
} TrainHooks;

#endif
