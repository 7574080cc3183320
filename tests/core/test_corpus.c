/* Corpus preparation in core: the .mo reader on catalogs compiled by msgfmt from .po text
 * written here (contexts, plurals, fuzzy and untranslated entries, both byte orders, corrupt
 * and truncated files), text utilities, cleaning/dedupe/split, line reading, SHA-256 vectors
 * and the pre-tokenized dict. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "corpus.h"
#include "dict.h"
#include "mo.h"
#include "sha256.h"
#include "text.h"

static char tmpdir[] = "/tmp/mos-test-corpus-XXXXXX";

static void write_file(const char *path, const char *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
}

static const char *tpath(const char *name)
{
    static char buf[8][512];
    static int k;
    k = (k + 1) % 8;
    snprintf(buf[k], sizeof buf[k], "%s/%s", tmpdir, name);
    return buf[k];
}

/* Compiles po text with msgfmt into tmpdir/name. */
static const char *compile_po(const char *name, const char *po)
{
    char po_name[256];
    snprintf(po_name, sizeof po_name, "%s.po", name);
    const char *po_path = tpath(po_name);
    write_file(po_path, po, strlen(po));
    const char *mo_path = tpath(name);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        execlp("msgfmt", "msgfmt", "-o", mo_path, po_path, (char *)NULL);
        _exit(127);
    }
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    return mo_path;
}

static const char *po_header =
    "msgid \"\"\nmsgstr \"\"\n\"Content-Type: text/plain; charset=UTF-8\\n\"\n"
    "\"Plural-Forms: nplurals=2; plural=(n != 1);\\n\"\n\n";

typedef struct Collected {
    char src[16][128];
    char tgt[16][128];
    int n;
} Collected;

static int collect(void *ctx, const char *src, size_t slen, const char *tgt, size_t tlen)
{
    Collected *c = ctx;
    assert_true(c->n < 16 && slen < 128 && tlen < 128);
    memcpy(c->src[c->n], src, slen);
    c->src[c->n][slen] = '\0';
    memcpy(c->tgt[c->n], tgt, tlen);
    c->tgt[c->n][tlen] = '\0';
    c->n++;
    return 0;
}

static const char *sample_po(void)
{
    static char po[2048];
    snprintf(po, sizeof po, "%s"
             "msgid \"Open file\"\nmsgstr \"Datei öffnen\"\n\n"
             "msgctxt \"menu\"\nmsgid \"Quit\"\nmsgstr \"Beenden\"\n\n"
             "msgid \"%%d file\"\nmsgid_plural \"%%d files\"\n"
             "msgstr[0] \"%%d Datei\"\nmsgstr[1] \"%%d Dateien\"\n\n"
             "#, fuzzy\nmsgid \"Maybe\"\nmsgstr \"Vielleicht\"\n\n"
             "msgid \"Untranslated\"\nmsgstr \"\"\n\n"
             "msgid \"Two\\nlines\"\nmsgstr \"Zwei\\nZeilen\"\n", po_header);
    return po;
}

static void mo_reads_msgfmt_catalog(void **state)
{
    (void)state;
    const char *mo = compile_po("sample.mo", sample_po());
    Collected c = { 0 };
    MoStats st;
    MosErr e = {{0}};
    assert_int_equal(mo_read_file(mo, collect, &c, &st, &e), 0);
    /* msgfmt sorts by msgid bytes: "%d file", "Open file", "Two\nlines", "menu\x04Quit". */
    assert_int_equal(c.n, 4);
    assert_string_equal(c.src[0], "%d file");
    assert_string_equal(c.tgt[0], "%d Datei");
    assert_string_equal(c.src[1], "Open file");
    assert_string_equal(c.tgt[1], "Datei öffnen");
    assert_string_equal(c.src[2], "Two\nlines");
    assert_string_equal(c.src[3], "Quit");
    assert_string_equal(c.tgt[3], "Beenden");
    assert_int_equal(st.yielded, 4);
    assert_int_equal(st.skipped, 1);   /* the header; fuzzy/untranslated are not compiled */
    for (int i = 0; i < c.n; i++)
        assert_string_not_equal(c.src[i], "Maybe");
}

/* Rewrites a little-endian catalog as big-endian: every 32-bit word of the header and both
 * tables is byte-reversed; the strings stay as they are. */
static void to_big_endian(uint8_t *b, size_t len)
{
    uint32_t n = (uint32_t)b[8] | (uint32_t)b[9] << 8 | (uint32_t)b[10] << 16 |
                 (uint32_t)b[11] << 24;
    uint32_t o = (uint32_t)b[12] | (uint32_t)b[13] << 8 | (uint32_t)b[14] << 16 |
                 (uint32_t)b[15] << 24;
    uint32_t t = (uint32_t)b[16] | (uint32_t)b[17] << 8 | (uint32_t)b[18] << 16 |
                 (uint32_t)b[19] << 24;
    size_t words[3] = { 0, o, t }, counts[3] = { 7, 2 * (size_t)n, 2 * (size_t)n };
    for (int r = 0; r < 3; r++)
        for (size_t w = 0; w < counts[r]; w++) {
            uint8_t *p = b + words[r] + 4 * w;
            assert_true(words[r] + 4 * w + 4 <= len);
            uint8_t x0 = p[0], x1 = p[1];
            p[0] = p[3];
            p[1] = p[2];
            p[2] = x1;
            p[3] = x0;
        }
}

static uint8_t *load(const char *path, size_t *len)
{
    char *buf;
    MosErr e = {{0}};
    assert_int_equal(text_read_file(path, &buf, len, &e), 0);
    return (uint8_t *)buf;
}

static void mo_reads_big_endian(void **state)
{
    (void)state;
    const char *mo = compile_po("be.mo", sample_po());
    size_t len;
    uint8_t *b = load(mo, &len);
    to_big_endian(b, len);
    assert_int_equal(b[0], 0x95);   /* the magic now reads 95 04 12 de */
    Collected c = { 0 };
    MosErr e = {{0}};
    assert_int_equal(mo_read_buf(b, len, collect, &c, NULL, &e), 0);
    assert_int_equal(c.n, 4);
    assert_string_equal(c.src[1], "Open file");
    assert_string_equal(c.tgt[3], "Beenden");
    free(b);
}

static void put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

static void expect_error(const uint8_t *b, size_t len, const char *needle)
{
    Collected c = { 0 };
    MosErr e = {{0}};
    assert_int_equal(mo_read_buf(b, len, collect, &c, NULL, &e), -1);
    if (!strstr(e.msg, needle))
        fail_msg("error '%s' does not contain '%s'", e.msg, needle);
}

static void mo_rejects_corrupt_files(void **state)
{
    (void)state;
    const char *mo = compile_po("corrupt.mo", sample_po());
    size_t len;
    uint8_t *b = load(mo, &len);
    expect_error(b, 10, "truncated header");
    uint8_t *c = malloc(len);
    memcpy(c, b, len);
    c[0] ^= 0xff;
    expect_error(c, len, "bad magic");
    memcpy(c, b, len);
    put32(c + 4, 2u << 16);
    expect_error(c, len, "unsupported .mo revision 2.0");
    memcpy(c, b, len);
    put32(c + 8, 0x10000000u);
    expect_error(c, len, "extend past the end");
    memcpy(c, b, len);
    uint32_t orig = (uint32_t)c[12] | (uint32_t)c[13] << 8 | (uint32_t)c[14] << 16;
    put32(c + orig + 4, (uint32_t)len - 2);     /* entry 0's msgid starts near the end */
    expect_error(c, len, "entry 0: string at offset");
    memcpy(c, b, len);
    uint32_t off1 = (uint32_t)c[orig + 12] | (uint32_t)c[orig + 13] << 8;
    uint32_t len1 = (uint32_t)c[orig + 8] | (uint32_t)c[orig + 9] << 8;
    c[off1 + len1] = 'x';                       /* entry 1 loses its NUL terminator */
    expect_error(c, len, "entry 1: string at offset");
    /* Every truncation is either rejected or read safely (ASan checks the "safely"). */
    for (size_t cut = 0; cut < len; cut++) {
        Collected col = { 0 };
        MosErr e = {{0}};
        int rc = mo_read_buf(b, cut, collect, &col, NULL, &e);
        assert_true(rc == 0 || (rc == -1 && e.msg[0] != '\0'));
        if (cut < len / 2)
            assert_int_equal(rc, -1);
    }
    free(c);
    free(b);
}

static void mo_rejects_bad_text(void **state)
{
    (void)state;
    char po[1024];
    snprintf(po, sizeof po, "msgid \"\"\nmsgstr \"Content-Type: text/plain; "
             "charset=ISO-8859-1\\n\"\n\nmsgid \"a\"\nmsgstr \"b\"\n");
    const char *mo = compile_po("latin1.mo", po);
    Collected c = { 0 };
    MosErr e = {{0}};
    assert_int_equal(mo_read_file(mo, collect, &c, NULL, &e), -1);
    assert_non_null(strstr(e.msg, "latin1.mo: catalog charset is ISO-8859-1, not UTF-8"));
    /* Invalid UTF-8 inside an entry of a UTF-8 catalog: patch a byte of "öffnen". */
    mo = compile_po("badutf.mo", sample_po());
    size_t len;
    uint8_t *b = load(mo, &len);
    uint8_t *o = (uint8_t *)memmem(b, len, "\xc3\xb6", 2);
    assert_non_null(o);
    o[1] = 'x';
    expect_error(b, len, "invalid UTF-8 in msgstr");
    free(b);
    assert_int_equal(mo_read_file(tpath("missing.mo"), collect, &c, NULL, &e), -1);
    assert_non_null(strstr(e.msg, "missing.mo: cannot open: No such file"));
}

static void text_utilities(void **state)
{
    (void)state;
    assert_int_equal(text_utf8_invalid_at("abc", 3), -1);
    assert_int_equal(text_utf8_invalid_at("Gr\xc3\xbc\xc3\x9f" "e", 7), -1);
    assert_int_equal(text_utf8_invalid_at("\xf0\x9f\x98\x80", 4), -1);
    assert_int_equal(text_utf8_invalid_at("ab\xc3", 3), 2);              /* truncated */
    assert_int_equal(text_utf8_invalid_at("a\xc0\xaf", 3), 1);           /* overlong */
    assert_int_equal(text_utf8_invalid_at("\xed\xa0\x80", 3), 0);        /* surrogate */
    assert_int_equal(text_utf8_invalid_at("\xf4\x90\x80\x80", 4), 0);    /* > U+10FFFF */
    assert_int_equal(text_utf8_invalid_at("a\x80", 2), 1);
    char s[] = "  Hello \t\n world\r ";
    size_t n = text_collapse(s, strlen(s));
    assert_string_equal(s, "Hello world");
    assert_int_equal(n, 11);
    assert_int_equal(text_words(s, n), 2);
    char blank[] = " \t ";
    assert_int_equal(text_collapse(blank, 3), 0);
    assert_int_equal(text_words("", 0), 0);
    /* The split depends on this value staying the same on every machine and release. */
    assert_true(text_hash("Open file", 9) == text_hash("Open file", 9));
    assert_true(text_hash("Open file", 9) != text_hash("Open filf", 9));
    assert_true(text_hash("Open file", 9) == 0xa24dd2b28cc1cd93ull);
}

static void add(Corpus *c, const char *s, const char *t, int expect)
{
    MosErr e = {{0}};
    assert_int_equal(corpus_add_clean(c, s, strlen(s), t, strlen(t), &e), expect);
}

static void cleaning_and_dedupe(void **state)
{
    (void)state;
    Corpus c;
    corpus_init(&c, 5);
    add(&c, "  Open   the\tfile ", "Datei  öffnen", 1);
    add(&c, "Open the file", "Die Datei öffnen", 0);           /* duplicate source */
    add(&c, "   ", "leer", 0);
    add(&c, "Quit", "", 0);
    add(&c, "OK", " OK ", 0);                                   /* identical after collapse */
    add(&c, "one two three four five six", "eins", 0);          /* 6 words > 5 */
    add(&c, "eins", "one two three four five six", 0);
    add(&c, "one two three four five", "eins zwei drei vier fünf", 1);
    assert_int_equal(c.n, 2);
    assert_string_equal(c.src[0], "Open the file");
    assert_string_equal(c.tgt[0], "Datei öffnen");            /* the first pair wins */
    assert_int_equal(c.dropped[CORPUS_DROP_DUPLICATE], 1);
    assert_int_equal(c.dropped[CORPUS_DROP_EMPTY], 2);
    assert_int_equal(c.dropped[CORPUS_DROP_IDENTICAL], 1);
    assert_int_equal(c.dropped[CORPUS_DROP_LONG], 2);
    MosErr e = {{0}};
    assert_int_equal(corpus_add_clean(&c, "a\xff", 2, "b", 1, &e), -1);
    assert_non_null(strstr(e.msg, "invalid UTF-8 in the source at byte 2"));
    assert_int_equal(corpus_add_keep(&c, "same", 4, "same", 4, &e), 1);   /* kept as is */
    assert_int_equal(corpus_add_keep(&c, "x", 1, " ", 1, &e), -1);
    assert_string_equal(e.msg, "empty target line");
    corpus_done(&c);
}

static void fill(Corpus *c, size_t n, size_t start, size_t step)
{
    MosErr e = {{0}};
    for (size_t k = 0; k < n; k++) {
        size_t i = (start + k * step) % n;
        char s[64], t[64];
        snprintf(s, sizeof s, "sentence number %zu", i);
        snprintf(t, sizeof t, "Satz Nummer %zu", i);
        assert_int_equal(corpus_add_clean(c, s, strlen(s), t, strlen(t), &e), 1);
    }
}

static void split_is_deterministic(void **state)
{
    (void)state;
    size_t n = 5003, nt, nv;
    corpus_split_sizes(n, 2000, 2000, &nt, &nv);
    assert_int_equal(nt, 500);
    assert_int_equal(nv, 500);
    corpus_split_sizes(62000, 2000, 2000, &nt, &nv);
    assert_int_equal(nt, 2000);
    assert_int_equal(nv, 2000);
    corpus_split_sizes(5, 2000, 2000, &nt, &nv);
    assert_int_equal(nt + nv, 0);
    /* The same set of sentences in two different orders lands in the same splits. */
    Corpus a, b;
    corpus_init(&a, 40);
    corpus_init(&b, 40);
    fill(&a, n, 0, 1);
    fill(&b, n, 17, 7);            /* 7 is coprime with 5003: a permutation */
    uint8_t *wa = malloc(n), *wb = malloc(n);
    MosErr e = {{0}};
    assert_int_equal(corpus_split(&a, 500, 300, wa, &e), 0);
    assert_int_equal(corpus_split(&b, 500, 300, wb, &e), 0);
    size_t count[CORPUS_SPLIT_COUNT] = { 0 };
    for (size_t i = 0; i < n; i++) {
        count[wa[i]]++;
        size_t j;
        for (j = 0; j < n && strcmp(b.src[j], a.src[i]) != 0; j++)
            ;
        assert_true(j < n);
        assert_int_equal(wa[i], wb[j]);
    }
    assert_int_equal(count[CORPUS_TEST], 500);
    assert_int_equal(count[CORPUS_VALID], 300);
    assert_int_equal(count[CORPUS_TRAIN], n - 800);
    /* Written files hold exactly the split's pairs, in corpus order, with word counts. */
    CorpusCounts k;
    assert_int_equal(corpus_write(&a, wa, CORPUS_VALID, tpath("v.en"), tpath("v.de"), &k, &e), 0);
    assert_int_equal(k.pairs, 300);
    assert_int_equal(k.words_src, 900);
    assert_int_equal(k.words_tgt, 900);
    Lines l;
    assert_int_equal(lines_read(tpath("v.de"), &l, &e), 0);
    assert_int_equal(l.n, 300);
    assert_non_null(strstr(l.line[0], "Satz Nummer "));
    lines_done(&l);
    free(wa);
    free(wb);
    corpus_done(&a);
    corpus_done(&b);
}

static void lines_validation(void **state)
{
    (void)state;
    Lines l;
    MosErr e = {{0}};
    write_file(tpath("ok.txt"), "one\r\ntwo\n\nthree", 15);
    assert_int_equal(lines_read(tpath("ok.txt"), &l, &e), 0);
    assert_int_equal(l.n, 4);
    assert_string_equal(l.line[0], "one");
    assert_string_equal(l.line[2], "");
    assert_string_equal(l.line[3], "three");
    lines_done(&l);
    write_file(tpath("bad.txt"), "ok\nfine\nbad \xc3\x28 here\n", 20);
    assert_int_equal(lines_read(tpath("bad.txt"), &l, &e), -1);
    assert_non_null(strstr(e.msg, "bad.txt:3: invalid UTF-8"));
    write_file(tpath("nul.txt"), "a\nb\0c\n", 6);
    assert_int_equal(lines_read(tpath("nul.txt"), &l, &e), -1);
    assert_non_null(strstr(e.msg, "nul.txt:2: contains a NUL byte"));
    write_file(tpath("empty.txt"), "", 0);
    assert_int_equal(lines_read(tpath("empty.txt"), &l, &e), 0);
    assert_int_equal(l.n, 0);
    lines_done(&l);
}

static void ids_are_counted_and_checked(void **state)
{
    (void)state;
    IdCounts k;
    MosErr e = {{0}};
    write_file(tpath("ids.en"), "5 1 7\n\n12 1 1 3\n", 16);
    assert_int_equal(ids_count_file(tpath("ids.en"), 1, &k, &e), 0);
    assert_int_equal(k.lines, 3);
    assert_int_equal(k.tokens, 7);
    assert_int_equal(k.unk, 3);
    assert_int_equal(k.max_id, 12);
    write_file(tpath("ids.de"), "5 6\n7 x8 9\n", 11);
    assert_int_equal(ids_count_file(tpath("ids.de"), 1, &k, &e), -1);
    assert_non_null(strstr(e.msg, "ids.de:2: expected a token id, got 'x8'"));
    write_file(tpath("ids.neg"), "-4\n", 3);
    assert_int_equal(ids_count_file(tpath("ids.neg"), 1, &k, &e), -1);
}

static void sha256_vectors(void **state)
{
    (void)state;
    char hex[65];
    Sha256 s;
    sha256_init(&s);
    sha256_hex(&s, hex);
    assert_string_equal(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    sha256_init(&s);
    sha256_update(&s, "abc", 3);
    sha256_hex(&s, hex);
    assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    const char *m = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    sha256_init(&s);
    for (size_t i = 0; i < strlen(m); i++)       /* byte by byte: exercises block refills */
        sha256_update(&s, m + i, 1);
    sha256_hex(&s, hex);
    assert_string_equal(hex, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
    char *million = malloc(1000000);
    memset(million, 'a', 1000000);
    write_file(tpath("a.bin"), million, 1000000);
    free(million);
    MosErr e = {{0}};
    assert_int_equal(sha256_file(tpath("a.bin"), hex, &e), 0);
    assert_string_equal(hex, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

static void dict_maps_tokens(void **state)
{
    (void)state;
    const char *txt = "the 100\nHa@@ 50\nus 40\nspace token 3\nflag 2 #fairseq:overwrite\n";
    write_file(tpath("dict.txt"), txt, strlen(txt));
    Dict d;
    MosErr e = {{0}};
    assert_int_equal(dict_load(&d, tpath("dict.txt"), &e), 0);
    assert_int_equal(d.n, 5);
    assert_true(d.bpe_marker);
    assert_int_equal(dict_id(&d, "the", 3), 4);
    assert_int_equal(dict_id(&d, "us", 2), 6);
    assert_int_equal(dict_id(&d, "space token", 11), 7);
    assert_int_equal(dict_id(&d, "zzz", 3), DICT_UNK_ID);
    FILE *f = fopen(tpath("ids.txt"), "w");
    size_t ntok = 0, nunk = 0;
    dict_encode_line(&d, "the Ha@@ us  zzz", f, &ntok, &nunk);
    fclose(f);
    assert_int_equal(ntok, 4);
    assert_int_equal(nunk, 1);
    Lines l;
    assert_int_equal(lines_read(tpath("ids.txt"), &l, &e), 0);
    assert_string_equal(l.line[0], "4 5 6 1");
    lines_done(&l);
    dict_done(&d);
    const struct { const char *text, *err; } bad[] = {
        { "a 1\nb\n", "dict.txt:2: expected 'TOKEN COUNT'" },
        { "a 1\nb x\n", "dict.txt:2: expected 'TOKEN COUNT'" },
        { "a 1\nb 2\na 3\n", "dict.txt:3: duplicate token 'a'" },
        { "<unk> 5\n", "dict.txt:1: '<unk>' is reserved" },
        { "", "dict.txt: empty vocabulary" },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        write_file(tpath("dict.txt"), bad[i].text, strlen(bad[i].text));
        assert_int_equal(dict_load(&d, tpath("dict.txt"), &e), -1);
        if (!strstr(e.msg, bad[i].err))
            fail_msg("case %zu: '%s' does not contain '%s'", i, e.msg, bad[i].err);
    }
}

static int setup(void **state)
{
    (void)state;
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    pid_t pid = fork();
    if (pid == 0) {
        execlp("rm", "rm", "-rf", tmpdir, (char *)NULL);
        _exit(127);
    }
    int status;
    waitpid(pid, &status, 0);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(mo_reads_msgfmt_catalog),
        cmocka_unit_test(mo_reads_big_endian),
        cmocka_unit_test(mo_rejects_corrupt_files),
        cmocka_unit_test(mo_rejects_bad_text),
        cmocka_unit_test(text_utilities),
        cmocka_unit_test(cleaning_and_dedupe),
        cmocka_unit_test(split_is_deterministic),
        cmocka_unit_test(lines_validation),
        cmocka_unit_test(ids_are_counted_and_checked),
        cmocka_unit_test(sha256_vectors),
        cmocka_unit_test(dict_maps_tokens),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
