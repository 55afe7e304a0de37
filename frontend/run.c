/*
 * frontend/run.c — the JIT pipeline for KILN_MODE_FUSED / KILN_MODE_UNFUSED.
 *
 * Until jit/ is attached to the context, every kernel falls back to the
 * reference interpreter; the reason is recorded and counted, as for any
 * kernel the JIT cannot compile.
 */
#include "frontend/fe.h"

#include <stdio.h>

kiln_status fe_run_jit(kiln_ctx *ctx, kiln_mode mode, size_t n, const gr_id *roots,
                       kiln_array *const *outs)
{
    (void)mode;
    atomic_fetch_add(&ctx->counters[KILN_COUNTER_FALLBACKS], 1);
    snprintf(ctx->fallback, sizeof ctx->fallback, "no JIT attached to the context");
    return gr_interp(ctx->graph, ctx->env, 0, NULL, n, roots, outs);
}
