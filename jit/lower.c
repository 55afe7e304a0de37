/*
 * jit/lower.c — one plan kernel -> LLVM IR.
 *
 * Shape of the generated code (R = kernel rank, ops = operands):
 *
 *   void name(const rt_kargs *a, int64_t begin, int64_t end)
 *     loads a->data[k] for every operand and calls (always inlined)
 *   void name.body(ptr noalias p0, ..., ext, strides, params, begin, end)
 *     entry:  strides of class OTHER loaded, UNIT/RUNIT/ZERO are constants;
 *             parameters loaded and narrowed; loop-invariant values
 *     l0:     for i0 in [begin, end): pointers advanced, values that vary
 *             with dim 0 but not deeper
 *      ...
 *     l{R-1}: innermost: pointers, loads, the rest of the body, stores
 *
 * Each value is computed at the outermost loop level where all its inputs
 * are known (a broadcast operand's load and everything computed only from
 * it is hoisted out of the loops it does not vary in). The innermost loop
 * indexes unit-stride operands as `gep T, base, i`, so the loop vectorizer
 * sees consecutive accesses; its body has no branches (selects only).
 *
 * Semantics are graph/apply.c's (gr_apply), bit for bit for exact ops:
 *   - no fast-math flags, no contraction: fadd/fmul/fdiv/... as written;
 *   - arguments converted exactly as gr_apply converts them (by op rule);
 *   - minimum/maximum are llvm.minimum/llvm.maximum (IEEE 754-2019: -0.0 <
 *     +0.0, NaN propagates), fmin/fmax add gr_apply's NaN selects;
 *   - float->int casts llvm.fpto[su]i.sat (= rt_convert: saturate, NaN->0);
 *   - floor_divide, remainder, integer power: calls to runtime/scalar.c's
 *     functions, so results are the interpreter's by construction;
 *   - libm ops: calls to libm declared memory(none) with a
 *     vector-function-abi-variant naming glibc's libmvec function, so the
 *     loop vectorizer calls e.g. _ZGVdN4v_sin (the op table's ulp bound);
 *   - a user-defined function (UDF): a direct call to its address, a
 *     constant in the code (so such kernels never leave the process:
 *     gr_kernel_has_udf), with its C signature (bool as i8 0/1; 8- and
 *     16-bit integers signext/zeroext, as C compilers pass them) and the
 *     call marked memory(none) nounwind willreturn — kiln.h's purity
 *     contract — so it is hoisted like any value; its arguments already
 *     have the declared dtypes (explicit CAST values).
 * Loads and stores use align 1 (packed record fields are unaligned).
 * The lowering switch is generated from graph/ops.def: every op row needs
 * a jl_<OP> function here or the build fails.
 */
#include "jit/lower.h"
#include "runtime/reduce.h"

#include <stdio.h>
#include <string.h>


void jl_fail(jl *L, const char *fmt, const char *what)
{
    if (!L->failed)
        snprintf(L->why, L->why_cap, fmt, what);
    L->failed = true;
}

/* ---- types ------------------------------------------------------------------ */


/* Register type: bool is i1. */
LLVMTypeRef jl_vty(jl *L, kiln_dtype t)
{
    switch (t) {
    case KILN_BOOL: return L->i1;
    case KILN_INT8: case KILN_UINT8: return L->i8;
    case KILN_INT16: case KILN_UINT16: return L->i16;
    case KILN_INT32: case KILN_UINT32: return L->i32;
    case KILN_INT64: case KILN_UINT64: return L->i64;
    case KILN_FLOAT32: return L->f32;
    case KILN_FLOAT64: return L->f64;
    case KILN_DTYPE_COUNT: break;
    }
    return L->i64;
}

/* Memory type: bool is one byte. */
LLVMTypeRef jl_mty(jl *L, kiln_dtype t) { return t == KILN_BOOL ? L->i8 : jl_vty(L, t); }

LLVMValueRef jl_zero(jl *L, kiln_dtype t) { return LLVMConstNull(jl_vty(L, t)); }
LLVMValueRef jl_i64c(jl *L, int64_t v) { return LLVMConstInt(L->i64, (unsigned long long)v, 1); }
LLVMValueRef jl_intc(jl *L, kiln_dtype t, int64_t v)
{
    return LLVMConstInt(jl_vty(L, t), (unsigned long long)v, 1);
}
LLVMValueRef jl_fltc(jl *L, kiln_dtype t, double v) { return LLVMConstReal(jl_vty(L, t), v); }

/* ---- declarations and calls ---------------------------------------------------- */

void jl_fn_attr(jl *L, LLVMValueRef f, const char *name, uint64_t v)
{
    unsigned kind = LLVMGetEnumAttributeKindForName(name, strlen(name));
    LLVMAddAttributeAtIndex(f, LLVMAttributeFunctionIndex, LLVMCreateEnumAttribute(L->c, kind, v));
}

/* A pure external function: memory(none) nounwind willreturn. */
static LLVMValueRef jl_pure_decl(jl *L, const char *name, LLVMTypeRef fty)
{
    LLVMValueRef f = LLVMGetNamedFunction(L->M, name);
    if (f)
        return f;
    f = LLVMAddFunction(L->M, name, fty);
    jl_fn_attr(L, f, "memory", 0); /* memory(none) */
    jl_fn_attr(L, f, "nounwind", 0);
    jl_fn_attr(L, f, "willreturn", 0);
    jl_fn_attr(L, f, "nosync", 0);
    jl_fn_attr(L, f, "nofree", 0);
    return f;
}

static LLVMValueRef jl_call(jl *L, const char *name, LLVMTypeRef ret, int n, LLVMValueRef *args)
{
    LLVMTypeRef pt[GR_MAX_INPUTS];
    for (int i = 0; i < n; i++)
        pt[i] = LLVMTypeOf(args[i]);
    LLVMTypeRef fty = LLVMFunctionType(ret, pt, (unsigned)n, 0);
    LLVMValueRef f = jl_pure_decl(L, name, fty);
    return LLVMBuildCall2(L->b, fty, f, args, (unsigned)n, "");
}

/* An overloaded intrinsic over the types tys[0..ntys). */
LLVMValueRef jl_intrin(jl *L, const char *name, LLVMTypeRef *tys, int ntys, int n,
                              LLVMValueRef *args)
{
    unsigned id = LLVMLookupIntrinsicID(name, strlen(name));
    if (!id) {
        jl_fail(L, "no intrinsic %s", name);
        return LLVMGetUndef(tys[0]);
    }
    LLVMValueRef f = LLVMGetIntrinsicDeclaration(L->M, id, tys, (size_t)ntys);
    LLVMTypeRef fty = LLVMIntrinsicGetType(L->c, id, tys, (size_t)ntys);
    return LLVMBuildCall2(L->b, fty, f, args, (unsigned)n, "");
}

LLVMValueRef jl_intrin1(jl *L, const char *name, LLVMValueRef x)
{
    LLVMTypeRef ty = LLVMTypeOf(x);
    return jl_intrin(L, name, &ty, 1, 1, &x);
}

/* Declares one libmvec variant (kept alive through llvm.compiler.used, as
 * LLVM's own InjectTLIMappings does) and appends its mapping to variants. */
static void jl_variant(jl *L, LLVMTypeRef ty, const char *name, int n, char isa, int vlen,
                       char *variants, size_t cap)
{
    char vname[64], params[GR_MAX_INPUTS + 1];
    for (int i = 0; i < n; i++)
        params[i] = 'v';
    params[n] = '\0';
    snprintf(vname, sizeof vname, "_ZGV%cN%d%s_%s", isa, vlen, params, name);
    if (!LLVMGetNamedFunction(L->M, vname)) {
        LLVMTypeRef vt = LLVMVectorType(ty, (unsigned)vlen), pt[GR_MAX_INPUTS];
        for (int i = 0; i < n; i++)
            pt[i] = vt;
        LLVMValueRef vf = jl_pure_decl(L, vname, LLVMFunctionType(vt, pt, (unsigned)n, 0));
        if (L->nused < (int)(sizeof L->used / sizeof L->used[0]))
            L->used[L->nused++] = vf;
    }
    size_t len = strlen(variants);
    snprintf(variants + len, cap - len, "%s_ZGV_LLVM_N%d%s_%s(%s)", len ? "," : "", vlen, params,
             name, vname);
}

/* A libm function of t (float32: the "f" version), with the libmvec
 * variants the loop vectorizer may call instead, one per vector width the
 * host has (the vectorizer picks by its VF; e.g. _ZGVdN4v_sin). */
static LLVMValueRef jl_libm(jl *L, const char *fn, kiln_dtype t, int n, LLVMValueRef *args)
{
    char name[32], variants[512] = "";
    bool single = t == KILN_FLOAT32;
    int lanes = single ? 4 : 2; /* per 128 bits */
    snprintf(name, sizeof name, "%s%s", fn, single ? "f" : "");
    LLVMTypeRef ty = jl_vty(L, t);
    LLVMValueRef call = jl_call(L, name, ty, n, args);
    if (L->t->vabi_128)
        jl_variant(L, ty, name, n, L->t->vabi_128, lanes, variants, sizeof variants);
    if (L->t->vabi_256)
        jl_variant(L, ty, name, n, L->t->vabi_256, 2 * lanes, variants, sizeof variants);
    if (L->t->vabi_512)
        jl_variant(L, ty, name, n, L->t->vabi_512, 4 * lanes, variants, sizeof variants);
    if (variants[0]) {
        const char *key = "vector-function-abi-variant";
        LLVMAddCallSiteAttribute(call, LLVMAttributeFunctionIndex,
                                 LLVMCreateStringAttribute(L->c, key, (unsigned)strlen(key), variants,
                                                           (unsigned)strlen(variants)));
    }
    return call;
}

/* ---- conversions (rt_convert) --------------------------------------------------- */

/* x != 0 in dtype t (NaN is true). */
LLVMValueRef jl_truth(jl *L, LLVMValueRef x, kiln_dtype t)
{
    if (jl_bool(t))
        return x;
    if (jl_flt(t))
        return LLVMBuildFCmp(L->b, LLVMRealUNE, x, jl_zero(L, t), "");
    return LLVMBuildICmp(L->b, LLVMIntNE, x, jl_zero(L, t), "");
}

LLVMValueRef jl_conv(jl *L, LLVMValueRef x, kiln_dtype from, kiln_dtype to)
{
    if (from == to)
        return x;
    LLVMTypeRef ty = jl_vty(L, to);
    if (jl_bool(to))
        return jl_truth(L, x, from);
    if (jl_flt(from)) {
        if (jl_flt(to))
            return to == KILN_FLOAT32 ? LLVMBuildFPTrunc(L->b, x, ty, "")
                                      : LLVMBuildFPExt(L->b, x, ty, "");
        LLVMTypeRef tys[2] = {ty, LLVMTypeOf(x)};
        return jl_intrin(L, jl_sgn(to) ? "llvm.fptosi.sat" : "llvm.fptoui.sat", tys, 2, 1, &x);
    }
    /* bool or integer source */
    if (jl_flt(to))
        return jl_sgn(from) ? LLVMBuildSIToFP(L->b, x, ty, "") : LLVMBuildUIToFP(L->b, x, ty, "");
    unsigned fb = jl_bool(from) ? 1 : rt_dtypes[from].bits, tb = rt_dtypes[to].bits;
    if (fb == tb)
        return x;
    if (fb > tb)
        return LLVMBuildTrunc(L->b, x, ty, "");
    return jl_sgn(from) ? LLVMBuildSExt(L->b, x, ty, "") : LLVMBuildZExt(L->b, x, ty, "");
}

/* Calls a runtime helper on 64-bit widened integers (sign- or
 * zero-extended by t) and narrows the result back to t. */
static LLVMValueRef jl_helper_int(jl *L, const char *sfn, const char *ufn, kiln_dtype t,
                                  LLVMValueRef *a)
{
    bool s = jl_sgn(t);
    kiln_dtype wide = s ? KILN_INT64 : KILN_UINT64;
    LLVMValueRef w[2] = {jl_conv(L, a[0], t, wide), jl_conv(L, a[1], t, wide)};
    LLVMValueRef r = jl_call(L, s ? sfn : ufn, L->i64, 2, w);
    return jl_conv(L, r, wide, t);
}

static LLVMValueRef jl_helper_flt(jl *L, const char *f64fn, const char *f32fn, kiln_dtype t,
                                  LLVMValueRef *a)
{
    return jl_call(L, t == KILN_FLOAT32 ? f32fn : f64fn, jl_vty(L, t), 2, a);
}

/* ---- ops: one function per row of ops.def ---------------------------------------
 * a[] are the arguments already converted as gr_apply converts them; t is
 * the computing dtype (the result's, or for CMP/PRED/LOGIC/CAST the first
 * argument's); at[] the arguments' dtypes. */
#define JL_OP(e) static LLVMValueRef jl_##e(jl *L, kiln_dtype t, LLVMValueRef *a, const kiln_dtype *at)
#define JL_UNUSED (void)L, (void)t, (void)a, (void)at

#define OP(e, name, arity, rule, flags, u64, u32) JL_OP(e);
#include "graph/ops.def"
#undef OP

typedef LLVMValueRef (*jl_op_fn)(jl *, kiln_dtype, LLVMValueRef *, const kiln_dtype *);
static const jl_op_fn jl_ops[GR_OP_COUNT] = {
#define OP(e, name, arity, rule, flags, u64, u32) [GR_OP_##e] = jl_##e,
#include "graph/ops.def"
#undef OP
};

/* leaves are loads and parameters, handled by the loop builder */
JL_OP(INPUT) { JL_UNUSED; return NULL; }
JL_OP(SCALAR) { JL_UNUSED; return NULL; }
JL_OP(ERROR) { JL_UNUSED; return NULL; }

JL_OP(ADD)
{
    (void)at;
    if (jl_flt(t))
        return LLVMBuildFAdd(L->b, a[0], a[1], "");
    return jl_bool(t) ? LLVMBuildOr(L->b, a[0], a[1], "") : LLVMBuildAdd(L->b, a[0], a[1], "");
}

JL_OP(SUBTRACT)
{
    (void)at;
    if (jl_flt(t))
        return LLVMBuildFSub(L->b, a[0], a[1], "");
    return jl_bool(t) ? jl_zero(L, t) : LLVMBuildSub(L->b, a[0], a[1], "");
}

JL_OP(MULTIPLY)
{
    (void)at;
    if (jl_flt(t))
        return LLVMBuildFMul(L->b, a[0], a[1], "");
    return jl_bool(t) ? LLVMBuildAnd(L->b, a[0], a[1], "") : LLVMBuildMul(L->b, a[0], a[1], "");
}

JL_OP(DIVIDE)
{
    (void)at;
    return jl_flt(t) ? LLVMBuildFDiv(L->b, a[0], a[1], "") : jl_zero(L, t);
}

JL_OP(FLOOR_DIVIDE)
{
    (void)at;
    if (jl_flt(t))
        return jl_helper_flt(L, "rt_floordiv_f64", "rt_floordiv_f32", t, a);
    if (jl_bool(t))
        return jl_zero(L, t);
    return jl_helper_int(L, "rt_floordiv_i64", "rt_floordiv_u64", t, a);
}

JL_OP(REMAINDER)
{
    (void)at;
    if (jl_flt(t))
        return jl_helper_flt(L, "rt_remainder_f64", "rt_remainder_f32", t, a);
    if (jl_bool(t))
        return jl_zero(L, t);
    return jl_helper_int(L, "rt_remainder_i64", "rt_remainder_u64", t, a);
}

JL_OP(POWER)
{
    (void)at;
    if (jl_flt(t))
        return jl_libm(L, "pow", t, 2, a);
    if (jl_bool(t))
        return jl_zero(L, t);
    return jl_helper_int(L, "rt_power_i64", "rt_power_u64", t, a);
}

JL_OP(ARCTAN2)
{
    (void)at;
    return jl_flt(t) ? jl_libm(L, "atan2", t, 2, a) : jl_zero(L, t);
}

/* gr_apply's minimum/maximum: IEEE 754-2019 minimum/maximum (-0.0 < +0.0,
 * a NaN operand gives NaN) = llvm.minimum/llvm.maximum; integers by
 * compare+select, bool as and/or. */
LLVMValueRef jl_minmax(jl *L, kiln_dtype t, LLVMValueRef *a, bool want_max)
{
    if (jl_bool(t))
        return want_max ? LLVMBuildOr(L->b, a[0], a[1], "") : LLVMBuildAnd(L->b, a[0], a[1], "");
    if (jl_flt(t)) {
        LLVMTypeRef ty = LLVMTypeOf(a[0]);
        return jl_intrin(L, want_max ? "llvm.maximum" : "llvm.minimum", &ty, 1, 2, a);
    }
    LLVMIntPredicate p = jl_sgn(t) ? (want_max ? LLVMIntSGE : LLVMIntSLE)
                                   : (want_max ? LLVMIntUGE : LLVMIntULE);
    LLVMValueRef c = LLVMBuildICmp(L->b, p, a[0], a[1], "");
    return LLVMBuildSelect(L->b, c, a[0], a[1], "");
}

/* fmin/fmax: NaN in b -> a; else NaN in a -> b; else minimum/maximum. */
static LLVMValueRef jl_fminmax(jl *L, kiln_dtype t, LLVMValueRef *a, bool want_max)
{
    if (!jl_flt(t))
        return jl_minmax(L, t, a, want_max);
    LLVMValueRef r = jl_minmax(L, t, a, want_max);
    LLVMValueRef an = LLVMBuildFCmp(L->b, LLVMRealUNO, a[0], a[0], "");
    r = LLVMBuildSelect(L->b, an, a[1], r, "");
    LLVMValueRef bn = LLVMBuildFCmp(L->b, LLVMRealUNO, a[1], a[1], "");
    return LLVMBuildSelect(L->b, bn, a[0], r, "");
}

JL_OP(MINIMUM) { (void)at; return jl_minmax(L, t, a, false); }
JL_OP(MAXIMUM) { (void)at; return jl_minmax(L, t, a, true); }
JL_OP(FMIN) { (void)at; return jl_fminmax(L, t, a, false); }
JL_OP(FMAX) { (void)at; return jl_fminmax(L, t, a, true); }

/* Comparisons in t: with NaN false except not_equal; bool as unsigned. */
static LLVMValueRef jl_cmp(jl *L, kiln_dtype t, LLVMValueRef *a, LLVMRealPredicate fp,
                           LLVMIntPredicate sp, LLVMIntPredicate up)
{
    if (jl_flt(t))
        return LLVMBuildFCmp(L->b, fp, a[0], a[1], "");
    return LLVMBuildICmp(L->b, jl_sgn(t) ? sp : up, a[0], a[1], "");
}

JL_OP(EQUAL) { (void)at; return jl_cmp(L, t, a, LLVMRealOEQ, LLVMIntEQ, LLVMIntEQ); }
JL_OP(NOT_EQUAL) { (void)at; return jl_cmp(L, t, a, LLVMRealUNE, LLVMIntNE, LLVMIntNE); }
JL_OP(LESS) { (void)at; return jl_cmp(L, t, a, LLVMRealOLT, LLVMIntSLT, LLVMIntULT); }
JL_OP(LESS_EQUAL) { (void)at; return jl_cmp(L, t, a, LLVMRealOLE, LLVMIntSLE, LLVMIntULE); }
JL_OP(GREATER) { (void)at; return jl_cmp(L, t, a, LLVMRealOGT, LLVMIntSGT, LLVMIntUGT); }
JL_OP(GREATER_EQUAL) { (void)at; return jl_cmp(L, t, a, LLVMRealOGE, LLVMIntSGE, LLVMIntUGE); }

/* logical ops: each argument tested != 0 in its own dtype */
JL_OP(LOGICAL_AND)
{
    (void)t;
    return LLVMBuildAnd(L->b, jl_truth(L, a[0], at[0]), jl_truth(L, a[1], at[1]), "");
}
JL_OP(LOGICAL_OR)
{
    (void)t;
    return LLVMBuildOr(L->b, jl_truth(L, a[0], at[0]), jl_truth(L, a[1], at[1]), "");
}
JL_OP(LOGICAL_XOR)
{
    (void)t;
    return LLVMBuildXor(L->b, jl_truth(L, a[0], at[0]), jl_truth(L, a[1], at[1]), "");
}
JL_OP(LOGICAL_NOT)
{
    (void)t;
    return LLVMBuildNot(L->b, jl_truth(L, a[0], at[0]), "");
}

/* bitwise: integers and bool (i1 and/or/xor/not are the logical ops) */
JL_OP(BITWISE_AND) { (void)at; return jl_flt(t) ? jl_zero(L, t) : LLVMBuildAnd(L->b, a[0], a[1], ""); }
JL_OP(BITWISE_OR) { (void)at; return jl_flt(t) ? jl_zero(L, t) : LLVMBuildOr(L->b, a[0], a[1], ""); }
JL_OP(BITWISE_XOR) { (void)at; return jl_flt(t) ? jl_zero(L, t) : LLVMBuildXor(L->b, a[0], a[1], ""); }
JL_OP(BITWISE_NOT) { (void)at; return jl_flt(t) ? jl_zero(L, t) : LLVMBuildNot(L->b, a[0], ""); }

/* NumPy's shifts: a count outside [0, bits) gives 0, or -1 for a right
 * shift of a negative signed value. The count is compared unsigned (a
 * negative signed count is out of range) and never reaches the shift
 * instruction out of range (that would be poison). */
static LLVMValueRef jl_shift(jl *L, kiln_dtype t, LLVMValueRef *a, bool left)
{
    if (jl_flt(t) || jl_bool(t))
        return jl_zero(L, t);
    int64_t bits = rt_dtypes[t].bits;
    LLVMValueRef in = LLVMBuildICmp(L->b, LLVMIntULT, a[1], jl_intc(L, t, bits), "");
    if (!left && jl_sgn(t)) {
        LLVMValueRef n = LLVMBuildSelect(L->b, in, a[1], jl_intc(L, t, bits - 1), "");
        return LLVMBuildAShr(L->b, a[0], n, "");
    }
    LLVMValueRef n = LLVMBuildAnd(L->b, a[1], jl_intc(L, t, bits - 1), "");
    LLVMValueRef r = left ? LLVMBuildShl(L->b, a[0], n, "") : LLVMBuildLShr(L->b, a[0], n, "");
    return LLVMBuildSelect(L->b, in, r, jl_zero(L, t), "");
}

JL_OP(LEFT_SHIFT) { (void)at; return jl_shift(L, t, a, true); }
JL_OP(RIGHT_SHIFT) { (void)at; return jl_shift(L, t, a, false); }

JL_OP(NEGATIVE)
{
    (void)at;
    if (jl_flt(t))
        return LLVMBuildFNeg(L->b, a[0], "");
    return jl_bool(t) ? jl_zero(L, t) : LLVMBuildSub(L->b, jl_zero(L, t), a[0], "");
}

JL_OP(ABSOLUTE)
{
    (void)at;
    if (jl_flt(t))
        return jl_intrin1(L, "llvm.fabs", a[0]);
    if (!jl_sgn(t))
        return a[0];
    LLVMValueRef neg = LLVMBuildICmp(L->b, LLVMIntSLT, a[0], jl_zero(L, t), "");
    return LLVMBuildSelect(L->b, neg, LLVMBuildSub(L->b, jl_zero(L, t), a[0], ""), a[0], "");
}

JL_OP(SIGN)
{
    (void)at;
    if (jl_bool(t))
        return jl_zero(L, t);
    if (jl_flt(t)) {
        LLVMValueRef gt = LLVMBuildFCmp(L->b, LLVMRealOGT, a[0], jl_zero(L, t), "");
        LLVMValueRef lt = LLVMBuildFCmp(L->b, LLVMRealOLT, a[0], jl_zero(L, t), "");
        LLVMValueRef z = LLVMBuildFCmp(L->b, LLVMRealOEQ, a[0], jl_zero(L, t), "");
        LLVMValueRef r = LLVMBuildSelect(L->b, z, jl_zero(L, t), a[0], ""); /* ±0 -> +0 */
        r = LLVMBuildSelect(L->b, lt, jl_fltc(L, t, -1.0), r, "");
        return LLVMBuildSelect(L->b, gt, jl_fltc(L, t, 1.0), r, "");
    }
    if (!jl_sgn(t)) {
        LLVMValueRef nz = LLVMBuildICmp(L->b, LLVMIntNE, a[0], jl_zero(L, t), "");
        return LLVMBuildZExt(L->b, nz, jl_vty(L, t), "");
    }
    LLVMValueRef gt = LLVMBuildICmp(L->b, LLVMIntSGT, a[0], jl_zero(L, t), "");
    LLVMValueRef lt = LLVMBuildICmp(L->b, LLVMIntSLT, a[0], jl_zero(L, t), "");
    LLVMValueRef r = LLVMBuildSelect(L->b, lt, jl_intc(L, t, -1), jl_zero(L, t), "");
    return LLVMBuildSelect(L->b, gt, jl_intc(L, t, 1), r, "");
}

JL_OP(SQRT) { (void)at; return jl_flt(t) ? jl_intrin1(L, "llvm.sqrt", a[0]) : jl_zero(L, t); }

JL_OP(SQUARE)
{
    (void)at;
    if (jl_flt(t))
        return LLVMBuildFMul(L->b, a[0], a[0], "");
    return jl_bool(t) ? a[0] : LLVMBuildMul(L->b, a[0], a[0], "");
}

JL_OP(FLOOR) { (void)at; return jl_flt(t) ? jl_intrin1(L, "llvm.floor", a[0]) : a[0]; }
JL_OP(CEIL) { (void)at; return jl_flt(t) ? jl_intrin1(L, "llvm.ceil", a[0]) : a[0]; }
JL_OP(TRUNC) { (void)at; return jl_flt(t) ? jl_intrin1(L, "llvm.trunc", a[0]) : a[0]; }
JL_OP(RINT) { (void)at; return jl_flt(t) ? jl_intrin1(L, "llvm.rint", a[0]) : jl_zero(L, t); }

#define JL_LIBM1(e, fn)                                                                  \
    JL_OP(e)                                                                             \
    {                                                                                    \
        (void)at;                                                                        \
        return jl_flt(t) ? jl_libm(L, fn, t, 1, a) : jl_zero(L, t);                      \
    }
JL_LIBM1(EXP, "exp")
JL_LIBM1(EXPM1, "expm1")
JL_LIBM1(LOG, "log")
JL_LIBM1(LOG1P, "log1p")
JL_LIBM1(LOG2, "log2")
JL_LIBM1(LOG10, "log10")
JL_LIBM1(SIN, "sin")
JL_LIBM1(COS, "cos")
JL_LIBM1(TAN, "tan")
JL_LIBM1(ARCSIN, "asin")
JL_LIBM1(ARCCOS, "acos")
JL_LIBM1(ARCTAN, "atan")
JL_LIBM1(SINH, "sinh")
JL_LIBM1(COSH, "cosh")
JL_LIBM1(TANH, "tanh")

/* predicates in the argument's own dtype: integers are finite */
JL_OP(ISNAN)
{
    (void)at;
    return jl_flt(t) ? LLVMBuildFCmp(L->b, LLVMRealUNO, a[0], a[0], "") : LLVMConstInt(L->i1, 0, 0);
}

JL_OP(ISINF)
{
    (void)at;
    if (!jl_flt(t))
        return LLVMConstInt(L->i1, 0, 0);
    LLVMValueRef m = jl_intrin1(L, "llvm.fabs", a[0]);
    return LLVMBuildFCmp(L->b, LLVMRealOEQ, m, jl_fltc(L, t, __builtin_inf()), "");
}

JL_OP(ISFINITE)
{
    (void)at;
    if (!jl_flt(t))
        return LLVMConstInt(L->i1, 1, 0);
    LLVMValueRef m = jl_intrin1(L, "llvm.fabs", a[0]);
    return LLVMBuildFCmp(L->b, LLVMRealOLT, m, jl_fltc(L, t, __builtin_inf()), "");
}

JL_OP(WHERE)
{
    (void)t;
    return LLVMBuildSelect(L->b, jl_truth(L, a[0], at[0]), a[1], a[2], "");
}

/* CAST is lowered by the caller (it needs the target dtype). */
JL_OP(CAST) { JL_UNUSED; return NULL; }

/* Reductions and scans: not lowered yet. NULL makes jl_value fail ("op sum
 * is not lowered"), so their kernels run on the interpreter (fallback),
 * which follows runtime/reduce.h's canonical order. */
#define JL_NOT_LOWERED(e) JL_OP(e) { JL_UNUSED; return NULL; }
JL_NOT_LOWERED(SUM)
JL_NOT_LOWERED(PROD)
JL_NOT_LOWERED(MIN)
JL_NOT_LOWERED(MAX)
JL_NOT_LOWERED(MEAN)
JL_NOT_LOWERED(VAR)
JL_NOT_LOWERED(STD)
JL_NOT_LOWERED(ARGMIN)
JL_NOT_LOWERED(ARGMAX)
JL_NOT_LOWERED(ALL)
JL_NOT_LOWERED(ANY)
JL_NOT_LOWERED(COUNT_NONZERO)
JL_NOT_LOWERED(CUMSUM)
JL_NOT_LOWERED(CUMPROD)
JL_NOT_LOWERED(CUMMIN)
JL_NOT_LOWERED(CUMMAX)
#undef JL_NOT_LOWERED
/* Never reached: the planner makes a VIEW an operand (its source's
 * materialized value, moved by the map), never a body value. */
JL_OP(VIEW) { JL_UNUSED; return NULL; }
/* Never reached: a UDF value is a call built by jl_udf (it needs the value). */
JL_OP(UDF) { JL_UNUSED; return NULL; }

/* The C ABI extension attribute of a dtype passed or returned as an
 * integer narrower than 32 bits, or NULL. */
static const char *jl_ext_attr(kiln_dtype t)
{
    switch (t) {
    case KILN_INT8: case KILN_INT16: return "signext";
    case KILN_BOOL: case KILN_UINT8: case KILN_UINT16: return "zeroext";
    default: return NULL;
    }
}

static void jl_call_attr(jl *L, LLVMValueRef call, unsigned idx, const char *name)
{
    unsigned kind = LLVMGetEnumAttributeKindForName(name, strlen(name));
    LLVMAddCallSiteAttribute(call, idx, LLVMCreateEnumAttribute(L->c, kind, 0));
}

/* Value kv: the kernel's function udf[kv->arg] called on a[0..nin). */
static LLVMValueRef jl_udf(jl *L, const gr_kval *kv, LLVMValueRef *a, const kiln_dtype *at)
{
    kiln_dtype out = (kiln_dtype)kv->dtype;
    if (L->vw || kv->arg >= L->k->nudf) {
        jl_fail(L, "%s", L->vw ? "a user-defined function on vectors" : "malformed UDF value");
        return LLVMGetUndef(jl_vty(L, out));
    }
    LLVMTypeRef pt[GR_MAX_INPUTS];
    LLVMValueRef args[GR_MAX_INPUTS];
    for (int j = 0; j < kv->nin; j++) {
        pt[j] = jl_mty(L, at[j]); /* _Bool is a byte */
        args[j] = at[j] == KILN_BOOL ? LLVMBuildZExt(L->b, a[j], L->i8, "") : a[j];
    }
    LLVMTypeRef fty = LLVMFunctionType(jl_mty(L, out), pt, kv->nin, 0);
    uint64_t addr = (uint64_t)(uintptr_t)L->k->udf[kv->arg];
    LLVMValueRef callee = LLVMConstIntToPtr(LLVMConstInt(L->i64, addr, 0), L->ptr);
    LLVMValueRef call = LLVMBuildCall2(L->b, fty, callee, args, kv->nin, "");
    static const char *const pure[] = {"nounwind", "willreturn", "nosync", "nofree"};
    for (size_t i = 0; i < sizeof pure / sizeof pure[0]; i++)
        jl_call_attr(L, call, LLVMAttributeFunctionIndex, pure[i]);
    jl_call_attr(L, call, LLVMAttributeFunctionIndex, "memory"); /* memory(none) */
    for (int j = 0; j < kv->nin; j++)
        if (jl_ext_attr(at[j]))
            jl_call_attr(L, call, (unsigned)j + 1, jl_ext_attr(at[j]));
    if (jl_ext_attr(out))
        jl_call_attr(L, call, LLVMAttributeReturnIndex, jl_ext_attr(out));
    return out == KILN_BOOL ? LLVMBuildICmp(L->b, LLVMIntNE, call, LLVMConstNull(L->i8), "")
                            : call;
}

/* ---- values ------------------------------------------------------------------------- */

/* Emits value v: its arguments converted by the op's rule (as gr_apply),
 * then the op. */
LLVMValueRef jl_value(jl *L, int v)
{
    const gr_kval *kv = &L->k->vals[v];
    kiln_dtype out = (kiln_dtype)kv->dtype;
    if (kv->op == GR_OP_INPUT) {
        const gr_operand *op = &L->k->ops[kv->arg];
        LLVMValueRef x = LLVMBuildLoad2(L->b, jl_mty(L, out), L->opp[kv->arg], "");
        LLVMSetAlignment(x, 1);
        (void)op;
        return out == KILN_BOOL ? LLVMBuildICmp(L->b, LLVMIntNE, x, LLVMConstNull(L->i8), "") : x;
    }
    if (kv->op == GR_OP_SCALAR) {
        LLVMValueRef p = LLVMBuildGEP2(L->b, L->i64, L->params, (LLVMValueRef[]){jl_i64c(L, kv->arg)},
                                       1, "");
        if (jl_flt(out)) {
            LLVMValueRef d = LLVMBuildLoad2(L->b, L->f64, p, "");
            return out == KILN_FLOAT32 ? LLVMBuildFPTrunc(L->b, d, L->f32, "") : d;
        }
        LLVMValueRef w = LLVMBuildLoad2(L->b, L->i64, p, "");
        if (out == KILN_BOOL)
            return LLVMBuildICmp(L->b, LLVMIntNE, w, jl_i64c(L, 0), "");
        return rt_dtypes[out].bits == 64 ? w : LLVMBuildTrunc(L->b, w, jl_vty(L, out), "");
    }
    gr_op op = (gr_op)kv->op;
    gr_rule rule = (gr_rule)gr_ops[op].rule;
    LLVMValueRef a[GR_MAX_INPUTS];
    kiln_dtype at[GR_MAX_INPUTS];
    for (int j = 0; j < kv->nin; j++) {
        a[j] = L->val[kv->in[j]];
        at[j] = (kiln_dtype)L->k->vals[kv->in[j]].dtype;
    }
    if (op == GR_OP_CAST)
        return jl_conv(L, a[0], at[0], out);
    if (gr_is_udf(op))
        return jl_udf(L, kv, a, at);
    kiln_dtype t = out;
    switch (rule) {
    case GR_RULE_CMP: /* computed in the first argument's dtype */
        t = at[0];
        a[1] = jl_conv(L, a[1], at[1], t);
        at[1] = t;
        break;
    case GR_RULE_PRED: case GR_RULE_LOGIC:
        t = at[0];
        break;
    case GR_RULE_WHERE:
        for (int j = 1; j < kv->nin; j++) {
            a[j] = jl_conv(L, a[j], at[j], t);
            at[j] = t;
        }
        break;
    case GR_RULE_SAME: case GR_RULE_FLOAT: case GR_RULE_BITS: case GR_RULE_SHIFT:
        for (int j = 0; j < kv->nin; j++) {
            a[j] = jl_conv(L, a[j], at[j], t);
            at[j] = t;
        }
        break;
    case GR_RULE_LEAF: case GR_RULE_CAST: case GR_RULE_REDUCE: case GR_RULE_SCAN:
    case GR_RULE_VIEW: case GR_RULE_UDF:
        break;
    }
    LLVMValueRef r = jl_ops[op](L, t, a, at);
    if (!r) {
        jl_fail(L, "op %s is not lowered", gr_ops[op].name);
        return LLVMGetUndef(jl_vty(L, out));
    }
    LLVMTypeRef want = L->vw ? LLVMVectorType(jl_vty(L, out), L->vw) : jl_vty(L, out);
    if (LLVMTypeOf(r) != want) {
        jl_fail(L, "op %s: result type mismatch", gr_ops[op].name);
        return LLVMGetUndef(want);
    }
    return r;
}

static void jl_emit_level(jl *L, int d)
{
    for (int v = 0; v < L->k->nvals && !L->failed; v++)
        if (L->lvl[v] == d)
            L->val[v] = jl_value(L, v);
}

static void jl_stores(jl *L)
{
    const gr_kernel *k = L->k;
    for (int o = 0; o < k->nout; o++) {
        kiln_dtype t = (kiln_dtype)k->ops[o].dtype;
        LLVMValueRef x = L->val[k->out_val[o]];
        if (t == KILN_BOOL)
            x = LLVMBuildZExt(L->b, x, L->i8, "");
        LLVMValueRef s = LLVMBuildStore(L->b, x, L->opp[o]);
        LLVMSetAlignment(s, 1);
    }
}

/* Pointer of operand o advanced by index i along loop dim d. */
LLVMValueRef jl_advance(jl *L, int o, int d, LLVMValueRef i)
{
    const gr_kernel *k = L->k;
    LLVMValueRef p = L->opp[o];
    LLVMTypeRef mt = jl_mty(L, (kiln_dtype)k->ops[o].dtype);
    switch ((gr_sclass)k->ops[o].sclass[d]) {
    case GR_SC_ZERO:
        return p;
    case GR_SC_UNIT:
        return LLVMBuildInBoundsGEP2(L->b, mt, p, &i, 1, "");
    case GR_SC_RUNIT: {
        LLVMValueRef n = LLVMBuildNeg(L->b, i, "");
        return LLVMBuildInBoundsGEP2(L->b, mt, p, &n, 1, "");
    }
    case GR_SC_OTHER: {
        LLVMValueRef off = LLVMBuildMul(L->b, i, L->stride[o * k->rank + d], "");
        LLVMSetNSW(off, 1);
        return LLVMBuildInBoundsGEP2(L->b, L->i8, p, &off, 1, "");
    }
    }
    return p;
}

static void jl_loop(jl *L, LLVMValueRef fn, int d)
{
    const gr_kernel *k = L->k;
    LLVMValueRef lo = d == 0 ? L->begin : jl_i64c(L, 0);
    LLVMValueRef hi = d == 0 ? L->end : L->ext[d];
    LLVMBasicBlockRef pre = LLVMGetInsertBlock(L->b);
    char nm[16];
    snprintf(nm, sizeof nm, "l%d", d);
    LLVMBasicBlockRef head = LLVMAppendBasicBlockInContext(L->c, fn, nm);
    snprintf(nm, sizeof nm, "x%d", d);
    LLVMBasicBlockRef exit = LLVMAppendBasicBlockInContext(L->c, fn, nm);
    if (d == 0)
        LLVMBuildCondBr(L->b, LLVMBuildICmp(L->b, LLVMIntSLT, lo, hi, ""), head, exit);
    else /* inner extents are >= 1: the plan never launches an empty kernel */
        LLVMBuildBr(L->b, head);
    LLVMPositionBuilderAtEnd(L->b, head);
    LLVMValueRef i = LLVMBuildPhi(L->b, L->i64, "i");
    LLVMValueRef saved[256], *save = saved;
    if (k->nops > 256 && !(save = rt_malloc(L->env, sizeof *save * k->nops))) {
        jl_fail(L, "%s", "out of memory lowering a kernel");
        return;
    }
    for (int o = 0; o < k->nops; o++) {
        save[o] = L->opp[o];
        L->opp[o] = jl_advance(L, o, d, i);
    }
    jl_emit_level(L, d);
    if (d + 1 < k->rank)
        jl_loop(L, fn, d + 1);
    else
        jl_stores(L);
    LLVMBasicBlockRef latch = LLVMGetInsertBlock(L->b);
    LLVMValueRef next = LLVMBuildAdd(L->b, i, jl_i64c(L, 1), "");
    LLVMSetNSW(next, 1);
    LLVMSetNUW(next, 1);
    LLVMBuildCondBr(L->b, LLVMBuildICmp(L->b, LLVMIntSLT, next, hi, ""), head, exit);
    LLVMValueRef inc[2] = {lo, next};
    LLVMBasicBlockRef from[2] = {pre, latch};
    LLVMAddIncoming(i, inc, from, 2);
    LLVMPositionBuilderAtEnd(L->b, exit);
    for (int o = 0; o < k->nops; o++)
        L->opp[o] = save[o];
    if (save != saved)
        rt_free(L->env, save, sizeof *save * k->nops);
}

/* Checks the kernel is well formed before any IR is built. */
static int jl_check(jl *L)
{
    const gr_kernel *k = L->k;
    if (k->rank < 1 || k->rank > KILN_MAX_RANK || k->nout < 1 || k->nout > k->nops) {
        jl_fail(L, "%s", "malformed kernel (rank or operand count)");
        return -1;
    }
    for (int o = 0; o < k->nops; o++)
        if (!rt_dtype_valid(k->ops[o].dtype) || k->ops[o].is_out != (o < k->nout)) {
            jl_fail(L, "%s", "malformed kernel operand");
            return -1;
        }
    for (int v = 0; v < k->nvals; v++) {
        const gr_kval *kv = &k->vals[v];
        bool ddof = kv->op == GR_OP_VAR || kv->op == GR_OP_STD; /* + its ddof parameter */
        bool udf = kv->op < GR_OP_COUNT && gr_is_udf(kv->op);
        if (kv->op >= GR_OP_COUNT || !rt_dtype_valid(kv->dtype) ||
            (udf ? kv->nin < 1 || kv->nin > GR_MAX_INPUTS || kv->arg >= k->nudf
                 : kv->nin != gr_ops[kv->op].arity + ddof)) {
            jl_fail(L, "%s", "malformed kernel value");
            return -1;
        }
        if (kv->op == GR_OP_ERROR) {
            jl_fail(L, "%s", "error node in a kernel");
            return -1;
        }
        if ((kv->op == GR_OP_INPUT && (kv->arg >= k->nops || k->ops[kv->arg].dtype != kv->dtype)) ||
            (kv->op == GR_OP_SCALAR && (kv->arg >= k->nparams || k->params[kv->arg].dtype != kv->dtype))) {
            jl_fail(L, "%s", "malformed kernel leaf");
            return -1;
        }
        for (int j = 0; j < kv->nin; j++)
            if (kv->in[j] >= v) {
                jl_fail(L, "%s", "kernel values out of order");
                return -1;
            }
    }
    for (int o = 0; o < k->nout; o++)
        if (k->out_val[o] >= k->nvals || k->vals[k->out_val[o]].dtype != k->ops[o].dtype) {
            jl_fail(L, "%s", "kernel output does not match its value");
            return -1;
        }
    return 0;
}

static void jl_levels(jl *L)
{
    const gr_kernel *k = L->k;
    for (int v = 0; v < k->nvals; v++) {
        const gr_kval *kv = &k->vals[v];
        int l = -1;
        if (kv->op == GR_OP_INPUT) {
            for (int d = 0; d < k->rank; d++)
                if (k->ops[kv->arg].sclass[d] != GR_SC_ZERO)
                    l = d;
        } else {
            for (int j = 0; j < kv->nin; j++)
                if (L->lvl[kv->in[j]] > l)
                    l = L->lvl[kv->in[j]];
        }
        L->lvl[v] = l;
    }
}

static void jl_compiler_used(jl *L)
{
    if (!L->nused)
        return;
    LLVMTypeRef at = LLVMArrayType2(L->ptr, (uint64_t)L->nused);
    LLVMValueRef g = LLVMAddGlobal(L->M, at, "llvm.compiler.used");
    LLVMSetLinkage(g, LLVMAppendingLinkage);
    LLVMSetSection(g, "llvm.metadata");
    LLVMSetInitializer(g, LLVMConstArray2(L->ptr, L->used, (uint64_t)L->nused));
}

int jit_lower(rt_env *env, LLVMModuleRef M, const gr_kernel *k, const char *name,
              const jit_target *t, char *why, size_t why_cap)
{
    jl L;
    memset(&L, 0, sizeof L);
    L.M = M;
    L.c = LLVMGetModuleContext(M);
    L.k = k;
    L.t = t;
    L.env = env;
    L.why = why;
    L.why_cap = why_cap;
    if (jl_check(&L) != 0)
        return -1;
    L.i1 = LLVMInt1TypeInContext(L.c);
    L.i8 = LLVMInt8TypeInContext(L.c);
    L.i16 = LLVMInt16TypeInContext(L.c);
    L.i32 = LLVMInt32TypeInContext(L.c);
    L.i64 = LLVMInt64TypeInContext(L.c);
    L.f32 = LLVMFloatTypeInContext(L.c);
    L.f64 = LLVMDoubleTypeInContext(L.c);
    L.ptr = LLVMPointerTypeInContext(L.c, 0);
    L.vd = LLVMVoidTypeInContext(L.c);
    size_t nv = k->nvals ? k->nvals : 1, no = k->nops, ns = (size_t)k->nops * (size_t)k->rank;
    L.val = rt_calloc(env, nv, sizeof *L.val);
    L.lvl = rt_calloc(env, nv, sizeof *L.lvl);
    L.opp = rt_calloc(env, no, sizeof *L.opp);
    L.stride = rt_calloc(env, ns, sizeof *L.stride);
    int rc = -1;
    if (!L.val || !L.lvl || !L.opp || !L.stride) {
        jl_fail(&L, "%s", "out of memory lowering a kernel");
        goto out;
    }
    L.b = LLVMCreateBuilderInContext(L.c);
    L.name = name;
    if (k->kind != GR_KK_ELEM) { /* reductions and scans: jit/reduce.c */
        rc = jit_lower_reduce(&L);
        goto out;
    }

    /* the body: operand pointers as (noalias) parameters */
    int nparam = k->nops + 5;
    LLVMTypeRef *pt = rt_calloc(env, (size_t)nparam, sizeof *pt);
    LLVMValueRef *args = rt_calloc(env, (size_t)nparam, sizeof *args);
    if (!pt || !args) {
        rt_free(env, pt, pt ? (size_t)nparam * sizeof *pt : 0);
        rt_free(env, args, args ? (size_t)nparam * sizeof *args : 0);
        jl_fail(&L, "%s", "out of memory lowering a kernel");
        goto out;
    }
    for (int i = 0; i < k->nops + 3; i++)
        pt[i] = L.ptr;
    pt[k->nops + 3] = L.i64;
    pt[k->nops + 4] = L.i64;
    char bname[160];
    snprintf(bname, sizeof bname, "%s.body", name);
    LLVMValueRef body = LLVMAddFunction(M, bname, LLVMFunctionType(L.vd, pt, (unsigned)nparam, 0));
    LLVMSetLinkage(body, LLVMInternalLinkage);
    jl_fn_attr(&L, body, "alwaysinline", 0);
    jl_fn_attr(&L, body, "nounwind", 0);
    unsigned noalias = LLVMGetEnumAttributeKindForName("noalias", 7);
    unsigned nocapture = LLVMGetEnumAttributeKindForName("nocapture", 9);
    for (int o = 0; o < k->nops; o++) {
        if (k->noalias)
            LLVMAddAttributeAtIndex(body, (unsigned)o + 1, LLVMCreateEnumAttribute(L.c, noalias, 0));
        LLVMAddAttributeAtIndex(body, (unsigned)o + 1, LLVMCreateEnumAttribute(L.c, nocapture, 0));
    }

    /* the entry point: unpack rt_kargs, call the body */
    LLVMTypeRef ept[3] = {L.ptr, L.i64, L.i64};
    LLVMValueRef fn = LLVMAddFunction(M, name, LLVMFunctionType(L.vd, ept, 3, 0));
    jl_fn_attr(&L, fn, "nounwind", 0);
    LLVMPositionBuilderAtEnd(L.b, LLVMAppendBasicBlockInContext(L.c, fn, "entry"));
    LLVMValueRef ka = LLVMGetParam(fn, 0);
    LLVMValueRef field[4];
    for (int f = 0; f < 4; f++) {
        LLVMValueRef fp = LLVMBuildGEP2(L.b, L.ptr, ka, (LLVMValueRef[]){jl_i64c(&L, f)}, 1, "");
        field[f] = LLVMBuildLoad2(L.b, L.ptr, fp, "");
    }
    for (int o = 0; o < k->nops; o++) {
        LLVMValueRef dp = LLVMBuildGEP2(L.b, L.ptr, field[0], (LLVMValueRef[]){jl_i64c(&L, o)}, 1, "");
        args[o] = LLVMBuildLoad2(L.b, L.ptr, dp, "");
    }
    args[k->nops] = field[1];
    args[k->nops + 1] = field[2];
    args[k->nops + 2] = field[3];
    args[k->nops + 3] = LLVMGetParam(fn, 1);
    args[k->nops + 4] = LLVMGetParam(fn, 2);
    LLVMBuildCall2(L.b, LLVMGlobalGetValueType(body), body, args, (unsigned)nparam, "");
    LLVMBuildRetVoid(L.b);
    rt_free(env, pt, (size_t)nparam * sizeof *pt);
    rt_free(env, args, (size_t)nparam * sizeof *args);

    /* the body's entry: invariants */
    LLVMPositionBuilderAtEnd(L.b, LLVMAppendBasicBlockInContext(L.c, body, "entry"));
    for (int o = 0; o < k->nops; o++)
        L.opp[o] = LLVMGetParam(body, (unsigned)o);
    LLVMValueRef ext = LLVMGetParam(body, (unsigned)k->nops);
    LLVMValueRef str = LLVMGetParam(body, (unsigned)k->nops + 1);
    L.params = LLVMGetParam(body, (unsigned)k->nops + 2);
    L.begin = LLVMGetParam(body, (unsigned)k->nops + 3);
    L.end = LLVMGetParam(body, (unsigned)k->nops + 4);
    for (int d = 1; d < k->rank; d++) {
        LLVMValueRef p = LLVMBuildGEP2(L.b, L.i64, ext, (LLVMValueRef[]){jl_i64c(&L, d)}, 1, "");
        L.ext[d] = LLVMBuildLoad2(L.b, L.i64, p, "");
    }
    for (int o = 0; o < k->nops; o++)
        for (int d = 0; d < k->rank; d++) {
            if (k->ops[o].sclass[d] != GR_SC_OTHER)
                continue;
            LLVMValueRef p = LLVMBuildGEP2(L.b, L.i64, str,
                                           (LLVMValueRef[]){jl_i64c(&L, o * k->rank + d)}, 1, "");
            L.stride[o * k->rank + d] = LLVMBuildLoad2(L.b, L.i64, p, "");
        }
    jl_levels(&L);
    jl_emit_level(&L, -1);
    if (!L.failed)
        jl_loop(&L, body, 0);
    if (!L.failed) {
        LLVMBuildRetVoid(L.b);
        jl_compiler_used(&L);
        rc = 0;
    }
out:
    if (L.b)
        LLVMDisposeBuilder(L.b);
    rt_free(env, L.val, L.val ? nv * sizeof *L.val : 0);
    rt_free(env, L.lvl, L.lvl ? nv * sizeof *L.lvl : 0);
    rt_free(env, L.opp, L.opp ? no * sizeof *L.opp : 0);
    rt_free(env, L.stride, L.stride ? ns * sizeof *L.stride : 0);
    return rc;
}

/* ---- the runtime helpers the IR calls by name ------------------------------------- */

const jit_helper jit_helpers[] = {
    {"rt_floordiv_i64", (void *)rt_floordiv_i64},   {"rt_floordiv_u64", (void *)rt_floordiv_u64},
    {"rt_remainder_i64", (void *)rt_remainder_i64}, {"rt_remainder_u64", (void *)rt_remainder_u64},
    {"rt_floordiv_f64", (void *)rt_floordiv_f64},   {"rt_floordiv_f32", (void *)rt_floordiv_f32},
    {"rt_remainder_f64", (void *)rt_remainder_f64}, {"rt_remainder_f32", (void *)rt_remainder_f32},
    {"rt_power_i64", (void *)rt_power_i64},         {"rt_power_u64", (void *)rt_power_u64},
};
const int jit_nhelpers = (int)(sizeof jit_helpers / sizeof jit_helpers[0]);
