/* Where `mos prepare` gets its pairs: Debian packages (apt-get download + dpkg-deb -x, German
 * catalogs only), a folder of .mo catalogs, or the user's aligned text files. Each source is
 * fingerprinted before anything is built, so an unchanged input costs one hash (or one
 * apt-cache call) and nothing else. Invariant: sources are read in a fixed order (package
 * table order, catalog names sorted bytewise), so the first-wins dedupe is reproducible. */
#include "mo.h"
#include "prepare_int.h"
#include "proc.h"
#include "text.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define PREP_CATALOG_DIR "usr/share/locale/de/LC_MESSAGES"

/* ---- catalogs ---------------------------------------------------------------------------- */

static int src_is_mo(const struct dirent *d)
{
    size_t n = strlen(d->d_name);
    return n > 3 && strcmp(d->d_name + n - 3, ".mo") == 0;
}

static int src_name_cmp(const struct dirent **a, const struct dirent **b)
{
    return strcmp((*a)->d_name, (*b)->d_name);
}

/* Sorted *.mo names in dir; *n = 0 when the folder is missing. Caller frees with src_free. */
static int src_list_mo(const char *dir, struct dirent ***list, int *n, MosErr *e)
{
    *n = scandir(dir, list, src_is_mo, src_name_cmp);
    if (*n < 0) {
        *n = 0;
        *list = NULL;
        if (errno != ENOENT)
            return err_set(e, "%s: cannot list: %s", dir, strerror(errno));
    }
    return 0;
}

static void src_free(struct dirent **list, int n)
{
    for (int i = 0; i < n; i++)
        free(list[i]);
    free(list);
}

static int src_visit(void *ctx, const char *src, size_t slen, const char *tgt, size_t tlen)
{
    Corpus *c = ctx;
    return corpus_add_clean(c, src, slen, tgt, tlen, NULL) < 0 ? 1 : 0;
}

/* Reads every catalog in dir into the main corpus; adds entry and kept-pair counts. */
static int src_catalogs(Prep *p, const char *dir, struct dirent **list, int n, json_t *names,
                        size_t *entries, MosErr *e)
{
    for (int i = 0; i < n; i++) {
        char path[PATH_MAX];
        fs_join(path, dir, list[i]->d_name);
        MoStats st;
        int rc = mo_read_file(path, src_visit, &p->main, &st, e);
        if (rc > 0)
            return err_set(e, "%s: out of memory", path);
        if (rc < 0)
            return -1;
        *entries += st.yielded;
        json_array_append_new(names, json_string(list[i]->d_name));
    }
    return 0;
}

/* ---- Debian packages ----------------------------------------------------------------------- */

static int src_parse_packages(Prep *p, MosErr *e)
{
    const char *list = p->o->packages;
    size_t len = 0;
    for (int i = 0; !list && i < prepare_npackages; i++)
        len += strlen(prepare_packages[i].name) + 1;
    p->pkg_buf = list ? strdup(list) : malloc(len + 1);
    size_t max = list ? strlen(list) + 1 : (size_t)(prepare_npackages > 0 ? prepare_npackages : 1);
    p->pkgs = calloc(max, sizeof *p->pkgs);
    if (!p->pkg_buf || !p->pkgs)
        return err_set(e, "out of memory");
    if (!list) {
        char *w = p->pkg_buf;
        for (int i = 0; i < prepare_npackages; i++) {
            p->pkgs[p->npkgs++] = w;
            w = stpcpy(w, prepare_packages[i].name) + 1;
        }
        return 0;
    }
    for (char *save, *t = strtok_r(p->pkg_buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        if (strspn(t, "abcdefghijklmnopqrstuvwxyz0123456789+-.") != strlen(t) || t[0] == '-')
            return err_set(e, "--packages: '%s' is not a Debian package name", t);
        p->pkgs[p->npkgs++] = t;
    }
    return p->npkgs ? 0 : err_set(e, "--packages: empty list");
}

/* "Package: x" / "Version: v" stanzas of apt-cache's output into p->versions. */
static int src_parse_versions(Prep *p, const char *out, MosErr *e)
{
    FILE *f = fopen(out, "r");
    if (!f)
        return err_set(e, "%s: %s", out, strerror(errno));
    p->versions = json_object();
    char line[1024], pkg[256] = "";
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = '\0';
        if (strncmp(line, "Package: ", 9) == 0)
            snprintf(pkg, sizeof pkg, "%.*s", (int)(sizeof pkg - 1), line + 9);
        else if (strncmp(line, "Version: ", 9) == 0 && pkg[0])
            json_object_set_new(p->versions, pkg, json_string(line + 9));
    }
    fclose(f);
    return 0;
}

/* Candidate versions from `apt-cache show --no-all-versions`, into p->versions. */
static int src_debian_versions(Prep *p, MosErr *e)
{
    char out[PATH_MAX], log[PATH_MAX];
    char **argv = calloc((size_t)p->npkgs + 4, sizeof *argv);
    if (!argv)
        return err_set(e, "out of memory");
    argv[0] = "apt-cache";
    argv[1] = "show";
    argv[2] = "--no-all-versions";
    memcpy(argv + 3, p->pkgs, (size_t)p->npkgs * sizeof *argv);
    int rc = proc_run(argv, NULL, prep_path(p, out, "apt-cache.out"),
                      prep_path(p, log, "apt-cache.log"), e);
    free(argv);
    if (rc < 0) {
        char why[MOS_ERR_LEN];
        snprintf(why, sizeof why, "%s", e ? e->msg : "");
        if (p->npkgs == 1)
            return err_set(e, "package %s: %s (run apt-get update?)", p->pkgs[0], why);
        return err_set(e, "packages %s and %d more: %s (run apt-get update?)", p->pkgs[0],
                       p->npkgs - 1, why);
    }
    if (src_parse_versions(p, out, e) < 0)
        return -1;
    for (int i = 0; i < p->npkgs; i++) {
        json_t *v = json_object_get(p->versions, p->pkgs[i]);
        if (!v)
            return err_set(e, "package %s: no version known to apt (try apt-get update)",
                           p->pkgs[i]);
        prep_fp_add(p, p->pkgs[i], json_string_value(v));
    }
    return 0;
}

/* The downloaded .deb of package name ("NAME_VERSION_ARCH.deb") and its version. */
static int src_find_deb(const char *debs, const char *name, char *path, char *version,
                        MosErr *e)
{
    DIR *d = opendir(debs);
    if (!d)
        return err_set(e, "%s: %s", debs, strerror(errno));
    size_t n = strlen(name);
    struct dirent *de;
    int found = 0;
    while (!found && (de = readdir(d))) {
        const char *f = de->d_name;
        size_t fl = strlen(f);
        if (strncmp(f, name, n) != 0 || f[n] != '_' || fl < n + 5 || strcmp(f + fl - 4, ".deb"))
            continue;
        fs_join(path, debs, f);
        const char *v = f + n + 1, *arch = strrchr(f, '_');
        size_t k = 0;
        for (; v < arch && k < 127; v++)    /* apt writes the epoch colon as %3a */
            version[k++] = strncmp(v, "%3a", 3) == 0 ? (v += 2, ':') : *v;
        version[k] = '\0';
        found = 1;
    }
    closedir(d);
    return found ? 0 : err_set(e, "apt-get download gave no .deb for %s", name);
}

static int src_debian_package(Prep *p, const char *name, const char *debs, MosErr *e)
{
    char deb[PATH_MAX], version[128], sha[65], dir[PATH_MAX], cat[PATH_MAX], log[PATH_MAX];
    if (src_find_deb(debs, name, deb, version, e) < 0 || sha256_file(deb, sha, e) < 0)
        return -1;
    snprintf(cat, sizeof cat, "pkgs/%s", name);
    prep_path(p, dir, cat);
    char *argv[] = { "dpkg-deb", "-x", deb, dir, NULL };
    if (fs_mkdir_p(dir, e) < 0)
        return -1;
    if (proc_run(argv, NULL, NULL, prep_path(p, log, "dpkg-deb.log"), e) < 0) {
        err_prefix(e, "package %s", name);
        return -1;
    }
    fs_join(cat, dir, PREP_CATALOG_DIR);
    struct dirent **list;
    int n;
    if (src_list_mo(cat, &list, &n, e) < 0)
        return -1;
    size_t before = p->main.n, entries = 0;
    json_t *names = json_array();
    int rc = n ? src_catalogs(p, cat, list, n, names, &entries, e)
               : err_set(e, "package %s has no German catalogs (%s/*.mo)", name, PREP_CATALOG_DIR);
    src_free(list, n);
    if (rc < 0 || fs_rm_rf(dir, e) < 0) {
        json_decref(names);
        return -1;
    }
    size_t kept = p->main.n - before;
    json_array_append_new(p->sources, json_pack("{sssssssosIsI}", "package", name,
                          "version", version, "sha256", sha, "catalogs", names,
                          "entries", (json_int_t)entries, "pairs", (json_int_t)kept));
    printf("  %-22s %-26s %2d catalog%s %6zu entries %6zu new pairs (total %zu)\n", name,
           version, n, n == 1 ? " " : "s", entries, kept, p->main.n);
    fflush(stdout);
    return 0;
}

static int src_debian(Prep *p, MosErr *e)
{
    char debs[PATH_MAX], log[PATH_MAX];
    if (fs_mkdir_p(prep_path(p, debs, "debs"), e) < 0)
        return -1;
    char **argv = calloc((size_t)p->npkgs + 3, sizeof *argv);
    if (!argv)
        return err_set(e, "out of memory");
    argv[0] = "apt-get";
    argv[1] = "download";
    memcpy(argv + 2, p->pkgs, (size_t)p->npkgs * sizeof *argv);
    prep_say(p, "downloading %d Debian package%s (apt-get download)", p->npkgs,
             p->npkgs == 1 ? "" : "s");
    int rc = proc_run(argv, debs, NULL, prep_path(p, log, "apt-get.log"), e);
    free(argv);
    if (rc < 0 && e) {
        char why[MOS_ERR_LEN];
        snprintf(why, sizeof why, "%s", e->msg);
        err_set(e, "%s (offline? --mo-dir or --src use local files)", why);
    }
    for (int i = 0; rc == 0 && i < p->npkgs; i++)
        rc = src_debian_package(p, p->pkgs[i], debs, e);
    if (rc < 0)
        return -1;
    char pkgs[PATH_MAX];
    if (fs_rm_rf(debs, e) < 0 || fs_rm_rf(prep_path(p, pkgs, "pkgs"), e) < 0)
        return -1;
    return 0;
}

/* ---- a folder of catalogs -------------------------------------------------------------------- */

static int src_mo_dir_fingerprint(Prep *p, MosErr *e)
{
    struct dirent **list;
    int n;
    struct stat st;
    if (stat(p->o->mo_dir, &st) != 0 || !S_ISDIR(st.st_mode))
        return err_set(e, "--mo-dir %s: not a directory", p->o->mo_dir);
    if (src_list_mo(p->o->mo_dir, &list, &n, e) < 0)
        return -1;
    int rc = n ? 0 : err_set(e, "--mo-dir %s: no .mo catalogs in it", p->o->mo_dir);
    for (int i = 0; rc == 0 && i < n; i++) {
        char path[PATH_MAX], sha[65];
        fs_join(path, p->o->mo_dir, list[i]->d_name);
        rc = sha256_file(path, sha, e);
        if (rc == 0)
            prep_fp_add(p, list[i]->d_name, sha);
    }
    src_free(list, n);
    return rc;
}

static int src_mo_dir(Prep *p, MosErr *e)
{
    struct dirent **list;
    int n;
    if (src_list_mo(p->o->mo_dir, &list, &n, e) < 0)
        return -1;
    prep_say(p, "reading %d catalogs from %s", n, p->o->mo_dir);
    int rc = 0;
    for (int i = 0; rc == 0 && i < n; i++) {
        char path[PATH_MAX], sha[65];
        fs_join(path, p->o->mo_dir, list[i]->d_name);
        size_t before = p->main.n, entries = 0;
        json_t *names = json_array();
        rc = sha256_file(path, sha, e);
        if (rc == 0)
            rc = src_catalogs(p, p->o->mo_dir, list + i, 1, names, &entries, e);
        json_decref(names);
        if (rc < 0)
            break;
        json_array_append_new(p->sources, json_pack("{sssssIsI}", "catalog", list[i]->d_name,
                              "sha256", sha, "entries", (json_int_t)entries,
                              "pairs", (json_int_t)(p->main.n - before)));
        printf("  %-30s %6zu entries %6zu new pairs (total %zu)\n", list[i]->d_name, entries,
               p->main.n - before, p->main.n);
    }
    src_free(list, n);
    return rc;
}

/* ---- the user's text files --------------------------------------------------------------- */

static void src_user_files(const PrepareOpts *o, int s, const char **src, const char **tgt)
{
    const char *f[CORPUS_SPLIT_COUNT][2] = {
        [CORPUS_TRAIN] = { o->src, o->tgt },
        [CORPUS_VALID] = { o->valid_src, o->valid_tgt },
        [CORPUS_TEST] = { o->test_src, o->test_tgt },
    };
    *src = f[s][0];
    *tgt = f[s][1];
}

static int src_user_fingerprint(Prep *p, MosErr *e)
{
    for (int s = 0; s < CORPUS_SPLIT_COUNT; s++) {
        const char *f[2];
        src_user_files(p->o, s, &f[0], &f[1]);
        for (int side = 0; side < 2 && f[0]; side++) {
            char key[64], sha[65];
            if (sha256_file(f[side], sha, e) < 0)
                return -1;
            snprintf(key, sizeof key, "%s.%s", corpus_split_name[s], side ? "tgt" : "src");
            prep_fp_add(p, key, sha);
        }
    }
    char sha[65];
    if (p->o->vocab_file) {
        if (sha256_file(p->o->vocab_file, sha, e) < 0)
            return -1;
        prep_fp_add(p, "vocab_file", sha);
    }
    return 0;
}

static int src_blank(const char *s)
{
    return s[strspn(s, " \t\r\v\f")] == '\0';
}

static int src_user_lines(Prep *p, Corpus *c, const char *sp, const char *tp, const Lines *ls,
                          const Lines *lt, MosErr *e)
{
    if (ls->n != lt->n) {
        int src_short = ls->n < lt->n;
        return err_set(e, "%s:%zu: missing line (%s has %zu lines, %s has %zu)",
                       src_short ? sp : tp, (src_short ? ls->n : lt->n) + 1, sp, ls->n, tp,
                       lt->n);
    }
    if (ls->n == 0)
        return err_set(e, "%s: empty corpus (no lines)", sp);
    for (size_t i = 0; i < ls->n; i++) {
        const char *s = ls->line[i], *t = lt->line[i];
        if (!p->o->clean && (src_blank(s) || src_blank(t)))
            return err_set(e, "%s:%zu: empty line (--clean drops empty, identical, long and "
                           "duplicate pairs)", src_blank(s) ? sp : tp, i + 1);
        int rc = p->o->clean ? corpus_add_clean(c, s, strlen(s), t, strlen(t), e)
                             : corpus_add_keep(c, s, strlen(s), t, strlen(t), e);
        if (rc < 0) {
            err_prefix(e, "%s:%zu", sp, i + 1);
            return -1;
        }
    }
    if (c->n == 0)
        return err_set(e, "%s: empty corpus (no pairs left after --clean)", sp);
    return 0;
}

static int src_user_split(Prep *p, int s, MosErr *e)
{
    const char *sp, *tp;
    src_user_files(p->o, s, &sp, &tp);
    if (!sp)
        return 0;
    Lines ls, lt = { 0 };
    Corpus *c = s == CORPUS_TRAIN ? &p->main : &p->given[s];
    int rc = lines_read(sp, &ls, e);
    if (rc == 0 && (rc = lines_read(tp, &lt, e)) < 0)
        lines_done(&ls);
    if (rc < 0)
        return -1;
    rc = src_user_lines(p, c, sp, tp, &ls, &lt, e);
    char ssha[65], tsha[65];
    if (rc == 0 && (sha256_file(sp, ssha, e) < 0 || sha256_file(tp, tsha, e) < 0))
        rc = -1;
    if (rc == 0) {
        p->from_file[s] = s != CORPUS_TRAIN;
        json_array_append_new(p->sources, json_pack("{sssssssssssIsI}", "split",
                              corpus_split_name[s], "src", sp, "tgt", tp, "src_sha256", ssha,
                              "tgt_sha256", tsha, "lines", (json_int_t)ls.n,
                              "pairs", (json_int_t)c->n));
        printf("  %-5s %s / %s: %zu lines, %zu pairs\n", corpus_split_name[s], sp, tp, ls.n,
               c->n);
    }
    lines_done(&ls);
    lines_done(&lt);
    return rc;
}

static int src_user(Prep *p, MosErr *e)
{
    prep_say(p, "reading your parallel text%s",
             p->o->clean ? " (--clean: filtering like the default corpus)" : "");
    for (int s = 0; s < CORPUS_SPLIT_COUNT; s++)
        if (src_user_split(p, s, e) < 0)
            return -1;
    return 0;
}

/* ---- dispatch ---------------------------------------------------------------------------- */

int prep_src_fingerprint(Prep *p, MosErr *e)
{
    if (p->o->src) {
        p->corpus_kind = "user";
        prep_fp_add(p, "kind", p->corpus_kind);
        return src_user_fingerprint(p, e);
    }
    if (p->o->mo_dir) {
        p->corpus_kind = "mo-dir";
        prep_fp_add(p, "kind", p->corpus_kind);
        return src_mo_dir_fingerprint(p, e);
    }
    p->corpus_kind = "debian-catalogs";
    prep_fp_add(p, "kind", p->corpus_kind);
    if (src_parse_packages(p, e) < 0)
        return -1;
    return src_debian_versions(p, e);
}

static void src_print_cleaning(const Corpus *c)
{
    printf("mos prepare: %zu pairs kept; dropped %zu empty, %zu identical, %zu longer than %d "
           "words, %zu duplicate sources\n", c->n, c->dropped[CORPUS_DROP_EMPTY],
           c->dropped[CORPUS_DROP_IDENTICAL], c->dropped[CORPUS_DROP_LONG], c->max_words,
           c->dropped[CORPUS_DROP_DUPLICATE]);
}

int prep_src_load(Prep *p, MosErr *e)
{
    p->sources = json_array();
    int rc = p->o->src ? src_user(p, e) : p->o->mo_dir ? src_mo_dir(p, e) : src_debian(p, e);
    if (rc < 0)
        return -1;
    if (!p->o->src || p->o->clean)
        src_print_cleaning(&p->main);
    if (p->main.n == 0)
        return err_set(e, "empty corpus: no pairs left after cleaning");
    fflush(stdout);
    return 0;
}
