/* tests/test_views.c — frontend/view.c and rt_array_copy_into: slicing
 * (Python's rules, against a table produced by CPython), indexing,
 * transposes, reshape as a view or KILN_EVIEW (NumPy's nocopy rule),
 * broadcast_to, expand_dims, packed record arrays and their fields, copies
 * (independence, orders, overlap, conversion), lifetimes of views, error
 * messages naming the shapes, and allocation failure while making views. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "testutil.h"

#include "runtime/rt.h"

#include <math.h>
#include <string.h>

static kiln_array *const SENTINEL = (kiln_array *)&SENTINEL;

static void assert_geom(const kiln_array *a, int rank, const int64_t *shape, const int64_t *strides)
{
    assert_non_null(a);
    assert_int_equal(kiln_array_rank(a), rank);
    for (int k = 0; k < rank; k++) {
        if (kiln_array_shape(a)[k] != shape[k])
            fail_msg("extent %d is %lld, want %lld", k, (long long)kiln_array_shape(a)[k],
                     (long long)shape[k]);
        if (strides && kiln_array_strides(a)[k] != strides[k])
            fail_msg("stride %d is %lld, want %lld", k, (long long)kiln_array_strides(a)[k],
                     (long long)strides[k]);
    }
}

/* Elements in C order equal want[0..n). */
static void assert_values(const kiln_array *a, int64_t n, const double *want)
{
    assert_int_equal(kiln_array_size(a), n);
    for (int64_t i = 0; i < n; i++)
        if (kiln_array_get_f64(a, i) != want[i])
            fail_msg("element %lld is %g, want %g", (long long)i, kiln_array_get_f64(a, i),
                     want[i]);
}

#define VALS(...) (sizeof((double[]){__VA_ARGS__}) / sizeof(double)), ((double[]){__VA_ARGS__})

static void test_seed_example(void **state)
{
    (void)state;
    kiln_ctx *ctx = kiln_ctx_new(NULL);
    assert_non_null(ctx);
    kiln_array *a = tu_arange(ctx, KILN_INT64, 2, (int64_t[]){3, 4});
    kiln_array *b = SENTINEL;
    kiln_slice s[2] = {{1, 3, 1}, {KILN_END, KILN_END, 2}};
    assert_int_equal(kiln_array_slice(a, 2, s, &b), KILN_OK);
    assert_geom(b, 2, (int64_t[]){2, 2}, (int64_t[]){32, 16});
    assert_values(b, VALS(4, 6, 8, 10));
    assert_true(kiln_array_shares_base(a, b));
    assert_false(kiln_array_is_contiguous(b, KILN_ORDER_C));
    int64_t *p = kiln_array_ptr(b, (int64_t[]){0, 0});
    assert_non_null(p);
    *p = 99;
    assert_true(kiln_array_get_f64(a, 4) == 99); /* a[1, 0] */
    assert_int_equal(*(int64_t *)kiln_array_ptr(a, (int64_t[]){1, 0}), 99);
    /* b outlives a (and the context). */
    kiln_array_release(a);
    kiln_ctx_free(ctx);
    assert_values(b, VALS(99, 6, 8, 10));
    kiln_array_release(b);
}

static void test_slice_python_rules(void **state)
{
    (void)state;
    kiln_ctx *ctx = kiln_ctx_new(NULL);
    assert_non_null(ctx);
    kiln_array *a = tu_arange(ctx, KILN_FLOAT64, 1, (int64_t[]){10});
    /* Expected lists from CPython: list(range(10))[start:stop:step]. */
    static const struct {
        int64_t start, stop, step;
        int n;
        double want[10];
    } cases[] = {
        {KILN_END, KILN_END, -1, 10, {9, 8, 7, 6, 5, 4, 3, 2, 1, 0}},
        {-3, KILN_END, 1, 3, {7, 8, 9}},
        {KILN_END, -3, 1, 7, {0, 1, 2, 3, 4, 5, 6}},
        {8, 2, -2, 3, {8, 6, 4}},
        {-1, -11, -1, 10, {9, 8, 7, 6, 5, 4, 3, 2, 1, 0}},
        {-100, 100, 1, 10, {0, 1, 2, 3, 4, 5, 6, 7, 8, 9}},
        {100, KILN_END, 1, 0, {0}},
        {5, 2, 1, 0, {0}},
        {KILN_END, KILN_END, 3, 4, {0, 3, 6, 9}},
        {1, KILN_END, -1, 2, {1, 0}},
        {-12, -11, 1, 0, {0}},
        {KILN_END, KILN_END, -3, 4, {9, 6, 3, 0}},
        {3, -100, -1, 4, {3, 2, 1, 0}},
        {KILN_END, 5, -1, 4, {9, 8, 7, 6}},
        {2, INT64_MAX, INT64_MAX, 1, {2}},
        {INT64_MAX, -INT64_MAX, -INT64_MAX, 1, {9}},
        {INT64_MAX, INT64_MIN + 1, INT64_MIN, 1, {9}}, /* step clamps to -MAX */
        {0, 10, 4, 3, {0, 4, 8}},
        {KILN_END, 0, -1, 9, {9, 8, 7, 6, 5, 4, 3, 2, 1}},
        {10, KILN_END, -1, 10, {9, 8, 7, 6, 5, 4, 3, 2, 1, 0}},
        {9, KILN_END, -100, 1, {9}},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        kiln_slice s = {cases[i].start, cases[i].stop, cases[i].step};
        kiln_array *v = NULL;
        if (kiln_array_slice(a, 1, &s, &v) != KILN_OK)
            fail_msg("case %zu: %s", i, kiln_errmsg(ctx));
        if (kiln_array_size(v) != cases[i].n)
            fail_msg("case %zu: %lld elements, want %d", i, (long long)kiln_array_size(v),
                     cases[i].n);
        assert_values(v, cases[i].n, cases[i].want);
        /* Every view stays inside the source's bytes. */
        const char *lo, *hi, *alo, *ahi;
        rt_array_extent(v, &lo, &hi);
        rt_array_extent(a, &alo, &ahi);
        assert_true(lo >= alo && hi <= ahi);
        kiln_array_release(v);
    }
    /* Fewer slices than axes: the rest are whole; KILN_ALL is [:]. */
    kiln_array *m = tu_arange(ctx, KILN_INT32, 2, (int64_t[]){3, 4});
    kiln_array *v = NULL;
    assert_int_equal(kiln_array_slice(m, 1, &(kiln_slice){-1, KILN_END, 1}, &v), KILN_OK);
    assert_geom(v, 2, (int64_t[]){1, 4}, (int64_t[]){16, 4});
    assert_values(v, VALS(8, 9, 10, 11));
    kiln_array_release(v);
    assert_int_equal(kiln_array_slice(m, 0, NULL, &v), KILN_OK);
    assert_geom(v, 2, (int64_t[]){3, 4}, (int64_t[]){16, 4});
    kiln_array_release(v);
    kiln_slice all2[2] = {KILN_ALL, KILN_ALL};
    assert_int_equal(kiln_array_slice(m, 2, all2, &v), KILN_OK);
    assert_true(kiln_array_is_contiguous(v, KILN_ORDER_C));
    kiln_array_release(v);
    kiln_array_release(m);
    kiln_array_release(a);
    kiln_ctx_free(ctx);
}

static void test_negative_steps_2d(void **state)
{
    (void)state;
    kiln_ctx *ctx = kiln_ctx_new(NULL);
    assert_non_null(ctx);
    kiln_array *a = tu_arange(ctx, KILN_FLOAT64, 2, (int64_t[]){3, 4});
    kiln_array *r = NULL, *v = NULL, *vv = NULL;
    /* a[::-1] */
    assert_int_equal(kiln_array_slice(a, 1, &(kiln_slice){KILN_END, KILN_END, -1}, &r), KILN_OK);
    assert_geom(r, 2, (int64_t[]){3, 4}, (int64_t[]){-32, 8});
    assert_values(r, VALS(8, 9, 10, 11, 4, 5, 6, 7, 0, 1, 2, 3));
    assert_ptr_equal(kiln_array_data(r), kiln_array_ptr(a, (int64_t[]){2, 0}));
    /* a[::-2, 1:] */
    kiln_slice s[2] = {{KILN_END, KILN_END, -2}, {1, KILN_END, 1}};
    assert_int_equal(kiln_array_slice(a, 2, s, &v), KILN_OK);
    assert_geom(v, 2, (int64_t[]){2, 3}, (int64_t[]){-64, 8});
    assert_values(v, VALS(9, 10, 11, 1, 2, 3));
    /* A view of a view: (a[::-2, 1:])[::-1, ::-1] shares a's buffer. */
    kiln_slice s2[2] = {{KILN_END, KILN_END, -1}, {KILN_END, KILN_END, -1}};
    assert_int_equal(kiln_array_slice(v, 2, s2, &vv), KILN_OK);
    assert_values(vv, VALS(3, 2, 1, 11, 10, 9));
    assert_true(kiln_array_shares_base(a, vv));
    assert_true(kiln_array_shares_base(r, vv));
    assert_ptr_equal(vv->buf, a->buf);
    kiln_array_release(r);
    kiln_array_release(v);
    kiln_array_release(vv);
    kiln_array_release(a);
    kiln_ctx_free(ctx);
}

static void test_index(void **state)
{
    (void)state;
    kiln_ctx *ctx = kiln_ctx_new(NULL);
    assert_non_null(ctx);
    kiln_array *a = tu_arange(ctx, KILN_INT16, 2, (int64_t[]){3, 4});
    kiln_array *v = SENTINEL;
    assert_int_equal(kiln_array_index(a, 0, 1, &v), KILN_OK);
    assert_geom(v, 1, (int64_t[]){4}, (int64_t[]){2});
    assert_values(v, VALS(4, 5, 6, 7));
    kiln_array *s = NULL;
    assert_int_equal(kiln_array_index(v, 0, -1, &s), KILN_OK); /* rank 0 */
    assert_int_equal(kiln_array_rank(s), 0);
    assert_values(s, VALS(7));
    kiln_array_release(s);
    kiln_array_release(v);
    assert_int_equal(kiln_array_index(a, 1, -1, &v), KILN_OK); /* a[:, -1] */
    assert_geom(v, 1, (int64_t[]){3}, (int64_t[]){8});
    assert_values(v, VALS(3, 7, 11));
    kiln_array_release(v);
    assert_int_equal(kiln_array_index(a, -2, -3, &v), KILN_OK); /* negative axis */
    assert_values(v, VALS(0, 1, 2, 3));
    kiln_array_release(v);

    v = SENTINEL;
    assert_int_equal(kiln_array_index(a, 0, 3, &v), KILN_EINDEX);
    assert_null(v);
    assert_string_equal(kiln_errmsg(ctx), "index 3 is out of bounds for axis 0 with size 3");
    assert_int_equal(kiln_array_index(a, 1, -5, &v), KILN_EINDEX);
    assert_string_equal(kiln_errmsg(ctx), "index -5 is out of bounds for axis 1 with size 4");
    assert_int_equal(kiln_array_index(a, 2, 0, &v), KILN_EAXIS);
    assert_non_null(strstr(kiln_errmsg(ctx), "axis 2"));
    assert_int_equal(kiln_array_index(a, -3, 0, &v), KILN_EAXIS);
    kiln_array *z = NULL;
    assert_int_equal(kiln_array_zeros(ctx, KILN_INT8, 0, NULL, KILN_ORDER_C, &z), KILN_OK);
    assert_int_equal(kiln_array_index(z, 0, 0, &v), KILN_EAXIS);
    kiln_array_release(z);
    /* Indexing an axis of extent 0 is out of range. */
    assert_int_equal(kiln_array_zeros(ctx, KILN_INT8, 2, (int64_t[]){0, 2}, KILN_ORDER_C, &z),
                     KILN_OK);
    assert_int_equal(kiln_array_index(z, 0, 0, &v), KILN_EINDEX);
    assert_int_equal(kiln_array_index(z, 1, 1, &v), KILN_OK); /* other axis: empty view */
    assert_geom(v, 1, (int64_t[]){0}, NULL);
    kiln_array_release(v);
    kiln_array_release(z);
    kiln_array_release(a);
    kiln_ctx_free(ctx);
}

static void test_transpose(void **state)
{
    (void)state;
    kiln_ctx *ctx = kiln_ctx_new(NULL);
    assert_non_null(ctx);
    kiln_array *a = tu_arange(ctx, KILN_FLOAT32, 2, (int64_t[]){3, 4});
    kiln_array *t = NULL, *tt = NULL;
    assert_int_equal(kiln_array_transpose(a, NULL, &t), KILN_OK);
    assert_geom(t, 2, (int64_t[]){4, 3}, (int64_t[]){4, 16});
    assert_values(t, VALS(0, 4, 8, 1, 5, 9, 2, 6, 10, 3, 7, 11));
    assert_true(kiln_array_is_contiguous(t, KILN_ORDER_F));
    assert_false(kiln_array_is_contiguous(t, KILN_ORDER_C));
    assert_int_equal(kiln_array_transpose(t, NULL, &tt), KILN_OK); /* .T.T */
    assert_geom(tt, 2, (int64_t[]){3, 4}, (int64_t[]){16, 4});
    assert_ptr_equal(kiln_array_data(tt), kiln_array_data(a));
    assert_true(kiln_array_shares_base(a, tt));
    kiln_array_release(tt);
    assert_int_equal(kiln_array_transpose(a, (int[]){1, 0}, &tt), KILN_OK);
    assert_geom(tt, 2, (int64_t[]){4, 3}, (int64_t[]){4, 16});
    kiln_array_release(tt);

    kiln_array *c = tu_arange(ctx, KILN_INT8, 3, (int64_t[]){2, 3, 4});
    assert_int_equal(kiln_array_transpose(c, (int[]){2, 0, 1}, &tt), KILN_OK);
    assert_geom(tt, 3, (int64_t[]){4, 2, 3}, (int64_t[]){1, 12, 4});
    /* tt[1, 1, 2] = c[1, 2, 1] = 12 + 8 + 1 */
    assert_int_equal(*(int8_t *)kiln_array_ptr(tt, (int64_t[]){1, 1, 2}), 21);
    kiln_array_release(tt);
    assert_int_equal(kiln_array_transpose(c, NULL, &tt), KILN_OK);
    assert_geom(tt, 3, (int64_t[]){4, 3, 2}, (int64_t[]){1, 4, 12});
    kiln_array_release(tt);

    tt = SENTINEL;
    assert_int_equal(kiln_array_transpose(c, (int[]){0, 0, 1}, &tt), KILN_EAXIS);
    assert_null(tt);
    assert_non_null(strstr(kiln_errmsg(ctx), "repeated axis"));
    assert_int_equal(kiln_array_transpose(c, (int[]){0, 3, 1}, &tt), KILN_EAXIS);
    assert_non_null(strstr(kiln_errmsg(ctx), "axis 3"));
    assert_int_equal(kiln_array_transpose(c, (int[]){-1, 0, 1}, &tt), KILN_EAXIS);
    kiln_array_release(c);
    kiln_array_release(t);
    kiln_array_release(a);
    kiln_ctx_free(ctx);
}

static void test_reshape(void **state)
{
    (void)state;
    kiln_ctx *ctx = kiln_ctx_new(NULL);
    assert_non_null(ctx);
    kiln_array *a = tu_arange(ctx, KILN_FLOAT64, 2, (int64_t[]){3, 4});
    kiln_array *r = SENTINEL;
    assert_int_equal(kiln_array_reshape(a, 2, (int64_t[]){2, -1}, &r), KILN_OK);
    assert_geom(r, 2, (int64_t[]){2, 6}, (int64_t[]){48, 8});
    assert_true(kiln_array_shares_base(a, r));
    assert_values(r, VALS(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11));
    kiln_array_release(r);
    assert_int_equal(kiln_array_reshape(a, 0, NULL, &r), KILN_ESHAPE);
    assert_string_equal(kiln_errmsg(ctx), "cannot reshape array of size 12 into shape ()");

    r = SENTINEL;
    assert_int_equal(kiln_array_reshape(a, 1, (int64_t[]){5}, &r), KILN_ESHAPE);
    assert_null(r);
    assert_string_equal(kiln_errmsg(ctx), "cannot reshape array of size 12 into shape (5,)");
    assert_int_equal(kiln_array_reshape(a, 2, (int64_t[]){5, -1}, &r), KILN_ESHAPE);
    assert_non_null(strstr(kiln_errmsg(ctx), "(5,-1)"));
    assert_int_equal(kiln_array_reshape(a, 2, (int64_t[]){-1, -1}, &r), KILN_EINVAL);
    assert_int_equal(kiln_array_reshape(a, 2, (int64_t[]){-2, -6}, &r), KILN_EINVAL);
    assert_int_equal(kiln_array_reshape(a, 2, (int64_t[]){1LL << 40, 1LL << 40}, &r),
                     KILN_ESHAPE);
    assert_int_equal(kiln_array_reshape(a, 9, (int64_t[]){12, 1, 1, 1, 1, 1, 1, 1, 1}, &r),
                     KILN_ERANK);
    assert_int_equal(kiln_array_reshape(a, 2, NULL, &r), KILN_ENULL);

    /* The transpose cannot be flattened without a copy... */
    kiln_array *t = NULL;
    assert_int_equal(kiln_array_transpose(a, NULL, &t), KILN_OK);
    assert_int_equal(kiln_array_reshape(t, 1, (int64_t[]){-1}, &r), KILN_EVIEW);
    assert_null(r);
    assert_int_equal(kiln_errcode(ctx), KILN_EVIEW);
    assert_non_null(strstr(kiln_errmsg(ctx), "(4,3)"));
    assert_non_null(strstr(kiln_errmsg(ctx), "(12,)"));
    /* ...but after a copy it can. */
    kiln_array *c = NULL;
    assert_int_equal(kiln_array_copy(t, KILN_ORDER_C, &c), KILN_OK);
    assert_false(kiln_array_shares_base(c, a));
    assert_int_equal(kiln_array_reshape(c, 1, (int64_t[]){-1}, &r), KILN_OK);
    assert_values(r, VALS(0, 4, 8, 1, 5, 9, 2, 6, 10, 3, 7, 11));
    kiln_array_release(r);
    kiln_array_release(c);
    /* Splitting an axis of the transpose is a view (NumPy's nocopy rule):
     * (4, 3) strides (8, 32) -> (2, 2, 3) strides (16, 8, 32). */
    assert_int_equal(kiln_array_reshape(t, 3, (int64_t[]){2, 2, 3}, &r), KILN_OK);
    assert_geom(r, 3, (int64_t[]){2, 2, 3}, (int64_t[]){16, 8, 32});
    assert_values(r, VALS(0, 4, 8, 1, 5, 9, 2, 6, 10, 3, 7, 11));
    kiln_array_release(r);
    /* Adding and removing extent-1 axes is always a view. */
    assert_int_equal(kiln_array_reshape(t, 4, (int64_t[]){1, 4, 1, 3}, &r), KILN_OK);
    assert_geom(r, 4, (int64_t[]){1, 4, 1, 3}, NULL);
    assert_int_equal(kiln_array_strides(r)[1], 8);
    assert_int_equal(kiln_array_strides(r)[3], 32);
    assert_values(r, VALS(0, 4, 8, 1, 5, 9, 2, 6, 10, 3, 7, 11));
    kiln_array *r2 = NULL;
    assert_int_equal(kiln_array_reshape(r, 2, (int64_t[]){4, 3}, &r2), KILN_OK);
    assert_geom(r2, 2, (int64_t[]){4, 3}, (int64_t[]){8, 32});
    kiln_array_release(r2);
    kiln_array_release(r);
    kiln_array_release(t);

    /* Slices of arange(24).reshape(2,3,4). [:, :, :2] is (2,3,2) strides
     * (96,32,8): merging the first two axes is a view, flattening is not.
     * [:, :, ::2] is (2,3,2) strides (96,32,16): evenly spaced, so even
     * flattening is a view (stride 16), as in NumPy. */
    kiln_array *b = tu_arange(ctx, KILN_FLOAT64, 3, (int64_t[]){2, 3, 4});
    kiln_array *s = NULL;
    kiln_slice sl[3] = {KILN_ALL, KILN_ALL, {KILN_END, 2, 1}};
    assert_int_equal(kiln_array_slice(b, 3, sl, &s), KILN_OK);
    assert_int_equal(kiln_array_reshape(s, 2, (int64_t[]){6, 2}, &r), KILN_OK);
    assert_geom(r, 2, (int64_t[]){6, 2}, (int64_t[]){32, 8});
    assert_values(r, VALS(0, 1, 4, 5, 8, 9, 12, 13, 16, 17, 20, 21));
    kiln_array_release(r);
    assert_int_equal(kiln_array_reshape(s, 1, (int64_t[]){12}, &r), KILN_EVIEW);
    assert_int_equal(kiln_array_reshape(s, 2, (int64_t[]){3, 4}, &r), KILN_EVIEW);
    assert_int_equal(kiln_array_reshape(s, 2, (int64_t[]){2, 6}, &r), KILN_EVIEW);
    assert_int_equal(kiln_array_reshape(s, 4, (int64_t[]){2, 3, 2, 1}, &r), KILN_OK);
    assert_geom(r, 4, (int64_t[]){2, 3, 2, 1}, NULL);
    assert_values(r, VALS(0, 1, 4, 5, 8, 9, 12, 13, 16, 17, 20, 21));
    kiln_array_release(r);
    kiln_array_release(s);
    sl[2] = (kiln_slice){KILN_END, KILN_END, 2};
    assert_int_equal(kiln_array_slice(b, 3, sl, &s), KILN_OK);
    assert_int_equal(kiln_array_reshape(s, 1, (int64_t[]){12}, &r), KILN_OK);
    assert_geom(r, 1, (int64_t[]){12}, (int64_t[]){16});
    assert_values(r, VALS(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22));
    kiln_array_release(r);
    assert_int_equal(kiln_array_reshape(s, 2, (int64_t[]){4, 3}, &r), KILN_OK);
    assert_geom(r, 2, (int64_t[]){4, 3}, (int64_t[]){48, 16});
    kiln_array_release(r);
    kiln_array_release(s);
    kiln_array_release(b);

    /* A broadcast (zero-stride) array: splitting the inner axis works,
     * merging with the repeated axis does not. */
    kiln_array *row = tu_arange(ctx, KILN_FLOAT64, 1, (int64_t[]){4});
    kiln_array *bc = NULL;
    assert_int_equal(kiln_array_broadcast_to(row, 2, (int64_t[]){3, 4}, &bc), KILN_OK);
    assert_int_equal(kiln_array_reshape(bc, 3, (int64_t[]){3, 2, 2}, &r), KILN_OK);
    assert_geom(r, 3, (int64_t[]){3, 2, 2}, (int64_t[]){0, 16, 8});
    kiln_array_release(r);
    assert_int_equal(kiln_array_reshape(bc, 1, (int64_t[]){12}, &r), KILN_EVIEW);
    kiln_array_release(bc);
    kiln_array_release(row);

    /* Empty arrays reshape freely among empty shapes; -1 with a zero
     * extent elsewhere is ambiguous (NumPy refuses it). */
    kiln_array *z = NULL;
    assert_int_equal(kiln_array_zeros(ctx, KILN_INT32, 2, (int64_t[]){0, 6}, KILN_ORDER_C, &z),
                     KILN_OK);
    assert_int_equal(kiln_array_reshape(z, 3, (int64_t[]){3, 0, 2}, &r), KILN_OK);
    assert_int_equal(kiln_array_size(r), 0);
    kiln_array_release(r);
    assert_int_equal(kiln_array_reshape(z, 2, (int64_t[]){0, -1}, &r), KILN_ESHAPE);
    kiln_array_release(z);
    /* Rank 0 <-> (1, 1). */
    kiln_array *one = tu_arange(ctx, KILN_INT64, 2, (int64_t[]){1, 1});
    assert_int_equal(kiln_array_reshape(one, 0, NULL, &r), KILN_OK);
    assert_int_equal(kiln_array_rank(r), 0);
    kiln_array_release(r);
    kiln_array_release(one);
    kiln_array_release(a);
    kiln_ctx_free(ctx);
}

static void test_broadcast_to(void **state)
{
    (void)state;
    kiln_ctx *ctx = kiln_ctx_new(NULL);
    assert_non_null(ctx);
    kiln_array *col = tu_arange(ctx, KILN_FLOAT64, 2, (int64_t[]){3, 1});
    kiln_array *b = SENTINEL;
    assert_int_equal(kiln_array_broadcast_to(col, 3, (int64_t[]){2, 3, 4}, &b), KILN_OK);
    assert_geom(b, 3, (int64_t[]){2, 3, 4}, (int64_t[]){0, 8, 0});
    assert_values(b, VALS(0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2));
    assert_true(kiln_array_shares_base(col, b));
    kiln_array_release(b);
    /* 1 -> 0 is allowed; same shape keeps strides. */
    assert_int_equal(kiln_array_broadcast_to(col, 2, (int64_t[]){3, 0}, &b), KILN_OK);
    assert_int_equal(kiln_array_size(b), 0);
    kiln_array_release(b);
    assert_int_equal(kiln_array_broadcast_to(col, 2, (int64_t[]){3, 1}, &b), KILN_OK);
    assert_geom(b, 2, (int64_t[]){3, 1}, (int64_t[]){8, 8});
    kiln_array_release(b);

    kiln_array *v = tu_arange(ctx, KILN_INT32, 1, (int64_t[]){3});
    b = SENTINEL;
    assert_int_equal(kiln_array_broadcast_to(v, 2, (int64_t[]){2, 4}, &b), KILN_ESHAPE);
    assert_null(b);
    assert_string_equal(kiln_errmsg(ctx), "cannot broadcast shape (3,) to (2,4)");
    assert_int_equal(kiln_array_broadcast_to(col, 1, (int64_t[]){3}, &b), KILN_ESHAPE);
    assert_string_equal(kiln_errmsg(ctx), "cannot broadcast shape (3,1) to (3,)");
    assert_int_equal(kiln_array_broadcast_to(v, 1, (int64_t[]){0}, &b), KILN_ESHAPE);
    assert_int_equal(kiln_array_broadcast_to(v, 2, (int64_t[]){2, -3}, &b), KILN_EINVAL);
    assert_int_equal(kiln_array_broadcast_to(v, 9, (int64_t[]){1, 1, 1, 1, 1, 1, 1, 1, 3}, &b),
                     KILN_ERANK);
    kiln_array_release(v);
    kiln_array_release(col);
    kiln_ctx_free(ctx);
}

static void test_expand_dims(void **state)
{
    (void)state;
    kiln_ctx *ctx = kiln_ctx_new(NULL);
    assert_non_null(ctx);
    kiln_array *a = tu_arange(ctx, KILN_FLOAT64, 2, (int64_t[]){3, 4});
    static const struct {
        int axis;
        int64_t shape[3];
    } cases[] = {
        {0, {1, 3, 4}}, {1, {3, 1, 4}}, {2, {3, 4, 1}},
        {-1, {3, 4, 1}}, {-2, {3, 1, 4}}, {-3, {1, 3, 4}},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        kiln_array *e = NULL;
        assert_int_equal(kiln_array_expand_dims(a, cases[i].axis, &e), KILN_OK);
        assert_geom(e, 3, cases[i].shape, NULL);
        assert_true(kiln_array_is_contiguous(e, KILN_ORDER_C));
        assert_true(kiln_array_shares_base(a, e));
        assert_values(e, VALS(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11));
        kiln_array_release(e);
    }
    kiln_array *e = SENTINEL;
    assert_int_equal(kiln_array_expand_dims(a, 3, &e), KILN_EAXIS);
    assert_null(e);
    assert_non_null(strstr(kiln_errmsg(ctx), "axis 3"));
    assert_int_equal(kiln_array_expand_dims(a, -4, &e), KILN_EAXIS);
    kiln_array *big = NULL;
    assert_int_equal(kiln_array_zeros(ctx, KILN_INT8, 8, (int64_t[]){1, 1, 1, 1, 1, 1, 1, 2},
                                      KILN_ORDER_C, &big),
                     KILN_OK);
    assert_int_equal(kiln_array_expand_dims(big, 0, &e), KILN_ERANK);
    kiln_array_release(big);
    kiln_array *s = NULL;
    assert_int_equal(kiln_array_zeros(ctx, KILN_INT8, 0, NULL, KILN_ORDER_C, &s), KILN_OK);
    assert_int_equal(kiln_array_expand_dims(s, -1, &e), KILN_OK);
    assert_geom(e, 1, (int64_t[]){1}, NULL);
    kiln_array_release(e);
    kiln_array_release(s);
    kiln_array_release(a);
    kiln_ctx_free(ctx);
}

/* NumPy's sensor_dtype, packed: f8 timestamp @0, u2 sensor_id @8,
 * f4 temperature @10, f4 humidity @14, u1 status @18 (19 bytes). */
enum { REC = 19, NREC = 5 };

static void fill_records(unsigned char *buf, int64_t stride)
{
    for (int i = 0; i < NREC; i++) {
        unsigned char *r = buf + i * stride;
        double ts = 1.7e9 + i * 0.25;
        uint16_t id = (uint16_t)(1000 + i);
        float temp = 20.5f + (float)i, hum = 0.5f - 0.125f * (float)i;
        uint8_t st = (uint8_t)(i * 3);
        memcpy(r + 0, &ts, 8);
        memcpy(r + 8, &id, 2);
        memcpy(r + 10, &temp, 4);
        memcpy(r + 14, &hum, 4);
        memcpy(r + 18, &st, 1);
    }
}

static void check_fields(kiln_ctx *ctx, kiln_array *recs, int64_t first, int64_t step)
{
    kiln_array *ts = NULL, *id = NULL, *temp = NULL, *hum = NULL, *st = NULL;
    assert_int_equal(kiln_array_field(recs, 0, KILN_FLOAT64, &ts), KILN_OK);
    assert_int_equal(kiln_array_field(recs, 8, KILN_UINT16, &id), KILN_OK);
    assert_int_equal(kiln_array_field(recs, 10, KILN_FLOAT32, &temp), KILN_OK);
    assert_int_equal(kiln_array_field(recs, 14, KILN_FLOAT32, &hum), KILN_OK);
    assert_int_equal(kiln_array_field(recs, 18, KILN_UINT8, &st), KILN_OK);
    int64_t n = kiln_array_shape(recs)[0];
    assert_int_equal(kiln_array_rank(temp), 1);
    assert_int_equal(kiln_array_shape(temp)[0], n);
    assert_int_equal(kiln_array_strides(temp)[0], kiln_array_strides(recs)[0]);
    assert_int_equal(kiln_array_dtype(hum), KILN_FLOAT32);
    assert_true(kiln_array_shares_base(recs, hum));
    for (int64_t j = 0; j < n; j++) {
        int64_t i = first + j * step;
        assert_true(kiln_array_get_f64(ts, j) == 1.7e9 + (double)i * 0.25);
        assert_true(kiln_array_get_f64(id, j) == 1000 + (double)i);
        assert_true(kiln_array_get_f64(temp, j) == (double)(20.5f + (float)i));
        assert_true(kiln_array_get_f64(hum, j) == (double)(0.5f - 0.125f * (float)i));
        assert_true(kiln_array_get_f64(st, j) == (double)(i * 3));
    }
    (void)ctx;
    kiln_array_release(ts);
    kiln_array_release(id);
    kiln_array_release(temp);
    kiln_array_release(hum);
    kiln_array_release(st);
}

static void test_records(void **state)
{
    (void)state;
    tu_alloc t;
    tu_alloc_init(&t, 0, false);
    kiln_ctx *ctx = kiln_ctx_new(&t.a);
    assert_non_null(ctx);
    unsigned char buf[NREC * REC + 1];
    fill_records(buf + 1, REC); /* +1: odd addresses, fields misaligned */
    kiln_array *recs = SENTINEL;
    assert_int_equal(
        kiln_array_wrap_records(ctx, buf + 1, NREC, REC, 0, NULL, NULL, &recs), KILN_OK);
    assert_geom(recs, 2, (int64_t[]){NREC, REC}, (int64_t[]){REC, 1});
    assert_int_equal(kiln_array_dtype(recs), KILN_UINT8);
    check_fields(ctx, recs, 0, 1);

    /* Fields of a slice of the records: recs[1::2]. */
    kiln_array *odd = NULL;
    assert_int_equal(kiln_array_slice(recs, 1, &(kiln_slice){1, KILN_END, 2}, &odd), KILN_OK);
    check_fields(ctx, odd, 1, 2);
    kiln_array_release(odd);
    /* ... and of recs[::-1]. */
    assert_int_equal(kiln_array_slice(recs, 1, &(kiln_slice){KILN_END, KILN_END, -1}, &odd),
                     KILN_OK);
    check_fields(ctx, odd, NREC - 1, -1);
    kiln_array_release(odd);

    /* Writing through a field changes the record bytes (unaligned). */
    kiln_array *temp = NULL;
    assert_int_equal(kiln_array_field(recs, 10, KILN_FLOAT32, &temp), KILN_OK);
    float v = -7.25f;
    memcpy(kiln_array_ptr(temp, (int64_t[]){3}), &v, sizeof v);
    float back;
    memcpy(&back, buf + 1 + 3 * REC + 10, sizeof back);
    assert_true(back == -7.25f);
    assert_true(kiln_array_get_f64(temp, 3) == -7.25);
    /* A copy of a field is contiguous and independent. */
    kiln_array *tc = NULL;
    assert_int_equal(kiln_array_copy(temp, KILN_ORDER_C, &tc), KILN_OK);
    assert_int_equal(kiln_array_strides(tc)[0], 4);
    assert_int_equal((uintptr_t)kiln_array_data(tc) % 64, 0);
    assert_true(kiln_array_get_f64(tc, 3) == -7.25);
    assert_true(kiln_array_get_f64(tc, 0) == 20.5);
    kiln_array_release(tc);
    kiln_array_release(temp);

    /* Errors: field outside the record, bad dtypes, not a record array. */
    kiln_array *f = SENTINEL;
    assert_int_equal(kiln_array_field(recs, 16, KILN_FLOAT32, &f), KILN_EINDEX);
    assert_null(f);
    assert_non_null(strstr(kiln_errmsg(ctx), "offset 16"));
    assert_non_null(strstr(kiln_errmsg(ctx), "19 bytes"));
    assert_int_equal(kiln_array_field(recs, 15, KILN_FLOAT32, &f), KILN_OK); /* 15+4 = 19 fits */
    kiln_array_release(f);
    assert_int_equal(kiln_array_field(recs, 12, KILN_FLOAT64, &f), KILN_EINDEX);
    assert_int_equal(kiln_array_field(recs, -1, KILN_UINT8, &f), KILN_EINDEX);
    assert_int_equal(kiln_array_field(recs, 19, KILN_UINT8, &f), KILN_EINDEX);
    assert_int_equal(kiln_array_field(recs, INT64_MAX, KILN_UINT8, &f), KILN_EINDEX);
    assert_int_equal(kiln_array_field(recs, 0, KILN_DTYPE_COUNT, &f), KILN_EDTYPE);
    kiln_array *tr = NULL;
    assert_int_equal(kiln_array_transpose(recs, NULL, &tr), KILN_OK);
    assert_int_equal(kiln_array_field(tr, 0, KILN_UINT8, &f), KILN_EVIEW);
    kiln_array_release(tr);
    kiln_array *d = tu_arange(ctx, KILN_FLOAT64, 2, (int64_t[]){2, 19});
    assert_int_equal(kiln_array_field(d, 0, KILN_UINT8, &f), KILN_EDTYPE);
    assert_non_null(strstr(kiln_errmsg(ctx), "float64"));
    kiln_array_release(d);
    kiln_array *r0 = NULL;
    assert_int_equal(kiln_array_zeros(ctx, KILN_UINT8, 0, NULL, KILN_ORDER_C, &r0), KILN_OK);
    assert_int_equal(kiln_array_field(r0, 0, KILN_UINT8, &f), KILN_ERANK);
    kiln_array_release(r0);
    /* int8 bytes are records too; rank 1 gives a rank-0 field. */
    kiln_array *i8 = NULL;
    assert_int_equal(kiln_array_zeros(ctx, KILN_INT8, 1, (int64_t[]){8}, KILN_ORDER_C, &i8),
                     KILN_OK);
    assert_int_equal(kiln_array_field(i8, 0, KILN_INT64, &f), KILN_OK);
    assert_int_equal(kiln_array_rank(f), 0);
    assert_true(kiln_array_get_f64(f, 0) == 0);
    kiln_array_release(f);
    kiln_array_release(i8);
    kiln_array_release(recs);

    /* Records with padding between them (stride 24) and a release. */
    unsigned char padded[NREC * 24];
    memset(padded, 0xEE, sizeof padded);
    fill_records(padded, 24);
    int calls = 0;
    assert_int_equal(kiln_array_wrap_records(ctx, padded, NREC, REC, 24, NULL, &calls, &recs),
                     KILN_OK);
    assert_geom(recs, 2, (int64_t[]){NREC, REC}, (int64_t[]){24, 1});
    check_fields(ctx, recs, 0, 1);
    kiln_array_release(recs);
    recs = SENTINEL;
    assert_int_equal(kiln_array_wrap_records(ctx, padded, NREC, 0, 0, NULL, NULL, &recs),
                     KILN_EINVAL);
    assert_null(recs);
    assert_int_equal(kiln_array_wrap_records(ctx, padded, -1, REC, 0, NULL, NULL, &recs),
                     KILN_EINVAL);
    assert_int_equal(kiln_array_wrap_records(ctx, NULL, NREC, REC, 0, NULL, NULL, &recs),
                     KILN_ENULL);
    assert_int_equal(kiln_array_wrap_records(NULL, padded, NREC, REC, 0, NULL, NULL, &recs),
                     KILN_ENULL);
    assert_int_equal(kiln_array_wrap_records(ctx, padded, NREC, REC, 0, NULL, NULL, NULL),
                     KILN_ENULL);
    kiln_ctx_free(ctx);
    assert_int_equal(t.live, 0);
}

static void test_copy(void **state)
{
    (void)state;
    kiln_ctx *ctx = kiln_ctx_new(NULL);
    assert_non_null(ctx);
    kiln_array *a = tu_arange(ctx, KILN_INT32, 2, (int64_t[]){3, 4});
    kiln_array *v = NULL, *c = NULL, *f = NULL;
    kiln_slice s[2] = {{KILN_END, KILN_END, -1}, {1, KILN_END, 2}}; /* a[::-1, 1::2] */
    assert_int_equal(kiln_array_slice(a, 2, s, &v), KILN_OK);
    assert_int_equal(kiln_array_copy(v, KILN_ORDER_C, &c), KILN_OK);
    assert_int_equal(kiln_array_copy(v, KILN_ORDER_F, &f), KILN_OK);
    assert_geom(c, 2, (int64_t[]){3, 2}, (int64_t[]){8, 4});
    assert_geom(f, 2, (int64_t[]){3, 2}, (int64_t[]){4, 12});
    assert_values(c, VALS(9, 11, 5, 7, 1, 3));
    assert_values(f, VALS(9, 11, 5, 7, 1, 3));
    assert_false(kiln_array_shares_base(c, a));
    assert_false(kiln_array_shares_base(c, f));
    /* Independence both ways. */
    *(int32_t *)kiln_array_ptr(c, (int64_t[]){0, 0}) = -1;
    assert_true(kiln_array_get_f64(a, 9) == 9);
    assert_true(kiln_array_get_f64(f, 0) == 9);
    *(int32_t *)kiln_array_ptr(a, (int64_t[]){2, 1}) = -2;
    assert_true(kiln_array_get_f64(v, 0) == -2);
    assert_true(kiln_array_get_f64(f, 0) == 9);
    kiln_array_release(c);
    kiln_array_release(f);

    /* Broadcast arrays materialize. */
    kiln_array *row = tu_arange(ctx, KILN_UINT16, 1, (int64_t[]){3}), *bc = NULL;
    assert_int_equal(kiln_array_broadcast_to(row, 2, (int64_t[]){2, 3}, &bc), KILN_OK);
    assert_int_equal(kiln_array_copy(bc, KILN_ORDER_C, &c), KILN_OK);
    assert_geom(c, 2, (int64_t[]){2, 3}, (int64_t[]){6, 2});
    assert_values(c, VALS(0, 1, 2, 0, 1, 2));
    kiln_array_release(c);
    kiln_array_release(bc);
    kiln_array_release(row);

    /* Rank 0 and empty. */
    kiln_array *z = NULL;
    assert_int_equal(kiln_array_index(v, 0, 0, &z), KILN_OK);
    kiln_array *zz = NULL;
    assert_int_equal(kiln_array_index(z, 0, 1, &zz), KILN_OK);
    assert_int_equal(kiln_array_copy(zz, KILN_ORDER_F, &c), KILN_OK);
    assert_int_equal(kiln_array_rank(c), 0);
    assert_true(kiln_array_get_f64(c, 0) == 11);
    kiln_array_release(c);
    kiln_array_release(zz);
    kiln_array_release(z);
    assert_int_equal(kiln_array_slice(a, 1, &(kiln_slice){2, 1, 1}, &z), KILN_OK);
    assert_int_equal(kiln_array_copy(z, KILN_ORDER_C, &c), KILN_OK);
    assert_geom(c, 2, (int64_t[]){0, 4}, NULL);
    kiln_array_release(c);
    kiln_array_release(z);

    c = SENTINEL;
    assert_int_equal(kiln_array_copy(v, (kiln_order)5, &c), KILN_EINVAL);
    assert_null(c);
    kiln_array_release(v);
    kiln_array_release(a);
    kiln_ctx_free(ctx);
}

static void test_copy_into_overlap_and_convert(void **state)
{
    (void)state;
    kiln_ctx *ctx = kiln_ctx_new(NULL);
    assert_non_null(ctx);
    kiln_array *a = tu_arange(ctx, KILN_FLOAT64, 1, (int64_t[]){10});
    kiln_array *src = NULL, *dst = NULL;
    /* a[1:] = a[:-1]: a naive forward loop would smear a[0] everywhere. */
    assert_int_equal(kiln_array_slice(a, 1, &(kiln_slice){KILN_END, -1, 1}, &src), KILN_OK);
    assert_int_equal(kiln_array_slice(a, 1, &(kiln_slice){1, KILN_END, 1}, &dst), KILN_OK);
    assert_int_equal(rt_array_copy_into(a->env, src, dst), KILN_OK);
    assert_values(a, VALS(0, 0, 1, 2, 3, 4, 5, 6, 7, 8));
    kiln_array_release(src);
    kiln_array_release(dst);
    /* a[:] = a[::-1]: reverse in place. */
    assert_int_equal(kiln_array_slice(a, 1, &(kiln_slice){KILN_END, KILN_END, -1}, &src),
                     KILN_OK);
    assert_int_equal(rt_array_copy_into(a->env, src, a), KILN_OK);
    assert_values(a, VALS(8, 7, 6, 5, 4, 3, 2, 1, 0, 0));
    kiln_array_release(src);

    /* Disjoint views of one buffer need no temporary and stay correct. */
    assert_int_equal(kiln_array_slice(a, 1, &(kiln_slice){0, 5, 1}, &src), KILN_OK);
    assert_int_equal(kiln_array_slice(a, 1, &(kiln_slice){5, 10, 1}, &dst), KILN_OK);
    assert_int_equal(rt_array_copy_into(a->env, src, dst), KILN_OK);
    assert_values(a, VALS(8, 7, 6, 5, 4, 8, 7, 6, 5, 4));
    kiln_array_release(src);
    kiln_array_release(dst);

    /* Conversion float64 -> int16 (truncation) into a strided 2-d target. */
    kiln_array *m = tu_array(ctx, KILN_FLOAT64, 2, (int64_t[]){2, 2},
                             (double[]){1.75, -2.5, 300.0, -0.5});
    kiln_array *t = NULL, *tt = NULL;
    assert_int_equal(kiln_array_zeros(ctx, KILN_INT16, 2, (int64_t[]){2, 2}, KILN_ORDER_C, &t),
                     KILN_OK);
    assert_int_equal(kiln_array_transpose(t, NULL, &tt), KILN_OK);
    assert_int_equal(rt_array_copy_into(a->env, m, tt), KILN_OK);
    assert_values(t, VALS(1, 300, -2, 0));
    /* Shape mismatch names both shapes. */
    assert_int_equal(rt_array_copy_into(a->env, a, t), KILN_ESHAPE);
    assert_non_null(strstr(kiln_errmsg(ctx), "(10,)"));
    assert_non_null(strstr(kiln_errmsg(ctx), "(2,2)"));
    kiln_array_release(m);
    kiln_array_release(t);
    kiln_array_release(tt);
    kiln_array_release(a);
    kiln_ctx_free(ctx);
}

static void test_get_f64(void **state)
{
    (void)state;
    kiln_ctx *ctx = kiln_ctx_new(NULL);
    assert_non_null(ctx);
    kiln_array *b = tu_array(ctx, KILN_BOOL, 1, (int64_t[]){3}, (double[]){1, 0, 1});
    assert_values(b, VALS(1, 0, 1));
    kiln_array *u = tu_array(ctx, KILN_UINT64, 1, (int64_t[]){1}, (double[]){1e19});
    assert_true(kiln_array_get_f64(u, 0) == 1e19);
    kiln_array *i = tu_array(ctx, KILN_INT8, 1, (int64_t[]){2}, (double[]){-128, 127});
    assert_values(i, VALS(-128, 127));
    assert_true(isnan(kiln_array_get_f64(i, 2)));
    assert_true(isnan(kiln_array_get_f64(i, -1)));
    assert_true(isnan(kiln_array_get_f64(NULL, 0)));
    kiln_array_release(b);
    kiln_array_release(u);
    kiln_array_release(i);
    kiln_ctx_free(ctx);
}

static void test_null_args(void **state)
{
    (void)state;
    kiln_ctx *ctx = kiln_ctx_new(NULL);
    assert_non_null(ctx);
    kiln_array *a = tu_arange(ctx, KILN_FLOAT64, 2, (int64_t[]){3, 4});
    kiln_array *o = SENTINEL;
    kiln_slice s = KILN_ALL;
    assert_int_equal(kiln_array_slice(NULL, 1, &s, &o), KILN_ENULL);
    assert_null(o);
    o = SENTINEL;
    assert_int_equal(kiln_array_index(NULL, 0, 0, &o), KILN_ENULL);
    assert_null(o);
    assert_int_equal(kiln_array_transpose(NULL, NULL, &o), KILN_ENULL);
    assert_int_equal(kiln_array_reshape(NULL, 1, (int64_t[]){12}, &o), KILN_ENULL);
    assert_int_equal(kiln_array_broadcast_to(NULL, 1, (int64_t[]){12}, &o), KILN_ENULL);
    assert_int_equal(kiln_array_expand_dims(NULL, 0, &o), KILN_ENULL);
    assert_int_equal(kiln_array_field(NULL, 0, KILN_UINT8, &o), KILN_ENULL);
    assert_int_equal(kiln_array_copy(NULL, KILN_ORDER_C, &o), KILN_ENULL);
    assert_int_equal(kiln_errcode(ctx), KILN_OK); /* no array, no sink */

    assert_int_equal(kiln_array_slice(a, 1, &s, NULL), KILN_ENULL);
    assert_int_equal(kiln_errcode(ctx), KILN_ENULL);
    assert_non_null(strstr(kiln_errmsg(ctx), "out"));
    kiln_clear_error(ctx);
    assert_int_equal(kiln_array_index(a, 0, 0, NULL), KILN_ENULL);
    assert_int_equal(kiln_errcode(ctx), KILN_ENULL);
    assert_int_equal(kiln_array_transpose(a, NULL, NULL), KILN_ENULL);
    assert_int_equal(kiln_array_reshape(a, 1, (int64_t[]){12}, NULL), KILN_ENULL);
    assert_int_equal(kiln_array_broadcast_to(a, 2, (int64_t[]){3, 4}, NULL), KILN_ENULL);
    assert_int_equal(kiln_array_expand_dims(a, 0, NULL), KILN_ENULL);
    assert_int_equal(kiln_array_copy(a, KILN_ORDER_C, NULL), KILN_ENULL);
    assert_int_equal(kiln_array_slice(a, 1, NULL, &o), KILN_ENULL);

    /* Slice argument errors. */
    kiln_clear_error(ctx);
    kiln_slice s3[3] = {KILN_ALL, KILN_ALL, KILN_ALL};
    o = SENTINEL;
    assert_int_equal(kiln_array_slice(a, 3, s3, &o), KILN_EINDEX);
    assert_null(o);
    assert_string_equal(kiln_errmsg(ctx),
                        "too many indices for array: array is 2-dimensional, but 3 were indexed");
    assert_int_equal(kiln_array_slice(a, -1, s3, &o), KILN_EINVAL);
    kiln_slice zero[2] = {KILN_ALL, {0, 3, 0}};
    assert_int_equal(kiln_array_slice(a, 2, zero, &o), KILN_EINVAL);
    assert_non_null(strstr(kiln_errmsg(ctx), "step"));
    assert_non_null(strstr(kiln_errmsg(ctx), "axis 1"));
    kiln_array_release(a);
    kiln_ctx_free(ctx);
}

static void release_count(void *ud, void *data)
{
    (void)data;
    (*(int *)ud)++;
}

/* Wrapped memory is released once, after the last of a chain of views,
 * whatever order they and the context die in. */
static void test_view_lifetimes(void **state)
{
    (void)state;
    tu_alloc t;
    tu_alloc_init(&t, 0, false);
    kiln_ctx *ctx = kiln_ctx_new(&t.a);
    assert_non_null(ctx);
    static double mem[24];
    for (int i = 0; i < 24; i++)
        mem[i] = i;
    int calls = 0;
    kiln_array *a = NULL, *v1 = NULL, *v2 = NULL, *v3 = NULL, *v4 = NULL;
    assert_int_equal(kiln_array_wrap(ctx, mem, KILN_FLOAT64, 2, (int64_t[]){4, 6}, NULL,
                                     release_count, &calls, &a),
                     KILN_OK);
    assert_int_equal(kiln_array_slice(a, 2, (kiln_slice[]){{1, 3, 1}, {KILN_END, KILN_END, -2}},
                                      &v1),
                     KILN_OK);
    assert_int_equal(kiln_array_transpose(v1, NULL, &v2), KILN_OK);
    assert_int_equal(kiln_array_expand_dims(v2, 0, &v3), KILN_OK);
    assert_int_equal(kiln_array_broadcast_to(v3, 3, (int64_t[]){2, 3, 2}, &v4), KILN_OK);
    assert_ptr_equal(v4->buf, a->buf);
    kiln_array_release(a);
    kiln_array_release(v2);
    kiln_ctx_free(ctx);
    kiln_array_release(v1);
    kiln_array_release(v3);
    assert_int_equal(calls, 0);
    /* v4 = broadcast(a[1:3, ::-2].T[None]) : [[11, 17], [9, 15], [7, 13]] twice */
    assert_values(v4, VALS(11, 17, 9, 15, 7, 13, 11, 17, 9, 15, 7, 13));
    kiln_array_release(v4);
    assert_int_equal(calls, 1);
    assert_int_equal(t.live, 0);
    assert_int_equal(t.live_bytes, 0);
}

/* Every allocation of a chain of view operations fails in turn: each call
 * reports KILN_ENOMEM (or succeeds), nothing leaks. */
static void test_views_oom(void **state)
{
    (void)state;
    for (int sticky = 0; sticky < 2; sticky++) {
        bool clean = false;
        for (long n = 1; n < 200 && !clean; n++) {
            tu_alloc t;
            tu_alloc_init(&t, n, sticky != 0);
            kiln_ctx *ctx = kiln_ctx_new(&t.a);
            if (ctx) {
                kiln_array *a = NULL, *v[7] = {NULL};
                kiln_status st[8];
                st[0] = kiln_array_zeros(ctx, KILN_FLOAT32, 2, (int64_t[]){3, 4}, KILN_ORDER_C, &a);
                kiln_array *src = a;
                st[1] = src ? kiln_array_slice(src, 1, &(kiln_slice){1, KILN_END, 1}, &v[0])
                            : KILN_OK;
                st[2] = src ? kiln_array_transpose(src, NULL, &v[1]) : KILN_OK;
                st[3] = src ? kiln_array_reshape(src, 1, (int64_t[]){12}, &v[2]) : KILN_OK;
                st[4] = src ? kiln_array_broadcast_to(src, 3, (int64_t[]){2, 3, 4}, &v[3])
                            : KILN_OK;
                st[5] = src ? kiln_array_expand_dims(src, 1, &v[4]) : KILN_OK;
                st[6] = v[1] ? kiln_array_copy(v[1], KILN_ORDER_C, &v[5]) : KILN_OK;
                /* copy_into with overlap needs a temporary: may fail too. */
                st[7] = v[1] && v[5] ? rt_array_copy_into(v[1]->env, v[1], v[1]) : KILN_OK;
                for (int i = 0; i < 8; i++)
                    if (st[i] != KILN_OK)
                        assert_int_equal(st[i], KILN_ENOMEM);
                for (int i = 0; i < 6; i++)
                    if (st[i + 1] != KILN_OK)
                        assert_null(v[i]);
                kiln_array_release(a);
                kiln_ctx_free(ctx);
                for (int i = 0; i < 7; i++)
                    kiln_array_release(v[i]);
            }
            if (t.count < n)
                clean = true;
            if (t.live != 0 || t.live_bytes != 0)
                fail_msg("leak with allocation %ld failing (sticky %d)", n, sticky);
        }
        assert_true(clean);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_seed_example),
        cmocka_unit_test(test_slice_python_rules),
        cmocka_unit_test(test_negative_steps_2d),
        cmocka_unit_test(test_index),
        cmocka_unit_test(test_transpose),
        cmocka_unit_test(test_reshape),
        cmocka_unit_test(test_broadcast_to),
        cmocka_unit_test(test_expand_dims),
        cmocka_unit_test(test_records),
        cmocka_unit_test(test_copy),
        cmocka_unit_test(test_copy_into_overlap_and_convert),
        cmocka_unit_test(test_get_f64),
        cmocka_unit_test(test_null_args),
        cmocka_unit_test(test_view_lifetimes),
        cmocka_unit_test(test_views_oom),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
