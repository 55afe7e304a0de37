/*
 * jit/reduce.c — reduction kernels (gr_kernel.kind GR_KK_REDUCE) -> LLVM
 * IR, with the elementwise producer fused in: sum(x*x) reads x once and
 * computes x*x one element at a time, never into a temporary.
 *
 * The kernel has the elementwise kernels' entry point
 * `void name(const rt_kargs *, int64_t begin, int64_t end)`. Its loop dims
 * are [0, nkeep) kept and [nkeep, rank) reduced (graph/plan.h); [begin,
 * end) is a slice of kept dim 0, so any split of it gives the same bits.
 * Per kept position (INNER) or per chunk of at most WC positions of the
 * innermost kept dim (OUTER, k->outer: column sums of a C-order matrix,
 * row sums of an F-order one), each REDUCE value is computed over the
 * sequence of runtime/reduce.h — reduced dims as a mixed-radix index, in
 * C order of their axes — and stored in every output naming it.
 *
 * Two families, by what runtime/reduce.h prescribes:
 *   TREE (float sum, prod, mean, var, std): NumPy's pairwise tree, exactly.
 *     The JIT emits the tree's LEAF, `void leaf(ctx, s0, len, out)` =
 *     PW over positions [s0, s0+len) (len <= 128), and a combine; the
 *     tree above the leaves is rt_pw_tree_tasks's recursion
 *     (runtime/reduce.c), one indirect call per <= 128 elements. n <= 128
 *     calls the leaf directly (it is inlined).
 *       INNER leaf: the producer fills buf[0..len) (a plain loop the loop
 *       vectorizer turns into vector code, libmvec calls included), then
 *       the base case on buf with an explicit <8 x T> accumulator whose
 *       lanes are PW's r[0..7], the lane combine as shuffles in the fixed
 *       shape ((r0+r1)+(r2+r3))+((r4+r5)+(r6+r7)), the tail sequential. A
 *       producer that is a unit-stride load skips buf (vector loads).
 *       OUTER leaf: 8 row-lane accumulators acc[l][0..W) (W columns of a
 *       chunk): lane l takes rows l, l+8, ... of the leaf in order, 8 rows
 *       per loop over the chunk's columns (jr_outer_chain: a loop the loop
 *       vectorizer vectorizes across columns), then the lane combine per
 *       column, then the tail rows into the result. Lanes start at the
 *       identity (-0.0 + x == x, 1.0 * x == x exactly).
 *     var/std: pass 1 is mean's tree; pass 2 the tree over (y - m)*(y - m)
 *     with m from pass 1 (NumPy's two passes; the producer is computed
 *     twice). Then sum = +0.0 + PW, mean = Q(sum, n), ... in T as
 *     runtime/reduce.h writes them. No fast-math flag anywhere: the order
 *     is explicit.
 *   FLAT (integer sum/prod, min, max, all, any, count_nonzero, argmin,
 *     argmax): any order gives the same result (wrapping integers, and
 *     min/max of non-NaN values under -0.0 < +0.0), so the kernel loops
 *     over the sequence and lets the loop vectorizer reassociate (integer
 *     reductions and llvm.minimum/maximum need no fast-math flag), every
 *     FLAT sibling in one loop. Float min/max: if the result is NaN, a
 *     second pass finds the FIRST NaN of the range and returns its bits.
 *     INNER argmin/argmax: the min (max), then the first index holding it
 *     (jr_inner_arg). OUTER: rows in groups of 8 per loop over the
 *     chunk's columns — argmin/argmax by NumPy's rule row by row, the
 *     others as a tree of the rows' values — and a NaN column's first NaN
 *     found again.
 *     INNER, the JIT emits that loop and its second passes as the BLOCK,
 *     `void blk(ctx, s0, len, part)` over [s0, s0+len) (jr_flat_seq),
 *     each reduction's accumulator and index into part, and the combine
 *     of two partials (runtime/reduce.h's rule: the earlier block's NaN or
 *     index wins ties). The kernel hands a sequence longer than
 *     RT_FLAT_BLOCK to rt_flat_tasks (through rt_kargs.trees), which runs
 *     the blocks (as tasks when the launch allows) and folds them in block
 *     order, and calls blk itself on a shorter one. The blocks depend on n
 *     alone, so an approximate producer is the same code at any thread
 *     count too. The FLAT loop is a pass of its own after the trees'
 *     (riding in the trees' leaves of <= 128 positions was tried: the
 *     per-leaf loop set-up and horizontal min/max cost more than the
 *     second read of the data — min, max and sum of 10M f64 6.8 ->
 *     16.4 ms).
 * A sequence spanning several reduced dims is walked in runs along the
 * innermost one (digits recomputed per run), so the vectorizable loop is
 * the run.
 *
 * Invariants: every float operation of a TREE reduction is the one
 * runtime/reduce.c performs, with the same operands in the same order
 * (left operand first); scratch lives in the kernel's, the leaves' and
 * the blocks' frames (allocas; the trees' partials in one of
 * rt_pw_tree_scratch bytes) and rt_flat_tasks's (RT_FLAT_PARTIAL per
 * block of a group), never allocated; a kernel touches only its
 * operands.
 */
#include "jit/lower.h"
#include "graph/cost.h"
#include "runtime/reduce.h"

#include <llvm-c/DebugInfo.h>

#include <stdio.h>
#include <string.h>

enum {
    JR_VEC = RT_PW_UNROLL, /* lanes of the base case's accumulator */
    /* ctx fields (the leaves' view of the kernel's current position) */
    JR_CTX_PARAMS = 0, JR_CTX_STRIDES, JR_CTX_EXT, JR_CTX_W, JR_CTX_MEAN, JR_CTX_N, JR_CTX_OPP,
    JR_FLAT_INTERLEAVE = 4, /* see jr_interleave */
    JR_CHAIN = 8,    /* OUTER: rows per chain (jr_outer_chain) */
    JR_GROUP_MAX = 32 /* OUTER: the widest chunk whose rows a leaf adds as
                         one run (jr_rows_contiguous) */
};

typedef enum jr_family { JR_TREE, JR_FLAT } jr_family;

typedef struct jr {
    jl *L;
    const gr_kernel *k;
    int rank, nkeep, nred, col; /* col: OUTER's column dim (nkeep - 1), else -1 */
    LLVMTypeRef ctx_ty;
    LLVMValueRef fn;           /* function being emitted */
    LLVMBasicBlockRef entry;   /* its allocas' block */
    LLVMBuilderRef ab;         /* builder for allocas */
    LLVMValueRef n;            /* sequence length (in the kernel function) */
    LLVMValueRef *pos;         /* [nops] kept position's pointers (kernel function) */
    LLVMTypeRef tree_ty;       /* rt_trees_fn's type */
    LLVMValueRef trees, run;   /* rt_kargs.trees and its run (kernel function) */
    LLVMValueRef scratch;      /* the trees' scratch (kernel function) */
    LLVMValueRef scan;         /* rt_trees.scan (kernel function) */
    LLVMValueRef flat;         /* rt_trees.flat (kernel function) */
    LLVMValueRef s0;           /* the first position of the range a FLAT
                                  loop runs over (NumPy's argmin loop takes
                                  the element there) */
    LLVMValueRef ctx;          /* the kernel's ctx (the leaves' view of it) */
    int wc;                    /* OUTER: columns per chunk */
    int wcap;                  /* OUTER: the widest chunk (jr_kept: the last
                                  chunk taken whole if at most this wide) */
    LLVMValueRef slotw;        /* OUTER: the current chunk's width (jr_slot) */
    bool *prod;                /* [nvals] below a reduction or scan (its producer) */
    bool *epi;                 /* [nvals] above one: the epilogue */
    bool has_epi;
    LLVMValueRef *fin;         /* [nvals] a reduction's result at the current output */
} jr;

/* ---- small emitters ------------------------------------------------------------------ */

static LLVMValueRef jr_i64(jr *R, int64_t v) { return jl_i64c(R->L, v); }

/* Starts function fn: an "entry" block for allocas, then "start", where the
 * builder is left. jr_fn_end closes the entry block. */
static void jr_fn_begin(jr *R, LLVMValueRef fn)
{
    jl *L = R->L;
    R->fn = fn;
    R->entry = LLVMAppendBasicBlockInContext(L->c, fn, "entry");
    LLVMBasicBlockRef start = LLVMAppendBasicBlockInContext(L->c, fn, "start");
    LLVMPositionBuilderAtEnd(R->ab, R->entry);
    LLVMPositionBuilderAtEnd(L->b, start);
}

static void jr_fn_end(jr *R)
{
    LLVMPositionBuilderAtEnd(R->ab, R->entry);
    LLVMBuildBr(R->ab, LLVMGetNextBasicBlock(R->entry));
}

static LLVMValueRef jr_alloca(jr *R, LLVMTypeRef ty, unsigned align, const char *nm)
{
    LLVMValueRef a = LLVMBuildAlloca(R->ab, ty, nm);
    if (align)
        LLVMSetAlignment(a, align);
    return a;
}

static LLVMValueRef jr_load(jr *R, LLVMTypeRef ty, LLVMValueRef p, unsigned align)
{
    LLVMValueRef v = LLVMBuildLoad2(R->L->b, ty, p, "");
    if (align) /* else the type's ABI alignment */
        LLVMSetAlignment(v, align);
    return v;
}

static void jr_store(jr *R, LLVMValueRef v, LLVMValueRef p, unsigned align)
{
    LLVMValueRef st = LLVMBuildStore(R->L->b, v, p);
    if (align)
        LLVMSetAlignment(st, align);
}

static LLVMValueRef jr_gep(jr *R, LLVMTypeRef ty, LLVMValueRef p, LLVMValueRef i)
{
    return LLVMBuildInBoundsGEP2(R->L->b, ty, p, &i, 1, "");
}

static LLVMValueRef jr_field(jr *R, LLVMValueRef ctx, unsigned f)
{
    return LLVMBuildStructGEP2(R->L->b, R->ctx_ty, ctx, f, "");
}

static LLVMValueRef jr_min64(jr *R, LLVMValueRef a, LLVMValueRef b)
{
    LLVMBuilderRef B = R->L->b;
    return LLVMBuildSelect(B, LLVMBuildICmp(B, LLVMIntSLT, a, b, ""), a, b, "");
}

/* A counted loop: for (i = lo; i < hi; i = next) with next given at the
 * end (i + step for jr_for_end). Entered only if lo < hi. */
typedef struct jr_for {
    LLVMBasicBlockRef pre, head, exit;
    LLVMValueRef i, lo, hi;
    LLVMValueRef latch; /* the back edge's branch (after jr_for_next) */
} jr_for;

static LLVMValueRef jr_loop_begin(jr *R, jr_for *f, LLVMValueRef lo, LLVMValueRef hi,
                                  const char *nm, bool guard)
{
    jl *L = R->L;
    char x[32];
    f->pre = LLVMGetInsertBlock(L->b);
    f->head = LLVMAppendBasicBlockInContext(L->c, R->fn, nm);
    snprintf(x, sizeof x, "%s.x", nm);
    f->exit = LLVMAppendBasicBlockInContext(L->c, R->fn, x);
    f->lo = lo;
    f->hi = hi;
    if (guard)
        LLVMBuildCondBr(L->b, LLVMBuildICmp(L->b, LLVMIntSLT, lo, hi, ""), f->head, f->exit);
    else
        LLVMBuildBr(L->b, f->head);
    LLVMPositionBuilderAtEnd(L->b, f->head);
    f->i = LLVMBuildPhi(L->b, L->i64, "i");
    return f->i;
}

static LLVMValueRef jr_for_begin(jr *R, jr_for *f, LLVMValueRef lo, LLVMValueRef hi,
                                 const char *nm)
{
    return jr_loop_begin(R, f, lo, hi, nm, true);
}

/* A loop over [0, W) of a chunk's columns: W >= 1, so no guard (which O3
 * would otherwise unswitch the enclosing loop on, doubling the code). */
static LLVMValueRef jr_cols_begin(jr *R, jr_for *f, LLVMValueRef W, const char *nm)
{
    return jr_loop_begin(R, f, jl_i64c(R->L, 0), W, nm, false);
}

static void jr_for_next(jr *R, jr_for *f, LLVMValueRef next)
{
    jl *L = R->L;
    LLVMBasicBlockRef latch = LLVMGetInsertBlock(L->b);
    f->latch = LLVMBuildCondBr(L->b, LLVMBuildICmp(L->b, LLVMIntSLT, next, f->hi, ""), f->head,
                               f->exit);
    LLVMValueRef inc[2] = {f->lo, next};
    LLVMBasicBlockRef from[2] = {f->pre, latch};
    LLVMAddIncoming(f->i, inc, from, 2);
    LLVMPositionBuilderAtEnd(L->b, f->exit);
}

static void jr_for_end(jr *R, jr_for *f, int64_t step)
{
    LLVMValueRef next = LLVMBuildAdd(R->L->b, f->i, jr_i64(R, step), "");
    LLVMSetNSW(next, 1);
    jr_for_next(R, f, next);
}

/* Loop metadata on f's back edge: interleave the vectorized loop n times
 * (the pipeline has interleaving off, which metadata overrides). A FLAT
 * reduction's accumulator is one dependency chain; n chains hide the
 * latency of llvm.minimum & co. (measured: max of 10M f64 6.1 -> ~2 ms). */
static void jr_loop_md(jr *R, const jr_for *f, const char *key, LLVMValueRef v)
{
    jl *L = R->L;
    LLVMMetadataRef self = LLVMTemporaryMDNode(L->c, NULL, 0);
    LLVMMetadataRef prop[2] = {LLVMMDStringInContext2(L->c, key, strlen(key)),
                               LLVMValueAsMetadata(v)};
    LLVMMetadataRef id_ops[2] = {self, LLVMMDNodeInContext2(L->c, prop, 2)};
    LLVMMetadataRef id = LLVMMDNodeInContext2(L->c, id_ops, 2);
    LLVMMetadataReplaceAllUsesWith(self, id); /* the loop ID names itself */
    LLVMSetMetadata(f->latch, LLVMGetMDKindIDInContext(L->c, "llvm.loop", 9),
                    LLVMMetadataAsValue(L->c, id));
}

static void jr_interleave(jr *R, const jr_for *f, unsigned n)
{
    jr_loop_md(R, f, "llvm.loop.interleave.count", LLVMConstInt(R->L->i32, n, 0));
}

/* A loop that runs once per leaf, internal node or chunk over a chunk's
 * columns, beside loops over every element: not worth its compile time
 * as vector code (sum of columns: ~30% less to compile). */
static void jr_scalar_loop(jr *R, const jr_for *f)
{
    jr_loop_md(R, f, "llvm.loop.vectorize.enable", LLVMConstInt(R->L->i1, 0, 0));
}

/* if (c) { ...: jr_if_begin positions the builder in the then-block; jr_if_end
 * joins. */
static LLVMBasicBlockRef jr_if_begin(jr *R, LLVMValueRef c, const char *nm)
{
    jl *L = R->L;
    LLVMBasicBlockRef then = LLVMAppendBasicBlockInContext(L->c, R->fn, nm);
    LLVMBasicBlockRef join = LLVMAppendBasicBlockInContext(L->c, R->fn, "join");
    LLVMBuildCondBr(L->b, c, then, join);
    LLVMPositionBuilderAtEnd(L->b, then);
    return join;
}

static void jr_if_end(jr *R, LLVMBasicBlockRef join)
{
    LLVMBuildBr(R->L->b, join);
    LLVMPositionBuilderAtEnd(R->L->b, join);
}

/* ---- geometry ------------------------------------------------------------------------ */

/* Loads, in the current function, every extent and every OTHER stride into
 * L->ext[] and L->stride[] (what jl_advance reads). */
static void jr_geometry(jr *R, LLVMValueRef ext, LLVMValueRef strides)
{
    jl *L = R->L;
    const gr_kernel *k = R->k;
    for (int d = 0; d < k->rank; d++)
        L->ext[d] = jr_load(R, L->i64, jr_gep(R, L->i64, ext, jr_i64(R, d)), 8);
    for (int o = 0; o < k->nops; o++)
        for (int d = 0; d < k->rank; d++)
            L->stride[o * k->rank + d] =
                k->ops[o].sclass[d] == GR_SC_OTHER
                    ? jr_load(R, L->i64, jr_gep(R, L->i64, strides, jr_i64(R, o * k->rank + d)), 8)
                    : NULL;
}

/* to[o] = from[o] advanced by i along dim d, for every operand. */
static void jr_adv_all(jr *R, const LLVMValueRef *from, int d, LLVMValueRef i, LLVMValueRef *to)
{
    jl *L = R->L;
    for (int o = 0; o < R->k->nops; o++) {
        LLVMValueRef save = L->opp[o];
        L->opp[o] = from[o];
        LLVMValueRef p = jl_advance(L, o, d, i);
        L->opp[o] = save;
        to[o] = p; /* to may be L->opp */
    }
}

/* to[o] = from[o] advanced to sequence position s: digits of s over the
 * reduced dims (innermost fastest). */
static void jr_seq_ptrs(jr *R, const LLVMValueRef *from, LLVMValueRef s, LLVMValueRef *to)
{
    jl *L = R->L;
    memcpy(to, from, (size_t)R->k->nops * sizeof *to);
    LLVMValueRef q = s;
    for (int d = R->rank - 1; d >= R->nkeep; d--) {
        LLVMValueRef dig = q;
        if (d > R->nkeep) {
            dig = LLVMBuildURem(L->b, q, L->ext[d], "");
            q = LLVMBuildUDiv(L->b, q, L->ext[d], "");
        }
        jr_adv_all(R, to, d, dig, to);
    }
}

/* at[q] = s + q*step and rows[q][] = the operands' pointers at sequence
 * position at[q], for q in [0, nrows). */
static void jr_rows_at(jr *R, const LLVMValueRef *base, LLVMValueRef s, int64_t step, int nrows,
                       LLVMValueRef rows[][256], LLVMValueRef *at)
{
    for (int q = 0; q < nrows; q++) {
        at[q] = LLVMBuildAdd(R->L->b, s, jr_i64(R, q * step), "");
        jr_seq_ptrs(R, base, at[q], rows[q]);
    }
}

/* For each s in [lo, hi) of the sequence: L->opp[] = the element's
 * pointers (from base[], the kept position), then body(R, cx, s). With
 * several reduced dims the walk is in runs along the innermost one. */
typedef void (*jr_body_fn)(jr *R, void *cx, LLVMValueRef s);

static void jr_seq_loop_n(jr *R, const LLVMValueRef *base, LLVMValueRef lo, LLVMValueRef hi,
                          jr_body_fn body, void *cx, unsigned interleave)
{
    jl *L = R->L;
    int nops = R->k->nops, di = R->rank - 1;
    LLVMValueRef row[256], *rp = row;
    if (nops > 256) {
        jl_fail(L, "%s", "too many operands in a reduction");
        return;
    }
    if (R->nred == 0) { /* one element, at the position itself */
        LLVMBasicBlockRef join = jr_if_begin(R, LLVMBuildICmp(L->b, LLVMIntSLT, lo, hi, ""), "one");
        memcpy(L->opp, base, (size_t)nops * sizeof *base);
        body(R, cx, lo);
        jr_if_end(R, join);
        return;
    }
    if (R->nred == 1) {
        jr_for f;
        LLVMValueRef s = jr_for_begin(R, &f, lo, hi, "seq");
        jr_adv_all(R, base, di, s, L->opp);
        body(R, cx, s);
        jr_for_end(R, &f, 1);
        if (interleave > 1)
            jr_interleave(R, &f, interleave);
        return;
    }
    /* runs: from s, up to the end of its line of the innermost dim */
    jr_for run;
    LLVMValueRef s = jr_for_begin(R, &run, lo, hi, "run");
    LLVMValueRef inner = LLVMBuildURem(L->b, s, L->ext[di], "");
    LLVMValueRef line = LLVMBuildUDiv(L->b, s, L->ext[di], "");
    memcpy(rp, base, (size_t)nops * sizeof *base);
    LLVMValueRef q = line;
    for (int d = di - 1; d >= R->nkeep; d--) {
        LLVMValueRef dig = q;
        if (d > R->nkeep) {
            dig = LLVMBuildURem(L->b, q, L->ext[d], "");
            q = LLVMBuildUDiv(L->b, q, L->ext[d], "");
        }
        jr_adv_all(R, rp, d, dig, rp);
    }
    LLVMValueRef left = LLVMBuildSub(L->b, L->ext[di], inner, "");
    LLVMValueRef end = jr_min64(R, hi, LLVMBuildAdd(L->b, s, left, ""));
    jr_for el;
    LLVMValueRef t = jr_for_begin(R, &el, s, end, "seq");
    LLVMValueRef j = LLVMBuildAdd(L->b, inner, LLVMBuildSub(L->b, t, s, ""), "");
    jr_adv_all(R, rp, di, j, L->opp);
    body(R, cx, t);
    jr_for_end(R, &el, 1);
    if (interleave > 1)
        jr_interleave(R, &el, interleave);
    jr_for_next(R, &run, end);
}

static void jr_seq_loop(jr *R, const LLVMValueRef *base, LLVMValueRef lo, LLVMValueRef hi,
                        jr_body_fn body, void *cx)
{
    jr_seq_loop_n(R, base, lo, hi, body, cx, 1);
}

/* ---- the producer ------------------------------------------------------------------- */

/* Emits the body values below REDUCE value r from the current L->opp and
 * returns r's input. */
static LLVMValueRef jr_producer(jr *R, int r)
{
    jl *L = R->L;
    const gr_kernel *k = R->k;
    for (int v = 0; v < r && !L->failed; v++)
        if (R->prod[v])
            L->val[v] = jl_value(L, v);
    return L->failed ? LLVMGetUndef(jl_vty(L, (kiln_dtype)k->vals[k->vals[r].in[0]].dtype))
                     : L->val[k->vals[r].in[0]];
}

/* Emits every body value but the reductions from the current L->opp (the
 * producers of all siblings at once; what none needs is dead code). */
static void jr_producer_all(jr *R)
{
    jl *L = R->L;
    const gr_kernel *k = R->k;
    for (int v = 0; v < k->nvals && !L->failed; v++)
        if (R->prod[v])
            L->val[v] = jl_value(L, v);
}

static LLVMValueRef jr_val(jr *R, int v)
{
    jl *L = R->L;
    return L->failed ? LLVMGetUndef(jl_vty(L, (kiln_dtype)R->k->vals[v].dtype)) : L->val[v];
}

/* ---- TREE: passes of pairwise trees ------------------------------------------------------
 * A pass computes the trees of several entries at once — one read of the
 * data for all (sum(x) and sum(x*x) siblings; mean and std's first pass):
 * an entry is a reduced value and its op. Pass A holds every float sum,
 * prod and mean, and var/std's means (equal entries merged); pass B the
 * squared deviations of var/std (one entry per reduced value: var and std
 * of one value, whatever their ddof, share it). A partial holds entry e's
 * values at byte offset e * slot (slot = 8 INNER, 8 * W OUTER: W the
 * chunk's width, R->slotw). */

typedef struct jr_entry {
    int prod;               /* the value reduced (a REDUCE value's input) */
    kiln_dtype t;           /* its dtype (float) */
    LLVMTypeRef ty, vty;    /* T, <8 x T> */
    bool mul;               /* PW_mul (prod), else PW_add */
    LLVMValueRef lanes;     /* OUTER: its lane-combine function */
    /* while emitting a leaf */
    LLVMValueRef buf, acc, tgt, m, out;
} jr_entry;

typedef struct jr_pass {
    int n;
    jr_entry e[GR_SIBLINGS];
    bool pass2;             /* entries reduce (y - m)^2, m from the mean slots */
    LLVMValueRef leaf, comb;
} jr_pass;

static LLVMValueRef jr_op(jr *R, const jr_entry *E, LLVMValueRef a, LLVMValueRef b)
{
    return E->mul ? LLVMBuildFMul(R->L->b, a, b, "") : LLVMBuildFAdd(R->L->b, a, b, "");
}

static LLVMValueRef jr_ident(const jr_entry *E) { return LLVMConstReal(E->ty, E->mul ? 1.0 : -0.0); }

/* Entry e's slot of a partial (or of the mean buffer): 8 bytes per
 * column of the chunk (R->slotw columns, in the function being emitted). */
static LLVMValueRef jr_slot(jr *R, LLVMValueRef part, int e)
{
    jl *L = R->L;
    if (R->col < 0)
        return jr_gep(R, L->i8, part, jr_i64(R, 8 * (int64_t)e));
    return jr_gep(R, L->i64, part, LLVMBuildMul(L->b, R->slotw, jr_i64(R, e), ""));
}

/* The bytes of pass P's partials for chunks of W columns (OUTER). */
static LLVMValueRef jr_pbytes(jr *R, const jr_pass *P, LLVMValueRef W)
{
    if (R->col < 0)
        return jr_i64(R, 8 * (int64_t)P->n);
    return LLVMBuildMul(R->L->b, W, jr_i64(R, 8 * (int64_t)P->n), "");
}

/* Entry E's value at the current element, after jr_producer_all; in pass
 * 2 its squared deviation from m. */
static LLVMValueRef jr_entry_y(jr *R, const jr_pass *P, const jr_entry *E, LLVMValueRef m)
{
    LLVMValueRef y = jr_val(R, E->prod);
    if (P->pass2) {
        LLVMValueRef d = LLVMBuildFSub(R->L->b, y, m, "");
        y = LLVMBuildFMul(R->L->b, d, d, "");
    }
    return y;
}

static void jr_fill_body(jr *R, void *cx, LLVMValueRef s)
{
    jr_pass *P = cx;
    jr_producer_all(R);
    LLVMValueRef at = LLVMBuildSub(R->L->b, s, LLVMGetParam(R->fn, 1), "");
    for (int e = 0; e < P->n; e++) {
        jr_entry *E = &P->e[e];
        if (E->buf) /* else read in place */
            jr_store(R, jr_entry_y(R, P, E, E->m), jr_gep(R, E->ty, E->buf, at), 0);
    }
}

/* acc[e] = acc[e] OP src[e][i] for i in [from, to), sequentially, for the
 * n entries in lockstep; then out[e] = acc[e]. */
static void jr_seq_tail(jr *R, const jr_entry *E, int n, LLVMValueRef *src, const unsigned *align,
                        LLVMValueRef *acc, LLVMValueRef from, LLVMValueRef to, LLVMValueRef *out)
{
    jr_for f;
    LLVMValueRef i = jr_for_begin(R, &f, from, to, "seq");
    for (int e = 0; e < n; e++) {
        LLVMValueRef x = jr_load(R, E[e].ty, jr_gep(R, E[e].ty, src[e], i), align[e]);
        jr_store(R, jr_op(R, &E[e], jr_load(R, E[e].ty, acc[e], 0), x), acc[e], 0);
    }
    jr_for_end(R, &f, 1);
    for (int e = 0; e < n; e++)
        jr_store(R, jr_load(R, E[e].ty, acc[e], 0), out[e], 0);
}

/* PW's base case over src[e][0..len) (elements of entry e's T; align 1 if
 * the sources are user memory), result stored to out[e], for the n entries
 * of a pass in lockstep: their lane chains are independent, so one loop
 * keeps n vector additions in flight instead of one. */
static void jr_base_cases(jr *R, const jr_entry *E, int n, LLVMValueRef *src, LLVMValueRef len,
                          const unsigned *align, LLVMValueRef *out)
{
    jl *L = R->L;
    LLVMBuilderRef B = L->b;
    LLVMValueRef acc[GR_SIBLINGS], vacc[GR_SIBLINGS];
    for (int e = 0; e < n; e++) {
        acc[e] = jr_alloca(R, E[e].ty, 0, "r");
        vacc[e] = jr_alloca(R, E[e].vty, 0, "lanes");
    }
    LLVMBasicBlockRef small = LLVMAppendBasicBlockInContext(L->c, R->fn, "small");
    LLVMBasicBlockRef big = LLVMAppendBasicBlockInContext(L->c, R->fn, "big");
    LLVMBasicBlockRef done = LLVMAppendBasicBlockInContext(L->c, R->fn, "done");
    LLVMBuildCondBr(B, LLVMBuildICmp(B, LLVMIntSLT, len, jr_i64(R, JR_VEC), ""), small, big);

    /* n < 8: r = identity; r = r OP x[i] */
    LLVMPositionBuilderAtEnd(B, small);
    for (int e = 0; e < n; e++)
        jr_store(R, jr_ident(&E[e]), acc[e], 0);
    jr_seq_tail(R, E, n, src, align, acc, jr_i64(R, 0), len, out);
    LLVMBuildBr(B, done);

    /* 8 <= n <= 128: lanes r[j] = x[j], += x[i + j] per 8; combine; tail */
    LLVMPositionBuilderAtEnd(B, big);
    for (int e = 0; e < n; e++)
        jr_store(R, jr_load(R, E[e].vty, src[e], align[e]), vacc[e], 0);
    LLVMValueRef len8 = LLVMBuildAnd(B, len, jr_i64(R, ~(int64_t)(JR_VEC - 1)), "");
    jr_for f;
    LLVMValueRef i = jr_for_begin(R, &f, jr_i64(R, JR_VEC), len8, "lane");
    for (int e = 0; e < n; e++) {
        LLVMValueRef v = jr_load(R, E[e].vty, jr_gep(R, E[e].ty, src[e], i), align[e]);
        jr_store(R, jr_op(R, &E[e], jr_load(R, E[e].vty, vacc[e], 0), v), vacc[e], 0);
    }
    jr_for_end(R, &f, JR_VEC);
    /* ((r0 OP r1) OP (r2 OP r3)) OP ((r4 OP r5) OP (r6 OP r7)) */
    LLVMValueRef ev[4], od[4];
    for (int j = 0; j < 4; j++) {
        ev[j] = LLVMConstInt(L->i32, (unsigned long long)(2 * j), 0);
        od[j] = LLVMConstInt(L->i32, (unsigned long long)(2 * j + 1), 0);
    }
    for (int e = 0; e < n; e++) {
        const jr_entry *X = &E[e];
        LLVMValueRef lanes = jr_load(R, X->vty, vacc[e], 0);
        LLVMValueRef p = jr_op(R, X, LLVMBuildShuffleVector(B, lanes, lanes, LLVMConstVector(ev, 4), ""),
                               LLVMBuildShuffleVector(B, lanes, lanes, LLVMConstVector(od, 4), ""));
        LLVMValueRef q = jr_op(R, X, LLVMBuildShuffleVector(B, p, p, LLVMConstVector(ev, 2), ""),
                               LLVMBuildShuffleVector(B, p, p, LLVMConstVector(od, 2), ""));
        LLVMValueRef res = jr_op(R, X, LLVMBuildExtractElement(B, q, LLVMConstInt(L->i32, 0, 0), ""),
                                 LLVMBuildExtractElement(B, q, LLVMConstInt(L->i32, 1, 0), ""));
        jr_store(R, res, acc[e], 0);
    }
    jr_seq_tail(R, E, n, src, align, acc, len8, len, out);
    LLVMBuildBr(B, done);
    LLVMPositionBuilderAtEnd(B, done);
}

/* The ctx's fields, loaded at a leaf's start: geometry into L, the
 * position's pointers into base[]; returns the ctx's W. */
static LLVMValueRef jr_leaf_prologue(jr *R, LLVMValueRef ctx, LLVMValueRef *base)
{
    jl *L = R->L;
    L->params = jr_load(R, L->ptr, jr_field(R, ctx, JR_CTX_PARAMS), 8);
    LLVMValueRef strides = jr_load(R, L->ptr, jr_field(R, ctx, JR_CTX_STRIDES), 8);
    LLVMValueRef ext = jr_load(R, L->ptr, jr_field(R, ctx, JR_CTX_EXT), 8);
    jr_geometry(R, ext, strides);
    LLVMValueRef opp = jr_field(R, ctx, JR_CTX_OPP);
    LLVMTypeRef at = LLVMArrayType2(L->ptr, (uint64_t)R->k->nops);
    for (int o = 0; o < R->k->nops; o++) {
        LLVMValueRef idx[2] = {jr_i64(R, 0), jr_i64(R, o)};
        base[o] = jr_load(R, L->ptr, LLVMBuildInBoundsGEP2(L->b, at, opp, idx, 2, ""), 8);
    }
    return jr_load(R, L->i64, jr_field(R, ctx, JR_CTX_W), 8);
}

/* An internal function of the kernel's module, never inlined: each has one
 * copy (a leaf inlined into its kernel would be compiled twice, for no
 * measurable gain: one call per <= 128 elements). */
static LLVMValueRef jr_new_fn(jr *R, const char *suffix, int serial, LLVMTypeRef fty)
{
    jl *L = R->L;
    char nm[200];
    snprintf(nm, sizeof nm, "%s.%s%d", L->name, suffix, serial);
    LLVMValueRef f = LLVMAddFunction(L->M, nm, fty);
    LLVMSetLinkage(f, LLVMInternalLinkage);
    jl_fn_attr(L, f, "nounwind", 0);
    jl_fn_attr(L, f, "noinline", 0);
    return f;
}

/* An entry that is a unit-stride load of an operand is its own buffer: the
 * base case reads memory in place (a copy into a buffer would be one more
 * pass over it — LLVM even makes it a call to memcpy). Returns the
 * operand, or -1. */
static int jr_direct_operand(jr *R, const jr_pass *P, const jr_entry *E)
{
    const gr_kernel *k = R->k;
    if (P->pass2 || R->col >= 0 || R->nred != 1)
        return -1;
    const gr_kval *in = &k->vals[E->prod];
    if (in->op != GR_OP_INPUT)
        return -1;
    return k->ops[in->arg].sclass[R->rank - 1] == GR_SC_UNIT ? in->arg : -1;
}

static LLVMTypeRef jr_leaf_type(jr *R)
{
    jl *L = R->L;
    LLVMTypeRef pt[4] = {L->ptr, L->i64, L->i64, L->ptr};
    return LLVMFunctionType(L->vd, pt, 4, 0);
}

static void jr_noalias(jr *R, LLVMValueRef f, unsigned param)
{
    unsigned kind = LLVMGetEnumAttributeKindForName("noalias", 7);
    LLVMAddAttributeAtIndex(f, param + 1, LLVMCreateEnumAttribute(R->L->c, kind, 0));
}

/* ---- vector producers (INNER) -------------------------------------------------------
 * A producer made only of float arithmetic on operands that are contiguous
 * along the sequence (or constant along it) is emitted on <8 x T> vectors
 * directly: the lanes add y[s0+i .. s0+i+8) as computed, no buffer. Every
 * op here is the same IEEE operation per lane as its scalar lowering. */

static bool jr_vec_op(int op)
{
    switch (op) {
    case GR_OP_ADD: case GR_OP_SUBTRACT: case GR_OP_MULTIPLY: case GR_OP_DIVIDE:
    case GR_OP_NEGATIVE: case GR_OP_SQUARE: case GR_OP_ABSOLUTE: case GR_OP_SQRT:
    case GR_OP_MINIMUM: case GR_OP_MAXIMUM: case GR_OP_FMIN: case GR_OP_FMAX:
        return true;
    default:
        return false;
    }
}

/* True if every body value below the reductions can be a vector value. */
static bool jr_vec_ok(jr *R, const jr_pass *P)
{
    const gr_kernel *k = R->k;
    if (R->col >= 0 || R->nred != 1)
        return false;
    for (int e = 0; e < P->n; e++)
        if (P->e[e].t != KILN_FLOAT64 && P->e[e].t != KILN_FLOAT32)
            return false;
    for (int v = 0; v < k->nvals; v++) {
        const gr_kval *kv = &k->vals[v];
        if (!R->prod[v])
            continue;
        if (kv->op == GR_OP_SCALAR) {
            bool ddof = false; /* var/std's ddof parameter is never a producer value */
            for (int w = 0; w < k->nvals; w++)
                ddof |= (k->vals[w].op == GR_OP_VAR || k->vals[w].op == GR_OP_STD) &&
                        k->vals[w].in[1] == v;
            if (!ddof && !jl_flt((kiln_dtype)kv->dtype))
                return false;
            continue;
        }
        if (!jl_flt((kiln_dtype)kv->dtype))
            return false;
        if (kv->op == GR_OP_INPUT) {
            gr_sclass c = (gr_sclass)k->ops[kv->arg].sclass[R->rank - 1];
            if (c != GR_SC_UNIT && c != GR_SC_ZERO)
                return false;
            continue;
        }
        if (!jr_vec_op(kv->op))
            return false;
        for (int j = 0; j < kv->nin; j++)
            if (k->vals[kv->in[j]].dtype != kv->dtype)
                return false;
    }
    return true;
}

/* Sets L->val[] to the vectors of positions [s, s+8) from base[]. */
static void jr_vec_values(jr *R, const LLVMValueRef *base, LLVMValueRef s)
{
    jl *L = R->L;
    const gr_kernel *k = R->k;
    for (int v = 0; v < k->nvals && !L->failed; v++) {
        const gr_kval *kv = &k->vals[v];
        kiln_dtype t = (kiln_dtype)kv->dtype;
        if (!R->prod[v] || !jl_flt(t))
            continue;
        LLVMTypeRef vt = LLVMVectorType(jl_vty(L, t), JR_VEC);
        if (kv->op == GR_OP_INPUT || kv->op == GR_OP_SCALAR) {
            LLVMValueRef x;
            if (kv->op == GR_OP_INPUT && k->ops[kv->arg].sclass[R->rank - 1] == GR_SC_UNIT) {
                LLVMValueRef save = L->opp[kv->arg];
                L->opp[kv->arg] = base[kv->arg];
                LLVMValueRef p = jl_advance(L, kv->arg, R->rank - 1, s);
                L->opp[kv->arg] = save;
                L->val[v] = jr_load(R, vt, p, 1);
                continue;
            }
            if (kv->op == GR_OP_INPUT) { /* constant along the sequence */
                x = jr_load(R, jl_vty(L, t), base[kv->arg], 1);
            } else {
                L->vw = 0;
                x = jl_value(L, v);
            }
            LLVMValueRef one = LLVMBuildInsertElement(L->b, LLVMGetUndef(vt), x,
                                                      LLVMConstInt(L->i32, 0, 0), "");
            LLVMValueRef zeros = LLVMConstNull(LLVMVectorType(L->i32, JR_VEC));
            L->val[v] = LLVMBuildShuffleVector(L->b, one, LLVMGetUndef(vt), zeros, "");
            continue;
        }
        L->vw = JR_VEC;
        L->val[v] = jl_value(L, v);
        L->vw = 0;
    }
}

typedef struct jr_acc_cx {
    jr_pass *P;
    LLVMValueRef acc[GR_SIBLINGS];
} jr_acc_cx;

/* r_e = r_e OP y_e at the current element (scalar). */
static void jr_acc_body(jr *R, void *cx, LLVMValueRef s)
{
    jr_acc_cx *A = cx;
    (void)s;
    jr_producer_all(R);
    for (int e = 0; e < A->P->n; e++) {
        jr_entry *E = &A->P->e[e];
        LLVMValueRef y = jr_entry_y(R, A->P, E, E->m);
        jr_store(R, jr_op(R, E, jr_load(R, E->ty, A->acc[e], 0), y), A->acc[e], 0);
    }
}

/* PW's base case of every entry over [s0, s0+len) with vector producers:
 * len < 8 sequentially from the identity; else lanes r = y[s0..s0+8),
 * r += y[s0+i..] per 8, the fixed lane combine, the tail sequentially. */
static void jr_vec_base_cases(jr *R, jr_pass *P, const LLVMValueRef *base, LLVMValueRef s0,
                              LLVMValueRef len, LLVMValueRef out)
{
    jl *L = R->L;
    LLVMBuilderRef B = L->b;
    jr_acc_cx A;
    A.P = P;
    LLVMValueRef vacc[GR_SIBLINGS], vm[GR_SIBLINGS];
    for (int e = 0; e < P->n; e++) {
        A.acc[e] = jr_alloca(R, P->e[e].ty, 0, "r");
        vacc[e] = jr_alloca(R, P->e[e].vty, 0, "lanes");
        vm[e] = NULL;
        if (P->e[e].m) { /* the mean as a vector */
            LLVMValueRef one = LLVMBuildInsertElement(B, LLVMGetUndef(P->e[e].vty), P->e[e].m,
                                                      LLVMConstInt(L->i32, 0, 0), "");
            vm[e] = LLVMBuildShuffleVector(B, one, LLVMGetUndef(P->e[e].vty),
                                           LLVMConstNull(LLVMVectorType(L->i32, JR_VEC)), "");
        }
    }
    LLVMValueRef end = LLVMBuildAdd(B, s0, len, "");
    LLVMBasicBlockRef small = LLVMAppendBasicBlockInContext(L->c, R->fn, "small");
    LLVMBasicBlockRef big = LLVMAppendBasicBlockInContext(L->c, R->fn, "big");
    LLVMBasicBlockRef done = LLVMAppendBasicBlockInContext(L->c, R->fn, "done");
    LLVMBuildCondBr(B, LLVMBuildICmp(B, LLVMIntSLT, len, jr_i64(R, JR_VEC), ""), small, big);

    LLVMPositionBuilderAtEnd(B, small);
    for (int e = 0; e < P->n; e++)
        jr_store(R, jr_ident(&P->e[e]), A.acc[e], 0);
    jr_seq_loop(R, base, s0, end, jr_acc_body, &A);
    for (int e = 0; e < P->n; e++)
        jr_store(R, jr_load(R, P->e[e].ty, A.acc[e], 0), jr_slot(R, out, e), 0);
    LLVMBuildBr(B, done);

    LLVMPositionBuilderAtEnd(B, big);
    LLVMValueRef len8 = LLVMBuildAnd(B, len, jr_i64(R, ~(int64_t)(JR_VEC - 1)), "");
    for (int pass = 0; pass < 2; pass++) {
        jr_for f;
        LLVMValueRef i = jr_i64(R, 0);
        if (pass)
            i = jr_for_begin(R, &f, jr_i64(R, JR_VEC), len8, "lane");
        jr_vec_values(R, base, LLVMBuildAdd(B, s0, i, ""));
        for (int e = 0; e < P->n; e++) {
            jr_entry *E = &P->e[e];
            LLVMValueRef y = jr_val(R, E->prod);
            if (P->pass2) {
                LLVMValueRef d = LLVMBuildFSub(B, y, vm[e], "");
                y = LLVMBuildFMul(B, d, d, "");
            }
            jr_store(R, pass ? jr_op(R, E, jr_load(R, E->vty, vacc[e], 0), y) : y, vacc[e], 0);
        }
        if (pass)
            jr_for_end(R, &f, JR_VEC);
    }
    LLVMValueRef ev[4], od[4];
    for (int j = 0; j < 4; j++) {
        ev[j] = LLVMConstInt(L->i32, (unsigned long long)(2 * j), 0);
        od[j] = LLVMConstInt(L->i32, (unsigned long long)(2 * j + 1), 0);
    }
    for (int e = 0; e < P->n; e++) {
        const jr_entry *X = &P->e[e];
        LLVMValueRef lanes = jr_load(R, X->vty, vacc[e], 0);
        LLVMValueRef p = jr_op(R, X, LLVMBuildShuffleVector(B, lanes, lanes, LLVMConstVector(ev, 4), ""),
                               LLVMBuildShuffleVector(B, lanes, lanes, LLVMConstVector(od, 4), ""));
        LLVMValueRef q = jr_op(R, X, LLVMBuildShuffleVector(B, p, p, LLVMConstVector(ev, 2), ""),
                               LLVMBuildShuffleVector(B, p, p, LLVMConstVector(od, 2), ""));
        LLVMValueRef res = jr_op(R, X, LLVMBuildExtractElement(B, q, LLVMConstInt(L->i32, 0, 0), ""),
                                 LLVMBuildExtractElement(B, q, LLVMConstInt(L->i32, 1, 0), ""));
        jr_store(R, res, A.acc[e], 0);
    }
    jr_seq_loop(R, base, LLVMBuildAdd(B, s0, len8, ""), end, jr_acc_body, &A);
    for (int e = 0; e < P->n; e++)
        jr_store(R, jr_load(R, P->e[e].ty, A.acc[e], 0), jr_slot(R, out, e), 0);
    LLVMBuildBr(B, done);
    LLVMPositionBuilderAtEnd(B, done);
}

/* INNER: void leaf(ctx, s0, len, noalias out): entry e's slot of out = PW
 * over the position's sequence [s0, s0+len) of its value. */
static LLVMValueRef jr_inner_leaf(jr *R, jr_pass *P, const char *nm)
{
    jl *L = R->L;
    LLVMValueRef f = jr_new_fn(R, nm, 0, jr_leaf_type(R));
    jr_noalias(R, f, 3);
    jr_fn_begin(R, f);
    LLVMValueRef ctx = LLVMGetParam(f, 0), s0 = LLVMGetParam(f, 1), len = LLVMGetParam(f, 2);
    LLVMValueRef out = LLVMGetParam(f, 3), base[256];
    jr_leaf_prologue(R, ctx, base);
    LLVMValueRef means = P->pass2 ? jr_load(R, L->ptr, jr_field(R, ctx, JR_CTX_MEAN), 8) : NULL;
    for (int e = 0; e < P->n; e++)
        P->e[e].m = means ? jr_load(R, P->e[e].ty, jr_slot(R, means, e), 0) : NULL;
    if (jr_vec_ok(R, P)) {
        jr_vec_base_cases(R, P, base, s0, len, out);
        LLVMBuildRetVoid(L->b);
        jr_fn_end(R);
        return f;
    }
    LLVMValueRef src[GR_SIBLINGS], dst[GR_SIBLINGS];
    unsigned align[GR_SIBLINGS];
    bool fill = false;
    for (int e = 0; e < P->n; e++) {
        jr_entry *E = &P->e[e];
        int d = jr_direct_operand(R, P, E);
        dst[e] = jr_slot(R, out, e);
        E->buf = NULL;
        if (d >= 0) {
            LLVMValueRef save = L->opp[d];
            L->opp[d] = base[d];
            src[e] = jl_advance(L, d, R->rank - 1, s0);
            L->opp[d] = save;
            align[e] = 1;
        } else {
            src[e] = E->buf = jr_alloca(R, LLVMArrayType2(E->ty, RT_PW_BLOCK), 64, "buf");
            align[e] = (unsigned)rt_dtypes[E->t].size;
            fill = true;
        }
    }
    if (fill)
        jr_seq_loop(R, base, s0, LLVMBuildAdd(L->b, s0, len, ""), jr_fill_body, P);
    jr_base_cases(R, P->e, P->n, src, len, align, dst);
    LLVMBuildRetVoid(L->b);
    jr_fn_end(R);
    return f;
}

/* out[c] = tree of the 8 lanes acc[l*W + c], for c < W. */
static void jr_lane_comb(jr *R, const jr_entry *E, LLVMValueRef acc, LLVMValueRef W,
                         LLVMValueRef out)
{
    jl *L = R->L;
    jr_for f;
    LLVMValueRef c = jr_cols_begin(R, &f, W, "comb");
    LLVMValueRef a[JR_VEC];
    for (int l = 0; l < JR_VEC; l++) {
        LLVMValueRef at = LLVMBuildAdd(L->b, LLVMBuildMul(L->b, W, jr_i64(R, l), ""), c, "");
        a[l] = jr_load(R, E->ty, jr_gep(R, E->ty, acc, at), 0);
    }
    LLVMValueRef r = jr_op(R, E, jr_op(R, E, jr_op(R, E, a[0], a[1]), jr_op(R, E, a[2], a[3])),
                           jr_op(R, E, jr_op(R, E, a[4], a[5]), jr_op(R, E, a[6], a[7])));
    jr_store(R, r, jr_gep(R, E->ty, out, c), 0);
    jr_for_end(R, &f, 1);
}

/* void lanes(noalias acc, W, noalias out): jr_lane_comb as a function
 * (the OUTER leaf calls it at two places), one per dtype and op. */
static LLVMValueRef jr_lanes_fn(jr *R, const jr_entry *E)
{
    jl *L = R->L;
    char nm[32];
    snprintf(nm, sizeof nm, "lanes_%s%s", E->t == KILN_FLOAT32 ? "f" : "d", E->mul ? "mul" : "add");
    char full[200];
    snprintf(full, sizeof full, "%s.%s0", L->name, nm);
    LLVMValueRef have = LLVMGetNamedFunction(L->M, full);
    if (have)
        return have;
    LLVMTypeRef pt[3] = {L->ptr, L->i64, L->ptr};
    LLVMValueRef f = jr_new_fn(R, nm, 0, LLVMFunctionType(L->vd, pt, 3, 0));
    jr_noalias(R, f, 0);
    jr_noalias(R, f, 2);
    jr_fn_begin(R, f);
    jr_lane_comb(R, E, LLVMGetParam(f, 0), LLVMGetParam(f, 1), LLVMGetParam(f, 2));
    LLVMBuildRetVoid(L->b);
    jr_fn_end(R);
    return f;
}

/* The byte stride of operand o along loop dim d, as a value. */
static LLVMValueRef jr_stride(jr *R, int o, int d)
{
    int64_t esz = (int64_t)rt_dtypes[R->k->ops[o].dtype].size;
    switch ((gr_sclass)R->k->ops[o].sclass[d]) {
    case GR_SC_ZERO: return jr_i64(R, 0);
    case GR_SC_UNIT: return jr_i64(R, esz);
    case GR_SC_RUNIT: return jr_i64(R, -esz);
    case GR_SC_OTHER: break;
    }
    return R->L->stride[o * R->k->rank + d];
}

/* OUTER with one reduced dim: true if, in every input operand, a row of
 * the chunk's W columns ends where the next row starts (a tall matrix of
 * at most one chunk's width in C order: column sums of a (10^6, 5)
 * matrix). Then 8 rows are one run of 8W elements laid out exactly as the
 * lanes acc[l][c]: the leaf adds them in one loop of 8W instead of 8
 * loops of W. */
static LLVMValueRef jr_rows_contiguous(jr *R, LLVMValueRef W)
{
    jl *L = R->L;
    if (R->nred != 1)
        return LLVMConstInt(L->i1, 0, 0);
    LLVMValueRef ok = LLVMBuildICmp(L->b, LLVMIntSLE, W, jr_i64(R, JR_GROUP_MAX), "");
    for (int o = R->k->nout; o < R->k->nops; o++) {
        LLVMValueRef want = LLVMBuildMul(L->b, W, jr_stride(R, o, R->col), "");
        ok = LLVMBuildAnd(L->b, ok, LLVMBuildICmp(L->b, LLVMIntEQ, jr_stride(R, o, R->rank - 1), want, ""), "");
    }
    return ok;
}

/* OUTER leaf: one loop over positions j in [0, W) of the row(s) at rowp
 * (W columns of one row, or 8 rows as one run of 8W: grouped), adding
 * each entry's y there into its target at j — the lanes acc (grouped) or
 * E->tgt — with pass 2's mean at j of E->buf (the means tiled 8 times,
 * grouped) or of E->m. */
static void jr_outer_add(jr *R, jr_pass *P, const LLVMValueRef *rowp, LLVMValueRef W, bool grouped)
{
    jl *L = R->L;
    jr_for f;
    LLVMValueRef j = jr_cols_begin(R, &f, W, grouped ? "run" : "cols");
    jr_adv_all(R, rowp, R->col, j, L->opp);
    jr_producer_all(R);
    for (int e = 0; e < P->n; e++) {
        jr_entry *E = &P->e[e];
        LLVMValueRef mp = grouped ? E->buf : E->m;
        LLVMValueRef m = mp ? jr_load(R, E->ty, jr_gep(R, E->ty, mp, j), 0) : NULL;
        LLVMValueRef y = jr_entry_y(R, P, E, m);
        LLVMValueRef tp = jr_gep(R, E->ty, grouped ? E->acc : E->tgt, j);
        jr_store(R, jr_op(R, E, jr_load(R, E->ty, tp, 0), y), tp, 0);
    }
    jr_for_end(R, &f, 1);
}

/* OUTER leaf: rows[0..nrows), added in order into each entry's target
 * E->tgt (a lane of acc, or the result) in one loop over the W columns:
 * t = (((t + y0) + y1) + ...) per column, one load and store of t per
 * nrows elements instead of per element (the loop otherwise waits on
 * stores: 5000x5000 column sums 1.9x -> ~1.4x the row sums' time,
 * measured in C). */
static void jr_outer_chain(jr *R, jr_pass *P, LLVMValueRef rows[][256], int nrows, LLVMValueRef W)
{
    jl *L = R->L;
    jr_for f;
    LLVMValueRef j = jr_cols_begin(R, &f, W, "chain");
    LLVMValueRef v[GR_SIBLINGS], m[GR_SIBLINGS], ap[GR_SIBLINGS];
    for (int e = 0; e < P->n; e++) {
        jr_entry *E = &P->e[e];
        ap[e] = jr_gep(R, E->ty, E->tgt, j);
        v[e] = jr_load(R, E->ty, ap[e], 0);
        m[e] = E->m ? jr_load(R, E->ty, jr_gep(R, E->ty, E->m, j), 0) : NULL;
    }
    for (int q = 0; q < nrows; q++) {
        jr_adv_all(R, rows[q], R->col, j, L->opp);
        jr_producer_all(R);
        for (int e = 0; e < P->n; e++)
            v[e] = jr_op(R, &P->e[e], v[e], jr_entry_y(R, P, &P->e[e], m[e]));
    }
    for (int e = 0; e < P->n; e++)
        jr_store(R, v[e], ap[e], 0);
    jr_for_end(R, &f, 1);
}

/* OUTER leaf: if (c) each entry's out = the lane combine of its acc. */
static void jr_lanes_if(jr *R, jr_pass *P, LLVMValueRef c, LLVMValueRef W)
{
    LLVMBasicBlockRef join = jr_if_begin(R, c, "lanes");
    for (int e = 0; e < P->n; e++) {
        LLVMValueRef args[3] = {P->e[e].acc, W, P->e[e].out};
        LLVMBuildCall2(R->L->b, LLVMGlobalGetValueType(P->e[e].lanes), P->e[e].lanes, args, 3, "");
    }
    jr_if_end(R, join);
}

/* OUTER: void leaf(ctx, s0, len, noalias out): entry e's slot of out, at
 * column c < W, = PW over column c's sequence [s0, s0+len) of its value.
 * Row i of the leaf adds into lane i % 8 of each entry (acc_e[l][c]), the
 * lanes combine at row len8, the tail rows add into the result. */
static LLVMValueRef jr_outer_leaf(jr *R, jr_pass *P, const char *nm)
{
    jl *L = R->L;
    LLVMBuilderRef B = L->b;
    for (int e = 0; e < P->n; e++)
        P->e[e].lanes = jr_lanes_fn(R, &P->e[e]);
    LLVMValueRef f = jr_new_fn(R, nm, 0, jr_leaf_type(R));
    jr_noalias(R, f, 3);
    jr_fn_begin(R, f);
    LLVMValueRef ctx = LLVMGetParam(f, 0), s0 = LLVMGetParam(f, 1), len = LLVMGetParam(f, 2);
    LLVMValueRef out = LLVMGetParam(f, 3), base[256];
    LLVMValueRef W = jr_leaf_prologue(R, ctx, base);
    R->slotw = W;
    LLVMValueRef means = P->pass2 ? jr_load(R, L->ptr, jr_field(R, ctx, JR_CTX_MEAN), 8) : NULL;
    /* len8: where the lanes end (-1 if len < 8: no lanes, no combine) */
    LLVMValueRef has8 = LLVMBuildICmp(B, LLVMIntSGE, len, jr_i64(R, JR_VEC), "");
    LLVMValueRef len8 = LLVMBuildSelect(B, has8, LLVMBuildAnd(B, len, jr_i64(R, ~(int64_t)(JR_VEC - 1)), ""),
                                        jr_i64(R, -1), "");
    LLVMValueRef init_n = LLVMBuildSelect(B, has8, LLVMBuildMul(B, W, jr_i64(R, JR_VEC), ""), W, "");
    for (int e = 0; e < P->n; e++) {
        jr_entry *E = &P->e[e];
        E->acc = jr_alloca(R, LLVMArrayType2(E->ty, (uint64_t)JR_VEC * (uint64_t)R->wcap), 64, "acc");
        E->out = jr_slot(R, out, e);
        E->m = means ? jr_slot(R, means, e) : NULL;
        /* the lanes (or, for len < 8, the result) start at the identity */
        LLVMValueRef init_p = LLVMBuildSelect(B, has8, E->acc, E->out, "");
        jr_for fi;
        LLVMValueRef j = jr_cols_begin(R, &fi, init_n, "init");
        jr_store(R, jr_ident(E), jr_gep(R, E->ty, init_p, j), 0);
        jr_for_end(R, &fi, 1);
    }
    /* rows [0, len8) eight at a time when they are one run (see
     * jr_rows_contiguous); the loop below then starts at len8 */
    LLVMValueRef grouped = LLVMBuildAnd(B, has8, jr_rows_contiguous(R, W), "");
    LLVMBasicBlockRef gjoin = jr_if_begin(R, grouped, "grouped");
    {
        LLVMValueRef W8 = LLVMBuildMul(B, W, jr_i64(R, JR_VEC), "");
        for (int e = 0; e < P->n; e++) { /* pass 2: the means tiled 8 times */
            jr_entry *E = &P->e[e];
            E->buf = NULL;
            if (!E->m)
                continue;
            E->buf = jr_alloca(R, LLVMArrayType2(E->ty, (uint64_t)JR_VEC * JR_GROUP_MAX), 64, "m8");
            jr_for ft;
            LLVMValueRef k = jr_cols_begin(R, &ft, W8, "tile");
            LLVMValueRef mc = jr_load(R, E->ty, jr_gep(R, E->ty, E->m, LLVMBuildURem(B, k, W, "")), 0);
            jr_store(R, mc, jr_gep(R, E->ty, E->buf, k), 0);
            jr_for_end(R, &ft, 1);
            jr_scalar_loop(R, &ft);
        }
        jr_for fg;
        LLVMValueRef g = jr_for_begin(R, &fg, jr_i64(R, 0), len8, "groups");
        LLVMValueRef grow[256];
        jr_seq_ptrs(R, base, LLVMBuildAdd(B, s0, g, ""), grow);
        jr_outer_add(R, P, grow, W8, true);
        jr_for_end(R, &fg, JR_VEC);
    }
    jr_if_end(R, gjoin);
    /* else rows [0, len8) lane by lane: lane l's rows l, l+8, ... in
     * chains of JR_CHAIN (the lanes' sums are the same, row for row) */
    LLVMValueRef chained = LLVMBuildAnd(B, has8, LLVMBuildNot(B, grouped, ""), "");
    LLVMBasicBlockRef cjoin = jr_if_begin(R, chained, "chained");
    {
        LLVMValueRef per = LLVMBuildLShr(B, len8, jr_i64(R, 3), ""); /* rows per lane */
        jr_for fl;
        LLVMValueRef l = jr_cols_begin(R, &fl, jr_i64(R, JR_VEC), "lane");
        LLVMValueRef lw = LLVMBuildMul(B, l, W, ""); /* lane l's first element in acc */
        for (int e = 0; e < P->n; e++)
            P->e[e].tgt = jr_gep(R, P->e[e].ty, P->e[e].acc, lw);
        LLVMValueRef lane0 = LLVMBuildAdd(B, s0, l, ""); /* the lane's first row */
        jr_for fk;
        LLVMValueRef kend = LLVMBuildSub(B, per, jr_i64(R, JR_CHAIN - 1), "");
        LLVMValueRef k = jr_for_begin(R, &fk, jr_i64(R, 0), kend, "chains");
        LLVMValueRef rows[JR_CHAIN][256], at[JR_CHAIN];
        jr_rows_at(R, base, LLVMBuildAdd(B, lane0, LLVMBuildMul(B, k, jr_i64(R, JR_VEC), ""), ""),
                   JR_VEC, JR_CHAIN, rows, at);
        jr_outer_chain(R, P, rows, JR_CHAIN, W);
        jr_for_end(R, &fk, JR_CHAIN);
        /* the lane's last rows, fewer than a chain */
        LLVMValueRef kdone = LLVMBuildMul(B, LLVMBuildUDiv(B, per, jr_i64(R, JR_CHAIN), ""),
                                          jr_i64(R, JR_CHAIN), "");
        jr_for fr1;
        LLVMValueRef k1 = jr_for_begin(R, &fr1, kdone, per, "chain1");
        jr_rows_at(R, base, LLVMBuildAdd(B, lane0, LLVMBuildMul(B, k1, jr_i64(R, JR_VEC), ""), ""),
                   JR_VEC, 1, rows, at);
        jr_outer_chain(R, P, rows, 1, W);
        jr_for_end(R, &fr1, 1);
        jr_for_end(R, &fl, 1);
    }
    jr_if_end(R, cjoin);
    jr_lanes_if(R, P, has8, W);

    /* the tail rows [len8, len) (all rows if len < 8) into the results */
    LLVMValueRef start = LLVMBuildSelect(B, has8, len8, jr_i64(R, 0), "");
    for (int e = 0; e < P->n; e++)
        P->e[e].tgt = P->e[e].out;
    jr_for fr;
    LLVMValueRef i = jr_for_begin(R, &fr, start, len, "rows");
    LLVMValueRef row[256];
    jr_seq_ptrs(R, base, LLVMBuildAdd(B, s0, i, ""), row);
    jr_outer_add(R, P, row, W, false);
    jr_for_end(R, &fr, 1);
    LLVMBuildRetVoid(B);
    jr_fn_end(R);
    return f;
}

/* void comb(ctx, noalias acc, noalias right): each entry's slot of acc =
 * acc OP right, per column (one column INNER). */
static LLVMValueRef jr_comb_fn(jr *R, jr_pass *P, const char *nm)
{
    jl *L = R->L;
    LLVMTypeRef pt[3] = {L->ptr, L->ptr, L->ptr};
    LLVMValueRef f = jr_new_fn(R, nm, 0, LLVMFunctionType(L->vd, pt, 3, 0));
    jr_noalias(R, f, 1);
    jr_noalias(R, f, 2);
    jr_fn_begin(R, f);
    LLVMValueRef W = R->col < 0 ? jr_i64(R, 1)
                                : jr_load(R, L->i64, jr_field(R, LLVMGetParam(f, 0), JR_CTX_W), 8);
    R->slotw = W;
    for (int e = 0; e < P->n; e++) {
        jr_entry *E = &P->e[e];
        LLVMValueRef acc = jr_slot(R, LLVMGetParam(f, 1), e), right = jr_slot(R, LLVMGetParam(f, 2), e);
        jr_for fc;
        LLVMValueRef c = jr_cols_begin(R, &fc, W, "c");
        LLVMValueRef ap = jr_gep(R, E->ty, acc, c);
        LLVMValueRef r = jr_load(R, E->ty, jr_gep(R, E->ty, right, c), 0);
        jr_store(R, jr_op(R, E, jr_load(R, E->ty, ap, 0), r), ap, 0);
        jr_for_end(R, &fc, 1);
        jr_scalar_loop(R, &fc);
    }
    LLVMBuildRetVoid(L->b);
    jr_fn_end(R);
    return f;
}

/* ---- the kernel function ------------------------------------------------------------ */

/* Stores v (dtype t) into every output naming value r, at ptr[o]. */
static void jr_store_out(jr *R, const LLVMValueRef *ptr, int r, LLVMValueRef v, kiln_dtype t)
{
    jl *L = R->L;
    if (t == KILN_BOOL)
        v = LLVMBuildZExt(L->b, v, L->i8, "");
    for (int o = 0; o < R->k->nout; o++)
        if (R->k->out_val[o] == r)
            jr_store(R, v, ptr[o], 1);
}

/* Reduction (scan) value r's result v at the output element ptr[]: stored,
 * or kept for the epilogue (jr_epilogue) when the kernel has one. */
static void jr_finish(jr *R, const LLVMValueRef *ptr, int r, LLVMValueRef v, kiln_dtype t)
{
    if (R->has_epi)
        R->fin[r] = v;
    else
        jr_store_out(R, ptr, r, v, t);
}

/* The epilogue at the output element ptr[] (the operands' pointers there):
 * its values from the results in fin[], then every output. */
static void jr_epilogue(jr *R, const LLVMValueRef *ptr)
{
    jl *L = R->L;
    const gr_kernel *k = R->k;
    if (!R->has_epi)
        return;
    memcpy(L->opp, ptr, (size_t)k->nops * sizeof *ptr);
    for (int v = 0; v < k->nvals && !L->failed; v++) {
        if (gr_is_reduce(k->vals[v].op) || gr_is_scan(k->vals[v].op))
            L->val[v] = R->fin[v];
        else if (R->epi[v])
            L->val[v] = jl_value(L, v);
    }
    for (int o = 0; o < k->nout && !L->failed; o++) {
        kiln_dtype t = (kiln_dtype)k->ops[o].dtype;
        LLVMValueRef v = L->val[k->out_val[o]];
        if (t == KILN_BOOL)
            v = LLVMBuildZExt(L->b, v, L->i8, "");
        jr_store(R, v, ptr[o], 1);
    }
}

/* Q(s, d) of runtime/reduce.h: s / d correctly rounded to T. */
static LLVMValueRef jr_div_count(jr *R, kiln_dtype t, LLVMValueRef s, LLVMValueRef d)
{
    jl *L = R->L;
    LLVMBuilderRef B = L->b;
    LLVMValueRef dd = LLVMBuildSIToFP(B, d, L->f64, "");
    if (t == KILN_FLOAT64)
        return LLVMBuildFDiv(B, s, dd, "");
    LLVMValueRef q = LLVMBuildFDiv(B, LLVMBuildFPExt(B, s, L->f64, ""), dd, "");
    return LLVMBuildFPTrunc(B, q, L->f32, "");
}

/* max(n - ddof, 0) with value r's ddof parameter. */
static LLVMValueRef jr_dof(jr *R, int r)
{
    jl *L = R->L;
    const gr_kval *kv = &R->k->vals[r];
    int q = R->k->vals[kv->in[1]].arg;
    LLVMValueRef ddof = jr_load(R, L->i64, jr_gep(R, L->i64, L->params, jr_i64(R, q)), 8);
    LLVMValueRef d = LLVMBuildSub(L->b, R->n, ddof, "");
    LLVMValueRef pos = LLVMBuildICmp(L->b, LLVMIntSGT, d, jr_i64(R, 0), "");
    return LLVMBuildSelect(L->b, pos, d, jr_i64(R, 0), "");
}

/* out = pass P's trees over the position's (chunk's) sequences, through
 * rt_kargs.trees: trees->run(trees, leaf, comb, ctx, n, out), which is
 * rt_pw_tree_tasks — the tree of runtime/reduce.c, its top subtrees run
 * as tasks when the launch allows (it calls the leaf itself when n <=
 * RT_PW_BLOCK: a branch here would make O3 unswitch the enclosing loop
 * and compile its body twice). */
static void jr_tree_call(jr *R, jr_pass *P, LLVMValueRef ctx, LLVMValueRef out)
{
    LLVMValueRef ta[8] = {R->trees, P->leaf, P->comb, ctx, R->n, out, jr_pbytes(R, P, R->slotw),
                          R->scratch};
    LLVMBuildCall2(R->L->b, R->tree_ty, R->run, ta, 8, "");
}

/* ctx.opp[o] = p[o] for every operand. */
static void jr_ctx_ptrs(jr *R, LLVMValueRef ctx, const LLVMValueRef *p)
{
    jl *L = R->L;
    LLVMValueRef opp = jr_field(R, ctx, JR_CTX_OPP);
    LLVMTypeRef at = LLVMArrayType2(L->ptr, (uint64_t)R->k->nops);
    for (int o = 0; o < R->k->nops; o++) {
        LLVMValueRef idx[2] = {jr_i64(R, 0), jr_i64(R, o)};
        jr_store(R, p[o], LLVMBuildInBoundsGEP2(L->b, at, opp, idx, 2, ""), 8);
    }
}

typedef struct jr_red {
    int r;
    gr_op op;
    kiln_dtype t, rt;     /* input (compute) and result dtypes */
    jr_family fam;
    int a, b;             /* TREE: entry in pass A, in pass B (var/std), else -1 */
    /* FLAT */
    LLVMTypeRef aty;      /* accumulator type */
    LLVMValueRef acc, idx, first, found; /* allocas (scalars or [wc] arrays) */
    bool exact;           /* argmin/argmax by NumPy's loop, one element after
                             another (else any order: pass 1's min/max) */
    LLVMValueRef want;    /* INNER argmin/argmax: the min (max) found by pass 1 */
    LLVMValueRef fbuf;    /* OUTER with an epilogue: results per column */
} jr_red;

typedef struct jr_reds {
    jr_red *x;
    int n;
    jr_pass A, B;
    LLVMValueRef fblk, fcomb; /* INNER FLAT: rt_flat_tasks's block and combine */
} jr_reds;

/* The result of TREE value X from its pass-A PW r (pass B's for var/std). */
static LLVMValueRef jr_tree_final(jr *R, jr_red *X, LLVMValueRef r)
{
    jl *L = R->L;
    LLVMValueRef zero = LLVMConstReal(jl_vty(L, X->t), 0.0);
    switch (X->op) {
    case GR_OP_SUM: return LLVMBuildFAdd(L->b, zero, r, "");
    case GR_OP_PROD: return r;
    case GR_OP_MEAN: return jr_div_count(R, X->t, LLVMBuildFAdd(L->b, zero, r, ""), R->n);
    default: break;
    }
    LLVMValueRef v = jr_div_count(R, X->t, LLVMBuildFAdd(L->b, zero, r, ""), jr_dof(R, X->r));
    return X->op == GR_OP_STD ? jl_intrin1(L, "llvm.sqrt", v) : v;
}

static bool jr_two_pass(const jr_red *X) { return X->op == GR_OP_VAR || X->op == GR_OP_STD; }

/* ---- FLAT -------------------------------------------------------------------------- */

static LLVMValueRef jr_flat_init(jr *R, jr_red *X)
{
    jl *L = R->L;
    kiln_dtype t = X->t;
    bool flt = jl_flt(t), sgn = jl_sgn(t);
    unsigned bits = jl_bool(t) ? 1 : rt_dtypes[t].bits;
    switch (X->op) {
    case GR_OP_SUM: return LLVMConstNull(X->aty);
    case GR_OP_PROD: return jl_bool(t) ? LLVMConstInt(L->i1, 1, 0) : LLVMConstInt(X->aty, 1, 0);
    case GR_OP_MIN:
    case GR_OP_MAX: {
        bool mx = X->op == GR_OP_MAX;
        if (flt)
            return LLVMConstReal(X->aty, mx ? -__builtin_inf() : __builtin_inf());
        if (jl_bool(t))
            return LLVMConstInt(L->i1, mx ? 0 : 1, 0);
        unsigned long long top = bits == 64 ? ~0ull : (1ull << bits) - 1;
        if (sgn) /* INT_MIN / INT_MAX of the width */
            return LLVMConstInt(X->aty, mx ? 1ull << (bits - 1) : top >> 1, 0);
        return LLVMConstInt(X->aty, mx ? 0 : top, 0);
    }
    case GR_OP_ALL: return LLVMConstInt(L->i1, 1, 0);
    case GR_OP_ANY: return LLVMConstInt(L->i1, 0, 0);
    case GR_OP_COUNT_NONZERO: return LLVMConstInt(L->i64, 0, 0);
    default: /* argmin/argmax: NumPy's loop replaces it at s == 0; else pass 1's min/max */
        if (X->exact)
            return LLVMConstNull(X->aty);
        jr_red M = *X;
        M.op = X->op == GR_OP_ARGMAX ? GR_OP_MAX : GR_OP_MIN;
        return jr_flat_init(R, &M);
    }
}

/* minimum(a, b) (maximum if mx) of gr_apply, with the first NaN winning
 * with its bits: a if it is NaN, else b if it is NaN (runtime/reduce.h). */
static LLVMValueRef jr_minmax_nan(jr *R, kiln_dtype t, LLVMValueRef a, LLVMValueRef b, bool mx)
{
    jl *L = R->L;
    LLVMBuilderRef B = L->b;
    LLVMValueRef ab[2] = {a, b};
    LLVMValueRef r = jl_minmax(L, t, ab, mx);
    if (!jl_flt(t))
        return r;
    LLVMValueRef an = LLVMBuildFCmp(B, LLVMRealUNO, a, a, "");
    LLVMValueRef bn = LLVMBuildFCmp(B, LLVMRealUNO, b, b, "");
    return LLVMBuildSelect(B, an, a, LLVMBuildSelect(B, bn, b, r, ""), "");
}

/* NumPy's argmin (argmax) step: does y replace best? */
static LLVMValueRef jr_arg_better(jr *R, jr_red *X, LLVMValueRef y, LLVMValueRef best)
{
    jl *L = R->L;
    bool mx = X->op == GR_OP_ARGMAX;
    if (jl_flt(X->t)) { /* !isnan(best) && !(y >= best) (argmax: !(y <= best)) */
        LLVMValueRef ok = LLVMBuildFCmp(L->b, LLVMRealORD, best, best, "");
        LLVMValueRef ge = LLVMBuildFCmp(L->b, mx ? LLVMRealOLE : LLVMRealOGE, y, best, "");
        return LLVMBuildAnd(L->b, ok, LLVMBuildNot(L->b, ge, ""), "");
    }
    LLVMIntPredicate p = jl_sgn(X->t) ? (mx ? LLVMIntSGT : LLVMIntSLT) : (mx ? LLVMIntUGT : LLVMIntULT);
    return LLVMBuildICmp(L->b, p, y, best, "");
}

static bool jr_is_arg(const jr_red *X) { return X->op == GR_OP_ARGMIN || X->op == GR_OP_ARGMAX; }

/* A float min or max: llvm.minimum/maximum give a NaN if there is one,
 * not which; jr_first_nan then finds the first. */
static bool jr_nan_rescan(const jr_red *X)
{
    return (X->op == GR_OP_MIN || X->op == GR_OP_MAX) && jl_flt(X->t);
}

/* A FLAT reduction's element y as the accumulator's type: its truth for
 * all/any, 1 or 0 for count_nonzero, else y itself. */
static LLVMValueRef jr_flat_map(jr *R, jr_red *X, LLVMValueRef y)
{
    jl *L = R->L;
    switch (X->op) {
    case GR_OP_ALL:
    case GR_OP_ANY: return jl_truth(L, y, X->t);
    case GR_OP_COUNT_NONZERO: return LLVMBuildZExt(L->b, jl_truth(L, y, X->t), L->i64, "");
    default: return y;
    }
}

/* a OP b of two accumulator values (mapped elements or accumulators), any
 * order giving the same result: not for argmin/argmax's exact rule. */
static LLVMValueRef jr_flat_comb(jr *R, jr_red *X, LLVMValueRef a, LLVMValueRef b)
{
    jl *L = R->L;
    LLVMBuilderRef B = L->b;
    kiln_dtype t = X->t;
    switch (X->op) {
    case GR_OP_SUM: return jl_bool(t) ? LLVMBuildOr(B, a, b, "") : LLVMBuildAdd(B, a, b, "");
    case GR_OP_PROD: return jl_bool(t) ? LLVMBuildAnd(B, a, b, "") : LLVMBuildMul(B, a, b, "");
    case GR_OP_ALL: return LLVMBuildAnd(B, a, b, "");
    case GR_OP_ANY: return LLVMBuildOr(B, a, b, "");
    case GR_OP_COUNT_NONZERO: return LLVMBuildAdd(B, a, b, "");
    default: { /* min, max; argmin/argmax's pass 1: their min/max */
        LLVMValueRef ab[2] = {a, b};
        bool mx = X->op == GR_OP_MAX || X->op == GR_OP_ARGMAX;
        return jl_minmax(L, t, ab, mx);
    }
    }
}

/* One step a = a OP y of a FLAT reduction (and idx for argmin/argmax) on
 * the accumulator at accp (idxp). */
static void jr_flat_step(jr *R, jr_red *X, LLVMValueRef accp, LLVMValueRef idxp, LLVMValueRef y,
                         LLVMValueRef s)
{
    jl *L = R->L;
    LLVMBuilderRef B = L->b;
    LLVMValueRef a = jr_load(R, X->aty, accp, 0), r;
    if (X->exact) { /* argmin/argmax: NumPy's loop */
        LLVMValueRef rep = LLVMBuildOr(B, LLVMBuildICmp(B, LLVMIntEQ, s, R->s0, ""),
                                       jr_arg_better(R, X, y, a), "");
        r = LLVMBuildSelect(B, rep, y, a, "");
        LLVMValueRef i = jr_load(R, L->i64, idxp, 0);
        jr_store(R, LLVMBuildSelect(B, rep, s, i, ""), idxp, 0);
    } else {
        r = jr_flat_comb(R, X, a, jr_flat_map(R, X, y));
    }
    jr_store(R, r, accp, 0);
}

static void jr_flat_body(jr *R, void *cx, LLVMValueRef s)
{
    jr_reds *Z = cx;
    jr_producer_all(R);
    for (int x = 0; x < Z->n; x++) {
        jr_red *X = &Z->x[x];
        if (X->fam == JR_FLAT)
            jr_flat_step(R, X, X->acc, X->idx, jr_val(R, R->k->vals[X->r].in[0]), s);
    }
}

/* NaN rescan: the first NaN of the sequence, into X->first. */
static void jr_nan_body(jr *R, void *cx, LLVMValueRef s)
{
    jr_red *X = cx;
    jl *L = R->L;
    (void)s;
    LLVMValueRef y = jr_producer(R, X->r);
    LLVMValueRef isn = LLVMBuildFCmp(L->b, LLVMRealUNO, y, y, "");
    LLVMValueRef found = jr_load(R, L->i1, X->found, 0);
    LLVMValueRef take = LLVMBuildAnd(L->b, isn, LLVMBuildNot(L->b, found, ""), "");
    jr_store(R, LLVMBuildSelect(L->b, take, y, jr_load(R, X->aty, X->first, 0), ""), X->first, 0);
    jr_store(R, LLVMBuildOr(L->b, found, isn, ""), X->found, 0);
}

/* A float min/max's result res over sequence positions [lo, hi) at the
 * kept position pos[]: res, or if it is NaN, the first NaN there, its bits
 * kept (a second pass over the range, only then). */
static LLVMValueRef jr_first_nan(jr *R, jr_red *X, const LLVMValueRef *pos, LLVMValueRef lo,
                                 LLVMValueRef hi, LLVMValueRef res)
{
    jl *L = R->L;
    X->first = jr_alloca(R, X->aty, 0, "nan");
    X->found = jr_alloca(R, L->i1, 0, "found");
    jr_store(R, res, X->first, 0);
    LLVMBasicBlockRef join = jr_if_begin(R, LLVMBuildFCmp(L->b, LLVMRealUNO, res, res, ""), "nan");
    jr_store(R, LLVMConstInt(L->i1, 0, 0), X->found, 0);
    jr_seq_loop(R, pos, lo, hi, jr_nan_body, X);
    jr_if_end(R, join);
    return jr_load(R, X->aty, X->first, 0);
}

/* INNER argmin/argmax, pass 2: idx = the least s whose y equals the min
 * (max) pass 1 found — or, if that is NaN, whose y is NaN. A minimum of
 * candidate indices, so it vectorizes as pass 1 does. */
static void jr_argpos_body(jr *R, void *cx, LLVMValueRef s)
{
    jr_red *X = cx;
    jl *L = R->L;
    LLVMBuilderRef B = L->b;
    LLVMValueRef y = jr_producer(R, X->r), match;
    if (jl_flt(X->t)) {
        LLVMValueRef nan = LLVMBuildAnd(B, LLVMBuildFCmp(B, LLVMRealUNO, X->want, X->want, ""),
                                        LLVMBuildFCmp(B, LLVMRealUNO, y, y, ""), "");
        match = LLVMBuildOr(B, LLVMBuildFCmp(B, LLVMRealOEQ, y, X->want, ""), nan, "");
    } else {
        match = LLVMBuildICmp(B, LLVMIntEQ, y, X->want, "");
    }
    LLVMValueRef i = jr_load(R, L->i64, X->idx, 0);
    LLVMValueRef c = LLVMBuildSelect(B, match, s, jr_i64(R, INT64_MAX), "");
    jr_store(R, LLVMBuildSelect(B, LLVMBuildICmp(B, LLVMIntSLT, c, i, ""), c, i, ""), X->idx, 0);
}

static void jr_arg_exact_body(jr *R, void *cx, LLVMValueRef s)
{
    jr_red *X = cx;
    jr_flat_step(R, X, X->acc, X->idx, jr_producer(R, X->r), s);
}

/* INNER argmin/argmax after pass 1 over positions [lo, hi) of the
 * sequence at base[] (X->acc holds their min, or max, as min/max computes
 * it: NaN if there is one): NumPy's answer is the first index holding that
 * value (-0.0 == +0.0), or the first NaN. Pass 2 finds it
 * (jr_argpos_body) into X->idx. Both passes vectorize; NumPy's own loop
 * (x[i] replaces the best if !(x[i] >= best)) does not. If pass 2 finds
 * nothing — an approximate producer computed by other (vector or scalar)
 * code in the two passes — NumPy's loop runs instead (X->acc then holds
 * its best value). */
static void jr_inner_arg(jr *R, jr_red *X, const LLVMValueRef *base, LLVMValueRef lo,
                         LLVMValueRef hi)
{
    jl *L = R->L;
    LLVMBuilderRef B = L->b;
    X->want = jr_load(R, X->aty, X->acc, 0);
    jr_store(R, jr_i64(R, INT64_MAX), X->idx, 0);
    jr_seq_loop_n(R, base, lo, hi, jr_argpos_body, X, JR_FLAT_INTERLEAVE);
    LLVMValueRef none = LLVMBuildICmp(B, LLVMIntEQ, jr_load(R, L->i64, X->idx, 0),
                                      jr_i64(R, INT64_MAX), "");
    LLVMBasicBlockRef join = jr_if_begin(R, none, "argslow");
    X->exact = true;
    jr_store(R, jr_flat_init(R, X), X->acc, 0);
    jr_store(R, lo, X->idx, 0);
    R->s0 = lo;
    jr_seq_loop(R, base, lo, hi, jr_arg_exact_body, X);
    R->s0 = jr_i64(R, 0);
    X->exact = false;
    jr_if_end(R, join);
}

/* ---- FLAT in blocks (rt_flat_tasks, runtime/reduce.h) ------------------------------
 * A partial holds FLAT reduction x's accumulator at byte x * JR_FLAT_SLOT
 * and, for argmin/argmax, the index of its value 8 bytes further. */
enum { JR_FLAT_SLOT = 16 };
_Static_assert(JR_FLAT_SLOT * GR_SIBLINGS <= RT_FLAT_PARTIAL, "FLAT partials (runtime/reduce.h)");


static LLVMValueRef jr_flat_slot(jr *R, LLVMValueRef part, int x, int field)
{
    return jr_gep(R, R->L->i8, part, jr_i64(R, x * JR_FLAT_SLOT + 8 * field));
}

/* Every FLAT reduction of Z over positions [lo, hi) of the sequence at
 * base[], into its slot of part: one loop for all of them, then per
 * reduction the range's second pass if it needs one (a float min/max
 * whose result is NaN: the first NaN's bits; argmin/argmax: the index). */
static void jr_flat_seq(jr *R, jr_reds *Z, const LLVMValueRef *base, LLVMValueRef lo,
                        LLVMValueRef hi, LLVMValueRef part)
{
    jl *L = R->L;
    for (int x = 0; x < Z->n; x++) {
        jr_red *X = &Z->x[x];
        if (X->fam != JR_FLAT)
            continue;
        X->acc = jr_alloca(R, X->aty, 0, "acc");
        X->idx = jr_alloca(R, L->i64, 0, "idx");
        jr_store(R, jr_flat_init(R, X), X->acc, 0);
        jr_store(R, lo, X->idx, 0);
    }
    jr_seq_loop_n(R, base, lo, hi, jr_flat_body, Z, JR_FLAT_INTERLEAVE);
    for (int x = 0; x < Z->n; x++) {
        jr_red *X = &Z->x[x];
        if (X->fam != JR_FLAT)
            continue;
        if (jr_nan_rescan(X))
            jr_store(R, jr_first_nan(R, X, base, lo, hi, jr_load(R, X->aty, X->acc, 0)), X->acc, 0);
        if (jr_is_arg(X))
            jr_inner_arg(R, X, base, lo, hi);
        jr_store(R, jr_load(R, X->aty, X->acc, 0), jr_flat_slot(R, part, x, 0), 0);
        jr_store(R, jr_load(R, L->i64, X->idx, 0), jr_flat_slot(R, part, x, 1), 0);
    }
}

/* rt_tree_comb for rt_flat_tasks: void comb(ctx, noalias acc, noalias
 * right), acc the earlier blocks' partial — runtime/reduce.h's rule. */
static LLVMValueRef jr_flat_comb_fn(jr *R, jr_reds *Z)
{
    jl *L = R->L;
    LLVMBuilderRef B = L->b;
    LLVMTypeRef pt[3] = {L->ptr, L->ptr, L->ptr};
    LLVMValueRef f = jr_new_fn(R, "fcomb", 0, LLVMFunctionType(L->vd, pt, 3, 0));
    jr_noalias(R, f, 1);
    jr_noalias(R, f, 2);
    jr_fn_begin(R, f);
    LLVMValueRef acc = LLVMGetParam(f, 1), right = LLVMGetParam(f, 2);
    for (int x = 0; x < Z->n; x++) {
        jr_red *X = &Z->x[x];
        if (X->fam != JR_FLAT)
            continue;
        LLVMValueRef ap = jr_flat_slot(R, acc, x, 0), ip = jr_flat_slot(R, acc, x, 1);
        LLVMValueRef a = jr_load(R, X->aty, ap, 0);
        LLVMValueRef b = jr_load(R, X->aty, jr_flat_slot(R, right, x, 0), 0), r;
        if (jr_is_arg(X)) { /* a tie keeps the earlier index */
            LLVMValueRef take = jr_arg_better(R, X, b, a);
            LLVMValueRef ib = jr_load(R, L->i64, jr_flat_slot(R, right, x, 1), 0);
            jr_store(R, LLVMBuildSelect(B, take, ib, jr_load(R, L->i64, ip, 0), ""), ip, 0);
            r = LLVMBuildSelect(B, take, b, a, "");
        } else if (X->op == GR_OP_MIN || X->op == GR_OP_MAX) { /* the first NaN wins */
            r = jr_minmax_nan(R, X->t, a, b, X->op == GR_OP_MAX);
        } else {
            r = jr_flat_comb(R, X, a, b);
        }
        jr_store(R, r, ap, 0);
    }
    LLVMBuildRetVoid(B);
    jr_fn_end(R);
    return f;
}

/* rt_tree_leaf for rt_flat_tasks: void blk(ctx, s0, len, noalias part) =
 * jr_flat_seq over the position's [s0, s0+len). */
static LLVMValueRef jr_flat_blk_fn(jr *R, jr_reds *Z)
{
    jl *L = R->L;
    LLVMValueRef f = jr_new_fn(R, "fblk", 0, jr_leaf_type(R));
    jr_noalias(R, f, 3);
    jr_fn_begin(R, f);
    LLVMValueRef s0 = LLVMGetParam(f, 1), base[256];
    jr_leaf_prologue(R, LLVMGetParam(f, 0), base);
    jr_flat_seq(R, Z, base, s0, LLVMBuildAdd(L->b, s0, LLVMGetParam(f, 2), ""), LLVMGetParam(f, 3));
    LLVMBuildRetVoid(L->b);
    jr_fn_end(R);
    return f;
}

/* ---- one position (INNER) and one chunk (OUTER) ---------------------------------------- */

static bool jr_any_flat(const jr_reds *Z)
{
    for (int x = 0; x < Z->n; x++)
        if (Z->x[x].fam == JR_FLAT)
            return true;
    return false;
}

/* Pass P's trees at one kept position into part: for n < 8 (a tree of
 * one sequential leaf) inline — many short sequences (the 3 coordinates of
 * a distance) then cost no call — else through rt_pw_tree. */
static void jr_inner_pass(jr *R, jr_pass *P, LLVMValueRef ctx, LLVMValueRef part,
                          LLVMValueRef means)
{
    jl *L = R->L;
    LLVMBuilderRef B = L->b;
    LLVMBasicBlockRef small = LLVMAppendBasicBlockInContext(L->c, R->fn, "short");
    LLVMBasicBlockRef tree = LLVMAppendBasicBlockInContext(L->c, R->fn, "tree");
    LLVMBasicBlockRef done = LLVMAppendBasicBlockInContext(L->c, R->fn, "passed");
    LLVMBuildCondBr(B, LLVMBuildICmp(B, LLVMIntSLT, R->n, jr_i64(R, JR_VEC), ""), small, tree);
    LLVMPositionBuilderAtEnd(B, small);
    jr_acc_cx A;
    A.P = P;
    for (int e = 0; e < P->n; e++) {
        jr_entry *E = &P->e[e];
        A.acc[e] = jr_alloca(R, E->ty, 0, "r");
        jr_store(R, jr_ident(E), A.acc[e], 0);
        E->m = means ? jr_load(R, E->ty, jr_slot(R, means, e), 0) : NULL;
    }
    jr_seq_loop(R, R->pos, jr_i64(R, 0), R->n, jr_acc_body, &A);
    for (int e = 0; e < P->n; e++)
        jr_store(R, jr_load(R, P->e[e].ty, A.acc[e], 0), jr_slot(R, part, e), 0);
    LLVMBuildBr(B, done);
    LLVMPositionBuilderAtEnd(B, tree);
    jr_ctx_ptrs(R, ctx, R->pos);
    jr_tree_call(R, P, ctx, part);
    LLVMBuildBr(B, done);
    LLVMPositionBuilderAtEnd(B, done);
}

/* Every reduction at one kept position: pass A (the trees), the FLAT
 * reductions in one loop, pass B (var/std's squared deviations). */
static void jr_inner_position(jr *R, jr_reds *Z, LLVMValueRef ctx, LLVMValueRef partA,
                              LLVMValueRef partB, LLVMValueRef means, LLVMValueRef fpart)
{
    jl *L = R->L;
    LLVMBuilderRef B = L->b;
    if (Z->A.n) {
        jr_inner_pass(R, &Z->A, ctx, partA, NULL);
        for (int x = 0; x < Z->n; x++) {
            jr_red *X = &Z->x[x];
            if (X->fam != JR_TREE)
                continue;
            LLVMValueRef r = jr_load(R, jl_vty(L, X->t), jr_slot(R, partA, X->a), 0);
            if (jr_two_pass(X)) {
                LLVMValueRef m = jr_div_count(R, X->t, LLVMBuildFAdd(B, LLVMConstReal(jl_vty(L, X->t), 0.0), r, ""),
                                              R->n);
                jr_store(R, m, jr_slot(R, means, X->b), 0);
            } else {
                jr_finish(R, R->pos, X->r, jr_tree_final(R, X, r), X->rt);
            }
        }
    }
    if (jr_any_flat(Z)) {
        /* a sequence of several blocks goes to rt_flat_tasks (which takes
         * it: the same rule, n > RT_FLAT_BLOCK), a shorter one to the block
         * function as one block: one copy of the loop in the module (an
         * inline copy as well doubled the compile time — sum of int32 8 ->
         * 17 ms; the call costs rows of 3 under 10%: max over the rows of
         * a (1.3M, 3) matrix 5.2 -> 5.5 ms) */
        LLVMBasicBlockRef blocks = LLVMAppendBasicBlockInContext(L->c, R->fn, "blocks");
        LLVMBasicBlockRef one = LLVMAppendBasicBlockInContext(L->c, R->fn, "oneblock");
        LLVMBasicBlockRef done = LLVMAppendBasicBlockInContext(L->c, R->fn, "flatdone");
        jr_ctx_ptrs(R, ctx, R->pos);
        LLVMBuildCondBr(B, LLVMBuildICmp(B, LLVMIntSGT, R->n, jr_i64(R, RT_FLAT_BLOCK), ""), blocks, one);
        LLVMPositionBuilderAtEnd(B, blocks);
        LLVMTypeRef pt[6] = {L->ptr, L->ptr, L->ptr, L->ptr, L->i64, L->ptr};
        LLVMValueRef a[6] = {R->trees, Z->fblk, Z->fcomb, ctx, R->n, fpart};
        LLVMValueRef took = LLVMBuildCall2(B, LLVMFunctionType(L->i1, pt, 6, 0), R->flat, a, 6, "");
        LLVMBuildCondBr(B, took, done, one);
        LLVMPositionBuilderAtEnd(B, one);
        LLVMValueRef b[4] = {ctx, jr_i64(R, 0), R->n, fpart};
        LLVMBuildCall2(B, jr_leaf_type(R), Z->fblk, b, 4, "");
        LLVMBuildBr(B, done);
        LLVMPositionBuilderAtEnd(B, done);
        for (int x = 0; x < Z->n; x++) {
            jr_red *X = &Z->x[x];
            if (X->fam != JR_FLAT)
                continue;
            LLVMValueRef res = jr_is_arg(X) ? jr_load(R, L->i64, jr_flat_slot(R, fpart, x, 1), 0)
                                            : jr_load(R, X->aty, jr_flat_slot(R, fpart, x, 0), 0);
            jr_finish(R, R->pos, X->r, res, X->rt);
        }
    }
    if (Z->B.n) {
        jr_inner_pass(R, &Z->B, ctx, partB, means);
        for (int x = 0; x < Z->n; x++) {
            jr_red *X = &Z->x[x];
            if (X->fam == JR_TREE && jr_two_pass(X)) {
                LLVMValueRef r = jr_load(R, jl_vty(L, X->t), jr_slot(R, partB, X->b), 0);
                jr_finish(R, R->pos, X->r, jr_tree_final(R, X, r), X->rt);
            }
        }
    }
    jr_epilogue(R, R->pos);
    memcpy(L->opp, R->pos, (size_t)R->k->nops * sizeof *L->opp);
}

/* OUTER: reduction X's result v at column c — stored at optr, or, with an
 * epilogue, kept in X's column buffer for jr_outer_epilogue. */
static void jr_col_finish(jr *R, jr_red *X, const LLVMValueRef *optr, LLVMValueRef c, LLVMValueRef v)
{
    if (!R->has_epi) {
        jr_store_out(R, optr, X->r, v, X->rt);
        return;
    }
    LLVMTypeRef ty = LLVMTypeOf(v);
    jr_store(R, v, jr_gep(R, ty, X->fbuf, c), 0);
}

static void jr_outer_epilogue(jr *R, jr_reds *Z, const LLVMValueRef *base, LLVMValueRef W)
{
    if (!R->has_epi)
        return;
    LLVMValueRef optr[256];
    jr_for fe;
    LLVMValueRef c = jr_cols_begin(R, &fe, W, "epi");
    jr_adv_all(R, base, R->col, c, optr);
    for (int x = 0; x < Z->n; x++) {
        jr_red *X = &Z->x[x];
        LLVMTypeRef ty = jr_is_arg(X) ? R->L->i64 : jl_vty(R->L, X->rt);
        R->fin[X->r] = jr_load(R, ty, jr_gep(R, ty, X->fbuf, c), 0);
    }
    jr_epilogue(R, optr);
    jr_for_end(R, &fe, 1);
}

/* OUTER: the FLAT reductions' steps for rows s, s+1, ..., s+nrows-1 of a
 * chunk of W columns in one loop over the columns: an accumulator is
 * loaded and stored once per nrows rows, as jr_outer_chain does for the
 * trees — argmin/argmax step row by row (NumPy's rule; LLVM forwards the
 * accumulator from step to step), the others combine the rows first. */
static void jr_flat_rows(jr *R, jr_reds *Z, const LLVMValueRef *base, LLVMValueRef s, int nrows,
                         LLVMValueRef W)
{
    jl *L = R->L;
    LLVMValueRef rows[JR_CHAIN][256], at[JR_CHAIN], y[GR_SIBLINGS][JR_CHAIN];
    jr_rows_at(R, base, s, 1, nrows, rows, at);
    jr_for fc;
    LLVMValueRef c = jr_cols_begin(R, &fc, W, "cols");
    for (int q = 0; q < nrows; q++) {
        jr_adv_all(R, rows[q], R->col, c, L->opp);
        jr_producer_all(R);
        for (int x = 0; x < Z->n; x++) {
            jr_red *X = &Z->x[x];
            LLVMValueRef v = X->fam == JR_FLAT ? jr_val(R, R->k->vals[X->r].in[0]) : NULL;
            if (X->fam == JR_FLAT && X->exact)
                jr_flat_step(R, X, jr_gep(R, X->aty, X->acc, c), jr_gep(R, L->i64, X->idx, c), v,
                             at[q]);
            else if (v)
                y[x][q] = jr_flat_map(R, X, v);
        }
    }
    /* the others in any order: the rows' values as a tree, then once into
     * the accumulator (a chain of nrows dependent steps otherwise) */
    for (int x = 0; x < Z->n; x++) {
        jr_red *X = &Z->x[x];
        if (X->fam != JR_FLAT || X->exact)
            continue;
        for (int w = 1; w < nrows; w *= 2)
            for (int q = 0; q + w < nrows; q += 2 * w)
                y[x][q] = jr_flat_comb(R, X, y[x][q], y[x][q + w]);
        LLVMValueRef ap = jr_gep(R, X->aty, X->acc, c);
        jr_store(R, jr_flat_comb(R, X, jr_load(R, X->aty, ap, 0), y[x][0]), ap, 0);
    }
    jr_for_end(R, &fc, 1);
}

/* Every reduction for a chunk of W columns (OUTER), in the same passes. */
static void jr_outer_chunk(jr *R, jr_reds *Z, LLVMValueRef ctx, const LLVMValueRef *base,
                           LLVMValueRef W, LLVMValueRef partA, LLVMValueRef partB, LLVMValueRef means)
{
    jl *L = R->L;
    LLVMBuilderRef B = L->b;
    LLVMValueRef optr[256];
    R->slotw = W;
    if (R->has_epi)
        for (int x = 0; x < Z->n; x++) {
            jr_red *X = &Z->x[x];
            LLVMTypeRef ty = jr_is_arg(X) ? L->i64 : jl_vty(L, X->rt);
            X->fbuf = jr_alloca(R, LLVMArrayType2(ty, (uint64_t)R->wcap), 64, "fin");
        }
    jr_ctx_ptrs(R, ctx, base);
    jr_store(R, W, jr_field(R, ctx, JR_CTX_W), 8);
    if (Z->A.n) {
        jr_tree_call(R, &Z->A, ctx, partA);
        jr_for ff;
        LLVMValueRef c = jr_cols_begin(R, &ff, W, "fin");
        jr_adv_all(R, base, R->col, c, optr);
        for (int x = 0; x < Z->n; x++) {
            jr_red *X = &Z->x[x];
            if (X->fam != JR_TREE)
                continue;
            LLVMTypeRef ty = jl_vty(L, X->t);
            LLVMValueRef r = jr_load(R, ty, jr_gep(R, ty, jr_slot(R, partA, X->a), c), 0);
            if (jr_two_pass(X)) {
                LLVMValueRef m = jr_div_count(R, X->t, LLVMBuildFAdd(B, LLVMConstReal(ty, 0.0), r, ""), R->n);
                jr_store(R, m, jr_gep(R, ty, jr_slot(R, means, X->b), c), 0);
            } else {
                jr_col_finish(R, X, optr, c, jr_tree_final(R, X, r));
            }
        }
        jr_for_end(R, &ff, 1);
        jr_scalar_loop(R, &ff);
    }
    if (jr_any_flat(Z)) {
        for (int x = 0; x < Z->n; x++) {
            jr_red *X = &Z->x[x];
            if (X->fam != JR_FLAT)
                continue;
            X->acc = jr_alloca(R, LLVMArrayType2(X->aty, (uint64_t)R->wcap), 64, "accs");
            /* argmin/argmax step by NumPy's rule; the others in any order
             * (float min/max as llvm.minimum/maximum, a NaN result then
             * found again: jr_first_nan) */
            X->exact = jr_is_arg(X);
            X->idx = X->exact ? jr_alloca(R, LLVMArrayType2(L->i64, (uint64_t)R->wcap), 64, "idxs")
                              : NULL;
            jr_for fi;
            LLVMValueRef c = jr_cols_begin(R, &fi, W, "init");
            jr_store(R, jr_flat_init(R, X), jr_gep(R, X->aty, X->acc, c), 0);
            if (X->exact)
                jr_store(R, jr_i64(R, 0), jr_gep(R, L->i64, X->idx, c), 0);
            jr_for_end(R, &fi, 1);
            jr_scalar_loop(R, &fi);
        }
        /* rows in chains of JR_CHAIN, then the rest one by one */
        LLVMValueRef n8 = LLVMBuildAnd(B, R->n, jr_i64(R, ~(int64_t)(JR_CHAIN - 1)), "");
        jr_for fr;
        LLVMValueRef s = jr_for_begin(R, &fr, jr_i64(R, 0), n8, "chains");
        jr_flat_rows(R, Z, base, s, JR_CHAIN, W);
        jr_for_end(R, &fr, JR_CHAIN);
        s = jr_for_begin(R, &fr, n8, R->n, "rows");
        jr_flat_rows(R, Z, base, s, 1, W);
        jr_for_end(R, &fr, 1);
        jr_for fo;
        LLVMValueRef c = jr_cols_begin(R, &fo, W, "fin");
        jr_adv_all(R, base, R->col, c, optr);
        for (int x = 0; x < Z->n; x++) {
            jr_red *X = &Z->x[x];
            if (X->fam != JR_FLAT)
                continue;
            bool arg = jr_is_arg(X);
            LLVMValueRef v = arg ? jr_load(R, L->i64, jr_gep(R, L->i64, X->idx, c), 0)
                                 : jr_load(R, X->aty, jr_gep(R, X->aty, X->acc, c), 0);
            if (jr_nan_rescan(X))
                v = jr_first_nan(R, X, optr, jr_i64(R, 0), R->n, v);
            jr_col_finish(R, X, optr, c, v);
        }
        jr_for_end(R, &fo, 1);
        jr_scalar_loop(R, &fo);
    }
    if (Z->B.n) {
        jr_store(R, means, jr_field(R, ctx, JR_CTX_MEAN), 8);
        jr_tree_call(R, &Z->B, ctx, partB);
        jr_for ff;
        LLVMValueRef c = jr_cols_begin(R, &ff, W, "fin2");
        jr_adv_all(R, base, R->col, c, optr);
        for (int x = 0; x < Z->n; x++) {
            jr_red *X = &Z->x[x];
            if (X->fam != JR_TREE || !jr_two_pass(X))
                continue;
            LLVMTypeRef ty = jl_vty(L, X->t);
            LLVMValueRef r = jr_load(R, ty, jr_gep(R, ty, jr_slot(R, partB, X->b), c), 0);
            jr_col_finish(R, X, optr, c, jr_tree_final(R, X, r));
        }
        jr_for_end(R, &ff, 1);
        jr_scalar_loop(R, &ff);
    }
    jr_outer_epilogue(R, Z, base, W);
}

/* ---- set-up ---------------------------------------------------------------------------- */

/* The entry of pass P reducing value prod with op mul, added if new. */
static int jr_entry_of(jr *R, jr_pass *P, int prod, bool mul)
{
    for (int e = 0; e < P->n; e++)
        if (P->e[e].prod == prod && P->e[e].mul == mul)
            return e;
    jr_entry *E = &P->e[P->n];
    memset(E, 0, sizeof *E);
    E->prod = prod;
    E->t = (kiln_dtype)R->k->vals[prod].dtype;
    E->ty = jl_vty(R->L, E->t);
    E->vty = LLVMVectorType(E->ty, JR_VEC);
    E->mul = mul;
    return P->n++;
}

static int jr_prepare(jr *R, jr_reds *Z, jr_red *X, int r)
{
    jl *L = R->L;
    const gr_kernel *k = R->k;
    const gr_kval *kv = &k->vals[r];
    memset(X, 0, sizeof *X);
    X->r = r;
    X->op = (gr_op)kv->op;
    X->t = (kiln_dtype)k->vals[kv->in[0]].dtype;
    X->rt = (kiln_dtype)kv->dtype;
    X->a = X->b = -1;
    bool tree = jl_flt(X->t) && (X->op == GR_OP_SUM || X->op == GR_OP_PROD || X->op == GR_OP_MEAN ||
                                 X->op == GR_OP_VAR || X->op == GR_OP_STD);
    if (!tree && (X->op == GR_OP_MEAN || X->op == GR_OP_VAR || X->op == GR_OP_STD)) {
        jl_fail(L, "%s of a non-float input", gr_ops[X->op].name);
        return -1;
    }
    X->fam = tree ? JR_TREE : JR_FLAT;
    X->aty = X->op == GR_OP_ALL || X->op == GR_OP_ANY ? L->i1
             : X->op == GR_OP_COUNT_NONZERO          ? L->i64
                                                     : jl_vty(L, X->t);
    if (tree) {
        X->a = jr_entry_of(R, &Z->A, kv->in[0], X->op == GR_OP_PROD);
        if (jr_two_pass(X))
            X->b = jr_entry_of(R, &Z->B, kv->in[0], false);
    }
    return 0;
}

/* ---- scans ------------------------------------------------------------------------ */

typedef struct jr_scan {
    int r;
    gr_op op;
    kiln_dtype t;
    LLVMTypeRef ty;
    bool blocked;        /* float cumsum/cumprod: RT_SCAN_BLOCK blocks */
    LLVMValueRef l, carry; /* allocas: the block's running value and the carry
                              (INNER scalars, OUTER [wc] arrays) */
    LLVMValueRef b0;     /* the current block's first position */
    LLVMValueRef blk, comb; /* INNER blocked: rt_scan_block and rt_tree_comb
                               functions for rt_scan_tasks, or NULL */
} jr_scan;

/* a OP b of the scan (left operand first, as runtime/reduce.c). */
static LLVMValueRef jr_scan_op(jr *R, jr_scan *S, LLVMValueRef a, LLVMValueRef b)
{
    jl *L = R->L;
    LLVMBuilderRef B = L->b;
    kiln_dtype t = S->t;
    switch (S->op) {
    case GR_OP_CUMSUM:
        if (jl_flt(t))
            return LLVMBuildFAdd(B, a, b, "");
        return jl_bool(t) ? LLVMBuildOr(B, a, b, "") : LLVMBuildAdd(B, a, b, "");
    case GR_OP_CUMPROD:
        if (jl_flt(t))
            return LLVMBuildFMul(B, a, b, "");
        return jl_bool(t) ? LLVMBuildAnd(B, a, b, "") : LLVMBuildMul(B, a, b, "");
    default: /* cummin, cummax: gr_apply's rule, the first NaN kept with its bits */
        return jr_minmax_nan(R, t, a, b, S->op == GR_OP_CUMMAX);
    }
}

/* The identity l starts each block from: OP(identity, y) is y, bit for bit
 * (-0.0 + y, 1.0 * y, minimum(+inf, y) under the NaN rule, 0 + y, ...),
 * except that a signaling NaN comes out quiet from + and * — which NaN a
 * sum or product gives is the hardware's (runtime/reduce.h). So the scan's
 * dependency chain is one OP per element, no select. */
static LLVMValueRef jr_scan_ident(jr *R, jr_scan *S)
{
    jl *L = R->L;
    kiln_dtype t = S->t;
    bool flt = jl_flt(t);
    switch (S->op) {
    case GR_OP_CUMSUM:
        return flt ? LLVMConstReal(S->ty, -0.0) : LLVMConstNull(S->ty);
    case GR_OP_CUMPROD:
        return flt ? LLVMConstReal(S->ty, 1.0) : LLVMConstInt(S->ty, 1, 0);
    default: {
        bool mx = S->op == GR_OP_CUMMAX;
        if (flt)
            return LLVMConstReal(S->ty, mx ? -__builtin_inf() : __builtin_inf());
        if (jl_bool(t))
            return LLVMConstInt(L->i1, mx ? 0 : 1, 0);
        unsigned bits = rt_dtypes[t].bits;
        unsigned long long top = bits == 64 ? ~0ull : (1ull << bits) - 1;
        if (jl_sgn(t))
            return LLVMConstInt(S->ty, mx ? 1ull << (bits - 1) : top >> 1, 0);
        return LLVMConstInt(S->ty, mx ? 0 : top, 0);
    }
    }
}

/* One element at position s: l = l OP y (l is the identity at a block's
 * start); the output is l, or carry OP l in a block after the first; lp/cp
 * point at l and carry. */
static void jr_scan_step(jr *R, jr_scan *S, LLVMValueRef s, LLVMValueRef lp, LLVMValueRef cp)
{
    jl *L = R->L;
    LLVMBuilderRef B = L->b;
    (void)s;
    LLVMValueRef y = jr_producer(R, S->r);
    LLVMValueRef l = jr_scan_op(R, S, jr_load(R, S->ty, lp, 0), y);
    jr_store(R, l, lp, 0);
    LLVMValueRef out = l;
    if (S->blocked) {
        LLVMValueRef later = LLVMBuildICmp(B, LLVMIntSGT, S->b0, jr_i64(R, 0), "");
        out = LLVMBuildSelect(B, later, jr_scan_op(R, S, jr_load(R, S->ty, cp, 0), l), l, "");
    }
    if (R->has_epi) { /* the epilogue reads the scan at its own element */
        LLVMValueRef here[256];
        memcpy(here, L->opp, (size_t)R->k->nops * sizeof *here);
        R->fin[S->r] = out;
        jr_epilogue(R, here);
        return;
    }
    jr_store_out(R, L->opp, S->r, out, S->t);
}

/* carry = (b0 == 0) ? l : carry OP l, at a block's end. */
static void jr_scan_carry(jr *R, jr_scan *S, LLVMValueRef lp, LLVMValueRef cp)
{
    LLVMBuilderRef B = R->L->b;
    LLVMValueRef l = jr_load(R, S->ty, lp, 0);
    LLVMValueRef first = LLVMBuildICmp(B, LLVMIntEQ, S->b0, jr_i64(R, 0), "");
    jr_store(R, LLVMBuildSelect(B, first, l, jr_scan_op(R, S, jr_load(R, S->ty, cp, 0), l), ""),
             cp, 0);
}

static void jr_scan_body(jr *R, void *cx, LLVMValueRef s)
{
    jr_scan *S = cx;
    jr_scan_step(R, S, s, S->l, S->carry);
}

/* OUTER: the scan's steps for rows s, ..., s+nrows-1 of a chunk of W
 * columns, in order, in one loop over the columns (the running value is
 * forwarded from step to step, not stored and loaded per row). */
static void jr_scan_rows(jr *R, jr_scan *S, const LLVMValueRef *base, LLVMValueRef s, int nrows,
                         LLVMValueRef W)
{
    jl *L = R->L;
    LLVMValueRef rows[JR_CHAIN][256], at[JR_CHAIN];
    jr_rows_at(R, base, s, 1, nrows, rows, at);
    jr_for fc;
    LLVMValueRef c = jr_cols_begin(R, &fc, W, "cols");
    for (int q = 0; q < nrows; q++) {
        jr_adv_all(R, rows[q], R->col, c, L->opp);
        jr_scan_step(R, S, at[q], jr_gep(R, S->ty, S->l, c), jr_gep(R, S->ty, S->carry, c));
    }
    jr_for_end(R, &fc, 1);
}

/* The blocks of [0, n): the body between jr_blocks_begin and _end runs
 * for b0 = 0, B, 2B, ... with *b1 = min(b0 + B, n) (B = n unblocked). */
static LLVMValueRef jr_blocks_begin(jr *R, jr_scan *S, jr_for *f, LLVMValueRef *b1)
{
    LLVMBuilderRef B = R->L->b;
    S->b0 = jr_for_begin(R, f, jr_i64(R, 0), R->n, "block");
    LLVMValueRef left = LLVMBuildSub(B, R->n, S->b0, "");
    *b1 = S->blocked ? LLVMBuildAdd(B, S->b0, jr_min64(R, left, jr_i64(R, RT_SCAN_BLOCK)), "")
                     : R->n;
    return S->b0;
}

/* rt_scan_block (runtime/reduce.h) for an INNER blocked scan:
 * void blk(ctx, b0, b1, carry, noalias total, write). The block's steps
 * are jr_scan_step's, with S->b0 standing for "a carry was given" (the
 * step's "a block after the first"). */
static void jr_scan_total_body(jr *R, void *cx, LLVMValueRef s)
{
    jr_scan *S = cx;
    (void)s;
    LLVMValueRef y = jr_producer(R, S->r);
    jr_store(R, jr_scan_op(R, S, jr_load(R, S->ty, S->l, 0), y), S->l, 0);
}

static LLVMValueRef jr_scan_blk_fn(jr *R, jr_scan *S)
{
    jl *L = R->L;
    LLVMBuilderRef B = L->b;
    LLVMTypeRef pt[6] = {L->ptr, L->i64, L->i64, L->ptr, L->ptr, L->i64};
    LLVMValueRef f = jr_new_fn(R, "sblk", 0, LLVMFunctionType(L->vd, pt, 6, 0));
    jr_noalias(R, f, 4);
    jr_fn_begin(R, f);
    LLVMValueRef ctx = LLVMGetParam(f, 0), b0 = LLVMGetParam(f, 1), b1 = LLVMGetParam(f, 2);
    LLVMValueRef carry = LLVMGetParam(f, 3), total = LLVMGetParam(f, 4);
    LLVMValueRef base[256];
    jr_leaf_prologue(R, ctx, base);
    S->l = jr_alloca(R, S->ty, 0, "l");
    S->carry = jr_alloca(R, S->ty, 0, "carry");
    jr_store(R, LLVMConstNull(S->ty), S->carry, 0);
    LLVMValueRef has = LLVMBuildICmp(B, LLVMIntNE, carry, LLVMConstNull(L->ptr), "");
    LLVMBasicBlockRef join = jr_if_begin(R, has, "carried");
    jr_store(R, jr_load(R, S->ty, carry, 0), S->carry, 0);
    jr_if_end(R, join);
    S->b0 = LLVMBuildZExt(B, has, L->i64, "");
    jr_store(R, jr_scan_ident(R, S), S->l, 0);
    LLVMValueRef wr = LLVMBuildICmp(B, LLVMIntNE, LLVMGetParam(f, 5), jr_i64(R, 0), "");
    LLVMBasicBlockRef wblk = LLVMAppendBasicBlockInContext(L->c, f, "write");
    LLVMBasicBlockRef tblk = LLVMAppendBasicBlockInContext(L->c, f, "totals");
    LLVMBasicBlockRef done = LLVMAppendBasicBlockInContext(L->c, f, "scanned");
    LLVMBuildCondBr(B, wr, wblk, tblk);
    LLVMPositionBuilderAtEnd(B, wblk);
    jr_seq_loop(R, base, b0, b1, jr_scan_body, S);
    LLVMBuildBr(B, done);
    LLVMPositionBuilderAtEnd(B, tblk);
    jr_seq_loop(R, base, b0, b1, jr_scan_total_body, S);
    LLVMBuildBr(B, done);
    LLVMPositionBuilderAtEnd(B, done);
    jr_scan_carry(R, S, S->l, S->carry);
    jr_store(R, jr_load(R, S->ty, S->carry, 0), total, 0);
    LLVMBuildRetVoid(B);
    jr_fn_end(R);
    return f;
}

/* rt_tree_comb for rt_scan_tasks: acc = acc OP right (one element). */
static LLVMValueRef jr_scan_comb_fn(jr *R, jr_scan *S)
{
    jl *L = R->L;
    LLVMTypeRef pt[3] = {L->ptr, L->ptr, L->ptr};
    LLVMValueRef f = jr_new_fn(R, "scomb", 0, LLVMFunctionType(L->vd, pt, 3, 0));
    jr_fn_begin(R, f);
    LLVMValueRef acc = LLVMGetParam(f, 1);
    LLVMValueRef r = jr_scan_op(R, S, jr_load(R, S->ty, acc, 0),
                                jr_load(R, S->ty, LLVMGetParam(f, 2), 0));
    jr_store(R, r, acc, 0);
    LLVMBuildRetVoid(L->b);
    jr_fn_end(R);
    return f;
}

/* INNER: one line. A blocked scan first offers its blocks to
 * rt_scan_tasks (through rt_kargs.trees), which takes a long line when
 * the launch runs on threads; otherwise, and for every other scan, the
 * blocks run here in order. */
static void jr_scan_position(jr *R, jr_scan *S)
{
    jl *L = R->L;
    LLVMBasicBlockRef join = NULL;
    if (S->blk) {
        jr_ctx_ptrs(R, R->ctx, R->pos);
        LLVMTypeRef pt[5] = {L->ptr, L->ptr, L->ptr, L->ptr, L->i64};
        LLVMValueRef a[5] = {R->trees, S->blk, S->comb, R->ctx, R->n};
        LLVMValueRef took = LLVMBuildCall2(L->b, LLVMFunctionType(L->i1, pt, 5, 0), R->scan, a, 5, "");
        join = jr_if_begin(R, LLVMBuildNot(L->b, took, ""), "inline");
    }
    S->l = jr_alloca(R, S->ty, 0, "l");
    S->carry = jr_alloca(R, S->ty, 0, "carry");
    jr_store(R, LLVMConstNull(S->ty), S->carry, 0);
    jr_for fb;
    LLVMValueRef b1;
    LLVMValueRef b0 = jr_blocks_begin(R, S, &fb, &b1);
    jr_store(R, jr_scan_ident(R, S), S->l, 0);
    jr_seq_loop(R, R->pos, b0, b1, jr_scan_body, S);
    if (S->blocked)
        jr_scan_carry(R, S, S->l, S->carry);
    jr_for_next(R, &fb, b1);
    if (join)
        jr_if_end(R, join);
    memcpy(R->L->opp, R->pos, (size_t)R->k->nops * sizeof *R->pos);
}

/* OUTER: the lines of a chunk of W columns at once, row by row (vectorized
 * across the columns; each column's order is the line's). */
static void jr_scan_chunk(jr *R, jr_scan *S, const LLVMValueRef *base, LLVMValueRef W, int wc)
{
    jl *L = R->L;
    S->l = jr_alloca(R, LLVMArrayType2(S->ty, (uint64_t)wc), 64, "ls");
    S->carry = jr_alloca(R, LLVMArrayType2(S->ty, (uint64_t)wc), 64, "carries");
    jr_for fi;
    LLVMValueRef c = jr_cols_begin(R, &fi, W, "init");
    jr_store(R, LLVMConstNull(S->ty), jr_gep(R, S->ty, S->carry, c), 0);
    jr_for_end(R, &fi, 1);
    jr_scalar_loop(R, &fi);
    jr_for fb;
    LLVMValueRef b1;
    LLVMValueRef b0 = jr_blocks_begin(R, S, &fb, &b1);
    jr_for fl;
    c = jr_cols_begin(R, &fl, W, "start");
    jr_store(R, jr_scan_ident(R, S), jr_gep(R, S->ty, S->l, c), 0);
    jr_for_end(R, &fl, 1);
    jr_scalar_loop(R, &fl);
    /* the block's rows in groups of JR_CHAIN, then the rest one by one */
    LLVMValueRef b8 = LLVMBuildAdd(L->b, b0,
                                   LLVMBuildAnd(L->b, LLVMBuildSub(L->b, b1, b0, ""),
                                                jr_i64(R, ~(int64_t)(JR_CHAIN - 1)), ""), "");
    jr_for fr;
    LLVMValueRef s = jr_for_begin(R, &fr, b0, b8, "chains");
    jr_scan_rows(R, S, base, s, JR_CHAIN, W);
    jr_for_end(R, &fr, JR_CHAIN);
    s = jr_for_begin(R, &fr, b8, b1, "rows");
    jr_scan_rows(R, S, base, s, 1, W);
    jr_for_end(R, &fr, 1);
    if (S->blocked) {
        jr_for fk;
        c = jr_cols_begin(R, &fk, W, "carry");
        jr_scan_carry(R, S, jr_gep(R, S->ty, S->l, c), jr_gep(R, S->ty, S->carry, c));
        jr_for_end(R, &fk, 1);
        jr_scalar_loop(R, &fk);
    }
    jr_for_next(R, &fb, b1);
}

/* The kept loops: dims [d, nloop) around the per-position (INNER) or
 * per-chunk (OUTER) code for every REDUCE value (or the scan). */
typedef struct jr_scratch {
    LLVMValueRef ctx, partA, partB, means, fpart;
} jr_scratch;

static void jr_kept(jr *R, jr_reds *Z, jr_scan *S, const jr_scratch *sc, int d)
{
    jl *L = R->L;
    const gr_kernel *k = R->k;
    int nloop = R->col >= 0 ? R->col : R->nkeep;
    LLVMValueRef saved[256];
    if (d < nloop) {
        jr_for f;
        LLVMValueRef i = jr_for_begin(R, &f, d == 0 ? L->begin : jr_i64(R, 0),
                                      d == 0 ? L->end : L->ext[d], "kept");
        memcpy(saved, L->opp, (size_t)k->nops * sizeof *saved);
        jr_adv_all(R, saved, d, i, L->opp);
        jr_kept(R, Z, S, sc, d + 1);
        memcpy(L->opp, saved, (size_t)k->nops * sizeof *saved);
        jr_for_end(R, &f, 1);
        return;
    }
    memcpy(R->pos, L->opp, (size_t)k->nops * sizeof *saved);
    if (R->col < 0) {
        if (S)
            jr_scan_position(R, S);
        else
            jr_inner_position(R, Z, sc->ctx, sc->partA, sc->partB, sc->means, sc->fpart);
        return;
    }
    /* OUTER: chunks of the column dim */
    LLVMValueRef lo = R->col == 0 ? L->begin : jr_i64(R, 0);
    LLVMValueRef hi = R->col == 0 ? L->end : L->ext[R->col];
    jr_for f;
    LLVMValueRef c0 = jr_for_begin(R, &f, lo, hi, "chunk");
    LLVMValueRef left = LLVMBuildSub(L->b, hi, c0, "");
    LLVMValueRef whole = LLVMBuildICmp(L->b, LLVMIntSLE, left, jr_i64(R, R->wcap), "");
    LLVMValueRef W = LLVMBuildSelect(L->b, whole, left, jr_i64(R, R->wc), "");
    LLVMValueRef base[256];
    jr_adv_all(R, R->pos, R->col, c0, base);
    if (S)
        jr_scan_chunk(R, S, base, W, R->wcap);
    else
        jr_outer_chunk(R, Z, sc->ctx, base, W, sc->partA, sc->partB, sc->means);
    jr_for_next(R, &f, LLVMBuildAdd(L->b, c0, W, ""));
}

int jit_lower_reduce(jl *L)
{
    const gr_kernel *k = L->k;
    jr R;
    memset(&R, 0, sizeof R);
    R.L = L;
    R.k = k;
    R.rank = k->rank;
    R.nred = k->nred;
    R.nkeep = k->rank - k->nred;
    R.col = k->outer ? R.nkeep - 1 : -1;
    R.s0 = jl_i64c(L, 0);
    if (R.nkeep < 1 || k->nops > 256 || (k->outer && R.nred < 1)) {
        jl_fail(L, "%s", "reduction kernel shape not lowered (no kept dim, or too many operands)");
        return -1;
    }
    bool scan = k->kind == GR_KK_SCAN;
    int nx = 0, ns = 0;
    for (int v = 0; v < k->nvals; v++) {
        nx += gr_is_reduce(k->vals[v].op);
        ns += gr_is_scan(k->vals[v].op);
    }
    if (scan ? (ns != 1 || nx != 0) : (nx < 1 || nx > GR_SIBLINGS || ns != 0)) {
        jl_fail(L, "%s", "a reduction kernel has 1 to 8 reductions, a scan kernel one scan");
        return -1;
    }

    LLVMValueRef pos[256];
    R.pos = pos;
    /* which values are a producer (below a reduction or scan) and which an
     * epilogue (above one, up to the outputs); never both */
    size_t nv = k->nvals ? k->nvals : 1;
    R.prod = rt_calloc(L->env, nv, sizeof *R.prod);
    R.epi = rt_calloc(L->env, nv, sizeof *R.epi);
    R.fin = rt_calloc(L->env, nv, sizeof *R.fin);
    if (!R.prod || !R.epi || !R.fin) {
        jl_fail(L, "%s", "out of memory lowering a kernel");
        goto done;
    }
    for (int v = k->nvals - 1; v >= 0; v--) {
        const gr_kval *kv = &k->vals[v];
        bool red = gr_is_reduce(kv->op) || gr_is_scan(kv->op);
        for (int o = 0; o < k->nout; o++)
            R.epi[v] |= k->out_val[o] == v && !red;
        for (int j = 0; j < kv->nin; j++) {
            R.prod[kv->in[j]] |= red || R.prod[v];
            R.epi[kv->in[j]] |= R.epi[v] && !gr_is_reduce(k->vals[kv->in[j]].op) &&
                                !gr_is_scan(k->vals[kv->in[j]].op);
        }
        if (kv->op == GR_OP_VAR || kv->op == GR_OP_STD) /* the ddof parameter */
            R.prod[kv->in[1]] = false;
    }
    for (int v = 0; v < k->nvals; v++) {
        R.has_epi |= R.epi[v];
        if (R.prod[v] && R.epi[v]) {
            jl_fail(L, "%s", "a value both below and above a reduction");
            goto done;
        }
    }
    R.ab = LLVMCreateBuilderInContext(L->c);
    LLVMTypeRef ft[JR_CTX_OPP + 1] = {L->ptr, L->ptr, L->ptr, L->i64, L->ptr, L->i64,
                                      LLVMArrayType2(L->ptr, (uint64_t)k->nops)};
    R.ctx_ty = LLVMStructTypeInContext(L->c, ft, JR_CTX_OPP + 1, 0);
    LLVMTypeRef tt[8] = {L->ptr, L->ptr, L->ptr, L->ptr, L->i64, L->ptr, L->i64, L->ptr};
    R.tree_ty = LLVMFunctionType(L->vd, tt, 8, 0);

    jr_red X[GR_SIBLINGS];
    jr_reds Z;
    memset(&Z, 0, sizeof Z);
    Z.x = X;
    jr_scan S;
    memset(&S, 0, sizeof S);
    for (int v = 0; v < k->nvals && !L->failed; v++) {
        if (gr_is_reduce(k->vals[v].op) && jr_prepare(&R, &Z, &X[Z.n], v) == 0)
            Z.n++;
        if (gr_is_scan(k->vals[v].op)) {
            S.r = v;
            S.op = (gr_op)k->vals[v].op;
            S.t = (kiln_dtype)k->vals[v].dtype;
            S.ty = jl_vty(L, S.t);
            S.blocked = jl_flt(S.t) && (S.op == GR_OP_CUMSUM || S.op == GR_OP_CUMPROD);
        }
    }

    /* OUTER: columns per chunk. Wide (a chunk is a piece of each of its
     * rows: 5000x5000 f64 column sums took 1.9x the row sums' time in
     * chunks of 256 columns, ~1.1x in chunks of 4096, with jr_outer_chain),
     * but bounded so that the chunk's arrays stay within RT_TREE_PARTIAL
     * bytes per slot: a pass's partial (8 bytes per column and entry), a
     * FLAT reduction's accumulators (8) and argmin/argmax's indices (8
     * more). The leaf's lanes
     * take 8 slots more, the scratch of rt_pw_tree_tasks one per level: a
     * few hundred KB of stack at most. A power of two, and a last chunk
     * of at most wc + wc/4 columns is taken whole (5000 columns are one
     * chunk of 5000, not 4096 and a narrow 904: ~10% faster), except with
     * a libm function in the body: then chunks are at most the split
     * grain and all start at multiples of wc, the same columns at any
     * thread count (graph/cost.h). */
    int slots = Z.A.n > Z.B.n ? Z.A.n : Z.B.n, words = slots;
    for (int x = 0; x < Z.n; x++) /* a FLAT accumulator, and argmin/argmax's index */
        if (Z.x[x].fam == JR_FLAT)
            words += jr_is_arg(&Z.x[x]) ? 2 : 1;
    int fit = RT_TREE_PARTIAL / (8 * (words > 0 ? words : 1));
    bool math = gr_kernel_has_math(k);
    R.wc = math ? (fit < GR_VECTOR_GRAIN ? fit : GR_VECTOR_GRAIN) : fit * 4 / 5;
    while (R.wc & (R.wc - 1))
        R.wc &= R.wc - 1;
    R.wcap = math ? R.wc : R.wc + R.wc / 4;
    Z.B.pass2 = true;
    if (!L->failed && Z.A.n) {
        Z.A.comb = jr_comb_fn(&R, &Z.A, "comb");
        Z.A.leaf = R.col >= 0 ? jr_outer_leaf(&R, &Z.A, "leaf") : jr_inner_leaf(&R, &Z.A, "leaf");
    }
    if (!L->failed && Z.B.n) {
        Z.B.comb = jr_comb_fn(&R, &Z.B, "comb2_");
        Z.B.leaf = R.col >= 0 ? jr_outer_leaf(&R, &Z.B, "leaf2_") : jr_inner_leaf(&R, &Z.B, "leaf2_");
    }
    if (!L->failed && !scan && R.col < 0 && jr_any_flat(&Z)) { /* FLAT blocks as tasks */
        Z.fcomb = jr_flat_comb_fn(&R, &Z);
        Z.fblk = jr_flat_blk_fn(&R, &Z);
    }
    if (!L->failed && scan && S.blocked && R.col < 0) { /* a line's blocks as tasks */
        S.comb = jr_scan_comb_fn(&R, &S);
        S.blk = jr_scan_blk_fn(&R, &S);
    }

    /* the entry point */
    LLVMTypeRef ept[3] = {L->ptr, L->i64, L->i64};
    LLVMValueRef fn = LLVMAddFunction(L->M, L->name, LLVMFunctionType(L->vd, ept, 3, 0));
    jl_fn_attr(L, fn, "nounwind", 0);
    jr_fn_begin(&R, fn);
    LLVMValueRef ka = LLVMGetParam(fn, 0), field[5];
    for (int f = 0; f < 5; f++) /* rt_kargs: data, extent, strides, params, trees */
        field[f] = jr_load(&R, L->ptr, jr_gep(&R, L->ptr, ka, jr_i64(&R, f)), 8);
    R.trees = field[4];
    R.run = jr_load(&R, L->ptr, R.trees, 8); /* rt_trees.run */
    R.scan = jr_load(&R, L->ptr, jr_gep(&R, L->ptr, R.trees, jr_i64(&R, 1)), 8); /* .scan */
    R.flat = jr_load(&R, L->ptr, jr_gep(&R, L->ptr, R.trees, jr_i64(&R, 3)), 8); /* .flat */
    for (int o = 0; o < k->nops; o++)
        L->opp[o] = jr_load(&R, L->ptr, jr_gep(&R, L->ptr, field[0], jr_i64(&R, o)), 8);
    jr_geometry(&R, field[1], field[2]);
    L->params = field[3];
    L->begin = LLVMGetParam(fn, 1);
    L->end = LLVMGetParam(fn, 2);
    R.n = jr_i64(&R, 1);
    for (int d = R.nkeep; d < R.rank; d++)
        R.n = LLVMBuildMul(L->b, R.n, L->ext[d], "");
    LLVMValueRef ctx = jr_alloca(&R, R.ctx_ty, 16, "ctx");
    R.ctx = ctx;
    jr_store(&R, field[3], jr_field(&R, ctx, JR_CTX_PARAMS), 8);
    jr_store(&R, field[2], jr_field(&R, ctx, JR_CTX_STRIDES), 8);
    jr_store(&R, field[1], jr_field(&R, ctx, JR_CTX_EXT), 8);
    jr_store(&R, jr_i64(&R, 1), jr_field(&R, ctx, JR_CTX_W), 8);
    jr_store(&R, LLVMConstNull(L->ptr), jr_field(&R, ctx, JR_CTX_MEAN), 8);
    jr_store(&R, R.n, jr_field(&R, ctx, JR_CTX_N), 8);
    jr_scratch sc = {ctx, NULL, NULL, NULL, NULL};
    /* partials of the widest chunk: the first (INNER: one column) */
    LLVMValueRef span = R.col < 0 ? jr_i64(&R, 1)
                        : R.col == 0 ? LLVMBuildSub(L->b, L->end, L->begin, "")
                                     : L->ext[R.col];
    LLVMValueRef wmax = jr_min64(&R, jr_i64(&R, R.wcap), span);
    uint64_t pmax = (uint64_t)(R.col < 0 ? 8 : 8 * R.wcap) * (uint64_t)(slots > 0 ? slots : 1);
    if (Z.A.n)
        sc.partA = jr_alloca(&R, LLVMArrayType2(L->i8, pmax), 64, "partA");
    if (Z.B.n) {
        sc.partB = jr_alloca(&R, LLVMArrayType2(L->i8, pmax), 64, "partB");
        sc.means = jr_alloca(&R, LLVMArrayType2(L->i8, pmax), 64, "means");
        jr_store(&R, sc.means, jr_field(&R, ctx, JR_CTX_MEAN), 8);
    }
    if (Z.fblk)
        sc.fpart = jr_alloca(&R, LLVMArrayType2(L->i64, RT_FLAT_PARTIAL / 8), 64, "fpart");
    if (Z.A.n || Z.B.n) { /* the trees' scratch: one block for either pass */
        LLVMTypeRef spt[3] = {L->ptr, L->i64, L->i64};
        LLVMTypeRef sty = LLVMFunctionType(L->i64, spt, 3, 0);
        LLVMValueRef sfn = jr_load(&R, L->ptr, jr_gep(&R, L->ptr, R.trees, jr_i64(&R, 2)), 8);
        LLVMValueRef pb = jr_pbytes(&R, Z.A.n > Z.B.n ? &Z.A : &Z.B, wmax);
        LLVMValueRef sa[3] = {R.trees, R.n, pb};
        LLVMValueRef bytes = LLVMBuildCall2(L->b, sty, sfn, sa, 3, "scratch_bytes");
        R.scratch = LLVMBuildArrayAlloca(L->b, L->i8, bytes, "scratch");
        LLVMSetAlignment(R.scratch, 64);
    }
    if (!L->failed)
        jr_kept(&R, &Z, scan ? &S : NULL, &sc, 0);
    LLVMBuildRetVoid(L->b);
    jr_fn_end(&R);
    LLVMDisposeBuilder(R.ab);
done:
    rt_free(L->env, R.prod, R.prod ? nv * sizeof *R.prod : 0);
    rt_free(L->env, R.epi, R.epi ? nv * sizeof *R.epi : 0);
    rt_free(L->env, R.fin, R.fin ? nv * sizeof *R.fin : 0);
    return L->failed ? -1 : 0;
}
