/*
 * frontend/parse.c — expression strings: a numexpr-style language parsed
 * by recursive descent into the DAG the public constructors build.
 * docs/EXPRESSIONS.md is the user's grammar; each parse function below
 * carries its rule.
 *
 * Invariants:
 *   - the parser builds only through the public constructors (kiln_op,
 *     kiln_cast, kiln_input, kiln_i64/f64/bool, the view functions), so a
 *     parsed expression is the very node the C API would build (hash-
 *     consing makes them kiln_expr_same); it never holds ctx->lock while
 *     calling them;
 *   - a value (fe_val) is an expression, an unmaterialized literal, or a
 *     view of a named array that owns one reference; views (subscripts,
 *     .T, fields) apply only to the last kind, and a view becomes an input
 *     only when an operator or call uses it;
 *   - the first error stops the parse: every parse function returns at
 *     once when p->failed is set, owned views are released on every path,
 *     and the result is one ERROR node whose message shows the source line
 *     with a caret (errors from constructors keep their status and gain
 *     the location);
 *   - any input is safe: the lexer reads src only up to its NUL, nesting is
 *     bounded (FE_MAX_DEPTH), numbers are range-checked, and messages are
 *     built in fixed buffers, truncated, with non-printable bytes shown as
 *     '?'. The parser allocates nothing itself.
 */
#include "frontend/fe.h"

#include <locale.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FE_MAX_DEPTH 100    /* nesting: parentheses, calls, unary chains */
#define FE_MAX_ARGS 16      /* arguments kept per call (more are counted) */
#define FE_MAX_SUBS 24      /* items in one subscript */
#define FE_MSG 1024         /* = the graph's and env's message buffers */
#define FE_NAME_SHOW 64     /* longest name echoed in a message */
#define FE_MAX_CANDIDATES 256 /* names ranked by closeness in a message */
#define FE_SHOW_FNS 16      /* functions listed for an unknown name */

/* ---- tokens ---------------------------------------------------------------- */

typedef enum fe_tokkind {
    T_EOF, T_INT, T_FLOAT, T_NAME, T_STRING,
    T_LPAREN, T_RPAREN, T_LBRACK, T_RBRACK, T_COMMA, T_COLON, T_DOT, T_ELLIPSIS,
    T_PLUS, T_MINUS, T_STAR, T_SLASH, T_DSLASH, T_PERCENT, T_POW, T_TILDE,
    T_AMP, T_PIPE, T_CARET, T_SHL, T_SHR,
    T_LT, T_LE, T_GT, T_GE, T_EQ, T_NE, T_ASSIGN,
    T_BAD
} fe_tokkind;

typedef struct fe_tok {
    fe_tokkind kind;
    size_t pos, len;   /* bytes of src */
    uint64_t ival;     /* T_INT: the value (< 2^64) */
    double fval;       /* T_FLOAT */
    const char *bad;   /* T_BAD: what is wrong */
} fe_tok;

/* ---- values ------------------------------------------------------------------ */

typedef enum fe_kind { V_NONE, V_EXPR, V_INT, V_FLOAT, V_VIEW } fe_kind;

typedef struct fe_val {
    fe_kind kind;
    kiln_expr e;       /* V_EXPR */
    uint64_t mag;      /* V_INT: magnitude; value is neg ? -mag : mag */
    bool neg;          /* V_INT, V_FLOAT: negated by unary minus */
    double f;          /* V_FLOAT */
    kiln_array *arr;   /* V_VIEW: one reference */
    int bind;          /* V_VIEW: index of the binding it comes from */
    bool rec;          /* V_VIEW: a record array (last axis = the bytes) */
    size_t pos, end;   /* source span */
} fe_val;

typedef struct fe_parser {
    kiln_ctx *ctx;
    const char *src;
    /* Bindings: either (names, arrays) or b. */
    size_t nb;
    const char *const *names;
    kiln_array *const *arrays;
    const kiln_binding *b;
    bool use_b;        /* kiln_parse_bindings */
    fe_tok tok;        /* current token */
    size_t next;       /* where the next token starts */
    int depth;
    bool failed;
    kiln_expr err;     /* the ERROR node, once failed */
} fe_parser;

/* ---- bindings ---------------------------------------------------------------- */

static const char *fe_bname(const fe_parser *p, size_t i)
{
    return p->b ? p->b[i].name : p->names[i];
}

static kiln_array *fe_barray(const fe_parser *p, size_t i)
{
    return p->b ? p->b[i].array : p->arrays[i];
}

static size_t fe_bnfields(const fe_parser *p, size_t i)
{
    return p->b ? p->b[i].nfields : 0;
}

static const kiln_field *fe_bfields(const fe_parser *p, size_t i)
{
    return p->b ? p->b[i].fields : NULL;
}

/* The binding named src[pos, pos+len), or -1. */
static int fe_find_binding(const fe_parser *p, size_t pos, size_t len)
{
    for (size_t i = 0; i < p->nb; i++) {
        const char *n = fe_bname(p, i);
        if (strncmp(n, p->src + pos, len) == 0 && n[len] == '\0')
            return (int)i;
    }
    return -1;
}

/* ---- messages -------------------------------------------------------------
 * Built in a fixed buffer; output past the end is dropped (fe_buf.n stops
 * at cap - 1), so a message is truncated, never overflowed. */

typedef struct fe_buf {
    char *s;
    size_t cap, n;
} fe_buf;

static void fe_put(fe_buf *b, const char *fmt, ...) RT_PRINTF(2, 3);
static void fe_put(fe_buf *b, const char *fmt, ...)
{
    if (b->n + 1 >= b->cap)
        return;
    va_list ap;
    va_start(ap, fmt);
    int w = vsnprintf(b->s + b->n, b->cap - b->n, fmt, ap);
    va_end(ap);
    if (w > 0)
        b->n = b->n + (size_t)w < b->cap ? b->n + (size_t)w : b->cap - 1;
}

/* Appends s[0, len) with non-printable bytes as '?' (so a caret below a
 * copied line stays aligned: one byte, one column). */
static void fe_put_raw(fe_buf *b, const char *s, size_t len)
{
    for (size_t i = 0; i < len && b->n + 1 < b->cap; i++) {
        unsigned char c = (unsigned char)s[i];
        b->s[b->n++] = c == '\t' ? ' ' : (c >= 0x20 && c < 0x7f) ? (char)c : '?';
    }
    b->s[b->n] = '\0';
}

/* A name from the source, quoted, shortened to FE_NAME_SHOW bytes. */
static void fe_put_name(fe_buf *b, const char *s, size_t len)
{
    fe_put(b, "'");
    fe_put_raw(b, s, len > FE_NAME_SHOW ? FE_NAME_SHOW : len);
    fe_put(b, len > FE_NAME_SHOW ? "...'" : "'");
}

/* The location of src[pos, pos+len): "at column C" (or "line L, column
 * C"), then the line (a window of it around pos when long) and a caret
 * line "^~~~" under the span. */
#define FE_WINDOW 76
static void fe_put_where(fe_buf *b, const char *src, size_t pos, size_t len, bool paren)
{
    size_t lstart = pos, lend = pos, line = 1;
    while (lstart > 0 && src[lstart - 1] != '\n')
        lstart--;
    while (src[lend] && src[lend] != '\n')
        lend++;
    for (size_t i = 0; i < lstart; i++)
        line += src[i] == '\n';
    bool multiline = line > 1 || src[lend] == '\n';
    if (multiline)
        fe_put(b, "%sat line %zu, column %zu", paren ? "" : " ", line, pos - lstart + 1);
    else
        fe_put(b, "%sat column %zu", paren ? "" : " ", pos - lstart + 1);
    fe_put(b, paren ? ")" : "");
    size_t ws = lstart, we = lend;
    if (we - ws > FE_WINDOW) {
        ws = pos > lstart + FE_WINDOW / 3 ? pos - FE_WINDOW / 3 : lstart;
        we = ws + FE_WINDOW < lend ? ws + FE_WINDOW : lend;
    }
    fe_put(b, "\n    %s", ws > lstart ? "..." : "");
    fe_put_raw(b, src + ws, we - ws);
    fe_put(b, "%s\n    %s", we < lend ? "..." : "", ws > lstart ? "   " : "");
    for (size_t i = ws; i < pos; i++)
        fe_put(b, " ");
    fe_put(b, "^");
    size_t under = len > 0 ? len - 1 : 0;
    if (pos + 1 + under > we)
        under = we > pos + 1 ? we - pos - 1 : 0;
    for (size_t i = 0; i < under; i++)
        fe_put(b, "~");
}

/* ---- "did you mean": names ranked by edit distance -------------------------- */

/* Optimal string alignment distance (Levenshtein plus adjacent swaps) of a
 * and b, each cut to 64 bytes. */
static unsigned fe_distance(const char *a, size_t la, const char *b, size_t lb)
{
    enum { M = 64 };
    if (la > M)
        la = M;
    if (lb > M)
        lb = M;
    unsigned r0[M + 1], r1[M + 1], r2[M + 1];
    unsigned *pp = r0, *prev = r1, *cur = r2;
    for (size_t j = 0; j <= lb; j++)
        prev[j] = (unsigned)j;
    for (size_t i = 1; i <= la; i++) {
        cur[0] = (unsigned)i;
        for (size_t j = 1; j <= lb; j++) {
            unsigned cost = a[i - 1] != b[j - 1];
            unsigned d = prev[j] + 1;
            if (cur[j - 1] + 1 < d)
                d = cur[j - 1] + 1;
            if (prev[j - 1] + cost < d)
                d = prev[j - 1] + cost;
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
                pp[j - 2] + 1 < d)
                d = pp[j - 2] + 1;
            cur[j] = d;
        }
        unsigned *t = pp;
        pp = prev;
        prev = cur;
        cur = t;
    }
    return prev[lb];
}

/* A list of candidate names: at(ud, i) for i < n. */
typedef const char *(*fe_name_at)(const void *ud, int i);

/* Closeness of name s to word, smaller is closer: the edit distance, then
 * a longer common prefix ("sinn": sin before sign). */
static unsigned fe_score(const char *word, size_t wlen, const char *s)
{
    size_t pre = 0, sl = strlen(s);
    while (pre < wlen && pre < sl && pre < 63 && word[pre] == s[pre])
        pre++;
    return fe_distance(word, wlen, s, sl) * 64u + (unsigned)(63 - pre);
}

/* Scores the first FE_MAX_CANDIDATES names into score[]; returns the index
 * of the closest (the first on ties), or -1 if n == 0. */
static int fe_score_all(fe_name_at at, const void *ud, int n, const char *word, size_t wlen,
                        unsigned *score)
{
    int m = n < FE_MAX_CANDIDATES ? n : FE_MAX_CANDIDATES, best = -1;
    for (int i = 0; i < m; i++) {
        score[i] = fe_score(word, wlen, at(ud, i));
        if (best < 0 || score[i] < score[best])
            best = i;
    }
    return best;
}

/* "did you mean 'name'? " when the closest name is close: at most 2 edits,
 * and fewer than the word's length. */
static void fe_put_mean(fe_buf *b, const char *name, unsigned score, size_t wlen)
{
    unsigned d = score / 64u;
    if (name && d <= 2 && d < wlen)
        fe_put(b, "did you mean '%s'? ", name);
}

/* Appends "label: n1, n2, ..." closest first (ties in list order), at most
 * max names (and only while the buffer has room), then "... (N more%s)". */
static void fe_put_ranked(fe_buf *b, const char *label, fe_name_at at, const void *ud, int n,
                          const unsigned *score, int max, const char *more)
{
    int m = n < FE_MAX_CANDIDATES ? n : FE_MAX_CANDIDATES, shown = 0;
    fe_put(b, "%s: ", label);
    /* Selection in (score, index) order, without sorting storage. */
    unsigned ls = 0;
    int li = -1;
    while (shown < max) {
        int bi = -1;
        for (int i = 0; i < m; i++) {
            bool after = score[i] > ls || (score[i] == ls && i > li);
            if (after && (bi < 0 || score[i] < score[bi]))
                bi = i;
        }
        if (bi < 0)
            break;
        const char *s = at(ud, bi);
        if (b->n + strlen(s) + 48 >= b->cap) /* room for the "more" note */
            break;
        fe_put(b, "%s%s", shown ? ", " : "", s);
        shown++;
        ls = score[bi];
        li = bi;
    }
    if (shown < n)
        fe_put(b, "%s... (%d more%s)", shown ? ", " : "", n - shown, more);
}

/* ---- functions callable by name ------------------------------------------------
 * In lookup order: casts by dtype name, the special rows below, then every
 * elementwise op, reduction and scan of graph/ops.def by NumPy name or
 * alias (through kiln_op). Reductions and scans (FN_RED) take NumPy's
 * keyword arguments: axis (an integer, a tuple of integers or None;
 * argmin, argmax and the scans: an integer or None), keepdims (True or
 * False; not argmin/argmax or the scans), ddof (an integer; var and std):
 * "sum(x, axis=0)", "std(x, axis=0, ddof=1)". Other functions take none. */

typedef enum fe_fnkind { FN_NONE, FN_CAST, FN_OP, FN_CLIP, FN_RED } fe_fnkind;

typedef struct fe_fn {
    fe_fnkind kind;
    int nargs;         /* exact positional count */
    kiln_dtype dtype;  /* FN_CAST */
    const char *name;  /* canonical name (kiln_op's) */
    int op;            /* FN_OP, FN_RED: the gr_op; else -1 */
} fe_fn;

static const struct {
    const char *name;
    fe_fnkind kind;
    int nargs;
} fe_special[] = {
    {"clip", FN_CLIP, 3},
};
#define FE_NSPECIAL ((int)(sizeof fe_special / sizeof fe_special[0]))

static bool fe_callable_op(int op)
{
    return op >= 0 && gr_ops[op].rule != GR_RULE_LEAF && !gr_is_view(op) && op != GR_OP_CAST &&
           !gr_is_udf(op);
}

/* The function named s[0..len): a cast, clip, an op of the table, or a
 * user-defined function registered on ctx (through kiln_op, like an op). */
static fe_fn fe_lookup_fn(kiln_ctx *ctx, const char *s, size_t len)
{
    fe_fn f = {FN_NONE, 0, KILN_BOOL, NULL, -1};
    char name[FE_NAME_SHOW + 1];
    if (len > FE_NAME_SHOW)
        return f;
    memcpy(name, s, len);
    name[len] = '\0';
    for (int t = 0; t < KILN_DTYPE_COUNT; t++)
        if (strcmp(name, rt_dtypes[t].name) == 0)
            return (fe_fn){FN_CAST, 1, (kiln_dtype)t, rt_dtypes[t].name, -1};
    for (int i = 0; i < FE_NSPECIAL; i++)
        if (strcmp(name, fe_special[i].name) == 0)
            return (fe_fn){fe_special[i].kind, fe_special[i].nargs, KILN_BOOL, fe_special[i].name,
                           -1};
    int op = gr_op_lookup(name);
    if (fe_callable_op(op))
        return (fe_fn){gr_is_reduce(op) || gr_is_scan(op) ? FN_RED : FN_OP, gr_ops[op].arity,
                       KILN_BOOL, gr_ops[op].name, op};
    const char *canon = NULL;
    int nargs = fe_udf_lookup(ctx, name, len, &canon);
    if (nargs > 0)
        return (fe_fn){FN_OP, nargs, KILN_BOOL, canon, -1};
    return f;
}

/* The i-th function name (canonical names only, then the user-defined
 * functions of the context ud), for messages. */
static int fe_nfns(kiln_ctx *ctx)
{
    int n = KILN_DTYPE_COUNT + FE_NSPECIAL + fe_udf_count(ctx);
    for (int op = 0; op < GR_OP_COUNT; op++)
        n += fe_callable_op(op);
    return n;
}

static const char *fe_fn_at(const void *ud, int i)
{
    for (int op = 0; op < GR_OP_COUNT; op++)
        if (fe_callable_op(op) && i-- == 0)
            return gr_ops[op].name;
    if (i < FE_NSPECIAL)
        return fe_special[i].name;
    i -= FE_NSPECIAL;
    if (i < KILN_DTYPE_COUNT)
        return rt_dtypes[i].name;
    return fe_udf_name((kiln_ctx *)ud, i - KILN_DTYPE_COUNT);
}

static const char *fe_input_at(const void *ud, int i)
{
    return fe_bname(ud, (size_t)i);
}

static const char *fe_field_at(const void *ud, int i)
{
    return ((const kiln_field *)ud)[i].name;
}

/* Constants a name may denote when no input has that name. */
static const struct {
    const char *name;
    double value;
} fe_consts[] = {
    {"inf", HUGE_VAL},
    {"nan", NAN},
    {"pi", 3.141592653589793238462643383279502884},
};

/* ---- failing -------------------------------------------------------------------- */

static void fe_fail_msg(fe_parser *p, kiln_status st, const char *msg)
{
    if (p->failed)
        return;
    p->failed = true;
    kiln_ctx *ctx = p->ctx;
    pthread_mutex_lock(&ctx->lock);
    p->err = fe_handle(ctx, gr_error(ctx->graph, st, "%s", msg));
    pthread_mutex_unlock(&ctx->lock);
}

/* Fails with "<what> at column C", the line and a caret under [pos,
 * pos+len), then the text of tail (may be NULL). */
static void fe_fail_v(fe_parser *p, kiln_status st, size_t pos, size_t len, const char *tail,
                      bool paren, const char *fmt, va_list ap)
{
    if (p->failed)
        return;
    char msg[FE_MSG];
    fe_buf b = {msg, sizeof msg - 400, 0}; /* the headline leaves room for the rest */
    msg[0] = '\0';
    int w = vsnprintf(msg, b.cap, fmt, ap);
    b.n = w < 0 ? 0 : (size_t)w < b.cap ? (size_t)w : b.cap - 1;
    b.cap = sizeof msg;
    fe_put(&b, paren ? " (" : "");
    fe_put_where(&b, p->src, pos, len, paren);
    if (tail && *tail)
        fe_put(&b, "\n%s", tail);
    fe_fail_msg(p, st, msg);
}

static void fe_fail_at(fe_parser *p, kiln_status st, size_t pos, size_t len, const char *tail,
                       const char *fmt, ...) RT_PRINTF(6, 7);
static void fe_fail_at(fe_parser *p, kiln_status st, size_t pos, size_t len, const char *tail,
                       const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fe_fail_v(p, st, pos, len, tail, false, fmt, ap);
    va_end(ap);
}

/* A constructor's message, then "(at column C)" and the source. */
static void fe_fail_paren(fe_parser *p, kiln_status st, size_t pos, size_t len,
                          const char *fmt, ...) RT_PRINTF(5, 6);
static void fe_fail_paren(fe_parser *p, kiln_status st, size_t pos, size_t len,
                          const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fe_fail_v(p, st, pos, len, NULL, true, fmt, ap);
    va_end(ap);
}

/* If e is an ERROR node, fails with its status and message located at
 * [pos, pos+len) and returns false. */
static bool fe_check(fe_parser *p, kiln_expr e, size_t pos, size_t len)
{
    if (p->failed)
        return false;
    kiln_ctx *ctx = p->ctx;
    char orig[FE_MSG];
    kiln_status st = KILN_OK;
    orig[0] = '\0';
    pthread_mutex_lock(&ctx->lock);
    if (e.ctx_ != ctx || !gr_valid(ctx->graph, e.id_, e.gen_)) {
        st = KILN_EINTERNAL;
        snprintf(orig, sizeof orig, "parser: constructor returned an invalid handle");
    } else {
        const gr_node *n = gr_node_at(ctx->graph, e.id_);
        if (n->op == GR_OP_ERROR) {
            st = n->a.err.status;
            snprintf(orig, sizeof orig, "%s", gr_error_msg(ctx->graph, e.id_));
        }
    }
    pthread_mutex_unlock(&ctx->lock);
    if (st == KILN_OK)
        return true;
    fe_fail_paren(p, st, pos, len, "%s", orig);
    return false;
}

/* After a view function failed: its message is on the context's env. */
static void fe_fail_view(fe_parser *p, kiln_status st, size_t pos, size_t len)
{
    char orig[FE_MSG];
    rt_env *env = p->ctx->env;
    pthread_mutex_lock(&env->lock);
    snprintf(orig, sizeof orig, "%s", env->msg);
    pthread_mutex_unlock(&env->lock);
    fe_fail_paren(p, st, pos, len, "%s", orig);
}

static void fe_drop(fe_val *v)
{
    if (v->kind == V_VIEW)
        kiln_array_release(v->arr);
    v->kind = V_NONE;
    v->arr = NULL;
}

static fe_val fe_none(void)
{
    fe_val v;
    memset(&v, 0, sizeof v);
    v.kind = V_NONE;
    return v;
}

static fe_val fe_of_expr(kiln_expr e, size_t pos, size_t end)
{
    fe_val v = fe_none();
    v.kind = V_EXPR;
    v.e = e;
    v.pos = pos;
    v.end = end;
    return v;
}

/* ---- the lexer ---------------------------------------------------------------- */

static bool fe_isname0(int c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
static bool fe_isname(int c) { return fe_isname0(c) || (c >= '0' && c <= '9'); }

static int fe_digit(int c, int base)
{
    int d = c >= '0' && c <= '9' ? c - '0'
          : c >= 'a' && c <= 'z' ? c - 'a' + 10
          : c >= 'A' && c <= 'Z' ? c - 'A' + 10
                                 : 99;
    return d < base ? d : -1;
}

/* strtod on s[0, len) (a validated Python float literal) in the C locale's
 * syntax whatever the process locale: '.' becomes the locale's decimal
 * point. */
static bool fe_strtod(const char *s, size_t len, double *out)
{
    char buf[400];
    const char *dp = localeconv()->decimal_point;
    size_t dpl = dp && *dp ? strlen(dp) : 1;
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        if (n + dpl + 1 >= sizeof buf)
            return false;
        if (s[i] == '.' && dp && *dp) {
            memcpy(buf + n, dp, dpl);
            n += dpl;
        } else {
            buf[n++] = s[i];
        }
    }
    buf[n] = '\0';
    *out = strtod(buf, NULL);
    return true;
}

static fe_tok fe_bad(size_t pos, size_t len, const char *why)
{
    fe_tok t;
    memset(&t, 0, sizeof t);
    t.kind = T_BAD;
    t.pos = pos;
    t.len = len ? len : 1;
    t.bad = why;
    return t;
}

/* number = '0' ('x'|'o'|'b') digits | digits ['.' digits*] [exp] | '.' digits [exp]
 * exp    = ('e'|'E') ['+'|'-'] digits */
static fe_tok fe_lex_number(const char *s, size_t pos)
{
    fe_tok t;
    memset(&t, 0, sizeof t);
    t.pos = pos;
    size_t i = pos;
    int base = 0;
    if (s[i] == '0' && (s[i + 1] == 'x' || s[i + 1] == 'X'))
        base = 16;
    else if (s[i] == '0' && (s[i + 1] == 'o' || s[i + 1] == 'O'))
        base = 8;
    else if (s[i] == '0' && (s[i + 1] == 'b' || s[i + 1] == 'B'))
        base = 2;
    if (base) {
        i += 2;
        uint64_t v = 0;
        size_t start = i;
        int d;
        for (; (d = fe_digit((unsigned char)s[i], base)) >= 0; i++) {
            if (v > (UINT64_MAX - (uint64_t)d) / (uint64_t)base)
                return fe_bad(pos, i + 1 - pos, "integer literal is too large");
            v = v * (uint64_t)base + (uint64_t)d;
        }
        if (i == start || fe_isname(s[i]) || s[i] == '.')
            return fe_bad(pos, i + 1 - pos, base == 16 ? "invalid hexadecimal literal"
                                            : base == 8 ? "invalid octal literal"
                                                        : "invalid binary literal");
        t.kind = T_INT;
        t.ival = v;
        t.len = i - pos;
        return t;
    }
    bool isfloat = false;
    while (s[i] >= '0' && s[i] <= '9')
        i++;
    size_t intend = i;
    if (s[i] == '.') {
        isfloat = true;
        i++;
        while (s[i] >= '0' && s[i] <= '9')
            i++;
    }
    if (s[i] == 'e' || s[i] == 'E') {
        size_t e = i + 1;
        if (s[e] == '+' || s[e] == '-')
            e++;
        if (!(s[e] >= '0' && s[e] <= '9'))
            return fe_bad(pos, e - pos, "invalid float literal: the exponent has no digits");
        while (s[e] >= '0' && s[e] <= '9')
            e++;
        i = e;
        isfloat = true;
    }
    if (s[i] == '_')
        return fe_bad(pos, i + 1 - pos, "digit separators ('_') are not supported");
    if (s[i] == 'j' || s[i] == 'J')
        return fe_bad(pos, i + 1 - pos, "complex literals are not supported");
    if (fe_isname(s[i]))
        return fe_bad(pos, i + 1 - pos, "invalid number literal");
    t.len = i - pos;
    if (isfloat) {
        t.kind = T_FLOAT;
        if (!fe_strtod(s + pos, t.len, &t.fval))
            return fe_bad(pos, t.len, "float literal is too long");
        return t;
    }
    /* A decimal integer: no leading zeros (Python's rule; 0o is octal). */
    bool zeros = true;
    for (size_t k = pos; k < intend; k++)
        zeros = zeros && s[k] == '0';
    if (s[pos] == '0' && !zeros)
        return fe_bad(pos, t.len,
                      "leading zeros in decimal integer literals are not permitted; "
                      "use 0o for octal");
    uint64_t v = 0;
    for (size_t k = pos; k < intend; k++) {
        uint64_t d = (uint64_t)(s[k] - '0');
        if (v > (UINT64_MAX - d) / 10u)
            return fe_bad(pos, t.len, "integer literal is too large");
        v = v * 10u + d;
    }
    t.kind = T_INT;
    t.ival = v;
    return t;
}

/* string = "'" char* "'" | '"' char* '"'   (escapes: \\ \' \"; one line) */
static fe_tok fe_lex_string(const char *s, size_t pos)
{
    char q = s[pos];
    size_t i = pos + 1;
    for (;;) {
        if (s[i] == '\0' || s[i] == '\n')
            return fe_bad(pos, i - pos, "unterminated string");
        if (s[i] == '\\') {
            if (s[i + 1] != '\\' && s[i + 1] != '\'' && s[i + 1] != '"')
                return fe_bad(i, 2, "unsupported escape in string (only \\\\ \\' \\\")");
            i += 2;
            continue;
        }
        if (s[i] == q)
            break;
        i++;
    }
    fe_tok t;
    memset(&t, 0, sizeof t);
    t.kind = T_STRING;
    t.pos = pos;
    t.len = i + 1 - pos;
    return t;
}

static fe_tok fe_lex(const char *s, size_t i)
{
    while (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r' || s[i] == '\f' ||
           s[i] == '\v')
        i++;
    fe_tok t;
    memset(&t, 0, sizeof t);
    t.pos = i;
    t.len = 1;
    unsigned char c = (unsigned char)s[i], c1 = c ? (unsigned char)s[i + 1] : 0;
    if (c == '\0') {
        t.kind = T_EOF;
        t.len = 0;
        return t;
    }
    if ((c >= '0' && c <= '9') || (c == '.' && c1 >= '0' && c1 <= '9'))
        return fe_lex_number(s, i);
    if (fe_isname0(c)) {
        size_t j = i;
        while (fe_isname((unsigned char)s[j]))
            j++;
        t.kind = T_NAME;
        t.len = j - i;
        return t;
    }
    if (c == '\'' || c == '"')
        return fe_lex_string(s, i);
#define FE_TWO(a, b, k2, k1)                                                                \
    case a:                                                                                 \
        if (c1 == (b)) {                                                                    \
            t.kind = k2;                                                                    \
            t.len = 2;                                                                      \
        } else                                                                              \
            t.kind = k1;                                                                    \
        return t;
    switch (c) {
    case '(': t.kind = T_LPAREN; return t;
    case ')': t.kind = T_RPAREN; return t;
    case '[': t.kind = T_LBRACK; return t;
    case ']': t.kind = T_RBRACK; return t;
    case ',': t.kind = T_COMMA; return t;
    case ':': t.kind = T_COLON; return t;
    case '+': t.kind = T_PLUS; return t;
    case '-': t.kind = T_MINUS; return t;
    case '%': t.kind = T_PERCENT; return t;
    case '~': t.kind = T_TILDE; return t;
    case '&': t.kind = T_AMP; return t;
    case '|': t.kind = T_PIPE; return t;
    case '^': t.kind = T_CARET; return t;
    FE_TWO('*', '*', T_POW, T_STAR)
    FE_TWO('/', '/', T_DSLASH, T_SLASH)
    FE_TWO('=', '=', T_EQ, T_ASSIGN)
    case '<':
        t.kind = c1 == '<' ? T_SHL : c1 == '=' ? T_LE : T_LT;
        t.len = t.kind == T_LT ? 1 : 2;
        return t;
    case '>':
        t.kind = c1 == '>' ? T_SHR : c1 == '=' ? T_GE : T_GT;
        t.len = t.kind == T_GT ? 1 : 2;
        return t;
    case '!':
        if (c1 == '=') {
            t.kind = T_NE;
            t.len = 2;
            return t;
        }
        return fe_bad(i, 1, "'!' is not an operator: use ~ for not, != for not equal");
    case '.':
        if (c1 == '.' && s[i + 2] == '.') {
            t.kind = T_ELLIPSIS;
            t.len = 3;
            return t;
        }
        t.kind = T_DOT;
        return t;
    default:
        return fe_bad(i, 1, c >= 0x80 ? "unexpected non-ASCII byte" : "unexpected character");
    }
#undef FE_TWO
}

/* Moves to the next token; a lexical error fails the parse (the current
 * token then reads as T_EOF, so every rule unwinds). */
static void fe_advance(fe_parser *p)
{
    if (p->failed) {
        p->tok.kind = T_EOF;
        return;
    }
    p->tok = fe_lex(p->src, p->next);
    p->next = p->tok.pos + p->tok.len;
    if (p->tok.kind == T_BAD) {
        fe_fail_at(p, KILN_ESYNTAX, p->tok.pos, p->tok.len, NULL, "%s", p->tok.bad);
        p->tok.kind = T_EOF;
    }
}

/* "name 'x'", "number 3", "')'", "end of input": the token, for messages. */
static void fe_put_tok(fe_buf *b, const fe_parser *p, const fe_tok *t)
{
    switch (t->kind) {
    case T_EOF: fe_put(b, "end of input"); return;
    case T_NAME: fe_put(b, "name "); break;
    case T_INT:
    case T_FLOAT: fe_put(b, "number "); break;
    case T_STRING: fe_put(b, "string "); break;
    default: break;
    }
    fe_put_name(b, p->src + t->pos, t->len);
}

static bool fe_is(const fe_parser *p, const fe_tok *t, const char *word);

/* Python's boolean operators, which have no elementwise meaning. */
static const struct {
    const char *word, *use;
} fe_boolops[] = {{"and", "use & (elementwise and)"},
                  {"or", "use | (elementwise or)"},
                  {"not", "use ~ (elementwise not)"}};

/* Fails if t is 'and', 'or' or 'not', saying what to use instead. */
static bool fe_boolop(fe_parser *p, const fe_tok *t)
{
    for (size_t i = 0; i < sizeof fe_boolops / sizeof fe_boolops[0]; i++)
        if (fe_is(p, t, fe_boolops[i].word)) {
            fe_fail_at(p, KILN_ESYNTAX, t->pos, t->len, NULL, "'%s' is not supported: %s",
                       fe_boolops[i].word, fe_boolops[i].use);
            return true;
        }
    return false;
}

/* Fails with "expected <what>, found <token>" at the current token. */
static void fe_expected(fe_parser *p, const char *what, const char *tail)
{
    if (fe_boolop(p, &p->tok))
        return;
    char found[160];
    fe_buf b = {found, sizeof found, 0};
    found[0] = '\0';
    fe_put_tok(&b, p, &p->tok);
    fe_fail_at(p, KILN_ESYNTAX, p->tok.pos, p->tok.len, tail, "expected %s, found %s", what,
               found);
}

static bool fe_accept(fe_parser *p, fe_tokkind k)
{
    if (p->failed || p->tok.kind != k)
        return false;
    fe_advance(p);
    return true;
}

/* ---- values into expressions -------------------------------------------------- */

/* The expression of v (consumed): a literal becomes a weak scalar, a view
 * an input (equal views are one INPUT node: the graph keys an input by the
 * elements it reads). V_NONE after a failure. */
static kiln_expr fe_expr_of(fe_parser *p, fe_val *v)
{
    kiln_ctx *ctx = p->ctx;
    kiln_expr e = {NULL, 0, 0};
    if (p->failed) {
        fe_drop(v);
        return e;
    }
    switch (v->kind) {
    case V_EXPR:
        e = v->e;
        break;
    case V_INT:
        if (v->mag <= (uint64_t)INT64_MAX)
            e = kiln_i64(ctx, v->neg ? -(int64_t)v->mag : (int64_t)v->mag);
        else if (v->neg && v->mag == (uint64_t)INT64_MAX + 1u)
            e = kiln_i64(ctx, INT64_MIN);
        else
            fe_fail_at(p, KILN_ESYNTAX, v->pos, v->end - v->pos, NULL,
                       "integer literal is out of the int64 range");
        break;
    case V_FLOAT:
        e = kiln_f64(ctx, v->neg ? -v->f : v->f);
        break;
    case V_VIEW: {
        if (v->rec) {
            char tail[FE_MSG / 2];
            fe_buf b = {tail, sizeof tail, 0};
            tail[0] = '\0';
            size_t nf = fe_bnfields(p, (size_t)v->bind);
            const kiln_field *f = fe_bfields(p, (size_t)v->bind);
            fe_put(&b, "its fields: ");
            for (size_t i = 0; i < nf && b.n + 80 < b.cap; i++)
                fe_put(&b, "%s%s", i ? ", " : "", f[i].name);
            fe_fail_at(p, KILN_ESYNTAX, v->pos, v->end - v->pos, tail,
                       "'%s' is a record array: select a field (rec.name or rec['name'])",
                       fe_bname(p, (size_t)v->bind));
            break;
        }
        e = kiln_input(ctx, v->arr); /* equal views are one INPUT node (graph.c) */
        break;
    }
    case V_NONE:
        fe_fail_at(p, KILN_EINTERNAL, v->pos, 1, NULL, "parser: value expected");
        break;
    }
    if (!p->failed && !fe_check(p, e, v->pos, v->end - v->pos))
        e = (kiln_expr){NULL, 0, 0};
    fe_drop(v);
    return e;
}

/* Applies the op named op (kiln_op's names) to args[0..n) (consumed), 1 <=
 * n <= GR_MAX_INPUTS; errors are located at [pos, pos+len). */
static fe_val fe_apply(fe_parser *p, const char *op, int n, fe_val *args, size_t pos, size_t len)
{
    kiln_expr ex[GR_MAX_INPUTS];
    _Static_assert(GR_MAX_INPUTS >= 3, "where and clip take 3 arguments");
    if (n < 1 || n > GR_MAX_INPUTS) {
        for (int i = 0; i < n; i++)
            fe_drop(&args[i]);
        fe_fail_at(p, KILN_EINTERNAL, pos, len, NULL, "parser: %d arguments for %s", n, op);
        return fe_none();
    }
    size_t start = args[0].pos, end = args[n - 1].end;
    for (int i = 0; i < n; i++)
        ex[i] = fe_expr_of(p, &args[i]);
    if (p->failed)
        return fe_none();
    kiln_expr r = kiln_op(p->ctx, op, n, ex);
    if (!fe_check(p, r, pos, len))
        return fe_none();
    return fe_of_expr(r, pos < start ? pos : start, end > pos + len ? end : pos + len);
}

/* ---- the grammar ---------------------------------------------------------------- */

static fe_val fe_expr(fe_parser *p);

/* Binary operators by level, loosest first: Python's precedence. */
static const struct {
    fe_tokkind tok;
    int level;
    const char *op;
} fe_binops[] = {
    {T_LT, 1, "less"},        {T_LE, 1, "less_equal"}, {T_GT, 1, "greater"},
    {T_GE, 1, "greater_equal"}, {T_EQ, 1, "equal"},    {T_NE, 1, "not_equal"},
    {T_PIPE, 2, "bitwise_or"}, {T_CARET, 3, "bitwise_xor"}, {T_AMP, 4, "bitwise_and"},
    {T_SHL, 5, "left_shift"}, {T_SHR, 5, "right_shift"},
    {T_PLUS, 6, "add"},       {T_MINUS, 6, "subtract"},
    {T_STAR, 7, "multiply"},  {T_SLASH, 7, "divide"}, {T_DSLASH, 7, "floor_divide"},
    {T_PERCENT, 7, "remainder"},
};
#define FE_NBINOPS ((int)(sizeof fe_binops / sizeof fe_binops[0]))
#define FE_CMP_LEVEL 1
#define FE_TOP_LEVEL 7

static int fe_binop(fe_tokkind k, int level)
{
    for (int i = 0; i < FE_NBINOPS; i++)
        if (fe_binops[i].tok == k && fe_binops[i].level == level)
            return i;
    return -1;
}

/* Nesting guard for recursive rules. */
static bool fe_enter(fe_parser *p)
{
    if (p->failed)
        return false;
    if (++p->depth > FE_MAX_DEPTH) {
        fe_fail_at(p, KILN_ESYNTAX, p->tok.pos, p->tok.len, NULL,
                   "expression nests too deeply (more than %d levels)", FE_MAX_DEPTH);
        return false;
    }
    return true;
}

/* int = ['-' | '+'] INT   (an index or slice bound); *omitted if absent */
static bool fe_index_int(fe_parser *p, int64_t *v, bool *present)
{
    size_t pos = p->tok.pos;
    bool neg = false, sign = false;
    *present = false;
    if (p->tok.kind == T_MINUS || p->tok.kind == T_PLUS) {
        neg = p->tok.kind == T_MINUS;
        sign = true;
        fe_advance(p);
    }
    if (p->tok.kind != T_INT) {
        if (sign || (p->tok.kind != T_COLON && p->tok.kind != T_COMMA &&
                     p->tok.kind != T_RBRACK))
            fe_expected(p, "an integer, ':', '...' or None",
                        "indices and slice bounds are integer literals (for now)");
        return !p->failed;
    }
    uint64_t m = p->tok.ival;
    if (m > (uint64_t)INT64_MAX + (neg ? 1u : 0u)) {
        fe_fail_at(p, KILN_ESYNTAX, pos, p->tok.pos + p->tok.len - pos, NULL,
                   "index is out of the int64 range");
        return false;
    }
    *v = neg ? (m == (uint64_t)INT64_MAX + 1u ? INT64_MIN : -(int64_t)m) : (int64_t)m;
    *present = true;
    fe_advance(p);
    return !p->failed;
}

typedef enum fe_subkind { S_SLICE, S_INDEX, S_NEW, S_ELLIPSIS, S_FIELD } fe_subkind;

typedef struct fe_sub {
    fe_subkind kind;
    kiln_slice s;      /* S_SLICE */
    int64_t index;     /* S_INDEX */
    size_t pos, len;   /* S_FIELD: the string token */
} fe_sub;

/* subscript = STRING | 'None' | '...' | [int] ':' [int] [':' [int]] | int */
static bool fe_subscript(fe_parser *p, fe_sub *s)
{
    memset(s, 0, sizeof *s);
    s->pos = p->tok.pos;
    if (p->tok.kind == T_STRING) {
        s->kind = S_FIELD;
        s->len = p->tok.len;
        fe_advance(p);
        return !p->failed;
    }
    if (p->tok.kind == T_ELLIPSIS) {
        s->kind = S_ELLIPSIS;
        fe_advance(p);
        return !p->failed;
    }
    if (p->tok.kind == T_NAME && p->tok.len == 4 && memcmp(p->src + p->tok.pos, "None", 4) == 0) {
        s->kind = S_NEW;
        fe_advance(p);
        return !p->failed;
    }
    int64_t v;
    bool have;
    if (!fe_index_int(p, &v, &have))
        return false;
    if (p->tok.kind != T_COLON) {
        if (!have) {
            fe_expected(p, "an index", NULL);
            return false;
        }
        s->kind = S_INDEX;
        s->index = v;
        return true;
    }
    s->kind = S_SLICE;
    s->s = KILN_ALL;
    if (have)
        s->s.start = v;
    fe_advance(p);
    if (!fe_index_int(p, &v, &have))
        return false;
    if (have)
        s->s.stop = v;
    if (fe_accept(p, T_COLON)) {
        size_t spos = p->tok.pos;
        if (!fe_index_int(p, &v, &have))
            return false;
        if (have && v == KILN_END) { /* INT64_MIN means "omitted" to kiln_slice */
            fe_fail_at(p, KILN_ESYNTAX, spos, p->tok.pos - spos, NULL,
                       "slice step is out of range");
            return false;
        }
        if (have)
            s->s.step = v;
    }
    return !p->failed;
}

/* The record field named by s[0, len) of the binding of v, or -1. */
static int fe_find_field(const fe_parser *p, const fe_val *v, const char *s, size_t len)
{
    size_t nf = fe_bnfields(p, (size_t)v->bind);
    const kiln_field *f = fe_bfields(p, (size_t)v->bind);
    for (size_t i = 0; i < nf; i++)
        if (strlen(f[i].name) == len && memcmp(f[i].name, s, len) == 0)
            return (int)i;
    return -1;
}

/* v.name: a field of a record view (v consumed on failure). */
static void fe_field(fe_parser *p, fe_val *v, const char *name, size_t len, size_t pos,
                     size_t toklen)
{
    int fi = fe_find_field(p, v, name, len);
    if (fi < 0) {
        size_t nf = fe_bnfields(p, (size_t)v->bind);
        const kiln_field *f = fe_bfields(p, (size_t)v->bind);
        int n = nf > INT32_MAX ? INT32_MAX : (int)nf;
        unsigned score[FE_MAX_CANDIDATES];
        int best = fe_score_all(fe_field_at, f, n, name, len, score);
        char tail[FE_MSG / 2];
        fe_buf b = {tail, sizeof tail, 0};
        tail[0] = '\0';
        if (best >= 0)
            fe_put_mean(&b, f[best].name, score[best], len);
        fe_put_ranked(&b, "fields (closest first)", fe_field_at, f, n, score, INT32_MAX, "");
        char shown_name[FE_NAME_SHOW + 8];
        fe_buf nb = {shown_name, sizeof shown_name, 0};
        shown_name[0] = '\0';
        fe_put_name(&nb, name, len);
        fe_fail_at(p, KILN_ESYNTAX, pos, toklen, tail, "record array '%s' has no field %s",
                   fe_bname(p, (size_t)v->bind), shown_name);
        fe_drop(v);
        return;
    }
    const kiln_field *f = &fe_bfields(p, (size_t)v->bind)[fi];
    kiln_array *out = NULL;
    kiln_status st = kiln_array_field(v->arr, f->offset, f->dtype, &out);
    if (st != KILN_OK) {
        fe_fail_view(p, st, pos, toklen);
        fe_drop(v);
        return;
    }
    kiln_array_release(v->arr);
    v->arr = out;
    v->rec = false;
}

/* Replaces v's view by the result of a view function (or fails). */
static bool fe_step(fe_parser *p, fe_val *v, kiln_status st, kiln_array *out, size_t pos,
                    size_t len)
{
    if (st != KILN_OK) {
        fe_fail_view(p, st, pos, len);
        fe_drop(v);
        return false;
    }
    kiln_array_release(v->arr);
    v->arr = out;
    return true;
}

/* x[subs] as NumPy's basic indexing, planned over a value of rank vis
 * (rank: the value's rank before the rank limit check; a record view hides
 * its byte axis, so vis = rank - 1 there): the slices of the leading axes,
 * then integer indices (applied last axis first, so axis numbers stay
 * valid), then new axes in increasing output position. False after a
 * failure (the caller drops the value). */
typedef struct fe_subplan {
    int nslices;                 /* leading axes sliced (the rest whole) */
    kiln_slice sl[KILN_MAX_RANK];
    int nidx;
    int idx_axis[KILN_MAX_RANK];
    int64_t idx_val[KILN_MAX_RANK];
    int nnew;
    int new_pos[KILN_MAX_RANK];
} fe_subplan;

static bool fe_plan_subs(fe_parser *p, const fe_sub *subs, int n, int rank, int vis, size_t pos,
                         size_t len, fe_subplan *sp)
{
    int consumed = 0, nnew = 0, nell = 0;
    for (int i = 0; i < n; i++) {
        consumed += subs[i].kind == S_SLICE || subs[i].kind == S_INDEX;
        nnew += subs[i].kind == S_NEW;
        nell += subs[i].kind == S_ELLIPSIS;
        if (subs[i].kind == S_FIELD) {
            fe_fail_at(p, KILN_ESYNTAX, subs[i].pos, subs[i].len, NULL,
                       "a field name must be the only subscript");
            return false;
        }
    }
    if (nell > 1) {
        fe_fail_at(p, KILN_ESYNTAX, pos, len, NULL,
                   "an index can only have a single ellipsis ('...')");
        return false;
    }
    if (consumed > vis) {
        fe_fail_paren(p, KILN_EINDEX, pos, len,
                      "too many indices for array: array is %d-dimensional, but %d were indexed",
                      vis, consumed);
        return false;
    }
    int nidx = 0;
    for (int i = 0; i < n; i++)
        nidx += subs[i].kind == S_INDEX;
    if (rank - nidx + nnew > KILN_MAX_RANK) {
        fe_fail_paren(p, KILN_ERANK, pos, len, "the result would have rank %d, more than %d",
                      rank - nidx + nnew, KILN_MAX_RANK);
        return false;
    }
    memset(sp, 0, sizeof *sp);
    int axis = 0, out = 0;
    for (int k = 0; k < KILN_MAX_RANK; k++)
        sp->sl[k] = KILN_ALL;
    for (int i = 0; i < n; i++) {
        switch (subs[i].kind) {
        case S_SLICE: sp->sl[axis++] = subs[i].s; out++; break;
        case S_INDEX:
            sp->idx_axis[sp->nidx] = axis++;
            sp->idx_val[sp->nidx++] = subs[i].index;
            break;
        case S_NEW: sp->new_pos[sp->nnew++] = out++; break;
        case S_ELLIPSIS: {
            int fill = vis - consumed;
            axis += fill;
            out += fill;
            break;
        }
        case S_FIELD: break;
        }
    }
    sp->nslices = axis;
    return true;
}

/* Applies x[subs] to the view v of a named array (the array views). */
static void fe_index(fe_parser *p, fe_val *v, const fe_sub *subs, int n, size_t pos, size_t len)
{
    int rank = kiln_array_rank(v->arr), vis = v->rec ? rank - 1 : rank;
    fe_subplan sp;
    if (!fe_plan_subs(p, subs, n, rank, vis, pos, len, &sp)) {
        fe_drop(v);
        return;
    }
    kiln_array *r = NULL;
    kiln_status st;
    if (sp.nslices > 0) {
        st = kiln_array_slice(v->arr, sp.nslices, sp.sl, &r);
        if (!fe_step(p, v, st, r, pos, len))
            return;
    }
    for (int i = sp.nidx - 1; i >= 0; i--) {
        st = kiln_array_index(v->arr, sp.idx_axis[i], sp.idx_val[i], &r);
        if (!fe_step(p, v, st, r, pos, len))
            return;
    }
    for (int i = 0; i < sp.nnew; i++) {
        st = kiln_array_expand_dims(v->arr, sp.new_pos[i], &r);
        if (!fe_step(p, v, st, r, pos, len))
            return;
    }
}

/* Replaces v's expression by e (a view of it), or fails at [pos, pos+len). */
static bool fe_step_expr(fe_parser *p, fe_val *v, kiln_expr e, size_t pos, size_t len)
{
    if (!fe_check(p, e, pos, len)) {
        fe_drop(v);
        return false;
    }
    v->e = e;
    return true;
}

/* Applies x[subs] to a computed value (v consumed into an expression
 * first): the same plan through the expression views (kiln_expr_slice &
 * co., pushed down to the inputs: graph/view.c). */
static void fe_index_expr(fe_parser *p, fe_val *v, const fe_sub *subs, int n, size_t pos,
                          size_t len)
{
    size_t vpos = v->pos;
    kiln_expr e = fe_expr_of(p, v);
    if (p->failed)
        return;
    *v = fe_of_expr(e, vpos, pos + len);
    int rank = kiln_expr_rank(e);
    fe_subplan sp;
    if (!fe_plan_subs(p, subs, n, rank, rank, pos, len, &sp)) {
        fe_drop(v);
        return;
    }
    if (sp.nslices > 0 && !fe_step_expr(p, v, kiln_expr_slice(v->e, sp.nslices, sp.sl), pos, len))
        return;
    for (int i = sp.nidx - 1; i >= 0; i--)
        if (!fe_step_expr(p, v, kiln_expr_index(v->e, sp.idx_axis[i], sp.idx_val[i]), pos, len))
            return;
    for (int i = 0; i < sp.nnew; i++)
        if (!fe_step_expr(p, v, kiln_expr_expand_dims(v->e, sp.new_pos[i]), pos, len))
            return;
}

/* x.T: reverses the axes (a record view's byte axis stays last); of a
 * computed value, through kiln_expr_transpose. */
static void fe_transpose(fe_parser *p, fe_val *v, size_t pos, size_t len)
{
    if (v->kind != V_VIEW) {
        size_t vpos = v->pos;
        kiln_expr e = fe_expr_of(p, v);
        if (p->failed)
            return;
        *v = fe_of_expr(e, vpos, pos + len);
        fe_step_expr(p, v, kiln_expr_transpose(e, NULL), pos, len);
        return;
    }
    int rank = kiln_array_rank(v->arr), vis = v->rec ? rank - 1 : rank;
    int perm[KILN_MAX_RANK];
    for (int k = 0; k < vis; k++)
        perm[k] = vis - 1 - k;
    if (v->rec)
        perm[vis] = vis;
    kiln_array *r = NULL;
    kiln_status st = kiln_array_transpose(v->arr, perm, &r);
    fe_step(p, v, st, r, pos, len);
}

/* Decodes a string token's text (escapes \\ \' \") into buf; false if it
 * does not fit. */
static bool fe_unquote(const char *s, size_t len, char *buf, size_t cap, size_t *n)
{
    size_t k = 0;
    for (size_t i = 1; i + 1 < len; i++) {
        char c = s[i];
        if (c == '\\')
            c = s[++i];
        if (k + 1 >= cap)
            return false;
        buf[k++] = c;
    }
    buf[k] = '\0';
    *n = k;
    return true;
}

/* Fails unless v is a view of a named array: fields select from bound
 * record arrays only. */
static bool fe_need_view(fe_parser *p, fe_val *v, size_t pos, size_t len, const char *what)
{
    if (v->kind == V_VIEW)
        return true;
    fe_fail_at(p, KILN_ESYNTAX, pos, len,
               "fields select from named record arrays; subscripts and .T apply to any value",
               "%s of a computed value", what);
    fe_drop(v);
    return false;
}

static fe_val fe_call(fe_parser *p, size_t npos, size_t nlen);

/* postfix = primary ( '[' subscript (',' subscript)* [','] ']'
 *                   | '.' NAME
 *                   | '(' ... ')' )*                    -- calls: see fe_call */
static fe_val fe_postfix(fe_parser *p, fe_val v)
{
    while (!p->failed) {
        size_t pos = p->tok.pos;
        if (p->tok.kind == T_LBRACK) {
            fe_advance(p);
            fe_sub subs[FE_MAX_SUBS];
            int n = 0;
            do {
                if (p->tok.kind == T_RBRACK && n > 0)
                    break; /* trailing comma */
                if (n == FE_MAX_SUBS) {
                    fe_fail_at(p, KILN_ESYNTAX, p->tok.pos, p->tok.len, NULL,
                               "too many subscripts (more than %d)", FE_MAX_SUBS);
                    break;
                }
                if (!fe_subscript(p, &subs[n++]))
                    break;
            } while (fe_accept(p, T_COMMA));
            if (!p->failed && p->tok.kind != T_RBRACK)
                fe_expected(p, "',' or ']'", NULL);
            if (p->failed) {
                fe_drop(&v);
                return fe_none();
            }
            size_t len = p->tok.pos + 1 - pos;
            fe_advance(p);
            if (p->failed)
                break;
            bool field = n == 1 && subs[0].kind == S_FIELD;
            if (v.kind != V_VIEW && !field) {
                fe_index_expr(p, &v, subs, n, pos, len);
            } else if (!fe_need_view(p, &v, pos, len, "field subscript")) {
                return fe_none();
            } else if (field) {
                char name[KILN_FIELD_NAME_MAX];
                size_t nl = 0;
                if (!v.rec) {
                    fe_fail_at(p, KILN_ESYNTAX, pos, len, NULL,
                               "'%s' is not a record array: it has no fields",
                               fe_bname(p, (size_t)v.bind));
                    fe_drop(&v);
                    return fe_none();
                }
                if (fe_unquote(p->src + subs[0].pos, subs[0].len, name, sizeof name, &nl))
                    fe_field(p, &v, name, nl, subs[0].pos, subs[0].len);
                else /* longer than any field name: reported with its raw text */
                    fe_field(p, &v, p->src + subs[0].pos + 1, subs[0].len - 2, subs[0].pos,
                             subs[0].len);
            } else {
                fe_index(p, &v, subs, n, pos, len);
            }
            if (p->failed)
                return fe_none();
            v.end = pos + len;
        } else if (p->tok.kind == T_DOT) {
            fe_advance(p);
            if (p->tok.kind != T_NAME) {
                fe_expected(p, "an attribute name after '.'", NULL);
                fe_drop(&v);
                return fe_none();
            }
            fe_tok name = p->tok;
            size_t len = name.pos + name.len - pos;
            fe_advance(p);
            if (p->failed)
                break;
            bool is_t = name.len == 1 && p->src[name.pos] == 'T';
            if (!is_t && !fe_need_view(p, &v, pos, len, "field access"))
                return fe_none();
            if (is_t) {
                fe_transpose(p, &v, pos, len);
            } else if (!v.rec) {
                char shown[FE_NAME_SHOW + 8];
                fe_buf nb = {shown, sizeof shown, 0};
                shown[0] = '\0';
                fe_put_name(&nb, p->src + name.pos, name.len);
                fe_fail_at(p, KILN_ESYNTAX, name.pos, name.len,
                           "the attributes are .T and, on a record array, its fields",
                           "'%s' is not a record array: no attribute %s",
                           fe_bname(p, (size_t)v.bind), shown);
                fe_drop(&v);
            } else {
                fe_field(p, &v, p->src + name.pos, name.len, name.pos, name.len);
            }
            if (p->failed)
                return fe_none();
            v.end = name.pos + name.len;
        } else if (p->tok.kind == T_LPAREN) {
            fe_fail_at(p, KILN_ESYNTAX, v.pos, p->tok.pos + 1 - v.pos, NULL,
                       "this value is not a function: only names can be called");
            fe_drop(&v);
            return fe_none();
        } else {
            break;
        }
    }
    if (p->failed)
        fe_drop(&v);
    return v;
}

/* An unknown name (or function, if called): lists the known names. */
static void fe_unknown(fe_parser *p, size_t pos, size_t len, bool called)
{
    const char *word = p->src + pos;
    unsigned sin_[FE_MAX_CANDIDATES], sfn[FE_MAX_CANDIDATES];
    int nin = p->nb > INT32_MAX ? INT32_MAX : (int)p->nb, nfn = fe_nfns(p->ctx);
    int bi = fe_score_all(fe_input_at, p, nin, word, len, sin_);
    int bf = fe_score_all(fe_fn_at, p->ctx, nfn, word, len, sfn);
    /* The suggestion: the closer of the two; on a tie, the kind the use
     * implies (a function when called). */
    bool fn_best = bi < 0 || (bf >= 0 && (called ? sfn[bf] <= sin_[bi] : sfn[bf] < sin_[bi]));
    char tail[FE_MSG];
    fe_buf b = {tail, FE_MSG - 300, 0}; /* room for the headline and the source */
    tail[0] = '\0';
    if (fn_best)
        fe_put_mean(&b, fe_fn_at(p->ctx, bf), sfn[bf], len);
    else
        fe_put_mean(&b, fe_input_at(p, bi), sin_[bi], len);
    fe_put(&b, "known names, closest first: ");
    for (int pass = 0; pass < 2; pass++) {
        if ((pass == 0) == called) {
            fe_put_ranked(&b, "functions", fe_fn_at, p->ctx, nfn, sfn, FE_SHOW_FNS,
                          ", see docs/OPS.md");
        } else if (nin) {
            fe_put_ranked(&b, "inputs", fe_input_at, p, nin, sin_, INT32_MAX, "");
        } else {
            fe_put(&b, "no inputs are bound");
        }
        fe_put(&b, pass == 0 ? "; " : "");
    }
    char shown[FE_NAME_SHOW + 8];
    fe_buf nb = {shown, sizeof shown, 0};
    shown[0] = '\0';
    fe_put_name(&nb, word, len);
    fe_fail_at(p, KILN_ESYNTAX, pos, len, tail, "unknown %s %s", called ? "function" : "name",
               shown);
}

static bool fe_is(const fe_parser *p, const fe_tok *t, const char *word)
{
    size_t n = strlen(word);
    return t->kind == T_NAME && t->len == n && memcmp(p->src + t->pos, word, n) == 0;
}

/* A name used as a value: an input, True/False, a constant. */
static fe_val fe_name(fe_parser *p, fe_tok t)
{
    int bi = fe_find_binding(p, t.pos, t.len);
    if (bi >= 0) {
        fe_val v = fe_none();
        v.kind = V_VIEW;
        v.arr = fe_barray(p, (size_t)bi);
        kiln_array_retain(v.arr);
        v.bind = bi;
        v.rec = fe_bnfields(p, (size_t)bi) > 0;
        v.pos = t.pos;
        v.end = t.pos + t.len;
        return v;
    }
    if (fe_is(p, &t, "True") || fe_is(p, &t, "False")) {
        kiln_expr e = kiln_bool(p->ctx, fe_is(p, &t, "True"));
        if (!fe_check(p, e, t.pos, t.len))
            return fe_none();
        return fe_of_expr(e, t.pos, t.pos + t.len);
    }
    for (size_t i = 0; i < sizeof fe_consts / sizeof fe_consts[0]; i++)
        if (fe_is(p, &t, fe_consts[i].name)) {
            fe_val v = fe_none();
            v.kind = V_FLOAT;
            v.f = fe_consts[i].value;
            v.pos = t.pos;
            v.end = t.pos + t.len;
            return v;
        }
    if (fe_is(p, &t, "None")) {
        fe_fail_at(p, KILN_ESYNTAX, t.pos, t.len, NULL,
                   "None is only valid inside a subscript, as in x[:, None]");
        return fe_none();
    }
    if (fe_boolop(p, &t))
        return fe_none();
    if (fe_lookup_fn(p->ctx, p->src + t.pos, t.len).kind != FN_NONE) {
        char shown[FE_NAME_SHOW + 8];
        fe_buf nb = {shown, sizeof shown, 0};
        shown[0] = '\0';
        fe_put_name(&nb, p->src + t.pos, t.len);
        fe_fail_at(p, KILN_ESYNTAX, t.pos, t.len, NULL,
                   "%s is a function: call it, as in %.*s(...)", shown,
                   (int)(t.len > FE_NAME_SHOW ? FE_NAME_SHOW : t.len), p->src + t.pos);
        return fe_none();
    }
    fe_unknown(p, t.pos, t.len, false);
    return fe_none();
}

/* Keyword arguments of a reduction or scan (FN_RED). */
typedef struct fe_kwargs {
    bool has_axis, has_keepdims, has_ddof;
    bool axis_none;          /* axis=None */
    int naxes;               /* axis=k: 1; axis=(k, ...): the count */
    int axes[KILN_MAX_RANK];
    bool keepdims;
    int64_t ddof;
    int n;                   /* keywords given */
} fe_kwargs;

/* kwint = ['-' | '+'] INT, in (INT32_MIN, INT32_MAX]: an axis or ddof. */
static bool fe_kw_int(fe_parser *p, int64_t *v)
{
    size_t pos = p->tok.pos;
    bool present;
    if (!fe_index_int(p, v, &present))
        return false;
    if (!present) {
        fe_expected(p, "an integer", NULL);
        return false;
    }
    if (*v <= INT32_MIN || *v > INT32_MAX) {
        fe_fail_at(p, KILN_ESYNTAX, pos, p->tok.pos - pos, NULL, "integer out of range here");
        return false;
    }
    return true;
}

static bool fe_tok_is(const fe_parser *p, const char *word)
{
    return fe_is(p, &p->tok, word);
}

/* kwarg = NAME '=' value, by the name:
 *   axis     = kwint | 'None' | '(' kwint (',' kwint)* [','] ')'
 *   keepdims = 'True' | 'False'
 *   ddof     = kwint
 * checked against what the reduction or scan fn takes (see fe_fn). */
static bool fe_kwarg(fe_parser *p, const fe_fn *fn, fe_kwargs *kw)
{
    fe_tok name = p->tok;
    const char *kn = p->src + name.pos;
    char shown[FE_NAME_SHOW + 8];
    fe_buf nb = {shown, sizeof shown, 0};
    shown[0] = '\0';
    fe_put_name(&nb, kn, name.len);
    if (fn->kind != FN_RED) {
        fe_fail_at(p, KILN_ESYNTAX, name.pos, name.len, NULL,
                   "%s() takes no keyword arguments (%s given)", fn->name, shown);
        return false;
    }
    bool one_axis = fn->op == GR_OP_ARGMIN || fn->op == GR_OP_ARGMAX || gr_is_scan(fn->op);
    bool dof = fn->op == GR_OP_VAR || fn->op == GR_OP_STD;
    bool is_axis = fe_tok_is(p, "axis");
    bool is_keep = fe_tok_is(p, "keepdims") && !one_axis;
    bool is_ddof = fe_tok_is(p, "ddof") && dof;
    if (!is_axis && !is_keep && !is_ddof) {
        fe_fail_at(p, KILN_ESYNTAX, name.pos, name.len,
                   one_axis ? "its keyword arguments: axis"
                   : dof    ? "its keyword arguments: axis, keepdims, ddof"
                            : "its keyword arguments: axis, keepdims",
                   "%s() got an unexpected keyword argument %s", fn->name, shown);
        return false;
    }
    if ((is_axis && kw->has_axis) || (is_keep && kw->has_keepdims) || (is_ddof && kw->has_ddof)) {
        fe_fail_at(p, KILN_ESYNTAX, name.pos, name.len, NULL, "keyword argument repeated: %s",
                   shown);
        return false;
    }
    fe_advance(p); /* NAME */
    fe_advance(p); /* '=' */
    if (p->failed)
        return false;
    size_t vpos = p->tok.pos;
    int64_t v;
    kw->n++;
    if (is_keep) {
        kw->has_keepdims = true;
        if (!fe_tok_is(p, "True") && !fe_tok_is(p, "False")) {
            fe_expected(p, "True or False", NULL);
            return false;
        }
        kw->keepdims = fe_tok_is(p, "True");
        fe_advance(p);
        return !p->failed;
    }
    if (is_ddof) {
        kw->has_ddof = true;
        if (!fe_kw_int(p, &v))
            return false;
        kw->ddof = v;
        return true;
    }
    kw->has_axis = true;
    if (fe_tok_is(p, "None")) {
        kw->axis_none = true;
        fe_advance(p);
        return !p->failed;
    }
    if (p->tok.kind != T_LPAREN) {
        if (!fe_kw_int(p, &v))
            return false;
        kw->naxes = 1;
        kw->axes[0] = (int)v;
        return true;
    }
    if (one_axis) {
        fe_fail_at(p, KILN_ESYNTAX, vpos, 1, NULL, "%s(): axis must be an integer or None",
                   fn->name);
        return false;
    }
    fe_advance(p); /* '(' */
    while (!p->failed && p->tok.kind != T_RPAREN) {
        if (kw->naxes == KILN_MAX_RANK) {
            fe_fail_at(p, KILN_ESYNTAX, p->tok.pos, p->tok.len, NULL, "more than %d axes",
                       KILN_MAX_RANK);
            return false;
        }
        if (!fe_kw_int(p, &v))
            return false;
        kw->axes[kw->naxes++] = (int)v;
        if (!fe_accept(p, T_COMMA))
            break;
    }
    if (!p->failed && p->tok.kind != T_RPAREN)
        fe_expected(p, "',' or ')'", NULL);
    if (p->failed)
        return false;
    if (kw->naxes == 0) {
        fe_fail_at(p, KILN_ESYNTAX, vpos, p->tok.pos + 1 - vpos, NULL,
                   "axis=() (reducing no axis) is not supported");
        return false;
    }
    fe_advance(p); /* ')' */
    return !p->failed;
}

/* Reduction or scan op of x with the keywords kw; NumPy's defaults for the
 * others (every axis, no keepdims, ddof 0; argmin/argmax and scans over
 * the flattened array). */
static kiln_expr fe_red_build(int op, kiln_expr x, const fe_kwargs *kw)
{
    int naxes = kw->axis_none ? 0 : kw->naxes, keep = kw->keepdims;
    int one = naxes ? kw->axes[0] : KILN_AXIS_NONE;
    const int *ax = kw->axes;
    switch ((gr_op)op) {
    case GR_OP_SUM: return kiln_sum(x, naxes, ax, keep);
    case GR_OP_PROD: return kiln_prod(x, naxes, ax, keep);
    case GR_OP_MIN: return kiln_min(x, naxes, ax, keep);
    case GR_OP_MAX: return kiln_max(x, naxes, ax, keep);
    case GR_OP_MEAN: return kiln_mean(x, naxes, ax, keep);
    case GR_OP_ALL: return kiln_all(x, naxes, ax, keep);
    case GR_OP_ANY: return kiln_any(x, naxes, ax, keep);
    case GR_OP_COUNT_NONZERO: return kiln_count_nonzero(x, naxes, ax, keep);
    case GR_OP_VAR: return kiln_var(x, naxes, ax, keep, (int)kw->ddof);
    case GR_OP_STD: return kiln_std(x, naxes, ax, keep, (int)kw->ddof);
    case GR_OP_ARGMIN: return kiln_argmin(x, one);
    case GR_OP_ARGMAX: return kiln_argmax(x, one);
    case GR_OP_CUMSUM: return kiln_cumsum(x, one);
    case GR_OP_CUMPROD: return kiln_cumprod(x, one);
    case GR_OP_CUMMIN: return kiln_cummin(x, one);
    case GR_OP_CUMMAX: return kiln_cummax(x, one);
    default: return kiln_op(x.ctx_, gr_ops[op].name, 1, &x); /* not reached */
    }
}

/* call = NAME '(' [arg (',' arg)* [',']] ')'
 * arg  = expr | kwarg     -- keywords (fe_kwarg): reductions and scans, last */
static fe_val fe_call(fe_parser *p, size_t npos, size_t nlen)
{
    fe_fn fn = fe_lookup_fn(p->ctx, p->src + npos, nlen);
    if (fn.kind == FN_NONE) {
        if (fe_find_binding(p, npos, nlen) >= 0)
            fe_fail_at(p, KILN_ESYNTAX, npos, nlen, NULL,
                       "'%s' is an input array, not a function",
                       fe_bname(p, (size_t)fe_find_binding(p, npos, nlen)));
        else
            fe_unknown(p, npos, nlen, true);
        return fe_none();
    }
    fe_advance(p); /* '(' */
    fe_val args[FE_MAX_ARGS];
    int n = 0;
    fe_kwargs kw;
    memset(&kw, 0, sizeof kw);
    while (!p->failed && p->tok.kind != T_RPAREN) {
        if (p->tok.kind == T_NAME && fe_lex(p->src, p->next).kind == T_ASSIGN) {
            if (!fe_kwarg(p, &fn, &kw) || !fe_accept(p, T_COMMA))
                break;
            continue;
        }
        if (kw.n > 0) {
            fe_fail_at(p, KILN_ESYNTAX, p->tok.pos, p->tok.len, NULL,
                       "positional argument follows keyword argument");
            break;
        }
        fe_val a = fe_expr(p);
        if (p->failed)
            break;
        if (n < FE_MAX_ARGS)
            args[n] = a;
        else
            fe_drop(&a);
        n++;
        if (!fe_accept(p, T_COMMA))
            break;
    }
    if (!p->failed && p->tok.kind != T_RPAREN)
        fe_expected(p, "',' or ')'", NULL);
    size_t end = p->tok.pos + 1;
    if (!p->failed && n != fn.nargs)
        fe_fail_at(p, KILN_ESYNTAX, npos, end - npos, NULL,
                   "%s() expects %d argument%s, %d given", fn.name, fn.nargs,
                   fn.nargs == 1 ? "" : "s", n);
    if (p->failed) {
        for (int i = 0; i < n && i < FE_MAX_ARGS; i++)
            fe_drop(&args[i]);
        return fe_none();
    }
    fe_advance(p); /* ')' */
    fe_val r;
    if (fn.kind == FN_CAST) {
        kiln_expr x = fe_expr_of(p, &args[0]);
        if (p->failed)
            return fe_none();
        kiln_expr c = kiln_cast(x, fn.dtype);
        if (!fe_check(p, c, npos, nlen))
            return fe_none();
        r = fe_of_expr(c, npos, end);
    } else if (fn.kind == FN_RED && kw.n > 0) {
        kiln_expr x = fe_expr_of(p, &args[0]);
        if (p->failed)
            return fe_none();
        kiln_expr c = fe_red_build(fn.op, x, &kw);
        if (!fe_check(p, c, npos, end - npos))
            return fe_none();
        r = fe_of_expr(c, npos, end);
    } else {
        r = fe_apply(p, fn.name, n, args, npos, nlen);
    }
    if (p->failed)
        return fe_none();
    r.pos = npos;
    r.end = end;
    return r;
}

/* primary = INT | FLOAT | NAME | call | '(' expr ')' */
static fe_val fe_primary(fe_parser *p)
{
    fe_tok t = p->tok;
    switch (t.kind) {
    case T_INT:
    case T_FLOAT: {
        fe_val v = fe_none();
        v.kind = t.kind == T_INT ? V_INT : V_FLOAT;
        v.mag = t.ival;
        v.f = t.fval;
        v.pos = t.pos;
        v.end = t.pos + t.len;
        fe_advance(p);
        return v;
    }
    case T_NAME: {
        fe_advance(p);
        if (p->failed)
            return fe_none();
        if (p->tok.kind == T_LPAREN)
            return fe_call(p, t.pos, t.len);
        return fe_name(p, t);
    }
    case T_LPAREN: {
        fe_advance(p);
        if (p->tok.kind == T_RPAREN) {
            fe_fail_at(p, KILN_ESYNTAX, t.pos, 2, NULL, "empty parentheses");
            return fe_none();
        }
        fe_val v = fe_expr(p);
        if (!p->failed && p->tok.kind != T_RPAREN)
            fe_expected(p, "')'",
                        p->tok.kind == T_COMMA ? "tuples are not values in expressions" : NULL);
        if (p->failed) {
            fe_drop(&v);
            return fe_none();
        }
        v.pos = t.pos;
        v.end = p->tok.pos + 1;
        fe_advance(p);
        if (p->failed)
            fe_drop(&v);
        return v;
    }
    case T_STRING:
        fe_fail_at(p, KILN_ESYNTAX, t.pos, t.len, NULL,
                   "strings are only valid as field subscripts, as in rec['name']");
        return fe_none();
    default:
        break;
    }
    if (t.kind == T_ASSIGN)
        fe_expected(p, "a value", "'=' is not an operator: use == to compare");
    else
        fe_expected(p, "a value", NULL);
    return fe_none();
}

/* NumPy's ** operator (not np.power) with a literal exponent on a float
 * array takes a fast path (array_power's fast_scalar_power): x**2 is
 * square(x), x**0.5 sqrt(x), x**-1 the reciprocal 1/x — results that differ
 * from pow's in the last bit for some x (and at -0.0 and -inf for 0.5).
 * kiln's ** does the same, so an expression string gives NumPy's bits;
 * power(x, 2) stays pow, as np.power(x, 2) does. */
typedef enum { FE_POW, FE_SQUARE, FE_SQRT, FE_RECIPROCAL } fe_powpath;

/* The path x ** ex takes. *base becomes an expression (its dtype decides)
 * unless it is a literal itself. */
static fe_powpath fe_power_path(fe_parser *p, fe_val *base, const fe_val *ex)
{
    if ((ex->kind != V_INT && ex->kind != V_FLOAT) || base->kind == V_INT ||
        base->kind == V_FLOAT)
        return FE_POW;
    size_t pos = base->pos, end = base->end;
    *base = fe_of_expr(fe_expr_of(p, base), pos, end);
    if (p->failed || !rt_is_float(kiln_expr_dtype(base->e)))
        return FE_POW;
    double v = ex->kind == V_INT ? (double)ex->mag : ex->f;
    v = ex->neg ? -v : v;
    return v == 2.0 ? FE_SQUARE : v == 0.5 ? FE_SQRT : v == -1.0 ? FE_RECIPROCAL : FE_POW;
}

/* power = postfix ['**' unary]       -- right-associative through unary */
static fe_val fe_unary(fe_parser *p);
static fe_val fe_power(fe_parser *p)
{
    fe_val base = fe_postfix(p, fe_primary(p));
    if (p->failed || p->tok.kind != T_POW)
        return base;
    fe_tok op = p->tok;
    if (!fe_enter(p)) {
        fe_drop(&base);
        return fe_none();
    }
    fe_advance(p);
    fe_val ex = fe_unary(p);
    p->depth--;
    if (p->failed) {
        fe_drop(&base);
        return fe_none();
    }
    fe_val args[2] = {base, ex};
    size_t start = base.pos;
    fe_val v;
    switch (fe_power_path(p, &args[0], &ex)) {
    case FE_POW: return fe_apply(p, "power", 2, args, op.pos, op.len);
    case FE_SQUARE: v = fe_apply(p, "square", 1, args, op.pos, op.len); break;
    case FE_SQRT: v = fe_apply(p, "sqrt", 1, args, op.pos, op.len); break;
    case FE_RECIPROCAL: /* 1 / x: the literal 1 takes x's float dtype (NEP 50) */
        args[1] = args[0];
        args[0] = ex;
        args[0].neg = false;
        args[0].mag = 1;
        args[0].f = 1.0;
        v = fe_apply(p, "divide", 2, args, op.pos, op.len);
        break;
    }
    if (!p->failed) { /* the span is the whole x ** ex */
        v.pos = start;
        v.end = ex.end;
    }
    return v;
}

/* unary = ('-' | '+' | '~') unary | power */
static fe_val fe_unary(fe_parser *p)
{
    fe_tok op = p->tok;
    fe_val v;
    if (op.kind == T_MINUS || op.kind == T_PLUS || op.kind == T_TILDE) {
        if (!fe_enter(p))
            return fe_none();
        fe_advance(p);
        v = fe_unary(p);
        if (!p->failed) {
            if (op.kind == T_PLUS) {
                v.pos = op.pos; /* +x is x */
            } else if (op.kind == T_MINUS && (v.kind == V_INT || v.kind == V_FLOAT)) {
                v.neg = !v.neg; /* a negative literal: -9223372036854775808 fits */
                v.pos = op.pos;
            } else {
                v = fe_apply(p, op.kind == T_MINUS ? "negative" : "invert", 1, &v, op.pos,
                             op.len);
                v.pos = op.pos;
            }
        }
        p->depth--;
    } else {
        v = fe_power(p);
    }
    return v;
}

/* binary(L) = binary(L+1) (op_L binary(L+1))*      for levels 2..7
 * comparison = binary(2) [cmp binary(2)]            -- not chained */
static fe_val fe_binary(fe_parser *p, int level)
{
    if (level > FE_TOP_LEVEL)
        return fe_unary(p);
    fe_val lhs = fe_binary(p, level + 1);
    int bi;
    while (!p->failed && (bi = fe_binop(p->tok.kind, level)) >= 0) {
        fe_tok op = p->tok;
        fe_advance(p);
        fe_val rhs = fe_binary(p, level + 1);
        if (p->failed) {
            fe_drop(&lhs);
            return fe_none();
        }
        fe_val args[2] = {lhs, rhs};
        lhs = fe_apply(p, fe_binops[bi].op, 2, args, op.pos, op.len);
        if (level == FE_CMP_LEVEL && !p->failed && fe_binop(p->tok.kind, level) >= 0) {
            fe_fail_at(p, KILN_ESYNTAX, p->tok.pos, p->tok.len,
                       "write (a < b) & (b < c); note & binds tighter than <, so the "
                       "parentheses are needed",
                       "comparisons cannot be chained");
            fe_drop(&lhs);
            return fe_none();
        }
    }
    return lhs;
}

/* expr = comparison */
static fe_val fe_expr(fe_parser *p)
{
    if (!fe_enter(p))
        return fe_none();
    fe_val v = fe_binary(p, FE_CMP_LEVEL);
    p->depth--;
    return v;
}

/* ---- entry points --------------------------------------------------------------- */

static bool fe_is_identifier(const char *s)
{
    if (!fe_isname0((unsigned char)s[0]))
        return false;
    for (const char *c = s; *c; c++)
        if (!fe_isname((unsigned char)*c))
            return false;
    return strcmp(s, "True") != 0 && strcmp(s, "False") != 0 && strcmp(s, "None") != 0;
}

/* Validates the bindings; returns an ERROR handle or the NULL handle. */
static kiln_expr fe_check_bindings(fe_parser *p)
{
    kiln_ctx *ctx = p->ctx;
    kiln_status st = KILN_OK;
    char msg[FE_MSG];
    msg[0] = '\0';
#define FE_BAD(code, ...)                                                                   \
    do {                                                                                    \
        st = code;                                                                          \
        snprintf(msg, sizeof msg, __VA_ARGS__);                                             \
        goto bad;                                                                           \
    } while (0)
    if (!p->src)
        FE_BAD(KILN_ENULL, "kiln_parse: the expression string is NULL");
    if (p->nb && p->use_b && !p->b)
        FE_BAD(KILN_ENULL, "kiln_parse_bindings: bindings is NULL for %zu bindings", p->nb);
    if (p->nb && !p->use_b && (!p->names || !p->arrays))
        FE_BAD(KILN_ENULL, "kiln_parse: names or arrays is NULL for %zu names", p->nb);
    for (size_t i = 0; i < p->nb; i++) {
        const char *n = fe_bname(p, i);
        kiln_array *a = fe_barray(p, i);
        if (!n)
            FE_BAD(KILN_ENULL, "kiln_parse: name %zu is NULL", i);
        if (!fe_is_identifier(n))
            FE_BAD(KILN_EINVAL,
                   "kiln_parse: name %zu ('%.64s') is not an identifier (letters, digits, _; "
                   "not True, False or None)",
                   i, n);
        for (size_t j = 0; j < i; j++)
            if (strcmp(n, fe_bname(p, j)) == 0)
                FE_BAD(KILN_EINVAL, "kiln_parse: name '%.64s' is bound twice (%zu and %zu)", n,
                       j, i);
        if (!a)
            FE_BAD(KILN_ENULL, "kiln_parse: the array bound to '%.64s' is NULL", n);
        if (a->env != ctx->env)
            FE_BAD(KILN_EFOREIGN, "kiln_parse: the array bound to '%.64s' belongs to another "
                                  "context", n);
        size_t nf = fe_bnfields(p, i);
        const kiln_field *f = fe_bfields(p, i);
        if (nf == 0)
            continue;
        if (!f)
            FE_BAD(KILN_ENULL, "kiln_parse: '%.64s' has %zu fields but fields is NULL", n, nf);
        if ((a->dtype != KILN_UINT8 && a->dtype != KILN_INT8) || a->rank < 1)
            FE_BAD(KILN_EINVAL,
                   "kiln_parse: record array '%.64s' must be uint8 or int8 with the record's "
                   "bytes as its last axis (it is %s of rank %d)",
                   n, rt_dtypes[a->dtype].name, a->rank);
        int64_t rsize = a->shape[a->rank - 1];
        for (size_t k = 0; k < nf; k++) {
            if (!memchr(f[k].name, '\0', sizeof f[k].name) || !f[k].name[0])
                FE_BAD(KILN_EINVAL, "kiln_parse: field %zu of '%.64s' has an empty or "
                                    "unterminated name", k, n);
            if (!rt_dtype_valid((int)f[k].dtype))
                FE_BAD(KILN_EDTYPE, "kiln_parse: field '%s' of '%.64s' has invalid dtype %d",
                       f[k].name, n, (int)f[k].dtype);
            if (f[k].offset < 0 || f[k].offset > rsize - (int64_t)rt_dtypes[f[k].dtype].size)
                FE_BAD(KILN_EINVAL,
                       "kiln_parse: field '%s' of '%.64s' (%s at offset %lld) does not fit in "
                       "its record of %lld bytes",
                       f[k].name, n, rt_dtypes[f[k].dtype].name, (long long)f[k].offset,
                       (long long)rsize);
            for (size_t j = 0; j < k; j++)
                if (strcmp(f[j].name, f[k].name) == 0)
                    FE_BAD(KILN_EINVAL, "kiln_parse: '%.64s' has two fields named '%s'", n,
                           f[k].name);
        }
    }
#undef FE_BAD
    return (kiln_expr){NULL, 0, 0};
bad:
    pthread_mutex_lock(&ctx->lock);
    kiln_expr h = fe_handle(ctx, gr_error(ctx->graph, st, "%s", msg));
    pthread_mutex_unlock(&ctx->lock);
    return h;
}

static kiln_expr fe_parse(fe_parser *p)
{
    kiln_expr bad = fe_check_bindings(p);
    if (bad.ctx_)
        return bad;
    fe_advance(p);
    if (!p->failed && p->tok.kind == T_EOF) {
        fe_fail_at(p, KILN_ESYNTAX, p->tok.pos, 1, NULL, "empty expression");
        return p->err;
    }
    fe_val v = fe_expr(p);
    if (!p->failed && p->tok.kind != T_EOF) {
        const char *hint = p->tok.kind == T_ASSIGN ? "'=' is not an operator: use == to compare"
                         : p->tok.kind == T_RPAREN ? "unbalanced ')'"
                                                   : "is an operator missing?";
        fe_expected(p, "an operator or end of input", hint);
    }
    kiln_expr e = fe_expr_of(p, &v);
    return p->failed ? p->err : e;
}

kiln_expr kiln_parse(kiln_ctx *ctx, const char *src, size_t nnames, const char *const *names,
                     kiln_array *const *arrays)
{
    if (!ctx)
        return (kiln_expr){NULL, 0, 0};
    fe_parser p;
    memset(&p, 0, sizeof p);
    p.ctx = ctx;
    p.src = src;
    p.nb = nnames;
    p.names = names;
    p.arrays = arrays;
    return fe_parse(&p);
}

kiln_expr kiln_parse_bindings(kiln_ctx *ctx, const char *src, size_t nbindings,
                              const kiln_binding *bindings)
{
    if (!ctx)
        return (kiln_expr){NULL, 0, 0};
    fe_parser p;
    memset(&p, 0, sizeof p);
    p.ctx = ctx;
    p.src = src;
    p.nb = nbindings;
    p.b = bindings;
    p.use_b = true;
    return fe_parse(&p);
}
