/*
 * tests/test_threads_pool.c — parallel launches and the buffer pool
 * (runtime/pool.c, runtime/kernel.c, runtime/bufpool.c):
 *   - results are the same bits at 1, 2 and 3 threads in every mode, for
 *     exact and approximate ops, strided / reversed / broadcast / transposed
 *     operands, and strided, reversed and Fortran-order outputs;
 *   - so are reductions and scans (graph/cost.c, runtime/reduce.c's
 *     rt_pw_tree_tasks): along every axis and axis set, C, Fortran,
 *     strided, reversed and transposed inputs, fused producers, siblings
 *     and epilogues, argmin/argmax with ties and NaNs, integer and float32
 *     reductions, scans, full reductions of lengths around the tree's task
 *     cut; and the same values in every mode (any NaN equal to any NaN);
 *   - FLAT reductions in blocks (rt_flat_tasks): the runtime function
 *     against the interpreter's argmax at lengths around the block and the
 *     group; every FLAT op and dtype through the JIT around the block
 *     size, with ties across blocks, signed zeros and NaNs in the first, a
 *     middle or the last block, empty and one-element arrays: the
 *     interpreter's bits and the answer from the definition at 1, 2 and 3
 *     threads, split exactly when the sequence has several blocks; past
 *     one group of blocks;
 *   - KILN_COUNTER_PARALLEL_LAUNCHES shows which launches split, per case:
 *     every elementwise kernel; in FUSED mode a reduction or scan over its
 *     outputs or as tree (block) tasks exactly when the grain and the
 *     cut allow;
 *   - small work runs inline: no launch is split, no thread is started, no
 *     calibration is run; big work is split exactly when the calibrated
 *     threshold says so;
 *   - an application's parallel-for is used when set (tree tasks and FLAT
 *     blocks included), and kiln then starts no thread;
 *   - several application threads launching on one context at once;
 *     changing the thread count while others evaluate;
 *   - the buffer pool reuses freed buffers (counters, same memory), keeps
 *     within its cap, returns memory when the cap drops and when the
 *     context goes, even with arrays outliving it;
 *   - every allocation failing in turn with the pool and threads active:
 *     KILN_ENOMEM or success, never a leak;
 *   - KILN_NUM_THREADS and kiln_ctx_set_threads arguments, good and bad.
 * Splitting is forced (the calibrated threshold set to 1 byte) where a test
 * needs it, so arrays stay small and the suite fast.
 */
#define _POSIX_C_SOURCE 200809L

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "testutil.h"

#include "frontend/fe.h"
#include "runtime/reduce.h"

#include <dirent.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static uint64_t cnt(kiln_ctx *ctx, kiln_counter c) { return kiln_ctx_counter(ctx, c); }

/* Every launch of 2 bytes or more is split (the floor and the calibrated
 * threshold set to 1, no recalibration due). */
static void force_split(kiln_ctx *ctx)
{
    atomic_store(&ctx->par.floor_cost, 1);
    atomic_store(&ctx->par.min_cost, 1);
    atomic_store(&ctx->par.recal_at, 0);
}

static int process_threads(void)
{
    DIR *d = opendir("/proc/self/task");
    if (!d)
        return -1;
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d)))
        if (de->d_name[0] != '.')
            n++;
    closedir(d);
    return n;
}

/* The process's thread count once it settles at want (at most ~2 s): a
 * joined thread can still be listed for a moment after pthread_join
 * returns, until the kernel has released it. */
static int threads_settle(int want)
{
    int n = process_threads();
    for (int i = 0; i < 2000 && n != want; i++) {
        nanosleep(&(struct timespec){0, 1000000}, NULL);
        n = process_threads();
    }
    return n;
}

/* ---- inputs --------------------------------------------------------------- */

enum {
    N1 = 20011, R = 67, C = 301,
    /* reductions: a long vector past the tree's deepest cut, a wide matrix
     * of more columns than 2 grains, a tall narrow one, a 3-D array */
    NX = (RT_TREE_TASK << RT_TREE_DEPTH) * 2 + 77,
    WR = 40, WC = 2600, NR = 40000, NC = 5, D0 = 13, D1 = 17, D2 = 300
};

static const char *const INPUT_NAMES[] = {"x",  "y",  "A",  "B", "r", "c",  "ia", "ib", "xl",
                                          "xf", "xn", "W",  "F", "Wn", "I", "Wf", "N",  "D"};
enum { NINPUTS = sizeof INPUT_NAMES / sizeof *INPUT_NAMES };

typedef struct inputs {
    kiln_array *a[NINPUTS];
} inputs;

static kiln_array *filled_in(kiln_ctx *ctx, kiln_dtype t, int rank, const int64_t *shape,
                             kiln_order order, double (*f)(int64_t))
{
    kiln_array *a = NULL;
    assert_int_equal(kiln_array_empty(ctx, t, rank, shape, order, &a), KILN_OK);
    int64_t n = kiln_array_size(a);
    for (int64_t i = 0; i < n; i++) {
        double v = f(i);
        if (t == KILN_FLOAT64)
            ((double *)kiln_array_data(a))[i] = v;
        else if (t == KILN_FLOAT32)
            ((float *)kiln_array_data(a))[i] = (float)v;
        else
            ((int32_t *)kiln_array_data(a))[i] = (int32_t)v;
    }
    return a;
}

static kiln_array *filled(kiln_ctx *ctx, kiln_dtype t, int rank, const int64_t *shape,
                          double (*f)(int64_t))
{
    return filled_in(ctx, t, rank, shape, KILN_ORDER_C, f);
}

static double f_x(int64_t i) { return sin((double)i * 0.37) * 3.0 + 0.01 * (double)(i % 17); }
static double f_y(int64_t i) { return cos((double)i * 0.11) * 2.5 - 0.5; }
static double f_int(int64_t i) { return (double)((i * 7919) % 20001 - 10000); }
static double f_intb(int64_t i) { return (double)(i % 23 - 11); }
/* few distinct values: ties for argmin/argmax */
static double f_ties(int64_t i) { return (double)((i * 7919) % 13) - 6.0; }
/* ties, signed zeros and a NaN of either sign now and then */
static double f_nan(int64_t i)
{
    if (i % 997 == 401 || i % 1301 == 7)
        return i % 2 ? NAN : -NAN;
    if (i % 11 == 3)
        return i % 2 ? 0.0 : -0.0;
    return f_ties(i);
}

static inputs make_inputs(kiln_ctx *ctx)
{
    inputs in;
    int64_t n = N1, a[2] = {R, C}, b[2] = {C, R}, rs = C, cs[2] = {R, 1};
    int64_t nx = NX, w[2] = {WR, WC}, tall[2] = {NR, NC}, d[3] = {D0, D1, D2};
    const kiln_order co = KILN_ORDER_C;
    int i = 0;
    in.a[i++] = filled(ctx, KILN_FLOAT64, 1, &n, f_x);
    in.a[i++] = filled(ctx, KILN_FLOAT64, 1, &n, f_y);
    in.a[i++] = filled(ctx, KILN_FLOAT64, 2, a, f_x);
    in.a[i++] = filled(ctx, KILN_FLOAT64, 2, b, f_y);
    in.a[i++] = filled(ctx, KILN_FLOAT64, 1, &rs, f_y);
    in.a[i++] = filled(ctx, KILN_FLOAT64, 2, cs, f_x);
    in.a[i++] = filled(ctx, KILN_INT32, 1, &n, f_int);
    in.a[i++] = filled(ctx, KILN_INT32, 1, &n, f_intb);
    in.a[i++] = filled_in(ctx, KILN_FLOAT64, 1, &nx, co, f_x);           /* xl */
    in.a[i++] = filled_in(ctx, KILN_FLOAT32, 1, &nx, co, f_x);           /* xf */
    in.a[i++] = filled_in(ctx, KILN_FLOAT64, 1, &nx, co, f_nan);         /* xn */
    in.a[i++] = filled_in(ctx, KILN_FLOAT64, 2, w, co, f_x);             /* W */
    in.a[i++] = filled_in(ctx, KILN_FLOAT64, 2, w, KILN_ORDER_F, f_x);   /* F */
    in.a[i++] = filled_in(ctx, KILN_FLOAT64, 2, w, co, f_nan);           /* Wn */
    in.a[i++] = filled_in(ctx, KILN_INT32, 2, w, co, f_ties);            /* I */
    in.a[i++] = filled_in(ctx, KILN_FLOAT32, 2, w, co, f_x);             /* Wf */
    in.a[i++] = filled_in(ctx, KILN_FLOAT64, 2, tall, co, f_x);          /* N */
    in.a[i++] = filled_in(ctx, KILN_FLOAT64, 3, d, co, f_x);             /* D */
    assert_int_equal(i, NINPUTS);
    return in;
}

static void free_inputs(inputs *in)
{
    for (int i = 0; i < NINPUTS; i++)
        kiln_array_release(in->a[i]);
}

/* ---- cases ------------------------------------------------------------------ */

typedef enum out_kind {
    OUT_FRESH,    /* kiln allocates the result */
    OUT_REVERSED, /* into base[::-1] of a 1-D base of the result's length */
    OUT_STRIDED,  /* into base[:, ::2] of an (R, 2C) base */
    OUT_FORDER    /* into a Fortran-order (R, C) array */
} out_kind;

/* Which launches of a case run on the threads (at 2 and 3 threads, the
 * threshold forced down) in FUSED mode: some (SPLIT_ALL: in UNFUSED mode
 * too; SPLIT_FUSED_3: at 3 threads only — a line's scan blocks), or none.
 * UNFUSED plans other kernels (a reduction over its materialized
 * producer, the producer apart): beyond SPLIT_ALL, whether a case splits
 * there is not checked, only its bits. */
typedef enum split_kind { SPLIT_ALL, SPLIT_FUSED, SPLIT_FUSED_3, SPLIT_NONE } split_kind;

typedef struct tcase {
    const char *src;
    out_kind out;
    bool exact; /* exactly rounded ops only: the same values in every mode */
    split_kind split;
    bool anynan; /* a sum, product or blocked scan of NaNs: which NaN comes
                    out is the hardware's (runtime/reduce.h), so NaNs
                    compare equal across thread counts too */
} tcase;

static const tcase CASES[] = {
    {"x*2.0 + 1.0", OUT_FRESH, true, SPLIT_ALL, false},
    {"sin(x)*y + exp(-x*0.25)", OUT_FRESH, false, SPLIT_ALL, false},
    {"where(x > y, x, y) / (1.0 + x*x)", OUT_REVERSED, true, SPLIT_ALL, false},
    {"sqrt(abs(x[::-1])) - y", OUT_FRESH, true, SPLIT_ALL, false},
    {"x[::2] * y[::2] + log1p(abs(x[::2]))", OUT_FRESH, false, SPLIT_ALL, false},
    {"A * r + c", OUT_FRESH, true, SPLIT_ALL, false},
    {"A + B.T * 2.0", OUT_STRIDED, true, SPLIT_ALL, false},
    {"tanh(A[::-1, ::2]) * c", OUT_FRESH, false, SPLIT_ALL, false},
    {"exp(A * 0.001) - c", OUT_FORDER, false, SPLIT_ALL, false},
    {"ia * 3 + ib // 7 - (ia % ib)", OUT_FRESH, true, SPLIT_ALL, false},
};
enum { NCASES = sizeof CASES / sizeof *CASES };

/* Reductions and scans. A kept dim splits at multiples of its grain
 * (graph/cost.h: along an OUTER kernel's column dim 64, or 1024 with a
 * libm function in the body), a full
 * reduction's float trees as tasks from 2 * RT_TREE_TASK elements. */
#define RC(src, split) {src, OUT_FRESH, true, split, false}
#define RC_NAN(src, split) {src, OUT_FRESH, true, split, true}
#define RC_APPROX(src) {src, OUT_FRESH, false, SPLIT_FUSED, false}
static const tcase RCASES[] = {
    /* over the outputs: rows (INNER) and columns (OUTER), C and F order */
    RC("sum(W, axis=0)", SPLIT_FUSED),
    RC("sum(W, axis=1)", SPLIT_FUSED),
    RC("sum(W, axis=1, keepdims=True)", SPLIT_FUSED),
    RC("mean(W*W - 1.0, axis=0)", SPLIT_FUSED),
    RC("std(W, axis=0)", SPLIT_FUSED),
    RC("var(W, axis=1, ddof=1)", SPLIT_FUSED),
    RC("prod(W*0.01 + 1.0, axis=0)", SPLIT_FUSED),
    RC("sum(F, axis=0)", SPLIT_FUSED),
    RC("mean(F.T, axis=1)", SPLIT_FUSED),
    RC("sum(W[::-1, ::2], axis=0)", SPLIT_FUSED),
    RC("sum(W.T[::3], axis=1)", SPLIT_FUSED), /* 867 columns: 14 grains */
    /* a libm function: chunks of columns start where they do unsplit (a
     * grain of the widest chunk), as libmvec may round otherwise */
    {"sum(sin(W.T[::3]), axis=1)", OUT_FRESH, false, SPLIT_NONE, false}, /* under one grain */
    RC("sum(Wf, axis=0)", SPLIT_FUSED),
    RC("mean(Wf, axis=1)", SPLIT_FUSED),
    RC("sum(D, axis=(0, 2))", SPLIT_FUSED),
    RC("sum(D, axis=1)", SPLIT_FUSED),
    RC("mean(D, axis=(1, 2))", SPLIT_FUSED),
    RC("std(D, axis=0)", SPLIT_FUSED),
    RC("sum(D[:, ::-1, 1::2], axis=(0, 2))", SPLIT_FUSED),
    RC("sum(D[:, ::-1, 1::2], axis=(0, 1))", SPLIT_FUSED), /* 150 columns: 3 grains */
    RC("sum(D[:, ::-1, 1:40], axis=(0, 1))", SPLIT_NONE),  /* 39 columns: under one */
    /* approximate producers: each output in the same vector or scalar
     * code at any split (the grain) */
    RC_APPROX("sum(sin(W), axis=0)"),
    RC_APPROX("mean(exp(D*0.01), axis=(0, 2))"),
    RC_APPROX("sum(sin(N), axis=1)"),
    RC_APPROX("cumsum(tanh(W), axis=0)"),
    RC_APPROX("argmin(sin(W), axis=1)"),
    /* siblings and epilogues */
    RC("sqrt(sum(W*W, axis=0))", SPLIT_FUSED),
    RC("(W - mean(W, axis=0)) / std(W, axis=0)", SPLIT_ALL),
    RC("sum(W, axis=1) + max(W, axis=1) * 2.0 - mean(W, axis=1)", SPLIT_FUSED),
    /* FLAT reductions over the outputs: ties, signed zeros and NaNs */
    RC("argmax(I, axis=0)", SPLIT_FUSED),
    RC("argmin(I, axis=1)", SPLIT_FUSED),
    RC("argmax(Wn, axis=0)", SPLIT_FUSED),
    RC("argmin(Wn, axis=1)", SPLIT_FUSED),
    RC("argmin(Wn.T, axis=0)", SPLIT_FUSED),
    RC("max(Wn, axis=0)", SPLIT_FUSED),
    RC("min(Wn, axis=1)", SPLIT_FUSED),
    RC_NAN("sum(Wn, axis=0)", SPLIT_FUSED),
    RC("sum(I, axis=1)", SPLIT_FUSED),
    RC("count_nonzero(Wn, axis=0)", SPLIT_FUSED),
    RC("any(Wn > 5.0, axis=1)", SPLIT_FUSED),
    /* tall and narrow: 5 outputs, trees of 40000 cut into 2 tasks */
    RC("mean(N, axis=0)", SPLIT_FUSED),
    RC("(N - mean(N, axis=0)) / std(N, axis=0)", SPLIT_ALL),
    RC("sum(N, axis=1)", SPLIT_FUSED),
    /* full reductions: tree tasks */
    RC("sum(W)", SPLIT_FUSED),
    RC("sum(F)", SPLIT_FUSED),
    RC("sum(N)", SPLIT_FUSED),
    RC("mean(D)", SPLIT_FUSED),
    RC("sum(xl*xl)", SPLIT_FUSED),
    RC("var(xl)", SPLIT_FUSED),
    RC("std(xl[::-3])", SPLIT_FUSED),
    RC("sum(xf)", SPLIT_FUSED),
    RC("prod(xl*0.001 + 1.0)", SPLIT_FUSED),
    RC_NAN("sum(xn)", SPLIT_FUSED),
    /* full FLAT reductions: their blocks as tasks (runtime/reduce.h,
     * rt_flat_tasks), from RT_FLAT_BLOCK + 1 elements */
    RC("max(xn)", SPLIT_FUSED),
    RC("argmax(xn)", SPLIT_FUSED),
    RC("argmin(xl[1000:] * 0.0)", SPLIT_FUSED),
    RC("argmax(xl[::-1] * -1.0)", SPLIT_FUSED),
    RC("argmin(xf)", SPLIT_FUSED),
    RC("sum(I)", SPLIT_FUSED),
    RC("min(xn[::-1]) + max(xn) * 2.0 - argmin(xn)", SPLIT_FUSED), /* siblings, one pass */
    /* TREE and FLAT siblings: the trees' pass, then the FLAT one */
    RC("sum(xl) + max(xl) - min(xf)", SPLIT_FUSED),
    RC("var(xl) + argmax(xl) + min(xl)", SPLIT_FUSED),
    RC_NAN("mean(xn) + argmin(xn) + max(xn) + all(xn)", SPLIT_FUSED),
    RC_NAN("sum(c[:2] * xn, axis=1) + argmin(c[:2] * xn, axis=1)", SPLIT_FUSED),
    RC("sum(xl[:1000]*2.0) + max(xl[:1000]*2.0) + count_nonzero(xl[:1000] > 0.5)", SPLIT_NONE),
    RC("sum(xl[:5]) + argmax(xl[:5]) - min(xl[:5])", SPLIT_NONE), /* n < 8: inline */
    RC("count_nonzero(xn) + sum(xn > 0.0) + any(xn < -5.5)", SPLIT_FUSED),
    RC("all(xl[:30000] > -4.0) + prod(ia % 3 + 1)", SPLIT_NONE), /* one block each */
    RC_APPROX("max(sin(xl)) + argmax(exp(xf * 0.1))"),
    RC("sqrt(max(xl*xl)) * 2.0", SPLIT_FUSED), /* an epilogue */
    RC("argmax(xl) * 3 - 1", SPLIT_FUSED),
    RC("max(I, axis=1)", SPLIT_FUSED), /* 40 rows: over the outputs */
    RC("argmax(c[:2] * xn, axis=1)", SPLIT_FUSED), /* 2 rows of NX: their blocks */
    RC("min(c[:3] + xn[::-1], axis=1)", SPLIT_FUSED),
    /* OUTER (5 columns side by side, under one grain): one thread */
    RC("argmax(N.T, axis=1)", SPLIT_NONE),
    RC("min(N, axis=0)", SPLIT_NONE),
    /* scans over their lines */
    RC("cumsum(W, axis=0)", SPLIT_FUSED),
    RC("cumsum(W, axis=1)", SPLIT_FUSED),
    RC("cumprod(W*0.01 + 1.0, axis=1)", SPLIT_FUSED),
    RC("cummax(Wn, axis=0)", SPLIT_FUSED),
    RC("cummin(Wn.T, axis=1)", SPLIT_FUSED),
    RC("cumsum(F, axis=1) / 3.0", SPLIT_FUSED),
    RC("cumsum(I, axis=0)", SPLIT_FUSED),
    RC("cumsum(D, axis=2)", SPLIT_FUSED),
    /* one line: its 4096-element blocks as tasks from 2 * RT_TREE_TASK,
     * with 3 threads or more */
    RC("cumsum(xl)", SPLIT_FUSED_3),
    RC("cumprod(xl*0.001 + 1.0)", SPLIT_FUSED_3),
    RC("cumsum(xf[::-1]) / 2.0", SPLIT_FUSED_3),
    RC_NAN("cumsum(xn)", SPLIT_FUSED_3),
    RC("cumsum(xl[:40000])", SPLIT_FUSED_3),
    RC("cumsum(xl[:30000])", SPLIT_NONE),
    RC("cummax(xn)", SPLIT_NONE), /* not blocked: one pass */
    RC("cumsum(N, axis=0)", SPLIT_NONE), /* 5 lines side by side */
};
#undef RC
#undef RC_NAN
#undef RC_APPROX
enum { NRCASES = sizeof RCASES / sizeof *RCASES };

/* Full reductions of lengths around each cut of the tree into tasks:
 * RT_TREE_TASK x 2^d, give or take a little, and past the deepest cut. */
static const int64_t TREE_LENS[] = {
    2 * RT_TREE_TASK - 1, 2 * RT_TREE_TASK,     2 * RT_TREE_TASK + 8,
    4 * RT_TREE_TASK - 1, 4 * RT_TREE_TASK,     8 * RT_TREE_TASK + 5,
    16 * RT_TREE_TASK - 8, 16 * RT_TREE_TASK,   32 * RT_TREE_TASK + 13,
};
enum { NLENS = sizeof TREE_LENS / sizeof *TREE_LENS };
static const char *const TREE_OPS[] = {"sum(xl[:%lld])", "mean(xl[:%lld]*2.0 + 1.0)",
                                       "std(xl[:%lld])", "sum(xf[:%lld])"};
enum { NTREE_OPS = sizeof TREE_OPS / sizeof *TREE_OPS };

/* Evaluates e into the output tc asks for and returns the bytes the
 * evaluation leaves: the result, or the whole base array it was written
 * into (untouched gaps included). Caller frees. NULL on any failure, with
 * no cmocka assertion: application threads call this too, and a cmocka
 * failure must only ever be raised on the test's own thread. */
static unsigned char *eval_case(kiln_ctx *ctx, kiln_expr e, const tcase *tc, kiln_mode mode,
                                size_t *len)
{
    kiln_array *base = NULL, *out = NULL;
    int64_t shape[KILN_MAX_RANK];
    int rank = kiln_expr_rank(e);
    kiln_dtype t = kiln_expr_dtype(e);
    if (rank < 0 || kiln_expr_shape(e, shape) != KILN_OK)
        return NULL;
    kiln_status s = KILN_OK;
    if (tc->out == OUT_REVERSED) {
        s = kiln_array_empty(ctx, t, rank, shape, KILN_ORDER_C, &base);
        kiln_slice sl = {KILN_END, KILN_END, -1};
        if (s == KILN_OK)
            s = kiln_array_slice(base, 1, &sl, &out);
    } else if (tc->out == OUT_STRIDED) {
        int64_t bs[2] = {shape[0], 2 * shape[1]};
        s = kiln_array_empty(ctx, t, 2, bs, KILN_ORDER_C, &base);
        kiln_slice sl[2] = {KILN_ALL, {KILN_END, KILN_END, 2}};
        if (s == KILN_OK)
            s = kiln_array_slice(base, 2, sl, &out);
    } else if (tc->out == OUT_FORDER) {
        s = kiln_array_empty(ctx, t, rank, shape, KILN_ORDER_F, &base);
        if (s == KILN_OK) {
            kiln_array_retain(base);
            out = base;
        }
    }
    if (s == KILN_OK && base)
        memset(kiln_array_data(base), 0x5a, (size_t)kiln_array_size(base) * kiln_dtype_size(t));
    if (s == KILN_OK)
        s = kiln_eval_many(ctx, mode, 1, &e, &out);
    unsigned char *bytes = NULL;
    if (s == KILN_OK) {
        kiln_array *keep = base ? base : out;
        *len = (size_t)kiln_array_size(keep) * kiln_dtype_size(t);
        bytes = malloc(*len ? *len : 1);
        if (bytes)
            memcpy(bytes, kiln_array_data(keep), *len);
    }
    kiln_array_release(out);
    kiln_array_release(base);
    return bytes;
}

static kiln_expr parse_case(kiln_ctx *ctx, const inputs *in, const tcase *tc)
{
    kiln_expr e = kiln_parse(ctx, tc->src, NINPUTS, INPUT_NAMES, in->a);
    if (kiln_expr_status(e) != KILN_OK)
        fail_msg("%s: %s", tc->src, kiln_errmsg(ctx));
    return e;
}

/* Builds the case's expression in a scope of its own and evaluates it. */
static unsigned char *run_case(kiln_ctx *ctx, const inputs *in, const tcase *tc, kiln_mode mode,
                               size_t *len)
{
    uint64_t scope = kiln_scope_begin(ctx);
    kiln_expr e = parse_case(ctx, in, tc);
    unsigned char *bytes = eval_case(ctx, e, tc, mode, len);
    if (!bytes)
        fail_msg("%s: %s", tc->src, kiln_errmsg(ctx));
    assert_int_equal(kiln_scope_end(ctx, scope), KILN_OK);
    return bytes;
}

/* Case c of a list for the same-bits driver into *tc (a source text made
 * up goes into buf). */
typedef void (*case_fn)(int c, tcase *tc, char *buf, size_t cap);

static void elementwise_case(int c, tcase *tc, char *buf, size_t cap)
{
    (void)buf;
    (void)cap;
    *tc = CASES[c];
}

/* RCASES, then each of TREE_OPS at each of TREE_LENS. */
static void reduce_case(int c, tcase *tc, char *buf, size_t cap)
{
    if (c < NRCASES) {
        *tc = RCASES[c];
        return;
    }
    c -= NRCASES;
    int64_t n = TREE_LENS[c / NTREE_OPS];
    snprintf(buf, cap, TREE_OPS[c % NTREE_OPS], (long long)n);
    *tc = (tcase){buf, OUT_FRESH, true, rt_pw_tree_depth(n) > 0 ? SPLIT_FUSED : SPLIT_NONE, false};
}

static kiln_dtype case_dtype(kiln_ctx *ctx, const inputs *in, const tcase *tc)
{
    uint64_t scope = kiln_scope_begin(ctx);
    kiln_dtype t = kiln_expr_dtype(parse_case(ctx, in, tc));
    assert_int_equal(kiln_scope_end(ctx, scope), KILN_OK);
    return t;
}

/* a[0..len) and b[0..len), elements of dtype t, are equal bits or (float)
 * both NaN: which NaN a sum of NaNs gives is the hardware's. */
static bool same_values(kiln_dtype t, const unsigned char *a, const unsigned char *b, size_t len)
{
    size_t sz = kiln_dtype_size(t);
    for (size_t i = 0; i < len; i += sz) {
        if (memcmp(a + i, b + i, sz) == 0)
            continue;
        double u, v;
        if (t == KILN_FLOAT64) {
            memcpy(&u, a + i, 8);
            memcpy(&v, b + i, 8);
        } else if (t == KILN_FLOAT32) {
            float uf, vf;
            memcpy(&uf, a + i, 4);
            memcpy(&vf, b + i, 4);
            u = uf;
            v = vf;
        } else {
            return false;
        }
        if (!isnan(u) || !isnan(v))
            return false;
    }
    return true;
}

/* Cases [0, n) of get at 1, 2 and 3 threads in every mode, splitting
 * forced: the same bits at every thread count; the launches that split
 * (tcase.split; none at 1 thread or interpreted); exact cases the same
 * values in every mode. */
static void same_bits(int n, case_fn get)
{
    kiln_ctx *ctx = kiln_ctx_new(NULL);
    assert_non_null(ctx);
    inputs in = make_inputs(ctx);
    const kiln_mode modes[] = {KILN_MODE_FUSED, KILN_MODE_UNFUSED, KILN_MODE_INTERP};
    unsigned char **ref = calloc((size_t)n * 3, sizeof *ref);
    size_t *reflen = calloc((size_t)n * 3, sizeof *reflen);
    assert_true(ref && reflen);
    char buf[128];
    tcase tc;
    for (int threads = 1; threads <= 3; threads++) {
        assert_int_equal(kiln_ctx_set_threads(ctx, threads), KILN_OK);
        assert_int_equal(kiln_ctx_threads(ctx), threads);
        force_split(ctx);
        for (int m = 0; m < 3; m++) {
            for (int c = 0; c < n; c++) {
                get(c, &tc, buf, sizeof buf);
                kiln_ctx_reset_counters(ctx);
                size_t len;
                unsigned char *b = run_case(ctx, &in, &tc, modes[m], &len);
                bool split = cnt(ctx, KILN_COUNTER_PARALLEL_LAUNCHES) > 0;
                bool want = threads > 1 && (modes[m] == KILN_MODE_FUSED
                                                ? tc.split != SPLIT_NONE &&
                                                      (tc.split != SPLIT_FUSED_3 || threads >= 3)
                                            : modes[m] == KILN_MODE_UNFUSED ? tc.split == SPLIT_ALL
                                                                            : false);
                /* UNFUSED: not checked beyond SPLIT_ALL (see split_kind) */
                if (split && !want && modes[m] == KILN_MODE_UNFUSED && tc.split != SPLIT_ALL)
                    want = true;
                if (split != want)
                    fail_msg("%s, mode %d, %d threads: %s", tc.src, (int)modes[m], threads,
                             split ? "split" : "not split");
                if (threads == 1) {
                    ref[m * n + c] = b;
                    reflen[m * n + c] = len;
                    continue;
                }
                assert_int_equal(len, reflen[m * n + c]);
                if (memcmp(b, ref[m * n + c], len) != 0 &&
                    !(tc.anynan && same_values(case_dtype(ctx, &in, &tc), b, ref[m * n + c], len)))
                    fail_msg("%s, mode %d: %d threads differ from 1", tc.src, (int)modes[m],
                             threads);
                free(b);
            }
        }
        if (threads > 1)
            assert_int_equal(rt_par_workers(&ctx->par), threads - 1);
    }
    for (int c = 0; c < n; c++) {
        get(c, &tc, buf, sizeof buf);
        kiln_dtype t = case_dtype(ctx, &in, &tc);
        for (int m = 1; m < 3 && tc.exact; m++)
            if (!same_values(t, ref[c], ref[m * n + c], reflen[c]))
                fail_msg("%s: mode %d differs from fused", tc.src, (int)modes[m]);
    }
    for (int i = 0; i < 3 * n; i++)
        free(ref[i]);
    free(ref);
    free(reflen);
    free_inputs(&in);
    kiln_ctx_free(ctx);
}

static void test_same_bits_at_any_thread_count(void **state)
{
    (void)state;
    same_bits(NCASES, elementwise_case);
}

static void test_reductions_same_bits(void **state)
{
    (void)state;
    same_bits(NRCASES + NLENS * NTREE_OPS, reduce_case);
}

/* ---- the tree's cut and the scan's blocks as tasks ------------------------------- */

/* rt_pw_tree_tasks against rt_pw_add_f64's tree (runtime/reduce.h's PW),
 * through a leaf and a combine written here, at every length around the
 * cuts, without threads and with 3. */
static void t_leaf(void *ctx, int64_t s0, int64_t len, void *out)
{
    double r = rt_pw_add_f64((const char *)((const double *)ctx + s0), len, 8);
    memcpy(out, &r, 8);
}

static void t_comb(void *ctx, void *acc, const void *right)
{
    (void)ctx;
    double a, b;
    memcpy(&a, acc, 8);
    memcpy(&b, right, 8);
    a = a + b;
    memcpy(acc, &a, 8);
}

static void test_tree_cut(void **state)
{
    (void)state;
    assert_int_equal(rt_pw_tree_depth(0), 0);
    assert_int_equal(rt_pw_tree_depth(2 * RT_TREE_TASK - 1), 0);
    assert_int_equal(rt_pw_tree_depth(2 * RT_TREE_TASK), 1);
    assert_int_equal(rt_pw_tree_depth(4 * RT_TREE_TASK - 1), 1);
    assert_int_equal(rt_pw_tree_depth(4 * RT_TREE_TASK), 2);
    assert_int_equal(rt_pw_tree_depth((int64_t)RT_TREE_TASK << RT_TREE_DEPTH), RT_TREE_DEPTH);
    assert_int_equal(rt_pw_tree_depth(INT64_MAX), RT_TREE_DEPTH);
    rt_par par;
    assert_true(rt_par_init(&par, 3));
    int64_t nmax = TREE_LENS[NLENS - 1];
    double *x = malloc((size_t)nmax * sizeof *x);
    assert_non_null(x);
    for (int64_t i = 0; i < nmax; i++)
        x[i] = f_x(i) * (1.0 + 1e-3 * (double)(i % 101));
    /* the scratch a tree of n takes on one thread: a partial per level,
     * none for narrow partials (kept in the tree's own frames) */
    rt_trees one = {rt_pw_tree_tasks, rt_scan_tasks, rt_pw_tree_scratch, rt_flat_tasks, NULL, 0};
    const int64_t P = RT_TREE_PARTIAL;
    assert_int_equal(rt_pw_tree_scratch(&one, 1, P), 0);
    assert_int_equal(rt_pw_tree_scratch(&one, RT_PW_BLOCK, P), 0);
    assert_int_equal(rt_pw_tree_scratch(&one, RT_PW_BLOCK + 1, P), P);
    assert_int_equal(rt_pw_tree_scratch(&one, 2 * RT_PW_BLOCK, P), P);
    assert_int_equal(rt_pw_tree_scratch(&one, 2 * RT_PW_BLOCK + 1, P), 2 * P);
    assert_int_equal(rt_pw_tree_scratch(&one, 2 * RT_PW_BLOCK + 1, 8), 0);
    for (int l = 0; l < NLENS; l++) {
        int64_t n = TREE_LENS[l];
        double want = rt_pw_add_f64((const char *)x, n, 8), got;
        /* partials of 8 bytes (the tree's own frames hold them), of 1 KB
         * (the caller's scratch, tasks' too), and as wide as the JIT's
         * widest, whose tasks would pass RT_TREE_SCRATCH: the tree then
         * runs whole */
        const int64_t widths[] = {8, 1024, RT_TREE_PARTIAL};
        for (int w = 0; w < 3; w++) {
            for (int with = 0; with < 2; with++) {
                rt_trees t = {rt_pw_tree_tasks, rt_scan_tasks, rt_pw_tree_scratch, rt_flat_tasks,
                              with ? &par : NULL, 0};
                int64_t pbytes = widths[w];
                int64_t bytes = rt_pw_tree_scratch(&t, n, pbytes);
                unsigned char *scratch = malloc((size_t)bytes + 1), *out = malloc((size_t)pbytes);
                assert_true(scratch && out);
                rt_pw_tree_tasks(&t, t_leaf, t_comb, x, n, out, pbytes, scratch);
                memcpy(&got, out, 8);
                if (memcmp(&got, &want, 8) != 0)
                    fail_msg("n %lld, threads %d, partial %lld: %.17g vs %.17g", (long long)n, with,
                             (long long)pbytes, got, want);
                int d = rt_pw_tree_depth(n);
                bool tasks = with && d > 0 && pbytes < RT_TREE_PARTIAL;
                assert_int_equal(t.tasks, tasks ? (int64_t)1 << d : 0);
                if (pbytes == 8)
                    assert_int_equal(bytes, 0);
                else if (!tasks) /* a partial per level */
                    assert_int_equal(bytes, rt_pw_tree_scratch(&one, n, pbytes));
                else /* the tasks' results and their levels: more */
                    assert_true(bytes > rt_pw_tree_scratch(&one, n, pbytes));
                free(scratch);
                free(out);
            }
        }
    }
    free(x);
    rt_par_fini(&par);
}

/* rt_scan_tasks against rt_scan_sum (runtime/reduce.h's block scan)
 * through a block function written here, around the group of 256 blocks
 * and the smallest length taken. */
typedef struct s_line {
    const double *x;
    double *y;
} s_line;

static void s_blk(void *ctx, int64_t b0, int64_t b1, const void *carry, void *total, int64_t write)
{
    const s_line *L = ctx;
    double c = 0, l = 0;
    if (carry)
        memcpy(&c, carry, 8);
    for (int64_t i = b0; i < b1; i++) {
        l = i == b0 ? L->x[i] : l + L->x[i];
        if (write)
            L->y[i] = carry ? c + l : l;
    }
    double t = carry ? c + l : l;
    memcpy(total, &t, 8);
}

static void test_scan_blocks(void **state)
{
    (void)state;
    rt_par par;
    assert_true(rt_par_init(&par, 3));
    const int64_t lens[] = {2 * RT_TREE_TASK - 1, 2 * RT_TREE_TASK, 256 * RT_SCAN_BLOCK,
                            256 * RT_SCAN_BLOCK + 1, 600 * RT_SCAN_BLOCK - 3};
    int64_t nmax = lens[4];
    double *x = malloc((size_t)nmax * sizeof *x), *y = malloc((size_t)nmax * sizeof *y);
    double *want = malloc((size_t)nmax * sizeof *want);
    assert_true(x && y && want);
    for (int64_t i = 0; i < nmax; i++)
        x[i] = f_x(i) * (1.0 + 1e-3 * (double)(i % 101));
    s_line line = {x, y};
    for (size_t l = 0; l < sizeof lens / sizeof *lens; l++) {
        int64_t n = lens[l];
        rt_scan_sum(KILN_FLOAT64, (const char *)x, 8, (char *)want, 8, n);
        rt_trees t = {rt_pw_tree_tasks, rt_scan_tasks, rt_pw_tree_scratch, rt_flat_tasks, &par, 0};
        memset(y, 0, (size_t)n * sizeof *y);
        bool took = rt_scan_tasks(&t, s_blk, t_comb, &line, n);
        assert_int_equal(took, n >= 2 * RT_TREE_TASK);
        if (took && memcmp(y, want, (size_t)n * sizeof *y) != 0)
            fail_msg("n %lld: the block scan over threads differs", (long long)n);
        t.par = NULL;
        assert_false(rt_scan_tasks(&t, s_blk, t_comb, &line, n));
    }
    free(x);
    free(y);
    free(want);
    rt_par_fini(&par);
}

/* ---- FLAT reductions in blocks ------------------------------------------------ */

/* rt_flat_tasks against rt_reduce_argmax (the interpreter's) through a
 * block and a combine written here with runtime/reduce.h's rule, at
 * lengths around the block and the group of blocks, ties across blocks
 * and groups and NaNs in later blocks, without threads and with 3: the
 * same index, every position in exactly one block, the tasks per group. */
typedef struct f_seq {
    const double *x;
    atomic_llong covered; /* positions the blocks were given */
} f_seq;

static void f_blk(void *ctx, int64_t s0, int64_t len, void *part)
{
    f_seq *S = ctx;
    int64_t i;
    rt_reduce_argmax(KILN_FLOAT64, (const char *)(S->x + s0), len, 8, &i);
    atomic_fetch_add(&S->covered, len);
    double v = S->x[s0 + i];
    i += s0;
    memcpy(part, &v, 8);
    memcpy((char *)part + 8, &i, 8);
}

static void f_comb(void *ctx, void *acc, const void *right)
{
    (void)ctx;
    double a, b;
    memcpy(&a, acc, 8);
    memcpy(&b, right, 8);
    if (!isnan(a) && (isnan(b) || b > a)) /* a tie keeps the earlier block's */
        memcpy(acc, right, 16);
}

static void test_flat_tasks(void **state)
{
    (void)state;
    enum { B = RT_FLAT_BLOCK, G = RT_FLAT_GROUP };
    assert_int_equal(rt_flat_blocks(0), 1);
    assert_int_equal(rt_flat_blocks(B), 1);
    assert_int_equal(rt_flat_blocks(B + 1), 2);
    assert_int_equal(rt_flat_blocks(3 * (int64_t)B), 3);
    rt_par par;
    assert_true(rt_par_init(&par, 3));
    const int64_t lens[] = {1, B, B + 1, 2 * B, 3 * B + 5, (int64_t)G * B, (int64_t)G * B + 1,
                            (int64_t)(G + 2) * B + 7};
    int64_t nmax = lens[sizeof lens / sizeof *lens - 1];
    double *x = malloc((size_t)nmax * sizeof *x);
    assert_non_null(x);
    for (int nan = 0; nan < 2; nan++) {
        for (int64_t i = 0; i < nmax; i++)
            x[i] = f_ties(i);
        /* the maximum 9 first in block 2, again in block 3 and in the
         * second group; NaNs in block 3, then in the second group */
        x[2 * B + 5] = x[3 * B] = x[(int64_t)G * B + 3] = 9.0;
        if (nan) {
            x[3 * B + 2] = NAN;
            x[(int64_t)G * B] = -NAN;
        }
        for (size_t l = 0; l < sizeof lens / sizeof *lens; l++) {
            int64_t n = lens[l], nb = (n + B - 1) / B, want;
            rt_reduce_argmax(KILN_FLOAT64, (const char *)x, n, 8, &want);
            for (int with = 0; with < 2; with++) {
                rt_trees t = {rt_pw_tree_tasks, rt_scan_tasks, rt_pw_tree_scratch, rt_flat_tasks,
                              with ? &par : NULL, 0};
                f_seq S = {x, 0};
                _Alignas(64) unsigned char out[RT_FLAT_PARTIAL];
                bool took = rt_flat_tasks(&t, f_blk, f_comb, &S, n, out);
                assert_int_equal(took, n > B);
                assert_int_equal(rt_flat_blocks(n), took ? nb : 1);
                if (!took) {
                    assert_int_equal(atomic_load(&S.covered), 0);
                    continue;
                }
                int64_t got;
                memcpy(&got, out + 8, 8);
                if (got != want)
                    fail_msg("n %lld, nan %d, threads %d: index %lld, want %lld", (long long)n,
                             nan, with, (long long)got, (long long)want);
                assert_int_equal(atomic_load(&S.covered), n);
                assert_int_equal(t.tasks, with ? (nb < G ? nb : G) : 0);
            }
        }
    }
    free(x);
    rt_par_fini(&par);
}

/* Every FLAT reduction of every dtype over lengths around the block
 * (RT_FLAT_BLOCK) and its multiples, at 1, 2 and 3 threads fused and
 * unfused, splitting forced: the interpreter's bits, and the answer
 * computed here from the definition; split into tasks exactly when the
 * sequence has several blocks. Data: few distinct values (ties within
 * and across blocks) with a smallest and a largest value planted twice
 * after block 0; floats also as signed zeros, and with a NaN (a payload
 * of its own, then one of another sign) in the first, a middle or the
 * last block. Empty min/max/argmin/argmax are construction errors. */
enum { FB = RT_FLAT_BLOCK };
static const int64_t FLAT_LENS[] = {0, 1, 2, FB - 1, FB, FB + 1, 2 * FB, 2 * FB + 1, 3 * FB + 5};
static const kiln_dtype FLAT_DTYPES[] = {KILN_BOOL,   KILN_INT8,   KILN_INT16,  KILN_INT32,
                                         KILN_INT64,  KILN_UINT8,  KILN_UINT16, KILN_UINT32,
                                         KILN_UINT64, KILN_FLOAT32, KILN_FLOAT64};
typedef enum fvar { FV_PLAIN, FV_POSZ, FV_NEGZ, FV_NAN_FIRST, FV_NAN_MID, FV_NAN_LAST, FV_COUNT } fvar;
typedef enum fop {
    FO_SUM, FO_PROD, FO_MIN, FO_MAX, FO_ARGMIN, FO_ARGMAX, FO_ALL, FO_ANY, FO_COUNT, FO_NOPS
} fop;
static const char *const FOP_NAMES[] = {"sum", "prod", "min", "max", "argmin",
                                        "argmax", "all", "any", "count_nonzero"};
enum { NFLAT = 2 * FV_COUNT * 9 * (FO_NOPS - 2) + 9 * 9 * FO_NOPS };

typedef struct fcase {
    kiln_dtype t;
    fvar v;
    int64_t n;
    fop op;
} fcase;

static int flat_cases(fcase *c)
{
    int k = 0;
    for (size_t d = 0; d < sizeof FLAT_DTYPES / sizeof *FLAT_DTYPES; d++) {
        kiln_dtype t = FLAT_DTYPES[d];
        bool flt = t == KILN_FLOAT32 || t == KILN_FLOAT64;
        for (int v = 0; v < (flt ? FV_COUNT : 1); v++)
            for (size_t l = 0; l < sizeof FLAT_LENS / sizeof *FLAT_LENS; l++)
                for (int op = 0; op < FO_NOPS; op++)
                    if (!flt || (op != FO_SUM && op != FO_PROD)) /* float sum/prod: trees */
                        c[k++] = (fcase){t, (fvar)v, FLAT_LENS[l], (fop)op};
    }
    return k;
}

static const int64_t PLANT_LO[] = {2 * FB - 1, 2 * FB + 3, 3 * FB};
static const int64_t PLANT_HI[] = {FB + 7, 2 * FB, 3 * FB + 1};

static void flat_nan(kiln_dtype t, char *p, bool second)
{
    if (t == KILN_FLOAT64) {
        uint64_t b = second ? 0xfff8000000000456ull : 0x7ff8000000000123ull;
        memcpy(p, &b, 8);
    } else {
        uint32_t b = second ? 0xffc00456u : 0x7fc00123u;
        memcpy(p, &b, 4);
    }
}

/* The case's input: tu_array's conversion of the values, NaNs as bits. */
static kiln_array *flat_input(kiln_ctx *ctx, const fcase *c)
{
    int64_t n = c->n;
    double *v = malloc((size_t)(n ? n : 1) * sizeof *v);
    assert_non_null(v);
    for (int64_t i = 0; i < n; i++) {
        switch (c->v) {
        case FV_POSZ: v[i] = 0.0; break;
        case FV_NEGZ: v[i] = -0.0; break;
        default: v[i] = c->t == KILN_BOOL ? 1.0 : 20.0 + (double)((i * 7919) % 13); break;
        }
    }
    for (int j = 0; j < 3; j++) {
        if (PLANT_LO[j] < n)
            v[PLANT_LO[j]] = c->v == FV_POSZ ? -0.0 : c->v == FV_NEGZ ? 0.0 : c->t == KILN_BOOL ? 0.0 : 3.0;
        if (PLANT_HI[j] < n && c->v != FV_POSZ && c->v != FV_NEGZ && c->t != KILN_BOOL)
            v[PLANT_HI[j]] = 90.0;
    }
    kiln_array *a = tu_array(ctx, c->t, 1, &n, v);
    free(v);
    int64_t at = c->v == FV_NAN_FIRST ? 5 : c->v == FV_NAN_MID ? FB + 11 : n - 1;
    if (c->v >= FV_NAN_FIRST && n > 0) {
        size_t sz = kiln_dtype_size(c->t);
        char *p = kiln_array_data(a);
        flat_nan(c->t, p + (size_t)(at < n ? at : n - 1) * sz, false);
        if ((at < n ? at : n - 1) + 2 < n)
            flat_nan(c->t, p + (size_t)(n - 1) * sz, true);
    }
    return a;
}

static kiln_expr flat_expr(kiln_expr x, fop op)
{
    switch (op) {
    case FO_SUM: return kiln_sum(x, 0, NULL, 0);
    case FO_PROD: return kiln_prod(x, 0, NULL, 0);
    case FO_MIN: return kiln_min(x, 0, NULL, 0);
    case FO_MAX: return kiln_max(x, 0, NULL, 0);
    case FO_ARGMIN: return kiln_argmin(x, KILN_AXIS_NONE);
    case FO_ARGMAX: return kiln_argmax(x, KILN_AXIS_NONE);
    case FO_ALL: return kiln_all(x, 0, NULL, 0);
    case FO_ANY: return kiln_any(x, 0, NULL, 0);
    default: return kiln_count_nonzero(x, 0, NULL, 0);
    }
}

/* The answer from the definition (runtime/reduce.h) over a's elements as
 * doubles: the result r (one element) checked; min/max by the bytes of the
 * element they must be (the first NaN, the first -0.0 of a min, ...). */
static void flat_known(const fcase *c, const kiln_array *a, const kiln_array *r, const char *what)
{
    int64_t n = c->n, best = -1, first_nan = -1, nz = 0;
    double sum = 0;
    bool mx = c->op == FO_MAX || c->op == FO_ARGMAX;
    for (int64_t i = 0; i < n; i++) {
        double x = kiln_array_get_f64(a, i);
        nz += x != 0;
        sum += x;
        if (isnan(x) && first_nan < 0)
            first_nan = i;
        if (isnan(x) || best < 0)
            best = best < 0 ? i : best;
        double b = kiln_array_get_f64(a, best);
        if (isnan(x))
            continue;
        if (c->op == FO_MIN || c->op == FO_MAX) { /* the order with -0.0 < +0.0 */
            bool lt = x < b || (x == b && signbit(x) && !signbit(b));
            bool gt = x > b || (x == b && !signbit(x) && signbit(b));
            if (mx ? gt : lt)
                best = i;
        } else if (mx ? x > b : x < b) { /* IEEE: zeros equal, the first wins */
            best = i;
        }
    }
    if (first_nan >= 0)
        best = first_nan;
    double got = kiln_array_get_f64(r, 0), want;
    switch (c->op) {
    case FO_MIN:
    case FO_MAX: {
        size_t sz = kiln_dtype_size(c->t);
        if (memcmp(kiln_array_data(r), (const char *)kiln_array_data(a) + (size_t)best * sz, sz))
            fail_msg("%s: not the bits of element %lld", what, (long long)best);
        return;
    }
    case FO_ARGMIN:
    case FO_ARGMAX: want = (double)best; break;
    case FO_ALL: want = nz == n; break;
    case FO_ANY: want = nz > 0; break;
    case FO_COUNT: want = (double)nz; break;
    case FO_SUM: want = sum; break;
    default: return; /* prod: wraps; the interpreter's bits are checked */
    }
    if (got != want)
        fail_msg("%s: %.17g, want %.17g", what, got, want);
}

static void test_flat_blocks(void **state)
{
    (void)state;
    fcase *cases = malloc(NFLAT * sizeof *cases);
    unsigned char(*ref)[8] = calloc(NFLAT, sizeof *ref);
    assert_true(cases && ref);
    int nc = flat_cases(cases);
    assert_int_equal(nc, NFLAT);
    kiln_ctx *ctx = kiln_ctx_new(NULL);
    assert_non_null(ctx);
    char what[160];
    uint64_t tasks = 0;
    for (int threads = 1; threads <= 3; threads++) {
        assert_int_equal(kiln_ctx_set_threads(ctx, threads), KILN_OK);
        force_split(ctx);
        for (int k = 0; k < nc; k++) {
            const fcase *c = &cases[k];
            snprintf(what, sizeof what, "%s of %lld %s (variant %d), %d threads",
                     FOP_NAMES[c->op], (long long)c->n, kiln_dtype_name(c->t), (int)c->v, threads);
            uint64_t scope = kiln_scope_begin(ctx);
            kiln_array *a = flat_input(ctx, c);
            kiln_expr e = flat_expr(kiln_input(ctx, a), c->op);
            if (c->n == 0 && c->op >= FO_MIN && c->op <= FO_ARGMAX) {
                assert_int_equal(kiln_expr_status(e), KILN_EINVAL); /* no identity */
            } else {
                size_t sz = kiln_dtype_size(kiln_expr_dtype(e));
                if (threads == 1) { /* the interpreter's bits, and the answer */
                    kiln_array *r = tu_eval(e, KILN_MODE_INTERP);
                    memcpy(ref[k], kiln_array_data(r), sz);
                    flat_known(c, a, r, what);
                    kiln_array_release(r);
                }
                for (int m = 0; m < 2; m++) {
                    kiln_ctx_reset_counters(ctx);
                    kiln_array *r = tu_eval(e, m ? KILN_MODE_UNFUSED : KILN_MODE_FUSED);
                    uint64_t split = cnt(ctx, KILN_COUNTER_PARALLEL_LAUNCHES);
                    tasks += split;
                    if (memcmp(kiln_array_data(r), ref[k], sz) != 0)
                        fail_msg("%s, %s: not the interpreter's bits", what, m ? "unfused" : "fused");
                    if ((split > 0) != (threads > 1 && c->n > FB))
                        fail_msg("%s, %s: %s", what, m ? "unfused" : "fused", split ? "split" : "not split");
                    kiln_array_release(r);
                }
            }
            kiln_array_release(a);
            assert_int_equal(kiln_scope_end(ctx, scope), KILN_OK);
        }
    }
    assert_true(tasks > 0);
    kiln_ctx_free(ctx);
    free(cases);
    free(ref);
}

/* Groups of blocks (RT_FLAT_GROUP): max, argmax and argmin of float64
 * past one group, ties across groups, a NaN in the second group, at 1
 * and 3 threads: the interpreter's functions' bits (runtime/reduce.c). */
static void test_flat_groups(void **state)
{
    (void)state;
    int64_t g = (int64_t)RT_FLAT_GROUP * FB, n = g + 3 * FB + 5;
    kiln_ctx *ctx = kiln_ctx_new(NULL);
    assert_non_null(ctx);
    kiln_array *a = NULL;
    assert_int_equal(kiln_array_empty(ctx, KILN_FLOAT64, 1, &n, KILN_ORDER_C, &a), KILN_OK);
    double *x = kiln_array_data(a);
    for (int nan = 0; nan < 2; nan++) {
        for (int64_t i = 0; i < n; i++)
            x[i] = f_ties(i);
        x[g + 1] = x[g + 9] = -50.0; /* the least value: first in the second group */
        x[g - 1] = x[g + 2] = 50.0;  /* the largest: last block of the first */
        if (nan) {
            flat_nan(KILN_FLOAT64, (char *)&x[g + FB + 1], false);
            flat_nan(KILN_FLOAT64, (char *)&x[n - 1], true);
        }
        for (int threads = 1; threads <= 3; threads += 2) {
            assert_int_equal(kiln_ctx_set_threads(ctx, threads), KILN_OK);
            force_split(ctx);
            for (int op = FO_MIN; op <= FO_ARGMAX; op++) {
                uint64_t scope = kiln_scope_begin(ctx);
                kiln_ctx_reset_counters(ctx);
                kiln_array *r = tu_eval(flat_expr(kiln_input(ctx, a), (fop)op), KILN_MODE_FUSED);
                unsigned char want[8];
                void (*ref)(kiln_dtype, const char *, int64_t, int64_t, void *) =
                    op == FO_MIN ? rt_reduce_min : op == FO_MAX ? rt_reduce_max
                    : op == FO_ARGMIN ? rt_reduce_argmin : rt_reduce_argmax;
                ref(KILN_FLOAT64, (const char *)x, n, 8, want);
                if (memcmp(kiln_array_data(r), want, 8) != 0)
                    fail_msg("%s with%s NaN, %d threads", FOP_NAMES[op], nan ? "" : "out", threads);
                if (op == FO_ARGMIN)
                    assert_true(kiln_array_get_f64(r, 0) == (double)(nan ? g + FB + 1 : g + 1));
                if (op == FO_ARGMAX)
                    assert_true(kiln_array_get_f64(r, 0) == (double)(nan ? g + FB + 1 : g - 1));
                assert_int_equal(cnt(ctx, KILN_COUNTER_PARALLEL_LAUNCHES), threads > 1);
                kiln_array_release(r);
                assert_int_equal(kiln_scope_end(ctx, scope), KILN_OK);
            }
        }
    }
    kiln_array_release(a);
    kiln_ctx_free(ctx);
}

/* ---- the launch policy ------------------------------------------------------- */

static kiln_array *eval_src(kiln_ctx *ctx, const char *src, kiln_array *x)
{
    const char *names[] = {"x"};
    uint64_t scope = kiln_scope_begin(ctx);
    kiln_array *y = tu_eval(kiln_parse(ctx, src, 1, names, &x), KILN_MODE_DEFAULT);
    kiln_scope_end(ctx, scope);
    return y;
}

static void test_small_work_inline(void **state)
{
    (void)state;
    kiln_ctx *ctx = kiln_ctx_new(NULL);
    assert_non_null(ctx);
    assert_int_equal(kiln_ctx_set_threads(ctx, 2), KILN_OK);
    int threads_before = process_threads();
    int64_t n = 1000;
    kiln_array *x = tu_arange(ctx, KILN_FLOAT64, 1, &n);
    for (int i = 0; i < 200; i++) {
        kiln_array *y = eval_src(ctx, "x*2.0 + 1.0", x);
        assert_true(((double *)kiln_array_data(y))[999] == 1999.0);
        kiln_array_release(y);
    }
    assert_int_equal(cnt(ctx, KILN_COUNTER_PARALLEL_LAUNCHES), 0);
    assert_int_equal(rt_par_workers(&ctx->par), 0);        /* no thread started */
    assert_int_equal(atomic_load(&ctx->par.min_cost), 0);  /* nor calibrated */
    assert_int_equal(process_threads(), threads_before);
    /* ~1 us of transcendental work is not split either (under a sanitizer
     * the L1 copy that bounds it is slow enough to calibrate, though) */
    kiln_array *y = eval_src(ctx, "sin(x)*cos(x)", x);
    kiln_array_release(y);
    assert_int_equal(cnt(ctx, KILN_COUNTER_PARALLEL_LAUNCHES), 0);
    kiln_array_release(x);

    /* 1M elements of sin*cos: ~1 ms of work. It is split exactly when the
     * calibrated threshold says it pays (on any sane machine it does). */
    n = 1 << 20;
    x = tu_arange(ctx, KILN_FLOAT64, 1, &n);
    y = eval_src(ctx, "sin(x)*cos(x)", x);
    uint64_t mc = atomic_load(&ctx->par.min_cost);
    double cost = (double)n * (16 + 80 + 80 + 2); /* graph/cost.c's estimate */
    print_message("calibration: post %llu ns, wake %llu ns, %.2f ps/byte streaming (%.2f in "
                  "L1), split from %.2f MB; sin*cos of 1M: %.0f MB -> %s\n",
                  (unsigned long long)atomic_load(&ctx->par.post_ns),
                  (unsigned long long)atomic_load(&ctx->par.wake_ns),
                  (double)atomic_load(&ctx->par.byte_fs) / 1000,
                  (double)atomic_load(&ctx->par.fast_fs) / 1000, (double)mc / 1e6, cost / 1e6,
                  cnt(ctx, KILN_COUNTER_PARALLEL_LAUNCHES) ? "split" : "inline");
    assert_true(mc > 0);
    assert_int_equal(cnt(ctx, KILN_COUNTER_PARALLEL_LAUNCHES), cost >= (double)mc ? 1 : 0);
    assert_int_equal(rt_par_workers(&ctx->par), 1);
    double *yd = kiln_array_data(y);
    for (int64_t i = 0; i < n; i += 4099)
        assert_true(fabs(yd[i] - sin((double)i) * cos((double)i)) < 1e-12);
    kiln_array_release(y);
    kiln_array_release(x);
    kiln_ctx_free(ctx);
    assert_int_equal(threads_settle(threads_before), threads_before); /* workers joined */
}

/* ---- the application's parallel-for ------------------------------------------- */

typedef struct app_pool {
    atomic_int calls;
    atomic_llong tasks;
} app_pool;

typedef struct app_job {
    void (*task)(void *, int64_t);
    void *ud;
    int64_t n;
    atomic_llong next;
} app_job;

static void *app_worker(void *arg)
{
    app_job *j = arg;
    int64_t i;
    while ((i = atomic_fetch_add(&j->next, 1)) < j->n)
        j->task(j->ud, i);
    return NULL;
}

/* A fork-join "application pool": one helper thread per call. */
static void app_parallel_for(void *ud, int64_t n, void (*task)(void *, int64_t), void *task_ud)
{
    app_pool *p = ud;
    atomic_fetch_add(&p->calls, 1);
    atomic_fetch_add(&p->tasks, n);
    app_job j = {task, task_ud, n, 0};
    pthread_t th;
    bool helper = pthread_create(&th, NULL, app_worker, &j) == 0;
    app_worker(&j);
    if (helper)
        pthread_join(th, NULL);
}

static void test_parallel_for_callback(void **state)
{
    (void)state;
    kiln_ctx *ctx = kiln_ctx_new(NULL);
    assert_non_null(ctx);
    inputs in = make_inputs(ctx);
    assert_int_equal(kiln_ctx_set_threads(ctx, 1), KILN_OK);
    size_t len[NCASES];
    unsigned char *ref[NCASES];
    for (int c = 0; c < NCASES; c++)
        ref[c] = run_case(ctx, &in, &CASES[c], KILN_MODE_FUSED, &len[c]);
    /* a full reduction's tree tasks; FLAT blocks (one group: one call);
     * both (the trees' pass, then the FLAT one: two calls) */
    static const tcase TASK_CASES[3] = {
        {"sum(xl*xl)", OUT_FRESH, true, SPLIT_FUSED, false},
        {"argmax(xn) + min(xn*2.0)", OUT_FRESH, true, SPLIT_FUSED, false},
        {"sum(xl) + max(xl) + argmin(xl)", OUT_FRESH, true, SPLIT_FUSED, false},
    };
    size_t task_len[3];
    unsigned char *task_ref[3];
    for (int c = 0; c < 3; c++)
        task_ref[c] = run_case(ctx, &in, &TASK_CASES[c], KILN_MODE_FUSED, &task_len[c]);

    /* kiln's own workers exist, then the callback replaces them */
    assert_int_equal(kiln_ctx_set_threads(ctx, 2), KILN_OK);
    force_split(ctx);
    size_t l;
    free(run_case(ctx, &in, &CASES[0], KILN_MODE_FUSED, &l));
    assert_int_equal(rt_par_workers(&ctx->par), 1);
    int threads_before = process_threads();
    app_pool pool = {0, 0};
    assert_int_equal(kiln_ctx_set_parallel_for(ctx, app_parallel_for, &pool), KILN_OK);
    assert_int_equal(rt_par_workers(&ctx->par), 0);
    assert_int_equal(threads_settle(threads_before - 1), threads_before - 1);
    force_split(ctx);
    kiln_ctx_reset_counters(ctx);
    unsigned char *b;
    for (int c = 0; c < NCASES; c++) {
        b = run_case(ctx, &in, &CASES[c], KILN_MODE_FUSED, &l);
        assert_int_equal(l, len[c]);
        if (memcmp(b, ref[c], l) != 0)
            fail_msg("%s: differs through the callback", CASES[c].src);
        free(b);
    }
    assert_int_equal(atomic_load(&pool.calls), NCASES);
    assert_int_equal(cnt(ctx, KILN_COUNTER_PARALLEL_LAUNCHES), NCASES);
    assert_true(atomic_load(&pool.tasks) >= 2 * NCASES);
    /* a full reduction's tasks through the callback: the same bits */
    for (int c = 0; c < 3; c++) {
        b = run_case(ctx, &in, &TASK_CASES[c], KILN_MODE_FUSED, &l);
        assert_int_equal(l, task_len[c]);
        assert_memory_equal(b, task_ref[c], l);
        free(b);
        free(task_ref[c]);
        assert_int_equal(atomic_load(&pool.calls), NCASES + 1 + c + (c == 2));
        assert_int_equal(cnt(ctx, KILN_COUNTER_PARALLEL_LAUNCHES), NCASES + 1 + c);
    }
    assert_int_equal(rt_par_workers(&ctx->par), 0);
    assert_int_equal(threads_settle(threads_before - 1), threads_before - 1); /* helpers joined, no kiln thread */

    /* calibration goes through the callback too, and starts no thread */
    assert_int_equal(kiln_ctx_set_parallel_for(ctx, app_parallel_for, &pool), KILN_OK);
    atomic_store(&pool.calls, 0);
    int64_t n = 1 << 20;
    kiln_array *x = tu_arange(ctx, KILN_FLOAT64, 1, &n);
    kiln_array *y = eval_src(ctx, "sin(x)*cos(x)", x);
    assert_true(atomic_load(&pool.calls) >= 1);
    assert_true(atomic_load(&ctx->par.min_cost) > 0);
    assert_int_equal(rt_par_workers(&ctx->par), 0);
    kiln_array_release(y);
    kiln_array_release(x);

    /* NULL: back to kiln's own workers */
    assert_int_equal(kiln_ctx_set_parallel_for(ctx, NULL, NULL), KILN_OK);
    force_split(ctx);
    atomic_store(&pool.calls, 0);
    free(run_case(ctx, &in, &CASES[1], KILN_MODE_FUSED, &l));
    assert_int_equal(atomic_load(&pool.calls), 0);
    assert_int_equal(rt_par_workers(&ctx->par), 1);
    assert_int_equal(kiln_ctx_set_parallel_for(NULL, NULL, NULL), KILN_ENULL);
    for (int c = 0; c < NCASES; c++)
        free(ref[c]);
    free_inputs(&in);
    kiln_ctx_free(ctx);
}

/* ---- several application threads on one context ------------------------------ */

/* The contract (kiln.h): evaluation may run on several threads of one
 * context at once; building expressions and scopes is the caller's to
 * serialize. So the expressions are built here, before the threads start,
 * and the threads only evaluate them (and allocate their outputs), while
 * one more thread changes the thread count under them. */
typedef struct app_thread {
    kiln_ctx *ctx;
    const kiln_expr *exprs;
    const unsigned char *const *ref;
    const size_t *len;
    int id, bad;
    bool toggler; /* changes the thread count while the others evaluate */
} app_thread;

static void *app_thread_main(void *arg)
{
    app_thread *a = arg;
    for (int i = 0; i < 12; i++) {
        if (a->toggler) {
            if (kiln_ctx_set_threads(a->ctx, 1 + i % 3) != KILN_OK)
                a->bad++;
            force_split(a->ctx);
            continue;
        }
        int c = (i + a->id) % NCASES;
        size_t l = 0;
        unsigned char *b = eval_case(a->ctx, a->exprs[c], &CASES[c], KILN_MODE_FUSED, &l);
        if (!b || l != a->len[c] || memcmp(b, a->ref[c], l) != 0)
            a->bad++;
        free(b);
    }
    return NULL;
}

static void test_concurrent_launches(void **state)
{
    (void)state;
    kiln_ctx *ctx = kiln_ctx_new(NULL);
    assert_non_null(ctx);
    inputs in = make_inputs(ctx);
    size_t len[NCASES];
    unsigned char *ref[NCASES];
    kiln_expr exprs[NCASES];
    uint64_t scope = kiln_scope_begin(ctx);
    for (int c = 0; c < NCASES; c++) {
        ref[c] = run_case(ctx, &in, &CASES[c], KILN_MODE_FUSED, &len[c]);
        exprs[c] = parse_case(ctx, &in, &CASES[c]);
    }
    assert_int_equal(kiln_ctx_set_threads(ctx, 2), KILN_OK);
    force_split(ctx);
    kiln_ctx_reset_counters(ctx);
    enum { NT = 4 };
    app_thread a[NT];
    pthread_t th[NT];
    for (int t = 0; t < NT; t++) {
        a[t] = (app_thread){ctx, exprs, (const unsigned char *const *)ref, len, t, 0, t == NT - 1};
        assert_int_equal(pthread_create(&th[t], NULL, app_thread_main, &a[t]), 0);
    }
    for (int t = 0; t < NT; t++)
        pthread_join(th[t], NULL);
    for (int t = 0; t < NT; t++)
        if (a[t].bad)
            fail_msg("application thread %d: %d evaluations failed or differ", t, a[t].bad);
    /* the evaluations ran and some of them split (when the toggler left 2 or 3) */
    assert_true(cnt(ctx, KILN_COUNTER_LAUNCHES) >= (NT - 1) * 12);
    assert_int_equal(kiln_scope_end(ctx, scope), KILN_OK);
    for (int c = 0; c < NCASES; c++)
        free(ref[c]);
    free_inputs(&in);
    kiln_ctx_free(ctx);
}

/* ---- the buffer pool ----------------------------------------------------------- */

static void test_pool_reuse(void **state)
{
    (void)state;
    kiln_ctx *ctx = kiln_ctx_new(NULL);
    assert_non_null(ctx);
    assert_int_equal(cnt(ctx, KILN_COUNTER_POOL_HITS), 0);
    assert_int_equal(cnt(ctx, KILN_COUNTER_POOL_BYTES), 0);
    int64_t n = 100000;
    kiln_array *x = tu_arange(ctx, KILN_FLOAT64, 1, &n);
    /* a fresh output per call: from the second call on, the same memory */
    kiln_array *y = eval_src(ctx, "x*2.0 + 1.0", x);
    void *first = kiln_array_data(y);
    kiln_array_release(y);
    uint64_t held = cnt(ctx, KILN_COUNTER_POOL_BYTES);
    assert_true(held >= (uint64_t)n * 8 && held <= (uint64_t)n * 8 * 5 / 4);
    uint64_t hits0 = cnt(ctx, KILN_COUNTER_POOL_HITS);
    for (int i = 0; i < 10; i++) {
        y = eval_src(ctx, "x*2.0 + 1.0", x);
        assert_ptr_equal(kiln_array_data(y), first);
        assert_int_equal(cnt(ctx, KILN_COUNTER_POOL_BYTES), 0); /* in use */
        assert_true(((double *)kiln_array_data(y))[n - 1] == 2.0 * (double)(n - 1) + 1.0);
        kiln_array_release(y);
    }
    assert_int_equal(cnt(ctx, KILN_COUNTER_POOL_HITS) - hits0, 10);
    /* a slightly different size in the same class reuses it too */
    int64_t m = n - 3;
    kiln_array *z = NULL;
    assert_int_equal(kiln_array_empty(ctx, KILN_FLOAT64, 1, &m, KILN_ORDER_C, &z), KILN_OK);
    assert_ptr_equal(kiln_array_data(z), first);
    /* kiln_array_zeros on reused memory still zeroes */
    memset(kiln_array_data(z), 0xff, (size_t)m * 8);
    kiln_array_release(z);
    assert_int_equal(kiln_array_zeros(ctx, KILN_FLOAT64, 1, &m, KILN_ORDER_C, &z), KILN_OK);
    for (int64_t i = 0; i < m; i++)
        assert_true(((double *)kiln_array_data(z))[i] == 0.0);
    kiln_array_release(z);

    /* unfused: temporaries come from the pool after the first evaluation */
    assert_int_equal(kiln_ctx_set_mode(ctx, KILN_MODE_UNFUSED), KILN_OK);
    y = eval_src(ctx, "((x + 1.0) * 2.0 - 3.0) / 4.0", x);
    kiln_array_release(y);
    kiln_ctx_reset_counters(ctx);
    y = eval_src(ctx, "((x + 1.0) * 2.0 - 3.0) / 4.0", x);
    /* 3 temporaries + the output, every one a hit */
    assert_int_equal(cnt(ctx, KILN_COUNTER_POOL_HITS), 4);
    assert_int_equal(cnt(ctx, KILN_COUNTER_TEMP_BYTES), 3 * (uint64_t)n * 8);
    assert_true(((double *)kiln_array_data(y))[10] == ((10.0 + 1.0) * 2.0 - 3.0) / 4.0);
    kiln_array_release(y);
    kiln_array_release(x);
    kiln_ctx_free(ctx);
}

static void test_pool_cap(void **state)
{
    (void)state;
    tu_alloc t;
    tu_alloc_init(&t, 0, false);
    kiln_ctx *ctx = kiln_ctx_new(&t.a);
    assert_non_null(ctx);
    const uint64_t cap = 1 << 20;
    assert_int_equal(kiln_ctx_set_pool_limit(ctx, cap), KILN_OK);
    assert_int_equal(kiln_ctx_set_pool_limit(NULL, cap), KILN_ENULL);
    /* 300 KB arrays (class 320 KB): at most 3 fit under 1 MB */
    int64_t n = 300 * 1024 / 8;
    kiln_array *a[6];
    for (int i = 0; i < 6; i++)
        assert_int_equal(kiln_array_empty(ctx, KILN_FLOAT64, 1, &n, KILN_ORDER_C, &a[i]), KILN_OK);
    long live_in_use = t.live;
    for (int i = 0; i < 6; i++) {
        kiln_array_release(a[i]);
        assert_true(cnt(ctx, KILN_COUNTER_POOL_BYTES) <= cap);
    }
    assert_int_equal(cnt(ctx, KILN_COUNTER_POOL_BYTES), 3 * 320 * 1024);
    /* 3 buffers (2 blocks each) went back to the allocator, 3 are kept
     * (the array views' blocks are freed) */
    assert_int_equal(t.live, live_in_use - 6 * 3 + 3 * 2);
    /* a buffer bigger than the cap is never kept */
    int64_t big = 2 << 20;
    kiln_array *b = NULL;
    assert_int_equal(kiln_array_empty(ctx, KILN_UINT8, 1, &big, KILN_ORDER_C, &b), KILN_OK);
    assert_int_equal((uintptr_t)kiln_array_data(b) % (2u << 20), 0); /* huge-page aligned */
    kiln_array_release(b);
    assert_int_equal(cnt(ctx, KILN_COUNTER_POOL_BYTES), 3 * 320 * 1024);
    /* the oldest go first when room is needed: a 640 KB buffer evicts two */
    assert_int_equal(kiln_ctx_set_pool_limit(ctx, cap), KILN_OK);
    int64_t m = 600 * 1024 / 8;
    assert_int_equal(kiln_array_empty(ctx, KILN_FLOAT64, 1, &m, KILN_ORDER_C, &b), KILN_OK);
    kiln_array_release(b);
    assert_int_equal(cnt(ctx, KILN_COUNTER_POOL_BYTES), 320 * 1024 + 640 * 1024);
    /* lowering the cap returns memory at once; 0 keeps nothing */
    assert_int_equal(kiln_ctx_set_pool_limit(ctx, 0), KILN_OK);
    assert_int_equal(cnt(ctx, KILN_COUNTER_POOL_BYTES), 0);
    assert_int_equal(kiln_array_empty(ctx, KILN_FLOAT64, 1, &n, KILN_ORDER_C, &b), KILN_OK);
    kiln_array_release(b);
    assert_int_equal(cnt(ctx, KILN_COUNTER_POOL_BYTES), 0);
    /* arrays outliving the context: the pool is gone with the context,
     * their memory goes back when they are released */
    assert_int_equal(kiln_ctx_set_pool_limit(ctx, cap), KILN_OK);
    assert_int_equal(kiln_array_empty(ctx, KILN_FLOAT64, 1, &n, KILN_ORDER_C, &b), KILN_OK);
    kiln_array *c = NULL;
    assert_int_equal(kiln_array_empty(ctx, KILN_FLOAT64, 1, &n, KILN_ORDER_C, &c), KILN_OK);
    kiln_array_release(c); /* idle in the pool */
    kiln_ctx_free(ctx);
    kiln_array_release(b);
    assert_int_equal(t.live, 0);
    assert_int_equal(t.live_bytes, 0);
}

/* Every allocation failing in turn, with pooled buffers and parallel
 * launches in play: each step gives KILN_OK (with the right result) or
 * KILN_ENOMEM, and nothing leaks. Returns how many steps failed. */
static int oom_scenario(tu_alloc *t)
{
    kiln_ctx *ctx = kiln_ctx_new(&t->a);
    if (!ctx)
        return 1;
    int failures = 0;
    kiln_ctx_set_threads(ctx, 2);
    force_split(ctx);
    int64_t n = 3000;
    kiln_array *x = NULL;
    kiln_status s = kiln_array_empty(ctx, KILN_FLOAT64, 1, &n, KILN_ORDER_C, &x);
    if (s != KILN_OK) {
        assert_int_equal(s, KILN_ENOMEM);
        kiln_ctx_free(ctx);
        return 1;
    }
    for (int64_t i = 0; i < n; i++)
        ((double *)kiln_array_data(x))[i] = (double)i;
    const char *srcs[] = {"x*2.0 + 1.0", "x*2.0 + 1.0", "(x + 1.0) * x - x", "(x + 1.0) * x - x"};
    const char *names[] = {"x"};
    for (int k = 0; k < 4; k++) {
        kiln_mode mode = k >= 2 ? KILN_MODE_UNFUSED : KILN_MODE_FUSED;
        kiln_expr e = kiln_parse(ctx, srcs[k], 1, names, &x);
        kiln_array *y = NULL;
        s = kiln_eval_many(ctx, mode, 1, &e, &y);
        if (s != KILN_OK) {
            assert_int_equal(s, KILN_ENOMEM);
            assert_null(y);
            failures++;
            continue;
        }
        double want = k < 2 ? 2.0 * 2999 + 1.0 : 3000.0 * 2999 - 2999;
        assert_true(((double *)kiln_array_data(y))[2999] == want);
        kiln_array_release(y);
    }
    kiln_array_release(x);
    kiln_ctx_free(ctx);
    return failures;
}

static void test_oom_with_pool(void **state)
{
    (void)state;
    for (int sticky = 0; sticky < 2; sticky++) {
        int clean = 0;
        for (long n = 1; n < 2000 && !clean; n++) {
            tu_alloc t;
            tu_alloc_init(&t, n, sticky != 0);
            int failures = oom_scenario(&t);
            if (t.count < n) {
                clean = 1; /* nothing failed */
                assert_int_equal(failures, 0);
            }
            /* else: a step fails, or absorbs the failure correctly (a JIT
             * cache entry that cannot be allocated runs the interpreter) */
            if (t.live != 0 || t.live_bytes != 0)
                fail_msg("leak with allocation %ld failing (sticky %d): %ld blocks, %lld bytes", n,
                         sticky, t.live, t.live_bytes);
        }
        assert_int_equal(clean, 1);
    }
}

/* ---- settings -------------------------------------------------------------------- */

static void test_thread_settings(void **state)
{
    (void)state;
    int cpus = rt_cpu_count();
    assert_true(cpus >= 1);
    const char *saved = getenv("KILN_NUM_THREADS");
    char *keep = saved ? strdup(saved) : NULL;
    struct {
        const char *value;
        int threads; /* -1: the default, and an error recorded */
    } env[] = {
        {"3", 3},    {" 2 ", 2},  {"1", 1},      {"0", 0},     {"256", 256},
        {"", -1},    {"abc", -1}, {"-1", -1},    {"4x", -1},   {"257", -1},
        {"2.5", -1}, {"+2", -1},  {"99999999999999999999999", -1}, {" ", -1},
    };
    for (size_t i = 0; i < sizeof env / sizeof *env; i++) {
        setenv("KILN_NUM_THREADS", env[i].value, 1);
        kiln_ctx *ctx = kiln_ctx_new(NULL);
        assert_non_null(ctx);
        int want = env[i].threads < 0 ? cpus : env[i].threads == 0 ? cpus : env[i].threads;
        if (kiln_ctx_threads(ctx) != want)
            fail_msg("KILN_NUM_THREADS='%s': %d threads, want %d", env[i].value,
                     kiln_ctx_threads(ctx), want);
        assert_int_equal(kiln_errcode(ctx), env[i].threads < 0 ? KILN_EINVAL : KILN_OK);
        if (env[i].threads < 0)
            assert_non_null(strstr(kiln_errmsg(ctx), "KILN_NUM_THREADS"));
        kiln_ctx_free(ctx);
    }
    if (keep) {
        setenv("KILN_NUM_THREADS", keep, 1);
        free(keep);
    } else {
        unsetenv("KILN_NUM_THREADS");
    }
    kiln_ctx *ctx = kiln_ctx_new(NULL);
    assert_int_equal(kiln_ctx_set_threads(ctx, -1), KILN_EINVAL);
    assert_int_equal(kiln_ctx_set_threads(ctx, KILN_MAX_THREADS + 1), KILN_EINVAL);
    assert_non_null(strstr(kiln_errmsg(ctx), "thread count"));
    assert_int_equal(kiln_ctx_set_threads(ctx, 5), KILN_OK);
    assert_int_equal(kiln_ctx_threads(ctx), 5);
    assert_int_equal(kiln_ctx_set_threads(ctx, 0), KILN_OK);
    assert_int_equal(kiln_ctx_threads(ctx), cpus);
    assert_int_equal(kiln_ctx_set_threads(NULL, 2), KILN_ENULL);
    assert_int_equal(kiln_ctx_threads(NULL), 0);
    kiln_ctx_free(ctx);
    /* the parser alone */
    int v = -7;
    assert_true(rt_parse_threads("12", &v) && v == 12);
    assert_false(rt_parse_threads(NULL, &v));
    assert_false(rt_parse_threads("0x4", &v));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_same_bits_at_any_thread_count),
        cmocka_unit_test(test_reductions_same_bits),
        cmocka_unit_test(test_tree_cut),
        cmocka_unit_test(test_scan_blocks),
        cmocka_unit_test(test_flat_tasks),
        cmocka_unit_test(test_flat_blocks),
        cmocka_unit_test(test_flat_groups),
        cmocka_unit_test(test_small_work_inline),
        cmocka_unit_test(test_parallel_for_callback),
        cmocka_unit_test(test_concurrent_launches),
        cmocka_unit_test(test_pool_reuse),
        cmocka_unit_test(test_pool_cap),
        cmocka_unit_test(test_oom_with_pool),
        cmocka_unit_test(test_thread_settings),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
