/*
 * graph/udf.c — user-defined scalar functions in the graph: registration
 * (names checked, one table entry per function, kept for the graph's
 * life) and construction of UDF nodes.
 *
 * Construction of f(a, b, ...), in order (as gr_op_make's, graph/build.c):
 *   sticky errors -> argument count -> NumPy's broadcast of the inputs'
 *   shapes -> each input's dtype checked against the declared argument
 *   dtype by NumPy's casting='same_kind' rule (what a ufunc with one fixed
 *   loop accepts) -> inputs converted (gr_convert: weak scalars become
 *   strong SCALARs, strong inputs get explicit CAST nodes) -> gr_intern.
 * No folding: a UDF node is never evaluated at build time, even over
 * constants (the function's purity is the caller's promise, and calling
 * user code from a constructor would surprise). The CSE key is the
 * registration index and the inputs.
 *
 * same_kind, over the kinds bool < unsigned < signed < float: a dtype
 * converts to any dtype of its own kind or a later one (uint8 -> int8 and
 * int64 -> float32 are allowed, as NumPy allows them under same_kind);
 * float -> integer, integer -> bool and signed -> unsigned are not. A weak
 * (Python-literal) scalar follows NEP 50: a bool goes anywhere, an int to
 * any integer dtype it fits (KILN_EOVERFLOW otherwise, NumPy's message)
 * or to a float, a float only to a float.
 */
#include "graph/build.h"

#include <stdio.h>
#include <string.h>

/* NumPy's kind order for same_kind: b < u < i < f. */
static int gu_kind(kiln_dtype t)
{
    switch ((rt_kind)rt_dtypes[t].kind) {
    case RT_KIND_BOOL: return 0;
    case RT_KIND_UINT: return 1;
    case RT_KIND_INT: return 2;
    case RT_KIND_FLOAT: return 3;
    }
    return 0;
}

/* Does the Python int v fit integer dtype t (it survives a round trip)? */
static bool gu_fits(int64_t v, kiln_dtype t)
{
    if (rt_dtypes[t].kind == RT_KIND_UINT && v < 0)
        return false;
    rt_scalar x;
    memset(&x, 0, sizeof x);
    x.i = v;
    return rt_convert(t, KILN_INT64, rt_convert(KILN_INT64, t, x)).i == v;
}

/* Checks input x (argument k of u) against its declared dtype. GR_NONE or
 * an ERROR node. */
static gr_id gu_check_arg(gr_graph *g, const rt_udf *u, int k, gr_id x)
{
    const gr_node *n = gr_node_at(g, x);
    kiln_dtype from = (kiln_dtype)n->dtype, to = u->args[k];
    if (gr_is_weak(n)) {
        int kind = gu_kind(from) == 3 ? 3 : gu_kind(from) == 0 ? 0 : 2;
        if (kind == 2 && rt_is_int(to) && !gu_fits(n->a.scalar.i, to))
            return gr_error(g, KILN_EOVERFLOW,
                            "Python integer %lld out of bounds for %s (argument %d of %s)",
                            (long long)n->a.scalar.i, rt_dtypes[to].name, k + 1, u->name);
        if (kind == 0 || (kind == 2 && to != KILN_BOOL) || (kind == 3 && rt_is_float(to)))
            return GR_NONE;
        return gr_error(g, KILN_EDTYPE,
                        "%s: argument %d is a Python %s, which cannot be cast to the declared "
                        "%s under NumPy's same_kind rule (write %s literal or cast it)",
                        u->name, k + 1, kind == 3 ? "float" : "int", rt_dtypes[to].name,
                        rt_is_float(to) ? "a float" : rt_is_int(to) ? "an integer" : "a bool");
    }
    if (from == to || gu_kind(from) <= gu_kind(to))
        return GR_NONE;
    return gr_error(g, KILN_EDTYPE,
                    "%s: argument %d has dtype %s, which cannot be cast to the declared %s "
                    "under NumPy's same_kind rule (cast it explicitly, e.g. %s(x))",
                    u->name, k + 1, rt_dtypes[from].name, rt_dtypes[to].name,
                    rt_dtypes[to].name);
}

gr_id gr_udf_make(gr_graph *g, uint32_t fn, int nin, const gr_id *in)
{
    if (fn >= gr_udf_count(g))
        return gr_error(g, KILN_EINTERNAL, "udf: no registration %u", (unsigned)fn);
    const rt_udf *u = gr_udf_at(g, fn); /* its own allocation: stable as nodes are made */
    if (nin != u->nargs)
        return gr_error(g, KILN_EINVAL, "%s expects %d argument%s, got %d", u->name, u->nargs,
                        u->nargs == 1 ? "" : "s", nin);
    for (int i = 0; i < nin; i++) {
        if (in[i] >= gr_count(g))
            return gr_error(g, KILN_EINVAL, "%s: argument %d is not a live node", u->name, i + 1);
        if (gr_node_at(g, in[i])->op == GR_OP_ERROR)
            return in[i];
    }
    gr_node n;
    memset(&n, 0, sizeof n);
    int rank = 0;
    gr_id err = gr_broadcast(g, nin, in, &rank, n.shape);
    if (err != GR_NONE)
        return err;
    for (int i = 0; i < nin; i++)
        if ((err = gu_check_arg(g, u, i, in[i])) != GR_NONE)
            return err;
    n.op = GR_OP_UDF;
    n.dtype = (uint8_t)u->ret;
    n.rank = (uint8_t)rank;
    gr_no_inputs(&n);
    for (int i = 0; i < nin; i++) {
        gr_id c = gr_convert(g, in[i], u->args[i]);
        if (gr_node_at(g, c)->op == GR_OP_ERROR)
            return c;
        n.in[i] = c;
    }
    n.a.udf.fn = fn;
    n.a.udf.nargs = (uint32_t)nin;
    return gr_intern(g, &n);
}

int gr_udf_find(const gr_graph *g, const char *name, size_t len)
{
    for (uint32_t i = 0; i < gr_udf_count(g); i++) {
        const char *s = gr_udf_at(g, i)->name;
        if (strlen(s) == len && memcmp(s, name, len) == 0)
            return (int)i;
    }
    return -1;
}

/* Why name cannot name a function, or NULL. */
static const char *gu_bad_name(const char *name)
{
    size_t len = strlen(name);
    if (len == 0)
        return "an empty name";
    if (len >= RT_UDF_NAME_MAX)
        return "longer than 63 bytes";
    for (size_t i = 0; i < len; i++) {
        char c = name[i];
        bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
        if (!alpha && !(i > 0 && c >= '0' && c <= '9'))
            return "not an identifier (letters, digits and '_', not starting with a digit)";
    }
    if (gr_op_lookup(name) >= 0 || strcmp(name, "clip") == 0)
        return "the name of a built-in op";
    if (kiln_dtype_from_name(name) >= 0)
        return "a dtype name (a cast)";
    if (!strcmp(name, "True") || !strcmp(name, "False") || !strcmp(name, "None"))
        return "a reserved word";
    return NULL;
}

kiln_status gr_udf_register(gr_graph *g, const char *name, kiln_udf_fn fn, kiln_dtype ret,
                            int nargs, const kiln_dtype *args)
{
    rt_env *env = gr_env(g);
    if (!name)
        return rt_err(env, KILN_ENULL, "udf_register: NULL name");
    const char *why = gu_bad_name(name);
    if (why)
        return rt_err(env, KILN_EINVAL, "udf_register: '%.64s' cannot name a function: %s",
                      name, why);
    if (!fn)
        return rt_err(env, KILN_ENULL, "udf_register: '%s': NULL function pointer", name);
    if (nargs < 1 || nargs > KILN_UDF_MAX_ARGS)
        return rt_err(env, KILN_EINVAL,
                      "udf_register: '%s': %d arguments (a function takes 1 to %d)", name, nargs,
                      KILN_UDF_MAX_ARGS);
    if (!args)
        return rt_err(env, KILN_ENULL, "udf_register: '%s': NULL argument dtype array", name);
    if (!rt_dtype_valid((int)ret))
        return rt_err(env, KILN_EDTYPE, "udf_register: '%s': invalid return dtype %d", name,
                      (int)ret);
    for (int k = 0; k < nargs; k++)
        if (!rt_dtype_valid((int)args[k]))
            return rt_err(env, KILN_EDTYPE, "udf_register: '%s': invalid dtype %d for argument %d",
                          name, (int)args[k], k + 1);
    if (gr_udf_find(g, name, strlen(name)) >= 0)
        return rt_err(env, KILN_EINVAL, "udf_register: '%s' is already registered on this context",
                      name);
    rt_udf *u = NULL;
    kiln_status s = rt_udf_new(env, name, fn, ret, nargs, args, &u);
    if (s != KILN_OK)
        return s;
    if (!gr_udf_add(g, u)) {
        rt_udf_free(env, u);
        return rt_err(env, KILN_ENOMEM, "out of memory registering function '%s'", name);
    }
    return KILN_OK;
}
