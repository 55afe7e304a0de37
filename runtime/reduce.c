/*
 * runtime/reduce.c — the canonical order of reductions and scans, as
 * runtime/reduce.h defines it. Plain C, one element at a time, written to
 * be read next to the definition rather than to be fast.
 *
 * Invariants:
 *   - float32 arithmetic is done in float (the build has -ffp-contract=off
 *     and C11 without extensions: no FMA, no excess precision on x86-64),
 *     except Q's division, which is exact-then-rounded by construction;
 *   - integer arithmetic wraps in uint64_t and is narrowed by rt_store (no
 *     signed overflow: UBSan runs in CI);
 *   - min/max and the min/max scans copy the chosen element's bytes, so a
 *     NaN's payload (even a signaling NaN's) survives;
 *   - every element is loaded with memcpy (any alignment).
 */
#include "runtime/reduce.h"
#include "runtime/pool.h"

#include <math.h>
#include <string.h>

/* ---- loads ---------------------------------------------------------------- */

static double rd_f64(const char *p)
{
    double v;
    memcpy(&v, p, sizeof v);
    return v;
}

static float rd_f32(const char *p)
{
    float v;
    memcpy(&v, p, sizeof v);
    return v;
}

static const char *rd_at(const char *x, int64_t i, int64_t stride)
{
    return x + i * stride;
}


/* Element i as 64 raw integer bits (bool 0/1, signed sign-extended). */
static uint64_t rd_raw(kiln_dtype t, const char *p)
{
    rt_scalar v = rt_load(t, p);
    switch ((rt_kind)rt_dtypes[t].kind) {
    case RT_KIND_BOOL: return v.b ? 1u : 0u;
    case RT_KIND_INT: return (uint64_t)v.i;
    case RT_KIND_UINT: return v.u;
    case RT_KIND_FLOAT: break;
    }
    return 0;
}

/* Stores 64 raw bits as integer dtype t (truncated to its width). */
static void rd_store_raw(kiln_dtype t, void *out, uint64_t raw)
{
    rt_scalar v;
    memset(&v, 0, sizeof v);
    if (rt_dtypes[t].kind == RT_KIND_INT)
        v.i = (int64_t)raw; /* modulo conversion (GCC/Clang define it) */
    else
        v.u = raw;
    rt_store(t, out, v);
}

/* x[i] != 0 in its own dtype (NaN is true). */
static bool rd_truth(kiln_dtype t, const char *p)
{
    switch (t) {
    case KILN_FLOAT64: return rd_f64(p) != 0;
    case KILN_FLOAT32: return rd_f32(p) != 0;
    default: return rd_raw(t, p) != 0;
    }
}

/* ---- the pairwise trees --------------------------------------------------- */

#define RD_PAIRWISE(NAME, T, LOAD, OP, START)                                            \
    T NAME(const char *x, int64_t n, int64_t stride)                                     \
    {                                                                                    \
        if (n < RT_PW_UNROLL) {                                                          \
            T r = (START);                                                               \
            for (int64_t i = 0; i < n; i++)                                              \
                r = r OP LOAD(rd_at(x, i, stride));                                      \
            return r;                                                                    \
        }                                                                                \
        if (n <= RT_PW_BLOCK) {                                                          \
            T r[RT_PW_UNROLL];                                                           \
            for (int j = 0; j < RT_PW_UNROLL; j++)                                       \
                r[j] = LOAD(rd_at(x, j, stride));                                        \
            int64_t i;                                                                   \
            for (i = RT_PW_UNROLL; i < n - n % RT_PW_UNROLL; i += RT_PW_UNROLL)          \
                for (int j = 0; j < RT_PW_UNROLL; j++)                                   \
                    r[j] = r[j] OP LOAD(rd_at(x, i + j, stride));                        \
            T res = ((r[0] OP r[1]) OP (r[2] OP r[3])) OP ((r[4] OP r[5]) OP (r[6] OP r[7])); \
            for (; i < n; i++)                                                           \
                res = res OP LOAD(rd_at(x, i, stride));                                  \
            return res;                                                                  \
        }                                                                                \
        int64_t m = n / 2;                                                               \
        m -= m % RT_PW_UNROLL;                                                           \
        T a = NAME(x, m, stride);                                                        \
        T b = NAME(rd_at(x, m, stride), n - m, stride);                                  \
        return a OP b;                                                                   \
    }

_Static_assert(RT_PW_UNROLL == 8, "the base case's combine is written for 8 accumulators");

RD_PAIRWISE(rt_pw_add_f64, double, rd_f64, +, -0.0)
RD_PAIRWISE(rt_pw_add_f32, float, rd_f32, +, -0.0f)
RD_PAIRWISE(rt_pw_mul_f64, double, rd_f64, *, 1.0)
RD_PAIRWISE(rt_pw_mul_f32, float, rd_f32, *, 1.0f)
#undef RD_PAIRWISE

/* The same recursion as RD_PAIRWISE above, with leaves and combines
 * supplied by generated code. Partials are T->pbytes bytes; the right
 * partial of a node is the first of `scratch`, and the right subtree works
 * in the rest of it, while the left one, done before, reuses it all: a
 * tree of n needs rd_levels(n) partials of scratch. */
typedef struct rd_tree_cx {
    rt_tree_leaf leaf;
    rt_tree_comb comb;
    void *ctx;
    int64_t pbytes;
} rd_tree_cx;

static void rd_tree(const rd_tree_cx *T, int64_t s0, int64_t n, void *out, unsigned char *scratch)
{
    if (n <= RT_PW_BLOCK) {
        T->leaf(T->ctx, s0, n, out);
        return;
    }
    int64_t m = n / 2;
    m -= m % RT_PW_UNROLL;
    rd_tree(T, s0, m, out, scratch);
    rd_tree(T, s0 + m, n - m, scratch, scratch + T->pbytes);
    T->comb(T->ctx, out, scratch);
}

/* Right partials alive at once on the deepest path of a tree of n: the
 * right part n - m is never the shorter, so the deepest path goes right. */
static int rd_levels(int64_t n)
{
    int l = 0;
    while (n > RT_PW_BLOCK) {
        int64_t m = n / 2;
        m -= m % RT_PW_UNROLL;
        n -= m;
        l++;
    }
    return l;
}

int rt_pw_tree_depth(int64_t n)
{
    int d = 0;
    while (d < RT_TREE_DEPTH && n / RT_TREE_TASK >= ((int64_t)2 << d))
        d++;
    return d;
}

enum { RD_TASKS = 1 << RT_TREE_DEPTH, RD_LOCAL = 2048 };

/* Partials of scratch a cut at depth d > 0 needs: the 2^d - 1 subtree
 * results besides out, and each subtree's levels (a subtree of the cut
 * has at most rd_levels(n) - d: the deepest path goes right). */
static int64_t rd_task_partials(int64_t n, int d)
{
    return ((int64_t)1 << d) - 1 + ((int64_t)1 << d) * (rd_levels(n) - d);
}

/* The depth rt_pw_tree_tasks cuts at with t: rt_pw_tree_depth(n), or 0
 * (no task) without threads or if the tasks' scratch would pass
 * RT_TREE_SCRATCH — either way the same bits. */
static int rd_cut_depth(const rt_trees *t, int64_t n, int64_t pbytes)
{
    int d = t && t->par ? rt_pw_tree_depth(n) : 0;
    if (d > 0 && rd_task_partials(n, d) * pbytes > RT_TREE_SCRATCH)
        d = 0;
    return d;
}

/* True if a cut at depth d (0: none) keeps its partials in RD_LOCAL
 * bytes of rt_pw_tree_tasks's frame and of each task's: the caller's
 * scratch is then not used. Measured: a row sum's levels in the kernel's
 * frame made 5000x5000 row sums ~10% slower than in the tree's own. */
static bool rd_local(int64_t n, int d, int64_t pbytes)
{
    if (d == 0)
        return rd_levels(n) * pbytes <= RD_LOCAL;
    return (((int64_t)1 << d) - 1) * pbytes <= RD_LOCAL && (rd_levels(n) - d) * pbytes <= RD_LOCAL;
}

int64_t rt_pw_tree_scratch(const rt_trees *t, int64_t n, int64_t pbytes)
{
    int d = rd_cut_depth(t, n, pbytes);
    if (rd_local(n, d, pbytes))
        return 0;
    return (d > 0 ? rd_task_partials(n, d) : rd_levels(n)) * pbytes;
}

typedef struct rd_tasks {
    rd_tree_cx T;
    int64_t s0[RD_TASKS], len[RD_TASKS];
    void *part[RD_TASKS];
    unsigned char *scratch[RD_TASKS];
} rd_tasks;

/* The subtrees of [s0, s0+n) at depth d, left to right, into T from *k. */
static void rd_cut(rd_tasks *T, int64_t s0, int64_t n, int d, int *k)
{
    if (d == 0) {
        T->s0[*k] = s0;
        T->len[*k] = n;
        (*k)++;
        return;
    }
    int64_t m = n / 2;
    m -= m % RT_PW_UNROLL;
    rd_cut(T, s0, m, d - 1, k);
    rd_cut(T, s0 + m, n - m, d - 1, k);
}

static void rd_task(void *ud, int64_t i)
{
    rd_tasks *T = ud;
    _Alignas(64) unsigned char local[RD_LOCAL];
    rd_tree(&T->T, T->s0[i], T->len[i], T->part[i], T->scratch[i] ? T->scratch[i] : local);
}

/* Combines the subtrees [lo, hi) (a whole subtree of the cut, hi - lo a
 * power of two) into part[lo], in the tree's shape. */
static void rd_join(rd_tasks *T, int lo, int hi)
{
    if (hi - lo < 2)
        return;
    int mid = lo + (hi - lo) / 2;
    rd_join(T, lo, mid);
    rd_join(T, mid, hi);
    T->T.comb(T->T.ctx, T->part[lo], T->part[mid]);
}

void rt_pw_tree_tasks(rt_trees *t, rt_tree_leaf leaf, rt_tree_comb comb, void *ctx, int64_t n,
                      void *out, int64_t pbytes, void *scratch)
{
    int d = rd_cut_depth(t, n, pbytes);
    bool local = rd_local(n, d, pbytes);
    _Alignas(64) unsigned char lv[RD_LOCAL];
    if (d == 0) { /* the common case (a row of a matrix): no task table */
        rd_tree_cx cx = {leaf, comb, ctx, pbytes};
        rd_tree(&cx, 0, n, out, local ? lv : (unsigned char *)scratch);
        return;
    }
    rd_tasks T = {.T = {leaf, comb, ctx, pbytes}};
    int k = 0;
    rd_cut(&T, 0, n, d, &k);
    unsigned char *p = local ? lv : (unsigned char *)scratch;
    int64_t levels = rd_levels(n) - d;
    T.part[0] = out;
    for (int i = 1; i < k; i++, p += pbytes)
        T.part[i] = p;
    for (int i = 0; i < k; i++, p += levels * pbytes) /* local: each task's own frame */
        T.scratch[i] = local ? NULL : p;
    if (rt_par_run(t->par, k, rd_task, &T)) {
        if (k > t->tasks)
            t->tasks = k;
    } else {
        for (int i = 0; i < k; i++)
            rd_task(&T, i);
    }
    rd_join(&T, 0, k);
}

enum { RD_SCAN_GROUP = 256 };

typedef struct rd_scan_job {
    rt_scan_block blk;
    void *ctx;
    int64_t n, first; /* the line's length; the group's first block */
    bool write;
    uint64_t total[RD_SCAN_GROUP], carry[RD_SCAN_GROUP]; /* one element of T each */
} rd_scan_job;

static void rd_scan_task(void *ud, int64_t i)
{
    rd_scan_job *J = ud;
    int64_t b = J->first + i, b0 = b * RT_SCAN_BLOCK;
    int64_t b1 = J->n - b0 < RT_SCAN_BLOCK ? J->n : b0 + RT_SCAN_BLOCK;
    if (!J->write) {
        J->blk(J->ctx, b0, b1, NULL, &J->total[i], 0);
        return;
    }
    uint64_t next;
    J->blk(J->ctx, b0, b1, b == 0 ? NULL : &J->carry[i], &next, 1);
}

static void rd_scan_pass(rt_trees *t, rd_scan_job *J, int64_t k)
{
    if (rt_par_run(t->par, k, rd_scan_task, J)) {
        if (k > t->tasks)
            t->tasks = k;
        return;
    }
    for (int64_t i = 0; i < k; i++)
        rd_scan_task(J, i);
}

bool rt_scan_tasks(rt_trees *t, rt_scan_block blk, rt_tree_comb comb, void *ctx, int64_t n)
{
    if (!t || !t->par || n < 2 * RT_TREE_TASK || rt_par_threads(t->par) < 3)
        return false;
    rd_scan_job J = {.blk = blk, .ctx = ctx, .n = n};
    int64_t nb = (n + RT_SCAN_BLOCK - 1) / RT_SCAN_BLOCK;
    uint64_t carry = 0; /* into the next block (after block 0) */
    for (J.first = 0; J.first < nb; J.first += RD_SCAN_GROUP) {
        int64_t k = nb - J.first < RD_SCAN_GROUP ? nb - J.first : RD_SCAN_GROUP;
        J.write = false;
        rd_scan_pass(t, &J, k);
        for (int64_t i = 0; i < k; i++) {
            J.carry[i] = carry;
            if (J.first + i == 0)
                carry = J.total[0];
            else
                comb(ctx, &carry, &J.total[i]);
        }
        J.write = true;
        rd_scan_pass(t, &J, k);
    }
    return true;
}

int64_t rt_flat_blocks(int64_t n)
{
    return n <= RT_FLAT_BLOCK ? 1 : (n + RT_FLAT_BLOCK - 1) / RT_FLAT_BLOCK;
}

typedef struct rd_flat_job {
    rt_tree_leaf blk;
    void *ctx;
    int64_t n, first; /* the sequence's length; the group's first block */
    _Alignas(64) unsigned char part[RT_FLAT_GROUP][RT_FLAT_PARTIAL];
} rd_flat_job;

static void rd_flat_task(void *ud, int64_t i)
{
    rd_flat_job *J = ud;
    int64_t s0 = (J->first + i) * RT_FLAT_BLOCK;
    int64_t len = J->n - s0 < RT_FLAT_BLOCK ? J->n - s0 : RT_FLAT_BLOCK;
    J->blk(J->ctx, s0, len, J->part[i]);
}

bool rt_flat_tasks(rt_trees *t, rt_tree_leaf blk, rt_tree_comb comb, void *ctx, int64_t n,
                   void *out)
{
    int64_t nb = rt_flat_blocks(n);
    if (nb < 2)
        return false;
    rd_flat_job J = {.blk = blk, .ctx = ctx, .n = n};
    for (J.first = 0; J.first < nb; J.first += RT_FLAT_GROUP) {
        int64_t k = nb - J.first < RT_FLAT_GROUP ? nb - J.first : RT_FLAT_GROUP;
        if (t && t->par && k > 1 && rt_par_run(t->par, k, rd_flat_task, &J)) {
            if (k > t->tasks)
                t->tasks = k;
        } else {
            for (int64_t i = 0; i < k; i++)
                rd_flat_task(&J, i);
        }
        int64_t i = 0;
        if (J.first == 0)
            memcpy(out, J.part[i++], RT_FLAT_PARTIAL);
        for (; i < k; i++)
            comb(ctx, out, J.part[i]);
    }
    return true;
}

double rt_div_count_f64(double s, int64_t d) { return s / (double)d; }

/* (double)s / (double)d is the exact quotient rounded once to double; a
 * second rounding to float is then correct too (double has more than
 * 2*24+2 bits), so this is s / d correctly rounded to float. */
float rt_div_count_f32(float s, int64_t d) { return (float)((double)s / (double)d); }

/* ---- sum, prod ---------------------------------------------------------------- */

void rt_reduce_sum(kiln_dtype t, const char *x, int64_t n, int64_t stride, void *out)
{
    if (t == KILN_FLOAT64) {
        double r = 0.0 + rt_pw_add_f64(x, n, stride);
        memcpy(out, &r, sizeof r);
        return;
    }
    if (t == KILN_FLOAT32) {
        float r = 0.0f + rt_pw_add_f32(x, n, stride);
        memcpy(out, &r, sizeof r);
        return;
    }
    uint64_t acc = 0;
    for (int64_t i = 0; i < n; i++)
        acc = t == KILN_BOOL ? (acc | rd_raw(t, rd_at(x, i, stride)))
                             : acc + rd_raw(t, rd_at(x, i, stride));
    rd_store_raw(t == KILN_BOOL ? KILN_UINT8 : t, out, acc);
}

void rt_reduce_prod(kiln_dtype t, const char *x, int64_t n, int64_t stride, void *out)
{
    if (t == KILN_FLOAT64) {
        double r = rt_pw_mul_f64(x, n, stride);
        memcpy(out, &r, sizeof r);
        return;
    }
    if (t == KILN_FLOAT32) {
        float r = rt_pw_mul_f32(x, n, stride);
        memcpy(out, &r, sizeof r);
        return;
    }
    uint64_t acc = 1;
    for (int64_t i = 0; i < n; i++)
        acc = t == KILN_BOOL ? (acc & rd_raw(t, rd_at(x, i, stride)))
                             : acc * rd_raw(t, rd_at(x, i, stride));
    rd_store_raw(t == KILN_BOOL ? KILN_UINT8 : t, out, acc);
}

/* ---- min, max, argmin, argmax --------------------------------------------------- */

/* Three-way order of elements a and b (not NaN) in dtype t with -0.0 <
 * +0.0: -1, 0, +1. */
static int rd_order(kiln_dtype t, const char *a, const char *b)
{
    switch (t) {
    case KILN_FLOAT64: {
        double u = rd_f64(a), v = rd_f64(b);
        if (u == v)
            return signbit(u) == signbit(v) ? 0 : signbit(u) ? -1 : 1;
        return u < v ? -1 : 1;
    }
    case KILN_FLOAT32: {
        float u = rd_f32(a), v = rd_f32(b);
        if (u == v)
            return signbit(u) == signbit(v) ? 0 : signbit(u) ? -1 : 1;
        return u < v ? -1 : 1;
    }
    default: break;
    }
    rt_scalar u = rt_load(t, a), v = rt_load(t, b);
    switch ((rt_kind)rt_dtypes[t].kind) {
    case RT_KIND_BOOL: return (int)u.b - (int)v.b;
    case RT_KIND_INT: return (u.i > v.i) - (u.i < v.i);
    case RT_KIND_UINT: return (u.u > v.u) - (u.u < v.u);
    case RT_KIND_FLOAT: break;
    }
    return 0;
}

static bool rd_isnan(kiln_dtype t, const char *p)
{
    return (t == KILN_FLOAT64 && isnan(rd_f64(p))) || (t == KILN_FLOAT32 && isnan(rd_f32(p)));
}

/* gr_apply's minimum(a, b) (maximum if want_max) as a choice: true if the
 * result is b (a NaN a wins, then a NaN b, then the order with -0 < +0;
 * on equal elements a, whose bits are b's anyway). */
static bool rd_pick_b(kiln_dtype t, const char *a, const char *b, bool want_max)
{
    if (rd_isnan(t, a))
        return false;
    if (rd_isnan(t, b))
        return true;
    int o = rd_order(t, a, b);
    return want_max ? o < 0 : o > 0;
}

static void rd_minmax(kiln_dtype t, const char *x, int64_t n, int64_t stride, void *out,
                      bool want_max)
{
    const char *best = x;
    for (int64_t i = 1; i < n; i++) {
        const char *p = rd_at(x, i, stride);
        if (rd_pick_b(t, best, p, want_max))
            best = p;
    }
    memcpy(out, best, rt_dtypes[t].size);
}

void rt_reduce_min(kiln_dtype t, const char *x, int64_t n, int64_t stride, void *out)
{
    rd_minmax(t, x, n, stride, out, false);
}

void rt_reduce_max(kiln_dtype t, const char *x, int64_t n, int64_t stride, void *out)
{
    rd_minmax(t, x, n, stride, out, true);
}

/* IEEE three-way comparison of elements a and b (not NaN): zeros of both
 * signs are equal here. */
static int rd_cmp(kiln_dtype t, const char *a, const char *b)
{
    if (t == KILN_FLOAT64) {
        double u = rd_f64(a), v = rd_f64(b);
        return (u > v) - (u < v);
    }
    if (t == KILN_FLOAT32) {
        float u = rd_f32(a), v = rd_f32(b);
        return (u > v) - (u < v);
    }
    return rd_order(t, a, b);
}

/* NumPy's argmin/argmax loop: x[i] replaces the best if !(x[i] >= best)
 * (argmin) or !(x[i] <= best) (argmax) — true for a NaN x[i] — and a NaN
 * best ends the search. */
static void rd_arg(kiln_dtype t, const char *x, int64_t n, int64_t stride, void *out,
                   bool want_max)
{
    int64_t best = 0;
    for (int64_t i = 1; i < n && !rd_isnan(t, rd_at(x, best, stride)); i++) {
        const char *p = rd_at(x, i, stride);
        if (rd_isnan(t, p) || rd_cmp(t, p, rd_at(x, best, stride)) == (want_max ? 1 : -1))
            best = i;
    }
    memcpy(out, &best, sizeof best);
}

void rt_reduce_argmin(kiln_dtype t, const char *x, int64_t n, int64_t stride, void *out)
{
    rd_arg(t, x, n, stride, out, false);
}

void rt_reduce_argmax(kiln_dtype t, const char *x, int64_t n, int64_t stride, void *out)
{
    rd_arg(t, x, n, stride, out, true);
}

/* ---- all, any, count_nonzero --------------------------------------------------- */

static void rd_store_bool(void *out, bool b)
{
    uint8_t v = b ? 1u : 0u;
    memcpy(out, &v, 1);
}

void rt_reduce_all(kiln_dtype t, const char *x, int64_t n, int64_t stride, void *out)
{
    bool r = true;
    for (int64_t i = 0; i < n && r; i++)
        r = rd_truth(t, rd_at(x, i, stride));
    rd_store_bool(out, r);
}

void rt_reduce_any(kiln_dtype t, const char *x, int64_t n, int64_t stride, void *out)
{
    bool r = false;
    for (int64_t i = 0; i < n && !r; i++)
        r = rd_truth(t, rd_at(x, i, stride));
    rd_store_bool(out, r);
}

void rt_reduce_count_nonzero(kiln_dtype t, const char *x, int64_t n, int64_t stride, void *out)
{
    int64_t c = 0;
    for (int64_t i = 0; i < n; i++)
        c += rd_truth(t, rd_at(x, i, stride));
    memcpy(out, &c, sizeof c);
}

/* ---- mean, var, std ---------------------------------------------------------------- */

void rt_reduce_mean(kiln_dtype t, const char *x, int64_t n, int64_t stride, void *out)
{
    if (t == KILN_FLOAT32) {
        float r = rt_div_count_f32(0.0f + rt_pw_add_f32(x, n, stride), n);
        memcpy(out, &r, sizeof r);
    } else if (t == KILN_FLOAT64) {
        double r = rt_div_count_f64(0.0 + rt_pw_add_f64(x, n, stride), n);
        memcpy(out, &r, sizeof r);
    }
}

/* The sum of squared deviations from m, in the pairwise order: the tree of
 * rt_pw_add over y[i] = (x[i] - m) * (x[i] - m), written out again because
 * y exists only one element at a time. */
#define RD_SQDEV(NAME, T, LOAD)                                                          \
    static T NAME(const char *x, int64_t n, int64_t stride, T m)                          \
    {                                                                                    \
        _Static_assert(RT_PW_UNROLL == 8, "8 accumulators");                             \
        T d;                                                                             \
        if (n < RT_PW_UNROLL) {                                                          \
            T r = (T)-0.0;                                                               \
            for (int64_t i = 0; i < n; i++) {                                            \
                d = LOAD(rd_at(x, i, stride)) - m;                                       \
                r = r + d * d;                                                           \
            }                                                                            \
            return r;                                                                    \
        }                                                                                \
        if (n <= RT_PW_BLOCK) {                                                          \
            T r[RT_PW_UNROLL];                                                           \
            for (int j = 0; j < RT_PW_UNROLL; j++) {                                     \
                d = LOAD(rd_at(x, j, stride)) - m;                                       \
                r[j] = d * d;                                                            \
            }                                                                            \
            int64_t i;                                                                   \
            for (i = RT_PW_UNROLL; i < n - n % RT_PW_UNROLL; i += RT_PW_UNROLL)          \
                for (int j = 0; j < RT_PW_UNROLL; j++) {                                 \
                    d = LOAD(rd_at(x, i + j, stride)) - m;                               \
                    r[j] = r[j] + d * d;                                                 \
                }                                                                        \
            T res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));   \
            for (; i < n; i++) {                                                         \
                d = LOAD(rd_at(x, i, stride)) - m;                                       \
                res = res + d * d;                                                       \
            }                                                                            \
            return res;                                                                  \
        }                                                                                \
        int64_t h = n / 2;                                                               \
        h -= h % RT_PW_UNROLL;                                                           \
        T a = NAME(x, h, stride, m);                                                     \
        T b = NAME(rd_at(x, h, stride), n - h, stride, m);                               \
        return a + b;                                                                    \
    }

RD_SQDEV(rd_sqdev_f64, double, rd_f64)
RD_SQDEV(rd_sqdev_f32, float, rd_f32)
#undef RD_SQDEV

static int64_t rd_dof(int64_t n, int64_t ddof)
{
    /* n <= INT64_MAX / 8 (an addressable array) and |ddof| < 2^31 */
    return n - ddof > 0 ? n - ddof : 0;
}

void rt_reduce_var(kiln_dtype t, const char *x, int64_t n, int64_t stride, int64_t ddof,
                   void *out)
{
    if (t == KILN_FLOAT32) {
        float m = rt_div_count_f32(0.0f + rt_pw_add_f32(x, n, stride), n);
        float r = rt_div_count_f32(0.0f + rd_sqdev_f32(x, n, stride, m), rd_dof(n, ddof));
        memcpy(out, &r, sizeof r);
    } else if (t == KILN_FLOAT64) {
        double m = rt_div_count_f64(0.0 + rt_pw_add_f64(x, n, stride), n);
        double r = rt_div_count_f64(0.0 + rd_sqdev_f64(x, n, stride, m), rd_dof(n, ddof));
        memcpy(out, &r, sizeof r);
    }
}

void rt_reduce_std(kiln_dtype t, const char *x, int64_t n, int64_t stride, int64_t ddof,
                   void *out)
{
    rt_reduce_var(t, x, n, stride, ddof, out);
    if (t == KILN_FLOAT32) {
        float v = sqrtf(rd_f32(out));
        memcpy(out, &v, sizeof v);
    } else if (t == KILN_FLOAT64) {
        double v = sqrt(rd_f64(out));
        memcpy(out, &v, sizeof v);
    }
}

/* ---- scans ------------------------------------------------------------------------- */

/* The block scan of runtime/reduce.h for a float type. */
#define RD_BLOCK_SCAN(NAME, T, OP)                                                       \
    static void NAME(const char *x, int64_t xs, char *y, int64_t ys, int64_t n)          \
    {                                                                                    \
        T carry = 0;                                                                     \
        for (int64_t lo = 0; lo < n; lo += RT_SCAN_BLOCK) {                              \
            int64_t hi = n - lo < RT_SCAN_BLOCK ? n : lo + RT_SCAN_BLOCK;                \
            T l = 0;                                                                     \
            for (int64_t i = lo; i < hi; i++) {                                          \
                T v;                                                                     \
                memcpy(&v, rd_at(x, i, xs), sizeof v);                                   \
                l = i == lo ? v : l OP v;                                                \
                T r = lo == 0 ? l : carry OP l;                                          \
                memcpy(y + i * ys, &r, sizeof r);                                        \
            }                                                                            \
            carry = lo == 0 ? l : carry OP l;                                            \
        }                                                                                \
    }

RD_BLOCK_SCAN(rd_scan_add_f64, double, +)
RD_BLOCK_SCAN(rd_scan_add_f32, float, +)
RD_BLOCK_SCAN(rd_scan_mul_f64, double, *)
RD_BLOCK_SCAN(rd_scan_mul_f32, float, *)
#undef RD_BLOCK_SCAN

/* Integer (or bool) running sum or product, wrapping (bool: or / and). */
static void rd_scan_int(kiln_dtype t, const char *x, int64_t xs, char *y, int64_t ys, int64_t n,
                        bool mul)
{
    uint64_t acc = 0;
    kiln_dtype st = t == KILN_BOOL ? KILN_UINT8 : t;
    for (int64_t i = 0; i < n; i++) {
        uint64_t v = rd_raw(t, rd_at(x, i, xs));
        if (i == 0)
            acc = v;
        else if (t == KILN_BOOL)
            acc = mul ? (acc & v) : (acc | v);
        else
            acc = mul ? acc * v : acc + v;
        rd_store_raw(st, y + i * ys, acc);
    }
}

void rt_scan_sum(kiln_dtype t, const char *x, int64_t xstride, char *y, int64_t ystride,
                 int64_t n)
{
    if (t == KILN_FLOAT64)
        rd_scan_add_f64(x, xstride, y, ystride, n);
    else if (t == KILN_FLOAT32)
        rd_scan_add_f32(x, xstride, y, ystride, n);
    else
        rd_scan_int(t, x, xstride, y, ystride, n, false);
}

void rt_scan_prod(kiln_dtype t, const char *x, int64_t xstride, char *y, int64_t ystride,
                  int64_t n)
{
    if (t == KILN_FLOAT64)
        rd_scan_mul_f64(x, xstride, y, ystride, n);
    else if (t == KILN_FLOAT32)
        rd_scan_mul_f32(x, xstride, y, ystride, n);
    else
        rd_scan_int(t, x, xstride, y, ystride, n, true);
}

/* The running minimum (maximum) as element bytes: y[i] = the choice of
 * gr_apply's minimum between y[i-1] and x[i]. */
static void rd_scan_minmax(kiln_dtype t, const char *x, int64_t xs, char *y, int64_t ys,
                           int64_t n, bool want_max)
{
    size_t sz = rt_dtypes[t].size;
    char best[8];
    for (int64_t i = 0; i < n; i++) {
        const char *p = rd_at(x, i, xs);
        if (i == 0 || rd_pick_b(t, best, p, want_max))
            memcpy(best, p, sz);
        memcpy(y + i * ys, best, sz);
    }
}

void rt_scan_min(kiln_dtype t, const char *x, int64_t xstride, char *y, int64_t ystride,
                 int64_t n)
{
    rd_scan_minmax(t, x, xstride, y, ystride, n, false);
}

void rt_scan_max(kiln_dtype t, const char *x, int64_t xstride, char *y, int64_t ystride,
                 int64_t n)
{
    rd_scan_minmax(t, x, xstride, y, ystride, n, true);
}
