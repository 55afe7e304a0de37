/*
 * runtime/reduce.h — THE canonical numeric order of kiln's reductions and
 * scans. The reference interpreter calls these functions; generated code
 * must produce the same bits (by calling them or by emitting the same
 * operations in the same order). Nothing here knows graphs or layouts.
 *
 * The sequence. A reduction combines, for each output element, the input
 * elements it reduces: taken in C order of their indices along the reduced
 * axes (the last reduced axis varies fastest), they form the sequence
 * x[0..n) handed to the functions below. A scan runs along one axis (each
 * line in index order) or over the whole input in C order. The sequence is
 * defined by indices, never by memory: C order, Fortran order, strided or
 * broadcast inputs, fused or unfused, any thread count give the same bits.
 *
 * Elements arrive already in the op's compute dtype T (the graph inserts the
 * conversion: sum of int8 is a sum of int64 elements, mean of int32 a mean
 * of float64 elements). Sequences are given as a base pointer and a byte
 * stride (any sign, any alignment: packed record fields are unaligned).
 *
 * The order, for float T (computed in T: float32 in float, never through
 * double, except Q below). "a + b" is one IEEE addition in T.
 *
 *   PW_add(x, n) — NumPy's pairwise_sum (loops_utils.h.src), exactly:
 *     n < 8:        r = -0.0;  for i in [0, n): r = r + x[i];  return r
 *     8 <= n <= 128 (RT_PW_BLOCK):
 *                   r[j] = x[j] for j in [0, 8);
 *                   for (i = 8; i < n - n % 8; i += 8)
 *                       r[j] = r[j] + x[i + j]   for j in [0, 8);
 *                   res = ((r[0] + r[1]) + (r[2] + r[3])) +
 *                         ((r[4] + r[5]) + (r[6] + r[7]));
 *                   for (; i < n; i++) res = res + x[i];
 *                   return res
 *     n > 128:      m = n / 2;  m = m - m % 8;
 *                   return PW_add(x, m) + PW_add(x + m, n - m)
 *   The tree depends on n only, so a vectorized kernel can run it on many
 *   sequences at once (one per lane: column sums of a C-order matrix).
 *
 *   sum(x)   = (+0.0) + PW_add(x, n). NumPy adds the reduction's initial
 *              value +0.0 to the pairwise result too, so the sum of only
 *              -0.0s (or of nothing) is +0.0, as in NumPy.
 *              NumPy itself feeds the pairwise sum at most one buffer
 *              (8192 elements) at a time and adds the chunk sums one after
 *              another; kiln's one tree over the whole sequence is as
 *              accurate or better (np.sum(np.full(10**7, 0.1)) is
 *              999999.9999999782 in NumPy, 1000000.0 in kiln: the exact
 *              sum of those doubles, 1000000.0000000000555, correctly
 *              rounded; a sequential loop gives 999999.9998389754) and
 *              equal to NumPy's
 *              bits for a contiguous 1-D sum of at most 8192 elements.
 *   prod(x)  = PW_mul(x, n): the same tree with * and the base case starting
 *              from r = 1.0. NumPy multiplies sequentially; kiln uses the
 *              tree for reproducibility and accuracy (equal to NumPy for
 *              n < 8).
 *   Q(s, d)  = s / d for an element count d >= 0, correctly rounded to T
 *              (float64: s / (double)d; float32: (float)((double)s /
 *              (double)d), which equals s / (float)d whenever d <= 2^24).
 *   mean(x)  = Q(sum(x), n)                       (n = 0: 0/0 = NaN)
 *   var(x)   = Q(sum(y), max(n - ddof, 0)), y[i] = (x[i] - m) * (x[i] - m)
 *              in T with m = mean(x): NumPy's two passes. max(n-ddof, 0) =
 *              0 gives NaN for a zero sum and inf otherwise, as NumPy.
 *   std(x)   = sqrt(var(x)) in T.
 *
 * Integers (signed or unsigned T) and bool:
 *   sum, prod     wrap to T's width (two's complement): any order gives the
 *                 same result, so none is prescribed; empty sum 0, prod 1.
 *                 (The graph never sums bools: they become int64 first; if
 *                 asked, bool sum is "any" and prod is "all".)
 *
 * Every T:
 *   min, max      n >= 1 (empty is an error at construction). The result is
 *                 an element of x, bits preserved: the FIRST NaN of x if it
 *                 has one; otherwise the smallest (largest) element in the
 *                 order where -0.0 < +0.0 (gr_apply's minimum/maximum, so
 *                 min(0.0, -0.0) is -0.0 in either order). Applying
 *                 gr_apply's minimum left to right gives exactly this, and
 *                 so does any bracketing (the rule is associative).
 *   argmin/argmax n >= 1. The index in x of the first NaN if x has one;
 *                 otherwise the first index of the smallest (largest) value
 *                 under IEEE comparison, where -0.0 == +0.0 (NumPy's loop:
 *                 an element replaces the best so far only if
 *                 !(x[i] >= best), resp. !(x[i] <= best)). So
 *                 x[argmin(x)] may be +0.0 where min(x) is -0.0.
 *   all, any      x[i] != 0 (a NaN is true); empty: all true, any false.
 *   count_nonzero the number of x[i] != 0, as int64.
 *
 * Scans, on one line y[i] from x[i], i in [0, n):
 *   cumsum (float T): the block scan, blocks of B = RT_SCAN_BLOCK indices.
 *     Block b covers [bB, min(n, (b+1)B)). Inside it the local prefix is
 *     sequential: l[bB] = x[bB], l[i] = l[i-1] + x[i]. Then
 *       y[i] = l[i]            in block 0,
 *       y[i] = c[b] + l[i]     in block b >= 1 (the carry is the left
 *                              operand),
 *     with c[1] = l[B-1] and c[b+1] = c[b] + l[last index of block b]
 *     (= y[last index of block b]). So for n <= B it is NumPy's sequential
 *     cumsum bit for bit; threads compute block totals, fold the carries in
 *     block order, then finish the blocks in parallel — the same bits.
 *   cumprod: the same with *.
 *   integer T: wrapping, sequential (any decomposition is equal).
 *   cummin/cummax: y[0] = x[0], y[i] = minimum(y[i-1], x[i]) (maximum),
 *     gr_apply's rule as above, bits preserved: once a NaN appears every
 *     later y is that first NaN. Blocks give the same bits (associative).
 *
 * Which NaN a sum, product, mean or scan of NaNs returns (payload, sign)
 * is the hardware's, as for gr_apply's arithmetic: tests treat any NaN as
 * equal to any NaN there.
 */
#ifndef KILN_RT_REDUCE_H
#define KILN_RT_REDUCE_H

#include "runtime/rt.h"

#include <stddef.h>

enum {
    RT_PW_UNROLL = 8,    /* accumulators of the pairwise base case */
    RT_PW_BLOCK = 128,   /* largest sequence summed without splitting */
    RT_SCAN_BLOCK = 4096 /* indices per block of a float cumsum/cumprod */
};

/* ---- the pairwise trees (for generated code that calls them) ---------- */
/* PW_add and PW_mul above on x[0], x[stride], ..., x[(n-1)*stride]. */
double rt_pw_add_f64(const char *x, int64_t n, int64_t stride);
float rt_pw_add_f32(const char *x, int64_t n, int64_t stride);
double rt_pw_mul_f64(const char *x, int64_t n, int64_t stride);
float rt_pw_mul_f32(const char *x, int64_t n, int64_t stride);
/* Q(s, d) above. */
double rt_div_count_f64(double s, int64_t d);
float rt_div_count_f32(float s, int64_t d);

/* ---- the tree's shape, for generated code --------------------------------
 * The JIT (jit/reduce.c) evaluates the leaves of the pairwise tree itself
 * (PW for n <= RT_PW_BLOCK, with its fused producer) and leaves where PW
 * splits to rt_pw_tree_tasks, so the split rule lives in this file only. A
 * partial is a leaf's (or a subtree's) result for one or several sequences
 * at once — a chunk of columns, say — in pbytes <= RT_TREE_PARTIAL bytes
 * (a multiple of 8) laid out as the caller likes:
 *   leaf(ctx, s0, len, out)  out = PW over sequence positions [s0, s0+len),
 *                            len <= RT_PW_BLOCK (s0 is a multiple of 8);
 *   comb(ctx, acc, right)    acc = acc OP right, per sequence.
 * The tree of n is one leaf if n <= RT_PW_BLOCK, else the left part
 * [0, m) into out, the right part into a partial of its own, then comb —
 * m = n/2 - (n/2) % 8, as PW_add. The partials besides out are in scratch
 * memory the caller provides (rt_pw_tree_scratch bytes, 8-aligned): the
 * tree allocates nothing. */
enum { RT_TREE_PARTIAL = 40960 };
typedef void (*rt_tree_leaf)(void *ctx, int64_t s0, int64_t len, void *out);
typedef void (*rt_tree_comb)(void *ctx, void *acc, const void *right);

/* ---- the tree over threads -------------------------------------------------
 * The top of the tree depends on n alone, so its subtrees can be computed
 * anywhere and combined afterwards in the tree's own shape: the result is
 * the tree's, bit for bit. rt_pw_tree_tasks(t, leaf, comb, ctx, n, out,
 * pbytes, scratch) sets out = the tree over [0, n); it cuts the tree at
 * depth
 *   d(n) = the largest d <= RT_TREE_DEPTH with n >= RT_TREE_TASK * 2^d
 * (0 below 2 * RT_TREE_TASK: no task), runs its 2^d subtrees (every one
 * longer than RT_PW_BLOCK, so the cut is through split nodes only) as tasks
 * on t->par's threads (t->par NULL, or the pool busy: on the caller, in
 * order), then combines them on the caller level by level, left operand
 * first, as the tree does. The cut depends on n, never on the thread count;
 * it is not made (d = 0) without t->par, or when the tasks would need more
 * than RT_TREE_SCRATCH bytes of scratch (wide partials: the tree then runs
 * on the caller, with the same bits). leaf and comb must be callable from
 * any thread at once with distinct outputs (the JIT's read their ctx only).
 * rt_pw_tree_scratch(t, n, pbytes) is the scratch that needs: a partial
 * per level of the tree, or the tasks' results and each task's levels —
 * or 0 when they fit a few KB of the tree's own frames (narrow partials:
 * a row's sum), where they are then kept.
 *
 * Generated code reaches this through rt_kargs.trees (runtime/kernel.h):
 * rt_launch points it at an rt_trees whose run is rt_pw_tree_tasks and
 * whose par is set only when the launch's cost is worth the threads and
 * the launch is not already split over its outputs. */
enum { RT_TREE_TASK = 16384, RT_TREE_DEPTH = 4, RT_TREE_SCRATCH = 256 * 1024 };
struct rt_par;
typedef struct rt_trees rt_trees;
typedef void (*rt_trees_fn)(rt_trees *t, rt_tree_leaf leaf, rt_tree_comb comb, void *ctx,
                            int64_t n, void *out, int64_t pbytes, void *scratch);

/* ---- a blocked scan over threads ----------------------------------------------
 * A float cumsum/cumprod line's blocks (RT_SCAN_BLOCK, above) as tasks,
 * the same bits as one pass: generated code supplies
 *   blk(ctx, b0, b1, carry, total, write)  block [b0, b1): l = its local
 *       prefix; if write, y[i] = carry OP l[i] (l[i] if carry is NULL);
 *       *total = carry OP l[last] (l[last] if carry is NULL): the carry
 *       into the next block. carry and total point at one element of T.
 *   comb(ctx, acc, right)  acc = acc OP right.
 * rt_scan_tasks runs, for groups of up to 256 blocks in order: every
 * block's total (carry NULL, no write) as tasks; the carries folded in
 * block order on the caller, c[1] = total[0], c[b+1] = c[b] OP total[b]
 * (comb); every block written with its carry as tasks. It returns false
 * (nothing run: the caller scans the line itself) without t->par, below
 * 2 * RT_TREE_TASK elements, or with fewer than 3 threads: a block's scan
 * is one dependent chain of adds (latency-bound: cumsum of 10M f64 takes
 * 2.5x the time of its sum here), and the tasks run that chain twice per
 * element (totals, then writes), so T threads take 2n/T steps — no gain
 * at 2 (measured 6.6 -> 9.5 ms on 10M f64). */
typedef void (*rt_scan_block)(void *ctx, int64_t b0, int64_t b1, const void *carry, void *total,
                              int64_t write);
typedef bool (*rt_scans_fn)(rt_trees *t, rt_scan_block blk, rt_tree_comb comb, void *ctx,
                            int64_t n);

/* ---- FLAT reductions in blocks ---------------------------------------------------
 * Integer sum/prod, min, max, argmin, argmax, all, any, count_nonzero of
 * one long sequence: any decomposition gives their result (above), so the
 * sequence is cut into blocks of RT_FLAT_BLOCK positions — [bB, min(n,
 * (b+1)B)), a decomposition that depends on n alone — each block's
 * partial computed by generated code and the partials combined in block
 * order on the caller:
 *   blk(ctx, s0, len, part)  part = the block [s0, s0+len) of the
 *                            position's sequence: per reduction its
 *                            accumulator and, argmin/argmax, the index of
 *                            its value (at most RT_FLAT_PARTIAL bytes, laid
 *                            out as the JIT likes);
 *   comb(ctx, acc, right)    acc = acc OP right, acc the earlier blocks':
 *                            min/max keep acc's NaN, else take right's, else
 *                            the minimum (maximum, -0.0 < +0.0); argmin
 *                            (argmax) take right's index only if acc's
 *                            value is not NaN and right's is NaN or below
 *                            (above) it — a tie keeps the earlier index;
 *                            integers wrap; all/any/count and, or, +.
 * So min/max give the first NaN's bits, argmin/argmax the first index of
 * the extreme or of the first NaN: the definition above, at any thread
 * count. rt_flat_tasks returns false (nothing run: the kernel calls blk
 * over [0, n) itself) when n <= RT_FLAT_BLOCK; else it runs the blocks in
 * groups of up to RT_FLAT_GROUP, each group's blocks as tasks on t->par's
 * threads (without t->par, or with the pool busy: on the caller, in
 * order), folding each group's partials into out in block order on the
 * caller. The partials of a group live on the caller's stack
 * (RT_FLAT_GROUP x RT_FLAT_PARTIAL bytes). Blocks of 32768 positions keep
 * a block's second pass (argmin/argmax's index, a NaN's rescan) in L2. */
enum { RT_FLAT_BLOCK = 32768, RT_FLAT_GROUP = 128, RT_FLAT_PARTIAL = 128 };
typedef bool (*rt_flats_fn)(rt_trees *t, rt_tree_leaf blk, rt_tree_comb comb, void *ctx,
                            int64_t n, void *out);
typedef int64_t (*rt_scratch_fn)(const rt_trees *t, int64_t n, int64_t pbytes);
struct rt_trees {
    rt_trees_fn run;       /* rt_pw_tree_tasks (the JIT loads fields 0 to 3) */
    rt_scans_fn scan;      /* rt_scan_tasks */
    rt_scratch_fn scratch; /* rt_pw_tree_scratch */
    rt_flats_fn flat;      /* rt_flat_tasks */
    struct rt_par *par; /* threads for the tasks, or NULL: on the caller */
    int64_t tasks;      /* out: the most tasks one tree (scan pass, group of
                           blocks) ran */
};
_Static_assert(offsetof(rt_trees, run) == 0, "rt_trees layout (jit/reduce.c)");
_Static_assert(offsetof(rt_trees, scan) == sizeof(void *), "rt_trees layout (jit/reduce.c)");
_Static_assert(offsetof(rt_trees, scratch) == 2 * sizeof(void *), "rt_trees layout (jit/reduce.c)");
_Static_assert(offsetof(rt_trees, flat) == 3 * sizeof(void *), "rt_trees layout (jit/reduce.c)");
void rt_pw_tree_tasks(rt_trees *t, rt_tree_leaf leaf, rt_tree_comb comb, void *ctx, int64_t n,
                      void *out, int64_t pbytes, void *scratch);
int64_t rt_pw_tree_scratch(const rt_trees *t, int64_t n, int64_t pbytes);
bool rt_scan_tasks(rt_trees *t, rt_scan_block blk, rt_tree_comb comb, void *ctx, int64_t n);
bool rt_flat_tasks(rt_trees *t, rt_tree_leaf blk, rt_tree_comb comb, void *ctx, int64_t n,
                   void *out);
/* The number of blocks rt_flat_tasks cuts a sequence of n into (1: it
 * does not take it). */
int64_t rt_flat_blocks(int64_t n);
/* d(n) above: the depth at which rt_pw_tree_tasks cuts a tree of n. */
int rt_pw_tree_depth(int64_t n);

/* ---- one output element ------------------------------------------------
 * Each reduces x[0..n) (elements of dtype t, byte stride `stride`) and
 * stores the result at out (any alignment) in the op's result dtype: t for
 * sum, prod, min, max, mean, var, std; int64 for argmin, argmax and
 * count_nonzero; bool for all and any. mean, var and std need a float t;
 * min, max, argmin and argmax need n >= 1 (the caller checks). */
void rt_reduce_sum(kiln_dtype t, const char *x, int64_t n, int64_t stride, void *out);
void rt_reduce_prod(kiln_dtype t, const char *x, int64_t n, int64_t stride, void *out);
void rt_reduce_min(kiln_dtype t, const char *x, int64_t n, int64_t stride, void *out);
void rt_reduce_max(kiln_dtype t, const char *x, int64_t n, int64_t stride, void *out);
void rt_reduce_argmin(kiln_dtype t, const char *x, int64_t n, int64_t stride, void *out);
void rt_reduce_argmax(kiln_dtype t, const char *x, int64_t n, int64_t stride, void *out);
void rt_reduce_all(kiln_dtype t, const char *x, int64_t n, int64_t stride, void *out);
void rt_reduce_any(kiln_dtype t, const char *x, int64_t n, int64_t stride, void *out);
void rt_reduce_count_nonzero(kiln_dtype t, const char *x, int64_t n, int64_t stride, void *out);
void rt_reduce_mean(kiln_dtype t, const char *x, int64_t n, int64_t stride, void *out);
void rt_reduce_var(kiln_dtype t, const char *x, int64_t n, int64_t stride, int64_t ddof,
                   void *out);
void rt_reduce_std(kiln_dtype t, const char *x, int64_t n, int64_t stride, int64_t ddof,
                   void *out);

/* ---- one line of a scan ------------------------------------------------
 * y[i*ystride] from x[i*xstride], i in [0, n), both of dtype t. y may be x
 * itself (same base and stride): each x[i] is read before y[i] is written
 * and never again. */
void rt_scan_sum(kiln_dtype t, const char *x, int64_t xstride, char *y, int64_t ystride,
                 int64_t n);
void rt_scan_prod(kiln_dtype t, const char *x, int64_t xstride, char *y, int64_t ystride,
                  int64_t n);
void rt_scan_min(kiln_dtype t, const char *x, int64_t xstride, char *y, int64_t ystride,
                 int64_t n);
void rt_scan_max(kiln_dtype t, const char *x, int64_t xstride, char *y, int64_t ystride,
                 int64_t n);

#endif /* KILN_RT_REDUCE_H */
