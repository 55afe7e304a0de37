/*
 * graph/plan.h — fusion plans: what kernels an evaluation runs, and the
 * canonical signature that names a kernel in the JIT cache.
 *
 * A plan is a list of kernels in dependency order plus the temporaries
 * between them. A kernel is a loop nest and a body:
 *   - the loop nest has rank R >= 1 and extents in loop order (outermost
 *     first): dimensions of extent 1 dropped, dimensions every operand
 *     walks backwards flipped, dimensions ordered so the innermost loop
 *     walks the smallest strides, adjacent dimensions contiguous in every
 *     operand coalesced;
 *   - operands are outputs first, then inputs; each has a stride per loop
 *     dimension and its class (UNIT, RUNIT = minus one element, ZERO,
 *     OTHER) — the classes are compiled in, the strides are arguments;
 *   - the body is a list of values in topological order: loads of input
 *     operands (op GR_OP_INPUT), parameters (op GR_OP_SCALAR: scalars and
 *     inputs that are one element broadcast everywhere, passed at launch,
 *     never compiled in), and elementwise ops on earlier values; each
 *     output stores one value.
 * FUSED: every group of roots with one shape is ONE kernel (each input
 * element read once, each shared subexpression computed once per element,
 * no temporaries). UNFUSED: every non-leaf node is its own kernel writing
 * a temporary, as NumPy evaluates.
 *
 * Invariants:
 *   - a plan never refers to graph memory after gr_plan_build returns
 *     (kernels carry ops and dtypes by value), except for the node ids
 *     kept for the interpreter fallback;
 *   - an output that overlaps an input other than element for element (or
 *     any input, unless the whole plan is one kernel) is computed into a
 *     temporary and copied at the end: the result is as if every input
 *     were read before any output was written;
 *   - the plan's memory is one arena, freed by gr_plan_free.
 * graph/ includes runtime/ only; names carry gr_.
 */
#ifndef KILN_GR_PLAN_H
#define KILN_GR_PLAN_H

#include "graph/graph.h"
#include "runtime/kernel.h"

/* Stride class of one operand in one loop dimension. */
typedef enum gr_sclass {
    GR_SC_ZERO = 0,  /* broadcast: stride 0 */
    GR_SC_UNIT = 1,  /* stride == element size */
    GR_SC_RUNIT = 2, /* stride == -element size */
    GR_SC_OTHER = 3  /* anything else: a runtime stride */
} gr_sclass;

/* What a kernel computes (gr_kernel.kind). */
typedef enum gr_kkind { GR_KK_ELEM = 0, GR_KK_REDUCE = 1, GR_KK_SCAN = 2 } gr_kkind;

/* At most this many sibling reductions share one kernel (graph/fuse.c). */
enum { GR_SIBLINGS = 8 };

/* One value of a kernel body. */
typedef struct gr_kval {
    uint16_t op;    /* gr_op; INPUT: load operand arg (an input, or an output
                       read in place); SCALAR: param arg; UDF: call function
                       udf[arg] of the kernel */
    uint8_t dtype;  /* kiln_dtype of the value */
    uint8_t nin;
    uint16_t in[GR_MAX_INPUTS]; /* indices of earlier values */
    uint16_t arg;
} gr_kval;

/* Where an operand's or a parameter's array comes from at launch: a user
 * array (borrowed: the graph or the caller keeps it alive) or a plan
 * temporary. */
typedef struct gr_src {
    kiln_array *array; /* or NULL: */
    int32_t temp;      /* index into plan->temps, -1 if array */
} gr_src;

typedef struct gr_operand {
    gr_src src;
    gr_id node;     /* output: the root node it receives; input: the node */
    uint8_t dtype;
    bool is_out;
    uint8_t sclass[KILN_MAX_RANK]; /* gr_sclass per loop dimension */
    int64_t offset; /* bytes from the array's data to the loop origin */
} gr_operand;

typedef struct gr_param {
    uint8_t dtype;
    gr_src src;       /* an array (read at launch) or, if src.array is NULL */
    rt_scalar value;  /* and src.temp < 0, this constant (canonical form) */
    gr_id node;
    int64_t offset;   /* bytes from the array's data to the element read (a
                         view of a materialized value, graph/view.c) */
} gr_param;

typedef struct gr_kernel {
    int rank;                      /* >= 1 */
    int64_t extent[KILN_MAX_RANK]; /* loop order, outermost first */
    uint16_t nops, nout, nparams, nvals;
    gr_operand *ops;
    gr_param *params;
    gr_kval *vals;
    uint16_t *out_val; /* [nout]: value stored into output operand k */
    bool noalias;      /* no output overlaps another operand */
    /* User-defined functions the body calls (UDF values' arg), each once:
     * compiled in by address (jit/lower.c), so such a kernel is valid only
     * in this process (gr_kernel_has_udf). */
    uint16_t nudf;
    kiln_udf_fn *udf;
    /* Reductions and scans (staged FUSED plans, graph/fuse.c). kind
     * GR_KK_ELEM is the elementwise loop nest above. GR_KK_REDUCE and
     * GR_KK_SCAN iterate over the reduction's (scan's) INPUT: loop dims
     * [0, rank - nred) are kept — one output element (one scanned line)
     * per index; at least one such dim, of extent 1 when the input has
     * none — and dims [rank - nred, rank) are reduced (scanned) in the
     * order of runtime/reduce.h's sequence: C order of the input's axes,
     * never flipped, so the sequence index is the mixed-radix number of
     * their indices. Outputs have stride 0 along reduced dims. outer: the
     * innermost kept dim has smaller strides than the reduced dims (column
     * sums of a C-order matrix), or a reduction's sequences are shorter
     * than 8 and that dim has 8 outputs or more (the coordinates of
     * distances), so the lowering vectorizes across it. The
     * body ends in the REDUCE (SCAN) values the outputs store; a VAR/STD
     * value has a second input, an int64 parameter holding its ddof. */
    uint8_t kind;      /* gr_kkind */
    uint8_t nred;
    bool outer;
    /* Ready-made launch arguments: strides[k*rank + d]; data[] and params[]
     * are filled by gr_kernel_bind just before launch. */
    int64_t *strides;
    char **data;
    rt_scalar *pvals;
    rt_kargs args;
} gr_kernel;

typedef struct gr_temp {
    kiln_dtype dtype;
    int rank;
    int64_t shape[KILN_MAX_RANK];
    kiln_array *array;   /* allocated by the runner before first_def runs */
    int first_def;       /* kernel that writes it */
    int last_use;        /* last kernel that reads it (INT32_MAX: a copy-out) */
    kiln_array *copy_to; /* an output redirected here, copied at the end */
} gr_temp;

typedef struct gr_arena_chunk gr_arena_chunk;

typedef struct gr_plan {
    rt_env *env;
    /* arena: a caller-provided first block, then rt_malloc'd chunks */
    char *cur, *end;
    gr_arena_chunk *chunks;
    /* result */
    int nkernels;
    gr_kernel *kernels;
    int ntemps;
    gr_temp *temps;
} gr_plan;

/* Prepares an empty plan whose arena starts in buf[0..cap) (may be NULL/0):
 * planning a small expression then allocates nothing. */
void gr_plan_init(gr_plan *p, rt_env *env, void *buf, size_t cap);
/* Frees the arena's chunks; does not touch temporaries' arrays (the runner
 * releases them). */
void gr_plan_free(gr_plan *p);

/* Plans the evaluation of roots[i] into outs[i] (allocated, checked shape
 * and dtype; no output overlaps itself). fused selects FUSED or UNFUSED.
 * Reads the graph: call under the graph's lock. KILN_ENOMEM or
 * KILN_EINTERNAL (a node the planner cannot place) recorded on env. */
kiln_status gr_plan_build(gr_plan *p, const gr_graph *g, bool fused, size_t n,
                          const gr_id *roots, kiln_array *const *outs);

/* Fills k->args from the current arrays of its operands and parameters
 * (temporaries must be allocated). Returns the element count. */
int64_t gr_kernel_bind(gr_kernel *k, const gr_plan *p);

/* True if k calls a user-defined function: its code embeds the function's
 * address, which differs between processes, so it must never be stored in
 * or loaded from a persistent (on-disk) kernel cache. The signature holds
 * the address too, so no in-memory cache entry of one function serves
 * another. */
static inline bool gr_kernel_has_udf(const gr_kernel *k) { return k->nudf > 0; }

/* Writes a readable dump of the plan (one kernel per paragraph). */
void gr_plan_dump(const gr_plan *p, FILE *f);

/* ---- signatures (graph/sig.c) -------------------------------------------
 * The canonical byte string of a kernel: everything compiled into it
 * (body ops and dtypes with operand references, per-operand dtype and
 * stride classes, loop rank, parameter dtypes, noalias) and nothing that
 * is a runtime argument (extents, strides, data, parameter values). Two
 * kernels with equal signatures compile to the same code. */
enum { GR_SIG_VERSION = 2 };
/* Writes at most cap bytes to buf; returns the full length (call again
 * with a bigger buffer if it exceeds cap). */
size_t gr_kernel_sig(const gr_kernel *k, uint8_t *buf, size_t cap);
/* 64-bit hash of a signature (FNV-1a, then a final mix). */
uint64_t gr_sig_hash(const uint8_t *sig, size_t len);
/* A readable name derived from a signature, unique per serial:
 * "k0007_fused_add_mul_f64_r1". Returns buf. */
char *gr_kernel_name(const gr_kernel *k, unsigned serial, char *buf, size_t cap);

#endif /* KILN_GR_PLAN_H */
