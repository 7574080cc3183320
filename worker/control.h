/* Command handling of the worker's main thread: decode a request, check it against the state
 * table (through JobCtl), apply it, and encode the reply {v, id, ok, error?, status?, snapshot?}.
 * Every well-framed request gets exactly one reply; bodies that do not decode get a bad_request
 * error (id -1 when unreadable). Owns no socket, so it is fuzzed in-process. */
#ifndef MOS_CONTROL_H
#define MOS_CONTROL_H

#include "extractor.h"
#include "jobctl.h"
#include "msg.h"
#include "publish.h"

typedef struct Control {
    JobCtl *job;
    Publisher *pub;
    Extractor *ex;          /* NULL: extraction is refused (no executable to run, e.g. tests) */
    Msg *msg;               /* heap: an extract message to publish */
    MsgReply *reply;        /* heap (a snapshot reply is ~1 MB), reused */
    Cmd cmd;
    MsgBuf out;             /* the encoded reply after control_handle */
    char stage[PROTO_NAME_MAX + 1];
    char host[PROTO_NAME_MAX + 1];
    char run_dir[PROTO_PATH_MAX + 1];
    char run_id[PROTO_NAME_MAX + 1];
    int state_changed;      /* set when a command changed the state: publish a status now */
    long long handled, refused, dropped;
} Control;

int control_init(Control *c, JobCtl *job, Publisher *pub, const char *stage, const char *run_dir,
                 MosErr *err);
void control_done(Control *c);

/* Fills st with the worker's current status (state, phase, progress, target, host, pid). */
void control_status(Control *c, MsgStatus *st);

/* Handles one request body; the encoded reply is in c->out. Never fails: encoding problems turn
 * into an `internal` error reply. */
void control_handle(Control *c, const void *req, size_t n);

/* Counts a request dropped before decoding (wrong framing). */
void control_drop(Control *c);

#endif
