/* Search on synthetic objectives with known optima: the evolutionary search finds the exact
 * constrained optimum of an enumerable space, NSGA-II's front equals the true Pareto front, a
 * seed gives the same search, a saved search resumes to the same result as an uninterrupted one,
 * a target change re-filters the population, and no architecture is scored twice. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "search.h"

typedef struct Counter {
    int calls;
} Counter;

static double lg(int v)
{
    return log2((double)v / 256.0);
}

/* Lower is better: more capacity helps, with per-layer weights so ties are rare. */
static double loss_fn(void *ctx, const Arch *a)
{
    if (ctx)
        ((Counter *)ctx)->calls++;
    double g = 0.4 * (a->enc_embed == 256) + 0.5 * (a->dec_embed == 256);
    for (int l = 0; l < a->enc_layers; l++)
        g += 0.3 * lg(a->enc_ffn[l]) * (1 + 0.07 * l) + 0.05 * (a->enc_heads[l] == 4);
    for (int l = 0; l < a->dec_layers; l++)
        g += lg(a->dec_ffn[l]) * (0.5 + 0.05 * l) + 0.2 * (a->dec_self_heads[l] == 4) +
             0.1 * (a->dec_arbitrary[l] == 1) + 0.6;
    return 10.0 - g;
}

static double latency_fn(void *ctx, const Arch *a)
{
    (void)ctx;
    double t = 1.0 + a->enc_embed / 256.0 + 1.5 * a->dec_embed / 256.0;
    for (int l = 0; l < a->enc_layers; l++)
        t += 0.7 * a->enc_ffn[l] / 1024.0 + 0.01 * a->enc_heads[l];
    for (int l = 0; l < a->dec_layers; l++)
        t += a->dec_ffn[l] / 1024.0 * (1 + 0.03 * l) + 0.3 * a->dec_self_heads[l] / 4.0 +
             0.2 * (a->dec_arbitrary[l] == 1) + 0.8;
    return t;
}

/* A front of a few dozen points: loss falls with a coarse capacity, latency grows with it;
 * 4 decoder self heads trade a little latency for a little loss; FFN 768, encoder FFN 1024 and
 * arbitrary code 1 only cost latency (never on the front). */
static int capacity(const Arch *a)
{
    int c = 2 * a->dec_layers + (a->dec_embed == 256);
    for (int l = 0; l < a->dec_layers; l++)
        c += a->dec_ffn[l] == 1024;
    return c;
}

static int count_eq(const int *v, int n, int x)
{
    int k = 0;
    for (int i = 0; i < n; i++)
        k += v[i] == x;
    return k;
}

static double front_loss(void *ctx, const Arch *a)
{
    (void)ctx;
    return 10.0 - capacity(a) - 0.01 * count_eq(a->dec_self_heads, a->dec_layers, 4);
}

static double front_latency(void *ctx, const Arch *a)
{
    (void)ctx;
    return capacity(a) + 0.02 * count_eq(a->dec_self_heads, a->dec_layers, 4) +
           0.5 * count_eq(a->dec_ffn, a->dec_layers, 768) +
           0.3 * count_eq(a->enc_ffn, a->enc_layers, 1024) +
           0.1 * count_eq(a->dec_arbitrary, a->dec_layers, 1) + 0.25 * (a->enc_embed == 256);
}

static void set(Choices *c, int n, const int *v)
{
    c->n = n;
    memcpy(c->v, v, (size_t)n * sizeof *v);
}

/* About 30,000 active architectures. */
static SearchSpace medium_space(void)
{
    SearchSpace s;
    arch_space_default(&s);
    s.enc_layers_max = 2;
    set(&s.enc_layers, 1, (const int[]){2});
    set(&s.enc_ffn, 2, (const int[]){1024, 512});
    set(&s.enc_heads, 1, (const int[]){4});
    set(&s.dec_layers, 3, (const int[]){1, 2, 3});
    set(&s.dec_ende_heads, 1, (const int[]){4});
    set(&s.dec_arbitrary, 2, (const int[]){-1, 1});
    return s;
}

typedef void (*Visit)(void *ctx, const Arch *a);

/* Every active architecture of the space (inactive slots copy the last active layer). */
static void enumerate_layers(const SearchSpace *s, Arch *a, int l, Visit f, void *ctx)
{
    if (l == a->enc_layers + a->dec_layers) {
        f(ctx, a);
        return;
    }
    if (l < a->enc_layers) {
        for (int i = 0; i < s->enc_ffn.n; i++)
            for (int j = 0; j < s->enc_heads.n; j++) {
                a->enc_ffn[l] = s->enc_ffn.v[i];
                a->enc_heads[l] = s->enc_heads.v[j];
                enumerate_layers(s, a, l + 1, f, ctx);
            }
        return;
    }
    int d = l - a->enc_layers;
    for (int i = 0; i < s->dec_ffn.n; i++)
        for (int j = 0; j < s->dec_self_heads.n; j++)
            for (int k = 0; k < s->dec_ende_heads.n; k++)
                for (int m = 0; m < s->dec_arbitrary.n; m++) {
                    a->dec_ffn[d] = s->dec_ffn.v[i];
                    a->dec_self_heads[d] = s->dec_self_heads.v[j];
                    a->dec_ende_heads[d] = s->dec_ende_heads.v[k];
                    a->dec_arbitrary[d] = s->dec_arbitrary.v[m];
                    enumerate_layers(s, a, l + 1, f, ctx);
                }
}

static void enumerate(const SearchSpace *s, Visit f, void *ctx)
{
    Arch a;
    memset(&a, 0, sizeof a);
    for (int e = 0; e < s->enc_embed.n; e++)
        for (int d = 0; d < s->dec_embed.n; d++)
            for (int el = 0; el < s->enc_layers.n; el++)
                for (int dl = 0; dl < s->dec_layers.n; dl++) {
                    a.enc_embed = s->enc_embed.v[e];
                    a.dec_embed = s->dec_embed.v[d];
                    a.enc_layers = s->enc_layers.v[el];
                    a.dec_layers = s->dec_layers.v[dl];
                    enumerate_layers(s, &a, 0, f, ctx);
                }
}

typedef struct Points {
    int n, cap;
    double (*p)[2];
    double target;
    double best;
} Points;

static void collect(void *ctx, const Arch *a)
{
    Points *pts = ctx;
    double lat = latency_fn(NULL, a), loss = loss_fn(NULL, a);
    if (pts->n == pts->cap) {
        pts->cap = pts->cap ? 2 * pts->cap : 1024;
        pts->p = realloc(pts->p, (size_t)pts->cap * sizeof *pts->p);
    }
    pts->p[pts->n][0] = lat;
    pts->p[pts->n][1] = loss;
    pts->n++;
    if (lat <= pts->target && loss < pts->best)
        pts->best = loss;
}

static int run_to_end(Search *s, const char *dir)
{
    MosErr err = {{0}};
    int rc;
    while ((rc = search_step(s, &err)) == 0)
        if (dir && search_save(s, dir, &err))
            fail_msg("%s", err.msg);
    if (rc < 0)
        fail_msg("%s", err.msg);
    return rc;
}

static void evo_finds_constrained_optimum(void **state)
{
    (void)state;
    SearchSpace sp = medium_space();
    Points pts = { .target = 9.0, .best = INFINITY };
    enumerate(&sp, collect, &pts);
    assert_int_equal(pts.n, 4 * 4 * (12 + 144 + 1728));
    SearchConfig cfg;
    search_config_default(&cfg);
    cfg.target_ms = pts.target;
    Counter c = { 0 };
    Search s;
    MosErr err = {{0}};
    assert_int_equal(search_init(&s, &sp, &cfg, loss_fn, &c, latency_fn, NULL, &err), 0);
    run_to_end(&s, NULL);
    assert_int_equal(s.generation, 30);
    int best = search_best(&s);
    assert_true(best >= 0);
    assert_true(s.archive[best].pred_ms <= pts.target);
    if (s.archive[best].valid_loss != pts.best)
        fail_msg("evo best %.9g, true constrained optimum %.9g", s.archive[best].valid_loss,
                 pts.best);
    /* every member respects the target; no arch was scored twice */
    for (int i = 0; i < s.npop; i++) {
        assert_true(s.archive[s.pop[i].idx].pred_ms <= pts.target);
        assert_int_equal(arch_validate(&sp, &s.pop[i].arch, &err), 0);
        assert_true(arch_equal(&s.pop[i].arch, &s.archive[s.pop[i].idx].arch));
    }
    assert_int_equal(c.calls, s.narchive);
    print_message("evo: optimum %.6f found, %d of %d archs evaluated\n", pts.best, s.narchive,
                  pts.n);
    for (int i = 0; i < s.narchive; i++)
        for (int j = i + 1; j < s.narchive; j++)
            assert_false(arch_equal(&s.archive[i].arch, &s.archive[j].arch));
    search_done(&s);
    free(pts.p);
}

/* Distinct objective points of a set, for comparing fronts (several archs share a point). */
typedef struct PointSet {
    int n;
    double p[512][2];
} PointSet;

static void point_add(PointSet *ps, double lat, double loss)
{
    for (int i = 0; i < ps->n; i++)
        if (ps->p[i][0] == lat && ps->p[i][1] == loss)
            return;
    assert_true(ps->n < 512);
    ps->p[ps->n][0] = lat;
    ps->p[ps->n][1] = loss;
    ps->n++;
}

typedef struct AllPoints {
    int n, cap;
    double (*p)[2];
} AllPoints;

static void collect_front(void *ctx, const Arch *a)
{
    AllPoints *all = ctx;
    if (all->n == all->cap) {
        all->cap = all->cap ? 2 * all->cap : 1024;
        all->p = realloc(all->p, (size_t)all->cap * sizeof *all->p);
    }
    all->p[all->n][0] = front_latency(NULL, a);
    all->p[all->n][1] = front_loss(NULL, a);
    all->n++;
}

static int on_front(const AllPoints *all, double lat, double loss)
{
    for (int i = 0; i < all->n; i++) {
        const double *q = all->p[i];
        if (q[0] <= lat && q[1] <= loss && (q[0] < lat || q[1] < loss))
            return 0;
    }
    return 1;
}

static void nsga2_finds_true_front(void **state)
{
    (void)state;
    SearchSpace sp = medium_space();
    AllPoints all = { 0 };
    enumerate(&sp, collect_front, &all);
    PointSet truth = { 0 }, found = { 0 };
    for (int i = 0; i < all.n; i++)
        if (on_front(&all, all.p[i][0], all.p[i][1]))
            point_add(&truth, all.p[i][0], all.p[i][1]);
    assert_true(truth.n > 15);
    SearchConfig cfg;
    search_config_default(&cfg);
    cfg.algo = SEARCH_NSGA2;
    cfg.population = 60;
    cfg.iterations = 40;
    Search s;
    MosErr err = {{0}};
    assert_int_equal(search_init(&s, &sp, &cfg, front_loss, NULL, front_latency, NULL, &err),
                     0);
    run_to_end(&s, NULL);
    int idx[200];
    int n = search_front(&s, idx, 200);
    assert_true(n <= 200);
    for (int i = 0; i < n; i++) {
        const SearchRecord *r = &s.archive[idx[i]];
        assert_true(on_front(&all, r->pred_ms, r->valid_loss));
        point_add(&found, r->pred_ms, r->valid_loss);
        if (i)
            assert_true(r->pred_ms >= s.archive[idx[i - 1]].pred_ms);
    }
    if (found.n != truth.n)
        fail_msg("front has %d points, the true front %d (evaluated %d of %d archs)", found.n,
                 truth.n, s.narchive, all.n);
    print_message("front: %d points found = true front, %d of %d archs evaluated\n", found.n,
                  s.narchive, all.n);
    assert_true(s.narchive < all.n / 5);   /* found by search, not by exhausting the space */
    search_done(&s);
    free(all.p);
}

static void same_archive(const Search *a, const Search *b)
{
    assert_int_equal(a->narchive, b->narchive);
    for (int i = 0; i < a->narchive; i++) {
        assert_true(arch_equal(&a->archive[i].arch, &b->archive[i].arch));
        assert_true(a->archive[i].valid_loss == b->archive[i].valid_loss);
        assert_true(a->archive[i].pred_ms == b->archive[i].pred_ms);
        assert_int_equal(a->archive[i].generation, b->archive[i].generation);
    }
    assert_int_equal(a->npop, b->npop);
    for (int i = 0; i < a->npop; i++) {
        assert_int_equal(a->pop[i].idx, b->pop[i].idx);
        assert_memory_equal(&a->pop[i].arch, &b->pop[i].arch, sizeof(Arch));
    }
    assert_memory_equal(&a->rng, &b->rng, sizeof(Rng));
    assert_int_equal(search_best(a), search_best(b));
}

static void deterministic_and_resumes_exactly(void **state)
{
    (void)state;
    SearchSpace sp;
    arch_space_default(&sp);
    for (int algo = 0; algo < SEARCH_ALGO_COUNT; algo++) {
        SearchConfig cfg;
        search_config_default(&cfg);
        cfg.algo = (SearchAlgo)algo;
        cfg.population = 40;
        cfg.parents = 10;
        cfg.mutations = cfg.crossovers = 15;
        cfg.iterations = 8;
        cfg.target_ms = 12.0;
        cfg.seed = 77;
        MosErr err = {{0}};
        Search a, b, c;
        assert_int_equal(search_init(&a, &sp, &cfg, loss_fn, NULL, latency_fn, NULL, &err), 0);
        assert_int_equal(search_init(&b, &sp, &cfg, loss_fn, NULL, latency_fn, NULL, &err), 0);
        run_to_end(&a, NULL);
        run_to_end(&b, NULL);
        same_archive(&a, &b);
        search_done(&b);

        /* stop after 3 generations, reload into a fresh search, finish */
        char dir[] = "/tmp/mos-search-XXXXXX";
        assert_non_null(mkdtemp(dir));
        assert_int_equal(search_init(&b, &sp, &cfg, loss_fn, NULL, latency_fn, NULL, &err), 0);
        for (int g = 0; g < 4; g++) {
            assert_int_equal(search_step(&b, &err), 0);
            assert_int_equal(search_save(&b, dir, &err), 0);
        }
        search_done(&b);
        assert_int_equal(search_init(&c, &sp, &cfg, loss_fn, NULL, latency_fn, NULL, &err), 0);
        if (search_load(&c, dir, &err))
            fail_msg("%s", err.msg);
        assert_int_equal(c.generation, 3);
        int loaded = c.narchive;
        run_to_end(&c, dir);
        same_archive(&a, &c);
        assert_int_equal(c.evaluations, c.narchive - loaded);   /* the cache survived */
        search_done(&c);

        /* a different seed or space is refused */
        SearchConfig other = cfg;
        other.seed = 78;
        assert_int_equal(search_init(&c, &sp, &other, loss_fn, NULL, latency_fn, NULL, &err), 0);
        assert_int_equal(search_load(&c, dir, &err), -1);
        assert_non_null(strstr(err.msg, "seed"));
        search_done(&c);
        SearchSpace sp2 = sp;
        sp2.dec_layers.n = 3;
        assert_int_equal(search_init(&c, &sp2, &cfg, loss_fn, NULL, latency_fn, NULL, &err), 0);
        assert_int_equal(search_load(&c, dir, &err), -1);
        assert_non_null(strstr(err.msg, "another search space"));
        search_done(&c);
        search_done(&a);
        char cmd[128];
        snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
        assert_int_equal(system(cmd), 0);
    }
}

static void target_change_refilters(void **state)
{
    (void)state;
    SearchSpace sp;
    arch_space_default(&sp);
    SearchConfig cfg;
    search_config_default(&cfg);
    cfg.iterations = 6;
    cfg.target_ms = 14.0;
    Search s;
    MosErr err = {{0}};
    assert_int_equal(search_init(&s, &sp, &cfg, loss_fn, NULL, latency_fn, NULL, &err), 0);
    for (int g = 0; g < 3; g++)
        assert_int_equal(search_step(&s, &err), 0);
    int over = 0;
    for (int i = 0; i < s.npop; i++)
        over += s.archive[s.pop[i].idx].pred_ms > 9.0;
    assert_true(over > 0);
    int before = s.narchive;
    assert_int_equal(search_set_target(&s, 9.0, &err), 0);
    assert_int_equal(s.npop, cfg.population);
    for (int i = 0; i < s.npop; i++)
        assert_true(s.archive[s.pop[i].idx].pred_ms <= 9.0);
    assert_int_equal(s.nchanges, 1);
    assert_int_equal(s.changes[0].generation, 2);
    assert_true(s.changes[0].old_ms == 14.0 && s.changes[0].new_ms == 9.0);
    assert_int_equal(s.changes[0].removed, over);
    run_to_end(&s, NULL);
    for (int i = before; i < s.narchive; i++) {
        assert_true(s.archive[i].target_ms == 9.0);
        assert_true(s.archive[i].pred_ms <= 9.0);
    }
    assert_true(s.archive[search_best(&s)].pred_ms <= 9.0);
    /* the change survives a save and load */
    char dir[] = "/tmp/mos-search-XXXXXX";
    assert_non_null(mkdtemp(dir));
    assert_int_equal(search_save(&s, dir, &err), 0);
    Search t;
    assert_int_equal(search_init(&t, &sp, &cfg, loss_fn, NULL, latency_fn, NULL, &err), 0);
    assert_int_equal(search_load(&t, dir, &err), 0);
    assert_int_equal(t.nchanges, 1);
    assert_true(t.target_ms == 9.0);
    same_archive(&s, &t);
    /* an impossible target is refused with the reason and changes nothing */
    assert_int_equal(search_set_target(&t, 0.5, &err), -1);
    assert_non_null(strstr(err.msg, "raise --target-ms"));
    assert_true(t.target_ms == 9.0);
    search_done(&t);
    search_done(&s);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
}

typedef struct RunCtx {
    int stop_at;        /* stop after this generation (-1: never) */
    int change_at;      /* set the target to 9 ms after this generation */
    int events;
} RunCtx;

static int on_generation(void *ctx, Search *s, const SearchEvent *e)
{
    RunCtx *c = ctx;
    MosErr err = {{0}};
    c->events++;
    assert_int_equal(e->generation, s->generation);
    assert_true(e->nfront >= 1 && e->best >= 0);
    for (int i = 0; i < e->nfront; i++)
        assert_true(s->archive[e->front[i]].pred_ms <= e->target_ms);
    if (e->generation == c->change_at && search_set_target(s, 9.0, &err))
        fail_msg("%s", err.msg);
    return e->generation == c->stop_at;
}

static void run_stops_and_resumes_with_target_change(void **state)
{
    (void)state;
    SearchSpace sp;
    arch_space_default(&sp);
    SearchConfig cfg;
    search_config_default(&cfg);
    cfg.algo = SEARCH_NSGA2;
    cfg.population = 30;
    cfg.iterations = 7;
    cfg.target_ms = 13.0;
    MosErr err = {{0}};
    char dir[] = "/tmp/mos-search-XXXXXX";
    assert_non_null(mkdtemp(dir));
    Search a, b;
    RunCtx whole = { -1, 3, 0 }, first = { 4, 3, 0 }, rest = { -1, 3, 0 };
    assert_int_equal(search_init(&a, &sp, &cfg, front_loss, NULL, front_latency, NULL, &err), 0);
    assert_int_equal(search_run(&a, NULL, on_generation, &whole, &err), 0);
    assert_int_equal(whole.events, 8);
    assert_int_equal(search_init(&b, &sp, &cfg, front_loss, NULL, front_latency, NULL, &err), 0);
    assert_int_equal(search_run(&b, dir, on_generation, &first, &err), 1);
    assert_int_equal(b.generation, 4);
    search_done(&b);
    assert_int_equal(search_init(&b, &sp, &cfg, front_loss, NULL, front_latency, NULL, &err), 0);
    assert_int_equal(search_load(&b, dir, &err), 0);
    assert_int_equal(search_run(&b, dir, on_generation, &rest, &err), 0);
    assert_int_equal(first.events + rest.events, 8);
    same_archive(&a, &b);
    assert_int_equal(b.nchanges, 1);
    search_done(&a);
    search_done(&b);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
}

static double nan_fitness(void *ctx, const Arch *a)
{
    (void)ctx;
    return a->dec_layers == 3 ? NAN : 1.0;
}

static void bad_config_and_fitness(void **state)
{
    (void)state;
    SearchSpace sp;
    arch_space_default(&sp);
    SearchConfig cfg;
    search_config_default(&cfg);
    cfg.parents = 20;
    Search s;
    MosErr err = {{0}};
    assert_int_equal(search_init(&s, &sp, &cfg, loss_fn, NULL, latency_fn, NULL, &err), -1);
    assert_non_null(strstr(err.msg, "population 125 must equal parents 20"));
    search_config_default(&cfg);
    assert_int_equal(search_init(&s, &sp, &cfg, nan_fitness, NULL, latency_fn, NULL, &err), 0);
    assert_int_equal(search_step(&s, &err), -1);
    assert_non_null(strstr(err.msg, "fitness of enc="));
    search_done(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(evo_finds_constrained_optimum),
        cmocka_unit_test(nsga2_finds_true_front),
        cmocka_unit_test(deterministic_and_resumes_exactly),
        cmocka_unit_test(target_change_refilters),
        cmocka_unit_test(run_stops_and_resumes_with_target_change),
        cmocka_unit_test(bad_config_and_fitness),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
