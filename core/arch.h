/* Architectures (HAT's "gene") and search spaces. An Arch names one subnet of the supernet: every
 * dimension is a value from the space's choice lists and never exceeds the supernet's maxima.
 * Per-layer arrays are carried for all ARCH_MAX_LAYERS slots; entries past the active depth are
 * kept (as HAT keeps inactive genes) but ignored by the model, encoding and comparisons.
 * This header is the contract shared by the model, training, latency, search and protocol code. */
#ifndef MOS_ARCH_H
#define MOS_ARCH_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "rng.h"

#define ARCH_MAX_LAYERS  8    /* per stack (encoder or decoder) */
#define ARCH_MAX_CHOICES 8    /* values per choice list */
#define ARCH_FEATURES    10   /* HAT's latency / router features */

typedef struct Arch {
    int enc_embed;                         /* encoder embed dim d_e */
    int dec_embed;                         /* decoder embed dim d_d */
    int enc_layers;                        /* active encoder layers */
    int dec_layers;                        /* active decoder layers */
    int enc_ffn[ARCH_MAX_LAYERS];          /* FFN hidden dim per encoder layer */
    int enc_heads[ARCH_MAX_LAYERS];        /* self-attention heads per encoder layer */
    int dec_ffn[ARCH_MAX_LAYERS];          /* FFN hidden dim per decoder layer */
    int dec_self_heads[ARCH_MAX_LAYERS];   /* self-attention heads per decoder layer */
    int dec_ende_heads[ARCH_MAX_LAYERS];   /* encoder-decoder attention heads per decoder layer */
    int dec_arbitrary[ARCH_MAX_LAYERS];    /* -1, 1, 2: attend to the last 1, 2, 3 encoder layers */
} Arch;

typedef struct Choices {
    int n;
    int v[ARCH_MAX_CHOICES];
} Choices;

/* The supernet's maximum dims plus HAT's choice lists (YAML keys in comments). */
typedef struct SearchSpace {
    int enc_embed_max;        /* encoder-embed-dim */
    int dec_embed_max;        /* decoder-embed-dim */
    int enc_ffn_max;          /* encoder-ffn-embed-dim */
    int dec_ffn_max;          /* decoder-ffn-embed-dim */
    int enc_layers_max;       /* encoder-layers */
    int dec_layers_max;       /* decoder-layers */
    int enc_heads_max;        /* encoder-attention-heads */
    int dec_heads_max;        /* decoder-attention-heads */
    int qkv_dim;              /* qkv-dim: fixed for every subnet; heads set the head size */
    Choices enc_embed;        /* encoder-embed-choice */
    Choices dec_embed;        /* decoder-embed-choice */
    Choices enc_ffn;          /* encoder-ffn-embed-dim-choice */
    Choices dec_ffn;          /* decoder-ffn-embed-dim-choice */
    Choices enc_layers;       /* encoder-layer-num-choice */
    Choices dec_layers;       /* decoder-layer-num-choice */
    Choices enc_heads;        /* encoder-self-attention-heads-choice */
    Choices dec_self_heads;   /* decoder-self-attention-heads-choice */
    Choices dec_ende_heads;   /* decoder-ende-attention-heads-choice */
    Choices dec_arbitrary;    /* decoder-arbitrary-ende-attn-choice */
} SearchSpace;

#endif
