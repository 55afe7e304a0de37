/*
 * tests/test_scan.c — scans (cumsum, cumprod, cummin, cummax): the block
 * scan of runtime/reduce.h against a reference written here (across block
 * boundaries; NumPy's sequential cumsum up to one block), dtypes, axes and
 * the flattened scan, layouts, NaN, empty scans, the same bits in every
 * mode, and the seed's rolling-window workloads (create_features_numpy and
 * the corrected moving_average) against plain C loops.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "testutil.h"
#include "runtime/reduce.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- references ------------------------------------------------------------ */

/* NumPy's cumsum: sequential. */
static void ref_seq(const double *x, double *y, int64_t n)
{
    double acc = 0;
    for (int64_t i = 0; i < n; i++)
        y[i] = acc = i == 0 ? x[0] : acc + x[i];
}

/* The block scan, from runtime/reduce.h's definition: block totals first,
 * then the carries folded in block order, then each block finished — the
 * way threads would compute it. mul: products instead of sums. */
static void ref_block(const double *x, double *y, int64_t n, bool mul)
{
    const int64_t B = 4096;
    int64_t nb = (n + B - 1) / B;
    double *total = malloc((size_t)(nb ? nb : 1) * sizeof *total);
    double *carry = malloc((size_t)(nb ? nb : 1) * sizeof *carry);
    assert_true(total && carry);
    for (int64_t b = 0; b < nb; b++) { /* pass 1 (parallel): local totals */
        double l = x[b * B];
        for (int64_t i = b * B + 1; i < n && i < (b + 1) * B; i++)
            l = mul ? l * x[i] : l + x[i];
        total[b] = l;
    }
    for (int64_t b = 1; b < nb; b++) /* serial: carries */
        carry[b] = b == 1 ? total[0] : (mul ? carry[b - 1] * total[b - 1] : carry[b - 1] + total[b - 1]);
    for (int64_t b = 0; b < nb; b++) { /* pass 2 (parallel): finish */
        double l = 0;
        for (int64_t i = b * B; i < n && i < (b + 1) * B; i++) {
            l = i == b * B ? x[i] : (mul ? l * x[i] : l + x[i]);
            y[i] = b == 0 ? l : (mul ? carry[b] * l : carry[b] + l);
        }
    }
    free(total);
    free(carry);
}

static void ref_block_f32(const float *x, float *y, int64_t n)
{
    const int64_t B = 4096;
    float carry = 0;
    for (int64_t lo = 0; lo < n; lo += B) {
        float l = 0;
        for (int64_t i = lo; i < n && i < lo + B; i++) {
            l = i == lo ? x[i] : l + x[i];
            y[i] = lo == 0 ? l : carry + l;
        }
        carry = lo == 0 ? l : carry + l;
    }
}

/* ---- helpers -------------------------------------------------------------------- */

static uint64_t g_rng = 0x2545F4914F6CDD1Dull;
static double urand(void)
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

static double at(const kiln_array *a, int64_t i) { return kiln_array_get_f64(a, i); }

static void expect_same(const double *got, const double *want, int64_t n, const char *what)
{
    for (int64_t i = 0; i < n; i++)
        if (memcmp(&got[i], &want[i], sizeof *got) != 0 && !(isnan(got[i]) && isnan(want[i])))
            fail_msg("%s: element %lld is %.17g, want %.17g", what, (long long)i, got[i],
                     want[i]);
}

/* A 1-D float64 array viewing [start, stop) of a (or a fresh slice view). */
static kiln_array *slice1(kiln_array *a, int64_t start, int64_t stop)
{
    kiln_slice s = {start, stop, 1};
    kiln_array *v = NULL;
    assert_int_equal(kiln_array_slice(a, 1, &s, &v), KILN_OK);
    return v;
}

/* ---- the block scan ---------------------------------------------------------------- */

static void test_block_scan_runtime(void **state)
{
    (void)state;
    const int64_t sizes[] = {0, 1, 2, 7, 4095, 4096, 4097, 8192, 3 * 4096 + 17};
    enum { MAXN = 3 * 4096 + 17 };
    double *x = malloc(MAXN * sizeof *x), *y = malloc(MAXN * sizeof *y),
           *w = malloc(MAXN * sizeof *w), *p = malloc(MAXN * sizeof *p);
    float *xf = malloc(MAXN * sizeof *xf), *yf = malloc(MAXN * sizeof *yf),
          *wf = malloc(MAXN * sizeof *wf);
    assert_true(x && y && w && p && xf && yf && wf);
    for (int i = 0; i < MAXN; i++) {
        x[i] = urand() * 2 - 0.7;
        p[i] = 1 + (urand() - 0.5) * 1e-3;
        xf[i] = (float)x[i];
    }
    for (size_t k = 0; k < sizeof sizes / sizeof *sizes; k++) {
        int64_t n = sizes[k];
        rt_scan_sum(KILN_FLOAT64, (const char *)x, 8, (char *)y, 8, n);
        ref_block(x, w, n, false);
        expect_same(y, w, n, "cumsum vs the block reference");
        if (n <= RT_SCAN_BLOCK) {
            ref_seq(x, w, n);
            expect_same(y, w, n, "cumsum of one block is NumPy's sequential one");
        }
        /* in place */
        memcpy(w, x, (size_t)n * sizeof *w);
        rt_scan_sum(KILN_FLOAT64, (const char *)w, 8, (char *)w, 8, n);
        expect_same(w, y, n, "cumsum in place");
        rt_scan_prod(KILN_FLOAT64, (const char *)p, 8, (char *)y, 8, n);
        ref_block(p, w, n, true);
        expect_same(y, w, n, "cumprod vs the block reference");
        rt_scan_sum(KILN_FLOAT32, (const char *)xf, 4, (char *)yf, 4, n);
        ref_block_f32(xf, wf, n);
        if (n && memcmp(yf, wf, (size_t)n * sizeof *yf) != 0)
            fail_msg("float32 cumsum n=%lld differs from the reference", (long long)n);
    }
    /* across blocks the sequential sum differs: the block scan is its own order */
    ref_seq(x, w, MAXN);
    rt_scan_sum(KILN_FLOAT64, (const char *)x, 8, (char *)y, 8, MAXN);
    bool differs = false;
    for (int i = RT_SCAN_BLOCK; i < MAXN; i++)
        differs |= y[i] != w[i];
    assert_true(differs);
    for (int i = 0; i < MAXN; i++) /* but not by much */
        assert_true(fabs(y[i] - w[i]) <= 1e-9 * (1 + fabs(w[i])));
    free(x);
    free(y);
    free(w);
    free(p);
    free(xf);
    free(yf);
    free(wf);
}

static void test_cumsum_api_across_blocks(void **state)
{
    (void)state;
    kiln_ctx *ctx = new_ctx();
    const int64_t n = 3 * 4096 + 17;
    double *v = malloc((size_t)n * sizeof *v), *w = malloc((size_t)n * sizeof *w);
    assert_true(v && w);
    for (int64_t i = 0; i < n; i++)
        v[i] = urand() * 10;
    kiln_array *a = tu_array(ctx, KILN_FLOAT64, 1, &n, v);
    kiln_expr x = kiln_input(ctx, a);
    kiln_array *r = tu_eval3(kiln_cumsum(x, 0), "cumsum 1-D");
    ref_block(v, w, n, false);
    expect_same(kiln_array_data(r), w, n, "cumsum across blocks");
    assert_true(kiln_expr_same(kiln_cumsum(x, 0), kiln_cumsum(x, KILN_AXIS_NONE)));
    assert_true(kiln_expr_same(kiln_cumsum(x, 0), kiln_cumsum(x, -1)));
    kiln_array_release(r);
    /* a producer: cumsum(x * x) */
    for (int64_t i = 0; i < n; i++)
        v[i] = v[i] * v[i];
    r = tu_eval3(kiln_cumsum(kiln_multiply(x, x), 0), "cumsum(x*x)");
    ref_block(v, w, n, false);
    expect_same(kiln_array_data(r), w, n, "cumsum(x*x)");
    kiln_array_release(r);
    kiln_array_release(a);

    /* along axis 0 of a (4100, 3) matrix, C and Fortran order: each column
     * is the block scan of that column */
    int64_t shape[2] = {4100, 3};
    double *m = malloc(4100 * 3 * sizeof *m);
    assert_non_null(m);
    for (int i = 0; i < 4100 * 3; i++)
        m[i] = urand() - 0.5;
    kiln_array *mc = tu_array(ctx, KILN_FLOAT64, 2, shape, m), *mf = NULL;
    assert_int_equal(kiln_array_copy(mc, KILN_ORDER_F, &mf), KILN_OK);
    kiln_array *rc = tu_eval3(kiln_cumsum(kiln_input(ctx, mc), 0), "column cumsum C");
    kiln_array *rf = tu_eval3(kiln_cumsum(kiln_input(ctx, mf), -2), "column cumsum F");
    assert_true(tu_bits_equal(rc, rf));
    double col[4100], ccol[4100];
    for (int j = 0; j < 3; j++) {
        for (int i = 0; i < 4100; i++)
            col[i] = m[i * 3 + j];
        ref_block(col, ccol, 4100, false);
        for (int i = 0; i < 4100; i++)
            assert_memory_equal(&((double *)kiln_array_data(rc))[i * 3 + j], &ccol[i],
                                sizeof(double));
    }
    kiln_array_release(rc);
    kiln_array_release(rf);
    kiln_array_release(mc);
    kiln_array_release(mf);
    free(m);
    free(v);
    free(w);
    kiln_ctx_free(ctx);
}

/* ---- dtypes ---------------------------------------------------------------------------- */

static void test_scan_dtypes(void **state)
{
    (void)state;
    kiln_ctx *ctx = new_ctx();
    int64_t n = 200;
    double v[200];
    for (int i = 0; i < 200; i++)
        v[i] = 100;
    /* int8 accumulates in int64: no wrap at 127 */
    kiln_array *a = tu_array(ctx, KILN_INT8, 1, &n, v);
    kiln_array *r = tu_eval3(kiln_cumsum(kiln_input(ctx, a), 0), "cumsum int8");
    assert_int_equal(kiln_array_dtype(r), KILN_INT64);
    assert_true(at(r, 199) == 20000.0);
    kiln_array_release(r);
    kiln_array_release(a);
    struct {
        kiln_dtype in;
        kiln_dtype sum, min;
    } rows[] = {
        {KILN_BOOL, KILN_INT64, KILN_BOOL},        {KILN_INT8, KILN_INT64, KILN_INT8},
        {KILN_INT32, KILN_INT64, KILN_INT32},      {KILN_INT64, KILN_INT64, KILN_INT64},
        {KILN_UINT8, KILN_UINT64, KILN_UINT8},     {KILN_UINT32, KILN_UINT64, KILN_UINT32},
        {KILN_UINT64, KILN_UINT64, KILN_UINT64},   {KILN_FLOAT32, KILN_FLOAT32, KILN_FLOAT32},
        {KILN_FLOAT64, KILN_FLOAT64, KILN_FLOAT64},
    };
    int64_t five = 5;
    double small[5] = {3, 1, 4, 1, 5};
    double want_sum[5] = {3, 4, 8, 9, 14}, want_prod[5] = {3, 3, 12, 12, 60},
           want_min[5] = {3, 1, 1, 1, 1}, want_max[5] = {3, 3, 4, 4, 5};
    for (size_t i = 0; i < sizeof rows / sizeof *rows; i++) {
        kiln_array *b = tu_array(ctx, rows[i].in, 1, &five, small);
        kiln_expr x = kiln_input(ctx, b);
        kiln_expr e[4] = {kiln_cumsum(x, 0), kiln_cumprod(x, 0), kiln_cummin(x, 0),
                          kiln_cummax(x, 0)};
        const double *want[4] = {want_sum, want_prod, want_min, want_max};
        for (int k = 0; k < 4; k++) {
            assert_int_equal(kiln_expr_dtype(e[k]), k < 2 ? rows[i].sum : rows[i].min);
            r = tu_eval3(e[k], "scan dtypes");
            for (int j = 0; j < 5; j++) {
                double wv = rows[i].in == KILN_BOOL && k >= 2 ? (want[k][j] != 0)
                            : rows[i].in == KILN_BOOL       ? (k == 0 ? j + 1 : 1)
                                                            : want[k][j];
                if (at(r, j) != wv)
                    fail_msg("scan %d of %s: element %d is %g, want %g", k,
                             kiln_dtype_name(rows[i].in), j, at(r, j), wv);
            }
            kiln_array_release(r);
        }
        kiln_array_release(b);
    }
    /* uint64 and int64 wrap */
    uint64_t u[2] = {UINT64_MAX, 2};
    int64_t two = 2;
    kiln_array *c = NULL;
    assert_int_equal(kiln_array_wrap(ctx, u, KILN_UINT64, 1, &two, NULL, NULL, NULL, &c), KILN_OK);
    r = tu_eval3(kiln_cumsum(kiln_input(ctx, c), 0), "cumsum uint64 wraps");
    assert_true(((uint64_t *)kiln_array_data(r))[1] == 1);
    kiln_array_release(r);
    kiln_array_release(c);
    kiln_ctx_free(ctx);
}

/* ---- axes, flattening, layouts ---------------------------------------------------------- */

static void test_scan_axes_and_layouts(void **state)
{
    (void)state;
    kiln_ctx *ctx = new_ctx();
    int64_t shape[3] = {3, 4, 5}, big[3] = {6, 4, 10};
    double v[60];
    for (int i = 0; i < 60; i++)
        v[i] = urand() - 0.25;
    kiln_array *ac = tu_array(ctx, KILN_FLOAT64, 3, shape, v), *af = NULL, *wide = NULL,
               *as = NULL;
    assert_int_equal(kiln_array_copy(ac, KILN_ORDER_F, &af), KILN_OK);
    assert_int_equal(kiln_array_zeros(ctx, KILN_FLOAT64, 3, big, KILN_ORDER_C, &wide), KILN_OK);
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 4; j++)
            for (int k = 0; k < 5; k++)
                ((double *)kiln_array_data(wide))[((2 * i) * 4 + j) * 10 + 2 * k] =
                    v[(i * 4 + j) * 5 + k];
    kiln_slice sl[3] = {{KILN_END, KILN_END, 2}, KILN_ALL, {KILN_END, KILN_END, 2}};
    assert_int_equal(kiln_array_slice(wide, 3, sl, &as), KILN_OK);
    kiln_array *arrs[3] = {ac, af, as};
    kiln_expr (*fns[4])(kiln_expr, int) = {kiln_cumsum, kiln_cumprod, kiln_cummin, kiln_cummax};
    for (int f = 0; f < 4; f++) {
        for (int axis = -3; axis <= 3; axis++) {
            int ax = axis == 3 ? KILN_AXIS_NONE : axis;
            kiln_array *first = NULL;
            for (int l = 0; l < 3; l++) {
                kiln_expr e = fns[f](kiln_input(ctx, arrs[l]), ax);
                kiln_array *r = tu_eval3(e, "scan layouts");
                if (!first) {
                    first = r;
                    continue;
                }
                if (!tu_bits_equal(first, r))
                    fail_msg("scan %d axis %d: layout %d differs", f, axis, l);
                kiln_array_release(r);
            }
            if (f == 0) { /* cumsum against the reference, line by line */
                if (ax == KILN_AXIS_NONE) {
                    double w[60];
                    ref_seq(v, w, 60);
                    assert_int_equal(kiln_array_rank(first), 1);
                    expect_same(kiln_array_data(first), w, 60, "flattened cumsum");
                } else {
                    int a = ax < 0 ? ax + 3 : ax;
                    int64_t st[3] = {20, 5, 1};
                    for (int o = 0; o < 60; o++) {
                        int idx[3] = {o / 20, (o / 5) % 4, o % 5};
                        if (idx[a] != 0)
                            continue;
                        double line[5], w[5];
                        for (int t = 0; t < shape[a]; t++)
                            line[t] = v[o + t * st[a]];
                        ref_seq(line, w, shape[a]);
                        for (int t = 0; t < shape[a]; t++)
                            assert_memory_equal(&((double *)kiln_array_data(first))[o + t * st[a]],
                                                &w[t], sizeof(double));
                    }
                }
            }
            kiln_array_release(first);
        }
    }
    kiln_array_release(ac);
    kiln_array_release(af);
    kiln_array_release(wide);
    kiln_array_release(as);
    kiln_ctx_free(ctx);
}

/* ---- NaN, zeros, empty ------------------------------------------------------------------ */

static void test_scan_nan_and_empty(void **state)
{
    (void)state;
    kiln_ctx *ctx = new_ctx();
    uint64_t nan1 = 0x7FF8000000000011ull, nan2 = 0x7FF8000000000022ull;
    double v[6] = {2.0, 1.0, 0, 0, -5.0, 3.0};
    memcpy(&v[2], &nan1, 8);
    memcpy(&v[3], &nan2, 8);
    int64_t n = 6;
    kiln_array *a = tu_array(ctx, KILN_FLOAT64, 1, &n, v);
    kiln_expr x = kiln_input(ctx, a);
    kiln_array *r = tu_eval3(kiln_cummin(x, 0), "cummin NaN");
    const uint64_t *rb = kiln_array_data(r);
    assert_true(at(r, 0) == 2.0 && at(r, 1) == 1.0);
    for (int i = 2; i < 6; i++)
        assert_true(rb[i] == nan1); /* the first NaN, bits kept, from there on */
    kiln_array_release(r);
    r = tu_eval3(kiln_cummax(x, 0), "cummax NaN");
    assert_true(((const uint64_t *)kiln_array_data(r))[5] == nan1);
    kiln_array_release(r);
    /* which NaN a sum of NaNs gives is the hardware's (runtime/reduce.h):
     * every mode gives a NaN from the first NaN on, payload not compared */
    for (int mode = KILN_MODE_FUSED; mode <= KILN_MODE_INTERP; mode++) {
        r = tu_eval(kiln_cumsum(x, 0), (kiln_mode)mode);
        assert_true(at(r, 1) == 3.0 && isnan(at(r, 2)) && isnan(at(r, 5)));
        kiln_array_release(r);
    }
    kiln_array_release(a);
    /* zeros: cummin of (0.0, -0.0) ends at -0.0, cummax of (-0.0, 0.0) at +0.0 */
    double z[2] = {0.0, -0.0};
    int64_t two = 2;
    kiln_array *b = tu_array(ctx, KILN_FLOAT64, 1, &two, z);
    r = tu_eval3(kiln_cummin(kiln_input(ctx, b), 0), "cummin zeros");
    assert_true(signbit(at(r, 1)) && !signbit(at(r, 0)));
    kiln_array_release(r);
    kiln_array_release(b);
    /* empty */
    int64_t s30[2] = {3, 0}, s03[2] = {0, 3};
    kiln_array *e1 = NULL, *e2 = NULL;
    assert_int_equal(kiln_array_empty(ctx, KILN_FLOAT64, 2, s30, KILN_ORDER_C, &e1), KILN_OK);
    assert_int_equal(kiln_array_empty(ctx, KILN_INT16, 2, s03, KILN_ORDER_C, &e2), KILN_OK);
    r = tu_eval3(kiln_cumsum(kiln_input(ctx, e1), 1), "empty scan");
    assert_int_equal(kiln_array_size(r), 0);
    assert_int_equal(kiln_array_rank(r), 2);
    kiln_array_release(r);
    kiln_expr flat = kiln_cumprod(kiln_input(ctx, e2), KILN_AXIS_NONE);
    assert_int_equal(kiln_expr_rank(flat), 1);
    assert_int_equal(kiln_expr_dtype(flat), KILN_INT64);
    r = tu_eval3(flat, "empty flattened scan");
    assert_int_equal(kiln_array_size(r), 0);
    kiln_array_release(r);
    /* a 0-d input flattens to (1,) */
    r = tu_eval3(kiln_cumsum(kiln_f64(ctx, -0.0), KILN_AXIS_NONE), "cumsum of a scalar");
    assert_int_equal(kiln_array_rank(r), 1);
    assert_true(signbit(at(r, 0))); /* no identity is added: y[0] = x[0] */
    kiln_array_release(r);
    assert_int_equal(kiln_expr_status(kiln_cumsum(kiln_f64(ctx, 1), 0)), KILN_EAXIS);
    kiln_array_release(e1);
    kiln_array_release(e2);
    kiln_ctx_free(ctx);
}

/* ---- seed workloads --------------------------------------------------------------------- */

enum { NP = 100000, W = 20 };

/* create_features_numpy with plain C loops, cumsums in the canonical
 * (block) order. */
static void features_c(const double *p, double *ret, double *sma, double *vol, double *z)
{
    double *c = malloc(NP * sizeof *c), *c2 = malloc(NP * sizeof *c2), *sq = malloc(NP * sizeof *sq);
    assert_true(c && c2 && sq);
    ref_block(p, c, NP, false);
    for (int i = 0; i < NP; i++)
        sq[i] = p[i] * p[i];
    ref_block(sq, c2, NP, false);
    for (int i = 0; i < NP; i++) {
        ret[i] = i == 0 ? 0 : (p[i] - p[i - 1]) / p[i - 1];
        sma[i] = i < W ? 0 : (c[i] - c[i - W]) / W;
        double mean_sq = i < W ? 0 : (c2[i] - c2[i - W]) / W;
        double variance = mean_sq - sma[i] * sma[i];
        variance = variance > 0 ? variance : 0; /* np.maximum(variance, 0), no NaN here */
        vol[i] = i < W ? 0 : sqrt(variance);
        z[i] = vol[i] > 0 ? (p[i] - sma[i]) / vol[i] : 0;
    }
    free(c);
    free(c2);
    free(sq);
}

static kiln_array *zeros1(kiln_ctx *ctx, int64_t n)
{
    kiln_array *a = NULL;
    assert_int_equal(kiln_array_zeros(ctx, KILN_FLOAT64, 1, &n, KILN_ORDER_C, &a), KILN_OK);
    return a;
}

static void eval_into_view(kiln_expr e, kiln_array *a, int64_t start, int64_t stop)
{
    kiln_array *v = slice1(a, start, stop);
    kiln_status s = kiln_eval_into(e, v);
    if (s != KILN_OK)
        fail_msg("eval_into: %s", kiln_errmsg(e.ctx_));
    kiln_array_release(v);
}

static kiln_expr view_in(kiln_ctx *ctx, kiln_array *a, int64_t start, int64_t stop,
                         kiln_array **keep)
{
    *keep = slice1(a, start, stop);
    return kiln_input(ctx, *keep);
}

/* The seed's create_features_numpy on 100k prices, with kiln in mode:
 * returns via a difference of views, SMA-20 and rolling volatility via
 * cumsum and cumsum of squares read shifted (c[w:] - c[:-w]: the scan is
 * materialized, then read by views), z-score where volatility > 0. */
static void features_kiln(kiln_ctx *ctx, kiln_array *prices, kiln_array **ret, kiln_array **sma,
                          kiln_array **vol, kiln_array **z)
{
    kiln_array *k[8];
    kiln_expr p = kiln_input(ctx, prices);
    *ret = zeros1(ctx, NP);
    kiln_expr hi = view_in(ctx, prices, 1, NP, &k[0]), lo = view_in(ctx, prices, 0, NP - 1, &k[1]);
    eval_into_view(kiln_divide(kiln_subtract(hi, lo), lo), *ret, 1, NP);
    kiln_array *c = tu_eval(kiln_cumsum(p, 0), KILN_MODE_DEFAULT);
    kiln_array *c2 = tu_eval(kiln_cumsum(kiln_square(p), 0), KILN_MODE_DEFAULT);
    *sma = zeros1(ctx, NP);
    kiln_array *mean_sq = zeros1(ctx, NP);
    kiln_expr w = kiln_f64(ctx, W);
    eval_into_view(kiln_divide(kiln_subtract(view_in(ctx, c, W, NP, &k[2]),
                                             view_in(ctx, c, 0, NP - W, &k[3])), w),
                   *sma, W, NP);
    eval_into_view(kiln_divide(kiln_subtract(view_in(ctx, c2, W, NP, &k[4]),
                                             view_in(ctx, c2, 0, NP - W, &k[5])), w),
                   mean_sq, W, NP);
    kiln_expr s = kiln_input(ctx, *sma);
    kiln_expr variance = kiln_maximum(kiln_subtract(kiln_input(ctx, mean_sq), kiln_square(s)),
                                      kiln_f64(ctx, 0));
    *vol = zeros1(ctx, NP);
    kiln_array *var_arr = tu_eval(variance, KILN_MODE_DEFAULT);
    eval_into_view(kiln_sqrt(view_in(ctx, var_arr, W, NP, &k[6])), *vol, W, NP);
    kiln_expr v = kiln_input(ctx, *vol);
    *z = tu_eval(kiln_where(kiln_greater(v, kiln_f64(ctx, 0)), kiln_divide(kiln_subtract(p, s), v),
                            kiln_f64(ctx, 0)),
                 KILN_MODE_DEFAULT);
    for (int i = 0; i < 7; i++)
        kiln_array_release(k[i]);
    kiln_array_release(c);
    kiln_array_release(c2);
    kiln_array_release(mean_sq);
    kiln_array_release(var_arr);
}

static void test_create_features(void **state)
{
    (void)state;
    double *p = malloc(NP * sizeof *p), *want[4], *naive_sma = malloc(NP * sizeof(double));
    for (int i = 0; i < 4; i++)
        want[i] = malloc(NP * sizeof(double));
    assert_true(p && want[0] && want[1] && want[2] && want[3] && naive_sma);
    double price = 100;
    for (int i = 0; i < NP; i++) {
        price *= 1 + (urand() - 0.5) * 0.02;
        p[i] = price;
    }
    features_c(p, want[0], want[1], want[2], want[3]);
    double run = 0; /* the naive sequential cumsum, for scale */
    for (int i = 0; i < NP; i++) {
        run += p[i];
        naive_sma[i] = run;
    }
    for (int i = NP - 1; i >= 0; i--)
        naive_sma[i] = i < W ? 0 : (naive_sma[i] - naive_sma[i - W]) / W;
    const char *names[4] = {"returns", "sma", "volatility", "z_score"};
    for (int mode = KILN_MODE_FUSED; mode <= KILN_MODE_INTERP; mode++) {
        kiln_ctx *ctx = new_ctx();
        assert_int_equal(kiln_ctx_set_mode(ctx, (kiln_mode)mode), KILN_OK);
        kiln_array *prices = tu_array(ctx, KILN_FLOAT64, 1, (int64_t[]){NP}, p), *got[4];
        features_kiln(ctx, prices, &got[0], &got[1], &got[2], &got[3]);
        for (int f = 0; f < 4; f++) {
            expect_same(kiln_array_data(got[f]), want[f], NP, names[f]);
            kiln_array_release(got[f]);
        }
        kiln_array_release(prices);
        kiln_ctx_free(ctx);
    }
    for (int i = W; i < NP; i++) /* the block order is as accurate as the naive one */
        assert_true(fabs(want[1][i] - naive_sma[i]) <= 1e-9 * fabs(naive_sma[i]));
    int positive = 0;
    for (int i = 0; i < NP; i++)
        positive += want[2][i] > 0;
    assert_true(positive > NP / 2); /* the z-score branch is exercised */
    free(p);
    free(naive_sma);
    for (int i = 0; i < 4; i++)
        free(want[i]);
}

/* The seed's corrected moving_average: cumsum with a zero prepended
 * (np.concatenate([[0], np.cumsum(data)])). kiln has no concatenate; the
 * same array is built by evaluating the cumsum into the view c[1:] of a
 * zeroed (n+1)-array. result[w-1:] = (c[w:] - c[:-w]) / w. */
static kiln_array *moving_average(kiln_ctx *ctx, kiln_array *data, int64_t n, int64_t w)
{
    kiln_array *c = zeros1(ctx, n + 1), *res = zeros1(ctx, n), *a, *b;
    eval_into_view(kiln_cumsum(kiln_input(ctx, data), 0), c, 1, n + 1);
    kiln_expr e = kiln_divide(kiln_subtract(view_in(ctx, c, w, n + 1, &a),
                                            view_in(ctx, c, 0, n + 1 - w, &b)),
                              kiln_f64(ctx, (double)w));
    eval_into_view(e, res, w - 1, n);
    kiln_array_release(a);
    kiln_array_release(b);
    kiln_array_release(c);
    return res;
}

static void test_moving_average(void **state)
{
    (void)state;
    kiln_ctx *ctx = new_ctx();
    double d5[5] = {1, 2, 3, 4, 5}, want5[5] = {0, 0, 2, 3, 4};
    int64_t five = 5;
    kiln_array *d = tu_array(ctx, KILN_FLOAT64, 1, &five, d5);
    kiln_array *r = moving_average(ctx, d, 5, 3);
    expect_same(kiln_array_data(r), want5, 5, "moving_average([1..5], 3)");
    kiln_array_release(r);
    kiln_array_release(d);

    double *v = malloc(NP * sizeof *v), *c = malloc((NP + 1) * sizeof *c),
           *want = malloc(NP * sizeof *want);
    assert_true(v && c && want);
    for (int i = 0; i < NP; i++)
        v[i] = 50 + urand();
    c[0] = 0;
    ref_block(v, c + 1, NP, false);
    for (int i = 0; i < NP; i++)
        want[i] = i < W - 1 ? 0 : (c[i + 1] - c[i + 1 - W]) / W;
    d = tu_array(ctx, KILN_FLOAT64, 1, (int64_t[]){NP}, v);
    r = moving_average(ctx, d, NP, W);
    expect_same(kiln_array_data(r), want, NP, "moving_average, 100k");
    for (int i = W - 1; i < NP; i++) { /* the mean of the last W values */
        double s = 0;
        for (int j = i - W + 1; j <= i; j++)
            s += v[j];
        assert_true(fabs(at(r, i) - s / W) <= 1e-9);
    }
    kiln_array_release(r);
    kiln_array_release(d);
    free(v);
    free(c);
    free(want);
    kiln_ctx_free(ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_block_scan_runtime),
        cmocka_unit_test(test_cumsum_api_across_blocks),
        cmocka_unit_test(test_scan_dtypes),
        cmocka_unit_test(test_scan_axes_and_layouts),
        cmocka_unit_test(test_scan_nan_and_empty),
        cmocka_unit_test(test_create_features),
        cmocka_unit_test(test_moving_average),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
