// Persistent workers and dynamic chunks. pool_run cuts a job into a few chunks per thread; the
// caller and the workers claim chunks from a shared counter until none is left, so a worker that
// the OS has not scheduled yet (the machine may be busy) delays nothing: the caller takes its
// chunks. Idle workers spin briefly (a training step issues hundreds of small kernels back to
// back, and a futex wake-up costs tens of microseconds), then sleep on a condition variable, so
// they do not hold the cores when the process is doing something else.
#include "pool.h"
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define CPU_RELAX() _mm_pause()
#else
#define CPU_RELAX() ((void)0)
#endif

#define MAX_THREADS 256
#define SPIN_ITERS 2000  // pause instructions (~10-50 us) before an idle worker sleeps
#define CHUNKS_PER_THREAD 4

static int nthreads = 1;
static pthread_once_t once = PTHREAD_ONCE_INIT;
static int requested = 1;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static int sleepers; // guarded by mu
static atomic_int busy; // a job is running (another caller thread runs its job inline)

// state = generation << 32 | next chunk to claim. A chunk is claimed by a CAS that also checks the
// generation, so a worker that wakes up late can never claim a chunk of a newer job by mistake.
static _Atomic uint64_t state;
static atomic_long done; // chunks finished in the current job
static pool_fn job_fn;
static void *job_ctx;
static long job_n, job_chunk, job_chunks;
static _Thread_local int in_pool;

#define GEN(s) ((uint32_t)((s) >> 32))
#define IDX(s) ((uint32_t)(s))

// Claims and runs chunks of generation `gen` until none is left (or a newer job has started).
static void work(uint32_t gen, int tid) {
  for (;;) {
    uint64_t s = atomic_load_explicit(&state, memory_order_acquire);
    if (GEN(s) != gen || IDX(s) >= (uint64_t)job_chunks) return;
    if (!atomic_compare_exchange_weak_explicit(&state, &s, s + 1, memory_order_acq_rel, memory_order_acquire)) continue;
    // The claim succeeded for `gen`, so that job cannot finish (nor its fields change) before this chunk is done.
    long b = (long)IDX(s) * job_chunk, e = b + job_chunk < job_n ? b + job_chunk : job_n;
    job_fn(job_ctx, b, e, tid);
    atomic_fetch_add_explicit(&done, 1, memory_order_acq_rel);
  }
}

static void *worker(void *arg) {
  int tid = (int)(long)arg;
  uint32_t seen = 0;
  in_pool = 1;
  for (;;) {
    int spins = 0;
    uint32_t gen;
    while ((gen = GEN(atomic_load_explicit(&state, memory_order_acquire))) == seen) {
      if (++spins < SPIN_ITERS) { CPU_RELAX(); continue; }
      pthread_mutex_lock(&mu);
      sleepers++;
      while (GEN(atomic_load_explicit(&state, memory_order_acquire)) == seen) pthread_cond_wait(&cv, &mu);
      sleepers--;
      pthread_mutex_unlock(&mu);
      spins = 0;
    }
    seen = gen;
    work(gen, tid);
  }
  return NULL;
}

static void start(void) {
  int n = requested < 1 ? 1 : requested > MAX_THREADS ? MAX_THREADS : requested;
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  int started = 1;
  for (int t = 1; t < n; t++) {
    pthread_t th;
    if (pthread_create(&th, &attr, worker, (void *)(long)t) != 0) break;
    started++;
  }
  pthread_attr_destroy(&attr);
  nthreads = started;
}

void pool_init(int n) {
  requested = n;
  pthread_once(&once, start);
}

int pool_threads(void) { return nthreads; }

void pool_run(long n, long grain, pool_fn fn, void *ctx) {
  if (n <= 0) return;
  if (grain < 1) grain = 1;
  long chunks = n / grain;
  if (chunks > (long)nthreads * CHUNKS_PER_THREAD) chunks = (long)nthreads * CHUNKS_PER_THREAD;
  int expected = 0;
  if (chunks < 2 || nthreads < 2 || in_pool || !atomic_compare_exchange_strong(&busy, &expected, 1)) {
    fn(ctx, 0, n, 0);
    return;
  }
  job_fn = fn; job_ctx = ctx; job_n = n;
  job_chunk = (n + chunks - 1) / chunks;
  job_chunks = (n + job_chunk - 1) / job_chunk;
  atomic_store_explicit(&done, 0, memory_order_relaxed);
  uint32_t gen = GEN(atomic_load_explicit(&state, memory_order_relaxed)) + 1;
  pthread_mutex_lock(&mu);
  atomic_store_explicit(&state, (uint64_t)gen << 32, memory_order_release);
  if (sleepers) pthread_cond_broadcast(&cv);
  pthread_mutex_unlock(&mu);
  in_pool = 1; // a nested pool_run from fn runs inline
  work(gen, 0);
  in_pool = 0;
  // Chunks claimed by workers may still be running.
  for (long spins = 0; atomic_load_explicit(&done, memory_order_acquire) != job_chunks; spins++) {
    if (spins < 20000) CPU_RELAX(); else sched_yield();
  }
  atomic_store_explicit(&busy, 0, memory_order_release);
}
