/*
 * jit/opt.c — the optimization pipeline run on each kernel module before
 * it is handed to the LLJIT (which only runs codegen).
 *
 * Invariants: the pipeline runs with the host TargetMachine (without one
 * the loop vectorizer's cost model sees no vector registers and nothing
 * vectorizes); no fast-math flags exist in our IR, so every exactly rounded
 * op keeps its IEEE meaning through any pipeline. The TargetMachine is not
 * thread-safe: callers hold the engine's compile lock.
 */
#include "jit/internal.h"

#include <llvm-c/Error.h>
#include <llvm-c/Transforms/PassBuilder.h>

#include <stdio.h>

int jit_optimize(LLVMModuleRef M, LLVMTargetMachineRef tm, const jit_opt_config *cfg, char *why,
                 size_t why_cap)
{
    LLVMPassBuilderOptionsRef o = LLVMCreatePassBuilderOptions();
    LLVMPassBuilderOptionsSetLoopVectorization(o, 1);
    LLVMPassBuilderOptionsSetSLPVectorization(o, cfg->slp);
    LLVMPassBuilderOptionsSetLoopInterleaving(o, cfg->interleave);
    LLVMPassBuilderOptionsSetLoopUnrolling(o, cfg->unroll);
    LLVMErrorRef e = LLVMRunPasses(M, cfg->pipeline, tm, o);
    LLVMDisposePassBuilderOptions(o);
    if (e) {
        char *msg = LLVMGetErrorMessage(e);
        snprintf(why, why_cap, "LLVMRunPasses(%s): %s", cfg->pipeline, msg);
        LLVMDisposeErrorMessage(msg);
        return -1;
    }
    return 0;
}
