/*
 * frontend/view.c — views: slicing, indexing, transposing, reshaping,
 * broadcasting, inserting axes, fields of record arrays; and copying.
 *
 * Every function here makes a view (no copy) except kiln_array_copy. A view
 * retains the same buffer as its source (a view of a view shares that one
 * buffer) and its env, so it outlives both its source and its context.
 * Invariants:
 *   - each view's elements lie inside its source's elements' byte range
 *     (slices, indexes and fields select, transposes permute, reshape keeps
 *     the element set, broadcast repeats) — so inside the buffer;
 *   - semantics are NumPy's: Python slice rules (PySlice_AdjustIndices),
 *     NumPy's _attempt_nocopy_reshape for reshape, NumPy's broadcasting;
 *     the geometry of slicing, indexing, transposing, new axes and
 *     broadcasting (checks, messages, index maps) is runtime/view.c's,
 *     shared with views of expressions (graph/view.c);
 *   - errors are recorded on the source array's env (its context's error
 *     sink); a NULL source is KILN_ENULL with nothing recorded. *out is
 *     NULL on entry and set only on success.
 */
#include "frontend/fe.h"
#include "runtime/view.h"

#include <math.h>
#include <string.h>

#define FE_SHAPE_BUF 256

/* Common entry checks: a and out non-NULL. */
static kiln_status fe_view_begin(const kiln_array *a, kiln_array **out)
{
    if (out)
        *out = NULL;
    if (!a)
        return KILN_ENULL;
    if (!out)
        return rt_err(a->env, KILN_ENULL, "out is NULL");
    return KILN_OK;
}

static kiln_status fe_view(const kiln_array *a, char *data, kiln_dtype t, int rank,
                           const int64_t *shape, const int64_t *strides, kiln_array **out)
{
    return rt_array_view(a->env, a->buf, data, t, rank, shape, strides, out);
}

/* ---- slicing, indexing, transposing --------------------------------------
 * The geometry (checks, messages, index maps) is runtime/view.c's, shared
 * with views of expressions; these wrappers make the array view. */

kiln_status kiln_array_slice(kiln_array *a, int nslices, const kiln_slice *s, kiln_array **out)
{
    kiln_status st = fe_view_begin(a, out);
    if (st != KILN_OK)
        return st;
    rt_vmap m;
    if ((st = rt_vmap_slice(a->env, a->rank, a->shape, nslices, s, &m)) != KILN_OK)
        return st;
    return rt_view_array(a, &m, out);
}

kiln_status kiln_array_index(kiln_array *a, int axis, int64_t index, kiln_array **out)
{
    kiln_status st = fe_view_begin(a, out);
    if (st != KILN_OK)
        return st;
    rt_vmap m;
    if ((st = rt_vmap_index(a->env, a->rank, a->shape, axis, index, &m)) != KILN_OK)
        return st;
    return rt_view_array(a, &m, out);
}

kiln_status kiln_array_transpose(kiln_array *a, const int *perm, kiln_array **out)
{
    kiln_status st = fe_view_begin(a, out);
    if (st != KILN_OK)
        return st;
    rt_vmap m;
    if ((st = rt_vmap_transpose(a->env, a->rank, a->shape, perm, &m)) != KILN_OK)
        return st;
    return rt_view_array(a, &m, out);
}

/* ---- reshape ------------------------------------------------------------ */

/* NumPy's _attempt_nocopy_reshape (C order), ported: the new strides when
 * a (size > 1, not C-contiguous) can be viewed with the new shape, else
 * false. Axes of extent 1 are dropped from the old shape; then old and new
 * axes are grouped into runs of equal products; each old run must be
 * C-contiguous in itself, and the new run gets strides contiguous over the
 * run's innermost old stride. */
static bool fe_nocopy_reshape(const kiln_array *a, int newnd, const int64_t *newdims,
                              int64_t *newstrides)
{
    int64_t olddims[KILN_MAX_RANK], oldstrides[KILN_MAX_RANK];
    int oldnd = 0;
    for (int k = 0; k < a->rank; k++)
        if (a->shape[k] != 1) {
            olddims[oldnd] = a->shape[k];
            oldstrides[oldnd] = a->strides[k];
            oldnd++;
        }
    int oi = 0, oj = 1, ni = 0, nj = 1;
    while (ni < newnd && oi < oldnd) {
        int64_t np = newdims[ni], op = olddims[oi];
        while (np != op) {
            if (np < op)
                np *= newdims[nj++]; /* trailing 1s are handled below */
            else
                op *= olddims[oj++];
        }
        for (int ok = oi; ok < oj - 1; ok++)
            if (oldstrides[ok] != olddims[ok + 1] * oldstrides[ok + 1])
                return false;
        newstrides[nj - 1] = oldstrides[oj - 1];
        for (int nk = nj - 1; nk > ni; nk--)
            newstrides[nk - 1] = newstrides[nk] * newdims[nk];
        ni = nj++;
        oi = oj++;
    }
    int64_t last = ni >= 1 ? newstrides[ni - 1] : (int64_t)rt_dtypes[a->dtype].size;
    for (int nk = ni; nk < newnd; nk++)
        newstrides[nk] = last;
    return true;
}

kiln_status kiln_array_reshape(kiln_array *a, int rank, const int64_t *shape, kiln_array **out)
{
    kiln_status st = fe_view_begin(a, out);
    if (st != KILN_OK)
        return st;
    if (rank < 0 || rank > KILN_MAX_RANK)
        return rt_err(a->env, KILN_ERANK, "rank %d is out of range [0, %d]", rank, KILN_MAX_RANK);
    if (rank > 0 && !shape)
        return rt_err(a->env, KILN_ENULL, "shape is NULL for rank %d", rank);
    char b1[FE_SHAPE_BUF];
    int64_t dims[KILN_MAX_RANK], known = 1;
    int unknown = -1;
    bool mismatch = false;
    for (int k = 0; k < rank; k++) {
        dims[k] = shape[k];
        if (shape[k] == -1) {
            if (unknown >= 0)
                return rt_err(a->env, KILN_EINVAL, "can only specify one unknown dimension: %s",
                              rt_fmt_shape(b1, sizeof b1, rank, shape));
            unknown = k;
        } else if (shape[k] < 0) {
            return rt_err(a->env, KILN_EINVAL, "negative dimensions are not allowed: shape %s",
                          rt_fmt_shape(b1, sizeof b1, rank, shape));
        } else if (!rt_mul_ok(known, shape[k], &known)) {
            mismatch = true;
        }
    }
    if (!mismatch) {
        if (unknown >= 0) {
            if (known == 0 || a->size % known != 0)
                mismatch = true;
            else
                dims[unknown] = a->size / known;
        } else {
            mismatch = known != a->size;
        }
    }
    if (mismatch)
        return rt_err(a->env, KILN_ESHAPE, "cannot reshape array of size %lld into shape %s",
                      (long long)a->size, rt_fmt_shape(b1, sizeof b1, rank, shape));
    int64_t strides[KILN_MAX_RANK];
    if (kiln_array_is_contiguous(a, KILN_ORDER_C)) {
        rt_contiguous_strides(a->dtype, rank, dims, KILN_ORDER_C, strides);
    } else if (!fe_nocopy_reshape(a, rank, dims, strides)) {
        char b2[FE_SHAPE_BUF];
        return rt_err(a->env, KILN_EVIEW,
                      "cannot reshape array of shape %s into shape %s without copying",
                      rt_fmt_shape(b2, sizeof b2, a->rank, a->shape),
                      rt_fmt_shape(b1, sizeof b1, rank, dims));
    }
    return fe_view(a, a->data, a->dtype, rank, dims, strides, out);
}

/* ---- broadcasting and new axes ------------------------------------------ */

/* NumPy's rule: align trailing axes; each source extent equals the target
 * or is 1 (stride 0); new leading axes have stride 0. */
kiln_status kiln_array_broadcast_to(kiln_array *a, int rank, const int64_t *shape,
                                    kiln_array **out)
{
    kiln_status st = fe_view_begin(a, out);
    if (st != KILN_OK)
        return st;
    rt_vmap m;
    if ((st = rt_vmap_broadcast_to(a->env, a->rank, a->shape, rank, shape, &m)) != KILN_OK)
        return st;
    return rt_view_array(a, &m, out);
}

kiln_status kiln_array_expand_dims(kiln_array *a, int axis, kiln_array **out)
{
    kiln_status st = fe_view_begin(a, out);
    if (st != KILN_OK)
        return st;
    rt_vmap m;
    if ((st = rt_vmap_expand_dims(a->env, a->rank, a->shape, axis, &m)) != KILN_OK)
        return st;
    if (axis < 0)
        axis += a->rank + 1;
    int64_t off, strides[KILN_MAX_RANK];
    rt_vmap_apply(&m, a->strides, &off, strides);
    /* Any stride is right for an extent-1 axis; pick the C-contiguous one. */
    int64_t s = (int64_t)rt_dtypes[a->dtype].size;
    if (axis < a->rank && !rt_mul_ok(a->strides[axis], a->shape[axis] ? a->shape[axis] : 1, &s))
        s = (int64_t)rt_dtypes[a->dtype].size;
    strides[axis] = s;
    return fe_view(a, a->data + off, a->dtype, m.rank, m.shape, strides, out);
}

/* ---- record arrays ---------------------------------------------------------- */

kiln_status kiln_array_field(kiln_array *records, int64_t byte_offset, kiln_dtype dtype,
                             kiln_array **out)
{
    kiln_array *r = records;
    kiln_status st = fe_view_begin(r, out);
    if (st != KILN_OK)
        return st;
    if (r->dtype != KILN_UINT8 && r->dtype != KILN_INT8)
        return rt_err(r->env, KILN_EDTYPE, "records must be uint8 or int8, not %s",
                      rt_dtypes[r->dtype].name);
    if (r->rank < 1)
        return rt_err(r->env, KILN_ERANK, "records must have rank >= 1 (the record's bytes)");
    int last = r->rank - 1;
    int64_t recsize = r->shape[last];
    if (recsize > 1 && r->strides[last] != 1)
        return rt_err(r->env, KILN_EVIEW,
                      "record bytes must be contiguous (last stride is %lld, not 1); copy first",
                      (long long)r->strides[last]);
    if (!rt_dtype_valid((int)dtype))
        return rt_err(r->env, KILN_EDTYPE, "invalid field dtype %d", (int)dtype);
    int64_t fsize = (int64_t)rt_dtypes[dtype].size;
    if (byte_offset < 0 || byte_offset > recsize - fsize)
        return rt_err(r->env, KILN_EINDEX,
                      "field of %lld bytes at offset %lld does not fit in a record of %lld bytes",
                      (long long)fsize, (long long)byte_offset, (long long)recsize);
    char *data = r->size ? r->data + byte_offset : r->data;
    return fe_view(r, data, dtype, last, r->shape, r->strides, out);
}

kiln_status kiln_array_wrap_records(kiln_ctx *ctx, void *data, int64_t n, int64_t record_size,
                                    int64_t record_stride, kiln_release_fn release, void *ud,
                                    kiln_array **out)
{
    if (!ctx)
        return KILN_ENULL;
    if (out)
        *out = NULL;
    if (record_size < 1)
        return rt_err(ctx->env, KILN_EINVAL, "record size must be >= 1, not %lld",
                      (long long)record_size);
    int64_t shape[2] = {n, record_size};
    int64_t strides[2] = {record_stride ? record_stride : record_size, 1};
    return kiln_array_wrap(ctx, data, KILN_UINT8, 2, shape, strides, release, ud, out);
}

/* ---- copies and inspection ---------------------------------------------- */

kiln_status kiln_array_copy(kiln_array *a, kiln_order order, kiln_array **out)
{
    kiln_status st = fe_view_begin(a, out);
    if (st != KILN_OK)
        return st;
    kiln_array *c = NULL;
    st = rt_array_alloc(a->env, a->dtype, a->rank, a->shape, order, false, &c);
    if (st != KILN_OK)
        return st;
    st = rt_array_copy_into(a->env, a, c);
    if (st != KILN_OK) {
        kiln_array_release(c);
        return st;
    }
    *out = c;
    return KILN_OK;
}

/* NaN for a NULL array or an index outside [0, size). */
double kiln_array_get_f64(const kiln_array *a, int64_t flat_index)
{
    if (!a || flat_index < 0 || flat_index >= a->size)
        return NAN;
    const char *p = a->data;
    for (int k = a->rank - 1; k >= 0; k--) {
        p += (flat_index % a->shape[k]) * a->strides[k];
        flat_index /= a->shape[k];
    }
    return rt_convert(a->dtype, KILN_FLOAT64, rt_load(a->dtype, p)).f;
}
