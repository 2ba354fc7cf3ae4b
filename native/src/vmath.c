#include "vmath.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) && defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 35))
#define HAVE_LIBMVEC 1
#include <immintrin.h>
// The vector ABI names of libm's functions (x86_64 vector function ABI: b = SSE, d = AVX2, e = AVX-512).
__m128 _ZGVbN4v_expf(__m128);
__m128 _ZGVbN4v_erff(__m128);
__m128 _ZGVbN4v_expm1f(__m128);
__m128 _ZGVbN4v_log1pf(__m128);
__m256 _ZGVdN8v_expf(__m256);
__m256 _ZGVdN8v_erff(__m256);
__m256 _ZGVdN8v_expm1f(__m256);
__m256 _ZGVdN8v_log1pf(__m256);
__m512 _ZGVeN16v_expf(__m512);
__m512 _ZGVeN16v_expm1f(__m512);
__m512 _ZGVeN16v_log1pf(__m512);
#endif

// ---- level ------------------------------------------------------------------------------------

atomic_int simd_level = SIMD_GENERIC;
static int simd_best = SIMD_GENERIC;
static const char *const NAMES[] = { "generic", "avx2", "avx512" };

void vmath_init(void) {
#ifdef SIMD_CLONES
  __builtin_cpu_init();
  simd_best = __builtin_cpu_supports("x86-64-v4") ? SIMD_AVX512 : __builtin_cpu_supports("x86-64-v3") ? SIMD_AVX2 : SIMD_GENERIC;
#endif
  atomic_store(&simd_level, simd_best);
  const char *env = getenv("NORMLAB_SIMD");
  if (env && *env) simd_select(env);
}

int simd_select(const char *name) {
  if (!strcmp(name, "auto")) { atomic_store(&simd_level, simd_best); return 0; }
  for (int l = 0; l <= simd_best; l++) if (!strcmp(name, NAMES[l])) { atomic_store(&simd_level, l); return 0; }
  return -1;
}

const char *simd_name(void) { return NAMES[SIMD_LEVEL()]; }

const char *simd_available(void) {
  return simd_best == SIMD_AVX512 ? "avx512,avx2,generic" : simd_best == SIMD_AVX2 ? "avx2,generic" : "generic";
}

// ---- vector libm ------------------------------------------------------------------------------

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
// The vector ABI passes __m256 / __m512 in ymm / zmm registers, so the callers must be compiled for
// AVX2 / AVX-512.
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

// No erf: libmvec's 16-lane erff is slower than two 8-lane calls on AMD Zen 4 (docs/native.md).
__attribute__((target("avx512f"))) static inline __m512 op16(__m512 v, int op) {
  switch (op) {
  case OP_EXP: return _ZGVeN16v_expf(v);
  case OP_EXPM1: return _ZGVeN16v_expm1f(v);
  default: return _ZGVeN16v_log1pf(v);
  }
}

// The tail is a masked load and store (the masked-off lanes are zeros and never touch memory).
__attribute__((target("avx512f"))) static void apply16(float *y, const float *x, long n, int op) {
  long i = 0;
  for (; i + 16 <= n; i += 16) _mm512_storeu_ps(y + i, op16(_mm512_loadu_ps(x + i), op));
  if (i < n) {
    const __mmask16 m = (__mmask16)((1u << (n - i)) - 1);
    _mm512_mask_storeu_ps(y + i, m, op16(_mm512_maskz_loadu_ps(m, x + i), op));
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
  const int level = SIMD_LEVEL();
  if (level == SIMD_AVX512 && op != OP_ERF) apply16(y, x, n, op);
  else if (level >= SIMD_AVX2) apply8(y, x, n, op);
  else apply4(y, x, n, op);
#else
  for (long i = 0; i < n; i++) y[i] = scalar_op(x[i], op);
#endif
}

void vexpf(float *y, const float *x, long n) { apply(y, x, n, OP_EXP); }
void verff(float *y, const float *x, long n) { apply(y, x, n, OP_ERF); }
void vexpm1f(float *y, const float *x, long n) { apply(y, x, n, OP_EXPM1); }
void vlog1pf(float *y, const float *x, long n) { apply(y, x, n, OP_LOG1P); }
