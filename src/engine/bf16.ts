// bfloat16 rounding (--dtype bfloat16; docs/dtype.md): a value is taken as float32, then rounded
// to the nearest bfloat16 (ties to even on the top 16 bits of the float32); NaN stays NaN and
// float32 subnormals (below 2^-126) become a zero of the same sign first, as vdpbf16ps takes them.
// The native kernels use the same function (native/src/bf16.h), the wasm ones wasm/assembly/bf16.ts.
import type { F } from './types.js';

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** x as float32, rounded to the nearest bfloat16 (returned as a number). */
export function bf16(x: number): number {
  f32[0] = x;
  let u = u32[0];
  if ((u & 0x7f800000) === 0) u &= 0x80000000; // subnormal or zero: a signed zero
  else if ((u & 0x7fffffff) > 0x7f800000) u = (u | 0x00400000) & 0xffff0000; // NaN stays NaN
  else u = ((u + 0x7fff + ((u >>> 16) & 1)) & 0xffff0000) >>> 0;
  u32[0] = u;
  return f32[0];
}

/** dst[i] = bf16(src[i]) for i < n (dst may be src). */
export function roundBf16(dst: F, src: F, n: number): void {
  for (let i = 0; i < n; i++) dst[i] = bf16(src[i]);
}

/** A rounded copy of src's first n values, of src's array type. */
export function bf16Copy(src: F, n: number): F {
  const out = src instanceof Float64Array ? new Float64Array(n) : new Float32Array(n);
  roundBf16(out, src, n);
  return out;
}
