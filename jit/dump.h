/*
 * jit/dump.h — what an engine writes about the kernels it compiles, and
 * what each kernel cost (docs/PROFILING.md). No llvm-c here: frontend/
 * includes this header.
 *
 * jit/dump.c holds both:
 *   - the stages (which, where), files per compiled kernel — LLVM IR
 *     before/after optimization, assembly, the `explain` of each cache
 *     miss against the nearest cached kernel — and /tmp/perf-<pid>.map
 *     lines for perf;
 *   - per-kernel records keyed by signature: launches, time, bytes,
 *     compile time, cache hits and misses, interpreter fallback. A record
 *     outlives its cache entry, so a kernel evicted and compiled again
 *     counts two misses.
 *
 * Invariants: with no stage on (the default) every hook returns after one
 * atomic load and nothing is allocated; a dump is best effort — a file
 * that cannot be written is counted, never an evaluation error, never
 * printed; all file names come from jit_entry_dump_name, so a listing of
 * the dump folder reads as a table of contents.
 */
#ifndef KILN_JIT_DUMP_H
#define KILN_JIT_DUMP_H

#include "jit/jit.h"

#include <stdio.h>

/* Dump stages (kiln_ctx_set_dump's words). GRAPH and PLAN files are
 * written by the frontend, which holds the graph; the rest here. */
enum {
    JIT_DUMP_GRAPH = 1u << 0,   /* NAME.dot */
    JIT_DUMP_PLAN = 1u << 1,    /* NAME.plan.txt */
    JIT_DUMP_IR = 1u << 2,      /* NAME.ir.ll   (as lowered) */
    JIT_DUMP_OPT = 1u << 3,     /* NAME.opt.ll  (after the pass pipeline) */
    JIT_DUMP_ASM = 1u << 4,     /* NAME.s */
    JIT_DUMP_STATS = 1u << 5,   /* launch timing, the stats table */
    JIT_DUMP_EXPLAIN = 1u << 6, /* NAME.explain.txt per cache miss */
    JIT_DUMP_PERF = 1u << 7,    /* /tmp/perf-<pid>.map */
    JIT_DUMP_ALL = (1u << 7) - 1, /* "all": every stage but perf */
    JIT_DUMP_FILES = JIT_DUMP_GRAPH | JIT_DUMP_PLAN | JIT_DUMP_IR | JIT_DUMP_OPT |
                     JIT_DUMP_ASM | JIT_DUMP_EXPLAIN
};

/* Sets the stages (a JIT_DUMP_* set; 0 = off) and, if dir is non-NULL,
 * the folder (copied; default "kiln-dump"). When a stage writing files is
 * on, the folder is created (with its parents) now: KILN_EIO recorded on
 * the engine's env if that fails, KILN_EINVAL if dir is too long; the
 * previous settings then stay. KILN_ENOMEM if the state cannot be made. */
kiln_status jit_dump_set(jit_engine *j, unsigned stages, const char *dir);
unsigned jit_dump_stages(jit_engine *j); /* 0 when off */
/* Copies the folder into buf. */
void jit_dump_dir(jit_engine *j, char *buf, size_t cap);
/* Opens DIR/<kname><suffix> for writing, creating DIR if it vanished.
 * NULL on failure (counted: jit_dump_errors). */
FILE *jit_dump_open(jit_engine *j, const char *kname, const char *suffix);
/* Files that could not be written so far, and the first reason. */
unsigned long jit_dump_errors(jit_engine *j, char *why, size_t cap);
/* "k0007_fused_add_multiply_f64_r1-3fa2c1": the entry's name, a dash and
 * six hex digits of its signature hash. Returns buf. */
char *jit_entry_dump_name(const jit_entry *e, char *buf, size_t cap);

/* ---- per-kernel profiles ----------------------------------- */
typedef struct jit_prof jit_prof;

/* The record of kernel k: e's (as jit_get returned it) or, when e is NULL
 * (the kernel fell back to the interpreter), found by k's signature. NULL
 * when dumping is off or the kernel has no record. */
jit_prof *jit_prof_of(jit_engine *j, const gr_kernel *k, jit_entry *e);
/* One launch took ns nanoseconds and moved bytes (interp: on the
 * interpreter). Thread-safe; r may be NULL. */
void jit_prof_launch(jit_prof *r, uint64_t ns, uint64_t bytes, bool interp);
/* True once per compile of r's kernel while GRAPH or PLAN is on: the
 * caller then writes those files. name receives the dump name. */
bool jit_prof_claim(jit_engine *j, jit_prof *r, char *name, size_t cap);
/* The dump name of r's kernel (its latest compile). */
void jit_prof_name(jit_engine *j, const jit_prof *r, char *name, size_t cap);

typedef struct jit_prof_row {
    char name[128];
    uint64_t launches, launch_ns, min_ns, bytes, interp_launches;
    uint64_t hits, misses, compile_ns;
    bool fallback; /* its last compile failed: the interpreter runs it */
    char why[200];
} jit_prof_row;
/* Copies up to cap records, in order of first compile, into rows; returns
 * how many there are. */
size_t jit_prof_rows(jit_engine *j, jit_prof_row *rows, size_t cap);

/* ---- inside jit/: the engine's hooks --------------------------------------- */

/* engine.c, jit_start: the LLJIT now exists (compile_lock held). */
void jit_dump_started(jit_engine *j);
/* cache.c, after jit_compile (compile_lock held, e not yet in the cache):
 * the record's miss, IR/opt/asm files, the explain, the perf map line. */
void jit_dump_compiled(jit_engine *j, jit_entry *e, const gr_kernel *k);
/* cache.c, on a hit (cache_lock held). */
void jit_dump_hit(jit_engine *j, jit_entry *e);
/* engine.c, jit_free, after the LLJIT is gone. */
void jit_dump_free(jit_engine *j);

#endif /* KILN_JIT_DUMP_H */
