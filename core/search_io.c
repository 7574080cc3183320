/* The search's files (see search.h): state.json (exact resume: full genes, RNG, doubles at 17
 * digits), archive.csv / archive.json (one row per evaluated subnet) and front.json. Every file is
 * written to "<name>.tmp", flushed and renamed, so a stopped job leaves the previous generation's
 * files whole. Does not decide when to save (the caller does, once per generation). */
#include "search.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#define STATE_FORMAT "mos-search-state"
#define GENES (4 + 6 * ARCH_MAX_LAYERS)

static const char *const algo_names[SEARCH_ALGO_COUNT] = {
    [SEARCH_EVO] = "evo",
    [SEARCH_NSGA2] = "nsga2",
};

/* ---- small JSON helpers -------------------------------------------------------------------- */

static json_t *num_or_null(double v)
{
    return isfinite(v) ? json_real(v) : json_null();
}

static double num_or_nan(json_t *v)
{
    return json_is_number(v) ? json_number_value(v) : NAN;
}

static json_t *genes_json(const Arch *a)
{
    json_t *g = json_array();
    const int *lists[6] = { a->enc_ffn, a->enc_heads, a->dec_ffn, a->dec_self_heads,
                            a->dec_ende_heads, a->dec_arbitrary };
    json_array_append_new(g, json_integer(a->enc_embed));
    json_array_append_new(g, json_integer(a->enc_layers));
    json_array_append_new(g, json_integer(a->dec_embed));
    json_array_append_new(g, json_integer(a->dec_layers));
    for (int k = 0; k < 6; k++)
        for (int i = 0; i < ARCH_MAX_LAYERS; i++)
            json_array_append_new(g, json_integer(lists[k][i]));
    return g;
}

static int genes_load(json_t *g, Arch *a)
{
    if (!json_is_array(g) || json_array_size(g) != GENES)
        return -1;
    int v[GENES];
    for (int i = 0; i < GENES; i++) {
        json_t *e = json_array_get(g, (size_t)i);
        if (!json_is_integer(e))
            return -1;
        v[i] = (int)json_integer_value(e);
    }
    int *lists[6] = { a->enc_ffn, a->enc_heads, a->dec_ffn, a->dec_self_heads,
                      a->dec_ende_heads, a->dec_arbitrary };
    a->enc_embed = v[0];
    a->enc_layers = v[1];
    a->dec_embed = v[2];
    a->dec_layers = v[3];
    if (a->enc_layers < 1 || a->enc_layers > ARCH_MAX_LAYERS || a->dec_layers < 1 ||
        a->dec_layers > ARCH_MAX_LAYERS)
        return -1;
    for (int k = 0; k < 6; k++)
        for (int i = 0; i < ARCH_MAX_LAYERS; i++)
            lists[k][i] = v[4 + k * ARCH_MAX_LAYERS + i];
    return 0;
}

static json_t *arch_text_json(const Arch *a)
{
    char text[512];
    arch_format(a, text, sizeof text);
    return json_string(text);
}

static json_t *arch_obj_json(const Arch *a)
{
    char *j = arch_json_dump(a);
    json_t *o = json_loads(j, 0, NULL);
    free(j);
    ASSERT(o);
    return o;
}

/* A canonical text of the space so a resumed search can refuse another space. */
static void space_text(const SearchSpace *sp, char *buf, size_t n)
{
    const Choices *c[10] = { &sp->enc_embed, &sp->dec_embed, &sp->enc_ffn, &sp->dec_ffn,
                             &sp->enc_layers, &sp->dec_layers, &sp->enc_heads,
                             &sp->dec_self_heads, &sp->dec_ende_heads, &sp->dec_arbitrary };
    size_t k = (size_t)snprintf(buf, n, "max=%d,%d,%d,%d,%d,%d,%d,%d,qkv=%d", sp->enc_embed_max,
                                sp->dec_embed_max, sp->enc_ffn_max, sp->dec_ffn_max,
                                sp->enc_layers_max, sp->dec_layers_max, sp->enc_heads_max,
                                sp->dec_heads_max, sp->qkv_dim);
    for (int i = 0; i < 10 && k < n; i++)
        for (int j = 0; j < c[i]->n && k < n; j++)
            k += (size_t)snprintf(buf + k, n - k, "%s%d", j ? "," : ";", c[i]->v[j]);
}

static int write_json(json_t *root, const char *dir, const char *name, MosErr *err)
{
    char path[4096], tmp[4200];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    int rc = json_dump_file(root, tmp, JSON_INDENT(1) | JSON_PRESERVE_ORDER);
    json_decref(root);
    if (rc != 0 || rename(tmp, path) != 0) {
        unlink(tmp);
        return err_set(err, "%s: cannot write: %s", path, strerror(errno));
    }
    return 0;
}

/* ---- state.json ---------------------------------------------------------------------------- */

static json_t *record_json(const SearchRecord *r, int full)
{
    json_t *o = json_object();
    json_object_set_new(o, "arch", arch_text_json(&r->arch));
    if (full)
        json_object_set_new(o, "genes", genes_json(&r->arch));
    else
        json_object_set_new(o, "config", arch_obj_json(&r->arch));
    json_object_set_new(o, "generation", json_integer(r->generation));
    json_object_set_new(o, "target_ms", num_or_null(r->target_ms));
    json_object_set_new(o, "pred_latency_ms", num_or_null(r->pred_ms));
    json_object_set_new(o, "measured_latency_ms", num_or_null(r->measured_ms));
    json_object_set_new(o, "valid_loss", num_or_null(r->valid_loss));
    json_object_set_new(o, "bleu", num_or_null(r->bleu));
    return o;
}

static json_t *changes_json(const Search *s)
{
    json_t *a = json_array();
    for (int i = 0; i < s->nchanges; i++)
        json_array_append_new(a, json_pack("{s:i, s:o, s:o, s:i}", "generation",
                              s->changes[i].generation, "old_ms",
                              num_or_null(s->changes[i].old_ms), "new_ms",
                              num_or_null(s->changes[i].new_ms), "removed",
                              s->changes[i].removed));
    return a;
}

static json_t *state_json(const Search *s)
{
    char space[2048], rng[4][20], seed[24];
    space_text(&s->space, space, sizeof space);
    snprintf(seed, sizeof seed, "%" PRIu64, s->cfg.seed);   /* JSON integers are signed */
    json_t *rngj = json_array(), *pop = json_array(), *arch = json_array();
    for (int i = 0; i < 4; i++) {
        snprintf(rng[i], sizeof rng[i], "%016" PRIx64, s->rng.s[i]);
        json_array_append_new(rngj, json_string(rng[i]));
    }
    for (int i = 0; i < s->npop; i++)
        json_array_append_new(pop, json_pack("{s:i, s:o}", "index", s->pop[i].idx, "genes",
                                             genes_json(&s->pop[i].arch)));
    for (int i = 0; i < s->narchive; i++)
        json_array_append_new(arch, record_json(&s->archive[i], 1));
    const SearchConfig *c = &s->cfg;
    return json_pack("{s:s, s:i, s:s, s:i, s:i, s:i, s:i, s:i, s:f, s:s, s:i, s:s, s:i, s:o, "
                     "s:o, s:o, s:o, s:o}",
                     "format", STATE_FORMAT, "version", 1, "algo", algo_names[c->algo],
                     "population", c->population, "parents", c->parents, "mutations",
                     c->mutations, "crossovers", c->crossovers, "iterations", c->iterations,
                     "mutate_prob", (double)c->mutate_prob, "seed", seed, "max_draws",
                     c->max_draws, "space",
                     space, "generation", s->generation, "target_ms",
                     num_or_null(s->target_ms), "rng", rngj, "population_members", pop,
                     "archive", arch, "target_changes", changes_json(s));
}

/* ---- archive.csv, archive.json, front.json ------------------------------------------------- */

static void csv_num(FILE *f, double v)
{
    if (isfinite(v))
        fprintf(f, "%.6g", v);
}

int search_write_csv(const Search *s, const char *path, MosErr *err)
{
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (!f)
        return err_set(err, "%s: cannot write: %s", tmp, strerror(errno));
    fprintf(f, "index,generation,target_ms,pred_latency_ms,measured_latency_ms,valid_loss,bleu,"
               "arch\n");
    for (int i = 0; i < s->narchive; i++) {
        const SearchRecord *r = &s->archive[i];
        char text[512];
        arch_format(&r->arch, text, sizeof text);
        fprintf(f, "%d,%d,", i, r->generation);
        csv_num(f, r->target_ms > 0 ? r->target_ms : NAN);
        fputc(',', f);
        csv_num(f, r->pred_ms);
        fputc(',', f);
        csv_num(f, r->measured_ms);
        fputc(',', f);
        fprintf(f, "%.9g,", r->valid_loss);
        csv_num(f, r->bleu);
        fprintf(f, ",\"%s\"\n", text);
    }
    int bad = fflush(f) != 0 || fsync(fileno(f)) != 0;
    bad |= fclose(f) != 0;
    if (bad || rename(tmp, path) != 0) {
        unlink(tmp);
        return err_set(err, "%s: cannot write: %s", path, strerror(errno));
    }
    return 0;
}

static json_t *archive_json(const Search *s)
{
    json_t *recs = json_array();
    for (int i = 0; i < s->narchive; i++) {
        json_t *o = record_json(&s->archive[i], 0);
        json_object_set_new(o, "index", json_integer(i));
        json_array_append_new(recs, o);
    }
    return json_pack("{s:s, s:i, s:o, s:o}", "algo", algo_names[s->cfg.algo], "generation",
                     s->generation, "records", recs, "target_changes", changes_json(s));
}

static json_t *front_json(const Search *s)
{
    int *idx = malloc((size_t)(s->npop ? s->npop : 1) * sizeof *idx);
    ASSERT(idx);
    int n = search_front(s, idx, s->npop);
    json_t *front = json_array();
    for (int i = 0; i < n; i++) {
        json_t *o = record_json(&s->archive[idx[i]], 0);
        json_object_set_new(o, "index", json_integer(idx[i]));
        json_array_append_new(front, o);
    }
    free(idx);
    int best = search_best(s);
    return json_pack("{s:s, s:i, s:o, s:i, s:o}", "algo", algo_names[s->cfg.algo], "generation",
                     s->generation, "target_ms", num_or_null(s->target_ms), "best", best,
                     "front", front);
}

int search_save(const Search *s, const char *dir, MosErr *err)
{
    if (mkdir(dir, 0777) != 0 && errno != EEXIST)
        return err_set(err, "%s: cannot create: %s", dir, strerror(errno));
    json_t *st = state_json(s);
    char csv[4096];
    snprintf(csv, sizeof csv, "%s/archive.csv", dir);
    if (write_json(archive_json(s), dir, "archive.json", err) ||
        write_json(front_json(s), dir, "front.json", err) || search_write_csv(s, csv, err))
        return json_decref(st), -1;
    /* state.json last: a state never points past the files written with it */
    return write_json(st, dir, "state.json", err);
}

/* ---- search_load --------------------------------------------------------------------------- */

static int load_check_config(const Search *s, json_t *st, MosErr *err)
{
    const SearchConfig *c = &s->cfg;
    const char *algo = json_string_value(json_object_get(st, "algo"));
    if (!algo || strcmp(algo, algo_names[c->algo]) != 0)
        return err_set(err, "saved search uses algorithm '%s', not '%s'", algo ? algo : "?",
                       algo_names[c->algo]);
    const char *keys[5] = { "population", "parents", "mutations", "crossovers", "max_draws" };
    const int want[5] = { c->population, c->parents, c->mutations, c->crossovers, c->max_draws };
    for (int i = 0; i < 5; i++) {
        json_t *v = json_object_get(st, keys[i]);
        if (!json_is_integer(v) || json_integer_value(v) != want[i])
            return err_set(err, "saved search has %s %lld, this run %d", keys[i],
                           json_is_integer(v) ? (long long)json_integer_value(v) : -1LL,
                           want[i]);
    }
    char seed[24], space[2048];
    snprintf(seed, sizeof seed, "%" PRIu64, c->seed);
    const char *sseed = json_string_value(json_object_get(st, "seed"));
    if (!sseed || strcmp(sseed, seed) != 0)
        return err_set(err, "saved search has seed %s, this run %s", sseed ? sseed : "?", seed);
    if (num_or_nan(json_object_get(st, "mutate_prob")) != (double)c->mutate_prob)
        return err_set(err, "saved search has another mutation probability");
    space_text(&s->space, space, sizeof space);
    const char *sspace = json_string_value(json_object_get(st, "space"));
    if (!sspace || strcmp(sspace, space) != 0)
        return err_set(err, "saved search used another search space (%s)",
                       sspace ? sspace : "?");
    return 0;
}

static int load_archive(Search *s, json_t *arch, MosErr *err)
{
    if (!json_is_array(arch))
        return err_set(err, "'archive' is not a list");
    for (size_t i = 0; i < json_array_size(arch); i++) {
        json_t *o = json_array_get(arch, i);
        SearchRecord r;
        memset(&r, 0, sizeof r);
        if (genes_load(json_object_get(o, "genes"), &r.arch))
            return err_set(err, "archive[%zu]: bad 'genes'", i);
        r.generation = (int)json_integer_value(json_object_get(o, "generation"));
        r.target_ms = num_or_nan(json_object_get(o, "target_ms"));
        if (isnan(r.target_ms))
            r.target_ms = 0;
        r.pred_ms = num_or_nan(json_object_get(o, "pred_latency_ms"));
        r.measured_ms = num_or_nan(json_object_get(o, "measured_latency_ms"));
        r.valid_loss = num_or_nan(json_object_get(o, "valid_loss"));
        r.bleu = num_or_nan(json_object_get(o, "bleu"));
        if (!isfinite(r.valid_loss) || !isfinite(r.pred_ms))
            return err_set(err, "archive[%zu]: missing valid_loss or pred_latency_ms", i);
        search_archive_add(s, &r);
    }
    return 0;
}

static int load_population(Search *s, json_t *pop, MosErr *err)
{
    if (!json_is_array(pop) || json_array_size(pop) > (size_t)s->pop_cap)
        return err_set(err, "'population_members' is not a list of at most %d", s->pop_cap);
    s->npop = (int)json_array_size(pop);
    for (int i = 0; i < s->npop; i++) {
        json_t *o = json_array_get(pop, (size_t)i);
        json_t *k = json_object_get(o, "index");
        if (!json_is_integer(k) || json_integer_value(k) < 0 ||
            json_integer_value(k) >= s->narchive || genes_load(json_object_get(o, "genes"),
                                                                &s->pop[i].arch))
            return err_set(err, "population member %d: bad index or genes", i);
        s->pop[i].idx = (int)json_integer_value(k);
    }
    return 0;
}

static int load_changes(Search *s, json_t *ch)
{
    for (size_t i = 0; json_is_array(ch) && i < json_array_size(ch); i++) {
        json_t *o = json_array_get(ch, i);
        if (s->nchanges == s->changes_cap) {
            s->changes_cap = s->changes_cap ? 2 * s->changes_cap : 8;
            s->changes = realloc(s->changes, (size_t)s->changes_cap * sizeof *s->changes);
            ASSERT(s->changes);
        }
        double old = num_or_nan(json_object_get(o, "old_ms"));
        double new = num_or_nan(json_object_get(o, "new_ms"));
        s->changes[s->nchanges++] = (SearchTargetChange){
            (int)json_integer_value(json_object_get(o, "generation")), isnan(old) ? 0 : old,
            isnan(new) ? 0 : new, (int)json_integer_value(json_object_get(o, "removed")) };
    }
    return 0;
}

static int load_state(Search *s, json_t *st, MosErr *err)
{
    const char *format = json_string_value(json_object_get(st, "format"));
    if (!format || strcmp(format, STATE_FORMAT) != 0)
        return err_set(err, "not a search state (format is not '%s')", STATE_FORMAT);
    if (load_check_config(s, st, err))
        return -1;
    json_t *rng = json_object_get(st, "rng");
    if (!json_is_array(rng) || json_array_size(rng) != 4)
        return err_set(err, "'rng' is not 4 words");
    for (int i = 0; i < 4; i++) {
        const char *w = json_string_value(json_array_get(rng, (size_t)i));
        char *end;
        if (!w)
            return err_set(err, "'rng'[%d] is not a string", i);
        s->rng.s[i] = strtoull(w, &end, 16);
        if (*end)
            return err_set(err, "'rng'[%d] is not hexadecimal", i);
    }
    s->generation = (int)json_integer_value(json_object_get(st, "generation"));
    s->target_ms = num_or_nan(json_object_get(st, "target_ms"));
    if (isnan(s->target_ms))
        s->target_ms = 0;
    if (load_archive(s, json_object_get(st, "archive"), err) ||
        load_population(s, json_object_get(st, "population_members"), err))
        return -1;
    return load_changes(s, json_object_get(st, "target_changes"));
}

int search_load(Search *s, const char *dir, MosErr *err)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/state.json", dir);
    json_error_t je;
    json_t *st = json_load_file(path, 0, &je);
    if (!st)
        return err_set(err, "%s:%d: %s", path, je.line, je.text);
    ASSERT(s->narchive == 0 && s->generation < 0);
    int rc = load_state(s, st, err);
    json_decref(st);
    if (rc)
        err_prefix(err, "%s", path);
    return rc;
}
