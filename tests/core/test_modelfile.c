/* Extracted model files: a standalone model built from a supernet, written and loaded back, gives
 * the supernet's log-probabilities (max abs diff <= 1e-5) and the same decoded ids for the
 * largest, smallest and a mixed arch, post-LN and pre-LN; the file holds each tensor at the
 * arch's real shape; bad directories and files are refused with one line naming the problem. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "model_fixture.h"
#include "extract.h"
#include "modelfile.h"
#include "supernet.h"
#include "tiny_data.h"

typedef struct Fix {
    char dir[256], data[300], model[300];
    Manifest man;
} Fix;

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static int setup(void **state)
{
    Fix *f = calloc(1, sizeof *f);
    assert_non_null(tiny_tmpdir(f->dir, sizeof f->dir));
    snprintf(f->data, sizeof f->data, "%s/data", f->dir);
    snprintf(f->model, sizeof f->model, "%s/model", f->dir);
    mkdir(f->data, 0777);
    char p[400];
    snprintf(p, sizeof p, "%s/spm.model", f->data);
    write_text(p, "not really a sentencepiece model\n");
    snprintf(p, sizeof p, "%s/spm.vocab", f->data);
    write_text(p, "<pad>\t0\n");
    f->man = (Manifest){.vocab_size = 23, .pad_id = 0, .unk_id = 1, .bos_id = 2, .eos_id = 3,
                        .tokenizer = "spm"};
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    Fix *f = *state;
    tiny_rmdir(f->dir);
    free(f);
    return 0;
}

/* A supernet whose every parameter (biases, LayerNorms, experts and routers too) is random, so
 * no slice can hide. */
static Supernet *random_mos_supernet(int pre_ln, MosKind kind, uint64_t seed)
{
    ModelConfig c;
    fixture_config(&c, pre_ln);
    if (kind != MOS_NONE) {
        c.mos = kind;
        c.mos_experts = 3;
        c.router_hidden = 8;
    }
    Supernet *s = supernet_new(&c, 64, seed, NULL);
    assert_non_null(s);
    Rng r;
    rng_seed(&r, seed);
    float *p = supernet_params(s);
    for (size_t i = 0; i < supernet_nparams(s); i++)
        p[i] = 0.6f * (rng_float(&r) - 0.5f);
    return s;
}

static Supernet *random_supernet(int pre_ln, uint64_t seed)
{
    return random_mos_supernet(pre_ln, MOS_NONE, seed);
}

static void extract_to(Fix *f, Supernet *s, const Arch *a)
{
    MosErr err = {{0}};
    Supernet *m = extract_model(s, a, 64, &err);
    if (!m)
        fail_msg("%s", err.msg);
    ModelSource src = {.super = supernet_config(s), .man = &f->man, .data_dir = f->data,
                       .checkpoint = "checkpoints/last.safetensors", .step = 42};
    mkdir(f->model, 0777);
    assert_int_equal(modelfile_write(f->model, m, a, &src, &err), 0);
    supernet_destroy(&m);
}

static double max_diff_logprobs(Supernet *s, Supernet *m, const Arch *a)
{
    Batch b = fixture_batch();
    int V = supernet_config(s)->vocab;
    float *x = malloc(sizeof(float) * (size_t)(b.B * V)), *y = malloc(sizeof(float) *
                                                                        (size_t)(b.B * V));
    double worst = 0.0;
    for (int t = 0; t < b.Tt; t++) {
        supernet_logprobs(s, a, &b, t, x);
        supernet_logprobs(m, a, &b, t, y);
        for (int i = 0; i < b.B * V; i++)
            worst = fmax(worst, fabs((double)x[i] - (double)y[i]));
    }
    free(x);
    free(y);
    return worst;
}

static void same_outputs(Fix *f, int pre_ln, MosKind kind, int which)
{
    Supernet *s = random_mos_supernet(pre_ln, kind, 11 + (uint64_t)which);
    Arch a;
    fixture_arch(&a, which);
    extract_to(f, s, &a);
    ModelInfo info;
    MosErr err = {{0}};
    Supernet *m = modelfile_load(f->model, 64, &info, &err);
    if (!m)
        fail_msg("%s", err.msg);
    assert_true(arch_equal(&info.arch, &a));
    assert_int_equal(info.source_step, 42);
    double d = max_diff_logprobs(s, m, &info.arch);
    if (getenv("MODELFILE_PRINT_DIFF"))
        printf("pre_ln %d mos %d arch %d: max diff %.3g\n", pre_ln, kind, which, d);
    if (d > 1e-5)
        fail_msg("pre_ln %d mos %d arch %d: max |diff| = %g", pre_ln, kind, which, d);
    DecodeOpts o = {.beam = 3, .lenpen = 1.0f, .max_len_a = 1, .max_len_b = 6};
    int src[4] = {5, 9, 12, 7}, out1[32], out2[32];
    int n1 = supernet_decode(s, &a, src, 4, &o, out1, 32);
    int n2 = supernet_decode(m, &info.arch, src, 4, &o, out2, 32);
    assert_int_equal(n1, n2);
    assert_memory_equal(out1, out2, sizeof(int) * (size_t)n1);
    supernet_destroy(&m);
    supernet_destroy(&s);
    tiny_rmdir(f->model);
}

static void test_same_outputs_post_ln(void **state)
{
    for (int which = 0; which < 3; which++)
        same_outputs(*state, 0, MOS_NONE, which);
}

static void test_same_outputs_pre_ln(void **state)
{
    for (int which = 0; which < 3; which++)
        same_outputs(*state, 1, MOS_NONE, which);
}

/* MoS: the file holds the collapsed W(a) = sum_i alpha_i(a) E_i of each layer. */
static void test_same_outputs_mos_layer(void **state)
{
    for (int which = 0; which < 3; which++)
        same_outputs(*state, 0, MOS_LAYER, which);
}

static void test_same_outputs_mos_neuron(void **state)
{
    for (int which = 0; which < 3; which++)
        same_outputs(*state, which == 1, MOS_NEURON, which);
}

/* The safetensors header lists each FFN at the layer's own dims and nothing past the depth. */
static void test_file_shapes(void **state)
{
    Fix *f = *state;
    Supernet *s = random_supernet(0, 5);
    Arch a;
    fixture_arch(&a, 2);
    extract_to(f, s, &a);
    char path[400];
    snprintf(path, sizeof path, "%s/model.safetensors", f->model);
    FILE *fp = fopen(path, "rb");
    assert_non_null(fp);
    uint64_t n;
    assert_int_equal(fread(&n, 8, 1, fp), 1);
    char *h = calloc(1, n + 1);
    assert_int_equal(fread(h, 1, n, fp), n);
    fclose(fp);
    json_t *o = json_loads(h, 0, NULL);
    free(h);
    assert_non_null(o);
    json_t *fc1 = json_object_get(json_object_get(o, "encoder.layers.0.fc1.weight"), "shape");
    assert_int_equal(json_integer_value(json_array_get(fc1, 0)), a.enc_ffn[0]);
    assert_int_equal(json_integer_value(json_array_get(fc1, 1)), a.enc_embed);
    json_t *fc2 = json_object_get(json_object_get(o, "decoder.layers.1.fc2.weight"), "shape");
    assert_int_equal(json_integer_value(json_array_get(fc2, 0)), a.dec_embed);
    assert_int_equal(json_integer_value(json_array_get(fc2, 1)), a.dec_ffn[1]);
    json_t *emb = json_object_get(json_object_get(o, "embed_tokens.weight"), "shape");
    assert_int_equal(json_integer_value(json_array_get(emb, 1)), 8);
    assert_null(json_object_get(o, "decoder.layers.2.fc1.weight"));
    assert_non_null(json_object_get(o, "encoder.embed_positions.weight"));
    json_decref(o);
    snprintf(path, sizeof path, "%s/spm.model", f->model);
    assert_int_equal(access(path, R_OK), 0);
    supernet_destroy(&s);
    tiny_rmdir(f->model);
}

static void expect_load_error(const char *dir, const char *needle)
{
    ModelInfo info;
    MosErr err = {{0}};
    Supernet *m = modelfile_load(dir, 64, &info, &err);
    assert_null(m);
    if (!strstr(err.msg, needle))
        fail_msg("error '%s' does not mention '%s'", err.msg, needle);
    assert_null(strchr(err.msg, '\n'));
}

static void test_bad_files(void **state)
{
    Fix *f = *state;
    expect_load_error(f->dir, "config.json: missing");
    Supernet *s = random_supernet(0, 3);
    Arch a;
    fixture_arch(&a, 1);
    extract_to(f, s, &a);
    char path[400];
    snprintf(path, sizeof path, "%s/model.safetensors", f->model);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(truncate(path, st.st_size - 100), 0);
    expect_load_error(f->model, "truncated");
    assert_int_equal(truncate(path, 4), 0);
    expect_load_error(f->model, "bad header length");
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    fwrite("\x10\0\0\0\0\0\0\0{not json}      ", 1, 24, fp);
    fclose(fp);
    expect_load_error(f->model, "not a JSON object");
    snprintf(path, sizeof path, "%s/config.json", f->model);
    write_text(path, "{\"format\": \"mos-model\", \"version\": 1, \"arch\": \"enc=8x\"}");
    expect_load_error(f->model, "config.json: arch");
    write_text(path, "{\"format\": \"something-else\"}");
    expect_load_error(f->model, "not a mos-model");
    supernet_destroy(&s);
    tiny_rmdir(f->model);
}

static void test_arch_not_in_space(void **state)
{
    (void)state;
    Supernet *s = random_supernet(0, 3);
    Arch a;
    fixture_arch(&a, 0);
    a.enc_ffn[1] = 30;
    MosErr err = {{0}};
    assert_null(modelfile_build(s, &a, 64, &err));
    assert_non_null(strstr(err.msg, "enc_ffn[1] = 30"));
    supernet_destroy(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_same_outputs_post_ln, setup, teardown),
        cmocka_unit_test_setup_teardown(test_same_outputs_pre_ln, setup, teardown),
        cmocka_unit_test_setup_teardown(test_same_outputs_mos_layer, setup, teardown),
        cmocka_unit_test_setup_teardown(test_same_outputs_mos_neuron, setup, teardown),
        cmocka_unit_test_setup_teardown(test_file_shapes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_files, setup, teardown),
        cmocka_unit_test_setup_teardown(test_arch_not_in_space, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
