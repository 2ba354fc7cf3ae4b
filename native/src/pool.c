// Persistent workers and dynamic chunks (docs/native.md, "The thread pool"). pool_run cuts a job
// into a few chunks per thread; the caller and the workers claim chunks until none is left, so a
// worker that the OS has not scheduled yet (the machine may be busy) delays nothing: the caller
// takes its chunks.
//
// Handing a job over: the job is an immutable record on the caller's stack (function, context,
// sizes, chunk count) plus its own completion count. It is published by ONE atomic store of
// `state` = generation | chunk count | next chunk. A chunk is claimed by a CAS on that whole word,
// so "this generation, and a chunk is left" is one atomic fact: a worker still looping on an old
// generation can never claim anything of a newer job (its CAS fails), and it reads the record
// (`job`) only after a successful claim, when that record is the claimed generation's and cannot
// end before the claimed chunk is counted done. After counting its chunk a thread never touches
// the record again (the caller may have returned); waking the caller uses only globals.
// (The previous pool checked the chunk count, a global written before the generation, outside the
// CAS: a late worker could claim a chunk of the new job under the old generation; docs/native.md.)
//
// Waiting is bounded: idle workers, and the caller waiting for chunks still running elsewhere,
// spin briefly (a training step issues hundreds of small kernels back to back, and a wake-up
// costs tens of microseconds), then sleep on a condition variable, so that on a busy machine they
// give their core to the threads that have work.
#include "pool.h"
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define CPU_RELAX() _mm_pause()
#else
#define CPU_RELAX() ((void)0)
#endif

#define MAX_THREADS 256
#define CHUNKS_PER_THREAD 4 // at most 1024 chunks: fits the 16-bit fields of `state`
#define SPIN_ITERS 2000     // pause instructions (~10-50 us) before a waiting thread sleeps

typedef struct {
  pool_fn fn;
  void *ctx;
  long n, chunk, chunks; // items, items per chunk, chunks
  atomic_long done;      // chunks finished
} Job;

// state = generation << 32 | chunks << 16 | next chunk to claim; 0 before the first job. The
// generation is 32 bits: a CAS could only succeed wrongly after 2^32 jobs between its load and itself.
static _Atomic uint64_t state;
#define GEN(s) ((uint32_t)((s) >> 32))
#define CHUNKS(s) ((long)(((s) >> 16) & 0xffff))
#define NEXT(s) ((long)((s) & 0xffff))

static Job *job; // the current generation's record: written before its publication, read after a claim

static int nthreads = 1;
static atomic_int requested;
static pthread_once_t once = PTHREAD_ONCE_INIT;
static atomic_int busy; // a job is running (another caller thread runs its job inline meanwhile)
static _Thread_local int in_pool;

// Sleeping: workers wait on work_cv for a new generation, the caller on done_cv for its job's last
// chunk. `sleepers` and `caller_sleeping` are set under mu before the final check, and read by the
// waker after its own store (all seq_cst), so either the sleeper sees the change or the waker sees
// the sleeper and signals under mu: no lost wake-up.
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t work_cv = PTHREAD_COND_INITIALIZER, done_cv = PTHREAD_COND_INITIALIZER;
static atomic_int sleepers, caller_sleeping;

// Claims and runs chunks of generation `gen` until none is left or a newer job has started.
static void work(uint32_t gen, int tid) {
  uint64_t s = atomic_load_explicit(&state, memory_order_acquire);
  for (;;) {
    if (GEN(s) != gen || NEXT(s) >= CHUNKS(s)) return;
    if (!atomic_compare_exchange_weak_explicit(&state, &s, s + 1, memory_order_acquire, memory_order_acquire)) continue;
    Job *j = job;
    const long b = NEXT(s) * j->chunk, e = b + j->chunk < j->n ? b + j->chunk : j->n, chunks = j->chunks;
    j->fn(j->ctx, b, e, tid);
    // The last touch of the record: once done reaches chunks the caller may return.
    if (atomic_fetch_add(&j->done, 1) + 1 == chunks && atomic_load(&caller_sleeping)) {
      pthread_mutex_lock(&mu);
      pthread_cond_signal(&done_cv);
      pthread_mutex_unlock(&mu);
    }
    s = atomic_load_explicit(&state, memory_order_acquire);
  }
}

static void *worker(void *arg) {
  const int tid = (int)(long)arg;
  uint32_t seen = 0;
  in_pool = 1;
  for (;;) {
    uint64_t s;
    for (int spins = 0; GEN(s = atomic_load_explicit(&state, memory_order_acquire)) == seen;) {
      if (++spins < SPIN_ITERS) { CPU_RELAX(); continue; }
      pthread_mutex_lock(&mu);
      atomic_fetch_add(&sleepers, 1);
      while (GEN(atomic_load(&state)) == seen) pthread_cond_wait(&work_cv, &mu);
      atomic_fetch_sub(&sleepers, 1);
      pthread_mutex_unlock(&mu);
      spins = 0;
    }
    seen = GEN(s);
    work(seen, tid);
  }
  return NULL;
}

static void start(void) {
  const int req = atomic_load(&requested), n = req < 1 ? 1 : req > MAX_THREADS ? MAX_THREADS : req;
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
  int none = 0; // the first call's count wins
  atomic_compare_exchange_strong(&requested, &none, n < 1 ? 1 : n);
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
    const int outer = in_pool;
    in_pool = 1; // a pool_run from fn runs inline too
    fn(ctx, 0, n, 0);
    in_pool = outer;
    return;
  }
  Job j = { .fn = fn, .ctx = ctx, .n = n, .chunk = (n + chunks - 1) / chunks };
  j.chunks = (n + j.chunk - 1) / j.chunk;
  job = &j;
  const uint32_t gen = GEN(atomic_load_explicit(&state, memory_order_relaxed)) + 1;
  atomic_store(&state, (uint64_t)gen << 32 | (uint64_t)j.chunks << 16);
  if (atomic_load(&sleepers)) {
    pthread_mutex_lock(&mu);
    pthread_cond_broadcast(&work_cv);
    pthread_mutex_unlock(&mu);
  }
  in_pool = 1; // a pool_run from fn runs inline
  work(gen, 0);
  in_pool = 0;
  // Chunks claimed by workers may still be running.
  for (int spins = 0; atomic_load_explicit(&j.done, memory_order_acquire) < j.chunks;) {
    if (++spins < SPIN_ITERS) { CPU_RELAX(); continue; }
    pthread_mutex_lock(&mu);
    atomic_store(&caller_sleeping, 1);
    while (atomic_load(&j.done) < j.chunks) pthread_cond_wait(&done_cv, &mu);
    atomic_store(&caller_sleeping, 0);
    pthread_mutex_unlock(&mu);
  }
  atomic_store_explicit(&busy, 0, memory_order_release);
}
