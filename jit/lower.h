/*
 * jit/lower.h — the lowering state and the primitives jit/lower.c shares
 * with the lowering of reductions and scans (jit/reduce.c). Included only
 * by jit/ (it includes llvm-c).
 *
 * A jl holds one kernel's lowering: its LLVM module and builder, the kernel
 * being lowered, and per-function state that a lowering function sets
 * before emitting values: opp[o] (the pointer to operand o's current
 * element), stride[] and ext[] (the runtime strides and extents, loaded in
 * the current function) and params (the launch parameters). jl_value(L, v)
 * then emits body value v from those and from val[] (earlier values
 * emitted in the same function). Semantics are gr_apply's (lower.c's top
 * comment); nothing here adds fast-math flags.
 */
#ifndef KILN_JIT_LOWER_H
#define KILN_JIT_LOWER_H

#include "jit/internal.h"

typedef struct jl {
    LLVMContextRef c;
    LLVMModuleRef M;
    LLVMBuilderRef b;
    const gr_kernel *k;
    const jit_target *t;
    rt_env *env;
    const char *name;
    LLVMTypeRef i1, i8, i16, i32, i64, f32, f64, ptr, vd;
    LLVMValueRef *val;    /* [nvals] */
    int *lvl;             /* [nvals] loop level where a value is computed */
    LLVMValueRef *opp;    /* [nops] pointer to the operand's current element */
    LLVMValueRef *stride; /* [nops*R] stride values (NULL for class ZERO) */
    LLVMValueRef ext[KILN_MAX_RANK];
    LLVMValueRef begin, end, params;
    LLVMValueRef used[64]; /* vector variants kept by llvm.compiler.used */
    int nused;
    unsigned vw;          /* jl_value on <vw x T> vectors (0: scalars); only ops
                             whose lowering builds no scalar constant
                             (jit/reduce.c's jr_vec_op) */
    char *why;
    size_t why_cap;
    bool failed;
} jl;

static inline rt_kind jl_kind(kiln_dtype t) { return (rt_kind)rt_dtypes[t].kind; }
static inline bool jl_flt(kiln_dtype t) { return jl_kind(t) == RT_KIND_FLOAT; }
static inline bool jl_bool(kiln_dtype t) { return jl_kind(t) == RT_KIND_BOOL; }
static inline bool jl_sgn(kiln_dtype t) { return jl_kind(t) == RT_KIND_INT; }

/* Records the first failure (fmt has one %s). */
void jl_fail(jl *L, const char *fmt, const char *what);
/* Register type (bool is i1) and memory type (bool is one byte) of t. */
LLVMTypeRef jl_vty(jl *L, kiln_dtype t);
LLVMTypeRef jl_mty(jl *L, kiln_dtype t);
LLVMValueRef jl_zero(jl *L, kiln_dtype t);
LLVMValueRef jl_i64c(jl *L, int64_t v);
LLVMValueRef jl_intc(jl *L, kiln_dtype t, int64_t v);
LLVMValueRef jl_fltc(jl *L, kiln_dtype t, double v);
void jl_fn_attr(jl *L, LLVMValueRef f, const char *name, uint64_t v);
/* Calls overloaded intrinsic name over the types tys[0..ntys). */
LLVMValueRef jl_intrin(jl *L, const char *name, LLVMTypeRef *tys, int ntys, int n,
                       LLVMValueRef *args);
LLVMValueRef jl_intrin1(jl *L, const char *name, LLVMValueRef x);
/* x != 0 in dtype t (NaN is true), as i1. */
LLVMValueRef jl_truth(jl *L, LLVMValueRef x, kiln_dtype t);
/* rt_convert from -> to. */
LLVMValueRef jl_conv(jl *L, LLVMValueRef x, kiln_dtype from, kiln_dtype to);
/* gr_apply's minimum (maximum if want_max) of a[0], a[1] in t. */
LLVMValueRef jl_minmax(jl *L, kiln_dtype t, LLVMValueRef *a, bool want_max);
/* Emits body value v (an INPUT load through opp[], a parameter, or an
 * elementwise op on val[]); the caller stores it into val[v]. */
LLVMValueRef jl_value(jl *L, int v);
/* Pointer of operand o advanced by index i along loop dim d from opp[o]. */
LLVMValueRef jl_advance(jl *L, int o, int d, LLVMValueRef i);

/* jit/reduce.c: builds a GR_KK_REDUCE or GR_KK_SCAN kernel (the same
 * entry point ABI as an elementwise kernel). L is set up by jit_lower
 * (types, arrays, the builder, no function yet). Returns 0, or -1 with
 * L->why filled. */
int jit_lower_reduce(jl *L);

#endif /* KILN_JIT_LOWER_H */
