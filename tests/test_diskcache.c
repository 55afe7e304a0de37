/*
 * tests/test_diskcache.c — the persistent kernel cache (jit/diskcache.c):
 * a cold process compiles and stores, a warm one loads and compiles
 * nothing (child processes of this binary, counters printed back); every
 * byte range of an entry corrupted, truncated or swapped for a foreign
 * file is rejected, never run, and replaced; two processes filling one
 * folder at once; KILN_CACHE=off writes nothing; an unwritable folder is
 * memory-only with one message; the size bound removes the least recently
 * used entries; kernels calling a user-defined function (an address
 * compiled in) are never stored or loaded; the thread calibration is kept
 * beside the kernels.
 *
 * Each test works in its own folder under $TMPDIR (never ~/.cache) and
 * removes it. ctest runs every other test with KILN_CACHE=off.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* mkdtemp, open_memstream, utimensat, setenv */
#endif
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "frontend/fe.h"
#include "jit/jit.h"
#include "testutil.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static const char *const g_exprs[] = {
    "2*x + 1",
    "((((x+1)*2-3)/4+x)*x - 0.5*x)/(1+x*x)",
    "where(x > y, x, 0.01*y)",
    "sqrt(abs(x - y))",
    "x[::2]*3 - y[::2]",
    "sum(x*y)",
    "cumsum(x)",
    "maximum(x, y) / (1 + minimum(x, y))",
};
enum { NEXPR = sizeof g_exprs / sizeof g_exprs[0], N = 3000 };

/* ---- helpers ----------------------------------------------------------------- */

static char g_self[4096];

/* Folders a test made: removed by its teardown, even when it fails. */
static char g_dirs[4][4096];
static int g_ndirs;

static void make_dir(char *buf, size_t cap)
{
    const char *t = getenv("TMPDIR");
    snprintf(buf, cap, "%s/kiln-dc-XXXXXX", t && t[0] ? t : "/tmp");
    assert_non_null(mkdtemp(buf));
    if (g_ndirs < 4)
        snprintf(g_dirs[g_ndirs++], sizeof g_dirs[0], "%s", buf);
}

static void remove_tree(const char *dir)
{
    DIR *dp = opendir(dir);
    if (!dp)
        return;
    struct dirent *de;
    char p[4096];
    while ((de = readdir(dp))) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
            continue;
        snprintf(p, sizeof p, "%s/%s", dir, de->d_name);
        struct stat st;
        if (lstat(p, &st) == 0 && S_ISDIR(st.st_mode))
            remove_tree(p);
        else
            unlink(p);
    }
    closedir(dp);
    rmdir(dir);
}

static int teardown(void **state)
{
    (void)state;
    while (g_ndirs > 0) {
        const char *d = g_dirs[--g_ndirs];
        chmod(d, 0700);
        remove_tree(d);
    }
    unsetenv("KILN_CACHE_MAX_MB");
    return 0;
}

/* Entries (*.kobj) in dir, their total bytes in *bytes; names[] if given. */
static int list_entries(const char *dir, uint64_t *bytes, char names[][64], int cap)
{
    DIR *dp = opendir(dir);
    int n = 0;
    if (bytes)
        *bytes = 0;
    if (!dp)
        return 0;
    struct dirent *de;
    while ((de = readdir(dp))) {
        size_t l = strlen(de->d_name);
        if (l < 5 || strcmp(de->d_name + l - 5, ".kobj") != 0)
            continue;
        char p[4096];
        struct stat st;
        snprintf(p, sizeof p, "%s/%s", dir, de->d_name);
        if (stat(p, &st) == 0 && bytes)
            *bytes += (uint64_t)st.st_size;
        if (names && n < cap && l < 64)
            memcpy(names[n], de->d_name, l + 1);
        n++;
    }
    closedir(dp);
    return n;
}

static int count_files(const char *dir)
{
    DIR *dp = opendir(dir);
    int n = 0;
    if (!dp)
        return -1;
    struct dirent *de;
    while ((de = readdir(dp)))
        n += strcmp(de->d_name, ".") && strcmp(de->d_name, "..");
    closedir(dp);
    return n;
}

static void write_file(const char *path, const void *b, size_t n)
{
    assert_true(tu_write_file(path, b, n));
}

/* x, y of N float64 with values that make every expression finite. */
static void make_inputs(kiln_ctx *ctx, kiln_array **x, kiln_array **y)
{
    double *v = malloc(N * sizeof *v), *w = malloc(N * sizeof *w);
    for (int i = 0; i < N; i++) {
        v[i] = (i % 97) * 0.25 - 7.0;
        w[i] = (i % 13) * 1.5 - 4.0;
    }
    int64_t n = N;
    *x = tu_array(ctx, KILN_FLOAT64, 1, &n, v);
    *y = tu_array(ctx, KILN_FLOAT64, 1, &n, w);
    free(v);
    free(w);
}

/* Evaluates src fused (through the caches) and interpreted: 1 if both ran
 * and give the same bits (every op here is exactly rounded). */
static int eval_check(kiln_ctx *ctx, const char *src, kiln_array *x, kiln_array *y)
{
    const char *names[] = {"x", "y"};
    kiln_array *arrs[] = {x, y};
    kiln_expr e = kiln_parse(ctx, src, 2, names, arrs);
    kiln_array *a = NULL, *b = NULL;
    int ok = kiln_eval_many(ctx, KILN_MODE_FUSED, 1, &e, &a) == KILN_OK &&
             kiln_eval_many(ctx, KILN_MODE_INTERP, 1, &e, &b) == KILN_OK && tu_bits_equal(a, b);
    kiln_array_release(a);
    kiln_array_release(b);
    return ok;
}

/* A context whose disk cache is dir (the environment says off). */
static kiln_ctx *ctx_on(const char *dir)
{
    kiln_ctx *ctx = kiln_ctx_new(NULL);
    assert_non_null(ctx);
    assert_int_equal(kiln_ctx_set_disk_cache(ctx, 1, dir), KILN_OK);
    return ctx;
}

static uint64_t cnt(kiln_ctx *ctx, kiln_counter c) { return kiln_ctx_counter(ctx, c); }

/* ---- the child process ------------------------------------------------------
 * test_diskcache child [big]: evaluates g_exprs with the environment's
 * disk cache (KILN_CACHE_DIR), checks each against the interpreter, and
 * prints its counters on stdout; "big" also runs one evaluation large
 * enough to calibrate the launch policy on 2 threads. */

static int child_main(bool big)
{
    kiln_ctx *ctx = kiln_ctx_new(NULL);
    if (!ctx)
        return 2;
    kiln_ctx_set_threads(ctx, 2);
    bool calib_loaded = ctx->calib_loaded;
    kiln_array *x, *y;
    make_inputs(ctx, &x, &y);
    int bad = 0;
    for (int i = 0; i < NEXPR; i++)
        bad += !eval_check(ctx, g_exprs[i], x, y);
    if (big) {
        int64_t n = 1 << 21;
        kiln_array *z = NULL, *r = NULL;
        kiln_array_zeros(ctx, KILN_FLOAT64, 1, &n, KILN_ORDER_C, &z);
        kiln_expr e = kiln_add(kiln_multiply(kiln_input(ctx, z), kiln_f64(ctx, 2)),
                               kiln_f64(ctx, 1));
        bad += kiln_eval(e, &r) != KILN_OK;
        kiln_array_release(r);
        kiln_array_release(z);
    }
    printf("compiles=%llu hits=%llu writes=%llu rejects=%llu bad=%d calib=%d\n",
           (unsigned long long)cnt(ctx, KILN_COUNTER_COMPILES),
           (unsigned long long)cnt(ctx, KILN_COUNTER_DISK_HITS),
           (unsigned long long)cnt(ctx, KILN_COUNTER_DISK_WRITES),
           (unsigned long long)cnt(ctx, KILN_COUNTER_DISK_REJECTS), bad, calib_loaded);
    kiln_array_release(x);
    kiln_array_release(y);
    kiln_ctx_free(ctx);
    return 0;
}

typedef struct child_result {
    unsigned long long compiles, hits, writes, rejects;
    int bad, calib;
} child_result;

/* Starts this binary as a child on dir (cache setting `cache`: NULL =
 * unset), its stdout into a pipe; returns its pid, *fd the pipe. */
static pid_t child_start(const char *dir, const char *cache, bool big, int *fd)
{
    int p[2];
    assert_int_equal(pipe(p), 0);
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        dup2(p[1], 1);
        close(p[0]);
        close(p[1]);
        setenv("KILN_CACHE_DIR", dir, 1);
        if (cache)
            setenv("KILN_CACHE", cache, 1);
        else
            unsetenv("KILN_CACHE");
        execl(g_self, g_self, "child", big ? "big" : "", (char *)NULL);
        _exit(127);
    }
    close(p[1]);
    *fd = p[0];
    return pid;
}

static child_result child_wait(pid_t pid, int fd)
{
    char buf[512] = "";
    size_t got = 0;
    ssize_t r;
    while (got + 1 < sizeof buf && (r = read(fd, buf + got, sizeof buf - 1 - got)) > 0)
        got += (size_t)r;
    buf[got] = '\0';
    close(fd);
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    child_result c;
    memset(&c, 0, sizeof c);
    assert_int_equal(sscanf(buf, "compiles=%llu hits=%llu writes=%llu rejects=%llu bad=%d calib=%d",
                            &c.compiles, &c.hits, &c.writes, &c.rejects, &c.bad, &c.calib),
                     6);
    return c;
}

static child_result child_run(const char *dir, const char *cache, bool big)
{
    int fd;
    pid_t pid = child_start(dir, cache, big, &fd);
    return child_wait(pid, fd);
}

/* ---- tests ------------------------------------------------------------------- */

/* A cold process compiles and stores every kernel; a warm one loads them
 * all and compiles nothing, with the same results. */
static void test_cold_then_warm(void **state)
{
    (void)state;
    char dir[4096];
    make_dir(dir, sizeof dir);
    child_result cold = child_run(dir, NULL, false);
    assert_int_equal(cold.bad, 0);
    assert_true(cold.compiles >= NEXPR);
    assert_int_equal(cold.hits, 0);
    assert_int_equal(cold.writes, cold.compiles);
    assert_int_equal(cold.rejects, 0);
    assert_int_equal(list_entries(dir, NULL, NULL, 0), (int)cold.writes);

    child_result warm = child_run(dir, NULL, false);
    assert_int_equal(warm.bad, 0);
    assert_int_equal(warm.compiles, 0);
    assert_int_equal(warm.hits, cold.compiles);
    assert_int_equal(warm.writes, 0);
    assert_int_equal(warm.rejects, 0);

    /* in one process: each context has its own engine, so a second context
     * loads what the first stored */
    kiln_ctx *ctx = ctx_on(dir);
    kiln_array *x, *y;
    make_inputs(ctx, &x, &y);
    for (int i = 0; i < NEXPR; i++)
        assert_true(eval_check(ctx, g_exprs[i], x, y));
    assert_int_equal(cnt(ctx, KILN_COUNTER_COMPILES), 0);
    assert_int_equal(cnt(ctx, KILN_COUNTER_DISK_HITS), cold.compiles);
    kiln_array_release(x);
    kiln_array_release(y);
    kiln_ctx_free(ctx);
    remove_tree(dir);
}

/* One kernel's entry; returns its path and bytes. */
static uint8_t *one_entry(const char *dir, const char *src, char *path, size_t cap, size_t *n)
{
    kiln_ctx *ctx = ctx_on(dir);
    kiln_array *x, *y;
    make_inputs(ctx, &x, &y);
    assert_true(eval_check(ctx, src, x, y));
    assert_int_equal(cnt(ctx, KILN_COUNTER_DISK_WRITES), 1);
    kiln_array_release(x);
    kiln_array_release(y);
    kiln_ctx_free(ctx);
    char names[4][64];
    assert_int_equal(list_entries(dir, NULL, names, 4), 1);
    snprintf(path, cap, "%s/%s", dir, names[0]);
    uint8_t *b = tu_read_file(path, n);
    assert_non_null(b);
    return b;
}

/* Every damaged entry: rejected (counted), not run (the result is the
 * interpreter's and the kernel compiled), and replaced by a good one. */
static void test_corruption(void **state)
{
    (void)state;
    char dir[4096], path[4200], other_path[4200];
    make_dir(dir, sizeof dir);
    size_t n, on;
    uint8_t *good = one_entry(dir, "2*x + 1", path, sizeof path, &n);
    /* another kernel's valid entry: right format and checksum, wrong key */
    char dir2[4096];
    make_dir(dir2, sizeof dir2);
    uint8_t *other = one_entry(dir2, "x*3 - y", other_path, sizeof other_path, &on);
    uint32_t keylen;
    memcpy(&keylen, good + 12, 4);
    assert_true(n > 24 + keylen + 8 + 100);
    size_t body = 24 + keylen, mid_body = body + (n - body - 8) / 2;

    enum { FLIP, TRUNC, APPEND, OTHER, GARBAGE, EMPTY };
    struct {
        const char *what;
        int kind;
        size_t at;
    } cases[] = {
        {"magic", FLIP, 0},
        {"format version", FLIP, 8},
        {"key length", FLIP, 12},
        {"body length", FLIP, 16},
        {"key, first byte", FLIP, 24},
        {"key, middle", FLIP, 24 + keylen / 2},
        {"key, signature's last byte", FLIP, body - 1},
        {"body, first byte", FLIP, body},
        {"body, middle", FLIP, mid_body},
        {"body, last byte", FLIP, n - 9},
        {"checksum", FLIP, n - 8},
        {"checksum, last byte", FLIP, n - 1},
        {"truncated to the header", TRUNC, 24},
        {"truncated in the key", TRUNC, 24 + keylen / 2},
        {"truncated in the body", TRUNC, mid_body},
        {"truncated by one byte", TRUNC, n - 1},
        {"one byte appended", APPEND, 1},
        {"another kernel's valid entry", OTHER, 0},
        {"foreign bytes of the same size", GARBAGE, 0},
        {"empty file", EMPTY, 0},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        uint8_t *b = malloc(n + on + 1);
        size_t len = n;
        memcpy(b, good, n);
        switch (cases[c].kind) {
        case FLIP:
            b[cases[c].at] ^= 0x5a;
            break;
        case TRUNC:
            len = cases[c].at;
            break;
        case APPEND:
            b[len++] = 0;
            break;
        case OTHER:
            memcpy(b, other, on);
            len = on;
            break;
        case GARBAGE:
            for (size_t i = 0; i < n; i++)
                b[i] = (uint8_t)(i * 131 + 7);
            break;
        case EMPTY:
            len = 0;
            break;
        }
        write_file(path, b, len);
        free(b);

        kiln_ctx *ctx = ctx_on(dir);
        kiln_array *x, *y;
        make_inputs(ctx, &x, &y);
        if (!eval_check(ctx, "2*x + 1", x, y))
            fail_msg("%s: wrong result", cases[c].what);
        if (cnt(ctx, KILN_COUNTER_DISK_REJECTS) != 1 || cnt(ctx, KILN_COUNTER_DISK_HITS) != 0 ||
            cnt(ctx, KILN_COUNTER_COMPILES) != 1 || cnt(ctx, KILN_COUNTER_DISK_WRITES) != 1)
            fail_msg("%s: rejects %llu hits %llu compiles %llu writes %llu", cases[c].what,
                     (unsigned long long)cnt(ctx, KILN_COUNTER_DISK_REJECTS),
                     (unsigned long long)cnt(ctx, KILN_COUNTER_DISK_HITS),
                     (unsigned long long)cnt(ctx, KILN_COUNTER_COMPILES),
                     (unsigned long long)cnt(ctx, KILN_COUNTER_DISK_WRITES));
        kiln_array_release(x);
        kiln_array_release(y);
        kiln_ctx_free(ctx);
        /* replaced by the same good entry */
        size_t rn;
        uint8_t *r = tu_read_file(path, &rn);
        assert_non_null(r);
        if (rn != n || memcmp(r, good, n) != 0)
            fail_msg("%s: the entry was not replaced by a good one", cases[c].what);
        free(r);
    }
    /* and the replaced entry loads */
    kiln_ctx *ctx = ctx_on(dir);
    kiln_array *x, *y;
    make_inputs(ctx, &x, &y);
    assert_true(eval_check(ctx, "2*x + 1", x, y));
    assert_int_equal(cnt(ctx, KILN_COUNTER_DISK_HITS), 1);
    assert_int_equal(cnt(ctx, KILN_COUNTER_COMPILES), 0);
    kiln_array_release(x);
    kiln_array_release(y);
    kiln_ctx_free(ctx);
    free(good);
    free(other);
    remove_tree(dir);
    remove_tree(dir2);
}

/* Two processes fill one folder at once (several rounds, each on a fresh
 * folder): both correct, and the folder they leave loads cleanly. */
static void test_concurrent_processes(void **state)
{
    (void)state;
    for (int round = 0; round < 3; round++) {
        char dir[4096];
        make_dir(dir, sizeof dir);
        int fa, fb;
        pid_t a = child_start(dir, NULL, false, &fa);
        pid_t b = child_start(dir, NULL, false, &fb);
        child_result ra = child_wait(a, fa), rb = child_wait(b, fb);
        assert_int_equal(ra.bad, 0);
        assert_int_equal(rb.bad, 0);
        assert_int_equal(ra.rejects + rb.rejects, 0);
        assert_int_equal(ra.compiles + ra.hits, rb.compiles + rb.hits);
        child_result warm = child_run(dir, NULL, false);
        assert_int_equal(warm.bad, 0);
        assert_int_equal(warm.compiles, 0);
        assert_int_equal(warm.rejects, 0);
        assert_int_equal(warm.hits, ra.compiles + ra.hits);
        /* no temporary file left behind */
        assert_int_equal(count_files(dir), list_entries(dir, NULL, NULL, 0));
        remove_tree(dir);
    }
}

/* KILN_CACHE=off: nothing is written, not even the folder. */
static void test_off_writes_nothing(void **state)
{
    (void)state;
    char dir[4096], sub[4200];
    make_dir(dir, sizeof dir);
    snprintf(sub, sizeof sub, "%s/cache", dir);
    child_result r = child_run(sub, "off", true);
    assert_int_equal(r.bad, 0);
    assert_true(r.compiles >= NEXPR);
    assert_int_equal(r.hits + r.writes + r.rejects, 0);
    struct stat st;
    assert_int_equal(stat(sub, &st), -1);
    /* the API switch too */
    kiln_ctx *ctx = ctx_on(sub);
    assert_int_equal(kiln_ctx_set_disk_cache(ctx, 0, NULL), KILN_OK);
    kiln_array *x, *y;
    make_inputs(ctx, &x, &y);
    assert_true(eval_check(ctx, "2*x + 1", x, y));
    assert_int_equal(cnt(ctx, KILN_COUNTER_DISK_WRITES), 0);
    assert_int_equal(stat(sub, &st), -1);
    kiln_array_release(x);
    kiln_array_release(y);
    kiln_ctx_free(ctx);
    remove_tree(dir);
}

/* A folder that cannot be made or written: memory only, one message in the
 * cache report and the stats, no error, results right. */
static void check_memory_only(const char *cdir)
{
    kiln_ctx *ctx = ctx_on(cdir);
    kiln_array *x, *y;
    make_inputs(ctx, &x, &y);
    for (int i = 0; i < NEXPR; i++)
        assert_true(eval_check(ctx, g_exprs[i], x, y));
    assert_int_equal(kiln_errcode(ctx), KILN_OK);
    assert_int_equal(cnt(ctx, KILN_COUNTER_DISK_WRITES), 0);
    assert_true(cnt(ctx, KILN_COUNTER_COMPILES) >= NEXPR);
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    assert_int_equal(kiln_ctx_print_cache(ctx, f), KILN_OK);
    assert_int_equal(kiln_ctx_print_stats(ctx, f), KILN_OK);
    fclose(f);
    const char *m = strstr(text, "memory only");
    if (!m)
        fail_msg("no 'memory only' in:\n%s", text);
    m = strstr(m + 1, "memory only");
    assert_non_null(m); /* once in each report ... */
    assert_null(strstr(m + 1, "memory only")); /* ... and no more */
    free(text);
    kiln_array_release(x);
    kiln_array_release(y);
    kiln_ctx_free(ctx);
}

static void test_unwritable(void **state)
{
    (void)state;
    char dir[4096], file[4200], below[4300];
    make_dir(dir, sizeof dir);
    snprintf(file, sizeof file, "%s/a-file", dir);
    write_file(file, "x", 1);
    snprintf(below, sizeof below, "%s/cache", file); /* under a regular file */
    check_memory_only(below);
    if (geteuid() != 0) { /* root writes anywhere */
        char ro[4200];
        snprintf(ro, sizeof ro, "%s/read-only", dir);
        assert_int_equal(mkdir(ro, 0500), 0);
        check_memory_only(ro);
        chmod(ro, 0700);
    }
    remove_tree(dir);
}

static const char *const g_many[] = {
    "x + y",      "x - y",      "x * y",        "x / y",           "sqrt(x)",    "abs(x)",
    "floor(x)",   "ceil(x)",    "-x",           "trunc(x)",        "rint(x)",    "x*x + y",
    "x*y - x",    "maximum(x, y)", "minimum(x, y)", "x / (y + x)", "abs(x - y)", "sqrt(x*y)",
    "floor(x/y)", "ceil(x - y)", "x*x*x",       "fmax(x, y)",      "fmin(x, y)", "y - x*y",
};
enum { NMANY = sizeof g_many / sizeof g_many[0] };

static void eval_many_in(kiln_ctx *ctx, int from, int to)
{
    kiln_array *x, *y;
    make_inputs(ctx, &x, &y);
    for (int i = from; i < to; i++)
        assert_true(eval_check(ctx, g_many[i], x, y));
    kiln_array_release(x);
    kiln_array_release(y);
}

static bool exists_in(const char *dir, const char *name)
{
    char p[4200];
    struct stat st;
    snprintf(p, sizeof p, "%s/%s", dir, name);
    return stat(p, &st) == 0;
}

/* The bound: past it the least recently used entries go (a load counts as
 * a use), down below the bound. */
static void test_size_bound_lru(void **state)
{
    (void)state;
    char dir[4096];
    make_dir(dir, sizeof dir);
    setenv("KILN_CACHE_MAX_MB", "0.02", 1); /* 20971 bytes: ~8 small kernels */
    const uint64_t bound = (uint64_t)(0.02 * 1048576.0);
    char file[NMANY][64]; /* g_many[i]'s entry */
    kiln_ctx *ctx = ctx_on(dir);
    for (int i = 0; i < NMANY; i++) {
        char before[64][64], after[64][64];
        int nb = list_entries(dir, NULL, before, 64);
        eval_many_in(ctx, i, i + 1);
        int na = list_entries(dir, NULL, after, 64);
        file[i][0] = '\0';
        for (int a = 0; a < na; a++) {
            bool old = false;
            for (int b = 0; b < nb && !old; b++)
                old = !strcmp(after[a], before[b]);
            if (!old)
                memcpy(file[i], after[a], sizeof file[i]);
        }
        assert_true(file[i][0] != '\0');
        if (i == 13)
            break;
    }
    assert_int_equal(cnt(ctx, KILN_COUNTER_DISK_WRITES), 14);
    kiln_ctx_free(ctx);
    uint64_t bytes;
    int n = list_entries(dir, &bytes, NULL, 0);
    assert_true(n < 14); /* entries went */
    assert_true(bytes <= bound);
    assert_true(exists_in(dir, file[13])); /* the newest stays */

    /* survivors get distinct ages in the past, older for smaller i */
    int surv[14], ns = 0;
    time_t now = time(NULL);
    for (int i = 0; i < 14; i++) {
        if (!exists_in(dir, file[i]))
            continue;
        char p[4200];
        snprintf(p, sizeof p, "%s/%s", dir, file[i]);
        struct timespec t[2] = {{now - 1000 + i, 0}, {now - 1000 + i, 0}};
        assert_int_equal(utimensat(AT_FDCWD, p, t, 0), 0);
        surv[ns++] = i;
    }
    assert_true(ns >= 3);
    /* the oldest survivor is used (loaded): now the most recent */
    ctx = ctx_on(dir);
    eval_many_in(ctx, surv[0], surv[0] + 1);
    assert_int_equal(cnt(ctx, KILN_COUNTER_DISK_HITS), 1);
    kiln_ctx_free(ctx);

    /* new kernels until a survivor goes */
    ctx = ctx_on(dir);
    int k = 14, gone = 0;
    for (; k < NMANY && !gone; k++) {
        eval_many_in(ctx, k, k + 1);
        for (int s = 0; s < ns; s++)
            gone += !exists_in(dir, file[surv[s]]);
    }
    kiln_ctx_free(ctx);
    assert_true(gone > 0);
    list_entries(dir, &bytes, NULL, 0);
    assert_true(bytes <= bound);
    /* least recently used first: the used one stays, and the survivors
     * removed are exactly the oldest of the others */
    assert_true(exists_in(dir, file[surv[0]]));
    bool kept_seen = false;
    for (int s = 1; s < ns; s++) {
        bool kept = exists_in(dir, file[surv[s]]);
        if (kept)
            kept_seen = true;
        else if (kept_seen)
            fail_msg("entry %d removed although an older one (%d) stays", surv[s], surv[s - 1]);
    }
    unsetenv("KILN_CACHE_MAX_MB");
    remove_tree(dir);
}

/* The calibration round-trips through the folder, keyed by thread count;
 * a process that measured it leaves it for the next (when its measurement
 * was undisturbed). */
static void test_calibration(void **state)
{
    (void)state;
    char dir[4096];
    make_dir(dir, sizeof dir);
    kiln_ctx *ctx = ctx_on(dir);
    uint64_t v[4] = {4000, 4300, 55000, 3000}, w[4];
    jit_disk_calib_store(ctx->jit, 2, v);
    assert_true(jit_disk_calib_load(ctx->jit, 2, w));
    assert_memory_equal(v, w, sizeof v);
    assert_false(jit_disk_calib_load(ctx->jit, 3, w));
    kiln_ctx_free(ctx);

    ctx = kiln_ctx_new(NULL);
    kiln_ctx_set_threads(ctx, 2);
    assert_false(ctx->calib_loaded); /* KILN_CACHE=off here */
    assert_int_equal(kiln_ctx_set_disk_cache(ctx, 1, dir), KILN_OK);
    assert_true(ctx->calib_loaded);
    assert_int_equal(atomic_load(&ctx->par.wake_ns), 55000);
    assert_int_equal(atomic_load(&ctx->par.post_ns), 3000);
    assert_true(atomic_load(&ctx->par.min_cost) > 0);
    kiln_ctx_set_threads(ctx, 3);
    assert_false(ctx->calib_loaded);
    kiln_ctx_free(ctx);

    /* processes: a measurement stored by one is loaded by the next */
    assert_int_equal(kiln_ctx_clear_cache(ctx = ctx_on(dir), NULL), KILN_OK);
    kiln_ctx_free(ctx);
    child_result a = child_run(dir, NULL, true);
    assert_int_equal(a.bad, 0);
    assert_int_equal(a.calib, 0);
    DIR *dp = opendir(dir);
    struct dirent *de;
    bool stored = false;
    while (dp && (de = readdir(dp)))
        stored |= strstr(de->d_name, ".kcal") != NULL;
    if (dp)
        closedir(dp);
    child_result b = child_run(dir, NULL, true);
    assert_int_equal(b.bad, 0);
    if (stored)
        assert_int_equal(b.calib, 1);
    else
        print_message("calibration disturbed by the machine's load: not stored, not checked\n");
    remove_tree(dir);
}

/* A kernel calling a user-defined function has the function's address
 * compiled in: it is never stored or loaded (each process compiles it),
 * while the other kernels of the same process still are. */
static double udf_twice_plus(double a, double b) { return 2 * a + b; }

static void test_udf_not_persisted(void **state)
{
    (void)state;
    char dir[4096];
    make_dir(dir, sizeof dir);
    for (int round = 0; round < 2; round++) {
        kiln_ctx *ctx = ctx_on(dir);
        const kiln_dtype args[] = {KILN_FLOAT64, KILN_FLOAT64};
        assert_int_equal(kiln_udf_register(ctx, "twice_plus", (kiln_udf_fn)udf_twice_plus,
                                           KILN_FLOAT64, 2, args),
                         KILN_OK);
        kiln_array *x, *y;
        make_inputs(ctx, &x, &y);
        assert_true(eval_check(ctx, "twice_plus(x, y) * 3", x, y));
        assert_int_equal(cnt(ctx, KILN_COUNTER_COMPILES), 1);
        assert_int_equal(cnt(ctx, KILN_COUNTER_DISK_HITS), 0);
        assert_int_equal(cnt(ctx, KILN_COUNTER_DISK_WRITES), 0);
        assert_int_equal(list_entries(dir, NULL, NULL, 0), round);
        /* an ordinary kernel beside it is stored (round 0) and loaded (1) */
        assert_true(eval_check(ctx, "x * 3 - y", x, y));
        assert_int_equal(cnt(ctx, KILN_COUNTER_DISK_WRITES), round == 0);
        assert_int_equal(cnt(ctx, KILN_COUNTER_DISK_HITS), round == 1);
        assert_int_equal(list_entries(dir, NULL, NULL, 0), 1);
        kiln_array_release(x);
        kiln_array_release(y);
        kiln_ctx_free(ctx);
    }
    remove_tree(dir);
}

/* kiln_ctx_clear_cache empties the folder; a missing folder is no error. */
static void test_clear(void **state)
{
    (void)state;
    char dir[4096], sub[4200];
    make_dir(dir, sizeof dir);
    kiln_ctx *ctx = ctx_on(dir);
    eval_many_in(ctx, 0, 3);
    uint64_t removed = 0;
    assert_int_equal(kiln_ctx_clear_cache(ctx, &removed), KILN_OK);
    assert_int_equal(removed, 3);
    assert_int_equal(count_files(dir), 0);
    snprintf(sub, sizeof sub, "%s/none", dir);
    assert_int_equal(kiln_ctx_set_disk_cache(ctx, 1, sub), KILN_OK);
    assert_int_equal(kiln_ctx_clear_cache(ctx, &removed), KILN_OK);
    assert_int_equal(removed, 0);
    assert_int_equal(kiln_ctx_set_disk_cache(ctx, 1, ""), KILN_EINVAL);
    assert_int_equal(kiln_ctx_set_disk_cache(NULL, 1, dir), KILN_ENULL);
    assert_int_equal(kiln_ctx_print_cache(ctx, NULL), KILN_ENULL);
    kiln_ctx_free(ctx);
    remove_tree(dir);
}

int main(int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "child") == 0)
        return child_main(argc >= 3 && strcmp(argv[2], "big") == 0);
    /* contexts made without ctx_on never see the user's cache, however the
     * binary is run; children get their folder and setting explicitly */
    setenv("KILN_CACHE", "off", 1);
    ssize_t l = readlink("/proc/self/exe", g_self, sizeof g_self - 1);
    if (l <= 0)
        return 1;
    g_self[l] = '\0';
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_cold_then_warm, teardown),
        cmocka_unit_test_teardown(test_corruption, teardown),
        cmocka_unit_test_teardown(test_concurrent_processes, teardown),
        cmocka_unit_test_teardown(test_off_writes_nothing, teardown),
        cmocka_unit_test_teardown(test_unwritable, teardown),
        cmocka_unit_test_teardown(test_size_bound_lru, teardown),
        cmocka_unit_test_teardown(test_calibration, teardown),
        cmocka_unit_test_teardown(test_clear, teardown),
        cmocka_unit_test_teardown(test_udf_not_persisted, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
