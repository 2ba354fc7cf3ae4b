// polymax: P = f(S) / d, / T with --div_by_seq_len, with
//   f = 0 for S < x0;  y0 + (y0 / (0 - x0)) S for x0 <= S <= 0;  S^p + y0 for S > 0
// (continuous: 0 at x0, y0 at 0). x0 = --polymax_x_intercept (< 0, refused otherwise), y0, p, d.
// CORRECTED (docs/softmax.md, defect 6): each piece is evaluated only where it is selected, so a
// non-integer power gives no NaN gradient (the framework's torch.where evaluates S^p everywhere).
// f' = 0; y0 / (0 - x0); p S^(p-1).
import type { ConfigOf, VariantFlag } from '../variant.js';
import { DIV_BY_SEQ_LEN, SCORE_KIND, finiteFlag, pointwise, positiveFlag } from './score.js';

/** Shared by polymax and vpolymax. */
export const POLYMAX_FLAGS = [
  {
    name: 'polymax_x_intercept', type: 'float', default: -100.0, help: 'polymax, vpolymax: x0, where the linear piece starts (must be < 0)',
    check: (v, _c, name) => (typeof v === 'number' && !(v < 0) ? `--${name} is ${v}; it must be < 0 (the linear piece runs from it to 0)` : null),
  },
  { name: 'polymax_y_intercept', type: 'float', default: 1.0, help: 'polymax, vpolymax: y0, the value at 0', check: finiteFlag() },
  { name: 'polymax_power', type: 'float', default: 2.0, help: 'polymax, vpolymax: p in S^p + y0 for S > 0', check: finiteFlag() },
  { name: 'polymax_divisor', type: 'float', default: 1000.0, help: 'polymax, vpolymax: divisor d', check: positiveFlag() },
  DIV_BY_SEQ_LEN,
] as const satisfies readonly VariantFlag[];

export type PolymaxConfig = ConfigOf<typeof POLYMAX_FLAGS>;

/** polymax (vee = false) or vpolymax (vee = true: slope y0 / x0, so 2 y0 at x0 falling to y0). */
export function polymaxFamily(name: string, vee: boolean) {
  const slope = (a: PolymaxConfig) => (vee ? a.polymax_y_intercept / a.polymax_x_intercept : a.polymax_y_intercept / (0 - a.polymax_x_intercept));
  return pointwise<PolymaxConfig>({
    name, flags: POLYMAX_FLAGS,
    f(x, a) {
      if (x > 0) return Math.pow(x, a.polymax_power) + a.polymax_y_intercept;
      if (x >= a.polymax_x_intercept) return slope(a) * x + a.polymax_y_intercept;
      return 0;
    },
    df(x, a) {
      if (x > 0) return a.polymax_power * Math.pow(x, a.polymax_power - 1);
      if (x >= a.polymax_x_intercept) return slope(a);
      return 0;
    },
    kernel: (a) => ({ kind: SCORE_KIND.poly, c: [a.polymax_x_intercept, slope(a), a.polymax_y_intercept, a.polymax_power] }),
    divisor: (a) => a.polymax_divisor,
    // Two compares select the piece; the power (exp and log: x^p = e^(p ln x)) or the line.
    ops: () => ({ forward: { cmp: 2, exp: 2, mul: 1, add: 1 }, backward: { cmp: 2, exp: 2, mul: 3 } }),
  });
}

export const polymax = polymaxFamily('polymax', false);
