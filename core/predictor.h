/* HAT's latency predictor: an MLP 10 -> H -> ... -> H -> 1 with ReLU (HAT: H = 400, 3 hidden
 * H x H layers, five linears in all) on the 10 architecture features divided by fixed
 * normalisers, predicting (encoder + decoder latency) / lat_norm. Trained with Adam on MSE.
 * The predictor carries its normalisers, so a saved file predicts on its own. */
#ifndef MOS_PREDICTOR_H
#define MOS_PREDICTOR_H

#include <stdint.h>

#include "arch.h"
#include "err.h"

#define PREDICTOR_MAX_LINEARS 8

typedef struct Predictor {
    int hidden;                            /* H */
    int hidden_layers;                     /* H x H layers (HAT: 3) */
    int nlin;                              /* linears: hidden_layers + 2 */
    int dim_in[PREDICTOR_MAX_LINEARS];     /* per linear: in and out widths */
    int dim_out[PREDICTOR_MAX_LINEARS];
    size_t nparams;
    float *params;                         /* one block: per linear W (out, in) then b (out) */
    float *w[PREDICTOR_MAX_LINEARS];
    float *b[PREDICTOR_MAX_LINEARS];
    float feature_norm[ARCH_FEATURES];     /* raw feature k is divided by feature_norm[k] */
    float lat_norm_ms;                     /* latency target = ms / lat_norm_ms */
} Predictor;

typedef struct PredictorTrainConfig {
    float lr;          /* Adam step size (HAT 1e-5; see docs/search.md for what converges) */
    int batch;         /* HAT 128 */
    int steps;         /* HAT 5000 */
    uint64_t seed;     /* init, split shuffle and batches */
    int select_best;   /* 1: keep the weights with the lowest validation MAPD, checked every
                        * 100 steps (noisy tables overfit); 0: the last weights, as HAT */
} PredictorTrainConfig;

/* Errors on one split: root-mean-square error in ms and mean absolute percentage deviation. */
typedef struct PredictorSplitMetrics {
    int n;
    double rmse_ms;
    double mapd_pct;
} PredictorSplitMetrics;

typedef struct PredictorReport {
    PredictorSplitMetrics train, valid, test;
    double final_loss;   /* MSE on the normalised target over the last step's batch */
    int best_step;       /* step whose weights were kept (steps when select_best is 0) */
} PredictorReport;

/* Allocates the MLP and initialises it as PyTorch's nn.Linear does (U(-1/sqrt(in), 1/sqrt(in))
 * for weights and biases) from seed. Normalisers: feature_norm from the caller, lat_norm_ms 1
 * until training sets it. */
void predictor_init(Predictor *p, int hidden, int hidden_layers,
                    const float feature_norm[ARCH_FEATURES], uint64_t seed);
void predictor_done(Predictor *p);

/* Predicted total latency in ms of one architecture / of raw feature rows. */
double predictor_predict(const Predictor *p, const Arch *a);
double predictor_predict_raw(const Predictor *p, const float raw[ARCH_FEATURES]);

/* Fits on n rows of raw features x (n, 10) and total latencies y_ms (n): a seeded shuffle, 80/10/10
 * train/valid/test split, lat_norm_ms = max of the training latencies, Adam on MSE with batches
 * drawn without replacement within a batch. Fills rep (may be NULL). -1 when n < 10 or a value is
 * not finite. */
int predictor_train(Predictor *p, const float *x, const float *y_ms, int n,
                    const PredictorTrainConfig *cfg, PredictorReport *rep, MosErr *err);

/* Metrics of the current predictor on n rows. */
PredictorSplitMetrics predictor_evaluate(const Predictor *p, const float *x, const float *y_ms,
                                         int n);

/* Loss and gradient of the MSE on the normalised target over a batch of B rows (x normalised
 * inside); grad (nparams) is overwritten. Exposed for the finite-difference test. */
double predictor_loss_grad(const Predictor *p, const float *x, const float *y_ms, int B,
                           float *grad);

/* latency-predictor.json: dims, normalisers, weights (as JSON arrays), written to a temporary
 * file and renamed. load refuses a file of another format with the reason. */
int predictor_save(const Predictor *p, const PredictorReport *rep, const char *path, MosErr *err);
int predictor_load(Predictor *p, const char *path, MosErr *err);

#endif
