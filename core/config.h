/* A run's configuration: the search space (HAT's YAML keys, so HAT's space files read
 * unchanged), the model options, MoS options and training options. One table of run options in
 * config.c (name, type, default, range, help) drives YAML parsing, validation, `--help` text and
 * the config echoed to the dashboard; the defaults in that table are the default config. */
#ifndef MOS_CONFIG_H
#define MOS_CONFIG_H

#include "arch.h"
#include "err.h"

typedef enum MosKind { MOS_NONE, MOS_LAYER, MOS_NEURON, MOS_KIND_COUNT } MosKind;
typedef enum SampleRule { SAMPLE_UNIFORM, SAMPLE_SANDWICH, SAMPLE_RULE_COUNT } SampleRule;

typedef struct ModelConfig {
    SearchSpace space;        /* maxima + choice lists */
    int vocab;                /* shared source/target/output vocabulary (from data/manifest.json) */
    int pad_id, bos_id, eos_id, unk_id;
    int max_positions;        /* longest sequence the position table covers */
    int pre_ln;               /* 0: post-LN as HAT (default), 1: pre-LN */
    float dropout;            /* p_max; a subnet uses dropout * d_sampled / d_max */
    float attn_dropout;
    float label_smoothing;    /* epsilon, 0.1 */
    MosKind mos;              /* mos: none | layer | neuron */
    int mos_experts;          /* m (1 when mos is none) */
    int router_hidden;        /* router MLP hidden size, 128 */
    int router_const_input;   /* 1: the router sees a constant input (ablation control) */
} ModelConfig;

typedef struct TrainConfig {
    int max_tokens;           /* tokens per batch (source or target side, larger) */
    int update_freq;          /* batches accumulated per update */
    int max_update;           /* total updates */
    int warmup_updates;
    float lr;                 /* peak */
    float warmup_init_lr;     /* 1e-7 */
    float min_lr;             /* end of the cosine */
    float adam_beta1, adam_beta2, adam_eps;
    float clip_norm;          /* 0: none */
    SampleRule sample;        /* uniform (HAT) or sandwich (largest + smallest + random) */
    int valid_every;          /* updates between validations */
    int save_every;           /* updates between checkpoints */
    int valid_sentences;      /* validation subset size used during training (0: all) */
    unsigned long long seed;
    int threads;              /* OpenBLAS threads for this job */
} TrainConfig;

typedef struct RunConfig {
    ModelConfig model;
    TrainConfig train;
} RunConfig;

#endif
