/*
 * graph/interp.c — the reference interpreter: the oracle every compiled
 * mode is tested against. Obvious over fast.
 *
 *   1. mark the nodes reachable from the roots (one pass down the ids:
 *      inputs have smaller ids), stopping at leaves and bound nodes, and
 *      count each node's consumers;
 *   2. compute the marked nodes in id order, each into a temporary
 *      C-contiguous array of its shape, one element at a time: inputs are
 *      read by strides, broadcast (zero stride for an extent-1 or missing
 *      leading dimension), converted to scalars (rt_load), combined by
 *      gr_apply and stored (rt_store). INPUT leaves are read from their
 *      arrays, SCALAR leaves from the node, bound nodes from the bound
 *      arrays. A temporary is freed once its last consumer is computed.
 *      A VIEW node is not computed: it is read through its map from its
 *      source's value (a reduction or scan, so a temporary or bound),
 *      which is freed after the view's last consumer instead.
 *      A reduction or scan node (not elementwise) is computed by
 *      runtime/reduce.c, which defines the canonical order: for each output
 *      element the reduced input elements are taken in C order of their
 *      indices along the reduced axes, read in place when they form one
 *      strided run, else first gathered into a buffer (so the order never
 *      depends on the input's layout); a scan runs each line along its
 *      axis, or the input gathered in C order when flattened;
 *   3. every root is materialized (leaves and bound roots copied too), and
 *      only then are the outputs written, so outputs may overlap inputs —
 *      except that a single root whose output is C-contiguous and shares
 *      no byte with any array read is computed straight into it (no
 *      temporary, no copy: a plan's reduction or scan kernel that falls
 *      back here writes its temporary directly). It is computed last, so
 *      the rule below still holds.
 *
 * Invariants: every temporary is allocated with rt_aligned_alloc and its
 * bytes are added to env->temp_bytes; on any failure everything allocated
 * here is freed and no output has been written. The interpreter checks the
 * graph invariants it relies on (an elementwise node's inputs have its
 * compute dtype and broadcast to its shape; a bound or output array has the
 * node's shape and dtype) and reports KILN_EINTERNAL or KILN_EINVAL rather
 * than trusting them.
 */
#include "graph/graph.h"
#include "runtime/reduce.h"

#include <string.h>

/* Per-node state, indexed by id (only ids up to the largest root). */
typedef struct ip_slot {
    char *temp;        /* materialized value (C-contiguous), or NULL */
    size_t temp_bytes; /* bytes allocated for temp */
    uint32_t uses;     /* consumers still to be computed */
    uint32_t bound;    /* 1 + index into bound[], or 0 */
    bool needed;       /* reachable from a root */
    bool root;         /* a root: kept until the outputs are written */
    bool direct;       /* temp is the output's own memory (ip_direct_ok) */
} ip_slot;

/* How to read one node's value: strided elements or one scalar. */
typedef struct ip_operand {
    kiln_dtype dtype;
    bool is_scalar;
    rt_scalar scalar;
    const char *base; /* element 0 */
    int rank;
    int64_t shape[KILN_MAX_RANK];
    int64_t strides[KILN_MAX_RANK]; /* bytes */
} ip_operand;

typedef struct ip_state {
    const gr_graph *g;
    rt_env *env;
    const gr_binding *bound;
    ip_slot *slots;
    uint32_t nslots;
    kiln_array *direct_out; /* the output a direct root is computed into */
} ip_state;

static void ip_c_strides(kiln_dtype t, int rank, const int64_t *shape, int64_t *strides)
{
    int64_t s = (int64_t)rt_dtypes[t].size;
    for (int k = rank - 1; k >= 0; k--) {
        strides[k] = s;
        s *= shape[k] > 0 ? shape[k] : 1;
    }
}

static void ip_from_array(ip_operand *o, const kiln_array *a)
{
    o->dtype = a->dtype;
    o->is_scalar = false;
    o->base = a->data;
    o->rank = a->rank;
    memcpy(o->shape, a->shape, sizeof o->shape);
    memcpy(o->strides, a->strides, sizeof o->strides);
}

/* The operand reading node id's value (computed, bound or a leaf). */
static kiln_status ip_operand_of(ip_state *st, gr_id id, ip_operand *o)
{
    const gr_node *n = gr_node_at(st->g, id);
    memset(o, 0, sizeof *o);
    ip_slot *s = &st->slots[id];
    if (s->temp) {
        o->dtype = (kiln_dtype)n->dtype;
        o->base = s->temp;
        o->rank = n->rank;
        memcpy(o->shape, n->shape, sizeof o->shape);
        ip_c_strides(o->dtype, o->rank, o->shape, o->strides);
        return KILN_OK;
    }
    if (s->bound) {
        ip_from_array(o, st->bound[s->bound - 1].array);
        return KILN_OK;
    }
    if (n->op == GR_OP_INPUT) {
        ip_from_array(o, n->a.array);
        return KILN_OK;
    }
    if (n->op == GR_OP_SCALAR) {
        o->dtype = (kiln_dtype)n->dtype;
        o->is_scalar = true;
        o->scalar = n->a.scalar;
        o->rank = n->rank;
        memcpy(o->shape, n->shape, sizeof o->shape);
        return KILN_OK;
    }
    if (gr_is_view(n->op)) { /* its source's value, read through the map */
        const rt_vmap *m = gr_view_map(st->g, id);
        kiln_status s2 = ip_operand_of(st, n->in[0], o);
        if (s2 != KILN_OK)
            return s2;
        if (o->rank != m->src_rank)
            return rt_err(st->env, KILN_EINTERNAL, "interpreter: view (node %u) over rank %d",
                          (unsigned)id, o->rank);
        int64_t off = 0, strides[KILN_MAX_RANK];
        rt_vmap_apply(m, o->strides, &off, strides);
        if (!o->is_scalar)
            o->base += off;
        o->rank = m->rank;
        memcpy(o->shape, m->shape, sizeof o->shape);
        memcpy(o->strides, strides, sizeof o->strides);
        return KILN_OK;
    }
    return rt_err(st->env, KILN_EINTERNAL, "interpreter: node %u (%s) has no value", (unsigned)id,
                  gr_ops[n->op].name);
}

/* Byte strides that walk operand o over shape[0..rank): NumPy broadcasting
 * (o's dimensions aligned to the right; extent 1 and missing dimensions get
 * stride 0). KILN_EINTERNAL if o does not broadcast to the shape. */
static kiln_status ip_broadcast(ip_state *st, const ip_operand *o, int rank, const int64_t *shape,
                                int64_t *strides)
{
    memset(strides, 0, sizeof(int64_t) * KILN_MAX_RANK);
    if (o->is_scalar)
        return KILN_OK;
    if (o->rank > rank)
        goto bad;
    for (int k = 0; k < o->rank; k++) {
        int d = rank - o->rank + k;
        if (o->shape[k] == shape[d])
            strides[d] = o->shape[k] == 1 ? 0 : o->strides[k];
        else if (o->shape[k] == 1)
            strides[d] = 0;
        else
            goto bad;
    }
    return KILN_OK;
bad:;
    char a[160], b[160];
    return rt_err(st->env, KILN_EINTERNAL,
                  "interpreter: an operand of shape %s does not broadcast to %s",
                  rt_fmt_shape(a, sizeof a, o->rank, o->shape), rt_fmt_shape(b, sizeof b, rank, shape));
}

/* Advances a C-order index over shape and each operand's byte offset by
 * its strides. False after the last element. */
static bool ip_next(int rank, const int64_t *shape, int64_t *idx, int nop, int64_t *off,
                    int64_t (*strides)[KILN_MAX_RANK])
{
    for (int d = rank - 1; d >= 0; d--) {
        for (int k = 0; k < nop; k++)
            off[k] += strides[k][d];
        if (++idx[d] < shape[d])
            return true;
        for (int k = 0; k < nop; k++)
            off[k] -= strides[k][d] * shape[d];
        idx[d] = 0;
    }
    return false;
}

static int64_t ip_size(int rank, const int64_t *shape)
{
    int64_t n = 1;
    for (int k = 0; k < rank; k++)
        n *= shape[k];
    return n;
}

static kiln_status ip_alloc_temp(ip_state *st, gr_id id)
{
    if (st->slots[id].direct) {
        st->slots[id].temp = st->direct_out->data;
        return KILN_OK;
    }
    const gr_node *n = gr_node_at(st->g, id);
    int64_t bytes;
    if (!rt_mul_ok(ip_size(n->rank, n->shape), (int64_t)rt_dtypes[n->dtype].size, &bytes) ||
        (uint64_t)bytes > SIZE_MAX)
        return rt_err(st->env, KILN_EOVERFLOW, "interpreter: temporary of node %u too large",
                      (unsigned)id);
    char *p = rt_aligned_alloc(st->env, (size_t)bytes);
    if (!p)
        return rt_err(st->env, KILN_ENOMEM,
                      "out of memory allocating a %lld-byte temporary for %s (node %u)",
                      (long long)bytes, gr_ops[n->op].name, (unsigned)id);
    st->slots[id].temp = p;
    st->slots[id].temp_bytes = (size_t)bytes;
    atomic_fetch_add(&st->env->temp_bytes, (unsigned long long)bytes);
    return KILN_OK;
}

static void ip_free_temp(ip_state *st, gr_id id)
{
    ip_slot *s = &st->slots[id];
    if (s->temp && s->direct) {
        s->temp = NULL;
    } else if (s->temp) {
        rt_aligned_free(st->env, s->temp, s->temp_bytes);
        s->temp = NULL;
        s->temp_bytes = 0;
    }
}

/* The dtype each input of elementwise node n must have (-1: any; the value
 * is then converted to bool) and the in_t passed to gr_apply. */
static kiln_dtype ip_in_dtype(const gr_graph *g, gr_id id, int *want)
{
    const gr_node *n = gr_node_at(g, id);
    gr_rule rule = (gr_rule)gr_ops[n->op].rule;
    int arity = gr_nin(n);
    kiln_dtype first = (kiln_dtype)gr_node_at(g, n->in[0])->dtype;
    kiln_dtype in_t = (kiln_dtype)n->dtype;
    for (int k = 0; k < arity; k++)
        want[k] = n->dtype;
    switch (rule) {
    case GR_RULE_CAST:
    case GR_RULE_PRED:
        want[0] = first;
        return first;
    case GR_RULE_CMP:
        want[0] = want[1] = first;
        return first;
    case GR_RULE_LOGIC: /* tested != 0 */
        for (int k = 0; k < arity; k++)
            want[k] = -1;
        return KILN_BOOL;
    case GR_RULE_WHERE:
        want[0] = -1;
        return in_t;
    case GR_RULE_UDF: /* the declared argument dtypes */
        for (int k = 0; k < arity; k++)
            want[k] = gr_udf_of(g, id)->args[k];
        return in_t;
    case GR_RULE_LEAF: case GR_RULE_SAME: case GR_RULE_FLOAT: case GR_RULE_BITS:
    case GR_RULE_SHIFT: case GR_RULE_REDUCE: case GR_RULE_SCAN: case GR_RULE_VIEW:
        break;
    }
    return in_t;
}

/* Computes elementwise node id into its temporary. */
static kiln_status ip_compute(ip_state *st, gr_id id)
{
    const gr_node *n = gr_node_at(st->g, id);
    gr_op op = (gr_op)n->op;
    int arity = gr_nin(n);
    const rt_udf *udf = gr_is_udf(op) ? gr_udf_of(st->g, id) : NULL;
    ip_operand in[GR_MAX_INPUTS];
    int64_t strides[GR_MAX_INPUTS][KILN_MAX_RANK];
    int want[GR_MAX_INPUTS];
    kiln_dtype in_t = ip_in_dtype(st->g, id, want);
    kiln_status s;
    for (int k = 0; k < arity; k++) {
        if ((s = ip_operand_of(st, n->in[k], &in[k])) != KILN_OK)
            return s;
        if (want[k] >= 0 && (int)in[k].dtype != want[k])
            return rt_err(st->env, KILN_EINTERNAL,
                          "interpreter: input %d of %s (node %u) has dtype %s, expected %s", k,
                          gr_ops[op].name, (unsigned)id, kiln_dtype_name(in[k].dtype),
                          kiln_dtype_name((kiln_dtype)want[k]));
        if ((s = ip_broadcast(st, &in[k], n->rank, n->shape, strides[k])) != KILN_OK)
            return s;
    }
    if ((s = ip_alloc_temp(st, id)) != KILN_OK)
        return s;

    kiln_dtype out_t = (kiln_dtype)n->dtype;
    size_t osz = rt_dtypes[out_t].size;
    int64_t count = ip_size(n->rank, n->shape);
    int64_t idx[KILN_MAX_RANK] = {0}, off[GR_MAX_INPUTS] = {0};
    char *out = st->slots[id].temp;
    for (int64_t e = 0; e < count; e++) {
        rt_scalar args[GR_MAX_INPUTS];
        for (int k = 0; k < arity; k++) {
            args[k] = in[k].is_scalar ? in[k].scalar : rt_load(in[k].dtype, in[k].base + off[k]);
            if (want[k] < 0)
                args[k] = rt_convert(in[k].dtype, KILN_BOOL, args[k]);
        }
        rt_store(out_t, out + (size_t)e * osz,
                 udf ? rt_udf_call(udf, args) : gr_apply(op, in_t, out_t, args));
        ip_next(n->rank, n->shape, idx, arity, off, strides);
    }
    return KILN_OK;
}

/* ---- reductions and scans ---------------------------------------------------- */

/* The input operand of reduction/scan node n, as a strided array (a SCALAR
 * leaf is stored into buf and read as a 0-d array), checked against the
 * node: its dtype must be the op's compute dtype (graph/graph.h). */
static kiln_status ip_red_input(ip_state *st, gr_id id, ip_operand *o, char *buf)
{
    const gr_node *n = gr_node_at(st->g, id);
    kiln_status s = ip_operand_of(st, n->in[0], o);
    if (s != KILN_OK)
        return s;
    if (o->is_scalar) { /* one element, repeated over the scalar's shape */
        rt_store(o->dtype, buf, o->scalar);
        o->base = buf;
        o->is_scalar = false;
        memset(o->strides, 0, sizeof o->strides);
    }
    bool to_result = gr_ops[n->op].flags & (GR_F_ACC | GR_F_DIV);
    bool same_t = !(gr_ops[n->op].flags & (GR_F_INDEX | GR_F_TRUTH));
    if ((to_result || same_t) && o->dtype != n->dtype)
        return rt_err(st->env, KILN_EINTERNAL,
                      "interpreter: the input of %s (node %u) has dtype %s, expected %s",
                      gr_ops[n->op].name, (unsigned)id, kiln_dtype_name(o->dtype),
                      kiln_dtype_name((kiln_dtype)n->dtype));
    return KILN_OK;
}

static kiln_status ip_bad_shape(ip_state *st, gr_id id)
{
    return rt_err(st->env, KILN_EINTERNAL,
                  "interpreter: %s (node %u) does not match its input's shape and attributes",
                  gr_ops[gr_node_at(st->g, id)->op].name, (unsigned)id);
}

/* If dims [0, r) (extents ext, byte strides str, C order) visit their
 * elements as one strided run, sets *stride and returns true. Extent-1
 * dims are ignored; no dims (or an empty extent) is one run. */
static bool ip_one_run(int r, const int64_t *ext, const int64_t *str, int64_t esz,
                       int64_t *stride)
{
    int64_t run_ext = 0, run_str = esz; /* the run so far, innermost dims first */
    for (int k = r - 1; k >= 0; k--) {
        if (ext[k] == 0) { /* no elements: any stride will do */
            *stride = esz;
            return true;
        }
        if (ext[k] == 1)
            continue;
        if (run_ext == 0) {
            run_str = str[k];
            run_ext = ext[k];
        } else if (str[k] == run_str * run_ext) {
            run_ext *= ext[k];
        } else {
            return false;
        }
    }
    *stride = run_str;
    return true;
}

/* One output element of reduction op (runtime/reduce.h). */
static void ip_reduce_one(gr_op op, kiln_dtype t, const char *x, int64_t n, int64_t stride,
                          int64_t ddof, void *out)
{
    switch (op) {
    case GR_OP_SUM: rt_reduce_sum(t, x, n, stride, out); break;
    case GR_OP_PROD: rt_reduce_prod(t, x, n, stride, out); break;
    case GR_OP_MIN: rt_reduce_min(t, x, n, stride, out); break;
    case GR_OP_MAX: rt_reduce_max(t, x, n, stride, out); break;
    case GR_OP_MEAN: rt_reduce_mean(t, x, n, stride, out); break;
    case GR_OP_VAR: rt_reduce_var(t, x, n, stride, ddof, out); break;
    case GR_OP_STD: rt_reduce_std(t, x, n, stride, ddof, out); break;
    case GR_OP_ARGMIN: rt_reduce_argmin(t, x, n, stride, out); break;
    case GR_OP_ARGMAX: rt_reduce_argmax(t, x, n, stride, out); break;
    case GR_OP_ALL: rt_reduce_all(t, x, n, stride, out); break;
    case GR_OP_ANY: rt_reduce_any(t, x, n, stride, out); break;
    case GR_OP_COUNT_NONZERO: rt_reduce_count_nonzero(t, x, n, stride, out); break;
    default: break; /* not a reduction: ip_run dispatches by rule */
    }
}

/* Computes reduction node id into its temporary. */
static kiln_status ip_reduce(ip_state *st, gr_id id)
{
    const gr_node *n = gr_node_at(st->g, id);
    gr_op op = (gr_op)n->op;
    ip_operand o;
    char sbuf[8];
    kiln_status s = ip_red_input(st, id, &o, sbuf);
    if (s != KILN_OK)
        return s;
    /* split the input's dims into kept (output order) and reduced ones */
    unsigned mask = n->a.red.axes;
    int nk = 0, nr = 0, orank = 0;
    int64_t kext[KILN_MAX_RANK], kstr[1][KILN_MAX_RANK], rext[KILN_MAX_RANK],
        rstr[1][KILN_MAX_RANK];
    int64_t oshape[KILN_MAX_RANK], nred = 1;
    if (mask >> o.rank)
        return ip_bad_shape(st, id);
    for (int k = 0; k < o.rank; k++) {
        if (mask & (1u << k)) {
            rext[nr] = o.shape[k];
            rstr[0][nr++] = o.strides[k];
            if (!rt_mul_ok(nred, o.shape[k], &nred)) /* only if the result is empty */
                nred = INT64_MAX;
            if (n->a.red.keepdims)
                oshape[orank++] = 1;
        } else {
            kext[nk] = o.shape[k];
            kstr[0][nk++] = o.strides[k];
            oshape[orank++] = o.shape[k];
        }
    }
    if (orank != n->rank || memcmp(oshape, n->shape, (size_t)orank * sizeof *oshape) != 0)
        return ip_bad_shape(st, id);
    if (nred == 0 && (op == GR_OP_MIN || op == GR_OP_MAX || op == GR_OP_ARGMIN ||
                      op == GR_OP_ARGMAX))
        return rt_err(st->env, KILN_EINTERNAL, "interpreter: %s (node %u) of no elements",
                      gr_ops[op].name, (unsigned)id);
    if ((s = ip_alloc_temp(st, id)) != KILN_OK)
        return s;

    kiln_dtype t = o.dtype;
    int64_t esz = (int64_t)rt_dtypes[t].size, osz = (int64_t)rt_dtypes[n->dtype].size;
    int64_t count = ip_size(nk, kext), seq_stride;
    if (count == 0)
        return KILN_OK;
    bool direct = ip_one_run(nr, rext, rstr[0], esz, &seq_stride);
    char *buf = NULL;
    size_t buf_bytes = direct ? 0 : (size_t)nred * (size_t)esz;
    if (!direct && !(buf = rt_malloc(st->env, buf_bytes)))
        return rt_err(st->env, KILN_ENOMEM,
                      "out of memory gathering %lld elements for %s (node %u)", (long long)nred,
                      gr_ops[op].name, (unsigned)id);
    int64_t kidx[KILN_MAX_RANK] = {0}, koff[1] = {0};
    char *out = st->slots[id].temp;
    for (int64_t e = 0; e < count; e++) {
        const char *base = o.base + koff[0];
        const char *seq = base;
        int64_t stride = seq_stride;
        if (!direct) { /* the reduced elements in C order of their indices */
            int64_t ridx[KILN_MAX_RANK] = {0}, roff[1] = {0};
            for (int64_t j = 0; j < nred; j++) {
                memcpy(buf + j * esz, base + roff[0], (size_t)esz);
                ip_next(nr, rext, ridx, 1, roff, rstr);
            }
            seq = buf;
            stride = esz;
        }
        ip_reduce_one(op, t, seq, nred, stride, n->a.red.ddof, out + e * osz);
        ip_next(nk, kext, kidx, 1, koff, kstr);
    }
    rt_free(st->env, buf, buf_bytes);
    return KILN_OK;
}

/* One line of scan op (runtime/reduce.h). */
static void ip_scan_line(gr_op op, kiln_dtype t, const char *x, int64_t xs, char *y, int64_t ys,
                         int64_t n)
{
    switch (op) {
    case GR_OP_CUMSUM: rt_scan_sum(t, x, xs, y, ys, n); break;
    case GR_OP_CUMPROD: rt_scan_prod(t, x, xs, y, ys, n); break;
    case GR_OP_CUMMIN: rt_scan_min(t, x, xs, y, ys, n); break;
    case GR_OP_CUMMAX: rt_scan_max(t, x, xs, y, ys, n); break;
    default: break; /* not a scan: ip_run dispatches by rule */
    }
}

/* Computes scan node id into its temporary. */
static kiln_status ip_scan(ip_state *st, gr_id id)
{
    const gr_node *n = gr_node_at(st->g, id);
    gr_op op = (gr_op)n->op;
    ip_operand o;
    char sbuf[8];
    kiln_status s = ip_red_input(st, id, &o, sbuf);
    if (s != KILN_OK)
        return s;
    int ax = n->a.red.axis;
    int64_t size = ip_size(o.rank, o.shape);
    if (ax < 0 ? (n->rank != 1 || n->shape[0] != size)
               : (ax >= o.rank || n->rank != o.rank ||
                  memcmp(n->shape, o.shape, (size_t)o.rank * sizeof *o.shape) != 0))
        return ip_bad_shape(st, id);
    if ((s = ip_alloc_temp(st, id)) != KILN_OK)
        return s;
    kiln_dtype t = o.dtype;
    int64_t esz = (int64_t)rt_dtypes[t].size, stride;
    char *out = st->slots[id].temp;
    if (size == 0)
        return KILN_OK;
    if (ax < 0) { /* flattened: the input in C order, gathered unless one run */
        if (!ip_one_run(o.rank, o.shape, o.strides, esz, &stride)) {
            int64_t idx[KILN_MAX_RANK] = {0}, off[1] = {0}, str[1][KILN_MAX_RANK];
            memcpy(str[0], o.strides, sizeof str[0]);
            for (int64_t j = 0; j < size; j++) {
                memcpy(out + j * esz, o.base + off[0], (size_t)esz);
                ip_next(o.rank, o.shape, idx, 1, off, str);
            }
            ip_scan_line(op, t, out, esz, out, esz, size); /* in place */
        } else {
            ip_scan_line(op, t, o.base, stride, out, esz, size);
        }
        return KILN_OK;
    }
    /* along axis ax: every line, the other indices in C order */
    int64_t ystr[KILN_MAX_RANK] = {0}, lines[KILN_MAX_RANK], str[2][KILN_MAX_RANK];
    ip_c_strides(t, o.rank, o.shape, ystr);
    memcpy(lines, o.shape, sizeof lines);
    lines[ax] = 1;
    memcpy(str[0], o.strides, sizeof str[0]);
    memcpy(str[1], ystr, sizeof str[1]);
    int64_t idx[KILN_MAX_RANK] = {0}, off[2] = {0, 0}, nlines = ip_size(o.rank, lines);
    for (int64_t l = 0; l < nlines; l++) {
        ip_scan_line(op, t, o.base + off[0], o.strides[ax], out + off[1], ystr[ax],
                     o.shape[ax]);
        ip_next(o.rank, lines, idx, 2, off, str);
    }
    return KILN_OK;
}

/* Materializes a root that is a leaf or bound node: copies its value. */
static kiln_status ip_copy_leaf(ip_state *st, gr_id id)
{
    const gr_node *n = gr_node_at(st->g, id);
    ip_operand o;
    int64_t strides[1][KILN_MAX_RANK];
    kiln_status s;
    if ((s = ip_operand_of(st, id, &o)) != KILN_OK)
        return s;
    if (o.dtype != n->dtype)
        return rt_err(st->env, KILN_EINTERNAL, "interpreter: node %u's value has dtype %s, not %s",
                      (unsigned)id, kiln_dtype_name(o.dtype), kiln_dtype_name((kiln_dtype)n->dtype));
    if ((s = ip_broadcast(st, &o, n->rank, n->shape, strides[0])) != KILN_OK)
        return s;
    if ((s = ip_alloc_temp(st, id)) != KILN_OK)
        return s;
    kiln_dtype t = (kiln_dtype)n->dtype;
    size_t sz = rt_dtypes[t].size;
    int64_t count = ip_size(n->rank, n->shape);
    int64_t idx[KILN_MAX_RANK] = {0}, off[1] = {0};
    char *out = st->slots[id].temp;
    for (int64_t e = 0; e < count; e++) {
        rt_scalar v = o.is_scalar ? o.scalar : rt_load(t, o.base + off[0]);
        rt_store(t, out + (size_t)e * sz, v);
        ip_next(n->rank, n->shape, idx, 1, off, strides);
    }
    return KILN_OK;
}

/* Writes root id's temporary into out (any strides; same shape/dtype). */
static void ip_write_out(ip_state *st, gr_id id, kiln_array *out)
{
    if (st->slots[id].direct)
        return; /* computed in place */
    const gr_node *n = gr_node_at(st->g, id);
    size_t sz = rt_dtypes[n->dtype].size;
    int64_t count = ip_size(n->rank, n->shape);
    int64_t idx[KILN_MAX_RANK] = {0}, off[1] = {0};
    int64_t strides[1][KILN_MAX_RANK];
    memcpy(strides[0], out->strides, sizeof strides[0]);
    const char *src = st->slots[id].temp;
    for (int64_t e = 0; e < count; e++) {
        memcpy(out->data + off[0], src + (size_t)e * sz, sz);
        ip_next(n->rank, n->shape, idx, 1, off, strides);
    }
}

static bool ip_same_geometry(const gr_node *n, const kiln_array *a)
{
    if (!a || a->dtype != n->dtype || a->rank != n->rank)
        return false;
    for (int k = 0; k < n->rank; k++)
        if (a->shape[k] != n->shape[k])
            return false;
    return true;
}

/* One consumer of id is done: frees id's temporary after its last one; a
 * VIEW's source is held until the view's last consumer is done (the view
 * is read through the source's value). */
static void ip_release(ip_state *st, gr_id id)
{
    ip_slot *s = &st->slots[id];
    if (--s->uses != 0 || s->root)
        return;
    ip_free_temp(st, id);
    const gr_node *n = gr_node_at(st->g, id);
    if (gr_is_view(n->op) && !s->bound)
        ip_release(st, n->in[0]);
}

/* True if the one root may be computed straight into out: out is
 * C-contiguous (the layout of a temporary) and shares no byte with any
 * array the evaluation reads (INPUT leaves, bound values). The root is
 * the last node computed and nothing fails after its first write, so the
 * outputs are still written only on success. */
static bool ip_direct_ok(const ip_state *st, const kiln_array *out)
{
    if (out->size == 0)
        return false;
    int64_t c[KILN_MAX_RANK];
    rt_contiguous_strides(out->dtype, out->rank, out->shape, KILN_ORDER_C, c);
    for (int k = 0; k < out->rank; k++)
        if (out->shape[k] > 1 && out->strides[k] != c[k])
            return false;
    for (uint32_t id = 0; id < st->nslots; id++) {
        const ip_slot *s = &st->slots[id];
        if (!s->needed)
            continue;
        const gr_node *n = gr_node_at(st->g, id);
        const kiln_array *a = s->bound ? st->bound[s->bound - 1].array
                              : n->op == GR_OP_INPUT ? n->a.array
                                                     : NULL;
        if (a && rt_arrays_overlap(a, out))
            return false;
    }
    return true;
}

/* Steps 1 and 2. */
static kiln_status ip_run(ip_state *st, size_t nbound, size_t nroots, const gr_id *roots,
                          kiln_array *const *outs)
{
    const gr_graph *g = st->g;
    for (size_t i = 0; i < nbound; i++) {
        gr_id id = st->bound[i].node;
        if (id >= gr_count(g) || !ip_same_geometry(gr_node_at(g, id), st->bound[i].array))
            return rt_err(st->env, KILN_EINTERNAL,
                          "interpreter: binding %zu does not match its node's shape and dtype", i);
        if (id < st->nslots)
            st->slots[id].bound = (uint32_t)i + 1;
    }
    for (size_t i = 0; i < nroots; i++) {
        st->slots[roots[i]].needed = true;
        st->slots[roots[i]].root = true;
    }

    /* 1. mark, top-down: a node's inputs have smaller ids */
    for (uint32_t id = st->nslots; id-- > 0;) {
        ip_slot *s = &st->slots[id];
        if (!s->needed || s->bound)
            continue;
        const gr_node *n = gr_node_at(g, id);
        if (n->op == GR_OP_ERROR)
            return rt_err(st->env, n->a.err.status, "%s", gr_error_msg(g, id));
        if (n->op >= GR_OP_COUNT)
            return rt_err(st->env, KILN_EINTERNAL, "interpreter: node %u has unknown op %u",
                          (unsigned)id, (unsigned)n->op);
        if (gr_ops[n->op].rule == GR_RULE_LEAF)
            continue;
        for (int k = 0; k < gr_nin(n); k++) {
            gr_id in = n->in[k];
            if (in >= id)
                return rt_err(st->env, KILN_EINTERNAL,
                              "interpreter: node %u's input %u is not older", (unsigned)id,
                              (unsigned)in);
            st->slots[in].needed = true;
            st->slots[in].uses++;
        }
    }

    /* a single root is computed in place when that is safe */
    if (nroots == 1 && ip_direct_ok(st, outs[0])) {
        st->slots[roots[0]].direct = true;
        st->direct_out = outs[0];
    }

    /* 2. compute in id order; free a temporary after its last consumer */
    for (uint32_t id = 0; id < st->nslots; id++) {
        ip_slot *s = &st->slots[id];
        if (!s->needed)
            continue;
        const gr_node *n = gr_node_at(g, id);
        kiln_status r = KILN_OK;
        if (s->bound || gr_ops[n->op].rule == GR_RULE_LEAF || gr_is_view(n->op)) {
            /* read in place by consumers; a view reads its source's value,
             * released when the view's last consumer is done (ip_release) */
            if (s->root)
                r = ip_copy_leaf(st, id);
        } else {
            gr_rule rule = (gr_rule)gr_ops[n->op].rule;
            r = rule == GR_RULE_REDUCE ? ip_reduce(st, id)
                : rule == GR_RULE_SCAN ? ip_scan(st, id)
                                       : ip_compute(st, id);
            for (int k = 0; r == KILN_OK && k < gr_nin(n); k++)
                ip_release(st, n->in[k]);
        }
        if (r != KILN_OK)
            return r;
    }

    /* 3. every root is materialized: now write the outputs */
    for (size_t i = 0; i < nroots; i++)
        ip_write_out(st, roots[i], outs[i]);
    return KILN_OK;
}

kiln_status gr_interp(const gr_graph *g, rt_env *env, size_t nbound, const gr_binding *bound,
                      size_t nroots, const gr_id *roots, kiln_array *const *outs)
{
    if (!g || !env || (nroots && (!roots || !outs)) || (nbound && !bound))
        return rt_err(env, KILN_ENULL, "gr_interp: NULL argument");
    uint32_t count = gr_count(g);
    gr_id top = 0;
    for (size_t i = 0; i < nroots; i++) {
        if (roots[i] >= count)
            return rt_err(env, KILN_EINTERNAL, "interpreter: root %zu (node %u) does not exist", i,
                          (unsigned)roots[i]);
        const gr_node *n = gr_node_at(g, roots[i]);
        if (n->op == GR_OP_ERROR)
            return rt_err(env, n->a.err.status, "%s", gr_error_msg(g, roots[i]));
        if (!ip_same_geometry(n, outs[i]))
            return rt_err(env, KILN_EINVAL, "interpreter: output %zu does not have its root's "
                          "shape and dtype", i);
        if (roots[i] > top)
            top = roots[i];
    }
    if (nroots == 0)
        return KILN_OK;

    ip_state st = {.g = g, .env = env, .bound = bound, .nslots = top + 1};
    st.slots = rt_calloc(env, st.nslots, sizeof *st.slots);
    if (!st.slots)
        return rt_err(env, KILN_ENOMEM, "out of memory: interpreter state for %u nodes",
                      (unsigned)st.nslots);
    kiln_status s = ip_run(&st, nbound, nroots, roots, outs);
    for (uint32_t id = 0; id < st.nslots; id++)
        ip_free_temp(&st, id);
    rt_free(env, st.slots, (size_t)st.nslots * sizeof *st.slots);
    return s;
}
