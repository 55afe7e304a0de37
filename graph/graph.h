/*
 * graph/graph.h — the lazy DAG: the op table, nodes, construction (with
 * promotion, broadcasting, folding and hash-consing), scopes, and the
 * reference interpreter.
 *
 * Nodes live in one flat array owned by a gr_graph and are named by 32-bit
 * ids. Invariants:
 *   - a node's inputs have smaller ids than the node (topological order is
 *     id order);
 *   - nodes are immutable once made; structurally equal nodes are the same
 *     node (hash-consing), so id equality is structural equality;
 *   - an elementwise node's inputs already have the node's compute dtype
 *     and broadcast to its shape (see ops.def);
 *   - scopes are a stack of marks on the node array; ending a scope drops
 *     every node at or above its mark and bumps their slots' generation, so
 *     a stale handle (id, gen) is detected.
 * graph/ includes runtime/ and nothing above it; names carry gr_.
 */
#ifndef KILN_GRAPH_H
#define KILN_GRAPH_H

#include "runtime/rt.h"
#include "runtime/udf.h"
#include "runtime/view.h"

/* ---- the op table ------------------------------------------------------ */

enum {
    GR_F_COMM = 1u << 0,
    GR_F_EXACT = 1u << 1,
    GR_F_NOBOOL = 1u << 2,
    GR_F_MATH = 1u << 3,
    GR_F_DIV = 1u << 4, /* FLOAT rule, but every int/bool T -> float64 (true_divide);
                           REDUCE: int/bool T -> float64, floats keep T (mean) */
    GR_F_ACC = 1u << 5,   /* REDUCE/SCAN: bool and integers narrower than 64 bits
                             accumulate in int64 (unsigned: uint64); floats keep T */
    GR_F_INDEX = 1u << 6, /* REDUCE: the result is an int64 index or count */
    GR_F_TRUTH = 1u << 7, /* REDUCE: the result is bool */
    GR_F_REPRO = 1u << 8, /* not exactly rounded, but the same bits in every mode and
                             at any thread count: a fixed order (runtime/reduce.h) */
};

typedef enum gr_rule {
    GR_RULE_LEAF, GR_RULE_SAME, GR_RULE_FLOAT, GR_RULE_CMP, GR_RULE_PRED,
    GR_RULE_LOGIC, GR_RULE_BITS, GR_RULE_SHIFT, GR_RULE_WHERE, GR_RULE_CAST,
    GR_RULE_REDUCE, GR_RULE_SCAN, /* not elementwise: see "reductions and scans" */
    GR_RULE_VIEW,                 /* not elementwise: see "views" */
    GR_RULE_UDF                   /* elementwise, variable arity: see "user-defined
                                     functions" */
} gr_rule;

typedef enum gr_op {
#define OP(e, name, arity, rule, flags, u64, u32) GR_OP_##e,
#include "graph/ops.def"
#undef OP
    GR_OP_COUNT
} gr_op;

typedef struct gr_op_info {
    const char *name; /* NumPy's name */
    uint8_t arity;
    uint8_t rule;   /* gr_rule */
    uint16_t flags; /* GR_F_* */
    uint8_t ulp_f64, ulp_f32;
} gr_op_info;

extern const gr_op_info gr_ops[GR_OP_COUNT];
/* The op with that NumPy name (plus aliases: "true_divide", "abs", "mod",
 * "bitwise_not", "bitwise_invert"), or -1. */
int gr_op_lookup(const char *name);

/* ---- nodes -------------------------------------------------------------- */

typedef uint32_t gr_id;
#define GR_NONE UINT32_MAX
#define GR_MAX_INPUTS 8 /* where/clip take 3; a user-defined function up to 8 */
_Static_assert(GR_MAX_INPUTS >= KILN_UDF_MAX_ARGS, "a UDF node holds its arguments");

enum {
    GR_NF_WEAK = 1u << 0, /* a weak (Python-literal) scalar: NEP 50 */
};

typedef struct gr_node {
    uint16_t op;    /* gr_op */
    uint8_t dtype;  /* kiln_dtype of the result */
    uint8_t rank;
    uint8_t nflags; /* GR_NF_* */
    uint32_t gen;   /* generation of this slot (see scopes) */
    uint32_t hash;
    gr_id in[GR_MAX_INPUTS]; /* GR_NONE beyond arity */
    int64_t shape[KILN_MAX_RANK];
    union {
        kiln_array *array; /* INPUT: retained */
        rt_scalar scalar;  /* SCALAR: value in the node's dtype */
        struct {           /* ERROR */
            kiln_status status;
            uint32_t msg; /* index into the graph's error messages */
        } err;
        struct {           /* REDUCE and SCAN rules (part of the CSE key) */
            uint8_t axes;     /* REDUCE: bit k set = input dim k is reduced */
            uint8_t keepdims; /* REDUCE: reduced dims stay, extent 1 */
            int8_t axis;      /* SCAN: the scanned input dim; -1 = the input
                                 flattened in C order (result 1-D) */
            int32_t ddof;     /* VAR, STD: delta degrees of freedom */
        } red;
        uint32_t view; /* VIEW: its index map, in the graph's table (gr_view_map) */
        struct {       /* UDF (part of the CSE key) */
            uint32_t fn;   /* the registration: index in the graph's table (gr_udf_at) */
            uint32_t nargs; /* inputs in[0..nargs) */
        } udf;
    } a;
} gr_node;

typedef struct gr_graph gr_graph;

/* The number of inputs of node n: its op's arity, or a UDF's argument count. */
static inline int gr_nin(const gr_node *n)
{
    return gr_ops[n->op].rule == GR_RULE_UDF ? (int)n->a.udf.nargs : gr_ops[n->op].arity;
}
static inline bool gr_is_udf(int op) { return gr_ops[op].rule == GR_RULE_UDF; }
/* Sets every input slot of n to GR_NONE (part of the CSE key). */
static inline void gr_no_inputs(gr_node *n)
{
    for (int i = 0; i < GR_MAX_INPUTS; i++)
        n->in[i] = GR_NONE;
}

gr_graph *gr_graph_new(rt_env *env); /* NULL on OOM */
void gr_graph_free(gr_graph *g);     /* releases every INPUT's array */

uint32_t gr_count(const gr_graph *g); /* live nodes */
/* The node; id must be < gr_count(g). */
const gr_node *gr_node_at(const gr_graph *g, gr_id id);
/* True if (id, gen) names a live node. */
bool gr_valid(const gr_graph *g, gr_id id, uint32_t gen);
/* Message of an ERROR node. */
const char *gr_error_msg(const gr_graph *g, gr_id id);

/* ---- construction -------------------------------------------------------
 * Every constructor returns the id of a live node; on failure it returns an
 * ERROR node carrying the status and message (and records it on env).
 * Passing an ERROR node as input returns that same node (sticky). OOM while
 * making the ERROR node itself returns a preallocated OOM node (id 0),
 * which exists for the graph's whole life. */
gr_id gr_input(gr_graph *g, kiln_array *a);
gr_id gr_scalar(gr_graph *g, kiln_dtype t, rt_scalar v, bool weak);
gr_id gr_error(gr_graph *g, kiln_status s, const char *fmt, ...) RT_PRINTF(3, 4);
/* An elementwise op: applies the op's dtype rule (NumPy promotion, NEP 50
 * weak scalars), broadcasts the shapes (error text as NumPy's: "operands
 * could not be broadcast together with shapes (3,) (2,)"), inserts CAST
 * nodes, folds (graph/fold.c) and hash-conses. For GR_OP_CAST, dtype is
 * the target; otherwise ignored. */
gr_id gr_op_make(gr_graph *g, gr_op op, int nin, const gr_id *in, kiln_dtype dtype);

/* ---- reductions and scans (graph/reduce.c) ------------------------------
 * Not elementwise: shape and dtype follow the op's row (REDUCE or SCAN rule
 * and its flags) and the node's attributes (gr_node.a.red). Invariant: the
 * input already has the op's compute dtype — the result dtype for
 * sum/prod/mean/var/std/cumsum/cumprod (a CAST is inserted: sum of int8
 * sums int64 elements), the input's own dtype otherwise — so evaluating
 * one is runtime/reduce.h's function on its input's elements. */
static inline bool gr_is_reduce(int op) { return gr_ops[op].rule == GR_RULE_REDUCE; }
static inline bool gr_is_scan(int op) { return gr_ops[op].rule == GR_RULE_SCAN; }
/* The result dtype of reduction or scan op on an input of dtype t. */
kiln_dtype gr_reduce_dtype(gr_op op, kiln_dtype t);
/* A reduction over axes[0..naxes) of in (naxes 0: every axis; negative
 * axes count from the end). ddof is kept by VAR and STD only. Errors:
 * KILN_EAXIS for an axis out of range or given twice, KILN_EINVAL for
 * min/max/argmin/argmax over zero elements (NumPy's messages). ARGMIN and
 * ARGMAX take one axis or every axis (the index into the flattened input)
 * and never keep dims. */
gr_id gr_reduce_make(gr_graph *g, gr_op op, gr_id in, int naxes, const int *axes,
                     bool keepdims, int ddof);
/* A scan of in along axis (negative counts from the end), or over in
 * flattened in C order if axis == KILN_AXIS_NONE (result 1-D). */
gr_id gr_scan_make(gr_graph *g, gr_op op, gr_id in, int axis);

/* ---- views (graph/view.c) -----------------------------------------------
 * A view of a node (slice, index, transpose, new axis, broadcast) is its
 * elements read through an index map (runtime/view.h). Views are pushed
 * down at construction, so the elementwise world stays elementwise:
 *   view(elementwise op(a, b)) = op(view_a(a), view_b(b)): each input gets
 *       the map restricted to its own dims — a dim it broadcasts stays
 *       extent 1, a dim it lacks is dropped, a broadcast the view adds is
 *       carried by the inputs of the node's full rank;
 *   view(INPUT array) = INPUT(the array view: runtime/view.c's, as
 *       kiln_array_slice & co. make it);
 *   view(SCALAR) = a strong SCALAR of the view's shape (rank 0 unless a
 *       view broadcast it or added an axis);
 *   view(VIEW(x, m)) = VIEW(x, the composed map), or x if that is x;
 *   view(reduction or scan x) = VIEW(x, map), rule VIEW: the one kind of
 *       node that reads its input at other positions than its own. Its
 *       input is always a reduction or scan — a value every mode
 *       materializes — so evaluating it is reading that value through the
 *       map (interpreter), or an operand whose data pointer and strides are
 *       the materialized value's, moved by the map (planner).
 * Checks and messages are the array API's (runtime/view.c); a failure is
 * an ERROR node, an ERROR input is returned as is (sticky). */
static inline bool gr_is_view(int op) { return gr_ops[op].rule == GR_RULE_VIEW; }
gr_id gr_view_slice(gr_graph *g, gr_id in, int nslices, const kiln_slice *s);
gr_id gr_view_index(gr_graph *g, gr_id in, int axis, int64_t index);
gr_id gr_view_transpose(gr_graph *g, gr_id in, const int *perm);
gr_id gr_view_expand_dims(gr_graph *g, gr_id in, int axis);
gr_id gr_view_broadcast_to(gr_graph *g, gr_id in, int rank, const int64_t *shape);
/* The view m of in, m an index map over in's shape (checked): pushed down
 * as above. */
gr_id gr_view_make(gr_graph *g, gr_id in, const rt_vmap *m);
/* The index map of a VIEW node (canonical, rt_vmap_canon); its source is
 * the node's input. */
const rt_vmap *gr_view_map(const gr_graph *g, gr_id id);

/* ---- user-defined functions (graph/udf.c) --------------------------------
 * A registration (runtime/udf.h: name, function pointer, return and
 * argument dtypes, libffi's prepared call) is kept in the graph's table
 * for the graph's whole life — scopes do not drop it — so its index and
 * address are stable. A UDF node applies registration a.udf.fn to its
 * a.udf.nargs inputs elementwise: shape the broadcast of the inputs',
 * dtype the declared return dtype; each input converted to its declared
 * argument dtype (NumPy's same_kind rule, NEP 50 for weak scalars) by an
 * explicit CAST, so after construction input k has dtype args[k]. Never
 * folded (the function is never called at build time); CSE keys on the
 * registration and the inputs, so f(x) and g(x) are different nodes and
 * f(x) twice is one. */
/* Registers fn under name (validated: see kiln_udf_register); the status
 * and message are recorded on the graph's env. */
kiln_status gr_udf_register(gr_graph *g, const char *name, kiln_udf_fn fn, kiln_dtype ret,
                            int nargs, const kiln_dtype *args);
uint32_t gr_udf_count(const gr_graph *g);
const rt_udf *gr_udf_at(const gr_graph *g, uint32_t i); /* i < gr_udf_count(g) */
/* The registration named name[0..len), or -1. */
int gr_udf_find(const gr_graph *g, const char *name, size_t len);
/* Registration fn applied to in[0..nin) (errors as gr_op_make's: sticky
 * ERROR inputs, broadcasting, dtype; a wrong count names both counts). */
gr_id gr_udf_make(gr_graph *g, uint32_t fn, int nin, const gr_id *in);
/* The registration of UDF node id. */
static inline const rt_udf *gr_udf_of(const gr_graph *g, gr_id id)
{
    return gr_udf_at(g, gr_node_at(g, id)->a.udf.fn);
}

/* Scopes: begin returns a token; end drops nodes made since. */
uint64_t gr_scope_begin(gr_graph *g);
kiln_status gr_scope_end(gr_graph *g, uint64_t token);

/* ---- dtype promotion (graph/infer.c) ------------------------------------ */

/* NumPy's promotion of two strong dtypes (int64+uint64 -> float64, ...). */
kiln_dtype gr_promote(kiln_dtype a, kiln_dtype b);

/* ---- the reference interpreter (graph/interp.c) --------------------------
 * Evaluates roots[i] into outs[i] (already allocated with the root's shape
 * and dtype, any strides). Nodes listed in bound[] are not computed: their
 * value is read from the bound array (used to run part of a plan). It
 * computes every root before writing any output, so outputs may overlap
 * inputs. Node by node, plain strided loops: obvious over fast. */
typedef struct gr_binding {
    gr_id node;
    kiln_array *array; /* shape and dtype of the node */
} gr_binding;

kiln_status gr_interp(const gr_graph *g, rt_env *env, size_t nbound, const gr_binding *bound,
                      size_t nroots, const gr_id *roots, kiln_array *const *outs);

/* Applies one elementwise op to widened scalars of dtype t (the inputs'
 * dtype; for CMP/PRED/LOGIC the result is bool). The semantics of every
 * op, in one function: the interpreter's inner step and constant folding's
 * evaluator. */
rt_scalar gr_apply(gr_op op, kiln_dtype in_t, kiln_dtype out_t, const rt_scalar *args);

#endif /* KILN_GRAPH_H */
