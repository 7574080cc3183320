/* Table-driven command line: each command declares one table of options (name, type, default,
 * help) that drives parsing, validation and --help, so help text can never drift from what the
 * parser accepts. Values are kept as text and converted on access; conversion is validated at
 * parse time, so accessors cannot fail for a parsed Args. */
#ifndef MOS_CLI_H
#define MOS_CLI_H

#include <stdio.h>

#include "err.h"

#define CLI_MAX_OPTS 48
#define CLI_MAX_POS  16

typedef enum OptType { OPT_FLAG, OPT_INT, OPT_FLOAT, OPT_STR, OPT_TYPE_COUNT } OptType;

typedef struct OptSpec {
    const char *name;   /* long name without the leading "--" */
    OptType type;
    const char *def;    /* default value as text; NULL: unset unless given */
    const char *meta;   /* placeholder in help, e.g. "DIR"; ignored for flags */
    const char *help;   /* one line */
} OptSpec;

struct Args;

typedef struct Command {
    const char *name;     /* e.g. "prepare" */
    const char *args;     /* positional arguments in usage, e.g. "[ACTION]"; NULL: none taken */
    const char *summary;  /* one line for `mos --help` */
    const char *details;  /* optional paragraph for `mos CMD --help` */
    const OptSpec *opts;  /* table, terminated by an entry with name == NULL */
    int (*run)(const struct Args *a);  /* returns the process exit code */
    int passthrough;      /* 1: no parsing, every argument becomes positional (mos dash) */
} Command;

typedef struct Args {
    const Command *cmd;
    const char *val[CLI_MAX_OPTS];   /* value text (or default), NULL if unset */
    int given[CLI_MAX_OPTS];         /* 1 when given on the command line */
    int npos;
    char *pos[CLI_MAX_POS];
} Args;

/* Parses argv (after the command name) against cmd's table. Accepts --name VALUE, --name=VALUE
 * and flags; "--" ends options. Returns 0, 1 when --help was asked (help already printed to
 * stdout), or -1 with a one-line error naming the option. */
int cli_parse(const Command *cmd, int argc, char **argv, Args *out, MosErr *err);

/* Prints "usage: mos CMD ..." and one line per option, generated from the table. */
void cli_help(const Command *cmd, FILE *f);

/* Accessors by option name; asking for a name not in the table is a programming error. */
const char *args_str(const Args *a, const char *name);   /* NULL when unset */
long        args_int(const Args *a, const char *name);
double      args_float(const Args *a, const char *name);
int         args_flag(const Args *a, const char *name);
int         args_given(const Args *a, const char *name);

#endif
