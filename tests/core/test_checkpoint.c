/* Checkpoints: an exact round trip of weights, Adam moments and metadata; the previous pair
 * kept on every save; a valid safetensors layout; corrupt, truncated, mismatched (config hash,
 * shapes) files refused with the reason while the previous checkpoint stays loadable. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <jansson.h>
#include <cmocka.h>

#include "checkpoint.h"
#include "tiny_data.h"

#define NP (6 * 5 + 5 + 7)

static const CkptTensor tensors[] = {
    {"enc.w", 0, 2, {6, 5}},
    {"enc.b", 30, 1, {5}},
    {"emb", 35, 2, {7, 1}},
};

typedef struct Fix {
    char root[512], dir[600];
    float p[NP], m[NP], v[NP];
    CkptBlocks b;
} Fix;

static int setup(void **state)
{
    Fix *f = calloc(1, sizeof *f);
    if (!tiny_tmpdir(f->root, sizeof f->root))
        return -1;
    snprintf(f->dir, sizeof f->dir, "%s/checkpoints", f->root);
    for (int i = 0; i < NP; i++) {
        f->p[i] = (float)i * 0.25f - 3.0f;
        f->m[i] = (float)i * 1e-3f;
        f->v[i] = (float)i * 1e-5f;
    }
    f->b = (CkptBlocks){tensors, 3, f->p, f->m, f->v, NP};
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    Fix *f = *state;
    tiny_rmdir(f->root);
    free(f);
    return 0;
}

static CkptMeta meta(long step)
{
    return (CkptMeta){.step = step, .config_hash = 0xfeedface12345678ULL,
                      .rng = {1, 2, UINT64_MAX, 0x8000000000000000ULL}, .data_epoch = 3,
                      .data_pos = 17, .tokens = 123456, .elapsed_s = 12.5, .valid_loss = -1};
}

static void round_trip_is_exact(void **state)
{
    Fix *f = *state;
    MosErr err = {{0}};
    CkptMeta m = meta(40), got;
    assert_int_equal(ckpt_save(f->dir, &f->b, &m, &err), 0);
    float p[NP] = {0}, mm[NP] = {0}, v[NP] = {0};
    CkptBlocks b = {tensors, 3, p, mm, v, NP};
    assert_int_equal(ckpt_load(f->dir, "last", &b, m.config_hash, &got, &err), 0);
    assert_memory_equal(p, f->p, sizeof p);
    assert_memory_equal(mm, f->m, sizeof mm);
    assert_memory_equal(v, f->v, sizeof v);
    assert_int_equal(got.step, 40);
    assert_true(got.rng[2] == UINT64_MAX && got.rng[3] == 0x8000000000000000ULL);
    assert_int_equal(got.data_epoch, 3);
    assert_int_equal(got.data_pos, 17);
    assert_int_equal(got.tokens, 123456);
    assert_string_equal(got.time, m.time);
    /* weights only (evaluation) */
    memset(p, 0, sizeof p);
    CkptBlocks w = {tensors, 3, p, NULL, NULL, NP};
    assert_int_equal(ckpt_load(f->dir, "last", &w, m.config_hash, &got, &err), 0);
    assert_memory_equal(p, f->p, sizeof p);
}

static void file_is_standard_safetensors(void **state)
{
    Fix *f = *state;
    char path[700];
    snprintf(path, sizeof path, "%s/last.safetensors", f->dir);
    FILE *fp = fopen(path, "rb");
    assert_non_null(fp);
    uint64_t n;
    assert_int_equal(fread(&n, 8, 1, fp), 1);
    assert_int_equal(n % 8, 0);
    char *h = calloc(1, n + 1);
    assert_int_equal(fread(h, 1, n, fp), n);
    json_t *root = json_loads(h, 0, NULL);
    assert_non_null(root);
    json_t *e = json_object_get(root, "adam_v.enc.w");
    assert_string_equal(json_string_value(json_object_get(e, "dtype")), "F32");
    assert_int_equal(json_integer_value(json_array_get(json_object_get(e, "shape"), 0)), 6);
    size_t b0 = (size_t)json_integer_value(json_array_get(json_object_get(e, "data_offsets"), 0));
    assert_int_equal(b0, 4 * (NP + NP));
    float x[30];
    fseek(fp, (long)(8 + n + b0), SEEK_SET);
    assert_int_equal(fread(x, 4, 30, fp), 30);
    assert_memory_equal(x, f->v, sizeof x);
    assert_string_equal(json_string_value(json_object_get(json_object_get(root, "__metadata__"),
                                                          "step")), "40");
    json_decref(root);
    free(h);
    fclose(fp);
}

static void second_save_keeps_previous(void **state)
{
    Fix *f = *state;
    MosErr err = {{0}};
    float old0 = f->p[0];
    f->p[0] = 99.0f;
    CkptMeta m = meta(80), got;
    assert_int_equal(ckpt_save(f->dir, &f->b, &m, &err), 0);
    float p[NP], mm[NP], v[NP];
    CkptBlocks b = {tensors, 3, p, mm, v, NP};
    assert_int_equal(ckpt_load(f->dir, "prev", &b, m.config_hash, &got, &err), 0);
    assert_int_equal(got.step, 40);
    assert_true(p[0] == old0);
    assert_int_equal(ckpt_load(f->dir, "last", &b, m.config_hash, &got, &err), 0);
    assert_int_equal(got.step, 80);
    assert_true(p[0] == 99.0f);
    f->p[0] = old0;
}

static void flip_byte(const char *path, long at)
{
    FILE *fp = fopen(path, "r+b");
    assert_non_null(fp);
    fseek(fp, at, SEEK_END);
    int c = fgetc(fp);
    fseek(fp, at, SEEK_END);
    fputc(c ^ 0x40, fp);
    fclose(fp);
}

static void bad_checkpoints_are_refused(void **state)
{
    Fix *f = *state;
    MosErr err = {{0}};
    CkptMeta got;
    float p[NP], mm[NP], v[NP];
    CkptBlocks b = {tensors, 3, p, mm, v, NP};
    assert_int_equal(ckpt_load(f->dir, "last", &b, 0x1234, &got, &err), -1);
    assert_non_null(strstr(err.msg, "last.json: written for a different model"));
    CkptTensor other[3];
    memcpy(other, tensors, sizeof other);
    other[0].shape[0] = 5;
    other[0].shape[1] = 6;
    CkptBlocks bo = {other, 3, p, mm, v, NP};
    assert_int_equal(ckpt_load(f->dir, "last", &bo, 0xfeedface12345678ULL, &got, &err), -1);
    assert_non_null(strstr(err.msg, "enc.w: shape differs"));
    other[0].shape[0] = 6;
    other[0].shape[1] = 5;
    other[2].name = "embed";
    assert_int_equal(ckpt_load(f->dir, "last", &bo, 0xfeedface12345678ULL, &got, &err), -1);
    assert_non_null(strstr(err.msg, "unexpected tensor 'emb'"));
    char path[700];
    snprintf(path, sizeof path, "%s/last.safetensors", f->dir);
    flip_byte(path, -5);
    assert_int_equal(ckpt_load(f->dir, "last", &b, 0xfeedface12345678ULL, &got, &err), -1);
    assert_non_null(strstr(err.msg, "checksum mismatch"));
    assert_int_equal(truncate(path, 200), 0);
    assert_int_equal(ckpt_load(f->dir, "last", &b, 0xfeedface12345678ULL, &got, &err), -1);
    assert_non_null(strstr(err.msg, "last.safetensors"));
    snprintf(path, sizeof path, "%s/last.json", f->dir);
    FILE *fp = fopen(path, "w");
    fputs("{\"step\": ", fp);
    fclose(fp);
    assert_int_equal(ckpt_load(f->dir, "last", &b, 0xfeedface12345678ULL, &got, &err), -1);
    assert_non_null(strstr(err.msg, "last.json:"));
    /* the previous checkpoint is untouched and still loads */
    assert_int_equal(ckpt_load(f->dir, "prev", &b, 0xfeedface12345678ULL, &got, &err), 0);
    assert_int_equal(got.step, 40);
}

/* A kill -9 inside ckpt_save, between its renames, must leave a loadable checkpoint: the
 * states below are the on-disk states after each rename of a save at step 120 over 80/40. */
static void crash_between_renames_still_resumes(void **state)
{
    Fix *f = *state;
    MosErr err = {{0}};
    char st[700], js[700], pst[700], pjs[700];
    snprintf(st, sizeof st, "%s/last.safetensors", f->dir);
    snprintf(js, sizeof js, "%s/last.json", f->dir);
    snprintf(pst, sizeof pst, "%s/prev.safetensors", f->dir);
    snprintf(pjs, sizeof pjs, "%s/prev.json", f->dir);
    CkptMeta m = meta(120), got;
    assert_int_equal(ckpt_save(f->dir, &f->b, &m, &err), 0);   /* last = 120, prev = 80 */
    float p[NP], mm[NP], v[NP];
    CkptBlocks b = {tensors, 3, p, mm, v, NP};
    /* crash after "last.safetensors -> prev.safetensors" of the next save */
    assert_int_equal(rename(st, pst), 0);
    assert_int_equal(ckpt_load(f->dir, "last", &b, m.config_hash, &got, &err), 0);
    assert_int_equal(got.step, 120);
    assert_true(memcmp(p, f->p, sizeof p) == 0);
    /* crash after both files moved to prev, before the new pair arrived */
    assert_int_equal(rename(js, pjs), 0);
    assert_int_equal(ckpt_load(f->dir, "prev", &b, m.config_hash, &got, &err), 0);
    assert_int_equal(got.step, 120);
    /* a .json whose tensors are nowhere is still refused, naming the file */
    assert_int_equal(unlink(pst), 0);
    assert_int_equal(ckpt_load(f->dir, "prev", &b, m.config_hash, &got, &err), -1);
    assert_non_null(strstr(err.msg, "prev.safetensors"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(round_trip_is_exact),
        cmocka_unit_test(file_is_standard_safetensors),
        cmocka_unit_test(second_save_keeps_previous),
        cmocka_unit_test(bad_checkpoints_are_refused),
        cmocka_unit_test(crash_between_renames_still_resumes),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
