/* External tools and file-system helpers for `mos prepare` (see proc.h). posix_spawnp reports
 * a missing executable as ENOENT directly, so "not installed" is told apart from "failed". */
#include "proc.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <ftw.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

/* Copies the last informative line of a log file into out (empty when there is none): not
 * empty and not SentencePiece's closing "Program terminated with an unrecoverable error.". */
static void proc_last_line(const char *log_path, char *out, size_t size)
{
    out[0] = '\0';
    FILE *f = fopen(log_path, "r");
    if (!f)
        return;
    char line[1024];
    while (fgets(line, sizeof line, f)) {
        size_t n = strcspn(line, "\r\n");
        line[n] = '\0';
        if (n > 0 && strncmp(line, "Program terminated", 18) != 0)
            snprintf(out, size, "%.*s", (int)(size - 1), line);
    }
    fclose(f);
}

int proc_run(char *const argv[], const char *cwd, const char *out_path, const char *log_path,
             MosErr *e)
{
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 2, log_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (out_path)
        posix_spawn_file_actions_addopen(&fa, 1, out_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    else
        posix_spawn_file_actions_adddup2(&fa, 2, 1);
    if (cwd)
        posix_spawn_file_actions_addchdir_np(&fa, cwd);
    pid_t pid;
    int rc = posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc == ENOENT)
        return err_set(e, "%s not found on PATH (run scripts/setup.sh to install it)", argv[0]);
    if (rc != 0)
        return err_set(e, "cannot run %s: %s", argv[0], strerror(rc));
    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR)
            return err_set(e, "waiting for %s: %s", argv[0], strerror(errno));
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
        return 0;
    char last[512];
    proc_last_line(log_path, last, sizeof last);
    if (WIFEXITED(status) && WEXITSTATUS(status) == 127)
        return err_set(e, "%s not found on PATH (run scripts/setup.sh to install it)", argv[0]);
    if (WIFSIGNALED(status))
        return err_set(e, "%s killed by signal %d%s%s", argv[0], WTERMSIG(status),
                       last[0] ? ": " : "", last);
    return err_set(e, "%s failed (exit %d)%s%s", argv[0], WEXITSTATUS(status),
                   last[0] ? ": " : "", last);
}

char *fs_join(char *buf, const char *dir, const char *name)
{
    if (snprintf(buf, PATH_MAX, "%s/%s", dir, name) >= PATH_MAX)
        buf[0] = '\0';
    return buf;
}

int fs_mkdir_p(const char *path, MosErr *e)
{
    char buf[4096];
    if (snprintf(buf, sizeof buf, "%s", path) >= (int)sizeof buf)
        return err_set(e, "%s: path too long", path);
    for (char *p = buf + 1; ; p++) {
        if (*p != '/' && *p != '\0')
            continue;
        char c = *p;
        *p = '\0';
        if (mkdir(buf, 0777) != 0 && errno != EEXIST)
            return err_set(e, "%s: cannot create directory: %s", buf, strerror(errno));
        *p = c;
        if (c == '\0')
            break;
    }
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode))
        return err_set(e, "%s: not a directory", path);
    return 0;
}

static int fs_rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)ftw;
    return (flag == FTW_DP ? rmdir(path) : unlink(path)) != 0 ? -1 : 0;
}

int fs_rm_rf(const char *path, MosErr *e)
{
    struct stat st;
    if (lstat(path, &st) != 0)
        return errno == ENOENT ? 0 : err_set(e, "%s: %s", path, strerror(errno));
    if (nftw(path, fs_rm_one, 16, FTW_DEPTH | FTW_PHYS) != 0)
        return err_set(e, "%s: cannot remove: %s", path, strerror(errno));
    return 0;
}

int fs_replace_dir(const char *fresh, const char *dest, MosErr *e)
{
    struct stat st;
    if (lstat(dest, &st) != 0) {
        if (errno != ENOENT)
            return err_set(e, "%s: %s", dest, strerror(errno));
        if (rename(fresh, dest) != 0)
            return err_set(e, "cannot rename %s to %s: %s", fresh, dest, strerror(errno));
        return 0;
    }
    if (renameat2(AT_FDCWD, fresh, AT_FDCWD, dest, RENAME_EXCHANGE) == 0)
        return fs_rm_rf(fresh, e);
    if (errno != EINVAL && errno != ENOSYS)
        return err_set(e, "cannot replace %s with %s: %s", dest, fresh, strerror(errno));
    /* File systems without RENAME_EXCHANGE: move the old one aside first (a short window in
     * which dest is missing, never one in which it is half-written). */
    char old[4096];
    if (snprintf(old, sizeof old, "%s.old", dest) >= (int)sizeof old)
        return err_set(e, "%s: path too long", dest);
    if (fs_rm_rf(old, e) < 0)
        return -1;
    if (rename(dest, old) != 0)
        return err_set(e, "cannot rename %s to %s: %s", dest, old, strerror(errno));
    if (rename(fresh, dest) != 0) {
        int err = errno;
        rename(old, dest);
        return err_set(e, "cannot rename %s to %s: %s", fresh, dest, strerror(err));
    }
    return fs_rm_rf(old, e);
}
