/*
 * graph/sig.c — kernel signatures: the canonical byte string that keys the
 * JIT cache, its hash, and a readable kernel name.
 *
 * Layout (all integers little-endian u16 unless noted):
 *   u8 version, u8 rank, u8 flags: bit 0 noalias, bits 1-2 kind (gr_kkind),
 *      bit 3 outer, bits 4-7 nred (reductions and scans; an elementwise
 *      kernel's byte is its noalias alone, as before kinds existed),
 *   nops, nout, nparams, nvals,
 *   per operand: u8 dtype, u8 is_out, rank classes packed 2 bits each (u16),
 *   per param:   u8 dtype,
 *   per value:   u8 op, u8 dtype, u8 nin, then arg (INPUT/SCALAR), or the
 *                called function's address as u64 (UDF), then the nin
 *                input indices,
 *   per output:  the stored value's index.
 * Invariant: two kernels with equal signatures lower to the same IR, so
 * everything lower.c reads from a gr_kernel is here, and nothing that is a
 * launch argument (extents, strides, data, parameter values) is.
 */
#include "graph/plan.h"

#include <stdio.h>
#include <string.h>

_Static_assert(GR_OP_COUNT <= 256, "ops are one signature byte");
_Static_assert(KILN_MAX_RANK <= 8, "classes of one operand pack into 16 bits");
_Static_assert(KILN_MAX_RANK <= 15 && GR_KK_SCAN <= 3, "kind and nred pack into the flags byte");

typedef struct sg_buf {
    uint8_t *p;
    size_t cap, len;
} sg_buf;

static void sg_u8(sg_buf *b, unsigned v)
{
    if (b->len < b->cap)
        b->p[b->len] = (uint8_t)v;
    b->len++;
}

static void sg_u16(sg_buf *b, unsigned v)
{
    sg_u8(b, v & 0xff);
    sg_u8(b, (v >> 8) & 0xff);
}

size_t gr_kernel_sig(const gr_kernel *k, uint8_t *buf, size_t cap)
{
    sg_buf b = {buf, cap, 0};
    sg_u8(&b, GR_SIG_VERSION);
    sg_u8(&b, (unsigned)k->rank);
    sg_u8(&b, (unsigned)k->noalias | (unsigned)k->kind << 1 | (unsigned)k->outer << 3 |
                  (unsigned)k->nred << 4);
    sg_u16(&b, k->nops);
    sg_u16(&b, k->nout);
    sg_u16(&b, k->nparams);
    sg_u16(&b, k->nvals);
    for (int o = 0; o < k->nops; o++) {
        const gr_operand *op = &k->ops[o];
        unsigned cls = 0;
        for (int d = 0; d < k->rank; d++)
            cls |= (unsigned)op->sclass[d] << (2 * d);
        sg_u8(&b, op->dtype);
        sg_u8(&b, op->is_out);
        sg_u16(&b, cls);
    }
    for (int q = 0; q < k->nparams; q++)
        sg_u8(&b, k->params[q].dtype);
    for (int v = 0; v < k->nvals; v++) {
        const gr_kval *kv = &k->vals[v];
        sg_u8(&b, kv->op);
        sg_u8(&b, kv->dtype);
        sg_u8(&b, kv->nin);
        if (kv->op == GR_OP_INPUT || kv->op == GR_OP_SCALAR)
            sg_u16(&b, kv->arg);
        if (gr_is_udf(kv->op)) { /* a kernel for f never serves g */
            uint64_t fn = (uint64_t)(uintptr_t)k->udf[kv->arg];
            for (int i = 0; i < 4; i++)
                sg_u16(&b, (unsigned)(fn >> (16 * i)) & 0xffffu);
        }
        for (int j = 0; j < kv->nin; j++)
            sg_u16(&b, kv->in[j]);
    }
    for (int o = 0; o < k->nout; o++)
        sg_u16(&b, k->out_val[o]);
    return b.len;
}

uint64_t gr_sig_hash(const uint8_t *sig, size_t len)
{
    uint64_t h = UINT64_C(1469598103934665603);
    for (size_t i = 0; i < len; i++) {
        h ^= sig[i];
        h *= UINT64_C(1099511628211);
    }
    /* final avalanche (splitmix64) so low bits index a table well */
    h ^= h >> 30;
    h *= UINT64_C(0xbf58476d1ce4e5b9);
    h ^= h >> 27;
    h *= UINT64_C(0x94d049bb133111eb);
    h ^= h >> 31;
    return h;
}

static const char *sg_dshort(unsigned t)
{
    static const char *const names[KILN_DTYPE_COUNT] = {
        [KILN_BOOL] = "b1",  [KILN_INT8] = "i8",   [KILN_INT16] = "i16",  [KILN_INT32] = "i32",
        [KILN_INT64] = "i64", [KILN_UINT8] = "u8",  [KILN_UINT16] = "u16", [KILN_UINT32] = "u32",
        [KILN_UINT64] = "u64", [KILN_FLOAT32] = "f32", [KILN_FLOAT64] = "f64",
    };
    return t < KILN_DTYPE_COUNT ? names[t] : "x";
}

char *gr_kernel_name(const gr_kernel *k, unsigned serial, char *buf, size_t cap)
{
    enum { SHOWN = 3 };
    int nops = 0;
    for (int v = 0; v < k->nvals; v++)
        nops += gr_ops[k->vals[v].op].arity > 0;
    size_t len = (size_t)snprintf(buf, cap, "k%04u_%s", serial,
                                  nops > 1 ? "fused" : nops == 1 ? "" : "copy");
    int shown = 0;
    for (int v = 0; v < k->nvals && shown < SHOWN && len < cap; v++) {
        if (gr_ops[k->vals[v].op].arity == 0)
            continue;
        len += (size_t)snprintf(buf + len, cap - len, "%s%s", len > 6 ? "_" : "",
                                gr_ops[k->vals[v].op].name);
        shown++;
    }
    if (len < cap && nops > SHOWN)
        len += (size_t)snprintf(buf + len, cap - len, "_etc");
    if (len < cap)
        snprintf(buf + len, cap - len, "_%s_r%d", sg_dshort(k->nout ? k->ops[0].dtype : 0),
                 k->rank);
    return buf;
}
