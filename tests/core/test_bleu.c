/* BLEU as sacreBLEU computes it by default: hand-computed scores (perfect match, clipping,
 * "exp" smoothing, brevity penalty), edge cases (empty hypotheses, no matches, short corpora),
 * and the 13a tokenizer against Python's re module running the same four regexes. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "bleu.h"

static double score1(const char *hyp, const char *ref)
{
    BleuStats s = {0};
    bleu_add(&s, hyp, ref);
    return bleu_score(&s).bleu;
}

static void perfect_match_is_100(void **state)
{
    (void)state;
    assert_float_equal(score1("The cat sat on the mat.", "The cat sat on the mat."), 100.0,
                       1e-9);
    /* case-sensitive and tokenized: "mat." and "mat ." are the same after 13a */
    assert_float_equal(score1("The cat sat on the mat .", "The cat sat on the mat."), 100.0,
                       1e-9);
    assert_true(score1("the cat sat on the mat.", "The cat sat on the mat.") < 100.0);
}

static void clipping_smoothing_and_brevity_by_hand(void **state)
{
    (void)state;
    BleuStats s = {0};
    bleu_add(&s, "the cat the cat", "the cat sat on the mat");
    assert_int_equal(s.correct[0], 3);   /* the: min(2,2), cat: min(2,1) */
    assert_int_equal(s.total[0], 4);
    assert_int_equal(s.correct[1], 1);
    assert_int_equal(s.total[1], 3);
    assert_int_equal(s.correct[2], 0);
    assert_int_equal(s.total[3], 1);
    BleuScore r = bleu_score(&s);
    /* exp smoothing: 3-grams 100 / (2 * 2), 4-grams 100 / (4 * 1) */
    assert_float_equal(r.precisions[2], 25.0, 1e-9);
    assert_float_equal(r.precisions[3], 25.0, 1e-9);
    double want = exp(1.0 - 6.0 / 4.0) * pow(75.0 * (100.0 / 3.0) * 25.0 * 25.0, 0.25);
    assert_float_equal(r.bleu, want, 1e-9);
    assert_float_equal(r.bp, exp(-0.5), 1e-12);
}

static void corpus_sums_statistics(void **state)
{
    (void)state;
    BleuStats s = {0};
    bleu_add(&s, "a b c d e", "a b c d e");
    bleu_add(&s, "x y", "a b c");
    BleuScore r = bleu_score(&s);
    assert_int_equal(r.sys_len, 7);
    assert_int_equal(r.ref_len, 8);
    double p[4] = {500.0 / 7, 400.0 / 5, 300.0 / 3, 200.0 / 2};
    double want = exp(1.0 - 8.0 / 7.0) * pow(p[0] * p[1] * p[2] * p[3], 0.25);
    assert_float_equal(r.bleu, want, 1e-9);
}

static void edge_cases_score_zero(void **state)
{
    (void)state;
    assert_float_equal(score1("", "a reference sentence"), 0.0, 0.0);
    assert_float_equal(score1("   ", "a reference sentence"), 0.0, 0.0);
    assert_float_equal(score1("completely different words here", "a reference sentence"), 0.0,
                       0.0);
    /* fewer than 4 words in the whole corpus: no 4-grams, log(0) -> score 0 */
    assert_true(score1("a b c", "a b c") < 1e-6);
    BleuStats s = {0};
    BleuScore r = bleu_score(&s);
    assert_float_equal(r.bleu, 0.0, 0.0);
    assert_float_equal(r.bp, 1.0, 0.0);
}

static void tokenizer_examples(void **state)
{
    (void)state;
    static const char *const cases[][2] = {
        {"Hello, world!", "Hello , world !"},
        {"It costs 3.14 or 1,000 dollars.", "It costs 3.14 or 1,000 dollars ."},
        {"a 5-year e-mail", "a 5 - year e-mail"},
        {"&quot;x&quot; &amp;lt; y", "\" x \" < y"},
        {"it's (U.S.A.)  \t ok  ", "it's ( U . S . A . ) ok"},
        {"Straße, 2.", "Straße , 2 ."},
        {"<skipped> a", "a"},
        {"", ""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *t = bleu_tokenize_13a(cases[i][0]);
        assert_string_equal(t, cases[i][1]);
        free(t);
    }
}

/* The tokenizer against Python's re with the four 13a regexes, on tricky lines. */
static void tokenizer_matches_python_regexes(void **state)
{
    (void)state;
    static const char *const lines[] = {
        "Mr. Smith paid $3,50.- for 2.5kg (really?) -- ok...",
        "a.,b ,.c 1.a a.1 1,a a,1 9-9 -9 9- x-y",
        "Zürich's \"quotes\" [brackets] {braces} ~tilde` back\\slash |pipe ^caret _u",
        "naïve café, déjà-vu. 10.000,00 € – em—dash … ‚low‘ «guill»",
        "tabs\tand\u00a0nbsp and\u2009thin  spaces",
        "&amp;quot; &lt;tag&gt; @user #hash 50% a+b=c <x>",
        "ends with dash-",
    };
    FILE *in = fopen("bleu_lines.txt", "w");
    assert_non_null(in);
    for (size_t i = 0; i < sizeof lines / sizeof lines[0]; i++)
        fprintf(in, "%s\n", lines[i]);
    fclose(in);
    const char *py =
        "import re,sys\n"
        "R=[(re.compile(r'([\\{-\\~\\[-\\` -\\&\\(-\\+\\:-\\@\\/])'),r' \\1 '),"
        "(re.compile(r'([^0-9])([\\.,])'),r'\\1 \\2 '),"
        "(re.compile(r'([\\.,])([^0-9])'),r' \\1 \\2'),(re.compile(r'([0-9])(-)'),r'\\1 \\2 ')]\n"
        "for l in open('bleu_lines.txt',encoding='utf-8').read().split('\\n')[:-1]:\n"
        "  l=l.rstrip()\n"
        "  for a,b in [('<skipped>',''),('-\\n',''),('\\n',' '),('&quot;','\"'),('&amp;','&'),"
        "('&lt;','<'),('&gt;','>')]: l=l.replace(a,b)\n"
        "  l=' '+l+' '\n"
        "  for r,s in R: l=r.sub(s,l)\n"
        "  print(' '.join(l.split()))\n";
    FILE *f = fopen("bleu_ref.py", "w");
    assert_non_null(f);
    fputs(py, f);
    fclose(f);
    FILE *p = popen("/usr/bin/python3 bleu_ref.py", "r");
    assert_non_null(p);
    char want[1024];
    for (size_t i = 0; i < sizeof lines / sizeof lines[0]; i++) {
        assert_non_null(fgets(want, sizeof want, p));
        want[strcspn(want, "\n")] = '\0';
        char *got = bleu_tokenize_13a(lines[i]);
        assert_string_equal(got, want);
        free(got);
    }
    assert_int_equal(pclose(p), 0);
    remove("bleu_lines.txt");
    remove("bleu_ref.py");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(perfect_match_is_100),
        cmocka_unit_test(clipping_smoothing_and_brevity_by_hand),
        cmocka_unit_test(corpus_sums_statistics),
        cmocka_unit_test(edge_cases_score_zero),
        cmocka_unit_test(tokenizer_examples),
        cmocka_unit_test(tokenizer_matches_python_regexes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
