// The x86 micro-kernels of gemm.c: AVX-512 (12 x 32 tile: 24 zmm accumulators, two B vectors and a
// broadcast of A per step) and AVX2+FMA (6 x 16: 12 ymm accumulators). Each function is compiled
// for its instruction set alone (target attributes), so the rest of the addon stays portable and
// gemm.c calls these only when __builtin_cpu_supports says the CPU has them. C is row-major, so the
// vectors run along a row of C (N): per step, NR values of the packed B panel are loaded and each
// of the MR values of the packed A panel is broadcast and multiplied into one row of accumulators.
// The same bodies also read A in place (ukr_rows: MR rows of a row-major A, see gemm.c). The FMA
// peak loops measure what the core can do with registers only (gemm_fma_peak).
#include "gemm.h"
#include <stddef.h>

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>

#define X512 __attribute__((target("avx512f,avx512vl,avx2,fma")))
#define X256 __attribute__((target("avx2,fma")))

// ---- AVX-512: MR = 12, NR = 32 ----------------------------------------------------------------

// One body for the four AVX-512 kernels: A's values for row r at step k are a[r * rs + k * ks]
// (packed: rs = 1, ks = 12; straight from a row-major A: rs = lda, ks = 1), and with half only the
// first 16 columns of each packed B step (stride 32) are used (a last panel of at most 16 columns,
// e.g. N = 65: half the work of the full tile).
X512 static inline __attribute__((always_inline)) void avx512_tile(long kc, const float *a, const long rs, const long ks,
  const float *b, float *c, long ldc, float alpha, int acc, const int half) {
  __m512 c0[12], c1[12];
  #pragma GCC unroll 12
  for (int r = 0; r < 12; r++) {
    c0[r] = _mm512_setzero_ps(); c1[r] = _mm512_setzero_ps();
    _mm_prefetch((const char *)(c + r * ldc), _MM_HINT_T0);
    if (!half) _mm_prefetch((const char *)(c + r * ldc + 31), _MM_HINT_T0);
  }
  #pragma GCC unroll 2
  for (long k = 0; k < kc; k++) {
    const __m512 b0 = _mm512_load_ps(b), b1 = half ? b0 : _mm512_load_ps(b + 16);
    #pragma GCC unroll 12
    for (int r = 0; r < 12; r++) {
      const __m512 ar = _mm512_set1_ps(a[r * rs]);
      c0[r] = _mm512_fmadd_ps(ar, b0, c0[r]);
      if (!half) c1[r] = _mm512_fmadd_ps(ar, b1, c1[r]);
    }
    a += ks; b += 32;
  }
  const __m512 al = _mm512_set1_ps(alpha);
  #pragma GCC unroll 12
  for (int r = 0; r < 12; r++) {
    float *cr = c + r * ldc;
    __m512 v0 = c0[r], v1 = c1[r];
    if (alpha != 1.0f) { v0 = _mm512_mul_ps(v0, al); v1 = _mm512_mul_ps(v1, al); }
    if (acc) { v0 = _mm512_add_ps(v0, _mm512_loadu_ps(cr)); if (!half) v1 = _mm512_add_ps(v1, _mm512_loadu_ps(cr + 16)); }
    _mm512_storeu_ps(cr, v0);
    if (!half) _mm512_storeu_ps(cr + 16, v1);
  }
}

X512 static void ukr_avx512(long kc, const float *a, const float *b, float *c, long ldc, float alpha, int acc) {
  avx512_tile(kc, a, 1, 12, b, c, ldc, alpha, acc, 0);
}
X512 static void ukr_avx512_half(long kc, const float *a, const float *b, float *c, long ldc, float alpha, int acc) {
  avx512_tile(kc, a, 1, 12, b, c, ldc, alpha, acc, 1);
}
X512 static void ukr_avx512_rows(long kc, const float *a, long lda, const float *b, float *c, long ldc, float alpha, int acc) {
  avx512_tile(kc, a, lda, 1, b, c, ldc, alpha, acc, 0);
}
X512 static void ukr_avx512_rows_half(long kc, const float *a, long lda, const float *b, float *c, long ldc, float alpha, int acc) {
  avx512_tile(kc, a, lda, 1, b, c, ldc, alpha, acc, 1);
}

NL_PEAK_LOOP(fma_loop512, X512, __m512, 16, _mm512_set1_ps, _mm512_add_ps, _mm512_reduce_add_ps,
  _mm512_set1_ps(0.999999f), _mm512_set1_ps(1e-7f), _mm512_fmadd_ps)

static int has_avx512(void) {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("fma");
}

// ---- AVX2 + FMA: MR = 6, NR = 16 -------------------------------------------------------------

// A's values for row r at step k are a[r * rs + k * ks], as in avx512_tile.
X256 static inline __attribute__((always_inline)) void avx2_tile(long kc, const float *a, const long rs, const long ks,
  const float *b, float *c, long ldc, float alpha, int acc) {
  __m256 c0[6], c1[6];
  #pragma GCC unroll 6
  for (int r = 0; r < 6; r++) {
    c0[r] = _mm256_setzero_ps(); c1[r] = _mm256_setzero_ps();
    _mm_prefetch((const char *)(c + r * ldc), _MM_HINT_T0);
    _mm_prefetch((const char *)(c + r * ldc + 15), _MM_HINT_T0);
  }
  #pragma GCC unroll 4
  for (long k = 0; k < kc; k++) {
    const __m256 b0 = _mm256_load_ps(b), b1 = _mm256_load_ps(b + 8);
    #pragma GCC unroll 6
    for (int r = 0; r < 6; r++) {
      const __m256 ar = _mm256_broadcast_ss(a + r * rs);
      c0[r] = _mm256_fmadd_ps(ar, b0, c0[r]);
      c1[r] = _mm256_fmadd_ps(ar, b1, c1[r]);
    }
    a += ks; b += 16;
  }
  const __m256 al = _mm256_set1_ps(alpha);
  #pragma GCC unroll 6
  for (int r = 0; r < 6; r++) {
    float *cr = c + r * ldc;
    __m256 v0 = c0[r], v1 = c1[r];
    if (alpha != 1.0f) { v0 = _mm256_mul_ps(v0, al); v1 = _mm256_mul_ps(v1, al); }
    if (acc) { v0 = _mm256_add_ps(v0, _mm256_loadu_ps(cr)); v1 = _mm256_add_ps(v1, _mm256_loadu_ps(cr + 8)); }
    _mm256_storeu_ps(cr, v0);
    _mm256_storeu_ps(cr + 8, v1);
  }
}

X256 static void ukr_avx2(long kc, const float *a, const float *b, float *c, long ldc, float alpha, int acc) {
  avx2_tile(kc, a, 1, 6, b, c, ldc, alpha, acc);
}
X256 static void ukr_avx2_rows(long kc, const float *a, long lda, const float *b, float *c, long ldc, float alpha, int acc) {
  avx2_tile(kc, a, lda, 1, b, c, ldc, alpha, acc);
}

X256 static inline float hsum256(__m256 t) {
  float v[8];
  _mm256_storeu_ps(v, t);
  return v[0] + v[1] + v[2] + v[3] + v[4] + v[5] + v[6] + v[7];
}
// 12 chains + 2 constants fit the 16 ymm registers
NL_PEAK_LOOP(fma_loop256, X256, __m256, 12, _mm256_set1_ps, _mm256_add_ps, hsum256,
  _mm256_set1_ps(0.999999f), _mm256_set1_ps(1e-7f), _mm256_fmadd_ps)

static int has_avx2(void) {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
}

// Blocks: kc = 384 makes the model's K = 384 products one block (measured best among 96-384 on
// the reference machine); mc * kc * 4 bytes of packed A (288 KiB) stay in L2; nc bounds the
// packed B block (4.5 MiB, read one kc x nr micro-panel at a time).
const GemmKernel gemm_kernel_avx512 = { "avx512", 12, 32, 192, 384, 3072, ukr_avx512, ukr_avx512_half, has_avx512,
  ukr_avx512_rows, ukr_avx512_rows_half };
const GemmKernel gemm_kernel_avx2 = { "avx2", 6, 16, 192, 384, 3072, ukr_avx2, NULL, has_avx2, ukr_avx2_rows, NULL };

// Independent FMA chains of one vector each per iteration: 16 zmm, 12 ymm (no spills).
double gemm_fma_loop(int bits, long iters, double *flops) {
  if (bits == 512 && has_avx512()) { *flops = (double)iters * 16 * 16 * 2; return fma_loop512(iters); }
  if (bits == 256 && has_avx2()) { *flops = (double)iters * 12 * 8 * 2; return fma_loop256(iters); }
  *flops = 0;
  return 0;
}

#else // not x86-64 with GCC/clang: only the portable kernel

static int unsupported(void) { return 0; }
const GemmKernel gemm_kernel_avx512 = { "avx512", 12, 32, 192, 384, 3072, NULL, NULL, unsupported, NULL, NULL };
const GemmKernel gemm_kernel_avx2 = { "avx2", 6, 16, 192, 384, 3072, NULL, NULL, unsupported, NULL, NULL };
double gemm_fma_loop(int bits, long iters, double *flops) { (void)bits; (void)iters; *flops = 0; return 0; }

#endif
