/*
 * frontend/cache.c — the persistent kernel cache's public side
 * (kiln_ctx_set_disk_cache, kiln_ctx_print_cache, kiln_ctx_clear_cache)
 * and the launch policy's calibration kept in the same folder: loaded when
 * a context is made or its thread count changes, stored when it is freed.
 *
 * The files themselves are jit/diskcache.c's; runtime/ does no file I/O:
 * the calibration goes in and out through rt_par_calib_get/set.
 * Invariants: nothing here is an error for the user when the folder is
 * missing, unreadable or unwritable (the cache is a cache); the library
 * prints only to the FILE given to kiln_ctx_print_cache.
 */
#include "frontend/dump.h"
#include "frontend/fe.h"
#include "jit/jit.h"

#include <errno.h>
#include <string.h>

kiln_status kiln_ctx_set_disk_cache(kiln_ctx *ctx, int on, const char *dir)
{
    if (!ctx)
        return KILN_ENULL;
    if (!ctx->jit)
        return KILN_OK;
    char why[200];
    kiln_status s = jit_disk_set(ctx->jit, on != 0, dir, why, sizeof why);
    if (s != KILN_OK)
        return rt_err(ctx->env, s, "kiln_ctx_set_disk_cache: %s", why);
    if (on)
        fe_calib_load(ctx);
    return KILN_OK;
}

kiln_status kiln_ctx_print_cache(kiln_ctx *ctx, FILE *f)
{
    if (!ctx)
        return KILN_ENULL;
    if (!f)
        return rt_err(ctx->env, KILN_ENULL, "kiln_ctx_print_cache: FILE is NULL");
    jit_disk_info in;
    memset(&in, 0, sizeof in);
    if (ctx->jit)
        jit_disk_info_get(ctx->jit, &in);
    char bytes[32], bound[32];
    fe_fmt_bytes((double)in.bytes, bytes, sizeof bytes);
    fe_fmt_bytes((double)in.max_bytes, bound, sizeof bound);
    fprintf(f, "kiln disk cache: %s\n", in.dir[0] ? in.dir : "(no folder)");
    fprintf(f, "state: %s\n", !in.on ? (in.msg[0] ? in.msg : "off")
                              : in.degraded ? in.msg : "on");
    fprintf(f, "entries: %llu kernels, %s (bound %s, least recently used removed past it)\n",
            (unsigned long long)in.entries, bytes, bound);
    if (in.temps)
        fprintf(f, "temporary files: %llu (being written, or left by a crash)\n",
                (unsigned long long)in.temps);
    fprintf(f, "this context: %llu loaded, %llu compiled, %llu stored, %llu rejected\n",
            (unsigned long long)kiln_ctx_counter(ctx, KILN_COUNTER_DISK_HITS),
            (unsigned long long)kiln_ctx_counter(ctx, KILN_COUNTER_COMPILES),
            (unsigned long long)kiln_ctx_counter(ctx, KILN_COUNTER_DISK_WRITES),
            (unsigned long long)kiln_ctx_counter(ctx, KILN_COUNTER_DISK_REJECTS));
    return ferror(f) ? rt_err(ctx->env, KILN_EIO, "kiln_ctx_print_cache: write failed") : KILN_OK;
}

kiln_status kiln_ctx_clear_cache(kiln_ctx *ctx, uint64_t *removed)
{
    if (removed)
        *removed = 0;
    if (!ctx)
        return KILN_ENULL;
    if (!ctx->jit)
        return KILN_OK;
    long n = jit_disk_clear(ctx->jit);
    if (n < 0) {
        if (errno == ENOENT)
            return KILN_OK; /* no folder: nothing cached */
        jit_disk_info in;
        jit_disk_info_get(ctx->jit, &in);
        return rt_err(ctx->env, KILN_EIO, "cannot read the disk cache folder %s: %s", in.dir,
                      strerror(errno));
    }
    if (removed)
        *removed = (uint64_t)n;
    return KILN_OK;
}

/* ---- the calibration --------------------------------------------------------- */

void fe_calib_load(kiln_ctx *ctx)
{
    rt_par_calib c;
    uint64_t v[4];
    c.threads = rt_par_threads(&ctx->par);
    if (!ctx->jit || c.threads < 2 || !jit_disk_calib_load(ctx->jit, c.threads, v))
        return;
    c.fast_fs = v[0];
    c.byte_fs = v[1];
    c.wake_ns = v[2];
    c.post_ns = v[3];
    ctx->calib_loaded = rt_par_calib_set(&ctx->par, &c);
}

void fe_calib_store(kiln_ctx *ctx)
{
    rt_par_calib c;
    if (!ctx->jit || ctx->calib_loaded || !rt_par_calib_get(&ctx->par, &c))
        return;
    uint64_t v[4] = {c.fast_fs, c.byte_fs, c.wake_ns, c.post_ns};
    jit_disk_calib_store(ctx->jit, c.threads, v);
}
