/* Command-line parsing and help from one options table per command (see cli.h). */
#include "cli.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static const char *type_meta[OPT_TYPE_COUNT] = {
    [OPT_FLAG] = "", [OPT_INT] = "N", [OPT_FLOAT] = "X", [OPT_STR] = "S",
};

static int opt_count(const Command *cmd)
{
    int n = 0;
    while (cmd->opts && cmd->opts[n].name)
        n++;
    ASSERT(n <= CLI_MAX_OPTS);
    return n;
}

static int opt_index(const Command *cmd, const char *name, size_t len)
{
    for (int i = 0; cmd->opts && cmd->opts[i].name; i++)
        if (strlen(cmd->opts[i].name) == len && strncmp(cmd->opts[i].name, name, len) == 0)
            return i;
    return -1;
}

static int check_value(const Command *cmd, const OptSpec *o, const char *v, MosErr *err)
{
    char *end;
    errno = 0;
    if (o->type == OPT_INT) {
        long x = strtol(v, &end, 10);
        (void)x;
        if (*v == '\0' || *end != '\0' || errno)
            return err_set(err, "mos %s: --%s: expected an integer, got '%s'", cmd->name, o->name, v);
    } else if (o->type == OPT_FLOAT) {
        double x = strtod(v, &end);
        (void)x;
        if (*v == '\0' || *end != '\0' || errno)
            return err_set(err, "mos %s: --%s: expected a number, got '%s'", cmd->name, o->name, v);
    }
    return 0;
}

static int parse_option(const Command *cmd, int argc, char **argv, int *i, Args *out, MosErr *err)
{
    const char *arg = argv[*i] + 2;
    const char *eq = strchr(arg, '=');
    size_t len = eq ? (size_t)(eq - arg) : strlen(arg);
    int k = opt_index(cmd, arg, len);
    if (k < 0)
        return err_set(err, "mos %s: unknown option '--%.*s' (see mos %s --help)",
                       cmd->name, (int)len, arg, cmd->name);
    const OptSpec *o = &cmd->opts[k];
    const char *v;
    if (o->type == OPT_FLAG) {
        if (eq)
            return err_set(err, "mos %s: --%s takes no value", cmd->name, o->name);
        v = "1";
    } else if (eq) {
        v = eq + 1;
    } else if (*i + 1 < argc) {
        v = argv[++*i];
    } else {
        return err_set(err, "mos %s: --%s needs a value", cmd->name, o->name);
    }
    if (check_value(cmd, o, v, err) < 0)
        return -1;
    out->val[k] = v;
    out->given[k] = 1;
    return 0;
}

int cli_parse(const Command *cmd, int argc, char **argv, Args *out, MosErr *err)
{
    memset(out, 0, sizeof *out);
    out->cmd = cmd;
    int n = opt_count(cmd);
    for (int k = 0; k < n; k++)
        out->val[k] = cmd->opts[k].def;
    int only_pos = cmd->passthrough;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (!only_pos && (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0)) {
            cli_help(cmd, stdout);
            return 1;
        }
        if (!only_pos && strcmp(a, "--") == 0) {
            only_pos = 1;
        } else if (!only_pos && strncmp(a, "--", 2) == 0) {
            if (parse_option(cmd, argc, argv, &i, out, err) < 0)
                return -1;
        } else if (!only_pos && a[0] == '-' && a[1] != '\0') {
            return err_set(err, "mos %s: unknown option '%s' (options are spelled --name)",
                           cmd->name, a);
        } else {
            if (!cmd->args)
                return err_set(err, "mos %s: unexpected argument '%s'", cmd->name, a);
            if (out->npos == CLI_MAX_POS)
                return err_set(err, "mos %s: too many arguments", cmd->name);
            out->pos[out->npos++] = argv[i];
        }
    }
    return 0;
}

void cli_help(const Command *cmd, FILE *f)
{
    fprintf(f, "usage: mos %s [options]%s%s\n\n%s\n", cmd->name, cmd->args ? " " : "",
            cmd->args ? cmd->args : "", cmd->summary);
    if (cmd->details)
        fprintf(f, "\n%s\n", cmd->details);
    if (!cmd->opts || !cmd->opts[0].name)
        return;
    fprintf(f, "\noptions:\n");
    for (int i = 0; cmd->opts[i].name; i++) {
        const OptSpec *o = &cmd->opts[i];
        char left[64];
        const char *meta = o->meta ? o->meta : type_meta[o->type];
        if (o->type == OPT_FLAG)
            snprintf(left, sizeof left, "--%s", o->name);
        else
            snprintf(left, sizeof left, "--%s %s", o->name, meta);
        fprintf(f, "  %-24s %s", left, o->help);
        if (o->def && o->type != OPT_FLAG)
            fprintf(f, " (default: %s)", o->def);
        fputc('\n', f);
    }
    fprintf(f, "  %-24s %s\n", "--help", "show this help");
}

static int must_index(const Args *a, const char *name)
{
    int k = opt_index(a->cmd, name, strlen(name));
    ASSERT(k >= 0);
    return k;
}

const char *args_str(const Args *a, const char *name)
{
    return a->val[must_index(a, name)];
}

long args_int(const Args *a, const char *name)
{
    const char *v = args_str(a, name);
    return v ? strtol(v, NULL, 10) : 0;
}

double args_float(const Args *a, const char *name)
{
    const char *v = args_str(a, name);
    return v ? strtod(v, NULL) : 0.0;
}

int args_flag(const Args *a, const char *name)
{
    return args_str(a, name) != NULL && strcmp(args_str(a, name), "0") != 0;
}

int args_given(const Args *a, const char *name)
{
    return a->given[must_index(a, name)];
}
