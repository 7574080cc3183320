/* Test fixture: writes a synthetic event log (events.msgpack) with protocol's encoder — status,
 * train, valid per group, gates, latency, search, front, extract and log messages — so the
 * dashboard's replay and the e2e tests have a run to show before (or without) a real worker.
 * usage: gen_events OUT.msgpack [STEPS] [MOS_EXPERTS] [layer|neuron]. Values are a deterministic function of
 * the step; the final train loss is printed on stdout for the tests to look for. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stream.h"

static Msg m;
static MsgBuf buf;
static FILE *out;
static int64_t seq;
static int neuron;   /* neuron-wise MoS: per-expert mean shares and a histogram per layer */

static void begin(MsgType t)
{
    memset(&m, 0, sizeof m);
    m.type = t;
    m.seq = ++seq;
    m.ts = 1763800000.0 + (double)seq * 0.01;
    snprintf(m.worker, sizeof m.worker, "gen:4242");
}

static void emit(void)
{
    ProtoErr e;
    if (msg_stream_write(out, &m, &buf, &e) != 0) {
        fprintf(stderr, "gen_events: %s\n", e.msg);
        exit(1);
    }
}

static void status(const char *phase, int64_t step, int64_t total, double target)
{
    begin(MSG_STATUS);
    MsgStatus *s = &m.u.status;
    snprintf(s->phase, sizeof s->phase, "%s", phase);
    snprintf(s->state, sizeof s->state, "%s", strcmp(phase, "done") == 0 ? "done" : "running");
    snprintf(s->stage, sizeof s->stage, "all");
    snprintf(s->host, sizeof s->host, "gen");
    snprintf(s->run_dir, sizeof s->run_dir, "/tmp/gen-run");
    s->step = step, s->total = total, s->pid = 4242;
    s->has_lr = s->has_tok_per_s = s->has_eta_s = s->has_target_ms = true;
    s->lr = 5e-4, s->tok_per_s = 1234, s->eta_s = (double)(total - step) * 0.1;
    s->target_ms = target;
    emit();
}

static double loss_at(int64_t step)
{
    return 2.0 + 7.0 * exp(-(double)step / 150.0) + 0.15 * sin((double)step * 1.7);
}

static void train_phase(int64_t steps, int experts)
{
    for (int64_t i = 1; i <= steps; i++) {
        begin(MSG_TRAIN);
        m.u.train.step = i, m.u.train.has_total = true, m.u.train.total = steps;
        m.u.train.loss = loss_at(i), m.u.train.grad_norm = 1.0, m.u.train.lr = 5e-4;
        m.u.train.tok_per_s = 1234;
        snprintf(m.u.train.arch, sizeof m.u.train.arch, "enc512x6-dec512x%d", 1 + (int)(i % 6));
        emit();
        if (i % 50 == 0) {
            const char *groups[] = { "largest", "smallest", "random" };
            for (int g = 0; g < 3; g++) {
                begin(MSG_VALID);
                m.u.valid.step = i, m.u.valid.loss = loss_at(i) + 0.3 * g + 0.2;
                snprintf(m.u.valid.group, sizeof m.u.valid.group, "%s", groups[g]);
                snprintf(m.u.valid.arch, sizeof m.u.valid.arch, "%s-arch", groups[g]);
                emit();
            }
            begin(MSG_GATES);
            MsgGates *gt = &m.u.gates;
            gt->step = i, gt->experts = experts, gt->layers_n = 8;
            snprintf(gt->kind, sizeof gt->kind, neuron ? "neuron" : "layer");
            snprintf(gt->arch, sizeof gt->arch, "enc512x6-dec512x6");
            for (int l = 0; l < 8; l++) {
                MsgGateLayer *gl = &gt->layers[l];
                snprintf(gl->stack, sizeof gl->stack, l < 4 ? "enc" : "dec");
                gl->layer = l % 4;
                float *share = neuron ? gl->share : gl->m;
                if (neuron) {
                    gl->has_share = gl->has_hist = gl->has_hist_lo = gl->has_hist_hi = true;
                    gl->share_n = (uint32_t)experts, gl->hist_n = 10;
                    gl->hist_lo = 0, gl->hist_hi = 1;
                    for (int b = 0; b < 10; b++)
                        gl->hist[b] = (float)(10 - abs(b - 3 - l % 4));
                } else {
                    gl->has_m = true, gl->m_n = (uint32_t)experts;
                }
                for (int e = 0; e < experts; e++)
                    share[e] = experts == 1 ? 1.0f
                               : (float)(e == 0 ? 0.3 + 0.05 * l : (0.7 - 0.05 * l) / (experts - 1));
            }
            emit();
            status("train", i, steps, 100);
        }
    }
}

static void latency_phase(void)
{
    for (int r = 1; r <= 4; r++) {
        begin(MSG_LATENCY);
        MsgLatency *l = &m.u.latency;
        l->rows_n = 1, l->measured = r, l->total = 4;
        snprintf(l->rows[0].arch, sizeof l->rows[0].arch, "row%d", r);
        l->rows[0].features_n = 10, l->rows[0].enc_ms = 10 + r, l->rows[0].dec_ms = 30 + r;
        if (r == 4)
            l->has_rmse_ms = l->has_mapd = true, l->rmse_ms = 1.25, l->mapd = 0.031;
        emit();
    }
}

static void search_phase(void)
{
    for (int g = 0; g < 3; g++) {
        begin(MSG_SEARCH);
        MsgSearch *s = &m.u.search;
        s->generation = g, s->has_generations = true, s->generations = 3;
        snprintf(s->algo, sizeof s->algo, "evolution");
        s->best_loss = 4.0 - 0.1 * g, s->mean_loss = 4.5 - 0.1 * g, s->target_ms = 100;
        s->evaluated = 50 * (g + 1);
        emit();
        begin(MSG_FRONT);
        MsgFront *f = &m.u.front;
        f->has_generation = f->has_target_ms = true, f->generation = g, f->target_ms = 100;
        f->points_n = 6;
        for (int i = 0; i < 6; i++) {
            MsgFrontPoint *p = &f->points[i];
            snprintf(p->arch, sizeof p->arch, "front-g%d-p%d", g, i);
            p->latency_pred_ms = 40 + 20 * i + 3 * g;
            p->loss = 5.0 - 0.25 * i - 0.1 * g;
            p->params = 20000000 + 5000000 * i;
            if (i % 2 == 0)
                p->has_latency_ms = true, p->latency_ms = p->latency_pred_ms * (1.05 - 0.02 * i);
            p->has_bleu = true, p->bleu = 20 + i;
        }
        emit();
    }
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: gen_events OUT.msgpack [STEPS] [MOS_EXPERTS]\n");
        return 2;
    }
    int64_t steps = argc > 2 ? atoll(argv[2]) : 600;
    int experts = argc > 3 ? atoi(argv[3]) : 2;
    neuron = argc > 4 && strcmp(argv[4], "neuron") == 0;
    out = fopen(argv[1], "wb");
    if (!out || steps < 1 || experts < 1 || experts > PROTO_EXPERTS_MAX) {
        fprintf(stderr, "gen_events: cannot write %s or bad arguments\n", argv[1]);
        return 1;
    }
    msg_buf_init(&buf);
    status("train", 0, steps, 100);
    begin(MSG_LOG);
    snprintf(m.u.log.level, sizeof m.u.log.level, "info");
    snprintf(m.u.log.text, sizeof m.u.log.text, "training started");
    emit();
    train_phase(steps, experts);
    latency_phase();
    search_phase();
    begin(MSG_EXTRACT);
    snprintf(m.u.extract.arch, sizeof m.u.extract.arch, "front-g2-p1");
    snprintf(m.u.extract.status, sizeof m.u.extract.status, "done");
    m.u.extract.progress = 1, m.u.extract.has_path = true;
    snprintf(m.u.extract.path, sizeof m.u.extract.path, "/tmp/gen-run/subnets/s1");
    emit();
    status("done", steps, steps, 100);
    msg_buf_done(&buf);
    if (fclose(out) != 0)
        return 1;
    printf("%.4f\n", loss_at(steps));
    return 0;
}
