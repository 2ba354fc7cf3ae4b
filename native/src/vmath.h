// The SIMD level of the kernels outside the GEMM, and exp, erf, expm1 and log1p over float arrays.
//
// Level: every hot loop of kernels.c, attention.c, norms.c, activations.c and knots.c is compiled
// three times (SIMD_FN below): for x86-64-v4 (AVX-512), x86-64-v3 (AVX2; its FMA instructions are
// never used for a * b + c, the build has -ffp-contract=off) and the build's baseline (x86-64-v2),
// and each call runs the clone of the selected level: at load time the best one the CPU supports,
// or the one NORMLAB_SIMD names; simd_select switches at run time (the tests force each one).
//
// glibc's libmvec has vector versions of libm's expf, erff, expm1f and log1pf (4-lane SSE, 8-lane
// AVX2 and 16-lane AVX-512 variants, at most 4 ulp from the scalar ones); we call them directly,
// because the compiler only substitutes them under -ffast-math. Without libmvec (non-glibc, or glibc
// before 2.35) the scalar libm functions run.
#ifndef NORMLAB_VMATH_H
#define NORMLAB_VMATH_H

#include <stdatomic.h>

enum { SIMD_GENERIC, SIMD_AVX2, SIMD_AVX512 };
// Read by every SIMD_FN call (also on pool threads, and by worker_threads that share the addon);
// written by vmath_init and simd_select. Any level computes a correct result, so relaxed order.
extern atomic_int simd_level;
#define SIMD_LEVEL() atomic_load_explicit(&simd_level, memory_order_relaxed)

void vmath_init(void);               // the best level of this CPU, or NORMLAB_SIMD's when available
int simd_select(const char *name);   // "auto", "avx512", "avx2", "generic": 0, or -1 when unavailable
const char *simd_name(void);         // the selected level
const char *simd_available(void);    // comma-separated names simd_select accepts here

// y[i] = expf(x[i]) and y[i] = erff(x[i]) for i < n; y may alias x.
void vexpf(float *y, const float *x, long n);
void verff(float *y, const float *x, long n);
void vexpm1f(float *y, const float *x, long n);
void vlog1pf(float *y, const float *x, long n);

// SIMD_FN(name, width, (params), (args)) { body } defines `static void name(params)`, which runs
// body as compiled for the selected level. Helpers that the body calls must be SIMD_INLINE so that
// each clone gets its own copy. width 512: the avx512 level runs an x86-64-v4 clone; width 256: it
// runs the x86-64-v3 (AVX2) code, for the loops where the AVX-512 clone measured slower on AMD Zen 4
// (the norms' rows and gelu: docs/native.md). POOL_FN is a pool_run job, BLOCK_FN a rowblock_fn
// or elemblock_fn; the _256 forms pick width 256.
#define SIMD_INLINE static inline __attribute__((always_inline))
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define SIMD_CLONES 1
#define SIMD_TARGET_512 "arch=x86-64-v4"
#define SIMD_TARGET_256 "arch=x86-64-v3"
#define SIMD_FN(name, width, params, args)                                                        \
  SIMD_INLINE void name##_body params;                                                            \
  __attribute__((target(SIMD_TARGET_##width))) static void name##_avx512 params { name##_body args; } \
  __attribute__((target(SIMD_TARGET_256))) static void name##_avx2 params { name##_body args; }   \
  static void name##_generic params { name##_body args; }                                         \
  static void name params {                                                                       \
    const int level_ = SIMD_LEVEL();                                                              \
    if (level_ == SIMD_AVX512) name##_avx512 args;                                                \
    else if (level_ == SIMD_AVX2) name##_avx2 args;                                               \
    else name##_generic args;                                                                     \
  }                                                                                               \
  SIMD_INLINE void name##_body params
#else
#define SIMD_FN(name, width, params, args) static void name params
#endif
#define POOL_FN(name, i0, i1) SIMD_FN(name, 512, (void *p, long i0, long i1, int tid), (p, i0, i1, tid))
#define POOL_FN_256(name, i0, i1) SIMD_FN(name, 256, (void *p, long i0, long i1, int tid), (p, i0, i1, tid))
#define BLOCK_FN(name, i0, i1, acc) SIMD_FN(name, 512, (const void *p, long i0, long i1, double *acc), (p, i0, i1, acc))
#define BLOCK_FN_256(name, i0, i1, acc) SIMD_FN(name, 256, (const void *p, long i0, long i1, double *acc), (p, i0, i1, acc))

#endif
