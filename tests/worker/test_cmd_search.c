/* `mos search` end to end on a tiny trained supernet: after `mos latency`, an evolutionary and
 * an NSGA-II search write their archive, front and state; a second start without --resume is
 * refused and nothing is overwritten; --resume with more iterations continues the saved search;
 * the finished search's front points get measured latencies (search-measure, --measure 0: none),
 * and the worker publishes them;
 * without a predictor the command says to run `mos latency` first. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include <jansson.h>

#include "commands.h"
#include "config.h"
#include "tiny_data.h"
#include "train.h"

static char dir[512];

static int run(const Command *cmd, const char *fmt, ...)
{
    char line[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    char *argv[64];
    int argc = 0;
    for (char *t = strtok(line, " "); t && argc < 63; t = strtok(NULL, " "))
        argv[argc++] = t;
    Args args;
    MosErr err = {{0}};
    if (cli_parse(cmd, argc, argv, &args, &err) != 0)
        fail_msg("%s", err.msg);
    return cmd->run(&args);
}

static int setup(void **state)
{
    (void)state;
    if (!tiny_tmpdir(dir, sizeof dir) || tiny_data_write(dir, 200, 30, 30, 3) < 0)
        return -1;
    char cfgpath[700];
    snprintf(cfgpath, sizeof cfgpath, "%s/tests/data/tiny.yml", getenv("MOS_SOURCE_ROOT"));
    RunConfig rc;
    config_defaults(&rc);
    MosErr err = {{0}};
    if (config_load(cfgpath, &rc, NULL, &err) < 0)
        return -1;
    rc.train.max_update = 20;
    rc.train.save_every = 20;
    if (train_run(&rc, dir, 0, NULL, &err) < 0) {
        fprintf(stderr, "%s\n", err.msg);
        return -1;
    }
    /* the run's config, as mos train leaves it */
    char cmd[1600];
    snprintf(cmd, sizeof cmd, "cp %s %s/config.yml", cfgpath, dir);
    return system(cmd) == 0 ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    tiny_rmdir(dir);
    return 0;
}

static json_t *load(const char *name)
{
    char path[700];
    snprintf(path, sizeof path, "%s/search/%s", dir, name);
    json_t *j = json_load_file(path, 0, NULL);
    assert_non_null(j);
    return j;
}

static long mtime_ns(const char *name)
{
    char path[700];
    snprintf(path, sizeof path, "%s/search/%s", dir, name);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    return (long)st.st_mtim.tv_sec * 1000000000L + st.st_mtim.tv_nsec;
}

static void search_after_latency(void **state)
{
    (void)state;
    const char *small = "--population 12 --parents 4 --mutations 4 --crossovers 4 "
                        "--valid-sentences 10 --threads 1 --quiet";
    assert_int_equal(run(&cmd_search, "--run-dir %s %s --algo evo --iterations 2", dir, small), 1);
    assert_int_equal(run(&cmd_latency, "--run-dir %s --archs 20 --verify 0 --runs 2 --warmup 0 "
                                       "--fit-steps 50 --hidden 16 --quiet", dir), 0);
    assert_int_equal(run(&cmd_search, "--run-dir %s %s --algo evo --iterations 2", dir, small), 0);
    json_t *st = load("state.json");
    assert_int_equal(json_integer_value(json_object_get(st, "generation")), 2);
    size_t scored = json_array_size(json_object_get(st, "archive"));
    assert_true(scored >= 12);
    json_decref(st);
    json_t *front = load("front.json");
    assert_true(json_array_size(json_object_get(front, "front")) >= 1);
    json_t *p0 = json_array_get(json_object_get(front, "front"), 0);
    assert_true(json_number_value(json_object_get(p0, "valid_loss")) > 0);
    /* the config's search-measure (5) front points were timed when the search was done */
    size_t nf = json_array_size(json_object_get(front, "front")), timed = 0;
    for (size_t i = 0; i < nf; i++) {
        json_t *ms = json_object_get(json_array_get(json_object_get(front, "front"), i),
                                     "measured_latency_ms");
        if (json_is_number(ms)) {
            assert_true(json_number_value(ms) > 0);
            timed++;
        }
    }
    assert_int_equal(timed, nf < 5 ? nf : 5);
    json_decref(front);

    /* a fresh start over a saved search is refused, the files untouched */
    long before = mtime_ns("state.json");
    assert_int_equal(run(&cmd_search, "--run-dir %s %s --algo evo --iterations 2", dir, small), 1);
    assert_int_equal(mtime_ns("state.json"), before);
    /* --resume with more iterations continues; the scored subnets are kept */
    assert_int_equal(run(&cmd_search, "--run-dir %s %s --algo evo --iterations 4 --resume", dir,
                         small), 0);
    st = load("state.json");
    assert_int_equal(json_integer_value(json_object_get(st, "generation")), 4);
    assert_true(json_array_size(json_object_get(st, "archive")) >= scored);
    json_decref(st);
    /* another algorithm cannot resume this one */
    assert_int_equal(run(&cmd_search, "--run-dir %s %s --iterations 4 --resume --algo nsga2",
                         dir, small), 1);

    /* NSGA-II in a fresh search directory, with a latency limit */
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "mv %s/search %s/search-evo", dir, dir);
    assert_int_equal(system(cmd), 0);
    assert_int_equal(run(&cmd_search, "--run-dir %s %s --iterations 2 --algo nsga2 --measure 0",
                         dir, small), 0);
    front = load("front.json");
    json_t *pts = json_object_get(front, "front");
    double last = -1;
    for (size_t i = 0; i < json_array_size(pts); i++) {
        double ms = json_number_value(json_object_get(json_array_get(pts, i),
                                                      "pred_latency_ms"));
        assert_true(ms >= last);
        last = ms;
        /* --measure 0: nothing timed */
        assert_true(json_is_null(json_object_get(json_array_get(pts, i), "measured_latency_ms")));
    }
    json_decref(front);

    /* the worker's search stage, sized by the run config's search-* keys (default algo NSGA-II),
     * published as search/front events */
    snprintf(cmd, sizeof cmd, "mv %s/search %s/search-nsga2 && printf 'search-iterations: 3\\n"
             "search-population: 10\\nsearch-valid-sentences: 10\\n' >> %s/config.yml", dir, dir,
             dir);
    assert_int_equal(system(cmd), 0);
    snprintf(cmd, sizeof cmd, "%s/worker/mos worker --run-dir %s --stage search > %s/w.out 2>&1",
             getenv("MOS_BUILD_ROOT"), dir, dir);
    assert_int_equal(system(cmd), 0);
    snprintf(cmd, sizeof cmd, "%s/worker/mos watch --run-dir %s --jsonl > %s/events.jsonl",
             getenv("MOS_BUILD_ROOT"), dir, dir);
    assert_int_equal(system(cmd), 0);
    snprintf(cmd, sizeof cmd, "grep -c '\"front\"' %s/events.jsonl > /dev/null && "
             "grep -Eq '\"generation\":3[,}]' %s/events.jsonl && grep -q 'latency_pred_ms' "
             "%s/events.jsonl && grep -q '\"latency_ms\"' %s/events.jsonl", dir, dir, dir, dir);
    if (system(cmd) != 0) {
        snprintf(cmd, sizeof cmd, "cat %s/w.out %s/worker.log; head -c 3000 %s/events.jsonl",
                 dir, dir, dir);
        assert_int_equal(system(cmd), 0);
        fail_msg("the worker's search stage did not publish 3 generations with fronts and a "
                 "front with measured latencies");
    }
    st = load("state.json");
    assert_int_equal(json_integer_value(json_object_get(st, "generation")), 3);
    assert_int_equal(json_integer_value(json_object_get(st, "population")), 10);
    assert_int_equal(json_integer_value(json_object_get(st, "iterations")), 3);
    assert_string_equal(json_string_value(json_object_get(st, "algo")), "nsga2");
    json_decref(st);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(search_after_latency),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
