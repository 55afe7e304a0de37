/*
 * bench/handc.c — the hand-written C loops kiln's fused kernels are
 * measured against (the practical limit), and the STREAM-style triad that
 * measures memory bandwidth.
 *
 * Compiled on its own with -O3 -march=native -ffp-contract=off and no
 * fast-math (bench/CMakeLists.txt), so every loop evaluates its expression
 * exactly as written, in the same order as the kiln expression the
 * benchmark builds: results are bit-identical to kiln's for exactly rounded
 * ops. Math functions are the C library's scalar ones (gcc does not call
 * libmvec without -ffast-math), which makes hc_sinlog a reference as well
 * as a baseline. Pointers are restrict: outputs never alias inputs here.
 */
#include "handc.h"

#include <math.h>

void hc_triad(double *restrict a, const double *restrict b, const double *restrict c, double s,
              int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        a[i] = b[i] + s * c[i];
}

void hc_affine(double *restrict y, const double *restrict x, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        y[i] = 2.0 * x[i] + 1.0;
}

void hc_chain(double *restrict y, const double *restrict x, int64_t n)
{
    for (int64_t i = 0; i < n; i++) {
        double v = x[i];
        y[i] = ((((v + 1.0) * 2.0 - 3.0) / 4.0 + v) * v - 0.5 * v) / (1.0 + v * v);
    }
}

void hc_sinlog(double *restrict c, const double *restrict a, const double *restrict b, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        c[i] = a[i] * b[i] + sin(a[i]) - log(fabs(b[i]) + 1.0);
}

void hc_leaky(double *restrict y, const double *restrict x, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        y[i] = x[i] > 0.0 ? x[i] : 0.01 * x[i];
}

/* The step is a constant, as a person writing this loop would write it:
 * the compiler then vectorizes the even-element loads with shuffles. */
void hc_strided2(double *restrict y, const double *restrict x, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        y[i] = 2.0 * x[2 * i] + 1.0;
}
