/*
 * tests/test_cache.c — the kernel cache, through the public counters:
 * what recompiles (a new dtype, a new stride class) and what does not (a
 * new length, new data, a new scalar), the LRU bound and eviction, and
 * the counters' API.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "testutil.h"

#include "frontend/fe.h"
#include "jit/jit.h"

#include <string.h>

static bool tc_attached;

static kiln_ctx *tc_new(void)
{
    kiln_ctx *ctx = kiln_ctx_new(NULL);
    assert_non_null(ctx);
    tc_attached = !ctx->jit;
    if (!ctx->jit)
        ctx->jit = jit_new(ctx->env, ctx->counters);
    assert_non_null(ctx->jit);
    return ctx;
}

static void tc_free(kiln_ctx *ctx)
{
    if (tc_attached) {
        jit_free(ctx->jit);
        ctx->jit = NULL;
    }
    kiln_ctx_free(ctx);
}

static uint64_t cnt(kiln_ctx *ctx, kiln_counter c) { return kiln_ctx_counter(ctx, c); }

/* y = x*2+1 on x; checks the values. */
static void eval_affine(kiln_ctx *ctx, kiln_array *x)
{
    kiln_expr e = kiln_add(kiln_multiply(kiln_input(ctx, x), kiln_f64(ctx, 2)), kiln_f64(ctx, 1));
    kiln_array *y = tu_eval(e, KILN_MODE_FUSED), *r = tu_eval(e, KILN_MODE_INTERP);
    assert_true(tu_bits_equal(y, r));
    kiln_array_release(y);
    kiln_array_release(r);
}

static void test_lengths_compile_once(void **state)
{
    (void)state;
    kiln_ctx *ctx = tc_new();
    kiln_ctx_reset_counters(ctx);
    for (int i = 0; i < 10; i++) {
        int64_t n = 1 + i * 37 + (i == 9 ? 100000 : 0);
        kiln_array *x = tu_arange(ctx, KILN_FLOAT64, 1, &n);
        eval_affine(ctx, x);
        kiln_array_release(x);
    }
    assert_int_equal(cnt(ctx, KILN_COUNTER_COMPILES), 1);
    assert_int_equal(cnt(ctx, KILN_COUNTER_CACHE_MISSES), 1);
    assert_int_equal(cnt(ctx, KILN_COUNTER_CACHE_HITS), 9);
    assert_int_equal(cnt(ctx, KILN_COUNTER_KERNELS_LIVE), 1);
    assert_int_equal(cnt(ctx, KILN_COUNTER_LAUNCHES), 10);
    assert_true(cnt(ctx, KILN_COUNTER_COMPILE_NS) > 0);
    /* 2-D C-contiguous arrays coalesce to the same 1-D kernel */
    int64_t shape[2] = {7, 9};
    kiln_array *m = tu_arange(ctx, KILN_FLOAT64, 2, shape);
    eval_affine(ctx, m);
    assert_int_equal(cnt(ctx, KILN_COUNTER_COMPILES), 1);
    kiln_array_release(m);
    tc_free(ctx);
}

static void test_what_recompiles(void **state)
{
    (void)state;
    kiln_ctx *ctx = tc_new();
    int64_t n = 64;
    kiln_array *x = tu_arange(ctx, KILN_FLOAT64, 1, &n);
    kiln_array *xf = tu_arange(ctx, KILN_FLOAT32, 1, &n);
    kiln_ctx_reset_counters(ctx);
    eval_affine(ctx, x);
    assert_int_equal(cnt(ctx, KILN_COUNTER_COMPILES), 1);
    eval_affine(ctx, xf); /* another dtype */
    assert_int_equal(cnt(ctx, KILN_COUNTER_COMPILES), 2);
    kiln_array *s = NULL; /* every other element: stride class OTHER */
    kiln_slice sl = {0, KILN_END, 2};
    assert_int_equal(kiln_array_slice(x, 1, &sl, &s), KILN_OK);
    eval_affine(ctx, s);
    assert_int_equal(cnt(ctx, KILN_COUNTER_COMPILES), 3);
    kiln_array *s3 = NULL; /* another non-unit stride: same class, no compile */
    kiln_slice sl3 = {1, KILN_END, 3};
    assert_int_equal(kiln_array_slice(x, 1, &sl3, &s3), KILN_OK);
    eval_affine(ctx, s3);
    assert_int_equal(cnt(ctx, KILN_COUNTER_COMPILES), 3);
    kiln_array *rv = NULL; /* reversed: class RUNIT */
    kiln_slice slr = {KILN_END, KILN_END, -1};
    assert_int_equal(kiln_array_slice(x, 1, &slr, &rv), KILN_OK);
    eval_affine(ctx, rv);
    assert_int_equal(cnt(ctx, KILN_COUNTER_COMPILES), 4);
    /* another op structure */
    kiln_array *y = tu_eval(kiln_subtract(kiln_input(ctx, x), kiln_f64(ctx, 2)), KILN_MODE_FUSED);
    assert_int_equal(cnt(ctx, KILN_COUNTER_COMPILES), 5);
    kiln_array_release(y);
    assert_int_equal(cnt(ctx, KILN_COUNTER_KERNELS_LIVE), 5);
    assert_int_equal(cnt(ctx, KILN_COUNTER_EVICTIONS), 0);
    kiln_array_release(rv);
    kiln_array_release(s3);
    kiln_array_release(s);
    kiln_array_release(xf);
    kiln_array_release(x);
    tc_free(ctx);
}

/* Six distinct kernels with a limit of 3: three evicted, three live, and
 * an evicted kernel compiles again (correctly) when needed. */
static void test_lru_eviction(void **state)
{
    (void)state;
    kiln_ctx *ctx = tc_new();
    assert_int_equal(kiln_ctx_set_cache_limit(ctx, 3), KILN_OK);
    assert_int_equal(kiln_ctx_set_cache_limit(ctx, 0), KILN_EINVAL);
    int64_t n = 100;
    kiln_array *x = tu_arange(ctx, KILN_INT32, 1, &n);
    kiln_expr xe = kiln_input(ctx, x);
    kiln_expr es[6] = {kiln_add(xe, kiln_i64(ctx, 1)),     kiln_subtract(xe, kiln_i64(ctx, 1)),
                       kiln_multiply(xe, kiln_i64(ctx, 3)), kiln_bitwise_and(xe, kiln_i64(ctx, 5)),
                       kiln_bitwise_or(xe, kiln_i64(ctx, 5)), kiln_negative(xe)};
    kiln_ctx_reset_counters(ctx);
    for (int round = 0; round < 2; round++)
        for (int i = 0; i < 6; i++) {
            kiln_array *f = tu_eval(es[i], KILN_MODE_FUSED), *r = tu_eval(es[i], KILN_MODE_INTERP);
            assert_true(tu_bits_equal(f, r));
            kiln_array_release(f);
            kiln_array_release(r);
            assert_true(cnt(ctx, KILN_COUNTER_KERNELS_LIVE) <= 3);
        }
    assert_int_equal(cnt(ctx, KILN_COUNTER_KERNELS_LIVE), 3);
    assert_int_equal(cnt(ctx, KILN_COUNTER_COMPILES), 12); /* LRU thrashes: every one again */
    assert_int_equal(cnt(ctx, KILN_COUNTER_EVICTIONS), 9);
    /* most recent three are hits */
    for (int i = 3; i < 6; i++) {
        kiln_array *f = tu_eval(es[i], KILN_MODE_FUSED);
        kiln_array_release(f);
    }
    assert_int_equal(cnt(ctx, KILN_COUNTER_COMPILES), 12);
    /* lowering the limit evicts at once */
    assert_int_equal(kiln_ctx_set_cache_limit(ctx, 1), KILN_OK);
    kiln_array *f = tu_eval(es[5], KILN_MODE_FUSED);
    kiln_array_release(f);
    assert_int_equal(cnt(ctx, KILN_COUNTER_KERNELS_LIVE), 1);
    assert_int_equal(cnt(ctx, KILN_COUNTER_EVICTIONS), 11);
    kiln_array_release(x);
    tc_free(ctx);
}

/* Counters through the public API: a fresh context reads zeros, a reset
 * zeroes, an invalid counter reads 0, and the gauge KERNELS_LIVE never
 * wraps after a reset. */
static void test_counters_api(void **state)
{
    (void)state;
    kiln_ctx *ctx = tc_new();
    for (int c = 0; c < KILN_COUNTER_COUNT; c++)
        if (c != KILN_COUNTER_NODES_LIVE)
            assert_int_equal(cnt(ctx, (kiln_counter)c), 0);
    assert_int_equal(kiln_ctx_counter(ctx, KILN_COUNTER_COUNT), 0);
    assert_int_equal(kiln_ctx_counter(NULL, KILN_COUNTER_COMPILES), 0);
    assert_string_equal(kiln_last_fallback(ctx), "");
    int64_t n = 10;
    kiln_array *x = tu_arange(ctx, KILN_FLOAT64, 1, &n);
    eval_affine(ctx, x);
    assert_int_equal(cnt(ctx, KILN_COUNTER_KERNELS_LIVE), 1);
    kiln_ctx_reset_counters(ctx);
    assert_int_equal(cnt(ctx, KILN_COUNTER_COMPILES), 0);
    assert_int_equal(kiln_ctx_set_cache_limit(ctx, 1), KILN_OK);
    kiln_array *y = tu_eval(kiln_sqrt(kiln_input(ctx, x)), KILN_MODE_FUSED);
    kiln_array_release(y);
    assert_int_equal(cnt(ctx, KILN_COUNTER_KERNELS_LIVE), 1);
    assert_int_equal(cnt(ctx, KILN_COUNTER_EVICTIONS), 1);
    kiln_array_release(x);
    tc_free(ctx);
}

/* Unfused mode shares kernels with fused mode where they are the same
 * loop (a one-op expression). */
static void test_modes_share_kernels(void **state)
{
    (void)state;
    kiln_ctx *ctx = tc_new();
    int64_t n = 33;
    kiln_array *x = tu_arange(ctx, KILN_FLOAT64, 1, &n);
    kiln_expr e = kiln_sqrt(kiln_input(ctx, x));
    kiln_ctx_reset_counters(ctx);
    kiln_array *a = tu_eval(e, KILN_MODE_FUSED), *b = tu_eval(e, KILN_MODE_UNFUSED);
    assert_int_equal(cnt(ctx, KILN_COUNTER_COMPILES), 1);
    assert_true(tu_bits_equal(a, b));
    kiln_array_release(a);
    kiln_array_release(b);
    kiln_array_release(x);
    tc_free(ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lengths_compile_once),
        cmocka_unit_test(test_what_recompiles),
        cmocka_unit_test(test_lru_eviction),
        cmocka_unit_test(test_counters_api),
        cmocka_unit_test(test_modes_share_kernels),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
