/* HAT's latency protocol and latency.csv (see latency.h). Knows nothing of the model: the
 * backend runs it. Invariant: latency.csv only ever holds complete rows after latency_csv_rows,
 * and row i always measures the i-th architecture drawn from the dataset's seed. */
#include "latency.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

void latency_opts_default(LatencyOpts *o)
{
    o->src_len = 30;
    o->steps = 30;
    o->beam = 5;
    o->warmup = 5;
    o->runs = 20;
    o->trim = 0.1;
    o->threads = 1;
    o->vocab = 0;
    o->rounds = 1;
    o->block = 1;
    o->clock = LATENCY_CLOCK_WALL;
    memset(&o->ref, 0, sizeof o->ref);
    o->ref.enc_ms = o->ref.dec_ms = NAN;
}

void latency_opts_from_stages(const StageConfig *g, LatencyOpts *o)
{
    latency_opts_default(o);
    o->runs = g->latency_runs;
    o->warmup = g->latency_warmup;
    o->beam = g->latency_beam;
    o->rounds = g->latency_rounds < g->latency_runs ? g->latency_rounds : g->latency_runs;
    o->block = g->latency_block;
    o->clock = g->latency_clock == STAGE_CLOCK_CPU ? LATENCY_CLOCK_CPU : LATENCY_CLOCK_WALL;
    o->ref.on = g->latency_reference;
}

int latency_runs_per_round(const LatencyOpts *o)
{
    return (o->runs + o->rounds - 1) / o->rounds;
}

static double wall_ms(const LatencyBackend *b)
{
    if (b->now_ms)
        return b->now_ms(b->ctx);
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec * 1e-6;
}

static double cpu_ms(const LatencyBackend *b)
{
    if (b->cpu_ms)
        return b->cpu_ms(b->ctx);
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec * 1e-6;
}

static int cmp_double(const void *x, const void *y)
{
    double a = *(const double *)x, b = *(const double *)y;
    return a < b ? -1 : a > b;
}

double latency_trimmed_mean(double *v, int n, double trim, double *std)
{
    ASSERT(n > 0);
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    int cut = (int)floor(trim * n);
    if (2 * cut >= n)
        cut = (n - 1) / 2;
    double s = 0, ss = 0;
    int k = n - 2 * cut;
    for (int i = cut; i < n - cut; i++)
        s += v[i];
    double mean = s / k;
    for (int i = cut; i < n - cut; i++)
        ss += (v[i] - mean) * (v[i] - mean);
    if (std)
        *std = sqrt(ss / k);
    return mean;
}

static int check_opts(const LatencyOpts *o, MosErr *err)
{
    if (o->runs < 1 || o->warmup < 0 || o->src_len < 1 || o->steps < 1 || o->beam < 1)
        return err_set(err, "latency: runs %d, warmup %d, source %d, steps %d, beam %d: all "
                       "must be positive", o->runs, o->warmup, o->src_len, o->steps, o->beam);
    if (o->rounds < 1 || o->rounds > o->runs || o->block < 1)
        return err_set(err, "latency: rounds %d, block %d: need 1 <= rounds <= runs (%d) and "
                       "block >= 1", o->rounds, o->block, o->runs);
    if (o->clock == LATENCY_CLOCK_CPU && o->threads != 1)
        return err_set(err, "latency: the cpu clock times one thread; it needs threads 1, not "
                       "%d", o->threads);
    return 0;
}

/* Timed runs of one part of one arch in one round: the chosen clock's ms into t[0..per), CPU and
 * wall time added to *cpu, *wall. dec: each run re-encodes (untimed) and times the decoder. */
static int time_part(const LatencyBackend *b, const Arch *a, const LatencyOpts *o, int dec,
                     int warm, int per, double *t, double *cpu, double *wall, MosErr *err)
{
    for (int i = 0; i < warm + per; i++) {
        if (dec && b->encode(b->ctx, a, o->src_len, err))
            return -1;
        double w0 = wall_ms(b), c0 = cpu_ms(b);
        int rc = dec ? b->decode(b->ctx, a, o->src_len, o->steps, o->beam, err)
                     : b->encode(b->ctx, a, o->src_len, err);
        double c1 = cpu_ms(b), w1 = wall_ms(b);
        if (rc)
            return -1;
        if (i < warm)
            continue;
        t[i - warm] = o->clock == LATENCY_CLOCK_CPU ? c1 - c0 : w1 - w0;
        *cpu += c1 - c0;
        *wall += w1 - w0;
    }
    return 0;
}

/* The reference's timing in one round: trimmed means of its encoder and decoder runs. */
static int time_reference(const LatencyBackend *b, const LatencyOpts *o, int warm, int per,
                          double *enc, double *dec, MosErr *err)
{
    double t[per], cpu = 0, wall = 0;
    const Arch *a = &o->ref.arch;
    if ((b->prepare && b->prepare(b->ctx, a, err)) ||
        time_part(b, a, o, 0, warm, per, t, &cpu, &wall, err))
        return -1;
    *enc = latency_trimmed_mean(t, per, o->trim, NULL);
    if (time_part(b, a, o, 1, warm, per, t, &cpu, &wall, err))
        return -1;
    *dec = latency_trimmed_mean(t, per, o->trim, NULL);
    return 0;
}

/* Shifts runs t[0..m) by the block's drift (the reference's mean timing over the block minus
 * its anchor), never below half a run. The slowdown a shared machine causes adds about the same
 * milliseconds to small and large architectures (measured: docs/results.md), so a shift
 * corrects it where a ratio over-corrects large ones. */
static void shift_runs(double *t, size_t m, double drift)
{
    for (size_t j = 0; j < m; j++)
        t[j] = t[j] - drift > 0.5 * t[j] ? t[j] - drift : 0.5 * t[j];
}

static double mean_of(const double *v, int n)
{
    double sum = 0;
    for (int k = 0; k < n; k++)
        sum += v[k];
    return sum / n;
}

int latency_measure_block(const LatencyBackend *b, const Arch *a, int n, const LatencyOpts *o,
                          LatencyResult *r, MosErr *err)
{
    if (check_opts(o, err))
        return -1;
    int per = latency_runs_per_round(o), R = o->rounds;
    size_t m = (size_t)n * R * per;
    double *enc = malloc(m * sizeof *enc), *dec = malloc(m * sizeof *dec);
    double *cpu = calloc((size_t)n, sizeof *cpu), *wall = calloc((size_t)n, sizeof *wall);
    double *ref_enc = malloc((size_t)(R + 1) * sizeof *ref_enc);
    double *ref_dec = malloc((size_t)(R + 1) * sizeof *ref_dec);
    ASSERT(enc && dec && cpu && wall && ref_enc && ref_dec);
    int rc = 0;
    for (int round = 0; round < R && !rc; round++) {
        int warm = round == 0 ? o->warmup : (o->warmup < 1 ? o->warmup : 1);
        if (o->ref.on)
            rc = time_reference(b, o, warm, per, &ref_enc[round], &ref_dec[round], err);
        for (int k = 0; k < n && !rc; k++) {
            int i = (k + round) % n;
            size_t at = ((size_t)i * R + round) * per;
            rc = (b->prepare && b->prepare(b->ctx, &a[i], err)) ||
                 time_part(b, &a[i], o, 0, warm, per, enc + at, &cpu[i], &wall[i], err) ||
                 time_part(b, &a[i], o, 1, warm, per, dec + at, &cpu[i], &wall[i], err);
        }
    }
    if (!rc && o->ref.on)
        rc = time_reference(b, o, o->warmup < 1 ? o->warmup : 1, per, &ref_enc[R], &ref_dec[R],
                            err);
    LatencyRef ref = o->ref;
    if (!rc && ref.on && !(isfinite(ref.enc_ms) && isfinite(ref.dec_ms)))
        ref.enc_ms = ref_enc[0], ref.dec_ms = ref_dec[0];   /* anchored to this block */
    /* the block's drift, once: the reference's mean timings over the block; speed is anchor /
     * that (1.1: the machine ran 10 % faster than at the anchor) */
    double ref_e = 0, ref_d = 0, speed = NAN;
    if (!rc && ref.on) {
        ref_e = mean_of(ref_enc, R + 1), ref_d = mean_of(ref_dec, R + 1);
        speed = ref_e + ref_d > 0 ? (ref.enc_ms + ref.dec_ms) / (ref_e + ref_d) : NAN;
    }
    for (int i = 0; i < n && !rc; i++) {
        size_t at = (size_t)i * R * per, runs = (size_t)R * per;
        if (ref.on) {
            shift_runs(enc + at, runs, ref_e - ref.enc_ms);
            shift_runs(dec + at, runs, ref_d - ref.dec_ms);
        }
        r[i].speed = speed;
        /* HAT's trimmed mean over all runs of all rounds (the rounds only spread them in time) */
        r[i].enc_ms = latency_trimmed_mean(enc + at, (int)runs, o->trim, &r[i].enc_std_ms);
        r[i].dec_ms = latency_trimmed_mean(dec + at, (int)runs, o->trim, &r[i].dec_std_ms);
        r[i].cpu_share = wall[i] > 0 ? cpu[i] / wall[i] : NAN;
        r[i].load1 = NAN;
    }
    free(enc), free(dec), free(cpu), free(wall), free(ref_enc), free(ref_dec);
    return rc ? -1 : 0;
}

int latency_measure(const LatencyBackend *b, const Arch *a, const LatencyOpts *o,
                    LatencyResult *r, MosErr *err)
{
    return latency_measure_block(b, a, 1, o, r, err);
}

int latency_ref_anchor(const LatencyBackend *b, LatencyOpts *o, MosErr *err)
{
    LatencyOpts alone = *o;
    alone.ref.on = 0;
    LatencyResult r;
    if (latency_measure(b, &o->ref.arch, &alone, &r, err))
        return -1;
    o->ref.enc_ms = r.enc_ms;
    o->ref.dec_ms = r.dec_ms;
    return 0;
}

/* ---- latency.csv ------------------------------------------------------------------------ */

const char latency_csv_header[] =
    "encoder_embed_dim,encoder_layer_num,encoder_ffn_embed_dim_avg,"
    "encoder_self_attention_heads_avg,decoder_embed_dim,decoder_layer_num,"
    "decoder_ffn_embed_dim_avg,decoder_self_attention_heads_avg,"
    "decoder_ende_attention_heads_avg,decoder_arbitrary_ende_attn_avg,latency_mean_encoder,"
    "latency_mean_decoder,latency_std_encoder,latency_std_decoder,arch";

/* Parses one data row into raw features, latencies and the arch. */
static int parse_row(char *line, float x[ARCH_FEATURES], float lat[4], Arch *a, MosErr *err)
{
    char *p = line;
    for (int k = 0; k < ARCH_FEATURES + 4; k++) {
        char *end;
        errno = 0;
        double v = strtod(p, &end);
        if (end == p || *end != ',' || errno || !isfinite(v))
            return err_set(err, "column %d is not a number", k + 1);
        if (k < ARCH_FEATURES)
            x[k] = (float)v;
        else
            lat[k - ARCH_FEATURES] = (float)v;
        p = end + 1;
    }
    size_t len = strlen(p);
    if (len < 2 || p[0] != '"' || p[len - 1] != '"')
        return err_set(err, "the arch column is not a quoted architecture");
    p[len - 1] = '\0';
    return arch_parse(p + 1, a, err);
}

/* Reads path line by line; calls row() for each complete data row. Returns rows, or -1.
 * *good_bytes gets the length of the file up to the last complete line. */
static int csv_scan(const char *path, long *good_bytes,
                    void (*row)(void *ctx, const float *x, const float *lat, const Arch *a),
                    void *ctx, MosErr *err)
{
    FILE *f = fopen(path, "r");
    *good_bytes = 0;
    if (!f) {
        if (errno == ENOENT)
            return 0;
        return err_set(err, "%s: cannot read: %s", path, strerror(errno));
    }
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    int lineno = 0, rows = 0, rc = 0;
    while ((len = getline(&line, &cap, f)) > 0) {
        lineno++;
        if (line[len - 1] != '\n')
            break;               /* torn last line: not counted, cut by the caller */
        line[len - 1] = '\0';
        if (lineno == 1) {
            if (strcmp(line, latency_csv_header) != 0) {
                rc = err_set(err, "%s:1: not a latency.csv header (HAT's 10 features, "
                             "encoder/decoder mean and std, arch)", path);
                break;
            }
        } else {
            float x[ARCH_FEATURES], lat[4];
            Arch a;
            if (parse_row(line, x, lat, &a, err)) {
                err_prefix(err, "%s:%d", path, lineno);
                rc = -1;
                break;
            }
            if (row)
                row(ctx, x, lat, &a);
            rows++;
        }
        *good_bytes += (long)len;
    }
    free(line);
    fclose(f);
    return rc ? -1 : rows;
}

int latency_csv_rows(const char *path, MosErr *err)
{
    long good;
    int rows = csv_scan(path, &good, NULL, NULL, err);
    if (rows < 0)
        return -1;
    struct stat st;
    if (stat(path, &st) == 0 && st.st_size > good && truncate(path, good) != 0)
        return err_set(err, "%s: cannot cut the torn last line: %s", path, strerror(errno));
    return rows;
}

int latency_csv_append(const char *path, const Arch *a, const LatencyResult *r, MosErr *err)
{
    struct stat st;
    int fresh = stat(path, &st) != 0 || st.st_size == 0;
    FILE *f = fopen(path, "a");
    if (!f)
        return err_set(err, "%s: cannot append: %s", path, strerror(errno));
    if (fresh)
        fprintf(f, "%s\n", latency_csv_header);
    float x[ARCH_FEATURES];
    arch_features_raw(a, x);
    for (int k = 0; k < ARCH_FEATURES; k++)
        fprintf(f, "%.9g,", (double)x[k]);
    char text[512];
    arch_format(a, text, sizeof text);
    fprintf(f, "%.6f,%.6f,%.6f,%.6f,\"%s\"\n", r->enc_ms, r->dec_ms, r->enc_std_ms,
            r->dec_std_ms, text);
    int bad = fflush(f) != 0 || fsync(fileno(f)) != 0;
    bad |= fclose(f) != 0;
    if (bad)
        return err_set(err, "%s: cannot append: %s", path, strerror(errno));
    return 0;
}

typedef struct Rows {
    int n, cap;
    float *x, *enc, *dec;
    Arch *archs;
} Rows;

static void rows_add(void *ctx, const float *x, const float *lat, const Arch *a)
{
    Rows *r = ctx;
    if (r->n == r->cap) {
        r->cap = r->cap ? 2 * r->cap : 256;
        r->x = realloc(r->x, (size_t)r->cap * ARCH_FEATURES * sizeof *r->x);
        r->enc = realloc(r->enc, (size_t)r->cap * sizeof *r->enc);
        r->dec = realloc(r->dec, (size_t)r->cap * sizeof *r->dec);
        r->archs = realloc(r->archs, (size_t)r->cap * sizeof *r->archs);
        ASSERT(r->x && r->enc && r->dec && r->archs);
    }
    memcpy(r->x + (size_t)r->n * ARCH_FEATURES, x, ARCH_FEATURES * sizeof *x);
    r->enc[r->n] = lat[0];
    r->dec[r->n] = lat[1];
    r->archs[r->n] = *a;
    r->n++;
}

int latency_csv_read(const char *path, float **x, float **enc_ms, float **dec_ms, Arch **archs,
                     int *n, MosErr *err)
{
    Rows r = { 0 };
    long good;
    int rc = csv_scan(path, &good, rows_add, &r, err);
    if (rc < 0) {
        free(r.x), free(r.enc), free(r.dec), free(r.archs);
        return -1;
    }
    *x = r.x;
    *enc_ms = r.enc;
    *dec_ms = r.dec;
    if (archs)
        *archs = r.archs;
    else
        free(r.archs);
    *n = r.n;
    return 0;
}

int latency_dataset(const LatencyBackend *b, const SearchSpace *space, uint64_t seed, int total,
                    const LatencyOpts *o, const char *path, LatencyProgressFn progress,
                    void *progress_ctx, MosErr *err)
{
    int done = latency_csv_rows(path, err);
    if (done < 0)
        return -1;
    Rng rng;
    rng_seed(&rng, seed);
    Arch a;
    if (done > 0) {   /* skip the rows already measured, checking they are this job's */
        float *x, *enc, *dec;
        Arch *old;
        int n;
        if (latency_csv_read(path, &x, &enc, &dec, &old, &n, err))
            return -1;
        int same = 1;
        for (int i = 0; i < n; i++) {
            arch_sample(space, &rng, &a);
            same &= arch_equal(&a, &old[i]);
        }
        free(x), free(enc), free(dec), free(old);
        if (!same)
            return err_set(err, "%s: its rows were drawn with another seed or space; move it "
                           "away to start a new dataset", path);
    }
    int cap = o->block > 0 ? o->block : 1;
    Arch *blk = malloc((size_t)cap * sizeof *blk);
    LatencyResult *res = malloc((size_t)cap * sizeof *res);
    ASSERT(blk && res);
    int rc = 0, stop = 0;
    while (done < total && !rc && !stop) {
        int n = total - done < cap ? total - done : cap;
        for (int i = 0; i < n; i++)
            arch_sample(space, &rng, &blk[i]);
        double load[1];
        double load1 = getloadavg(load, 1) == 1 ? load[0] : NAN;
        rc = latency_measure_block(b, blk, n, o, res, err);
        for (int i = 0; i < n && !rc; i++) {
            res[i].load1 = load1;
            rc = latency_csv_append(path, &blk[i], &res[i], err);
            done += !rc;
            if (!rc && progress && progress(progress_ctx, done, total, &blk[i], &res[i]))
                stop = 1;   /* the rest of the block is measured: keep it */
        }
    }
    free(blk);
    free(res);
    return rc ? -1 : done;
}

static void add_half_of_min(Choices *c, int qkv_divisor)
{
    int m = c->v[0];
    for (int i = 1; i < c->n; i++)
        m = c->v[i] < m ? c->v[i] : m;
    int h = m / 2;
    if (h < 1 || c->n >= ARCH_MAX_CHOICES || (qkv_divisor && qkv_divisor % h != 0))
        return;
    c->v[c->n++] = h;
}

void latency_space_wider(const SearchSpace *train, SearchSpace *wide)
{
    *wide = *train;
    add_half_of_min(&wide->enc_ffn, 0);
    add_half_of_min(&wide->dec_ffn, 0);
    add_half_of_min(&wide->enc_heads, train->qkv_dim);
    add_half_of_min(&wide->dec_self_heads, train->qkv_dim);
    add_half_of_min(&wide->dec_ende_heads, train->qkv_dim);
}

/* ---- the `mos latency` job ------------------------------------------------------------------ */

static void path_join(char *buf, size_t n, const char *dir, const char *name)
{
    snprintf(buf, n, "%s/%s", dir, name);
}

static json_t *protocol_json(const LatencyJob *job, const LatencyOpts *o)
{
    char seed[24], ref[512] = "none";
    if (o->ref.on)
        arch_format(&o->ref.arch, ref, sizeof ref);
    snprintf(seed, sizeof seed, "%llu", (unsigned long long)job->seed);
    json_t *j = json_pack("{s:s, s:i, s:i, s:i, s:i, s:i, s:f, s:i, s:i, s:s, s:i, s:i, s:s, s:s}",
                          "format", "mos-latency", "src_len", o->src_len, "steps", o->steps,
                          "beam", o->beam, "warmup", o->warmup, "runs", o->runs, "trim", o->trim,
                          "threads", o->threads, "vocab", o->vocab, "seed", seed, "rounds",
                          o->rounds, "block", o->block, "clock",
                          o->clock == LATENCY_CLOCK_CPU ? "cpu" : "wall", "reference", ref);
    if (o->ref.on)   /* how rows were corrected: see shift_runs */
        json_object_set_new(j, "reference_correction", json_string(LATENCY_REF_CORRECTION));
    return j;
}

/* A latency.json written before rounds, block, clock and the drift reference existed measured
 * with HAT's single pass (1, 1, wall, none): the value a key it lacks stands for (a new
 * reference), else NULL. */
static json_t *legacy_value(const char *key)
{
    if (strcmp(key, "rounds") == 0 || strcmp(key, "block") == 0)
        return json_integer(1);
    if (strcmp(key, "reference") == 0)
        return json_string("none");
    if (strcmp(key, "reference_correction") == 0)   /* the reference's first form */
        return json_string("round-scale");
    return strcmp(key, "clock") == 0 ? json_string("wall") : NULL;
}

/* The refusal when latency.json recorded `have` for key where this run asks for `want` (both
 * JSON text): which options give the recorded protocol back, or that none does. */
static int protocol_mismatch(MosErr *err, const char *path, const char *key, const char *have,
                             const char *want)
{
    if (strcmp(key, "reference_correction") == 0)
        return err_set(err, "%s: the data there were measured with reference_correction %s (an "
                       "earlier mos's per-round scaling), this mos shifts rows (%s); measure "
                       "into another run directory", path, have, want);
    const char *hint = strcmp(key, "reference") != 0 ? ""
                       : strcmp(have, "\"none\"") == 0 ? " (--no-reference, latency-reference: "
                                                        "false)"
                       : " (drop --no-reference)";
    return err_set(err, "%s: the data there were measured with %s %s, this run asks for %s; use "
                   "those options%s or another run directory", path, key, have, want, hint);
}

/* latency.json: written on the first run, compared on later ones. */
static int protocol_check(const LatencyJob *job, const LatencyOpts *o, MosErr *err)
{
    char path[4096];
    path_join(path, sizeof path, job->run_dir, "latency.json");
    json_t *want = protocol_json(job, o);
    json_error_t je;
    json_t *have = json_load_file(path, 0, &je);
    int rc = 0;
    if (!have) {
        if (access(path, F_OK) == 0)
            rc = err_set(err, "%s: %s", path, je.text);
        else if (json_dump_file(want, path, JSON_INDENT(1) | JSON_PRESERVE_ORDER) != 0)
            rc = err_set(err, "%s: cannot write", path);
    } else {
        const char *key;
        json_t *v;
        json_object_foreach(want, key, v) {
            json_t *h = json_object_get(have, key);
            json_t *old = h ? json_incref(h) : legacy_value(key);
            if (!old)
                old = json_null();
            int same = json_equal(v, old);
            char *a = same ? NULL : json_dumps(v, JSON_ENCODE_ANY);
            char *b = same ? NULL : json_dumps(old, JSON_ENCODE_ANY);
            json_decref(old);
            if (!same) {
                rc = protocol_mismatch(err, path, key, b, a);
                free(a);
                free(b);
                break;
            }
        }
        json_decref(have);
    }
    json_decref(want);
    return rc;
}

static void opt_int(json_t *root, const char *key, int *v)
{
    json_t *j = json_object_get(root, key);
    if (json_is_integer(j))
        *v = (int)json_integer_value(j);
}

/* The drift reference of a latency.json: "reference" (arch text or "none"; absent: none) and
 * its anchor "reference_enc_ms" / "reference_dec_ms" (absent: NaN, not measured yet). */
static int ref_load(json_t *root, const char *path, LatencyRef *ref, MosErr *err)
{
    memset(ref, 0, sizeof *ref);
    ref->enc_ms = ref->dec_ms = NAN;
    json_t *j = json_object_get(root, "reference");
    if (j && !json_is_string(j))
        return err_set(err, "%s: reference: expected an arch in text form or \"none\"", path);
    const char *text = json_string_value(j);
    if (!text || strcmp(text, "none") == 0)
        return 0;
    MosErr why = {{0}};
    if (arch_parse(text, &ref->arch, &why))
        return err_set(err, "%s: reference: %s", path, why.msg);
    ref->on = 1;
    json_t *e = json_object_get(root, "reference_enc_ms");
    json_t *d = json_object_get(root, "reference_dec_ms");
    if (json_is_number(e) && json_is_number(d))
        ref->enc_ms = json_number_value(e), ref->dec_ms = json_number_value(d);
    return 0;
}

/* Records the anchor o->ref in RUN_DIR/latency.json (rewritten through a temporary file). */
static int ref_save(const char *run_dir, const LatencyRef *ref, MosErr *err)
{
    char path[4096], tmp[4200];
    path_join(path, sizeof path, run_dir, "latency.json");
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    if (!(ref->enc_ms > 0 && ref->dec_ms > 0 && isfinite(ref->enc_ms + ref->dec_ms)))
        return err_set(err, "latency: the drift reference timed %g + %g ms: not a usable anchor",
                       ref->enc_ms, ref->dec_ms);
    json_error_t je;
    json_t *root = json_load_file(path, 0, &je);
    if (!root)
        return err_set(err, "%s: %s", path, je.text);
    int rc = json_object_set_new(root, "reference_enc_ms", json_real(ref->enc_ms)) ||
             json_object_set_new(root, "reference_dec_ms", json_real(ref->dec_ms)) ||
             json_dump_file(root, tmp, JSON_INDENT(1) | JSON_PRESERVE_ORDER);
    json_decref(root);
    if (rc != 0) {
        unlink(tmp);
        return err_set(err, "%s: cannot write", tmp);
    }
    if (rename(tmp, path) != 0) {
        rc = err_set(err, "%s: cannot replace: %s", path, strerror(errno));
        unlink(tmp);
    }
    return rc;
}

int latency_ref_check(const LatencyRef *ref, const SearchSpace *train, MosErr *err)
{
    if (!ref->on)
        return 0;
    SearchSpace wide;
    latency_space_wider(train, &wide);
    MosErr why = {{0}};
    if (arch_validate(&wide, &ref->arch, &why))
        return err_set(err, "latency.json: reference: %s (not an arch of this run's space)",
                       why.msg);
    return 0;
}

/* The anchor from latency.json, or timed now and recorded there (the first run of a job). */
static int ref_anchor_job(const LatencyBackend *b, const char *run_dir, LatencyOpts *o,
                          MosErr *err)
{
    LatencyOpts have;
    latency_opts_default(&have);
    if (latency_opts_load(run_dir, &have, err) < 0)
        return -1;
    if (have.ref.on && isfinite(have.ref.enc_ms) && isfinite(have.ref.dec_ms)) {
        o->ref.enc_ms = have.ref.enc_ms;
        o->ref.dec_ms = have.ref.dec_ms;
        return 0;
    }
    return latency_ref_anchor(b, o, err) || ref_save(run_dir, &o->ref, err) ? -1 : 0;
}

int latency_opts_load(const char *run_dir, LatencyOpts *o, MosErr *err)
{
    char path[4096];
    path_join(path, sizeof path, run_dir, "latency.json");
    if (access(path, F_OK) != 0)
        return 0;
    json_error_t je;
    json_t *root = json_load_file(path, 0, &je);
    const char *format = json_string_value(json_object_get(root, "format"));
    if (!root || !format || strcmp(format, "mos-latency") != 0) {
        json_decref(root);
        return err_set(err, "%s: not a latency.json (format mos-latency)", path);
    }
    opt_int(root, "src_len", &o->src_len);
    opt_int(root, "steps", &o->steps);
    opt_int(root, "beam", &o->beam);
    opt_int(root, "warmup", &o->warmup);
    opt_int(root, "runs", &o->runs);
    opt_int(root, "threads", &o->threads);
    opt_int(root, "vocab", &o->vocab);
    o->rounds = o->block = 1;
    opt_int(root, "rounds", &o->rounds);
    opt_int(root, "block", &o->block);
    json_t *trim = json_object_get(root, "trim");
    if (json_is_number(trim))
        o->trim = json_number_value(trim);
    const char *clock = json_string_value(json_object_get(root, "clock"));
    o->clock = clock && strcmp(clock, "cpu") == 0 ? LATENCY_CLOCK_CPU : LATENCY_CLOCK_WALL;
    int rc = ref_load(root, path, &o->ref, err);
    json_decref(root);
    return rc || check_opts(o, err) ? -1 : 1;
}

typedef struct Offset {
    LatencyProgressFn fn;
    void *ctx;
    int base, total;
    LatencyJobReport *rep;    /* load and CPU share of the rows measured */
    double share_sum;
} Offset;

/* Widens [*lo, *hi] (NaN: empty) to hold v, when v is a number; hi may be NULL. */
static void range_add(double *lo, double *hi, double v)
{
    if (!isfinite(v))
        return;
    if (!(*lo <= v))
        *lo = v;
    if (hi && !(*hi >= v))
        *hi = v;
}

static int offset_progress(void *ctx, int done, int total, const Arch *a, const LatencyResult *r)
{
    (void)total;
    Offset *o = ctx;
    LatencyJobReport *rep = o->rep;
    rep->measured++;
    range_add(&rep->load_min, &rep->load_max, r->load1);
    range_add(&rep->speed_min, &rep->speed_max, r->speed);
    range_add(&rep->cpu_share_min, NULL, r->cpu_share);
    if (isfinite(r->cpu_share)) {
        o->share_sum += r->cpu_share;
        rep->cpu_share_mean = o->share_sum / rep->measured;
    }
    return o->fn ? o->fn(o->ctx, o->base + done, o->total, a, r) : 0;
}

/* Measures one resumable file; returns 1 when the caller asked to stop. */
static int job_measure(const LatencyBackend *b, const LatencyJob *job, const LatencyOpts *o,
                       const SearchSpace *space, uint64_t seed, int n, const char *name,
                       Offset *off, MosErr *err)
{
    char path[4096];
    path_join(path, sizeof path, job->run_dir, name);
    int done = latency_dataset(b, space, seed, n, o, path, offset_progress, off, err);
    if (done < 0)
        return -1;
    off->base += n;
    return done < n;
}

static int job_fit(const LatencyJob *job, Predictor *p, LatencyJobReport *rep, MosErr *err)
{
    char path[4096];
    path_join(path, sizeof path, job->run_dir, "latency.csv");
    float *x, *enc, *dec;
    int n;
    if (latency_csv_read(path, &x, &enc, &dec, NULL, &n, err))
        return -1;
    for (int i = 0; i < n; i++)
        enc[i] += dec[i];   /* the predictor's target: encoder + decoder */
    float norm[ARCH_FEATURES];
    arch_feature_norms(&job->space, norm);
    predictor_init(p, job->hidden, job->hidden_layers, norm, job->fit.seed);
    int rc = predictor_train(p, x, enc, n, &job->fit, &rep->fit, err);
    rep->rows = n;
    free(x), free(enc), free(dec);
    if (rc)
        return -1;
    path_join(path, sizeof path, job->run_dir, "latency-predictor.json");
    return predictor_save(p, &rep->fit, path, err);
}

static int job_verify(const LatencyJob *job, const Predictor *p, LatencyJobReport *rep,
                      MosErr *err)
{
    char a[4096], b[4096];
    path_join(a, sizeof a, job->run_dir, "latency-verify.csv");
    path_join(b, sizeof b, job->run_dir, "latency-verify-repeat.csv");
    float *x1, *e1, *d1, *x2, *e2, *d2;
    int n1, n2;
    if (latency_csv_read(a, &x1, &e1, &d1, NULL, &n1, err))
        return -1;
    if (latency_csv_read(b, &x2, &e2, &d2, NULL, &n2, err)) {
        free(x1), free(e1), free(d1);
        return -1;
    }
    int n = n1 < n2 ? n1 : n2;
    double noise = 0, mean = 0;
    for (int i = 0; i < n1; i++)
        e1[i] += d1[i];
    for (int i = 0; i < n; i++) {
        noise += fabs(e2[i] + d2[i] - e1[i]) / e1[i];
        mean += e1[i];
    }
    rep->verify_n = n1;
    rep->verify = predictor_evaluate(p, x1, e1, n1);
    for (int i = 0; i < n; i++)
        e2[i] = 0.5f * (e1[i] + e2[i] + d2[i]);
    rep->verify_mean = predictor_evaluate(p, x1, e2, n);
    rep->noise_mapd_pct = n ? 100.0 * noise / n : NAN;
    rep->mean_ms = n ? mean / n : NAN;
    free(x1), free(e1), free(d1), free(x2), free(e2), free(d2);
    return 0;
}

int latency_job_run(const LatencyBackend *b, const LatencyJob *job, LatencyProgressFn progress,
                    void *progress_ctx, LatencyJobReport *rep, MosErr *err)
{
    memset(rep, 0, sizeof *rep);
    rep->noise_mapd_pct = rep->mean_ms = NAN;
    rep->load_min = rep->load_max = rep->cpu_share_min = rep->cpu_share_mean = NAN;
    rep->speed_min = rep->speed_max = rep->ref_enc_ms = rep->ref_dec_ms = NAN;
    if (mkdir(job->run_dir, 0777) != 0 && errno != EEXIST)
        return err_set(err, "%s: cannot create: %s", job->run_dir, strerror(errno));
    LatencyOpts o = job->opts;
    if (o.ref.on)
        arch_middle(&job->space, &o.ref.arch);
    if (protocol_check(job, &o, err) || (o.ref.on && ref_anchor_job(b, job->run_dir, &o, err)))
        return -1;
    rep->ref_enc_ms = o.ref.on ? o.ref.enc_ms : NAN;
    rep->ref_dec_ms = o.ref.on ? o.ref.dec_ms : NAN;
    if (o.ref.on)
        arch_format(&o.ref.arch, rep->ref_arch, sizeof rep->ref_arch);
    SearchSpace wide;
    latency_space_wider(&job->space, &wide);
    Offset off = { progress, progress_ctx, 0, job->archs + 2 * job->verify, rep, 0 };
    int rc = job_measure(b, job, &o, &wide, job->seed, job->archs, "latency.csv", &off, err);
    if (rc)
        return rc;
    Predictor p;
    if (job_fit(job, &p, rep, err))
        return -1;
    if (job->verify > 0) {
        rc = job_measure(b, job, &o, &job->space, job->seed + 1, job->verify,
                         "latency-verify.csv", &off, err);
        if (!rc)
            rc = job_measure(b, job, &o, &job->space, job->seed + 1, job->verify,
                             "latency-verify-repeat.csv", &off, err);
        if (!rc)
            rc = job_verify(job, &p, rep, err);
    }
    predictor_done(&p);
    return rc;
}
