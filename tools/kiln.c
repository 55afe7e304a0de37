/*
 * tools/kiln.c — the `kiln` command: evaluates an expression string over
 * arrays from .npy files and prints the result the way NumPy's repr does,
 * or writes it to a .npy file; optionally times repeated evaluations.
 *
 *   kiln eval 'where(x > 0, x, 0.01*x)' --in x=data.npy [--out r.npy]
 *   kiln eval 'f(x, 2)' --in x=data.npy --udf ./libf.so:f:f64(f64,f64)
 *
 * Uses the public header only. Invariants: results go to stdout, messages
 * to stderr; the exit status is 0 on success, 1 when kiln reports an error
 * (a file, the expression, the evaluation), 2 for a usage error; every
 * array and the context are released on every path.
 */
#define _POSIX_C_SOURCE 200809L

#include <kiln.h>

#include <dlfcn.h>
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define EXIT_EVAL 1
#define EXIT_USAGE 2

static const char main_help[] =
    "usage: kiln <command> [options]\n"
    "\n"
    "kiln runs NumPy-style array expressions as fused, JIT-compiled loops.\n"
    "\n"
    "commands:\n"
    "  eval EXPR --in NAME=FILE.npy ...   evaluate an expression over .npy files\n"
    "                                     (kiln eval --help for its options)\n"
    "  cache stats                        the persistent kernel cache: folder, state,\n"
    "                                     entries, bytes and bound\n"
    "  cache clear                        remove every entry of the kernel cache\n"
    "\n"
    "options:\n"
    "  -h, --help      this help\n"
    "  --version       kiln's version\n"
    "\n"
    "example:\n"
    "  kiln eval 'where(x > 0, x, 0.01*x)' --in x=data.npy\n"
    "\n"
    "Compiled kernels are kept on disk so the next run loads them instead of\n"
    "compiling: KILN_CACHE_DIR (default $XDG_CACHE_HOME/kiln or ~/.cache/kiln),\n"
    "KILN_CACHE=off to disable, KILN_CACHE_MAX_MB bounds it (default 256).\n"
    "\n"
    "Expressions: docs/EXPRESSIONS.md. Exit status: 0 success, 1 error from kiln,\n"
    "2 usage error.\n";

static const char eval_help[] =
    "usage: kiln eval EXPR [--in NAME=FILE.npy]... [options]\n"
    "\n"
    "Evaluates EXPR (docs/EXPRESSIONS.md: NumPy's operators and precedence, ufuncs by\n"
    "name, casts such as float32(x), views such as x[1:, ::2] and x.T) over the arrays\n"
    "of .npy files. Without --out, prints the result's dtype, shape and a preview as\n"
    "NumPy's repr shows it (the first and last 3 items per axis of a large array).\n"
    "\n"
    "options:\n"
    "  --in NAME=FILE.npy  bind NAME to the array in FILE.npy (repeatable). A file of\n"
    "                      a structured dtype binds a record array: select its fields\n"
    "                      as NAME.field or NAME['field'].\n"
    "                        --in x=x.npy --in rec=weather.npy\n"
    "  --out FILE.npy      write the result to FILE.npy (C order) instead of printing\n"
    "                        --out result.npy\n"
    "  --mode MODE         fused (default: one compiled loop per fusable group),\n"
    "                      unfused (one kernel and temporary per operation, as NumPy)\n"
    "                      or interp (the reference interpreter)\n"
    "                        --mode unfused\n"
    "  --repeat N          after the first evaluation (which compiles), evaluate N more\n"
    "                      times into the same output; print the first's time and the\n"
    "                      median of the N\n"
    "                        --repeat 20\n"
    "  --threads N         accepted for scripts; kiln does not split evaluations over\n"
    "                      threads yet, so a note is printed and one thread is used\n"
    "                        --threads 2\n"
    "  --dump STAGES       write what kiln compiles, per kernel, for the stages named\n"
    "                      (comma-separated): graph (DAG as Graphviz DOT), plan (fusion\n"
    "                      plan), ir and opt (LLVM IR before/after optimization), asm,\n"
    "                      explain (why a kernel compiled: its difference from the\n"
    "                      nearest cached one), stats (a per-kernel table on stderr at\n"
    "                      exit), perf (/tmp/perf-PID.map for perf report); or all\n"
    "                        --dump plan,opt,stats   (docs/PROFILING.md)\n"
    "  --dump-dir DIR      where the dump files go (default ./kiln-dump)\n"
    "                        --dump-dir /tmp/kd\n"
    "  --udf LIB:SYMBOL:SIG  load the C function SYMBOL from the shared library LIB\n"
    "                      (dlopen; give a path with a '/', e.g. ./libf.so, for a file\n"
    "                      that is not on the library search path) and make it callable\n"
    "                      in EXPR as SYMBOL(...), elementwise with broadcasting\n"
    "                      (repeatable). SIG is its C signature in dtypes, RET(ARG,...)\n"
    "                      with 1 to 8 arguments, each bool or b1 (_Bool), int8..int64\n"
    "                      or i8..i64, uint8..uint64 or u8..u64, float32 or f32\n"
    "                      (float), float64 or f64 (double); arguments of other dtypes\n"
    "                      are cast as NumPy's same_kind rule allows. The function must\n"
    "                      be pure (kiln may call it any number of times per element)\n"
    "                        --udf ./libgeo.so:hypot3:f64(f64,f64,f32)\n"
    "  -h, --help          this help\n"
    "\n"
    "examples:\n"
    "  kiln eval 'where(x > 0, x, 0.01*x)' --in x=data.npy\n"
    "  kiln eval 'sqrt(a**2 + b**2)' --in a=a.npy --in b=b.npy --out r.npy --repeat 10\n"
    "  kiln eval 'rec.temperature[::2] * 1.8 + 32' --in rec=weather.npy\n"
    "  kiln eval 'sqrt(hypot3(x, y, 1))' --in x=x.npy --in y=y.npy \\\n"
    "            --udf ./libgeo.so:hypot3:'f64(f64,f64,f32)'\n"
    "\n"
    "Exit status: 0 success; 1 error from kiln (a file that cannot be loaded or\n"
    "written, a library or symbol that cannot be loaded, a function kiln cannot\n"
    "register, an expression that does not parse, an evaluation that fails); 2 usage\n"
    "error (including a --udf string or signature that does not parse). Messages go\n"
    "to stderr.\n";

static int usage(const char *fmt, const char *arg)
{
    fprintf(stderr, "kiln: ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, " (see kiln eval --help)\n");
    return EXIT_USAGE;
}

/* ---- growing strings ----------------------------------------------------- */

typedef struct str {
    char *p;
    size_t n, cap;
} str;

static void str_addn(str *s, const char *t, size_t n)
{
    if (s->n + n + 1 > s->cap) {
        size_t cap = s->cap ? s->cap : 64;
        while (cap < s->n + n + 1)
            cap *= 2;
        char *q = realloc(s->p, cap);
        if (!q) {
            fprintf(stderr, "kiln: out of memory\n");
            exit(EXIT_EVAL);
        }
        s->p = q;
        s->cap = cap;
    }
    memcpy(s->p + s->n, t, n);
    s->n += n;
    s->p[s->n] = '\0';
}

static void str_add(str *s, const char *t) { str_addn(s, t, strlen(t)); }

static void str_spaces(str *s, int n)
{
    for (int i = 0; i < n; i++)
        str_addn(s, " ", 1);
}

/* ---- reading elements through the public API ---------------------------- */

typedef union elem {
    double f;
    int64_t i;
    uint64_t u;
    bool b;
} elem;

static elem read_elem(const kiln_array *a, const int64_t *idx)
{
    const void *p = kiln_array_ptr(a, idx);
    elem e;
    memset(&e, 0, sizeof e);
    switch (kiln_array_dtype(a)) {
    case KILN_BOOL: { uint8_t v; memcpy(&v, p, 1); e.b = v != 0; break; }
    case KILN_INT8: { int8_t v; memcpy(&v, p, 1); e.i = v; break; }
    case KILN_INT16: { int16_t v; memcpy(&v, p, 2); e.i = v; break; }
    case KILN_INT32: { int32_t v; memcpy(&v, p, 4); e.i = v; break; }
    case KILN_INT64: { int64_t v; memcpy(&v, p, 8); e.i = v; break; }
    case KILN_UINT8: { uint8_t v; memcpy(&v, p, 1); e.u = v; break; }
    case KILN_UINT16: { uint16_t v; memcpy(&v, p, 2); e.u = v; break; }
    case KILN_UINT32: { uint32_t v; memcpy(&v, p, 4); e.u = v; break; }
    case KILN_UINT64: { uint64_t v; memcpy(&v, p, 8); e.u = v; break; }
    case KILN_FLOAT32: { float v; memcpy(&v, p, 4); e.f = v; break; }
    case KILN_FLOAT64: { double v; memcpy(&v, p, 8); e.f = v; break; }
    default: break;
    }
    return e;
}

static bool is_float(kiln_dtype t) { return t == KILN_FLOAT32 || t == KILN_FLOAT64; }
static bool is_signed(kiln_dtype t) { return t >= KILN_INT8 && t <= KILN_INT64; }

/* ---- NumPy's repr ----------------------------------------------------------
 * numpy/core/arrayprint.py with its defaults (precision 8, threshold 1000,
 * edgeitems 3, linewidth 75, floatmode 'maxprec', legacy off):
 * FloatingFormat, IntegerFormat, BoolFormat, _formatArray, array_repr. */

#define NP_PRECISION 8
#define NP_THRESHOLD 1000
#define NP_EDGE 3
#define NP_LINEWIDTH 75

typedef struct np_fmt {
    kiln_dtype t;
    bool exp;              /* floats: scientific notation */
    int pad_left, pad_right, precision, exp_size;
    int width;             /* integers */
    bool zero_d;           /* bools: "True" without the aligning space */
} np_fmt;

/* The shortest "%.{p}f" (or "%#.{p}e") with p <= 8 that reads back as x
 * (as a float32 if f32): Dragon4's unique mode, cut at 8 digits. */
static int np_shortest(double x, bool f32, bool sci, char *buf, size_t cap)
{
    for (int p = 0; p <= NP_PRECISION; p++) {
        snprintf(buf, cap, sci ? "%#.*e" : "%.*f", p, x);
        double back = strtod(buf, NULL);
        if (f32 ? (float)back == (float)x : back == x)
            return p;
    }
    snprintf(buf, cap, sci ? "%#.*e" : "%.*f", NP_PRECISION, x);
    return NP_PRECISION;
}

/* Positional, trimmed as trim='.': "1.", "2.25", "-0.5". */
static void np_positional(double x, bool f32, char *buf, size_t cap)
{
    np_shortest(x, f32, false, buf, cap);
    char *dot = strchr(buf, '.');
    if (!dot) {
        size_t n = strlen(buf);
        if (n + 1 < cap) {
            buf[n] = '.';
            buf[n + 1] = '\0';
        }
        return;
    }
    size_t n = strlen(buf);
    while (n > (size_t)(dot - buf) + 1 && buf[n - 1] == '0')
        buf[--n] = '\0';
}

/* Scientific, mantissa digits trimmed: mantissa in man ("1.5", "1."),
 * exponent in *e. */
static void np_scientific(double x, bool f32, char *man, size_t cap, int *e)
{
    char buf[64];
    np_shortest(x, f32, true, buf, sizeof buf);
    char *ep = strchr(buf, 'e');
    *e = ep ? atoi(ep + 1) : 0;
    if (ep)
        *ep = '\0';
    size_t n = strlen(buf);
    char *dot = strchr(buf, '.');
    while (dot && n > (size_t)(dot - buf) + 1 && buf[n - 1] == '0')
        buf[--n] = '\0';
    snprintf(man, cap, "%s", buf);
}

static int ndigits_exp(int e)
{
    int a = e < 0 ? -e : e, d = 1;
    while (a >= 10) {
        a /= 10;
        d++;
    }
    return d < 2 ? 2 : d;
}

/* FloatingFormat.fillFormat over the shown values. */
static void np_fill_float(np_fmt *f, const double *v, size_t n)
{
    bool f32 = f->t == KILN_FLOAT32;
    double mx = 0, mn = INFINITY;
    size_t finite = 0;
    bool neginf = false;
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(v[i])) {
            neginf = neginf || (isinf(v[i]) && v[i] < 0);
            continue;
        }
        finite++;
        double a = fabs(v[i]);
        if (a != 0) {
            mx = a > mx ? a : mx;
            mn = a < mn ? a : mn;
        }
    }
    f->exp = mx != 0 && (mx >= 1e8 || mn < 0.0001 || mx / mn > 1000.);
    f->pad_left = f->pad_right = 0;
    f->exp_size = -1;
    f->precision = NP_PRECISION;
    if (finite > 0 && f->exp) {
        int prec = 0;
        for (size_t i = 0; i < n; i++) {
            if (!isfinite(v[i]))
                continue;
            char man[64];
            int e;
            np_scientific(v[i], f32, man, sizeof man, &e);
            const char *dot = strchr(man, '.');
            int ip = dot ? (int)(dot - man) : (int)strlen(man);
            int fp = dot ? (int)strlen(dot + 1) : 0;
            f->pad_left = ip > f->pad_left ? ip : f->pad_left;
            prec = fp > prec ? fp : prec;
            int es = ndigits_exp(e);
            f->exp_size = es > f->exp_size ? es : f->exp_size;
        }
        f->precision = prec;
        f->pad_right = f->exp_size + 2 + prec;
    } else if (finite > 0) {
        for (size_t i = 0; i < n; i++) {
            if (!isfinite(v[i]))
                continue;
            char s[64];
            np_positional(v[i], f32, s, sizeof s);
            const char *dot = strchr(s, '.');
            int ip = (int)(dot - s), fp = (int)strlen(dot + 1);
            f->pad_left = ip > f->pad_left ? ip : f->pad_left;
            f->pad_right = fp > f->pad_right ? fp : f->pad_right;
        }
    }
    if (finite != n) {
        int offset = f->pad_right + 1;
        int need = (int)strlen("nan") - offset;
        f->pad_left = need > f->pad_left ? need : f->pad_left;
        need = (int)strlen("inf") + (neginf ? 1 : 0) - offset;
        f->pad_left = need > f->pad_left ? need : f->pad_left;
    }
}

static void np_fill_int(np_fmt *f, const elem *v, size_t n)
{
    f->width = 0;
    for (size_t i = 0; i < n; i++) {
        char s[32];
        int w = is_signed(f->t) ? snprintf(s, sizeof s, "%lld", (long long)v[i].i)
                                : snprintf(s, sizeof s, "%llu", (unsigned long long)v[i].u);
        f->width = w > f->width ? w : f->width;
    }
}

/* One element, formatted as the array's format says. */
static void np_format(const np_fmt *f, elem e, str *out)
{
    char s[96];
    if (f->t == KILN_BOOL) {
        str_add(out, e.b ? (f->zero_d ? "True" : " True") : "False");
        return;
    }
    if (!is_float(f->t)) {
        if (is_signed(f->t))
            snprintf(s, sizeof s, "%*lld", f->width, (long long)e.i);
        else
            snprintf(s, sizeof s, "%*llu", f->width, (unsigned long long)e.u);
        str_add(out, s);
        return;
    }
    double x = e.f;
    bool f32 = f->t == KILN_FLOAT32;
    if (!isfinite(x)) {
        const char *r = isnan(x) ? "nan" : x < 0 ? "-inf" : "inf";
        str_spaces(out, f->pad_left + f->pad_right + 1 - (int)strlen(r));
        str_add(out, r);
        return;
    }
    if (f->exp) {
        /* exactly `precision` digits, unique: the shortest digits padded
         * with zeros (trim 'k'), the exponent to exp_size digits */
        char man[96];
        int ex;
        np_scientific(x, f32, man, sizeof man, &ex);
        const char *dot = strchr(man, '.');
        int ip = (int)(dot - man), fp = (int)strlen(dot + 1);
        if (fp > f->precision) { /* more digits than the widest: rounded */
            snprintf(s, sizeof s, "%#.*e", f->precision, x);
            char *ep = strchr(s, 'e');
            ex = atoi(ep + 1);
            *ep = '\0';
            snprintf(man, sizeof man, "%s", s);
            dot = strchr(man, '.');
            ip = (int)(dot - man);
            fp = (int)strlen(dot + 1);
        }
        str_spaces(out, f->pad_left - ip);
        str_add(out, man);
        for (int k = fp; k < f->precision; k++)
            str_add(out, "0");
        snprintf(s, sizeof s, "e%c%0*d", ex < 0 ? '-' : '+', f->exp_size, ex < 0 ? -ex : ex);
        str_add(out, s);
        return;
    }
    np_positional(x, f32, s, sizeof s);
    const char *dot = strchr(s, '.');
    int ip = (int)(dot - s), fp = (int)strlen(dot + 1);
    str_spaces(out, f->pad_left - ip);
    str_add(out, s);
    str_spaces(out, f->pad_right - fp);
}

typedef struct np_arr {
    const kiln_array *a;
    int rank;
    const int64_t *shape;
    bool summarize;
    np_fmt fmt;
} np_arr;

/* Visits the shown elements in C order (the first and last NP_EDGE of an
 * axis longer than 2*NP_EDGE when summarizing). */
static void np_visit(const np_arr *p, int64_t *idx, int axis, void (*f)(void *, elem), void *ud)
{
    if (axis == p->rank) {
        f(ud, read_elem(p->a, idx));
        return;
    }
    int64_t n = p->shape[axis];
    bool cut = p->summarize && n > 2 * NP_EDGE;
    for (int64_t i = 0; i < n; i++) {
        if (cut && i == NP_EDGE)
            i = n - NP_EDGE;
        idx[axis] = i;
        np_visit(p, idx, axis + 1, f, ud);
    }
}

typedef struct np_collect {
    elem *v;
    double *d;
    size_t n;
} np_collect;

static void np_collect_one(void *ud, elem e)
{
    np_collect *c = ud;
    c->v[c->n] = e;
    c->d[c->n] = e.f;
    c->n++;
}

/* _extendLine: wrap before word if the line would pass width. */
static void np_extend(str *s, str *line, const char *word, int width, const char *hang)
{
    bool wrap = (int)(line->n + strlen(word)) > width && line->n > strlen(hang);
    if (wrap) {
        size_t n = line->n;
        while (n > 0 && line->p[n - 1] == ' ')
            n--;
        str_addn(s, line->p, n);
        str_add(s, "\n");
        line->n = 0;
        str_add(line, hang);
    }
    str_add(line, word);
}

/* _formatArray's recurser: the text of the sub-array at idx[0..axis). */
static void np_recurse(const np_arr *p, int64_t *idx, int axis, const char *hang, int width,
                       str *out)
{
    if (axis == p->rank) {
        np_format(&p->fmt, read_elem(p->a, idx), out);
        return;
    }
    size_t hl = strlen(hang);
    char *next_hang = malloc(hl + 2);
    if (!next_hang) {
        fprintf(stderr, "kiln: out of memory\n");
        exit(EXIT_EVAL);
    }
    memcpy(next_hang, hang, hl);
    next_hang[hl] = ' ';
    next_hang[hl + 1] = '\0';
    int next_width = width - 1;
    int64_t n = p->shape[axis];
    bool summary = p->summarize && 2 * NP_EDGE < n;
    int64_t lead = summary ? NP_EDGE : 0, trail = summary ? NP_EDGE : n;
    int left = p->rank - axis;
    str s = {0};
    if (left == 1) {
        int elem_width = width - 1; /* max(len(', '.rstrip()), len(']')) */
        str line = {0};
        str_add(&line, hang);
        for (int64_t i = 0; i < lead + trail; i++) {
            bool last = i == lead + trail - 1;
            idx[axis] = i < lead ? i : n - (lead + trail - i);
            str word = {0};
            np_recurse(p, idx, axis + 1, next_hang, next_width, &word);
            np_extend(&s, &line, word.p, elem_width, hang);
            free(word.p);
            if (!last)
                str_add(&line, ", ");
            if (summary && i == lead - 1) {
                np_extend(&s, &line, "...", elem_width, hang);
                str_add(&line, ", ");
            }
        }
        str_addn(&s, line.p, line.n);
        free(line.p);
    } else {
        str_add(&s, "");
        for (int64_t i = 0; i < lead + trail; i++) {
            bool last = i == lead + trail - 1;
            idx[axis] = i < lead ? i : n - (lead + trail - i);
            str_add(&s, hang);
            np_recurse(p, idx, axis + 1, next_hang, next_width, &s);
            if (!last) {
                str_add(&s, ",");
                for (int k = 0; k < left - 1; k++)
                    str_add(&s, "\n");
            }
            if (summary && i == lead - 1) {
                str_add(&s, hang);
                str_add(&s, "...,");
                for (int k = 0; k < left - 1; k++)
                    str_add(&s, "\n");
            }
        }
    }
    free(next_hang);
    str_add(out, "[");
    if (s.n >= hl)
        str_addn(out, s.p + hl, s.n - hl);
    str_add(out, "]");
    free(s.p);
}

/* NumPy's repr of a: "array([1.5 , 2.25])", "array([1, 2], dtype=int32)". */
static void np_repr(const kiln_array *a, str *out)
{
    kiln_dtype t = kiln_array_dtype(a);
    int64_t size = kiln_array_size(a);
    int rank = kiln_array_rank(a);
    bool implied = (t == KILN_FLOAT64 || t == KILN_INT64 || t == KILN_BOOL) && size > 0;
    np_arr p = {a, rank, kiln_array_shape(a), size > NP_THRESHOLD, {0}};
    p.fmt.t = t;
    p.fmt.zero_d = rank == 0;
    str_add(out, "array(");
    if (size == 0) {
        if (rank == 1) {
            str_add(out, "[]");
        } else {
            char sh[256];
            int k = snprintf(sh, sizeof sh, "[], shape=(");
            for (int i = 0; i < rank; i++)
                k += snprintf(sh + k, sizeof sh - (size_t)k, i ? ", %lld" : "%lld",
                              (long long)p.shape[i]);
            snprintf(sh + k, sizeof sh - (size_t)k, ")");
            str_add(out, sh);
        }
    } else {
        /* the format, from the shown elements only */
        size_t cap = 1;
        for (int k = 0; k < rank; k++)
            cap *= (size_t)(p.summarize && p.shape[k] > 2 * NP_EDGE ? 2 * NP_EDGE : p.shape[k]);
        np_collect c = {malloc(cap * sizeof *c.v), malloc(cap * sizeof *c.d), 0};
        if (!c.v || !c.d) {
            fprintf(stderr, "kiln: out of memory\n");
            exit(EXIT_EVAL);
        }
        int64_t idx[KILN_MAX_RANK] = {0};
        np_visit(&p, idx, 0, np_collect_one, &c);
        if (is_float(t))
            np_fill_float(&p.fmt, c.d, c.n);
        else if (t != KILN_BOOL)
            np_fill_int(&p.fmt, c.v, c.n);
        free(c.v);
        free(c.d);
        /* line width less the suffix ")" or ","; hanging indent "array(" + "[" */
        np_recurse(&p, idx, 0, "       ", NP_LINEWIDTH - 1, out);
    }
    if (implied) {
        str_add(out, ")");
        return;
    }
    str_add(out, ",");
    char dt[64];
    snprintf(dt, sizeof dt, "dtype=%s)", kiln_dtype_name(t));
    const char *nl = strrchr(out->p, '\n');
    size_t last = nl ? out->n - (size_t)(nl + 1 - out->p) : out->n;
    if (last + strlen(dt) + 1 > NP_LINEWIDTH)
        str_add(out, "\n      ");
    else
        str_add(out, " ");
    str_add(out, dt);
}

/* ---- kiln eval ------------------------------------------------------------ */

typedef struct input {
    char *name;
    const char *path;
    kiln_array *array;
    kiln_field *fields;
    size_t nfields;
} input;

static bool is_identifier(const char *s, size_t n)
{
    if (n == 0 || !(s[0] == '_' || (s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z')))
        return false;
    for (size_t i = 1; i < n; i++)
        if (!(s[i] == '_' || (s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
              (s[i] >= '0' && s[i] <= '9')))
            return false;
    return !((n == 4 && !memcmp(s, "True", 4)) || (n == 5 && !memcmp(s, "False", 5)) ||
             (n == 4 && !memcmp(s, "None", 4)));
}

static bool parse_count(const char *s, long lo, long hi, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi)
        return false;
    *out = v;
    return true;
}

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Loads an input; records need their fields (retried with a larger table
 * when the file has more than 64). */
static kiln_status load_input(kiln_ctx *ctx, input *in)
{
    size_t cap = 64, n = 0;
    for (;;) {
        in->fields = malloc(cap * sizeof *in->fields);
        if (!in->fields)
            return KILN_ENOMEM;
        kiln_status s = kiln_npy_load_records(ctx, in->path, &in->array, in->fields, cap, &n);
        if (s == KILN_EINVAL && n > cap) {
            free(in->fields);
            cap = n;
            continue;
        }
        in->nfields = s == KILN_OK ? n : 0;
        return s;
    }
}

/* ---- --udf LIB:SYMBOL:SIG -------------------------------------------------- */

typedef struct udf_spec {
    char *lib, *sym;   /* malloc'd */
    kiln_dtype ret;
    int nargs;
    kiln_dtype args[KILN_UDF_MAX_ARGS];
    void *handle;      /* dlopen's, closed after the context is freed */
} udf_spec;

/* A dtype of a --udf signature: a canonical name or its bit-width short
 * form (f64, i8 = int8, u16, b1); -1 if neither. */
static int udf_dtype(const char *s, size_t n)
{
    static const char *const shortn[KILN_DTYPE_COUNT] = {
        [KILN_BOOL] = "b1",   [KILN_INT8] = "i8",    [KILN_INT16] = "i16",  [KILN_INT32] = "i32",
        [KILN_INT64] = "i64", [KILN_UINT8] = "u8",   [KILN_UINT16] = "u16", [KILN_UINT32] = "u32",
        [KILN_UINT64] = "u64", [KILN_FLOAT32] = "f32", [KILN_FLOAT64] = "f64",
    };
    for (int t = 0; t < KILN_DTYPE_COUNT; t++) {
        const char *c = kiln_dtype_name((kiln_dtype)t);
        if ((strlen(c) == n && !strncmp(s, c, n)) ||
            (strlen(shortn[t]) == n && !strncmp(s, shortn[t], n)))
            return t;
    }
    return -1;
}

static const char *skip_spaces(const char *p)
{
    while (*p == ' ' || *p == '\t')
        p++;
    return p;
}

/* Reads one dtype name at *p (spaces around it skipped); -1 and a message
 * on a bad one. */
static int udf_read_dtype(const char **p, const char *spec, char *why, size_t cap)
{
    const char *a = skip_spaces(*p), *b = a;
    while ((*b >= 'a' && *b <= 'z') || (*b >= '0' && *b <= '9'))
        b++;
    int t = udf_dtype(a, (size_t)(b - a));
    if (t < 0) {
        if (b == a)
            snprintf(why, cap, "--udf '%s': expected a dtype at '%s'", spec, a);
        else
            snprintf(why, cap,
                     "--udf '%s': unknown dtype '%.*s' (bool/b1, int8..int64/i8..i64, "
                     "uint8..uint64/u8..u64, float32/f32, float64/f64)",
                     spec, (int)(b - a), a);
        return -1;
    }
    *p = skip_spaces(b);
    return t;
}

/* Parses LIB:SYMBOL:RET(ARG,...) into u (LIB may contain ':'; SYMBOL and
 * SIG may not). False with a message in why. */
static bool udf_parse(const char *spec, udf_spec *u, char *why, size_t cap)
{
    const char *c2 = strrchr(spec, ':'), *c1 = NULL;
    for (const char *q = spec; c2 && q < c2; q++)
        if (*q == ':')
            c1 = q;
    if (!c1 || c1 == spec || c2 == c1 + 1 || c2[1] == '\0') {
        snprintf(why, cap, "--udf wants LIB:SYMBOL:SIG, e.g. ./libf.so:f:f64(f64,f64), not '%s'",
                 spec);
        return false;
    }
    size_t nsym = (size_t)(c2 - c1 - 1);
    bool ident = !(c1[1] >= '0' && c1[1] <= '9');
    for (size_t i = 0; i < nsym; i++) {
        char ch = c1[1 + i];
        ident &= (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || ch == '_' ||
                 (ch >= '0' && ch <= '9');
    }
    if (!ident) {
        snprintf(why, cap, "--udf '%s': SYMBOL '%.*s' must be a C identifier", spec, (int)nsym,
                 c1 + 1);
        return false;
    }
    const char *p = c2 + 1;
    int t = udf_read_dtype(&p, spec, why, cap);
    if (t < 0)
        return false;
    u->ret = (kiln_dtype)t;
    if (*p != '(') {
        snprintf(why, cap, "--udf '%s': SIG is RET(ARG,...), e.g. f64(f64,f64): expected '(' "
                           "after the return dtype", spec);
        return false;
    }
    p++;
    u->nargs = 0;
    for (;;) {
        if ((t = udf_read_dtype(&p, spec, why, cap)) < 0)
            return false;
        if (u->nargs == KILN_UDF_MAX_ARGS) {
            snprintf(why, cap, "--udf '%s': more than %d arguments", spec, KILN_UDF_MAX_ARGS);
            return false;
        }
        u->args[u->nargs++] = (kiln_dtype)t;
        if (*p == ',') {
            p++;
            continue;
        }
        if (*p == ')' && *skip_spaces(p + 1) == '\0')
            break;
        if (*p == '\0')
            snprintf(why, cap, "--udf '%s': missing ')' at the end of SIG", spec);
        else
            snprintf(why, cap, "--udf '%s': expected ',' or a final ')' at '%s'", spec, p);
        return false;
    }
    u->lib = malloc((size_t)(c1 - spec) + 1);
    u->sym = malloc(nsym + 1);
    if (!u->lib || !u->sym) {
        snprintf(why, cap, "out of memory");
        return false;
    }
    memcpy(u->lib, spec, (size_t)(c1 - spec));
    u->lib[c1 - spec] = '\0';
    memcpy(u->sym, c1 + 1, nsym);
    u->sym[nsym] = '\0';
    return true;
}

/* Loads u's library and symbol and registers it on ctx; prints the error
 * and returns false on failure. */
static bool udf_load(kiln_ctx *ctx, udf_spec *u)
{
    u->handle = dlopen(u->lib, RTLD_NOW | RTLD_LOCAL);
    if (!u->handle) {
        const char *e = dlerror();
        fprintf(stderr, "kiln: error: --udf: cannot load library '%s': %s\n", u->lib,
                e ? e : "unknown error");
        return false;
    }
    dlerror();
    void *sym = dlsym(u->handle, u->sym);
    if (!sym) {
        const char *e = dlerror();
        fprintf(stderr, "kiln: error: --udf: no symbol '%s' in '%s'%s%s\n", u->sym, u->lib,
                e ? ": " : "", e ? e : "");
        return false;
    }
    kiln_udf_fn fn;
    memcpy(&fn, &sym, sizeof fn); /* POSIX: dlsym's object pointer is the function's */
    if (kiln_udf_register(ctx, u->sym, fn, u->ret, u->nargs, u->args) != KILN_OK) {
        fprintf(stderr, "kiln: error: --udf %s: %s\n", u->sym, kiln_errmsg(ctx));
        return false;
    }
    return true;
}

static int cmd_eval(int argc, char **argv)
{
    const char *expr = NULL, *out_path = NULL, *mode_name = "fused";
    long repeat = 0, threads = 0;
    const char *dump_stages = NULL, *dump_dir = NULL;
    input *ins = calloc((size_t)argc + 1, sizeof *ins);
    size_t nin = 0;
    udf_spec *udfs = calloc((size_t)argc + 1, sizeof *udfs);
    size_t nudf = 0;
    int rc = 0;
    kiln_ctx *ctx = NULL;
    kiln_array *result = NULL;
    kiln_binding *bind = NULL;
    if (!ins || !udfs) {
        fprintf(stderr, "kiln: out of memory\n");
        free(ins);
        free(udfs);
        return EXIT_EVAL;
    }
    bool options = true;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (options && strcmp(a, "--") == 0) {
            options = false;
            continue;
        }
        if (!options || !(strncmp(a, "--", 2) == 0 || strcmp(a, "-h") == 0)) {
            /* EXPR: options are long, so "-x + 1" is an expression */
            if (expr) {
                rc = usage("unexpected argument '%s': EXPR is given once; quote it", a);
                goto done;
            }
            expr = a;
            continue;
        }
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            fputs(eval_help, stdout);
            goto done;
        }
        /* --opt VALUE or --opt=VALUE */
        const char *eq = strchr(a, '=');
        size_t nlen = eq ? (size_t)(eq - a) : strlen(a);
        static const char *const valued[] = {"--in", "--out", "--mode", "--repeat",
                                             "--threads", "--dump", "--dump-dir", "--udf"};
        int which = -1;
        for (int k = 0; k < 8; k++)
            if (strlen(valued[k]) == nlen && strncmp(a, valued[k], nlen) == 0)
                which = k;
        if (which < 0) {
            rc = usage("unknown option '%s'", a);
            goto done;
        }
        const char *val = eq ? eq + 1 : (i + 1 < argc ? argv[++i] : NULL);
        if (!val) {
            rc = usage("option '%s' needs a value", a);
            goto done;
        }
        switch (which) {
        case 0: { /* --in NAME=FILE */
            const char *e2 = strchr(val, '=');
            if (!e2 || e2 == val || e2[1] == '\0') {
                rc = usage("--in wants NAME=FILE.npy, not '%s'", val);
                goto done;
            }
            size_t n = (size_t)(e2 - val);
            if (!is_identifier(val, n)) {
                rc = usage("--in '%s': NAME must be an identifier (letters, digits, _)", val);
                goto done;
            }
            for (size_t k = 0; k < nin; k++)
                if (strlen(ins[k].name) == n && strncmp(ins[k].name, val, n) == 0) {
                    rc = usage("--in '%s': the name is bound twice", val);
                    goto done;
                }
            ins[nin].name = malloc(n + 1);
            if (!ins[nin].name) {
                rc = EXIT_EVAL;
                goto done;
            }
            memcpy(ins[nin].name, val, n);
            ins[nin].name[n] = '\0';
            ins[nin].path = e2 + 1;
            nin++;
            break;
        }
        case 1: out_path = val; break;
        case 2:
            if (strcmp(val, "fused") && strcmp(val, "unfused") && strcmp(val, "interp")) {
                rc = usage("--mode is fused, unfused or interp, not '%s'", val);
                goto done;
            }
            mode_name = val;
            break;
        case 3:
            if (!parse_count(val, 1, 1000000, &repeat)) {
                rc = usage("--repeat wants a count from 1 to 1000000, not '%s'", val);
                goto done;
            }
            break;
        case 4:
            if (!parse_count(val, 1, 4096, &threads)) {
                rc = usage("--threads wants a count from 1 to 4096, not '%s'", val);
                goto done;
            }
            break;
        case 5: dump_stages = val; break;
        case 6: dump_dir = val; break;
        default: { /* --udf LIB:SYMBOL:SIG */
            char why[512];
            bool ok = udf_parse(val, &udfs[nudf], why, sizeof why);
            nudf++; /* freed at done: either way */
            if (!ok) {
                rc = usage("%s", why);
                goto done;
            }
            break;
        }
        }
    }
    if (!expr) {
        rc = usage("%s", "eval needs an expression: kiln eval EXPR --in NAME=FILE.npy ...");
        goto done;
    }
    if (threads > 1)
        fprintf(stderr, "kiln: note: --threads %ld: kiln does not split evaluations over "
                        "threads yet; using one thread\n", threads);

    ctx = kiln_ctx_new(NULL);
    if (!ctx) {
        fprintf(stderr, "kiln: error: out of memory creating a context\n");
        rc = EXIT_EVAL;
        goto done;
    }
    if (dump_stages || dump_dir) {
        kiln_status ds = kiln_ctx_set_dump(ctx, dump_stages, dump_dir);
        if (ds == KILN_EINVAL) {
            rc = usage("--dump: %s", kiln_errmsg(ctx));
            goto done;
        }
        if (ds != KILN_OK) {
            fprintf(stderr, "kiln: error: --dump-dir: %s\n", kiln_errmsg(ctx));
            rc = EXIT_EVAL;
            goto done;
        }
    }
    kiln_mode mode = !strcmp(mode_name, "interp")    ? KILN_MODE_INTERP
                   : !strcmp(mode_name, "unfused") ? KILN_MODE_UNFUSED
                                                   : KILN_MODE_FUSED;
    for (size_t k = 0; k < nudf; k++)
        if (!udf_load(ctx, &udfs[k])) {
            rc = EXIT_EVAL;
            goto done;
        }
    bind = calloc(nin + 1, sizeof *bind);
    if (!bind) {
        rc = EXIT_EVAL;
        goto done;
    }
    for (size_t k = 0; k < nin; k++) {
        if (load_input(ctx, &ins[k]) != KILN_OK) {
            fprintf(stderr, "kiln: error: --in %s: %s\n", ins[k].name, kiln_errmsg(ctx));
            rc = EXIT_EVAL;
            goto done;
        }
        bind[k] = (kiln_binding){ins[k].name, ins[k].array, ins[k].fields, ins[k].nfields};
    }
    kiln_expr e = kiln_parse_bindings(ctx, expr, nin, bind);
    if (kiln_expr_status(e) != KILN_OK) {
        fprintf(stderr, "kiln: error: %s\n", kiln_errmsg(ctx));
        rc = EXIT_EVAL;
        goto done;
    }
    uint64_t compiles = kiln_ctx_counter(ctx, KILN_COUNTER_COMPILES);
    double t0 = now_ms();
    kiln_status s = kiln_eval_many(ctx, mode, 1, &e, &result);
    double first = now_ms() - t0;
    if (s != KILN_OK) {
        fprintf(stderr, "kiln: error: evaluation failed: %s\n", kiln_errmsg(ctx));
        rc = EXIT_EVAL;
        goto done;
    }
    compiles = kiln_ctx_counter(ctx, KILN_COUNTER_COMPILES) - compiles;
    double *times = repeat ? malloc((size_t)repeat * sizeof *times) : NULL;
    if (repeat && !times) {
        rc = EXIT_EVAL;
        goto done;
    }
    for (long r = 0; r < repeat; r++) {
        t0 = now_ms();
        s = kiln_eval_many(ctx, mode, 1, &e, &result); /* into the same array */
        times[r] = now_ms() - t0;
        if (s != KILN_OK) {
            fprintf(stderr, "kiln: error: evaluation %ld failed: %s\n", r + 2, kiln_errmsg(ctx));
            free(times);
            rc = EXIT_EVAL;
            goto done;
        }
    }
    if (out_path) {
        if (kiln_npy_save(result, out_path) != KILN_OK) {
            fprintf(stderr, "kiln: error: %s\n", kiln_errmsg(ctx));
            free(times);
            rc = EXIT_EVAL;
            goto done;
        }
    } else {
        str text = {0};
        np_repr(result, &text);
        printf("dtype: %s\nshape: (", kiln_dtype_name(kiln_array_dtype(result)));
        for (int k = 0; k < kiln_array_rank(result); k++)
            printf(k ? ", %lld" : "%lld", (long long)kiln_array_shape(result)[k]);
        printf("%s\n%s\n", kiln_array_rank(result) == 1 ? ",)" : ")", text.p);
        free(text.p);
    }
    if (repeat) {
        qsort(times, (size_t)repeat, sizeof *times, cmp_double);
        double med = repeat % 2 ? times[repeat / 2]
                                : (times[repeat / 2 - 1] + times[repeat / 2]) / 2;
        printf("first evaluation: %.3f ms (%s mode, %llu kernel%s compiled)\n", first, mode_name,
               (unsigned long long)compiles, compiles == 1 ? "" : "s");
        printf("median of %ld more: %.3f ms\n", repeat, med);
    }
    free(times);
    if (fflush(stdout) != 0) {
        fprintf(stderr, "kiln: error: cannot write the output: %s\n", strerror(errno));
        rc = EXIT_EVAL;
    }
done:
    kiln_array_release(result);
    for (size_t k = 0; k < nin; k++) {
        kiln_array_release(ins[k].array);
        free(ins[k].fields);
        free(ins[k].name);
    }
    free(ins);
    free(bind);
    kiln_ctx_free(ctx); /* before the libraries: kernels call their functions */
    for (size_t k = 0; k < nudf; k++) {
        if (udfs[k].handle)
            dlclose(udfs[k].handle);
        free(udfs[k].lib);
        free(udfs[k].sym);
    }
    free(udfs);
    return rc;
}

/* kiln cache stats|clear: the folder KILN_CACHE_DIR & co. name, whether
 * or not KILN_CACHE is off (clearing a disabled cache is still useful). */
static int cmd_cache(int argc, char **argv)
{
    if (argc != 1 || (strcmp(argv[0], "stats") && strcmp(argv[0], "clear"))) {
        fprintf(stderr, "kiln: usage: kiln cache stats | kiln cache clear (see kiln --help)\n");
        return EXIT_USAGE;
    }
    kiln_ctx *ctx = kiln_ctx_new(NULL);
    if (!ctx) {
        fprintf(stderr, "kiln: out of memory\n");
        return EXIT_EVAL;
    }
    int rc = 0;
    const char *off = getenv("KILN_CACHE");
    if (off && (!strcmp(off, "off") || !strcmp(off, "0") || !strcmp(off, "no") ||
                !strcmp(off, "false")) && !strcmp(argv[0], "clear"))
        kiln_ctx_set_disk_cache(ctx, 1, NULL);
    if (!strcmp(argv[0], "stats")) {
        if (kiln_ctx_print_cache(ctx, stdout) != KILN_OK)
            rc = EXIT_EVAL;
    } else {
        uint64_t removed = 0;
        if (kiln_ctx_clear_cache(ctx, &removed) == KILN_OK) {
            printf("removed %llu file%s\n", (unsigned long long)removed, removed == 1 ? "" : "s");
        } else {
            fprintf(stderr, "kiln: %s\n", kiln_errmsg(ctx));
            rc = EXIT_EVAL;
        }
    }
    kiln_ctx_free(ctx);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fputs(main_help, stderr);
        return EXIT_USAGE;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "-h") || !strcmp(cmd, "--help") || !strcmp(cmd, "help")) {
        fputs(main_help, stdout);
        return 0;
    }
    if (!strcmp(cmd, "--version")) {
        printf("kiln %s\n", KILN_VERSION_STRING);
        return 0;
    }
    if (!strcmp(cmd, "eval"))
        return cmd_eval(argc - 2, argv + 2);
    if (!strcmp(cmd, "cache"))
        return cmd_cache(argc - 2, argv + 2);
    fprintf(stderr, "kiln: unknown command '%s' (see kiln --help)\n", cmd);
    return EXIT_USAGE;
}
