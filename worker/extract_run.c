/* Extraction into a run directory (see extract_run.h): the choice of arch and name, the
 * checkpoint, and the directory dance (temporary sibling, rename or atomic exchange). */
#include "extract_run.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "eval.h"
#include "extract.h"
#include "proc.h"
#include "runconf.h"
#include "sha256.h"

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

/* The arch, how it was chosen and its default name. */
static int choose(const ExtractRequest *q, const SearchSpace *sp, ExtractResult *r, char *name,
                  size_t n, MosErr *err)
{
    char search_dir[4200];
    snprintf(search_dir, sizeof search_dir, "%s/search", q->run_dir);
    FrontPoint p = {.pred_ms = NAN, .valid_loss = NAN};
    if (q->arch) {
        if (parse_arch(q->arch, sp, &p.arch, err) < 0)
            return -1;
        snprintf(r->why, sizeof r->why, "--arch");
    } else if (q->front >= 0) {
        if (extract_pick_front(search_dir, q->front, &p, err) < 0)
            return -1;
        snprintf(r->why, sizeof r->why, "front point %d (predicted %.3g ms, valid loss %.4f)",
                 q->front, p.pred_ms, p.valid_loss);
    } else {
        if (extract_pick_latency(search_dir, q->latency_ms, &p, err) < 0)
            return -1;
        snprintf(r->why, sizeof r->why, "lowest valid loss under %g ms (predicted %.3g ms, "
                 "valid loss %.4f)", q->latency_ms, p.pred_ms, p.valid_loss);
    }
    if (arch_validate(sp, &p.arch, err) < 0) {
        err_prefix(err, "the arch is not in this run's search space");
        return -1;
    }
    r->arch = p.arch;
    r->pred_ms = p.pred_ms;
    r->valid_loss = p.valid_loss;
    arch_format(&r->arch, r->arch_text, sizeof r->arch_text);
    if (!q->arch && q->front < 0)
        snprintf(name, n, "lat-%gms", q->latency_ms);
    else
        snprintf(name, n, "arch-%012" PRIx64,
                 (uint64_t)(arch_hash(&r->arch) & 0xffffffffffffULL));
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

static int extract(const ExtractRequest *q, EvalRun *e, ExtractResult *r, MosErr *err)
{
    char subnets[4200], spm[4200];
    snprintf(r->checkpoint, sizeof r->checkpoint, "%s/checkpoints/%s.safetensors", q->run_dir,
             q->checkpoint);
    snprintf(subnets, sizeof subnets, "%s/subnets", q->run_dir);
    ModelSource src = {.super = &e->cfg.model, .man = &e->man, .data_dir = e->data_dir,
                       .checkpoint = r->checkpoint, .step = e->meta.step,
                       .config_hash = config_hash(&e->cfg)};
    if (sha256_file(r->checkpoint, src.sha256, err) < 0)
        return -1;
    Supernet *m = extract_model(e->net, &r->arch, e->cfg.train.max_tokens, err);
    if (!m)
        return -1;
    int rc = write_dir(m, &r->arch, &src, subnets, r->path, q->force, err);
    r->step = e->meta.step;
    r->mos = e->cfg.model.mos;
    r->params = modelfile_nparams(m, &r->arch);
    snprintf(spm, sizeof spm, "%s/spm.model", e->data_dir);
    r->has_spm_model = strcmp(e->man.tokenizer, "spm") != 0 || access(spm, F_OK) == 0;
    supernet_destroy(&m);
    return rc;
}

int extract_run(const ExtractRequest *q, ExtractResult *r, MosErr *err)
{
    memset(r, 0, sizeof *r);
    RunConfig cfg;
    char name[128];
    if (runconf_load(q->run_dir, q->config, &cfg, q->warn_to, err) < 0 ||
        choose(q, &cfg.model.space, r, name, sizeof name, err) < 0 ||
        check_name(q->name ? q->name : name, err) < 0)
        return -1;
    snprintf(r->path, sizeof r->path, "%s/subnets/%s", q->run_dir, q->name ? q->name : name);
    struct stat st;
    if (!q->force && stat(r->path, &st) == 0)
        return err_set(err, "%s already exists (use --force to replace it, or --name)", r->path);
    EvalRun e;
    if (eval_open(&e, &cfg, q->run_dir, q->checkpoint, err) < 0)
        return -1;
    int rc = extract(q, &e, r, err);
    eval_close(&e);
    return rc;
}
