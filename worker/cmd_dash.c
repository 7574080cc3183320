/* `mos dash`: runs the dashboard executable mos-dash, found next to this executable (build tree
 * or install) or else on PATH, passing every argument through unchanged. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "commands.h"

static int exec_sibling(char *const *argv)
{
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0)
        return -1;
    self[n] = '\0';
    char *slash = strrchr(self, '/');
    if (!slash)
        return -1;
    char path[PATH_MAX + 16];
    snprintf(path, sizeof path, "%.*s/mos-dash", (int)(slash - self), self);
    if (access(path, X_OK) == 0)
        execv(path, argv);
    /* Build tree: mos is in build/worker, mos-dash in build/tui. */
    snprintf(path, sizeof path, "%.*s/../tui/mos-dash", (int)(slash - self), self);
    if (access(path, X_OK) == 0)
        execv(path, argv);
    return -1;
}

int dash_exec(char *const *argv)
{
    exec_sibling(argv);
    execvp("mos-dash", argv);
    fprintf(stderr, "mos dash: cannot run mos-dash: %s (is it built or installed?)\n",
            strerror(errno));
    return 1;
}

static int run_dash(const Args *a)
{
    char *argv[CLI_MAX_POS + 2];
    argv[0] = "mos-dash";
    for (int i = 0; i < a->npos; i++)
        argv[i + 1] = a->pos[i];
    argv[a->npos + 1] = NULL;
    return dash_exec(argv);
}

const Command cmd_dash = {
    .name = "dash",
    .args = "[mos-dash options]",
    .summary = "open the full-screen dashboard (runs mos-dash; see mos-dash --help)",
    .opts = (const OptSpec[]){ { 0 } },
    .run = run_dash,
    .passthrough = 1,
};
