/* tests/testutil.c — see testutil.h. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "testutil.h"
#include "frontend/fe.h"
#include "jit/jit.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void *tu_malloc(void *ud, size_t size)
{
    tu_alloc *t = ud;
    t->count++;
    if (t->fail_at > 0 && (t->count == t->fail_at || (t->sticky && t->count > t->fail_at)))
        return NULL;
    void *p = malloc(size ? size : 1);
    if (p) {
        t->live++;
        t->live_bytes += (long long)size;
    }
    return p;
}

static void *tu_realloc(void *ud, void *ptr, size_t old_size, size_t new_size)
{
    tu_alloc *t = ud;
    t->count++;
    if (t->fail_at > 0 && (t->count == t->fail_at || (t->sticky && t->count > t->fail_at)))
        return NULL;
    void *p = realloc(ptr, new_size ? new_size : 1);
    if (p) {
        if (!ptr)
            t->live++;
        t->live_bytes += (long long)new_size - (long long)old_size;
    }
    return p;
}

static void tu_free(void *ud, void *ptr, size_t size)
{
    tu_alloc *t = ud;
    if (!ptr)
        return;
    t->live--;
    t->live_bytes -= (long long)size;
    free(ptr);
}

void tu_alloc_init(tu_alloc *t, long fail_at, bool sticky)
{
    memset(t, 0, sizeof *t);
    t->a.malloc = tu_malloc;
    t->a.realloc = tu_realloc;
    t->a.free = tu_free;
    t->a.ud = t;
    t->fail_at = fail_at;
    t->sticky = sticky;
}

static void tu_store(kiln_dtype t, void *p, double v)
{
    switch (t) {
    case KILN_BOOL: *(uint8_t *)p = v != 0; break;
    case KILN_INT8: *(int8_t *)p = (int8_t)v; break;
    case KILN_INT16: *(int16_t *)p = (int16_t)v; break;
    case KILN_INT32: *(int32_t *)p = (int32_t)v; break;
    case KILN_INT64: *(int64_t *)p = (int64_t)v; break;
    case KILN_UINT8: *(uint8_t *)p = (uint8_t)(int64_t)v; break;
    case KILN_UINT16: *(uint16_t *)p = (uint16_t)(int64_t)v; break;
    case KILN_UINT32: *(uint32_t *)p = (uint32_t)(int64_t)v; break;
    case KILN_UINT64: *(uint64_t *)p = (uint64_t)v; break;
    case KILN_FLOAT32: *(float *)p = (float)v; break;
    case KILN_FLOAT64: *(double *)p = v; break;
    default: fail_msg("bad dtype %d", (int)t);
    }
}

kiln_array *tu_array(kiln_ctx *ctx, kiln_dtype t, int rank, const int64_t *shape,
                     const double *vals)
{
    kiln_array *a = NULL;
    assert_int_equal(kiln_array_empty(ctx, t, rank, shape, KILN_ORDER_C, &a), KILN_OK);
    int64_t n = kiln_array_size(a);
    char *p = kiln_array_data(a);
    size_t sz = kiln_dtype_size(t);
    for (int64_t i = 0; i < n; i++)
        tu_store(t, p + (size_t)i * sz, vals[i]);
    return a;
}

kiln_array *tu_arange(kiln_ctx *ctx, kiln_dtype t, int rank, const int64_t *shape)
{
    kiln_array *a = NULL;
    assert_int_equal(kiln_array_empty(ctx, t, rank, shape, KILN_ORDER_C, &a), KILN_OK);
    int64_t n = kiln_array_size(a);
    char *p = kiln_array_data(a);
    size_t sz = kiln_dtype_size(t);
    for (int64_t i = 0; i < n; i++)
        tu_store(t, p + (size_t)i * sz, (double)i);
    return a;
}

kiln_array *tu_eval(kiln_expr e, kiln_mode mode)
{
    kiln_array *out = NULL;
    kiln_status s = kiln_eval_many(e.ctx_, mode, 1, &e, &out);
    if (s != KILN_OK)
        fail_msg("eval failed: %s: %s", kiln_status_name(s), kiln_errmsg(e.ctx_));
    return out;
}

kiln_array *tu_eval3(kiln_expr e, const char *what)
{
    kiln_array *r = tu_eval(e, KILN_MODE_INTERP);
    kiln_array *u = tu_eval(e, KILN_MODE_UNFUSED);
    kiln_array *f = tu_eval(e, KILN_MODE_FUSED);
    if (!tu_bits_equal(r, u))
        fail_msg("%s: unfused differs from the interpreter", what);
    if (!tu_bits_equal(r, f))
        fail_msg("%s: fused differs from the interpreter", what);
    kiln_array_release(u);
    kiln_array_release(f);
    return r;
}

int tu_max_width(const char *text, const char *elem)
{
    int best = 0;
    char pat[32];
    snprintf(pat, sizeof pat, " x %s>", elem);
    for (const char *p = strstr(text, pat); p; p = strstr(p + 1, pat)) {
        const char *q = p;
        while (q > text && q[-1] >= '0' && q[-1] <= '9')
            q--;
        if (q > text && q[-1] == '<') {
            int w = atoi(q);
            if (w > best)
                best = w;
        }
    }
    return best;
}

char *tu_jit_last(kiln_ctx *ctx, int st)
{
    size_t n = jit_debug_last(ctx->jit, (jit_stage)st, NULL, 0);
    char *buf = malloc(n + 1);
    assert_non_null(buf);
    jit_debug_last(ctx->jit, (jit_stage)st, buf, n + 1);
    return buf;
}

static int64_t tu_ordered64(double x)
{
    int64_t i;
    memcpy(&i, &x, sizeof i);
    return i < 0 ? INT64_MIN - i : i;
}

int64_t tu_ulp_f64(double a, double b)
{
    if (isnan(a) && isnan(b))
        return 0;
    if (isnan(a) || isnan(b))
        return INT64_MAX;
    if (a == b)
        return 0;
    int64_t ia = tu_ordered64(a), ib = tu_ordered64(b);
    return ia > ib ? ia - ib : ib - ia;
}

int64_t tu_ulp_f32(float a, float b)
{
    if (isnan(a) && isnan(b))
        return 0;
    if (isnan(a) || isnan(b))
        return INT64_MAX;
    if (a == b)
        return 0;
    int32_t ia, ib;
    memcpy(&ia, &a, sizeof ia);
    memcpy(&ib, &b, sizeof ib);
    int64_t oa = ia < 0 ? (int64_t)INT32_MIN - ia : ia;
    int64_t ob = ib < 0 ? (int64_t)INT32_MIN - ib : ib;
    return oa > ob ? oa - ob : ob - oa;
}

int tu_bits_equal(const kiln_array *a, const kiln_array *b)
{
    if (kiln_array_dtype(a) != kiln_array_dtype(b) || kiln_array_rank(a) != kiln_array_rank(b))
        return 0;
    int rank = kiln_array_rank(a);
    const int64_t *sa = kiln_array_shape(a), *sb = kiln_array_shape(b);
    for (int k = 0; k < rank; k++)
        if (sa[k] != sb[k])
            return 0;
    int64_t n = kiln_array_size(a);
    size_t sz = kiln_dtype_size(kiln_array_dtype(a));
    int64_t idx[KILN_MAX_RANK] = {0};
    for (int64_t i = 0; i < n; i++) {
        if (memcmp(kiln_array_ptr(a, idx), kiln_array_ptr(b, idx), sz) != 0)
            return 0;
        for (int k = rank - 1; k >= 0; k--) {
            if (++idx[k] < sa[k])
                break;
            idx[k] = 0;
        }
    }
    return 1;
}

unsigned char *tu_read_file(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *b = malloc(len > 0 ? (size_t)len : 1);
    *n = b && len > 0 ? fread(b, 1, (size_t)len, f) : 0;
    fclose(f);
    return b;
}

int tu_write_file(const char *path, const void *data, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return 0;
    int ok = fwrite(data, 1, n, f) == n;
    return fclose(f) == 0 && ok;
}
