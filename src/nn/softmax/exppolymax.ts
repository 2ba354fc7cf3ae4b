// exppolymax: P = f(S) / d, / T with --div_by_seq_len, with
//   f = b^S for S < 0;  (S + k)^p + y0 for S >= 0,  k = 0 if p = 1, else (ln b / p)^(1/(p-1))
// (the slopes agree at 0; the values jump from 1 to k^p + y0: 1.25 at the defaults, kept).
// b = e, or --exppolymax_base with --no-exppolymax_use_euler_base (CORRECTED, docs/softmax.md
// defect 3: the framework crashes there). CORRECTED (defect 6): each piece only where selected, so
// neither a fractional power nor b^S's overflow for large S poisons the gradient.
// f' = ln b · b^S;  p (S + k)^(p-1).
import type { ConfigOf, VariantFlag } from '../variant.js';
import { DIV_BY_SEQ_LEN, SCORE_KIND, finiteFlag, pointwise, positiveFlag } from './score.js';

const FLAGS = [
  { name: 'exppolymax_use_euler_base', type: 'bool', default: true, help: 'exppolymax: base e (else --exppolymax_base)' },
  { name: 'exppolymax_base', type: 'float', default: 4.0, help: 'exppolymax: base b without --exppolymax_use_euler_base', check: positiveFlag() },
  { name: 'exppolymax_y_intercept', type: 'float', default: 1.0, help: 'exppolymax: y0', check: finiteFlag() },
  { name: 'exppolymax_power', type: 'float', default: 2.0, help: 'exppolymax: p in (S + k)^p + y0 for S >= 0', check: finiteFlag() },
  { name: 'exppolymax_divisor', type: 'float', default: 1000.0, help: 'exppolymax: divisor d', check: positiveFlag() },
  DIV_BY_SEQ_LEN,
] as const satisfies readonly VariantFlag[];

type A = ConfigOf<typeof FLAGS>;
const lnb = (a: A) => (a.exppolymax_use_euler_base ? 1 : Math.log(a.exppolymax_base));
/** The shift k that matches the slopes at 0. */
export const exppolymaxShift = (a: A): number => (a.exppolymax_power === 1 ? 0 : Math.pow(lnb(a) / a.exppolymax_power, 1 / (a.exppolymax_power - 1)));

export const exppolymax = pointwise<A>({
  name: 'exppolymax', flags: FLAGS,
  check: (a) => (Number.isFinite(exppolymaxShift(a)) ? null
    : `exppolymax: the slope-matching shift (ln b / p)^(1/(p-1)) is not a number for base ${a.exppolymax_use_euler_base ? 'e' : a.exppolymax_base} and --exppolymax_power ${a.exppolymax_power}; use a base > 1 or an integer power`),
  f: (x, a) => (x < 0 ? Math.exp(lnb(a) * x) : Math.pow(x + exppolymaxShift(a), a.exppolymax_power) + a.exppolymax_y_intercept),
  df: (x, a) => (x < 0 ? lnb(a) * Math.exp(lnb(a) * x) : a.exppolymax_power * Math.pow(x + exppolymaxShift(a), a.exppolymax_power - 1)),
  kernel: (a) => ({ kind: SCORE_KIND.exppoly, c: [lnb(a), exppolymaxShift(a), a.exppolymax_y_intercept, a.exppolymax_power] }),
  divisor: (a) => a.exppolymax_divisor,
  ops: () => ({ forward: { cmp: 1, exp: 2, mul: 1, add: 2 }, backward: { cmp: 1, exp: 2, mul: 3, add: 1 } }),
});
