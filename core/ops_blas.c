/* cblas wrappers for ops (see ops_blas.h). The only file in mos that includes cblas.h; it sets no
 * thread counts (callers do). Invariant: no allocation, no copies of weights. */
#include "ops_blas.h"

#include <cblas.h>
#include <string.h>

void linear_forward(float *out, const float *inp, const float *w, int ldw, const float *b,
                    int N, int C, int OC)
{
    if (N <= 0 || OC <= 0)
        return;
    float beta = 0.0f;
    if (b) {
        for (int n = 0; n < N; n++)
            memcpy(out + (size_t)n * OC, b, (size_t)OC * sizeof *out);
        beta = 1.0f;
    }
    if (N == 1)
        cblas_sgemv(CblasRowMajor, CblasNoTrans, OC, C, 1.0f, w, ldw, inp, 1, beta, out, 1);
    else
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, N, OC, C, 1.0f, inp, C, w, ldw,
                    beta, out, OC);
}

void linear_backward(float *dinp, float *dw, float *db, const float *dout, const float *inp,
                     const float *w, int ldw, int N, int C, int OC)
{
    if (N <= 0 || OC <= 0)
        return;
    if (dinp) {
        if (N == 1)
            cblas_sgemv(CblasRowMajor, CblasTrans, OC, C, 1.0f, w, ldw, dout, 1, 1.0f, dinp, 1);
        else
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, N, C, OC, 1.0f, dout, OC,
                        w, ldw, 1.0f, dinp, C);
    }
    if (dw) {
        if (N == 1)
            cblas_sger(CblasRowMajor, OC, C, 1.0f, dout, 1, inp, 1, dw, ldw);
        else
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, OC, C, N, 1.0f, dout, OC,
                        inp, C, 1.0f, dw, ldw);
    }
    if (db) {
        for (int n = 0; n < N; n++) {
            const float *d = dout + (size_t)n * OC;
            for (int o = 0; o < OC; o++)
                db[o] += d[o];
        }
    }
}

void blas_gemm(int ta, int tb, int M, int N, int K, float alpha, const float *A, int lda,
               const float *B, int ldb, float beta, float *C, int ldc)
{
    if (M <= 0 || N <= 0)
        return;
    if (M == 1 && !ta) {
        /* one output row: c (N) = alpha · op(B)^T a (K) + beta c */
        if (tb)
            cblas_sgemv(CblasRowMajor, CblasNoTrans, N, K, alpha, B, ldb, A, 1, beta, C, 1);
        else
            cblas_sgemv(CblasRowMajor, CblasTrans, K, N, alpha, B, ldb, A, 1, beta, C, 1);
        return;
    }
    cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans,
                M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

void blas_set_threads(int n)
{
    openblas_set_num_threads(n > 0 ? n : 1);
}

int blas_threads(void)
{
    return openblas_get_num_threads();
}
