/*
 * graph/build.c — gr_op_make: construction of an elementwise node.
 *
 *   1. sticky errors: the first ERROR input is the result;
 *   2. gr_infer: the op's dtype rule (promotion, NEP 50 weak scalars) and
 *      broadcasting decide each input's compute dtype, the result dtype and
 *      shape;
 *   3. conversion: a weak scalar input becomes a strong SCALAR of its
 *      compute dtype (no cast node); a strong input of another dtype gets an
 *      explicit CAST node (itself made by gr_op_make, so casts of constants
 *      fold). Afterwards every input has its compute dtype (the invariant of
 *      graph/ops.def);
 *   4. a commutative op orders its two inputs by id, so a+b and b+a are one
 *      node;
 *   5. gr_fold (graph/fold.c), then gr_intern (hash-consing).
 * Nodes made in step 3 that folding makes unnecessary stay until their
 * scope ends.
 */
#include "graph/build.h"

#include <string.h>

/* Input id converted to dtype t (see step 3). */
gr_id gr_convert(gr_graph *g, gr_id id, kiln_dtype t)
{
    const gr_node *n = gr_node_at(g, id);
    if (gr_is_weak(n)) {
        kiln_dtype from = (kiln_dtype)n->dtype;
        rt_scalar v = n->a.scalar;
        return gr_scalar(g, t, from == t ? v : rt_convert(from, t, v), false);
    }
    if (n->dtype == t)
        return id;
    return gr_op_make(g, GR_OP_CAST, 1, &id, t);
}

gr_id gr_op_make(gr_graph *g, gr_op op, int nin, const gr_id *in, kiln_dtype dtype)
{
    if ((int)op <= (int)GR_OP_ERROR || (int)op >= (int)GR_OP_COUNT)
        return gr_error(g, KILN_EINVAL, "op %d is not an elementwise op", (int)op);
    const gr_op_info *info = &gr_ops[op];
    if (info->rule == GR_RULE_UDF)
        return gr_error(g, KILN_EINVAL, "udf: user-defined functions are made by gr_udf_make");
    if (info->rule == GR_RULE_REDUCE || info->rule == GR_RULE_SCAN || info->rule == GR_RULE_VIEW)
        return gr_error(g, KILN_EINVAL, "%s is a %s, not an elementwise op", info->name,
                        info->rule == GR_RULE_REDUCE ? "reduction"
                        : info->rule == GR_RULE_SCAN ? "scan"
                                                     : "view");
    if (nin != info->arity)
        return gr_error(g, KILN_EINVAL, "%s expects %d argument%s, got %d", info->name,
                        info->arity, info->arity == 1 ? "" : "s", nin);
    for (int i = 0; i < nin; i++) {
        if (in[i] >= gr_count(g))
            return gr_error(g, KILN_EINVAL, "%s: argument %d is not a live node", info->name,
                            i + 1);
        if (gr_node_at(g, in[i])->op == GR_OP_ERROR)
            return in[i];
    }

    gr_infer_result r;
    gr_id err = gr_infer(g, op, nin, in, dtype, &r);
    if (err != GR_NONE)
        return err;

    gr_node n;
    memset(&n, 0, sizeof n);
    n.op = (uint16_t)op;
    n.dtype = (uint8_t)r.out;
    n.rank = (uint8_t)r.rank;
    memcpy(n.shape, r.shape, sizeof n.shape);
    gr_no_inputs(&n);
    for (int i = 0; i < nin; i++) {
        gr_id c = gr_convert(g, in[i], r.in_dtype[i]);
        if (gr_node_at(g, c)->op == GR_OP_ERROR)
            return c;
        n.in[i] = c;
    }
    if ((info->flags & GR_F_COMM) && n.in[0] > n.in[1]) {
        gr_id t = n.in[0];
        n.in[0] = n.in[1];
        n.in[1] = t;
    }

    gr_id folded = gr_fold(g, &n, r.weak);
    if (folded != GR_NONE)
        return folded;
    return gr_intern(g, &n);
}

gr_id gr_node_remake(gr_graph *g, const gr_node *n, const gr_id *in)
{
    if (gr_is_udf(n->op))
        return gr_udf_make(g, n->a.udf.fn, gr_nin(n), in);
    return gr_op_make(g, (gr_op)n->op, gr_nin(n), in, (kiln_dtype)n->dtype);
}
