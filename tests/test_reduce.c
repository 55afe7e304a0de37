/*
 * tests/test_reduce.c — reductions (sum, prod, min, max, mean, var, std,
 * argmin, argmax, all, any, count_nonzero): the canonical order of
 * runtime/reduce.h against references written here, accuracy, result
 * dtypes, every dtype, axes and keepdims, ddof, NaN and signed zeros, empty
 * reductions, errors, layout independence, the same bits in every mode,
 * seed workloads (column normalization, pairwise distances) against plain
 * C loops, hash-consing and lookup by name, and every allocation failing.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "testutil.h"
#include "frontend/fe.h"
#include "graph/graph.h"
#include "runtime/reduce.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- references, written from the definition in runtime/reduce.h ------ */

/* PW_add (OP +, START -0.0) and PW_mul (OP *, START 1.0) on x[0..n). */
#define REF_PW(NAME, T, OP, START)                                                \
    static T NAME(const T *x, int64_t n)                                          \
    {                                                                             \
        if (n < 8) {                                                              \
            T r = (START);                                                        \
            for (int64_t i = 0; i < n; i++)                                       \
                r = r OP x[i];                                                    \
            return r;                                                             \
        }                                                                         \
        if (n <= 128) {                                                           \
            T r[8];                                                               \
            memcpy(r, x, sizeof r);                                               \
            int64_t i = 8, n8 = n - n % 8;                                        \
            for (; i < n8; i += 8)                                                \
                for (int j = 0; j < 8; j++)                                       \
                    r[j] = r[j] OP x[i + j];                                      \
            T s = ((r[0] OP r[1]) OP (r[2] OP r[3])) OP ((r[4] OP r[5]) OP (r[6] OP r[7])); \
            for (; i < n; i++)                                                    \
                s = s OP x[i];                                                    \
            return s;                                                             \
        }                                                                         \
        int64_t m = (n / 2) / 8 * 8;                                              \
        return NAME(x, m) OP NAME(x + m, n - m);                                  \
    }
REF_PW(ref_pw, double, +, -0.0)
REF_PW(ref_pwf, float, +, -0.0f)
REF_PW(ref_pwm, double, *, 1.0)
REF_PW(ref_pwmf, float, *, 1.0f)
#undef REF_PW

static double ref_sum(const double *x, int64_t n) { return 0.0 + ref_pw(x, n); }
static double ref_mean(const double *x, int64_t n) { return ref_sum(x, n) / (double)n; }

/* NumPy's two-pass var: squares of deviations summed pairwise. */
static double ref_var(const double *x, int64_t n, int ddof)
{
    double m = ref_mean(x, n);
    double *y = malloc((size_t)(n ? n : 1) * sizeof *y);
    assert_non_null(y);
    for (int64_t i = 0; i < n; i++)
        y[i] = (x[i] - m) * (x[i] - m);
    double s = ref_sum(y, n);
    free(y);
    return s / (double)(n - ddof > 0 ? n - ddof : 0);
}

/* ---- helpers ------------------------------------------------------------------ */

static uint64_t g_rng = 0x9E3779B97F4A7C15ull;
static double urand(void) /* [0, 1) */
{
    g_rng ^= g_rng << 13;
    g_rng ^= g_rng >> 7;
    g_rng ^= g_rng << 17;
    return (double)(g_rng >> 11) * 0x1p-53;
}

static kiln_ctx *new_ctx(void)
{
    kiln_ctx *ctx = kiln_ctx_new(NULL);
    assert_non_null(ctx);
    return ctx;
}

static kiln_array *f64_array(kiln_ctx *ctx, int rank, const int64_t *shape, const double *v)
{
    return tu_array(ctx, KILN_FLOAT64, rank, shape, v);
}

static double at(const kiln_array *a, int64_t i) { return kiln_array_get_f64(a, i); }

static uint64_t bits64(double d)
{
    uint64_t u;
    memcpy(&u, &d, sizeof u);
    return u;
}

static void expect_bits(double got, double want, const char *what)
{
    if (bits64(got) != bits64(want) && !(isnan(got) && isnan(want)))
        fail_msg("%s: got %.17g (%#llx), want %.17g (%#llx)", what, got,
                 (unsigned long long)bits64(got), want, (unsigned long long)bits64(want));
}

static void expect_shape(kiln_expr e, int rank, const int64_t *shape, const char *what)
{
    if (kiln_expr_status(e) != KILN_OK)
        fail_msg("%s: %s", what, kiln_errmsg(e.ctx_));
    assert_int_equal(kiln_expr_rank(e), rank);
    int64_t s[KILN_MAX_RANK];
    assert_int_equal(kiln_expr_shape(e, s), KILN_OK);
    for (int k = 0; k < rank; k++)
        if (s[k] != shape[k])
            fail_msg("%s: extent %d is %lld, want %lld", what, k, (long long)s[k],
                     (long long)shape[k]);
}

static void expect_error(kiln_expr e, kiln_status s, const char *needle)
{
    assert_int_equal(kiln_expr_status(e), s);
    if (needle && !strstr(kiln_errmsg(e.ctx_), needle))
        fail_msg("error '%s' lacks '%s'", kiln_errmsg(e.ctx_), needle);
}

/* ---- the canonical order, at the runtime level ------------------------------- */

static void test_pairwise_tree_matches_reference(void **state)
{
    (void)state;
    enum { MAXN = 70000 };
    double *x = malloc(2 * MAXN * sizeof *x), *y = malloc(MAXN * sizeof *y);
    float *xf = malloc(MAXN * sizeof *xf);
    assert_true(x && y && xf);
    for (int i = 0; i < 2 * MAXN; i++)
        x[i] = (urand() - 0.5) * ldexp(1.0, (int)(urand() * 40) - 20);
    for (int i = 0; i < MAXN; i++)
        xf[i] = (float)x[i];
    const int64_t sizes[] = {1000, 1023, 1024, 4099, 8192, 65537, MAXN};
    for (int64_t k = 0; k < 300 + (int64_t)(sizeof sizes / sizeof *sizes); k++) {
        int64_t n = k < 300 ? k : sizes[k - 300];
        char what[64];
        snprintf(what, sizeof what, "pairwise n=%lld", (long long)n);
        expect_bits(rt_pw_add_f64((const char *)x, n, 8), ref_pw(x, n), what);
        float a = rt_pw_add_f32((const char *)xf, n, 4), b = ref_pwf(xf, n);
        if (memcmp(&a, &b, sizeof a) != 0)
            fail_msg("%s (float32): %.9g vs %.9g", what, (double)a, (double)b);
        /* strided, and backwards: the same sequence, the same bits */
        for (int64_t i = 0; i < n; i++)
            y[i] = x[2 * i];
        expect_bits(rt_pw_add_f64((const char *)x, n, 16), ref_pw(y, n), what);
        for (int64_t i = 0; i < n; i++)
            y[i] = x[n - 1 - i];
        if (n > 0)
            expect_bits(rt_pw_add_f64((const char *)(x + n - 1), n, -8), ref_pw(y, n), what);
        /* products of values near 1 */
        for (int64_t i = 0; i < n; i++)
            y[i] = 1.0 + x[i] * 1e-3;
        expect_bits(rt_pw_mul_f64((const char *)y, n, 8), ref_pwm(y, n), what);
    }
    free(x);
    free(y);
    free(xf);
}

/* The sum of 10^7 copies of 0.1, against a long double and a compensated
 * reference: kiln's error is no worse than NumPy's (whose result,
 * 999999.9999999782, comes from adding pairwise sums of 8192-element
 * buffers one after another; a sequential loop gives 999999.9998389754). */
static void test_sum_accuracy(void **state)
{
    (void)state;
    const int64_t n = 10000000;
    kiln_ctx *ctx = new_ctx();
    kiln_array *a = NULL;
    assert_int_equal(kiln_array_empty(ctx, KILN_FLOAT64, 1, &n, KILN_ORDER_C, &a), KILN_OK);
    double *p = kiln_array_data(a);
    for (int64_t i = 0; i < n; i++)
        p[i] = 0.1;
    long double exact = (long double)n * (long double)0.1; /* 0.1 as a double, times 10^7 */
    double kahan = 0, comp = 0, seq = 0;
    for (int64_t i = 0; i < n; i++) {
        double yv = p[i] - comp, t = kahan + yv;
        comp = (t - kahan) - yv;
        kahan = t;
        seq += p[i];
    }
    assert_true(fabsl((long double)kahan - exact) <= 1e-9L);
    expect_bits(seq, 999999.99983897537, "sequential sum (the naive loop)");

    kiln_array *r = tu_eval(kiln_sum(kiln_input(ctx, a), 0, NULL, 0), KILN_MODE_INTERP);
    double got = at(r, 0);
    const double numpy = 999999.9999999782;
    assert_true(fabsl((long double)got - exact) <= fabsl((long double)numpy - exact));
    assert_true(fabsl((long double)got - exact) <= fabsl((long double)kahan - exact) + 1e-10L);
    expect_bits(got, 1000000.0, "sum of 10^7 x 0.1 (the correctly rounded sum)");
    double direct;
    rt_reduce_sum(KILN_FLOAT64, (const char *)p, n, 8, &direct);
    expect_bits(got, direct, "API vs runtime/reduce.c");
    kiln_array_release(r);
    kiln_array_release(a);
    kiln_ctx_free(ctx);
}

/* ---- dtypes ----------------------------------------------------------------------- */

typedef kiln_expr (*red_fn)(kiln_expr, int, const int *, int);

static kiln_expr var0(kiln_expr x, int n, const int *ax, int kd) { return kiln_var(x, n, ax, kd, 0); }
static kiln_expr std0(kiln_expr x, int n, const int *ax, int kd) { return kiln_std(x, n, ax, kd, 0); }
static kiln_expr argmin_all(kiln_expr x, int n, const int *ax, int kd)
{
    (void)kd;
    return kiln_argmin(x, n ? ax[0] : KILN_AXIS_NONE);
}
static kiln_expr argmax_all(kiln_expr x, int n, const int *ax, int kd)
{
    (void)kd;
    return kiln_argmax(x, n ? ax[0] : KILN_AXIS_NONE);
}

enum { R_SUM, R_PROD, R_MIN, R_MAX, R_MEAN, R_VAR, R_STD, R_ARGMIN, R_ARGMAX, R_ALL, R_ANY, R_CNZ,
       R_COUNT };
static const struct {
    const char *name;
    red_fn fn;
} g_red[R_COUNT] = {
    {"sum", kiln_sum},         {"prod", kiln_prod},       {"min", kiln_min},
    {"max", kiln_max},         {"mean", kiln_mean},       {"var", var0},
    {"std", std0},             {"argmin", argmin_all},    {"argmax", argmax_all},
    {"all", kiln_all},         {"any", kiln_any},         {"count_nonzero", kiln_count_nonzero},
};

/* NumPy's result dtype (64-bit Linux). */
static kiln_dtype want_dtype(int r, kiln_dtype t)
{
    bool flt = t == KILN_FLOAT32 || t == KILN_FLOAT64;
    bool uns = t == KILN_UINT8 || t == KILN_UINT16 || t == KILN_UINT32 || t == KILN_UINT64;
    switch (r) {
    case R_SUM: case R_PROD: return flt ? t : uns ? KILN_UINT64 : KILN_INT64;
    case R_MIN: case R_MAX: return t;
    case R_MEAN: case R_VAR: case R_STD: return flt ? t : KILN_FLOAT64;
    case R_ARGMIN: case R_ARGMAX: case R_CNZ: return KILN_INT64;
    default: return KILN_BOOL;
    }
}

static void test_result_dtypes(void **state)
{
    (void)state;
    kiln_ctx *ctx = new_ctx();
    int64_t s3[1] = {3};
    for (int t = 0; t < KILN_DTYPE_COUNT; t++) {
        kiln_array *a = tu_arange(ctx, (kiln_dtype)t, 1, s3);
        kiln_expr x = kiln_input(ctx, a);
        for (int r = 0; r < R_COUNT; r++) {
            kiln_expr e = g_red[r].fn(x, 0, NULL, 0);
            if (kiln_expr_dtype(e) != want_dtype(r, (kiln_dtype)t))
                fail_msg("%s(%s) is %s, want %s", g_red[r].name, kiln_dtype_name((kiln_dtype)t),
                         kiln_dtype_name(kiln_expr_dtype(e)),
                         kiln_dtype_name(want_dtype(r, (kiln_dtype)t)));
            assert_int_equal(kiln_expr_rank(e), 0);
        }
        kiln_array_release(a);
    }
    /* weak scalars take their default dtype: sum(2.5) is float64, sum(3)
     * int64, and -0.0 sums to +0.0 (NumPy's initial value) */
    kiln_array *r = tu_eval(kiln_sum(kiln_f64(ctx, -0.0), 0, NULL, 0), KILN_MODE_INTERP);
    assert_int_equal(kiln_array_dtype(r), KILN_FLOAT64);
    expect_bits(at(r, 0), 0.0, "sum(-0.0)");
    kiln_array_release(r);
    r = tu_eval(kiln_mean(kiln_i64(ctx, 3), 0, NULL, 0), KILN_MODE_FUSED);
    assert_int_equal(kiln_array_dtype(r), KILN_FLOAT64);
    assert_true(at(r, 0) == 3.0);
    kiln_array_release(r);
    kiln_ctx_free(ctx);
}

/* ---- values, every reduction x every dtype -------------------------------------- */

/* Expected result of reduction r over the sequence v[0..n) (exact values of
 * dtype t), computed here: integer arithmetic exactly (the values are
 * small), float sums with the reference tree in the dtype's precision. */
static double want_value(int r, kiln_dtype t, const double *v, int64_t n)
{
    bool flt = t == KILN_FLOAT32 || t == KILN_FLOAT64;
    switch (r) {
    case R_SUM:
        if (t == KILN_FLOAT32) {
            float f[64];
            for (int64_t i = 0; i < n; i++)
                f[i] = (float)v[i];
            return (double)(0.0f + ref_pwf(f, n));
        }
        if (flt)
            return ref_sum(v, n);
        {
            int64_t s = 0;
            for (int64_t i = 0; i < n; i++)
                s += (int64_t)v[i];
            return (double)s;
        }
    case R_PROD: {
        if (t == KILN_FLOAT32) {
            float f[64];
            for (int64_t i = 0; i < n; i++)
                f[i] = (float)v[i];
            return (double)ref_pwmf(f, n);
        }
        if (flt)
            return ref_pwm(v, n);
        int64_t s = 1;
        for (int64_t i = 0; i < n; i++)
            s *= (int64_t)v[i];
        return (double)s;
    }
    case R_MIN: case R_MAX: {
        double m = v[0];
        for (int64_t i = 1; i < n; i++)
            m = r == R_MIN ? (v[i] < m ? v[i] : m) : (v[i] > m ? v[i] : m);
        return m;
    }
    case R_ARGMIN: case R_ARGMAX: {
        int64_t b = 0;
        for (int64_t i = 1; i < n; i++)
            if (r == R_ARGMIN ? v[i] < v[b] : v[i] > v[b])
                b = i;
        return (double)b;
    }
    case R_ALL: case R_ANY: case R_CNZ: {
        int64_t c = 0;
        for (int64_t i = 0; i < n; i++)
            c += v[i] != 0;
        return r == R_ALL ? (double)(c == n) : r == R_ANY ? (double)(c > 0) : (double)c;
    }
    default: break;
    }
    /* mean, var, std */
    if (t == KILN_FLOAT32) {
        float f[64], m, sq[64];
        for (int64_t i = 0; i < n; i++)
            f[i] = (float)v[i];
        m = (float)((double)(0.0f + ref_pwf(f, n)) / (double)n);
        if (r == R_MEAN)
            return (double)m;
        for (int64_t i = 0; i < n; i++)
            sq[i] = (f[i] - m) * (f[i] - m);
        float var = (float)((double)(0.0f + ref_pwf(sq, n)) / (double)n);
        return r == R_VAR ? (double)var : (double)sqrtf(var);
    }
    if (r == R_MEAN)
        return ref_mean(v, n);
    return r == R_VAR ? ref_var(v, n, 0) : sqrt(ref_var(v, n, 0));
}

/* Values of dtype t for element i: exact in t and in double. */
static double sample(kiln_dtype t, int i)
{
    static const double s[] = {3, -2, 7, 0, 5, -1, 4, 9, -6, 2, 1, 8};
    static const double f[] = {0.25, -1.5, 3.75, 0.1, 2.2, -0.7, 1.3, 9.5, -6.25, 0.0, 4.4, 1.1};
    switch (t) {
    case KILN_BOOL: return (i % 3) != 1;
    case KILN_UINT8: case KILN_UINT16: case KILN_UINT32: case KILN_UINT64: return fabs(s[i % 12]);
    case KILN_FLOAT32: return (double)(float)f[i % 12];
    case KILN_FLOAT64: return f[i % 12];
    default: return s[i % 12];
    }
}

static void test_every_reduction_every_dtype(void **state)
{
    (void)state;
    kiln_ctx *ctx = new_ctx();
    int64_t shape[2] = {2, 6};
    for (int t = 0; t < KILN_DTYPE_COUNT; t++) {
        double vals[12];
        for (int i = 0; i < 12; i++)
            vals[i] = sample((kiln_dtype)t, i);
        kiln_array *a = tu_array(ctx, (kiln_dtype)t, 2, shape, vals);
        kiln_expr x = kiln_input(ctx, a);
        for (int r = 0; r < R_COUNT; r++) {
            /* axis 1 (rows), then every axis */
            int ax1 = 1;
            kiln_array *rows = tu_eval3(g_red[r].fn(x, 1, &ax1, 0), g_red[r].name);
            kiln_array *all = tu_eval3(g_red[r].fn(x, 0, NULL, 0), g_red[r].name);
            assert_int_equal(kiln_array_size(rows), 2);
            assert_int_equal(kiln_array_size(all), 1);
            for (int row = 0; row < 2; row++) {
                double want = want_value(r, (kiln_dtype)t, vals + 6 * row, 6);
                if (at(rows, row) != want && !(isnan(want) && isnan(at(rows, row))))
                    fail_msg("%s(%s) row %d: %.17g, want %.17g", g_red[r].name,
                             kiln_dtype_name((kiln_dtype)t), row, at(rows, row), want);
            }
            double want = want_value(r, (kiln_dtype)t, vals, 12);
            if (at(all, 0) != want)
                fail_msg("%s(%s): %.17g, want %.17g", g_red[r].name,
                         kiln_dtype_name((kiln_dtype)t), at(all, 0), want);
            kiln_array_release(rows);
            kiln_array_release(all);
        }
        kiln_array_release(a);
    }
    kiln_ctx_free(ctx);
}

/* Integer sums wrap in the result dtype; small ints accumulate in 64 bits
 * (NumPy: np.sum(int8 array) does not wrap at 127). */
static void test_integer_accumulation(void **state)
{
    (void)state;
    kiln_ctx *ctx = new_ctx();
    int64_t n = 300;
    double v[300];
    for (int i = 0; i < 300; i++)
        v[i] = 100;
    kiln_array *a = tu_array(ctx, KILN_INT8, 1, &n, v);
    kiln_array *r = tu_eval3(kiln_sum(kiln_input(ctx, a), 0, NULL, 0), "sum int8");
    assert_int_equal(kiln_array_dtype(r), KILN_INT64);
    assert_true(at(r, 0) == 30000.0);
    kiln_array_release(r);
    kiln_array_release(a);
    int64_t two = 2;
    int64_t big[2] = {INT64_MAX, 1};
    kiln_array *b = NULL;
    assert_int_equal(kiln_array_wrap(ctx, big, KILN_INT64, 1, &two, NULL, NULL, NULL, &b),
                     KILN_OK);
    r = tu_eval3(kiln_sum(kiln_input(ctx, b), 0, NULL, 0), "sum int64 wraps");
    assert_true(*(int64_t *)kiln_array_data(r) == INT64_MIN);
    kiln_array_release(r);
    uint64_t ubig[2] = {UINT64_MAX, 3};
    kiln_array *u = NULL;
    assert_int_equal(kiln_array_wrap(ctx, ubig, KILN_UINT64, 1, &two, NULL, NULL, NULL, &u),
                     KILN_OK);
    r = tu_eval3(kiln_prod(kiln_input(ctx, u), 0, NULL, 0), "prod uint64 wraps");
    assert_true(*(uint64_t *)kiln_array_data(r) == UINT64_MAX - 2);
    kiln_array_release(r);
    kiln_array_release(b);
    kiln_array_release(u);
    kiln_ctx_free(ctx);
}

/* ---- axes, keepdims, negative axes -------------------------------------------------- */

static void test_axes_keepdims(void **state)
{
    (void)state;
    kiln_ctx *ctx = new_ctx();
    int64_t shape[3] = {3, 4, 5};
    double v[60];
    for (int i = 0; i < 60; i++)
        v[i] = urand() - 0.3;
    kiln_array *a = f64_array(ctx, 3, shape, v);
    kiln_expr x = kiln_input(ctx, a);
    for (unsigned mask = 1; mask < 8; mask++) {
        for (int keep = 0; keep < 2; keep++) {
            int axes[3], naxes = 0;
            for (int k = 2; k >= 0; k--) /* listed backwards, negative half the time */
                if (mask & (1u << k)) {
                    axes[naxes] = (naxes % 2) ? k - 3 : k;
                    naxes++;
                }
            kiln_expr e = kiln_sum(x, naxes, axes, keep);
            int64_t oshape[3];
            int orank = 0;
            for (int k = 0; k < 3; k++)
                if (!(mask & (1u << k)))
                    oshape[orank++] = shape[k];
                else if (keep)
                    oshape[orank++] = 1;
            expect_shape(e, orank, oshape, "sum over axes");
            kiln_array *r = tu_eval3(e, "sum over axes");
            /* every output element: its reduced elements in C order */
            int64_t oi = 0;
            for (int i0 = 0; i0 < ((mask & 1) ? 1 : 3); i0++)
                for (int i1 = 0; i1 < ((mask & 2) ? 1 : 4); i1++)
                    for (int i2 = 0; i2 < ((mask & 4) ? 1 : 5); i2++) {
                        double seq[60];
                        int64_t n = 0;
                        for (int j0 = 0; j0 < 3; j0++)
                            for (int j1 = 0; j1 < 4; j1++)
                                for (int j2 = 0; j2 < 5; j2++) {
                                    if ((!(mask & 1) && j0 != i0) || (!(mask & 2) && j1 != i1) ||
                                        (!(mask & 4) && j2 != i2))
                                        continue;
                                    seq[n++] = v[(j0 * 4 + j1) * 5 + j2];
                                }
                        if (n > 60) { /* never; tells GCC -O3, which inlines ref_pw's
                                       * recursion, that seq's bounds hold */
                            fail();
                            return;
                        }
                        expect_bits(at(r, oi++), ref_sum(seq, n), "sum over axes");
                    }
            assert_int_equal(oi, kiln_array_size(r));
            kiln_array_release(r);
        }
    }
    /* naxes 0 is every axis; the same node as listing them all */
    int all[3] = {0, 1, 2};
    assert_true(kiln_expr_same(kiln_sum(x, 0, NULL, 0), kiln_sum(x, 3, all, 0)));
    int neg[1] = {-1}, pos[1] = {2};
    assert_true(kiln_expr_same(kiln_mean(x, 1, neg, 1), kiln_mean(x, 1, pos, 1)));
    assert_false(kiln_expr_same(kiln_mean(x, 1, pos, 1), kiln_mean(x, 1, pos, 0)));
    kiln_array_release(a);
    kiln_ctx_free(ctx);
}

/* ---- var and std with ddof ------------------------------------------------------------ */

static void test_var_std_ddof(void **state)
{
    (void)state;
    kiln_ctx *ctx = new_ctx();
    int64_t shape[2] = {4, 37};
    double v[4 * 37];
    for (int i = 0; i < 4 * 37; i++)
        v[i] = 10 + urand();
    kiln_array *a = f64_array(ctx, 2, shape, v);
    kiln_expr x = kiln_input(ctx, a);
    int ax = 1;
    for (int ddof = -1; ddof <= 3; ddof++) {
        kiln_array *var = tu_eval3(kiln_var(x, 1, &ax, 0, ddof), "var");
        kiln_array *sd = tu_eval3(kiln_std(x, 1, &ax, 0, ddof), "std");
        for (int row = 0; row < 4; row++) {
            double want = ref_var(v + 37 * row, 37, ddof);
            expect_bits(at(var, row), want, "var(ddof)");
            expect_bits(at(sd, row), sqrt(want), "std(ddof)");
        }
        kiln_array_release(var);
        kiln_array_release(sd);
    }
    assert_false(kiln_expr_same(kiln_var(x, 0, NULL, 0, 0), kiln_var(x, 0, NULL, 0, 1)));
    /* n - ddof <= 0: 0/0 is NaN, a positive sum over 0 is inf (NumPy) */
    int64_t two = 2;
    double one_two[2] = {1, 2};
    kiln_array *b = f64_array(ctx, 1, &two, one_two);
    kiln_expr y = kiln_input(ctx, b);
    kiln_array *r = tu_eval3(kiln_var(y, 0, NULL, 0, 2), "var ddof=n");
    assert_true(isinf(at(r, 0)) && at(r, 0) > 0);
    kiln_array_release(r);
    r = tu_eval3(kiln_var(kiln_f64(ctx, 1.0), 0, NULL, 0, 1), "var of one, ddof 1");
    assert_true(isnan(at(r, 0)));
    kiln_array_release(r);
    kiln_array_release(b);
    kiln_array_release(a);
    kiln_ctx_free(ctx);
}

/* ---- NaN and signed zeros ---------------------------------------------------------------- */

static double nan_with(uint64_t payload)
{
    uint64_t u = 0x7FF8000000000000ull | payload;
    double d;
    memcpy(&d, &u, sizeof d);
    return d;
}

static void test_nan_and_zeros(void **state)
{
    (void)state;
    kiln_ctx *ctx = new_ctx();
    int64_t n = 6;
    double v[6] = {1.0, nan_with(7), -3.0, nan_with(9), 0.0, 2.0};
    kiln_array *a = f64_array(ctx, 1, &n, v);
    kiln_expr x = kiln_input(ctx, a);
    kiln_array *r = tu_eval3(kiln_min(x, 0, NULL, 0), "min with NaN");
    assert_true(bits64(at(r, 0)) == bits64(nan_with(7))); /* the first NaN, bits kept */
    kiln_array_release(r);
    r = tu_eval3(kiln_max(x, 0, NULL, 0), "max with NaN");
    assert_true(bits64(at(r, 0)) == bits64(nan_with(7)));
    kiln_array_release(r);
    r = tu_eval3(kiln_argmin(x, KILN_AXIS_NONE), "argmin with NaN");
    assert_true(at(r, 0) == 1.0);
    kiln_array_release(r);
    r = tu_eval3(kiln_argmax(x, 0), "argmax with NaN");
    assert_true(at(r, 0) == 1.0);
    kiln_array_release(r);
    /* which NaN a sum of NaNs returns is the hardware's (runtime/reduce.h):
     * a NaN in every mode, payload not compared */
    for (int mode = KILN_MODE_FUSED; mode <= KILN_MODE_UNFUSED; mode++) {
        r = tu_eval(kiln_sum(x, 0, NULL, 0), (kiln_mode)mode);
        assert_true(isnan(at(r, 0)));
        kiln_array_release(r);
    }
    r = tu_eval(kiln_sum(x, 0, NULL, 0), KILN_MODE_INTERP);
    assert_true(isnan(at(r, 0)));
    kiln_array_release(r);
    r = tu_eval3(kiln_count_nonzero(x, 0, NULL, 0), "count_nonzero counts NaN");
    assert_true(at(r, 0) == 5.0);
    kiln_array_release(r);
    r = tu_eval3(kiln_all(x, 0, NULL, 0), "all: NaN is true, 0 false");
    assert_true(at(r, 0) == 0.0);
    kiln_array_release(r);
    kiln_array_release(a);

    /* zeros: min is -0.0 and max +0.0 in either order (gr_apply's order);
     * argmin/argmax compare as IEEE (zeros equal: the first wins) */
    double z1[2] = {0.0, -0.0}, z2[2] = {-0.0, 0.0};
    int64_t two = 2;
    kiln_array *b1 = f64_array(ctx, 1, &two, z1), *b2 = f64_array(ctx, 1, &two, z2);
    kiln_expr x1 = kiln_input(ctx, b1), x2 = kiln_input(ctx, b2);
    const struct {
        kiln_expr e;
        double want;
    } cases[] = {
        {kiln_min(x1, 0, NULL, 0), -0.0}, {kiln_min(x2, 0, NULL, 0), -0.0},
        {kiln_max(x1, 0, NULL, 0), 0.0},  {kiln_max(x2, 0, NULL, 0), 0.0},
        {kiln_argmin(x1, 0), 0.0},        {kiln_argmax(x2, 0), 0.0},
        {kiln_sum(x2, 0, NULL, 0), 0.0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        r = tu_eval3(cases[i].e, "zeros");
        expect_bits(at(r, 0), cases[i].want, "zeros");
        kiln_array_release(r);
    }
    double negz[3] = {-0.0, -0.0, -0.0};
    int64_t three = 3;
    kiln_array *b3 = f64_array(ctx, 1, &three, negz);
    r = tu_eval3(kiln_sum(kiln_input(ctx, b3), 0, NULL, 0), "sum of -0.0s");
    expect_bits(at(r, 0), 0.0, "sum of -0.0s is +0.0, as NumPy");
    kiln_array_release(r);
    r = tu_eval3(kiln_prod(kiln_input(ctx, b3), 0, NULL, 0), "prod of -0.0s");
    expect_bits(at(r, 0), -0.0, "prod of three -0.0s");
    kiln_array_release(r);
    kiln_array_release(b1);
    kiln_array_release(b2);
    kiln_array_release(b3);

    /* float32: the first NaN's bits survive min */
    uint32_t fb[3] = {0x3f800000u, 0x7fc00123u, 0x7fc00456u};
    kiln_array *f = NULL;
    assert_int_equal(kiln_array_wrap(ctx, fb, KILN_FLOAT32, 1, &three, NULL, NULL, NULL, &f),
                     KILN_OK);
    r = tu_eval3(kiln_min(kiln_input(ctx, f), 0, NULL, 0), "float32 min NaN");
    assert_true(*(uint32_t *)kiln_array_data(r) == 0x7fc00123u);
    kiln_array_release(r);
    kiln_array_release(f);
    kiln_ctx_free(ctx);
}

/* ---- empty reductions ------------------------------------------------------------------ */

static void test_empty(void **state)
{
    (void)state;
    kiln_ctx *ctx = new_ctx();
    int64_t s30[2] = {3, 0}, s03[2] = {0, 3};
    kiln_array *a = NULL, *b = NULL;
    assert_int_equal(kiln_array_empty(ctx, KILN_FLOAT64, 2, s30, KILN_ORDER_C, &a), KILN_OK);
    assert_int_equal(kiln_array_empty(ctx, KILN_INT32, 2, s03, KILN_ORDER_C, &b), KILN_OK);
    kiln_expr x = kiln_input(ctx, a), y = kiln_input(ctx, b);
    int ax1 = 1, ax0 = 0;
    /* identities over the empty axis 1 of (3, 0): three of each */
    const struct {
        kiln_expr e;
        double want;
    } cases[] = {
        {kiln_sum(x, 1, &ax1, 0), 0.0},           {kiln_prod(x, 1, &ax1, 0), 1.0},
        {kiln_all(x, 1, &ax1, 0), 1.0},           {kiln_any(x, 1, &ax1, 0), 0.0},
        {kiln_count_nonzero(x, 1, &ax1, 0), 0.0}, {kiln_mean(x, 1, &ax1, 0), NAN},
        {kiln_var(x, 1, &ax1, 0, 0), NAN},        {kiln_std(x, 1, &ax1, 0, 1), NAN},
        {kiln_sum(y, 1, &ax0, 0), 0.0}, /* int32 (0, 3) over axis 0 */
        {kiln_sum(kiln_multiply(y, kiln_i64(ctx, 2)), 1, &ax0, 0), 0.0}, /* a producer */
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        kiln_array *r = tu_eval3(cases[i].e, "empty reduction");
        assert_int_equal(kiln_array_size(r), 3);
        for (int k = 0; k < 3; k++)
            if (!(at(r, k) == cases[i].want || (isnan(cases[i].want) && isnan(at(r, k)))))
                fail_msg("empty case %zu: %g, want %g", i, at(r, k), cases[i].want);
        kiln_array_release(r);
    }
    /* over axis 0 of (3, 0): an empty result, nothing to compute */
    kiln_array *r = tu_eval3(kiln_sum(x, 1, &ax0, 0), "empty result");
    assert_int_equal(kiln_array_size(r), 0);
    kiln_array_release(r);
    r = tu_eval3(kiln_min(y, 1, &ax1, 0), "min over a non-empty axis, empty result");
    assert_int_equal(kiln_array_size(r), 0);
    kiln_array_release(r);
    /* no identity: an error at construction, NumPy's message, even when the
     * result itself would be empty */
    expect_error(kiln_min(x, 1, &ax1, 0), KILN_EINVAL,
                 "zero-size array to reduction operation minimum which has no identity");
    expect_error(kiln_max(x, 0, NULL, 0), KILN_EINVAL,
                 "zero-size array to reduction operation maximum which has no identity");
    expect_error(kiln_max(y, 1, &ax0, 0), KILN_EINVAL, "maximum which has no identity");
    expect_error(kiln_argmin(x, 1), KILN_EINVAL, "attempt to get argmin of an empty sequence");
    expect_error(kiln_argmax(x, KILN_AXIS_NONE), KILN_EINVAL, "argmax of an empty sequence");
    kiln_array_release(a);
    kiln_array_release(b);
    kiln_ctx_free(ctx);
}

/* ---- errors -------------------------------------------------------------------------------- */

static void test_errors(void **state)
{
    (void)state;
    kiln_ctx *ctx = new_ctx();
    int64_t shape[2] = {2, 3};
    kiln_array *a = tu_arange(ctx, KILN_FLOAT64, 2, shape);
    kiln_expr x = kiln_input(ctx, a);
    int bad[1] = {2}, neg[1] = {-3}, dup[2] = {1, -1};
    expect_error(kiln_sum(x, 1, bad, 0), KILN_EAXIS,
                 "sum: axis 2 is out of bounds for array of dimension 2");
    expect_error(kiln_mean(x, 1, neg, 0), KILN_EAXIS, "axis -3 is out of bounds");
    expect_error(kiln_prod(x, 2, dup, 0), KILN_EAXIS, "duplicate value in 'axis'");
    expect_error(kiln_sum(x, -1, NULL, 0), KILN_EINVAL, "negative number of axes");
    expect_error(kiln_sum(x, 1, NULL, 0), KILN_ENULL, NULL);
    expect_error(kiln_argmin(x, 2), KILN_EAXIS, "argmin: axis 2 is out of bounds");
    expect_error(kiln_cumsum(x, -3), KILN_EAXIS, "cumsum: axis -3 is out of bounds");
    expect_error(kiln_sum(kiln_f64(ctx, 1), 1, (int[]){0}, 0), KILN_EAXIS,
                 "for array of dimension 0");
    /* sticky: an error passes through */
    kiln_expr e = kiln_sum(x, 1, bad, 0);
    kiln_expr f = kiln_std(kiln_add(e, x), 0, NULL, 0, 0);
    assert_int_equal(kiln_expr_status(f), KILN_EAXIS);
    kiln_array *out = NULL;
    assert_int_equal(kiln_eval(f, &out), KILN_EAXIS);
    assert_null(out);
    /* NULL handle */
    kiln_expr null = {NULL, 0, 0};
    assert_int_equal(kiln_expr_status(kiln_sum(null, 0, NULL, 0)), KILN_ENULL);
    assert_int_equal(kiln_expr_status(kiln_cummax(null, 0)), KILN_ENULL);
    /* a reduction is not an elementwise op for gr_op_make */
    gr_id in = x.id_;
    gr_id r = gr_op_make(ctx->graph, GR_OP_SUM, 1, &in, KILN_BOOL);
    assert_int_equal(gr_node_at(ctx->graph, r)->a.err.status, KILN_EINVAL);
    /* nor a scan for gr_reduce_make, nor the reverse */
    r = gr_reduce_make(ctx->graph, GR_OP_CUMSUM, in, 0, NULL, false, 0);
    assert_int_equal(gr_node_at(ctx->graph, r)->op, GR_OP_ERROR);
    r = gr_scan_make(ctx->graph, GR_OP_SUM, in, 0);
    assert_int_equal(gr_node_at(ctx->graph, r)->op, GR_OP_ERROR);
    kiln_array_release(a);
    kiln_ctx_free(ctx);
}

/* ---- the same bits for any layout ------------------------------------------------------- */

/* A (37, 45) matrix as C order, Fortran order, a strided view, and a
 * reversed view of reversed data: every reduction over axis 0, axis 1 and
 * all axes gives the same bits for all of them, in every mode. */
static void test_layouts_same_bits(void **state)
{
    (void)state;
    kiln_ctx *ctx = new_ctx();
    enum { R = 37, C = 45 };
    int64_t shape[2] = {R, C}, big[2] = {2 * R, 2 * C};
    double v[R * C];
    for (int i = 0; i < R * C; i++)
        v[i] = urand() * 100 - 30;
    kiln_array *ac = f64_array(ctx, 2, shape, v), *af = NULL, *wide = NULL, *rev = NULL;
    assert_int_equal(kiln_array_copy(ac, KILN_ORDER_F, &af), KILN_OK);
    assert_int_equal(kiln_array_zeros(ctx, KILN_FLOAT64, 2, big, KILN_ORDER_C, &wide), KILN_OK);
    assert_int_equal(kiln_array_empty(ctx, KILN_FLOAT64, 2, shape, KILN_ORDER_C, &rev), KILN_OK);
    for (int i = 0; i < R; i++)
        for (int j = 0; j < C; j++) {
            ((double *)kiln_array_data(wide))[(2 * i) * 2 * C + 2 * j] = v[i * C + j];
            ((double *)kiln_array_data(rev))[(R - 1 - i) * C + (C - 1 - j)] = v[i * C + j];
        }
    kiln_slice every2[2] = {{KILN_END, KILN_END, 2}, {KILN_END, KILN_END, 2}};
    kiln_slice back[2] = {{KILN_END, KILN_END, -1}, {KILN_END, KILN_END, -1}};
    kiln_array *as = NULL, *ar = NULL;
    assert_int_equal(kiln_array_slice(wide, 2, every2, &as), KILN_OK);
    assert_int_equal(kiln_array_slice(rev, 2, back, &ar), KILN_OK);
    kiln_array *arrs[4] = {ac, af, as, ar};
    for (int r = 0; r < R_COUNT; r++) {
        for (int axes = 0; axes < 3; axes++) {
            int ax = axes; /* 0, 1; 2 = all */
            kiln_array *first = NULL;
            for (int l = 0; l < 4; l++) {
                kiln_expr x = kiln_input(ctx, arrs[l]);
                kiln_expr e = g_red[r].fn(x, axes < 2 ? 1 : 0, &ax, 0);
                kiln_array *res = tu_eval3(e, g_red[r].name);
                if (!first) {
                    first = res;
                    continue;
                }
                if (!tu_bits_equal(first, res))
                    fail_msg("%s over axes %d: layout %d differs from C order", g_red[r].name,
                             axes, l);
                kiln_array_release(res);
            }
            /* and against the reference for sum/mean/var */
            if (r == R_SUM || r == R_MEAN || r == R_VAR) {
                int64_t nout = kiln_array_size(first);
                for (int64_t o = 0; o < nout; o++) {
                    double seq[R * C];
                    int64_t n = 0;
                    for (int i = 0; i < R; i++)
                        for (int j = 0; j < C; j++)
                            if ((axes == 0 && j == o) || (axes == 1 && i == o) || axes == 2)
                                seq[n++] = v[i * C + j];
                    double want = r == R_SUM ? ref_sum(seq, n)
                                  : r == R_MEAN ? ref_mean(seq, n)
                                                : ref_var(seq, n, 0);
                    expect_bits(at(first, o), want, g_red[r].name);
                }
            }
            kiln_array_release(first);
        }
    }
    kiln_array_release(ac);
    kiln_array_release(af);
    kiln_array_release(wide);
    kiln_array_release(rev);
    kiln_array_release(as);
    kiln_array_release(ar);
    kiln_ctx_free(ctx);
}

/* A broadcast input (zero strides) and a float32 input reduce as their
 * values say. */
static void test_broadcast_and_float32(void **state)
{
    (void)state;
    kiln_ctx *ctx = new_ctx();
    int64_t n = 5, shape[2] = {1000, 5};
    double row[5] = {0.1, 0.2, 0.3, 0.4, 0.5};
    kiln_array *a = f64_array(ctx, 1, &n, row), *b = NULL;
    assert_int_equal(kiln_array_broadcast_to(a, 2, shape, &b), KILN_OK);
    int ax0 = 0;
    kiln_array *r = tu_eval3(kiln_sum(kiln_input(ctx, b), 1, &ax0, 0), "sum of a broadcast view");
    for (int j = 0; j < 5; j++) {
        double seq[1000];
        for (int i = 0; i < 1000; i++)
            seq[i] = row[j];
        expect_bits(at(r, j), ref_sum(seq, 1000), "broadcast column sum");
    }
    kiln_array_release(r);
    /* float32 accumulates in float32 (NumPy): not the float64 sum rounded */
    int64_t m = 1000;
    double fv[1000];
    float ff[1000];
    for (int i = 0; i < 1000; i++)
        ff[i] = (float)(fv[i] = (double)(float)(urand() * 3));
    kiln_array *f = tu_array(ctx, KILN_FLOAT32, 1, &m, fv);
    r = tu_eval3(kiln_sum(kiln_input(ctx, f), 0, NULL, 0), "float32 sum");
    float got = *(float *)kiln_array_data(r), want = 0.0f + ref_pwf(ff, 1000);
    assert_memory_equal(&got, &want, sizeof got);
    kiln_array_release(r);
    kiln_array_release(f);
    kiln_array_release(a);
    kiln_array_release(b);
    kiln_ctx_free(ctx);
}

/* ---- seed workloads -------------------------------------------------------------------- */

/* (d - mean(d, axis=0)) / std(d, axis=0) on a (1000, 5) matrix, against a
 * plain C loop (bit for bit with the pairwise order; a naive two-pass loop
 * agrees within rounding). */
static void test_column_normalization(void **state)
{
    (void)state;
    kiln_ctx *ctx = new_ctx();
    enum { N = 1000, K = 5 };
    int64_t shape[2] = {N, K};
    double *v = malloc(N * K * sizeof *v);
    assert_non_null(v);
    for (int i = 0; i < N * K; i++)
        v[i] = 50 + 20 * urand() + i % 7;
    kiln_array *a = f64_array(ctx, 2, shape, v);
    kiln_expr d = kiln_input(ctx, a);
    int ax0 = 0;
    kiln_expr z = kiln_divide(kiln_subtract(d, kiln_mean(d, 1, &ax0, 0)), kiln_std(d, 1, &ax0, 0, 0));
    kiln_array *r = tu_eval3(z, "column normalization");
    double col[N], mean[K], sd[K], naive_mean[K], naive_sd[K];
    for (int j = 0; j < K; j++) {
        for (int i = 0; i < N; i++)
            col[i] = v[i * K + j];
        mean[j] = ref_mean(col, N);
        sd[j] = sqrt(ref_var(col, N, 0));
        double s = 0, q = 0;
        for (int i = 0; i < N; i++)
            s += col[i];
        naive_mean[j] = s / N;
        for (int i = 0; i < N; i++)
            q += (col[i] - naive_mean[j]) * (col[i] - naive_mean[j]);
        naive_sd[j] = sqrt(q / N);
    }
    for (int i = 0; i < N; i++)
        for (int j = 0; j < K; j++) {
            double got = at(r, i * K + j);
            expect_bits(got, (v[i * K + j] - mean[j]) / sd[j], "normalized element");
            double naive = (v[i * K + j] - naive_mean[j]) / naive_sd[j];
            assert_true(fabs(got - naive) <= 1e-12 * (1 + fabs(naive)));
        }
    kiln_array_release(r);
    kiln_array_release(a);
    free(v);
    kiln_ctx_free(ctx);
}

/* sqrt(sum((p[:, None, :] - p[None, :, :])**2, axis=2)) for 300 points in
 * 3-D, against the C double loop (three terms: the pairwise tree is that
 * loop). */
static void test_pairwise_distances(void **state)
{
    (void)state;
    kiln_ctx *ctx = new_ctx();
    enum { N = 300, D = 3 };
    int64_t shape[2] = {N, D};
    double *v = malloc(N * D * sizeof *v);
    assert_non_null(v);
    for (int i = 0; i < N * D; i++)
        v[i] = urand() * 10;
    kiln_array *p = f64_array(ctx, 2, shape, v), *pa = NULL, *pb = NULL;
    assert_int_equal(kiln_array_expand_dims(p, 1, &pa), KILN_OK); /* (N, 1, D) */
    assert_int_equal(kiln_array_expand_dims(p, 0, &pb), KILN_OK); /* (1, N, D) */
    kiln_expr diff = kiln_subtract(kiln_input(ctx, pa), kiln_input(ctx, pb));
    int last = -1;
    kiln_expr dist = kiln_sqrt(kiln_sum(kiln_square(diff), 1, &last, 0));
    int64_t want_shape[2] = {N, N};
    expect_shape(dist, 2, want_shape, "distance matrix");
    kiln_array *r = tu_eval3(dist, "pairwise distances");
    for (int i = 0; i < N; i++)
        for (int j = 0; j < N; j++) {
            double s = 0;
            for (int k = 0; k < D; k++) {
                double t = v[i * D + k] - v[j * D + k];
                s += t * t;
            }
            expect_bits(at(r, (int64_t)i * N + j), sqrt(s), "distance");
        }
    kiln_array_release(r);
    kiln_array_release(p);
    kiln_array_release(pa);
    kiln_array_release(pb);
    free(v);
    kiln_ctx_free(ctx);
}

/* Several reductions of one input evaluated together, and a reduction
 * that is also read by another root. */
static void test_many_roots(void **state)
{
    (void)state;
    kiln_ctx *ctx = new_ctx();
    int64_t shape[2] = {64, 3};
    double v[192];
    for (int i = 0; i < 192; i++)
        v[i] = urand();
    kiln_array *a = f64_array(ctx, 2, shape, v);
    kiln_expr x = kiln_input(ctx, a);
    int ax0 = 0;
    kiln_expr m = kiln_mean(x, 1, &ax0, 0);
    kiln_expr roots[4] = {m, kiln_var(x, 1, &ax0, 0, 1), kiln_subtract(x, m),
                          kiln_max(kiln_multiply(x, x), 0, NULL, 0)};
    kiln_array *want[4] = {NULL, NULL, NULL, NULL};
    assert_int_equal(kiln_eval_many(ctx, KILN_MODE_INTERP, 4, roots, want), KILN_OK);
    for (int mode = KILN_MODE_FUSED; mode <= KILN_MODE_UNFUSED; mode++) {
        kiln_array *got[4] = {NULL, NULL, NULL, NULL};
        assert_int_equal(kiln_eval_many(ctx, (kiln_mode)mode, 4, roots, got), KILN_OK);
        for (int i = 0; i < 4; i++) {
            if (!tu_bits_equal(got[i], want[i]))
                fail_msg("root %d differs in mode %d", i, mode);
            kiln_array_release(got[i]);
        }
    }
    double col[64];
    for (int i = 0; i < 64; i++)
        col[i] = v[i * 3 + 1];
    expect_bits(at(want[0], 1), ref_mean(col, 64), "mean of column 1");
    expect_bits(at(want[1], 1), ref_var(col, 64, 1), "var of column 1");
    expect_bits(at(want[2], 3 * 5 + 1), v[3 * 5 + 1] - ref_mean(col, 64), "x - mean");
    for (int i = 0; i < 4; i++)
        kiln_array_release(want[i]);
    /* in place: x = x - mean(x, axis=0) into x itself */
    kiln_array *a2 = NULL;
    assert_int_equal(kiln_array_copy(a, KILN_ORDER_C, &a2), KILN_OK);
    kiln_expr x2 = kiln_input(ctx, a2);
    assert_int_equal(kiln_eval_into(kiln_subtract(x2, kiln_mean(x2, 1, &ax0, 0)), a2), KILN_OK);
    for (int i = 0; i < 64; i++)
        expect_bits(at(a2, i * 3 + 1), v[i * 3 + 1] - ref_mean(col, 64), "in place");
    kiln_array_release(a2);
    kiln_array_release(a);
    kiln_ctx_free(ctx);
}

/* ---- hash-consing and names ------------------------------------------------------------ */

static void test_cse_and_names(void **state)
{
    (void)state;
    kiln_ctx *ctx = new_ctx();
    int64_t shape[2] = {2, 3};
    kiln_array *a = tu_arange(ctx, KILN_INT32, 2, shape);
    kiln_expr x = kiln_input(ctx, a);
    int ax0 = 0, ax1 = 1;
    assert_true(kiln_expr_same(kiln_sum(x, 1, &ax0, 0), kiln_sum(x, 1, &ax0, 0)));
    assert_false(kiln_expr_same(kiln_sum(x, 1, &ax0, 0), kiln_sum(x, 1, &ax1, 0)));
    assert_false(kiln_expr_same(kiln_sum(x, 1, &ax0, 0), kiln_prod(x, 1, &ax0, 0)));
    assert_false(kiln_expr_same(kiln_argmin(x, 0), kiln_argmin(x, 1)));
    /* sum of int32 sums int64 elements: the same node as sum of the cast */
    assert_true(kiln_expr_same(kiln_sum(x, 0, NULL, 0),
                               kiln_sum(kiln_cast(x, KILN_INT64), 0, NULL, 0)));
    assert_true(kiln_expr_same(kiln_mean(x, 0, NULL, 0),
                               kiln_mean(kiln_cast(x, KILN_FLOAT64), 0, NULL, 0)));
    /* by name: NumPy's defaults */
    for (int op = 0; op < GR_OP_COUNT; op++) {
        if (!gr_is_reduce(op) && !gr_is_scan(op))
            continue;
        kiln_expr e = kiln_op(ctx, gr_ops[op].name, 1, &x);
        assert_int_equal(kiln_expr_status(e), KILN_OK);
        const gr_node *n = gr_node_at(ctx->graph, e.id_);
        assert_int_equal(n->op, op);
        if (gr_is_reduce(op))
            assert_int_equal(n->a.red.axes, 3);
        else
            assert_int_equal(n->a.red.axis, -1);
    }
    assert_true(kiln_expr_same(kiln_op(ctx, "sum", 1, &x), kiln_sum(x, 0, NULL, 0)));
    assert_true(kiln_expr_same(kiln_op(ctx, "cumsum", 1, &x), kiln_cumsum(x, KILN_AXIS_NONE)));
    assert_true(kiln_expr_same(kiln_op(ctx, "std", 1, &x), kiln_std(x, 0, NULL, 0, 0)));
    expect_error(kiln_op(ctx, "sum", 2, (kiln_expr[]){x, x}), KILN_EINVAL, "expects 1");
    /* and through expression strings */
    const char *names[1] = {"x"};
    kiln_array *arrs[1] = {a};
    kiln_expr p = kiln_parse(ctx, "sum(x * x) + mean(x)", 1, names, arrs);
    assert_int_equal(kiln_expr_status(p), KILN_OK);
    assert_true(kiln_expr_same(
        p, kiln_add(kiln_sum(kiln_multiply(x, x), 0, NULL, 0), kiln_mean(x, 0, NULL, 0))));
    kiln_array_release(a);
    kiln_ctx_free(ctx);
}

/* ---- out of memory -------------------------------------------------------------------------- */

/* A scenario on a fresh context with allocator ta: sum, mean, var over
 * axes of a producer, a consumer, a gathered multi-axis reduction and a
 * scan of a Fortran-order input, evaluated in mode; checks the values when
 * it succeeds. fail_eval > 0 arms ta to fail the fail_eval-th allocation
 * counted from the start of the evaluation (and every later one);
 * *eval_allocs receives the evaluation's allocation count. */
static kiln_status oom_run(tu_alloc *ta, kiln_mode mode, long fail_eval, long *eval_allocs)
{
    kiln_status s = KILN_ENOMEM;
    kiln_ctx *ctx = kiln_ctx_new(&ta->a);
    if (!ctx)
        return s;
    int64_t shape[3] = {2, 3, 4};
    kiln_array *x = NULL;
    if (kiln_array_empty(ctx, KILN_FLOAT64, 3, shape, KILN_ORDER_F, &x) == KILN_OK) {
        int64_t idx[3];
        for (idx[0] = 0; idx[0] < 2; idx[0]++)
            for (idx[1] = 0; idx[1] < 3; idx[1]++)
                for (idx[2] = 0; idx[2] < 4; idx[2]++)
                    *(double *)kiln_array_ptr(x, idx) =
                        (double)((idx[0] * 3 + idx[1]) * 4 + idx[2]);
        kiln_expr ex = kiln_input(ctx, x);
        int ax02[2] = {0, 2}, ax1 = 1;
        kiln_expr sq = kiln_multiply(ex, ex);
        kiln_expr r[4] = {kiln_sum(sq, 2, ax02, 0),
                          kiln_subtract(ex, kiln_mean(ex, 1, &ax1, 1)),
                          kiln_var(ex, 0, NULL, 0, 1), kiln_cumsum(ex, KILN_AXIS_NONE)};
        kiln_array *outs[4] = {NULL, NULL, NULL, NULL};
        long before = ta->count;
        if (fail_eval > 0) {
            ta->fail_at = before + fail_eval;
            ta->sticky = true;
        }
        s = kiln_eval_many(ctx, mode, 4, r, outs);
        ta->fail_at = 0;
        if (eval_allocs)
            *eval_allocs = ta->count - before;
        if (s == KILN_OK) {
            /* sum over axes 0, 2 of x*x for j = 1: (i*12 + 4 + k)^2 */
            double want = 0;
            for (int i = 0; i < 2; i++)
                for (int k = 0; k < 4; k++)
                    want += (double)((i * 12 + 4 + k) * (i * 12 + 4 + k));
            assert_true(at(outs[0], 1) == want);
            assert_true(at(outs[1], 5) == 0.0); /* x[0,1,1] - mean(x[0,:,1]) = 5 - 5 */
            assert_true(fabs(at(outs[2], 0) - 50.0) < 1e-12); /* var of 0..23, ddof 1 */
            assert_true(at(outs[3], 23) == 276.0);
            for (int i = 0; i < 4; i++)
                kiln_array_release(outs[i]);
        } else {
            assert_int_equal(s, KILN_ENOMEM);
            for (int i = 0; i < 4; i++)
                assert_null(outs[i]);
        }
    }
    kiln_array_release(x);
    kiln_ctx_free(ctx);
    return s;
}

static void oom_check(tu_alloc *ta, kiln_status s, int mode, long n, bool last)
{
    if (ta->live != 0 || ta->live_bytes != 0)
        fail_msg("mode %d, allocation %ld failing: %ld blocks (%lld bytes) leaked", mode, n,
                 ta->live, ta->live_bytes);
    if (last)
        assert_int_equal(s, KILN_OK);
}

/* Every allocation fails in turn, and every later one too: KILN_ENOMEM or
 * the right answer, never a crash or a leak. Interpreted, every allocation
 * of the whole scenario; fused (the staged plan, its temporaries and the
 * interpreter fallback of the reduction kernels, whose gather buffer fails
 * too), every allocation of the evaluation; unfused, every third (each run
 * makes a context that starts LLVM and compiles: slow under ASan). */
static void test_oom_every_allocation(void **state)
{
    (void)state;
    static const kiln_mode modes[3] = {KILN_MODE_INTERP, KILN_MODE_FUSED, KILN_MODE_UNFUSED};
    for (int m = 0; m < 3; m++) {
        tu_alloc ta;
        long eval_allocs = 0;
        tu_alloc_init(&ta, 0, false);
        assert_int_equal(oom_run(&ta, modes[m], 0, &eval_allocs), KILN_OK);
        long total = ta.count;
        assert_int_equal(ta.live, 0);
        bool whole = modes[m] == KILN_MODE_INTERP;
        long last = whole ? total + 1 : eval_allocs + 1;
        long step = modes[m] == KILN_MODE_UNFUSED ? 3 : 1;
        for (long n = 1; n <= last; n += n + step > last && n < last ? last - n : step) {
            tu_alloc_init(&ta, whole ? n : 0, true);
            kiln_status s = oom_run(&ta, modes[m], whole ? 0 : n, NULL);
            oom_check(&ta, s, modes[m], n, n == last);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pairwise_tree_matches_reference),
        cmocka_unit_test(test_sum_accuracy),
        cmocka_unit_test(test_result_dtypes),
        cmocka_unit_test(test_every_reduction_every_dtype),
        cmocka_unit_test(test_integer_accumulation),
        cmocka_unit_test(test_axes_keepdims),
        cmocka_unit_test(test_var_std_ddof),
        cmocka_unit_test(test_nan_and_zeros),
        cmocka_unit_test(test_empty),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_layouts_same_bits),
        cmocka_unit_test(test_broadcast_and_float32),
        cmocka_unit_test(test_column_normalization),
        cmocka_unit_test(test_pairwise_distances),
        cmocka_unit_test(test_many_roots),
        cmocka_unit_test(test_cse_and_names),
        cmocka_unit_test(test_oom_every_allocation),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
