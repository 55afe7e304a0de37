/*
 * frontend/run.c — the JIT pipeline for KILN_MODE_FUSED / KILN_MODE_UNFUSED,
 * as one function:
 *
 *   plan      graph/fuse.c   roots -> kernels + temporaries (under ctx->lock)
 *   per kernel, in order:
 *     temps   allocate the temporaries it writes
 *     compile jit/cache.c    signature -> cached function, or compile
 *     launch  runtime/       bind arrays and parameters, run [0, extent0):
 *                            inline, or split over the context's threads
 *                            when its cost (graph/cost.c) pays for it
 *             (or, if it could not be compiled: the interpreter, counted
 *             in KILN_COUNTER_FALLBACKS with the reason in ctx->fallback)
 *     free    temporaries no later kernel reads
 *   copy      outputs computed into temporaries (they overlapped inputs)
 *
 * Invariants: called with ctx->lock held, returns with it held; the lock is
 * dropped while compiling and running (kernels read arrays, not the graph)
 * and retaken for the interpreter, which reads the graph. Planning a small
 * expression allocates nothing (the plan's arena starts on the stack); a
 * cached kernel costs a signature, a hash and one short lock. Every
 * temporary is released on every path.
 */
#include "frontend/dump.h"
#include "frontend/fe.h"
#include "graph/cost.h"
#include "graph/plan.h"
#include "jit/jit.h"

#include <stdio.h>
#include <string.h>

enum { RUN_ARENA = 12288, RUN_BINDS = 8 };

static void run_release_temps(gr_plan *p, int after_kernel)
{
    for (int t = 0; t < p->ntemps; t++) {
        gr_temp *tm = &p->temps[t];
        if (tm->array && (after_kernel < 0 || tm->last_use == after_kernel)) {
            kiln_array_release(tm->array);
            tm->array = NULL;
        }
    }
}

static kiln_status run_alloc_temps(kiln_ctx *ctx, gr_plan *p, int kernel)
{
    for (int t = 0; t < p->ntemps; t++) {
        gr_temp *tm = &p->temps[t];
        if (tm->first_def != kernel || tm->array)
            continue;
        kiln_status s = rt_array_alloc(ctx->env, tm->dtype, tm->rank, tm->shape, KILN_ORDER_C,
                                       false, &tm->array);
        if (s != KILN_OK)
            return s;
        atomic_fetch_add(&ctx->env->temp_bytes,
                         (unsigned long long)tm->array->size * rt_dtypes[tm->dtype].size);
    }
    return KILN_OK;
}

static kiln_array *run_src_array(const gr_plan *p, gr_src s)
{
    return s.array ? s.array : p->temps[s.temp].array;
}

/* Kernel k on the reference interpreter: its outputs' roots, with every
 * non-leaf value it reads bound to the array holding it. */
static kiln_status run_interp(kiln_ctx *ctx, const gr_plan *p, const gr_kernel *k, const char *why)
{
    gr_binding bstack[RUN_BINDS], *bind = bstack;
    gr_id rstack[RUN_BINDS], *roots = rstack;
    kiln_array *ostack[RUN_BINDS], **outs = ostack;
    size_t nb = 0, cap = (size_t)k->nops + k->nparams;
    if (cap > RUN_BINDS) {
        bind = rt_malloc(ctx->env, cap * sizeof *bind);
        roots = rt_malloc(ctx->env, cap * sizeof *roots);
        outs = rt_malloc(ctx->env, cap * sizeof *outs);
    }
    kiln_status s = KILN_ENOMEM;
    if (bind && roots && outs) {
        for (int o = 0; o < k->nout; o++) {
            roots[o] = k->ops[o].node;
            outs[o] = run_src_array(p, k->ops[o].src);
        }
        pthread_mutex_lock(&ctx->lock);
        for (int o = k->nout; o < k->nops; o++)
            if (gr_node_at(ctx->graph, k->ops[o].node)->op != GR_OP_INPUT)
                bind[nb++] = (gr_binding){k->ops[o].node, run_src_array(p, k->ops[o].src)};
        for (int q = 0; q < k->nparams; q++)
            if ((k->params[q].src.array || k->params[q].src.temp >= 0) &&
                gr_node_at(ctx->graph, k->params[q].node)->op != GR_OP_INPUT)
                bind[nb++] = (gr_binding){k->params[q].node, run_src_array(p, k->params[q].src)};
        s = gr_interp(ctx->graph, ctx->env, nb, bind, k->nout, roots, outs);
        snprintf(ctx->fallback, sizeof ctx->fallback, "%s", why);
        pthread_mutex_unlock(&ctx->lock);
        atomic_fetch_add(&ctx->counters[KILN_COUNTER_FALLBACKS], 1);
    } else {
        rt_err(ctx->env, KILN_ENOMEM, "out of memory running a kernel on the interpreter");
    }
    if (bind != bstack) {
        rt_free(ctx->env, bind, bind ? cap * sizeof *bind : 0);
        rt_free(ctx->env, roots, roots ? cap * sizeof *roots : 0);
        rt_free(ctx->env, outs, outs ? cap * sizeof *outs : 0);
    }
    return s;
}

static kiln_status run_kernel(kiln_ctx *ctx, gr_plan *p, int ki)
{
    gr_kernel *k = &p->kernels[ki];
    char why[256] = "";
    jit_entry *e = jit_get(ctx->jit, k, why, sizeof why);
    if (!e) {
        uint64_t t0 = fe_prof_begin(ctx); /* 0 unless the 'stats' dump is on */
        kiln_status s = run_interp(ctx, p, k, why);
        fe_prof_end(ctx, p, k, NULL, t0);
        return s;
    }
    gr_kernel_bind(k, p);
    rt_work w = gr_kernel_work(p, k);
    uint64_t t0 = fe_prof_begin(ctx);
    int64_t chunks = rt_launch(&ctx->par, jit_entry_fn(e), &k->args, k->extent[0], &w);
    fe_prof_end(ctx, p, k, e, t0);
    jit_release(e);
    atomic_fetch_add_explicit(&ctx->counters[KILN_COUNTER_LAUNCHES], 1, memory_order_relaxed);
    if (chunks > 1)
        atomic_fetch_add_explicit(&ctx->counters[KILN_COUNTER_PARALLEL_LAUNCHES], 1,
                                  memory_order_relaxed);
    return KILN_OK;
}

kiln_status fe_run_jit(kiln_ctx *ctx, kiln_mode mode, size_t n, const gr_id *roots,
                       kiln_array *const *outs)
{
    if (!ctx->jit) {
        atomic_fetch_add(&ctx->counters[KILN_COUNTER_FALLBACKS], 1);
        snprintf(ctx->fallback, sizeof ctx->fallback, "no JIT attached to the context");
        return gr_interp(ctx->graph, ctx->env, 0, NULL, n, roots, outs);
    }
    _Alignas(16) char arena[RUN_ARENA];
    gr_plan plan;
    gr_plan_init(&plan, ctx->env, arena, sizeof arena);
    kiln_status s = gr_plan_build(&plan, ctx->graph, mode != KILN_MODE_UNFUSED, n, roots, outs);
    if (s != KILN_OK) {
        gr_plan_free(&plan);
        return s;
    }
    if (jit_cache_limit(ctx->jit) != ctx->cache_limit)
        jit_set_cache_limit(ctx->jit, ctx->cache_limit);

    pthread_mutex_unlock(&ctx->lock);
    for (int ki = 0; ki < plan.nkernels && s == KILN_OK; ki++) {
        s = run_alloc_temps(ctx, &plan, ki);
        if (s == KILN_OK)
            s = run_kernel(ctx, &plan, ki);
        run_release_temps(&plan, ki);
    }
    for (int t = 0; t < plan.ntemps && s == KILN_OK; t++)
        if (plan.temps[t].copy_to && plan.temps[t].array)
            s = rt_array_copy_into(ctx->env, plan.temps[t].array, plan.temps[t].copy_to);
    run_release_temps(&plan, -1);
    fe_dump_eval(ctx, &plan, mode); /* graph/plan files of new kernels, if dumping */
    gr_plan_free(&plan);
    pthread_mutex_lock(&ctx->lock);
    return s;
}
