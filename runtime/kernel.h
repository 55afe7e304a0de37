/*
 * runtime/kernel.h — the kernel ABI: how every compiled kernel is called.
 *
 * One uniform C signature for all kernels, whatever they compute:
 *
 *     void k(const rt_kargs *a, int64_t begin, int64_t end);
 *
 * A kernel is a loop nest of rank R >= 1 over `extent[0..R)` (outermost
 * first, already in the kernel's loop order); it runs the slice
 * [begin, end) of the OUTERMOST loop, so a thread pool can split that loop
 * without knowing anything else about the kernel. Operand k's element at
 * loop index (i0, ..., i{R-1}) is at
 *
 *     data[k] + i0*strides[k*R + 0] + ... + i{R-1}*strides[k*R + R-1]
 *
 * (byte strides, any sign, any alignment). Operands are the kernel's
 * outputs first, then its inputs. params[] are scalar parameters in the
 * canonical widened form of runtime/scalar.c (signed sign-extended in .i,
 * unsigned zero-extended in .u, float in .f, bool as .u == 0 or 1), read
 * by the kernel as the 64-bit word and narrowed.
 *
 * Invariants: the kernel touches nothing but the operands' elements and
 * the params; it never allocates, locks or calls back into kiln; a
 * kernel's correctness does not depend on how [0, extent[0]) is split.
 * runtime/ knows nothing of graphs or LLVM: this header is all a launcher
 * needs.
 */
#ifndef KILN_RT_KERNEL_H
#define KILN_RT_KERNEL_H

#include "runtime/rt.h"

#include <stddef.h>

typedef struct rt_kargs {
    char *const *data;       /* [noperands] address of element (0, ..., 0) */
    const int64_t *extent;   /* [rank] loop extents, outermost first */
    const int64_t *strides;  /* [noperands * rank] bytes, row per operand */
    const rt_scalar *params; /* [nparams] */
} rt_kargs;

/* Field offsets the code generator relies on (jit/lower.c). */
_Static_assert(offsetof(rt_kargs, data) == 0, "rt_kargs layout");
_Static_assert(offsetof(rt_kargs, extent) == sizeof(void *), "rt_kargs layout");
_Static_assert(offsetof(rt_kargs, strides) == 2 * sizeof(void *), "rt_kargs layout");
_Static_assert(offsetof(rt_kargs, params) == 3 * sizeof(void *), "rt_kargs layout");
_Static_assert(sizeof(rt_scalar) == 8, "rt_scalar is one 64-bit word");

typedef void (*rt_kernel_fn)(const rt_kargs *a, int64_t begin, int64_t end);

/* Runs fn over the whole outer loop [0, outer). Today on the caller's
 * thread; the thread pool (issue 8) splits [0, outer) here. outer <= 0
 * runs nothing. */
void rt_launch(rt_kernel_fn fn, const rt_kargs *a, int64_t outer);

#endif /* KILN_RT_KERNEL_H */
