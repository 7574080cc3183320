/* Every `mos` subcommand, one Command each, defined in worker/cmd_<name>.c. Adding a command:
 * write its file, declare it here, and list it in commands[] in main.c. */
#ifndef MOS_COMMANDS_H
#define MOS_COMMANDS_H

#include "cli.h"

extern const Command cmd_dash;
extern const Command cmd_prepare;
extern const Command cmd_config;
extern const Command cmd_bleu;
extern const Command cmd_eval;
extern const Command cmd_train;
extern const Command cmd_worker;
extern const Command cmd_ctl;
extern const Command cmd_watch;
extern const Command cmd_run;
extern const Command cmd_latency;
extern const Command cmd_search;
extern const Command cmd_keygen;
extern const Command cmd_extract;
extern const Command cmd_translate;
extern const Command cmd_finetune;
extern const Command cmd_bench;

/* Replaces the process with mos-dash (next to this executable, else on PATH); returns 1 with a
 * message on stderr only when it cannot. */
int dash_exec(char *const *argv);

#endif
