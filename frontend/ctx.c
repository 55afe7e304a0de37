/*
 * frontend/ctx.c — the context: creation and teardown, errors, counters,
 * the default mode, and the mapping between public expression handles and
 * graph node ids.
 *
 * Invariants:
 *   - ctx->env is created first and released last; arrays retain it, so an
 *     array may outlive its context;
 *   - ctx->mode is never KILN_MODE_DEFAULT;
 *   - the context's workers (ctx->par) are joined before anything they
 *     could touch is freed; freeing the context sets the buffer pool's cap
 *     to 0 (idle memory returned now; arrays that outlive the context free
 *     theirs when released);
 *   - a kiln_expr names node id_ of ctx_ while gen_ equals the slot's
 *     generation; anything else is stale or foreign and reported, never
 *     dereferenced.
 */
#include "frontend/dump.h"
#include "frontend/fe.h"
#include "jit/jit.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

kiln_ctx *kiln_ctx_new(const kiln_allocator *alloc)
{
    if (alloc && (!alloc->malloc || !alloc->free))
        return NULL;
    rt_env *env = rt_env_new(alloc);
    if (!env)
        return NULL;
    kiln_ctx *ctx = rt_malloc(env, sizeof *ctx);
    if (!ctx) {
        rt_env_release(env);
        return NULL;
    }
    memset(ctx, 0, sizeof *ctx);
    ctx->env = env;
    ctx->mode = KILN_MODE_FUSED;
    ctx->cache_limit = 1024;
    for (int i = 0; i < KILN_COUNTER_COUNT; i++)
        atomic_init(&ctx->counters[i], 0);
    if (pthread_mutex_init(&ctx->lock, NULL) != 0) {
        rt_free(env, ctx, sizeof *ctx);
        rt_env_release(env);
        return NULL;
    }
    if (!rt_par_init(&ctx->par, rt_cpu_count())) {
        pthread_mutex_destroy(&ctx->lock);
        rt_free(env, ctx, sizeof *ctx);
        rt_env_release(env);
        return NULL;
    }
    ctx->graph = gr_graph_new(env);
    if (!ctx->graph) {
        rt_par_fini(&ctx->par);
        pthread_mutex_destroy(&ctx->lock);
        rt_free(env, ctx, sizeof *ctx);
        rt_env_release(env);
        return NULL;
    }
    /* jit_new only allocates (LLVM starts at the first compile), so NULL
     * means out of memory. A host LLVM cannot target is found later and
     * is not an error: every kernel then runs on the interpreter. */
    ctx->jit = jit_new(env, ctx->counters);
    if (!ctx->jit) {
        gr_graph_free(ctx->graph);
        rt_par_fini(&ctx->par);
        pthread_mutex_destroy(&ctx->lock);
        rt_free(env, ctx, sizeof *ctx);
        rt_env_release(env);
        return NULL;
    }
    fe_dump_init(ctx); /* KILN_DUMP & co.; allocates nothing when unset */
    const char *nt = getenv("KILN_NUM_THREADS");
    if (nt) {
        int n;
        if (rt_parse_threads(nt, &n))
            rt_par_set_threads(&ctx->par, n ? n : rt_cpu_count());
        else
            rt_err(env, KILN_EINVAL,
                   "KILN_NUM_THREADS='%.40s' is not a thread count in [0, %d]: using %d", nt,
                   KILN_MAX_THREADS, rt_cpu_count());
    }
    fe_calib_load(ctx); /* the disk cache's, if this machine measured it before */
    return ctx;
}

void kiln_ctx_free(kiln_ctx *ctx)
{
    if (!ctx)
        return;
    rt_env *env = ctx->env;
    fe_dump_fini(ctx); /* the stats table, if asked for */
    fe_calib_store(ctx);
    rt_par_fini(&ctx->par); /* workers joined */
    jit_free(ctx->jit);
    gr_graph_free(ctx->graph);
    pthread_mutex_destroy(&ctx->lock);
    rt_free(env, ctx, sizeof *ctx);
    rt_bufpool_set_cap(env, 0); /* idle memory back now, not when the last array goes */
    rt_env_release(env);
}

kiln_status kiln_errcode(const kiln_ctx *ctx)
{
    if (!ctx)
        return KILN_ENULL;
    rt_env *env = ctx->env;
    pthread_mutex_lock(&env->lock);
    kiln_status s = env->code;
    pthread_mutex_unlock(&env->lock);
    return s;
}

/* The message buffer is the context's: like sqlite3_errmsg, the pointer is
 * meaningful until the next failing call on ctx from any thread. */
const char *kiln_errmsg(const kiln_ctx *ctx)
{
    if (!ctx)
        return "NULL context";
    return kiln_errcode(ctx) == KILN_OK ? "" : ctx->env->msg;
}

void kiln_clear_error(kiln_ctx *ctx)
{
    if (!ctx)
        return;
    pthread_mutex_lock(&ctx->env->lock);
    ctx->env->code = KILN_OK;
    ctx->env->msg[0] = '\0';
    pthread_mutex_unlock(&ctx->env->lock);
}

kiln_status kiln_ctx_set_mode(kiln_ctx *ctx, kiln_mode mode)
{
    if (!ctx)
        return KILN_ENULL;
    if (mode < KILN_MODE_DEFAULT || mode > KILN_MODE_INTERP)
        return rt_err(ctx->env, KILN_EINVAL, "unknown evaluation mode %d", (int)mode);
    ctx->mode = mode == KILN_MODE_DEFAULT ? KILN_MODE_FUSED : mode;
    return KILN_OK;
}

kiln_mode kiln_ctx_mode(const kiln_ctx *ctx) { return ctx ? ctx->mode : KILN_MODE_DEFAULT; }

uint64_t kiln_ctx_counter(const kiln_ctx *ctx, kiln_counter c)
{
    if (!ctx || c < 0 || c >= KILN_COUNTER_COUNT)
        return 0;
    kiln_ctx *m = (kiln_ctx *)ctx; /* the lock is not part of the value */
    switch (c) {
    case KILN_COUNTER_NODES_LIVE: {
        pthread_mutex_lock(&m->lock);
        uint64_t n = gr_count(m->graph);
        pthread_mutex_unlock(&m->lock);
        return n;
    }
    case KILN_COUNTER_TEMP_BYTES:
        return atomic_load(&m->env->temp_bytes);
    case KILN_COUNTER_POOL_HITS:
        return atomic_load(&m->env->pool.hits);
    case KILN_COUNTER_POOL_BYTES:
        return atomic_load(&m->env->pool.held_bytes);
    default:
        return atomic_load(&m->counters[c]);
    }
}

void kiln_ctx_reset_counters(kiln_ctx *ctx)
{
    if (!ctx)
        return;
    for (int i = 0; i < KILN_COUNTER_COUNT; i++)
        atomic_store(&ctx->counters[i], 0);
    atomic_store(&ctx->env->temp_bytes, 0);
    atomic_store(&ctx->env->pool.hits, 0);
}

const char *kiln_last_fallback(const kiln_ctx *ctx) { return ctx ? ctx->fallback : ""; }

kiln_status kiln_ctx_set_cache_limit(kiln_ctx *ctx, size_t max_kernels)
{
    if (!ctx)
        return KILN_ENULL;
    if (max_kernels == 0)
        return rt_err(ctx->env, KILN_EINVAL, "cache limit must be at least 1 kernel");
    ctx->cache_limit = max_kernels;
    if (ctx->jit)
        jit_set_cache_limit(ctx->jit, max_kernels);
    return KILN_OK;
}

kiln_status kiln_ctx_set_threads(kiln_ctx *ctx, int n)
{
    if (!ctx)
        return KILN_ENULL;
    if (n < 0 || n > KILN_MAX_THREADS)
        return rt_err(ctx->env, KILN_EINVAL, "thread count %d is out of range [0, %d]", n,
                      KILN_MAX_THREADS);
    rt_par_set_threads(&ctx->par, n ? n : rt_cpu_count());
    ctx->calib_loaded = false;
    fe_calib_load(ctx);
    return KILN_OK;
}

int kiln_ctx_threads(const kiln_ctx *ctx)
{
    return ctx ? rt_par_threads((rt_par *)&ctx->par) : 0;
}

kiln_status kiln_ctx_set_parallel_for(kiln_ctx *ctx, kiln_parallel_for fn, void *ud)
{
    if (!ctx)
        return KILN_ENULL;
    rt_par_set_callback(&ctx->par, fn, ud);
    ctx->calib_loaded = false;
    if (!fn)
        fe_calib_load(ctx);
    return KILN_OK;
}

kiln_status kiln_ctx_set_pool_limit(kiln_ctx *ctx, size_t bytes)
{
    if (!ctx)
        return KILN_ENULL;
    rt_bufpool_set_cap(ctx->env, bytes);
    return KILN_OK;
}

/* ---- handles ----------------------------------------------------------- */

kiln_expr fe_handle(kiln_ctx *ctx, gr_id id)
{
    kiln_expr e = {ctx, id, gr_node_at(ctx->graph, id)->gen};
    return e;
}

gr_id fe_node_of(kiln_ctx *ctx, kiln_expr e)
{
    if (!e.ctx_) {
        rt_err(ctx ? ctx->env : NULL, KILN_ENULL, "expression handle is empty (no context)");
        return GR_NONE;
    }
    if (ctx && e.ctx_ != ctx) {
        rt_err(ctx->env, KILN_EFOREIGN, "expression handle belongs to another context");
        return GR_NONE;
    }
    if (!gr_valid(e.ctx_->graph, e.id_, e.gen_)) {
        rt_err(e.ctx_->env, KILN_ESTALE,
               "expression handle %u is stale: its scope has ended", (unsigned)e.id_);
        return GR_NONE;
    }
    return e.id_;
}
