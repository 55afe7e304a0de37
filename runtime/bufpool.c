/*
 * runtime/bufpool.c — the buffer pool: memory of kiln-allocated arrays
 * (outputs, temporaries, kiln_array_empty/zeros) is kept when its last
 * view is released and handed to the next allocation of the same size
 * class, so a fresh output or temporary costs no allocation and, above
 * all, no page faults (first touch of fresh memory measured ~11 us per
 * 4 KB page on this VM: 230 ms for 80 MB, against 4 ms to write it again).
 *
 * Size classes: up to 256 bytes is class 0; above, each octave (2^e, 2^(e+1)]
 * has four classes 2^e * (1.25, 1.5, 1.75, 2): a request gets its class's
 * capacity (at most 25% more than asked; untouched pages of a big buffer
 * cost no memory). Only an exact class match is reused.
 *
 * Invariants:
 *   - every byte comes from the env's allocator hook: a buffer is two
 *     blocks, the rt_buffer and its memory (over-allocated to align mem to
 *     64 bytes, or to 2 MB from a 2 MB class up, where the 2 MB-aligned
 *     whole huge pages of it are madvise'd MADV_HUGEPAGE — a hint: with
 *     transparent huge pages set to "madvise", as here, they are then
 *     faulted 2 MB at a time);
 *   - an idle buffer is in exactly two lists (its class's, newest first,
 *     and the age list) and holds no env reference; `held` is the sum of
 *     idle capacities and never exceeds `cap` after a call returns (a
 *     buffer bigger than cap is freed, not kept; room is made by freeing
 *     the oldest idle buffers);
 *   - allocator calls happen outside the pool's lock;
 *   - the pool dies with its env (the last array or context released), so
 *     a pooled buffer never outlives the allocator it came from; freeing
 *     the context sets the cap to 0 (kiln_ctx_free), so memory is not
 *     kept for arrays that may never be allocated again;
 *   - under AddressSanitizer, idle memory is poisoned: a use after the
 *     last release is still reported.
 */
#define _GNU_SOURCE
#include "runtime/rt.h"

#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#if defined(__SANITIZE_ADDRESS__)
#define BP_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define BP_ASAN 1
#endif
#endif
#ifdef BP_ASAN
#include <sanitizer/asan_interface.h>
#define BP_POISON(p, n) ASAN_POISON_MEMORY_REGION(p, n)
#define BP_UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION(p, n)
#else
#define BP_POISON(p, n) ((void)(p), (void)(n))
#define BP_UNPOISON(p, n) ((void)(p), (void)(n))
#endif

#define BP_ALIGN ((size_t)64)
#define BP_HUGE ((size_t)2 << 20)
#define BP_DEFAULT_CAP ((size_t)256 << 20)

/* Class of a request of n bytes, and that class's capacity. */
static int bp_class(size_t n, size_t *cap)
{
    if (n <= 256) {
        *cap = 256;
        return 0;
    }
    int e = 63 - __builtin_clzll((unsigned long long)(n - 1)); /* 2^e < n <= 2^(e+1) */
    size_t base = (size_t)1 << e, step = base >> 2;
    size_t q = (n - base + step - 1) / step; /* 1..4 */
    *cap = base + q * step;
    return (e - 8) * 4 + (int)q;
}
#define BP_MAX ((size_t)1 << 62) /* larger requests fail (no memory has them) */
_Static_assert((62 - 8) * 4 + 4 < RT_BP_CLASSES, "the class table covers every request up to BP_MAX");

size_t rt_bufpool_default_cap(void)
{
    long pages = sysconf(_SC_PHYS_PAGES), psize = sysconf(_SC_PAGESIZE);
    if (pages > 0 && psize > 0) {
        size_t quarter = (size_t)pages / 4 * (size_t)psize;
        if (quarter < BP_DEFAULT_CAP)
            return quarter;
    }
    return BP_DEFAULT_CAP;
}

bool rt_bufpool_init(rt_bufpool *bp)
{
    memset(bp, 0, sizeof *bp);
    if (pthread_mutex_init(&bp->lock, NULL) != 0)
        return false;
    bp->cap = rt_bufpool_default_cap();
    atomic_init(&bp->hits, 0);
    atomic_init(&bp->held_bytes, 0);
    return true;
}

/* ---- lists (lock held) --------------------------------------------------- */

static void bp_link(rt_bufpool *bp, rt_buffer *b)
{
    b->cprev = NULL;
    b->cnext = bp->cls[b->cls];
    if (b->cnext)
        b->cnext->cprev = b;
    bp->cls[b->cls] = b;
    b->anext = NULL;
    b->aprev = bp->newest;
    if (bp->newest)
        bp->newest->anext = b;
    else
        bp->oldest = b;
    bp->newest = b;
    bp->held += b->cap;
    atomic_store_explicit(&bp->held_bytes, bp->held, memory_order_relaxed);
}

static void bp_unlink(rt_bufpool *bp, rt_buffer *b)
{
    if (b->cprev)
        b->cprev->cnext = b->cnext;
    else
        bp->cls[b->cls] = b->cnext;
    if (b->cnext)
        b->cnext->cprev = b->cprev;
    if (b->aprev)
        b->aprev->anext = b->anext;
    else
        bp->oldest = b->anext;
    if (b->anext)
        b->anext->aprev = b->aprev;
    else
        bp->newest = b->aprev;
    bp->held -= b->cap;
    atomic_store_explicit(&bp->held_bytes, bp->held, memory_order_relaxed);
}

/* Unlinks the oldest idle buffers until held + room <= cap; returns them
 * chained through anext, to be freed after unlocking. */
static rt_buffer *bp_trim(rt_bufpool *bp, size_t room, rt_buffer *out)
{
    while (bp->oldest && bp->held + room > bp->cap) {
        rt_buffer *o = bp->oldest;
        bp_unlink(bp, o);
        o->anext = out;
        out = o;
    }
    return out;
}

/* ---- the allocator side --------------------------------------------------- */

static rt_buffer *bp_new(rt_env *e, int cls, size_t cap)
{
    size_t align = cap >= BP_HUGE ? BP_HUGE : BP_ALIGN;
    if (cap > SIZE_MAX - align)
        return NULL;
    rt_buffer *b = rt_malloc(e, sizeof *b);
    if (!b)
        return NULL;
    memset(b, 0, sizeof *b);
    char *raw = rt_malloc(e, cap + align);
    if (!raw) {
        rt_free(e, b, sizeof *b);
        return NULL;
    }
    b->raw = raw;
    b->raw_size = cap + align;
    b->mem = raw + ((align - (uintptr_t)raw % align) % align);
    b->cap = cap;
    b->cls = cls;
#ifdef MADV_HUGEPAGE
    if (align == BP_HUGE)
        (void)madvise(b->mem, cap & ~(BP_HUGE - 1), MADV_HUGEPAGE); /* a hint: may fail */
#endif
    return b;
}

static void bp_free_chain(rt_env *e, rt_buffer *b)
{
    while (b) {
        rt_buffer *next = b->anext;
        BP_UNPOISON(b->mem, b->cap);
        rt_free(e, b->raw, b->raw_size);
        rt_free(e, b, sizeof *b);
        b = next;
    }
}

rt_buffer *rt_bufpool_get(rt_env *e, size_t size)
{
    rt_bufpool *bp = &e->pool;
    if (size > BP_MAX)
        return NULL;
    size_t cap;
    int cls = bp_class(size, &cap);
    rt_buffer *b = NULL;
    if (atomic_load_explicit(&bp->held_bytes, memory_order_relaxed)) {
        pthread_mutex_lock(&bp->lock);
        b = bp->cls[cls];
        if (b)
            bp_unlink(bp, b);
        pthread_mutex_unlock(&bp->lock);
    }
    if (b) {
        atomic_fetch_add_explicit(&bp->hits, 1, memory_order_relaxed);
        BP_UNPOISON(b->mem, b->cap);
    } else if (!(b = bp_new(e, cls, cap))) {
        return NULL;
    }
    atomic_store_explicit(&b->refs, 1, memory_order_relaxed);
    rt_env_retain(e);
    b->env = e;
    b->size = size;
    b->owned = true;
    b->release = NULL;
    b->ud = NULL;
    return b;
}

void rt_bufpool_put(rt_env *e, rt_buffer *b)
{
    rt_bufpool *bp = &e->pool;
    b->env = NULL;
    BP_POISON(b->mem, b->cap); /* nobody else sees it yet */
    rt_buffer *dead = NULL;
    pthread_mutex_lock(&bp->lock);
    if (b->cap > bp->cap) {
        b->anext = NULL;
        dead = b;
    } else {
        dead = bp_trim(bp, b->cap, NULL);
        bp_link(bp, b);
    }
    pthread_mutex_unlock(&bp->lock);
    bp_free_chain(e, dead);
}

void rt_bufpool_set_cap(rt_env *e, size_t cap)
{
    rt_bufpool *bp = &e->pool;
    pthread_mutex_lock(&bp->lock);
    bp->cap = cap;
    rt_buffer *dead = bp_trim(bp, 0, NULL);
    pthread_mutex_unlock(&bp->lock);
    bp_free_chain(e, dead);
}

void rt_bufpool_fini(rt_env *e)
{
    rt_bufpool_set_cap(e, 0);
    pthread_mutex_destroy(&e->pool.lock);
}
