/*
 * runtime/view.h — the geometry of views: slicing, indexing, transposing,
 * inserting axes and broadcasting, as index maps (rt_vmap) that arrays
 * (frontend/view.c) and expressions (graph/view.c) share, so both check
 * the same things, in the same order, with the same messages (NumPy's).
 *
 * An rt_vmap maps the elements of a view (rank dims, shape) to the
 * elements of its source (src_rank dims): the view's element j is the
 * source's element i with
 *     i[k] = start[k] + sum over d with axis[d] == k of j[d] * step[d].
 * Invariants of every map made here:
 *   - each source dim is walked by at most one view dim; a view dim with
 *     axis -1 walks none (a new axis, or a broadcast dim) and has step 0;
 *   - if the view has elements, every source index it reaches is in range;
 *   - bytes of the struct beyond rank / src_rank are zero, so two maps made
 *     the same way compare equal with memcmp (rt_vmap_canon makes equal
 *     maps byte-equal however they were made).
 * Applied to a source with byte strides st: the view starts at byte offset
 * sum_k start[k] * st[k] (0 if the view is empty) and has stride
 * step[d] * st[axis[d]] in dim d (0 if axis[d] < 0).
 *
 * Errors are recorded on env (which may be NULL) with the array API's
 * messages, and returned. runtime/ only: names carry rt_.
 */
#ifndef KILN_RT_VIEW_H
#define KILN_RT_VIEW_H

#include "runtime/rt.h"

typedef struct rt_vmap {
    int8_t src_rank;                /* rank of the source */
    int8_t rank;                    /* rank of the view */
    int8_t axis[KILN_MAX_RANK];     /* per view dim: the source dim it walks, or -1 */
    int64_t shape[KILN_MAX_RANK];   /* the view's shape */
    int64_t step[KILN_MAX_RANK];    /* per view dim: source index step (0 if axis -1) */
    int64_t start[KILN_MAX_RANK];   /* per source dim: its index at the view's element 0 */
} rt_vmap;

/* Python's slice on an axis of extent n (PySlice_AdjustIndices): adjusts
 * *start and *stop (KILN_END = omitted) and returns the number of elements
 * selected. step != 0 and step >= -INT64_MAX. */
int64_t rt_slice_adjust(int64_t n, int64_t *start, int64_t *stop, int64_t step);

/* The identity view of a source of that shape. */
void rt_vmap_identity(int rank, const int64_t *shape, rt_vmap *m);
/* x[s[0], ..., s[nslices-1]] (trailing axes whole). Errors: KILN_EINVAL
 * (negative count, zero step), KILN_EINDEX (more slices than axes),
 * KILN_ENULL (s NULL with nslices > 0). */
kiln_status rt_vmap_slice(rt_env *e, int rank, const int64_t *shape, int nslices,
                          const kiln_slice *s, rt_vmap *m);
/* x[..., index, ...] on axis (negative counts from the end), which is
 * removed. Errors: KILN_EAXIS, KILN_EINDEX. */
kiln_status rt_vmap_index(rt_env *e, int rank, const int64_t *shape, int axis, int64_t index,
                          rt_vmap *m);
/* View axis i is source axis perm[i]; perm NULL reverses. KILN_EAXIS for
 * an axis out of range or repeated. */
kiln_status rt_vmap_transpose(rt_env *e, int rank, const int64_t *shape, const int *perm,
                              rt_vmap *m);
/* A new axis of extent 1 at position axis of the result (negative counts
 * from the end of the result). KILN_ERANK, KILN_EAXIS. */
kiln_status rt_vmap_expand_dims(rt_env *e, int rank, const int64_t *shape, int axis, rt_vmap *m);
/* NumPy's broadcast to nshape: trailing axes aligned; a source extent
 * equals the target's or is 1. rt_check_shape's errors for nshape, then
 * KILN_ESHAPE "cannot broadcast shape (3,) to (2,)". */
kiln_status rt_vmap_broadcast_to(rt_env *e, int rank, const int64_t *shape, int nrank,
                                 const int64_t *nshape, rt_vmap *m);

/* out = the view `then` of the view `first` (then's source is first's
 * view), as one map from first's source. out may alias neither. */
void rt_vmap_compose(const rt_vmap *first, const rt_vmap *then, rt_vmap *out);
/* The canonical form: a view dim of extent 1 walks nothing (its source
 * dim stays fixed at its start); an empty view walks nothing and starts at
 * 0. Equal views (same source elements at the same view positions) have
 * byte-equal canonical maps. */
void rt_vmap_canon(rt_vmap *m);
/* True if the view is its source of shape src_shape, element for element. */
bool rt_vmap_is_identity(const rt_vmap *m, const int64_t *src_shape);
/* The view's byte offset from the source's element 0 and its byte
 * strides, for a source with byte strides src_strides. A step * stride
 * that overflows occurs only in a dim of extent <= 1, whose stride is
 * never used: the source stride is kept there. */
void rt_vmap_apply(const rt_vmap *m, const int64_t *src_strides, int64_t *offset,
                   int64_t *strides);
/* The array view m of a: a's buffer and env, data moved by the offset
 * (unmoved if the view is empty), strides by rt_vmap_apply. Only fails on
 * OOM (recorded on a's env). */
kiln_status rt_view_array(const kiln_array *a, const rt_vmap *m, kiln_array **out);

#endif /* KILN_RT_VIEW_H */
