/* CURVE key files and the ZAP allow-list handler (RFC 27) (see wire.h). Debian's libzmq 4.3.4
 * lets any CURVE client in when no ZAP handler is bound, so a CURVE server must run one.
 * Does not manage keys beyond reading and generating files. Invariant: only keys listed in the
 * allow-list file at handshake time are accepted; any read error denies. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "msg_internal.h"
#include "wire.h"

static bool z85_key_ok(const char *s, size_t n)
{
    uint8_t raw[32];
    char tmp[WIRE_KEY_LEN + 1];
    if (n != WIRE_KEY_LEN)
        return false;
    memcpy(tmp, s, WIRE_KEY_LEN);
    tmp[WIRE_KEY_LEN] = '\0';
    return zmq_z85_decode(raw, tmp) != NULL;
}

static int write_new(const char *path, const char *text, mode_t mode, ProtoErr *e)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, mode);
    if (fd < 0)
        return proto_err(e, "cannot create %s: %s%s", path, strerror(errno),
                         errno == EEXIST ? " (refusing to overwrite a key)" : "");
    size_t n = strlen(text);
    bool ok = write(fd, text, n) == (ssize_t)n && fsync(fd) == 0;
    int err = errno;
    close(fd);
    return ok ? 0 : proto_err(e, "cannot write %s: %s", path, strerror(err));
}

int wire_curve_keygen(const char *secret_path, const char *public_path, ProtoErr *e)
{
    char pub[WIRE_KEY_LEN + 1], sec[WIRE_KEY_LEN + 1], text[160];
    if (zmq_curve_keypair(pub, sec) != 0)
        return proto_err(e, "zmq_curve_keypair: %s (libzmq without CURVE?)",
                         zmq_strerror(zmq_errno()));
    if (access(public_path, F_OK) == 0)
        return proto_err(e, "cannot create %s: exists (refusing to overwrite a key)",
                         public_path);
    snprintf(text, sizeof text, "# mos CURVE secret key: keep private\npublic = %s\n"
             "secret = %s\n", pub, sec);
    if (write_new(secret_path, text, 0600, e) < 0)
        return -1;
    snprintf(text, sizeof text, "%s\n", pub);
    return write_new(public_path, text, 0644, e);
}

/* Reads "name = value" from a secret key file. Z85 keys may contain '=', ' ' is the only
 * separator allowed around the '='. */
static int kv_get(const char *text, const char *name, char out[WIRE_KEY_LEN + 1])
{
    size_t nl = strlen(name);
    for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
        if (strncmp(p, name, nl) != 0)
            continue;
        const char *v = p + nl;
        while (*v == ' ')
            v++;
        if (*v++ != '=')
            return -1;
        while (*v == ' ')
            v++;
        size_t n = strcspn(v, " \t\r\n");
        if (!z85_key_ok(v, n))
            return -1;
        memcpy(out, v, WIRE_KEY_LEN);
        out[WIRE_KEY_LEN] = '\0';
        return 0;
    }
    return -1;
}

static int read_small(const char *path, char *buf, size_t n, ProtoErr *e)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return proto_err(e, "cannot open %s: %s", path, strerror(errno));
    size_t k = fread(buf, 1, n - 1, f);
    buf[k] = '\0';
    fclose(f);
    return 0;
}

int wire_curve_load(const char *secret_path, WireCurve *c, ProtoErr *e)
{
    char text[1024], derived[WIRE_KEY_LEN + 1];
    struct stat st;
    if (stat(secret_path, &st) != 0)
        return proto_err(e, "cannot open %s: %s", secret_path, strerror(errno));
    if ((st.st_mode & 077) != 0)
        return proto_err(e, "%s: secret key is readable by others (chmod 600)", secret_path);
    if (read_small(secret_path, text, sizeof text, e) < 0)
        return -1;
    if (kv_get(text, "public", c->public_key) < 0 || kv_get(text, "secret", c->secret_key) < 0)
        return proto_err(e, "%s: expected lines 'public = <z85>' and 'secret = <z85>'",
                         secret_path);
    if (zmq_curve_public(derived, c->secret_key) != 0 || strcmp(derived, c->public_key) != 0)
        return proto_err(e, "%s: the public key does not belong to the secret key",
                         secret_path);
    return 0;
}

/* First Z85 key of a line-oriented key file at or after *pos; 1 found, 0 at the end. A line
 * whose first word is a 40-character Z85 key lists that key (the rest is a comment); any other
 * line is a comment. ('#' is a Z85 digit, so write comments as "# text", with a space.) */
static int next_key(const char *text, size_t *pos, char out[WIRE_KEY_LEN + 1])
{
    while (text[*pos]) {
        const char *line = text + *pos;
        size_t len = strcspn(line, "\n");
        *pos += len + (line[len] == '\n');
        while (len && (*line == ' ' || *line == '\t'))
            line++, len--;
        size_t n = strcspn(line, " \t\r\n");
        if (n > len || !z85_key_ok(line, n))
            continue;
        memcpy(out, line, WIRE_KEY_LEN);
        out[WIRE_KEY_LEN] = '\0';
        return 1;
    }
    return 0;
}

int wire_curve_read_public(const char *path, char out[WIRE_KEY_LEN + 1], ProtoErr *e)
{
    char text[1024];
    size_t pos = 0;
    if (read_small(path, text, sizeof text, e) < 0)
        return -1;
    if (!next_key(text, &pos, out))
        return proto_err(e, "%s: no 40-character Z85 public key found", path);
    return 0;
}

/* ---- ZAP ----------------------------------------------------------------------------------- */

struct WireZap {
    void *sock;
    pthread_t thread;
    atomic_int stop;
    atomic_long denied, accepted;
    char allow_path[4096];
    pthread_mutex_t lock;             /* guards the last refusal below */
    bool refused;
    char refused_key[WIRE_KEY_LEN + 1];
    char refused_addr[64];
};

/* Remembers a refusal for wire_zap_take_denied: the client key (or "-") and address frame. */
static void zap_note_refusal(WireZap *z, const char *key, zmq_msg_t *addr)
{
    size_t n = zmq_msg_size(addr) < sizeof z->refused_addr - 1 ? zmq_msg_size(addr)
                                                               : sizeof z->refused_addr - 1;
    pthread_mutex_lock(&z->lock);
    z->refused = true;
    snprintf(z->refused_key, sizeof z->refused_key, "%s", key);
    memcpy(z->refused_addr, zmq_msg_data(addr), n);
    z->refused_addr[n] = '\0';
    msg_utf8_trim(z->refused_addr);
    pthread_mutex_unlock(&z->lock);
}

int wire_zap_take_denied(WireZap *z, char key[WIRE_KEY_LEN + 1], char *addr, size_t addr_n)
{
    pthread_mutex_lock(&z->lock);
    bool had = z->refused;
    if (had) {
        snprintf(key, WIRE_KEY_LEN + 1, "%s", z->refused_key);
        snprintf(addr, addr_n, "%s", z->refused_addr);
        z->refused = false;
    }
    pthread_mutex_unlock(&z->lock);
    return had;
}

static bool key_allowed(const char *allow_path, const char key[WIRE_KEY_LEN + 1])
{
    FILE *f = fopen(allow_path, "r");
    if (!f)
        return false;
    char line[512], k[WIRE_KEY_LEN + 1];
    bool found = false;
    while (!found && fgets(line, sizeof line, f)) {
        size_t pos = 0;
        found = next_key(line, &pos, k) && strcmp(k, key) == 0;
    }
    fclose(f);
    return found;
}

static bool frame_is(zmq_msg_t *m, const char *s)
{
    return zmq_msg_size(m) == strlen(s) && memcmp(zmq_msg_data(m), s, strlen(s)) == 0;
}

/* Decides one request: frames version, request id, domain, address, routing id, mechanism,
 * credentials (wire_recv keeps only WIRE_FRAMES_MAX frames, so zap_main reads raw frames). */
static void zap_answer(WireZap *z, zmq_msg_t *req, int n)
{
    bool ok = false;
    const char *why = "bad ZAP request";
    char key[WIRE_KEY_LEN + 1] = "-";
    if (n >= 6 && frame_is(&req[0], "1.0")) {
        if (frame_is(&req[5], "NULL")) {
            ok = true;
        } else if (frame_is(&req[5], "CURVE") && n >= 7 && zmq_msg_size(&req[6]) == 32) {
            zmq_z85_encode(key, zmq_msg_data(&req[6]), 32);
            ok = key_allowed(z->allow_path, key);
            why = "client key not in the allow-list";
        } else {
            why = "mechanism not allowed";
        }
        if (!ok)
            zap_note_refusal(z, key, &req[3]);
    }
    atomic_fetch_add(ok ? &z->accepted : &z->denied, 1);
    const char *code = ok ? "200" : "400", *text = ok ? "OK" : why;
    const void *parts[6] = { "1.0", n >= 2 ? zmq_msg_data(&req[1]) : "", code, text, "", "" };
    size_t sizes[6] = { 3, n >= 2 ? zmq_msg_size(&req[1]) : 0, 3, strlen(text), 0, 0 };
    wire_send(z->sock, parts, sizes, 6);
}

static void *zap_main(void *arg)
{
    WireZap *z = arg;
    while (!atomic_load(&z->stop)) {
        zmq_pollitem_t item = { .socket = z->sock, .events = ZMQ_POLLIN };
        if (zmq_poll(&item, 1, 50) <= 0)
            continue;
        zmq_msg_t req[8];
        int n = 0, more = 1;
        while (more) {
            zmq_msg_t m;
            zmq_msg_init(&m);
            if (zmq_msg_recv(&m, z->sock, ZMQ_DONTWAIT) < 0) {
                zmq_msg_close(&m);
                break;
            }
            more = zmq_msg_more(&m);
            if (n < 8)
                req[n++] = m;
            else
                zmq_msg_close(&m);
        }
        zap_answer(z, req, n);
        for (int i = 0; i < n; i++)
            zmq_msg_close(&req[i]);
    }
    zmq_close(z->sock);
    return NULL;
}

int wire_zap_start(void *ctx, const char *allow_path, WireZap **out, ProtoErr *e)
{
    WireZap *z = calloc(1, sizeof *z);
    *out = NULL;
    if (!z)
        return proto_err(e, "out of memory");
    snprintf(z->allow_path, sizeof z->allow_path, "%s", allow_path);
    pthread_mutex_init(&z->lock, NULL);
    z->sock = zmq_socket(ctx, ZMQ_REP);
    int linger = 0;
    if (!z->sock || zmq_setsockopt(z->sock, ZMQ_LINGER, &linger, sizeof linger) != 0 ||
        zmq_bind(z->sock, "inproc://zeromq.zap.01") != 0) {
        proto_err(e, "cannot start the ZAP handler: %s", zmq_strerror(zmq_errno()));
        if (z->sock)
            zmq_close(z->sock);
        free(z);
        return -1;
    }
    if (pthread_create(&z->thread, NULL, zap_main, z) != 0) {
        zmq_close(z->sock);
        free(z);
        return proto_err(e, "cannot start the ZAP thread");
    }
    *out = z;
    return 0;
}

void wire_zap_stop(WireZap **z)
{
    if (!*z)
        return;
    atomic_store(&(*z)->stop, 1);
    pthread_join((*z)->thread, NULL);
    pthread_mutex_destroy(&(*z)->lock);
    free(*z);
    *z = NULL;
}

long wire_zap_denied(const WireZap *z) { return atomic_load(&((WireZap *)z)->denied); }
long wire_zap_accepted(const WireZap *z) { return atomic_load(&((WireZap *)z)->accepted); }
