/* tests/test_promote.c — dtype rules of expression construction
 * (graph/infer.c): NumPy's promotion table for every pair of strong dtypes
 * (written out below from NumPy's np.promote_types), weak scalars (NEP 50:
 * Python int/float/bool literals), the result dtype of every rule of
 * ops.def (SAME, FLOAT, CMP, PRED, LOGIC, BITS, SHIFT, WHERE, CAST), the
 * explicit casts inserted so every input has the compute dtype, and the
 * dtype errors with their messages. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "testutil.h"

#include "frontend/fe.h"
#include "graph/build.h"

#include <string.h>

enum { B = KILN_BOOL, I1 = KILN_INT8, I2 = KILN_INT16, I4 = KILN_INT32, I8 = KILN_INT64,
       U1 = KILN_UINT8, U2 = KILN_UINT16, U4 = KILN_UINT32, U8 = KILN_UINT64,
       F4 = KILN_FLOAT32, F8 = KILN_FLOAT64 };

/* np.promote_types(row, column), rows and columns in kiln_dtype order:
 * bool int8 int16 int32 int64 uint8 uint16 uint32 uint64 float32 float64 */
static const int promote_table[KILN_DTYPE_COUNT][KILN_DTYPE_COUNT] = {
    /* bool    */ {B, I1, I2, I4, I8, U1, U2, U4, U8, F4, F8},
    /* int8    */ {I1, I1, I2, I4, I8, I2, I4, I8, F8, F4, F8},
    /* int16   */ {I2, I2, I2, I4, I8, I2, I4, I8, F8, F4, F8},
    /* int32   */ {I4, I4, I4, I4, I8, I4, I4, I8, F8, F8, F8},
    /* int64   */ {I8, I8, I8, I8, I8, I8, I8, I8, F8, F8, F8},
    /* uint8   */ {U1, I2, I2, I4, I8, U1, U2, U4, U8, F4, F8},
    /* uint16  */ {U2, I4, I4, I4, I8, U2, U2, U4, U8, F4, F8},
    /* uint32  */ {U4, I8, I8, I8, I8, U4, U4, U4, U8, F8, F8},
    /* uint64  */ {U8, F8, F8, F8, F8, U8, U8, U8, U8, F8, F8},
    /* float32 */ {F4, F4, F4, F8, F8, F4, F4, F8, F8, F4, F8},
    /* float64 */ {F8, F8, F8, F8, F8, F8, F8, F8, F8, F8, F8},
};

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

static kiln_expr arr(kiln_ctx *ctx, kiln_dtype t)
{
    kiln_array *a = NULL;
    int64_t n = 4;
    assert_int_equal(kiln_array_empty(ctx, t, 1, &n, KILN_ORDER_C, &a), KILN_OK);
    kiln_expr e = kiln_input(ctx, a);
    kiln_array_release(a);
    assert_int_equal(kiln_expr_status(e), KILN_OK);
    return e;
}

static const gr_node *node(kiln_expr e)
{
    assert_true(gr_valid(e.ctx_->graph, e.id_, e.gen_));
    return gr_node_at(e.ctx_->graph, e.id_);
}

static const gr_node *input_of(kiln_expr e, int i)
{
    const gr_node *n = node(e);
    assert_true(n->in[i] != GR_NONE);
    return gr_node_at(e.ctx_->graph, n->in[i]);
}

static const char *dname(int t) { return t == KILN_DTYPE_COUNT ? "<none>" : kiln_dtype_name((kiln_dtype)t); }

/* e built fine with dtype t. */
static void check_dtype(kiln_expr e, kiln_dtype t, const char *what)
{
    kiln_status s = kiln_expr_status(e);
    if (s != KILN_OK)
        fail_msg("%s: %s: %s", what, kiln_status_name(s), kiln_errmsg(e.ctx_));
    kiln_dtype got = kiln_expr_dtype(e);
    if (got != t)
        fail_msg("%s: got %s, want %s", what, dname(got), dname(t));
}

/* e failed with status s and a message containing each of the strings. */
static void check_error(kiln_expr e, kiln_status s, const char *m1, const char *m2)
{
    kiln_status got = kiln_expr_status(e);
    if (got != s)
        fail_msg("want %s, got %s (%s)", kiln_status_name(s), kiln_status_name(got),
                 kiln_errmsg(e.ctx_));
    assert_int_equal(kiln_errcode(e.ctx_), s);
    const char *msg = kiln_errmsg(e.ctx_);
    if (m1 && !strstr(msg, m1))
        fail_msg("message \"%s\" lacks \"%s\"", msg, m1);
    if (m2 && !strstr(msg, m2))
        fail_msg("message \"%s\" lacks \"%s\"", msg, m2);
}

/* ---- strong promotion ---------------------------------------------------------------- */

static void test_promote_table(void **state)
{
    kiln_ctx *ctx = *state;
    for (int a = 0; a < KILN_DTYPE_COUNT; a++)
        for (int b = 0; b < KILN_DTYPE_COUNT; b++) {
            kiln_dtype want = (kiln_dtype)promote_table[a][b];
            kiln_dtype got = gr_promote((kiln_dtype)a, (kiln_dtype)b);
            if (got != want)
                fail_msg("gr_promote(%s, %s) = %s, want %s", dname(a), dname(b), dname(got),
                         dname(want));
            /* through the public API: add of two arrays */
            char what[64];
            snprintf(what, sizeof what, "add(%s, %s)", dname(a), dname(b));
            kiln_expr e = kiln_add(arr(ctx, (kiln_dtype)a), arr(ctx, (kiln_dtype)b));
            check_dtype(e, want, what);
            /* each input now has the compute dtype (a cast where needed) */
            for (int i = 0; i < 2; i++) {
                const gr_node *in = input_of(e, i);
                assert_int_equal(in->dtype, want);
                assert_true(in->op == GR_OP_INPUT || in->op == GR_OP_CAST);
            }
        }
    /* a cast is inserted exactly for the input whose dtype differs */
    kiln_expr x8 = arr(ctx, KILN_INT8), xf = arr(ctx, KILN_FLOAT32);
    kiln_expr e = kiln_multiply(x8, xf);
    const gr_node *n = node(e);
    int casts = 0;
    for (int i = 0; i < 2; i++) {
        const gr_node *in = input_of(e, i);
        if (in->op == GR_OP_CAST) {
            casts++;
            assert_int_equal(n->in[i] == x8.id_, 0);
            assert_int_equal(in->in[0], x8.id_);
        } else {
            assert_int_equal(n->in[i], xf.id_);
        }
    }
    assert_int_equal(casts, 1);
}

/* ---- weak scalars ------------------------------------------------------------------- */

static void test_weak_scalars(void **state)
{
    kiln_ctx *ctx = *state;
    kiln_expr f32 = arr(ctx, KILN_FLOAT32), f64 = arr(ctx, KILN_FLOAT64);
    kiln_expr i8 = arr(ctx, KILN_INT8), i16 = arr(ctx, KILN_INT16), i32 = arr(ctx, KILN_INT32);
    kiln_expr u8 = arr(ctx, KILN_UINT8), u64 = arr(ctx, KILN_UINT64), b = arr(ctx, KILN_BOOL);

    /* the lesson's cases */
    check_dtype(kiln_multiply(f32, kiln_f64(ctx, 2.0)), KILN_FLOAT32, "f32 * 2.0");
    check_dtype(kiln_add(i8, kiln_i64(ctx, 1)), KILN_INT8, "i8 + 1");
    check_dtype(kiln_multiply(i32, kiln_f64(ctx, 1.5)), KILN_FLOAT64, "i32 * 1.5");
    check_error(kiln_add(u8, kiln_i64(ctx, 300)), KILN_EOVERFLOW,
                "Python integer 300 out of bounds for uint8", NULL);
    assert_string_equal(kiln_errmsg(ctx), "Python integer 300 out of bounds for uint8");

    /* the weak side's position does not matter */
    check_dtype(kiln_multiply(kiln_f64(ctx, 2.0), f32), KILN_FLOAT32, "2.0 * f32");
    check_dtype(kiln_subtract(kiln_i64(ctx, 1), i8), KILN_INT8, "1 - i8");
    check_error(kiln_subtract(kiln_i64(ctx, 256), u8), KILN_EOVERFLOW, "256", "uint8");

    /* range edges of the weak int */
    check_dtype(kiln_add(u8, kiln_i64(ctx, 255)), KILN_UINT8, "u8 + 255");
    check_dtype(kiln_add(u8, kiln_i64(ctx, 0)), KILN_UINT8, "u8 + 0");
    check_error(kiln_add(u8, kiln_i64(ctx, -1)), KILN_EOVERFLOW,
                "Python integer -1 out of bounds for uint8", NULL);
    check_dtype(kiln_add(i8, kiln_i64(ctx, -128)), KILN_INT8, "i8 + -128");
    check_dtype(kiln_add(i8, kiln_i64(ctx, 127)), KILN_INT8, "i8 + 127");
    check_error(kiln_add(i8, kiln_i64(ctx, 128)), KILN_EOVERFLOW, "128", "int8");
    check_error(kiln_add(i8, kiln_i64(ctx, -129)), KILN_EOVERFLOW, "-129", "int8");
    check_error(kiln_add(i16, kiln_i64(ctx, 40000)), KILN_EOVERFLOW, "40000", "int16");
    check_dtype(kiln_add(u64, kiln_i64(ctx, INT64_MAX)), KILN_UINT64, "u64 + max");
    check_error(kiln_add(u64, kiln_i64(ctx, -1)), KILN_EOVERFLOW, "-1", "uint64");
    check_dtype(kiln_add(arr(ctx, KILN_INT64), kiln_i64(ctx, INT64_MIN)), KILN_INT64, "i64 + min");

    /* the weak int becomes a strong SCALAR of the array's dtype, no cast */
    kiln_expr e = kiln_add(u8, kiln_i64(ctx, 255));
    int found = 0;
    for (int i = 0; i < 2; i++) {
        const gr_node *in = input_of(e, i);
        if (in->op == GR_OP_SCALAR) {
            found++;
            assert_int_equal(in->dtype, KILN_UINT8);
            assert_false(in->nflags & GR_NF_WEAK);
            assert_int_equal(in->a.scalar.u, 255);
        }
    }
    assert_int_equal(found, 1);
    /* weak float into float32: rounded to float */
    e = kiln_multiply(f32, kiln_f64(ctx, 0.1));
    const gr_node *c = input_of(e, 0)->op == GR_OP_SCALAR ? input_of(e, 0) : input_of(e, 1);
    assert_int_equal(c->op, GR_OP_SCALAR);
    assert_int_equal(c->dtype, KILN_FLOAT32);
    assert_true(c->a.scalar.f == (double)0.1f);

    /* kinds: a weak scalar of a higher kind raises the dtype */
    check_dtype(kiln_add(b, kiln_i64(ctx, 1)), KILN_INT64, "bool + 1");
    check_dtype(kiln_add(b, kiln_f64(ctx, 1.5)), KILN_FLOAT64, "bool + 1.5");
    check_dtype(kiln_multiply(i16, kiln_f64(ctx, 2.0)), KILN_FLOAT64, "i16 * 2.0");
    check_dtype(kiln_multiply(u8, kiln_f64(ctx, 2.0)), KILN_FLOAT64, "u8 * 2.0");
    check_dtype(kiln_add(f32, kiln_i64(ctx, 1)), KILN_FLOAT32, "f32 + 1");
    check_dtype(kiln_add(f32, kiln_i64(ctx, INT64_MAX)), KILN_FLOAT32, "f32 + huge int");
    check_dtype(kiln_add(f64, kiln_i64(ctx, 1)), KILN_FLOAT64, "f64 + 1");
    /* a weak bool is weaker than everything */
    check_dtype(kiln_add(b, kiln_bool(ctx, 1)), KILN_BOOL, "bool + True");
    check_dtype(kiln_add(i8, kiln_bool(ctx, 1)), KILN_INT8, "i8 + True");
    check_dtype(kiln_add(u8, kiln_bool(ctx, 1)), KILN_UINT8, "u8 + True");
    check_dtype(kiln_add(f32, kiln_bool(ctx, 1)), KILN_FLOAT32, "f32 + True");

    /* weak with weak: weak of the higher kind */
    kiln_expr w = kiln_add(kiln_i64(ctx, 1), kiln_f64(ctx, 0.5));
    check_dtype(w, KILN_FLOAT64, "1 + 0.5");
    assert_true(node(w)->nflags & GR_NF_WEAK);
    w = kiln_add(kiln_i64(ctx, 1), kiln_bool(ctx, 1));
    check_dtype(w, KILN_INT64, "1 + True");
    assert_true(node(w)->nflags & GR_NF_WEAK);
    w = kiln_logical_and(kiln_bool(ctx, 1), kiln_bool(ctx, 0));
    check_dtype(w, KILN_BOOL, "True and False");
    assert_true(node(w)->nflags & GR_NF_WEAK);
    w = kiln_sqrt(kiln_i64(ctx, 4));
    check_dtype(w, KILN_FLOAT64, "sqrt(4)");
    assert_true(node(w)->nflags & GR_NF_WEAK);
    w = kiln_sqrt(kiln_bool(ctx, 1)); /* a weak result is float64, never float32 */
    check_dtype(w, KILN_FLOAT64, "sqrt(True)");
    /* ... which stays weak when it meets an array */
    check_dtype(kiln_multiply(f32, kiln_add(kiln_i64(ctx, 1), kiln_f64(ctx, 0.5))), KILN_FLOAT32,
                "f32 * (1 + 0.5)");
    check_dtype(kiln_add(i8, kiln_add(kiln_i64(ctx, 1), kiln_i64(ctx, 2))), KILN_INT8,
                "i8 + (1 + 2)");
    check_error(kiln_add(u8, kiln_multiply(kiln_i64(ctx, 100), kiln_i64(ctx, 3))),
                KILN_EOVERFLOW, "300", "uint8");

    /* strong scalars promote like arrays (NumPy scalars are strong) */
    double d = 2.0;
    kiln_expr s64 = kiln_scalar(ctx, KILN_FLOAT64, &d);
    check_dtype(kiln_multiply(f32, s64), KILN_FLOAT64, "f32 * float64(2)");
    int16_t h = 3;
    check_dtype(kiln_add(i8, kiln_scalar(ctx, KILN_INT16, &h)), KILN_INT16, "i8 + int16(3)");
    int8_t small = 100;
    check_error(kiln_add(kiln_scalar(ctx, KILN_INT8, &small), kiln_i64(ctx, 300)), KILN_EOVERFLOW,
                "300", "int8");
    /* the weak flag is lost by explicit casts */
    kiln_expr cw = kiln_cast(kiln_i64(ctx, 7), KILN_INT64);
    check_dtype(cw, KILN_INT64, "cast(7)");
    assert_false(node(cw)->nflags & GR_NF_WEAK);
    check_dtype(kiln_add(i8, cw), KILN_INT64, "i8 + int64(7)");
}

/* NumPy 2 compares out-of-range Python ints correctly instead of failing:
 * the comparison runs in a dtype wide enough for both. */
static void test_weak_comparisons(void **state)
{
    kiln_ctx *ctx = *state;
    kiln_expr u8 = arr(ctx, KILN_UINT8), i8 = arr(ctx, KILN_INT8), u64 = arr(ctx, KILN_UINT64);
    struct {
        kiln_expr x;
        int64_t v;
        kiln_dtype compute;
    } cases[] = {
        {u8, 300, KILN_UINT16}, {u8, -1, KILN_INT16},   {u8, 100, KILN_UINT8},
        {i8, 200, KILN_INT16},  {i8, -1000, KILN_INT16}, {i8, 5, KILN_INT8},
        {u64, -1, KILN_FLOAT64}, {u8, 70000, KILN_UINT32},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        kiln_expr e = kiln_less(cases[k].x, kiln_i64(ctx, cases[k].v));
        check_dtype(e, KILN_BOOL, "less");
        assert_int_equal(input_of(e, 0)->dtype, cases[k].compute);
        assert_int_equal(input_of(e, 1)->dtype, cases[k].compute);
        e = kiln_equal(kiln_i64(ctx, cases[k].v), cases[k].x);
        check_dtype(e, KILN_BOOL, "equal");
        assert_int_equal(input_of(e, 0)->dtype, cases[k].compute);
    }
}

/* ---- the rules ---------------------------------------------------------------------- */

static void test_rule_dtypes(void **state)
{
    kiln_ctx *ctx = *state;
    kiln_expr x[KILN_DTYPE_COUNT];
    for (int t = 0; t < KILN_DTYPE_COUNT; t++)
        x[t] = arr(ctx, (kiln_dtype)t);

    /* FLOAT: bool and integers become float32 up to 16 bits, float64 above
     * (NumPy's float16 for the 8-bit ones is float32 here); divide is
     * float64 for every integer (NumPy's true division) */
    static const int float_of[KILN_DTYPE_COUNT] = {F4, F4, F4, F8, F8, F4, F4, F8, F8, F4, F8};
    for (int t = 0; t < KILN_DTYPE_COUNT; t++) {
        char what[64];
        snprintf(what, sizeof what, "sqrt(%s)", dname(t));
        check_dtype(kiln_sqrt(x[t]), (kiln_dtype)float_of[t], what);
        snprintf(what, sizeof what, "divide(%s)", dname(t));
        check_dtype(kiln_divide(x[t], x[t]), rt_is_float((kiln_dtype)t) ? (kiln_dtype)t : KILN_FLOAT64,
                    what);
        snprintf(what, sizeof what, "arctan2(%s)", dname(t));
        check_dtype(kiln_arctan2(x[t], x[t]), (kiln_dtype)float_of[t], what);
        snprintf(what, sizeof what, "less(%s)", dname(t));
        check_dtype(kiln_less(x[t], x[t]), KILN_BOOL, what);
        snprintf(what, sizeof what, "isnan(%s)", dname(t));
        check_dtype(kiln_isnan(x[t]), KILN_BOOL, what);
        snprintf(what, sizeof what, "logical_or(%s)", dname(t));
        check_dtype(kiln_logical_or(x[t], x[t]), KILN_BOOL, what);
        snprintf(what, sizeof what, "maximum(%s)", dname(t));
        check_dtype(kiln_maximum(x[t], x[t]), (kiln_dtype)t, what);
        snprintf(what, sizeof what, "where(%s)", dname(t));
        check_dtype(kiln_where(x[t], x[t], x[t]), (kiln_dtype)t, what);
        snprintf(what, sizeof what, "cast(%s, int16)", dname(t));
        check_dtype(kiln_cast(x[t], KILN_INT16), KILN_INT16, what);
    }
    check_dtype(kiln_sqrt(x[KILN_INT8]), KILN_FLOAT32, "sqrt(int8)");
    check_dtype(kiln_divide(x[KILN_INT8], x[KILN_INT8]), KILN_FLOAT64, "int8 / int8");
    check_dtype(kiln_divide(x[KILN_BOOL], x[KILN_BOOL]), KILN_FLOAT64, "bool / bool");
    check_dtype(kiln_divide(x[KILN_INT32], kiln_i64(ctx, 2)), KILN_FLOAT64, "int32 / 2");
    check_dtype(kiln_divide(x[KILN_FLOAT32], kiln_i64(ctx, 2)), KILN_FLOAT32, "f32 / 2");
    check_dtype(kiln_divide(x[KILN_INT8], x[KILN_FLOAT32]), KILN_FLOAT32, "int8 / f32");
    check_dtype(kiln_arctan2(x[KILN_INT8], kiln_f64(ctx, 1.5)), KILN_FLOAT64, "arctan2(i8, 1.5)");
    check_dtype(kiln_exp(x[KILN_INT64]), KILN_FLOAT64, "exp(int64)");
    check_dtype(kiln_rint(x[KILN_UINT8]), KILN_FLOAT32, "rint(uint8)");
    /* in FLOAT ops the inputs are cast to the float compute dtype */
    kiln_expr sq = kiln_sqrt(x[KILN_INT16]);
    assert_int_equal(input_of(sq, 0)->op, GR_OP_CAST);
    assert_int_equal(input_of(sq, 0)->dtype, KILN_FLOAT32);

    /* CMP: promoted inputs, bool result */
    kiln_expr lt = kiln_less(x[KILN_FLOAT32], x[KILN_INT32]);
    check_dtype(lt, KILN_BOOL, "f32 < i32");
    assert_int_equal(input_of(lt, 0)->dtype, KILN_FLOAT64);
    assert_int_equal(input_of(lt, 1)->dtype, KILN_FLOAT64);
    check_dtype(kiln_greater_equal(x[KILN_INT8], kiln_f64(ctx, 0.5)), KILN_BOOL, "i8 >= 0.5");
    /* PRED: the input is used as is */
    kiln_expr p = kiln_isinf(x[KILN_INT32]);
    check_dtype(p, KILN_BOOL, "isinf(int32)");
    assert_int_equal(node(p)->in[0], x[KILN_INT32].id_);
    check_dtype(kiln_isfinite(x[KILN_FLOAT32]), KILN_BOOL, "isfinite(f32)");
    /* LOGIC: inputs converted to bool */
    kiln_expr la = kiln_logical_and(x[KILN_FLOAT32], x[KILN_INT8]);
    check_dtype(la, KILN_BOOL, "f32 and i8");
    assert_int_equal(input_of(la, 0)->dtype, KILN_BOOL);
    assert_int_equal(input_of(la, 1)->dtype, KILN_BOOL);
    check_dtype(kiln_logical_not(x[KILN_INT32]), KILN_BOOL, "not int32");
    check_dtype(kiln_logical_xor(x[KILN_UINT8], kiln_f64(ctx, 2.0)), KILN_BOOL, "u8 xor 2.0");
    /* BITS: bool or integer */
    check_dtype(kiln_bitwise_and(x[KILN_INT8], x[KILN_UINT8]), KILN_INT16, "i8 & u8");
    check_dtype(kiln_bitwise_or(x[KILN_BOOL], x[KILN_BOOL]), KILN_BOOL, "bool | bool");
    check_dtype(kiln_bitwise_xor(x[KILN_UINT16], kiln_i64(ctx, 3)), KILN_UINT16, "u16 ^ 3");
    check_dtype(kiln_bitwise_not(x[KILN_BOOL]), KILN_BOOL, "~bool");
    check_dtype(kiln_bitwise_not(x[KILN_UINT8]), KILN_UINT8, "~u8");
    /* SHIFT: integers */
    check_dtype(kiln_left_shift(x[KILN_INT8], x[KILN_INT8]), KILN_INT8, "i8 << i8");
    check_dtype(kiln_left_shift(x[KILN_UINT8], kiln_i64(ctx, 3)), KILN_UINT8, "u8 << 3");
    check_dtype(kiln_right_shift(x[KILN_INT32], x[KILN_UINT32]), KILN_INT64, "i32 >> u32");
    check_dtype(kiln_left_shift(x[KILN_BOOL], kiln_i64(ctx, 1)), KILN_INT64, "bool << 1");
    /* SAME */
    check_dtype(kiln_add(x[KILN_INT8], x[KILN_INT8]), KILN_INT8, "i8 + i8");
    check_dtype(kiln_subtract(x[KILN_BOOL], x[KILN_INT8]), KILN_INT8, "bool - i8");
    check_dtype(kiln_absolute(x[KILN_BOOL]), KILN_BOOL, "abs(bool)");
    check_dtype(kiln_floor(x[KILN_INT32]), KILN_INT32, "floor(int32)");
    check_dtype(kiln_power(x[KILN_UINT8], kiln_i64(ctx, 2)), KILN_UINT8, "u8 ** 2");
    check_dtype(kiln_square(x[KILN_FLOAT32]), KILN_FLOAT32, "square(f32)");
    /* WHERE: condition to bool, branches promoted */
    kiln_expr wh = kiln_where(x[KILN_INT32], x[KILN_INT8], x[KILN_FLOAT32]);
    check_dtype(wh, KILN_FLOAT32, "where(i32, i8, f32)");
    assert_int_equal(input_of(wh, 0)->dtype, KILN_BOOL);
    assert_int_equal(input_of(wh, 0)->op, GR_OP_CAST);
    assert_int_equal(input_of(wh, 1)->dtype, KILN_FLOAT32);
    assert_int_equal(node(wh)->in[2], x[KILN_FLOAT32].id_);
    check_dtype(kiln_where(x[KILN_BOOL], x[KILN_INT8], kiln_f64(ctx, 1.5)), KILN_FLOAT64,
                "where(c, i8, 1.5)");
    check_dtype(kiln_where(x[KILN_BOOL], x[KILN_FLOAT32], kiln_i64(ctx, 1)), KILN_FLOAT32,
                "where(c, f32, 1)");
    kiln_expr ww = kiln_where(x[KILN_BOOL], kiln_i64(ctx, 1), kiln_f64(ctx, 2.5));
    check_dtype(ww, KILN_FLOAT64, "where(c, 1, 2.5)");
    assert_false(node(ww)->nflags & GR_NF_WEAK); /* an array result is strong */
    check_dtype(kiln_where(kiln_bool(ctx, 1), x[KILN_UINT8], x[KILN_INT8]), KILN_INT16,
                "where(True, u8, i8)");
    check_error(kiln_where(x[KILN_BOOL], x[KILN_UINT8], kiln_i64(ctx, 300)), KILN_EOVERFLOW,
                "Python integer 300 out of bounds for uint8", NULL);
    /* clip: the three promoted together (via maximum and minimum) */
    check_dtype(kiln_clip(x[KILN_FLOAT32], kiln_f64(ctx, 0.5), kiln_f64(ctx, 1.5)), KILN_FLOAT32,
                "clip(f32, 0.5, 1.5)");
    check_dtype(kiln_clip(x[KILN_INT8], x[KILN_INT16], kiln_i64(ctx, 3)), KILN_INT16,
                "clip(i8, i16, 3)");
    check_error(kiln_clip(x[KILN_UINT8], kiln_i64(ctx, 0), kiln_i64(ctx, 300)), KILN_EOVERFLOW,
                "300", "uint8");
    /* CAST: exactly the target */
    check_dtype(kiln_cast(x[KILN_FLOAT32], KILN_UINT8), KILN_UINT8, "cast(f32, u8)");
    check_dtype(kiln_cast(kiln_f64(ctx, 300.7), KILN_UINT8), KILN_UINT8, "cast(300.7, u8)");
}

/* Every op by name on int16 inputs (reductions and scans with their default
 * axes): the result dtype follows the op's rule in ops.def. */
static void test_every_op_rule(void **state)
{
    kiln_ctx *ctx = *state;
    kiln_expr a = arr(ctx, KILN_INT16), b = arr(ctx, KILN_INT16);
    kiln_expr args[3] = {a, b, a};
    for (int op = GR_OP_ERROR + 1; op < GR_OP_COUNT; op++) {
        if (op == GR_OP_CAST || gr_is_view(op) || /* views: tests/test_expr_views.c */
            gr_is_udf(op))                        /* tests/test_udf.c */
            continue;
        kiln_dtype want = KILN_INT16;
        switch ((gr_rule)gr_ops[op].rule) {
        case GR_RULE_FLOAT: want = op == GR_OP_DIVIDE ? KILN_FLOAT64 : KILN_FLOAT32; break;
        case GR_RULE_CMP:
        case GR_RULE_PRED:
        case GR_RULE_LOGIC: want = KILN_BOOL; break;
        case GR_RULE_REDUCE:
        case GR_RULE_SCAN: want = gr_reduce_dtype((gr_op)op, KILN_INT16); break;
        default: break;
        }
        check_dtype(kiln_op(ctx, gr_ops[op].name, gr_ops[op].arity, args), want, gr_ops[op].name);
    }
}

/* ---- dtype errors ------------------------------------------------------------------- */

static void test_dtype_errors(void **state)
{
    kiln_ctx *ctx = *state;
    kiln_expr f32 = arr(ctx, KILN_FLOAT32), f64 = arr(ctx, KILN_FLOAT64);
    kiln_expr i32 = arr(ctx, KILN_INT32), b = arr(ctx, KILN_BOOL), u8 = arr(ctx, KILN_UINT8);

    /* bitwise on floats */
    check_error(kiln_bitwise_and(f32, f32), KILN_EDTYPE, "bitwise_and", "float32");
    assert_string_equal(kiln_errmsg(ctx),
                        "bitwise_and: not supported for dtype float32 (needs bool or integer) "
                        "(input dtypes (float32, float32))");
    check_error(kiln_bitwise_or(i32, kiln_f64(ctx, 1.5)), KILN_EDTYPE, "bitwise_or",
                "(int32, Python float)");
    check_error(kiln_bitwise_xor(f64, b), KILN_EDTYPE, "bitwise_xor", "float64");
    check_error(kiln_bitwise_not(f64), KILN_EDTYPE, "invert", "float64");
    /* shifts on bool and float */
    check_error(kiln_left_shift(b, b), KILN_EDTYPE, "left_shift", "bool");
    assert_non_null(strstr(kiln_errmsg(ctx), "needs integer"));
    check_error(kiln_right_shift(f32, i32), KILN_EDTYPE, "right_shift", "float64");
    check_error(kiln_left_shift(u8, kiln_f64(ctx, 2.0)), KILN_EDTYPE, "left_shift", "float64");
    check_error(kiln_right_shift(b, kiln_bool(ctx, 1)), KILN_EDTYPE, "right_shift", "bool");
    /* NOBOOL ops on bool */
    check_error(kiln_subtract(b, b), KILN_EDTYPE, "subtract", "bool");
    assert_non_null(strstr(kiln_errmsg(ctx), "logical_xor"));
    check_error(kiln_negative(b), KILN_EDTYPE, "negative", "bool");
    assert_non_null(strstr(kiln_errmsg(ctx), "logical_not"));
    check_error(kiln_subtract(b, kiln_bool(ctx, 1)), KILN_EDTYPE, "subtract", "Python bool");
    check_error(kiln_sign(b), KILN_EDTYPE, "sign", "bool");
    check_error(kiln_power(b, b), KILN_EDTYPE, "power", "bool");
    check_error(kiln_floor_divide(b, b), KILN_EDTYPE, "floor_divide", "bool");
    check_error(kiln_remainder(b, b), KILN_EDTYPE, "remainder", "bool");
    check_error(kiln_negative(kiln_bool(ctx, 1)), KILN_EDTYPE, "negative", "Python bool");
    /* ... but fine once promoted away from bool */
    check_dtype(kiln_subtract(b, kiln_i64(ctx, 1)), KILN_INT64, "bool - 1");
    check_dtype(kiln_negative(kiln_cast(b, KILN_INT8)), KILN_INT8, "-int8(bool)");
    /* errors are sticky through later ops */
    kiln_expr err = kiln_bitwise_and(f32, i32);
    check_error(kiln_add(kiln_sqrt(err), f32), KILN_EDTYPE, "bitwise_and", NULL);
    /* no node was made for a refused op: its error is a fresh ERROR node */
    assert_int_equal(node(err)->op, GR_OP_ERROR);
    assert_int_equal(node(err)->a.err.status, KILN_EDTYPE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_promote_table, setup, teardown),
        cmocka_unit_test_setup_teardown(test_weak_scalars, setup, teardown),
        cmocka_unit_test_setup_teardown(test_weak_comparisons, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rule_dtypes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_every_op_rule, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dtype_errors, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
