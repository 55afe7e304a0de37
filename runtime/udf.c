/*
 * runtime/udf.c — libffi calls of user-defined scalar functions.
 *
 * rt_udf_new prepares one ffi_cif per registration (ffi_prep_cif costs
 * ~90 ns, a prepared call ~150 ns: notes/llvm-c-facts.md); the cif and its
 * argument type list live in one block owned by the rt_udf. rt_udf_call
 * narrows each widened scalar into a union of the C types, calls, and
 * widens the result. libffi writes an integer result narrower than a
 * register as a full ffi_arg (its documented rule), so the return buffer
 * is an ffi_arg and small integer results are read from it, truncated.
 */
#include "runtime/udf.h"

#include <ffi.h>
#include <stdio.h>
#include <string.h>

typedef struct rt_udf_ffi {
    ffi_cif cif;
    ffi_type *atypes[KILN_UDF_MAX_ARGS];
} rt_udf_ffi;

/* One argument in its C type. */
typedef union rt_udf_arg {
    _Bool b;
    int8_t i8;
    int16_t i16;
    int32_t i32;
    int64_t i64;
    uint8_t u8;
    uint16_t u16;
    uint32_t u32;
    uint64_t u64;
    float f32;
    double f64;
} rt_udf_arg;

static ffi_type *rt_udf_type(kiln_dtype t)
{
    switch (t) {
    case KILN_BOOL: return &ffi_type_uint8; /* _Bool: one byte, 0 or 1 */
    case KILN_INT8: return &ffi_type_sint8;
    case KILN_INT16: return &ffi_type_sint16;
    case KILN_INT32: return &ffi_type_sint32;
    case KILN_INT64: return &ffi_type_sint64;
    case KILN_UINT8: return &ffi_type_uint8;
    case KILN_UINT16: return &ffi_type_uint16;
    case KILN_UINT32: return &ffi_type_uint32;
    case KILN_UINT64: return &ffi_type_uint64;
    case KILN_FLOAT32: return &ffi_type_float;
    case KILN_FLOAT64: return &ffi_type_double;
    case KILN_DTYPE_COUNT: break;
    }
    return &ffi_type_void;
}

kiln_status rt_udf_new(rt_env *env, const char *name, kiln_udf_fn fn, kiln_dtype ret, int nargs,
                       const kiln_dtype *args, rt_udf **out)
{
    rt_udf *u = rt_calloc(env, 1, sizeof *u);
    rt_udf_ffi *x = rt_calloc(env, 1, sizeof *x);
    if (!u || !x) {
        rt_free(env, u, sizeof *u);
        rt_free(env, x, sizeof *x);
        return rt_err(env, KILN_ENOMEM, "out of memory registering function '%s'", name);
    }
    snprintf(u->name, sizeof u->name, "%s", name);
    u->fn = fn;
    u->ret = ret;
    u->nargs = nargs;
    for (int i = 0; i < nargs; i++) {
        u->args[i] = args[i];
        x->atypes[i] = rt_udf_type(args[i]);
    }
    ffi_status fs = ffi_prep_cif(&x->cif, FFI_DEFAULT_ABI, (unsigned)nargs, rt_udf_type(ret),
                                 x->atypes);
    if (fs != FFI_OK) {
        rt_free(env, u, sizeof *u);
        rt_free(env, x, sizeof *x);
        return rt_err(env, KILN_EINVAL,
                      "libffi cannot prepare a call of function '%s' (status %d)", name, (int)fs);
    }
    u->ffi = x;
    *out = u;
    return KILN_OK;
}

void rt_udf_free(rt_env *env, rt_udf *u)
{
    if (!u)
        return;
    rt_free(env, u->ffi, sizeof(rt_udf_ffi));
    rt_free(env, u, sizeof *u);
}

static rt_udf_arg rt_udf_narrow(kiln_dtype t, rt_scalar v)
{
    rt_udf_arg a;
    memset(&a, 0, sizeof a);
    switch (t) {
    case KILN_BOOL: a.b = v.b; break;
    case KILN_INT8: a.i8 = (int8_t)v.i; break;
    case KILN_INT16: a.i16 = (int16_t)v.i; break;
    case KILN_INT32: a.i32 = (int32_t)v.i; break;
    case KILN_INT64: a.i64 = v.i; break;
    case KILN_UINT8: a.u8 = (uint8_t)v.u; break;
    case KILN_UINT16: a.u16 = (uint16_t)v.u; break;
    case KILN_UINT32: a.u32 = (uint32_t)v.u; break;
    case KILN_UINT64: a.u64 = v.u; break;
    case KILN_FLOAT32: a.f32 = (float)v.f; break;
    case KILN_FLOAT64: a.f64 = v.f; break;
    case KILN_DTYPE_COUNT: break;
    }
    return a;
}

rt_scalar rt_udf_call(const rt_udf *u, const rt_scalar *args)
{
    const rt_udf_ffi *x = u->ffi;
    rt_udf_arg a[KILN_UDF_MAX_ARGS];
    void *p[KILN_UDF_MAX_ARGS];
    for (int i = 0; i < u->nargs; i++) {
        a[i] = rt_udf_narrow(u->args[i], args[i]);
        p[i] = &a[i];
    }
    union {
        ffi_arg w; /* integer results narrower than a register */
        ffi_sarg s;
        int64_t i64;
        uint64_t u64;
        float f32;
        double f64;
    } r;
    memset(&r, 0, sizeof r);
    ffi_call((ffi_cif *)&x->cif, FFI_FN(u->fn), &r, p);
    rt_scalar v;
    memset(&v, 0, sizeof v);
    switch (u->ret) {
    case KILN_BOOL: v.b = (uint8_t)r.w != 0; break;
    case KILN_INT8: v.i = (int8_t)r.s; break;
    case KILN_INT16: v.i = (int16_t)r.s; break;
    case KILN_INT32: v.i = (int32_t)r.s; break;
    case KILN_INT64: v.i = r.i64; break;
    case KILN_UINT8: v.u = (uint8_t)r.w; break;
    case KILN_UINT16: v.u = (uint16_t)r.w; break;
    case KILN_UINT32: v.u = (uint32_t)r.w; break;
    case KILN_UINT64: v.u = r.u64; break;
    case KILN_FLOAT32: v.f = (double)r.f32; break;
    case KILN_FLOAT64: v.f = r.f64; break;
    case KILN_DTYPE_COUNT: break;
    }
    return v;
}
