/* Log panel: the newest log lines at the bottom (the worker's log messages and the dashboard's
 * own lines: command replies, warnings), coloured by level, scrollable. It keeps no state; the
 * store holds the ring. Invariant: each line takes one row and is clipped to the panel. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "panel.h"
#include "theme.h"

static int level_role(const char *level)
{
    if (strcmp(level, "error") == 0)
        return ROLE_ERROR;
    if (strcmp(level, "warn") == 0)
        return ROLE_WARN;
    if (strcmp(level, "debug") == 0)
        return ROLE_INACTIVE;
    return ROLE_MAIN_FG;
}

void panel_log_draw(Rect r, const Store *s, const View *v)
{
    char title[48];
    snprintf(title, sizeof title, v->log_scroll ? "Log [-%d]" : "Log", v->log_scroll);
    Rect in = widget_box(r, title, v->focus == PANEL_LOG);
    if (s->log_n == 0) {
        widget_waiting(in, "no log lines yet");
        return;
    }
    for (int row = 0; row < in.h; row++) {
        const StoreLog *l = store_log_line(s, v->log_scroll + in.h - 1 - row);
        if (!l)
            continue;
        char when[16] = "--:--:--", who[16] = "dash";
        if (l->ts > 0) {
            time_t t = (time_t)l->ts;
            struct tm tm;
            localtime_r(&t, &tm);
            strftime(when, sizeof when, "%H:%M:%S", &tm);
        }
        if (l->worker >= 0)
            snprintf(who, sizeof who, "w%d", l->worker);
        int x = in.x + widget_text(in.y + row, in.x, in.w, ROLE_INACTIVE, "%s %-4s ", when, who);
        widget_text(in.y + row, x, in.x + in.w - x, level_role(l->level), "%s", l->text);
    }
}
