// Persistent workers that wait on a generation counter: a short spin (a training step issues
// hundreds of small kernels back to back, and a futex wake-up costs tens of microseconds), then a
// condition variable, so idle workers do not compete with OpenBLAS's threads between kernels.
#include "pool.h"
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define CPU_RELAX() _mm_pause()
#else
#define CPU_RELAX() ((void)0)
#endif

#define MAX_THREADS 256
#define SPIN_ITERS 4000 // about 20-100 us of pause instructions before sleeping

static int nthreads = 1;
static pthread_once_t once = PTHREAD_ONCE_INIT;
static int requested = 1;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static atomic_int generation;
static atomic_int pending;
static atomic_int busy;
static int sleepers; // guarded by mu

static pool_fn job_fn;
static void *job_ctx;
static long job_n, job_chunk;
static int job_parts;
static _Thread_local int in_worker;

static void run_part(int part) {
  long b = part * job_chunk, e = b + job_chunk;
  if (e > job_n) e = job_n;
  if (b < e) job_fn(job_ctx, b, e, part);
}

static void *worker(void *arg) {
  int tid = (int)(long)arg;
  int seen = 0;
  in_worker = 1;
  for (;;) {
    int spins = 0;
    while (atomic_load_explicit(&generation, memory_order_acquire) == seen) {
      if (++spins < SPIN_ITERS) { CPU_RELAX(); continue; }
      pthread_mutex_lock(&mu);
      sleepers++;
      while (atomic_load_explicit(&generation, memory_order_acquire) == seen) pthread_cond_wait(&cv, &mu);
      sleepers--;
      pthread_mutex_unlock(&mu);
    }
    seen = atomic_load_explicit(&generation, memory_order_acquire);
    if (tid < job_parts) run_part(tid);
    atomic_fetch_sub_explicit(&pending, 1, memory_order_release);
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
  int parts = nthreads;
  if (n / grain < parts) parts = (int)(n / grain);
  int expected = 0;
  if (parts < 2 || in_worker || !atomic_compare_exchange_strong(&busy, &expected, 1)) {
    fn(ctx, 0, n, 0);
    return;
  }
  job_fn = fn; job_ctx = ctx; job_n = n; job_parts = parts;
  job_chunk = (n + parts - 1) / parts;
  // Every worker acknowledges the generation (those without a part just decrement).
  atomic_store_explicit(&pending, nthreads - 1, memory_order_relaxed);
  pthread_mutex_lock(&mu);
  atomic_fetch_add_explicit(&generation, 1, memory_order_release);
  if (sleepers) pthread_cond_broadcast(&cv);
  pthread_mutex_unlock(&mu);
  in_worker = 1; // a nested pool_run from fn runs inline
  run_part(0);
  in_worker = 0;
  while (atomic_load_explicit(&pending, memory_order_acquire) != 0) CPU_RELAX();
  atomic_store_explicit(&busy, 0, memory_order_release);
}
