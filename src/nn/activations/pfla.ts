// pfla (the reference's PiecewiseFullyLearnableActivation): the same piecewise-linear function as
// piecewise.ts (pwl.ts, mode 'pwl'), with the --pfla_* flags: n = --pfla_num_points (50),
// L = --pfla_left_bound (-10), R = --pfla_right_bound (10). Params x_vals [n], y_vals [n].
// Saved: slope (n).
import type { ConfigOf, VariantFlag } from '../variant.js';
import { makePwl } from './pwl.js';

/** Shared with pfla_le (one declaration, so the table lists each flag once). */
export const PFLA_FLAGS = [
  { name: 'pfla_num_points', type: 'int', default: 50, help: 'pfla, pfla_le: number of points' },
  { name: 'pfla_left_bound', type: 'float', default: -10.0, help: 'pfla, pfla_le: left bound' },
  { name: 'pfla_right_bound', type: 'float', default: 10.0, help: 'pfla, pfla_le: right bound' },
] as const satisfies readonly VariantFlag[];

export const pflaShape = (a: ConfigOf<typeof PFLA_FLAGS>) => ({ n: a.pfla_num_points, L: a.pfla_left_bound, R: a.pfla_right_bound });

export const pfla = makePwl('pfla', 'pwl', 'pfla', PFLA_FLAGS, pflaShape);
