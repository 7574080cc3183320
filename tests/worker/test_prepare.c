/* `mos prepare` end to end on the real binary (MOS_BUILD_ROOT/worker/mos), without network:
 * catalogs compiled here with msgfmt (--mo-dir), the user's own text, pre-tokenized text with a
 * dict, the no-op re-run, determinism, and every bad input's one-line error — after which an
 * existing data/ must be untouched. SentencePiece runs with a tiny vocabulary to stay fast. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>
#include <jansson.h>

#include "commands.h"
#include "corpus.h"
#include "prepare.h"
#include "sha256.h"
#include "text.h"

extern char **environ;

static char tmp[] = "/tmp/mos-test-prepare-XXXXXX";
static char mos[4096];
static char out_text[65536], err_text[65536];

/* tmp/name in one of 16 rotating buffers: copy the result (local_path) to keep it. */
static const char *tp(const char *name)
{
    static char buf[16][512];
    static int k;
    k = (k + 1) % 16;
    snprintf(buf[k], sizeof buf[k], "%s/%s", tmp, name);
    return buf[k];
}

#define local_path(var, name) char var[512]; snprintf(var, sizeof var, "%s", tp(name))

static void write_file(const char *path, const char *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
}

static void write_str(const char *path, const char *s)
{
    write_file(path, s, strlen(s));
}

static void slurp(const char *path, char *buf, size_t size)
{
    FILE *f = fopen(path, "rb");
    size_t n = f ? fread(buf, 1, size - 1, f) : 0;
    buf[n] = '\0';
    if (f)
        fclose(f);
}

/* Runs argv with stdout/stderr captured into out_text/err_text; envp NULL: inherit. */
static int run_argv(char **argv, char **envp)
{
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        if (!freopen(tp("stdout.txt"), "w", stdout) || !freopen(tp("stderr.txt"), "w", stderr))
            _exit(126);
        execve(argv[0], argv, envp ? envp : environ);
        _exit(127);
    }
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    slurp(tp("stdout.txt"), out_text, sizeof out_text);
    slurp(tp("stderr.txt"), err_text, sizeof err_text);
    assert_true(WIFEXITED(status));
    return WEXITSTATUS(status);
}

/* mos prepare ARGS... (NULL-terminated). */
static int prepare(const char *first, ...)
{
    char *argv[40] = { mos, "prepare" };
    int n = 2;
    va_list ap;
    va_start(ap, first);
    for (const char *a = first; a; a = va_arg(ap, const char *)) {
        assert_true(n < 39);
        argv[n++] = (char *)a;
    }
    va_end(ap);
    argv[n] = NULL;
    return run_argv(argv, NULL);
}

static void msgfmt(const char *po, const char *mo)
{
    char *argv[] = { "/usr/bin/msgfmt", "-o", (char *)mo, (char *)po, NULL };
    assert_int_equal(run_argv(argv, NULL), 0);
}

static const char *words_en[] = { "open", "close", "file", "folder", "cannot", "read", "write",
                                  "the", "new", "old", "name", "user", "password", "network" };
static const char *words_de[] = { "öffnen", "schließen", "Datei", "Ordner", "kann nicht",
                                  "lesen", "schreiben", "die", "neue", "alte", "Name",
                                  "Benutzer", "Passwort", "Netzwerk" };
#define NWORDS 14

/* Sentence k: three to five words chosen from k; German uses the matching words. */
static void sentence(int k, char *en, char *de, size_t size)
{
    int len = 3 + k % 3;
    en[0] = de[0] = '\0';
    for (int i = 0, x = k; i < len; i++, x = x / NWORDS + 7 * i + 1) {
        snprintf(en + strlen(en), size - strlen(en), "%s%s", i ? " " : "", words_en[x % NWORDS]);
        snprintf(de + strlen(de), size - strlen(de), "%s%s", i ? " " : "", words_de[x % NWORDS]);
    }
    snprintf(en + strlen(en), size - strlen(en), " %d", k);
    snprintf(de + strlen(de), size - strlen(de), " %d", k);
}

/* Catalog c holds sentences [lo, hi), plus a context entry, a plural, an identical pair, a long
 * pair, an untranslated and a fuzzy entry. Returns nothing; kept pairs are hi - lo + 2. */
static void make_catalog(const char *name, int lo, int hi)
{
    size_t cap = 1 << 20, n = 0;
    char *po = malloc(cap);
    n += (size_t)snprintf(po + n, cap - n, "msgid \"\"\nmsgstr \"Content-Type: text/plain; "
                          "charset=UTF-8\\nPlural-Forms: nplurals=2; plural=(n != 1);\\n\"\n\n");
    for (int k = lo; k < hi; k++) {
        char en[256], de[256];
        sentence(k, en, de, sizeof en);
        n += (size_t)snprintf(po + n, cap - n, "msgid \"%s\"\nmsgstr \"%s\"\n\n", en, de);
    }
    n += (size_t)snprintf(po + n, cap - n,
        "msgctxt \"%s menu\"\nmsgid \"Quit %s\"\nmsgstr \"Beenden %s\"\n\n"
        "msgid \"%%d item of %s\"\nmsgid_plural \"%%d items\"\nmsgstr[0] \"%%d Element von %s\"\n"
        "msgstr[1] \"%%d Elemente\"\n\n"
        "msgid \"OK\"\nmsgstr \"OK\"\n\n"
        "msgid \"Untranslated %s\"\nmsgstr \"\"\n\n"
        "#, fuzzy\nmsgid \"Fuzzy %s\"\nmsgstr \"Unscharf\"\n\n"
        "msgid \"%s\"\nmsgstr \"lang\"\n\n", name, name, name, name, name, name, name,
        "a b c d e f g h i j k l m n o p q r s t u v w x y z a b c d e f g h i j k l m n o p");
    char po_name[256], mo_name[256];
    snprintf(po_name, sizeof po_name, "%s.po", name);
    snprintf(mo_name, sizeof mo_name, "mo/%s.mo", name);
    write_file(tp(po_name), po, n);
    free(po);
    msgfmt(tp(po_name), tp(mo_name));
}

static json_t *manifest(const char *run)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/data/manifest.json", run);
    json_error_t je;
    json_t *m = json_load_file(path, 0, &je);
    if (!m)
        fail_msg("%s: %s", path, je.text);
    return m;
}

static long split_int(json_t *m, const char *split, const char *key)
{
    return (long)json_integer_value(json_object_get(json_object_get(json_object_get(m,
                                    "splits"), split), key));
}

static size_t count_lines(const char *path)
{
    Lines l;
    MosErr e = {{0}};
    if (lines_read(path, &l, &e) < 0)
        fail_msg("%s", e.msg);
    size_t n = l.n;
    lines_done(&l);
    return n;
}

/* Every hashed file exists with that hash; ids are within the vocabulary and line-aligned. */
static void check_data(const char *run, json_t *m)
{
    const char *key;
    json_t *val;
    int files = 0;
    json_object_foreach(json_object_get(m, "hashes"), key, val) {
        char path[1024], sha[65];
        MosErr e = {{0}};
        snprintf(path, sizeof path, "%s/data/%s", run, key);
        assert_int_equal(sha256_file(path, sha, &e), 0);
        assert_string_equal(sha, json_string_value(val));
        files++;
    }
    int pretok = strcmp(json_string_value(json_object_get(m, "tokenizer")), "pretokenized") == 0;
    assert_int_equal(files, pretok ? 13 : 14);     /* 12 text/id files + spm.* or dict.txt */
    long vocab = (long)json_integer_value(json_object_get(m, "vocab_size"));
    const char *splits[] = { "train", "valid", "test" }, *sides[] = { "en", "de" };
    for (int s = 0; s < 3; s++)
        for (int side = 0; side < 2; side++) {
            char path[1024];
            IdCounts k;
            MosErr e = {{0}};
            snprintf(path, sizeof path, "%s/data/%s.ids.%s", run, splits[s], sides[side]);
            assert_int_equal(ids_count_file(path, 1, &k, &e), 0);
            assert_int_equal(k.lines, split_int(m, splits[s], "pairs"));
            assert_true(k.max_id < vocab);
            snprintf(path, sizeof path, "%s/data/%s.%s", run, splits[s], sides[side]);
            assert_int_equal(count_lines(path), k.lines);
        }
}

static void catalogs_to_data(void **state)
{
    (void)state;
    mkdir(tp("mo"), 0777);
    make_catalog("alpha", 0, 150);
    make_catalog("beta", 100, 300);        /* 100..149 repeat alpha's sources: dropped */
    make_catalog("gamma", 300, 400);
    local_path(run, "run1");
    assert_int_equal(prepare("--run-dir", run, "--mo-dir", tp("mo"), "--vocab", "100",
                             "--threads", "1", NULL), 0);
    assert_non_null(strstr(out_text, "alpha.mo"));
    assert_non_null(strstr(out_text, "split train"));
    json_t *m = manifest(run);
    /* 400 sentences + (context + plural) per catalog; 3 identical, 3 long dropped. */
    long pairs = split_int(m, "train", "pairs") + split_int(m, "valid", "pairs") +
                 split_int(m, "test", "pairs");
    assert_int_equal(pairs, 406);
    assert_int_equal(split_int(m, "valid", "pairs"), 40);
    assert_int_equal(split_int(m, "test", "pairs"), 40);
    json_t *dropped = json_object_get(m, "dropped");
    assert_int_equal(json_integer_value(json_object_get(dropped, "duplicate")), 50);
    assert_int_equal(json_integer_value(json_object_get(dropped, "identical")), 3);
    assert_int_equal(json_integer_value(json_object_get(dropped, "too_long")), 3);
    assert_string_equal(json_string_value(json_object_get(m, "tokenizer")), "spm");
    assert_string_equal(json_string_value(json_object_get(m, "corpus")), "mo-dir");
    assert_int_equal(json_integer_value(json_object_get(m, "pad_id")), 0);
    assert_int_equal(json_integer_value(json_object_get(m, "eos_id")), 3);
    long vocab = (long)json_integer_value(json_object_get(m, "vocab_size"));
    assert_true(vocab > 4 && vocab <= 100);
    json_t *src = json_object_get(m, "sources");
    assert_int_equal(json_array_size(src), 3);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(src, 1), "pairs")), 152);
    check_data(run, m);
    /* The context prefix is gone and the plural's singular is kept. */
    char all[65536];
    slurp(tp("run1/data/train.en"), all, sizeof all);
    slurp(tp("run1/data/valid.en"), all + strlen(all), sizeof all - strlen(all));
    slurp(tp("run1/data/test.en"), all + strlen(all), sizeof all - strlen(all));
    assert_non_null(strstr(all, "Quit beta\n"));
    assert_non_null(strstr(all, "%d item of gamma\n"));
    assert_null(strstr(all, "menu"));
    assert_null(strstr(all, "Fuzzy"));
    /* Same inputs: a no-op that says so. */
    const char *created = json_string_value(json_object_get(m, "created_utc"));
    char created_copy[64];
    snprintf(created_copy, sizeof created_copy, "%s", created);
    assert_int_equal(prepare("--run-dir", run, "--mo-dir", tp("mo"), "--vocab", "100",
                             "--threads", "1", NULL), 0);
    assert_non_null(strstr(out_text, "is up to date"));
    json_t *m2 = manifest(run);
    assert_string_equal(json_string_value(json_object_get(m2, "created_utc")), created_copy);
    /* Another run directory: byte-identical files (deterministic split and SentencePiece). */
    assert_int_equal(prepare("--run-dir", tp("run2"), "--mo-dir", tp("mo"), "--vocab", "100",
                             "--threads", "1", NULL), 0);
    json_t *m3 = manifest(tp("run2"));
    assert_true(json_equal(json_object_get(m, "hashes"), json_object_get(m3, "hashes")));
    assert_true(json_equal(json_object_get(m, "fingerprint"), json_object_get(m3, "fingerprint")));
    /* A changed output file is noticed and rebuilt. */
    FILE *f = fopen(tp("run1/data/valid.de"), "a");
    fputs("tampered\n", f);
    fclose(f);
    assert_int_equal(prepare("--run-dir", run, "--mo-dir", tp("mo"), "--vocab", "100",
                             "--threads", "1", NULL), 0);
    if (!strstr(out_text, "valid.de changed since it was prepared"))
        fail_msg("no rebuild message in '%s'", out_text);
    json_t *m4 = manifest(run);
    check_data(run, m4);
    json_decref(m4);
    json_decref(m);
    json_decref(m2);
    json_decref(m3);
}

static void write_parallel(const char *en, const char *de, int n, int start)
{
    FILE *fe = fopen(en, "w"), *fd = fopen(de, "w");
    for (int k = start; k < start + n; k++) {
        char se[256], sd[256];
        sentence(k, se, sd, sizeof se);
        fprintf(fe, "%s\n", se);
        fprintf(fd, "%s\n", sd);
    }
    fclose(fe);
    fclose(fd);
}

static void user_text_to_data(void **state)
{
    (void)state;
    write_parallel(tp("u.en"), tp("u.de"), 300, 0);
    local_path(run, "user");
    assert_int_equal(prepare("--run-dir", run, "--src", tp("u.en"), "--tgt", tp("u.de"),
                             "--vocab", "100", "--threads", "1", NULL), 0);
    json_t *m = manifest(run);
    assert_int_equal(split_int(m, "train", "pairs"), 240);
    assert_int_equal(split_int(m, "valid", "pairs"), 30);
    assert_int_equal(split_int(m, "test", "pairs"), 30);
    assert_string_equal(json_string_value(json_object_get(m, "corpus")), "user");
    check_data(run, m);
    json_decref(m);
    /* The user's own validation file is used as given; test is still carved out. */
    write_parallel(tp("v.en"), tp("v.de"), 17, 1000);
    local_path(run2, "user2");
    assert_int_equal(prepare("--run-dir", run2, "--src", tp("u.en"), "--tgt", tp("u.de"),
                             "--valid-src", tp("v.en"), "--valid-tgt", tp("v.de"),
                             "--vocab", "100", "--threads", "1", NULL), 0);
    m = manifest(run2);
    assert_int_equal(split_int(m, "valid", "pairs"), 17);
    assert_int_equal(split_int(m, "test", "pairs"), 30);
    assert_int_equal(split_int(m, "train", "pairs"), 270);
    check_data(run2, m);
    json_decref(m);
}

/* The worker's prepare stage passes these lines to its log (the dashboard's log panel). */
static char notes[8192];

static void collect_note(void *ctx, const char *line)
{
    (*(int *)ctx)++;
    strncat(notes, line, sizeof notes - strlen(notes) - 2);
    strcat(notes, "\n");
}

static void stage_lines_reach_the_note_sink(void **state)
{
    (void)state;
    write_parallel(tp("n.en"), tp("n.de"), 200, 0);
    local_path(run, "notes");
    PrepareOpts o = { .run_dir = run, .vocab = 100, .threads = 1, .char_coverage = 1.0,
                      .valid_size = 20, .test_size = 20, .max_words = 50, .src = tp("n.en"),
                      .tgt = tp("n.de"), .note = collect_note };
    int count = 0;
    o.note_ctx = &count;
    notes[0] = '\0';
    MosErr e = {{0}};
    assert_int_equal(prepare_run(&o, &e), 0);
    assert_non_null(strstr(notes, "reading your parallel text\n"));
    assert_non_null(strstr(notes, "training SentencePiece (unigram, vocab 100, 1 threads)"));
    assert_non_null(strstr(notes, "vocabulary "));
    assert_non_null(strstr(notes, "wrote "));
    assert_null(strstr(notes, "mos prepare:"));
    assert_true(count >= 4);
    notes[0] = '\0';
    int rc = prepare_run(&o, &e);
    if (rc != 0)
        fprintf(stderr, "prepare_run again: %s\n", e.msg);
    assert_int_equal(rc, 0);
    assert_non_null(strstr(notes, "is up to date"));
}

static void pretokenized_to_data(void **state)
{
    (void)state;
    write_str(tp("p.en"), "the Ha@@ us is big\nthe cat\nbig cat\nthe big Ha@@ us\nis it\n"
              "cat is\nthe the\nbig is\nHa@@ us\nit is\n");
    write_str(tp("p.de"), "das Ha@@ us ist groß\ndie Katze\ngroße Katze\ndas große Ha@@ us\n"
              "ist es\nKatze ist\ndas das\ngroß ist\nHa@@ us\nes ist\n");
    write_str(tp("dict.txt"), "the 9\nHa@@ 4\nus 4\nis 6\nbig 4\ncat 3\nit 2\ndas 5\nist 6\n");
    local_path(run, "pretok");
    assert_int_equal(prepare("--run-dir", run, "--src", tp("p.en"), "--tgt", tp("p.de"),
                             "--pretokenized", "--vocab-file", tp("dict.txt"), NULL), 0);
    json_t *m = manifest(run);
    assert_string_equal(json_string_value(json_object_get(m, "tokenizer")), "pretokenized");
    assert_string_equal(json_string_value(json_object_get(m, "bpe_marker")), "@@");
    assert_int_equal(json_integer_value(json_object_get(m, "vocab_size")), 13);
    assert_int_equal(split_int(m, "train", "pairs") + split_int(m, "valid", "pairs") +
                     split_int(m, "test", "pairs"), 10);
    struct stat st;
    assert_int_equal(stat(tp("pretok/data/dict.txt"), &st), 0);
    assert_int_not_equal(stat(tp("pretok/data/spm.model"), &st), 0);
    check_data(run, m);
    /* Line "the Ha@@ us is big" maps to 4 5 6 7 8 wherever the split put it. */
    char all[8192];
    slurp(tp("pretok/data/train.ids.en"), all, sizeof all);
    slurp(tp("pretok/data/valid.ids.en"), all + strlen(all), sizeof all - strlen(all));
    slurp(tp("pretok/data/test.ids.en"), all + strlen(all), sizeof all - strlen(all));
    assert_non_null(strstr(all, "4 5 6 7 8\n"));
    char de[8192];
    slurp(tp("pretok/data/train.ids.de"), de, sizeof de);
    slurp(tp("pretok/data/valid.ids.de"), de + strlen(de), sizeof de - strlen(de));
    slurp(tp("pretok/data/test.ids.de"), de + strlen(de), sizeof de - strlen(de));
    assert_non_null(strstr(de, "11 5 6 12 1\n"));     /* "groß" is not in the dict */
    json_decref(m);
}

/* One bad input: exit 1, exactly one stderr line starting "mos prepare: " and containing
 * needle, and the good data/ of run "user" unchanged. */
static void expect_failure(const char *needle, int rc)
{
    if (rc != 1 || strncmp(err_text, "mos prepare: ", 13) != 0 || !strstr(err_text, needle) ||
        strchr(err_text, '\n') != err_text + strlen(err_text) - 1)
        fail_msg("rc %d, stderr '%s' (expected one line with '%s')", rc, err_text, needle);
    json_t *m = manifest(tp("user"));
    check_data(tp("user"), m);
    json_decref(m);
    struct stat st;
    assert_int_not_equal(stat(tp("user/.data.new"), &st), 0);
}

static int prepare_user(const char *src, const char *tgt)
{
    return prepare("--run-dir", tp("user"), "--src", src, "--tgt", tgt, "--vocab", "100",
                   "--threads", "1", NULL);
}

static void bad_inputs_fail_cleanly(void **state)
{
    (void)state;
    json_t *before = manifest(tp("user"));
    expect_failure("nope.en: cannot open: No such file or directory",
                   prepare_user(tp("nope.en"), tp("u.de")));
    write_parallel(tp("short.en"), tp("short.de"), 299, 0);
    expect_failure("short.de:300: missing line (", prepare_user(tp("u.en"), tp("short.de")));
    write_str(tp("bad.de"), "eins\nzwei\ndrei \xc3\x28 vier\n");
    write_str(tp("bad.en"), "one\ntwo\nthree four\n");
    expect_failure("bad.de:3: invalid UTF-8", prepare_user(tp("bad.en"), tp("bad.de")));
    write_str(tp("empty.en"), "");
    write_str(tp("empty.de"), "");
    expect_failure("empty.en: empty corpus", prepare_user(tp("empty.en"), tp("empty.de")));
    write_str(tp("blank.en"), "one\n  \nthree\n");
    write_str(tp("blank.de"), "eins\nzwei\ndrei\n");
    expect_failure("blank.en:2: empty line", prepare_user(tp("blank.en"), tp("blank.de")));
    /* --clean turns the same file into a corpus without the empty pair. */
    assert_int_equal(prepare("--run-dir", tp("clean"), "--src", tp("blank.en"), "--tgt",
                             tp("blank.de"), "--clean", "--vocab", "30", NULL), 0);
    assert_non_null(strstr(out_text, "dropped 1 empty"));
    /* A corrupt catalog names the file and the problem. */
    mkdir(tp("badmo"), 0777);
    write_str(tp("badmo/broken.mo"), "\xde\x12\x04\x95garbage");
    assert_int_equal(prepare("--run-dir", tp("user"), "--mo-dir", tp("badmo"), NULL), 1);
    expect_failure("broken.mo: truncated header", 1);
    mkdir(tp("nomo"), 0777);
    expect_failure("no .mo catalogs", prepare("--run-dir", tp("user"), "--mo-dir", tp("nomo"),
                                              NULL));
    expect_failure("--packages: 'bad;name' is not a Debian package name",
                   prepare("--run-dir", tp("user"), "--packages", "bad;name", NULL));
    expect_failure("package nosuchpkg-mos-test: apt-cache failed",     /* local, no network */
                   prepare("--run-dir", tp("user"), "--packages", "nosuchpkg-mos-test", NULL));
    expect_failure("--pretokenized and --vocab-file go together",
                   prepare("--run-dir", tp("user"), "--src", tp("u.en"), "--tgt", tp("u.de"),
                           "--pretokenized", NULL));
    write_str(tp("baddict.txt"), "the 1\nthe 2\n");
    expect_failure("baddict.txt:2: duplicate token 'the'",
                   prepare("--run-dir", tp("user"), "--src", tp("p.en"), "--tgt", tp("p.de"),
                           "--pretokenized", "--vocab-file", tp("baddict.txt"), NULL));
    /* A second prepare in the same run directory waits for nobody: it refuses. */
    int fd = open(tp("user/.prepare.lock"), O_RDWR | O_CREAT, 0644);
    assert_true(fd >= 0);
    assert_int_equal(flock(fd, LOCK_EX | LOCK_NB), 0);
    expect_failure("another mos prepare is running in", prepare_user(tp("u.en"), tp("u.de")));
    close(fd);
    /* A missing tool gets a hint instead of a cryptic failure. */
    char *argv[] = { mos, "prepare", "--run-dir", (char *)tp("user"), "--src",
                     (char *)tp("u.en"), "--tgt", (char *)tp("v.de"), "--force", NULL };
    write_parallel(tp("u.en"), tp("v.de"), 300, 0);
    char path_env[1100];
    snprintf(path_env, sizeof path_env, "PATH=%s/emptybin", tmp);
    mkdir(tp("emptybin"), 0777);
    char *envp[] = { path_env, NULL };
    expect_failure("spm_train not found on PATH (run scripts/setup.sh", run_argv(argv, envp));
    json_t *after = manifest(tp("user"));
    assert_true(json_equal(before, after));
    json_decref(before);
    json_decref(after);
}

static void help_lists_every_option(void **state)
{
    (void)state;
    assert_int_equal(prepare("--help", NULL), 0);
    for (const OptSpec *o = cmd_prepare.opts; o->name; o++) {
        char flag[64];
        snprintf(flag, sizeof flag, "--%s ", o->name);
        if (!strstr(out_text, flag))
            fail_msg("mos prepare --help does not list %s", flag);
    }
    assert_int_equal(prepare("--vocab", "many", NULL), 2);
    assert_non_null(strstr(err_text, "--vocab: expected an integer"));
}

static int setup(void **state)
{
    (void)state;
    const char *root = getenv("MOS_BUILD_ROOT");
    if (!root || !mkdtemp(tmp))
        return -1;
    snprintf(mos, sizeof mos, "%s/worker/mos", root);
    return access(mos, X_OK);
}

static int teardown(void **state)
{
    (void)state;
    char *argv[] = { "/bin/rm", "-rf", tmp, NULL };
    run_argv(argv, NULL);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(catalogs_to_data),
        cmocka_unit_test(user_text_to_data),
        cmocka_unit_test(stage_lines_reach_the_note_sink),
        cmocka_unit_test(pretokenized_to_data),
        cmocka_unit_test(bad_inputs_fail_cleanly),
        cmocka_unit_test(help_lists_every_option),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
