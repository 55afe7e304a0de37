/*
 * bench/handc.h — the hand-written C baselines (bench/handc.c), one per
 * workload, plus the STREAM triad. n counts output elements.
 */
#ifndef KILN_BENCH_HANDC_H
#define KILN_BENCH_HANDC_H

#include <stdint.h>

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
/* y = x[::2]*2+1 */
void hc_strided2(double *restrict y, const double *restrict x, int64_t n);

#endif
