/*
 * runtime/pool.c — the context's worker threads (see pool.h for the
 * contract and invariants) and the calibration of the launch policy.
 *
 * The protocol, one job at a time (the caller holds `busy`):
 *
 *   caller                                 worker
 *   gen = g+1 (odd: being written)         wait until gen != seen, even
 *   wait until inside == 0                 inside++
 *   write task, ud, n; next = ndone = 0    if gen is still that value:
 *   gen = g+2 (published)                      claim tasks (next++) and
 *   wake sleepers if any                       run them; ndone++ each
 *   claim and run tasks too                inside--; seen = that value
 *   wait until ndone == n
 *
 * Every flag is a sequentially consistent atomic: the pairs (gen store,
 * sleepers load) / (sleepers increment, gen load) and (waiting store,
 * ndone load) / (ndone increment, waiting load) are Dekker-style, so a
 * thread about to block is always seen by the one that would wake it.
 * Waiting is "spin for about one wake-up's cost, then block on a condition
 * variable" (spinning longer than a wake costs could only waste the core;
 * a shorter spin keeps workers warm between the kernels of one
 * evaluation).
 *
 * Calibration measures what the policy needs and nothing else, once per
 * settings: streaming speed (memcpy, the fastest way this machine moves
 * bytes, so estimates err towards running inline), the caller's cost of a
 * run (post, wake, join) and the cold wake latency (post a job while every
 * worker sleeps, until each runs a task). Its 2 x 128 KB scratch is
 * mmap'd and unmapped at once, outside the allocator hook: it is transient
 * and cannot fail a call (without it the L1 estimate is used).
 */
#define _GNU_SOURCE
#include "runtime/pool.h"

#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define RT_RECAL_FIRST_NS 1000000000ull /* 1 s */
#define RT_RECAL_MAX_NS 64000000000ull  /* 64 s */

enum {
    RT_SPIN_DEFAULT_NS = 20000, /* idle spin before the wake is measured */
    RT_SPIN_MIN_NS = 2000,
    RT_SPIN_MAX_NS = 100000,
    /* No wake-up of a blocked thread costs less than this anywhere (a
     * futex system call, a context switch, cache lines crossing cores):
     * work too small to split even at that cost, timed at L1 speed, never
     * calibrates (starts threads) or splits. */
    RT_WAKE_FLOOR_NS = 1000,
    RT_WAKE_TRIALS = 7,
    RT_WAKE_TIMEOUT_NS = 2000000, /* a thread that never starts counts as 2 ms */
    /* A cold wake slower than this was held up by the machine's other
     * load (an idle core wakes a thread in tens of us): calibrate again
     * after RT_RECAL_FIRST_NS, doubling up to RT_RECAL_MAX_NS. */
    RT_WAKE_DISTURBED_NS = 250000,
    RT_FAST_BYTES = 8192,         /* each half of the L1 copy (on the stack) */
    RT_STREAM_BYTES = 128 * 1024  /* each half of the L2-sized copy */
};

static uint64_t par_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static inline void par_pause(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

/* ---- settings --------------------------------------------------------- */

int rt_cpu_count(void)
{
#ifdef CPU_COUNT
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) > 0)
        return CPU_COUNT(&set) < RT_MAX_THREADS ? CPU_COUNT(&set) : RT_MAX_THREADS;
#endif
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : n > RT_MAX_THREADS ? RT_MAX_THREADS : (int)n;
}

bool rt_parse_threads(const char *s, int *n)
{
    if (!s)
        return false;
    while (*s == ' ' || *s == '\t')
        s++;
    long v = 0;
    int digits = 0;
    for (; *s >= '0' && *s <= '9'; s++, digits++) {
        v = v * 10 + (*s - '0');
        if (v > RT_MAX_THREADS)
            return false;
    }
    while (*s == ' ' || *s == '\t')
        s++;
    if (!digits || *s)
        return false;
    *n = (int)v;
    return true;
}

static void par_forget(rt_par *p)
{
    atomic_store(&p->wake_ns, 0);
    atomic_store(&p->post_ns, 0);
    atomic_store(&p->min_cost, 0);
    atomic_store(&p->floor_cost, 0);
    atomic_store(&p->recal_at, 0);
    p->recal_backoff = 0;
    atomic_store(&p->spin_ns, RT_SPIN_DEFAULT_NS);
    p->start_failed = false;
}

bool rt_par_init(rt_par *p, int nthreads)
{
    memset(p, 0, sizeof *p);
    if (pthread_mutex_init(&p->busy, NULL) != 0)
        return false;
    if (pthread_mutex_init(&p->mu, NULL) != 0)
        goto no_mu;
    if (pthread_cond_init(&p->wake, NULL) != 0)
        goto no_wake;
    if (pthread_cond_init(&p->done, NULL) != 0)
        goto no_done;
    atomic_init(&p->nthreads, nthreads < 1 ? 1 : nthreads > RT_MAX_THREADS ? RT_MAX_THREADS : nthreads);
    atomic_init(&p->fast_fs, 0);
    atomic_init(&p->byte_fs, 0);
    atomic_init(&p->wake_ns, 0);
    atomic_init(&p->post_ns, 0);
    atomic_init(&p->min_cost, 0);
    atomic_init(&p->floor_cost, 0);
    atomic_init(&p->recal_at, 0);
    atomic_init(&p->gen, 0);
    atomic_init(&p->inside, 0);
    atomic_init(&p->sleepers, 0);
    atomic_init(&p->waiting, 0);
    atomic_init(&p->stop, false);
    atomic_init(&p->spin_ns, RT_SPIN_DEFAULT_NS);
    atomic_init(&p->next, 0);
    atomic_init(&p->ndone, 0);
    return true;
no_done:
    pthread_cond_destroy(&p->wake);
no_wake:
    pthread_mutex_destroy(&p->mu);
no_mu:
    pthread_mutex_destroy(&p->busy);
    return false;
}

/* ---- the workers -------------------------------------------------------- */

static bool par_ready(uint64_t g, uint64_t seen) { return g != seen && !(g & 1); }

/* Claims and runs tasks of the published job until none is left. */
static void par_drain(rt_par *p, rt_task_fn task, void *ud, int64_t n)
{
    for (;;) {
        int64_t i = atomic_fetch_add(&p->next, 1);
        if (i >= n)
            return;
        task(ud, i);
        if (atomic_fetch_add(&p->ndone, 1) + 1 == n && atomic_load(&p->waiting)) {
            pthread_mutex_lock(&p->mu);
            pthread_cond_signal(&p->done);
            pthread_mutex_unlock(&p->mu);
        }
    }
}

/* Waits for a job newer than seen (or stop): spins, then blocks. */
static uint64_t par_wait(rt_par *p, uint64_t seen)
{
    uint64_t g, spin = atomic_load_explicit(&p->spin_ns, memory_order_relaxed), t0 = 0;
    for (unsigned k = 0;; k++) {
        g = atomic_load(&p->gen);
        if (par_ready(g, seen) || atomic_load(&p->stop))
            return g;
        if ((k & 31) == 0) {
            uint64_t t = par_now();
            if (!t0)
                t0 = t;
            else if (t - t0 >= spin)
                break;
        }
        par_pause();
    }
    pthread_mutex_lock(&p->mu);
    atomic_fetch_add(&p->sleepers, 1);
    while (!par_ready(g = atomic_load(&p->gen), seen) && !atomic_load(&p->stop))
        pthread_cond_wait(&p->wake, &p->mu);
    atomic_fetch_sub(&p->sleepers, 1);
    pthread_mutex_unlock(&p->mu);
    return g;
}

static void *par_worker(void *arg)
{
    rt_par *p = arg;
    uint64_t seen = p->start_gen; /* written before the thread was created */
    for (;;) {
        uint64_t g = par_wait(p, seen);
        if (atomic_load(&p->stop))
            return NULL;
        atomic_fetch_add(&p->inside, 1);
        if (atomic_load(&p->gen) == g) /* the job is still published: its fields hold */
            par_drain(p, p->task, p->task_ud, p->ntasks);
        atomic_fetch_sub(&p->inside, 1);
        seen = g;
    }
}

/* Starts nthreads - 1 workers (busy held). Workers block asynchronous
 * signals, so the application's handlers run on its own threads; faults
 * (SIGSEGV, ...) stay deliverable. */
static void par_start(rt_par *p)
{
    int want = atomic_load(&p->nthreads) - 1;
    sigset_t mask, old;
    sigfillset(&mask);
    static const int sync_signals[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP, SIGABRT};
    for (size_t i = 0; i < sizeof sync_signals / sizeof *sync_signals; i++)
        sigdelset(&mask, sync_signals[i]);
    pthread_sigmask(SIG_SETMASK, &mask, &old);
    atomic_store(&p->stop, false);
    p->start_gen = atomic_load(&p->gen);
    for (int i = 0; i < want; i++) {
        if (pthread_create(&p->threads[i], NULL, par_worker, p) != 0)
            break;
        p->nworkers++;
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (!p->nworkers)
        p->start_failed = true;
}

/* Stops and joins the workers (busy held). */
static void par_stop(rt_par *p)
{
    if (!p->nworkers)
        return;
    atomic_store(&p->stop, true);
    pthread_mutex_lock(&p->mu);
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->mu);
    for (int i = 0; i < p->nworkers; i++)
        pthread_join(p->threads[i], NULL);
    p->nworkers = 0;
    atomic_store(&p->stop, false);
}

/* One job on the pool, the caller taking part (busy held, nworkers > 0). */
static void par_pool_run(rt_par *p, int64_t n, rt_task_fn task, void *ud)
{
    uint64_t g = atomic_load(&p->gen);
    atomic_store(&p->gen, g + 1);
    for (unsigned k = 0; atomic_load(&p->inside) != 0; k++) {
        if (k < 4096)
            par_pause();
        else
            sched_yield(); /* a worker was preempted inside: let it leave */
    }
    p->task = task;
    p->task_ud = ud;
    p->ntasks = n;
    atomic_store(&p->next, 0);
    atomic_store(&p->ndone, 0);
    atomic_store(&p->gen, g + 2);
    if (atomic_load(&p->sleepers) > 0) {
        pthread_mutex_lock(&p->mu);
        pthread_cond_broadcast(&p->wake);
        pthread_mutex_unlock(&p->mu);
    }
    par_drain(p, task, ud, n);
    uint64_t spin = atomic_load_explicit(&p->spin_ns, memory_order_relaxed), t0 = 0;
    for (unsigned k = 0; atomic_load(&p->ndone) < n; k++) {
        if ((k & 31) == 0) {
            uint64_t t = par_now();
            if (!t0)
                t0 = t;
            else if (t - t0 >= spin)
                break;
        }
        par_pause();
    }
    if (atomic_load(&p->ndone) < n) {
        pthread_mutex_lock(&p->mu);
        atomic_store(&p->waiting, 1);
        while (atomic_load(&p->ndone) < n)
            pthread_cond_wait(&p->done, &p->mu);
        atomic_store(&p->waiting, 0);
        pthread_mutex_unlock(&p->mu);
    }
}

/* busy held. */
static bool par_run_locked(rt_par *p, int64_t n, rt_task_fn task, void *ud)
{
    if (p->cb) {
        p->cb(p->cb_ud, n, task, ud);
        return true;
    }
    if (!p->nworkers && !p->start_failed)
        par_start(p);
    if (!p->nworkers)
        return false;
    par_pool_run(p, n, task, ud);
    return true;
}

bool rt_par_run(rt_par *p, int64_t n, rt_task_fn task, void *ud)
{
    if (!p || n < 2 || atomic_load_explicit(&p->nthreads, memory_order_relaxed) < 2)
        return false;
    if (pthread_mutex_trylock(&p->busy) != 0)
        return false; /* another thread's launch has the pool: run inline */
    bool ran = par_run_locked(p, n, task, ud);
    pthread_mutex_unlock(&p->busy);
    return ran;
}

void rt_par_set_threads(rt_par *p, int nthreads)
{
    pthread_mutex_lock(&p->busy);
    par_stop(p);
    atomic_store(&p->nthreads, nthreads < 1 ? 1 : nthreads > RT_MAX_THREADS ? RT_MAX_THREADS : nthreads);
    par_forget(p);
    pthread_mutex_unlock(&p->busy);
}

void rt_par_set_callback(rt_par *p, kiln_parallel_for cb, void *cb_ud)
{
    pthread_mutex_lock(&p->busy);
    par_stop(p);
    p->cb = cb;
    p->cb_ud = cb_ud;
    par_forget(p);
    pthread_mutex_unlock(&p->busy);
}

void rt_par_fini(rt_par *p)
{
    pthread_mutex_lock(&p->busy);
    par_stop(p);
    pthread_mutex_unlock(&p->busy);
    pthread_cond_destroy(&p->done);
    pthread_cond_destroy(&p->wake);
    pthread_mutex_destroy(&p->mu);
    pthread_mutex_destroy(&p->busy);
}

int rt_par_threads(rt_par *p) { return atomic_load_explicit(&p->nthreads, memory_order_relaxed); }

int rt_par_workers(rt_par *p)
{
    pthread_mutex_lock(&p->busy);
    int n = p->nworkers;
    pthread_mutex_unlock(&p->busy);
    return n;
}

/* ---- calibration -------------------------------------------------------- */

/* Femtoseconds per byte moved (read + written) copying half bytes from
 * buf to buf + half: the best of a few batches, after a warm-up. */
static uint64_t par_copy_fs(char *buf, size_t half, int batch)
{
    memset(buf, 1, 2 * half);
    uint64_t best = UINT64_MAX;
    for (int r = 0; r < 6; r++) {
        uint64_t t0 = par_now();
        for (int b = 0; b < batch; b++)
            memcpy(buf + (b & 1 ? 0 : half), buf + (b & 1 ? half : 0), half);
        uint64_t t = par_now() - t0;
        if (r > 0 && t < best)
            best = t;
    }
    volatile char sink = buf[half / 2];
    (void)sink;
    uint64_t fs = best * 1000000u / (2 * half * (uint64_t)batch);
    return fs ? fs : 1;
}

static uint64_t par_stream_fs(uint64_t fallback)
{
    size_t bytes = 2 * (size_t)RT_STREAM_BYTES;
    void *m = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED)
        return fallback;
    uint64_t fs = par_copy_fs(m, RT_STREAM_BYTES, 4);
    munmap(m, bytes);
    return fs;
}

typedef struct par_probe {
    atomic_int started;
    int want;
    uint64_t deadline;
} par_probe;

/* Each task waits (bounded) until every thread has started one: the run
 * lasts until the last thread to wake is running. */
static void par_probe_task(void *ud, int64_t i)
{
    (void)i;
    par_probe *pr = ud;
    atomic_fetch_add(&pr->started, 1);
    while (atomic_load(&pr->started) < pr->want && par_now() < pr->deadline)
        par_pause();
}

static int par_cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static void par_noop_task(void *ud, int64_t i)
{
    (void)ud;
    (void)i;
}

/* Lets every worker go to sleep (bounded): each trial measures a cold run. */
static void par_let_sleep(rt_par *p)
{
    for (int k = 0; p->nworkers && atomic_load(&p->sleepers) < p->nworkers && k < 200; k++) {
        struct timespec ts = {0, RT_SPIN_DEFAULT_NS};
        nanosleep(&ts, NULL);
    }
}

/* Cold-run costs (busy held, workers started or a callback set):
 * *post_ns, the caller's own cost of a run that needs no other thread
 * (posting, waking, joining: the median of trials with no-op tasks), and
 * the return value, the latency until every thread runs a task (the
 * minimum of trials: what the machine can do; a trial slowed by the
 * machine's other load says little, and at launch a late worker only
 * leaves its chunks to the others). */
static uint64_t par_wake_ns(rt_par *p, int threads, uint64_t *post_ns)
{
    uint64_t post[RT_WAKE_TRIALS], wake = UINT64_MAX;
    for (int r = 0; r < RT_WAKE_TRIALS; r++) {
        par_let_sleep(p);
        uint64_t t0 = par_now();
        par_run_locked(p, threads, par_noop_task, NULL);
        post[r] = par_now() - t0;
        par_let_sleep(p);
        par_probe pr;
        atomic_init(&pr.started, 0);
        pr.want = threads;
        t0 = par_now();
        pr.deadline = t0 + RT_WAKE_TIMEOUT_NS;
        par_run_locked(p, threads, par_probe_task, &pr);
        uint64_t t = par_now() - t0;
        wake = t < wake ? t : wake;
    }
    qsort(post, RT_WAKE_TRIALS, sizeof *post, par_cmp_u64);
    *post_ns = post[RT_WAKE_TRIALS / 2] ? post[RT_WAKE_TRIALS / 2] : 1;
    return wake ? wake : 1;
}

/* Sets wake, post and the idle spin from a measurement and returns the
 * smallest cost worth splitting over threads (busy held). */
static uint64_t par_apply(rt_par *p, int threads, uint64_t fs, uint64_t wake, uint64_t post)
{
    atomic_store(&p->wake_ns, wake);
    atomic_store(&p->post_ns, post);
    uint64_t spin = wake < RT_SPIN_MIN_NS ? RT_SPIN_MIN_NS : wake > RT_SPIN_MAX_NS ? RT_SPIN_MAX_NS : wake;
    atomic_store(&p->spin_ns, spin);
    /* Work t alone; split: post + wake + (t - wake) / T. The split must
     * save more than its own cost again: (t - wake)(T-1)/T > 2 post. */
    double t = (double)wake + 2.0 * (double)post * threads / (threads - 1);
    double c = t * 1e6 / (double)fs;
    return c < 1.0 ? 1 : c >= 1.8e19 ? UINT64_MAX : (uint64_t)c;
}

/* busy held. Returns the new min_cost (UINT64_MAX: never split). */
static uint64_t par_calibrate(rt_par *p)
{
    int T = atomic_load(&p->nthreads);
    uint64_t mc = UINT64_MAX;
    if (T >= 2 && !p->cb && !p->nworkers && !p->start_failed)
        par_start(p);
    int threads = p->cb ? T : p->nworkers + 1;
    if (threads >= 2) {
        uint64_t fs = atomic_load(&p->byte_fs);
        if (!fs) {
            fs = par_stream_fs(atomic_load(&p->fast_fs));
            atomic_store(&p->byte_fs, fs);
        }
        uint64_t post, wake = par_wake_ns(p, threads, &post);
        mc = par_apply(p, threads, fs, wake, post);
        /* A wake this slow means the machine's other load held the
         * workers off the cores: measure again later (backing off), so
         * a busy minute does not set the threshold for good. */
        if (wake > RT_WAKE_DISTURBED_NS) {
            p->recal_backoff = p->recal_backoff ? 2 * p->recal_backoff : RT_RECAL_FIRST_NS;
            if (p->recal_backoff > RT_RECAL_MAX_NS)
                p->recal_backoff = RT_RECAL_MAX_NS;
            atomic_store(&p->recal_at, par_now() + p->recal_backoff);
        } else {
            atomic_store(&p->recal_at, 0);
        }
    }
    atomic_store(&p->min_cost, mc);
    return mc;
}

/* The cost below which no machine would split (see rt_par_min_cost);
 * measures the L1 copy speed once. */
static uint64_t par_floor_cost(rt_par *p)
{
    uint64_t fast = atomic_load(&p->fast_fs);
    if (!fast) {
        char buf[2 * RT_FAST_BYTES];
        fast = par_copy_fs(buf, RT_FAST_BYTES, 16);
        atomic_store(&p->fast_fs, fast);
    }
    int T = atomic_load(&p->nthreads);
    if (T < 2)
        return UINT64_MAX;
    double ns = RT_WAKE_FLOOR_NS * (1.0 + 2.0 * T / (T - 1));
    uint64_t fl = (uint64_t)(ns * 1e6 / (double)fast);
    fl = fl ? fl : 1;
    atomic_store(&p->floor_cost, fl);
    return fl;
}

uint64_t rt_par_min_cost(rt_par *p, double cost)
{
    /* The split rule (par_calibrate) with the cheapest post and wake any
     * machine has, and the fastest streaming: work that fails it cannot
     * pass the real one, and never starts threads or reads the clock. */
    uint64_t fl = atomic_load_explicit(&p->floor_cost, memory_order_relaxed);
    if (!fl)
        fl = par_floor_cost(p);
    if (cost <= (double)fl)
        return 0;
    uint64_t mc = atomic_load_explicit(&p->min_cost, memory_order_relaxed);
    if (mc) {
        uint64_t due = atomic_load_explicit(&p->recal_at, memory_order_relaxed);
        if (!due || par_now() < due)
            return mc;
        if (pthread_mutex_trylock(&p->busy) != 0)
            return mc; /* another launch runs: measure another time */
    } else {
        pthread_mutex_lock(&p->busy);
    }
    mc = atomic_load(&p->min_cost);
    uint64_t due = atomic_load(&p->recal_at);
    if (!mc || (due && par_now() >= due))
        mc = par_calibrate(p);
    pthread_mutex_unlock(&p->busy);
    return mc;
}

bool rt_par_calib_get(rt_par *p, rt_par_calib *c)
{
    pthread_mutex_lock(&p->busy);
    c->threads = atomic_load(&p->nthreads);
    c->fast_fs = atomic_load(&p->fast_fs);
    c->byte_fs = atomic_load(&p->byte_fs);
    c->wake_ns = atomic_load(&p->wake_ns);
    c->post_ns = atomic_load(&p->post_ns);
    uint64_t mc = atomic_load(&p->min_cost);
    /* a measurement of all threads, undisturbed (no recalibration due) */
    bool ok = !p->cb && c->threads >= 2 && p->nworkers + 1 == c->threads && mc &&
              mc != UINT64_MAX && !atomic_load(&p->recal_at) && c->fast_fs && c->byte_fs &&
              c->wake_ns && c->post_ns;
    pthread_mutex_unlock(&p->busy);
    return ok;
}

bool rt_par_calib_set(rt_par *p, const rt_par_calib *c)
{
    pthread_mutex_lock(&p->busy);
    bool ok = !p->cb && c->threads >= 2 && c->threads == atomic_load(&p->nthreads) &&
              c->fast_fs && c->byte_fs && c->wake_ns && c->post_ns;
    if (ok) {
        atomic_store(&p->fast_fs, c->fast_fs);
        atomic_store(&p->byte_fs, c->byte_fs);
        atomic_store(&p->floor_cost, 0); /* from fast_fs at the next launch */
        atomic_store(&p->recal_at, 0);
        atomic_store(&p->min_cost, par_apply(p, c->threads, c->byte_fs, c->wake_ns, c->post_ns));
    }
    pthread_mutex_unlock(&p->busy);
    return ok;
}
