/* HAT's constrained evolutionary search and NSGA-II (see search.h), the archive with its hash
 * cache, latency-target changes. Files live in search_io.c. Does not know what the fitness or
 * latency callbacks compute. Invariant: every population member is under the current target and
 * has an archive entry (pop[i].idx) whose active part equals pop[i].arch; all randomness comes
 * from s->rng in a fixed order, so a restored state continues exactly. */
#include "search.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void search_config_default(SearchConfig *c)
{
    memset(c, 0, sizeof *c);
    c->algo = SEARCH_EVO;
    c->population = 125;
    c->parents = 25;
    c->mutations = 50;
    c->crossovers = 50;
    c->iterations = 30;
    c->mutate_prob = 0.3f;
    c->target_ms = 0;
    c->seed = 1;
    c->max_draws = 1000;
}

int search_config_check(const SearchConfig *c, MosErr *err)
{
    if (c->algo < 0 || c->algo >= SEARCH_ALGO_COUNT)
        return err_set(err, "search: unknown algorithm %d", (int)c->algo);
    if (c->population < 2 || c->iterations < 0 || c->mutations < 0 || c->crossovers < 0 ||
        c->mutations + c->crossovers < 1 || c->max_draws < 1)
        return err_set(err, "search: population %d, iterations %d, mutations %d, crossovers %d:"
                       " need population >= 2 and at least one mutation or crossover",
                       c->population, c->iterations, c->mutations, c->crossovers);
    if (c->algo == SEARCH_EVO &&
        (c->parents < 1 || c->population != c->parents + c->mutations + c->crossovers))
        return err_set(err, "search: population %d must equal parents %d + mutations %d + "
                       "crossovers %d", c->population, c->parents, c->mutations, c->crossovers);
    if (!(c->mutate_prob >= 0 && c->mutate_prob <= 1))
        return err_set(err, "search: mutation probability %g is outside [0, 1]",
                       (double)c->mutate_prob);
    return 0;
}

int search_init(Search *s, const SearchSpace *space, const SearchConfig *cfg,
                SearchFitnessFn fitness, void *fitness_ctx, SearchLatencyFn latency,
                void *latency_ctx, MosErr *err)
{
    memset(s, 0, sizeof *s);
    if (search_config_check(cfg, err))
        return -1;
    s->cfg = *cfg;
    s->space = *space;
    s->fitness = fitness;
    s->fitness_ctx = fitness_ctx;
    s->latency = latency;
    s->latency_ctx = latency_ctx;
    rng_seed(&s->rng, cfg->seed);
    s->generation = -1;
    s->target_ms = cfg->target_ms;
    int cap = 2 * cfg->population;
    s->pop_cap = cap;
    s->pop = calloc((size_t)cap, sizeof *s->pop);
    s->next = calloc((size_t)cap, sizeof *s->next);
    s->rank = calloc((size_t)cap, sizeof *s->rank);
    s->order = calloc((size_t)cap, sizeof *s->order);
    s->dom_count = calloc((size_t)cap, sizeof *s->dom_count);
    s->front_buf = calloc((size_t)cap, sizeof *s->front_buf);
    s->crowd = calloc((size_t)cap, sizeof *s->crowd);
    s->dominates = calloc((size_t)cap * (size_t)cap, 1);
    ASSERT(s->pop && s->next && s->rank && s->order && s->dom_count && s->front_buf &&
           s->crowd && s->dominates);
    return 0;
}

void search_done(Search *s)
{
    free(s->pop);
    free(s->next);
    free(s->rank);
    free(s->order);
    free(s->dom_count);
    free(s->front_buf);
    free(s->crowd);
    free(s->dominates);
    free(s->archive);
    free(s->table);
    free(s->changes);
    memset(s, 0, sizeof *s);
}

int search_finished(const Search *s)
{
    return s->generation >= s->cfg.iterations;
}

/* ---- archive and cache --------------------------------------------------------------------- */

static int table_find(const Search *s, const Arch *a, uint64_t h)
{
    if (!s->table_cap)
        return -1;
    for (size_t i = h & (size_t)(s->table_cap - 1);; i = (i + 1) & (size_t)(s->table_cap - 1)) {
        int k = s->table[i];
        if (k < 0)
            return -1;
        if (s->archive[k].hash == h && arch_equal(&s->archive[k].arch, a))
            return k;
    }
}

static void table_insert(Search *s, int k)
{
    size_t i = s->archive[k].hash & (size_t)(s->table_cap - 1);
    while (s->table[i] >= 0)
        i = (i + 1) & (size_t)(s->table_cap - 1);
    s->table[i] = k;
}

/* Keeps the table at most half full (rebuilding it when it grows). */
static void table_reserve(Search *s, int n)
{
    if (2 * n <= s->table_cap)
        return;
    int cap = s->table_cap ? s->table_cap : 256;
    while (2 * n > cap)
        cap *= 2;
    free(s->table);
    s->table = malloc((size_t)cap * sizeof *s->table);
    ASSERT(s->table);
    s->table_cap = cap;
    for (int i = 0; i < cap; i++)
        s->table[i] = -1;
    for (int k = 0; k < s->narchive; k++)
        table_insert(s, k);
}

int search_archive_add(Search *s, const SearchRecord *r)
{
    if (s->narchive == s->archive_cap) {
        s->archive_cap = s->archive_cap ? 2 * s->archive_cap : 256;
        s->archive = realloc(s->archive, (size_t)s->archive_cap * sizeof *s->archive);
        ASSERT(s->archive);
    }
    table_reserve(s, s->narchive + 1);
    s->archive[s->narchive] = *r;
    s->archive[s->narchive].hash = arch_hash(&r->arch);
    table_insert(s, s->narchive);
    return s->narchive++;
}

/* The archive index for a, scoring it if it was never seen. */
static int search_eval(Search *s, const Arch *a, double pred_ms, MosErr *err)
{
    int k = table_find(s, a, arch_hash(a));
    if (k >= 0)
        return k;
    double f = s->fitness(s->fitness_ctx, a);
    s->evaluations++;
    if (!isfinite(f)) {
        char text[512];
        arch_format(a, text, sizeof text);
        return err_set(err, "search: fitness of %s is %g", text, f);
    }
    SearchRecord r = { .arch = *a, .pred_ms = pred_ms, .measured_ms = NAN, .valid_loss = f,
                       .bleu = NAN, .generation = s->generation + 1,
                       .target_ms = s->target_ms };
    return search_archive_add(s, &r);
}

void search_set_measured(Search *s, int idx, double measured_ms)
{
    ASSERT(idx >= 0 && idx < s->narchive);
    s->archive[idx].measured_ms = measured_ms;
}

void search_set_bleu(Search *s, int idx, double bleu)
{
    ASSERT(idx >= 0 && idx < s->narchive);
    s->archive[idx].bleu = bleu;
}

/* ---- candidates ---------------------------------------------------------------------------- */

static int under_target(const Search *s, double pred_ms)
{
    return s->target_ms <= 0 || pred_ms <= s->target_ms;
}

static int no_candidate(const Search *s, const char *what, int draws, double fastest,
                        MosErr *err)
{
    return err_set(err, "search: no %s under the %.4g ms target in %d draws (the fastest drawn "
                   "was %.4g ms); raise --target-ms", what, s->target_ms, draws, fastest);
}

/* A fresh uniform candidate under the target (HAT's rejection sampling). */
static int draw_random(Search *s, Arch *a, double *pred, MosErr *err)
{
    double fastest = INFINITY;
    for (int d = 0; d < s->cfg.max_draws; d++) {
        arch_sample(&s->space, &s->rng, a);
        *pred = s->latency(s->latency_ctx, a);
        if (under_target(s, *pred))
            return 0;
        fastest = *pred < fastest ? *pred : fastest;
    }
    return no_candidate(s, "random architecture", s->cfg.max_draws, fastest, err);
}

/* Adds a fresh random member to next[*n], scored. */
static int add_random(Search *s, SearchMember *next, int *n, MosErr *err)
{
    Arch a;
    double pred = 0;
    if (draw_random(s, &a, &pred, err))
        return -1;
    int k = search_eval(s, &a, pred, err);
    if (k < 0)
        return -1;
    next[*n].arch = a;
    next[*n].idx = k;
    (*n)++;
    return 0;
}

static int initial_population(Search *s, MosErr *err)
{
    int n = 0;
    while (n < s->cfg.population)
        if (add_random(s, s->pop, &n, err))
            return -1;
    s->npop = n;
    return 0;
}

/* ---- HAT's evolutionary search ------------------------------------------------------------- */

typedef struct Ranked {
    double key;
    int pos;
} Ranked;

static int ranked_cmp(const void *x, const void *y)
{
    const Ranked *a = x, *b = y;
    if (a->key != b->key)
        return a->key < b->key ? -1 : 1;
    return a->pos - b->pos;
}

/* Sorts the population by fitness, ties by position (deterministic). */
static void sort_by_fitness(Search *s)
{
    Ranked r[s->pop_cap];
    for (int i = 0; i < s->npop; i++)
        r[i] = (Ranked){ s->archive[s->pop[i].idx].valid_loss, i };
    qsort(r, (size_t)s->npop, sizeof *r, ranked_cmp);
    for (int i = 0; i < s->npop; i++)
        s->next[i] = s->pop[r[i].pos];
    memcpy(s->pop, s->next, (size_t)s->npop * sizeof *s->pop);
}

/* Makes `count` children with op (0: mutation of one random parent, 1: crossover of two distinct
 * random parents), each under the target, appended to next[*n]. */
static int evo_children(Search *s, int nparents, int count, int op, int *n, MosErr *err)
{
    double fastest = INFINITY;
    int draws = 0;
    for (int made = 0; made < count;) {
        if (draws++ >= s->cfg.max_draws * count)
            return no_candidate(s, op ? "crossover" : "mutation", draws - 1, fastest, err);
        Arch c;
        int i = (int)rng_below(&s->rng, (uint32_t)nparents);
        if (op == 0) {
            arch_mutate(&s->space, &s->rng, s->cfg.mutate_prob, &s->pop[i].arch, &c);
        } else {
            int j = i;
            while (nparents > 1 && j == i)
                j = (int)rng_below(&s->rng, (uint32_t)nparents);
            arch_crossover(&s->space, &s->rng, &s->pop[i].arch, &s->pop[j].arch, &c);
        }
        double pred = s->latency(s->latency_ctx, &c);
        if (!under_target(s, pred)) {
            fastest = pred < fastest ? pred : fastest;
            continue;
        }
        s->next[*n] = (SearchMember){ c, -1 };
        s->crowd[*n] = pred;   /* scratch: the prediction, kept until scoring */
        (*n)++;
        made++;
    }
    return 0;
}

static int evo_generation(Search *s, MosErr *err)
{
    sort_by_fitness(s);
    int nparents = s->cfg.parents < s->npop ? s->cfg.parents : s->npop;
    int n = nparents;
    memcpy(s->next, s->pop, (size_t)nparents * sizeof *s->next);
    if (evo_children(s, nparents, s->cfg.mutations, 0, &n, err) ||
        evo_children(s, nparents, s->cfg.crossovers, 1, &n, err))
        return -1;
    for (int i = nparents; i < n; i++) {
        int k = search_eval(s, &s->next[i].arch, s->crowd[i], err);
        if (k < 0)
            return -1;
        s->next[i].idx = k;
    }
    memcpy(s->pop, s->next, (size_t)n * sizeof *s->pop);
    s->npop = n;
    return 0;
}

/* ---- NSGA-II ------------------------------------------------------------------------------- */

static void objectives(const Search *s, const SearchMember *m, double o[2])
{
    o[0] = s->archive[m->idx].pred_ms;
    o[1] = s->archive[m->idx].valid_loss;
}

static int dominates(const double a[2], const double b[2])
{
    return a[0] <= b[0] && a[1] <= b[1] && (a[0] < b[0] || a[1] < b[1]);
}

/* Fast non-dominated sort of m[0..n): rank[i] (0 = the front), returns the number of fronts.
 * order[] receives the members front by front. */
static int nondominated_sort(Search *s, const SearchMember *m, int n)
{
    unsigned char *D = s->dominates;
    for (int i = 0; i < n; i++) {
        double oi[2];
        objectives(s, &m[i], oi);
        s->dom_count[i] = 0;
        for (int j = 0; j < n; j++) {
            double oj[2];
            objectives(s, &m[j], oj);
            D[(size_t)i * n + j] = (unsigned char)dominates(oi, oj);
        }
    }
    for (int j = 0; j < n; j++)
        for (int i = 0; i < n; i++)
            s->dom_count[j] += D[(size_t)i * n + j];
    int placed = 0, fronts = 0;
    while (placed < n) {
        int start = placed;
        for (int i = 0; i < n; i++)
            if (s->dom_count[i] == 0) {
                s->rank[i] = fronts;
                s->order[placed++] = i;
                s->dom_count[i] = -1;
            }
        for (int q = start; q < placed; q++)
            for (int j = 0; j < n; j++)
                if (D[(size_t)s->order[q] * n + j])
                    s->dom_count[j]--;
        fronts++;
    }
    return fronts;
}

/* Crowding distance of the members order[a..b) (one front) into crowd[]. */
static void crowding(Search *s, const SearchMember *m, int a, int b)
{
    int n = b - a;
    for (int q = a; q < b; q++)
        s->crowd[s->order[q]] = 0;
    if (n <= 2) {
        for (int q = a; q < b; q++)
            s->crowd[s->order[q]] = INFINITY;
        return;
    }
    Ranked r[n];
    for (int k = 0; k < 2; k++) {
        for (int q = 0; q < n; q++) {
            double o[2];
            objectives(s, &m[s->order[a + q]], o);
            r[q] = (Ranked){ o[k], s->order[a + q] };
        }
        qsort(r, (size_t)n, sizeof *r, ranked_cmp);
        double span = r[n - 1].key - r[0].key;
        s->crowd[r[0].pos] = s->crowd[r[n - 1].pos] = INFINITY;
        for (int q = 1; q < n - 1; q++)
            if (span > 0)
                s->crowd[r[q].pos] += (r[q + 1].key - r[q - 1].key) / span;
    }
}

/* Ranks and crowding for m[0..n); returns the number of fronts. */
static int rank_and_crowd(Search *s, const SearchMember *m, int n)
{
    int fronts = nondominated_sort(s, m, n);
    for (int a = 0; a < n;) {
        int b = a;
        while (b < n && s->rank[s->order[b]] == s->rank[s->order[a]])
            b++;
        crowding(s, m, a, b);
        a = b;
    }
    return fronts;
}

/* Binary tournament on the current population's rank, then crowding. */
static int tournament(Search *s)
{
    int i = (int)rng_below(&s->rng, (uint32_t)s->npop);
    int j = (int)rng_below(&s->rng, (uint32_t)s->npop);
    if (s->rank[i] != s->rank[j])
        return s->rank[i] < s->rank[j] ? i : j;
    return s->crowd[j] > s->crowd[i] ? j : i;
}

static int member_has(const SearchMember *m, int n, const Arch *a)
{
    for (int i = 0; i < n; i++)
        if (arch_equal(&m[i].arch, a))
            return 1;
    return 0;
}

/* One offspring under the target, preferring archs in neither population nor offspring (after
 * max_draws tries a duplicate is accepted; the union removes it). */
static int nsga2_child(Search *s, int mutate, SearchMember *off, int noff, MosErr *err)
{
    double fastest = INFINITY;
    int have_dup = 0;
    Arch dup = s->pop[0].arch;
    for (int d = 0; d < s->cfg.max_draws; d++) {
        Arch c;
        if (mutate) {
            arch_mutate(&s->space, &s->rng, s->cfg.mutate_prob, &s->pop[tournament(s)].arch, &c);
        } else {
            int i = tournament(s), j = tournament(s);
            arch_crossover(&s->space, &s->rng, &s->pop[i].arch, &s->pop[j].arch, &c);
        }
        double pred = s->latency(s->latency_ctx, &c);
        if (!under_target(s, pred)) {
            fastest = pred < fastest ? pred : fastest;
            continue;
        }
        if (member_has(s->pop, s->npop, &c) || member_has(off, noff, &c)) {
            if (!have_dup)
                dup = c;
            have_dup = 1;
            continue;
        }
        off[noff] = (SearchMember){ c, -1 };
        return 0;
    }
    if (!have_dup)
        return no_candidate(s, "offspring", s->cfg.max_draws, fastest, err);
    off[noff] = (SearchMember){ dup, -1 };
    return 0;
}

static int nsga2_generation(Search *s, MosErr *err)
{
    rank_and_crowd(s, s->pop, s->npop);
    int noff = s->cfg.population;
    int nmut = (int)lround((double)noff * s->cfg.mutations /
                           (s->cfg.mutations + s->cfg.crossovers));
    SearchMember *u = s->next;   /* union: population then offspring */
    memcpy(u, s->pop, (size_t)s->npop * sizeof *u);
    for (int i = 0; i < noff; i++)
        if (nsga2_child(s, i < nmut, u + s->npop, i, err))
            return -1;
    int n = s->npop;
    for (int i = 0; i < noff; i++) {
        SearchMember *c = &u[s->npop + i];
        int k = search_eval(s, &c->arch, s->latency(s->latency_ctx, &c->arch), err);
        if (k < 0)
            return -1;
        c->idx = k;
        if (!member_has(u, n, &c->arch))
            u[n++] = *c;
    }
    /* environmental selection: whole fronts, the last one by crowding distance */
    rank_and_crowd(s, u, n);
    int keep = n < s->cfg.population ? n : s->cfg.population;
    Ranked r[n];
    for (int i = 0; i < n; i++)
        r[i] = (Ranked){ s->rank[i] - (isinf(s->crowd[i]) ? 0.5 : 0.5 * s->crowd[i] /
                                        (1.0 + s->crowd[i])), i };
    qsort(r, (size_t)n, sizeof *r, ranked_cmp);
    for (int i = 0; i < keep; i++)
        s->pop[i] = u[r[i].pos];
    s->npop = keep;
    return 0;
}

/* ---- steps, target, results ---------------------------------------------------------------- */

int search_step(Search *s, MosErr *err)
{
    if (search_finished(s))
        return 1;
    int rc;
    if (s->generation < 0)
        rc = initial_population(s, err);
    else if (s->cfg.algo == SEARCH_EVO)
        rc = evo_generation(s, err);
    else
        rc = nsga2_generation(s, err);
    if (rc)
        return -1;
    s->generation++;
    return search_finished(s);
}

int search_set_target(Search *s, double target_ms, MosErr *err)
{
    double old = s->target_ms;
    s->target_ms = target_ms;
    int n = 0, removed = 0;
    for (int i = 0; i < s->npop; i++) {
        if (under_target(s, s->archive[s->pop[i].idx].pred_ms))
            s->next[n++] = s->pop[i];
        else
            removed++;
    }
    int want = s->generation < 0 ? 0 : s->npop;
    while (n < want)
        if (add_random(s, s->next, &n, err)) {
            s->target_ms = old;
            return -1;
        }
    memcpy(s->pop, s->next, (size_t)n * sizeof *s->pop);
    s->npop = n;
    if (s->nchanges == s->changes_cap) {
        s->changes_cap = s->changes_cap ? 2 * s->changes_cap : 8;
        s->changes = realloc(s->changes, (size_t)s->changes_cap * sizeof *s->changes);
        ASSERT(s->changes);
    }
    s->changes[s->nchanges++] = (SearchTargetChange){ s->generation < 0 ? 0 : s->generation,
                                                       old, target_ms, removed };
    return 0;
}

int search_best(const Search *s)
{
    int best = -1;
    for (int i = 0; i < s->npop; i++) {
        const SearchRecord *r = &s->archive[s->pop[i].idx];
        if (!under_target(s, r->pred_ms))
            continue;
        if (best < 0 || r->valid_loss < s->archive[best].valid_loss)
            best = s->pop[i].idx;
    }
    return best;
}

static int front_cmp(const void *x, const void *y)
{
    const double *a = x, *b = y;   /* {latency, loss, index} */
    for (int k = 0; k < 3; k++)
        if (a[k] != b[k])
            return a[k] < b[k] ? -1 : 1;
    return 0;
}

int search_front(const Search *s, int *idx, int max)
{
    int n = 0;
    double (*f)[3] = malloc((size_t)(s->npop ? s->npop : 1) * sizeof *f);
    ASSERT(f);
    for (int i = 0; i < s->npop; i++) {
        const SearchRecord *r = &s->archive[s->pop[i].idx];
        if (!under_target(s, r->pred_ms))
            continue;
        int dominated = 0, seen = 0;
        for (int j = 0; j < s->npop && !dominated; j++) {
            const SearchRecord *q = &s->archive[s->pop[j].idx];
            double oq[2] = { q->pred_ms, q->valid_loss }, orr[2] = { r->pred_ms, r->valid_loss };
            dominated = under_target(s, q->pred_ms) && dominates(oq, orr);
            seen |= j < i && s->pop[j].idx == s->pop[i].idx;
        }
        if (!dominated && !seen)
            f[n][0] = r->pred_ms, f[n][1] = r->valid_loss, f[n][2] = s->pop[i].idx, n++;
    }
    qsort(f, (size_t)n, sizeof *f, front_cmp);
    for (int i = 0; i < n && i < max; i++)
        idx[i] = (int)f[i][2];
    free(f);
    return n;
}

int search_run(Search *s, const char *dir, SearchEventFn fn, void *ctx, MosErr *err)
{
    int *front = malloc((size_t)s->pop_cap * sizeof *front);
    ASSERT(front);
    int rc = 0;
    while (!search_finished(s) && rc == 0) {
        int before = s->evaluations;
        if (search_step(s, err) < 0) {
            rc = -1;
            break;
        }
        SearchEvent e = { s->generation, s->cfg.iterations, s->narchive,
                          s->evaluations - before, search_best(s), 0, front, s->target_ms };
        e.nfront = search_front(s, front, s->pop_cap);
        if (fn && fn(ctx, s, &e))
            rc = 1;
        if (dir && search_save(s, dir, err))
            rc = -1;
    }
    free(front);
    return rc;
}
