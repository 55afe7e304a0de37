/*
 * frontend/dump.h — the context's side of the profiling dump
 * (frontend/dump.c; docs/PROFILING.md): settings from the API and the
 * environment, launch timing, the graph and plan files of freshly
 * compiled kernels, the stats table.
 *
 * Invariants: ctx->dump_stages is the only thing the launch path reads
 * when dumps are off (one relaxed atomic load and a branch per launch: no
 * clock read, no call); the library prints only what a user asked for —
 * the stats table at kiln_ctx_free when the 'stats' stage is on, to
 * stderr — and an error in the environment's settings is recorded on the
 * context, not printed.
 */
#ifndef KILN_FE_DUMP_H
#define KILN_FE_DUMP_H

#include "frontend/fe.h"
#include "graph/plan.h"
#include "jit/dump.h"

/* kiln_ctx_new: reads KILN_DUMP, KILN_DUMP_DIR, KILN_PERF (nothing is
 * allocated when none is set). A bad value is recorded as the context's
 * error (KILN_EINVAL) and leaves dumping off. */
void fe_dump_init(kiln_ctx *ctx);
/* kiln_ctx_free, before the engine goes: the stats table to stderr if
 * the 'stats' stage is on. */
void fe_dump_fini(kiln_ctx *ctx);

/* "1.5 MB": b bytes in binary units, for tables. */
void fe_fmt_bytes(double b, char *buf, size_t cap);

/* Monotonic nanoseconds, never 0. */
uint64_t fe_prof_now(void);
/* A launch of k, a kernel of p (e from jit_get, NULL when the
 * interpreter ran it), that started at t0. */
void fe_prof_record(kiln_ctx *ctx, const gr_plan *p, const gr_kernel *k, jit_entry *e,
                    uint64_t t0);
/* After an evaluation's kernels ran: counts it for the stats, and writes
 * the graph and plan of each kernel compiled for it. Takes ctx->lock to
 * read the graph; call without it. */
void fe_dump_eval_files(kiln_ctx *ctx, const gr_plan *p, kiln_mode mode);

/* The launch path's hooks: free when dumps are off. */
static inline uint64_t fe_prof_begin(kiln_ctx *ctx)
{
    return (atomic_load_explicit(&ctx->dump_stages, memory_order_relaxed) & JIT_DUMP_STATS)
               ? fe_prof_now()
               : 0;
}

static inline void fe_prof_end(kiln_ctx *ctx, const gr_plan *p, const gr_kernel *k,
                               jit_entry *e, uint64_t t0)
{
    if (t0)
        fe_prof_record(ctx, p, k, e, t0);
}

static inline void fe_dump_eval(kiln_ctx *ctx, const gr_plan *p, kiln_mode mode)
{
    if (atomic_load_explicit(&ctx->dump_stages, memory_order_relaxed))
        fe_dump_eval_files(ctx, p, mode);
}

#endif /* KILN_FE_DUMP_H */
