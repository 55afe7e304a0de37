/*
 * jit/internal.h — what the files of jit/ share: the LLVM-facing pieces
 * (lowering, optimization) and the engine record. Included only by jit/.
 */
#ifndef KILN_JIT_INTERNAL_H
#define KILN_JIT_INTERNAL_H

#include "jit/dump.h"
#include "jit/jit.h"

#include <llvm-c/Core.h>
#include <llvm-c/TargetMachine.h>

/* lower.c: builds, in module M (whose context it uses), the kernel
 * `void name(const rt_kargs *, int64_t begin, int64_t end)` computing k.
 * Returns 0, or -1 with why filled (an op or dtype it does not lower). */
int jit_lower(rt_env *env, LLVMModuleRef M, const gr_kernel *k, const char *name,
              const jit_target *t, char *why, size_t why_cap);

/* The runtime helpers the generated code calls by name (resolved to their
 * addresses by the engine): floor division, remainder, integer power. */
typedef struct jit_helper {
    const char *name;
    void *addr;
} jit_helper;
extern const jit_helper jit_helpers[];
extern const int jit_nhelpers;

/* opt.c: runs the optimization pipeline on M for tm. Returns 0 or -1 with
 * why filled. */
typedef struct jit_opt_config {
    const char *pipeline; /* "default<O3>" */
    bool interleave, unroll, slp;
    int codegen_level;    /* LLVMCodeGenOptLevel of the JIT's codegen, read at start */
} jit_opt_config;
int jit_optimize(LLVMModuleRef M, LLVMTargetMachineRef tm, const jit_opt_config *cfg, char *why,
                 size_t why_cap);

/* dump.c: mkdir -p dir, each folder made with mode; 0, or -1 with errno
 * (ENOTDIR if dir exists and is not a folder). */
int jit_mkdirs(const char *dir, unsigned mode);

/* diskcache.c: the persistent cache's state in an engine (compile_lock). */
typedef struct jit_disk {
    bool on;               /* the setting */
    bool degraded;         /* a write failed: memory only from then on (msg) */
    bool dir_made;         /* the folder was created (mkdir -p) */
    bool bound_checked;    /* the folder's size was checked by this engine */
    char dir[JIT_DISK_DIR_MAX];
    char msg[512];
    uint64_t max_bytes;    /* the folder's bound */
    uint64_t since_check;  /* bytes written since the bound was last checked */
    uint64_t est_bytes;    /* the folder's size as of that check, plus writes since */
    char *key;             /* host part of every entry's key, built at first use */
    size_t keylen;
    unsigned tmp_serial;
} jit_disk;

/* One kernel's disk identity: hash of the full key (host part + signature),
 * its file name and the kernel's symbol (kd_<hash>: the same in every
 * process, so an object stored by one links in another). */
typedef struct jit_disk_key {
    const uint8_t *sig;
    size_t siglen;
    uint64_t hash;
    char sym[24];
} jit_disk_key;
/* False when k must not touch the disk (cache off, or not persistable);
 * else fills dk. Caller holds compile_lock, after jit_start. */
bool jit_disk_prepare(jit_engine *j, const gr_kernel *k, const uint8_t *sig, size_t siglen,
                      jit_disk_key *dk);
/* The stored object of dk, verified (header, full key, length, checksum):
 * an LLVM memory buffer the caller owns, or NULL (none, or rejected:
 * counted and removed). */
LLVMMemoryBufferRef jit_disk_load(jit_engine *j, const jit_disk_key *dk);
/* Stores obj for dk (temporary file + rename), then keeps the bound. */
void jit_disk_store(jit_engine *j, const jit_disk_key *dk, const void *obj, size_t len);
/* A loaded object could not be linked after all: counted and removed. */
void jit_disk_reject(jit_engine *j, const jit_disk_key *dk);
void jit_disk_init(jit_engine *j);  /* settings from the environment (jit_new) */
void jit_disk_fini(jit_engine *j);  /* frees the key (jit_free) */

/* ---- the engine ------------------------------------------------------------
 * Lock order: compile_lock before cache_lock, never the reverse. */
struct jit_entry {
    uint64_t hash;
    uint8_t *sig;
    size_t siglen;
    rt_kernel_fn fn;       /* NULL: a cached failure (why says what) */
    void *tracker;         /* LLVMOrcResourceTrackerRef owning the code */
    atomic_int pins;       /* > 0: running somewhere, not evictable */
    jit_entry *hnext;      /* hash chain */
    jit_entry *prev, *next; /* LRU list, most recent first */
    char name[96];
    char sym[96];          /* the code's symbol: name, or kd_<hash> when on disk */
    char why[200];
    _Atomic(struct jit_prof *) prof; /* dump.c: profile record; NULL while dumps are off */
};

struct jit_engine {
    rt_env *env;
    atomic_ullong *counters;
    /* LLVM side (engine.c), under compile_lock */
    pthread_mutex_t compile_lock;
    void *lljit;           /* LLVMOrcLLJITRef */
    void *dylib;           /* LLVMOrcJITDylibRef */
    LLVMTargetMachineRef tm; /* for the pass pipeline and asm dumps */
    jit_target target;
    jit_opt_config opt;
    unsigned serial;
    bool capture;
    char *last[JIT_STAGE_COUNT];
    size_t last_cap[JIT_STAGE_COUNT];
    int fail_next;
    bool start_failed;     /* LLVM could not start: every compile fails */
    uint64_t last_ns[3];   /* last compile: lower+verify, optimize, codegen */
    char desc[512];
    jit_disk disk;         /* diskcache.c, under compile_lock */
    /* the cache (cache.c), under cache_lock */
    pthread_mutex_t cache_lock;
    jit_entry **table;
    size_t tcap, count, live;
    jit_entry lru;         /* sentinel */
    atomic_size_t limit;
    _Atomic(struct jit_dump *) dump; /* dump.c: stages, files, profiles; NULL until set */
};

/* engine.c: the code of k for entry e (e->name, e->sig set): loaded from
 * the disk cache, or compiled (and stored there). On success e->fn,
 * e->tracker and e->sym are set; on failure e->why is filled and
 * *cacheable says whether the failure is deterministic (cache it) or
 * transient (out of memory). Caller holds compile_lock. */
int jit_compile(jit_engine *j, const gr_kernel *k, jit_entry *e, bool *cacheable);
/* engine.c: frees a kernel's code. Caller holds compile_lock. */
void jit_discard(jit_engine *j, void *tracker);
/* cache.c: releases every entry (engine teardown). */
void jit_cache_clear(jit_engine *j);

static inline void jit_count(jit_engine *j, kiln_counter c, uint64_t v)
{
    atomic_fetch_add_explicit(&j->counters[c], v, memory_order_relaxed);
}

#endif /* KILN_JIT_INTERNAL_H */
