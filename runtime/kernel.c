/*
 * runtime/kernel.c — launching kernels (see kernel.h for the ABI).
 *
 * Invariant: a launch runs every index of [0, outer) exactly once. Single
 * threaded for now; the thread pool will split the range here, in fixed
 * blocks so results never depend on the thread count.
 */
#include "runtime/kernel.h"

void rt_launch(rt_kernel_fn fn, const rt_kargs *a, int64_t outer)
{
    if (!fn || !a || outer <= 0)
        return;
    fn(a, 0, outer);
}
