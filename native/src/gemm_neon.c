// The ARM64 micro-kernel of gemm.c: NEON, an 8 x 12 tile. Per step of k, the 12 values of the
// packed B panel are three q registers and the 8 values of the packed A panel two more; each A
// value multiplies a whole B row by lane (vfmaq_laneq_f32, no broadcast needed), into 24 q
// accumulators: 29 of the 32 vector registers, no spills. C is row-major, so, as on x86, the
// vectors run along a row of C. Advanced SIMD is part of every ARMv8-A CPU that runs Linux or
// macOS, so the kernel is always available there. Compiled on aarch64 only; elsewhere this file is
// empty (and binding.gyp leaves it out). Tested under qemu-aarch64 by test/native/gemm_check.c
// (scripts/gemm-check.mjs --arch aarch64; docs/native.md).
#include "gemm.h"

#ifdef NL_GEMM_NEON
#include <arm_neon.h>
#include <stddef.h>

static void ukr_neon(long kc, const float *a, const float *b, float *c, long ldc, float alpha, int acc) {
  float32x4_t c0[8], c1[8], c2[8];
  #pragma GCC unroll 8
  for (int r = 0; r < 8; r++) c0[r] = c1[r] = c2[r] = vdupq_n_f32(0.0f);
  for (long k = 0; k < kc; k++) {
    const float32x4_t b0 = vld1q_f32(b), b1 = vld1q_f32(b + 4), b2 = vld1q_f32(b + 8);
    const float32x4_t a0 = vld1q_f32(a), a1 = vld1q_f32(a + 4);
// One row r of the tile: A value r (lane r % 4 of a0 or a1) times the B row.
#define ROW(r, av, lane)                                 \
    c0[r] = vfmaq_laneq_f32(c0[r], b0, av, lane);        \
    c1[r] = vfmaq_laneq_f32(c1[r], b1, av, lane);        \
    c2[r] = vfmaq_laneq_f32(c2[r], b2, av, lane);
    ROW(0, a0, 0) ROW(1, a0, 1) ROW(2, a0, 2) ROW(3, a0, 3)
    ROW(4, a1, 0) ROW(5, a1, 1) ROW(6, a1, 2) ROW(7, a1, 3)
#undef ROW
    a += 8; b += 12;
  }
  #pragma GCC unroll 8
  for (int r = 0; r < 8; r++) {
    float *cr = c + r * ldc;
    float32x4_t v0 = c0[r], v1 = c1[r], v2 = c2[r];
    if (alpha != 1.0f) { v0 = vmulq_n_f32(v0, alpha); v1 = vmulq_n_f32(v1, alpha); v2 = vmulq_n_f32(v2, alpha); }
    if (acc) { v0 = vaddq_f32(v0, vld1q_f32(cr)); v1 = vaddq_f32(v1, vld1q_f32(cr + 4)); v2 = vaddq_f32(v2, vld1q_f32(cr + 8)); }
    vst1q_f32(cr, v0);
    vst1q_f32(cr + 4, v1);
    vst1q_f32(cr + 8, v2);
  }
}

static int always(void) { return 1; }

// Blocks as on x86 (mc a multiple of 8, nc of 12): 288 KiB of packed A for the L2 of current
// ARM64 cores (1 MiB or more), one 18 KiB B micro-panel in a 64 KiB L1.
const GemmKernel gemm_kernel_neon = { "neon", 8, 12, 192, 384, 3072, ukr_neon, NULL, always, NULL, NULL };

#else
typedef int gemm_neon_empty; // ISO C wants a declaration in every file
#endif
