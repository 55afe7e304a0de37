/*
 * tests/test_dump.c — the profiling dump (kiln_ctx_set_dump, KILN_DUMP &
 * co., kiln_ctx_print_stats; docs/PROFILING.md).
 *
 *   - x*2+1 on float64 dumps every stage under the kernel's name, and the
 *     optimized IR holds vectors of >= 2 doubles (every x86-64 has SIMD);
 *   - explain names the part of the signature that changed: dtype only,
 *     stride class only, and a recompile after eviction;
 *   - the stats table's launch counts, hits and misses are exact for a
 *     scripted sequence (fused, unfused, a reduction)
 *     and for four threads evaluating on one context;
 *   - stage lists and environment values that are wrong are errors, the
 *     environment's recorded and never printed; nothing is printed unless
 *     'stats' is on;
 *   - dumping changes no result bit;
 *   - every DOT file the tests wrote is accepted by Graphviz's dot and
 *     every .ll by llvm-as (the last test; skipped, saying so, if a tool
 *     is missing).
 * Each test writes under one temporary folder, removed at the end.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* mkdtemp, setenv, dup, opendir */
#endif
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "testutil.h"

#include <dirent.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define LLVM_AS "/usr/lib/llvm-19/bin/llvm-as"

static char base[256]; /* the temporary folder of this run */

/* ---- helpers ------------------------------------------------------------------ */

static void td_dir(char *buf, size_t cap, const char *name)
{
    snprintf(buf, cap, "%s/%s", base, name);
}

/* The whole file, NUL-terminated (caller frees); NULL if unreadable. */
static char *td_slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *s = malloc((size_t)n + 1);
    assert_non_null(s);
    size_t got = fread(s, 1, (size_t)n, f);
    s[got] = '\0';
    fclose(f);
    return s;
}

/* Names in dir ending in suffix, counted; the first one (sorted) kept. */
static int td_find(const char *dir, const char *suffix, const char *prefix, char *first,
                   size_t cap)
{
    DIR *d = opendir(dir);
    if (!d)
        return 0;
    int n = 0;
    struct dirent *de;
    if (first && cap)
        first[0] = '\0';
    while ((de = readdir(d))) {
        size_t l = strlen(de->d_name), sl = strlen(suffix);
        if (l < sl || strcmp(de->d_name + l - sl, suffix) != 0)
            continue;
        if (prefix && strncmp(de->d_name, prefix, strlen(prefix)) != 0)
            continue;
        n++;
        if (first && (!first[0] || strcmp(de->d_name, first) < 0))
            snprintf(first, cap, "%s", de->d_name);
    }
    closedir(d);
    return n;
}

/* The text of the only file in dir whose name has prefix and suffix. */
static char *td_read_one(const char *dir, const char *prefix, const char *suffix)
{
    char name[256], path[600];
    int n = td_find(dir, suffix, prefix, name, sizeof name);
    if (n != 1)
        print_message("%d files '%s*%s' in %s\n", n, prefix, suffix, dir);
    assert_int_equal(n, 1);
    snprintf(path, sizeof path, "%s/%s", dir, name);
    char *s = td_slurp(path);
    assert_non_null(s);
    return s;
}

static kiln_array *td_f64(kiln_ctx *ctx, int64_t n)
{
    kiln_array *a = NULL;
    assert_int_equal(kiln_array_empty(ctx, KILN_FLOAT64, 1, &n, KILN_ORDER_C, &a), KILN_OK);
    double *d = kiln_array_data(a);
    for (int64_t i = 0; i < n; i++)
        d[i] = (double)i * 0.25 - 7.0;
    return a;
}

static kiln_array *td_f32(kiln_ctx *ctx, int64_t n)
{
    kiln_array *a = NULL;
    assert_int_equal(kiln_array_empty(ctx, KILN_FLOAT32, 1, &n, KILN_ORDER_C, &a), KILN_OK);
    float *d = kiln_array_data(a);
    for (int64_t i = 0; i < n; i++)
        d[i] = (float)i * 0.5f - 3.0f;
    return a;
}

/* x*2+1 */
static kiln_expr td_affine(kiln_ctx *ctx, kiln_array *x)
{
    return kiln_add(kiln_multiply(kiln_input(ctx, x), kiln_f64(ctx, 2)), kiln_f64(ctx, 1));
}

static void td_eval(kiln_expr e, kiln_mode mode)
{
    kiln_array *r = tu_eval(e, mode);
    kiln_array_release(r);
}

/* Runs f with stderr sent to a file; returns what it printed. */
static char *td_stderr_of(void (*f)(void *), void *ud)
{
    char path[300];
    snprintf(path, sizeof path, "%s/stderr.txt", base);
    fflush(stderr);
    int saved = dup(2);
    FILE *tmp = fopen(path, "w");
    assert_non_null(tmp);
    dup2(fileno(tmp), 2);
    f(ud);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    fclose(tmp);
    char *s = td_slurp(path);
    assert_non_null(s);
    return s;
}

/* ---- every stage of x*2+1 ----------------------------------------------------------- */

static void test_stages(void **state)
{
    (void)state;
    char dir[300];
    td_dir(dir, sizeof dir, "stages");
    kiln_ctx *ctx = kiln_ctx_new(NULL);
    assert_int_equal(kiln_ctx_set_dump(ctx, "graph, plan,ir,opt,asm,explain", dir), KILN_OK);
    kiln_array *x = td_f64(ctx, 1000);
    kiln_array *y = tu_eval(td_affine(ctx, x), KILN_MODE_FUSED);
    const double *xd = kiln_array_data(x), *yd = kiln_array_data(y);
    for (int i = 0; i < 1000; i++)
        assert_true(yd[i] == xd[i] * 2 + 1);

    /* one kernel: one file per stage, all under its name */
    char name[256];
    assert_int_equal(td_find(dir, ".ir.ll", NULL, name, sizeof name), 1);
    assert_non_null(strstr(name, "k0000_fused_multiply_add_f64_r1-"));
    *strstr(name, ".ir.ll") = '\0';
    static const char *const suffixes[] = {".dot", ".plan.txt", ".ir.ll", ".opt.ll", ".s",
                                           ".explain.txt"};
    for (size_t i = 0; i < sizeof suffixes / sizeof suffixes[0]; i++)
        assert_int_equal(td_find(dir, suffixes[i], name, NULL, 0), 1);

    char *ir = td_read_one(dir, name, ".ir.ll"), *opt = td_read_one(dir, name, ".opt.ll");
    char *as = td_read_one(dir, name, ".s"), *dot = td_read_one(dir, name, ".dot");
    char *plan = td_read_one(dir, name, ".plan.txt"), *ex = td_read_one(dir, name, ".explain.txt");
    assert_non_null(strstr(ir, "fmul double"));
    assert_int_equal(tu_max_width(ir, "double"), 0); /* lowered scalar ... */
    int w = tu_max_width(opt, "double");             /* ... vectorized by O3 */
    print_message("x*2+1 f64 optimized: <%d x double>\n", w);
    assert_true(w >= 2);
    assert_non_null(strstr(as, "mul"));
    assert_non_null(strstr(dot, "digraph kiln"));
    assert_non_null(strstr(dot, "cluster_0"));
    assert_non_null(strstr(dot, "multiply"));
    assert_non_null(strstr(dot, "-> output"));
    assert_non_null(strstr(plan, "fused mode, 1 kernel, 0 temporaries"));
    assert_non_null(strstr(plan, "loop nest: rank 1, extents 1000"));
    assert_non_null(strstr(plan, "= multiply v"));
    assert_non_null(strstr(plan, "8:unit"));
    assert_non_null(strstr(plan, "why this kernel ends here"));
    assert_non_null(strstr(ex, "the cache is empty"));
    free(ir);
    free(opt);
    free(as);
    free(dot);
    free(plan);
    free(ex);

    /* a hit writes nothing new */
    td_eval(td_affine(ctx, x), KILN_MODE_FUSED);
    assert_int_equal(td_find(dir, ".ir.ll", NULL, NULL, 0), 1);
    assert_int_equal(td_find(dir, ".dot", NULL, NULL, 0), 1);
    kiln_array_release(y);
    kiln_array_release(x);
    kiln_ctx_free(ctx);
}

/* ---- explain -------------------------------------------------------------------------------- */

static void test_explain_dtype(void **state)
{
    (void)state;
    char dir[300];
    td_dir(dir, sizeof dir, "explain_dtype");
    kiln_ctx *ctx = kiln_ctx_new(NULL);
    assert_int_equal(kiln_ctx_set_dump(ctx, "explain", dir), KILN_OK);
    kiln_array *x = td_f64(ctx, 100), *x32 = td_f32(ctx, 100);
    td_eval(td_affine(ctx, x), KILN_MODE_FUSED);
    td_eval(td_affine(ctx, x32), KILN_MODE_FUSED);
    char *ex = td_read_one(dir, "k0001_", ".explain.txt");
    print_message("%s", ex);
    assert_non_null(strstr(ex, "nearest cached kernel: k0000_fused_multiply_add_f64_r1-"));
    assert_non_null(strstr(ex, "differs in: dtype\n"));
    assert_non_null(strstr(ex, "dtype: operand in1 float64 -> float32"));
    assert_null(strstr(ex, "stride class:"));
    assert_null(strstr(ex, "structure:"));
    free(ex);
    kiln_array_release(x);
    kiln_array_release(x32);
    kiln_ctx_free(ctx);
}

static void test_explain_stride_class(void **state)
{
    (void)state;
    char dir[300];
    td_dir(dir, sizeof dir, "explain_sclass");
    kiln_ctx *ctx = kiln_ctx_new(NULL);
    assert_int_equal(kiln_ctx_set_dump(ctx, "explain,plan", dir), KILN_OK);
    kiln_array *x = td_f64(ctx, 200), *xs = NULL;
    kiln_slice every2 = {KILN_END, KILN_END, 2};
    assert_int_equal(kiln_array_slice(x, 1, &every2, &xs), KILN_OK);
    kiln_array *x100 = td_f64(ctx, 100);
    td_eval(td_affine(ctx, x100), KILN_MODE_FUSED);
    td_eval(td_affine(ctx, xs), KILN_MODE_FUSED); /* same kernel but a stride of 16 bytes */
    char *ex = td_read_one(dir, "k0001_", ".explain.txt");
    print_message("%s", ex);
    assert_non_null(strstr(ex, "differs in: stride class\n"));
    assert_non_null(strstr(ex, "stride class: operand in1, loop dim 0"));
    assert_non_null(strstr(ex, "unit -> other"));
    assert_null(strstr(ex, "dtype:"));
    char *plan = td_read_one(dir, "k0001_", ".plan.txt");
    assert_non_null(strstr(plan, "16:other"));
    free(plan);
    free(ex);
    kiln_array_release(xs);
    kiln_array_release(x);
    kiln_array_release(x100);
    kiln_ctx_free(ctx);
}

/* A kernel evicted and needed again: the explain says so. */
static void test_explain_evicted(void **state)
{
    (void)state;
    char dir[300];
    td_dir(dir, sizeof dir, "explain_evicted");
    kiln_ctx *ctx = kiln_ctx_new(NULL);
    assert_int_equal(kiln_ctx_set_cache_limit(ctx, 1), KILN_OK);
    assert_int_equal(kiln_ctx_set_dump(ctx, "explain", dir), KILN_OK);
    kiln_array *x = td_f64(ctx, 64), *x32 = td_f32(ctx, 64);
    td_eval(td_affine(ctx, x), KILN_MODE_FUSED);
    td_eval(td_affine(ctx, x32), KILN_MODE_FUSED);
    td_eval(td_affine(ctx, x), KILN_MODE_FUSED); /* evicted by the f32 one */
    char *ex = td_read_one(dir, "k0002_", ".explain.txt");
    assert_non_null(strstr(ex, "recompiled: this signature was compiled before as k0000_"));
    assert_non_null(strstr(ex, "evicted"));
    free(ex);
    kiln_array_release(x);
    kiln_array_release(x32);
    kiln_ctx_free(ctx);
}

/* ---- stats ------------------------------------------------------------------------------- */

typedef struct td_row {
    unsigned long long launches, hits, misses;
    char runs_on[64];
} td_row;

/* The row of the kernel whose name starts with prefix (exactly one). */
static td_row td_stats_row(const char *table, const char *prefix)
{
    td_row r;
    memset(&r, 0, sizeof r);
    int found = 0;
    for (const char *line = table; line && *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
        if (strncmp(line, prefix, strlen(prefix)) != 0)
            continue;
        char name[160];
        double ms, mean, min, mb, gbs, cms;
        int n = sscanf(line, "%159s %llu %lf %lf %lf %lf %lf %lf %llu %llu %63s", name,
                       &r.launches, &ms, &mean, &min, &mb, &gbs, &cms, &r.hits, &r.misses,
                       r.runs_on);
        assert_int_equal(n, 11);
        assert_true(min <= mean + 0.01);
        found++;
    }
    if (found != 1)
        print_message("%d rows '%s' in:\n%s", found, prefix, table);
    assert_int_equal(found, 1);
    return r;
}

static char *td_stats(kiln_ctx *ctx)
{
    char path[300];
    snprintf(path, sizeof path, "%s/stats.txt", base);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    assert_int_equal(kiln_ctx_print_stats(ctx, f), KILN_OK);
    fclose(f);
    char *s = td_slurp(path);
    assert_non_null(s);
    return s;
}

static void test_stats_exact(void **state)
{
    (void)state;
    kiln_ctx *ctx = kiln_ctx_new(NULL);
    assert_int_equal(kiln_ctx_set_dump(ctx, "stats", NULL), KILN_OK);
    kiln_array *x = td_f64(ctx, 500), *x32 = td_f32(ctx, 500);
    for (int i = 0; i < 3; i++)
        td_eval(td_affine(ctx, x), KILN_MODE_FUSED);
    for (int i = 0; i < 2; i++)
        td_eval(td_affine(ctx, x32), KILN_MODE_FUSED);
    td_eval(td_affine(ctx, x), KILN_MODE_UNFUSED); /* multiply, then add */
    td_eval(td_affine(ctx, x), KILN_MODE_UNFUSED);
    td_eval(kiln_sum(kiln_input(ctx, x), 0, NULL, 0), KILN_MODE_FUSED); /* a reduction kernel */
    td_eval(td_affine(ctx, x), KILN_MODE_INTERP); /* not a kernel: not counted */
    char *t = td_stats(ctx);
    print_message("%s", t);
    td_row r = td_stats_row(t, "k0000_fused_multiply_add_f64_r1-");
    assert_int_equal(r.launches, 3);
    assert_int_equal(r.hits, 2);
    assert_int_equal(r.misses, 1);
    assert_string_equal(r.runs_on, "jit");
    r = td_stats_row(t, "k0001_fused_multiply_add_f32_r1-");
    assert_int_equal(r.launches, 2);
    assert_int_equal(r.hits, 1);
    assert_int_equal(r.misses, 1);
    r = td_stats_row(t, "k0002_multiply_f64_r1-");
    assert_int_equal(r.launches, 2);
    assert_int_equal(r.hits, 1);
    assert_int_equal(r.misses, 1);
    r = td_stats_row(t, "k0003_add_f64_r1-");
    assert_int_equal(r.launches, 2);
    assert_int_equal(r.hits, 1);
    assert_int_equal(r.misses, 1);
    r = td_stats_row(t, "k0004_sum_f64_r2-");
    assert_int_equal(r.launches, 1);
    assert_int_equal(r.misses, 1);
    assert_string_equal(r.runs_on, "jit");
    assert_non_null(strstr(t, "(10 launches"));
    assert_non_null(strstr(t, "; 8 evaluations; temporaries 2 "));
    assert_non_null(strstr(t, "kiln stats: 5 kernels\n"));
    free(t);
    kiln_array_release(x);
    kiln_array_release(x32);
    kiln_ctx_free(ctx);
}

/* Several threads evaluating on one context: every launch counted once. */
typedef struct td_thr {
    kiln_ctx *ctx;
    kiln_array *x;
    kiln_expr e;
} td_thr;

static void *td_thread(void *ud)
{
    td_thr *t = ud;
    kiln_array *y = NULL;
    int64_t n = kiln_array_size(t->x);
    if (kiln_array_empty(t->ctx, KILN_FLOAT64, 1, &n, KILN_ORDER_C, &y) != KILN_OK)
        return (void *)1;
    for (int i = 0; i < 200; i++)
        if (kiln_eval_into(t->e, y) != KILN_OK)
            return (void *)1;
    kiln_array_release(y);
    return NULL;
}

static void test_stats_threads(void **state)
{
    (void)state;
    kiln_ctx *ctx = kiln_ctx_new(NULL);
    assert_int_equal(kiln_ctx_set_dump(ctx, "stats,explain", base), KILN_OK);
    kiln_array *x = td_f64(ctx, 256);
    td_thr t = {ctx, x, td_affine(ctx, x)};
    pthread_t th[4];
    for (int i = 0; i < 4; i++)
        assert_int_equal(pthread_create(&th[i], NULL, td_thread, &t), 0);
    for (int i = 0; i < 4; i++) {
        void *rc;
        pthread_join(th[i], &rc);
        assert_null(rc);
    }
    char *tab = td_stats(ctx);
    td_row r = td_stats_row(tab, "k0000_fused_multiply_add_f64_r1-");
    assert_int_equal(r.launches, 800);
    assert_int_equal(r.hits + r.misses, 800);
    assert_int_equal(r.misses, 1);
    free(tab);
    kiln_array_release(x);
    kiln_ctx_free(ctx);
}

/* Printed at kiln_ctx_free when 'stats' is on, and only then. */
static void td_run_ctx(void *ud)
{
    const char *stages = ud;
    kiln_ctx *ctx = kiln_ctx_new(NULL);
    if (stages)
        assert_int_equal(kiln_ctx_set_dump(ctx, stages, NULL), KILN_OK);
    kiln_array *x = td_f64(ctx, 10);
    td_eval(td_affine(ctx, x), KILN_MODE_FUSED);
    kiln_array_release(x);
    kiln_ctx_free(ctx);
}

static void test_stats_at_free(void **state)
{
    (void)state;
    char *s = td_stderr_of(td_run_ctx, "stats");
    assert_non_null(strstr(s, "kiln stats: 1 kernel\n"));
    assert_non_null(strstr(s, "k0000_fused_multiply_add_f64_r1-"));
    free(s);
    s = td_stderr_of(td_run_ctx, NULL);
    assert_string_equal(s, "");
    free(s);
    /* on demand without the stage: totals, and a note that launches were not timed */
    kiln_ctx *ctx = kiln_ctx_new(NULL);
    kiln_array *x = td_f64(ctx, 10);
    td_eval(td_affine(ctx, x), KILN_MODE_FUSED);
    char *t = td_stats(ctx);
    assert_non_null(strstr(t, "launches are timed only while the 'stats' dump stage is on"));
    assert_non_null(strstr(t, "1 compiles"));
    free(t);
    kiln_array_release(x);
    kiln_ctx_free(ctx);
}

/* ---- errors ---------------------------------------------------------------------------- */

static void test_set_dump_errors(void **state)
{
    (void)state;
    kiln_ctx *ctx = kiln_ctx_new(NULL);
    assert_int_equal(kiln_ctx_set_dump(NULL, "ir", NULL), KILN_ENULL);
    assert_int_equal(kiln_ctx_set_dump(ctx, "ir,bogus", NULL), KILN_EINVAL);
    assert_non_null(strstr(kiln_errmsg(ctx), "unknown dump stage 'bogus'"));
    assert_non_null(strstr(kiln_errmsg(ctx), "graph, plan, ir, opt, asm, stats, explain"));
    assert_int_equal(kiln_ctx_set_dump(ctx, "", NULL), KILN_OK);
    assert_int_equal(kiln_ctx_set_dump(ctx, "none", NULL), KILN_OK);
    assert_int_equal(kiln_ctx_set_dump(ctx, "stats", ""), KILN_EINVAL);
    char dir[300];
    td_dir(dir, sizeof dir, "a_file");
    FILE *f = fopen(dir, "w");
    assert_non_null(f);
    fclose(f);
    strcat(dir, "/sub"); /* under a regular file: cannot be created */
    assert_int_equal(kiln_ctx_set_dump(ctx, "ir", dir), KILN_EIO);
    assert_non_null(strstr(kiln_errmsg(ctx), "cannot create the dump folder"));
    assert_int_equal(kiln_ctx_set_dump(ctx, "stats", dir), KILN_OK); /* writes no files */
    assert_int_equal(kiln_ctx_print_stats(ctx, NULL), KILN_ENULL);
    assert_int_equal(kiln_ctx_print_stats(NULL, stderr), KILN_ENULL);
    assert_int_equal(kiln_ctx_set_dump(ctx, "none", NULL), KILN_OK);
    kiln_ctx_free(ctx);
}

typedef struct td_env_case {
    const char *dump, *dir, *perf;
    kiln_status want;
    const char *msg;
} td_env_case;

static void td_env_ctx(void *ud)
{
    td_env_case *c = ud;
    if (c->dump)
        setenv("KILN_DUMP", c->dump, 1);
    if (c->dir)
        setenv("KILN_DUMP_DIR", c->dir, 1);
    if (c->perf)
        setenv("KILN_PERF", c->perf, 1);
    kiln_ctx *ctx = kiln_ctx_new(NULL);
    unsetenv("KILN_DUMP");
    unsetenv("KILN_DUMP_DIR");
    unsetenv("KILN_PERF");
    assert_non_null(ctx);
    assert_int_equal(kiln_errcode(ctx), c->want);
    if (c->msg)
        assert_non_null(strstr(kiln_errmsg(ctx), c->msg));
    kiln_array *x = td_f64(ctx, 10);
    td_eval(td_affine(ctx, x), KILN_MODE_FUSED);
    kiln_array_release(x);
    kiln_ctx_free(ctx);
}

static void test_env(void **state)
{
    (void)state;
    char dir[300];
    td_dir(dir, sizeof dir, "env/nested/dir");
    td_env_case cases[] = {
        {"ir,nope", dir, NULL, KILN_EINVAL, "KILN_DUMP: unknown dump stage 'nope'"},
        {NULL, NULL, "yes", KILN_EINVAL, "KILN_PERF is 1 or 0, not 'yes'"},
        {"plan,explain", dir, "0", KILN_OK, NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *err = td_stderr_of(td_env_ctx, &cases[i]);
        assert_string_equal(err, ""); /* recorded, never printed */
        free(err);
    }
    /* the bad settings dumped nothing; the good ones made the nested folder */
    assert_int_equal(td_find(dir, ".ir.ll", NULL, NULL, 0), 0);
    assert_int_equal(td_find(dir, ".plan.txt", NULL, NULL, 0), 1);
    assert_int_equal(td_find(dir, ".explain.txt", NULL, NULL, 0), 1);
}

/* ---- more plans: unfused, staged, perf ---------------------------------------------------- */

static void test_unfused_and_reduction(void **state)
{
    (void)state;
    char dir[300];
    td_dir(dir, sizeof dir, "plans");
    kiln_ctx *ctx = kiln_ctx_new(NULL);
    assert_int_equal(kiln_ctx_set_dump(ctx, "graph,plan", dir), KILN_OK);
    kiln_array *x = td_f64(ctx, 300);
    td_eval(td_affine(ctx, x), KILN_MODE_UNFUSED);
    assert_int_equal(td_find(dir, ".plan.txt", NULL, NULL, 0), 2);
    char *plan = td_read_one(dir, "k0001_add", ".plan.txt");
    assert_non_null(strstr(plan, "unfused mode, 2 kernels, 1 temporary"));
    assert_non_null(strstr(plan, "unfused mode: one kernel per operation"));
    assert_non_null(strstr(plan, "<== the kernel this file is named after"));
    free(plan);
    /* sum(sqrt(x)): one kernel, sqrt fused into the sum (no temporary) */
    td_eval(kiln_sum(kiln_sqrt(kiln_input(ctx, x)), 0, NULL, 0), KILN_MODE_FUSED);
    plan = td_read_one(dir, "k0002_fused_sqrt_sum", ".plan.txt");
    assert_non_null(strstr(plan, "1 kernel, 0 temporaries"));
    assert_non_null(strstr(plan, "a reduction is a kernel boundary"));
    assert_non_null(strstr(plan, "accumulator: sum in float64"));
    assert_non_null(strstr(plan, "reduced axes (0)"));
    free(plan);
    char *dot = td_read_one(dir, "k0002_fused_sqrt_sum", ".dot");
    assert_non_null(strstr(dot, "cluster_0"));
    assert_non_null(strstr(dot, "-> output"));
    assert_non_null(strstr(dot, "axes (0)"));
    free(dot);
    kiln_array_release(x);
    kiln_ctx_free(ctx);
}

static void test_perf_map(void **state)
{
    (void)state;
    char path[64];
    snprintf(path, sizeof path, "/tmp/perf-%d.map", (int)getpid());
    bool existed = access(path, F_OK) == 0;
    kiln_ctx *ctx = kiln_ctx_new(NULL);
    assert_int_equal(kiln_ctx_set_dump(ctx, "perf", NULL), KILN_OK);
    kiln_array *x = td_f64(ctx, 100);
    td_eval(td_affine(ctx, x), KILN_MODE_FUSED);
    td_eval(kiln_sqrt(kiln_input(ctx, x)), KILN_MODE_FUSED);
    char *map = td_slurp(path);
    assert_non_null(map);
    print_message("%s", map);
    int lines = 0;
    for (const char *l = map; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
        unsigned long long addr, size;
        char name[160];
        assert_int_equal(sscanf(l, "%llx %llx %159s", &addr, &size, name), 3);
        assert_true(addr != 0 && size > 0 && size < 65536);
        lines += strncmp(name, "k0000_fused_multiply_add_f64_r1-", 32) == 0 ||
                 strncmp(name, "k0001_sqrt_f64_r1-", 18) == 0;
    }
    assert_true(lines >= 2);
    free(map);
    kiln_array_release(x);
    kiln_ctx_free(ctx);

    /* switched on after the JIT started: later kernels are mapped too */
    ctx = kiln_ctx_new(NULL);
    x = td_f64(ctx, 100);
    td_eval(kiln_sqrt(kiln_input(ctx, x)), KILN_MODE_FUSED);
    assert_int_equal(kiln_ctx_set_dump(ctx, "perf", NULL), KILN_OK);
    td_eval(kiln_negative(kiln_input(ctx, x)), KILN_MODE_FUSED);
    map = td_slurp(path);
    assert_non_null(map);
    assert_non_null(strstr(map, " k0001_negative_f64_r1-"));
    free(map);
    kiln_array_release(x);
    kiln_ctx_free(ctx);
    if (!existed)
        unlink(path);
}

/* ---- dumping changes no result ------------------------------------------------------------ */

static kiln_array *td_mixed(kiln_ctx *ctx, kiln_array *x, kiln_mode mode)
{
    kiln_expr xe = kiln_input(ctx, x);
    kiln_expr e = kiln_where(kiln_greater(xe, kiln_f64(ctx, 0)),
                             kiln_divide(kiln_sin(xe), kiln_add(kiln_f64(ctx, 1), kiln_multiply(xe, xe))),
                             kiln_multiply(kiln_f64(ctx, 0.01), xe));
    return tu_eval(e, mode);
}

static void test_results_unchanged(void **state)
{
    (void)state;
    char dir[300];
    td_dir(dir, sizeof dir, "unchanged");
    static const kiln_mode modes[] = {KILN_MODE_FUSED, KILN_MODE_UNFUSED};
    for (size_t m = 0; m < 2; m++) {
        kiln_ctx *plain = kiln_ctx_new(NULL), *dumped = kiln_ctx_new(NULL);
        assert_int_equal(kiln_ctx_set_dump(dumped, "all", dir), KILN_OK);
        kiln_array *x = td_f64(plain, 4099), *x2 = td_f64(dumped, 4099);
        kiln_array *a = td_mixed(plain, x, modes[m]), *b = td_mixed(dumped, x2, modes[m]);
        assert_true(tu_bits_equal(a, b));
        kiln_array_release(a);
        kiln_array_release(b);
        kiln_array_release(x);
        kiln_array_release(x2);
        kiln_ctx_free(plain);
        char *err = td_stderr_of((void (*)(void *))kiln_ctx_free, dumped);
        assert_non_null(strstr(err, "kiln stats:")); /* 'all' includes stats */
        free(err);
    }
}

/* ---- the tools accept every file ------------------------------------------------------------ */

static bool td_have(const char *cmd)
{
    return system(cmd) == 0;
}

/* Runs check on every file under dir (recursively) ending in suffix;
 * returns the number checked. */
static int td_check_all(const char *dir, const char *suffix, const char *tool_fmt)
{
    DIR *d = opendir(dir);
    if (!d)
        return 0;
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.')
            continue;
        char path[1024], cmd[2400];
        snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        struct stat st;
        if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
            n += td_check_all(path, suffix, tool_fmt);
            continue;
        }
        size_t l = strlen(path), sl = strlen(suffix);
        if (l < sl || strcmp(path + l - sl, suffix) != 0)
            continue;
        snprintf(cmd, sizeof cmd, tool_fmt, path);
        int rc = system(cmd);
        if (rc != 0)
            print_message("rejected (%d): %s\n", rc, cmd);
        assert_int_equal(rc, 0);
        n++;
    }
    closedir(d);
    return n;
}

static void test_tools_accept_dumps(void **state)
{
    (void)state;
    bool dot = td_have("dot -V >/dev/null 2>&1");
    bool as = td_have(LLVM_AS " --version >/dev/null 2>&1");
    int ndot = 0, nll = 0;
    if (dot)
        ndot = td_check_all(base, ".dot", "dot -Tsvg '%s' -o /dev/null");
    if (as)
        nll = td_check_all(base, ".ll", LLVM_AS " '%s' -o /dev/null");
    print_message("dot accepted %d DOT files; llvm-as accepted %d .ll files\n", ndot, nll);
    if (!dot || !as) {
        print_message("SKIPPED: %s%s%s not installed (scripts/test.sh installs graphviz; "
                      "llvm-as comes with llvm-19)\n",
                      dot ? "" : "Graphviz's dot", !dot && !as ? " and " : "",
                      as ? "" : LLVM_AS);
        skip();
    }
    assert_true(ndot >= 5);
    assert_true(nll >= 4);
}

static int td_setup(void **state)
{
    (void)state;
    const char *tmp = getenv("TMPDIR");
    snprintf(base, sizeof base, "%s/kiln_dump.XXXXXX", tmp && *tmp ? tmp : "/tmp");
    return mkdtemp(base) ? 0 : -1;
}

static int td_teardown(void **state)
{
    (void)state;
    char cmd[320];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", base);
    return system(cmd) == 0 ? 0 : -1;
}

int main(void)
{
    unsetenv("KILN_DUMP"); /* the tests set what they need */
    unsetenv("KILN_DUMP_DIR");
    unsetenv("KILN_PERF");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stages),
        cmocka_unit_test(test_explain_dtype),
        cmocka_unit_test(test_explain_stride_class),
        cmocka_unit_test(test_explain_evicted),
        cmocka_unit_test(test_stats_exact),
        cmocka_unit_test(test_stats_threads),
        cmocka_unit_test(test_stats_at_free),
        cmocka_unit_test(test_set_dump_errors),
        cmocka_unit_test(test_env),
        cmocka_unit_test(test_unfused_and_reduction),
        cmocka_unit_test(test_perf_map),
        cmocka_unit_test(test_results_unchanged),
        cmocka_unit_test(test_tools_accept_dumps), /* last: checks every file above */
    };
    return cmocka_run_group_tests(tests, td_setup, td_teardown);
}
