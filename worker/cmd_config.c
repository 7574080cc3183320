/* `mos config`: prints the effective run config as YAML (defaults, then the run directory's
 * config.yml or --config), with warnings on stderr; --keys prints the key reference as Markdown.
 * It never writes files. */
#include <stdio.h>
#include <stdlib.h>

#include "commands.h"
#include "runconf.h"

static int run_config(const Args *a)
{
    if (args_flag(a, "keys")) {
        char *md = config_keys_markdown();
        fputs(md, stdout);
        free(md);
        return 0;
    }
    RunConfig c;
    MosErr err = {{0}};
    if (runconf_load(args_str(a, "run-dir"), args_str(a, "config"), &c, stderr, &err) < 0) {
        fprintf(stderr, "mos config: %s\n", err.msg);
        return 1;
    }
    char *text = config_dump_yaml(&c, args_flag(a, "comments"));
    fputs(text, stdout);
    free(text);
    return 0;
}

const Command cmd_config = {
    .name = "config",
    .summary = "print the effective run config (YAML, HAT's keys) or the key reference",
    .details = "Reads the defaults, then RUN_DIR/config.yml (if present) or --config FILE.\n"
               "Unknown keys and HAT keys that mos ignores are reported on stderr.",
    .opts = (const OptSpec[]){
        {"run-dir", OPT_STR, NULL, "DIR", "run directory whose config.yml to read"},
        {"config", OPT_STR, NULL, "FILE", "config file (instead of RUN_DIR/config.yml)"},
        {"comments", OPT_FLAG, NULL, NULL, "add each key's meaning as a comment"},
        {"keys", OPT_FLAG, NULL, NULL, "print every key as a Markdown table and exit"},
        {0},
    },
    .run = run_config,
};
