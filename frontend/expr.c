/*
 * frontend/expr.c — the public expression API: leaves, every elementwise
 * constructor, reductions and scans, kiln_op by name, inspection and
 * scopes.
 *
 * Each entry point takes ctx->lock, resolves its handles, calls graph/ and
 * returns a handle. The named constructors are generated from two lists
 * below; static asserts tie them to graph/ops.def (each arity matches, and
 * together with where and cast they cover every elementwise op exactly
 * once; the reduction and scan lists cover every REDUCE and SCAN row), so
 * adding an op without its constructor does not compile.
 *
 * Handles are resolved in argument order; the first that fails decides the
 * result: a NULL-context handle is KILN_ENULL, another context's handle is
 * KILN_EFOREIGN (never dereferenced), a handle whose scope ended is
 * KILN_ESTALE, and an ERROR node is returned as is (sticky). A constructor
 * whose every handle has a NULL context has no context to report to and
 * returns the NULL handle, whose kiln_expr_status is KILN_ENULL.
 */
#include "frontend/fe.h"
#include "graph/build.h"

#include <string.h>

/* ---- the named constructors, tied to ops.def ---------------------------- */

#define FE_BINARY_OPS(X)                                                                  \
    X(add, ADD) X(subtract, SUBTRACT) X(multiply, MULTIPLY) X(divide, DIVIDE)             \
    X(floor_divide, FLOOR_DIVIDE) X(remainder, REMAINDER) X(power, POWER)                 \
    X(arctan2, ARCTAN2) X(minimum, MINIMUM) X(maximum, MAXIMUM) X(fmin, FMIN)             \
    X(fmax, FMAX) X(equal, EQUAL) X(not_equal, NOT_EQUAL) X(less, LESS)                    \
    X(less_equal, LESS_EQUAL) X(greater, GREATER) X(greater_equal, GREATER_EQUAL)          \
    X(logical_and, LOGICAL_AND) X(logical_or, LOGICAL_OR) X(logical_xor, LOGICAL_XOR)      \
    X(bitwise_and, BITWISE_AND) X(bitwise_or, BITWISE_OR) X(bitwise_xor, BITWISE_XOR)      \
    X(left_shift, LEFT_SHIFT) X(right_shift, RIGHT_SHIFT)

#define FE_UNARY_OPS(X)                                                                   \
    X(negative, NEGATIVE) X(absolute, ABSOLUTE) X(sign, SIGN) X(sqrt, SQRT)                \
    X(square, SQUARE) X(exp, EXP) X(expm1, EXPM1) X(log, LOG) X(log1p, LOG1P)             \
    X(log2, LOG2) X(log10, LOG10) X(sin, SIN) X(cos, COS) X(tan, TAN) X(arcsin, ARCSIN)   \
    X(arccos, ARCCOS) X(arctan, ARCTAN) X(sinh, SINH) X(cosh, COSH) X(tanh, TANH)         \
    X(floor, FLOOR) X(ceil, CEIL) X(trunc, TRUNC) X(rint, RINT)                            \
    X(logical_not, LOGICAL_NOT) X(bitwise_not, BITWISE_NOT) X(isnan, ISNAN)                \
    X(isinf, ISINF) X(isfinite, ISFINITE)

enum {
#define OP(e, name, arity, rule, flags, u64, u32) FE_ARITY_##e = arity,
#include "graph/ops.def"
#undef OP
};
/* Reductions kiln_<fn>(x, naxes, axes, keepdims); var and std (which add
 * ddof) and argmin/argmax (one axis) are written out below. */
#define FE_REDUCE_OPS(X)                                                                  \
    X(sum, SUM) X(prod, PROD) X(min, MIN) X(max, MAX) X(mean, MEAN) X(all, ALL)           \
    X(any, ANY) X(count_nonzero, COUNT_NONZERO)
/* Scans kiln_<fn>(x, axis). */
#define FE_SCAN_OPS(X) X(cumsum, CUMSUM) X(cumprod, CUMPROD) X(cummin, CUMMIN) X(cummax, CUMMAX)

#define FE_IS_REDSCAN_(rule) (GR_RULE_##rule == GR_RULE_REDUCE || GR_RULE_##rule == GR_RULE_SCAN)
enum {
    FE_N_ELEMWISE = 0
#define OP(e, name, arity, rule, flags, u64, u32)                                          \
    +((arity) > 0 && !FE_IS_REDSCAN_(rule) && GR_RULE_##rule != GR_RULE_VIEW &&                \
      GR_RULE_##rule != GR_RULE_UDF) /* UDFs: kiln_udf (frontend/udf.c) */
#include "graph/ops.def"
#undef OP
};
enum {
    FE_N_REDSCAN = 0
#define OP(e, name, arity, rule, flags, u64, u32) +FE_IS_REDSCAN_(rule)
#include "graph/ops.def"
#undef OP
};
enum {
#define OP(e, name, arity, rule, flags, u64, u32) FE_RULE_##e = (int)GR_RULE_##rule,
#include "graph/ops.def"
#undef OP
};
#undef FE_IS_REDSCAN_
#define FE_COUNT_(fn, e) +1
enum { FE_N_NAMED = 0 FE_BINARY_OPS(FE_COUNT_) FE_UNARY_OPS(FE_COUNT_) + 2 /* where, cast */ };
enum {
    FE_N_RED_NAMED = 0 FE_REDUCE_OPS(FE_COUNT_) FE_SCAN_OPS(FE_COUNT_) + 4 /* var, std, argmin,
                                                                             argmax */
};
#undef FE_COUNT_
_Static_assert((int)FE_N_NAMED == (int)FE_N_ELEMWISE,
               "every elementwise op of ops.def has exactly one public constructor");
_Static_assert((int)FE_N_RED_NAMED == (int)FE_N_REDSCAN,
               "every reduction and scan of ops.def has exactly one public constructor");
_Static_assert((int)FE_RULE_VAR == (int)GR_RULE_REDUCE &&
                   (int)FE_RULE_STD == (int)GR_RULE_REDUCE &&
                   (int)FE_RULE_ARGMIN == (int)GR_RULE_REDUCE &&
                   (int)FE_RULE_ARGMAX == (int)GR_RULE_REDUCE,
               "kiln_var, kiln_std, kiln_argmin, kiln_argmax");
_Static_assert(FE_ARITY_WHERE == 3 && FE_ARITY_CAST == 1, "kiln_where, kiln_cast");

/* ---- resolving handles ----------------------------------------------------- */

static kiln_ctx *fe_ctx_of(int n, const kiln_expr *args)
{
    for (int i = 0; i < n; i++)
        if (args[i].ctx_)
            return args[i].ctx_;
    return NULL;
}

/* Resolves args into ids. Returns GR_NONE, or the node the constructor
 * must return (a sticky ERROR input or a new ERROR). Under ctx->lock. */
gr_id fe_resolve(kiln_ctx *ctx, const char *what, int n, const kiln_expr *args,
                        gr_id *ids)
{
    gr_graph *g = ctx->graph;
    for (int i = 0; i < n; i++) {
        kiln_expr e = args[i];
        if (!e.ctx_)
            return gr_error(g, KILN_ENULL, "%s: argument %d is a NULL expression handle", what,
                            i + 1);
        if (e.ctx_ != ctx)
            return gr_error(g, KILN_EFOREIGN, "%s: argument %d belongs to another context", what,
                            i + 1);
        gr_id id = fe_node_of(ctx, e);
        if (id == GR_NONE)
            return gr_error(g, KILN_ESTALE,
                            "%s: argument %d is stale (the scope that made it has ended)", what,
                            i + 1);
        if (gr_node_at(g, id)->op == GR_OP_ERROR)
            return id;
        ids[i] = id;
    }
    return GR_NONE;
}

/* Builds op over args (dtype: cast's target). */
static kiln_expr fe_build(gr_op op, int n, const kiln_expr *args, kiln_dtype dtype)
{
    kiln_ctx *ctx = fe_ctx_of(n, args);
    if (!ctx)
        return (kiln_expr){NULL, 0, 0};
    pthread_mutex_lock(&ctx->lock);
    gr_id ids[GR_MAX_INPUTS];
    gr_id r = fe_resolve(ctx, gr_ops[op].name, n, args, ids);
    if (r == GR_NONE)
        r = gr_op_make(ctx->graph, op, n, ids, dtype);
    kiln_expr h = fe_handle(ctx, r);
    pthread_mutex_unlock(&ctx->lock);
    return h;
}

/* Elementwise ops: the dtype rule of the op's row in ops.def (SAME, FLOAT,
 * CMP, ...), inputs broadcast by NumPy's rules. */
#define FE_DEF_BINARY(fn, e)                                                       \
    _Static_assert(FE_ARITY_##e == 2, "kiln_" #fn " is binary in ops.def");          \
    kiln_expr kiln_##fn(kiln_expr a, kiln_expr b)                                    \
    {                                                                                \
        const kiln_expr args[2] = {a, b};                                            \
        return fe_build(GR_OP_##e, 2, args, KILN_BOOL);                              \
    }
#define FE_DEF_UNARY(fn, e)                                                        \
    _Static_assert(FE_ARITY_##e == 1, "kiln_" #fn " is unary in ops.def");           \
    kiln_expr kiln_##fn(kiln_expr x) { return fe_build(GR_OP_##e, 1, &x, KILN_BOOL); }

FE_BINARY_OPS(FE_DEF_BINARY)
FE_UNARY_OPS(FE_DEF_UNARY)
#undef FE_DEF_BINARY
#undef FE_DEF_UNARY

/* where(cond, a, b): cond converted to bool, a and b promoted to T; shape
 * the broadcast of all three; dtype T. */
kiln_expr kiln_where(kiln_expr cond, kiln_expr a, kiln_expr b)
{
    const kiln_expr args[3] = {cond, a, b};
    return fe_build(GR_OP_WHERE, 3, args, KILN_BOOL);
}

/* cast(x, dtype): x's shape, the given dtype. */
kiln_expr kiln_cast(kiln_expr x, kiln_dtype dtype)
{
    return fe_build(GR_OP_CAST, 1, &x, dtype);
}

/* clip(x, lo, hi) = minimum(maximum(x, lo), hi): shape the broadcast of all
 * three (checked first, so a mismatch names all three shapes); dtype the
 * promotion of the three. Under ctx->lock. */
static gr_id fe_clip(kiln_ctx *ctx, const gr_id *ids)
{
    gr_graph *g = ctx->graph;
    int rank;
    int64_t shape[KILN_MAX_RANK];
    gr_id r = gr_broadcast(g, 3, ids, &rank, shape);
    if (r != GR_NONE)
        return r;
    gr_id lo[2] = {ids[0], ids[1]};
    gr_id hi[2] = {gr_op_make(g, GR_OP_MAXIMUM, 2, lo, KILN_BOOL), ids[2]};
    return gr_op_make(g, GR_OP_MINIMUM, 2, hi, KILN_BOOL);
}

kiln_expr kiln_clip(kiln_expr x, kiln_expr lo, kiln_expr hi)
{
    const kiln_expr args[3] = {x, lo, hi};
    kiln_ctx *ctx = fe_ctx_of(3, args);
    if (!ctx)
        return (kiln_expr){NULL, 0, 0};
    pthread_mutex_lock(&ctx->lock);
    gr_id ids[3];
    gr_id r = fe_resolve(ctx, "clip", 3, args, ids);
    if (r == GR_NONE)
        r = fe_clip(ctx, ids);
    kiln_expr h = fe_handle(ctx, r);
    pthread_mutex_unlock(&ctx->lock);
    return h;
}

/* ---- reductions and scans ---------------------------------------------------
 * Shape and dtype rules: graph/reduce.c (and kiln.h). */

/* op(x) over axes[0..naxes) (0: all), keepdims, ddof (var/std). */
static kiln_expr fe_reduce(gr_op op, kiln_expr x, int naxes, const int *axes, int keepdims,
                           int ddof)
{
    kiln_ctx *ctx = x.ctx_;
    if (!ctx)
        return (kiln_expr){NULL, 0, 0};
    pthread_mutex_lock(&ctx->lock);
    gr_id id;
    gr_id r = fe_resolve(ctx, gr_ops[op].name, 1, &x, &id);
    if (r == GR_NONE)
        r = gr_reduce_make(ctx->graph, op, id, naxes, axes, keepdims != 0, ddof);
    kiln_expr h = fe_handle(ctx, r);
    pthread_mutex_unlock(&ctx->lock);
    return h;
}

/* op(x) along axis, or flattened (KILN_AXIS_NONE). */
static kiln_expr fe_scan(gr_op op, kiln_expr x, int axis)
{
    kiln_ctx *ctx = x.ctx_;
    if (!ctx)
        return (kiln_expr){NULL, 0, 0};
    pthread_mutex_lock(&ctx->lock);
    gr_id id;
    gr_id r = fe_resolve(ctx, gr_ops[op].name, 1, &x, &id);
    if (r == GR_NONE)
        r = gr_scan_make(ctx->graph, op, id, axis);
    kiln_expr h = fe_handle(ctx, r);
    pthread_mutex_unlock(&ctx->lock);
    return h;
}

/* Reductions: x's shape without the reduced axes (keepdims: extent 1);
 * dtype by the op's row (sum: ints -> int64, ...). */
#define FE_DEF_REDUCE(fn, e)                                                                \
    _Static_assert((int)FE_RULE_##e == (int)GR_RULE_REDUCE, "kiln_" #fn " is a reduction"); \
    kiln_expr kiln_##fn(kiln_expr x, int naxes, const int *axes, int keepdims)              \
    {                                                                                       \
        return fe_reduce(GR_OP_##e, x, naxes, axes, keepdims, 0);                           \
    }
/* Scans: x's shape along an axis, (size,) flattened; dtype by the row. */
#define FE_DEF_SCAN(fn, e)                                                                  \
    _Static_assert((int)FE_RULE_##e == (int)GR_RULE_SCAN, "kiln_" #fn " is a scan");        \
    kiln_expr kiln_##fn(kiln_expr x, int axis) { return fe_scan(GR_OP_##e, x, axis); }

FE_REDUCE_OPS(FE_DEF_REDUCE)
FE_SCAN_OPS(FE_DEF_SCAN)
#undef FE_DEF_REDUCE
#undef FE_DEF_SCAN

/* var/std: as mean (float result), dividing by max(n - ddof, 0). */
kiln_expr kiln_var(kiln_expr x, int naxes, const int *axes, int keepdims, int ddof)
{
    return fe_reduce(GR_OP_VAR, x, naxes, axes, keepdims, ddof);
}

kiln_expr kiln_std(kiln_expr x, int naxes, const int *axes, int keepdims, int ddof)
{
    return fe_reduce(GR_OP_STD, x, naxes, axes, keepdims, ddof);
}

/* argmin/argmax: x's shape without axis, or 0-d (KILN_AXIS_NONE); int64. */
kiln_expr kiln_argmin(kiln_expr x, int axis)
{
    return fe_reduce(GR_OP_ARGMIN, x, axis == KILN_AXIS_NONE ? 0 : 1, &axis, 0, 0);
}

kiln_expr kiln_argmax(kiln_expr x, int axis)
{
    return fe_reduce(GR_OP_ARGMAX, x, axis == KILN_AXIS_NONE ? 0 : 1, &axis, 0, 0);
}

/* An op by NumPy name (or alias, or "clip", or a registered user-defined
 * function: frontend/udf.c), nargs inputs. A reduction or scan takes
 * NumPy's defaults: every axis, no keepdims, ddof 0; flattened. */
kiln_expr kiln_op(kiln_ctx *ctx, const char *name, int nargs, const kiln_expr *args)
{
    if (!ctx)
        return (kiln_expr){NULL, 0, 0};
    pthread_mutex_lock(&ctx->lock);
    gr_graph *g = ctx->graph;
    gr_id r, ids[GR_MAX_INPUTS];
    int op = name ? gr_op_lookup(name) : -1;
    bool clip = name && strcmp(name, "clip") == 0;
    int udf = name && op < 0 && !clip ? gr_udf_find(g, name, strlen(name)) : -1;
    int arity = clip ? 3 : op >= 0 ? gr_ops[op].arity : 0;
    if (!name)
        r = gr_error(g, KILN_ENULL, "kiln_op: NULL op name");
    else if (udf >= 0)
        r = fe_udf_apply(ctx, udf, nargs, args);
    else if (op < 0 && !clip)
        r = gr_error(g, KILN_EINVAL, "kiln_op: unknown op '%.64s'", name);
    else if (!clip && gr_is_udf(op))
        r = gr_error(g, KILN_EINVAL, "kiln_op: 'udf' is not an op; call a registered function "
                     "by its own name");
    else if (!clip && (gr_ops[op].rule == GR_RULE_LEAF || gr_is_view(op)))
        r = gr_error(g, KILN_EINVAL, "kiln_op: '%s' is not an elementwise op", name);
    else if (op == GR_OP_CAST)
        r = gr_error(g, KILN_EINVAL, "kiln_op: cast needs a target dtype, use kiln_cast");
    else if (nargs != arity)
        r = gr_error(g, KILN_EINVAL, "%s expects %d argument%s, got %d", name, arity,
                     arity == 1 ? "" : "s", nargs);
    else if (!args)
        r = gr_error(g, KILN_ENULL, "%s: NULL argument array", name);
    else if ((r = fe_resolve(ctx, name, nargs, args, ids)) != GR_NONE)
        ;
    else if (clip)
        r = fe_clip(ctx, ids);
    else if (gr_is_reduce(op))
        r = gr_reduce_make(g, (gr_op)op, ids[0], 0, NULL, false, 0);
    else if (gr_is_scan(op))
        r = gr_scan_make(g, (gr_op)op, ids[0], KILN_AXIS_NONE);
    else
        r = gr_op_make(g, (gr_op)op, nargs, ids, KILN_BOOL);
    kiln_expr h = fe_handle(ctx, r);
    pthread_mutex_unlock(&ctx->lock);
    return h;
}

/* ---- leaves ------------------------------------------------------------------ */

/* input(a): a's dtype and shape; a is retained by the node. */
kiln_expr kiln_input(kiln_ctx *ctx, kiln_array *a)
{
    if (!ctx)
        return (kiln_expr){NULL, 0, 0};
    pthread_mutex_lock(&ctx->lock);
    gr_id r;
    kiln_status s = a ? fe_check_array(ctx, a, "input") : KILN_ENULL;
    if (s == KILN_OK)
        r = gr_input(ctx->graph, a);
    else if (!a)
        r = gr_error(ctx->graph, KILN_ENULL, "input: NULL array");
    else
        r = gr_error(ctx->graph, s, "input: %s", kiln_errmsg(ctx));
    kiln_expr h = fe_handle(ctx, r);
    pthread_mutex_unlock(&ctx->lock);
    return h;
}

static kiln_expr fe_scalar(kiln_ctx *ctx, kiln_dtype t, rt_scalar v, bool weak)
{
    if (!ctx)
        return (kiln_expr){NULL, 0, 0};
    pthread_mutex_lock(&ctx->lock);
    kiln_expr h = fe_handle(ctx, gr_scalar(ctx->graph, t, v, weak));
    pthread_mutex_unlock(&ctx->lock);
    return h;
}

/* Weak scalars: rank 0; dtype float64 / int64 / bool until they meet a
 * strong operand, whose dtype they then take (NEP 50). */
kiln_expr kiln_f64(kiln_ctx *ctx, double v)
{
    rt_scalar s;
    memset(&s, 0, sizeof s);
    s.f = v;
    return fe_scalar(ctx, KILN_FLOAT64, s, true);
}

kiln_expr kiln_i64(kiln_ctx *ctx, int64_t v)
{
    rt_scalar s;
    memset(&s, 0, sizeof s);
    s.i = v;
    return fe_scalar(ctx, KILN_INT64, s, true);
}

kiln_expr kiln_bool(kiln_ctx *ctx, int v)
{
    rt_scalar s;
    memset(&s, 0, sizeof s);
    s.b = v != 0;
    return fe_scalar(ctx, KILN_BOOL, s, true);
}

/* scalar(dtype, *value): rank 0, the given dtype (strong). */
kiln_expr kiln_scalar(kiln_ctx *ctx, kiln_dtype dtype, const void *value)
{
    if (!ctx)
        return (kiln_expr){NULL, 0, 0};
    if (!rt_dtype_valid((int)dtype) || !value) {
        pthread_mutex_lock(&ctx->lock);
        gr_id r = !value ? gr_error(ctx->graph, KILN_ENULL, "scalar: NULL value pointer")
                         : gr_error(ctx->graph, KILN_EINVAL, "scalar: invalid dtype %d",
                                    (int)dtype);
        kiln_expr h = fe_handle(ctx, r);
        pthread_mutex_unlock(&ctx->lock);
        return h;
    }
    return fe_scalar(ctx, dtype, rt_load(dtype, value), false);
}

/* ---- inspection ---------------------------------------------------------------- */

/* Resolves e for a query: the live node, or NULL (with *s the reason). Under
 * ctx->lock. */
static const gr_node *fe_query(kiln_expr e, kiln_status *s)
{
    gr_id id = fe_node_of(e.ctx_, e);
    if (id == GR_NONE) {
        *s = KILN_ESTALE;
        return NULL;
    }
    const gr_node *n = gr_node_at(e.ctx_->graph, id);
    *s = n->op == GR_OP_ERROR ? n->a.err.status : KILN_OK;
    return n;
}

kiln_status kiln_expr_status(kiln_expr e)
{
    if (!e.ctx_)
        return KILN_ENULL;
    kiln_status s;
    pthread_mutex_lock(&e.ctx_->lock);
    fe_query(e, &s);
    pthread_mutex_unlock(&e.ctx_->lock);
    return s;
}

kiln_dtype kiln_expr_dtype(kiln_expr e)
{
    if (!e.ctx_)
        return KILN_DTYPE_COUNT;
    kiln_status s;
    pthread_mutex_lock(&e.ctx_->lock);
    const gr_node *n = fe_query(e, &s);
    kiln_dtype t = s == KILN_OK ? (kiln_dtype)n->dtype : KILN_DTYPE_COUNT;
    pthread_mutex_unlock(&e.ctx_->lock);
    return t;
}

int kiln_expr_rank(kiln_expr e)
{
    if (!e.ctx_)
        return -1;
    kiln_status s;
    pthread_mutex_lock(&e.ctx_->lock);
    const gr_node *n = fe_query(e, &s);
    int rank = s == KILN_OK ? n->rank : -1;
    pthread_mutex_unlock(&e.ctx_->lock);
    return rank;
}

kiln_status kiln_expr_shape(kiln_expr e, int64_t *shape)
{
    if (!e.ctx_ || !shape)
        return KILN_ENULL;
    kiln_status s;
    pthread_mutex_lock(&e.ctx_->lock);
    const gr_node *n = fe_query(e, &s);
    if (s == KILN_OK)
        for (int k = 0; k < n->rank; k++)
            shape[k] = n->shape[k];
    pthread_mutex_unlock(&e.ctx_->lock);
    return s;
}

int kiln_expr_same(kiln_expr a, kiln_expr b)
{
    if (!a.ctx_ || a.ctx_ != b.ctx_)
        return 0;
    pthread_mutex_lock(&a.ctx_->lock);
    gr_id ia = fe_node_of(a.ctx_, a), ib = fe_node_of(a.ctx_, b);
    pthread_mutex_unlock(&a.ctx_->lock);
    return ia != GR_NONE && ia == ib;
}

/* ---- scopes ----------------------------------------------------------------------- */

uint64_t kiln_scope_begin(kiln_ctx *ctx)
{
    if (!ctx)
        return 0;
    pthread_mutex_lock(&ctx->lock);
    uint64_t t = gr_scope_begin(ctx->graph);
    pthread_mutex_unlock(&ctx->lock);
    return t;
}

kiln_status kiln_scope_end(kiln_ctx *ctx, uint64_t scope)
{
    if (!ctx)
        return KILN_ENULL;
    pthread_mutex_lock(&ctx->lock);
    kiln_status s = gr_scope_end(ctx->graph, scope);
    pthread_mutex_unlock(&ctx->lock);
    return s;
}
