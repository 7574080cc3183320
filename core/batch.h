/* One batch of sentence pairs as the model consumes it: token ids, padded with pad_id, row-major.
 * tgt_in is <bos> + target, tgt_out is target + <eos>; both have Tt columns. Produced by
 * core/data.c, consumed by core/supernet.c. */
#ifndef MOS_BATCH_H
#define MOS_BATCH_H

typedef struct Batch {
    int B;              /* sentences */
    int Ts;             /* source length (max over the batch, incl. <eos>) */
    int Tt;             /* target length (max over the batch, incl. <bos>/<eos>) */
    const int *src;     /* (B, Ts) */
    const int *tgt_in;  /* (B, Tt) */
    const int *tgt_out; /* (B, Tt); pad_id where there is no target token */
    int ntokens;        /* non-pad target tokens (the loss normaliser) */
} Batch;

#endif
