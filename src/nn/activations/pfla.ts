// pfla (the reference's PiecewiseFullyLearnableActivation): the same piecewise-linear function as
// piecewise.ts (pwl.ts, mode 'pwl'), with the --pfla_* flags: n = --pfla_num_points (50),
// L = --pfla_left_bound (-10), R = --pfla_right_bound (10). Params x_vals [n], y_vals [n].
// Saved: slope (n).
import { makePwl } from './pwl.js';

export const pfla = makePwl('pfla', 'pwl', 'pfla',
  (a) => ({ n: a.pfla_num_points, L: a.pfla_left_bound, R: a.pfla_right_bound }));
