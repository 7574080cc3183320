/* The output half of `mos prepare`: tokenization (spm_train + spm_encode on the split text, or
 * a fairseq dict for pre-tokenized text), id counts checked against the text, and
 * data/manifest.json with the input fingerprint and a SHA-256 of every file. Also the check
 * that makes a repeated run a no-op. Invariant: the manifest is written last, after every file
 * it hashes is complete. */
#include "dict.h"
#include "prepare_int.h"
#include "proc.h"
#include "text.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#ifndef MOS_VERSION
#define MOS_VERSION "unknown"
#endif

#define OUT_SPM_SEED "1"

static const char *const out_side[2] = { "en", "de" };

static int out_count_lines(const char *path, int *n, MosErr *e)
{
    Lines l;
    if (lines_read(path, &l, e) < 0)
        return -1;
    *n = (int)l.n;
    lines_done(&l);
    return 0;
}

static int out_spm(Prep *p, MosErr *e)
{
    const PrepareOpts *o = p->o;
    char vocab[64], threads[64], cover[64], log[PATH_MAX], path[PATH_MAX];
    snprintf(vocab, sizeof vocab, "--vocab_size=%d", o->vocab);
    snprintf(cover, sizeof cover, "--character_coverage=%.6f", o->char_coverage);
    snprintf(threads, sizeof threads, "--num_threads=%d", o->threads);
    /* Deterministic: all sentences (no sampling, no shuffling), a fixed seed. Relative names
     * with cwd = tmp, because --input is a comma-separated list. */
    char *train[] = { "spm_train", "--input=train.en,train.de", "--model_prefix=spm", vocab,
                      "--model_type=unigram", cover, "--pad_id=0",
                      "--unk_id=1", "--bos_id=2", "--eos_id=3", threads,
                      "--random_seed=" OUT_SPM_SEED, "--input_sentence_size=0",
                      "--shuffle_input_sentence=false", "--hard_vocab_limit=false", NULL };
    prep_say(p, "training SentencePiece (unigram, vocab %d, %d threads) on train", o->vocab,
             o->threads);
    if (proc_run(train, p->tmp, NULL, prep_path(p, log, "spm_train.log"), e) < 0 ||
        out_count_lines(prep_path(p, path, "spm.vocab"), &p->vocab_size, e) < 0)
        return -1;
    for (int s = 0; s < CORPUS_SPLIT_COUNT; s++)
        for (int side = 0; side < 2; side++) {
            char in[64], out[64], out_arg[96];
            snprintf(in, sizeof in, "%s.%s", corpus_split_name[s], out_side[side]);
            snprintf(out, sizeof out, "%s.ids.%s", corpus_split_name[s], out_side[side]);
            snprintf(out_arg, sizeof out_arg, "--output=%s", out);
            char *enc[] = { "spm_encode", "--model=spm.model", "--output_format=id", out_arg,
                            in, NULL };
            if (proc_run(enc, p->tmp, NULL, prep_path(p, log, "spm_encode.log"), e) < 0)
                return -1;
        }
    return 0;
}

static int out_dict_file(const Dict *d, const char *in, const char *out, MosErr *e)
{
    Lines l;
    if (lines_read(in, &l, e) < 0)
        return -1;
    FILE *f = fopen(out, "w");
    if (!f) {
        lines_done(&l);
        return err_set(e, "%s: cannot create: %s", out, strerror(errno));
    }
    size_t ntok = 0, nunk = 0;
    for (size_t i = 0; i < l.n; i++)
        dict_encode_line(d, l.line[i], f, &ntok, &nunk);
    lines_done(&l);
    int bad = ferror(f);
    if (fclose(f) != 0 || bad)
        return err_set(e, "%s: write error", out);
    return 0;
}

/* Copies the dict into data/ so that later stages can map ids back to tokens. */
static int out_copy(const char *from, const char *to, MosErr *e)
{
    char *buf;
    size_t len;
    if (text_read_file(from, &buf, &len, e) < 0)
        return -1;
    FILE *f = fopen(to, "wb");
    int ok = f && fwrite(buf, 1, len, f) == len;
    ok = f && fclose(f) == 0 && ok;
    free(buf);
    return ok ? 0 : err_set(e, "%s: write error", to);
}

static int out_dict(Prep *p, MosErr *e)
{
    Dict d;
    char path[PATH_MAX];
    if (dict_load(&d, p->o->vocab_file, e) < 0)
        return -1;
    p->vocab_size = (int)(DICT_FIRST_ID + d.n);
    p->bpe_marker = d.bpe_marker;
    printf("mos prepare: mapping pre-tokenized text through %s (%zu tokens + 4 reserved)\n",
           p->o->vocab_file, d.n);
    int rc = out_copy(p->o->vocab_file, prep_path(p, path, "dict.txt"), e);
    for (int s = 0; rc == 0 && s < CORPUS_SPLIT_COUNT; s++)
        for (int side = 0; rc == 0 && side < 2; side++) {
            char in[64], out[64], pin[PATH_MAX];
            snprintf(in, sizeof in, "%s.%s", corpus_split_name[s], out_side[side]);
            snprintf(out, sizeof out, "%s.ids.%s", corpus_split_name[s], out_side[side]);
            rc = out_dict_file(&d, prep_path(p, pin, in), prep_path(p, path, out), e);
        }
    dict_done(&d);
    return rc;
}

/* Counts tokens per split and side and checks them against the text and the vocabulary. */
static int out_check_ids(Prep *p, MosErr *e)
{
    printf("mos prepare: tokens (en/de)");
    for (int s = 0; s < CORPUS_SPLIT_COUNT; s++) {
        json_t *split = json_object_get(p->splits, corpus_split_name[s]);
        size_t pairs = (size_t)json_integer_value(json_object_get(split, "pairs"));
        IdCounts k[2];
        for (int side = 0; side < 2; side++) {
            char name[64], path[PATH_MAX], key[32];
            snprintf(name, sizeof name, "%s.ids.%s", corpus_split_name[s], out_side[side]);
            if (ids_count_file(prep_path(p, path, name), DICT_UNK_ID, &k[side], e) < 0)
                return -1;
            if (k[side].lines != pairs)
                return err_set(e, "%s: %zu lines for %zu sentences", name, k[side].lines, pairs);
            if (k[side].max_id >= p->vocab_size)
                return err_set(e, "%s: id %ld outside the vocabulary of %d", name,
                               k[side].max_id, p->vocab_size);
            snprintf(key, sizeof key, "tokens_%s", out_side[side]);
            json_object_set_new(split, key, json_integer((json_int_t)k[side].tokens));
            snprintf(key, sizeof key, "unk_%s", out_side[side]);
            json_object_set_new(split, key, json_integer((json_int_t)k[side].unk));
        }
        printf(" %s %zu/%zu (unk %zu/%zu)%s", corpus_split_name[s], k[0].tokens, k[1].tokens,
               k[0].unk, k[1].unk, s + 1 < CORPUS_SPLIT_COUNT ? "," : "\n");
    }
    fflush(stdout);
    return 0;
}

int prep_tokenize(Prep *p, MosErr *e)
{
    if ((p->o->pretokenized ? out_dict(p, e) : out_spm(p, e)) < 0)
        return -1;
    prep_say(p, "vocabulary %d (pad 0, unk 1, bos 2, eos 3)", p->vocab_size);
    return out_check_ids(p, e);
}

/* The files of data/ in manifest order (NULL-terminated into names, at most 16). */
static void out_files(const Prep *p, const char *names[16])
{
    static const char *const text[] = { "train.en", "train.de", "valid.en", "valid.de",
                                        "test.en", "test.de", "train.ids.en", "train.ids.de",
                                        "valid.ids.en", "valid.ids.de", "test.ids.en",
                                        "test.ids.de" };
    int n = 0;
    for (size_t i = 0; i < sizeof text / sizeof text[0]; i++)
        names[n++] = text[i];
    if (p->o->pretokenized) {
        names[n++] = "dict.txt";
    } else {
        names[n++] = "spm.model";
        names[n++] = "spm.vocab";
    }
    names[n] = NULL;
}

static int out_cleanup(Prep *p, MosErr *e)
{
    static const char *const scratch[] = { "apt-cache.out", "apt-cache.log", "apt-get.log",
                                           "dpkg-deb.log", "spm_train.log", "spm_encode.log" };
    for (size_t i = 0; i < sizeof scratch / sizeof scratch[0]; i++) {
        char path[PATH_MAX];
        if (fs_rm_rf(prep_path(p, path, scratch[i]), e) < 0)
            return -1;
    }
    return 0;
}

static json_t *out_hashes(Prep *p, MosErr *e)
{
    const char *names[16];
    out_files(p, names);
    json_t *h = json_object();
    for (int i = 0; names[i]; i++) {
        char path[PATH_MAX], sha[65];
        if (sha256_file(prep_path(p, path, names[i]), sha, e) < 0) {
            json_decref(h);
            return NULL;
        }
        json_object_set_new(h, names[i], json_string(sha));
    }
    return h;
}

static json_t *out_settings(const Prep *p)
{
    const PrepareOpts *o = p->o;
    json_t *s = json_pack("{sisisisbsbsb}", "valid_size", o->valid_size, "test_size",
                          o->test_size, "max_words", o->max_words, "clean",
                          o->src ? o->clean : 1, "pretokenized", o->pretokenized,
                          "split_by_source_hash", 1);
    if (!o->pretokenized)
        json_object_set_new(s, "spm", json_pack("{sisssfsisi}", "vocab_requested", o->vocab,
                            "model_type", "unigram", "character_coverage", o->char_coverage,
                            "num_threads", o->threads, "random_seed", atoi(OUT_SPM_SEED)));
    return s;
}

static json_t *out_dropped(const Corpus *c)
{
    return json_pack("{sIsIsIsI}", "empty", (json_int_t)c->dropped[CORPUS_DROP_EMPTY],
                     "identical", (json_int_t)c->dropped[CORPUS_DROP_IDENTICAL],
                     "too_long", (json_int_t)c->dropped[CORPUS_DROP_LONG],
                     "duplicate", (json_int_t)c->dropped[CORPUS_DROP_DUPLICATE]);
}

int prep_manifest_write(Prep *p, MosErr *e)
{
    json_t *hashes;
    if (out_cleanup(p, e) < 0 || !(hashes = out_hashes(p, e)))
        return -1;
    char when[32], path[PATH_MAX];
    time_t now = time(NULL);
    strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
    json_t *m = json_pack("{sisssssssssisisisisisosOsOsOsosososo}",
        "format", PREP_FORMAT, "created_by", "mos " MOS_VERSION, "created_utc", when,
        "corpus", p->corpus_kind, "tokenizer", p->o->pretokenized ? "pretokenized" : "spm",
        "vocab_size", p->vocab_size, "pad_id", 0, "unk_id", 1, "bos_id", 2, "eos_id", 3,
        "bpe_marker", p->bpe_marker ? json_string("@@") : json_null(),
        "splits", p->splits, "sources", p->sources,
        "packages", p->versions ? p->versions : json_null(),
        "dropped", out_dropped(&p->main), "settings", out_settings(p),
        "hashes", hashes, "fingerprint", json_string(p->fingerprint));
    if (!m)
        return err_set(e, "internal error: cannot build the manifest");
    int rc = json_dump_file(m, prep_path(p, path, "manifest.json"), JSON_INDENT(2));
    json_decref(m);
    return rc == 0 ? 0 : err_set(e, "%s: cannot write", path);
}

int prep_up_to_date(const Prep *p)
{
    char path[PATH_MAX];
    fs_join(path, p->data, "manifest.json");
    json_t *m = json_load_file(path, 0, NULL);
    if (!m)
        return 0;
    const char *fp = json_string_value(json_object_get(m, "fingerprint"));
    json_t *hashes = json_object_get(m, "hashes");
    int fresh = fp && strcmp(fp, p->fingerprint) == 0 && json_is_object(hashes);
    if (!fresh)
        printf("mos prepare: inputs or options changed since %s was built; rebuilding\n",
               p->data);
    const char *key;
    json_t *val;
    json_object_foreach(hashes, key, val) {
        char sha[65], file[PATH_MAX];
        fs_join(file, p->data, key);
        if (!fresh)
            break;
        if (sha256_file(file, sha, NULL) < 0 || !json_is_string(val) ||
            strcmp(sha, json_string_value(val)) != 0) {
            printf("mos prepare: %s changed since it was prepared; rebuilding\n", file);
            fresh = 0;
        }
    }
    json_decref(m);
    return fresh;
}
