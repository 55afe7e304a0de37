/*
 * frontend/fe.h — the context and what the public API's files share.
 *
 * The context owns the DAG (graph/), the JIT engine (jit/) and the
 * counters; arrays share only its rt_env (allocator + error sink), so they
 * outlive it safely. Graph mutation (constructors, scopes) happens under
 * ctx->lock; evaluation reads the graph under the same lock only while
 * planning, then runs without it.
 */
#ifndef KILN_FE_H
#define KILN_FE_H

#include "graph/graph.h"
#include "runtime/pool.h"
#include "runtime/rt.h"

struct jit_engine;

struct kiln_ctx {
    rt_env *env;         /* retained; shared with arrays */
    gr_graph *graph;
    struct jit_engine *jit; /* NULL if the JIT could not start: interpret */
    kiln_mode mode;      /* default mode, never KILN_MODE_DEFAULT */
    pthread_mutex_t lock; /* guards graph */
    size_t cache_limit;
    atomic_ullong counters[KILN_COUNTER_COUNT];
    char fallback[512];  /* why the last fallback happened (under lock) */
    /* frontend/dump.c: JIT_DUMP_* stages on (0 = off: all the launch path
     * reads), and evaluations and temporaries counted while 'stats' is on */
    atomic_uint dump_stages;
    atomic_ullong dump_evals, dump_temps;
    /* runtime/pool.c: thread settings, the workers (started at the first
     * launch worth splitting), the launch policy's calibration */
    rt_par par;
    bool calib_loaded;   /* par's calibration came from the disk cache */
};

/* Handle <-> node. fe_node_of returns GR_NONE and records an error on
 * ctx when e is stale, foreign or NULL-context. Call under ctx->lock. */
gr_id fe_node_of(kiln_ctx *ctx, kiln_expr e);
kiln_expr fe_handle(kiln_ctx *ctx, gr_id id);

/* Checks an array handle against ctx: non-NULL and made by this context.
 * what names the argument in the message ("output", "input"). */
kiln_status fe_check_array(kiln_ctx *ctx, const kiln_array *a, const char *what);

/* The thread calibration kept with the disk cache (frontend/cache.c):
 * load when the context is made or its thread settings change, store (if
 * measured here, undisturbed) when it is freed. Never an error. */
void fe_calib_load(kiln_ctx *ctx);
void fe_calib_store(kiln_ctx *ctx);

/* Resolves handles args[0..n) into ids (frontend/expr.c): GR_NONE, or the
 * node a constructor named what must return (a sticky ERROR input or a new
 * ERROR for a NULL-context, foreign or stale handle). Under ctx->lock. */
gr_id fe_resolve(kiln_ctx *ctx, const char *what, int n, const kiln_expr *args, gr_id *ids);

/* User-defined functions (frontend/udf.c). fe_udf_apply: registration fn
 * applied to args[0..nargs) (count, NULL array and handles checked), under
 * ctx->lock. The others take the lock themselves: fe_udf_lookup gives the
 * argument count of the function named name[0..len) (and its name, which
 * lives as long as ctx), or -1; fe_udf_count and fe_udf_name list the
 * registered names (for the parser's messages). */
gr_id fe_udf_apply(kiln_ctx *ctx, int fn, int nargs, const kiln_expr *args);
int fe_udf_lookup(kiln_ctx *ctx, const char *name, size_t len, const char **canon);
int fe_udf_count(kiln_ctx *ctx);
const char *fe_udf_name(kiln_ctx *ctx, int i);

/* The JIT pipeline (frontend/run.c): plan -> signature -> cache or compile
 * -> launch, for KILN_MODE_FUSED / KILN_MODE_UNFUSED. Called with ctx->lock
 * held and outputs already checked; returns with it held (it may drop it
 * around kernel launches). Falls back to the interpreter per kernel. */
kiln_status fe_run_jit(kiln_ctx *ctx, kiln_mode mode, size_t n, const gr_id *roots,
                       kiln_array *const *outs);

#endif /* KILN_FE_H */
