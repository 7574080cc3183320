/* `mos prepare`: the options table and the glue from parsed options to prepare_run (see
 * prepare.h). Prints the one error line and chooses the exit code; does no work itself. */
#include <stdio.h>

#include "commands.h"
#include "prepare.h"

static const OptSpec prepare_opts[] = {
    { "run-dir", OPT_STR, "runs/default", "DIR", "run directory; data goes to DIR/data" },
    { "vocab", OPT_INT, "8000", NULL, "SentencePiece vocabulary size (joint en+de)" },
    { "threads", OPT_INT, "2", NULL, "threads for spm_train" },
    { "char-coverage", OPT_FLOAT, "1.0", NULL, "share of characters SentencePiece must cover" },
    { "valid-size", OPT_INT, "2000", NULL, "validation pairs carved out (at most 10%)" },
    { "test-size", OPT_INT, "2000", NULL, "test pairs carved out (at most 10%)" },
    { "max-words", OPT_INT, "40", NULL, "cleaning drops pairs longer than this on a side" },
    { "packages", OPT_STR, NULL, "P1,P2", "Debian packages to use instead of the default list" },
    { "mo-dir", OPT_STR, NULL, "DIR", "read German catalogs DIR/*.mo instead of downloading" },
    { "src", OPT_STR, NULL, "FILE", "your source-language text, one sentence per line" },
    { "tgt", OPT_STR, NULL, "FILE", "your target-language text, aligned with --src" },
    { "valid-src", OPT_STR, NULL, "FILE", "your validation source text (else carved out)" },
    { "valid-tgt", OPT_STR, NULL, "FILE", "your validation target text" },
    { "test-src", OPT_STR, NULL, "FILE", "your test source text (else carved out)" },
    { "test-tgt", OPT_STR, NULL, "FILE", "your test target text" },
    { "clean", OPT_FLAG, NULL, NULL, "filter your text like the default corpus" },
    { "pretokenized", OPT_FLAG, NULL, NULL, "your text is already tokenized (needs --vocab-file)" },
    { "vocab-file", OPT_STR, NULL, "FILE", "fairseq dict.txt ('TOKEN COUNT' lines)" },
    { "force", OPT_FLAG, NULL, NULL, "rebuild even when data/ is up to date" },
    { 0 },
};

void prepare_opts_from_args(const Args *a, PrepareOpts *out)
{
    *out = (PrepareOpts){
        .run_dir = args_str(a, "run-dir"),
        .vocab = (int)args_int(a, "vocab"),
        .threads = (int)args_int(a, "threads"),
        .char_coverage = args_float(a, "char-coverage"),
        .valid_size = (int)args_int(a, "valid-size"),
        .test_size = (int)args_int(a, "test-size"),
        .max_words = (int)args_int(a, "max-words"),
        .packages = args_str(a, "packages"),
        .mo_dir = args_str(a, "mo-dir"),
        .src = args_str(a, "src"),
        .tgt = args_str(a, "tgt"),
        .valid_src = args_str(a, "valid-src"),
        .valid_tgt = args_str(a, "valid-tgt"),
        .test_src = args_str(a, "test-src"),
        .test_tgt = args_str(a, "test-tgt"),
        .clean = args_flag(a, "clean"),
        .pretokenized = args_flag(a, "pretokenized"),
        .vocab_file = args_str(a, "vocab-file"),
        .force = args_flag(a, "force"),
    };
}

static int run_prepare(const Args *a)
{
    PrepareOpts o;
    prepare_opts_from_args(a, &o);
    MosErr err = {{0}};
    if (prepare_run(&o, &err) < 0) {
        fflush(stdout);
        fprintf(stderr, "mos prepare: %s\n", err.msg);
        return 1;
    }
    return 0;
}

const Command cmd_prepare = {
    .name = "prepare",
    .summary = "build the En-De corpus (or read your text), train SentencePiece, write data/",
    .details =
        "Default: English-German pairs from the German gettext catalogs of a fixed list of\n"
        "Debian packages (apt-get download + dpkg-deb -x, no root needed), cleaned, deduped,\n"
        "split by a hash of the source into test/valid/train, tokenized with a joint\n"
        "SentencePiece model. Your own data: --src/--tgt (plain text), or --pretokenized\n"
        "--vocab-file dict.txt for already tokenized text. Re-running with the same inputs is a\n"
        "no-op; a failed run leaves an existing data/ untouched. See docs/data.md.",
    .opts = prepare_opts,
    .run = run_prepare,
};
