/* `mos translate --model DIR`: raw text lines on stdin, translations on stdout, one per line, in
 * order. Lines are read in blocks (--chunk), whitespace-collapsed as `mos prepare` does, encoded
 * with the model's spm.model through spm_encode (or its dict.txt for pre-tokenized data; or read
 * as ids with --ids), decoded with supernet_decode and detokenized. A bad line (invalid UTF-8, a
 * NUL byte, a bad id) gets an error on stderr naming its line and an empty output line, so the
 * output stays aligned with the input; the exit status is then 1. */
#include <cblas.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "commands.h"
#include "detok.h"
#include "dict.h"
#include "modelfile.h"
#include "proc.h"
#include "text.h"

static const OptSpec translate_opts[] = {
    { "model", OPT_STR, NULL, "DIR", "extracted model (RUN_DIR/subnets/NAME); required" },
    { "beam", OPT_INT, "4", "N", "beam size (1: greedy)" },
    { "lenpen", OPT_FLOAT, "0.6", "X", "length penalty (HAT: 0.6)" },
    { "max-len-a", OPT_INT, "1", "N", "at most A * source length + B output tokens" },
    { "max-len-b", OPT_INT, "10", "N", "see --max-len-a" },
    { "ids", OPT_FLAG, NULL, NULL, "lines are token ids in and out (no tokenizer)" },
    { "chunk", OPT_INT, "1000", "N", "lines read before translating (1: line by line)" },
    { "threads", OPT_INT, "1", "N", "OpenBLAS threads" },
    { 0 },
};

typedef struct Line {
    char *text;         /* collapsed text, or NULL when the line is bad */
    int *ids, n;        /* encoded source */
} Line;

typedef struct Translator {
    const char *dir;
    Supernet *net;
    ModelInfo info;
    Detok dt;
    Dict dict;
    int ids_mode, pretok;
    DecodeOpts o;
    int *out, max_out;
    long lineno;        /* lines read so far */
    int bad;            /* bad lines seen */
} Translator;

static void line_error(Translator *t, long lineno, const char *what)
{
    fprintf(stderr, "mos translate: stdin line %ld: %s (an empty line was written)\n", lineno,
            what);
    t->bad++;
}

/* Parses "id id id" into l->ids; -1 with what is wrong. */
static int parse_ids(const Translator *t, const char *s, Line *l, char *why, size_t n)
{
    size_t cap = strlen(s) / 2 + 1;
    l->ids = malloc(cap * sizeof *l->ids);
    ASSERT(l->ids);
    l->n = 0;
    while (*s) {
        char *end;
        long v = strtol(s, &end, 10);
        if (end == s || v < 0 || v >= t->info.cfg.vocab || (*end && *end != ' ')) {
            snprintf(why, n, "expected token ids in [0, %d)", t->info.cfg.vocab);
            return -1;
        }
        l->ids[l->n++] = (int)v;
        s = *end ? end + 1 : end;
    }
    return 0;
}

static void dict_ids(const Translator *t, const char *s, Line *l)
{
    size_t cap = strlen(s) / 2 + 1;
    l->ids = malloc(cap * sizeof *l->ids);
    ASSERT(l->ids);
    l->n = 0;
    while (*s) {
        const char *e = strchr(s, ' ');
        size_t len = e ? (size_t)(e - s) : strlen(s);
        l->ids[l->n++] = (int)dict_id(&t->dict, s, len);
        s += len + (e ? 1 : 0);
    }
}

/* spm_encode over the block's good lines (bad ones as empty lines, ignored afterwards). */
static int spm_ids(Translator *t, Line *lines, int n, MosErr *err)
{
    const char *tmpdir = getenv("TMPDIR") && getenv("TMPDIR")[0] ? getenv("TMPDIR") : "/tmp";
    char in[4200], out[4200], log[4200], model[4200], arg[4300];
    snprintf(in, sizeof in, "%s/mos-translate-in-XXXXXX", tmpdir);
    snprintf(out, sizeof out, "%s/mos-translate-out-XXXXXX", tmpdir);
    snprintf(log, sizeof log, "%s/mos-translate-log-XXXXXX", tmpdir);
    int fi = mkstemp(in), fo = mkstemp(out), fl = mkstemp(log);
    if (fi < 0 || fo < 0 || fl < 0) {
        int e = errno;
        if (fi >= 0)
            close(fi), unlink(in);
        if (fo >= 0)
            close(fo), unlink(out);
        if (fl >= 0)
            close(fl), unlink(log);
        return err_set(err, "%s: cannot create temporary files: %s", tmpdir, strerror(e));
    }
    close(fo);
    close(fl);
    FILE *f = fdopen(fi, "w");
    for (int i = 0; i < n; i++)
        fprintf(f, "%s\n", lines[i].text ? lines[i].text : "");
    fclose(f);
    snprintf(model, sizeof model, "%s/%s", t->dir, t->info.tokenizer_file);
    snprintf(arg, sizeof arg, "--model=%s", model);
    char *argv[] = { "spm_encode", arg, "--output_format=id", in, NULL };
    int rc = proc_run(argv, NULL, out, log, err);
    FILE *r = rc == 0 ? fopen(out, "r") : NULL;
    char *buf = NULL;
    size_t cap = 0;
    for (int i = 0; r && i < n; i++) {
        ssize_t len = getline(&buf, &cap, r);
        if (len < 0) {
            rc = err_set(err, "spm_encode wrote fewer lines than it was given");
            break;
        }
        buf[strcspn(buf, "\n")] = 0;
        char why[128];
        if (lines[i].text && parse_ids(t, buf, &lines[i], why, sizeof why) < 0)
            rc = err_set(err, "spm_encode: %s (is %s the model's tokenizer?)", why, model);
    }
    free(buf);
    if (r)
        fclose(r);
    unlink(in);
    unlink(out);
    unlink(log);
    return rc;
}

static void emit(Translator *t, const Line *l)
{
    if (!l->text) {
        putchar('\n');
        return;
    }
    int n = supernet_decode(t->net, &t->info.arch, l->ids, l->n, &t->o, t->out, t->max_out);
    ASSERT(n >= 0);
    if (t->ids_mode) {
        for (int i = 0; i < n; i++)
            printf(i ? " %d" : "%d", t->out[i]);
        putchar('\n');
        return;
    }
    char *s = detok_decode(&t->dt, t->out, n);
    printf("%s\n", s);
    free(s);
}

/* Encodes, translates and prints one block; -1 on a tool failure (spm_encode). */
static int run_block(Translator *t, Line *lines, int n, long first, MosErr *err)
{
    for (int i = 0; i < n; i++) {
        char why[128];
        if (!lines[i].text)
            continue;
        if (t->ids_mode && parse_ids(t, lines[i].text, &lines[i], why, sizeof why) < 0) {
            line_error(t, first + i, why);
            free(lines[i].text);
            lines[i].text = NULL;
        } else if (t->pretok && !t->ids_mode) {
            dict_ids(t, lines[i].text, &lines[i]);
        }
    }
    if (!t->ids_mode && !t->pretok && spm_ids(t, lines, n, err) < 0)
        return -1;
    for (int i = 0; i < n; i++)
        emit(t, &lines[i]);
    fflush(stdout);
    return 0;
}

/* Reads up to max lines into lines[]; returns how many (0 at end of input). */
static int read_block(Translator *t, Line *lines, int max, char **buf, size_t *cap)
{
    int n = 0;
    ssize_t len;
    while (n < max && (len = getline(buf, cap, stdin)) >= 0) {
        t->lineno++;
        if (len > 0 && (*buf)[len - 1] == '\n')
            len--;
        Line *l = &lines[n++];
        *l = (Line){0};
        long at = text_utf8_invalid_at(*buf, (size_t)len);
        if (at >= 0 || memchr(*buf, 0, (size_t)len)) {
            char why[96];
            snprintf(why, sizeof why, at >= 0 ? "invalid UTF-8 at byte %ld" : "a NUL byte", at);
            line_error(t, t->lineno, why);
            continue;
        }
        l->text = malloc((size_t)len + 1);
        ASSERT(l->text);
        memcpy(l->text, *buf, (size_t)len);
        text_collapse(l->text, (size_t)len);
    }
    return n;
}

static int translator_open(Translator *t, const Args *a, MosErr *err)
{
    t->dir = args_str(a, "model");
    t->ids_mode = args_flag(a, "ids");
    if (!t->dir)
        return err_set(err, "--model DIR is required");
    ModelInfo probe;
    if (modelfile_read_info(t->dir, &probe, err) < 0)
        return -1;
    int maxpos = probe.cfg.max_positions;
    t->net = modelfile_load(t->dir, maxpos, &t->info, err);
    if (!t->net)
        return -1;
    t->pretok = strcmp(t->info.man.tokenizer, "pretokenized") == 0;
    t->max_out = maxpos;
    t->out = malloc(sizeof(int) * (size_t)maxpos);
    ASSERT(t->out);
    t->o = (DecodeOpts){.beam = (int)args_int(a, "beam"), .lenpen = (float)args_float(a, "lenpen"),
                        .max_len_a = (int)args_int(a, "max-len-a"),
                        .max_len_b = (int)args_int(a, "max-len-b")};
    if (t->ids_mode)
        return 0;
    if (!t->pretok && !t->info.tokenizer_file[0])
        return err_set(err, "%s has no SentencePiece model (its run's data had no spm.model): "
                            "use --ids", t->dir);
    char path[4200];
    snprintf(path, sizeof path, "%s/dict.txt", t->dir);
    if (t->pretok && dict_load(&t->dict, path, err) < 0)
        return -1;
    return detok_load(&t->dt, t->dir, &t->info.man, err);
}

static void translator_close(Translator *t)
{
    supernet_destroy(&t->net);
    if (t->dt.piece)
        detok_done(&t->dt);
    if (t->dict.tok)
        dict_done(&t->dict);
    free(t->out);
}

static int run_translate(const Args *a)
{
    int chunk = (int)args_int(a, "chunk");
    if (chunk < 1 || args_int(a, "beam") < 1) {
        fprintf(stderr, "mos translate: --chunk and --beam must be >= 1\n");
        return 2;
    }
    openblas_set_num_threads((int)args_int(a, "threads"));
    Translator t = {0};
    MosErr err = {{0}};
    int rc = translator_open(&t, a, &err);
    Line *lines = calloc((size_t)chunk, sizeof *lines);
    ASSERT(lines);
    char *buf = NULL;
    size_t cap = 0;
    int n;
    while (rc == 0 && (n = read_block(&t, lines, chunk, &buf, &cap)) > 0) {
        rc = run_block(&t, lines, n, t.lineno - n + 1, &err);
        for (int i = 0; i < n; i++) {
            free(lines[i].text);
            free(lines[i].ids);
        }
    }
    free(buf);
    free(lines);
    translator_close(&t);
    if (rc < 0) {
        fprintf(stderr, "mos translate: %s\n", err.msg);
        return 1;
    }
    return t.bad ? 1 : 0;
}

const Command cmd_translate = {
    .name = "translate",
    .summary = "translate stdin to stdout, one line each, with an extracted model",
    .details = "Each input line gives one output line, in order. A line that is not valid UTF-8\n"
               "gets an error on stderr naming it and an empty output line; translation goes on\n"
               "and the exit status is 1. Output is flushed after every block of --chunk lines.",
    .opts = translate_opts,
    .run = run_translate,
};
