/* Dense linear algebra for the kernels: the only place that calls cblas. Weights are strided
 * views (a subnet's W is the top-left block of the max-size matrix, leading dim = max in-dim), so
 * nothing is ever copied. One-row products go to sgemv/sger (OpenBLAS packs the whole matrix for a
 * 1-row sgemm). Backward functions accumulate (+=) into their outputs. */
#ifndef MOS_OPS_BLAS_H
#define MOS_OPS_BLAS_H

/* out (N, OC) tight = inp (N, C) tight · w[0:OC, 0:C]^T + b[0:OC].
 * w is (OC_max, ldw) row-major, first C columns read; b may be NULL. */
void linear_forward(float *out, const float *inp, const float *w, int ldw, const float *b,
                    int N, int C, int OC);

/* dinp (N, C) += dout (N, OC) · w[0:OC, 0:C]; dw (OC, ldw) first C columns += dout^T · inp;
 * db (OC) += column sums of dout. dinp, dw, db may each be NULL (skipped). */
void linear_backward(float *dinp, float *dw, float *db, const float *dout, const float *inp,
                     const float *w, int ldw, int N, int C, int OC);

/* C (M, N, ldc) = alpha · op(A) · op(B) + beta · C, row-major; ta / tb: 1 to transpose.
 * A is (M, K) or (K, M) when ta, with leading dim lda; B is (K, N) or (N, K) when tb. */
void blas_gemm(int ta, int tb, int M, int N, int K, float alpha, const float *A, int lda,
               const float *B, int ldb, float beta, float *C, int ldc);

/* OpenBLAS's thread count for the whole process. Core never calls this on its own: the
 * executable (a command, a benchmark, a test) decides. */
void blas_set_threads(int n);
int blas_threads(void);

#endif
