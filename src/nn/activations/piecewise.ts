// piecewise (the reference's PiecewiseLearnableActivation): the piecewise-linear function of
// pwl.ts, mode 'pwl', with the --pla_* flags: n = --pla_num_points (7), L = --pla_left_bound (-2),
// R = --pla_right_bound (2). x < x_vals[0]: 0; between knots: linear; x_vals[n-1] <= x < R: the
// line to (R, R); x >= R: x. Params x_vals [n], y_vals [n]. Saved: slope (n).
import type { VariantFlag } from '../variant.js';
import { makePwl } from './pwl.js';

const flags = [
  { name: 'pla_num_points', type: 'int', default: 7, help: 'piecewise: number of points' },
  { name: 'pla_left_bound', type: 'float', default: -2.0, help: 'piecewise: left bound' },
  { name: 'pla_right_bound', type: 'float', default: 2.0, help: 'piecewise: right bound' },
] as const satisfies readonly VariantFlag[];

export const piecewise = makePwl('piecewise', 'pwl', 'pla', flags,
  (a) => ({ n: a.pla_num_points, L: a.pla_left_bound, R: a.pla_right_bound }));
