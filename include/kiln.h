/*
 * kiln.h — the one public header of kiln.
 *
 * kiln evaluates NumPy-style array expressions from C. Building an
 * expression computes nothing: constructors return handles to nodes of a
 * lazy DAG owned by a context. kiln_eval() fuses the DAG into as few loop
 * nests as possible, compiles each through LLVM to vectorized native code
 * (cached by a shape/stride/dtype signature) and runs it.
 *
 * Ownership, once for the whole API:
 *   - kiln_ctx: kiln_ctx_new() / kiln_ctx_free(). Everything below lives
 *     inside one context and may not be mixed with another context's.
 *   - kiln_array: refcounted. Every function that hands out a kiln_array*
 *     through an out-parameter gives the caller one reference, released
 *     with kiln_array_release(). Views keep their base buffer alive.
 *   - kiln_expr: a small value handle (copy it freely) naming a node of the
 *     context's DAG. Nodes live until the innermost enclosing scope ends
 *     (kiln_scope_begin/end) or the context is freed. A handle used after
 *     its node was reclaimed is detected (KILN_ESTALE), never dereferenced.
 *   - const char* results point into the library; they stay valid until the
 *     next call on the same context (errmsg) or forever (names).
 *
 * Errors: functions return kiln_status; expression constructors return an
 * error handle instead, which propagates through every constructor it is
 * passed to (sticky), so expressions chain without checks in between and
 * kiln_eval() reports the first error. kiln_errmsg() says what went wrong.
 * The library never prints, exits or aborts on a user error.
 *
 * Threads: one context may be used from several threads at once for
 * evaluation; building expressions and scopes on one context must be
 * serialized by the caller (as for an sqlite3 connection in serialized mode,
 * kiln locks internally around the graph, so it is safe, but scopes are a
 * per-context stack).
 */
#ifndef KILN_H
#define KILN_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define KILN_API __attribute__((visibility("default")))
#else
#define KILN_API
#endif

#define KILN_VERSION_MAJOR 0
#define KILN_VERSION_MINOR 1
#define KILN_VERSION_PATCH 0
#define KILN_VERSION_STRING "0.1.0"

/* Maximum rank of an array or expression. */
#define KILN_MAX_RANK 8

/* ------------------------------------------------------------------ */
/* Status codes: one list, generating the enum and the name tables.    */
/* ------------------------------------------------------------------ */
#define KILN_STATUS_MAP(X)                                                     \
    X(OK, "success")                                                           \
    X(ENOMEM, "out of memory")                                                 \
    X(EINVAL, "invalid argument")                                              \
    X(ENULL, "NULL handle or pointer")                                         \
    X(ESHAPE, "shapes do not match or do not broadcast")                       \
    X(EDTYPE, "dtype not supported by this operation")                         \
    X(ERANK, "rank out of range")                                              \
    X(EAXIS, "axis out of range")                                              \
    X(EOVERFLOW, "size or value overflows")                                    \
    X(ESTALE, "expression handle no longer valid")                             \
    X(EFOREIGN, "handle belongs to another context")                           \
    X(EVIEW, "result is not expressible as a view; copy first")                \
    X(EINDEX, "index out of range")                                            \
    X(ESCOPE, "scopes ended out of order")                                     \
    X(EJIT, "JIT compilation failed")                                          \
    X(EIO, "input/output error")                                               \
    X(EINTERNAL, "internal error")                                             \
    X(ESYNTAX, "syntax error in an expression string or a file header")

typedef enum kiln_status {
#define KILN_X_(name, desc) KILN_##name,
    KILN_STATUS_MAP(KILN_X_)
#undef KILN_X_
    KILN_STATUS_COUNT
} kiln_status;

/* "KILN_ESHAPE" for KILN_ESHAPE; "KILN_?" for an unknown code. */
KILN_API const char *kiln_status_name(kiln_status s);
/* A one-line description: "shapes do not match or do not broadcast". */
KILN_API const char *kiln_status_str(kiln_status s);

/* ------------------------------------------------------------------ */
/* Dtypes: one list, generating the enum and the name tables.          */
/* X(ENUM, name, size in bytes)                                        */
/* ------------------------------------------------------------------ */
#define KILN_DTYPE_MAP(X)                                                      \
    X(BOOL, "bool", 1)                                                         \
    X(INT8, "int8", 1)                                                         \
    X(INT16, "int16", 2)                                                       \
    X(INT32, "int32", 4)                                                       \
    X(INT64, "int64", 8)                                                       \
    X(UINT8, "uint8", 1)                                                       \
    X(UINT16, "uint16", 2)                                                     \
    X(UINT32, "uint32", 4)                                                     \
    X(UINT64, "uint64", 8)                                                     \
    X(FLOAT32, "float32", 4)                                                   \
    X(FLOAT64, "float64", 8)

typedef enum kiln_dtype {
#define KILN_X_(e, name, size) KILN_##e,
    KILN_DTYPE_MAP(KILN_X_)
#undef KILN_X_
    KILN_DTYPE_COUNT
} kiln_dtype;

/* "float64"; NULL for an invalid dtype. */
KILN_API const char *kiln_dtype_name(kiln_dtype t);
/* Size in bytes; 0 for an invalid dtype. */
KILN_API size_t kiln_dtype_size(kiln_dtype t);
/* Parses "float64", "f8", "int32", "i4", "bool", "?" ...; -1 if unknown. */
KILN_API int kiln_dtype_from_name(const char *name);

/* ------------------------------------------------------------------ */
/* Context                                                             */
/* ------------------------------------------------------------------ */
typedef struct kiln_ctx kiln_ctx;

/* The allocation hook: every byte kiln allocates goes through it. Any of
 * the functions may fail by returning NULL; kiln then reports KILN_ENOMEM.
 * malloc/free are required; realloc may be NULL (kiln then uses
 * malloc+copy+free). */
typedef struct kiln_allocator {
    void *(*malloc)(void *ud, size_t size);
    void *(*realloc)(void *ud, void *ptr, size_t old_size, size_t new_size);
    void (*free)(void *ud, void *ptr, size_t size);
    void *ud;
} kiln_allocator;

typedef enum kiln_mode {
    KILN_MODE_DEFAULT = 0, /* the context's default (fused unless set) */
    KILN_MODE_FUSED,       /* one JIT kernel per fusable group          */
    KILN_MODE_UNFUSED,     /* one JIT kernel + temporary per node       */
    KILN_MODE_INTERP       /* the reference interpreter                 */
} kiln_mode;

/* Creates a context. alloc may be NULL (the C library's malloc). The
 * allocator is copied. Returns NULL only when allocation fails. */
KILN_API kiln_ctx *kiln_ctx_new(const kiln_allocator *alloc);
/* Frees the context, its DAG and kernels. Arrays created from it stay
 * valid until released (they carry their own copy of the allocator).
 * NULL is a no-op. */
KILN_API void kiln_ctx_free(kiln_ctx *ctx);

/* The status of the most recent failing call on ctx (KILN_OK if none since
 * kiln_clear_error) and its message, naming the problem. */
KILN_API kiln_status kiln_errcode(const kiln_ctx *ctx);
KILN_API const char *kiln_errmsg(const kiln_ctx *ctx);
KILN_API void kiln_clear_error(kiln_ctx *ctx);

/* Default evaluation mode of the context (KILN_MODE_FUSED initially). */
KILN_API kiln_status kiln_ctx_set_mode(kiln_ctx *ctx, kiln_mode mode);
KILN_API kiln_mode kiln_ctx_mode(const kiln_ctx *ctx);

/* Counters, readable at any time; kiln_ctx_reset_counters zeroes them. */
typedef enum kiln_counter {
    KILN_COUNTER_COMPILES,        /* kernels compiled by LLVM            */
    KILN_COUNTER_CACHE_HITS,      /* kernel lookups served by the cache  */
    KILN_COUNTER_CACHE_MISSES,    /* kernel lookups that compiled         */
    KILN_COUNTER_COMPILE_NS,      /* total compile time, nanoseconds     */
    KILN_COUNTER_KERNELS_LIVE,    /* compiled kernels currently cached   */
    KILN_COUNTER_EVICTIONS,       /* kernels evicted by the LRU bound    */
    KILN_COUNTER_FALLBACKS,       /* kernels run by the interpreter instead
                                     of the JIT (see kiln_last_fallback) */
    KILN_COUNTER_LAUNCHES,        /* kernel launches                     */
    KILN_COUNTER_TEMP_BYTES,      /* bytes of temporaries allocated      */
    KILN_COUNTER_NODES_LIVE,      /* DAG nodes currently alive            */
    KILN_COUNTER_POOL_HITS,       /* array allocations served by the
                                     buffer pool (no allocator call)     */
    KILN_COUNTER_POOL_BYTES,      /* idle bytes the buffer pool holds now */
    KILN_COUNTER_PARALLEL_LAUNCHES, /* kernel launches split over threads */
    KILN_COUNTER_DISK_HITS,       /* kernels loaded from the disk cache
                                     instead of compiled                 */
    KILN_COUNTER_DISK_WRITES,     /* kernels stored in the disk cache    */
    KILN_COUNTER_DISK_REJECTS,    /* disk cache entries found corrupt,
                                     truncated or foreign: not run, replaced */
    KILN_COUNTER_COUNT
} kiln_counter;
KILN_API uint64_t kiln_ctx_counter(const kiln_ctx *ctx, kiln_counter c);
KILN_API void kiln_ctx_reset_counters(kiln_ctx *ctx);
/* Why the last kernel that fell back to the interpreter did so; "" if none. */
KILN_API const char *kiln_last_fallback(const kiln_ctx *ctx);
/* Maximum number of compiled kernels kept live (LRU); default 1024. */
KILN_API kiln_status kiln_ctx_set_cache_limit(kiln_ctx *ctx, size_t max_kernels);

/* The persistent kernel cache: compiled kernels are also stored as object
 * files in a folder, so another process running the same work loads them
 * (~0.1 ms) instead of compiling (~10 ms). Entries are keyed by the
 * kernel's signature and everything its code depends on (kiln's build,
 * LLVM's version, CPU name and features, optimization pipeline, vector
 * library); each carries its full key and a checksum, and one that does
 * not match (truncated, corrupt, foreign) is never run: it is counted
 * (KILN_COUNTER_DISK_REJECTS) and replaced. Writes are atomic (a temporary
 * file renamed), so processes may share the folder. The folder is bounded:
 * past KILN_CACHE_MAX_MB megabytes (default 256) the least recently used
 * entries are removed. A folder that cannot be written leaves the cache in
 * memory only, with the reason in kiln_ctx_print_cache, not an error.
 *
 * kiln_ctx_new reads KILN_CACHE ("off" or "0" disables it), KILN_CACHE_DIR
 * (default $XDG_CACHE_HOME/kiln, else ~/.cache/kiln) and KILN_CACHE_MAX_MB.
 * kiln_ctx_set_disk_cache switches it for one context: on != 0 uses dir
 * (NULL: the environment's or the default folder). The launch policy's
 * thread calibration is kept in the same folder. */
KILN_API kiln_status kiln_ctx_set_disk_cache(kiln_ctx *ctx, int on, const char *dir);
/* Writes the disk cache's folder, state, entries, bytes and bound, and
 * this context's disk counters, to f. */
KILN_API kiln_status kiln_ctx_print_cache(kiln_ctx *ctx, FILE *f);
/* Removes every entry of the context's disk cache folder; *removed (may
 * be NULL) is the number of files removed. KILN_EIO if it cannot be read. */
KILN_API kiln_status kiln_ctx_clear_cache(kiln_ctx *ctx, uint64_t *removed);

/* ------------------------------------------------------------------ */
/* Threads and the buffer pool                                         */
/* ------------------------------------------------------------------ */
/* Elementwise kernels split their outermost loop over n threads: the
 * calling thread and n - 1 workers the context starts at its first launch
 * big enough to pay for waking them. Whether a launch is big enough comes
 * from the kernel's cost (bytes moved, work per element) and a measurement
 * made once per context (the cost of waking a thread against the time to
 * stream a byte); smaller work runs on the calling thread and wakes no
 * one. Idle workers block (after spinning about as long as a wake-up
 * costs). Reductions and scans split over their outputs (rows, columns,
 * lines); one long reduction runs pieces of its sequence as tasks, and one
 * long float cumsum or cumprod its blocks from 3 threads on. Results do
 * not depend on n: the same bits at any thread count. An evaluation uses
 * up to about 1 MB of the stack of the thread that calls kiln_eval (and
 * of the threads tasks run on): column reductions keep their chunks'
 * partial sums there.
 *
 * n = 0 means every CPU the process may run on; 1 starts no thread.
 * KILN_EINVAL if n < 0 or n > KILN_MAX_THREADS. The default is read from
 * the environment by kiln_ctx_new: KILN_NUM_THREADS (a decimal integer in
 * [0, KILN_MAX_THREADS]; any other value is recorded as the context's
 * error, KILN_EINVAL, and ignored), else every CPU. Changing the count
 * stops the context's workers (after a launch in progress) and measures
 * again when next needed. kiln_ctx_threads gives the current count. */
#define KILN_MAX_THREADS 256
KILN_API kiln_status kiln_ctx_set_threads(kiln_ctx *ctx, int n);
KILN_API int kiln_ctx_threads(const kiln_ctx *ctx);

/* An application with its own thread pool (OpenMP, TBB, ...) can run
 * kiln's parallel work on it instead, so cores are not oversubscribed:
 * fn(ud, n, task, task_ud) must call task(task_ud, i) exactly once for
 * every i in [0, n), on any threads in any order, and return when all
 * calls have returned. kiln then starts no thread of its own (workers it
 * started are stopped) and calls fn from the evaluating thread, only for
 * work big enough, with n about 4 tasks per thread of
 * kiln_ctx_threads(ctx), the parallelism kiln assumes fn has. The
 * measurement is made through fn too: a few calls whose tasks wait (at
 * most 2 ms) until kiln_ctx_threads(ctx) of them run at once. Tasks never
 * call back into kiln and cannot fail. fn NULL goes back to kiln's own
 * threads. */
typedef void (*kiln_parallel_for)(void *ud, int64_t n,
                                  void (*task)(void *task_ud, int64_t i),
                                  void *task_ud);
KILN_API kiln_status kiln_ctx_set_parallel_for(kiln_ctx *ctx, kiln_parallel_for fn,
                                               void *ud);

/* The buffer pool: memory kiln allocates for arrays (evaluation outputs,
 * temporaries, kiln_array_empty/zeros) goes back to a pool when the last
 * view of it is released, and the next array of the same size class (a
 * quarter of an octave) reuses it: evaluating into a fresh output each
 * call then costs no allocation and no page faults. A reused buffer's
 * contents are unspecified, as kiln_array_empty's. Buffers of 2 MB and
 * more are 2 MB-aligned and advised for transparent huge pages. The pool
 * holds at most `bytes` of idle memory and frees the oldest buffers past
 * that (0: no pooling); default min(256 MB, a quarter of physical memory).
 * kiln_ctx_free frees the idle memory; arrays released after it free
 * theirs at once. Counters: KILN_COUNTER_POOL_HITS, KILN_COUNTER_POOL_BYTES. */
KILN_API kiln_status kiln_ctx_set_pool_limit(kiln_ctx *ctx, size_t bytes);

/* ------------------------------------------------------------------ */
/* Profiling: dumps and statistics (docs/PROFILING.md)                 */
/* ------------------------------------------------------------------ */
/* What kiln writes about the kernels a context compiles, and what each
 * kernel cost. stages is a comma-separated list of:
 *   graph    the evaluated DAG as Graphviz DOT, kernels drawn as clusters,
 *            materialized values double-bordered             NAME.dot
 *   plan     the fusion plan: loop nest (extents, order, stride classes
 *            per operand), the fused body in order, inputs, outputs,
 *            accumulators, and why each kernel ends where it does
 *                                                             NAME.plan.txt
 *   ir, opt  LLVM IR as lowered and after optimization        NAME.ir.ll,
 *                                                             NAME.opt.ll
 *   asm      the native assembly                              NAME.s
 *   explain  per cache miss, which part of the signature (structure,
 *            rank, dtype, stride class, aliasing) differs from the nearest
 *            cached kernel's: why it compiled                 NAME.explain.txt
 *   stats    time every launch; a table per kernel (launches, total and
 *            mean time, bytes moved, GB/s, compile time, cache hits and
 *            misses, interpreter or JIT) and totals, printed to stderr by
 *            kiln_ctx_free and to any FILE by kiln_ctx_print_stats
 *   perf     append "ADDR SIZE NAME" per kernel to /tmp/perf-<pid>.map so
 *            `perf report` names JIT code
 * or "all" (every stage but perf), or "" / "none" (off). Files go to dir
 * (created with its parents; default "kiln-dump" in the working
 * directory), one set per compiled kernel, written when it compiles. NAME
 * is the kernel's name, e.g. "k0007_fused_multiply_add_f64_r1-3fa2c1":
 * compile serial in this context, its first ops, the dtype of its first
 * output, its loop rank, and six hex digits of its signature's hash.
 * stages NULL keeps the current stages, dir NULL the current folder.
 * Errors: KILN_EINVAL for an unknown stage (the message names it),
 * KILN_EIO if a stage writes files and the folder cannot be created; the
 * settings are unchanged then. Dumping never changes a result; a file
 * that cannot be written is counted in the stats, not an error.
 *
 * kiln_ctx_new reads the same settings from the environment: KILN_DUMP
 * (stages), KILN_DUMP_DIR (folder), KILN_PERF=1 (perf). A bad value there
 * is recorded as the context's error (kiln_errcode() is KILN_EINVAL right
 * after creation), never printed, and dumping stays off. */
KILN_API kiln_status kiln_ctx_set_dump(kiln_ctx *ctx, const char *stages, const char *dir);
/* Writes the stats table to f. Per-kernel launch counts and times cover
 * the time the 'stats' stage was on; totals come from the counters. */
KILN_API kiln_status kiln_ctx_print_stats(kiln_ctx *ctx, FILE *f);

/* ------------------------------------------------------------------ */
/* Arrays and views                                                    */
/* ------------------------------------------------------------------ */
typedef struct kiln_array kiln_array;

typedef enum kiln_order { KILN_ORDER_C = 0, KILN_ORDER_F = 1 } kiln_order;

/* Allocates a new array, 64-byte aligned, contiguous in the given order.
 * kiln_array_empty leaves the contents unspecified; kiln_array_zeros
 * clears them. shape may be NULL when rank == 0. */
KILN_API kiln_status kiln_array_empty(kiln_ctx *ctx, kiln_dtype dtype, int rank,
                                      const int64_t *shape, kiln_order order,
                                      kiln_array **out);
KILN_API kiln_status kiln_array_zeros(kiln_ctx *ctx, kiln_dtype dtype, int rank,
                                      const int64_t *shape, kiln_order order,
                                      kiln_array **out);

/* Called once when the last view of wrapped memory is released. */
typedef void (*kiln_release_fn)(void *ud, void *data);

/* Wraps user memory without copying. strides are in bytes (negative and
 * zero allowed); NULL means C-contiguous. release may be NULL (the caller
 * then keeps the memory alive for as long as any view exists). data may be
 * NULL only if the array has no elements. */
KILN_API kiln_status kiln_array_wrap(kiln_ctx *ctx, void *data, kiln_dtype dtype,
                                     int rank, const int64_t *shape,
                                     const int64_t *strides,
                                     kiln_release_fn release, void *ud,
                                     kiln_array **out);

/* NULL is a no-op for both. */
KILN_API void kiln_array_retain(kiln_array *a);
KILN_API void kiln_array_release(kiln_array *a);

KILN_API kiln_dtype kiln_array_dtype(const kiln_array *a);
KILN_API int kiln_array_rank(const kiln_array *a);
/* Pointer to rank extents / byte strides, owned by the array. */
KILN_API const int64_t *kiln_array_shape(const kiln_array *a);
KILN_API const int64_t *kiln_array_strides(const kiln_array *a);
KILN_API int64_t kiln_array_size(const kiln_array *a); /* element count */
/* Address of element 0 (may be NULL for an empty array). */
KILN_API void *kiln_array_data(const kiln_array *a);
/* Address of the element at idx[0..rank); NULL if an index is out of
 * range. */
KILN_API void *kiln_array_ptr(const kiln_array *a, const int64_t *idx);
/* 1 if the array is contiguous in that order, else 0. */
KILN_API int kiln_array_is_contiguous(const kiln_array *a, kiln_order order);
/* 1 if both share one underlying buffer (a view of the other or siblings). */
KILN_API int kiln_array_shares_base(const kiln_array *a, const kiln_array *b);

/* A slice of one axis, as Python's start:stop:step. KILN_END for an omitted
 * start or stop. Negative start/stop count from the end; step != 0. */
#define KILN_END INT64_MIN
typedef struct kiln_slice {
    int64_t start, stop, step;
} kiln_slice;
#define KILN_ALL ((kiln_slice){KILN_END, KILN_END, 1})

/* The view a[s[0], s[1], ..., s[nslices-1]] (trailing axes whole). */
KILN_API kiln_status kiln_array_slice(kiln_array *a, int nslices,
                                      const kiln_slice *s, kiln_array **out);
/* The view a[..., index, ...] on one axis, which is removed. */
KILN_API kiln_status kiln_array_index(kiln_array *a, int axis, int64_t index,
                                      kiln_array **out);
/* Permutes axes: out axis i is a's axis perm[i]. perm NULL reverses (.T). */
KILN_API kiln_status kiln_array_transpose(kiln_array *a, const int *perm,
                                          kiln_array **out);
/* A view with a new shape (one extent may be -1). KILN_EVIEW when the
 * strides cannot express it (use kiln_array_copy first). */
KILN_API kiln_status kiln_array_reshape(kiln_array *a, int rank,
                                        const int64_t *shape, kiln_array **out);
/* A view broadcast to shape by NumPy's rules (zero strides). */
KILN_API kiln_status kiln_array_broadcast_to(kiln_array *a, int rank,
                                             const int64_t *shape,
                                             kiln_array **out);
/* Inserts an axis of extent 1 at position axis (negative counts from the
 * end, as NumPy's expand_dims). */
KILN_API kiln_status kiln_array_expand_dims(kiln_array *a, int axis,
                                            kiln_array **out);
/* A field of a record array. A record array is an array of dtype uint8 (or
 * int8) whose last axis is the record's bytes, with unit stride (see
 * kiln_array_wrap_records). The field is the view, without that last axis,
 * of the dtype at byte_offset inside each record. Fields may be unaligned
 * (NumPy's packed records): kiln reads and writes them correctly. */
KILN_API kiln_status kiln_array_field(kiln_array *records, int64_t byte_offset,
                                      kiln_dtype dtype, kiln_array **out);
/* Wraps n records of record_size bytes each, record_stride apart
 * (0 = record_size), as a uint8 array of shape (n, record_size). */
KILN_API kiln_status kiln_array_wrap_records(kiln_ctx *ctx, void *data,
                                             int64_t n, int64_t record_size,
                                             int64_t record_stride,
                                             kiln_release_fn release, void *ud,
                                             kiln_array **out);
/* A new, independent array with the same contents, contiguous in order. */
KILN_API kiln_status kiln_array_copy(kiln_array *a, kiln_order order,
                                     kiln_array **out);
/* Element i (flat C-order index) converted to double, for inspection. */
KILN_API double kiln_array_get_f64(const kiln_array *a, int64_t flat_index);

/* ------------------------------------------------------------------ */
/* Expressions                                                         */
/* ------------------------------------------------------------------ */

/* A value handle; treat the fields as private. */
typedef struct kiln_expr {
    kiln_ctx *ctx_;
    uint32_t id_;
    uint32_t gen_;
} kiln_expr;

/* Scopes bound the DAG's memory: nodes created after kiln_scope_begin are
 * reclaimed (and their arrays released) by the matching kiln_scope_end.
 * Scopes nest; ending other than the innermost is KILN_ESCOPE. Compiled
 * kernels are not part of the DAG and survive. */
KILN_API uint64_t kiln_scope_begin(kiln_ctx *ctx);
KILN_API kiln_status kiln_scope_end(kiln_ctx *ctx, uint64_t scope);

/* Leaves. kiln_input refers to the array (retains it) without copying;
 * its contents are read at evaluation time. */
KILN_API kiln_expr kiln_input(kiln_ctx *ctx, kiln_array *a);
/* Weak scalars (NEP 50): a Python-like literal that takes the dtype of the
 * array it meets (x_f32 * 2.0 stays float32; x_i8 + 1 stays int8). */
KILN_API kiln_expr kiln_f64(kiln_ctx *ctx, double v);
KILN_API kiln_expr kiln_i64(kiln_ctx *ctx, int64_t v);
KILN_API kiln_expr kiln_bool(kiln_ctx *ctx, int v);
/* A strong scalar of the given dtype; *value is read as that C type. */
KILN_API kiln_expr kiln_scalar(kiln_ctx *ctx, kiln_dtype dtype,
                               const void *value);

/* Elementwise ops, NumPy's names and semantics, broadcasting inputs.
 * Integer arithmetic wraps; integer division and remainder by zero give 0;
 * float arithmetic is IEEE; maximum/minimum propagate NaN, fmax/fmin do
 * not. docs/OPS.md lists each op's dtype rule and ulp bound. */
KILN_API kiln_expr kiln_add(kiln_expr a, kiln_expr b);
KILN_API kiln_expr kiln_subtract(kiln_expr a, kiln_expr b);
KILN_API kiln_expr kiln_multiply(kiln_expr a, kiln_expr b);
KILN_API kiln_expr kiln_divide(kiln_expr a, kiln_expr b); /* true divide */
KILN_API kiln_expr kiln_floor_divide(kiln_expr a, kiln_expr b);
KILN_API kiln_expr kiln_remainder(kiln_expr a, kiln_expr b);
KILN_API kiln_expr kiln_power(kiln_expr a, kiln_expr b);
KILN_API kiln_expr kiln_arctan2(kiln_expr a, kiln_expr b);
KILN_API kiln_expr kiln_minimum(kiln_expr a, kiln_expr b);
KILN_API kiln_expr kiln_maximum(kiln_expr a, kiln_expr b);
KILN_API kiln_expr kiln_fmin(kiln_expr a, kiln_expr b);
KILN_API kiln_expr kiln_fmax(kiln_expr a, kiln_expr b);
KILN_API kiln_expr kiln_equal(kiln_expr a, kiln_expr b);
KILN_API kiln_expr kiln_not_equal(kiln_expr a, kiln_expr b);
KILN_API kiln_expr kiln_less(kiln_expr a, kiln_expr b);
KILN_API kiln_expr kiln_less_equal(kiln_expr a, kiln_expr b);
KILN_API kiln_expr kiln_greater(kiln_expr a, kiln_expr b);
KILN_API kiln_expr kiln_greater_equal(kiln_expr a, kiln_expr b);
KILN_API kiln_expr kiln_logical_and(kiln_expr a, kiln_expr b);
KILN_API kiln_expr kiln_logical_or(kiln_expr a, kiln_expr b);
KILN_API kiln_expr kiln_logical_xor(kiln_expr a, kiln_expr b);
KILN_API kiln_expr kiln_bitwise_and(kiln_expr a, kiln_expr b);
KILN_API kiln_expr kiln_bitwise_or(kiln_expr a, kiln_expr b);
KILN_API kiln_expr kiln_bitwise_xor(kiln_expr a, kiln_expr b);
KILN_API kiln_expr kiln_left_shift(kiln_expr a, kiln_expr b);
KILN_API kiln_expr kiln_right_shift(kiln_expr a, kiln_expr b);

KILN_API kiln_expr kiln_negative(kiln_expr x);
KILN_API kiln_expr kiln_absolute(kiln_expr x);
KILN_API kiln_expr kiln_sign(kiln_expr x);
KILN_API kiln_expr kiln_sqrt(kiln_expr x);
KILN_API kiln_expr kiln_square(kiln_expr x);
KILN_API kiln_expr kiln_exp(kiln_expr x);
KILN_API kiln_expr kiln_expm1(kiln_expr x);
KILN_API kiln_expr kiln_log(kiln_expr x);
KILN_API kiln_expr kiln_log1p(kiln_expr x);
KILN_API kiln_expr kiln_log2(kiln_expr x);
KILN_API kiln_expr kiln_log10(kiln_expr x);
KILN_API kiln_expr kiln_sin(kiln_expr x);
KILN_API kiln_expr kiln_cos(kiln_expr x);
KILN_API kiln_expr kiln_tan(kiln_expr x);
KILN_API kiln_expr kiln_arcsin(kiln_expr x);
KILN_API kiln_expr kiln_arccos(kiln_expr x);
KILN_API kiln_expr kiln_arctan(kiln_expr x);
KILN_API kiln_expr kiln_sinh(kiln_expr x);
KILN_API kiln_expr kiln_cosh(kiln_expr x);
KILN_API kiln_expr kiln_tanh(kiln_expr x);
KILN_API kiln_expr kiln_floor(kiln_expr x);
KILN_API kiln_expr kiln_ceil(kiln_expr x);
KILN_API kiln_expr kiln_trunc(kiln_expr x);
KILN_API kiln_expr kiln_rint(kiln_expr x);
KILN_API kiln_expr kiln_logical_not(kiln_expr x);
KILN_API kiln_expr kiln_bitwise_not(kiln_expr x); /* NumPy's invert */
KILN_API kiln_expr kiln_isnan(kiln_expr x);
KILN_API kiln_expr kiln_isinf(kiln_expr x);
KILN_API kiln_expr kiln_isfinite(kiln_expr x);

/* where(cond, a, b): cond is tested != 0; a and b are promoted together. */
KILN_API kiln_expr kiln_where(kiln_expr cond, kiln_expr a, kiln_expr b);
/* clip(x, lo, hi) = minimum(maximum(x, lo), hi), as NumPy's. */
KILN_API kiln_expr kiln_clip(kiln_expr x, kiln_expr lo, kiln_expr hi);
/* Conversion to dtype. Float to integer saturates to the target's range
 * and maps NaN to 0 (NumPy leaves these undefined); to bool is x != 0. */
KILN_API kiln_expr kiln_cast(kiln_expr x, kiln_dtype dtype);

/* Elementwise op by its NumPy name ("add", "sin", "where", ...), with
 * nargs inputs; an unknown name or wrong count is an error handle. The
 * reductions and scans below are reachable by name too, with one input and
 * NumPy's defaults: every axis, no keepdims, ddof 0 ("sum", "argmin", ...),
 * the flattened array for scans ("cumsum", ...). So are the functions
 * registered on ctx (kiln_udf_register), as kiln_udf applies them. */
KILN_API kiln_expr kiln_op(kiln_ctx *ctx, const char *name, int nargs,
                           const kiln_expr *args);

/* Inspecting an expression (computes nothing). For an error, stale or NULL
 * handle, kiln_expr_dtype gives KILN_DTYPE_COUNT, kiln_expr_rank -1 and
 * kiln_expr_shape the handle's status. */
KILN_API kiln_status kiln_expr_status(kiln_expr e); /* KILN_OK or the error */
KILN_API kiln_dtype kiln_expr_dtype(kiln_expr e);
KILN_API int kiln_expr_rank(kiln_expr e);
/* Copies rank extents into shape (at least KILN_MAX_RANK long). */
KILN_API kiln_status kiln_expr_shape(kiln_expr e, int64_t *shape);
/* 1 if both handles name the same node (hash-consing makes structurally
 * equal expressions the same node). */
KILN_API int kiln_expr_same(kiln_expr a, kiln_expr b);

/* ------------------------------------------------------------------ */
/* Reductions and scans                                                */
/* ------------------------------------------------------------------ */
/* NumPy's np.sum(x, axis=axes, keepdims=...) and friends. axes[0..naxes)
 * are the reduced axes (naxes 0: every axis; axes may then be NULL);
 * negative axes count from the end. An axis out of range or given twice is
 * KILN_EAXIS (the message names the axis and the rank). The result drops
 * the reduced axes, or keeps them with extent 1 if keepdims != 0.
 *
 * Result dtypes, as NumPy's on a 64-bit platform: sum and prod of bool or
 * a signed integer -> int64, of an unsigned integer -> uint64, of a float
 * -> the same float; min and max keep the dtype; mean, var and std of bool
 * or integers -> float64, of a float -> the same float; count_nonzero,
 * argmin and argmax -> int64; all and any -> bool.
 *
 * Values: min/max propagate NaN (the first NaN met, bits kept) and order
 * -0.0 below +0.0; argmin/argmax give the first index of the extreme, a
 * NaN being the extreme (NumPy's rule); all/any/count_nonzero test != 0 (a
 * NaN is true). Reductions over no elements give sum 0, prod 1, all true,
 * any false, count_nonzero 0, mean/var/std NaN; min/max/argmin/argmax over
 * no elements are an error handle (KILN_EINVAL, NumPy's message).
 * var(ddof) divides by max(n - ddof, 0), as NumPy (NaN or inf at 0).
 *
 * Reproducible: a float sum, prod, mean, var or std is computed in one
 * fixed order — NumPy's pairwise summation tree over the reduced elements
 * taken in C order of their indices — so the bits do not depend on memory
 * layout, evaluation mode or thread count, and the error is that of
 * pairwise summation (runtime/reduce.h defines the order exactly). */
KILN_API kiln_expr kiln_sum(kiln_expr x, int naxes, const int *axes, int keepdims);
KILN_API kiln_expr kiln_prod(kiln_expr x, int naxes, const int *axes, int keepdims);
KILN_API kiln_expr kiln_min(kiln_expr x, int naxes, const int *axes, int keepdims);
KILN_API kiln_expr kiln_max(kiln_expr x, int naxes, const int *axes, int keepdims);
KILN_API kiln_expr kiln_mean(kiln_expr x, int naxes, const int *axes, int keepdims);
KILN_API kiln_expr kiln_all(kiln_expr x, int naxes, const int *axes, int keepdims);
KILN_API kiln_expr kiln_any(kiln_expr x, int naxes, const int *axes, int keepdims);
KILN_API kiln_expr kiln_count_nonzero(kiln_expr x, int naxes, const int *axes, int keepdims);
KILN_API kiln_expr kiln_var(kiln_expr x, int naxes, const int *axes, int keepdims, int ddof);
KILN_API kiln_expr kiln_std(kiln_expr x, int naxes, const int *axes, int keepdims, int ddof);

/* "No axis": the array flattened in C order (NumPy's axis=None). */
#define KILN_AXIS_NONE INT32_MIN

/* argmin/argmax along one axis (the axis is removed), or over the array
 * flattened in C order with KILN_AXIS_NONE (a 0-d int64 result). */
KILN_API kiln_expr kiln_argmin(kiln_expr x, int axis);
KILN_API kiln_expr kiln_argmax(kiln_expr x, int axis);

/* Running sum, product, minimum and maximum along one axis (same shape),
 * or over the array flattened in C order with KILN_AXIS_NONE (1-D
 * result). cumsum/cumprod take sum's dtypes, cummin/cummax keep the dtype
 * (NumPy's np.minimum.accumulate / np.maximum.accumulate). A float cumsum
 * is NumPy's sequential one for up to 4096 elements along the axis; beyond,
 * it is a fixed block scan (runtime/reduce.h), reproducible in every mode
 * and at any thread count. */
KILN_API kiln_expr kiln_cumsum(kiln_expr x, int axis);
KILN_API kiln_expr kiln_cumprod(kiln_expr x, int axis);
KILN_API kiln_expr kiln_cummin(kiln_expr x, int axis);
KILN_API kiln_expr kiln_cummax(kiln_expr x, int axis);

/* ------------------------------------------------------------------ */
/* Views of expressions                                                */
/* ------------------------------------------------------------------ */
/* The array views above, of any expression: kiln_expr_slice(e, ...) is
 * NumPy's e[s0, s1, ...] of the value e would evaluate to, with the same
 * shape rules, errors and messages as the kiln_array_* function of the same
 * name (a failure is an error handle, sticky as every constructor's). A
 * view computes nothing and copies nothing: it is pushed down the
 * expression to the arrays it reads, so (a + b)[1:] is the very expression
 * a[1:] + b[1:] (kiln_expr_same), each input sliced where it is not
 * broadcast, and a view of a scalar is a scalar. Only a view of a
 * reduction or scan result stays a view: that value is materialized once
 * and read through the view, so with c = kiln_cumsum(x, 0)
 *     (c[w:] - c[:-w]) / w
 * evaluates c into one temporary, then one fused loop reads it twice at
 * two offsets. The expression handle's shape is the view's.
 *
 * No reshape of an expression: kiln_array_reshape only where the strides
 * allow it (KILN_EVIEW otherwise), which depends on where a value lives,
 * not on what it is. */
KILN_API kiln_expr kiln_expr_slice(kiln_expr e, int nslices, const kiln_slice *s);
KILN_API kiln_expr kiln_expr_index(kiln_expr e, int axis, int64_t index);
/* perm NULL reverses the axes (.T). */
KILN_API kiln_expr kiln_expr_transpose(kiln_expr e, const int *perm);
KILN_API kiln_expr kiln_expr_expand_dims(kiln_expr e, int axis);
KILN_API kiln_expr kiln_expr_broadcast_to(kiln_expr e, int rank, const int64_t *shape);

/* ------------------------------------------------------------------ */
/* User-defined scalar functions                                       */
/* ------------------------------------------------------------------ */
/* A C function of up to KILN_UDF_MAX_ARGS scalars, registered on a
 * context under a name, applies elementwise like any op: kiln_udf(ctx,
 * "f", n, args), or f(...) in expression strings. Its C types follow the
 * declared dtypes: bool is _Bool, int8..uint64 are <stdint.h>'s, float32
 * is float, float64 is double; e.g. a function
 *     double hypot3(double x, double y, float z);
 * is registered with ret KILN_FLOAT64 and args {KILN_FLOAT64, KILN_FLOAT64,
 * KILN_FLOAT32}, cast to kiln_udf_fn.
 *
 * The function must be pure and thread-safe: its result depends only on
 * its arguments, and it may be called any number of times per element, in
 * any order, from several threads (compiled kernels call it directly from
 * inside their loops, hoisted out of loops it does not vary in, and split
 * over the context's threads; the interpreter calls it through libffi).
 * It is never called while an expression is built (no constant folding).
 *
 * kiln_udf_register: name is a Python identifier of at most 63 bytes that
 * is not an op name or alias (kiln_op's), "clip", a dtype name or alias
 * (kiln_dtype_from_name's), True, False or None, and not registered on ctx
 * yet; 1 <= nargs <= KILN_UDF_MAX_ARGS; ret and args[] valid dtypes; the
 * function and the names are copied. Errors: KILN_ENULL (ctx, name, fn or
 * args NULL), KILN_EINVAL (bad or taken name, nargs out of range),
 * KILN_EDTYPE (an invalid dtype), KILN_ENOMEM; recorded on ctx. A
 * registration lasts until kiln_ctx_free.
 *
 * kiln_udf: the registered function applied to args[0..nargs) (handles,
 * as every constructor's: NULL-context, stale, foreign and error handles
 * are reported or propagated). Shape: the broadcast of the arguments'
 * shapes (NumPy's rules and message). Dtype: ret. Each argument is cast to
 * its declared dtype as a NumPy ufunc with a fixed loop casts under
 * casting='same_kind': bool converts to anything, and an argument may go
 * to a dtype of the same kind or a higher kind (int -> float), signed from
 * unsigned (uint8 -> int8), never float -> int, int -> bool or signed ->
 * unsigned (KILN_EDTYPE, naming the function, the argument and both
 * dtypes: cast it explicitly with kiln_cast). Python-literal scalars
 * (kiln_i64, kiln_f64, kiln_bool) follow NEP 50: an int must fit an
 * integer dtype (KILN_EOVERFLOW). Unknown name: KILN_EINVAL, listing the
 * registered names; wrong count: KILN_EINVAL with expected and given
 * counts. kiln_op(ctx, name, ...) reaches registered functions too. */
#define KILN_UDF_MAX_ARGS 8
typedef void (*kiln_udf_fn)(void);
KILN_API kiln_status kiln_udf_register(kiln_ctx *ctx, const char *name, kiln_udf_fn fn,
                                       kiln_dtype ret, int nargs, const kiln_dtype *args);
KILN_API kiln_expr kiln_udf(kiln_ctx *ctx, const char *name, int nargs, const kiln_expr *args);

/* ------------------------------------------------------------------ */
/* Evaluation                                                          */
/* ------------------------------------------------------------------ */

/* Evaluates e into a new C-contiguous array (*out, caller releases). */
KILN_API kiln_status kiln_eval(kiln_expr e, kiln_array **out);
/* Evaluates e into out, which must have e's shape and dtype and may have
 * any strides. out may overlap e's inputs: the result is as if all inputs
 * were read before any element was written (NumPy's rule). */
KILN_API kiln_status kiln_eval_into(kiln_expr e, kiln_array *out);
/* Evaluates n expressions together (one pass where they fuse). For each i,
 * outs[i] == NULL on entry receives a new array; otherwise the result is
 * written into outs[i] (as kiln_eval_into). On failure, arrays this call
 * created are released and their slots reset to NULL. */
KILN_API kiln_status kiln_eval_many(kiln_ctx *ctx, kiln_mode mode, size_t n,
                                    const kiln_expr *exprs, kiln_array **outs);

/* ------------------------------------------------------------------ */
/* Expression strings                                                  */
/* ------------------------------------------------------------------ */
/* kiln_parse builds, from a numexpr-style string, the same DAG the
 * constructors above build: "where(x > 0, x, 0.01*x)" is the expression of
 * the README's example. docs/EXPRESSIONS.md has the grammar; in short:
 *
 *   precedence, loosest first (Python's):
 *     < <= > >= == !=    comparisons (not chained: "a < b < c" is an error)
 *     |   ^   &          bitwise (logical on bool): bitwise_or/xor/and
 *     << >>              left_shift, right_shift
 *     + -                add, subtract
 *     * / // %           multiply, divide, floor_divide, remainder
 *     - + ~   (unary)    negative, (identity), invert
 *     **                 power, right-associative; binds tighter than a
 *                        unary minus on its left: -2**2 == -4
 *     f(...) x[...] x.T rec.field   calls, subscripts, attributes
 *   literals: 3, 0x1f, 0o17, 0b101, 2.5, 1e-3, True, False, inf, nan, pi —
 *     weak scalars (kiln_i64 / kiln_f64 / kiln_bool): they take the dtype of
 *     the array they meet (NEP 50);
 *   calls: every elementwise op by its NumPy name or alias (kiln_op: sin,
 *     arctan2, where, clip, minimum, isfinite, abs, ...) and every function
 *     registered on ctx by its name (kiln_udf_register); casts by dtype name:
 *     float32(x), int64(x), bool(x), ...; reductions and scans by name, with
 *     NumPy's keyword arguments axis, keepdims and ddof: sum(x, axis=0),
 *     mean(x, axis=(0, 1), keepdims=True), std(x, axis=0, ddof=1),
 *     cumsum(x, axis=0);
 *   views: x[1:], x[::-1], x[1:3, ::2], x[:, None], x[..., 0], x[-1], x.T
 *     — of named arrays (kiln_array_slice & co.) and of computed values
 *     alike (kiln_expr_slice & co.): cumsum(x)[20:], (a + b)[::2],
 *     (x * 2).T; record fields rec.temperature or rec['temperature'] (a
 *     bound record array, see kiln_binding). Indices and slice bounds are
 *     integer literals.
 *
 * Names: a name used as a value is an input (inputs shadow inf, nan and
 * pi); a name that is called is a function. Bound names must be Python
 * identifiers other than True, False and None, and distinct.
 *
 * Returns the expression, or an error handle (sticky, as every
 * constructor's). Errors found by the parser (bad token, unknown name,
 * wrong argument count, misplaced view, ...) are KILN_ESYNTAX; errors from
 * building the DAG (shapes that do not broadcast, a dtype an op rejects,
 * an index out of range) keep their status. Either way kiln_errmsg() names
 * the problem, shows the source line with a caret under the position, and
 * for an unknown name lists the known names, closest first; for a wrong
 * argument count it gives the expected and the given counts. Any string is
 * safe to pass: the parser never crashes, and nests at most 100 deep.
 * The arrays are retained by the expression (as kiln_input does), not by
 * the call. */
KILN_API kiln_expr kiln_parse(kiln_ctx *ctx, const char *src, size_t nnames,
                              const char *const *names, kiln_array *const *arrays);

/* One field of a record array: name, byte offset inside the record, dtype
 * (as one field of a NumPy structured dtype). The name is NUL-terminated. */
#define KILN_FIELD_NAME_MAX 64
typedef struct kiln_field {
    char name[KILN_FIELD_NAME_MAX];
    int64_t offset;
    kiln_dtype dtype;
} kiln_field;

/* A name bound to an array for kiln_parse_bindings. With nfields > 0 the
 * array is a record array (see kiln_array_field: uint8 or int8, the last
 * axis the record's bytes) and fields its layout: the expression then sees
 * the array without its byte axis, as NumPy shows a structured array, and
 * selects fields with rec.name or rec['name']. Each field must fit inside
 * the record; field names must be distinct. fields is read during the call
 * only. */
typedef struct kiln_binding {
    const char *name;
    kiln_array *array;
    const kiln_field *fields; /* NULL when nfields == 0 */
    size_t nfields;
} kiln_binding;

/* kiln_parse with bindings (and record layouts). */
KILN_API kiln_expr kiln_parse_bindings(kiln_ctx *ctx, const char *src, size_t nbindings,
                                       const kiln_binding *bindings);

/* ------------------------------------------------------------------ */
/* .npy files                                                          */
/* ------------------------------------------------------------------ */
/* NumPy's .npy format, versions 1.0, 2.0 and 3.0, C or Fortran order.
 *
 * Loading: every kiln dtype ('|b1', '<i1'..'<i8', '<u1'..'<u8', '<f4',
 * '<f8'; '|' and '=' read as native). A big-endian file ('>f8') is
 * converted: its data is read and byte-swapped into a new buffer. A
 * structured dtype whose fields all have kiln dtypes (padding allowed; no
 * nested or subarray fields) loads as a record array: uint8 of shape
 * (*shape, itemsize), whose fields kiln_npy_load_records reports. Data of
 * at least KILN_NPY_MMAP_MIN bytes whose native layout allows it is
 * memory-mapped, not read: the array then refers to a private,
 * copy-on-write mapping of the file (writes to the array never reach the
 * file) that is unmapped when its last view is released; smaller data is
 * read into a fresh 64-byte-aligned buffer. Bool data is normalized to 0/1.
 * As with any mapping, a mapped file must not be truncated while the array
 * lives (the pages would vanish: SIGBUS); rewriting it in place changes
 * the array's unmodified pages. Copy the array to detach it.
 *
 * Errors, never a crash or a wrong array: a file that cannot be opened or
 * read, or ends before its header or data does: KILN_EIO; a bad magic
 * string, unknown version, or a header dict that is not exactly NumPy's
 * ('descr', 'fortran_order', 'shape') or longer than 10000 bytes (NumPy's
 * own limit): KILN_ESYNTAX; a dtype kiln lacks ('<c16', '<f2', 'O', '<U5',
 * '|S3', datetimes, nested records): KILN_EDTYPE; rank above KILN_MAX_RANK:
 * KILN_ERANK; a shape whose size overflows: KILN_EOVERFLOW. *out is NULL
 * on entry and set only on success. */
#define KILN_NPY_MMAP_MIN ((size_t)1 << 20)
KILN_API kiln_status kiln_npy_load(kiln_ctx *ctx, const char *path, kiln_array **out);
/* kiln_npy_load that also reports a structured file's fields: fields[0..
 * *nfields) (0 for a plain array). If the file has more than max_fields
 * fields, nothing is loaded, *nfields is the count needed and the status
 * is KILN_EINVAL. fields may be NULL when max_fields is 0. A field name
 * longer than KILN_FIELD_NAME_MAX - 1 bytes is KILN_EINVAL. */
KILN_API kiln_status kiln_npy_load_records(kiln_ctx *ctx, const char *path, kiln_array **out,
                                           kiln_field *fields, size_t max_fields,
                                           size_t *nfields);
/* Writes a as a version 1.0 .npy file, byte for byte as NumPy's np.save
 * would (header padded to 64 bytes), little-endian, C order (any strides
 * are gathered). On failure the partial file is removed; the error is
 * recorded on a's context. */
KILN_API kiln_status kiln_npy_save(const kiln_array *a, const char *path);
/* Writes record array a (uint8 or int8, the last axis the record's bytes,
 * as kiln_npy_load_records makes) as a structured .npy file of shape
 * a's shape without that axis, byte for byte as np.save writes a
 * structured array: descr lists fields[0..nfields) in order, with gaps
 * and trailing bytes as padding entries ('', '|V<n>'), as dtype.descr
 * does. Fields must ascend by offset without overlap and fit the record;
 * names are printable ASCII without quotes or backslashes. KILN_EINVAL
 * (naming the field), KILN_EDTYPE (a not a record array), KILN_ENULL,
 * KILN_ENOMEM, KILN_EIO; recorded on a's context. */
KILN_API kiln_status kiln_npy_save_records(const kiln_array *a, const kiln_field *fields,
                                           size_t nfields, const char *path);

#ifdef __cplusplus
}
#endif
#endif /* KILN_H */
