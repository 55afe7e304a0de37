/*
 * graph/build.h — private to DAG construction: graph/graph.c (storage,
 * hash-consing, scopes), graph/infer.c (dtype rules and broadcasting),
 * graph/fold.c (folding), graph/build.c (gr_op_make), graph/reduce.c
 * (reductions and scans), graph/view.c (views) and frontend/expr.c.
 * Everything else uses graph/graph.h.
 *
 * Construction of an elementwise node, in order (graph/build.c):
 *   sticky errors -> gr_infer (rule, promotion, broadcast) -> inputs
 *   converted to their compute dtype (weak scalars become strong SCALARs,
 *   strong inputs get CAST nodes) -> commutative inputs ordered by id ->
 *   gr_fold -> gr_intern.
 */
#ifndef KILN_GRAPH_BUILD_H
#define KILN_GRAPH_BUILD_H

#include "graph/graph.h"

/* What an op's dtype rule and broadcasting decide for one node. */
typedef struct gr_infer_result {
    kiln_dtype in_dtype[GR_MAX_INPUTS]; /* dtype input i is converted to */
    kiln_dtype out;                     /* dtype of the result */
    bool weak; /* every input is a weak scalar: the (constant) result is weak */
    int rank;
    int64_t shape[KILN_MAX_RANK];
} gr_infer_result;

/* graph/infer.c. Both return GR_NONE on success, else an ERROR node. */
/* Applies op's dtype rule to inputs in[0..nin) (live, non-ERROR) and
 * broadcasts their shapes. cast_to is the target of GR_OP_CAST. */
gr_id gr_infer(gr_graph *g, gr_op op, int nin, const gr_id *in, kiln_dtype cast_to,
               gr_infer_result *r);
/* NumPy's broadcast of the inputs' shapes; on a mismatch the error text
 * lists every input's shape, as NumPy does. */
gr_id gr_broadcast(gr_graph *g, int nin, const gr_id *in, int *rank, int64_t *shape);

/* graph/fold.c. n is a fully formed elementwise node (inputs converted and
 * ordered, not yet interned). Returns the node that replaces it — an
 * existing node or a new SCALAR (weak if `weak`) — or GR_NONE when no rule
 * applies. The replacement always has n's dtype and shape. */
gr_id gr_fold(gr_graph *g, const gr_node *n, bool weak);

/* graph/graph.c. Returns the live node structurally equal to n (same op,
 * dtype, flags, inputs and attribute) or appends n and returns its new id;
 * an INPUT node retains its array when it is appended. On OOM returns the
 * OOM node (0). n->gen and n->hash are ignored. */
gr_id gr_intern(gr_graph *g, const gr_node *n);

/* graph/build.c. Input id converted to dtype t: a weak scalar becomes a
 * strong SCALAR of t, a strong input of another dtype gets a CAST node
 * (made by gr_op_make, so casts of constants fold); id itself if it has
 * dtype t. */
gr_id gr_convert(gr_graph *g, gr_id id, kiln_dtype t);

/* graph/graph.c. A strong SCALAR of value v (normalized to t) and the
 * given shape: a scalar broadcast by a view (graph/view.c). */
gr_id gr_scalar_shaped(gr_graph *g, kiln_dtype t, rt_scalar v, int rank, const int64_t *shape);
/* graph/graph.c. The VIEW node reading in through m (canonical, checked by
 * the caller against in's shape), hash-consed on (in, m). */
gr_id gr_view_intern(gr_graph *g, gr_id in, const rt_vmap *m);
/* graph/graph.c. Appends registration u to the graph's table (the graph
 * owns it from then on); false on OOM, u untouched. */
bool gr_udf_add(gr_graph *g, rt_udf *u);
/* graph/build.c. Elementwise node n (an op or a UDF) rebuilt over new
 * inputs in[0..gr_nin(n)) (graph/view.c's push-down). */
gr_id gr_node_remake(gr_graph *g, const gr_node *n, const gr_id *in);
/* The graph's env (allocator and error sink). */
rt_env *gr_env(const gr_graph *g);

/* True if n is a weak (Python-literal) scalar. */
static inline bool gr_is_weak(const gr_node *n)
{
    return n->op == GR_OP_SCALAR && (n->nflags & GR_NF_WEAK);
}

#endif /* KILN_GRAPH_BUILD_H */
