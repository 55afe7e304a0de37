/*
 * frontend/array.c — the public array API: creation (empty, zeros, wrap),
 * accessors, contiguity and base sharing, and fe_check_array.
 *
 * Invariants: every array made here belongs to ctx: it holds ctx->env
 * retained (an array whose env differs from ctx->env is foreign). Errors
 * are recorded on ctx->env with rt_err; a NULL ctx is KILN_ENULL with
 * nothing recorded. *out is set to NULL on entry and to a new array (one
 * reference, the caller's) only on success. Refcounting
 * (kiln_array_retain/release) lives in runtime/array.c.
 */
#include "frontend/fe.h"

#include <string.h>

#define FE_SHAPE_BUF 256

kiln_status fe_check_array(kiln_ctx *ctx, const kiln_array *a, const char *what)
{
    if (!ctx)
        return KILN_ENULL;
    if (!what)
        what = "input";
    if (!a)
        return rt_err(ctx->env, KILN_ENULL, "%s array is NULL", what);
    if (a->env != ctx->env)
        return rt_err(ctx->env, KILN_EFOREIGN, "%s array belongs to another context", what);
    return KILN_OK;
}

static kiln_status fe_array_new(kiln_ctx *ctx, kiln_dtype dtype, int rank, const int64_t *shape,
                                kiln_order order, bool zero, kiln_array **out)
{
    if (!ctx)
        return KILN_ENULL;
    if (!out)
        return rt_err(ctx->env, KILN_ENULL, "out is NULL");
    *out = NULL;
    return rt_array_alloc(ctx->env, dtype, rank, shape, order, zero, out);
}

kiln_status kiln_array_empty(kiln_ctx *ctx, kiln_dtype dtype, int rank, const int64_t *shape,
                             kiln_order order, kiln_array **out)
{
    return fe_array_new(ctx, dtype, rank, shape, order, false, out);
}

kiln_status kiln_array_zeros(kiln_ctx *ctx, kiln_dtype dtype, int rank, const int64_t *shape,
                             kiln_order order, kiln_array **out)
{
    return fe_array_new(ctx, dtype, rank, shape, order, true, out);
}

kiln_status kiln_array_wrap(kiln_ctx *ctx, void *data, kiln_dtype dtype, int rank,
                            const int64_t *shape, const int64_t *strides,
                            kiln_release_fn release, void *ud, kiln_array **out)
{
    if (!ctx)
        return KILN_ENULL;
    rt_env *e = ctx->env;
    if (!out)
        return rt_err(e, KILN_ENULL, "out is NULL");
    *out = NULL;
    if (!rt_dtype_valid((int)dtype))
        return rt_err(e, KILN_EDTYPE, "invalid dtype %d", (int)dtype);
    int64_t size;
    kiln_status s = rt_check_shape(e, rank, shape, &size);
    if (s != KILN_OK)
        return s;
    char sbuf[FE_SHAPE_BUF];
    if (!data && size != 0)
        return rt_err(e, KILN_ENULL, "data is NULL for a non-empty array of shape %s",
                      rt_fmt_shape(sbuf, sizeof sbuf, rank, shape));
    if (strides) {
        /* Every element offset must be representable. */
        int64_t span = (int64_t)rt_dtypes[dtype].size, d;
        for (int k = 0; k < rank && size != 0; k++) {
            if (!rt_mul_ok(shape[k] - 1, strides[k], &d) ||
                !rt_add_ok(span, d < 0 ? -d : d, &span))
                return rt_err(e, KILN_EOVERFLOW,
                              "strides overflow int64 byte offsets for shape %s",
                              rt_fmt_shape(sbuf, sizeof sbuf, rank, shape));
        }
    }
    rt_buffer *b = rt_buffer_wrap(e, data, release, ud);
    if (!b)
        return rt_err(e, KILN_ENOMEM, "out of memory wrapping an array");
    s = rt_array_view(e, b, data, dtype, rank, shape, strides, out);
    if (s != KILN_OK) /* the caller keeps ownership: never call release here */
        b->release = NULL;
    rt_buffer_release(b);
    return s;
}

/* ---- accessors: a NULL array gives an invalid value, never a crash ------ */

kiln_dtype kiln_array_dtype(const kiln_array *a)
{
    return a ? a->dtype : KILN_DTYPE_COUNT;
}

int kiln_array_rank(const kiln_array *a)
{
    return a ? a->rank : -1;
}

const int64_t *kiln_array_shape(const kiln_array *a)
{
    return a ? a->shape : NULL;
}

const int64_t *kiln_array_strides(const kiln_array *a)
{
    return a ? a->strides : NULL;
}

int64_t kiln_array_size(const kiln_array *a)
{
    return a ? a->size : -1;
}

void *kiln_array_data(const kiln_array *a)
{
    return a ? a->data : NULL;
}

void *kiln_array_ptr(const kiln_array *a, const int64_t *idx)
{
    if (!a || (a->rank > 0 && !idx))
        return NULL;
    int64_t off = 0;
    for (int k = 0; k < a->rank; k++) {
        if (idx[k] < 0 || idx[k] >= a->shape[k])
            return NULL;
        off += idx[k] * a->strides[k];
    }
    return a->data + off;
}

/* NumPy's rule: an empty array is contiguous in both orders; axes of
 * extent 1 do not constrain their stride. */
int kiln_array_is_contiguous(const kiln_array *a, kiln_order order)
{
    if (!a || (order != KILN_ORDER_C && order != KILN_ORDER_F))
        return 0;
    if (a->size == 0)
        return 1;
    int64_t s = (int64_t)rt_dtypes[a->dtype].size;
    for (int i = 0; i < a->rank; i++) {
        int k = order == KILN_ORDER_F ? i : a->rank - 1 - i;
        if (a->shape[k] == 1)
            continue;
        if (a->strides[k] != s)
            return 0;
        s *= a->shape[k];
    }
    return 1;
}

int kiln_array_shares_base(const kiln_array *a, const kiln_array *b)
{
    return a && b && a->buf == b->buf;
}
