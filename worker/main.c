/* The `mos` executable: dispatches to the subcommands listed in one table. Only this file and
 * the cmd_*.c files choose exit codes (0 ok, 1 failure, 2 usage error). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"

#ifndef MOS_VERSION
#define MOS_VERSION "unknown"
#endif

static const Command *const commands[] = {
    &cmd_prepare,
    &cmd_config,
    &cmd_train,
    &cmd_eval,
    &cmd_bleu,
    &cmd_run,
    &cmd_latency,
    &cmd_search,
    &cmd_worker,
    &cmd_ctl,
    &cmd_watch,
    &cmd_keygen,
    &cmd_extract,
    &cmd_translate,
    &cmd_finetune,
    &cmd_dash,
    &cmd_bench,
};
#define N_COMMANDS (int)(sizeof commands / sizeof commands[0])

static void usage(FILE *f)
{
    fprintf(f, "usage: mos COMMAND [options]\n\n"
               "mos trains Mixture-of-Supernets Transformers, measures latency on this machine,\n"
               "searches for the best subnets under latency targets and extracts them.\n\n"
               "commands:\n");
    for (int i = 0; i < N_COMMANDS; i++)
        fprintf(f, "  %-12s %s\n", commands[i]->name, commands[i]->summary);
    fprintf(f, "\n`mos COMMAND --help` describes a command's options; `mos --version` the version.\n");
}

static const Command *find_command(const char *name)
{
    for (int i = 0; i < N_COMMANDS; i++)
        if (strcmp(commands[i]->name, name) == 0)
            return commands[i];
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        if (argc >= 3 && strcmp(argv[1], "help") == 0 && find_command(argv[2])) {
            cli_help(find_command(argv[2]), stdout);
            return 0;
        }
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (strcmp(argv[1], "--version") == 0) {
        printf("mos %s\n", MOS_VERSION);
        return 0;
    }
    const Command *cmd = find_command(argv[1]);
    if (!cmd) {
        fprintf(stderr, "mos: unknown command '%s' (see mos --help)\n", argv[1]);
        return 2;
    }
    Args args;
    MosErr err = {{0}};
    int rc = cli_parse(cmd, argc - 2, argv + 2, &args, &err);
    if (rc < 0) {
        fprintf(stderr, "%s\n", err.msg);
        return 2;
    }
    if (rc == 1)
        return 0;
    return cmd->run(&args);
}
