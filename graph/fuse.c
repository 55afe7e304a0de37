/*
 * graph/fuse.c — the fusion planner: roots -> kernels (see plan.h).
 *
 *   1. collect every node reachable from the roots (ids ascending are a
 *      topological order);
 *   2. decide which outputs must be computed into a temporary: an output
 *      whose bytes overlap an input array, unless the plan is one fused
 *      kernel and the input is read element for element where the output
 *      is written (in-place `x = x*2`);
 *   3. FUSED: one kernel per group of roots with one shape, over the nodes
 *      reachable from that group; UNFUSED: one kernel per non-leaf node,
 *      reading its inputs' temporaries, writing its own; FUSED with a
 *      reduction or scan in the DAG ("staged", pl_staged): every reduction
 *      or scan and every root is materialized, each by its own kernel in
 *      id order; every kernel fuses the elementwise nodes below it down to
 *      leaves and materialized values — a reduction/scan kernel iterates
 *      over its input's shape with that producer fused (sum(x*x) reads x
 *      once, no temporary), an elementwise consumer reads the small
 *      reduced results as broadcast operands; a VIEW node (graph/view.c:
 *      only ever over a reduction or scan) is never a body value nor a
 *      kernel of its own: each consumer reads the view's source where it
 *      is materialized, through the view's map — an operand (or a
 *      parameter, if one element) whose data is moved by the map's byte
 *      offset and whose strides are the map's — so c[w:] - c[:-w] is two
 *      loads of c's temporary at two offsets; sibling reductions (same
 *      input shape and axes, reading a common array, independent of each
 *      other: mean(d, 0) and std(d, 0), sum(x) and sum(x*x)) share one
 *      kernel (pl_sibling), whose lowering serves them in common passes;
 *      elementwise roots only other roots of their shape read ("late",
 *      pl_late_roots) come last, one kernel per shape;
 *   4. per kernel, the loop nest (pl_geometry): drop extent-1 dims, flip
 *      dims every operand walks backwards, order dims by stride, coalesce,
 *      classify strides; a reduction/scan kernel (pl_red_geometry) does so
 *      for its kept dims and keeps the reduced dims in sequence order;
 *   5. per kernel, a canonical body order independent of node ids
 *      (pl_canonicalize), so equal kernels get equal signatures.
 *
 * Invariants: kernels are in dependency order; a temporary is written by
 * exactly one kernel before any kernel reads it; every value's inputs are
 * earlier values; an input that is one element broadcast to more is a
 * parameter (read at launch), never an operand (a kernel of one element
 * reads it as a unit-stride operand: the same kernel as for n elements). Planning allocates only
 * from the plan's arena, which starts in a caller-provided buffer.
 */
#include "graph/plan.h"

#include <stdlib.h>
#include <string.h>

/* ---- arena ---------------------------------------------------------------- */

struct gr_arena_chunk {
    gr_arena_chunk *next;
    size_t size;
};

enum { PL_ALIGN = 16, PL_CHUNK = 16384 };
#define PL_HDR (((sizeof(gr_arena_chunk)) + PL_ALIGN - 1) & ~(size_t)(PL_ALIGN - 1))

void gr_plan_init(gr_plan *p, rt_env *env, void *buf, size_t cap)
{
    memset(p, 0, sizeof *p);
    p->env = env;
    if (buf && cap >= PL_ALIGN) {
        uintptr_t b = ((uintptr_t)buf + PL_ALIGN - 1) & ~(uintptr_t)(PL_ALIGN - 1);
        p->cur = (char *)b;
        p->end = (char *)buf + cap;
    }
}

void gr_plan_free(gr_plan *p)
{
    gr_arena_chunk *c = p->chunks;
    while (c) {
        gr_arena_chunk *next = c->next;
        rt_free(p->env, c, c->size);
        c = next;
    }
    p->chunks = NULL;
    p->cur = p->end = NULL;
}

/* n bytes, 16-aligned, zeroed; NULL on OOM (recorded). */
static void *pl_alloc(gr_plan *p, size_t n)
{
    n = (n + PL_ALIGN - 1) & ~(size_t)(PL_ALIGN - 1);
    if (!p->cur || (size_t)(p->end - p->cur) < n) {
        size_t size = n + PL_HDR > PL_CHUNK ? n + PL_HDR : PL_CHUNK;
        gr_arena_chunk *c = rt_malloc(p->env, size);
        if (!c) {
            rt_err(p->env, KILN_ENOMEM, "out of memory planning kernels");
            return NULL;
        }
        c->next = p->chunks;
        c->size = size;
        p->chunks = c;
        p->cur = (char *)c + PL_HDR;
        p->end = (char *)c + size;
    }
    void *r = p->cur;
    p->cur += n;
    memset(r, 0, n);
    return r;
}

#define PL_NEW(p, T, n) ((T *)pl_alloc((p), sizeof(T) * (size_t)(n)))

/* ---- node collection ------------------------------------------------------ */

/* The nodes reachable from some roots, ascending (= topological). */
typedef struct pl_nodes {
    gr_id *id;
    int n;
} pl_nodes;

static int pl_cmp_id(const void *a, const void *b)
{
    gr_id x = *(const gr_id *)a, y = *(const gr_id *)b;
    return (x > y) - (x < y);
}

/* Index of id in the sorted list, or -1. */
static int pl_find(const pl_nodes *ns, gr_id id)
{
    int lo = 0, hi = ns->n - 1;
    while (lo <= hi) {
        int mid = lo + (hi - lo) / 2;
        if (ns->id[mid] == id)
            return mid;
        if (ns->id[mid] < id)
            lo = mid + 1;
        else
            hi = mid - 1;
    }
    return -1;
}

/* Depth-first walk with an explicit stack and an open-addressing visited
 * set; both grow by doubling inside the arena. */
static kiln_status pl_collect(gr_plan *p, const gr_graph *g, size_t nroots, const gr_id *roots,
                              const int *pick, int npick, pl_nodes *out)
{
    size_t cap = 16, mask, n = 0, sp = 0, scap = 16;
    gr_id *set = PL_NEW(p, gr_id, cap), *list = PL_NEW(p, gr_id, cap), *stack = PL_NEW(p, gr_id, scap);
    if (!set || !list || !stack)
        return KILN_ENOMEM;
    memset(set, 0xff, cap * sizeof *set);
    size_t nr = pick ? (size_t)npick : nroots;
    for (size_t i = 0; i < nr; i++) {
        if (sp == scap) {
            gr_id *s2 = PL_NEW(p, gr_id, scap * 2);
            if (!s2)
                return KILN_ENOMEM;
            memcpy(s2, stack, sp * sizeof *stack);
            stack = s2;
            scap *= 2;
        }
        stack[sp++] = roots[pick ? (size_t)pick[i] : i];
    }
    while (sp) {
        gr_id id = stack[--sp];
        mask = cap - 1;
        size_t h = (id * UINT32_C(2654435761)) & mask;
        while (set[h] != GR_NONE && set[h] != id)
            h = (h + 1) & mask;
        if (set[h] == id)
            continue;
        set[h] = id;
        list[n++] = id;
        if (2 * n >= cap) { /* grow set and list */
            size_t ncap = cap * 2;
            gr_id *s2 = PL_NEW(p, gr_id, ncap), *l2 = PL_NEW(p, gr_id, ncap);
            if (!s2 || !l2)
                return KILN_ENOMEM;
            memset(s2, 0xff, ncap * sizeof *s2);
            for (size_t k = 0; k < n; k++) {
                size_t h2 = (list[k] * UINT32_C(2654435761)) & (ncap - 1);
                while (s2[h2] != GR_NONE)
                    h2 = (h2 + 1) & (ncap - 1);
                s2[h2] = list[k];
            }
            memcpy(l2, list, n * sizeof *list);
            set = s2;
            list = l2;
            cap = ncap;
        }
        const gr_node *nd = gr_node_at(g, id);
        int ar = gr_nin(nd);
        for (int k = 0; k < ar && k < GR_MAX_INPUTS; k++) {
            if (nd->in[k] == GR_NONE)
                continue;
            if (sp == scap) {
                gr_id *s2 = PL_NEW(p, gr_id, scap * 2);
                if (!s2)
                    return KILN_ENOMEM;
                memcpy(s2, stack, sp * sizeof *stack);
                stack = s2;
                scap *= 2;
            }
            stack[sp++] = nd->in[k];
        }
    }
    qsort(list, n, sizeof *list, pl_cmp_id);
    out->id = list;
    out->n = (int)n;
    if (n > UINT16_MAX - 2 * nroots - 8)
        return rt_err(p->env, KILN_EINTERNAL, "expression too large for one kernel (%zu nodes)", n);
    return KILN_OK;
}

/* ---- strides, broadcasting, overlap ------------------------------------------ */

/* Strides of an array of rank ra / shape sh / strides st broadcast into the
 * kernel shape S of rank r (NumPy's right alignment; a broadcast axis has
 * stride 0). */
static void pl_bcast(int r, const int64_t *S, int ra, const int64_t *sh, const int64_t *st,
                     int64_t *out)
{
    for (int d = 0; d < r; d++) {
        int j = d - (r - ra);
        out[d] = (j < 0 || (sh[j] == 1 && S[d] != 1)) ? 0 : st[j];
    }
}

static bool pl_all_zero(int r, const int64_t *S, const int64_t *st)
{
    for (int d = 0; d < r; d++)
        if (S[d] > 1 && st[d] != 0)
            return false;
    return true;
}

/* True if input `in`, broadcast to out's shape, reads each element exactly
 * where out writes it (so reading then writing in one iteration is safe). */
static bool pl_same_positions(const kiln_array *in, const kiln_array *out)
{
    if (in->data != out->data || rt_dtypes[in->dtype].size != rt_dtypes[out->dtype].size ||
        in->rank > out->rank)
        return false;
    int64_t st[KILN_MAX_RANK];
    pl_bcast(out->rank, out->shape, in->rank, in->shape, in->strides, st);
    for (int d = 0; d < out->rank; d++)
        if (out->shape[d] > 1 && st[d] != out->strides[d])
            return false;
    return true;
}

/* ---- kernel builder ----------------------------------------------------------- */

typedef struct pl_kb {
    gr_plan *p;
    gr_kernel *k;
    int r;                      /* kernel (iteration) rank before geometry */
    int64_t S[KILN_MAX_RANK];   /* kernel shape */
    int64_t (*st)[KILN_MAX_RANK]; /* per operand, strides in kernel dims */
    bool many;                  /* more than one element */
    int cap_ops, cap_vals, cap_params;
    uint8_t kind;               /* gr_kkind */
    unsigned red_mask;          /* REDUCE/SCAN: kernel dims reduced (scanned) */
    /* an epilogue being built (pl_epilogue_kernel): array inputs have the
     * shape of epi's result, not of the iteration space (its input) */
    const gr_node *epi, *epi_space;
    bool oom;                   /* an allocation failed (pl_finish_kernel reports it) */
} pl_kb;

static kiln_status kb_init(pl_kb *b, gr_plan *p, gr_kernel *k, int r, const int64_t *S,
                           int max_vals, int max_ops)
{
    memset(b, 0, sizeof *b);
    b->p = p;
    b->k = k;
    b->r = r;
    memcpy(b->S, S, (size_t)r * sizeof *S);
    int64_t size = 1;
    for (int d = 0; d < r; d++)
        size *= S[d];
    b->many = size > 1;
    b->cap_vals = max_vals;
    b->cap_params = max_vals;
    b->cap_ops = max_ops;
    k->vals = PL_NEW(p, gr_kval, max_vals);
    k->params = PL_NEW(p, gr_param, max_vals);
    k->ops = PL_NEW(p, gr_operand, max_ops);
    b->st = pl_alloc(p, sizeof *b->st * (size_t)max_ops);
    if (!k->vals || !k->params || !k->ops || !b->st)
        return KILN_ENOMEM;
    return KILN_OK;
}

static int kb_val(pl_kb *b, uint16_t op, kiln_dtype dtype, uint16_t arg, int nin, const int *in)
{
    gr_kernel *k = b->k;
    gr_kval *v = &k->vals[k->nvals];
    v->op = op;
    v->dtype = (uint8_t)dtype;
    v->arg = arg;
    v->nin = (uint8_t)nin;
    for (int j = 0; j < nin; j++)
        v->in[j] = (uint16_t)in[j];
    return k->nvals++;
}

/* The value of elementwise, reduction or scan node id over earlier values
 * in[0..nin) (nin: its inputs, plus var/std's ddof parameter). A UDF's
 * value names its function by its slot in the kernel's table (k->udf,
 * arg): the function's address is part of the kernel, the registration
 * index is not. */
static int kb_op(pl_kb *b, const gr_graph *g, gr_id id, int nin, const int *in)
{
    const gr_node *nd = gr_node_at(g, id);
    uint16_t arg = 0;
    if (gr_is_udf(nd->op)) {
        gr_kernel *k = b->k;
        kiln_udf_fn fn = gr_udf_of(g, id)->fn;
        while (arg < k->nudf && k->udf[arg] != fn)
            arg++;
        if (arg == k->nudf) {
            if (!k->udf && !(k->udf = PL_NEW(b->p, kiln_udf_fn, b->cap_vals)))
                b->oom = true;
            else
                k->udf[k->nudf++] = fn;
        }
    }
    return kb_val(b, nd->op, (kiln_dtype)nd->dtype, arg, nin, in);
}

static int kb_param(pl_kb *b, gr_id node, kiln_dtype dtype, gr_src src, rt_scalar value)
{
    gr_kernel *k = b->k;
    gr_param *q = &k->params[k->nparams];
    q->dtype = (uint8_t)dtype;
    q->src = src;
    q->node = node;
    if (dtype == KILN_BOOL) { /* canonical: the word is 0 or 1 */
        bool t = value.b;
        memset(&value, 0, sizeof value);
        value.u = t ? 1 : 0;
    }
    q->value = value;
    return kb_val(b, GR_OP_SCALAR, dtype, k->nparams++, 0, NULL);
}

/* An array-valued input (user array or temporary of that geometry, its
 * element 0 offset bytes from src's data): a load of a new operand, or a
 * parameter if it is one element broadcast. */
static void pl_red_out_strides(const gr_node *nd, const gr_node *in, const int64_t *st,
                               int64_t *out, unsigned *mask);

static int kb_input_at(pl_kb *b, gr_id node, kiln_dtype dtype, gr_src src, int ra,
                       const int64_t *shape, const int64_t *strides, int64_t offset)
{
    int64_t st[KILN_MAX_RANK];
    if (b->epi) { /* broadcast to the reduction's (scan's) result, then
                     placed on its input's dims like an output */
        int64_t rst[KILN_MAX_RANK];
        unsigned mask;
        pl_bcast(b->epi->rank, b->epi->shape, ra, shape, strides, rst);
        pl_red_out_strides(b->epi, b->epi_space, rst, st, &mask);
    } else {
        pl_bcast(b->r, b->S, ra, shape, strides, st);
    }
    if (b->many && pl_all_zero(b->r, b->S, st)) {
        rt_scalar z;
        memset(&z, 0, sizeof z);
        int v = kb_param(b, node, dtype, src, z);
        b->k->params[b->k->nparams - 1].offset = offset;
        return v;
    }
    gr_kernel *k = b->k;
    int o = k->nops++;
    gr_operand *op = &k->ops[o];
    op->src = src;
    op->node = node;
    op->dtype = (uint8_t)dtype;
    op->is_out = false;
    op->offset = offset;
    memcpy(b->st[o], st, sizeof st);
    return kb_val(b, GR_OP_INPUT, dtype, (uint16_t)o, 0, NULL);
}

static int kb_input(pl_kb *b, gr_id node, kiln_dtype dtype, gr_src src, int ra,
                    const int64_t *shape, const int64_t *strides)
{
    return kb_input_at(b, node, dtype, src, ra, shape, strides, 0);
}

/* Outputs must be added before any input (operands: outputs first). */
static void kb_output(pl_kb *b, gr_id root, kiln_dtype dtype, gr_src src, const int64_t *strides)
{
    gr_kernel *k = b->k;
    int o = k->nops++;
    k->nout++;
    gr_operand *op = &k->ops[o];
    op->src = src;
    op->node = root;
    op->dtype = (uint8_t)dtype;
    op->is_out = true;
    memcpy(b->st[o], strides, (size_t)b->r * sizeof *strides);
}

/* ---- loop geometry ------------------------------------------------------------- */

/* Votes whether loop dim a should run inside dim b: operands whose strides
 * in both are nonzero vote for the smaller one. */
static int pl_vote(const pl_kb *b, int a, int c)
{
    int vote = 0;
    for (int o = 0; o < b->k->nops; o++) {
        int64_t sa = llabs(b->st[o][a]), sc = llabs(b->st[o][c]);
        if (sa == 0 || sc == 0)
            continue;
        vote += (sa < sc) - (sa > sc);
    }
    return vote;
}

static gr_sclass pl_class(int64_t stride, int64_t esz)
{
    if (stride == 0)
        return GR_SC_ZERO;
    if (stride == esz)
        return GR_SC_UNIT;
    if (stride == -esz)
        return GR_SC_RUNIT;
    return GR_SC_OTHER;
}

/* Flips each of dims[0..nd) that every operand walks backwards (or not
 * at all): the loop then runs forwards from the last element. */
static void pl_flip(pl_kb *b, const int *dims, int nd)
{
    gr_kernel *k = b->k;
    for (int i = 0; i < nd; i++) {
        int d = dims[i];
        bool any_neg = false, all_le = true;
        for (int o = 0; o < k->nops; o++) {
            any_neg |= b->st[o][d] < 0;
            all_le &= b->st[o][d] <= 0;
        }
        if (any_neg && all_le)
            for (int o = 0; o < k->nops; o++) {
                k->ops[o].offset += (b->S[d] - 1) * b->st[o][d];
                b->st[o][d] = -b->st[o][d];
            }
    }
}

/* Orders dims[0..nd) outermost first (an insertion sort): a dim moves
 * inward past another only if the operands vote it has the smaller
 * strides (ties keep C order). */
static void pl_order(pl_kb *b, int *dims, int nd)
{
    for (int i = 1; i < nd; i++)
        for (int j = i; j > 0 && pl_vote(b, dims[j - 1], dims[j]) > 0; j--) {
            int t = dims[j];
            dims[j] = dims[j - 1];
            dims[j - 1] = t;
        }
}

/* Per-operand strides of the loops being built, in loop order. */
typedef int64_t pl_strides[KILN_MAX_RANK];

/* The elementwise loop rules on dims[0..nd): flipped and ordered; returns
 * room for the loops' strides (NULL: out of memory). */
static pl_strides *pl_loops_begin(pl_kb *b, int *dims, int nd)
{
    pl_flip(b, dims, nd);
    pl_order(b, dims, nd);
    return pl_alloc(b->p, sizeof(pl_strides) * (size_t)(b->k->nops ? b->k->nops : 1));
}

/* Appends dims[0..nd) (outermost first) to the loops [0, R) in ext/ls and
 * returns the new loop count: a dim is coalesced into the loop before it
 * — only one appended by this call — when every operand has stride(outer)
 * == stride(inner) * extent(inner). */
static int pl_coalesce(pl_kb *b, const int *dims, int nd, int64_t *ext, pl_strides *ls, int R)
{
    int nops = b->k->nops, first = R;
    for (int i = 0; i < nd; i++) {
        int d = dims[i];
        if (R > first) {
            bool merge = true;
            for (int o = 0; o < nops && merge; o++)
                merge = ls[o][R - 1] == b->st[o][d] * b->S[d];
            if (merge) {
                ext[R - 1] *= b->S[d];
                for (int o = 0; o < nops; o++)
                    ls[o][R - 1] = b->st[o][d];
                continue;
            }
        }
        ext[R] = b->S[d];
        for (int o = 0; o < nops; o++)
            ls[o][R] = b->st[o][d];
        R++;
    }
    return R;
}

/* Sets the kernel's loop nest: rank R, extents ext, per-operand strides
 * ls[o][d] and their classes; allocates the launch arguments. */
static kiln_status pl_set_loops(pl_kb *b, int R, const int64_t *ext, const pl_strides *ls)
{
    gr_plan *p = b->p;
    gr_kernel *k = b->k;
    int nops = k->nops;
    k->rank = R;
    memcpy(k->extent, ext, (size_t)R * sizeof *ext);
    k->strides = PL_NEW(p, int64_t, (size_t)(nops ? nops : 1) * (size_t)R);
    k->data = PL_NEW(p, char *, nops ? nops : 1);
    k->pvals = PL_NEW(p, rt_scalar, k->nparams ? k->nparams : 1);
    if (!k->strides || !k->data || !k->pvals)
        return KILN_ENOMEM;
    for (int o = 0; o < nops; o++) {
        int64_t esz = (int64_t)rt_dtypes[k->ops[o].dtype].size;
        for (int d = 0; d < R; d++) {
            k->strides[o * R + d] = ls[o][d];
            k->ops[o].sclass[d] = (uint8_t)pl_class(ls[o][d], esz);
        }
    }
    return KILN_OK;
}

static kiln_status pl_geometry(pl_kb *b)
{
    gr_kernel *k = b->k;
    int nops = k->nops;
    int dims[KILN_MAX_RANK], nd = 0;
    for (int d = 0; d < b->r; d++)
        if (b->S[d] != 1)
            dims[nd++] = d;
    int64_t ext[KILN_MAX_RANK];
    pl_strides *ls = pl_loops_begin(b, dims, nd);
    if (!ls)
        return KILN_ENOMEM;
    int R = pl_coalesce(b, dims, nd, ext, ls, 0);
    if (R == 0) { /* one element: a rank-1 loop of extent 1, every operand
                     * "unit stride" so it is the same kernel as for n > 1 */
        ext[0] = 1;
        for (int o = 0; o < nops; o++)
            ls[o][0] = (int64_t)rt_dtypes[k->ops[o].dtype].size;
        R = 1;
    }
    return pl_set_loops(b, R, ext, ls);
}

/* Votes whether dim a should run inside dim c, on strides already in loop
 * form (ls[o][a]): as pl_vote. */
static int pl_vote_ls(int nops, int64_t (*ls)[KILN_MAX_RANK], int a, int c)
{
    int vote = 0;
    for (int o = 0; o < nops; o++) {
        int64_t sa = llabs(ls[o][a]), sc = llabs(ls[o][c]);
        if (sa == 0 || sc == 0)
            continue;
        vote += (sa < sc) - (sa > sc);
    }
    return vote;
}

/* The loop nest of a reduction or scan kernel (plan.h, "reductions and
 * scans"): kept dims flipped, ordered and coalesced as pl_geometry does;
 * reduced dims kept in C order (the sequence's order), coalesced only when
 * adjacent in that order and contiguous in every operand, never flipped;
 * kept dims first, then reduced dims. */
static kiln_status pl_red_geometry(pl_kb *b)
{
    gr_kernel *k = b->k;
    int nops = k->nops;
    int kd[KILN_MAX_RANK], nk = 0, rd[KILN_MAX_RANK], nr = 0;
    for (int d = 0; d < b->r; d++) {
        if (b->S[d] == 1)
            continue;
        if (b->red_mask & (1u << d))
            rd[nr++] = d;
        else
            kd[nk++] = d;
    }
    int64_t ext[KILN_MAX_RANK];
    pl_strides *ls = pl_loops_begin(b, kd, nk);
    if (!ls)
        return KILN_ENOMEM;
    int R = 0, nkeep = 0;
    for (int pass = 0; pass < 2; pass++) {
        R = pl_coalesce(b, pass == 0 ? kd : rd, pass == 0 ? nk : nr, ext, ls, R);
        /* no kept dim: one of extent 1 (outputs unit stride, as in a
         * one-element kernel), so [begin, end) never splits a sequence —
         * unless all KILN_MAX_RANK dims are reduced and none coalesce:
         * then nred == rank, which the JIT does not lower (interpreter) */
        if (pass == 0 && R == 0 && nr < KILN_MAX_RANK) {
            ext[0] = 1;
            for (int o = 0; o < nops; o++)
                ls[o][0] = k->ops[o].is_out ? (int64_t)rt_dtypes[k->ops[o].dtype].size : 0;
            R = 1;
        }
        if (pass == 0)
            nkeep = R;
    }
    k->kind = b->kind;
    k->nred = (uint8_t)(R - nkeep);
    int64_t n = 1;
    for (int d = nkeep; d < R; d++)
        n *= ext[d];
    /* across the innermost kept dim when the strides say so, or when each
     * sequence is too short for a vector (fewer than 8 elements: the 3
     * coordinates of a distance) and that dim is long enough for one: the
     * loop over it is then the vectorized one */
    k->outer = k->nred > 0 && nk > 0 &&
               (pl_vote_ls(nops, ls, nkeep - 1, R - 1) > 0 ||
                (b->kind == GR_KK_REDUCE && n < 8 && ext[nkeep - 1] >= 8));
    return pl_set_loops(b, R, ext, ls);
}

/* ---- canonical body order ---------------------------------------------------------
 * Node ids reflect construction history (a scalar made long ago has a
 * small id; CSE orders a commutative op's inputs by id), so id order would
 * give one expression different signatures in different programs or
 * moments. The body is therefore renumbered canonically: a post-order walk
 * from the outputs, visiting a commutative op's inputs by a structural hash
 * (op, dtype, stride classes; never ids), numbering input operands and
 * parameters by first visit. Inputs with equal hashes may be visited in
 * either order: the signature comes out the same, since numbering follows
 * the visit. */

static uint64_t pl_mix(uint64_t h, uint64_t v)
{
    h ^= v + UINT64_C(0x9e3779b97f4a7c15) + (h << 6) + (h >> 2);
    return h * UINT64_C(0xff51afd7ed558ccd);
}

static uint64_t pl_val_hash(const gr_kernel *k, const uint64_t *h, int v)
{
    const gr_kval *kv = &k->vals[v];
    uint64_t x = pl_mix(kv->op, kv->dtype);
    if (kv->op == GR_OP_INPUT) {
        for (int d = 0; d < k->rank; d++)
            x = pl_mix(x, k->ops[kv->arg].sclass[d]);
        return x;
    }
    if (gr_is_udf(kv->op)) /* the function, not its slot in the table */
        x = pl_mix(x, (uint64_t)(uintptr_t)k->udf[kv->arg]);
    uint64_t in[GR_MAX_INPUTS];
    for (int j = 0; j < kv->nin; j++)
        in[j] = h[kv->in[j]];
    if (gr_ops[kv->op].flags & GR_F_COMM && kv->nin == 2 && in[0] > in[1]) {
        uint64_t t = in[0];
        in[0] = in[1];
        in[1] = t;
    }
    for (int j = 0; j < kv->nin; j++)
        x = pl_mix(x, in[j]);
    return x;
}

typedef struct pl_canon {
    const gr_kernel *k;
    const uint64_t *h;
    int *newv;          /* old value -> new value, -1 unvisited */
    int *order;         /* new value -> old value */
    int n;
    int *newop, nop;    /* old input operand -> new */
    int *newpar, npar;  /* old param -> new */
    int *stack;         /* explicit DFS stack: (value, next input) pairs */
} pl_canon;

/* Post-order from v without recursion (bodies can be deep). */
static void pl_visit(pl_canon *c, int root)
{
    const gr_kernel *k = c->k;
    int sp = 0;
    if (c->newv[root] >= 0)
        return;
    c->stack[sp++] = root;
    c->stack[sp++] = 0;
    while (sp) {
        int v = c->stack[sp - 2], j = c->stack[sp - 1];
        const gr_kval *kv = &k->vals[v];
        if (j < kv->nin) {
            c->stack[sp - 1] = j + 1;
            int in = kv->in[j];
            if (gr_ops[kv->op].flags & GR_F_COMM && kv->nin == 2) {
                int a = kv->in[0], b = kv->in[1];
                bool swap = c->h[a] > c->h[b];
                in = (j == 0) != swap ? a : b;
            }
            if (c->newv[in] < 0) {
                c->newv[in] = -2; /* on the stack */
                c->stack[sp++] = in;
                c->stack[sp++] = 0;
            }
            continue;
        }
        sp -= 2;
        if (kv->op == GR_OP_INPUT && c->newop[kv->arg] < 0)
            c->newop[kv->arg] = c->nop++;
        if (kv->op == GR_OP_SCALAR && c->newpar[kv->arg] < 0)
            c->newpar[kv->arg] = c->npar++;
        c->newv[v] = c->n;
        c->order[c->n++] = v;
    }
}

static kiln_status pl_canonicalize(gr_plan *p, gr_kernel *k)
{
    int nv = k->nvals, no = k->nops, np = k->nparams, R = k->rank;
    uint64_t *h = PL_NEW(p, uint64_t, nv ? nv : 1);
    pl_canon c = {k, h, PL_NEW(p, int, nv ? nv : 1), PL_NEW(p, int, nv ? nv : 1), 0,
                  PL_NEW(p, int, no ? no : 1), k->nout, PL_NEW(p, int, np ? np : 1), 0,
                  PL_NEW(p, int, 2 * (size_t)(nv ? nv : 1))};
    gr_kval *vals = PL_NEW(p, gr_kval, nv ? nv : 1);
    gr_operand *ops = PL_NEW(p, gr_operand, no ? no : 1);
    gr_param *params = PL_NEW(p, gr_param, np ? np : 1);
    int64_t *strides = PL_NEW(p, int64_t, (size_t)(no ? no : 1) * (size_t)R);
    if (!h || !c.newv || !c.order || !c.newop || !c.newpar || !c.stack || !vals || !ops || !params ||
        !strides)
        return KILN_ENOMEM;
    for (int v = 0; v < nv; v++) {
        h[v] = pl_val_hash(k, h, v);
        c.newv[v] = -1;
    }
    for (int o = 0; o < no; o++)
        c.newop[o] = o < k->nout ? o : -1;
    for (int q = 0; q < np; q++)
        c.newpar[q] = -1;
    for (int o = 0; o < k->nout; o++)
        pl_visit(&c, k->out_val[o]);
    /* values no output needs (none today) keep their relative order */
    for (int v = 0; v < nv; v++)
        pl_visit(&c, v);
    for (int o = 0; o < no; o++)
        if (c.newop[o] < 0)
            c.newop[o] = c.nop++;
    for (int q = 0; q < np; q++)
        if (c.newpar[q] < 0)
            c.newpar[q] = c.npar++;
    for (int i = 0; i < nv; i++) {
        gr_kval kv = k->vals[c.order[i]];
        if (kv.op == GR_OP_INPUT)
            kv.arg = (uint16_t)c.newop[kv.arg];
        else if (kv.op == GR_OP_SCALAR)
            kv.arg = (uint16_t)c.newpar[kv.arg];
        if (gr_ops[kv.op].flags & GR_F_COMM && kv.nin == 2 && h[kv.in[0]] > h[kv.in[1]]) {
            uint16_t t = kv.in[0];
            kv.in[0] = kv.in[1];
            kv.in[1] = t;
        }
        for (int j = 0; j < kv.nin; j++)
            kv.in[j] = (uint16_t)c.newv[kv.in[j]];
        vals[i] = kv;
    }
    for (int o = 0; o < no; o++) {
        ops[c.newop[o]] = k->ops[o];
        memcpy(strides + (size_t)c.newop[o] * R, k->strides + (size_t)o * R, sizeof *strides * R);
    }
    for (int q = 0; q < np; q++)
        params[c.newpar[q]] = k->params[q];
    for (int o = 0; o < k->nout; o++)
        k->out_val[o] = (uint16_t)c.newv[k->out_val[o]];
    k->vals = vals;
    k->ops = ops;
    k->params = params;
    k->strides = strides;
    return KILN_OK;
}

/* ---- the plan ---------------------------------------------------------------------- */

typedef struct pl_ctx {
    gr_plan *p;
    const gr_graph *g;
    bool fused;
    size_t n;
    const gr_id *roots;
    kiln_array *const *outs;
    int *redirect;   /* [n]: temp index computing outs[i], or -1 */
    bool *inplace;   /* [n]: output i is read in place by its kernel */
    bool outs_overlap; /* two outputs share bytes */
    pl_nodes all;
} pl_ctx;

static int pl_new_temp(gr_plan *p, kiln_dtype dtype, int rank, const int64_t *shape)
{
    int t = p->ntemps++;
    gr_temp *tm = &p->temps[t];
    tm->dtype = dtype;
    tm->rank = rank;
    memcpy(tm->shape, shape, (size_t)rank * sizeof *shape);
    tm->first_def = -1;
    tm->last_use = -1;
    return t;
}

static int64_t pl_size(int rank, const int64_t *shape)
{
    int64_t s = 1;
    for (int d = 0; d < rank; d++)
        s *= shape[d];
    return s;
}

/* The source, geometry of a materialized value: an output array or a temp. */
static gr_src pl_src_array(kiln_array *a)
{
    gr_src s = {a, -1};
    return s;
}

static gr_src pl_src_temp(int t)
{
    gr_src s = {NULL, t};
    return s;
}

static void pl_temp_strides(const gr_temp *t, int64_t *st)
{
    rt_contiguous_strides(t->dtype, t->rank, t->shape, KILN_ORDER_C, st);
}

static void pl_use(gr_plan *p, gr_src s, int kernel)
{
    if (s.temp >= 0 && p->temps[s.temp].last_use < kernel && p->temps[s.temp].last_use != INT32_MAX)
        p->temps[s.temp].last_use = kernel;
}

/* Output i's destination and its strides in its own shape. */
static gr_src pl_out_src(pl_ctx *c, size_t i, int64_t *st)
{
    int t = c->redirect[i];
    if (t >= 0) {
        pl_temp_strides(&c->p->temps[t], st);
        return pl_src_temp(t);
    }
    memcpy(st, c->outs[i]->strides, (size_t)c->outs[i]->rank * sizeof *st);
    return pl_src_array(c->outs[i]);
}

static kiln_status pl_finish_kernel(pl_ctx *c, pl_kb *b, int kidx)
{
    gr_kernel *k = b->k;
    if (b->oom)
        return KILN_ENOMEM;
    for (int o = 0; o < k->nops; o++) {
        if (k->ops[o].is_out) {
            if (k->ops[o].src.temp >= 0 && c->p->temps[k->ops[o].src.temp].first_def < 0)
                c->p->temps[k->ops[o].src.temp].first_def = kidx;
        } else {
            pl_use(c->p, k->ops[o].src, kidx);
            /* a temporary no kernel writes (it has no elements) is allocated
             * before its first reader (a reduction of an empty input) */
            if (k->ops[o].src.temp >= 0 && c->p->temps[k->ops[o].src.temp].first_def < 0)
                c->p->temps[k->ops[o].src.temp].first_def = kidx;
        }
    }
    for (int q = 0; q < k->nparams; q++)
        pl_use(c->p, k->params[q].src, kidx);
    /* noalias holds unless outputs overlap each other or an input operand
     * (in place with another dtype; same-dtype in-place inputs are loads
     * through the output's own pointer, see pl_fused_kernel) */
    k->noalias = !c->outs_overlap;
    for (int o = k->nout; o < k->nops && k->noalias; o++)
        for (int q = 0; q < k->nout && k->noalias; q++)
            if (k->ops[o].src.array && k->ops[q].src.array &&
                rt_arrays_overlap(k->ops[o].src.array, k->ops[q].src.array))
                k->noalias = false;
    kiln_status s = b->kind == GR_KK_ELEM ? pl_geometry(b) : pl_red_geometry(b);
    return s == KILN_OK ? pl_canonicalize(c->p, b->k) : s;
}

/* FUSED: one kernel for the roots in pick[0..npick), all of shape (r, S). */
static kiln_status pl_fused_kernel(pl_ctx *c, const int *pick, int npick, const pl_nodes *ns)
{
    gr_plan *p = c->p;
    const gr_graph *g = c->g;
    const gr_node *r0 = gr_node_at(g, c->roots[pick[0]]);
    if (pl_size(r0->rank, r0->shape) == 0)
        return KILN_OK; /* nothing to compute */
    int kidx = p->nkernels++;
    gr_kernel *k = &p->kernels[kidx];
    pl_kb b;
    kiln_status s = kb_init(&b, p, k, r0->rank, r0->shape, ns->n, ns->n + npick);
    if (s != KILN_OK)
        return s;
    k->out_val = PL_NEW(p, uint16_t, npick);
    int *vof = PL_NEW(p, int, ns->n);
    if (!k->out_val || !vof)
        return KILN_ENOMEM;
    for (int j = 0; j < npick; j++) {
        int64_t st[KILN_MAX_RANK];
        gr_src src = pl_out_src(c, (size_t)pick[j], st);
        kb_output(&b, c->roots[pick[j]], (kiln_dtype)gr_node_at(g, c->roots[pick[j]])->dtype,
                  src, st);
    }
    for (int i = 0; i < ns->n; i++) {
        const gr_node *nd = gr_node_at(g, ns->id[i]);
        switch (nd->op) {
        case GR_OP_INPUT: {
            kiln_array *a = nd->a.array;
            vof[i] = -1;
            /* read in place (x = x*2): a load through the output's own
             * pointer, so the vectorizer sees one address, not two that
             * might overlap */
            for (int o = 0; o < npick && vof[i] < 0; o++)
                if (c->inplace[pick[o]] && k->ops[o].src.array == c->outs[pick[o]] &&
                    a->dtype == c->outs[pick[o]]->dtype && pl_same_positions(a, c->outs[pick[o]]))
                    vof[i] = kb_val(&b, GR_OP_INPUT, a->dtype, (uint16_t)o, 0, NULL);
            if (vof[i] < 0)
                vof[i] = kb_input(&b, ns->id[i], a->dtype, pl_src_array(a), a->rank, a->shape,
                                  a->strides);
            break;
        }
        case GR_OP_SCALAR: {
            gr_src none = {NULL, -1};
            vof[i] = kb_param(&b, ns->id[i], (kiln_dtype)nd->dtype, none, nd->a.scalar);
            break;
        }
        case GR_OP_ERROR:
            return rt_err(p->env, KILN_EINTERNAL, "planner met an error node %u", ns->id[i]);
        case GR_OP_VIEW: /* only over a reduction or scan: a staged plan */
            return rt_err(p->env, KILN_EINTERNAL, "planner met a view (node %u) in a "
                          "kernel without a reduction or scan", ns->id[i]);
        default: {
            int in[GR_MAX_INPUTS], ar = gr_nin(nd);
            for (int j = 0; j < ar; j++) {
                int at = pl_find(ns, nd->in[j]);
                if (at < 0 || at >= i)
                    return rt_err(p->env, KILN_EINTERNAL, "node %u: input %u out of order",
                                  ns->id[i], nd->in[j]);
                in[j] = vof[at];
            }
            vof[i] = kb_op(&b, g, ns->id[i], ar, in);
            break;
        }
        }
    }
    for (int j = 0; j < npick; j++)
        k->out_val[j] = (uint16_t)vof[pl_find(ns, c->roots[pick[j]])];
    return pl_finish_kernel(c, &b, kidx);
}

/* UNFUSED: where each node's value lives once computed. */
typedef struct pl_loc {
    gr_src src;
    bool done;
} pl_loc;

/* The value of node id read by the kernel being built: a user input, a
 * constant, or an earlier kernel's result — or a VIEW of one, read through
 * the view's map (its source's data and strides, moved: graph/view.c).
 * A view's operand names its source's node, which the interpreter
 * fallback binds to the source's array (frontend/run.c). */
static int pl_unfused_input(pl_ctx *c, pl_kb *b, const pl_loc *loc, gr_id id)
{
    const gr_node *nd = gr_node_at(c->g, id);
    if (gr_is_view(nd->op)) {
        gr_id src = nd->in[0];
        const pl_loc *l = &loc[pl_find(&c->all, src)];
        int64_t st[KILN_MAX_RANK], vst[KILN_MAX_RANK], off;
        if (l->src.temp >= 0)
            pl_temp_strides(&c->p->temps[l->src.temp], st);
        else
            memcpy(st, l->src.array->strides, sizeof st);
        rt_vmap_apply(gr_view_map(c->g, id), st, &off, vst);
        return kb_input_at(b, src, (kiln_dtype)nd->dtype, l->src, nd->rank, nd->shape, vst, off);
    }
    if (nd->op == GR_OP_INPUT) {
        kiln_array *a = nd->a.array;
        return kb_input(b, id, a->dtype, pl_src_array(a), a->rank, a->shape, a->strides);
    }
    if (nd->op == GR_OP_SCALAR) {
        gr_src none = {NULL, -1};
        return kb_param(b, id, (kiln_dtype)nd->dtype, none, nd->a.scalar);
    }
    const pl_loc *l = &loc[pl_find(&c->all, id)];
    if (!l->done && nd->op == GR_OP_CAST) { /* cast in the reader's loop */
        int v = pl_unfused_input(c, b, loc, nd->in[0]);
        return kb_op(b, c->g, id, 1, &v);
    }
    int64_t st[KILN_MAX_RANK];
    if (l->src.temp >= 0)
        pl_temp_strides(&c->p->temps[l->src.temp], st);
    else
        memcpy(st, l->src.array->strides, sizeof st);
    return kb_input(b, id, (kiln_dtype)nd->dtype, l->src, nd->rank, nd->shape, st);
}

/* UNFUSED: a CAST that is not a root, of a value that is not a CAST, has
 * no kernel nor temporary of its own: each reader casts in its loop, as
 * a NumPy ufunc casts a mixed-dtype operand in its buffered inner loop
 * (f32 + f64 allocates the sum, not a float64 copy of the f32 operand). */
static bool pl_unfused_inline(const pl_ctx *c, const pl_loc *loc, int i)
{
    const gr_node *nd = gr_node_at(c->g, c->all.id[i]);
    return !loc[i].done && nd->op == GR_OP_CAST && gr_node_at(c->g, nd->in[0])->op != GR_OP_CAST;
}

static bool pl_boundary(const gr_node *nd);
static kiln_status pl_staged_kernel(pl_ctx *c, pl_loc *loc, const bool *cut, bool *need, int *vof,
                                    const int *mem, int nmem);

/* Every non-leaf node its own kernel and (unless a root) its own
 * temporary, as NumPy evaluates: an elementwise node reads its inputs'
 * locations; a reduction or scan is a one-member staged kernel whose body
 * stops at its (materialized) input — so unfused reductions are compiled
 * code too, not the interpreter. */
static kiln_status pl_unfused(pl_ctx *c)
{
    gr_plan *p = c->p;
    const gr_graph *g = c->g;
    int n = c->all.n;
    pl_loc *loc = PL_NEW(p, pl_loc, n);
    bool *cut = PL_NEW(p, bool, n), *need = PL_NEW(p, bool, n);
    int *vof = PL_NEW(p, int, n);
    if (!loc || !cut || !need || !vof)
        return KILN_ENOMEM;
    /* roots' nodes live in their (first) output */
    for (size_t i = 0; i < c->n; i++) {
        pl_loc *l = &loc[pl_find(&c->all, c->roots[i])];
        if (l->done)
            continue;
        int64_t st[KILN_MAX_RANK];
        l->src = pl_out_src(c, i, st);
        l->done = true;
    }
    /* materialized: every node but leaves, views and inlined casts */
    for (int i = 0; i < n; i++) {
        const gr_node *nd = gr_node_at(g, c->all.id[i]);
        cut[i] = gr_nin(nd) > 0 && !gr_is_view(nd->op) && !pl_unfused_inline(c, loc, i);
    }
    for (int i = 0; i < c->all.n; i++) {
        gr_id id = c->all.id[i];
        const gr_node *nd = gr_node_at(g, id);
        bool leaf = gr_nin(nd) == 0 || gr_is_view(nd->op);
        if (nd->op == GR_OP_ERROR)
            return rt_err(p->env, KILN_EINTERNAL, "planner met an error node %u", id);
        if (!loc[i].done) {
            if (leaf || !cut[i])
                continue; /* read directly by consumers (a view: its source; a cast: cast) */
            loc[i].src = pl_src_temp(pl_new_temp(p, (kiln_dtype)nd->dtype, nd->rank, nd->shape));
            loc[i].done = true;
        }
        if (pl_boundary(nd)) {
            kiln_status s = pl_staged_kernel(c, loc, cut, need, vof, &i, 1);
            if (s != KILN_OK)
                return s;
            continue;
        }
        if (pl_size(nd->rank, nd->shape) == 0)
            continue;
        /* outputs: the node's location plus every other root naming it */
        int nouts = 0;
        for (size_t r = 0; r < c->n; r++)
            nouts += c->roots[r] == id;
        int kidx = p->nkernels++;
        gr_kernel *k = &p->kernels[kidx];
        pl_kb b;
        kiln_status s = kb_init(&b, p, k, nd->rank, nd->shape, 2 * GR_MAX_INPUTS + 1,
                                GR_MAX_INPUTS + (nouts ? nouts : 1)); /* a cast per input */
        if (s != KILN_OK)
            return s;
        k->out_val = PL_NEW(p, uint16_t, nouts ? nouts : 1);
        if (!k->out_val)
            return KILN_ENOMEM;
        int64_t st[KILN_MAX_RANK];
        if (nouts == 0) {
            pl_temp_strides(&p->temps[loc[i].src.temp], st);
            kb_output(&b, id, (kiln_dtype)nd->dtype, loc[i].src, st);
        } else {
            for (size_t r = 0; r < c->n; r++) {
                if (c->roots[r] != id)
                    continue;
                gr_src src = pl_out_src(c, r, st);
                kb_output(&b, id, (kiln_dtype)nd->dtype, src, st);
            }
        }
        int v;
        if (leaf) { /* a root that is an input, a scalar or a view: a copy */
            v = pl_unfused_input(c, &b, loc, id);
        } else {
            int in[GR_MAX_INPUTS], ar = gr_nin(nd);
            for (int j = 0; j < ar; j++) {
                in[j] = -1;
                for (int q = 0; q < j; q++) /* x + x: one operand */
                    if (nd->in[q] == nd->in[j])
                        in[j] = in[q];
                if (in[j] < 0)
                    in[j] = pl_unfused_input(c, &b, loc, nd->in[j]);
            }
            v = kb_op(&b, g, id, ar, in);
        }
        for (int o = 0; o < k->nout; o++)
            k->out_val[o] = (uint16_t)v;
        if ((s = pl_finish_kernel(c, &b, kidx)) != KILN_OK)
            return s;
    }
    return KILN_OK;
}

/* FUSED plans with a reduction or scan: see step 3 above. */
static bool pl_boundary(const gr_node *nd)
{
    return gr_is_reduce(nd->op) || gr_is_scan(nd->op);
}

/* A reduction's (scan's) output strides st, given in the output's own
 * shape, as strides over the input's dims (0 along reduced dims); *mask
 * gets the reduced (scanned) input dims. */
static void pl_red_out_strides(const gr_node *nd, const gr_node *in, const int64_t *st,
                               int64_t *out, unsigned *mask)
{
    int r = in->rank;
    if (gr_is_reduce(nd->op)) {
        *mask = nd->a.red.axes;
        for (int d = 0, j = 0; d < r; d++) {
            bool red = *mask & (1u << d);
            out[d] = red ? 0 : st[j];
            j += !red || nd->a.red.keepdims;
        }
    } else if (nd->a.red.axis >= 0) {
        *mask = 1u << nd->a.red.axis;
        memcpy(out, st, (size_t)r * sizeof *st);
    } else { /* flattened: element i of the output is the i-th in C order */
        *mask = (1u << r) - 1u;
        int64_t step = st[0];
        for (int d = r - 1; d >= 0; d--) {
            out[d] = step;
            step *= in->shape[d];
        }
    }
}

/* Node id as a body value of the kernel b builds, its inputs being the
 * values vof gives (indexed like c->all); var/std's ddof is a launch
 * parameter after them. */
static int pl_body_op(pl_ctx *c, pl_kb *b, const int *vof, gr_id id)
{
    const gr_node *nd = gr_node_at(c->g, id);
    int in[GR_MAX_INPUTS + 1], ar = gr_nin(nd);
    for (int j = 0; j < ar; j++)
        in[j] = vof[pl_find(&c->all, nd->in[j])];
    if (nd->op == GR_OP_VAR || nd->op == GR_OP_STD) {
        gr_src none = {NULL, -1};
        rt_scalar dv;
        memset(&dv, 0, sizeof dv);
        dv.i = nd->a.red.ddof;
        in[ar++] = kb_param(b, id, KILN_INT64, none, dv);
    }
    return kb_op(b, c->g, id, ar, in);
}

/* The kernel computing materialized node all.id[im]: its outputs (the roots
 * naming it, else its temporary) and a body of the nodes below it that are
 * neither leaves nor materialized (cut), which are read instead. A
 * reduction or scan iterates over its input's shape with its producer
 * fused: the body runs down to leaves and cut nodes as any other. */
static kiln_status pl_staged_kernel(pl_ctx *c, pl_loc *loc, const bool *cut, bool *need, int *vof,
                                    const int *mem, int nmem)
{
    gr_plan *p = c->p;
    const gr_graph *g = c->g;
    int im = mem[nmem - 1]; /* members ascend */
    const gr_node *nd = gr_node_at(g, c->all.id[mem[0]]);
    for (int m = 0; m < nmem; m++) {
        const gr_node *mn = gr_node_at(g, c->all.id[mem[m]]);
        if (!loc[mem[m]].done) {
            loc[mem[m]].src = pl_src_temp(pl_new_temp(p, (kiln_dtype)mn->dtype, mn->rank, mn->shape));
            loc[mem[m]].done = true;
        }
    }
    if (pl_size(nd->rank, nd->shape) == 0)
        return KILN_OK; /* members share the input's shape and axes: all empty */
    /* the body: reverse sweep from the members, stopping at cut nodes,
     * leaves and views (read through their maps from their materialized
     * sources) */
    int nneed = 0;
    memset(need, 0, (size_t)(im + 1) * sizeof *need);
    for (int m = 0; m < nmem; m++)
        need[mem[m]] = true;
    for (int i = im; i >= 0; i--) {
        if (!need[i])
            continue;
        nneed++;
        const gr_node *ni = gr_node_at(g, c->all.id[i]);
        bool member = false;
        for (int m = 0; m < nmem; m++)
            member |= mem[m] == i;
        if ((!member && cut[i]) || gr_is_view(ni->op))
            continue;
        for (int j = 0; j < gr_nin(ni); j++) {
            int at = pl_find(&c->all, ni->in[j]);
            if (at < 0 || at >= i)
                return rt_err(p->env, KILN_EINTERNAL, "node %u: input %u out of order",
                              c->all.id[i], ni->in[j]);
            need[at] = true;
        }
    }
    int nouts = 0;
    for (int m = 0; m < nmem; m++) {
        int k = 0;
        for (size_t r = 0; r < c->n; r++)
            k += c->roots[r] == c->all.id[mem[m]];
        nouts += k ? k : 1;
    }
    int kidx = p->nkernels++;
    gr_kernel *k = &p->kernels[kidx];
    pl_kb b;
    bool red = pl_boundary(nd);
    const gr_node *space = red ? gr_node_at(g, nd->in[0]) : nd; /* the iteration space */
    kiln_status s = kb_init(&b, p, k, space->rank, space->shape, nneed + nmem, nneed + nouts);
    if (s != KILN_OK)
        return s;
    if (red)
        b.kind = gr_is_reduce(nd->op) ? GR_KK_REDUCE : GR_KK_SCAN;
    k->out_val = PL_NEW(p, uint16_t, nouts);
    int *out_of = PL_NEW(p, int, nouts); /* output -> the member it stores */
    if (!k->out_val || !out_of)
        return KILN_ENOMEM;
    int64_t st[KILN_MAX_RANK], kst[KILN_MAX_RANK];
    for (int m = 0; m < nmem; m++) {
        gr_id id = c->all.id[mem[m]];
        const gr_node *mn = gr_node_at(g, id);
        bool named = false;
        for (size_t r = 0; r < c->n; r++)
            named |= c->roots[r] == id;
        for (size_t r = 0; r < (named ? c->n : 1); r++) {
            gr_src src;
            if (!named) {
                src = loc[mem[m]].src;
                pl_temp_strides(&p->temps[src.temp], st);
            } else if (c->roots[r] == id) {
                src = pl_out_src(c, r, st);
            } else {
                continue;
            }
            if (red)
                pl_red_out_strides(mn, space, st, kst, &b.red_mask);
            out_of[k->nops] = mem[m];
            kb_output(&b, id, (kiln_dtype)mn->dtype, src, red ? kst : st);
        }
    }
    for (int i = 0; i <= im; i++) {
        if (!need[i])
            continue;
        gr_id ii = c->all.id[i];
        const gr_node *ni = gr_node_at(g, ii);
        bool member = false;
        for (int m = 0; m < nmem; m++)
            member |= mem[m] == i;
        if (gr_nin(ni) == 0 || (!member && cut[i]) || gr_is_view(ni->op)) {
            /* a leaf, a materialized value or a view of one */
            vof[i] = pl_unfused_input(c, &b, loc, ii);
            continue;
        }
        vof[i] = pl_body_op(c, &b, vof, ii);
    }
    for (int o = 0; o < k->nout; o++)
        k->out_val[o] = (uint16_t)vof[out_of[o]];
    return pl_finish_kernel(c, &b, kidx);
}

/* A reduction or scan all.id[ix] whose only reader is the elementwise root
 * all.id[ir] of the same shape, read at the same index: one kernel over
 * ix's input computes ix (producer fused) and then, per output element
 * (per element of a scan), ir's body — its epilogue. sqrt(sum(d*d, 2))
 * stores distances, not sums; cumsum(x) / n stores the running mean. The
 * epilogue's inputs are placed on the input's dims like the result
 * (stride 0 along reduced dims): pb->epi. */
static kiln_status pl_epilogue_kernel(pl_ctx *c, pl_loc *loc, const bool *cut, bool *need, int *vof,
                                      int ix, int ir)
{
    gr_plan *p = c->p;
    const gr_graph *g = c->g;
    gr_id xid = c->all.id[ix], rid = c->all.id[ir];
    const gr_node *xn = gr_node_at(g, xid), *rn = gr_node_at(g, rid);
    const gr_node *space = gr_node_at(g, xn->in[0]);
    if (pl_size(rn->rank, rn->shape) == 0)
        return KILN_OK;
    /* phase 1: ix's producer (as pl_staged_kernel); phase 2: ir's body
     * down to ix, cut nodes and leaves */
    int nneed = 0;
    memset(need, 0, (size_t)(ir + 1) * sizeof *need);
    need[ix] = true;
    for (int i = ix; i >= 0; i--) {
        if (!need[i])
            continue;
        nneed++;
        const gr_node *ni = gr_node_at(g, c->all.id[i]);
        if ((i != ix && cut[i]) || gr_is_view(ni->op))
            continue;
        for (int j = 0; j < gr_nin(ni); j++)
            need[pl_find(&c->all, ni->in[j])] = true;
    }
    bool *need2 = need + ir + 1; /* the caller's buffer holds 2n */
    memset(need2, 0, (size_t)(ir + 1) * sizeof *need2);
    need2[ir] = true;
    for (int i = ir; i >= 0; i--) {
        if (!need2[i])
            continue;
        nneed++;
        const gr_node *ni = gr_node_at(g, c->all.id[i]);
        if (i == ix || (i != ir && cut[i]) || gr_is_view(ni->op))
            continue;
        for (int j = 0; j < gr_nin(ni); j++)
            need2[pl_find(&c->all, ni->in[j])] = true;
    }
    int nouts = 0;
    for (size_t r = 0; r < c->n; r++)
        nouts += c->roots[r] == rid;
    int kidx = p->nkernels++;
    gr_kernel *k = &p->kernels[kidx];
    pl_kb b;
    kiln_status s = kb_init(&b, p, k, space->rank, space->shape, nneed + 1, nneed + nouts);
    if (s != KILN_OK)
        return s;
    b.kind = gr_is_reduce(xn->op) ? GR_KK_REDUCE : GR_KK_SCAN;
    k->out_val = PL_NEW(p, uint16_t, nouts);
    if (!k->out_val)
        return KILN_ENOMEM;
    int64_t st[KILN_MAX_RANK], kst[KILN_MAX_RANK];
    for (size_t r = 0; r < c->n; r++) {
        if (c->roots[r] != rid)
            continue;
        gr_src src = pl_out_src(c, r, st);
        pl_red_out_strides(xn, space, st, kst, &b.red_mask);
        kb_output(&b, rid, (kiln_dtype)rn->dtype, src, kst);
    }
    for (int i = 0; i <= ix; i++) {
        if (!need[i])
            continue;
        gr_id ii = c->all.id[i];
        const gr_node *ni = gr_node_at(g, ii);
        if (gr_nin(ni) == 0 || (i != ix && cut[i]) || gr_is_view(ni->op)) {
            vof[i] = pl_unfused_input(c, &b, loc, ii);
            continue;
        }
        vof[i] = pl_body_op(c, &b, vof, ii);
    }
    int xval = vof[ix];
    b.epi = xn;
    b.epi_space = space;
    for (int i = 0; i <= ir; i++) {
        if (!need2[i])
            continue;
        gr_id ii = c->all.id[i];
        const gr_node *ni = gr_node_at(g, ii);
        if (i == ix) {
            vof[i] = xval;
            continue;
        }
        if (gr_nin(ni) == 0 || (i != ir && cut[i]) || gr_is_view(ni->op)) {
            vof[i] = pl_unfused_input(c, &b, loc, ii);
            continue;
        }
        int in[GR_MAX_INPUTS], ar = gr_nin(ni);
        for (int j = 0; j < ar; j++)
            in[j] = vof[pl_find(&c->all, ni->in[j])];
        vof[i] = kb_op(&b, g, ii, ar, in);
    }
    b.epi = NULL;
    for (int o = 0; o < k->nout; o++)
        k->out_val[o] = (uint16_t)vof[ir];
    return pl_finish_kernel(c, &b, kidx);
}

/* The elementwise root kernel all.id[i] reads exactly one reduction or
 * scan at the same index and nothing else reads it: its index, else -1
 * (see pl_epilogue_kernel). readers[x] counts the kernels and views
 * reading cut node x. */
static int pl_epilogue_of(const pl_ctx *c, const bool *cut, const int *readers, bool *seen, int i)
{
    const gr_graph *g = c->g;
    const gr_node *rn = gr_node_at(g, c->all.id[i]);
    if (pl_boundary(rn) || gr_is_view(rn->op) || gr_nin(rn) == 0)
        return -1;
    memset(seen, 0, (size_t)(i + 1) * sizeof *seen);
    seen[i] = true;
    int x = -1;
    for (int k = i; k >= 0; k--) {
        if (!seen[k])
            continue;
        const gr_node *nk = gr_node_at(g, c->all.id[k]);
        if (k != i && cut[k]) {
            if (pl_boundary(nk)) {
                if (x >= 0)
                    return -1; /* two: each its own kernel */
                x = k;
            }
            continue;
        }
        if (gr_is_view(nk->op) || gr_nin(nk) == 0)
            continue;
        for (int j = 0; j < gr_nin(nk); j++)
            seen[pl_find(&c->all, nk->in[j])] = true;
    }
    if (x < 0 || readers[x] != 1)
        return -1;
    const gr_node *xn = gr_node_at(g, c->all.id[x]);
    for (size_t r = 0; r < c->n; r++)
        if (c->roots[r] == c->all.id[x])
            return -1; /* materialized anyway */
    if (xn->rank != rn->rank || memcmp(xn->shape, rn->shape, (size_t)rn->rank * sizeof *rn->shape))
        return -1;
    if (gr_is_scan(xn->op) && xn->a.red.axis < 0 && gr_node_at(g, xn->in[0])->rank != 1)
        return -1; /* a flattened scan's elements are not its input's */
    return x;
}

/* Sibling reductions: reduction all.id[j] joins the kernel of reduction
 * all.id[i] (i < j) when it reduces an input of the same shape over the
 * same axes, reads an array the kernel reads too (so one pass over it
 * serves both), and needs no value materialized at or after i (its
 * producer stops at leaves and at kernels already planned). *reads marks
 * the arrays (leaf or cut nodes) i's producer reads. */
static bool pl_sibling(const pl_ctx *c, const bool *cut, const bool *reads, bool *seen, int i, int j)
{
    const gr_graph *g = c->g;
    const gr_node *a = gr_node_at(g, c->all.id[i]), *b = gr_node_at(g, c->all.id[j]);
    if (!gr_is_reduce(b->op) || a->a.red.axes != b->a.red.axes)
        return false;
    const gr_node *ai = gr_node_at(g, a->in[0]), *bi = gr_node_at(g, b->in[0]);
    if (ai->rank != bi->rank || memcmp(ai->shape, bi->shape, (size_t)ai->rank * sizeof *ai->shape))
        return false;
    memset(seen, 0, (size_t)(j + 1) * sizeof *seen);
    seen[j] = true;
    bool shares = false;
    for (int x = j; x >= 0; x--) {
        if (!seen[x])
            continue;
        const gr_node *nx = gr_node_at(g, c->all.id[x]);
        if (x != j && cut[x]) {
            if (x >= i)
                return false; /* not planned yet (or i itself) */
            shares |= reads[x];
            continue;
        }
        if (gr_nin(nx) == 0 || gr_is_view(nx->op)) {
            shares |= reads[x] || (gr_is_view(nx->op) && reads[pl_find(&c->all, nx->in[0])]);
            continue;
        }
        for (int k = 0; k < gr_nin(nx); k++)
            seen[pl_find(&c->all, nx->in[k])] = true;
    }
    return shares;
}

static bool pl_same_shape(const gr_node *a, const gr_node *b)
{
    return a->rank == b->rank && memcmp(a->shape, b->shape, (size_t)a->rank * sizeof *a->shape) == 0;
}

/* What cut node all.id[i]'s kernel body reads, found by a reverse sweep
 * that stops at other cut nodes and at views: each read cut node x as
 * reads[r] = x + 1, each view's source as reads[r] = -(x + 1) (a view
 * needs its source stored). Returns the count. */
static int pl_body_reads(const pl_ctx *c, const bool *cut, bool *seen, int i, int *reads)
{
    const gr_graph *g = c->g;
    int nr = 0;
    memset(seen, 0, (size_t)(i + 1) * sizeof *seen);
    seen[i] = true;
    for (int k = i; k >= 0; k--) {
        if (!seen[k])
            continue;
        const gr_node *nk = gr_node_at(g, c->all.id[k]);
        if (k != i && cut[k]) {
            reads[nr++] = k + 1;
            continue;
        }
        if (gr_is_view(nk->op)) {
            reads[nr++] = -(pl_find(&c->all, nk->in[0]) + 1);
            continue;
        }
        for (int j = 0; j < gr_nin(nk); j++)
            seen[pl_find(&c->all, nk->in[j])] = true;
    }
    return nr;
}

/* Late roots (late[i]): elementwise roots that no kernel reads except
 * other late roots of the same shape, and no view reads. They are planned
 * after every other kernel, those of one shape as ONE kernel whose body
 * computes each root once and stores it: the seed's SMA, volatility and
 * z-score (one shape, each reading the SMA, all reading the same two
 * cumsums) are one pass, not three kernels that re-read the cumsums and
 * each other's outputs. Such a kernel's non-member reads are all planned
 * before it: they are not late. Found as a fixpoint: start from every
 * elementwise root not absorbed as an epilogue, and unmark any read by a
 * kernel that is not late (or of another shape) or by a view. A root
 * finishing a reduction as its epilogue (epi[i] >= 0) is planned with it. */
static void pl_late_roots(const pl_ctx *c, const bool *cut, const bool *absorbed, const int *epi,
                          bool *seen, int *rd, bool *late)
{
    const gr_graph *g = c->g;
    int n = c->all.n;
    for (int i = 0; i < n; i++) {
        const gr_node *nd = gr_node_at(g, c->all.id[i]);
        late[i] = cut[i] && !absorbed[i] && epi[i] < 0 && !pl_boundary(nd) &&
                  !gr_is_view(nd->op) && gr_nin(nd) > 0;
    }
    for (bool changed = true; changed;) {
        changed = false;
        for (int i = 0; i < n; i++) {
            if (!cut[i])
                continue;
            const gr_node *ni = gr_node_at(g, c->all.id[i]);
            int nr = pl_body_reads(c, cut, seen, i, rd);
            for (int r = 0; r < nr; r++) {
                int x = (rd[r] > 0 ? rd[r] : -rd[r]) - 1;
                bool keep = rd[r] > 0 && late[i] && pl_same_shape(ni, gr_node_at(g, c->all.id[x]));
                if (!keep && late[x]) {
                    late[x] = false;
                    changed = true;
                }
            }
        }
    }
}

static kiln_status pl_staged(pl_ctx *c)
{
    gr_plan *p = c->p;
    const gr_graph *g = c->g;
    int n = c->all.n;
    pl_loc *loc = PL_NEW(p, pl_loc, n);
    bool *cut = PL_NEW(p, bool, n), *need = PL_NEW(p, bool, 2 * (size_t)n), *done = PL_NEW(p, bool, n);
    bool *reads = PL_NEW(p, bool, n), *seen = PL_NEW(p, bool, n);
    int *vof = PL_NEW(p, int, n), *mem = PL_NEW(p, int, n), *readers = PL_NEW(p, int, n);
    int *epi = PL_NEW(p, int, n); /* elementwise root -> the reduction it finishes */
    int *rd = PL_NEW(p, int, n);  /* pl_body_reads's result */
    bool *absorbed = PL_NEW(p, bool, n);
    if (!loc || !cut || !need || !done || !reads || !seen || !vof || !mem || !readers || !epi ||
        !absorbed || !rd)
        return KILN_ENOMEM;
    for (size_t i = 0; i < c->n; i++) {
        int at = pl_find(&c->all, c->roots[i]);
        cut[at] = true;
        if (loc[at].done)
            continue;
        int64_t st[KILN_MAX_RANK];
        loc[at].src = pl_out_src(c, i, st);
        loc[at].done = true;
    }
    for (int i = 0; i < n; i++) {
        const gr_node *nd = gr_node_at(g, c->all.id[i]);
        if (nd->op == GR_OP_ERROR)
            return rt_err(p->env, KILN_EINTERNAL, "planner met an error node %u", c->all.id[i]);
        if (!pl_boundary(nd))
            continue;
        cut[i] = true; /* its input is not: the producer is fused into it */
    }
    /* who reads each cut node: kernels (their bodies stop there) and views */
    for (int i = 0; i < n; i++) {
        if (!cut[i])
            continue;
        int nr = pl_body_reads(c, cut, seen, i, rd);
        for (int r = 0; r < nr; r++)
            readers[(rd[r] > 0 ? rd[r] : -rd[r]) - 1] += rd[r] > 0 ? 1 : 2; /* a view: stored */
    }
    for (int i = 0; i < n; i++) {
        epi[i] = cut[i] ? pl_epilogue_of(c, cut, readers, seen, i) : -1;
        if (epi[i] >= 0)
            absorbed[epi[i]] = true;
    }
    bool *late = PL_NEW(p, bool, n);
    if (!late)
        return KILN_ENOMEM;
    pl_late_roots(c, cut, absorbed, epi, seen, rd, late);
    for (int i = 0; i < n; i++) {
        if (!cut[i] || done[i] || absorbed[i] || late[i])
            continue;
        if (epi[i] >= 0) {
            done[i] = true;
            kiln_status s = pl_epilogue_kernel(c, loc, cut, need, vof, epi[i], i);
            if (s != KILN_OK)
                return s;
            continue;
        }
        int nmem = 0;
        mem[nmem++] = i;
        if (gr_is_reduce(gr_node_at(g, c->all.id[i])->op)) {
            /* the arrays i's producer reads, then its siblings */
            memset(reads, 0, (size_t)n * sizeof *reads);
            memset(seen, 0, (size_t)(i + 1) * sizeof *seen);
            seen[i] = true;
            for (int x = i; x >= 0; x--) {
                if (!seen[x])
                    continue;
                const gr_node *nx = gr_node_at(g, c->all.id[x]);
                if ((x != i && cut[x]) || gr_nin(nx) == 0) {
                    reads[x] = true;
                    continue;
                }
                if (gr_is_view(nx->op)) {
                    reads[pl_find(&c->all, nx->in[0])] = true;
                    continue;
                }
                for (int k = 0; k < gr_nin(nx); k++)
                    seen[pl_find(&c->all, nx->in[k])] = true;
            }
            for (int j = i + 1; j < n && nmem < GR_SIBLINGS; j++)
                if (cut[j] && !done[j] && !absorbed[j] && pl_sibling(c, cut, reads, seen, i, j))
                    mem[nmem++] = j;
        }
        for (int m = 0; m < nmem; m++)
            done[mem[m]] = true;
        kiln_status s = pl_staged_kernel(c, loc, cut, need, vof, mem, nmem);
        if (s != KILN_OK)
            return s;
    }
    /* the late roots, last: those of one shape as one kernel */
    for (int i = 0; i < n; i++) {
        if (!late[i] || done[i])
            continue;
        int nmem = 0;
        for (int j = i; j < n; j++)
            if (late[j] && !done[j] && pl_same_shape(gr_node_at(g, c->all.id[i]),
                                                     gr_node_at(g, c->all.id[j]))) {
                mem[nmem++] = j;
                done[j] = true;
            }
        kiln_status s = pl_staged_kernel(c, loc, cut, need, vof, mem, nmem);
        if (s != KILN_OK)
            return s;
    }
    return KILN_OK;
}

kiln_status gr_plan_build(gr_plan *p, const gr_graph *g, bool fused, size_t n, const gr_id *roots,
                          kiln_array *const *outs)
{
    pl_ctx c;
    memset(&c, 0, sizeof c);
    c.p = p;
    c.g = g;
    c.fused = fused;
    c.n = n;
    c.roots = roots;
    c.outs = outs;
    kiln_status s = pl_collect(p, g, n, roots, NULL, 0, &c.all);
    if (s != KILN_OK)
        return s;
    c.redirect = PL_NEW(p, int, n);
    c.inplace = PL_NEW(p, bool, n);
    int *group = PL_NEW(p, int, n);
    /* capacity: unfused makes at most one temp per node plus one per
     * output; fused one kernel per root */
    p->temps = PL_NEW(p, gr_temp, (size_t)c.all.n + n);
    p->kernels = PL_NEW(p, gr_kernel, (size_t)c.all.n + n);
    if (!c.redirect || !c.inplace || !group || !p->temps || !p->kernels)
        return KILN_ENOMEM;

    /* groups of roots with one shape (FUSED) */
    int ngroups = 0;
    for (size_t i = 0; i < n; i++) {
        const gr_node *ri = gr_node_at(g, roots[i]);
        group[i] = -1;
        for (size_t j = 0; j < i && group[i] < 0; j++) {
            const gr_node *rj = gr_node_at(g, roots[j]);
            if (rj->rank == ri->rank &&
                memcmp(rj->shape, ri->shape, (size_t)ri->rank * sizeof *ri->shape) == 0)
                group[i] = group[j];
        }
        if (group[i] < 0)
            group[i] = ngroups++;
    }

    /* a reduction or scan: several kernels even when fused (pl_staged) */
    bool staged = false;
    for (int i = 0; i < c.all.n && fused && !staged; i++)
        staged = pl_boundary(gr_node_at(g, c.all.id[i]));

    /* outputs that overlap inputs (or, for in-place safety, each other) */
    for (size_t i = 0; i < n; i++) {
        c.redirect[i] = -1;
        kiln_array *o = outs[i];
        bool must = false, touches = false;
        for (int j = 0; j < c.all.n && !must; j++) {
            const gr_node *nd = gr_node_at(g, c.all.id[j]);
            if (nd->op != GR_OP_INPUT || !rt_arrays_overlap(nd->a.array, o))
                continue;
            touches = true;
            must = !fused || staged || ngroups > 1 || !pl_same_positions(nd->a.array, o);
        }
        for (size_t j = 0; j < n; j++)
            if (j != i && outs[j] != o && rt_arrays_overlap(outs[j], o))
                c.outs_overlap = true;
        if (must && o->size > 0)
            c.redirect[i] = pl_new_temp(p, o->dtype, o->rank, o->shape);
        if (must && o->size > 0) {
            p->temps[c.redirect[i]].copy_to = o;
            p->temps[c.redirect[i]].last_use = INT32_MAX;
        }
        c.inplace[i] = touches && !must;
    }

    if (!fused)
        return pl_unfused(&c);
    if (staged)
        return pl_staged(&c);

    int *pick = PL_NEW(p, int, n);
    if (!pick)
        return KILN_ENOMEM;
    for (int gi = 0; gi < ngroups; gi++) {
        int np = 0;
        for (size_t i = 0; i < n; i++)
            if (group[i] == gi)
                pick[np++] = (int)i;
        pl_nodes ns = c.all;
        if (ngroups > 1 && (s = pl_collect(p, g, n, roots, pick, np, &ns)) != KILN_OK)
            return s;
        if ((s = pl_fused_kernel(&c, pick, np, &ns)) != KILN_OK)
            return s;
    }
    return KILN_OK;
}

/* ---- launch binding ---------------------------------------------------------- */

static char *pl_src_data(const gr_plan *p, gr_src s)
{
    if (s.array)
        return s.array->data;
    const kiln_array *a = p->temps[s.temp].array;
    return a ? a->data : NULL;
}

int64_t gr_kernel_bind(gr_kernel *k, const gr_plan *p)
{
    for (int o = 0; o < k->nops; o++)
        k->data[o] = pl_src_data(p, k->ops[o].src) + k->ops[o].offset;
    for (int q = 0; q < k->nparams; q++) {
        const gr_param *pm = &k->params[q];
        if (pm->src.array || pm->src.temp >= 0) {
            rt_scalar v = rt_load((kiln_dtype)pm->dtype, pl_src_data(p, pm->src) + pm->offset);
            if (pm->dtype == KILN_BOOL) {
                bool t = v.b;
                memset(&v, 0, sizeof v);
                v.u = t ? 1 : 0;
            }
            k->pvals[q] = v;
        } else {
            k->pvals[q] = pm->value;
        }
    }
    k->args.data = k->data;
    k->args.extent = k->extent;
    k->args.strides = k->strides;
    k->args.params = k->pvals;
    int64_t size = 1;
    for (int d = 0; d < k->rank; d++)
        size *= k->extent[d];
    return size;
}

/* ---- dump ---------------------------------------------------------------------- */

static const char *const pl_class_name[] = {"zero", "unit", "runit", "other"};

static void pl_dump_src(const gr_plan *p, gr_src s, FILE *f)
{
    if (s.array)
        fprintf(f, "array %p", (void *)s.array);
    else if (s.temp >= 0)
        fprintf(f, "temp t%d", s.temp);
    else
        fprintf(f, "const");
    (void)p;
}

void gr_plan_dump(const gr_plan *p, FILE *f)
{
    fprintf(f, "plan: %d kernel(s), %d temporar%s\n", p->nkernels, p->ntemps,
            p->ntemps == 1 ? "y" : "ies");
    for (int t = 0; t < p->ntemps; t++) {
        const gr_temp *tm = &p->temps[t];
        char sh[128];
        fprintf(f, "  t%d: %s%s written by k%d, last read by k%d%s\n", t,
                kiln_dtype_name(tm->dtype), rt_fmt_shape(sh, sizeof sh, tm->rank, tm->shape),
                tm->first_def, tm->last_use == INT32_MAX ? -1 : tm->last_use,
                tm->copy_to ? ", copied to an output" : "");
    }
    for (int ki = 0; ki < p->nkernels; ki++) {
        const gr_kernel *k = &p->kernels[ki];
        fprintf(f, "kernel %d: rank %d extents", ki, k->rank);
        for (int d = 0; d < k->rank; d++)
            fprintf(f, " %lld", (long long)k->extent[d]);
        fprintf(f, "%s\n", k->noalias ? ", noalias" : "");
        for (int o = 0; o < k->nops; o++) {
            const gr_operand *op = &k->ops[o];
            fprintf(f, "  %s%d %s node %u (", op->is_out ? "out" : "in", o,
                    kiln_dtype_name((kiln_dtype)op->dtype), op->node);
            pl_dump_src(p, op->src, f);
            fprintf(f, ") strides");
            for (int d = 0; d < k->rank; d++)
                fprintf(f, " %lld:%s", (long long)k->strides[o * k->rank + d],
                        pl_class_name[op->sclass[d]]);
            fprintf(f, "\n");
        }
        for (int q = 0; q < k->nparams; q++) {
            fprintf(f, "  p%d %s node %u (", q, kiln_dtype_name((kiln_dtype)k->params[q].dtype),
                    k->params[q].node);
            pl_dump_src(p, k->params[q].src, f);
            fprintf(f, ")\n");
        }
        for (int v = 0; v < k->nvals; v++) {
            const gr_kval *kv = &k->vals[v];
            fprintf(f, "  v%d = %s.%s", v, gr_ops[kv->op].name,
                    kiln_dtype_name((kiln_dtype)kv->dtype));
            if (kv->op == GR_OP_INPUT)
                fprintf(f, " in%d", kv->arg);
            else if (kv->op == GR_OP_SCALAR)
                fprintf(f, " p%d", kv->arg);
            for (int j = 0; j < kv->nin; j++)
                fprintf(f, " v%d", kv->in[j]);
            fprintf(f, "\n");
        }
        for (int o = 0; o < k->nout; o++)
            fprintf(f, "  out%d <- v%d\n", o, k->out_val[o]);
    }
}
