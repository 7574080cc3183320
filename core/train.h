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
    TRAIN_EV_GATES,       /* router gates of a validated arch (MoS only): group, arch, gates */
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
    /* gates only: mos_gates of arch, ngates entries (encoder layers, then decoder layers);
     * valid only during the callback */
    const struct MosGates *gates;
    int ngates;
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

/* ---- functions (core/train.c) ----------------------------------------------------------- */

#include "checkpoint.h"
#include "data.h"

struct Supernet;

/* Fills the data-dependent parts of cfg from the manifest: vocab (when the config's is 0; a
 * different non-zero value is an error) and the special ids. */
int train_resolve_data(RunConfig *cfg, const Manifest *m, MosErr *err);

/* The checkpoint view of a supernet's blocks; tbuf holds supernet_ntensors(s) entries.
 * with_adam = 0 leaves the moments out (evaluation). */
void train_ckpt_blocks(struct Supernet *s, CkptTensor *tbuf, int with_adam, CkptBlocks *out);

/* Trains the supernet of cfg on RUN_DIR/data, writing RUN_DIR/checkpoints, until
 * cfg->train.max_update updates are done or hooks->poll says stop (then a checkpoint is written
 * first). resume = 1 continues from checkpoints/last (or prev when last is refused, with a log
 * event saying why); resume = 0 refuses to start when checkpoints exist. Same seed, 1 thread:
 * bit-identical losses, and a resumed run continues exactly as an uninterrupted one.
 * Returns 0 or -1 with a one-line error (a non-finite loss stops training before it is saved). */
int train_run(const RunConfig *cfg, const char *run_dir, int resume, const TrainHooks *hooks,
              MosErr *err);

#endif
