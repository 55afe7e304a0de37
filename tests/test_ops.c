/*
 * tests/test_ops.c — every elementwise op on every dtype it accepts,
 * through the public API, in every evaluation mode.
 *
 * One table row per op: its public constructor, the dtypes it accepts, how
 * the result dtype follows, and an expected-value function written here,
 * independently of graph/apply.c: integers are computed exactly in 128
 * bits and reduced modulo 2^width by the harness; floats in the C type of
 * the dtype (float32 in float); conversions through long double (exact for
 * every 64-bit integer). Float floor division and remainder use
 * rt_floordiv_f* / rt_remainder_f*, which tests/test_scalar.c pins to
 * NumPy's answers.
 *
 * For each row and accepted dtype the inputs are the dtype's edge values
 * (0, -0.0, ±1, min, max, NaN, ±inf, denormals, large magnitudes, shift
 * counts around the width), all pairs for binary ops. The interpreter must
 * equal the expected values exactly (libm ops: the same libm call); the
 * fused and unfused modes must equal the interpreter bit for bit on exact
 * ops and integer results, and stay within the op's ulp bound (gr_ops[op]
 * .ulp_f64/.ulp_f32) on libm ops. NaN matches any NaN: payload and sign of
 * a NaN are not part of the contract (LLVM may commute operands).
 * Rejected dtypes give KILN_EDTYPE, at construction and at evaluation.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "testutil.h"

#include "graph/graph.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef __int128 i128;
typedef unsigned __int128 u128;

/* ---- the test's own view of the dtypes --------------------------------- */

enum { K_BOOL, K_INT, K_UINT, K_F32, K_F64 };

static int kind_of(kiln_dtype t)
{
    switch (t) {
    case KILN_BOOL: return K_BOOL;
    case KILN_INT8: case KILN_INT16: case KILN_INT32: case KILN_INT64: return K_INT;
    case KILN_UINT8: case KILN_UINT16: case KILN_UINT32: case KILN_UINT64: return K_UINT;
    case KILN_FLOAT32: return K_F32;
    default: return K_F64;
    }
}

static int bits_of(kiln_dtype t) { return 8 * (int)kiln_dtype_size(t); }
static bool is_float(kiln_dtype t) { return kind_of(t) == K_F32 || kind_of(t) == K_F64; }

/* A test value: bool/integers exactly in i (two's complement, 128 bits),
 * floats in f (a float32 is the exactly equal double). */
typedef struct tv {
    i128 i;
    double f;
} tv;

static tv ti(i128 i) { tv v = {i, 0}; return v; }
static tv tf(double f) { tv v = {0, f}; return v; }

/* i reduced modulo 2^bits into dtype t's range. */
static i128 wrap_to(kiln_dtype t, i128 i)
{
    int w = bits_of(t);
    u128 m = ((u128)1 << w) - 1;
    u128 r = (u128)i & m;
    if (kind_of(t) == K_INT && (r >> (w - 1)) & 1)
        return (i128)r - ((i128)1 << w);
    return (i128)r;
}

static i128 int_min(kiln_dtype t) { return kind_of(t) == K_INT ? -((i128)1 << (bits_of(t) - 1)) : 0; }
static i128 int_max(kiln_dtype t)
{
    return kind_of(t) == K_INT ? ((i128)1 << (bits_of(t) - 1)) - 1 : ((i128)1 << bits_of(t)) - 1;
}

static bool truth(kiln_dtype t, tv v) { return is_float(t) ? v.f != 0 : v.i != 0; }

/* kiln_cast semantics, written independently of runtime/scalar.c. */
static tv conv(kiln_dtype from, kiln_dtype to, tv v)
{
    if (to == KILN_BOOL)
        return ti(truth(from, v));
    if (is_float(to)) {
        long double x = is_float(from) ? (long double)v.f : (long double)v.i; /* exact */
        return kind_of(to) == K_F32 ? tf((float)x) : tf((double)x);
    }
    if (!is_float(from))
        return ti(wrap_to(to, v.i));
    if (isnan(v.f))
        return ti(0);
    long double x = v.f;
    if (x > (long double)int_max(to))
        return ti(int_max(to));
    if (x < (long double)int_min(to))
        return ti(int_min(to));
    return ti((i128)truncl(x));
}

/* ---- reading and writing array elements -------------------------------- */

static tv get(kiln_dtype t, const char *p)
{
    switch (t) {
    case KILN_BOOL: { uint8_t x; memcpy(&x, p, 1); return ti(x); }
    case KILN_INT8: { int8_t x; memcpy(&x, p, 1); return ti(x); }
    case KILN_INT16: { int16_t x; memcpy(&x, p, 2); return ti(x); }
    case KILN_INT32: { int32_t x; memcpy(&x, p, 4); return ti(x); }
    case KILN_INT64: { int64_t x; memcpy(&x, p, 8); return ti(x); }
    case KILN_UINT8: { uint8_t x; memcpy(&x, p, 1); return ti(x); }
    case KILN_UINT16: { uint16_t x; memcpy(&x, p, 2); return ti(x); }
    case KILN_UINT32: { uint32_t x; memcpy(&x, p, 4); return ti(x); }
    case KILN_UINT64: { uint64_t x; memcpy(&x, p, 8); return ti(x); }
    case KILN_FLOAT32: { float x; memcpy(&x, p, 4); return tf(x); }
    default: { double x; memcpy(&x, p, 8); return tf(x); }
    }
}

static void put(kiln_dtype t, char *p, tv v)
{
    switch (t) {
    case KILN_BOOL: { uint8_t x = v.i != 0; memcpy(p, &x, 1); break; }
    case KILN_INT8: { int8_t x = (int8_t)v.i; memcpy(p, &x, 1); break; }
    case KILN_INT16: { int16_t x = (int16_t)v.i; memcpy(p, &x, 2); break; }
    case KILN_INT32: { int32_t x = (int32_t)v.i; memcpy(p, &x, 4); break; }
    case KILN_INT64: { int64_t x = (int64_t)v.i; memcpy(p, &x, 8); break; }
    case KILN_UINT8: { uint8_t x = (uint8_t)v.i; memcpy(p, &x, 1); break; }
    case KILN_UINT16: { uint16_t x = (uint16_t)v.i; memcpy(p, &x, 2); break; }
    case KILN_UINT32: { uint32_t x = (uint32_t)v.i; memcpy(p, &x, 4); break; }
    case KILN_UINT64: { uint64_t x = (uint64_t)v.i; memcpy(p, &x, 8); break; }
    case KILN_FLOAT32: { float x = (float)v.f; memcpy(p, &x, 4); break; }
    default: memcpy(p, &v.f, 8); break;
    }
}

/* Identical values: same integer; for floats the same bits, any NaN
 * matching any NaN. */
static bool same(kiln_dtype t, tv a, tv b)
{
    if (!is_float(t))
        return a.i == b.i;
    if (isnan(a.f) || isnan(b.f))
        return isnan(a.f) && isnan(b.f);
    if (kind_of(t) == K_F32) {
        float x = (float)a.f, y = (float)b.f;
        return memcmp(&x, &y, sizeof x) == 0;
    }
    return memcmp(&a.f, &b.f, sizeof a.f) == 0;
}

static void fmt(kiln_dtype t, tv v, char *buf, size_t cap)
{
    if (is_float(t))
        snprintf(buf, cap, "%a (%.17g)", v.f, v.f);
    else if (v.i < 0)
        snprintf(buf, cap, "-%llu", (unsigned long long)(-(u128)v.i));
    else
        snprintf(buf, cap, "%llu", (unsigned long long)v.i);
}

/* ---- edge values per dtype --------------------------------------------- */

static const int64_t V_I8[] = {0, 1, -1, 2, -2, 3, 7, -7, 8, -8, 9, 15, 16, 100, -100, 126, 127, -127, -128};
static const int64_t V_I16[] = {0, 1, -1, 2, -3, 7, 8, 15, 16, 17, 31, 255, 256, -256, 1000, -1000,
                                181, 32767, -32768, 32766, -32767};
static const int64_t V_I32[] = {0, 1, -1, 2, -3, 7, 31, 32, 33, 63, 65535, 65536, -65536, 46341, -46341,
                                2147483647, -2147483647 - 1, 2147483646, 1000000007, -1000000007};
static const int64_t V_I64[] = {0, 1, -1, 2, -3, 7, 63, 64, 65, 127, -64,
                                INT64_C(3037000500), INT64_C(-3037000500), INT64_C(4294967296),
                                INT64_MAX, INT64_MIN, INT64_MAX - 1, INT64_MIN + 1,
                                INT64_C(1000000000000000), INT64_C(-123456789012345)};
static const uint64_t V_U8[] = {0, 1, 2, 3, 7, 8, 9, 15, 16, 17, 100, 127, 128, 129, 200, 254, 255};
static const uint64_t V_U16[] = {0, 1, 2, 3, 7, 15, 16, 17, 255, 256, 1000, 32767, 32768, 65534, 65535};
static const uint64_t V_U32[] = {0, 1, 2, 3, 7, 31, 32, 33, 65535, 65536, 2147483647u, 2147483648u,
                                 4294967294u, 4294967295u, 123456789};
static const uint64_t V_U64[] = {0, 1, 2, 3, 7, 63, 64, 65, UINT64_C(4294967296),
                                 UINT64_C(9223372036854775808), UINT64_C(9223372036854775807),
                                 UINT64_MAX, UINT64_MAX - 1, UINT64_C(10000000000000000000),
                                 UINT64_C(3037000500)};
static const float V_F32[] = {0.0f, -0.0f, 1.0f, -1.0f, 0.5f, -0.5f, 1.5f, 2.5f, -2.5f, 3.0f, -7.0f,
                              100.25f, 0.1f, 1e10f, -1e10f, FLT_MAX, -FLT_MAX, FLT_MIN, 1e-45f,
                              -1e-40f, INFINITY, -INFINITY, NAN, 16777216.0f, 3e9f, 0.75f, 88.0f};
static const double V_F64[] = {0.0, -0.0, 1.0, -1.0, 0.5, -0.5, 1.5, 2.5, -2.5, 3.0, -7.0, 100.25,
                               0.1, 1e300, -1e300, DBL_MAX, -DBL_MAX, DBL_MIN, 5e-324, -1e-310,
                               INFINITY, -INFINITY, NAN, 9007199254740993.0, 1e19, -9.3e18, 1e-5,
                               710.0, -745.5, 0.75};

/* The edge values of t (at most 32). */
static size_t edge_values(kiln_dtype t, tv *out)
{
    size_t n = 0;
#define TV_LIST(arr, mk)                                                                           \
    for (size_t i_ = 0; i_ < sizeof arr / sizeof arr[0]; i_++)                                     \
        out[n++] = mk;
    switch (t) {
    case KILN_BOOL: out[n++] = ti(0); out[n++] = ti(1); break;
    case KILN_INT8: TV_LIST(V_I8, ti(V_I8[i_])) break;
    case KILN_INT16: TV_LIST(V_I16, ti(V_I16[i_])) break;
    case KILN_INT32: TV_LIST(V_I32, ti(V_I32[i_])) break;
    case KILN_INT64: TV_LIST(V_I64, ti(V_I64[i_])) break;
    case KILN_UINT8: TV_LIST(V_U8, ti(V_U8[i_])) break;
    case KILN_UINT16: TV_LIST(V_U16, ti(V_U16[i_])) break;
    case KILN_UINT32: TV_LIST(V_U32, ti(V_U32[i_])) break;
    case KILN_UINT64: TV_LIST(V_U64, ti(V_U64[i_])) break;
    case KILN_FLOAT32: TV_LIST(V_F32, tf(V_F32[i_])) break;
    default: TV_LIST(V_F64, tf(V_F64[i_])) break;
    }
#undef TV_LIST
    return n;
}

/* ---- expected values: x[] already converted to the compute dtype t ----- */

typedef tv (*expect_fn)(kiln_dtype t, const tv *x);

#define F32(e) tf((double)(float)(e))
#define IS32 (kind_of(t) == K_F32)
#define ISF (is_float(t))
#define ISB (kind_of(t) == K_BOOL)
#define A (x[0])
#define B (x[1])
#define FA ((float)x[0].f)
#define FB ((float)x[1].f)
/* exact 128-bit wrapping arithmetic; the harness reduces to the width */
#define UADD(a, b) ((i128)((u128)(a) + (u128)(b)))
#define USUB(a, b) ((i128)((u128)(a) - (u128)(b)))
#define UMUL(a, b) ((i128)((u128)(a) * (u128)(b)))

static tv e_add(kiln_dtype t, const tv *x)
{
    if (ISF) return IS32 ? F32(FA + FB) : tf(A.f + B.f);
    return ISB ? ti(A.i || B.i) : ti(UADD(A.i, B.i));
}
static tv e_subtract(kiln_dtype t, const tv *x)
{
    if (ISF) return IS32 ? F32(FA - FB) : tf(A.f - B.f);
    return ti(USUB(A.i, B.i));
}
static tv e_multiply(kiln_dtype t, const tv *x)
{
    if (ISF) return IS32 ? F32(FA * FB) : tf(A.f * B.f);
    return ISB ? ti(A.i && B.i) : ti(UMUL(A.i, B.i));
}
static tv e_divide(kiln_dtype t, const tv *x) { return IS32 ? F32(FA / FB) : tf(A.f / B.f); }
/* Python's // on exact integers; 0 for a zero divisor. */
static i128 py_floordiv(i128 a, i128 b)
{
    if (b == 0)
        return 0;
    i128 q = a / b;
    if (q * b != a && ((a < 0) != (b < 0)))
        q -= 1;
    return q;
}
static tv e_floor_divide(kiln_dtype t, const tv *x)
{
    if (ISF) return IS32 ? F32(rt_floordiv_f32(FA, FB)) : tf(rt_floordiv_f64(A.f, B.f));
    return ti(py_floordiv(A.i, B.i));
}
static tv e_remainder(kiln_dtype t, const tv *x)
{
    if (ISF) return IS32 ? F32(rt_remainder_f32(FA, FB)) : tf(rt_remainder_f64(A.f, B.f));
    return ti(B.i == 0 ? 0 : A.i - py_floordiv(A.i, B.i) * B.i);
}
static tv e_power(kiln_dtype t, const tv *x)
{
    if (ISF) return IS32 ? F32(powf(FA, FB)) : tf(pow(A.f, B.f));
    if (B.i < 0)
        return ti(A.i == 1 ? 1 : A.i == -1 ? ((B.i % 2) ? -1 : 1) : 0);
    u128 r = 1, base = (u128)A.i;
    for (i128 e = B.i; e > 0; e >>= 1) {
        if (e & 1)
            r *= base;
        base *= base;
    }
    return ti((i128)r);
}
static tv e_arctan2(kiln_dtype t, const tv *x) { return IS32 ? F32(atan2f(FA, FB)) : tf(atan2(A.f, B.f)); }
/* The smaller/larger of two non-NaN values, -0.0 below +0.0 (IEEE 754-2019
 * minimum/maximum, so the ops are commutative). */
static tv pick(kiln_dtype t, const tv *x, bool want_max)
{
    if (!ISF)
        return (want_max ? A.i > B.i : A.i < B.i) ? A : B;
    if (A.f == B.f && signbit(A.f) != signbit(B.f)) /* +0.0 and -0.0 */
        return (signbit(A.f) != 0) == want_max ? B : A;
    return (want_max ? A.f > B.f : A.f < B.f) ? A : B;
}
/* NaN propagates */
static tv e_minimum(kiln_dtype t, const tv *x)
{
    if (ISF && (isnan(A.f) || isnan(B.f))) return tf(NAN);
    return pick(t, x, false);
}
static tv e_maximum(kiln_dtype t, const tv *x)
{
    if (ISF && (isnan(A.f) || isnan(B.f))) return tf(NAN);
    return pick(t, x, true);
}
/* a NaN operand is ignored */
static tv e_fmin(kiln_dtype t, const tv *x)
{
    if (ISF && isnan(B.f)) return A;
    if (ISF && isnan(A.f)) return B;
    return pick(t, x, false);
}
static tv e_fmax(kiln_dtype t, const tv *x)
{
    if (ISF && isnan(B.f)) return A;
    if (ISF && isnan(A.f)) return B;
    return pick(t, x, true);
}
static tv e_equal(kiln_dtype t, const tv *x) { return ti(ISF ? A.f == B.f : A.i == B.i); }
static tv e_not_equal(kiln_dtype t, const tv *x) { return ti(ISF ? A.f != B.f : A.i != B.i); }
static tv e_less(kiln_dtype t, const tv *x) { return ti(ISF ? A.f < B.f : A.i < B.i); }
static tv e_less_equal(kiln_dtype t, const tv *x) { return ti(ISF ? A.f <= B.f : A.i <= B.i); }
static tv e_greater(kiln_dtype t, const tv *x) { return ti(ISF ? A.f > B.f : A.i > B.i); }
static tv e_greater_equal(kiln_dtype t, const tv *x) { return ti(ISF ? A.f >= B.f : A.i >= B.i); }
static tv e_logical_and(kiln_dtype t, const tv *x) { return ti(truth(t, A) && truth(t, B)); }
static tv e_logical_or(kiln_dtype t, const tv *x) { return ti(truth(t, A) || truth(t, B)); }
static tv e_logical_xor(kiln_dtype t, const tv *x) { return ti(truth(t, A) != truth(t, B)); }
static tv e_logical_not(kiln_dtype t, const tv *x) { return ti(!truth(t, A)); }
static tv e_bitwise_and(kiln_dtype t, const tv *x) { return ti(A.i & B.i); }
static tv e_bitwise_or(kiln_dtype t, const tv *x) { return ti(A.i | B.i); }
static tv e_bitwise_xor(kiln_dtype t, const tv *x) { return ti(A.i ^ B.i); }
static tv e_invert(kiln_dtype t, const tv *x) { return ISB ? ti(!A.i) : ti(~A.i); }
/* NumPy: a count outside [0, width) gives 0 (left) or the sign (right). */
static tv e_left_shift(kiln_dtype t, const tv *x)
{
    if (B.i < 0 || B.i >= bits_of(t))
        return ti(0);
    return ti((i128)((u128)A.i << (int)B.i));
}
static tv e_right_shift(kiln_dtype t, const tv *x)
{
    if (B.i < 0 || B.i >= bits_of(t))
        return ti(A.i < 0 ? -1 : 0);
    return ti(py_floordiv(A.i, (i128)1 << (int)B.i)); /* arithmetic shift = floor */
}
static tv e_negative(kiln_dtype t, const tv *x)
{
    if (ISF) return tf(-A.f);
    return ti(USUB(0, A.i));
}
static tv e_absolute(kiln_dtype t, const tv *x)
{
    if (ISF) return tf(fabs(A.f));
    return ti(A.i < 0 ? -A.i : A.i);
}
static tv e_sign(kiln_dtype t, const tv *x)
{
    if (ISF) return isnan(A.f) ? A : tf(A.f > 0 ? 1.0 : A.f < 0 ? -1.0 : 0.0);
    return ti((A.i > 0) - (A.i < 0));
}
static tv e_sqrt(kiln_dtype t, const tv *x) { return IS32 ? F32(sqrtf(FA)) : tf(sqrt(A.f)); }
static tv e_square(kiln_dtype t, const tv *x)
{
    if (ISF) return IS32 ? F32(FA * FA) : tf(A.f * A.f);
    return ISB ? A : ti(UMUL(A.i, A.i));
}
#define E_ROUND(name, fn)                                                                          \
    static tv e_##name(kiln_dtype t, const tv *x)                                                  \
    {                                                                                              \
        if (!ISF)                                                                                  \
            return A;                                                                              \
        return IS32 ? F32(fn##f(FA)) : tf(fn(A.f));                                                \
    }
E_ROUND(floor, floor)
E_ROUND(ceil, ceil)
E_ROUND(trunc, trunc)
E_ROUND(rint, rint)
#define E_LIBM(name, fn)                                                                           \
    static tv e_##name(kiln_dtype t, const tv *x) { return IS32 ? F32(fn##f(FA)) : tf(fn(A.f)); }
E_LIBM(exp, exp)
E_LIBM(expm1, expm1)
E_LIBM(log, log)
E_LIBM(log1p, log1p)
E_LIBM(log2, log2)
E_LIBM(log10, log10)
E_LIBM(sin, sin)
E_LIBM(cos, cos)
E_LIBM(tan, tan)
E_LIBM(arcsin, asin)
E_LIBM(arccos, acos)
E_LIBM(arctan, atan)
E_LIBM(sinh, sinh)
E_LIBM(cosh, cosh)
E_LIBM(tanh, tanh)
static tv e_isnan(kiln_dtype t, const tv *x) { return ti(ISF && isnan(A.f)); }
static tv e_isinf(kiln_dtype t, const tv *x) { return ti(ISF && isinf(A.f)); }
static tv e_isfinite(kiln_dtype t, const tv *x) { return ti(!ISF || isfinite(A.f)); }

/* ---- the table ---------------------------------------------------------- */

/* dtype sets */
#define D(t) (1u << KILN_##t)
#define DS_BOOL D(BOOL)
#define DS_INT (D(INT8) | D(INT16) | D(INT32) | D(INT64) | D(UINT8) | D(UINT16) | D(UINT32) | D(UINT64))
#define DS_FLOAT (D(FLOAT32) | D(FLOAT64))
#define DS_ALL (DS_BOOL | DS_INT | DS_FLOAT)
#define DS_NOBOOL (DS_INT | DS_FLOAT)

/* how the compute and result dtypes follow from the input dtype T */
enum { R_SAME, R_FLOAT, R_DIV, R_BOOL, R_LOGIC };

typedef struct op_row {
    const char *name;
    gr_op op;
    int arity;
    kiln_expr (*f1)(kiln_expr);
    kiln_expr (*f2)(kiln_expr, kiln_expr);
    unsigned accept;
    int result;
    expect_fn expect;
} op_row;

#define ROW2(nm, OP, acc, res) {#nm, GR_OP_##OP, 2, NULL, kiln_##nm, acc, res, e_##nm}
#define ROW1(nm, OP, acc, res) {#nm, GR_OP_##OP, 1, kiln_##nm, NULL, acc, res, e_##nm}

static const op_row rows[] = {
    ROW2(add, ADD, DS_ALL, R_SAME),
    ROW2(subtract, SUBTRACT, DS_NOBOOL, R_SAME),
    ROW2(multiply, MULTIPLY, DS_ALL, R_SAME),
    ROW2(divide, DIVIDE, DS_ALL, R_DIV),
    ROW2(floor_divide, FLOOR_DIVIDE, DS_NOBOOL, R_SAME),
    ROW2(remainder, REMAINDER, DS_NOBOOL, R_SAME),
    ROW2(power, POWER, DS_NOBOOL, R_SAME),
    ROW2(arctan2, ARCTAN2, DS_ALL, R_FLOAT),
    ROW2(minimum, MINIMUM, DS_ALL, R_SAME),
    ROW2(maximum, MAXIMUM, DS_ALL, R_SAME),
    ROW2(fmin, FMIN, DS_ALL, R_SAME),
    ROW2(fmax, FMAX, DS_ALL, R_SAME),
    ROW2(equal, EQUAL, DS_ALL, R_BOOL),
    ROW2(not_equal, NOT_EQUAL, DS_ALL, R_BOOL),
    ROW2(less, LESS, DS_ALL, R_BOOL),
    ROW2(less_equal, LESS_EQUAL, DS_ALL, R_BOOL),
    ROW2(greater, GREATER, DS_ALL, R_BOOL),
    ROW2(greater_equal, GREATER_EQUAL, DS_ALL, R_BOOL),
    ROW2(logical_and, LOGICAL_AND, DS_ALL, R_LOGIC),
    ROW2(logical_or, LOGICAL_OR, DS_ALL, R_LOGIC),
    ROW2(logical_xor, LOGICAL_XOR, DS_ALL, R_LOGIC),
    ROW1(logical_not, LOGICAL_NOT, DS_ALL, R_LOGIC),
    ROW2(bitwise_and, BITWISE_AND, DS_BOOL | DS_INT, R_SAME),
    ROW2(bitwise_or, BITWISE_OR, DS_BOOL | DS_INT, R_SAME),
    ROW2(bitwise_xor, BITWISE_XOR, DS_BOOL | DS_INT, R_SAME),
    {"invert", GR_OP_BITWISE_NOT, 1, kiln_bitwise_not, NULL, DS_BOOL | DS_INT, R_SAME, e_invert},
    ROW2(left_shift, LEFT_SHIFT, DS_INT, R_SAME),
    ROW2(right_shift, RIGHT_SHIFT, DS_INT, R_SAME),
    ROW1(negative, NEGATIVE, DS_NOBOOL, R_SAME),
    ROW1(absolute, ABSOLUTE, DS_ALL, R_SAME),
    ROW1(sign, SIGN, DS_NOBOOL, R_SAME),
    ROW1(sqrt, SQRT, DS_ALL, R_FLOAT),
    ROW1(square, SQUARE, DS_ALL, R_SAME),
    ROW1(floor, FLOOR, DS_ALL, R_SAME),
    ROW1(ceil, CEIL, DS_ALL, R_SAME),
    ROW1(trunc, TRUNC, DS_ALL, R_SAME),
    ROW1(rint, RINT, DS_ALL, R_FLOAT),
    ROW1(exp, EXP, DS_ALL, R_FLOAT),
    ROW1(expm1, EXPM1, DS_ALL, R_FLOAT),
    ROW1(log, LOG, DS_ALL, R_FLOAT),
    ROW1(log1p, LOG1P, DS_ALL, R_FLOAT),
    ROW1(log2, LOG2, DS_ALL, R_FLOAT),
    ROW1(log10, LOG10, DS_ALL, R_FLOAT),
    ROW1(sin, SIN, DS_ALL, R_FLOAT),
    ROW1(cos, COS, DS_ALL, R_FLOAT),
    ROW1(tan, TAN, DS_ALL, R_FLOAT),
    ROW1(arcsin, ARCSIN, DS_ALL, R_FLOAT),
    ROW1(arccos, ARCCOS, DS_ALL, R_FLOAT),
    ROW1(arctan, ARCTAN, DS_ALL, R_FLOAT),
    ROW1(sinh, SINH, DS_ALL, R_FLOAT),
    ROW1(cosh, COSH, DS_ALL, R_FLOAT),
    ROW1(tanh, TANH, DS_ALL, R_FLOAT),
    ROW1(isnan, ISNAN, DS_ALL, R_BOOL),
    ROW1(isinf, ISINF, DS_ALL, R_BOOL),
    ROW1(isfinite, ISFINITE, DS_ALL, R_BOOL),
};
#define NROWS (sizeof rows / sizeof rows[0])

/* The dtype T's elementwise compute dtype under rule r. */
static kiln_dtype compute_dtype(int r, kiln_dtype t)
{
    switch (r) {
    case R_FLOAT:
        if (is_float(t))
            return t;
        return bits_of(t) <= 16 ? KILN_FLOAT32 : KILN_FLOAT64;
    case R_DIV: return is_float(t) ? t : KILN_FLOAT64;
    default: return t;
    }
}

static kiln_dtype result_dtype(int r, kiln_dtype t)
{
    return r == R_BOOL || r == R_LOGIC ? KILN_BOOL : compute_dtype(r, t);
}

/* ---- the harness -------------------------------------------------------- */

static const kiln_mode jit_modes[] = {KILN_MODE_FUSED, KILN_MODE_UNFUSED};
static const char *mode_name(kiln_mode m)
{
    return m == KILN_MODE_FUSED ? "fused" : m == KILN_MODE_UNFUSED ? "unfused" : "interp";
}

static kiln_array *make_array(kiln_ctx *ctx, kiln_dtype t, int64_t n, const tv *vals)
{
    kiln_array *a = NULL;
    assert_int_equal(kiln_array_empty(ctx, t, 1, &n, KILN_ORDER_C, &a), KILN_OK);
    char *p = kiln_array_data(a);
    for (int64_t i = 0; i < n; i++)
        put(t, p + i * (int64_t)kiln_dtype_size(t), vals[i]);
    return a;
}

static kiln_array *eval_mode(kiln_expr e, kiln_mode mode, const char *what)
{
    kiln_array *out = NULL;
    kiln_status s = kiln_eval_many(e.ctx_, mode, 1, &e, &out);
    if (s != KILN_OK)
        fail_msg("%s (%s): eval failed: %s: %s", what, mode_name(mode), kiln_status_name(s),
                 kiln_errmsg(e.ctx_));
    return out;
}

/* Checks out (interp) against expected and the JIT modes against interp.
 * ulp: the op's bound in the result dtype (0: bit-exact). */
static void check_modes(kiln_expr e, kiln_dtype rt, int64_t n, const tv *want, kiln_dtype in_t,
                        const tv *in0, const tv *in1, int64_t ulp, const char *what)
{
    char b0[96], b1[96], b2[96], b3[96];
    assert_int_equal(kiln_expr_dtype(e), rt);
    kiln_array *ref = eval_mode(e, KILN_MODE_INTERP, what);
    assert_int_equal(kiln_array_dtype(ref), rt);
    assert_int_equal(kiln_array_size(ref), n);
    size_t sz = kiln_dtype_size(rt);
    const char *rp = kiln_array_data(ref);
    for (int64_t i = 0; i < n; i++) {
        tv got = get(rt, rp + i * (int64_t)sz);
        tv w = is_float(rt) || rt == KILN_BOOL ? want[i] : ti(wrap_to(rt, want[i].i));
        if (!same(rt, got, w)) {
            fmt(rt, got, b2, sizeof b2);
            fmt(rt, w, b3, sizeof b3);
            b0[0] = b1[0] = 0;
            if (in0)
                fmt(in_t, in0[i], b0, sizeof b0);
            if (in1)
                fmt(in_t, in1[i], b1, sizeof b1);
            fail_msg("%s [interp] element %lld (inputs %s, %s): got %s, want %s", what,
                     (long long)i, b0, b1, b2, b3);
        }
    }
    for (size_t m = 0; m < sizeof jit_modes / sizeof jit_modes[0]; m++) {
        kiln_array *o = eval_mode(e, jit_modes[m], what);
        assert_int_equal(kiln_array_dtype(o), rt);
        const char *op = kiln_array_data(o);
        for (int64_t i = 0; i < n; i++) {
            tv g = get(rt, op + i * (int64_t)sz), r = get(rt, rp + i * (int64_t)sz);
            bool ok;
            if (ulp == 0 || !is_float(rt))
                ok = same(rt, g, r);
            else if (kind_of(rt) == K_F32)
                ok = tu_ulp_f32((float)g.f, (float)r.f) <= ulp;
            else
                ok = tu_ulp_f64(g.f, r.f) <= ulp;
            if (!ok) {
                fmt(rt, g, b2, sizeof b2);
                fmt(rt, r, b3, sizeof b3);
                fail_msg("%s [%s] element %lld: got %s, interpreter %s (ulp bound %lld)", what,
                         mode_name(jit_modes[m]), (long long)i, b2, b3, (long long)ulp);
            }
        }
        kiln_array_release(o);
    }
    kiln_array_release(ref);
}

/* One op on one input dtype, over the edge values (all pairs if binary). */
static void run_row_dtype(kiln_ctx *ctx, const op_row *row, kiln_dtype t)
{
    tv ev[40];
    size_t ne = edge_values(t, ev);
    int64_t n = row->arity == 2 ? (int64_t)(ne * ne) : (int64_t)ne;
    tv *in0 = calloc((size_t)n, sizeof *in0), *in1 = calloc((size_t)n, sizeof *in1);
    tv *want = calloc((size_t)n, sizeof *want);
    assert_non_null(in0);
    assert_non_null(in1);
    assert_non_null(want);
    for (int64_t i = 0; i < n; i++) {
        in0[i] = row->arity == 2 ? ev[(size_t)i / ne] : ev[i];
        in1[i] = row->arity == 2 ? ev[(size_t)i % ne] : ti(0);
    }
    kiln_dtype ct = compute_dtype(row->result, t), rt = result_dtype(row->result, t);
    for (int64_t i = 0; i < n; i++) {
        tv x[2] = {conv(t, ct, in0[i]), conv(t, ct, in1[i])};
        want[i] = row->expect(ct, x);
    }

    uint64_t scope = kiln_scope_begin(ctx);
    kiln_array *a = make_array(ctx, t, n, in0), *b = make_array(ctx, t, n, in1);
    kiln_expr ea = kiln_input(ctx, a), eb = kiln_input(ctx, b);
    kiln_expr e = row->arity == 2 ? row->f2(ea, eb) : row->f1(ea);
    char what[96];
    snprintf(what, sizeof what, "%s(%s)", row->name, kiln_dtype_name(t));
    if (kiln_expr_status(e) != KILN_OK)
        fail_msg("%s: construction failed: %s", what, kiln_errmsg(ctx));
    /* the op by name is the same node */
    kiln_expr args[2] = {ea, eb};
    assert_true(kiln_expr_same(kiln_op(ctx, row->name, row->arity, args), e));

    int64_t ulp = 0;
    if (gr_ops[row->op].flags & GR_F_MATH)
        ulp = kind_of(rt) == K_F32 ? gr_ops[row->op].ulp_f32 : gr_ops[row->op].ulp_f64;
    check_modes(e, rt, n, want, t, in0, row->arity == 2 ? in1 : NULL, ulp, what);

    kiln_array_release(a);
    kiln_array_release(b);
    assert_int_equal(kiln_scope_end(ctx, scope), KILN_OK);
    free(in0);
    free(in1);
    free(want);
}

/* Every accepted dtype gives the expected values; every rejected one
 * KILN_EDTYPE at construction and at evaluation. */
static void test_op_row(void **state)
{
    const op_row *row = *state;
    kiln_ctx *ctx = kiln_ctx_new(NULL);
    assert_non_null(ctx);
    for (int t = 0; t < KILN_DTYPE_COUNT; t++) {
        if (row->accept & (1u << t)) {
            run_row_dtype(ctx, row, (kiln_dtype)t);
            continue;
        }
        int64_t one = 1;
        kiln_array *a = NULL;
        assert_int_equal(kiln_array_zeros(ctx, (kiln_dtype)t, 1, &one, KILN_ORDER_C, &a), KILN_OK);
        kiln_expr x = kiln_input(ctx, a);
        kiln_expr e = row->arity == 2 ? row->f2(x, x) : row->f1(x);
        if (kiln_expr_status(e) != KILN_EDTYPE)
            fail_msg("%s(%s) should be rejected with KILN_EDTYPE, got %s", row->name,
                     kiln_dtype_name((kiln_dtype)t), kiln_status_name(kiln_expr_status(e)));
        assert_true(strlen(kiln_errmsg(ctx)) > 0);
        kiln_array *out = NULL;
        assert_int_equal(kiln_eval_many(ctx, KILN_MODE_INTERP, 1, &e, &out), KILN_EDTYPE);
        assert_null(out);
        /* an error is sticky: it propagates through a further op */
        assert_int_equal(kiln_expr_status(kiln_add(e, x)), KILN_EDTYPE);
        kiln_array_release(a);
    }
    kiln_ctx_free(ctx);
}

/* Every elementwise op of the op table has a row here (CAST and WHERE are
 * tested by their own tests below; reductions and scans are not
 * elementwise). */
static void test_table_covers_every_op(void **state)
{
    (void)state;
    for (int op = 0; op < GR_OP_COUNT; op++) {
        if (gr_ops[op].arity == 0 || op == GR_OP_CAST || op == GR_OP_WHERE ||
            gr_is_reduce(op) || gr_is_scan(op) || /* tests/test_reduce.c, test_scan.c */
            gr_is_view(op) ||                     /* tests/test_expr_views.c */
            gr_is_udf(op))                        /* tests/test_udf.c */
            continue;
        bool found = false;
        for (size_t r = 0; r < NROWS; r++) {
            if ((int)rows[r].op == op) {
                found = true;
                assert_int_equal(rows[r].arity, gr_ops[op].arity);
                assert_string_equal(rows[r].name, gr_ops[op].name);
            }
        }
        if (!found)
            fail_msg("op %s has no row in tests/test_ops.c", gr_ops[op].name);
    }
}

/* ---- gr_apply's results are canonical ---------------------------------
 * The API tests cannot see a non-canonical widened scalar (rt_store
 * truncates it), but constant folding keeps gr_apply's results in nodes:
 * every result must survive rt_store + rt_load unchanged (integers
 * truncated and extended to their width, bools 0/1 with zero padding). */

static void expect_canonical(kiln_dtype t, rt_scalar v, const char *what, kiln_dtype in_t)
{
    unsigned char buf[8];
    rt_store(t, buf, v);
    rt_scalar back = rt_load(t, buf);
    if (memcmp(&back, &v, sizeof v) != 0)
        fail_msg("%s on %s: result 0x%016llx is not a canonical %s", what, kiln_dtype_name(in_t),
                 (unsigned long long)v.u, kiln_dtype_name(t));
}

static rt_scalar to_scalar(kiln_dtype t, tv v)
{
    unsigned char buf[8];
    put(t, (char *)buf, v);
    return rt_load(t, buf);
}

static void test_apply_canonical(void **state)
{
    (void)state;
    for (size_t r = 0; r < NROWS; r++) {
        const op_row *row = &rows[r];
        for (int t = 0; t < KILN_DTYPE_COUNT; t++) {
            if (!(row->accept & (1u << t)))
                continue;
            tv ev[40];
            size_t ne = edge_values((kiln_dtype)t, ev);
            kiln_dtype ct = compute_dtype(row->result, (kiln_dtype)t);
            kiln_dtype rt = result_dtype(row->result, (kiln_dtype)t);
            kiln_dtype in_t = row->result == R_LOGIC ? KILN_BOOL : ct;
            for (size_t i = 0; i < ne; i++) {
                for (size_t j = 0; j < (row->arity == 2 ? ne : 1); j++) {
                    rt_scalar args[3] = {to_scalar(in_t, conv((kiln_dtype)t, in_t, ev[i])),
                                         to_scalar(in_t, conv((kiln_dtype)t, in_t, ev[j])),
                                         to_scalar(in_t, ti(0))};
                    expect_canonical(rt, gr_apply(row->op, in_t, rt, args), row->name, in_t);
                }
            }
        }
    }
    for (int from = 0; from < KILN_DTYPE_COUNT; from++) {
        tv ev[40];
        size_t ne = edge_values((kiln_dtype)from, ev);
        for (int to = 0; to < KILN_DTYPE_COUNT; to++)
            for (size_t i = 0; i < ne; i++) {
                rt_scalar a = to_scalar((kiln_dtype)from, ev[i]);
                expect_canonical((kiln_dtype)to, gr_apply(GR_OP_CAST, (kiln_dtype)from,
                                                          (kiln_dtype)to, &a), "cast",
                                 (kiln_dtype)from);
                expect_canonical((kiln_dtype)to, rt_convert((kiln_dtype)from, (kiln_dtype)to, a),
                                 "rt_convert", (kiln_dtype)from);
            }
    }
}

/* ---- cast: every dtype to every dtype ----------------------------------- */

static void test_cast_matrix(void **state)
{
    (void)state;
    kiln_ctx *ctx = kiln_ctx_new(NULL);
    assert_non_null(ctx);
    for (int from = 0; from < KILN_DTYPE_COUNT; from++) {
        tv ev[40], want[40];
        int64_t n = (int64_t)edge_values((kiln_dtype)from, ev);
        for (int to = 0; to < KILN_DTYPE_COUNT; to++) {
            uint64_t scope = kiln_scope_begin(ctx);
            kiln_array *a = make_array(ctx, (kiln_dtype)from, n, ev);
            kiln_expr e = kiln_cast(kiln_input(ctx, a), (kiln_dtype)to);
            for (int64_t i = 0; i < n; i++)
                want[i] = conv((kiln_dtype)from, (kiln_dtype)to, ev[i]);
            char what[64];
            snprintf(what, sizeof what, "cast %s -> %s", kiln_dtype_name((kiln_dtype)from),
                     kiln_dtype_name((kiln_dtype)to));
            check_modes(e, (kiln_dtype)to, n, want, (kiln_dtype)from, ev, NULL, 0, what);
            kiln_array_release(a);
            assert_int_equal(kiln_scope_end(ctx, scope), KILN_OK);
        }
    }
    /* a few written out: saturation, NaN -> 0, wrap, rounding, bool */
    struct { kiln_dtype from, to; double in, want; } s[] = {
        {KILN_FLOAT64, KILN_INT8, 1e10, 127},     {KILN_FLOAT64, KILN_INT8, -1e10, -128},
        {KILN_FLOAT64, KILN_UINT8, -5.0, 0},      {KILN_FLOAT64, KILN_INT32, NAN, 0},
        {KILN_FLOAT32, KILN_INT16, INFINITY, 32767}, {KILN_FLOAT64, KILN_INT16, -2.9, -2},
        {KILN_INT16, KILN_INT8, 300, 44},         {KILN_INT16, KILN_UINT8, -1, 255},
        {KILN_FLOAT64, KILN_BOOL, NAN, 1},        {KILN_FLOAT64, KILN_BOOL, -0.0, 0},
        {KILN_INT32, KILN_FLOAT32, 16777217, 16777216}, {KILN_FLOAT64, KILN_FLOAT32, 1e39, INFINITY},
    };
    for (size_t i = 0; i < sizeof s / sizeof s[0]; i++) {
        int64_t one = 1;
        kiln_array *a = tu_array(ctx, s[i].from, 1, &one, &s[i].in);
        kiln_array *o = tu_eval(kiln_cast(kiln_input(ctx, a), s[i].to), KILN_MODE_INTERP);
        double got = kiln_array_get_f64(o, 0);
        if (!(got == s[i].want))
            fail_msg("cast row %zu: %g -> %s gave %g, want %g", i, s[i].in,
                     kiln_dtype_name(s[i].to), got, s[i].want);
        kiln_array_release(o);
        kiln_array_release(a);
    }
    kiln_ctx_free(ctx);
}

/* ---- where -------------------------------------------------------------- */

/* where(cond, a, b) for every value dtype, with a bool condition, then
 * with conditions of every dtype (tested != 0: NaN true, -0.0 false). */
static void test_where_dtypes(void **state)
{
    (void)state;
    kiln_ctx *ctx = kiln_ctx_new(NULL);
    assert_non_null(ctx);
    for (int t = 0; t < KILN_DTYPE_COUNT; t++) {
        tv ev[40], rev[40], cond[40], want[40];
        int64_t n = (int64_t)edge_values((kiln_dtype)t, ev);
        for (int64_t i = 0; i < n; i++) {
            rev[i] = ev[n - 1 - i];
            cond[i] = ti(i % 3 != 1);
            want[i] = cond[i].i ? ev[i] : rev[i];
        }
        uint64_t scope = kiln_scope_begin(ctx);
        kiln_array *c = make_array(ctx, KILN_BOOL, n, cond);
        kiln_array *a = make_array(ctx, (kiln_dtype)t, n, ev);
        kiln_array *b = make_array(ctx, (kiln_dtype)t, n, rev);
        kiln_expr e = kiln_where(kiln_input(ctx, c), kiln_input(ctx, a), kiln_input(ctx, b));
        char what[64];
        snprintf(what, sizeof what, "where(bool, %s, %s)", kiln_dtype_name((kiln_dtype)t),
                 kiln_dtype_name((kiln_dtype)t));
        check_modes(e, (kiln_dtype)t, n, want, (kiln_dtype)t, ev, rev, 0, what);
        kiln_array_release(c);
        kiln_array_release(a);
        kiln_array_release(b);
        assert_int_equal(kiln_scope_end(ctx, scope), KILN_OK);
    }
    for (int ct = 0; ct < KILN_DTYPE_COUNT; ct++) {
        tv cv[40], a[40], b[40], want[40];
        int64_t n = (int64_t)edge_values((kiln_dtype)ct, cv);
        for (int64_t i = 0; i < n; i++) {
            a[i] = tf((double)i);
            b[i] = tf(-(double)i - 0.5);
            want[i] = truth((kiln_dtype)ct, cv[i]) ? a[i] : b[i];
        }
        uint64_t scope = kiln_scope_begin(ctx);
        kiln_array *c = make_array(ctx, (kiln_dtype)ct, n, cv);
        kiln_array *xa = make_array(ctx, KILN_FLOAT64, n, a), *xb = make_array(ctx, KILN_FLOAT64, n, b);
        kiln_expr e = kiln_where(kiln_input(ctx, c), kiln_input(ctx, xa), kiln_input(ctx, xb));
        char what[64];
        snprintf(what, sizeof what, "where(%s, f64, f64)", kiln_dtype_name((kiln_dtype)ct));
        check_modes(e, KILN_FLOAT64, n, want, KILN_FLOAT64, NULL, NULL, 0, what);
        kiln_array_release(c);
        kiln_array_release(xa);
        kiln_array_release(xb);
        assert_int_equal(kiln_scope_end(ctx, scope), KILN_OK);
    }
    kiln_ctx_free(ctx);
}

/* where(c (3,1) bool, a (1,4) int8, b (4,) float32) -> (3,4) float32, and
 * the seed's leaky ReLU where(x > 0, x, 0.01 * x). */
static void test_where_broadcast(void **state)
{
    (void)state;
    kiln_ctx *ctx = kiln_ctx_new(NULL);
    assert_non_null(ctx);
    int64_t sc[2] = {3, 1}, sa[2] = {1, 4}, sb[1] = {4};
    double cv[3] = {1, 0, 1}, av[4] = {-128, 0, 1, 127}, bv[4] = {0.5, -0.5, NAN, 1e30};
    kiln_array *c = tu_array(ctx, KILN_BOOL, 2, sc, cv);
    kiln_array *a = tu_array(ctx, KILN_INT8, 2, sa, av);
    kiln_array *b = tu_array(ctx, KILN_FLOAT32, 1, sb, bv);
    kiln_expr e = kiln_where(kiln_input(ctx, c), kiln_input(ctx, a), kiln_input(ctx, b));
    assert_int_equal(kiln_expr_dtype(e), KILN_FLOAT32);
    int64_t shape[KILN_MAX_RANK];
    assert_int_equal(kiln_expr_rank(e), 2);
    assert_int_equal(kiln_expr_shape(e, shape), KILN_OK);
    assert_int_equal(shape[0], 3);
    assert_int_equal(shape[1], 4);
    tv want[12];
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 4; j++)
            want[i * 4 + j] = cv[i] != 0 ? tf(av[j]) : tf((double)(float)bv[j]);
    check_modes(e, KILN_FLOAT32, 12, want, KILN_FLOAT64, NULL, NULL, 0, "where broadcast");

    double xv[5] = {-2, -1, 0, 1, 2};
    int64_t n5 = 5;
    kiln_array *x = tu_array(ctx, KILN_FLOAT64, 1, &n5, xv);
    kiln_expr ex = kiln_input(ctx, x);
    kiln_expr relu = kiln_where(kiln_greater(ex, kiln_f64(ctx, 0)), ex,
                                kiln_multiply(kiln_f64(ctx, 0.01), ex));
    tv rw[5] = {tf(-0.02), tf(-0.01), tf(0.0), tf(1), tf(2)};
    check_modes(relu, KILN_FLOAT64, 5, rw, KILN_FLOAT64, NULL, NULL, 0, "leaky relu");
    kiln_array_release(c);
    kiln_array_release(a);
    kiln_array_release(b);
    kiln_array_release(x);
    kiln_ctx_free(ctx);
}

/* ---- NaN in minimum/maximum vs fmin/fmax, written out ------------------- */

static void test_nan_min_max(void **state)
{
    (void)state;
    kiln_ctx *ctx = kiln_ctx_new(NULL);
    assert_non_null(ctx);
    int64_t n = 6;
    double av[6] = {NAN, 1.0, NAN, 2.0, -0.0, 0.0};
    double bv[6] = {1.0, NAN, NAN, 3.0, 0.0, -0.0};
    /* -0.0 < +0.0, whichever side it is on */
    double wmin[6] = {NAN, NAN, NAN, 2.0, -0.0, -0.0};
    double wmax[6] = {NAN, NAN, NAN, 3.0, 0.0, 0.0};
    double wfmin[6] = {1.0, 1.0, NAN, 2.0, -0.0, -0.0};
    double wfmax[6] = {1.0, 1.0, NAN, 3.0, 0.0, 0.0};
    const double *wants[4] = {wmin, wmax, wfmin, wfmax};
    kiln_expr (*fns[4])(kiln_expr, kiln_expr) = {kiln_minimum, kiln_maximum, kiln_fmin, kiln_fmax};
    const char *names[4] = {"minimum", "maximum", "fmin", "fmax"};
    for (int dt = 0; dt < 2; dt++) {
        kiln_dtype t = dt ? KILN_FLOAT32 : KILN_FLOAT64;
        kiln_array *a = tu_array(ctx, t, 1, &n, av), *b = tu_array(ctx, t, 1, &n, bv);
        for (int f = 0; f < 4; f++) {
            tv want[6];
            for (int i = 0; i < 6; i++)
                want[i] = tf(wants[f][i]);
            char what[48];
            snprintf(what, sizeof what, "%s %s NaN table", names[f], kiln_dtype_name(t));
            check_modes(fns[f](kiln_input(ctx, a), kiln_input(ctx, b)), t, n, want, KILN_FLOAT64, NULL, NULL, 0,
                        what);
        }
        kiln_array_release(a);
        kiln_array_release(b);
    }
    /* clip(x, lo, hi) = minimum(maximum(x, lo), hi): NaN stays NaN */
    double xv[4] = {-5, 0.5, 7, NAN};
    int64_t n4 = 4;
    kiln_array *x = tu_array(ctx, KILN_FLOAT64, 1, &n4, xv);
    kiln_expr cl = kiln_clip(kiln_input(ctx, x), kiln_f64(ctx, 0), kiln_f64(ctx, 1));
    tv cw[4] = {tf(0), tf(0.5), tf(1), tf(NAN)};
    check_modes(cl, KILN_FLOAT64, 4, cw, KILN_FLOAT64, NULL, NULL, 0, "clip");
    kiln_array_release(x);
    kiln_ctx_free(ctx);
}

/* ---- integer edge cases, written out ----------------------------------- */

static void test_integer_edges(void **state)
{
    (void)state;
    kiln_ctx *ctx = kiln_ctx_new(NULL);
    assert_non_null(ctx);
    int64_t n = 1;
    struct {
        kiln_expr (*f)(kiln_expr, kiln_expr);
        kiln_dtype t;
        double a, b, want;
    } s[] = {
        {kiln_add, KILN_INT8, 100, 100, -56},
        {kiln_subtract, KILN_UINT8, 0, 1, 255},
        {kiln_multiply, KILN_INT16, 300, 300, 24464},
        {kiln_floor_divide, KILN_INT8, -128, -1, -128},
        {kiln_remainder, KILN_INT8, -128, -1, 0},
        {kiln_floor_divide, KILN_INT32, -7, 2, -4},
        {kiln_remainder, KILN_INT32, -7, 2, 1},
        {kiln_remainder, KILN_INT32, 7, -2, -1},
        {kiln_floor_divide, KILN_INT64, 5, 0, 0},
        {kiln_remainder, KILN_UINT16, 5, 0, 0},
        {kiln_power, KILN_INT8, 2, 7, -128},
        {kiln_power, KILN_INT32, 2, -1, 0},
        {kiln_power, KILN_INT32, -1, -3, -1},
        {kiln_power, KILN_UINT8, 3, 5, 243},
        {kiln_left_shift, KILN_INT8, 1, 7, -128},
        {kiln_left_shift, KILN_INT8, 1, 8, 0},
        {kiln_right_shift, KILN_INT8, -5, 9, -1},
        {kiln_right_shift, KILN_INT8, -5, 1, -3},
        {kiln_right_shift, KILN_UINT8, 255, 8, 0},
        {kiln_left_shift, KILN_INT32, 1, -1, 0},
        {kiln_minimum, KILN_UINT8, 255, 0, 0},
        {kiln_maximum, KILN_INT16, -32768, 32767, 32767},
    };
    for (size_t i = 0; i < sizeof s / sizeof s[0]; i++) {
        kiln_array *a = tu_array(ctx, s[i].t, 1, &n, &s[i].a);
        kiln_array *b = tu_array(ctx, s[i].t, 1, &n, &s[i].b);
        kiln_expr e = s[i].f(kiln_input(ctx, a), kiln_input(ctx, b));
        tv want = ti((i128)s[i].want);
        char what[48];
        snprintf(what, sizeof what, "integer edge row %zu", i);
        check_modes(e, s[i].t, 1, &want, KILN_FLOAT64, NULL, NULL, 0, what);
        kiln_array_release(a);
        kiln_array_release(b);
    }
    /* unary: abs(INT_MIN) wraps, -INT_MIN wraps, square wraps, invert */
    struct {
        kiln_expr (*f)(kiln_expr);
        kiln_dtype t;
        double a, want;
    } u[] = {
        {kiln_absolute, KILN_INT8, -128, -128},
        {kiln_negative, KILN_INT16, -32768, -32768},
        {kiln_negative, KILN_UINT8, 1, 255},
        {kiln_square, KILN_INT8, 16, 0},
        {kiln_square, KILN_INT32, 46341, -2147479015},
        {kiln_bitwise_not, KILN_UINT8, 5, 250},
        {kiln_bitwise_not, KILN_INT8, 5, -6},
        {kiln_sign, KILN_INT64, -9, -1},
        {kiln_sign, KILN_UINT64, 9, 1},
    };
    for (size_t i = 0; i < sizeof u / sizeof u[0]; i++) {
        kiln_array *a = tu_array(ctx, u[i].t, 1, &n, &u[i].a);
        tv want = ti((i128)u[i].want);
        char what[48];
        snprintf(what, sizeof what, "integer unary edge row %zu", i);
        check_modes(u[i].f(kiln_input(ctx, a)), u[i].t, 1, &want, KILN_FLOAT64, NULL, NULL, 0, what);
        kiln_array_release(a);
    }
    /* INT64_MIN // -1 wraps, without trapping */
    int64_t mn = INT64_MIN, m1 = -1, shape1 = 1;
    kiln_array *a = NULL, *b = NULL;
    assert_int_equal(kiln_array_wrap(ctx, &mn, KILN_INT64, 1, &shape1, NULL, NULL, NULL, &a), KILN_OK);
    assert_int_equal(kiln_array_wrap(ctx, &m1, KILN_INT64, 1, &shape1, NULL, NULL, NULL, &b), KILN_OK);
    tv want = ti(INT64_MIN);
    check_modes(kiln_floor_divide(kiln_input(ctx, a), kiln_input(ctx, b)), KILN_INT64, 1, &want,
                KILN_FLOAT64, NULL, NULL, 0, "INT64_MIN // -1");
    want = ti(0);
    check_modes(kiln_remainder(kiln_input(ctx, a), kiln_input(ctx, b)), KILN_INT64, 1, &want, KILN_INT64,
                NULL, NULL, 0, "INT64_MIN % -1");
    kiln_array_release(a);
    kiln_array_release(b);
    kiln_ctx_free(ctx);
}

/* ---- float edge cases, written out ------------------------------------- */

static void test_float_edges(void **state)
{
    (void)state;
    kiln_ctx *ctx = kiln_ctx_new(NULL);
    assert_non_null(ctx);
    int64_t n = 1;
    struct {
        kiln_expr (*f)(kiln_expr);
        kiln_dtype t;
        double a, want;
    } u[] = {
        {kiln_sign, KILN_FLOAT64, -0.0, 0.0},   {kiln_sign, KILN_FLOAT64, NAN, NAN},
        {kiln_sign, KILN_FLOAT32, -3.5, -1.0},  {kiln_sign, KILN_FLOAT64, -INFINITY, -1.0},
        {kiln_rint, KILN_FLOAT64, 2.5, 2.0},    {kiln_rint, KILN_FLOAT64, 3.5, 4.0},
        {kiln_rint, KILN_FLOAT32, -0.5, -0.0},  {kiln_floor, KILN_FLOAT64, -0.5, -1.0},
        {kiln_ceil, KILN_FLOAT64, -0.5, -0.0},  {kiln_trunc, KILN_FLOAT32, -1.5, -1.0},
        {kiln_absolute, KILN_FLOAT64, -0.0, 0.0}, {kiln_negative, KILN_FLOAT64, 0.0, -0.0},
        {kiln_sqrt, KILN_FLOAT64, -1.0, NAN},   {kiln_sqrt, KILN_FLOAT64, -0.0, -0.0},
        {kiln_isnan, KILN_FLOAT32, NAN, 1},     {kiln_isinf, KILN_FLOAT64, -INFINITY, 1},
        {kiln_isfinite, KILN_FLOAT64, 5e-324, 1}, {kiln_isfinite, KILN_INT8, -128, 1},
        {kiln_isnan, KILN_UINT64, 0, 0},        {kiln_log, KILN_FLOAT64, 0.0, -INFINITY},
        {kiln_exp, KILN_FLOAT64, -INFINITY, 0.0},
    };
    for (size_t i = 0; i < sizeof u / sizeof u[0]; i++) {
        kiln_array *a = tu_array(ctx, u[i].t, 1, &n, &u[i].a);
        kiln_expr e = u[i].f(kiln_input(ctx, a));
        kiln_dtype rt = kiln_expr_dtype(e);
        tv want = rt == KILN_BOOL ? ti(u[i].want != 0) : tf(u[i].want);
        char what[48];
        snprintf(what, sizeof what, "float unary edge row %zu", i);
        check_modes(e, rt, 1, &want, KILN_FLOAT64, NULL, NULL, 0, what);
        kiln_array_release(a);
    }
    struct {
        kiln_expr (*f)(kiln_expr, kiln_expr);
        kiln_dtype t;
        double a, b, want;
    } s[] = {
        {kiln_remainder, KILN_FLOAT64, -5.0, INFINITY, INFINITY},
        {kiln_remainder, KILN_FLOAT64, 5.0, INFINITY, 5.0},
        {kiln_floor_divide, KILN_FLOAT64, -5.0, INFINITY, -1.0},
        {kiln_floor_divide, KILN_FLOAT32, 1.0, 0.0, INFINITY},
        {kiln_remainder, KILN_FLOAT32, 1.0, 0.0, NAN},
        {kiln_remainder, KILN_FLOAT64, -0.0, -5.0, -0.0},
        {kiln_floor_divide, KILN_FLOAT64, -0.0, 5.0, -0.0},
        {kiln_divide, KILN_FLOAT64, 1.0, -0.0, -INFINITY},
        {kiln_divide, KILN_FLOAT32, 0.0, 0.0, NAN},
        {kiln_add, KILN_FLOAT64, -0.0, -0.0, -0.0},
        {kiln_add, KILN_FLOAT64, INFINITY, -INFINITY, NAN},
        {kiln_add, KILN_FLOAT32, 16777216.0, 1.0, 16777216.0},
        {kiln_multiply, KILN_FLOAT32, 3e38, 10.0, INFINITY},
        {kiln_power, KILN_FLOAT64, 0.0, -1.0, INFINITY},
        {kiln_power, KILN_FLOAT64, NAN, 0.0, 1.0},
        {kiln_equal, KILN_FLOAT64, NAN, NAN, 0},
        {kiln_not_equal, KILN_FLOAT64, NAN, NAN, 1},
        {kiln_less_equal, KILN_FLOAT32, NAN, 1.0, 0},
        {kiln_equal, KILN_FLOAT64, -0.0, 0.0, 1},
        {kiln_logical_and, KILN_FLOAT64, NAN, 2.0, 1},
        {kiln_logical_or, KILN_FLOAT64, -0.0, 0.0, 0},
    };
    for (size_t i = 0; i < sizeof s / sizeof s[0]; i++) {
        kiln_array *a = tu_array(ctx, s[i].t, 1, &n, &s[i].a);
        kiln_array *b = tu_array(ctx, s[i].t, 1, &n, &s[i].b);
        kiln_expr e = s[i].f(kiln_input(ctx, a), kiln_input(ctx, b));
        kiln_dtype rt = kiln_expr_dtype(e);
        tv want = rt == KILN_BOOL ? ti(s[i].want != 0) : tf(s[i].want);
        char what[48];
        snprintf(what, sizeof what, "float binary edge row %zu", i);
        check_modes(e, rt, 1, &want, KILN_FLOAT64, NULL, NULL, 0, what);
        kiln_array_release(a);
        kiln_array_release(b);
    }
    kiln_ctx_free(ctx);
}

/* ---- kiln_op by name: aliases and errors ------------------------------- */

static void test_op_names(void **state)
{
    (void)state;
    kiln_ctx *ctx = kiln_ctx_new(NULL);
    assert_non_null(ctx);
    double v[3] = {-1.5, 2, 4};
    int64_t n = 3;
    kiln_array *a = tu_array(ctx, KILN_FLOAT64, 1, &n, v);
    kiln_array *ia = tu_array(ctx, KILN_INT32, 1, &n, v);
    kiln_expr x = kiln_input(ctx, a), ix = kiln_input(ctx, ia);
    kiln_expr xx[2] = {x, x};
    assert_true(kiln_expr_same(kiln_op(ctx, "true_divide", 2, xx), kiln_divide(x, x)));
    assert_true(kiln_expr_same(kiln_op(ctx, "abs", 1, xx), kiln_absolute(x)));
    assert_true(kiln_expr_same(kiln_op(ctx, "mod", 2, xx), kiln_remainder(x, x)));
    assert_true(kiln_expr_same(kiln_op(ctx, "bitwise_not", 1, &ix), kiln_bitwise_not(ix)));
    assert_true(kiln_expr_same(kiln_op(ctx, "bitwise_invert", 1, &ix), kiln_bitwise_not(ix)));
    kiln_expr w3[3] = {kiln_greater(x, kiln_f64(ctx, 0)), x, kiln_negative(x)};
    assert_true(kiln_expr_same(kiln_op(ctx, "where", 3, w3), kiln_where(w3[0], w3[1], w3[2])));
    assert_int_equal(kiln_expr_status(kiln_op(ctx, "no_such_op", 1, xx)), KILN_EINVAL);
    assert_int_equal(kiln_expr_status(kiln_op(ctx, "add", 1, xx)), KILN_EINVAL);
    assert_int_equal(kiln_expr_status(kiln_op(ctx, "sin", 2, xx)), KILN_EINVAL);
    kiln_array_release(a);
    kiln_array_release(ia);
    kiln_ctx_free(ctx);
}

int main(void)
{
    static struct CMUnitTest tests[NROWS + 16];
    size_t n = 0;
    for (size_t r = 0; r < NROWS; r++) {
        tests[n].name = rows[r].name;
        tests[n].test_func = test_op_row;
        tests[n].initial_state = (void *)&rows[r];
        n++;
    }
    const struct CMUnitTest more[] = {
        cmocka_unit_test(test_table_covers_every_op),
        cmocka_unit_test(test_apply_canonical),
        cmocka_unit_test(test_cast_matrix),
        cmocka_unit_test(test_where_dtypes),
        cmocka_unit_test(test_where_broadcast),
        cmocka_unit_test(test_nan_min_max),
        cmocka_unit_test(test_integer_edges),
        cmocka_unit_test(test_float_edges),
        cmocka_unit_test(test_op_names),
    };
    for (size_t i = 0; i < sizeof more / sizeof more[0]; i++)
        tests[n++] = more[i];
    return _cmocka_run_group_tests("ops", tests, n, NULL, NULL);
}
