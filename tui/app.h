/* The dashboard application: options, sources, the poll loop (sockets + keyboard), key
 * dispatch through the keymap, prompts and confirmations, and drawing the panels from the
 * store only when something changed: a key's effect within 1/APP_FPS s, new data at most
 * every refresh_ms (messages wait in ZeroMQ's queue meanwhile and are applied in one go). Invariant: every path out
 * of app_run restores the terminal (crt_done). */
#ifndef TUI_APP_H
#define TUI_APP_H

#include "crt.h"
#include "store.h"

#define APP_MAX_CONNECT STORE_WORKERS_MAX
#define APP_FPS 15            /* frames a second at most while keys change the view */
#define APP_REFRESH_MS 200    /* default: new data is drawn at most this often (--refresh) */

typedef struct AppOptions {
    const char *connect[APP_MAX_CONNECT];   /* endpoints: "PUB[,CTL]" or a run directory */
    int nconnect;
    const char *run_dir;                     /* find the worker, else replay its event log */
    const char *replay;                      /* an events.msgpack file to replay */
    const char *theme;                       /* theme name or path (NULL: dark) */
    CrtOptions crt;
    int wait_ms;                             /* how long --run-dir waits for a worker */
    int refresh_ms;                          /* new data drawn at most this often */
} AppOptions;

typedef struct App App;

/* Opens every source (before the terminal is taken, so errors print plainly). 0, or -1 with
 * err naming what failed. */
int app_new(App **out, const AppOptions *opt, char *err, size_t err_len);

/* Runs until q or a quit signal; returns the process exit code. */
int app_run(App *a);

void app_destroy(App **a);

/* Parses a --connect argument into pub and ctl endpoints: "PUB,CTL", or PUB alone, whose
 * control endpoint is derived (ipc "X.pub" -> "X.ctl", tcp port P -> P+1). 0 or -1. */
int app_parse_endpoint(const char *arg, char *pub, size_t pub_len, char *ctl, size_t ctl_len);

#endif
