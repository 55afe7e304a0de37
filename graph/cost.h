/*
 * graph/cost.h — what launching a kernel costs, for the launch policy
 * (runtime/kernel.c decides whether to split a launch over threads).
 *
 * Invariants: reads the plan only (no graph memory: call with or without
 * the graph's lock); the estimate never changes a result, only where the
 * work runs. graph/ includes runtime/ only; names carry gr_.
 */
#ifndef KILN_GR_COST_H
#define KILN_GR_COST_H

#include "graph/plan.h"

/* The launch of kernel k of plan p with its current extents:
 *   cost      bytes moved (graph/dump.h, gr_kernel_bytes) plus, per
 *             element, each body op's weight (gr_op_weight);
 *   parallel  true for an elementwise body (each iteration writes its own
 *             output elements) and for a reduction or scan kernel of
 *             jit/reduce.c (its outer loop is a kept dim: each output's
 *             sequence lies in one iteration); false for a reduction the
 *             JIT does not lower;
 *   grain     GR_VECTOR_GRAIN for a rank-1 elementwise loop nest (its one
 *             loop is the vectorized one: splitting at multiples of every
 *             vector width x interleave keeps each element in the same
 *             vector or scalar code at any thread count, so approximate
 *             ops give the same bits); for a reduction or scan kernel the
 *             same where its outer loop is a dim of outputs reducing fewer
 *             than 8 elements each and for the column dim of a column
 *             reduction with a libm function in the body (its column
 *             chunks are then at most that wide: jit/reduce.c); the
 *             column dim of any other column reduction GR_OUTER_GRAIN
 *             (exactly rounded ops: the same bits in any code); else 1;
 *   wide      the column dim of a column reduction: one slice per thread
 *             (its column chunks are faster the wider they are);
 *   trees     the length of a reduction kernel's pairwise trees (float
 *             sum, prod, mean, var, std), whose top subtrees may run as
 *             tasks (runtime/reduce.h, rt_pw_tree_tasks), or 0;
 *   flat      the length of an INNER reduction kernel's FLAT sequences
 *             (integer sum/prod, min, max, argmin, argmax, all, any,
 *             count_nonzero), whose blocks may run as tasks
 *             (rt_flat_tasks), or 0. */
enum { GR_VECTOR_GRAIN = 1024, GR_OUTER_GRAIN = 64 };
rt_work gr_kernel_work(const gr_plan *p, const gr_kernel *k);

/* True if a body value of k is a libm function (GR_F_MATH): its vector
 * variant (libmvec) may round otherwise than the scalar one. */
bool gr_kernel_has_math(const gr_kernel *k);

/* The weight of one op per element, in bytes that stream in the same time
 * (measured on this project's machine, docs/ARCHITECTURE.md): loads,
 * stores, parameters 0 (counted as bytes), arithmetic and logic 2,
 * division and sqrt 16, vectorized libm calls 80, scalar calls (power,
 * floor_divide, remainder: runtime/scalar.c or libm's pow) 400. */
double gr_op_weight(int op);

#endif /* KILN_GR_COST_H */
