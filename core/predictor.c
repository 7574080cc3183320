/* HAT's latency predictor (see predictor.h): batched forward/backward on cblas, Adam, the split
 * and metrics, and the JSON file. Does not measure anything (core/latency.c does). Invariant:
 * params is one block cut into W (out, in) row-major and b (out) per linear, in layer order; the
 * gradient and Adam moments use the same layout. */
#include "predictor.h"

#include <cblas.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define PREDICTOR_MAX_HIDDEN 2048

void predictor_init(Predictor *p, int hidden, int hidden_layers,
                    const float feature_norm[ARCH_FEATURES], uint64_t seed)
{
    ASSERT(hidden > 0 && hidden <= PREDICTOR_MAX_HIDDEN);
    ASSERT(hidden_layers >= 0 && hidden_layers + 2 <= PREDICTOR_MAX_LINEARS);
    memset(p, 0, sizeof *p);
    p->hidden = hidden;
    p->hidden_layers = hidden_layers;
    p->nlin = hidden_layers + 2;
    size_t total = 0;
    for (int l = 0; l < p->nlin; l++) {
        p->dim_in[l] = l == 0 ? ARCH_FEATURES : hidden;
        p->dim_out[l] = l == p->nlin - 1 ? 1 : hidden;
        total += (size_t)p->dim_in[l] * p->dim_out[l] + p->dim_out[l];
    }
    p->nparams = total;
    p->params = calloc(total, sizeof *p->params);
    ASSERT(p->params);
    Rng r;
    rng_seed(&r, seed);
    float *q = p->params;
    for (int l = 0; l < p->nlin; l++) {
        size_t nw = (size_t)p->dim_in[l] * p->dim_out[l];
        p->w[l] = q;
        p->b[l] = q + nw;
        float bound = 1.0f / sqrtf((float)p->dim_in[l]);
        for (size_t i = 0; i < nw + (size_t)p->dim_out[l]; i++)
            q[i] = (2.0f * rng_float(&r) - 1.0f) * bound;
        q += nw + (size_t)p->dim_out[l];
    }
    memcpy(p->feature_norm, feature_norm, sizeof p->feature_norm);
    p->lat_norm_ms = 1.0f;
}

void predictor_done(Predictor *p)
{
    free(p->params);
    memset(p, 0, sizeof *p);
}

/* ---- forward and backward ------------------------------------------------------------------ */

/* Activations for batches of up to B rows: xn (B, 10), act[l] (B, dim_out[l]) after ReLU (the
 * last one is the linear output), two (B, H) gradient buffers. */
typedef struct Work {
    int B;
    float *xn;
    float *act[PREDICTOR_MAX_LINEARS];
    float *g0, *g1;
} Work;

static void work_init(Work *w, const Predictor *p, int B)
{
    memset(w, 0, sizeof *w);
    w->B = B;
    w->xn = malloc((size_t)B * ARCH_FEATURES * sizeof(float));
    for (int l = 0; l < p->nlin; l++)
        w->act[l] = malloc((size_t)B * p->dim_out[l] * sizeof(float));
    w->g0 = malloc((size_t)B * p->hidden * sizeof(float));
    w->g1 = malloc((size_t)B * p->hidden * sizeof(float));
    ASSERT(w->xn && w->g0 && w->g1);
    for (int l = 0; l < p->nlin; l++)
        ASSERT(w->act[l]);
}

static void work_done(Work *w, const Predictor *p)
{
    free(w->xn);
    for (int l = 0; l < p->nlin; l++)
        free(w->act[l]);
    free(w->g0);
    free(w->g1);
}

/* x (B, 10) raw -> w->act[nlin-1] (B, 1) normalised latency. */
static void mlp_forward(const Predictor *p, Work *w, const float *x, int B)
{
    ASSERT(B <= w->B);
    for (int i = 0; i < B; i++)
        for (int k = 0; k < ARCH_FEATURES; k++)
            w->xn[i * ARCH_FEATURES + k] = x[i * ARCH_FEATURES + k] / p->feature_norm[k];
    const float *in = w->xn;
    for (int l = 0; l < p->nlin; l++) {
        int NI = p->dim_in[l], NO = p->dim_out[l];
        float *out = w->act[l];
        for (int i = 0; i < B; i++)
            memcpy(out + (size_t)i * NO, p->b[l], (size_t)NO * sizeof(float));
        /* out (B, NO) += in (B, NI) . W^T, W is (NO, NI) */
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, B, NO, NI, 1.0f, in, NI, p->w[l], NI,
                    1.0f, out, NO);
        if (l < p->nlin - 1)
            for (size_t i = 0; i < (size_t)B * NO; i++)
                out[i] = out[i] > 0.0f ? out[i] : 0.0f;
        in = out;
    }
}

/* MSE backward. d loss / d yhat = 2 (yhat - t) / B. For each linear, out = in W^T + b:
 * dW += dout^T in, db += column sums of dout, din = dout W; through ReLU din *= (act > 0).
 * grad (nparams) accumulates. */
static void mlp_backward(const Predictor *p, Work *w, const float *t, int B, float *grad)
{
    float *dout = w->g0, *din = w->g1;
    const float *yhat = w->act[p->nlin - 1];
    for (int i = 0; i < B; i++)
        dout[i] = 2.0f * (yhat[i] - t[i]) / (float)B;
    for (int l = p->nlin - 1; l >= 0; l--) {
        int NI = p->dim_in[l], NO = p->dim_out[l];
        const float *in = l == 0 ? w->xn : w->act[l - 1];
        float *gw = grad + (p->w[l] - p->params), *gb = grad + (p->b[l] - p->params);
        /* gw (NO, NI) += dout^T (NO, B) . in (B, NI) */
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, NO, NI, B, 1.0f, dout, NO, in, NI,
                    1.0f, gw, NI);
        for (int i = 0; i < B; i++)
            for (int o = 0; o < NO; o++)
                gb[o] += dout[(size_t)i * NO + o];
        if (l == 0)
            break;
        /* din (B, NI) = dout (B, NO) . W (NO, NI), then the ReLU of the layer below */
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, B, NI, NO, 1.0f, dout, NO, p->w[l],
                    NI, 0.0f, din, NI);
        for (size_t i = 0; i < (size_t)B * NI; i++)
            if (in[i] <= 0.0f)
                din[i] = 0.0f;
        float *tmp = dout;
        dout = din;
        din = tmp;
    }
}

static double batch_loss(const Predictor *p, const Work *w, const float *t, int B)
{
    const float *yhat = w->act[p->nlin - 1];
    double s = 0;
    for (int i = 0; i < B; i++)
        s += ((double)yhat[i] - t[i]) * ((double)yhat[i] - t[i]);
    return s / B;
}

double predictor_loss_grad(const Predictor *p, const float *x, const float *y_ms, int B,
                           float *grad)
{
    Work w;
    work_init(&w, p, B);
    float *t = malloc((size_t)B * sizeof *t);
    ASSERT(t);
    for (int i = 0; i < B; i++)
        t[i] = y_ms[i] / p->lat_norm_ms;
    mlp_forward(p, &w, x, B);
    double loss = batch_loss(p, &w, t, B);
    memset(grad, 0, p->nparams * sizeof *grad);
    mlp_backward(p, &w, t, B, grad);
    free(t);
    work_done(&w, p);
    return loss;
}

/* One row without allocation (the search calls this for every candidate): sgemv per layer. */
double predictor_predict_raw(const Predictor *p, const float raw[ARCH_FEATURES])
{
    float a[PREDICTOR_MAX_HIDDEN], b[PREDICTOR_MAX_HIDDEN];
    for (int k = 0; k < ARCH_FEATURES; k++)
        a[k] = raw[k] / p->feature_norm[k];
    float *in = a, *out = b;
    for (int l = 0; l < p->nlin; l++) {
        int NI = p->dim_in[l], NO = p->dim_out[l];
        memcpy(out, p->b[l], (size_t)NO * sizeof(float));
        cblas_sgemv(CblasRowMajor, CblasNoTrans, NO, NI, 1.0f, p->w[l], NI, in, 1, 1.0f, out, 1);
        if (l < p->nlin - 1)
            for (int o = 0; o < NO; o++)
                out[o] = out[o] > 0.0f ? out[o] : 0.0f;
        float *tmp = in;
        in = out;
        out = tmp;
    }
    return (double)in[0] * p->lat_norm_ms;
}

double predictor_predict(const Predictor *p, const Arch *a)
{
    float raw[ARCH_FEATURES];
    arch_features_raw(a, raw);
    return predictor_predict_raw(p, raw);
}

PredictorSplitMetrics predictor_evaluate(const Predictor *p, const float *x, const float *y_ms,
                                         int n)
{
    PredictorSplitMetrics m = { n, 0, 0 };
    double se = 0, ape = 0;
    for (int i = 0; i < n; i++) {
        double yhat = predictor_predict_raw(p, x + (size_t)i * ARCH_FEATURES);
        double d = yhat - y_ms[i];
        se += d * d;
        ape += fabs(d) / fabs(y_ms[i]);
    }
    if (n > 0) {
        m.rmse_ms = sqrt(se / n);
        m.mapd_pct = 100.0 * ape / n;
    }
    return m;
}

/* ---- training ------------------------------------------------------------------------------ */

static void shuffle(int *idx, int n, Rng *r)
{
    for (int i = n - 1; i > 0; i--) {
        int j = (int)rng_below(r, (uint32_t)(i + 1));
        int t = idx[i];
        idx[i] = idx[j];
        idx[j] = t;
    }
}

static void gather(const float *x, const float *y, const int *idx, int n, float *gx, float *gy)
{
    for (int i = 0; i < n; i++) {
        memcpy(gx + (size_t)i * ARCH_FEATURES, x + (size_t)idx[i] * ARCH_FEATURES,
               ARCH_FEATURES * sizeof(float));
        gy[i] = y[idx[i]];
    }
}

/* Adam (beta 0.9 / 0.999, eps 1e-8, PyTorch's defaults as HAT uses), bias-corrected. */
static void adam_step(Predictor *p, const float *g, float *m, float *v, int t, float lr)
{
    const float b1 = 0.9f, b2 = 0.999f, eps = 1e-8f;
    float c1 = 1.0f - powf(b1, (float)t), c2 = 1.0f - powf(b2, (float)t);
    for (size_t i = 0; i < p->nparams; i++) {
        m[i] = b1 * m[i] + (1 - b1) * g[i];
        v[i] = b2 * v[i] + (1 - b2) * g[i] * g[i];
        p->params[i] -= lr * (m[i] / c1) / (sqrtf(v[i] / c2) + eps);
    }
}

static int check_data(const float *x, const float *y_ms, int n, MosErr *err)
{
    if (n < 10)
        return err_set(err, "latency predictor: %d rows, at least 10 are needed", n);
    for (int i = 0; i < n; i++) {
        if (!isfinite(y_ms[i]) || y_ms[i] <= 0)
            return err_set(err, "latency predictor: row %d: latency %g ms is not positive", i,
                           (double)y_ms[i]);
        for (int k = 0; k < ARCH_FEATURES; k++)
            if (!isfinite(x[(size_t)i * ARCH_FEATURES + k]))
                return err_set(err, "latency predictor: row %d: feature %d is not finite", i,
                               k + 1);
    }
    return 0;
}

/* Validation rows for select_best: raw features and ms. */
typedef struct Held {
    const float *x, *y_ms;
    int n;
} Held;

static void train_loop(Predictor *p, const float *x, const float *t, int n, const Held *valid,
                       const PredictorTrainConfig *cfg, Rng *r, double *final_loss,
                       int *best_step)
{
    int select = cfg->select_best && valid->n > 0;
    float *best = select ? malloc(p->nparams * sizeof *best) : NULL;
    double best_mapd = INFINITY;
    *best_step = cfg->steps;
    int B = cfg->batch < n ? cfg->batch : n;
    float *g = calloc(p->nparams, sizeof *g), *m = calloc(p->nparams, sizeof *m);
    float *v = calloc(p->nparams, sizeof *v);
    float *bx = malloc((size_t)B * ARCH_FEATURES * sizeof *bx);
    float *bt = malloc((size_t)B * sizeof *bt);
    int *idx = malloc((size_t)n * sizeof *idx);
    ASSERT(g && m && v && bx && bt && idx);
    for (int i = 0; i < n; i++)
        idx[i] = i;
    Work w;
    work_init(&w, p, B);
    for (int step = 1; step <= cfg->steps; step++) {
        /* B distinct rows: a partial Fisher-Yates over the training indices */
        for (int i = 0; i < B; i++) {
            int j = i + (int)rng_below(r, (uint32_t)(n - i));
            int tmp = idx[i];
            idx[i] = idx[j];
            idx[j] = tmp;
        }
        gather(x, t, idx, B, bx, bt);
        mlp_forward(p, &w, bx, B);
        *final_loss = batch_loss(p, &w, bt, B);
        memset(g, 0, p->nparams * sizeof *g);
        mlp_backward(p, &w, bt, B, g);
        adam_step(p, g, m, v, step, cfg->lr);
        if (select && (step % 100 == 0 || step == cfg->steps)) {
            double mapd = predictor_evaluate(p, valid->x, valid->y_ms, valid->n).mapd_pct;
            if (mapd < best_mapd) {
                best_mapd = mapd;
                *best_step = step;
                memcpy(best, p->params, p->nparams * sizeof *best);
            }
        }
    }
    if (select && best_mapd < INFINITY)
        memcpy(p->params, best, p->nparams * sizeof *best);
    free(best);
    work_done(&w, p);
    free(g);
    free(m);
    free(v);
    free(bx);
    free(bt);
    free(idx);
}

int predictor_train(Predictor *p, const float *x, const float *y_ms, int n,
                    const PredictorTrainConfig *cfg, PredictorReport *rep, MosErr *err)
{
    if (check_data(x, y_ms, n, err))
        return -1;
    if (cfg->batch < 1 || cfg->steps < 0 || !(cfg->lr > 0))
        return err_set(err, "latency predictor: batch %d, steps %d, lr %g: need batch >= 1, "
                       "steps >= 0, lr > 0", cfg->batch, cfg->steps, (double)cfg->lr);
    Rng r;
    rng_seed(&r, cfg->seed ^ 0x5eedf00dULL);
    int *idx = malloc((size_t)n * sizeof *idx);
    float *sx = malloc((size_t)n * ARCH_FEATURES * sizeof *sx);
    float *sy = malloc((size_t)n * sizeof *sy), *st = malloc((size_t)n * sizeof *st);
    ASSERT(idx && sx && sy && st);
    for (int i = 0; i < n; i++)
        idx[i] = i;
    shuffle(idx, n, &r);
    gather(x, y_ms, idx, n, sx, sy);
    int n_train = n * 8 / 10, n_valid = n / 10, n_test = n - n_train - n_valid;
    float mx = 0;
    for (int i = 0; i < n_train; i++)
        mx = sy[i] > mx ? sy[i] : mx;
    p->lat_norm_ms = mx;
    for (int i = 0; i < n_train; i++)
        st[i] = sy[i] / mx;
    double final_loss = 0;
    int best_step = 0;
    Held valid = { sx + (size_t)n_train * ARCH_FEATURES, sy + n_train, n_valid };
    train_loop(p, sx, st, n_train, &valid, cfg, &r, &final_loss, &best_step);
    if (rep) {
        rep->train = predictor_evaluate(p, sx, sy, n_train);
        rep->valid = predictor_evaluate(p, sx + (size_t)n_train * ARCH_FEATURES, sy + n_train,
                                        n_valid);
        rep->test = predictor_evaluate(p, sx + (size_t)(n_train + n_valid) * ARCH_FEATURES,
                                       sy + n_train + n_valid, n_test);
        rep->final_loss = final_loss;
        rep->best_step = best_step;
    }
    free(idx);
    free(sx);
    free(sy);
    free(st);
    return 0;
}

/* ---- file ---------------------------------------------------------------------------------- */

#define PREDICTOR_FORMAT "mos-latency-predictor"

static json_t *float_array(const float *v, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(a, json_real(v[i]));
    return a;
}

static json_t *metrics_json(const PredictorSplitMetrics *m)
{
    return json_pack("{s:i, s:f, s:f}", "n", m->n, "rmse_ms", m->rmse_ms, "mapd_pct",
                     m->mapd_pct);
}

int predictor_save(const Predictor *p, const PredictorReport *rep, const char *path, MosErr *err)
{
    json_t *root = json_object(), *layers = json_array();
    json_object_set_new(root, "format", json_string(PREDICTOR_FORMAT));
    json_object_set_new(root, "version", json_integer(1));
    json_object_set_new(root, "hidden", json_integer(p->hidden));
    json_object_set_new(root, "hidden_layers", json_integer(p->hidden_layers));
    json_object_set_new(root, "feature_norm", float_array(p->feature_norm, ARCH_FEATURES));
    json_object_set_new(root, "lat_norm_ms", json_real(p->lat_norm_ms));
    if (rep)
        json_object_set_new(root, "metrics", json_pack("{s:o, s:o, s:o, s:i}",
                            "train", metrics_json(&rep->train), "valid",
                            metrics_json(&rep->valid), "test", metrics_json(&rep->test),
                            "kept_step", rep->best_step));
    for (int l = 0; l < p->nlin; l++)
        json_array_append_new(layers, json_pack("{s:i, s:i, s:o, s:o}", "in", p->dim_in[l],
                              "out", p->dim_out[l], "w",
                              float_array(p->w[l], (size_t)p->dim_in[l] * p->dim_out[l]), "b",
                              float_array(p->b[l], (size_t)p->dim_out[l])));
    json_object_set_new(root, "layers", layers);
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    int rc = json_dump_file(root, tmp, JSON_COMPACT | JSON_REAL_PRECISION(9) |
                            JSON_PRESERVE_ORDER);
    json_decref(root);
    if (rc != 0 || rename(tmp, path) != 0) {
        unlink(tmp);
        return err_set(err, "%s: cannot write the latency predictor", path);
    }
    return 0;
}

static int load_floats(json_t *a, float *out, size_t n, const char *what, MosErr *err)
{
    if (!json_is_array(a) || json_array_size(a) != n)
        return err_set(err, "'%s' is not a list of %zu numbers", what, n);
    for (size_t i = 0; i < n; i++) {
        json_t *e = json_array_get(a, i);
        if (!json_is_number(e))
            return err_set(err, "'%s'[%zu] is not a number", what, i);
        out[i] = (float)json_number_value(e);
    }
    return 0;
}

static int load_body(Predictor *p, json_t *root, MosErr *err)
{
    const char *format = json_string_value(json_object_get(root, "format"));
    if (!format || strcmp(format, PREDICTOR_FORMAT) != 0)
        return err_set(err, "not a latency predictor (format is not '%s')", PREDICTOR_FORMAT);
    json_t *h = json_object_get(root, "hidden"), *hl = json_object_get(root, "hidden_layers");
    if (!json_is_integer(h) || json_integer_value(h) < 1 ||
        json_integer_value(h) > PREDICTOR_MAX_HIDDEN || !json_is_integer(hl) ||
        json_integer_value(hl) < 0 || json_integer_value(hl) + 2 > PREDICTOR_MAX_LINEARS)
        return err_set(err, "'hidden' / 'hidden_layers' missing or out of range");
    float norm[ARCH_FEATURES];
    if (load_floats(json_object_get(root, "feature_norm"), norm, ARCH_FEATURES, "feature_norm",
                    err))
        return -1;
    predictor_init(p, (int)json_integer_value(h), (int)json_integer_value(hl), norm, 0);
    json_t *ln = json_object_get(root, "lat_norm_ms"), *layers = json_object_get(root, "layers");
    if (!json_is_number(ln) || !(json_number_value(ln) > 0))
        return err_set(err, "'lat_norm_ms' is not a positive number");
    p->lat_norm_ms = (float)json_number_value(ln);
    if (!json_is_array(layers) || json_array_size(layers) != (size_t)p->nlin)
        return err_set(err, "'layers' is not a list of %d layers", p->nlin);
    for (int l = 0; l < p->nlin; l++) {
        json_t *L = json_array_get(layers, (size_t)l);
        if (load_floats(json_object_get(L, "w"), p->w[l], (size_t)p->dim_in[l] * p->dim_out[l],
                        "w", err) ||
            load_floats(json_object_get(L, "b"), p->b[l], (size_t)p->dim_out[l], "b", err)) {
            err_prefix(err, "layer %d", l);
            return -1;
        }
    }
    return 0;
}

int predictor_load(Predictor *p, const char *path, MosErr *err)
{
    json_error_t je;
    json_t *root = json_load_file(path, 0, &je);
    memset(p, 0, sizeof *p);
    if (!root && je.line < 1)
        return err_set(err, "%s: %s", path, je.text);
    if (!root)
        return err_set(err, "%s:%d: %s", path, je.line, je.text);
    int rc = load_body(p, root, err);
    json_decref(root);
    if (rc) {
        predictor_done(p);
        err_prefix(err, "%s", path);
    }
    return rc;
}
