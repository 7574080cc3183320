/* cblas wrappers for ops and mos's worker threads (see ops_blas.h). The only file in mos that
 * includes cblas.h or starts compute threads. OpenBLAS runs single-threaded; splits go to a small
 * pool whose workers spin briefly between splits, then sleep. Invariant: no allocation and no
 * copies of weights in the kernels; a split's parts cover disjoint outputs. */
#include "ops_blas.h"

#include <cblas.h>
#include <immintrin.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>

#include "err.h"

/* ---- the thread pool --------------------------------------------------------------------- */

/* A split has nparts fixed parts; threads claim them one at a time from a shared counter, so a
 * worker that is slow to wake (a busy machine) never holds the caller up: the caller runs the
 * parts nobody has claimed. Which thread runs a part never changes what the part computes.
 * The claim word packs (split generation << 32 | nparts << 16 | next part); a claim is a CAS on
 * it, so a worker can only claim a part of the split it read the job of. */

/* A waiting worker spins POOL_PAUSE pause loops (~45 us here: within a training step the next
 * split usually comes sooner), then sleeps. It does not spin longer because the machine is
 * shared: spinning is charged to this process's CPU share (autogroups), not to idle time. */
#define POOL_PAUSE 1000

typedef struct Pool {
    pthread_mutex_t mu;    /* sleeping workers wait on wake under mu */
    pthread_cond_t wake;
    pthread_mutex_t busy;  /* held by the thread running a split */
    int want;              /* thread count in use (0: not read yet) */
    int started;           /* worker threads running */
    _Atomic(BlasPartFn) fn;
    _Atomic(void *) ctx;
    _Atomic uint64_t word; /* gen << 32 | nparts << 16 | next */
    atomic_int done;       /* parts finished in the current split */
    atomic_int sleepers;
} Pool;

static Pool pool = {.mu = PTHREAD_MUTEX_INITIALIZER, .wake = PTHREAD_COND_INITIALIZER,
                    .busy = PTHREAD_MUTEX_INITIALIZER};
static _Thread_local int pool_inside;   /* this thread is running a part */

/* Takes over a thread count set through OpenBLAS; OpenBLAS itself stays at 1. */
static int pool_sync(void)
{
    int k = openblas_get_num_threads();
    if (k != 1 || pool.want == 0) {
        pool.want = k < 1 ? 1 : k > BLAS_MAX_THREADS ? BLAS_MAX_THREADS : k;
        if (k != 1)
            openblas_set_num_threads(1);
    }
    return pool.want;
}

/* Claims and runs parts of split gen until none is left; returns the number run. */
static int pool_claim(uint32_t gen, BlasPartFn fn, void *ctx)
{
    int ran = 0;
    uint64_t w = atomic_load(&pool.word);
    for (;;) {
        int next = (int)(w & 0xffff), np = (int)((w >> 16) & 0xffff);
        if ((uint32_t)(w >> 32) != gen || next >= np)
            return ran;
        if (!atomic_compare_exchange_weak(&pool.word, &w, w + 1))
            continue;
        fn(ctx, next, np);
        ran++;
        atomic_fetch_add_explicit(&pool.done, 1, memory_order_release);
        w = atomic_load(&pool.word);
    }
}

static void *pool_worker(void *arg)
{
    uint32_t seen = (uint32_t)(uintptr_t)arg;   /* the generation current when started */
    pool_inside = 1;
    for (;;) {
        uint32_t g;
        int spins = 0;
        while ((g = (uint32_t)(atomic_load(&pool.word) >> 32)) == seen) {
            if (++spins < POOL_PAUSE) {
                _mm_pause();
                continue;
            }
            pthread_mutex_lock(&pool.mu);
            atomic_fetch_add(&pool.sleepers, 1);
            while ((g = (uint32_t)(atomic_load(&pool.word) >> 32)) == seen)
                pthread_cond_wait(&pool.wake, &pool.mu);
            atomic_fetch_sub(&pool.sleepers, 1);
            pthread_mutex_unlock(&pool.mu);
            break;
        }
        seen = g;
        pool_claim(g, atomic_load(&pool.fn), atomic_load(&pool.ctx));
    }
    return NULL;
}

/* A forked child has none of the parent's workers. */
static void pool_after_fork(void)
{
    pool.started = 0;
    atomic_store(&pool.sleepers, 0);
    pthread_mutex_init(&pool.mu, NULL);
    pthread_cond_init(&pool.wake, NULL);
    pthread_mutex_init(&pool.busy, NULL);
}

/* Starts workers up to n - 1; returns the number of threads available (fewer if a thread could
 * not be created). Called with pool.busy held. */
static int pool_grow(int n)
{
    static int atfork_done;
    if (!atfork_done) {
        pthread_atfork(NULL, NULL, pool_after_fork);
        atfork_done = 1;
    }
    while (pool.started < n - 1) {
        pthread_t t;
        pthread_attr_t at;
        pthread_attr_init(&at);
        pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
        uintptr_t gen = (uintptr_t)(atomic_load(&pool.word) >> 32);
        int rc = pthread_create(&t, &at, pool_worker, (void *)gen);
        pthread_attr_destroy(&at);
        if (rc != 0)
            break;
        pool.started++;
    }
    return pool.started + 1 < n ? pool.started + 1 : n;
}

void blas_parallel(BlasPartFn fn, void *ctx, long work)
{
    if (pool_inside || work < BLAS_PAR_MIN || pthread_mutex_trylock(&pool.busy) != 0) {
        fn(ctx, 0, 1);
        return;
    }
    int n = pool_sync();
    if (n > 1)
        n = pool_grow(n);
    if (n <= 1) {
        pthread_mutex_unlock(&pool.busy);
        fn(ctx, 0, 1);
        return;
    }
    atomic_store(&pool.fn, fn);
    atomic_store(&pool.ctx, ctx);
    atomic_store(&pool.done, 0);
    uint32_t gen = (uint32_t)(atomic_load(&pool.word) >> 32) + 1;
    atomic_store(&pool.word, (uint64_t)gen << 32 | (uint64_t)n << 16);
    if (atomic_load(&pool.sleepers) > 0) {
        pthread_mutex_lock(&pool.mu);
        pthread_cond_broadcast(&pool.wake);
        pthread_mutex_unlock(&pool.mu);
    }
    pool_inside = 1;
    pool_claim(gen, fn, ctx);
    pool_inside = 0;
    for (long spins = 0; atomic_load_explicit(&pool.done, memory_order_acquire) < n; spins++) {
        if (spins < POOL_PAUSE)
            _mm_pause();
        else
            sched_yield();
    }
    pthread_mutex_unlock(&pool.busy);
}

void blas_set_threads(int n)
{
    pthread_mutex_lock(&pool.busy);
    pool.want = n < 1 ? 1 : n > BLAS_MAX_THREADS ? BLAS_MAX_THREADS : n;
    openblas_set_num_threads(1);
    pthread_mutex_unlock(&pool.busy);
}

void blas_with_openblas_threads(int n, void (*fn)(void *ctx), void *ctx)
{
    pthread_mutex_lock(&pool.busy);   /* every split on this thread now runs serially */
    pool_sync();
    openblas_set_num_threads(n < 1 ? 1 : n);
    fn(ctx);
    openblas_set_num_threads(1);
    pthread_mutex_unlock(&pool.busy);
}

int blas_threads(void)
{
    pthread_mutex_lock(&pool.busy);
    int n = pool_sync();
    pthread_mutex_unlock(&pool.busy);
    return n;
}

/* ---- linear layers ----------------------------------------------------------------------- */

typedef struct LinJob {
    float *out, *dinp, *dw, *db;
    const float *inp, *w, *b, *dout;
    int ldw, N, C, OC;
    int relu;   /* forward: relu on the output; backward: dinp overwritten, masked by inp > 0 */
} LinJob;

/* x (n) = max(x, 0), or x = x where m > 0 else 0. */
static void relu_rows(float *x, const float *m, long n)
{
    for (long i = 0; i < n; i++)
        x[i] = (m ? m[i] : x[i]) > 0.0f ? x[i] : 0.0f;
}

static void linear_forward_part(void *arg, int p, int np)
{
    const LinJob *j = arg;
    int N = j->N, C = j->C, OC = j->OC;
    float beta = j->b ? 1.0f : 0.0f;
    if (N == 1) {   /* one row: split the output columns, sgemv */
        int o0 = (int)blas_part_lo(OC, p, np), o1 = (int)blas_part_lo(OC, p + 1, np);
        if (j->b)
            memcpy(j->out + o0, j->b + o0, (size_t)(o1 - o0) * sizeof *j->out);
        if (o1 > o0)
            cblas_sgemv(CblasRowMajor, CblasNoTrans, o1 - o0, C, 1.0f, j->w + (size_t)o0 * j->ldw,
                        j->ldw, j->inp, 1, beta, j->out + o0, 1);
        return;
    }
    int r0 = (int)blas_part_lo(N, p, np), r1 = (int)blas_part_lo(N, p + 1, np);
    float *out = j->out + (size_t)r0 * OC;
    if (j->b)
        for (int n = r0; n < r1; n++)
            memcpy(j->out + (size_t)n * OC, j->b, (size_t)OC * sizeof *j->out);
    if (r1 > r0)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, r1 - r0, OC, C, 1.0f,
                    j->inp + (size_t)r0 * C, C, j->w, j->ldw, beta, out, OC);
    if (j->relu)
        relu_rows(out, NULL, (long)(r1 - r0) * OC);
}

void linear_forward(float *out, const float *inp, const float *w, int ldw, const float *b,
                    int N, int C, int OC)
{
    if (N <= 0 || OC <= 0)
        return;
    LinJob j = {.out = out, .inp = inp, .w = w, .b = b, .ldw = ldw, .N = N, .C = C, .OC = OC};
    long work = N == 1 ? (long)OC * C / 4 : (long)N * OC * C / 32;
    blas_parallel(linear_forward_part, &j, work);
}

void linear_relu_forward(float *out, const float *inp, const float *w, int ldw, const float *b,
                         int N, int C, int OC)
{
    ASSERT(N > 1);
    if (OC <= 0)
        return;
    LinJob j = {.out = out, .inp = inp, .w = w, .b = b, .ldw = ldw, .N = N, .C = C, .OC = OC,
                .relu = 1};
    blas_parallel(linear_forward_part, &j, (long)N * OC * C / 32);
}

static void linear_backward_part(void *arg, int p, int np)
{
    const LinJob *j = arg;
    int N = j->N, C = j->C, OC = j->OC, ldw = j->ldw;
    int r0 = (int)blas_part_lo(N, p, np), r1 = (int)blas_part_lo(N, p + 1, np);
    int o0 = (int)blas_part_lo(OC, p, np), o1 = (int)blas_part_lo(OC, p + 1, np);
    if (j->dinp && r1 > r0) {
        if (N == 1)
            cblas_sgemv(CblasRowMajor, CblasTrans, OC, C, 1.0f, j->w, ldw, j->dout, 1, 1.0f,
                        j->dinp, 1);
        else
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, r1 - r0, C, OC, 1.0f,
                        j->dout + (size_t)r0 * OC, OC, j->w, ldw, j->relu ? 0.0f : 1.0f,
                        j->dinp + (size_t)r0 * C, C);
        if (j->relu)
            relu_rows(j->dinp + (size_t)r0 * C, j->inp + (size_t)r0 * C, (long)(r1 - r0) * C);
    }
    if (j->dw && o1 > o0) {
        if (N == 1)
            cblas_sger(CblasRowMajor, o1 - o0, C, 1.0f, j->dout + o0, 1, j->inp, 1,
                       j->dw + (size_t)o0 * ldw, ldw);
        else
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, o1 - o0, C, N, 1.0f,
                        j->dout + o0, OC, j->inp, C, 1.0f, j->dw + (size_t)o0 * ldw, ldw);
    }
    float *db = j->db;   /* a local, so the sum vectorizes (-fno-strict-aliasing) */
    if (db) {
        for (int n = 0; n < N; n++) {
            const float *d = j->dout + (size_t)n * OC;
            for (int o = o0; o < o1; o++)
                db[o] += d[o];
        }
    }
}

void linear_backward(float *dinp, float *dw, float *db, const float *dout, const float *inp,
                     const float *w, int ldw, int N, int C, int OC)
{
    if (N <= 0 || OC <= 0)
        return;
    LinJob j = {.dinp = dinp, .dw = dw, .db = db, .dout = dout, .inp = inp, .w = w, .ldw = ldw,
                .N = N, .C = C, .OC = OC};
    /* one row splits nothing: the input gradient is one sgemv over all of w */
    long work = N == 1 ? 0 : (long)N * OC * C / 16;
    blas_parallel(linear_backward_part, &j, work);
}

void linear_backward_relu(float *dinp, float *dw, float *db, const float *dout, const float *inp,
                          const float *w, int ldw, int N, int C, int OC)
{
    ASSERT(N > 1 && dinp);
    if (OC <= 0)
        return;
    LinJob j = {.dinp = dinp, .dw = dw, .db = db, .dout = dout, .inp = inp, .w = w, .ldw = ldw,
                .N = N, .C = C, .OC = OC, .relu = 1};
    blas_parallel(linear_backward_part, &j, (long)N * OC * C / 16);
}

/* ---- general products -------------------------------------------------------------------- */

typedef struct GemmJob {
    int ta, tb, M, N, K, lda, ldb, ldc;
    float alpha, beta;
    const float *A, *B;
    float *C;
} GemmJob;

static void gemm_part(void *arg, int p, int np)
{
    const GemmJob *j = arg;
    int m0 = (int)blas_part_lo(j->M, p, np), m1 = (int)blas_part_lo(j->M, p + 1, np);
    if (m1 <= m0)
        return;
    const float *A = j->ta ? j->A + m0 : j->A + (size_t)m0 * j->lda;
    float *C = j->C + (size_t)m0 * j->ldc;
    if (m1 - m0 == 1 && !j->ta) {
        /* one output row: c (N) = alpha · op(B)^T a (K) + beta c */
        if (j->tb)
            cblas_sgemv(CblasRowMajor, CblasNoTrans, j->N, j->K, j->alpha, j->B, j->ldb, A, 1,
                        j->beta, C, 1);
        else
            cblas_sgemv(CblasRowMajor, CblasTrans, j->K, j->N, j->alpha, j->B, j->ldb, A, 1,
                        j->beta, C, 1);
        return;
    }
    cblas_sgemm(CblasRowMajor, j->ta ? CblasTrans : CblasNoTrans,
                j->tb ? CblasTrans : CblasNoTrans, m1 - m0, j->N, j->K, j->alpha, A, j->lda,
                j->B, j->ldb, j->beta, C, j->ldc);
}

void blas_gemm(int ta, int tb, int M, int N, int K, float alpha, const float *A, int lda,
               const float *B, int ldb, float beta, float *C, int ldc)
{
    if (M <= 0 || N <= 0)
        return;
    GemmJob j = {.ta = ta, .tb = tb, .M = M, .N = N, .K = K, .lda = lda, .ldb = ldb,
                 .ldc = ldc, .alpha = alpha, .beta = beta, .A = A, .B = B, .C = C};
    long work = M < 2 ? 0 : (long)M * N * K / 32;
    if (pool_inside || work < BLAS_PAR_MIN) {
        gemm_part(&j, 0, 1);
        return;
    }
    blas_parallel(gemm_part, &j, work);
}
