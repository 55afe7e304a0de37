/*
 * frontend/eval.c — kiln_eval and friends: the public entry to evaluation.
 *
 *   1. resolve handles to nodes (stale / foreign / error nodes reported);
 *   2. check or allocate the outputs (shape and dtype must match exactly;
 *      an output whose elements overlap each other is refused);
 *   3. run: the reference interpreter (KILN_MODE_INTERP, or when no JIT is
 *      attached) or the JIT pipeline (fe_run_jit, frontend/run.c);
 *   4. on failure, release the outputs this call created.
 *
 * Invariant: on return, every outs[i] is either what the caller passed, a
 * new array owned by the caller (success), or NULL (failure, if it was NULL
 * on entry).
 */
#include "frontend/fe.h"

#include <string.h>

enum { FE_STACK_ROOTS = 8 };

/* 1 if two distinct in-bounds indices of a address the same byte range:
 * a zero (or, conservatively, a repeating) stride on an axis of extent > 1. */
static bool fe_self_overlapping(const kiln_array *a)
{
    if (a->size <= 1)
        return false;
    for (int k = 0; k < a->rank; k++)
        if (a->shape[k] > 1 && a->strides[k] == 0)
            return true;
    return false;
}

static kiln_status fe_check_out(kiln_ctx *ctx, size_t i, const gr_node *node, const kiln_array *out)
{
    kiln_status s = fe_check_array(ctx, out, "output");
    if (s != KILN_OK)
        return s;
    char want[160], got[160];
    if (out->dtype != node->dtype)
        return rt_err(ctx->env, KILN_EDTYPE,
                      "output %zu has dtype %s but the expression's dtype is %s", i,
                      kiln_dtype_name(out->dtype), kiln_dtype_name((kiln_dtype)node->dtype));
    bool same = out->rank == node->rank;
    for (int k = 0; same && k < node->rank; k++)
        same = out->shape[k] == node->shape[k];
    if (!same)
        return rt_err(ctx->env, KILN_ESHAPE,
                      "output %zu has shape %s but the expression's shape is %s", i,
                      rt_fmt_shape(got, sizeof got, out->rank, out->shape),
                      rt_fmt_shape(want, sizeof want, node->rank, node->shape));
    if (fe_self_overlapping(out))
        return rt_err(ctx->env, KILN_EINVAL,
                      "output %zu has a zero stride: several elements share one address "
                      "(a broadcast view cannot be written)", i);
    return KILN_OK;
}

static kiln_status fe_eval_locked(kiln_ctx *ctx, kiln_mode mode, size_t n, const kiln_expr *exprs,
                                  kiln_array **outs, gr_id *roots, bool *created)
{
    kiln_status s;
    for (size_t i = 0; i < n; i++) {
        gr_id id = fe_node_of(ctx, exprs[i]);
        if (id == GR_NONE)
            return kiln_errcode(ctx);
        const gr_node *node = gr_node_at(ctx->graph, id);
        if (node->op == GR_OP_ERROR)
            return rt_err(ctx->env, node->a.err.status, "%s", gr_error_msg(ctx->graph, id));
        roots[i] = id;
    }
    for (size_t i = 0; i < n; i++) {
        const gr_node *node = gr_node_at(ctx->graph, roots[i]);
        if (outs[i]) {
            if ((s = fe_check_out(ctx, i, node, outs[i])) != KILN_OK)
                return s;
            continue;
        }
        s = rt_array_alloc(ctx->env, (kiln_dtype)node->dtype, node->rank, node->shape,
                           KILN_ORDER_C, false, &outs[i]);
        if (s != KILN_OK)
            return s;
        created[i] = true;
    }
    if (mode == KILN_MODE_INTERP)
        return gr_interp(ctx->graph, ctx->env, 0, NULL, n, roots, outs);
    return fe_run_jit(ctx, mode, n, roots, outs);
}

kiln_status kiln_eval_many(kiln_ctx *ctx, kiln_mode mode, size_t n, const kiln_expr *exprs,
                           kiln_array **outs)
{
    if (!ctx)
        return KILN_ENULL;
    if (n == 0)
        return KILN_OK;
    if (!exprs || !outs)
        return rt_err(ctx->env, KILN_ENULL, "kiln_eval_many: %s is NULL",
                      !exprs ? "exprs" : "outs");
    if (mode < KILN_MODE_DEFAULT || mode > KILN_MODE_INTERP)
        return rt_err(ctx->env, KILN_EINVAL, "unknown evaluation mode %d", (int)mode);
    if (mode == KILN_MODE_DEFAULT)
        mode = ctx->mode;

    gr_id stack_roots[FE_STACK_ROOTS];
    bool stack_created[FE_STACK_ROOTS];
    gr_id *roots = stack_roots;
    bool *created = stack_created;
    if (n > FE_STACK_ROOTS) {
        if (n > SIZE_MAX / (sizeof *roots + sizeof *created))
            return rt_err(ctx->env, KILN_EOVERFLOW, "too many expressions (%zu)", n);
        roots = rt_malloc(ctx->env, n * sizeof *roots);
        created = rt_malloc(ctx->env, n * sizeof *created);
        if (!roots || !created) {
            rt_free(ctx->env, roots, roots ? n * sizeof *roots : 0);
            rt_free(ctx->env, created, created ? n * sizeof *created : 0);
            return rt_err(ctx->env, KILN_ENOMEM, "out of memory evaluating %zu expressions", n);
        }
    }
    memset(created, 0, n * sizeof *created);

    pthread_mutex_lock(&ctx->lock);
    kiln_status s = fe_eval_locked(ctx, mode, n, exprs, outs, roots, created);
    pthread_mutex_unlock(&ctx->lock);

    if (s != KILN_OK) {
        for (size_t i = 0; i < n; i++) {
            if (created[i]) {
                kiln_array_release(outs[i]);
                outs[i] = NULL;
            }
        }
    }
    if (roots != stack_roots) {
        rt_free(ctx->env, roots, n * sizeof *roots);
        rt_free(ctx->env, created, n * sizeof *created);
    }
    return s;
}

kiln_status kiln_eval(kiln_expr e, kiln_array **out)
{
    if (!out)
        return e.ctx_ ? rt_err(e.ctx_->env, KILN_ENULL, "kiln_eval: out is NULL") : KILN_ENULL;
    *out = NULL;
    if (!e.ctx_)
        return KILN_ENULL;
    return kiln_eval_many(e.ctx_, KILN_MODE_DEFAULT, 1, &e, out);
}

kiln_status kiln_eval_into(kiln_expr e, kiln_array *out)
{
    if (!e.ctx_)
        return KILN_ENULL;
    if (!out)
        return rt_err(e.ctx_->env, KILN_ENULL, "kiln_eval_into: output array is NULL");
    kiln_array *slot = out;
    return kiln_eval_many(e.ctx_, KILN_MODE_DEFAULT, 1, &e, &slot);
}
