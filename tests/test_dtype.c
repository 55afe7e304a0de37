/* tests/test_dtype.c — runtime/dtype.c: dtype names, sizes, kinds, name
 * parsing (accepted and rejected spellings), status names and strings,
 * out-of-range values. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "testutil.h"

#include "runtime/rt.h"

#include <string.h>

static void test_names_and_sizes(void **state)
{
    (void)state;
    static const struct {
        kiln_dtype t;
        const char *name;
        size_t size;
        int kind;
    } want[] = {
        {KILN_BOOL, "bool", 1, RT_KIND_BOOL},       {KILN_INT8, "int8", 1, RT_KIND_INT},
        {KILN_INT16, "int16", 2, RT_KIND_INT},      {KILN_INT32, "int32", 4, RT_KIND_INT},
        {KILN_INT64, "int64", 8, RT_KIND_INT},      {KILN_UINT8, "uint8", 1, RT_KIND_UINT},
        {KILN_UINT16, "uint16", 2, RT_KIND_UINT},   {KILN_UINT32, "uint32", 4, RT_KIND_UINT},
        {KILN_UINT64, "uint64", 8, RT_KIND_UINT},   {KILN_FLOAT32, "float32", 4, RT_KIND_FLOAT},
        {KILN_FLOAT64, "float64", 8, RT_KIND_FLOAT},
    };
    assert_int_equal(sizeof want / sizeof want[0], KILN_DTYPE_COUNT);
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        assert_string_equal(kiln_dtype_name(want[i].t), want[i].name);
        assert_int_equal(kiln_dtype_size(want[i].t), want[i].size);
        assert_string_equal(rt_dtypes[want[i].t].name, want[i].name);
        assert_int_equal(rt_dtypes[want[i].t].size, want[i].size);
        assert_int_equal(rt_dtypes[want[i].t].kind, want[i].kind);
        assert_int_equal(rt_dtypes[want[i].t].bits, 8 * want[i].size);
        /* Every canonical name parses back to its dtype. */
        assert_int_equal(kiln_dtype_from_name(want[i].name), (int)want[i].t);
    }
    assert_true(rt_is_float(KILN_FLOAT32));
    assert_false(rt_is_float(KILN_INT32));
    assert_true(rt_is_int(KILN_UINT8));
    assert_true(rt_is_int(KILN_INT64));
    assert_false(rt_is_int(KILN_BOOL));
    assert_false(rt_is_int(KILN_FLOAT64));
}

static void test_invalid_dtype(void **state)
{
    (void)state;
    assert_null(kiln_dtype_name(KILN_DTYPE_COUNT));
    assert_null(kiln_dtype_name((kiln_dtype)-1));
    assert_null(kiln_dtype_name((kiln_dtype)1000));
    assert_int_equal(kiln_dtype_size(KILN_DTYPE_COUNT), 0);
    assert_int_equal(kiln_dtype_size((kiln_dtype)-1), 0);
    assert_false(rt_dtype_valid(-1));
    assert_false(rt_dtype_valid(KILN_DTYPE_COUNT));
    assert_true(rt_dtype_valid(0));
    assert_true(rt_dtype_valid(KILN_DTYPE_COUNT - 1));
}

static void test_parse_aliases(void **state)
{
    (void)state;
    static const struct {
        const char *s;
        int t;
    } ok[] = {
        {"f8", KILN_FLOAT64},   {"double", KILN_FLOAT64}, {"<f8", KILN_FLOAT64},
        {"=f8", KILN_FLOAT64},  {"f4", KILN_FLOAT32},     {"float", KILN_FLOAT64},
        {"<f4", KILN_FLOAT32},  {"i1", KILN_INT8},        {"i2", KILN_INT16},
        {"i4", KILN_INT32},     {"<i4", KILN_INT32},      {"i8", KILN_INT64},
        {"u1", KILN_UINT8},     {"|u1", KILN_UINT8},      {"u2", KILN_UINT16},
        {"u4", KILN_UINT32},    {"u8", KILN_UINT64},      {"?", KILN_BOOL},
        {"b1", KILN_BOOL},      {"|b1", KILN_BOOL},
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        if (kiln_dtype_from_name(ok[i].s) != ok[i].t)
            fail_msg("\"%s\" parsed as %d, want %d", ok[i].s, kiln_dtype_from_name(ok[i].s),
                     ok[i].t);
    }
}

static void test_parse_rejects(void **state)
{
    (void)state;
    static const char *const bad[] = {
        NULL,   "",      "f",      "i",       "int",    "uint",   "long",   "intp",
        "f2",   "f16",   "float16", "i3",     "u16",    "b2",     "c8",     "complex128",
        ">f8",  ">i4",   "F8",     "Float64", "FLOAT64", " f8",   "f8 ",    "float64x",
        "int",  "b",     "bool_",  "?1",      "<",      "<f",     "i0",     "object",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (kiln_dtype_from_name(bad[i]) != -1)
            fail_msg("\"%s\" should be rejected, got %d", bad[i] ? bad[i] : "(null)",
                     kiln_dtype_from_name(bad[i]));
    }
}

static void test_status_names(void **state)
{
    (void)state;
    assert_string_equal(kiln_status_name(KILN_OK), "KILN_OK");
    assert_string_equal(kiln_status_name(KILN_ENOMEM), "KILN_ENOMEM");
    assert_string_equal(kiln_status_name(KILN_ESHAPE), "KILN_ESHAPE");
    assert_string_equal(kiln_status_name(KILN_EINTERNAL), "KILN_EINTERNAL");
    assert_string_equal(kiln_status_str(KILN_OK), "success");
    assert_string_equal(kiln_status_str(KILN_ESHAPE), "shapes do not match or do not broadcast");
    assert_string_equal(kiln_status_str(KILN_EVIEW),
                        "result is not expressible as a view; copy first");
    assert_string_equal(kiln_status_name(KILN_STATUS_COUNT), "KILN_?");
    assert_string_equal(kiln_status_name((kiln_status)-1), "KILN_?");
    assert_string_equal(kiln_status_str(KILN_STATUS_COUNT), "unknown status");
    assert_string_equal(kiln_status_str((kiln_status)-5), "unknown status");
    /* Every code has a distinct "KILN_" name and a non-empty description. */
    for (int i = 0; i < KILN_STATUS_COUNT; i++) {
        const char *n = kiln_status_name((kiln_status)i);
        assert_non_null(n);
        assert_int_equal(strncmp(n, "KILN_", 5), 0);
        assert_string_not_equal(n, "KILN_?");
        assert_true(strlen(kiln_status_str((kiln_status)i)) > 0);
        for (int j = 0; j < i; j++)
            assert_string_not_equal(n, kiln_status_name((kiln_status)j));
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_names_and_sizes), cmocka_unit_test(test_invalid_dtype),
        cmocka_unit_test(test_parse_aliases),   cmocka_unit_test(test_parse_rejects),
        cmocka_unit_test(test_status_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
