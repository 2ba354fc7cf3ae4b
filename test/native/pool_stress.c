// Stress test of the thread pool (native/src/pool.c) alone: jobs of varied sizes, grains and
// durations issued back to back for a given time, with more pool threads than cores and, in the second
// half, hog threads keeping every core busy, so that pool threads are preempted at arbitrary points
// (the normal case on a shared machine). Checks:
//   - every index of every job ran exactly once (a per-index counter, 1 after the job, 0 beyond n);
//   - no chunk of a job runs after pool_run returned (each chunk checks that its job is current);
//   - chunks stay inside [0, n) and tid inside [0, pool_threads());
//   - a pool_run from inside a chunk runs inline, and a second caller thread (which gets the pool
//     when it is free, else runs inline) sees the same guarantees;
//   - no job waits forever: a watchdog fails the test when no job completed for `stall` seconds.
// Built by scripts/pool-stress.mjs (run by test/pool-stress.test.ts; also with -fsanitize=thread in .ci/run, see docs/native.md):
//   cc -O2 -pthread -Inative/src test/native/pool_stress.c native/src/pool.c -o pool_stress
//   ./pool_stress [seconds=10] [threads=4*cores] [hogs=cores, in the second half] [stall=30]
// Prints one line of counts; exit 0 when clean, 1 on a check failure, 2 on a stall.
#define _GNU_SOURCE
#include "pool.h"
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MAX_N 20000

typedef struct {
  _Atomic uint32_t count[MAX_N + 64]; // 64 past the largest n: must stay 0
  _Atomic uint64_t current;           // the id of the job being run by this caller
  uint64_t rng;
  _Atomic long jobs; // finished (the watchdog's progress signal)
  long items;
} Caller;

typedef struct {
  Caller *c;
  uint64_t id;
  long n;
  int work;   // busy iterations per item: varies how long chunks take
  int nested; // chunks issue a nested pool_run (must run inline)
} Job;

static atomic_int failed;
static atomic_int stop;

static void fail(const char *what, const Job *j, long a, long b) {
  if (atomic_fetch_add(&failed, 1) < 10)
    fprintf(stderr, "pool_stress: %s (job %llu, n %ld, values %ld %ld)\n", what, (unsigned long long)j->id, j->n, a, b);
}

static uint64_t next_rand(uint64_t *s) { // splitmix64
  uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

static void inner(void *p, long b, long e, int tid) { // a nested job: must run inline, whole
  long *calls = p;
  if (b != 0 || e != 3 || tid != 0) ++calls[1];
  ++calls[0];
}

static void chunk(void *p, long b, long e, int tid) {
  const Job *j = p;
  if (atomic_load_explicit(&j->c->current, memory_order_relaxed) != j->id) fail("chunk ran outside its job", j, b, e);
  if (b < 0 || e > j->n || b >= e) fail("chunk outside [0, n)", j, b, e);
  if (tid < 0 || tid >= pool_threads()) fail("tid outside [0, pool_threads())", j, tid, 0);
  volatile uint32_t sink = 0;
  for (long i = b; i < e; i++) {
    for (int w = 0; w < j->work; w++) sink += (uint32_t)w;
    atomic_fetch_add_explicit(&j->c->count[i], 1, memory_order_relaxed);
  }
  if (j->nested) {
    long calls[2] = { 0, 0 };
    pool_run(3, 1, inner, calls);
    if (calls[0] != 1 || calls[1] != 0) fail("nested pool_run did not run inline", j, calls[0], calls[1]);
  }
}

// One job with random size, grain and chunk duration; checks exactly-once afterwards.
static void one_job(Caller *c) {
  const uint64_t r = next_rand(&c->rng);
  Job j = { .c = c, .id = (uint64_t)atomic_load(&c->jobs) + 1 };
  switch (r % 16) { // mostly small and short: the training loop's case (hundreds of kernels per step)
  case 0: j.n = 1 + (long)(r >> 8) % MAX_N; break;
  case 1: case 2: j.n = 1 + (long)(r >> 8) % 4096; break;
  case 3: case 4: case 5: case 6: j.n = 1 + (long)(r >> 8) % 512; break;
  default: j.n = 1 + (long)(r >> 8) % 64; break;
  }
  const long grain = 1 + (long)(r >> 24) % (r % 16 ? 8 : 64);
  j.work = (r >> 40) % 8 == 0 ? (int)((r >> 44) % 200) : 0;
#ifndef NO_NESTED // (to exercise the rest alone)
  j.nested = (r >> 52) % 64 == 0;
#endif
  atomic_store_explicit(&c->current, j.id, memory_order_relaxed);
  pool_run(j.n, grain, chunk, &j);
  atomic_store_explicit(&c->current, 0, memory_order_relaxed);
  for (long i = 0; i < j.n + 64; i++) {
    const uint32_t k = atomic_load_explicit(&c->count[i], memory_order_relaxed);
    if (k != (i < j.n)) fail(i < j.n ? "index not run exactly once" : "index beyond n was run", &j, i, k);
    atomic_store_explicit(&c->count[i], 0, memory_order_relaxed);
  }
  c->items += j.n;
  atomic_fetch_add_explicit(&c->jobs, 1, memory_order_relaxed);
}

static void *second_caller(void *p) {
  Caller *c = p;
  while (!atomic_load(&stop) && !atomic_load(&failed)) {
    one_job(c);
    if (atomic_load(&c->jobs) % 64 == 0) usleep(100); // leave the pool to the main caller most of the time
  }
  return NULL;
}

static double now(void);

// Spins ~2 ms, sleeps ~0.5 ms: the cores stay busy, and the scheduler preempts pool threads at
// ever different points (a constant hog lets them settle into a rhythm).
static double hogs_from; // hogs start halfway: the first half is oversubscribed by the pool itself
static void *hog(void *p) {
  (void)p;
  volatile unsigned long x = 0;
  while (!atomic_load_explicit(&stop, memory_order_relaxed) && now() < hogs_from) usleep(10000);
  while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
    const double until = now() + 0.002;
    while (now() < until) x++;
    usleep(500);
  }
  return NULL;
}

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

// Each caller must keep finishing jobs (one stuck caller must not hide behind the other).
static double stall_s;
static Caller callers[2];
static void *watchdog(void *p) {
  (void)p;
  long last[2] = { -1, -1 };
  double since[2] = { now(), now() };
  while (!atomic_load(&stop)) {
    usleep(100000);
    for (int c = 0; c < 2; c++) {
      const long k = atomic_load(&callers[c].jobs);
      if (k != last[c]) { last[c] = k; since[c] = now(); continue; }
      if (now() - since[c] > stall_s) {
        fprintf(stderr, "pool_stress: STALL: the %s caller finished no job for %.0f s (after %ld jobs): a pool_run waits forever\n",
          c ? "second" : "main", stall_s, k);
        fflush(stderr);
        _exit(2);
      }
    }
  }
  return NULL;
}

int main(int argc, char **argv) {
  const double seconds = argc > 1 ? atof(argv[1]) : 10;
  const long cores = sysconf(_SC_NPROCESSORS_ONLN);
  const int threads = argc > 2 ? atoi(argv[2]) : 4 * (int)(cores > 0 ? cores : 1);
  const int hogs = argc > 3 ? atoi(argv[3]) : (int)(cores > 0 ? cores : 1);
  stall_s = argc > 4 ? atof(argv[4]) : 30;
  pool_init(threads);
  Caller *main_c = &callers[0], *other_c = &callers[1];
  main_c->rng = 1; other_c->rng = 2;
  const double end = now() + seconds;
  hogs_from = end - seconds / 2;
  pthread_t wd, other, hog_th[256];
  pthread_create(&wd, NULL, watchdog, NULL);
  const int nhogs = hogs < 256 ? hogs : 256;
  for (int h = 0; h < nhogs; h++) pthread_create(&hog_th[h], NULL, hog, NULL);
  pthread_create(&other, NULL, second_caller, other_c);
  while (now() < end && !atomic_load(&failed)) for (int k = 0; k < 256 && !atomic_load(&failed); k++) one_job(main_c);
  atomic_store(&stop, 1);
  pthread_join(other, NULL);
  for (int h = 0; h < nhogs; h++) pthread_join(hog_th[h], NULL);
  pthread_join(wd, NULL);
  printf("pool_stress: %d pool threads, %d hogs, %.0f s: %ld jobs (%ld items) by the main caller, %ld jobs by the second caller, %d failures\n",
    pool_threads(), nhogs, seconds, atomic_load(&main_c->jobs), main_c->items, atomic_load(&other_c->jobs), atomic_load(&failed));
  return atomic_load(&failed) ? 1 : 0;
}
