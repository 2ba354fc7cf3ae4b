// Our GEMM with a row-major A read in place against packed (native/src/gemm.c, IN_PLACE_MAX_N;
// docs/native.md, "Matrix products"), in one run: for each product, rounds of ~30 ms each way,
// interleaved, the medians compared. One thread, CPU time. The products are those of the presets
// whose A is not transposed (bench --gemm lists them all), attention's per-head products, and
// controls above the threshold. Build and run (kernel: avx512, avx2 or generic):
//   cc -O3 -march=x86-64-v2 -fopenmp-simd -ffp-contract=off -pthread -Inative/src -DNL_GEMM_IN_PLACE_BENCH
//     bench/gemm-in-place.c native/src/gemm.c native/src/gemm_x86.c native/src/pool.c -lm -o /tmp/gemm-in-place
//   /tmp/gemm-in-place avx512
#define _GNU_SOURCE
#include "gemm.h"
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

long gemm_in_place_max_n; // gemm.c's threshold, switched here

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int by_value(const void *x, const void *y) { const double a = *(const double *)x, b = *(const double *)y; return (a > b) - (a < b); }

int main(int argc, char **argv) {
  if (argc > 1 && gemm_select(argv[1])) { fprintf(stderr, "gemm-in-place: no kernel %s here (%s)\n", argv[1], gemm_available()); return 1; }
  static const long shapes[][3] = { // M, N, K; A row-major; B stored N x K (1) or K x N (0) in the 4th column
    {768, 128, 128}, {768, 65, 128}, {768, 128, 65}, {768, 128, 512}, {16384, 65, 384}, {16384, 384, 65},
    {64, 64, 32}, {64, 32, 64}, {64, 256, 64}, {64, 64, 256}, {4096, 256, 384}, {768, 512, 128}, {4096, 384, 1536} };
  static const int tbs[] = { 1, 1, 0, 0, 1, 0, 1, 0, 1, 0, 1, 1, 0 };
  printf("gemm-in-place: kernel %s, one thread, GFLOP/s per CPU second, medians of 5 interleaved rounds\n", gemm_name());
  printf("product              packed  in place  ratio\n");
  for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
    const long M = shapes[s][0], N = shapes[s][1], K = shapes[s][2];
    const int tb = tbs[s];
    float *A = malloc((size_t)(M * K) * sizeof(float)), *B = malloc((size_t)(N * K) * sizeof(float)), *C = malloc((size_t)(M * N) * sizeof(float));
    if (!A || !B || !C) return 1;
    for (long i = 0; i < M * K; i++) A[i] = 1e-3f * (float)(i % 7);
    for (long i = 0; i < N * K; i++) B[i] = 1e-3f * (float)(i % 5);
    double t[2][5];
    for (int round = 0; round < 5; round++)
      for (int way = 0; way < 2; way++) {
        gemm_in_place_max_n = way ? 256 : 0;
        long n = 0;
        const double t0 = now();
        do { gemm_st(0, tb, M, N, K, 1.0f, A, K, B, tb ? K : N, 0, C, N); n++; } while (now() - t0 < 0.03);
        t[way][round] = (now() - t0) / (double)n;
      }
    qsort(t[0], 5, sizeof(double), by_value);
    qsort(t[1], 5, sizeof(double), by_value);
    const double flop = 2.0 * (double)M * (double)N * (double)K;
    printf("%5ld x %4ld x %4ld %s  %6.1f  %6.1f  %5.2fx%s\n", M, N, K, tb ? "NT" : "NN", flop / t[0][2] / 1e9, flop / t[1][2] / 1e9,
      t[0][2] / t[1][2], N > 256 ? "  (control: above the threshold)" : "");
    free(A); free(B); free(C);
  }
  return 0;
}
