/*
 * tests/test_interp.c — graph/interp.c through the public API: how values
 * are read and written, not what ops mean (tests/test_ops.c).
 *
 * Strided, negative-stride, zero-stride (broadcast views) and Fortran-order
 * inputs and outputs; outputs that overlap inputs (the result is as if
 * every input were read first); 0-d arrays and zero-size dimensions; rank
 * 8; the seed's broadcasting examples with values; an unaligned field of a
 * packed record array, read and written; several roots in one call
 * (sharing nodes, a leaf as a root, outputs aliasing inputs); an error
 * root; temporaries counted and only reachable nodes computed; and every
 * allocation failing in turn (KILN_ENOMEM, outputs untouched, no leak).
 *
 * Every scenario runs in the interpreter and in the fused and unfused
 * modes against values computed here. Expected values are exact (small
 * integers in float64), so every mode must match them exactly.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "testutil.h"

#include "graph/graph.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static const kiln_mode modes[] = {KILN_MODE_INTERP, KILN_MODE_FUSED, KILN_MODE_UNFUSED};
#define NMODES (sizeof modes / sizeof modes[0])

static kiln_ctx *new_ctx(void)
{
    kiln_ctx *ctx = kiln_ctx_new(NULL);
    assert_non_null(ctx);
    return ctx;
}

/* Evaluates e in mode into out (a new array if *out is NULL). */
static void eval_to(kiln_expr e, kiln_mode mode, kiln_array **out)
{
    kiln_status s = kiln_eval_many(e.ctx_, mode, 1, &e, out);
    if (s != KILN_OK)
        fail_msg("mode %d: eval failed: %s: %s", (int)mode, kiln_status_name(s), kiln_errmsg(e.ctx_));
}

/* Asserts a's elements (C order, via kiln_array_get_f64) equal want[]. */
static void expect_values(const kiln_array *a, int64_t n, const double *want, const char *what)
{
    assert_int_equal(kiln_array_size(a), n);
    for (int64_t i = 0; i < n; i++) {
        double got = kiln_array_get_f64(a, i);
        if (!(got == want[i] || (isnan(got) && isnan(want[i]))))
            fail_msg("%s: element %lld is %.17g, want %.17g", what, (long long)i, got, want[i]);
    }
}

/* A float64 array of shape in the given order, element i (C order) = f(i). */
static kiln_array *f64_array(kiln_ctx *ctx, int rank, const int64_t *shape, kiln_order order,
                             double scale, double offset)
{
    kiln_array *a = NULL;
    assert_int_equal(kiln_array_empty(ctx, KILN_FLOAT64, rank, shape, order, &a), KILN_OK);
    int64_t idx[KILN_MAX_RANK] = {0};
    int64_t n = kiln_array_size(a);
    for (int64_t i = 0; i < n; i++) {
        double v = (double)i * scale + offset;
        memcpy(kiln_array_ptr(a, idx), &v, sizeof v);
        for (int k = rank - 1; k >= 0; k--) {
            if (++idx[k] < shape[k])
                break;
            idx[k] = 0;
        }
    }
    return a;
}

/* ---- the seed's examples ------------------------------------------------ */

/* a (3,) + b (2,1) -> (2,3); row (3,) + col (3,1) -> (3,3);
 * ones(5,1,3) + ones(4,1) -> (5,4,3); arange(n) * 2 + 1 (weak scalars). */
static void test_seed_broadcasting(void **state)
{
    (void)state;
    kiln_ctx *ctx = new_ctx();
    int64_t s3 = 3, s21[2] = {2, 1}, s31[2] = {3, 1}, s513[3] = {5, 1, 3}, s41[2] = {4, 1};
    double av[3] = {1, 2, 3}, bv[2] = {10, 20}, cv[3] = {10, 20, 30};
    kiln_array *a = tu_array(ctx, KILN_INT64, 1, &s3, av);
    kiln_array *b = tu_array(ctx, KILN_INT64, 2, s21, bv);
    kiln_array *c = tu_array(ctx, KILN_INT64, 2, s31, cv);
    double ones[15] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1};
    kiln_array *o1 = tu_array(ctx, KILN_FLOAT64, 3, s513, ones);
    kiln_array *o2 = tu_array(ctx, KILN_FLOAT64, 2, s41, ones);
    int64_t sn = 10;
    kiln_array *ar = tu_arange(ctx, KILN_INT64, 1, &sn);

    kiln_expr ab = kiln_add(kiln_input(ctx, a), kiln_input(ctx, b));
    kiln_expr ac = kiln_add(kiln_input(ctx, a), kiln_input(ctx, c));
    kiln_expr oo = kiln_add(kiln_input(ctx, o1), kiln_input(ctx, o2));
    kiln_expr lin = kiln_add(kiln_multiply(kiln_input(ctx, ar), kiln_i64(ctx, 2)), kiln_i64(ctx, 1));
    int64_t shape[KILN_MAX_RANK];
    assert_int_equal(kiln_expr_shape(oo, shape), KILN_OK);
    assert_int_equal(kiln_expr_rank(oo), 3);
    assert_true(shape[0] == 5 && shape[1] == 4 && shape[2] == 3);
    assert_int_equal(kiln_expr_dtype(lin), KILN_INT64);

    double w_ab[6] = {11, 12, 13, 21, 22, 23};
    double w_ac[9] = {11, 12, 13, 21, 22, 23, 31, 32, 33};
    double w_oo[60], w_lin[10];
    for (int i = 0; i < 60; i++)
        w_oo[i] = 2;
    for (int i = 0; i < 10; i++)
        w_lin[i] = 2 * i + 1;
    for (size_t m = 0; m < NMODES; m++) {
        kiln_array *r = NULL;
        eval_to(ab, modes[m], &r);
        assert_int_equal(kiln_array_rank(r), 2);
        assert_int_equal(kiln_array_shape(r)[0], 2);
        assert_int_equal(kiln_array_shape(r)[1], 3);
        expect_values(r, 6, w_ab, "(3,) + (2,1)");
        kiln_array_release(r);
        r = NULL;
        eval_to(ac, modes[m], &r);
        expect_values(r, 9, w_ac, "(3,) + (3,1)");
        kiln_array_release(r);
        r = NULL;
        eval_to(oo, modes[m], &r);
        expect_values(r, 60, w_oo, "(5,1,3) + (4,1)");
        kiln_array_release(r);
        r = NULL;
        eval_to(lin, modes[m], &r);
        expect_values(r, 10, w_lin, "arange * 2 + 1");
        kiln_array_release(r);
    }
    kiln_array_release(a);
    kiln_array_release(b);
    kiln_array_release(c);
    kiln_array_release(o1);
    kiln_array_release(o2);
    kiln_array_release(ar);
    kiln_ctx_free(ctx);
}

/* ---- strided inputs ------------------------------------------------------- */

/* b = arange(12).reshape(3,4)[1:3, ::2] (a view, strides (32, 16));
 * b * 2 + 1, and b[::-1, ::-1] (negative strides) - b. */
static void test_strided_and_negative_inputs(void **state)
{
    (void)state;
    kiln_ctx *ctx = new_ctx();
    int64_t s34[2] = {3, 4};
    kiln_array *a = tu_arange(ctx, KILN_FLOAT64, 2, s34);
    kiln_slice sl[2] = {{1, 3, 1}, {KILN_END, KILN_END, 2}};
    kiln_array *b = NULL, *rb = NULL;
    assert_int_equal(kiln_array_slice(a, 2, sl, &b), KILN_OK);
    assert_int_equal(kiln_array_shape(b)[0], 2);
    assert_int_equal(kiln_array_shape(b)[1], 2);
    kiln_slice rev[2] = {{KILN_END, KILN_END, -1}, {KILN_END, KILN_END, -1}};
    assert_int_equal(kiln_array_slice(b, 2, rev, &rb), KILN_OK);
    assert_true(kiln_array_strides(rb)[0] < 0 && kiln_array_strides(rb)[1] < 0);

    kiln_expr eb = kiln_input(ctx, b);
    kiln_expr lin = kiln_add(kiln_multiply(eb, kiln_f64(ctx, 2)), kiln_f64(ctx, 1));
    kiln_expr diff = kiln_subtract(kiln_input(ctx, rb), eb);
    /* b = [[4, 6], [8, 10]]; rb = [[10, 8], [6, 4]] */
    double w_lin[4] = {9, 13, 17, 21}, w_diff[4] = {6, 2, -2, -6};
    for (size_t m = 0; m < NMODES; m++) {
        kiln_array *r = NULL;
        eval_to(lin, modes[m], &r);
        expect_values(r, 4, w_lin, "strided b * 2 + 1");
        kiln_array_release(r);
        r = NULL;
        eval_to(diff, modes[m], &r);
        expect_values(r, 4, w_diff, "b[::-1, ::-1] - b");
        kiln_array_release(r);
    }
    kiln_array_release(a);
    kiln_array_release(b);
    kiln_array_release(rb);
    kiln_ctx_free(ctx);
}

/* A zero-stride input: broadcast_to((4,), (3,4)), and a transposed
 * (Fortran-order) input, both added to a C-order array. */
static void test_zero_stride_and_fortran_inputs(void **state)
{
    (void)state;
    kiln_ctx *ctx = new_ctx();
    int64_t s4 = 4, s34[2] = {3, 4};
    kiln_array *v = f64_array(ctx, 1, &s4, KILN_ORDER_C, 1, 100);     /* 100..103 */
    kiln_array *bv = NULL;
    assert_int_equal(kiln_array_broadcast_to(v, 2, s34, &bv), KILN_OK);
    assert_int_equal(kiln_array_strides(bv)[0], 0);
    kiln_array *c = f64_array(ctx, 2, s34, KILN_ORDER_C, 1, 0);       /* 0..11 */
    kiln_array *f = f64_array(ctx, 2, s34, KILN_ORDER_F, 10, 0);      /* 0,10..110, F layout */
    assert_true(kiln_array_is_contiguous(f, KILN_ORDER_F));
    assert_false(kiln_array_is_contiguous(f, KILN_ORDER_C));
    kiln_expr e = kiln_add(kiln_add(kiln_input(ctx, bv), kiln_input(ctx, c)), kiln_input(ctx, f));
    double want[12];
    for (int i = 0; i < 12; i++)
        want[i] = 100 + i % 4 + i + 10 * i;
    for (size_t m = 0; m < NMODES; m++) {
        kiln_array *r = NULL;
        eval_to(e, modes[m], &r);
        assert_true(kiln_array_is_contiguous(r, KILN_ORDER_C));
        expect_values(r, 12, want, "broadcast + C + F");
        kiln_array_release(r);
    }
    kiln_array_release(v);
    kiln_array_release(bv);
    kiln_array_release(c);
    kiln_array_release(f);
    kiln_ctx_free(ctx);
}

/* ---- strided outputs ---------------------------------------------------- */

/* eval_into a Fortran-order array, every other element of a larger array
 * (the others untouched), and a reversed view. */
static void test_strided_outputs(void **state)
{
    (void)state;
    kiln_ctx *ctx = new_ctx();
    int64_t s23[2] = {2, 3}, s8 = 8, s4 = 4;
    kiln_array *x = f64_array(ctx, 2, s23, KILN_ORDER_C, 1, 1); /* 1..6 */
    kiln_expr e = kiln_multiply(kiln_input(ctx, x), kiln_f64(ctx, 3));
    double want[6] = {3, 6, 9, 12, 15, 18};
    kiln_array *y = f64_array(ctx, 1, &s4, KILN_ORDER_C, 1, 0);
    kiln_expr ey = kiln_negative(kiln_input(ctx, y));
    for (size_t m = 0; m < NMODES; m++) {
        kiln_array *fo = NULL;
        assert_int_equal(kiln_array_zeros(ctx, KILN_FLOAT64, 2, s23, KILN_ORDER_F, &fo), KILN_OK);
        assert_int_equal(kiln_eval_many(ctx, modes[m], 1, &e, &fo), KILN_OK);
        expect_values(fo, 6, want, "into F order");
        /* element (0,1) of an F-order (2,3) array is the third double */
        assert_true(((double *)kiln_array_data(fo))[2] == 6);
        kiln_array_release(fo);

        kiln_array *big = f64_array(ctx, 1, &s8, KILN_ORDER_C, 0, -1); /* all -1 */
        kiln_array *every2 = NULL;
        kiln_slice s = {KILN_END, KILN_END, 2};
        assert_int_equal(kiln_array_slice(big, 1, &s, &every2), KILN_OK);
        assert_int_equal(kiln_eval_many(ctx, modes[m], 1, &ey, &every2), KILN_OK);
        double wbig[8] = {-0.0, -1, -1, -1, -2, -1, -3, -1};
        expect_values(big, 8, wbig, "into every other element");
        assert_true(signbit(kiln_array_get_f64(big, 0))); /* -0.0 written */

        kiln_array *rev = NULL;
        kiln_slice r = {KILN_END, KILN_END, -1};
        assert_int_equal(kiln_array_slice(every2, 1, &r, &rev), KILN_OK);
        assert_int_equal(kiln_eval_many(ctx, modes[m], 1, &ey, &rev), KILN_OK);
        double wrev[8] = {-3, -1, -2, -1, -1, -1, -0.0, -1};
        expect_values(big, 8, wrev, "into a reversed view");
        kiln_array_release(rev);
        kiln_array_release(every2);
        kiln_array_release(big);
    }
    kiln_array_release(x);
    kiln_array_release(y);
    kiln_ctx_free(ctx);
}

/* ---- outputs overlapping inputs ----------------------------------------- */

/* x = x[::-1] + x; y[1:] = y[:-1] * 10 (shifted overlap); z = z.T + z
 * (square, transposed overlap): as if every input were read first. */
static void test_overlap(void **state)
{
    (void)state;
    kiln_ctx *ctx = new_ctx();
    int64_t s5 = 5, s6 = 6, s33[2] = {3, 3};
    for (size_t m = 0; m < NMODES; m++) {
        kiln_array *x = f64_array(ctx, 1, &s5, KILN_ORDER_C, 1, 1); /* 1..5 */
        kiln_array *xr = NULL;
        kiln_slice r = {KILN_END, KILN_END, -1};
        assert_int_equal(kiln_array_slice(x, 1, &r, &xr), KILN_OK);
        kiln_expr e = kiln_add(kiln_input(ctx, xr), kiln_input(ctx, x));
        assert_int_equal(kiln_eval_into(e, x), KILN_OK);
        double wx[5] = {6, 6, 6, 6, 6};
        expect_values(x, 5, wx, "x = x[::-1] + x");
        kiln_array_release(xr);
        kiln_array_release(x);

        kiln_array *y = f64_array(ctx, 1, &s6, KILN_ORDER_C, 1, 1); /* 1..6 */
        kiln_array *head = NULL, *tail = NULL;
        kiln_slice sh = {KILN_END, -1, 1}, st = {1, KILN_END, 1};
        assert_int_equal(kiln_array_slice(y, 1, &sh, &head), KILN_OK);
        assert_int_equal(kiln_array_slice(y, 1, &st, &tail), KILN_OK);
        kiln_expr ey = kiln_multiply(kiln_input(ctx, head), kiln_f64(ctx, 10));
        assert_int_equal(kiln_eval_many(ctx, modes[m], 1, &ey, &tail), KILN_OK);
        double wy[6] = {1, 10, 20, 30, 40, 50};
        expect_values(y, 6, wy, "y[1:] = y[:-1] * 10");
        kiln_array_release(head);
        kiln_array_release(tail);
        kiln_array_release(y);

        kiln_array *z = f64_array(ctx, 2, s33, KILN_ORDER_C, 1, 0); /* 0..8 */
        kiln_array *zt = NULL;
        assert_int_equal(kiln_array_transpose(z, NULL, &zt), KILN_OK);
        kiln_expr ez = kiln_subtract(kiln_input(ctx, zt), kiln_input(ctx, z));
        assert_int_equal(kiln_eval_many(ctx, modes[m], 1, &ez, &z), KILN_OK);
        double wz[9] = {0, 2, 4, -2, 0, 2, -4, -2, 0};
        expect_values(z, 9, wz, "z = z.T - z");
        kiln_array_release(zt);
        kiln_array_release(z);
    }
    kiln_ctx_free(ctx);
}

/* ---- 0-d and zero-size ---------------------------------------------------- */

static void test_zero_d(void **state)
{
    (void)state;
    kiln_ctx *ctx = new_ctx();
    double v = 2.5, w3[3] = {1, 2, 3};
    int64_t s3 = 3;
    kiln_array *s = tu_array(ctx, KILN_FLOAT64, 0, NULL, &v);
    kiln_array *a = tu_array(ctx, KILN_FLOAT64, 1, &s3, w3);
    kiln_expr es = kiln_input(ctx, s);
    kiln_expr sq = kiln_multiply(es, es);
    kiln_expr bc = kiln_add(es, kiln_input(ctx, a));
    assert_int_equal(kiln_expr_rank(sq), 0);
    double w_sq = 6.25, w_bc[3] = {3.5, 4.5, 5.5};
    for (size_t m = 0; m < NMODES; m++) {
        kiln_array *r = NULL;
        eval_to(sq, modes[m], &r);
        assert_int_equal(kiln_array_rank(r), 0);
        expect_values(r, 1, &w_sq, "0-d * 0-d");
        kiln_array_release(r);
        r = NULL;
        eval_to(bc, modes[m], &r);
        expect_values(r, 3, w_bc, "0-d + (3,)");
        kiln_array_release(r);
        /* into a 0-d output, which is also the input */
        kiln_array *t = tu_array(ctx, KILN_FLOAT64, 0, NULL, &v);
        kiln_expr et = kiln_input(ctx, t);
        kiln_expr e2 = kiln_add(et, et);
        assert_int_equal(kiln_eval_many(ctx, modes[m], 1, &e2, &t), KILN_OK);
        double w5 = 5;
        expect_values(t, 1, &w5, "0-d t = t + t");
        kiln_array_release(t);
    }
    kiln_array_release(s);
    kiln_array_release(a);
    kiln_ctx_free(ctx);
}

static void test_zero_size(void **state)
{
    (void)state;
    kiln_ctx *ctx = new_ctx();
    int64_t s03[2] = {0, 3}, s3 = 3, s20[2] = {2, 0}, s10[2] = {1, 0}, s21[2] = {2, 1};
    double w3[3] = {1, 2, 3}, w2[2] = {1, 2};
    kiln_array *z = NULL, *z2 = NULL, *z3 = NULL;
    assert_int_equal(kiln_array_empty(ctx, KILN_FLOAT64, 2, s03, KILN_ORDER_C, &z), KILN_OK);
    assert_int_equal(kiln_array_empty(ctx, KILN_INT32, 2, s10, KILN_ORDER_C, &z2), KILN_OK);
    assert_int_equal(kiln_array_empty(ctx, KILN_INT32, 2, s20, KILN_ORDER_F, &z3), KILN_OK);
    kiln_array *a = tu_array(ctx, KILN_FLOAT64, 1, &s3, w3);
    kiln_array *b = tu_array(ctx, KILN_INT32, 2, s21, w2);
    kiln_expr e1 = kiln_sqrt(kiln_add(kiln_input(ctx, z), kiln_input(ctx, a))); /* (0,3) */
    kiln_expr e2 = kiln_multiply(kiln_input(ctx, z2), kiln_input(ctx, b));       /* (2,0) */
    int64_t shape[KILN_MAX_RANK];
    assert_int_equal(kiln_expr_shape(e2, shape), KILN_OK);
    assert_true(shape[0] == 2 && shape[1] == 0);
    for (size_t m = 0; m < NMODES; m++) {
        kiln_array *r = NULL;
        eval_to(e1, modes[m], &r);
        assert_int_equal(kiln_array_size(r), 0);
        assert_int_equal(kiln_array_shape(r)[0], 0);
        assert_int_equal(kiln_array_shape(r)[1], 3);
        kiln_array_release(r);
        r = NULL;
        eval_to(e2, modes[m], &r);
        assert_int_equal(kiln_array_size(r), 0);
        assert_int_equal(kiln_array_dtype(r), KILN_INT32);
        kiln_array_release(r);
        assert_int_equal(kiln_eval_many(ctx, modes[m], 1, &e2, &z3), KILN_OK);
    }
    kiln_array_release(z);
    kiln_array_release(z2);
    kiln_array_release(z3);
    kiln_array_release(a);
    kiln_array_release(b);
    kiln_ctx_free(ctx);
}

/* ---- rank 8 --------------------------------------------------------------- */

/* x (2,1,2,1,2,1,2,3) + y (3,) + w (2,1,1,1,1,1,1,1), written to a rank-8
 * transposed (Fortran-strided) output. */
static void test_rank8(void **state)
{
    (void)state;
    kiln_ctx *ctx = new_ctx();
    int64_t sx[8] = {2, 1, 2, 1, 2, 1, 2, 3}, s3 = 3, sw[8] = {2, 1, 1, 1, 1, 1, 1, 1};
    kiln_array *x = f64_array(ctx, 8, sx, KILN_ORDER_C, 1, 0);        /* 0..47 */
    kiln_array *y = f64_array(ctx, 1, &s3, KILN_ORDER_C, 1000, 0);    /* 0, 1000, 2000 */
    kiln_array *w = f64_array(ctx, 8, sw, KILN_ORDER_C, 100000, 0);   /* 0, 100000 */
    kiln_expr e = kiln_add(kiln_add(kiln_input(ctx, x), kiln_input(ctx, y)), kiln_input(ctx, w));
    assert_int_equal(kiln_expr_rank(e), 8);
    double want[48];
    for (int i = 0; i < 48; i++)
        want[i] = i + 1000 * (i % 3) + 100000 * (i / 24);
    for (size_t m = 0; m < NMODES; m++) {
        kiln_array *r = NULL;
        eval_to(e, modes[m], &r);
        assert_int_equal(kiln_array_rank(r), 8);
        expect_values(r, 48, want, "rank 8");
        kiln_array_release(r);
        kiln_array *f = NULL;
        assert_int_equal(kiln_array_zeros(ctx, KILN_FLOAT64, 8, sx, KILN_ORDER_F, &f), KILN_OK);
        assert_int_equal(kiln_eval_many(ctx, modes[m], 1, &e, &f), KILN_OK);
        expect_values(f, 48, want, "rank 8 into F order");
        kiln_array_release(f);
    }
    kiln_array_release(x);
    kiln_array_release(y);
    kiln_array_release(w);
    kiln_ctx_free(ctx);
}

/* ---- record arrays: unaligned fields ------------------------------------ */

/* The seed's packed sensor record (19 bytes): timestamp f8 @0, sensor_id
 * u2 @8, temperature f4 @10, humidity f4 @14, status u1 @18. Reads the
 * unaligned float32 and uint16 fields, and writes humidity through an
 * unaligned field view, leaving the other bytes alone. */
enum { REC = 19, NREC = 5 };

static void rec_put(unsigned char *buf, int i, double ts, uint16_t id, float temp, float hum,
                    uint8_t status)
{
    unsigned char *r = buf + i * REC;
    memcpy(r, &ts, 8);
    memcpy(r + 8, &id, 2);
    memcpy(r + 10, &temp, 4);
    memcpy(r + 14, &hum, 4);
    r[18] = status;
}

static void test_record_fields(void **state)
{
    (void)state;
    kiln_ctx *ctx = new_ctx();
    unsigned char *buf = malloc(REC * NREC + 1);
    assert_non_null(buf);
    for (size_t m = 0; m < NMODES; m++) {
        unsigned char *base = buf + 1; /* odd address: nothing is aligned */
        const float temps[NREC] = {15.5f, 30.25f, 31.0f, -4.75f, 35.5f};
        const uint8_t status[NREC] = {0, 0, 1, 0, 0};
        for (int i = 0; i < NREC; i++)
            rec_put(base, i, 1.7e9 + i, (uint16_t)(60000 + i), temps[i], -1.0f, status[i]);
        unsigned char before[REC * NREC];
        memcpy(before, base, sizeof before);

        kiln_array *recs = NULL, *temp = NULL, *hum = NULL, *st = NULL, *id = NULL;
        assert_int_equal(kiln_array_wrap_records(ctx, base, NREC, REC, 0, NULL, NULL, &recs), KILN_OK);
        assert_int_equal(kiln_array_field(recs, 10, KILN_FLOAT32, &temp), KILN_OK);
        assert_int_equal(kiln_array_field(recs, 14, KILN_FLOAT32, &hum), KILN_OK);
        assert_int_equal(kiln_array_field(recs, 18, KILN_UINT8, &st), KILN_OK);
        assert_int_equal(kiln_array_field(recs, 8, KILN_UINT16, &id), KILN_OK);
        kiln_expr et = kiln_input(ctx, temp);
        /* mask = (status == 0) & (temperature > 30) */
        kiln_expr mask = kiln_bitwise_and(kiln_equal(kiln_input(ctx, st), kiln_i64(ctx, 0)),
                                          kiln_greater(et, kiln_f64(ctx, 30)));
        kiln_expr fahr = kiln_add(kiln_multiply(et, kiln_f64(ctx, 1.8)), kiln_f64(ctx, 32));
        assert_int_equal(kiln_expr_dtype(fahr), KILN_FLOAT32);
        kiln_expr idp = kiln_add(kiln_input(ctx, id), kiln_i64(ctx, 1)); /* uint16 */
        kiln_array *rm = NULL, *rf = NULL, *ri = NULL;
        eval_to(mask, modes[m], &rm);
        eval_to(fahr, modes[m], &rf);
        eval_to(idp, modes[m], &ri);
        double wm[NREC] = {0, 1, 0, 0, 1}, wf[NREC], wi[NREC];
        for (int i = 0; i < NREC; i++) {
            wf[i] = (double)(temps[i] * 1.8f + 32.0f);
            wi[i] = 60001 + i;
        }
        expect_values(rm, NREC, wm, "record mask");
        expect_values(rf, NREC, wf, "record temperature * 1.8 + 32");
        expect_values(ri, NREC, wi, "record sensor_id + 1");
        /* humidity = temperature * 2, through the unaligned view */
        kiln_expr e2 = kiln_multiply(et, kiln_f64(ctx, 2));
        assert_int_equal(kiln_eval_many(ctx, modes[m], 1, &e2, &hum), KILN_OK);
        for (int i = 0; i < NREC; i++) {
            float h;
            memcpy(&h, base + i * REC + 14, 4);
            assert_true(h == temps[i] * 2);
            /* every other byte of the record is unchanged */
            assert_memory_equal(base + i * REC, before + i * REC, 14);
            assert_int_equal(base[i * REC + 18], before[i * REC + 18]);
        }
        kiln_array_release(rm);
        kiln_array_release(rf);
        kiln_array_release(ri);
        kiln_array_release(recs);
        kiln_array_release(temp);
        kiln_array_release(hum);
        kiln_array_release(st);
        kiln_array_release(id);
    }
    kiln_ctx_free(ctx);
    free(buf);
}

/* ---- several roots ---------------------------------------------------------- */

/* Roots sharing a subexpression, one written into a given array, a leaf
 * root, a root listed twice; and outputs aliasing an input that another
 * root reads (all roots are computed before any output is written). */
static void test_many_roots(void **state)
{
    (void)state;
    kiln_ctx *ctx = new_ctx();
    int64_t s4 = 4;
    for (size_t m = 0; m < NMODES; m++) {
        kiln_array *x = f64_array(ctx, 1, &s4, KILN_ORDER_C, 1, 1); /* 1..4 */
        kiln_expr ex = kiln_input(ctx, x);
        kiln_expr sh = kiln_add(ex, kiln_f64(ctx, 1));
        kiln_expr r[4] = {kiln_multiply(sh, sh), kiln_sqrt(sh), ex, kiln_multiply(sh, sh)};
        kiln_array *outs[4] = {NULL, NULL, NULL, NULL};
        assert_int_equal(kiln_array_zeros(ctx, KILN_FLOAT64, 1, &s4, KILN_ORDER_C, &outs[1]),
                         KILN_OK);
        kiln_array *given = outs[1];
        assert_int_equal(kiln_eval_many(ctx, modes[m], 4, r, outs), KILN_OK);
        assert_ptr_equal(outs[1], given);
        double w0[4] = {4, 9, 16, 25}, w1[4] = {sqrt(2), sqrt(3), 2, sqrt(5)}, w2[4] = {1, 2, 3, 4};
        expect_values(outs[0], 4, w0, "root 0");
        expect_values(outs[1], 4, w1, "root 1 (given)");
        expect_values(outs[2], 4, w2, "root 2 (a leaf)");
        expect_values(outs[3], 4, w0, "root 3 (= root 0)");
        for (int i = 0; i < 4; i++)
            kiln_array_release(outs[i]);

        /* {x * 2 -> x, x -> new}: the new array must get x's old values */
        kiln_expr r2[2] = {kiln_multiply(ex, kiln_f64(ctx, 2)), ex};
        kiln_array *o2[2] = {x, NULL};
        assert_int_equal(kiln_eval_many(ctx, modes[m], 2, r2, o2), KILN_OK);
        double wx[4] = {2, 4, 6, 8};
        expect_values(x, 4, wx, "x = x * 2");
        expect_values(o2[1], 4, w2, "old x alongside");
        kiln_array_release(o2[1]);
        /* {x -> new, x + 1 -> x} */
        kiln_expr r3[2] = {ex, kiln_add(ex, kiln_f64(ctx, 1))};
        kiln_array *o3[2] = {NULL, x};
        assert_int_equal(kiln_eval_many(ctx, modes[m], 2, r3, o3), KILN_OK);
        double wx3[4] = {3, 5, 7, 9};
        expect_values(o3[0], 4, wx, "old x first");
        expect_values(x, 4, wx3, "x = x + 1");
        kiln_array_release(o3[0]);
        /* {x - 1 -> x, x * 3 -> new}: the first root is computed first, yet
         * the second must read x before the first is written */
        kiln_expr r4[2] = {kiln_subtract(ex, kiln_f64(ctx, 1)), kiln_multiply(ex, kiln_f64(ctx, 3))};
        kiln_array *o4[2] = {x, NULL};
        assert_int_equal(kiln_eval_many(ctx, modes[m], 2, r4, o4), KILN_OK);
        double wx4[4] = {2, 4, 6, 8}, w4[4] = {9, 15, 21, 27};
        expect_values(x, 4, wx4, "x = x - 1");
        expect_values(o4[1], 4, w4, "x * 3 of the old x");
        kiln_array_release(o4[1]);
        kiln_array_release(x);
    }
    kiln_ctx_free(ctx);
}

/* ---- errors ---------------------------------------------------------------- */

/* An error root returns its status and message; nothing is written, and
 * arrays created for other roots are released (their slots reset). */
static void test_error_root(void **state)
{
    (void)state;
    kiln_ctx *ctx = new_ctx();
    int64_t s3 = 3, s2 = 2;
    kiln_array *a = f64_array(ctx, 1, &s3, KILN_ORDER_C, 1, 0);
    kiln_array *b = f64_array(ctx, 1, &s2, KILN_ORDER_C, 1, 0);
    kiln_expr bad = kiln_add(kiln_input(ctx, a), kiln_input(ctx, b));
    assert_int_equal(kiln_expr_status(bad), KILN_ESHAPE);
    for (size_t m = 0; m < NMODES; m++) {
        kiln_expr r[2] = {kiln_negative(kiln_input(ctx, a)), bad};
        kiln_array *outs[2] = {NULL, NULL};
        kiln_clear_error(ctx);
        assert_int_equal(kiln_eval_many(ctx, modes[m], 2, r, outs), KILN_ESHAPE);
        assert_null(outs[0]);
        assert_null(outs[1]);
        assert_int_equal(kiln_errcode(ctx), KILN_ESHAPE);
        assert_non_null(strstr(kiln_errmsg(ctx), "(3,) (2,)"));
        /* into a given array: untouched */
        kiln_array *keep = f64_array(ctx, 1, &s3, KILN_ORDER_C, 0, 7);
        kiln_array *o2[2] = {keep, NULL};
        assert_int_equal(kiln_eval_many(ctx, modes[m], 2, r, o2), KILN_ESHAPE);
        double w7[3] = {7, 7, 7};
        expect_values(keep, 3, w7, "untouched after an error");
        kiln_array_release(keep);
    }
    kiln_array_release(a);
    kiln_array_release(b);
    kiln_ctx_free(ctx);
}

/* ---- temporaries ----------------------------------------------------------- */

/* The interpreter counts its temporaries and computes only the nodes the
 * roots need: a large unrelated expression costs nothing. */
static void test_temporaries(void **state)
{
    (void)state;
    kiln_ctx *ctx = new_ctx();
    int64_t big = 100000, small = 10;
    kiln_array *b = f64_array(ctx, 1, &big, KILN_ORDER_C, 1, 0);
    kiln_array *s = f64_array(ctx, 1, &small, KILN_ORDER_C, 1, 0);
    kiln_expr eb = kiln_input(ctx, b), es = kiln_input(ctx, s);
    kiln_expr unrelated = kiln_sqrt(kiln_multiply(kiln_add(eb, kiln_f64(ctx, 1)), eb));
    kiln_expr wanted = kiln_multiply(kiln_add(es, kiln_f64(ctx, 1)), kiln_f64(ctx, 2));
    assert_int_equal(kiln_expr_status(unrelated), KILN_OK);
    kiln_ctx_reset_counters(ctx);
    kiln_array *r = tu_eval(wanted, KILN_MODE_INTERP);
    uint64_t tb = kiln_ctx_counter(ctx, KILN_COUNTER_TEMP_BYTES);
    /* at least the root's temporary, nothing of the unrelated expression */
    assert_true(tb >= small * sizeof(double));
    assert_true(tb < big * sizeof(double));
    double want[10];
    for (int i = 0; i < 10; i++)
        want[i] = (i + 1) * 2;
    expect_values(r, 10, want, "(s + 1) * 2");
    kiln_array_release(r);
    kiln_array_release(b);
    kiln_array_release(s);
    kiln_ctx_free(ctx);
}

/* ---- out of memory ------------------------------------------------------- */

/* Builds a scenario on ctx, evaluates it into (new, given) outputs and
 * checks the values; returns the status of the evaluation. */
static kiln_status oom_eval(kiln_ctx *ctx, kiln_array *x, kiln_array *given)
{
    kiln_expr ex = kiln_input(ctx, x);
    kiln_expr t = kiln_add(ex, kiln_f64(ctx, 1));
    kiln_expr r[3] = {kiln_multiply(t, ex), kiln_sqrt(t), ex};
    kiln_array *outs[3] = {NULL, given, NULL};
    kiln_status s = kiln_eval_many(ctx, KILN_MODE_INTERP, 3, r, outs);
    if (s == KILN_OK) {
        double w0[6] = {0, 2, 6, 12, 20, 30}, w1[6], w2[6] = {0, 1, 2, 3, 4, 5};
        for (int i = 0; i < 6; i++)
            w1[i] = sqrt(i + 1);
        expect_values(outs[0], 6, w0, "oom scenario root 0");
        expect_values(outs[1], 6, w1, "oom scenario root 1");
        expect_values(outs[2], 6, w2, "oom scenario root 2");
        kiln_array_release(outs[0]);
        kiln_array_release(outs[2]);
    } else {
        assert_null(outs[0]);
        assert_ptr_equal(outs[1], given);
        assert_null(outs[2]);
    }
    return s;
}

/* One run of the whole scenario (context to release) with allocator ta;
 * fail_eval > 0 arms ta to fail the fail_eval-th allocation counted from
 * the start of the evaluation. Returns the evaluation's status (KILN_ENOMEM
 * if setup itself failed). */
static kiln_status oom_run(tu_alloc *ta, long fail_eval, long *eval_allocs)
{
    int64_t s23[2] = {2, 3};
    kiln_status s = KILN_ENOMEM;
    kiln_ctx *ctx = kiln_ctx_new(&ta->a);
    if (!ctx)
        return s;
    kiln_array *x = NULL, *given = NULL;
    if (kiln_array_empty(ctx, KILN_FLOAT64, 2, s23, KILN_ORDER_C, &x) == KILN_OK &&
        kiln_array_empty(ctx, KILN_FLOAT64, 2, s23, KILN_ORDER_C, &given) == KILN_OK) {
        double *p = kiln_array_data(x), *q = kiln_array_data(given);
        for (int i = 0; i < 6; i++) {
            p[i] = i;
            q[i] = -7;
        }
        long before = ta->count;
        if (fail_eval > 0)
            ta->fail_at = before + fail_eval;
        s = oom_eval(ctx, x, given);
        if (eval_allocs)
            *eval_allocs = ta->count - before;
        if (fail_eval > 0)
            ta->fail_at = 0;
        if (s != KILN_OK) {
            assert_int_equal(s, KILN_ENOMEM);
            assert_int_equal(kiln_errcode(ctx), KILN_ENOMEM);
            double w7[6] = {-7, -7, -7, -7, -7, -7};
            expect_values(given, 6, w7, "given output untouched after ENOMEM");
        }
    }
    kiln_array_release(x);
    kiln_array_release(given);
    kiln_ctx_free(ctx);
    return s;
}

/* Every allocation of the evaluation fails in turn (KILN_ENOMEM, the given
 * output untouched, no leak); then every allocation of the whole scenario
 * fails in turn, and every later one too (no crash, no leak). */
static void test_oom_every_allocation(void **state)
{
    (void)state;
    tu_alloc ta;
    long eval_allocs = 0;
    tu_alloc_init(&ta, 0, false);
    assert_int_equal(oom_run(&ta, 0, &eval_allocs), KILN_OK);
    long total = ta.count;
    assert_true(eval_allocs > 0);
    assert_int_equal(ta.live, 0);

    long failures = 0;
    for (long k = 1; k <= eval_allocs + 1; k++) {
        tu_alloc_init(&ta, 0, false);
        kiln_status s = oom_run(&ta, k, NULL);
        if (ta.live != 0 || ta.live_bytes != 0)
            fail_msg("eval allocation %ld failing: %ld blocks (%lld bytes) leaked", k, ta.live,
                     ta.live_bytes);
        if (s == KILN_ENOMEM)
            failures++;
        if (k == eval_allocs + 1)
            assert_int_equal(s, KILN_OK); /* nothing failed */
    }
    assert_true(failures > 0);

    for (long n = 1; n <= total + 1; n++) {
        tu_alloc_init(&ta, n, true);
        kiln_status s = oom_run(&ta, 0, NULL);
        if (ta.live != 0 || ta.live_bytes != 0)
            fail_msg("allocation %ld and later failing: %ld blocks (%lld bytes) leaked", n,
                     ta.live, ta.live_bytes);
        if (n == total + 1)
            assert_int_equal(s, KILN_OK);
    }
}

/* ---- gr_interp directly: bindings and misuse ------------------------- */

static kiln_array *rt_f64(rt_env *env, int64_t n, double first)
{
    kiln_array *a = NULL;
    assert_int_equal(rt_array_alloc(env, KILN_FLOAT64, 1, &n, KILN_ORDER_C, false, &a), KILN_OK);
    for (int64_t i = 0; i < n; i++)
        ((double *)a->data)[i] = first + (double)i;
    return a;
}

/* A bound node is read from its array, not computed (nor its inputs); a
 * bound root is copied; a binding or output of the wrong geometry, a
 * missing root, NULL arguments and an ERROR root are reported. */
static void test_interp_bindings(void **state)
{
    (void)state;
    rt_env *env = rt_env_new(NULL);
    assert_non_null(env);
    gr_graph *g = gr_graph_new(env);
    assert_non_null(g);
    kiln_array *x = rt_f64(env, 4, 1);      /* 1..4 */
    kiln_array *bnd = rt_f64(env, 4, 10);   /* 10..13 */
    kiln_array *out = rt_f64(env, 4, 0);
    rt_scalar one;
    memset(&one, 0, sizeof one);
    one.f = 1;
    gr_id ix = gr_input(g, x);
    gr_id in1[2] = {ix, gr_scalar(g, KILN_FLOAT64, one, false)};
    gr_id t1 = gr_op_make(g, GR_OP_ADD, 2, in1, KILN_FLOAT64);
    gr_id in2[2] = {t1, t1};
    gr_id t2 = gr_op_make(g, GR_OP_MULTIPLY, 2, in2, KILN_FLOAT64);
    assert_int_not_equal(gr_node_at(g, t2)->op, GR_OP_ERROR);

    assert_int_equal(gr_interp(g, env, 0, NULL, 1, &t2, &out), KILN_OK);
    double w0[4] = {4, 9, 16, 25};
    expect_values(out, 4, w0, "(x + 1)^2");

    gr_binding b = {t1, bnd};
    assert_int_equal(gr_interp(g, env, 1, &b, 1, &t2, &out), KILN_OK);
    double w1[4] = {100, 121, 144, 169};
    expect_values(out, 4, w1, "bound x + 1, squared");
    assert_int_equal(gr_interp(g, env, 1, &b, 1, &t1, &out), KILN_OK);
    double w2[4] = {10, 11, 12, 13};
    expect_values(out, 4, w2, "a bound root");

    /* misuse */
    int64_t n3 = 3;
    kiln_array *small = NULL, *ints = NULL;
    assert_int_equal(rt_array_alloc(env, KILN_FLOAT64, 1, &n3, KILN_ORDER_C, false, &small), KILN_OK);
    int64_t n4 = 4;
    assert_int_equal(rt_array_alloc(env, KILN_INT64, 1, &n4, KILN_ORDER_C, false, &ints), KILN_OK);
    gr_binding bad = {t1, small};
    assert_int_equal(gr_interp(g, env, 1, &bad, 1, &t2, &out), KILN_EINTERNAL);
    assert_int_equal(gr_interp(g, env, 0, NULL, 1, &t2, &ints), KILN_EINVAL);
    assert_int_equal(gr_interp(g, env, 0, NULL, 1, &t2, &small), KILN_EINVAL);
    gr_id missing = gr_count(g) + 5;
    assert_int_equal(gr_interp(g, env, 0, NULL, 1, &missing, &out), KILN_EINTERNAL);
    assert_int_equal(gr_interp(NULL, env, 0, NULL, 1, &t2, &out), KILN_ENULL);
    assert_int_equal(gr_interp(g, env, 0, NULL, 1, NULL, &out), KILN_ENULL);
    assert_int_equal(gr_interp(g, env, 0, NULL, 0, NULL, NULL), KILN_OK);
    gr_id err = gr_error(g, KILN_EAXIS, "boom %d", 42);
    assert_int_equal(gr_interp(g, env, 0, NULL, 1, &err, &out), KILN_EAXIS);
    assert_non_null(strstr(env->msg, "boom 42"));
    /* nothing was written by the failing calls */
    expect_values(out, 4, w2, "untouched by failures");

    kiln_array_release(small);
    kiln_array_release(ints);
    kiln_array_release(x);
    kiln_array_release(bnd);
    kiln_array_release(out);
    gr_graph_free(g);
    rt_env_release(env);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_seed_broadcasting),
        cmocka_unit_test(test_strided_and_negative_inputs),
        cmocka_unit_test(test_zero_stride_and_fortran_inputs),
        cmocka_unit_test(test_strided_outputs),
        cmocka_unit_test(test_overlap),
        cmocka_unit_test(test_zero_d),
        cmocka_unit_test(test_zero_size),
        cmocka_unit_test(test_rank8),
        cmocka_unit_test(test_record_fields),
        cmocka_unit_test(test_many_roots),
        cmocka_unit_test(test_error_root),
        cmocka_unit_test(test_temporaries),
        cmocka_unit_test(test_oom_every_allocation),
        cmocka_unit_test(test_interp_bindings),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
