/*
 * jit/cache.c — the kernel cache: signature -> compiled function, LRU
 * bounded, thread-safe.
 *
 * A chained hash table keyed by the signature's hash (full signature
 * compared on a match) and a doubly linked LRU list, both under
 * cache_lock, which is held only for lookups and list moves: the hit path
 * is sig + hash + one lock round trip, no allocation. A miss takes
 * compile_lock (serializing LLVM), looks again (another thread may have
 * compiled the same kernel meanwhile), compiles, inserts, and evicts from
 * the LRU tail down to the limit.
 *
 * Invariants:
 *   - an entry is pinned (pins > 0) from jit_get to jit_release; pins are
 *     taken under cache_lock and eviction only frees entries it sees
 *     unpinned under cache_lock, so running code is never freed (the cache
 *     may exceed its limit while everything is pinned);
 *   - failures are cached as entries without code (why kept), except
 *     transient ones (out of memory), so an unlowerable kernel costs one
 *     lookup per evaluation, not one compile;
 *   - KERNELS_LIVE == entries with code (a gauge, republished on every
 *     change); EVICTIONS counts entries dropped.
 */
#include "jit/internal.h"

#include <stdio.h>
#include <string.h>

enum { JC_SIG_STACK = 1024 };

static void jc_unlink_lru(jit_entry *e)
{
    e->prev->next = e->next;
    e->next->prev = e->prev;
}

static void jc_push_front(jit_engine *j, jit_entry *e)
{
    e->next = j->lru.next;
    e->prev = &j->lru;
    j->lru.next->prev = e;
    j->lru.next = e;
}

static jit_entry *jc_find(jit_engine *j, uint64_t h, const uint8_t *sig, size_t len)
{
    if (!j->tcap)
        return NULL;
    for (jit_entry *e = j->table[h & (j->tcap - 1)]; e; e = e->hnext)
        if (e->hash == h && e->siglen == len && memcmp(e->sig, sig, len) == 0)
            return e;
    return NULL;
}

static void jc_unlink_table(jit_engine *j, jit_entry *e)
{
    jit_entry **pp = &j->table[e->hash & (j->tcap - 1)];
    while (*pp != e)
        pp = &(*pp)->hnext;
    *pp = e->hnext;
}

/* Grows the table to keep chains short; false on OOM (still usable). */
static bool jc_grow(jit_engine *j)
{
    if (j->count < j->tcap * 3 / 4 && j->tcap)
        return true;
    size_t ncap = j->tcap ? j->tcap * 2 : 64;
    jit_entry **t = rt_calloc(j->env, ncap, sizeof *t);
    if (!t)
        return j->tcap > 0;
    for (size_t i = 0; i < j->tcap; i++) {
        jit_entry *e = j->table[i];
        while (e) {
            jit_entry *next = e->hnext;
            e->hnext = t[e->hash & (ncap - 1)];
            t[e->hash & (ncap - 1)] = e;
            e = next;
        }
    }
    rt_free(j->env, j->table, j->tcap * sizeof *j->table);
    j->table = t;
    j->tcap = ncap;
    return true;
}

/* KERNELS_LIVE is a gauge: stored, not incremented, so a counter reset
 * cannot make it wrap. Caller holds cache_lock. */
static void jc_publish_live(jit_engine *j)
{
    atomic_store(&j->counters[KILN_COUNTER_KERNELS_LIVE], (unsigned long long)j->live);
}

static void jc_free_entry(jit_engine *j, jit_entry *e)
{
    jit_discard(j, e->tracker);
    rt_free(j->env, e->sig, e->siglen);
    rt_free(j->env, e, sizeof *e);
}

/* Unlinks unpinned entries from the LRU tail until count <= limit; returns
 * them as a list (through hnext) to free outside cache_lock. Caller holds
 * both locks. */
static jit_entry *jc_evict(jit_engine *j, size_t limit)
{
    jit_entry *victims = NULL;
    jit_entry *e = j->lru.prev;
    while (j->count > limit && e != &j->lru) {
        jit_entry *prev = e->prev;
        if (atomic_load(&e->pins) == 0) {
            jc_unlink_lru(e);
            jc_unlink_table(j, e);
            j->count--;
            if (e->fn)
                j->live--;
            jit_count(j, KILN_COUNTER_EVICTIONS, 1);
            e->hnext = victims;
            victims = e;
        }
        e = prev;
    }
    return victims;
}

static void jc_free_list(jit_engine *j, jit_entry *e)
{
    while (e) {
        jit_entry *next = e->hnext;
        jc_free_entry(j, e);
        e = next;
    }
}

/* A hit: most recent, pinned if it has code. Caller holds cache_lock. */
static jit_entry *jc_hit(jit_engine *j, jit_entry *e, char *why, size_t why_cap)
{
    jc_unlink_lru(e);
    jc_push_front(j, e);
    jit_count(j, KILN_COUNTER_CACHE_HITS, 1);
    jit_dump_hit(j, e);
    if (!e->fn) {
        snprintf(why, why_cap, "%s", e->why);
        return NULL;
    }
    atomic_fetch_add(&e->pins, 1);
    return e;
}

jit_entry *jit_get(jit_engine *j, const gr_kernel *k, char *why, size_t why_cap)
{
    uint8_t stack[JC_SIG_STACK], *sig = stack;
    size_t len = gr_kernel_sig(k, stack, sizeof stack);
    if (len > sizeof stack) {
        if (!(sig = rt_malloc(j->env, len))) {
            snprintf(why, why_cap, "out of memory for a kernel signature");
            return NULL;
        }
        gr_kernel_sig(k, sig, len);
    }
    uint64_t h = gr_sig_hash(sig, len);
    jit_entry *r = NULL;

    pthread_mutex_lock(&j->cache_lock);
    jit_entry *e = jc_find(j, h, sig, len);
    if (e) {
        r = jc_hit(j, e, why, why_cap);
        pthread_mutex_unlock(&j->cache_lock);
        goto done;
    }
    pthread_mutex_unlock(&j->cache_lock);

    pthread_mutex_lock(&j->compile_lock);
    pthread_mutex_lock(&j->cache_lock);
    e = jc_find(j, h, sig, len); /* compiled by another thread meanwhile? */
    if (e) {
        r = jc_hit(j, e, why, why_cap);
        pthread_mutex_unlock(&j->cache_lock);
        pthread_mutex_unlock(&j->compile_lock);
        goto done;
    }
    unsigned serial = j->serial++;
    pthread_mutex_unlock(&j->cache_lock);
    jit_count(j, KILN_COUNTER_CACHE_MISSES, 1);

    e = rt_calloc(j->env, 1, sizeof *e);
    uint8_t *copy = e ? rt_malloc(j->env, len) : NULL;
    if (!e || !copy) {
        rt_free(j->env, e, e ? sizeof *e : 0);
        pthread_mutex_unlock(&j->compile_lock);
        snprintf(why, why_cap, "out of memory for a cache entry");
        goto done;
    }
    memcpy(copy, sig, len);
    e->sig = copy;
    e->siglen = len;
    e->hash = h;
    atomic_init(&e->pins, 0);
    gr_kernel_name(k, serial, e->name, sizeof e->name);
    bool cacheable;
    if (jit_compile(j, k, e, &cacheable) != 0 && !cacheable) {
        snprintf(why, why_cap, "%s", e->why);
        jc_free_entry(j, e);
        pthread_mutex_unlock(&j->compile_lock);
        goto done;
    }
    jit_dump_compiled(j, e, k);
    pthread_mutex_lock(&j->cache_lock);
    if (!jc_grow(j)) {
        pthread_mutex_unlock(&j->cache_lock);
        snprintf(why, why_cap, "out of memory growing the kernel cache");
        jc_free_entry(j, e);
        pthread_mutex_unlock(&j->compile_lock);
        goto done;
    }
    e->hnext = j->table[h & (j->tcap - 1)];
    j->table[h & (j->tcap - 1)] = e;
    jc_push_front(j, e);
    j->count++;
    if (e->fn) {
        j->live++;
        atomic_fetch_add(&e->pins, 1);
        r = e;
    } else {
        snprintf(why, why_cap, "%s", e->why);
    }
    jit_entry *victims = jc_evict(j, atomic_load(&j->limit));
    jc_publish_live(j);
    pthread_mutex_unlock(&j->cache_lock);
    jc_free_list(j, victims);
    pthread_mutex_unlock(&j->compile_lock);
done:
    if (sig != stack)
        rt_free(j->env, sig, len);
    return r;
}

rt_kernel_fn jit_entry_fn(const jit_entry *e) { return e ? e->fn : NULL; }
const char *jit_entry_name(const jit_entry *e) { return e ? e->name : ""; }

void jit_release(jit_entry *e)
{
    if (e)
        atomic_fetch_sub(&e->pins, 1);
}

void jit_set_cache_limit(jit_engine *j, size_t max_kernels)
{
    if (!j || max_kernels == 0)
        return;
    if (atomic_load(&j->limit) == max_kernels)
        return;
    pthread_mutex_lock(&j->compile_lock);
    pthread_mutex_lock(&j->cache_lock);
    atomic_store(&j->limit, max_kernels);
    jit_entry *victims = jc_evict(j, max_kernels);
    jc_publish_live(j);
    pthread_mutex_unlock(&j->cache_lock);
    jc_free_list(j, victims);
    pthread_mutex_unlock(&j->compile_lock);
}

size_t jit_cache_limit(const jit_engine *j) { return j ? atomic_load(&j->limit) : 0; }

void jit_cache_clear(jit_engine *j)
{
    pthread_mutex_lock(&j->cache_lock);
    jit_entry *e = j->lru.next, *victims = NULL;
    while (e != &j->lru) {
        jit_entry *next = e->next;
        e->hnext = victims;
        victims = e;
        e = next;
    }
    j->lru.next = j->lru.prev = &j->lru;
    j->count = j->live = 0;
    jc_publish_live(j);
    rt_free(j->env, j->table, j->tcap * sizeof *j->table);
    j->table = NULL;
    j->tcap = 0;
    pthread_mutex_unlock(&j->cache_lock);
    jc_free_list(j, victims);
}
