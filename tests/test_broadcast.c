/* tests/test_broadcast.c — NumPy's broadcasting rules in expression
 * construction (graph/infer.c): every example of the seed lesson, 0-d
 * operands, zero-size dimensions (0 broadcasts with 1, not with 2), rank 8,
 * where and clip over three shapes, NumPy's error text, an element count
 * that overflows, and the shape of unary, comparison and cast results. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "testutil.h"

#include <string.h>

static int setup(void **state)
{
    kiln_ctx *ctx = kiln_ctx_new(NULL);
    if (!ctx)
        return -1;
    *state = ctx;
    return 0;
}

static int teardown(void **state)
{
    kiln_ctx_free(*state);
    return 0;
}

/* An input of the given shape (contents never read: nothing is evaluated). */
static kiln_expr in_t(kiln_ctx *ctx, kiln_dtype t, int rank, const int64_t *shape)
{
    kiln_array *a = NULL;
    assert_int_equal(kiln_array_empty(ctx, t, rank, shape, KILN_ORDER_C, &a), KILN_OK);
    kiln_expr e = kiln_input(ctx, a);
    kiln_array_release(a);
    assert_int_equal(kiln_expr_status(e), KILN_OK);
    return e;
}

static kiln_expr in(kiln_ctx *ctx, int rank, const int64_t *shape)
{
    return in_t(ctx, KILN_FLOAT64, rank, shape);
}

#define SHAPE(...) ((const int64_t[]){__VA_ARGS__})
#define IN(ctx, ...) in(ctx, (int)(sizeof(SHAPE(__VA_ARGS__)) / sizeof(int64_t)), SHAPE(__VA_ARGS__))

static void assert_shape(kiln_expr e, int rank, const int64_t *want)
{
    if (kiln_expr_status(e) != KILN_OK)
        fail_msg("unexpected error: %s", kiln_errmsg(e.ctx_));
    assert_int_equal(kiln_expr_rank(e), rank);
    int64_t got[KILN_MAX_RANK];
    memset(got, 0xFF, sizeof got);
    assert_int_equal(kiln_expr_shape(e, got), KILN_OK);
    for (int k = 0; k < rank; k++)
        if (got[k] != want[k])
            fail_msg("axis %d: got %lld, want %lld", k, (long long)got[k], (long long)want[k]);
}
#define ASSERT_SHAPE(e, ...) \
    assert_shape(e, (int)(sizeof(SHAPE(__VA_ARGS__)) / sizeof(int64_t)), SHAPE(__VA_ARGS__))

/* e failed with KILN_ESHAPE and exactly NumPy's message. */
static void assert_bcast_error(kiln_expr e, const char *shapes)
{
    assert_int_equal(kiln_expr_status(e), KILN_ESHAPE);
    assert_int_equal(kiln_errcode(e.ctx_), KILN_ESHAPE);
    char want[256];
    snprintf(want, sizeof want, "operands could not be broadcast together with shapes %s",
             shapes);
    assert_string_equal(kiln_errmsg(e.ctx_), want);
}

/* ---- the seed lesson's examples ----------------------------------------------- */

static void test_lesson_examples(void **state)
{
    kiln_ctx *ctx = *state;
    /* a (3,) + b (2,1): pad a to (1,3), stretch both -> (2,3) */
    ASSERT_SHAPE(kiln_add(IN(ctx, 3), IN(ctx, 2, 1)), 2, 3);
    ASSERT_SHAPE(kiln_add(IN(ctx, 2, 1), IN(ctx, 3)), 2, 3);
    /* row (3,) + col (3,1) -> (3,3) */
    ASSERT_SHAPE(kiln_add(IN(ctx, 3), IN(ctx, 3, 1)), 3, 3);
    /* (5,1,3) + (4,1) -> (5,4,3) */
    ASSERT_SHAPE(kiln_add(IN(ctx, 5, 1, 3), IN(ctx, 4, 1)), 5, 4, 3);
    ASSERT_SHAPE(kiln_add(IN(ctx, 4, 1), IN(ctx, 5, 1, 3)), 5, 4, 3);
    /* image (256,256,3) + per-channel (3,) */
    ASSERT_SHAPE(kiln_multiply(IN(ctx, 256, 256, 3), IN(ctx, 3)), 256, 256, 3);
    /* (256,1,3) + (1,256,3): both stretch */
    ASSERT_SHAPE(kiln_add(IN(ctx, 256, 1, 3), IN(ctx, 1, 256, 3)), 256, 256, 3);
    /* normalization: (1000,5) - (5,), then / (5,) */
    kiln_expr data = IN(ctx, 1000, 5), means = IN(ctx, 5), stds = IN(ctx, 5);
    ASSERT_SHAPE(kiln_divide(kiln_subtract(data, means), stds), 1000, 5);
    /* pairwise differences: (100,1,3) - (1,100,3) -> (100,100,3) */
    ASSERT_SHAPE(kiln_subtract(IN(ctx, 100, 1, 3), IN(ctx, 1, 100, 3)), 100, 100, 3);
    /* (3,) + (2,): rule 3, NumPy's error text naming both shapes */
    kiln_expr bad = kiln_add(IN(ctx, 3), IN(ctx, 2));
    assert_bcast_error(bad, "(3,) (2,)");
    assert_non_null(strstr(kiln_errmsg(ctx), "(3,)"));
    assert_non_null(strstr(kiln_errmsg(ctx), "(2,)"));
    /* a weak scalar broadcasts to anything */
    ASSERT_SHAPE(kiln_add(kiln_multiply(IN(ctx, 4), kiln_i64(ctx, 2)), kiln_i64(ctx, 1)), 4);
}

static void test_mismatch_messages(void **state)
{
    kiln_ctx *ctx = *state;
    assert_bcast_error(kiln_add(IN(ctx, 2, 3), IN(ctx, 3, 2)), "(2,3) (3,2)");
    assert_bcast_error(kiln_add(IN(ctx, 2), IN(ctx, 3)), "(2,) (3,)");
    assert_bcast_error(kiln_less(IN(ctx, 4, 3), IN(ctx, 4)), "(4,3) (4,)");
    assert_bcast_error(kiln_add(IN(ctx, 5, 4, 3), IN(ctx, 5, 3)), "(5,4,3) (5,3)");
    assert_bcast_error(kiln_logical_and(IN(ctx, 1, 2), IN(ctx, 3, 1, 3)), "(1,2) (3,1,3)");
    /* the order of the operands is kept in the message */
    assert_bcast_error(kiln_subtract(IN(ctx, 2), IN(ctx, 3, 1, 4)), "(2,) (3,1,4)");
}

/* ---- 0-d and empty ------------------------------------------------------------------ */

static void test_zero_d(void **state)
{
    kiln_ctx *ctx = *state;
    kiln_expr s = in(ctx, 0, NULL);
    assert_shape(s, 0, NULL);
    assert_shape(kiln_add(s, s), 0, NULL);
    assert_shape(kiln_sin(s), 0, NULL);
    ASSERT_SHAPE(kiln_add(s, IN(ctx, 2, 3)), 2, 3);
    ASSERT_SHAPE(kiln_add(IN(ctx, 2, 3), s), 2, 3);
    ASSERT_SHAPE(kiln_add(s, IN(ctx, 0)), 0);
    assert_shape(kiln_add(s, kiln_f64(ctx, 1.5)), 0, NULL);
    assert_shape(kiln_f64(ctx, 1.5), 0, NULL);
    double v = 2;
    assert_shape(kiln_scalar(ctx, KILN_FLOAT64, &v), 0, NULL);
    /* a 0-d operand in the message prints as () */
    kiln_expr bad = kiln_where(s, IN(ctx, 2), IN(ctx, 3));
    assert_bcast_error(bad, "() (2,) (3,)");
}

static void test_zero_size(void **state)
{
    kiln_ctx *ctx = *state;
    /* 0 broadcasts with 1 and with 0, not with 2 */
    ASSERT_SHAPE(kiln_add(IN(ctx, 0), IN(ctx, 1)), 0);
    ASSERT_SHAPE(kiln_add(IN(ctx, 1), IN(ctx, 0)), 0);
    ASSERT_SHAPE(kiln_add(IN(ctx, 0), IN(ctx, 0)), 0);
    assert_bcast_error(kiln_add(IN(ctx, 0), IN(ctx, 2)), "(0,) (2,)");
    assert_bcast_error(kiln_add(IN(ctx, 2), IN(ctx, 0)), "(2,) (0,)");
    ASSERT_SHAPE(kiln_add(IN(ctx, 0, 3), IN(ctx, 1, 3)), 0, 3);
    ASSERT_SHAPE(kiln_add(IN(ctx, 0, 3), IN(ctx, 3)), 0, 3);
    ASSERT_SHAPE(kiln_add(IN(ctx, 2, 0), IN(ctx, 2, 1)), 2, 0);
    ASSERT_SHAPE(kiln_add(IN(ctx, 4, 1, 0), IN(ctx, 5, 1)), 4, 5, 0);
    assert_bcast_error(kiln_add(IN(ctx, 2, 0), IN(ctx, 3, 1)), "(2,0) (3,1)");
    /* an empty shape with huge other extents is still fine: no elements */
    ASSERT_SHAPE(kiln_add(IN(ctx, 0, 1), IN(ctx, 1, 1000000)), 0, 1000000);
}

/* ---- rank 8 ------------------------------------------------------------------------- */

static void test_rank8(void **state)
{
    kiln_ctx *ctx = *state;
    kiln_expr a = IN(ctx, 2, 1, 2, 1, 2, 1, 2, 1);
    kiln_expr b = IN(ctx, 1, 3, 1, 3, 1, 3, 1, 3);
    ASSERT_SHAPE(kiln_add(a, b), 2, 3, 2, 3, 2, 3, 2, 3);
    ASSERT_SHAPE(kiln_add(a, IN(ctx, 5)), 2, 1, 2, 1, 2, 1, 2, 5);
    ASSERT_SHAPE(kiln_add(IN(ctx, 7), a), 2, 1, 2, 1, 2, 1, 2, 7);
    ASSERT_SHAPE(kiln_add(a, IN(ctx, 3, 1, 1)), 2, 1, 2, 1, 2, 3, 2, 1);
    assert_int_equal(kiln_expr_rank(kiln_sqrt(a)), 8);
    kiln_expr bad = kiln_add(a, IN(ctx, 1, 1, 1, 1, 1, 1, 3, 1));
    assert_bcast_error(bad, "(2,1,2,1,2,1,2,1) (1,1,1,1,1,1,3,1)");
}

/* ---- where and clip: three shapes ---------------------------------------------------- */

static void test_where_clip(void **state)
{
    kiln_ctx *ctx = *state;
    kiln_expr c = in_t(ctx, KILN_BOOL, 3, SHAPE(2, 1, 1));
    ASSERT_SHAPE(kiln_where(c, IN(ctx, 3, 1), IN(ctx, 4)), 2, 3, 4);
    ASSERT_SHAPE(kiln_where(in_t(ctx, KILN_BOOL, 1, SHAPE(4)), IN(ctx, 3, 1), kiln_f64(ctx, 0)), 3,
                 4);
    ASSERT_SHAPE(kiln_where(kiln_bool(ctx, 1), IN(ctx, 3, 1), IN(ctx, 1, 5)), 3, 5);
    assert_bcast_error(kiln_where(in_t(ctx, KILN_BOOL, 1, SHAPE(2)), IN(ctx, 3), IN(ctx, 4)),
                       "(2,) (3,) (4,)");
    /* one operand out of three disagrees: still all three shapes */
    assert_bcast_error(kiln_where(c, IN(ctx, 3, 1), IN(ctx, 2, 2, 4)), "(2,1,1) (3,1) (2,2,4)");

    ASSERT_SHAPE(kiln_clip(IN(ctx, 2, 3), IN(ctx, 3), IN(ctx, 2, 1)), 2, 3);
    ASSERT_SHAPE(kiln_clip(IN(ctx, 5), kiln_f64(ctx, 0), kiln_f64(ctx, 1)), 5);
    ASSERT_SHAPE(kiln_clip(IN(ctx, 5, 1), IN(ctx, 1, 4), kiln_f64(ctx, 1)), 5, 4);
    /* NumPy checks clip's three shapes together */
    assert_bcast_error(kiln_clip(IN(ctx, 3), IN(ctx, 3), IN(ctx, 2)), "(3,) (3,) (2,)");
    assert_bcast_error(kiln_clip(IN(ctx, 3), IN(ctx, 4), IN(ctx, 3)), "(3,) (4,) (3,)");
    kiln_expr args[3] = {IN(ctx, 3), IN(ctx, 2), IN(ctx, 3)};
    assert_bcast_error(kiln_op(ctx, "clip", 3, args), "(3,) (2,) (3,)");
    assert_bcast_error(kiln_op(ctx, "where", 3, args), "(3,) (2,) (3,)");
}

/* ---- other ops keep or broadcast the shape --------------------------------------------- */

static void test_result_shapes(void **state)
{
    kiln_ctx *ctx = *state;
    kiln_expr x = IN(ctx, 4, 1, 3);
    ASSERT_SHAPE(kiln_sin(x), 4, 1, 3);
    ASSERT_SHAPE(kiln_negative(x), 4, 1, 3);
    ASSERT_SHAPE(kiln_isnan(x), 4, 1, 3);
    ASSERT_SHAPE(kiln_cast(x, KILN_INT8), 4, 1, 3);
    ASSERT_SHAPE(kiln_logical_not(x), 4, 1, 3);
    ASSERT_SHAPE(kiln_greater(x, IN(ctx, 2, 1)), 4, 2, 3);
    ASSERT_SHAPE(kiln_arctan2(IN(ctx, 2, 1), x), 4, 2, 3);
    ASSERT_SHAPE(kiln_left_shift(in_t(ctx, KILN_INT32, 2, SHAPE(2, 1)),
                                 in_t(ctx, KILN_INT32, 1, SHAPE(6))),
                 2, 6);
    /* mixed dtypes: the inserted casts keep each input's shape */
    ASSERT_SHAPE(kiln_add(in_t(ctx, KILN_INT8, 2, SHAPE(3, 1)), in_t(ctx, KILN_FLOAT32, 1, SHAPE(7))),
                 3, 7);
    /* a folded identity keeps the node's shape */
    ASSERT_SHAPE(kiln_multiply(x, kiln_f64(ctx, 1.0)), 4, 1, 3);
}

/* ---- element count overflow ---------------------------------------------------------- */

static void test_too_many_elements(void **state)
{
    kiln_ctx *ctx = *state;
    double d = 0;
    const int64_t big = (int64_t)1 << 40;
    const int64_t sa[2] = {big, 1}, sb[2] = {1, big}, z[2] = {0, 0};
    kiln_array *a = NULL, *b = NULL;
    assert_int_equal(kiln_array_wrap(ctx, &d, KILN_FLOAT64, 2, sa, z, NULL, NULL, &a), KILN_OK);
    assert_int_equal(kiln_array_wrap(ctx, &d, KILN_FLOAT64, 2, sb, z, NULL, NULL, &b), KILN_OK);
    kiln_expr x = kiln_input(ctx, a), y = kiln_input(ctx, b);
    kiln_array_release(a);
    kiln_array_release(b);
    kiln_expr e = kiln_add(x, y); /* 2^80 elements */
    assert_int_equal(kiln_expr_status(e), KILN_EOVERFLOW);
    assert_non_null(strstr(kiln_errmsg(ctx), "too many elements"));
    /* each alone, or broadcast to a modest size, is fine */
    ASSERT_SHAPE(kiln_add(x, x), big, 1);
    ASSERT_SHAPE(kiln_add(x, IN(ctx, 1, 4)), big, 4);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_lesson_examples, setup, teardown),
        cmocka_unit_test_setup_teardown(test_mismatch_messages, setup, teardown),
        cmocka_unit_test_setup_teardown(test_zero_d, setup, teardown),
        cmocka_unit_test_setup_teardown(test_zero_size, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rank8, setup, teardown),
        cmocka_unit_test_setup_teardown(test_where_clip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_result_shapes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_too_many_elements, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
