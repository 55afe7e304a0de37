/*
 * graph/cost.c — launch cost estimates (see cost.h).
 *
 * The weights are ratios measured once (Release, a znver5 VM, f64, one
 * thread, 64 K elements = L2-resident): a JIT kernel's time per element
 * divided by memcpy's time per byte on the same working set. x*2+1 ~24
 * (its 16 bytes move at ~1.5x memcpy's time: bytes count once, 2 ops ~2
 * bytes each); x/y and sqrt(x) +10..+26; sin 64, exp 80, log 98, tanh 158
 * over a copy; power 410, integer floor_divide 460. The model only has to
 * rank work near the threshold within a factor of ~2: a wrong call there
 * costs at most about one thread wake-up.
 */
#include "graph/cost.h"
#include "graph/dump.h"

double gr_op_weight(int op)
{
    switch (op) {
    case GR_OP_INPUT:
    case GR_OP_SCALAR:
        return 0;
    case GR_OP_POWER:
    case GR_OP_FLOOR_DIVIDE:
    case GR_OP_REMAINDER:
    case GR_OP_UDF: /* a scalar call of unknown cost: as the scalar runtime calls */
        return 400;
    case GR_OP_DIVIDE:
    case GR_OP_SQRT:
        return 16;
    default:
        if (op >= 0 && op < GR_OP_COUNT && (gr_ops[op].flags & GR_F_MATH))
            return 80;
        return 2;
    }
}

rt_work gr_kernel_work(const gr_plan *p, const gr_kernel *k)
{
    rt_work w = {0, k->rank == 1 ? GR_VECTOR_GRAIN : 1, true};
    double per_elem = 0, elems = 1;
    for (int v = 0; v < k->nvals; v++) {
        int op = k->vals[v].op;
        if (gr_is_reduce(op) || gr_is_scan(op))
            w.parallel = false;
        per_elem += gr_op_weight(op);
    }
    for (int d = 0; d < k->rank; d++)
        elems *= (double)k->extent[d];
    w.cost = (double)gr_kernel_bytes(p, k) + per_elem * elems;
    return w;
}
