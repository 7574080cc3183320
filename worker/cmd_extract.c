/* `mos extract`: one subnet of a trained supernet as a standalone model in
 * RUN_DIR/subnets/NAME/ (core/modelfile.h), chosen by --arch, by front index (--front K) or by
 * latency budget (--latency-ms X) from RUN_DIR/search/front.json. The model is written into a
 * temporary sibling directory and renamed into place; an existing NAME is only replaced with
 * --force (atomically: readers never see a half-written model). The work is extract_run()
 * (worker/extract_run.h), which a worker job can call as well; this file is the command line. */
#include <cblas.h>
#include <stdio.h>

#include "commands.h"
#include "extract_run.h"

static const OptSpec extract_opts[] = {
    { "run-dir", OPT_STR, "runs/default", "DIR", "run directory (checkpoints/, search/)" },
    { "config", OPT_STR, NULL, "FILE", "run config (default: DIR/config.yml when present)" },
    { "checkpoint", OPT_STR, "last", "NAME", "supernet checkpoint: last or prev" },
    { "arch", OPT_STR, NULL, "ARCH", "the subnet: text form (docs/arch.md), largest, smallest" },
    { "front", OPT_INT, NULL, "K", "the K-th point of search/front.json (0: lowest latency)" },
    { "latency-ms", OPT_FLOAT, NULL, "X",
      "the lowest-loss front point with predicted latency <= X ms" },
    { "name", OPT_STR, NULL, "NAME", "directory under DIR/subnets (default from arch/latency)" },
    { "force", OPT_FLAG, NULL, NULL, "replace an existing DIR/subnets/NAME" },
    { "threads", OPT_INT, "1", "N", "OpenBLAS threads" },
    { 0 },
};

static int run_extract(const Args *a)
{
    int given = args_given(a, "arch") + args_given(a, "front") + args_given(a, "latency-ms");
    if (given != 1) {
        fprintf(stderr, "mos extract: give exactly one of --arch, --front, --latency-ms\n");
        return 2;
    }
    if (args_given(a, "front") && args_int(a, "front") < 0) {
        fprintf(stderr, "mos extract: --front must be >= 0\n");
        return 2;
    }
    openblas_set_num_threads((int)args_int(a, "threads"));
    ExtractRequest q = {.run_dir = args_str(a, "run-dir"), .config = args_str(a, "config"),
                        .checkpoint = args_str(a, "checkpoint"), .arch = args_str(a, "arch"),
                        .front = args_given(a, "front") ? (int)args_int(a, "front") : -1,
                        .latency_ms = args_given(a, "latency-ms") ? args_float(a, "latency-ms")
                                                                  : 0.0,
                        .name = args_str(a, "name"), .force = args_flag(a, "force"),
                        .warn_to = stderr};
    ExtractResult r;
    MosErr err = {{0}};
    if (extract_run(&q, &r, &err) < 0) {
        fprintf(stderr, "mos extract: %s\n", err.msg);
        return 1;
    }
    printf("arch: %s\nchosen by: %s\nsource: %s (update %ld, mos %s)\nwrote %s: %zu "
           "parameters\n", r.arch_text, r.why, r.checkpoint, r.step, config_mos_name(r.mos),
           r.path, r.params);
    if (!r.has_spm_model)
        printf("note: %s/data/spm.model is missing, so the model cannot encode raw text "
               "(mos translate --ids still works)\n", q.run_dir);
    return 0;
}

const Command cmd_extract = {
    .name = "extract",
    .summary = "write one subnet as a standalone model (MoS collapsed) to RUN_DIR/subnets/NAME",
    .details = "Exactly one of --arch, --front, --latency-ms chooses the subnet. The directory\n"
               "gets model.safetensors, config.json and the tokenizer files (docs/extract.md).",
    .opts = extract_opts,
    .run = run_extract,
};
