/*
 * jit/dump.c — the engine's side of the profiling dump (jit/dump.h):
 * which stages are on and where files go; per compiled kernel its LLVM IR
 * before and after optimization (.ll files llvm-as accepts), its assembly,
 * and the `explain` of the cache miss; /tmp/perf-<pid>.map lines so perf
 * names JIT code; and the per-kernel profile records behind the stats
 * table.
 *
 *   state      struct jit_dump, made by the first jit_dump_set and kept
 *              until jit_free (records survive turning dumps off);
 *   capture    the IR/opt/asm texts are the engine's debug capture
 *              (engine.c keeps the last compile's), switched on here while
 *              a stage needs them and checked against the kernel's name
 *              before use, so a failed compile never writes another
 *              kernel's text;
 *   explain    on a miss, every cached entry's signature is compared with
 *              the new one (graph/sig_diff.c) and the nearest one named,
 *              with what differs;
 *   perf       an object-transform callback on the LLJIT sees each object
 *              before it is linked and reads its symbol sizes; after the
 *              lookup the kernel's address is known and one line
 *              "ADDR SIZE NAME" is appended to /tmp/perf-<pid>.map.
 *
 * Locks: compile_lock -> cache_lock -> dump->lock, never the reverse.
 * Entries are freed only under compile_lock, so a hook holding it may use
 * any cached entry after dropping cache_lock. Records are freed only by
 * jit_free. Invariant: with no stage on, a hook costs one atomic load.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* open, mkdir, getpid; llvm-config may define it too */
#endif
#include "jit/dump.h"
#include "graph/dump.h"
#include "jit/internal.h"

#include <llvm-c/LLJIT.h>
#include <llvm-c/Object.h>
#include <llvm-c/Orc.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

enum { JD_DIR_MAX = 1024, JD_SYMS = 8, JD_MAX_RECORDS = 1 << 16, JD_EXPLAIN_LINES = 12 };

struct jit_prof {
    jit_prof *hnext;
    uint64_t hash;
    uint8_t *sig;
    size_t siglen;
    char name[128];      /* under dump->lock */
    bool fallback;       /* under dump->lock */
    char why[200];       /* under dump->lock */
    atomic_bool pending; /* graph/plan still to be written for the last compile */
    atomic_ullong launches, launch_ns, bytes, interp_launches, hits, misses, compile_ns;
    atomic_ullong min_ns; /* fastest launch (UINT64_MAX: none yet) */
};

struct jit_dump {
    atomic_uint stages;
    pthread_mutex_t lock;   /* dir, errors, records */
    char dir[JD_DIR_MAX];
    bool capture_forced;    /* we switched the engine's capture on */
    bool perf_hooked;       /* the object transform is installed */
    struct {
        char name[96];
        uint64_t size;
    } syms[JD_SYMS];        /* the last object's function symbols (compile_lock) */
    int nsyms;
    unsigned long errors;
    char error[256];
    jit_prof **rec;         /* in order of creation */
    size_t nrec, caprec;
    jit_prof **tab;         /* hash index, chained through hnext */
    size_t tcap;
};

static struct jit_dump *jd_of(jit_engine *j) { return j ? atomic_load(&j->dump) : NULL; }

char *jit_entry_dump_name(const jit_entry *e, char *buf, size_t cap)
{
    snprintf(buf, cap, "%s-%06x", e->name, (unsigned)(e->hash >> 40) & 0xffffffu);
    return buf;
}

/* ---- folder and files ---------------------------------------------------------- */

int jit_mkdirs(const char *dir, unsigned mode)
{
    char path[JD_DIR_MAX];
    size_t n = strlen(dir);
    if (n == 0 || n >= sizeof path) {
        errno = ENAMETOOLONG;
        return -1;
    }
    memcpy(path, dir, n + 1);
    for (size_t i = 1; i <= n; i++) {
        if (path[i] != '/' && path[i] != '\0')
            continue;
        char c = path[i];
        path[i] = '\0';
        if (mkdir(path, (mode_t)mode) != 0 && errno != EEXIST)
            return -1;
        path[i] = c;
    }
    struct stat st;
    if (stat(dir, &st) != 0)
        return -1;
    if (!S_ISDIR(st.st_mode)) {
        errno = ENOTDIR;
        return -1;
    }
    return 0;
}

/* Counts a file that could not be written; keeps the first "what: why". */
static void jd_error(struct jit_dump *d, const char *what, const char *why)
{
    pthread_mutex_lock(&d->lock);
    if (d->errors++ == 0)
        snprintf(d->error, sizeof d->error, "%.160s: %.80s", what, why);
    pthread_mutex_unlock(&d->lock);
}

FILE *jit_dump_open(jit_engine *j, const char *kname, const char *suffix)
{
    struct jit_dump *d = jd_of(j);
    if (!d)
        return NULL;
    char dir[JD_DIR_MAX], path[JD_DIR_MAX + 160];
    pthread_mutex_lock(&d->lock);
    memcpy(dir, d->dir, sizeof dir);
    pthread_mutex_unlock(&d->lock);
    snprintf(path, sizeof path, "%s/%s%s", dir, kname, suffix);
    FILE *f = fopen(path, "w");
    if (!f && errno == ENOENT && jit_mkdirs(dir, 0777) == 0)
        f = fopen(path, "w");
    if (!f)
        jd_error(d, path, strerror(errno));
    return f;
}

static void jd_close(struct jit_dump *d, FILE *f, const char *what)
{
    if (ferror(f) | (fclose(f) != 0))
        jd_error(d, what, "write failed");
}

unsigned long jit_dump_errors(jit_engine *j, char *why, size_t cap)
{
    struct jit_dump *d = jd_of(j);
    if (cap)
        why[0] = '\0';
    if (!d)
        return 0;
    pthread_mutex_lock(&d->lock);
    unsigned long n = d->errors;
    if (cap)
        snprintf(why, cap, "%s", d->error);
    pthread_mutex_unlock(&d->lock);
    return n;
}

void jit_dump_dir(jit_engine *j, char *buf, size_t cap)
{
    struct jit_dump *d = jd_of(j);
    if (!d) {
        snprintf(buf, cap, "kiln-dump");
        return;
    }
    pthread_mutex_lock(&d->lock);
    snprintf(buf, cap, "%s", d->dir);
    pthread_mutex_unlock(&d->lock);
}

/* ---- perf map -------------------------------------------------------------------- */

/* The LLJIT's object transform: records the function symbols' sizes of the
 * object about to be linked (it runs inside the lookup, on the compiling
 * thread, under compile_lock). The object passes through unchanged. */
static LLVMErrorRef jd_perf_transform(void *ctx, LLVMMemoryBufferRef *obj)
{
    jit_engine *j = ctx;
    struct jit_dump *d = jd_of(j);
    if (!d || !(atomic_load(&d->stages) & JIT_DUMP_PERF))
        return NULL;
    char *err = NULL;
    LLVMBinaryRef bin = LLVMCreateBinary(*obj, NULL, &err);
    if (!bin) {
        LLVMDisposeMessage(err);
        return NULL;
    }
    LLVMSymbolIteratorRef it = LLVMObjectFileCopySymbolIterator(bin);
    d->nsyms = 0;
    for (; it && !LLVMObjectFileIsSymbolIteratorAtEnd(bin, it); LLVMMoveToNextSymbol(it)) {
        const char *name = LLVMGetSymbolName(it);
        uint64_t size = LLVMGetSymbolSize(it);
        if (!name || !name[0] || size == 0 || d->nsyms == JD_SYMS)
            continue;
        snprintf(d->syms[d->nsyms].name, sizeof d->syms[d->nsyms].name, "%s", name);
        d->syms[d->nsyms].size = size;
        d->nsyms++;
    }
    if (it)
        LLVMDisposeSymbolIterator(it);
    LLVMDisposeBinary(bin);
    return NULL;
}

/* Installs the transform once the LLJIT exists (compile_lock held). */
static void jd_perf_hook(jit_engine *j, struct jit_dump *d)
{
    if (d->perf_hooked || !j->lljit || !(atomic_load(&d->stages) & JIT_DUMP_PERF))
        return;
    LLVMOrcObjectTransformLayerSetTransform(LLVMOrcLLJITGetObjTransformLayer(j->lljit),
                                            jd_perf_transform, j);
    d->perf_hooked = true;
}

void jit_dump_started(jit_engine *j)
{
    struct jit_dump *d = jd_of(j);
    if (d)
        jd_perf_hook(j, d);
}

/* One line "ADDR SIZE NAME" (hex, no 0x: perf's map format), appended
 * with one write so processes and contexts do not interleave lines. */
static void jd_perf_line(struct jit_dump *d, const jit_entry *e, const char *dn)
{
    uint64_t size = 0;
    for (int i = 0; i < d->nsyms; i++)
        if (strcmp(d->syms[i].name, e->sym) == 0)
            size = d->syms[i].size;
    char path[64], line[256];
    snprintf(path, sizeof path, "/tmp/perf-%d.map", (int)getpid());
    if (size == 0) {
        char why[160];
        snprintf(why, sizeof why, "no symbol size for %s", dn);
        jd_error(d, path, why);
        return;
    }
    int n = snprintf(line, sizeof line, "%" PRIxPTR " %" PRIx64 " %s\n",
                     (uintptr_t)e->fn, size, dn);
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0 || write(fd, line, (size_t)n) != n)
        jd_error(d, path, strerror(errno));
    if (fd >= 0)
        close(fd);
}

/* ---- settings -------------------------------------------------------------------- */

kiln_status jit_dump_set(jit_engine *j, unsigned stages, const char *dir)
{
    if (dir && (strlen(dir) == 0 || strlen(dir) >= JD_DIR_MAX))
        return rt_err(j->env, KILN_EINVAL, "dump folder '%.64s%s' is %s", dir,
                      strlen(dir) > 64 ? "..." : "", strlen(dir) ? "too long" : "empty");
    pthread_mutex_lock(&j->compile_lock);
    struct jit_dump *d = jd_of(j);
    if (!d) {
        if (!stages && !dir) {
            pthread_mutex_unlock(&j->compile_lock);
            return KILN_OK;
        }
        d = rt_calloc(j->env, 1, sizeof *d);
        if (!d || pthread_mutex_init(&d->lock, NULL) != 0) {
            rt_free(j->env, d, d ? sizeof *d : 0);
            pthread_mutex_unlock(&j->compile_lock);
            return rt_err(j->env, KILN_ENOMEM, "out of memory setting up dumps");
        }
        atomic_init(&d->stages, 0);
        snprintf(d->dir, sizeof d->dir, "kiln-dump");
        pthread_mutex_lock(&j->cache_lock); /* jit_dump_hit reads it under cache_lock */
        atomic_store(&j->dump, d);
        pthread_mutex_unlock(&j->cache_lock);
    }
    char want[JD_DIR_MAX];
    pthread_mutex_lock(&d->lock);
    snprintf(want, sizeof want, "%s", dir ? dir : d->dir);
    pthread_mutex_unlock(&d->lock);
    if ((stages & JIT_DUMP_FILES) && jit_mkdirs(want, 0777) != 0) {
        int err = errno;
        pthread_mutex_unlock(&j->compile_lock);
        return rt_err(j->env, KILN_EIO, "cannot create the dump folder '%s': %s", want,
                      strerror(err));
    }
    pthread_mutex_lock(&d->lock);
    memcpy(d->dir, want, sizeof d->dir);
    pthread_mutex_unlock(&d->lock);
    bool texts = stages & (JIT_DUMP_IR | JIT_DUMP_OPT | JIT_DUMP_ASM);
    if (texts && !j->capture) {
        j->capture = true;
        d->capture_forced = true;
    } else if (!texts && d->capture_forced) {
        j->capture = false;
        d->capture_forced = false;
    }
    atomic_store(&d->stages, stages);
    jd_perf_hook(j, d);
    pthread_mutex_unlock(&j->compile_lock);
    return KILN_OK;
}

unsigned jit_dump_stages(jit_engine *j)
{
    struct jit_dump *d = jd_of(j);
    return d ? atomic_load(&d->stages) : 0;
}

/* ---- profile records ----------------------------------------------------------------- */

static jit_prof *jd_find(struct jit_dump *d, const uint8_t *sig, size_t len, uint64_t hash)
{
    if (!d->tcap)
        return NULL;
    for (jit_prof *r = d->tab[hash & (d->tcap - 1)]; r; r = r->hnext)
        if (r->hash == hash && r->siglen == len && memcmp(r->sig, sig, len) == 0)
            return r;
    return NULL;
}

/* The record of a signature, made if missing (with that name, fallback
 * and why); NULL on OOM or past JD_MAX_RECORDS. Takes dump->lock. */
static jit_prof *jd_record(jit_engine *j, struct jit_dump *d, const uint8_t *sig, size_t len,
                           uint64_t hash, const char *name, bool fallback, const char *why,
                           bool *existed)
{
    pthread_mutex_lock(&d->lock);
    jit_prof *r = jd_find(d, sig, len, hash);
    *existed = r != NULL;
    if (r || d->nrec >= JD_MAX_RECORDS)
        goto done;
    if (d->nrec == d->caprec) {
        size_t ncap = d->caprec ? 2 * d->caprec : 32;
        jit_prof **nr = rt_realloc(j->env, d->rec, d->caprec * sizeof *nr, ncap * sizeof *nr);
        if (!nr)
            goto done;
        d->rec = nr;
        d->caprec = ncap;
    }
    if (d->nrec + 1 > d->tcap / 2) {
        size_t ncap = d->tcap ? 2 * d->tcap : 64;
        jit_prof **t = rt_calloc(j->env, ncap, sizeof *t);
        if (!t)
            goto done;
        for (size_t i = 0; i < d->nrec; i++) {
            jit_prof *x = d->rec[i];
            x->hnext = t[x->hash & (ncap - 1)];
            t[x->hash & (ncap - 1)] = x;
        }
        rt_free(j->env, d->tab, d->tcap * sizeof *d->tab);
        d->tab = t;
        d->tcap = ncap;
    }
    r = rt_calloc(j->env, 1, sizeof *r);
    uint8_t *copy = r ? rt_malloc(j->env, len ? len : 1) : NULL;
    if (!copy) {
        rt_free(j->env, r, r ? sizeof *r : 0);
        r = NULL;
        goto done;
    }
    memcpy(copy, sig, len);
    r->sig = copy;
    r->siglen = len;
    r->hash = hash;
    snprintf(r->name, sizeof r->name, "%s", name);
    r->fallback = fallback;
    snprintf(r->why, sizeof r->why, "%s", why ? why : "");
    atomic_init(&r->pending, false);
    atomic_init(&r->launches, 0);
    atomic_init(&r->launch_ns, 0);
    atomic_init(&r->bytes, 0);
    atomic_init(&r->interp_launches, 0);
    atomic_init(&r->hits, 0);
    atomic_init(&r->misses, 0);
    atomic_init(&r->compile_ns, 0);
    atomic_init(&r->min_ns, UINT64_MAX);
    r->hnext = d->tab[hash & (d->tcap - 1)];
    d->tab[hash & (d->tcap - 1)] = r;
    d->rec[d->nrec++] = r;
done:
    pthread_mutex_unlock(&d->lock);
    return r;
}

jit_prof *jit_prof_of(jit_engine *j, const gr_kernel *k, jit_entry *e)
{
    struct jit_dump *d = jd_of(j);
    if (!d)
        return NULL;
    if (e) {
        jit_prof *r = atomic_load(&e->prof);
        if (r)
            return r;
    }
    uint8_t stack[1024], *sig = stack;
    size_t len = gr_kernel_sig(k, stack, sizeof stack);
    if (len > sizeof stack) {
        if (!(sig = rt_malloc(j->env, len)))
            return NULL;
        gr_kernel_sig(k, sig, len);
    }
    uint64_t h = gr_sig_hash(sig, len);
    pthread_mutex_lock(&d->lock);
    jit_prof *r = jd_find(d, sig, len, h);
    pthread_mutex_unlock(&d->lock);
    if (sig != stack)
        rt_free(j->env, sig, len);
    return r;
}

void jit_prof_launch(jit_prof *r, uint64_t ns, uint64_t bytes, bool interp)
{
    if (!r)
        return;
    atomic_fetch_add_explicit(&r->launches, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&r->launch_ns, ns, memory_order_relaxed);
    atomic_fetch_add_explicit(&r->bytes, bytes, memory_order_relaxed);
    unsigned long long m = atomic_load_explicit(&r->min_ns, memory_order_relaxed);
    while (ns < m && !atomic_compare_exchange_weak(&r->min_ns, &m, ns))
        ;
    if (interp)
        atomic_fetch_add_explicit(&r->interp_launches, 1, memory_order_relaxed);
}

bool jit_prof_claim(jit_engine *j, jit_prof *r, char *name, size_t cap)
{
    struct jit_dump *d = jd_of(j);
    if (!d || !r || !atomic_exchange(&r->pending, false))
        return false;
    jit_prof_name(j, r, name, cap);
    return true;
}

void jit_prof_name(jit_engine *j, const jit_prof *r, char *name, size_t cap)
{
    struct jit_dump *d = jd_of(j);
    if (!d || !r) {
        snprintf(name, cap, "(untracked)");
        return;
    }
    pthread_mutex_lock(&d->lock);
    snprintf(name, cap, "%s", r->name);
    pthread_mutex_unlock(&d->lock);
}

size_t jit_prof_rows(jit_engine *j, jit_prof_row *rows, size_t cap)
{
    struct jit_dump *d = jd_of(j);
    if (!d)
        return 0;
    pthread_mutex_lock(&d->lock);
    size_t n = d->nrec;
    for (size_t i = 0; i < n && i < cap; i++) {
        const jit_prof *r = d->rec[i];
        jit_prof_row *w = &rows[i];
        snprintf(w->name, sizeof w->name, "%s", r->name);
        w->launches = atomic_load(&r->launches);
        w->launch_ns = atomic_load(&r->launch_ns);
        w->bytes = atomic_load(&r->bytes);
        w->interp_launches = atomic_load(&r->interp_launches);
        w->hits = atomic_load(&r->hits);
        w->misses = atomic_load(&r->misses);
        w->compile_ns = atomic_load(&r->compile_ns);
        w->min_ns = atomic_load(&r->min_ns);
        if (w->min_ns == UINT64_MAX)
            w->min_ns = 0;
        w->fallback = r->fallback;
        snprintf(w->why, sizeof w->why, "%s", r->why);
    }
    pthread_mutex_unlock(&d->lock);
    return n;
}

/* ---- per compile ------------------------------------------------------------------------ */

/* The captured text of a stage, if it is this kernel's: the engine keeps
 * the last compile's, and a compile that failed early left the previous
 * kernel's there. */
static const char *jd_text(jit_engine *j, jit_stage st, const jit_entry *e)
{
    const char *t = j->last[st];
    const char *kname = e->name;
    if (!t)
        return NULL;
    if (st == JIT_STAGE_ASM) {
        char label[128];
        snprintf(label, sizeof label, "\n%s:", e->sym); /* the code's symbol */
        return strstr(t, label) ? t : NULL;
    }
    char head[128];
    snprintf(head, sizeof head, "; ModuleID = '%s'", kname);
    return strncmp(t, head, strlen(head)) == 0 ? t : NULL;
}

static void jd_write_text(jit_engine *j, struct jit_dump *d, const char *dn, const char *suffix,
                          const char *text)
{
    FILE *f = jit_dump_open(j, dn, suffix);
    if (!f)
        return;
    fputs(text, f);
    jd_close(d, f, dn);
}

/* NAME.explain.txt: why this kernel compiled — the nearest cached kernel
 * and what differs. Caller holds compile_lock (entries stay alive). */
static void jd_explain(jit_engine *j, struct jit_dump *d, const jit_entry *e, const char *dn,
                       const char *evicted_as)
{
    FILE *f = jit_dump_open(j, dn, ".explain.txt");
    if (!f)
        return;
    fprintf(f, "%s: cache miss: %s\n", dn,
            e->fn ? "compiled" : "could not be compiled; the interpreter runs it");
    if (!e->fn)
        fprintf(f, "  reason: %s\n", e->why);
    if (evicted_as)
        fprintf(f, "recompiled: this signature was compiled before as %s and evicted from "
                   "the cache (limit %zu kernels: kiln_ctx_set_cache_limit)\n",
                evicted_as, atomic_load(&j->limit));
    const jit_entry *best = NULL;
    uint64_t bestd = UINT64_MAX;
    size_t ncached = 0;
    pthread_mutex_lock(&j->cache_lock);
    for (const jit_entry *c = j->lru.next; c != &j->lru; c = c->next) {
        ncached++;
        uint64_t dist = gr_sig_distance(c->sig, c->siglen, e->sig, e->siglen, NULL);
        if (dist < bestd) { /* ties: the most recently used wins */
            bestd = dist;
            best = c;
        }
    }
    pthread_mutex_unlock(&j->cache_lock);
    if (!best) {
        fprintf(f, "nearest cached kernel: none (the cache is empty: the first kernel this "
                   "context compiles)\n");
    } else {
        char bn[128];
        fprintf(f, "nearest cached kernel: %s (of %zu cached)\n", jit_entry_dump_name(best, bn, sizeof bn),
                ncached);
        gr_sig_diff(best->sig, best->siglen, e->sig, e->siglen, JD_EXPLAIN_LINES, f);
    }
    fprintf(f, "\nsignature of %s (graph/sig.c; everything compiled in):\n", dn);
    gr_sig_print(e->sig, e->siglen, f);
    jd_close(d, f, dn);
}

void jit_dump_compiled(jit_engine *j, jit_entry *e, const gr_kernel *k)
{
    (void)k;
    struct jit_dump *d = jd_of(j);
    unsigned st = d ? atomic_load(&d->stages) : 0;
    if (!st) {
        if (d)
            d->nsyms = 0;
        return;
    }
    char dn[128];
    jit_entry_dump_name(e, dn, sizeof dn);
    bool existed;
    jit_prof *r = jd_record(j, d, e->sig, e->siglen, e->hash, dn, !e->fn, e->why, &existed);
    char before[128] = "";
    if (r) {
        uint64_t ns = e->fn ? j->last_ns[0] + j->last_ns[1] + j->last_ns[2] : 0;
        pthread_mutex_lock(&d->lock);
        if (existed && atomic_load(&r->misses) > 0)
            snprintf(before, sizeof before, "%s", r->name);
        snprintf(r->name, sizeof r->name, "%s", dn);
        r->fallback = !e->fn;
        snprintf(r->why, sizeof r->why, "%s", e->fn ? "" : e->why);
        pthread_mutex_unlock(&d->lock);
        atomic_fetch_add(&r->misses, 1);
        atomic_fetch_add(&r->compile_ns, ns);
        atomic_store(&r->pending, (st & (JIT_DUMP_GRAPH | JIT_DUMP_PLAN)) != 0);
        atomic_store(&e->prof, r);
    }
    if (st & JIT_DUMP_EXPLAIN)
        jd_explain(j, d, e, dn, before[0] ? before : NULL);
    static const struct {
        unsigned bit;
        jit_stage stage;
        const char *suffix;
    } texts[] = {{JIT_DUMP_IR, JIT_STAGE_IR, ".ir.ll"},
                 {JIT_DUMP_OPT, JIT_STAGE_OPT, ".opt.ll"},
                 {JIT_DUMP_ASM, JIT_STAGE_ASM, ".s"}};
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
        if (!(st & texts[i].bit))
            continue;
        const char *t = jd_text(j, texts[i].stage, e);
        if (t)
            jd_write_text(j, d, dn, texts[i].suffix, t);
    }
    if ((st & JIT_DUMP_PERF) && e->fn)
        jd_perf_line(d, e, dn);
    d->nsyms = 0;
}

void jit_dump_hit(jit_engine *j, jit_entry *e)
{
    struct jit_dump *d = jd_of(j);
    if (!d || !atomic_load(&d->stages))
        return;
    jit_prof *r = atomic_load(&e->prof);
    if (!r) { /* compiled before dumping was on */
        char dn[128];
        bool existed;
        r = jd_record(j, d, e->sig, e->siglen, e->hash, jit_entry_dump_name(e, dn, sizeof dn),
                      !e->fn, e->why, &existed);
        atomic_store(&e->prof, r);
    }
    if (r)
        atomic_fetch_add_explicit(&r->hits, 1, memory_order_relaxed);
}

void jit_dump_free(jit_engine *j)
{
    struct jit_dump *d = jd_of(j);
    if (!d)
        return;
    for (size_t i = 0; i < d->nrec; i++) {
        rt_free(j->env, d->rec[i]->sig, d->rec[i]->siglen ? d->rec[i]->siglen : 1);
        rt_free(j->env, d->rec[i], sizeof *d->rec[i]);
    }
    rt_free(j->env, d->rec, d->caprec * sizeof *d->rec);
    rt_free(j->env, d->tab, d->tcap * sizeof *d->tab);
    pthread_mutex_destroy(&d->lock);
    rt_free(j->env, d, sizeof *d);
    atomic_store(&j->dump, NULL);
}
