/*
 * runtime/env.c — the environment shared by a context and its arrays: a
 * copy of the allocation hook, the error sink (last status + message) and
 * the buffer pool (runtime/bufpool.c), which dies with it.
 *
 * Invariants: an env is allocated through its own allocator and freed
 * through it by the last rt_env_release, so arrays may outlive the context
 * that made them. code/msg change only under lock. The default allocator
 * (alloc == NULL) is the only place in kiln that calls libc's malloc family.
 */
#include "runtime/rt.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void *rt_libc_malloc(void *ud, size_t size)
{
    (void)ud;
    return malloc(size ? size : 1);
}

static void *rt_libc_realloc(void *ud, void *ptr, size_t old_size, size_t new_size)
{
    (void)ud;
    (void)old_size;
    return realloc(ptr, new_size ? new_size : 1);
}

static void rt_libc_free(void *ud, void *ptr, size_t size)
{
    (void)ud;
    (void)size;
    free(ptr);
}

static const kiln_allocator rt_libc_alloc = {rt_libc_malloc, rt_libc_realloc, rt_libc_free, NULL};

rt_env *rt_env_new(const kiln_allocator *alloc)
{
    if (!alloc)
        alloc = &rt_libc_alloc;
    if (!alloc->malloc || !alloc->free) /* malloc and free are required */
        return NULL;
    rt_env *e = alloc->malloc(alloc->ud, sizeof *e);
    if (!e)
        return NULL;
    memset(e, 0, sizeof *e);
    if (pthread_mutex_init(&e->lock, NULL) != 0) {
        alloc->free(alloc->ud, e, sizeof *e);
        return NULL;
    }
    if (!rt_bufpool_init(&e->pool)) {
        pthread_mutex_destroy(&e->lock);
        alloc->free(alloc->ud, e, sizeof *e);
        return NULL;
    }
    atomic_init(&e->refs, 1);
    atomic_init(&e->temp_bytes, 0);
    e->alloc = *alloc;
    e->code = KILN_OK;
    e->msg[0] = '\0';
    return e;
}

void rt_env_retain(rt_env *e)
{
    if (e)
        atomic_fetch_add_explicit(&e->refs, 1, memory_order_relaxed);
}

void rt_env_release(rt_env *e)
{
    if (!e || atomic_fetch_sub_explicit(&e->refs, 1, memory_order_acq_rel) != 1)
        return;
    kiln_allocator a = e->alloc;
    rt_bufpool_fini(e); /* no buffer is in use: each held a reference */
    pthread_mutex_destroy(&e->lock);
    a.free(a.ud, e, sizeof *e);
}

kiln_status rt_err(rt_env *e, kiln_status code, const char *fmt, ...)
{
    if (!e)
        return code;
    pthread_mutex_lock(&e->lock);
    e->code = code;
    if (fmt) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(e->msg, sizeof e->msg, fmt, ap);
        va_end(ap);
    } else {
        snprintf(e->msg, sizeof e->msg, "%s", kiln_status_str(code));
    }
    pthread_mutex_unlock(&e->lock);
    return code;
}

char *rt_fmt_shape(char *buf, size_t cap, int rank, const int64_t *shape)
{
    if (!buf || cap == 0)
        return buf;
    size_t n = 0;
    buf[0] = '\0';
#define RT_PUT_(...)                                                                   \
    do {                                                                               \
        if (n < cap) {                                                                 \
            int w_ = snprintf(buf + n, cap - n, __VA_ARGS__);                          \
            n = w_ < 0 ? cap : n + (size_t)w_;                                         \
        }                                                                              \
    } while (0)
    RT_PUT_("(");
    if (rank < 0 || rank > KILN_MAX_RANK || (rank > 0 && !shape)) {
        RT_PUT_("?)");
        return buf;
    }
    for (int k = 0; k < rank; k++)
        RT_PUT_(k ? ",%lld" : "%lld", (long long)shape[k]);
    RT_PUT_(rank == 1 ? ",)" : ")");
#undef RT_PUT_
    return buf;
}
