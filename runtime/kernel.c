/*
 * runtime/kernel.c — launching kernels (see kernel.h for the ABI): the
 * launch policy.
 *
 *   inline    one thread, a kernel that may not split, an outer loop
 *             of one chunk, or a cost below the context's threshold
 *             (runtime/pool.c: a split must save more than two wake-ups)
 *   split     otherwise: [0, outer) cut into contiguous chunks, about
 *             RT_CHUNKS_PER_THREAD per thread so that a thread slowed by
 *             the machine's other load leaves its share to the others
 *             (one per thread for w->wide: column reductions, whose
 *             chunks of columns lose speed when narrower), each chunk a
 *             multiple of w->grain iterations (elementwise kernels, and
 *             reductions/scans over their kept dims)
 *   tasks     a reduction with fewer grains of outputs than threads (a
 *             full reduction: one output) and trees long enough to cut or
 *             FLAT sequences of several blocks: inline, each pairwise tree
 *             running its top subtrees as tasks on the threads
 *             (rt_pw_tree_tasks), each FLAT sequence its blocks
 *             (rt_flat_tasks), both through rt_kargs.trees
 *
 * Invariants: a launch runs every index of [0, outer) exactly once; how it
 * is split never changes a result — the planner asks for a grain when the
 * outer loop is the vectorized one, so every element is computed by the
 * same (vector or scalar) code at any thread count, and a tree's cut and
 * a FLAT sequence's blocks depend on its length only (runtime/reduce.h).
 * Deciding to run inline costs a few loads and compares: small work wakes
 * no thread.
 */
#include "runtime/kernel.h"
#include "runtime/pool.h"
#include "runtime/reduce.h"

enum { RT_CHUNKS_PER_THREAD = 4 };

typedef struct rt_chunks {
    rt_kernel_fn fn;
    const rt_kargs *a;
    int64_t outer, size; /* chunk c is [c*size, min(outer, (c+1)*size)) */
} rt_chunks;

static void rt_run_chunk(void *ud, int64_t c)
{
    const rt_chunks *ch = ud;
    int64_t begin = c * ch->size;
    int64_t end = ch->outer - begin > ch->size ? begin + ch->size : ch->outer;
    ch->fn(ch->a, begin, end);
}

int64_t rt_launch(struct rt_par *par, rt_kernel_fn fn, const rt_kargs *a, int64_t outer,
                  const rt_work *w)
{
    if (!fn || !a || outer <= 0)
        return 0;
    rt_trees trees = {rt_pw_tree_tasks, rt_scan_tasks, rt_pw_tree_scratch, rt_flat_tasks, NULL, 0};
    rt_kargs ka = *a;
    ka.trees = &trees;
    int threads = par ? rt_par_threads(par) : 1;
    if (threads > 1 && w && (w->parallel || w->trees > 0)) {
        uint64_t min_cost = rt_par_min_cost(par, w->cost);
        if (min_cost && w->cost >= (double)min_cost) {
            int64_t grain = w->grain > 0 ? w->grain : 1;
            int64_t units = (outer + grain - 1) / grain;
            bool tasks = units < threads &&
                         (rt_pw_tree_depth(w->trees) > 0 || rt_flat_blocks(w->flat) > 1);
            if (w->parallel && units > 1 && !tasks) {
                int64_t want = (int64_t)threads * (w->wide ? 1 : RT_CHUNKS_PER_THREAD);
                int64_t per = (units + want - 1) / want; /* grains per chunk */
                rt_chunks ch = {fn, &ka, outer, per * grain};
                int64_t n = (outer + ch.size - 1) / ch.size;
                if (n > 1 && rt_par_run(par, n, rt_run_chunk, &ch))
                    return n;
            } else if (tasks) {
                trees.par = par;
                fn(&ka, 0, outer);
                return trees.tasks > 1 ? trees.tasks : 1;
            }
        }
    }
    fn(&ka, 0, outer);
    return 1;
}
