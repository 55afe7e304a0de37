/*
 * tests/testutil.h — helpers shared by the cmocka tests.
 * Include after <stdarg.h>, <stddef.h>, <setjmp.h> and <cmocka.h>.
 */
#ifndef KILN_TESTUTIL_H
#define KILN_TESTUTIL_H

#include "kiln.h"

#include <stdbool.h>
#include <stdint.h>

/* An allocator that counts allocations and fails the Nth one (1-based;
 * 0 = never) and every later one if sticky. Tracks live bytes so a test can
 * assert nothing leaked. */
typedef struct tu_alloc {
    kiln_allocator a;
    long fail_at;
    bool sticky;
    long count;     /* allocations attempted */
    long live;      /* blocks currently allocated */
    long long live_bytes;
} tu_alloc;
void tu_alloc_init(tu_alloc *t, long fail_at, bool sticky);

/* A C-contiguous array of dtype t filled from vals (converted). */
kiln_array *tu_array(kiln_ctx *ctx, kiln_dtype t, int rank, const int64_t *shape,
                     const double *vals);
/* 0..n-1 as dtype t in the given shape (NumPy's arange(n).reshape(shape)). */
kiln_array *tu_arange(kiln_ctx *ctx, kiln_dtype t, int rank, const int64_t *shape);
/* Evaluates e in mode; fails the test (with errmsg) if not KILN_OK. */
kiln_array *tu_eval(kiln_expr e, kiln_mode mode);
/* e interpreted, unfused and fused: the same bits, or the test fails
 * (naming what). Returns the interpreter's result. */
kiln_array *tu_eval3(kiln_expr e, const char *what);
/* Distance in units in the last place between two doubles (0 if both NaN
 * or equal; INT64_MAX if one is NaN). */
int64_t tu_ulp_f64(double a, double b);
int64_t tu_ulp_f32(float a, float b);
/* 1 if two arrays have identical shape, dtype and bytes of every element
 * (NaN payloads included). */
int tu_bits_equal(const kiln_array *a, const kiln_array *b);

/* The largest N of "<N x elem>" in IR or assembly text (0: none). */
int tu_max_width(const char *text, const char *elem);
/* The text of ctx's last compiled kernel at JIT stage st (a jit_stage of
 * jit/jit.h: IR, optimized IR, assembly), malloc'd; the JIT must capture
 * it (jit_debug_capture). */
char *tu_jit_last(kiln_ctx *ctx, int st);

/* A whole file (malloc'd, *n bytes; NULL if it cannot be opened), and a
 * file written whole (1 on success). */
unsigned char *tu_read_file(const char *path, size_t *n);
int tu_write_file(const char *path, const void *data, size_t n);

#endif
