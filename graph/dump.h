/*
 * graph/dump.h — readable views of what the planner made, for the
 * profiling dump (docs/PROFILING.md):
 *
 *   gr_dot_write      the evaluated DAG as Graphviz DOT, each kernel of the
 *                     plan drawn as a cluster          (graph/dot.c)
 *   gr_plan_write     the fusion plan as text, with why each kernel ends
 *                     where it does                    (graph/plan_dump.c)
 *   gr_sig_distance,  how two kernel signatures differ: which part
 *   gr_sig_diff       (structure, rank, dtype, stride class, aliasing)
 *                     and where                        (graph/sig_diff.c)
 *
 * Invariants: these only read (the graph, a plan, signature bytes); they
 * never change what is computed. The writers read graph nodes by the ids a
 * plan keeps, so they run under the graph's lock, like the interpreter
 * fallback. graph/ includes runtime/ only; names carry gr_.
 */
#ifndef KILN_GR_DUMP_H
#define KILN_GR_DUMP_H

#include "graph/plan.h"

#include <stdio.h>

/* Writes the DAG that plan p evaluates as a Graphviz digraph: every node
 * its kernels compute or read (op, dtype, shape; inputs, scalars and
 * reduction attributes labelled), kernel k as the cluster "names[k]"
 * (names may be NULL, or an entry NULL: "kernel k"), kernel `focus` drawn
 * bold (-1: none), materialized values (kernel outputs: user outputs and
 * temporaries) with a double border. KILN_ENOMEM (recorded on p->env) if
 * its node table cannot be allocated; nothing is written then. */
kiln_status gr_dot_write(const gr_plan *p, const gr_graph *g, const char *const *names, int focus,
                         FILE *f);

/* Writes plan p as text: its temporaries, then per kernel its name, why it
 * ends where it does (fused group, reduction boundary, unfused mode,
 * overlap with an input), the loop nest (extents in loop order, each
 * operand's strides and stride classes), inputs, parameters, the body in
 * order, outputs and accumulators. fused: the mode p was planned in.
 * Kernel `focus` is marked (-1: none). */
void gr_plan_write(const gr_plan *p, const gr_graph *g, bool fused, const char *const *names,
                   int focus, FILE *f);

/* Bytes one launch of k (a kernel of p) moves with its current extents:
 * every operand's elements once (a broadcast dimension, class ZERO,
 * counts once; a reduction or scan reads its whole input). */
uint64_t gr_kernel_bytes(const gr_plan *p, const gr_kernel *k);

/* ---- signatures compared (layout: graph/sig.c) --------------------------- */

/* Parts of a signature, as gr_sig_diff names them. */
enum {
    GR_SIGD_STRUCTURE = 1u << 0, /* ops, operand/value counts, wiring */
    GR_SIGD_RANK = 1u << 1,      /* loop-nest rank */
    GR_SIGD_DTYPE = 1u << 2,     /* dtype of an operand, parameter or value */
    GR_SIGD_SCLASS = 1u << 3,    /* stride class of an operand in a loop dim */
    GR_SIGD_NOALIAS = 1u << 4,   /* outputs may overlap inputs */
    GR_SIGD_BAD = 1u << 7        /* a signature that does not decode */
};

/* How far apart two signatures are: 0 if equal; any difference in
 * structure outweighs one of rank, which outweighs any number of dtype
 * differences, which outweigh stride classes. *parts (may be NULL)
 * receives the GR_SIGD_* set that differs. */
uint64_t gr_sig_distance(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen,
                         unsigned *parts);

/* Describes how signature `now` differs from `was`, one difference per
 * line ("  dtype: operand in1 float64 -> float32"), at most max_lines
 * lines then a count of the rest; the first line names the parts
 * ("differs in: dtype, stride class"). Returns the GR_SIGD_* set. */
unsigned gr_sig_diff(const uint8_t *was, size_t wlen, const uint8_t *now, size_t nlen,
                     int max_lines, FILE *f);

/* Writes one signature decoded: rank, operands with dtypes and classes,
 * parameters, the body. */
void gr_sig_print(const uint8_t *sig, size_t len, FILE *f);

#endif /* KILN_GR_DUMP_H */
