/* `mos bleu REF [HYP]`: corpus BLEU of a detokenized hypothesis file (or stdin) against one
 * reference file, computed as sacreBLEU does by default (the same numbers as `sacrebleu REF <
 * HYP`), printed in sacreBLEU's format. Line counts must match. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bleu.h"
#include "commands.h"

static int run_bleu(const Args *a)
{
    if (a->npos < 1 || a->npos > 2) {
        fprintf(stderr, "mos bleu: expected REF [HYP] (see mos bleu --help)\n");
        return 2;
    }
    FILE *ref = fopen(a->pos[0], "r");
    FILE *hyp = a->npos == 2 ? fopen(a->pos[1], "r") : stdin;
    if (!ref || !hyp) {
        fprintf(stderr, "mos bleu: cannot open %s\n", !ref ? a->pos[0] : a->pos[1]);
        if (ref)
            fclose(ref);
        return 1;
    }
    BleuStats s = {0};
    char *r = NULL, *h = NULL;
    size_t rc = 0, hc = 0;
    long lines = 0;
    int bad = 0;
    for (;;) {
        ssize_t rl = getline(&r, &rc, ref), hl = getline(&h, &hc, hyp);
        if (rl < 0 || hl < 0) {
            bad = (rl < 0) != (hl < 0);
            break;
        }
        r[strcspn(r, "\n")] = '\0';
        h[strcspn(h, "\n")] = '\0';
        bleu_add(&s, h, r);
        lines++;
    }
    free(r);
    free(h);
    fclose(ref);
    if (hyp != stdin)
        fclose(hyp);
    if (bad) {
        fprintf(stderr, "mos bleu: the reference and hypothesis line counts differ (after %ld "
                        "lines)\n", lines);
        return 1;
    }
    BleuScore b = bleu_score(&s);
    printf("BLEU = %.2f %.1f/%.1f/%.1f/%.1f (BP = %.3f ratio = %.3f hyp_len = %ld ref_len = "
           "%ld)\n", b.bleu, b.precisions[0], b.precisions[1], b.precisions[2], b.precisions[3],
           b.bp, b.ref_len ? (double)b.sys_len / (double)b.ref_len : 0.0, b.sys_len, b.ref_len);
    return 0;
}

const Command cmd_bleu = {
    .name = "bleu",
    .args = "REF [HYP]",
    .summary = "corpus BLEU of detokenized text, as sacreBLEU computes it by default",
    .details = "Scores HYP (default: stdin) against REF line by line: 13a tokenization, BLEU-4,\n"
               "brevity penalty, exp smoothing, case-sensitive (sacreBLEU 2.x defaults).",
    .opts = (const OptSpec[]){ { 0 } },
    .run = run_bleu,
};
