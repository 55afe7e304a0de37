/*
 * frontend/npy.c — NumPy's .npy files: kiln_npy_load, kiln_npy_load_records
 * and kiln_npy_save.
 *
 * A file is "\x93NUMPY", a version (1.0, 2.0, 3.0), the header's length
 * (uint16 for 1.0, uint32 after, little-endian), the header — the repr of a
 * Python dict {'descr': ..., 'fortran_order': ..., 'shape': ...} padded with
 * spaces to 64 bytes and ended by '\n' — and the data (numpy/lib/format.py).
 *
 * Invariants:
 *   - the header is read by a small parser of the Python literals NumPy
 *     writes (strings, ints, True/False, tuples, lists), never evaluated;
 *     every read is bounded by the header's length, nesting is bounded and
 *     numbers are range-checked, so no header crashes the reader;
 *   - an array is returned only when the file holds all of its data, every
 *     extent and byte count fits int64 and the dtype is kiln's exactly: no
 *     wrong array, ever. Big-endian data is converted in a fresh buffer;
 *     bool bytes other than 0/1 are stored as 1;
 *   - data of at least KILN_NPY_MMAP_MIN bytes that needs no byte swap is
 *     mapped MAP_PRIVATE (copy-on-write: writes to the array never reach
 *     the file); the buffer's release callback unmaps it. Everything else
 *     is read into memory from the context's allocator;
 *   - kiln_npy_save writes what np.save writes for the same array, byte for
 *     byte (version 1.0 header, growth padding, 64-byte alignment); a
 *     failed save removes the partial file.
 */
#define _POSIX_C_SOURCE 200809L

#include "frontend/fe.h"
#include "frontend/npy.h"

#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define FE_NPY_MAGIC "\x93NUMPY"
#define FE_NPY_MAGIC_LEN 6
#define FE_NPY_ALIGN 64
#define FE_NPY_GROWTH_DIGITS 21 /* numpy.lib.format.GROWTH_AXIS_MAX_DIGITS */
#define FE_NPY_CHUNK (1 << 16)  /* bytes gathered per write when saving */

static bool fe_host_little(void)
{
    const uint16_t one = 1;
    unsigned char b;
    memcpy(&b, &one, 1);
    return b == 1;
}

/* ---- the header parser ------------------------------------------------------
 * A cursor over the header's bytes; the first error wins and is recorded
 * on env with the file's name and the byte offset in the header. */

typedef struct fe_hp {
    rt_env *env;
    const char *what;
    const unsigned char *s;
    size_t n, i;
    bool utf8;       /* version 3.0: the header is UTF-8, else latin-1 */
    kiln_status st;  /* KILN_OK until the first error */
} fe_hp;

static bool fe_hp_fail(fe_hp *p, kiln_status st, const char *fmt, ...) RT_PRINTF(3, 4);
static bool fe_hp_fail(fe_hp *p, kiln_status st, const char *fmt, ...)
{
    if (p->st != KILN_OK)
        return false;
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    p->st = st;
    rt_err(p->env, st, "%s: %s", p->what, msg);
    return false;
}

static bool fe_hp_syntax(fe_hp *p, const char *expected)
{
    if (p->i >= p->n)
        return fe_hp_fail(p, KILN_ESYNTAX, "malformed header: expected %s, found the end",
                          expected);
    unsigned char c = p->s[p->i];
    return fe_hp_fail(p, KILN_ESYNTAX, "malformed header: expected %s at byte %zu, found %s%c%s",
                      expected, p->i, c >= 0x20 && c < 0x7f ? "'" : "byte 0x",
                      c >= 0x20 && c < 0x7f ? (char)c : '?', c >= 0x20 && c < 0x7f ? "'" : "");
}

static void fe_hp_space(fe_hp *p)
{
    while (p->i < p->n && (p->s[p->i] == ' ' || p->s[p->i] == '\t' || p->s[p->i] == '\n' ||
                           p->s[p->i] == '\r'))
        p->i++;
}

/* Skips spaces, then consumes c if it is next. */
static bool fe_hp_eat(fe_hp *p, char c)
{
    fe_hp_space(p);
    if (p->i < p->n && p->s[p->i] == (unsigned char)c) {
        p->i++;
        return true;
    }
    return false;
}

static bool fe_hp_expect(fe_hp *p, char c)
{
    if (fe_hp_eat(p, c))
        return true;
    char what[4] = {'\'', c, '\'', '\0'};
    return fe_hp_syntax(p, what);
}

static bool fe_hp_peek(fe_hp *p, char c)
{
    fe_hp_space(p);
    return p->i < p->n && p->s[p->i] == (unsigned char)c;
}

/* Appends code point cp as UTF-8 to out[*k..cap), or sets *too_long. */
static void fe_hp_put_utf8(uint32_t cp, char *out, size_t cap, size_t *k, bool *too_long)
{
    unsigned char b[4];
    size_t n;
    if (cp < 0x80) {
        b[0] = (unsigned char)cp;
        n = 1;
    } else if (cp < 0x800) {
        b[0] = (unsigned char)(0xC0 | (cp >> 6));
        b[1] = (unsigned char)(0x80 | (cp & 0x3F));
        n = 2;
    } else if (cp < 0x10000) {
        b[0] = (unsigned char)(0xE0 | (cp >> 12));
        b[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
        b[2] = (unsigned char)(0x80 | (cp & 0x3F));
        n = 3;
    } else {
        b[0] = (unsigned char)(0xF0 | (cp >> 18));
        b[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
        b[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
        b[3] = (unsigned char)(0x80 | (cp & 0x3F));
        n = 4;
    }
    if (*k + n + 1 > cap) {
        *too_long = true;
        return;
    }
    memcpy(out + *k, b, n);
    *k += n;
    out[*k] = '\0';
}

static int fe_hp_hex(unsigned char c)
{
    return c >= '0' && c <= '9' ? c - '0'
         : c >= 'a' && c <= 'f' ? c - 'a' + 10
         : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                : -1;
}

/* string = ['u' | 'b'] ("'" ... "'" | '"' ... '"')   -- Python's escapes
 * \\ \' \" \n \r \t \0 \xHH \uHHHH \UHHHHHHHH. The text is decoded into
 * out (UTF-8, NUL-terminated, cut at cap with *too_long set). */
static bool fe_hp_string(fe_hp *p, char *out, size_t cap, bool *too_long)
{
    fe_hp_space(p);
    size_t k = 0;
    *too_long = false;
    out[0] = '\0';
    if (p->i < p->n && (p->s[p->i] == 'u' || p->s[p->i] == 'b') && p->i + 1 < p->n &&
        (p->s[p->i + 1] == '\'' || p->s[p->i + 1] == '"'))
        p->i++;
    if (p->i >= p->n || (p->s[p->i] != '\'' && p->s[p->i] != '"'))
        return fe_hp_syntax(p, "a string");
    unsigned char q = p->s[p->i++];
    for (;;) {
        if (p->i >= p->n || p->s[p->i] == '\n')
            return fe_hp_fail(p, KILN_ESYNTAX, "malformed header: unterminated string");
        unsigned char c = p->s[p->i++];
        if (c == q)
            return true;
        uint32_t cp = c;
        if (c == '\\') {
            if (p->i >= p->n)
                return fe_hp_fail(p, KILN_ESYNTAX, "malformed header: unterminated string");
            unsigned char e = p->s[p->i++];
            int digits = 0;
            switch (e) {
            case '\\': case '\'': case '"': cp = e; break;
            case 'n': cp = '\n'; break;
            case 'r': cp = '\r'; break;
            case 't': cp = '\t'; break;
            case '0': cp = 0; break;
            case 'x': digits = 2; break;
            case 'u': digits = 4; break;
            case 'U': digits = 8; break;
            default:
                return fe_hp_fail(p, KILN_ESYNTAX,
                                  "malformed header: unsupported escape '\\%c' in a string",
                                  e >= 0x20 && e < 0x7f ? (char)e : '?');
            }
            if (digits) {
                cp = 0;
                for (int d = 0; d < digits; d++) {
                    int h = p->i < p->n ? fe_hp_hex(p->s[p->i]) : -1;
                    if (h < 0)
                        return fe_hp_fail(p, KILN_ESYNTAX,
                                          "malformed header: bad \\%c escape in a string", e);
                    cp = cp * 16u + (uint32_t)h;
                    p->i++;
                }
                if (cp > 0x10FFFF)
                    return fe_hp_fail(p, KILN_ESYNTAX,
                                      "malformed header: escape beyond U+10FFFF in a string");
            }
            fe_hp_put_utf8(cp, out, cap, &k, too_long);
        } else if (c >= 0x80 && !p->utf8) {
            fe_hp_put_utf8(cp, out, cap, &k, too_long); /* latin-1 byte */
        } else {
            if (k + 2 > cap)
                *too_long = true;
            else {
                out[k++] = (char)c;
                out[k] = '\0';
            }
        }
    }
}

/* int = ['-' | '+'] digits ['L' | 'l']     -- 'L': Python 2's long */
static bool fe_hp_int(fe_hp *p, int64_t *v)
{
    fe_hp_space(p);
    bool neg = false;
    if (p->i < p->n && (p->s[p->i] == '-' || p->s[p->i] == '+'))
        neg = p->s[p->i++] == '-';
    if (p->i >= p->n || p->s[p->i] < '0' || p->s[p->i] > '9')
        return fe_hp_syntax(p, "an integer");
    uint64_t m = 0;
    bool big = false;
    while (p->i < p->n && p->s[p->i] >= '0' && p->s[p->i] <= '9') {
        uint64_t d = (uint64_t)(p->s[p->i++] - '0');
        if (m > ((uint64_t)INT64_MAX - d) / 10u)
            big = true;
        else
            m = m * 10u + d;
    }
    if (p->i < p->n && (p->s[p->i] == 'L' || p->s[p->i] == 'l'))
        p->i++;
    if (big)
        return fe_hp_fail(p, KILN_EOVERFLOW, "shape extent is too large for int64");
    *v = neg ? -(int64_t)m : (int64_t)m;
    return true;
}

/* A bare word (True, False, None): returns its length at p->i, 0 if none. */
static size_t fe_hp_word(fe_hp *p)
{
    fe_hp_space(p);
    size_t j = p->i;
    while (j < p->n && ((p->s[j] >= 'a' && p->s[j] <= 'z') || (p->s[j] >= 'A' && p->s[j] <= 'Z')))
        j++;
    return j - p->i;
}

static bool fe_hp_is_word(fe_hp *p, const char *w)
{
    size_t len = fe_hp_word(p), wl = strlen(w);
    if (len != wl || memcmp(p->s + p->i, w, wl) != 0)
        return false;
    p->i += wl;
    return true;
}

/* A dtype string: [<>|=] kind size. Sets *t and *swap, or fails (EDTYPE
 * for a dtype kiln lacks). A void type ('|V4') sets *t to
 * KILN_DTYPE_COUNT and *size (padding in records). */
static bool fe_hp_typestr(fe_hp *p, const char *s, kiln_dtype *t, bool *swap, int64_t *size)
{
    const char *q = s;
    char order = '=';
    if (*q == '<' || *q == '>' || *q == '|' || *q == '=')
        order = *q++;
    char kind = *q;
    const char *digits = kind ? q + 1 : q;
    int64_t n = 0;
    bool ok = *digits >= '0' && *digits <= '9';
    for (const char *d = digits; ok && *d; d++) {
        if (*d < '0' || *d > '9' || n > 100000000)
            ok = false;
        else
            n = n * 10 + (*d - '0');
    }
    static const char *const kinds = "biuf";
    *t = KILN_DTYPE_COUNT;
    *size = n;
    *swap = false;
    if (ok && kind == 'V' && n > 0)
        return true; /* padding, in records only */
    if (ok && kind && strchr(kinds, kind)) {
        for (int k = 0; k < KILN_DTYPE_COUNT; k++) {
            const rt_dtype_info *di = &rt_dtypes[k];
            char want = di->kind == RT_KIND_BOOL    ? 'b'
                      : di->kind == RT_KIND_INT     ? 'i'
                      : di->kind == RT_KIND_UINT    ? 'u'
                                                    : 'f';
            if (want == kind && di->size == n) {
                *t = (kiln_dtype)k;
                *swap = di->size > 1 && ((order == '>' && fe_host_little()) ||
                                         (order == '<' && !fe_host_little()));
                return true;
            }
        }
    }
    const char *why = kind == 'c'                ? "complex"
                    : kind == 'f' && n == 2      ? "float16"
                    : kind == 'f'                ? "long double"
                    : kind == 'O'                ? "Python objects"
                    : kind == 'U'                ? "unicode strings"
                    : kind == 'S' || kind == 'a' ? "byte strings"
                    : kind == 'V'                ? "raw bytes (void)"
                    : kind == 'M' || kind == 'm' ? "datetimes"
                                                 : "unknown";
    return fe_hp_fail(p, KILN_EDTYPE,
                      "dtype '%.32s' (%s) is not supported: kiln reads bool, int8..int64, "
                      "uint8..uint64, float32 and float64",
                      s, why);
}

static bool fe_hp_add_field(fe_hp *p, fe_npy_header *h, const fe_npy_field *f)
{
    if (h->nfields == h->fields_cap) {
        size_t cap = h->fields_cap ? 2 * h->fields_cap : 8;
        fe_npy_field *nf = rt_realloc(p->env, h->fields, h->fields_cap * sizeof *nf,
                                      cap * sizeof *nf);
        if (!nf)
            return fe_hp_fail(p, KILN_ENOMEM, "out of memory reading the header's fields");
        h->fields = nf;
        h->fields_cap = cap;
    }
    h->fields[h->nfields++] = *f;
    return true;
}

/* field = '(' name ',' typestr [',' shape] [','] ')'
 * name  = string | '(' string ',' string ')'          -- (title, name) */
static bool fe_hp_field(fe_hp *p, fe_npy_header *h, int64_t *offset)
{
    fe_npy_field f;
    memset(&f, 0, sizeof f);
    char title[KILN_FIELD_NAME_MAX];
    bool tl;
    if (!fe_hp_expect(p, '('))
        return false;
    if (fe_hp_eat(p, '(')) {
        if (!fe_hp_string(p, title, sizeof title, &tl) || !fe_hp_expect(p, ',') ||
            !fe_hp_string(p, f.name, sizeof f.name, &f.name_too_long) || !fe_hp_expect(p, ')'))
            return false;
    } else if (!fe_hp_string(p, f.name, sizeof f.name, &f.name_too_long)) {
        return false;
    }
    if (!fe_hp_expect(p, ','))
        return false;
    if (fe_hp_peek(p, '['))
        return fe_hp_fail(p, KILN_EDTYPE,
                          "field '%s' is itself structured: nested records are not supported",
                          f.name);
    char ts[40];
    if (!fe_hp_string(p, ts, sizeof ts, &tl))
        return false;
    if (tl)
        return fe_hp_fail(p, KILN_EDTYPE, "field '%s' has an unknown dtype", f.name);
    if (fe_hp_eat(p, ',') && !fe_hp_peek(p, ')'))
        return fe_hp_fail(p, KILN_EDTYPE,
                          "field '%s' is a subarray (it has a shape): not supported", f.name);
    if (!fe_hp_expect(p, ')'))
        return false;
    int64_t size;
    if (!fe_hp_typestr(p, ts, &f.dtype, &f.swap, &size))
        return false;
    if (f.dtype == KILN_DTYPE_COUNT && f.name[0] != '\0')
        return fe_hp_fail(p, KILN_EDTYPE,
                          "field '%s' has dtype '%s' (raw bytes): not supported", f.name, ts);
    if (f.dtype != KILN_DTYPE_COUNT && f.name[0] == '\0' && !f.name_too_long)
        return fe_hp_fail(p, KILN_ESYNTAX, "malformed header: a field of dtype '%s' has no name",
                          ts);
    f.offset = *offset;
    if (*offset > INT64_MAX - size)
        return fe_hp_fail(p, KILN_EOVERFLOW, "record size overflows int64");
    *offset += size;
    if (f.dtype == KILN_DTYPE_COUNT)
        return true; /* padding: ('', '|V4') as dtype.descr lists it */
    for (size_t k = 0; k < h->nfields; k++)
        if (strcmp(h->fields[k].name, f.name) == 0)
            return fe_hp_fail(p, KILN_ESYNTAX, "malformed header: two fields named '%s'",
                              f.name);
    return fe_hp_add_field(p, h, &f);
}

/* descr = string | '[' field (',' field)* [','] ']' */
static bool fe_hp_descr(fe_hp *p, fe_npy_header *h)
{
    h->nfields = 0;
    h->records = false;
    if (fe_hp_eat(p, '[')) {
        int64_t offset = 0;
        if (fe_hp_peek(p, ']'))
            return fe_hp_fail(p, KILN_EDTYPE, "structured dtype without fields");
        do {
            if (fe_hp_peek(p, ']'))
                break;
            if (!fe_hp_field(p, h, &offset))
                return false;
        } while (fe_hp_eat(p, ','));
        if (!fe_hp_expect(p, ']'))
            return false;
        if (h->nfields == 0)
            return fe_hp_fail(p, KILN_EDTYPE, "structured dtype with padding only");
        h->records = true;
        h->dtype = KILN_UINT8;
        h->swap = false;
        h->itemsize = offset;
        return true;
    }
    char ts[40];
    bool tl;
    fe_hp_space(p);
    if (p->i < p->n && !strchr("'\"ub", p->s[p->i]))
        return fe_hp_syntax(p, "a dtype string or a list of fields for 'descr'");
    if (!fe_hp_string(p, ts, sizeof ts, &tl))
        return false;
    if (tl)
        return fe_hp_fail(p, KILN_EDTYPE, "unknown dtype (a %zu-byte string)", sizeof ts);
    int64_t size;
    if (!fe_hp_typestr(p, ts, &h->dtype, &h->swap, &size))
        return false;
    if (h->dtype == KILN_DTYPE_COUNT)
        return fe_hp_fail(p, KILN_EDTYPE, "dtype '%s' (raw bytes) is not supported", ts);
    h->itemsize = size;
    return true;
}

/* shape = '(' [int (',' int)* [',']] ')'     -- a tuple: "(3)" is not one */
static bool fe_hp_shape(fe_hp *p, fe_npy_header *h)
{
    if (!fe_hp_eat(p, '('))
        return fe_hp_syntax(p, "a tuple for 'shape'");
    int n = 0;
    bool comma = false;
    while (!fe_hp_peek(p, ')')) {
        int64_t v = 0;
        if (!fe_hp_int(p, &v))
            return false;
        if (v < 0)
            return fe_hp_fail(p, KILN_ESYNTAX, "negative extent %lld in the shape",
                              (long long)v);
        if (n == KILN_MAX_RANK)
            return fe_hp_fail(p, KILN_ERANK, "the shape has more than %d axes", KILN_MAX_RANK);
        h->shape[n++] = v;
        comma = fe_hp_eat(p, ',');
        if (!comma)
            break;
    }
    if (!fe_hp_expect(p, ')'))
        return false;
    if (n == 1 && !comma)
        return fe_hp_fail(p, KILN_ESYNTAX, "malformed header: 'shape' is not a tuple");
    h->rank = n;
    return true;
}

/* header = '{' [key ':' value (',' key ':' value)* [',']] '}' spaces
 * with exactly the keys 'descr', 'fortran_order', 'shape' (a repeated key:
 * the last wins, as in Python). */
static bool fe_hp_dict(fe_hp *p, fe_npy_header *h)
{
    bool seen[3] = {false, false, false};
    if (!fe_hp_expect(p, '{'))
        return false;
    while (!fe_hp_peek(p, '}')) {
        char key[32];
        bool tl;
        if (!fe_hp_string(p, key, sizeof key, &tl) || !fe_hp_expect(p, ':'))
            return false;
        if (!tl && strcmp(key, "descr") == 0) {
            if (!fe_hp_descr(p, h))
                return false;
            seen[0] = true;
        } else if (!tl && strcmp(key, "fortran_order") == 0) {
            if (fe_hp_is_word(p, "True"))
                h->fortran = true;
            else if (fe_hp_is_word(p, "False"))
                h->fortran = false;
            else
                return fe_hp_syntax(p, "True or False for 'fortran_order'");
            seen[1] = true;
        } else if (!tl && strcmp(key, "shape") == 0) {
            if (!fe_hp_shape(p, h))
                return false;
            seen[2] = true;
        } else {
            return fe_hp_fail(p, KILN_ESYNTAX,
                              "malformed header: unexpected key '%.31s' (a .npy header has "
                              "exactly 'descr', 'fortran_order' and 'shape')",
                              key);
        }
        if (!fe_hp_eat(p, ','))
            break;
    }
    if (!fe_hp_expect(p, '}'))
        return false;
    fe_hp_space(p);
    if (p->i != p->n)
        return fe_hp_syntax(p, "the end of the header");
    static const char *const keys[3] = {"descr", "fortran_order", "shape"};
    for (int k = 0; k < 3; k++)
        if (!seen[k])
            return fe_hp_fail(p, KILN_ESYNTAX, "malformed header: no '%s' key", keys[k]);
    return true;
}

void fe_npy_header_free(rt_env *env, fe_npy_header *h)
{
    if (!h)
        return;
    rt_free(env, h->fields, h->fields_cap * sizeof *h->fields);
    h->fields = NULL;
    h->fields_cap = h->nfields = 0;
}

/* The magic string and version at buf[0, len); the size of the prefix and
 * header together in *total. KILN_EIO when len is too short to tell. */
static kiln_status fe_npy_prefix(rt_env *env, const char *what, const unsigned char *buf,
                                 size_t len, int *major, size_t *pre, size_t *total)
{
    size_t m = len < FE_NPY_MAGIC_LEN ? len : FE_NPY_MAGIC_LEN;
    if (memcmp(buf, FE_NPY_MAGIC, m) != 0)
        return rt_err(env, KILN_ESYNTAX, "%s: not a .npy file (no \\x93NUMPY magic string)",
                      what);
    if (len < FE_NPY_MAGIC_LEN + 2)
        return rt_err(env, KILN_EIO, "%s: the file ends inside the header", what);
    int ma = buf[6], mi = buf[7];
    if (!(mi == 0 && (ma == 1 || ma == 2 || ma == 3)))
        return rt_err(env, KILN_ESYNTAX,
                      "%s: unsupported .npy format version %d.%d (kiln reads 1.0, 2.0, 3.0)",
                      what, ma, mi);
    size_t lenbytes = ma == 1 ? 2 : 4;
    *pre = FE_NPY_MAGIC_LEN + 2 + lenbytes;
    if (len < *pre)
        return rt_err(env, KILN_EIO, "%s: the file ends inside the header", what);
    uint32_t hlen = (uint32_t)buf[8] | (uint32_t)buf[9] << 8;
    if (lenbytes == 4)
        hlen |= (uint32_t)buf[10] << 16 | (uint32_t)buf[11] << 24;
    if (hlen > FE_NPY_MAX_HEADER)
        return rt_err(env, KILN_ESYNTAX, "%s: header too long (%lu bytes, NumPy's limit is %d)",
                      what, (unsigned long)hlen, FE_NPY_MAX_HEADER);
    *major = ma;
    *total = *pre + hlen;
    return KILN_OK;
}

kiln_status fe_npy_parse(rt_env *env, const char *what, const unsigned char *buf, size_t len,
                         fe_npy_header *h)
{
    memset(h, 0, sizeof *h);
    fe_hp p = {env, what, buf, len, 0, false, KILN_OK};
    size_t pre, total;
    kiln_status st = fe_npy_prefix(env, what, buf, len, &h->major, &pre, &total);
    if (st != KILN_OK)
        return st;
    if (len < total)
        return rt_err(env, KILN_EIO, "%s: the file ends inside the header (%zu bytes announced)",
                      what, total - pre);
    size_t hlen = total - pre;
    h->data_offset = pre + hlen;
    p.s = buf + pre;
    p.n = hlen;
    p.utf8 = h->major >= 3;
    if (!fe_hp_dict(&p, h)) {
        fe_npy_header_free(env, h);
        return p.st;
    }
    /* The data's geometry: every count fits int64. */
    int64_t count = 1;
    bool empty = false;
    for (int k = 0; k < h->rank; k++) {
        if (h->shape[k] == 0)
            empty = true;
        else if (!rt_mul_ok(count, h->shape[k], &count))
            goto overflow;
    }
    /* bytes * 8 must fit too: kiln's shapes guarantee it (rt_check_shape) */
    if (!rt_mul_ok(count, h->itemsize, &h->nbytes) || !rt_mul_ok(h->nbytes, 8, &count))
        goto overflow;
    if (empty)
        h->nbytes = 0;
    if (h->records && h->rank + 1 > KILN_MAX_RANK) {
        fe_npy_header_free(env, h);
        return rt_err(env, KILN_ERANK, "%s: a record array of rank %d has %d axes with its "
                                       "bytes, more than %d",
                      what, h->rank, h->rank + 1, KILN_MAX_RANK);
    }
    return KILN_OK;
overflow:;
    char sb[256];
    fe_npy_header_free(env, h);
    return rt_err(env, KILN_EOVERFLOW, "%s: shape %s of %lld-byte items overflows int64 bytes",
                  what, rt_fmt_shape(sb, sizeof sb, h->rank, h->shape), (long long)h->itemsize);
}

/* ---- loading ------------------------------------------------------------------ */

static void fe_npy_unmap(void *ud, void *data)
{
    munmap(data, (size_t)(uintptr_t)ud);
}

static kiln_status fe_npy_errno(rt_env *env, const char *what, const char *doing, int err)
{
    char eb[128];
    if (strerror_r(err, eb, sizeof eb) != 0)
        snprintf(eb, sizeof eb, "error %d", err);
    return rt_err(env, KILN_EIO, "%s: cannot %s: %s", what, doing, eb);
}

/* Reads n bytes at off; false (and errno, or 0 for a short file) if not. */
static bool fe_pread_all(int fd, void *buf, size_t n, off_t off)
{
    char *b = buf;
    while (n > 0) {
        ssize_t r = pread(fd, b, n, off);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            if (r == 0)
                errno = 0;
            return false;
        }
        b += r;
        n -= (size_t)r;
        off += r;
    }
    return true;
}

static void fe_swap_bytes(unsigned char *p, size_t size)
{
    for (size_t a = 0, b = size - 1; a < b; a++, b--) {
        unsigned char t = p[a];
        p[a] = p[b];
        p[b] = t;
    }
}

/* Converts values stored in the other byte order to native order and bool
 * bytes to 0/1, in place over n items of the data (a mapped file is never
 * swapped; its bools are fixed copy-on-write). */
static void fe_npy_fixup(const fe_npy_header *h, unsigned char *data, int64_t n)
{
    if (!h->records) {
        size_t sz = (size_t)h->itemsize;
        if (h->swap)
            for (int64_t i = 0; i < n; i++)
                fe_swap_bytes(data + (size_t)i * sz, sz);
        if (h->dtype == KILN_BOOL)
            for (int64_t i = 0; i < n; i++)
                if (data[i] > 1)
                    data[i] = 1;
        return;
    }
    for (size_t k = 0; k < h->nfields; k++) {
        const fe_npy_field *f = &h->fields[k];
        size_t sz = rt_dtypes[f->dtype].size;
        if (!f->swap && f->dtype != KILN_BOOL)
            continue;
        for (int64_t i = 0; i < n; i++) {
            unsigned char *q = data + (size_t)i * (size_t)h->itemsize + (size_t)f->offset;
            if (f->swap)
                fe_swap_bytes(q, sz);
            else if (*q > 1)
                *q = 1;
        }
    }
}

static bool fe_npy_needs_swap(const fe_npy_header *h)
{
    if (!h->records)
        return h->swap;
    for (size_t k = 0; k < h->nfields; k++)
        if (h->fields[k].swap)
            return true;
    return false;
}

/* The array's geometry: plain (shape, dtype) or records (shape + bytes,
 * uint8), C or Fortran order. */
static int fe_npy_geometry(const fe_npy_header *h, int64_t *shape, int64_t *strides)
{
    int rank = h->rank + (h->records ? 1 : 0);
    int64_t s = h->itemsize;
    for (int i = 0; i < h->rank; i++) {
        int k = h->fortran ? i : h->rank - 1 - i;
        shape[k] = h->shape[k];
        strides[k] = s;
        if (h->shape[k] > 0)
            s *= h->shape[k]; /* fits: nbytes did */
    }
    if (h->records) {
        shape[h->rank] = h->itemsize;
        strides[h->rank] = 1;
    }
    return rank;
}

static kiln_status fe_npy_load(kiln_ctx *ctx, const char *path, kiln_array **out,
                               kiln_field *fields, size_t max_fields, size_t *nfields,
                               bool want_fields)
{
    if (out)
        *out = NULL;
    if (nfields)
        *nfields = 0;
    if (!ctx)
        return KILN_ENULL;
    rt_env *env = ctx->env;
    if (!path || !out)
        return rt_err(env, KILN_ENULL, "kiln_npy_load: %s is NULL", !path ? "path" : "out");
    if (want_fields && (!nfields || (max_fields > 0 && !fields)))
        return rt_err(env, KILN_ENULL, "kiln_npy_load_records: %s is NULL",
                      !nfields ? "nfields" : "fields");
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return fe_npy_errno(env, path, "open", errno);
    kiln_status st;
    fe_npy_header h;
    memset(&h, 0, sizeof h);
    unsigned char *hbuf = NULL;
    size_t hcap = 0;
    struct stat sb;
    if (fstat(fd, &sb) != 0) {
        st = fe_npy_errno(env, path, "stat", errno);
        goto done;
    }
    if (!S_ISREG(sb.st_mode)) {
        st = rt_err(env, KILN_EIO, "%s: not a regular file", path);
        goto done;
    }
    /* The prefix, then the whole header. */
    size_t fsize = (size_t)sb.st_size;
    unsigned char pre[12];
    size_t npre = fsize < sizeof pre ? fsize : sizeof pre;
    if (!fe_pread_all(fd, pre, npre, 0)) {
        st = errno ? fe_npy_errno(env, path, "read", errno)
                   : rt_err(env, KILN_EIO, "%s: the file shrank while read", path);
        goto done;
    }
    int major;
    size_t prelen;
    st = fe_npy_prefix(env, path, pre, npre, &major, &prelen, &hcap);
    if (st != KILN_OK)
        goto done;
    if (hcap > fsize) {
        st = rt_err(env, KILN_EIO, "%s: the file ends inside the header (%zu bytes announced)",
                    path, hcap - prelen);
        goto done;
    }
    hbuf = rt_malloc(env, hcap); /* at most 12 + FE_NPY_MAX_HEADER bytes */
    if (!hbuf) {
        st = rt_err(env, KILN_ENOMEM, "%s: out of memory reading the header", path);
        goto done;
    }
    if (!fe_pread_all(fd, hbuf, hcap, 0)) {
        st = errno ? fe_npy_errno(env, path, "read", errno)
                   : rt_err(env, KILN_EIO, "%s: the file shrank while read", path);
        goto done;
    }
    st = fe_npy_parse(env, path, hbuf, hcap, &h);
    if (st != KILN_OK)
        goto done;
    if ((uint64_t)h.nbytes > (uint64_t)(fsize - h.data_offset)) {
        char sbuf[256];
        st = rt_err(env, KILN_EIO,
                    "%s: the file is truncated: shape %s of %lld-byte items needs %lld data "
                    "bytes, the file has %llu",
                    path, rt_fmt_shape(sbuf, sizeof sbuf, h.rank, h.shape),
                    (long long)h.itemsize, (long long)h.nbytes,
                    (unsigned long long)(fsize - h.data_offset));
        goto done;
    }
    if (want_fields) {
        *nfields = h.records ? h.nfields : 0;
        if (*nfields > max_fields) {
            st = rt_err(env, KILN_EINVAL, "%s: the file has %zu fields, fields[] holds %zu",
                        path, *nfields, max_fields);
            goto done;
        }
        for (size_t k = 0; k < *nfields; k++) {
            if (h.fields[k].name_too_long) {
                st = rt_err(env, KILN_EINVAL, "%s: field name '%.40s...' is longer than %d bytes",
                            path, h.fields[k].name, KILN_FIELD_NAME_MAX - 1);
                goto done;
            }
        }
    }

    int64_t shape[KILN_MAX_RANK], strides[KILN_MAX_RANK];
    int rank = fe_npy_geometry(&h, shape, strides);
    int64_t n = h.nbytes / (h.itemsize ? h.itemsize : 1);
    size_t align = h.records ? 1 : (size_t)h.itemsize;
    bool swap = fe_npy_needs_swap(&h);
    kiln_array *a = NULL;
    if ((size_t)h.nbytes >= KILN_NPY_MMAP_MIN && !swap && h.data_offset % align == 0) {
        size_t maplen = h.data_offset + (size_t)h.nbytes;
        void *base = mmap(NULL, maplen, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
        if (base != MAP_FAILED) {
            rt_buffer *buf = rt_buffer_wrap(env, base, fe_npy_unmap, (void *)(uintptr_t)maplen);
            if (!buf) {
                munmap(base, maplen);
                st = rt_err(env, KILN_ENOMEM, "%s: out of memory", path);
                goto done;
            }
            fe_npy_fixup(&h, (unsigned char *)base + h.data_offset, n);
            st = rt_array_view(env, buf, (char *)base + h.data_offset, h.dtype, rank, shape,
                               strides, &a);
            rt_buffer_release(buf); /* the view holds it, or it unmaps now */
            if (st != KILN_OK)
                goto done;
        }
        /* else: read it instead */
    }
    if (!a) {
        kiln_array *raw = NULL;
        int64_t total = h.nbytes;
        st = rt_array_alloc(env, KILN_UINT8, 1, &total, KILN_ORDER_C, false, &raw);
        if (st != KILN_OK)
            goto done;
        if (!fe_pread_all(fd, raw->data, (size_t)h.nbytes, (off_t)h.data_offset)) {
            st = errno ? fe_npy_errno(env, path, "read", errno)
                       : rt_err(env, KILN_EIO, "%s: the file shrank while read", path);
            kiln_array_release(raw);
            goto done;
        }
        fe_npy_fixup(&h, (unsigned char *)raw->data, n);
        st = rt_array_view(env, raw->buf, raw->data, h.dtype, rank, shape, strides, &a);
        kiln_array_release(raw);
        if (st != KILN_OK)
            goto done;
    }
    if (want_fields)
        for (size_t k = 0; k < *nfields; k++) {
            memcpy(fields[k].name, h.fields[k].name, sizeof fields[k].name);
            fields[k].offset = h.fields[k].offset;
            fields[k].dtype = h.fields[k].dtype;
        }
    *out = a;
    st = KILN_OK;
done:
    if (st != KILN_OK && want_fields && st != KILN_EINVAL)
        *nfields = 0;
    fe_npy_header_free(env, &h);
    rt_free(env, hbuf, hcap);
    close(fd);
    return st;
}

kiln_status kiln_npy_load(kiln_ctx *ctx, const char *path, kiln_array **out)
{
    return fe_npy_load(ctx, path, out, NULL, 0, NULL, false);
}

kiln_status kiln_npy_load_records(kiln_ctx *ctx, const char *path, kiln_array **out,
                                  kiln_field *fields, size_t max_fields, size_t *nfields)
{
    return fe_npy_load(ctx, path, out, fields, max_fields, nfields, true);
}

/* ---- saving --------------------------------------------------------------------- */

/* np.save's header: the dict with descr (its Python repr), the shape's
 * first rank extents and growth padding, wrapped to 64 bytes
 * (numpy.lib.format._write_array_header, version 1.0). 0 if it does not
 * fit cap. */
static size_t fe_npy_header_bytes(const char *descr, int rank, const int64_t *dims, char *buf,
                                  size_t cap)
{
    /* Python's tuple repr, as np.save writes it: "(3,)", "(2, 3)", "()" */
    char shape[256];
    size_t sn = 0;
    shape[sn++] = '(';
    for (int k = 0; k < rank; k++)
        sn += (size_t)snprintf(shape + sn, sizeof shape - sn, k ? ", %lld" : "%lld",
                               (long long)dims[k]);
    snprintf(shape + sn, sizeof shape - sn, rank == 1 ? ",)" : ")");
    size_t cap_dict = cap > FE_NPY_ALIGN ? cap - FE_NPY_ALIGN : 0;
    int n = snprintf(buf + FE_NPY_MAGIC_LEN + 4, cap_dict,
                     "{'descr': %s, 'fortran_order': False, 'shape': %s, }", descr, shape);
    if (n < 0 || (size_t)n + FE_NPY_GROWTH_DIGITS + 1 >= cap_dict)
        return 0;
    char *dict = buf + FE_NPY_MAGIC_LEN + 4;
    if (rank > 0) {
        char first[32];
        int w = snprintf(first, sizeof first, "%lld", (long long)dims[0]);
        for (int k = w; k < FE_NPY_GROWTH_DIGITS; k++)
            dict[n++] = ' ';
    }
    size_t hlen = (size_t)n + 1; /* + '\n' */
    size_t pad = FE_NPY_ALIGN - ((FE_NPY_MAGIC_LEN + 2 + 2 + hlen) % FE_NPY_ALIGN);
    size_t total = FE_NPY_MAGIC_LEN + 2 + 2 + hlen + pad;
    if (total > cap || hlen + pad > 0xFFFF)
        return 0;
    size_t k = 0;
    memcpy(buf, FE_NPY_MAGIC, FE_NPY_MAGIC_LEN);
    k += FE_NPY_MAGIC_LEN;
    buf[k++] = 1;
    buf[k++] = 0;
    buf[k++] = (char)((hlen + pad) & 0xFF);
    buf[k++] = (char)((hlen + pad) >> 8);
    k += (size_t)n; /* the dict is in place */
    memset(buf + k, ' ', pad);
    k += pad;
    buf[k++] = '\n';
    return k;
}

/* A kiln dtype as a descr typestring: '<f8', '|b1', ... */
static void fe_npy_typestr(kiln_dtype t, char out[8])
{
    const rt_dtype_info *d = &rt_dtypes[t];
    char kind = d->kind == RT_KIND_BOOL ? 'b'
              : d->kind == RT_KIND_INT  ? 'i'
              : d->kind == RT_KIND_UINT ? 'u'
                                        : 'f';
    char order = d->size == 1 ? '|' : fe_host_little() ? '<' : '>';
    snprintf(out, 8, "%c%c%d", order, kind, (int)d->size);
}

/* Writes a's elements in C order through a bounded gather buffer. */
static bool fe_npy_write_data(const kiln_array *a, FILE *f, unsigned char *chunk)
{
    size_t sz = rt_dtypes[a->dtype].size, used = 0;
    if (a->size == 0)
        return true;
    if (kiln_array_is_contiguous(a, KILN_ORDER_C))
        return fwrite(a->data, sz, (size_t)a->size, f) == (size_t)a->size;
    int rank = a->rank;
    int64_t idx[KILN_MAX_RANK] = {0};
    int64_t inner = rank ? a->shape[rank - 1] : 1, st = rank ? a->strides[rank - 1] : 0;
    const char *row = a->data;
    for (;;) {
        const char *q = row;
        for (int64_t i = 0; i < inner; i++, q += st) {
            if (used + sz > FE_NPY_CHUNK) {
                if (fwrite(chunk, 1, used, f) != used)
                    return false;
                used = 0;
            }
            memcpy(chunk + used, q, sz);
            used += sz;
        }
        int k = rank - 2;
        for (; k >= 0; k--) {
            if (++idx[k] < a->shape[k]) {
                row += a->strides[k];
                break;
            }
            row -= (a->shape[k] - 1) * a->strides[k];
            idx[k] = 0;
        }
        if (k < 0)
            break;
    }
    return fwrite(chunk, 1, used, f) == used;
}

/* Writes header[0..hn) and a's elements in C order to path. */
static kiln_status fe_npy_save(const kiln_array *a, const char *header, size_t hn, const char *path)
{
    rt_env *env = a->env;
    unsigned char *chunk = NULL;
    if (!kiln_array_is_contiguous(a, KILN_ORDER_C) && a->size > 0) {
        chunk = rt_malloc(env, FE_NPY_CHUNK);
        if (!chunk)
            return rt_err(env, KILN_ENOMEM, "%s: out of memory saving", path);
    }
    kiln_status st = KILN_OK;
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
    if (fd < 0) {
        st = fe_npy_errno(env, path, "create", errno);
        goto done;
    }
    /* Only a regular file is removed after a failure (not /dev/stdout). */
    struct stat sb;
    bool regular = fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode);
    FILE *f = fdopen(fd, "wb");
    if (!f) {
        st = fe_npy_errno(env, path, "create", errno);
        close(fd);
        if (regular)
            remove(path);
        goto done;
    }
    errno = 0;
    bool ok = fwrite(header, 1, hn, f) == hn && fe_npy_write_data(a, f, chunk);
    int err = errno;
    if (fclose(f) != 0 && ok) {
        ok = false;
        err = errno;
    }
    if (!ok) {
        st = fe_npy_errno(env, path, "write", err ? err : EIO);
        if (regular)
            remove(path);
    }
done:
    rt_free(env, chunk, FE_NPY_CHUNK);
    return st;
}

kiln_status kiln_npy_save(const kiln_array *a, const char *path)
{
    if (!a)
        return KILN_ENULL;
    if (!path)
        return rt_err(a->env, KILN_ENULL, "kiln_npy_save: path is NULL");
    char descr[16], header[512];
    char ts[8];
    fe_npy_typestr(a->dtype, ts);
    snprintf(descr, sizeof descr, "'%s'", ts);
    size_t hn = fe_npy_header_bytes(descr, a->rank, a->shape, header, sizeof header);
    if (hn == 0)
        return rt_err(a->env, KILN_EINTERNAL, "kiln_npy_save: header does not fit");
    return fe_npy_save(a, header, hn, path);
}

/* A field name np.save would write as 'name' (Python's repr adds no
 * escapes): printable ASCII without quote or backslash. */
static bool fe_npy_plain_name(const char *s)
{
    if (!*s)
        return false;
    for (; *s; s++)
        if (*s < 0x20 || *s > 0x7e || *s == '\'' || *s == '\\')
            return false;
    return true;
}

kiln_status kiln_npy_save_records(const kiln_array *a, const kiln_field *fields, size_t nfields,
                                  const char *path)
{
    if (!a)
        return KILN_ENULL;
    rt_env *env = a->env;
    if (!path || (!fields && nfields))
        return rt_err(env, KILN_ENULL, "kiln_npy_save_records: %s is NULL",
                      !path ? "path" : "fields");
    if (nfields == 0)
        return rt_err(env, KILN_EINVAL, "kiln_npy_save_records: no fields");
    if ((a->dtype != KILN_UINT8 && a->dtype != KILN_INT8) || a->rank < 1)
        return rt_err(env, KILN_EDTYPE,
                      "kiln_npy_save_records: a record array is uint8 or int8 with the record's "
                      "bytes as its last axis, not %s of rank %d",
                      kiln_dtype_name(a->dtype), a->rank);
    int64_t rsize = a->shape[a->rank - 1];
    /* descr: the fields in offset order, gaps as ('', '|V<n>') as
     * dtype.descr lists them; a header NumPy loads is at most
     * FE_NPY_MAX_HEADER bytes */
    char *descr = rt_malloc(env, FE_NPY_MAX_HEADER);
    char *header = rt_malloc(env, FE_NPY_MAX_HEADER + 2 * FE_NPY_ALIGN);
    kiln_status st = KILN_OK;
    if (!descr || !header) {
        st = rt_err(env, KILN_ENOMEM, "%s: out of memory saving", path);
        goto done;
    }
    size_t dn = 0;
    int64_t at = 0;
    descr[dn++] = '[';
    for (size_t i = 0; i < nfields && st == KILN_OK; i++) {
        const kiln_field *fd = &fields[i];
        if (!rt_dtype_valid((int)fd->dtype) || !memchr(fd->name, '\0', sizeof fd->name) ||
            !fe_npy_plain_name(fd->name)) {
            st = rt_err(env, KILN_EINVAL,
                        "kiln_npy_save_records: field %zu: a name of printable ASCII without "
                        "quotes or backslashes, and a kiln dtype, are needed", i);
            break;
        }
        int64_t sz = (int64_t)rt_dtypes[fd->dtype].size;
        if (fd->offset < at || fd->offset > rsize - sz) {
            st = rt_err(env, KILN_EINVAL,
                        "kiln_npy_save_records: field '%s' at offset %lld (%lld bytes) %s", fd->name,
                        (long long)fd->offset, (long long)sz,
                        fd->offset < at ? "overlaps the field before it or is out of order"
                                        : "does not fit the record's bytes");
            break;
        }
        char ts[8];
        fe_npy_typestr(fd->dtype, ts);
        int w = 0;
        if (fd->offset > at)
            w = snprintf(descr + dn, FE_NPY_MAX_HEADER - dn, "('', '|V%lld'), ",
                         (long long)(fd->offset - at));
        if (w >= 0 && (size_t)w < FE_NPY_MAX_HEADER - dn) {
            dn += (size_t)w;
            w = snprintf(descr + dn, FE_NPY_MAX_HEADER - dn, "('%s', '%s')%s", fd->name, ts,
                         i + 1 < nfields || fd->offset + sz < rsize ? ", " : "");
        }
        if (w < 0 || (size_t)w >= FE_NPY_MAX_HEADER - dn) {
            st = rt_err(env, KILN_EINVAL,
                        "kiln_npy_save_records: %zu fields make a header longer than the %d "
                        "bytes NumPy reads", nfields, FE_NPY_MAX_HEADER);
            break;
        }
        dn += (size_t)w;
        at = fd->offset + sz;
    }
    if (st == KILN_OK && at < rsize) {
        int w = snprintf(descr + dn, FE_NPY_MAX_HEADER - dn, "('', '|V%lld')",
                         (long long)(rsize - at));
        if (w < 0 || (size_t)w >= FE_NPY_MAX_HEADER - dn)
            st = rt_err(env, KILN_EINVAL, "kiln_npy_save_records: header too long");
        else
            dn += (size_t)w;
    }
    if (st == KILN_OK && dn + 2 > FE_NPY_MAX_HEADER)
        st = rt_err(env, KILN_EINVAL, "kiln_npy_save_records: header too long");
    if (st == KILN_OK) {
        descr[dn++] = ']';
        descr[dn] = '\0';
        size_t hn = fe_npy_header_bytes(descr, a->rank - 1, a->shape, header,
                                        FE_NPY_MAX_HEADER + 2 * FE_NPY_ALIGN);
        st = hn ? fe_npy_save(a, header, hn, path)
                : rt_err(env, KILN_EINVAL,
                         "kiln_npy_save_records: %zu fields make a header longer than the %d "
                         "bytes NumPy reads", nfields, FE_NPY_MAX_HEADER);
    }
done:
    rt_free(env, descr, FE_NPY_MAX_HEADER);
    rt_free(env, header, FE_NPY_MAX_HEADER + 2 * FE_NPY_ALIGN);
    return st;
}
