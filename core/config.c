/* The one table of run options (YAML key, type, default, range, help) and everything driven by
 * it: defaults, YAML reading (libyaml), validation, the YAML dump, the weight-defining hash and
 * the key reference. HAT's keys are spelled as HAT spells them so its files read unchanged.
 * Not here: command-line flags of individual commands (worker/cmd_*.c). Invariant: every field
 * a run depends on is reachable from the table, and a dump reads back to the same config. */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

typedef enum ConfigType {
    CT_INT, CT_U64, CT_FLOAT, CT_BOOL, CT_CHOICES, CT_ENUM, CT_PAIR, CT_IGNORED, CONFIG_TYPE_COUNT
} ConfigType;

enum { CF_MODEL = 1, CF_GT0 = 2, CF_LR = 4 };

typedef struct ConfigOption {
    const char *key;            /* YAML key (HAT spelling where HAT has one) */
    const char *alias;          /* accepted too, or NULL */
    ConfigType type;
    size_t off;                 /* into RunConfig (unused for CT_IGNORED) */
    const char *def;            /* default as YAML scalar text; lists comma-separated */
    double lo, hi;              /* inclusive range of numbers (every list item) */
    const char *const *names;   /* CT_ENUM value names, NULL-terminated */
    int flags;
    const char *help;
} ConfigOption;

static const char *const mos_names[] = {"none", "layer", "neuron", NULL};
static const char *const sample_names[] = {"uniform", "sandwich", NULL};
static const char *const router_input_names[] = {"raw", "centred", NULL};
static const char *const search_algo_names[] = {"evo", "nsga2", NULL};
static const char *const latency_clock_names[] = {"wall", "cpu", NULL};

#define M(f) offsetof(RunConfig, model.f)
#define S(f) offsetof(RunConfig, model.space.f)
#define T(f) offsetof(RunConfig, train.f)
#define G(f) offsetof(RunConfig, stages.f)
#define DIM 1, 65536

static const ConfigOption options[] = {
    /* supernet maxima (HAT) */
    {"encoder-embed-dim", NULL, CT_INT, S(enc_embed_max), "256", DIM, NULL, CF_MODEL,
     "encoder embed dim of the supernet (largest)"},
    {"decoder-embed-dim", NULL, CT_INT, S(dec_embed_max), "256", DIM, NULL, CF_MODEL,
     "decoder embed dim of the supernet (largest)"},
    {"encoder-ffn-embed-dim", NULL, CT_INT, S(enc_ffn_max), "1024", DIM, NULL, CF_MODEL,
     "encoder FFN hidden dim of the supernet"},
    {"decoder-ffn-embed-dim", NULL, CT_INT, S(dec_ffn_max), "1024", DIM, NULL, CF_MODEL,
     "decoder FFN hidden dim of the supernet"},
    {"encoder-layers", NULL, CT_INT, S(enc_layers_max), "4", 1, ARCH_MAX_LAYERS, NULL, CF_MODEL,
     "encoder layers of the supernet"},
    {"decoder-layers", NULL, CT_INT, S(dec_layers_max), "4", 1, ARCH_MAX_LAYERS, NULL, CF_MODEL,
     "decoder layers of the supernet"},
    {"encoder-attention-heads", NULL, CT_INT, S(enc_heads_max), "4", 1, 256, NULL, CF_MODEL,
     "encoder attention heads of the supernet"},
    {"decoder-attention-heads", NULL, CT_INT, S(dec_heads_max), "4", 1, 256, NULL, CF_MODEL,
     "decoder attention heads of the supernet"},
    {"qkv-dim", NULL, CT_INT, S(qkv_dim), "256", DIM, NULL, CF_MODEL,
     "query/key/value dim of every attention (fixed; heads set the head size)"},
    /* search space (HAT) */
    {"encoder-embed-choice", NULL, CT_CHOICES, S(enc_embed), "256, 192", DIM, NULL, 0,
     "encoder embed dims a subnet may use"},
    {"decoder-embed-choice", NULL, CT_CHOICES, S(dec_embed), "256, 192", DIM, NULL, 0,
     "decoder embed dims a subnet may use"},
    {"encoder-ffn-embed-dim-choice", NULL, CT_CHOICES, S(enc_ffn), "1024, 768, 512", DIM, NULL,
     0, "FFN dims per encoder layer"},
    {"decoder-ffn-embed-dim-choice", NULL, CT_CHOICES, S(dec_ffn), "1024, 768, 512", DIM, NULL,
     0, "FFN dims per decoder layer"},
    {"encoder-layer-num-choice", NULL, CT_CHOICES, S(enc_layers), "4", 1, ARCH_MAX_LAYERS, NULL,
     0, "encoder depths"},
    {"decoder-layer-num-choice", NULL, CT_CHOICES, S(dec_layers), "4, 3, 2, 1", 1,
     ARCH_MAX_LAYERS, NULL, 0, "decoder depths"},
    {"encoder-self-attention-heads-choice", NULL, CT_CHOICES, S(enc_heads), "4, 2", 1, 256, NULL,
     0, "self-attention heads per encoder layer"},
    {"decoder-self-attention-heads-choice", NULL, CT_CHOICES, S(dec_self_heads), "4, 2", 1, 256,
     NULL, 0, "self-attention heads per decoder layer"},
    {"decoder-ende-attention-heads-choice", NULL, CT_CHOICES, S(dec_ende_heads), "4, 2", 1, 256,
     NULL, 0, "encoder-decoder attention heads per decoder layer"},
    {"decoder-arbitrary-ende-attn-choice", NULL, CT_CHOICES, S(dec_arbitrary), "-1, 1, 2", -1, 2,
     NULL, 0, "encoder layers a decoder layer attends to: -1 last, 1 last two, 2 last three"},
    /* model */
    {"vocab-size", NULL, CT_INT, M(vocab), "0", 0, 1 << 24, NULL, CF_MODEL,
     "shared vocabulary size; 0: from data/manifest.json"},
    {"max-positions", "max-source-positions", CT_INT, M(max_positions), "256", 8, 1 << 16, NULL,
     CF_MODEL, "longest sentence (tokens incl. <eos>); longer training pairs are skipped"},
    {"pre-ln", "encoder-normalize-before", CT_BOOL, M(pre_ln), "true", 0, 1, NULL, CF_MODEL,
     "pre-LayerNorm (trains faster in a short budget); false: HAT's post-LayerNorm"},
    {"dropout", NULL, CT_FLOAT, M(dropout), "0", 0, 0.9, NULL, 0,
     "dropout at the largest embed dim (a subnet uses dropout * d / d_max, as HAT)"},
    {"attention-dropout", NULL, CT_FLOAT, M(attn_dropout), "0", 0, 0.9, NULL, 0,
     "dropout on attention probabilities"},
    {"label-smoothing", NULL, CT_FLOAT, M(label_smoothing), "0.1", 0, 0.99, NULL, 0,
     "label smoothing epsilon of the cross-entropy"},
    /* Mixture-of-Supernets */
    {"mos", NULL, CT_ENUM, M(mos), "none", 0, 0, mos_names, CF_MODEL,
     "Mixture-of-Supernets on the FFNs: none (HAT), layer or neuron"},
    {"mos-experts", NULL, CT_INT, M(mos_experts), "2", 1, 16, NULL, CF_MODEL,
     "experts per FFN weight (1 when mos is none)"},
    {"router-hidden", NULL, CT_INT, M(router_hidden), "128", 1, 4096, NULL, CF_MODEL,
     "hidden size of the router MLP"},
    {"router-const-input", NULL, CT_BOOL, M(router_const_input), "false", 0, 1, NULL, 0,
     "feed the router a constant instead of the arch encoding (ablation)"},
    {"router-input", NULL, CT_ENUM, M(router_input), "centred", 0, 0, router_input_names,
     0, "router input: centred (each feature mapped to [-1, 1] over the space's choices; 0 when "
     "it has one choice) or raw (the MoS reference: each feature / the space's max)"},
    {"router-lr-scale", NULL, CT_FLOAT, M(router_lr_scale), "3", 0, 1000, NULL,
     CF_GT0, "router learning-rate multiplier k: the router computes with k times its stored "
     "parameters (Adam: LR * k; checkpoints store weights / k; the MoS reference: 1)"},
    {"router-init-scale", NULL, CT_FLOAT, M(router_init_scale), "1", 0, 1000, NULL, CF_GT0,
     "multiplies the init range of the router's last layer (larger: gates start less uniform)"},
    /* training (HAT / fairseq names) */
    {"max-tokens", NULL, CT_INT, T(max_tokens), "2048", 16, 1 << 22, NULL, 0,
     "tokens per batch incl. padding (the larger of source and target side)"},
    {"update-freq", NULL, CT_INT, T(update_freq), "1", 1, 1024, NULL, 0,
     "batches accumulated per update"},
    {"max-update", NULL, CT_INT, T(max_update), "1200", 1, 100000000, NULL, 0,
     "total updates"},
    {"warmup-updates", NULL, CT_INT, T(warmup_updates), "100", 0, 100000000, NULL, 0,
     "updates of linear warmup from warmup-init-lr to max-lr"},
    {"max-lr", NULL, CT_FLOAT, T(lr), "0.002", 0, 10, NULL, CF_GT0,
     "peak learning rate (end of warmup)"},
    {"lr", NULL, CT_FLOAT, T(min_lr), "1e-7", 0, 10, NULL, CF_GT0 | CF_LR,
     "with max-lr (HAT): the LR the cosine ends at; without max-lr: the peak LR"},
    {"warmup-init-lr", NULL, CT_FLOAT, T(warmup_init_lr), "1e-7", 0, 10, NULL, 0,
     "learning rate at update 0"},
    {"adam-betas", NULL, CT_PAIR, T(adam_beta1), "0.9, 0.98", 0, 0.999999, NULL, 0,
     "Adam betas, e.g. (0.9, 0.98)"},
    {"adam-eps", NULL, CT_FLOAT, T(adam_eps), "1e-8", 0, 1, NULL, CF_GT0, "Adam epsilon"},
    {"clip-norm", NULL, CT_FLOAT, T(clip_norm), "0", 0, 1e9, NULL, 0,
     "clip the global gradient norm to this (0: no clipping)"},
    {"sample", "sandwich-rule", CT_ENUM, T(sample), "uniform", 0, 0, sample_names, 0,
     "subnets per update: uniform (one, HAT) or sandwich (largest + smallest + random); "
     "MoS's sandwich-rule: 0/1 reads too"},
    {"valid-every", NULL, CT_INT, T(valid_every), "200", 1, 100000000, NULL, 0,
     "updates between validations (largest, smallest, random subnet)"},
    {"save-every", NULL, CT_INT, T(save_every), "200", 1, 100000000, NULL, 0,
     "updates between checkpoints"},
    {"valid-sentences", NULL, CT_INT, T(valid_sentences), "300", 0, 100000000, NULL, 0,
     "validation subset used during training (0: the whole valid split)"},
    {"valid-bleu", NULL, CT_INT, T(valid_bleu), "100", 0, 100000000, NULL, 0,
     "valid sentences translated (greedy) for BLEU at each validation (0: no BLEU)"},
    {"seed", NULL, CT_U64, T(seed), "1", 0, 0, NULL, 0, "random seed (init, sampling, data order)"},
    {"threads", NULL, CT_INT, T(threads), "2", 1, 256, NULL, 0,
     "compute threads (mos splits each kernel over them; OpenBLAS runs 1 thread per part)"},
    /* stages after training (worker pipeline; `mos latency` / `mos search` options override) */
    {"latency-archs", NULL, CT_INT, G(latency_archs), "340", 10, 1000000, NULL, 0,
     "architectures measured into latency.csv (HAT 2000)"},
    {"latency-verify", NULL, CT_INT, G(latency_verify), "40", 0, 1000000, NULL, 0,
     "fresh architectures measured twice to check the predictor (0: no check)"},
    {"latency-runs", NULL, CT_INT, G(latency_runs), "10", 1, 100000, NULL, 0,
     "timed runs per part; 10 % dropped at each end (HAT 20)"},
    {"latency-warmup", NULL, CT_INT, G(latency_warmup), "2", 0, 100000, NULL, 0,
     "untimed runs per part (HAT 5)"},
    {"latency-beam", NULL, CT_INT, G(latency_beam), "5", 1, 64, NULL, 0,
     "beam hypotheses in the timed decoder batch (HAT 5)"},
    {"latency-fit-steps", NULL, CT_INT, G(latency_fit_steps), "5000", 1, 10000000, NULL, 0,
     "Adam steps of the latency predictor fit (HAT 5000)"},
    {"latency-rounds", NULL, CT_INT, G(latency_rounds), "5", 1, 100000, NULL, 0,
     "rounds the timed runs are split over; the trimmed mean pools all rounds' runs (HAT 1)"},
    {"latency-block", NULL, CT_INT, G(latency_block), "20", 1, 100000, NULL, 0,
     "architectures measured together, interleaved round by round (HAT 1)"},
    {"latency-clock", NULL, CT_ENUM, G(latency_clock), "cpu", 0, 0, latency_clock_names, 0,
     "wall (HAT) or cpu: the measuring thread's CPU time, for a shared machine (1 thread)"},
    {"latency-reference", NULL, CT_BOOL, G(latency_reference), "true", 0, 1, NULL, 0,
     "time a fixed mid-size arch in every round and scale rows to its first timing (HAT false)"},
    {"search-algo", NULL, CT_ENUM, G(search_algo), "nsga2", 0, 0, search_algo_names, 0,
     "evo (HAT's constrained evolution) or nsga2 (the whole Pareto front)"},
    {"search-iterations", NULL, CT_INT, G(search_iterations), "10", 0, 100000, NULL, 0,
     "generations after the initial population (HAT 30)"},
    {"search-population", NULL, CT_INT, G(search_population), "40", 2, 100000, NULL, 0,
     "population (evo: parents + mutations + crossovers; HAT 125)"},
    {"search-parents", NULL, CT_INT, G(search_parents), "8", 1, 100000, NULL, 0,
     "parents kept per generation (evo; HAT 25)"},
    {"search-mutations", NULL, CT_INT, G(search_mutations), "16", 0, 100000, NULL, 0,
     "mutants per generation (NSGA-II: their share; HAT 50)"},
    {"search-crossovers", NULL, CT_INT, G(search_crossovers), "16", 0, 100000, NULL, 0,
     "crossovers per generation (NSGA-II: their share; HAT 50)"},
    {"search-target-ms", NULL, CT_FLOAT, G(search_target_ms), "0", 0, 1e9, NULL, 0,
     "latency limit on predicted latency in ms (0: none; the worker's target command changes it)"},
    {"search-valid-sentences", NULL, CT_INT, G(search_valid_sentences), "300", 0, 100000000, NULL,
     0, "fixed validation subset for the search fitness (0: the whole valid split)"},
    {"search-measure", NULL, CT_INT, G(search_measure), "5", 0, 1000, NULL, 0,
     "front points whose latency is measured after the search (0: none)"},
    /* HAT/fairseq keys that mos reads and ignores (their meaning is fixed in mos) */
    {"arch", NULL, CT_IGNORED, 0, NULL, 0, 0, NULL, 0, "fairseq model name"},
    {"share-all-embeddings", NULL, CT_IGNORED, 0, NULL, 0, 0, NULL, 0, "always shared in mos"},
    {"data", NULL, CT_IGNORED, 0, NULL, 0, 0, NULL, 0, "mos reads the run directory's data/"},
    {"optimizer", NULL, CT_IGNORED, 0, NULL, 0, 0, NULL, 0, "always Adam"},
    {"weight-decay", NULL, CT_IGNORED, 0, NULL, 0, 0, NULL, 0, "always 0"},
    {"criterion", NULL, CT_IGNORED, 0, NULL, 0, 0, NULL, 0, "always label-smoothed CE"},
    {"lr-scheduler", NULL, CT_IGNORED, 0, NULL, 0, 0, NULL, 0, "always warmup + cosine"},
    {"lr-shrink", NULL, CT_IGNORED, 0, NULL, 0, 0, NULL, 0, "one cosine period"},
    {"ddp-backend", NULL, CT_IGNORED, 0, NULL, 0, 0, NULL, 0, "no DDP"},
    {"fp16", NULL, CT_IGNORED, 0, NULL, 0, 0, NULL, 0, "training is fp32"},
    {"keep-last-epochs", NULL, CT_IGNORED, 0, NULL, 0, 0, NULL, 0, "mos keeps last + prev"},
    {"save-interval", NULL, CT_IGNORED, 0, NULL, 0, 0, NULL, 0, "epochs; mos uses save-every"},
    {"validate-interval", NULL, CT_IGNORED, 0, NULL, 0, 0, NULL, 0,
     "epochs; mos uses valid-every"},
};
#define N_OPTIONS (int)(sizeof options / sizeof options[0])

static const char *type_names[CONFIG_TYPE_COUNT] = {
    [CT_INT] = "integer", [CT_U64] = "integer", [CT_FLOAT] = "number", [CT_BOOL] = "bool",
    [CT_CHOICES] = "list", [CT_ENUM] = "name", [CT_PAIR] = "pair", [CT_IGNORED] = "ignored",
};

const char *config_mos_name(MosKind k)
{
    return k >= 0 && k < MOS_KIND_COUNT ? mos_names[k] : "?";
}

const char *config_search_algo_name(StageSearchAlgo a)
{
    return a >= 0 && a < STAGE_SEARCH_ALGO_COUNT ? search_algo_names[a] : "?";
}

const char *config_router_input_name(RouterInput r)
{
    return r >= 0 && r < ROUTER_INPUT_COUNT ? router_input_names[r] : "?";
}

const char *config_sample_name(SampleRule r)
{
    return r >= 0 && r < SAMPLE_RULE_COUNT ? sample_names[r] : "?";
}

/* ---- value parsing -------------------------------------------------------------------------- */

typedef struct Where {
    const char *file;
    int line;
    const char *key;
} Where;

static int where_err(MosErr *err, const Where *w, const char *what)
{
    if (w->line > 0)
        return err_set(err, "%s:%d: %s: %s", w->file, w->line, w->key, what);
    return err_set(err, "%s: %s: %s", w->file, w->key, what);
}

static void warn(ConfigWarnings *w, const Where *at, const char *what)
{
    if (!w)
        return;
    if (w->n < CONFIG_MAX_WARNINGS)
        snprintf(w->msg[w->n], MOS_ERR_LEN, "%s:%d: %s: %s", at->file, at->line, at->key, what);
    w->n++;
}

static int range_msg(const ConfigOption *o, char *buf, size_t n)
{
    const char *t = o->type == CT_FLOAT || o->type == CT_PAIR ? "a number" : "an integer";
    if (o->type == CT_CHOICES)
        t = "a list of integers";
    if (o->flags & CF_GT0)
        return snprintf(buf, n, "expected %s > 0", t);
    return snprintf(buf, n, "expected %s in [%g, %g]", t, o->lo, o->hi);
}

static int parse_number(const ConfigOption *o, const char *s, double *out)
{
    char *end;
    errno = 0;
    int integer = o->type != CT_FLOAT && o->type != CT_PAIR;
    double v = integer ? (double)strtoll(s, &end, 10) : strtod(s, &end);
    if (*s == '\0' || *end != '\0' || errno || !isfinite(v))
        return -1;
    if ((o->flags & CF_GT0) ? !(v > 0) || v > o->hi : (v < o->lo || v > o->hi))
        return -1;
    *out = v;
    return 0;
}

static int parse_bool(const char *s, int *out)
{
    static const char *const t[] = {"true", "True", "TRUE", "yes", "Yes", "on", "1"};
    static const char *const f[] = {"false", "False", "FALSE", "no", "No", "off", "0"};
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        if (strcmp(s, t[i]) == 0)
            return *out = 1, 0;
        if (strcmp(s, f[i]) == 0)
            return *out = 0, 0;
    }
    return -1;
}

static int set_enum(const ConfigOption *o, int *out, char **items, int n, const Where *w,
                    MosErr *err)
{
    char msg[160];
    for (int k = 0; n == 1 && o->names[k]; k++) {
        char idx[16];
        snprintf(idx, sizeof idx, "%d", k);   /* MoS writes sandwich-rule: 1 */
        if (strcmp(items[0], o->names[k]) == 0 || strcmp(items[0], idx) == 0)
            return *out = k, 0;
    }
    snprintf(msg, sizeof msg, "expected one of %s", o->names[0]);
    for (int k = 1; o->names[k]; k++)
        snprintf(msg + strlen(msg), sizeof msg - strlen(msg), "%s%s",
                 o->names[k + 1] ? ", " : " or ", o->names[k]);
    return where_err(err, w, msg);
}

static int set_choices(const ConfigOption *o, Choices *ch, char **items, int n, const Where *w,
                       MosErr *err)
{
    char msg[160];
    double v;
    if (n < 1 || n > ARCH_MAX_CHOICES) {
        snprintf(msg, sizeof msg, "expected 1 to %d values, got %d", ARCH_MAX_CHOICES, n);
        return where_err(err, w, msg);
    }
    for (int i = 0; i < n; i++) {
        if (parse_number(o, items[i], &v) < 0) {
            range_msg(o, msg, sizeof msg);
            snprintf(msg + strlen(msg), sizeof msg - strlen(msg), ", got '%s'", items[i]);
            return where_err(err, w, msg);
        }
        ch->v[i] = (int)v;
        for (int j = 0; j < i; j++)
            if (ch->v[j] == ch->v[i])
                return where_err(err, w, "a value is listed twice");
    }
    ch->n = n;
    return 0;
}

static int set_u64(unsigned long long *out, char **items, int n, const Where *w, MosErr *err)
{
    char *end;
    errno = 0;
    unsigned long long u = n == 1 ? strtoull(items[0], &end, 10) : 0;
    if (n != 1 || items[0][0] == '\0' || items[0][0] == '-' || *end || errno)
        return where_err(err, w, "expected a non-negative integer");
    *out = u;
    return 0;
}

/* Sets option o in c from n scalar items (a YAML sequence, a "(a, b)" tuple or one scalar). */
static int option_set(const ConfigOption *o, RunConfig *c, char **items, int n, const Where *w,
                      MosErr *err)
{
    char *base = (char *)c + o->off, msg[160];
    double v, v2;
    switch (o->type) {
    case CT_INT:
    case CT_FLOAT:
        if (n != 1 || parse_number(o, items[0], &v) < 0)
            return range_msg(o, msg, sizeof msg), where_err(err, w, msg);
        if (o->type == CT_INT)
            *(int *)base = (int)v;
        else
            *(float *)base = (float)v;
        return 0;
    case CT_U64:
        return set_u64((unsigned long long *)base, items, n, w, err);
    case CT_BOOL:
        if (n != 1 || parse_bool(items[0], (int *)base) < 0)
            return where_err(err, w, "expected true or false");
        return 0;
    case CT_ENUM:
        return set_enum(o, (int *)base, items, n, w, err);
    case CT_CHOICES:
        return set_choices(o, (Choices *)base, items, n, w, err);
    case CT_PAIR:
        if (n != 2 || parse_number(o, items[0], &v) < 0 || parse_number(o, items[1], &v2) < 0)
            return where_err(err, w, "expected two numbers in [0, 1), e.g. (0.9, 0.98)");
        ((float *)base)[0] = (float)v;
        ((float *)base)[1] = (float)v2;
        return 0;
    case CT_IGNORED:
    case CONFIG_TYPE_COUNT:
        break;
    }
    return 0;
}

/* Splits "a, b, c" or "(a, b)" / "[a, b]" into trimmed items, in place. */
static int split_items(char *s, char **items, int max)
{
    size_t len = strlen(s);
    if (len >= 2 && ((s[0] == '(' && s[len - 1] == ')') || (s[0] == '[' && s[len - 1] == ']'))) {
        s[len - 1] = '\0';
        s++;
    }
    int n = 0;
    for (char *tok = strtok(s, ","); tok && n < max; tok = strtok(NULL, ",")) {
        while (*tok == ' ' || *tok == '\t')
            tok++;
        char *e = tok + strlen(tok);
        while (e > tok && (e[-1] == ' ' || e[-1] == '\t'))
            *--e = '\0';
        items[n++] = tok;
    }
    return n;
}

static int option_set_text(const ConfigOption *o, RunConfig *c, const char *text,
                           const Where *w, MosErr *err)
{
    char buf[256], *items[ARCH_MAX_CHOICES + 1];
    snprintf(buf, sizeof buf, "%s", text);
    int n = o->type == CT_CHOICES || o->type == CT_PAIR
                ? split_items(buf, items, ARCH_MAX_CHOICES + 1) : (items[0] = buf, 1);
    return option_set(o, c, items, n, w, err);
}

void config_defaults(RunConfig *c)
{
    memset(c, 0, sizeof *c);
    for (int i = 0; i < N_OPTIONS; i++) {
        if (options[i].type == CT_IGNORED)
            continue;
        Where w = {"defaults", 0, options[i].key};
        MosErr err;
        int rc = option_set_text(&options[i], c, options[i].def, &w, &err);
        ASSERT(rc == 0);
    }
    c->model.pad_id = 0;
    c->model.unk_id = 1;
    c->model.bos_id = 2;
    c->model.eos_id = 3;
    int rc = config_check(c, NULL);
    ASSERT(rc == 0);
}

/* ---- YAML reading --------------------------------------------------------------------------- */

static const ConfigOption *option_find(const char *key, int *index)
{
    char norm[128];
    snprintf(norm, sizeof norm, "%s", key);
    for (char *p = norm; *p; p++)
        if (*p == '_')
            *p = '-';
    for (int i = 0; i < N_OPTIONS; i++)
        if (strcmp(norm, options[i].key) == 0 ||
            (options[i].alias && strcmp(norm, options[i].alias) == 0))
            return *index = i, &options[i];
    return NULL;
}

typedef struct ParseState {
    yaml_document_t *doc;
    RunConfig *c;
    ConfigWarnings *warn;
    const char *file;
    int given_line[N_OPTIONS];   /* line where each option was set, 0: not given */
} ParseState;

static int set_from_node(ParseState *ps, const ConfigOption *o, yaml_node_t *v, const Where *w,
                         MosErr *err)
{
    char *items[ARCH_MAX_CHOICES + 1];
    char buf[256];
    int n = 0;
    if (v->type == YAML_SCALAR_NODE) {
        snprintf(buf, sizeof buf, "%s", (const char *)v->data.scalar.value);
        if (o->type == CT_CHOICES || o->type == CT_PAIR)
            n = split_items(buf, items, ARCH_MAX_CHOICES + 1);
        else
            items[n++] = buf;
    } else if (v->type == YAML_SEQUENCE_NODE) {
        /* lr is a list in fairseq (one value per LR phase); one value is accepted. */
        for (yaml_node_item_t *it = v->data.sequence.items.start;
             it < v->data.sequence.items.top; it++) {
            yaml_node_t *x = yaml_document_get_node(ps->doc, *it);
            if (!x || x->type != YAML_SCALAR_NODE)
                return where_err(err, w, "expected a list of plain values");
            if (n == ARCH_MAX_CHOICES + 1)
                break;
            items[n++] = (char *)x->data.scalar.value;
        }
        if (o->type != CT_CHOICES && o->type != CT_PAIR && n != 1)
            return where_err(err, w, "expected one value, got a list");
    } else {
        return where_err(err, w, "expected a value, got a mapping");
    }
    return option_set(o, ps->c, items, n, w, err);
}

static int parse_mapping(ParseState *ps, yaml_node_t *map, int depth, MosErr *err)
{
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top;
         p++) {
        yaml_node_t *k = yaml_document_get_node(ps->doc, p->key);
        yaml_node_t *v = yaml_document_get_node(ps->doc, p->value);
        int line = k ? (int)k->start_mark.line + 1 : 0;
        if (!k || k->type != YAML_SCALAR_NODE)
            return err_set(err, "%s:%d: expected a key", ps->file, line);
        Where w = {ps->file, line, (const char *)k->data.scalar.value};
        if (v->type == YAML_MAPPING_NODE && depth < 4) {
            if (parse_mapping(ps, v, depth + 1, err) < 0)
                return -1;
            continue;
        }
        int i;
        const ConfigOption *o = option_find(w.key, &i);
        if (!o) {
            warn(ps->warn, &w, "unknown key, ignored");
            continue;
        }
        if (ps->given_line[i]) {
            char msg[96];
            snprintf(msg, sizeof msg, "given twice (first at line %d)", ps->given_line[i]);
            return where_err(err, &w, msg);
        }
        ps->given_line[i] = line;
        if (o->type == CT_IGNORED) {
            char msg[200];
            snprintf(msg, sizeof msg, "HAT/fairseq key ignored by mos (%s)", o->help);
            warn(ps->warn, &w, msg);
            continue;
        }
        if (set_from_node(ps, o, v, &w, err) < 0)
            return -1;
    }
    return 0;
}

/* fairseq's cosine schedule reads `lr` as its floor when `max-lr` is given (HAT's files);
 * a file with `lr` alone means the peak, as users of other trainers expect. */
static void resolve_lr(ParseState *ps, float min_lr_before)
{
    int i_lr = -1, i_max = -1;
    option_find("lr", &i_lr);
    option_find("max-lr", &i_max);
    if (ps->given_line[i_lr] && !ps->given_line[i_max]) {
        ps->c->train.lr = ps->c->train.min_lr;
        ps->c->train.min_lr = min_lr_before;
    }
    /* mos-experts is 1 while mos is none; switching MoS on alone gets the table's default. */
    int i_mos = -1, i_m = -1;
    option_find("mos", &i_mos);
    const ConfigOption *om = option_find("mos-experts", &i_m);
    if (ps->given_line[i_mos] && !ps->given_line[i_m] && ps->c->model.mos != MOS_NONE &&
        ps->c->model.mos_experts < 2)
        ps->c->model.mos_experts = atoi(om->def);
}

int config_parse(const char *text, size_t len, const char *name, RunConfig *c,
                 ConfigWarnings *w, MosErr *err)
{
    yaml_parser_t parser;
    yaml_document_t doc;
    if (!yaml_parser_initialize(&parser))
        return err_set(err, "%s: cannot initialise the YAML parser", name);
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
    if (!yaml_parser_load(&parser, &doc)) {
        err_set(err, "%s:%d: %s", name, (int)parser.problem_mark.line + 1,
                parser.problem ? parser.problem : "invalid YAML");
        yaml_parser_delete(&parser);
        return -1;
    }
    ParseState ps = {.doc = &doc, .c = c, .warn = w, .file = name};
    float min_lr_before = c->train.min_lr;
    yaml_node_t *root = yaml_document_get_root_node(&doc);
    int rc = 0;
    if (root && root->type == YAML_MAPPING_NODE)
        rc = parse_mapping(&ps, root, 0, err);
    else if (root && !(root->type == YAML_SCALAR_NODE && root->data.scalar.length == 0))
        rc = err_set(err, "%s:1: expected a mapping of keys to values", name);
    yaml_document_delete(&doc);
    yaml_parser_delete(&parser);
    if (rc < 0)
        return -1;
    resolve_lr(&ps, min_lr_before);
    if (config_check(c, err) < 0) {
        err_prefix(err, "%s", name);
        return -1;
    }
    return 0;
}

int config_load(const char *path, RunConfig *c, ConfigWarnings *w, MosErr *err)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return err_set(err, "%s: %s", path, strerror(errno));
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    ASSERT(buf);
    size_t got;
    while ((got = fread(buf + n, 1, cap - n, f)) > 0) {
        n += got;
        if (n == cap) {
            cap *= 2;
            buf = realloc(buf, cap);
            ASSERT(buf);
        }
    }
    int bad = ferror(f);
    fclose(f);
    int rc = bad ? err_set(err, "%s: read error", path) : config_parse(buf, n, path, c, w, err);
    free(buf);
    return rc;
}

/* ---- cross-key checks ----------------------------------------------------------------------- */

static int check_choices(const Choices *ch, int max, const char *key, const char *max_key,
                         MosErr *err)
{
    for (int i = 0; i < ch->n; i++)
        if (ch->v[i] > max)
            return err_set(err, "%s: %d exceeds %s (%d)", key, ch->v[i], max_key, max);
    return 0;
}

static int check_heads(const Choices *ch, int qkv, const char *key, MosErr *err)
{
    for (int i = 0; i < ch->n; i++)
        if (qkv % ch->v[i] != 0)
            return err_set(err, "%s: %d heads do not divide qkv-dim (%d)", key, ch->v[i], qkv);
    return 0;
}

int config_check(RunConfig *c, MosErr *err)
{
    const SearchSpace *s = &c->model.space;
    const TrainConfig *t = &c->train;
    if (check_choices(&s->enc_embed, s->enc_embed_max, "encoder-embed-choice",
                      "encoder-embed-dim", err) < 0 ||
        check_choices(&s->dec_embed, s->dec_embed_max, "decoder-embed-choice",
                      "decoder-embed-dim", err) < 0 ||
        check_choices(&s->enc_ffn, s->enc_ffn_max, "encoder-ffn-embed-dim-choice",
                      "encoder-ffn-embed-dim", err) < 0 ||
        check_choices(&s->dec_ffn, s->dec_ffn_max, "decoder-ffn-embed-dim-choice",
                      "decoder-ffn-embed-dim", err) < 0 ||
        check_choices(&s->enc_layers, s->enc_layers_max, "encoder-layer-num-choice",
                      "encoder-layers", err) < 0 ||
        check_choices(&s->dec_layers, s->dec_layers_max, "decoder-layer-num-choice",
                      "decoder-layers", err) < 0 ||
        check_choices(&s->enc_heads, s->enc_heads_max, "encoder-self-attention-heads-choice",
                      "encoder-attention-heads", err) < 0 ||
        check_choices(&s->dec_self_heads, s->dec_heads_max,
                      "decoder-self-attention-heads-choice", "decoder-attention-heads", err) < 0 ||
        check_choices(&s->dec_ende_heads, s->dec_heads_max,
                      "decoder-ende-attention-heads-choice", "decoder-attention-heads", err) < 0)
        return -1;
    if (check_heads(&s->enc_heads, s->qkv_dim, "encoder-self-attention-heads-choice", err) < 0 ||
        check_heads(&s->dec_self_heads, s->qkv_dim, "decoder-self-attention-heads-choice",
                    err) < 0 ||
        check_heads(&s->dec_ende_heads, s->qkv_dim, "decoder-ende-attention-heads-choice",
                    err) < 0)
        return -1;
    for (int i = 0; i < s->dec_arbitrary.n; i++)
        if (s->dec_arbitrary.v[i] == 0)
            return err_set(err, "decoder-arbitrary-ende-attn-choice: 0 is not a code "
                                "(-1: last layer, 1: last two, 2: last three)");
    if (t->warmup_updates >= t->max_update)
        return err_set(err, "warmup-updates: %d must be below max-update (%d)",
                       t->warmup_updates, t->max_update);
    if (!(t->min_lr < t->lr) || !(t->warmup_init_lr <= t->lr))
        return err_set(err, "max-lr: %g must exceed lr (%g, the cosine's end) and "
                            "warmup-init-lr (%g)", t->lr, t->min_lr, t->warmup_init_lr);
    if (c->model.mos == MOS_NONE)
        c->model.mos_experts = 1;
    return 0;
}

/* ---- dump, hash, key reference -------------------------------------------------------------- */

/* Writes option o's value of c as YAML scalar text. */
static void option_value(const ConfigOption *o, const RunConfig *c, char *buf, size_t n)
{
    const char *base = (const char *)c + o->off;
    switch (o->type) {
    case CT_INT:
        snprintf(buf, n, "%d", *(const int *)base);
        break;
    case CT_U64:
        snprintf(buf, n, "%llu", *(const unsigned long long *)base);
        break;
    case CT_FLOAT:
        snprintf(buf, n, "%.9g", (double)*(const float *)base);
        break;
    case CT_BOOL:
        snprintf(buf, n, "%s", *(const int *)base ? "true" : "false");
        break;
    case CT_ENUM:
        snprintf(buf, n, "%s", o->names[*(const int *)base]);
        break;
    case CT_PAIR:
        snprintf(buf, n, "(%.9g, %.9g)", (double)((const float *)base)[0],
                 (double)((const float *)base)[1]);
        break;
    case CT_CHOICES: {
        const Choices *ch = (const Choices *)base;
        size_t len = (size_t)snprintf(buf, n, "[");
        for (int i = 0; i < ch->n && len < n; i++)
            len += (size_t)snprintf(buf + len, n - len, "%s%d", i ? ", " : "", ch->v[i]);
        if (len < n)
            snprintf(buf + len, n - len, "]");
        break;
    }
    case CT_IGNORED:
    case CONFIG_TYPE_COUNT:
        buf[0] = '\0';
        break;
    }
}

typedef struct StrBuf {
    char *s;
    size_t len, cap;
} StrBuf;

static void sb_printf(StrBuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_printf(StrBuf *b, const char *fmt, ...)
{
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int need = vsnprintf(b->s ? b->s + b->len : NULL, b->s ? b->cap - b->len : 0, fmt, ap);
        va_end(ap);
        ASSERT(need >= 0);
        if (b->s && b->len + (size_t)need < b->cap) {
            b->len += (size_t)need;
            return;
        }
        b->cap = (b->cap + (size_t)need + 1) * 2;
        b->s = realloc(b->s, b->cap);
        ASSERT(b->s);
    }
}

char *config_dump_yaml(const RunConfig *c, int with_help)
{
    StrBuf b = {0};
    sb_printf(&b, "# mos run config (YAML; HAT's keys)\n");
    for (int i = 0; i < N_OPTIONS; i++) {
        const ConfigOption *o = &options[i];
        if (o->type == CT_IGNORED)
            continue;
        char v[256];
        option_value(o, c, v, sizeof v);
        if (with_help)
            sb_printf(&b, "%s: %-18s # %s\n", o->key, v, o->help);
        else
            sb_printf(&b, "%s: %s\n", o->key, v);
    }
    return b.s;
}

/* Keys that change what a MoS supernet's stored weights mean without changing their shapes:
 * hashed when mos is not none and the value differs from the one that computes what the key's
 * absence did (so checkpoints written before the key existed stay loadable). */
static int mos_hashed(const char *key, const char *value, const RunConfig *c)
{
    static const char *const keys[][2] = {{"router-input", "raw"}, {"router-lr-scale", "1"}};
    if (c->model.mos == MOS_NONE)
        return 0;
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        if (strcmp(key, keys[i][0]) == 0)
            return strcmp(value, keys[i][1]) != 0;
    return 0;
}

uint64_t config_hash(const RunConfig *c)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    for (int i = 0; i < N_OPTIONS; i++) {
        const ConfigOption *o = &options[i];
        char line[320];
        char v[256];
        option_value(o, c, v, sizeof v);
        if (!(o->flags & CF_MODEL) && !mos_hashed(o->key, v, c))
            continue;
        snprintf(line, sizeof line, "%s=%s;", options[i].key, v);
        for (const char *p = line; *p; p++) {
            h ^= (unsigned char)*p;
            h *= 0x100000001b3ULL;
        }
    }
    return h;
}

char *config_keys_markdown(void)
{
    RunConfig c;
    config_defaults(&c);
    StrBuf b = {0};
    sb_printf(&b, "| key | type | default | meaning |\n|---|---|---|---|\n");
    for (int i = 0; i < N_OPTIONS; i++) {
        const ConfigOption *o = &options[i];
        char v[256] = "";
        option_value(o, &c, v, sizeof v);
        sb_printf(&b, "| `%s`%s%s%s | %s | %s%s%s | %s |\n", o->key, o->alias ? " (`" : "",
                  o->alias ? o->alias : "", o->alias ? "`)" : "", type_names[o->type],
                  v[0] ? "`" : "", v, v[0] ? "`" : "", o->help);
    }
    return b.s;
}

char *config_keys_help(void)
{
    RunConfig c;
    config_defaults(&c);
    StrBuf b = {0};
    for (int i = 0; i < N_OPTIONS; i++) {
        const ConfigOption *o = &options[i];
        if (o->type == CT_IGNORED)
            continue;
        char v[256];
        option_value(o, &c, v, sizeof v);
        sb_printf(&b, "  %-36s %s (default: %s)\n", o->key, o->help, v);
    }
    return b.s;
}
