/*
 * tests/test_udf.c — user-defined scalar functions (kiln_udf_register,
 * kiln_udf, kiln_op and expression strings by name).
 *
 * Every function below is applied in KILN_MODE_INTERP (libffi), UNFUSED
 * and FUSED (a direct call from the compiled loop); the three results must
 * be bit-identical, and equal to the known answer computed here by calling
 * the C function on the same (converted) arguments. Also: broadcasting,
 * strided and reversed views, a UDF fused with its neighbours into ONE
 * kernel with no temporary, reductions of UDF values, CSE (f(x) twice is
 * one node, f(x) and g(x) differ, and the kernel compiled for f never
 * serves g), no folding, no UDF kernel in the on-disk cache (its code holds
 * a process address), every error path and OOM at every allocation.
 */
#define _POSIX_C_SOURCE 200809L /* mkdtemp */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "testutil.h"

#include "frontend/fe.h"
#include "graph/dump.h"
#include "graph/plan.h"

#include <math.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- the functions ----------------------------------------------------------- */

static double f_affine(double x) { return x * 3.0 - 0.5; }
static float f_mulsum(float a, float b) { return a * b + a; }
static int64_t f_mix(int32_t a, int64_t b) { return (int64_t)a * 7 - b; }
static bool f_big(double x) { return x > 0.5; }
static uint8_t f_mad8(uint8_t a, uint8_t b, uint8_t c) { return (uint8_t)(a * b + c); }
static int8_t f_neg8(int8_t x) { return (int8_t)-x; }
static int16_t f_half16(int16_t x) { return (int16_t)(x / 2 - 3); }
static uint16_t f_inc16(uint16_t x) { return (uint16_t)(x + 1000u); }
static uint32_t f_xor32(uint32_t a, uint32_t b) { return a ^ (b << 3); }
static double f_eight(double a, float b, int8_t c, uint16_t d, int32_t e, uint64_t f, bool g,
                      int16_t h)
{
    return a + (double)b * 2 + c * 3 + d * 5 + (double)e * 7 + (double)(f % 1000u) * 11 +
           (g ? 13 : 0) + h * 17;
}
static double f_other(double x) { return x * 3.0 + 0.5; } /* same signature as f_affine */

static atomic_int g_calls;
static double f_counted(double x)
{
    atomic_fetch_add(&g_calls, 1);
    return x + 1;
}

#define FN(f) ((kiln_udf_fn)(f))

/* ---- helpers -------------------------------------------------------------------- */

static uint64_t cnt(kiln_ctx *ctx, kiln_counter c) { return kiln_ctx_counter(ctx, c); }

static void reg(kiln_ctx *ctx, const char *name, kiln_udf_fn fn, kiln_dtype ret, int n,
                const kiln_dtype *args)
{
    if (kiln_udf_register(ctx, name, fn, ret, n, args) != KILN_OK)
        fail_msg("register %s: %s", name, kiln_errmsg(ctx));
}

/* Every test function registered on ctx. */
static void reg_all(kiln_ctx *ctx)
{
    reg(ctx, "affine", FN(f_affine), KILN_FLOAT64, 1, (kiln_dtype[]){KILN_FLOAT64});
    reg(ctx, "mulsum", FN(f_mulsum), KILN_FLOAT32, 2, (kiln_dtype[]){KILN_FLOAT32, KILN_FLOAT32});
    reg(ctx, "mix", FN(f_mix), KILN_INT64, 2, (kiln_dtype[]){KILN_INT32, KILN_INT64});
    reg(ctx, "big", FN(f_big), KILN_BOOL, 1, (kiln_dtype[]){KILN_FLOAT64});
    reg(ctx, "mad8", FN(f_mad8), KILN_UINT8, 3,
        (kiln_dtype[]){KILN_UINT8, KILN_UINT8, KILN_UINT8});
    reg(ctx, "neg8", FN(f_neg8), KILN_INT8, 1, (kiln_dtype[]){KILN_INT8});
    reg(ctx, "half16", FN(f_half16), KILN_INT16, 1, (kiln_dtype[]){KILN_INT16});
    reg(ctx, "inc16", FN(f_inc16), KILN_UINT16, 1, (kiln_dtype[]){KILN_UINT16});
    reg(ctx, "xor32", FN(f_xor32), KILN_UINT32, 2, (kiln_dtype[]){KILN_UINT32, KILN_UINT32});
    reg(ctx, "eight", FN(f_eight), KILN_FLOAT64, 8,
        (kiln_dtype[]){KILN_FLOAT64, KILN_FLOAT32, KILN_INT8, KILN_UINT16, KILN_INT32,
                       KILN_UINT64, KILN_BOOL, KILN_INT16});
    reg(ctx, "other", FN(f_other), KILN_FLOAT64, 1, (kiln_dtype[]){KILN_FLOAT64});
}

static kiln_ctx *new_ctx(void)
{
    kiln_ctx *ctx = kiln_ctx_new(NULL);
    assert_non_null(ctx);
    reg_all(ctx);
    return ctx;
}

/* e evaluated in all three modes: bit-identical, and FUSED without an
 * interpreter fallback; returns the INTERP result. */
static kiln_array *eval3(kiln_expr e, const char *what)
{
    kiln_array *r[3];
    const kiln_mode modes[3] = {KILN_MODE_INTERP, KILN_MODE_UNFUSED, KILN_MODE_FUSED};
    for (int m = 0; m < 3; m++) {
        r[m] = NULL;
        if (modes[m] == KILN_MODE_FUSED) /* unfused reductions run interpreted, by design */
            kiln_ctx_reset_counters(e.ctx_);
        kiln_status s = kiln_eval_many(e.ctx_, modes[m], 1, &e, &r[m]);
        if (s != KILN_OK)
            fail_msg("%s, mode %d: %s", what, m, kiln_errmsg(e.ctx_));
    }
    for (int m = 1; m < 3; m++)
        if (!tu_bits_equal(r[0], r[m]))
            fail_msg("%s: mode %d differs from the interpreter", what, m);
    if (cnt(e.ctx_, KILN_COUNTER_FALLBACKS) != 0)
        fail_msg("%s: fallback: %s", what, kiln_last_fallback(e.ctx_));
    kiln_array_release(r[1]);
    kiln_array_release(r[2]);
    return r[0];
}

/* Element i of a (C-contiguous result) as a double. */
static double at(const kiln_array *a, int64_t i) { return kiln_array_get_f64(a, i); }

static const double xs[] = {0.0, 1.0, -1.0, 2.5, -2.5, 0.25, 100.0, -0.0, 7.0, 3.75, -128.0,
                            127.0, 255.0, 1e3, -77.0, 42.0};
enum { NX = sizeof xs / sizeof xs[0] };

static kiln_array *vec(kiln_ctx *ctx, kiln_dtype t, const double *v, int64_t n)
{
    return tu_array(ctx, t, 1, &n, v);
}

/* ---- every arity and dtype mix, all modes, known answers ------------------------ */

static void test_each_signature(void **state)
{
    (void)state;
    kiln_ctx *ctx = new_ctx();
    int64_t n = NX;
    double ys[NX];
    for (int i = 0; i < NX; i++)
        ys[i] = xs[NX - 1 - i] * 0.5 + 3;
    kiln_array *x64 = vec(ctx, KILN_FLOAT64, xs, n), *y64 = vec(ctx, KILN_FLOAT64, ys, n);
    kiln_array *x32 = vec(ctx, KILN_FLOAT32, xs, n), *y32 = vec(ctx, KILN_FLOAT32, ys, n);
    kiln_array *xi32 = vec(ctx, KILN_INT32, xs, n), *yi64 = vec(ctx, KILN_INT64, ys, n);
    kiln_array *xu8 = vec(ctx, KILN_UINT8, xs, n), *yu8 = vec(ctx, KILN_UINT8, ys, n);
    kiln_array *xi8 = vec(ctx, KILN_INT8, xs, n), *xi16 = vec(ctx, KILN_INT16, xs, n);
    kiln_array *xu16 = vec(ctx, KILN_UINT16, xs, n), *xu32 = vec(ctx, KILN_UINT32, xs, n);
    kiln_array *yu32 = vec(ctx, KILN_UINT32, ys, n), *xu64 = vec(ctx, KILN_UINT64, xs, n);
    kiln_array *xb = vec(ctx, KILN_BOOL, xs, n);
    kiln_expr X64 = kiln_input(ctx, x64);
    kiln_expr X32 = kiln_input(ctx, x32), Y32 = kiln_input(ctx, y32);

    kiln_array *r = eval3(kiln_udf(ctx, "affine", 1, &X64), "affine");
    assert_int_equal(kiln_array_dtype(r), KILN_FLOAT64);
    for (int i = 0; i < NX; i++)
        assert_true(at(r, i) == f_affine(xs[i]));
    kiln_array_release(r);

    r = eval3(kiln_udf(ctx, "mulsum", 2, (kiln_expr[]){X32, Y32}), "mulsum");
    assert_int_equal(kiln_array_dtype(r), KILN_FLOAT32);
    for (int i = 0; i < NX; i++)
        assert_true((float)at(r, i) == f_mulsum((float)xs[i], (float)ys[i]));
    kiln_array_release(r);

    r = eval3(kiln_udf(ctx, "mix", 2, (kiln_expr[]){kiln_input(ctx, xi32), kiln_input(ctx, yi64)}),
              "mix");
    assert_int_equal(kiln_array_dtype(r), KILN_INT64);
    for (int i = 0; i < NX; i++) {
        int64_t want = f_mix((int32_t)xs[i], (int64_t)ys[i]);
        assert_int_equal(((const int64_t *)kiln_array_data(r))[i], want);
    }
    kiln_array_release(r);

    r = eval3(kiln_udf(ctx, "big", 1, &X64), "big");
    assert_int_equal(kiln_array_dtype(r), KILN_BOOL);
    for (int i = 0; i < NX; i++)
        assert_int_equal(((const uint8_t *)kiln_array_data(r))[i], f_big(xs[i]) ? 1 : 0);
    kiln_array_release(r);

    kiln_expr U8 = kiln_input(ctx, xu8), V8 = kiln_input(ctx, yu8);
    r = eval3(kiln_udf(ctx, "mad8", 3, (kiln_expr[]){U8, V8, U8}), "mad8");
    assert_int_equal(kiln_array_dtype(r), KILN_UINT8);
    const uint8_t *pu8 = kiln_array_data(xu8), *qu8 = kiln_array_data(yu8);
    for (int i = 0; i < NX; i++)
        assert_int_equal(((const uint8_t *)kiln_array_data(r))[i], f_mad8(pu8[i], qu8[i], pu8[i]));
    kiln_array_release(r);

    /* narrow signed and unsigned results: sign and zero extension */
    kiln_expr I8 = kiln_input(ctx, xi8), I16 = kiln_input(ctx, xi16);
    r = eval3(kiln_udf(ctx, "neg8", 1, &I8), "neg8");
    const int8_t *pi8 = kiln_array_data(xi8);
    for (int i = 0; i < NX; i++)
        assert_int_equal(((const int8_t *)kiln_array_data(r))[i], f_neg8(pi8[i]));
    kiln_array_release(r);
    r = eval3(kiln_udf(ctx, "half16", 1, &I16), "half16");
    const int16_t *pi16 = kiln_array_data(xi16);
    for (int i = 0; i < NX; i++)
        assert_int_equal(((const int16_t *)kiln_array_data(r))[i], f_half16(pi16[i]));
    kiln_array_release(r);
    kiln_expr U16 = kiln_input(ctx, xu16);
    r = eval3(kiln_udf(ctx, "inc16", 1, &U16), "inc16");
    const uint16_t *pu16 = kiln_array_data(xu16);
    for (int i = 0; i < NX; i++)
        assert_int_equal(((const uint16_t *)kiln_array_data(r))[i], f_inc16(pu16[i]));
    kiln_array_release(r);
    r = eval3(kiln_udf(ctx, "xor32", 2,
                       (kiln_expr[]){kiln_input(ctx, xu32), kiln_input(ctx, yu32)}),
              "xor32");
    const uint32_t *pu32 = kiln_array_data(xu32), *qu32 = kiln_array_data(yu32);
    for (int i = 0; i < NX; i++)
        assert_int_equal(((const uint32_t *)kiln_array_data(r))[i], f_xor32(pu32[i], qu32[i]));
    kiln_array_release(r);

    /* eight arguments, every one of another dtype */
    kiln_expr eight[8] = {X64, X32, I8, U16, kiln_input(ctx, xi32), kiln_input(ctx, xu64),
                          kiln_input(ctx, xb), I16};
    r = eval3(kiln_udf(ctx, "eight", 8, eight), "eight");
    const int32_t *pi32 = kiln_array_data(xi32);
    const uint64_t *pu64 = kiln_array_data(xu64);
    const uint8_t *pb = kiln_array_data(xb);
    for (int i = 0; i < NX; i++) {
        double want = f_eight(xs[i], (float)xs[i], pi8[i], pu16[i], pi32[i], pu64[i], pb[i] != 0,
                              pi16[i]);
        assert_true(at(r, i) == want);
    }
    kiln_array_release(r);

    kiln_array *all[] = {x64, y64, x32, y32, xi32, yi64, xu8, yu8, xi8, xi16, xu16, xu32, yu32,
                         xu64, xb};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        kiln_array_release(all[i]);
    kiln_ctx_free(ctx);
}

/* Arguments of other dtypes are cast to the declared ones (same_kind), as
 * explicit CAST nodes: f(int array) is f(float64(array)). Python literals
 * take the declared dtype. */
static void test_argument_casts(void **state)
{
    (void)state;
    kiln_ctx *ctx = new_ctx();
    int64_t n = NX;
    kiln_array *xi = vec(ctx, KILN_INT16, xs, n), *xf = vec(ctx, KILN_FLOAT32, xs, n);
    kiln_expr I = kiln_input(ctx, xi), F = kiln_input(ctx, xf);
    kiln_expr e = kiln_udf(ctx, "affine", 1, &I);
    assert_true(kiln_expr_same(e, kiln_udf(ctx, "affine", 1,
                                           (kiln_expr[]){kiln_cast(I, KILN_FLOAT64)})));
    kiln_array *r = eval3(e, "affine(int16)");
    const int16_t *pi = kiln_array_data(xi);
    for (int i = 0; i < NX; i++)
        assert_true(at(r, i) == f_affine(pi[i]));
    kiln_array_release(r);
    /* float32 -> float64 argument, float64 array to a float32 argument
     * (same kind, narrowing: allowed by same_kind) */
    r = eval3(kiln_udf(ctx, "mulsum", 2, (kiln_expr[]){F, kiln_f64(ctx, 0.5)}), "mulsum(x, 0.5)");
    for (int i = 0; i < NX; i++)
        assert_true((float)at(r, i) == f_mulsum((float)xs[i], 0.5f));
    kiln_array_release(r);
    kiln_array *x64 = vec(ctx, KILN_FLOAT64, xs, n);
    kiln_expr X = kiln_input(ctx, x64);
    r = eval3(kiln_udf(ctx, "mulsum", 2, (kiln_expr[]){X, X}), "mulsum(f64, f64)");
    for (int i = 0; i < NX; i++)
        assert_true((float)at(r, i) == f_mulsum((float)xs[i], (float)xs[i]));
    kiln_array_release(r);
    /* unsigned -> signed, bool -> anything, literal ints */
    kiln_array *xu = vec(ctx, KILN_UINT8, xs, n), *xb = vec(ctx, KILN_BOOL, xs, n);
    r = eval3(kiln_udf(ctx, "mix", 2, (kiln_expr[]){kiln_input(ctx, xu), kiln_input(ctx, xb)}),
              "mix(u8, bool)");
    const uint8_t *pu = kiln_array_data(xu), *pb = kiln_array_data(xb);
    for (int i = 0; i < NX; i++)
        assert_int_equal(((const int64_t *)kiln_array_data(r))[i], f_mix(pu[i], pb[i]));
    kiln_array_release(r);
    r = eval3(kiln_udf(ctx, "mad8", 3, (kiln_expr[]){kiln_input(ctx, xu), kiln_i64(ctx, 3),
                                                      kiln_bool(ctx, 1)}),
              "mad8(x, 3, True)");
    for (int i = 0; i < NX; i++)
        assert_int_equal(((const uint8_t *)kiln_array_data(r))[i], f_mad8(pu[i], 3, 1));
    kiln_array_release(r);
    kiln_array_release(xi);
    kiln_array_release(xf);
    kiln_array_release(x64);
    kiln_array_release(xu);
    kiln_array_release(xb);
    kiln_ctx_free(ctx);
}

/* ---- broadcasting and views -------------------------------------------------------- */

static void test_broadcast_and_views(void **state)
{
    (void)state;
    kiln_ctx *ctx = new_ctx();
    int64_t col[2] = {4, 1}, row = 5, mat[2] = {6, 8};
    double cv[4] = {1, -2, 3.5, 0.25}, rv[5] = {0.5, 1, 2, -1, 10};
    kiln_array *c = tu_array(ctx, KILN_FLOAT32, 2, col, cv);
    kiln_array *rw = tu_array(ctx, KILN_FLOAT32, 1, &row, rv);
    kiln_expr C = kiln_input(ctx, c), R = kiln_input(ctx, rw);
    kiln_expr e = kiln_udf(ctx, "mulsum", 2, (kiln_expr[]){C, R});
    int64_t shape[2];
    assert_int_equal(kiln_expr_shape(e, shape), KILN_OK);
    assert_int_equal(shape[0], 4);
    assert_int_equal(shape[1], 5);
    kiln_array *r = eval3(e, "mulsum broadcast");
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 5; j++)
            assert_true((float)at(r, i * 5 + j) == f_mulsum((float)cv[i], (float)rv[j]));
    kiln_array_release(r);
    /* a scalar argument broadcast everywhere, with an array argument */
    r = eval3(kiln_udf(ctx, "mulsum", 2, (kiln_expr[]){kiln_f64(ctx, 2), R}), "mulsum(2, r)");
    for (int j = 0; j < 5; j++)
        assert_true((float)at(r, j) == f_mulsum(2.0f, (float)rv[j]));
    kiln_array_release(r);

    /* strided, reversed and transposed views of a matrix */
    kiln_array *m = tu_arange(ctx, KILN_FLOAT64, 2, mat), *v = NULL, *t = NULL;
    assert_int_equal(kiln_array_slice(m, 2, (kiln_slice[]){{KILN_END, KILN_END, -1}, {1, 7, 2}}, &v),
                     KILN_OK);
    assert_int_equal(kiln_array_transpose(m, NULL, &t), KILN_OK);
    kiln_expr V = kiln_input(ctx, v), T = kiln_input(ctx, t);
    r = eval3(kiln_udf(ctx, "affine", 1, &V), "affine(reversed, strided)");
    for (int i = 0; i < 6; i++)
        for (int j = 0; j < 3; j++)
            assert_true(at(r, i * 3 + j) == f_affine((5 - i) * 8 + 1 + 2 * j));
    kiln_array_release(r);
    r = eval3(kiln_udf(ctx, "mix", 2, (kiln_expr[]){kiln_cast(T, KILN_INT32), kiln_cast(T, KILN_INT64)}),
              "mix(.T)");
    for (int i = 0; i < 8; i++)
        for (int j = 0; j < 6; j++)
            assert_int_equal(((const int64_t *)kiln_array_data(r))[i * 6 + j],
                             f_mix(j * 8 + i, j * 8 + i));
    kiln_array_release(r);
    /* a view of a UDF expression is pushed down to its arguments */
    kiln_expr M = kiln_input(ctx, m);
    kiln_expr fm = kiln_udf(ctx, "affine", 1, &M);
    kiln_slice s[2] = {{KILN_END, KILN_END, -1}, {1, 7, 2}};
    assert_true(kiln_expr_same(kiln_expr_slice(fm, 2, s), kiln_udf(ctx, "affine", 1, &V)));
    /* into a reversed, strided output */
    kiln_array *o = NULL, *ov = NULL;
    assert_int_equal(kiln_array_zeros(ctx, KILN_FLOAT64, 2, (int64_t[]){12, 3}, KILN_ORDER_C, &o),
                     KILN_OK);
    assert_int_equal(kiln_array_slice(o, 1, (kiln_slice[]){{KILN_END, KILN_END, -2}}, &ov),
                     KILN_OK);
    kiln_expr fv = kiln_udf(ctx, "affine", 1, &V);
    assert_int_equal(kiln_eval_many(ctx, KILN_MODE_FUSED, 1, &fv, &ov), KILN_OK);
    for (int i = 0; i < 6; i++)
        for (int j = 0; j < 3; j++) {
            int64_t idx[2] = {i, j};
            assert_true(*(double *)kiln_array_ptr(ov, idx) == f_affine((5 - i) * 8 + 1 + 2 * j));
        }
    kiln_array_release(o);
    kiln_array_release(ov);
    kiln_array_release(c);
    kiln_array_release(rw);
    kiln_array_release(m);
    kiln_array_release(v);
    kiln_array_release(t);
    kiln_ctx_free(ctx);
}

/* ---- fusion ------------------------------------------------------------------------ */

/* A UDF inside a larger expression is fused with its neighbours: one kernel,
 * one launch, no temporary; unfused, each node is its own kernel. */
static void test_one_kernel(void **state)
{
    (void)state;
    kiln_ctx *ctx = new_ctx();
    int64_t n = 1000;
    kiln_array *x = tu_arange(ctx, KILN_FLOAT64, 1, &n), *y = tu_arange(ctx, KILN_FLOAT32, 1, &n);
    kiln_expr X = kiln_input(ctx, x), Y = kiln_input(ctx, y);
    /* sqrt(|affine(x*2) + mulsum(y, x)|) > 5 ... and a where around it */
    kiln_expr a = kiln_udf(ctx, "affine", 1, (kiln_expr[]){kiln_multiply(X, kiln_f64(ctx, 2))});
    kiln_expr b = kiln_udf(ctx, "mulsum", 2, (kiln_expr[]){Y, X});
    kiln_expr e = kiln_where(kiln_udf(ctx, "big", 1, (kiln_expr[]){kiln_subtract(a, b)}),
                             kiln_sqrt(kiln_absolute(kiln_add(a, b))), kiln_f64(ctx, -1));
    kiln_array *want = tu_eval(e, KILN_MODE_INTERP);
    kiln_ctx_reset_counters(ctx);
    kiln_array *got = tu_eval(e, KILN_MODE_FUSED);
    assert_true(tu_bits_equal(want, got));
    assert_int_equal(cnt(ctx, KILN_COUNTER_LAUNCHES), 1);
    assert_int_equal(cnt(ctx, KILN_COUNTER_TEMP_BYTES), 0);
    assert_int_equal(cnt(ctx, KILN_COUNTER_FALLBACKS), 0);
    assert_int_equal(cnt(ctx, KILN_COUNTER_COMPILES), 1);
    for (int64_t i = 0; i < n; i++) {
        double ai = f_affine((double)i * 2), bi = f_mulsum((float)i, (float)i);
        double w = f_big(ai - bi) ? sqrt(fabs(ai + bi)) : -1;
        assert_true(at(got, i) == w);
    }
    kiln_array_release(got);
    /* cached: the second evaluation compiles nothing */
    got = tu_eval(e, KILN_MODE_FUSED);
    assert_int_equal(cnt(ctx, KILN_COUNTER_COMPILES), 1);
    assert_true(tu_bits_equal(want, got));
    kiln_array_release(got);
    /* unfused: every node its own kernel, the UDF too */
    kiln_ctx_reset_counters(ctx);
    got = tu_eval(kiln_udf(ctx, "affine", 1, (kiln_expr[]){kiln_multiply(X, kiln_f64(ctx, 2))}),
                  KILN_MODE_UNFUSED);
    assert_int_equal(cnt(ctx, KILN_COUNTER_LAUNCHES), 2);
    assert_int_equal(cnt(ctx, KILN_COUNTER_TEMP_BYTES), (uint64_t)n * 8);
    kiln_array_release(got);
    kiln_array_release(want);

    /* the plan: one kernel whose table holds each function once */
    pthread_mutex_lock(&ctx->lock);
    gr_id root = fe_node_of(ctx, e);
    kiln_array *out = NULL;
    assert_int_equal(kiln_array_empty(ctx, KILN_FLOAT64, 1, &n, KILN_ORDER_C, &out), KILN_OK);
    gr_plan p;
    gr_plan_init(&p, ctx->env, NULL, 0);
    assert_int_equal(gr_plan_build(&p, ctx->graph, true, 1, &root, &out), KILN_OK);
    pthread_mutex_unlock(&ctx->lock);
    assert_int_equal(p.nkernels, 1);
    assert_int_equal(p.kernels[0].nudf, 3);
    assert_true(gr_kernel_has_udf(&p.kernels[0]));
    /* the DAG dump names each function as registered */
    char *dot = NULL;
    size_t dotlen = 0;
    FILE *f = open_memstream(&dot, &dotlen);
    assert_non_null(f);
    assert_int_equal(gr_dot_write(&p, ctx->graph, NULL, -1, f), KILN_OK);
    fclose(f);
    assert_non_null(strstr(dot, "affine\\nfloat64"));
    assert_non_null(strstr(dot, "mulsum\\nfloat32"));
    assert_non_null(strstr(dot, "big\\nbool"));
    free(dot);
    /* so does the plan's body */
    char *plan = NULL;
    size_t planlen = 0;
    f = open_memstream(&plan, &planlen);
    assert_non_null(f);
    gr_plan_write(&p, ctx->graph, true, NULL, -1, f);
    fclose(f);
    assert_non_null(strstr(plan, "= udf affine v"));
    assert_non_null(strstr(plan, "= udf mulsum v"));
    assert_non_null(strstr(plan, "= udf big v"));
    free(plan);
    gr_plan_free(&p);
    kiln_array_release(out);
    kiln_array_release(x);
    kiln_array_release(y);
    kiln_ctx_free(ctx);
}

/* Reductions and scans of UDF values: the producer fused into the reduction
 * kernel; all modes agree. */
static void test_reductions(void **state)
{
    (void)state;
    kiln_ctx *ctx = new_ctx();
    int64_t shape[2] = {37, 300};
    kiln_array *m = tu_arange(ctx, KILN_FLOAT64, 2, shape);
    kiln_expr M = kiln_input(ctx, m);
    kiln_expr f = kiln_udf(ctx, "affine", 1, (kiln_expr[]){kiln_multiply(M, kiln_f64(ctx, 0.01))});
    kiln_array *r = eval3(kiln_sum(f, 0, NULL, 0), "sum(affine)");
    kiln_array_release(r);
    r = eval3(kiln_sum(f, 1, (int[]){0}, 0), "sum(affine, axis=0)");
    kiln_array_release(r);
    r = eval3(kiln_max(kiln_udf(ctx, "mix", 2,
                                (kiln_expr[]){kiln_cast(M, KILN_INT32), kiln_cast(M, KILN_INT64)}),
                       1,
                       (int[]){1}, 0),
              "max(mix, axis=1)");
    for (int i = 0; i < 37; i++) {
        int64_t best = INT64_MIN;
        for (int j = 0; j < 300; j++) {
            int64_t v = f_mix(i * 300 + j, i * 300 + j);
            best = v > best ? v : best;
        }
        assert_int_equal(((const int64_t *)kiln_array_data(r))[i], best);
    }
    kiln_array_release(r);
    r = eval3(kiln_cumsum(f, 1), "cumsum(affine, axis=1)");
    kiln_array_release(r);
    /* a UDF of a reduction (the epilogue) */
    r = eval3(kiln_udf(ctx, "affine", 1, (kiln_expr[]){kiln_sum(M, 1, (int[]){1}, 0)}),
              "affine(sum)");
    kiln_array_release(r);
    kiln_array_release(m);
    kiln_ctx_free(ctx);
}

/* ---- identity: CSE, signatures, folding --------------------------------------------- */

static void test_identity(void **state)
{
    (void)state;
    kiln_ctx *ctx = new_ctx();
    reg(ctx, "affine2", FN(f_affine), KILN_FLOAT64, 1, (kiln_dtype[]){KILN_FLOAT64});
    int64_t n = NX;
    kiln_array *x = vec(ctx, KILN_FLOAT64, xs, n);
    kiln_expr X = kiln_input(ctx, x);
    kiln_expr f = kiln_udf(ctx, "affine", 1, &X), g = kiln_udf(ctx, "other", 1, &X);
    assert_true(kiln_expr_same(f, kiln_udf(ctx, "affine", 1, &X)));
    assert_true(kiln_expr_same(f, kiln_op(ctx, "affine", 1, &X)));
    assert_false(kiln_expr_same(f, g));
    assert_false(kiln_expr_same(f, kiln_udf(ctx, "affine2", 1, &X))); /* another registration */
    /* f's kernel never serves g: same shapes and dtypes, another function */
    kiln_ctx_reset_counters(ctx);
    kiln_array *rf = tu_eval(f, KILN_MODE_FUSED), *rg = tu_eval(g, KILN_MODE_FUSED);
    assert_int_equal(cnt(ctx, KILN_COUNTER_COMPILES), 2);
    for (int i = 0; i < NX; i++) {
        assert_true(at(rf, i) == f_affine(xs[i]));
        assert_true(at(rg, i) == f_other(xs[i]));
    }
    kiln_array_release(rf);
    kiln_array_release(rg);
    /* the same function under another name is the same code: a cache hit */
    rf = tu_eval(kiln_udf(ctx, "affine2", 1, &X), KILN_MODE_FUSED);
    assert_int_equal(cnt(ctx, KILN_COUNTER_COMPILES), 2);
    kiln_array_release(rf);

    /* never folded: building f(constant) does not call the function */
    reg(ctx, "counted", FN(f_counted), KILN_FLOAT64, 1, (kiln_dtype[]){KILN_FLOAT64});
    atomic_store(&g_calls, 0);
    kiln_expr c = kiln_udf(ctx, "counted", 1, (kiln_expr[]){kiln_f64(ctx, 2)});
    assert_int_equal(atomic_load(&g_calls), 0);
    assert_int_equal(kiln_expr_rank(c), 0);
    kiln_array *r = eval3(c, "counted(2)");
    assert_true(at(r, 0) == 3.0);
    assert_true(atomic_load(&g_calls) >= 3);
    kiln_array_release(r);
    kiln_array_release(x);
    kiln_ctx_free(ctx);
}

/* A kernel calling a UDF embeds the function's address: the disk cache
 * never stores it (nor loads one: a second context compiles it again),
 * while a kernel without one is stored as usual. */
static void test_disk_cache(void **state)
{
    (void)state;
    char dir[] = "/tmp/kiln_test_udf.XXXXXX";
    assert_non_null(mkdtemp(dir));
    int64_t n = NX;
    uint64_t removed = 0;
    for (int round = 0; round < 2; round++) {
        kiln_ctx *ctx = new_ctx();
        assert_int_equal(kiln_ctx_set_disk_cache(ctx, 1, dir), KILN_OK);
        kiln_array *x = vec(ctx, KILN_FLOAT64, xs, n);
        kiln_expr X = kiln_input(ctx, x);
        kiln_array *r = tu_eval(kiln_add(kiln_multiply(X, kiln_f64(ctx, 2)), kiln_f64(ctx, 1)),
                                KILN_MODE_FUSED);
        kiln_array_release(r);
        /* the built-in kernel: written in round 0, loaded in round 1 */
        assert_int_equal(cnt(ctx, KILN_COUNTER_DISK_WRITES), round == 0 ? 1 : 0);
        assert_int_equal(cnt(ctx, KILN_COUNTER_DISK_HITS), round == 0 ? 0 : 1);
        uint64_t compiles = cnt(ctx, KILN_COUNTER_COMPILES);
        r = tu_eval(kiln_udf(ctx, "affine", 1, &X), KILN_MODE_FUSED);
        for (int i = 0; i < NX; i++)
            assert_true(at(r, i) == f_affine(xs[i]));
        kiln_array_release(r);
        assert_int_equal(cnt(ctx, KILN_COUNTER_COMPILES), compiles + 1);
        assert_int_equal(cnt(ctx, KILN_COUNTER_DISK_WRITES), round == 0 ? 1 : 0);
        assert_int_equal(cnt(ctx, KILN_COUNTER_DISK_HITS), round == 0 ? 0 : 1);
        if (round == 1)
            assert_int_equal(kiln_ctx_clear_cache(ctx, &removed), KILN_OK);
        kiln_array_release(x);
        kiln_ctx_free(ctx);
    }
    assert_true(removed >= 1);
    rmdir(dir); /* best effort: other entries (the thread calibration) may stay */
}

/* Registrations belong to their context; a kernel calling a UDF splits over
 * threads like any elementwise kernel, with the same bits at any count. */
static void test_contexts_and_threads(void **state)
{
    (void)state;
    kiln_ctx *a = new_ctx(), *b = kiln_ctx_new(NULL);
    assert_non_null(b);
    reg(b, "f", FN(f_other), KILN_FLOAT64, 1, (kiln_dtype[]){KILN_FLOAT64});
    int64_t n = 1 << 20;
    kiln_array *xa = tu_arange(a, KILN_FLOAT64, 1, &n), *xb = tu_arange(b, KILN_FLOAT64, 1, &n);
    kiln_expr XA = kiln_input(a, xa), XB = kiln_input(b, xb);
    assert_int_equal(kiln_expr_status(kiln_udf(b, "affine", 1, &XB)), KILN_EINVAL);
    assert_int_equal(kiln_expr_status(kiln_udf(a, "f", 1, &XA)), KILN_EINVAL);
    kiln_array *rb = tu_eval(kiln_udf(b, "f", 1, &XB), KILN_MODE_FUSED);
    assert_true(at(rb, 12345) == f_other(12345));
    kiln_array_release(rb);
    kiln_expr e = kiln_add(kiln_udf(a, "affine", 1, &XA), kiln_f64(a, 1));
    assert_int_equal(kiln_ctx_set_threads(a, 1), KILN_OK);
    kiln_array *one = tu_eval(e, KILN_MODE_FUSED);
    assert_int_equal(kiln_ctx_set_threads(a, 3), KILN_OK);
    kiln_array *three = tu_eval(e, KILN_MODE_FUSED);
    assert_true(tu_bits_equal(one, three));
    for (int64_t i = 0; i < n; i += 4099)
        assert_true(at(three, i) == f_affine((double)i) + 1);
    kiln_array_release(one);
    kiln_array_release(three);
    kiln_array_release(xa);
    kiln_array_release(xb);
    kiln_ctx_free(a);
    kiln_ctx_free(b);
}

/* Scopes drop UDF nodes but not registrations; a UDF in many evaluations
 * inside scopes stays bounded. */
static void test_scopes(void **state)
{
    (void)state;
    kiln_ctx *ctx = new_ctx();
    int64_t n = 64;
    kiln_array *x = tu_arange(ctx, KILN_FLOAT64, 1, &n);
    uint64_t nodes0 = cnt(ctx, KILN_COUNTER_NODES_LIVE);
    for (int it = 0; it < 200; it++) {
        uint64_t s = kiln_scope_begin(ctx);
        kiln_expr X = kiln_input(ctx, x);
        kiln_expr e = kiln_add(kiln_udf(ctx, "affine", 1, &X), kiln_f64(ctx, it));
        kiln_array *r = tu_eval(e, KILN_MODE_FUSED);
        assert_true(at(r, 5) == f_affine(5) + it);
        kiln_array_release(r);
        assert_int_equal(kiln_scope_end(ctx, s), KILN_OK);
    }
    assert_int_equal(cnt(ctx, KILN_COUNTER_NODES_LIVE), nodes0);
    kiln_expr X = kiln_input(ctx, x);
    assert_int_equal(kiln_expr_status(kiln_udf(ctx, "affine", 1, &X)), KILN_OK);
    kiln_array_release(x);
    kiln_ctx_free(ctx);
}

/* ---- expression strings ------------------------------------------------------------- */

static void test_parse(void **state)
{
    (void)state;
    kiln_ctx *ctx = new_ctx();
    int64_t n = NX;
    kiln_array *x = vec(ctx, KILN_FLOAT64, xs, n), *y = vec(ctx, KILN_FLOAT32, xs, n);
    const char *names[2] = {"x", "y"};
    kiln_array *arrs[2] = {x, y};
    kiln_expr X = kiln_input(ctx, x), Y = kiln_input(ctx, y);
    kiln_expr e = kiln_parse(ctx, "sqrt(abs(affine(x * 2))) + mulsum(y, 0.5)", 2, names, arrs);
    assert_int_equal(kiln_expr_status(e), KILN_OK);
    kiln_expr want = kiln_add(
        kiln_sqrt(kiln_absolute(kiln_udf(ctx, "affine", 1,
                                         (kiln_expr[]){kiln_multiply(X, kiln_i64(ctx, 2))}))),
        kiln_udf(ctx, "mulsum", 2, (kiln_expr[]){Y, kiln_f64(ctx, 0.5)}));
    assert_true(kiln_expr_same(e, want));
    kiln_array *r = eval3(e, "parsed");
    kiln_array_release(r);
    e = kiln_parse(ctx, "eight(x, y, 1, 2, 3, 4, True, 5)", 2, names, arrs);
    r = eval3(e, "eight parsed");
    for (int i = 0; i < NX; i++)
        assert_true(at(r, i) == f_eight(xs[i], (float)xs[i], 1, 2, 3, 4, true, 5));
    kiln_array_release(r);

    /* wrong count: expected and given, with a caret */
    e = kiln_parse(ctx, "x + mulsum(y)", 2, names, arrs);
    assert_int_equal(kiln_expr_status(e), KILN_ESYNTAX);
    assert_non_null(strstr(kiln_errmsg(ctx), "mulsum() expects 2 arguments, 1 given"));
    assert_non_null(strstr(kiln_errmsg(ctx), "column 5"));
    assert_non_null(strstr(kiln_errmsg(ctx), "    x + mulsum(y)\n        ^~~~~~~~~"));
    /* unknown: the registered names are known names */
    e = kiln_parse(ctx, "afine(x)", 2, names, arrs);
    assert_int_equal(kiln_expr_status(e), KILN_ESYNTAX);
    assert_non_null(strstr(kiln_errmsg(ctx), "unknown function 'afine' at column 1"));
    assert_non_null(strstr(kiln_errmsg(ctx), "did you mean 'affine'?"));
    /* a function used as a value; keywords */
    e = kiln_parse(ctx, "affine + 1", 2, names, arrs);
    assert_non_null(strstr(kiln_errmsg(ctx), "is a function: call it, as in affine(...)"));
    e = kiln_parse(ctx, "affine(x, axis=0)", 2, names, arrs);
    assert_int_equal(kiln_expr_status(e), KILN_ESYNTAX);
    /* a dtype error from construction keeps its status and gains the place */
    e = kiln_parse(ctx, "mix(x, 1)", 2, names, arrs);
    assert_int_equal(kiln_expr_status(e), KILN_EDTYPE);
    assert_non_null(strstr(kiln_errmsg(ctx), "mix: argument 1 has dtype float64"));
    assert_non_null(strstr(kiln_errmsg(ctx), "^"));
    kiln_array_release(x);
    kiln_array_release(y);
    kiln_ctx_free(ctx);
}

/* ---- errors ---------------------------------------------------------------------------- */

static void expect_reg(kiln_ctx *ctx, kiln_status want, const char *msg, const char *name,
                       kiln_udf_fn fn, kiln_dtype ret, int n, const kiln_dtype *args)
{
    kiln_status s = kiln_udf_register(ctx, name, fn, ret, n, args);
    if (s != want)
        fail_msg("register %s: %s, want %s (%s)", name ? name : "(null)", kiln_status_name(s),
                 kiln_status_name(want), kiln_errmsg(ctx));
    if (msg && !strstr(kiln_errmsg(ctx), msg))
        fail_msg("register %s: message '%s' lacks '%s'", name ? name : "(null)",
                 kiln_errmsg(ctx), msg);
}

static void test_register_errors(void **state)
{
    (void)state;
    kiln_ctx *ctx = new_ctx();
    const kiln_dtype d1[1] = {KILN_FLOAT64};
    kiln_dtype bad[2] = {KILN_FLOAT64, (kiln_dtype)99};
    assert_int_equal(kiln_udf_register(NULL, "g", FN(f_affine), KILN_FLOAT64, 1, d1), KILN_ENULL);
    expect_reg(ctx, KILN_ENULL, "NULL name", NULL, FN(f_affine), KILN_FLOAT64, 1, d1);
    expect_reg(ctx, KILN_ENULL, "NULL function pointer", "g", NULL, KILN_FLOAT64, 1, d1);
    expect_reg(ctx, KILN_ENULL, "NULL argument dtype array", "g", FN(f_affine), KILN_FLOAT64, 1,
               NULL);
    expect_reg(ctx, KILN_EINVAL, "0 arguments (a function takes 1 to 8)", "g", FN(f_affine),
               KILN_FLOAT64, 0, d1);
    expect_reg(ctx, KILN_EINVAL, "9 arguments", "g", FN(f_affine), KILN_FLOAT64, 9, d1);
    expect_reg(ctx, KILN_EDTYPE, "invalid return dtype 42", "g", FN(f_affine), (kiln_dtype)42, 1,
               d1);
    expect_reg(ctx, KILN_EDTYPE, "invalid dtype 99 for argument 2", "g", FN(f_affine),
               KILN_FLOAT64, 2, bad);
    expect_reg(ctx, KILN_EINVAL, "not an identifier", "2x", FN(f_affine), KILN_FLOAT64, 1, d1);
    expect_reg(ctx, KILN_EINVAL, "not an identifier", "a-b", FN(f_affine), KILN_FLOAT64, 1, d1);
    expect_reg(ctx, KILN_EINVAL, "an empty name", "", FN(f_affine), KILN_FLOAT64, 1, d1);
    expect_reg(ctx, KILN_EINVAL, "longer than 63 bytes",
               "a234567890123456789012345678901234567890123456789012345678901234", FN(f_affine),
               KILN_FLOAT64, 1, d1);
    expect_reg(ctx, KILN_EINVAL, "built-in op", "sin", FN(f_affine), KILN_FLOAT64, 1, d1);
    expect_reg(ctx, KILN_EINVAL, "built-in op", "abs", FN(f_affine), KILN_FLOAT64, 1, d1);
    expect_reg(ctx, KILN_EINVAL, "built-in op", "clip", FN(f_affine), KILN_FLOAT64, 1, d1);
    expect_reg(ctx, KILN_EINVAL, "built-in op", "udf", FN(f_affine), KILN_FLOAT64, 1, d1);
    expect_reg(ctx, KILN_EINVAL, "dtype name", "float32", FN(f_affine), KILN_FLOAT64, 1, d1);
    expect_reg(ctx, KILN_EINVAL, "dtype name", "f8", FN(f_affine), KILN_FLOAT64, 1, d1);
    expect_reg(ctx, KILN_EINVAL, "reserved word", "None", FN(f_affine), KILN_FLOAT64, 1, d1);
    expect_reg(ctx, KILN_EINVAL, "'affine' is already registered", "affine", FN(f_other),
               KILN_FLOAT64, 1, d1);
    /* a 63-byte name is fine; the failures registered nothing */
    expect_reg(ctx, KILN_OK, NULL,
               "a23456789012345678901234567890123456789012345678901234567890123", FN(f_affine),
               KILN_FLOAT64, 1, d1);
    int64_t n = 3;
    kiln_array *x = tu_arange(ctx, KILN_FLOAT64, 1, &n);
    kiln_expr X = kiln_input(ctx, x);
    assert_int_equal(kiln_expr_status(kiln_udf(ctx, "g", 1, &X)), KILN_EINVAL);
    kiln_array_release(x);
    kiln_ctx_free(ctx);
}

static void expect_expr(kiln_expr e, kiln_status want, const char *msg)
{
    kiln_status s = kiln_expr_status(e);
    if (s != want)
        fail_msg("%s, want %s (%s)", kiln_status_name(s), kiln_status_name(want),
                 e.ctx_ ? kiln_errmsg(e.ctx_) : "");
    if (msg && !strstr(kiln_errmsg(e.ctx_), msg))
        fail_msg("message '%s' lacks '%s'", kiln_errmsg(e.ctx_), msg);
}

static void test_apply_errors(void **state)
{
    (void)state;
    kiln_ctx *ctx = new_ctx(), *other = kiln_ctx_new(NULL);
    assert_non_null(other);
    int64_t n3 = 3, n4 = 4;
    kiln_array *x = tu_arange(ctx, KILN_FLOAT64, 1, &n3), *y = tu_arange(ctx, KILN_FLOAT32, 1, &n4);
    kiln_array *i = tu_arange(ctx, KILN_INT64, 1, &n3), *o = tu_arange(other, KILN_FLOAT64, 1, &n3);
    kiln_expr X = kiln_input(ctx, x), Y = kiln_input(ctx, y), I = kiln_input(ctx, i);
    kiln_expr O = kiln_input(other, o);

    assert_int_equal(kiln_expr_status(kiln_udf(NULL, "affine", 1, &X)), KILN_ENULL);
    expect_expr(kiln_udf(ctx, NULL, 1, &X), KILN_ENULL, "NULL function name");
    expect_expr(kiln_udf(ctx, "afine", 1, &X), KILN_EINVAL,
                "unknown function 'afine' (registered: affine, mulsum");
    kiln_ctx *empty = kiln_ctx_new(NULL);
    expect_expr(kiln_udf(empty, "f", 1, &X), KILN_EINVAL, "no functions are registered");
    kiln_ctx_free(empty);
    expect_expr(kiln_udf(ctx, "mulsum", 1, &Y), KILN_EINVAL, "mulsum expects 2 arguments, got 1");
    expect_expr(kiln_udf(ctx, "affine", 9, (kiln_expr[9]){X}), KILN_EINVAL,
                "affine expects 1 argument, got 9");
    expect_expr(kiln_udf(ctx, "affine", -1, &X), KILN_EINVAL, "expects 1 argument, got -1");
    expect_expr(kiln_udf(ctx, "affine", 1, NULL), KILN_ENULL, "affine: NULL argument array");
    expect_expr(kiln_op(ctx, "mulsum", 3, (kiln_expr[]){Y, Y, Y}), KILN_EINVAL,
                "mulsum expects 2 arguments, got 3");
    expect_expr(kiln_op(ctx, "udf", 1, &X), KILN_EINVAL, "'udf' is not an op");
    /* shapes */
    expect_expr(kiln_udf(ctx, "mulsum", 2, (kiln_expr[]){X, Y}), KILN_ESHAPE,
                "operands could not be broadcast together with shapes (3,) (4,)");
    /* same_kind: float -> int, int -> bool, signed -> unsigned */
    expect_expr(kiln_udf(ctx, "mix", 2, (kiln_expr[]){X, I}), KILN_EDTYPE,
                "mix: argument 1 has dtype float64, which cannot be cast to the declared int32 "
                "under NumPy's same_kind rule");
    expect_expr(kiln_udf(ctx, "mad8", 3, (kiln_expr[]){I, I, I}), KILN_EDTYPE,
                "argument 1 has dtype int64, which cannot be cast to the declared uint8");
    reg(ctx, "truth", FN(f_big), KILN_BOOL, 1, (kiln_dtype[]){KILN_BOOL});
    expect_expr(kiln_udf(ctx, "truth", 1, &I), KILN_EDTYPE, "declared bool");
    expect_expr(kiln_udf(ctx, "mix", 2, (kiln_expr[]){kiln_f64(ctx, 1.5), I}), KILN_EDTYPE,
                "mix: argument 1 is a Python float");
    expect_expr(kiln_udf(ctx, "truth", 1, (kiln_expr[]){kiln_i64(ctx, 1)}), KILN_EDTYPE,
                "truth: argument 1 is a Python int");
    expect_expr(kiln_udf(ctx, "mad8", 3, (kiln_expr[]){I, kiln_i64(ctx, 300), I}), KILN_EDTYPE,
                NULL); /* argument 1 is checked first */
    kiln_array *u = tu_arange(ctx, KILN_UINT8, 1, &n3);
    kiln_expr U = kiln_input(ctx, u);
    expect_expr(kiln_udf(ctx, "mad8", 3, (kiln_expr[]){U, kiln_i64(ctx, 300), U}),
                KILN_EOVERFLOW, "Python integer 300 out of bounds for uint8 (argument 2 of mad8)");
    expect_expr(kiln_udf(ctx, "mad8", 3, (kiln_expr[]){U, kiln_i64(ctx, -1), U}), KILN_EOVERFLOW,
                "Python integer -1 out of bounds for uint8");
    /* handles: foreign, stale, sticky */
    expect_expr(kiln_udf(ctx, "affine", 1, &O), KILN_EFOREIGN, "argument 1 belongs to another");
    uint64_t s = kiln_scope_begin(ctx);
    kiln_expr tmp = kiln_multiply(X, X);
    assert_int_equal(kiln_scope_end(ctx, s), KILN_OK);
    expect_expr(kiln_udf(ctx, "affine", 1, &tmp), KILN_ESTALE, "argument 1 is stale");
    kiln_expr err = kiln_udf(ctx, "mix", 2, (kiln_expr[]){X, I});
    kiln_expr chained = kiln_add(kiln_udf(ctx, "affine", 1, &err), X);
    assert_true(kiln_expr_same(chained, err));
    kiln_array *r = NULL;
    assert_int_equal(kiln_eval(chained, &r), KILN_EDTYPE);
    assert_null(r);
    kiln_array_release(x);
    kiln_array_release(y);
    kiln_array_release(i);
    kiln_array_release(u);
    kiln_array_release(o);
    kiln_ctx_free(other);
    kiln_ctx_free(ctx);
}

/* ---- OOM -------------------------------------------------------------------------------- */

static void oom_run(kiln_mode mode)
{
    bool done = false;
    for (long n = 1; !done && n < 4000; n++) {
        tu_alloc t;
        tu_alloc_init(&t, n, false);
        kiln_ctx *ctx = kiln_ctx_new(&t.a);
        if (!ctx)
            continue;
        kiln_ctx_set_mode(ctx, mode);
        kiln_status s = KILN_OK;
        const char *names[] = {"affine", "mulsum", "eight", "big", "mix", "mad8", "other", "x9"};
        for (int k = 0; k < 8 && s == KILN_OK; k++)
            s = kiln_udf_register(ctx, names[k], FN(f_mulsum), KILN_FLOAT32, 2,
                                  (kiln_dtype[]){KILN_FLOAT32, KILN_FLOAT32});
        if (s == KILN_OK)
            s = kiln_udf_register(ctx, "aff", FN(f_affine), KILN_FLOAT64, 1,
                                  (kiln_dtype[]){KILN_FLOAT64});
        kiln_array *a = NULL;
        int64_t shape[2] = {3, 8};
        if (s == KILN_OK)
            s = kiln_array_zeros(ctx, KILN_FLOAT64, 2, shape, KILN_ORDER_C, &a);
        if (s == KILN_OK) {
            const char *nm = "x";
            kiln_expr e = kiln_parse(ctx, "aff(x * 2) + sum(aff(x[::-1]), axis=0)", 1, &nm, &a);
            kiln_array *r = NULL;
            s = kiln_eval(e, &r);
            if (s == KILN_OK) {
                done = true;
                assert_true(at(r, 0) == f_affine(0) * 4);
                if (mode == KILN_MODE_FUSED) /* compiled, not interpreted */
                    assert_true(cnt(ctx, KILN_COUNTER_COMPILES) >= 1);
            }
            kiln_array_release(r);
        }
        if (s != KILN_OK && s != KILN_ENOMEM)
            fail_msg("allocation %ld: %s: %s", n, kiln_status_name(s), kiln_errmsg(ctx));
        kiln_array_release(a);
        kiln_ctx_free(ctx);
        assert_int_equal(t.live, 0);
    }
    assert_true(done);
}

static void test_oom(void **state)
{
    (void)state;
    oom_run(KILN_MODE_INTERP);
    oom_run(KILN_MODE_FUSED);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_each_signature),
        cmocka_unit_test(test_argument_casts),
        cmocka_unit_test(test_broadcast_and_views),
        cmocka_unit_test(test_one_kernel),
        cmocka_unit_test(test_reductions),
        cmocka_unit_test(test_identity),
        cmocka_unit_test(test_disk_cache),
        cmocka_unit_test(test_contexts_and_threads),
        cmocka_unit_test(test_scopes),
        cmocka_unit_test(test_parse),
        cmocka_unit_test(test_register_errors),
        cmocka_unit_test(test_apply_errors),
        cmocka_unit_test(test_oom),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
