/*
 * runtime/rt.h — the bottom layer: dtypes, status messages, the allocation
 * hook, buffers and array views, scalar semantics shared by the interpreter
 * and generated code, the kernel ABI.
 *
 * runtime/ knows nothing of graphs, plans or LLVM; it includes only kiln.h.
 * Internal names carry the rt_ prefix.
 */
#ifndef KILN_RT_H
#define KILN_RT_H

#include "kiln.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#if defined(__GNUC__)
#define RT_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define RT_PRINTF(f, a)
#endif

/* ---- dtypes ----------------------------------------------------------- */

typedef enum rt_kind { RT_KIND_BOOL, RT_KIND_INT, RT_KIND_UINT, RT_KIND_FLOAT } rt_kind;

typedef struct rt_dtype_info {
    const char *name; /* "float64" */
    uint8_t size;     /* bytes */
    uint8_t kind;     /* rt_kind */
    uint8_t bits;
} rt_dtype_info;

extern const rt_dtype_info rt_dtypes[KILN_DTYPE_COUNT];
static inline bool rt_dtype_valid(int t) { return t >= 0 && t < KILN_DTYPE_COUNT; }
static inline bool rt_is_float(kiln_dtype t) { return rt_dtypes[t].kind == RT_KIND_FLOAT; }
static inline bool rt_is_int(kiln_dtype t) /* signed or unsigned integer, not bool */
{ return rt_dtypes[t].kind == RT_KIND_INT || rt_dtypes[t].kind == RT_KIND_UINT; }

/* One scalar of any dtype, held in the widest C type of its kind. The
 * member read is chosen by the dtype's kind: b for bool, i for signed,
 * u for unsigned, f for float (float32 values are stored as double and are
 * exactly representable). */
typedef union rt_scalar {
    int64_t i;
    uint64_t u;
    double f;
    bool b;
} rt_scalar;

/* Loads/stores one element at p (any alignment: packed record fields are
 * unaligned) into/from the widened form. */
rt_scalar rt_load(kiln_dtype t, const void *p);
void rt_store(kiln_dtype t, void *p, rt_scalar v);
/* Converts a widened scalar between dtypes with kiln_cast's semantics
 * (integers wrap, float->int saturates and NaN->0, ->bool is != 0). */
rt_scalar rt_convert(kiln_dtype from, kiln_dtype to, rt_scalar v);

/* ---- environment: allocator + error sink ------------------------------ */

/* The buffer pool (runtime/bufpool.c): idle kiln-allocated buffers kept
 * for reuse, by size class (a quarter of an octave). */
enum { RT_BP_CLASSES = 224 };
struct rt_buffer;
typedef struct rt_bufpool {
    pthread_mutex_t lock;          /* guards everything but the atomics */
    size_t cap;                    /* most idle bytes held; 0: no pooling */
    size_t held;                   /* idle bytes held (class sizes) */
    struct rt_buffer *oldest, *newest;   /* every idle buffer, by age */
    struct rt_buffer *cls[RT_BP_CLASSES]; /* idle buffers per class, newest first */
    atomic_ullong hits;            /* allocations served from the pool (counter) */
    atomic_ullong held_bytes;      /* = held, readable without the lock */
} rt_bufpool;

/* Shared by a context and every array made from it, so arrays outlive the
 * context safely. Refcounted; the last release frees it through its own
 * allocator. */
typedef struct rt_env {
    atomic_long refs;
    kiln_allocator alloc;
    pthread_mutex_t lock; /* guards code and msg */
    kiln_status code;
    char msg[1024];
    atomic_ullong temp_bytes; /* bytes of temporaries allocated (counter) */
    rt_bufpool pool;          /* drained by the last rt_env_release */
} rt_env;

rt_env *rt_env_new(const kiln_allocator *alloc); /* NULL on OOM */
void rt_env_retain(rt_env *e);
void rt_env_release(rt_env *e);

/* Records an error on env (overwrites the previous one) and returns code.
 * env may be NULL (nothing recorded). */
kiln_status rt_err(rt_env *e, kiln_status code, const char *fmt, ...) RT_PRINTF(3, 4);
/* Formats a shape as NumPy's error messages do: "(3,)", "(2,3)", "()". Returns buf. */
char *rt_fmt_shape(char *buf, size_t cap, int rank, const int64_t *shape);

/* ---- allocation: the one hook ----------------------------------------- */

void *rt_malloc(rt_env *e, size_t size);
void *rt_calloc(rt_env *e, size_t n, size_t size); /* overflow-checked */
void *rt_realloc(rt_env *e, void *p, size_t old_size, size_t new_size);
void rt_free(rt_env *e, void *p, size_t size);
/* 64-byte aligned; size 0 gives a valid unique pointer. */
void *rt_aligned_alloc(rt_env *e, size_t size);
void rt_aligned_free(rt_env *e, void *p, size_t size);
/* a*b and a+b with overflow detection (false on overflow). */
bool rt_mul_ok(int64_t a, int64_t b, int64_t *out);
bool rt_add_ok(int64_t a, int64_t b, int64_t *out);

/* ---- buffers and arrays ------------------------------------------------ */

/* The owner of array memory: allocated by kiln or wrapped user memory. */
typedef struct rt_buffer {
    atomic_long refs;
    rt_env *env;      /* retained (not while idle in the pool) */
    void *mem;        /* start of the memory */
    size_t size;      /* bytes asked for */
    bool owned;       /* kiln allocated mem: it returns to the pool */
    kiln_release_fn release; /* wrapped memory: called once, may be NULL */
    void *ud;
    /* owned memory (runtime/bufpool.c) */
    void *raw;        /* the block the allocator returned; mem is inside */
    size_t raw_size;
    size_t cap;       /* usable bytes at mem: the size class */
    int cls;          /* size class */
    struct rt_buffer *cprev, *cnext, *aprev, *anext; /* while idle */
} rt_buffer;

/* A view: the public kiln_array. Invariant: every element address
 * data + sum(idx[k]*strides[k]) for 0 <= idx[k] < shape[k] lies inside
 * buf (checked when views are made from kiln arrays; trusted for wrapped
 * user memory). */
struct kiln_array {
    atomic_long refs;
    rt_env *env;   /* retained: allocator and error sink */
    rt_buffer *buf; /* retained */
    char *data;    /* element 0 */
    kiln_dtype dtype;
    int rank;
    int64_t size; /* product of shape, never overflows */
    int64_t shape[KILN_MAX_RANK];
    int64_t strides[KILN_MAX_RANK]; /* bytes */
};

/* Buffer refcounting. rt_buffer_wrap makes a buffer (refs 1) over user
 * memory that kiln does not free: release(ud, mem) is called once by the
 * last rt_buffer_release (if release is non-NULL). NULL on OOM. */
rt_buffer *rt_buffer_wrap(rt_env *e, void *mem, kiln_release_fn release, void *ud);
void rt_buffer_retain(rt_buffer *b);
void rt_buffer_release(rt_buffer *b);

/* ---- the buffer pool (runtime/bufpool.c) ---------------------------------
 * rt_bufpool_get: a buffer (refs 1, env retained, owned) with at least size
 * bytes of 64-byte-aligned memory (2 MB-aligned and advised for huge pages
 * from 2 MB up), reused from the pool when an idle one of its size class
 * is there (its bytes are then whatever the last user left). NULL on OOM
 * (nothing recorded). rt_bufpool_put: the last release of an owned buffer
 * hands it back; it is kept if the pool stays within its cap, else freed
 * (with the oldest idle buffers, to make room). The caller then releases
 * the env. rt_bufpool_set_cap: a new cap, trimming at once (0 frees every
 * idle buffer and keeps none). rt_bufpool_init: an empty pool with the
 * default cap (false if its mutex cannot be made); rt_bufpool_fini: frees
 * every idle buffer (the env is dying). */
bool rt_bufpool_init(rt_bufpool *bp);
void rt_bufpool_fini(rt_env *e);
rt_buffer *rt_bufpool_get(rt_env *e, size_t size);
void rt_bufpool_put(rt_env *e, rt_buffer *b);
void rt_bufpool_set_cap(rt_env *e, size_t cap);
/* min(256 MB, a quarter of physical memory). */
size_t rt_bufpool_default_cap(void);

/* Validates rank/shape (rank range, extents >= 0, size and byte size fit
 * in int64) and returns the element count in *size. */
kiln_status rt_check_shape(rt_env *e, int rank, const int64_t *shape, int64_t *size);
/* New array owning fresh 64-byte-aligned memory. */
kiln_status rt_array_alloc(rt_env *e, kiln_dtype t, int rank, const int64_t *shape,
                           kiln_order order, bool zero, kiln_array **out);
/* New view over buf (retained) with the given geometry. */
kiln_status rt_array_view(rt_env *e, rt_buffer *buf, char *data, kiln_dtype t, int rank,
                          const int64_t *shape, const int64_t *strides, kiln_array **out);
/* Strides of a contiguous array of that shape in that order. */
void rt_contiguous_strides(kiln_dtype t, int rank, const int64_t *shape, kiln_order order,
                           int64_t *strides);
/* [lo, hi) byte range the array's elements touch (lo == hi when empty). */
void rt_array_extent(const kiln_array *a, const char **lo, const char **hi);
/* True if the byte ranges a and b touch intersect (never for an empty one). */
bool rt_arrays_overlap(const kiln_array *a, const kiln_array *b);
/* Copies src into dst elementwise (same shape, any strides, dtype converted
 * with rt_convert); correct even if they overlap. */
kiln_status rt_array_copy_into(rt_env *e, const kiln_array *src, kiln_array *dst);

/* ---- scalar semantics ---------------------------------------------------
 * The exact meaning of the ops that are not a single IEEE or wrapping
 * machine operation. The interpreter calls these; generated code calls the
 * same functions (by address) or emits IR proven equal by the tests. */
int64_t rt_floordiv_i64(int64_t a, int64_t b);  /* b==0 -> 0; MIN/-1 wraps */
int64_t rt_remainder_i64(int64_t a, int64_t b); /* sign of b; b==0 -> 0 */
uint64_t rt_floordiv_u64(uint64_t a, uint64_t b);
uint64_t rt_remainder_u64(uint64_t a, uint64_t b);
double rt_floordiv_f64(double a, double b);  /* NumPy's npy_divmod */
double rt_remainder_f64(double a, double b);
float rt_floordiv_f32(float a, float b);
float rt_remainder_f32(float a, float b);
int64_t rt_power_i64(int64_t a, int64_t b);   /* wraps; b<0 -> 0 unless |a|==1 */
uint64_t rt_power_u64(uint64_t a, uint64_t b);

#endif /* KILN_RT_H */
