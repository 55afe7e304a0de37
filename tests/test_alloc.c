/* tests/test_alloc.c — runtime/env.c and runtime/alloc.c: the env's
 * lifetime through its own allocator, rt_err, rt_fmt_shape, the allocation
 * hook (malloc/calloc/realloc with and without the hook's realloc, aligned
 * blocks), overflow helpers, and failure returning NULL without leaks. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "testutil.h"

#include "runtime/rt.h"

#include <string.h>

static void test_env_lifetime(void **state)
{
    (void)state;
    tu_alloc t;
    tu_alloc_init(&t, 0, false);
    rt_env *e = rt_env_new(&t.a);
    assert_non_null(e);
    assert_int_equal(t.live, 1);
    assert_int_equal(atomic_load(&e->refs), 1);
    assert_int_equal(e->code, KILN_OK);
    assert_string_equal(e->msg, "");
    rt_env_retain(e);
    rt_env_release(e);
    assert_int_equal(t.live, 1); /* still one reference */
    rt_env_release(e);
    assert_int_equal(t.live, 0);
    assert_int_equal(t.live_bytes, 0);
    rt_env_retain(NULL); /* no-ops */
    rt_env_release(NULL);

    /* The allocator is copied: changing the caller's struct later has no
     * effect. */
    kiln_allocator copy = t.a;
    e = rt_env_new(&copy);
    assert_non_null(e);
    memset(&copy, 0, sizeof copy);
    void *p = rt_malloc(e, 10);
    assert_non_null(p);
    rt_free(e, p, 10);
    rt_env_release(e);
    assert_int_equal(t.live, 0);

    /* Default allocator. */
    e = rt_env_new(NULL);
    assert_non_null(e);
    p = rt_malloc(e, 100);
    assert_non_null(p);
    rt_free(e, p, 100);
    rt_env_release(e);
}

static void test_env_oom_and_bad_allocator(void **state)
{
    (void)state;
    tu_alloc t;
    tu_alloc_init(&t, 1, false);
    assert_null(rt_env_new(&t.a));
    assert_int_equal(t.count, 1);
    assert_int_equal(t.live, 0);

    kiln_allocator a = t.a;
    a.malloc = NULL;
    assert_null(rt_env_new(&a));
    a = t.a;
    a.free = NULL;
    assert_null(rt_env_new(&a));
    a = t.a;
    a.realloc = NULL; /* optional */
    tu_alloc_init(&t, 0, false);
    a.ud = &t;
    rt_env *e = rt_env_new(&a);
    assert_non_null(e);
    rt_env_release(e);
    assert_int_equal(t.live, 0);
}

static void test_err(void **state)
{
    (void)state;
    rt_env *e = rt_env_new(NULL);
    assert_non_null(e);
    assert_int_equal(rt_err(e, KILN_ESHAPE, "bad shape %s and %d", "(3,)", 7), KILN_ESHAPE);
    assert_int_equal(e->code, KILN_ESHAPE);
    assert_string_equal(e->msg, "bad shape (3,) and 7");
    /* Overwrites the previous error. */
    assert_int_equal(rt_err(e, KILN_EAXIS, "axis %d", 5), KILN_EAXIS);
    assert_int_equal(e->code, KILN_EAXIS);
    assert_string_equal(e->msg, "axis 5");
    /* Long messages are truncated, never overflowing. */
    char big[3000];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    assert_int_equal(rt_err(e, KILN_EINVAL, "%s", big), KILN_EINVAL);
    assert_int_equal(strlen(e->msg), sizeof e->msg - 1);
    /* NULL env: nothing recorded, code returned. */
    assert_int_equal(rt_err(NULL, KILN_ENOMEM, "x %d", 1), KILN_ENOMEM);
    rt_env_release(e);
}

static void test_fmt_shape(void **state)
{
    (void)state;
    char buf[128];
    int64_t s1[] = {3};
    int64_t s2[] = {2, 3};
    int64_t s3[] = {0, -1, 1099511627776LL};
    assert_string_equal(rt_fmt_shape(buf, sizeof buf, 0, NULL), "()");
    assert_string_equal(rt_fmt_shape(buf, sizeof buf, 1, s1), "(3,)");
    assert_string_equal(rt_fmt_shape(buf, sizeof buf, 2, s2), "(2,3)");
    assert_string_equal(rt_fmt_shape(buf, sizeof buf, 3, s3), "(0,-1,1099511627776)");
    int64_t s8[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    assert_string_equal(rt_fmt_shape(buf, sizeof buf, 8, s8), "(1,2,3,4,5,6,7,8)");
    /* Truncation keeps the buffer terminated. */
    char small[5];
    memset(small, 'z', sizeof small);
    assert_ptr_equal(rt_fmt_shape(small, sizeof small, 2, s2), small);
    assert_string_equal(small, "(2,3");
    int64_t huge[8];
    for (int k = 0; k < 8; k++)
        huge[k] = INT64_MIN;
    char mid[40];
    rt_fmt_shape(mid, sizeof mid, 8, huge);
    assert_int_equal(strlen(mid), sizeof mid - 1);
    /* Invalid rank does not read shape. */
    assert_string_equal(rt_fmt_shape(buf, sizeof buf, 9, s8), "(?)");
    assert_string_equal(rt_fmt_shape(buf, sizeof buf, 2, NULL), "(?)");
}

static void test_malloc_calloc_free(void **state)
{
    (void)state;
    tu_alloc t;
    tu_alloc_init(&t, 0, false);
    rt_env *e = rt_env_new(&t.a);
    assert_non_null(e);
    long base = t.live;
    unsigned char *p = rt_calloc(e, 10, 7);
    assert_non_null(p);
    for (int i = 0; i < 70; i++)
        assert_int_equal(p[i], 0);
    assert_int_equal(t.live, base + 1);
    rt_free(e, p, 70);
    rt_free(e, NULL, 5); /* no-op */
    assert_int_equal(t.live, base);
    /* n*size overflows: NULL without calling the hook. */
    long count = t.count;
    assert_null(rt_calloc(e, SIZE_MAX / 2, 3));
    assert_int_equal(t.count, count);
    /* Hook failure is NULL. */
    t.fail_at = t.count + 1;
    assert_null(rt_malloc(e, 8));
    void *ok = rt_malloc(e, 8); /* only the Nth failed: the next succeeds */
    assert_non_null(ok);
    rt_free(e, ok, 8);
    t.fail_at = 0;
    rt_env_release(e);
    assert_int_equal(t.live, 0);
}

static void test_calloc_after_failure_frees(void **state)
{
    (void)state;
    tu_alloc t;
    tu_alloc_init(&t, 0, false);
    rt_env *e = rt_env_new(&t.a);
    assert_non_null(e);
    t.fail_at = t.count + 1;
    assert_null(rt_calloc(e, 4, 4));
    t.fail_at = 0;
    void *q = rt_calloc(e, 4, 4);
    assert_non_null(q);
    rt_free(e, q, 16);
    rt_env_release(e);
    assert_int_equal(t.live, 0);
    assert_int_equal(t.live_bytes, 0);
}

static void check_realloc(kiln_allocator *a, tu_alloc *t)
{
    rt_env *e = rt_env_new(a);
    assert_non_null(e);
    char *p = rt_realloc(e, NULL, 0, 16); /* NULL p: malloc */
    assert_non_null(p);
    for (int i = 0; i < 16; i++)
        p[i] = (char)i;
    char *q = rt_realloc(e, p, 16, 4096);
    assert_non_null(q);
    for (int i = 0; i < 16; i++)
        assert_int_equal(q[i], i);
    q = rt_realloc(e, q, 4096, 8); /* shrink keeps the prefix */
    assert_non_null(q);
    for (int i = 0; i < 8; i++)
        assert_int_equal(q[i], i);
    /* Failure leaves the old block valid and owned by the caller. */
    t->fail_at = t->count + 1;
    assert_null(rt_realloc(e, q, 8, 1 << 20));
    t->fail_at = 0;
    for (int i = 0; i < 8; i++)
        assert_int_equal(q[i], i);
    rt_free(e, q, 8);
    rt_env_release(e);
    assert_int_equal(t->live, 0);
    assert_int_equal(t->live_bytes, 0);
}

static void test_realloc_hook(void **state)
{
    (void)state;
    tu_alloc t;
    tu_alloc_init(&t, 0, false);
    check_realloc(&t.a, &t);
    /* Without the hook's realloc: malloc + copy + free. */
    tu_alloc_init(&t, 0, false);
    kiln_allocator a = t.a;
    a.realloc = NULL;
    check_realloc(&a, &t);
}

static void test_aligned(void **state)
{
    (void)state;
    tu_alloc t;
    tu_alloc_init(&t, 0, false);
    rt_env *e = rt_env_new(&t.a);
    assert_non_null(e);
    long base = t.live;
    void *blocks[40];
    size_t sizes[40];
    for (int i = 0; i < 40; i++) {
        sizes[i] = (size_t)i * 13; /* includes 0 */
        blocks[i] = rt_aligned_alloc(e, sizes[i]);
        assert_non_null(blocks[i]);
        assert_int_equal((uintptr_t)blocks[i] % 64, 0);
        memset(blocks[i], 0x5a, sizes[i]);
        for (int j = 0; j < i; j++)
            assert_ptr_not_equal(blocks[i], blocks[j]); /* size 0 unique too */
    }
    assert_int_equal(t.live, base + 40);
    for (int i = 0; i < 40; i++)
        rt_aligned_free(e, blocks[i], sizes[i]);
    rt_aligned_free(e, NULL, 0);
    assert_int_equal(t.live, base);
    /* Sizes handed to free match sizes allocated. */
    rt_env_release(e);
    assert_int_equal(t.live_bytes, 0);
    assert_int_equal(t.live, 0);

    e = rt_env_new(&t.a);
    assert_non_null(e);
    long count = t.count;
    assert_null(rt_aligned_alloc(e, SIZE_MAX - 10)); /* padding overflows */
    assert_int_equal(t.count, count);
    t.fail_at = t.count + 1;
    assert_null(rt_aligned_alloc(e, 64));
    t.fail_at = 0;
    rt_env_release(e);
    assert_int_equal(t.live, 0);
}

static void test_overflow_helpers(void **state)
{
    (void)state;
    int64_t r = 0;
    assert_true(rt_mul_ok(3, 4, &r));
    assert_int_equal(r, 12);
    assert_true(rt_mul_ok(-3, 4, &r));
    assert_int_equal(r, -12);
    assert_true(rt_mul_ok(INT64_MAX, 1, &r));
    assert_true(rt_mul_ok(0, INT64_MIN, &r));
    assert_int_equal(r, 0);
    assert_false(rt_mul_ok(INT64_MAX, 2, &r));
    assert_false(rt_mul_ok(INT64_MIN, -1, &r));
    assert_false(rt_mul_ok(1LL << 40, 1LL << 40, &r));
    assert_true(rt_mul_ok(1LL << 31, 1LL << 31, &r));
    assert_int_equal(r, 1LL << 62);
    assert_true(rt_add_ok(1, 2, &r));
    assert_int_equal(r, 3);
    assert_true(rt_add_ok(INT64_MAX, INT64_MIN, &r));
    assert_int_equal(r, -1);
    assert_false(rt_add_ok(INT64_MAX, 1, &r));
    assert_false(rt_add_ok(INT64_MIN, -1, &r));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_env_lifetime),
        cmocka_unit_test(test_env_oom_and_bad_allocator),
        cmocka_unit_test(test_err),
        cmocka_unit_test(test_fmt_shape),
        cmocka_unit_test(test_malloc_calloc_free),
        cmocka_unit_test(test_calloc_after_failure_frees),
        cmocka_unit_test(test_realloc_hook),
        cmocka_unit_test(test_aligned),
        cmocka_unit_test(test_overflow_helpers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
