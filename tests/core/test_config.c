/* The run config: defaults are issue 3's space, HAT's files read unchanged (including its lr
 * convention), bad values give one line with file:line: key, and a dump reads back identically. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "config.h"

static int parse(const char *text, RunConfig *c, ConfigWarnings *w, MosErr *err)
{
    config_defaults(c);
    memset(w, 0, sizeof *w);
    memset(err, 0, sizeof *err);
    return config_parse(text, strlen(text), "t.yml", c, w, err);
}

static void assert_choices(const Choices *ch, int n, const int *v)
{
    assert_int_equal(ch->n, n);
    for (int i = 0; i < n; i++)
        assert_int_equal(ch->v[i], v[i]);
}

static void defaults_are_the_default_space(void **state)
{
    (void)state;
    RunConfig c;
    config_defaults(&c);
    const SearchSpace *s = &c.model.space;
    assert_choices(&s->enc_embed, 2, (int[]){256, 192});
    assert_choices(&s->dec_ffn, 3, (int[]){1024, 768, 512});
    assert_choices(&s->enc_heads, 2, (int[]){4, 2});
    assert_choices(&s->enc_layers, 1, (int[]){4});
    assert_choices(&s->dec_layers, 4, (int[]){4, 3, 2, 1});
    assert_choices(&s->dec_arbitrary, 3, (int[]){-1, 1, 2});
    assert_int_equal(s->qkv_dim, 256);
    assert_int_equal(c.model.vocab, 0);
    assert_int_equal(c.model.mos, MOS_NONE);
    assert_int_equal(c.model.mos_experts, 1);
    assert_true(c.train.adam_beta1 == 0.9f && c.train.adam_beta2 == 0.98f);
    assert_true(c.model.label_smoothing == 0.1f);
    assert_int_equal(c.model.eos_id, 3);
}

static void hat_file_reads_unchanged(void **state)
{
    (void)state;
    char path[1024];
    snprintf(path, sizeof path, "%s/tests/data/hat_space.yml", getenv("MOS_SOURCE_ROOT"));
    RunConfig c;
    ConfigWarnings w = {0};
    MosErr err = {{0}};
    config_defaults(&c);
    int rc = config_load(path, &c, &w, &err);
    assert_int_equal(rc, 0);
    assert_int_equal(c.model.space.enc_embed_max, 640);
    assert_int_equal(c.model.space.qkv_dim, 512);
    assert_choices(&c.model.space.dec_layers, 6, (int[]){6, 5, 4, 3, 2, 1});
    assert_true(c.train.lr == 0.001f);          /* max-lr is the peak */
    assert_true(c.train.min_lr == 1e-7f);       /* lr is the cosine's floor */
    assert_int_equal(c.train.update_freq, 16);
    assert_int_equal(c.train.max_tokens, 4096);
    assert_true(c.model.dropout == 0.3f);
    /* keys mos ignores are reported, not fatal; they name the line */
    assert_int_equal(w.n, 8);
    int saw_fp16 = 0;
    for (int i = 0; i < w.n && i < CONFIG_MAX_WARNINGS; i++)
        saw_fp16 |= strstr(w.msg[i], ":16: fp16:") != NULL;
    assert_true(saw_fp16);
}

static void lr_alone_is_the_peak_scalar_or_list(void **state)
{
    (void)state;
    RunConfig c;
    ConfigWarnings w;
    MosErr err;
    assert_int_equal(parse("lr: 0.0005\n", &c, &w, &err), 0);
    assert_true(c.train.lr == 0.0005f && c.train.min_lr == 1e-7f);
    assert_int_equal(parse("lr: [0.0007]\nsandwich-rule: 1\n", &c, &w, &err), 0);
    assert_true(c.train.lr == 0.0007f);
    assert_int_equal(c.train.sample, SAMPLE_SANDWICH);
    assert_int_equal(parse("lr: [0.1, 0.2]\n", &c, &w, &err), -1);
    assert_string_equal(err.msg, "t.yml:1: lr: expected one value, got a list");
}

static void bad_values_name_file_line_and_key(void **state)
{
    (void)state;
    RunConfig c;
    ConfigWarnings w;
    MosErr err;
    assert_int_equal(parse("seed: 3\n\nlr: -1\n", &c, &w, &err), -1);
    assert_string_equal(err.msg, "t.yml:3: lr: expected a number > 0");
    assert_int_equal(parse("max-tokens: lots\n", &c, &w, &err), -1);
    assert_string_equal(err.msg, "t.yml:1: max-tokens: expected an integer in [16, 4.1943e+06]");
    assert_int_equal(parse("mos: big\n", &c, &w, &err), -1);
    assert_string_equal(err.msg, "t.yml:1: mos: expected one of none, layer or neuron");
    assert_int_equal(parse("encoder-embed-choice: [256, 512]\n", &c, &w, &err), -1);
    assert_string_equal(err.msg,
                        "t.yml: encoder-embed-choice: 512 exceeds encoder-embed-dim (256)");
    assert_int_equal(parse("seed: 1\nseed: 2\n", &c, &w, &err), -1);
    assert_string_equal(err.msg, "t.yml:2: seed: given twice (first at line 1)");
    assert_int_equal(parse("encoder-self-attention-heads-choice: [4, 3]\n", &c, &w, &err), -1);
    assert_non_null(strstr(err.msg, "do not divide qkv-dim"));
    assert_int_equal(parse("dropout: [0.1\n", &c, &w, &err), -1);
    assert_non_null(strstr(err.msg, "t.yml:"));
    assert_int_equal(parse("- a\n- b\n", &c, &w, &err), -1);
    assert_string_equal(err.msg, "t.yml:1: expected a mapping of keys to values");
    assert_int_equal(parse("warmup-updates: 5000\nmax-update: 100\n", &c, &w, &err), -1);
    assert_non_null(strstr(err.msg, "warmup-updates"));
}

static void unknown_keys_warn_and_nested_maps_flatten(void **state)
{
    (void)state;
    RunConfig c;
    ConfigWarnings w;
    MosErr err;
    assert_int_equal(parse("colour: red\ntrain:\n  max_update: 777\n  mos: layer\n", &c, &w, &err),
                     0);
    assert_int_equal(w.n, 1);
    assert_string_equal(w.msg[0], "t.yml:1: colour: unknown key, ignored");
    assert_int_equal(c.train.max_update, 777);
    assert_int_equal(c.model.mos, MOS_LAYER);
    assert_int_equal(c.model.mos_experts, 2);
    assert_int_equal(parse("", &c, &w, &err), 0);
}

static void dump_reads_back_identically(void **state)
{
    (void)state;
    RunConfig a, b;
    ConfigWarnings w;
    MosErr err;
    assert_int_equal(parse("mos: neuron\nmos-experts: 3\nmax-lr: 0.002\nlr: 1e-5\n"
                           "seed: 18446744073709551615\nadam-betas: [0.8, 0.95]\n"
                           "decoder-layer-num-choice: [2, 1]\n", &a, &w, &err), 0);
    for (int help = 0; help < 2; help++) {
        char *text = config_dump_yaml(&a, help);
        assert_int_equal(parse(text, &b, &w, &err), 0);
        assert_int_equal(w.n, 0);
        assert_memory_equal(&a, &b, sizeof a);
        assert_true(config_hash(&a) == config_hash(&b));
        free(text);
    }
    assert_true(b.train.seed == 18446744073709551615ULL);
}

static void hash_covers_weights_not_schedule(void **state)
{
    (void)state;
    RunConfig a, b;
    ConfigWarnings w;
    MosErr err;
    config_defaults(&a);
    assert_int_equal(parse("max-update: 99999\ndropout: 0.3\n", &b, &w, &err), 0);
    assert_true(config_hash(&a) == config_hash(&b));
    assert_int_equal(parse("decoder-ffn-embed-dim: 2048\n", &b, &w, &err), 0);
    assert_true(config_hash(&a) != config_hash(&b));
    b = a;
    b.model.vocab = 8000;
    assert_true(config_hash(&a) != config_hash(&b));
}

static void key_reference_lists_every_key(void **state)
{
    (void)state;
    char *md = config_keys_markdown();
    char *help = config_keys_help();
    assert_non_null(strstr(md, "| `decoder-arbitrary-ende-attn-choice` | list | `[-1, 1, 2]` |"));
    assert_non_null(strstr(md, "`fp16`"));
    assert_non_null(strstr(help, "max-tokens"));
    assert_null(strstr(help, "fp16"));
    free(md);
    free(help);
}

/* The stage keys (latency-*, search-*): HAT's defaults where HAT has one, parsed values land
 * in RunConfig.stages, errors name the key, a dump reads them back, the hash ignores them. */
static void stage_keys(void **state)
{
    (void)state;
    RunConfig a, d;
    ConfigWarnings w;
    MosErr err;
    config_defaults(&d);
    assert_int_equal(d.stages.latency_beam, 5);
    assert_int_equal(d.stages.latency_fit_steps, 5000);
    assert_int_equal(d.stages.search_algo, STAGE_SEARCH_NSGA2);
    /* sized for about 10 minutes on 2 cores (docs/search.md); HAT: 30, 125, 25, 50, 50 */
    assert_int_equal(d.stages.search_iterations, 10);
    assert_int_equal(d.stages.search_population, 40);
    assert_int_equal(d.stages.search_parents, 8);
    assert_int_equal(d.stages.search_mutations, 16);
    assert_int_equal(d.stages.search_crossovers, 16);
    assert_int_equal(d.stages.search_measure, 5);
    assert_int_equal(d.stages.latency_rounds, 5);
    assert_int_equal(d.stages.latency_block, 20);
    assert_int_equal(d.stages.latency_clock, STAGE_CLOCK_CPU);
    assert_int_equal(d.stages.latency_reference, 1);
    assert_true(d.stages.search_target_ms == 0.0f);
    assert_int_equal(d.stages.search_valid_sentences, 300);
    assert_int_equal(parse("latency-archs: 40\nlatency-verify: 0\nlatency-runs: 3\n"
                           "latency-warmup: 1\nlatency-beam: 2\nlatency-fit-steps: 10\n"
                           "search-algo: evo\nsearch-iterations: 4\nsearch-population: 12\n"
                           "search-parents: 4\nsearch-mutations: 4\nsearch-crossovers: 4\n"
                           "search-target-ms: 120.5\nsearch-valid-sentences: 20\n"
                           "latency-rounds: 3\nlatency-block: 7\nlatency-clock: wall\n"
                           "search-measure: 0\nlatency-reference: false\n", &a, &w, &err),
                     0);
    assert_int_equal(w.n, 0);
    const StageConfig *g = &a.stages;
    assert_int_equal(g->latency_archs, 40);
    assert_int_equal(g->latency_verify, 0);
    assert_int_equal(g->latency_runs, 3);
    assert_int_equal(g->latency_warmup, 1);
    assert_int_equal(g->latency_beam, 2);
    assert_int_equal(g->latency_fit_steps, 10);
    assert_int_equal(g->search_algo, STAGE_SEARCH_EVO);
    assert_int_equal(g->search_iterations, 4);
    assert_int_equal(g->search_population, 12);
    assert_int_equal(g->search_parents, 4);
    assert_int_equal(g->search_mutations, 4);
    assert_int_equal(g->search_crossovers, 4);
    assert_true(g->search_target_ms == 120.5f);
    assert_int_equal(g->search_valid_sentences, 20);
    assert_int_equal(g->latency_rounds, 3);
    assert_int_equal(g->latency_block, 7);
    assert_int_equal(g->latency_clock, STAGE_CLOCK_WALL);
    assert_int_equal(g->search_measure, 0);
    assert_int_equal(g->latency_reference, 0);
    assert_true(config_hash(&a) == config_hash(&d));
    char *text = config_dump_yaml(&a, 1);
    RunConfig b;
    assert_int_equal(parse(text, &b, &w, &err), 0);
    assert_memory_equal(&a.stages, &b.stages, sizeof a.stages);
    free(text);

    assert_int_equal(parse("seed: 3\nlatency-archs: 5\n", &a, &w, &err), -1);
    assert_string_equal(err.msg, "t.yml:2: latency-archs: expected an integer in [10, 1e+06]");
    assert_int_equal(parse("latency-runs: 0\n", &a, &w, &err), -1);
    assert_non_null(strstr(err.msg, "t.yml:1: latency-runs: expected an integer in [1,"));
    assert_int_equal(parse("latency-beam: 2.5\n", &a, &w, &err), -1);
    assert_non_null(strstr(err.msg, "t.yml:1: latency-beam: expected an integer"));
    assert_int_equal(parse("search-algo: random\n", &a, &w, &err), -1);
    assert_string_equal(err.msg, "t.yml:1: search-algo: expected one of evo or nsga2");
    assert_int_equal(parse("search-target-ms: -1\n", &a, &w, &err), -1);
    assert_non_null(strstr(err.msg, "t.yml:1: search-target-ms: expected a number"));
    assert_int_equal(parse("search-population: 1\n", &a, &w, &err), -1);
    assert_non_null(strstr(err.msg, "t.yml:1: search-population: expected an integer in [2,"));
    char *md = config_keys_markdown();
    assert_non_null(strstr(md, "| `latency-archs` | integer |"));
    assert_non_null(strstr(md, "| `search-algo` | name | `nsga2` |"));
    free(md);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(defaults_are_the_default_space),
        cmocka_unit_test(hat_file_reads_unchanged),
        cmocka_unit_test(lr_alone_is_the_peak_scalar_or_list),
        cmocka_unit_test(bad_values_name_file_line_and_key),
        cmocka_unit_test(unknown_keys_warn_and_nested_maps_flatten),
        cmocka_unit_test(dump_reads_back_identically),
        cmocka_unit_test(hash_covers_weights_not_schedule),
        cmocka_unit_test(key_reference_lists_every_key),
        cmocka_unit_test(stage_keys),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
