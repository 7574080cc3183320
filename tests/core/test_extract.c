/* Choosing the subnet to extract from a search's front.json: a real NSGA-II search on synthetic
 * objectives writes the files, then --front K must give the K-th front point by latency and
 * --latency-ms X the lowest-loss point under X (checked against the front computed here), with
 * one-line errors for an index out of range, an unreachable budget and missing or bad files. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "extract.h"
#include "search.h"
#include "tiny_data.h"

static double fit_loss(void *ctx, const Arch *a)
{
    (void)ctx;
    return 10.0 - 0.004 * a->enc_embed - 0.003 * a->dec_embed - 0.2 * a->dec_layers -
           0.0005 * a->enc_ffn[0];
}

static double fit_ms(void *ctx, const Arch *a)
{
    (void)ctx;
    return 0.01 * a->enc_embed + 0.02 * a->dec_embed * a->dec_layers + 0.001 * a->dec_ffn[0];
}

typedef struct Fix {
    char dir[256];
    Search s;
    int front[512], nfront;
} Fix;

static int setup(void **state)
{
    Fix *f = calloc(1, sizeof *f);
    assert_non_null(tiny_tmpdir(f->dir, sizeof f->dir));
    SearchSpace sp;
    arch_space_default(&sp);
    SearchConfig c;
    search_config_default(&c);
    c.algo = SEARCH_NSGA2;
    c.population = 24;
    c.parents = 4;
    c.mutations = 10;
    c.crossovers = 10;
    c.iterations = 3;
    MosErr err = {{0}};
    assert_int_equal(search_init(&f->s, &sp, &c, fit_loss, NULL, fit_ms, NULL, &err), 0);
    assert_int_equal(search_run(&f->s, f->dir, NULL, NULL, &err), 0);
    f->nfront = search_front(&f->s, f->front, 512);
    assert_true(f->nfront >= 3);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    Fix *f = *state;
    search_done(&f->s);
    tiny_rmdir(f->dir);
    free(f);
    return 0;
}

static void test_front_index(void **state)
{
    Fix *f = *state;
    MosErr err = {{0}};
    for (int k = 0; k < f->nfront; k++) {
        FrontPoint p;
        assert_int_equal(extract_pick_front(f->dir, k, &p, &err), 0);
        const SearchRecord *r = &f->s.archive[f->front[k]];
        assert_true(arch_equal(&p.arch, &r->arch));
        assert_int_equal(p.index, f->front[k]);
        assert_true(fabs(p.pred_ms - r->pred_ms) < 1e-9 * (1 + r->pred_ms));
        if (k)
            assert_true(p.pred_ms >= f->s.archive[f->front[k - 1]].pred_ms);
    }
    FrontPoint p;
    assert_int_equal(extract_pick_front(f->dir, f->nfront, &p, &err), -1);
    assert_non_null(strstr(err.msg, "points (0 .. "));
    assert_int_equal(extract_pick_front(f->dir, -1, &p, &err), -1);
}

/* For every budget between the front's latencies the pick is the best point under it. */
static void test_latency_budget(void **state)
{
    Fix *f = *state;
    MosErr err = {{0}};
    for (int k = 0; k < f->nfront; k++) {
        double x = f->s.archive[f->front[k]].pred_ms + 1e-6;
        int best = -1;
        for (int i = 0; i < f->nfront; i++) {
            const SearchRecord *r = &f->s.archive[f->front[i]];
            if (r->pred_ms <= x && (best < 0 || r->valid_loss < f->s.archive[best].valid_loss))
                best = f->front[i];
        }
        FrontPoint p;
        assert_int_equal(extract_pick_latency(f->dir, x, &p, &err), 0);
        assert_int_equal(p.index, best);
        assert_true(p.pred_ms <= x);
    }
    FrontPoint p;
    double fastest = f->s.archive[f->front[0]].pred_ms;
    assert_int_equal(extract_pick_latency(f->dir, fastest * 0.5, &p, &err), -1);
    assert_non_null(strstr(err.msg, "no front point is that fast"));
}

static void test_bad_files(void **state)
{
    Fix *f = *state;
    MosErr err = {{0}};
    FrontPoint p;
    char path[400], missing[400];
    snprintf(missing, sizeof missing, "%s/none", f->dir);
    assert_int_equal(extract_pick_front(missing, 0, &p, &err), -1);
    assert_non_null(strstr(err.msg, "front.json: missing (run `mos search` first)"));
    snprintf(path, sizeof path, "%s/front.json", f->dir);
    FILE *fp = fopen(path, "w");
    fputs("{\"front\": [{\"arch\": \"enc=1\", \"pred_latency_ms\": 1, \"valid_loss\": 2}]}", fp);
    fclose(fp);
    assert_int_equal(extract_pick_latency(f->dir, 5, &p, &err), -1);
    assert_non_null(strstr(err.msg, "front[0]"));
    fp = fopen(path, "w");
    fputs("{\"front\": []}", fp);
    fclose(fp);
    assert_int_equal(extract_pick_front(f->dir, 0, &p, &err), -1);
    assert_non_null(strstr(err.msg, "the front is empty"));
    fp = fopen(path, "w");
    fputs("{\"front\": [", fp);
    fclose(fp);
    assert_int_equal(extract_pick_front(f->dir, 0, &p, &err), -1);
    assert_non_null(strstr(err.msg, "front.json:1:"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_front_index),
        cmocka_unit_test(test_latency_budget),
        cmocka_unit_test(test_bad_files),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
