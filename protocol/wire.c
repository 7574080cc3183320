/* Sockets, the bind policy, endpoints.json and framed send/receive (see wire.h).
 * Deliberately no message knowledge and no retries: callers own their loops.
 * Invariant: every socket made here has LINGER, HWMs and MAXMSGSIZE set before bind/connect. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "msg_internal.h"
#include "wire.h"

/* ---- endpoints ----------------------------------------------------------------------------- */

static int dir_private(const char *dir, ProtoErr *e)
{
    struct stat st;
    if (mkdir(dir, 0700) != 0 && errno != EEXIST)
        return proto_err(e, "cannot create %s: %s", dir, strerror(errno));
    if (lstat(dir, &st) != 0)
        return proto_err(e, "cannot stat %s: %s", dir, strerror(errno));
    if (!S_ISDIR(st.st_mode))
        return proto_err(e, "refusing socket directory %s: not a directory", dir);
    if (st.st_uid != getuid())
        return proto_err(e, "refusing socket directory %s: owned by uid %ld, not %ld", dir,
                         (long)st.st_uid, (long)getuid());
    if ((st.st_mode & 077) != 0)
        return proto_err(e, "refusing socket directory %s: mode %03o is not private (chmod 700)",
                         dir, (unsigned)(st.st_mode & 0777));
    return 0;
}

int wire_socket_dir(char *out, size_t n, ProtoErr *e)
{
    const char *xdg = getenv("XDG_RUNTIME_DIR");
    int k = xdg && xdg[0] == '/'
        ? snprintf(out, n, "%s/mos-%ld", xdg, (long)getuid())
        : snprintf(out, n, "/tmp/mos-%ld", (long)getuid());
    if (k < 0 || (size_t)k >= n)
        return proto_err(e, "socket directory path too long");
    return dir_private(out, e);
}

int wire_default_endpoints(WireEndpoints *ep, ProtoErr *e)
{
    char dir[WIRE_EP_MAX];
    memset(ep, 0, sizeof *ep);
    if (wire_socket_dir(dir, sizeof dir, e) < 0)
        return -1;
    ep->pid = (long)getpid();
    if (gethostname(ep->host, sizeof ep->host - 1) != 0)
        snprintf(ep->host, sizeof ep->host, "localhost");
    int a = snprintf(ep->pub, sizeof ep->pub, "ipc://%s/%ld.pub", dir, ep->pid);
    int b = snprintf(ep->ctl, sizeof ep->ctl, "ipc://%s/%ld.ctl", dir, ep->pid);
    if (a < 0 || b < 0 || a > 6 + 107 || b > 6 + 107)      /* Linux: 107-byte socket paths */
        return proto_err(e, "socket path in %s is longer than 107 bytes: set XDG_RUNTIME_DIR "
                         "to a shorter directory", dir);
    return 0;
}

static bool host_is_loopback(const char *h, size_t n)
{
    if ((n == 9 && memcmp(h, "localhost", 9) == 0) || (n == 5 && memcmp(h, "[::1]", 5) == 0))
        return true;
    if (n < 4 || memcmp(h, "127.", 4) != 0)
        return false;
    int dots = 0;
    for (size_t i = 0; i < n; i++) {
        if (h[i] == '.')
            dots++;
        else if (h[i] < '0' || h[i] > '9')
            return false;
    }
    return dots == 3;
}

int wire_bind_allowed(const char *ep, bool curve, ProtoErr *e)
{
    if (strncmp(ep, "inproc://", 9) == 0)
        return 0;
    if (strncmp(ep, "ipc://", 6) == 0) {
        if (ep[6] == '@' || ep[6] == '\0')
            return proto_err(e, "refusing to bind %s: abstract ipc sockets have no permissions",
                             ep);
        return 0;
    }
    if (strncmp(ep, "tcp://", 6) != 0)
        return proto_err(e, "refusing to bind %s: only ipc:// and tcp:// are supported", ep);
    const char *host = ep + 6, *colon = strrchr(host, ':');
    if (!colon || colon == host)
        return proto_err(e, "bad tcp endpoint %s: expected tcp://HOST:PORT", ep);
    if (host_is_loopback(host, (size_t)(colon - host)) || curve)
        return 0;
    return proto_err(e, "refusing to bind %s: not a loopback address and no CURVE keys "
                     "(use 127.0.0.1 with ssh -L, or give --curve keys and an allow-list)", ep);
}

int wire_endpoints_write(const char *run_dir, const WireEndpoints *ep, ProtoErr *e)
{
    char path[4096], tmp[4200];
    snprintf(path, sizeof path, "%s/endpoints.json", run_dir);
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
    json_t *o = json_pack("{s:i, s:s, s:s, s:s, s:I, s:s}", "v", PROTO_VERSION, "pub", ep->pub,
                          "ctl", ep->ctl, "host", ep->host, "pid", (json_int_t)ep->pid,
                          "server_key", ep->server_key);
    char *text = o ? json_dumps(o, JSON_INDENT(2)) : NULL;
    json_decref(o);
    if (!text)
        return proto_err(e, "%s: cannot format endpoints", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    size_t len = strlen(text);
    bool ok = fd >= 0 && write(fd, text, len) == (ssize_t)len && write(fd, "\n", 1) == 1 &&
              fsync(fd) == 0;
    int err = errno;
    free(text);
    if (fd >= 0)
        close(fd);
    if (!ok || rename(tmp, path) != 0) {
        err = ok ? errno : err;
        unlink(tmp);
        return proto_err(e, "cannot write %s: %s", path, strerror(err));
    }
    return 0;
}

static int json_copy_str(json_t *o, const char *key, char *out, size_t n, bool required,
                         const char *path, ProtoErr *e)
{
    json_t *v = json_object_get(o, key);
    if (!v && !required) {
        out[0] = '\0';
        return 0;
    }
    if (!json_is_string(v))
        return proto_err(e, "%s: \"%s\" missing or not a string", path, key);
    if (json_string_length(v) >= n)
        return proto_err(e, "%s: \"%s\" longer than %zu bytes", path, key, n - 1);
    memcpy(out, json_string_value(v), json_string_length(v) + 1);
    return 0;
}

int wire_endpoints_read(const char *run_dir, WireEndpoints *ep, ProtoErr *e)
{
    char path[4096];
    json_error_t je;
    snprintf(path, sizeof path, "%s/endpoints.json", run_dir);
    memset(ep, 0, sizeof *ep);
    json_t *o = json_load_file(path, 0, &je);
    if (!o)
        return proto_err(e, "%s:%d: %s (is a worker running for this run directory?)", path,
                         je.line, je.text);
    json_t *pid = json_object_get(o, "pid");
    int rc = json_is_object(o) ? 0 : proto_err(e, "%s: expected a JSON object", path);
    if (rc == 0)
        rc = json_copy_str(o, "pub", ep->pub, sizeof ep->pub, true, path, e);
    if (rc == 0)
        rc = json_copy_str(o, "ctl", ep->ctl, sizeof ep->ctl, true, path, e);
    if (rc == 0)
        rc = json_copy_str(o, "host", ep->host, sizeof ep->host, false, path, e);
    if (rc == 0)
        rc = json_copy_str(o, "server_key", ep->server_key, sizeof ep->server_key, false, path,
                           e);
    if (rc == 0 && pid && !json_is_integer(pid))
        rc = proto_err(e, "%s: \"pid\" is not an integer", path);
    if (rc == 0 && pid)
        ep->pid = (long)json_integer_value(pid);
    json_decref(o);
    return rc;
}

/* ---- sockets ------------------------------------------------------------------------------- */

static int set_int(void *s, int opt, int v) { return zmq_setsockopt(s, opt, &v, sizeof v); }

static int sock_options(void *s, const WireCurve *curve, bool server)
{
    int64_t maxsize = (int64_t)PROTO_MSG_MAX + 4096;
    int rc = set_int(s, ZMQ_LINGER, WIRE_LINGER_MS) | set_int(s, ZMQ_SNDHWM, WIRE_SNDHWM) |
             set_int(s, ZMQ_RCVHWM, WIRE_RCVHWM) |
             zmq_setsockopt(s, ZMQ_MAXMSGSIZE, &maxsize, sizeof maxsize);
    if (!curve || rc != 0)
        return rc;
    if (server)
        return set_int(s, ZMQ_CURVE_SERVER, 1) |
               zmq_setsockopt(s, ZMQ_ZAP_DOMAIN, "mos", 3) |
               zmq_setsockopt(s, ZMQ_CURVE_SECRETKEY, curve->secret_key, WIRE_KEY_LEN + 1);
    return zmq_setsockopt(s, ZMQ_CURVE_SERVERKEY, curve->server_key, WIRE_KEY_LEN + 1) |
           zmq_setsockopt(s, ZMQ_CURVE_PUBLICKEY, curve->public_key, WIRE_KEY_LEN + 1) |
           zmq_setsockopt(s, ZMQ_CURVE_SECRETKEY, curve->secret_key, WIRE_KEY_LEN + 1);
}

static void *sock_open(void *ctx, int type, const char *ep, const WireCurve *curve, bool server,
                       ProtoErr *e)
{
    void *s = zmq_socket(ctx, type);
    if (!s) {
        proto_err(e, "%s: cannot create socket: %s", ep, zmq_strerror(zmq_errno()));
        return NULL;
    }
    if (sock_options(s, curve, server) != 0) {
        proto_err(e, "%s: cannot set socket options%s: %s", ep,
                  curve ? " (CURVE keys must be 40-character Z85)" : "",
                  zmq_strerror(zmq_errno()));
        zmq_close(s);
        return NULL;
    }
    return s;
}

void *wire_bind(void *ctx, int type, const char *endpoint, const WireCurve *curve, ProtoErr *e)
{
    if (wire_bind_allowed(endpoint, curve != NULL, e) < 0)
        return NULL;
    void *s = sock_open(ctx, type, endpoint, curve, true, e);
    if (s && zmq_bind(s, endpoint) != 0) {
        proto_err(e, "cannot bind %s: %s", endpoint, zmq_strerror(zmq_errno()));
        wire_close(&s);
    }
    return s;
}

void *wire_connect(void *ctx, int type, const char *endpoint, const WireCurve *curve,
                   ProtoErr *e)
{
    void *s = sock_open(ctx, type, endpoint, curve, false, e);
    if (s && type == ZMQ_SUB && zmq_setsockopt(s, ZMQ_SUBSCRIBE, "", 0) != 0) {
        proto_err(e, "%s: cannot subscribe: %s", endpoint, zmq_strerror(zmq_errno()));
        wire_close(&s);
    }
    if (s && zmq_connect(s, endpoint) != 0) {
        proto_err(e, "cannot connect to %s: %s", endpoint, zmq_strerror(zmq_errno()));
        wire_close(&s);
    }
    return s;
}

void wire_close(void **sock)
{
    if (*sock) {
        set_int(*sock, ZMQ_LINGER, WIRE_LINGER_MS);
        zmq_close(*sock);
        *sock = NULL;
    }
}

int wire_last_endpoint(void *sock, char *out, size_t n)
{
    size_t len = n;
    return zmq_getsockopt(sock, ZMQ_LAST_ENDPOINT, out, &len) == 0 ? 0 : -1;
}

/* ---- send / receive ------------------------------------------------------------------------ */

int wire_send(void *sock, const void *const *parts, const size_t *sizes, int n)
{
    for (int i = 0; i < n; i++) {
        int flags = ZMQ_DONTWAIT | (i + 1 < n ? ZMQ_SNDMORE : 0);
        if (zmq_send(sock, parts[i], sizes[i], flags) < 0) {
            /* Only the first frame can block: zmq queues the rest of a started message. */
            return zmq_errno() == EAGAIN && i == 0 ? 1 : -1;
        }
    }
    return 0;
}

int wire_publish(void *pub, const char *topic, const void *body, size_t n)
{
    const void *parts[2] = { topic, body };
    size_t sizes[2] = { strlen(topic), n };
    return wire_send(pub, parts, sizes, 2);
}

int wire_send_body(void *dealer, const void *body, size_t n)
{
    return wire_send(dealer, &body, &n, 1);
}

int wire_send_routed(void *router, const void *id, size_t idn, const void *body, size_t n)
{
    const void *parts[2] = { id, body };
    size_t sizes[2] = { idn, n };
    return wire_send(router, parts, sizes, 2);
}

static void drain_rest(void *sock)
{
    int more = 1;
    size_t len = sizeof more;
    while (zmq_getsockopt(sock, ZMQ_RCVMORE, &more, &len) == 0 && more) {
        zmq_msg_t m;
        zmq_msg_init(&m);
        int rc = zmq_msg_recv(&m, sock, ZMQ_DONTWAIT);
        zmq_msg_close(&m);
        if (rc < 0)
            break;
    }
}

int wire_recv(void *sock, WireFrames *f, int timeout_ms, ProtoErr *e)
{
    zmq_pollitem_t item = { .socket = sock, .events = ZMQ_POLLIN };
    f->n = 0;
    if (timeout_ms != 0) {   /* 0: straight to the non-blocking receive, no poll round */
        int rc = zmq_poll(&item, 1, timeout_ms);
        if (rc < 0)
            return zmq_errno() == EINTR ? 0
                                        : proto_err(e, "poll: %s", zmq_strerror(zmq_errno()));
        if (rc == 0 || !(item.revents & ZMQ_POLLIN))
            return 0;
    }
    for (;;) {
        if (f->n == WIRE_FRAMES_MAX) {
            drain_rest(sock);
            wire_frames_close(f);
            return proto_err(e, "message with more than %d frames dropped", WIRE_FRAMES_MAX),
                   -2;
        }
        zmq_msg_t *m = &f->part[f->n];
        zmq_msg_init(m);
        if (zmq_msg_recv(m, sock, ZMQ_DONTWAIT) < 0) {
            int err = zmq_errno();
            zmq_msg_close(m);
            wire_frames_close(f);
            return err == EAGAIN ? 0 : proto_err(e, "recv: %s", zmq_strerror(err));
        }
        f->n++;
        if (!zmq_msg_more(m))
            return 1;
    }
}

void wire_frames_close(WireFrames *f)
{
    for (int i = 0; i < f->n; i++)
        zmq_msg_close(&f->part[i]);
    f->n = 0;
}
