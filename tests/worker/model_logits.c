/* Test driver for tests/worker/interop_model.py: loads an extracted model directory and prints
 * the log-probabilities it gives a batch of sentence pairs read from stdin, one pair per line as
 * "SRC IDS<TAB>TGT IDS" (no bos/eos; the batch adds them and right-pads as core/data.c does).
 * Output: "B Tt V", then B·Tt lines (row b, position t) of V log-probabilities. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "modelfile.h"

#define MAXP 8
#define MAXT 64

static int parse(char *s, int *out)
{
    int n = 0;
    for (char *t = strtok(s, " "); t && n < MAXT - 1; t = strtok(NULL, " "))
        out[n++] = atoi(t);
    return n;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: model_logits MODEL_DIR < pairs\n");
        return 2;
    }
    static int sw[MAXP][MAXT], tw[MAXP][MAXT], sl[MAXP], tl[MAXP];
    char line[4096];
    int B = 0, Ts = 0, Tt = 0;
    while (B < MAXP && fgets(line, sizeof line, stdin)) {
        char *tab = strchr(line, '\t');
        if (!tab)
            continue;
        *tab = 0;
        tab[strcspn(tab + 1, "\n") + 1] = 0;
        sl[B] = parse(line, sw[B]);
        tl[B] = parse(tab + 1, tw[B]);
        Ts = sl[B] + 1 > Ts ? sl[B] + 1 : Ts;
        Tt = tl[B] + 1 > Tt ? tl[B] + 1 : Tt;
        B++;
    }
    MosErr err = {{0}};
    ModelInfo info;
    Supernet *m = modelfile_load(argv[1], 256, &info, &err);
    if (!m) {
        fprintf(stderr, "model_logits: %s\n", err.msg);
        return 1;
    }
    const ModelConfig *c = &info.cfg;
    static int src[MAXP * MAXT], tin[MAXP * MAXT], tout[MAXP * MAXT];
    int ntok = 0;
    for (int b = 0; b < B; b++) {
        for (int k = 0; k < Ts; k++)
            src[b * Ts + k] = k < sl[b] ? sw[b][k] : k == sl[b] ? c->eos_id : c->pad_id;
        for (int k = 0; k < Tt; k++) {
            tin[b * Tt + k] = k == 0 ? c->bos_id : k <= tl[b] ? tw[b][k - 1] : c->pad_id;
            tout[b * Tt + k] = k < tl[b] ? tw[b][k] : k == tl[b] ? c->eos_id : c->pad_id;
        }
        ntok += tl[b] + 1;
    }
    Batch batch = {.B = B, .Ts = Ts, .Tt = Tt, .src = src, .tgt_in = tin, .tgt_out = tout,
                   .ntokens = ntok};
    float *lp = malloc(sizeof(float) * (size_t)B * (size_t)c->vocab * (size_t)Tt);
    for (int t = 0; t < Tt; t++)
        supernet_logprobs(m, &info.arch, &batch, t, lp + (size_t)t * B * c->vocab);
    printf("%d %d %d\n", B, Tt, c->vocab);
    for (int b = 0; b < B; b++)
        for (int t = 0; t < Tt; t++) {
            const float *r = lp + ((size_t)t * B + b) * c->vocab;
            for (int v = 0; v < c->vocab; v++)
                printf(v ? " %.9g" : "%.9g", (double)r[v]);
            putchar('\n');
        }
    free(lp);
    supernet_destroy(&m);
    return 0;
}
