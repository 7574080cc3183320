/* mos-dash: the full-screen dashboard executable (`mos dash` runs it). Parses options, opens
 * the sources, runs the app. Only this file chooses exit codes: 0 ok, 1 runtime error, 2 usage. */
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app.h"
#include "keymap.h"

static void usage(FILE *f)
{
    fprintf(f,
        "usage: mos-dash --connect ENDPOINT [--connect ENDPOINT ...] | --run-dir DIR |\n"
        "                --replay FILE [options]\n"
        "Full-screen dashboard for mos workers: loss, router gates, Pareto front, status,\n"
        "latency, log; pause/resume, latency target and extraction from the keyboard.\n\n"
        "  --connect E     a worker: PUB[,CTL] endpoints (ipc://.../N.pub, tcp://127.0.0.1:P;\n"
        "                  CTL defaults to .ctl / port P+1) or a run directory with\n"
        "                  endpoints.json. Repeat for several workers.\n"
        "  --run-dir D     the worker of run directory D (endpoints.json); when none answers,\n"
        "                  replay D/events.msgpack (a finished run)\n"
        "  --replay FILE   replay an event log (events.msgpack)\n"
        "  --theme NAME    dark (default), light, high-contrast, mono, or a theme file path\n"
        "  --no-mouse      do not capture the mouse (keeps terminal text selection)\n"
        "  --no-color      no colours (also when NO_COLOR is set)\n"
        "  --glyphs G      chart glyphs: braille, block or ascii (default: by terminal)\n"
        "  --force-utf8    assume a UTF-8 terminal even if the locale says otherwise\n"
        "  --wait MS       how long --run-dir waits for a worker to answer (default 1500)\n"
        "  --refresh MS    draw new data at most every MS ms (default 200; keys act at once)\n"
        "  --keys          print the key list (Markdown) and exit\n"
        "  --help          this text\n"
        "Keys: q quits the dashboard only (workers keep running); ? or F1 lists every key.\n");
}

static int parse_glyphs(const char *s, CrtGlyphs *g)
{
    static const char *const names[] = { "braille", "block", "ascii" };
    for (int i = 0; i < 3; i++)
        if (strcmp(s, names[i]) == 0) {
            *g = (CrtGlyphs)(CRT_GLYPHS_BRAILLE + i);
            return 0;
        }
    return -1;
}

static int parse_ms(const char *opt, const char *s, long lo, long hi, int *ms)
{
    char *end;
    long v = strtol(s, &end, 10);
    if (*end || end == s || v < lo || v > hi) {
        fprintf(stderr, "mos-dash: %s %s: expected milliseconds, %ld..%ld\n", opt, s, lo, hi);
        return -1;
    }
    *ms = (int)v;
    return 0;
}

static int parse_args(int argc, char **argv, AppOptions *o)
{
    enum { O_CONNECT = 256, O_RUN_DIR, O_REPLAY, O_THEME, O_NO_MOUSE, O_NO_COLOR, O_GLYPHS,
           O_UTF8, O_WAIT, O_REFRESH, O_KEYS, O_HELP };
    static const struct option opts[] = {
        { "connect", required_argument, 0, O_CONNECT }, { "run-dir", required_argument, 0, O_RUN_DIR },
        { "replay", required_argument, 0, O_REPLAY }, { "theme", required_argument, 0, O_THEME },
        { "no-mouse", no_argument, 0, O_NO_MOUSE }, { "no-color", no_argument, 0, O_NO_COLOR },
        { "glyphs", required_argument, 0, O_GLYPHS }, { "force-utf8", no_argument, 0, O_UTF8 },
        { "wait", required_argument, 0, O_WAIT }, { "refresh", required_argument, 0, O_REFRESH },
        { "keys", no_argument, 0, O_KEYS },
        { "help", no_argument, 0, O_HELP }, { 0, 0, 0, 0 },
    };
    for (int c; (c = getopt_long(argc, argv, "", opts, NULL)) != -1;) {
        switch (c) {
        case O_CONNECT:
            if (o->nconnect == APP_MAX_CONNECT) {
                fprintf(stderr, "mos-dash: at most %d --connect\n", APP_MAX_CONNECT);
                return 2;
            }
            o->connect[o->nconnect++] = optarg;
            break;
        case O_RUN_DIR: o->run_dir = optarg; break;
        case O_REPLAY: o->replay = optarg; break;
        case O_THEME: o->theme = optarg; break;
        case O_NO_MOUSE: o->crt.mouse = 0; break;
        case O_NO_COLOR: o->crt.no_color = 1; break;
        case O_UTF8: o->crt.force_utf8 = 1; break;
        case O_WAIT:
            if (parse_ms("--wait", optarg, 0, 600000, &o->wait_ms) != 0)
                return 2;
            break;
        case O_REFRESH:
            if (parse_ms("--refresh", optarg, 20, 10000, &o->refresh_ms) != 0)
                return 2;
            break;
        case O_GLYPHS:
            if (parse_glyphs(optarg, &o->crt.glyphs) != 0) {
                fprintf(stderr, "mos-dash: --glyphs %s: expected braille, block or ascii\n",
                        optarg);
                return 2;
            }
            break;
        case O_KEYS: keymap_print_markdown(); return -1;
        case O_HELP: usage(stdout); return -1;
        default: fprintf(stderr, "mos-dash: see mos-dash --help\n"); return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "mos-dash: unexpected argument '%s' (see --help)\n", argv[optind]);
        return 2;
    }
    return 0;
}

int main(int argc, char **argv)
{
    AppOptions o = { .crt = { .mouse = 1, .glyphs = CRT_GLYPHS_AUTO }, .wait_ms = 1500,
                     .refresh_ms = APP_REFRESH_MS };
    int rc = parse_args(argc, argv, &o);
    if (rc != 0)
        return rc < 0 ? 0 : rc;
    char err[1024];
    App *a = NULL;
    /* ZeroMQ's I/O threads inherit the signal mask: block the signals the app waits for while
     * they are created, so SIGWINCH and the quit signals interrupt the main thread's poll. */
    sigset_t mask, old;
    sigemptyset(&mask);
    sigaddset(&mask, SIGWINCH);
    sigaddset(&mask, SIGINT);
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &mask, &old);
    rc = app_new(&a, &o, err, sizeof err);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0) {
        fprintf(stderr, "mos-dash: %s\n", err);
        return 1;
    }
    rc = app_run(a);
    app_destroy(&a);
    return rc;
}
