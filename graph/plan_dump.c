/*
 * graph/plan_dump.c — the fusion plan as text (the `plan` dump stage):
 * what each kernel computes, over which loop nest, from what, into what,
 * and why the planner ended it where it did.
 *
 * The "why" is read back from the plan and the graph, following the
 * planner's rules (graph/fuse.c):
 *   - UNFUSED: one kernel per operation, its result in a temporary;
 *   - FUSED: one kernel per group of outputs with one shape, fused down to
 *     the leaves;
 *   - FUSED with reductions or scans ("staged"): every reduction and scan
 *     is its own kernel over its input, with its elementwise producer
 *     fused in, sibling reductions sharing it and an epilogue (a consumer
 *     at the same index); other consumers fuse down to the materialized
 *     results, and every output is materialized;
 *   - an output that overlaps an input other than element for element is
 *     computed into a temporary and copied at the end.
 * Invariants: reads only (call under the graph's lock); the text is for
 * people — nothing parses it back — but its kernel headers start with
 * "kernel N:" so a reader can search for them.
 */
#include "graph/dump.h"

#include <string.h>

static const char *const pd_class[4] = {"zero", "unit", "runit", "other"};

/* The reduction or scan a kernel's body holds, or -1. */
static int pd_boundary_op(const gr_kernel *k)
{
    for (int v = 0; v < k->nvals; v++)
        if (gr_is_reduce(k->vals[v].op) || gr_is_scan(k->vals[v].op))
            return k->vals[v].op;
    return -1;
}

/* Elements of a source array (a user array or a temporary's shape). */
static uint64_t pd_src_size(const gr_plan *p, gr_src s)
{
    if (s.array)
        return (uint64_t)s.array->size;
    if (s.temp < 0)
        return 1;
    uint64_t n = 1;
    for (int d = 0; d < p->temps[s.temp].rank; d++)
        n *= (uint64_t)p->temps[s.temp].shape[d];
    return n;
}

uint64_t gr_kernel_bytes(const gr_plan *p, const gr_kernel *k)
{
    bool whole = pd_boundary_op(k) >= 0; /* a reduction or scan reads all its input */
    uint64_t total = 0;
    for (int o = 0; o < k->nops; o++) {
        uint64_t n = rt_dtypes[k->ops[o].dtype].size;
        if (whole && !k->ops[o].is_out) {
            total += n * pd_src_size(p, k->ops[o].src);
            continue;
        }
        for (int d = 0; d < k->rank; d++)
            if (k->ops[o].sclass[d] != GR_SC_ZERO)
                n *= (uint64_t)k->extent[d];
        total += n;
    }
    return total;
}

static bool pd_staged(const gr_plan *p)
{
    for (int ki = 0; ki < p->nkernels; ki++)
        if (pd_boundary_op(&p->kernels[ki]) >= 0)
            return true;
    return false;
}

static const char *pd_name(const char *const *names, int ki)
{
    return names && names[ki] ? names[ki] : "(unnamed)";
}

/* Kernels that read temporary t (as an operand or a parameter). */
static void pd_readers(const gr_plan *p, int t, const char *const *names, FILE *f)
{
    for (int ki = 0; ki < p->nkernels; ki++) {
        const gr_kernel *k = &p->kernels[ki];
        bool reads = false;
        for (int o = k->nout; o < k->nops; o++)
            reads |= !k->ops[o].src.array && k->ops[o].src.temp == t;
        for (int q = 0; q < k->nparams; q++)
            reads |= !k->params[q].src.array && k->params[q].src.temp == t;
        if (!reads)
            continue;
        int op = pd_boundary_op(k);
        fprintf(f, "      read by kernel %d (%s)%s%s\n", ki, pd_name(names, ki),
                op >= 0 ? ": input of " : "", op >= 0 ? gr_ops[op].name : "");
    }
}

/* A reduction or scan kernel (FUSED): what it fused — its elementwise
 * producer (body values below a reduction or scan), sibling reductions,
 * an epilogue (values above one). */
static void pd_staged_why(const gr_kernel *k, int bop, FILE *f)
{
    bool scan = gr_ops[bop].rule == GR_RULE_SCAN;
    int nred = 0, nprod = 0, nepi = 0;
    uint64_t above[(UINT16_MAX + 1) / 64] = {0}; /* a bit per value: depends on one */
    for (int v = 0; v < k->nvals; v++) {
        const gr_kval *kv = &k->vals[v];
        bool red = gr_is_reduce(kv->op) || gr_is_scan(kv->op), up = red;
        for (int j = 0; j < kv->nin; j++)
            up |= (above[kv->in[j] / 64] >> (kv->in[j] % 64)) & 1;
        above[v / 64] |= (uint64_t)up << (v % 64);
        nred += red;
        if (red || kv->op == GR_OP_INPUT || kv->op == GR_OP_SCALAR)
            continue;
        if (up)
            nepi++;
        else
            nprod++;
    }
    fprintf(f, "    a %s is a kernel boundary: it runs in its own kernel over its input's "
               "loop nest (kept dims, then the %s dims in sequence order)\n",
            scan ? "scan" : "reduction", scan ? "scanned" : "reduced");
    if (nprod)
        fprintf(f, "    its elementwise producer is fused in: %d op%s computed per input "
                   "element, nothing materialized\n", nprod, nprod == 1 ? "" : "s");
    else
        fprintf(f, "    it reads its input directly (no elementwise producer)\n");
    if (nred > 1)
        fprintf(f, "    %d sibling reductions of the same input share its passes\n", nred);
    if (nepi)
        fprintf(f, "    epilogue: %d elementwise op%s reading the result at its own index run "
                   "here, after it\n", nepi, nepi == 1 ? "" : "s");
}

static void pd_why(const gr_plan *p, const gr_graph *g, bool fused, bool staged, int ki,
                   const char *const *names, FILE *f)
{
    const gr_kernel *k = &p->kernels[ki];
    char sh[160];
    fprintf(f, "  why this kernel ends here:\n");
    int bop = pd_boundary_op(k);
    if (!fused) {
        fprintf(f, "    unfused mode: one kernel per operation, as NumPy evaluates; each result "
                   "is materialized\n");
    } else if (bop >= 0) {
        pd_staged_why(k, bop, f);
    } else if (staged) {
        fprintf(f, "    staged plan (the evaluation has a reduction or scan): the elementwise "
                   "nodes down to leaves and materialized values fuse into this kernel\n");
    } else {
        const gr_operand *o0 = &k->ops[0];
        const gr_node *nd = o0->node < gr_count(g) ? gr_node_at(g, o0->node) : NULL;
        fprintf(f, "    fused: every output of shape %s is computed by this one kernel, each "
                   "input element read once, from the leaves (inputs and scalars)\n",
                nd ? rt_fmt_shape(sh, sizeof sh, nd->rank, nd->shape) : "?");
        if (p->nkernels > 1)
            fprintf(f, "    outputs of other shapes are in %d other kernel%s (one kernel per "
                       "output shape; a subexpression they share is computed in each)\n",
                    p->nkernels - 1, p->nkernels == 2 ? "" : "s");
    }
    for (int o = 0; o < k->nout; o++) {
        const gr_operand *op = &k->ops[o];
        if (op->src.array) {
            fprintf(f, "    out%d: an output of the evaluation\n", o);
            continue;
        }
        const gr_temp *t = &p->temps[op->src.temp];
        if (t->copy_to) {
            fprintf(f, "    out%d: the output overlaps an input that is not read element for "
                       "element where it is written: computed into temporary t%d and copied "
                       "to the output at the end\n",
                    o, op->src.temp);
        } else {
            fprintf(f, "    out%d: materialized in temporary t%d\n", o, op->src.temp);
            pd_readers(p, op->src.temp, names, f);
        }
    }
}

static void pd_src(const gr_plan *p, gr_src s, FILE *f)
{
    char sh[160];
    if (s.array)
        fprintf(f, "array %s %s", kiln_dtype_name(s.array->dtype),
                rt_fmt_shape(sh, sizeof sh, s.array->rank, s.array->shape));
    else if (s.temp >= 0)
        fprintf(f, "temp t%d (written by kernel %d)", s.temp, p->temps[s.temp].first_def);
    else
        fprintf(f, "constant");
}

/* The name fn is registered under in g (the kernel's table keeps only the
 * address the JIT calls). */
static const char *pd_udf_name(const gr_graph *g, kiln_udf_fn fn)
{
    for (uint32_t i = 0; i < gr_udf_count(g); i++)
        if (gr_udf_at(g, i)->fn == fn)
            return gr_udf_at(g, i)->name;
    return "(unregistered)";
}

static void pd_kernel(const gr_plan *p, const gr_graph *g, bool fused, bool staged, int ki,
                      const char *const *names, bool focus, FILE *f)
{
    const gr_kernel *k = &p->kernels[ki];
    fprintf(f, "\nkernel %d: %s%s\n", ki, pd_name(names, ki),
            focus ? "   <== the kernel this file is named after" : "");
    pd_why(p, g, fused, staged, ki, names, f);

    fprintf(f, "  loop nest: rank %d, extents", k->rank);
    for (int d = 0; d < k->rank; d++)
        fprintf(f, " %lld", (long long)k->extent[d]);
    fprintf(f, " (outermost first; the outermost loop is the one split across threads)%s\n",
            k->noalias ? ", noalias" : ", outputs may overlap inputs");
    fprintf(f, "  operands (byte stride:class per loop dim, outermost first):\n");
    for (int o = 0; o < k->nops; o++) {
        const gr_operand *op = &k->ops[o];
        char nm[16];
        snprintf(nm, sizeof nm, "%s%d", op->is_out ? "out" : "in", o);
        fprintf(f, "    %-5s %-8s", nm, kiln_dtype_name((kiln_dtype)op->dtype));
        for (int d = 0; d < k->rank; d++)
            fprintf(f, " %lld:%s", (long long)k->strides[o * k->rank + d],
                    pd_class[op->sclass[d] & 3]);
        fprintf(f, "   node n%u, ", op->node);
        pd_src(p, op->src, f);
        fputc('\n', f);
    }
    if (k->nparams)
        fprintf(f, "  parameters (passed at launch, not compiled in):\n");
    for (int q = 0; q < k->nparams; q++) {
        const gr_param *pm = &k->params[q];
        fprintf(f, "    p%d %-8s node n%u, ", q, kiln_dtype_name((kiln_dtype)pm->dtype), pm->node);
        if (pm->src.array || pm->src.temp >= 0) {
            fprintf(f, "one element broadcast, read from ");
            pd_src(p, pm->src, f);
        } else {
            const gr_node *nd = pm->node < gr_count(g) ? gr_node_at(g, pm->node) : NULL;
            fprintf(f, "scalar%s", nd && (nd->nflags & GR_NF_WEAK) ? " (weak)" : "");
        }
        fputc('\n', f);
    }
    fprintf(f, "  body, in order:\n");
    for (int v = 0; v < k->nvals; v++) {
        const gr_kval *kv = &k->vals[v];
        fprintf(f, "    v%d = ", v);
        if (kv->op == GR_OP_INPUT)
            fprintf(f, "load in%d", kv->arg);
        else if (kv->op == GR_OP_SCALAR)
            fprintf(f, "param p%d", kv->arg);
        else if (gr_is_udf(kv->op))
            fprintf(f, "udf %s", pd_udf_name(g, k->udf[kv->arg]));
        else
            fprintf(f, "%s", gr_ops[kv->op].name);
        for (int j = 0; j < kv->nin; j++)
            fprintf(f, " v%d", kv->in[j]);
        fprintf(f, "   : %s\n", kiln_dtype_name((kiln_dtype)kv->dtype));
    }
    for (int o = 0; o < k->nout; o++)
        fprintf(f, "    out%d <- v%d\n", o, k->out_val[o]);
    int bop = pd_boundary_op(k);
    if (bop >= 0) {
        const gr_node *nd = k->nout && k->ops[0].node < gr_count(g) ? gr_node_at(g, k->ops[0].node)
                                                                     : NULL;
        fprintf(f, "  accumulator: %s in %s, in runtime/reduce.h's fixed order (the same bits "
                   "in every mode and at any thread count)",
                gr_ops[bop].name, kiln_dtype_name((kiln_dtype)k->ops[0].dtype));
        if (nd && gr_is_reduce(nd->op)) {
            fprintf(f, "; reduced axes (");
            bool first = true;
            for (int d = 0; d < KILN_MAX_RANK; d++)
                if (nd->a.red.axes & (1u << d)) {
                    fprintf(f, "%s%d", first ? "" : ",", d);
                    first = false;
                }
            fprintf(f, ")%s", nd->a.red.keepdims ? ", keepdims" : "");
        } else if (nd && gr_is_scan(nd->op)) {
            if (nd->a.red.axis < 0)
                fprintf(f, "; over the input flattened in C order");
            else
                fprintf(f, "; along axis %d", (int)nd->a.red.axis);
        }
        fputc('\n', f);
    } else {
        fprintf(f, "  accumulators: none (elementwise)\n");
    }
    uint64_t bytes = gr_kernel_bytes(p, k);
    fprintf(f, "  bytes moved per launch: %llu (each operand element once)\n",
            (unsigned long long)bytes);
}

void gr_plan_write(const gr_plan *p, const gr_graph *g, bool fused, const char *const *names,
                   int focus, FILE *f)
{
    bool staged = fused && pd_staged(p);
    fprintf(f, "plan: %s mode%s, %d kernel%s, %d temporar%s\n", fused ? "fused" : "unfused",
            staged ? " (staged at reductions/scans)" : "", p->nkernels,
            p->nkernels == 1 ? "" : "s", p->ntemps, p->ntemps == 1 ? "y" : "ies");
    char sh[160];
    for (int t = 0; t < p->ntemps; t++) {
        const gr_temp *tm = &p->temps[t];
        fprintf(f, "  t%d: %s %s, written by kernel %d", t, kiln_dtype_name(tm->dtype),
                rt_fmt_shape(sh, sizeof sh, tm->rank, tm->shape), tm->first_def);
        if (tm->copy_to)
            fprintf(f, ", copied to an output at the end\n");
        else
            fprintf(f, ", last read by kernel %d\n", tm->last_use);
    }
    for (int ki = 0; ki < p->nkernels; ki++)
        pd_kernel(p, g, fused, staged, ki, names, ki == focus, f);
}
