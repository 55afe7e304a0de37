/*
 * runtime/udf.h — user-defined scalar functions: a registered C function
 * pointer with its scalar signature, called through libffi.
 *
 * An rt_udf is made once per registration (kiln_udf_register) and lives
 * until its context is freed: its address is stable, so graph nodes and
 * plans may refer to it. libffi's call interface (cif) is prepared once,
 * here, never per element. The generated code does not use it: the JIT
 * calls fn directly (jit/lower.c); the interpreter calls rt_udf_call.
 *
 * C types per dtype: bool is _Bool, int8..uint64 are <stdint.h>'s,
 * float32 is float, float64 is double. runtime/ knows no graph; names
 * carry rt_.
 */
#ifndef KILN_RT_UDF_H
#define KILN_RT_UDF_H

#include "runtime/rt.h"

enum { RT_UDF_NAME_MAX = 64 }; /* bytes of a name, NUL included */

typedef struct rt_udf {
    char name[RT_UDF_NAME_MAX];
    kiln_udf_fn fn;
    kiln_dtype ret;
    int nargs; /* 1..KILN_UDF_MAX_ARGS */
    kiln_dtype args[KILN_UDF_MAX_ARGS];
    void *ffi; /* libffi's prepared call interface (runtime/udf.c) */
} rt_udf;

/* A registration in *out: name (checked by the caller, shorter than
 * RT_UDF_NAME_MAX), fn, its return and argument dtypes (valid, 1 <= nargs
 * <= KILN_UDF_MAX_ARGS). KILN_ENOMEM, or KILN_EINVAL if libffi cannot
 * prepare the call, recorded on env (*out untouched). */
kiln_status rt_udf_new(rt_env *env, const char *name, kiln_udf_fn fn, kiln_dtype ret, int nargs,
                       const kiln_dtype *args, rt_udf **out);
void rt_udf_free(rt_env *env, rt_udf *u);

/* u->fn(args[0], ..., args[nargs-1]) through libffi: each widened scalar
 * (of the declared argument dtype) is narrowed to its C type, the result
 * widened back (a bool result is normalized to 0/1). */
rt_scalar rt_udf_call(const rt_udf *u, const rt_scalar *args);

#endif /* KILN_RT_UDF_H */
