/* tests/fuzz_npy.c — libFuzzer target for the .npy header parser
 * (frontend/npy.c's fe_npy_parse), on bytes in memory. Built only with
 * clang and -DKILN_FUZZ=ON (see tests/fuzz/CMakeLists.txt); tests/test_npy.c
 * has the deterministic mini-fuzz, which also loads mutated files.
 *
 * A header either parses into a consistent description (rank 0..8, a
 * positive item size, the data offset inside the header bytes, byte count
 * = items x extents) or fails with a message. */
#include "frontend/fe.h"
#include "frontend/npy.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static kiln_ctx *ctx;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!ctx && !(ctx = kiln_ctx_new(NULL)))
        abort();
    fe_npy_header h;
    kiln_status st = fe_npy_parse(ctx->env, "fuzz", data, size, &h);
    if (st == KILN_OK) {
        int64_t n = h.itemsize;
        bool empty = false;
        for (int k = 0; k < h.rank; k++) {
            empty = empty || h.shape[k] == 0;
            if (h.shape[k] > 0)
                n *= h.shape[k]; /* fits: checked by the parser */
        }
        if (h.rank < 0 || h.rank > KILN_MAX_RANK || h.itemsize <= 0 ||
            h.data_offset > size || h.nbytes != (empty ? 0 : n) ||
            (h.records && (h.nfields == 0 || h.dtype != KILN_UINT8)))
            __builtin_trap();
        for (size_t k = 0; k < h.nfields; k++)
            if (h.fields[k].offset < 0 ||
                h.fields[k].offset + (int64_t)kiln_dtype_size(h.fields[k].dtype) > h.itemsize)
                __builtin_trap();
        fe_npy_header_free(ctx->env, &h);
    } else if (kiln_errmsg(ctx)[0] == '\0') {
        __builtin_trap();
    }
    kiln_clear_error(ctx);
    return 0;
}
