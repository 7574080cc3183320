/* Terminal control for mos-dash (the htop CRT.c role): screen setup with a TERM fallback, colour
 * level detection (truecolor -> 256 -> 8 -> mono, NO_COLOR), one pair per colour role, and
 * terminal restore on every exit path. It draws nothing itself. Signal handlers only set a flag
 * (quit) or restore and re-raise (crash). */
#include "crt.h"

#include <curses.h>
#include <langinfo.h>
#include <locale.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <term.h>
#include <unistd.h>

volatile sig_atomic_t crt_quit_signal = 0;

static struct {
    SCREEN *screen;
    volatile sig_atomic_t active;
    int utf8;
    CrtGlyphs glyphs;
    CrtColorLevel level;
    int attrs[ROLE_COUNT];
} crt;

int crt_locale_utf8(void)
{
    const char *cs = nl_langinfo(CODESET);
    return cs && (strcmp(cs, "UTF-8") == 0 || strcmp(cs, "utf8") == 0);
}

CrtColorLevel crt_detect_level(int colors, const char *colorterm, const char *no_color)
{
    if (no_color && *no_color)
        return CRT_COLOR_MONO;
    /* Direct colour needs a terminfo entry with RGB (xterm-direct); COLORTERM alone cannot make
     * curses send 24-bit sequences, so it only matters together with such an entry. */
    if (colors >= 0x1000000)
        return CRT_COLOR_TRUE;
    (void)colorterm;
    if (colors >= 256)
        return CRT_COLOR_256;
    if (colors >= 8)
        return CRT_COLOR_8;
    return CRT_COLOR_MONO;
}

const char *crt_level_name(CrtColorLevel level)
{
    static const char *const names[] = { "mono", "8 colours", "256 colours", "truecolor" };
    return (unsigned)level <= CRT_COLOR_TRUE ? names[level] : "?";
}

void crt_done(void)
{
    if (!crt.active)
        return;
    crt.active = 0;
    if (!isendwin())
        endwin();
    fflush(stdout);
}

static void crash_handler(int sig)
{
    /* Not async-signal-safe in theory; the process is dying anyway and a terminal left in raw
     * mode is worse (htop does the same). Then die of the same signal for the exit status. */
    if (crt.active) {
        crt.active = 0;
        endwin();
    }
    static const char msg[] = "mos-dash: crashed (terminal restored)\n";
    if (write(STDERR_FILENO, msg, sizeof msg - 1) < 0) { /* nothing left to do */ }
    signal(sig, SIG_DFL);
    raise(sig);
}

static void quit_handler(int sig)
{
    crt_quit_signal = sig;
}

static void install_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sigemptyset(&sa.sa_mask);
    sa.sa_handler = quit_handler;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    sa.sa_handler = crash_handler;
    sa.sa_flags = SA_RESETHAND;
    const int crash[] = { SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT };
    for (size_t i = 0; i < sizeof crash / sizeof crash[0]; i++)
        sigaction(crash[i], &sa, NULL);
}

_Noreturn void crt_fatal(const char *fmt, ...)
{
    crt_done();
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "mos-dash: fatal: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    signal(SIGABRT, SIG_DFL);
    abort();
}

static SCREEN *open_screen(char *warn, size_t warn_len)
{
    const char *term = getenv("TERM");
    const char *cands[] = { term, "xterm-256color", "xterm", "vt100" };
    for (size_t i = 0; i < sizeof cands / sizeof cands[0]; i++) {
        if (!cands[i] || !*cands[i])
            continue;
        SCREEN *s = newterm(cands[i], stdout, stdin);
        if (!s)
            continue;
        if (i > 0 && warn && warn_len)
            snprintf(warn, warn_len, "unknown terminal type '%s', using '%s' instead "
                     "(install its terminfo, or set TERM)", term ? term : "", cands[i]);
        return s;
    }
    return NULL;
}

static void pick_glyphs(const CrtOptions *opt)
{
    crt.glyphs = opt->glyphs;
    if (crt.glyphs == CRT_GLYPHS_AUTO) {
        const char *term = getenv("TERM");
        int console = term && strcmp(term, "linux") == 0;  /* no braille font on the console */
        crt.glyphs = !crt.utf8 ? CRT_GLYPHS_ASCII : console ? CRT_GLYPHS_BLOCK
                                                            : CRT_GLYPHS_BRAILLE;
    }
    if (!crt.utf8)
        crt.glyphs = CRT_GLYPHS_ASCII;
}

int crt_init(const CrtOptions *opt, char *err, size_t err_len, char *warn, size_t warn_len)
{
    setlocale(LC_ALL, "");
    crt.utf8 = opt->force_utf8 || crt_locale_utf8();
    pick_glyphs(opt);
    if (!isatty(STDOUT_FILENO) || !isatty(STDIN_FILENO)) {
        snprintf(err, err_len, "stdin and stdout must be a terminal (for scripts use mos watch)");
        return -1;
    }
    if (!getenv("ESCDELAY"))
        set_escdelay(25);
    crt.screen = open_screen(warn, warn_len);
    if (!crt.screen) {
        snprintf(err, err_len, "cannot open the terminal (TERM=%s, and no fallback worked)",
                 getenv("TERM") ? getenv("TERM") : "");
        return -1;
    }
    crt.active = 1;
    atexit(crt_done);
    install_signals();
    cbreak();
    noecho();
    nonl();
    keypad(stdscr, TRUE);
    nodelay(stdscr, TRUE);
    curs_set(0);
    if (opt->mouse) {
        mousemask(BUTTON1_CLICKED | BUTTON1_PRESSED | BUTTON4_PRESSED | BUTTON5_PRESSED, NULL);
        mouseinterval(0);
    }
    int colors = has_colors() ? tigetnum("colors") : 0;
    crt.level = crt_detect_level(opt->no_color ? 0 : colors, getenv("COLORTERM"),
                                 getenv("NO_COLOR"));
    if (crt.level != CRT_COLOR_MONO) {
        start_color();
        use_default_colors();
    }
    return 0;
}

/* Terminal colour number for a theme colour at the current level; -1 = terminal default. */
static int colour_number(ThemeColor c)
{
    if (c.kind == THEME_DEFAULT)
        return -1;
    unsigned rgb = c.kind == THEME_RGB ? c.value : theme_index_rgb((int)c.value);
    switch (crt.level) {
    case CRT_COLOR_TRUE: return (int)rgb;
    case CRT_COLOR_256: return c.kind == THEME_INDEX ? (int)c.value : theme_rgb_to_256(rgb);
    case CRT_COLOR_8:
        return c.kind == THEME_INDEX && c.value < 16 ? (int)c.value % 8 : theme_rgb_to_8(rgb);
    default: return -1;
    }
}

static int mono_attr(ColorRole r)
{
    static const int codes[] = { 0, A_BOLD, A_DIM, A_REVERSE, A_UNDERLINE };
    int m = theme_role_mono(r);
    return m >= 0 && m < 5 ? codes[m] : 0;
}

/* The background a role is drawn on: its own for the selection and key bar, else main_bg. */
static ColorRole role_background(ColorRole r)
{
    if (r == ROLE_SELECTED_FG)
        return ROLE_SELECTED_BG;
    if (r == ROLE_KEY)
        return ROLE_KEY_BG;
    return ROLE_MAIN_BG;
}

void crt_apply_theme(const Theme *t)
{
    for (int r = 0; r < ROLE_COUNT; r++) {
        int fg = colour_number(t->c[r]);
        int bg = colour_number(t->c[role_background(r)]);
        if (crt.level == CRT_COLOR_MONO || (fg < 0 && bg < 0)) {
            crt.attrs[r] = mono_attr(r);
            continue;
        }
        init_extended_pair(r + 1, fg, bg);
        crt.attrs[r] = (int)COLOR_PAIR(r + 1) | (fg < 0 ? mono_attr(r) : 0);
    }
    if (crt.level != CRT_COLOR_MONO) {
        int bg = colour_number(t->c[ROLE_MAIN_BG]);
        int fg = colour_number(t->c[ROLE_MAIN_FG]);
        init_extended_pair(ROLE_COUNT + 1, fg, bg);
        bkgdset((chtype)COLOR_PAIR(ROLE_COUNT + 1) | ' ');
    }
}

int crt_attr(ColorRole role)
{
    return (unsigned)role < ROLE_COUNT ? crt.attrs[role] : 0;
}

int crt_utf8(void)
{
    return crt.utf8;
}

CrtGlyphs crt_glyphs(void)
{
    return crt.glyphs;
}

CrtColorLevel crt_color_level(void)
{
    return crt.level;
}
