/*
 * frontend/expr_view.c — views of expressions: kiln_expr_slice, _index,
 * _transpose, _expand_dims, _broadcast_to. Each takes ctx->lock, resolves
 * its handle and calls graph/view.c, which checks the view as the array API
 * does (runtime/view.c) and pushes it down to the leaves.
 *
 * Handles are resolved as every constructor's (frontend/expr.c): a
 * NULL-context handle has no context to report to and gives the NULL
 * handle; a stale handle is KILN_ESTALE; an ERROR node is returned as is.
 * Shape rules, NumPy's (graph/view.c has them per constructor):
 *   slice        sliced axes get the slices' lengths; the others are kept
 *   index        the axis is removed
 *   transpose    axis i is e's axis perm[i] (NULL: reversed)
 *   expand_dims  an axis of extent 1 is inserted at position axis
 *   broadcast_to e's shape broadcast to shape
 * and the dtype is always e's.
 */
#include "frontend/fe.h"

typedef enum fe_vkind { FE_V_SLICE, FE_V_INDEX, FE_V_TRANSPOSE, FE_V_EXPAND, FE_V_BROADCAST } fe_vkind;

/* One view's arguments (the fields its kind uses). */
typedef struct fe_vargs {
    fe_vkind kind;
    int n;                /* slice: count; broadcast: rank */
    const kiln_slice *s;  /* slice */
    int axis;             /* index, expand_dims */
    int64_t index;        /* index */
    const int *perm;      /* transpose */
    const int64_t *shape; /* broadcast */
} fe_vargs;

static const char *const fe_vname[] = {"slice", "index", "transpose", "expand_dims",
                                       "broadcast_to"};

static kiln_expr fe_view_expr(kiln_expr e, const fe_vargs *a)
{
    kiln_ctx *ctx = e.ctx_;
    if (!ctx)
        return (kiln_expr){NULL, 0, 0};
    pthread_mutex_lock(&ctx->lock);
    gr_graph *g = ctx->graph;
    gr_id r = fe_node_of(ctx, e);
    if (r == GR_NONE) {
        r = gr_error(g, KILN_ESTALE, "%s: argument 1 is stale (the scope that made it has ended)",
                     fe_vname[a->kind]);
    } else if (gr_node_at(g, r)->op != GR_OP_ERROR) {
        switch (a->kind) {
        case FE_V_SLICE: r = gr_view_slice(g, r, a->n, a->s); break;
        case FE_V_INDEX: r = gr_view_index(g, r, a->axis, a->index); break;
        case FE_V_TRANSPOSE: r = gr_view_transpose(g, r, a->perm); break;
        case FE_V_EXPAND: r = gr_view_expand_dims(g, r, a->axis); break;
        case FE_V_BROADCAST: r = gr_view_broadcast_to(g, r, a->n, a->shape); break;
        }
    }
    kiln_expr h = fe_handle(ctx, r);
    pthread_mutex_unlock(&ctx->lock);
    return h;
}

kiln_expr kiln_expr_slice(kiln_expr e, int nslices, const kiln_slice *s)
{
    fe_vargs a = {.kind = FE_V_SLICE, .n = nslices, .s = s};
    return fe_view_expr(e, &a);
}

kiln_expr kiln_expr_index(kiln_expr e, int axis, int64_t index)
{
    fe_vargs a = {.kind = FE_V_INDEX, .axis = axis, .index = index};
    return fe_view_expr(e, &a);
}

kiln_expr kiln_expr_transpose(kiln_expr e, const int *perm)
{
    fe_vargs a = {.kind = FE_V_TRANSPOSE, .perm = perm};
    return fe_view_expr(e, &a);
}

kiln_expr kiln_expr_expand_dims(kiln_expr e, int axis)
{
    fe_vargs a = {.kind = FE_V_EXPAND, .axis = axis};
    return fe_view_expr(e, &a);
}

kiln_expr kiln_expr_broadcast_to(kiln_expr e, int rank, const int64_t *shape)
{
    fe_vargs a = {.kind = FE_V_BROADCAST, .n = rank, .shape = shape};
    return fe_view_expr(e, &a);
}
