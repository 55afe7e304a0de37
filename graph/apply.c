/*
 * graph/apply.c — the meaning of every elementwise op on one element:
 * gr_apply(op, in_t, out_t, args). The interpreter's inner step and
 * constant folding's evaluator; the JIT's lowering must agree with it bit
 * for bit on exact ops (GR_F_EXACT) and within the op's ulp bound on libm
 * ops, which tests/test_ops.c checks in every mode.
 *
 * Arguments and result are canonical widened scalars (runtime/scalar.c).
 *   - CAST:            rt_convert(in_t, out_t, args[0]).
 *   - CMP, PRED:       computed in in_t; result bool.
 *   - LOGIC:           each argument tested != 0 in in_t (NaN is true).
 *   - WHERE:           args[0] is a bool; args[1], args[2] have in_t.
 *   - SAME, FLOAT, BITS, SHIFT, WHERE: computed in t = out_t; arguments
 *     whose in_t differs are converted to t first (the graph inserts CAST
 *     nodes, so in the interpreter in_t == out_t; folding may pass either).
 * A kind an op cannot be built for (float bitwise ops, bool subtract, int
 * sqrt, ...; graph/infer.c rejects them) gives zero; it is never reached.
 * Reductions and scans are not elementwise (runtime/reduce.c computes
 * them): they give zero here and are never reached either.
 *
 * Semantics (NumPy's, made exact where NumPy leaves them open):
 *   - integers wrap to t's width: computed on 64 raw bits, then truncated
 *     and sign- or zero-extended (int8 100+100 = -56, abs(INT_MIN) = INT_MIN);
 *   - float32 is computed in float (one rounding), float64 in double,
 *     libm ops through the float or double libm function;
 *   - floor_divide, remainder, integer power: rt_floordiv_*, rt_remainder_*,
 *     rt_power_* (division by zero gives 0 for integers, never traps);
 *   - minimum/maximum propagate NaN (a's if both are NaN); fmin/fmax
 *     ignore a NaN operand (NaN only if both are: a's). Otherwise the
 *     smaller/larger value, with -0.0 < +0.0 (IEEE 754-2019 minimum and
 *     maximum; LLVM's llvm.minimum/llvm.maximum). The order of zeros is
 *     what makes the four ops commutative (GR_F_COMM lets CSE swap their
 *     inputs): a positional tie rule (NumPy 1.24 on x86 returns b on ties;
 *     it depends on the loop NumPy picks) would change with the node ids;
 *   - which NaN (payload, sign) a NaN result carries is not specified:
 *     tests match any NaN with any NaN;
 *   - comparisons with NaN are false except not_equal;
 *   - sign: -1, 0, +1; for floats sign(NaN) = NaN and sign(±0) = +0.0
 *     (NumPy's loop: in > 0 ? 1 : in < 0 ? -1 : in == 0 ? 0 : in);
 *   - shifts (npy_lshift/npy_rshift): a count outside [0, bits) gives 0,
 *     except right shift of a negative value, which gives -1; right shift
 *     is arithmetic for signed types;
 *   - bool: add/maximum/fmax = or, multiply/minimum/fmin = and, invert =
 *     not, absolute/square/floor/ceil/trunc = identity;
 *   - floor/ceil/trunc of integers is the identity; rint rounds half to
 *     even (the default rounding mode).
 *
 * The switch in gr_apply names every op and has no default: -Wswitch (in
 * -Wall, an error under KILN_WERROR) fails the build when ops.def gains a
 * row without a case here.
 */
#include "graph/graph.h"

#include <math.h>
#include <string.h>

static rt_scalar ap_zero(void)
{
    rt_scalar v;
    memset(&v, 0, sizeof v);
    return v;
}

static rt_scalar ap_bool(bool b)
{
    rt_scalar v = ap_zero();
    v.b = b;
    return v;
}

static rt_scalar ap_float(kiln_dtype t, double f)
{
    rt_scalar v = ap_zero();
    v.f = t == KILN_FLOAT32 ? (double)(float)f : f;
    return v;
}

/* 64 raw bits truncated to t's width and extended by t's signedness. */
static rt_scalar ap_int(kiln_dtype t, uint64_t raw)
{
    rt_scalar v = ap_zero();
    int bits = rt_dtypes[t].bits;
    uint64_t mask = bits < 64 ? (UINT64_C(1) << bits) - 1 : UINT64_MAX;
    raw &= mask;
    if (rt_dtypes[t].kind == RT_KIND_INT) {
        if (bits < 64 && (raw >> (bits - 1)) & 1)
            raw |= ~mask;
        v.i = (int64_t)raw; /* modulo conversion (GCC/Clang define it) */
    } else {
        v.u = raw;
    }
    return v;
}

/* v as 64 raw bits: bool 0/1, signed sign-extended, unsigned as is. */
static uint64_t ap_raw(kiln_dtype t, rt_scalar v)
{
    switch ((rt_kind)rt_dtypes[t].kind) {
    case RT_KIND_BOOL: return v.b ? 1 : 0;
    case RT_KIND_INT: return (uint64_t)v.i;
    case RT_KIND_UINT: return v.u;
    case RT_KIND_FLOAT: break;
    }
    return 0;
}

/* v != 0 in dtype t (NaN is true). */
static bool ap_truth(kiln_dtype t, rt_scalar v)
{
    switch ((rt_kind)rt_dtypes[t].kind) {
    case RT_KIND_BOOL: return v.b;
    case RT_KIND_INT: return v.i != 0;
    case RT_KIND_UINT: return v.u != 0;
    case RT_KIND_FLOAT: return v.f != 0;
    }
    return false;
}

/* Three-way order of a and b in dtype t: -1, 0, +1, or 2 if unordered. */
static int ap_order(kiln_dtype t, rt_scalar a, rt_scalar b)
{
    switch ((rt_kind)rt_dtypes[t].kind) {
    case RT_KIND_BOOL: return (int)a.b - (int)b.b;
    case RT_KIND_INT: return (a.i > b.i) - (a.i < b.i);
    case RT_KIND_UINT: return (a.u > b.u) - (a.u < b.u);
    case RT_KIND_FLOAT:
        if (isnan(a.f) || isnan(b.f))
            return 2;
        return (a.f > b.f) - (a.f < b.f);
    }
    return 2;
}

static rt_scalar ap_compare(gr_op op, kiln_dtype t, rt_scalar a, rt_scalar b)
{
    int o = ap_order(t, a, b);
    switch (op) {
    case GR_OP_EQUAL: return ap_bool(o == 0);
    case GR_OP_NOT_EQUAL: return ap_bool(o != 0);
    case GR_OP_LESS: return ap_bool(o == -1);
    case GR_OP_LESS_EQUAL: return ap_bool(o == -1 || o == 0);
    case GR_OP_GREATER: return ap_bool(o == 1);
    case GR_OP_GREATER_EQUAL: return ap_bool(o == 1 || o == 0);
    default: return ap_bool(false); /* only comparisons reach here */
    }
}

/* The smaller (larger if want_max) of two non-NaN values; -0.0 < +0.0. */
static rt_scalar ap_pick(kiln_dtype t, rt_scalar a, rt_scalar b, bool want_max)
{
    int o = ap_order(t, a, b);
    if (o == 0 && rt_dtypes[t].kind == RT_KIND_FLOAT && signbit(a.f) != signbit(b.f))
        o = signbit(a.f) ? -1 : 1; /* zeros of both signs */
    return (want_max ? o >= 0 : o <= 0) ? a : b;
}

/* minimum/maximum: a NaN operand propagates (a's first). */
static rt_scalar ap_minmax(kiln_dtype t, rt_scalar a, rt_scalar b, bool want_max)
{
    if (rt_dtypes[t].kind == RT_KIND_FLOAT) {
        if (isnan(a.f))
            return a;
        if (isnan(b.f))
            return b;
    }
    return ap_pick(t, a, b, want_max);
}

/* fmin/fmax: a NaN operand is ignored (b's NaN first). */
static rt_scalar ap_fminmax(kiln_dtype t, rt_scalar a, rt_scalar b, bool want_max)
{
    if (rt_dtypes[t].kind == RT_KIND_FLOAT) {
        if (isnan(b.f))
            return a;
        if (isnan(a.f))
            return b;
    }
    return ap_pick(t, a, b, want_max);
}

static rt_scalar ap_shift(gr_op op, kiln_dtype t, rt_scalar a, rt_scalar b)
{
    bool sgn = rt_dtypes[t].kind == RT_KIND_INT;
    uint64_t bits = rt_dtypes[t].bits;
    bool in_range = sgn ? (b.i >= 0 && (uint64_t)b.i < bits) : b.u < bits;
    uint64_t ua = ap_raw(t, a), n = sgn ? (uint64_t)b.i : b.u;
    bool neg = sgn && a.i < 0;
    if (op == GR_OP_LEFT_SHIFT)
        return ap_int(t, in_range ? ua << n : 0);
    if (!in_range)
        return ap_int(t, neg ? UINT64_MAX : 0);
    /* arithmetic shift on the sign-extended 64 bits */
    return ap_int(t, neg ? ~(~ua >> n) : ua >> n);
}

/* One libm function in t: float32 through the float version. */
#define AP_LIBM1(fn) ap_float(t, single ? (double)fn##f((float)a.f) : fn(a.f))
#define AP_LIBM2(fn) ap_float(t, single ? (double)fn##f((float)a.f, (float)b.f) : fn(a.f, b.f))
/* A binary IEEE operation in t: float32 in float. */
#define AP_ARITH(op) ap_float(t, single ? (double)((float)a.f op (float)b.f) : a.f op b.f)

rt_scalar gr_apply(gr_op op, kiln_dtype in_t, kiln_dtype out_t, const rt_scalar *args)
{
    if ((unsigned)op >= GR_OP_COUNT || !rt_dtype_valid((int)in_t) || !rt_dtype_valid((int)out_t))
        return ap_zero();

    gr_rule rule = (gr_rule)gr_ops[op].rule;
    int arity = gr_ops[op].arity;
    switch (rule) {
    case GR_RULE_LEAF: return ap_zero();
    case GR_RULE_CAST: return rt_convert(in_t, out_t, args[0]);
    case GR_RULE_CMP: return ap_compare(op, in_t, args[0], args[1]);
    case GR_RULE_PRED: break;
    case GR_RULE_LOGIC: break;
    case GR_RULE_SAME: case GR_RULE_FLOAT: case GR_RULE_BITS: case GR_RULE_SHIFT:
    case GR_RULE_WHERE: break;
    case GR_RULE_REDUCE: case GR_RULE_SCAN: case GR_RULE_VIEW:
        return ap_zero(); /* not elementwise */
    case GR_RULE_UDF:
        return ap_zero(); /* the registered function: rt_udf_call (graph/interp.c) */
    }

    /* The computing dtype t and the (converted) arguments a, b, c. */
    kiln_dtype t = out_t;
    rt_scalar x[GR_MAX_INPUTS] = {ap_zero(), ap_zero(), ap_zero()};
    for (int k = 0; k < arity && k < GR_MAX_INPUTS; k++) {
        bool value_arg = rule != GR_RULE_PRED && rule != GR_RULE_LOGIC &&
                         !(rule == GR_RULE_WHERE && k == 0);
        x[k] = value_arg && in_t != t ? rt_convert(in_t, t, args[k]) : args[k];
    }
    rt_scalar a = x[0], b = x[1], c = x[2];
    rt_kind kind = (rt_kind)rt_dtypes[t].kind;
    bool flt = kind == RT_KIND_FLOAT, sgn = kind == RT_KIND_INT, bol = kind == RT_KIND_BOOL;
    bool single = t == KILN_FLOAT32;
    uint64_t ua = 0, ub = 0; /* integer kinds only: PRED/LOGIC args are not in t */
    if (kind == RT_KIND_INT || kind == RT_KIND_UINT) {
        ua = ap_raw(t, a);
        ub = ap_raw(t, b);
    }
    rt_kind in_kind = (rt_kind)rt_dtypes[in_t].kind;

    switch (op) {
    /* leaves: never applied */
    case GR_OP_INPUT: case GR_OP_SCALAR: case GR_OP_ERROR: return ap_zero();

    /* binary arithmetic */
    case GR_OP_ADD:
        return flt ? AP_ARITH(+) : bol ? ap_bool(a.b || b.b) : ap_int(t, ua + ub);
    case GR_OP_SUBTRACT:
        return flt ? AP_ARITH(-) : bol ? ap_zero() : ap_int(t, ua - ub);
    case GR_OP_MULTIPLY:
        return flt ? AP_ARITH(*) : bol ? ap_bool(a.b && b.b) : ap_int(t, ua * ub);
    case GR_OP_DIVIDE:
        return flt ? AP_ARITH(/) : ap_zero();
    case GR_OP_FLOOR_DIVIDE:
        if (flt)
            return single ? ap_float(t, rt_floordiv_f32((float)a.f, (float)b.f))
                          : ap_float(t, rt_floordiv_f64(a.f, b.f));
        if (bol)
            return ap_zero();
        return ap_int(t, sgn ? (uint64_t)rt_floordiv_i64(a.i, b.i) : rt_floordiv_u64(a.u, b.u));
    case GR_OP_REMAINDER:
        if (flt)
            return single ? ap_float(t, rt_remainder_f32((float)a.f, (float)b.f))
                          : ap_float(t, rt_remainder_f64(a.f, b.f));
        if (bol)
            return ap_zero();
        return ap_int(t, sgn ? (uint64_t)rt_remainder_i64(a.i, b.i) : rt_remainder_u64(a.u, b.u));
    case GR_OP_POWER:
        if (flt)
            return AP_LIBM2(pow);
        if (bol)
            return ap_zero();
        return ap_int(t, sgn ? (uint64_t)rt_power_i64(a.i, b.i) : rt_power_u64(a.u, b.u));
    case GR_OP_ARCTAN2:
        return flt ? AP_LIBM2(atan2) : ap_zero();
    case GR_OP_MINIMUM: return ap_minmax(t, a, b, false);
    case GR_OP_MAXIMUM: return ap_minmax(t, a, b, true);
    case GR_OP_FMIN: return ap_fminmax(t, a, b, false);
    case GR_OP_FMAX: return ap_fminmax(t, a, b, true);

    /* comparisons: handled above by rule */
    case GR_OP_EQUAL: case GR_OP_NOT_EQUAL: case GR_OP_LESS: case GR_OP_LESS_EQUAL:
    case GR_OP_GREATER: case GR_OP_GREATER_EQUAL:
        return ap_compare(op, in_t, args[0], args[1]);

    /* logical: arguments tested != 0 in their own dtype */
    case GR_OP_LOGICAL_AND: return ap_bool(ap_truth(in_t, args[0]) && ap_truth(in_t, args[1]));
    case GR_OP_LOGICAL_OR: return ap_bool(ap_truth(in_t, args[0]) || ap_truth(in_t, args[1]));
    case GR_OP_LOGICAL_XOR: return ap_bool(ap_truth(in_t, args[0]) != ap_truth(in_t, args[1]));
    case GR_OP_LOGICAL_NOT: return ap_bool(!ap_truth(in_t, args[0]));

    /* bitwise */
    case GR_OP_BITWISE_AND:
        return flt ? ap_zero() : bol ? ap_bool(a.b && b.b) : ap_int(t, ua & ub);
    case GR_OP_BITWISE_OR:
        return flt ? ap_zero() : bol ? ap_bool(a.b || b.b) : ap_int(t, ua | ub);
    case GR_OP_BITWISE_XOR:
        return flt ? ap_zero() : bol ? ap_bool(a.b != b.b) : ap_int(t, ua ^ ub);
    case GR_OP_BITWISE_NOT:
        return flt ? ap_zero() : bol ? ap_bool(!a.b) : ap_int(t, ~ua);
    case GR_OP_LEFT_SHIFT: case GR_OP_RIGHT_SHIFT:
        return flt || bol ? ap_zero() : ap_shift(op, t, a, b);

    /* unary arithmetic */
    case GR_OP_NEGATIVE:
        return flt ? ap_float(t, -a.f) : bol ? ap_zero() : ap_int(t, UINT64_C(0) - ua);
    case GR_OP_ABSOLUTE:
        if (flt)
            return ap_float(t, fabs(a.f));
        return bol ? a : ap_int(t, sgn && a.i < 0 ? UINT64_C(0) - ua : ua);
    case GR_OP_SIGN:
        if (flt)
            return ap_float(t, a.f > 0 ? 1.0 : a.f < 0 ? -1.0 : a.f == 0 ? 0.0 : a.f);
        if (bol)
            return ap_zero();
        return ap_int(t, sgn ? (uint64_t)(int64_t)((a.i > 0) - (a.i < 0)) : (uint64_t)(a.u > 0));
    case GR_OP_SQRT: return flt ? AP_LIBM1(sqrt) : ap_zero();
    case GR_OP_SQUARE:
        if (flt)
            return ap_float(t, single ? (double)((float)a.f * (float)a.f) : a.f * a.f);
        return bol ? a : ap_int(t, ua * ua);
    case GR_OP_FLOOR: return flt ? AP_LIBM1(floor) : a;
    case GR_OP_CEIL: return flt ? AP_LIBM1(ceil) : a;
    case GR_OP_TRUNC: return flt ? AP_LIBM1(trunc) : a;
    case GR_OP_RINT: return flt ? AP_LIBM1(rint) : ap_zero();

    /* transcendental */
    case GR_OP_EXP: return flt ? AP_LIBM1(exp) : ap_zero();
    case GR_OP_EXPM1: return flt ? AP_LIBM1(expm1) : ap_zero();
    case GR_OP_LOG: return flt ? AP_LIBM1(log) : ap_zero();
    case GR_OP_LOG1P: return flt ? AP_LIBM1(log1p) : ap_zero();
    case GR_OP_LOG2: return flt ? AP_LIBM1(log2) : ap_zero();
    case GR_OP_LOG10: return flt ? AP_LIBM1(log10) : ap_zero();
    case GR_OP_SIN: return flt ? AP_LIBM1(sin) : ap_zero();
    case GR_OP_COS: return flt ? AP_LIBM1(cos) : ap_zero();
    case GR_OP_TAN: return flt ? AP_LIBM1(tan) : ap_zero();
    case GR_OP_ARCSIN: return flt ? AP_LIBM1(asin) : ap_zero();
    case GR_OP_ARCCOS: return flt ? AP_LIBM1(acos) : ap_zero();
    case GR_OP_ARCTAN: return flt ? AP_LIBM1(atan) : ap_zero();
    case GR_OP_SINH: return flt ? AP_LIBM1(sinh) : ap_zero();
    case GR_OP_COSH: return flt ? AP_LIBM1(cosh) : ap_zero();
    case GR_OP_TANH: return flt ? AP_LIBM1(tanh) : ap_zero();

    /* predicates, in the argument's own dtype: integers are finite */
    case GR_OP_ISNAN: return ap_bool(in_kind == RT_KIND_FLOAT && isnan(args[0].f));
    case GR_OP_ISINF: return ap_bool(in_kind == RT_KIND_FLOAT && isinf(args[0].f));
    case GR_OP_ISFINITE: return ap_bool(in_kind != RT_KIND_FLOAT || isfinite(args[0].f));

    /* selection and conversion */
    case GR_OP_WHERE: return a.b ? b : c;
    case GR_OP_CAST: return rt_convert(in_t, out_t, args[0]);

    /* reductions and scans: not elementwise, never reached (see above) */
    case GR_OP_SUM: case GR_OP_PROD: case GR_OP_MIN: case GR_OP_MAX: case GR_OP_MEAN:
    case GR_OP_VAR: case GR_OP_STD: case GR_OP_ARGMIN: case GR_OP_ARGMAX: case GR_OP_ALL:
    case GR_OP_ANY: case GR_OP_COUNT_NONZERO: case GR_OP_CUMSUM: case GR_OP_CUMPROD:
    case GR_OP_CUMMIN: case GR_OP_CUMMAX:
        return ap_zero();
    /* a view reads its input at other positions: never applied */
    case GR_OP_VIEW:
        return ap_zero();
    /* a user-defined function has no semantics here (see the rule above) */
    case GR_OP_UDF:
        return ap_zero();

    case GR_OP_COUNT: break;
    }
    return ap_zero();
}
