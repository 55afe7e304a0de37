/*
 * graph/ops.c — the op table, generated from graph/ops.def, and lookup by
 * NumPy name.
 *
 * Invariants pinned below at compile time (a row of ops.def that breaks one
 * does not compile):
 *   - the leaves come first (INPUT, SCALAR, ERROR are ids 0..2) and are the
 *     only ops of rule LEAF and arity 0; every other op has 1..GR_MAX_INPUTS
 *     inputs;
 *   - an op, a dtype and a rank fit the gr_node fields that hold them;
 *   - a commutative op is binary (CSE orders exactly two inputs);
 *   - an exactly rounded op carries a ulp bound of 0;
 *   - a reduction or scan has one input, is exact or reproducible (ulp
 *     bound 0), and at most one of the flags that change its dtype; those
 *     flags (ACC, INDEX, TRUTH) appear on reductions and scans only;
 *   - a view (rule VIEW) has one input and is exact, with no other flag;
 *   - a user-defined function (rule UDF) has arity GR_MAX_INPUTS (the most
 *     a node holds; each node's own count is gr_nin) and no flag.
 */
#include "graph/graph.h"

#include <string.h>

const gr_op_info gr_ops[GR_OP_COUNT] = {
#define OP(e, name, arity, rule, flags, u64, u32) \
    [GR_OP_##e] = {name, arity, GR_RULE_##rule, flags, u64, u32},
#include "graph/ops.def"
#undef OP
};

#define OP(e, name, arity, rule, flags, u64, u32)                                           \
    _Static_assert((arity) <= GR_MAX_INPUTS, #e ": arity exceeds GR_MAX_INPUTS");           \
    _Static_assert(((arity) == 0) == (GR_RULE_##rule == GR_RULE_LEAF),                      \
                   #e ": exactly the leaves have rule LEAF and no inputs");                  \
    _Static_assert(!((flags) & GR_F_COMM) || (arity) == 2, #e ": commutative ops are binary"); \
    _Static_assert(!((flags) & GR_F_EXACT) || ((u64) == 0 && (u32) == 0),                   \
                   #e ": an exact op has a ulp bound of 0");                                 \
    _Static_assert((flags) <= UINT16_MAX && (u64) <= UINT8_MAX && (u32) <= UINT8_MAX,       \
                   #e ": flags and ulp bounds fit gr_op_info");                             \
    _Static_assert((GR_RULE_##rule != GR_RULE_REDUCE && GR_RULE_##rule != GR_RULE_SCAN) ||  \
                       ((arity) == 1 && ((flags) & (GR_F_EXACT | GR_F_REPRO)) &&              \
                        (u64) == 0 && (u32) == 0),                                          \
                   #e ": a reduction or scan is unary, exact or reproducible");            \
    _Static_assert(!((flags) & (GR_F_ACC | GR_F_INDEX | GR_F_TRUTH)) ||                      \
                       GR_RULE_##rule == GR_RULE_REDUCE || GR_RULE_##rule == GR_RULE_SCAN,   \
                   #e ": ACC, INDEX and TRUTH are reduction/scan flags");                  \
    _Static_assert(!!((flags) & GR_F_ACC) + !!((flags) & GR_F_INDEX) +                       \
                           !!((flags) & GR_F_TRUTH) + !!((flags) & GR_F_DIV) <= 1,           \
                   #e ": at most one dtype flag");                                           \
    _Static_assert(GR_RULE_##rule != GR_RULE_VIEW || ((arity) == 1 && (flags) == GR_F_EXACT), \
                   #e ": a view is unary and exact (a copy), with no other flag");      \
    _Static_assert(GR_RULE_##rule != GR_RULE_UDF || ((arity) == GR_MAX_INPUTS && (flags) == 0 && \
                                                      (u64) == 0 && (u32) == 0),            \
                   #e ": a UDF's arity is the most inputs; no flag or bound (the function's own)");
#include "graph/ops.def"
#undef OP

_Static_assert(GR_OP_INPUT == 0 && GR_OP_SCALAR == 1 && GR_OP_ERROR == 2,
               "leaves come first: gr_op_make rejects op < GR_OP_ERROR + 1");
_Static_assert(GR_OP_COUNT <= UINT16_MAX, "gr_node.op is 16 bits");
_Static_assert(KILN_DTYPE_COUNT <= UINT8_MAX, "gr_node.dtype is 8 bits");
_Static_assert(KILN_MAX_RANK <= UINT8_MAX, "gr_node.rank is 8 bits");

/* Names NumPy accepts besides the canonical ones (np.abs, np.mod, ...). */
static const struct {
    const char *alias;
    gr_op op;
} gr_aliases[] = {
    {"true_divide", GR_OP_DIVIDE},     {"abs", GR_OP_ABSOLUTE},
    {"mod", GR_OP_REMAINDER},          {"bitwise_not", GR_OP_BITWISE_NOT},
    {"bitwise_invert", GR_OP_BITWISE_NOT},
};

int gr_op_lookup(const char *name)
{
    if (!name)
        return -1;
    for (int op = 0; op < GR_OP_COUNT; op++)
        if (strcmp(gr_ops[op].name, name) == 0)
            return op;
    for (size_t i = 0; i < sizeof gr_aliases / sizeof gr_aliases[0]; i++)
        if (strcmp(gr_aliases[i].alias, name) == 0)
            return (int)gr_aliases[i].op;
    return -1;
}
