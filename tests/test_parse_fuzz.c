/* tests/test_parse_fuzz.c — a deterministic mini-fuzz of the expression
 * parser, so ctest covers it without clang's libFuzzer (tests/fuzz_parse.c
 * is the coverage-guided one). A corpus of valid expressions is mutated at
 * random (fixed seed: byte replacements, inserted tokens, deletions,
 * duplications, splices, truncations), 100000 inputs in all. Every input
 * must give either a valid expression (live dtype, rank 0..8; every 25th is
 * evaluated by the interpreter) or an error handle with a message (with a
 * caret under the position for syntax errors) — never a crash, a leak
 * (ASan) or undefined behaviour (UBSan). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const corpus[] = {
    "x + 2*y",
    "where(x > 0, x, 0.01*x)",
    "-x ** 2 + (y - 1) / 3",
    "sin(x) ** 2 + cos(x) ** 2",
    "arctan2(y, x) * 180 / pi",
    "clip(x, -1.5, 1.5e0)",
    "float32(m) / 2 + f32",
    "m[1:3, ::2] << 1",
    "m[:, None, 0] * x[None, :3]",
    "m.T[::-1] // 3 % 2",
    "x[..., -1] + m[-1, ...]",
    "(m & 0x0f) | (m ^ 0b101) >> 1",
    "~b & (x < y)",
    "rec.t * rec['p'] + rec[1:].t[0]",
    "where(rec.flag, rec.t, nan)",
    "isfinite(x) & ~isnan(y)",
    "maximum(x, y) - minimum(x, y) + fmax(x, inf)",
    "int8(i8 + 1) * True",
    "abs(-x) + absolute(y) + square(x) + sqrt(y)",
    "exp(log1p(x * x)) - expm1(1e-3)",
    "(((x)))",
    "x != y == False",
    "1 + 2 * 3 ** -4",
    "-9223372036854775808 + 0o777",
    "m[0, 1]",
    "bool(x) | logical_not(b)",
    "uint64(m) + 18",
    "rec.T.p",
    "x[1:][::2]",
    "logical_xor(x > 0, y < 0)",
};
#define NCORPUS (sizeof corpus / sizeof corpus[0])

static const char *const tokens[] = {
    "**", "//", "<<", ">>", "<=", ">=", "==", "!=", "=", "!", "[", "]", "(", ")", ",", ":",
    ".", "...", "'", "\"", "x", "y", "m", "rec", "None", "True", "sin(", "where(", "clip(",
    ".T", ".t", "[0]", "[:, None]", "1e", "1e400", "0x", "0xfffffffffffffffff", "1.5", ".",
    "~", "-", "+", "*", "/", "%", "&", "|", "^", "<", ">", " ", "\n", "\t", "\xc3\xa9",
    "\x01", "and", "sum(x, axis=0)", "float32(", "9223372036854775808", "['t']",
};
#define NTOKENS (sizeof tokens / sizeof tokens[0])

static uint64_t rng = 0x2545F4914F6CDD1Dull;
static uint64_t next_rand(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}
static size_t below(size_t n) { return n ? (size_t)(next_rand() % n) : 0; }

#define CAP 512

/* One mutation of s (length *n, capacity CAP). */
static void mutate(char *s, size_t *n)
{
    size_t len = *n, i = below(len + 1);
    switch (below(7)) {
    case 0: /* replace a byte */
        if (len)
            s[below(len)] = (char)(1 + below(255));
        break;
    case 1: { /* insert a token */
        const char *t = tokens[below(NTOKENS)];
        size_t tl = strlen(t);
        if (len + tl < CAP) {
            memmove(s + i + tl, s + i, len - i);
            memcpy(s + i, t, tl);
            len += tl;
        }
        break;
    }
    case 2: { /* delete a range */
        size_t k = below(len - i + 1);
        if (k > 8)
            k = 8;
        memmove(s + i, s + i + k, len - i - k);
        len -= k;
        break;
    }
    case 3: { /* duplicate a range */
        size_t k = below(len - i + 1);
        if (len + k < CAP) {
            memmove(s + i + k, s + i, len - i);
            len += k;
        }
        break;
    }
    case 4: { /* splice: our prefix, another's suffix */
        const char *o = corpus[below(NCORPUS)];
        size_t ol = strlen(o), j = below(ol + 1);
        if (i + ol - j < CAP) {
            memcpy(s + i, o + j, ol - j);
            len = i + ol - j;
        }
        break;
    }
    case 5: /* truncate */
        len = i;
        break;
    default: /* swap two bytes */
        if (len > 1) {
            size_t a = below(len), b = below(len);
            char t = s[a];
            s[a] = s[b];
            s[b] = t;
        }
        break;
    }
    s[len] = '\0';
    *n = len;
}

static void test_fuzz_parse(void **state)
{
    (void)state;
    kiln_ctx *c = kiln_ctx_new(NULL);
    kiln_array *x = tu_arange(c, KILN_FLOAT64, 1, (int64_t[]){4});
    kiln_array *y = tu_arange(c, KILN_FLOAT64, 1, (int64_t[]){4});
    kiln_array *m = tu_arange(c, KILN_INT64, 2, (int64_t[]){3, 4});
    kiln_array *b = tu_arange(c, KILN_BOOL, 1, (int64_t[]){4});
    kiln_array *i8 = tu_arange(c, KILN_INT8, 1, (int64_t[]){4});
    kiln_array *f32 = tu_arange(c, KILN_FLOAT32, 1, (int64_t[]){4});
    kiln_array *rec = tu_arange(c, KILN_UINT8, 2, (int64_t[]){4, 13});
    kiln_field fields[3] = {{"t", 0, KILN_FLOAT64}, {"p", 8, KILN_INT32}, {"flag", 12, KILN_BOOL}};
    kiln_binding bind[7] = {
        {"x", x, NULL, 0},   {"y", y, NULL, 0},     {"m", m, NULL, 0},
        {"b", b, NULL, 0},   {"i8", i8, NULL, 0},   {"f32", f32, NULL, 0},
        {"rec", rec, fields, 3},
    };
    long ok = 0, syntax = 0, other = 0, evaluated = 0;
    char s[CAP + 1];
    for (long it = 0; it < 100000; it++) {
        const char *seed = corpus[below(NCORPUS)];
        size_t n = strlen(seed);
        memcpy(s, seed, n + 1);
        int k = 1 + (int)below(4);
        for (int j = 0; j < k; j++)
            mutate(s, &n);
        assert_int_equal(strlen(s), n); /* no NUL was inserted */
        uint64_t scope = kiln_scope_begin(c);
        kiln_expr e = kiln_parse_bindings(c, s, 7, bind);
        kiln_status st = kiln_expr_status(e);
        if (st == KILN_OK) {
            ok++;
            kiln_dtype t = kiln_expr_dtype(e);
            int r = kiln_expr_rank(e);
            if (t < 0 || t >= KILN_DTYPE_COUNT || r < 0 || r > KILN_MAX_RANK)
                fail_msg("'%s': a valid expression of dtype %d, rank %d", s, (int)t, r);
            if (ok % 25 == 0) {
                kiln_array *out = NULL;
                kiln_status es = kiln_eval_many(c, KILN_MODE_INTERP, 1, &e, &out);
                if (es != KILN_OK)
                    fail_msg("'%s' parsed but does not evaluate: %s", s, kiln_errmsg(c));
                assert_int_equal(kiln_array_rank(out), r);
                kiln_array_release(out);
                evaluated++;
            }
        } else {
            const char *msg = kiln_errmsg(c);
            if (kiln_errcode(c) != st || strlen(msg) == 0 || strlen(msg) >= 1024)
                fail_msg("'%s': status %s, errcode %s, message '%s'", s, kiln_status_name(st),
                         kiln_status_name(kiln_errcode(c)), msg);
            if (st == KILN_ESYNTAX) {
                syntax++;
                if (!strchr(msg, '^'))
                    fail_msg("'%s': a syntax error without a caret: %s", s, msg);
            } else {
                other++;
            }
        }
        assert_int_equal(kiln_scope_end(c, scope), KILN_OK);
        kiln_clear_error(c);
    }
    /* the mutations reach all three outcomes in numbers */
    assert_true(ok > 5000);
    assert_true(syntax > 20000);
    assert_true(other > 500);
    assert_true(evaluated > 200);
    kiln_array *arrs[] = {x, y, m, b, i8, f32, rec};
    for (size_t i = 0; i < sizeof arrs / sizeof arrs[0]; i++)
        kiln_array_release(arrs[i]);
    kiln_ctx_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fuzz_parse),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
