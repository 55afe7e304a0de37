/*
 * examples/seed_affine.c — the seed lesson's first expression, y = x*2 + 1,
 * over 10M doubles, evaluated fused by kiln; prints a checksum of y and the
 * time of the first (compiling) and a cached evaluation.
 */
#define _POSIX_C_SOURCE 200809L /* clock_gettime */
#include <kiln.h>

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int fail(kiln_ctx *ctx, const char *what)
{
    fprintf(stderr, "seed_affine: %s: %s\n", what, kiln_errmsg(ctx));
    kiln_ctx_free(ctx);
    return 1;
}

int main(int argc, char **argv)
{
    int64_t n = argc > 1 ? atoll(argv[1]) : 10000000;
    kiln_ctx *ctx = kiln_ctx_new(NULL);
    if (!ctx)
        return 1;
    kiln_array *x = NULL, *y = NULL;
    if (kiln_array_empty(ctx, KILN_FLOAT64, 1, &n, KILN_ORDER_C, &x) != KILN_OK)
        return fail(ctx, "allocating x");
    double *xs = kiln_array_data(x);
    for (int64_t i = 0; i < n; i++)
        xs[i] = (double)i;

    kiln_expr e = kiln_add(kiln_multiply(kiln_input(ctx, x), kiln_f64(ctx, 2)), kiln_f64(ctx, 1));
    double t0 = now_ms();
    if (kiln_eval(e, &y) != KILN_OK)
        return fail(ctx, "evaluating x*2+1");
    double t1 = now_ms();
    if (kiln_eval_into(e, y) != KILN_OK)
        return fail(ctx, "evaluating x*2+1 again");
    double t2 = now_ms();

    const double *ys = kiln_array_data(y);
    double sum = 0;
    for (int64_t i = 0; i < n; i++)
        sum += ys[i];
    /* sum of 2i+1 for i < n is n^2, exact in double for n <= 2^26 */
    printf("x*2+1 over %lld doubles: checksum %.17g (expected %.17g)\n", (long long)n, sum,
           (double)n * (double)n);
    printf("first evaluation %.2f ms (includes compilation), cached %.2f ms; %llu compile(s)\n",
           t1 - t0, t2 - t1, (unsigned long long)kiln_ctx_counter(ctx, KILN_COUNTER_COMPILES));
    int bad = sum != (double)n * (double)n;
    kiln_array_release(y);
    kiln_array_release(x);
    kiln_ctx_free(ctx);
    return bad;
}
