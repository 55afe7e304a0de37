/*
 * jit/jit.h — the JIT engine as the frontend sees it: kernels in, native
 * function pointers out, cached by signature. jit/ is the only layer that
 * includes llvm-c; this header does not, so frontend/ stays LLVM-free.
 *
 *   jit_new        one engine per context: an ORC LLJIT for the host CPU
 *                  (process-wide LLVM setup runs once, before any engine);
 *   jit_get        signature -> cache hit, or lower -> O3 -> native code;
 *                  returns the kernel PINNED: it is not evicted until
 *                  jit_release, so a thread may run it while another
 *                  thread compiles and evicts;
 *   jit_free       releases every kernel and the LLJIT.
 *
 * Thread safety: every function may be called from several threads on
 * one engine. Cache lookups take a short lock; compilation is serialized
 * per engine (LLVM-C cannot add modules to one LLJIT concurrently: see
 * ../shared/notes/llvm-c-facts.md). Counters are the context's
 * (KILN_COUNTER_COMPILES, CACHE_HITS, CACHE_MISSES, COMPILE_NS,
 * KERNELS_LIVE, EVICTIONS), updated atomically.
 */
#ifndef KILN_JIT_H
#define KILN_JIT_H

#include "graph/plan.h"
#include "runtime/kernel.h"

typedef struct jit_engine jit_engine;
typedef struct jit_entry jit_entry;

/* A new engine (NULL only on out of memory). Cheap: LLVM starts at the
 * first compile; if it cannot target this host, every kernel then falls
 * back to the interpreter with that reason. counters points at the
 * context's KILN_COUNTER_COUNT counters and must outlive the engine. */
jit_engine *jit_new(rt_env *env, atomic_ullong *counters);
void jit_free(jit_engine *j); /* NULL is a no-op; no kernel may be pinned */

/* LRU bound on live kernels (>= 1; default 1024). Lowering it evicts
 * unpinned kernels at once. */
void jit_set_cache_limit(jit_engine *j, size_t max_kernels);
size_t jit_cache_limit(const jit_engine *j);

/* The compiled kernel for k, pinned. NULL when it cannot be compiled (an
 * op not lowered, an LLVM error, the test hook): why then says so, and
 * the failure is cached too, so the next lookup falls back at once. */
jit_entry *jit_get(jit_engine *j, const gr_kernel *k, char *why, size_t why_cap);
rt_kernel_fn jit_entry_fn(const jit_entry *e);
const char *jit_entry_name(const jit_entry *e); /* "k0007_fused_add_mul_f64_r1" */
void jit_release(jit_entry *e); /* unpins; NULL is a no-op */

/* ---- the persistent cache (diskcache.c) ----------------------------------
 * Kernels are also kept on disk as object files, keyed by their signature
 * and everything the code depends on (kiln's build, LLVM's version, the
 * host CPU and features, the pipeline, the vector library), so another
 * process loads instead of compiling. Settings from KILN_CACHE (off
 * disables it), KILN_CACHE_DIR (default $XDG_CACHE_HOME/kiln or
 * ~/.cache/kiln) and KILN_CACHE_MAX_MB (the directory's bound, default
 * 256) at jit_new. Counters: KILN_COUNTER_DISK_HITS, DISK_WRITES,
 * DISK_REJECTS. A directory that cannot be written degrades to memory only,
 * once, with the reason kept for the stats. */
enum { JIT_DISK_DIR_MAX = 1024 };
typedef struct jit_disk_info {
    bool on;             /* the setting */
    bool degraded;       /* on, but memory only since a write failed */
    char dir[JIT_DISK_DIR_MAX];
    char msg[512];       /* why degraded ("" if not) */
    uint64_t entries, bytes, max_bytes, temps; /* temps: leftover temporary files */
} jit_disk_info;
/* on: use dir (NULL: the environment's or the default folder). Returns
 * KILN_OK, or KILN_EINVAL with why filled (a folder name too long). */
kiln_status jit_disk_set(jit_engine *j, bool on, const char *dir, char *why, size_t why_cap);
/* The settings and what the folder holds now (scans it). */
void jit_disk_info_get(jit_engine *j, jit_disk_info *out);
/* Removes every entry (and stale temporary file) of the folder; the count
 * removed, or -1 with errno if the folder cannot be read. */
long jit_disk_clear(jit_engine *j);
/* The launch policy's calibration (runtime/pool.h rt_par_calib) for this
 * machine, kiln build and thread count, kept in the same folder: load
 * returns false if there is none, or it is another machine's or corrupt. */
bool jit_disk_calib_load(jit_engine *j, int threads, uint64_t v[4]);
void jit_disk_calib_store(jit_engine *j, int threads, const uint64_t v[4]);

/* ---- introspection for tests and dumps ----------------------------------
 * With capture on, each compile keeps the text of its IR before and after
 * optimization and its assembly (costs one more codegen per compile). */
typedef enum jit_stage { JIT_STAGE_IR, JIT_STAGE_OPT, JIT_STAGE_ASM, JIT_STAGE_COUNT } jit_stage;
void jit_debug_capture(jit_engine *j, bool on);
/* Copies the last compiled kernel's text of that stage into buf (NUL
 * terminated, truncated to cap) and returns its full length; 0 if none. */
size_t jit_debug_last(jit_engine *j, jit_stage stage, char *buf, size_t cap);
/* Nanoseconds the last compile spent lowering (+ verifying), optimizing
 * and generating machine code. */
void jit_debug_times(jit_engine *j, uint64_t ns[3]);
/* Test hook: the next n compilations fail (as an LLVM error would). */
void jit_debug_fail_next(jit_engine *j, int n);
/* "x86_64-pc-linux-gnu znver3; vector ABI d (f64 x4, f32 x8); libmvec"
 * for reports (starts LLVM if needed). */
const char *jit_host_desc(jit_engine *j);

/* ---- inside jit/ ------------------------------------------------------- */

/* What lower.c needs to know about the host (filled by engine.c). */
typedef struct jit_target {
    /* libmvec variants the host can run, best ISA per register width:
     * x86 vector function ABI letter ('b' SSE4, 'd' AVX2, 'e' AVX-512),
     * 0 = none. The loop vectorizer picks the one matching its VF. */
    char vabi_128, vabi_256, vabi_512;
} jit_target;

#endif /* KILN_JIT_H */
