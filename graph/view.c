/*
 * graph/view.c — views of expressions: slice, index, transpose, new axes,
 * broadcast_to, pushed down to the leaves at construction (graph/graph.h,
 * "views").
 *
 * A view is an index map m (runtime/view.h) over a node of shape T. The
 * public constructors check their arguments against T with the array API's
 * checks and messages (rt_vmap_*), then gr_view_make pushes m down:
 *
 *   node                   result
 *   ERROR                  itself (sticky)
 *   elementwise op(x...)   op(m_x(x)...), rebuilt by gr_op_make (inputs
 *                          already have their compute dtypes: no new casts)
 *   INPUT a                INPUT(the array view m of a)
 *   SCALAR                 a strong SCALAR of m's shape
 *   VIEW(x, m0)            VIEW(x, m after m0), or x if that is x
 *   reduction / scan       VIEW(node, m)
 *
 * The restriction m_x of m to input x of rank r (its dims are the last r
 * of the node's R; "full" if r == R), view dim by view dim:
 *   walks node dim D, which x has with T's extent -> walks x's dim, same
 *                                                     step, same extent;
 *   walks node dim D, which x broadcasts (extent 1 where T's is not) or
 *   lacks                                         -> extent 1, walks nothing;
 *   walks nothing (a new axis, a broadcast dim)   -> m's extent if x is
 *                                                     full, else extent 1;
 * x's fixed dims start where m starts them (0 where x broadcasts), and a
 * non-full x loses the leading dims of extent 1 that walk nothing (they
 * only repeat what broadcasting does). A rank-0 SCALAR input is left as it
 * is: it broadcasts to anything.
 *
 * Invariants: the result has m's shape and the node's dtype exactly (so
 * view(op(x, y)) is the node op(view(x), view(y)) a user would build —
 * hash-consing makes them the same node); a subexpression shared in the
 * DAG is pushed once per distinct restriction (a memo keyed by node and
 * map); the walk uses an explicit stack, so any depth is safe; the only
 * VIEW nodes made are over reductions and scans.
 */
#include "graph/build.h"

#include <string.h>

/* ---- the memo: (node, map) -> result ---------------------------------------- */

typedef struct gv_item {
    gr_id id;
    gr_id result; /* GR_NONE until computed */
    rt_vmap m;
} gv_item;

typedef struct gv_state {
    gr_graph *g;
    rt_env *env;
    gv_item *items;
    uint32_t n, cap;
    uint32_t *tab; /* open addressing over items, UINT32_MAX = empty */
    uint32_t tcap;
    uint32_t *stack;
    uint32_t sp, scap;
} gv_state;

static uint64_t gv_mix(uint64_t h, uint64_t x)
{
    h ^= x + 0x9E3779B97F4A7C15ull + (h << 6) + (h >> 2);
    h *= 0xBF58476D1CE4E5B9ull;
    return h ^ (h >> 31);
}

static uint64_t gv_hash(gr_id id, const rt_vmap *m)
{
    uint64_t h = gv_mix(id, (uint64_t)(uint8_t)m->rank << 8 | (uint8_t)m->src_rank);
    for (int d = 0; d < m->rank; d++)
        h = gv_mix(gv_mix(gv_mix(h, (uint64_t)(uint8_t)m->axis[d]), (uint64_t)m->shape[d]),
                   (uint64_t)m->step[d]);
    for (int k = 0; k < m->src_rank; k++)
        h = gv_mix(h, (uint64_t)m->start[k]);
    return h;
}

static bool gv_same(const gv_item *it, gr_id id, const rt_vmap *m)
{
    if (it->id != id || it->m.rank != m->rank || it->m.src_rank != m->src_rank)
        return false;
    for (int d = 0; d < m->rank; d++)
        if (it->m.axis[d] != m->axis[d] || it->m.shape[d] != m->shape[d] ||
            it->m.step[d] != m->step[d])
            return false;
    for (int k = 0; k < m->src_rank; k++)
        if (it->m.start[k] != m->start[k])
            return false;
    return true;
}

static void gv_free(gv_state *s)
{
    rt_free(s->env, s->items, (size_t)s->cap * sizeof *s->items);
    rt_free(s->env, s->tab, (size_t)s->tcap * sizeof *s->tab);
    rt_free(s->env, s->stack, (size_t)s->scap * sizeof *s->stack);
}

/* Keeps the table at most half full after one more item. */
static bool gv_grow(gv_state *s)
{
    if (s->n == s->cap) {
        uint32_t ncap = s->cap ? s->cap * 2u : 16u;
        gv_item *p = rt_realloc(s->env, s->items, (size_t)s->cap * sizeof *p,
                                (size_t)ncap * sizeof *p);
        if (!p)
            return false;
        s->items = p;
        s->cap = ncap;
    }
    if ((s->n + 1u) * 2u <= s->tcap)
        return true;
    uint32_t ncap = s->tcap ? s->tcap * 2u : 32u;
    uint32_t *t = rt_malloc(s->env, (size_t)ncap * sizeof *t);
    if (!t)
        return false;
    memset(t, 0xFF, (size_t)ncap * sizeof *t);
    for (uint32_t i = 0; i < s->n; i++) {
        uint32_t h = (uint32_t)gv_hash(s->items[i].id, &s->items[i].m) & (ncap - 1u);
        while (t[h] != UINT32_MAX)
            h = (h + 1u) & (ncap - 1u);
        t[h] = i;
    }
    rt_free(s->env, s->tab, (size_t)s->tcap * sizeof *s->tab);
    s->tab = t;
    s->tcap = ncap;
    return true;
}

/* The item for (id, m), added (pending) if new; UINT32_MAX on OOM. */
static uint32_t gv_item_of(gv_state *s, gr_id id, const rt_vmap *m)
{
    if (!gv_grow(s))
        return UINT32_MAX;
    uint32_t mask = s->tcap - 1u, h = (uint32_t)gv_hash(id, m) & mask;
    for (; s->tab[h] != UINT32_MAX; h = (h + 1u) & mask)
        if (gv_same(&s->items[s->tab[h]], id, m))
            return s->tab[h];
    uint32_t i = s->n++;
    s->items[i].id = id;
    s->items[i].result = GR_NONE;
    memcpy(&s->items[i].m, m, sizeof *m);
    s->tab[h] = i;
    return i;
}

static bool gv_push(gv_state *s, uint32_t item)
{
    if (s->sp == s->scap) {
        uint32_t ncap = s->scap ? s->scap * 2u : 16u;
        uint32_t *p = rt_realloc(s->env, s->stack, (size_t)s->scap * sizeof *p,
                                 (size_t)ncap * sizeof *p);
        if (!p)
            return false;
        s->stack = p;
        s->scap = ncap;
    }
    s->stack[s->sp++] = item;
    return true;
}

/* ---- restriction and leaves ---------------------------------------------------- */

/* m_x: m (over node n) restricted to input x (see the top of the file). */
static void gv_restrict(const gr_node *n, const rt_vmap *m, const gr_node *x, rt_vmap *mx)
{
    int R = n->rank, r = x->rank, o = R - r, rank = 0;
    bool full = r == R;
    memset(mx, 0, sizeof *mx);
    mx->src_rank = (int8_t)r;
    for (int k = 0; k < r; k++)
        mx->start[k] = x->shape[k] == n->shape[k + o] ? m->start[k + o] : 0;
    for (int d = 0; d < m->rank; d++) {
        int D = m->axis[d];
        int8_t axis = -1;
        int64_t ext = 1, step = 0;
        if (D >= 0) {
            if (D >= o && x->shape[D - o] == n->shape[D]) {
                axis = (int8_t)(D - o);
                ext = m->shape[d];
                step = m->step[d];
            }
        } else if (full) {
            ext = m->shape[d];
        }
        if (!full && rank == 0 && axis < 0 && ext == 1)
            continue; /* a leading dim that only repeats broadcasting */
        mx->axis[rank] = axis;
        mx->shape[rank] = ext;
        mx->step[rank] = step;
        rank++;
    }
    mx->rank = (int8_t)rank;
}

/* An ERROR node for a failed view check: the message rt_vmap_* recorded. */
static gr_id gv_error(gr_graph *g, kiln_status st)
{
    rt_env *env = gr_env(g);
    char msg[sizeof env->msg];
    pthread_mutex_lock(&env->lock);
    memcpy(msg, env->msg, sizeof msg);
    pthread_mutex_unlock(&env->lock);
    msg[sizeof msg - 1] = '\0';
    return gr_error(g, st, "%s", msg);
}

/* The view m of a node that is not elementwise (see the table above). */
static gr_id gv_leaf(gr_graph *g, gr_id id, const rt_vmap *m)
{
    const gr_node *n = gr_node_at(g, id);
    bool identity = rt_vmap_is_identity(m, n->shape);
    switch (n->op) {
    case GR_OP_ERROR:
        return id;
    case GR_OP_INPUT: {
        if (identity)
            return id;
        kiln_array *v = NULL;
        kiln_status st = rt_view_array(n->a.array, m, &v);
        if (st != KILN_OK)
            return gv_error(g, st);
        gr_id r = gr_input(g, v); /* retains v, or is an equal existing input */
        kiln_array_release(v);
        return r;
    }
    case GR_OP_SCALAR:
        if (identity && !(n->nflags & GR_NF_WEAK))
            return id;
        return gr_scalar_shaped(g, (kiln_dtype)n->dtype, n->a.scalar, m->rank, m->shape);
    default:
        break;
    }
    rt_vmap c;
    if (gr_is_view(n->op)) {
        gr_id src = n->in[0];
        rt_vmap_compose(gr_view_map(g, id), m, &c);
        if (rt_vmap_is_identity(&c, gr_node_at(g, src)->shape))
            return src;
        return gr_view_intern(g, src, &c);
    }
    if (identity)
        return id;
    memcpy(&c, m, sizeof c);
    rt_vmap_canon(&c);
    return gr_view_intern(g, id, &c);
}

/* ---- the push-down ---------------------------------------------------------------- */

static bool gv_elementwise(const gr_node *n)
{
    gr_rule rule = (gr_rule)gr_ops[n->op].rule;
    return rule != GR_RULE_LEAF && rule != GR_RULE_REDUCE && rule != GR_RULE_SCAN &&
           rule != GR_RULE_VIEW;
}

/* One step on the item at the top of the stack: computes it if its inputs
 * are done, else pushes the missing ones. False on OOM. */
static bool gv_step(gv_state *s)
{
    gr_graph *g = s->g;
    uint32_t it = s->stack[s->sp - 1];
    if (s->items[it].result != GR_NONE) {
        s->sp--;
        return true;
    }
    gr_id id = s->items[it].id;
    gr_node n = *gr_node_at(g, id); /* copied: building nodes moves the array */
    if (!gv_elementwise(&n)) {
        rt_vmap m = s->items[it].m;
        s->items[it].result = gv_leaf(g, id, &m);
        s->sp--;
        return true;
    }
    int ar = gr_nin(&n);
    gr_id in[GR_MAX_INPUTS];
    bool ready = true;
    for (int j = 0; j < ar; j++) {
        const gr_node *x = gr_node_at(g, n.in[j]);
        rt_vmap mx;
        if (x->op == GR_OP_SCALAR && x->rank == 0) {
            in[j] = n.in[j];
            continue;
        }
        gv_restrict(&n, &s->items[it].m, x, &mx);
        if (rt_vmap_is_identity(&mx, x->shape)) {
            in[j] = n.in[j];
            continue;
        }
        uint32_t c = gv_item_of(s, n.in[j], &mx);
        if (c == UINT32_MAX)
            return false;
        in[j] = s->items[c].result;
        if (in[j] == GR_NONE) {
            ready = false;
            if (!gv_push(s, c))
                return false;
        } else if (gr_node_at(g, in[j])->op == GR_OP_ERROR) {
            s->items[it].result = in[j];
            s->sp--;
            return true;
        }
    }
    if (!ready)
        return true;
    s->items[it].result = gr_node_remake(g, &n, in);
    s->sp--;
    return true;
}

gr_id gr_view_make(gr_graph *g, gr_id in, const rt_vmap *m)
{
    if (in >= gr_count(g))
        return gr_error(g, KILN_EINVAL, "view: the argument is not a live node");
    const gr_node *x = gr_node_at(g, in);
    if (x->op == GR_OP_ERROR)
        return in;
    if (m->src_rank != x->rank)
        return gr_error(g, KILN_EINTERNAL, "view: a map over rank %d applied to rank %d",
                        m->src_rank, x->rank);
    uint8_t dtype = x->dtype; /* x moves as nodes are made */
    gv_state s;
    memset(&s, 0, sizeof s);
    s.g = g;
    s.env = gr_env(g);
    uint32_t root = gv_item_of(&s, in, m);
    bool ok = root != UINT32_MAX && gv_push(&s, root);
    while (ok && s.sp)
        ok = gv_step(&s);
    gr_id r = ok ? s.items[root].result : GR_NONE;
    gv_free(&s);
    if (!ok)
        return gr_error(g, KILN_ENOMEM, "out of memory pushing a view down the expression");
    const gr_node *rn = gr_node_at(g, r);
    if (rn->op == GR_OP_ERROR)
        return r;
    bool same = rn->rank == m->rank && rn->dtype == dtype;
    for (int d = 0; same && d < m->rank; d++)
        same = rn->shape[d] == m->shape[d];
    if (!same) {
        char a[160], b[160];
        return gr_error(g, KILN_EINTERNAL, "view: pushed down to shape %s, expected %s",
                        rt_fmt_shape(a, sizeof a, rn->rank, rn->shape),
                        rt_fmt_shape(b, sizeof b, m->rank, m->shape));
    }
    return r;
}

/* ---- the constructors ----------------------------------------------------------------
 * Each: the array API's checks over in's shape (runtime/view.c), then the
 * push-down. Shape rules, as NumPy's: */

/* in[s0, s1, ...]: sliced axes get the slices' lengths, the rest keep
 * theirs; dtype kept. */
gr_id gr_view_slice(gr_graph *g, gr_id in, int nslices, const kiln_slice *s)
{
    if (in >= gr_count(g) || gr_node_at(g, in)->op == GR_OP_ERROR)
        return gr_view_make(g, in, NULL);
    const gr_node *x = gr_node_at(g, in);
    rt_vmap m;
    kiln_status st = rt_vmap_slice(gr_env(g), x->rank, x->shape, nslices, s, &m);
    return st != KILN_OK ? gv_error(g, st) : gr_view_make(g, in, &m);
}

/* in[..., index, ...]: the axis is removed; dtype kept. */
gr_id gr_view_index(gr_graph *g, gr_id in, int axis, int64_t index)
{
    if (in >= gr_count(g) || gr_node_at(g, in)->op == GR_OP_ERROR)
        return gr_view_make(g, in, NULL);
    const gr_node *x = gr_node_at(g, in);
    rt_vmap m;
    kiln_status st = rt_vmap_index(gr_env(g), x->rank, x->shape, axis, index, &m);
    return st != KILN_OK ? gv_error(g, st) : gr_view_make(g, in, &m);
}

/* transpose(in, perm): axis i is in's axis perm[i] (NULL: reversed). */
gr_id gr_view_transpose(gr_graph *g, gr_id in, const int *perm)
{
    if (in >= gr_count(g) || gr_node_at(g, in)->op == GR_OP_ERROR)
        return gr_view_make(g, in, NULL);
    const gr_node *x = gr_node_at(g, in);
    rt_vmap m;
    kiln_status st = rt_vmap_transpose(gr_env(g), x->rank, x->shape, perm, &m);
    return st != KILN_OK ? gv_error(g, st) : gr_view_make(g, in, &m);
}

/* expand_dims(in, axis): an axis of extent 1 at position axis of the
 * result (rank + 1). */
gr_id gr_view_expand_dims(gr_graph *g, gr_id in, int axis)
{
    if (in >= gr_count(g) || gr_node_at(g, in)->op == GR_OP_ERROR)
        return gr_view_make(g, in, NULL);
    const gr_node *x = gr_node_at(g, in);
    rt_vmap m;
    kiln_status st = rt_vmap_expand_dims(gr_env(g), x->rank, x->shape, axis, &m);
    return st != KILN_OK ? gv_error(g, st) : gr_view_make(g, in, &m);
}

/* broadcast_to(in, shape): NumPy's broadcasting of in's shape to shape. */
gr_id gr_view_broadcast_to(gr_graph *g, gr_id in, int rank, const int64_t *shape)
{
    if (in >= gr_count(g) || gr_node_at(g, in)->op == GR_OP_ERROR)
        return gr_view_make(g, in, NULL);
    const gr_node *x = gr_node_at(g, in);
    rt_vmap m;
    kiln_status st = rt_vmap_broadcast_to(gr_env(g), x->rank, x->shape, rank, shape, &m);
    return st != KILN_OK ? gv_error(g, st) : gr_view_make(g, in, &m);
}
