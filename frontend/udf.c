/*
 * frontend/udf.c — the public API of user-defined scalar functions:
 * registration on a context and application by name (kiln.h, "User-defined
 * scalar functions"); the names the parser and kiln_op resolve.
 *
 * The table lives in the context's graph (graph/udf.c) under ctx->lock;
 * registrations are never removed before kiln_ctx_free, so a name pointer
 * handed out here stays valid for the context's life.
 */
#include "frontend/fe.h"

#include <stdio.h>
#include <string.h>

kiln_status kiln_udf_register(kiln_ctx *ctx, const char *name, kiln_udf_fn fn, kiln_dtype ret,
                              int nargs, const kiln_dtype *args)
{
    if (!ctx)
        return KILN_ENULL;
    pthread_mutex_lock(&ctx->lock);
    kiln_status s = gr_udf_register(ctx->graph, name, fn, ret, nargs, args);
    pthread_mutex_unlock(&ctx->lock);
    return s;
}

/* "f, g, h" (the registered names, truncated to fit), or a note that none
 * are. Under ctx->lock. */
static const char *fe_udf_names(kiln_ctx *ctx, char *buf, size_t cap)
{
    uint32_t n = gr_udf_count(ctx->graph);
    if (n == 0)
        return "no functions are registered on this context";
    size_t len = (size_t)snprintf(buf, cap, "registered: ");
    for (uint32_t i = 0; i < n && len < cap; i++) {
        int w = snprintf(buf + len, cap - len, "%s%s", i ? ", " : "",
                         gr_udf_at(ctx->graph, i)->name);
        if (w < 0)
            break;
        len += (size_t)w;
    }
    return buf;
}

gr_id fe_udf_apply(kiln_ctx *ctx, int fn, int nargs, const kiln_expr *args)
{
    gr_graph *g = ctx->graph;
    const rt_udf *u = gr_udf_at(g, (uint32_t)fn);
    if (nargs != u->nargs)
        return gr_error(g, KILN_EINVAL, "%s expects %d argument%s, got %d", u->name, u->nargs,
                        u->nargs == 1 ? "" : "s", nargs);
    if (!args)
        return gr_error(g, KILN_ENULL, "%s: NULL argument array", u->name);
    gr_id ids[GR_MAX_INPUTS];
    gr_id r = fe_resolve(ctx, u->name, nargs, args, ids);
    return r != GR_NONE ? r : gr_udf_make(g, (uint32_t)fn, nargs, ids);
}

kiln_expr kiln_udf(kiln_ctx *ctx, const char *name, int nargs, const kiln_expr *args)
{
    if (!ctx)
        return (kiln_expr){NULL, 0, 0};
    pthread_mutex_lock(&ctx->lock);
    gr_graph *g = ctx->graph;
    gr_id r;
    int fn = name ? gr_udf_find(g, name, strlen(name)) : -1;
    char names[512];
    if (!name)
        r = gr_error(g, KILN_ENULL, "kiln_udf: NULL function name");
    else if (fn < 0)
        r = gr_error(g, KILN_EINVAL, "kiln_udf: unknown function '%.64s' (%s)", name,
                     fe_udf_names(ctx, names, sizeof names));
    else
        r = fe_udf_apply(ctx, fn, nargs, args);
    kiln_expr h = fe_handle(ctx, r);
    pthread_mutex_unlock(&ctx->lock);
    return h;
}

int fe_udf_lookup(kiln_ctx *ctx, const char *name, size_t len, const char **canon)
{
    pthread_mutex_lock(&ctx->lock);
    int fn = gr_udf_find(ctx->graph, name, len);
    int nargs = fn < 0 ? -1 : gr_udf_at(ctx->graph, (uint32_t)fn)->nargs;
    if (fn >= 0 && canon)
        *canon = gr_udf_at(ctx->graph, (uint32_t)fn)->name;
    pthread_mutex_unlock(&ctx->lock);
    return nargs;
}

int fe_udf_count(kiln_ctx *ctx)
{
    pthread_mutex_lock(&ctx->lock);
    uint32_t n = gr_udf_count(ctx->graph);
    pthread_mutex_unlock(&ctx->lock);
    return n > INT32_MAX ? INT32_MAX : (int)n;
}

const char *fe_udf_name(kiln_ctx *ctx, int i)
{
    pthread_mutex_lock(&ctx->lock);
    const char *s = i >= 0 && (uint32_t)i < gr_udf_count(ctx->graph)
                        ? gr_udf_at(ctx->graph, (uint32_t)i)->name
                        : "";
    pthread_mutex_unlock(&ctx->lock);
    return s;
}
