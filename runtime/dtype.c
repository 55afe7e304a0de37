/*
 * runtime/dtype.c — the dtype table and the status-name tables.
 *
 * Both come from the X-macros in kiln.h (KILN_DTYPE_MAP, KILN_STATUS_MAP):
 * nothing here lists dtypes or status codes by hand except each dtype's
 * kind, which is looked up by token pasting (RT_KIND_OF_<ENUM>), so a dtype
 * added to the map without a kind fails to compile instead of silently
 * getting a wrong one.
 *
 * Invariants: rt_dtypes[t].size == the size column of KILN_DTYPE_MAP;
 * bits == 8 * size (storage bits: bool is stored as one byte holding 0/1).
 * kiln_dtype_from_name accepts NumPy's unambiguous spellings only
 * (canonical names, one-letter typecodes with a byte count, "double",
 * "float" (float64, as NumPy's np.dtype("float")), "bool", "?", "b1"); platform-dependent aliases
 * ("int", "long", "intp", ...) and big-endian codes are rejected.
 */
#include "runtime/rt.h"

#include <string.h>

#define RT_KIND_OF_BOOL RT_KIND_BOOL
#define RT_KIND_OF_INT8 RT_KIND_INT
#define RT_KIND_OF_INT16 RT_KIND_INT
#define RT_KIND_OF_INT32 RT_KIND_INT
#define RT_KIND_OF_INT64 RT_KIND_INT
#define RT_KIND_OF_UINT8 RT_KIND_UINT
#define RT_KIND_OF_UINT16 RT_KIND_UINT
#define RT_KIND_OF_UINT32 RT_KIND_UINT
#define RT_KIND_OF_UINT64 RT_KIND_UINT
#define RT_KIND_OF_FLOAT32 RT_KIND_FLOAT
#define RT_KIND_OF_FLOAT64 RT_KIND_FLOAT

const rt_dtype_info rt_dtypes[KILN_DTYPE_COUNT] = {
#define RT_X_(e, nm, sz) [KILN_##e] = {.name = nm, .size = sz, .kind = RT_KIND_OF_##e, .bits = 8 * sz},
    KILN_DTYPE_MAP(RT_X_)
#undef RT_X_
};

const char *kiln_dtype_name(kiln_dtype t)
{
    return rt_dtype_valid((int)t) ? rt_dtypes[t].name : NULL;
}

size_t kiln_dtype_size(kiln_dtype t)
{
    return rt_dtype_valid((int)t) ? rt_dtypes[t].size : 0;
}

/* The dtype of kind and byte size, or -1. */
static int rt_dtype_of(rt_kind kind, int size)
{
    for (int t = 0; t < KILN_DTYPE_COUNT; t++)
        if (rt_dtypes[t].kind == kind && rt_dtypes[t].size == size)
            return t;
    return -1;
}

int kiln_dtype_from_name(const char *name)
{
    if (!name || !*name)
        return -1;
    for (int t = 0; t < KILN_DTYPE_COUNT; t++)
        if (strcmp(name, rt_dtypes[t].name) == 0)
            return t;
    if (strcmp(name, "double") == 0 || strcmp(name, "float") == 0)
        return KILN_FLOAT64; /* NumPy: np.dtype("float") is float64 */
    if (strcmp(name, "?") == 0)
        return KILN_BOOL;
    /* Typecode with byte count: "f8", "<i4", "|u1", "=b1". A byte-order
     * prefix other than native little-endian or "not applicable" is
     * rejected. */
    const char *p = name;
    if (*p == '<' || *p == '=' || *p == '|')
        p++;
    if (!p[0] || !p[1] || p[2] != '\0' || p[1] < '1' || p[1] > '9')
        return -1;
    int size = p[1] - '0';
    switch (p[0]) {
    case 'b': return size == 1 ? KILN_BOOL : -1;
    case 'i': return rt_dtype_of(RT_KIND_INT, size);
    case 'u': return rt_dtype_of(RT_KIND_UINT, size);
    case 'f': return rt_dtype_of(RT_KIND_FLOAT, size);
    default: return -1;
    }
}

static const char *const rt_status_names[KILN_STATUS_COUNT] = {
#define RT_X_(nm, desc) [KILN_##nm] = "KILN_" #nm,
    KILN_STATUS_MAP(RT_X_)
#undef RT_X_
};

static const char *const rt_status_strs[KILN_STATUS_COUNT] = {
#define RT_X_(nm, desc) [KILN_##nm] = desc,
    KILN_STATUS_MAP(RT_X_)
#undef RT_X_
};

const char *kiln_status_name(kiln_status s)
{
    return (int)s >= 0 && (int)s < KILN_STATUS_COUNT ? rt_status_names[s] : "KILN_?";
}

const char *kiln_status_str(kiln_status s)
{
    return (int)s >= 0 && (int)s < KILN_STATUS_COUNT ? rt_status_strs[s] : "unknown status";
}
