/* The one table of the mos wire protocol: every record (message body, nested record, command,
 * reply) and every field, with its kind, bound, presence and meaning. msg.h turns it into C
 * structs and descriptor tables; msg.c encodes/decodes/dumps from the descriptors; the tests
 * round-trip every record and check that PROTOCOL.md names every record and field.
 * This file holds data only (macros), no code. Invariant: records appear after the records they
 * nest (C declaration order); a record has at most 64 fields (the decoder's seen-set). */
#ifndef MOS_PROTOCOL_SCHEMA_H
#define MOS_PROTOCOL_SCHEMA_H

#define PROTO_VERSION 1       /* major version: bumped only on a breaking change */

/* Bounds (strings: bytes excluding the NUL; arrays: elements). Longer input is a decode error. */
#define PROTO_NAME_MAX      63     /* short names: worker id, phase, state, group, algo, ... */
#define PROTO_ARCH_MAX      511    /* an architecture in arch_format's text form */
#define PROTO_PATH_MAX      1023
#define PROTO_TEXT_MAX      1023   /* log lines, error messages */
#define PROTO_FEATURES      10     /* HAT's normalised arch features (ARCH_FEATURES) */
#define PROTO_FRONT_MAX     128    /* points on a Pareto front */
#define PROTO_LAT_ROWS_MAX  64     /* latency rows per message */
#define PROTO_LAYERS_MAX    16     /* gate layers per message (encoder + decoder) */
#define PROTO_EXPERTS_MAX   16
#define PROTO_BINS_MAX      32     /* histogram bins */
#define PROTO_SERIES_MAX    32     /* series in a snapshot */
#define PROTO_POINTS_MAX    2048   /* points per series (the worker downsamples longer ones) */
#define PROTO_SNAP_LOGS     64     /* last log lines in a snapshot */
#define PROTO_MSG_MAX       (4u << 20)  /* bytes of one encoded message; larger is refused */

/* Field kinds:  I64 int64 | F64 double (ints accepted on decode) | BOOL | STR utf-8 string
 * F32S float array as msgpack bin of little-endian f32 | I64S array of ints
 * REC one nested record (map) | RECS array of nested records.
 * Field columns: F(T, name, kind, sub, max, presence, doc)
 *   sub: the nested record's CamelCase name for REC/RECS (else _), max: bound for STR/F32S/
 *   I64S/RECS (else 0), presence: REQ (missing -> decode error) or OPT (has_<name> flag). */

/* ---- envelope of topic messages: these keys plus `body` (the record of `type`) ------------ */

#define PROTO_FIELDS_header(F, T) \
    F(T, v,      I64, _, 0, REQ, "protocol major version; a reader refuses a larger one") \
    F(T, type,   STR, _, PROTO_NAME_MAX, REQ, "message type, equal to the topic frame") \
    F(T, seq,    I64, _, 0, REQ, "per-worker sequence number: +1 per published message, from 1") \
    F(T, ts,     F64, _, 0, REQ, "unix time in seconds") \
    F(T, worker, STR, _, PROTO_NAME_MAX, REQ, "worker id (host:pid)")

/* ---- nested records ------------------------------------------------------------------------ */

#define PROTO_FIELDS_error(F, T) \
    F(T, code, STR, _, PROTO_NAME_MAX, REQ, \
      "error code name, one of the error table (bad_request, ...)") \
    F(T, msg,  STR, _, PROTO_TEXT_MAX, REQ, "one human-readable line naming what is wrong")

#define PROTO_FIELDS_front_point(F, T) \
    F(T, arch,            STR,  _, PROTO_ARCH_MAX, REQ, "architecture, text form") \
    F(T, latency_pred_ms, F64,  _, 0, REQ, "predicted latency (ms)") \
    F(T, latency_ms,      F64,  _, 0, OPT, "measured latency (ms)") \
    F(T, loss,            F64,  _, 0, REQ, "validation loss per token") \
    F(T, bleu,            F64,  _, 0, OPT, "validation BLEU") \
    F(T, params,          I64,  _, 0, REQ, "parameter count of the subnet") \
    F(T, features,        F32S, _, PROTO_FEATURES, OPT, "HAT's 10 normalised features")

#define PROTO_FIELDS_latency_row(F, T) \
    F(T, arch,     STR,  _, PROTO_ARCH_MAX, REQ, "measured architecture, text form") \
    F(T, features, F32S, _, PROTO_FEATURES, REQ, "HAT's 10 normalised features") \
    F(T, enc_ms,   F64,  _, 0, REQ, "encoder latency (ms)") \
    F(T, dec_ms,   F64,  _, 0, REQ, "decoder latency (ms)")

#define PROTO_FIELDS_gate_layer(F, T) \
    F(T, stack,   STR,  _, PROTO_NAME_MAX, REQ, "enc or dec") \
    F(T, layer,   I64,  _, 0, REQ, "layer index within the stack") \
    F(T, m,       F32S, _, PROTO_EXPERTS_MAX, OPT, "layer-wise MoS: the router's mixture vector") \
    F(T, share,   F32S, _, PROTO_EXPERTS_MAX, OPT, "neuron-wise MoS: mean share per expert") \
    F(T, hist,    F32S, _, PROTO_BINS_MAX, OPT, "histogram of router outputs (counts per bin)") \
    F(T, hist_lo, F64,  _, 0, OPT, "lower edge of the first bin") \
    F(T, hist_hi, F64,  _, 0, OPT, "upper edge of the last bin")

#define PROTO_FIELDS_series(F, T) \
    F(T, name,  STR,  _, PROTO_NAME_MAX, REQ, "series name, e.g. train.loss, valid.loss.largest") \
    F(T, step,  I64S, _, PROTO_POINTS_MAX, REQ, "x values (step or generation), increasing") \
    F(T, value, F32S, _, PROTO_POINTS_MAX, REQ, "y values, same count as step")

/* ---- topic message bodies ------------------------------------------------------------------ */

#define PROTO_FIELDS_status(F, T) \
    F(T, phase,     STR,  _, PROTO_NAME_MAX, REQ, \
      "current phase: idle, prepare, train, latency, search, extract, done") \
    F(T, state,     STR,  _, PROTO_NAME_MAX, REQ, \
      "job state: starting, running, paused, stopping, done, failed") \
    F(T, stage,     STR,  _, PROTO_NAME_MAX, REQ, \
      "requested stage: prepare, train, latency, search, all") \
    F(T, step,      I64,  _, 0, REQ, "progress within the phase (steps, rows, generations)") \
    F(T, total,     I64,  _, 0, REQ, "total of the phase (0: unknown)") \
    F(T, paused,    BOOL, _, 0, REQ, "true while paused") \
    F(T, lr,        F64,  _, 0, OPT, "current learning rate") \
    F(T, tok_per_s, F64,  _, 0, OPT, "training throughput (target tokens per second)") \
    F(T, eta_s,     F64,  _, 0, OPT, "estimated seconds to the end of the phase") \
    F(T, target_ms, F64,  _, 0, OPT, "current latency target (ms)") \
    F(T, host,      STR,  _, PROTO_NAME_MAX, REQ, "host name of the worker") \
    F(T, pid,       I64,  _, 0, REQ, "process id of the worker") \
    F(T, run_dir,   STR,  _, PROTO_PATH_MAX, REQ, "run directory (absolute)") \
    F(T, run_id,    STR,  _, PROTO_NAME_MAX, OPT, \
      "run identity; a change means a new run: re-snapshot")

#define PROTO_FIELDS_train(F, T) \
    F(T, step,      I64,  _, 0, REQ, "update number (1-based)") \
    F(T, total,     I64,  _, 0, OPT, "total updates") \
    F(T, loss,      F64,  _, 0, REQ, "training loss per target token (label-smoothed)") \
    F(T, arch,      STR,  _, PROTO_ARCH_MAX, REQ, "the sampled architecture, text form") \
    F(T, grad_norm, F64,  _, 0, REQ, "gradient norm before clipping") \
    F(T, lr,        F64,  _, 0, REQ, "learning rate of this update") \
    F(T, tok_per_s, F64,  _, 0, REQ, "throughput (target tokens per second)")

#define PROTO_FIELDS_valid(F, T) \
    F(T, step,  I64, _, 0, REQ, "update number at validation") \
    F(T, group, STR, _, PROTO_NAME_MAX, REQ, "arch group: largest, smallest, random") \
    F(T, loss,  F64, _, 0, REQ, "validation NLL per target token") \
    F(T, bleu,  F64, _, 0, OPT, "validation BLEU, when computed") \
    F(T, arch,  STR, _, PROTO_ARCH_MAX, REQ, "validated architecture, text form")

#define PROTO_FIELDS_gates(F, T) \
    F(T, step,    I64,  _, 0, REQ, "update number when measured") \
    F(T, arch,    STR,  _, PROTO_ARCH_MAX, REQ, "architecture the router was run for") \
    F(T, kind,    STR,  _, PROTO_NAME_MAX, REQ, "MoS kind: layer, neuron, or none (1 expert, no layers)") \
    F(T, experts, I64,  _, 0, REQ, "number of experts") \
    F(T, layers,  RECS, GateLayer, PROTO_LAYERS_MAX, REQ, "one record per layer")

#define PROTO_FIELDS_latency(F, T) \
    F(T, rows,     RECS, LatencyRow, PROTO_LAT_ROWS_MAX, REQ, "new measured rows (may be empty)") \
    F(T, measured, I64,  _, 0, REQ, "rows measured so far") \
    F(T, total,    I64,  _, 0, REQ, "rows to measure") \
    F(T, rmse_ms,  F64,  _, 0, OPT, "predictor fit: RMSE on held-out rows (ms)") \
    F(T, mapd,     F64,  _, 0, OPT, "predictor fit: mean absolute percentage deviation (0..1)")

#define PROTO_FIELDS_search(F, T) \
    F(T, generation,  I64, _, 0, REQ, "generation number (0-based)") \
    F(T, generations, I64, _, 0, OPT, "total generations") \
    F(T, algo,        STR, _, PROTO_NAME_MAX, REQ, "search algorithm, e.g. evolution") \
    F(T, best_loss,   F64, _, 0, REQ, "best validation loss among feasible candidates") \
    F(T, mean_loss,   F64, _, 0, REQ, "mean validation loss of the population") \
    F(T, target_ms,   F64, _, 0, REQ, "latency target (ms)") \
    F(T, evaluated,   I64, _, 0, REQ, "candidates evaluated so far") \
    F(T, best_arch,   STR, _, PROTO_ARCH_MAX, OPT, "best feasible architecture, text form") \
    F(T, best_latency_ms, F64, _, 0, OPT, "its predicted latency (ms)")

#define PROTO_FIELDS_front(F, T) \
    F(T, generation, I64,  _, 0, OPT, "search generation the front belongs to") \
    F(T, target_ms,  F64,  _, 0, OPT, "latency target (ms)") \
    F(T, points,     RECS, FrontPoint, PROTO_FRONT_MAX, REQ, "Pareto-optimal points, by latency")

#define PROTO_FIELDS_extract(F, T) \
    F(T, arch,       STR, _, PROTO_ARCH_MAX, REQ, "architecture being extracted, text form") \
    F(T, status,     STR, _, PROTO_NAME_MAX, REQ, "running, done or failed") \
    F(T, progress,   F64, _, 0, REQ, "0..1") \
    F(T, path,       STR, _, PROTO_PATH_MAX, OPT, "output directory (subnets/<name>)") \
    F(T, params,     I64, _, 0, OPT, "parameter count") \
    F(T, latency_ms, F64, _, 0, OPT, "latency (ms)") \
    F(T, loss,       F64, _, 0, OPT, "validation loss per token") \
    F(T, bleu,       F64, _, 0, OPT, "validation BLEU") \
    F(T, error,      STR, _, PROTO_TEXT_MAX, OPT, "why it failed")

#define PROTO_FIELDS_log(F, T) \
    F(T, level, STR, _, PROTO_NAME_MAX, REQ, "debug, info, warn or error") \
    F(T, text,  STR, _, PROTO_TEXT_MAX, REQ, "one line") \
    F(T, ts,    F64, _, 0, OPT, \
      "unix time the line was logged: set in a snapshot's logs (a live line has the header's)")

/* ---- snapshot, command, reply -------------------------------------------------------------- */

#define PROTO_FIELDS_snapshot(F, T) \
    F(T, seq,     I64,  _, 0, REQ, \
      "seq of the last message reflected here: drop updates with seq <= it") \
    F(T, worker,  STR,  _, PROTO_NAME_MAX, REQ, "the worker id of the stream (header `worker`)") \
    F(T, status,  REC,  Status, 0, OPT, "latest status") \
    F(T, series,  RECS, Series, PROTO_SERIES_MAX, REQ, "history of every series, downsampled") \
    F(T, gates,   REC,  Gates, 0, OPT, "latest gates message") \
    F(T, latency, REC,  Latency, 0, OPT, \
      "latest latency progress and fit (rows: the latest ones)") \
    F(T, search,  REC,  Search, 0, OPT, "latest search generation") \
    F(T, front,   REC,  Front, 0, OPT, "latest Pareto front") \
    F(T, extract, REC,  Extract, 0, OPT, "latest extraction") \
    F(T, logs,    RECS, Log, PROTO_SNAP_LOGS, REQ, "last log lines, oldest first")

#define PROTO_FIELDS_cmd(F, T) \
    F(T, id,        I64, _, 0, REQ, "request id chosen by the client, echoed in the reply") \
    F(T, target_ms, F64, _, 0, OPT, "target: the new latency target (ms), > 0") \
    F(T, arch,      STR, _, PROTO_ARCH_MAX, OPT, "extract: architecture, text form") \
    F(T, index,     I64, _, 0, OPT, "extract: index on the current front (0 = lowest latency)")

#define PROTO_FIELDS_reply(F, T) \
    F(T, id,       I64,  _, 0, REQ, "the command's id (-1 when it could not be read)") \
    F(T, ok,       BOOL, _, 0, REQ, "true when the command was accepted") \
    F(T, error,    REC,  Error, 0, OPT, "present when ok is false") \
    F(T, status,   REC,  Status, 0, OPT, "status command: the current status") \
    F(T, snapshot, REC,  Snapshot, 0, OPT, "snapshot command: state and history")

/* Every record: X(lower, Camel, doc). Order = declaration order (nested records first). */
#define PROTO_RECORDS(X) \
    X(header,      Header,     "envelope of every topic message (plus body)") \
    X(error,       Error,      "a command's error: code and message") \
    X(front_point, FrontPoint, "one point of a Pareto front") \
    X(latency_row, LatencyRow, "one measured latency row") \
    X(gate_layer,  GateLayer,  "router outputs of one layer") \
    X(series,      Series,     "one downsampled history series") \
    X(status,      Status,     "heartbeat, every second and on every state change") \
    X(train,       Train,      "one training update") \
    X(valid,       Valid,      "validation of one arch group") \
    X(gates,       Gates,      "router outputs for an architecture") \
    X(latency,     Latency,    "latency measurement progress and predictor fit") \
    X(search,      Search,     "one search generation") \
    X(front,       Front,      "the current Pareto front") \
    X(extract,     Extract,    "extraction progress and result") \
    X(log,         Log,        "a log line") \
    X(snapshot,    Snapshot,   "reply payload of the snapshot command") \
    X(cmd,         Cmd,        "command arguments (besides v and cmd)") \
    X(reply,       Reply,      "answer to every command")

/* Topic messages: X(UPPER, lower, Camel). The topic frame and the `type` key are `lower`. */
#define PROTO_MESSAGES(X) \
    X(STATUS,  status,  Status) \
    X(TRAIN,   train,   Train) \
    X(VALID,   valid,   Valid) \
    X(GATES,   gates,   Gates) \
    X(LATENCY, latency, Latency) \
    X(SEARCH,  search,  Search) \
    X(FRONT,   front,   Front) \
    X(EXTRACT, extract, Extract) \
    X(LOG,     log,     Log)

/* Commands: X(UPPER, lower, doc). Required arguments are checked by msg_cmd_decode. */
#define PROTO_COMMANDS(X) \
    X(PAUSE,      pause,      "pause the job at the next poll (idempotent)") \
    X(RESUME,     resume,     "resume a paused job (idempotent)") \
    X(STOP,       stop,       "checkpoint and end the job") \
    X(CHECKPOINT, checkpoint, "write a checkpoint now and continue") \
    X(TARGET,     target,     "set the latency target: needs target_ms") \
    X(EXTRACT,    extract,    "extract a subnet: needs arch or index (exactly one)") \
    X(SNAPSHOT,   snapshot,   "reply with the snapshot (state + history + last seq)") \
    X(STATUS,     status,     "reply with the current status")

/* Error codes: X(UPPER, lower, doc). */
#define PROTO_ERRORS(X) \
    X(BAD_REQUEST,   bad_request,   "not a valid command map (msgpack, keys, types, bounds)") \
    X(VERSION,       version,       "unsupported protocol version") \
    X(UNKNOWN_CMD,   unknown_cmd,   "no such command") \
    X(BAD_ARG,       bad_arg,       "a command argument is missing or out of range") \
    X(ILLEGAL_STATE, illegal_state, "the command is not allowed in the job's current state") \
    X(NOT_FOUND,     not_found,     "what the command names does not exist (e.g. front index)") \
    X(BUSY,          busy,          "the worker is busy with a conflicting request") \
    X(INTERNAL,      internal,      "the worker failed while executing the command")

#endif
