// Scalar fake quantization used by kRMSNorm (docs/variants.md, "kRMSNorm", step 3).
// Both work in float64; `fr` rounds every intermediate to the working precision (Math.fround when
// the data is Float32Array, so a float32 run matches torch op by op; the identity in float64).
import { roundHalfEven } from './math.js';

export type Rounder = (v: number) => number;
export const exact: Rounder = (v) => v;

/** Largest finite IEEE binary16 value. */
export const HALF_MAX = 65504;

/**
 * v rounded to the nearest IEEE binary16 (half) value, ties to even, returned as a number: what
 * torch's `v.half().float()` gives. Binary16 has 10 fraction bits, so the spacing of values in
 * [2^e, 2^(e+1)) is 2^(e-10); below 2^-14 (subnormals) it stays 2^-24. Results above HALF_MAX
 * (|v| >= 65520, the tie at 65520 goes to the even 65536) overflow to +-Infinity.
 * Keeps the sign of zero, NaN and infinities.
 */
export function roundToHalf(v: number): number {
  if (v === 0 || !Number.isFinite(v)) return v;
  const a = Math.abs(v);
  let e = Math.floor(Math.log2(a));
  if (2 ** e > a) e--; // Math.log2 may be off by one ulp near powers of two
  else if (2 ** (e + 1) <= a) e++;
  const ulp = 2 ** (Math.max(e, -14) - 10);
  const r = roundHalfEven(a / ulp) * ulp; // a / ulp is exact: ulp is a power of two
  if (r > HALF_MAX) return v < 0 ? -Infinity : Infinity;
  return v < 0 ? -r : r;
}

/**
 * Affine fake quantization of v[o .. o+k) in place, one min/max for those k values:
 *   scale = (max - min) / (qmax - qmin), zp = qmin - min / scale,
 *   q = clamp(roundHalfEven(v / scale + zp), qmin, qmax), v' = (q - zp) * scale.
 * max == min leaves v unchanged (scale would be 0); so does a scale that underflows to 0.
 */
export function fakeQuantInt(v: { [i: number]: number }, o: number, k: number, qmin: number, qmax: number, fr: Rounder = exact): void {
  let mn = Infinity, mx = -Infinity;
  for (let j = 0; j < k; j++) {
    const t = v[o + j];
    if (t < mn) mn = t;
    if (t > mx) mx = t;
  }
  if (mx === mn) return;
  const scale = fr(fr(mx - mn) / (qmax - qmin));
  if (!(scale > 0 && Number.isFinite(scale))) return;
  const zp = fr(qmin - fr(mn / scale));
  for (let j = 0; j < k; j++) {
    const q = Math.min(qmax, Math.max(qmin, roundHalfEven(fr(fr(v[o + j] / scale) + zp))));
    v[o + j] = fr(fr(q - zp) * scale);
  }
}

export const INT_RANGES = {
  int8: { qmin: -128, qmax: 127 },
  int16: { qmin: -32768, qmax: 32767 },
} as const;
