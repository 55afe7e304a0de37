/*
 * graph/graph.c — node storage, hash-consing, leaves, errors and scopes.
 *
 * Storage: one flat array of gr_node, grown by doubling through rt_realloc;
 * ids are indices. Slots [0, count) are live. Slots [count, hw) were live
 * once (their nodes were dropped by a scope) and keep only their generation,
 * which the next node made in the slot inherits.
 *
 * Invariants:
 *   - node 0 is the preallocated OOM ERROR node; it is never dropped (every
 *     scope mark is >= 1), so "out of memory" can always be reported;
 *   - every live node except ERROR nodes is in the CSE table exactly once,
 *     and the table holds nothing else. The table is open addressing with
 *     linear probing, at most half full, keyed by the node's hash (op, dtype,
 *     flags, inputs, attribute: what an INPUT's array reads — its buffer
 *     and the positions of its elements, so two handles of one view are
 *     one input —, a SCALAR's value and shape, a reduction's or scan's
 *     a.red fields); deletion shifts entries back (no tombstones), so a
 *     table that lives through millions of scopes stays clean;
 *   - an INPUT node holds one reference to its array, taken when the node
 *     is appended and dropped with the node;
 *   - a VIEW node's index map lives in the vmaps table at a.view; the table
 *     holds exactly the live VIEW nodes' maps in node order (a map is kept
 *     when its node is appended, dropped with it), so a scope's end
 *     truncates it as it truncates the node array;
 *   - SCALAR values are normalized to their dtype (bool 0/1, integers
 *     wrapped to their width, float32 values rounded to float) with the
 *     unused bytes of the union zero, so the 64 bits of .u are the CSE key:
 *     -0.0 and 0.0, and NaNs with different payloads, are different nodes;
 *   - error messages are kept in creation order; the messages of ERROR nodes
 *     dropped by a scope are a suffix of the list;
 *   - a scope token encodes (serial, depth, mark) and is valid only while it
 *     is the innermost open scope; ending it drops nodes [mark, count),
 *     releasing their arrays and messages, removing them from the table and
 *     bumping each slot's generation, so handles to them become stale.
 *     Memory is bounded by the largest number of nodes ever live at once.
 */
#include "graph/build.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define GR_MSG_NONE UINT32_MAX /* node 0's message: static "out of memory" */
#define GR_SCOPE_MAX_DEPTH 0xFFFFu
#define GR_MAX_NODES (UINT32_MAX / 4u)

struct gr_graph {
    rt_env *env; /* retained */
    gr_node *nodes;
    uint32_t count, hw, cap;
    uint32_t *tab; /* CSE table: node ids, GR_NONE = empty */
    uint32_t tcap, tused;
    char **msgs; /* ERROR node messages, in creation order */
    uint32_t nmsgs, msgcap;
    uint64_t *scopes; /* open scope tokens, innermost last */
    uint32_t depth, scap;
    uint32_t serial;
    rt_vmap *vmaps; /* VIEW nodes' index maps, in creation order */
    uint32_t nvmaps, vmapcap;
    rt_udf **udfs; /* user-defined functions, in registration order (graph/udf.c) */
    uint32_t nudfs, udfcap;
};

/* ---- small helpers ----------------------------------------------------- */

static uint64_t gr_mix(uint64_t h, uint64_t x)
{
    h ^= x + 0x9E3779B97F4A7C15ull + (h << 6) + (h >> 2);
    h *= 0xBF58476D1CE4E5B9ull;
    return h ^ (h >> 31);
}

/* The attributes of a REDUCE or SCAN node as one key (every field, so no
 * padding byte is read). */
static uint64_t gr_red_key(const gr_node *n)
{
    return (uint64_t)n->a.red.axes | (uint64_t)n->a.red.keepdims << 8 |
           (uint64_t)(uint8_t)n->a.red.axis << 16 | (uint64_t)(uint32_t)n->a.red.ddof << 32;
}

static bool gr_has_red(const gr_node *n)
{
    return n->op < GR_OP_COUNT && (gr_is_reduce(n->op) || gr_is_scan(n->op));
}

/* An INPUT's key is what it reads: the buffer, and where in it each
 * element sits (data and the strides of dims of extent > 1; nothing for an
 * empty array). Two array handles with one geometry are one input. */
static uint64_t gr_input_key(const kiln_array *a)
{
    uint64_t h = gr_mix((uint64_t)(uintptr_t)a->buf, (uint64_t)a->rank);
    for (int k = 0; k < a->rank; k++)
        h = gr_mix(h, (uint64_t)a->shape[k]);
    if (a->size == 0)
        return h;
    h = gr_mix(h, (uint64_t)(uintptr_t)a->data);
    for (int k = 0; k < a->rank; k++)
        if (a->shape[k] > 1)
            h = gr_mix(h, (uint64_t)a->strides[k]);
    return h;
}

static bool gr_input_same(const kiln_array *a, const kiln_array *b)
{
    if (a == b)
        return true;
    if (a->buf != b->buf || a->dtype != b->dtype || a->rank != b->rank)
        return false;
    for (int k = 0; k < a->rank; k++)
        if (a->shape[k] != b->shape[k])
            return false;
    if (a->size == 0)
        return true;
    if (a->data != b->data)
        return false;
    for (int k = 0; k < a->rank; k++)
        if (a->shape[k] > 1 && a->strides[k] != b->strides[k])
            return false;
    return true;
}

/* A SCALAR's shape is part of its key: a scalar broadcast to a shape (a
 * view of a scalar, graph/view.c) is a SCALAR of that shape. */
static uint64_t gr_shape_key(const gr_node *n)
{
    uint64_t h = n->rank;
    for (int k = 0; k < n->rank; k++)
        h = gr_mix(h, (uint64_t)n->shape[k]);
    return h;
}

static bool gr_same_shape(const gr_node *a, const gr_node *b)
{
    if (a->rank != b->rank)
        return false;
    for (int k = 0; k < a->rank; k++)
        if (a->shape[k] != b->shape[k])
            return false;
    return true;
}

/* A VIEW's map, field by field (no padding byte is read). */
static uint64_t gr_vmap_key(const rt_vmap *m)
{
    uint64_t h = gr_mix((uint64_t)(uint8_t)m->src_rank, (uint64_t)(uint8_t)m->rank);
    for (int d = 0; d < m->rank; d++)
        h = gr_mix(gr_mix(gr_mix(h, (uint64_t)(uint8_t)m->axis[d]), (uint64_t)m->shape[d]),
                   (uint64_t)m->step[d]);
    for (int k = 0; k < m->src_rank; k++)
        h = gr_mix(h, (uint64_t)m->start[k]);
    return h;
}

static bool gr_vmap_equal(const rt_vmap *a, const rt_vmap *b)
{
    if (a->src_rank != b->src_rank || a->rank != b->rank)
        return false;
    for (int d = 0; d < a->rank; d++)
        if (a->axis[d] != b->axis[d] || a->shape[d] != b->shape[d] || a->step[d] != b->step[d])
            return false;
    for (int k = 0; k < a->src_rank; k++)
        if (a->start[k] != b->start[k])
            return false;
    return true;
}

static bool gr_has_view(const gr_node *n) { return n->op < GR_OP_COUNT && gr_is_view(n->op); }

static bool gr_has_udf(const gr_node *n) { return n->op < GR_OP_COUNT && gr_is_udf(n->op); }

static uint32_t gr_hash_node(const gr_graph *g, const gr_node *n)
{
    uint64_t h = (uint64_t)n->op | (uint64_t)n->dtype << 16 | (uint64_t)n->nflags << 24;
    for (int i = 0; i < GR_MAX_INPUTS; i++)
        h = gr_mix(h, n->in[i]);
    if (n->op == GR_OP_INPUT)
        h = gr_mix(h, gr_input_key(n->a.array));
    else if (n->op == GR_OP_SCALAR)
        h = gr_mix(gr_mix(h, n->a.scalar.u), gr_shape_key(n));
    else if (gr_has_red(n))
        h = gr_mix(h, gr_red_key(n));
    else if (gr_has_view(n))
        h = gr_mix(h, gr_vmap_key(&g->vmaps[n->a.view]));
    else if (gr_has_udf(n))
        h = gr_mix(h, (uint64_t)n->a.udf.fn << 32 | n->a.udf.nargs);
    return (uint32_t)(h ^ (h >> 32));
}

static bool gr_node_equal(const gr_graph *g, const gr_node *a, const gr_node *b)
{
    if (a->op != b->op || a->dtype != b->dtype || a->nflags != b->nflags)
        return false;
    for (int i = 0; i < GR_MAX_INPUTS; i++)
        if (a->in[i] != b->in[i])
            return false;
    if (a->op == GR_OP_INPUT)
        return gr_input_same(a->a.array, b->a.array);
    if (a->op == GR_OP_SCALAR)
        return a->a.scalar.u == b->a.scalar.u && gr_same_shape(a, b);
    if (gr_has_red(a))
        return gr_red_key(a) == gr_red_key(b);
    if (gr_has_view(a))
        return gr_vmap_equal(&g->vmaps[a->a.view], &g->vmaps[b->a.view]);
    if (gr_has_udf(a))
        return a->a.udf.fn == b->a.udf.fn && a->a.udf.nargs == b->a.udf.nargs;
    return true;
}

static uint32_t gr_next_gen(uint32_t gen)
{
    return gen == UINT32_MAX ? 1u : gen + 1u; /* 0 is never a valid generation */
}

/* ---- growth ------------------------------------------------------------ */

static bool gr_grow_nodes(gr_graph *g)
{
    if (g->count < g->cap)
        return true;
    if (g->cap >= GR_MAX_NODES)
        return false;
    uint32_t ncap = g->cap * 2u;
    gr_node *p = rt_realloc(g->env, g->nodes, (size_t)g->cap * sizeof *p,
                            (size_t)ncap * sizeof *p);
    if (!p)
        return false;
    g->nodes = p;
    g->cap = ncap;
    return true;
}

static void gr_tab_put(uint32_t *tab, uint32_t mask, uint32_t hash, gr_id id)
{
    uint32_t i = hash & mask;
    while (tab[i] != GR_NONE)
        i = (i + 1u) & mask;
    tab[i] = id;
}

/* Keeps the table at most half full after one more insertion. */
static bool gr_grow_tab(gr_graph *g)
{
    if ((g->tused + 1u) * 2u <= g->tcap)
        return true;
    uint32_t ncap = g->tcap * 2u;
    uint32_t *t = rt_malloc(g->env, (size_t)ncap * sizeof *t);
    if (!t)
        return false;
    memset(t, 0xFF, (size_t)ncap * sizeof *t); /* GR_NONE */
    for (uint32_t i = 0; i < g->tcap; i++)
        if (g->tab[i] != GR_NONE)
            gr_tab_put(t, ncap - 1u, g->nodes[g->tab[i]].hash, g->tab[i]);
    rt_free(g->env, g->tab, (size_t)g->tcap * sizeof *g->tab);
    g->tab = t;
    g->tcap = ncap;
    return true;
}

/* Removes id from the table, shifting later entries of its probe run back
 * so that no lookup ever needs a tombstone. */
static void gr_tab_remove(gr_graph *g, gr_id id)
{
    uint32_t mask = g->tcap - 1u;
    uint32_t i = g->nodes[id].hash & mask;
    while (g->tab[i] != id) {
        if (g->tab[i] == GR_NONE)
            return; /* not interned (cannot happen for a live non-ERROR node) */
        i = (i + 1u) & mask;
    }
    g->tused--;
    for (;;) {
        g->tab[i] = GR_NONE;
        uint32_t j = i;
        for (;;) {
            j = (j + 1u) & mask;
            if (g->tab[j] == GR_NONE)
                return;
            uint32_t k = g->nodes[g->tab[j]].hash & mask; /* home slot of entry j */
            bool stays = i <= j ? (i < k && k <= j) : (i < k || k <= j);
            if (!stays)
                break;
        }
        g->tab[i] = g->tab[j];
        i = j;
    }
}

/* Appends n (whose hash is set) in slot count, inheriting the slot's
 * generation. The caller has ensured capacity. */
static gr_id gr_append(gr_graph *g, const gr_node *n)
{
    gr_id id = g->count;
    uint32_t gen = id < g->hw ? g->nodes[id].gen : 1u;
    g->nodes[id] = *n;
    g->nodes[id].gen = gen;
    g->count++;
    if (g->count > g->hw)
        g->hw = g->count;
    return id;
}

static gr_id gr_oom(gr_graph *g)
{
    rt_err(g->env, KILN_ENOMEM, "out of memory while building the expression graph");
    return 0;
}

/* ---- the graph ----------------------------------------------------------- */

gr_graph *gr_graph_new(rt_env *env)
{
    gr_graph *g = rt_calloc(env, 1, sizeof *g);
    if (!g)
        return NULL;
    g->env = env;
    g->cap = 64;
    g->tcap = 128;
    g->msgcap = 8;
    g->scap = 8;
    g->nodes = rt_malloc(env, (size_t)g->cap * sizeof *g->nodes);
    g->tab = rt_malloc(env, (size_t)g->tcap * sizeof *g->tab);
    g->msgs = rt_malloc(env, (size_t)g->msgcap * sizeof *g->msgs);
    g->scopes = rt_malloc(env, (size_t)g->scap * sizeof *g->scopes);
    if (!g->nodes || !g->tab || !g->msgs || !g->scopes) {
        rt_free(env, g->nodes, (size_t)g->cap * sizeof *g->nodes);
        rt_free(env, g->tab, (size_t)g->tcap * sizeof *g->tab);
        rt_free(env, g->msgs, (size_t)g->msgcap * sizeof *g->msgs);
        rt_free(env, g->scopes, (size_t)g->scap * sizeof *g->scopes);
        rt_free(env, g, sizeof *g);
        return NULL;
    }
    memset(g->tab, 0xFF, (size_t)g->tcap * sizeof *g->tab);
    rt_env_retain(env);

    gr_node oom;
    memset(&oom, 0, sizeof oom);
    oom.op = GR_OP_ERROR;
    oom.dtype = KILN_FLOAT64;
    gr_no_inputs(&oom);
    oom.a.err.status = KILN_ENOMEM;
    oom.a.err.msg = GR_MSG_NONE;
    gr_append(g, &oom);
    return g;
}

static void gr_drop_from(gr_graph *g, uint32_t mark)
{
    while (g->count > mark) {
        gr_id id = g->count - 1u;
        gr_node *n = &g->nodes[id];
        if (n->op == GR_OP_ERROR) {
            if (n->a.err.msg != GR_MSG_NONE) {
                char *m = g->msgs[n->a.err.msg];
                rt_free(g->env, m, strlen(m) + 1u);
                g->nmsgs = n->a.err.msg;
            }
        } else {
            gr_tab_remove(g, id);
            if (n->op == GR_OP_INPUT)
                kiln_array_release(n->a.array);
            else if (gr_has_view(n))
                g->nvmaps = n->a.view; /* maps are dropped in reverse order too */
        }
        n->gen = gr_next_gen(n->gen);
        g->count--;
    }
}

void gr_graph_free(gr_graph *g)
{
    if (!g)
        return;
    rt_env *env = g->env;
    for (uint32_t id = 1; id < g->count; id++) {
        gr_node *n = &g->nodes[id];
        if (n->op == GR_OP_INPUT)
            kiln_array_release(n->a.array);
    }
    for (uint32_t i = 0; i < g->nmsgs; i++)
        rt_free(env, g->msgs[i], strlen(g->msgs[i]) + 1u);
    rt_free(env, g->nodes, (size_t)g->cap * sizeof *g->nodes);
    rt_free(env, g->tab, (size_t)g->tcap * sizeof *g->tab);
    rt_free(env, g->msgs, (size_t)g->msgcap * sizeof *g->msgs);
    rt_free(env, g->scopes, (size_t)g->scap * sizeof *g->scopes);
    rt_free(env, g->vmaps, (size_t)g->vmapcap * sizeof *g->vmaps);
    for (uint32_t i = 0; i < g->nudfs; i++)
        rt_udf_free(env, g->udfs[i]);
    rt_free(env, g->udfs, (size_t)g->udfcap * sizeof *g->udfs);
    rt_free(env, g, sizeof *g);
    rt_env_release(env);
}

rt_env *gr_env(const gr_graph *g) { return g->env; }

uint32_t gr_count(const gr_graph *g) { return g ? g->count : 0; }

const gr_node *gr_node_at(const gr_graph *g, gr_id id) { return &g->nodes[id]; }

bool gr_valid(const gr_graph *g, gr_id id, uint32_t gen)
{
    return g && id < g->count && g->nodes[id].gen == gen;
}

const char *gr_error_msg(const gr_graph *g, gr_id id)
{
    if (!g || id >= g->count || g->nodes[id].op != GR_OP_ERROR)
        return "";
    uint32_t m = g->nodes[id].a.err.msg;
    return m == GR_MSG_NONE ? "out of memory" : g->msgs[m];
}

/* ---- hash-consing -------------------------------------------------------- */

gr_id gr_intern(gr_graph *g, const gr_node *n)
{
    uint32_t hash = gr_hash_node(g, n);
    uint32_t mask = g->tcap - 1u;
    for (uint32_t i = hash & mask; g->tab[i] != GR_NONE; i = (i + 1u) & mask) {
        const gr_node *m = &g->nodes[g->tab[i]];
        if (m->hash == hash && gr_node_equal(g, m, n))
            return g->tab[i];
    }
    if (!gr_grow_nodes(g) || !gr_grow_tab(g))
        return gr_oom(g);
    gr_node tmp = *n;
    tmp.hash = hash;
    gr_id id = gr_append(g, &tmp);
    gr_tab_put(g->tab, g->tcap - 1u, hash, id);
    g->tused++;
    if (n->op == GR_OP_INPUT)
        kiln_array_retain(n->a.array);
    else if (gr_has_view(n))
        g->nvmaps++; /* the staged map (gr_view_intern) is now the node's */
    return id;
}

/* ---- leaves ---------------------------------------------------------------- */

static void gr_leaf_init(gr_node *n, gr_op op, kiln_dtype t)
{
    memset(n, 0, sizeof *n);
    n->op = (uint16_t)op;
    n->dtype = (uint8_t)t;
    gr_no_inputs(n);
}

/* INPUT: dtype and shape of the array; the array is read at evaluation. */
gr_id gr_input(gr_graph *g, kiln_array *a)
{
    if (!a)
        return gr_error(g, KILN_ENULL, "input: NULL array");
    if (!rt_dtype_valid(a->dtype) || a->rank < 0 || a->rank > KILN_MAX_RANK)
        return gr_error(g, KILN_EINVAL, "input: malformed array (dtype %d, rank %d)",
                        (int)a->dtype, a->rank);
    gr_node n;
    gr_leaf_init(&n, GR_OP_INPUT, a->dtype);
    n.rank = (uint8_t)a->rank;
    for (int k = 0; k < a->rank; k++)
        n.shape[k] = a->shape[k];
    n.a.array = a;
    return gr_intern(g, &n);
}

/* The value normalized to dtype t, unused bytes zero (the CSE key). */
static rt_scalar gr_normalize(kiln_dtype t, rt_scalar v)
{
    rt_scalar r;
    memset(&r, 0, sizeof r);
    switch (t) {
    case KILN_BOOL: {
        unsigned char byte; /* .b's byte, read without trusting it to be 0/1 */
        memcpy(&byte, &v, 1);
        r.u = byte != 0;
        break;
    }
    case KILN_INT8: r.i = (int8_t)(uint8_t)v.u; break;
    case KILN_INT16: r.i = (int16_t)(uint16_t)v.u; break;
    case KILN_INT32: r.i = (int32_t)(uint32_t)v.u; break;
    case KILN_INT64: r.i = v.i; break;
    case KILN_UINT8: r.u = (uint8_t)v.u; break;
    case KILN_UINT16: r.u = (uint16_t)v.u; break;
    case KILN_UINT32: r.u = (uint32_t)v.u; break;
    case KILN_UINT64: r.u = v.u; break;
    case KILN_FLOAT32: r.f = (double)(float)v.f; break;
    case KILN_FLOAT64: r.f = v.f; break;
    default: break;
    }
    if (t == KILN_BOOL) {
        bool b = r.u != 0;
        memset(&r, 0, sizeof r);
        r.b = b;
    }
    return r;
}

/* SCALAR: rank 0, dtype t; weak scalars take the dtype they meet (NEP 50). */
gr_id gr_scalar(gr_graph *g, kiln_dtype t, rt_scalar v, bool weak)
{
    if (!rt_dtype_valid((int)t))
        return gr_error(g, KILN_EINVAL, "scalar: invalid dtype %d", (int)t);
    gr_node n;
    gr_leaf_init(&n, GR_OP_SCALAR, t);
    n.nflags = weak ? GR_NF_WEAK : 0;
    n.a.scalar = gr_normalize(t, v);
    return gr_intern(g, &n);
}

/* SCALAR broadcast to shape: strong, rank as given. */
gr_id gr_scalar_shaped(gr_graph *g, kiln_dtype t, rt_scalar v, int rank, const int64_t *shape)
{
    if (!rt_dtype_valid((int)t) || rank < 0 || rank > KILN_MAX_RANK)
        return gr_error(g, KILN_EINVAL, "scalar: invalid dtype %d or rank %d", (int)t, rank);
    gr_node n;
    gr_leaf_init(&n, GR_OP_SCALAR, t);
    n.a.scalar = gr_normalize(t, v);
    n.rank = (uint8_t)rank;
    for (int k = 0; k < rank; k++)
        n.shape[k] = shape[k];
    return gr_intern(g, &n);
}

/* VIEW: in's dtype, m's shape. The map is staged in the first free slot
 * of the table; gr_intern keeps it (nvmaps++) only if the node is new, so
 * the table holds exactly the live VIEW nodes' maps, in node order. */
gr_id gr_view_intern(gr_graph *g, gr_id in, const rt_vmap *m)
{
    if (g->nvmaps == g->vmapcap) {
        uint32_t ncap = g->vmapcap ? g->vmapcap * 2u : 16u;
        rt_vmap *p = rt_realloc(g->env, g->vmaps, (size_t)g->vmapcap * sizeof *p,
                                (size_t)ncap * sizeof *p);
        if (!p)
            return gr_oom(g);
        g->vmaps = p;
        g->vmapcap = ncap;
    }
    memcpy(&g->vmaps[g->nvmaps], m, sizeof *m);
    const gr_node *x = &g->nodes[in];
    gr_node n;
    memset(&n, 0, sizeof n);
    n.op = GR_OP_VIEW;
    n.dtype = x->dtype;
    n.rank = (uint8_t)m->rank;
    for (int d = 0; d < m->rank; d++)
        n.shape[d] = m->shape[d];
    gr_no_inputs(&n);
    n.in[0] = in;
    n.a.view = g->nvmaps;
    return gr_intern(g, &n);
}

const rt_vmap *gr_view_map(const gr_graph *g, gr_id id) { return &g->vmaps[g->nodes[id].a.view]; }

/* ---- user-defined functions: the table (graph/udf.c does the rest) ------------ */

uint32_t gr_udf_count(const gr_graph *g) { return g ? g->nudfs : 0; }

const rt_udf *gr_udf_at(const gr_graph *g, uint32_t i) { return g->udfs[i]; }

/* Appends u (owned by the graph from now on); false on OOM (u untouched). */
bool gr_udf_add(gr_graph *g, rt_udf *u)
{
    if (g->nudfs == g->udfcap) {
        uint32_t ncap = g->udfcap ? g->udfcap * 2u : 8u;
        rt_udf **p = rt_realloc(g->env, g->udfs, (size_t)g->udfcap * sizeof *p,
                                (size_t)ncap * sizeof *p);
        if (!p)
            return false;
        g->udfs = p;
        g->udfcap = ncap;
    }
    g->udfs[g->nudfs++] = u;
    return true;
}

/* ERROR: never hash-consed (each failure is its own node with its own
 * message); the status and message are also recorded on env. */
gr_id gr_error(gr_graph *g, kiln_status s, const char *fmt, ...)
{
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (s == KILN_OK)
        s = KILN_EINTERNAL;

    size_t len = strlen(buf);
    if (g->nmsgs == g->msgcap) {
        char **p = rt_realloc(g->env, g->msgs, (size_t)g->msgcap * sizeof *p,
                              (size_t)g->msgcap * 2u * sizeof *p);
        if (!p)
            goto oom;
        g->msgs = p;
        g->msgcap *= 2u;
    }
    char *m = rt_malloc(g->env, len + 1u);
    if (!m)
        goto oom;
    if (!gr_grow_nodes(g)) {
        rt_free(g->env, m, len + 1u);
        goto oom;
    }
    memcpy(m, buf, len + 1u);
    g->msgs[g->nmsgs] = m;

    gr_node n;
    gr_leaf_init(&n, GR_OP_ERROR, KILN_FLOAT64);
    n.a.err.status = s;
    n.a.err.msg = g->nmsgs++;
    gr_id id = gr_append(g, &n);
    rt_err(g->env, s, "%s", buf);
    return id;
oom:
    rt_err(g->env, KILN_ENOMEM, "out of memory (while reporting: %s)", buf);
    return 0;
}

/* ---- scopes ------------------------------------------------------------------- */

/* Token layout: serial (16 bits) | depth (16 bits, 1-based) | mark (32). */
uint64_t gr_scope_begin(gr_graph *g)
{
    if (g->depth >= GR_SCOPE_MAX_DEPTH) {
        rt_err(g->env, KILN_EINVAL, "scope_begin: more than %u nested scopes",
               GR_SCOPE_MAX_DEPTH);
        return 0;
    }
    if (g->depth == g->scap) {
        uint64_t *p = rt_realloc(g->env, g->scopes, (size_t)g->scap * sizeof *p,
                                 (size_t)g->scap * 2u * sizeof *p);
        if (!p) {
            rt_err(g->env, KILN_ENOMEM, "out of memory in scope_begin");
            return 0;
        }
        g->scopes = p;
        g->scap *= 2u;
    }
    g->serial = (g->serial + 1u) & 0xFFFFu;
    uint64_t token = (uint64_t)g->serial << 48 | (uint64_t)(g->depth + 1u) << 32 | g->count;
    g->scopes[g->depth++] = token;
    return token;
}

kiln_status gr_scope_end(gr_graph *g, uint64_t token)
{
    if (g->depth == 0 || token != g->scopes[g->depth - 1u]) {
        uint32_t d = (uint32_t)(token >> 32) & 0xFFFFu;
        if (d >= 1u && d < g->depth && g->scopes[d - 1u] == token)
            return rt_err(g->env, KILN_ESCOPE,
                          "scope_end: the scope at depth %u ended while the scope at depth %u "
                          "is still open (end the innermost scope first)",
                          d, g->depth);
        return rt_err(g->env, KILN_ESCOPE,
                      "scope_end: token %#llx is not an open scope (already ended or never "
                      "begun)",
                      (unsigned long long)token);
    }
    gr_drop_from(g, (uint32_t)token);
    g->depth--;
    return KILN_OK;
}
