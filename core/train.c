/* The supernet training loop (see train.h): per update, the subnet(s) of the update (HAT's
 * uniform sample, reseeded from (seed, update) so any update can be replayed, or the sandwich
 * rule's random + largest + smallest), update_freq micro-batches each, gradients summed over
 * subnets and scaled by 1/target tokens, optional clipping, Adam, HAT's LR schedule; validation
 * of three fixed subnets and checkpoints on a schedule. Invariant: a checkpoint always holds the
 * state between two updates, so resuming replays exactly what an uninterrupted run does. */
#include "train.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bleu.h"
#include "detok.h"
#include "eval.h"
#include "mos.h"
#include "optim.h"
#include "supernet.h"

#define SAMPLER_MIX 0xd1b54a32d192ed03ULL
#define VALID_ARCH_SEED 0x5eed0fa11da7aULL

typedef struct Trainer {
    RunConfig cfg;
    const TrainHooks *hooks;
    char data_dir[4096], ckpt_dir[4096];
    Manifest man;
    DataSplit train, valid;
    Batcher tb, vb;
    Supernet *net;
    CkptTensor *tensors;
    CkptBlocks blocks;
    Rng drop_rng;
    long step, tokens;
    double elapsed_s, valid_loss;
    double session_t0, session_elapsed0;   /* wall clock and elapsed_s when this run started */
    long session_step0;
    int *mb_store;              /* update_freq micro-batches, 3 * max_tokens ints each */
    Batch *mb;
    Arch valid_arch[ARCH_GROUP_COUNT];
    Detok detok;                /* for validation BLEU (valid_bleu > 0 and a vocabulary) */
    char **refs;                /* valid references, valid.n of them, or NULL: no BLEU */
    int stop;                   /* poll asked to stop */
    int save_now;               /* poll asked for a checkpoint */
} Trainer;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void emit(Trainer *t, const TrainEvent *ev)
{
    if (t->hooks && t->hooks->event)
        t->hooks->event(t->hooks->ctx, ev);
}

static void logf_(Trainer *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void logf_(Trainer *t, const char *fmt, ...)
{
    char text[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    TrainEvent ev = {.kind = TRAIN_EV_LOG, .step = t->step,
                     .total_steps = t->cfg.train.max_update, .bleu = -1, .text = text};
    emit(t, &ev);
}

static void poll(Trainer *t)
{
    if (!t->hooks || !t->hooks->poll)
        return;
    TrainAction a = t->hooks->poll(t->hooks->ctx);
    if (a == TRAIN_STOP)
        t->stop = 1;
    else if (a == TRAIN_CHECKPOINT)
        t->save_now = 1;
}

/* ---- setup ---------------------------------------------------------------------------------- */

int train_resolve_data(RunConfig *cfg, const Manifest *m, MosErr *err)
{
    if (cfg->model.vocab == 0)
        cfg->model.vocab = m->vocab_size;
    else if (cfg->model.vocab != m->vocab_size)
        return err_set(err, "vocab-size: %d in the config, but the data has %d",
                       cfg->model.vocab, m->vocab_size);
    cfg->model.pad_id = m->pad_id;
    cfg->model.unk_id = m->unk_id;
    cfg->model.bos_id = m->bos_id;
    cfg->model.eos_id = m->eos_id;
    return 0;
}

void train_ckpt_blocks(struct Supernet *s, CkptTensor *tbuf, int with_adam, CkptBlocks *out)
{
    int n = supernet_ntensors(s);
    for (int i = 0; i < n; i++) {
        const NamedTensor *nt = supernet_tensor(s, i);
        tbuf[i] = (CkptTensor){nt->name, nt->offset, nt->ndim,
                               {nt->shape[0], nt->shape[1], nt->shape[2], nt->shape[3]}};
    }
    *out = (CkptBlocks){tbuf, n, supernet_params(s), with_adam ? supernet_adam_m(s) : NULL,
                        with_adam ? supernet_adam_v(s) : NULL, supernet_nparams(s)};
}

/* Validation BLEU needs the vocabulary and the raw references; without them training goes on
 * without BLEU and says why. */
static void setup_valid_bleu(Trainer *t)
{
    MosErr e = {{0}};
    if (t->cfg.train.valid_bleu <= 0)
        return;
    if (detok_load(&t->detok, t->data_dir, &t->man, &e) < 0 ||
        !(t->refs = eval_load_refs(t->data_dir, "valid", &t->valid, &t->detok, &e))) {
        logf_(t, "no BLEU during validation: %s", e.msg);
        detok_done(&t->detok);
    }
}

static int trainer_open(Trainer *t, const char *run_dir, MosErr *err)
{
    snprintf(t->data_dir, sizeof t->data_dir, "%s/data", run_dir);
    snprintf(t->ckpt_dir, sizeof t->ckpt_dir, "%s/checkpoints", run_dir);
    const TrainConfig *tc = &t->cfg.train;
    if (data_manifest_load(t->data_dir, &t->man, err) < 0 ||
        train_resolve_data(&t->cfg, &t->man, err) < 0)
        return -1;
    int maxpos = t->cfg.model.max_positions;
    if (data_split_load(t->data_dir, "train", &t->man, maxpos, 0, &t->train, err) < 0 ||
        data_split_load(t->data_dir, "valid", &t->man, maxpos, tc->valid_sentences, &t->valid,
                        err) < 0)
        return -1;
    if (batcher_init(&t->tb, &t->train, tc->max_tokens, &t->man, tc->seed, 1, err) < 0) {
        err_prefix(err, "train");
        return -1;
    }
    if (batcher_init(&t->vb, &t->valid, tc->max_tokens, &t->man, tc->seed, 0, err) < 0) {
        err_prefix(err, "valid");
        return -1;
    }
    setup_valid_bleu(t);
    t->net = supernet_new(&t->cfg.model, tc->max_tokens, tc->seed, err);
    if (!t->net)
        return -1;
    t->tensors = malloc(sizeof(CkptTensor) * (size_t)supernet_ntensors(t->net));
    t->mb_store = malloc(sizeof(int) * 3 * (size_t)tc->max_tokens * (size_t)tc->update_freq);
    t->mb = malloc(sizeof(Batch) * (size_t)tc->update_freq);
    ASSERT(t->tensors && t->mb_store && t->mb);
    train_ckpt_blocks(t->net, t->tensors, 1, &t->blocks);
    rng_seed(&t->drop_rng, tc->seed + 1);
    const SearchSpace *sp = &t->cfg.model.space;
    arch_largest(sp, &t->valid_arch[GROUP_LARGEST]);
    arch_smallest(sp, &t->valid_arch[GROUP_SMALLEST]);
    Rng r;
    rng_seed(&r, tc->seed ^ VALID_ARCH_SEED);
    arch_sample(sp, &r, &t->valid_arch[GROUP_RANDOM]);
    t->valid_loss = -1;
    return 0;
}

static void trainer_close(Trainer *t)
{
    supernet_destroy(&t->net);
    if (t->tb.order)
        batcher_done(&t->tb);
    if (t->vb.order)
        batcher_done(&t->vb);
    if (t->refs)
        eval_free_refs(t->refs, t->valid.n);
    detok_done(&t->detok);
    data_split_free(&t->train);
    data_split_free(&t->valid);
    free(t->tensors);
    free(t->mb_store);
    free(t->mb);
}

/* ---- checkpoints ---------------------------------------------------------------------------- */

static int trainer_save(Trainer *t, MosErr *err)
{
    CkptMeta m = {.step = t->step, .config_hash = config_hash(&t->cfg),
                  .data_epoch = t->tb.st.epoch, .data_pos = t->tb.st.pos, .tokens = t->tokens,
                  .elapsed_s = t->elapsed_s, .valid_loss = t->valid_loss};
    memcpy(m.rng, t->drop_rng.s, sizeof m.rng);
    if (ckpt_save(t->ckpt_dir, &t->blocks, &m, err) < 0)
        return -1;
    char path[4200];
    snprintf(path, sizeof path, "%s/last.safetensors", t->ckpt_dir);
    TrainEvent ev = {.kind = TRAIN_EV_CHECKPOINT, .step = t->step,
                     .total_steps = t->cfg.train.max_update, .bleu = -1, .path = path};
    emit(t, &ev);
    t->save_now = 0;
    return 0;
}

static int trainer_resume(Trainer *t, MosErr *err)
{
    CkptMeta m;
    uint64_t h = config_hash(&t->cfg);
    MosErr last_err = {{0}};
    if (!ckpt_exists(t->ckpt_dir, "last") && !ckpt_exists(t->ckpt_dir, "prev")) {
        logf_(t, "no checkpoint in %s: starting from scratch", t->ckpt_dir);
        return 0;
    }
    if (ckpt_load(t->ckpt_dir, "last", &t->blocks, h, &m, &last_err) < 0) {
        if (!ckpt_exists(t->ckpt_dir, "prev") ||
            ckpt_load(t->ckpt_dir, "prev", &t->blocks, h, &m, err) < 0) {
            *err = last_err;
            return -1;
        }
        logf_(t, "refused %s; resuming from prev (step %ld)", last_err.msg, m.step);
    }
    t->step = m.step;
    memcpy(t->drop_rng.s, m.rng, sizeof m.rng);
    batcher_seek(&t->tb, (BatcherState){m.data_epoch, m.data_pos});
    t->tokens = m.tokens;
    t->elapsed_s = m.elapsed_s;
    t->valid_loss = m.valid_loss;
    logf_(t, "resumed from step %ld (%s)", m.step, m.time);
    return 0;
}

/* ---- validation ----------------------------------------------------------------------------- */

/* NLL per target token of arch a over the validation batches; < 0 when stopped. */
static double valid_nll(Trainer *t, const Arch *a)
{
    double nll = 0.0;
    long ntok = 0;
    for (int i = 0; i < t->vb.nbatches; i++) {
        poll(t);
        if (t->stop)
            return -1.0;
        Batch b;
        batcher_get(&t->vb, i, &b);
        double s = 0.0;
        supernet_step(t->net, a, &b, 0, NULL, &s);
        nll += s;
        ntok += b.ntokens;
    }
    return ntok ? nll / (double)ntok : 0.0;
}

/* The router gates of validated group g's arch (nothing when the supernet has mos none). */
static void emit_gates(Trainer *t, ArchGroup g)
{
    if (t->cfg.model.mos == MOS_NONE)
        return;
    MosGates gates[2 * ARCH_MAX_LAYERS];
    int n = mos_gates(t->net, &t->valid_arch[g], gates);
    if (n < 0)
        return;
    TrainEvent ev = {.kind = TRAIN_EV_GATES, .step = t->step,
                     .total_steps = t->cfg.train.max_update, .bleu = -1, .group = g,
                     .arch = t->valid_arch[g], .gates = gates, .ngates = n};
    emit(t, &ev);
}

static void trainer_validate(Trainer *t)
{
    for (int g = 0; g < ARCH_GROUP_COUNT && !t->stop; g++) {
        double loss = valid_nll(t, &t->valid_arch[g]);
        if (loss < 0)
            return;
        if (g == GROUP_LARGEST)
            t->valid_loss = loss;
        double bleu = -1;
        if (t->refs) {
            DecodeOpts greedy = {.beam = 1, .lenpen = 1.0f, .max_len_a = 1, .max_len_b = 10};
            bleu = eval_bleu(t->net, &t->valid_arch[g], &t->valid, &t->detok, t->refs, &greedy,
                             t->cfg.train.valid_bleu, NULL, NULL).bleu;
        }
        TrainEvent ev = {.kind = TRAIN_EV_VALID, .step = t->step,
                         .total_steps = t->cfg.train.max_update, .loss = loss, .bleu = bleu,
                         .group = (ArchGroup)g, .arch = t->valid_arch[g]};
        emit(t, &ev);
        emit_gates(t, (ArchGroup)g);
    }
}

/* ---- one update ----------------------------------------------------------------------------- */

/* The subnets of update `step`: drawn from (seed, step) only, so a resumed run draws the same. */
static int update_archs(const Trainer *t, long step, Arch out[3])
{
    const SearchSpace *sp = &t->cfg.model.space;
    Rng r;
    rng_seed(&r, t->cfg.train.seed ^ (SAMPLER_MIX * (uint64_t)(step + 1)));
    arch_sample(sp, &r, &out[0]);
    if (t->cfg.train.sample != SAMPLE_SANDWICH)
        return 1;
    arch_largest(sp, &out[1]);
    arch_smallest(sp, &out[2]);
    return 3;
}

/* Copies the update's micro-batches out of the batcher (every subnet sees the same ones). */
static long fetch_micro_batches(Trainer *t)
{
    size_t cap = (size_t)t->cfg.train.max_tokens;
    long ntok = 0;
    for (int k = 0; k < t->cfg.train.update_freq; k++) {
        Batch b;
        batcher_next(&t->tb, &b);
        int *base = t->mb_store + 3 * cap * (size_t)k;
        memcpy(base, b.src, sizeof(int) * (size_t)(b.B * b.Ts));
        memcpy(base + cap, b.tgt_in, sizeof(int) * (size_t)(b.B * b.Tt));
        memcpy(base + 2 * cap, b.tgt_out, sizeof(int) * (size_t)(b.B * b.Tt));
        t->mb[k] = b;
        t->mb[k].src = base;
        t->mb[k].tgt_in = base + cap;
        t->mb[k].tgt_out = base + 2 * cap;
        ntok += b.ntokens;
    }
    return ntok;
}

/* One update. Returns 0 done, 1 stopped before finishing (state rolled back to the update's
 * start, nothing applied), -1 on a non-finite loss. */
static int trainer_update(Trainer *t, MosErr *err)
{
    const TrainConfig *tc = &t->cfg.train;
    double t0 = now_s();
    BatcherState st0 = t->tb.st;
    Rng rng0 = t->drop_rng;
    Arch archs[3];
    int na = update_archs(t, t->step, archs);
    long ntok = fetch_micro_batches(t);
    supernet_zero_grads(t->net);
    double loss = 0.0;
    for (int i = 0; i < na; i++)
        for (int k = 0; k < tc->update_freq; k++) {
            poll(t);
            if (t->stop) {
                t->tb.st = st0;
                t->drop_rng = rng0;
                return 1;
            }
            loss += supernet_step(t->net, &archs[i], &t->mb[k], 1, &t->drop_rng, NULL);
        }
    if (!isfinite(loss)) {
        return err_set(err, "update %ld: the loss is not finite (%g); stopped without saving "
                            "(lower max-lr or set clip-norm?)", t->step + 1, loss);
    }
    size_t n = supernet_nparams(t->net);
    float *g = supernet_grads(t->net);
    optim_scale(g, n, 1.0f / (float)ntok);
    double norm = optim_grad_norm(g, n);
    if (tc->clip_norm > 0 && norm > tc->clip_norm)
        optim_scale(g, n, (float)(tc->clip_norm / (norm + 1e-6)));
    double lr = optim_lr(tc, t->step);
    optim_adam(supernet_params(t->net), g, supernet_adam_m(t->net), supernet_adam_v(t->net), n,
               lr, tc->adam_beta1, tc->adam_beta2, tc->adam_eps, t->step + 1);
    t->step++;
    t->tokens += ntok * na;
    double dt = now_s() - t0;
    /* elapsed and ETA count validation and checkpoints too: the wall clock of this run */
    double session = now_s() - t->session_t0;
    t->elapsed_s = t->session_elapsed0 + session;
    double per_step = session / (double)(t->step - t->session_step0);
    TrainEvent ev = {.kind = TRAIN_EV_STEP, .step = t->step, .total_steps = tc->max_update,
                     .loss = loss / (double)(ntok * na), .bleu = -1, .lr = lr, .grad_norm = norm,
                     .tok_per_s = (double)(ntok * na) / dt,
                     .eta_s = per_step * (double)(tc->max_update - t->step),
                     .arch = archs[0]};
    emit(t, &ev);
    return 0;
}

/* ---- the loop ------------------------------------------------------------------------------- */

static int trainer_loop(Trainer *t, MosErr *err)
{
    const TrainConfig *tc = &t->cfg.train;
    while (t->step < tc->max_update) {
        int rc = trainer_update(t, err);
        if (rc < 0)
            return -1;
        if (rc == 1)
            break;
        int last = t->step == tc->max_update;
        if (t->step % tc->valid_every == 0 || last)
            trainer_validate(t);
        if (t->stop)
            break;
        if ((t->step % tc->save_every == 0 || last || t->save_now) && trainer_save(t, err) < 0)
            return -1;
    }
    if (t->stop) {
        logf_(t, "stopped at update %ld", t->step);
        return trainer_save(t, err);
    }
    return 0;
}

int train_run(const RunConfig *cfg, const char *run_dir, int resume, const TrainHooks *hooks,
              MosErr *err)
{
    Trainer *t = calloc(1, sizeof *t);
    ASSERT(t);
    t->cfg = *cfg;
    t->hooks = hooks;
    int rc = trainer_open(t, run_dir, err);
    if (rc == 0 && !resume &&
        (ckpt_exists(t->ckpt_dir, "last") || ckpt_exists(t->ckpt_dir, "prev")))
        rc = err_set(err, "%s already holds checkpoints: pass --resume to continue them, or "
                          "use a new run directory", t->ckpt_dir);
    if (rc == 0 && resume)
        rc = trainer_resume(t, err);
    if (rc == 0) {
        logf_(t, "supernet: %zu parameters; train: %d pairs (%d longer than max-positions "
                 "skipped), %d batches per epoch; valid: %d pairs",
              supernet_nparams(t->net), t->train.n, t->train.skipped, t->tb.nbatches,
              t->valid.n);
        if (t->step >= cfg->train.max_update)
            logf_(t, "already trained to update %ld of %d", t->step, cfg->train.max_update);
        t->session_t0 = now_s();
        t->session_elapsed0 = t->elapsed_s;
        t->session_step0 = t->step;
        rc = trainer_loop(t, err);
    }
    trainer_close(t);
    free(t);
    return rc;
}
