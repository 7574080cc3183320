/* Dense linear algebra for the kernels and mos's own worker threads: the only place that calls
 * cblas or starts compute threads. Weights are strided views (a subnet's W is the top-left block
 * of the max-size matrix, leading dim = max in-dim), so nothing is ever copied. One-row products
 * go to sgemv/sger (OpenBLAS packs the whole matrix for a 1-row sgemm). Backward functions
 * accumulate (+=) into their outputs. Work is split over the threads in fixed parts, each
 * computing its outputs as the serial code would: results are identical run to run, and (as
 * tests/core/test_threads.c checks for a training step) at 1 and 2 threads. */
#ifndef MOS_OPS_BLAS_H
#define MOS_OPS_BLAS_H

#define BLAS_MAX_THREADS 16

/* out (N, OC) tight = inp (N, C) tight · w[0:OC, 0:C]^T + b[0:OC].
 * w is (OC_max, ldw) row-major, first C columns read; b may be NULL. Rows are split over the
 * threads (one row: the output columns). */
void linear_forward(float *out, const float *inp, const float *w, int ldw, const float *b,
                    int N, int C, int OC);

/* dinp (N, C) += dout (N, OC) · w[0:OC, 0:C]; dw (OC, ldw) first C columns += dout^T · inp;
 * db (OC) += column sums of dout. dinp, dw, db may each be NULL (skipped). Threads split dinp
 * by rows and dw, db by output rows OC, so each element is summed in the serial order. */
void linear_backward(float *dinp, float *dw, float *db, const float *dout, const float *inp,
                     const float *w, int ldw, int N, int C, int OC);

/* The FFN's fused pairs (one pass less over the (N, F) hidden layer each, done on a part's rows
 * while they are in cache). linear_relu_forward: linear_forward, then out = max(out, 0).
 * linear_backward_relu: linear_backward except that dinp (N, C) is overwritten (not accumulated)
 * and masked by the relu that produced inp: dinp = (dout · w[0:OC, 0:C]) ∘ (inp > 0); dw, db
 * accumulate as in linear_backward. N > 1. */
void linear_relu_forward(float *out, const float *inp, const float *w, int ldw, const float *b,
                         int N, int C, int OC);
void linear_backward_relu(float *dinp, float *dw, float *db, const float *dout, const float *inp,
                          const float *w, int ldw, int N, int C, int OC);

/* C (M, N, ldc) = alpha · op(A) · op(B) + beta · C, row-major; ta / tb: 1 to transpose.
 * A is (M, K) or (K, M) when ta, with leading dim lda; B is (K, N) or (N, K) when tb.
 * Large products are split over the threads by rows of C. */
void blas_gemm(int ta, int tb, int M, int N, int K, float alpha, const float *A, int lda,
               const float *B, int ldb, float beta, float *C, int ldc);

/* The compute thread count of the process (1..BLAS_MAX_THREADS). mos splits work over its own
 * threads and runs OpenBLAS itself single-threaded: blas_set_threads(n) records n and sets
 * OpenBLAS to 1 thread. A count set directly with openblas_set_num_threads (or the
 * OPENBLAS_NUM_THREADS environment variable) is taken over the same way at the next kernel call.
 * Core never calls blas_set_threads on its own: the executable (a command, a benchmark, a test)
 * decides. */
void blas_set_threads(int n);
int blas_threads(void);

/* Runs fn(ctx) on the calling thread with mos's split off and OpenBLAS itself at n threads (its
 * own threading), then restores the split. For benchmarks that compare the two; fn must not
 * change the thread count. */
void blas_with_openblas_threads(int n, void (*fn)(void *ctx), void *ctx);

/* A split: fn(ctx, part, nparts) runs exactly once for every part in 0..nparts-1, on the calling
 * thread or on one of mos's worker threads (whichever claims the part first: a worker slow to
 * wake leaves its part to the caller); blas_parallel returns when all are done. Parts must write
 * disjoint outputs. nparts is the thread count, or 1 (everything on the caller) when
 * work < BLAS_PAR_MIN, inside a running split, or while another thread runs one.
 * work: elements touched, or flops / 32 for products. fn must not change the thread count. */
#define BLAS_PAR_MIN 16384L
typedef void (*BlasPartFn)(void *ctx, int part, int nparts);
void blas_parallel(BlasPartFn fn, void *ctx, long work);

/* Start of part p of n items split into nparts near-equal contiguous ranges
 * (part p covers [blas_part_lo(n, p, nparts), blas_part_lo(n, p + 1, nparts))). */
static inline long blas_part_lo(long n, int p, int nparts)
{
    return n * p / nparts;
}

#endif
