/* Reading a run's config (see runconf.h). */
#include "runconf.h"

#include <limits.h>
#include <unistd.h>

int runconf_load(const char *run_dir, const char *config, RunConfig *c, FILE *warn_to,
                 MosErr *err)
{
    config_defaults(c);
    char path[PATH_MAX];
    if (config)
        snprintf(path, sizeof path, "%s", config);
    else if (run_dir)
        snprintf(path, sizeof path, "%s/config.yml", run_dir);
    else
        return 0;
    if (!config && access(path, F_OK) != 0)
        return 0;
    ConfigWarnings w = {0};
    if (config_load(path, c, &w, err) < 0)
        return -1;
    for (int i = 0; warn_to && i < w.n && i < CONFIG_MAX_WARNINGS; i++)
        fprintf(warn_to, "warning: %s\n", w.msg[i]);
    if (warn_to && w.n > CONFIG_MAX_WARNINGS)
        fprintf(warn_to, "warning: %d more warnings\n", w.n - CONFIG_MAX_WARNINGS);
    return 0;
}
