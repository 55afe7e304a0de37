/*
 * jit/diskcache.c — the persistent kernel cache: each compiled kernel's
 * object file in a folder processes share (KILN_CACHE_DIR, default
 * $XDG_CACHE_HOME/kiln or ~/.cache/kiln), so a process running work
 * another has run links objects instead of compiling; and the launch
 * policy's thread calibration, kept beside them.
 *
 *   key     the host part — kiln's build (the ELF build id of the binary
 *           holding this code), LLVM's version, triple, CPU name and
 *           features, pass pipeline and its options, codegen level and
 *           code model, vector library and the variants used, the runtime
 *           helpers' names — followed by the kernel's signature
 *           (graph/sig.c, the in-memory key);
 *   file    <16 hex digits of the key's hash>.kobj: a header (magic,
 *           format version, key length, body length), the full key, the
 *           body (the object file), and a checksum of all that;
 *   symbol  kd_<the same 16 hex digits>: one name in every process, so an
 *           object stored by one links in another (an engine's own kernel
 *           names carry its compile serial).
 *
 * Invariants:
 *   - an entry is linked only if it is a regular file of this user whose
 *     size, magic, version, full key and checksum all match: a hash
 *     collision, truncation, corruption or a foreign file is rejected
 *     (KILN_COUNTER_DISK_REJECTS), never executed, and the compile that
 *     follows replaces it;
 *   - writes go to a temporary file in the folder, renamed over the entry:
 *     readers see a whole old file or a whole new one, so processes may
 *     fill one folder at once; removals race harmlessly (an open file stays
 *     readable, ENOENT is ignored);
 *   - the folder is bounded: at an engine's first write, when its size as
 *     last listed plus this engine's writes since passes the bound, or
 *     after writes of 1/8 of the bound (other processes write too),
 *     entries are listed and the least recently used (mtime, touched by
 *     every load) removed down to 3/4 of it; temporary files a crashed
 *     writer left go too;
 *   - a folder that cannot be created or written makes the engine
 *     memory-only, once, with one message (jit_disk_info_get), never an
 *     error and never a message per kernel;
 *   - kernels that embed a process address are never stored or loaded
 *     (dc_persistable).
 * Everything per engine runs under its compile_lock; the machine part of
 * the key is process state, computed once.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* dl_iterate_phdr, dladdr, O_NOFOLLOW; llvm-config may define it too */
#endif
#include "jit/internal.h"

#include <llvm-c/Core.h>
#include <llvm-c/TargetMachine.h>

#include <dirent.h>
#include <dlfcn.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <link.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

enum {
    DC_FORMAT = 1,
    DC_HEADER = 24,              /* magic 8, version 4, key length 4, body length 8 */
    DC_MAX_FILE = 64 << 20,      /* larger is not ours */
    DC_DEFAULT_MB = 256,
    DC_MACHINE_MAX = 8192,
    DC_TEMP_AGE_S = 600,         /* a temporary file this old was left by a crash */
};
static const char dc_magic[8] = {'k', 'i', 'l', 'n', 'k', 'o', 'b', 'j'};
static const char dc_entry_ext[] = ".kobj", dc_calib_ext[] = ".kcal", dc_temp_prefix[] = ".tmp-";

/* ---- the machine part of the key (process-wide, once) --------------------- */

static pthread_once_t dc_once = PTHREAD_ONCE_INIT;
static char dc_machine[DC_MACHINE_MAX]; /* "" if it could not be built */

struct dc_bid {
    uintptr_t addr;
    char hex[80];
};

/* The GNU build id of the loaded object that contains b->addr. */
static int dc_phdr(struct dl_phdr_info *info, size_t size, void *data)
{
    (void)size;
    struct dc_bid *b = data;
    bool mine = false;
    for (int i = 0; i < info->dlpi_phnum && !mine; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        uintptr_t lo = info->dlpi_addr + ph->p_vaddr;
        mine = ph->p_type == PT_LOAD && b->addr >= lo && b->addr < lo + ph->p_memsz;
    }
    if (!mine)
        return 0;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_NOTE)
            continue;
        const char *p = (const char *)(info->dlpi_addr + ph->p_vaddr), *end = p + ph->p_memsz;
        while (p + sizeof(ElfW(Nhdr)) <= end) {
            const ElfW(Nhdr) *n = (const ElfW(Nhdr) *)(const void *)p;
            const char *name = p + sizeof *n;
            const unsigned char *desc = (const unsigned char *)name + ((n->n_namesz + 3) & ~3u);
            if (n->n_type == NT_GNU_BUILD_ID && n->n_namesz == 4 && memcmp(name, "GNU", 4) == 0 &&
                (const char *)desc + n->n_descsz <= end) {
                size_t len = 0;
                for (unsigned k = 0; k < n->n_descsz && len + 3 < sizeof b->hex; k++)
                    len += (size_t)snprintf(b->hex + len, sizeof b->hex - len, "%02x", desc[k]);
                return 1;
            }
            p = (const char *)desc + ((n->n_descsz + 3) & ~3u);
        }
    }
    return 1;
}

/* kiln's build: the build id, else the binary's size and modification time
 * (a rebuilt kiln never reads another build's objects). */
static void dc_build_id(char *buf, size_t cap)
{
    struct dc_bid b = {(uintptr_t)(void *)dc_build_id, ""};
    dl_iterate_phdr(dc_phdr, &b);
    if (b.hex[0]) {
        snprintf(buf, cap, "build-id %s", b.hex);
        return;
    }
    Dl_info di;
    struct stat st;
    if (dladdr((void *)dc_build_id, &di) && di.dli_fname && stat(di.dli_fname, &st) == 0)
        snprintf(buf, cap, "binary %s %lld %lld.%09ld", di.dli_fname, (long long)st.st_size,
                 (long long)st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
    else
        buf[0] = '\0';
}

static void dc_machine_init(void)
{
    char bid[160];
    dc_build_id(bid, sizeof bid);
    if (!bid[0])
        return; /* no way to tell builds apart: never share objects */
    char *triple = LLVMGetDefaultTargetTriple();
    char *cpu = LLVMGetHostCPUName();
    char *features = LLVMGetHostCPUFeatures();
    int n = snprintf(dc_machine, sizeof dc_machine,
                     "kiln %s %s\ntriple %s\ncpu %s\nfeatures %s\n", KILN_VERSION_STRING, bid,
                     triple, cpu, features);
    if (n < 0 || (size_t)n >= sizeof dc_machine)
        dc_machine[0] = '\0'; /* a truncated key could match another machine's */
    LLVMDisposeMessage(triple);
    LLVMDisposeMessage(cpu);
    LLVMDisposeMessage(features);
}

static const char *dc_machine_key(void)
{
    pthread_once(&dc_once, dc_machine_init);
    return dc_machine;
}

/* ---- settings --------------------------------------------------------------- */

/* The default folder from the environment; false if there is none. */
static bool dc_default_dir(char *buf, size_t cap)
{
    const char *d = getenv("KILN_CACHE_DIR"), *xdg = getenv("XDG_CACHE_HOME"), *home;
    int n;
    if (d && d[0])
        n = snprintf(buf, cap, "%s", d);
    else if (xdg && xdg[0] == '/')
        n = snprintf(buf, cap, "%s/kiln", xdg);
    else if ((home = getenv("HOME")) && home[0])
        n = snprintf(buf, cap, "%s/.cache/kiln", home);
    else
        return false;
    return n > 0 && (size_t)n < cap;
}

/* what: "cannot create the folder", "cannot write in" (the folder follows). */
static void dc_degrade(jit_engine *j, const char *what, int err)
{
    jit_disk *d = &j->disk;
    if (d->degraded)
        return;
    d->degraded = true;
    snprintf(d->msg, sizeof d->msg, "memory only: %.30s %.300s: %.60s", what, d->dir,
             strerror(err));
}

void jit_disk_init(jit_engine *j)
{
    jit_disk *d = &j->disk;
    memset(d, 0, sizeof *d);
    d->max_bytes = (uint64_t)DC_DEFAULT_MB << 20;
    const char *mb = getenv("KILN_CACHE_MAX_MB"); /* a fraction is allowed: "0.5" */
    if (mb && mb[0]) {
        char *end;
        double v = strtod(mb, &end);
        if (*end == '\0' && v * 1048576.0 >= 1.0 && v < 1e9)
            d->max_bytes = (uint64_t)(v * 1048576.0);
    }
    const char *c = getenv("KILN_CACHE");
    bool off = c && (!strcmp(c, "off") || !strcmp(c, "0") || !strcmp(c, "no") ||
                     !strcmp(c, "false"));
    if (!dc_default_dir(d->dir, sizeof d->dir)) {
        d->dir[0] = '\0';
        if (!off)
            snprintf(d->msg, sizeof d->msg,
                     "off: no folder (KILN_CACHE_DIR, XDG_CACHE_HOME and HOME unset)");
        off = true;
    }
    d->on = !off;
}

void jit_disk_fini(jit_engine *j)
{
    rt_free(j->env, j->disk.key, j->disk.keylen);
    j->disk.key = NULL;
    j->disk.keylen = 0;
}

kiln_status jit_disk_set(jit_engine *j, bool on, const char *dir, char *why, size_t why_cap)
{
    char buf[JIT_DISK_DIR_MAX];
    if (on && dir && (!dir[0] || strlen(dir) >= sizeof buf)) {
        snprintf(why, why_cap, "disk cache folder name is empty or longer than %d bytes",
                 JIT_DISK_DIR_MAX - 1);
        return KILN_EINVAL;
    }
    if (on && !dir && !dc_default_dir(buf, sizeof buf)) {
        snprintf(why, why_cap, "no disk cache folder: KILN_CACHE_DIR, XDG_CACHE_HOME and HOME "
                               "are unset");
        return KILN_EINVAL;
    }
    pthread_mutex_lock(&j->compile_lock);
    jit_disk *d = &j->disk;
    d->on = on;
    if (on)
        snprintf(d->dir, sizeof d->dir, "%s", dir ? dir : buf);
    d->degraded = d->dir_made = d->bound_checked = false;
    d->msg[0] = '\0';
    d->since_check = 0;
    pthread_mutex_unlock(&j->compile_lock);
    return KILN_OK;
}

/* ---- which kernels, and their keys ---------------------------------------- */

/* Whether k's code is valid in another process. A kernel that calls a
 * user-defined function has its address compiled in (issue 4's UDF op):
 * it must never be stored or loaded. */
static bool dc_persistable(const gr_kernel *k) { return !gr_kernel_has_udf(k); }

/* The host part of the key (machine + this engine's code generation).
 * Caller holds compile_lock, after jit_start. -1: the disk stays unused. */
static int dc_build_key(jit_engine *j)
{
    const char *m = dc_machine_key();
    if (!m[0])
        return -1;
    unsigned maj, min, pat;
    LLVMGetVersion(&maj, &min, &pat);
    char cg[512];
    int n = snprintf(cg, sizeof cg,
                     "format %d\nllvm %u.%u.%u\npipeline %s interleave %d unroll %d slp %d "
                     "codegen %d reloc default code-model jit-default object\n"
                     "veclib %s %c%c%c\nhelpers",
                     DC_FORMAT, maj, min, pat, j->opt.pipeline, j->opt.interleave, j->opt.unroll,
                     j->opt.slp, j->opt.codegen_level,
                     j->target.vabi_128 | j->target.vabi_256 | j->target.vabi_512 ? "LIBMVEC-X86"
                                                                                     : "none",
                     j->target.vabi_128 ? j->target.vabi_128 : '-',
                     j->target.vabi_256 ? j->target.vabi_256 : '-',
                     j->target.vabi_512 ? j->target.vabi_512 : '-');
    for (int i = 0; i < jit_nhelpers && n > 0 && (size_t)n < sizeof cg; i++)
        n += snprintf(cg + n, sizeof cg - (size_t)n, " %s", jit_helpers[i].name);
    if (n < 0 || (size_t)n + 2 >= sizeof cg)
        return -1;
    cg[n++] = '\n';
    cg[n] = '\0';
    size_t ml = strlen(m), len = ml + (size_t)n + 1; /* + a NUL before the signature */
    char *key = rt_malloc(j->env, len);
    if (!key)
        return -1;
    memcpy(key, m, ml);
    memcpy(key + ml, cg, (size_t)n + 1);
    j->disk.key = key;
    j->disk.keylen = len;
    return 0;
}

static uint64_t dc_hash2(const void *a, size_t alen, const void *b, size_t blen)
{
    uint64_t h = gr_sig_hash(a, alen);
    return gr_sig_hash(b, blen) ^ (h * UINT64_C(0x9e3779b97f4a7c15) + (h >> 29));
}

bool jit_disk_prepare(jit_engine *j, const gr_kernel *k, const uint8_t *sig, size_t siglen,
                      jit_disk_key *dk)
{
    jit_disk *d = &j->disk;
    if (!d->on || !dc_persistable(k))
        return false;
    if (!d->key && dc_build_key(j) != 0)
        return false;
    dk->sig = sig;
    dk->siglen = siglen;
    dk->hash = dc_hash2(d->key, d->keylen, sig, siglen);
    snprintf(dk->sym, sizeof dk->sym, "kd_%016" PRIx64, dk->hash);
    return true;
}

/* ---- entry files ------------------------------------------------------------
 * One format for kernels (key = host part + signature, body = object) and
 * the calibration (key = machine part + thread count, body = 4 values). */

static void dc_path(const jit_disk *d, uint64_t hash, const char *ext, char *buf, size_t cap)
{
    snprintf(buf, cap, "%s/%016" PRIx64 "%s", d->dir, hash, ext);
}

/* Reads and verifies the entry at path against key (k1 then k2). Returns
 * the whole file (rt_malloc'd, *size bytes) with *body, *blen inside it, or
 * NULL: *rejected says whether a file was there but is not a valid entry
 * for this key. */
static uint8_t *dc_read(jit_engine *j, const char *path, const void *k1, size_t l1,
                        const void *k2, size_t l2, size_t *size, const uint8_t **body,
                        size_t *blen, bool *rejected)
{
    *rejected = false;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) {
        *rejected = errno != ENOENT && errno != EACCES && errno != ENOTDIR;
        return NULL;
    }
    struct stat st;
    uint8_t *buf = NULL;
    size_t n = 0, klen = l1 + l2;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_uid != geteuid() ||
        st.st_size < (off_t)(DC_HEADER + klen + 8) || st.st_size > DC_MAX_FILE)
        goto bad;
    n = (size_t)st.st_size;
    if (!(buf = rt_malloc(j->env, n))) {
        close(fd);
        return NULL; /* out of memory: a miss, not the file's fault */
    }
    for (size_t got = 0; got < n;) {
        ssize_t r = read(fd, buf + got, n - got);
        if (r <= 0)
            goto bad;
        got += (size_t)r;
    }
    uint32_t ver, kl;
    uint64_t bl, sum;
    memcpy(&ver, buf + 8, 4);
    memcpy(&kl, buf + 12, 4);
    memcpy(&bl, buf + 16, 8);
    memcpy(&sum, buf + n - 8, 8);
    if (memcmp(buf, dc_magic, 8) != 0 || ver != DC_FORMAT || kl != klen ||
        bl != n - DC_HEADER - klen - 8 || memcmp(buf + DC_HEADER, k1, l1) != 0 ||
        memcmp(buf + DC_HEADER + l1, k2, l2) != 0 || gr_sig_hash(buf, n - 8) != sum)
        goto bad;
    futimens(fd, NULL); /* most recently used (mtime: atime may not be kept) */
    close(fd);
    *size = n;
    *body = buf + DC_HEADER + klen;
    *blen = (size_t)bl;
    return buf;
bad:
    close(fd);
    rt_free(j->env, buf, n);
    *rejected = true;
    return NULL;
}

/* Writes an entry: a temporary file in the folder, renamed to path. The
 * first failure makes the engine memory-only. Returns the bytes written. */
static size_t dc_write(jit_engine *j, const char *path, const void *k1, size_t l1,
                       const void *k2, size_t l2, const void *body, size_t blen)
{
    jit_disk *d = &j->disk;
    if (d->degraded)
        return 0;
    if (!d->dir_made) {
        if (jit_mkdirs(d->dir, 0700) != 0) {
            dc_degrade(j, "cannot create the folder", errno);
            return 0;
        }
        d->dir_made = true;
    }
    size_t klen = l1 + l2, n = DC_HEADER + klen + blen + 8;
    uint8_t *buf = rt_malloc(j->env, n);
    if (!buf)
        return 0;
    uint32_t ver = DC_FORMAT, kl = (uint32_t)klen;
    uint64_t bl = blen;
    memcpy(buf, dc_magic, 8);
    memcpy(buf + 8, &ver, 4);
    memcpy(buf + 12, &kl, 4);
    memcpy(buf + 16, &bl, 8);
    memcpy(buf + DC_HEADER, k1, l1);
    memcpy(buf + DC_HEADER + l1, k2, l2);
    memcpy(buf + DC_HEADER + klen, body, blen);
    uint64_t sum = gr_sig_hash(buf, n - 8);
    memcpy(buf + n - 8, &sum, 8);

    char tmp[JIT_DISK_DIR_MAX + 64];
    snprintf(tmp, sizeof tmp, "%s/%s%ld-%lx-%u", d->dir, dc_temp_prefix, (long)getpid(),
             (unsigned long)(uintptr_t)j, d->tmp_serial++);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
        dc_degrade(j, "cannot write in", errno);
        rt_free(j->env, buf, n);
        return 0;
    }
    int err = 0;
    for (size_t put = 0; put < n && !err;) {
        ssize_t w = write(fd, buf + put, n - put);
        if (w <= 0)
            err = w < 0 ? errno : EIO;
        else
            put += (size_t)w;
    }
    if (close(fd) != 0 && !err)
        err = errno;
    if (!err && rename(tmp, path) != 0)
        err = errno;
    rt_free(j->env, buf, n);
    if (err) {
        unlink(tmp);
        dc_degrade(j, "cannot write in", err);
        return 0;
    }
    return n;
}

/* ---- the bound --------------------------------------------------------------- */

typedef struct dc_file {
    int64_t mtime_ns;
    uint64_t size;
    char name[32];
} dc_file;

static int dc_cmp_age(const void *a, const void *b)
{
    const dc_file *x = a, *y = b;
    return x->mtime_ns < y->mtime_ns ? -1 : x->mtime_ns > y->mtime_ns;
}

static bool dc_has_suffix(const char *s, const char *suf)
{
    size_t n = strlen(s), m = strlen(suf);
    return n >= m && memcmp(s + n - m, suf, m) == 0;
}

/* Lists the folder: entries (and their bytes) into *list when list is not
 * NULL, stale temporary files removed when clean. -1 if it cannot be read. */
static int dc_scan(jit_engine *j, const char *dir, dc_file **list, size_t *cap, size_t *count,
                   uint64_t *bytes, uint64_t *temps, bool clean)
{
    DIR *dp = opendir(dir);
    if (!dp)
        return -1;
    *count = 0;
    *bytes = *temps = 0;
    time_t now = time(NULL);
    struct dirent *de;
    while ((de = readdir(dp))) {
        struct stat st;
        bool temp = strncmp(de->d_name, dc_temp_prefix, sizeof dc_temp_prefix - 1) == 0;
        if (!temp && !dc_has_suffix(de->d_name, dc_entry_ext))
            continue;
        if (fstatat(dirfd(dp), de->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(st.st_mode))
            continue;
        if (temp) {
            if (clean && now - st.st_mtime > DC_TEMP_AGE_S)
                unlinkat(dirfd(dp), de->d_name, 0);
            else
                (*temps)++;
            continue;
        }
        *bytes += (uint64_t)st.st_size;
        if (list && strlen(de->d_name) < sizeof(*list)->name) {
            if (*count == *cap) {
                size_t ncap = *cap ? 2 * *cap : 256;
                dc_file *nl = rt_malloc(j->env, ncap * sizeof *nl);
                if (!nl)
                    continue;
                if (*cap)
                    memcpy(nl, *list, *cap * sizeof *nl);
                rt_free(j->env, *list, *cap * sizeof *nl);
                *list = nl;
                *cap = ncap;
            }
            dc_file *f = &(*list)[*count];
            f->mtime_ns = (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
            f->size = (uint64_t)st.st_size;
            memcpy(f->name, de->d_name, strlen(de->d_name) + 1); /* fits: checked above */
        }
        (*count)++;
    }
    closedir(dp);
    return 0;
}

/* Removes the least recently used entries while the folder holds more
 * than the bound, down to 3/4 of it. */
static void dc_bound(jit_engine *j)
{
    jit_disk *d = &j->disk;
    dc_file *list = NULL;
    size_t cap = 0, count = 0;
    uint64_t bytes, temps;
    d->since_check = 0;
    if (dc_scan(j, d->dir, &list, &cap, &count, &bytes, &temps, true) != 0)
        return;
    if (bytes > d->max_bytes && list) {
        qsort(list, count, sizeof *list, dc_cmp_age);
        char path[JIT_DISK_DIR_MAX + 64];
        for (size_t i = 0; i < count && bytes > d->max_bytes / 4 * 3; i++) {
            snprintf(path, sizeof path, "%s/%s", d->dir, list[i].name);
            if (unlink(path) == 0 || errno == ENOENT)
                bytes -= list[i].size;
        }
    }
    d->est_bytes = bytes;
    rt_free(j->env, list, cap * sizeof *list);
}

/* ---- kernels ----------------------------------------------------------------- */

LLVMMemoryBufferRef jit_disk_load(jit_engine *j, const jit_disk_key *dk)
{
    jit_disk *d = &j->disk;
    char path[JIT_DISK_DIR_MAX + 64];
    dc_path(d, dk->hash, dc_entry_ext, path, sizeof path);
    size_t n, blen;
    const uint8_t *body;
    bool rejected;
    uint8_t *buf = dc_read(j, path, d->key, d->keylen, dk->sig, dk->siglen, &n, &body, &blen,
                           &rejected);
    if (!buf) {
        if (rejected)
            jit_count(j, KILN_COUNTER_DISK_REJECTS, 1); /* the compile replaces it */
        return NULL;
    }
    LLVMMemoryBufferRef mb =
        LLVMCreateMemoryBufferWithMemoryRangeCopy((const char *)body, blen, dk->sym);
    rt_free(j->env, buf, n);
    return mb;
}

void jit_disk_reject(jit_engine *j, const jit_disk_key *dk)
{
    (void)dk;
    jit_count(j, KILN_COUNTER_DISK_REJECTS, 1);
}

void jit_disk_store(jit_engine *j, const jit_disk_key *dk, const void *obj, size_t len)
{
    jit_disk *d = &j->disk;
    char path[JIT_DISK_DIR_MAX + 64];
    dc_path(d, dk->hash, dc_entry_ext, path, sizeof path);
    size_t n = dc_write(j, path, d->key, d->keylen, dk->sig, dk->siglen, obj, len);
    if (!n)
        return;
    jit_count(j, KILN_COUNTER_DISK_WRITES, 1);
    /* the first store of an engine checks the bound; then whenever what was
     * written since could have passed it */
    d->since_check += n;
    d->est_bytes += n;
    if (!d->bound_checked || d->est_bytes > d->max_bytes || d->since_check >= d->max_bytes / 8) {
        d->bound_checked = true;
        dc_bound(j);
    }
}

/* ---- the calibration -------------------------------------------------------- */

static bool dc_calib_path(jit_engine *j, int threads, char *tkey, size_t tcap, char *path,
                          size_t pcap)
{
    if (!j->disk.on)
        return false;
    const char *m = dc_machine_key();
    if (!m[0])
        return false;
    snprintf(tkey, tcap, "calibration threads %d\n", threads);
    dc_path(&j->disk, dc_hash2(m, strlen(m), tkey, strlen(tkey)), dc_calib_ext, path, pcap);
    return true;
}

bool jit_disk_calib_load(jit_engine *j, int threads, uint64_t v[4])
{
    char tkey[64], path[JIT_DISK_DIR_MAX + 64];
    pthread_mutex_lock(&j->compile_lock);
    bool ok = false;
    if (dc_calib_path(j, threads, tkey, sizeof tkey, path, sizeof path)) {
        const char *m = dc_machine_key();
        size_t n, blen;
        const uint8_t *body;
        bool rejected;
        uint8_t *buf = dc_read(j, path, m, strlen(m), tkey, strlen(tkey), &n, &body, &blen,
                               &rejected);
        if (buf && blen == 4 * sizeof *v) {
            memcpy(v, body, 4 * sizeof *v);
            ok = v[0] && v[1] && v[2] && v[3];
        }
        rt_free(j->env, buf, buf ? n : 0);
    }
    pthread_mutex_unlock(&j->compile_lock);
    return ok;
}

void jit_disk_calib_store(jit_engine *j, int threads, const uint64_t v[4])
{
    char tkey[64], path[JIT_DISK_DIR_MAX + 64];
    pthread_mutex_lock(&j->compile_lock);
    if (dc_calib_path(j, threads, tkey, sizeof tkey, path, sizeof path)) {
        const char *m = dc_machine_key();
        dc_write(j, path, m, strlen(m), tkey, strlen(tkey), v, 4 * sizeof *v);
    }
    pthread_mutex_unlock(&j->compile_lock);
}

/* ---- the folder as a whole ------------------------------------------------- */

void jit_disk_info_get(jit_engine *j, jit_disk_info *out)
{
    memset(out, 0, sizeof *out);
    if (!j)
        return;
    pthread_mutex_lock(&j->compile_lock);
    out->on = j->disk.on;
    out->degraded = j->disk.degraded;
    out->max_bytes = j->disk.max_bytes;
    snprintf(out->dir, sizeof out->dir, "%s", j->disk.dir);
    snprintf(out->msg, sizeof out->msg, "%s", j->disk.msg);
    pthread_mutex_unlock(&j->compile_lock);
    size_t cap = 0, count = 0;
    if (out->dir[0] &&
        dc_scan(j, out->dir, NULL, &cap, &count, &out->bytes, &out->temps, false) == 0)
        out->entries = count;
}

long jit_disk_clear(jit_engine *j)
{
    char dir[JIT_DISK_DIR_MAX];
    pthread_mutex_lock(&j->compile_lock);
    snprintf(dir, sizeof dir, "%s", j->disk.dir);
    pthread_mutex_unlock(&j->compile_lock);
    DIR *dp = dir[0] ? opendir(dir) : NULL;
    if (!dp) {
        if (!dir[0])
            errno = ENOENT;
        return -1;
    }
    long removed = 0;
    struct dirent *de;
    while ((de = readdir(dp))) {
        if (!dc_has_suffix(de->d_name, dc_entry_ext) && !dc_has_suffix(de->d_name, dc_calib_ext) &&
            strncmp(de->d_name, dc_temp_prefix, sizeof dc_temp_prefix - 1) != 0)
            continue;
        if (unlinkat(dirfd(dp), de->d_name, 0) == 0)
            removed++;
    }
    closedir(dp);
    return removed;
}
