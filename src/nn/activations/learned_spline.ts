// Learned spline activation (the reference's LearnedSplineActivation, with its defects corrected as
// docs/variants.md says): y = S(x), S the natural cubic spline (S'' = 0 at both ends, C2, through
// every knot) through (x_vals[k], y_vals[k]), k = 0..n-1, n = --lsa_num_knots (30; the reference
// ignores the flag and uses 10). Init: x_vals = linspace(-5, 5, n), y_vals = gelu(x_vals) (exact).
// Segment of x: clamp(searchsorted(x_vals, x) - 1, 0, n - 2); outside the knots the end cubics are
// extended. Gradients flow to x, y_vals and x_vals (through the tridiagonal solve: cubic_spline.ts).
// Knots out of order or closer than 1e-4: sorted (y with its x) and pushed apart, see cubic_spline.ts.
// Saved: the per-call spline (cubic_spline.ts SplineWork: perm, pushed, knots, h, delta, m2, coef,
// cp; O(n) each), built once per forward call; backward reuses it.
import { reusableSums } from '../../engine/types.js';
import { atLeast, type ConfigOf, type Variant, type VariantFlag } from '../variant.js';
import { geluScalar } from './gelu.js';
import { linspace } from './pwl.js';
import {
  allocSplineWork, splineAdjoint, splineSegment, splineSetup, splineValue, splineWorkSizes, type SplineWork,
} from './cubic_spline.js';
import { elementwise, searchCompares, type Ops } from '../op-cost.js';

const accSums = reusableSums(); // per-segment sums of one backward call

const flags = [
  { name: 'lsa_num_knots', type: 'int', default: 30, help: 'learned_spline: number of knots', check: atLeast(2, ' (a spline needs at least two knots)') },
] as const satisfies readonly VariantFlag[];
export type SplineConfig = ConfigOf<typeof flags>;

/** Per call, for n knots: sort and gap checks (2 (n-1) compares, n-1 adds), spacings and secant
 * slopes (2 (n-1) adds, n-1 divides), the right-hand side (n-2 adds, n-2 multiplies), the Thomas
 * solve of n-2 unknowns (per unknown 4 multiplies, 3 adds, 1 divide), the coefficients (per segment 5
 * multiplies, 3 adds, 1 divide). The adjoint in backward is counted the same. */
function splineSetupOps(n: number): Ops {
  const s = n - 1, u = Math.max(0, n - 2);
  return { cmp: 2 * s, add: s + 2 * s + u + 3 * u + 3 * s, mul: u + 4 * u + 5 * s, div: s + u + s };
}

export const learned_spline: Variant<SplineConfig> = {
  name: 'learned_spline',
  flags,
  params(_C, a) {
    const xs = linspace(-5, 5, a.lsa_num_knots).map(Math.fround);
    return {
      x_vals: { shape: [a.lsa_num_knots], init: { values: xs } },
      y_vals: { shape: [a.lsa_num_knots], init: { values: xs.map(geluScalar) } },
    };
  },
  saved: (_N, _C, a) => splineWorkSizes(a.lsa_num_knots),
  // docs/cost.md, rule 5 and "The counts of each variant". Per element: a binary search among the n - 2 interior
  // knots, one look-up of the segment's (knot, a, b, c, d), u = x - knot, Horner a + u (b + u (c + u d)).
  // Backward: search, look-up, u, S'(u) = b + u (2c + 3 u d), dx = g S', and the five per-segment sums
  // (g, g u, g u^2, g u^3, g S'). Per call: the spline's setup (forward) and its adjoint (backward).
  cost(C, a) {
    const n = a.lsa_num_knots, search = searchCompares(n - 2);
    return {
      ...elementwise(C, { cmp: search, lut: 1, mul: 3, add: 4 }, { cmp: search, lut: 1, mul: 8, add: 8 }),
      setup: { forward: splineSetupOps(n), backward: splineSetupOps(n) },
    };
  },
  forward(out, x, p, s, N, C, a) {
    const n = a.lsa_num_knots, w = s as unknown as SplineWork;
    splineSetup(w, p.x_vals, p.y_vals, n);
    for (let i = 0; i < N * C; i++) out[i] = splineValue(w, n, x[i]);
  },
  backward(dx, dp, dout, x, _p, s, N, C, a) {
    const n = a.lsa_num_knots, w = s as unknown as SplineWork, knots = w.knots, coef = w.coef;
    // Per segment: sums of g, g u, g u^2, g u^3, g S'(u), in doubles (each collects many terms).
    const acc = accSums(5 * (n - 1));
    for (let i = 0; i < N * C; i++) {
      const g = dout[i], k = splineSegment(knots, n, x[i]), u = x[i] - knots[k], o = 4 * k;
      const slope = coef[o + 1] + u * (2 * coef[o + 2] + 3 * u * coef[o + 3]);
      dx[i] += g * slope;
      const gu = g * u, q = 5 * k;
      acc[q] += g; acc[q + 1] += gu; acc[q + 2] += gu * u; acc[q + 3] += gu * u * u; acc[q + 4] += g * slope;
    }
    splineAdjoint(w, n, acc, dp.x_vals, dp.y_vals);
  },
  // Native: the spline's setup and adjoint here (cubic_spline.ts), per-element value, dx and sums in C.
  fused(be) {
    const k = be.native;
    if (!k) return undefined;
    return {
      forward(out, x, p, s, N, C, a) {
        const n = a.lsa_num_knots;
        splineSetup(s as unknown as SplineWork, p.x_vals, p.y_vals, n);
        k.splineForward(out, x, s.knots, s.coef, N * C, n);
      },
      backward(dx, dp, dout, x, _p, s, N, C, a) {
        const n = a.lsa_num_knots, acc = accSums(5 * (n - 1));
        k.splineBackward(dx, acc, dout, x, s.knots, s.coef, N * C, n);
        splineAdjoint(s as unknown as SplineWork, n, acc, dp.x_vals, dp.y_vals);
      },
    };
  },
  plotRange: (_a, p) => [Math.min(-5, ...(p?.x_vals ?? [])), Math.max(5, ...(p?.x_vals ?? []))],
  curve(x, p, a) {
    const w = allocSplineWork(a.lsa_num_knots);
    splineSetup(w, p.x_vals, p.y_vals, a.lsa_num_knots);
    return splineValue(w, a.lsa_num_knots, x);
  },
};
