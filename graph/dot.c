/*
 * graph/dot.c — the DAG an evaluation ran, as Graphviz DOT (the `graph`
 * dump stage): `dot -Tsvg k0000_....dot > g.svg` draws it.
 *
 *   - every node a kernel of the plan computes sits in that kernel's
 *     cluster (labelled with the kernel's name); a node several kernels
 *     compute (a subexpression shared by outputs of different shapes) is
 *     drawn in the first and its label says which others recompute it;
 *   - leaves (input arrays, scalars) sit outside every cluster;
 *   - a materialized value — a kernel's output, written to a user output
 *     or to a temporary another kernel reads — has a double border and
 *     says where it goes;
 *   - an edge runs from an operand to its consumer, numbered by argument
 *     position when the op is not commutative.
 * Which kernel computes which node follows from the plan alone: kernel k
 * computes the nodes reachable from its outputs without passing through
 * its input operands or parameters (a leaf, or a value another kernel
 * materialized) — the same cut the interpreter fallback uses.
 *
 * Invariants: reads the graph and the plan only (call under the graph's
 * lock); every id, label and cluster is written escaped, so the output is
 * valid DOT whatever the names hold.
 */
#include "graph/dump.h"

#include <stdlib.h>
#include <string.h>

/* DOT string contents: quotes and backslashes escaped, newlines as \n. */
static void dt_str(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"' || *s == '\\')
            fputc('\\', f);
        if (*s == '\n') {
            fputs("\\n", f);
            continue;
        }
        fputc(*s, f);
    }
    fputc('"', f);
}

/* The shortest %g form of x that reads back exactly. */
static void dt_double(double x, char *buf, size_t cap)
{
    for (int p = 1; p <= 17; p++) {
        snprintf(buf, cap, "%.*g", p, x);
        if (strtod(buf, NULL) == x)
            return;
    }
}

static void dt_scalar(kiln_dtype t, rt_scalar v, char *buf, size_t cap)
{
    switch (rt_dtypes[t].kind) {
    case RT_KIND_BOOL: snprintf(buf, cap, "%s", v.b ? "True" : "False"); break;
    case RT_KIND_INT: snprintf(buf, cap, "%lld", (long long)v.i); break;
    case RT_KIND_UINT: snprintf(buf, cap, "%llu", (unsigned long long)v.u); break;
    default: dt_double(v.f, buf, cap); break;
    }
}

/* C-contiguous (extent-1 dims' strides do not matter), by runtime/ alone:
 * graph/ does not call the public array API. */
static bool dt_c_contiguous(const kiln_array *a)
{
    int64_t st[KILN_MAX_RANK];
    rt_contiguous_strides(a->dtype, a->rank, a->shape, KILN_ORDER_C, st);
    for (int d = 0; d < a->rank; d++)
        if (a->shape[d] > 1 && a->strides[d] != st[d])
            return false;
    return true;
}

/* "axes (0,2) keepdims" / "axis 1" / "flattened" / "ddof 1". */
static size_t dt_red_attrs(const gr_node *nd, char *buf, size_t cap)
{
    size_t len = 0;
    buf[0] = '\0';
    if (gr_is_reduce(nd->op)) {
        len += (size_t)snprintf(buf, cap, "axes (");
        bool first = true;
        for (int d = 0; d < KILN_MAX_RANK && len < cap; d++)
            if (nd->a.red.axes & (1u << d)) {
                len += (size_t)snprintf(buf + len, cap - len, "%s%d", first ? "" : ",", d);
                first = false;
            }
        if (len < cap)
            len += (size_t)snprintf(buf + len, cap - len, ")%s", nd->a.red.keepdims ? " keepdims" : "");
        if (len < cap && (nd->op == GR_OP_VAR || nd->op == GR_OP_STD))
            len += (size_t)snprintf(buf + len, cap - len, " ddof %d", (int)nd->a.red.ddof);
    } else if (gr_is_scan(nd->op)) {
        if (nd->a.red.axis < 0)
            len += (size_t)snprintf(buf, cap, "flattened");
        else
            len += (size_t)snprintf(buf, cap, "axis %d", (int)nd->a.red.axis);
    }
    return len;
}

/* Where kernel output operand o of k goes: "output" or "temp t3". */
static void dt_dest(const gr_plan *p, const gr_operand *op, char *buf, size_t cap)
{
    if (op->src.array)
        snprintf(buf, cap, "-> output");
    else if (op->src.temp >= 0 && p->temps[op->src.temp].copy_to)
        snprintf(buf, cap, "-> temp t%d, copied to its output", op->src.temp);
    else
        snprintf(buf, cap, "-> temp t%d", op->src.temp);
}

typedef struct dt_ctx {
    const gr_plan *p;
    const gr_graph *g;
    FILE *f;
    int32_t *owner;  /* [count]: kernel computing the node, -1 leaf/read only, -2 unseen */
    int32_t *seen;   /* [count]: last kernel (+1) whose walk met it */
    int32_t *ncomp;  /* [count]: kernels that compute it */
    uint32_t *stack; /* [count] */
    uint32_t count;
} dt_ctx;

static bool dt_reads(const gr_kernel *k, gr_id id)
{
    for (int o = k->nout; o < k->nops; o++)
        if (k->ops[o].node == id)
            return true;
    for (int q = 0; q < k->nparams; q++)
        if (k->params[q].node == id)
            return true;
    return false;
}

static bool dt_writes(const gr_kernel *k, gr_id id)
{
    for (int o = 0; o < k->nout; o++)
        if (k->ops[o].node == id)
            return true;
    return false;
}

/* Kernel ki's walk: claims the nodes it computes, marks what it reads. */
static void dt_walk(dt_ctx *c, int ki)
{
    const gr_kernel *k = &c->p->kernels[ki];
    uint32_t sp = 0;
    for (int o = 0; o < k->nout; o++) {
        gr_id id = k->ops[o].node;
        if (id < c->count && c->seen[id] != ki + 1) {
            c->seen[id] = ki + 1;
            c->stack[sp++] = id;
        }
    }
    while (sp) {
        gr_id id = c->stack[--sp];
        const gr_node *nd = gr_node_at(c->g, id);
        int ar = gr_nin(nd);
        if (ar == 0 || (dt_reads(k, id) && !dt_writes(k, id))) {
            if (c->owner[id] == -2)
                c->owner[id] = -1; /* read only, so far */
            continue;
        }
        if (c->owner[id] < 0)
            c->owner[id] = ki;
        c->ncomp[id]++;
        for (int j = 0; j < ar && j < GR_MAX_INPUTS; j++) {
            gr_id in = nd->in[j];
            if (in < c->count && c->seen[in] != ki + 1) {
                c->seen[in] = ki + 1;
                c->stack[sp++] = in;
            }
        }
    }
}

static void dt_node(dt_ctx *c, gr_id id, const char *indent)
{
    const gr_node *nd = gr_node_at(c->g, id);
    char label[512], sh[160], extra[160];
    size_t len = 0;
    rt_fmt_shape(sh, sizeof sh, nd->rank, nd->shape);
    const char *dn = kiln_dtype_name((kiln_dtype)nd->dtype);
    const char *attrs = "shape=box, style=rounded";
    switch (nd->op) {
    case GR_OP_INPUT: {
        const kiln_array *a = nd->a.array;
        len = (size_t)snprintf(label, sizeof label, "input n%u\n%s %s", id, dn, sh);
        if (a && !dt_c_contiguous(a))
            len += (size_t)snprintf(label + len, sizeof label - len, "\nstrides %s",
                                    rt_fmt_shape(extra, sizeof extra, a->rank, a->strides));
        attrs = "shape=box, style=filled, fillcolor=\"#e8e8e8\"";
        break;
    }
    case GR_OP_SCALAR:
        dt_scalar((kiln_dtype)nd->dtype, nd->a.scalar, extra, sizeof extra);
        len = (size_t)snprintf(label, sizeof label, "%s\n%s%s", extra, dn,
                               nd->nflags & GR_NF_WEAK ? " (weak)" : "");
        attrs = "shape=ellipse, fontsize=9";
        break;
    default:
        len = (size_t)snprintf(label, sizeof label, "%s\n%s %s",
                               gr_is_udf(nd->op) ? gr_udf_of(c->g, id)->name : gr_ops[nd->op].name,
                               dn, sh);
        if (dt_red_attrs(nd, extra, sizeof extra) && len < sizeof label)
            len += (size_t)snprintf(label + len, sizeof label - len, "\n%s", extra);
        if (gr_is_reduce(nd->op) || gr_is_scan(nd->op))
            attrs = "shape=box, style=\"rounded,filled\", fillcolor=\"#fff2cc\"";
        break;
    }
    /* materialized: a kernel writes it; recomputed: several kernels do */
    bool mat = false;
    for (int ki = 0; ki < c->p->nkernels && len < sizeof label; ki++) {
        const gr_kernel *k = &c->p->kernels[ki];
        for (int o = 0; o < k->nout && len < sizeof label; o++)
            if (k->ops[o].node == id) {
                dt_dest(c->p, &k->ops[o], extra, sizeof extra);
                len += (size_t)snprintf(label + len, sizeof label - len, "\n%s", extra);
                mat = true;
            }
    }
    if (c->ncomp[id] > 1 && len < sizeof label)
        len += (size_t)snprintf(label + len, sizeof label - len, "\ncomputed by %d kernels",
                                (int)c->ncomp[id]);
    fprintf(c->f, "%sn%u [%s%s, label=", indent, id, attrs, mat ? ", peripheries=2" : "");
    dt_str(c->f, label);
    fputs("];\n", c->f);
}

kiln_status gr_dot_write(const gr_plan *p, const gr_graph *g, const char *const *names, int focus,
                         FILE *f)
{
    dt_ctx c = {p, g, f, NULL, NULL, NULL, NULL, gr_count(g)};
    size_t n = c.count ? c.count : 1;
    /* one block: owner, seen, ncomp, stack */
    int32_t *mem = rt_malloc(p->env, 4 * n * sizeof *mem);
    if (!mem)
        return rt_err(p->env, KILN_ENOMEM, "out of memory writing a DOT dump");
    c.owner = mem;
    c.seen = mem + n;
    c.ncomp = mem + 2 * n;
    c.stack = (uint32_t *)(mem + 3 * n);
    for (uint32_t i = 0; i < c.count; i++) {
        c.owner[i] = -2;
        c.seen[i] = 0;
        c.ncomp[i] = 0;
    }
    for (int ki = 0; ki < p->nkernels; ki++)
        dt_walk(&c, ki);

    fprintf(f, "digraph kiln {\n");
    fprintf(f, "  graph [fontname=\"Helvetica\", fontsize=11, labeljust=l];\n");
    fprintf(f, "  node [fontname=\"Helvetica\", fontsize=10];\n");
    fprintf(f, "  edge [fontname=\"Helvetica\", fontsize=8];\n");
    for (uint32_t id = 0; id < c.count; id++)
        if (c.owner[id] == -1)
            dt_node(&c, id, "  ");
    for (int ki = 0; ki < p->nkernels; ki++) {
        const gr_kernel *k = &p->kernels[ki];
        char label[256];
        if (names && names[ki])
            snprintf(label, sizeof label, "kernel %d: %s", ki, names[ki]);
        else
            snprintf(label, sizeof label, "kernel %d", ki);
        fprintf(f, "  subgraph cluster_%d {\n    label=", ki);
        dt_str(f, label);
        fprintf(f, ";\n    graph [%s];\n", ki == focus ? "penwidth=3, color=\"#c00000\""
                                                       : "style=dashed, color=\"#808080\"");
        bool any = false;
        for (uint32_t id = 0; id < c.count; id++)
            if (c.owner[id] == ki) {
                dt_node(&c, id, "    ");
                any = true;
            }
        if (!any) /* a copy of a leaf (an output that is an input) */
            fprintf(f, "    k%d_copy [shape=box, style=rounded, label=\"copy\"];\n", ki);
        fprintf(f, "  }\n");
        if (!any)
            for (int o = 0; o < k->nout; o++)
                if (k->ops[o].node < c.count)
                    fprintf(f, "  n%u -> k%d_copy;\n", k->ops[o].node, ki);
    }
    for (uint32_t id = 0; id < c.count; id++) {
        if (c.owner[id] < 0)
            continue;
        const gr_node *nd = gr_node_at(g, id);
        int ar = gr_nin(nd);
        bool numbered = ar > 1 && !(gr_ops[nd->op].flags & GR_F_COMM);
        for (int j = 0; j < ar && j < GR_MAX_INPUTS; j++) {
            if (nd->in[j] >= c.count)
                continue;
            fprintf(f, "  n%u -> n%u", nd->in[j], id);
            if (numbered)
                fprintf(f, " [label=\"%d\"]", j);
            fprintf(f, ";\n");
        }
    }
    fprintf(f, "}\n");
    rt_free(p->env, mem, 4 * n * sizeof *mem);
    return KILN_OK;
}
