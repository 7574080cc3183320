/* Loss and BLEU of subnets with inherited weights (see eval.h). */
#include "eval.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "train.h"

int eval_open(EvalRun *r, const RunConfig *cfg, const char *run_dir, const char *ckpt_name,
              MosErr *err)
{
    memset(r, 0, sizeof *r);
    r->cfg = *cfg;
    snprintf(r->data_dir, sizeof r->data_dir, "%s/data", run_dir);
    if (data_manifest_load(r->data_dir, &r->man, err) < 0 ||
        train_resolve_data(&r->cfg, &r->man, err) < 0)
        return -1;
    char ckpt_dir[4200];
    snprintf(ckpt_dir, sizeof ckpt_dir, "%s/checkpoints", run_dir);
    if (!ckpt_exists(ckpt_dir, ckpt_name))
        return err_set(err, "%s/%s.safetensors: no checkpoint (run `mos train` first)",
                       ckpt_dir, ckpt_name);
    r->net = supernet_new(&r->cfg.model, r->cfg.train.max_tokens, r->cfg.train.seed, err);
    if (!r->net)
        return -1;
    CkptTensor *t = malloc(sizeof(CkptTensor) * (size_t)supernet_ntensors(r->net));
    ASSERT(t);
    CkptBlocks b;
    train_ckpt_blocks(r->net, t, 0, &b);
    int rc = ckpt_load(ckpt_dir, ckpt_name, &b, config_hash(&r->cfg), &r->meta, err);
    free(t);
    if (rc < 0)
        supernet_destroy(&r->net);
    return rc;
}

void eval_close(EvalRun *r)
{
    supernet_destroy(&r->net);
}

void eval_loss(Supernet *s, const Arch *a, Batcher *b, EvalLoss *out)
{
    memset(out, 0, sizeof *out);
    double nll = 0.0, loss = 0.0;
    for (int i = 0; i < b->nbatches; i++) {
        Batch x;
        batcher_get(b, i, &x);
        double n = 0.0;
        loss += supernet_step(s, a, &x, 0, NULL, &n);
        nll += n;
        out->ntokens += x.ntokens;
        out->pairs += x.B;
    }
    if (out->ntokens) {
        out->nll = nll / (double)out->ntokens;
        out->loss = loss / (double)out->ntokens;
    }
}

static char **refs_from_text(const char *path, const DataSplit *d, MosErr *err)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return err_set(err, "%s: cannot open (needed as BLEU references)", path), NULL;
    char **all = NULL, *line = NULL;
    size_t cap = 0;
    int n = 0, acap = 0;
    ssize_t len;
    while ((len = getline(&line, &cap, f)) >= 0) {
        if (n == acap) {
            acap = acap ? 2 * acap : 1024;
            all = realloc(all, sizeof(char *) * (size_t)acap);
            ASSERT(all);
        }
        line[strcspn(line, "\r\n")] = '\0';
        all[n++] = strdup(line);
    }
    free(line);
    fclose(f);
    char **refs = NULL;
    if (d->n > 0 && d->line[d->n - 1] >= n) {
        err_set(err, "%s: %d lines, fewer than the ids file", path, n);
    } else {
        refs = malloc(sizeof(char *) * (size_t)(d->n + 1));
        ASSERT(refs);
        for (int i = 0; i < d->n; i++)
            refs[i] = strdup(all[d->line[i]]);
    }
    eval_free_refs(all, n);
    return refs;
}

char **eval_load_refs(const char *data_dir, const char *split, const DataSplit *d,
                      const Detok *dt, MosErr *err)
{
    if (dt->spm) {
        char path[4200];
        snprintf(path, sizeof path, "%s/%s.de", data_dir, split);
        return refs_from_text(path, d, err);
    }
    char **refs = malloc(sizeof(char *) * (size_t)(d->n + 1));
    ASSERT(refs);
    for (int i = 0; i < d->n; i++)
        refs[i] = detok_decode(dt, d->tokens + d->tgt_off[i], d->tgt_len[i]);
    return refs;
}

void eval_free_refs(char **refs, int n)
{
    for (int i = 0; refs && i < n; i++)
        free(refs[i]);
    free(refs);
}

BleuScore eval_bleu(Supernet *s, const Arch *a, const DataSplit *d, const Detok *dt,
                    char *const *refs, const DecodeOpts *o, int max_sentences, EvalHypFn on_hyp,
                    void *ctx)
{
    int n = max_sentences > 0 && max_sentences < d->n ? max_sentences : d->n;
    int max_out = supernet_config(s)->max_positions;
    int *out = malloc(sizeof(int) * (size_t)max_out);
    ASSERT(out);
    BleuStats st = {0};
    for (int i = 0; i < n; i++) {
        int len = supernet_decode(s, a, d->tokens + d->src_off[i], d->src_len[i], o, out,
                                  max_out);
        char *hyp = detok_decode(dt, out, len);
        bleu_add(&st, hyp, refs[i]);
        if (on_hyp)
            on_hyp(ctx, i, hyp);
        free(hyp);
    }
    free(out);
    return bleu_score(&st);
}
