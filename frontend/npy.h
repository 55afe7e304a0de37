/*
 * frontend/npy.h — private to frontend/npy.c and its tests: the parsed
 * header of a .npy file, so the header parser can be tested and fuzzed on
 * bytes in memory.
 */
#ifndef KILN_FE_NPY_H
#define KILN_FE_NPY_H

#include "runtime/rt.h"

/* NumPy's own limit on the header (numpy.lib.format, max_header_size). */
#define FE_NPY_MAX_HEADER 10000

typedef struct fe_npy_field {
    char name[KILN_FIELD_NAME_MAX]; /* UTF-8, cut to fit (see name_too_long) */
    bool name_too_long;
    int64_t offset;
    kiln_dtype dtype;
    bool swap; /* stored in the other byte order */
} fe_npy_field;

typedef struct fe_npy_header {
    int major, minor;
    size_t data_offset;  /* bytes before the data */
    bool records;        /* a structured dtype: the array is uint8 records */
    kiln_dtype dtype;    /* plain: the element dtype; records: KILN_UINT8 */
    bool swap;           /* plain: stored in the other byte order */
    int64_t itemsize;    /* bytes per element or record */
    bool fortran;
    int rank;            /* of the file's shape (records add an axis) */
    int64_t shape[KILN_MAX_RANK];
    int64_t nbytes;      /* data bytes: itemsize * product(shape) */
    size_t nfields;
    fe_npy_field *fields; /* nfields, allocated from env */
    size_t fields_cap;
} fe_npy_header;

/* Parses the start of a .npy file, buf[0, len): magic, version, header
 * length and the header dict. len may cover more (the data) or less than
 * the header (KILN_EIO: "ends inside the header"). what names the file in
 * messages. On success fills *h (free with fe_npy_header_free); on failure
 * records the error on env and leaves *h holding nothing to free. */
kiln_status fe_npy_parse(rt_env *env, const char *what, const unsigned char *buf, size_t len,
                         fe_npy_header *h);
void fe_npy_header_free(rt_env *env, fe_npy_header *h);

#endif /* KILN_FE_NPY_H */
