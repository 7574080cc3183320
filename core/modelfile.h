/* Extracted models: one subnet of a supernet as a plain standalone Transformer in a directory
 * (model.safetensors, config.json, the tokenizer files), and loading such a directory back into a
 * Supernet whose space is exactly that architecture, so supernet_step / supernet_decode run on
 * it unchanged. Does not collapse MoS experts (the caller passes a plain supernet: see
 * supernet_collapse) and does not pick directories or replace them (worker/cmd_extract.c).
 * Invariant: a standalone model's outputs for its arch equal the source supernet's for it. */
#ifndef MOS_MODELFILE_H
#define MOS_MODELFILE_H

#include <stdint.h>

#include "arch.h"
#include "config.h"
#include "data.h"
#include "err.h"
#include "supernet.h"

#define MODELFILE_FORMAT "mos-model"
#define MODELFILE_WEIGHTS "model.safetensors"
#define MODELFILE_CONFIG "config.json"

/* Where an extracted model came from (recorded in config.json's "source"). */
typedef struct ModelSource {
    const ModelConfig *super;   /* the supernet's config: maxima and model options */
    const Manifest *man;        /* vocabulary, special ids, tokenizer kind */
    const char *data_dir;       /* where spm.model / spm.vocab or dict.txt are copied from */
    const char *checkpoint;     /* path of the source checkpoint's safetensors file */
    long step;                  /* its training step */
    uint64_t config_hash;       /* config_hash() of the run */
    char sha256[65];            /* of the checkpoint file ("" when unknown) */
} ModelSource;

/* What config.json says about a model directory. */
typedef struct ModelInfo {
    Arch arch;
    ModelConfig cfg;            /* the standalone model's config (modelfile_config) */
    Manifest man;               /* vocab_size, ids, tokenizer, bpe_marker */
    char tokenizer_file[64];    /* "spm.model", "dict.txt", or "" (no SentencePiece model) */
    long source_step;
    char source_sha256[65];
    int finetune_steps;         /* updates of additional training recorded so far */
} ModelInfo;

/* The standalone config of arch a cut from a supernet config: every maximum is the arch's own
 * value (FFN maxima: the largest active layer's; smaller layers use the first-k slice of that
 * block), one-value choice lists (the set of used values where layers differ), mos none, and
 * dropout scaled as the supernet scales it for a (dropout * d_dec / d_dec_max). */
void modelfile_config(const ModelConfig *super, const Arch *a, ModelConfig *out);

/* The standalone model of arch a built from plain (mos none) supernet src: a new Supernet of
 * modelfile_config, every tensor the first-k block of src's tensor of the same name (FFN rows
 * and columns past each layer's own dim zero), the position tables the first d columns of src's.
 * max_tokens sizes its activations. NULL with err when src has MoS or a tensor is missing. */
Supernet *modelfile_build(Supernet *src, const Arch *a, int max_tokens, MosErr *err);

/* Parameters of model for arch a as written to the file (position tables not counted). */
size_t modelfile_nparams(Supernet *model, const Arch *a);

/* Writes DIR/model.safetensors (each tensor at the arch's real shape, plus
 * "encoder.embed_positions.weight" and "decoder.embed_positions.weight"), DIR/config.json and
 * copies of the tokenizer files into DIR, which must exist. model is modelfile_build's (or
 * modelfile_load's) for arch a. 0 or -1 with a one-line error. */
int modelfile_write(const char *dir, Supernet *model, const Arch *a, const ModelSource *src,
                    MosErr *err);

/* Reads DIR/config.json (format, arch, dims, vocabulary, options) into info. */
int modelfile_read_info(const char *dir, ModelInfo *info, MosErr *err);

/* Loads DIR into a new standalone Supernet (activations for max_tokens tokens a side) and fills
 * info. Refuses a missing, truncated or inconsistent file with the file and the reason. */
Supernet *modelfile_load(const char *dir, int max_tokens, ModelInfo *info, MosErr *err);

/* After additional training: writes model's weights and config.json (finetune_steps += steps,
 * "from_scratch" noted) to temporary files, keeps the current pair as model.prev.safetensors and
 * config.prev.json, and renames the new pair into place. */
int modelfile_update(const char *dir, Supernet *model, const ModelInfo *info, int steps,
                     int from_scratch, MosErr *err);

#endif
