/*
 * tests/test_jit_reduce.c — reductions and scans compiled by the JIT
 * (jit/reduce.c): the same bits as the interpreter (runtime/reduce.h's
 * order) for every reduction over sizes around the pairwise tree's
 * boundaries, every layout (C, F, strided, reversed), row, column,
 * multi-axis and full reductions, NaN and signed zeros; every scan across
 * the block boundaries of a float cumsum, along rows, columns and
 * flattened; no interpreter fallback; the producer fused (sum(x*x) and
 * cumsum(x*x) allocate no temporary); vector code in the IR.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "testutil.h"
#include "frontend/fe.h"
#include "jit/jit.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- helpers -------------------------------------------------------------------- */

static uint64_t g_rng = 0x2545F4914F6CDD1Dull;
static double urand(void) /* [0, 1) */
{
    g_rng ^= g_rng << 13;
    g_rng ^= g_rng >> 7;
    g_rng ^= g_rng << 17;
    return (double)(g_rng >> 11) * 0x1p-53;
}

/* Values for dtype t: floats with a wide exponent range (the order of a
 * sum shows in its bits), or near 1 for products; small integers. */
static double sample(kiln_dtype t, bool prod)
{
    double u = urand();
    switch (t) {
    case KILN_FLOAT64:
    case KILN_FLOAT32:
        if (prod)
            return 1.0 + (u - 0.5) * 1e-2;
        return (u - 0.3) * ldexp(1.0, (int)(urand() * 30) - 15);
    case KILN_BOOL: return u < 0.8;
    case KILN_UINT8: case KILN_UINT16: case KILN_UINT32: case KILN_UINT64:
        return floor(u * 200);
    default: return floor(u * 200) - 100;
    }
}

static kiln_array *rnd_array(kiln_ctx *ctx, kiln_dtype t, int rank, const int64_t *shape, bool prod)
{
    int64_t n = 1;
    for (int d = 0; d < rank; d++)
        n *= shape[d];
    double *v = malloc((size_t)(n ? n : 1) * sizeof *v);
    assert_non_null(v);
    for (int64_t i = 0; i < n; i++)
        v[i] = sample(t, prod);
    kiln_array *a = tu_array(ctx, t, rank, shape, v);
    free(v);
    return a;
}

enum { L_C, L_F, L_STRIDED, L_REVERSED, L_COUNT };
static const char *const g_layout[L_COUNT] = {"C", "F", "strided", "reversed"};

/* a's values in layout l (a view or a copy; the caller releases it). */
static kiln_array *in_layout(kiln_ctx *ctx, kiln_array *a, int l)
{
    int rank = kiln_array_rank(a);
    int64_t shape[KILN_MAX_RANK], big[KILN_MAX_RANK];
    memcpy(shape, kiln_array_shape(a), (size_t)rank * sizeof *shape);
    kiln_array *r = NULL, *host = NULL;
    kiln_slice sl[KILN_MAX_RANK];
    switch (l) {
    case L_C:
        kiln_array_retain(a);
        return a;
    case L_F:
        assert_int_equal(kiln_array_copy(a, KILN_ORDER_F, &r), KILN_OK);
        return r;
    case L_STRIDED:
        for (int d = 0; d < rank; d++) {
            big[d] = 2 * shape[d] + 1;
            sl[d] = (kiln_slice){1, KILN_END, 2};
        }
        assert_int_equal(kiln_array_zeros(ctx, kiln_array_dtype(a), rank, big, KILN_ORDER_C, &host),
                         KILN_OK);
        break;
    default:
        for (int d = 0; d < rank; d++)
            sl[d] = (kiln_slice){KILN_END, KILN_END, -1};
        assert_int_equal(kiln_array_empty(ctx, kiln_array_dtype(a), rank, shape, KILN_ORDER_C, &host),
                         KILN_OK);
        break;
    }
    assert_int_equal(kiln_array_slice(host, rank, sl, &r), KILN_OK);
    kiln_array_release(host);
    /* a reversed view of a reversed copy reads a's values */
    kiln_ctx_set_mode(ctx, KILN_MODE_INTERP);
    assert_int_equal(kiln_eval_into(kiln_input(ctx, a), r), KILN_OK);
    kiln_ctx_set_mode(ctx, KILN_MODE_FUSED);
    return r;
}

/* e in the interpreter and fused: the same shape, dtype and element bits
 * (any NaN matches any NaN if nan_any: which NaN a sum of NaNs gives is
 * the hardware's, runtime/reduce.h), and no kernel fell back. */
static void check(kiln_ctx *ctx, kiln_expr e, bool nan_any, const char *fmt, ...)
{
    char what[160];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    if (kiln_expr_status(e) != KILN_OK)
        fail_msg("%s: %s", what, kiln_errmsg(ctx));
    uint64_t fb = kiln_ctx_counter(ctx, KILN_COUNTER_FALLBACKS);
    kiln_array *want = tu_eval(e, KILN_MODE_INTERP), *got = tu_eval(e, KILN_MODE_FUSED);
    if (kiln_ctx_counter(ctx, KILN_COUNTER_FALLBACKS) != fb)
        fail_msg("%s: fell back to the interpreter: %s", what, kiln_last_fallback(ctx));
    assert_int_equal(kiln_array_dtype(want), kiln_array_dtype(got));
    assert_int_equal(kiln_array_size(want), kiln_array_size(got));
    if (!tu_bits_equal(want, got)) {
        size_t sz = rt_dtypes[kiln_array_dtype(want)].size;
        const char *a = kiln_array_data(want), *b = kiln_array_data(got);
        for (int64_t i = 0; i < kiln_array_size(want); i++) {
            double x = kiln_array_get_f64(want, i), y = kiln_array_get_f64(got, i);
            if (memcmp(a + (size_t)i * sz, b + (size_t)i * sz, sz) == 0 ||
                (nan_any && isnan(x) && isnan(y)))
                continue;
            fail_msg("%s: element %lld: interpreter %.17g, fused %.17g", what, (long long)i, x, y);
        }
    }
    kiln_array_release(want);
    kiln_array_release(got);
}

/* Every reduction as one signature: axes (naxes 0 = all), keepdims. */
typedef kiln_expr (*red_fn)(kiln_expr x, int naxes, const int *axes, int keepdims);
static kiln_expr r_var1(kiln_expr x, int n, const int *a, int k) { return kiln_var(x, n, a, k, 1); }
static kiln_expr r_std(kiln_expr x, int n, const int *a, int k) { return kiln_std(x, n, a, k, 0); }
static kiln_expr r_argmin(kiln_expr x, int n, const int *a, int k)
{
    (void)k;
    return kiln_argmin(x, n == 0 ? KILN_AXIS_NONE : a[0]);
}
static kiln_expr r_argmax(kiln_expr x, int n, const int *a, int k)
{
    (void)k;
    return kiln_argmax(x, n == 0 ? KILN_AXIS_NONE : a[0]);
}
static kiln_expr r_sumsq(kiln_expr x, int n, const int *a, int k)
{
    return kiln_sum(kiln_multiply(x, x), n, a, k);
}

enum { R_SUM, R_PROD, R_MEAN, R_VAR, R_STD, R_MIN, R_MAX, R_ARGMIN, R_ARGMAX, R_ALL, R_ANY,
       R_CNZ, R_SUMSQ, R_COUNT };
static const struct {
    const char *name;
    red_fn fn;
    bool needs_one; /* no identity: needs at least one element */
} g_red[R_COUNT] = {
    {"sum", kiln_sum, false},      {"prod", kiln_prod, false},
    {"mean", kiln_mean, false},    {"var", r_var1, false},
    {"std", r_std, false},         {"min", kiln_min, true},
    {"max", kiln_max, true},       {"argmin", r_argmin, true},
    {"argmax", r_argmax, true},    {"all", kiln_all, false},
    {"any", kiln_any, false},      {"count_nonzero", kiln_count_nonzero, false},
    {"sum(x*x)", r_sumsq, false},
};

static uint64_t cnt(kiln_ctx *ctx, kiln_counter c) { return kiln_ctx_counter(ctx, c); }

static kiln_ctx *new_ctx(void)
{
    kiln_ctx *ctx = kiln_ctx_new(NULL);
    assert_non_null(ctx);
    return ctx;
}

/* ---- 1-D: every size around the tree's boundaries ----------------------------- */

/* Sizes around the tree's boundaries (8: lanes; 128: one leaf; 2 * 128 +
 * 8k: the first splits) and larger ones, for every reduction on float64
 * and float32, contiguous, strided and reversed: one kernel per case, the
 * sizes are launch arguments. */
static int64_t size_at(int64_t k)
{
    static const int64_t big[] = {250, 255, 256, 257, 263, 264, 265, 271, 272, 300,
                                  1000, 1023, 1024, 4099, 65537};
    if (k < 18)
        return k; /* 0..17 */
    if (k < 18 + 21)
        return 120 + (k - 18); /* 120..140 */
    k -= 18 + 21;
    return k < (int64_t)(sizeof big / sizeof *big) ? big[k] : -1;
}

static void test_sizes_1d(void **state)
{
    (void)state;
    kiln_ctx *ctx = new_ctx();
    enum { MAXN = 65537 };
    const kiln_dtype types[] = {KILN_FLOAT64, KILN_FLOAT32};
    for (size_t ti = 0; ti < 2; ti++) {
        for (int prod = 0; prod < 2; prod++) {
            int64_t n = MAXN;
            kiln_array *base = rnd_array(ctx, types[ti], 1, &n, prod);
            for (int l = 0; l < L_COUNT; l++) {
                if (l == L_F)
                    continue;
                kiln_array *lay = in_layout(ctx, base, l);
                for (int r = 0; r < R_COUNT; r++) {
                    if ((r == R_PROD) != (prod == 1))
                        continue;
                    for (int64_t k = 0; size_at(k) >= 0; k++) {
                        int64_t m = size_at(k);
                        if (m == 0 && g_red[r].needs_one)
                            continue;
                        kiln_slice sl = {0, m, 1};
                        kiln_array *v = NULL;
                        assert_int_equal(kiln_array_slice(lay, 1, &sl, &v), KILN_OK);
                        kiln_expr e = g_red[r].fn(kiln_input(ctx, v), 0, NULL, 0);
                        check(ctx, e, false, "%s %s %s n=%lld", g_red[r].name,
                              kiln_dtype_name(types[ti]), g_layout[l], (long long)m);
                        kiln_array_release(v);
                    }
                }
                kiln_array_release(lay);
            }
            kiln_array_release(base);
        }
    }
    kiln_ctx_free(ctx);
}

/* ---- matrices: rows, columns, everything; every layout ------------------------- */

/* Every layout for float64; C and F (rows and columns both INNER and
 * OUTER) for the others. */
static void matrix_case(kiln_ctx *ctx, kiln_dtype t, const int64_t *shape, const int *ops, int nops)
{
    kiln_array *base = rnd_array(ctx, t, 2, shape, false);
    for (int l = 0; l < (t == KILN_FLOAT64 ? L_COUNT : L_F + 1); l++) {
        kiln_array *lay = in_layout(ctx, base, l);
        kiln_expr x = kiln_input(ctx, lay);
        for (int i = 0; i < nops; i++) {
            int r = ops[i];
            for (int ax = 0; ax < 3; ax++) { /* axis 0 (columns), 1 (rows), all */
                int a = ax;
                if (g_red[r].needs_one && (shape[0] == 0 || shape[1] == 0))
                    continue;
                check(ctx, g_red[r].fn(x, ax < 2 ? 1 : 0, &a, 0), false, "%s %s %s (%lld,%lld) axis %d",
                      g_red[r].name, kiln_dtype_name(t), g_layout[l], (long long)shape[0],
                      (long long)shape[1], ax < 2 ? ax : -1);
            }
        }
        kiln_array_release(lay);
    }
    kiln_array_release(base);
}

/* Column sums of a C-order matrix and row sums of an F-order one run across
 * the contiguous axis (OUTER); test_wide_columns has widths above one
 * chunk of columns. */
static void test_matrices(void **state)
{
    (void)state;
    kiln_ctx *ctx = new_ctx();
    /* shapes of one signature per case (extents are launch arguments),
     * then degenerate ones (extent-1 dims dropped, empty reductions) */
    const int64_t shapes[][2] = {{3, 5}, {9, 130}, {130, 9}, {20, 600}, {300, 40},
                                 {1, 1}, {1, 300}, {300, 1}, {0, 4}, {4, 0}};
    const int all_ops[] = {R_SUM, R_PROD, R_MEAN, R_VAR, R_STD, R_MIN, R_MAX, R_ARGMIN,
                           R_ARGMAX, R_ALL, R_ANY, R_CNZ, R_SUMSQ};
    const int few_ops[] = {R_SUM, R_MEAN, R_MAX, R_ARGMIN};
    const int f32_ops[] = {R_SUM, R_STD, R_MAX};
    const int int_ops[] = {R_SUM, R_MIN, R_ARGMAX, R_CNZ, R_PROD};
    const int bool_ops[] = {R_ALL, R_ANY};
    for (size_t s = 0; s < sizeof shapes / sizeof *shapes; s++) {
        if (s >= 5) {
            matrix_case(ctx, KILN_FLOAT64, shapes[s], few_ops, sizeof few_ops / sizeof *few_ops);
            continue;
        }
        matrix_case(ctx, KILN_FLOAT64, shapes[s], all_ops, sizeof all_ops / sizeof *all_ops);
        matrix_case(ctx, KILN_FLOAT32, shapes[s], f32_ops, sizeof f32_ops / sizeof *f32_ops);
        matrix_case(ctx, KILN_INT32, shapes[s], int_ops, sizeof int_ops / sizeof *int_ops);
        matrix_case(ctx, KILN_UINT8, shapes[s], int_ops + 4, 1);
        matrix_case(ctx, KILN_BOOL, shapes[s], bool_ops, sizeof bool_ops / sizeof *bool_ops);
    }
    kiln_ctx_free(ctx);
}

/* Column reductions wider than one chunk of columns (4096 float64 for one
 * tree, a last chunk of up to 5120 taken whole; fewer with siblings:
 * jit/reduce.c), with row counts that exercise
 * each part of a leaf — no lanes (< 8 rows), lanes in chains of 8 rows
 * and the rows left over per lane, tail rows, several leaves — C order
 * and reversed, alone and as siblings in one launch. */
static void test_wide_columns(void **state)
{
    (void)state;
    kiln_ctx *ctx = new_ctx();
    const int64_t rows[] = {3, 8, 9, 100, 261};
    const int ops[] = {R_SUM, R_MEAN, R_STD, R_MAX, R_ARGMIN, R_SUMSQ};
    for (size_t r = 0; r < sizeof rows / sizeof *rows; r++) {
        int64_t shape[2] = {rows[r], 4100};
        for (int t = 0; t < 2; t++) {
            kiln_dtype dt = t ? KILN_FLOAT32 : KILN_FLOAT64;
            kiln_array *a = rnd_array(ctx, dt, 2, shape, false);
            for (int l = L_C; l <= L_REVERSED; l += L_REVERSED - L_C) {
                kiln_array *lay = in_layout(ctx, a, l);
                kiln_expr x = kiln_input(ctx, lay);
                int axis = 0;
                for (size_t o = 0; o < sizeof ops / sizeof *ops; o++)
                    check(ctx, g_red[ops[o]].fn(x, 1, &axis, 0), false, "%s %s %s (%lld, 4100)",
                          g_red[ops[o]].name, kiln_dtype_name(dt), g_layout[l], (long long)rows[r]);
                kiln_expr sib[4] = {kiln_sum(x, 1, &axis, 0),
                                    kiln_sum(kiln_multiply(x, x), 1, &axis, 0),
                                    kiln_std(x, 1, &axis, 0, 1), kiln_max(x, 1, &axis, 0)};
                kiln_array *want[4] = {NULL}, *got[4] = {NULL};
                assert_int_equal(kiln_eval_many(ctx, KILN_MODE_INTERP, 4, sib, want), KILN_OK);
                uint64_t l0 = cnt(ctx, KILN_COUNTER_LAUNCHES);
                assert_int_equal(kiln_eval_many(ctx, KILN_MODE_FUSED, 4, sib, got), KILN_OK);
                assert_int_equal(cnt(ctx, KILN_COUNTER_LAUNCHES) - l0, 1);
                for (int i = 0; i < 4; i++) {
                    if (!tu_bits_equal(want[i], got[i]))
                        fail_msg("sibling %d, %s %s (%lld, 4100): fused differs from the interpreter",
                                 i, kiln_dtype_name(dt), g_layout[l], (long long)rows[r]);
                    kiln_array_release(want[i]);
                    kiln_array_release(got[i]);
                }
                kiln_array_release(lay);
            }
            kiln_array_release(a);
        }
    }
    /* one tree: 4096 columns, then the last 1904 as one chunk of their own */
    int64_t wide[2] = {9, 6000};
    kiln_array *w = rnd_array(ctx, KILN_FLOAT64, 2, wide, false);
    kiln_expr xw = kiln_input(ctx, w);
    int axis = 0;
    for (size_t o = 0; o < sizeof ops / sizeof *ops; o++)
        check(ctx, g_red[ops[o]].fn(xw, 1, &axis, 0), false, "%s (9, 6000)", g_red[ops[o]].name);
    kiln_array_release(w);
    kiln_ctx_free(ctx);
}

/* Sequences shorter than 8 (the coordinates of points) run across the
 * innermost kept dim when it has 8 outputs or more, whatever the strides
 * say: distances of points with 1..7 coordinates, contiguous and
 * reversed, every reduction, with the interpreter's bits in one kernel. */
static void test_short_sequences(void **state)
{
    (void)state;
    kiln_ctx *ctx = new_ctx();
    const char *names[] = {"p", "q"};
    const char *src[] = {"sqrt(sum(square(p[:, None, :] - q[None, :, :]), axis=2))",
                         "mean(p[:, None, :] * q[None, ::-1, :], axis=-1)",
                         "var(p[:, None, :] - q[None, :, :], axis=2)",
                         "max(p[:, None, :] - q[None, :, :], axis=2)",
                         "argmin(abs(p[:, None, :] - q[None, :, :]), axis=2)",
                         "sum(p[:, None, ::-1] * 2.0, axis=(2,))"};
    for (int64_t k = 1; k < 8; k++) {
        int64_t sp[2] = {40, k}, sq[2] = {37, k};
        kiln_array *in[2] = {rnd_array(ctx, KILN_FLOAT64, 2, sp, false),
                             rnd_array(ctx, KILN_FLOAT64, 2, sq, false)};
        for (size_t i = 0; i < sizeof src / sizeof *src; i++) {
            uint64_t scope = kiln_scope_begin(ctx);
            kiln_expr e = kiln_parse(ctx, src[i], 2, names, in);
            uint64_t l0 = cnt(ctx, KILN_COUNTER_LAUNCHES);
            check(ctx, e, false, "%s, %lld coordinates", src[i], (long long)k);
            assert_int_equal(cnt(ctx, KILN_COUNTER_LAUNCHES) - l0, 1);
            assert_int_equal(kiln_scope_end(ctx, scope), KILN_OK);
        }
        kiln_array_release(in[0]);
        kiln_array_release(in[1]);
    }
    kiln_ctx_free(ctx);
}

/* ---- several reduced axes: the sequence in C order of their indices ------------- */

static void test_multi_axes(void **state)
{
    (void)state;
    kiln_ctx *ctx = new_ctx();
    const int64_t shapes[][3] = {{4, 6, 10}, {20, 7, 30}, {3, 1, 50}};
    const int sets[][3] = {{0, 2, -1}, {1, 2, -1}, {0, 1, -1}, {2, 0, -1}, {1, -1, -1}, {-1, -1, -1}};
    const int ops[] = {R_SUM, R_VAR, R_ARGMIN};
    for (size_t s = 0; s < sizeof shapes / sizeof *shapes; s++) {
        kiln_array *base = rnd_array(ctx, KILN_FLOAT64, 3, shapes[s], false);
        for (int l = 0; l < L_COUNT; l++) {
            kiln_array *lay = in_layout(ctx, base, l);
            kiln_expr x = kiln_input(ctx, lay);
            for (size_t a = 0; a < sizeof sets / sizeof *sets; a++) {
                int na = sets[a][0] < 0 ? 0 : sets[a][1] < 0 ? 1 : 2;
                for (size_t i = 0; i < sizeof ops / sizeof *ops; i++)
                    for (int keep = 0; keep < 2; keep++) {
                        if (ops[i] == R_ARGMIN && (na > 1 || keep))
                            continue; /* one axis or all */
                        check(ctx, g_red[ops[i]].fn(x, na, sets[a], keep), false,
                              "%s %s (%lld,%lld,%lld) axes set %zu keepdims %d", g_red[ops[i]].name,
                              g_layout[l], (long long)shapes[s][0], (long long)shapes[s][1],
                              (long long)shapes[s][2], a, keep);
                    }
            }
            kiln_array_release(lay);
        }
        kiln_array_release(base);
    }
    /* a transposed view: axes in C order of the VIEW's indices */
    int64_t sh[3] = {5, 9, 140};
    kiln_array *b = rnd_array(ctx, KILN_FLOAT64, 3, sh, false), *tv = NULL;
    int perm[3] = {2, 0, 1};
    assert_int_equal(kiln_array_transpose(b, perm, &tv), KILN_OK);
    int ax01[2] = {0, 1}, ax12[2] = {1, 2}, ax0 = 0;
    kiln_expr x = kiln_input(ctx, tv);
    check(ctx, kiln_sum(x, 2, ax01, 0), false, "transposed view, axes (0,1)");
    check(ctx, kiln_mean(x, 2, ax12, 0), false, "transposed view, axes (1,2)");
    check(ctx, kiln_std(x, 1, &ax0, 1, 0), false, "transposed view, axis 0");
    check(ctx, kiln_sum(x, 0, NULL, 0), false, "transposed view, all");
    kiln_array_release(tv);
    kiln_array_release(b);
    kiln_ctx_free(ctx);
}

/* ---- NaN, signed zeros, infinities ------------------------------------------------ */

static double nan_with(uint64_t payload)
{
    uint64_t u = 0x7ff8000000000000ull | payload;
    double d;
    memcpy(&d, &u, sizeof d);
    return d;
}

static uint64_t bits64(double d)
{
    uint64_t u;
    memcpy(&u, &d, sizeof u);
    return u;
}

/* min/max keep the FIRST NaN's bits along rows (INNER, vectorized with a
 * second pass) and down columns (OUTER, the NaN rule per step); zeros
 * order -0.0 < +0.0; argmin/argmax stop at the first NaN. */
static void test_nan_and_zeros(void **state)
{
    (void)state;
    kiln_ctx *ctx = new_ctx();
    enum { R = 300, C = 37 };
    int64_t shape[2] = {R, C};
    double *v = malloc(R * C * sizeof *v);
    assert_non_null(v);
    for (int i = 0; i < R * C; i++) {
        double u = urand();
        v[i] = u < 0.02 ? nan_with((uint64_t)i) : u < 0.1 ? 0.0 : u < 0.18 ? -0.0
               : u < 0.2 ? (u < 0.19 ? INFINITY : -INFINITY) : (u - 0.5) * 100;
    }
    for (int j = 0; j < C; j += 3) /* some columns without NaN */
        for (int i = 0; i < R; i++)
            if (isnan(v[i * C + j]))
                v[i * C + j] = -0.0;
    kiln_array *a = tu_array(ctx, KILN_FLOAT64, 2, shape, v);
    for (int l = 0; l < L_COUNT; l += 3) { /* C and reversed: INNER and OUTER both */
        kiln_array *lay = in_layout(ctx, a, l);
        kiln_expr x = kiln_input(ctx, lay);
        for (int ax = 0; ax < 3; ax++) {
            int axis = ax;
            const int ops[] = {R_MIN, R_MAX, R_ARGMIN, R_ARGMAX, R_ALL, R_ANY, R_CNZ};
            for (size_t i = 0; i < sizeof ops / sizeof *ops; i++)
                check(ctx, g_red[ops[i]].fn(x, ax < 2 ? 1 : 0, &axis, 0), false, "%s %s axis %d",
                      g_red[ops[i]].name, g_layout[l], ax);
            const int sums[] = {R_SUM, R_MEAN, R_VAR, R_SUMSQ};
            for (size_t i = 0; i < sizeof sums / sizeof *sums; i++)
                check(ctx, g_red[sums[i]].fn(x, ax < 2 ? 1 : 0, &axis, 0), true, "%s %s axis %d",
                      g_red[sums[i]].name, g_layout[l], ax);
        }
        kiln_array_release(lay);
    }
    /* the first NaN of a long row, after a vectorized pass */
    int64_t n = 1000;
    double *w = malloc(n * sizeof *w);
    assert_non_null(w);
    for (int64_t i = 0; i < n; i++)
        w[i] = (double)(i % 17) - 8;
    w[700] = nan_with(0x123);
    w[701] = nan_with(0x456);
    w[3] = -nan_with(0x789);
    kiln_array *b = tu_array(ctx, KILN_FLOAT64, 1, &n, w);
    kiln_array *got = tu_eval(kiln_min(kiln_input(ctx, b), 0, NULL, 0), KILN_MODE_FUSED);
    assert_true(bits64(kiln_array_get_f64(got, 0)) == bits64(-nan_with(0x789)));
    kiln_array_release(got);
    got = tu_eval(kiln_max(kiln_multiply(kiln_input(ctx, b), kiln_f64(ctx, 1)), 0, NULL, 0),
                  KILN_MODE_FUSED);
    assert_true(isnan(kiln_array_get_f64(got, 0)));
    kiln_array_release(got);
    /* -0.0 and +0.0 only: min -0.0, max +0.0, sum +0.0 (NumPy) */
    for (int64_t i = 0; i < n; i++)
        w[i] = (i * 7) % 3 ? 0.0 : -0.0;
    kiln_array *z = tu_array(ctx, KILN_FLOAT64, 1, &n, w);
    kiln_expr ze = kiln_input(ctx, z);
    check(ctx, kiln_min(ze, 0, NULL, 0), false, "zeros min");
    check(ctx, kiln_max(ze, 0, NULL, 0), false, "zeros max");
    got = tu_eval(kiln_min(ze, 0, NULL, 0), KILN_MODE_FUSED);
    assert_true(bits64(kiln_array_get_f64(got, 0)) == bits64(-0.0));
    kiln_array_release(got);
    for (int64_t i = 0; i < n; i++)
        w[i] = -0.0;
    kiln_array *nz = tu_array(ctx, KILN_FLOAT64, 1, &n, w);
    got = tu_eval(kiln_sum(kiln_input(ctx, nz), 0, NULL, 0), KILN_MODE_FUSED);
    assert_true(bits64(kiln_array_get_f64(got, 0)) == bits64(0.0));
    kiln_array_release(got);
    kiln_array_release(nz);
    kiln_array_release(z);
    kiln_array_release(b);
    kiln_array_release(a);
    free(w);
    free(v);
    kiln_ctx_free(ctx);
}

/* ---- fusion and code -------------------------------------------------------------- */

/* sum(x*x) is one kernel reading x once: no temporary, no fallback; the
 * consumer of mean/std reads the reduced vectors (no d - mean temporary). */
static void test_producer_and_consumer_fusion(void **state)
{
    (void)state;
    kiln_ctx *ctx = new_ctx();
    int64_t n = 100000;
    kiln_array *a = rnd_array(ctx, KILN_FLOAT64, 1, &n, false);
    kiln_expr x = kiln_input(ctx, a);
    kiln_expr e = kiln_sum(kiln_multiply(x, x), 0, NULL, 0);
    kiln_array *r = tu_eval(e, KILN_MODE_FUSED); /* compiles */
    kiln_array_release(r);
    uint64_t t0 = cnt(ctx, KILN_COUNTER_TEMP_BYTES), f0 = cnt(ctx, KILN_COUNTER_FALLBACKS);
    uint64_t l0 = cnt(ctx, KILN_COUNTER_LAUNCHES), c0 = cnt(ctx, KILN_COUNTER_COMPILES);
    r = tu_eval(e, KILN_MODE_FUSED);
    assert_int_equal(cnt(ctx, KILN_COUNTER_TEMP_BYTES) - t0, 0);
    assert_int_equal(cnt(ctx, KILN_COUNTER_FALLBACKS) - f0, 0);
    assert_int_equal(cnt(ctx, KILN_COUNTER_LAUNCHES) - l0, 1);
    assert_int_equal(cnt(ctx, KILN_COUNTER_COMPILES) - c0, 0);
    kiln_array_release(r);
    kiln_array_release(a);

    /* (d - mean(d, axis=0)) / std(d, axis=0): the two reductions in one
     * kernel (siblings), then one elementwise kernel; temporaries are the
     * two reduced rows only */
    enum { N = 20000, K = 5 };
    int64_t shape[2] = {N, K};
    kiln_array *d = rnd_array(ctx, KILN_FLOAT64, 2, shape, false);
    kiln_expr de = kiln_input(ctx, d);
    int ax0 = 0;
    kiln_expr z = kiln_divide(kiln_subtract(de, kiln_mean(de, 1, &ax0, 0)), kiln_std(de, 1, &ax0, 0, 0));
    check(ctx, z, false, "column normalization");
    t0 = cnt(ctx, KILN_COUNTER_TEMP_BYTES);
    f0 = cnt(ctx, KILN_COUNTER_FALLBACKS);
    l0 = cnt(ctx, KILN_COUNTER_LAUNCHES);
    r = tu_eval(z, KILN_MODE_FUSED);
    assert_int_equal(cnt(ctx, KILN_COUNTER_TEMP_BYTES) - t0, 2 * K * sizeof(double));
    assert_int_equal(cnt(ctx, KILN_COUNTER_FALLBACKS) - f0, 0);
    assert_int_equal(cnt(ctx, KILN_COUNTER_LAUNCHES) - l0, 2);
    kiln_array_release(r);
    kiln_array_release(d);
    kiln_ctx_free(ctx);
}

/* UNFUSED (NumPy's evaluation: every node its own kernel and temporary)
 * runs reductions and scans as compiled kernels too — no interpreter
 * fallback — with the interpreter's bits. */
static void unfused_same(kiln_ctx *ctx, kiln_expr e, const char *what, uint64_t launches,
                         uint64_t temp_bytes)
{
    if (kiln_expr_status(e) != KILN_OK)
        fail_msg("%s: %s", what, kiln_errmsg(ctx));
    kiln_array *want = tu_eval(e, KILN_MODE_INTERP);
    kiln_array_release(tu_eval(e, KILN_MODE_UNFUSED)); /* compiles */
    uint64_t f0 = cnt(ctx, KILN_COUNTER_FALLBACKS), l0 = cnt(ctx, KILN_COUNTER_LAUNCHES);
    uint64_t t0 = cnt(ctx, KILN_COUNTER_TEMP_BYTES), c0 = cnt(ctx, KILN_COUNTER_COMPILES);
    kiln_array *got = tu_eval(e, KILN_MODE_UNFUSED);
    if (cnt(ctx, KILN_COUNTER_FALLBACKS) != f0)
        fail_msg("%s: unfused fell back to the interpreter: %s", what, kiln_last_fallback(ctx));
    if (!tu_bits_equal(want, got))
        fail_msg("%s: unfused differs from the interpreter", what);
    assert_int_equal(cnt(ctx, KILN_COUNTER_COMPILES) - c0, 0);
    if (launches)
        assert_int_equal(cnt(ctx, KILN_COUNTER_LAUNCHES) - l0, launches);
    assert_int_equal(cnt(ctx, KILN_COUNTER_TEMP_BYTES) - t0, temp_bytes);
    kiln_array_release(want);
    kiln_array_release(got);
}

static void test_unfused(void **state)
{
    (void)state;
    kiln_ctx *ctx = new_ctx();
    enum { N = 300, K = 7 };
    int64_t shape[2] = {N, K};
    kiln_array *a = rnd_array(ctx, KILN_FLOAT64, 2, shape, false);
    kiln_expr x = kiln_input(ctx, a);
    const int axes[2][1] = {{0}, {1}};
    char what[96];
    for (int r = 0; r < R_COUNT; r++) {
        bool sq = r == R_SUMSQ; /* x*x first: one more kernel, one temporary */
        for (int ax = -1; ax < 2; ax++) {
            kiln_expr e = g_red[r].fn(x, ax < 0 ? 0 : 1, ax < 0 ? NULL : axes[ax], 0);
            snprintf(what, sizeof what, "%s axis %d", g_red[r].name, ax);
            unfused_same(ctx, e, what, sq ? 2 : 1, sq ? N * K * sizeof(double) : 0);
        }
    }
    kiln_expr cs = kiln_cumsum(kiln_multiply(x, x), 0);
    unfused_same(ctx, cs, "cumsum(x*x, 0)", 2, N * K * sizeof(double));
    int ax0 = 0;
    /* (x - mean(x, 0)) / std(x, 0): mean, std, subtract, divide — the two
     * reduced rows and x - mean are temporaries, the quotient the output */
    kiln_expr z = kiln_divide(kiln_subtract(x, kiln_mean(x, 1, &ax0, 0)), kiln_std(x, 1, &ax0, 0, 0));
    unfused_same(ctx, z, "column normalization", 4, 2 * K * sizeof(double) + N * K * sizeof(double));
    /* an empty reduction still writes its identity */
    int64_t e0[2] = {0, K};
    kiln_array *empty = NULL;
    assert_int_equal(kiln_array_empty(ctx, KILN_FLOAT64, 2, e0, KILN_ORDER_C, &empty), KILN_OK);
    kiln_expr se = kiln_sum(kiln_input(ctx, empty), 1, &ax0, 0);
    kiln_array *got = tu_eval(se, KILN_MODE_UNFUSED);
    assert_int_equal(kiln_array_size(got), K);
    for (int j = 0; j < K; j++)
        assert_true(kiln_array_get_f64(got, j) == 0.0);
    kiln_array_release(got);
    kiln_array_release(empty);
    kiln_array_release(a);
    kiln_ctx_free(ctx);
}

/* The widest vector of T in an IR text ("<8 x double>" -> 8). */
/* sum(x) on float64 is vector code without fast-math flags (the order is
 * explicit); column sums too. */
static void test_vector_code(void **state)
{
    (void)state;
    kiln_ctx *ctx = new_ctx();
    if (!ctx->jit) {
        kiln_ctx_free(ctx);
        skip();
    }
    jit_debug_capture(ctx->jit, true);
    int64_t n = 1000, shape[2] = {100, 300};
    kiln_array *a = rnd_array(ctx, KILN_FLOAT64, 1, &n, false);
    kiln_array *m = rnd_array(ctx, KILN_FLOAT64, 2, shape, false);
    kiln_expr xs[2] = {kiln_input(ctx, a), kiln_input(ctx, m)};
    int ax0 = 0;
    for (int i = 0; i < 2; i++) {
        kiln_array *r = tu_eval(kiln_sum(xs[i], i, &ax0, 0), KILN_MODE_FUSED);
        kiln_array_release(r);
        char *opt = tu_jit_last(ctx, JIT_STAGE_OPT);
        int w = tu_max_width(opt, "double");
        print_message("%s f64: <%d x double>\n", i ? "column sums" : "sum", w);
        assert_true(w >= 2);
        assert_null(strstr(opt, "reassoc"));
        assert_null(strstr(opt, " fast "));
        free(opt);
    }
    /* distances: sequences of 3 coordinates run across the outputs, so
     * the square root of the sums is vector code too */
    int64_t sp[2] = {50, 3};
    kiln_array *p = rnd_array(ctx, KILN_FLOAT64, 2, sp, false);
    const char *names[] = {"p"};
    kiln_array *r = tu_eval(kiln_parse(ctx, "sqrt(sum((p[:, None, :] - p[None, :, :])**2, axis=2))",
                                       1, names, &p),
                            KILN_MODE_FUSED);
    kiln_array_release(r);
    char *opt = tu_jit_last(ctx, JIT_STAGE_OPT);
    print_message("distances: <%d x double>\n", tu_max_width(opt, "double"));
    assert_non_null(strstr(opt, "@llvm.sqrt.v"));
    free(opt);
    kiln_array_release(p);
    kiln_array_release(a);
    kiln_array_release(m);
    kiln_ctx_free(ctx);
}

/* A producer with broadcasting, a scalar parameter and a cast: int8 data
 * summed as int64, float32 data with a float64 scalar, a row broadcast
 * down a column reduction. */
static void test_producers(void **state)
{
    (void)state;
    kiln_ctx *ctx = new_ctx();
    int64_t shape[2] = {257, 33}, row = 33;
    kiln_array *a8 = rnd_array(ctx, KILN_INT8, 2, shape, false);
    kiln_array *f = rnd_array(ctx, KILN_FLOAT32, 2, shape, false);
    kiln_array *d = rnd_array(ctx, KILN_FLOAT64, 2, shape, false);
    kiln_array *r = rnd_array(ctx, KILN_FLOAT64, 1, &row, false);
    int ax0 = 0, ax1 = 1;
    kiln_expr x8 = kiln_input(ctx, a8), xf = kiln_input(ctx, f), xd = kiln_input(ctx, d);
    kiln_expr xr = kiln_input(ctx, r);
    for (int ax = 0; ax < 3; ax++) {
        int axis = ax;
        int na = ax < 2 ? 1 : 0;
        check(ctx, kiln_sum(x8, na, &axis, 0), false, "int8 sum axis %d", ax);
        check(ctx, kiln_prod(kiln_add(x8, kiln_i64(ctx, 1)), na, &axis, 0), false, "int8 prod axis %d", ax);
        check(ctx, kiln_mean(x8, na, &axis, 0), false, "int8 mean axis %d", ax);
        check(ctx, kiln_sum(kiln_multiply(xf, kiln_f64(ctx, 0.5)), na, &axis, 0), false,
              "float32 * 0.5 axis %d", ax);
        check(ctx, kiln_sum(kiln_square(kiln_subtract(xd, xr)), na, &axis, 0), false,
              "(d - row)^2 axis %d", ax);
        check(ctx, kiln_max(kiln_where(kiln_greater(xd, kiln_f64(ctx, 0)), xd, xr), na, &axis, 0),
              false, "where axis %d", ax);
        check(ctx, kiln_count_nonzero(kiln_greater(xd, xr), na, &axis, 0), false, "count axis %d", ax);
        check(ctx, kiln_sum(kiln_sqrt(kiln_absolute(xd)), na, &axis, 0), false, "sqrt axis %d", ax);
    }
    (void)ax0;
    (void)ax1;
    kiln_array_release(a8);
    kiln_array_release(f);
    kiln_array_release(d);
    kiln_array_release(r);
    kiln_ctx_free(ctx);
}

/* ---- siblings ---------------------------------------------------------------------- */

/* Reductions of one array over the same axes, evaluated together, run as
 * one kernel (one launch) with the interpreter's bits; a reduction that
 * needs another's result does not join it. */
static void test_siblings(void **state)
{
    (void)state;
    kiln_ctx *ctx = new_ctx();
    int64_t shape[2] = {700, 300};
    kiln_array *a = rnd_array(ctx, KILN_FLOAT64, 2, shape, false);
    kiln_array *i32 = rnd_array(ctx, KILN_INT32, 2, shape, false);
    for (int l = 0; l < L_COUNT; l++) {
        kiln_array *lay = in_layout(ctx, a, l);
        kiln_expr x = kiln_input(ctx, lay), xi = kiln_input(ctx, i32);
        for (int ax = 0; ax < 3; ax++) {
            int axis = ax, na = ax < 2 ? 1 : 0;
            kiln_expr roots[8] = {
                kiln_sum(x, na, &axis, 0),        kiln_sum(kiln_multiply(x, x), na, &axis, 0),
                kiln_mean(x, na, &axis, 0),       kiln_std(x, na, &axis, 0, 1),
                kiln_max(x, na, &axis, 0),        kiln_count_nonzero(kiln_greater(x, xi), na, &axis, 0),
                kiln_var(kiln_sqrt(kiln_absolute(x)), na, &axis, 1, 0),
                na ? kiln_argmin(x, axis) : kiln_argmin(x, KILN_AXIS_NONE),
            };
            kiln_array *want[8] = {NULL}, *got[8] = {NULL};
            assert_int_equal(kiln_eval_many(ctx, KILN_MODE_INTERP, 8, roots, want), KILN_OK);
            assert_int_equal(kiln_eval_many(ctx, KILN_MODE_FUSED, 8, roots, got), KILN_OK);
            for (int i = 0; i < 8; i++)
                kiln_array_release(got[i]), got[i] = NULL;
            uint64_t l0 = cnt(ctx, KILN_COUNTER_LAUNCHES), f0 = cnt(ctx, KILN_COUNTER_FALLBACKS);
            assert_int_equal(kiln_eval_many(ctx, KILN_MODE_FUSED, 8, roots, got), KILN_OK);
            assert_int_equal(cnt(ctx, KILN_COUNTER_LAUNCHES) - l0, 1);
            assert_int_equal(cnt(ctx, KILN_COUNTER_FALLBACKS) - f0, 0);
            for (int i = 0; i < 8; i++) {
                if (!tu_bits_equal(want[i], got[i]))
                    fail_msg("sibling %d, %s, axis %d: fused differs from the interpreter", i,
                             g_layout[l], ax);
                kiln_array_release(want[i]);
                kiln_array_release(got[i]);
            }
            /* sum(x - mean(x)) needs mean(x) first: two kernels */
            kiln_expr m = kiln_mean(x, na, &axis, 1);
            kiln_expr dep[2] = {m, kiln_sum(kiln_subtract(x, m), na, &axis, 0)};
            kiln_array *dw[2] = {NULL, NULL}, *dg[2] = {NULL, NULL};
            assert_int_equal(kiln_eval_many(ctx, KILN_MODE_INTERP, 2, dep, dw), KILN_OK);
            l0 = cnt(ctx, KILN_COUNTER_LAUNCHES);
            assert_int_equal(kiln_eval_many(ctx, KILN_MODE_FUSED, 2, dep, dg), KILN_OK);
            assert_int_equal(cnt(ctx, KILN_COUNTER_LAUNCHES) - l0, 2);
            for (int i = 0; i < 2; i++) {
                assert_true(tu_bits_equal(dw[i], dg[i]));
                kiln_array_release(dw[i]);
                kiln_array_release(dg[i]);
            }
        }
        kiln_array_release(lay);
    }
    kiln_array_release(a);
    kiln_array_release(i32);
    kiln_ctx_free(ctx);
}

/* ---- epilogues ---------------------------------------------------------------------- */

/* Evaluates roots fused twice (compile, then measure): the interpreter's
 * bits, and the launches and temporary bytes of the second run. */
static void fused_counts(kiln_ctx *ctx, int n, const kiln_expr *roots, uint64_t *launches,
                         uint64_t *temps, const char *what)
{
    kiln_array *want[4] = {NULL}, *got[4] = {NULL};
    assert_true(n <= 4);
    assert_int_equal(kiln_eval_many(ctx, KILN_MODE_INTERP, (size_t)n, roots, want), KILN_OK);
    assert_int_equal(kiln_eval_many(ctx, KILN_MODE_FUSED, (size_t)n, roots, got), KILN_OK);
    for (int i = 0; i < n; i++)
        kiln_array_release(got[i]), got[i] = NULL;
    uint64_t l0 = cnt(ctx, KILN_COUNTER_LAUNCHES), t0 = cnt(ctx, KILN_COUNTER_TEMP_BYTES);
    uint64_t f0 = cnt(ctx, KILN_COUNTER_FALLBACKS);
    assert_int_equal(kiln_eval_many(ctx, KILN_MODE_FUSED, (size_t)n, roots, got), KILN_OK);
    *launches = cnt(ctx, KILN_COUNTER_LAUNCHES) - l0;
    *temps = cnt(ctx, KILN_COUNTER_TEMP_BYTES) - t0;
    if (cnt(ctx, KILN_COUNTER_FALLBACKS) != f0)
        fail_msg("%s: fell back: %s", what, kiln_last_fallback(ctx));
    for (int i = 0; i < n; i++) {
        if (!tu_bits_equal(want[i], got[i]))
            fail_msg("%s: root %d differs from the interpreter", what, i);
        kiln_array_release(want[i]);
        kiln_array_release(got[i]);
    }
}

/* An elementwise root reading one reduction (scan) at its own index is
 * that reduction's epilogue: one kernel, no temporary — sqrt(sum(d*d)) of
 * the pairwise distances, the running mean cumsum(x) / (i + 1); a
 * reduction read twice, or also a root, or through a view is stored. */
static void test_epilogues(void **state)
{
    (void)state;
    kiln_ctx *ctx = new_ctx();
    int64_t shape[2] = {300, 40};
    kiln_array *a = rnd_array(ctx, KILN_FLOAT64, 2, shape, false);
    int64_t row = 40, col = 300;
    kiln_array *rv = rnd_array(ctx, KILN_FLOAT64, 1, &row, false);
    kiln_array *cv = rnd_array(ctx, KILN_FLOAT64, 1, &col, false);
    uint64_t l, t;
    for (int lay = 0; lay < L_COUNT; lay++) {
        kiln_array *la = in_layout(ctx, a, lay);
        kiln_expr x = kiln_input(ctx, la);
        for (int ax = 0; ax < 3; ax++) {
            int axis = ax, na = ax < 2 ? 1 : 0;
            kiln_expr other = ax == 0 ? kiln_input(ctx, rv) : ax == 1 ? kiln_input(ctx, cv) : kiln_f64(ctx, 2);
            const struct {
                const char *name;
                kiln_expr e;
            } cases[] = {
                {"sqrt(sum(x*x))", kiln_sqrt(kiln_sum(kiln_multiply(x, x), na, &axis, 0))},
                {"std * other + 1", kiln_add(kiln_multiply(kiln_std(x, na, &axis, 0, 1), other), kiln_f64(ctx, 1))},
                {"max > other", kiln_greater(kiln_max(x, na, &axis, 0), other)},
                {"argmin + 1", kiln_add(na ? kiln_argmin(x, axis) : kiln_argmin(x, KILN_AXIS_NONE), kiln_i64(ctx, 1))},
                {"count / 2", kiln_divide(kiln_count_nonzero(kiln_greater(x, kiln_f64(ctx, 0)), na, &axis, 0), kiln_f64(ctx, 2))},
            };
            for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
                char what[96];
                snprintf(what, sizeof what, "%s %s axis %d", cases[i].name, g_layout[lay], ax);
                fused_counts(ctx, 1, &cases[i].e, &l, &t, what);
                if (l != 1 || t != 0)
                    fail_msg("%s: %llu launches, %llu temporary bytes", what, (unsigned long long)l,
                             (unsigned long long)t);
            }
        }
        /* scans: the running mean along each axis (i + 1 from an arange),
         * the running maximum's gap */
        int64_t s0[2] = {300, 1}, s1 = 40;
        kiln_array *i0 = tu_arange(ctx, KILN_FLOAT64, 2, s0), *i1 = tu_arange(ctx, KILN_FLOAT64, 1, &s1);
        for (int a2 = 0; a2 < 2; a2++) {
            kiln_expr idx = kiln_input(ctx, a2 == 0 ? i0 : i1);
            kiln_expr cases[2] = {
                kiln_divide(kiln_cumsum(x, a2), kiln_add(idx, kiln_f64(ctx, 1))),
                kiln_subtract(kiln_cummax(x, a2), x),
            };
            for (int i = 0; i < 2; i++) {
                char what[96];
                snprintf(what, sizeof what, "scan epilogue %d %s axis %d", i, g_layout[lay], a2);
                fused_counts(ctx, 1, &cases[i], &l, &t, what);
                if (l != 1 || t != 0)
                    fail_msg("%s: %llu launches, %llu temporary bytes", what, (unsigned long long)l,
                             (unsigned long long)t);
            }
        }
        kiln_array_release(i0);
        kiln_array_release(i1);
        kiln_array_release(la);
    }
    /* stored when read twice, when also a root, when read through a view */
    kiln_expr x = kiln_input(ctx, a);
    int ax0 = 0;
    kiln_expr sm = kiln_sum(x, 1, &ax0, 0);
    kiln_expr twice[2] = {kiln_sqrt(sm), kiln_multiply(sm, kiln_f64(ctx, 2))};
    fused_counts(ctx, 2, twice, &l, &t, "read twice");
    assert_int_equal(l, 2); /* the sum, then both readers in one kernel (late roots) */
    assert_int_equal(t, 40 * sizeof(double));
    kiln_expr also[2] = {sm, kiln_sqrt(sm)};
    fused_counts(ctx, 2, also, &l, &t, "also a root");
    assert_int_equal(l, 2);
    assert_int_equal(t, 0);
    kiln_array_release(a);
    kiln_array_release(rv);
    kiln_array_release(cv);
    kiln_ctx_free(ctx);
}

/* Late roots (graph/fuse.c pl_late_roots): elementwise roots of one shape
 * that only each other read are one kernel after the reductions and scans
 * — the seed's features: returns, SMA, volatility and z-score over two
 * cumsums are 4 launches (2 scans, the SMA/volatility/z-score kernel, the
 * returns), the cumsums the only temporaries; a root that a reduction or
 * a view reads is planned before its reader, apart. */
static void test_late_roots(void **state)
{
    (void)state;
    kiln_ctx *ctx = new_ctx();
    int64_t n = 5000;
    kiln_array *pa = rnd_array(ctx, KILN_FLOAT64, 1, &n, false);
    const char *names[1] = {"x"};
#define SMA "((cumsum(x)[20:] - cumsum(x)[:-20]) / 20)"
#define VOL "sqrt(maximum((cumsum(x*x)[20:] - cumsum(x*x)[:-20]) / 20 - square(" SMA "), 0))"
    const char *src[4] = {"x[1:] / x[:-1] - 1", SMA, VOL,
                          "where(" VOL " > 0, (x[20:] - " SMA ") / " VOL ", 0)"};
#undef SMA
#undef VOL
    kiln_expr e[4];
    for (int i = 0; i < 4; i++) {
        e[i] = kiln_parse(ctx, src[i], 1, names, &pa);
        assert_int_equal(kiln_expr_status(e[i]), KILN_OK);
    }
    uint64_t l, t;
    fused_counts(ctx, 4, e, &l, &t, "features");
    assert_int_equal(l, 4);
    assert_int_equal(t, 2 * (uint64_t)n * sizeof(double));
    /* sma also feeds a reduction, vol reads sma through a view: sma is its
     * own kernel before them; still the interpreter's bits */
    kiln_expr x = kiln_input(ctx, pa);
    kiln_expr sma = e[1];
    kiln_expr roots2[3] = {sma, kiln_sum(sma, 0, NULL, 0),
                           kiln_multiply(sma, kiln_f64(ctx, 3))};
    fused_counts(ctx, 3, roots2, &l, &t, "a root read by a reduction");
    assert_int_equal(l, 4); /* cumsum; sma; sum(sma); 3*sma */
    /* a = 2x and b = a + sum(x), one shape, b reading a: the sum, then one
     * kernel storing both */
    kiln_expr a2 = kiln_multiply(x, kiln_f64(ctx, 2));
    kiln_expr ab[2] = {kiln_add(a2, kiln_sum(x, 0, NULL, 0)), a2};
    fused_counts(ctx, 2, ab, &l, &t, "two roots, one reading the other");
    assert_int_equal(l, 2);
    assert_int_equal(t, sizeof(double));
    kiln_array_release(pa);
    kiln_ctx_free(ctx);
}

/* ---- scans ------------------------------------------------------------------------- */

typedef kiln_expr (*scan_fn)(kiln_expr x, int axis);
static kiln_expr s_cumsum_sq(kiln_expr x, int axis) { return kiln_cumsum(kiln_multiply(x, x), axis); }
static const struct {
    const char *name;
    scan_fn fn;
} g_scan[] = {
    {"cumsum", kiln_cumsum}, {"cumprod", kiln_cumprod}, {"cummin", kiln_cummin},
    {"cummax", kiln_cummax}, {"cumsum(x*x)", s_cumsum_sq},
};
enum { S_COUNT = sizeof g_scan / sizeof *g_scan };

/* 1-D scans across RT_SCAN_BLOCK (4096) boundaries, contiguous, strided,
 * reversed; float64, float32, int32, bool. */
static void test_scans_1d(void **state)
{
    (void)state;
    kiln_ctx *ctx = new_ctx();
    const int64_t sizes[] = {0, 1, 2, 7, 8, 9, 100, 4095, 4096, 4097, 8192, 8193, 12289};
    const kiln_dtype types[] = {KILN_FLOAT64, KILN_FLOAT32, KILN_INT32, KILN_BOOL};
    int64_t maxn = 12289;
    for (size_t ti = 0; ti < sizeof types / sizeof *types; ti++) {
        for (int prod = 0; prod < 2; prod++) {
            kiln_array *base = rnd_array(ctx, types[ti], 1, &maxn, prod);
            for (int l = 0; l < L_COUNT; l++) {
                if (l == L_F || (ti > 1 && l != L_C))
                    continue;
                kiln_array *lay = in_layout(ctx, base, l);
                for (int sc = 0; sc < S_COUNT; sc++) {
                    if ((sc == 1) != (prod == 1) || (types[ti] == KILN_BOOL && sc == 4))
                        continue;
                    for (size_t k = 0; k < sizeof sizes / sizeof *sizes; k++) {
                        kiln_slice sl = {0, sizes[k], 1};
                        kiln_array *v = NULL;
                        assert_int_equal(kiln_array_slice(lay, 1, &sl, &v), KILN_OK);
                        check(ctx, g_scan[sc].fn(kiln_input(ctx, v), 0), false, "%s %s %s n=%lld",
                              g_scan[sc].name, kiln_dtype_name(types[ti]), g_layout[l],
                              (long long)sizes[k]);
                        kiln_array_release(v);
                    }
                }
                kiln_array_release(lay);
            }
            kiln_array_release(base);
        }
    }
    kiln_ctx_free(ctx);
}

/* Along rows (one line at a time), down columns (lines side by side,
 * vectorized across them; more rows than a block, more columns than a
 * chunk of 256 float64) and flattened, in every layout; NaN keeps its bits
 * in cummin/cummax. */
static void test_scans_2d(void **state)
{
    (void)state;
    kiln_ctx *ctx = new_ctx();
    const int64_t shapes[][2] = {{4100, 12}, {5, 600}, {1, 5}, {5, 1}};
    for (size_t s = 0; s < sizeof shapes / sizeof *shapes; s++) {
        for (int prod = 0; prod < 2; prod++) {
            kiln_array *base = rnd_array(ctx, KILN_FLOAT64, 2, shapes[s], prod);
            if (!prod) { /* a few NaNs with payloads */
                double *d = kiln_array_data(base);
                for (int64_t i = 7; i < kiln_array_size(base); i += 997) {
                    uint64_t u = 0x7ff8000000000000ull | (uint64_t)i;
                    memcpy(&d[i], &u, 8);
                }
            }
            for (int l = 0; l < L_COUNT; l++) {
                if (s > 0 && l == L_STRIDED)
                    continue;
                kiln_array *lay = in_layout(ctx, base, l);
                kiln_expr x = kiln_input(ctx, lay);
                for (int sc = 0; sc < S_COUNT; sc++) {
                    if ((sc == 1) != (prod == 1))
                        continue;
                    const int axes[3] = {0, 1, KILN_AXIS_NONE};
                    for (int a = 0; a < 3; a++)
                        check(ctx, g_scan[sc].fn(x, axes[a]), true, "%s %s (%lld,%lld) axis %d",
                              g_scan[sc].name, g_layout[l], (long long)shapes[s][0],
                              (long long)shapes[s][1], a);
                }
                kiln_array_release(lay);
            }
            kiln_array_release(base);
        }
    }
    /* cummin's first NaN, bits kept, down columns and along rows */
    int64_t sh[2] = {50, 40};
    kiln_array *m = rnd_array(ctx, KILN_FLOAT64, 2, sh, false);
    double *d = kiln_array_data(m);
    uint64_t u1 = 0x7ff8000000000123ull, u2 = 0xfff8000000000456ull;
    memcpy(&d[10 * 40 + 3], &u1, 8);
    memcpy(&d[20 * 40 + 3], &u2, 8);
    kiln_expr x = kiln_input(ctx, m);
    for (int a = 0; a < 2; a++) {
        check(ctx, kiln_cummin(x, a), false, "cummin NaN bits, axis %d", a);
        check(ctx, kiln_cummax(x, a), false, "cummax NaN bits, axis %d", a);
    }
    kiln_array *r = tu_eval(kiln_cummin(x, 0), KILN_MODE_FUSED);
    uint64_t got;
    memcpy(&got, (const double *)kiln_array_data(r) + 49 * 40 + 3, 8);
    assert_true(got == u1);
    kiln_array_release(r);
    kiln_array_release(m);
    kiln_ctx_free(ctx);
}

/* cumsum(x*x) reads x once: one kernel, no temporary. */
static void test_scan_fusion(void **state)
{
    (void)state;
    kiln_ctx *ctx = new_ctx();
    int64_t n = 50000;
    kiln_array *a = rnd_array(ctx, KILN_FLOAT64, 1, &n, false);
    kiln_expr x = kiln_input(ctx, a);
    kiln_expr e = s_cumsum_sq(x, 0);
    kiln_array *out = tu_eval(e, KILN_MODE_FUSED); /* compiles */
    uint64_t t0 = cnt(ctx, KILN_COUNTER_TEMP_BYTES), f0 = cnt(ctx, KILN_COUNTER_FALLBACKS);
    uint64_t l0 = cnt(ctx, KILN_COUNTER_LAUNCHES);
    assert_int_equal(kiln_eval_into(e, out), KILN_OK);
    assert_int_equal(cnt(ctx, KILN_COUNTER_TEMP_BYTES) - t0, 0);
    assert_int_equal(cnt(ctx, KILN_COUNTER_FALLBACKS) - f0, 0);
    assert_int_equal(cnt(ctx, KILN_COUNTER_LAUNCHES) - l0, 1);
    kiln_array_release(out);
    kiln_array_release(a);
    kiln_ctx_free(ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sizes_1d),
        cmocka_unit_test(test_matrices),
        cmocka_unit_test(test_wide_columns),
        cmocka_unit_test(test_short_sequences),
        cmocka_unit_test(test_multi_axes),
        cmocka_unit_test(test_nan_and_zeros),
        cmocka_unit_test(test_producer_and_consumer_fusion),
        cmocka_unit_test(test_unfused),
        cmocka_unit_test(test_vector_code),
        cmocka_unit_test(test_producers),
        cmocka_unit_test(test_siblings),
        cmocka_unit_test(test_epilogues),
        cmocka_unit_test(test_late_roots),
        cmocka_unit_test(test_scans_1d),
        cmocka_unit_test(test_scans_2d),
        cmocka_unit_test(test_scan_fusion),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
