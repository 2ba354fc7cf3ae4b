// Piecewise-linear activations with learned knots, shared by `piecewise` and `pfla` (one function,
// two flag sets) and `pfla_le` (learned ends). docs/variants.md, "Piecewise-linear".
//
// Knots (x_vals[i], y_vals[i]), i = 0..n-1, both learned. Init: x_vals = the n interior points of
// linspace(L, R, n + 2) (both ends dropped), y_vals = gelu(x_vals) (exact gelu).
// mode 'pwl' (piecewise, pfla):            mode 'le' (pfla_le):
//   x >= R                 -> x               x >= x_vals[n-1]  -> line of knots n-2, n-1, extended
//   x_vals[n-1] <= x < R   -> line from knot n-1 to (R, R)
//   x_vals[i] <= x < x_vals[i+1] -> the line through knots i and i+1 (both modes)
//   otherwise (x < x_vals[0])    -> 0      otherwise -> y_vals[0] (WITH its gradient; the reference
//                                                       detaches it, docs/variants.md corrects that)
//
// Knot order: the knots are used in their current order, with the reference's precedence (its
// chain of torch.where): the first row of the table that matches wins, and among the middle
// segments the one with the larger i. With increasing knots (the init, and normal training) the
// segments are disjoint and this is just the table; if training makes x_vals non-increasing, the
// function is still exactly the reference's. A segment with x_vals[i+1] <= x_vals[i] is an empty
// interval, never selected, so its slope (0/0 or a negative width) is never used: no NaN. The one
// line that can be used with a width <= 0 is pfla_le's right end: a negative width still defines a
// line; a zero width (the reference divides by 0 there) gives the flat line y = y_vals[n-1].
//
// Gradients of the line through points a and b at x, with w = x_b - x_a, s = (y_b - y_a) / w,
// t = (x - x_a) / w:  dy/dx = s, dy/dy_a = 1 - t, dy/dy_b = t, dy/dx_a = s (t - 1), dy/dx_b = -s t.
// Saved: slope (n): slope[i] of segment i (knots i, i+1) and slope[n-1] of the right-end line,
// computed once per forward call. Backward finds each element's segment again (a binary search when
// the knots increase strictly, else a scan in the reference's precedence) rather than storing N*H
// segment indices.
import { reusableSums, type F } from '../../engine/types.js';
import type { ConfigOf, Variant, VariantConfig, VariantFlag } from '../variant.js';
import { geluScalar } from './gelu.js';
import { elementwise, searchCompares } from '../op-cost.js';

const accSums = reusableSums(); // dx_vals, dy_vals of one backward call

export type PwlMode = 'pwl' | 'le';
export interface PwlShape { n: number; L: number; R: number }

/** Segment codes besides 0..n-1 (segment i = knots i, i+1; n-1 = the right-end line). */
const SEG_IDENTITY = -2; // 'pwl' only: x >= R
const SEG_LEFT = -1; // x left of every segment: 0 ('pwl') or y_vals[0] ('le')

/** linspace(start, end, steps) as torch computes it (the first half counts up from start, the
 * second half down from end), in double; float32 parameters then round it as torch stores it. */
export function linspace(start: number, end: number, steps: number): number[] {
  if (steps === 1) return [start];
  const step = (end - start) / (steps - 1), half = Math.floor(steps / 2);
  return Array.from({ length: steps }, (_, i) => (i < half ? start + step * i : end - step * (steps - 1 - i)));
}

/** x_vals[0] < x_vals[1] < ... < x_vals[n-1]: then segments are disjoint and binary search applies. */
export function increasing(xv: F, n: number): boolean {
  for (let i = 0; i + 1 < n; i++) if (!(xv[i] < xv[i + 1])) return false;
  return true;
}

/** Which rule of the table applies at x (see header); inc = increasing(xv, n). */
function segmentOf(x: number, xv: F, n: number, R: number, le: boolean, inc: boolean): number {
  if (!le && x >= R) return SEG_IDENTITY;
  if (x >= xv[n - 1]) return n - 1;
  if (inc) {
    if (!(x >= xv[0])) return SEG_LEFT;
    let lo = 0, hi = n - 1; // xv[lo] <= x < xv[hi]
    while (hi - lo > 1) {
      const mid = (lo + hi) >> 1;
      if (xv[mid] <= x) lo = mid; else hi = mid;
    }
    return lo;
  }
  for (let i = n - 2; i >= 0; i--) if (xv[i] <= x && x < xv[i + 1]) return i;
  return SEG_LEFT;
}

/** slope[i] for segments 0..n-2 and the right-end line (n-1); 0 where the width is 0. */
export function computeSlopes(slope: F | Float64Array, xv: F, yv: F, n: number, R: number, le: boolean): void {
  for (let i = 0; i + 1 < n; i++) {
    const w = xv[i + 1] - xv[i];
    slope[i] = w > 0 ? (yv[i + 1] - yv[i]) / w : 0; // never selected when w <= 0
  }
  if (le) {
    const w = xv[n - 1] - xv[n - 2];
    slope[n - 1] = w !== 0 ? (yv[n - 1] - yv[n - 2]) / w : 0;
  } else {
    const w = R - xv[n - 1];
    slope[n - 1] = w > 0 ? (R - yv[n - 1]) / w : 0; // never selected when w <= 0
  }
}

/** Value for segment code seg: every line is evaluated from its anchor knot (n-1 for the right end). */
function valueAt(x: number, seg: number, xv: F, yv: F, slope: F | Float64Array, le: boolean): number {
  if (seg === SEG_IDENTITY) return x;
  if (seg === SEG_LEFT) return le ? yv[0] : 0;
  return yv[seg] + slope[seg] * (x - xv[seg]);
}

/** A pwl variant also tells a faster backend its mode and shape (src/engine/kernels/native). */
export type PwlVariant<A = any> = Variant<A> & { pwl: { le: boolean; shape: (a: VariantConfig<A>) => PwlShape } };

/** A piecewise-linear variant over its flags (`<prefix>_num_points`, `_left_bound`, `_right_bound`).
 * Longer than 60 lines: it is one variant object (params, forward, backward, curve, the native
 * path), each member short, kept together as every variant file keeps them. */
export function makePwl<const Fs extends readonly VariantFlag[]>(name: string, mode: PwlMode, prefix: 'pla' | 'pfla',
  flags: Fs, shape: (a: ConfigOf<Fs>) => PwlShape): PwlVariant<ConfigOf<Fs>> {
  const le = mode === 'le';
  return {
    name,
    flags,
    pwl: { le, shape },
    check(a) {
      const { n, L, R } = shape(a);
      const minN = le ? 2 : 1;
      if (!Number.isInteger(n) || n < minN) {
        return `--${prefix}_num_points is ${n}; it must be an integer >= ${minN} for ${name}` +
          (le ? ' (its ends extend the first and last segments)' : '');
      }
      if (!(L < R)) return `--${prefix}_left_bound ${L} must be smaller than --${prefix}_right_bound ${R} (${name})`;
      return null;
    },
    params(_C, a) {
      const { n, L, R } = shape(a);
      const xs = linspace(L, R, n + 2).slice(1, -1).map(Math.fround);
      return {
        x_vals: { shape: [n], init: { values: xs } },
        y_vals: { shape: [n], init: { values: xs.map(geluScalar) } },
      };
    },
    saved: (_N, _C, a) => ({ slope: shape(a).n }),
    // docs/cost.md, rule 5 and "The counts of each variant". Per element: a binary search among the boundaries (the n
    // knots, and R in 'pwl' mode), one look-up of the segment's (x, y, slope), y + slope (x - x_i).
    // Backward: the same search and look-up, dx = g slope, t = (x - x_a) / w (w's reciprocal is per
    // call), and the four knot gradients. Per call: the n slopes (forward) and the n reciprocal widths
    // plus the 2n gradient sums (backward).
    cost(C, a) {
      const { n } = shape(a), search = searchCompares(le ? n : n + 1);
      return {
        ...elementwise(C, { cmp: search, lut: 1, mul: 1, add: 2 }, { cmp: search, lut: 1, mul: 6, add: 6 }),
        setup: { forward: { add: 2 * n, div: n }, backward: { add: 3 * n, div: n } },
      };
    },
    forward(out, x, p, s, N, C, a) {
      const { n, R } = shape(a), xv = p.x_vals, yv = p.y_vals, slope = s.slope;
      computeSlopes(slope, xv, yv, n, R, le);
      const inc = increasing(xv, n);
      for (let i = 0; i < N * C; i++) out[i] = valueAt(x[i], segmentOf(x[i], xv, n, R, le, inc), xv, yv, slope, le);
    },
    backward(dx, dp, dout, x, p, s, N, C, a) {
      const { n, R } = shape(a), xv = p.x_vals, slope = s.slope;
      const inc = increasing(xv, n);
      // dx_vals, dy_vals summed in doubles first (one entry collects up to N*H terms).
      const acc = accSums(2 * n), gx = acc.subarray(0, n), gy = acc.subarray(n);
      for (let i = 0; i < N * C; i++) {
        const g = dout[i], v = x[i], seg = segmentOf(v, xv, n, R, le, inc);
        if (seg === SEG_IDENTITY) { dx[i] += g; continue; }
        if (seg === SEG_LEFT) { if (le) gy[0] += g; continue; }
        const sl = slope[seg];
        dx[i] += g * sl;
        if (seg < n - 1 || le) {
          // Line through knots ia and ia + 1 (pfla_le's right end is the line of knots n-2, n-1).
          const ia = seg < n - 1 ? seg : n - 2, w = xv[ia + 1] - xv[ia];
          if (w === 0) { gy[n - 1] += g; continue; } // pfla_le's flat right end
          const t = (v - xv[ia]) / w;
          gy[ia] += g * (1 - t); gy[ia + 1] += g * t;
          gx[ia] += g * sl * (t - 1); gx[ia + 1] -= g * sl * t;
        } else {
          // 'pwl' right end: from knot n-1 to the fixed point (R, R).
          const t = (v - xv[n - 1]) / (R - xv[n - 1]);
          gy[n - 1] += g * (1 - t);
          gx[n - 1] += g * sl * (t - 1);
        }
      }
      for (let k = 0; k < n; k++) { dp.x_vals[k] += gx[k]; dp.y_vals[k] += gy[k]; }
    },
    // Native: the slopes here, every element in C (its backward sums dx_vals, dy_vals in double too).
    fused(be) {
      const k = be.native;
      if (!k) return undefined;
      const lev = le ? 1 : 0;
      return {
        forward(out, x, p, s, N, C, cfg) {
          const { n, R } = shape(cfg);
          computeSlopes(s.slope, p.x_vals, p.y_vals, n, R, le);
          k.pwlForward(out, x, p.x_vals, p.y_vals, s.slope, N * C, n, R, lev, increasing(p.x_vals, n) ? 1 : 0);
        },
        backward(dx, dp, dout, x, p, s, N, C, cfg) {
          const { n, R } = shape(cfg), acc = accSums(2 * n);
          k.pwlBackward(dx, acc, dout, x, p.x_vals, p.y_vals, s.slope, N * C, n, R, lev, increasing(p.x_vals, n) ? 1 : 0);
          for (let j = 0; j < n; j++) { dp.x_vals[j] += acc[j]; dp.y_vals[j] += acc[n + j]; }
        },
      };
    },
    plotRange(a, p) {
      const { L, R } = shape(a);
      return [Math.min(L, ...(p?.x_vals ?? [])), Math.max(R, ...(p?.x_vals ?? []))];
    },
    curve(x, p, a) {
      const { n, R } = shape(a);
      const slope = new Float64Array(n);
      computeSlopes(slope, p.x_vals, p.y_vals, n, R, le);
      return valueAt(x, segmentOf(x, p.x_vals, n, R, le, increasing(p.x_vals, n)), p.x_vals, p.y_vals, slope, le);
    },
  };
}

