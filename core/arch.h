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

/* ---- functions (core/arch.c) ------------------------------------------------------------ */

/* Fills s with the default space (HAT's scaled to 2 cores): embed {256, 192} max 256, FFN
 * {1024, 768, 512} max 1024, heads {4, 2} max 4, qkv 256, encoder layers {4}, decoder layers
 * {1, 2, 3, 4} (max 4 each), arbitrary attention {-1, 1, 2}. */
void arch_space_default(SearchSpace *s);

/* Largest and smallest subnets of the space (max / min of every choice list). Both use
 * arbitrary-attention code 1 in every decoder layer, as MoS's sandwich rule does. */
void arch_largest(const SearchSpace *s, Arch *a);
void arch_smallest(const SearchSpace *s, Arch *a);

/* The subnet of every list's lower median value (e.g. embed 192 of {256, 192}, FFN 768 of
 * {1024, 768, 512}, 2 of 1..4 decoder layers), arbitrary-attention code 1 as above: the latency
 * job's drift reference, a mid-size model of the space. */
void arch_middle(const SearchSpace *s, Arch *a);

/* HAT's uniform sampling: embed dims once per stack, layer counts uniform, per-layer FFN dims
 * and head counts independent; all ARCH_MAX_LAYERS slots are filled (inactive ones too). */
void arch_sample(const SearchSpace *s, Rng *r, Arch *a);

/* 0 when every active value is in its choice list and within the maxima; else -1 with the
 * reason, e.g. "dec_ffn[2] = 3000 is not one of 1024, 768, 512". */
int arch_validate(const SearchSpace *s, const Arch *a, MosErr *err);

/* Equality and hash over the active part only (inactive slots ignored). */
int      arch_equal(const Arch *a, const Arch *b);
uint64_t arch_hash(const Arch *a);

/* Text form for the command line, documented in docs/arch.md; arch_parse(arch_format(a)) == a
 * on the active part. arch_format returns the length written (truncated if n is too small). */
int arch_format(const Arch *a, char *buf, size_t n);
int arch_parse(const char *text, Arch *a, MosErr *err);

/* JSON form (an object with HAT's config names); round-trips exactly on the active part.
 * arch_json_dump returns a malloc'ed string. */
char *arch_json_dump(const Arch *a);
int   arch_json_load(const char *json, Arch *a, MosErr *err);

/* HAT's 10 features (embed dims, layer counts, mean FFN dims and heads over active layers,
 * mean arbitrary-attention count with -1/1/2 -> 1/2/3), each divided by the space's maximum. */
void arch_features(const SearchSpace *s, const Arch *a, float out[ARCH_FEATURES]);

/* The same 10 features before normalisation (HAT's latency.csv columns: dims, counts, means,
 * mean attended encoder layers 1..3), and the space's normalisers they are divided by, so that
 * arch_features(s, a)[k] == raw[k] / norm[k]. */
void arch_features_raw(const Arch *a, float out[ARCH_FEATURES]);
void arch_feature_norms(const SearchSpace *s, float out[ARCH_FEATURES]);

/* Parameters of the plain subnet a (its extracted model): the shared embedding / output table
 * (vocab x the larger embed dim), and per layer the attention projections at the fixed qkv dim
 * (in-projections qkv_dim x d, out-projection d x qkv_dim, with biases), the FFN and the
 * LayerNorms (two per encoder layer, three per decoder layer). Positions are sinusoidal (none). */
long arch_params(const Arch *a, int vocab, int qkv_dim);

/* HAT's evolution operators: resample each gene with probability p (may redraw the same value);
 * take each gene from either parent with probability 1/2. Children are always valid. */
void arch_mutate(const SearchSpace *s, Rng *r, float p, const Arch *parent, Arch *child);
void arch_crossover(const SearchSpace *s, Rng *r, const Arch *p1, const Arch *p2, Arch *child);

#endif
