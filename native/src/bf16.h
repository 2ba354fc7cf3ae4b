// bfloat16 rounding shared by the native kernels (docs/native.md, "bfloat16 products"): a float32
// value rounded to the nearest bfloat16 (round to nearest, ties to even, on the top 16 bits), with
// NaN kept a (quiet) NaN, and float32 subnormals (below 2^-126) taken as a zero of the same sign
// first, as vdpbf16ps and vcvtne2ps2bf16 do (denormals are zero). The same
// function exists in TypeScript (src/engine/bf16.ts) and AssemblyScript (wasm/assembly/bf16.ts).
#ifndef NORMLAB_BF16_H
#define NORMLAB_BF16_H
#include <stdint.h>
#include <string.h>

static inline uint16_t bf16_bits(float x) {
  uint32_t u;
  memcpy(&u, &x, 4);
  if ((u & 0x7f800000u) == 0) return (uint16_t)((u >> 16) & 0x8000u);      // subnormal -> signed zero
  if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x40); // NaN stays NaN
  u += 0x7fffu + ((u >> 16) & 1u);                                           // nearest, ties to even
  return (uint16_t)(u >> 16);
}

static inline float bf16_float(uint16_t h) {
  const uint32_t u = (uint32_t)h << 16;
  float x;
  memcpy(&x, &u, 4);
  return x;
}

static inline float bf16_round(float x) { return bf16_float(bf16_bits(x)); }

#endif
