// Natural cubic spline through n knots, and its adjoint, for learned_spline.ts.
//
// Knots (xs[k], ys[k]), k = 0..n-1, increasing. h[k] = xs[k+1] - xs[k], delta[k] = (ys[k+1] - ys[k]) / h[k].
// The second derivatives M solve, for j = 1..n-2 (natural ends: M[0] = M[n-1] = 0),
//   h[j-1] M[j-1] + 2 (h[j-1] + h[j]) M[j] + h[j] M[j+1] = 6 (delta[j] - delta[j-1])      (A M = r)
// a symmetric, strictly diagonally dominant tridiagonal system (h > 0), solved by the Thomas
// algorithm without pivoting. On segment k, with u = x - xs[k]:
//   S(x) = a + b u + c u^2 + d u^3,  a = ys[k], b = delta[k] - h[k] (2 M[k] + M[k+1]) / 6,
//   c = M[k] / 2,  d = (M[k+1] - M[k]) / (6 h[k]).
// This passes through every knot and is C2 (the reference mixes the "M" and "c = M/2" conventions
// in its right-hand side, so its curve misses the knots; docs/variants.md corrects it).
//
// Knot order. The learned x_vals may leave increasing order in training. The spline is then built
// through the same (x, y) pairs sorted by x (a stable sort; y values travel with their x), and
// gradients flow back to the original slots. Knots closer than MIN_GAP are pushed apart: each
// sorted knot is placed at max(its x, previous placed knot + MIN_GAP); a pushed knot's position
// depends on the knot before it (its own x gets no gradient while pushed). So every h >= MIN_GAP,
// every division is by a positive number, and the result is never NaN (given finite parameters).
// With increasing knots at least MIN_GAP apart (always, at init) none of this changes anything.
import type { F } from '../../engine/types.js';

export const MIN_GAP = 1e-4;

type A = F | Float64Array;

/** Per-call work arrays (saved buffers in learned_spline.ts), for n knots. */
export interface SplineWork {
  perm: A; // (n) perm[k] = original index of the k-th smallest knot
  pushed: A; // (n) 1 where the knot was pushed to keep MIN_GAP, else 0
  knots: A; // (n) sorted, pushed knot positions xs
  h: A; // (n-1) knot spacings, computed in double before storage (so > 0 even in float32)
  delta: A; // (n-1) secant slopes
  m2: A; // (n) second derivatives M
  coef: A; // (4(n-1)) a, b, c, d of segment k at 4k..4k+3
  cp: A; // (n) Thomas scratch
}

export function splineWorkSizes(n: number): Record<keyof SplineWork, number> {
  return { perm: n, pushed: n, knots: n, h: n - 1, delta: n - 1, m2: n, coef: 4 * (n - 1), cp: n };
}

export function allocSplineWork(n: number): SplineWork {
  const s = splineWorkSizes(n);
  return {
    perm: new Float64Array(s.perm), pushed: new Float64Array(s.pushed), knots: new Float64Array(s.knots),
    h: new Float64Array(s.h), delta: new Float64Array(s.delta), m2: new Float64Array(s.m2),
    coef: new Float64Array(s.coef), cp: new Float64Array(s.cp),
  };
}

/** Solves A z = rhs for the interior unknowns z[1..n-2] in place (rhs in z[1..n-2]); z[0] = z[n-1] = 0.
 * A is the symmetric matrix of the header, so the same routine solves the adjoint system A^T l = g. */
export function solveNatural(z: A, h: A, cp: A, n: number): void {
  z[0] = 0; z[n - 1] = 0;
  if (n < 3) return;
  // Forward sweep: row j has h[j-1] left of the diagonal, 2 (h[j-1] + h[j]) on it, h[j] right of it.
  let prevC = 0, prevZ = 0;
  for (let j = 1; j <= n - 2; j++) {
    const lower = j > 1 ? h[j - 1] : 0;
    const denom = 2 * (h[j - 1] + h[j]) - lower * prevC;
    prevC = j < n - 2 ? h[j] / denom : 0;
    prevZ = (z[j] - lower * prevZ) / denom;
    cp[j] = prevC; z[j] = prevZ;
  }
  for (let j = n - 3; j >= 1; j--) z[j] -= cp[j] * z[j + 1];
}

/** Builds the spline through (xv[i], yv[i]) into w (see header for the order and gap rules). */
export function splineSetup(w: SplineWork, xv: A, yv: A, n: number): void {
  const { perm, pushed, knots, h, delta, m2, coef } = w;
  // Stable insertion sort of the indices by x (n is small; already sorted costs n comparisons).
  for (let k = 0; k < n; k++) {
    let j = k;
    while (j > 0 && xv[perm[j - 1]] > xv[k]) { perm[j] = perm[j - 1]; j--; }
    perm[j] = k;
  }
  let prev = xv[perm[0]];
  knots[0] = prev; pushed[0] = 0;
  for (let k = 1; k < n; k++) {
    const v = xv[perm[k]], lim = prev + MIN_GAP, isPushed = v < lim;
    const pos = isPushed ? lim : v;
    h[k - 1] = pos - prev; // from the double positions: never 0 even if knots is float32
    delta[k - 1] = (yv[perm[k]] - yv[perm[k - 1]]) / h[k - 1];
    knots[k] = pos; pushed[k] = isPushed ? 1 : 0;
    prev = pos;
  }
  for (let j = 1; j <= n - 2; j++) m2[j] = 6 * (delta[j] - delta[j - 1]);
  solveNatural(m2, h, w.cp, n);
  for (let k = 0; k + 1 < n; k++) {
    coef[4 * k] = yv[perm[k]];
    coef[4 * k + 1] = delta[k] - h[k] * (2 * m2[k] + m2[k + 1]) / 6;
    coef[4 * k + 2] = m2[k] / 2;
    coef[4 * k + 3] = (m2[k + 1] - m2[k]) / (6 * h[k]);
  }
}

/** Segment of x: clamp(searchsorted(knots, x) - 1, 0, n - 2), searchsorted with side 'left'
 * (the number of knots strictly below x). Outside the knots the end cubics are extended. */
export function splineSegment(knots: A, n: number, x: number): number {
  let lo = 0, hi = n - 1; // invariant: (lo = 0 or knots[lo] < x) and (hi = n-1 or knots[hi] >= x)
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if (knots[mid] < x) lo = mid; else hi = mid;
  }
  return lo;
}

export function splineValue(w: SplineWork, n: number, x: number): number {
  const k = splineSegment(w.knots, n, x), u = x - w.knots[k], o = 4 * k, c = w.coef;
  return c[o] + u * (c[o + 1] + u * (c[o + 2] + u * c[o + 3]));
}

/**
 * Backward through the setup. acc holds, per segment k at 5k..5k+4, the sums over that segment's
 * elements of g, g u, g u^2, g u^3 (gradients of a, b, c, d) and g S'(u) (u = x - xs[k], so
 * xs[k] receives minus that). Adds the gradients of xv, yv into dxv, dyv (original order).
 * Chain: coefficients -> (ys, delta, h, M); M -> (delta, h) through A M = r: with A l = gM
 * (A symmetric), gr = l and gA = -l M^T; delta -> (ys, h); h -> xs; xs -> xv through the pushes.
 */
export function splineAdjoint(w: SplineWork, n: number, acc: Float64Array, dxv: A, dyv: A): void {
  const { perm, pushed, h, delta, m2: M, coef } = w;
  const t = new Float64Array(5 * n); // per call, O(n): gradients of M, h, delta, ys, xs in double
  const gM = t.subarray(0, n), gh = t.subarray(n, 2 * n), gdel = t.subarray(2 * n, 3 * n);
  const gys = t.subarray(3 * n, 4 * n), gxs = t.subarray(4 * n, 5 * n);
  for (let k = 0; k + 1 < n; k++) {
    const ga = acc[5 * k], gb = acc[5 * k + 1], gc = acc[5 * k + 2], gd = acc[5 * k + 3], gu = acc[5 * k + 4];
    const hk = h[k], d = coef[4 * k + 3];
    gys[k] += ga;
    gdel[k] += gb;
    gh[k] += -gb * (2 * M[k] + M[k + 1]) / 6 - gd * d / hk;
    gM[k] += -gb * hk / 3 + gc / 2 - gd / (6 * hk);
    gM[k + 1] += -gb * hk / 6 + gd / (6 * hk);
    gxs[k] -= gu;
  }
  // l = A^-1 gM over the interior (M[0], M[n-1] are the constant 0: their gradients are dropped).
  solveNatural(gM, h, w.cp, n);
  for (let j = 1; j <= n - 2; j++) {
    const l = gM[j];
    gh[j - 1] -= l * (M[j - 1] + 2 * M[j]);
    gh[j] -= l * (2 * M[j] + M[j + 1]);
    gdel[j] += 6 * l;
    gdel[j - 1] -= 6 * l;
  }
  for (let k = 0; k + 1 < n; k++) {
    const q = gdel[k] / h[k];
    gys[k + 1] += q; gys[k] -= q;
    gh[k] -= q * delta[k];
  }
  for (let k = 0; k + 1 < n; k++) { gxs[k + 1] += gh[k]; gxs[k] -= gh[k]; }
  // A pushed knot sits at (previous knot + MIN_GAP): its gradient goes to the previous knot.
  for (let k = n - 1; k >= 1; k--) {
    if (pushed[k]) gxs[k - 1] += gxs[k];
    else dxv[perm[k]] += gxs[k];
  }
  dxv[perm[0]] += gxs[0];
  for (let k = 0; k < n; k++) dyv[perm[k]] += gys[k];
}
