/*
 * frontend/dump.c — dumps and statistics as the user sees them:
 * kiln_ctx_set_dump, kiln_ctx_print_stats, the KILN_DUMP / KILN_DUMP_DIR /
 * KILN_PERF environment, launch timing, and the graph (DOT) and plan
 * files, which need the graph the frontend holds. The engine writes the
 * rest (jit/dump.c).
 *
 *   stages    "graph,plan,ir,opt,asm,stats,explain" (any subset, spaces
 *             allowed), "all" (every stage but perf), "perf", "" or
 *             "none" (off);
 *   files     one set per compiled kernel, named by the kernel
 *             (jit_entry_dump_name): the graph and plan of the evaluation
 *             that compiled it, its IR/opt/asm and explain;
 *   stats     per kernel (records keyed by signature, jit/dump.c) plus
 *             context totals; launches are timed only while 'stats' is on.
 *
 * Invariants: nothing here runs on the launch path unless a stage is on
 * (frontend/dump.h); a dump never changes a result or an evaluation's
 * status; all memory goes through the context's allocator.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* clock_gettime under -std=c11 */
#endif
#include "frontend/dump.h"
#include "graph/dump.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

static const struct {
    const char *word;
    unsigned bits;
} fd_words[] = {
    {"graph", JIT_DUMP_GRAPH}, {"plan", JIT_DUMP_PLAN},   {"ir", JIT_DUMP_IR},
    {"opt", JIT_DUMP_OPT},     {"asm", JIT_DUMP_ASM},     {"stats", JIT_DUMP_STATS},
    {"explain", JIT_DUMP_EXPLAIN}, {"perf", JIT_DUMP_PERF}, {"all", JIT_DUMP_ALL},
    {"none", 0},
};

/* Parses a stage list; 0 or -1 with err filled (the unknown word). */
static int fd_parse(const char *s, unsigned *out, char *err, size_t cap)
{
    unsigned m = 0;
    while (*s) {
        while (*s == ' ' || *s == '\t' || *s == ',')
            s++;
        const char *w = s;
        while (*s && *s != ',' && *s != ' ' && *s != '\t')
            s++;
        size_t n = (size_t)(s - w);
        if (n == 0)
            continue;
        bool found = false;
        for (size_t i = 0; i < sizeof fd_words / sizeof fd_words[0] && !found; i++)
            if (strlen(fd_words[i].word) == n && strncmp(w, fd_words[i].word, n) == 0) {
                m |= fd_words[i].bits;
                found = true;
            }
        if (!found) {
            snprintf(err, cap,
                     "unknown dump stage '%.*s' (stages: graph, plan, ir, opt, asm, stats, "
                     "explain, perf; all; none)",
                     (int)(n < 40 ? n : 40), w);
            return -1;
        }
    }
    *out = m;
    return 0;
}

static kiln_status fd_apply(kiln_ctx *ctx, unsigned stages, const char *dir)
{
    kiln_status s = jit_dump_set(ctx->jit, stages, dir);
    if (s == KILN_OK)
        atomic_store(&ctx->dump_stages, stages);
    return s;
}

kiln_status kiln_ctx_set_dump(kiln_ctx *ctx, const char *stages, const char *dir)
{
    if (!ctx)
        return KILN_ENULL;
    unsigned m = atomic_load(&ctx->dump_stages);
    char err[160];
    if (stages && fd_parse(stages, &m, err, sizeof err) != 0)
        return rt_err(ctx->env, KILN_EINVAL, "kiln_ctx_set_dump: %s", err);
    return fd_apply(ctx, m, dir);
}

void fe_dump_init(kiln_ctx *ctx)
{
    const char *ds = getenv("KILN_DUMP"), *dd = getenv("KILN_DUMP_DIR");
    const char *pf = getenv("KILN_PERF");
    if (!ds && !dd && !pf)
        return;
    unsigned m = 0;
    char err[160];
    if (ds && fd_parse(ds, &m, err, sizeof err) != 0) {
        rt_err(ctx->env, KILN_EINVAL, "KILN_DUMP: %s; dumping stays off", err);
        return;
    }
    if (pf && strcmp(pf, "1") == 0) {
        m |= JIT_DUMP_PERF;
    } else if (pf && strcmp(pf, "0") != 0 && pf[0] != '\0') {
        rt_err(ctx->env, KILN_EINVAL, "KILN_PERF is 1 or 0, not '%.40s'; dumping stays off", pf);
        return;
    }
    if (dd && !dd[0])
        dd = NULL;
    if (m || dd)
        fd_apply(ctx, m, dd); /* a folder that cannot be made is recorded (KILN_EIO) */
}

/* ---- launches --------------------------------------------------------------------- */

uint64_t fe_prof_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec + 1;
}

void fe_prof_record(kiln_ctx *ctx, const gr_plan *p, const gr_kernel *k, jit_entry *e,
                    uint64_t t0)
{
    uint64_t ns = fe_prof_now() - t0;
    jit_prof_launch(jit_prof_of(ctx->jit, k, e), ns, gr_kernel_bytes(p, k), e == NULL);
}

/* ---- graph and plan files ------------------------------------------------------------- */

enum { FD_NAME = 128 };

void fe_dump_eval_files(kiln_ctx *ctx, const gr_plan *p, kiln_mode mode)
{
    unsigned st = atomic_load(&ctx->dump_stages);
    if (st & JIT_DUMP_STATS) {
        atomic_fetch_add(&ctx->dump_evals, 1);
        atomic_fetch_add(&ctx->dump_temps, (unsigned long long)p->ntemps);
    }
    if (!(st & (JIT_DUMP_GRAPH | JIT_DUMP_PLAN)) || p->nkernels == 0)
        return;
    size_t n = (size_t)p->nkernels;
    char *buf = rt_malloc(ctx->env, n * FD_NAME);
    const char **names = rt_malloc(ctx->env, n * sizeof *names);
    bool *fresh = rt_malloc(ctx->env, n * sizeof *fresh);
    bool any = false;
    if (buf && names && fresh) {
        for (size_t ki = 0; ki < n; ki++) {
            char *name = buf + ki * FD_NAME;
            jit_prof *r = jit_prof_of(ctx->jit, &p->kernels[ki], NULL);
            fresh[ki] = jit_prof_claim(ctx->jit, r, name, FD_NAME);
            if (!fresh[ki])
                jit_prof_name(ctx->jit, r, name, FD_NAME);
            names[ki] = name;
            any |= fresh[ki];
        }
    }
    if (any) {
        bool fused = mode != KILN_MODE_UNFUSED;
        pthread_mutex_lock(&ctx->lock);
        for (size_t ki = 0; ki < n; ki++) {
            if (!fresh[ki])
                continue;
            FILE *f;
            if ((st & JIT_DUMP_GRAPH) && (f = jit_dump_open(ctx->jit, names[ki], ".dot"))) {
                gr_dot_write(p, ctx->graph, names, (int)ki, f);
                fclose(f);
            }
            if ((st & JIT_DUMP_PLAN) && (f = jit_dump_open(ctx->jit, names[ki], ".plan.txt"))) {
                gr_plan_write(p, ctx->graph, fused, names, (int)ki, f);
                fclose(f);
            }
        }
        pthread_mutex_unlock(&ctx->lock);
    }
    rt_free(ctx->env, buf, buf ? n * FD_NAME : 0);
    rt_free(ctx->env, names, names ? n * sizeof *names : 0);
    rt_free(ctx->env, fresh, fresh ? n * sizeof *fresh : 0);
}

/* ---- the stats table ------------------------------------------------------------------ */

void fe_fmt_bytes(double b, char *buf, size_t cap)
{
    static const char *const unit[] = {"B", "KB", "MB", "GB", "TB"};
    int u = 0;
    while (b >= 1024 && u < 4) {
        b /= 1024;
        u++;
    }
    snprintf(buf, cap, u ? "%.1f %s" : "%.0f %s", b, unit[u]);
}

kiln_status kiln_ctx_print_stats(kiln_ctx *ctx, FILE *f)
{
    if (!ctx)
        return KILN_ENULL;
    if (!f)
        return rt_err(ctx->env, KILN_ENULL, "kiln_ctx_print_stats: FILE is NULL");
    unsigned st = atomic_load(&ctx->dump_stages);
    size_t n = jit_prof_rows(ctx->jit, NULL, 0), cap = n;
    jit_prof_row *rows = cap ? rt_malloc(ctx->env, cap * sizeof *rows) : NULL;
    if (cap && !rows)
        return rt_err(ctx->env, KILN_ENOMEM, "out of memory printing statistics");
    size_t got = jit_prof_rows(ctx->jit, rows, n);
    n = got < n ? got : n; /* records made meanwhile wait for the next table */

    fprintf(f, "kiln stats: %zu kernel%s%s\n", n, n == 1 ? "" : "s",
            st & JIT_DUMP_STATS ? ""
                                : " (launches are timed only while the 'stats' dump stage is "
                                  "on: KILN_DUMP=stats or kiln_ctx_set_dump)");
    fprintf(f, "%-44s %9s %10s %9s %9s %10s %7s %10s %6s %6s  %s\n", "kernel", "launches",
            "total_ms", "mean_us", "min_us", "MB_moved", "GB/s", "compile_ms", "hits", "misses",
            "runs_on");
    uint64_t launches = 0, launch_ns = 0, bytes = 0;
    for (size_t i = 0; i < n; i++) {
        const jit_prof_row *r = &rows[i];
        launches += r->launches;
        launch_ns += r->launch_ns;
        bytes += r->bytes;
        double ms = r->launch_ns / 1e6;
        double mean = r->launches ? r->launch_ns / 1e3 / (double)r->launches : 0;
        double gbs = r->launch_ns ? (double)r->bytes / (double)r->launch_ns : 0;
        const char *on = r->fallback ? "interpreter" : r->interp_launches ? "jit+interpreter"
                                                                          : "jit";
        fprintf(f, "%-44s %9llu %10.3f %9.2f %9.2f %10.3f %7.2f %10.3f %6llu %6llu  %s", r->name,
                (unsigned long long)r->launches, ms, mean, r->min_ns / 1e3, (double)r->bytes / 1e6, gbs,
                r->compile_ns / 1e6, (unsigned long long)r->hits,
                (unsigned long long)r->misses, on);
        if (r->fallback && r->why[0])
            fprintf(f, " (%s)", r->why);
        fputc('\n', f);
    }
    uint64_t cns = kiln_ctx_counter(ctx, KILN_COUNTER_COMPILE_NS);
    char tb[32], mb[32];
    fe_fmt_bytes((double)kiln_ctx_counter(ctx, KILN_COUNTER_TEMP_BYTES), tb, sizeof tb);
    fe_fmt_bytes((double)bytes, mb, sizeof mb);
    fprintf(f, "totals: compile %.3f ms (%llu compiles, %llu cache hits, %llu misses); "
               "execute %.3f ms (%llu launches, %s moved",
            cns / 1e6, (unsigned long long)kiln_ctx_counter(ctx, KILN_COUNTER_COMPILES),
            (unsigned long long)kiln_ctx_counter(ctx, KILN_COUNTER_CACHE_HITS),
            (unsigned long long)kiln_ctx_counter(ctx, KILN_COUNTER_CACHE_MISSES),
            launch_ns / 1e6, (unsigned long long)launches, mb);
    if (launch_ns)
        fprintf(f, ", %.2f GB/s", (double)bytes / (double)launch_ns);
    fprintf(f, "); %llu evaluations; temporaries %llu (%s); interpreter fallbacks %llu\n",
            (unsigned long long)atomic_load(&ctx->dump_evals),
            (unsigned long long)atomic_load(&ctx->dump_temps), tb,
            (unsigned long long)kiln_ctx_counter(ctx, KILN_COUNTER_FALLBACKS));
    jit_disk_info in;
    jit_disk_info_get(ctx->jit, &in);
    if (in.on)
        fprintf(f, "disk cache %s: %llu kernels loaded, %llu stored, %llu entries rejected%s%s\n",
                in.dir, (unsigned long long)kiln_ctx_counter(ctx, KILN_COUNTER_DISK_HITS),
                (unsigned long long)kiln_ctx_counter(ctx, KILN_COUNTER_DISK_WRITES),
                (unsigned long long)kiln_ctx_counter(ctx, KILN_COUNTER_DISK_REJECTS),
                in.degraded ? "; " : "", in.degraded ? in.msg : "");
    char why[256];
    unsigned long errs = jit_dump_errors(ctx->jit, why, sizeof why);
    if (errs)
        fprintf(f, "dump: %lu file%s could not be written; first: %s\n", errs,
                errs == 1 ? "" : "s", why);
    rt_free(ctx->env, rows, cap * sizeof *rows);
    return ferror(f) ? rt_err(ctx->env, KILN_EIO, "kiln_ctx_print_stats: write failed") : KILN_OK;
}

void fe_dump_fini(kiln_ctx *ctx)
{
    if (atomic_load(&ctx->dump_stages) & JIT_DUMP_STATS)
        kiln_ctx_print_stats(ctx, stderr);
}
