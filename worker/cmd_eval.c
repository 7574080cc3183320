/* `mos eval`: loss and BLEU of one subnet with the supernet's inherited weights, on the valid or
 * test split of a run directory. The arch is given in the text form of docs/arch.md, as
 * `largest` / `smallest`, or as @FILE holding the JSON form. */
#include <cblas.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "commands.h"
#include "eval.h"
#include "modelfile.h"
#include "runconf.h"

static char *read_text(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *s = malloc((size_t)n + 1);
    size_t got = s ? fread(s, 1, (size_t)n, f) : 0;
    fclose(f);
    if (s)
        s[got] = '\0';
    return s;
}

/* Parses --arch and checks it belongs to the run's space. */
static int parse_arch(const char *text, const SearchSpace *sp, Arch *a, MosErr *err)
{
    if (strcmp(text, "largest") == 0) {
        arch_largest(sp, a);
    } else if (strcmp(text, "smallest") == 0) {
        arch_smallest(sp, a);
    } else if (text[0] == '@') {
        char *json = read_text(text + 1);
        if (!json)
            return err_set(err, "--arch %s: cannot read the file", text);
        int rc = arch_json_load(json, a, err);
        free(json);
        if (rc < 0) {
            err_prefix(err, "--arch %s", text);
            return -1;
        }
    } else if (arch_parse(text, a, err) < 0) {
        return -1;
    }
    if (arch_validate(sp, a, err) < 0) {
        err_prefix(err, "--arch is not in this run's search space");
        return -1;
    }
    return 0;
}

typedef struct HypOut {
    FILE *f;
} HypOut;

static void write_hyp(void *ctx, int pair, const char *hyp)
{
    (void)pair;
    HypOut *h = ctx;
    if (h->f)
        fprintf(h->f, "%s\n", hyp);
}

static double mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int print_loss(EvalRun *r, const Arch *a, const char *split, int max_sentences,
                      MosErr *err)
{
    DataSplit d;
    Batcher b;
    if (data_split_load(r->data_dir, split, &r->man, r->cfg.model.max_positions, max_sentences,
                        &d, err) < 0)
        return -1;
    if (batcher_init(&b, &d, r->cfg.train.max_tokens, &r->man, 0, 0, err) < 0) {
        data_split_free(&d);
        return -1;
    }
    EvalLoss l;
    eval_loss(r->net, a, &b, &l);
    printf("%s: %d pairs (%d longer than max-positions skipped), %ld target tokens\n", split,
           l.pairs, d.skipped, l.ntokens);
    printf("loss %.4f (label-smoothed)  nll %.4f  ppl %.2f\n", l.loss, l.nll, exp(l.nll));
    batcher_done(&b);
    data_split_free(&d);
    return 0;
}

static int print_bleu(EvalRun *r, const Arch *a, const Args *args, MosErr *err)
{
    const char *split = args_str(args, "split");
    DataSplit d;
    Detok dt;
    if (detok_load(&dt, r->data_dir, &r->man, err) < 0)
        return -1;
    if (data_split_load(r->data_dir, split, &r->man, INT_MAX, (int)args_int(args, "max-sentences"),
                        &d, err) < 0) {
        detok_done(&dt);
        return -1;
    }
    char **refs = eval_load_refs(r->data_dir, split, &d, &dt, err);
    HypOut h = {NULL};
    const char *out = args_str(args, "output");
    if (refs && out && !(h.f = fopen(out, "w")))
        err_set(err, "%s: cannot write", out);
    int rc = -1;
    if (refs && (!out || h.f)) {
        DecodeOpts o = {.beam = (int)args_int(args, "beam"),
                        .lenpen = (float)args_float(args, "lenpen"),
                        .max_len_a = (int)args_int(args, "max-len-a"),
                        .max_len_b = (int)args_int(args, "max-len-b")};
        double t0 = mono_s();
        BleuScore s = eval_bleu(r->net, a, &d, &dt, refs, &o, 0, write_hyp, &h);
        printf("BLEU = %.2f %.1f/%.1f/%.1f/%.1f (BP = %.3f ratio = %.3f hyp_len = %ld "
               "ref_len = %ld)  [13a, beam %d, lenpen %.2f, %d sentences, %.1f s]\n", s.bleu,
               s.precisions[0], s.precisions[1], s.precisions[2], s.precisions[3], s.bp,
               s.ref_len ? (double)s.sys_len / (double)s.ref_len : 0.0, s.sys_len, s.ref_len,
               o.beam, (double)o.lenpen, d.n, mono_s() - t0);
        rc = 0;
    }
    if (h.f)
        fclose(h.f);
    eval_free_refs(refs, d.n);
    data_split_free(&d);
    detok_done(&dt);
    return rc;
}

/* The run directory a model directory belongs to: --run-dir when given, else MODEL/../..
 * (models live in RUN_DIR/subnets/NAME). */
static void model_run_dir(const Args *a, char *buf, size_t n)
{
    if (args_given(a, "run-dir")) {
        snprintf(buf, n, "%s", args_str(a, "run-dir"));
        return;
    }
    snprintf(buf, n, "%s/../..", args_str(a, "model"));
}

/* --model: the extracted model as r->net, the run's data (manifest must match its vocabulary). */
static int open_model(EvalRun *r, const RunConfig *c, const char *run_dir, const char *model,
                      Arch *arch, MosErr *err)
{
    memset(r, 0, sizeof *r);
    r->cfg = *c;
    snprintf(r->data_dir, sizeof r->data_dir, "%s/data", run_dir);
    ModelInfo info;
    if (data_manifest_load(r->data_dir, &r->man, err) < 0)
        return -1;
    r->net = modelfile_load(model, c->train.max_tokens, &info, err);
    if (!r->net)
        return -1;
    if (info.cfg.vocab != r->man.vocab_size) {
        supernet_destroy(&r->net);
        return err_set(err, "%s has a vocabulary of %d, the data in %s has %d", model,
                       info.cfg.vocab, r->data_dir, r->man.vocab_size);
    }
    r->cfg.model = info.cfg;
    r->meta.step = info.source_step;
    snprintf(r->meta.time, sizeof r->meta.time, "finetuned %d updates", info.finetune_steps);
    *arch = info.arch;
    return 0;
}

static int run_eval_model(const Args *a)
{
    char run_dir[2048];
    model_run_dir(a, run_dir, sizeof run_dir);
    MosErr err = {{0}};
    RunConfig c;
    EvalRun r;
    Arch arch;
    if (runconf_load(run_dir, args_str(a, "config"), &c, stderr, &err) < 0 ||
        open_model(&r, &c, run_dir, args_str(a, "model"), &arch, &err) < 0) {
        fprintf(stderr, "mos eval: %s\n", err.msg);
        return 1;
    }
    openblas_set_num_threads(args_given(a, "threads") ? (int)args_int(a, "threads")
                                                      : c.train.threads);
    char text[512];
    arch_format(&arch, text, sizeof text);
    printf("arch: %s\nmodel: %s (extracted at update %ld, %s)\n", text, args_str(a, "model"),
           r.meta.step, r.meta.time);
    int rc = print_loss(&r, &arch, args_str(a, "split"), (int)args_int(a, "max-sentences"), &err);
    if (rc == 0 && !args_flag(a, "no-bleu"))
        rc = print_bleu(&r, &arch, a, &err);
    if (rc < 0)
        fprintf(stderr, "mos eval: %s\n", err.msg);
    eval_close(&r);
    return rc < 0 ? 1 : 0;
}

static int run_eval(const Args *a)
{
    const char *run_dir = args_str(a, "run-dir");
    const char *split = args_str(a, "split");
    MosErr err = {{0}};
    RunConfig c;
    if (strcmp(split, "valid") != 0 && strcmp(split, "test") != 0 &&
        strcmp(split, "train") != 0) {
        fprintf(stderr, "mos eval: --split: expected valid, test or train, got '%s'\n", split);
        return 2;
    }
    if (args_int(a, "beam") < 1 || args_int(a, "max-sentences") < 0) {
        fprintf(stderr, "mos eval: --beam must be >= 1 and --max-sentences >= 0\n");
        return 2;
    }
    if (args_given(a, "model")) {
        if (args_given(a, "arch")) {
            fprintf(stderr, "mos eval: --model carries its own arch; do not give --arch\n");
            return 2;
        }
        return run_eval_model(a);
    }
    if (runconf_load(run_dir, args_str(a, "config"), &c, stderr, &err) < 0) {
        fprintf(stderr, "mos eval: %s\n", err.msg);
        return 1;
    }
    Arch arch;
    if (parse_arch(args_str(a, "arch"), &c.model.space, &arch, &err) < 0) {
        fprintf(stderr, "mos eval: %s\n", err.msg);
        return 2;
    }
    openblas_set_num_threads(args_given(a, "threads") ? (int)args_int(a, "threads")
                                                      : c.train.threads);
    EvalRun r;
    if (eval_open(&r, &c, run_dir, args_str(a, "checkpoint"), &err) < 0) {
        fprintf(stderr, "mos eval: %s\n", err.msg);
        return 1;
    }
    char text[512];
    arch_format(&arch, text, sizeof text);
    printf("arch: %s\ncheckpoint: %s/checkpoints/%s.safetensors (update %ld, %s)\n", text,
           run_dir, args_str(a, "checkpoint"), r.meta.step, r.meta.time);
    int rc = print_loss(&r, &arch, split, (int)args_int(a, "max-sentences"), &err);
    if (rc == 0 && !args_flag(a, "no-bleu"))
        rc = print_bleu(&r, &arch, a, &err);
    if (rc < 0)
        fprintf(stderr, "mos eval: %s\n", err.msg);
    eval_close(&r);
    return rc < 0 ? 1 : 0;
}

const Command cmd_eval = {
    .name = "eval",
    .summary = "loss and BLEU of one subnet with the supernet's inherited weights",
    .details = "ARCH is the text form of docs/arch.md, `largest`, `smallest`, or @FILE with the\n"
               "JSON form. BLEU is sacreBLEU's default (13a, BLEU-4, exp smoothing) against the\n"
               "split's raw target text.",
    .opts = (const OptSpec[]){
        {"run-dir", OPT_STR, "runs/default", "DIR", "run directory"},
        {"arch", OPT_STR, "largest", "ARCH", "subnet to evaluate"},
        {"model", OPT_STR, NULL, "DIR",
         "evaluate an extracted model (RUN_DIR/subnets/NAME) instead of a subnet"},
        {"config", OPT_STR, NULL, "FILE", "run config (default: RUN_DIR/config.yml)"},
        {"split", OPT_STR, "valid", "SPLIT", "valid, test (or train)"},
        {"checkpoint", OPT_STR, "last", "NAME", "last or prev"},
        {"beam", OPT_INT, "4", "N", "beam size (1: greedy)"},
        {"lenpen", OPT_FLOAT, "0.6", "X", "length penalty (HAT: 0.6)"},
        {"max-len-a", OPT_INT, "1", "N", "at most A * source length + B output tokens"},
        {"max-len-b", OPT_INT, "10", "N", "see --max-len-a"},
        {"max-sentences", OPT_INT, "0", "N", "evaluate the first N pairs (0: all)"},
        {"no-bleu", OPT_FLAG, NULL, NULL, "loss only (no decoding)"},
        {"output", OPT_STR, NULL, "FILE", "write the detokenized translations here"},
        {"threads", OPT_INT, NULL, "N", "OpenBLAS threads (default: the config's threads)"},
        {0},
    },
    .run = run_eval,
};
