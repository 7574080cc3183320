/* Fixed-arch training of a standalone model (see finetune.h). One arch, update_freq micro-batches
 * per update, gradients scaled by 1/target tokens, optional clipping, fairseq's Adam; the supernet
 * loop's sampling, sandwich rule and checkpoints do not apply. Allocates only at setup. */
#include "finetune.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "data.h"
#include "eval.h"
#include "optim.h"

typedef struct Ft {
    Manifest man;
    DataSplit train, valid;
    Batcher tb, vb;
    int have_tb, have_vb;
} Ft;

static int ft_open(Ft *f, const char *data_dir, const Supernet *m, const TrainConfig *tc,
                   MosErr *err)
{
    int maxpos = supernet_config(m)->max_positions;
    if (tc->max_tokens > supernet_max_tokens(m))
        return err_set(err, "finetune: max-tokens %d exceeds the model's %d", tc->max_tokens,
                       supernet_max_tokens(m));
    if (data_manifest_load(data_dir, &f->man, err) < 0 ||
        data_split_load(data_dir, "train", &f->man, maxpos, 0, &f->train, err) < 0 ||
        data_split_load(data_dir, "valid", &f->man, maxpos, tc->valid_sentences, &f->valid,
                        err) < 0)
        return -1;
    if (f->man.vocab_size != supernet_config(m)->vocab)
        return err_set(err, "%s: vocabulary of %d, the model has %d", data_dir,
                       f->man.vocab_size, supernet_config(m)->vocab);
    if (batcher_init(&f->tb, &f->train, tc->max_tokens, &f->man, tc->seed, 1, err) < 0)
        return -1;
    f->have_tb = 1;
    if (batcher_init(&f->vb, &f->valid, tc->max_tokens, &f->man, tc->seed, 0, err) < 0)
        return -1;
    f->have_vb = 1;
    return 0;
}

static void ft_close(Ft *f)
{
    if (f->have_tb)
        batcher_done(&f->tb);
    if (f->have_vb)
        batcher_done(&f->vb);
    data_split_free(&f->train);
    data_split_free(&f->valid);
}

/* HAT init of every parameter (positions are not parameters and stay the source's). */
static int reinit(Supernet *m, uint64_t seed, MosErr *err)
{
    Supernet *fresh = supernet_new(supernet_config(m), 1, seed, err);
    if (!fresh)
        return -1;
    ASSERT(supernet_nparams(fresh) == supernet_nparams(m));
    memcpy(supernet_params(m), supernet_params(fresh), supernet_nparams(m) * sizeof(float));
    supernet_destroy(&fresh);
    return 0;
}

static TrainAction poll_hooks(const TrainHooks *h)
{
    return h && h->poll ? h->poll(h->ctx) : TRAIN_CONTINUE;
}

static void emit(const TrainHooks *h, const TrainEvent *ev)
{
    if (h && h->event)
        h->event(h->ctx, ev);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* One update; returns the loss per target token (NaN when not finite). */
static double update(Supernet *m, const Arch *a, Ft *f, const TrainConfig *tc, long step,
                     Rng *rng, double *lr, double *norm, long *ntok_out)
{
    supernet_zero_grads(m);
    double loss = 0.0;
    long ntok = 0;
    for (int k = 0; k < tc->update_freq; k++) {
        Batch b;
        batcher_next(&f->tb, &b);
        loss += supernet_step(m, a, &b, 1, rng, NULL);
        ntok += b.ntokens;
    }
    *ntok_out = ntok;
    if (!isfinite(loss) || ntok == 0)
        return NAN;
    size_t n = supernet_nparams(m);
    float *g = supernet_grads(m);
    optim_scale(g, n, 1.0f / (float)ntok);
    *norm = optim_grad_norm(g, n);
    if (tc->clip_norm > 0 && *norm > tc->clip_norm)
        optim_scale(g, n, (float)(tc->clip_norm / (*norm + 1e-6)));
    *lr = optim_lr(tc, step);
    optim_adam(supernet_params(m), g, supernet_adam_m(m), supernet_adam_v(m), n, *lr,
               tc->adam_beta1, tc->adam_beta2, tc->adam_eps, step + 1);
    return loss / (double)ntok;
}

static double valid_nll(Supernet *m, const Arch *a, Ft *f)
{
    EvalLoss l;
    eval_loss(m, a, &f->vb, &l);
    return l.nll;
}

static int loop(Supernet *m, const Arch *a, Ft *f, const FinetuneOpts *o, const TrainHooks *h,
                FinetuneResult *res, MosErr *err)
{
    TrainConfig tc = o->train;
    tc.max_update = o->steps;
    tc.warmup_updates = tc.warmup_updates < o->steps / 10 ? tc.warmup_updates : o->steps / 10;
    Rng rng;
    rng_seed(&rng, tc.seed + 1);
    for (long step = 0; step < o->steps; step++) {
        if (poll_hooks(h) == TRAIN_STOP)
            break;
        double t0 = now_s(), lr = 0, norm = 0;
        long ntok = 0;
        double loss = update(m, a, f, &tc, step, &rng, &lr, &norm, &ntok);
        if (!isfinite(loss))
            return err_set(err, "finetune update %ld: the loss is not finite (lower --lr?)",
                           step + 1);
        res->steps = step + 1;
        res->last_loss = loss;
        TrainEvent ev = {.kind = TRAIN_EV_STEP, .step = step + 1, .total_steps = o->steps,
                         .loss = loss, .bleu = -1, .lr = lr, .grad_norm = norm,
                         .arch = *a};
        double dt = now_s() - t0;
        ev.tok_per_s = dt > 0 ? (double)ntok / dt : 0.0;
        ev.eta_s = dt * (double)(o->steps - step - 1);
        emit(h, &ev);
    }
    return 0;
}

int finetune_run(Supernet *m, const Arch *a, const char *data_dir, const FinetuneOpts *o,
                 const TrainHooks *h, FinetuneResult *res, MosErr *err)
{
    memset(res, 0, sizeof *res);
    if (o->steps < 1)
        return err_set(err, "finetune: --steps must be >= 1");
    Ft f = {0};
    int rc = ft_open(&f, data_dir, m, &o->train, err);
    if (rc == 0 && o->from_scratch)
        rc = reinit(m, o->train.seed, err);
    if (rc == 0) {
        size_t n = supernet_nparams(m);
        memset(supernet_adam_m(m), 0, n * sizeof(float));
        memset(supernet_adam_v(m), 0, n * sizeof(float));
        res->valid_before = valid_nll(m, a, &f);
        rc = loop(m, a, &f, o, h, res, err);
    }
    if (rc == 0) {
        res->valid_after = valid_nll(m, a, &f);
        TrainEvent ev = {.kind = TRAIN_EV_VALID, .step = res->steps, .total_steps = o->steps,
                         .loss = res->valid_after, .bleu = -1, .group = GROUP_LARGEST,
                         .arch = *a};
        emit(h, &ev);
    }
    ft_close(&f);
    return rc;
}
