/*
 * graph/sig_diff.c — kernel signatures read back and compared field by
 * field, for the `explain` dump: why did this kernel compile instead of
 * reusing a cached one?
 *
 * The byte layout is graph/sig.c's (version GR_SIG_VERSION):
 *   u8 version, u8 rank, u8 flags (bit 0 noalias; bits 1-2 kernel kind:
 *   elementwise, reduce, scan; bit 3 outer; bits 4-7 reduced dims — an
 *   elementwise kernel's byte is its noalias alone),
 *   u16 nops, nout, nparams, nvals,
 *   per operand u8 dtype, u8 is_out, u16 classes (2 bits per loop dim),
 *   per param u8 dtype,
 *   per value u8 op, u8 dtype, u8 nin, u16 arg (INPUT/SCALAR only),
 *             u64 function address (UDF only), u16 in[nin],
 *   per output u16 value index.
 * Invariant: a signature that does not decode (short, trailing bytes, a
 * version this file does not know) is reported as GR_SIGD_BAD, never read
 * past its end. The static assert below breaks the build when sig.c's
 * layout version moves, so this reader is updated with it.
 */
#include "graph/dump.h"

#include <stdarg.h>
#include <string.h>

_Static_assert(GR_SIG_VERSION == 2, "graph/sig_diff.c reads signature layout 2: update it");

typedef struct sd_sig {
    const uint8_t *p;
    size_t len;
    unsigned rank, noalias, kind, outer, nred, nops, nout, nparams, nvals;
    size_t ops_at, params_at, vals_at, outs_at;
    bool ok;
} sd_sig;

typedef struct sd_val {
    unsigned op, dtype, nin, arg;
    uint64_t fn; /* UDF: the function's address */
    unsigned in[GR_MAX_INPUTS];
} sd_val;

static unsigned sd_u16(const uint8_t *p) { return (unsigned)p[0] | (unsigned)p[1] << 8; }

/* Reads the value at *at, advancing it; false past the end. */
static bool sd_read_val(const sd_sig *s, size_t *at, sd_val *v)
{
    const uint8_t *p = s->p;
    if (*at + 3 > s->len)
        return false;
    memset(v, 0, sizeof *v);
    v->op = p[*at];
    v->dtype = p[*at + 1];
    v->nin = p[*at + 2];
    *at += 3;
    if (v->nin > GR_MAX_INPUTS || v->op >= GR_OP_COUNT)
        return false;
    if (v->op == GR_OP_INPUT || v->op == GR_OP_SCALAR) {
        if (*at + 2 > s->len)
            return false;
        v->arg = sd_u16(p + *at);
        *at += 2;
    }
    if (gr_is_udf((int)v->op)) {
        if (*at + 8 > s->len)
            return false;
        for (int i = 0; i < 4; i++)
            v->fn |= (uint64_t)sd_u16(p + *at + 2 * (size_t)i) << (16 * i);
        *at += 8;
    }
    for (unsigned j = 0; j < v->nin; j++) {
        if (*at + 2 > s->len)
            return false;
        v->in[j] = sd_u16(p + *at);
        *at += 2;
    }
    return true;
}

static sd_sig sd_parse(const uint8_t *p, size_t len)
{
    sd_sig s;
    memset(&s, 0, sizeof s);
    s.p = p;
    s.len = len;
    if (!p || len < 11 || p[0] != GR_SIG_VERSION)
        return s;
    s.rank = p[1];
    s.noalias = p[2] & 1u;
    s.kind = (p[2] >> 1) & 3u;
    s.outer = (p[2] >> 3) & 1u;
    s.nred = p[2] >> 4;
    s.nops = sd_u16(p + 3);
    s.nout = sd_u16(p + 5);
    s.nparams = sd_u16(p + 7);
    s.nvals = sd_u16(p + 9);
    s.ops_at = 11;
    s.params_at = s.ops_at + 4 * (size_t)s.nops;
    s.vals_at = s.params_at + s.nparams;
    if (s.vals_at > len || s.rank > KILN_MAX_RANK)
        return s;
    size_t at = s.vals_at;
    for (unsigned v = 0; v < s.nvals; v++) {
        sd_val x;
        if (!sd_read_val(&s, &at, &x))
            return s;
    }
    s.outs_at = at;
    s.ok = at + 2 * (size_t)s.nout == len;
    return s;
}

static unsigned sd_op_dtype(const sd_sig *s, unsigned o) { return s->p[s->ops_at + 4 * o]; }
static unsigned sd_op_isout(const sd_sig *s, unsigned o) { return s->p[s->ops_at + 4 * o + 1]; }
static unsigned sd_op_class(const sd_sig *s, unsigned o, unsigned d)
{
    return (sd_u16(s->p + s->ops_at + 4 * o + 2) >> (2 * d)) & 3u;
}
static unsigned sd_param_dtype(const sd_sig *s, unsigned q) { return s->p[s->params_at + q]; }
static unsigned sd_out_val(const sd_sig *s, unsigned o) { return sd_u16(s->p + s->outs_at + 2 * o); }

static const char *sd_dtype(unsigned t)
{
    const char *n = t < KILN_DTYPE_COUNT ? kiln_dtype_name((kiln_dtype)t) : NULL;
    return n ? n : "?";
}

static const char *const sd_class_name[4] = {"zero", "unit", "runit", "other"};
static const char *const sd_kind_name[4] = {"elementwise", "reduce", "scan", "kind 3"};

/* "elementwise" / "reduce over 2 dims (outer)". */
static void sd_kind(const sd_sig *s, char *buf, size_t cap)
{
    if (s->kind == 0)
        snprintf(buf, cap, "%s", sd_kind_name[0]);
    else
        snprintf(buf, cap, "%s over %u dim%s%s", sd_kind_name[s->kind & 3], s->nred,
                 s->nred == 1 ? "" : "s", s->outer ? " (vectorized across the kept dim)" : "");
}

/* ---- comparison ------------------------------------------------------------ */

typedef struct sd_cmp {
    unsigned parts;
    uint64_t nstruct, ndtype, nclass;
} sd_cmp;

/* Structure: counts, each operand's direction, each value's op and
 * wiring, each output's value. Values are compared in order while both
 * lists last. */
static void sd_compare(const sd_sig *a, const sd_sig *b, sd_cmp *c)
{
    memset(c, 0, sizeof *c);
    if (!a->ok || !b->ok) {
        c->parts = GR_SIGD_BAD;
        return;
    }
    if (a->rank != b->rank)
        c->parts |= GR_SIGD_RANK;
    if (a->noalias != b->noalias)
        c->parts |= GR_SIGD_NOALIAS;
    if (a->kind != b->kind || a->nred != b->nred || a->outer != b->outer)
        c->nstruct++;
    if (a->nops != b->nops || a->nout != b->nout || a->nparams != b->nparams ||
        a->nvals != b->nvals) {
        c->parts |= GR_SIGD_STRUCTURE;
        c->nstruct += (uint64_t)(a->nvals > b->nvals ? a->nvals - b->nvals : b->nvals - a->nvals) + 1;
    }
    unsigned nops = a->nops < b->nops ? a->nops : b->nops;
    for (unsigned o = 0; o < nops; o++) {
        if (sd_op_isout(a, o) != sd_op_isout(b, o))
            c->nstruct++;
        if (sd_op_dtype(a, o) != sd_op_dtype(b, o))
            c->ndtype++;
        if (a->rank == b->rank)
            for (unsigned d = 0; d < a->rank; d++)
                c->nclass += sd_op_class(a, o, d) != sd_op_class(b, o, d);
    }
    unsigned np = a->nparams < b->nparams ? a->nparams : b->nparams;
    for (unsigned q = 0; q < np; q++)
        c->ndtype += sd_param_dtype(a, q) != sd_param_dtype(b, q);
    size_t ia = a->vals_at, ib = b->vals_at;
    unsigned nv = a->nvals < b->nvals ? a->nvals : b->nvals;
    for (unsigned v = 0; v < nv; v++) {
        sd_val x, y;
        sd_read_val(a, &ia, &x);
        sd_read_val(b, &ib, &y);
        bool same = x.op == y.op && x.nin == y.nin && x.arg == y.arg && x.fn == y.fn;
        for (unsigned j = 0; same && j < x.nin; j++)
            same = x.in[j] == y.in[j];
        c->nstruct += !same;
        c->ndtype += x.dtype != y.dtype;
    }
    unsigned no = a->nout < b->nout ? a->nout : b->nout;
    for (unsigned o = 0; o < no; o++)
        c->nstruct += sd_out_val(a, o) != sd_out_val(b, o);
    if (c->nstruct)
        c->parts |= GR_SIGD_STRUCTURE;
    if (c->ndtype)
        c->parts |= GR_SIGD_DTYPE;
    if (c->nclass)
        c->parts |= GR_SIGD_SCLASS;
}

uint64_t gr_sig_distance(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen,
                         unsigned *parts)
{
    sd_sig x = sd_parse(a, alen), y = sd_parse(b, blen);
    sd_cmp c;
    sd_compare(&x, &y, &c);
    if (parts)
        *parts = c.parts;
    if (c.parts & GR_SIGD_BAD)
        return UINT64_MAX;
    uint64_t d = 0;
    if (c.parts & GR_SIGD_STRUCTURE)
        d += (UINT64_C(1) << 40) + (c.nstruct << 20);
    if (c.parts & GR_SIGD_RANK)
        d += UINT64_C(1) << 36;
    d += (c.ndtype < 65535 ? c.ndtype : 65535) << 8;
    d += c.nclass < 127 ? c.nclass : 127;
    d += (c.parts & GR_SIGD_NOALIAS) ? 128 : 0;
    return d;
}

/* ---- description ----------------------------------------------------------- */

typedef struct sd_out {
    FILE *f;
    int lines, max;
    int more;
} sd_out;

static void sd_line(sd_out *o, const char *fmt, ...) RT_PRINTF(2, 3);

static void sd_line(sd_out *o, const char *fmt, ...)
{
    if (o->lines >= o->max) {
        o->more++;
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    fputs("  ", o->f);
    vfprintf(o->f, fmt, ap);
    fputc('\n', o->f);
    va_end(ap);
    o->lines++;
}

static void sd_opname(const sd_sig *s, unsigned o, char *buf, size_t cap)
{
    snprintf(buf, cap, "%s%u", sd_op_isout(s, o) ? "out" : "in", o);
}

/* The ops of a body, in order, leaves left out: "multiply add". */
static void sd_ops_list(const sd_sig *s, char *buf, size_t cap)
{
    size_t at = s->vals_at, len = 0;
    buf[0] = '\0';
    for (unsigned v = 0; v < s->nvals && len + 1 < cap; v++) {
        sd_val x;
        if (!sd_read_val(s, &at, &x))
            break;
        if (gr_ops[x.op].arity == 0)
            continue;
        int n = snprintf(buf + len, cap - len, "%s%s", len ? " " : "", gr_ops[x.op].name);
        len += n > 0 ? (size_t)n : 0;
    }
    if (len >= cap && cap > 4)
        memcpy(buf + cap - 4, "...", 4);
    if (!buf[0])
        snprintf(buf, cap, "(a copy)");
}

unsigned gr_sig_diff(const uint8_t *was, size_t wlen, const uint8_t *now, size_t nlen,
                     int max_lines, FILE *f)
{
    sd_sig a = sd_parse(was, wlen), b = sd_parse(now, nlen);
    sd_cmp c;
    sd_compare(&a, &b, &c);
    if (c.parts & GR_SIGD_BAD) {
        fprintf(f, "differs in: (a signature does not decode)\n");
        return c.parts;
    }
    static const struct {
        unsigned bit;
        const char *name;
    } names[] = {{GR_SIGD_STRUCTURE, "structure"}, {GR_SIGD_RANK, "rank"},
                 {GR_SIGD_DTYPE, "dtype"},         {GR_SIGD_SCLASS, "stride class"},
                 {GR_SIGD_NOALIAS, "aliasing"}};
    fprintf(f, "differs in:");
    int shown = 0;
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (c.parts & names[i].bit)
            fprintf(f, "%s %s", shown++ ? "," : "", names[i].name);
    fprintf(f, "%s\n", shown ? "" : " nothing (equal signatures)");

    sd_out o = {f, 0, max_lines > 0 ? max_lines : 1, 0};
    char x[32], y[256], z[256];
    if (c.parts & GR_SIGD_STRUCTURE) {
        if (a.kind != b.kind || a.nred != b.nred || a.outer != b.outer) {
            sd_kind(&a, y, sizeof y);
            sd_kind(&b, z, sizeof z);
            sd_line(&o, "structure: kernel kind %s -> %s", y, z);
        }
        sd_ops_list(&a, y, sizeof y);
        sd_ops_list(&b, z, sizeof z);
        sd_line(&o, "structure: body %s -> %s", y, z);
        if (a.nops != b.nops || a.nparams != b.nparams || a.nvals != b.nvals || a.nout != b.nout)
            sd_line(&o, "structure: %u operands (%u out), %u params, %u values -> "
                        "%u operands (%u out), %u params, %u values",
                    a.nops, a.nout, a.nparams, a.nvals, b.nops, b.nout, b.nparams, b.nvals);
        else
            sd_line(&o, "structure: same counts, different ops or wiring");
    }
    if (c.parts & GR_SIGD_RANK)
        sd_line(&o, "rank: loop nest of rank %u -> %u (dimensions that could not be coalesced: "
                    "strides that are not contiguous across them)",
                a.rank, b.rank);
    if (c.parts & GR_SIGD_NOALIAS)
        sd_line(&o, "aliasing: %s -> %s", a.noalias ? "noalias" : "outputs may overlap inputs",
                b.noalias ? "noalias" : "outputs may overlap inputs");
    unsigned nops = a.nops < b.nops ? a.nops : b.nops;
    for (unsigned i = 0; i < nops; i++) {
        sd_opname(&b, i, x, sizeof x);
        if (sd_op_dtype(&a, i) != sd_op_dtype(&b, i))
            sd_line(&o, "dtype: operand %s %s -> %s", x, sd_dtype(sd_op_dtype(&a, i)),
                    sd_dtype(sd_op_dtype(&b, i)));
        if (a.rank != b.rank)
            continue;
        for (unsigned d = 0; d < a.rank; d++) {
            unsigned ca = sd_op_class(&a, i, d), cb = sd_op_class(&b, i, d);
            if (ca != cb)
                sd_line(&o, "stride class: operand %s, loop dim %u (of %u, outermost 0): "
                            "%s -> %s",
                        x, d, a.rank, sd_class_name[ca], sd_class_name[cb]);
        }
    }
    unsigned np = a.nparams < b.nparams ? a.nparams : b.nparams;
    for (unsigned q = 0; q < np; q++)
        if (sd_param_dtype(&a, q) != sd_param_dtype(&b, q))
            sd_line(&o, "dtype: parameter p%u %s -> %s", q, sd_dtype(sd_param_dtype(&a, q)),
                    sd_dtype(sd_param_dtype(&b, q)));
    /* value dtypes: summarized, they follow the operands' */
    size_t ia = a.vals_at, ib = b.vals_at;
    unsigned nv = a.nvals < b.nvals ? a.nvals : b.nvals, ndiff = 0, first = 0, fa = 0, fb = 0;
    for (unsigned v = 0; v < nv; v++) {
        sd_val p, q;
        sd_read_val(&a, &ia, &p);
        sd_read_val(&b, &ib, &q);
        if (p.dtype != q.dtype && ndiff++ == 0) {
            first = v;
            fa = p.dtype;
            fb = q.dtype;
        }
    }
    if (ndiff)
        sd_line(&o, "dtype: %u of %u body values (first v%u: %s -> %s)", ndiff, nv, first,
                sd_dtype(fa), sd_dtype(fb));
    if (o.more)
        fprintf(f, "  ... and %d more difference%s\n", o.more, o.more == 1 ? "" : "s");
    return c.parts;
}

void gr_sig_print(const uint8_t *sig, size_t len, FILE *f)
{
    sd_sig s = sd_parse(sig, len);
    if (!s.ok) {
        fprintf(f, "signature of %zu bytes does not decode\n", len);
        return;
    }
    char kind[96];
    sd_kind(&s, kind, sizeof kind);
    fprintf(f, "%s, rank %u%s; %u operands (%u out), %u params, %u values\n", kind, s.rank,
            s.noalias ? ", noalias" : "", s.nops, s.nout, s.nparams, s.nvals);
    for (unsigned o = 0; o < s.nops; o++) {
        fprintf(f, "  %s%u %s classes", sd_op_isout(&s, o) ? "out" : "in", o,
                sd_dtype(sd_op_dtype(&s, o)));
        for (unsigned d = 0; d < s.rank; d++)
            fprintf(f, " %s", sd_class_name[sd_op_class(&s, o, d)]);
        fputc('\n', f);
    }
    for (unsigned q = 0; q < s.nparams; q++)
        fprintf(f, "  p%u %s\n", q, sd_dtype(sd_param_dtype(&s, q)));
    size_t at = s.vals_at;
    for (unsigned v = 0; v < s.nvals; v++) {
        sd_val x;
        sd_read_val(&s, &at, &x);
        fprintf(f, "  v%u = %s.%s", v, gr_ops[x.op].name, sd_dtype(x.dtype));
        if (x.op == GR_OP_INPUT)
            fprintf(f, " in%u", x.arg);
        else if (x.op == GR_OP_SCALAR)
            fprintf(f, " p%u", x.arg);
        else if (gr_is_udf((int)x.op))
            fprintf(f, " fn@%#llx", (unsigned long long)x.fn);
        for (unsigned j = 0; j < x.nin; j++)
            fprintf(f, " v%u", x.in[j]);
        fputc('\n', f);
    }
    for (unsigned o = 0; o < s.nout; o++)
        fprintf(f, "  out%u <- v%u\n", o, sd_out_val(&s, o));
}
