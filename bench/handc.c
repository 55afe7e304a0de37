/*
 * bench/handc.c — the hand-written C loops kiln's fused kernels are
 * measured against (the practical limit), and the STREAM-style triad that
 * measures memory bandwidth.
 *
 * Compiled on its own with -O3 -march=native -ffp-contract=off -fno-math-errno -fopenmp
 * and no fast-math (bench/CMakeLists.txt), so every elementwise loop
 * evaluates its expression exactly as written, in the same order as the
 * kiln expression the benchmark builds: results are bit-identical to
 * kiln's for exactly rounded ops. Math functions are the C library's scalar
 * ones (gcc does not call libmvec without -ffast-math), which makes
 * hc_sinlog a reference as well as a baseline. Sums are what a C programmer
 * writes for speed — 8 accumulators, or one chain per column — not NumPy's
 * pairwise tree, so the benchmark compares them with kiln's within the
 * error bounds of the two orders (bench.c, sum_tol). The cumsums of
 * hc_features follow kiln's block order, so its results are exact.
 *
 * Threads: hc_set_threads(n). With n == 1 no OpenMP region is entered (a
 * parallel region costs microseconds, which the 1,000-element case would
 * measure); with n > 1 loops of at least HC_PAR_MIN iterations are split
 * dynamically (HC_FOR, HC_CHUNKS_OF). Pointers are restrict: outputs never
 * alias inputs here.
 */
#include "handc.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#ifdef _OPENMP
#include <omp.h>
#else /* built without OpenMP (bench/CMakeLists.txt says so): one thread */
static void omp_set_num_threads(int n) { (void)n; }
#endif

enum { HC_PAR_MIN = 32768, HC_SCAN_BLOCK = 4096, HC_MAX_COLS = 8 };

static int g_threads = 1;

void hc_set_threads(int n)
{
#ifdef _OPENMP
    g_threads = n < 1 ? 1 : n;
#else
    g_threads = 1 + 0 * n;
#endif
    omp_set_num_threads(g_threads);
}

static int hc_par(int64_t n) { return g_threads > 1 && n >= HC_PAR_MIN; }

/* Work is split dynamically, about HC_CHUNKS chunks per thread claimed in
 * turn (schedule(dynamic)), as kiln's own launches do: on a machine shared
 * with other processes, a thread held off its core then leaves its chunks
 * to the others instead of holding the whole loop (schedule(static) did,
 * for milliseconds). Chunks are multiples of `align` iterations. */
enum { HC_CHUNKS = 4 };

static int64_t hc_chunk_len(int64_t n, int64_t align)
{
    int64_t c = HC_CHUNKS * (int64_t)g_threads, len = (n + c - 1) / c;
    len = (len + align - 1) / align * align;
    return len > 0 ? len : align;
}

/* for (int64_t i = 0; i < n; i++) body — split over the threads when
 * hc_par(work) (work: elements touched), else a plain loop (no OpenMP call
 * at all). */
#define HC_FOR(i, n, work, ...)                                                             \
    do {                                                                                    \
        const int64_t hc_n_ = (n);                                                          \
        if (hc_par(work)) {                                                                 \
            const int64_t hc_c_ = hc_chunk_len(hc_n_, 64);                                  \
            (void)hc_c_; /* unused without OpenMP */                                        \
            _Pragma("omp parallel for schedule(dynamic, hc_c_)")                            \
            for (int64_t i = 0; i < hc_n_; i++)                                             \
                __VA_ARGS__                                                                 \
        } else {                                                                            \
            for (int64_t i = 0; i < hc_n_; i++)                                             \
                __VA_ARGS__                                                                 \
        }                                                                                   \
    } while (0)

/* Inside a parallel region: body for each chunk [lo, hi) of [0, n) this
 * thread claims (the threads claim all chunks between them). */
#define HC_CHUNKS_OF(lo, hi, n, align, ...)                                                 \
    do {                                                                                    \
        const int64_t hc_n_ = (n), hc_len_ = hc_chunk_len(hc_n_, align);                    \
        const int64_t hc_nc_ = (hc_n_ + hc_len_ - 1) / hc_len_;                             \
        _Pragma("omp for schedule(dynamic, 1) nowait")                                      \
        for (int64_t hc_k_ = 0; hc_k_ < hc_nc_; hc_k_++) {                                  \
            const int64_t lo = hc_k_ * hc_len_;                                             \
            const int64_t hi = lo + hc_len_ < hc_n_ ? lo + hc_len_ : hc_n_;                 \
            __VA_ARGS__                                                                     \
        }                                                                                   \
    } while (0)

void hc_triad(double *restrict a, const double *restrict b, const double *restrict c, double s,
              int64_t n)
{
    HC_FOR(i, n, n, { a[i] = b[i] + s * c[i]; });
}

void hc_affine(double *restrict y, const double *restrict x, int64_t n)
{
    HC_FOR(i, n, n, { y[i] = 2.0 * x[i] + 1.0; });
}

void hc_chain(double *restrict y, const double *restrict x, int64_t n)
{
    HC_FOR(i, n, n, {
        double v = x[i];
        y[i] = ((((v + 1.0) * 2.0 - 3.0) / 4.0 + v) * v - 0.5 * v) / (1.0 + v * v);
    });
}

void hc_sinlog(double *restrict c, const double *restrict a, const double *restrict b, int64_t n)
{
    HC_FOR(i, n, n, { c[i] = a[i] * b[i] + sin(a[i]) - log(fabs(b[i]) + 1.0); });
}

void hc_leaky(double *restrict y, const double *restrict x, int64_t n)
{
    HC_FOR(i, n, n, { y[i] = x[i] > 0.0 ? x[i] : 0.01 * x[i]; });
}

void hc_relu_sq(double *restrict y, const double *restrict x, int64_t n)
{
    HC_FOR(i, n, n, { y[i] = x[i] > 0.0 ? x[i] * x[i] : 0.0; });
}

/* The step is a constant, as a person writing this loop would write it:
 * the compiler then vectorizes the even-element loads with shuffles. */
void hc_strided2(double *restrict y, const double *restrict x, int64_t n)
{
    HC_FOR(i, n, n, { y[i] = 2.0 * x[2 * i] + 1.0; });
}

/* ---- reductions ------------------------------------------------------------- */

/* Eight accumulators as one vector (GCC's vector extension: gcc -O3 does
 * not vectorize an array of 8 scalar accumulators well by itself); lane j
 * adds elements j, j+8, j+16, ..., then the lanes are added as a tree. */
typedef double hc_v8 __attribute__((vector_size(64)));

static hc_v8 load8(const double *p)
{
    hc_v8 v;
    memcpy(&v, p, sizeof v);
    return v;
}

static double lanes_sum(hc_v8 a)
{
    return ((a[0] + a[1]) + (a[2] + a[3])) + ((a[4] + a[5]) + (a[6] + a[7]));
}

/* s[0] += sum(x[lo..hi)), s[1] += sum(x*x) with 8 accumulators each. */
static void sums_range(double s[2], const double *restrict x, int64_t lo, int64_t hi)
{
    hc_v8 a = {0}, q = {0};
    int64_t i = lo;
    for (; i + 8 <= hi; i += 8) {
        hc_v8 v = load8(x + i);
        a += v;
        q += v * v;
    }
    double ra = lanes_sum(a), rq = lanes_sum(q);
    for (; i < hi; i++) {
        ra += x[i];
        rq += x[i] * x[i];
    }
    s[0] += ra;
    s[1] += rq;
}

void hc_sums(double out[2], const double *restrict x, int64_t n)
{
    out[0] = out[1] = 0.0;
    if (!hc_par(n)) {
        sums_range(out, x, 0, n);
        return;
    }
#pragma omp parallel
    {
        double s[2] = {0.0, 0.0};
        HC_CHUNKS_OF(lo, hi, n, 8, { sums_range(s, x, lo, hi); });
#pragma omp critical
        {
            out[0] += s[0];
            out[1] += s[1];
        }
    }
}

static double row_sum(const double *restrict r, int64_t cols)
{
    hc_v8 a = {0};
    int64_t j = 0;
    for (; j + 8 <= cols; j += 8)
        a += load8(r + j);
    double s = lanes_sum(a);
    for (; j < cols; j++)
        s += r[j];
    return s;
}

void hc_row_sums(double *restrict out, const double *restrict a, int64_t rows, int64_t cols)
{
    HC_FOR(i, rows, rows * cols, { out[i] = row_sum(a + i * cols, cols); });
}

static void col_sums_range(double *restrict out, const double *restrict a, int64_t rows,
                           int64_t cols, int64_t lo, int64_t hi)
{
    for (int64_t j = lo; j < hi; j++)
        out[j] = 0.0;
    for (int64_t i = 0; i < rows; i++) {
        const double *restrict r = a + i * cols;
        for (int64_t j = lo; j < hi; j++)
            out[j] += r[j];
    }
}

void hc_col_sums(double *restrict out, const double *restrict a, int64_t rows, int64_t cols)
{
    if (!hc_par(rows * cols)) {
        col_sums_range(out, a, rows, cols, 0, cols);
        return;
    }
#pragma omp parallel
    HC_CHUNKS_OF(lo, hi, cols, 8, { col_sums_range(out, a, rows, cols, lo, hi); });
}

/* s[c] += sum over rows [lo, hi) of f(d[i][c]): f the identity (m NULL) or
 * the squared deviation from m[c]. */
static void col_pass(double *restrict s, const double *restrict d, const double *m,
                     int64_t cols, int64_t lo, int64_t hi)
{
    double a[HC_MAX_COLS] = {0};
    for (int64_t i = lo; i < hi; i++)
        for (int64_t c = 0; c < cols; c++) {
            double v = d[i * cols + c];
            if (m) {
                v -= m[c];
                v *= v;
            }
            a[c] += v;
        }
    for (int64_t c = 0; c < cols; c++)
        s[c] += a[c];
}

static void col_reduce(double *restrict s, const double *restrict d, const double *m,
                       int64_t rows, int64_t cols)
{
    for (int64_t c = 0; c < cols; c++)
        s[c] = 0.0;
    if (!hc_par(rows * cols)) {
        col_pass(s, d, m, cols, 0, rows);
        return;
    }
#pragma omp parallel
    {
        double a[HC_MAX_COLS] = {0};
        HC_CHUNKS_OF(lo, hi, rows, 1, { col_pass(a, d, m, cols, lo, hi); });
#pragma omp critical
        for (int64_t c = 0; c < cols; c++)
            s[c] += a[c];
    }
}

void hc_colnorm(double *restrict y, const double *restrict d, int64_t rows, int64_t cols)
{
    double m[HC_MAX_COLS], sd[HC_MAX_COLS];
    col_reduce(m, d, NULL, rows, cols);
    for (int64_t c = 0; c < cols; c++)
        m[c] /= (double)rows;
    col_reduce(sd, d, m, rows, cols);
    for (int64_t c = 0; c < cols; c++)
        sd[c] = sqrt(sd[c] / (double)rows);
    HC_FOR(i, rows, rows * cols, {
        for (int64_t c = 0; c < cols; c++)
            y[i * cols + c] = (d[i * cols + c] - m[c]) / sd[c];
    });
}

void hc_pdist3(double *restrict out, const double *restrict p, int64_t m)
{
    HC_FOR(i, m, m * m, {
        double x = p[3 * i], y = p[3 * i + 1], z = p[3 * i + 2];
        for (int64_t j = 0; j < m; j++) {
            double dx = x - p[3 * j], dy = y - p[3 * j + 1], dz = z - p[3 * j + 2];
            out[i * m + j] = sqrt(dx * dx + dy * dy + dz * dz);
        }
    });
}

/* ---- the feature pipeline ------------------------------------------------------ */

/* Block b of the scans: the local prefixes of p and p*p (l[i] = l[i-1] +
 * x[i], from x[lo]) written to c, c2 — plus the carries when `carry` is
 * given (then c, c2 are final). Returns the block's totals in t[0..2). */
static void scan_block(double *restrict c, double *restrict c2, const double *restrict p,
                       int64_t lo, int64_t hi, const double *carry, double t[2])
{
    double l = p[lo], l2 = p[lo] * p[lo];
    if (carry) {
        double k = carry[0], k2 = carry[1];
        c[lo] = k + l;
        c2[lo] = k2 + l2;
        for (int64_t i = lo + 1; i < hi; i++) {
            l += p[i];
            l2 += p[i] * p[i];
            c[i] = k + l;
            c2[i] = k2 + l2;
        }
    } else {
        c[lo] = l;
        c2[lo] = l2;
        for (int64_t i = lo + 1; i < hi; i++) {
            l += p[i];
            l2 += p[i] * p[i];
            c[i] = l;
            c2[i] = l2;
        }
    }
    t[0] = l;
    t[1] = l2;
}

static void features_scans(double *restrict c, double *restrict c2, const double *restrict p,
                           int64_t n)
{
    int64_t nb = (n + HC_SCAN_BLOCK - 1) / HC_SCAN_BLOCK;
    double *t = hc_par(n) ? malloc(sizeof(double) * 2 * (size_t)nb) : NULL;
    if (!t) { /* one pass: the carry is known when a block starts */
        double carry[2] = {0.0, 0.0}, tb[2];
        for (int64_t b = 0; b < nb; b++) {
            int64_t lo = b * HC_SCAN_BLOCK, hi = lo + HC_SCAN_BLOCK < n ? lo + HC_SCAN_BLOCK : n;
            scan_block(c, c2, p, lo, hi, b ? carry : NULL, tb);
            carry[0] = b ? carry[0] + tb[0] : tb[0];
            carry[1] = b ? carry[1] + tb[1] : tb[1];
        }
        return;
    }
    /* Threads: local prefixes and block totals in parallel, the carries in
     * block order (carry on the left, as runtime/reduce.h), then each block
     * adds its carry — the same bits. */
#pragma omp parallel for schedule(dynamic, 4)
    for (int64_t b = 0; b < nb; b++) {
        int64_t lo = b * HC_SCAN_BLOCK, hi = lo + HC_SCAN_BLOCK < n ? lo + HC_SCAN_BLOCK : n;
        scan_block(c, c2, p, lo, hi, NULL, &t[2 * b]);
    }
    double k0 = t[0], k1 = t[1]; /* block 1's carry */
    for (int64_t b = 1; b < nb; b++) { /* t[2b..] becomes block b's carry */
        double t0 = t[2 * b], t1 = t[2 * b + 1];
        t[2 * b] = k0;
        t[2 * b + 1] = k1;
        k0 = k0 + t0;
        k1 = k1 + t1;
    }
#pragma omp parallel for schedule(dynamic, 4)
    for (int64_t b = 1; b < nb; b++) {
        int64_t lo = b * HC_SCAN_BLOCK, hi = lo + HC_SCAN_BLOCK < n ? lo + HC_SCAN_BLOCK : n;
        for (int64_t i = lo; i < hi; i++) {
            c[i] = t[2 * b] + c[i];
            c2[i] = t[2 * b + 1] + c2[i];
        }
    }
    free(t);
}

void hc_features(double *restrict ret, double *restrict sma, double *restrict vol,
                 double *restrict z, const double *restrict p, double *restrict c,
                 double *restrict c2, int64_t n, int64_t w)
{
    features_scans(c, c2, p, n);
    double fw = (double)w;
    ret[0] = 0.0;
    for (int64_t i = 0; i < w && i < n; i++)
        sma[i] = vol[i] = z[i] = 0.0;
    HC_FOR(i, n - 1, n, { ret[i + 1] = (p[i + 1] - p[i]) / p[i]; });
    HC_FOR(i, n - w, n, {
        int64_t k = i + w;
        double s = (c[k] - c[i]) / fw;
        double var = (c2[k] - c2[i]) / fw - s * s;
        double v = sqrt(var > 0.0 ? var : 0.0);
        double q = (p[k] - s) / v; /* unconditional, so the loop vectorizes
                                      (a division under a condition is not
                                      speculated without -fno-trapping-math) */
        sma[k] = s;
        vol[k] = v;
        z[k] = v > 0.0 ? q : 0.0;
    });
}

/* ---- records ------------------------------------------------------------------ */

/* Branch-free (the filter passes 1 record in 16 at random: a branch would
 * mispredict), four sum chains (record i adds to chain i % 4). */
static void sensors_range(int64_t *count, double *sum, const unsigned char *restrict rec,
                          int64_t lo, int64_t hi, int64_t rec_size, int64_t temp_off,
                          int64_t status_off)
{
    int64_t k = 0;
    double s[4] = {0.0, 0.0, 0.0, 0.0};
    for (int64_t i = lo; i < hi; i++) {
        const unsigned char *r = rec + i * rec_size;
        float t;
        memcpy(&t, r + temp_off, sizeof t); /* packed: unaligned */
        int hot = (r[status_off] == 0) & (t > 30.0f);
        k += hot;
        s[i & 3] += hot ? (double)t : 0.0;
    }
    *count += k;
    *sum += (s[0] + s[1]) + (s[2] + s[3]);
}

void hc_sensors(int64_t *count, double *mean, const unsigned char *restrict rec, int64_t n,
                int64_t rec_size, int64_t temp_off, int64_t status_off)
{
    int64_t k = 0;
    double s = 0.0;
    if (!hc_par(n)) {
        sensors_range(&k, &s, rec, 0, n, rec_size, temp_off, status_off);
    } else {
#pragma omp parallel reduction(+ : k, s)
        HC_CHUNKS_OF(lo, hi, n, 1,
                     { sensors_range(&k, &s, rec, lo, hi, rec_size, temp_off, status_off); });
    }
    *count = k;
    *mean = s / (double)k;
}
