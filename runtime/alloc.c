/*
 * runtime/alloc.c — every allocation kiln makes goes through env->alloc
 * (the one hook), so tests can fail the Nth allocation.
 *
 * Invariants: these functions never abort; failure is NULL and the caller
 * reports KILN_ENOMEM. Sizes passed to free are the sizes allocated.
 * Aligned blocks are over-allocated by RT_ALIGN_PAD bytes; the raw pointer
 * is stored in the pointer-sized slot just below the aligned address.
 */
#include "runtime/rt.h"

#include <string.h>

#define RT_ALIGN 64
#define RT_ALIGN_PAD (RT_ALIGN - 1 + sizeof(void *))

void *rt_malloc(rt_env *e, size_t size)
{
    return e->alloc.malloc(e->alloc.ud, size);
}

void *rt_calloc(rt_env *e, size_t n, size_t size)
{
    if (size && n > SIZE_MAX / size)
        return NULL;
    void *p = rt_malloc(e, n * size);
    if (p)
        memset(p, 0, n * size);
    return p;
}

void *rt_realloc(rt_env *e, void *p, size_t old_size, size_t new_size)
{
    if (!p)
        return rt_malloc(e, new_size);
    if (e->alloc.realloc)
        return e->alloc.realloc(e->alloc.ud, p, old_size, new_size);
    void *q = rt_malloc(e, new_size);
    if (!q)
        return NULL; /* p is untouched, as realloc's contract */
    memcpy(q, p, old_size < new_size ? old_size : new_size);
    rt_free(e, p, old_size);
    return q;
}

void rt_free(rt_env *e, void *p, size_t size)
{
    if (p)
        e->alloc.free(e->alloc.ud, p, size);
}

void *rt_aligned_alloc(rt_env *e, size_t size)
{
    if (size > SIZE_MAX - RT_ALIGN_PAD)
        return NULL;
    char *raw = rt_malloc(e, size + RT_ALIGN_PAD);
    if (!raw)
        return NULL;
    uintptr_t a = ((uintptr_t)raw + sizeof(void *) + RT_ALIGN - 1) & ~(uintptr_t)(RT_ALIGN - 1);
    char *p = raw + (a - (uintptr_t)raw);
    memcpy(p - sizeof(void *), &raw, sizeof raw);
    return p;
}

void rt_aligned_free(rt_env *e, void *p, size_t size)
{
    if (!p)
        return;
    char *raw;
    memcpy(&raw, (char *)p - sizeof(void *), sizeof raw);
    rt_free(e, raw, size + RT_ALIGN_PAD);
}

bool rt_mul_ok(int64_t a, int64_t b, int64_t *out)
{
    return !__builtin_mul_overflow(a, b, out);
}

bool rt_add_ok(int64_t a, int64_t b, int64_t *out)
{
    return !__builtin_add_overflow(a, b, out);
}
