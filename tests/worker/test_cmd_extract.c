/* `mos extract`, `mos eval --model`, `mos translate` and `mos finetune` as a user runs them on a
 * tiny trained run (tests/common/tiny_data.c, tests/data/tiny.yml) with a real SentencePiece model
 * whose ids match the generated vocabulary: extraction by arch, front index and latency budget,
 * no overwrite without --force, the extracted model's loss equal to the supernet subnet's,
 * translations equal to supernet_decode's ids, finetuning replacing the weights with the previous
 * kept, and one-line errors for bad input (missing checkpoint, arch not in space, bad model dir,
 * corrupt safetensors, invalid UTF-8). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "modelfile.h"
#include "tiny_data.h"

#define SMALL "enc=16x2:ffn=32,32:h=2,2/dec=16x1:ffn=32:sh=2:eh=2:arb=1"
#define MIXED "enc=32x2:ffn=64,32:h=4,2/dec=16x2:ffn=32,64:sh=2,4:eh=4,2:arb=1,-1"

static char dir[512];
static char out[1 << 16];

/* Runs `mos ARGS` (a shell command line, so redirections work); stdout+stderr into out. */
static int mos(const char *fmt, ...)
{
    char args[4096], cmd[5000];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(args, sizeof args, fmt, ap);
    va_end(ap);
    snprintf(cmd, sizeof cmd, "%s/worker/mos %s 2>&1", getenv("MOS_BUILD_ROOT"), args);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    size_t len = fread(out, 1, sizeof out - 1, p);
    out[len] = '\0';
    int st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void expect(int rc, int want, const char *needle)
{
    if (rc != want || (needle && !strstr(out, needle)))
        fail_msg("exit %d (want %d), output lacks '%s':\n%s", rc, want, needle ? needle : "",
                 out);
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

/* A word-level SentencePiece model whose piece "▁wK" gets id K (4 <= K < 24): trained on text in
 * which wK is more frequent the smaller K is, so the frequency order is the id order. */
static int write_spm(const char *data)
{
    char txt[700], cmd[2000];
    snprintf(txt, sizeof txt, "%s/spm_train.txt", data);
    FILE *f = fopen(txt, "w");
    if (!f)
        return -1;
    for (int k = 4; k < TINY_VOCAB; k++)
        for (int r = 0; r < 60 - k; r++)
            fprintf(f, "w%d%c", k, r % 5 == 4 ? '\n' : ' ');
    fputc('\n', f);
    fclose(f);
    snprintf(cmd, sizeof cmd, "cd %s && spm_train --input=spm_train.txt --model_prefix=spm_check "
             "--vocab_size=%d --model_type=word --pad_id=0 --unk_id=1 --bos_id=2 --eos_id=3 "
             ">/dev/null 2>&1 && mv spm_check.model spm.model", data, TINY_VOCAB);
    return system(cmd) == 0 ? 0 : -1;
}

static int setup(void **state)
{
    (void)state;
    char data[600];
    if (!tiny_tmpdir(dir, sizeof dir) || tiny_data_write(dir, 400, 30, 30, 3) < 0)
        return -1;
    snprintf(data, sizeof data, "%s/data", dir);
    if (write_spm(data) < 0)
        return -1;
    if (mos("train --run-dir %s --config %s/tests/data/tiny.yml --max-update 150 --quiet", dir,
            getenv("MOS_SOURCE_ROOT")) != 0)
        return -1;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    tiny_rmdir(dir);
    return 0;
}

static void extract_by_arch(void **state)
{
    (void)state;
    expect(mos("extract --run-dir %s --arch smallest --name small", dir), 0,
           "wrote ");
    assert_non_null(strstr(out, "arch: " SMALL));
    char path[700];
    const char *files[] = { "model.safetensors", "config.json", "spm.model", "spm.vocab" };
    for (int i = 0; i < 4; i++) {
        snprintf(path, sizeof path, "%s/subnets/small/%s", dir, files[i]);
        assert_int_equal(access(path, R_OK), 0);
    }
    /* never overwritten without --force; replaced with it */
    expect(mos("extract --run-dir %s --arch smallest --name small", dir), 1,
           "already exists (use --force");
    expect(mos("extract --run-dir %s --arch '%s' --name small --force", dir, MIXED), 0, "wrote");
    ModelInfo info;
    snprintf(path, sizeof path, "%s/subnets/small", dir);
    assert_int_equal(modelfile_read_info(path, &info, NULL), 0);
    char text[512];
    arch_format(&info.arch, text, sizeof text);
    assert_string_equal(text, MIXED);
    assert_int_equal(info.source_step, 150);
    assert_string_equal(info.tokenizer_file, "spm.model");
    /* the default name comes from the arch hash */
    expect(mos("extract --run-dir %s --arch smallest", dir), 0, "/subnets/arch-");
}

static void extract_errors(void **state)
{
    (void)state;
    expect(mos("extract --run-dir %s", dir), 2, "exactly one of --arch, --front, --latency-ms");
    expect(mos("extract --run-dir %s --arch smallest --front 0", dir), 2, "exactly one");
    expect(mos("extract --run-dir %s --arch 'enc=32x2:ffn=64,64:h=4,4/dec=32x1:ffn=128:sh=4:eh=4:"
               "arb=-1'", dir), 1, "not in this run's search space");
    expect(mos("extract --run-dir %s --arch nonsense", dir), 1, "mos extract: ");
    expect(mos("extract --run-dir %s --front 0", dir), 1, "front.json: missing");
    expect(mos("extract --run-dir %s --arch smallest --name ../x", dir), 1, "--name '../x'");
    char other[700];
    snprintf(other, sizeof other, "%s/other", dir);
    mkdir(other, 0777);
    assert_int_equal(tiny_data_write(other, 20, 5, 5, 1), 0);
    expect(mos("extract --run-dir %s --config %s/tests/data/tiny.yml --arch smallest", other,
               getenv("MOS_SOURCE_ROOT")), 1, "no checkpoint (run `mos train` first)");
    tiny_rmdir(other);
}

static void extract_from_front(void **state)
{
    (void)state;
    char path[700];
    snprintf(path, sizeof path, "%s/search", dir);
    mkdir(path, 0777);
    snprintf(path, sizeof path, "%s/search/front.json", dir);
    write_file(path, "{\"front\": ["
               "{\"arch\": \"" SMALL "\", \"index\": 4, \"pred_latency_ms\": 3.0, "
               "\"valid_loss\": 2.5},"
               "{\"arch\": \"" MIXED "\", \"index\": 9, \"pred_latency_ms\": 5.0, "
               "\"valid_loss\": 2.2}]}");
    expect(mos("extract --run-dir %s --front 1", dir), 0, "arch: " MIXED);
    assert_non_null(strstr(out, "front point 1 (predicted 5 ms"));
    expect(mos("extract --run-dir %s --front 2", dir), 1, "has 2 points (0 .. 1");
    expect(mos("extract --run-dir %s --latency-ms 4", dir), 0, "arch: " SMALL);
    assert_non_null(strstr(out, "subnets/lat-4ms"));
    expect(mos("extract --run-dir %s --latency-ms 6 --name fast", dir), 0, "arch: " MIXED);
    expect(mos("extract --run-dir %s --latency-ms 1", dir), 1, "the fastest is predicted at 3");
}

/* The extracted model's loss equals the subnet's with the supernet's weights. */
static void eval_model_equals_subnet(void **state)
{
    (void)state;
    char loss_model[256], loss_sub[256];
    expect(mos("eval --model %s/subnets/small --no-bleu --split test", dir), 0, "loss ");
    snprintf(loss_model, sizeof loss_model, "%s", strstr(out, "loss "));
    expect(mos("eval --run-dir %s --arch '%s' --no-bleu --split test", dir, MIXED), 0, "loss ");
    snprintf(loss_sub, sizeof loss_sub, "%s", strstr(out, "loss "));
    assert_string_equal(loss_model, loss_sub);
    expect(mos("eval --model %s/subnets/small --split test --beam 2 --max-sentences 5", dir), 0,
           "BLEU = ");
    expect(mos("eval --model %s/subnets/small --arch smallest", dir), 2, "carries its own arch");
}

/* translate --ids gives supernet_decode's ids; text mode gives the same tokens as text. */
static void translate_matches_decode(void **state)
{
    (void)state;
    char model[700], in[700], ids[700];
    snprintf(model, sizeof model, "%s/subnets/small", dir);
    snprintf(in, sizeof in, "%s/data/test.en", dir);
    snprintf(ids, sizeof ids, "%s/data/test.ids.en", dir);
    expect(mos("translate --model %s --ids --beam 3 < %s", model, ids), 0, NULL);
    static char by_ids[1 << 16];
    snprintf(by_ids, sizeof by_ids, "%s", out);
    ModelInfo info;
    MosErr err = {{0}};
    Supernet *m = modelfile_load(model, 64, &info, &err);
    assert_non_null(m);
    FILE *f = fopen(ids, "r");
    char line[1024], want[1 << 16] = "";
    DecodeOpts o = {.beam = 3, .lenpen = 0.6f, .max_len_a = 1, .max_len_b = 10};
    int nlines = 0;
    while (fgets(line, sizeof line, f)) {
        int src[64], n = 0, hyp[64];
        for (char *t = strtok(line, " \n"); t; t = strtok(NULL, " \n"))
            src[n++] = atoi(t);
        int k = supernet_decode(m, &info.arch, src, n, &o, hyp, 64);
        for (int i = 0; i < k; i++)
            snprintf(want + strlen(want), sizeof want - strlen(want), i ? " %d" : "%d", hyp[i]);
        strcat(want, "\n");
        nlines++;
    }
    fclose(f);
    supernet_destroy(&m);
    assert_string_equal(by_ids, want);
    /* raw text through spm_encode: "wK" for every id K, line for line */
    expect(mos("translate --model %s --beam 3 --chunk 7 < %s", model, in), 0, NULL);
    char *p = by_ids, *q = out;
    for (int i = 0; i < nlines; i++) {
        char *pe = strchr(p, '\n'), *qe = strchr(q, '\n');
        assert_non_null(pe);
        assert_non_null(qe);
        char expect_text[512] = "";
        for (char *s = p; s < pe;) {
            long id = strtol(s, &s, 10);
            snprintf(expect_text + strlen(expect_text), sizeof expect_text - strlen(expect_text),
                     "%sw%ld", expect_text[0] ? " " : "", id);
            s += *s == ' ';
        }
        assert_int_equal((size_t)(qe - q), strlen(expect_text));
        assert_memory_equal(q, expect_text, strlen(expect_text));
        p = pe + 1;
        q = qe + 1;
    }
}

/* A model of pre-tokenized data (dict.txt, fairseq order: ids from 4 in file order) encodes
 * tokens through the dict and detokenizes through it: same translations as through spm. */
static void translate_pretokenized(void **state)
{
    (void)state;
    char src[700], dst[700], cmd[4000], path[800], in[700];
    snprintf(src, sizeof src, "%s/subnets/small", dir);
    snprintf(dst, sizeof dst, "%s/subnets/pretok", dir);
    snprintf(in, sizeof in, "%s/data/test.en", dir);
    snprintf(cmd, sizeof cmd, "cp -r %s %s && cd %s && rm spm.model spm.vocab && sed -i "
             "-e 's/\"tokenizer\": \"spm\"/\"tokenizer\": \"pretokenized\"/' "
             "-e 's/\"spm.model\"/\"dict.txt\"/' -e 's/\"spm.vocab\"/\"dict.txt\"/' "
             "config.json", src, dst, dst);
    assert_int_equal(system(cmd), 0);
    snprintf(path, sizeof path, "%s/dict.txt", dst);
    FILE *f = fopen(path, "w");
    for (int k = 4; k < TINY_VOCAB; k++)
        fprintf(f, "w%d %d\n", k, 100 - k);
    fclose(f);
    expect(mos("translate --model %s --beam 2 < %s", src, in), 0, NULL);
    static char by_spm[1 << 16];
    snprintf(by_spm, sizeof by_spm, "%s", out);
    expect(mos("translate --model %s --beam 2 < %s", dst, in), 0, NULL);
    assert_string_equal(out, by_spm);
}

static void translate_bad_input(void **state)
{
    (void)state;
    char in[700];
    snprintf(in, sizeof in, "%s/bad.txt", dir);
    write_file(in, "w5 w6 w7\nw8 w9\nw10 \xff\xfe w11\nw12\n");
    expect(mos("translate --model %s/subnets/small --beam 1 < %s", dir, in), 1,
           "stdin line 3: invalid UTF-8 at byte 4");
    int lines = 0;
    for (char *s = out; *s; s++)
        lines += *s == '\n';
    assert_int_equal(lines, 5);     /* 4 output lines + 1 error line */
    expect(mos("translate --model %s/subnets/small --ids < %s", dir, in), 1,
           "stdin line 1: expected token ids in [0, 24)");
    expect(mos("translate --model %s/nowhere < %s", dir, in), 1, "config.json: missing");
    expect(mos("translate < %s", in), 1, "--model DIR is required");
}

static void bad_model_files(void **state)
{
    (void)state;
    char src[700], cmd[2000];
    snprintf(src, sizeof src, "%s/subnets/broken", dir);
    snprintf(cmd, sizeof cmd, "cp -r %s/subnets/small %s", dir, src);
    assert_int_equal(system(cmd), 0);
    char path[800];
    snprintf(path, sizeof path, "%s/model.safetensors", src);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(truncate(path, st.st_size / 2), 0);
    expect(mos("eval --model %s --no-bleu", src), 1, "model.safetensors: tensor ");
    snprintf(path, sizeof path, "%s/config.json", src);
    write_file(path, "{\"format\": \"mos-model\", \"version\": 1, \"arch\": \"" SMALL "\"}");
    expect(mos("eval --model %s --no-bleu", src), 1, "config.json: config: missing");
}

static void finetune_replaces_weights(void **state)
{
    (void)state;
    char model[700], path[800];
    snprintf(model, sizeof model, "%s/subnets/small", dir);
    expect(mos("finetune --model %s --steps 20 --quiet", model), 0, "finetuned 20 updates");
    assert_non_null(strstr(out, "valid nll "));
    snprintf(path, sizeof path, "%s/model.prev.safetensors", model);
    assert_int_equal(access(path, R_OK), 0);
    ModelInfo info;
    assert_int_equal(modelfile_read_info(model, &info, NULL), 0);
    assert_int_equal(info.finetune_steps, 20);
    /* the loss printed at the end is what eval now reports */
    char *v = strstr(out, "-> ");
    assert_non_null(v);
    char after[16];
    snprintf(after, sizeof after, "%.6s", v + 3);
    expect(mos("eval --model %s --no-bleu", model), 0, after);
    expect(mos("finetune --model %s --steps 10 --from-scratch --quiet", model), 0,
           "trained from scratch 10 updates");
    assert_int_equal(modelfile_read_info(model, &info, NULL), 0);
    assert_int_equal(info.finetune_steps, 10);
    expect(mos("finetune --model %s --steps 0", model), 2, "--steps must be >= 1");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(extract_by_arch),
        cmocka_unit_test(extract_errors),
        cmocka_unit_test(extract_from_front),
        cmocka_unit_test(eval_model_equals_subnet),
        cmocka_unit_test(translate_matches_decode),
        cmocka_unit_test(translate_pretokenized),
        cmocka_unit_test(translate_bad_input),
        cmocka_unit_test(bad_model_files),
        cmocka_unit_test(finetune_replaces_weights),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
