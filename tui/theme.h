/* Colour themes: one table of semantic roles (COLOR_ROLES), a compiled-in dark default, and a
 * parser for btop-like theme files (`role = "#rrggbb"`, `role = 0..255`, `role = ""` for the
 * terminal default). No curses here: tui/crt.c turns a Theme into colour pairs. Invariant: a
 * Theme always has a value for every role (missing keys keep the default's value). */
#ifndef TUI_THEME_H
#define TUI_THEME_H

#include <stddef.h>

/* X(ENUM, "file key", "dark default", mono attribute: 0 plain, 1 bold, 2 dim, 3 reverse,
 * 4 underline) */
#define COLOR_ROLES(X) \
    X(ROLE_MAIN_FG,          "main_fg",          "#c8c8c8", 0) \
    X(ROLE_MAIN_BG,          "main_bg",          "",        0) \
    X(ROLE_BOX,              "box",              "#4e5a65", 0) \
    X(ROLE_BOX_FOCUS,        "box_focus",        "#5fafd7", 1) \
    X(ROLE_TITLE,            "title",            "#e6e6e6", 1) \
    X(ROLE_INACTIVE,         "inactive_fg",      "#6c6c6c", 2) \
    X(ROLE_SELECTED_FG,      "selected_fg",      "#ffffff", 3) \
    X(ROLE_SELECTED_BG,      "selected_bg",      "#2f5a82", 0) \
    X(ROLE_LOSS_TRAIN,       "loss_train",       "#5fd7ff", 1) \
    X(ROLE_LOSS_TRAIN_RAW,   "loss_train_raw",   "#3a6a7a", 2) \
    X(ROLE_LOSS_VALID_LARGE, "loss_valid_large", "#ffaf5f", 0) \
    X(ROLE_LOSS_VALID_SMALL, "loss_valid_small", "#af87ff", 0) \
    X(ROLE_LOSS_VALID_RANDOM,"loss_valid_random","#87d787", 0) \
    X(ROLE_PARETO_FRONT,     "pareto_front",     "#ffd75f", 1) \
    X(ROLE_PARETO_DOMINATED, "pareto_dominated", "#5f5f5f", 2) \
    X(ROLE_CONSTRAINT_LINE,  "constraint_line",  "#ff5f5f", 0) \
    X(ROLE_CURSOR,           "cursor",           "#ffffff", 3) \
    X(ROLE_GATE_0,           "gate_0",           "#5fafff", 0) \
    X(ROLE_GATE_1,           "gate_1",           "#ff875f", 0) \
    X(ROLE_GATE_2,           "gate_2",           "#87d75f", 1) \
    X(ROLE_GATE_3,           "gate_3",           "#d787d7", 4) \
    X(ROLE_LAT_PREDICTED,    "latency_predicted","#87afd7", 0) \
    X(ROLE_LAT_MEASURED,     "latency_measured", "#ffd787", 1) \
    X(ROLE_OK,               "status_ok",        "#87d787", 0) \
    X(ROLE_WARN,             "status_warn",      "#ffd75f", 1) \
    X(ROLE_ERROR,            "status_error",     "#ff5f5f", 3) \
    X(ROLE_KEY,              "keybar_key",       "#000000", 3) \
    X(ROLE_KEY_BG,           "keybar_key_bg",    "#5fafd7", 0) \
    X(ROLE_KEY_TEXT,         "keybar_text",      "#a8a8a8", 0)

typedef enum ColorRole {
#define X(e, key, def, mono) e,
    COLOR_ROLES(X)
#undef X
    ROLE_COUNT
} ColorRole;

#define THEME_GATE_ROLES 4

typedef enum ThemeKind {
    THEME_DEFAULT,   /* the terminal's own foreground/background */
    THEME_RGB,       /* 24-bit colour in .value (0xRRGGBB) */
    THEME_INDEX,     /* a 256-colour palette index in .value */
} ThemeKind;

typedef struct ThemeColor {
    ThemeKind kind;
    unsigned value;
} ThemeColor;

typedef struct Theme {
    char name[64];
    ThemeColor c[ROLE_COUNT];
} Theme;

/* Fills *t with the compiled-in dark theme (identical to themes/dark.theme). */
void theme_default(Theme *t);

/* Key used in theme files for a role, and its mono attribute code (see COLOR_ROLES). */
const char *theme_role_key(ColorRole r);
int theme_role_mono(ColorRole r);

/* Parses one value: "#rrggbb", "" or a decimal 0..255. Returns 0 or -1. */
int theme_parse_value(const char *text, ThemeColor *out);

/* Loads a theme file over the compiled-in default. On a syntax error returns -1 with
 * "file:line: what" in err. Unknown keys are not errors: each adds a "file:line: unknown key
 * 'k' (ignored)" line to warn (truncated to warn_len). Returns the number of keys set. */
int theme_load(const char *path, Theme *t, char *err, size_t err_len, char *warn,
               size_t warn_len);

/* Names of the shipped themes in the order the T key cycles them. */
extern const char *const theme_builtin_names[];
extern const int theme_builtin_count;

/* Finds NAME.theme: NAME itself if it contains '/', else in $MOS_THEME_DIR, the user's
 * $XDG_CONFIG_HOME/mos/themes (or ~/.config/mos/themes), then dir_hint (may be NULL), then
 * the build's theme directory. Writes the path and returns 0, or -1 when not found. */
int theme_find(const char *name, const char *dir_hint, char *path, size_t path_len);

/* RGB of a 256-colour palette index (xterm's cube and grey ramp). */
unsigned theme_index_rgb(int index);

/* Nearest xterm-256 index (16..255) of an RGB colour, and nearest of the 8 ANSI colours. */
int theme_rgb_to_256(unsigned rgb);
int theme_rgb_to_8(unsigned rgb);

#endif
