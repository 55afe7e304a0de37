/*
 * graph/reduce.c — construction of reduction and scan nodes (the REDUCE
 * and SCAN rows of graph/ops.def): axes, shape and dtype rules, the
 * conversion of the input to the op's compute dtype, errors, hash-consing.
 * What the nodes compute, and in which order, is runtime/reduce.h's.
 *
 * Rules (NumPy's on this platform, where a C long is 64 bits), for an input
 * of dtype T and shape S:
 *   dtype    ACC (sum, prod, cumsum, cumprod): bool and int8..int32 ->
 *            int64, uint8..uint32 -> uint64, int64, uint64 and floats keep
 *            T. DIV (mean, var, std): bool and integers -> float64, floats
 *            keep T. INDEX (argmin, argmax, count_nonzero): int64. TRUTH
 *            (all, any): bool. No flag (min, max, cummin, cummax): T.
 *   input    converted to the result dtype for ACC and DIV ops (a weak
 *            scalar becomes a strong SCALAR, a strong input gets a CAST
 *            node), as is otherwise — the invariant of graph/graph.h.
 *   axes     naxes == 0: every axis. Each axis in [-rank, rank) (negative
 *            counts from the end); out of range is KILN_EAXIS "axis 2 is
 *            out of bounds for array of dimension 2", a repeat KILN_EAXIS
 *            "duplicate value in 'axis'" (NumPy's texts, prefixed with the
 *            op's name). Stored as a bitmask over the input's dims.
 *   shape    a reduction: S without the reduced dims (keepdims: extent 1
 *            there); a scan along an axis: S; a flattened scan: (size,).
 *   empty    min, max, argmin, argmax over zero elements (a reduced extent
 *            is 0) are KILN_EINVAL at construction, with NumPy's messages
 *            ("zero-size array to reduction operation minimum which has no
 *            identity", "attempt to get argmin of an empty sequence"), even
 *            when the result itself has no elements, as NumPy. Shapes are
 *            static in kiln, so this is never found later. The others have
 *            identities: sum 0, prod 1, all true, any false, count 0, and
 *            mean/var/std of nothing are NaN.
 *   argmin/argmax give the index into the sequence of reduced elements
 *            (runtime/reduce.h): along one axis the index on that axis,
 *            over every axis the index into the input flattened in C order.
 * Canonical attributes, so that equal results are one node (the CSE key
 * includes a.red): keepdims is false when no dim is reduced, ddof is 0
 * except for var and std, and a flattened scan of a rank-1 input is the
 * scan along axis 0. No folding: a reduction of a constant is computed at
 * evaluation like any other.
 */
#include "graph/build.h"

#include <string.h>

kiln_dtype gr_reduce_dtype(gr_op op, kiln_dtype t)
{
    unsigned f = gr_ops[op].flags;
    if (f & GR_F_INDEX)
        return KILN_INT64;
    if (f & GR_F_TRUTH)
        return KILN_BOOL;
    if (f & GR_F_DIV)
        return rt_is_float(t) ? t : KILN_FLOAT64;
    if (f & GR_F_ACC) {
        switch ((rt_kind)rt_dtypes[t].kind) {
        case RT_KIND_BOOL:
        case RT_KIND_INT: return KILN_INT64;
        case RT_KIND_UINT: return KILN_UINT64;
        case RT_KIND_FLOAT: return t;
        }
    }
    return t;
}

/* The dtype the input is converted to (see "input" above). */
static kiln_dtype gr_compute_dtype(gr_op op, kiln_dtype t)
{
    return (gr_ops[op].flags & (GR_F_ACC | GR_F_DIV)) ? gr_reduce_dtype(op, t) : t;
}

/* What both constructors check first: the op's rule, a live input, sticky
 * errors. GR_NONE if in may be used. */
static gr_id gr_red_check(gr_graph *g, gr_op op, gr_rule rule, gr_id in)
{
    if ((int)op < 0 || (int)op >= (int)GR_OP_COUNT || gr_ops[op].rule != rule)
        return gr_error(g, KILN_EINVAL, "op %d is not a %s", (int)op,
                        rule == GR_RULE_REDUCE ? "reduction" : "scan");
    if (in >= gr_count(g))
        return gr_error(g, KILN_EINVAL, "%s: the argument is not a live node", gr_ops[op].name);
    if (gr_node_at(g, in)->op == GR_OP_ERROR)
        return in;
    return GR_NONE;
}

/* axes[0..naxes) as a bitmask over rank dims (see "axes" above). */
static gr_id gr_axes_mask(gr_graph *g, const char *name, int rank, int naxes, const int *axes,
                          unsigned *mask)
{
    *mask = 0;
    if (naxes < 0)
        return gr_error(g, KILN_EINVAL, "%s: negative number of axes (%d)", name, naxes);
    if (naxes == 0) {
        *mask = (1u << rank) - 1u;
        return GR_NONE;
    }
    if (!axes)
        return gr_error(g, KILN_ENULL, "%s: %d axes but a NULL axes array", name, naxes);
    for (int i = 0; i < naxes; i++) {
        int a = axes[i];
        if (a < -rank || a >= rank)
            return gr_error(g, KILN_EAXIS, "%s: axis %d is out of bounds for array of dimension %d",
                            name, a, rank);
        int k = a < 0 ? a + rank : a;
        if (*mask & (1u << k))
            return gr_error(g, KILN_EAXIS,
                            "%s: duplicate value in 'axis' (axis %d appears twice; array of "
                            "dimension %d)",
                            name, k, rank);
        *mask |= 1u << k;
    }
    return GR_NONE;
}

/* The node for op over the converted input: shape, dtype, attributes set;
 * then hash-consed. */
static gr_id gr_red_intern(gr_graph *g, gr_op op, gr_id in, kiln_dtype in_t, int rank,
                           const int64_t *shape, unsigned axes, bool keepdims, int axis,
                           int ddof)
{
    gr_id c = gr_convert(g, in, gr_compute_dtype(op, in_t));
    if (gr_node_at(g, c)->op == GR_OP_ERROR)
        return c;
    gr_node n;
    memset(&n, 0, sizeof n);
    n.op = (uint16_t)op;
    n.dtype = (uint8_t)gr_reduce_dtype(op, in_t);
    n.rank = (uint8_t)rank;
    memcpy(n.shape, shape, (size_t)rank * sizeof *shape);
    gr_no_inputs(&n);
    n.in[0] = c;
    n.a.red.axes = (uint8_t)axes;
    n.a.red.keepdims = keepdims && axes != 0;
    n.a.red.axis = (int8_t)axis;
    n.a.red.ddof = op == GR_OP_VAR || op == GR_OP_STD ? (int32_t)ddof : 0;
    return gr_intern(g, &n);
}

gr_id gr_reduce_make(gr_graph *g, gr_op op, gr_id in, int naxes, const int *axes,
                     bool keepdims, int ddof)
{
    gr_id r = gr_red_check(g, op, GR_RULE_REDUCE, in);
    if (r != GR_NONE)
        return r;
    const char *name = gr_ops[op].name;
    const gr_node *x = gr_node_at(g, in); /* copied out: making nodes moves them */
    int rank = x->rank;
    kiln_dtype t = (kiln_dtype)x->dtype;
    int64_t shape[KILN_MAX_RANK];
    memcpy(shape, x->shape, sizeof shape);

    unsigned mask;
    if ((r = gr_axes_mask(g, name, rank, naxes, axes, &mask)) != GR_NONE)
        return r;
    int orank = 0;
    int64_t oshape[KILN_MAX_RANK];
    bool empty = false;
    for (int k = 0; k < rank; k++) {
        if (mask & (1u << k)) {
            empty |= shape[k] == 0;
            if (keepdims)
                oshape[orank++] = 1;
        } else {
            oshape[orank++] = shape[k];
        }
    }
    if (empty && (op == GR_OP_MIN || op == GR_OP_MAX))
        return gr_error(g, KILN_EINVAL,
                        "%s: zero-size array to reduction operation %s which has no identity",
                        name, op == GR_OP_MIN ? "minimum" : "maximum");
    if (empty && (op == GR_OP_ARGMIN || op == GR_OP_ARGMAX))
        return gr_error(g, KILN_EINVAL, "%s: attempt to get %s of an empty sequence", name, name);
    return gr_red_intern(g, op, in, t, orank, oshape, mask, keepdims, 0, ddof);
}

gr_id gr_scan_make(gr_graph *g, gr_op op, gr_id in, int axis)
{
    gr_id r = gr_red_check(g, op, GR_RULE_SCAN, in);
    if (r != GR_NONE)
        return r;
    const char *name = gr_ops[op].name;
    const gr_node *x = gr_node_at(g, in);
    int rank = x->rank;
    kiln_dtype t = (kiln_dtype)x->dtype;
    int64_t shape[KILN_MAX_RANK];
    memcpy(shape, x->shape, sizeof shape);

    int ax;
    if (axis == KILN_AXIS_NONE) {
        ax = rank == 1 ? 0 : -1;
    } else if (axis < -rank || axis >= rank) {
        return gr_error(g, KILN_EAXIS, "%s: axis %d is out of bounds for array of dimension %d",
                        name, axis, rank);
    } else {
        ax = axis < 0 ? axis + rank : axis;
    }
    if (ax >= 0)
        return gr_red_intern(g, op, in, t, rank, shape, 0, false, ax, 0);
    int64_t size = 1;
    bool empty = false;
    for (int k = 0; k < rank; k++)
        empty |= shape[k] == 0;
    for (int k = 0; k < rank && !empty; k++)
        if (!rt_mul_ok(size, shape[k], &size))
            return gr_error(g, KILN_EOVERFLOW, "%s: the flattened input has too many elements",
                            name);
    int64_t flat[1] = {empty ? 0 : size};
    return gr_red_intern(g, op, in, t, 1, flat, 0, false, -1, 0);
}
