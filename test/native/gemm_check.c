// Our GEMM (native/src/gemm*.c) alone, without Node: built and run by scripts/gemm-check.mjs, for
// this machine and, cross-compiled with aarch64-linux-gnu-gcc, under qemu-aarch64 (the only test
// of the NEON kernel; run by test/gemm-check.test.ts; docs/native.md, "Matrix products").
//
// 1. Concurrent start: threads released at once call gemm_init, gemm_available, gemm_name,
//    gemm_select and run products, as worker_threads loading the addon do; under
//    ThreadSanitizer (--tsan) any unsynchronized access fails the run.
// 2. Packing buffers freed with their thread: threads that each run a product needing ~5 MB of
//    packed B exit one after another; the heap in use (mallinfo2) must come back to where it was
//    (measured except under ThreadSanitizer, whose allocator mallinfo2 does not see).
// 3. Every kernel gemm_available lists, forced in turn, on every case the Backend's matmul has
//    (nl_matmul: four transposes, overwrite and accumulate, sizes 1 and odd ones, tile, kc, mc and
//    nc block edges, splits over the pool) and on gemm_st with a scale alpha and row strides wider
//    than the rows (attention's strided head slices), operands at odd offsets inside larger
//    buffers. Each element is compared with a double-precision reference; every element outside
//    the output view (guards before and after, the gaps between strided rows) must be unchanged.
//
// Tolerance, per element: the float32 result is a sum of K products, each partial sum rounded
// (fused multiply-adds only skip roundings), so in any order or blocking it is within gamma_K S of
// the exact sum (recursive summation, gamma_K = K u / (1 - K u), u = 2^-24, S = sum_k |a_ik b_kj|);
// the scale by alpha and the add to C's old value round once more each. The double reference is
// exact to far below that. We allow (K + 2) eps32 (|alpha| S + |C0|) with eps32 = 2 u: the
// worst-case bound with a factor 2 to spare, yet far below one wrong or missing term (S / K on
// average) for the K used here (K^2 eps32 < 0.1).
//
// Usage: gemm_check [all | threads]   (threads: parts 1 and 2 only, for the ThreadSanitizer run)
// Prints what it checked; exit 0 when every check passed, 1 otherwise.
#define _GNU_SOURCE
#include "gemm.h"
#include "kernels.h"
#include "pool.h"
#include "bf16.h"
#include <malloc.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define GUARD 7
#define GUARD_VALUE 12345.0f

static atomic_int failures;

static void fail(const char *fmt, const char *kernel, long M, long N, long K, int ta, int tb, int acc, long i, double got,
  double want) {
  if (++failures <= 10)
    fprintf(stderr, "gemm_check: %s %s %ldx%ldx%ld ta=%d tb=%d acc=%d: element %ld: %.9g vs %.9g\n", fmt, kernel, M, N,
      K, ta, tb, acc, i, got, want);
}

static unsigned long long rng_state = 88172645463325252ULL;
static float next_value(void) { // xorshift64, uniform in [-2, 2)
  rng_state ^= rng_state << 13; rng_state ^= rng_state >> 7; rng_state ^= rng_state << 17;
  return (float)((double)(rng_state >> 40) / (double)(1ULL << 24) * 4.0 - 2.0);
}

// A buffer of n values starting `offset` floats into an allocation with guards on both sides.
static float *operand(long n, long offset) {
  float *p = malloc((size_t)(n + offset + GUARD) * sizeof(float));
  if (!p) abort();
  for (long i = 0; i < n + offset + GUARD; i++) p[i] = next_value();
  return p;
}

// One product: op(A) M x K with row stride lda (stored K x M with ta), op(B) K x N with row stride
// ldb, C M x N with row stride ldc >= N. With use_matmul, nl_matmul (contiguous strides, alpha 1).
static void check_one(const char *kernel, long M, long N, long K, int ta, int tb, int acc, int use_matmul) {
  const long pad = use_matmul ? 0 : 3, lda = (ta ? M : K) + pad, ldb = (tb ? K : N) + pad, ldc = N + pad;
  const float alpha = use_matmul ? 1.0f : 0.375f;
  const long na = (ta ? K : M) * lda, nb = (tb ? N : K) * ldb, nc = M * ldc;
  float *abuf = operand(na, 1), *bbuf = operand(nb, 5), *cbuf = operand(nc, GUARD);
  const float *A = abuf + 1, *B = bbuf + 5;
  float *C = cbuf + GUARD;
  for (long i = 0; i < nc + 2 * GUARD; i++) if (i < GUARD || i >= GUARD + nc || (i - GUARD) % ldc >= N) cbuf[i] = GUARD_VALUE;
  float *c0 = malloc((size_t)(nc > 0 ? nc : 1) * sizeof(float));
  if (!c0) abort();
  memcpy(c0, C, (size_t)nc * sizeof(float));
  if (use_matmul) nl_matmul(C, A, B, (int)M, (int)N, (int)K, ta, tb, acc);
  else gemm_st(ta, tb, M, N, K, alpha, A, lda, B, ldb, acc, C, ldc);
  const double eps32 = 0x1p-23;
  for (long i = 0; i < M; i++)
    for (long j = 0; j < N; j++) {
      double sum = 0, s = 0;
      for (long k = 0; k < K; k++) {
        const double p = (double)(ta ? A[k * lda + i] : A[i * lda + k]) * (double)(tb ? B[j * ldb + k] : B[k * ldb + j]);
        sum += p; s += fabs(p);
      }
      const double old = acc ? (double)c0[i * ldc + j] : 0, want = alpha * sum + old, got = C[i * ldc + j];
      const double tol = (double)(K + 2) * eps32 * (fabs(alpha) * s + fabs(old)) + 1e-30;
      if (!(fabs(got - want) <= tol)) fail(use_matmul ? "nl_matmul" : "gemm_st", kernel, M, N, K, ta, tb, acc, i * ldc + j, got, want);
    }
  for (long i = 0; i < nc + 2 * GUARD; i++)
    if ((i < GUARD || i >= GUARD + nc || (i - GUARD) % ldc >= N) && cbuf[i] != GUARD_VALUE)
      fail("wrote outside the view:", kernel, M, N, K, ta, tb, acc, i - GUARD, cbuf[i], GUARD_VALUE);
  free(abuf); free(bbuf); free(cbuf); free(c0);
}

// Sizes around every kernel's tile (12 x 32, 6 x 16, 8 x 12, 4 x 8), the kc = 384 block (385,
// 769), mc = 192 (200 rows), nc = 3072 (3100 columns), the M = 1 path, K = 0, products of more
// than 1 MFLOP, which nl_matmul splits over the pool along M or along N, A read in place (up to
// 256 columns) and above, avx512's half-width tile written straight to C (16 or 48 columns), and
// the bf16 product's two block orders: B packed whole when its kc blocks fit one nc block (200 x
// 60 x 769: two mc blocks, three kc blocks), else one kc block at a time (13 x 1100 x 769), and a
// deep product, which nl_matmul cuts into one slice per thread (96 x 40 x 800).
static const long SIZES[][3] = { {1, 1, 1}, {1, 65, 130}, {1, 7, 1}, {2, 3, 0}, {5, 1, 3}, {3, 17, 1}, {8, 12, 1},
  {8, 12, 384}, {9, 13, 7}, {16, 24, 5}, {7, 11, 385}, {13, 33, 7}, {12, 32, 384}, {25, 49, 385}, {7, 15, 769},
  {97, 65, 40}, {200, 60, 90}, {61, 300, 90}, {3, 3100, 5}, {26, 48, 33}, {14, 16, 9},
  {200, 60, 769}, {13, 1100, 769}, {96, 40, 800} };

static void check_kernels(void) {
  char list[64];
  snprintf(list, sizeof list, "%s", gemm_available());
  const char *best = gemm_name();
  int kernels = 0;
  for (char *name = strtok(list, ","); name; name = strtok(NULL, ",")) {
    if (gemm_select(name) != 0 || strcmp(gemm_name(), name)) { fprintf(stderr, "gemm_check: cannot select %s\n", name); failures++; continue; }
    for (size_t s = 0; s < sizeof SIZES / sizeof SIZES[0]; s++)
      for (int t = 0; t < 8; t++)
        for (int use_matmul = 0; use_matmul < 2; use_matmul++)
          check_one(name, SIZES[s][0], SIZES[s][1], SIZES[s][2], t & 1, t >> 1 & 1, t >> 2, use_matmul);
    kernels++;
    printf("gemm_check: %s: %zu sizes x 4 transposes x overwrite/accumulate x (nl_matmul, strided gemm_st with alpha) checked\n",
      name, sizeof SIZES / sizeof SIZES[0]);
  }
  gemm_select("auto");
  printf("gemm_check: %d kernels (%s), auto picks %s\n", kernels, gemm_available(), best);
}

// ---- 1. concurrent start ------------------------------------------------------------------------

#define RACERS 6
static pthread_barrier_t start_line;

static void *racer(void *p) {
  const long id = (long)p;
  pthread_barrier_wait(&start_line);
  gemm_init();
  const char *avail = gemm_available(), *name = gemm_name();
  if (!strstr(avail, "generic") || !strstr(avail, name)) { fprintf(stderr, "gemm_check: available '%s', selected '%s'\n", avail, name); failures++; }
  gemm_select(id % 2 ? "generic" : "auto"); // while the others run products
  const long M = 9 + id, N = 13 + id, K = 20;
  float A[29 * 20], B[20 * 19], C[29 * 19];
  for (int i = 0; i < M * K; i++) A[i] = (float)(i % 7) - 3;
  for (int i = 0; i < K * N; i++) B[i] = (float)(i % 5) - 2;
  gemm_st(0, 0, M, N, K, 1.0f, A, K, B, N, 0, C, N);
  for (long i = 0; i < M; i++) // small integers: exact in any order
    for (long j = 0; j < N; j++) {
      float want = 0;
      for (long k = 0; k < K; k++) want += A[i * K + k] * B[k * N + j];
      if (C[i * N + j] != want) { fprintf(stderr, "gemm_check: concurrent product wrong at (%ld, %ld)\n", i, j); failures++; return NULL; }
    }
  return NULL;
}

static void concurrent_start(int rounds) {
  for (int r = 0; r < rounds; r++) {
    pthread_t th[RACERS];
    pthread_barrier_init(&start_line, NULL, RACERS);
    for (long t = 0; t < RACERS; t++) if (pthread_create(&th[t], NULL, racer, (void *)t)) abort();
    for (int t = 0; t < RACERS; t++) pthread_join(th[t], NULL);
    pthread_barrier_destroy(&start_line);
  }
  gemm_select("auto");
  printf("gemm_check: concurrent start: %d rounds of %d threads (init, available, name, select, products)\n", rounds, RACERS);
}

// ---- 2. packing buffers freed with their thread -------------------------------------------------

static void *big_product(void *p) {
  (void)p;
  // op(B) 384 x 3072: one kc x nc block, 4.7 MB packed; M = 2 takes the packed path
  const long M = 2, N = 3072, K = 384;
  float *A = calloc((size_t)(M * K), sizeof(float)), *B = calloc((size_t)(K * N), sizeof(float)), *C = malloc((size_t)(M * N) * sizeof(float));
  if (!A || !B || !C) abort();
  gemm_st(0, 0, M, N, K, 1.0f, A, K, B, N, 0, C, N);
  free(A); free(B); free(C);
  return NULL;
}

// Heap in use: allocated bytes in every arena plus mmapped chunks (ThreadSanitizer's allocator
// is not glibc's: there the threads run, the figure is not checked).
static size_t heap_in_use(void) {
#if defined(__SANITIZE_THREAD__)
  return 0;
#else
  const struct mallinfo2 m = mallinfo2();
  return m.uordblks + m.hblkhd;
#endif
}

static void buffers_freed(int threads) {
  big_product(NULL); // this thread's buffers, which stay
  const size_t before = heap_in_use();
  for (int t = 0; t < threads; t++) {
    pthread_t th;
    if (pthread_create(&th, NULL, big_product, NULL)) abort();
    pthread_join(th, NULL);
  }
  const size_t after = heap_in_use(), one = (size_t)384 * 3072 * sizeof(float);
#if defined(__SANITIZE_THREAD__)
  printf("gemm_check: buffers freed with their thread: %d threads (heap not measured under ThreadSanitizer)\n", threads);
  return;
#endif
  // Each thread's buffers (one block of packed B, ~4.7 MB) leak without the key's destructor.
  if (after > before + one) {
    fprintf(stderr, "gemm_check: %d threads ran a product and exited: heap in use grew by %.1f MB (leaked packing buffers)\n",
      threads, (double)(after - before) / 1e6);
    failures++;
  }
  printf("gemm_check: buffers freed with their thread: %d threads, heap in use %+.2f MB (%.1f MB per thread if leaked)\n",
    threads, ((double)after - (double)before) / 1e6, (double)one / 1e6);
}

// bfloat16 products (gemm_bf16.c): every kernel, forced in turn, must give exactly the numbers
// of vdpbf16ps's definition: per kc = 384 block, t = 0; per pair t = fma(a1, b1, t), then
// fma(a0, b0, t) on operands rounded by bf16_bits; then alpha t (+ C). With scale = 1e-19 the
// operands' products and partial sums fall to float32's smallest normals, where the instruction
// flushes to zero: there the kernels are compared with each other only.
static float *bf16_ref_c;
static void check_bf16_one(const char *kernel, long M, long N, long K, int ta, int tb, int acc, int use_matmul, float scale,
  float *first) {
  const long pad = use_matmul ? 0 : 3, lda = (ta ? M : K) + pad, ldb = (tb ? K : N) + pad, ldc = N + pad;
  const float alpha = use_matmul ? 1.0f : 0.375f;
  const long na = (ta ? K : M) * lda, nb = (tb ? N : K) * ldb, nc = M * ldc;
  unsigned long long seed = rng_state;
  rng_state = 0x9e3779b97f4a7c15ULL ^ (unsigned long long)(M * 131 + N * 17 + K);
  float *A = operand(na, 0), *B = operand(nb, 0), *C = operand(nc, 0), *c0 = malloc((size_t)(nc + 1) * sizeof(float));
  rng_state = seed;
  for (long i = 0; i < na; i++) A[i] *= scale;
  for (long i = 0; i < nb; i++) B[i] *= scale;
  // values at rounding ties (to even both ways) and subnormals (to signed zero), through every packing path
  static const float EDGE[] = { 1.00390625f, 1.01171875f, -1.00390625f, 1e-39f, -1e-39f, 1.1754942e-38f, -0.0f, 3.0078125f };
  if (scale == 1.0f) {
    for (long i = 0; i < na; i += 7) A[i] = EDGE[(i / 7) % 8];
    for (long i = 3; i < nb; i += 5) B[i] = EDGE[(i / 5) % 8];
  }
  memcpy(c0, C, (size_t)nc * sizeof(float));
  if (use_matmul) nl_matmul_ex(C, A, B, (int)M, (int)N, (int)K, ta, tb, acc, 1);
  else gemm_bf16_st(ta, tb, M, N, K, alpha, A, lda, B, ldb, acc, C, ldc);
  for (long i = 0; i < M; i++)
    for (long j = 0; j < N; j++) {
      float want = acc ? c0[i * ldc + j] : 0;
      for (long pc = 0; pc < K; pc += 384) {
        float t = 0;
        for (long k = pc; k < K && k < pc + 384; k += 2) {
          float a1 = 0, b1 = 0;
          const float a0 = bf16_round(ta ? A[k * lda + i] : A[i * lda + k]), b0 = bf16_round(tb ? B[j * ldb + k] : B[k * ldb + j]);
          if (k + 1 < K && k + 1 < pc + 384) {
            a1 = bf16_round(ta ? A[(k + 1) * lda + i] : A[i * lda + k + 1]);
            b1 = bf16_round(tb ? B[j * ldb + k + 1] : B[(k + 1) * ldb + j]);
          }
          t = fmaf(a0, b0, fmaf(a1, b1, t));
        }
        if (alpha != 1.0f) t *= alpha;
        want = (acc || pc > 0) ? t + want : t;
      }
      const float got = C[i * ldc + j];
      if (first) {
        if (memcmp(&got, &first[i * ldc + j], 4)) fail("bf16 kernels differ (tiny values):", kernel, M, N, K, ta, tb, acc, i * ldc + j, got, first[i * ldc + j]);
      } else if (!bf16_ref_c && memcmp(&got, &want, 4)) fail("bf16 product not bit-exact:", kernel, M, N, K, ta, tb, acc, i * ldc + j, got, want);
    }
  if (bf16_ref_c && !first) memcpy(bf16_ref_c, C, (size_t)nc * sizeof(float));
  free(A); free(B); free(C); free(c0);
}

static void check_bf16(void) {
  char list[64];
  snprintf(list, sizeof list, "%s", gemm_available());
  static const long TINY[3] = { 37, 70, 801 };
  float *tiny[8] = { 0 };
  for (char *name = strtok(list, ","); name; name = strtok(NULL, ",")) {
    if (gemm_select(name) != 0) continue;
    const char *bk = gemm_bf16_name(gemm_selected());
    // every case once, nl_matmul_ex and gemm_bf16_st in turn; the portable kernel (scalar fmaf, slow
    // under qemu) skips the products above 0.3 MFLOP, whose edges the other sizes cover
    for (size_t s = 0; s < sizeof SIZES / sizeof SIZES[0]; s++) {
      if (!strcmp(bk, "generic") && SIZES[s][0] * SIZES[s][1] * SIZES[s][2] > 300000) continue;
      for (int t = 0; t < 8; t++)
        check_bf16_one(bk, SIZES[s][0], SIZES[s][1], SIZES[s][2], t & 1, t >> 1 & 1, t >> 2, (int)(s + t) & 1, 1.0f, NULL);
    }
    for (int t = 0; t < 4; t++) { // tiny values: the first kernel's results are the reference for the others
      const long n = TINY[0] * (TINY[1] + 3);
      if (!tiny[t]) {
        tiny[t] = malloc((size_t)n * sizeof(float));
        bf16_ref_c = tiny[t];
        check_bf16_one(bk, TINY[0], TINY[1], TINY[2], t & 1, t >> 1 & 1, 0, 0, 1e-19f, NULL);
        bf16_ref_c = NULL;
      } else check_bf16_one(bk, TINY[0], TINY[1], TINY[2], t & 1, t >> 1 & 1, 0, 0, 1e-19f, tiny[t]);
    }
    printf("gemm_check: bf16 under %s (kernel %s): %zu sizes x 4 transposes x overwrite/accumulate (nl_matmul_ex or gemm_bf16_st) bit-exact\n",
      name, bk, sizeof SIZES / sizeof SIZES[0]);
  }
  for (int t = 0; t < 4; t++) free(tiny[t]);
  gemm_select("auto");
}

int main(int argc, char **argv) {
  const int all = argc < 2 || strcmp(argv[1], "threads");
  pool_init(4); // as the addon does (kernels_init), so that nl_matmul splits products over threads
  concurrent_start(all ? 3 : 20);
  buffers_freed(8);
  if (all) check_kernels();
  if (all) check_bf16();
  if (failures) fprintf(stderr, "gemm_check: %d failures\n", failures);
  else printf("gemm_check: all checks passed\n");
  return failures ? 1 : 0;
}
