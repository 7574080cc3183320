/* ZeroMQ helpers for the mos protocol: sockets with safe options (LINGER, HWM, max message
 * size), the bind policy (ipc in a private directory or loopback tcp; anything else only with
 * CURVE), CURVE key files, a ZAP allow-list handler, endpoints.json, and framed send/receive
 * (topic + body on PUB/SUB, one body frame on DEALER/ROUTER after the routing id).
 * Does not know message contents (msg.h) or client logic (client.h). One thread per socket. */
#ifndef MOS_PROTOCOL_WIRE_H
#define MOS_PROTOCOL_WIRE_H

#include <stdbool.h>
#include <stddef.h>

#include <zmq.h>

#include "msg.h"

#define WIRE_EP_MAX      256    /* bytes of an endpoint string incl. NUL */
#define WIRE_KEY_LEN     40     /* Z85 text of a 32-byte CURVE key */
#define WIRE_SNDHWM      10000  /* messages queued per peer before PUB drops / DEALER blocks */
#define WIRE_RCVHWM      10000
#define WIRE_LINGER_MS   100    /* pending messages are dropped this long after close */
#define WIRE_FRAMES_MAX  4

/* Where a worker listens. server_key is the worker's CURVE public key ("" when plain). */
typedef struct WireEndpoints {
    char pub[WIRE_EP_MAX];
    char ctl[WIRE_EP_MAX];
    char server_key[WIRE_KEY_LEN + 1];
    char host[PROTO_NAME_MAX + 1];
    long pid;
} WireEndpoints;

/* CURVE settings. A server (bind side) needs public+secret; a client needs its own
 * public+secret and the server's public key. All Z85 text. */
typedef struct WireCurve {
    char public_key[WIRE_KEY_LEN + 1];
    char secret_key[WIRE_KEY_LEN + 1];
    char server_key[WIRE_KEY_LEN + 1];
} WireCurve;

/* Received frames (close with wire_frames_close). */
typedef struct WireFrames {
    zmq_msg_t part[WIRE_FRAMES_MAX];
    int n;
} WireFrames;

/* ---- endpoints ----------------------------------------------------------------------------- */

/* The private socket directory: $XDG_RUNTIME_DIR/mos-<uid> or else /tmp/mos-<uid>, created
 * mode 0700; refused if it exists but is a symlink, not ours, or group/world accessible. */
int wire_socket_dir(char *out, size_t n, ProtoErr *e);

/* Default endpoints of this process: ipc://<socket dir>/<pid>.pub and .ctl; host and pid set. */
int wire_default_endpoints(WireEndpoints *ep, ProtoErr *e);

/* Checks the bind policy for endpoint: ipc:// (not the abstract @ namespace), inproc://, and
 * tcp:// on a loopback host (127.x.y.z, [::1], localhost) are fine; any other tcp host only
 * when curve is true; other transports never. */
int wire_bind_allowed(const char *endpoint, bool curve, ProtoErr *e);

/* endpoints.json in run_dir: written atomically (temp file, fsync, rename); read back with
 * every field checked. */
int wire_endpoints_write(const char *run_dir, const WireEndpoints *ep, ProtoErr *e);
int wire_endpoints_read(const char *run_dir, WireEndpoints *ep, ProtoErr *e);

/* ---- sockets ------------------------------------------------------------------------------- */

/* Creates a socket of type (ZMQ_PUB, ZMQ_ROUTER, ...) with LINGER, HWMs and ZMQ_MAXMSGSIZE set,
 * CURVE server options when curve is not NULL (ZAP domain "mos"), and binds it after
 * wire_bind_allowed. Returns the socket or NULL with e set. */
void *wire_bind(void *ctx, int type, const char *endpoint, const WireCurve *curve, ProtoErr *e);

/* The same for the connecting side; curve (if not NULL) makes it a CURVE client of
 * curve->server_key. SUB sockets are subscribed to every topic. */
void *wire_connect(void *ctx, int type, const char *endpoint, const WireCurve *curve,
                   ProtoErr *e);

/* Closes a socket (LINGER already set) and nulls the pointer. */
void wire_close(void **sock);

/* The endpoint actually bound (resolves tcp port 0 / "*"), into out. 0 or -1. */
int wire_last_endpoint(void *sock, char *out, size_t n);

/* ---- send / receive ------------------------------------------------------------------------ */

/* Sends the frames [parts[0] .. parts[n-1]] without blocking. Returns 0 when sent, 1 when the
 * socket would block (nothing sent; the caller counts a drop), -1 on another error. A PUB
 * socket never blocks: it drops per subscriber at the HWM, which subscribers see as a seq gap. */
int wire_send(void *sock, const void *const *parts, const size_t *sizes, int n);

/* Convenience: [topic][body] on PUB; [body] on DEALER; [routing id][body] on ROUTER. */
int wire_publish(void *pub, const char *topic, const void *body, size_t n);
int wire_send_body(void *dealer, const void *body, size_t n);
int wire_send_routed(void *router, const void *id, size_t idn, const void *body, size_t n);

/* Waits up to timeout_ms (0: do not wait, -1: forever) for one message and receives all its
 * frames; with 0 it makes one non-blocking receive and no poll call (cheap to call in a loop).
 * Returns 1 with f filled, 0 on timeout, -2 when the message had more than WIRE_FRAMES_MAX
 * frames (drained and discarded: count it as bad input), -1 on a socket error. */
int wire_recv(void *sock, WireFrames *f, int timeout_ms, ProtoErr *e);
void wire_frames_close(WireFrames *f);

static inline const void *wire_frame_data(WireFrames *f, int i)
{
    return zmq_msg_data(&f->part[i]);
}
static inline size_t wire_frame_size(WireFrames *f, int i) { return zmq_msg_size(&f->part[i]); }

/* ---- CURVE and ZAP ------------------------------------------------------------------------- */

/* Generates a keypair: secret_path gets "public = <z85>\nsecret = <z85>\n" (mode 0600) and
 * public_path "<z85>\n". Refuses to overwrite either file. */
int wire_curve_keygen(const char *secret_path, const char *public_path, ProtoErr *e);

/* Loads public_key/secret_key from a secret key file (must not be group/world readable; the
 * public key must match the secret). server_key is left as it was. */
int wire_curve_load(const char *secret_path, WireCurve *c, ProtoErr *e);

/* Reads the first key of a public key file: lines "<z85 key>[ comment]"; other lines (e.g.
 * "# text") are comments. The ZAP allow-list file has the same format. */
int wire_curve_read_public(const char *path, char out[WIRE_KEY_LEN + 1], ProtoErr *e);

/* A ZAP handler (RFC 27) on inproc://zeromq.zap.01 in ctx: a CURVE client is accepted only if
 * its public key is listed in allow_path (re-read on every handshake, so keys can be added
 * without a restart; a missing file denies everyone). NULL-mechanism requests are accepted
 * (plain ipc/loopback sockets), others denied. Start before binding CURVE sockets. */
typedef struct WireZap WireZap;

int  wire_zap_start(void *ctx, const char *allow_path, WireZap **out, ProtoErr *e);
void wire_zap_stop(WireZap **z);       /* joins the thread; call before zmq_ctx_term */
long wire_zap_denied(const WireZap *z);
long wire_zap_accepted(const WireZap *z);

/* The most recent refusal since the last call: the client's Z85 public key ("-" when it did not
 * use CURVE) and its address (e.g. "192.0.2.7"). 1 when there was one, else 0. For the worker's
 * log ("refused client key ... from ..."); safe to call from the worker's thread. */
int wire_zap_take_denied(WireZap *z, char key[WIRE_KEY_LEN + 1], char *addr, size_t addr_n);

#endif
