/*
 * runtime/udf.c — libffi calls of user-defined scalar functions.
 *
 * rt_udf_new prepares one ffi_cif per registration (ffi_prep_cif costs
 * ~90 ns, a prepared call ~150 ns: notes/llvm-c-facts.md); the cif and its
 * argument type list live in one block owned by the rt_udf. rt_udf_call
 * stores each widened scalar as its dtype's bytes (rt_store: exactly the C
 * type's representation, _Bool as one byte 0/1), calls, and loads the
 * result (rt_load). libffi writes an integer result narrower than a
 * register as a full ffi_arg (its documented rule), so the return buffer
 * is at least an ffi_arg and such a result is read from its low-order
 * bytes.
 */
#include "runtime/udf.h"

#include <ffi.h>
#include <stdio.h>
#include <string.h>

typedef struct rt_udf_ffi {
    ffi_cif cif;
    ffi_type *atypes[KILN_UDF_MAX_ARGS];
} rt_udf_ffi;

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

rt_scalar rt_udf_call(const rt_udf *u, const rt_scalar *args)
{
    const rt_udf_ffi *x = u->ffi;
    uint64_t a[KILN_UDF_MAX_ARGS]; /* each argument in its C type (rt_store's bytes) */
    void *p[KILN_UDF_MAX_ARGS];
    for (int i = 0; i < u->nargs; i++) {
        rt_store(u->args[i], &a[i], args[i]);
        p[i] = &a[i];
    }
    union {
        ffi_arg w; /* integer results narrower than a register come widened */
        double f64;
        char bytes[sizeof(ffi_arg) > sizeof(double) ? sizeof(ffi_arg) : sizeof(double)];
    } r;
    memset(&r, 0, sizeof r);
    ffi_call((ffi_cif *)&x->cif, FFI_FN(u->fn), &r, p);
    /* the value's own bytes: at the start, except a widened integer on a
     * big-endian host */
    size_t at = 0;
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    if (!rt_is_float(u->ret) && rt_dtypes[u->ret].size < sizeof(ffi_arg))
        at = sizeof(ffi_arg) - rt_dtypes[u->ret].size;
#endif
    return rt_load(u->ret, r.bytes + at);
}
