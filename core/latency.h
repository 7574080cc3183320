/* HAT's latency measurement protocol and the latency dataset (latency.csv). The model is reached
 * through a small backend (encode once, then run decoder steps), so the protocol, the trimming,
 * the CSV and resuming are independent of the engine and testable with a virtual clock. */
#ifndef MOS_LATENCY_H
#define MOS_LATENCY_H

#include <stdint.h>

#include "arch.h"
#include "config.h"
#include "err.h"
#include "predictor.h"

typedef struct LatencyBackend {
    void *ctx;
    /* Prepares subnet a (e.g. builds its views); not timed. 0 or -1 with err. */
    int (*prepare)(void *ctx, const Arch *a, MosErr *err);
    /* Runs the encoder on a batch-1 source of src_len tokens. */
    int (*encode)(void *ctx, const Arch *a, int src_len, MosErr *err);
    /* Runs `steps` incremental decoder steps with `beam` hypotheses expanded into the batch,
     * attending to the last encode's output; never stops early. */
    int (*decode)(void *ctx, const Arch *a, int src_len, int steps, int beam, MosErr *err);
    /* Clock in ms; NULL: CLOCK_MONOTONIC. Tests inject a virtual clock. */
    double (*now_ms)(void *ctx);
    /* CPU time of the measuring thread in ms; NULL: CLOCK_THREAD_CPUTIME_ID. */
    double (*cpu_ms)(void *ctx);
} LatencyBackend;

/* What a timed run's duration is read from: the wall clock (HAT) or the CPU time of the
 * measuring thread, which leaves out the time other processes held the core (1 thread only). */
typedef enum LatencyClock { LATENCY_CLOCK_WALL, LATENCY_CLOCK_CPU } LatencyClock;

/* The drift reference: one fixed architecture timed at the start of every round of a block and
 * once after its last round. The machine's speed drifts (a virtual machine's neighbours share
 * its memory bandwidth and caches), and the slowdown adds about the same milliseconds to small
 * and large architectures alike (docs/results.md), so every run of a block is shifted by the
 * reference's mean timing over the block minus its anchor, the reference's timing when the
 * dataset began (recorded in latency.json): rows then read as if measured at the anchor's
 * speed. Encoder and decoder are shifted apart. latency.json names this correction
 * LATENCY_REF_CORRECTION ("reference_correction"). */
#define LATENCY_REF_CORRECTION "block-shift"

typedef struct LatencyRef {
    int on;                  /* 0: no reference (HAT) */
    Arch arch;               /* the reference (arch_middle of the training space) */
    double enc_ms, dec_ms;   /* its anchor timings; NaN: not yet measured (a block then anchors
                              * to its own first reference timing) */
} LatencyRef;

typedef struct LatencyOpts {
    int src_len;     /* HAT 30 (IWSLT 23) */
    int steps;       /* decoder steps, HAT 30 */
    int beam;        /* HAT 5 (fairseq's default beam) */
    int warmup;      /* untimed runs of each part, HAT 5 */
    int runs;        /* timed runs of each part, HAT 20 on CPU */
    double trim;     /* fraction dropped at each end, HAT 0.1 */
    int threads;     /* OpenBLAS threads, recorded with the data */
    int vocab;       /* the timed model's output vocabulary, recorded (0: not given) */
    int rounds;      /* rounds the timed runs are split over, 1: HAT's single pass per arch */
    int block;       /* architectures measured together, interleaved round by round (HAT 1) */
    LatencyClock clock;
    LatencyRef ref;
} LatencyOpts;

/* HAT's settings above: 1 thread, 1 round, blocks of 1, wall clock, no drift reference. */
void latency_opts_default(LatencyOpts *o);

/* The protocol the run config's latency-* keys ask for: runs, warmup, beam, rounds (at most
 * runs), block, clock and the drift reference on or off; the rest as latency_opts_default. */
void latency_opts_from_stages(const StageConfig *g, LatencyOpts *o);

/* Timed runs per round: ceil(runs / rounds). */
int latency_runs_per_round(const LatencyOpts *o);

typedef struct LatencyResult {
    double enc_ms, dec_ms;           /* trimmed means over the runs of all rounds */
    double enc_std_ms, dec_std_ms;   /* standard deviation of the kept runs (all rounds) */
    double cpu_share;                /* CPU time / wall time of the timed runs: 1 when the
                                      * measurement had a core to itself */
    double load1;                    /* 1-minute load average when its block started (NaN:
                                      * unknown or not a dataset row) */
    double speed;                    /* the drift reference's anchor / its mean timing over
                                      * the arch's block (1.1: the machine ran 10 % faster than
                                      * at the anchor); NaN without a reference */
} LatencyResult;

/* Measures one subnet: prepare, warm-up and timed encoder runs, then warm-up and timed decoder
 * runs (each a fresh encode, untimed, then `steps` timed decoder steps); with rounds > 1 this
 * repeats rounds times (1 warm-up run per part after the first round) and takes the trimmed
 * mean of all rounds' runs. */
int latency_measure(const LatencyBackend *b, const Arch *a, const LatencyOpts *o,
                    LatencyResult *r, MosErr *err);

/* Measures n subnets together: in each of o->rounds rounds every arch is prepared, warmed up and
 * timed for latency_runs_per_round runs per part, the order rotated by one each round, so a
 * change of the machine's load falls on all n alike. r[i] gets the trimmed mean of arch i's
 * runs over all rounds (encoder and decoder apart); rounds = 1, n = 1 is HAT's protocol
 * exactly. With o->ref.on the reference is timed the same way before every round and after the
 * last, and every run is shifted to the anchor (see LatencyRef); encoder and decoder by the
 * reference's encoder and decoder timings apart. Without an anchor yet (NaN) the block anchors
 * to its own first reference timing. */
int latency_measure_block(const LatencyBackend *b, const Arch *a, int n, const LatencyOpts *o,
                          LatencyResult *r, MosErr *err);

/* Times o->ref.arch alone with o's protocol and stores the result as its anchor. */
int latency_ref_anchor(const LatencyBackend *b, LatencyOpts *o, MosErr *err);

/* 0 when the reference (if on) is an arch of the wider space of `train` (latency.json can be
 * edited by hand); else -1 with the reason. */
int latency_ref_check(const LatencyRef *ref, const SearchSpace *train, MosErr *err);

/* Sorts v[0..n) and returns the mean after dropping floor(trim * n) values at each end; *std
 * (if not NULL) gets the population standard deviation of the kept values. */
double latency_trimmed_mean(double *v, int n, double trim, double *std);

/* ---- latency.csv ------------------------------------------------------------------------ */

/* HAT's columns: the 10 raw features (arch_features_raw), latency_mean_encoder,
 * latency_mean_decoder, latency_std_encoder, latency_std_decoder (ms), then our arch column
 * (text form, quoted) so rows can be re-measured. */
extern const char latency_csv_header[];

/* Rows already complete in path (0 if it does not exist). A torn last line (a job stopped while
 * writing) is cut off. -1 when the file has another header or a malformed row (with its line). */
int latency_csv_rows(const char *path, MosErr *err);

/* Appends one row and flushes it to disk (creating the file with its header if needed). */
int latency_csv_append(const char *path, const Arch *a, const LatencyResult *r, MosErr *err);

/* Reads every row: raw features (n, 10), encoder and decoder ms (n), archs (n; may be NULL).
 * Arrays are malloc'ed; *n rows. */
int latency_csv_read(const char *path, float **x, float **enc_ms, float **dec_ms, Arch **archs,
                     int *n, MosErr *err);

/* Progress of a dataset job: rows done of total, the row just measured. Return nonzero to stop
 * (the rows written so far stay). */
typedef int (*LatencyProgressFn)(void *ctx, int done, int total, const Arch *a,
                                 const LatencyResult *r);

/* Measures `total` architectures drawn from `space` with a generator seeded by seed, appending
 * to path, o->block architectures at a time (latency_measure_block; rows are appended when their
 * block is done, and progress is asked after each row, a stop taking effect after the block).
 * Rows already in the file are kept and their draws skipped, so a stopped job resumes where it
 * stopped and yields the same architectures. Returns rows done, or -1. */
int latency_dataset(const LatencyBackend *b, const SearchSpace *space, uint64_t seed, int total,
                    const LatencyOpts *o, const char *path, LatencyProgressFn progress,
                    void *progress_ctx, MosErr *err);

/* HAT's wider measurement space around a training space: every per-layer FFN list gains the
 * next smaller power-of-two step (min / 2) and heads gain min / 2 when it divides qkv_dim, so
 * the predictor sees architectures past the training space's edges. */
void latency_space_wider(const SearchSpace *train, SearchSpace *wide);


/* The protocol recorded in RUN_DIR/latency.json by a latency job, into o (fields the file
 * lacks keep o's values; a file from before rounds/block/clock/reference means HAT's 1, 1, wall,
 * none), the drift reference with its anchor included. Returns 1 when read, 0 when the file does
 * not exist, -1 when it is not a latency.json. */
int latency_opts_load(const char *run_dir, LatencyOpts *o, MosErr *err);

/* ---- the whole `mos latency` job ----------------------------------------------------------- */

typedef struct LatencyJob {
    const char *run_dir;        /* files go here (see docs/search.md) */
    SearchSpace space;          /* the training space; data come from its wider version */
    int archs;                  /* rows of latency.csv wanted (HAT 2,000) */
    int verify;                 /* fresh training-space archs measured twice (0: none) */
    uint64_t seed;              /* dataset draws; verify uses seed + 1 */
    LatencyOpts opts;
    int hidden, hidden_layers;  /* predictor shape (HAT 400, 3) */
    PredictorTrainConfig fit;
} LatencyJob;

typedef struct LatencyJobReport {
    int rows;                         /* latency.csv rows used for the fit */
    PredictorReport fit;              /* train / valid / test errors */
    int verify_n;
    PredictorSplitMetrics verify;     /* predictor vs the first measurement of fresh archs */
    PredictorSplitMetrics verify_mean;/* predictor vs the mean of both measurements */
    double noise_mapd_pct;            /* second measurement vs first, same archs */
    double mean_ms;                   /* mean measured latency of the verify archs */
    int measured;                     /* rows measured by this call (resumed rows excluded) */
    double load_min, load_max;        /* 1-minute load average over those rows' blocks */
    double cpu_share_min, cpu_share_mean;   /* CPU / wall time of their timed runs */
    double speed_min, speed_max;      /* LatencyResult.speed over those rows (NaN: no reference) */
    double ref_enc_ms, ref_dec_ms;    /* the drift reference's anchor (NaN: none) */
    char ref_arch[512];               /* the reference (text form; "" when none) */
} LatencyJobReport;

/* Measures (resuming latency.csv), fits and saves latency-predictor.json, then measures the
 * verify archs into latency-verify.csv and again into latency-verify-repeat.csv (both resumable)
 * and compares. With job->opts.ref.on the reference is arch_middle(job->space) and its anchor is
 * timed once, before the first row, and kept in latency.json for every later run (resumes, the
 * verify files, `mos search`'s front points, `mos latency --arch`). latency.json records the
 * protocol (threads, beam, reference, ...); a run directory whose latency.json differs is
 * refused rather than mixing timings. progress gets every row of the three files in turn
 * (total = archs + 2 x verify). Returns 0 when done, 1 when progress asked to stop (every row
 * measured so far is kept; run again to continue), -1 on error. */
int latency_job_run(const LatencyBackend *b, const LatencyJob *job, LatencyProgressFn progress,
                    void *progress_ctx, LatencyJobReport *rep, MosErr *err);

#endif
