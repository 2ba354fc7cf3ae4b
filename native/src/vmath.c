#include "vmath.h"
#include <math.h>

#if defined(__x86_64__) && defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 35))
#define HAVE_LIBMVEC 1
#include <immintrin.h>
#include <string.h>
// The vector ABI names of libm's functions (x86_64 vector function ABI: b = SSE, d = AVX2).
__m128 _ZGVbN4v_expf(__m128);
__m128 _ZGVbN4v_erff(__m128);
__m128 _ZGVbN4v_expm1f(__m128);
__m128 _ZGVbN4v_log1pf(__m128);
__m256 _ZGVdN8v_expf(__m256);
__m256 _ZGVdN8v_erff(__m256);
__m256 _ZGVdN8v_expm1f(__m256);
__m256 _ZGVdN8v_log1pf(__m256);
#endif

static int use_avx2;

void vmath_init(void) {
#ifdef HAVE_LIBMVEC
  __builtin_cpu_init();
  use_avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#endif
}

enum { OP_EXP, OP_ERF, OP_EXPM1, OP_LOG1P };

static float scalar_op(float x, int op) {
  switch (op) {
  case OP_EXP: return expf(x);
  case OP_ERF: return erff(x);
  case OP_EXPM1: return expm1f(x);
  default: return log1pf(x);
  }
}

#ifdef HAVE_LIBMVEC
// The vector ABI passes __m256 in ymm registers, so the callers must be compiled for AVX.
__attribute__((target("avx2,fma"))) static inline __m256 op8(__m256 v, int op) {
  switch (op) {
  case OP_EXP: return _ZGVdN8v_expf(v);
  case OP_ERF: return _ZGVdN8v_erff(v);
  case OP_EXPM1: return _ZGVdN8v_expm1f(v);
  default: return _ZGVdN8v_log1pf(v);
  }
}

static inline __m128 op4(__m128 v, int op) {
  switch (op) {
  case OP_EXP: return _ZGVbN4v_expf(v);
  case OP_ERF: return _ZGVbN4v_erff(v);
  case OP_EXPM1: return _ZGVbN4v_expm1f(v);
  default: return _ZGVbN4v_log1pf(v);
  }
}

__attribute__((target("avx2,fma"))) static void apply8(float *y, const float *x, long n, int op) {
  long i = 0;
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, op8(_mm256_loadu_ps(x + i), op));
  if (i < n) { // pad the tail to a full vector
    float buf[8] = {0};
    memcpy(buf, x + i, (size_t)(n - i) * sizeof(float));
    _mm256_storeu_ps(buf, op8(_mm256_loadu_ps(buf), op));
    memcpy(y + i, buf, (size_t)(n - i) * sizeof(float));
  }
}

static void apply4(float *y, const float *x, long n, int op) {
  long i = 0;
  for (; i + 4 <= n; i += 4) _mm_storeu_ps(y + i, op4(_mm_loadu_ps(x + i), op));
  for (; i < n; i++) y[i] = scalar_op(x[i], op);
}
#endif

static void apply(float *y, const float *x, long n, int op) {
#ifdef HAVE_LIBMVEC
  if (use_avx2) apply8(y, x, n, op); else apply4(y, x, n, op);
#else
  for (long i = 0; i < n; i++) y[i] = scalar_op(x[i], op);
#endif
}

void vexpf(float *y, const float *x, long n) { apply(y, x, n, OP_EXP); }
void verff(float *y, const float *x, long n) { apply(y, x, n, OP_ERF); }
void vexpm1f(float *y, const float *x, long n) { apply(y, x, n, OP_EXPM1); }
void vlog1pf(float *y, const float *x, long n) { apply(y, x, n, OP_LOG1P); }
