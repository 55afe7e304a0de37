/*
 * tests/test_scalar.c — runtime/scalar.c: element loads and stores
 * (unaligned, bool bytes), rt_convert (kiln_cast: wrap, round, saturate,
 * NaN -> 0, -> bool), integer and float floor division and remainder
 * (Python's // and %, NumPy's npy_divmod for zero, inf and NaN), and
 * integer power. Every expected value is written out here, taken from
 * Python's integer semantics and NumPy 1.24 (np.floor_divide/np.remainder
 * on float64 and float32 scalars), never computed by the code under test.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "testutil.h"

#include "runtime/rt.h"

#include <float.h>
#include <math.h>
#include <string.h>

/* Same value, same sign of zero; any NaN matches any NaN. */
static bool same_f64(double a, double b)
{
    if (isnan(a) || isnan(b))
        return isnan(a) && isnan(b);
    return a == b && signbit(a) == signbit(b);
}

static bool same_f32(float a, float b)
{
    if (isnan(a) || isnan(b))
        return isnan(a) && isnan(b);
    return a == b && signbit(a) == signbit(b);
}

static rt_scalar S_i(int64_t v) { rt_scalar s; memset(&s, 0, sizeof s); s.i = v; return s; }
static rt_scalar S_u(uint64_t v) { rt_scalar s; memset(&s, 0, sizeof s); s.u = v; return s; }
static rt_scalar S_f(double v) { rt_scalar s; memset(&s, 0, sizeof s); s.f = v; return s; }
static rt_scalar S_b(bool v) { rt_scalar s; memset(&s, 0, sizeof s); s.b = v; return s; }

/* ---- load / store ------------------------------------------------------- */

static void test_load_store_unaligned(void **state)
{
    (void)state;
    unsigned char buf[32];
    /* every dtype at an odd address, round trip of an edge value */
    struct { kiln_dtype t; rt_scalar v; } cases[] = {
        {KILN_INT8, S_i(-128)},          {KILN_INT16, S_i(-32768)},
        {KILN_INT32, S_i(INT32_MIN)},    {KILN_INT64, S_i(INT64_MIN)},
        {KILN_UINT8, S_u(255)},          {KILN_UINT16, S_u(65535)},
        {KILN_UINT32, S_u(UINT32_MAX)},  {KILN_UINT64, S_u(UINT64_MAX)},
        {KILN_FLOAT32, S_f(-1.5)},       {KILN_FLOAT64, S_f(-0.0)},
        {KILN_BOOL, S_b(true)},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        memset(buf, 0xAB, sizeof buf);
        rt_store(cases[i].t, buf + 3, cases[i].v);
        assert_int_equal(buf[2], 0xAB); /* nothing written outside */
        assert_int_equal(buf[3 + kiln_dtype_size(cases[i].t)], 0xAB);
        rt_scalar back = rt_load(cases[i].t, buf + 3);
        assert_memory_equal(&back, &cases[i].v, sizeof back);
    }
    /* byte images: little-endian int32 -2 at an odd address */
    memset(buf, 0, sizeof buf);
    rt_store(KILN_INT32, buf + 1, S_i(-2));
    assert_int_equal(buf[1], 0xFE);
    assert_int_equal(buf[4], 0xFF);
    /* sign extension on load, zero extension for unsigned */
    buf[5] = 0x80;
    assert_int_equal(rt_load(KILN_INT8, buf + 5).i, -128);
    assert_int_equal(rt_load(KILN_UINT8, buf + 5).u, 128);
    /* float32 loads as the exact double */
    float f = 0.1f;
    memcpy(buf + 7, &f, sizeof f);
    assert_true(rt_load(KILN_FLOAT32, buf + 7).f == (double)0.1f);
    /* the store of a float32 rounds (a non-canonical double) */
    rt_store(KILN_FLOAT32, buf + 9, S_f(0.1));
    memcpy(&f, buf + 9, sizeof f);
    assert_true(f == 0.1f);
}

static void test_bool_bytes(void **state)
{
    (void)state;
    unsigned char b[4] = {0, 1, 2, 0xFF};
    assert_false(rt_load(KILN_BOOL, &b[0]).b);
    assert_true(rt_load(KILN_BOOL, &b[1]).b);
    assert_true(rt_load(KILN_BOOL, &b[2]).b);
    assert_true(rt_load(KILN_BOOL, &b[3]).b);
    /* the loaded form is canonical: the other bytes are zero */
    rt_scalar v = rt_load(KILN_BOOL, &b[3]);
    assert_int_equal(v.u, 1);
    rt_store(KILN_BOOL, &b[0], v);
    assert_int_equal(b[0], 1);
    rt_store(KILN_BOOL, &b[0], S_b(false));
    assert_int_equal(b[0], 0);
}

/* ---- conversion ------------------------------------------------------- */

static void test_convert_float_to_int(void **state)
{
    (void)state;
    struct { double f; kiln_dtype t; int64_t want; } s[] = {
        {NAN, KILN_INT64, 0},           {-NAN, KILN_INT8, 0},
        {INFINITY, KILN_INT64, INT64_MAX}, {-INFINITY, KILN_INT64, INT64_MIN},
        {1e300, KILN_INT32, INT32_MAX}, {-1e300, KILN_INT32, INT32_MIN},
        {127.9, KILN_INT8, 127},        {128.0, KILN_INT8, 127},
        {-128.9, KILN_INT8, -128},      {-129.0, KILN_INT8, -128},
        {-0.9, KILN_INT8, 0},           {-1.5, KILN_INT16, -1},
        {32767.5, KILN_INT16, 32767},   {-32769.0, KILN_INT16, -32768},
        {2147483647.9, KILN_INT32, INT32_MAX}, {-2147483648.5, KILN_INT32, INT32_MIN},
        {9223372036854775808.0, KILN_INT64, INT64_MAX},   /* 2^63 */
        {-9223372036854775808.0, KILN_INT64, INT64_MIN},  /* -2^63: exact */
        {9223372036854774784.0, KILN_INT64, INT64_C(9223372036854774784)}, /* 2^63-1024 */
        {-5e-324, KILN_INT64, 0},
    };
    for (size_t i = 0; i < sizeof s / sizeof s[0]; i++)
        assert_int_equal(rt_convert(KILN_FLOAT64, s[i].t, S_f(s[i].f)).i, s[i].want);

    struct { double f; kiln_dtype t; uint64_t want; } u[] = {
        {NAN, KILN_UINT8, 0},           {-1.0, KILN_UINT8, 0},
        {-1e300, KILN_UINT64, 0},       {-0.5, KILN_UINT32, 0},
        {255.9, KILN_UINT8, 255},       {256.0, KILN_UINT8, 255},
        {65536.0, KILN_UINT16, 65535},  {4294967295.5, KILN_UINT32, UINT32_MAX},
        {INFINITY, KILN_UINT64, UINT64_MAX},
        {18446744073709551616.0, KILN_UINT64, UINT64_MAX}, /* 2^64 */
        {18446744073709549568.0, KILN_UINT64, UINT64_C(18446744073709549568)},
        {9223372036854775808.0, KILN_UINT64, UINT64_C(9223372036854775808)},
        {3.99, KILN_UINT8, 3},
    };
    for (size_t i = 0; i < sizeof u / sizeof u[0]; i++)
        assert_true(rt_convert(KILN_FLOAT64, u[i].t, S_f(u[i].f)).u == u[i].want);

    /* float32 sources: 3e9f and -3e9f saturate int32 */
    assert_int_equal(rt_convert(KILN_FLOAT32, KILN_INT32, S_f((double)3e9f)).i, INT32_MAX);
    assert_int_equal(rt_convert(KILN_FLOAT32, KILN_INT32, S_f((double)-3e9f)).i, INT32_MIN);
    assert_int_equal(rt_convert(KILN_FLOAT32, KILN_UINT16, S_f((double)NAN)).u, 0);
    assert_int_equal(rt_convert(KILN_FLOAT32, KILN_INT16, S_f(-7.75)).i, -7);
}

static void test_convert_int_wraps(void **state)
{
    (void)state;
    assert_int_equal(rt_convert(KILN_INT64, KILN_INT8, S_i(300)).i, 44);
    assert_int_equal(rt_convert(KILN_INT64, KILN_INT8, S_i(-129)).i, 127);
    assert_int_equal(rt_convert(KILN_INT64, KILN_UINT8, S_i(-1)).u, 255);
    assert_true(rt_convert(KILN_INT64, KILN_UINT64, S_i(-1)).u == UINT64_MAX);
    assert_int_equal(rt_convert(KILN_UINT64, KILN_INT64, S_u(UINT64_MAX)).i, -1);
    assert_int_equal(rt_convert(KILN_UINT8, KILN_INT8, S_u(200)).i, -56);
    assert_int_equal(rt_convert(KILN_INT8, KILN_UINT16, S_i(-1)).u, 65535);
    assert_int_equal(rt_convert(KILN_INT16, KILN_INT8, S_i(-32768)).i, 0);
    assert_int_equal(rt_convert(KILN_UINT32, KILN_INT32, S_u(0x80000000u)).i, INT32_MIN);
    assert_int_equal(rt_convert(KILN_INT32, KILN_INT64, S_i(INT32_MIN)).i, INT32_MIN);
    assert_true(rt_convert(KILN_INT32, KILN_UINT64, S_i(INT32_MIN)).u ==
                UINT64_C(0xFFFFFFFF80000000));
    assert_int_equal(rt_convert(KILN_UINT16, KILN_UINT8, S_u(0x1234)).u, 0x34);
    assert_int_equal(rt_convert(KILN_BOOL, KILN_INT8, S_b(true)).i, 1);
    assert_int_equal(rt_convert(KILN_BOOL, KILN_UINT64, S_b(false)).u, 0);
}

static void test_convert_to_float(void **state)
{
    (void)state;
    /* int -> float64 rounds to nearest even: 2^53+1 -> 2^53, 2^53+3 -> 2^53+4 */
    assert_true(rt_convert(KILN_INT64, KILN_FLOAT64, S_i(9007199254740993)).f == 9007199254740992.0);
    assert_true(rt_convert(KILN_INT64, KILN_FLOAT64, S_i(9007199254740995)).f == 9007199254740996.0);
    assert_true(rt_convert(KILN_INT64, KILN_FLOAT64, S_i(INT64_MIN)).f == -9223372036854775808.0);
    assert_true(rt_convert(KILN_UINT64, KILN_FLOAT64, S_u(UINT64_MAX)).f == 18446744073709551616.0);
    assert_true(rt_convert(KILN_INT8, KILN_FLOAT64, S_i(-128)).f == -128.0);
    /* int -> float32: 2^24+1 -> 2^24, one rounding */
    assert_true(rt_convert(KILN_INT32, KILN_FLOAT32, S_i(16777217)).f == 16777216.0);
    /* 2^60 + 2^36 + 1 is just above a float32 halfway point: direct
     * rounding goes up to 2^60 + 2^37; through double it would first round
     * to the halfway point and then to even, 2^60. */
    int64_t x = (INT64_C(1) << 60) + (INT64_C(1) << 36) + 1;
    assert_true(rt_convert(KILN_INT64, KILN_FLOAT32, S_i(x)).f ==
                1152921504606846976.0 + 137438953472.0);
    assert_true(rt_convert(KILN_INT64, KILN_FLOAT32, S_i(-x)).f ==
                -(1152921504606846976.0 + 137438953472.0));
    uint64_t ux = (UINT64_C(1) << 63) + (UINT64_C(1) << 39) + 1; /* same, at 2^63 */
    assert_true(rt_convert(KILN_UINT64, KILN_FLOAT32, S_u(ux)).f ==
                9223372036854775808.0 + 1099511627776.0);
    assert_true(rt_convert(KILN_UINT64, KILN_FLOAT32, S_u(UINT64_MAX)).f == 18446744073709551616.0);
    assert_true(rt_convert(KILN_BOOL, KILN_FLOAT32, S_b(true)).f == 1.0);
    /* float64 -> float32: IEEE rounding, overflow to inf, underflow */
    assert_true(rt_convert(KILN_FLOAT64, KILN_FLOAT32, S_f(0.1)).f == (double)0.1f);
    assert_true(rt_convert(KILN_FLOAT64, KILN_FLOAT32, S_f(1e39)).f == INFINITY);
    assert_true(rt_convert(KILN_FLOAT64, KILN_FLOAT32, S_f(-1e39)).f == -INFINITY);
    assert_true(same_f64(rt_convert(KILN_FLOAT64, KILN_FLOAT32, S_f(-1e-46)).f, -0.0));
    assert_true(rt_convert(KILN_FLOAT64, KILN_FLOAT32, S_f(1e-45)).f == 1.4012984643248171e-45);
    assert_true(isnan(rt_convert(KILN_FLOAT64, KILN_FLOAT32, S_f(NAN)).f));
    /* 1 + 2^-24 is a float32 tie: rounds to even, 1.0 */
    assert_true(rt_convert(KILN_FLOAT64, KILN_FLOAT32, S_f(1.0 + 0x1p-24)).f == 1.0);
    assert_true(rt_convert(KILN_FLOAT64, KILN_FLOAT32, S_f(1.0 + 0x1p-23 + 0x1p-24)).f ==
                1.0 + 0x1p-22);
    /* float32 -> float64 exact */
    assert_true(rt_convert(KILN_FLOAT32, KILN_FLOAT64, S_f((double)FLT_MAX)).f == (double)FLT_MAX);
}

static void test_convert_to_bool(void **state)
{
    (void)state;
    assert_true(rt_convert(KILN_FLOAT64, KILN_BOOL, S_f(NAN)).b);
    assert_false(rt_convert(KILN_FLOAT64, KILN_BOOL, S_f(-0.0)).b);
    assert_true(rt_convert(KILN_FLOAT64, KILN_BOOL, S_f(5e-324)).b);
    assert_true(rt_convert(KILN_FLOAT32, KILN_BOOL, S_f(-INFINITY)).b);
    assert_true(rt_convert(KILN_INT64, KILN_BOOL, S_i(256)).b); /* not truncated */
    assert_true(rt_convert(KILN_INT64, KILN_BOOL, S_i(INT64_MIN)).b);
    assert_false(rt_convert(KILN_UINT8, KILN_BOOL, S_u(0)).b);
    assert_true(rt_convert(KILN_UINT64, KILN_BOOL, S_u(UINT64_C(1) << 63)).b);
    rt_scalar v = rt_convert(KILN_INT32, KILN_BOOL, S_i(-7));
    assert_int_equal(v.u, 1); /* canonical */
    assert_true(rt_convert(KILN_BOOL, KILN_BOOL, S_b(true)).b);
}

/* ---- integer floor division and remainder ------------------------------ */

static void test_int_divmod(void **state)
{
    (void)state;
    /* {a, b, a // b, a % b}: Python's floor semantics; b == 0 -> 0, 0;
     * b == -1 -> -a wrapped, 0 */
    static const int64_t t[][4] = {
        {7, 2, 3, 1},
        {-7, 2, -4, 1},
        {7, -2, -4, -1},
        {-7, -2, 3, -1},
        {6, 3, 2, 0},
        {-6, 3, -2, 0},
        {6, -3, -2, 0},
        {0, 5, 0, 0},
        {0, -5, 0, 0},
        {1, 0, 0, 0},
        {-1, 0, 0, 0},
        {0, 0, 0, 0},
        {INT64_MIN, 0, 0, 0},
        {INT64_MIN, -1, INT64_MIN, 0},
        {INT64_MIN, 1, INT64_MIN, 0},
        {9223372036854775807, -1, -9223372036854775807, 0},
        {INT64_MIN, 2, -4611686018427387904, 0},
        {INT64_MIN, 3, -3074457345618258603, 1},
        {INT64_MIN, -3, 3074457345618258602, -2},
        {9223372036854775807, INT64_MIN, -1, -1},
        {INT64_MIN, 9223372036854775807, -2, 9223372036854775806},
        {9223372036854775807, 2, 4611686018427387903, 1},
        {-1, INT64_MIN, 0, -1},
        {1, INT64_MIN, -1, -9223372036854775807},
        {INT64_MIN, INT64_MIN, 1, 0},
        {5, 7, 0, 5},
        {-5, 7, -1, 2},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        int64_t q = rt_floordiv_i64(t[i][0], t[i][1]), r = rt_remainder_i64(t[i][0], t[i][1]);
        if (q != t[i][2] || r != t[i][3])
            fail_msg("row %zu: %lld // %lld = %lld (want %lld), %% = %lld (want %lld)", i,
                     (long long)t[i][0], (long long)t[i][1], (long long)q, (long long)t[i][2],
                     (long long)r, (long long)t[i][3]);
    }
    static const uint64_t u[][4] = {
        {7, 2, 3, 1},
        {7, 0, 0, 0},
        {0, 0, 0, 0},
        {UINT64_MAX, 1, UINT64_MAX, 0},
        {UINT64_MAX, 2, 9223372036854775807u, 1},
        {UINT64_MAX, UINT64_MAX, 1, 0},
        {5, UINT64_MAX, 0, 5},
    };
    for (size_t i = 0; i < sizeof u / sizeof u[0]; i++) {
        assert_true(rt_floordiv_u64(u[i][0], u[i][1]) == u[i][2]);
        assert_true(rt_remainder_u64(u[i][0], u[i][1]) == u[i][3]);
    }
}

/* ---- float floor division and remainder -------------------------------- */

static void test_float_divmod_f64(void **state)
{
    (void)state;
    /* {a, b, np.floor_divide(a, b), np.remainder(a, b)} from NumPy 1.24 */
    static const double t[][4] = {
        {7.0, 2.0, 3.0, 1.0},
        {-7.0, 2.0, -4.0, 1.0},
        {7.0, -2.0, -4.0, -1.0},
        {-7.0, -2.0, 3.0, -1.0},
        {0.1, 0.01, 10.0, 3.469446951953614e-18},
        {-0.0, 5.0, -0.0, 0.0},
        {0.0, -5.0, -0.0, -0.0},
        {-0.0, -5.0, 0.0, -0.0},
        {0.0, 5.0, 0.0, 0.0},
        {5.0, INFINITY, 0.0, 5.0},
        {-5.0, INFINITY, -1.0, INFINITY},
        {5.0, -INFINITY, -1.0, -INFINITY},
        {-5.0, -INFINITY, 0.0, -5.0},
        {INFINITY, 5.0, NAN, NAN},
        {-INFINITY, 5.0, NAN, NAN},
        {INFINITY, INFINITY, NAN, NAN},
        {NAN, 1.0, NAN, NAN},
        {1.0, NAN, NAN, NAN},
        {1.0, 0.0, INFINITY, NAN},
        {-1.0, 0.0, -INFINITY, NAN},
        {0.0, 0.0, NAN, NAN},
        {1.0, -0.0, -INFINITY, NAN},
        {-1.0, -0.0, INFINITY, NAN},
        {1e+308, 1e-308, INFINITY, 3.498445546245627e-309},
        {-1e+308, 1e-308, -INFINITY, 6.50155445375437e-309},
        {5.5, 2.5, 2.0, 0.5},
        {-5.5, 2.5, -3.0, 2.0},
        {5e-324, 1.5e-323, 0.0, 5e-324},
        {-5e-324, 1.5e-323, -1.0, 1e-323},
        {3.0, 0.5, 6.0, 0.0},
        {1e+16, 3.0, 3333333333333333.0, 1.0},
        {-6.0, 3.0, -2.0, 0.0},
        {6.0, -3.0, -2.0, -0.0},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        double q = rt_floordiv_f64(t[i][0], t[i][1]), r = rt_remainder_f64(t[i][0], t[i][1]);
        if (!same_f64(q, t[i][2]) || !same_f64(r, t[i][3]))
            fail_msg("row %zu: %g // %g = %g (want %g), %% = %g (want %g)", i, t[i][0], t[i][1],
                     q, t[i][2], r, t[i][3]);
    }
}

static void test_float_divmod_f32(void **state)
{
    (void)state;
    /* the same in float32: NumPy 1.24 on np.float32 scalars */
    static const float t[][4] = {
        {7.0f, 2.0f, 3.0f, 1.0f},
        {-7.0f, 2.0f, -4.0f, 1.0f},
        {7.0f, -2.0f, -4.0f, -1.0f},
        {-7.0f, -2.0f, 3.0f, -1.0f},
        {0.1f, 0.01f, 10.0f, 3.7252903e-09f},
        {-0.0f, 5.0f, -0.0f, 0.0f},
        {0.0f, -5.0f, -0.0f, -0.0f},
        {-0.0f, -5.0f, 0.0f, -0.0f},
        {5.0f, INFINITY, 0.0f, 5.0f},
        {-5.0f, INFINITY, -1.0f, INFINITY},
        {5.0f, -INFINITY, -1.0f, -INFINITY},
        {-5.0f, -INFINITY, 0.0f, -5.0f},
        {INFINITY, 5.0f, NAN, NAN},
        {NAN, 1.0f, NAN, NAN},
        {1.0f, NAN, NAN, NAN},
        {1.0f, 0.0f, INFINITY, NAN},
        {-1.0f, 0.0f, -INFINITY, NAN},
        {0.0f, 0.0f, NAN, NAN},
        {1.0f, -0.0f, -INFINITY, NAN},
        {5.5f, 2.5f, 2.0f, 0.5f},
        {-5.5f, 2.5f, -3.0f, 2.0f},
        {1e+16f, 3.0f, 3.3333335e+15f, 2.0f},
        {6.0f, -3.0f, -2.0f, -0.0f},
        {1e-45f, 3e-45f, 0.0f, 1e-45f},
        {-1e-45f, 3e-45f, -1.0f, 1e-45f},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        float q = rt_floordiv_f32(t[i][0], t[i][1]), r = rt_remainder_f32(t[i][0], t[i][1]);
        if (!same_f32(q, t[i][2]) || !same_f32(r, t[i][3]))
            fail_msg("row %zu: %g // %g = %g (want %g), %% = %g (want %g)", i, (double)t[i][0],
                     (double)t[i][1], (double)q, (double)t[i][2], (double)r, (double)t[i][3]);
    }
}

/* ---- integer power ----------------------------------------------------- */

static void test_power(void **state)
{
    (void)state;
    static const int64_t t[][3] = {
        {2, 10, 1024},
        {2, 62, INT64_C(4611686018427387904)},
        {2, 63, INT64_MIN},
        {2, 64, 0},
        {-2, 63, INT64_MIN},
        {-3, 3, -27},
        {0, 0, 1},
        {0, 5, 0},
        {5, 0, 1},
        {-7, 0, 1},
        {3, 40, INT64_C(-6289078614652622815)},
        {-3, 41, INT64_C(420491770248316829)},
        {7, INT64_MAX, INT64_C(7905747460161236407)},
        {10, 19, INT64_C(-8446744073709551616)},
        /* negative exponents: 0, except base 1 (1) and -1 (+-1) */
        {2, -1, 0},
        {0, -1, 0},
        {-2, -3, 0},
        {1, -5, 1},
        {-1, -5, -1},
        {-1, -4, 1},
        {-1, INT64_MIN, 1},
        {1, INT64_MIN, 1},
        {INT64_MIN, -1, 0},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        int64_t p = rt_power_i64(t[i][0], t[i][1]);
        if (p != t[i][2])
            fail_msg("row %zu: %lld ** %lld = %lld, want %lld", i, (long long)t[i][0],
                     (long long)t[i][1], (long long)p, (long long)t[i][2]);
    }
    static const uint64_t u[][3] = {
        {2, 63, UINT64_C(9223372036854775808)},
        {2, 64, 0},
        {0, 0, 1},
        {3, UINT64_MAX, UINT64_C(12297829382473034411)},
        {UINT64_MAX, 2, 1},
        {UINT64_MAX, 3, UINT64_MAX},
        {10, 20, UINT64_C(7766279631452241920)},
    };
    for (size_t i = 0; i < sizeof u / sizeof u[0]; i++)
        assert_true(rt_power_u64(u[i][0], u[i][1]) == u[i][2]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_load_store_unaligned),
        cmocka_unit_test(test_bool_bytes),
        cmocka_unit_test(test_convert_float_to_int),
        cmocka_unit_test(test_convert_int_wraps),
        cmocka_unit_test(test_convert_to_float),
        cmocka_unit_test(test_convert_to_bool),
        cmocka_unit_test(test_int_divmod),
        cmocka_unit_test(test_float_divmod_f64),
        cmocka_unit_test(test_float_divmod_f32),
        cmocka_unit_test(test_power),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
