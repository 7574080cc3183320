/* `mos extract`: one subnet of a trained supernet as a standalone model in
 * RUN_DIR/subnets/NAME/ (core/modelfile.h), chosen by --arch, by front index (--front K) or by
 * latency budget (--latency-ms X) from RUN_DIR/search/front.json. The model is written into a
 * temporary sibling directory and renamed into place; an existing NAME is only replaced with
 * --force (atomically: readers never see a half-written model). */
#include <cblas.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "commands.h"
#include "eval.h"
#include "extract.h"
#include "proc.h"
#include "runconf.h"
#include "sha256.h"

static const OptSpec extract_opts[] = {
    { "run-dir", OPT_STR, "runs/default", "DIR", "run directory (checkpoints/, search/)" },
    { "config", OPT_STR, NULL, "FILE", "run config (default: DIR/config.yml when present)" },
    { "checkpoint", OPT_STR, "last", "NAME", "supernet checkpoint: last or prev" },
    { "arch", OPT_STR, NULL, "ARCH", "the subnet: text form (docs/arch.md), largest, smallest" },
    { "front", OPT_INT, NULL, "K", "the K-th point of search/front.json (0: lowest latency)" },
    { "latency-ms", OPT_FLOAT, NULL, "X",
      "the lowest-loss front point with predicted latency <= X ms" },
    { "name", OPT_STR, NULL, "NAME", "directory under DIR/subnets (default from arch/latency)" },
    { "force", OPT_FLAG, NULL, NULL, "replace an existing DIR/subnets/NAME" },
    { "threads", OPT_INT, "1", "N", "OpenBLAS threads" },
    { 0 },
};

typedef struct Choice {
    Arch arch;
    char name[128];
    char why[160];      /* how it was chosen, for the summary */
} Choice;

static int parse_arch(const char *text, const SearchSpace *sp, Arch *a, MosErr *err)
{
    if (strcmp(text, "largest") == 0)
        arch_largest(sp, a);
    else if (strcmp(text, "smallest") == 0)
        arch_smallest(sp, a);
    else if (arch_parse(text, a, err) < 0)
        return -1;
    return 0;
}

/* The arch and its default name from whichever of --arch, --front, --latency-ms was given. */
static int choose(const Args *a, const char *run_dir, const SearchSpace *sp, Choice *c,
                  MosErr *err)
{
    char search_dir[4200];
    snprintf(search_dir, sizeof search_dir, "%s/search", run_dir);
    FrontPoint p;
    if (args_given(a, "arch")) {
        if (parse_arch(args_str(a, "arch"), sp, &c->arch, err) < 0)
            return -1;
        snprintf(c->why, sizeof c->why, "--arch");
    } else if (args_given(a, "front")) {
        if (extract_pick_front(search_dir, (int)args_int(a, "front"), &p, err) < 0)
            return -1;
        c->arch = p.arch;
        snprintf(c->why, sizeof c->why, "front point %ld (predicted %.3g ms, valid loss %.4f)",
                 args_int(a, "front"), p.pred_ms, p.valid_loss);
    } else {
        double x = args_float(a, "latency-ms");
        if (extract_pick_latency(search_dir, x, &p, err) < 0)
            return -1;
        c->arch = p.arch;
        snprintf(c->why, sizeof c->why, "lowest valid loss under %g ms (predicted %.3g ms, "
                 "valid loss %.4f)", x, p.pred_ms, p.valid_loss);
    }
    if (arch_validate(sp, &c->arch, err) < 0) {
        err_prefix(err, "the arch is not in this run's search space");
        return -1;
    }
    if (args_given(a, "latency-ms"))
        snprintf(c->name, sizeof c->name, "lat-%gms", args_float(a, "latency-ms"));
    else
        snprintf(c->name, sizeof c->name, "arch-%012" PRIx64,
                 (uint64_t)(arch_hash(&c->arch) & 0xffffffffffffULL));
    return 0;
}

static int check_name(const char *name, MosErr *err)
{
    if (!name[0] || name[0] == '.' || strchr(name, '/') || strlen(name) > 100)
        return err_set(err, "--name '%s': expected a plain directory name (no '/', not starting "
                            "with '.', at most 100 bytes)", name);
    return 0;
}

/* Writes the model into a fresh temporary directory next to dest, then renames it into place. */
static int write_dir(Supernet *m, const Arch *arch, const ModelSource *src, const char *subnets,
                     const char *dest, int force, MosErr *err)
{
    char tmp[4300];
    snprintf(tmp, sizeof tmp, "%s/.extract-%ld.tmp", subnets, (long)getpid());
    if (fs_mkdir_p(subnets, err) < 0 || fs_rm_rf(tmp, err) < 0 || fs_mkdir_p(tmp, err) < 0)
        return -1;
    int rc = modelfile_write(tmp, m, arch, src, err);
    if (rc == 0 && force)
        rc = fs_replace_dir(tmp, dest, err);
    else if (rc == 0 && rename(tmp, dest) != 0)
        rc = err_set(err, "%s: %s (use --force to replace it)", dest,
                     errno == EEXIST || errno == ENOTEMPTY ? "already exists" : strerror(errno));
    if (rc < 0)
        fs_rm_rf(tmp, NULL);
    return rc;
}

/* DATA_DIR/spm.model into buf (buf is caller storage of 4200 bytes). */
static const char *spm_path(const char *data_dir, char *buf)
{
    snprintf(buf, 4200, "%s/spm.model", data_dir);
    return buf;
}

static int extract(const Args *a, EvalRun *r, const Choice *c, const char *dest, MosErr *err)
{
    const char *run_dir = args_str(a, "run-dir");
    char ckpt[4200], subnets[4200];
    snprintf(ckpt, sizeof ckpt, "%s/checkpoints/%s.safetensors", run_dir,
             args_str(a, "checkpoint"));
    snprintf(subnets, sizeof subnets, "%s/subnets", run_dir);
    ModelSource src = {.super = &r->cfg.model, .man = &r->man, .data_dir = r->data_dir,
                       .checkpoint = ckpt, .step = r->meta.step,
                       .config_hash = config_hash(&r->cfg)};
    if (sha256_file(ckpt, src.sha256, err) < 0)
        return -1;
    Supernet *m = extract_model(r->net, &c->arch, r->cfg.train.max_tokens, err);
    if (!m)
        return -1;
    int rc = write_dir(m, &c->arch, &src, subnets, dest, args_flag(a, "force"), err);
    if (rc == 0) {
        char text[512];
        arch_format(&c->arch, text, sizeof text);
        printf("arch: %s\nchosen by: %s\nsource: %s (update %ld, mos %s)\nwrote %s: %zu "
               "parameters\n", text, c->why, ckpt, r->meta.step,
               config_mos_name(r->cfg.model.mos), dest, modelfile_nparams(m, &c->arch));
        char spm[4200];
        if (strcmp(src.man->tokenizer, "spm") == 0 &&
            access(spm_path(r->data_dir, spm), F_OK) != 0)
            printf("note: %s/spm.model is missing, so the model cannot encode raw text "
                   "(mos translate --ids still works)\n", r->data_dir);
    }
    supernet_destroy(&m);
    return rc;
}

static int run_extract(const Args *a)
{
    int given = args_given(a, "arch") + args_given(a, "front") + args_given(a, "latency-ms");
    if (given != 1) {
        fprintf(stderr, "mos extract: give exactly one of --arch, --front, --latency-ms\n");
        return 2;
    }
    const char *run_dir = args_str(a, "run-dir");
    MosErr err = {{0}};
    RunConfig cfg;
    Choice c;
    if (runconf_load(run_dir, args_str(a, "config"), &cfg, stderr, &err) < 0 ||
        choose(a, run_dir, &cfg.model.space, &c, &err) < 0 ||
        check_name(args_given(a, "name") ? args_str(a, "name") : c.name, &err) < 0) {
        fprintf(stderr, "mos extract: %s\n", err.msg);
        return 1;
    }
    char dest[4300];
    snprintf(dest, sizeof dest, "%s/subnets/%s", run_dir,
             args_given(a, "name") ? args_str(a, "name") : c.name);
    struct stat st;
    if (!args_flag(a, "force") && stat(dest, &st) == 0) {
        fprintf(stderr, "mos extract: %s already exists (use --force to replace it, or --name)\n",
                dest);
        return 1;
    }
    openblas_set_num_threads((int)args_int(a, "threads"));
    EvalRun r;
    if (eval_open(&r, &cfg, run_dir, args_str(a, "checkpoint"), &err) < 0) {
        fprintf(stderr, "mos extract: %s\n", err.msg);
        return 1;
    }
    int rc = extract(a, &r, &c, dest, &err);
    if (rc < 0)
        fprintf(stderr, "mos extract: %s\n", err.msg);
    eval_close(&r);
    return rc < 0 ? 1 : 0;
}

const Command cmd_extract = {
    .name = "extract",
    .summary = "write one subnet as a standalone model (MoS collapsed) to RUN_DIR/subnets/NAME",
    .details = "Exactly one of --arch, --front, --latency-ms chooses the subnet. The directory\n"
               "gets model.safetensors, config.json and the tokenizer files (docs/extract.md).",
    .opts = extract_opts,
    .run = run_extract,
};
