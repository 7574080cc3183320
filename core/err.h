/* Error reporting for core: expected failures fill a one-line MosErr, broken invariants panic.
 * Library code never prints to stdout and never exits; only main() chooses exit codes.
 * ASSERT is always on (release builds too) and goes through a hook so that the dashboard can
 * restore the terminal and the worker can publish a fatal event before the process aborts. */
#ifndef MOS_ERR_H
#define MOS_ERR_H

#include <stddef.h>

#define MOS_ERR_LEN 512

/* One line naming what failed and where, e.g. "config.yml:12: lr: expected a number". */
typedef struct MosErr {
    char msg[MOS_ERR_LEN];
} MosErr;

/* Formats into e->msg (truncating) when e is not NULL; always returns -1 so callers can write
 * `return err_set(e, "...")`. */
int err_set(MosErr *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Prepends "prefix: " to an error already set (e.g. a file name). No-op when e is NULL. */
void err_prefix(MosErr *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

typedef void (*PanicHook)(const char *msg);

/* Installs a hook run once before abort() on a failed ASSERT (NULL: none). */
void panic_set_hook(PanicHook hook);

_Noreturn void panic_at(const char *file, int line, const char *what);

#define ASSERT(cond) \
    do { if (!(cond)) panic_at(__FILE__, __LINE__, #cond); } while (0)

#endif
