/* The worker's sockets, on top of protocol/wire.h: a PUB socket for events and a ROUTER socket
 * for commands, both owned by the main thread, and one poll over the ROUTER and the job queue's
 * eventfd. Keeps ZeroMQ out of worker.c. */
#ifndef MOS_WORKER_IO_H
#define MOS_WORKER_IO_H

#include <stddef.h>

#include "err.h"

typedef struct WorkerIO WorkerIO;

/* Binds (default endpoints when bind is NULL) and writes run_dir/endpoints.json. */
WorkerIO *worker_io_open(const char *run_dir, const char *bind, const char *curve_dir,
                         MosErr *err);
/* Closes sockets (LINGER bounded), removes endpoints.json when remove_endpoints, ends the context. */
void worker_io_close(WorkerIO **io, int remove_endpoints);

/* Waits up to timeout_ms; sets *cmd_ready / *fd_ready. Returns -1 on EINTR (a signal). */
int worker_io_poll(WorkerIO *io, int fd, int timeout_ms, int *cmd_ready, int *fd_ready);

/* Receives one command without blocking. Returns 1 and points body and len at it (valid until the
 * next call), 0 when none is pending, -1 when a message with wrong framing was dropped. */
int worker_io_recv_cmd(WorkerIO *io, const void **body, size_t *len);
/* Replies to the last received command (same routing envelope); never blocks. */
int worker_io_reply(WorkerIO *io, const void *body, size_t len);

/* PublishSend for the PUB socket: never blocks; -1 when dropped. */
int worker_io_publish(void *io, const char *topic, const void *body, size_t len);

/* The endpoints bound, for the log. */
const char *worker_io_describe(const WorkerIO *io);

#endif
