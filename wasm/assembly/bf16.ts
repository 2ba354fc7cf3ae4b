// bfloat16 rounding (--dtype bfloat16; docs/dtype.md): a float32 rounded to the nearest bfloat16
// (ties to even on the top 16 bits), NaN kept a quiet NaN, float32 subnormals (below 2^-126) taken
// as a zero of the same sign first, as vdpbf16ps does. The same bits as bf16() of
// src/engine/bf16.ts and bf16_round() of native/src/bf16.h (test/bf16.test.ts checks every class).

/** x rounded to the nearest bfloat16 (returned as the float32 it stands for). */
// @ts-ignore: decorator
@inline
export function bf16(x: f32): f32 {
  let u = reinterpret<u32>(x);
  if ((u & 0x7f800000) == 0) u &= 0x80000000; // subnormal or zero: a signed zero
  else if ((u & 0x7fffffff) > 0x7f800000) u = (u | 0x00400000) & 0xffff0000; // NaN stays NaN
  else u = (u + 0x7fff + ((u >> 16) & 1)) & 0xffff0000;
  return reinterpret<f32>(u);
}

/** bf16() of four lanes. */
// @ts-ignore: decorator
@inline
export function vbf16(x: v128): v128 {
  const hi = i32x4.splat(0xffff0000);
  const rounded = v128.and(i32x4.add(x, i32x4.add(i32x4.splat(0x7fff), v128.and(i32x4.shr_u(x, 16), i32x4.splat(1)))), hi);
  const nan = i32x4.gt_s(v128.and(x, i32x4.splat(0x7fffffff)), i32x4.splat(0x7f800000));
  const tiny = i32x4.eq(v128.and(x, i32x4.splat(0x7f800000)), i32x4.splat(0));
  const r = v128.bitselect(v128.and(v128.or(x, i32x4.splat(0x00400000)), hi), rounded, nan);
  return v128.bitselect(v128.and(x, i32x4.splat(0x80000000)), r, tiny);
}

/** x[0..n) = bf16(x[0..n)) in place. */
export function roundBf16InPlace(x: usize, n: i32): void {
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const o = x + (<usize>i << 2);
    v128.store(o, vbf16(v128.load(o)));
  }
  for (; i < n; i++) {
    const o = x + (<usize>i << 2);
    store<f32>(o, bf16(load<f32>(o)));
  }
}

/** dst[i] = bf16(src[i]) for the chunk's part of [0, n) (parts of whole vectors: threads do not change bits). */
export function roundBf16(dst: usize, src: usize, n: i32, chunk: i32, nChunks: i32): void {
  const v = (n + 3) >> 2;
  const i0 = <i32>(<i64>v * chunk / nChunks) << 2, i1 = min(n, <i32>(<i64>v * (chunk + 1) / nChunks) << 2);
  let i = i0;
  for (; i + 4 <= i1; i += 4) {
    const o = <usize>i << 2;
    v128.store(dst + o, vbf16(v128.load(src + o)));
  }
  for (; i < i1; i++) {
    const o = <usize>i << 2;
    store<f32>(dst + o, bf16(load<f32>(src + o)));
  }
}
