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
 * the params; it never allocates, locks or calls back into kiln (a
 * reduction kernel's pairwise trees run through trees->run, which
 * rt_launch may let run subtrees on the context's threads); a kernel's
 * correctness does not depend on how [0, extent[0]) is split.
 * runtime/ knows nothing of graphs or LLVM: this header is all a launcher
 * needs.
 */
#ifndef KILN_RT_KERNEL_H
#define KILN_RT_KERNEL_H

#include "runtime/rt.h"

#include <stddef.h>

struct rt_trees;

typedef struct rt_kargs {
    char *const *data;       /* [noperands] address of element (0, ..., 0) */
    const int64_t *extent;   /* [rank] loop extents, outermost first */
    const int64_t *strides;  /* [noperands * rank] bytes, row per operand */
    const rt_scalar *params; /* [nparams] */
    struct rt_trees *trees;  /* set by rt_launch, never NULL in a kernel:
                                how a reduction kernel runs its pairwise
                                trees (runtime/reduce.h, rt_pw_tree_tasks) */
} rt_kargs;

/* Field offsets the code generator relies on (jit/lower.c). */
_Static_assert(offsetof(rt_kargs, data) == 0, "rt_kargs layout");
_Static_assert(offsetof(rt_kargs, extent) == sizeof(void *), "rt_kargs layout");
_Static_assert(offsetof(rt_kargs, strides) == 2 * sizeof(void *), "rt_kargs layout");
_Static_assert(offsetof(rt_kargs, params) == 3 * sizeof(void *), "rt_kargs layout");
_Static_assert(offsetof(rt_kargs, trees) == 4 * sizeof(void *), "rt_kargs layout");
_Static_assert(sizeof(rt_scalar) == 8, "rt_scalar is one 64-bit word");

typedef void (*rt_kernel_fn)(const rt_kargs *a, int64_t begin, int64_t end);

/* What a launch costs and whether it may be split, from the planner.
 * cost is in bytes streamed: the bytes the launch reads and writes plus
 * its computation expressed as the bytes that take as long to stream (an
 * estimate: graph/cost.c). */
typedef struct rt_work {
    double cost;
    int64_t grain; /* split [0, outer) only at multiples of grain (>= 1) */
    bool parallel; /* the iterations are independent: an elementwise kernel,
                      or a reduction/scan kernel, whose outer loop is a kept
                      dim (each output's sequence lies in one iteration) */
    int64_t trees; /* a reduction kernel with pairwise trees: their length
                      n (rt_pw_tree_tasks may run their top subtrees as
                      tasks); 0 if it has none */
    int64_t flat;  /* a reduction kernel whose FLAT reductions run in
                      blocks (rt_flat_tasks, runtime/reduce.h): their
                      length n; 0 if it has none */
    bool wide;     /* split into one chunk per thread: the kernel is faster
                      on wider slices (a column reduction's chunks) */
} rt_work;

struct rt_par;

/* Runs fn over the whole outer loop [0, outer), every index exactly once.
 * With par (may be NULL), work whose cost reaches the context's calibrated
 * threshold (runtime/pool.h, rt_par_min_cost) runs on the context's
 * threads: inline with each tree's top subtrees and each FLAT sequence's
 * blocks as tasks if its trees are long enough to cut
 * (rt_pw_tree_depth(w->trees) > 0) or its FLAT sequences span several
 * blocks (rt_flat_blocks(w->flat) > 1) and [0, outer) has fewer grains
 * than there are threads (a full reduction: one output); else split into
 * contiguous chunks of [0, outer) if w->parallel.
 * Anything else runs on the caller's thread. outer <= 0 runs nothing.
 * Returns the number of chunks (or the most tasks of one tree or group of
 * blocks) the work ran in over threads: 1 inline, 0 nothing. */
int64_t rt_launch(struct rt_par *par, rt_kernel_fn fn, const rt_kargs *a, int64_t outer,
                  const rt_work *w);

#endif /* KILN_RT_KERNEL_H */
