/*
 * runtime/scalar.c — one scalar's meaning: loading and storing elements,
 * converting between dtypes (kiln_cast), and the integer/float division,
 * remainder and power semantics that are not one machine instruction.
 *
 * The widened form (rt_scalar) is canonical: a signed integer is held
 * sign-extended in .i, an unsigned one zero-extended in .u, a float32 as the
 * exactly equal double in .f, a bool in .b with every other byte zero. Every
 * function here returns canonical values when given canonical ones.
 *
 * Invariants:
 *   - loads and stores go through memcpy (packed record fields are
 *     unaligned); a stored bool is the byte 0 or 1, a loaded one is true for
 *     any nonzero byte;
 *   - no signed overflow anywhere (UBSan runs in CI): wrapping arithmetic is
 *     done in uint64_t and converted back with GCC/Clang's modulo rule;
 *   - no float->int conversion outside the target's range: float->int
 *     saturates (NaN -> 0) before converting;
 *   - float32 work is done in float (one rounding), never through double.
 */
#include "runtime/rt.h"

#include <math.h>
#include <string.h>

/* ---- canonical forms ---------------------------------------------------- */

static rt_scalar rt_zero(void)
{
    rt_scalar v;
    memset(&v, 0, sizeof v);
    return v;
}

/* The low `bits` bits of u, sign-extended (bits in 8..64). */
static int64_t rt_sext(uint64_t u, int bits)
{
    if (bits < 64) {
        uint64_t mask = (UINT64_C(1) << bits) - 1, sign = UINT64_C(1) << (bits - 1);
        u &= mask;
        if (u & sign)
            u |= ~mask;
    }
    return (int64_t)u; /* modulo conversion (GCC/Clang define it) */
}

/* The low `bits` bits of u, zero-extended. */
static uint64_t rt_zext(uint64_t u, int bits)
{
    return bits < 64 ? u & ((UINT64_C(1) << bits) - 1) : u;
}

/* The integer value of a bool/int/uint scalar as 64 raw bits
 * (two's complement for signed). */
static uint64_t rt_int_bits(kiln_dtype t, rt_scalar v)
{
    switch ((rt_kind)rt_dtypes[t].kind) {
    case RT_KIND_BOOL: return v.b ? 1 : 0;
    case RT_KIND_INT: return (uint64_t)v.i;
    case RT_KIND_UINT: return v.u;
    case RT_KIND_FLOAT: break;
    }
    return 0;
}

/* ---- load and store ----------------------------------------------------- */

rt_scalar rt_load(kiln_dtype t, const void *p)
{
    rt_scalar v = rt_zero();
    switch (t) {
    case KILN_BOOL: { uint8_t x; memcpy(&x, p, 1); v.b = x != 0; break; }
    case KILN_INT8: { int8_t x; memcpy(&x, p, sizeof x); v.i = x; break; }
    case KILN_INT16: { int16_t x; memcpy(&x, p, sizeof x); v.i = x; break; }
    case KILN_INT32: { int32_t x; memcpy(&x, p, sizeof x); v.i = x; break; }
    case KILN_INT64: { int64_t x; memcpy(&x, p, sizeof x); v.i = x; break; }
    case KILN_UINT8: { uint8_t x; memcpy(&x, p, sizeof x); v.u = x; break; }
    case KILN_UINT16: { uint16_t x; memcpy(&x, p, sizeof x); v.u = x; break; }
    case KILN_UINT32: { uint32_t x; memcpy(&x, p, sizeof x); v.u = x; break; }
    case KILN_UINT64: { uint64_t x; memcpy(&x, p, sizeof x); v.u = x; break; }
    case KILN_FLOAT32: { float x; memcpy(&x, p, sizeof x); v.f = x; break; }
    case KILN_FLOAT64: { double x; memcpy(&x, p, sizeof x); v.f = x; break; }
    case KILN_DTYPE_COUNT: break;
    }
    return v;
}

void rt_store(kiln_dtype t, void *p, rt_scalar v)
{
    switch (t) {
    case KILN_BOOL: { uint8_t x = v.b ? 1 : 0; memcpy(p, &x, 1); break; }
    case KILN_INT8: { int8_t x = (int8_t)rt_sext((uint64_t)v.i, 8); memcpy(p, &x, sizeof x); break; }
    case KILN_INT16: { int16_t x = (int16_t)rt_sext((uint64_t)v.i, 16); memcpy(p, &x, sizeof x); break; }
    case KILN_INT32: { int32_t x = (int32_t)rt_sext((uint64_t)v.i, 32); memcpy(p, &x, sizeof x); break; }
    case KILN_INT64: memcpy(p, &v.i, sizeof v.i); break;
    case KILN_UINT8: { uint8_t x = (uint8_t)v.u; memcpy(p, &x, sizeof x); break; }
    case KILN_UINT16: { uint16_t x = (uint16_t)v.u; memcpy(p, &x, sizeof x); break; }
    case KILN_UINT32: { uint32_t x = (uint32_t)v.u; memcpy(p, &x, sizeof x); break; }
    case KILN_UINT64: memcpy(p, &v.u, sizeof v.u); break;
    case KILN_FLOAT32: { float x = (float)v.f; memcpy(p, &x, sizeof x); break; }
    case KILN_FLOAT64: memcpy(p, &v.f, sizeof v.f); break;
    case KILN_DTYPE_COUNT: break;
    }
}

/* ---- conversion (kiln_cast) --------------------------------------------- */

/* A float to a signed integer of `bits` bits: truncates toward zero,
 * saturates to [-2^(bits-1), 2^(bits-1)-1], NaN -> 0. */
static int64_t rt_f2i(double f, int bits)
{
    if (isnan(f))
        return 0;
    double lim = ldexp(1.0, bits - 1); /* 2^(bits-1), exact */
    if (f >= lim)
        return rt_sext((UINT64_C(1) << (bits - 1)) - 1, bits);
    if (f <= -lim)
        return rt_sext(UINT64_C(1) << (bits - 1), bits);
    return (int64_t)f; /* |trunc(f)| < 2^(bits-1): in range */
}

/* A float to an unsigned integer of `bits` bits: truncates, saturates to
 * [0, 2^bits-1], NaN -> 0. */
static uint64_t rt_f2u(double f, int bits)
{
    if (isnan(f) || f <= 0)
        return 0;
    if (f >= ldexp(1.0, bits))
        return rt_zext(UINT64_MAX, bits);
    return (uint64_t)f; /* 0 < f < 2^bits */
}

rt_scalar rt_convert(kiln_dtype from, kiln_dtype to, rt_scalar v)
{
    rt_scalar r = rt_zero();
    rt_kind fk = (rt_kind)rt_dtypes[from].kind, tk = (rt_kind)rt_dtypes[to].kind;
    int bits = rt_dtypes[to].bits;
    if (fk == RT_KIND_FLOAT) {
        double f = v.f;
        switch (tk) {
        case RT_KIND_BOOL: r.b = f != 0; break; /* NaN != 0: true */
        case RT_KIND_INT: r.i = rt_f2i(f, bits); break;
        case RT_KIND_UINT: r.u = rt_f2u(f, bits); break;
        case RT_KIND_FLOAT: r.f = to == KILN_FLOAT32 ? (double)(float)f : f; break;
        }
        return r;
    }
    /* bool or integer source */
    uint64_t x = rt_int_bits(from, v);
    bool neg = fk == RT_KIND_INT && v.i < 0;
    switch (tk) {
    case RT_KIND_BOOL: r.b = x != 0; break;
    case RT_KIND_INT: r.i = rt_sext(x, bits); break;
    case RT_KIND_UINT: r.u = rt_zext(x, bits); break;
    case RT_KIND_FLOAT:
        /* One rounding, straight to the target (int64 -> float32 through
         * double could round twice). */
        if (to == KILN_FLOAT32)
            r.f = neg ? (double)(float)v.i : (double)(float)x;
        else
            r.f = neg ? (double)v.i : (double)x;
        break;
    }
    return r;
}

/* ---- integer division, remainder, power --------------------------------- */

int64_t rt_floordiv_i64(int64_t a, int64_t b)
{
    if (b == 0)
        return 0;
    if (b == -1) /* INT64_MIN / -1 overflows: wrap */
        return (int64_t)(UINT64_C(0) - (uint64_t)a);
    int64_t q = a / b;
    if (a % b != 0 && ((a < 0) != (b < 0)))
        q -= 1; /* |q| < |a|: no overflow */
    return q;
}

int64_t rt_remainder_i64(int64_t a, int64_t b)
{
    if (b == 0 || b == -1)
        return 0;
    int64_t r = a % b;
    if (r != 0 && ((r < 0) != (b < 0)))
        r += b; /* opposite signs: no overflow */
    return r;
}

uint64_t rt_floordiv_u64(uint64_t a, uint64_t b)
{
    return b == 0 ? 0 : a / b;
}

uint64_t rt_remainder_u64(uint64_t a, uint64_t b)
{
    return b == 0 ? 0 : a % b;
}

/* a^b by squaring, wrapping mod 2^64 (b >= 0). Any narrower width is the
 * same result truncated, since truncation commutes with multiplication. */
static uint64_t rt_upow(uint64_t a, uint64_t b)
{
    uint64_t r = 1;
    while (b) {
        if (b & 1)
            r *= a;
        a *= a;
        b >>= 1;
    }
    return r;
}

int64_t rt_power_i64(int64_t a, int64_t b)
{
    if (b < 0) {
        if (a == 1)
            return 1;
        if (a == -1)
            return (b & 1) ? -1 : 1;
        return 0;
    }
    return (int64_t)rt_upow((uint64_t)a, (uint64_t)b);
}

uint64_t rt_power_u64(uint64_t a, uint64_t b)
{
    return rt_upow(a, b);
}

/* ---- float floor division and remainder: NumPy's npy_divmod ------------
 * mod = fmod(a, b); for b == 0 the quotient is a/b (±inf or NaN) and the
 * remainder fmod's NaN. Otherwise the quotient (a - mod)/b is nearly an
 * integer; the remainder takes b's sign (Python), zero results take the
 * sign of b (remainder) or of a/b (quotient), and the quotient is snapped
 * to the nearest integer. The float32 versions repeat it in float. */

static double rt_divmod_f64(double a, double b, double *modulus)
{
    double mod = fmod(a, b);
    if (b == 0) {
        *modulus = mod;
        return a / b;
    }
    double div = (a - mod) / b;
    if (mod != 0) {
        if ((b < 0) != (mod < 0)) {
            mod += b;
            div -= 1.0;
        }
    } else {
        mod = copysign(0.0, b);
    }
    double floordiv;
    if (div != 0) {
        floordiv = floor(div);
        if (isgreater(div - floordiv, 0.5))
            floordiv += 1.0;
    } else {
        floordiv = copysign(0.0, a / b);
    }
    *modulus = mod;
    return floordiv;
}

static float rt_divmod_f32(float a, float b, float *modulus)
{
    float mod = fmodf(a, b);
    if (b == 0) {
        *modulus = mod;
        return a / b;
    }
    float div = (a - mod) / b;
    if (mod != 0) {
        if ((b < 0) != (mod < 0)) {
            mod += b;
            div -= 1.0f;
        }
    } else {
        mod = copysignf(0.0f, b);
    }
    float floordiv;
    if (div != 0) {
        floordiv = floorf(div);
        if (isgreater(div - floordiv, 0.5f))
            floordiv += 1.0f;
    } else {
        floordiv = copysignf(0.0f, a / b);
    }
    *modulus = mod;
    return floordiv;
}

/* NaN compares false with everything, so `mod != 0` is true for a NaN mod,
 * as NumPy's `if (mod)`; `(b < 0) != (mod < 0)` is then false: NaN stays. */

double rt_floordiv_f64(double a, double b)
{
    double mod;
    return rt_divmod_f64(a, b, &mod);
}

double rt_remainder_f64(double a, double b)
{
    double mod;
    rt_divmod_f64(a, b, &mod);
    return mod;
}

float rt_floordiv_f32(float a, float b)
{
    float mod;
    return rt_divmod_f32(a, b, &mod);
}

float rt_remainder_f32(float a, float b)
{
    float mod;
    rt_divmod_f32(a, b, &mod);
    return mod;
}
