/* Running external tools (apt-get, dpkg-deb, spm_train, spm_encode) from argument vectors, never
 * through a shell, and the few file-system operations `mos prepare` needs (mkdir -p, rm -rf,
 * atomic directory replacement). Tools' output goes to files, not to the user's terminal. */
#ifndef MOS_PROC_H
#define MOS_PROC_H

#include "err.h"

/* Runs argv[0] (searched on PATH) with stdin from /dev/null, stdout to out_path (or to
 * log_path when out_path is NULL) and stderr to log_path, in directory cwd (NULL: current).
 * Paths are opened before changing directory. Returns 0 when the tool exits with status 0;
 * otherwise -1 with e.g. "apt-get failed (exit 100): E: Unable to locate package foo" (the
 * last non-empty line of the log) or "spm_train not found on PATH (run scripts/setup.sh to
 * install it)". */
int proc_run(char *const argv[], const char *cwd, const char *out_path, const char *log_path,
             MosErr *e);

/* "dir/name" into buf (PATH_MAX bytes) and returns buf; a path that does not fit becomes ""
 * (which then fails to open with a clear error) rather than a silently different path. */
char *fs_join(char *buf, const char *dir, const char *name);

/* Creates path and missing parents (mode 0777 & ~umask); existing directories are fine. */
int fs_mkdir_p(const char *path, MosErr *e);

/* Removes path recursively without following symlinks; a missing path is not an error. */
int fs_rm_rf(const char *path, MosErr *e);

/* Moves directory fresh to dest. When dest exists the two are exchanged atomically
 * (renameat2 RENAME_EXCHANGE) and the old contents, now at fresh, are removed; readers never
 * see a missing or half-written dest. */
int fs_replace_dir(const char *fresh, const char *dest, MosErr *e);

#endif
