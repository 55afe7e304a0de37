/*
 * runtime/array.c — buffers and array views: shape validation, allocation,
 * geometry helpers, refcounting.
 *
 * Invariants:
 *   - a kiln_array holds one reference to its env and one to its buffer;
 *     a buffer holds one reference to its env. The last release of a view
 *     releases its buffer; the last release of a buffer frees owned memory
 *     (or calls the user's release callback exactly once) and then
 *     releases its env. So views keep memory alive after their context is
 *     freed.
 *   - every array's shape passed rt_check_shape: its element count, and its
 *     byte size for any dtype (<= 8 bytes), fit in int64 — counting the
 *     product of the nonzero extents, as NumPy does, so contiguous strides
 *     of any array kiln makes never overflow.
 *   - memory kiln allocates is 64-byte aligned and comes from env->alloc
 *     through the env's buffer pool (runtime/bufpool.c): an owned buffer's
 *     last release hands it back to the pool, which keeps or frees it.
 */
#include "runtime/rt.h"

#include <string.h>

#define RT_MAX_ITEMSIZE 8
#define RT_SHAPE_BUF 256

kiln_status rt_check_shape(rt_env *e, int rank, const int64_t *shape, int64_t *size)
{
    if (rank < 0 || rank > KILN_MAX_RANK)
        return rt_err(e, KILN_ERANK, "rank %d is out of range [0, %d]", rank, KILN_MAX_RANK);
    if (rank > 0 && !shape)
        return rt_err(e, KILN_ENULL, "shape is NULL for an array of rank %d", rank);
    char sbuf[RT_SHAPE_BUF];
    int64_t n = 1, nonzero = 1;
    bool empty = false;
    for (int k = 0; k < rank; k++) {
        if (shape[k] < 0)
            return rt_err(e, KILN_EINVAL, "negative dimensions are not allowed: shape %s",
                          rt_fmt_shape(sbuf, sizeof sbuf, rank, shape));
        if (shape[k] == 0) {
            empty = true;
            continue;
        }
        if (!rt_mul_ok(nonzero, shape[k], &nonzero))
            goto too_big;
    }
    if (!rt_mul_ok(nonzero, RT_MAX_ITEMSIZE, &n))
        goto too_big;
    n = empty ? 0 : nonzero;
    if (size)
        *size = n;
    return KILN_OK;
too_big:
    return rt_err(e, KILN_EOVERFLOW,
                  "array is too big: shape %s has more elements or bytes than fit in int64",
                  rt_fmt_shape(sbuf, sizeof sbuf, rank, shape));
}

void rt_contiguous_strides(kiln_dtype t, int rank, const int64_t *shape, kiln_order order,
                           int64_t *strides)
{
    int64_t s = (int64_t)rt_dtypes[t].size;
    for (int i = 0; i < rank; i++) {
        int k = order == KILN_ORDER_F ? i : rank - 1 - i;
        strides[k] = s;
        if (shape[k] > 0) /* NumPy: extent 0 counts as 1 */
            s *= shape[k];
    }
}

void rt_array_extent(const kiln_array *a, const char **lo, const char **hi)
{
    if (a->size == 0) {
        *lo = *hi = a->data;
        return;
    }
    int64_t l = 0, h = (int64_t)rt_dtypes[a->dtype].size;
    for (int k = 0; k < a->rank; k++) {
        int64_t d = (a->shape[k] - 1) * a->strides[k];
        if (d < 0)
            l += d;
        else
            h += d;
    }
    *lo = a->data + l;
    *hi = a->data + h;
}

bool rt_arrays_overlap(const kiln_array *a, const kiln_array *b)
{
    if (a->size == 0 || b->size == 0)
        return false;
    const char *alo, *ahi, *blo, *bhi;
    rt_array_extent(a, &alo, &ahi);
    rt_array_extent(b, &blo, &bhi);
    return (uintptr_t)alo < (uintptr_t)bhi && (uintptr_t)blo < (uintptr_t)ahi;
}

/* ---- buffers ------------------------------------------------------------ */

static rt_buffer *rt_buffer_new(rt_env *e)
{
    rt_buffer *b = rt_malloc(e, sizeof *b);
    if (!b)
        return NULL;
    memset(b, 0, sizeof *b);
    atomic_init(&b->refs, 1);
    rt_env_retain(e);
    b->env = e;
    return b;
}

rt_buffer *rt_buffer_wrap(rt_env *e, void *mem, kiln_release_fn release, void *ud)
{
    rt_buffer *b = rt_buffer_new(e);
    if (!b)
        return NULL;
    b->mem = mem;
    b->size = 0;
    b->owned = false;
    b->release = release;
    b->ud = ud;
    return b;
}

void rt_buffer_retain(rt_buffer *b)
{
    if (b)
        atomic_fetch_add_explicit(&b->refs, 1, memory_order_relaxed);
}

void rt_buffer_release(rt_buffer *b)
{
    if (!b || atomic_fetch_sub_explicit(&b->refs, 1, memory_order_acq_rel) != 1)
        return;
    rt_env *e = b->env;
    if (b->owned) {
        rt_bufpool_put(e, b); /* kept for reuse or freed */
    } else {
        if (b->release)
            b->release(b->ud, b->mem);
        rt_free(e, b, sizeof *b);
    }
    rt_env_release(e);
}

/* ---- views -------------------------------------------------------------- */

kiln_status rt_array_view(rt_env *e, rt_buffer *buf, char *data, kiln_dtype t, int rank,
                          const int64_t *shape, const int64_t *strides, kiln_array **out)
{
    *out = NULL;
    if (!rt_dtype_valid((int)t))
        return rt_err(e, KILN_EDTYPE, "invalid dtype %d", (int)t);
    int64_t size;
    kiln_status s = rt_check_shape(e, rank, shape, &size);
    if (s != KILN_OK)
        return s;
    kiln_array *a = rt_malloc(e, sizeof *a);
    if (!a)
        return rt_err(e, KILN_ENOMEM, "out of memory making an array view");
    memset(a, 0, sizeof *a);
    atomic_init(&a->refs, 1);
    rt_env_retain(e);
    a->env = e;
    rt_buffer_retain(buf);
    a->buf = buf;
    a->data = data;
    a->dtype = t;
    a->rank = rank;
    a->size = size;
    for (int k = 0; k < rank; k++)
        a->shape[k] = shape[k];
    if (strides)
        for (int k = 0; k < rank; k++)
            a->strides[k] = strides[k];
    else
        rt_contiguous_strides(t, rank, a->shape, KILN_ORDER_C, a->strides);
    *out = a;
    return KILN_OK;
}

kiln_status rt_array_alloc(rt_env *e, kiln_dtype t, int rank, const int64_t *shape,
                           kiln_order order, bool zero, kiln_array **out)
{
    *out = NULL;
    if (!rt_dtype_valid((int)t))
        return rt_err(e, KILN_EDTYPE, "invalid dtype %d", (int)t);
    if (order != KILN_ORDER_C && order != KILN_ORDER_F)
        return rt_err(e, KILN_EINVAL, "invalid order %d", (int)order);
    int64_t size;
    kiln_status s = rt_check_shape(e, rank, shape, &size);
    if (s != KILN_OK)
        return s;
    size_t nbytes = (size_t)size * rt_dtypes[t].size; /* fits: rt_check_shape */
    rt_buffer *b = rt_bufpool_get(e, nbytes);
    if (!b) {
        char sbuf[RT_SHAPE_BUF];
        return rt_err(e, KILN_ENOMEM, "out of memory allocating %zu bytes for a %s array of shape %s",
                      nbytes, rt_dtypes[t].name, rt_fmt_shape(sbuf, sizeof sbuf, rank, shape));
    }
    void *mem = b->mem;
    if (zero)
        memset(mem, 0, nbytes);
    int64_t strides[KILN_MAX_RANK];
    rt_contiguous_strides(t, rank, shape, order, strides);
    s = rt_array_view(e, b, mem, t, rank, shape, strides, out);
    rt_buffer_release(b); /* the view holds it now (or it is freed) */
    return s;
}

void kiln_array_retain(kiln_array *a)
{
    if (a)
        atomic_fetch_add_explicit(&a->refs, 1, memory_order_relaxed);
}

void kiln_array_release(kiln_array *a)
{
    if (!a || atomic_fetch_sub_explicit(&a->refs, 1, memory_order_acq_rel) != 1)
        return;
    rt_env *e = a->env;
    rt_buffer *b = a->buf;
    rt_free(e, a, sizeof *a);
    rt_buffer_release(b);
    rt_env_release(e);
}

/* ---- copying -------------------------------------------------------------- */

/* Element-by-element copy in C order of the (equal) shapes; src and dst do
 * not overlap. Same dtype: raw bytes (NaN payloads kept); else rt_convert. */
static void rt_copy_elems(const kiln_array *src, kiln_array *dst)
{
    int rank = src->rank;
    if (src->size == 0)
        return;
    size_t ssz = rt_dtypes[src->dtype].size;
    bool same = src->dtype == dst->dtype;
    int64_t idx[KILN_MAX_RANK] = {0};
    const char *sp = src->data;
    char *dp = dst->data;
    int64_t inner = rank ? src->shape[rank - 1] : 1;
    int64_t sst = rank ? src->strides[rank - 1] : 0, dst_st = rank ? dst->strides[rank - 1] : 0;
    for (;;) {
        const char *s = sp;
        char *d = dp;
        for (int64_t i = 0; i < inner; i++, s += sst, d += dst_st) {
            if (same)
                memcpy(d, s, ssz);
            else
                rt_store(dst->dtype, d, rt_convert(src->dtype, dst->dtype, rt_load(src->dtype, s)));
        }
        /* Advance the outer axes (odometer), moving the row pointers. */
        int k = rank - 2;
        for (; k >= 0; k--) {
            if (++idx[k] < src->shape[k]) {
                sp += src->strides[k];
                dp += dst->strides[k];
                break;
            }
            sp -= (src->shape[k] - 1) * src->strides[k];
            dp -= (src->shape[k] - 1) * dst->strides[k];
            idx[k] = 0;
        }
        if (k < 0)
            return;
    }
}

kiln_status rt_array_copy_into(rt_env *e, const kiln_array *src, kiln_array *dst)
{
    bool same_shape = src->rank == dst->rank;
    for (int k = 0; same_shape && k < src->rank; k++)
        same_shape = src->shape[k] == dst->shape[k];
    if (!same_shape) {
        char b1[RT_SHAPE_BUF], b2[RT_SHAPE_BUF];
        return rt_err(e, KILN_ESHAPE, "cannot copy an array of shape %s into shape %s",
                      rt_fmt_shape(b1, sizeof b1, src->rank, src->shape),
                      rt_fmt_shape(b2, sizeof b2, dst->rank, dst->shape));
    }
    if (src->size == 0)
        return KILN_OK;
    if (!rt_arrays_overlap(src, dst)) {
        rt_copy_elems(src, dst);
        return KILN_OK;
    }
    /* Overlapping: read everything before writing anything. */
    kiln_array *tmp = NULL;
    kiln_status s = rt_array_alloc(e, src->dtype, src->rank, src->shape, KILN_ORDER_C, false, &tmp);
    if (s != KILN_OK)
        return s;
    rt_copy_elems(src, tmp);
    rt_copy_elems(tmp, dst);
    kiln_array_release(tmp);
    return KILN_OK;
}
