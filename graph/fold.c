/*
 * graph/fold.c — folding on the way in (LuaJIT's lj_opt_fold): constant
 * folding and algebraic identities, applied by gr_op_make to each new node
 * before hash-consing.
 *
 * Contract: a rule never changes a node's dtype or shape. The replacement
 * of node n has n's dtype and n's shape exactly (checked in gr_fold before
 * any replacement is returned), so x*1 where the 1 would broadcast x to a
 * larger shape does not fold.
 *
 * Contract: a rule never changes a result, bit for bit, for any input —
 * NaN payloads and the sign of zero included. Hence:
 *   - x + (-0.0) -> x, but never x + (+0.0): (-0.0) + (+0.0) is +0.0;
 *   - x - (+0.0) -> x, but never x - (-0.0);
 *   - x * 1, x / 1, x ** 1 -> x (exact for every float, NaN included);
 *   - never x * 0 (NaN, infinities and -0.0 break it).
 * The one exception, shared with LLVM's own folding of fmul x, 1.0 and with
 * every mode of kiln: a signaling NaN input is not quieted when the op is
 * folded away.
 *
 * Rules:
 *   constants   every input SCALAR (so the result is 0-d) -> SCALAR computed
 *               by gr_apply, the interpreter's own semantics
 *   add         x + 0 and 0 + x (integers, bool: 0/false; floats: -0.0 only)
 *   subtract    x - 0 (floats: +0.0 only)
 *   multiply    x * 1 and 1 * x (bool: true)
 *   divide      x / 1 (divide's inputs are always float)
 *   power       x ** 1
 *   cast        to x's own dtype -> x
 *   negative    negative(negative(x)) -> x (integers wrap, floats flip a bit)
 *   floor/ceil/trunc of an integer or bool x -> x (the SAME rule keeps its
 *               dtype, as NumPy >= 2 does)
 */
#include "graph/build.h"

#include <string.h>

static bool gr_is_scalar(const gr_node *c) { return c->op == GR_OP_SCALAR; }

static uint64_t gr_f64_bits(double f)
{
    uint64_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

/* SCALAR c equals 0 (integer, bool) or has exactly these float bits. */
static bool gr_is_zero(const gr_node *c, uint64_t float_bits)
{
    if (!gr_is_scalar(c))
        return false;
    switch ((rt_kind)rt_dtypes[c->dtype].kind) {
    case RT_KIND_BOOL: return !c->a.scalar.b;
    case RT_KIND_INT: return c->a.scalar.i == 0;
    case RT_KIND_UINT: return c->a.scalar.u == 0;
    case RT_KIND_FLOAT: return gr_f64_bits(c->a.scalar.f) == float_bits;
    }
    return false;
}

static bool gr_is_one(const gr_node *c)
{
    if (!gr_is_scalar(c))
        return false;
    switch ((rt_kind)rt_dtypes[c->dtype].kind) {
    case RT_KIND_BOOL: return c->a.scalar.b;
    case RT_KIND_INT: return c->a.scalar.i == 1;
    case RT_KIND_UINT: return c->a.scalar.u == 1;
    case RT_KIND_FLOAT: return c->a.scalar.f == 1.0;
    }
    return false;
}

#define GR_POS_ZERO 0x0000000000000000ull
#define GR_NEG_ZERO 0x8000000000000000ull

/* The identity rules: the input n reduces to, or GR_NONE. */
static gr_id gr_fold_identity(const gr_graph *g, const gr_node *n)
{
    const gr_node *a = gr_node_at(g, n->in[0]);
    const gr_node *b = n->in[1] != GR_NONE ? gr_node_at(g, n->in[1]) : NULL;
    switch ((gr_op)n->op) {
    case GR_OP_ADD:
        if (gr_is_zero(b, GR_NEG_ZERO))
            return n->in[0];
        if (gr_is_zero(a, GR_NEG_ZERO))
            return n->in[1];
        break;
    case GR_OP_SUBTRACT:
        if (gr_is_zero(b, GR_POS_ZERO))
            return n->in[0];
        break;
    case GR_OP_MULTIPLY:
        if (gr_is_one(b))
            return n->in[0];
        if (gr_is_one(a))
            return n->in[1];
        break;
    case GR_OP_DIVIDE:
    case GR_OP_POWER:
        if (gr_is_one(b))
            return n->in[0];
        break;
    case GR_OP_CAST:
        if (a->dtype == n->dtype)
            return n->in[0];
        break;
    case GR_OP_NEGATIVE:
        if (a->op == GR_OP_NEGATIVE)
            return a->in[0];
        break;
    case GR_OP_FLOOR:
    case GR_OP_CEIL:
    case GR_OP_TRUNC:
        if (!rt_is_float((kiln_dtype)n->dtype))
            return n->in[0];
        break;
    default: break;
    }
    return GR_NONE;
}

/* The contract, checked: same dtype, same shape. */
static bool gr_same_type(const gr_node *x, const gr_node *n)
{
    if (x->dtype != n->dtype || x->rank != n->rank)
        return false;
    for (int k = 0; k < n->rank; k++)
        if (x->shape[k] != n->shape[k])
            return false;
    return true;
}

gr_id gr_fold(gr_graph *g, const gr_node *n, bool weak)
{
    int nin = gr_ops[n->op].arity;
    bool all_const = true;
    rt_scalar args[GR_MAX_INPUTS];
    memset(args, 0, sizeof args);
    for (int i = 0; i < nin; i++) {
        const gr_node *x = gr_node_at(g, n->in[i]);
        all_const &= gr_is_scalar(x);
        args[i] = x->a.scalar;
    }
    if (all_const && n->rank == 0) {
        /* inputs share one dtype, except where's bool condition: use the last */
        kiln_dtype in_t = (kiln_dtype)gr_node_at(g, n->in[nin - 1])->dtype;
        rt_scalar v = gr_apply((gr_op)n->op, in_t, (kiln_dtype)n->dtype, args);
        return gr_scalar(g, (kiln_dtype)n->dtype, v, weak);
    }
    gr_id x = gr_fold_identity(g, n);
    if (x != GR_NONE && gr_same_type(gr_node_at(g, x), n))
        return x;
    return GR_NONE;
}
