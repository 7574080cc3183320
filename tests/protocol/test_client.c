/* The Clone-pattern client against a real peer process (proto_peer): a late join gets a
 * snapshot and then every update in order; an injected seq gap and a worker restart each lead
 * to a new snapshot, never to an out-of-order update; client_call gets a status reply, and
 * times out cleanly when nobody listens. */
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "client.h"

static char tmpdir[128];
static pid_t peer_pid;

static pid_t spawn_peer(const char *gap_at, const char *restart_at)
{
    char peer[512];
    snprintf(peer, sizeof peer, "%s/tests/protocol/proto_peer", getenv("MOS_BUILD_ROOT"));
    pid_t pid = fork();
    if (pid == 0) {
        setenv("XDG_RUNTIME_DIR", tmpdir, 1);
        execl(peer, peer, "--run-dir", tmpdir, "--period-ms", "2", "--seconds", "20",
              "--gap-at", gap_at, "--restart-at", restart_at, (char *)NULL);
        _exit(127);
    }
    return pid;
}

static void wait_endpoints(WireEndpoints *ep, pid_t pid)
{
    ProtoErr e;
    for (int i = 0; i < 500; i++) {
        if (wire_endpoints_read(tmpdir, ep, &e) == 0 && ep->pid == pid)
            return;
        usleep(10000);
    }
    fail_msg("peer never wrote endpoints.json: %s", e.msg);
}

static int setup(void **state)
{
    (void)state;
    snprintf(tmpdir, sizeof tmpdir, "/tmp/mos-test-client-XXXXXX");
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[200];
    if (peer_pid > 0) {
        kill(peer_pid, SIGKILL);
        waitpid(peer_pid, NULL, 0);
    }
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void late_join_gap_and_restart(void **state)
{
    (void)state;
    remove(strcat(strcpy((char[256]){0}, tmpdir), "/endpoints.json"));
    peer_pid = spawn_peer("400", "900");   /* seq 400 is skipped; restart at 900 */
    WireEndpoints ep;
    wait_endpoints(&ep, peer_pid);
    usleep(200000);                        /* join late: the peer has published already */
    void *ctx = zmq_ctx_new();
    Client *c;
    ProtoErr e = { "" };
    assert_int_equal(client_new(ctx, &ep, NULL, &c, &e), 0);
    int64_t last = -1;
    long snapshots = 0, msgs = 0, after_restart = 0;
    char worker[PROTO_NAME_MAX + 1] = "";
    double end = now_s() + 15;
    while (now_s() < end && after_restart < 200) {
        ClientEv ev;
        assert_int_equal(client_poll(c, 100, &ev, &e), 0);
        if (ev == CLIENT_EV_SNAPSHOT) {
            snapshots++;
            last = client_reply(c)->snapshot.seq;
            snprintf(worker, sizeof worker, "%s", client_reply(c)->snapshot.worker);
        } else if (ev == CLIENT_EV_MSG) {
            const Msg *m = client_msg(c);
            assert_true(last >= 0);                         /* never before a snapshot */
            assert_int_equal(m->seq, last + 1);             /* in order, no holes */
            assert_string_equal(m->worker, worker);
            last = m->seq;
            msgs++;
            after_restart += strstr(worker, "restarted") != NULL;
        }
    }
    ClientStats st = client_stats(c);
    print_message("snapshots %ld, updates %ld, gaps %ld, stale dropped %ld, bad %ld\n",
                  snapshots, msgs, st.gaps, st.stale_dropped, st.bad);
    assert_true(after_restart >= 200);      /* followed the restarted worker */
    assert_true(snapshots >= 3);            /* first, after the gap, after the restart */
    assert_true(st.gaps >= 1);
    assert_int_equal(st.bad, 0);
    assert_false(client_stale(c));
    /* a command through the same client */
    Cmd cmd = { .kind = CMD_PAUSE };
    int64_t id = client_command(c, &cmd, &e);
    assert_true(id > 0);
    bool replied = false;
    for (int i = 0; i < 100 && !replied; i++) {
        ClientEv ev;
        assert_int_equal(client_poll(c, 50, &ev, &e), 0);
        replied = ev == CLIENT_EV_REPLY && client_reply(c)->id == id && client_reply(c)->ok;
    }
    assert_true(replied);
    client_destroy(&c);
    assert_null(c);
    /* one-shot call */
    MsgReply *r = malloc(sizeof *r);
    Cmd st_cmd = { .kind = CMD_STATUS, .args = { .id = 77 } };
    assert_int_equal(client_call(ctx, &ep, NULL, &st_cmd, r, 3000, &e), 0);
    assert_true(r->ok && r->has_status && r->id == 77);
    free(r);
    zmq_ctx_term(ctx);
}

/* A client started before its worker: nothing piles up while the worker is away (one snapshot
 * request reaches it, not one per retry), and it syncs within a second of the worker binding. */
static void client_waits_for_a_late_worker(void **state)
{
    (void)state;
    WireEndpoints ep;
    memset(&ep, 0, sizeof ep);
    snprintf(ep.pub, sizeof ep.pub, "ipc://%s/late.pub", tmpdir);
    snprintf(ep.ctl, sizeof ep.ctl, "ipc://%s/late.ctl", tmpdir);
    void *ctx = zmq_ctx_new();
    Client *c;
    ProtoErr e = { "" };
    ClientEv ev;
    assert_int_equal(client_new(ctx, &ep, NULL, &c, &e), 0);
    double t0 = now_s();
    while (now_s() - t0 < 2.5) {                      /* past one snapshot retry period */
        assert_int_equal(client_poll(c, 50, &ev, &e), 0);
        assert_int_equal(ev, CLIENT_EV_NONE);
    }
    assert_false(client_synced(c));
    void *router = wire_bind(ctx, ZMQ_ROUTER, ep.ctl, NULL, &e);
    void *pub = wire_bind(ctx, ZMQ_PUB, ep.pub, NULL, &e);
    assert_non_null(router);
    assert_non_null(pub);
    double bound = now_s();
    int requests = 0;
    MsgReply *r = calloc(1, sizeof *r);
    MsgBuf b;
    msg_buf_init(&b);
    while (!client_synced(c) && now_s() - bound < 5) {
        assert_int_equal(client_poll(c, 10, &ev, &e), 0);
        WireFrames f;
        while (wire_recv(router, &f, 0, &e) > 0) {
            Cmd cmd;
            assert_int_equal(msg_cmd_decode(wire_frame_data(&f, 1), wire_frame_size(&f, 1),
                                            &cmd, &e), PROTO_OK);
            requests += cmd.kind == CMD_SNAPSHOT;
            *r = (MsgReply){ .id = cmd.args.id, .ok = true, .has_snapshot = true };
            r->snapshot.seq = 5;
            snprintf(r->snapshot.worker, sizeof r->snapshot.worker, "late");
            assert_int_equal(msg_reply_encode(r, &b, &e), 0);
            wire_send_routed(router, wire_frame_data(&f, 0), wire_frame_size(&f, 0), b.data,
                             b.len);
            wire_frames_close(&f);
        }
    }
    print_message("synced %.0f ms after the worker bound, %d snapshot request(s)\n",
                  (now_s() - bound) * 1e3, requests);
    assert_true(client_synced(c));
    assert_true(now_s() - bound < 1.5);
    assert_int_equal(requests, 1);
    assert_int_equal(client_last_seq(c), 5);
    free(r);
    msg_buf_done(&b);
    client_destroy(&c);
    wire_close(&router);
    wire_close(&pub);
    zmq_ctx_term(ctx);
}

static void call_times_out_without_a_worker(void **state)
{
    (void)state;
    WireEndpoints ep = { .pub = "", .ctl = "" };
    snprintf(ep.ctl, sizeof ep.ctl, "ipc://%s/nobody.ctl", tmpdir);
    void *ctx = zmq_ctx_new();
    MsgReply *r = malloc(sizeof *r);
    ProtoErr e = { "" };
    Cmd cmd = { .kind = CMD_STATUS, .args = { .id = 1 } };
    double t0 = now_s();
    assert_int_equal(client_call(ctx, &ep, NULL, &cmd, r, 300, &e), -1);
    assert_true(now_s() - t0 < 2.0);
    assert_non_null(strstr(e.msg, "no reply"));
    free(r);
    zmq_ctx_term(ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(late_join_gap_and_restart),
        cmocka_unit_test(client_waits_for_a_late_worker),
        cmocka_unit_test(call_times_out_without_a_worker),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
