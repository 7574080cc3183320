/* A run's configuration: the search space (HAT's YAML keys, so HAT's space files read
 * unchanged), the model options, MoS options and training options. One table of run options in
 * config.c (name, type, default, range, help) drives YAML parsing, validation, `--help` text and
 * the config echoed to the dashboard; the defaults in that table are the default config. */
#ifndef MOS_CONFIG_H
#define MOS_CONFIG_H

#include "arch.h"
#include "err.h"

#include <stddef.h>
#include <stdint.h>

typedef enum MosKind { MOS_NONE, MOS_LAYER, MOS_NEURON, MOS_KIND_COUNT } MosKind;
typedef enum RouterInput { ROUTER_INPUT_RAW, ROUTER_INPUT_CENTRED, ROUTER_INPUT_COUNT } RouterInput;
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
    RouterInput router_input; /* raw: feature / space max (HAT); centred: [-1, 1] over choices */
    float router_lr_scale;    /* router params are stored / this and used * this: Adam LR * this
                                 (0, as in a zeroed config, means 1) */
    float router_init_scale;  /* multiplies the init range of the router's last layer (0: 1) */
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
    int valid_bleu;           /* valid sentences decoded (greedy) for BLEU at each validation */
} TrainConfig;

/* The stages after training as the worker's pipeline runs them (`mos latency` / `mos search`
 * options override them one by one). */
typedef enum StageSearchAlgo { STAGE_SEARCH_EVO, STAGE_SEARCH_NSGA2, STAGE_SEARCH_ALGO_COUNT }
    StageSearchAlgo;

typedef enum StageLatencyClock { STAGE_CLOCK_WALL, STAGE_CLOCK_CPU, STAGE_CLOCK_COUNT }
    StageLatencyClock;

typedef struct StageConfig {
    int latency_archs;        /* architectures measured into latency.csv */
    int latency_verify;       /* fresh architectures measured twice to check the predictor */
    int latency_runs;         /* timed runs per part (10 % dropped at each end) */
    int latency_warmup;       /* untimed runs per part */
    int latency_beam;         /* beam hypotheses in the timed decoder batch (HAT 5) */
    int latency_fit_steps;    /* Adam steps of the latency predictor fit (HAT 5000) */
    StageSearchAlgo search_algo;
    int search_iterations;    /* generations after the initial population */
    int search_population, search_parents, search_mutations, search_crossovers;
    float search_target_ms;   /* latency limit on predicted latency (0: none) */
    int search_valid_sentences;   /* fixed validation subset of the fitness (0: all) */
    int latency_rounds;       /* rounds the timed runs are split over (HAT 1) */
    int latency_block;        /* architectures interleaved round by round (HAT 1) */
    StageLatencyClock latency_clock;   /* wall (HAT) or the measuring thread's CPU time */
    int search_measure;       /* front points timed after the search (0: none) */
    int latency_reference;    /* drift reference timed in every round (LatencyRef; HAT 0) */
} StageConfig;

typedef struct RunConfig {
    ModelConfig model;
    TrainConfig train;
    StageConfig stages;
} RunConfig;

/* ---- functions (core/config.c) ---------------------------------------------------------- */

#define CONFIG_MAX_WARNINGS 32

/* Warnings collected while reading a config (unknown keys, HAT keys mos ignores); core never
 * prints them, the caller decides where they go. Overflow beyond CONFIG_MAX_WARNINGS is counted
 * in n but not stored. */
typedef struct ConfigWarnings {
    int n;
    char msg[CONFIG_MAX_WARNINGS][MOS_ERR_LEN];
} ConfigWarnings;

/* Fills c with the default config (the defaults of the one options table). */
void config_defaults(RunConfig *c);

/* Reads a YAML file (top-level mapping; nested mappings are flattened) over c, which holds the
 * defaults or an earlier config, then checks the result (config_check). HAT's keys read
 * unchanged. Returns 0, or -1 with "config.yml:12: lr: expected a number > 0". w may be NULL. */
int config_load(const char *path, RunConfig *c, ConfigWarnings *w, MosErr *err);
/* The same from text in memory; name is used in messages. */
int config_parse(const char *text, size_t len, const char *name, RunConfig *c,
                 ConfigWarnings *w, MosErr *err);

/* Cross-key checks (choices within the maxima, heads dividing qkv-dim, warmup < max-update, ...)
 * and normalisation (mos-experts is 1 when mos is none). 0 or -1 with one line naming the key. */
int config_check(RunConfig *c, MosErr *err);

/* The effective config as YAML in the table's order, readable by config_parse; with_help adds
 * each key's help as a comment. Returns a malloc'ed string. */
char *config_dump_yaml(const RunConfig *c, int with_help);

/* 64-bit FNV-1a over the keys that define the supernet's weights (maxima, vocabulary, positions,
 * MoS). A checkpoint is only loadable into a config with the same hash. */
uint64_t config_hash(const RunConfig *c);

/* Every key as a Markdown table (key, type, default, help) or as plain help lines; malloc'ed. */
char *config_keys_markdown(void);
char *config_keys_help(void);

/* Names of the enum values, for messages and dumps. */
const char *config_mos_name(MosKind k);
const char *config_sample_name(SampleRule r);
const char *config_router_input_name(RouterInput r);
const char *config_search_algo_name(StageSearchAlgo a);

#endif
