/* Generates the tiny test corpus (see tiny_data.h). Word k (id >= 4) is the piece "▁wK"; the
 * target word for source id x is 4 + ((x - 4) * 7 + 3) % (TINY_VOCAB - 4). */
#include "tiny_data.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "rng.h"

static int tgt_of(int x)
{
    return 4 + ((x - 4) * 7 + 3) % (TINY_VOCAB - 4);
}

static int write_split(const char *dir, const char *split, int n, Rng *r)
{
    char p[4][1024];
    snprintf(p[0], sizeof p[0], "%s/%s.ids.en", dir, split);
    snprintf(p[1], sizeof p[1], "%s/%s.ids.de", dir, split);
    snprintf(p[2], sizeof p[2], "%s/%s.en", dir, split);
    snprintf(p[3], sizeof p[3], "%s/%s.de", dir, split);
    FILE *f[4];
    for (int k = 0; k < 4; k++)
        if (!(f[k] = fopen(p[k], "w")))
            return -1;
    for (int i = 0; i < n; i++) {
        int len = 2 + (int)rng_below(r, 7);
        for (int j = 0; j < len; j++) {
            int x = 4 + (int)rng_below(r, TINY_VOCAB - 4), y = tgt_of(x);
            fprintf(f[0], "%s%d", j ? " " : "", x);
            fprintf(f[1], "%s%d", j ? " " : "", y);
            fprintf(f[2], "%sw%d", j ? " " : "", x);
            fprintf(f[3], "%sw%d", j ? " " : "", y);
        }
        for (int k = 0; k < 4; k++)
            fputc('\n', f[k]);
    }
    int bad = 0;
    for (int k = 0; k < 4; k++)
        bad |= fclose(f[k]) != 0;
    return bad ? -1 : 0;
}

int tiny_data_write(const char *run_dir, int n_train, int n_valid, int n_test, uint64_t seed)
{
    char dir[1024], path[1100];
    snprintf(dir, sizeof dir, "%s/data", run_dir);
    mkdir(run_dir, 0755);
    if (mkdir(dir, 0755) != 0)
        return -1;
    snprintf(path, sizeof path, "%s/manifest.json", dir);
    FILE *f = fopen(path, "w");
    if (!f)
        return -1;
    fprintf(f, "{\"vocab_size\": %d, \"pad_id\": 0, \"unk_id\": 1, \"bos_id\": 2, \"eos_id\": 3,"
               " \"tokenizer\": \"spm\", \"splits\": {}}\n", TINY_VOCAB);
    fclose(f);
    snprintf(path, sizeof path, "%s/spm.vocab", dir);
    if (!(f = fopen(path, "w")))
        return -1;
    fprintf(f, "<pad>\t0\n<unk>\t0\n<s>\t0\n</s>\t0\n");
    for (int k = 4; k < TINY_VOCAB; k++)
        fprintf(f, "\xe2\x96\x81w%d\t-%d\n", k, k);
    fclose(f);
    Rng r;
    rng_seed(&r, seed);
    if (write_split(dir, "train", n_train, &r) < 0 || write_split(dir, "valid", n_valid, &r) < 0 ||
        write_split(dir, "test", n_test, &r) < 0)
        return -1;
    return 0;
}

char *tiny_tmpdir(char *buf, int n)
{
    const char *t = getenv("TMPDIR");
    snprintf(buf, (size_t)n, "%s/mos-test-XXXXXX", t && *t ? t : "/tmp");
    return mkdtemp(buf);
}

void tiny_rmdir(const char *dir)
{
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
}
