/*
 * tests/test_expr_views.c — views of expressions (kiln_expr_slice, _index,
 * _transpose, _expand_dims, _broadcast_to; graph/view.c): each view kind
 * pushed down an elementwise expression is the node built from the viewed
 * inputs (kiln_expr_same) and evaluates to the evaluated array's view, bit
 * for bit, interpreted, unfused and fused; views where inputs broadcast;
 * views of reduction and scan results (VIEW nodes: read through the
 * materialized value); the rolling-window trick c[w:] - c[:-w] in one
 * evaluation that materializes c once (temporary bytes, launches, the
 * plan); the seed's create_features_numpy in one evaluation against a C
 * loop; the parser's subscripts of computed values and reduction keyword
 * arguments; errors (the array API's messages, sticky, stale handles);
 * scopes; out of memory.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "testutil.h"
#include "frontend/fe.h"
#include "graph/plan.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- helpers -------------------------------------------------------------------- */

static uint64_t g_rng = 0x9E3779B97F4A7C15ull;
static double urand(void)
{
    g_rng ^= g_rng << 13;
    g_rng ^= g_rng >> 7;
    g_rng ^= g_rng << 17;
    return (double)(g_rng >> 11) * 0x1p-53;
}

static kiln_ctx *new_ctx(void)
{
    kiln_ctx *ctx = kiln_ctx_new(NULL);
    assert_non_null(ctx);
    return ctx;
}

/* dtype t, values in [-4, 4) with a few fraction bits (exact in float32). */
static kiln_array *rnd(kiln_ctx *ctx, kiln_dtype t, int rank, const int64_t *shape)
{
    int64_t n = 1;
    for (int k = 0; k < rank; k++)
        n *= shape[k];
    double *v = malloc((size_t)(n ? n : 1) * sizeof *v);
    assert_non_null(v);
    for (int64_t i = 0; i < n; i++)
        v[i] = floor(urand() * 64) / 8 - 4;
    kiln_array *a = tu_array(ctx, t, rank, shape, v);
    free(v);
    return a;
}

static int op_of(kiln_expr e) { return gr_node_at(e.ctx_->graph, e.id_)->op; }
static gr_id in_of(kiln_expr e) { return gr_node_at(e.ctx_->graph, e.id_)->in[0]; }

/* One view, applicable to an expression or an array. */
typedef enum vkind { V_SLICE, V_INDEX, V_TRANSPOSE, V_EXPAND, V_BCAST } vkind;
typedef struct vdesc {
    vkind kind;
    int n;                            /* slices; broadcast rank */
    kiln_slice s[KILN_MAX_RANK];
    int axis;
    int64_t index;
    const int *perm;
    int64_t shape[KILN_MAX_RANK];
    const char *text;
} vdesc;

#define E KILN_END /* an omitted slice bound */
#define SL(...) {.kind = V_SLICE, .n = (int)(sizeof((kiln_slice[]){__VA_ARGS__}) / sizeof(kiln_slice)), \
                  .s = {__VA_ARGS__}, .text = #__VA_ARGS__}

static kiln_expr vexpr(kiln_expr e, const vdesc *d)
{
    switch (d->kind) {
    case V_SLICE: return kiln_expr_slice(e, d->n, d->s);
    case V_INDEX: return kiln_expr_index(e, d->axis, d->index);
    case V_TRANSPOSE: return kiln_expr_transpose(e, d->perm);
    case V_EXPAND: return kiln_expr_expand_dims(e, d->axis);
    case V_BCAST: return kiln_expr_broadcast_to(e, d->n, d->shape);
    }
    return e;
}

static kiln_status varray_st(kiln_array *a, const vdesc *d, kiln_array **out)
{
    switch (d->kind) {
    case V_SLICE: return kiln_array_slice(a, d->n, d->s, out);
    case V_INDEX: return kiln_array_index(a, d->axis, d->index, out);
    case V_TRANSPOSE: return kiln_array_transpose(a, d->perm, out);
    case V_EXPAND: return kiln_array_expand_dims(a, d->axis, out);
    case V_BCAST: return kiln_array_broadcast_to(a, d->n, d->shape, out);
    }
    return KILN_EINTERNAL;
}

static kiln_array *varray(kiln_array *a, const vdesc *d)
{
    kiln_array *v = NULL;
    kiln_status s = varray_st(a, d, &v);
    if (s != KILN_OK)
        fail_msg("array view %s failed: %s", d->text ? d->text : "?", kiln_status_name(s));
    return v;
}

/* The input of the array view d of a (the node keeps the view alive). */
static kiln_expr vin(kiln_ctx *ctx, kiln_array *a, const vdesc *d)
{
    kiln_array *v = varray(a, d);
    kiln_expr e = kiln_input(ctx, v);
    kiln_array_release(v);
    return e;
}

/* view(e) evaluates, in every mode, to the view of e's value. */
static void check_view(kiln_expr e, const vdesc *d, const char *what)
{
    char name[256];
    snprintf(name, sizeof name, "%s, view %s", what, d->text ? d->text : "?");
    kiln_expr v = vexpr(e, d);
    if (kiln_expr_status(v) != KILN_OK)
        fail_msg("%s: %s", name, kiln_errmsg(e.ctx_));
    kiln_array *whole = tu_eval(e, KILN_MODE_INTERP);
    kiln_array *want = varray(whole, d);
    kiln_array *got = tu_eval3(v, name);
    if (!tu_bits_equal(want, got))
        fail_msg("%s: differs from the view of the evaluated array", name);
    kiln_array_release(got);
    kiln_array_release(want);
    kiln_array_release(whole);
}

static const int PERM10[2] = {1, 0};

/* ---- push-down: the same node as viewing the inputs ------------------------------ */

static void test_pushdown_is_viewed_inputs(void **state)
{
    (void)state;
    kiln_ctx *ctx = new_ctx();
    kiln_array *a = rnd(ctx, KILN_FLOAT64, 2, (int64_t[]){4, 5});
    kiln_array *b = rnd(ctx, KILN_FLOAT64, 1, (int64_t[]){5});
    kiln_expr ea = kiln_input(ctx, a), eb = kiln_input(ctx, b), two = kiln_f64(ctx, 2);
    kiln_expr e = kiln_add(kiln_multiply(ea, eb), two);
    assert_int_equal(kiln_expr_status(e), KILN_OK);

    /* slice: both inputs sliced along the axes they have */
    vdesc s = SL({1, 3, 1}, {E, E, 2}), sb = SL({E, E, 2});
    assert_true(kiln_expr_same(vexpr(e, &s),
                               kiln_add(kiln_multiply(vin(ctx, a, &s), vin(ctx, b, &sb)), two)));
    /* index the leading axis: b (which lacks it) unchanged */
    vdesc i0 = {.kind = V_INDEX, .axis = 0, .index = 1};
    assert_true(kiln_expr_same(vexpr(e, &i0), kiln_add(kiln_multiply(vin(ctx, a, &i0), eb), two)));
    /* index the last axis: b indexed too (a 0-d input) */
    vdesc i1 = {.kind = V_INDEX, .axis = -1, .index = -3}, ib = {.kind = V_INDEX, .axis = 0, .index = 2};
    assert_true(kiln_expr_same(vexpr(e, &i1),
                               kiln_add(kiln_multiply(vin(ctx, a, &i1), vin(ctx, b, &ib)), two)));
    /* transpose: a.T * b[:, None] */
    vdesc t = {.kind = V_TRANSPOSE}, ex1 = {.kind = V_EXPAND, .axis = 1};
    assert_true(kiln_expr_same(vexpr(e, &t),
                               kiln_add(kiln_multiply(vin(ctx, a, &t), vin(ctx, b, &ex1)), two)));
    vdesc tp = {.kind = V_TRANSPOSE, .perm = PERM10};
    assert_true(kiln_expr_same(vexpr(e, &tp), vexpr(e, &t)));
    /* a new leading axis: b unchanged; a new last axis: b[:, None] */
    vdesc x0 = {.kind = V_EXPAND, .axis = 0}, x2 = {.kind = V_EXPAND, .axis = -1};
    assert_true(kiln_expr_same(vexpr(e, &x0), kiln_add(kiln_multiply(vin(ctx, a, &x0), eb), two)));
    assert_true(kiln_expr_same(vexpr(e, &x2),
                               kiln_add(kiln_multiply(vin(ctx, a, &x2), vin(ctx, b, &ex1)), two)));
    /* broadcast: carried by the full-rank input */
    vdesc bc = {.kind = V_BCAST, .n = 3, .shape = {3, 4, 5}};
    assert_true(kiln_expr_same(vexpr(e, &bc), kiln_add(kiln_multiply(vin(ctx, a, &bc), eb), two)));

    /* through casts, comparisons, where: the ops are rebuilt as they were */
    kiln_expr w = kiln_where(kiln_greater(ea, eb), kiln_cast(ea, KILN_FLOAT32), kiln_i64(ctx, 1));
    kiln_expr as = vin(ctx, a, &s), bs = vin(ctx, b, &sb);
    assert_true(kiln_expr_same(vexpr(w, &s), kiln_where(kiln_greater(as, bs),
                                                        kiln_cast(as, KILN_FLOAT32),
                                                        kiln_i64(ctx, 1))));
    assert_int_equal(kiln_expr_dtype(vexpr(w, &s)), KILN_FLOAT32);

    /* a view of a view: composed, then pushed */
    vdesc s2 = SL({1, E, 1});
    kiln_expr vv = vexpr(vexpr(e, &s), &s2);
    kiln_array *as1 = varray(a, &s), *bs1 = varray(b, &sb);
    assert_true(kiln_expr_same(vv, kiln_add(kiln_multiply(vin(ctx, as1, &s2), kiln_input(ctx, bs1)),
                                            two)));
    kiln_array_release(as1);
    kiln_array_release(bs1);

    /* views of inputs are inputs of array views */
    assert_true(kiln_expr_same(vexpr(ea, &s), vin(ctx, a, &s)));
    assert_true(kiln_expr_same(vexpr(ea, &t), vin(ctx, a, &t)));

    /* the identity view is the node itself; a second push makes nothing */
    assert_true(kiln_expr_same(kiln_expr_slice(e, 0, NULL), e));
    kiln_expr aa = kiln_add(kiln_multiply(ea, ea), two);
    assert_true(kiln_expr_same(kiln_expr_transpose(kiln_expr_transpose(aa, NULL), NULL), aa));
    /* (with b broadcast, b[:, None].T is b of shape (1, 5): an equal value,
     * another node) */
    assert_true(kiln_expr_same(kiln_expr_broadcast_to(e, 2, (int64_t[]){4, 5}), e));
    uint64_t live = kiln_ctx_counter(ctx, KILN_COUNTER_NODES_LIVE);
    assert_true(kiln_expr_same(vexpr(e, &s), vexpr(e, &s)));
    assert_int_equal(kiln_ctx_counter(ctx, KILN_COUNTER_NODES_LIVE), live);

    kiln_array_release(a);
    kiln_array_release(b);
    kiln_ctx_free(ctx);
}

/* A view of a scalar is a (strong) scalar of the view's shape. */
static void test_views_of_scalars(void **state)
{
    (void)state;
    kiln_ctx *ctx = new_ctx();
    double two = 2;
    kiln_expr w = kiln_f64(ctx, 2), strong = kiln_scalar(ctx, KILN_FLOAT64, &two);
    assert_true(kiln_expr_same(kiln_expr_transpose(w, NULL), strong));
    kiln_expr b = kiln_expr_broadcast_to(w, 2, (int64_t[]){2, 3});
    assert_int_equal(op_of(b), GR_OP_SCALAR);
    assert_int_equal(kiln_expr_rank(b), 2);
    kiln_array *r = tu_eval3(b, "broadcast_to(2.0, (2, 3))");
    for (int i = 0; i < 6; i++)
        assert_true(kiln_array_get_f64(r, i) == 2.0);
    kiln_array_release(r);
    /* a shaped scalar is not the 0-d one; slicing it keeps it a scalar */
    assert_false(kiln_expr_same(b, strong));
    kiln_expr bs = kiln_expr_slice(b, 2, (kiln_slice[]){{1, E, 1}, {E, E, 2}});
    assert_int_equal(op_of(bs), GR_OP_SCALAR);
    int64_t sh[KILN_MAX_RANK];
    assert_int_equal(kiln_expr_shape(bs, sh), KILN_OK);
    assert_true(sh[0] == 1 && sh[1] == 2);
    kiln_expr one = kiln_expr_expand_dims(kiln_i64(ctx, 7), 0);
    assert_int_equal(kiln_expr_dtype(one), KILN_INT64);
    assert_int_equal(kiln_expr_rank(one), 1);
    /* a shaped scalar reduced and broadcast against arrays, every mode */
    kiln_expr s = kiln_sum(kiln_expr_broadcast_to(kiln_f64(ctx, 0.5), 2, (int64_t[]){4, 3}), 1,
                           (int[]){0}, 0);
    r = tu_eval3(s, "sum(broadcast_to(0.5, (4, 3)), axis=0)");
    assert_int_equal(kiln_array_size(r), 3);
    for (int i = 0; i < 3; i++)
        assert_true(kiln_array_get_f64(r, i) == 2.0);
    kiln_array_release(r);
    kiln_array *x = rnd(ctx, KILN_FLOAT32, 1, (int64_t[]){3});
    kiln_expr m = kiln_add(kiln_input(ctx, x), b); /* (3,) + (2, 3), float64 scalar: strong */
    assert_int_equal(kiln_expr_dtype(m), KILN_FLOAT64);
    r = tu_eval3(m, "x + broadcast_to(2.0, (2, 3))");
    kiln_array_release(r);
    kiln_array_release(x);
    kiln_ctx_free(ctx);
}

/* ---- values: every view kind, every mode ------------------------------------------ */

static void test_values_every_view(void **state)
{
    (void)state;
    kiln_ctx *ctx = new_ctx();
    kiln_array *a = rnd(ctx, KILN_FLOAT64, 2, (int64_t[]){4, 5});
    kiln_array *b = rnd(ctx, KILN_FLOAT64, 1, (int64_t[]){5});
    kiln_array *c = rnd(ctx, KILN_FLOAT64, 2, (int64_t[]){4, 1});
    kiln_array *i = rnd(ctx, KILN_INT32, 2, (int64_t[]){4, 5});
    kiln_expr ea = kiln_input(ctx, a), eb = kiln_input(ctx, b), ec = kiln_input(ctx, c);
    kiln_expr ei = kiln_input(ctx, i);
    struct {
        kiln_expr e;
        const char *text;
    } exprs[] = {
        {kiln_add(kiln_multiply(ea, eb), kiln_f64(ctx, 2)), "a*b + 2"},
        {kiln_sqrt(kiln_absolute(kiln_subtract(ea, ec))), "sqrt(abs(a - c))"},
        {kiln_where(kiln_greater(ea, eb), ei, kiln_multiply(ec, kiln_f64(ctx, 3))),
         "where(a > b, i, c*3)"},
        {kiln_bitwise_and(kiln_left_shift(ei, kiln_i64(ctx, 1)), kiln_i64(ctx, 6)), "(i << 1) & 6"},
        {kiln_less(ec, eb), "c < b"},
    };
    vdesc views[] = {
        SL({1, 3, 1}, {E, E, 2}),
        SL({E, E, -1}),
        SL({E, E, 1}, {4, 1, -2}),
        SL({5, E, 1}),
        SL({1, 2, 1}, {0, 0, 1}),
        {.kind = V_INDEX, .axis = 0, .index = 1, .text = "[1]"},
        {.kind = V_INDEX, .axis = 0, .index = -1, .text = "[-1]"},
        {.kind = V_INDEX, .axis = 1, .index = 3, .text = "[:, 3]"},
        {.kind = V_INDEX, .axis = -1, .index = -5, .text = "[:, -5]"},
        {.kind = V_TRANSPOSE, .text = ".T"},
        {.kind = V_EXPAND, .axis = 0, .text = "[None]"},
        {.kind = V_EXPAND, .axis = 1, .text = "[:, None]"},
        {.kind = V_EXPAND, .axis = -1, .text = "[..., None]"},
        {.kind = V_BCAST, .n = 3, .shape = {2, 4, 5}, .text = "broadcast_to (2,4,5)"},
        {.kind = V_BCAST, .n = 4, .shape = {3, 1, 4, 5}, .text = "broadcast_to (3,1,4,5)"},
    };
    for (size_t x = 0; x < sizeof exprs / sizeof exprs[0]; x++) {
        assert_int_equal(kiln_expr_status(exprs[x].e), KILN_OK);
        for (size_t v = 0; v < sizeof views / sizeof views[0]; v++)
            check_view(exprs[x].e, &views[v], exprs[x].text);
    }
    /* chains of views */
    kiln_expr e = exprs[0].e;
    vdesc t = {.kind = V_TRANSPOSE, .text = ".T"}, s = SL({E, E, 2}, {1, E, 1});
    kiln_expr et = vexpr(e, &t);
    check_view(et, &s, "(a*b + 2).T");
    vdesc x1 = {.kind = V_EXPAND, .axis = 1, .text = "[:, None]"};
    check_view(vexpr(et, &s), &x1, "(a*b + 2).T[::2, 1:]");
    kiln_array_release(a);
    kiln_array_release(b);
    kiln_array_release(c);
    kiln_array_release(i);
    kiln_ctx_free(ctx);
}

/* ---- broadcasting ---------------------------------------------------------------- */

static void test_broadcasting(void **state)
{
    (void)state;
    kiln_ctx *ctx = new_ctx();
    kiln_array *a = rnd(ctx, KILN_FLOAT64, 2, (int64_t[]){4, 1});
    kiln_array *b = rnd(ctx, KILN_FLOAT64, 2, (int64_t[]){1, 5});
    kiln_array *r1 = rnd(ctx, KILN_FLOAT64, 2, (int64_t[]){1, 3});
    kiln_expr ea = kiln_input(ctx, a), eb = kiln_input(ctx, b), e = kiln_add(ea, eb);

    /* slicing an axis an input broadcasts leaves it (extent 1) alone */
    vdesc s = SL({1, 3, 1}, {2, E, 1}), sa = SL({1, 3, 1}), sb = SL({E, E, 1}, {2, E, 1});
    assert_true(kiln_expr_same(vexpr(e, &s), kiln_add(vin(ctx, a, &sa), vin(ctx, b, &sb))));
    check_view(e, &s, "a(4,1) + b(1,5)");
    /* indexing a broadcast axis reads the input's one element there */
    vdesc i1 = {.kind = V_INDEX, .axis = 1, .index = 3, .text = "[:, 3]"};
    vdesc a0 = {.kind = V_INDEX, .axis = 1, .index = 0}, b3 = {.kind = V_INDEX, .axis = 1, .index = 3};
    assert_true(kiln_expr_same(vexpr(e, &i1), kiln_add(vin(ctx, a, &a0), vin(ctx, b, &b3))));
    check_view(e, &i1, "a(4,1) + b(1,5)");
    vdesc i0 = {.kind = V_INDEX, .axis = 0, .index = -2, .text = "[-2]"};
    vdesc ai = {.kind = V_INDEX, .axis = 0, .index = 2}, bi = {.kind = V_INDEX, .axis = 0, .index = 0};
    assert_true(kiln_expr_same(vexpr(e, &i0), kiln_add(vin(ctx, a, &ai), vin(ctx, b, &bi))));
    check_view(e, &i0, "a(4,1) + b(1,5)");
    /* transposing a broadcast: each input transposed */
    vdesc t = {.kind = V_TRANSPOSE, .text = ".T"};
    assert_true(kiln_expr_same(vexpr(e, &t), kiln_add(vin(ctx, a, &t), vin(ctx, b, &t))));
    check_view(e, &t, "a(4,1) + b(1,5)");
    vdesc bc = {.kind = V_BCAST, .n = 3, .shape = {2, 4, 5}, .text = "broadcast_to (2,4,5)"};
    check_view(e, &bc, "a(4,1) + b(1,5)");
    /* an extent-1 axis the node has too is sliced for real: [1:] is empty */
    kiln_expr er = kiln_multiply(kiln_input(ctx, r1), kiln_input(ctx, r1));
    vdesc e1 = SL({1, E, 1});
    int64_t sh[KILN_MAX_RANK];
    assert_int_equal(kiln_expr_shape(vexpr(er, &e1), sh), KILN_OK);
    assert_true(sh[0] == 0 && sh[1] == 3);
    check_view(er, &e1, "r1 * r1");
    /* an empty slice of an axis an input broadcasts */
    vdesc emp = SL({E, E, 1}, {3, 3, 1});
    check_view(e, &emp, "a(4,1) + b(1,5)");
    /* a 1-D input in a 2-D expression */
    kiln_array *m = rnd(ctx, KILN_FLOAT64, 2, (int64_t[]){3, 5});
    kiln_array *v = rnd(ctx, KILN_FLOAT64, 1, (int64_t[]){5});
    kiln_expr mv = kiln_divide(kiln_input(ctx, m), kiln_input(ctx, v));
    vdesc cols = SL({E, E, 1}, {1, 4, 2}), vcols = SL({1, 4, 2});
    assert_true(kiln_expr_same(vexpr(mv, &cols),
                               kiln_divide(vin(ctx, m, &cols), vin(ctx, v, &vcols))));
    vdesc row = {.kind = V_INDEX, .axis = 0, .index = 1, .text = "[1]"};
    assert_true(kiln_expr_same(vexpr(mv, &row),
                               kiln_divide(vin(ctx, m, &row), kiln_input(ctx, v))));
    check_view(mv, &cols, "m / v");
    check_view(mv, &row, "m / v");
    check_view(mv, &t, "m / v");
    kiln_array_release(a);
    kiln_array_release(b);
    kiln_array_release(r1);
    kiln_array_release(m);
    kiln_array_release(v);
    kiln_ctx_free(ctx);
}

/* ---- views of reductions and scans: VIEW nodes ------------------------------------- */

static void test_views_of_reductions(void **state)
{
    (void)state;
    kiln_ctx *ctx = new_ctx();
    kiln_array *x = rnd(ctx, KILN_FLOAT64, 2, (int64_t[]){3, 200});
    kiln_expr ex = kiln_input(ctx, x);
    kiln_expr c = kiln_cumsum(ex, 1);
    /* a VIEW node over the scan; views of it compose into one VIEW */
    vdesc s1 = SL({1, E, 1}), s2 = SL({E, E, 1}, {5, E, 1}), s12 = SL({1, E, 1}, {5, E, 1});
    kiln_expr v = vexpr(vexpr(c, &s1), &s2);
    assert_int_equal(op_of(v), GR_OP_VIEW);
    assert_int_equal(in_of(v), c.id_);
    assert_true(kiln_expr_same(v, vexpr(c, &s12)));
    assert_true(kiln_expr_same(kiln_expr_slice(c, 0, NULL), c));
    vdesc t = {.kind = V_TRANSPOSE, .text = ".T"};
    assert_true(kiln_expr_same(vexpr(vexpr(c, &t), &t), c));

    vdesc views[] = {
        SL({E, E, 1}, {10, E, 1}),
        SL({E, E, -1}, {E, E, -3}),
        {.kind = V_INDEX, .axis = 0, .index = 1, .text = "[1]"},
        {.kind = V_INDEX, .axis = 1, .index = -1, .text = "[:, -1]"},
        {.kind = V_TRANSPOSE, .text = ".T"},
        {.kind = V_EXPAND, .axis = 1, .text = "[:, None]"},
        {.kind = V_BCAST, .n = 3, .shape = {2, 3, 200}, .text = "broadcast_to (2,3,200)"},
    };
    for (size_t k = 0; k < sizeof views / sizeof views[0]; k++)
        check_view(c, &views[k], "cumsum(x, axis=1)");
    /* the rolling window along rows, consumed elementwise */
    vdesc hi = SL({E, E, 1}, {10, E, 1}), lo = SL({E, E, 1}, {E, -10, 1});
    kiln_expr roll = kiln_subtract(vexpr(c, &hi), vexpr(c, &lo));
    kiln_array *whole = tu_eval(c, KILN_MODE_INTERP), *h = varray(whole, &hi), *l = varray(whole, &lo);
    kiln_expr want = kiln_subtract(kiln_input(ctx, h), kiln_input(ctx, l));
    kiln_array *r = tu_eval3(roll, "c[:, 10:] - c[:, :-10]"), *w = tu_eval(want, KILN_MODE_INTERP);
    assert_true(tu_bits_equal(r, w));
    kiln_array_release(r);
    kiln_array_release(w);
    kiln_array_release(h);
    kiln_array_release(l);
    kiln_array_release(whole);

    /* a reduction's result, re-broadcast: the same bits as keepdims */
    kiln_expr mean = kiln_mean(ex, 1, (int[]){1}, 0), sd = kiln_std(ex, 1, (int[]){1}, 0, 1);
    kiln_expr z = kiln_divide(kiln_subtract(ex, kiln_expr_expand_dims(mean, 1)),
                              kiln_expr_expand_dims(sd, -1));
    kiln_expr zk = kiln_divide(kiln_subtract(ex, kiln_mean(ex, 1, (int[]){1}, 1)),
                               kiln_std(ex, 1, (int[]){1}, 1, 1));
    r = tu_eval3(z, "(x - mean(x, 1)[:, None]) / std(x, 1, ddof=1)[:, None]");
    w = tu_eval3(zk, "keepdims");
    assert_true(tu_bits_equal(r, w));
    kiln_array_release(r);
    kiln_array_release(w);
    /* a 0-d view of a scan (one element broadcast: a kernel parameter) */
    kiln_expr cf = kiln_cumsum(ex, KILN_AXIS_NONE);
    kiln_expr last = kiln_expr_index(cf, 0, -1), first = kiln_expr_index(cf, 0, 0);
    kiln_expr d = kiln_subtract(kiln_divide(ex, last), first);
    r = tu_eval3(d, "x / cumsum(x)[-1] - cumsum(x)[0]");
    kiln_array *cfa = tu_eval(cf, KILN_MODE_INTERP);
    double lv = kiln_array_get_f64(cfa, 599), fv = kiln_array_get_f64(cfa, 0);
    for (int64_t k = 0; k < 600; k++)
        assert_true(kiln_array_get_f64(r, k) == kiln_array_get_f64(x, k) / lv - fv);
    kiln_array_release(r);
    kiln_array_release(cfa);
    /* a broadcast 0-d reduction */
    kiln_expr tot = kiln_sum(ex, 0, NULL, 0);
    check_view(tot, &(vdesc){.kind = V_BCAST, .n = 2, .shape = {3, 200}, .text = "bcast"}, "sum(x)");
    check_view(tot, &(vdesc){.kind = V_EXPAND, .axis = 0, .text = "[None]"}, "sum(x)");
    /* reductions and scans of views of scans (the view read in place) */
    vdesc rev = SL({E, E, 1}, {E, E, -1});
    r = tu_eval3(kiln_sum(vexpr(c, &hi), 1, (int[]){1}, 0), "sum(c[:, 10:], axis=1)");
    kiln_array_release(r);
    r = tu_eval3(kiln_cumsum(vexpr(c, &rev), 1), "cumsum(c[:, ::-1], axis=1)");
    kiln_array_release(r);

    /* the scan and its view both roots; the scan into a Fortran-order output,
     * so the view reads the user's array through the map */
    kiln_expr roots[2] = {c, vexpr(c, &rev)};
    for (int mode = KILN_MODE_FUSED; mode <= KILN_MODE_INTERP; mode++) {
        kiln_array *outs[2] = {NULL, NULL};
        assert_int_equal(kiln_array_empty(ctx, KILN_FLOAT64, 2, (int64_t[]){3, 200}, KILN_ORDER_F,
                                          &outs[0]),
                         KILN_OK);
        kiln_status st = kiln_eval_many(ctx, (kiln_mode)mode, 2, roots, outs);
        if (st != KILN_OK)
            fail_msg("mode %d: %s", mode, kiln_errmsg(ctx));
        kiln_array *want2 = varray(outs[0], &rev);
        assert_true(tu_bits_equal(want2, outs[1]));
        kiln_array_release(want2);
        kiln_array_release(outs[0]);
        kiln_array_release(outs[1]);
    }
    kiln_array_release(x);
    kiln_ctx_free(ctx);
}

/* ---- the rolling window in one evaluation ---------------------------------------- */

enum { NP = 100000, W = 20 };

/* The canonical float cumsum (runtime/reduce.h): NumPy's sequential scan in
 * blocks of 4096, the carries folded in block order. */
static void ref_cumsum(const double *x, double *y, int64_t n)
{
    const int64_t B = 4096;
    if (n <= B) {
        double acc = 0;
        for (int64_t i = 0; i < n; i++)
            y[i] = acc = i == 0 ? x[0] : acc + x[i];
        return;
    }
    double carry = 0;
    for (int64_t lo = 0; lo < n; lo += B) {
        double l = 0;
        for (int64_t i = lo; i < n && i < lo + B; i++) {
            l = i == lo ? x[i] : l + x[i];
            y[i] = lo == 0 ? l : carry + l;
        }
        carry = lo == 0 ? l : carry + l;
    }
}

static double *prices(void)
{
    double *p = malloc(NP * sizeof *p), price = 100;
    assert_non_null(p);
    for (int i = 0; i < NP; i++) {
        price *= 1 + (urand() - 0.5) * 0.02;
        p[i] = price;
    }
    return p;
}

static void expect_same(const double *got, const double *want, int64_t n, const char *what)
{
    for (int64_t i = 0; i < n; i++)
        if (memcmp(&got[i], &want[i], sizeof *got) != 0 && !(isnan(got[i]) && isnan(want[i])))
            fail_msg("%s: element %lld is %.17g, want %.17g", what, (long long)i, got[i],
                     want[i]);
}

/* sma = (c[w:] - c[:-w]) / w with c = cumsum(x): FUSED is the scan writing
 * c and ONE elementwise kernel reading c at two offsets; c is the only
 * temporary. */
static void test_rolling_window_one_pass(void **state)
{
    (void)state;
    kiln_ctx *ctx = new_ctx();
    double *p = prices(), *c = malloc(NP * sizeof *c), *want = malloc(NP * sizeof *want);
    assert_true(c && want);
    ref_cumsum(p, c, NP);
    for (int i = 0; i < NP - W; i++)
        want[i] = (c[i + W] - c[i]) / W;
    kiln_array *x = tu_array(ctx, KILN_FLOAT64, 1, (int64_t[]){NP}, p);
    kiln_expr ec = kiln_cumsum(kiln_input(ctx, x), 0);
    kiln_slice hi = {W, E, 1}, lo = {E, -W, 1};
    kiln_expr sma = kiln_divide(kiln_subtract(kiln_expr_slice(ec, 1, &hi), kiln_expr_slice(ec, 1, &lo)),
                                kiln_i64(ctx, W));

    /* the plan: two kernels, one temporary (c), read twice by the second */
    kiln_array *out = NULL;
    assert_int_equal(kiln_array_empty(ctx, KILN_FLOAT64, 1, (int64_t[]){NP - W}, KILN_ORDER_C, &out),
                     KILN_OK);
    _Alignas(16) char arena[8192];
    gr_plan plan;
    gr_plan_init(&plan, ctx->env, arena, sizeof arena);
    assert_int_equal(gr_plan_build(&plan, ctx->graph, true, 1, &sma.id_, &out), KILN_OK);
    assert_int_equal(plan.nkernels, 2);
    assert_int_equal(plan.ntemps, 1);
    assert_true(plan.temps[0].rank == 1 && plan.temps[0].shape[0] == NP);
    const gr_kernel *k = &plan.kernels[1];
    int reads = 0;
    int64_t lo_off = INT64_MAX, hi_off = INT64_MIN;
    for (int o = k->nout; o < k->nops; o++) {
        assert_int_equal(k->ops[o].src.temp, 0);
        reads++;
        lo_off = k->ops[o].offset < lo_off ? k->ops[o].offset : lo_off;
        hi_off = k->ops[o].offset > hi_off ? k->ops[o].offset : hi_off;
    }
    assert_int_equal(reads, 2); /* c twice, nothing else */
    assert_int_equal(lo_off, 0);     /* c[:-w] */
    assert_int_equal(hi_off, W * 8); /* c[w:] */
    gr_plan_free(&plan);
    kiln_array_release(out);

    /* and at run time: c's bytes of temporaries, two kernel runs */
    kiln_ctx_reset_counters(ctx);
    kiln_array *r = tu_eval(sma, KILN_MODE_FUSED);
    assert_int_equal(kiln_ctx_counter(ctx, KILN_COUNTER_TEMP_BYTES), (uint64_t)NP * 8);
    uint64_t launches = kiln_ctx_counter(ctx, KILN_COUNTER_LAUNCHES);
    uint64_t fallbacks = kiln_ctx_counter(ctx, KILN_COUNTER_FALLBACKS); /* the scan, if not lowered */
    assert_true(launches >= 1 && launches + fallbacks == 2);
    expect_same(kiln_array_data(r), want, NP - W, "sma (fused)");
    kiln_array_release(r);
    r = tu_eval3(sma, "sma");
    expect_same(kiln_array_data(r), want, NP - W, "sma (every mode)");
    kiln_array_release(r);
    kiln_array_release(x);
    free(p);
    free(c);
    free(want);
    kiln_ctx_free(ctx);
}

/* create_features_numpy with plain C loops (cumsums in the canonical order). */
static void features_c(const double *p, double *ret, double *sma, double *vol, double *z)
{
    double *c = malloc(NP * sizeof *c), *c2 = malloc(NP * sizeof *c2), *sq = malloc(NP * sizeof *sq);
    assert_true(c && c2 && sq);
    ref_cumsum(p, c, NP);
    for (int i = 0; i < NP; i++)
        sq[i] = p[i] * p[i];
    ref_cumsum(sq, c2, NP);
    for (int i = 0; i < NP; i++) {
        ret[i] = i == 0 ? 0 : (p[i] - p[i - 1]) / p[i - 1];
        sma[i] = i < W ? 0 : (c[i] - c[i - W]) / W;
        double mean_sq = i < W ? 0 : (c2[i] - c2[i - W]) / W;
        double variance = mean_sq - sma[i] * sma[i];
        variance = variance > 0 ? variance : 0;
        vol[i] = i < W ? 0 : sqrt(variance);
        z[i] = vol[i] > 0 ? (p[i] - sma[i]) / vol[i] : 0;
    }
    free(c);
    free(c2);
    free(sq);
}

/* The seed's create_features_numpy in ONE evaluation: the four features
 * written into views of zeroed arrays (the leading elements NumPy leaves 0),
 * each an expression of views of the prices and of their two cumsums. */
static void test_create_features_one_eval(void **state)
{
    (void)state;
    double *p = prices(), *want[4];
    for (int f = 0; f < 4; f++) {
        want[f] = malloc(NP * sizeof(double));
        assert_non_null(want[f]);
    }
    features_c(p, want[0], want[1], want[2], want[3]);
    const char *names[4] = {"returns", "sma", "volatility", "z_score"};
    for (int mode = KILN_MODE_FUSED; mode <= KILN_MODE_INTERP; mode++) {
        kiln_ctx *ctx = new_ctx();
        kiln_array *px = tu_array(ctx, KILN_FLOAT64, 1, (int64_t[]){NP}, p);
        kiln_expr x = kiln_input(ctx, px), w = kiln_f64(ctx, W);
        kiln_slice tail1 = {1, E, 1}, head1 = {E, -1, 1}, tail = {W, E, 1}, head = {E, -W, 1};
        kiln_expr prev = kiln_expr_slice(x, 1, &head1);
        kiln_expr ret = kiln_divide(kiln_subtract(kiln_expr_slice(x, 1, &tail1), prev), prev);
        kiln_expr c = kiln_cumsum(x, 0), c2 = kiln_cumsum(kiln_square(x), 0);
        kiln_expr sma = kiln_divide(
            kiln_subtract(kiln_expr_slice(c, 1, &tail), kiln_expr_slice(c, 1, &head)), w);
        kiln_expr mean_sq = kiln_divide(
            kiln_subtract(kiln_expr_slice(c2, 1, &tail), kiln_expr_slice(c2, 1, &head)), w);
        kiln_expr var = kiln_maximum(kiln_subtract(mean_sq, kiln_square(sma)), kiln_f64(ctx, 0));
        kiln_expr vol = kiln_sqrt(var);
        kiln_expr z = kiln_where(kiln_greater(vol, kiln_f64(ctx, 0)),
                                 kiln_divide(kiln_subtract(kiln_expr_slice(x, 1, &tail), sma), vol),
                                 kiln_f64(ctx, 0));
        kiln_array *full[4], *outs[4];
        for (int f = 0; f < 4; f++) {
            assert_int_equal(kiln_array_zeros(ctx, KILN_FLOAT64, 1, (int64_t[]){NP}, KILN_ORDER_C,
                                              &full[f]),
                             KILN_OK);
            assert_int_equal(kiln_array_slice(full[f], 1, f == 0 ? &tail1 : &tail, &outs[f]),
                             KILN_OK);
        }
        kiln_expr feats[4] = {ret, sma, vol, z};
        kiln_ctx_reset_counters(ctx);
        kiln_status st = kiln_eval_many(ctx, (kiln_mode)mode, 4, feats, outs);
        if (st != KILN_OK)
            fail_msg("mode %d: %s", mode, kiln_errmsg(ctx));
        if (mode == KILN_MODE_FUSED) /* c and c2, nothing else: x*x is fused into
                                      * c2's scan, the features read both scans
                                      * through views */
            assert_int_equal(kiln_ctx_counter(ctx, KILN_COUNTER_TEMP_BYTES), 2 * (uint64_t)NP * 8);
        for (int f = 0; f < 4; f++) {
            expect_same(kiln_array_data(full[f]), want[f], NP, names[f]);
            kiln_array_release(outs[f]);
            kiln_array_release(full[f]);
        }
        kiln_array_release(px);
        kiln_ctx_free(ctx);
    }
    int positive = 0;
    for (int i = 0; i < NP; i++)
        positive += want[2][i] > 0;
    assert_true(positive > NP / 2); /* the z-score branch is exercised */
    free(p);
    for (int f = 0; f < 4; f++)
        free(want[f]);
}

/* ---- errors -------------------------------------------------------------------------- */

/* The expression view fails as the array view does: status and message. */
static void expect_same_error(kiln_ctx *ctx, kiln_expr e, kiln_array *a, const vdesc *d,
                              kiln_status want)
{
    kiln_array *out = (kiln_array *)1;
    kiln_status sa = varray_st(a, d, &out);
    assert_int_equal(sa, want);
    assert_null(out);
    char amsg[1024];
    snprintf(amsg, sizeof amsg, "%s", kiln_errmsg(ctx));
    kiln_expr v = vexpr(e, d);
    assert_int_equal(kiln_expr_status(v), want);
    if (strcmp(kiln_errmsg(ctx), amsg) != 0)
        fail_msg("message '%s', the array API's '%s'", kiln_errmsg(ctx), amsg);
    /* sticky: through other constructors, views and evaluation */
    assert_int_equal(kiln_expr_status(kiln_add(v, e)), want);
    assert_int_equal(kiln_expr_status(kiln_expr_transpose(v, NULL)), want);
    assert_int_equal(kiln_expr_status(kiln_sum(v, 0, NULL, 0)), want);
    kiln_array *r = NULL;
    assert_int_equal(kiln_eval(v, &r), want);
    assert_null(r);
}

static void test_errors(void **state)
{
    (void)state;
    kiln_ctx *ctx = new_ctx();
    kiln_array *a = rnd(ctx, KILN_FLOAT64, 2, (int64_t[]){3, 4});
    kiln_expr ea = kiln_input(ctx, a);
    kiln_expr e = kiln_multiply(ea, kiln_f64(ctx, 3)), c = kiln_cumsum(ea, 0);
    const int rep[2] = {0, 0}, big[2] = {0, 2};
    vdesc bad[] = {
        SL({E, E, 0}),
        SL({E, E, 1}, {E, E, 1}, {E, E, 1}),
        {.kind = V_SLICE, .n = -1},
        {.kind = V_INDEX, .axis = 2, .index = 0},
        {.kind = V_INDEX, .axis = -3, .index = 0},
        {.kind = V_INDEX, .axis = 1, .index = 4},
        {.kind = V_INDEX, .axis = 0, .index = -4},
        {.kind = V_TRANSPOSE, .perm = rep},
        {.kind = V_TRANSPOSE, .perm = big},
        {.kind = V_EXPAND, .axis = 3},
        {.kind = V_EXPAND, .axis = -4},
        {.kind = V_BCAST, .n = 2, .shape = {3, 5}},
        {.kind = V_BCAST, .n = 1, .shape = {4}},
        {.kind = V_BCAST, .n = 2, .shape = {-1, 4}},
        {.kind = V_BCAST, .n = 9, .shape = {1}},
    };
    kiln_status want[] = {KILN_EINVAL, KILN_EINDEX, KILN_EINVAL, KILN_EAXIS,
                          KILN_EAXIS, KILN_EINDEX, KILN_EINDEX, KILN_EAXIS, KILN_EAXIS,
                          KILN_EAXIS, KILN_EAXIS, KILN_ESHAPE, KILN_ESHAPE, KILN_EINVAL,
                          KILN_ERANK};
    _Static_assert(sizeof bad / sizeof bad[0] == sizeof want / sizeof want[0], "one status each");
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        expect_same_error(ctx, e, a, &bad[k], want[k]);
        expect_same_error(ctx, c, a, &bad[k], want[k]); /* a scan's view checks the same */
    }
    /* NULL slices */
    kiln_array *none_out = NULL;
    assert_int_equal(kiln_array_slice(a, 1, NULL, &none_out), KILN_ENULL);
    char amsg[1024];
    snprintf(amsg, sizeof amsg, "%s", kiln_errmsg(ctx));
    assert_int_equal(kiln_expr_status(kiln_expr_slice(e, 1, NULL)), KILN_ENULL);
    assert_string_equal(kiln_errmsg(ctx), amsg);
    assert_string_equal(
        (kiln_expr_slice(e, 1, (kiln_slice[]){{E, E, 0}}), kiln_errmsg(ctx)),
        "slice step cannot be zero (axis 0)");
    assert_string_equal((kiln_expr_broadcast_to(e, 1, (int64_t[]){4}), kiln_errmsg(ctx)),
                        "cannot broadcast shape (3,4) to (4,)");
    /* expand_dims past the maximum rank */
    kiln_expr r8 = kiln_expr_broadcast_to(kiln_f64(ctx, 1), 8, (int64_t[]){1, 1, 1, 1, 1, 1, 1, 2});
    assert_int_equal(kiln_expr_status(r8), KILN_OK);
    assert_int_equal(kiln_expr_status(kiln_expr_expand_dims(r8, 0)), KILN_ERANK);
    assert_string_equal(kiln_errmsg(ctx), "expand_dims: rank 9 would exceed 8");
    /* a 0-d expression has no axis to index or slice */
    assert_int_equal(kiln_expr_status(kiln_expr_index(kiln_sum(ea, 0, NULL, 0), 0, 0)), KILN_EAXIS);
    assert_int_equal(kiln_expr_status(kiln_expr_slice(kiln_f64(ctx, 1), 1, (kiln_slice[]){KILN_ALL})),
                     KILN_EINDEX);

    /* stale and NULL handles */
    uint64_t scope = kiln_scope_begin(ctx);
    kiln_expr tmp = kiln_add(ea, kiln_f64(ctx, 1));
    assert_int_equal(kiln_scope_end(ctx, scope), KILN_OK);
    kiln_expr st = kiln_expr_slice(tmp, 1, (kiln_slice[]){{1, E, 1}});
    assert_int_equal(kiln_expr_status(st), KILN_ESTALE);
    assert_non_null(strstr(kiln_errmsg(ctx), "slice: argument 1 is stale"));
    assert_int_equal(kiln_expr_status(kiln_expr_transpose(tmp, NULL)), KILN_ESTALE);
    kiln_expr none = {NULL, 0, 0};
    assert_int_equal(kiln_expr_status(kiln_expr_index(none, 0, 0)), KILN_ENULL);
    assert_int_equal(kiln_expr_status(kiln_expr_broadcast_to(none, 0, NULL)), KILN_ENULL);
    kiln_array_release(a);
    kiln_ctx_free(ctx);
}

/* ---- scopes ------------------------------------------------------------------------- */

/* VIEW nodes and their maps are reclaimed with their scope: a loop that
 * builds and evaluates views per iteration runs in bounded memory, and a
 * map made after a scope ended is never an old one. */
static void test_scopes(void **state)
{
    (void)state;
    kiln_ctx *ctx = new_ctx();
    kiln_array *x = rnd(ctx, KILN_FLOAT64, 1, (int64_t[]){50});
    kiln_expr c = kiln_cumsum(kiln_input(ctx, x), 0);
    kiln_array *whole = tu_eval(c, KILN_MODE_INTERP);
    uint64_t live = kiln_ctx_counter(ctx, KILN_COUNTER_NODES_LIVE);
    for (int it = 0; it < 200; it++) {
        uint64_t scope = kiln_scope_begin(ctx);
        int64_t w = 1 + it % 7;
        kiln_slice hi = {w, E, 1}, lo = {E, -w, 1};
        kiln_expr v = kiln_subtract(kiln_expr_slice(c, 1, &hi), kiln_expr_slice(c, 1, &lo));
        kiln_array *r = tu_eval(v, it % 2 ? KILN_MODE_INTERP : KILN_MODE_FUSED);
        for (int64_t i = 0; i + w < 50; i++)
            assert_true(kiln_array_get_f64(r, i) ==
                        kiln_array_get_f64(whole, i + w) - kiln_array_get_f64(whole, i));
        kiln_array_release(r);
        assert_int_equal(kiln_scope_end(ctx, scope), KILN_OK);
        assert_int_equal(kiln_ctx_counter(ctx, KILN_COUNTER_NODES_LIVE), live);
    }
    kiln_array_release(whole);
    kiln_array_release(x);
    kiln_ctx_free(ctx);
}

/* ---- the parser ------------------------------------------------------------------------ */

static void test_parser(void **state)
{
    (void)state;
    kiln_ctx *ctx = new_ctx();
    kiln_array *x = rnd(ctx, KILN_FLOAT64, 1, (int64_t[]){30});
    kiln_array *m = rnd(ctx, KILN_FLOAT64, 2, (int64_t[]){3, 4});
    kiln_array *b = rnd(ctx, KILN_FLOAT64, 1, (int64_t[]){4});
    const char *names[3] = {"x", "m", "b"};
    kiln_array *arrs[3] = {x, m, b};
    kiln_expr ex = kiln_input(ctx, x), em = kiln_input(ctx, m), eb = kiln_input(ctx, b);
#define PARSE(src) kiln_parse(ctx, (src), 3, names, arrs)
#define SAME(src, want)                                                                  \
    do {                                                                                 \
        kiln_expr got_ = PARSE(src);                                                     \
        if (kiln_expr_status(got_) != KILN_OK)                                           \
            fail_msg("%s: %s", (src), kiln_errmsg(ctx));                                 \
        if (!kiln_expr_same(got_, (want)))                                               \
            fail_msg("%s: not the C API's expression", (src));                           \
    } while (0)
    kiln_expr c = kiln_cumsum(ex, KILN_AXIS_NONE);
    SAME("cumsum(x)[20:]", kiln_expr_slice(c, 1, (kiln_slice[]){{20, E, 1}}));
    SAME("(cumsum(x)[5:] - cumsum(x)[:-5]) / 5",
         kiln_divide(kiln_subtract(kiln_expr_slice(c, 1, (kiln_slice[]){{5, E, 1}}),
                                   kiln_expr_slice(c, 1, (kiln_slice[]){{E, -5, 1}})),
                     kiln_i64(ctx, 5)));
    kiln_expr mb = kiln_add(em, eb);
    SAME("(m + b)[::2]", kiln_expr_slice(mb, 1, (kiln_slice[]){{E, E, 2}}));
    SAME("(m + b)[1, ::-1]",
         kiln_expr_index(kiln_expr_slice(mb, 2, (kiln_slice[]){KILN_ALL, {E, E, -1}}), 0, 1));
    SAME("(m + b)[..., None]", kiln_expr_expand_dims(mb, 2));
    SAME("(m*2).T", kiln_expr_transpose(kiln_multiply(em, kiln_i64(ctx, 2)), NULL));
    SAME("sin(m).T[0]", kiln_expr_index(kiln_expr_transpose(kiln_sin(em), NULL), 0, 0));
    SAME("(2.5)[None]", kiln_expr_expand_dims(kiln_f64(ctx, 2.5), 0));
    /* keyword arguments of reductions and scans */
    SAME("sum(m, axis=0)", kiln_sum(em, 1, (int[]){0}, 0));
    SAME("sum(m, axis=-1, keepdims=False)", kiln_sum(em, 1, (int[]){-1}, 0));
    SAME("mean(m, axis=1, keepdims=True)", kiln_mean(em, 1, (int[]){1}, 1));
    SAME("std(m, axis=0, ddof=1)", kiln_std(em, 1, (int[]){0}, 0, 1));
    SAME("var(m, ddof=1)", kiln_var(em, 0, NULL, 0, 1));
    SAME("sum(m, axis=(0, 1))", kiln_sum(em, 2, (int[]){0, 1}, 0));
    SAME("max(m, axis=(1,), keepdims=True)", kiln_max(em, 1, (int[]){1}, 1));
    SAME("sum(m, axis=None)", kiln_sum(em, 0, NULL, 0));
    SAME("cumsum(m, axis=0)", kiln_cumsum(em, 0));
    SAME("cumprod(m, axis=None)", kiln_cumprod(em, KILN_AXIS_NONE));
    SAME("argmax(m, axis=1)", kiln_argmax(em, 1));
    SAME("argmin(m, axis=None)", kiln_argmin(em, KILN_AXIS_NONE));
    SAME("m - mean(m, axis=1)[:, None]",
         kiln_subtract(em, kiln_expr_expand_dims(kiln_mean(em, 1, (int[]){1}, 0), 1)));
    SAME("sum(m, axis=0,)", kiln_sum(em, 1, (int[]){0}, 0));
    /* values, every mode */
    kiln_array *r = tu_eval3(PARSE("(cumsum(x)[3:] - cumsum(x)[:-3]) / 3"), "parsed rolling window");
    kiln_array_release(r);
    /* errors */
    struct {
        const char *src;
        kiln_status st;
        const char *msg;
    } bad[] = {
        {"sum(x, axs=0)", KILN_ESYNTAX, "sum() got an unexpected keyword argument 'axs'"},
        {"cumsum(x, keepdims=True)", KILN_ESYNTAX,
         "cumsum() got an unexpected keyword argument 'keepdims'"},
        {"argmax(m, keepdims=True)", KILN_ESYNTAX, "unexpected keyword argument 'keepdims'"},
        {"sum(m, ddof=1)", KILN_ESYNTAX, "sum() got an unexpected keyword argument 'ddof'"},
        {"sum(m, axis=0, axis=1)", KILN_ESYNTAX, "keyword argument repeated: 'axis'"},
        {"sum(axis=0, m)", KILN_ESYNTAX, "positional argument follows keyword argument"},
        {"sin(x, axis=0)", KILN_ESYNTAX, "sin() takes no keyword arguments ('axis' given)"},
        {"sum(m, keepdims=1)", KILN_ESYNTAX, "expected True or False"},
        {"sum(m, axis=())", KILN_ESYNTAX, "axis=() (reducing no axis) is not supported"},
        {"cumsum(m, axis=(0,))", KILN_ESYNTAX, "cumsum(): axis must be an integer or None"},
        {"sum(m, axis=x)", KILN_ESYNTAX, "expected an integer"},
        {"sum(m, axis=2)", KILN_EAXIS, "axis 2 is out of bounds for array of dimension 2"},
        {"sum(m, axis=(0, 0))", KILN_EAXIS, "duplicate value in 'axis'"},
        {"sum(m, axis=0", KILN_ESYNTAX, "expected ',' or ')'"},
        {"sum(m)[0]", KILN_EINDEX, "too many indices for array: array is 0-dimensional"},
        {"cumsum(x)[40]", KILN_EINDEX, "index 40 is out of bounds for axis 0 with size 30"},
        {"(m + b)[::0]", KILN_EINVAL, "slice step cannot be zero"},
        {"(m + b).foo", KILN_ESYNTAX, "field access of a computed value"},
    };
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        kiln_expr e = PARSE(bad[k].src);
        if (kiln_expr_status(e) != bad[k].st)
            fail_msg("%s: %s, want %s (%s)", bad[k].src, kiln_status_name(kiln_expr_status(e)),
                     kiln_status_name(bad[k].st), kiln_errmsg(ctx));
        if (!strstr(kiln_errmsg(ctx), bad[k].msg))
            fail_msg("%s: message '%s' lacks '%s'", bad[k].src, kiln_errmsg(ctx), bad[k].msg);
    }
#undef SAME
#undef PARSE
    kiln_array_release(x);
    kiln_array_release(m);
    kiln_array_release(b);
    kiln_ctx_free(ctx);
}

/* ---- out of memory ------------------------------------------------------------------- */

/* Failing the Nth allocation anywhere in building and evaluating views of
 * expressions and of a scan reports KILN_ENOMEM (or succeeds), never
 * crashes, and leaks nothing. */
static void test_oom(void **state)
{
    (void)state;
    bool done = false;
    for (long n = 1; !done && n < 2000; n++) {
        tu_alloc t;
        tu_alloc_init(&t, n, false);
        kiln_ctx *ctx = kiln_ctx_new(&t.a);
        if (!ctx)
            continue;
        kiln_ctx_set_mode(ctx, KILN_MODE_INTERP);
        int64_t shape[2] = {3, 8};
        kiln_array *a = NULL;
        kiln_status s = kiln_array_zeros(ctx, KILN_FLOAT64, 2, shape, KILN_ORDER_C, &a);
        if (s == KILN_OK) {
            kiln_expr ea = kiln_input(ctx, a), c = kiln_cumsum(ea, 1);
            kiln_expr e = kiln_add(kiln_multiply(ea, kiln_f64(ctx, 2)),
                                   kiln_expr_slice(c, 2, (kiln_slice[]){KILN_ALL, {E, E, -1}}));
            e = kiln_expr_transpose(kiln_expr_index(kiln_expr_expand_dims(e, 0), 1, 2), NULL);
            kiln_array *r = NULL;
            s = kiln_eval(e, &r);
            if (s == KILN_OK) {
                done = true;
                assert_int_equal(kiln_array_size(r), 8);
            } else if (s != KILN_ENOMEM) {
                fail_msg("allocation %ld: %s: %s", n, kiln_status_name(s), kiln_errmsg(ctx));
            }
            kiln_array_release(r);
        }
        kiln_array_release(a);
        kiln_ctx_free(ctx);
        assert_int_equal(t.live, 0);
    }
    assert_true(done);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pushdown_is_viewed_inputs),
        cmocka_unit_test(test_views_of_scalars),
        cmocka_unit_test(test_values_every_view),
        cmocka_unit_test(test_broadcasting),
        cmocka_unit_test(test_views_of_reductions),
        cmocka_unit_test(test_rolling_window_one_pass),
        cmocka_unit_test(test_create_features_one_eval),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_scopes),
        cmocka_unit_test(test_parser),
        cmocka_unit_test(test_oom),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
