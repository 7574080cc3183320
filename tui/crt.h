/* Terminal setup and teardown, colour pairs from a Theme, and restoring the terminal on every
 * exit path (normal exit, SIGINT/SIGTERM/SIGHUP, crashes, crt_fatal). The only file that calls
 * start_color/init_pair. Invariant: after crt_init succeeded, the terminal is restored exactly
 * once, whatever way the process ends. */
#ifndef TUI_CRT_H
#define TUI_CRT_H

#include <signal.h>
#include <stddef.h>

#include "theme.h"

typedef enum CrtColorLevel {
    CRT_COLOR_MONO,
    CRT_COLOR_8,
    CRT_COLOR_256,
    CRT_COLOR_TRUE,
} CrtColorLevel;

typedef enum CrtGlyphs {
    CRT_GLYPHS_AUTO,
    CRT_GLYPHS_BRAILLE,
    CRT_GLYPHS_BLOCK,
    CRT_GLYPHS_ASCII,
} CrtGlyphs;

typedef struct CrtOptions {
    int mouse;           /* enable mouse clicks and the wheel */
    int no_color;        /* --no-color (NO_COLOR in the environment also forces mono) */
    int force_utf8;      /* trust UTF-8 even when the locale does not say so */
    CrtGlyphs glyphs;    /* chart glyphs; AUTO picks braille on UTF-8, ASCII otherwise */
} CrtOptions;

/* Set by SIGINT/SIGTERM/SIGHUP; the app loop ends when it is non-zero. */
extern volatile sig_atomic_t crt_quit_signal;

/* Detects the locale (UTF-8 or not) and colour support without starting curses. */
int crt_locale_utf8(void);
CrtColorLevel crt_detect_level(int colors, const char *colorterm, const char *no_color);

/* Starts curses on the terminal: newterm with TERM, falling back to xterm-256color, xterm,
 * vt100 (a line in warn says so), cbreak/noecho/keypad, ESCDELAY 25 ms unless the user set
 * ESCDELAY, handlers for quit and crash signals, atexit restore. Returns 0, or -1 with err. */
int crt_init(const CrtOptions *opt, char *err, size_t err_len, char *warn, size_t warn_len);

/* Restores the terminal; safe to call more than once and from atexit. */
void crt_done(void);

/* Builds one colour pair per role for the current colour level. */
void crt_apply_theme(const Theme *t);

/* curses attributes (colour pair | bold/dim/...) to draw a role with. */
int crt_attr(ColorRole role);

int crt_utf8(void);
CrtGlyphs crt_glyphs(void);
CrtColorLevel crt_color_level(void);
const char *crt_level_name(CrtColorLevel level);

/* Restores the terminal, prints "mos-dash: fatal: <msg>" to stderr and aborts. */
_Noreturn void crt_fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Always-on invariant check for the curses side: a broken invariant restores the terminal
 * before the process aborts (the dashboard's counterpart of core's ASSERT panic hook). */
#define TUI_ASSERT(cond) \
    do { \
        if (!(cond)) \
            crt_fatal("%s:%d: invariant broken: %s", __FILE__, __LINE__, #cond); \
    } while (0)

#endif
