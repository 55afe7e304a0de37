/* tests/fuzz_parse.c — libFuzzer target for the expression parser
 * (frontend/parse.c). Built only with clang and -DKILN_FUZZ=ON (see
 * tests/fuzz/CMakeLists.txt); tests/test_parse_fuzz.c is the deterministic
 * version that runs everywhere.
 *
 * Every input must give a valid expression (a live dtype, rank 0..8) or an
 * error handle whose status is the context's error code and whose message
 * is non-empty, shorter than 1024 bytes and, for a syntax error, carries a
 * caret. Anything else traps; ASan/UBSan catch the rest. Each input runs
 * in its own scope, so memory stays bounded over millions of inputs. */
#include "kiln.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static kiln_ctx *ctx;
static kiln_binding bind[5];
static const kiln_field fields[3] = {
    {"t", 0, KILN_FLOAT64}, {"p", 8, KILN_INT32}, {"flag", 12, KILN_BOOL}};

static kiln_array *make(kiln_dtype t, int rank, const int64_t *shape)
{
    kiln_array *a = NULL;
    if (kiln_array_zeros(ctx, t, rank, shape, KILN_ORDER_C, &a) != KILN_OK)
        abort();
    return a;
}

static void init(void)
{
    ctx = kiln_ctx_new(NULL);
    if (!ctx)
        abort();
    bind[0] = (kiln_binding){"x", make(KILN_FLOAT64, 1, (int64_t[]){4}), NULL, 0};
    bind[1] = (kiln_binding){"y", make(KILN_FLOAT32, 2, (int64_t[]){3, 4}), NULL, 0};
    bind[2] = (kiln_binding){"m", make(KILN_INT64, 2, (int64_t[]){3, 4}), NULL, 0};
    bind[3] = (kiln_binding){"b", make(KILN_BOOL, 1, (int64_t[]){4}), NULL, 0};
    bind[4] = (kiln_binding){"rec", make(KILN_UINT8, 2, (int64_t[]){4, 13}), fields, 3};
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!ctx)
        init();
    char *src = malloc(size + 1);
    if (!src)
        return 0;
    memcpy(src, data, size);
    src[size] = '\0'; /* an embedded NUL ends the expression, as in C */
    uint64_t scope = kiln_scope_begin(ctx);
    kiln_expr e = kiln_parse_bindings(ctx, src, 5, bind);
    kiln_status st = kiln_expr_status(e);
    if (st == KILN_OK) {
        int t = (int)kiln_expr_dtype(e), r = kiln_expr_rank(e);
        if (t < 0 || t >= KILN_DTYPE_COUNT || r < 0 || r > KILN_MAX_RANK)
            __builtin_trap();
    } else {
        const char *msg = kiln_errmsg(ctx);
        size_t n = strlen(msg);
        if (kiln_errcode(ctx) != st || n == 0 || n >= 1024)
            __builtin_trap();
        if (st == KILN_ESYNTAX && !strchr(msg, '^'))
            __builtin_trap();
    }
    if (kiln_scope_end(ctx, scope) != KILN_OK)
        __builtin_trap();
    kiln_clear_error(ctx);
    free(src);
    return 0;
}
