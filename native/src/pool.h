// A small persistent thread pool for the fused loops (OpenBLAS keeps its own threads for sgemm).
#ifndef NORMLAB_POOL_H
#define NORMLAB_POOL_H

// fn(ctx, begin, end, tid) handles items [begin, end) of a job; tid in [0, pool_threads()).
typedef void (*pool_fn)(void *ctx, long begin, long end, int tid);

// Starts nthreads - 1 workers (the calling thread is the last one). Idempotent.
void pool_init(int nthreads);
int pool_threads(void);

// Splits [0, n) into at most pool_threads() contiguous chunks of at least `grain` items and runs
// them in parallel; the caller works on chunk 0 and returns when every chunk is done. Runs inline
// when n < 2 * grain, when called from a worker, or while another thread is using the pool. The
// split depends only on n, grain and the thread count, so results are reproducible for a given
// NORMLAB_THREADS.
void pool_run(long n, long grain, pool_fn fn, void *ctx);

#endif
