/* Error buffers and the panic hook (see err.h). The hook runs at most once: a panic inside the
 * hook goes straight to abort(). */
#include "err.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static PanicHook panic_hook;
static int panicking;

int err_set(MosErr *e, const char *fmt, ...)
{
    if (e) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(e->msg, sizeof e->msg, fmt, ap);
        va_end(ap);
    }
    return -1;
}

void err_prefix(MosErr *e, const char *fmt, ...)
{
    if (!e)
        return;
    char old[MOS_ERR_LEN];
    memcpy(old, e->msg, sizeof old);
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(e->msg, sizeof e->msg, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof e->msg - 2)
        return;
    size_t room = sizeof e->msg - (size_t)n - 2;
    size_t len = strnlen(old, sizeof old);
    if (len >= room)
        len = room - 1;
    memcpy(e->msg + n, ": ", 2);
    memcpy(e->msg + n + 2, old, len);
    e->msg[n + 2 + len] = '\0';
}

void panic_set_hook(PanicHook hook)
{
    panic_hook = hook;
}

_Noreturn void panic_at(const char *file, int line, const char *what)
{
    char msg[MOS_ERR_LEN];
    snprintf(msg, sizeof msg, "internal error: %s:%d: assertion failed: %s", file, line, what);
    if (panic_hook && !panicking) {
        panicking = 1;
        panic_hook(msg);
    }
    fprintf(stderr, "%s\n", msg);
    abort();
}
