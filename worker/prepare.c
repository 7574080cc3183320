/* `mos prepare` orchestration (see prepare.h): check options, fingerprint the inputs, return
 * early when data/ already matches them, else build RUN/.data.new (pairs, split, text files,
 * tokens, manifest) and swap it into place. The default package table lives here too.
 * Invariant: nothing under RUN/data is written until the very last step. */
#include "prepare_int.h"
#include "proc.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

const PrepPackage prepare_packages[] = {
    { "gcc-12-locales", "GCC 12 compiler diagnostics (gcc, cpplib)" },
    { "postgresql-15", "PostgreSQL 15 server and tools" },
    { "git", "Git" },
    { "iso-codes", "country, language, currency and script names (ISO 3166/639/4217/15924)" },
    { "libgphoto2-l10n", "libgphoto2 camera library" },
    { "gnupg-l10n", "GnuPG" },
    { "libgtk2.0-common", "GTK 2 toolkit" },
    { "krb5-locales", "MIT Kerberos" },
    { "coreutils", "GNU coreutils" },
    { "libc-l10n", "GNU C library" },
    { "postgresql-client-15", "PostgreSQL 15 client tools" },
    { "dpkg", "dpkg" },
    { "libgtk-3-common", "GTK 3 toolkit" },
    { "libglib2.0-data", "GLib" },
    { "util-linux-locales", "util-linux" },
    { "e2fsprogs-l10n", "ext2/3/4 file system tools" },
    { "tar", "GNU tar" },
    { "findutils", "GNU findutils" },
    { "grep", "GNU grep" },
    { "sed", "GNU sed" },
    { "gawk", "GNU awk" },
    { "diffutils", "GNU diffutils" },
    { "wget", "GNU Wget" },
    { "binutils-common", "GNU binutils (ld, as, objdump, ...)" },
    { "apt", "APT package manager" },
    { "debconf-i18n", "debconf" },
    { "man-db", "man-db" },
    { "bison", "GNU Bison" },
    { "make", "GNU Make" },
    { "gettext", "GNU gettext tools" },
    { "aptitude-common", "aptitude" },
    { "mc-data", "GNU Midnight Commander" },
    { "nano", "GNU nano" },
};
const int prepare_npackages = (int)(sizeof prepare_packages / sizeof prepare_packages[0]);

void prep_say(const Prep *p, const char *fmt, ...)
{
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    printf("mos prepare: %s\n", line);
    fflush(stdout);
    if (p->o->note)
        p->o->note(p->o->note_ctx, line);
}

const char *prep_path(const Prep *p, char *buf, const char *name)
{
    return fs_join(buf, p->tmp, name);
}

void prep_fp_add(Prep *p, const char *key, const char *value)
{
    sha256_update(&p->fp, key, strlen(key));
    sha256_update(&p->fp, "=", 1);
    sha256_update(&p->fp, value ? value : "(none)", strlen(value ? value : "(none)"));
    sha256_update(&p->fp, "\n", 1);
}

static int prep_check_opts(const PrepareOpts *o, MosErr *e)
{
    if (o->vocab < 8 || o->vocab > 1000000)
        return err_set(e, "--vocab must be between 8 and 1000000, got %d", o->vocab);
    if (o->threads < 1 || o->threads > 256)
        return err_set(e, "--threads must be between 1 and 256, got %d", o->threads);
    if (!(o->char_coverage > 0.0 && o->char_coverage <= 1.0))
        return err_set(e, "--char-coverage must be in (0, 1], got %g", o->char_coverage);
    if (o->valid_size < 0 || o->test_size < 0)
        return err_set(e, "--valid-size and --test-size must not be negative");
    if (o->max_words < 1)
        return err_set(e, "--max-words must be at least 1, got %d", o->max_words);
    if (!o->src != !o->tgt)
        return err_set(e, "--src and --tgt go together (give both or neither)");
    if (!o->valid_src != !o->valid_tgt || !o->test_src != !o->test_tgt)
        return err_set(e, "--valid-src/--valid-tgt and --test-src/--test-tgt go in pairs");
    if ((o->valid_src || o->test_src || o->pretokenized || o->clean) && !o->src)
        return err_set(e, "--valid-*, --test-*, --clean and --pretokenized need --src/--tgt");
    if (o->src && (o->mo_dir || o->packages))
        return err_set(e, "--src/--tgt cannot be combined with --mo-dir or --packages");
    if (o->mo_dir && o->packages)
        return err_set(e, "--mo-dir and --packages exclude each other");
    if (o->pretokenized != (o->vocab_file != NULL))
        return err_set(e, "--pretokenized and --vocab-file go together");
    return 0;
}

static void prep_fp_options(Prep *p)
{
    const PrepareOpts *o = p->o;
    char num[64];
    snprintf(num, sizeof num, "%d", PREP_FORMAT);
    prep_fp_add(p, "format", num);
    /* spm_train's result depends on its thread count too (measured: 1 vs 2 threads give
     * different models), so the threads are an input. */
    snprintf(num, sizeof num, "%d %.6f %d", o->pretokenized ? 0 : o->vocab,
             o->pretokenized ? 0.0 : o->char_coverage, o->pretokenized ? 0 : o->threads);
    prep_fp_add(p, "vocab,char_coverage,threads", num);
    snprintf(num, sizeof num, "%d %d", o->valid_size, o->test_size);
    prep_fp_add(p, "valid,test", num);
    snprintf(num, sizeof num, "%d %d %d", o->max_words, o->clean, o->pretokenized);
    prep_fp_add(p, "max_words,clean,pretokenized", num);
}

/* Takes RUN/.prepare.lock (flock) until prepare_run returns (p->lock_fd), so that two
 * `mos prepare` in the same run directory cannot build into the same scratch folder. */
static int prep_lock(Prep *p, const char *abs_run, MosErr *e)
{
    char path[PATH_MAX];
    int fd = open(fs_join(path, abs_run, ".prepare.lock"), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0)
        return err_set(e, "%s: %s", path, strerror(errno));
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        close(fd);
        return err_set(e, "another mos prepare is running in %s", abs_run);
    }
    p->lock_fd = fd;
    return 0;
}

/* Creates RUN and an empty RUN/.data.new; resolves paths. */
static int prep_dirs(Prep *p, MosErr *e)
{
    const char *run = p->o->run_dir;
    if (fs_mkdir_p(run, e) < 0)
        return -1;
    char abs[PATH_MAX];
    if (!realpath(run, abs))
        return err_set(e, "%s: %s", run, strerror(errno));
    if (prep_lock(p, abs, e) < 0)
        return -1;
    if (snprintf(p->tmp, sizeof p->tmp, "%s/.data.new", abs) >= (int)sizeof p->tmp ||
        snprintf(p->data, sizeof p->data, "%s/data", run) >= (int)sizeof p->data)
        return err_set(e, "%s: path too long", run);
    if (fs_rm_rf(p->tmp, e) < 0)
        return -1;
    return fs_mkdir_p(p->tmp, e);
}

static int prep_split(Prep *p, MosErr *e)
{
    const PrepareOpts *o = p->o;
    size_t want_test = p->from_file[CORPUS_TEST] ? 0 : (size_t)o->test_size;
    size_t want_valid = p->from_file[CORPUS_VALID] ? 0 : (size_t)o->valid_size;
    size_t n_test, n_valid;
    corpus_split_sizes(p->main.n, want_test, want_valid, &n_test, &n_valid);
    p->which = malloc(p->main.n ? p->main.n : 1);
    if (!p->which)
        return err_set(e, "out of memory");
    return corpus_split(&p->main, n_test, n_valid, p->which, e);
}

static int prep_write_text(Prep *p, MosErr *e)
{
    p->splits = json_object();
    printf("mos prepare: split");
    for (int s = 0; s < CORPUS_SPLIT_COUNT; s++) {
        char fs[64], ft[64], ps[PATH_MAX], pt[PATH_MAX];
        snprintf(fs, sizeof fs, "%s.en", corpus_split_name[s]);
        snprintf(ft, sizeof ft, "%s.de", corpus_split_name[s]);
        CorpusCounts k;
        const Corpus *c = p->from_file[s] ? &p->given[s] : &p->main;
        if (corpus_write(c, p->from_file[s] ? NULL : p->which, s, prep_path(p, ps, fs),
                         prep_path(p, pt, ft), &k, e) < 0)
            return -1;
        json_object_set_new(p->splits, corpus_split_name[s],
                            json_pack("{sIsIsI}", "pairs", (json_int_t)k.pairs,
                                      "words_en", (json_int_t)k.words_src,
                                      "words_de", (json_int_t)k.words_tgt));
        printf(" %s %zu pairs (%zu/%zu words en/de)%s", corpus_split_name[s], k.pairs,
               k.words_src, k.words_tgt, s + 1 < CORPUS_SPLIT_COUNT ? "," : "\n");
    }
    fflush(stdout);
    return 0;
}

static void prep_done(Prep *p)
{
    corpus_done(&p->main);
    for (int s = 0; s < CORPUS_SPLIT_COUNT; s++)
        corpus_done(&p->given[s]);
    free(p->which);
    json_decref(p->sources);
    json_decref(p->splits);
    json_decref(p->versions);
    free(p->pkg_buf);
    free(p->pkgs);
    if (p->lock_fd >= 0)
        close(p->lock_fd);
    p->lock_fd = -1;
}

static int prep_build(Prep *p, MosErr *e)
{
    if (prep_src_load(p, e) < 0 || prep_split(p, e) < 0 || prep_write_text(p, e) < 0 ||
        prep_tokenize(p, e) < 0 || prep_manifest_write(p, e) < 0)
        return -1;
    return fs_replace_dir(p->tmp, p->data, e);
}

int prepare_run(const PrepareOpts *o, MosErr *e)
{
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    if (prep_check_opts(o, e) < 0)
        return -1;
    Prep p = { .o = o, .lock_fd = -1 };
    corpus_init(&p.main, o->max_words);
    for (int s = 0; s < CORPUS_SPLIT_COUNT; s++)
        corpus_init(&p.given[s], o->max_words);
    sha256_init(&p.fp);
    prep_fp_options(&p);
    int rc = prep_dirs(&p, e);
    if (rc == 0)
        rc = prep_src_fingerprint(&p, e);
    if (rc == 0) {
        sha256_hex(&p.fp, p.fingerprint);
        if (!o->force && prep_up_to_date(&p)) {
            prep_say(&p, "%s is up to date (same inputs and options; --force rebuilds)", p.data);
            rc = fs_rm_rf(p.tmp, e);
            prep_done(&p);
            return rc;
        }
        rc = prep_build(&p, e);
    }
    if (rc < 0)
        fs_rm_rf(p.tmp, NULL);
    prep_done(&p);
    if (rc == 0) {
        clock_gettime(CLOCK_MONOTONIC, &t1);
        prep_say(&p, "wrote %s in %.1f s", p.data,
                 (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec));
    }
    return rc;
}
