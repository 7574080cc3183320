/* Readable one-line renderings of protocol messages and replies for `mos watch`, `mos ctl` and
 * `mos run` without a terminal. Formatting only: no I/O. JSON lines come from msg_json. */
#ifndef MOS_WATCHFMT_H
#define MOS_WATCHFMT_H

#include <stddef.h>

#include "msg.h"

/* Writes one line (no newline) describing m into buf; returns its length (truncated to n-1). */
int watchfmt_msg(const Msg *m, char *buf, size_t n);

/* The same for a status record (used for heartbeats and `mos ctl status`). */
int watchfmt_status(const MsgStatus *s, char *buf, size_t n);

#endif
