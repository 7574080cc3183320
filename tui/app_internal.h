/* Private to the app's files (app.c: loop, keys, drawing; app_setup.c: sources and themes;
 * app_cmd.c: commands, prompts and replies): the App struct and the functions they share.
 * Not part of the dashboard's API. Invariant: only the app files include this. */
#ifndef TUI_APP_INTERNAL_H
#define TUI_APP_INTERNAL_H

#include "app.h"
#include "keymap.h"
#include "layout.h"
#include "panel.h"
#include "source.h"
#include "theme.h"

#define APP_DRAIN_MAX 4000      /* events per source per loop turn */
#define APP_PENDING 16

typedef enum Mode {
    MODE_NORMAL,
    MODE_HELP,
    MODE_TARGET_INPUT,
    MODE_CONFIRM,
} Mode;

typedef struct Pending {
    int64_t id;
    int conn;
    char what[48];
} Pending;

struct App {
    AppOptions opt;
    Store *store;
    Source *src[APP_MAX_CONNECT];
    int nsrc;
    void *zctx;
    View view;
    ChartCanvas *canvas;
    double *xs, *ys;
    LayoutPreset preset;
    Theme theme;
    int theme_index;
    Mode mode;
    char input[32];
    Cmd confirm_cmd;
    int confirm_conn;
    char confirm_text[256];
    Pending pending[APP_PENDING];
    char flash[256];
    double flash_until;
    uint64_t drawn_version;
    int dirty;
    double last_draw;
    int quit;
    char warn[1024];
};

/* Monotonic seconds. */
double app_clock(void);

/* Shows a notice in the key bar for a few seconds. */
void app_flash(App *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* app_setup.c: the next shipped theme (T). */
void app_next_theme(App *a);

/* app_cmd.c: the command actions, the target prompt's keys, the confirmation's answer, and
 * the reply callback given to the sources. */
void app_act_pause(App *a);
void app_act_nudge(App *a, double factor);
void app_act_target(App *a);
void app_act_extract(App *a);
void app_key_target_input(App *a, int ch);
void app_key_confirm(App *a, int ch);
void app_on_reply(void *ctx, int conn, const MsgReply *r);

#endif
