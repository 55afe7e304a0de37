/*
 * tests/test_opsdoc.c — docs/OPS.md is generated from the op table and
 * must match it: a golden-file test, so the documented dtype rules, flags
 * and ulp bounds can never drift from graph/ops.def.
 * KILN_UPDATE_GOLDEN=1 rewrites the file instead of failing.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "testutil.h"
#include "graph/graph.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *rule_text[] = {
    [GR_RULE_LEAF] = "leaf",
    [GR_RULE_SAME] = "T -> T (inputs promoted to T)",
    [GR_RULE_FLOAT] = "T -> float (ints/bool: <=16-bit -> float32, wider -> float64)",
    [GR_RULE_CMP] = "T -> bool (inputs promoted to T)",
    [GR_RULE_PRED] = "T -> bool",
    [GR_RULE_LOGIC] = "bool -> bool (inputs tested != 0)",
    [GR_RULE_BITS] = "bool/int T -> T",
    [GR_RULE_SHIFT] = "int T -> T",
    [GR_RULE_WHERE] = "(bool, T, T) -> T",
    [GR_RULE_CAST] = "T -> target dtype",
    [GR_RULE_REDUCE] = "reduction",
    [GR_RULE_SCAN] = "scan",
    [GR_RULE_VIEW] = "view: T -> T, the input read through an index map (no arithmetic)",
    [GR_RULE_UDF] = "user-defined: inputs cast to the registered argument dtypes (same_kind); "
                    "result the registered dtype",
};
_Static_assert(sizeof rule_text / sizeof rule_text[0] == GR_RULE_UDF + 1, "a text per rule");

/* A reduction's or scan's dtype rule, from its flags. */
static const char *red_dtype_text(unsigned flags)
{
    if (flags & GR_F_ACC)
        return "bool/signed T -> int64, unsigned -> uint64, float T -> T";
    if (flags & GR_F_DIV)
        return "bool/int T -> float64, float T -> T";
    if (flags & GR_F_INDEX)
        return "T -> int64";
    if (flags & GR_F_TRUTH)
        return "T -> bool";
    return "T -> T";
}

static size_t render(char *buf, size_t cap)
{
    size_t n = 0;
#define PUT(...) n += (size_t)snprintf(buf + n, n < cap ? cap - n : 0, __VA_ARGS__)
    PUT("# kiln ops\n\n"
        "Generated from `graph/ops.def` (tests/test_opsdoc.c checks it; run that test\n"
        "with `KILN_UPDATE_GOLDEN=1` after changing the table).\n\n"
        "- *exact*: exactly rounded or exact; bit-identical in every mode.\n"
        "- *ulp*: bound on the JIT's error against libm, float64 / float32\n"
        "  (the interpreter calls libm itself).\n"
        "- *reproducible*: not exactly rounded, but bit-identical in every mode and\n"
        "  at any thread count: the order of the arithmetic is fixed\n"
        "  (`runtime/reduce.h`).\n"
        "- reductions and scans: `graph/reduce.c` has their axis and shape rules.\n\n"
        "| op | arity | dtype rule | properties | ulp f64 / f32 |\n"
        "|---|---|---|---|---|\n");
    for (int op = 0; op < GR_OP_COUNT; op++) {
        const gr_op_info *o = &gr_ops[op];
        if (o->rule == GR_RULE_LEAF)
            continue;
        char props[96] = "";
        if (o->flags & GR_F_EXACT)
            strcat(props, "exact");
        if (o->flags & GR_F_MATH)
            strcat(props, props[0] ? ", libm" : "libm");
        if (o->flags & GR_F_COMM)
            strcat(props, props[0] ? ", commutative" : "commutative");
        if ((o->flags & GR_F_DIV) && o->rule != GR_RULE_REDUCE) /* in its rule text */
            strcat(props, props[0] ? ", ints -> float64" : "ints -> float64");
        if (o->flags & GR_F_NOBOOL)
            strcat(props, props[0] ? ", no bool" : "no bool");
        if (o->flags & GR_F_REPRO)
            strcat(props, props[0] ? ", reproducible" : "reproducible");
        char rule[128];
        snprintf(rule, sizeof rule, "%s", rule_text[o->rule]);
        if (o->rule == GR_RULE_REDUCE || o->rule == GR_RULE_SCAN)
            snprintf(rule, sizeof rule, "%s: %s", rule_text[o->rule], red_dtype_text(o->flags));
        if (o->rule == GR_RULE_UDF)
            strcat(props, "the function's own bits in every mode; never folded");
        char ulp[32] = "-";
        if (!(o->flags & (GR_F_EXACT | GR_F_REPRO)) && o->rule != GR_RULE_UDF)
            snprintf(ulp, sizeof ulp, "%d / %d", o->ulp_f64, o->ulp_f32);
        char arity[16];
        snprintf(arity, sizeof arity, o->rule == GR_RULE_UDF ? "1..%d" : "%d", o->arity);
        PUT("| `%s` | %s | %s | %s | %s |\n", o->name, arity, rule, props, ulp);
    }
#undef PUT
    return n;
}

static void test_ops_md_matches_table(void **state)
{
    (void)state;
    static char want[32768];
    size_t n = render(want, sizeof want);
    assert_true(n < sizeof want);
    const char *path = KILN_SOURCE_DIR "/docs/OPS.md";
    if (getenv("KILN_UPDATE_GOLDEN")) {
        FILE *f = fopen(path, "w");
        assert_non_null(f);
        assert_int_equal(fwrite(want, 1, n, f), n);
        assert_int_equal(fclose(f), 0);
        return;
    }
    static char got[32768];
    FILE *f = fopen(path, "r");
    if (!f)
        fail_msg("%s missing; run with KILN_UPDATE_GOLDEN=1", path);
    size_t m = fread(got, 1, sizeof got - 1, f);
    fclose(f);
    got[m] = '\0';
    if (m != n || memcmp(got, want, n) != 0)
        fail_msg("docs/OPS.md is out of date with graph/ops.def; expected:\n%s", want);
}

static void test_every_row_has_a_name_and_lookup(void **state)
{
    (void)state;
    for (int op = 0; op < GR_OP_COUNT; op++) {
        assert_non_null(gr_ops[op].name);
        if (gr_ops[op].rule != GR_RULE_LEAF)
            assert_int_equal(gr_op_lookup(gr_ops[op].name), op);
        /* approximate ops carry a bound, exact ones none */
        if (gr_ops[op].flags & GR_F_MATH)
            assert_true(gr_ops[op].ulp_f64 > 0 && gr_ops[op].ulp_f32 > 0);
        if (gr_ops[op].flags & GR_F_EXACT)
            assert_true(gr_ops[op].ulp_f64 == 0 && gr_ops[op].ulp_f32 == 0);
    }
    assert_int_equal(gr_op_lookup("no_such_op"), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ops_md_matches_table),
        cmocka_unit_test(test_every_row_has_a_name_and_lookup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
