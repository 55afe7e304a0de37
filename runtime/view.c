/*
 * runtime/view.c — view geometry as index maps (runtime/view.h): the
 * checks and messages of slicing, indexing, transposing, inserting axes
 * and broadcasting, shared by array views (frontend/view.c) and views of
 * expressions (graph/view.c).
 *
 * Invariants: every rt_vmap_* constructor zeroes the map first (so maps
 * made the same way are byte-equal) and, on failure, records the error on
 * env and leaves the map zeroed; semantics are NumPy's (Python's slice
 * rules, NumPy's broadcasting), messages the array API's.
 */
#include "runtime/view.h"

#include <string.h>

#define RT_VIEW_SHAPE_BUF 256

/* Python's PySlice_Unpack + PySlice_AdjustIndices: omitted start is 0
 * (step > 0) or n-1 (step < 0); omitted stop is n or "before 0"; negative
 * values count from the end; the rest clamps. */
int64_t rt_slice_adjust(int64_t n, int64_t *start, int64_t *stop, int64_t step)
{
    if (*start == KILN_END)
        *start = step < 0 ? n - 1 : 0;
    else if (*start < 0) {
        *start += n;
        if (*start < 0)
            *start = step < 0 ? -1 : 0;
    } else if (*start >= n)
        *start = step < 0 ? n - 1 : n;
    if (*stop == KILN_END)
        *stop = step < 0 ? -1 : n;
    else if (*stop < 0) {
        *stop += n;
        if (*stop < 0)
            *stop = step < 0 ? -1 : 0;
    } else if (*stop >= n)
        *stop = step < 0 ? n - 1 : n;
    /* start, stop in [-1, n] here: no overflow below. */
    if (step < 0)
        return *stop < *start ? (*start - *stop - 1) / (-step) + 1 : 0;
    return *start < *stop ? (*stop - *start - 1) / step + 1 : 0;
}

static void rt_vmap_clear(rt_vmap *m, int src_rank, int rank)
{
    memset(m, 0, sizeof *m);
    m->src_rank = (int8_t)src_rank;
    m->rank = (int8_t)rank;
}

void rt_vmap_identity(int rank, const int64_t *shape, rt_vmap *m)
{
    rt_vmap_clear(m, rank, rank);
    for (int k = 0; k < rank; k++) {
        m->axis[k] = (int8_t)k;
        m->step[k] = 1;
        m->shape[k] = shape[k];
    }
}

kiln_status rt_vmap_slice(rt_env *e, int rank, const int64_t *shape, int nslices,
                          const kiln_slice *s, rt_vmap *m)
{
    rt_vmap_identity(rank, shape, m);
    kiln_status st = KILN_OK;
    if (nslices < 0)
        st = rt_err(e, KILN_EINVAL, "negative number of slices (%d)", nslices);
    else if (nslices > rank)
        st = rt_err(e, KILN_EINDEX,
                    "too many indices for array: array is %d-dimensional, but %d were indexed",
                    rank, nslices);
    else if (nslices > 0 && !s)
        st = rt_err(e, KILN_ENULL, "slices are NULL");
    for (int k = 0; k < nslices && st == KILN_OK; k++) {
        int64_t step = s[k].step;
        if (step == 0) {
            st = rt_err(e, KILN_EINVAL, "slice step cannot be zero (axis %d)", k);
            break;
        }
        if (step < -INT64_MAX)
            step = -INT64_MAX; /* as Python clamps */
        int64_t start = s[k].start, stop = s[k].stop;
        int64_t len = rt_slice_adjust(shape[k], &start, &stop, step);
        m->shape[k] = len;
        m->step[k] = step;
        m->start[k] = len ? start : 0; /* a valid index when len > 0 */
    }
    if (st != KILN_OK)
        rt_vmap_clear(m, 0, 0);
    return st;
}

kiln_status rt_vmap_index(rt_env *e, int rank, const int64_t *shape, int axis, int64_t index,
                          rt_vmap *m)
{
    rt_vmap_clear(m, 0, 0);
    if (axis < -rank || axis >= rank)
        return rt_err(e, KILN_EAXIS, "axis %d is out of bounds for array of dimension %d", axis,
                      rank);
    if (axis < 0)
        axis += rank;
    int64_t n = shape[axis];
    if (index < -n || index >= n)
        return rt_err(e, KILN_EINDEX, "index %lld is out of bounds for axis %d with size %lld",
                      (long long)index, axis, (long long)n);
    if (index < 0)
        index += n;
    rt_vmap_clear(m, rank, rank - 1);
    for (int k = 0, j = 0; k < rank; k++) {
        if (k == axis)
            continue;
        m->axis[j] = (int8_t)k;
        m->step[j] = 1;
        m->shape[j] = shape[k];
        j++;
    }
    m->start[axis] = index;
    return KILN_OK;
}

kiln_status rt_vmap_transpose(rt_env *e, int rank, const int64_t *shape, const int *perm,
                              rt_vmap *m)
{
    rt_vmap_clear(m, 0, 0);
    int p[KILN_MAX_RANK];
    bool seen[KILN_MAX_RANK] = {false};
    for (int i = 0; i < rank; i++) {
        p[i] = perm ? perm[i] : rank - 1 - i;
        if (p[i] < 0 || p[i] >= rank)
            return rt_err(e, KILN_EAXIS,
                          "transpose: axis %d is out of bounds for array of dimension %d", p[i],
                          rank);
        if (seen[p[i]])
            return rt_err(e, KILN_EAXIS, "transpose: repeated axis %d", p[i]);
        seen[p[i]] = true;
    }
    rt_vmap_clear(m, rank, rank);
    for (int i = 0; i < rank; i++) {
        m->axis[i] = (int8_t)p[i];
        m->step[i] = 1;
        m->shape[i] = shape[p[i]];
    }
    return KILN_OK;
}

kiln_status rt_vmap_expand_dims(rt_env *e, int rank, const int64_t *shape, int axis, rt_vmap *m)
{
    rt_vmap_clear(m, 0, 0);
    if (rank + 1 > KILN_MAX_RANK)
        return rt_err(e, KILN_ERANK, "expand_dims: rank %d would exceed %d", rank + 1,
                      KILN_MAX_RANK);
    int nd = rank + 1;
    if (axis < -nd || axis >= nd)
        return rt_err(e, KILN_EAXIS, "axis %d is out of bounds for array of dimension %d", axis,
                      nd);
    if (axis < 0)
        axis += nd;
    rt_vmap_clear(m, rank, nd);
    for (int d = 0, k = 0; d < nd; d++) {
        if (d == axis) {
            m->axis[d] = -1;
            m->shape[d] = 1;
            continue;
        }
        m->axis[d] = (int8_t)k;
        m->step[d] = 1;
        m->shape[d] = shape[k];
        k++;
    }
    return KILN_OK;
}

kiln_status rt_vmap_broadcast_to(rt_env *e, int rank, const int64_t *shape, int nrank,
                                 const int64_t *nshape, rt_vmap *m)
{
    rt_vmap_clear(m, 0, 0);
    kiln_status st = rt_check_shape(e, nrank, nshape, NULL);
    if (st != KILN_OK)
        return st;
    if (nrank < rank)
        goto mismatch;
    rt_vmap_clear(m, rank, nrank);
    int lead = nrank - rank;
    for (int d = 0; d < nrank; d++) {
        m->shape[d] = nshape[d];
        m->axis[d] = -1;
        if (d < lead)
            continue;
        int64_t src = shape[d - lead];
        if (src == nshape[d]) {
            m->axis[d] = (int8_t)(d - lead);
            m->step[d] = 1;
        } else if (src != 1) {
            goto mismatch;
        }
    }
    return KILN_OK;
mismatch:;
    char b1[RT_VIEW_SHAPE_BUF], b2[RT_VIEW_SHAPE_BUF];
    rt_vmap_clear(m, 0, 0);
    return rt_err(e, KILN_ESHAPE, "cannot broadcast shape %s to %s",
                  rt_fmt_shape(b1, sizeof b1, rank, shape),
                  rt_fmt_shape(b2, sizeof b2, nrank, nshape));
}

static int64_t rt_vmap_size(const rt_vmap *m)
{
    int64_t n = 1;
    for (int d = 0; d < m->rank; d++) {
        if (m->shape[d] == 0)
            return 0;
        n = rt_mul_ok(n, m->shape[d], &n) ? n : INT64_MAX;
    }
    return n;
}

void rt_vmap_compose(const rt_vmap *first, const rt_vmap *then, rt_vmap *out)
{
    rt_vmap_clear(out, first->src_rank, then->rank);
    for (int k = 0; k < first->src_rank; k++)
        out->start[k] = first->start[k];
    /* then's element 0 sits at first's view index then->start[] */
    for (int m = 0; m < first->rank; m++) {
        int k = first->axis[m];
        int64_t off;
        if (k >= 0 && rt_mul_ok(then->start[m], first->step[m], &off))
            out->start[k] += off;
    }
    for (int d = 0; d < then->rank; d++) {
        out->shape[d] = then->shape[d];
        out->axis[d] = -1;
        int m = then->axis[d];
        if (m < 0 || first->axis[m] < 0)
            continue;
        int64_t step;
        if (!rt_mul_ok(then->step[d], first->step[m], &step))
            step = 0; /* only in a dim of extent <= 1 (see rt_vmap_apply) */
        out->axis[d] = first->axis[m];
        out->step[d] = step;
    }
    rt_vmap_canon(out);
}

void rt_vmap_canon(rt_vmap *m)
{
    bool empty = rt_vmap_size(m) == 0;
    for (int d = 0; d < m->rank; d++) {
        if (empty || m->shape[d] == 1 || m->axis[d] < 0) {
            m->axis[d] = -1;
            m->step[d] = 0;
        }
    }
    if (empty)
        memset(m->start, 0, sizeof m->start);
}

bool rt_vmap_is_identity(const rt_vmap *m, const int64_t *src_shape)
{
    if (m->rank != m->src_rank)
        return false;
    for (int k = 0; k < m->src_rank; k++) {
        if (m->shape[k] != src_shape[k])
            return false;
        if (m->shape[k] > 1 && (m->axis[k] != k || m->step[k] != 1))
            return false;
    }
    if (rt_vmap_size(m) == 0)
        return true;
    for (int k = 0; k < m->src_rank; k++)
        if (m->start[k] != 0)
            return false;
    return true;
}

void rt_vmap_apply(const rt_vmap *m, const int64_t *src_strides, int64_t *offset,
                   int64_t *strides)
{
    int64_t off = 0;
    if (rt_vmap_size(m) != 0)
        for (int k = 0; k < m->src_rank; k++)
            off += m->start[k] * src_strides[k];
    *offset = off;
    for (int d = 0; d < m->rank; d++) {
        int k = m->axis[d];
        if (k < 0) {
            strides[d] = 0;
        } else if (!rt_mul_ok(src_strides[k], m->step[d], &strides[d])) {
            strides[d] = src_strides[k];
        }
    }
}

kiln_status rt_view_array(const kiln_array *a, const rt_vmap *m, kiln_array **out)
{
    int64_t off, strides[KILN_MAX_RANK];
    rt_vmap_apply(m, a->strides, &off, strides);
    return rt_array_view(a->env, a->buf, a->data + off, a->dtype, m->rank, m->shape, strides,
                         out);
}
