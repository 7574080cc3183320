/* The timed model of the latency measurements (see latency_model.h). */
#include "latency_model.h"

#include <string.h>

static int model_encode(void *ctx, const Arch *a, int src_len, MosErr *err)
{
    (void)src_len;
    LatencyModel *m = ctx;
    m->Ts = supernet_latency_encode(m->net, a, m->src, m->src_tokens, m->beam, m->steps);
    return m->Ts < 0 ? err_set(err, "latency: cannot allocate the decoding workspace") : 0;
}

static int model_decode(void *ctx, const Arch *a, int src_len, int steps, int beam, MosErr *err)
{
    (void)src_len, (void)err;
    LatencyModel *m = ctx;
    supernet_latency_decode(m->net, a, m->Ts, beam, steps);
    return 0;
}

int latency_model_open(LatencyModel *m, const ModelConfig *cfg, const LatencyOpts *o,
                       MosErr *err)
{
    memset(m, 0, sizeof *m);
    if (o->src_len < 2 || o->src_len > (int)(sizeof m->src / sizeof m->src[0]))
        return err_set(err, "latency: source length %d is outside 2..%d", o->src_len,
                       (int)(sizeof m->src / sizeof m->src[0]));
    if (cfg->max_positions < o->steps + 2 || cfg->max_positions < o->src_len + 1)
        return err_set(err, "latency: %d steps or a %d-token source exceed max-positions %d",
                       o->steps, o->src_len, cfg->max_positions);
    ModelConfig timed = *cfg;
    latency_space_wider(&cfg->space, &timed.space);
    timed.mos = MOS_NONE;
    timed.mos_experts = 1;
    timed.dropout = timed.attn_dropout = 0;
    m->beam = o->beam;
    m->steps = o->steps;
    m->src_tokens = o->src_len - 1;
    for (int i = 0; i < m->src_tokens; i++)
        m->src[i] = 4 < cfg->vocab ? 4 : cfg->vocab - 1;   /* 0..3: pad, unk, bos, eos */
    m->net = supernet_new(&timed, 4 * o->src_len, 1, err);
    return m->net ? 0 : -1;
}

void latency_model_close(LatencyModel *m)
{
    supernet_destroy(&m->net);
}

LatencyBackend latency_model_backend(LatencyModel *m)
{
    return (LatencyBackend){ .ctx = m, .encode = model_encode, .decode = model_decode };
}
