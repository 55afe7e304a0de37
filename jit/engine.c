/*
 * jit/engine.c — LLVM setup and compiling one kernel to native code.
 *
 * Process-wide, once (pthread_once, before any engine touches LLVM):
 *   native target + asm printer, the command-line option
 *   -vector-library=LIBMVEC-X86 (exactly this spelling; see the facts
 *   note), and dlopen("libmvec.so.1", RTLD_NOW|RTLD_GLOBAL) so the JIT's
 *   process-symbol lookup finds _ZGVdN4v_sin & co. These are process
 *   state by nature (LLVM's options are global); kiln sets nothing else.
 * Per engine, started by its first compile: an ORC LLJIT whose target
 *   machine is the host CPU with its features, the runtime helpers defined
 *   as absolute symbols in its main JITDylib, and a second TargetMachine
 *   for the pass pipeline.
 * Per compile (jit_compile, under the engine's compile lock: LLVM-C cannot
 *   add modules to one LLJIT from two threads): a fresh LLVMContext,
 *   lower -> verify -> optimize (default<O3>) -> add to the LLJIT under
 *   its own resource tracker -> look the symbol up (this runs codegen).
 *   Evicting a kernel removes its tracker, freeing its code.
 *
 * Invariants: everything created here is disposed of here (jit_free), so
 * a process that creates and frees contexts does not grow; an LLVM error
 * is returned as text, never printed, never fatal (IR is verified before
 * it reaches a pass, so LLVM's own fatal errors are not reachable from a
 * kernel). LLVM's memory does not go through kiln's allocation hook
 * (LLVM-C has none); kiln's own records here do.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* dlopen flags; llvm-config may define it too */
#endif
#include "jit/internal.h"

#include <llvm-c/Analysis.h>
#include <llvm-c/Error.h>
#include <llvm-c/LLJIT.h>
#include <llvm-c/Orc.h>
#include <llvm-c/Support.h>
#include <llvm-c/Target.h>

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- process-wide setup ------------------------------------------------------ */

static pthread_once_t jit_once = PTHREAD_ONCE_INIT;
static bool jit_ok;       /* written once under jit_once */
static bool jit_mvec;     /* libmvec loaded: vector variants resolvable */

static void jit_global_init(void)
{
    if (LLVMInitializeNativeTarget() || LLVMInitializeNativeAsmPrinter())
        return;
    /* libmvec first: without it, a vectorized loop's _ZGVdN4v_* calls
     * would not link, so the option is set only when the library is here.
     * The handle is kept for the life of the process (never dlclose'd:
     * kernels may call into it until exit). */
    jit_mvec = dlopen("libmvec.so.1", RTLD_NOW | RTLD_GLOBAL) != NULL;
    if (jit_mvec) {
        const char *argv[] = {"kiln", "-vector-library=LIBMVEC-X86"};
        LLVMParseCommandLineOptions(2, argv, "kiln JIT");
    }
    jit_ok = true;
}

static uint64_t jit_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void jit_errmsg(LLVMErrorRef e, const char *what, char *why, size_t cap)
{
    char *m = LLVMGetErrorMessage(e);
    snprintf(why, cap, "%s: %s", what, m);
    LLVMDisposeErrorMessage(m);
}

/* ORC reports some errors (a symbol that does not resolve while
 * materializing) to the session instead of the caller, by default on
 * stderr. A library never prints: the caller's lookup fails anyway and
 * records why. */
static void jit_quiet_reporter(void *ctx, LLVMErrorRef e)
{
    (void)ctx;
    LLVMConsumeError(e);
}

/* The libmvec variants the host can run (glibc's x86_64 libmvec: 'b'
 * needs SSE4.1, 'd' AVX2, 'e' AVX-512F). */
static void jit_pick_vabi(jit_target *t, const char *features)
{
    memset(t, 0, sizeof *t);
    if (!jit_mvec)
        return;
    if (strstr(features, "+sse4.1"))
        t->vabi_128 = 'b';
    if (strstr(features, "+avx2"))
        t->vabi_256 = 'd';
    if (strstr(features, "+avx512f"))
        t->vabi_512 = 'e';
}

static LLVMTargetMachineRef jit_host_tm(const char *triple, const char *cpu, const char *features,
                                        LLVMCodeGenOptLevel level)
{
    LLVMTargetRef target;
    char *err = NULL;
    if (LLVMGetTargetFromTriple(triple, &target, &err)) {
        LLVMDisposeMessage(err);
        return NULL;
    }
    return LLVMCreateTargetMachine(target, triple, cpu, features, level,
                                   LLVMRelocDefault, LLVMCodeModelJITDefault);
}

/* ---- engine lifetime --------------------------------------------------------
 * jit_new only allocates: the LLVM side (target machines, LLJIT) starts at
 * the first compile (jit_start), so a context that never compiles (the
 * interpreter, tests of other layers, allocation-failure loops) costs no
 * LLVM time or memory. */

jit_engine *jit_new(rt_env *env, atomic_ullong *counters)
{
    if (!env || !counters)
        return NULL;
    jit_engine *j = rt_calloc(env, 1, sizeof *j);
    if (!j)
        return NULL;
    j->env = env;
    j->counters = counters;
    j->lru.next = j->lru.prev = &j->lru;
    atomic_init(&j->limit, 1024);
    /* O3 without interleaving, unrolling and SLP: measured here (znver5,
     * AVX-512) ~15% less compile time than full O3 with the same in-cache
     * speed on affine, chain, libm and select kernels (memory-bound ones
     * cannot tell); O0 codegen halves compile time but runs 2-3x slower. */
    j->opt.pipeline = "default<O3>";
    j->opt.interleave = false;
    j->opt.unroll = false;
    j->opt.slp = false;
    j->opt.codegen_level = LLVMCodeGenLevelDefault;
    snprintf(j->desc, sizeof j->desc, "(not started)");
    jit_disk_init(j);
    if (pthread_mutex_init(&j->compile_lock, NULL) != 0) {
        rt_free(env, j, sizeof *j);
        return NULL;
    }
    if (pthread_mutex_init(&j->cache_lock, NULL) != 0) {
        pthread_mutex_destroy(&j->compile_lock);
        rt_free(env, j, sizeof *j);
        return NULL;
    }
    return j;
}

/* Starts LLVM for j. Caller holds compile_lock. 0, or -1 with why (and
 * every later call fails the same way). */
static int jit_start(jit_engine *j, char *why, size_t why_cap)
{
    if (j->lljit)
        return 0;
    if (j->start_failed) {
        snprintf(why, why_cap, "%s", j->desc);
        return -1;
    }
    pthread_once(&jit_once, jit_global_init);
    j->start_failed = true;
    if (!jit_ok) {
        snprintf(j->desc, sizeof j->desc, "the JIT cannot start: no native LLVM target");
        snprintf(why, why_cap, "%s", j->desc);
        return -1;
    }
    char *triple = LLVMGetDefaultTargetTriple();
    char *cpu = LLVMGetHostCPUName();
    char *features = LLVMGetHostCPUFeatures();
    LLVMCodeGenOptLevel level = (LLVMCodeGenOptLevel)j->opt.codegen_level;
    LLVMTargetMachineRef jtm = jit_host_tm(triple, cpu, features, level);
    j->tm = jit_host_tm(triple, cpu, features, level);
    jit_pick_vabi(&j->target, features);
    snprintf(j->desc, sizeof j->desc, "%s %s; libmvec variants %s%s%s%s", triple, cpu,
             j->target.vabi_128 ? "b" : "", j->target.vabi_256 ? "d" : "",
             j->target.vabi_512 ? "e" : "", jit_mvec ? "" : "none (no libmvec)");
    LLVMDisposeMessage(triple);
    LLVMDisposeMessage(cpu);
    LLVMDisposeMessage(features);
    if (!jtm || !j->tm) {
        if (jtm)
            LLVMDisposeTargetMachine(jtm);
        snprintf(j->desc, sizeof j->desc, "the JIT cannot start: no target machine for the host");
        snprintf(why, why_cap, "%s", j->desc);
        return -1;
    }
    LLVMOrcLLJITBuilderRef b = LLVMOrcCreateLLJITBuilder();
    /* takes ownership of jtm; the builder takes ownership of the JTMB */
    LLVMOrcLLJITBuilderSetJITTargetMachineBuilder(
        b, LLVMOrcJITTargetMachineBuilderCreateFromTargetMachine(jtm));
    LLVMOrcLLJITRef jit;
    LLVMErrorRef e = LLVMOrcCreateLLJIT(&jit, b); /* consumes b */
    if (e) {
        jit_errmsg(e, "the JIT cannot start: LLJIT", j->desc, sizeof j->desc);
        snprintf(why, why_cap, "%s", j->desc);
        return -1;
    }
    j->lljit = jit;
    j->dylib = LLVMOrcLLJITGetMainJITDylib(jit);
    LLVMOrcExecutionSessionSetErrorReporter(LLVMOrcLLJITGetExecutionSession(jit),
                                            jit_quiet_reporter, NULL);
    /* runtime helpers by name: the IR stays free of addresses, so an
     * object file of it is valid in another process (persistent cache) */
    LLVMOrcCSymbolMapPair pairs[16];
    int n = jit_nhelpers < 16 ? jit_nhelpers : 16;
    for (int i = 0; i < n; i++) {
        pairs[i].Name = LLVMOrcLLJITMangleAndIntern(jit, jit_helpers[i].name);
        pairs[i].Sym.Address = (LLVMOrcJITTargetAddress)(uintptr_t)jit_helpers[i].addr;
        pairs[i].Sym.Flags.GenericFlags = LLVMJITSymbolGenericFlagsExported |
                                          LLVMJITSymbolGenericFlagsCallable;
        pairs[i].Sym.Flags.TargetFlags = 0;
    }
    LLVMOrcMaterializationUnitRef mu = LLVMOrcAbsoluteSymbols(pairs, (size_t)n);
    if ((e = LLVMOrcJITDylibDefine(j->dylib, mu))) {
        LLVMOrcDisposeMaterializationUnit(mu);
        jit_errmsg(e, "the JIT cannot start: runtime helpers", j->desc, sizeof j->desc);
        snprintf(why, why_cap, "%s", j->desc);
        return -1;
    }
    j->start_failed = false;
    jit_dump_started(j);
    return 0;
}

void jit_free(jit_engine *j)
{
    if (!j)
        return;
    pthread_mutex_lock(&j->compile_lock);
    jit_cache_clear(j);
    pthread_mutex_unlock(&j->compile_lock);
    if (j->lljit) {
        LLVMErrorRef e = LLVMOrcDisposeLLJIT(j->lljit);
        if (e)
            LLVMConsumeError(e);
    }
    if (j->tm)
        LLVMDisposeTargetMachine(j->tm);
    for (int s = 0; s < JIT_STAGE_COUNT; s++)
        rt_free(j->env, j->last[s], j->last_cap[s]);
    jit_dump_free(j);
    jit_disk_fini(j);
    pthread_mutex_destroy(&j->compile_lock);
    pthread_mutex_destroy(&j->cache_lock);
    rt_free(j->env, j, sizeof *j);
}

const char *jit_host_desc(jit_engine *j)
{
    if (!j)
        return "";
    char why[8];
    pthread_mutex_lock(&j->compile_lock);
    jit_start(j, why, sizeof why);
    pthread_mutex_unlock(&j->compile_lock);
    return j->desc;
}

/* ---- debugging ---------------------------------------------------------------- */

void jit_debug_capture(jit_engine *j, bool on)
{
    pthread_mutex_lock(&j->compile_lock);
    j->capture = on;
    pthread_mutex_unlock(&j->compile_lock);
}

void jit_debug_times(jit_engine *j, uint64_t ns[3])
{
    pthread_mutex_lock(&j->compile_lock);
    memcpy(ns, j->last_ns, sizeof j->last_ns);
    pthread_mutex_unlock(&j->compile_lock);
}

void jit_debug_fail_next(jit_engine *j, int n)
{
    pthread_mutex_lock(&j->compile_lock);
    j->fail_next = n;
    pthread_mutex_unlock(&j->compile_lock);
}

size_t jit_debug_last(jit_engine *j, jit_stage stage, char *buf, size_t cap)
{
    if (!j || stage < 0 || stage >= JIT_STAGE_COUNT)
        return 0;
    pthread_mutex_lock(&j->compile_lock);
    const char *s = j->last[stage];
    size_t len = s ? strlen(s) : 0;
    if (buf && cap) {
        size_t n = len < cap - 1 ? len : cap - 1;
        if (n)
            memcpy(buf, s, n);
        buf[n] = '\0';
    }
    pthread_mutex_unlock(&j->compile_lock);
    return len;
}

static void jit_keep(jit_engine *j, jit_stage stage, const char *text, size_t len)
{
    if (j->last_cap[stage] < len + 1) {
        rt_free(j->env, j->last[stage], j->last_cap[stage]);
        j->last_cap[stage] = 0;
        j->last[stage] = rt_malloc(j->env, len + 1);
        if (!j->last[stage])
            return;
        j->last_cap[stage] = len + 1;
    }
    memcpy(j->last[stage], text, len);
    j->last[stage][len] = '\0';
}

static void jit_keep_module(jit_engine *j, jit_stage stage, LLVMModuleRef M)
{
    char *s = LLVMPrintModuleToString(M);
    jit_keep(j, stage, s, strlen(s));
    LLVMDisposeMessage(s);
}

static void jit_keep_asm(jit_engine *j, LLVMModuleRef M)
{
    /* codegen mutates the module: emit from a clone */
    LLVMModuleRef c = LLVMCloneModule(M);
    LLVMMemoryBufferRef mb = NULL;
    char *err = NULL;
    if (!LLVMTargetMachineEmitToMemoryBuffer(j->tm, c, LLVMAssemblyFile, &err, &mb)) {
        jit_keep(j, JIT_STAGE_ASM, LLVMGetBufferStart(mb), LLVMGetBufferSize(mb));
        LLVMDisposeMemoryBuffer(mb);
    } else {
        LLVMDisposeMessage(err);
    }
    LLVMDisposeModule(c);
}

/* ---- compiling one kernel -------------------------------------------------------- */

/* Links obj (consumed) under a new resource tracker and looks sym up:
 * 0, or -1 with why. */
static int jit_link(jit_engine *j, LLVMMemoryBufferRef obj, jit_entry *e)
{
    LLVMOrcResourceTrackerRef rt = LLVMOrcJITDylibCreateResourceTracker(j->dylib);
    LLVMErrorRef err = LLVMOrcLLJITAddObjectFileWithRT(j->lljit, rt, obj); /* consumes obj */
    LLVMOrcExecutorAddress addr = 0;
    if (!err)
        err = LLVMOrcLLJITLookup(j->lljit, &addr, e->sym);
    if (err || !addr) {
        if (err)
            jit_errmsg(err, "LLJIT", e->why, sizeof e->why);
        else
            snprintf(e->why, sizeof e->why, "LLJIT: %s has no address", e->sym);
        jit_discard(j, rt);
        return -1;
    }
    e->fn = (rt_kernel_fn)(uintptr_t)addr;
    e->tracker = rt;
    return 0;
}

/* Lower -> verify -> optimize -> one codegen to an object file (kept on
 * disk when dk is given) -> link. */
int jit_compile(jit_engine *j, const gr_kernel *k, jit_entry *e, bool *cacheable)
{
    uint64_t t0 = jit_now_ns();
    const char *name = e->name;
    char *why = e->why;
    size_t why_cap = sizeof e->why;
    e->fn = NULL;
    e->tracker = NULL;
    *cacheable = true;
    snprintf(e->sym, sizeof e->sym, "%s", name);
    char swhy[sizeof j->desc];
    if (jit_start(j, swhy, sizeof swhy) != 0) {
        snprintf(why, why_cap, "%.190s", swhy);
        return -1;
    }
    if (j->fail_next > 0) {
        j->fail_next--;
        snprintf(why, why_cap, "compile of %s failed: forced by jit_debug_fail_next", name);
        return -1;
    }
    /* The disk first, unless the IR/asm dump stages want this compile's
     * texts. A stored entry is verified before it is linked; one that
     * fails to link is rejected and the kernel compiled. */
    jit_disk_key dk;
    bool disk = jit_disk_prepare(j, k, e->sig, e->siglen, &dk);
    if (disk) {
        snprintf(e->sym, sizeof e->sym, "%s", dk.sym);
        LLVMMemoryBufferRef obj = j->capture ? NULL : jit_disk_load(j, &dk);
        if (obj) {
            if (jit_link(j, obj, e) == 0) {
                j->last_ns[0] = j->last_ns[1] = 0;
                j->last_ns[2] = jit_now_ns() - t0;
                jit_count(j, KILN_COUNTER_DISK_HITS, 1);
                return 0;
            }
            jit_disk_reject(j, &dk);
            e->why[0] = '\0';
        }
    }

    LLVMContextRef c = LLVMContextCreate();
    LLVMModuleRef M = LLVMModuleCreateWithNameInContext(name, c);
    char *triple = LLVMGetTargetMachineTriple(j->tm);
    LLVMSetTarget(M, triple);
    LLVMDisposeMessage(triple);
    LLVMTargetDataRef dl = LLVMCreateTargetDataLayout(j->tm);
    LLVMSetModuleDataLayout(M, dl);
    LLVMDisposeTargetData(dl);

    char lwhy[200] = "";
    if (jit_lower(j->env, M, k, e->sym, &j->target, lwhy, sizeof lwhy) != 0) {
        snprintf(why, why_cap, "cannot lower %.60s: %.120s", name, lwhy);
        *cacheable = strstr(lwhy, "out of memory") == NULL;
        goto fail_module;
    }
    char *verr = NULL;
    if (LLVMVerifyModule(M, LLVMReturnStatusAction, &verr)) {
        snprintf(why, why_cap, "invalid IR for %.60s: %.120s", name, verr ? verr : "");
        LLVMDisposeMessage(verr);
        goto fail_module;
    }
    LLVMDisposeMessage(verr);
    if (j->capture)
        jit_keep_module(j, JIT_STAGE_IR, M);
    uint64_t t1 = jit_now_ns();
    if (jit_optimize(M, j->tm, &j->opt, why, why_cap) != 0)
        goto fail_module;
    uint64_t t2 = jit_now_ns();
    if (j->capture) {
        jit_keep_module(j, JIT_STAGE_OPT, M);
        jit_keep_asm(j, M);
    }

    /* One codegen: the object is what the LLJIT links and what the disk
     * keeps (the LLJIT's own IR layer would run codegen again). */
    uint64_t t3 = jit_now_ns();
    LLVMMemoryBufferRef obj = NULL;
    char *cerr = NULL;
    if (LLVMTargetMachineEmitToMemoryBuffer(j->tm, M, LLVMObjectFile, &cerr, &obj)) {
        snprintf(why, why_cap, "codegen of %.60s: %.120s", name, cerr ? cerr : "");
        LLVMDisposeMessage(cerr);
        goto fail_module;
    }
    LLVMDisposeModule(M);
    LLVMContextDispose(c);
    if (disk)
        jit_disk_store(j, &dk, LLVMGetBufferStart(obj), LLVMGetBufferSize(obj));
    if (jit_link(j, obj, e) != 0)
        return -1;
    uint64_t t4 = jit_now_ns();
    j->last_ns[0] = t1 - t0;
    j->last_ns[1] = t2 - t1;
    j->last_ns[2] = t4 - t3;
    jit_count(j, KILN_COUNTER_COMPILES, 1);
    jit_count(j, KILN_COUNTER_COMPILE_NS, jit_now_ns() - t0);
    return 0;

fail_module:
    LLVMDisposeModule(M);
    LLVMContextDispose(c);
    return -1;
}

void jit_discard(jit_engine *j, void *tracker)
{
    (void)j;
    if (!tracker)
        return;
    LLVMErrorRef e = LLVMOrcResourceTrackerRemove(tracker);
    if (e)
        LLVMConsumeError(e);
    LLVMOrcReleaseResourceTracker(tracker);
}
