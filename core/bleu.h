/* Corpus BLEU computed the way sacreBLEU does by default (2.x: tokenize 13a, BLEU-4, one
 * reference, brevity penalty, smoothing "exp", case-sensitive): the same numbers as
 * `sacrebleu REF < HYP`. Sufficient statistics are summed over sentences, then scored. */
#ifndef MOS_BLEU_H
#define MOS_BLEU_H

#include <stddef.h>

#define BLEU_ORDER 4

typedef struct BleuStats {
    long correct[BLEU_ORDER];   /* clipped n-gram matches */
    long total[BLEU_ORDER];     /* hypothesis n-grams */
    long sys_len, ref_len;      /* tokens */
} BleuStats;

typedef struct BleuScore {
    double bleu;                /* 0..100 */
    double precisions[BLEU_ORDER];
    double bp;                  /* brevity penalty */
    long sys_len, ref_len;
} BleuScore;

/* mteval-v13a tokenization as sacreBLEU implements it (after stripping trailing whitespace):
 * drops "<skipped>", unescapes &quot; &amp; &lt; &gt;, splits off ASCII punctuation and
 * symbols, periods and commas unless inside a number, dashes after a digit; single spaces.
 * Returns a malloc'ed string. */
char *bleu_tokenize_13a(const char *line);

/* Adds one hypothesis/reference pair (raw, detokenized text) to s. */
void bleu_add(BleuStats *s, const char *hyp, const char *ref);

/* Scores the statistics (sacreBLEU's compute_bleu with smooth_method "exp"). */
BleuScore bleu_score(const BleuStats *s);

#endif
