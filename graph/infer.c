/*
 * graph/infer.c — dtype rules and broadcasting: what dtype each input of an
 * elementwise node is converted to, the result's dtype and its shape.
 *
 * Strong dtypes promote by NumPy's table (gr_promote): bool < integers <
 * floats; signed+unsigned -> the smallest signed type holding both
 * (int64+uint64 -> float64); an integer of at most 16 bits with float32 ->
 * float32, a wider one -> float64.
 *
 * Weak scalars (GR_NF_WEAK, NEP 50) do not take part in the strong
 * promotion. With at least one strong input of dtype S:
 *   - a weak scalar of a higher kind than S (bool < int < float) promotes S
 *     with its default dtype (bool array + 1 -> int64; int array + 1.5 ->
 *     float64); otherwise it takes S (float32 array * 2.0 -> float32);
 *   - a weak int that takes an integer S must fit in it: otherwise
 *     KILN_EOVERFLOW, "Python integer 300 out of bounds for uint8" —
 *     except in comparisons, where S widens to hold the value (NumPy 2
 *     compares out-of-range Python ints correctly: uint8 < 300 is true).
 * With only weak inputs the compute dtype is the default dtype of the
 * highest kind (bool, int64, float64) and the (folded) result is weak.
 *
 * Rules (see graph/ops.def): T is the promotion of the participating inputs.
 *   SAME   inputs T, result T; GR_F_NOBOOL rejects T == bool
 *   FLOAT  inputs and result T, raised to float when T is bool or integer:
 *          float32 for at most 16 bits, float64 wider — except divide,
 *          which gives float64 for every integer or bool T (NumPy's true
 *          division); with only weak inputs, float64 (a weak result is
 *          always bool, int64 or float64)
 *   CMP    inputs T, result bool
 *   PRED   input as is (a weak one becomes its default dtype), result bool
 *   LOGIC  inputs bool, result bool
 *   BITS   inputs and result T; T must be bool or integer
 *   SHIFT  inputs and result T; T must be integer
 *   WHERE  input 0 bool; inputs 1, 2 and the result T
 *   CAST   input as is, result the requested dtype
 * A rule violation is KILN_EDTYPE naming the op and the input dtypes.
 */
#include "graph/build.h"

#include <stdio.h>
#include <string.h>

/* ---- strong promotion ------------------------------------------------- */

/* bool < integer < float. */
static int gr_kind_rank(kiln_dtype t)
{
    switch ((rt_kind)rt_dtypes[t].kind) {
    case RT_KIND_BOOL: return 0;
    case RT_KIND_INT:
    case RT_KIND_UINT: return 1;
    case RT_KIND_FLOAT: return 2;
    }
    return 0;
}

static kiln_dtype gr_signed_of_size(unsigned size)
{
    switch (size) {
    case 1: return KILN_INT8;
    case 2: return KILN_INT16;
    case 4: return KILN_INT32;
    default: return KILN_INT64;
    }
}

kiln_dtype gr_promote(kiln_dtype a, kiln_dtype b)
{
    if (a == b)
        return a;
    rt_kind ka = (rt_kind)rt_dtypes[a].kind, kb = (rt_kind)rt_dtypes[b].kind;
    unsigned sa = rt_dtypes[a].size, sb = rt_dtypes[b].size;
    if (ka == RT_KIND_BOOL)
        return b;
    if (kb == RT_KIND_BOOL)
        return a;
    if (ka == RT_KIND_FLOAT && kb == RT_KIND_FLOAT)
        return sa >= sb ? a : b;
    if (ka == RT_KIND_FLOAT || kb == RT_KIND_FLOAT) {
        kiln_dtype f = ka == RT_KIND_FLOAT ? a : b;
        unsigned isize = ka == RT_KIND_FLOAT ? sb : sa;
        if (f == KILN_FLOAT64)
            return KILN_FLOAT64;
        return isize <= 2 ? KILN_FLOAT32 : KILN_FLOAT64;
    }
    if (ka == kb) /* both signed or both unsigned */
        return sa >= sb ? a : b;
    unsigned ssize = ka == RT_KIND_INT ? sa : sb; /* the signed one */
    unsigned usize = ka == RT_KIND_UINT ? sa : sb;
    if (ssize > usize)
        return ka == RT_KIND_INT ? a : b;
    return usize == 8 ? KILN_FLOAT64 : gr_signed_of_size(usize * 2u);
}

/* ---- weak scalars ---------------------------------------------------------- */

/* Does v fit the integer dtype t? */
static bool gr_int_fits(int64_t v, kiln_dtype t)
{
    unsigned bits = rt_dtypes[t].bits;
    if (rt_dtypes[t].kind == RT_KIND_UINT)
        return v >= 0 && (bits >= 64 || (uint64_t)v < (1ull << bits));
    if (bits >= 64)
        return true;
    int64_t lim = (int64_t)1 << (bits - 1u);
    return v >= -lim && v < lim;
}

/* NumPy's min_scalar_type of an integer: the smallest unsigned type for a
 * non-negative value, the smallest signed type for a negative one. */
static kiln_dtype gr_min_int_type(int64_t v)
{
    static const kiln_dtype u[] = {KILN_UINT8, KILN_UINT16, KILN_UINT32, KILN_UINT64};
    static const kiln_dtype s[] = {KILN_INT8, KILN_INT16, KILN_INT32, KILN_INT64};
    const kiln_dtype *c = v >= 0 ? u : s;
    for (int i = 0; i < 3; i++)
        if (gr_int_fits(v, c[i]))
            return c[i];
    return c[3];
}

static kiln_dtype gr_weak_default(int kind_rank)
{
    return kind_rank == 0 ? KILN_BOOL : kind_rank == 1 ? KILN_INT64 : KILN_FLOAT64;
}

/* Describes the inputs for messages: "(float32, Python int)". */
static const char *gr_describe_inputs(const gr_graph *g, int nin, const gr_id *in, char *buf,
                                      size_t cap)
{
    size_t len = 0;
    buf[0] = '\0';
    for (int i = 0; i < nin && len < cap; i++) {
        const gr_node *n = gr_node_at(g, in[i]);
        const char *name = rt_dtypes[n->dtype].name;
        if (gr_is_weak(n)) {
            int k = gr_kind_rank(n->dtype);
            name = k == 0 ? "Python bool" : k == 1 ? "Python int" : "Python float";
        }
        int w = snprintf(buf + len, cap - len, "%s%s%s", i ? ", " : "(", name,
                         i == nin - 1 ? ")" : "");
        if (w < 0)
            break;
        len += (size_t)w;
    }
    return buf;
}

/* The compute dtype of inputs in[first..nin) under NumPy promotion with
 * NEP 50 weak scalars. Returns GR_NONE or an ERROR node. */
static gr_id gr_promote_inputs(gr_graph *g, int first, int nin, const gr_id *in,
                               bool widen_for_cmp, kiln_dtype *out)
{
    bool have_strong = false;
    kiln_dtype s = KILN_BOOL;
    int weak_kind = 0;
    for (int i = first; i < nin; i++) {
        const gr_node *n = gr_node_at(g, in[i]);
        if (gr_is_weak(n)) {
            int k = gr_kind_rank(n->dtype);
            weak_kind = k > weak_kind ? k : weak_kind;
        } else {
            s = have_strong ? gr_promote(s, n->dtype) : (kiln_dtype)n->dtype;
            have_strong = true;
        }
    }
    if (!have_strong) {
        *out = gr_weak_default(weak_kind);
        return GR_NONE;
    }
    /* weak scalars of a higher kind raise the strong dtype */
    for (int i = first; i < nin; i++) {
        const gr_node *n = gr_node_at(g, in[i]);
        if (gr_is_weak(n) && gr_kind_rank(n->dtype) > gr_kind_rank(s))
            s = gr_promote(s, n->dtype);
    }
    /* weak ints taking an integer dtype must fit it */
    for (int i = first; i < nin; i++) {
        const gr_node *n = gr_node_at(g, in[i]);
        if (!gr_is_weak(n) || gr_kind_rank(n->dtype) != 1 || !rt_is_int(s))
            continue;
        int64_t v = n->a.scalar.i;
        if (gr_int_fits(v, s))
            continue;
        if (widen_for_cmp) {
            s = gr_promote(s, gr_min_int_type(v));
            continue;
        }
        return gr_error(g, KILN_EOVERFLOW, "Python integer %lld out of bounds for %s",
                        (long long)v, rt_dtypes[s].name);
    }
    *out = s;
    return GR_NONE;
}

/* ---- broadcasting ------------------------------------------------------------ */

gr_id gr_broadcast(gr_graph *g, int nin, const gr_id *in, int *rank, int64_t *shape)
{
    int r = 0;
    for (int i = 0; i < nin; i++) {
        int ri = gr_node_at(g, in[i])->rank;
        r = ri > r ? ri : r;
    }
    for (int k = 0; k < r; k++)
        shape[k] = 1;
    bool ok = true;
    for (int i = 0; i < nin && ok; i++) {
        const gr_node *n = gr_node_at(g, in[i]);
        int off = r - n->rank; /* rule 1: pad with 1s on the left */
        for (int k = 0; k < n->rank; k++) {
            int64_t e = n->shape[k], *d = &shape[off + k];
            if (e == *d || e == 1) /* rule 2: 1 stretches */
                continue;
            if (*d == 1)
                *d = e;
            else
                ok = false; /* rule 3: anything else is an error */
        }
    }
    if (!ok) {
        char msg[512], one[160];
        size_t len = (size_t)snprintf(msg, sizeof msg,
                                      "operands could not be broadcast together with shapes");
        for (int i = 0; i < nin && len < sizeof msg; i++) {
            const gr_node *n = gr_node_at(g, in[i]);
            rt_fmt_shape(one, sizeof one, n->rank, n->shape);
            int w = snprintf(msg + len, sizeof msg - len, " %s", one);
            if (w < 0)
                break;
            len += (size_t)w;
        }
        return gr_error(g, KILN_ESHAPE, "%s", msg);
    }
    /* the result must stay addressable: element count times 8 bytes in int64 */
    int64_t size = 1;
    bool empty = false;
    for (int k = 0; k < r; k++)
        empty |= shape[k] == 0;
    for (int k = 0; k < r && !empty; k++)
        if (!rt_mul_ok(size, shape[k], &size) || size > INT64_MAX / 8) {
            char s1[160];
            rt_fmt_shape(s1, sizeof s1, r, shape);
            return gr_error(g, KILN_EOVERFLOW, "broadcast shape %s has too many elements", s1);
        }
    *rank = r;
    return GR_NONE;
}

/* ---- the rules ---------------------------------------------------------------- */

/* "<op>: not supported for dtype <t> (needs ...) (input dtypes (...))". */
static gr_id gr_dtype_error(gr_graph *g, gr_op op, int nin, const gr_id *in, kiln_dtype t,
                            const char *need)
{
    char desc[256];
    return gr_error(g, KILN_EDTYPE, "%s: not supported for dtype %s%s (input dtypes %s)",
                    gr_ops[op].name, rt_dtypes[t].name, need,
                    gr_describe_inputs(g, nin, in, desc, sizeof desc));
}

gr_id gr_infer(gr_graph *g, gr_op op, int nin, const gr_id *in, kiln_dtype cast_to,
               gr_infer_result *r)
{
    const gr_op_info *info = &gr_ops[op];
    memset(r, 0, sizeof *r);
    gr_id err = gr_broadcast(g, nin, in, &r->rank, r->shape);
    if (err != GR_NONE)
        return err;

    bool all_weak = true;
    for (int i = 0; i < nin; i++)
        all_weak &= gr_is_weak(gr_node_at(g, in[i]));
    kiln_dtype t = KILN_BOOL;

    switch ((gr_rule)info->rule) {
    case GR_RULE_SAME:
    case GR_RULE_FLOAT:
    case GR_RULE_CMP:
    case GR_RULE_BITS:
    case GR_RULE_SHIFT:
    case GR_RULE_WHERE: {
        int first = info->rule == GR_RULE_WHERE ? 1 : 0;
        err = gr_promote_inputs(g, first, nin, in, info->rule == GR_RULE_CMP, &t);
        if (err != GR_NONE)
            return err;
        if (info->rule == GR_RULE_FLOAT && !rt_is_float(t))
            t = all_weak || op == GR_OP_DIVIDE || rt_dtypes[t].size > 2 ? KILN_FLOAT64
                                                                         : KILN_FLOAT32;
        if ((info->flags & GR_F_NOBOOL) && t == KILN_BOOL)
            return gr_dtype_error(g, op, nin, in, t,
                                  op == GR_OP_SUBTRACT   ? " (use logical_xor or bitwise_xor)"
                                  : op == GR_OP_NEGATIVE ? " (use logical_not or invert)"
                                                         : "");
        if (info->rule == GR_RULE_BITS && rt_is_float(t))
            return gr_dtype_error(g, op, nin, in, t, " (needs bool or integer)");
        if (info->rule == GR_RULE_SHIFT && !rt_is_int(t))
            return gr_dtype_error(g, op, nin, in, t, " (needs integer)");
        for (int i = 0; i < nin; i++)
            r->in_dtype[i] = t;
        if (info->rule == GR_RULE_WHERE)
            r->in_dtype[0] = KILN_BOOL;
        r->out = info->rule == GR_RULE_CMP ? KILN_BOOL : t;
        r->weak = all_weak;
        break;
    }
    case GR_RULE_LOGIC:
        for (int i = 0; i < nin; i++)
            r->in_dtype[i] = KILN_BOOL;
        r->out = KILN_BOOL;
        r->weak = all_weak;
        break;
    case GR_RULE_PRED:
        r->in_dtype[0] = (kiln_dtype)gr_node_at(g, in[0])->dtype;
        r->out = KILN_BOOL;
        break;
    case GR_RULE_CAST:
        if (!rt_dtype_valid((int)cast_to))
            return gr_error(g, KILN_EINVAL, "cast: invalid dtype %d", (int)cast_to);
        r->in_dtype[0] = (kiln_dtype)gr_node_at(g, in[0])->dtype;
        r->out = cast_to;
        break;
    case GR_RULE_LEAF:
    default:
        return gr_error(g, KILN_EINTERNAL, "%s is not an elementwise op", info->name);
    }
    return GR_NONE;
}
