// Scalar fake quantization used by kRMSNorm (docs/variants.md, "kRMSNorm", step 3).
// Both work in float64; `fr` rounds every intermediate to the working precision (Math.fround when
// the data is Float32Array, so a float32 run matches torch op by op; the identity in float64).
import { roundHalfEven } from './math.js';
import type { F } from './types.js';

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

// ---- Per-tensor fake quantization of activations, weights and embeddings (docs/quantization.md) ----
// The definition of Backend.fakeQuant; native/src/quantize.c and wasm/assembly/quantize.ts repeat
// its float32 arithmetic operation for operation (each rounded once, as torch's float32 ops are).

/** --activations_quant_method and friends, in the kernel's numbering. */
export const QUANT_METHODS = ['symmetric_quant', 'affine_quant', 'stochastic_quant', 'ternary_quant'] as const;
export type QuantMethod = typeof QUANT_METHODS[number];
export const quantMethodId = (m: QuantMethod): number => QUANT_METHODS.indexOf(m);
/** The stochastic method: the only one that draws uniforms. */
export const STOCHASTIC = 2;

/** The per-tensor parameters of one quantization: x' = (q - zp) * scale with q in [qmin, qmax]. */
export interface QuantParams {
  method: number; scale: number; zp: number; qmin: number; qmax: number;
  /** max|x| (stochastic rounding divides by it) and 2^b - 1. */
  amax: number; levels: number;
}

/** Calls f(i) for the entries of x[0..n) a quantizer sees: all of them (T = 0), or with T > 0 the
 * causal lower triangle j <= i of each T x T block (masked scores are not part of the tensor). */
export function forEntries(n: number, T: number, f: (i: number) => void): void {
  if (T <= 0) { for (let i = 0; i < n; i++) f(i); return; }
  for (let o = 0; o + T * T <= n; o += T * T) {
    for (let r = 0; r < T; r++) for (let c = 0; c <= r; c++) f(o + r * T + c);
  }
}

/**
 * The statistics and scale of one tensor, or null when it passes unchanged (scale 0 or not
 * finite: a constant tensor for affine, an all-zero one for symmetric and stochastic):
 *   symmetric:  scale = max|x| / (2^(b-1) - 1), zp = 0, q in [-2^(b-1), 2^(b-1) - 1]
 *   affine:     scale = (max - min) / (2^b - 1), zp = -round(min / scale) - 2^(b-1), same q range
 *   stochastic: scale = max|x| / (2^b - 1), q in [-(2^b - 1), 2^b - 1] (the reference's levels)
 *   ternary:    scale = max(mean|x|, 1e-5), q in [-1, 1]
 * mean|x| is summed in float64 and rounded once.
 */
export function quantParams(x: ArrayLike<number>, n: number, T: number, method: number, bits: number, fr: Rounder = exact): QuantParams | null {
  const st = quantStats();
  forEntries(n, T, (i) => addQuantStat(st, x[i]));
  return quantParamsOf(st, method, bits, fr);
}

/** What a quantizer's parameters are computed from: min, max, max|x|, sum|x| (float64) and the count. */
export interface QuantStats { mn: number; mx: number; amax: number; asum: number; count: number }
export const quantStats = (): QuantStats => ({ mn: Infinity, mx: -Infinity, amax: 0, asum: 0, count: 0 });
function addQuantStat(st: QuantStats, v: number): void {
  const a = Math.abs(v);
  if (v < st.mn) st.mn = v;
  if (v > st.mx) st.mx = v;
  if (a > st.amax) st.amax = a;
  st.asum += a; st.count++;
}

/** The parameters of quantParams from gathered statistics (null: the tensor passes unchanged). */
export function quantParamsOf(st: QuantStats, method: number, bits: number, fr: Rounder = exact): QuantParams | null {
  const { mn, mx, amax, asum, count } = st;
  if (count === 0) return null;
  const half = 2 ** (bits - 1) - 1, levels = 2 ** bits - 1;
  let scale: number, zp = 0, qmin = -half - 1, qmax = half;
  switch (method) {
    case 0: scale = fr(amax / half); break;
    case 1:
      scale = fr(fr(mx - mn) / levels);
      zp = -roundHalfEven(fr(mn / scale)) + qmin;
      break;
    case 2: scale = fr(amax / levels); qmin = -levels; qmax = levels; break;
    case 3: scale = Math.max(fr(asum / count), fr(1e-5)); qmin = -1; qmax = 1; break;
    default: throw new RangeError(`fakeQuant: method ${method} is not 0..3`);
  }
  if (!(scale > 0 && Number.isFinite(scale)) || !Number.isFinite(zp)) return null;
  return { method, scale, zp, qmin, qmax, amax, levels };
}

/** x' of one value under p (u: its uniform, stochastic only) at scheduler level `level` (< 0: none). */
export function quantValue(v: number, p: QuantParams, u: number, level: number, fr: Rounder = exact): number {
  const d = fr(fr(quantInt(v, p, u, fr) - p.zp) * p.scale);
  return level < 0 ? d : fr(v + fr(fr(level) * fr(d - v)));
}

/** The integer q of one value v; u is its uniform draw in [0, 1) (stochastic only: the magnitude
 * l = |v| / max|x| * (2^b - 1) is rounded up when u < frac(l), down otherwise). */
export function quantInt(v: number, p: QuantParams, u: number, fr: Rounder = exact): number {
  if (p.method === STOCHASTIC) {
    const l = fr(fr(Math.abs(v) / p.amax) * p.levels);
    const fl = Math.trunc(l);
    const prob = Math.min(1, Math.max(0, fr(l - fl)));
    return (v > 0 ? 1 : v < 0 ? -1 : 0) * (fl + (u < prob ? 1 : 0));
  }
  return Math.min(p.qmax, Math.max(p.qmin, roundHalfEven(fr(v / p.scale)) + p.zp));
}

/** The rounder of an array's precision: Math.fround for Float32Array, the identity for float64. */
export const rounderOf = (a: ArrayLike<number>): Rounder => (a instanceof Float64Array ? exact : Math.fround);

/**
 * Backend.fakeQuant, the definition (src/engine/backend.ts has the contract): out[0..n) gets
 * (q - zp) * scale for each entry of x the quantizer sees (all, or the causal lower triangles when
 * T > 0; the others are copied), blended as x + level * (x' - x) when level >= 0 (a scheduler is set).
 * out may alias x. u: n uniforms (stochastic), else ignored.
 */
export function fakeQuant(out: F, x: F, u: F | null, n: number, T: number, method: number, bits: number, level: number): void {
  const fr = rounderOf(out);
  const p = quantParams(x, n, T, method, bits, fr);
  if (out !== x) for (let i = 0; i < n; i++) out[i] = x[i];
  if (!p) return;
  if (method === STOCHASTIC && (!u || u.length < n)) throw new RangeError(`fakeQuant: stochastic_quant needs ${n} uniforms`);
  forEntries(n, T, (i) => { out[i] = quantValue(x[i], p, u ? u[i] : 0, level, fr); });
}
