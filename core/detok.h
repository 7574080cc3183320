/* Token ids back to text for BLEU and translation output, without running spm_decode:
 * SentencePiece data (DATA_CONTRACT: spm.vocab, one "piece<TAB>score" line per id) joins the
 * pieces, turns U+2581 into spaces and <0xNN> byte pieces into bytes, drops <pad>/<s>/</s>, writes
 * <unk> as " ⁇ " as spm_decode does, and strips the leading space. Pre-tokenized data reads
 * dict.txt (fairseq's "TOKEN COUNT" lines; ids 0-3 are the specials, then the file's order),
 * joins with spaces and removes the BPE marker ("@@ ") as fairseq's --remove-bpe does. */
#ifndef MOS_DETOK_H
#define MOS_DETOK_H

#include "data.h"

typedef struct Detok {
    int n;                  /* pieces */
    char **piece;
    int spm;                /* 1: SentencePiece rules, 0: pre-tokenized */
    char marker[20];        /* e.g. "@@ " ("" when none) */
    int pad_id, bos_id, eos_id, unk_id;
} Detok;

/* Reads DATA_DIR/spm.vocab or DATA_DIR/dict.txt per the manifest; the vocabulary must have
 * m->vocab_size entries. 0 or -1 with a one-line error. */
int  detok_load(Detok *d, const char *data_dir, const Manifest *m, MosErr *err);
void detok_done(Detok *d);

/* Text of ids[0..n) (stops at </s>); malloc'ed. */
char *detok_decode(const Detok *d, const int *ids, int n);

#endif
