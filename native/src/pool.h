// A small persistent thread pool: runs the fused loops and splits the matrix products (OpenBLAS
// itself is set to one thread).
#ifndef NORMLAB_POOL_H
#define NORMLAB_POOL_H

// fn(ctx, begin, end, tid) handles items [begin, end) of a job; tid in [0, pool_threads()).
typedef void (*pool_fn)(void *ctx, long begin, long end, int tid);

// Starts nthreads - 1 workers (the calling thread counts as tid 0). Idempotent.
void pool_init(int nthreads);
int pool_threads(void);

// Cuts [0, n) into contiguous chunks of at least `grain` items (a few per thread) that the caller
// and the workers claim dynamically; returns when every chunk is done. Runs inline when n < 2 *
// grain, when called from inside a job, or while another thread is using the pool. Kernels must
// not let results depend on which thread runs a chunk (tid is only for per-thread scratch), so
// results are the same for any NORMLAB_THREADS.
void pool_run(long n, long grain, pool_fn fn, void *ctx);

#endif
