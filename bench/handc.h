/*
 * bench/handc.h — the hand-written C baselines (bench/handc.c), one per
 * workload, plus the STREAM triad. n counts output elements unless said
 * otherwise. Every loop runs on hc_set_threads(n) OpenMP threads (1: no
 * parallel region at all).
 */
#ifndef KILN_BENCH_HANDC_H
#define KILN_BENCH_HANDC_H

#include <stdint.h>

/* Threads for every loop below (OpenMP); n >= 1. */
void hc_set_threads(int n);

/* a = b + s*c */
void hc_triad(double *restrict a, const double *restrict b, const double *restrict c, double s,
              int64_t n);
/* y = 2*x+1 */
void hc_affine(double *restrict y, const double *restrict x, int64_t n);
/* y = ((((x+1)*2-3)/4+x)*x - 0.5*x)/(1+x*x) */
void hc_chain(double *restrict y, const double *restrict x, int64_t n);
/* c = a*b + sin(a) - log(abs(b)+1) */
void hc_sinlog(double *restrict c, const double *restrict a, const double *restrict b, int64_t n);
/* y = where(x>0, x, 0.01*x) */
void hc_leaky(double *restrict y, const double *restrict x, int64_t n);
/* y = where(x>0, x*x, 0) */
void hc_relu_sq(double *restrict y, const double *restrict x, int64_t n);
/* y = x[::2]*2+1 */
void hc_strided2(double *restrict y, const double *restrict x, int64_t n);

/* out[0] = sum(x), out[1] = sum(x*x): one pass, 8 accumulators each (the
 * loop a C programmer writes to break the add latency chain). */
void hc_sums(double out[2], const double *restrict x, int64_t n);
/* out[i] = sum of row i of the C-order rows x cols matrix a (8 accumulators
 * per row). */
void hc_row_sums(double *restrict out, const double *restrict a, int64_t rows, int64_t cols);
/* out[j] = sum of column j of the C-order rows x cols matrix a, adding
 * whole rows into out (one sequential chain per column). */
void hc_col_sums(double *restrict out, const double *restrict a, int64_t rows, int64_t cols);
/* y = (d - mean(d, axis=0)) / std(d, axis=0), d C-order rows x cols
 * (cols <= 8): a pass for the sums, one for the squared deviations, one for
 * the output. */
void hc_colnorm(double *restrict y, const double *restrict d, int64_t rows, int64_t cols);
/* out[i*m+j] = sqrt(sum((p[i]-p[j])**2)) for m points p of 3 coordinates. */
void hc_pdist3(double *restrict out, const double *restrict p, int64_t m);
/* The seed's create_features_numpy over n prices with window w: returns,
 * sma, volatility, z_score (each n long, leading elements 0 as NumPy's).
 * c and c2 are n-element scratch for the two cumsums, which follow kiln's
 * block scan order (runtime/reduce.h: blocks of 4096, carry on the left),
 * so results are bit-identical to kiln's. */
void hc_features(double *restrict ret, double *restrict sma, double *restrict vol,
                 double *restrict z, const double *restrict p, double *restrict c,
                 double *restrict c2, int64_t n, int64_t w);
/* Records of rec_size bytes: *count = number with status == 0 and
 * temperature > 30, *mean = the mean of their temperatures (in double). */
void hc_sensors(int64_t *count, double *mean, const unsigned char *restrict rec, int64_t n,
                int64_t rec_size, int64_t temp_off, int64_t status_off);

#endif
