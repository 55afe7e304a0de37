/*
 * tests/test_jit.c — the fused JIT: vector code, kernel shape, operand
 * geometry, parameters, fallback, and bit-identity with the interpreter.
 *
 * Every semantic check compares FUSED and UNFUSED against INTERP (the
 * oracle) bit for bit, NaN matching any NaN (a NaN's payload is not part
 * of the contract). Plans are inspected directly (graph/plan.h) where the
 * claim is about the loop nest (coalescing, loop order, stride classes).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "testutil.h"

#include "frontend/fe.h"
#include "graph/plan.h"
#include "jit/jit.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- helpers ------------------------------------------------------------ */

/* A context with the JIT attached (attached here if the context does not
 * attach it itself; then detached here too). One at a time. */
static bool tj_attached;

static kiln_ctx *tj_new(void)
{
    kiln_ctx *ctx = kiln_ctx_new(NULL);
    assert_non_null(ctx);
    tj_attached = !ctx->jit;
    if (!ctx->jit)
        ctx->jit = jit_new(ctx->env, ctx->counters);
    assert_non_null(ctx->jit);
    return ctx;
}

static void tj_free(kiln_ctx *ctx)
{
    if (tj_attached) {
        jit_free(ctx->jit);
        ctx->jit = NULL;
    }
    kiln_ctx_free(ctx);
}

static uint64_t cnt(kiln_ctx *ctx, kiln_counter c) { return kiln_ctx_counter(ctx, c); }

/* Names the case being checked, for failure messages. */
static char tj_case[96];

/* Bitwise equality of two arrays' elements, a NaN matching any NaN. */
static bool same_elems(const kiln_array *a, const kiln_array *b)
{
    if (kiln_array_dtype(a) != kiln_array_dtype(b) || kiln_array_size(a) != kiln_array_size(b))
        return false;
    kiln_dtype t = kiln_array_dtype(a);
    size_t sz = kiln_dtype_size(t);
    int rank = kiln_array_rank(a);
    const int64_t *sh = kiln_array_shape(a);
    int64_t idx[KILN_MAX_RANK] = {0};
    for (int64_t i = 0; i < kiln_array_size(a); i++) {
        const void *pa = kiln_array_ptr(a, idx), *pb = kiln_array_ptr(b, idx);
        if (memcmp(pa, pb, sz) != 0) {
            bool nan = false;
            if (t == KILN_FLOAT64) {
                double x, y;
                memcpy(&x, pa, 8);
                memcpy(&y, pb, 8);
                nan = isnan(x) && isnan(y);
            } else if (t == KILN_FLOAT32) {
                float x, y;
                memcpy(&x, pa, 4);
                memcpy(&y, pb, 4);
                nan = isnan(x) && isnan(y);
            }
            if (!nan) {
                print_error("%s: element %lld differs\n", tj_case, (long long)i);
                return false;
            }
        }
        for (int k = rank - 1; k >= 0; k--) {
            if (++idx[k] < sh[k])
                break;
            idx[k] = 0;
        }
    }
    return true;
}

/* Evaluates e fused, unfused and interpreted; asserts all three agree. */
static void check_modes(kiln_expr e)
{
    kiln_array *ref = tu_eval(e, KILN_MODE_INTERP);
    kiln_array *f = tu_eval(e, KILN_MODE_FUSED);
    kiln_array *u = tu_eval(e, KILN_MODE_UNFUSED);
    assert_true(same_elems(ref, f));
    assert_true(same_elems(ref, u));
    kiln_array_release(ref);
    kiln_array_release(f);
    kiln_array_release(u);
}

static kiln_array *f64_vals(kiln_ctx *ctx, int rank, const int64_t *shape, double (*f)(int64_t))
{
    kiln_array *a = NULL;
    assert_int_equal(kiln_array_empty(ctx, KILN_FLOAT64, rank, shape, KILN_ORDER_C, &a), KILN_OK);
    double *d = kiln_array_data(a);
    for (int64_t i = 0; i < kiln_array_size(a); i++)
        d[i] = f(i);
    return a;
}

static double wave(int64_t i) { return sin((double)i * 0.37) * 10.0 - 0.25; }

/* ---- vector code ---------------------------------------------------------- */

static void test_vectorizes(void **state)
{
    (void)state;
    kiln_ctx *ctx = tj_new();
    jit_debug_capture(ctx->jit, true);
    int64_t n = 1000;
    kiln_array *x = f64_vals(ctx, 1, &n, wave);
    kiln_expr xe = kiln_input(ctx, x);
    kiln_expr e = kiln_add(kiln_multiply(xe, kiln_f64(ctx, 2)), kiln_f64(ctx, 1));
    kiln_array *y = tu_eval(e, KILN_MODE_FUSED);
    char *ir = tu_jit_last(ctx, JIT_STAGE_IR), *opt = tu_jit_last(ctx, JIT_STAGE_OPT);
    char *as = tu_jit_last(ctx, JIT_STAGE_ASM);
    assert_non_null(strstr(ir, "fmul double"));
    assert_int_equal(tu_max_width(ir, "double"), 0); /* we emit scalar code */
    /* every x86-64 host has SIMD (SSE2 at least): the loop vectorizer must
     * have produced vectors of >= 2 doubles (<4 x double> on AVX2) */
    int w = tu_max_width(opt, "double");
    print_message("x*2+1 f64: <%d x double>; host %s\n", w, jit_host_desc(ctx->jit));
    assert_true(w >= 2);
    assert_null(strstr(opt, "fast")); /* no fast-math flags */
    assert_null(strstr(opt, "contract"));
    assert_non_null(strstr(as, "mul"));
    assert_null(strstr(as, "vfmadd")); /* no contraction into FMA */
    const double *yd = kiln_array_data(y), *xd = kiln_array_data(x);
    for (int64_t i = 0; i < n; i++)
        assert_true(yd[i] == xd[i] * 2 + 1);
    free(ir);
    free(opt);
    free(as);
    kiln_array_release(y);
    kiln_array_release(x);
    tj_free(ctx);
}

/* sin on float64 and float32 calls libmvec's vector variants. */
static void test_vector_math(void **state)
{
    (void)state;
    kiln_ctx *ctx = tj_new();
    jit_debug_capture(ctx->jit, true);
    int64_t n = 4096;
    kiln_array *x = f64_vals(ctx, 1, &n, wave);
    kiln_expr xe = kiln_input(ctx, x);
    kiln_array *y = tu_eval(kiln_sin(xe), KILN_MODE_FUSED);
    char *opt = tu_jit_last(ctx, JIT_STAGE_OPT);
    if (!strstr(jit_host_desc(ctx->jit), "no libmvec"))
        assert_non_null(strstr(opt, "@_ZGV"));
    const double *yd = kiln_array_data(y), *xd = kiln_array_data(x);
    for (int64_t i = 0; i < n; i++)
        assert_true(tu_ulp_f64(yd[i], sin(xd[i])) <= 4);
    free(opt);
    kiln_array_release(y);
    kiln_expr xf = kiln_cast(xe, KILN_FLOAT32);
    y = tu_eval(kiln_tanh(xf), KILN_MODE_FUSED);
    const float *yf = kiln_array_data(y);
    for (int64_t i = 0; i < n; i++)
        assert_true(tu_ulp_f32(yf[i], tanhf((float)xd[i])) <= 4);
    kiln_array_release(y);
    kiln_array_release(x);
    tj_free(ctx);
}

/* ---- kernel shape --------------------------------------------------------- */

/* Several roots of one shape are one kernel, one launch. */
static void test_many_outputs_one_kernel(void **state)
{
    (void)state;
    kiln_ctx *ctx = tj_new();
    int64_t n = 777;
    kiln_array *x = f64_vals(ctx, 1, &n, wave);
    kiln_expr xe = kiln_input(ctx, x);
    kiln_expr shared = kiln_multiply(xe, xe);
    kiln_expr es[3] = {kiln_add(shared, kiln_f64(ctx, 1)), kiln_subtract(shared, xe),
                       kiln_greater(shared, kiln_f64(ctx, 4))};
    kiln_array *f[3] = {NULL, NULL, NULL}, *r[3] = {NULL, NULL, NULL};
    kiln_ctx_reset_counters(ctx);
    assert_int_equal(kiln_eval_many(ctx, KILN_MODE_FUSED, 3, es, f), KILN_OK);
    assert_int_equal(cnt(ctx, KILN_COUNTER_LAUNCHES), 1);
    assert_int_equal(cnt(ctx, KILN_COUNTER_COMPILES), 1);
    assert_int_equal(cnt(ctx, KILN_COUNTER_TEMP_BYTES), 0);
    assert_int_equal(kiln_eval_many(ctx, KILN_MODE_INTERP, 3, es, r), KILN_OK);
    for (int i = 0; i < 3; i++) {
        assert_true(same_elems(f[i], r[i]));
        kiln_array_release(f[i]);
        kiln_array_release(r[i]);
    }
    /* unfused: one kernel per node, temporaries counted */
    kiln_ctx_reset_counters(ctx);
    kiln_array *u[3] = {NULL, NULL, NULL};
    assert_int_equal(kiln_eval_many(ctx, KILN_MODE_UNFUSED, 3, es, u), KILN_OK);
    assert_int_equal(cnt(ctx, KILN_COUNTER_LAUNCHES), 4); /* x*x, +1, -x, >4 */
    assert_int_equal(cnt(ctx, KILN_COUNTER_TEMP_BYTES), (uint64_t)n * 8);
    for (int i = 0; i < 3; i++)
        kiln_array_release(u[i]);
    kiln_array_release(x);
    tj_free(ctx);
}

/* UNFUSED casts a mixed-dtype operand in the reader's loop, as a NumPy
 * ufunc does: f32 + f64 allocates the sum, not a float64 copy of the f32
 * operand; a cast that is a root, or cast of a cast, is materialized. */
static void test_unfused_casts(void **state)
{
    (void)state;
    kiln_ctx *ctx = tj_new();
    int64_t n = 1001;
    kiln_array *a = NULL, *x = f64_vals(ctx, 1, &n, wave);
    assert_int_equal(kiln_array_empty(ctx, KILN_FLOAT32, 1, &n, KILN_ORDER_C, &a), KILN_OK);
    for (int64_t i = 0; i < n; i++)
        ((float *)kiln_array_data(a))[i] = (float)wave(i) * 0.5f;
    kiln_array *iv = tu_arange(ctx, KILN_INT32, 1, &n);
    kiln_expr ae = kiln_input(ctx, a), xe = kiln_input(ctx, x), ie = kiln_input(ctx, iv);
    static const struct {
        int launches;
        int temps; /* float64 temporaries of n elements */
    } want[] = {{1, 0}, {2, 1}, {2, 1}, {2, 1}};
    kiln_expr es[4] = {
        kiln_add(ae, xe),                                  /* cast(a) + x */
        kiln_multiply(kiln_add(ae, xe), ie),               /* (cast(a)+x) * cast(i) */
        kiln_sqrt(kiln_add(ie, xe)),                       /* sqrt(cast(i) + x) */
        /* a cast of a cast: the inner one in the outer's loop, the outer stored */
        kiln_add(kiln_cast(kiln_cast(ie, KILN_FLOAT32), KILN_FLOAT64), xe),
    };
    for (int c = 0; c < 4; c++) {
        check_modes(es[c]);
        kiln_ctx_reset_counters(ctx);
        kiln_array *u = tu_eval(es[c], KILN_MODE_UNFUSED);
        uint64_t tb = cnt(ctx, KILN_COUNTER_TEMP_BYTES);
        kiln_array *r = tu_eval(es[c], KILN_MODE_INTERP);
        assert_true(same_elems(r, u));
        assert_int_equal(kiln_expr_dtype(es[c]), KILN_FLOAT64);
        if (cnt(ctx, KILN_COUNTER_LAUNCHES) != (uint64_t)want[c].launches)
            fail_msg("case %d: %llu launches, want %d", c,
                     (unsigned long long)cnt(ctx, KILN_COUNTER_LAUNCHES), want[c].launches);
        uint64_t tw = (uint64_t)want[c].temps * (uint64_t)n * 8;
        if (tb != tw)
            fail_msg("case %d: %llu temporary bytes, want %llu", c, (unsigned long long)tb,
                     (unsigned long long)tw);
        kiln_array_release(u);
        kiln_array_release(r);
    }
    /* a cast that is a root is written by its own kernel */
    kiln_array *u = tu_eval(kiln_cast(ae, KILN_FLOAT64), KILN_MODE_UNFUSED);
    for (int64_t i = 0; i < n; i++)
        assert_true(kiln_array_get_f64(u, i) == (double)((float)wave(i) * 0.5f));
    kiln_array_release(u);
    kiln_array_release(iv);
    kiln_array_release(a);
    kiln_array_release(x);
    tj_free(ctx);
}

/* Roots of different shapes: one kernel per shape. */
static void test_two_shapes(void **state)
{
    (void)state;
    kiln_ctx *ctx = tj_new();
    int64_t sa[2] = {5, 1}, sb[1] = {7};
    kiln_array *a = f64_vals(ctx, 2, sa, wave), *b = f64_vals(ctx, 1, sb, wave);
    kiln_expr ae = kiln_input(ctx, a), be = kiln_input(ctx, b);
    kiln_expr es[2] = {kiln_add(ae, be), kiln_sqrt(kiln_absolute(ae))};
    kiln_array *f[2] = {NULL, NULL}, *r[2] = {NULL, NULL};
    kiln_ctx_reset_counters(ctx);
    assert_int_equal(kiln_eval_many(ctx, KILN_MODE_FUSED, 2, es, f), KILN_OK);
    assert_int_equal(cnt(ctx, KILN_COUNTER_LAUNCHES), 2);
    assert_int_equal(kiln_eval_many(ctx, KILN_MODE_INTERP, 2, es, r), KILN_OK);
    for (int i = 0; i < 2; i++) {
        assert_true(same_elems(f[i], r[i]));
        kiln_array_release(f[i]);
        kiln_array_release(r[i]);
    }
    kiln_array_release(a);
    kiln_array_release(b);
    tj_free(ctx);
}

static void test_broadcasting(void **state)
{
    (void)state;
    kiln_ctx *ctx = tj_new();
    int64_t sa[2] = {6, 1}, sb[2] = {1, 9}, sc[1] = {9};
    kiln_array *a = f64_vals(ctx, 2, sa, wave), *b = f64_vals(ctx, 2, sb, wave);
    kiln_array *c = tu_arange(ctx, KILN_INT32, 1, sc);
    kiln_expr ae = kiln_input(ctx, a), be = kiln_input(ctx, b), ce = kiln_input(ctx, c);
    /* exp(a) varies only along dim 0: hoisted out of the inner loop */
    kiln_expr e = kiln_add(kiln_multiply(kiln_exp(ae), be), ce);
    check_modes(kiln_where(kiln_less(ae, be), e, kiln_f64(ctx, -1)));
    kiln_array *f = tu_eval(e, KILN_MODE_FUSED);
    const double *fd = kiln_array_data(f), *ad = kiln_array_data(a), *bd = kiln_array_data(b);
    for (int i = 0; i < 6; i++)
        for (int j = 0; j < 9; j++)
            assert_true(fabs(fd[i * 9 + j] - (exp(ad[i]) * bd[j] + j)) <= 1e-12 * fabs(fd[i * 9 + j]) + 1e-300);
    kiln_array_release(f);
    /* an input of one element broadcast everywhere is a parameter */
    int64_t one[2] = {1, 1};
    kiln_array *s = f64_vals(ctx, 2, one, wave);
    check_modes(kiln_multiply(ae, kiln_add(kiln_input(ctx, s), be)));
    kiln_array_release(s);
    kiln_array_release(a);
    kiln_array_release(b);
    kiln_array_release(c);
    tj_free(ctx);
}

/* Plans: a Fortran-order input and output are traversed column-major in
 * one coalesced unit-stride loop, without a copy. */
static void test_fortran_order_plan(void **state)
{
    (void)state;
    kiln_ctx *ctx = tj_new();
    int64_t shape[3] = {4, 5, 6};
    kiln_array *x = NULL, *y = NULL;
    assert_int_equal(kiln_array_empty(ctx, KILN_FLOAT32, 3, shape, KILN_ORDER_F, &x), KILN_OK);
    assert_int_equal(kiln_array_empty(ctx, KILN_FLOAT32, 3, shape, KILN_ORDER_F, &y), KILN_OK);
    float *xd = kiln_array_data(x);
    for (int i = 0; i < 120; i++)
        xd[i] = (float)i * 0.5f;
    kiln_expr e = kiln_multiply(kiln_input(ctx, x), kiln_f64(ctx, 3));
    gr_plan p;
    gr_plan_init(&p, ctx->env, NULL, 0);
    pthread_mutex_lock(&ctx->lock);
    gr_id root = e.id_;
    assert_int_equal(gr_plan_build(&p, ctx->graph, true, 1, &root, &y), KILN_OK);
    pthread_mutex_unlock(&ctx->lock);
    assert_int_equal(p.nkernels, 1);
    assert_int_equal(p.kernels[0].rank, 1);
    assert_int_equal(p.kernels[0].extent[0], 120);
    assert_int_equal(p.kernels[0].ops[0].sclass[0], GR_SC_UNIT);
    assert_int_equal(p.kernels[0].ops[1].sclass[0], GR_SC_UNIT);
    assert_int_equal(p.kernels[0].nparams, 1);
    gr_plan_free(&p);
    /* and the result is right in every mode */
    for (kiln_mode m = KILN_MODE_FUSED; m <= KILN_MODE_UNFUSED; m++) {
        assert_int_equal(kiln_eval_many(ctx, m, 1, &e, &y), KILN_OK);
        const float *yd = kiln_array_data(y);
        for (int i = 0; i < 120; i++)
            assert_true(yd[i] == xd[i] * 3.0f);
    }
    /* F-order input, new C-order output: the transposed view of the input
     * is C-contiguous, so (x.T + 1) runs as one unit-stride loop */
    kiln_array *xt = NULL;
    assert_int_equal(kiln_array_transpose(x, NULL, &xt), KILN_OK);
    check_modes(kiln_add(kiln_input(ctx, xt), kiln_f64(ctx, 1)));
    check_modes(kiln_add(kiln_input(ctx, x), kiln_input(ctx, x)));
    kiln_array_release(xt);
    kiln_array_release(x);
    kiln_array_release(y);
    tj_free(ctx);
}

/* Loop order follows the smallest strides; dims every operand walks
 * backwards are flipped; a reversed operand among forward ones is RUNIT. */
static void test_strides_plan(void **state)
{
    (void)state;
    kiln_ctx *ctx = tj_new();
    int64_t shape[2] = {8, 10};
    kiln_array *x = f64_vals(ctx, 2, shape, wave), *rev = NULL, *out = NULL;
    kiln_slice s[2] = {KILN_ALL, {KILN_END, KILN_END, -1}};
    assert_int_equal(kiln_array_slice(x, 2, s, &rev), KILN_OK);
    assert_int_equal(kiln_array_empty(ctx, KILN_FLOAT64, 2, shape, KILN_ORDER_C, &out), KILN_OK);
    kiln_expr e = kiln_add(kiln_input(ctx, rev), kiln_f64(ctx, 1));
    gr_plan p;
    gr_plan_init(&p, ctx->env, NULL, 0);
    gr_id root = e.id_;
    pthread_mutex_lock(&ctx->lock);
    assert_int_equal(gr_plan_build(&p, ctx->graph, true, 1, &root, &out), KILN_OK);
    pthread_mutex_unlock(&ctx->lock);
    assert_int_equal(p.kernels[0].rank, 2);
    assert_int_equal(p.kernels[0].ops[0].sclass[1], GR_SC_UNIT);
    assert_int_equal(p.kernels[0].ops[1].sclass[1], GR_SC_RUNIT);
    gr_plan_free(&p);
    check_modes(e);
    /* reversed into reversed: flipped, one unit loop */
    kiln_array *orev = NULL;
    assert_int_equal(kiln_array_slice(out, 2, s, &orev), KILN_OK);
    gr_plan_init(&p, ctx->env, NULL, 0);
    pthread_mutex_lock(&ctx->lock);
    assert_int_equal(gr_plan_build(&p, ctx->graph, true, 1, &root, &orev), KILN_OK);
    pthread_mutex_unlock(&ctx->lock);
    assert_int_equal(p.kernels[0].ops[0].sclass[p.kernels[0].rank - 1], GR_SC_UNIT);
    assert_int_equal(p.kernels[0].ops[1].sclass[p.kernels[0].rank - 1], GR_SC_UNIT);
    gr_plan_free(&p);
    assert_int_equal(kiln_eval_into(e, orev), KILN_OK);
    const double *od = kiln_array_data(out), *xd = kiln_array_data(x);
    for (int i = 0; i < 80; i++)
        assert_true(od[i] == xd[i] + 1);
    kiln_array_release(orev);
    kiln_array_release(rev);
    kiln_array_release(out);
    kiln_array_release(x);
    tj_free(ctx);
}

/* Negative, zero and non-unit strides, scalar (0-d) inputs, empty arrays,
 * unaligned record fields. */
static void test_odd_geometry(void **state)
{
    (void)state;
    kiln_ctx *ctx = tj_new();
    int64_t shape[2] = {9, 12};
    kiln_array *x = f64_vals(ctx, 2, shape, wave);
    kiln_expr xe = kiln_input(ctx, x);
    kiln_array *v = NULL;
    kiln_slice s1[2] = {{7, 0, -2}, {1, KILN_END, 3}};
    assert_int_equal(kiln_array_slice(x, 2, s1, &v), KILN_OK);
    kiln_expr ve = kiln_input(ctx, v);
    check_modes(kiln_multiply(kiln_subtract(ve, kiln_f64(ctx, 0.5)), ve));
    /* zero strides: a row broadcast to a matrix view */
    int64_t row = 12;
    kiln_array *r = f64_vals(ctx, 1, &row, wave), *rb = NULL;
    assert_int_equal(kiln_array_broadcast_to(r, 2, shape, &rb), KILN_OK);
    check_modes(kiln_divide(kiln_input(ctx, rb), kiln_add(xe, kiln_f64(ctx, 100))));
    /* a 0-d input */
    kiln_array *z = f64_vals(ctx, 0, NULL, wave);
    check_modes(kiln_maximum(xe, kiln_input(ctx, z)));
    check_modes(kiln_negative(kiln_input(ctx, z)));
    /* empty */
    int64_t e0[2] = {0, 5};
    kiln_array *em = NULL;
    assert_int_equal(kiln_array_empty(ctx, KILN_FLOAT64, 2, e0, KILN_ORDER_C, &em), KILN_OK);
    kiln_array *out = tu_eval(kiln_sin(kiln_input(ctx, em)), KILN_MODE_FUSED);
    assert_int_equal(kiln_array_size(out), 0);
    kiln_array_release(out);
    /* packed records: a double at byte offset 1 of 11-byte records */
    enum { NREC = 33, RSZ = 11 };
    unsigned char recs[NREC * RSZ];
    for (int i = 0; i < NREC; i++) {
        double d = wave(i);
        memcpy(recs + i * RSZ + 1, &d, 8);
        recs[i * RSZ] = (unsigned char)i;
    }
    kiln_array *ra = NULL, *fd = NULL, *fb = NULL;
    assert_int_equal(kiln_array_wrap_records(ctx, recs, NREC, RSZ, 0, NULL, NULL, &ra), KILN_OK);
    assert_int_equal(kiln_array_field(ra, 1, KILN_FLOAT64, &fd), KILN_OK);
    assert_int_equal(kiln_array_field(ra, 0, KILN_UINT8, &fb), KILN_OK);
    kiln_expr fe = kiln_add(kiln_multiply(kiln_input(ctx, fd), kiln_input(ctx, fb)), kiln_f64(ctx, 1));
    check_modes(fe);
    /* written back into the unaligned field, in place */
    kiln_array *want = tu_eval(fe, KILN_MODE_INTERP);
    assert_int_equal(kiln_eval_into(fe, fd), KILN_OK);
    assert_true(same_elems(want, fd));
    for (int i = 0; i < NREC; i++)
        assert_int_equal(recs[i * RSZ], (unsigned char)i); /* neighbours intact */
    kiln_array_release(want);
    kiln_array_release(fd);
    kiln_array_release(fb);
    kiln_array_release(ra);
    kiln_array_release(em);
    kiln_array_release(z);
    kiln_array_release(rb);
    kiln_array_release(r);
    kiln_array_release(v);
    kiln_array_release(x);
    tj_free(ctx);
}

/* Outputs overlapping inputs: in place is computed in one pass; a shifted
 * overlap goes through a temporary (as if every input were read first). */
static void test_overlap(void **state)
{
    (void)state;
    int64_t n = 100;
    for (kiln_mode m = KILN_MODE_FUSED; m <= KILN_MODE_UNFUSED; m++) {
        kiln_ctx *ctx = tj_new();
        kiln_array *x = f64_vals(ctx, 1, &n, wave);
        double orig[100];
        memcpy(orig, kiln_array_data(x), sizeof orig);
        kiln_expr e = kiln_add(kiln_multiply(kiln_input(ctx, x), kiln_f64(ctx, 2)), kiln_f64(ctx, 1));
        kiln_array *slot = x;
        if (m == KILN_MODE_FUSED) { /* in place: one operand, read and written */
            gr_plan p;
            gr_plan_init(&p, ctx->env, NULL, 0);
            gr_id root = e.id_;
            pthread_mutex_lock(&ctx->lock);
            assert_int_equal(gr_plan_build(&p, ctx->graph, true, 1, &root, &slot), KILN_OK);
            pthread_mutex_unlock(&ctx->lock);
            assert_int_equal(p.nkernels, 1);
            assert_int_equal(p.kernels[0].nops, 1);
            assert_true(p.kernels[0].noalias);
            assert_int_equal(p.ntemps, 0);
            gr_plan_free(&p);
        }
        kiln_ctx_reset_counters(ctx);
        assert_int_equal(kiln_eval_many(ctx, m, 1, &e, &slot), KILN_OK);
        if (m == KILN_MODE_FUSED)
            assert_int_equal(cnt(ctx, KILN_COUNTER_TEMP_BYTES), 0); /* in place */
        const double *xd = kiln_array_data(x);
        for (int i = 0; i < n; i++)
            assert_true(xd[i] == orig[i] * 2 + 1);
        /* y = x[1:] written from x[:-1] + x[1:] */
        memcpy(kiln_array_data(x), orig, sizeof orig);
        kiln_array *lo = NULL, *hi = NULL;
        kiln_slice sl = {0, 99, 1}, sh = {1, 100, 1};
        assert_int_equal(kiln_array_slice(x, 1, &sl, &lo), KILN_OK);
        assert_int_equal(kiln_array_slice(x, 1, &sh, &hi), KILN_OK);
        kiln_expr e2 = kiln_add(kiln_input(ctx, lo), kiln_input(ctx, hi));
        assert_int_equal(kiln_eval_many(ctx, m, 1, &e2, &hi), KILN_OK);
        for (int i = 1; i < n; i++)
            assert_true(xd[i] == orig[i - 1] + orig[i]);
        assert_true(xd[0] == orig[0]);
        kiln_array_release(lo);
        kiln_array_release(hi);
        kiln_array_release(x);
        tj_free(ctx);
    }
}

/* Roots that are leaves (a copy, a fill), the same root twice, and one
 * root feeding another. */
static void test_leaf_and_shared_roots(void **state)
{
    (void)state;
    kiln_ctx *ctx = tj_new();
    int64_t shape[2] = {3, 4};
    kiln_array *x = f64_vals(ctx, 2, shape, wave), *xt = NULL;
    assert_int_equal(kiln_array_transpose(x, NULL, &xt), KILN_OK);
    kiln_expr xe = kiln_input(ctx, xt);
    check_modes(xe);
    check_modes(kiln_f64(ctx, 2.5));
    int32_t v = -7;
    check_modes(kiln_scalar(ctx, KILN_INT32, &v));
    kiln_expr a = kiln_add(xe, kiln_f64(ctx, 1));
    kiln_expr es[4] = {a, a, kiln_multiply(a, a), xe};
    for (kiln_mode m = KILN_MODE_FUSED; m <= KILN_MODE_INTERP; m++) {
        kiln_array *o[4] = {NULL, NULL, NULL, NULL};
        assert_int_equal(kiln_eval_many(ctx, m, 4, es, o), KILN_OK);
        const double *xd = kiln_array_data(x);
        for (int i = 0; i < 4; i++)
            for (int j = 0; j < 3; j++) {
                int64_t idx[2] = {i, j};
                double want = xd[j * 4 + i] + 1;
                assert_true(*(double *)kiln_array_ptr(o[0], idx) == want);
                assert_true(*(double *)kiln_array_ptr(o[1], idx) == want);
                assert_true(*(double *)kiln_array_ptr(o[2], idx) == want * want);
                assert_true(*(double *)kiln_array_ptr(o[3], idx) == xd[j * 4 + i]);
            }
        for (int i = 0; i < 4; i++)
            kiln_array_release(o[i]);
    }
    kiln_array_release(xt);
    kiln_array_release(x);
    tj_free(ctx);
}

/* ---- parameters -------------------------------------------------------------- */

static void test_scalar_params(void **state)
{
    (void)state;
    kiln_ctx *ctx = tj_new();
    int64_t n = 300;
    kiln_array *x = f64_vals(ctx, 1, &n, wave);
    kiln_expr xe = kiln_input(ctx, x);
    kiln_ctx_reset_counters(ctx);
    for (int k = 1; k <= 6; k++) {
        double alpha = k * 0.75;
        kiln_array *y = tu_eval(kiln_multiply(xe, kiln_f64(ctx, alpha)), KILN_MODE_FUSED);
        const double *yd = kiln_array_data(y), *xd = kiln_array_data(x);
        for (int i = 0; i < n; i++)
            assert_true(yd[i] == xd[i] * alpha);
        kiln_array_release(y);
    }
    assert_int_equal(cnt(ctx, KILN_COUNTER_COMPILES), 1);
    assert_int_equal(cnt(ctx, KILN_COUNTER_CACHE_HITS), 5);
    /* strong scalars of narrow types and bools are parameters too */
    int64_t m = 50;
    kiln_array *i8 = tu_arange(ctx, KILN_INT8, 1, &m);
    kiln_expr ie = kiln_input(ctx, i8);
    for (int k = -3; k <= 3; k++) {
        int8_t v = (int8_t)(k * 40);
        bool b = k & 1;
        check_modes(kiln_where(kiln_scalar(ctx, KILN_BOOL, &b), kiln_add(ie, kiln_scalar(ctx, KILN_INT8, &v)),
                               kiln_multiply(ie, kiln_scalar(ctx, KILN_INT8, &v))));
    }
    kiln_array_release(i8);
    kiln_array_release(x);
    tj_free(ctx);
}

/* ---- fallback ------------------------------------------------------------------ */

static void test_fallback(void **state)
{
    (void)state;
    kiln_ctx *ctx = tj_new();
    int64_t n = 64;
    kiln_array *x = f64_vals(ctx, 1, &n, wave);
    kiln_expr xe = kiln_input(ctx, x);
    kiln_expr e = kiln_floor_divide(kiln_multiply(xe, xe), kiln_f64(ctx, 3));
    kiln_ctx_reset_counters(ctx);
    jit_debug_fail_next(ctx->jit, 1);
    kiln_array *f = tu_eval(e, KILN_MODE_FUSED), *r = tu_eval(e, KILN_MODE_INTERP);
    assert_true(same_elems(f, r));
    assert_int_equal(cnt(ctx, KILN_COUNTER_FALLBACKS), 1);
    assert_int_equal(cnt(ctx, KILN_COUNTER_COMPILES), 0);
    assert_non_null(strstr(kiln_last_fallback(ctx), "forced"));
    kiln_array_release(f);
    /* the failure is cached: the same kernel falls back without compiling */
    f = tu_eval(e, KILN_MODE_FUSED);
    assert_true(same_elems(f, r));
    assert_int_equal(cnt(ctx, KILN_COUNTER_FALLBACKS), 2);
    assert_int_equal(cnt(ctx, KILN_COUNTER_COMPILES), 0);
    kiln_array_release(f);
    kiln_array_release(r);
    /* unfused, the failing kernel is one of several, reading temporaries */
    kiln_expr e2 = kiln_sqrt(kiln_add(kiln_multiply(xe, xe), kiln_f64(ctx, 1)));
    jit_debug_fail_next(ctx->jit, 1);
    f = tu_eval(e2, KILN_MODE_UNFUSED);
    r = tu_eval(e2, KILN_MODE_INTERP);
    assert_true(same_elems(f, r));
    assert_int_equal(cnt(ctx, KILN_COUNTER_FALLBACKS), 3);
    kiln_array_release(f);
    kiln_array_release(r);
    kiln_array_release(x);
    tj_free(ctx);
}

/* ---- bit identity on exact ops ----------------------------------------------------- */

static double edge(int64_t i)
{
    static const double v[] = {0.0, -0.0, 1.0, -1.0, 0.5, -2.5, 3.5, 1e300, -1e300, 1e-310,
                               INFINITY, -INFINITY, NAN, 7.0, -7.0, 2147483648.0, -129.5,
                               255.5, 4294967296.5, 1e19, -1e19, 65535.0, 3.0, -3.0};
    return v[i % (int64_t)(sizeof v / sizeof v[0])];
}

static double edge2(int64_t i) { return edge(i * 7 + 3); }

static void test_exact_ops_f(kiln_ctx *ctx, kiln_dtype t)
{
    int64_t n = 24 * 24;
    kiln_array *a = f64_vals(ctx, 1, &n, edge), *b = f64_vals(ctx, 1, &n, edge2);
    kiln_expr ae = kiln_cast(kiln_input(ctx, a), t), be = kiln_cast(kiln_input(ctx, b), t);
    kiln_expr es[] = {
        kiln_divide(kiln_subtract(kiln_multiply(ae, be), ae), kiln_add(be, kiln_f64(ctx, 0.25))),
        kiln_floor_divide(ae, be), kiln_remainder(ae, be),
        kiln_minimum(ae, be), kiln_maximum(ae, be), kiln_fmin(ae, be), kiln_fmax(ae, be),
        kiln_sqrt(kiln_absolute(ae)), kiln_sign(ae), kiln_negative(ae), kiln_square(be),
        kiln_floor(ae), kiln_ceil(ae), kiln_trunc(ae), kiln_rint(ae),
        kiln_equal(ae, be), kiln_not_equal(ae, be), kiln_less(ae, be), kiln_greater_equal(ae, be),
        kiln_isnan(ae), kiln_isinf(ae), kiln_isfinite(ae),
        kiln_logical_and(ae, be), kiln_logical_xor(ae, be), kiln_logical_not(ae),
        kiln_where(kiln_greater(ae, be), ae, be),
        kiln_clip(ae, kiln_f64(ctx, -3), kiln_f64(ctx, 3)),
        kiln_cast(ae, KILN_INT32), kiln_cast(ae, KILN_UINT8), kiln_cast(ae, KILN_INT64),
        kiln_cast(ae, KILN_UINT64), kiln_cast(ae, KILN_BOOL), kiln_cast(ae, KILN_INT8),
        kiln_cast(ae, t == KILN_FLOAT32 ? KILN_FLOAT64 : KILN_FLOAT32),
    };
    for (size_t i = 0; i < sizeof es / sizeof es[0]; i++) {
        snprintf(tj_case, sizeof tj_case, "float case %zu, %s", i, kiln_dtype_name(t));
        check_modes(es[i]);
    }
    kiln_array_release(a);
    kiln_array_release(b);
}

static double ints(int64_t i)
{
    static const double v[] = {0, 1, -1, 2, -2, 3, 7, -7, 8, 63, 64, 65, -128, 127, 255, 31, 32,
                               -32768, 1e9, -2147483648.0, 4294967295.0, 100, -100, 16};
    return v[i % (int64_t)(sizeof v / sizeof v[0])];
}

static double ints2(int64_t i) { return ints(i * 5 + 1); }

static void test_exact_ops_i(kiln_ctx *ctx, kiln_dtype t)
{
    int64_t n = 24 * 24;
    kiln_array *a = f64_vals(ctx, 1, &n, ints), *b = f64_vals(ctx, 1, &n, ints2);
    kiln_expr ae = kiln_cast(kiln_input(ctx, a), t), be = kiln_cast(kiln_input(ctx, b), t);
    kiln_expr es[] = {
        kiln_add(kiln_multiply(ae, be), kiln_subtract(ae, be)),
        kiln_floor_divide(ae, be), kiln_remainder(ae, be), kiln_power(ae, kiln_i64(ctx, 3)),
        kiln_minimum(ae, be), kiln_maximum(ae, be), kiln_fmin(ae, be), kiln_fmax(ae, be),
        kiln_absolute(ae), kiln_sign(ae), kiln_negative(ae), kiln_square(be),
        kiln_bitwise_and(ae, be), kiln_bitwise_or(ae, be), kiln_bitwise_xor(ae, be),
        kiln_bitwise_not(ae), kiln_left_shift(ae, be), kiln_right_shift(ae, be),
        kiln_equal(ae, be), kiln_less_equal(ae, be), kiln_greater(ae, be),
        kiln_logical_or(ae, be), kiln_isfinite(ae),
        kiln_where(ae, be, kiln_i64(ctx, 9)),
        kiln_cast(ae, KILN_FLOAT32), kiln_cast(ae, KILN_FLOAT64), kiln_cast(ae, KILN_INT8),
        kiln_cast(ae, KILN_UINT16), kiln_cast(ae, KILN_BOOL), kiln_divide(ae, be),
    };
    for (size_t i = 0; i < sizeof es / sizeof es[0]; i++) {
        snprintf(tj_case, sizeof tj_case, "int case %zu, %s", i, kiln_dtype_name(t));
        check_modes(es[i]);
    }
    kiln_array_release(a);
    kiln_array_release(b);
}

static void test_bit_identical(void **state)
{
    (void)state;
    kiln_ctx *ctx = tj_new();
    test_exact_ops_f(ctx, KILN_FLOAT64);
    test_exact_ops_f(ctx, KILN_FLOAT32);
    /* every op x dtype is tests/test_ops.c's job: here one of each kind
     * and width class */
    static const kiln_dtype it[] = {KILN_INT8, KILN_INT64, KILN_UINT32, KILN_UINT64};
    for (size_t i = 0; i < sizeof it / sizeof it[0]; i++)
        test_exact_ops_i(ctx, it[i]);
    /* bool */
    int64_t n = 64;
    kiln_array *a = f64_vals(ctx, 1, &n, ints), *b = f64_vals(ctx, 1, &n, ints2);
    kiln_expr ae = kiln_cast(kiln_input(ctx, a), KILN_BOOL), be = kiln_cast(kiln_input(ctx, b), KILN_BOOL);
    check_modes(kiln_add(ae, be));
    check_modes(kiln_multiply(ae, be));
    check_modes(kiln_bitwise_not(ae));
    check_modes(kiln_maximum(ae, be));
    check_modes(kiln_less(ae, be));
    check_modes(kiln_cast(ae, KILN_FLOAT64));
    kiln_array_release(a);
    kiln_array_release(b);
    /* a deep chain with shared subexpressions */
    int64_t m = 1001;
    kiln_array *x = f64_vals(ctx, 1, &m, wave);
    kiln_expr xe = kiln_input(ctx, x), one = kiln_f64(ctx, 1);
    kiln_expr c = kiln_divide(kiln_subtract(kiln_multiply(kiln_add(kiln_divide(kiln_subtract(
        kiln_multiply(kiln_add(xe, one), kiln_f64(ctx, 2)), kiln_f64(ctx, 3)), kiln_f64(ctx, 4)), xe), xe),
        kiln_multiply(kiln_f64(ctx, 0.5), xe)), kiln_add(one, kiln_multiply(xe, xe)));
    check_modes(c);
    kiln_array_release(x);
    tj_free(ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vectorizes),
        cmocka_unit_test(test_vector_math),
        cmocka_unit_test(test_many_outputs_one_kernel),
        cmocka_unit_test(test_unfused_casts),
        cmocka_unit_test(test_two_shapes),
        cmocka_unit_test(test_broadcasting),
        cmocka_unit_test(test_fortran_order_plan),
        cmocka_unit_test(test_strides_plan),
        cmocka_unit_test(test_odd_geometry),
        cmocka_unit_test(test_overlap),
        cmocka_unit_test(test_leaf_and_shared_roots),
        cmocka_unit_test(test_scalar_params),
        cmocka_unit_test(test_fallback),
        cmocka_unit_test(test_bit_identical),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
