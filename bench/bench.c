/*
 * bench/bench.c — kiln's fused-vs-unfused benchmark (issue 6).
 *
 * Measures the machine's memory bandwidth with a STREAM-style triad at 1
 * thread and at all cores, then runs each workload (a row of WORKLOADS
 * below) as a hand-written C loop (bench/handc.c, the practical limit,
 * OpenMP at all cores) and through kiln fused, unfused and interpreted, at
 * 1 thread and at all cores (kiln_ctx_set_threads; the interpreter runs at
 * 1 thread only), and prints one aligned table on stdout, the issue's
 * targets as met or missed, and optionally JSON (--json) and an SVG chart
 * (--svg). Progress goes to stderr. Only the public header is used.
 *
 * Invariants of every measurement:
 *   - inputs are the same bytes for every case (user memory wrapped with
 *     kiln_array_wrap, fixed-seed splitmix64); outputs are user memory too,
 *     poisoned (all bits set: NaN, -1) before each case, and every timed
 *     run evaluates into them (kiln_eval_many with outputs given) — a fresh
 *     output per call would measure the allocator;
 *   - the reference is the hand-written loop at 1 thread, computed before
 *     any case; every case's result (hand-C at all cores included) is
 *     checked against it after its timed runs: bit for bit for exactly
 *     rounded elementwise work, within an error bound otherwise (ulps of
 *     the largest term for libm vs libmvec; for sums, the first-order
 *     bound of the two summation orders, see sum_bound — and then fused
 *     and unfused must still give the interpreter's bits, see
 *     check_vs_interp). A mismatch or a failed evaluation makes the exit
 *     status 1;
 *   - each (workload, mode) runs in a fresh context, first at 1 thread then
 *     at all cores, so the 1-thread first call includes compiling its
 *     kernels and the all-cores first call starting the workers;
 *   - a workload's modes are timed interleaved, round robin, so load from
 *     other processes falls on all of them alike (see run_workload);
 *   - "min bytes" counts each input element read once and each output
 *     element written once (no write-allocate, no cache-line waste), the
 *     way STREAM counts the triad's 24 bytes per element.
 * Timing: CLOCK_MONOTONIC; one warm-up, then >= 7 timed runs (median, min,
 * max); the triad is the best of >= 10, as STREAM reports it.
 */
#define _POSIX_C_SOURCE 200809L

#include "handc.h"
#include "kiln.h"

#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

/* ---- options ------------------------------------------------------------ */

typedef struct options {
    bool quick;
    int runs;              /* timed runs per case */
    const char *only;      /* comma-separated workload names/ids, or NULL */
    const char *json;      /* output files, or NULL */
    const char *svg;
    int threads;           /* -1: 1 and all cores; else only this count */
    double budget;         /* skip the interpreted timed runs when the first
                              call took longer than this (s) */
    double budget_jit;     /* the same for fused and unfused: only a guard
                              for when no JIT is active */
    double batch_s;        /* per-evaluation cases: seconds per timed batch */
} options;

/* ---- time, PRNG, memory ----------------------------------------------- */

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

typedef struct rng {
    uint64_t s;
    bool has_spare;
    double spare;
} rng;

static uint64_t rng_next(rng *r) /* splitmix64 */
{
    uint64_t z = (r->s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* Uniform in (0, 1]. */
static double rng_unit(rng *r) { return (double)((rng_next(r) >> 11) + 1) * 0x1p-53; }

/* Standard normal (Box-Muller, both values used). */
static double rng_normal(rng *r)
{
    if (r->has_spare) {
        r->has_spare = false;
        return r->spare;
    }
    double rad = sqrt(-2.0 * log(rng_unit(r)));
    double ang = 6.283185307179586 * rng_unit(r);
    r->spare = rad * sin(ang);
    r->has_spare = true;
    return rad * cos(ang);
}

/* Big buffers are recycled: freed ones (bench_free) are kept and handed
 * out again, up to RECYCLE_BYTES in all. A fresh page costs a fault on
 * first touch (~11 us per 4 KB on this VM: 0.2-0.4 GB/s, see "fresh
 * memory"), and every workload needs hundreds of MB of inputs and outputs;
 * without recycling, faulting them in was a third of the default run.
 * Only the benchmark's own memory: kiln's allocations are untouched. */
enum { RECYCLE_SLOTS = 64 };
#define RECYCLE_BYTES ((size_t)1 << 30)
typedef struct block {
    void *p;
    size_t bytes;
} block;
static block g_live[RECYCLE_SLOTS], g_idle[RECYCLE_SLOTS];
static int g_nlive, g_nidle;
static size_t g_idle_bytes;

static void *alloc_bytes(size_t bytes)
{
    bytes = (bytes + 63) & ~(size_t)63;
    bytes = bytes ? bytes : 64;
    int best = -1; /* the smallest idle block that fits, wasting < half */
    for (int i = 0; i < g_nidle; i++)
        if (g_idle[i].bytes >= bytes && g_idle[i].bytes / 2 < bytes &&
            (best < 0 || g_idle[i].bytes < g_idle[best].bytes))
            best = i;
    block b;
    if (best >= 0) {
        b = g_idle[best];
        g_idle[best] = g_idle[--g_nidle];
        g_idle_bytes -= b.bytes;
    } else {
        b = (block){aligned_alloc(64, bytes), bytes};
    }
    if (!b.p || g_nlive == RECYCLE_SLOTS) {
        fprintf(stderr, "bench: out of memory (%zu bytes)\n", bytes);
        exit(2);
    }
    g_live[g_nlive++] = b;
    return b.p;
}

static void bench_free(void *p)
{
    if (!p)
        return;
    int i = 0;
    while (i < g_nlive && g_live[i].p != p)
        i++;
    if (i == g_nlive) { /* not ours: a plain malloc */
        free(p);
        return;
    }
    block b = g_live[i];
    g_live[i] = g_live[--g_nlive];
    while (g_nidle && (g_nidle == RECYCLE_SLOTS || g_idle_bytes + b.bytes > RECYCLE_BYTES)) {
        g_idle_bytes -= g_idle[0].bytes; /* drop the oldest */
        free(g_idle[0].p);
        g_idle[0] = g_idle[--g_nidle];
    }
    if (b.bytes > RECYCLE_BYTES) {
        free(b.p);
        return;
    }
    g_idle[g_nidle++] = b;
    g_idle_bytes += b.bytes;
}

static void recycle_drain(void)
{
    while (g_nidle)
        free(g_idle[--g_nidle].p);
    g_idle_bytes = 0;
}

static double *alloc_f64(int64_t n) { return alloc_bytes(sizeof(double) * (size_t)n); }

static double *normals(int64_t n, rng *r)
{
    double *x = alloc_f64(n);
    for (int64_t i = 0; i < n; i++)
        x[i] = rng_normal(r);
    return x;
}

/* ---- workloads ------------------------------------------------------------
 * A workload is one table row group: init makes its inputs (described for
 * wrapping: dtype, shape, strides, or a record array) and describes its
 * outputs; build makes the kiln expressions, one per output, from the
 * wrapped inputs; handc is the hand-written loop; check compares a result
 * with the reference (NULL: every output element bit-identical). */

#define MAX_IN 2
#define MAX_OUT 4

typedef struct in_desc {
    kiln_dtype dtype;
    int rank;
    int64_t shape[2];
    int64_t strides[2]; /* bytes; strides[0] == 0: C-contiguous */
    int64_t rec_size;   /* > 0: shape[0] records of rec_size bytes */
} in_desc;

typedef struct out_desc {
    kiln_dtype dtype;
    int rank;
    int64_t shape[2];
    int64_t lead; /* elements before kiln's output in the buffer: the
                     reference's (NumPy's zeros before sma[20:] = ...) */
} out_desc;

typedef struct wl_data {
    int64_t n;               /* the workload's size (elements, rows, points) */
    int nin, nout;
    void *in[MAX_IN];
    in_desc id[MAX_IN];
    bool in_shared;          /* in[] belongs to a cache (the W4 matrix) */
    out_desc od[MAX_OUT];
    void *ref[MAX_OUT];      /* hand-C at 1 thread: the reference */
    double *scratch[2];      /* hand-C's preallocated working memory */
    double scratch_bytes;
    double min_bytes;
} wl_data;

typedef struct result result;

typedef struct workload {
    const char *id;    /* issue 6's number: --only W1 or W4 (W4a..W4d) */
    const char *name;  /* --only key */
    const char *text;  /* the expression as the table shows it */
    int64_t n, n_quick;
    bool per_eval;     /* time one evaluation, building the expression in a
                          scope inside the timed loop (small arrays) */
    bool apart;        /* evaluate the outputs one kiln_eval_many each */
    bool interp_quick; /* the interpreter only with --quick: at full size
                          its one call takes seconds and checks nothing the
                          other modes' exact checks do not */
    void (*init)(wl_data *d, rng *r);
    void (*build)(kiln_ctx *ctx, const wl_data *d, kiln_array *const *in, kiln_expr *e);
    void (*handc)(const wl_data *d, void *const *out);
    bool (*check)(const wl_data *d, void *const *got, result *r);
    struct {
        bool memory_bound;    /* fused <= 1.15x hand-C and >= 80% of triad */
        double min_speedup;   /* unfused median / fused median at least */
        double max_us;        /* per-evaluation cases: fused microseconds */
        const char *vs_id;    /* fused median / vs_id's fused median ... */
        double max_vs;        /* ... at most */
    } t; /* targets; 0 = none */
} workload;

static size_t out_elems(const out_desc *o)
{
    size_t n = 1;
    for (int k = 0; k < o->rank; k++)
        n *= (size_t)o->shape[k];
    return n;
}

static size_t out_bytes(const out_desc *o)
{
    return (out_elems(o) + (size_t)o->lead) * kiln_dtype_size(o->dtype);
}

static void vec_out(wl_data *d, int k, int64_t n, int64_t lead)
{
    d->od[k] = (out_desc){.dtype = KILN_FLOAT64, .rank = 1, .shape = {n}, .lead = lead};
}

static void scalar_out(wl_data *d, int k, kiln_dtype t)
{
    d->od[k] = (out_desc){.dtype = t, .rank = 0};
}

/* nin 1-D float64 normal inputs of d->n * step elements read as x[::step],
 * one output of d->n. */
static void init_vectors(wl_data *d, rng *r, int nin, int64_t step)
{
    d->nin = nin;
    d->nout = 1;
    for (int i = 0; i < nin; i++) {
        d->in[i] = normals(d->n * step, r);
        d->id[i] = (in_desc){.dtype = KILN_FLOAT64, .rank = 1, .shape = {d->n},
                             .strides = {step == 1 ? 0 : 8 * step}};
    }
    vec_out(d, 0, d->n, 0);
    d->min_bytes = (double)(nin + 1) * (double)d->n * 8.0;
}

static void init_x1(wl_data *d, rng *r) { init_vectors(d, r, 1, 1); }
static void init_x2(wl_data *d, rng *r) { init_vectors(d, r, 2, 1); }
static void init_step2(wl_data *d, rng *r) { init_vectors(d, r, 1, 2); }

/* kiln_parse over the inputs named x, y, ... in order. */
static kiln_expr parse(kiln_ctx *ctx, const char *src, const wl_data *d, kiln_array *const *in)
{
    static const char *const names[MAX_IN] = {"x", "y"};
    return kiln_parse(ctx, src, (size_t)d->nin, names, in);
}

static const double *in_f64(const wl_data *d, int i) { return d->in[i]; }
static double *out_f64(void *const *out, int k) { return out[k]; }

/* W1 */
static void build_affine(kiln_ctx *ctx, const wl_data *d, kiln_array *const *in, kiln_expr *e)
{
    kiln_expr x = kiln_input(ctx, in[0]);
    e[0] = kiln_add(kiln_multiply(kiln_f64(ctx, 2.0), x), kiln_f64(ctx, 1.0));
}
static void handc_affine(const wl_data *d, void *const *out)
{
    hc_affine(out_f64(out, 0), in_f64(d, 0), d->n);
}

/* W12 */
static void build_chain(kiln_ctx *ctx, const wl_data *d, kiln_array *const *in, kiln_expr *e)
{
    kiln_expr x = kiln_input(ctx, in[0]);
    kiln_expr t = kiln_add(x, kiln_f64(ctx, 1.0));
    t = kiln_multiply(t, kiln_f64(ctx, 2.0));
    t = kiln_subtract(t, kiln_f64(ctx, 3.0));
    t = kiln_divide(t, kiln_f64(ctx, 4.0));
    t = kiln_add(t, x);
    t = kiln_multiply(t, x);
    t = kiln_subtract(t, kiln_multiply(kiln_f64(ctx, 0.5), x));
    e[0] = kiln_divide(t, kiln_add(kiln_f64(ctx, 1.0), kiln_multiply(x, x)));
}
static void handc_chain(const wl_data *d, void *const *out)
{
    hc_chain(out_f64(out, 0), in_f64(d, 0), d->n);
}

/* W2 */
static void build_sinlog(kiln_ctx *ctx, const wl_data *d, kiln_array *const *in, kiln_expr *e)
{
    e[0] = parse(ctx, "x*y + sin(x) - log(abs(y) + 1)", d, in);
}
static void handc_sinlog(const wl_data *d, void *const *out)
{
    hc_sinlog(out_f64(out, 0), in_f64(d, 0), in_f64(d, 1), d->n);
}

/* W7a, W7b */
static void build_leaky(kiln_ctx *ctx, const wl_data *d, kiln_array *const *in, kiln_expr *e)
{
    e[0] = parse(ctx, "where(x > 0, x, 0.01*x)", d, in);
}
static void handc_leaky(const wl_data *d, void *const *out)
{
    hc_leaky(out_f64(out, 0), in_f64(d, 0), d->n);
}
static void build_relu_sq(kiln_ctx *ctx, const wl_data *d, kiln_array *const *in, kiln_expr *e)
{
    e[0] = parse(ctx, "where(x > 0, x*x, 0)", d, in);
}
static void handc_relu_sq(const wl_data *d, void *const *out)
{
    hc_relu_sq(out_f64(out, 0), in_f64(d, 0), d->n);
}

/* W9: the input is wrapped as the view x[::2] of 2n elements. */
static void build_strided(kiln_ctx *ctx, const wl_data *d, kiln_array *const *in, kiln_expr *e)
{
    e[0] = parse(ctx, "x*2 + 1", d, in);
}
static void handc_strided(const wl_data *d, void *const *out)
{
    hc_strided2(out_f64(out, 0), in_f64(d, 0), d->n);
}

/* W3: sum(x) and sum(x*x), siblings of one evaluation. */
static void init_sums(wl_data *d, rng *r)
{
    init_vectors(d, r, 1, 1);
    d->nout = 2;
    scalar_out(d, 0, KILN_FLOAT64);
    scalar_out(d, 1, KILN_FLOAT64);
    d->min_bytes = (double)d->n * 8.0 + 16.0;
}
static void build_sums(kiln_ctx *ctx, const wl_data *d, kiln_array *const *in, kiln_expr *e)
{
    e[0] = parse(ctx, "sum(x)", d, in);
    e[1] = parse(ctx, "sum(x*x)", d, in);
}
static void handc_sums(const wl_data *d, void *const *out)
{
    double s[2];
    hc_sums(s, in_f64(d, 0), d->n);
    *out_f64(out, 0) = s[0];
    *out_f64(out, 1) = s[1];
}

/* W4: one n x n matrix of uniform(-1, 1) shared by the four cases (made
 * once: 200 MB), wrapped in C order or as Fortran order (the same bytes
 * with swapped strides — another matrix, the transpose, which is all the
 * benchmark needs). */
static double *g_matrix;
static int64_t g_matrix_n;

static void init_matrix(wl_data *d, rng *r, bool fortran)
{
    int64_t n = d->n;
    if (g_matrix_n != n) {
        bench_free(g_matrix);
        g_matrix = alloc_f64(n * n);
        g_matrix_n = n;
        for (int64_t i = 0; i < n * n; i++)
            g_matrix[i] = 2.0 * rng_unit(r) - 1.0;
    }
    d->nin = 1;
    d->in[0] = g_matrix;
    d->in_shared = true;
    d->id[0] = (in_desc){.dtype = KILN_FLOAT64, .rank = 2, .shape = {n, n},
                         .strides = {fortran ? 8 : 8 * n, fortran ? 8 * n : 8}};
    d->nout = 1;
    vec_out(d, 0, n, 0);
    d->min_bytes = (double)n * (double)n * 8.0 + (double)n * 8.0;
}
static void init_c_order(wl_data *d, rng *r) { init_matrix(d, r, false); }
static void init_f_order(wl_data *d, rng *r) { init_matrix(d, r, true); }
static void build_row_sums(kiln_ctx *ctx, const wl_data *d, kiln_array *const *in, kiln_expr *e)
{
    e[0] = parse(ctx, "sum(x, axis=1)", d, in);
}
static void build_col_sums(kiln_ctx *ctx, const wl_data *d, kiln_array *const *in, kiln_expr *e)
{
    e[0] = parse(ctx, "sum(x, axis=0)", d, in);
}
/* Sums along memory rows (C-order row sums, F-order column sums) and down
 * memory columns (C-order column sums, F-order row sums). */
static void handc_mem_rows(const wl_data *d, void *const *out)
{
    hc_row_sums(out_f64(out, 0), in_f64(d, 0), d->n, d->n);
}
static void handc_mem_cols(const wl_data *d, void *const *out)
{
    hc_col_sums(out_f64(out, 0), in_f64(d, 0), d->n, d->n);
}

/* W5: d of shape (n, 5), column c ~ normal * (c + 1) + 10 c. */
enum { NORM_COLS = 5 };
static void init_colnorm(wl_data *d, rng *r)
{
    int64_t n = d->n;
    double *x = alloc_f64(n * NORM_COLS);
    for (int64_t i = 0; i < n * NORM_COLS; i++)
        x[i] = rng_normal(r) * (double)(i % NORM_COLS + 1) + 10.0 * (double)(i % NORM_COLS);
    d->nin = 1;
    d->in[0] = x;
    d->id[0] = (in_desc){.dtype = KILN_FLOAT64, .rank = 2, .shape = {n, NORM_COLS}};
    d->nout = 1;
    d->od[0] = (out_desc){.dtype = KILN_FLOAT64, .rank = 2, .shape = {n, NORM_COLS}};
    d->min_bytes = 2.0 * (double)n * NORM_COLS * 8.0;
}
static void build_colnorm(kiln_ctx *ctx, const wl_data *d, kiln_array *const *in, kiln_expr *e)
{
    e[0] = parse(ctx, "(x - mean(x, axis=0)) / std(x, axis=0)", d, in);
}
static void handc_colnorm(const wl_data *d, void *const *out)
{
    hc_colnorm(out_f64(out, 0), in_f64(d, 0), d->n, NORM_COLS);
}

/* W6: n points in 3-D, the n x n distances. NumPy computes x**2 of floats
 * as square(x) (its power loop's fast path), which is what kiln builds
 * here: power(x, 2) would call pow in the interpreter. */
static void init_pdist(wl_data *d, rng *r)
{
    int64_t n = d->n;
    d->nin = 1;
    d->in[0] = normals(3 * n, r);
    d->id[0] = (in_desc){.dtype = KILN_FLOAT64, .rank = 2, .shape = {n, 3}};
    d->nout = 1;
    d->od[0] = (out_desc){.dtype = KILN_FLOAT64, .rank = 2, .shape = {n, n}};
    d->min_bytes = (double)n * 3.0 * 8.0 + (double)n * (double)n * 8.0;
}
static void build_pdist(kiln_ctx *ctx, const wl_data *d, kiln_array *const *in, kiln_expr *e)
{
    e[0] = parse(ctx, "sqrt(sum(square(x[:, None, :] - x[None, :, :]), axis=2))", d, in);
}
static void handc_pdist(const wl_data *d, void *const *out)
{
    hc_pdist3(out_f64(out, 0), in_f64(d, 0), d->n);
}

/* W8: the seed's create_features_numpy on a random walk around 100; the
 * four features are written into views of full-length arrays whose leading
 * elements are the reference's zeros (returns[1:], sma[20:], ...). */
enum { WINDOW = 20 }; /* also in W8_SMA and W8_VOL */
static void init_features(wl_data *d, rng *r)
{
    int64_t n = d->n;
    double *p = alloc_f64(n), acc = 100.0;
    for (int64_t i = 0; i < n; i++)
        p[i] = acc += rng_normal(r);
    d->nin = 1;
    d->in[0] = p;
    d->id[0] = (in_desc){.dtype = KILN_FLOAT64, .rank = 1, .shape = {n}};
    d->nout = 4;
    vec_out(d, 0, n - 1, 1);
    for (int k = 1; k < 4; k++)
        vec_out(d, k, n - WINDOW, WINDOW);
    d->scratch[0] = alloc_f64(n);
    d->scratch[1] = alloc_f64(n);
    d->scratch_bytes = 2.0 * (double)n * 8.0;
    d->min_bytes = (double)n * 8.0 + (double)(n - 1 + 3 * (n - WINDOW)) * 8.0;
}
/* The window is 20 in these strings (WINDOW); hash-consing makes each
 * repeated subexpression one node, so the cumsums are computed once. */
#define W8_SMA "((cumsum(x)[20:] - cumsum(x)[:-20]) / 20)"
#define W8_VOL                                                                             \
    "sqrt(maximum((cumsum(square(x))[20:] - cumsum(square(x))[:-20]) / 20 - square(" W8_SMA \
    "), 0))"
static void build_features(kiln_ctx *ctx, const wl_data *d, kiln_array *const *in, kiln_expr *e)
{
    e[0] = parse(ctx, "(x[1:] - x[:-1]) / x[:-1]", d, in);
    e[1] = parse(ctx, W8_SMA, d, in);
    e[2] = parse(ctx, W8_VOL, d, in);
    e[3] = parse(ctx, "where(" W8_VOL " > 0, (x[20:] - " W8_SMA ") / " W8_VOL ", 0)", d, in);
}
static void handc_features(const wl_data *d, void *const *out)
{
    hc_features(out_f64(out, 0), out_f64(out, 1), out_f64(out, 2), out_f64(out, 3), in_f64(d, 0),
                d->scratch[0], d->scratch[1], d->n, WINDOW);
}

/* W10: the seed's packed sensor records (19 bytes, fields unaligned). */
enum { REC_SIZE = 19, OFF_TIME = 0, OFF_ID = 8, OFF_TEMP = 10, OFF_HUM = 14, OFF_STATUS = 18 };
static void init_sensors(wl_data *d, rng *r)
{
    int64_t n = d->n;
    unsigned char *rec = alloc_bytes((size_t)(n * REC_SIZE));
    for (int64_t i = 0; i < n; i++) {
        unsigned char *p = rec + i * REC_SIZE;
        double ts = 1700000000.0 + 86400.0 * (double)i / (double)(n > 1 ? n - 1 : 1);
        uint16_t id = (uint16_t)(rng_next(r) % 100);
        float temp = (float)(15.0 + 20.0 * rng_unit(r)), hum = (float)(30.0 + 60.0 * rng_unit(r));
        memcpy(p + OFF_TIME, &ts, 8);
        memcpy(p + OFF_ID, &id, 2);
        memcpy(p + OFF_TEMP, &temp, 4);
        memcpy(p + OFF_HUM, &hum, 4);
        p[OFF_STATUS] = (unsigned char)(rng_next(r) % 4);
    }
    d->nin = 1;
    d->in[0] = rec;
    d->id[0] = (in_desc){.dtype = KILN_UINT8, .rank = 2, .shape = {n, REC_SIZE},
                         .rec_size = REC_SIZE};
    d->nout = 2;
    scalar_out(d, 0, KILN_INT64);
    scalar_out(d, 1, KILN_FLOAT64);
    d->min_bytes = (double)n * REC_SIZE + 16.0; /* the fields read share
                                                   every cache line */
}
static void build_sensors(kiln_ctx *ctx, const wl_data *d, kiln_array *const *in, kiln_expr *e)
{
    static const kiln_field fields[] = {{"timestamp", OFF_TIME, KILN_FLOAT64},
                                        {"sensor_id", OFF_ID, KILN_UINT16},
                                        {"temperature", OFF_TEMP, KILN_FLOAT32},
                                        {"humidity", OFF_HUM, KILN_FLOAT32},
                                        {"status", OFF_STATUS, KILN_UINT8}};
    kiln_binding b = {"r", in[0], fields, sizeof fields / sizeof fields[0]};
    e[0] = kiln_parse_bindings(ctx, "count_nonzero((r.status == 0) & (r.temperature > 30))", 1,
                               &b);
    e[1] = kiln_parse_bindings(ctx,
                               "sum(where((r.status == 0) & (r.temperature > 30), "
                               "float64(r.temperature), 0)) / "
                               "count_nonzero((r.status == 0) & (r.temperature > 30))",
                               1, &b);
}
static void handc_sensors(const wl_data *d, void *const *out)
{
    hc_sensors(out[0], out_f64(out, 1), d->in[0], d->n, REC_SIZE, OFF_TEMP, OFF_STATUS);
}

/* ---- results ---------------------------------------------------------------- */

enum { M_HANDC, M_FUSED, M_UNFUSED, M_INTERP, M_COUNT };
static const char *const MODE_NAME[M_COUNT] = {"hand-C", "fused", "unfused", "interp"};
static const char *const MODE_JSON[M_COUNT] = {"hand-c", "fused", "unfused", "interp"};
static const kiln_mode MODE_KILN[M_COUNT] = {KILN_MODE_DEFAULT, KILN_MODE_FUSED,
                                             KILN_MODE_UNFUSED, KILN_MODE_INTERP};

struct result {
    const workload *w;
    int mode, threads;
    int64_t n;
    double min_bytes;
    int runs;             /* timed runs done (0: skipped or failed) */
    double median, min, max; /* seconds (per evaluation for per_eval) */
    double first;         /* first call, seconds (includes compilation) */
    uint64_t first_compiles;
    double temp_bytes;    /* per evaluation */
    uint64_t fallbacks;   /* kernels run by the interpreter in timed runs */
    bool ran_jit;         /* the case compiled or looked up a kernel */
    bool ok;              /* evaluated and checked */
    char check[32];       /* short result of the check */
    char note[240];       /* skipped/failed reason, fallback reason, error */
};

/* ---- checking ------------------------------------------------------------
 * Every check compares a case's outputs with the reference d->ref. */

static double ulp_of(double x) /* spacing of doubles at |x| */
{
    x = fabs(x);
    if (!isfinite(x))
        return INFINITY;
    return nextafter(x, INFINITY) - x;
}

static void note_add(result *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void note_add(result *r, const char *fmt, ...)
{
    size_t len = strlen(r->note);
    if (len && len + 2 < sizeof r->note) {
        memcpy(r->note + len, "; ", 3);
        len += 2;
    }
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->note + len, sizeof r->note - len, fmt, ap);
    va_end(ap);
}

static double elem_f64(const out_desc *o, const void *base, size_t i)
{
    if (o->dtype == KILN_INT64) {
        int64_t v;
        memcpy(&v, (const char *)base + i * 8, 8);
        return (double)v;
    }
    double v;
    memcpy(&v, (const char *)base + i * 8, 8);
    return v;
}

/* Errors against a bound, element by element: tally_add(got, want, tol). */
typedef struct tally {
    int64_t bad, first;
    int first_out;
    double worst; /* largest |got - want| / tol */
    double got, want;
} tally;

static void tally_add(tally *t, int k, int64_t i, double got, double want, double tol)
{
    if (isnan(got) && isnan(want))
        return;
    double err = fabs(got - want), q = err == 0 ? 0 : tol > 0 ? err / tol : INFINITY;
    if (!(q <= t->worst))
        t->worst = q; /* NaN: worst becomes NaN, and stays a mismatch */
    if (!(err <= tol) && t->bad++ == 0) {
        t->first = i;
        t->first_out = k;
        t->got = got;
        t->want = want;
    }
}

static bool tally_done(const tally *t, result *r, const char *check, const char *bound)
{
    if (!t->bad) {
        snprintf(r->check, sizeof r->check, "%s", check);
        note_add(r, "largest error %.2g of %s", t->worst, bound);
        return true;
    }
    snprintf(r->check, sizeof r->check, "MISMATCH");
    note_add(r, "%" PRId64 " elements outside %s; first: output %d [%" PRId64 "] = %.17g, "
                "reference %.17g", t->bad, bound, t->first_out, t->first, t->got, t->want);
    return false;
}

/* Every output element bit-identical to the reference. */
static bool check_exact(const wl_data *d, void *const *got, result *r)
{
    for (int k = 0; k < d->nout; k++) {
        const out_desc *o = &d->od[k];
        size_t sz = kiln_dtype_size(o->dtype), n = out_elems(o);
        const char *g = (const char *)got[k] + o->lead * (int64_t)sz,
                   *f = (const char *)d->ref[k] + o->lead * (int64_t)sz;
        if (memcmp(g, f, n * sz) == 0)
            continue;
        int64_t bad = 0, first = -1;
        for (size_t i = 0; i < n; i++)
            if (memcmp(g + i * sz, f + i * sz, sz) != 0) {
                first = first < 0 ? (int64_t)i : first;
                bad++;
            }
        snprintf(r->check, sizeof r->check, "MISMATCH");
        note_add(r, "output %d: %" PRId64 " of %zu elements differ; first [%" PRId64 "]: "
                    "%.17g, reference %.17g", k, bad, n, first,
                 elem_f64(o, g, (size_t)first), elem_f64(o, f, (size_t)first));
        return false;
    }
    snprintf(r->check, sizeof r->check, "exact");
    return true;
}

/* W2: sin and log carry 4-ulp bounds each (graph/ops.def; the reference
 * calls scalar libm, kiln libmvec): allow 10 ulps of the largest term,
 * which also covers the final additions' rounding. */
static bool check_sinlog(const wl_data *d, void *const *got, result *r)
{
    const double *a = in_f64(d, 0), *b = in_f64(d, 1), *g = got[0], *f = d->ref[0];
    tally t = {0};
    for (int64_t i = 0; i < d->n; i++) {
        double m = fmax(fmax(fabs(a[i] * b[i]), fabs(sin(a[i]))),
                        fmax(fabs(log(fabs(b[i]) + 1.0)), fabs(f[i])));
        tally_add(&t, 0, i, g[i], f[i], 10.0 * ulp_of(m));
    }
    return tally_done(&t, r, "<=10ulp", "10 ulps of the largest term");
}

/* Sums. The reference adds in another order than kiln (8 accumulators, or
 * one chain per column, or per-thread partials; kiln: NumPy's pairwise
 * tree), so results differ in the last bits. Recursive summation where an
 * element goes through at most k additions has |computed - exact| <=
 * k u sum|x_i| to first order (u = 2^-53; Higham, Accuracy and Stability
 * of Numerical Algorithms, 4.2), so two orders differ by at most
 * (k_ref + k_kiln) u sum|x_i|: k_kiln is the pairwise tree's depth
 * (pw_chain), k_ref the reference loop's longest chain; +16 covers the
 * final additions of partials (threads) and the initial +0.0. */
static int64_t pw_chain(int64_t n)
{
    if (n < 8)
        return n;
    if (n <= 128)
        return n / 8 + 3 + n % 8;
    int64_t m = n / 2 - (n / 2) % 8, a = pw_chain(m), b = pw_chain(n - m);
    return 1 + (a > b ? a : b);
}

static double sum_bound(int64_t n, int64_t ref_chain)
{
    return 1.01 * (double)(pw_chain(n) + ref_chain + 16) * 0x1p-53;
}

static bool check_sums(const wl_data *d, void *const *got, result *r)
{
    const double *x = in_f64(d, 0);
    double a = 0, q = 0;
    for (int64_t i = 0; i < d->n; i++) {
        a += fabs(x[i]);
        q += x[i] * x[i];
    }
    double b = sum_bound(d->n, d->n / 8 + 8);
    tally t = {0};
    tally_add(&t, 0, 0, *out_f64(got, 0), *out_f64(d->ref, 0), b * a);
    tally_add(&t, 1, 0, *out_f64(got, 1), *out_f64(d->ref, 1), b * q);
    return tally_done(&t, r, "bound", "the summation-order bound");
}

/* Sums along memory rows or down memory columns of the W4 matrix. */
static bool check_matrix_sums(const wl_data *d, void *const *got, result *r, bool mem_rows)
{
    int64_t n = d->n;
    const double *a = in_f64(d, 0), *g = got[0], *f = d->ref[0];
    double *abs_sum = calloc((size_t)n, sizeof(double));
    if (!abs_sum) {
        snprintf(r->check, sizeof r->check, "ERROR");
        note_add(r, "out of memory in the check");
        return false;
    }
    for (int64_t i = 0; i < n; i++)
        for (int64_t j = 0; j < n; j++)
            abs_sum[mem_rows ? i : j] += fabs(a[i * n + j]);
    double b = sum_bound(n, n);
    tally t = {0};
    for (int64_t k = 0; k < n; k++)
        tally_add(&t, 0, k, g[k], f[k], b * abs_sum[k]);
    free(abs_sum);
    return tally_done(&t, r, "bound", "the summation-order bound");
}
static bool check_mem_rows(const wl_data *d, void *const *got, result *r)
{
    return check_matrix_sums(d, got, r, true);
}
static bool check_mem_cols(const wl_data *d, void *const *got, result *r)
{
    return check_matrix_sums(d, got, r, false);
}

/* W5: y = (x - m) / s per column. m = sum/n carries the sum bound B (above)
 * times mean|x| plus a rounding; var = sum((x-m)^2)/n carries B relative
 * (its terms are >= 0, and m's error changes it only to second order:
 * sum(x - m) = 0), so s carries B/2 relative; then y's error is at most
 * |dm|/s + |y| (B/2 + 2u) plus the subtraction's and division's rounding. */
static bool check_colnorm(const wl_data *d, void *const *got, result *r)
{
    int64_t n = d->n;
    const double *x = in_f64(d, 0), *g = got[0], *f = d->ref[0];
    double m[NORM_COLS] = {0}, am[NORM_COLS] = {0}, v[NORM_COLS] = {0};
    for (int64_t i = 0; i < n; i++)
        for (int c = 0; c < NORM_COLS; c++) {
            m[c] += x[i * NORM_COLS + c];
            am[c] += fabs(x[i * NORM_COLS + c]);
        }
    for (int c = 0; c < NORM_COLS; c++) {
        m[c] /= (double)n;
        am[c] /= (double)n;
    }
    for (int64_t i = 0; i < n; i++)
        for (int c = 0; c < NORM_COLS; c++) {
            double e = x[i * NORM_COLS + c] - m[c];
            v[c] += e * e;
        }
    double b = sum_bound(n, n), u = 0x1p-53;
    tally t = {0};
    for (int64_t i = 0; i < n; i++)
        for (int c = 0; c < NORM_COLS; c++) {
            double s = sqrt(v[c] / (double)n), y = fabs(f[i * NORM_COLS + c]);
            double dm = b * am[c] + 2 * u * fabs(m[c]);
            double tol = dm / s + y * (b / 2 + 2 * u) +
                         4 * u * (fabs(x[i * NORM_COLS + c]) + fabs(m[c])) / s;
            tally_add(&t, 0, i * NORM_COLS + c, g[i * NORM_COLS + c], f[i * NORM_COLS + c],
                      1.01 * tol);
        }
    return tally_done(&t, r, "bound", "the summation-order bound");
}

/* W10: the count exactly; the mean's sum is of positive terms, so its bound
 * is B * sum = B * count * mean, plus the division's rounding. */
static bool check_sensors(const wl_data *d, void *const *got, result *r)
{
    int64_t kg, kf;
    memcpy(&kg, got[0], 8);
    memcpy(&kf, d->ref[0], 8);
    if (kg != kf) {
        snprintf(r->check, sizeof r->check, "MISMATCH");
        note_add(r, "count %" PRId64 ", reference %" PRId64, kg, kf);
        return false;
    }
    double mf = *out_f64(d->ref, 1);
    tally t = {0};
    tally_add(&t, 1, 0, *out_f64(got, 1), mf,
              (sum_bound(d->n, d->n) + 4 * 0x1p-53) * fabs(mf));
    return tally_done(&t, r, "bound", "the summation-order bound (count exact)");
}

/* Issue 6's workloads in its order, and the targets of issues 3 and 6
 * (printed as met or missed after the table; never asserted). */
#define MEMORY_BOUND .memory_bound = true

static const workload WORKLOADS[] = {
    {.id = "W1", .name = "affine", .text = "2*x + 1", .n = 10000000, .n_quick = 200000,
     .interp_quick = true, .init = init_x1, .build = build_affine, .handc = handc_affine,
     .t = {MEMORY_BOUND}},
    {.id = "W2", .name = "sinlog", .text = "a*b + sin(a) - log(abs(b) + 1)", .n = 5000000,
     .n_quick = 100000, .interp_quick = true, .init = init_x2, .build = build_sinlog,
     .handc = handc_sinlog, .check = check_sinlog, .t = {.min_speedup = 5.0}},
    {.id = "W3", .name = "sums", .text = "sum(x) and sum(x*x), one evaluation", .n = 10000000,
     .n_quick = 200000, .init = init_sums, .build = build_sums, .handc = handc_sums,
     .check = check_sums, .t = {MEMORY_BOUND}},
    {.id = "W3s", .name = "sums-apart", .text = "sum(x), then sum(x*x): two evaluations",
     .n = 10000000, .n_quick = 200000, .apart = true, .init = init_sums, .build = build_sums,
     .handc = handc_sums, .check = check_sums},
    {.id = "W4a", .name = "c-rows", .text = "sum(m, axis=1), m C order", .n = 5000,
     .n_quick = 500, .init = init_c_order, .build = build_row_sums, .handc = handc_mem_rows,
     .check = check_mem_rows, .t = {MEMORY_BOUND}},
    {.id = "W4b", .name = "c-cols", .text = "sum(m, axis=0), m C order", .n = 5000,
     .n_quick = 500, .init = init_c_order, .build = build_col_sums, .handc = handc_mem_cols,
     .check = check_mem_cols, .t = {MEMORY_BOUND, .vs_id = "W4a", .max_vs = 1.3}},
    {.id = "W4c", .name = "f-rows", .text = "sum(m, axis=1), m Fortran order", .n = 5000,
     .n_quick = 500, .init = init_f_order, .build = build_row_sums, .handc = handc_mem_cols,
     .check = check_mem_cols, .t = {MEMORY_BOUND}},
    {.id = "W4d", .name = "f-cols", .text = "sum(m, axis=0), m Fortran order", .n = 5000,
     .n_quick = 500, .init = init_f_order, .build = build_col_sums, .handc = handc_mem_rows,
     .check = check_mem_rows, .t = {MEMORY_BOUND}},
    {.id = "W5", .name = "colnorm", .text = "(d - mean(d, axis=0)) / std(d, axis=0), d (n, 5)",
     .n = 1000000, .n_quick = 20000, .init = init_colnorm, .build = build_colnorm,
     .handc = handc_colnorm, .check = check_colnorm},
    {.id = "W6", .name = "pdist", .text = "sqrt(sum(square(p[:,None,:] - p[None,:,:]), axis=2))",
     .n = 2000, .n_quick = 300, .interp_quick = true, .init = init_pdist, .build = build_pdist,
     .handc = handc_pdist},
    {.id = "W7a", .name = "leaky", .text = "where(x > 0, x, 0.01*x)", .n = 10000000,
     .n_quick = 200000, .interp_quick = true, .init = init_x1, .build = build_leaky,
     .handc = handc_leaky,
     .t = {MEMORY_BOUND}},
    {.id = "W7b", .name = "relu-sq", .text = "where(x > 0, x*x, 0)", .n = 10000000,
     .n_quick = 200000, .interp_quick = true, .init = init_x1, .build = build_relu_sq,
     .handc = handc_relu_sq,
     .t = {MEMORY_BOUND}},
    {.id = "W8", .name = "features",
     .text = "returns, SMA-20, volatility (cumsums), z-score: 4 outputs, one evaluation",
     .n = 1000000, .n_quick = 50000, .init = init_features, .build = build_features,
     .handc = handc_features},
    {.id = "W9", .name = "strided", .text = "x[::2]*2 + 1 (x of 2n)", .n = 10000000,
     .n_quick = 200000, .interp_quick = true, .init = init_step2, .build = build_strided,
     .handc = handc_strided,
     .t = {MEMORY_BOUND}},
    {.id = "W10", .name = "sensors",
     .text = "count, mean temperature where status==0 & temperature>30 (19-byte records)",
     .n = 1000000, .n_quick = 50000, .init = init_sensors, .build = build_sensors,
     .handc = handc_sensors, .check = check_sensors},
    {.id = "W11", .name = "small", .text = "2*x + 1, build + eval in a scope", .n = 1000,
     .n_quick = 1000, .per_eval = true, .init = init_x1, .build = build_affine,
     .handc = handc_affine, .t = {.max_us = 2.0}},
    {.id = "W12", .name = "chain", .text = "((((x+1)*2-3)/4+x)*x - 0.5*x)/(1+x*x)",
     .n = 10000000, .n_quick = 200000, .interp_quick = true, .init = init_x1, .build = build_chain,
     .handc = handc_chain, .t = {MEMORY_BOUND, .min_speedup = 5.0}},
};
#define NWORKLOADS (sizeof WORKLOADS / sizeof WORKLOADS[0])

#define MAX_THREADS_RUNS 2 /* thread counts per run: 1 and all cores */
#define MAX_RESULTS (NWORKLOADS * M_COUNT * MAX_THREADS_RUNS)
static result g_results[MAX_RESULTS];
static size_t g_nresults;
static int g_threads[MAX_THREADS_RUNS]; /* the thread counts measured */
static int g_nthreads;
static double g_triad_gbs[MAX_THREADS_RUNS]; /* per g_threads entry */
static double g_fresh_gbs; /* first touch of freshly allocated memory */

static double triad_for(int threads)
{
    for (int i = 0; i < g_nthreads; i++)
        if (g_threads[i] == threads)
            return g_triad_gbs[i];
    return NAN;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void summarize(result *r, double *t, int runs)
{
    qsort(t, (size_t)runs, sizeof *t, cmp_double);
    r->runs = runs;
    r->min = t[0];
    r->max = t[runs - 1];
    r->median = runs % 2 ? t[runs / 2] : 0.5 * (t[runs / 2 - 1] + t[runs / 2]);
}

/* ---- running the cases ----------------------------------------------------------
 * A workload's cases run together, interleaved: at each thread count, every
 * mode makes its first call and a warm-up, then the timed runs go round
 * robin (hand-C, fused, unfused, interp, hand-C, ...), so load from other
 * processes on a shared machine falls on all modes alike and the ratios
 * between them stay meaningful. Each mode has its own context (one
 * context for both thread counts: compiled at 1 thread, reused at all
 * cores) and its own outputs. */

typedef struct bcase {
    const workload *w;
    const wl_data *d;
    int mode;
    void *out[MAX_OUT];        /* this mode's outputs (user memory) */
    kiln_ctx *ctx;             /* kiln modes */
    kiln_array *in[MAX_IN], *outa[MAX_OUT];
    kiln_expr e[MAX_OUT];
    kiln_status setup;         /* KILN_OK, or why the mode cannot run */
    const char *setup_what;
    /* the current thread count's case */
    result *r;
    int threads;
    bool active;               /* being timed */
    bool valid;                /* out holds a successful evaluation */
    long batch;                /* evaluations per timed run */
    double evals;              /* evaluations timed */
    double *t;                 /* o->runs times */
    uint64_t temp0, fb0, jit0; /* counters after the warm-up */
} bcase;

static void poison_outputs(const bcase *c)
{
    for (int k = 0; k < c->d->nout; k++)
        memset(c->out[k], 0xff, out_bytes(&c->d->od[k])); /* NaN, -1: unwritten shows */
}

static bool check_result(const bcase *c)
{
    return c->w->check ? c->w->check(c->d, c->out, c->r) : check_exact(c->d, c->out, c->r);
}

static void progress(const result *r)
{
    if (r->runs)
        fprintf(stderr,
                "bench: %-4s %-8s %-7s %2dT first %9.3f ms (%" PRIu64
                "k), median %9.3f %s  %s%s%s\n",
                r->w->id, r->w->name, MODE_NAME[r->mode], r->threads, r->first * 1e3,
                r->first_compiles,
                r->w->per_eval ? r->median * 1e6 : r->median * 1e3,
                r->w->per_eval ? "us" : "ms", r->check, r->note[0] ? "  " : "", r->note);
    else
        fprintf(stderr, "bench: %-4s %-8s %-7s %2dT %s %s\n", r->w->id, r->w->name,
                MODE_NAME[r->mode], r->threads, r->check, r->note);
}

static bool failed(result *r, kiln_ctx *ctx, const char *what, kiln_status s)
{
    snprintf(r->check, sizeof r->check, "ERROR");
    snprintf(r->note, sizeof r->note, "%s: %s: %s", what, kiln_status_name(s),
             ctx ? kiln_errmsg(ctx) : "");
    r->ok = false;
    return false;
}

static kiln_status build_checked(bcase *c)
{
    c->w->build(c->ctx, c->d, c->in, c->e);
    for (int i = 0; i < c->d->nout; i++) {
        kiln_status s = kiln_expr_status(c->e[i]);
        if (s != KILN_OK)
            return s;
    }
    return KILN_OK;
}

/* One evaluation. */
static bool case_eval(bcase *c)
{
    if (c->mode == M_HANDC) {
        c->w->handc(c->d, c->out);
        return true;
    }
    size_t n = (size_t)c->d->nout;
    kiln_mode m = MODE_KILN[c->mode];
    if (c->w->apart) {
        for (size_t k = 0; k < n; k++)
            if (kiln_eval_many(c->ctx, m, 1, &c->e[k], &c->outa[k]) != KILN_OK)
                return false;
        return true;
    }
    if (!c->w->per_eval)
        return kiln_eval_many(c->ctx, m, n, c->e, c->outa) == KILN_OK;
    uint64_t sc = kiln_scope_begin(c->ctx); /* the small-array case: build too */
    kiln_status s = build_checked(c);
    if (s == KILN_OK)
        s = kiln_eval_many(c->ctx, m, n, c->e, c->outa);
    kiln_status s2 = kiln_scope_end(c->ctx, sc);
    return s == KILN_OK && s2 == KILN_OK;
}

static kiln_status wrap_arrays(bcase *c)
{
    const wl_data *d = c->d;
    kiln_status s = KILN_OK;
    for (int i = 0; i < d->nin && s == KILN_OK; i++) {
        const in_desc *id = &d->id[i];
        if (id->rec_size)
            s = kiln_array_wrap_records(c->ctx, d->in[i], id->shape[0], id->rec_size, 0, NULL,
                                        NULL, &c->in[i]);
        else
            s = kiln_array_wrap(c->ctx, d->in[i], id->dtype, id->rank, id->shape,
                                id->strides[0] ? id->strides : NULL, NULL, NULL, &c->in[i]);
    }
    for (int j = 0; j < d->nout && s == KILN_OK; j++) {
        const out_desc *o = &d->od[j];
        char *p = (char *)c->out[j] + o->lead * (int64_t)kiln_dtype_size(o->dtype);
        s = kiln_array_wrap(c->ctx, p, o->dtype, o->rank, o->shape, NULL, NULL, NULL,
                            &c->outa[j]);
    }
    return s;
}

static void case_setup(bcase *c, const workload *w, const wl_data *d, int mode)
{
    *c = (bcase){.w = w, .d = d, .mode = mode, .setup = KILN_OK};
    for (int k = 0; k < d->nout; k++)
        c->out[k] = alloc_bytes(out_bytes(&d->od[k]));
    if (mode == M_HANDC)
        return;
    c->ctx = kiln_ctx_new(NULL);
    /* The first call is to include compiling: no kernels from the disk
       cache of an earlier run. */
    c->setup = c->ctx ? kiln_ctx_set_disk_cache(c->ctx, 0, NULL) : KILN_ENOMEM;
    c->setup_what = "kiln_ctx_set_disk_cache";
    if (c->setup == KILN_OK)
        c->setup = wrap_arrays(c);
    c->setup_what = "wrapping arrays";
    if (c->setup == KILN_OK && !w->per_eval) {
        c->setup = build_checked(c);
        c->setup_what = "building";
    }
}

static void case_teardown(bcase *c)
{
    for (int i = 0; i < MAX_IN; i++)
        kiln_array_release(c->in[i]);
    for (int i = 0; i < MAX_OUT; i++) {
        kiln_array_release(c->outa[i]);
        bench_free(c->out[i]);
    }
    kiln_ctx_free(c->ctx);
}

static void case_threads(bcase *c)
{
    if (c->mode == M_HANDC)
        hc_set_threads(c->threads);
}

/* The first call, then a warm-up (or, per evaluation, a calibration of the
 * batch); c->active if the timed runs should follow. */
static void case_start(bcase *c, const options *o, result *r, int threads)
{
    *r = (result){.w = c->w, .mode = c->mode, .threads = threads, .n = c->d->n,
                  .min_bytes = c->d->min_bytes, .ok = true};
    c->r = r;
    c->threads = threads;
    c->active = false;
    c->valid = false;
    c->batch = 1;
    c->evals = 0;
    if (c->setup != KILN_OK) {
        failed(r, c->ctx, c->setup_what, c->setup);
        return;
    }
    kiln_status s = c->ctx ? kiln_ctx_set_threads(c->ctx, threads) : KILN_OK;
    if (s != KILN_OK) {
        failed(r, c->ctx, "kiln_ctx_set_threads", s);
        return;
    }
    case_threads(c);
    poison_outputs(c);
    uint64_t c0 = c->ctx ? kiln_ctx_counter(c->ctx, KILN_COUNTER_COMPILES) : 0;
    double t0 = now_s();
    bool ok = case_eval(c);
    r->first = now_s() - t0;
    if (c->ctx)
        r->first_compiles = kiln_ctx_counter(c->ctx, KILN_COUNTER_COMPILES) - c0;
    if (!ok) {
        failed(r, c->ctx, "first evaluation", kiln_errcode(c->ctx));
        return;
    }
    c->valid = true;
    double budget = c->mode == M_INTERP ? o->budget : o->budget_jit;
    if (c->mode != M_HANDC && r->first > budget) { /* the interpreter on big inputs */
        r->ok = check_result(c);
        if (r->ok)
            snprintf(r->check, sizeof r->check, "skipped");
        note_add(r, "timed runs skipped: first call %.2f s > %.2f s", r->first, budget);
        return;
    }
    if (c->w->per_eval) { /* calibrate: batches of about o->batch_s */
        t0 = now_s();
        for (int k = 0; k < 10 && ok; k++)
            ok = case_eval(c);
        double one = (now_s() - t0) / 10;
        c->batch = (long)(o->batch_s / fmax(one, 1e-8));
        c->batch = c->batch < 1 ? 1 : c->batch > 10000000 ? 10000000 : c->batch;
    } else {
        ok = case_eval(c); /* warm-up (fills kiln's buffer pool too) */
    }
    if (!ok) {
        failed(r, c->ctx, "warm-up", kiln_errcode(c->ctx));
        return;
    }
    if (c->ctx) {
        c->temp0 = kiln_ctx_counter(c->ctx, KILN_COUNTER_TEMP_BYTES);
        c->fb0 = kiln_ctx_counter(c->ctx, KILN_COUNTER_FALLBACKS);
        c->jit0 = kiln_ctx_counter(c->ctx, KILN_COUNTER_CACHE_HITS) +
                  kiln_ctx_counter(c->ctx, KILN_COUNTER_CACHE_MISSES);
    }
    c->active = true;
}

/* Timed run i: one batch. */
static void case_time(bcase *c, int i)
{
    case_threads(c); /* outside the clock */
    double t0 = now_s();
    for (long k = 0; k < c->batch; k++)
        if (!case_eval(c)) {
            failed(c->r, c->ctx, "timed evaluation", kiln_errcode(c->ctx));
            c->active = false;
            return;
        }
    c->t[i] = (now_s() - t0) / (double)c->batch;
    c->evals += (double)c->batch;
}

static void case_finish(bcase *c, const options *o)
{
    result *r = c->r;
    if (!c->active)
        return;
    summarize(r, c->t, o->runs);
    if (!c->ctx) {
        r->temp_bytes = c->d->scratch_bytes; /* preallocated, reused */
    } else {
        r->temp_bytes =
            (double)(kiln_ctx_counter(c->ctx, KILN_COUNTER_TEMP_BYTES) - c->temp0) / c->evals;
        r->fallbacks = kiln_ctx_counter(c->ctx, KILN_COUNTER_FALLBACKS) - c->fb0;
        r->ran_jit = kiln_ctx_counter(c->ctx, KILN_COUNTER_CACHE_HITS) +
                         kiln_ctx_counter(c->ctx, KILN_COUNTER_CACHE_MISSES) >
                     c->jit0;
        if (c->mode != M_INTERP && r->fallbacks)
            note_add(r, "%" PRIu64 " interpreter fallbacks: %s", r->fallbacks,
                     kiln_last_fallback(c->ctx));
        else if (c->mode != M_INTERP && !r->ran_jit)
            note_add(r, "no kernel looked up: JIT not active");
    }
    r->ok = check_result(c);
}

/* The interpreter is the oracle: where the reference is only within a
 * bound (sums in another order), fused and unfused must still give the
 * interpreter's bits (kiln's reductions have one order in every mode and
 * at any thread count). c is a checked case, in its interpreter's result
 * (from the 1-thread first call, kept for the all-cores cases). */
static void check_vs_interp(const bcase *c, const bcase *in)
{
    result *r = c->r;
    if (!c->w->check || c->w->check == check_sinlog || !r->ok || !c->valid || !in->valid ||
        c->mode == M_HANDC || c->mode == M_INTERP)
        return;
    for (int k = 0; k < c->d->nout; k++) {
        const out_desc *o = &c->d->od[k];
        size_t sz = kiln_dtype_size(o->dtype), off = (size_t)o->lead * sz;
        if (memcmp((char *)c->out[k] + off, (char *)in->out[k] + off, out_elems(o) * sz) != 0) {
            snprintf(r->check, sizeof r->check, "MISMATCH");
            note_add(r, "output %d differs from the interpreter's bits", k);
            r->ok = false;
            return;
        }
    }
    snprintf(r->check + strlen(r->check), sizeof r->check - strlen(r->check), ",=interp");
}

/* Every mode of w at every thread count; false if a case failed. */
static bool run_workload(const workload *w, const wl_data *d, const options *o)
{
    bcase c[M_COUNT];
    double *t = calloc((size_t)o->runs * M_COUNT, sizeof(double));
    if (!t) {
        fprintf(stderr, "bench: out of memory\n");
        exit(2);
    }
    for (int m = 0; m < M_COUNT; m++) {
        case_setup(&c[m], w, d, m);
        c[m].t = t + (size_t)m * (size_t)o->runs;
    }
    bool all_ok = true;
    for (int ti = 0; ti < g_nthreads; ti++) {
        int th = g_threads[ti];
        bool on[M_COUNT];
        for (int m = 0; m < M_COUNT; m++) {
            on[m] = !(m == M_INTERP && th != 1); /* the interpreter: one thread */
            if (on[m] && m == M_INTERP && w->interp_quick && !o->quick) {
                result *r = &g_results[g_nresults++];
                *r = (result){.w = w, .mode = m, .threads = th, .n = d->n,
                              .min_bytes = d->min_bytes, .ok = true};
                snprintf(r->check, sizeof r->check, "not run");
                note_add(r, "seconds per call at this size; --quick runs it");
                on[m] = false;
                progress(r);
            } else if (on[m]) {
                case_start(&c[m], o, &g_results[g_nresults++], th);
            }
        }
        for (int i = 0; i < o->runs; i++)
            for (int m = 0; m < M_COUNT; m++)
                if (on[m] && c[m].active)
                    case_time(&c[m], i);
        for (int m = 0; m < M_COUNT; m++)
            if (on[m]) {
                case_finish(&c[m], o);
                check_vs_interp(&c[m], &c[M_INTERP]);
                all_ok &= c[m].r->ok;
                progress(c[m].r);
            }
    }
    for (int m = 0; m < M_COUNT; m++)
        case_teardown(&c[m]);
    hc_set_threads(1);
    free(t);
    return all_ok;
}

/* ---- the triad ------------------------------------------------------------- */

static double run_triad(const options *o, int threads)
{
    int64_t n = o->quick ? (1 << 21) : (1 << 24); /* 3 x 128 MB by default */
    double *a = alloc_f64(n), *b = alloc_f64(n), *c = alloc_f64(n);
    hc_set_threads(threads);
    for (int64_t i = 0; i < n; i++) {
        a[i] = 0.0;
        b[i] = 1.0 + (double)(i & 7);
        c[i] = 2.0;
    }
    int runs = o->runs < 10 ? 10 : o->runs;
    double best = INFINITY;
    hc_triad(a, b, c, 3.0, n); /* warm-up */
    for (int i = 0; i < runs; i++) {
        double t0 = now_s();
        hc_triad(a, b, c, 3.0, n);
        double dt = now_s() - t0;
        best = dt < best ? dt : best;
    }
    hc_set_threads(1);
    double gbs = 3.0 * 8.0 * (double)n / best / 1e9;
    fprintf(stderr, "bench: triad a=b+s*c, %" PRId64 " doubles x 3, %d thread%s, best of %d: "
                    "%.2f ms, %.2f GB/s\n",
            n, threads, threads == 1 ? "" : "s", runs, best * 1e3, gbs);
    bench_free(a);
    bench_free(b);
    bench_free(c);
    return gbs;
}

/* Bandwidth of writing freshly allocated memory once: what every new
 * temporary or output array costs on top of the arithmetic (page faults;
 * very slow in some VMs). */
static double run_fresh(void)
{
    size_t bytes = (size_t)64 << 20; /* above glibc's largest mmap threshold
                                        (32 MB): always fresh pages */
    double best = INFINITY;
    for (int i = 0; i < 3; i++) {
        double t0 = now_s();
        char *volatile p = malloc(bytes);
        if (!p)
            return 0.0;
        memset(p, i + 1, bytes);
        double dt = now_s() - t0;
        free(p);
        best = dt < best ? dt : best;
    }
    double gbs = (double)bytes / best / 1e9;
    fprintf(stderr, "bench: fresh memory: malloc + first write of %zu MB, best of 3: %.2f ms, "
                    "%.2f GB/s\n",
            bytes >> 20, best * 1e3, gbs);
    return gbs;
}

/* ---- output ------------------------------------------------------------------ */

static const result *find_result(const workload *w, int mode, int threads)
{
    for (size_t i = 0; i < g_nresults; i++)
        if (g_results[i].w == w && g_results[i].mode == mode && g_results[i].threads == threads &&
            g_results[i].runs)
            return &g_results[i];
    return NULL;
}

static const result *find_any(const workload *w, int mode, int threads)
{
    for (size_t i = 0; i < g_nresults; i++)
        if (g_results[i].w == w && g_results[i].mode == mode && g_results[i].threads == threads)
            return &g_results[i];
    return NULL;
}

static const workload *find_workload(const char *id)
{
    for (size_t i = 0; i < NWORKLOADS; i++)
        if (strcmp(WORKLOADS[i].id, id) == 0)
            return &WORKLOADS[i];
    return NULL;
}

static double gbs_of(const result *r) { return r->min_bytes / r->median / 1e9; }

static void fmt_time(char *buf, size_t cap, double s, bool per_eval)
{
    if (per_eval)
        snprintf(buf, cap, "%.3f us", s * 1e6);
    else
        snprintf(buf, cap, "%.2f ms", s * 1e3);
}

static void fmt_bytes(char *buf, size_t cap, double b)
{
    if (b < 1e6)
        snprintf(buf, cap, "%.0f KB", b / 1e3);
    else
        snprintf(buf, cap, "%.1f MB", b / 1e6);
}

static void print_row(const result *r)
{
    const workload *w = r->w;
    char med[24] = "-", mn[24] = "-", mx[24] = "-", gbs[16] = "-", pct[16] = "-", vsu[16] = "",
         vsh[16] = "", tmp[16] = "-", first[24] = "-";
    if (r->runs) {
        fmt_time(med, sizeof med, r->median, w->per_eval);
        fmt_time(mn, sizeof mn, r->min, w->per_eval);
        fmt_time(mx, sizeof mx, r->max, w->per_eval);
        if (!w->per_eval) {
            snprintf(gbs, sizeof gbs, "%.2f", gbs_of(r));
            snprintf(pct, sizeof pct, "%.0f%%", 100.0 * gbs_of(r) / triad_for(r->threads));
        }
        const result *u = find_result(w, M_UNFUSED, r->threads),
                     *h = find_result(w, M_HANDC, r->threads);
        if (r->mode == M_FUSED && u)
            snprintf(vsu, sizeof vsu, "%.2fx", u->median / r->median);
        if (r->mode != M_HANDC && h)
            snprintf(vsh, sizeof vsh, "%.2fx", r->median / h->median);
        snprintf(tmp, sizeof tmp, "%.1f", r->temp_bytes / 1e6);
    }
    if (r->first > 0)
        snprintf(first, sizeof first, "%.2f ms %3" PRIu64, r->first * 1e3, r->first_compiles);
    printf("%-4s %-8s %3d %12s %12s %12s %7s %6s %8s %8s %8s %15s  %s%s%s\n", "",
           MODE_NAME[r->mode], r->threads, med, mn, mx, gbs, pct, vsu, vsh, tmp, first, r->check,
           r->note[0] ? " — " : "", r->note);
}

static void print_table(const options *o, const char *cpu, long cores)
{
    printf("\nkiln %s benchmark — %s, %ld cores%s\n", KILN_VERSION_STRING, cpu, cores,
           o->quick ? " (--quick: small sizes, not representative)" : "");
    printf("memory bandwidth (STREAM triad, best run):");
    for (int i = 0; i < g_nthreads; i++)
        printf("%s %.2f GB/s at %d thread%s", i ? "," : "", g_triad_gbs[i], g_threads[i],
               g_threads[i] == 1 ? "" : "s");
    printf("\nfresh memory (malloc + first write, page faults): %.2f GB/s — the price of every "
           "new\ntemporary, paid by unfused and interpreted evaluation\n\n",
           g_fresh_gbs);
    printf("%-4s %-8s %3s %12s %12s %12s %7s %6s %8s %8s %8s %15s  %s\n", "id", "mode", "thr",
           "median", "min", "max", "GB/s", "%bw", "vs unf.", "vs hand", "temp MB", "1st call  #k",
           "check");
    for (size_t k = 0; k < NWORKLOADS; k++) {
        const workload *w = &WORKLOADS[k];
        bool header = false;
        for (int ti = 0; ti < g_nthreads; ti++)
            for (int m = 0; m < M_COUNT; m++) {
                const result *r = find_any(w, m, g_threads[ti]);
                if (!r)
                    continue;
                if (!header) {
                    char mb[24];
                    fmt_bytes(mb, sizeof mb, r->min_bytes);
                    printf("-- %s %s: %s; n = %" PRId64 ", min bytes %s\n", w->id, w->name,
                           w->text, r->n, mb);
                    header = true;
                }
                print_row(r);
            }
    }
    printf("\n"
           "thr      threads: 1, and all cores (kiln_ctx_set_threads; hand-C: OpenMP).\n"
           "vs unf.  unfused median / fused median, same threads: what fusion buys.\n"
           "vs hand  median / hand-C median, same threads (hand-C: bench/handc.c, -O3\n"
           "         -march=native; interp and unfused compare with it too).\n"
           "GB/s     min bytes / median: each input element read once, each output element\n"
           "         written once (strided: whole cache lines move 1.5x its min bytes;\n"
           "         records: the whole 19-byte record counts, its fields share lines).\n"
           "%%bw      GB/s as a percentage of the triad at the same thread count.\n"
           "temp MB  temporaries allocated per evaluation (KILN_COUNTER_TEMP_BYTES; hand-C:\n"
           "         its preallocated scratch).\n"
           "1st call first evaluation in the case's context (#k: kernels it compiled; the\n"
           "         disk cache is off): at 1 thread it starts the JIT and compiles; at all\n"
           "         cores (same context) it starts the workers and calibrates.\n"
           "check    against hand-C at 1 thread: exact = bit-identical; <=10ulp = within 10\n"
           "         ulps of the largest term (hand-C calls scalar libm; kiln, libmvec);\n"
           "         bound = within the first-order error bound of the two summation\n"
           "         orders (pairwise vs the hand loop's accumulators; bench.c sum_bound);\n"
           "         ,=interp: and bit-identical to the interpreter's result.\n");
}

static int print_target(const char *id, int threads, const char *what, double got, double want,
                        bool at_most, const char *unit)
{
    bool met = at_most ? got <= want : got >= want;
    printf("  %-4s %2dT %-28s %9.2f%-2s %s %7.2f%-2s  %s\n", id, threads, what, got, unit,
           at_most ? "<=" : ">=", want, unit, met ? "met" : "MISSED");
    return met ? 0 : 1;
}

/* The issues' targets, measured (fused mode), at each thread count;
 * informational. */
static void print_targets(const options *o)
{
    printf("\ntargets (issues 3 and 6)%s:\n",
           o->quick ? "; --quick sizes fit in cache, so these say little" : "");
    int missed = 0, total = 0;
    for (int ti = 0; ti < g_nthreads; ti++) {
        int th = g_threads[ti];
        for (size_t k = 0; k < NWORKLOADS; k++) {
            const workload *w = &WORKLOADS[k];
            const result *f = find_result(w, M_FUSED, th), *u = find_result(w, M_UNFUSED, th),
                         *h = find_result(w, M_HANDC, th);
            if (!f)
                continue;
            if (w->t.memory_bound && h) {
                missed += print_target(w->id, th, "fused / hand-C", f->median / h->median, 1.15,
                                       true, "x");
                missed += print_target(w->id, th, "fused % of triad",
                                       100.0 * gbs_of(f) / triad_for(th), 80.0, false, "%");
                total += 2;
            }
            if (w->t.min_speedup > 0 && u) {
                missed += print_target(w->id, th, "unfused / fused", u->median / f->median,
                                       w->t.min_speedup, false, "x");
                total++;
            }
            const workload *v = w->t.vs_id ? find_workload(w->t.vs_id) : NULL;
            const result *fv = v ? find_result(v, M_FUSED, th) : NULL;
            if (fv) {
                char what[64];
                snprintf(what, sizeof what, "fused / %s fused", v->id);
                missed += print_target(w->id, th, what, f->median / fv->median, w->t.max_vs, true,
                                       "x");
                total++;
            }
            if (w->t.max_us > 0) {
                missed += print_target(w->id, th, "fused per evaluation", f->median * 1e6,
                                       w->t.max_us, true, "us");
                total++;
            }
        }
    }
    printf("  %d of %d targets met\n", total - missed, total);
}

static void json_str(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            fprintf(f, "\\%c", c);
        else if (c < 0x20)
            fprintf(f, "\\u%04x", c);
        else
            fputc(c, f);
    }
    fputc('"', f);
}

static void json_num(FILE *f, double v, bool valid)
{
    if (valid && isfinite(v))
        fprintf(f, "%.6g", v);
    else
        fputs("null", f);
}

static bool close_file(FILE *f, const char *path)
{
    bool ok = !ferror(f);
    ok = fclose(f) == 0 && ok;
    if (!ok)
        perror(path);
    return ok;
}

/* Issue 6's schema exactly; stream_triad_gbs is keyed by thread count
 * ("1" and the all-cores count). */
static bool write_json(const char *path, const char *cpu, long cores)
{
    FILE *f = fopen(path, "w");
    if (!f) {
        perror(path);
        return false;
    }
    fprintf(f, "{\n  \"kiln_version\": \"%s\",\n  \"machine\": {\"cpu\": ", KILN_VERSION_STRING);
    json_str(f, cpu);
    fprintf(f, ", \"cores\": %ld, \"stream_triad_gbs\": {", cores);
    for (int i = 0; i < g_nthreads; i++)
        fprintf(f, "%s\"%d\": %.4g", i ? ", " : "", g_threads[i], g_triad_gbs[i]);
    fprintf(f, "}},\n  \"results\": [\n");
    for (size_t i = 0; i < g_nresults; i++) {
        const result *r = &g_results[i];
        bool t = r->runs > 0;
        fprintf(f, "    {\"workload\": ");
        json_str(f, r->w->id);
        fprintf(f, ", \"mode\": \"%s\", \"threads\": %d, \"median_ms\": ", MODE_JSON[r->mode],
                r->threads);
        json_num(f, r->median * 1e3, t);
        fprintf(f, ", \"min_ms\": ");
        json_num(f, r->min * 1e3, t);
        fprintf(f, ", \"max_ms\": ");
        json_num(f, r->max * 1e3, t);
        fprintf(f, ", \"runs\": %d, \"first_call_ms\": ", r->runs);
        json_num(f, r->first * 1e3, r->first > 0);
        fprintf(f, ", \"min_bytes\": %.0f, \"gbs\": ", r->min_bytes);
        json_num(f, gbs_of(r), t && !r->w->per_eval);
        fprintf(f, ", \"temp_bytes\": ");
        json_num(f, r->temp_bytes, t);
        fprintf(f, ", \"check\": ");
        json_str(f, r->check);
        fprintf(f, "}%s\n", i + 1 < g_nresults ? "," : "");
    }
    fprintf(f, "  ]\n}\n");
    return close_file(f, path);
}

/* ---- the chart ----------------------------------------------------------------
 * A grouped bar chart in plain SVG: per workload, fused, unfused and hand-C
 * at each thread count, as time relative to hand-C at the first thread
 * count (1), on a log axis (lower is better); hovering a bar shows its
 * time. */

static const char *const SVG_COLOR[MAX_THREADS_RUNS][3] = {
    {"#9ecae1", "#fdae6b", "#bdbdbd"}, /* fused, unfused, hand-C at 1 thread */
    {"#2171b5", "#d94801", "#525252"}, /* ... at all cores */
};
static const int SVG_MODES[3] = {M_FUSED, M_UNFUSED, M_HANDC};

static bool write_svg(const char *path, const char *cpu)
{
    const workload *ws[NWORKLOADS];
    const result *base[NWORKLOADS];
    size_t ng = 0;
    double lo = 1.0, hi = 1.0;
    for (size_t k = 0; k < NWORKLOADS; k++) {
        const result *b = find_result(&WORKLOADS[k], M_HANDC, g_threads[0]);
        if (!b)
            continue;
        ws[ng] = &WORKLOADS[k];
        base[ng++] = b;
        for (int ti = 0; ti < g_nthreads; ti++)
            for (int m = 0; m < 3; m++) {
                const result *r = find_result(&WORKLOADS[k], SVG_MODES[m], g_threads[ti]);
                if (r) {
                    lo = fmin(lo, r->median / b->median);
                    hi = fmax(hi, r->median / b->median);
                }
            }
    }
    double l0 = floor(log10(lo)), l1 = ceil(log10(hi));
    if (l1 - l0 < 1)
        l1 = l0 + 1;
    const double bw = 11, gap = 20, left = 70, top = 96, plot_h = 360, bottom = 60;
    double gw = fmax(bw * 3 * g_nthreads + gap, 84.0); /* room for the names */
    double width = left + gw * (double)(ng ? ng : 1) + 20, height = top + plot_h + bottom;
#define SVG_Y(v) (top + plot_h * (l1 - log10(v)) / (l1 - l0))
    FILE *f = fopen(path, "w");
    if (!f) {
        perror(path);
        return false;
    }
    fprintf(f, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" "
               "viewBox=\"0 0 %.0f %.0f\" font-family=\"sans-serif\" font-size=\"12\">\n"
               "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n",
            width, height, width, height);
    fprintf(f, "<text x=\"%.0f\" y=\"22\" font-size=\"16\" font-weight=\"bold\">kiln %s: time "
               "relative to hand-written C at %d thread%s (log scale, lower is better)</text>\n",
            left, KILN_VERSION_STRING, g_threads[0], g_threads[0] == 1 ? "" : "s");
    fprintf(f, "<text x=\"%.0f\" y=\"40\" fill=\"#555\">", left);
    for (const char *p = cpu; *p; p++) /* XML-escape the CPU name */
        fputs(*p == '<' ? "&lt;" : *p == '>' ? "&gt;" : *p == '&' ? "&amp;" : (char[2]){*p, 0},
              f);
    fprintf(f, "; triad");
    for (int i = 0; i < g_nthreads; i++)
        fprintf(f, "%s %.1f GB/s at %d thread%s", i ? "," : "", g_triad_gbs[i], g_threads[i],
                g_threads[i] == 1 ? "" : "s");
    fprintf(f, "; hover a bar for its time</text>\n");
    for (int ti = 0; ti < g_nthreads; ti++) /* legend */
        for (int m = 0; m < 3; m++) {
            double x = left + (double)(ti * 3 + m) * 150, y = 56;
            fprintf(f, "<rect x=\"%.0f\" y=\"%.0f\" width=\"14\" height=\"14\" fill=\"%s\"/>"
                       "<text x=\"%.0f\" y=\"%.0f\">%s, %d thread%s</text>\n",
                    x, y, SVG_COLOR[ti][m], x + 19, y + 12, MODE_NAME[SVG_MODES[m]],
                    g_threads[ti], g_threads[ti] == 1 ? "" : "s");
        }
    for (double e = l0; e <= l1; e++) /* grid: 1, 2, 5 per decade */
        for (int s = 0; s < 3; s++) {
            double v = pow(10.0, e) * (s == 0 ? 1 : s == 1 ? 2 : 5);
            if (v > pow(10.0, l1) * 1.0001)
                break;
            double y = SVG_Y(v);
            fprintf(f, "<line x1=\"%.0f\" y1=\"%.1f\" x2=\"%.0f\" y2=\"%.1f\" stroke=\"%s\"%s/>"
                       "<text x=\"%.0f\" y=\"%.1f\" text-anchor=\"end\">%gx</text>\n",
                    left, y, width - 20, y, s == 0 ? "#bbb" : "#e5e5e5",
                    fabs(v - 1.0) < 1e-9 ? " stroke-dasharray=\"6,3\" stroke-width=\"1.5\"" : "",
                    left - 6, y + 4, v);
        }
    fprintf(f, "<text transform=\"translate(18,%.0f) rotate(-90)\" text-anchor=\"middle\">"
               "time / hand-C time at %d thread%s</text>\n",
            top + plot_h / 2, g_threads[0], g_threads[0] == 1 ? "" : "s");
    for (size_t g = 0; g < ng; g++) {
        double x0 = left + (gw - bw * 3 * g_nthreads) / 2 + gw * (double)g;
        for (int ti = 0; ti < g_nthreads; ti++)
            for (int m = 0; m < 3; m++) {
                const result *r = find_result(ws[g], SVG_MODES[m], g_threads[ti]);
                if (!r)
                    continue;
                double v = r->median / base[g]->median, y = SVG_Y(v);
                char t[24];
                fmt_time(t, sizeof t, r->median, ws[g]->per_eval);
                fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.0f\" height=\"%.1f\" "
                           "fill=\"%s\"><title>%s %s, %s, %d thread%s: %s (%.2fx)</title></rect>\n",
                        x0 + bw * (double)(ti * 3 + m), y, bw - 1, top + plot_h - y,
                        SVG_COLOR[ti][m], ws[g]->id, ws[g]->name, MODE_NAME[SVG_MODES[m]],
                        g_threads[ti], g_threads[ti] == 1 ? "" : "s", t, v);
            }
        double xc = x0 + bw * 3 * g_nthreads / 2;
        fprintf(f, "<text x=\"%.1f\" y=\"%.0f\" text-anchor=\"middle\" font-weight=\"bold\">%s"
                   "</text><text x=\"%.1f\" y=\"%.0f\" text-anchor=\"middle\" fill=\"#555\">%s"
                   "</text>\n",
                xc, top + plot_h + 18, ws[g]->id, xc, top + plot_h + 33, ws[g]->name);
    }
    fprintf(f, "<line x1=\"%.0f\" y1=\"%.0f\" x2=\"%.0f\" y2=\"%.0f\" stroke=\"black\"/>\n"
               "<line x1=\"%.0f\" y1=\"%.0f\" x2=\"%.0f\" y2=\"%.0f\" stroke=\"black\"/>\n",
            left, top, left, top + plot_h, left, top + plot_h, width - 20, top + plot_h);
    fprintf(f, "</svg>\n");
#undef SVG_Y
    return close_file(f, path);
}

static void cpu_name(char *buf, size_t cap)
{
    snprintf(buf, cap, "unknown");
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (!f)
        return;
    char line[512];
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, "model name", 10) == 0) {
            char *p = strchr(line, ':');
            if (p) {
                p++;
                while (*p == ' ' || *p == '\t')
                    p++;
                p[strcspn(p, "\n")] = 0;
                snprintf(buf, cap, "%s", p);
            }
            break;
        }
    }
    fclose(f);
}

/* ---- main ---------------------------------------------------------------------- */

/* w is selected by its name, or by its id with an optional trailing
 * letter: W4 selects W4a..W4d, W7 both W7a and W7b. */
static bool selected_by(const char *only, const workload *w)
{
    if (!only)
        return true;
    const char *p = only;
    while (*p) {
        size_t len = strcspn(p, ",");
        if ((strlen(w->name) == len && strncmp(p, w->name, len) == 0) ||
            (strlen(w->id) >= len && strncasecmp(p, w->id, len) == 0 &&
             (w->id[len] == 0 || (w->id[len] >= 'a' && w->id[len] <= 'z' && w->id[len + 1] == 0))))
            return true;
        p += len + (p[len] == ',');
    }
    return false;
}

static void usage(FILE *f)
{
    fprintf(f, "usage: kiln_bench [--quick] [--only NAME[,NAME...]] [--threads N] [--runs N]\n"
               "                  [--json FILE] [--svg FILE]\n"
               "  --quick      small sizes and 3 runs (under 30 s; what CI runs)\n"
               "  --only       workloads by name or issue-6 id (W4 = W4a..W4d):\n");
    for (size_t i = 0; i < NWORKLOADS; i++)
        fprintf(f, "                 %-4s %-9s %s\n", WORKLOADS[i].id, WORKLOADS[i].name,
                WORKLOADS[i].text);
    fprintf(f, "  --threads N  only N threads (0: all cores); default 1 and all cores\n"
               "  --runs N     timed runs per case (default 11, --quick 3)\n"
               "  --json F     also write the results as JSON to F\n"
               "  --svg F      also write a bar chart as SVG to F\n");
}

static bool parse_count(const char *s, int lo, int hi, int *out)
{
    char *end;
    long v = strtol(s, &end, 10);
    if (!*s || *end || v < lo || v > hi)
        return false;
    *out = (int)v;
    return true;
}

static bool parse_args(int argc, char **argv, options *o)
{
    *o = (options){.runs = 0, .threads = -1, .budget = 0.25, .budget_jit = 10.0, .batch_s = 0.02};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        bool has = i + 1 < argc;
        if (strcmp(a, "--quick") == 0) {
            o->quick = true;
        } else if (strcmp(a, "--only") == 0 && has) {
            o->only = argv[++i];
        } else if (strcmp(a, "--json") == 0 && has) {
            o->json = argv[++i];
        } else if (strcmp(a, "--svg") == 0 && has) {
            o->svg = argv[++i];
        } else if (strcmp(a, "--runs") == 0 && has) {
            if (!parse_count(argv[++i], 1, 100000, &o->runs)) {
                fprintf(stderr, "bench: --runs wants a count >= 1\n");
                return false;
            }
        } else if (strcmp(a, "--threads") == 0 && has) {
            if (!parse_count(argv[++i], 0, KILN_MAX_THREADS, &o->threads)) {
                fprintf(stderr, "bench: --threads wants a count in [0, %d]\n", KILN_MAX_THREADS);
                return false;
            }
        } else if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            exit(0);
        } else {
            fprintf(stderr, "bench: unknown argument '%s'\n", a);
            usage(stderr);
            return false;
        }
    }
    if (!o->runs)
        o->runs = o->quick ? 3 : 11;
    if (o->quick) {
        o->budget_jit = 2.0;
        o->batch_s = 0.002;
    }
    for (const char *p = o->only; p && *p;) { /* every name must select something */
        size_t len = strcspn(p, ",");
        char name[64];
        snprintf(name, sizeof name, "%.*s", (int)(len < 63 ? len : 63), p);
        bool any = false;
        for (size_t k = 0; k < NWORKLOADS; k++)
            any |= selected_by(name, &WORKLOADS[k]);
        if (!any) {
            fprintf(stderr, "bench: no workload named '%s'\n", name);
            usage(stderr);
            return false;
        }
        p += len + (p[len] == ',');
    }
    return true;
}

static void free_data(wl_data *d)
{
    for (int i = 0; i < d->nin; i++)
        if (!d->in_shared)
            bench_free(d->in[i]);
    for (int k = 0; k < d->nout; k++)
        bench_free(d->ref[k]);
    bench_free(d->scratch[0]);
    bench_free(d->scratch[1]);
}

int main(int argc, char **argv)
{
    /* libgomp reads its settings when it loads: set them by re-running
     * ourselves. Waiting OpenMP threads sleep instead of spinning (kiln's
     * idle workers block too): on a machine shared with other processes a
     * spinning thread can hold the core the other thread needs, and a
     * parallel region then costs a scheduler time slice (~12 ms seen). */
    if (!getenv("OMP_WAIT_POLICY") && setenv("OMP_WAIT_POLICY", "passive", 1) == 0)
        execv("/proc/self/exe", argv); /* on failure, run as we are */
    options o;
    if (!parse_args(argc, argv, &o))
        return 2;
    char cpu[256];
    cpu_name(cpu, sizeof cpu);
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    cores = cores < 1 ? 1 : cores > KILN_MAX_THREADS ? KILN_MAX_THREADS : cores;
    double start = now_s();

    if (o.threads < 0) {
        g_threads[g_nthreads++] = 1;
        if (cores > 1)
            g_threads[g_nthreads++] = (int)cores;
    } else {
        g_threads[g_nthreads++] = o.threads ? o.threads : (int)cores;
    }
    for (int i = 0; i < g_nthreads; i++)
        g_triad_gbs[i] = run_triad(&o, g_threads[i]);
    g_fresh_gbs = run_fresh();
    bool all_ok = true;
    for (size_t k = 0; k < NWORKLOADS; k++) {
        const workload *w = &WORKLOADS[k];
        if (!selected_by(o.only, w))
            continue;
        wl_data d = {.n = o.quick ? w->n_quick : w->n};
        /* "kiln", per workload number: W3 and W3s, W7a and W7b see the same x */
        rng r = {.s = 0x6b696c6e00000000ull + (uint64_t)strtol(w->id + 1, NULL, 10)};
        w->init(&d, &r);
        for (int j = 0; j < d.nout; j++)
            d.ref[j] = alloc_bytes(out_bytes(&d.od[j]));
        fprintf(stderr, "bench: %s %s: %s, n = %" PRId64 "\n", w->id, w->name, w->text, d.n);
        hc_set_threads(1);
        w->handc(&d, d.ref); /* the reference */
        all_ok &= run_workload(w, &d, &o);
        free_data(&d);
    }
    bench_free(g_matrix);
    recycle_drain();
    print_table(&o, cpu, cores);
    print_targets(&o);
    fprintf(stderr, "bench: done in %.1f s%s\n", now_s() - start,
            all_ok ? "" : " — FAILURES (see the check column)");
    fflush(stderr);
    if (o.json) {
        if (write_json(o.json, cpu, cores))
            printf("JSON written to %s\n", o.json);
        else
            all_ok = false;
    }
    if (o.svg) {
        if (write_svg(o.svg, cpu))
            printf("SVG chart written to %s\n", o.svg);
        else
            all_ok = false;
    }
    return all_ok ? 0 : 1;
}
