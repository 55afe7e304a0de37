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

/* A float sum, prod, mean, var or std: NumPy's pairwise tree
 * (runtime/reduce.h), which rt_pw_tree_tasks may cut into tasks. */
static bool gr_tree_reduce(const gr_kval *v)
{
    bool flt = v->dtype == KILN_FLOAT64 || v->dtype == KILN_FLOAT32;
    switch (v->op) {
    case GR_OP_MEAN:
    case GR_OP_VAR:
    case GR_OP_STD: return true; /* float by construction */
    case GR_OP_SUM:
    case GR_OP_PROD: return flt;
    default: return false;
    }
}

/* A float cumsum or cumprod: fixed blocks (runtime/reduce.h), which
 * rt_scan_tasks may run as tasks. */
static bool gr_blocked_scan(const gr_kval *v)
{
    bool flt = v->dtype == KILN_FLOAT64 || v->dtype == KILN_FLOAT32;
    return flt && (v->op == GR_OP_CUMSUM || v->op == GR_OP_CUMPROD);
}

bool gr_kernel_has_math(const gr_kernel *k)
{
    for (int v = 0; v < k->nvals; v++) {
        int op = k->vals[v].op;
        if (op >= 0 && op < GR_OP_COUNT && (gr_ops[op].flags & GR_F_MATH))
            return true;
    }
    return false;
}

/* A reduction of the FLAT family (integer sum/prod, min, max, argmin,
 * argmax, all, any, count_nonzero): a long sequence runs in blocks,
 * which rt_flat_tasks may run as tasks (INNER kernels: jit/reduce.c). */
static bool gr_flat_reduce(const gr_kval *v) { return gr_is_reduce(v->op) && !gr_tree_reduce(v); }

/* The grain of a reduction or scan kernel's outer loop (a kept dim).
 * Splitting it never cuts a sequence; it only has to keep each output in
 * the same vector code as at one thread when that could change its bits.
 * That matters where the split dim is vectorized: the column dim of an
 * OUTER kernel (chunks of a power-of-two width vectorized across columns,
 * jit/reduce.c) with a libm function in the body, whose chunks are then at
 * most GR_VECTOR_GRAIN wide — a multiple of that keeps every chunk's start
 * — while every other op gives the same bits in vector and scalar code, so
 * an exact body splits at any multiple of GR_OUTER_GRAIN; and a kept dim
 * whose sequences are shorter than 8 (computed inline, so the kept loop
 * may be the vectorized one). Elsewhere the kept loop calls a leaf or
 * loops over the sequence per iteration: any split point is fine. */
static int64_t gr_kept_grain(const gr_kernel *k)
{
    int nkeep = k->rank - k->nred;
    int64_t n = 1;
    for (int d = nkeep; d < k->rank; d++)
        n *= k->extent[d];
    if (k->outer && nkeep == 1)
        return gr_kernel_has_math(k) ? GR_VECTOR_GRAIN : GR_OUTER_GRAIN;
    if (nkeep == 1 && n < 8)
        return GR_VECTOR_GRAIN;
    return 1;
}

rt_work gr_kernel_work(const gr_plan *p, const gr_kernel *k)
{
    bool staged = k->kind == GR_KK_REDUCE || k->kind == GR_KK_SCAN;
    rt_work w = {0, k->rank == 1 ? GR_VECTOR_GRAIN : 1, true, 0, 0, false};
    double per_elem = 0, elems = 1;
    bool trees = false, flat = false;
    for (int v = 0; v < k->nvals; v++) {
        int op = k->vals[v].op;
        if (!staged && (gr_is_reduce(op) || gr_is_scan(op)))
            w.parallel = false; /* not a kernel of jit/reduce.c */
        trees |= k->kind == GR_KK_REDUCE && gr_is_reduce(op) && gr_tree_reduce(&k->vals[v]);
        trees |= k->kind == GR_KK_SCAN && !k->outer && gr_blocked_scan(&k->vals[v]);
        flat |= k->kind == GR_KK_REDUCE && !k->outer && gr_flat_reduce(&k->vals[v]);
        per_elem += gr_op_weight(op);
    }
    if (staged) {
        w.grain = gr_kept_grain(k);
        w.wide = k->outer && k->rank - k->nred == 1; /* the column dim: wide slices */
    }
    int64_t seq = 1; /* the reduced (scanned) sequence's length */
    for (int d = k->rank - k->nred; d < k->rank; d++)
        seq *= k->extent[d];
    w.trees = trees ? seq : 0;
    w.flat = flat ? seq : 0;
    for (int d = 0; d < k->rank; d++)
        elems *= (double)k->extent[d];
    w.cost = (double)gr_kernel_bytes(p, k) + per_elem * elems;
    return w;
}
