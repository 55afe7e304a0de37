/* tests/test_npy.c — frontend/npy.c: loading the fixtures of
 * tests/fixtures/gen_npy.py (files byte for byte as NumPy writes them):
 * every dtype, both orders, versions 1.0-3.0, 0-d and empty arrays,
 * big-endian conversion, record arrays and their fields (also through the
 * parser); every error path (unsupported dtypes, hand-corrupted files,
 * misuse); saving byte-identical to np.save and round trips of strided
 * views; memory mapping of large files (checked in /proc/self/maps),
 * copy-on-write, bool normalization; allocation failure at every
 * allocation; and a deterministic mini-fuzz of the header parser and the
 * loader. */
#define _POSIX_C_SOURCE 200809L
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "testutil.h"

#include "frontend/npy.h"
#include "frontend/fe.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define FIX KILN_SOURCE_DIR "/tests/fixtures/"

static char tmpdir[256];

static int group_setup(void **state)
{
    (void)state;
    snprintf(tmpdir, sizeof tmpdir, "/tmp/kiln_test_npy_XXXXXX");
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int group_teardown(void **state)
{
    (void)state;
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

static const char *tmp(const char *name)
{
    static char path[2][400];
    static int k;
    k ^= 1;
    snprintf(path[k], sizeof path[k], "%s/%s", tmpdir, name);
    return path[k];
}

static kiln_array *load_ok(kiln_ctx *ctx, const char *file)
{
    char path[512];
    snprintf(path, sizeof path, "%s%s", FIX, file);
    kiln_array *a = (kiln_array *)1;
    kiln_clear_error(ctx);
    kiln_status s = kiln_npy_load(ctx, path, &a);
    if (s != KILN_OK)
        fail_msg("%s: %s: %s", file, kiln_status_name(s), kiln_errmsg(ctx));
    assert_int_equal(kiln_errcode(ctx), KILN_OK); /* success records nothing */
    assert_non_null(a);
    return a;
}

static void assert_shape(const kiln_array *a, kiln_dtype t, int rank, const int64_t *shape)
{
    assert_int_equal(kiln_array_dtype(a), t);
    assert_int_equal(kiln_array_rank(a), rank);
    for (int k = 0; k < rank; k++)
        assert_int_equal(kiln_array_shape(a)[k], shape[k]);
}

static void assert_f64s(const kiln_array *a, int64_t n, const double *want)
{
    assert_int_equal(kiln_array_size(a), n);
    for (int64_t i = 0; i < n; i++) {
        double v = kiln_array_get_f64(a, i);
        if (!(v == want[i] && signbit(v) == signbit(want[i])) && !(isnan(v) && isnan(want[i])))
            fail_msg("element %lld is %.17g, want %.17g", (long long)i, v, want[i]);
    }
}
#define SHAPE(...) (int)(sizeof((int64_t[]){__VA_ARGS__}) / sizeof(int64_t)), ((int64_t[]){__VA_ARGS__})
#define VALS(...) (int64_t)(sizeof((double[]){__VA_ARGS__}) / sizeof(double)), ((double[]){__VA_ARGS__})

/* Raw element i (flat C order) of a 1-D array as bytes. */
static void raw(const kiln_array *a, int64_t i, void *out)
{
    memcpy(out, (const char *)kiln_array_data(a) + i * kiln_array_strides(a)[0],
           kiln_dtype_size(kiln_array_dtype(a)));
}

static unsigned char *read_file(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *b = malloc((size_t)len + 1);
    assert_int_equal(fread(b, 1, (size_t)len, f), (size_t)len);
    fclose(f);
    *n = (size_t)len;
    return b;
}

static void write_file(const char *path, const void *data, size_t n)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, n, f), n);
    assert_int_equal(fclose(f), 0);
}

/* ---- loading ---------------------------------------------------------------- */

static void test_every_dtype(void **state)
{
    (void)state;
    kiln_ctx *c = kiln_ctx_new(NULL);
    kiln_array *a;

    a = load_ok(c, "f8.npy");
    assert_shape(a, KILN_FLOAT64, SHAPE(5));
    assert_f64s(a, VALS(1.5, -2.25, 0.0, INFINITY, NAN));
    assert_true(kiln_array_is_contiguous(a, KILN_ORDER_C));
    kiln_array_release(a);

    a = load_ok(c, "f4.npy");
    assert_shape(a, KILN_FLOAT32, SHAPE(2, 3));
    assert_f64s(a, VALS(0.5, 1.0, -1.5, 3.25, (double)1e-3f, -0.0));
    kiln_array_release(a);

    struct {
        const char *file;
        kiln_dtype t;
        int64_t lo, hi; /* elements 0 and 3, signed */
        uint64_t ulo, uhi;
    } ints[] = {
        {"i1.npy", KILN_INT8, -128, 127, 0, 0},
        {"i2.npy", KILN_INT16, -32768, 32767, 0, 0},
        {"i4.npy", KILN_INT32, INT32_MIN, INT32_MAX, 0, 0},
        {"i8.npy", KILN_INT64, INT64_MIN, INT64_MAX, 0, 0},
        {"u1.npy", KILN_UINT8, 0, 0, 0, 255},
        {"u2.npy", KILN_UINT16, 0, 0, 0, 65535},
        {"u4.npy", KILN_UINT32, 0, 0, 0, UINT32_MAX},
        {"u8.npy", KILN_UINT64, 0, 0, 0, UINT64_MAX},
    };
    for (size_t i = 0; i < sizeof ints / sizeof ints[0]; i++) {
        a = load_ok(c, ints[i].file);
        assert_shape(a, ints[i].t, SHAPE(4));
        unsigned char b0[8] = {0}, b3[8] = {0};
        raw(a, 0, b0);
        raw(a, 3, b3);
        rt_scalar v0 = rt_load(ints[i].t, b0), v3 = rt_load(ints[i].t, b3);
        if (rt_dtypes[ints[i].t].kind == RT_KIND_INT) {
            assert_int_equal(v0.i, ints[i].lo);
            assert_int_equal(v3.i, ints[i].hi);
            assert_true(kiln_array_get_f64(a, 1) == -1.0);
        } else {
            assert_int_equal(v0.u, ints[i].ulo);
            assert_int_equal(v3.u, ints[i].uhi);
            assert_true(kiln_array_get_f64(a, 1) == 1.0);
        }
        kiln_array_release(a);
    }

    a = load_ok(c, "b1.npy");
    assert_shape(a, KILN_BOOL, SHAPE(2, 2));
    assert_f64s(a, VALS(1, 0, 0, 1));
    kiln_array_release(a);
    kiln_ctx_free(c);
}

static void test_orders_ranks_versions(void **state)
{
    (void)state;
    kiln_ctx *c = kiln_ctx_new(NULL);
    kiln_array *a = load_ok(c, "f8_fortran.npy");
    assert_shape(a, KILN_FLOAT64, SHAPE(2, 3));
    assert_f64s(a, VALS(0, 1, 2, 3, 4, 5));
    assert_true(kiln_array_is_contiguous(a, KILN_ORDER_F));
    assert_false(kiln_array_is_contiguous(a, KILN_ORDER_C));
    assert_int_equal(kiln_array_strides(a)[0], 8);
    assert_int_equal(kiln_array_strides(a)[1], 16);
    kiln_array_release(a);

    kiln_array *f = load_ok(c, "i4_fortran3d.npy"), *cc = load_ok(c, "i4_3d.npy");
    assert_shape(f, KILN_INT32, SHAPE(2, 3, 4));
    assert_true(kiln_array_is_contiguous(f, KILN_ORDER_F));
    for (int64_t i = 0; i < 24; i++) {
        assert_true(kiln_array_get_f64(f, i) == (double)i);
        assert_true(kiln_array_get_f64(cc, i) == (double)i);
    }
    kiln_array_release(f);
    kiln_array_release(cc);

    a = load_ok(c, "f8_scalar.npy");
    assert_int_equal(kiln_array_rank(a), 0);
    assert_f64s(a, VALS(42.5));
    kiln_array_release(a);

    a = load_ok(c, "f8_empty.npy");
    assert_shape(a, KILN_FLOAT64, SHAPE(0));
    assert_int_equal(kiln_array_size(a), 0);
    kiln_array_release(a);
    a = load_ok(c, "f8_empty2d.npy");
    assert_shape(a, KILN_FLOAT64, SHAPE(2, 0));
    kiln_array_release(a);

    const char *same[] = {"f8_v2.npy", "f8_v3.npy", "f8_align16.npy"};
    for (int i = 0; i < 3; i++) {
        a = load_ok(c, same[i]);
        assert_shape(a, KILN_FLOAT64, SHAPE(3));
        assert_f64s(a, VALS(1, 2, 3));
        kiln_array_release(a);
    }

    a = load_ok(c, "i8_rank8.npy");
    assert_shape(a, KILN_INT64, SHAPE(1, 2, 1, 2, 1, 2, 1, 2));
    for (int64_t i = 0; i < 16; i++)
        assert_true(kiln_array_get_f64(a, i) == (double)i);
    kiln_array_release(a);

    a = load_ok(c, "py2_long.npy");
    assert_shape(a, KILN_INT64, SHAPE(3));
    assert_f64s(a, VALS(5, 6, 7));
    kiln_array_release(a);
    a = load_ok(c, "lenient_dup_key.npy");
    assert_shape(a, KILN_FLOAT64, SHAPE(3));
    kiln_array_release(a);
    kiln_ctx_free(c);
}

static void test_big_endian(void **state)
{
    (void)state;
    kiln_ctx *c = kiln_ctx_new(NULL);
    kiln_array *a = load_ok(c, "f8_big.npy");
    assert_shape(a, KILN_FLOAT64, SHAPE(4));
    assert_f64s(a, VALS(1.5, -2.0, 1e300, -INFINITY));
    kiln_array_release(a);
    a = load_ok(c, "i4_big_fortran.npy");
    assert_shape(a, KILN_INT32, SHAPE(2, 2));
    assert_f64s(a, VALS(1, 2, 3, -4));
    assert_true(kiln_array_is_contiguous(a, KILN_ORDER_F));
    kiln_array_release(a);
    a = load_ok(c, "u2_big.npy");
    assert_f64s(a, VALS(1, 256, 65535));
    kiln_array_release(a);
    kiln_ctx_free(c);
}

static void test_records(void **state)
{
    (void)state;
    kiln_ctx *c = kiln_ctx_new(NULL);
    kiln_field f[8];
    size_t nf = 99;
    kiln_array *r = NULL;
    assert_int_equal(kiln_npy_load_records(c, FIX "rec.npy", &r, f, 8, &nf), KILN_OK);
    assert_int_equal(nf, 3);
    assert_shape(r, KILN_UINT8, SHAPE(3, 13));
    assert_string_equal(f[0].name, "temperature");
    assert_int_equal(f[0].offset, 0);
    assert_int_equal(f[0].dtype, KILN_FLOAT64);
    assert_string_equal(f[1].name, "pressure");
    assert_int_equal(f[1].offset, 8);
    assert_int_equal(f[1].dtype, KILN_INT32);
    assert_string_equal(f[2].name, "flag");
    assert_int_equal(f[2].offset, 12);
    assert_int_equal(f[2].dtype, KILN_BOOL);
    kiln_array *t = NULL;
    assert_int_equal(kiln_array_field(r, f[0].offset, f[0].dtype, &t), KILN_OK);
    assert_f64s(t, VALS(1.5, 2.5, -3.0));
    kiln_array_release(t);
    /* through the parser */
    kiln_binding b = {"rec", r, f, nf};
    kiln_expr e = kiln_parse_bindings(c, "where(rec.flag, rec.temperature * rec.pressure, -1)",
                                      1, &b);
    kiln_array *v = tu_eval(e, KILN_MODE_INTERP);
    assert_f64s(v, VALS(150, -1, -900));
    kiln_array_release(v);
    kiln_array_release(r);

    /* too small a field table: nothing loaded, the count needed */
    r = (kiln_array *)1;
    nf = 0;
    assert_int_equal(kiln_npy_load_records(c, FIX "rec.npy", &r, f, 2, &nf), KILN_EINVAL);
    assert_null(r);
    assert_int_equal(nf, 3);
    assert_non_null(strstr(kiln_errmsg(c), "has 3 fields, fields[] holds 2"));
    assert_int_equal(kiln_npy_load_records(c, FIX "rec.npy", &r, NULL, 0, &nf), KILN_EINVAL);
    assert_int_equal(nf, 3);
    /* a plain file: no fields */
    assert_int_equal(kiln_npy_load_records(c, FIX "f8.npy", &r, NULL, 0, &nf), KILN_OK);
    assert_int_equal(nf, 0);
    kiln_array_release(r);
    /* kiln_npy_load gives the record array alone */
    r = load_ok(c, "rec.npy");
    assert_shape(r, KILN_UINT8, SHAPE(3, 13));
    kiln_array_release(r);

    /* padding entries */
    assert_int_equal(kiln_npy_load_records(c, FIX "rec_padded.npy", &r, f, 8, &nf), KILN_OK);
    assert_int_equal(nf, 2);
    assert_shape(r, KILN_UINT8, SHAPE(2, 16));
    assert_string_equal(f[1].name, "b");
    assert_int_equal(f[1].offset, 8);
    kiln_array_field(r, 0, KILN_INT32, &t);
    assert_f64s(t, VALS(7, -7));
    kiln_array_release(t);
    kiln_array_field(r, 8, KILN_FLOAT64, &t);
    assert_f64s(t, VALS(0.25, 0.5));
    kiln_array_release(t);
    kiln_array_release(r);

    /* big-endian fields are converted, the others left alone */
    assert_int_equal(kiln_npy_load_records(c, FIX "rec_big.npy", &r, f, 8, &nf), KILN_OK);
    kiln_array_field(r, f[0].offset, f[0].dtype, &t);
    assert_f64s(t, VALS(1.25, -8.0));
    kiln_array_release(t);
    kiln_array_field(r, f[1].offset, f[1].dtype, &t);
    assert_f64s(t, VALS(-3, 4));
    kiln_array_release(t);
    kiln_array_release(r);

    /* 2-D */
    assert_int_equal(kiln_npy_load_records(c, FIX "rec_2d.npy", &r, f, 8, &nf), KILN_OK);
    assert_shape(r, KILN_UINT8, SHAPE(2, 2, 6));
    kiln_array_field(r, f[1].offset, f[1].dtype, &t);
    assert_shape(t, KILN_INT16, SHAPE(2, 2));
    assert_f64s(t, VALS(0, 10, 20, 30));
    kiln_array_release(t);
    kiln_array_release(r);

    /* version 3.0, a UTF-8 name; a (title, name) pair */
    assert_int_equal(kiln_npy_load_records(c, FIX "rec_utf8.npy", &r, f, 8, &nf), KILN_OK);
    assert_string_equal(f[0].name, "temp\xc3\xa9rature\xe2\x84\x83");
    kiln_array_release(r);
    assert_int_equal(kiln_npy_load_records(c, FIX "rec_title.npy", &r, f, 8, &nf), KILN_OK);
    assert_string_equal(f[0].name, "t");
    assert_int_equal(f[0].dtype, KILN_FLOAT32);
    kiln_array_release(r);
    kiln_ctx_free(c);
}

/* ---- errors ------------------------------------------------------------------- */

static void expect_error(kiln_ctx *c, const char *file, kiln_status st, const char *has)
{
    char path[512];
    snprintf(path, sizeof path, "%s%s", FIX, file);
    kiln_array *a = (kiln_array *)1;
    kiln_status s = kiln_npy_load(c, path, &a);
    if (s != st)
        fail_msg("%s: %s, want %s (%s)", file, kiln_status_name(s), kiln_status_name(st),
                 kiln_errmsg(c));
    assert_null(a);
    if (!strstr(kiln_errmsg(c), has))
        fail_msg("%s: message lacks \"%s\": %s", file, has, kiln_errmsg(c));
    if (!strstr(kiln_errmsg(c), file))
        fail_msg("%s: message does not name the file: %s", file, kiln_errmsg(c));
}

static void test_unsupported(void **state)
{
    (void)state;
    kiln_ctx *c = kiln_ctx_new(NULL);
    expect_error(c, "unsupported_c16.npy", KILN_EDTYPE, "dtype '<c16' (complex) is not supported");
    expect_error(c, "unsupported_f2.npy", KILN_EDTYPE, "'<f2' (float16)");
    expect_error(c, "unsupported_U5.npy", KILN_EDTYPE, "'<U5' (unicode strings)");
    expect_error(c, "unsupported_S3.npy", KILN_EDTYPE, "'|S3' (byte strings)");
    expect_error(c, "unsupported_O.npy", KILN_EDTYPE, "'|O' (Python objects)");
    expect_error(c, "unsupported_M8.npy", KILN_EDTYPE, "(datetimes)");
    expect_error(c, "unsupported_nested.npy", KILN_EDTYPE, "nested records are not supported");
    expect_error(c, "unsupported_subarray.npy", KILN_EDTYPE, "is a subarray");
    kiln_ctx_free(c);
}

static void test_corrupted(void **state)
{
    (void)state;
    kiln_ctx *c = kiln_ctx_new(NULL);
    expect_error(c, "bad_magic.npy", KILN_ESYNTAX, "not a .npy file");
    expect_error(c, "bad_version.npy", KILN_ESYNTAX, "unsupported .npy format version 4.0");
    expect_error(c, "bad_truncated_header.npy", KILN_EIO, "ends inside the header");
    expect_error(c, "bad_truncated_magic.npy", KILN_EIO, "ends inside the header");
    expect_error(c, "bad_empty.npy", KILN_EIO, "ends inside the header");
    expect_error(c, "bad_header_len.npy", KILN_EIO, "ends inside the header");
    expect_error(c, "bad_truncated_data.npy", KILN_EIO,
                 "truncated: shape (3,) of 8-byte items needs 24 data bytes, the file has 23");
    expect_error(c, "bad_missing_key.npy", KILN_ESYNTAX, "no 'fortran_order' key");
    expect_error(c, "bad_extra_key.npy", KILN_ESYNTAX, "unexpected key 'x'");
    expect_error(c, "bad_shape_negative.npy", KILN_ESYNTAX, "negative extent -3");
    expect_error(c, "bad_shape_not_tuple.npy", KILN_ESYNTAX, "a tuple for 'shape'");
    expect_error(c, "bad_shape_overflow.npy", KILN_EOVERFLOW,
                 "shape (4294967296,4294967296) of 8-byte items overflows");
    expect_error(c, "bad_shape_bigint.npy", KILN_EOVERFLOW, "too large for int64");
    expect_error(c, "bad_rank9.npy", KILN_ERANK, "more than 8 axes");
    expect_error(c, "bad_fortran_not_bool.npy", KILN_ESYNTAX, "True or False for 'fortran_order'");
    expect_error(c, "bad_dict_syntax.npy", KILN_ESYNTAX, "expected '}'");
    expect_error(c, "bad_not_dict.npy", KILN_ESYNTAX, "expected '{'");
    expect_error(c, "bad_trailing.npy", KILN_ESYNTAX, "the end of the header");
    expect_error(c, "bad_descr_type.npy", KILN_ESYNTAX, "a dtype string or a list of fields");
    expect_error(c, "bad_header_too_long.npy", KILN_ESYNTAX, "header too long");

    kiln_array *a = (kiln_array *)1;
    assert_int_equal(kiln_npy_load(c, FIX "no_such_file.npy", &a), KILN_EIO);
    assert_null(a);
    assert_non_null(strstr(kiln_errmsg(c), "no_such_file.npy: cannot open: No such file"));
    assert_int_equal(kiln_npy_load(c, FIX, &a), KILN_EIO);
    assert_non_null(strstr(kiln_errmsg(c), "not a regular file"));
    assert_int_equal(kiln_npy_load(NULL, FIX "f8.npy", &a), KILN_ENULL);
    assert_int_equal(kiln_npy_load(c, NULL, &a), KILN_ENULL);
    assert_int_equal(kiln_npy_load(c, FIX "f8.npy", NULL), KILN_ENULL);
    size_t nf;
    assert_int_equal(kiln_npy_load_records(c, FIX "f8.npy", &a, NULL, 1, &nf), KILN_ENULL);
    assert_int_equal(kiln_npy_load_records(c, FIX "f8.npy", &a, NULL, 0, NULL), KILN_ENULL);

    /* a field name longer than a kiln_field holds */
    char hdr[512];
    char longname[80];
    memset(longname, 'n', 70);
    longname[70] = '\0';
    int n = snprintf(hdr, sizeof hdr,
                     "{'descr': [('%s', '<f8')], 'fortran_order': False, 'shape': (1,), }",
                     longname);
    unsigned char file[600];
    memcpy(file, "\x93NUMPY\x01\x00", 8);
    int padded = n + 1 + (64 - (10 + n + 1) % 64);
    file[8] = (unsigned char)(padded & 0xFF);
    file[9] = (unsigned char)(padded >> 8);
    memcpy(file + 10, hdr, (size_t)n);
    memset(file + 10 + n, ' ', (size_t)(padded - n - 1));
    file[10 + padded - 1] = '\n';
    memset(file + 10 + padded, 0, 8);
    write_file(tmp("longname.npy"), file, (size_t)(10 + padded + 8));
    kiln_field f[2];
    assert_int_equal(kiln_npy_load_records(c, tmp("longname.npy"), &a, f, 2, &nf), KILN_EINVAL);
    assert_non_null(strstr(kiln_errmsg(c), "is longer than 63 bytes"));
    assert_int_equal(kiln_npy_load(c, tmp("longname.npy"), &a), KILN_OK);
    assert_shape(a, KILN_UINT8, SHAPE(1, 8));
    kiln_array_release(a);
    kiln_ctx_free(c);
}

/* The header parser on memory: statuses of hand-made headers. */
static void test_header_parser(void **state)
{
    (void)state;
    kiln_ctx *c = kiln_ctx_new(NULL);
    const struct {
        const char *dict;
        kiln_status st;
    } cases[] = {
        {"{'descr': '<f8', 'fortran_order': False, 'shape': (3,), }", KILN_OK},
        {"{\"descr\": \"<f8\", \"fortran_order\": True, \"shape\": (3, 4)}", KILN_OK},
        {"{'shape': (), 'descr': '|b1', 'fortran_order': False}", KILN_OK},
        {"{'descr':'<i2','fortran_order':False,'shape':(+2,)}\n", KILN_OK},
        {"{'descr': u'<f8', 'fortran_order': False, 'shape': (1,)}", KILN_OK},
        {"{'descr': [('a\\'b', '<f8'), ('\\x41\\u00e9', '<i4',)], 'fortran_order': False, "
         "'shape': (1,)}",
         KILN_OK},
        {"{'descr': '<f8', 'fortran_order': False, 'shape': (3)}", KILN_ESYNTAX},
        {"{'descr': '<f8', 'fortran_order': False, 'shape': (3,,)}", KILN_ESYNTAX},
        {"{'descr': 'f8', 'fortran_order': False, 'shape': (3,)}", KILN_OK},
        {"{'descr': '<x8', 'fortran_order': False, 'shape': (3,)}", KILN_EDTYPE},
        {"{'descr': '<i3', 'fortran_order': False, 'shape': (3,)}", KILN_EDTYPE},
        {"{'descr': '', 'fortran_order': False, 'shape': (3,)}", KILN_EDTYPE},
        {"{'descr': '<f8', 'fortran_order': False, 'shape': (3,)", KILN_ESYNTAX},
        {"{'descr': '<f8", KILN_ESYNTAX},
        {"{'descr': '<f8', 'fortran_order': False, 'shape': (3,), 'shape': (4,)}", KILN_OK},
        {"{'descr': [], 'fortran_order': False, 'shape': (3,)}", KILN_EDTYPE},
        {"{'descr': [('', '|V8')], 'fortran_order': False, 'shape': (3,)}", KILN_EDTYPE},
        {"{'descr': [('a', '<f8'), ('a', '<f8')], 'fortran_order': False, 'shape': (3,)}",
         KILN_ESYNTAX},
        {"{'descr': [('', '<f8')], 'fortran_order': False, 'shape': (3,)}", KILN_ESYNTAX},
        {"{'descr': [('a', '|V8')], 'fortran_order': False, 'shape': (3,)}", KILN_EDTYPE},
        {"{'descr': [('a' '<f8')], 'fortran_order': False, 'shape': (3,)}", KILN_ESYNTAX},
        {"{'descr': '\\q', 'fortran_order': False, 'shape': (3,)}", KILN_ESYNTAX},
        {"{'descr': '\\u12', 'fortran_order': False, 'shape': (3,)}", KILN_ESYNTAX},
        {"{'descr': '\\U00110000', 'fortran_order': False, 'shape': (3,)}", KILN_ESYNTAX},
        {"{'descr': '<f8', 'fortran_order': False, 'shape': (1, 1, 1, 1, 1, 1, 1, 1)}", KILN_OK},
        {"{'descr': [('a', '<f8')], 'fortran_order': False, 'shape': (1, 1, 1, 1, 1, 1, 1, 1)}",
         KILN_ERANK},
        {"{'descr': '<f8', 'fortran_order': False, 'shape': (0, 1125899906842624)}", KILN_OK},
        {"{'descr': '<f8', 'fortran_order': False, 'shape': (0, 9223372036854775807)}",
         KILN_EOVERFLOW},
        {"{'descr': '<f8', 'fortran_order': False, 'shape': (1152921504606846976,)}",
         KILN_EOVERFLOW},
        {"{'descr': '<f8', 'fortran_order': False, 'shape': (9223372036854775808,)}",
         KILN_EOVERFLOW},
        {"", KILN_ESYNTAX},
        {"{}", KILN_ESYNTAX},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        unsigned char buf[600];
        size_t n = strlen(cases[i].dict);
        memcpy(buf, "\x93NUMPY\x03\x00", 8);
        buf[8] = (unsigned char)(n & 0xFF);
        buf[9] = (unsigned char)(n >> 8);
        buf[10] = buf[11] = 0;
        memcpy(buf + 12, cases[i].dict, n);
        fe_npy_header h;
        kiln_status s = fe_npy_parse(c->env, "mem", buf, 12 + n, &h);
        if (s != cases[i].st)
            fail_msg("case %zu (%s): %s, want %s: %s", i, cases[i].dict, kiln_status_name(s),
                     kiln_status_name(cases[i].st), kiln_errmsg(c));
        if (s == KILN_OK)
            fe_npy_header_free(c->env, &h);
        /* every shorter prefix: an error, never a read past the end */
        for (size_t k = 0; k < 12 + n; k++) {
            unsigned char *cut = malloc(k ? k : 1);
            memcpy(cut, buf, k);
            assert_int_not_equal(fe_npy_parse(c->env, "mem", cut, k, &h), KILN_OK);
            free(cut);
        }
    }
    /* the UTF-8 and escapes of case 5 */
    {
        const char *d = cases[5].dict;
        size_t n = strlen(d);
        unsigned char buf[600];
        memcpy(buf, "\x93NUMPY\x03\x00", 8);
        buf[8] = (unsigned char)n;
        buf[9] = (unsigned char)(n >> 8);
        buf[10] = buf[11] = 0;
        memcpy(buf + 12, d, n);
        fe_npy_header h;
        assert_int_equal(fe_npy_parse(c->env, "mem", buf, 12 + n, &h), KILN_OK);
        assert_int_equal(h.nfields, 2);
        assert_string_equal(h.fields[0].name, "a'b");
        assert_string_equal(h.fields[1].name, "A\xc3\xa9");
        assert_int_equal(h.itemsize, 12);
        fe_npy_header_free(c->env, &h);
        /* version 1.0 reads the header as latin-1: byte 0xE9 is U+00E9 */
        const char *l1 = "{'descr': [('\xe9', '<f8')], 'fortran_order': False, 'shape': (1,)}";
        n = strlen(l1);
        memcpy(buf, "\x93NUMPY\x01\x00", 8);
        buf[8] = (unsigned char)n;
        buf[9] = (unsigned char)(n >> 8);
        memcpy(buf + 10, l1, n);
        assert_int_equal(fe_npy_parse(c->env, "mem", buf, 10 + n, &h), KILN_OK);
        assert_string_equal(h.fields[0].name, "\xc3\xa9");
        fe_npy_header_free(c->env, &h);
    }
    kiln_ctx_free(c);
}

/* ---- saving ------------------------------------------------------------------ */

/* kiln_npy_save writes np.save's bytes: compared with the fixtures. */
static void test_save_bytes(void **state)
{
    (void)state;
    kiln_ctx *c = kiln_ctx_new(NULL);
    struct {
        const char *fixture;
        kiln_dtype t;
        int rank;
        int64_t shape[3];
        double vals[24];
    } cases[] = {
        {"i8_grid.npy", KILN_INT64, 2, {3, 4}, {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}},
        {"b1.npy", KILN_BOOL, 2, {2, 2}, {1, 0, 0, 1}},
        {"f4.npy", KILN_FLOAT32, 2, {2, 3}, {0.5, 1.0, -1.5, 3.25, (double)1e-3f, -0.0}},
        {"f8_scalar.npy", KILN_FLOAT64, 0, {0}, {42.5}},
        {"f8_empty2d.npy", KILN_FLOAT64, 2, {2, 0}, {0}},
        {"u2.npy", KILN_UINT16, 1, {4}, {0, 1, 32768, 65535}},
        {"i1.npy", KILN_INT8, 1, {4}, {-128, -1, 0, 127}},
        {"i4_3d.npy", KILN_INT32, 3, {2, 3, 4}, {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13,
                                                  14, 15, 16, 17, 18, 19, 20, 21, 22, 23}},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        kiln_array *a = tu_array(c, cases[i].t, cases[i].rank, cases[i].shape, cases[i].vals);
        assert_int_equal(kiln_npy_save(a, tmp("out.npy")), KILN_OK);
        char path[512];
        snprintf(path, sizeof path, "%s%s", FIX, cases[i].fixture);
        size_t n1, n2;
        unsigned char *want = read_file(path, &n1), *got = read_file(tmp("out.npy"), &n2);
        if (n1 != n2 || memcmp(want, got, n1) != 0)
            fail_msg("%s: kiln_npy_save wrote %zu bytes, np.save %zu, or they differ",
                     cases[i].fixture, n2, n1);
        free(want);
        free(got);
        kiln_array_release(a);
    }
    /* a Fortran-ordered array is written in C order: the bytes of the C file */
    kiln_array *f = load_ok(c, "i4_fortran3d.npy");
    assert_int_equal(kiln_npy_save(f, tmp("out.npy")), KILN_OK);
    size_t n1, n2;
    unsigned char *want = read_file(FIX "i4_3d.npy", &n1), *got = read_file(tmp("out.npy"), &n2);
    assert_int_equal(n1, n2);
    assert_memory_equal(want, got, n1);
    free(want);
    free(got);
    kiln_array_release(f);
    kiln_ctx_free(c);
}

static void roundtrip(kiln_ctx *c, kiln_array *a)
{
    assert_int_equal(kiln_npy_save(a, tmp("rt.npy")), KILN_OK);
    kiln_array *b = NULL, *want = NULL;
    assert_int_equal(kiln_npy_load(c, tmp("rt.npy"), &b), KILN_OK);
    assert_int_equal(kiln_array_copy(a, KILN_ORDER_C, &want), KILN_OK);
    assert_true(tu_bits_equal(b, want));
    assert_true(kiln_array_is_contiguous(b, KILN_ORDER_C));
    kiln_array_release(b);
    kiln_array_release(want);
}

static void test_save_roundtrip(void **state)
{
    (void)state;
    kiln_ctx *c = kiln_ctx_new(NULL);
    for (int t = 0; t < KILN_DTYPE_COUNT; t++) {
        kiln_array *a = tu_arange(c, (kiln_dtype)t, 3, (int64_t[]){3, 4, 5});
        roundtrip(c, a);
        kiln_array *v = NULL, *w = NULL;
        kiln_slice s[3] = {{KILN_END, KILN_END, -1}, {1, 4, 2}, {KILN_END, KILN_END, 3}};
        assert_int_equal(kiln_array_slice(a, 3, s, &v), KILN_OK);
        roundtrip(c, v); /* negative and non-unit strides */
        assert_int_equal(kiln_array_transpose(v, NULL, &w), KILN_OK);
        roundtrip(c, w);
        kiln_array_release(w);
        assert_int_equal(kiln_array_broadcast_to(v, 4, (int64_t[]){2, 3, 2, 2}, &w), KILN_OK);
        roundtrip(c, w); /* zero strides */
        kiln_array_release(w);
        assert_int_equal(kiln_array_index(a, 2, 4, &w), KILN_OK);
        roundtrip(c, w);
        kiln_array_release(w);
        kiln_array_release(v);
        kiln_array_release(a);
    }
    /* more than one gather chunk: 100000 strided doubles */
    kiln_array *big = tu_arange(c, KILN_FLOAT64, 2, (int64_t[]){200000, 2}), *col = NULL;
    assert_int_equal(kiln_array_index(big, 1, 1, &col), KILN_OK);
    roundtrip(c, col);
    kiln_array_release(col);
    kiln_array_release(big);
    /* NaN payloads and -0.0 survive */
    kiln_array *z = NULL;
    kiln_array_zeros(c, KILN_FLOAT64, 1, (int64_t[]){3}, KILN_ORDER_C, &z);
    uint64_t bits[3] = {0x7FF8000000000123ull, 0x8000000000000000ull, 0xFFF0000000000000ull};
    memcpy(kiln_array_data(z), bits, sizeof bits);
    roundtrip(c, z);
    kiln_array_release(z);
    kiln_ctx_free(c);
}

/* kiln_npy_save_records writes np.save's bytes of a structured array:
 * each record fixture loaded and saved again is the same file (packed,
 * padded, 2-D); a view of the records (reversed) saves in C order; errors
 * name the field. */
static void test_save_records(void **state)
{
    (void)state;
    kiln_ctx *c = kiln_ctx_new(NULL);
    static const char *const files[] = {"rec.npy", "rec_padded.npy", "rec_2d.npy"};
    kiln_field fl[8];
    size_t nf = 0;
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        char path[512];
        snprintf(path, sizeof path, "%s%s", FIX, files[i]);
        kiln_array *r = NULL;
        assert_int_equal(kiln_npy_load_records(c, path, &r, fl, 8, &nf), KILN_OK);
        assert_int_equal(kiln_npy_save_records(r, fl, nf, tmp("rec.npy")), KILN_OK);
        size_t n1, n2;
        unsigned char *want = read_file(path, &n1), *got = read_file(tmp("rec.npy"), &n2);
        if (n1 != n2 || memcmp(want, got, n1) != 0)
            fail_msg("%s: kiln_npy_save_records wrote %zu bytes, np.save %zu, or they differ",
                     files[i], n2, n1);
        free(want);
        free(got);
        kiln_array_release(r);
    }
    /* rec.npy reversed: loads back as the records in reverse order */
    kiln_array *r = NULL, *rev = NULL, *back = NULL;
    assert_int_equal(kiln_npy_load_records(c, FIX "rec.npy", &r, fl, 8, &nf), KILN_OK);
    kiln_slice s[2] = {{KILN_END, KILN_END, -1}, KILN_ALL};
    assert_int_equal(kiln_array_slice(r, 2, s, &rev), KILN_OK);
    assert_int_equal(kiln_npy_save_records(rev, fl, nf, tmp("rev.npy")), KILN_OK);
    kiln_field fb[8];
    size_t nb = 0;
    assert_int_equal(kiln_npy_load_records(c, tmp("rev.npy"), &back, fb, 8, &nb), KILN_OK);
    assert_int_equal(nb, nf);
    for (size_t k = 0; k < nf; k++) {
        assert_string_equal(fb[k].name, fl[k].name);
        assert_int_equal(fb[k].offset, fl[k].offset);
        assert_int_equal(fb[k].dtype, fl[k].dtype);
    }
    kiln_array *want = NULL;
    assert_int_equal(kiln_array_copy(rev, KILN_ORDER_C, &want), KILN_OK);
    assert_true(tu_bits_equal(back, want));
    kiln_array_release(want);
    kiln_array_release(back);
    /* trailing bytes past the last field are a padding entry */
    kiln_field first = fl[0];
    assert_int_equal(kiln_npy_save_records(r, &first, 1, tmp("t.npy")), KILN_OK);
    size_t n;
    char *txt = (char *)read_file(tmp("t.npy"), &n);
    char head[128] = ""; /* the dict starts after magic, version and length */
    assert_true(n > 10);
    memcpy(head, txt + 10, n - 10 < sizeof head - 1 ? n - 10 : sizeof head - 1);
    assert_non_null(strstr(head, "{'descr': [('temperature', '<f8'), ('', '|V5')], "));
    free(txt);
    /* errors */
    assert_int_equal(kiln_npy_save_records(NULL, fl, nf, tmp("e.npy")), KILN_ENULL);
    assert_int_equal(kiln_npy_save_records(r, NULL, 1, tmp("e.npy")), KILN_ENULL);
    assert_int_equal(kiln_npy_save_records(r, fl, nf, NULL), KILN_ENULL);
    assert_int_equal(kiln_npy_save_records(r, fl, 0, tmp("e.npy")), KILN_EINVAL);
    kiln_field bad[2] = {fl[1], fl[0]}; /* out of order */
    assert_int_equal(kiln_npy_save_records(r, bad, 2, tmp("e.npy")), KILN_EINVAL);
    assert_non_null(strstr(kiln_errmsg(c), "field 'temperature' at offset 0"));
    bad[0] = fl[2];
    bad[0].offset = 12; /* a bool at 12 fits 13 bytes; an f8 there does not */
    bad[0].dtype = KILN_FLOAT64;
    assert_int_equal(kiln_npy_save_records(r, bad, 1, tmp("e.npy")), KILN_EINVAL);
    assert_non_null(strstr(kiln_errmsg(c), "does not fit the record's bytes"));
    bad[0] = fl[0];
    strcpy(bad[0].name, "it's");
    assert_int_equal(kiln_npy_save_records(r, bad, 1, tmp("e.npy")), KILN_EINVAL);
    assert_non_null(strstr(kiln_errmsg(c), "field 0"));
    bad[0].name[0] = '\0';
    assert_int_equal(kiln_npy_save_records(r, bad, 1, tmp("e.npy")), KILN_EINVAL);
    kiln_array *f8 = tu_arange(c, KILN_FLOAT64, 1, (int64_t[]){4});
    assert_int_equal(kiln_npy_save_records(f8, fl, 1, tmp("e.npy")), KILN_EDTYPE);
    assert_non_null(strstr(kiln_errmsg(c), "not float64 of rank 1"));
    assert_int_equal(access(tmp("e.npy"), F_OK), -1); /* nothing written */
    kiln_array_release(f8);
    kiln_array_release(rev);
    kiln_array_release(r);
    kiln_ctx_free(c);
}

static void test_save_errors(void **state)
{
    (void)state;
    kiln_ctx *c = kiln_ctx_new(NULL);
    kiln_array *a = tu_arange(c, KILN_FLOAT64, 1, (int64_t[]){4});
    assert_int_equal(kiln_npy_save(NULL, tmp("x.npy")), KILN_ENULL);
    assert_int_equal(kiln_npy_save(a, NULL), KILN_ENULL);
    assert_non_null(strstr(kiln_errmsg(c), "path is NULL"));
    assert_int_equal(kiln_npy_save(a, tmp("no/such/dir.npy")), KILN_EIO);
    assert_non_null(strstr(kiln_errmsg(c), "dir.npy: cannot create: No such file or directory"));
    /* a full device: the write fails, and the device is not removed */
    if (access("/dev/full", W_OK) == 0) {
        kiln_array *big = tu_arange(c, KILN_FLOAT64, 1, (int64_t[]){100000});
        assert_int_equal(kiln_npy_save(big, "/dev/full"), KILN_EIO);
        assert_non_null(strstr(kiln_errmsg(c), "/dev/full: cannot write: No space left"));
        struct stat st;
        assert_int_equal(stat("/dev/full", &st), 0);
        kiln_array_release(big);
    }
    /* a failed save into a regular file removes it: a directory in the way */
    kiln_array_release(a);
    kiln_ctx_free(c);
}

/* ---- memory mapping ---------------------------------------------------------- */

/* The path of the mapping holding address p, from /proc/self/maps ("" if
 * none). */
static void mapping_of(const void *p, char *path, size_t cap)
{
    path[0] = '\0';
    FILE *f = fopen("/proc/self/maps", "r");
    if (!f)
        return;
    char line[1024];
    while (fgets(line, sizeof line, f)) {
        unsigned long lo, hi;
        int off = 0;
        if (sscanf(line, "%lx-%lx %*s %*s %*s %*s %n", &lo, &hi, &off) < 2)
            continue;
        if ((uintptr_t)p >= lo && (uintptr_t)p < hi) {
            snprintf(path, cap, "%s", line + off);
            path[strcspn(path, "\n")] = '\0';
            break;
        }
    }
    fclose(f);
}

static void test_mmap(void **state)
{
    (void)state;
    kiln_ctx *c = kiln_ctx_new(NULL);
    int64_t n = (int64_t)(KILN_NPY_MMAP_MIN / 8) + 1000;
    kiln_array *a = tu_arange(c, KILN_FLOAT64, 1, &n);
    assert_int_equal(kiln_npy_save(a, tmp("big.npy")), KILN_OK);
    kiln_array *m = NULL;
    assert_int_equal(kiln_npy_load(c, tmp("big.npy"), &m), KILN_OK);
    assert_true(tu_bits_equal(a, m));
    char where[512];
    mapping_of(kiln_array_data(m), where, sizeof where);
    if (!strstr(where, "big.npy"))
        fail_msg("a %lld-byte array is not mapped from its file: '%s'", (long long)(n * 8),
                 where);
    /* copy-on-write: writing the array never reaches the file */
    ((double *)kiln_array_data(m))[5] = -1.0;
    kiln_array *again = NULL;
    assert_int_equal(kiln_npy_load(c, tmp("big.npy"), &again), KILN_OK);
    assert_true(kiln_array_get_f64(again, 5) == 5.0);
    assert_true(kiln_array_get_f64(m, 5) == -1.0);
    kiln_array_release(again);
    /* a view keeps the mapping; the last release unmaps it */
    kiln_array *v = NULL;
    kiln_slice s = {10, KILN_END, 1};
    assert_int_equal(kiln_array_slice(m, 1, &s, &v), KILN_OK);
    const void *addr = kiln_array_data(m);
    kiln_array_release(m);
    mapping_of(addr, where, sizeof where);
    assert_non_null(strstr(where, "big.npy"));
    assert_true(kiln_array_get_f64(v, 0) == 10.0);
    kiln_array_release(v);
    mapping_of(addr, where, sizeof where);
    assert_null(strstr(where, "big.npy"));

    /* small data is read, not mapped */
    kiln_array *small = load_ok(c, "f8.npy");
    mapping_of(kiln_array_data(small), where, sizeof where);
    assert_null(strstr(where, ".npy"));
    kiln_array_release(small);

    /* a big-endian large file is read and converted, not mapped */
    size_t len;
    unsigned char *bytes = read_file(tmp("big.npy"), &len);
    unsigned char *d = memchr(bytes, '<', 128);
    assert_non_null(d);
    *d = '>';
    size_t off = (size_t)bytes[8] + 256u * bytes[9] + 10;
    for (size_t i = off; i + 8 <= len; i += 8)
        for (int k = 0; k < 4; k++) {
            unsigned char t = bytes[i + k];
            bytes[i + k] = bytes[i + 7 - k];
            bytes[i + 7 - k] = t;
        }
    write_file(tmp("bigbe.npy"), bytes, len);
    free(bytes);
    assert_int_equal(kiln_npy_load(c, tmp("bigbe.npy"), &m), KILN_OK);
    assert_true(tu_bits_equal(a, m));
    mapping_of(kiln_array_data(m), where, sizeof where);
    assert_null(strstr(where, "bigbe.npy"));
    kiln_array_release(m);
    kiln_array_release(a);
    kiln_ctx_free(c);
}

/* Bool bytes other than 0 and 1 load as 1, read or mapped (copy-on-write),
 * also inside records. */
static void test_bool_normalized(void **state)
{
    (void)state;
    kiln_ctx *c = kiln_ctx_new(NULL);
    for (int big = 0; big < 2; big++) {
        int64_t n = big ? (int64_t)KILN_NPY_MMAP_MIN + 64 : 64;
        kiln_array *a = NULL;
        kiln_array_zeros(c, KILN_BOOL, 1, &n, KILN_ORDER_C, &a);
        assert_int_equal(kiln_npy_save(a, tmp("b.npy")), KILN_OK);
        kiln_array_release(a);
        size_t len;
        unsigned char *bytes = read_file(tmp("b.npy"), &len);
        size_t off = len - (size_t)n;
        bytes[off + 1] = 1;
        bytes[off + 2] = 2;
        bytes[off + 3] = 255;
        write_file(tmp("b.npy"), bytes, len);
        free(bytes);
        assert_int_equal(kiln_npy_load(c, tmp("b.npy"), &a), KILN_OK);
        const unsigned char *p = kiln_array_data(a);
        assert_int_equal(p[0], 0);
        assert_int_equal(p[1], 1);
        assert_int_equal(p[2], 1);
        assert_int_equal(p[3], 1);
        kiln_array_release(a);
        bytes = read_file(tmp("b.npy"), &len);
        assert_int_equal(bytes[off + 2], 2); /* the file is untouched */
        free(bytes);
    }
    /* a record's bool field */
    size_t len;
    unsigned char *bytes = read_file(FIX "rec.npy", &len);
    bytes[len - 1] = 7; /* the last record's flag */
    write_file(tmp("rec7.npy"), bytes, len);
    free(bytes);
    kiln_array *r = NULL, *flag = NULL;
    assert_int_equal(kiln_npy_load(c, tmp("rec7.npy"), &r), KILN_OK);
    kiln_array_field(r, 12, KILN_BOOL, &flag);
    assert_int_equal(*(const unsigned char *)kiln_array_ptr(flag, (int64_t[]){2}), 1);
    kiln_array_release(flag);
    kiln_array_release(r);
    kiln_ctx_free(c);
}

/* ---- allocation failure and fuzzing ----------------------------------------------- */

static void test_oom(void **state)
{
    (void)state;
    const char *files[] = {FIX "f8.npy", FIX "rec_big.npy", FIX "i4_fortran3d.npy"};
    for (size_t f = 0; f < sizeof files / sizeof files[0]; f++) {
        bool done = false;
        for (long n = 1; n < 100 && !done; n++) {
            tu_alloc ta;
            tu_alloc_init(&ta, n, false);
            kiln_ctx *c = kiln_ctx_new(&ta.a);
            if (!c)
                continue;
            kiln_array *a = NULL;
            kiln_field fl[4];
            size_t nf;
            kiln_status s = kiln_npy_load_records(c, files[f], &a, fl, 4, &nf);
            if (s == KILN_OK) {
                assert_non_null(a);
                /* and save it, strided */
                kiln_array *v = NULL;
                if (kiln_array_transpose(a, NULL, &v) == KILN_OK) {
                    kiln_status s2 = kiln_npy_save(v, tmp("oom.npy"));
                    assert_true(s2 == KILN_OK || s2 == KILN_ENOMEM);
                    kiln_array_release(v);
                }
                if (nf) { /* records: save them as records too */
                    kiln_status s3 = kiln_npy_save_records(a, fl, nf, tmp("oomr.npy"));
                    assert_true(s3 == KILN_OK || s3 == KILN_ENOMEM);
                }
            } else {
                assert_int_equal(s, KILN_ENOMEM);
                assert_null(a);
            }
            done = ta.count < n;
            kiln_array_release(a);
            kiln_ctx_free(c);
            assert_int_equal(ta.live, 0);
        }
        assert_true(done);
    }
}

static uint64_t rng = 0x9E3779B97F4A7C15ull;
static uint64_t next_rand(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

/* Mutates a fixture's bytes (mostly the header) and parses them in memory
 * (20000 times) and loads them from a file (1000 times): an error or a
 * consistent array whose every element can be read. */
static void test_fuzz(void **state)
{
    (void)state;
    kiln_ctx *c = kiln_ctx_new(NULL);
    const char *seeds[] = {"f8.npy", "rec.npy", "i4_fortran3d.npy", "f8_v3.npy", "rec_padded.npy",
                           "f8_scalar.npy", "rec_title.npy", "f8_empty2d.npy"};
    static const char alphabet[] = "{}()[]',:<>|=0123456789-LfiubcVOUS\\x\" \nTrueFalsdhp";
    int oks = 0, errs = 0;
    for (int it = 0; it < 21000; it++) {
        char path[512];
        snprintf(path, sizeof path, "%s%s", FIX, seeds[next_rand() % 8]);
        size_t len;
        unsigned char *b = read_file(path, &len);
        int nmut = 1 + (int)(next_rand() % 4);
        for (int m = 0; m < nmut; m++) {
            size_t hend = len < 140 ? len : 140;
            size_t i = (size_t)(next_rand() % (next_rand() % 8 == 0 ? len : hend));
            switch (next_rand() % 4) {
            case 0: b[i] = (unsigned char)next_rand(); break;
            case 1: b[i] = (unsigned char)alphabet[next_rand() % (sizeof alphabet - 1)]; break;
            case 2: len = i; break; /* truncate */
            default:                /* delete a byte */
                memmove(b + i, b + i + 1, len - i - 1);
                len--;
                break;
            }
            if (len == 0)
                break;
        }
        kiln_status s;
        kiln_array *a = NULL;
        if (it < 20000) {
            fe_npy_header h;
            s = fe_npy_parse(c->env, "fuzz", b, len, &h);
            if (s == KILN_OK) {
                assert_true(h.rank >= 0 && h.rank <= KILN_MAX_RANK);
                assert_true(h.itemsize > 0);
                fe_npy_header_free(c->env, &h);
            }
        } else {
            write_file(tmp("fuzz.npy"), b, len);
            s = kiln_npy_load(c, tmp("fuzz.npy"), &a);
            if (s == KILN_OK) {
                double sum = 0;
                for (int64_t i = 0; i < kiln_array_size(a); i++)
                    sum += kiln_array_get_f64(a, i);
                (void)sum;
            } else {
                assert_null(a);
                assert_true(strlen(kiln_errmsg(c)) > 0);
            }
        }
        if (s == KILN_OK)
            oks++;
        else
            errs++;
        kiln_array_release(a);
        free(b);
    }
    /* both outcomes happen: the mutations are neither all fatal nor all
     * harmless */
    assert_true(oks > 100);
    assert_true(errs > 1000);
    kiln_ctx_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_dtype),
        cmocka_unit_test(test_orders_ranks_versions),
        cmocka_unit_test(test_big_endian),
        cmocka_unit_test(test_records),
        cmocka_unit_test(test_unsupported),
        cmocka_unit_test(test_corrupted),
        cmocka_unit_test(test_header_parser),
        cmocka_unit_test(test_save_bytes),
        cmocka_unit_test(test_save_roundtrip),
        cmocka_unit_test(test_save_records),
        cmocka_unit_test(test_save_errors),
        cmocka_unit_test(test_mmap),
        cmocka_unit_test(test_bool_normalized),
        cmocka_unit_test(test_oom),
        cmocka_unit_test(test_fuzz),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
