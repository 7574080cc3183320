/* Architectures: the text and JSON forms round-trip, bad input is refused with the reason, the
 * 10 features match hand-computed values, HAT's operators always give valid archs and sampling
 * reaches every choice. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "arch.h"

static SearchSpace space(void)
{
    SearchSpace s;
    arch_space_default(&s);
    return s;
}

static void text_round_trip_random(void **state)
{
    (void)state;
    SearchSpace s = space();
    Rng r;
    rng_seed(&r, 1);
    for (int i = 0; i < 2000; i++) {
        Arch a, b;
        arch_sample(&s, &r, &a);
        char buf[512];
        int n = arch_format(&a, buf, sizeof buf);
        assert_true(n > 0 && (size_t)n < sizeof buf);
        MosErr err = {{0}};
        assert_int_equal(arch_parse(buf, &b, &err), 0);
        assert_true(arch_equal(&a, &b));
        assert_int_equal(arch_hash(&a), arch_hash(&b));
        assert_int_equal(arch_validate(&s, &b, &err), 0);
        char buf2[512];
        arch_format(&b, buf2, sizeof buf2);
        assert_string_equal(buf, buf2);
    }
}

static void text_known_form(void **state)
{
    (void)state;
    Arch a;
    MosErr err = {{0}};
    const char *t = "enc=256x4:ffn=1024,768,1024,512:h=4,4,2,4/"
                    "dec=192x2:ffn=1024,512:sh=4,2:eh=2,4:arb=-1,2";
    assert_int_equal(arch_parse(t, &a, &err), 0);
    assert_int_equal(a.enc_embed, 256);
    assert_int_equal(a.enc_layers, 4);
    assert_int_equal(a.enc_ffn[3], 512);
    assert_int_equal(a.enc_heads[2], 2);
    assert_int_equal(a.dec_embed, 192);
    assert_int_equal(a.dec_layers, 2);
    assert_int_equal(a.dec_ffn[1], 512);
    assert_int_equal(a.dec_self_heads[1], 2);
    assert_int_equal(a.dec_ende_heads[0], 2);
    assert_int_equal(a.dec_arbitrary[0], -1);
    assert_int_equal(a.dec_arbitrary[1], 2);
    /* inactive slots copy the last active layer */
    assert_int_equal(a.dec_ffn[2], 512);
    char buf[256];
    arch_format(&a, buf, sizeof buf);
    assert_string_equal(buf, t);
    /* fields in another order parse to the same arch */
    Arch b;
    assert_int_equal(arch_parse("enc=256x4:h=4,4,2,4:ffn=1024,768,1024,512/"
                                "dec=192x2:arb=-1,2:eh=2,4:sh=4,2:ffn=1024,512", &b, &err), 0);
    assert_true(arch_equal(&a, &b));
    /* truncation reports the full length */
    char small[10];
    int n = arch_format(&a, small, sizeof small);
    assert_int_equal(n, (int)strlen(t));
    assert_int_equal(strlen(small), 9);
}

static void json_round_trip_random(void **state)
{
    (void)state;
    SearchSpace s = space();
    Rng r;
    rng_seed(&r, 2);
    for (int i = 0; i < 1000; i++) {
        Arch a, b;
        arch_sample(&s, &r, &a);
        char *j = arch_json_dump(&a);
        MosErr err = {{0}};
        assert_int_equal(arch_json_load(j, &b, &err), 0);
        assert_true(arch_equal(&a, &b));
        char *j2 = arch_json_dump(&b);
        assert_string_equal(j, j2);
        free(j);
        free(j2);
    }
}

static void json_hat_config_loads(void **state)
{
    (void)state;
    /* HAT's config dicts carry a value for every super layer, inactive ones included. */
    const char *j = "{\"encoder\": {\"encoder_embed_dim\": 192, \"encoder_layer_num\": 4,"
                    " \"encoder_ffn_embed_dim\": [512, 512, 768, 1024],"
                    " \"encoder_self_attention_heads\": [2, 4, 4, 2]},"
                    " \"decoder\": {\"decoder_embed_dim\": 256, \"decoder_layer_num\": 1,"
                    " \"decoder_ffn_embed_dim\": [768, 1024, 512, 512],"
                    " \"decoder_self_attention_heads\": [2, 4, 4, 4],"
                    " \"decoder_ende_attention_heads\": [4, 2, 2, 2],"
                    " \"decoder_arbitrary_ende_attn\": [1, -1, 2, 2]}}";
    Arch a;
    MosErr err = {{0}};
    assert_int_equal(arch_json_load(j, &a, &err), 0);
    assert_int_equal(a.dec_layers, 1);
    assert_int_equal(a.dec_ffn[0], 768);
    assert_int_equal(a.dec_ffn[1], 1024);   /* inactive genes kept as HAT keeps them */
    SearchSpace s = space();
    assert_int_equal(arch_validate(&s, &a, &err), 0);
}

static void expect_parse_error(const char *text, const char *needle)
{
    Arch a;
    MosErr err = {{0}};
    assert_int_equal(arch_parse(text, &a, &err), -1);
    if (!strstr(err.msg, needle))
        fail_msg("'%s': error '%s' does not mention '%s'", text, err.msg, needle);
}

static void parse_rejects_with_reason(void **state)
{
    (void)state;
    const char *ok_dec = "dec=192x2:ffn=1024,512:sh=4,2:eh=2,4:arb=-1,2";
    char t[256];
    expect_parse_error("", "one '/'");
    expect_parse_error("enc=256x4:ffn=1,2,3,4:h=4,4,4,4", "one '/'");
    snprintf(t, sizeof t, "enc=256x4:ffn=1024,768,1024:h=4,4,2,4/%s", ok_dec);
    expect_parse_error(t, "enc ffn: 3 values given, its layer count needs 4");
    snprintf(t, sizeof t, "enc=256x4:ffn=1024,768,1024,512,512:h=4,4,2,4/%s", ok_dec);
    expect_parse_error(t, "more than the 4 values");
    snprintf(t, sizeof t, "enc=256x4:ffn=1024,7x8,1024,512:h=4,4,2,4/%s", ok_dec);
    expect_parse_error(t, "'7x8' is not an integer");
    snprintf(t, sizeof t, "enc=256x4:ffn=1024,,1024,512:h=4,4,2,4/%s", ok_dec);
    expect_parse_error(t, "'' is not an integer");
    snprintf(t, sizeof t, "enc=256:ffn=1024,768,1024,512:h=4,4,2,4/%s", ok_dec);
    expect_parse_error(t, "is not EMBEDxLAYERS");
    snprintf(t, sizeof t, "enc=256x9:ffn=1024/%s", ok_dec);
    expect_parse_error(t, "9 layers is outside 1..8");
    snprintf(t, sizeof t, "enc=256x1:ffn=1024/%s", ok_dec);
    expect_parse_error(t, "enc: missing field 'h'");
    snprintf(t, sizeof t, "enc=256x1:ffn=1024:h=4:ffn=512/%s", ok_dec);
    expect_parse_error(t, "field 'ffn' given twice");
    snprintf(t, sizeof t, "enc=256x1:ffn=1024:heads=4/%s", ok_dec);
    expect_parse_error(t, "unknown field 'heads'");
    expect_parse_error("enc=256x1:ffn=1024:h=4/dec=192x1:ffn=512:sh=4:eh=4", "missing field 'arb'");
    expect_parse_error("dec=192x1:ffn=512:sh=4:eh=4:arb=1/enc=256x1:ffn=1024:h=4",
                       "expected 'enc=EMBEDxLAYERS'");
    expect_parse_error("enc=256x1:ffn=1024:h=4/dec=192x1:ffn=512:sh=4:eh=4:arb=1/x", "more than");
}

static void expect_invalid(const Arch *a, const char *needle)
{
    SearchSpace s = space();
    MosErr err = {{0}};
    assert_int_equal(arch_validate(&s, a, &err), -1);
    if (!strstr(err.msg, needle))
        fail_msg("error '%s' does not mention '%s'", err.msg, needle);
}

static void validate_gives_reason(void **state)
{
    (void)state;
    SearchSpace s = space();
    Arch base, a;
    arch_largest(&s, &base);
    MosErr err = {{0}};
    assert_int_equal(arch_validate(&s, &base, &err), 0);
    a = base;
    a.dec_ffn[2] = 3000;
    expect_invalid(&a, "dec_ffn[2] = 3000 is not one of 1024, 768, 512");
    a = base;
    a.enc_embed = 128;
    expect_invalid(&a, "enc_embed = 128 is not one of 256, 192");
    a = base;
    a.dec_layers = 5;
    expect_invalid(&a, "dec_layers = 5 is not one of 1, 2, 3, 4");
    a = base;
    a.dec_arbitrary[3] = 0;
    expect_invalid(&a, "dec_arbitrary[3] = 0 is not one of -1, 1, 2");
    a = base;
    a.dec_ende_heads[0] = 8;
    expect_invalid(&a, "dec_ende_heads[0] = 8 is not one of 4, 2");
    /* an inactive slot may hold anything */
    a = base;
    a.dec_layers = 2;
    a.dec_ffn[3] = 3000;
    assert_int_equal(arch_validate(&s, &a, &err), 0);
    /* a choice list larger than the maxima is caught */
    SearchSpace w = s;
    w.dec_ffn.v[w.dec_ffn.n++] = 2048;
    a = base;
    a.dec_ffn[0] = 2048;
    assert_int_equal(arch_validate(&w, &a, &err), -1);
    assert_non_null(strstr(err.msg, "dec_ffn[0] = 2048 exceeds the supernet's maximum 1024"));
    /* an arbitrary code deeper than the encoder */
    w = s;
    w.enc_layers.v[w.enc_layers.n++] = 2;
    a = base;
    a.enc_layers = 2;
    a.dec_arbitrary[0] = 2;
    assert_int_equal(arch_validate(&w, &a, &err), -1);
    assert_non_null(strstr(err.msg, "attends 3 encoder layers but there are only 2"));
}

static void features_by_hand(void **state)
{
    (void)state;
    SearchSpace s = space();
    Arch a;
    MosErr err = {{0}};
    assert_int_equal(arch_parse("enc=192x4:ffn=1024,768,1024,512:h=4,4,2,4/"
                                "dec=256x3:ffn=1024,512,512:sh=4,2,2:eh=2,2,4:arb=-1,2,1",
                                &a, &err), 0);
    float f[ARCH_FEATURES];
    arch_features(&s, &a, f);
    const float want[ARCH_FEATURES] = {
        192.0f / 256, 4.0f / 4, (1024 + 768 + 1024 + 512) / 4.0f / 1024, 14.0f / 4 / 4,
        256.0f / 256, 3.0f / 4, (1024 + 512 + 512) / 3.0f / 1024, 8.0f / 3 / 4,
        8.0f / 3 / 4, (1 + 3 + 2) / 3.0f / 2,
    };
    for (int k = 0; k < ARCH_FEATURES; k++)
        assert_float_equal(f[k], want[k], 1e-6);
    /* inactive slots do not change the features */
    a.dec_ffn[3] = 512;
    float g[ARCH_FEATURES];
    arch_features(&s, &a, g);
    assert_memory_equal(f, g, sizeof f);
}

static void operators_always_valid(void **state)
{
    (void)state;
    SearchSpace s = space();
    Rng r;
    rng_seed(&r, 3);
    MosErr err = {{0}};
    int changed = 0;
    for (int i = 0; i < 10000; i++) {
        Arch p1, p2, m, c;
        arch_sample(&s, &r, &p1);
        arch_sample(&s, &r, &p2);
        arch_mutate(&s, &r, 0.3f, &p1, &m);
        if (arch_validate(&s, &m, &err))
            fail_msg("mutant %d invalid: %s", i, err.msg);
        arch_crossover(&s, &r, &p1, &p2, &c);
        if (arch_validate(&s, &c, &err))
            fail_msg("child %d invalid: %s", i, err.msg);
        changed += !arch_equal(&p1, &m);
        /* every active gene of the child comes from a parent */
        assert_true(c.enc_embed == p1.enc_embed || c.enc_embed == p2.enc_embed);
        assert_true(c.dec_layers == p1.dec_layers || c.dec_layers == p2.dec_layers);
        for (int l = 0; l < c.dec_layers; l++)
            assert_true(c.dec_ffn[l] == p1.dec_ffn[l] || c.dec_ffn[l] == p2.dec_ffn[l]);
    }
    assert_true(changed > 8000);   /* p = 0.3 over 40+ genes nearly always changes something */
    /* p = 0 copies the parent; parents from outside the space are repaired */
    Arch p, m;
    arch_sample(&s, &r, &p);
    arch_mutate(&s, &r, 0.0f, &p, &m);
    assert_true(arch_equal(&p, &m));
    p.dec_ffn[0] = 3000;
    p.dec_ffn[7] = 0;
    arch_mutate(&s, &r, 0.0f, &p, &m);
    assert_int_equal(arch_validate(&s, &m, &err), 0);
    /* deepening a parsed arch keeps it valid: inactive slots were filled */
    assert_int_equal(arch_parse("enc=256x4:ffn=512,512,512,512:h=2,2,2,2/"
                                "dec=192x1:ffn=768:sh=2:eh=4:arb=2", &p, &err), 0);
    p.dec_layers = 4;
    assert_int_equal(arch_validate(&s, &p, &err), 0);
}

static int index_of(const Choices *c, int v)
{
    for (int i = 0; i < c->n; i++)
        if (c->v[i] == v)
            return i;
    return -1;
}

static void sampling_covers_every_choice(void **state)
{
    (void)state;
    SearchSpace s = space();
    Rng r;
    rng_seed(&r, 4);
    int seen[10][ARCH_MAX_CHOICES] = {{0}};
    for (int i = 0; i < 5000; i++) {
        Arch a;
        arch_sample(&s, &r, &a);
        seen[0][index_of(&s.enc_embed, a.enc_embed)]++;
        seen[1][index_of(&s.dec_embed, a.dec_embed)]++;
        seen[2][index_of(&s.enc_layers, a.enc_layers)]++;
        seen[3][index_of(&s.dec_layers, a.dec_layers)]++;
        int l = (int)(i % 4);
        seen[4][index_of(&s.enc_ffn, a.enc_ffn[l])]++;
        seen[5][index_of(&s.enc_heads, a.enc_heads[l])]++;
        seen[6][index_of(&s.dec_ffn, a.dec_ffn[l])]++;
        seen[7][index_of(&s.dec_self_heads, a.dec_self_heads[l])]++;
        seen[8][index_of(&s.dec_ende_heads, a.dec_ende_heads[l])]++;
        seen[9][index_of(&s.dec_arbitrary, a.dec_arbitrary[l])]++;
    }
    const Choices *lists[10] = { &s.enc_embed, &s.dec_embed, &s.enc_layers, &s.dec_layers,
                                 &s.enc_ffn, &s.enc_heads, &s.dec_ffn, &s.dec_self_heads,
                                 &s.dec_ende_heads, &s.dec_arbitrary };
    for (int k = 0; k < 10; k++)
        for (int i = 0; i < lists[k]->n; i++) {
            /* uniform: each value within 15 % of its share */
            int want = 5000 / lists[k]->n;
            if (seen[k][i] < want * 85 / 100 || seen[k][i] > want * 115 / 100)
                fail_msg("list %d value %d drawn %d times, expected ~%d", k, lists[k]->v[i],
                         seen[k][i], want);
        }
}

static void largest_smallest_equal_hash(void **state)
{
    (void)state;
    SearchSpace s = space();
    Arch big, small;
    arch_largest(&s, &big);
    arch_smallest(&s, &small);
    char b[256];
    arch_format(&big, b, sizeof b);
    assert_string_equal(b, "enc=256x4:ffn=1024,1024,1024,1024:h=4,4,4,4/dec=256x4:"
                           "ffn=1024,1024,1024,1024:sh=4,4,4,4:eh=4,4,4,4:arb=1,1,1,1");
    arch_format(&small, b, sizeof b);
    assert_string_equal(b, "enc=192x4:ffn=512,512,512,512:h=2,2,2,2/dec=192x1:"
                           "ffn=512:sh=2:eh=2:arb=1");
    assert_false(arch_equal(&big, &small));
    assert_int_not_equal(arch_hash(&big), arch_hash(&small));
    Arch c = small;
    c.dec_ffn[2] = 1024;   /* inactive */
    assert_true(arch_equal(&c, &small));
    assert_int_equal(arch_hash(&c), arch_hash(&small));
    c.dec_ffn[0] = 1024;   /* active */
    assert_false(arch_equal(&c, &small));
}

static void params_by_hand(void **state)
{
    (void)state;
    Arch a;
    MosErr err = {{0}};
    assert_int_equal(arch_parse("enc=4x1:ffn=8:h=2/dec=2x1:ffn=6:sh=1:eh=1:arb=-1", &a, &err), 0);
    /* vocab 10, Q = 4: embedding 10*4; encoder: 3*4*4+12 + 4*4+4 = 80, FFN 4*8+8+8*4+4 = 76,
     * LN 16; decoder: self 3*4*2+12 + 2*4+2 = 46, cross 4*2+4 + 2*4*4+8 + 2*4+2 = 62,
     * FFN 2*6+6+6*2+2 = 32, LN 12 */
    assert_int_equal(arch_params(&a, 10, 4), 40 + 80 + 76 + 16 + 46 + 62 + 32 + 12);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(text_round_trip_random),
        cmocka_unit_test(text_known_form),
        cmocka_unit_test(json_round_trip_random),
        cmocka_unit_test(json_hat_config_loads),
        cmocka_unit_test(parse_rejects_with_reason),
        cmocka_unit_test(validate_gives_reason),
        cmocka_unit_test(features_by_hand),
        cmocka_unit_test(operators_always_valid),
        cmocka_unit_test(sampling_covers_every_choice),
        cmocka_unit_test(largest_smallest_equal_hash),
        cmocka_unit_test(params_by_hand),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
