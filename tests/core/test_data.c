/* The corpus loader and batcher: the manifest and ids files of DATA_CONTRACT.md, batches that
 * respect max tokens and cover every pair once per epoch, the <bos>/<eos> layout the model
 * expects, and a shuffled order that depends on (seed, epoch) only so resume is exact. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "data.h"
#include "detok.h"
#include "tiny_data.h"

static char root[512], data_dir[600];

static int setup(void **state)
{
    (void)state;
    if (!tiny_tmpdir(root, sizeof root) || tiny_data_write(root, 300, 20, 20, 5) < 0)
        return -1;
    snprintf(data_dir, sizeof data_dir, "%s/data", root);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    tiny_rmdir(root);
    return 0;
}

static void write_file(const char *name, const char *text)
{
    char p[700];
    snprintf(p, sizeof p, "%s/%s", data_dir, name);
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void manifest_reads_and_rejects(void **state)
{
    (void)state;
    Manifest m;
    MosErr err = {{0}};
    assert_int_equal(data_manifest_load(data_dir, &m, &err), 0);
    assert_int_equal(m.vocab_size, TINY_VOCAB);
    assert_int_equal(m.eos_id, 3);
    assert_string_equal(m.tokenizer, "spm");
    char bad[700];
    snprintf(bad, sizeof bad, "%s/bad", root);
    assert_int_equal(data_manifest_load(bad, &m, &err), -1);
    assert_non_null(strstr(err.msg, "manifest.json"));
}

static void split_loads_skips_long_and_names_bad_lines(void **state)
{
    (void)state;
    Manifest m;
    MosErr err = {{0}};
    DataSplit d;
    assert_int_equal(data_manifest_load(data_dir, &m, &err), 0);
    assert_int_equal(data_split_load(data_dir, "train", &m, 256, 0, &d, &err), 0);
    assert_int_equal(d.n, 300);
    assert_int_equal(d.skipped, 0);
    data_split_free(&d);
    /* lengths 2..8: with max_positions 6 (5 tokens + eos) some pairs are skipped */
    assert_int_equal(data_split_load(data_dir, "train", &m, 6, 0, &d, &err), 0);
    assert_true(d.skipped > 0 && d.n + d.skipped == 300);
    for (int i = 0; i < d.n; i++)
        assert_true(d.src_len[i] <= 5 && d.tgt_len[i] <= 5);
    data_split_free(&d);
    assert_int_equal(data_split_load(data_dir, "train", &m, 256, 7, &d, &err), 0);
    assert_int_equal(d.n, 7);
    data_split_free(&d);
    write_file("bad.ids.en", "4 5\n6 99\n");
    write_file("bad.ids.de", "4\n5\n");
    assert_int_equal(data_split_load(data_dir, "bad", &m, 256, 0, &d, &err), -1);
    assert_non_null(strstr(err.msg, "bad.ids.en:2: '99' is not a token id in [0, 24)"));
    write_file("bad.ids.en", "4 5\n6 7\n8\n");
    assert_int_equal(data_split_load(data_dir, "bad", &m, 256, 0, &d, &err), -1);
    assert_non_null(strstr(err.msg, "has 3 lines but"));
}

static void batches_respect_max_tokens_and_layout(void **state)
{
    (void)state;
    Manifest m;
    MosErr err = {{0}};
    DataSplit d;
    Batcher b;
    assert_int_equal(data_manifest_load(data_dir, &m, &err), 0);
    assert_int_equal(data_split_load(data_dir, "train", &m, 256, 0, &d, &err), 0);
    assert_int_equal(batcher_init(&b, &d, 40, &m, 1, 1, &err), 0);
    int *seen = calloc((size_t)d.n, sizeof(int));
    long tokens = 0;
    for (int k = 0; k < b.nbatches; k++) {
        Batch x;
        batcher_next(&b, &x);
        assert_true(x.B * (x.Ts > x.Tt ? x.Ts : x.Tt) <= 40);
        tokens += x.ntokens;
        int n;
        const int *pairs = batcher_pairs(&b, b.perm[k], &n);
        assert_int_equal(n, x.B);
        for (int r = 0; r < x.B; r++) {
            int i = pairs[r], sl = d.src_len[i], tl = d.tgt_len[i];
            seen[i]++;
            const int *s = d.tokens + d.src_off[i], *t = d.tokens + d.tgt_off[i];
            assert_memory_equal(x.src + r * x.Ts, s, sizeof(int) * (size_t)sl);
            assert_int_equal(x.src[r * x.Ts + sl], 3);
            assert_int_equal(x.tgt_in[r * x.Tt], 2);
            assert_memory_equal(x.tgt_in + r * x.Tt + 1, t, sizeof(int) * (size_t)tl);
            assert_memory_equal(x.tgt_out + r * x.Tt, t, sizeof(int) * (size_t)tl);
            assert_int_equal(x.tgt_out[r * x.Tt + tl], 3);
            for (int c = tl + 1; c < x.Tt; c++)
                assert_int_equal(x.tgt_out[r * x.Tt + c], 0);
            for (int c = sl + 1; c < x.Ts; c++)
                assert_int_equal(x.src[r * x.Ts + c], 0);
        }
    }
    long want = 0;
    for (int i = 0; i < d.n; i++) {
        assert_int_equal(seen[i], 1);
        want += d.tgt_len[i] + 1;
    }
    assert_int_equal(tokens, want);
    free(seen);
    batcher_done(&b);
    data_split_free(&d);
}

/* Returns the first pair of each of n batches drawn from a fresh batcher seeked to st. */
static void draw(const DataSplit *d, const Manifest *m, uint64_t seed, BatcherState st, int n,
                 int *out)
{
    Batcher b;
    MosErr err;
    assert_int_equal(batcher_init(&b, d, 40, m, seed, 1, &err), 0);
    batcher_seek(&b, st);
    for (int k = 0; k < n; k++) {
        Batch x;
        batcher_next(&b, &x);
        out[k] = x.src[0] * 1000 + x.B * 10 + x.Ts;
    }
    batcher_done(&b);
}

static void order_depends_on_seed_and_epoch_only(void **state)
{
    (void)state;
    Manifest m;
    MosErr err = {{0}};
    DataSplit d;
    assert_int_equal(data_manifest_load(data_dir, &m, &err), 0);
    assert_int_equal(data_split_load(data_dir, "train", &m, 256, 0, &d, &err), 0);
    Batcher b;
    assert_int_equal(batcher_init(&b, &d, 40, &m, 1, 1, &err), 0);
    int nb = b.nbatches;
    batcher_done(&b);
    int n = 3 * nb, *all = malloc(sizeof(int) * (size_t)n), *again = malloc(sizeof(int) * (size_t)n);
    draw(&d, &m, 9, (BatcherState){0, 0}, n, all);
    draw(&d, &m, 9, (BatcherState){0, 0}, n, again);
    assert_memory_equal(all, again, sizeof(int) * (size_t)n);
    /* resuming mid-epoch 1 gives the same tail */
    int at = nb + nb / 2;
    draw(&d, &m, 9, (BatcherState){1, nb / 2}, n - at, again);
    assert_memory_equal(all + at, again, sizeof(int) * (size_t)(n - at));
    /* epochs differ, seeds differ */
    assert_true(memcmp(all, all + nb, sizeof(int) * (size_t)nb) != 0);
    draw(&d, &m, 10, (BatcherState){0, 0}, nb, again);
    assert_true(memcmp(all, again, sizeof(int) * (size_t)nb) != 0);
    free(all);
    free(again);
    data_split_free(&d);
}

static void detokenizes_spm_and_bpe(void **state)
{
    (void)state;
    Manifest m;
    MosErr err = {{0}};
    Detok d;
    assert_int_equal(data_manifest_load(data_dir, &m, &err), 0);
    assert_int_equal(detok_load(&d, data_dir, &m, &err), 0);
    char *t = detok_decode(&d, (int[]){2, 4, 5, 1, 6, 3, 7}, 7);
    assert_string_equal(t, "w4 w5 \xe2\x81\x87  w6");  /* <unk> is " ⁇ " as in spm_decode */
    free(t);
    detok_done(&d);
    /* byte pieces, pieces without a leading marker */
    write_file("spm.vocab", "<pad>\t0\n<unk>\t0\n<s>\t0\n</s>\t0\n\xe2\x96\x81" "ab\t-1\n"
                            "cd\t-2\n<0x21>\t0\n");
    m.vocab_size = 7;
    assert_int_equal(detok_load(&d, data_dir, &m, &err), 0);
    t = detok_decode(&d, (int[]){4, 5, 6, 4, 0, 0}, 6);
    assert_string_equal(t, "abcd! ab");
    free(t);
    detok_done(&d);
    m.vocab_size = 8;
    assert_int_equal(detok_load(&d, data_dir, &m, &err), -1);
    assert_non_null(strstr(err.msg, "spm.vocab: 7 entries, but manifest.json says vocab_size 8"));
    /* pre-tokenized with a BPE marker */
    write_file("dict.txt", "hel@@ 10\nlo 7\nwor@@ 3\n");
    snprintf(m.tokenizer, sizeof m.tokenizer, "pretokenized");
    snprintf(m.bpe_marker, sizeof m.bpe_marker, "@@");
    m.vocab_size = 7;
    assert_int_equal(detok_load(&d, data_dir, &m, &err), 0);
    t = detok_decode(&d, (int[]){4, 5, 6, 5, 6}, 5);
    assert_string_equal(t, "hello worlo wor");
    free(t);
    detok_done(&d);
}

/* The pure-C decoder against spm_decode on a small SentencePiece model, unknown characters
 * included. */
static void detok_equals_spm_decode(void **state)
{
    (void)state;
    char cmd[4096], dir[700];
    snprintf(dir, sizeof dir, "%s/spm", root);
    snprintf(cmd, sizeof cmd,
             "mkdir -p %s && cd %s && for i in $(seq 1 30); do "
             "echo \"Der Bürgermeister sagte, dass 3.5 Millionen (ca.) kamen! Größe: $i\"; "
             "echo \"Hello world, it's a test-case with 'quotes' and numbers $i.\"; done > t.txt"
             " && spm_train --input=t.txt --model_prefix=spm --vocab_size=80 --pad_id=0 "
             "--unk_id=1 --bos_id=2 --eos_id=3 --minloglevel=2 > /dev/null 2>&1 && "
             "printf 'Hello Größe, xyz 日本\\n  Der  test-case (ca.) 42!\\nkamen\\n' > in.txt && "
             "spm_encode --model=spm.model --output_format=id < in.txt > ids.txt && "
             "spm_decode --model=spm.model --input_format=id < ids.txt > out.txt", dir, dir);
    assert_int_equal(system(cmd), 0);
    Manifest m = {.vocab_size = 80, .pad_id = 0, .unk_id = 1, .bos_id = 2, .eos_id = 3,
                  .tokenizer = "spm"};
    Detok d;
    MosErr err = {{0}};
    assert_int_equal(detok_load(&d, dir, &m, &err), 0);
    char p[800];
    snprintf(p, sizeof p, "%s/ids.txt", dir);
    FILE *fi = fopen(p, "r");
    snprintf(p, sizeof p, "%s/out.txt", dir);
    FILE *fo = fopen(p, "r");
    assert_true(fi && fo);
    char line[1024], want[1024];
    int lines = 0;
    while (fgets(line, sizeof line, fi)) {
        int ids[256], n = 0, off = 0, k;
        while (n < 256 && sscanf(line + off, "%d%n", &ids[n], &k) == 1) {
            off += k;
            n++;
        }
        assert_non_null(fgets(want, sizeof want, fo));
        want[strcspn(want, "\n")] = '\0';
        char *t = detok_decode(&d, ids, n);
        assert_string_equal(t, want);
        free(t);
        lines++;
    }
    assert_int_equal(lines, 3);
    fclose(fi);
    fclose(fo);
    detok_done(&d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(manifest_reads_and_rejects),
        cmocka_unit_test(split_loads_skips_long_and_names_bad_lines),
        cmocka_unit_test(batches_respect_max_tokens_and_layout),
        cmocka_unit_test(order_depends_on_seed_and_epoch_only),
        cmocka_unit_test(detokenizes_spm_and_bpe),
        cmocka_unit_test(detok_equals_spm_decode),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
