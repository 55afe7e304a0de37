/*
 * tests/test_threads.c — evaluation from several threads: 4 threads x 500
 * evaluations of mixed expressions (fused and unfused, several dtypes and
 * lengths, changing scalars) on one shared context, on a context per
 * thread, and on a shared context whose cache is so small that kernels are
 * evicted while other threads run them. Every result is checked against a
 * plain C computation (exact ops: bit for bit).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "testutil.h"

#include "frontend/fe.h"
#include "jit/jit.h"

#include <math.h>
#include <pthread.h>
#include <string.h>

enum { NTHREADS = 4, NEVALS = 500, MAXN = 700 };

typedef struct worker {
    kiln_ctx *ctx;
    int id, nevals;
    int failures;
    char msg[256];
} worker;

static void fail_w(worker *w, int i, const char *what)
{
    if (!w->failures++)
        snprintf(w->msg, sizeof w->msg, "thread %d eval %d: %s", w->id, i, what);
}

/* One evaluation of expression kind (i % 5) on a fresh input of length
 * 1..MAXN; checks every element. */
static void one_eval(worker *w, int i)
{
    kiln_ctx *ctx = w->ctx;
    int64_t n = 1 + (i * 131 + w->id * 17) % MAXN;
    double a = 0.5 + (i % 13), b = -1.0 * (i % 7);
    kiln_mode mode = (i / 5) % 2 ? KILN_MODE_UNFUSED : KILN_MODE_FUSED;
    int kind = i % 5;
    kiln_dtype t = kind == 3 ? KILN_INT32 : kind == 4 ? KILN_FLOAT32 : KILN_FLOAT64;
    kiln_array *x = NULL, *y = NULL;
    if (kiln_array_empty(ctx, t, 1, &n, KILN_ORDER_C, &x) != KILN_OK) {
        fail_w(w, i, "array_empty");
        return;
    }
    void *xd = kiln_array_data(x);
    for (int64_t k = 0; k < n; k++) {
        double v = sin((double)(k + i + w->id)) * 50.0;
        if (t == KILN_FLOAT64)
            ((double *)xd)[k] = v;
        else if (t == KILN_FLOAT32)
            ((float *)xd)[k] = (float)v;
        else
            ((int32_t *)xd)[k] = (int32_t)v;
    }
    kiln_expr xe = kiln_input(ctx, x), e;
    switch (kind) {
    case 0: e = kiln_add(kiln_multiply(xe, kiln_f64(ctx, a)), kiln_f64(ctx, b)); break;
    case 1: e = kiln_add(kiln_sqrt(kiln_absolute(xe)), kiln_multiply(xe, xe)); break;
    case 2: e = kiln_where(kiln_greater(xe, kiln_f64(ctx, a)), xe, kiln_negative(xe)); break;
    case 3: e = kiln_add(kiln_multiply(xe, kiln_i64(ctx, 3)), kiln_i64(ctx, (int64_t)a)); break;
    default: e = kiln_subtract(kiln_multiply(xe, kiln_f64(ctx, a)), kiln_f64(ctx, 1)); break;
    }
    kiln_status s = kiln_eval_many(ctx, mode, 1, &e, &y);
    if (s != KILN_OK) {
        fail_w(w, i, kiln_status_name(s));
        kiln_array_release(x);
        return;
    }
    const void *yd = kiln_array_data(y);
    for (int64_t k = 0; k < n; k++) {
        bool ok;
        if (kind == 3) {
            int32_t v = ((int32_t *)xd)[k];
            int32_t want = (int32_t)((uint32_t)v * 3u + (uint32_t)(int32_t)a);
            ok = ((const int32_t *)yd)[k] == want;
        } else if (kind == 4) {
            float v = ((float *)xd)[k];
            float want = v * (float)a - 1.0f;
            ok = ((const float *)yd)[k] == want;
        } else {
            double v = ((double *)xd)[k], want;
            if (kind == 0)
                want = v * a + b;
            else if (kind == 1)
                want = sqrt(fabs(v)) + v * v;
            else
                want = v > a ? v : -v;
            ok = memcmp(&((const double *)yd)[k], &want, sizeof want) == 0;
        }
        if (!ok) {
            fail_w(w, i, "wrong element");
            break;
        }
    }
    kiln_array_release(y);
    kiln_array_release(x);
}

static void *run_worker(void *arg)
{
    worker *w = arg;
    for (int i = 0; i < w->nevals; i++)
        one_eval(w, i);
    return NULL;
}

/* Contexts made here get the JIT attached if kiln_ctx_new does not. */
static kiln_ctx *th_new(bool *attached)
{
    kiln_ctx *ctx = kiln_ctx_new(NULL);
    assert_non_null(ctx);
    *attached = !ctx->jit;
    if (!ctx->jit)
        ctx->jit = jit_new(ctx->env, ctx->counters);
    assert_non_null(ctx->jit);
    return ctx;
}

static void th_free(kiln_ctx *ctx, bool attached)
{
    if (attached) {
        jit_free(ctx->jit);
        ctx->jit = NULL;
    }
    kiln_ctx_free(ctx);
}

static void run_all(worker *ws, int nevals)
{
    pthread_t th[NTHREADS];
    for (int t = 0; t < NTHREADS; t++) {
        ws[t].id = t;
        ws[t].nevals = nevals;
        ws[t].failures = 0;
        assert_int_equal(pthread_create(&th[t], NULL, run_worker, &ws[t]), 0);
    }
    for (int t = 0; t < NTHREADS; t++)
        pthread_join(th[t], NULL);
    for (int t = 0; t < NTHREADS; t++)
        if (ws[t].failures)
            fail_msg("%d failures; first: %s", ws[t].failures, ws[t].msg);
}

static void test_shared_context(void **state)
{
    (void)state;
    bool att;
    kiln_ctx *ctx = th_new(&att);
    worker ws[NTHREADS];
    for (int t = 0; t < NTHREADS; t++)
        ws[t].ctx = ctx;
    run_all(ws, NEVALS);
    assert_int_equal(kiln_ctx_counter(ctx, KILN_COUNTER_FALLBACKS), 0);
    /* every kernel compiled once, however many threads wanted it */
    assert_int_equal(kiln_ctx_counter(ctx, KILN_COUNTER_COMPILES),
                     kiln_ctx_counter(ctx, KILN_COUNTER_CACHE_MISSES));
    print_message("shared context: %llu compiles, %llu hits, %llu launches\n",
                  (unsigned long long)kiln_ctx_counter(ctx, KILN_COUNTER_COMPILES),
                  (unsigned long long)kiln_ctx_counter(ctx, KILN_COUNTER_CACHE_HITS),
                  (unsigned long long)kiln_ctx_counter(ctx, KILN_COUNTER_LAUNCHES));
    th_free(ctx, att);
}

static void test_context_per_thread(void **state)
{
    (void)state;
    worker ws[NTHREADS];
    bool att[NTHREADS];
    for (int t = 0; t < NTHREADS; t++)
        ws[t].ctx = th_new(&att[t]);
    run_all(ws, NEVALS);
    for (int t = 0; t < NTHREADS; t++) {
        assert_int_equal(kiln_ctx_counter(ws[t].ctx, KILN_COUNTER_FALLBACKS), 0);
        th_free(ws[t].ctx, att[t]);
    }
}

/* A cache of 2 kernels for ~10 distinct ones: kernels are evicted and
 * recompiled constantly while other threads run them (pinning). */
static void test_eviction_under_load(void **state)
{
    (void)state;
    bool att;
    kiln_ctx *ctx = th_new(&att);
    assert_int_equal(kiln_ctx_set_cache_limit(ctx, 2), KILN_OK);
    worker ws[NTHREADS];
    for (int t = 0; t < NTHREADS; t++)
        ws[t].ctx = ctx;
    run_all(ws, 60);
    assert_true(kiln_ctx_counter(ctx, KILN_COUNTER_EVICTIONS) > 0);
    assert_true(kiln_ctx_counter(ctx, KILN_COUNTER_KERNELS_LIVE) <= 2 + NTHREADS);
    th_free(ctx, att);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_shared_context),
        cmocka_unit_test(test_context_per_thread),
        cmocka_unit_test(test_eviction_under_load),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
