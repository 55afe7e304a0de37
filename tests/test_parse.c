/* tests/test_parse.c — frontend/parse.c: expression strings build the very
 * nodes the C API builds (kiln_expr_same), with Python's precedence and
 * associativity; every elementwise op by name; weak literals; views of
 * named arrays and record fields (values checked by evaluation); the view
 * cache; and every error path: its status, its message (what, the source
 * line, the caret column, the known names closest first, expected vs given
 * argument counts), binding validation, stickiness, and allocation failure
 * at every allocation. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "testutil.h"

#include "graph/graph.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- fixture: x, y (float64 (4,)), z (float64 (3,)), m (int64 (3, 4)),
 * b (bool (4,)), i8 (int8 (4,)), f32 (float32 (4,)) ------------------------ */

#define NB 7
typedef struct fx {
    kiln_ctx *ctx;
    kiln_array *a[NB];
    kiln_expr in[NB];
} fx;
static const char *const NAMES[NB] = {"x", "y", "z", "m", "b", "i8", "f32"};
enum { X, Y, Z, M, B, I8, F32 };

static int setup(void **state)
{
    fx *f = calloc(1, sizeof *f);
    f->ctx = kiln_ctx_new(NULL);
    f->a[X] = tu_array(f->ctx, KILN_FLOAT64, 1, (int64_t[]){4}, (double[]){-2, -1, 0.5, 3});
    f->a[Y] = tu_array(f->ctx, KILN_FLOAT64, 1, (int64_t[]){4}, (double[]){10, 20, 30, 40});
    f->a[Z] = tu_array(f->ctx, KILN_FLOAT64, 1, (int64_t[]){3}, (double[]){1, 2, 3});
    f->a[M] = tu_arange(f->ctx, KILN_INT64, 2, (int64_t[]){3, 4});
    f->a[B] = tu_array(f->ctx, KILN_BOOL, 1, (int64_t[]){4}, (double[]){1, 0, 1, 0});
    f->a[I8] = tu_array(f->ctx, KILN_INT8, 1, (int64_t[]){4}, (double[]){1, 2, 3, 4});
    f->a[F32] = tu_array(f->ctx, KILN_FLOAT32, 1, (int64_t[]){4}, (double[]){1, 2, 3, 4});
    for (int i = 0; i < NB; i++)
        f->in[i] = kiln_input(f->ctx, f->a[i]);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx *f = *state;
    for (int i = 0; i < NB; i++)
        kiln_array_release(f->a[i]);
    kiln_ctx_free(f->ctx);
    free(f);
    return 0;
}

static kiln_expr P(fx *f, const char *src)
{
    return kiln_parse(f->ctx, src, NB, NAMES, f->a);
}

/* src parses OK into the same node as want. */
static void assert_same(fx *f, const char *src, kiln_expr want)
{
    assert_int_equal(kiln_expr_status(want), KILN_OK);
    kiln_clear_error(f->ctx);
    kiln_expr e = P(f, src);
    if (kiln_expr_status(e) != KILN_OK)
        fail_msg("'%s' failed: %s", src, kiln_errmsg(f->ctx));
    assert_int_equal(kiln_errcode(f->ctx), KILN_OK); /* success records nothing */
    if (!kiln_expr_same(e, want))
        fail_msg("'%s' did not build the expected node", src);
}

/* src parses and evaluates (interpreter) to n values. */
static void assert_values(fx *f, const char *src, int rank, const int64_t *shape, int64_t n,
                          const double *want)
{
    kiln_expr e = P(f, src);
    if (kiln_expr_status(e) != KILN_OK)
        fail_msg("'%s' failed: %s", src, kiln_errmsg(f->ctx));
    kiln_array *r = tu_eval(e, KILN_MODE_INTERP);
    assert_int_equal(kiln_array_rank(r), rank);
    for (int k = 0; k < rank; k++)
        if (kiln_array_shape(r)[k] != shape[k])
            fail_msg("'%s': extent %d is %lld, want %lld", src, k,
                     (long long)kiln_array_shape(r)[k], (long long)shape[k]);
    assert_int_equal(kiln_array_size(r), n);
    for (int64_t i = 0; i < n; i++)
        if (kiln_array_get_f64(r, i) != want[i] &&
            !(isnan(want[i]) && isnan(kiln_array_get_f64(r, i))))
            fail_msg("'%s': element %lld is %.17g, want %.17g", src, (long long)i,
                     kiln_array_get_f64(r, i), want[i]);
    kiln_array_release(r);
}
#define SHAPE(...) (int)(sizeof((int64_t[]){__VA_ARGS__}) / sizeof(int64_t)), ((int64_t[]){__VA_ARGS__})
#define VALS(...) (int64_t)(sizeof((double[]){__VA_ARGS__}) / sizeof(double)), ((double[]){__VA_ARGS__})

/* The caret's column (1-based) in a message: the line holding '^', minus
 * the 4-space indent. -1 if there is none. */
static int caret_col(const char *msg)
{
    const char *c = strchr(msg, '^');
    if (!c)
        return -1;
    const char *l = c;
    while (l > msg && l[-1] != '\n')
        l--;
    return (int)(c - l) - 4 + 1;
}

/* src fails with status st; the message contains each of the NULL-ended
 * substrings; the caret is at column col (0: not checked). Returns the
 * message. */
static const char *assert_fails(fx *f, const char *src, kiln_status st, int col, ...)
{
    kiln_expr e = P(f, src);
    if (kiln_expr_status(e) != st)
        fail_msg("'%s': status %s, want %s (%s)", src, kiln_status_name(kiln_expr_status(e)),
                 kiln_status_name(st), kiln_errmsg(f->ctx));
    assert_int_equal(kiln_errcode(f->ctx), st);
    const char *msg = kiln_errmsg(f->ctx);
    va_list ap;
    va_start(ap, col);
    for (const char *s; (s = va_arg(ap, const char *)) != NULL;)
        if (!strstr(msg, s))
            fail_msg("'%s': message lacks \"%s\":\n%s", src, s, msg);
    va_end(ap);
    if (col && caret_col(msg) != col)
        fail_msg("'%s': caret at column %d, want %d:\n%s", src, caret_col(msg), col, msg);
    assert_true(strlen(msg) < 1024);
    return msg;
}

/* ---- structure: the nodes the C API builds ---------------------------------- */

static void test_precedence(void **state)
{
    fx *f = *state;
    kiln_ctx *c = f->ctx;
    kiln_expr x = f->in[X], y = f->in[Y], m = f->in[M];
    kiln_expr one = kiln_i64(c, 1), two = kiln_i64(c, 2), three = kiln_i64(c, 3);
    assert_same(f, "x", x);
    assert_same(f, "x + 2*y", kiln_add(x, kiln_multiply(two, y)));
    assert_same(f, "(x + 2)*y", kiln_multiply(kiln_add(x, two), y));
    assert_same(f, "x - y - 1", kiln_subtract(kiln_subtract(x, y), one));
    assert_same(f, "x / y / 2", kiln_divide(kiln_divide(x, y), two));
    assert_same(f, "x ** y ** 3", kiln_power(x, kiln_power(y, three)));
    assert_same(f, "-x ** 3", kiln_negative(kiln_power(x, three)));
    assert_same(f, "-x ** 2", kiln_negative(kiln_square(x)));
    assert_same(f, "-x * y", kiln_multiply(kiln_negative(x), y));
    assert_same(f, "x ** -y", kiln_power(x, kiln_negative(y)));
    assert_same(f, "x * y ** 3", kiln_multiply(x, kiln_power(y, three)));
    assert_same(f, "x // y % 2", kiln_remainder(kiln_floor_divide(x, y), two));
    assert_same(f, "m << 1 + m", kiln_left_shift(m, kiln_add(one, m)));
    assert_same(f, "m >> 2 - 1 << m",
                kiln_left_shift(kiln_right_shift(m, kiln_subtract(two, one)), m));
    assert_same(f, "m & m | m ^ m",
                kiln_bitwise_or(kiln_bitwise_and(m, m), kiln_bitwise_xor(m, m)));
    assert_same(f, "m | m & m", kiln_bitwise_or(m, kiln_bitwise_and(m, m)));
    assert_same(f, "m ^ m & m", kiln_bitwise_xor(m, kiln_bitwise_and(m, m)));
    assert_same(f, "m & m << 1", kiln_bitwise_and(m, kiln_left_shift(m, one)));
    assert_same(f, "~m & m", kiln_bitwise_and(kiln_bitwise_not(m), m));
    assert_same(f, "m < m | m", kiln_less(m, kiln_bitwise_or(m, m)) /* Python: | first */);
    assert_same(f, "(x < y) | (y > x)", kiln_bitwise_or(kiln_less(x, y), kiln_greater(y, x)));
    assert_same(f, "x + 1 == y - 1", kiln_equal(kiln_add(x, one), kiln_subtract(y, one)));
    assert_same(f, "+x", x);
    assert_same(f, "- - x", kiln_negative(kiln_negative(x)));
    assert_same(f, "-(-x)", kiln_negative(kiln_negative(x)));
    assert_same(f, " \t\n x\n+\r\n1 ", kiln_add(x, one));
    assert_same(f, "((((x))))", x);
}

/* ** with a literal exponent on a float array takes NumPy's fast path
 * (square, sqrt, reciprocal); everything else is power. */
static void test_power_fast_path(void **state)
{
    fx *f = *state;
    kiln_ctx *c = f->ctx;
    kiln_expr x = f->in[X], y = f->in[Y], m = f->in[M], f32 = f->in[F32];
    kiln_expr one = kiln_i64(c, 1), two = kiln_i64(c, 2);
    assert_same(f, "x ** 2", kiln_square(x));
    assert_same(f, "x ** 2.0", kiln_square(x));
    assert_same(f, "x ** (2)", kiln_square(x));
    assert_same(f, "(x + y) ** 2", kiln_square(kiln_add(x, y)));
    assert_same(f, "x[::-1] ** 2", kiln_square(P(f, "x[::-1]")));
    assert_same(f, "f32 ** 2", kiln_square(f32));
    assert_same(f, "x ** 0.5", kiln_sqrt(x));
    assert_same(f, "x ** -1", kiln_divide(one, x));
    assert_same(f, "x ** -1.0", kiln_divide(one, x));
    assert_same(f, "2 * x ** 2 + 1", kiln_add(kiln_multiply(two, kiln_square(x)), one));
    /* power: np.power by name, other exponents, integer bases, array exponents */
    assert_same(f, "power(x, 2)", kiln_power(x, two));
    assert_same(f, "x ** 3", kiln_power(x, kiln_i64(c, 3)));
    assert_same(f, "x ** -2", kiln_power(x, kiln_i64(c, -2)));
    assert_same(f, "x ** y", kiln_power(x, y));
    assert_same(f, "m ** 2", kiln_power(m, two));
    assert_same(f, "2.0 ** 2", kiln_f64(c, 4.0));
    /* the dtype stays x's: float32 ** 2 is float32 */
    assert_int_equal(kiln_expr_dtype(P(f, "f32 ** 2")), KILN_FLOAT32);
    assert_int_equal(kiln_expr_dtype(P(f, "f32 ** -1")), KILN_FLOAT32);
    /* known answers, where pow and the fast path differ: sqrt(-0.0) is -0.0
     * (pow(-0.0, 0.5) is +0.0), sqrt(-inf) NaN (pow: +inf) */
    double in[3] = {-0.0, -INFINITY, 6.25};
    kiln_array *a = tu_array(c, KILN_FLOAT64, 1, (int64_t[]){3}, in);
    const char *names[1] = {"v"};
    kiln_expr e = kiln_parse(c, "v ** 0.5", 1, names, &a);
    kiln_array *r = tu_eval(e, KILN_MODE_INTERP);
    assert_true(signbit(kiln_array_get_f64(r, 0)) && kiln_array_get_f64(r, 0) == 0.0);
    assert_true(isnan(kiln_array_get_f64(r, 1)));
    assert_true(kiln_array_get_f64(r, 2) == 2.5);
    kiln_array_release(r);
    kiln_array_release(a);
    assert_values(f, "x ** 2", SHAPE(4), VALS(4, 1, 0.25, 9));
    assert_values(f, "x ** -1", SHAPE(4), VALS(-0.5, -1, 2, 1.0 / 3.0));
    /* errors around a fast-path ** point where they would around power */
    assert_fails(f, "x ** 2 + z", KILN_ESHAPE, 8, "(4,)", "(3,)", NULL);
    assert_fails(f, "z ** 0.5 - x", KILN_ESHAPE, 10, "(3,)", "(4,)", NULL);
}

static void test_binary_operators(void **state)
{
    fx *f = *state;
    static const struct {
        const char *tok, *op;
    } ops[] = {
        {"+", "add"},         {"-", "subtract"},      {"*", "multiply"},
        {"/", "divide"},      {"//", "floor_divide"}, {"%", "remainder"},
        {"**", "power"},      {"&", "bitwise_and"},   {"|", "bitwise_or"},
        {"^", "bitwise_xor"}, {"<<", "left_shift"},   {">>", "right_shift"},
        {"<", "less"},        {"<=", "less_equal"},   {">", "greater"},
        {">=", "greater_equal"}, {"==", "equal"},     {"!=", "not_equal"},
    };
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++) {
        char src[32];
        snprintf(src, sizeof src, "m %s m", ops[i].tok);
        kiln_expr args[2] = {f->in[M], f->in[M]};
        assert_same(f, src, kiln_op(f->ctx, ops[i].op, 2, args));
    }
    assert_same(f, "~m", kiln_bitwise_not(f->in[M]));
    assert_same(f, "~b", kiln_bitwise_not(f->in[B]));
    assert_same(f, "-m", kiln_negative(f->in[M]));
}

/* Every elementwise op of graph/ops.def is callable by its NumPy name, and
 * so are the aliases, clip and the casts. */
static void test_every_op_by_name(void **state)
{
    fx *f = *state;
    int tested = 0;
    for (int op = 0; op < GR_OP_COUNT; op++) {
        if (gr_ops[op].rule == GR_RULE_LEAF || op == GR_OP_CAST || gr_is_view(op) ||
            gr_is_udf(op)) /* registered functions by name: tests/test_udf.c */
            continue;
        int n = gr_ops[op].arity;
        char src[96];
        kiln_expr args[3] = {f->in[X], f->in[Y], f->in[X]};
        if (n == 1)
            snprintf(src, sizeof src, "%s(x)", gr_ops[op].name);
        else if (n == 2)
            snprintf(src, sizeof src, "%s(x, y)", gr_ops[op].name);
        else
            snprintf(src, sizeof src, "%s(x, y, x)", gr_ops[op].name);
        kiln_expr want = kiln_op(f->ctx, gr_ops[op].name, n, args);
        if (kiln_expr_status(want) != KILN_OK) { /* e.g. bitwise ops reject floats: use m */
            kiln_expr margs[3] = {f->in[M], f->in[M], f->in[M]};
            want = kiln_op(f->ctx, gr_ops[op].name, n, margs);
            snprintf(src, sizeof src, n == 1 ? "%s(m)" : n == 2 ? "%s(m, m)" : "%s(m, m, m)",
                     gr_ops[op].name);
        }
        assert_same(f, src, want);
        tested++;
    }
    assert_true(tested >= 50);
    kiln_expr x = f->in[X], y = f->in[Y];
    assert_same(f, "abs(x)", kiln_absolute(x));
    assert_same(f, "mod(x, y)", kiln_remainder(x, y));
    assert_same(f, "true_divide(x, y)", kiln_divide(x, y));
    assert_same(f, "bitwise_not(m)", kiln_bitwise_not(f->in[M]));
    assert_same(f, "clip(x, 0, 1)", kiln_clip(x, kiln_i64(f->ctx, 0), kiln_i64(f->ctx, 1)));
    assert_same(f, "where(x > 0, x, 0.01*x)",
                kiln_where(kiln_greater(x, kiln_i64(f->ctx, 0)), x,
                           kiln_multiply(kiln_f64(f->ctx, 0.01), x)));
    for (int t = 0; t < KILN_DTYPE_COUNT; t++) {
        char src[64];
        snprintf(src, sizeof src, "%s(x + 1)", kiln_dtype_name((kiln_dtype)t));
        assert_same(f, src, kiln_cast(kiln_add(x, kiln_i64(f->ctx, 1)), (kiln_dtype)t));
    }
    assert_same(f, "sin(cos(x) + tan(y))", kiln_sin(kiln_add(kiln_cos(x), kiln_tan(y))));
    assert_same(f, "maximum(x, y,)", kiln_maximum(x, y)); /* trailing comma */
}

static void test_literals(void **state)
{
    fx *f = *state;
    kiln_ctx *c = f->ctx;
    kiln_expr x = f->in[X];
    assert_same(f, "x + 1", kiln_add(x, kiln_i64(c, 1)));
    assert_same(f, "x + 2.5", kiln_add(x, kiln_f64(c, 2.5)));
    assert_same(f, "x + 1e-3", kiln_add(x, kiln_f64(c, 1e-3)));
    assert_same(f, "x + 1E+3", kiln_add(x, kiln_f64(c, 1000.0)));
    assert_same(f, "x + .5", kiln_add(x, kiln_f64(c, 0.5)));
    assert_same(f, "x + 5.", kiln_add(x, kiln_f64(c, 5.0)));
    assert_same(f, "x + 1.5e300", kiln_add(x, kiln_f64(c, 1.5e300)));
    assert_same(f, "x + 0.1", kiln_add(x, kiln_f64(c, 0.1)));
    assert_same(f, "x + 0x1F", kiln_add(x, kiln_i64(c, 31)));
    assert_same(f, "x + 0o17", kiln_add(x, kiln_i64(c, 15)));
    assert_same(f, "x + 0b101", kiln_add(x, kiln_i64(c, 5)));
    assert_same(f, "x + 0", kiln_add(x, kiln_i64(c, 0)));
    assert_same(f, "x + 00", kiln_add(x, kiln_i64(c, 0)));
    assert_same(f, "x + 007.5", kiln_add(x, kiln_f64(c, 7.5)));
    assert_same(f, "x * True", kiln_multiply(x, kiln_bool(c, 1)));
    assert_same(f, "x * False", kiln_multiply(x, kiln_bool(c, 0)));
    assert_same(f, "x + inf", kiln_add(x, kiln_f64(c, INFINITY)));
    assert_same(f, "x + nan", kiln_add(x, kiln_f64(c, NAN)));
    assert_same(f, "x * pi", kiln_multiply(x, kiln_f64(c, 3.141592653589793)));
    assert_same(f, "x + 9223372036854775807", kiln_add(x, kiln_i64(c, INT64_MAX)));
    assert_same(f, "x + -9223372036854775808", kiln_add(x, kiln_i64(c, INT64_MIN)));
    assert_same(f, "x + -0.0", kiln_add(x, kiln_f64(c, -0.0)));
    assert_same(f, "x + 0xFFFFFFFFFFFFFFF", kiln_add(x, kiln_i64(c, 0xFFFFFFFFFFFFFFFll)));
    /* Literals are weak: they take the array's dtype (NEP 50). */
    assert_int_equal(kiln_expr_dtype(P(f, "f32 * 2.0")), KILN_FLOAT32);
    assert_int_equal(kiln_expr_dtype(P(f, "i8 + 1")), KILN_INT8);
    assert_int_equal(kiln_expr_dtype(P(f, "b & True")), KILN_BOOL);
    assert_int_equal(kiln_expr_dtype(P(f, "i8 / 2")), KILN_FLOAT64);
    /* Constant expressions are rank-0 and evaluate as Python would. */
    assert_values(f, "-2**2", 0, NULL, VALS(-4));
    assert_values(f, "2**3**2", 0, NULL, VALS(512));
    assert_values(f, "(-2)**2", 0, NULL, VALS(4));
    assert_values(f, "7 // 2 + 7 % 3 * 10", 0, NULL, VALS(13));
    assert_values(f, "-7 // 2", 0, NULL, VALS(-4));
    assert_values(f, "1 + 2 * 3 - 4 / 8", 0, NULL, VALS(6.5));
    assert_values(f, "1 << 4 >> 2", 0, NULL, VALS(4));
    assert_values(f, "6 & 3 | 8 ^ 1", 0, NULL, VALS(11));
    assert_values(f, "--9", 0, NULL, VALS(9));
    /* Inputs shadow the constants. */
    const char *names[1] = {"pi"};
    kiln_array *arrs[1] = {f->a[X]};
    kiln_expr e = kiln_parse(c, "pi", 1, names, arrs);
    assert_true(kiln_expr_same(e, x));
}

static void test_eval_example(void **state)
{
    fx *f = *state;
    assert_values(f, "where(x > 0, x, 0.01*x)", SHAPE(4), VALS(-0.02, -0.01, 0.5, 3));
    assert_values(f, "x + y", SHAPE(4), VALS(8, 19, 30.5, 43));
    assert_values(f, "m[:, None, 0] * 2", SHAPE(3, 1), VALS(0, 8, 16));
    assert_values(f, "float32(m[1]) / 2", SHAPE(4), VALS(2, 2.5, 3, 3.5));
    assert_int_equal(kiln_expr_dtype(P(f, "float32(m) / 2")), KILN_FLOAT32);
    assert_values(f, "clip(x, -1, 1)", SHAPE(4), VALS(-1, -1, 0.5, 1));
    assert_values(f, "x > 0 \n", SHAPE(4), VALS(0, 0, 1, 1));
}

/* ---- views --------------------------------------------------------------- */

static void test_views(void **state)
{
    fx *f = *state;
    /* m = arange(12).reshape(3, 4) */
    assert_values(f, "x[1:]", SHAPE(3), VALS(-1, 0.5, 3));
    assert_values(f, "x[::-1]", SHAPE(4), VALS(3, 0.5, -1, -2));
    assert_values(f, "x[-1]", 0, NULL, VALS(3));
    assert_values(f, "x[+1]", 0, NULL, VALS(-1));
    assert_values(f, "x[1:-1]", SHAPE(2), VALS(-1, 0.5));
    assert_values(f, "x[:2] + x[2:]", SHAPE(2), VALS(-1.5, 2));
    assert_values(f, "m[1:3, ::2]", SHAPE(2, 2), VALS(4, 6, 8, 10));
    assert_values(f, "m[0]", SHAPE(4), VALS(0, 1, 2, 3));
    assert_values(f, "m[-1, -2]", 0, NULL, VALS(10));
    assert_values(f, "m[:, 1]", SHAPE(3), VALS(1, 5, 9));
    assert_values(f, "m[..., 1]", SHAPE(3), VALS(1, 5, 9));
    assert_values(f, "m[1, ...]", SHAPE(4), VALS(4, 5, 6, 7));
    assert_values(f, "m[...]", SHAPE(3, 4), VALS(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11));
    assert_values(f, "m.T", SHAPE(4, 3), VALS(0, 4, 8, 1, 5, 9, 2, 6, 10, 3, 7, 11));
    assert_values(f, "m.T[0]", SHAPE(3), VALS(0, 4, 8));
    assert_values(f, "m[::2].T[::-1, 1]", SHAPE(4), VALS(11, 10, 9, 8));
    assert_values(f, "x[:, None] * y[None, :2]", SHAPE(4, 2),
                  VALS(-20, -40, -10, -20, 5, 10, 30, 60));
    assert_values(f, "x[None]", SHAPE(1, 4), VALS(-2, -1, 0.5, 3));
    assert_values(f, "m[None, ..., None, 0]", SHAPE(1, 3, 1), VALS(0, 4, 8));
    assert_values(f, "m[1,]", SHAPE(4), VALS(4, 5, 6, 7));
    assert_values(f, "(m)[2][3]", 0, NULL, VALS(11));
    assert_values(f, "x[1:][::2]", SHAPE(2), VALS(-1, 3));
    assert_values(f, "x[10:]", SHAPE(0), 0, NULL);
    assert_values(f, "x[-9223372036854775808:9223372036854775807:9223372036854775807]",
                  SHAPE(1), VALS(-2));
    assert_values(f, "z.T", SHAPE(3), VALS(1, 2, 3));
    assert_values(f, "+x[0]", 0, NULL, VALS(-2));
}

/* Equal views share one INPUT node, in one parse and across parses (the
 * graph keys an input by the elements it reads). */
static void test_view_cache(void **state)
{
    fx *f = *state;
    uint64_t before = kiln_ctx_counter(f->ctx, KILN_COUNTER_NODES_LIVE);
    kiln_expr e = P(f, "x[1:] * x[1:] + x[1:]");
    assert_int_equal(kiln_expr_status(e), KILN_OK);
    /* one INPUT, one multiply, one add */
    assert_int_equal(kiln_ctx_counter(f->ctx, KILN_COUNTER_NODES_LIVE) - before, 3);
    before = kiln_ctx_counter(f->ctx, KILN_COUNTER_NODES_LIVE);
    e = P(f, "x[1:] * x[:3]");
    assert_int_equal(kiln_expr_status(e), KILN_OK);
    /* x[1:] is the first parse's INPUT: one new INPUT, one multiply */
    assert_int_equal(kiln_ctx_counter(f->ctx, KILN_COUNTER_NODES_LIVE) - before, 2);
}

/* ---- records -------------------------------------------------------------- */

/* 3 packed records: f8 'temperature' at 0, i4 'pressure' at 8, u1 'flag' at 12. */
typedef struct __attribute__((packed)) rec13 {
    double t;
    int32_t p;
    uint8_t flag;
} rec13;

static const kiln_field FIELDS[3] = {
    {"temperature", 0, KILN_FLOAT64},
    {"pressure", 8, KILN_INT32},
    {"flag", 12, KILN_UINT8},
};

static void test_records(void **state)
{
    fx *f = *state;
    static rec13 data[3] = {{1.5, 100, 1}, {2.5, 200, 0}, {-3.0, 300, 1}};
    kiln_array *r = NULL;
    assert_int_equal(kiln_array_wrap_records(f->ctx, data, 3, 13, 0, NULL, NULL, &r), KILN_OK);
    kiln_array *r2 = NULL; /* a 2-D record array: shape (2, 3, 13) as (2, 3) records */
    static rec13 d2[6] = {{0, 0, 0}, {1, 10, 0}, {2, 20, 0}, {3, 30, 0}, {4, 40, 0}, {5, 50, 0}};
    assert_int_equal(kiln_array_wrap(f->ctx, d2, KILN_UINT8, 3, (int64_t[]){2, 3, 13}, NULL,
                                     NULL, NULL, &r2),
                     KILN_OK);
    kiln_binding b[3] = {
        {"rec", r, FIELDS, 3},
        {"x", f->a[X], NULL, 0},
        {"grid", r2, FIELDS, 3},
    };
#define PR(src) kiln_parse_bindings(f->ctx, src, 3, b)
    struct {
        const char *src;
        int rank;
        int64_t shape[3];
        int64_t n;
        double want[6];
    } cases[] = {
        {"rec.temperature", 1, {3}, 3, {1.5, 2.5, -3}},
        {"rec.pressure * 2", 1, {3}, 3, {200, 400, 600}},
        {"rec['pressure']", 1, {3}, 3, {100, 200, 300}},
        {"rec[\"flag\"]", 1, {3}, 3, {1, 0, 1}},
        {"rec[1:].temperature", 1, {2}, 2, {2.5, -3}},
        {"rec[::-1]['pressure']", 1, {3}, 3, {300, 200, 100}},
        {"rec[0].pressure", 0, {0}, 1, {100}},
        {"rec[:, None].pressure", 2, {3, 1}, 3, {100, 200, 300}},
        {"rec.T.pressure", 1, {3}, 3, {100, 200, 300}},
        {"rec.temperature[1:]", 1, {2}, 2, {2.5, -3}},
        {"where(rec.flag == 1, rec.temperature, 0)", 1, {3}, 3, {1.5, 0, -3}},
        {"grid.pressure", 2, {2, 3}, 6, {0, 10, 20, 30, 40, 50}},
        {"grid.T.pressure", 2, {3, 2}, 6, {0, 30, 10, 40, 20, 50}},
        {"grid[1].temperature", 1, {3}, 3, {3, 4, 5}},
        {"grid[..., 2].pressure", 1, {2}, 2, {20, 50}},
        {"grid[:, 1:].pressure + x[:2, None]", 2, {2, 2}, 4, {8, 18, 39, 49}},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        kiln_expr e = PR(cases[i].src);
        if (kiln_expr_status(e) != KILN_OK)
            fail_msg("'%s': %s", cases[i].src, kiln_errmsg(f->ctx));
        kiln_array *v = tu_eval(e, KILN_MODE_INTERP);
        assert_int_equal(kiln_array_rank(v), cases[i].rank);
        for (int k = 0; k < cases[i].rank; k++)
            assert_int_equal(kiln_array_shape(v)[k], cases[i].shape[k]);
        assert_int_equal(kiln_array_size(v), cases[i].n);
        for (int64_t j = 0; j < cases[i].n; j++)
            if (kiln_array_get_f64(v, j) != cases[i].want[j])
                fail_msg("'%s': element %lld is %g, want %g", cases[i].src, (long long)j,
                         kiln_array_get_f64(v, j), cases[i].want[j]);
        kiln_array_release(v);
    }
    assert_int_equal(kiln_expr_dtype(PR("rec.pressure")), KILN_INT32);
    assert_int_equal(kiln_expr_dtype(PR("rec.flag")), KILN_UINT8);

    /* errors */
    const struct {
        const char *src;
        kiln_status st;
        int col;
        const char *has[3];
    } errs[] = {
        {"rec + 1", KILN_ESYNTAX, 1,
         {"'rec' is a record array: select a field", "temperature, pressure, flag", NULL}},
        {"rec.presure", KILN_ESYNTAX, 5,
         {"record array 'rec' has no field 'presure'", "did you mean 'pressure'?",
          "fields (closest first): pressure, "}},
        {"rec['nope']", KILN_ESYNTAX, 5, {"no field 'nope'", NULL, NULL}},
        {"rec['pressure', 0]", KILN_ESYNTAX, 5, {"a field name must be the only subscript",
                                                 NULL, NULL}},
        {"x.temperature", KILN_ESYNTAX, 3, {"'x' is not a record array", NULL, NULL}},
        {"x['a']", KILN_ESYNTAX, 2, {"'x' is not a record array: it has no fields", NULL,
                                     NULL}},
        {"rec[0, 0]", KILN_EINDEX, 4, {"too many indices for array: array is 1-dimensional, "
                                       "but 2 were indexed", NULL, NULL}},
        {"rec[3].flag", KILN_EINDEX, 4, {"index 3 is out of bounds", NULL, NULL}},
        {"rec['aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa']",
         KILN_ESYNTAX, 5, {"has no field 'aaaaaaaa", NULL, NULL}},
        {"rec.temperature.pressure", KILN_ESYNTAX, 17, {"is not a record array", NULL, NULL}},
    };
    for (size_t i = 0; i < sizeof errs / sizeof errs[0]; i++) {
        kiln_expr e = PR(errs[i].src);
        if (kiln_expr_status(e) != errs[i].st)
            fail_msg("'%s': %s, want %s: %s", errs[i].src,
                     kiln_status_name(kiln_expr_status(e)), kiln_status_name(errs[i].st),
                     kiln_errmsg(f->ctx));
        const char *msg = kiln_errmsg(f->ctx);
        for (int k = 0; k < 3 && errs[i].has[k]; k++)
            if (!strstr(msg, errs[i].has[k]))
                fail_msg("'%s': message lacks \"%s\":\n%s", errs[i].src, errs[i].has[k], msg);
        if (caret_col(msg) != errs[i].col)
            fail_msg("'%s': caret at %d, want %d:\n%s", errs[i].src, caret_col(msg),
                     errs[i].col, msg);
    }
#undef PR
    kiln_array_release(r);
    kiln_array_release(r2);
}

static void test_binding_errors(void **state)
{
    fx *f = *state;
    kiln_ctx *c = f->ctx;
    kiln_array *x = f->a[X];
    static uint8_t bytes[26];
    kiln_array *r = NULL;
    assert_int_equal(kiln_array_wrap_records(c, bytes, 2, 13, 0, NULL, NULL, &r), KILN_OK);
    kiln_ctx *other = kiln_ctx_new(NULL);
    kiln_array *foreign = tu_arange(other, KILN_FLOAT64, 1, (int64_t[]){2});

    /* kiln_parse */
    assert_int_equal(kiln_expr_status(kiln_parse(NULL, "x", 0, NULL, NULL)), KILN_ENULL);
    assert_int_equal(kiln_expr_status(kiln_parse(c, NULL, 0, NULL, NULL)), KILN_ENULL);
    assert_non_null(strstr(kiln_errmsg(c), "expression string is NULL"));
    assert_int_equal(kiln_expr_status(kiln_parse(c, "x", 1, NULL, &x)), KILN_ENULL);
    assert_int_equal(kiln_expr_status(kiln_parse(c, "x", 1, (const char *[]){"x"}, NULL)),
                     KILN_ENULL);
    const struct {
        const char *name;
        kiln_array *a;
        kiln_status st;
        const char *has;
    } one[] = {
        {NULL, x, KILN_ENULL, "name 0 is NULL"},
        {"", x, KILN_EINVAL, "is not an identifier"},
        {"1x", x, KILN_EINVAL, "is not an identifier"},
        {"a b", x, KILN_EINVAL, "is not an identifier"},
        {"True", x, KILN_EINVAL, "is not an identifier"},
        {"None", x, KILN_EINVAL, "is not an identifier"},
        {"x", NULL, KILN_ENULL, "the array bound to 'x' is NULL"},
        {"x", foreign, KILN_EFOREIGN, "belongs to another context"},
    };
    for (size_t i = 0; i < sizeof one / sizeof one[0]; i++) {
        kiln_expr e = kiln_parse(c, "1", 1, &one[i].name, &one[i].a);
        assert_int_equal(kiln_expr_status(e), one[i].st);
        if (!strstr(kiln_errmsg(c), one[i].has))
            fail_msg("binding %zu: message lacks \"%s\": %s", i, one[i].has, kiln_errmsg(c));
    }
    kiln_expr e = kiln_parse(c, "x", 2, (const char *[]){"x", "x"}, (kiln_array *[]){x, x});
    assert_int_equal(kiln_expr_status(e), KILN_EINVAL);
    assert_non_null(strstr(kiln_errmsg(c), "name 'x' is bound twice (0 and 1)"));
    /* _under_scores and digits are fine; no names at all is fine. */
    e = kiln_parse(c, "_a1 + 1", 1, (const char *[]){"_a1"}, &x);
    assert_int_equal(kiln_expr_status(e), KILN_OK);
    e = kiln_parse(c, "1 + 2", 0, NULL, NULL);
    assert_int_equal(kiln_expr_status(e), KILN_OK);

    /* kiln_parse_bindings */
    assert_int_equal(kiln_expr_status(kiln_parse_bindings(c, "x", 1, NULL)), KILN_ENULL);
    assert_non_null(strstr(kiln_errmsg(c), "bindings is NULL"));
    kiln_field bad[2] = {{"a", 0, KILN_FLOAT64}, {"b", 8, KILN_INT32}};
    const struct {
        kiln_binding b;
        kiln_status st;
        const char *has;
    } rb[] = {
        {{"r", r, NULL, 2}, KILN_ENULL, "fields is NULL"},
        {{"r", x, bad, 1}, KILN_EINVAL, "must be uint8 or int8"},
        {{"r", r, (kiln_field[]){{"a", 6, KILN_FLOAT64}}, 1}, KILN_EINVAL,
         "field 'a' of 'r' (float64 at offset 6) does not fit in its record of 13 bytes"},
        {{"r", r, (kiln_field[]){{"a", -1, KILN_INT8}}, 1}, KILN_EINVAL, "does not fit"},
        {{"r", r, (kiln_field[]){{"a", 0, KILN_DTYPE_COUNT}}, 1}, KILN_EDTYPE,
         "invalid dtype"},
        {{"r", r, (kiln_field[]){{"", 0, KILN_INT8}}, 1}, KILN_EINVAL, "empty or unterminated"},
        {{"r", r, (kiln_field[]){{"a", 0, KILN_INT8}, {"a", 1, KILN_INT8}}, 2}, KILN_EINVAL,
         "two fields named 'a'"},
    };
    for (size_t i = 0; i < sizeof rb / sizeof rb[0]; i++) {
        e = kiln_parse_bindings(c, "1", 1, &rb[i].b);
        assert_int_equal(kiln_expr_status(e), rb[i].st);
        if (!strstr(kiln_errmsg(c), rb[i].has))
            fail_msg("record binding %zu: message lacks \"%s\": %s", i, rb[i].has,
                     kiln_errmsg(c));
    }
    kiln_field unterminated;
    memset(unterminated.name, 'a', sizeof unterminated.name);
    unterminated.offset = 0;
    unterminated.dtype = KILN_INT8;
    kiln_binding ub = {"r", r, &unterminated, 1};
    assert_int_equal(kiln_expr_status(kiln_parse_bindings(c, "1", 1, &ub)), KILN_EINVAL);
    kiln_binding ok = {"r", r, bad, 2};
    assert_int_equal(kiln_expr_status(kiln_parse_bindings(c, "r.a + r.b", 1, &ok)), KILN_OK);

    kiln_array_release(foreign);
    kiln_ctx_free(other);
    kiln_array_release(r);
}

/* ---- errors ------------------------------------------------------------------- */

static void test_syntax_errors(void **state)
{
    fx *f = *state;
    assert_fails(f, "x +", KILN_ESYNTAX, 4, "expected a value, found end of input",
                 "    x +\n", NULL);
    assert_fails(f, "", KILN_ESYNTAX, 1, "empty expression", NULL);
    assert_fails(f, "  \n ", KILN_ESYNTAX, 0, "empty expression", NULL);
    assert_fails(f, "x y", KILN_ESYNTAX, 3,
                 "expected an operator or end of input, found name 'y'", "operator missing",
                 NULL);
    assert_fails(f, "x)", KILN_ESYNTAX, 2, "found ')'", "unbalanced ')'", NULL);
    assert_fails(f, "(x", KILN_ESYNTAX, 3, "expected ')', found end of input", NULL);
    assert_fails(f, "(x, y)", KILN_ESYNTAX, 3, "tuples are not values", NULL);
    assert_fails(f, "()", KILN_ESYNTAX, 1, "empty parentheses", NULL);
    assert_fails(f, "x $ y", KILN_ESYNTAX, 3, "unexpected character", NULL);
    assert_fails(f, "x + \xc3\xa9", KILN_ESYNTAX, 5, "non-ASCII", "x + ??", NULL);
    assert_fails(f, "x = 1", KILN_ESYNTAX, 3, "'=' is not an operator: use == to compare",
                 NULL);
    assert_fails(f, "x == = 1", KILN_ESYNTAX, 6, "'=' is not an operator", NULL);
    assert_fails(f, "!x", KILN_ESYNTAX, 1, "use ~ for not", NULL);
    assert_fails(f, "x && y", KILN_ESYNTAX, 4, "expected a value, found '&'", NULL);
    assert_fails(f, "x < y < z", KILN_ESYNTAX, 7, "comparisons cannot be chained",
                 "(a < b) & (b < c)", NULL);
    assert_fails(f, "x == y != x", KILN_ESYNTAX, 8, "cannot be chained", NULL);
    assert_fails(f, "m > 0 & m < 1", KILN_ESYNTAX, 11, "cannot be chained", NULL);
    assert_fails(f, "x and y", KILN_ESYNTAX, 3, "'and' is not supported: use &", NULL);
    assert_fails(f, "not x", KILN_ESYNTAX, 1, "'not' is not supported: use ~", NULL);
    assert_fails(f, "x or y", KILN_ESYNTAX, 3, "'or' is not supported", NULL);
    assert_fails(f, "None", KILN_ESYNTAX, 1, "None is only valid inside a subscript", NULL);
    assert_fails(f, "'abc' + x", KILN_ESYNTAX, 1, "strings are only valid as field", NULL);
    assert_fails(f, "x + 'ab", KILN_ESYNTAX, 5, "unterminated string", NULL);
    assert_fails(f, "x['a\\n']", KILN_ESYNTAX, 5, "unsupported escape", NULL);
    assert_fails(f, "sin", KILN_ESYNTAX, 1, "'sin' is a function: call it, as in sin(...)",
                 NULL);
    assert_fails(f, "x(1)", KILN_ESYNTAX, 1, "'x' is an input array, not a function", NULL);
    assert_fails(f, "(x)(1)", KILN_ESYNTAX, 1, "not a function", NULL);
    assert_fails(f, "x.", KILN_ESYNTAX, 3, "expected an attribute name after '.'", NULL);
    assert_fails(f, "x.1", KILN_ESYNTAX, 2, "expected an operator", NULL);
}

static void test_number_errors(void **state)
{
    fx *f = *state;
    assert_fails(f, "1x", KILN_ESYNTAX, 1, "invalid number literal", NULL);
    assert_fails(f, "x + 007", KILN_ESYNTAX, 5, "leading zeros", NULL);
    assert_fails(f, "0x", KILN_ESYNTAX, 1, "invalid hexadecimal literal", NULL);
    assert_fails(f, "0xfg", KILN_ESYNTAX, 1, "invalid hexadecimal literal", NULL);
    assert_fails(f, "0o8", KILN_ESYNTAX, 1, "invalid octal literal", NULL);
    assert_fails(f, "0b2", KILN_ESYNTAX, 1, "invalid binary literal", NULL);
    assert_fails(f, "1e", KILN_ESYNTAX, 1, "exponent has no digits", NULL);
    assert_fails(f, "1e+", KILN_ESYNTAX, 1, "exponent has no digits", NULL);
    assert_fails(f, "1_000", KILN_ESYNTAX, 1, "digit separators", NULL);
    assert_fails(f, "3j", KILN_ESYNTAX, 1, "complex literals are not supported", NULL);
    assert_fails(f, "x + 18446744073709551616", KILN_ESYNTAX, 5, "integer literal is too large",
                 NULL);
    assert_fails(f, "0x10000000000000000", KILN_ESYNTAX, 1, "too large", NULL);
    assert_fails(f, "x + 9223372036854775808", KILN_ESYNTAX, 5,
                 "integer literal is out of the int64 range", NULL);
    assert_fails(f, "x + --9223372036854775808", KILN_ESYNTAX, 5, "out of the int64 range",
                 NULL);
    assert_fails(f, "0xFFFFFFFFFFFFFFFF", KILN_ESYNTAX, 1, "out of the int64 range", NULL);
    char longf[600];
    memset(longf, '1', sizeof longf - 1);
    longf[1] = '.';
    longf[sizeof longf - 1] = '\0';
    assert_fails(f, longf, KILN_ESYNTAX, 1, "float literal is too long", NULL);
    /* 1e400 overflows to inf, as in Python. */
    assert_same(f, "x + 1e400", kiln_add(f->in[X], kiln_f64(f->ctx, INFINITY)));
}

static void test_unknown_names(void **state)
{
    fx *f = *state;
    const char *msg = assert_fails(f, "x + yy * 2", KILN_ESYNTAX, 5, "unknown name 'yy' at column 5",
                                   "    x + yy * 2\n        ^~\n", "did you mean 'y'?",
                                   "inputs: y, x, z, m, b, i8, f32", "functions: ", NULL);
    /* inputs listed before functions for a plain name */
    assert_true(strstr(msg, "inputs:") < strstr(msg, "functions:"));
    msg = assert_fails(f, "sinn(x)", KILN_ESYNTAX, 1, "unknown function 'sinn'",
                       "did you mean 'sin'?", "functions: sin, sinh, ", "inputs: ", NULL);
    assert_true(strstr(msg, "functions:") < strstr(msg, "inputs:"));
    assert_fails(f, "arctan3(x, y)", KILN_ESYNTAX, 1, "did you mean 'arctan2'?", NULL);
    assert_fails(f, "flaot32(x)", KILN_ESYNTAX, 1, "did you mean 'float32'?", NULL);
    /* a far name gets no suggestion, but the list */
    msg = assert_fails(f, "qqqqqqqq + 1", KILN_ESYNTAX, 1, "unknown name 'qqqqqqqq'", "inputs: ",
                       NULL);
    assert_null(strstr(msg, "did you mean"));
    /* the closest functions, then a count of the others */
    msg = assert_fails(f, "wher(x)", KILN_ESYNTAX, 1, "did you mean 'where'?",
                       "functions: where, ", "more, see docs/OPS.md)", NULL);
    /* a long name is shortened in the message */
    char longname[300];
    memset(longname, 'a', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';
    msg = assert_fails(f, longname, KILN_ESYNTAX, 1, "unknown name 'aaaa", "...'", NULL);
    /* no inputs bound */
    kiln_expr e = kiln_parse(f->ctx, "q", 0, NULL, NULL);
    assert_int_equal(kiln_expr_status(e), KILN_ESYNTAX);
    assert_non_null(strstr(kiln_errmsg(f->ctx), "no inputs are bound"));
}

static void test_argument_counts(void **state)
{
    fx *f = *state;
    assert_fails(f, "where(x, y)", KILN_ESYNTAX, 1, "where() expects 3 arguments, 2 given",
                 "^~~~~~~~~~~", NULL);
    assert_fails(f, "sin(x, y)", KILN_ESYNTAX, 1, "sin() expects 1 argument, 2 given", NULL);
    assert_fails(f, "1 + arctan2(x)", KILN_ESYNTAX, 5, "arctan2() expects 2 arguments, 1 given",
                 NULL);
    assert_fails(f, "float32()", KILN_ESYNTAX, 1, "float32() expects 1 argument, 0 given", NULL);
    assert_fails(f, "clip(x)", KILN_ESYNTAX, 1, "clip() expects 3 arguments, 1 given", NULL);
    assert_fails(f, "abs(x, x, x, x, x, x, x, x, x, x, x, x, x, x, x, x, x, x, x, x)",
                 KILN_ESYNTAX, 1, "absolute() expects 1 argument, 20 given", NULL);
    assert_fails(f, "clip(x, 0, hi=1)", KILN_ESYNTAX, 12,
                 "clip() takes no keyword arguments ('hi' given)", NULL);
    assert_fails(f, "sin(x,,)", KILN_ESYNTAX, 7, "expected a value, found ','", NULL);
    assert_fails(f, "sin(x y)", KILN_ESYNTAX, 7, "expected ',' or ')'", NULL);
    assert_fails(f, "sin(x", KILN_ESYNTAX, 6, "expected ',' or ')', found end of input", NULL);
}

static void test_view_errors(void **state)
{
    fx *f = *state;
    /* subscripts and .T apply to computed values too (tests/test_expr_views.c);
     * fields only to named record arrays */
    assert_fails(f, "(x + 1).temperature", KILN_ESYNTAX, 8, "field access of a computed value",
                 "fields select from named record arrays", NULL);
    assert_fails(f, "(x + 1)['t']", KILN_ESYNTAX, 8, "field subscript of a computed value",
                 NULL);
    assert_fails(f, "2[0]", KILN_EINDEX, 2,
                 "too many indices for array: array is 0-dimensional, but 1 were indexed", NULL);
    assert_fails(f, "x[1, 2]", KILN_EINDEX, 2,
                 "too many indices for array: array is 1-dimensional, but 2 were indexed", NULL);
    assert_fails(f, "x[5]", KILN_EINDEX, 2, "index 5 is out of bounds for axis 0 with size 4",
                 "(at column 2)", NULL);
    assert_fails(f, "m[1, -5]", KILN_EINDEX, 2, "index -5 is out of bounds for axis 1", NULL);
    assert_fails(f, "x[::0]", KILN_EINVAL, 2, "slice step cannot be zero", NULL);
    assert_fails(f, "x[..., ...]", KILN_ESYNTAX, 2, "only have a single ellipsis", NULL);
    assert_fails(f, "x[]", KILN_ESYNTAX, 3, "expected an index, found ']'", NULL);
    assert_fails(f, "x[a]", KILN_ESYNTAX, 3, "expected an integer, ':', '...' or None",
                 "integer literals (for now)", NULL);
    assert_fails(f, "x[-]", KILN_ESYNTAX, 4, "expected an integer", NULL);
    assert_fails(f, "x[1:2:3:4]", KILN_ESYNTAX, 8, "expected ',' or ']'", NULL);
    assert_fails(f, "x[1", KILN_ESYNTAX, 4, "expected ',' or ']', found end of input", NULL);
    assert_fails(f, "x[9223372036854775808]", KILN_ESYNTAX, 3, "index is out of the int64 range",
                 NULL);
    assert_fails(f, "x[::-9223372036854775808]", KILN_ESYNTAX, 5, "slice step is out of range",
                 NULL);
    assert_fails(f, "x.U", KILN_ESYNTAX, 3, "'x' is not a record array: no attribute 'U'",
                 "the attributes are .T", NULL);
    assert_fails(f, "x[None, None, None, None, None, None, None, None]", KILN_ERANK, 2,
                 "the result would have rank 9, more than 8", NULL);
    assert_fails(f, "x[0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0]", KILN_ESYNTAX, 51,
                 "too many subscripts (more than 24)", NULL);
}

/* Errors from the DAG keep their status and gain the location. */
static void test_constructor_errors(void **state)
{
    fx *f = *state;
    assert_fails(f, "x + z", KILN_ESHAPE, 3,
                 "operands could not be broadcast together with shapes (4,) (3,)",
                 "(at column 3)\n    x + z\n      ^", NULL);
    assert_fails(f, "where(x > 0, z, 1)", KILN_ESHAPE, 1, "(4,) (3,)", NULL);
    assert_fails(f, "sin(x) + cos(z)", KILN_ESHAPE, 8, NULL);
    assert_fails(f, "x[1:] + x", KILN_ESHAPE, 7, "(3,) (4,)", NULL);
    /* sticky: the error flows through the C API and evaluation */
    kiln_expr e = P(f, "x + z");
    kiln_expr g = kiln_multiply(e, f->in[X]);
    assert_true(kiln_expr_same(g, e));
    kiln_array *out = NULL;
    assert_int_equal(kiln_eval(g, &out), KILN_ESHAPE);
    assert_null(out);
}

static void test_messages(void **state)
{
    fx *f = *state;
    /* multi-line: line and column of the line */
    assert_fails(f, "x +\n  yy", KILN_ESYNTAX, 3, "unknown name 'yy' at line 2, column 3",
                 "\n      yy\n      ^~\n", NULL);
    assert_fails(f, "x +\ny\n+ )", KILN_ESYNTAX, 3, "at line 3, column 3", NULL);
    /* a long line is shown as a window around the error */
    char src[400];
    memset(src, ' ', sizeof src);
    memcpy(src, "x", 1);
    memcpy(src + 300, "+ $", 3);
    src[303] = '\0';
    const char *msg = assert_fails(f, src, KILN_ESYNTAX, 0, "at column 303", NULL);
    const char *line = strstr(msg, "\n    ...");
    assert_non_null(line);
    const char *caret = strchr(msg, '^');
    assert_non_null(caret);
    assert_int_equal(caret[-1], ' ');
    /* control bytes are shown as '?' so the caret stays aligned */
    assert_fails(f, "x\x01+ 1", KILN_ESYNTAX, 2, "    x?+ 1", NULL);
    assert_fails(f, "x\t+ $", KILN_ESYNTAX, 5, "    x + $", NULL);
}

static void test_nesting(void **state)
{
    fx *f = *state;
    char src[1200];
    /* 90 parentheses: fine */
    int n = 90, k = 0;
    for (int i = 0; i < n; i++)
        src[k++] = '(';
    src[k++] = 'x';
    for (int i = 0; i < n; i++)
        src[k++] = ')';
    src[k] = '\0';
    assert_same(f, src, f->in[X]);
    /* 150: a clear error, no stack overflow */
    k = 0;
    for (int i = 0; i < 150; i++)
        src[k++] = '(';
    src[k++] = 'x';
    src[k] = '\0';
    assert_fails(f, src, KILN_ESYNTAX, 0, "expression nests too deeply (more than 100 levels)",
                 NULL);
    k = 0;
    for (int i = 0; i < 500; i++)
        src[k++] = '-';
    src[k++] = 'x';
    src[k] = '\0';
    assert_fails(f, src, KILN_ESYNTAX, 0, "nests too deeply", NULL);
    k = 0;
    for (int i = 0; i < 300; i++) {
        memcpy(src + k, "2**", 3);
        k += 3;
    }
    src[k++] = '2';
    src[k] = '\0';
    assert_fails(f, src, KILN_ESYNTAX, 0, "nests too deeply", NULL);
    k = 0;
    for (int i = 0; i < 200; i++) {
        memcpy(src + k, "sin(", 4);
        k += 4;
    }
    src[k++] = 'x';
    src[k] = '\0';
    assert_fails(f, src, KILN_ESYNTAX, 0, "nests too deeply", NULL);
    /* long flat chains are iterative: no depth limit */
    static char flat[40001];
    for (int i = 0; i < 9999; i++)
        memcpy(flat + 4 * i, "x + ", 4);
    flat[39996] = '1';
    flat[39997] = '\0';
    uint64_t scope = kiln_scope_begin(f->ctx);
    kiln_expr e = P(f, flat);
    assert_int_equal(kiln_expr_status(e), KILN_OK);
    assert_int_equal(kiln_scope_end(f->ctx, scope), KILN_OK);
}

/* Every allocation failing in turn: an error (ENOMEM) or the expression,
 * never a crash, and nothing leaks. */
static void test_oom(void **state)
{
    (void)state;
    const char *srcs[] = {
        "where(x[1:] > 0, sin(x[1:]) + 1, m.T[0, :3])",
        "x + yy",
        "x[5]",
        "rec.b * 2 + rec[1:].a[0]",
    };
    for (size_t s = 0; s < sizeof srcs / sizeof srcs[0]; s++) {
        int ok = 0;
        for (long n = 1; n < 400 && !ok; n++) {
            tu_alloc ta;
            tu_alloc_init(&ta, n, false);
            kiln_ctx *c = kiln_ctx_new(&ta.a);
            if (!c)
                continue;
            kiln_array *x = NULL, *m = NULL;
            kiln_array_zeros(c, KILN_FLOAT64, 1, (int64_t[]){4}, KILN_ORDER_C, &x);
            kiln_array_zeros(c, KILN_INT64, 2, (int64_t[]){3, 4}, KILN_ORDER_C, &m);
            static uint8_t bytes[3 * 12];
            kiln_array *r = NULL;
            kiln_array_wrap_records(c, bytes, 3, 12, 0, NULL, NULL, &r);
            if (x && m && r) {
                kiln_field fl[2] = {{"a", 0, KILN_FLOAT64}, {"b", 8, KILN_INT32}};
                kiln_binding b[3] = {{"x", x, NULL, 0}, {"m", m, NULL, 0}, {"rec", r, fl, 2}};
                kiln_expr e = kiln_parse_bindings(c, srcs[s], 3, b);
                kiln_status st = kiln_expr_status(e);
                bool expect_ok = s == 0 || s == 3;
                if (st == KILN_OK)
                    assert_true(expect_ok);
                else if (st != KILN_ENOMEM && !(st == KILN_ESYNTAX && s == 1) &&
                         !(st == KILN_EINDEX && s == 2))
                    fail_msg("'%s' at failure %ld: %s: %s", srcs[s], n, kiln_status_name(st),
                             kiln_errmsg(c));
                ok = ta.count < n; /* nothing failed: done */
            }
            kiln_array_release(x);
            kiln_array_release(m);
            kiln_array_release(r);
            kiln_ctx_free(c);
            assert_int_equal(ta.live, 0);
        }
        assert_true(ok);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_precedence, setup, teardown),
        cmocka_unit_test_setup_teardown(test_binary_operators, setup, teardown),
        cmocka_unit_test_setup_teardown(test_power_fast_path, setup, teardown),
        cmocka_unit_test_setup_teardown(test_every_op_by_name, setup, teardown),
        cmocka_unit_test_setup_teardown(test_literals, setup, teardown),
        cmocka_unit_test_setup_teardown(test_eval_example, setup, teardown),
        cmocka_unit_test_setup_teardown(test_views, setup, teardown),
        cmocka_unit_test_setup_teardown(test_view_cache, setup, teardown),
        cmocka_unit_test_setup_teardown(test_records, setup, teardown),
        cmocka_unit_test_setup_teardown(test_binding_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_syntax_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_number_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unknown_names, setup, teardown),
        cmocka_unit_test_setup_teardown(test_argument_counts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_view_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_constructor_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_messages, setup, teardown),
        cmocka_unit_test_setup_teardown(test_nesting, setup, teardown),
        cmocka_unit_test(test_oom),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
