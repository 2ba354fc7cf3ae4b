#include "vmath.h"
#include <math.h>

#if defined(__x86_64__) && defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 35))
#define HAVE_LIBMVEC 1
#include <immintrin.h>
#include <string.h>
// The vector ABI names of libm's functions (x86_64 vector function ABI: b = SSE, d = AVX2).
__m128 _ZGVbN4v_expf(__m128);
__m128 _ZGVbN4v_erff(__m128);
__m256 _ZGVdN8v_expf(__m256);
__m256 _ZGVdN8v_erff(__m256);
#endif

static int use_avx2;

void vmath_init(void) {
#ifdef HAVE_LIBMVEC
  __builtin_cpu_init();
  use_avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#endif
}

#ifdef HAVE_LIBMVEC
// The vector ABI passes __m256 in ymm registers, so the callers must be compiled for AVX.
__attribute__((target("avx2,fma"))) static void apply8(float *y, const float *x, long n, int erf_not_exp) {
  long i = 0;
  for (; i + 8 <= n; i += 8) {
    __m256 v = _mm256_loadu_ps(x + i);
    _mm256_storeu_ps(y + i, erf_not_exp ? _ZGVdN8v_erff(v) : _ZGVdN8v_expf(v));
  }
  if (i < n) { // pad the tail to a full vector
    float buf[8] = {0};
    memcpy(buf, x + i, (size_t)(n - i) * sizeof(float));
    __m256 v = _mm256_loadu_ps(buf);
    _mm256_storeu_ps(buf, erf_not_exp ? _ZGVdN8v_erff(v) : _ZGVdN8v_expf(v));
    memcpy(y + i, buf, (size_t)(n - i) * sizeof(float));
  }
}

static void apply4(float *y, const float *x, long n, int erf_not_exp) {
  long i = 0;
  for (; i + 4 <= n; i += 4) {
    __m128 v = _mm_loadu_ps(x + i);
    _mm_storeu_ps(y + i, erf_not_exp ? _ZGVbN4v_erff(v) : _ZGVbN4v_expf(v));
  }
  for (; i < n; i++) y[i] = erf_not_exp ? erff(x[i]) : expf(x[i]);
}
#endif

void vexpf(float *y, const float *x, long n) {
#ifdef HAVE_LIBMVEC
  if (use_avx2) apply8(y, x, n, 0); else apply4(y, x, n, 0);
#else
  for (long i = 0; i < n; i++) y[i] = expf(x[i]);
#endif
}

void verff(float *y, const float *x, long n) {
#ifdef HAVE_LIBMVEC
  if (use_avx2) apply8(y, x, n, 1); else apply4(y, x, n, 1);
#else
  for (long i = 0; i < n; i++) y[i] = erff(x[i]);
#endif
}
