/* The elastic encoder-decoder Transformer supernet (HAT): every weight lives once at the space's
 * maximum dims, one contiguous block per family (params, grads, Adam m, Adam v); a subnet is a
 * view. supernet_step runs one batch forward (and backward), supernet_decode translates.
 *
 * Slicing rule (the only place it is written down; supernet.c implements it in the view
 * builders): for an arch a with embed dims d_e / d_d, FFN dims f, heads h,
 *   - a linear (out_max, in_max) uses W[0:out(a), 0:in(a)] with leading dim in_max, b[0:out(a)];
 *   - attention projections have the fixed qkv dim Q: in-projections read only the first d
 *     input columns (all Q output rows), the out-projection writes the first d rows; h heads
 *     give head size Q / h;
 *   - embedding and output projection use E[:, 0:d], scaled by sqrt(d) on input; sinusoidal
 *     positions and LayerNorm gamma/beta use their first d entries;
 *   - layers past the sampled depth are skipped (identity); decoder layer l attends to the
 *     last 1, 2 or 3 encoder layer outputs (arbitrary code -1, 1, 2; clamped to the encoder
 *     depth), concatenated along time with the source padding mask repeated;
 *   - dropout p = dropout * d / d_max per stack (HAT's calc_dropout); attention dropout fixed.
 * FFN weights come through core/ffn.h so that MoS can mix experts there. A Supernet holds one
 * activation record: it is used by one thread at a time. */
#ifndef MOS_SUPERNET_H
#define MOS_SUPERNET_H

#include <stddef.h>
#include <stdint.h>

#include "arch.h"
#include "batch.h"
#include "config.h"
#include "err.h"
#include "rng.h"

/* One named tensor of the parameter block: offset in floats, row-major shape at max dims.
 * Names follow fairseq/HAT (e.g. "encoder.layers.0.fc1.weight"). */
typedef struct NamedTensor {
    const char *name;
    size_t offset;
    int ndim;
    int shape[4];
} NamedTensor;

typedef struct Supernet Supernet;

/* Allocates every block at the space's maximum dims: params, grads, Adam m, Adam v (one
 * contiguous block each, zeroed), activations for batches with at most max_tokens tokens a side
 * and sentences of at most cfg->max_positions tokens. HAT init from seed: xavier uniform on
 * linears, zero biases, LayerNorm 1/0, embeddings N(0, D^-1/2) with the pad row zeroed.
 * Returns NULL with err set when cfg is inconsistent or memory runs out. */
Supernet *supernet_new(const ModelConfig *cfg, int max_tokens, uint64_t seed, MosErr *err);
void supernet_destroy(Supernet **s);

const ModelConfig *supernet_config(const Supernet *s);
int    supernet_max_tokens(const Supernet *s);
size_t supernet_nparams(const Supernet *s);
/* MoS caches the mixed FFN weights W(a) and defers pushing their gradient to the experts and
 * routers. So: supernet_params counts as "the parameters may change now" (supernet_params_changed),
 * supernet_grads flushes (supernet_flush_grads) — take these pointers after the steps, not
 * before. With mos none both are plain accessors. */
float *supernet_params(Supernet *s);
float *supernet_grads(Supernet *s);
float *supernet_adam_m(Supernet *s);
float *supernet_adam_v(Supernet *s);
int supernet_ntensors(const Supernet *s);
const NamedTensor *supernet_tensor(const Supernet *s, int i);
/* Index of the tensor called name, or -1. */
int supernet_find_tensor(const Supernet *s, const char *name);
/* The sinusoidal position tables, not parameters: the encoder's (decoder = 0) or decoder's
 * (rows, cols) table, rows = pad_id + 2 + max_positions, cols = the stack's max embed dim; a
 * subnet reads the first d columns. Writable so that a standalone extracted model
 * (core/modelfile.h), whose max dims are its own, can hold the sliced tables of the supernet it
 * came from. */
float *supernet_positions(Supernet *s, int decoder, int *rows, int *cols);
void supernet_zero_grads(Supernet *s);

/* ---- MoS (core/supernet_mos.c) ----------------------------------------------------------- */

/* Pushes the accumulated gradient of the mixed FFN weights into the expert and router gradients
 * (call before reading the gradient block through a pointer taken earlier). */
void supernet_flush_grads(Supernet *s);
/* The parameters were changed through a pointer taken earlier (optimizer, load, finite
 * differences): flushes, then forgets the cached W(a) so the next step mixes afresh. */
void supernet_params_changed(Supernet *s);

/* Writes subnet a of src (any mos kind) into dst, a supernet with mos none whose space has the
 * same maxima, vocabulary and model options: every tensor dst shares by name with src is copied,
 * each FFN gets W(a), b(a) in its slice (zero elsewhere). dst's outputs for a then equal src's
 * (dst is only meaningful for a). -1 with err when the two do not match. */
int supernet_collapse(Supernet *src, const Arch *a, Supernet *dst, MosErr *err);
/* The same into a new mos-none supernet of src's space (activations for 1 token: meant for
 * extraction, not for running); NULL with err when out of memory. */
Supernet *supernet_collapse_new(Supernet *src, const Arch *a, MosErr *err);

/* One batch through subnet a (a must be valid for the config's space; b->B·Ts and b->B·Tt at
 * most max_tokens, Ts and Tt at most max_positions). train = 1: dropout from rng (required
 * when dropout > 0) and gradients ACCUMULATED into supernet_grads (of the summed loss: the
 * caller scales by 1/tokens). train = 0: no dropout, no gradients, rng unused.
 * Returns the summed label-smoothed loss over non-pad target tokens; *nll_sum (if not NULL)
 * gets the summed NLL (natural log). Allocates nothing. */
double supernet_step(Supernet *s, const Arch *a, const Batch *b, int train, Rng *rng,
                     double *nll_sum);

/* Decoding options as fairseq: beam 1 is greedy; hypotheses are ranked by
 * sum log p / len^lenpen (len counts the eos); at most max_len_a * src_len + max_len_b tokens
 * (capped by max_positions - 1); eos is not proposed before min_len tokens (0: any time). */
#define DECODE_MAX_BEAM 64

typedef struct DecodeOpts {
    int beam;
    float lenpen;
    int max_len_a;
    int max_len_b;
    int min_len;
} DecodeOpts;

/* Translates one source sentence (ids without bos/eos; the model appends eos) with subnet a,
 * incrementally with a key/value cache. Writes up to max_out ids (no bos/eos) and returns the
 * length, or -1 when the workspace cannot be allocated. Sources longer than
 * min(max_positions, max_tokens) - 1 are cut; beam is clamped to 1..DECODE_MAX_BEAM. Grows an
 * internal workspace on the first use of a larger beam or length (allocation only then). */
int supernet_decode(Supernet *s, const Arch *a, const int *src, int src_len,
                    const DecodeOpts *o, int *out, int max_out);

/* Latency measurement (HAT's protocol, core/latency.c). supernet_latency_encode runs the encoder
 * of subnet a on one source (ids without eos; the model appends it) and reserves the decoding
 * workspace for beam and steps; returns the encoded length Ts or -1 when the workspace cannot be
 * allocated. supernet_latency_decode then runs exactly `steps` incremental decoder steps for
 * `beam` hypotheses (the cross-attention keys/values first, as fairseq's first step does; each
 * step the beam bookkeeping of a real search, never stopping at eos). Nothing is returned: only
 * the time counts. */
int  supernet_latency_encode(Supernet *s, const Arch *a, const int *src, int src_len, int beam,
                             int steps);
void supernet_latency_decode(Supernet *s, const Arch *a, int Ts, int beam, int steps);

/* Scoring: runs the full forward of subnet a on b (no dropout) and writes the log-probabilities
 * of the token after position t of every row, out (b->B, vocab). */
void supernet_logprobs(Supernet *s, const Arch *a, const Batch *b, int t, float *out);

/* ---- parameter layout (shared with core/ffn.c) ------------------------------------------ */

typedef enum InitKind {
    INIT_ZERO,          /* biases, LayerNorm beta */
    INIT_ONE,           /* LayerNorm gamma */
    INIT_XAVIER,        /* U(+-sqrt(6 / (fan_in + fan_out))), fans = (shape[1], shape[0]) */
    INIT_EMBED,         /* N(0, shape[1]^-1/2), row pad zeroed */
    INIT_UNIFORM_FANIN, /* U(+-1/sqrt(fan_in)) (PyTorch's nn.Linear default) */
    INIT_KIND_COUNT
} InitKind;

typedef struct ParamLayout {
    NamedTensor *t;
    InitKind *init;
    int n, cap;
    size_t total;       /* floats */
    int failed;         /* out of memory while adding */
} ParamLayout;

/* Appends a tensor (ndim 1 or 2; d1 ignored for ndim 1) and returns its offset in floats.
 * Offsets are rounded up to 16 floats so every tensor starts on a 64-byte line. */
size_t layout_add(ParamLayout *l, InitKind init, const char *name, int ndim, int d0, int d1);

#endif
