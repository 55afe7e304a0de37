/*
 * tests/test_random_dag.c — the differential tester: random elementwise
 * DAGs evaluated interpreted, fused and unfused, compared element by
 * element against the interpreter (the oracle).
 *
 * Each graph comes from its own seed (base seed + graph number), so one
 * graph reproduces alone: KILN_DIFF_SEED=<printed seed> KILN_DIFF_COUNT=1.
 * ctest runs a fixed-seed batch of 300 graphs; KILN_DIFF_COUNT=N (and
 * KILN_DIFF_SEED=S) runs as many as asked, reports every mismatching seed
 * and fails at the end. The batch is sized by compile time, not by the
 * graphs: a graph compiles ~4-5 new kernels (its fused kernel and the
 * unfused per-node kernels not yet cached) at ~20 ms each, so 300 graphs
 * take ~30-40 s under ASan on the 2-core machine; the interpreter alone
 * would do thousands in that time. Shallow graphs are drawn more often than
 * deep ones for the same reason (depth 1 + floor(8u^2)).
 *
 * What a graph is made of: random ops from graph/ops.def (by NumPy name
 * through kiln_op), casts and clip; depth 1..8 with shared subexpressions;
 * random dtypes; a target shape of rank 0..4 (sometimes a zero extent,
 * rarely a large one) that every leaf broadcasts to; leaves that are
 * contiguous, transposed / Fortran-order, strided with positive and
 * negative steps, zero-stride (broadcast_to) or unaligned record fields,
 * filled with edge values (NaN, +-inf, +-0, subnormals, integer extremes);
 * weak (Python-literal) and strong scalars. Outputs are new arrays, C or
 * F order, strided / negative-stride views, or (one root) an input's own
 * memory, so overlap semantics are exercised. Inputs are restored from a
 * snapshot before every mode.
 *
 * Comparison policy (the choice the brief asks to document):
 *   - a value computed only by exactly rounded ops (GR_F_EXACT, and power
 *     on integers) must be bit-identical in all modes, except that every
 *     NaN equals every NaN: IEEE 754 leaves the payload and sign of a NaN
 *     result unspecified (LLVM may commute an fadd's operands, which picks
 *     the other NaN) and no op turns a NaN's payload into a non-NaN value;
 *   - an approximate (GR_F_MATH, float) node whose inputs are all exact is
 *     compared within its op's ulp bound + 1 (the interpreter's libm is
 *     itself within 1 ulp of correctly rounded), NaN-ness exactly; every
 *     such node is added as an extra root of the same evaluation, so this
 *     also exercises multi-output fusion;
 *   - a value downstream of an approximate node is evaluated in all modes
 *     (status, shape, dtype, sanitizers) but its elements are not compared:
 *     exact ops can amplify an allowed ulp difference without bound
 *     (cancellation, floor, comparisons, casts to integers).
 * Construction errors (a dtype an op rejects, shapes that do not
 * broadcast, an out-of-range weak integer) are skipped, not failures, but
 * must be clean: one of the expected statuses, a message, sticky.
 * After every graph's scope ends the live node count must return to its
 * value before the scope (scopes bound the DAG's memory).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "graph/graph.h"
#include "testutil.h"

#include <float.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_SEED 0x6b696c6e64616721ull
#define DEFAULT_COUNT 300 /* see the top comment: compiling dominates */
#define MAXN 64        /* nodes per graph */
#define MAXLEAF 12     /* array leaves per graph */
#define MAXROOT 6
#define MAX_ELEMS 4096 /* of the target shape, except the rare large case */

/* ---- PRNG: splitmix64 -------------------------------------------------- */

typedef struct rng {
    uint64_t s;
} rng;

static uint64_t rnext(rng *r)
{
    uint64_t z = (r->s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}
static uint64_t rbelow(rng *r, uint64_t n) { return n ? rnext(r) % n : 0; }
static double runif(rng *r) { return (double)(rnext(r) >> 11) * 0x1p-53; }
static bool rchance(rng *r, double p) { return runif(r) < p; }
static double rnormal(rng *r)
{
    double u = runif(r) + 0x1p-54, v = runif(r);
    return sqrt(-2.0 * log(u)) * cos(6.283185307179586 * v);
}

/* ---- dtypes and values -------------------------------------------------- */

static bool is_float(kiln_dtype t) { return t == KILN_FLOAT32 || t == KILN_FLOAT64; }

static kiln_dtype random_dtype(rng *r)
{
    static const kiln_dtype weighted[] = {
        KILN_FLOAT64, KILN_FLOAT64, KILN_FLOAT64, KILN_FLOAT32, KILN_FLOAT32, KILN_FLOAT32,
        KILN_INT32,   KILN_INT64,   KILN_INT64,   KILN_INT8,    KILN_INT16,   KILN_UINT8,
        KILN_UINT16,  KILN_UINT32,  KILN_UINT64,  KILN_BOOL,    KILN_INT32,   KILN_BOOL};
    return weighted[rbelow(r, sizeof weighted / sizeof weighted[0])];
}

static double gen_f64(rng *r, bool f32)
{
    static const double edges[] = {
        NAN, -NAN, INFINITY, -INFINITY, 0.0, -0.0, 1.0, -1.0, 0.5, -0.5, 2.0, 2.5, -2.5, 1.5,
        3.0, DBL_MAX, -DBL_MAX, DBL_MIN, 4.9406564584124654e-324, -4.9406564584124654e-324,
        1e-310, 1e300, -1e300, 9007199254740993.0, 9.3e18, -9.3e18, 9223372036854775808.0,
        -9223372036854775808.0, 18446744073709551616.0, 127.5, 128.0, -128.5, 255.5, 256.0,
        65535.5, 2147483648.0, -2147483649.0, 4294967296.0, 1e-5, 700.0, -745.0, 88.7,
        0.7853981633974483};
    static const double edges32[] = {
        3.4028234663852886e38, -3.4028234663852886e38, 1.1754943508222875e-38,
        1.401298464324817e-45, -1.401298464324817e-45, 16777217.0, 1e38, 1e-40};
    uint64_t k = rbelow(r, 10);
    if (k < 3) {
        if (f32 && rchance(r, 0.3))
            return edges32[rbelow(r, sizeof edges32 / sizeof edges32[0])];
        return edges[rbelow(r, sizeof edges / sizeof edges[0])];
    }
    if (k < 5)
        return (double)((int64_t)rbelow(r, 21) - 10);
    if (k < 7)
        return 2.0 * runif(r) - 1.0;
    return rnormal(r) * pow(10.0, (double)((int64_t)rbelow(r, 9) - 4));
}

static int64_t gen_int(rng *r, int bits, bool sgn)
{
    uint64_t k = rbelow(r, 10);
    if (k < 3) {
        int64_t mx = bits == 64 ? INT64_MAX : (int64_t)((1ull << (bits - 1)) - 1);
        int64_t mn = -mx - 1;
        uint64_t umx = bits == 64 ? UINT64_MAX : (1ull << bits) - 1;
        const int64_t edges_s[] = {0, 1, -1, 2, -2, mn, mx, mn + 1, mx - 1, bits - 1, bits, bits + 1, 63, 64};
        const int64_t edges_u[] = {0, 1, 2, 3, (int64_t)umx, (int64_t)(umx - 1), bits - 1, bits, 63, 64};
        return sgn ? edges_s[rbelow(r, 14)] : edges_u[rbelow(r, 10)];
    }
    if (k < 7)
        return sgn ? (int64_t)rbelow(r, 41) - 20 : (int64_t)rbelow(r, 41);
    return (int64_t)rnext(r); /* truncated on store */
}

/* Writes one random element of dtype t at p (any alignment). */
static void gen_value(rng *r, kiln_dtype t, void *p)
{
    switch (t) {
    case KILN_BOOL: { uint8_t v = (uint8_t)rbelow(r, 2); memcpy(p, &v, 1); break; }
    case KILN_INT8: { int8_t v = (int8_t)gen_int(r, 8, true); memcpy(p, &v, 1); break; }
    case KILN_INT16: { int16_t v = (int16_t)gen_int(r, 16, true); memcpy(p, &v, 2); break; }
    case KILN_INT32: { int32_t v = (int32_t)gen_int(r, 32, true); memcpy(p, &v, 4); break; }
    case KILN_INT64: { int64_t v = gen_int(r, 64, true); memcpy(p, &v, 8); break; }
    case KILN_UINT8: { uint8_t v = (uint8_t)gen_int(r, 8, false); memcpy(p, &v, 1); break; }
    case KILN_UINT16: { uint16_t v = (uint16_t)gen_int(r, 16, false); memcpy(p, &v, 2); break; }
    case KILN_UINT32: { uint32_t v = (uint32_t)gen_int(r, 32, false); memcpy(p, &v, 4); break; }
    case KILN_UINT64: { uint64_t v = (uint64_t)gen_int(r, 64, false); memcpy(p, &v, 8); break; }
    case KILN_FLOAT32: { float v = (float)gen_f64(r, true); memcpy(p, &v, 4); break; }
    case KILN_FLOAT64: { double v = gen_f64(r, false); memcpy(p, &v, 8); break; }
    default: fail_msg("bad dtype %d", (int)t);
    }
}

static void fmt_value(kiln_dtype t, const void *p, char *buf, size_t cap)
{
    switch (t) {
    case KILN_BOOL: { uint8_t v; memcpy(&v, p, 1); snprintf(buf, cap, "%s", v ? "True" : v == 0 ? "False" : "bool?"); break; }
    case KILN_INT8: { int8_t v; memcpy(&v, p, 1); snprintf(buf, cap, "%d", v); break; }
    case KILN_INT16: { int16_t v; memcpy(&v, p, 2); snprintf(buf, cap, "%d", v); break; }
    case KILN_INT32: { int32_t v; memcpy(&v, p, 4); snprintf(buf, cap, "%" PRId32, v); break; }
    case KILN_INT64: { int64_t v; memcpy(&v, p, 8); snprintf(buf, cap, "%" PRId64, v); break; }
    case KILN_UINT8: { uint8_t v; memcpy(&v, p, 1); snprintf(buf, cap, "%u", v); break; }
    case KILN_UINT16: { uint16_t v; memcpy(&v, p, 2); snprintf(buf, cap, "%u", v); break; }
    case KILN_UINT32: { uint32_t v; memcpy(&v, p, 4); snprintf(buf, cap, "%" PRIu32, v); break; }
    case KILN_UINT64: { uint64_t v; memcpy(&v, p, 8); snprintf(buf, cap, "%" PRIu64, v); break; }
    case KILN_FLOAT32: {
        float v; uint32_t b;
        memcpy(&v, p, 4); memcpy(&b, p, 4);
        snprintf(buf, cap, "%.9g (0x%08" PRIx32 ")", (double)v, b);
        break;
    }
    case KILN_FLOAT64: {
        double v; uint64_t b;
        memcpy(&v, p, 8); memcpy(&b, p, 8);
        snprintf(buf, cap, "%.17g (0x%016" PRIx64 ")", v, b);
        break;
    }
    default: snprintf(buf, cap, "?");
    }
}

static const char *shape_str(int rank, const int64_t *shape, char *buf, size_t cap)
{
    size_t k = (size_t)snprintf(buf, cap, "(");
    for (int i = 0; i < rank && k < cap; i++)
        k += (size_t)snprintf(buf + k, cap - k, "%s%" PRId64, i ? ", " : "", shape[i]);
    if (k < cap)
        snprintf(buf + k, cap - k, rank == 1 ? ",)" : ")");
    return buf;
}

static int64_t shape_size(int rank, const int64_t *shape)
{
    int64_t n = 1;
    for (int i = 0; i < rank; i++)
        n *= shape[i];
    return n;
}

/* ---- the graph record ---------------------------------------------------- */

typedef enum nkind { K_ARRAY, K_SCALAR, K_OP, K_CAST, K_CLIP } nkind;

typedef struct dnode {
    kiln_expr e;
    nkind kind;
    int op; /* gr_op for K_OP */
    int nin, in[3];
    kiln_dtype dtype;
    int rank;
    int64_t shape[KILN_MAX_RANK];
    bool approx;  /* an approximate op's float result */
    bool tainted; /* depends on an approximate node (itself included) */
    char text[128];
} dnode;

typedef struct leaf {
    kiln_array *view;
    void *mem, *snap; /* backing memory (owned) and its filled contents */
    size_t bytes;
    bool writable;
    int node;
} leaf;

typedef struct stats {
    long graphs, build_errors, evals, roots_exact, roots_approx, roots_unchecked, elements,
        mismatches, bad_graphs, refused_views, aliased;
    long err_by_status[KILN_STATUS_COUNT];
} stats;

typedef struct dgraph {
    uint64_t seed;
    rng r;
    kiln_ctx *ctx;
    stats *st;
    int rank;
    int64_t shape[KILN_MAX_RANK];
    dnode nodes[MAXN];
    int nn;
    leaf leaves[MAXLEAF];
    int nleaves;
    bool bad_error; /* an unclean construction error was seen */
    char errlog[512];
} dgraph;

/* The statuses a construction may fail with on valid handles. */
static bool clean_build_status(kiln_status s)
{
    return s == KILN_EDTYPE || s == KILN_ESHAPE || s == KILN_EOVERFLOW || s == KILN_EINVAL;
}

static int add_node(dgraph *g, kiln_expr e, nkind kind, int op, int nin, const int *in,
                    const char *text)
{
    kiln_status s = kiln_expr_status(e);
    if (s != KILN_OK) {
        g->st->build_errors++;
        if ((int)s >= 0 && s < KILN_STATUS_COUNT)
            g->st->err_by_status[s]++;
        const char *msg = kiln_errmsg(g->ctx);
        kiln_status sticky = kiln_expr_status(kiln_absolute(e));
        if (!clean_build_status(s) || !msg || !msg[0] || sticky != s) {
            g->bad_error = true;
            snprintf(g->errlog, sizeof g->errlog,
                     "construction of %s failed uncleanly: %s (%s), message \"%s\", sticky %s",
                     text, kiln_status_name(s), kiln_status_str(s), msg ? msg : "(null)",
                     kiln_status_name(sticky));
        }
        return -1;
    }
    if (g->nn >= MAXN)
        return -1;
    dnode *d = &g->nodes[g->nn];
    memset(d, 0, sizeof *d);
    d->e = e;
    d->kind = kind;
    d->op = op;
    d->nin = nin;
    for (int i = 0; i < nin; i++)
        d->in[i] = in[i];
    d->dtype = kiln_expr_dtype(e);
    d->rank = kiln_expr_rank(e);
    assert_true(d->rank >= 0 && d->rank <= KILN_MAX_RANK);
    assert_int_equal(kiln_expr_shape(e, d->shape), KILN_OK);
    d->approx = kind == K_OP && (gr_ops[op].flags & GR_F_MATH) && is_float(d->dtype);
    d->tainted = d->approx;
    for (int i = 0; i < nin; i++)
        d->tainted |= g->nodes[in[i]].tainted;
    snprintf(d->text, sizeof d->text, "%s", text);
    return g->nn++;
}

/* ---- leaves ------------------------------------------------------------------ */

static void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    assert_non_null(p);
    return p;
}

/* A leaf's shape: a suffix of the target's, some extents 1, rarely one that
 * does not broadcast (construction must then fail cleanly). */
static int leaf_shape(dgraph *g, int64_t *shape)
{
    int rank = rchance(&g->r, 0.7) ? g->rank : (int)rbelow(&g->r, (uint64_t)g->rank + 1);
    for (int k = 0; k < rank; k++) {
        shape[k] = g->shape[g->rank - rank + k];
        if (rchance(&g->r, 0.25))
            shape[k] = 1;
        else if (shape[k] > 1 && rchance(&g->r, 0.01))
            shape[k] += 1;
    }
    return rank;
}

static void fill(rng *r, kiln_dtype t, char *mem, int64_t n)
{
    size_t sz = kiln_dtype_size(t);
    for (int64_t i = 0; i < n; i++)
        gen_value(r, t, mem + (size_t)i * sz);
}

/* Makes an input array of dtype t and the given shape in a random layout.
 * Returns NULL (and counts it) if the runtime refused a view it should
 * make. */
static kiln_array *make_input(dgraph *g, kiln_dtype t, int rank, const int64_t *shape, leaf *lf,
                              char *desc, size_t cap)
{
    kiln_ctx *ctx = g->ctx;
    size_t sz = kiln_dtype_size(t);
    int64_t n = shape_size(rank, shape);
    char sb[96];
    kiln_array *a = NULL, *base = NULL;
    kiln_status s = KILN_OK;
    int kind = (int)rbelow(&g->r, 100);
    lf->writable = true;
    if (kind < 30 || (kind < 45 && rank < 2)) { /* C-contiguous */
        lf->bytes = (size_t)n * sz;
        lf->mem = xmalloc(lf->bytes);
        fill(&g->r, t, lf->mem, n);
        s = kiln_array_wrap(ctx, lf->mem, t, rank, shape, NULL, NULL, NULL, &a);
        snprintf(desc, cap, "%s %s C-contiguous", kiln_dtype_name(t), shape_str(rank, shape, sb, sizeof sb));
    } else if (kind < 45) { /* transposed: a permutation of a C array (reversed = F order) */
        int perm[KILN_MAX_RANK];
        int64_t bshape[KILN_MAX_RANK];
        bool fortran = rchance(&g->r, 0.5);
        for (int k = 0; k < rank; k++)
            perm[k] = fortran ? rank - 1 - k : k;
        if (!fortran)
            for (int k = rank - 1; k > 0; k--) {
                int j = (int)rbelow(&g->r, (uint64_t)k + 1), tmp = perm[k];
                perm[k] = perm[j];
                perm[j] = tmp;
            }
        for (int k = 0; k < rank; k++)
            bshape[perm[k]] = shape[k];
        lf->bytes = (size_t)n * sz;
        lf->mem = xmalloc(lf->bytes);
        fill(&g->r, t, lf->mem, n);
        s = kiln_array_wrap(ctx, lf->mem, t, rank, bshape, NULL, NULL, NULL, &base);
        if (s == KILN_OK)
            s = kiln_array_transpose(base, perm, &a);
        int k0 = snprintf(desc, cap, "%s %s %s perm (", kiln_dtype_name(t),
                          shape_str(rank, shape, sb, sizeof sb), fortran ? "F-order" : "transposed");
        for (int k = 0; k < rank && (size_t)k0 < cap; k++)
            k0 += snprintf(desc + k0, cap - (size_t)k0, "%s%d", k ? "," : "", perm[k]);
        if ((size_t)k0 < cap)
            snprintf(desc + k0, cap - (size_t)k0, ")");
    } else if (kind < 70) { /* strided, positive and negative steps */
        int64_t bshape[KILN_MAX_RANK];
        kiln_slice sl[KILN_MAX_RANK];
        int k0 = snprintf(desc, cap, "%s %s strided steps (", kiln_dtype_name(t),
                          shape_str(rank, shape, sb, sizeof sb));
        for (int k = 0; k < rank; k++) {
            static const int64_t steps[] = {1, 2, 3, -1, -2, -3, 2};
            int64_t st = steps[rbelow(&g->r, 7)], a_ = st < 0 ? -st : st;
            int64_t off = (int64_t)rbelow(&g->r, (uint64_t)a_);
            if (shape[k] == 0) {
                st = 1;
                bshape[k] = (int64_t)rbelow(&g->r, 3);
                sl[k] = (kiln_slice){0, 0, 1};
            } else if (st > 0) {
                int64_t start = off, last = off + (shape[k] - 1) * st;
                bshape[k] = last + 1 + (int64_t)rbelow(&g->r, 3);
                sl[k] = (kiln_slice){start, last + 1, st};
            } else {
                int64_t start = off + (shape[k] - 1) * a_;
                bshape[k] = start + 1 + (int64_t)rbelow(&g->r, 3);
                sl[k] = (kiln_slice){start, KILN_END, st};
            }
            if ((size_t)k0 < cap)
                k0 += snprintf(desc + k0, cap - (size_t)k0, "%s%" PRId64, k ? "," : "", st);
        }
        if ((size_t)k0 < cap)
            snprintf(desc + k0, cap - (size_t)k0, ")");
        int64_t bn = shape_size(rank, bshape);
        lf->bytes = (size_t)bn * sz;
        lf->mem = xmalloc(lf->bytes);
        fill(&g->r, t, lf->mem, bn);
        s = kiln_array_wrap(ctx, lf->mem, t, rank, bshape, NULL, NULL, NULL, &base);
        if (s == KILN_OK)
            s = kiln_array_slice(base, rank, sl, &a);
    } else if (kind < 85) { /* zero strides: broadcast_to from a smaller array */
        int64_t small[KILN_MAX_RANK];
        int srank = rank - (int)rbelow(&g->r, (uint64_t)rank + 1);
        for (int k = 0; k < srank; k++)
            small[k] = rchance(&g->r, 0.5) ? 1 : shape[rank - srank + k];
        int64_t sn = shape_size(srank, small);
        lf->bytes = (size_t)sn * sz;
        lf->mem = xmalloc(lf->bytes);
        fill(&g->r, t, lf->mem, sn);
        s = kiln_array_wrap(ctx, lf->mem, t, srank, small, NULL, NULL, NULL, &base);
        if (s == KILN_OK)
            s = kiln_array_broadcast_to(base, rank, shape, &a);
        char sb2[96];
        snprintf(desc, cap, "%s %s broadcast_to from %s", kiln_dtype_name(t),
                 shape_str(rank, shape, sb, sizeof sb), shape_str(srank, small, sb2, sizeof sb2));
        lf->writable = false;
    } else { /* a field of a packed record array, reshaped */
        int64_t off = (int64_t)rbelow(&g->r, 8), recsize = off + (int64_t)sz + (int64_t)rbelow(&g->r, 4);
        int64_t stride = rchance(&g->r, 0.5) ? 0 : recsize + (int64_t)rbelow(&g->r, 9);
        int64_t rs = stride ? stride : recsize;
        lf->bytes = (size_t)(n * rs);
        lf->mem = xmalloc(lf->bytes);
        for (size_t i = 0; i < lf->bytes; i++)
            ((unsigned char *)lf->mem)[i] = (unsigned char)rnext(&g->r);
        for (int64_t i = 0; i < n; i++)
            gen_value(&g->r, t, (char *)lf->mem + i * rs + off);
        kiln_array *field = NULL;
        s = kiln_array_wrap_records(ctx, lf->mem, n, recsize, stride, NULL, NULL, &base);
        if (s == KILN_OK)
            s = kiln_array_field(base, off, t, &field);
        if (s == KILN_OK) {
            s = kiln_array_reshape(field, rank, shape, &a);
            kiln_array_release(field);
        }
        snprintf(desc, cap, "%s %s record field at +%" PRId64 " of %" PRId64 "-byte records, %" PRId64 " apart",
                 kiln_dtype_name(t), shape_str(rank, shape, sb, sizeof sb), off, recsize, rs);
    }
    kiln_array_release(base);
    if (s != KILN_OK) {
        g->st->refused_views++;
        fprintf(stderr, "random_dag: seed 0x%016" PRIx64 ": the runtime refused the view %s: %s: %s\n",
                g->seed, desc, kiln_status_name(s), kiln_errmsg(ctx));
        kiln_array_release(a);
        free(lf->mem);
        lf->mem = NULL;
        return NULL;
    }
    lf->snap = xmalloc(lf->bytes);
    memcpy(lf->snap, lf->mem, lf->bytes);
    return a;
}

static int make_scalar(dgraph *g)
{
    kiln_ctx *ctx = g->ctx;
    char text[128];
    uint64_t k = rbelow(&g->r, 10);
    if (k < 3) {
        static const double v[] = {0.5, 2.0, -1.0, 0.0, -0.0, 3.0, 1e10, NAN, INFINITY, 0.1, 1e300, 1e-5, -2.5};
        double x = v[rbelow(&g->r, sizeof v / sizeof v[0])];
        snprintf(text, sizeof text, "weak float %.17g", x);
        return add_node(g, kiln_f64(ctx, x), K_SCALAR, 0, 0, NULL, text);
    }
    if (k < 6) {
        static const int64_t v[] = {0, 1, -1, 2, 3, 5, 7, 31, 64, 100, 127, 128, -128, 255, 256,
                                    300, 65535, 2147483648, -2147483648, 1099511627776, INT64_MAX, INT64_MIN};
        int64_t x = v[rbelow(&g->r, sizeof v / sizeof v[0])];
        snprintf(text, sizeof text, "weak int %" PRId64, x);
        return add_node(g, kiln_i64(ctx, x), K_SCALAR, 0, 0, NULL, text);
    }
    if (k < 7) {
        int b = (int)rbelow(&g->r, 2);
        snprintf(text, sizeof text, "weak bool %d", b);
        return add_node(g, kiln_bool(ctx, b), K_SCALAR, 0, 0, NULL, text);
    }
    kiln_dtype t = random_dtype(&g->r);
    union {
        double d;
        int64_t i;
        unsigned char b[8];
    } val;
    memset(&val, 0, sizeof val);
    gen_value(&g->r, t, val.b);
    char vb[64];
    fmt_value(t, val.b, vb, sizeof vb);
    snprintf(text, sizeof text, "strong %s %s", kiln_dtype_name(t), vb);
    return add_node(g, kiln_scalar(ctx, t, val.b), K_SCALAR, 0, 0, NULL, text);
}

static int make_leaf(dgraph *g)
{
    if (rchance(&g->r, 0.25))
        return make_scalar(g);
    if (g->nleaves >= MAXLEAF)
        return g->leaves[rbelow(&g->r, MAXLEAF)].node;
    leaf *lf = &g->leaves[g->nleaves];
    memset(lf, 0, sizeof *lf);
    int64_t shape[KILN_MAX_RANK];
    int rank = leaf_shape(g, shape);
    char desc[128];
    kiln_array *a = make_input(g, random_dtype(&g->r), rank, shape, lf, desc, sizeof desc);
    if (!a)
        return make_scalar(g);
    lf->view = a;
    g->nleaves++;
    char text[160];
    snprintf(text, sizeof text, "input %d: %s", g->nleaves - 1, desc);
    lf->node = add_node(g, kiln_input(g->ctx, a), K_ARRAY, 0, 0, NULL, text);
    return lf->node;
}

/* ---- ops ---------------------------------------------------------------------- */

static int g_ops_by_arity[4][GR_OP_COUNT], g_nops_by_arity[4];
static int g_math_by_arity[4][GR_OP_COUNT], g_nmath_by_arity[4];

static void init_op_lists(void)
{
    if (g_nops_by_arity[2])
        return;
    for (int op = 0; op < GR_OP_COUNT; op++) {
        const gr_op_info *o = &gr_ops[op];
        if (o->rule == GR_RULE_LEAF || op == GR_OP_CAST || o->arity < 1 || o->arity > 3 ||
            o->rule == GR_RULE_REDUCE || o->rule == GR_RULE_SCAN ||
            o->rule == GR_RULE_VIEW) /* not elementwise */
            continue;
        if (o->flags & GR_F_MATH)
            g_math_by_arity[o->arity][g_nmath_by_arity[o->arity]++] = op;
        else
            g_ops_by_arity[o->arity][g_nops_by_arity[o->arity]++] = op;
    }
}

static int gen(dgraph *g, int depth);

/* Tries ops of this arity on args; the first that constructs is kept. */
static int make_op(dgraph *g, int arity, const int *args)
{
    kiln_expr ex[3];
    for (int i = 0; i < arity; i++)
        ex[i] = g->nodes[args[i]].e;
    for (int attempt = 0; attempt < 4; attempt++) {
        char text[128];
        kiln_expr e;
        int op = -1;
        nkind kind = K_OP;
        if (arity == 1 && rchance(&g->r, 0.2)) {
            kiln_dtype t = random_dtype(&g->r);
            kind = K_CAST;
            snprintf(text, sizeof text, "cast<%s>", kiln_dtype_name(t));
            e = kiln_cast(ex[0], t);
        } else if (arity == 3 && rchance(&g->r, 0.5)) {
            kind = K_CLIP;
            snprintf(text, sizeof text, "clip");
            e = kiln_clip(ex[0], ex[1], ex[2]);
        } else {
            if (g_nmath_by_arity[arity] && rchance(&g->r, 0.06))
                op = g_math_by_arity[arity][rbelow(&g->r, (uint64_t)g_nmath_by_arity[arity])];
            else
                op = g_ops_by_arity[arity][rbelow(&g->r, (uint64_t)g_nops_by_arity[arity])];
            snprintf(text, sizeof text, "%s", gr_ops[op].name);
            e = kiln_op(g->ctx, gr_ops[op].name, arity, ex);
        }
        int id = add_node(g, e, kind, op, arity, args, text);
        if (id >= 0 || g->nn >= MAXN)
            return id;
    }
    return -1;
}

static int gen(dgraph *g, int depth)
{
    if (g->nn >= MAXN - 6)
        return g->nn ? (int)rbelow(&g->r, (uint64_t)g->nn) : make_leaf(g);
    if (depth <= 0 || rchance(&g->r, 0.1)) {
        int id = make_leaf(g);
        return id >= 0 ? id : (g->nn ? 0 : -1);
    }
    if (g->nn > 2 && rchance(&g->r, 0.1)) /* share a subexpression */
        return (int)rbelow(&g->r, (uint64_t)g->nn);
    uint64_t k = rbelow(&g->r, 100);
    int arity = k < 35 ? 1 : k < 88 ? 2 : 3;
    int args[3];
    for (int i = 0; i < arity; i++) {
        args[i] = gen(g, depth - 1 - (i ? (int)rbelow(&g->r, 2) : 0));
        if (args[i] < 0)
            return -1;
    }
    int id = make_op(g, arity, args);
    return id >= 0 ? id : args[0];
}

/* ---- evaluation and comparison ------------------------------------------------ */

enum { O_NEW, O_C, O_F, O_STRIDED, O_ALIAS };
static const char *const OUT_NAME[] = {"new array", "C-order array", "F-order array",
                                       "strided view", "aliases input"};
static const kiln_mode MODES[3] = {KILN_MODE_INTERP, KILN_MODE_FUSED, KILN_MODE_UNFUSED};
static const char *const MODE_NAME[3] = {"interp", "fused", "unfused"};

typedef struct outspec {
    int kind;
    int alias_leaf; /* O_ALIAS */
    bool reversed;  /* O_ALIAS: first axis reversed */
    int64_t steps[KILN_MAX_RANK]; /* O_STRIDED */
} outspec;

/* Copies every element of a, in C order, to dst. */
static void gather(const kiln_array *a, unsigned char *dst)
{
    int rank = kiln_array_rank(a);
    const int64_t *shape = kiln_array_shape(a);
    int64_t n = kiln_array_size(a), idx[KILN_MAX_RANK] = {0};
    size_t sz = kiln_dtype_size(kiln_array_dtype(a));
    for (int64_t i = 0; i < n; i++) {
        const void *p = kiln_array_ptr(a, idx);
        assert_non_null(p);
        memcpy(dst + (size_t)i * sz, p, sz);
        for (int k = rank - 1; k >= 0; k--) {
            if (++idx[k] < shape[k])
                break;
            idx[k] = 0;
        }
    }
}

/* Makes the output array for one root in one mode (NULL for O_NEW).
 * *mem receives memory to free after the array is released. */
static kiln_array *make_output(dgraph *g, const dnode *d, const outspec *os, void **mem)
{
    kiln_array *a = NULL, *base = NULL;
    *mem = NULL;
    switch (os->kind) {
    case O_NEW:
        return NULL;
    case O_C:
    case O_F:
        assert_int_equal(kiln_array_empty(g->ctx, d->dtype, d->rank, d->shape,
                                          os->kind == O_C ? KILN_ORDER_C : KILN_ORDER_F, &a),
                         KILN_OK);
        return a;
    case O_STRIDED: {
        int64_t bshape[KILN_MAX_RANK];
        kiln_slice sl[KILN_MAX_RANK];
        for (int k = 0; k < d->rank; k++) {
            int64_t st = os->steps[k], m = st < 0 ? -st : st;
            if (d->shape[k] == 0) {
                bshape[k] = 1;
                sl[k] = (kiln_slice){0, 0, 1};
            } else if (st > 0) {
                bshape[k] = (d->shape[k] - 1) * m + 1;
                sl[k] = (kiln_slice){0, bshape[k], st};
            } else {
                bshape[k] = (d->shape[k] - 1) * m + 1;
                sl[k] = (kiln_slice){bshape[k] - 1, KILN_END, st};
            }
        }
        size_t bytes = (size_t)shape_size(d->rank, bshape) * kiln_dtype_size(d->dtype);
        *mem = xmalloc(bytes);
        memset(*mem, 0xa5, bytes);
        assert_int_equal(kiln_array_wrap(g->ctx, *mem, d->dtype, d->rank, bshape, NULL, NULL, NULL, &base), KILN_OK);
        assert_int_equal(kiln_array_slice(base, d->rank, sl, &a), KILN_OK);
        kiln_array_release(base);
        return a;
    }
    case O_ALIAS: {
        kiln_array *v = g->leaves[os->alias_leaf].view;
        if (!os->reversed) {
            kiln_array_retain(v);
            return v;
        }
        kiln_slice rev = {KILN_END, KILN_END, -1};
        assert_int_equal(kiln_array_slice(v, 1, &rev, &a), KILN_OK);
        return a;
    }
    }
    return NULL;
}

static void dump_graph(const dgraph *g, int nroots, const int *roots, const outspec *os)
{
    char sb[96];
    fprintf(stderr, "  graph (reproduce alone: KILN_DIFF_SEED=0x%016" PRIx64 " KILN_DIFF_COUNT=1), target shape %s:\n",
            g->seed, shape_str(g->rank, g->shape, sb, sizeof sb));
    for (int i = 0; i < g->nn; i++) {
        const dnode *d = &g->nodes[i];
        char line[512];
        int k = snprintf(line, sizeof line, "    %%%d = %s", i, d->text);
        if (d->nin) {
            k += snprintf(line + k, sizeof line - (size_t)k, "(");
            for (int j = 0; j < d->nin; j++)
                k += snprintf(line + k, sizeof line - (size_t)k, "%s%%%d", j ? ", " : "", d->in[j]);
            k += snprintf(line + k, sizeof line - (size_t)k, ")");
        }
        snprintf(line + k, sizeof line - (size_t)k, " -> %s %s%s", kiln_dtype_name(d->dtype),
                 shape_str(d->rank, d->shape, sb, sizeof sb),
                 d->approx ? "  [approximate]" : d->tainted ? "  [downstream of approximate]" : "");
        fprintf(stderr, "%s\n", line);
    }
    for (int r = 0; r < nroots; r++)
        fprintf(stderr, "  root %%%d -> output %s%s\n", roots[r], OUT_NAME[os[r].kind],
                os[r].kind == O_ALIAS ? (os[r].reversed ? " (first axis reversed)" : " (same view)") : "");
    for (int l = 0; l < g->nleaves; l++) {
        const kiln_array *a = g->leaves[l].view;
        int64_t n = kiln_array_size(a);
        if (n > 24)
            continue;
        kiln_dtype t = kiln_array_dtype(a);
        size_t sz = kiln_dtype_size(t);
        unsigned char *buf = xmalloc((size_t)n * sz);
        /* the snapshot is what every mode read */
        memcpy(g->leaves[l].mem, g->leaves[l].snap, g->leaves[l].bytes);
        gather(a, buf);
        fprintf(stderr, "  input %d values (C order):", l);
        for (int64_t i = 0; i < n; i++) {
            char vb[64];
            fmt_value(t, buf + (size_t)i * sz, vb, sizeof vb);
            fprintf(stderr, " %s", vb);
        }
        fprintf(stderr, "\n");
        free(buf);
    }
}

static void fmt_index(int rank, const int64_t *shape, int64_t flat, char *buf, size_t cap)
{
    int64_t idx[KILN_MAX_RANK];
    for (int k = rank - 1; k >= 0; k--) {
        idx[k] = shape[k] ? flat % shape[k] : 0;
        flat = shape[k] ? flat / shape[k] : 0;
    }
    shape_str(rank, idx, buf, cap);
}

/* Compares one element; tol < 0 means bit-exact (any NaN equals any NaN). */
static bool same_value(kiln_dtype t, const unsigned char *a, const unsigned char *b, int tol)
{
    size_t sz = kiln_dtype_size(t);
    if (t == KILN_FLOAT64) {
        double x, y;
        memcpy(&x, a, 8);
        memcpy(&y, b, 8);
        if (isnan(x) || isnan(y))
            return isnan(x) && isnan(y);
        return tol < 0 ? memcmp(a, b, 8) == 0 : tu_ulp_f64(x, y) <= tol;
    }
    if (t == KILN_FLOAT32) {
        float x, y;
        memcpy(&x, a, 4);
        memcpy(&y, b, 4);
        if (isnan(x) || isnan(y))
            return isnan(x) && isnan(y);
        return tol < 0 ? memcmp(a, b, 4) == 0 : tu_ulp_f32(x, y) <= tol;
    }
    return memcmp(a, b, sz) == 0;
}

/* Builds, evaluates and compares one graph. Returns false on a mismatch. */
static bool run_graph(kiln_ctx *ctx, uint64_t seed, stats *st)
{
    dgraph *g = calloc(1, sizeof *g);
    assert_non_null(g);
    g->seed = seed;
    g->r.s = seed;
    g->ctx = ctx;
    g->st = st;
    st->graphs++;
    bool ok = true;

    /* the target shape */
    static const int rank_w[] = {0, 1, 1, 1, 2, 2, 2, 3, 3, 4};
    static const int64_t ext[] = {1, 2, 3, 4, 5, 7, 8, 9, 16, 17, 31, 33, 1, 2, 3};
    g->rank = rank_w[rbelow(&g->r, 10)];
    for (int k = 0; k < g->rank; k++)
        g->shape[k] = ext[rbelow(&g->r, sizeof ext / sizeof ext[0])];
    while (shape_size(g->rank, g->shape) > MAX_ELEMS)
        g->shape[rbelow(&g->r, (uint64_t)g->rank)] = 1 + (int64_t)rbelow(&g->r, 3);
    if (g->rank && rchance(&g->r, 0.04))
        g->shape[rbelow(&g->r, (uint64_t)g->rank)] = 0;
    else if (rchance(&g->r, 0.02)) { /* large: several vector blocks, maybe threads */
        g->rank = 1 + (int)rbelow(&g->r, 2);
        g->shape[0] = g->rank == 1 ? 20000 + (int64_t)rbelow(&g->r, 50000) : 301;
        g->shape[1] = 257;
    }

    uint64_t nodes_before = kiln_ctx_counter(ctx, KILN_COUNTER_NODES_LIVE);
    uint64_t scope = kiln_scope_begin(ctx);
    double du = runif(&g->r); /* depth 1..8, shallow ones more often: they compile faster */
    int root = gen(g, 1 + (int)(8.0 * du * du));
    if (root >= 0 && !g->nodes[root].tainted && g->nn < MAXN && rchance(&g->r, 0.15)) {
        /* an approximate op over an exact graph: compared within its bound */
        int op = g_math_by_arity[1][rbelow(&g->r, (uint64_t)g_nmath_by_arity[1])];
        int id = add_node(g, kiln_op(g->ctx, gr_ops[op].name, 1, &g->nodes[root].e), K_OP, op, 1,
                          &root, gr_ops[op].name);
        root = id >= 0 ? id : root;
    }
    if (g->bad_error) {
        fprintf(stderr, "random_dag: seed 0x%016" PRIx64 ": %s\n", seed, g->errlog);
        ok = false;
    }
    if (root < 0 || !ok)
        goto end;

    /* roots: the graph's root, every approximate node with exact inputs,
       sometimes an exact intermediate (multi-output evaluation) */
    int roots[MAXROOT], nroots = 0;
    roots[nroots++] = root;
    for (int i = 0; i < g->nn && nroots < MAXROOT; i++) {
        const dnode *d = &g->nodes[i];
        bool inputs_exact = true;
        for (int j = 0; j < d->nin; j++)
            inputs_exact &= !g->nodes[d->in[j]].tainted;
        if (i != root && d->approx && inputs_exact)
            roots[nroots++] = i;
    }
    if (nroots < MAXROOT && g->nn > 1 && rchance(&g->r, 0.2)) {
        int i = (int)rbelow(&g->r, (uint64_t)g->nn);
        if (i != root && g->nodes[i].kind != K_SCALAR)
            roots[nroots++] = i;
    }
    for (int a = 1; a < nroots; a++) /* hash-consing: drop repeats */
        for (int b = 0; b < a; b++)
            if (kiln_expr_same(g->nodes[roots[a]].e, g->nodes[roots[b]].e)) {
                roots[a--] = roots[--nroots];
                break;
            }

    outspec os[MAXROOT];
    memset(os, 0, sizeof os);
    for (int r = 0; r < nroots; r++) {
        const dnode *d = &g->nodes[roots[r]];
        os[r].kind = (int)rbelow(&g->r, 4);
        if (os[r].kind == O_STRIDED)
            for (int k = 0; k < d->rank; k++) {
                static const int64_t steps[] = {2, 3, -1, -2, 1};
                os[r].steps[k] = steps[rbelow(&g->r, 5)];
            }
        if (r == 0 && nroots == 1 && rchance(&g->r, 0.5)) {
            for (int l = 0; l < g->nleaves; l++) {
                const kiln_array *v = g->leaves[l].view;
                if (!g->leaves[l].writable || kiln_array_dtype(v) != d->dtype ||
                    kiln_array_rank(v) != d->rank ||
                    memcmp(kiln_array_shape(v), d->shape, sizeof(int64_t) * (size_t)d->rank) != 0)
                    continue;
                os[r].kind = O_ALIAS;
                os[r].alias_leaf = l;
                g->st->aliased++;
                os[r].reversed = d->rank > 0 && rchance(&g->r, 0.5);
                break;
            }
        }
    }
    int api = nroots == 1 ? (int)rbelow(&g->r, 2) : 0; /* 1: set_mode + eval/eval_into */

    unsigned char *res[3][MAXROOT];
    memset(res, 0, sizeof res);
    for (int m = 0; m < 3; m++) {
        kiln_array *outs[MAXROOT];
        void *mems[MAXROOT];
        kiln_expr ex[MAXROOT];
        for (int l = 0; l < g->nleaves; l++)
            memcpy(g->leaves[l].mem, g->leaves[l].snap, g->leaves[l].bytes);
        for (int r = 0; r < nroots; r++) {
            outs[r] = make_output(g, &g->nodes[roots[r]], &os[r], &mems[r]);
            ex[r] = g->nodes[roots[r]].e;
        }
        kiln_status s;
        if (api == 1) {
            assert_int_equal(kiln_ctx_set_mode(ctx, MODES[m]), KILN_OK);
            s = outs[0] ? kiln_eval_into(ex[0], outs[0]) : kiln_eval(ex[0], &outs[0]);
        } else {
            s = kiln_eval_many(ctx, MODES[m], (size_t)nroots, ex, outs);
        }
        st->evals++;
        if (s != KILN_OK) {
            fprintf(stderr, "random_dag: seed 0x%016" PRIx64 ": %s evaluation failed: %s: %s\n", seed,
                    MODE_NAME[m], kiln_status_name(s), kiln_errmsg(ctx));
            dump_graph(g, nroots, roots, os);
            ok = false;
        }
        for (int r = 0; r < nroots && s == KILN_OK; r++) {
            const dnode *d = &g->nodes[roots[r]];
            if (kiln_array_dtype(outs[r]) != d->dtype || kiln_array_rank(outs[r]) != d->rank ||
                memcmp(kiln_array_shape(outs[r]), d->shape, sizeof(int64_t) * (size_t)d->rank) != 0) {
                fprintf(stderr, "random_dag: seed 0x%016" PRIx64 ": %s output of root %%%d has the wrong dtype or shape\n",
                        seed, MODE_NAME[m], roots[r]);
                ok = false;
                continue;
            }
            int64_t n = shape_size(d->rank, d->shape);
            res[m][r] = xmalloc((size_t)n * kiln_dtype_size(d->dtype));
            gather(outs[r], res[m][r]);
        }
        for (int r = 0; r < nroots; r++) {
            kiln_array_release(outs[r]);
            free(mems[r]);
        }
        if (s != KILN_OK)
            break;
    }

    for (int r = 0; r < nroots && ok; r++) {
        const dnode *d = &g->nodes[roots[r]];
        bool inputs_exact = true;
        for (int j = 0; j < d->nin; j++)
            inputs_exact &= !g->nodes[d->in[j]].tainted;
        int tol;
        if (!d->tainted) {
            tol = -1;
            st->roots_exact++;
        } else if (d->approx && inputs_exact) {
            tol = 1 + (d->dtype == KILN_FLOAT64 ? gr_ops[d->op].ulp_f64 : gr_ops[d->op].ulp_f32);
            st->roots_approx++;
        } else {
            st->roots_unchecked++;
            continue;
        }
        int64_t n = shape_size(d->rank, d->shape);
        size_t sz = kiln_dtype_size(d->dtype);
        int shown = 0;
        for (int m = 1; m < 3; m++) {
            for (int64_t i = 0; i < n; i++) {
                st->elements++;
                if (same_value(d->dtype, res[0][r] + i * (int64_t)sz, res[m][r] + i * (int64_t)sz, tol))
                    continue;
                st->mismatches++;
                if (ok) {
                    fprintf(stderr, "random_dag: MISMATCH, seed 0x%016" PRIx64 ": root %%%d (%s, %s)\n",
                            seed, roots[r], kiln_dtype_name(d->dtype),
                            tol < 0 ? "exact" : "approximate");
                    dump_graph(g, nroots, roots, os);
                    ok = false;
                }
                if (shown++ < 8) {
                    char ib[96], a[64], b[64];
                    fmt_index(d->rank, d->shape, i, ib, sizeof ib);
                    fmt_value(d->dtype, res[0][r] + i * (int64_t)sz, a, sizeof a);
                    fmt_value(d->dtype, res[m][r] + i * (int64_t)sz, b, sizeof b);
                    fprintf(stderr, "    root %%%d%s: interp %s, %s %s%s\n", roots[r], ib, a,
                            MODE_NAME[m], b, tol >= 0 ? " (beyond the ulp bound)" : "");
                }
            }
        }
    }
    for (int m = 0; m < 3; m++)
        for (int r = 0; r < MAXROOT; r++)
            free(res[m][r]);

end:
    assert_int_equal(kiln_scope_end(ctx, scope), KILN_OK);
    uint64_t nodes_after = kiln_ctx_counter(ctx, KILN_COUNTER_NODES_LIVE);
    if (nodes_after != nodes_before) {
        fprintf(stderr, "random_dag: seed 0x%016" PRIx64 ": %" PRIu64 " live nodes before the scope, %" PRIu64 " after it ended\n",
                seed, nodes_before, nodes_after);
        ok = false;
    }
    for (int l = 0; l < g->nleaves; l++) {
        kiln_array_release(g->leaves[l].view);
        free(g->leaves[l].mem);
        free(g->leaves[l].snap);
    }
    if (!ok)
        st->bad_graphs++;
    free(g);
    return ok;
}

static uint64_t env_u64(const char *name, uint64_t dflt)
{
    const char *s = getenv(name);
    if (!s || !*s)
        return dflt;
    char *end;
    uint64_t v = strtoull(s, &end, 0);
    if (*end) {
        fprintf(stderr, "random_dag: ignoring %s=%s (not a number)\n", name, s);
        return dflt;
    }
    return v;
}

static void test_random_dags(void **state)
{
    (void)state;
    init_op_lists();
    uint64_t seed = env_u64("KILN_DIFF_SEED", DEFAULT_SEED);
    uint64_t count = env_u64("KILN_DIFF_COUNT", DEFAULT_COUNT);
    bool long_mode = getenv("KILN_DIFF_COUNT") != NULL;
    tu_alloc ta;
    tu_alloc_init(&ta, 0, false);
    kiln_ctx *ctx = kiln_ctx_new(&ta.a);
    assert_non_null(ctx);
    /* compiling dominates the run time: keep the per-node kernels of the
       unfused mode, which recur across graphs */
    assert_int_equal(kiln_ctx_set_cache_limit(ctx, 4096), KILN_OK);
    stats st;
    memset(&st, 0, sizeof st);
    long bad = 0;
    for (uint64_t i = 0; i < count; i++) {
        uint64_t gs = seed + i;
        if (!run_graph(ctx, gs, &st)) {
            bad++;
            fprintf(stderr, "random_dag: FAILED graph %" PRIu64 ", seed 0x%016" PRIx64 "\n", i, gs);
            if (bad >= 20 && !long_mode) {
                fprintf(stderr, "random_dag: stopping after 20 failing graphs\n");
                break;
            }
        }
        if (long_mode && (i + 1) % 1000 == 0)
            fprintf(stderr, "random_dag: %" PRIu64 " graphs, %ld failing\n", i + 1, bad);
    }
    uint64_t compiles = kiln_ctx_counter(ctx, KILN_COUNTER_COMPILES);
    uint64_t hits = kiln_ctx_counter(ctx, KILN_COUNTER_CACHE_HITS);
    double compile_s = (double)kiln_ctx_counter(ctx, KILN_COUNTER_COMPILE_NS) * 1e-9;
    uint64_t fallbacks = kiln_ctx_counter(ctx, KILN_COUNTER_FALLBACKS);
    uint64_t parallel = kiln_ctx_counter(ctx, KILN_COUNTER_PARALLEL_LAUNCHES);
    int threads = kiln_ctx_threads(ctx);
    kiln_ctx_free(ctx);
    printf("random_dag: %" PRIu64 " kernels compiled (%.1f s), %" PRIu64 " cache hits, %" PRIu64
           " interpreter fallbacks, %" PRIu64 " launches split over %d threads\n",
           compiles, compile_s, hits, fallbacks, parallel, threads);
    printf("random_dag: seed 0x%016" PRIx64 ", %ld graphs, %ld evaluations; roots compared exactly %ld, "
           "within ulp bounds %ld, not compared (downstream of approximate ops) %ld; %ld elements, "
           "%ld mismatches; %ld construction errors skipped (",
           seed, st.graphs, st.evals, st.roots_exact, st.roots_approx, st.roots_unchecked, st.elements,
           st.mismatches, st.build_errors);
    for (int s = 0; s < KILN_STATUS_COUNT; s++)
        if (st.err_by_status[s])
            printf(" %s %ld", kiln_status_name((kiln_status)s), st.err_by_status[s]);
    printf(" ); %ld outputs aliasing an input; %ld views refused; %ld failing graphs\n",
           st.aliased, st.refused_views, st.bad_graphs);
    assert_int_equal(ta.live, 0);
    assert_int_equal(bad, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_random_dags),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
