/* tests/test_array.c — runtime/array.c and frontend/array.c: allocation in
 * C and F order, alignment, zeros, wrapping user memory (strides negative
 * and zero, release callback once after the last view, also after the
 * context is freed), refcounting, rank 0 and rank 8, empty arrays,
 * contiguity, accessors, shape/argument errors with their messages,
 * foreign arrays, and every allocation failure of a scenario (no crash,
 * KILN_ENOMEM, no leak). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "testutil.h"

#include "frontend/fe.h"
#include "runtime/rt.h"

#include <stdlib.h>
#include <string.h>

static kiln_array *const SENTINEL = (kiln_array *)&SENTINEL;

/* An allocator that fills every block with 0xAB (so zeros is tested
 * against garbage) and refuses blocks above a cap (so huge requests fail
 * as NULL without reaching the real malloc). Counts live blocks. */
typedef struct poison {
    kiln_allocator a;
    size_t cap;
    long live;
} poison;

static void *poison_malloc(void *ud, size_t size)
{
    poison *p = ud;
    if (size > p->cap)
        return NULL;
    void *m = malloc(size ? size : 1);
    if (m) {
        memset(m, 0xAB, size);
        p->live++;
    }
    return m;
}

static void poison_free(void *ud, void *ptr, size_t size)
{
    poison *p = ud;
    (void)size;
    if (ptr) {
        p->live--;
        free(ptr);
    }
}

static void poison_init(poison *p, size_t cap)
{
    memset(p, 0, sizeof *p);
    p->a.malloc = poison_malloc;
    p->a.realloc = NULL;
    p->a.free = poison_free;
    p->a.ud = p;
    p->cap = cap;
}

typedef struct relcount {
    int calls;
    void *last;
} relcount;

static void on_release(void *ud, void *data)
{
    relcount *r = ud;
    r->calls++;
    r->last = data;
}

static void assert_strides(const kiln_array *a, int rank, const int64_t *want)
{
    assert_int_equal(kiln_array_rank(a), rank);
    for (int k = 0; k < rank; k++)
        if (kiln_array_strides(a)[k] != want[k])
            fail_msg("stride %d is %lld, want %lld", k, (long long)kiln_array_strides(a)[k],
                     (long long)want[k]);
}

static void test_alloc_orders(void **state)
{
    (void)state;
    kiln_ctx *ctx = kiln_ctx_new(NULL);
    assert_non_null(ctx);
    int64_t shape[] = {2, 3, 4};
    kiln_array *c = SENTINEL, *f = SENTINEL;
    assert_int_equal(kiln_array_empty(ctx, KILN_FLOAT64, 3, shape, KILN_ORDER_C, &c), KILN_OK);
    assert_int_equal(kiln_array_empty(ctx, KILN_FLOAT64, 3, shape, KILN_ORDER_F, &f), KILN_OK);
    assert_strides(c, 3, (int64_t[]){96, 32, 8});
    assert_strides(f, 3, (int64_t[]){8, 16, 48});
    for (int k = 0; k < 3; k++) {
        assert_int_equal(kiln_array_shape(c)[k], shape[k]);
        assert_int_equal(kiln_array_shape(f)[k], shape[k]);
    }
    assert_int_equal(kiln_array_size(c), 24);
    assert_int_equal(kiln_array_dtype(c), KILN_FLOAT64);
    assert_true(kiln_array_is_contiguous(c, KILN_ORDER_C));
    assert_false(kiln_array_is_contiguous(c, KILN_ORDER_F));
    assert_true(kiln_array_is_contiguous(f, KILN_ORDER_F));
    assert_false(kiln_array_is_contiguous(f, KILN_ORDER_C));
    assert_false(kiln_array_is_contiguous(c, (kiln_order)7));
    assert_false(kiln_array_shares_base(c, f));
    assert_true(kiln_array_shares_base(c, c));
    /* kiln_array_ptr follows the strides. */
    char *base = kiln_array_data(f);
    assert_ptr_equal(kiln_array_ptr(f, (int64_t[]){1, 2, 3}), base + 8 + 32 + 144);
    assert_ptr_equal(kiln_array_ptr(c, (int64_t[]){1, 2, 3}),
                     (char *)kiln_array_data(c) + 96 + 64 + 24);
    assert_null(kiln_array_ptr(c, (int64_t[]){2, 0, 0}));
    assert_null(kiln_array_ptr(c, (int64_t[]){0, -1, 0}));
    assert_null(kiln_array_ptr(c, (int64_t[]){0, 0, 4}));
    assert_null(kiln_array_ptr(c, NULL));
    /* Elements do not overlap: write all, read all. */
    double *d = kiln_array_data(c);
    for (int i = 0; i < 24; i++)
        d[i] = i;
    assert_true(*(double *)kiln_array_ptr(c, (int64_t[]){1, 1, 1}) == 17.0);
    kiln_array_release(c);
    kiln_array_release(f);

    /* Zero extents count as one in the strides (NumPy). */
    int64_t zs[] = {3, 0, 5};
    assert_int_equal(kiln_array_empty(ctx, KILN_INT16, 3, zs, KILN_ORDER_C, &c), KILN_OK);
    assert_int_equal(kiln_array_empty(ctx, KILN_INT16, 3, zs, KILN_ORDER_F, &f), KILN_OK);
    assert_strides(c, 3, (int64_t[]){10, 10, 2});
    assert_strides(f, 3, (int64_t[]){2, 6, 6});
    assert_int_equal(kiln_array_size(c), 0);
    assert_true(kiln_array_is_contiguous(c, KILN_ORDER_C));
    assert_true(kiln_array_is_contiguous(c, KILN_ORDER_F));
    assert_non_null(kiln_array_data(c));
    assert_null(kiln_array_ptr(c, (int64_t[]){0, 0, 0}));
    kiln_array_release(c);
    kiln_array_release(f);
    kiln_ctx_free(ctx);
}

static void test_alignment_and_zeros(void **state)
{
    (void)state;
    poison p;
    poison_init(&p, (size_t)1 << 30);
    kiln_ctx *ctx = kiln_ctx_new(&p.a);
    assert_non_null(ctx);
    /* Fresh memory from the allocator every time: the buffer pool would
     * hand empty() the buffer zeros() cleared in the previous round. */
    assert_int_equal(kiln_ctx_set_pool_limit(ctx, 0), KILN_OK);
    for (int t = 0; t < KILN_DTYPE_COUNT; t++) {
        for (int64_t n = 0; n < 70; n += 7) {
            kiln_array *a = NULL, *z = NULL;
            assert_int_equal(kiln_array_empty(ctx, (kiln_dtype)t, 1, &n, KILN_ORDER_C, &a),
                             KILN_OK);
            assert_int_equal(kiln_array_zeros(ctx, (kiln_dtype)t, 1, &n, KILN_ORDER_F, &z),
                             KILN_OK);
            assert_int_equal((uintptr_t)kiln_array_data(a) % 64, 0);
            assert_int_equal((uintptr_t)kiln_array_data(z) % 64, 0);
            assert_ptr_not_equal(kiln_array_data(a), kiln_array_data(z));
            const unsigned char *zb = kiln_array_data(z);
            for (int64_t i = 0; i < n * (int64_t)kiln_dtype_size((kiln_dtype)t); i++)
                assert_int_equal(zb[i], 0);
            /* empty really leaves the poisoned contents (zeros did work). */
            if (n > 0)
                assert_int_equal(((unsigned char *)kiln_array_data(a))[0], 0xAB);
            kiln_array_release(a);
            kiln_array_release(z);
        }
    }
    kiln_ctx_free(ctx);
    assert_int_equal(p.live, 0);
}

static void test_rank0_and_rank8(void **state)
{
    (void)state;
    kiln_ctx *ctx = kiln_ctx_new(NULL);
    assert_non_null(ctx);
    kiln_array *s = NULL;
    assert_int_equal(kiln_array_zeros(ctx, KILN_INT32, 0, NULL, KILN_ORDER_C, &s), KILN_OK);
    assert_int_equal(kiln_array_rank(s), 0);
    assert_int_equal(kiln_array_size(s), 1);
    assert_ptr_equal(kiln_array_ptr(s, NULL), kiln_array_data(s));
    assert_int_equal(*(int32_t *)kiln_array_data(s), 0);
    assert_true(kiln_array_is_contiguous(s, KILN_ORDER_C));
    assert_true(kiln_array_is_contiguous(s, KILN_ORDER_F));
    kiln_array_release(s);

    int64_t sh[8] = {2, 1, 2, 1, 2, 1, 2, 3};
    kiln_array *a = NULL;
    assert_int_equal(kiln_array_empty(ctx, KILN_UINT8, 8, sh, KILN_ORDER_C, &a), KILN_OK);
    assert_int_equal(kiln_array_size(a), 48);
    assert_strides(a, 8, (int64_t[]){24, 24, 12, 12, 6, 6, 3, 1});
    int64_t idx[8] = {1, 0, 1, 0, 1, 0, 1, 2};
    assert_ptr_equal(kiln_array_ptr(a, idx), (char *)kiln_array_data(a) + 47);
    idx[1] = 1;
    assert_null(kiln_array_ptr(a, idx));
    kiln_array_release(a);
    kiln_ctx_free(ctx);
}

static void test_wrap(void **state)
{
    (void)state;
    kiln_ctx *ctx = kiln_ctx_new(NULL);
    assert_non_null(ctx);
    double buf[12];
    for (int i = 0; i < 12; i++)
        buf[i] = i;

    /* strides NULL: C-contiguous, no copy. */
    kiln_array *a = NULL;
    int64_t sh[] = {3, 4};
    assert_int_equal(kiln_array_wrap(ctx, buf, KILN_FLOAT64, 2, sh, NULL, NULL, NULL, &a),
                     KILN_OK);
    assert_ptr_equal(kiln_array_data(a), buf);
    assert_strides(a, 2, (int64_t[]){32, 8});
    assert_true(kiln_array_is_contiguous(a, KILN_ORDER_C));
    assert_ptr_equal(kiln_array_ptr(a, (int64_t[]){2, 1}), &buf[9]);
    kiln_array_release(a);

    /* Negative stride: element i is buf[9 - i]. */
    int64_t n10 = 10, neg = -8;
    assert_int_equal(kiln_array_wrap(ctx, &buf[9], KILN_FLOAT64, 1, &n10, &neg, NULL, NULL, &a),
                     KILN_OK);
    for (int64_t i = 0; i < 10; i++)
        assert_true(*(double *)kiln_array_ptr(a, &i) == (double)(9 - i));
    assert_false(kiln_array_is_contiguous(a, KILN_ORDER_C));
    const char *lo, *hi;
    rt_array_extent(a, &lo, &hi);
    assert_ptr_equal(lo, (char *)&buf[0]);
    assert_ptr_equal(hi, (char *)&buf[10]);
    kiln_array_release(a);

    /* Zero stride: every row is the same 4 values. */
    int64_t zst[] = {0, 8};
    assert_int_equal(kiln_array_wrap(ctx, buf, KILN_FLOAT64, 2, sh, zst, NULL, NULL, &a), KILN_OK);
    for (int64_t r = 0; r < 3; r++)
        for (int64_t c = 0; c < 4; c++)
            assert_ptr_equal(kiln_array_ptr(a, (int64_t[]){r, c}), &buf[c]);
    assert_false(kiln_array_is_contiguous(a, KILN_ORDER_C));
    assert_false(kiln_array_is_contiguous(a, KILN_ORDER_F));
    rt_array_extent(a, &lo, &hi);
    assert_ptr_equal(lo, (char *)&buf[0]);
    assert_ptr_equal(hi, (char *)&buf[4]);
    kiln_array_release(a);

    /* F-order strides are recognised; extent-1 axes do not matter. */
    int64_t fst[] = {8, 24};
    assert_int_equal(kiln_array_wrap(ctx, buf, KILN_FLOAT64, 2, sh, fst, NULL, NULL, &a), KILN_OK);
    assert_true(kiln_array_is_contiguous(a, KILN_ORDER_F));
    assert_false(kiln_array_is_contiguous(a, KILN_ORDER_C));
    kiln_array_release(a);
    int64_t sh1[] = {1, 4, 1}, odd[] = {12345, 8, -777};
    assert_int_equal(kiln_array_wrap(ctx, buf, KILN_FLOAT64, 3, sh1, odd, NULL, NULL, &a), KILN_OK);
    assert_true(kiln_array_is_contiguous(a, KILN_ORDER_C));
    assert_true(kiln_array_is_contiguous(a, KILN_ORDER_F));
    kiln_array_release(a);

    /* Empty arrays: data may be NULL; otherwise it may not. */
    int64_t z[] = {0, 5};
    assert_int_equal(kiln_array_wrap(ctx, NULL, KILN_INT8, 2, z, NULL, NULL, NULL, &a), KILN_OK);
    assert_int_equal(kiln_array_size(a), 0);
    assert_null(kiln_array_data(a));
    rt_array_extent(a, &lo, &hi);
    assert_ptr_equal(lo, hi);
    kiln_array_release(a);
    a = SENTINEL;
    assert_int_equal(kiln_array_wrap(ctx, NULL, KILN_INT8, 2, sh, NULL, NULL, NULL, &a),
                     KILN_ENULL);
    assert_null(a);
    assert_non_null(strstr(kiln_errmsg(ctx), "(3,4)"));
    /* Rank 0 NULL data is one element: refused. */
    assert_int_equal(kiln_array_wrap(ctx, NULL, KILN_INT8, 0, NULL, NULL, NULL, NULL, &a),
                     KILN_ENULL);

    /* Strides whose offsets overflow int64. */
    int64_t bigsh[] = {4, 4}, bigst[] = {INT64_MAX / 2, 8};
    a = SENTINEL;
    assert_int_equal(kiln_array_wrap(ctx, buf, KILN_FLOAT64, 2, bigsh, bigst, NULL, NULL, &a),
                     KILN_EOVERFLOW);
    assert_null(a);
    assert_non_null(strstr(kiln_errmsg(ctx), "(4,4)"));
    kiln_ctx_free(ctx);
}

static void test_release_callback(void **state)
{
    (void)state;
    tu_alloc t;
    tu_alloc_init(&t, 0, false);
    kiln_ctx *ctx = kiln_ctx_new(&t.a);
    assert_non_null(ctx);
    static int32_t mem[6];
    relcount r = {0, NULL};
    int64_t sh[] = {2, 3};
    kiln_array *a = NULL;
    assert_int_equal(kiln_array_wrap(ctx, mem, KILN_INT32, 2, sh, NULL, on_release, &r, &a),
                     KILN_OK);
    /* A second view of the same buffer (runtime-level: row 1). */
    kiln_array *v = NULL;
    assert_int_equal(rt_array_view(a->env, a->buf, a->data + 12, KILN_INT32, 1, &sh[1],
                                   &a->strides[1], &v),
                     KILN_OK);
    assert_true(kiln_array_shares_base(a, v));
    assert_ptr_equal(kiln_array_ptr(v, (int64_t[]){0}), &mem[3]);
    kiln_array_retain(a);
    kiln_array_release(a);
    kiln_array_release(a); /* a is gone; v keeps the buffer */
    assert_int_equal(r.calls, 0);
    kiln_array_release(v);
    assert_int_equal(r.calls, 1);
    assert_ptr_equal(r.last, mem);

    /* The context is freed first: the array stays valid and the callback
     * runs once, when the last view dies; then nothing leaks. */
    r.calls = 0;
    assert_int_equal(kiln_array_wrap(ctx, mem, KILN_INT32, 2, sh, NULL, on_release, &r, &a),
                     KILN_OK);
    kiln_array *b = NULL;
    assert_int_equal(kiln_array_zeros(ctx, KILN_INT64, 1, &sh[1], KILN_ORDER_C, &b), KILN_OK);
    kiln_ctx_free(ctx);
    assert_true(t.live > 0);
    mem[5] = 42;
    assert_int_equal(*(int32_t *)kiln_array_ptr(a, (int64_t[]){1, 2}), 42);
    assert_int_equal(*(int64_t *)kiln_array_ptr(b, (int64_t[]){2}), 0);
    kiln_array_release(b);
    assert_int_equal(r.calls, 0);
    kiln_array_release(a);
    assert_int_equal(r.calls, 1);
    assert_int_equal(t.live, 0);
    assert_int_equal(t.live_bytes, 0);

    /* NULL is a no-op for both. */
    kiln_array_retain(NULL);
    kiln_array_release(NULL);
}

static void test_shape_errors(void **state)
{
    (void)state;
    kiln_ctx *ctx = kiln_ctx_new(NULL);
    assert_non_null(ctx);
    kiln_array *a = SENTINEL;
    int64_t sh9[9] = {1, 1, 1, 1, 1, 1, 1, 1, 1};
    assert_int_equal(kiln_array_empty(ctx, KILN_FLOAT32, 9, sh9, KILN_ORDER_C, &a), KILN_ERANK);
    assert_null(a);
    assert_int_equal(kiln_errcode(ctx), KILN_ERANK);
    assert_non_null(strstr(kiln_errmsg(ctx), "rank 9"));
    assert_int_equal(kiln_array_zeros(ctx, KILN_FLOAT32, -1, sh9, KILN_ORDER_C, &a), KILN_ERANK);
    assert_non_null(strstr(kiln_errmsg(ctx), "rank -1"));

    int64_t neg[] = {2, -1};
    kiln_clear_error(ctx);
    assert_int_equal(kiln_array_empty(ctx, KILN_FLOAT32, 2, neg, KILN_ORDER_C, &a), KILN_EINVAL);
    assert_int_equal(kiln_errcode(ctx), KILN_EINVAL);
    assert_non_null(strstr(kiln_errmsg(ctx), "negative dimensions"));
    assert_non_null(strstr(kiln_errmsg(ctx), "(2,-1)"));

    int64_t big[] = {1LL << 40, 1LL << 40};
    assert_int_equal(kiln_array_empty(ctx, KILN_INT8, 2, big, KILN_ORDER_C, &a), KILN_EOVERFLOW);
    assert_null(a);
    assert_non_null(strstr(kiln_errmsg(ctx), "(1099511627776,1099511627776)"));
    /* Count fits, bytes for an 8-byte dtype do not. */
    int64_t big2[] = {1LL << 61};
    assert_int_equal(kiln_array_empty(ctx, KILN_FLOAT64, 1, big2, KILN_ORDER_C, &a),
                     KILN_EOVERFLOW);
    /* NumPy checks the nonzero extents even when one extent is 0. */
    int64_t big3[] = {0, 1LL << 40, 1LL << 40};
    assert_int_equal(kiln_array_zeros(ctx, KILN_INT8, 3, big3, KILN_ORDER_C, &a), KILN_EOVERFLOW);
    assert_non_null(strstr(kiln_errmsg(ctx), "(0,1099511627776,1099511627776)"));
    /* Wrap validates too. */
    double buf[1];
    assert_int_equal(kiln_array_wrap(ctx, buf, KILN_FLOAT64, 9, sh9, NULL, NULL, NULL, &a),
                     KILN_ERANK);
    assert_int_equal(kiln_array_wrap(ctx, buf, KILN_FLOAT64, 2, neg, NULL, NULL, NULL, &a),
                     KILN_EINVAL);
    assert_int_equal(kiln_array_wrap(ctx, buf, KILN_FLOAT64, 2, big, NULL, NULL, NULL, &a),
                     KILN_EOVERFLOW);
    assert_null(a);

    /* Direct rt_check_shape. */
    int64_t n = -5;
    int64_t ok[] = {2, 3, 4};
    assert_int_equal(rt_check_shape(NULL, 3, ok, &n), KILN_OK);
    assert_int_equal(n, 24);
    assert_int_equal(rt_check_shape(NULL, 0, NULL, &n), KILN_OK);
    assert_int_equal(n, 1);
    assert_int_equal(rt_check_shape(NULL, 2, NULL, &n), KILN_ENULL);
    int64_t edge[] = {1LL << 60}; /* 2^60 * 8 bytes overflows: 2^63 */
    assert_int_equal(rt_check_shape(NULL, 1, edge, &n), KILN_EOVERFLOW);
    int64_t fits[] = {(1LL << 60) - 1};
    assert_int_equal(rt_check_shape(NULL, 1, fits, &n), KILN_OK);
    assert_int_equal(n, (1LL << 60) - 1);
    kiln_ctx_free(ctx);
}

static void test_huge_alloc_is_enomem(void **state)
{
    (void)state;
    poison p;
    poison_init(&p, (size_t)1 << 20);
    kiln_ctx *ctx = kiln_ctx_new(&p.a);
    assert_non_null(ctx);
    int64_t sh[] = {1LL << 40};
    kiln_array *a = SENTINEL;
    assert_int_equal(kiln_array_empty(ctx, KILN_FLOAT64, 1, sh, KILN_ORDER_C, &a), KILN_ENOMEM);
    assert_null(a);
    assert_int_equal(kiln_errcode(ctx), KILN_ENOMEM);
    assert_non_null(strstr(kiln_errmsg(ctx), "(1099511627776,)"));
    kiln_ctx_free(ctx);
    assert_int_equal(p.live, 0);
}

static void test_bad_args(void **state)
{
    (void)state;
    kiln_ctx *ctx = kiln_ctx_new(NULL);
    assert_non_null(ctx);
    int64_t sh[] = {3};
    double buf[3] = {0};
    kiln_array *a = SENTINEL;
    assert_int_equal(kiln_array_empty(NULL, KILN_FLOAT64, 1, sh, KILN_ORDER_C, &a), KILN_ENULL);
    assert_int_equal(kiln_array_zeros(NULL, KILN_FLOAT64, 1, sh, KILN_ORDER_C, &a), KILN_ENULL);
    assert_int_equal(kiln_array_wrap(NULL, buf, KILN_FLOAT64, 1, sh, NULL, NULL, NULL, &a),
                     KILN_ENULL);
    assert_int_equal(kiln_errcode(ctx), KILN_OK); /* nothing recorded on ctx */

    assert_int_equal(kiln_array_empty(ctx, KILN_FLOAT64, 1, sh, KILN_ORDER_C, NULL), KILN_ENULL);
    assert_int_equal(kiln_errcode(ctx), KILN_ENULL);
    assert_non_null(strstr(kiln_errmsg(ctx), "out"));
    kiln_clear_error(ctx);
    assert_int_equal(kiln_array_zeros(ctx, KILN_FLOAT64, 1, sh, KILN_ORDER_C, NULL), KILN_ENULL);
    assert_int_equal(kiln_errcode(ctx), KILN_ENULL);
    assert_int_equal(kiln_array_wrap(ctx, buf, KILN_FLOAT64, 1, sh, NULL, NULL, NULL, NULL),
                     KILN_ENULL);

    a = SENTINEL;
    assert_int_equal(kiln_array_empty(ctx, KILN_FLOAT64, 1, NULL, KILN_ORDER_C, &a), KILN_ENULL);
    assert_null(a);
    a = SENTINEL;
    assert_int_equal(kiln_array_empty(ctx, KILN_DTYPE_COUNT, 1, sh, KILN_ORDER_C, &a),
                     KILN_EDTYPE);
    assert_null(a);
    assert_int_equal(kiln_errcode(ctx), KILN_EDTYPE);
    assert_int_equal(kiln_array_zeros(ctx, (kiln_dtype)-3, 1, sh, KILN_ORDER_C, &a), KILN_EDTYPE);
    assert_int_equal(kiln_array_wrap(ctx, buf, (kiln_dtype)99, 1, sh, NULL, NULL, NULL, &a),
                     KILN_EDTYPE);
    assert_int_equal(kiln_array_empty(ctx, KILN_FLOAT64, 1, sh, (kiln_order)2, &a), KILN_EINVAL);
    assert_null(a);

    /* Accessors on NULL never crash. */
    assert_int_equal(kiln_array_dtype(NULL), KILN_DTYPE_COUNT);
    assert_int_equal(kiln_array_rank(NULL), -1);
    assert_null(kiln_array_shape(NULL));
    assert_null(kiln_array_strides(NULL));
    assert_int_equal(kiln_array_size(NULL), -1);
    assert_null(kiln_array_data(NULL));
    assert_null(kiln_array_ptr(NULL, sh));
    assert_false(kiln_array_is_contiguous(NULL, KILN_ORDER_C));
    assert_false(kiln_array_shares_base(NULL, NULL));
    kiln_ctx_free(ctx);
}

static void test_foreign(void **state)
{
    (void)state;
    kiln_ctx *c1 = kiln_ctx_new(NULL), *c2 = kiln_ctx_new(NULL);
    assert_non_null(c1);
    assert_non_null(c2);
    int64_t sh[] = {4};
    kiln_array *a = NULL, *b = NULL;
    assert_int_equal(kiln_array_empty(c1, KILN_INT32, 1, sh, KILN_ORDER_C, &a), KILN_OK);
    assert_int_equal(kiln_array_empty(c2, KILN_INT32, 1, sh, KILN_ORDER_C, &b), KILN_OK);
    assert_int_equal(fe_check_array(c1, a, "input"), KILN_OK);
    assert_int_equal(fe_check_array(c2, b, "output"), KILN_OK);
    assert_int_equal(fe_check_array(c2, a, "input"), KILN_EFOREIGN);
    assert_int_equal(kiln_errcode(c2), KILN_EFOREIGN);
    assert_non_null(strstr(kiln_errmsg(c2), "input array"));
    assert_non_null(strstr(kiln_errmsg(c2), "another context"));
    assert_int_equal(kiln_errcode(c1), KILN_OK); /* reported on the caller's ctx */
    assert_int_equal(fe_check_array(c1, b, "output"), KILN_EFOREIGN);
    assert_non_null(strstr(kiln_errmsg(c1), "output array"));
    assert_int_equal(fe_check_array(c1, NULL, "input"), KILN_ENULL);
    assert_string_equal(kiln_errmsg(c1), "input array is NULL");
    assert_int_equal(fe_check_array(NULL, a, "input"), KILN_ENULL);
    assert_false(kiln_array_shares_base(a, b));
    kiln_array_release(a);
    kiln_array_release(b);
    kiln_ctx_free(c1);
    kiln_ctx_free(c2);
}

/* The OOM scenario: every step either succeeds or reports KILN_ENOMEM on
 * ctx with *out NULL. Returns how many steps failed. */
static int oom_scenario(tu_alloc *t, int *released)
{
    int failures = 0;
    kiln_ctx *ctx = kiln_ctx_new(&t->a);
    if (!ctx)
        return 1;
    static double mem[6];
    relcount r = {0, NULL};
    int64_t sh[] = {2, 3};
    kiln_array *arr[5] = {NULL, NULL, NULL, NULL, NULL};
    kiln_status st[5];
    st[0] = kiln_array_empty(ctx, KILN_FLOAT64, 2, sh, KILN_ORDER_C, &arr[0]);
    st[1] = kiln_array_zeros(ctx, KILN_INT16, 2, sh, KILN_ORDER_F, &arr[1]);
    st[2] = kiln_array_wrap(ctx, mem, KILN_FLOAT64, 2, sh, NULL, on_release, &r, &arr[2]);
    st[3] = arr[0] ? rt_array_view(ctx->env, arr[0]->buf, arr[0]->data + 8, KILN_FLOAT64, 1,
                                   &sh[0], &arr[0]->strides[0], &arr[3])
                   : KILN_OK;
    st[4] = arr[2] ? rt_array_view(ctx->env, arr[2]->buf, arr[2]->data, KILN_FLOAT64, 1, &sh[1],
                                   &arr[2]->strides[1], &arr[4])
                   : KILN_OK;
    for (int i = 0; i < 5; i++) {
        if (st[i] == KILN_OK)
            continue;
        failures++;
        assert_int_equal(st[i], KILN_ENOMEM);
        assert_null(arr[i]);
    }
    if (failures)
        assert_int_equal(kiln_errcode(ctx), KILN_ENOMEM);
    if (st[2] != KILN_OK)
        assert_int_equal(r.calls, 0); /* failed wrap: ownership stays with the caller */
    /* Free the context before some arrays, as users may. */
    kiln_array_release(arr[0]);
    kiln_ctx_free(ctx);
    for (int i = 1; i < 5; i++)
        kiln_array_release(arr[i]);
    *released = r.calls;
    if (st[2] == KILN_OK)
        assert_int_equal(r.calls, 1);
    return failures;
}

static void test_oom_every_allocation(void **state)
{
    (void)state;
    for (int sticky = 0; sticky < 2; sticky++) {
        int clean_runs = 0;
        for (long n = 1; n < 1000 && clean_runs == 0; n++) {
            tu_alloc t;
            tu_alloc_init(&t, n, sticky != 0);
            int released = 0;
            int failures = oom_scenario(&t, &released);
            if (t.count < n) {
                assert_int_equal(failures, 0); /* nothing failed: all succeeded */
                clean_runs++;
            } else {
                assert_true(failures > 0);
            }
            if (t.live != 0 || t.live_bytes != 0)
                fail_msg("leak with allocation %ld failing (sticky %d): %ld blocks, %lld bytes",
                         n, sticky, t.live, t.live_bytes);
        }
        assert_int_equal(clean_runs, 1);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_alloc_orders),
        cmocka_unit_test(test_alignment_and_zeros),
        cmocka_unit_test(test_rank0_and_rank8),
        cmocka_unit_test(test_wrap),
        cmocka_unit_test(test_release_callback),
        cmocka_unit_test(test_shape_errors),
        cmocka_unit_test(test_huge_alloc_is_enomem),
        cmocka_unit_test(test_bad_args),
        cmocka_unit_test(test_foreign),
        cmocka_unit_test(test_oom_every_allocation),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
