/* Sockets for real: two-frame PUB/SUB and DEALER/ROUTER round trips over inproc, ipc and tcp
 * loopback; a flood to a subscriber that never reads does not block the publisher and shows up
 * as seq gaps; the bind policy; endpoints.json and the private socket directory; CURVE with the
 * ZAP allow-list (an unlisted key gets nothing, a listed one works); key files. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "msg.h"
#include "wire.h"

static char tmpdir[256];

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int setup(void **state)
{
    (void)state;
    snprintf(tmpdir, sizeof tmpdir, "/tmp/mos-test-wire-XXXXXX");
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

static void encode_log(Msg *m, int64_t seq, MsgBuf *b)
{
    ProtoErr e;
    memset(m, 0, sizeof *m);
    m->type = MSG_LOG;
    m->seq = seq;
    m->ts = 1.5;
    snprintf(m->worker, sizeof m->worker, "w");
    snprintf(m->u.log.level, sizeof m->u.log.level, "info");
    snprintf(m->u.log.text, sizeof m->u.log.text, "line %lld", (long long)seq);
    assert_int_equal(msg_encode(m, b, &e), 0);
}

/* Publishes probes until the subscriber hears one (no sleeps: the slow-joiner handshake). */
static void join(void *pub, void *sub)
{
    WireFrames f;
    for (int i = 0; i < 500; i++) {
        assert_int_equal(wire_publish(pub, "probe", "x", 1), 0);
        if (wire_recv(sub, &f, 10, NULL) > 0) {
            wire_frames_close(&f);
            return;
        }
    }
    fail_msg("subscriber never joined");
}

static void drain(void *sub)
{
    WireFrames f;
    while (wire_recv(sub, &f, 20, NULL) > 0)
        wire_frames_close(&f);
}

static void pubsub_and_dealer_router(void *ctx, const char *pub_ep, const char *ctl_ep)
{
    ProtoErr e = { "" };
    char ep1[WIRE_EP_MAX], ep2[WIRE_EP_MAX];
    void *pub = wire_bind(ctx, ZMQ_PUB, pub_ep, NULL, &e);
    void *router = wire_bind(ctx, ZMQ_ROUTER, ctl_ep, NULL, &e);
    if (!pub || !router)
        fail_msg("bind: %s", e.msg);
    assert_int_equal(wire_last_endpoint(pub, ep1, sizeof ep1), 0);
    assert_int_equal(wire_last_endpoint(router, ep2, sizeof ep2), 0);
    void *sub = wire_connect(ctx, ZMQ_SUB, ep1, NULL, &e);
    void *dealer = wire_connect(ctx, ZMQ_DEALER, ep2, NULL, &e);
    assert_non_null(sub);
    assert_non_null(dealer);
    join(pub, sub);
    drain(sub);
    Msg *m = malloc(sizeof *m), *out = malloc(sizeof *out);
    MsgBuf b;
    msg_buf_init(&b);
    encode_log(m, 7, &b);
    assert_int_equal(wire_publish(pub, msg_type_name(m->type), b.data, b.len), 0);
    WireFrames f;
    assert_int_equal(wire_recv(sub, &f, 2000, &e), 1);
    assert_int_equal(f.n, 2);
    assert_int_equal(wire_frame_size(&f, 0), 3);
    assert_memory_equal(wire_frame_data(&f, 0), "log", 3);
    assert_int_equal(msg_decode(wire_frame_data(&f, 1), wire_frame_size(&f, 1), out, &e), 0);
    assert_string_equal(out->u.log.text, "line 7");
    wire_frames_close(&f);
    /* a command and its reply */
    Cmd c = { .kind = CMD_TARGET, .args = { .id = 41, .has_target_ms = true, .target_ms = 90 } };
    assert_int_equal(msg_cmd_encode(&c, &b, &e), 0);
    assert_int_equal(wire_send_body(dealer, b.data, b.len), 0);
    assert_int_equal(wire_recv(router, &f, 2000, &e), 1);
    assert_int_equal(f.n, 2);
    Cmd got;
    assert_int_equal(msg_cmd_decode(wire_frame_data(&f, 1), wire_frame_size(&f, 1), &got, &e),
                     PROTO_OK);
    assert_int_equal(got.kind, CMD_TARGET);
    MsgReply *r = calloc(1, sizeof *r);
    r->id = got.args.id;
    r->ok = true;
    assert_int_equal(msg_reply_encode(r, &b, &e), 0);
    assert_int_equal(wire_send_routed(router, wire_frame_data(&f, 0), wire_frame_size(&f, 0),
                                      b.data, b.len), 0);
    wire_frames_close(&f);
    assert_int_equal(wire_recv(dealer, &f, 2000, &e), 1);
    assert_int_equal(msg_reply_decode(wire_frame_data(&f, 0), wire_frame_size(&f, 0), r, &e), 0);
    assert_int_equal(r->id, 41);
    assert_true(r->ok);
    wire_frames_close(&f);
    free(r);
    free(m);
    free(out);
    msg_buf_done(&b);
    wire_close(&sub);
    wire_close(&dealer);
    wire_close(&pub);
    wire_close(&router);
}

static void round_trips_on_every_transport(void **state)
{
    (void)state;
    void *ctx = zmq_ctx_new();
    char pub_ep[300], ctl_ep[300];
    pubsub_and_dealer_router(ctx, "inproc://pub", "inproc://ctl");
    snprintf(pub_ep, sizeof pub_ep, "ipc://%s/t.pub", tmpdir);
    snprintf(ctl_ep, sizeof ctl_ep, "ipc://%s/t.ctl", tmpdir);
    pubsub_and_dealer_router(ctx, pub_ep, ctl_ep);
    pubsub_and_dealer_router(ctx, "tcp://127.0.0.1:*", "tcp://127.0.0.1:*");
    zmq_ctx_term(ctx);
}

/* A subscriber that never reads: 100k publishes all return at once (0 = handed to zmq, which
 * drops per subscriber at the HWM); the subscriber then sees a gap in seq (counted drops). */
static void stalled_subscriber_never_blocks_the_publisher(void **state)
{
    (void)state;
    void *ctx = zmq_ctx_new();
    ProtoErr e = { "" };
    char ep[WIRE_EP_MAX];
    void *pub = wire_bind(ctx, ZMQ_PUB, "tcp://127.0.0.1:*", NULL, &e);
    assert_non_null(pub);
    wire_last_endpoint(pub, ep, sizeof ep);
    void *sub = wire_connect(ctx, ZMQ_SUB, ep, NULL, &e);
    join(pub, sub);
    drain(sub);
    Msg *m = malloc(sizeof *m), *out = malloc(sizeof *out);
    MsgBuf b;
    msg_buf_init(&b);
    const int N = 100000;
    double t0 = now_ms(), worst = 0;
    for (int i = 1; i <= N; i++) {
        encode_log(m, i, &b);
        double t = now_ms();
        assert_int_equal(wire_publish(pub, "log", b.data, b.len), 0);
        double dt = now_ms() - t;
        worst = dt > worst ? dt : worst;
    }
    double total = now_ms() - t0;
    print_message("100000 publishes to a stalled subscriber: %.0f ms total, worst %.2f ms\n",
                  total, worst);
    assert_true(worst < 1000.0);     /* a blocking send would hang; this is scheduling noise */
    WireFrames f;
    long got = 0, gaps = 0;
    int64_t last = 0;
    /* zmq drops the tail that did not fit; the next message after the stall reveals it */
    for (int round = 0; round < 2; round++) {
        if (round == 1) {
            encode_log(m, N + 1, &b);
            assert_int_equal(wire_publish(pub, "log", b.data, b.len), 0);
        }
        while (wire_recv(sub, &f, 200, &e) > 0) {
            if (f.n == 2 &&
                msg_decode(wire_frame_data(&f, 1), wire_frame_size(&f, 1), out, &e) == 0) {
                gaps += out->seq != last + 1;
                last = out->seq;
                got++;
            }
            wire_frames_close(&f);
        }
    }
    assert_int_equal(last, N + 1);
    print_message("subscriber got %ld of %d, %ld gaps\n", got, N, gaps);
    assert_true(got > 0 && got < N + 1);
    assert_true(gaps > 0);
    free(m);
    free(out);
    msg_buf_done(&b);
    wire_close(&sub);
    wire_close(&pub);
    zmq_ctx_term(ctx);
}

static void bind_policy(void **state)
{
    (void)state;
    ProtoErr e = { "" };
    const char *ok[] = { "tcp://127.0.0.1:5555", "tcp://127.1.2.3:*", "tcp://[::1]:9",
                         "tcp://localhost:1", "ipc:///tmp/x", "inproc://a" };
    const char *bad[] = { "tcp://0.0.0.0:5555", "tcp://*:5555", "tcp://10.0.0.1:1",
                          "tcp://eth0:1", "tcp://127.0.0.1.evil.com:1", "tcp://127.0.0:1",
                          "ipc://@abstract", "pgm://eth0;239.1.1.1:5555", "tcp://nocolon" };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++)
        if (wire_bind_allowed(ok[i], false, &e) != 0)
            fail_msg("%s refused: %s", ok[i], e.msg);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (wire_bind_allowed(bad[i], false, &e) == 0)
            fail_msg("%s allowed without keys", bad[i]);
    assert_int_equal(wire_bind_allowed("tcp://0.0.0.0:5555", true, &e), 0);
    void *ctx = zmq_ctx_new();
    assert_null(wire_bind(ctx, ZMQ_PUB, "tcp://0.0.0.0:*", NULL, &e));
    assert_non_null(strstr(e.msg, "refusing to bind tcp://0.0.0.0:*"));
    zmq_ctx_term(ctx);
}

static void endpoints_file_and_private_dir(void **state)
{
    (void)state;
    ProtoErr e = { "" };
    char xdg[300], dir[400];
    snprintf(xdg, sizeof xdg, "%s/xdg", tmpdir);
    mkdir(xdg, 0700);
    setenv("XDG_RUNTIME_DIR", xdg, 1);
    WireEndpoints ep, back;
    assert_int_equal(wire_default_endpoints(&ep, &e), 0);
    snprintf(dir, sizeof dir, "%s/mos-%ld", xdg, (long)getuid());
    struct stat st;
    assert_int_equal(stat(dir, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0700);
    assert_non_null(strstr(ep.pub, dir));
    snprintf(ep.server_key, sizeof ep.server_key, "%s", "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7");
    assert_int_equal(wire_endpoints_write(tmpdir, &ep, &e), 0);
    assert_int_equal(wire_endpoints_read(tmpdir, &back, &e), 0);
    assert_string_equal(back.pub, ep.pub);
    assert_string_equal(back.ctl, ep.ctl);
    assert_string_equal(back.server_key, ep.server_key);
    assert_int_equal(back.pid, getpid());
    chmod(dir, 0755);                                   /* a shared directory is refused */
    assert_int_equal(wire_default_endpoints(&ep, &e), -1);
    assert_non_null(strstr(e.msg, "not private"));
    chmod(dir, 0700);
    char bad[300];
    memset(dir, 0, sizeof dir);
    snprintf(bad, sizeof bad, "%s/bad", tmpdir);
    mkdir(bad, 0700);
    FILE *f = fopen(strcat(strcpy(dir, bad), "/endpoints.json"), "w");
    fputs("{\"pub\": 3}", f);
    fclose(f);
    assert_int_equal(wire_endpoints_read(bad, &back, &e), -1);
    assert_non_null(strstr(e.msg, "\"pub\" missing or not a string"));
    unsetenv("XDG_RUNTIME_DIR");
}

static void key_path(char *out, size_t n, const char *name)
{
    snprintf(out, n, "%s/%s", tmpdir, name);
}

static void key_files(void **state)
{
    (void)state;
    ProtoErr e = { "" };
    char sec[300], pub[300];
    key_path(sec, sizeof sec, "k.key");
    key_path(pub, sizeof pub, "k.pub");
    assert_int_equal(wire_curve_keygen(sec, pub, &e), 0);
    assert_int_equal(wire_curve_keygen(sec, pub, &e), -1);       /* never overwrites */
    assert_non_null(strstr(e.msg, "refusing to overwrite"));
    WireCurve c;
    char p2[WIRE_KEY_LEN + 1];
    assert_int_equal(wire_curve_load(sec, &c, &e), 0);
    assert_int_equal(wire_curve_read_public(pub, p2, &e), 0);
    assert_string_equal(p2, c.public_key);
    chmod(sec, 0644);
    assert_int_equal(wire_curve_load(sec, &c, &e), -1);
    assert_non_null(strstr(e.msg, "readable by others"));
}

/* Server ROUTER + PUB with CURVE and the ZAP allow-list; `allowed` is in the list, `other` is
 * not. Each client sends a status command and listens on SUB. */
static bool curve_client_works(void *ctx, const char *pub_ep, const char *ctl_ep, void *pub,
                               void *router, const WireCurve *cc, int tries)
{
    ProtoErr e = { "" };
    void *sub = wire_connect(ctx, ZMQ_SUB, pub_ep, cc, &e);
    void *dealer = wire_connect(ctx, ZMQ_DEALER, ctl_ep, cc, &e);
    assert_non_null(sub);
    assert_non_null(dealer);
    MsgBuf b;
    msg_buf_init(&b);
    Cmd c = { .kind = CMD_STATUS, .args = { .id = 5 } };
    assert_int_equal(msg_cmd_encode(&c, &b, &e), 0);
    wire_send_body(dealer, b.data, b.len);
    bool heard = false, commanded = false;
    WireFrames f;
    for (int i = 0; i < tries && !(heard && commanded); i++) {
        wire_publish(pub, "log", "x", 1);
        if (wire_recv(router, &f, 5, &e) > 0) {
            commanded = true;
            wire_send_routed(router, wire_frame_data(&f, 0), wire_frame_size(&f, 0), "ok", 2);
            wire_frames_close(&f);
        }
        if (wire_recv(sub, &f, 5, &e) > 0) {
            heard = true;
            wire_frames_close(&f);
        }
    }
    msg_buf_done(&b);
    wire_close(&sub);
    wire_close(&dealer);
    assert_true(heard == commanded);
    return heard && commanded;
}

static void curve_allow_list(void **state)
{
    (void)state;
    ProtoErr e = { "" };
    char sk[300], sp[300], ak[300], ap[300], ok2[300], op[300], allow[300];
    key_path(sk, sizeof sk, "server.key"), key_path(sp, sizeof sp, "server.pub");
    key_path(ak, sizeof ak, "alice.key"), key_path(ap, sizeof ap, "alice.pub");
    key_path(ok2, sizeof ok2, "mallory.key"), key_path(op, sizeof op, "mallory.pub");
    key_path(allow, sizeof allow, "allowed_keys");
    WireCurve server, alice, mallory;
    memset(&server, 0, sizeof server), memset(&alice, 0, sizeof alice);
    memset(&mallory, 0, sizeof mallory);
    assert_int_equal(wire_curve_keygen(sk, sp, &e) | wire_curve_keygen(ak, ap, &e) |
                     wire_curve_keygen(ok2, op, &e), 0);
    assert_int_equal(wire_curve_load(sk, &server, &e) | wire_curve_load(ak, &alice, &e) |
                     wire_curve_load(ok2, &mallory, &e), 0);
    memcpy(alice.server_key, server.public_key, sizeof alice.server_key);
    memcpy(mallory.server_key, server.public_key, sizeof mallory.server_key);
    FILE *f = fopen(allow, "w");
    fprintf(f, "# allowed dashboards\n\n  %s alice@laptop\n", alice.public_key);
    fclose(f);
    void *ctx = zmq_ctx_new();
    WireZap *zap;
    assert_int_equal(wire_zap_start(ctx, allow, &zap, &e), 0);
    void *pub = wire_bind(ctx, ZMQ_PUB, "tcp://127.0.0.1:*", &server, &e);
    void *router = wire_bind(ctx, ZMQ_ROUTER, "tcp://127.0.0.1:*", &server, &e);
    assert_non_null(pub);
    assert_non_null(router);
    char pub_ep[WIRE_EP_MAX], ctl_ep[WIRE_EP_MAX];
    wire_last_endpoint(pub, pub_ep, sizeof pub_ep);
    wire_last_endpoint(router, ctl_ep, sizeof ctl_ep);
    assert_false(curve_client_works(ctx, pub_ep, ctl_ep, pub, router, &mallory, 150));
    assert_true(wire_zap_denied(zap) >= 1);
    char who[WIRE_KEY_LEN + 1], addr[64];
    assert_int_equal(wire_zap_take_denied(zap, who, addr, sizeof addr), 1);
    assert_string_equal(who, mallory.public_key);
    assert_string_equal(addr, "127.0.0.1");
    assert_int_equal(wire_zap_take_denied(zap, who, addr, sizeof addr), 0);
    assert_false(curve_client_works(ctx, pub_ep, ctl_ep, pub, router, NULL, 150));  /* plain */
    assert_true(curve_client_works(ctx, pub_ep, ctl_ep, pub, router, &alice, 1000));
    assert_true(wire_zap_accepted(zap) >= 1);
    wire_close(&pub);
    wire_close(&router);
    wire_zap_stop(&zap);
    zmq_ctx_term(ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(round_trips_on_every_transport),
        cmocka_unit_test(stalled_subscriber_never_blocks_the_publisher),
        cmocka_unit_test(bind_policy),
        cmocka_unit_test(endpoints_file_and_private_dir),
        cmocka_unit_test(key_files),
        cmocka_unit_test(curve_allow_list),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
