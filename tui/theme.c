/* Theme table, compiled-in default and theme-file parser. It does not touch the terminal (crt.c
 * does) and never prints: errors and warnings go to caller buffers. Invariant: theme_load
 * changes *t only when the whole file parsed (a broken file leaves the previous theme). */
#include "theme.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifndef MOS_THEME_DIR
#define MOS_THEME_DIR "themes"
#endif

static const struct {
    const char *key;
    const char *def;
    int mono;
} roles[ROLE_COUNT] = {
#define X(e, key, def, mono) [e] = { key, def, mono },
    COLOR_ROLES(X)
#undef X
};

const char *const theme_builtin_names[] = { "dark", "light", "high-contrast", "mono" };
const int theme_builtin_count = 4;

const char *theme_role_key(ColorRole r)
{
    return (unsigned)r < ROLE_COUNT ? roles[r].key : "?";
}

int theme_role_mono(ColorRole r)
{
    return (unsigned)r < ROLE_COUNT ? roles[r].mono : 0;
}

int theme_parse_value(const char *text, ThemeColor *out)
{
    if (text[0] == '\0') {
        *out = (ThemeColor){ THEME_DEFAULT, 0 };
        return 0;
    }
    char *end;
    if (text[0] == '#') {
        if (strlen(text) != 7)
            return -1;
        for (int i = 1; i < 7; i++)
            if (!isxdigit((unsigned char)text[i]))
                return -1;
        *out = (ThemeColor){ THEME_RGB, (unsigned)strtoul(text + 1, &end, 16) };
        return 0;
    }
    if (!isdigit((unsigned char)text[0]))
        return -1;
    errno = 0;
    unsigned long v = strtoul(text, &end, 10);
    if (*end || errno || v > 255)
        return -1;
    *out = (ThemeColor){ THEME_INDEX, (unsigned)v };
    return 0;
}

void theme_default(Theme *t)
{
    memset(t, 0, sizeof *t);
    snprintf(t->name, sizeof t->name, "dark");
    for (int r = 0; r < ROLE_COUNT; r++)
        if (theme_parse_value(roles[r].def, &t->c[r]) != 0)
            t->c[r] = (ThemeColor){ THEME_DEFAULT, 0 };
}

static void appendf(char *buf, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void appendf(char *buf, size_t len, const char *fmt, ...)
{
    if (!buf || len == 0)
        return;
    size_t used = strnlen(buf, len);
    if (used + 1 >= len)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf + used, len - used, fmt, ap);
    va_end(ap);
}

static int role_by_key(const char *key)
{
    for (int r = 0; r < ROLE_COUNT; r++)
        if (strcmp(roles[r].key, key) == 0)
            return r;
    return -1;
}

static char *trim(char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    char *e = s + strlen(s);
    while (e > s && isspace((unsigned char)e[-1]))
        *--e = '\0';
    return s;
}

/* Splits `key = value` (value optionally in double quotes); returns a message or NULL. */
static const char *split_line(char *line, char **key, char **value)
{
    char *eq = strchr(line, '=');
    if (!eq)
        return "expected 'role = \"#rrggbb\"' or 'role = 0..255'";
    *eq = '\0';
    *key = trim(line);
    char *v = trim(eq + 1);
    if (**key == '\0')
        return "missing role name before '='";
    if (v[0] == '"') {
        char *close = strchr(v + 1, '"');
        if (!close)
            return "unterminated quoted value";
        char *rest = trim(close + 1);
        if (rest[0] != '\0' && rest[0] != '#')
            return "trailing text after the quoted value";
        *close = '\0';
        v++;
    } else {
        v[strcspn(v, " \t")] = '\0';  /* unquoted: a number, maybe followed by a comment */
    }
    *value = v;
    return NULL;
}

/* Parses one line into *t; returns -1 with err set on a syntax error. */
static int theme_line(const char *path, int lineno, char *line, Theme *t, int *nset, char *err,
                      size_t err_len, char *warn, size_t warn_len)
{
    char *hash = strchr(line, '#');
    if (hash && (hash == line || !strchr(line, '=') || hash < strchr(line, '=')))
        *hash = '\0';  /* a comment: '#' before any '=' */
    char *s = trim(line);
    if (*s == '\0')
        return 0;
    char *key, *value;
    const char *msg = split_line(s, &key, &value);
    if (msg) {
        snprintf(err, err_len, "%s:%d: %s", path, lineno, msg);
        return -1;
    }
    ThemeColor c;
    if (theme_parse_value(value, &c) != 0) {
        snprintf(err, err_len, "%s:%d: %s: bad colour '%s' (want \"#rrggbb\", 0..255 or \"\")",
                 path, lineno, key, value);
        return -1;
    }
    int r = role_by_key(key);
    if (r < 0) {
        appendf(warn, warn_len, "%s:%d: unknown key '%s' (ignored)\n", path, lineno, key);
        return 0;
    }
    t->c[r] = c;
    (*nset)++;
    return 0;
}

int theme_load(const char *path, Theme *t, char *err, size_t err_len, char *warn,
               size_t warn_len)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, err_len, "%s: cannot open theme: %s", path, strerror(errno));
        return -1;
    }
    Theme next;
    theme_default(&next);
    const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
    snprintf(next.name, sizeof next.name, "%.*s", (int)strcspn(base, "."), base);
    char line[512];
    int lineno = 0, nset = 0, rc = 0;
    while (rc == 0 && fgets(line, sizeof line, f)) {
        lineno++;
        if (!strchr(line, '\n') && !feof(f)) {
            snprintf(err, err_len, "%s:%d: line longer than %zu bytes", path, lineno,
                     sizeof line - 2);
            rc = -1;
            break;
        }
        rc = theme_line(path, lineno, line, &next, &nset, err, err_len, warn, warn_len);
    }
    fclose(f);
    if (rc != 0)
        return -1;
    *t = next;
    return nset;
}

static int try_dir(const char *dir, const char *name, char *path, size_t path_len)
{
    if (!dir || !*dir)
        return -1;
    snprintf(path, path_len, "%s/%s.theme", dir, name);
    return access(path, R_OK) == 0 ? 0 : -1;
}

int theme_find(const char *name, const char *dir_hint, char *path, size_t path_len)
{
    if (strchr(name, '/')) {
        snprintf(path, path_len, "%s", name);
        return access(path, R_OK) == 0 ? 0 : -1;
    }
    char user[1024];
    const char *xdg = getenv("XDG_CONFIG_HOME"), *home = getenv("HOME");
    user[0] = '\0';
    if (xdg && *xdg)
        snprintf(user, sizeof user, "%s/mos/themes", xdg);
    else if (home && *home)
        snprintf(user, sizeof user, "%s/.config/mos/themes", home);
    if (try_dir(getenv("MOS_THEME_DIR"), name, path, path_len) == 0
        || try_dir(user, name, path, path_len) == 0
        || try_dir(dir_hint, name, path, path_len) == 0
        || try_dir(MOS_THEME_DIR, name, path, path_len) == 0)
        return 0;
    return -1;
}

unsigned theme_index_rgb(int i)
{
    static const unsigned ansi[16] = {
        0x000000, 0x800000, 0x008000, 0x808000, 0x000080, 0x800080, 0x008080, 0xc0c0c0,
        0x808080, 0xff0000, 0x00ff00, 0xffff00, 0x0000ff, 0xff00ff, 0x00ffff, 0xffffff,
    };
    if (i < 16)
        return ansi[i < 0 ? 0 : i];
    if (i >= 232) {
        unsigned g = 8 + 10 * (unsigned)(i - 232);
        return g << 16 | g << 8 | g;
    }
    static const unsigned level[6] = { 0, 95, 135, 175, 215, 255 };
    int c = i - 16;
    return level[c / 36] << 16 | level[c / 6 % 6] << 8 | level[c % 6];
}

static long rgb_dist(unsigned a, unsigned b)
{
    long dr = (long)(a >> 16 & 255) - (long)(b >> 16 & 255);
    long dg = (long)(a >> 8 & 255) - (long)(b >> 8 & 255);
    long db = (long)(a & 255) - (long)(b & 255);
    return 3 * dr * dr + 4 * dg * dg + 2 * db * db;
}

static int nearest(unsigned rgb, int lo, int hi)
{
    int best = lo;
    long bd = -1;
    for (int i = lo; i <= hi; i++) {
        long d = rgb_dist(rgb, theme_index_rgb(i));
        if (bd < 0 || d < bd) {
            bd = d;
            best = i;
        }
    }
    return best;
}

int theme_rgb_to_256(unsigned rgb)
{
    return nearest(rgb, 16, 255);
}

int theme_rgb_to_8(unsigned rgb)
{
    /* A channel is "on" when it is at least 60 % of the brightest one, so hues survive
     * (sky blue -> cyan) and dim greys used for borders become white rather than black. */
    int ch[3] = { (int)(rgb >> 16 & 255), (int)(rgb >> 8 & 255), (int)(rgb & 255) };
    int max = ch[0] > ch[1] ? ch[0] : ch[1];
    max = max > ch[2] ? max : ch[2];
    if (max < 0x40)
        return 0;
    int idx = 0;
    for (int i = 0; i < 3; i++)
        if (ch[i] * 10 >= max * 6)
            idx |= 1 << i;   /* ANSI order: bit 0 red, bit 1 green, bit 2 blue */
    return idx;
}
