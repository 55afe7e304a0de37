/*
 * runtime/pool.h — parallel execution for one context: its thread
 * settings, its worker threads (started lazily) or the application's
 * parallel-for callback, and the calibration the launch policy
 * (runtime/kernel.c, rt_launch) decides with.
 *
 * A parallel run executes task(ud, i) for every i in [0, n) exactly once,
 * on the caller's thread and nthreads - 1 workers (or on the callback's
 * threads), and returns when every call has returned. Tasks are claimed
 * one at a time from a shared counter, so a worker that wakes late (or
 * never, on a busy machine) leaves its share to the others instead of
 * holding the caller up.
 *
 * Invariants:
 *   - one run at a time per rt_par: a launch that finds the pool busy
 *     (another thread of the application evaluating on the same context)
 *     runs inline instead of waiting;
 *   - workers exist only while settings allow them: none before the first
 *     parallel run, none with a callback set, none after rt_par_fini;
 *     changing the settings stops them (a running launch finishes first);
 *   - idle workers block on a condition variable after spinning for about
 *     the time a wake-up costs (the measured cold wake, bounded): a pool
 *     with nothing to do burns no core;
 *   - the job fields are written only while no worker is between entering
 *     and leaving a job (the `inside` count is 0 and `gen` is odd), and
 *     read only after seeing an even `gen`: a late worker never runs a
 *     task of a job that has ended;
 *   - no allocation: the worker table is part of rt_par (thread stacks
 *     come from pthreads), so starting the pool cannot fail a call; if a
 *     thread cannot be created the run uses the threads that could;
 *   - calibration (once per settings) is cached here: the cold wake cost,
 *     the time per byte of streaming, and from them the smallest cost worth
 *     splitting (rt_par_min_cost). A calibration whose wake was disturbed
 *     by the machine's other load is repeated later, backing off.
 * runtime/ knows no graph: tasks are opaque functions.
 */
#ifndef KILN_RT_POOL_H
#define KILN_RT_POOL_H

#include "runtime/rt.h"

enum { RT_MAX_THREADS = KILN_MAX_THREADS };

typedef void (*rt_task_fn)(void *ud, int64_t i);

typedef struct rt_par {
    /* Settings, changed under busy; read by launches with atomic loads. */
    atomic_int nthreads;  /* >= 1: threads a run may use, caller included */
    kiln_parallel_for cb; /* the application's parallel-for, or NULL */
    void *cb_ud;
    pthread_mutex_t busy; /* held by a parallel run and by setting changes */

    /* Calibration for the current settings (0: not measured yet). */
    atomic_ullong fast_fs;  /* femtoseconds per byte, L1-resident memcpy */
    atomic_ullong byte_fs;  /* femtoseconds per byte, L2-sized memcpy */
    atomic_ullong wake_ns;  /* cold wake: post a run until all threads run */
    atomic_ullong post_ns;  /* the caller's cost of a run no one joins */
    atomic_ullong min_cost; /* smallest cost (bytes) split over threads */
    atomic_ullong floor_cost; /* below it nothing is split or measured */
    atomic_ullong recal_at; /* CLOCK_MONOTONIC ns to calibrate again; 0 never */
    uint64_t recal_backoff; /* under busy */
    bool start_failed;      /* no worker could be started (under busy) */

    /* The worker pool (nworkers > 0 while it runs). */
    int nworkers;
    pthread_mutex_t mu;  /* sleeping and waking only */
    pthread_cond_t wake; /* workers wait here for a job */
    pthread_cond_t done; /* the caller waits here for the job's end */
    atomic_ullong gen;   /* job generation: odd while the job is written */
    atomic_int inside;   /* workers between entering and leaving a job */
    atomic_int sleepers; /* workers blocked on wake */
    atomic_int waiting;  /* the caller is blocked on done */
    atomic_bool stop;
    uint64_t start_gen;  /* gen when the workers were started */
    atomic_ullong spin_ns; /* how long idle workers spin before blocking */
    rt_task_fn task;     /* the current job (see the invariants) */
    void *task_ud;
    int64_t ntasks;
    atomic_llong next;   /* next task index to claim */
    atomic_llong ndone;  /* tasks finished */
    pthread_t threads[RT_MAX_THREADS - 1];
} rt_par;

/* nthreads >= 1 (clamped to RT_MAX_THREADS). Starts nothing. false if a
 * mutex or condition variable cannot be initialized. */
bool rt_par_init(rt_par *p, int nthreads);
/* Stops and joins the workers (waits for a running launch). */
void rt_par_fini(rt_par *p);
/* New settings: a thread count >= 1 (clamped), or the application's
 * parallel-for (NULL: kiln's own workers). Each stops the workers (after
 * a run in progress) and forgets the wake calibration. */
void rt_par_set_threads(rt_par *p, int nthreads);
void rt_par_set_callback(rt_par *p, kiln_parallel_for cb, void *cb_ud);
/* The thread count runs assume (callback included). */
int rt_par_threads(rt_par *p);
/* Worker threads currently alive (0 with a callback). */
int rt_par_workers(rt_par *p);

/* Runs task(ud, i) for i in [0, n) over the threads. false (nothing run)
 * if it cannot now: one thread only, another run in progress, no thread
 * could be started; the caller then runs the tasks itself. */
bool rt_par_run(rt_par *p, int64_t n, rt_task_fn task, void *ud);

/* The launch policy's threshold: the smallest cost (in bytes streamed, see
 * rt_work in kernel.h) that is split over threads, or 0 if cost is too
 * small to split however the machine measures (no calibration is run for
 * it). Calibrates on first use for the current settings: starts the pool
 * (or calls the callback), measures streaming speed, the caller's cost of
 * a run (post) and the cold wake latency (wake). With t = cost *
 * time_per_byte the work's time alone, a split takes about post + wake +
 * (t - wake) / T and is made when it saves more than post again:
 * (t - wake) * (T - 1) / T > 2 * post. */
uint64_t rt_par_min_cost(rt_par *p, double cost);

/* The calibration, to keep it across processes (the frontend stores it
 * with the kernel cache, runtime/ does no file I/O). get: true if p holds
 * an undisturbed measurement with all its threads (kiln's own, no
 * callback). set: uses c instead of measuring (true), if c is for p's
 * thread count and p has no callback; the workers still start at the
 * first launch worth splitting. */
typedef struct rt_par_calib {
    int threads;
    uint64_t fast_fs, byte_fs, wake_ns, post_ns;
} rt_par_calib;
bool rt_par_calib_get(rt_par *p, rt_par_calib *c);
bool rt_par_calib_set(rt_par *p, const rt_par_calib *c);

/* Every CPU this process may run on (sched affinity; online CPUs if that
 * is unknown); >= 1. */
int rt_cpu_count(void);
/* Parses a thread count ("4", " 2 ", "0" = every CPU): true and *n in
 * [0, RT_MAX_THREADS] if s is a whole decimal integer in that range. */
bool rt_parse_threads(const char *s, int *n);

#endif /* KILN_RT_POOL_H */
